//! The dataset encoder of metanas: a Set Transformer (MAB, SAB, ISAB, PMA) and MetaD2A's
//! two-level set encoding, plus the pretrained feature extractors.
//!
//! A task — a set of classes, each a set of images — becomes one latent vector:
//!
//! ```text
//! images ──FeatureExtractor──▶ [n, d] ──SetBatch──▶ [tasks, classes, images, d] + masks
//!        ──SetEncoder──▶ per class a prototype ──▶ per task a latent [tasks, 56]
//! ```
//!
//! - Blocks: [`Mab`], [`Sab`], [`Isab`], [`Pma`] (one file each), stacked by [`SetPool`].
//! - [`SetEncoder`]: MetaD2A's encoder (see its docs for where and why we differ).
//! - [`SetBatch`]: unbalanced tasks padded into one batch with validity masks ([`mask`]).
//! - Features: [`datasets::PixelExtractor`] and this crate's [`CnnExtractor`] (weights shipped in
//!   `weights/`, retrained by `cargo run --release -p set-encoder --bin train-feature-cnn`) and
//!   [`EfficientNetExtractor`] (ImageNet-pretrained [`EfficientNetLite0`], 1280-d; weights
//!   installed by `bash scripts/setup-data.sh`, see [`efficientnet_weights`]).

#![warn(missing_docs)]

pub mod batch;
pub mod cnn_extractor;
pub mod cnn_training;
pub mod efficientnet;
pub mod efficientnet_extractor;
pub mod efficientnet_weights;
pub mod encoder;
pub mod error;
pub mod feature_cnn;
mod init;
pub mod isab;
pub mod mab;
pub mod mask;
pub mod pma;
pub mod pretrained;
pub mod sab;
pub mod set_pool;

pub use batch::{draw_per_class, SetBatch};
pub use cnn_extractor::{record_bytes, CnnExtractor};
pub use efficientnet::{EfficientNetLite0, EfficientNetLite0Config};
pub use efficientnet_extractor::EfficientNetExtractor;
pub use efficientnet_weights::WeightsError;
pub use encoder::{SetEncoder, SetEncoderConfig};
pub use error::{Result, SetEncoderError};
pub use feature_cnn::{FeatureCnn, FeatureCnnConfig};
pub use isab::{Isab, IsabConfig};
pub use mab::{Mab, MabConfig};
pub use pma::{Pma, PmaConfig};
pub use pretrained::{Pretrained, EFFICIENTNET_META_RESOLUTION};
pub use sab::{Sab, SabConfig};
pub use set_pool::{SetBlock, SetBlockKind, SetPool, SetPoolConfig};
