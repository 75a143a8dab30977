//! metanas: meta neural architecture search in Rust.
//!
//! The pipelines users call: [`metad2a`] (meta-train on the database, save/load the pretrained
//! bundle, search a new dataset in seconds), [`tans`] (retrieve a trained network from the zoo
//! for a new dataset, under parameter and FLOPs limits, and fine-tune it), the device selection
//! shared by the CLI, examples and benches ([`device`]), and re-exports of the crates underneath.

pub use datasets;
pub use graph_vae;
pub use meta_predictor;
pub use model_zoo;
pub use search_space;
pub use set_encoder;

pub mod base;
pub mod budget;
pub mod error;
pub mod evaluate;
pub mod metad2a;
pub mod prelude;
pub mod space;
pub mod tans;
pub use error::{MetanasError, Result};
pub use metad2a::{Candidate, MetaD2A, SearchOptions, SearchResult};
pub use space::{Mbv3, Nb201, Point, SearchSpace};
pub use tans::{RetrieveOptions, Tans, TansError};

pub mod device;
pub use device::{dispatch, DeviceError, DeviceSpec, WithBackend};
