//! What a user of MetaD2A needs, in one import: `use metanas::prelude::*;`.
//!
//! The model ([`MetaD2A`], [`MetaD2A::pretrained`]), its search settings ([`SearchOptions`],
//! checked into [`ValidSearchOptions`]) and results ([`SearchResult`], [`Candidate`]), the
//! errors ([`MetanasError`], [`SearchOptionsError`], [`Result`]), the backend selection of
//! [`device`](crate::device) with the CPU backend `Flex`, and the two data types a search
//! starts from ([`Images`], [`Features`], with the [`FeatureExtractor`] trait and the bundle's
//! [`CnnExtractor`]), and the search spaces ([`SearchSpace`]: [`Nb201`], the default, and
//! [`Mbv3`], searched as `MetaD2A::<Flex, Mbv3>`).
//!
//! ```no_run
//! use metanas::prelude::*;
//!
//! # fn images() -> Images { unimplemented!() }
//! let device = Default::default();
//! let model = MetaD2A::<Flex>::pretrained(&device)?;
//! let extractor = CnnExtractor::<Flex>::pretrained(&device)?;
//! let options = SearchOptions { top_k: 5, max_params: Some(0.5), ..SearchOptions::default() };
//! let result = model.search_images(&extractor, &images(), &options.check()?)?;
//! print!("{}", result.table());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub use crate::device::{dispatch, DeviceError, DeviceSpec, WithBackend};
pub use crate::error::{Budget, MetanasError, Result, SearchOptionsError};
pub use crate::metad2a::{
    locate_bundle, Candidate, MetaD2A, SearchOptions, SearchParams, SearchResult,
    ValidSearchOptions,
};
pub use crate::space::{Mbv3, Nb201, Point, SearchSpace};
pub use datasets::{FeatureExtractor, Features, Images};
pub use set_encoder::{CnnExtractor, Pretrained};
/// The CPU backend (`Flex`, for inference) and its autodiff form (`CpuBackend`, for training).
#[cfg(feature = "flex")]
pub use {crate::device::CpuBackend, burn::backend::Flex};
