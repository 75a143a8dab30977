//! The search spaces MetaD2A searches, behind one small interface (NASLib's habit: search
//! spaces, search strategies and predictors meet at one trait).
//!
//! A [`SearchSpace`] is a marker type ([`Nb201`], [`Mbv3`]) that names everything MetaD2A needs
//! to know about a space and nothing else: its points ([`SearchSpace::Arch`]), their typed-DAG
//! encoding ([`SearchSpace::Graph`]), the protocol its database records
//! ([`SearchSpace::Protocol`]), the tag a bundle records ([`SearchSpace::NAME`]), what a point
//! costs under the search's reference network ([`SearchSpace::cost`]), and the points a search
//! ranks besides the generator's (all of them when the space is small: [`SearchSpace::all`]; a
//! seeded random sample otherwise: [`SearchSpace::sample`]). [`Point`] links an architecture
//! type back to its space, so that functions over database records infer the space from the
//! records (`MetaData::from_records(&records, ..)` needs no annotation).
//!
//! Why a trait on marker types rather than an enum: the generator, the predictor and the
//! search loop are the same code for every space, and each space's types (`Nb201Arch`,
//! `Mbv3Arch`, their protocols) stay what they are; a third space is one more `impl`.

use std::fmt::{Debug, Display};
use std::hash::Hash;
use std::path::PathBuf;
use std::str::FromStr;

use graph_vae::{GraphSpace, Mbv3Space, Nb201Space};
use model_zoo::database::RunRecord;
use model_zoo::mbv3::Mbv3Protocol;
use model_zoo::Protocol;
use rand::Rng;
use search_space::{Cost, Mbv3Arch, Nb201Arch, NB201_SIZE};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{Result, SearchOptionsError};
use crate::metad2a::SearchOptions;

/// A search space MetaD2A can meta-train on and search. See the [module docs](self).
pub trait SearchSpace:
    Copy + Default + Debug + PartialEq + Eq + Hash + Send + Sync + 'static
{
    /// A point of the space.
    type Arch: Point<Space = Self>;
    /// Its typed-DAG encoding (what the generator decodes and the predictor encodes).
    type Graph: GraphSpace<Arch = Self::Arch>;
    /// The training protocol its database records carry.
    type Protocol: Clone + Debug + PartialEq + Serialize + DeserializeOwned;

    /// The tag a bundle of this space records in `metad2a.json` (`"nb201"`, `"mbv3"`).
    const NAME: &'static str;
    /// What a point is called in messages (`"NAS-Bench-201 cell"`).
    const POINT: &'static str;
    /// The [`SearchOptions`] field that holds the reference network of the costs.
    const CONFIG_FIELD: &'static str;
    /// The name of the cost column a result table prints (`"FLOPs"`, `"MACs"`).
    const FLOPS_LABEL: &'static str;

    /// The graph encoding.
    fn graph_space() -> Self::Graph;

    /// Checks the reference network the costs of `options` refer to.
    fn check_config(options: &SearchOptions) -> Result<(), SearchOptionsError>;

    /// Parameters and multiply-adds (millions) of `arch` under the reference network of
    /// `options`, which [`check_config`](Self::check_config) accepted.
    fn cost(arch: &Self::Arch, options: &SearchOptions) -> Cost;

    /// Every point, in the space's index order, when the space is small enough to score whole
    /// (an exhaustive search); `None` when it is not.
    fn all() -> Option<Vec<Self::Arch>>;

    /// A point drawn at random, as the space's database draws its points (what a search's
    /// [`SearchOptions::pool`] holds).
    fn sample<R: Rng + ?Sized>(rng: &mut R) -> Self::Arch;

    /// Points among which, for every (params, FLOPs) budget that some point of the space meets,
    /// one point meets it: what [`SearchOptions::check_in`] scans to refuse a budget nothing
    /// meets, and to name the smallest costs.
    fn cheapest() -> Vec<Self::Arch>;

    /// Reads the run stores at `paths` (records of this space; another format is an error).
    fn load_records(paths: &[PathBuf]) -> Result<Vec<RunRecord<Self::Arch, Self::Protocol>>>;
}

/// An architecture type, linked to its [`SearchSpace`].
pub trait Point:
    Copy
    + Eq
    + Hash
    + Ord
    + Debug
    + Display
    + FromStr
    + Serialize
    + DeserializeOwned
    + Send
    + Sync
    + 'static
{
    /// The space this is a point of.
    type Space: SearchSpace<Arch = Self>;

    /// The space's canonical index of this point (NAS-Bench-201: the official benchmark
    /// index); rankings break ties by it, lower first.
    fn point_index(&self) -> u128;
}

/// NAS-Bench-201: 15,625 cells, costs under [`SearchOptions::macro_config`] (NB201's CIFAR-10
/// network by default). Small enough to score whole.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Nb201;

impl SearchSpace for Nb201 {
    type Arch = Nb201Arch;
    type Graph = Nb201Space;
    type Protocol = Protocol;

    const NAME: &'static str = "nb201";
    const POINT: &'static str = "NAS-Bench-201 cell";
    const CONFIG_FIELD: &'static str = "macro_config";
    const FLOPS_LABEL: &'static str = "FLOPs";

    fn graph_space() -> Nb201Space {
        Nb201Space
    }

    fn check_config(options: &SearchOptions) -> Result<(), SearchOptionsError> {
        let m = &options.macro_config;
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
        Ok(())
    }

    fn cost(arch: &Nb201Arch, options: &SearchOptions) -> Cost {
        arch.cost(&options.macro_config)
    }

    fn all() -> Option<Vec<Nb201Arch>> {
        Some(Nb201Arch::all().collect())
    }

    /// Uniform over the 15,625 cells.
    fn sample<R: Rng + ?Sized>(rng: &mut R) -> Nb201Arch {
        Nb201Arch::from_index(rng.random_range(0..NB201_SIZE)).expect("index below NB201_SIZE")
    }

    /// Every cell: NB201's costs are not monotone in an order worth exploiting, and 15,625
    /// costs take milliseconds.
    fn cheapest() -> Vec<Nb201Arch> {
        Nb201Arch::all().collect()
    }

    fn load_records(paths: &[PathBuf]) -> Result<Vec<RunRecord>> {
        Ok(model_zoo::database::load(paths)?)
    }
}

impl Point for Nb201Arch {
    type Space = Nb201;

    fn point_index(&self) -> u128 {
        self.index() as u128
    }
}

/// Once-for-All's MobileNetV3 space: about 2·10¹⁹ networks (five stages of 2–4 MBConv blocks,
/// each with kernel 3/5/7 and expand ratio 3/4/6), costs under
/// [`SearchOptions::mbv3_macro_config`] (OFA's ImageNet network by default: width 1.0, 3×224×224
/// input, 1,000 classes, so a FLOPs budget is in the million multiply-adds OFA and MetaD2A
/// quote). Too large to score whole: a search ranks the generator's networks and, with
/// [`SearchOptions::pool`], a seeded sample drawn as OFA and the database draw networks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Mbv3;

impl SearchSpace for Mbv3 {
    type Arch = Mbv3Arch;
    type Graph = Mbv3Space;
    type Protocol = Mbv3Protocol;

    const NAME: &'static str = "mbv3";
    const POINT: &'static str = "MobileNetV3 network";
    const CONFIG_FIELD: &'static str = "mbv3_macro_config";
    const FLOPS_LABEL: &'static str = "MACs";

    fn graph_space() -> Mbv3Space {
        Mbv3Space
    }

    fn check_config(options: &SearchOptions) -> Result<(), SearchOptionsError> {
        options
            .mbv3_macro_config
            .validate()
            .map_err(SearchOptionsError::Mbv3MacroConfig)
    }

    fn cost(arch: &Mbv3Arch, options: &SearchOptions) -> Cost {
        arch.cost(&options.mbv3_macro_config)
            .expect("the MobileNetV3 macro config was checked by SearchOptions::check_in")
    }

    fn all() -> Option<Vec<Mbv3Arch>> {
        None
    }

    /// OFA's sampler ([`Mbv3Arch::sample_ofa`]: each stage's depth uniform in {2, 3, 4}, each
    /// block's kernel and expand ratio uniform), the one the MobileNetV3 database's points come
    /// from, so the predictor ranks points like those it was trained on. Uniform over networks
    /// ([`Mbv3Arch::sample`]) would give depth 4 to 89% of stages: 96% of its draws have over
    /// 300 M multiply-adds at OFA's ImageNet network, against 27% of OFA's.
    fn sample<R: Rng + ?Sized>(rng: &mut R) -> Mbv3Arch {
        Mbv3Arch::sample_ofa(rng)
    }

    /// The smallest network alone: every block, every extra depth, every larger kernel or
    /// expand ratio adds parameters and multiply-adds, so it is the cheapest in both (a test
    /// checks it against sampled networks).
    fn cheapest() -> Vec<Mbv3Arch> {
        vec![Mbv3Arch::smallest()]
    }

    fn load_records(paths: &[PathBuf]) -> Result<Vec<RunRecord<Mbv3Arch, Mbv3Protocol>>> {
        let mut out = Vec::new();
        for p in paths {
            out.extend(
                model_zoo::mbv3::read_mbv3_runs(p)
                    .map_err(model_zoo::database::DatabaseError::from)?,
            );
        }
        Ok(out)
    }
}

impl Point for Mbv3Arch {
    type Space = Mbv3;

    fn point_index(&self) -> u128 {
        self.index()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn the_smallest_mobilenet_is_the_cheapest_in_both_costs() {
        let options = SearchOptions::default();
        let min = Mbv3::cost(&Mbv3Arch::smallest(), &options);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for _ in 0..300 {
            let a = Mbv3Arch::sample_ofa(&mut rng);
            let c = Mbv3::cost(&a, &options);
            assert!(c.params >= min.params && c.flops >= min.flops, "{a}: {c:?}");
        }
        assert!(Mbv3::cost(&Mbv3Arch::largest(), &options).flops > min.flops);
    }

    #[test]
    fn point_indices_are_the_spaces_own() {
        let a: Nb201Arch = Nb201Arch::from_index(9930).unwrap();
        assert_eq!(a.point_index(), 9930);
        let b = Mbv3Arch::largest();
        assert_eq!(b.point_index(), b.index());
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let s = Nb201::sample(&mut rng);
        assert!(s.point_index() < NB201_SIZE as u128);
        assert_eq!(Nb201::all().map(|v| v.len()), Some(NB201_SIZE));
        assert!(Mbv3::all().is_none());
    }
}
