//! The meta-performance predictor of MetaD2A: accuracy = f(dataset, architecture), its training
//! with early stopping on validation Pearson r, batched scoring with cached graph latents, and the
//! ranking metrics used to judge it (and any other score).
//!
//! ```text
//! task images ──SetEncoder──▶ D [56] ─┐
//!                                     ├─▶ Linear(112→512) ─ tanh ─ Linear(512→1) ─▶ ŷ (normalised)
//! arch graph ──bi-D-VAE (512)──▶ G [56] ┘
//! ```

#![warn(missing_docs)]

pub mod combine;
pub mod error;
mod kernels;
pub mod metrics;
pub mod model;
pub mod proxies;
pub mod score;
pub mod train;

pub use combine::{RankCombination, TaskScores};
pub use error::{PredictorError, Result};
pub use model::{MetaPredictor, MetaPredictorConfig};
pub use score::GraphLatentCache;
pub use train::{
    load, predict_examples, save, train, Example, Normalizer, PredictorEpoch, PredictorMeta,
    PredictorTrainConfig, Selection, Trained,
};
