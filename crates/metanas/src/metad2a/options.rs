//! Search settings, checked once (linfa's `ParamGuard`): a caller writes [`SearchOptions`],
//! [`SearchOptions::check`] turns them into [`ValidSearchOptions`] or names the invalid value in
//! a [`SearchOptionsError`], and [`MetaD2A::search`](super::MetaD2A::search) takes either
//! ([`SearchParams`]).

use std::borrow::Cow;
use std::marker::PhantomData;

use search_space::cost::MacroConfig;
use search_space::Mbv3MacroConfig;

use crate::error::{Budget, SearchOptionsError};
use crate::space::{Nb201, SearchSpace};

/// Search settings, as a caller writes them; [`check`](Self::check) validates them for
/// NAS-Bench-201, [`check_in`](Self::check_in) for any [`SearchSpace`]. The fields are the same
/// for every space; each space reads its own reference network (`macro_config` for NB201,
/// `mbv3_macro_config` for MobileNetV3).
///
/// ```
/// use metanas::metad2a::SearchOptions;
/// use metanas::error::SearchOptionsError;
///
/// let options = SearchOptions { top_k: 5, max_params: Some(0.5), ..SearchOptions::default() };
/// assert_eq!(options.check()?.options().top_k, 5);
/// let none = SearchOptions { top_k: 0, ..SearchOptions::default() };
/// assert_eq!(none.check(), Err(SearchOptionsError::ZeroTopK));
/// # Ok::<(), SearchOptionsError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct SearchOptions {
    /// Unique valid candidates to generate (MetaD2A: 500 for CIFAR, 50 elsewhere); at least 1.
    pub candidates: usize,
    /// Candidates returned, best first; at least 1.
    pub top_k: usize,
    /// Resampled image draws the predictor's score is averaged over (MetaD2A: 10); at least 1.
    pub draws: usize,
    /// Graphs decoded per generator call (MetaD2A: 100); at least 1.
    pub batch: usize,
    /// Fresh image draws encoded per generator call; each latent is decoded `batch /
    /// draws_per_batch` times (MetaD2A encodes one draw per graph; the set encoder is most of a
    /// search's time on a CPU, and sampled decoding supplies the diversity). At least 1; values
    /// above `batch` act as `batch`.
    pub draws_per_batch: usize,
    /// Give up generating after this many calls (the generator may not have `candidates`
    /// distinct cells in it); at least 1.
    pub max_batches: usize,
    /// Score every point of the space instead of generating (NB201: all 15,625 cells; refused
    /// for a space too large to score whole, such as MobileNetV3: use `pool`).
    pub exhaustive: bool,
    /// Points drawn at random from the space ([`SearchSpace::sample`], seeded by `seed`) and
    /// ranked beside the generated candidates, under the same budgets; 0 (the default) ranks
    /// generated candidates only. The MobileNetV3 space's stand-in for an exhaustive search.
    pub pool: usize,
    /// Only points with at most this many parameters (millions, under the space's reference
    /// network); finite, non-negative, and met by at least one point of the space.
    pub max_params: Option<f64>,
    /// Only points with at most this many FLOPs, i.e. multiply-adds (millions, under the
    /// space's reference network); finite, non-negative, and met by at least one point of the
    /// space.
    pub max_flops: Option<f64>,
    /// The network NAS-Bench-201's constraints and reported costs refer to (default: NB201's
    /// CIFAR-10 network, C=16, N=5, 32×32); every size at least 1.
    pub macro_config: MacroConfig,
    /// The network MobileNetV3's constraints and reported costs refer to (default: OFA's
    /// ImageNet network, [`Mbv3MacroConfig::ofa_imagenet`]: width 1.0, 3×224×224, 1,000
    /// classes; not the 32-pixel network the database trains).
    pub mbv3_macro_config: Mbv3MacroConfig,
    /// Seed of the image draws, sampled decoding and the `pool` sample.
    pub seed: u64,
}

impl Default for SearchOptions {
    fn default() -> Self {
        Self {
            candidates: 500,
            top_k: 10,
            draws: 10,
            batch: 100,
            draws_per_batch: 20,
            max_batches: 50,
            exhaustive: false,
            pool: 0,
            max_params: None,
            max_flops: None,
            macro_config: MacroConfig::nb201_cifar10(),
            mbv3_macro_config: Mbv3MacroConfig::ofa_imagenet(),
            seed: 0,
        }
    }
}

impl SearchOptions {
    /// Checks every value for a NAS-Bench-201 search ([`check_in::<Nb201>`](Self::check_in));
    /// the first invalid one is the error.
    ///
    /// Besides the counts that must be at least 1 and budgets that must be finite and
    /// non-negative, the budgets together must admit at least one NAS-Bench-201 cell under
    /// `macro_config` (else every search would come back empty).
    pub fn check(&self) -> Result<ValidSearchOptions, SearchOptionsError> {
        self.check_in::<Nb201>()
    }

    /// Checks every value for a search of space `S`; the first invalid one is the error: a
    /// count of 0, the space's reference network, an exhaustive search of a space that cannot
    /// be scored whole, a budget that is not a finite non-negative number, or budgets that no
    /// point of `S` meets ([`SearchOptionsError::NoCellWithinBudget`], naming the smallest
    /// costs, scanned over [`SearchSpace::cheapest`]).
    ///
    /// ```
    /// use metanas::prelude::*;
    ///
    /// let options = SearchOptions { max_flops: Some(300.0), pool: 500, ..SearchOptions::default() };
    /// assert!(options.check_in::<Mbv3>().is_ok());
    /// let tiny = SearchOptions { max_flops: Some(1.0), ..SearchOptions::default() };
    /// assert!(matches!(
    ///     tiny.check_in::<Mbv3>(),
    ///     Err(SearchOptionsError::NoCellWithinBudget { .. })
    /// ));
    /// ```
    pub fn check_in<S: SearchSpace>(&self) -> Result<ValidSearchOptions<S>, SearchOptionsError> {
        for (value, error) in [
            (self.candidates, SearchOptionsError::ZeroCandidates),
            (self.top_k, SearchOptionsError::ZeroTopK),
            (self.draws, SearchOptionsError::ZeroDraws),
            (self.batch, SearchOptionsError::ZeroBatch),
            (self.draws_per_batch, SearchOptionsError::ZeroDrawsPerBatch),
            (self.max_batches, SearchOptionsError::ZeroMaxBatches),
        ] {
            if value == 0 {
                return Err(error);
            }
        }
        S::check_config(self)?;
        if self.exhaustive && S::all().is_none() {
            return Err(SearchOptionsError::ExhaustiveUnsupported { space: S::NAME });
        }
        for (budget, value) in [
            (Budget::Params, self.max_params),
            (Budget::Flops, self.max_flops),
        ] {
            if let Some(value) = value.filter(|v| !v.is_finite() || *v < 0.0) {
                return Err(SearchOptionsError::InvalidBudget { budget, value });
            }
        }
        let valid = ValidSearchOptions(self.clone(), PhantomData);
        if self.max_params.is_some() || self.max_flops.is_some() {
            let cheapest = S::cheapest();
            if !cheapest.iter().any(|a| valid.fits(a)) {
                let (min_params, min_flops) = cheapest
                    .iter()
                    .map(|a| S::cost(a, self))
                    .fold((f64::INFINITY, f64::INFINITY), |(p, f), c| {
                        (p.min(c.params), f.min(c.flops))
                    });
                return Err(SearchOptionsError::NoCellWithinBudget {
                    point: S::POINT,
                    config: S::CONFIG_FIELD,
                    max_params: self.max_params,
                    max_flops: self.max_flops,
                    min_params,
                    min_flops,
                });
            }
        }
        Ok(valid)
    }
}

/// NB201's (so that `ValidSearchOptions::try_from` needs no annotation); other spaces:
/// [`SearchOptions::check_in`].
impl TryFrom<SearchOptions> for ValidSearchOptions {
    type Error = SearchOptionsError;

    fn try_from(options: SearchOptions) -> Result<Self, Self::Error> {
        options.check()
    }
}

/// [`SearchOptions`] that passed [`SearchOptions::check_in`] for space `S` (NAS-Bench-201
/// unless named); only `check_in` builds one, so a search of `S` given one needs no further
/// validation.
#[derive(Clone, Debug, PartialEq)]
pub struct ValidSearchOptions<S: SearchSpace = Nb201>(SearchOptions, PhantomData<S>);

impl<S: SearchSpace> ValidSearchOptions<S> {
    /// The checked values.
    pub fn options(&self) -> &SearchOptions {
        &self.0
    }

    /// The checked values, to change and check again.
    pub fn into_inner(self) -> SearchOptions {
        self.0
    }

    /// Parameters and multiply-adds (millions) of `arch` under the space's reference network.
    pub fn cost(&self, arch: &S::Arch) -> search_space::Cost {
        S::cost(arch, &self.0)
    }

    /// Whether `arch` meets the budgets under the space's reference network.
    pub fn fits(&self, arch: &S::Arch) -> bool {
        let o = &self.0;
        let c = self.cost(arch);
        o.max_params.is_none_or(|m| c.params <= m) && o.max_flops.is_none_or(|m| c.flops <= m)
    }
}

impl Default for ValidSearchOptions {
    /// [`SearchOptions::default`], which is valid (a unit test checks it; it is valid for
    /// MobileNetV3 too: `SearchOptions::default().check_in::<Mbv3>()`). NB201's only, so that
    /// `ValidSearchOptions::default()` needs no annotation.
    fn default() -> Self {
        Self(SearchOptions::default(), PhantomData)
    }
}

/// What [`MetaD2A::search`](super::MetaD2A::search) of space `S` accepts: [`SearchOptions`],
/// checked at each call, or [`ValidSearchOptions<S>`], checked once (linfa's `ParamGuard`).
pub trait SearchParams<S: SearchSpace = Nb201> {
    /// The checked options, or the first invalid value.
    fn checked(&self) -> Result<Cow<'_, ValidSearchOptions<S>>, SearchOptionsError>;
}

impl<S: SearchSpace> SearchParams<S> for SearchOptions {
    fn checked(&self) -> Result<Cow<'_, ValidSearchOptions<S>>, SearchOptionsError> {
        self.check_in::<S>().map(Cow::Owned)
    }
}

impl<S: SearchSpace> SearchParams<S> for ValidSearchOptions<S> {
    fn checked(&self) -> Result<Cow<'_, ValidSearchOptions<S>>, SearchOptionsError> {
        Ok(Cow::Borrowed(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::Mbv3;
    use search_space::{Mbv3Arch, Nb201Arch};

    fn with(
        change: impl FnOnce(&mut SearchOptions),
    ) -> Result<ValidSearchOptions, SearchOptionsError> {
        let mut options = SearchOptions::default();
        change(&mut options);
        options.check()
    }

    #[test]
    fn the_default_is_valid() {
        assert_eq!(
            SearchOptions::default().check(),
            Ok(ValidSearchOptions::default())
        );
    }

    #[test]
    fn the_default_is_valid_for_mobilenet() {
        let valid = SearchOptions::default().check_in::<Mbv3>().unwrap();
        assert_eq!(valid.options(), &SearchOptions::default());
    }

    #[test]
    fn mobilenet_cannot_be_searched_exhaustively() {
        let e = SearchOptions {
            exhaustive: true,
            ..SearchOptions::default()
        }
        .check_in::<Mbv3>()
        .unwrap_err();
        assert_eq!(
            e,
            SearchOptionsError::ExhaustiveUnsupported { space: "mbv3" }
        );
        assert!(e.to_string().contains("pool"), "{e}");
        // NB201's exhaustive search stays valid.
        assert!(with(|o| o.exhaustive = true).is_ok());
    }

    #[test]
    fn the_mobilenet_macro_config_is_checked() {
        let mut options = SearchOptions::default();
        options.mbv3_macro_config.resolution = 0;
        assert!(matches!(
            options.check_in::<Mbv3>(),
            Err(SearchOptionsError::Mbv3MacroConfig(_))
        ));
        // NB201 does not read it.
        assert!(options.check().is_ok());
    }

    #[test]
    fn a_mobilenet_budget_no_network_meets_names_the_smallest_network() {
        let smallest = Mbv3Arch::smallest()
            .cost(&Mbv3MacroConfig::ofa_imagenet())
            .unwrap();
        let options = SearchOptions {
            max_flops: Some(smallest.flops - 0.5),
            ..SearchOptions::default()
        };
        let e = options.check_in::<Mbv3>().unwrap_err();
        assert_eq!(
            e,
            SearchOptionsError::NoCellWithinBudget {
                point: "MobileNetV3 network",
                config: "mbv3_macro_config",
                max_params: None,
                max_flops: Some(smallest.flops - 0.5),
                min_params: smallest.params,
                min_flops: smallest.flops,
            }
        );
        assert!(e.to_string().contains("MobileNetV3"), "{e}");
        // At the smallest network's cost exactly, the budget is met; it fits, the largest not.
        let valid = SearchOptions {
            max_flops: Some(smallest.flops),
            max_params: Some(smallest.params),
            ..SearchOptions::default()
        }
        .check_in::<Mbv3>()
        .unwrap();
        assert!(valid.fits(&Mbv3Arch::smallest()));
        assert!(!valid.fits(&Mbv3Arch::largest()));
        // The same budget in NB201's units is a different question.
        assert!(options.check().is_ok());
    }

    #[test]
    fn candidates_cannot_be_zero() {
        assert_eq!(
            with(|o| o.candidates = 0),
            Err(SearchOptionsError::ZeroCandidates)
        );
    }

    #[test]
    fn top_k_cannot_be_zero() {
        assert_eq!(with(|o| o.top_k = 0), Err(SearchOptionsError::ZeroTopK));
    }

    #[test]
    fn draws_cannot_be_zero() {
        assert_eq!(with(|o| o.draws = 0), Err(SearchOptionsError::ZeroDraws));
    }

    #[test]
    fn batch_cannot_be_zero() {
        assert_eq!(with(|o| o.batch = 0), Err(SearchOptionsError::ZeroBatch));
    }

    #[test]
    fn draws_per_batch_cannot_be_zero() {
        assert_eq!(
            with(|o| o.draws_per_batch = 0),
            Err(SearchOptionsError::ZeroDrawsPerBatch)
        );
    }

    #[test]
    fn max_batches_cannot_be_zero() {
        assert_eq!(
            with(|o| o.max_batches = 0),
            Err(SearchOptionsError::ZeroMaxBatches)
        );
    }

    #[test]
    fn macro_sizes_cannot_be_zero() {
        assert_eq!(
            with(|o| o.macro_config.channels = 0),
            Err(SearchOptionsError::ZeroMacroSize { field: "channels" })
        );
        assert_eq!(
            with(|o| o.macro_config.resolution = 0),
            Err(SearchOptionsError::ZeroMacroSize {
                field: "resolution"
            })
        );
    }

    #[test]
    fn budgets_must_be_finite_and_non_negative() {
        for value in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -0.5] {
            let params = with(|o| o.max_params = Some(value)).unwrap_err();
            assert!(
                matches!(params, SearchOptionsError::InvalidBudget { budget: Budget::Params, value: v } if v.to_bits() == value.to_bits()),
                "{params:?}"
            );
            let flops = with(|o| o.max_flops = Some(value)).unwrap_err();
            assert!(
                matches!(
                    flops,
                    SearchOptionsError::InvalidBudget {
                        budget: Budget::Flops,
                        ..
                    }
                ),
                "{flops:?}"
            );
        }
    }

    #[test]
    fn a_budget_no_cell_meets_is_refused_with_the_smallest_costs() {
        let e = with(|o| o.max_params = Some(0.01)).unwrap_err();
        let SearchOptionsError::NoCellWithinBudget {
            min_params,
            min_flops,
            ..
        } = e
        else {
            panic!("{e:?}");
        };
        // The all-`none` cell: NB201's CIFAR-10 skeleton alone (73,306 parameters).
        assert!((min_params - 0.073306).abs() < 1e-9, "{min_params}");
        assert!(min_flops > 0.0);
        assert!(e.to_string().contains("max_params 0.01"), "{e}");
        // Each budget alone is met, both together too: a budget exactly at the minimum passes.
        assert!(with(|o| o.max_params = Some(min_params)).is_ok());
        assert!(with(|o| {
            o.max_params = Some(min_params);
            o.max_flops = Some(min_flops);
        })
        .is_ok());
        assert!(matches!(
            with(|o| o.max_flops = Some(min_flops / 2.0)),
            Err(SearchOptionsError::NoCellWithinBudget {
                max_params: None,
                ..
            })
        ));
    }

    #[test]
    fn valid_options_fit_only_cells_within_budget() {
        let valid = with(|o| o.max_params = Some(0.5)).unwrap();
        let n = Nb201Arch::all().filter(|a| valid.fits(a)).count();
        assert!(n > 0 && n < 15_625, "{n}");
        assert!(
            ValidSearchOptions::default().fits(&Nb201Arch::new([search_space::Op::NorConv3x3; 6]))
        );
    }
}
