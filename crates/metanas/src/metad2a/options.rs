//! Search settings, checked once (linfa's `ParamGuard`): a caller writes [`SearchOptions`],
//! [`SearchOptions::check`] turns them into [`ValidSearchOptions`] or names the invalid value in
//! a [`SearchOptionsError`], and [`MetaD2A::search`](super::MetaD2A::search) takes either
//! ([`SearchParams`]).

use std::borrow::Cow;

use search_space::cost::MacroConfig;
use search_space::Nb201Arch;

use crate::error::{Budget, SearchOptionsError};

/// Search settings, as a caller writes them; [`check`](Self::check) validates them.
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
    /// Score all 15,625 cells instead of generating.
    pub exhaustive: bool,
    /// Only cells with at most this many parameters (millions, under `macro_config`); finite,
    /// non-negative, and met by at least one cell.
    pub max_params: Option<f64>,
    /// Only cells with at most this many FLOPs (millions, under `macro_config`); finite,
    /// non-negative, and met by at least one cell.
    pub max_flops: Option<f64>,
    /// The network the constraints and reported costs refer to (default: NB201's CIFAR-10
    /// network, C=16, N=5, 32×32); every size at least 1.
    pub macro_config: MacroConfig,
    /// Seed of the image draws and sampled decoding.
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
            max_params: None,
            max_flops: None,
            macro_config: MacroConfig::nb201_cifar10(),
            seed: 0,
        }
    }
}

impl SearchOptions {
    /// Checks every value; the first invalid one is the error.
    ///
    /// Besides the counts that must be at least 1 and budgets that must be finite and
    /// non-negative, the budgets together must admit at least one NAS-Bench-201 cell under
    /// `macro_config` (else every search would come back empty).
    pub fn check(&self) -> Result<ValidSearchOptions, SearchOptionsError> {
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
        let m = &self.macro_config;
        for (field, value) in [
            ("channels", m.channels),
            ("cells_per_stage", m.cells_per_stage),
            ("input_channels", m.input_channels),
            ("num_classes", m.num_classes),
            ("resolution", m.resolution),
        ] {
            if value == 0 {
                return Err(SearchOptionsError::ZeroMacroSize { field });
            }
        }
        for (budget, value) in [
            (Budget::Params, self.max_params),
            (Budget::Flops, self.max_flops),
        ] {
            if let Some(value) = value.filter(|v| !v.is_finite() || *v < 0.0) {
                return Err(SearchOptionsError::InvalidBudget { budget, value });
            }
        }
        let valid = ValidSearchOptions(self.clone());
        if (self.max_params.is_some() || self.max_flops.is_some())
            && !Nb201Arch::all().any(|a| valid.fits(&a))
        {
            let (min_params, min_flops) = Nb201Arch::all()
                .map(|a| a.cost(m))
                .fold((f64::INFINITY, f64::INFINITY), |(p, f), c| {
                    (p.min(c.params), f.min(c.flops))
                });
            return Err(SearchOptionsError::NoCellWithinBudget {
                max_params: self.max_params,
                max_flops: self.max_flops,
                min_params,
                min_flops,
            });
        }
        Ok(valid)
    }
}

impl TryFrom<SearchOptions> for ValidSearchOptions {
    type Error = SearchOptionsError;

    fn try_from(options: SearchOptions) -> Result<Self, Self::Error> {
        options.check()
    }
}

/// [`SearchOptions`] that passed [`SearchOptions::check`]; only `check` builds one, so a search
/// given one needs no further validation.
#[derive(Clone, Debug, PartialEq)]
pub struct ValidSearchOptions(SearchOptions);

impl ValidSearchOptions {
    /// The checked values.
    pub fn options(&self) -> &SearchOptions {
        &self.0
    }

    /// The checked values, to change and check again.
    pub fn into_inner(self) -> SearchOptions {
        self.0
    }

    /// Whether `arch` meets the budgets under the macro config.
    pub fn fits(&self, arch: &Nb201Arch) -> bool {
        let o = &self.0;
        let c = arch.cost(&o.macro_config);
        o.max_params.is_none_or(|m| c.params <= m) && o.max_flops.is_none_or(|m| c.flops <= m)
    }
}

impl Default for ValidSearchOptions {
    /// [`SearchOptions::default`], which is valid (a unit test checks it).
    fn default() -> Self {
        Self(SearchOptions::default())
    }
}

/// What [`MetaD2A::search`](super::MetaD2A::search) accepts: [`SearchOptions`], checked at each
/// call, or [`ValidSearchOptions`], checked once (linfa's `ParamGuard`).
pub trait SearchParams {
    /// The checked options, or the first invalid value.
    fn checked(&self) -> Result<Cow<'_, ValidSearchOptions>, SearchOptionsError>;
}

impl SearchParams for SearchOptions {
    fn checked(&self) -> Result<Cow<'_, ValidSearchOptions>, SearchOptionsError> {
        self.check().map(Cow::Owned)
    }
}

impl SearchParams for ValidSearchOptions {
    fn checked(&self) -> Result<Cow<'_, ValidSearchOptions>, SearchOptionsError> {
        Ok(Cow::Borrowed(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
