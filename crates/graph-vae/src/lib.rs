//! Graph VAEs over architectures: D-VAE's encoder and decoder (Zhang et al., NeurIPS 2019) and
//! MetaD2A's conditional generator (Lee et al., ICLR 2021).
//!
//! ```text
//! arch ──GraphSpace::to_graph──▶ TypedGraph ──GraphBatch──▶ GraphEncoder ──▶ μ, log σ²
//!                                                                     z ──▶ GraphDecoder ──▶ TypedGraph
//! task images ──SetEncoder──▶ dataset code ──▶ μ, log σ²  (ConditionalGenerator)
//! decoded TypedGraph ──GraphSpace::from_graph──▶ arch, or a typed reason it is not one
//! ```
//!
//! - [`GraphDecoder`]: GRU vertex states, a type head, an edge head over earlier vertices, END
//!   wired to every sink; teacher-forced loss batched over graphs, greedy or sampled decoding.
//! - [`GraphEncoder`]: gated GRU propagation in topological order, uni- or bidirectional.
//! - [`GraphVae`] (unconditional) and [`ConditionalGenerator`] (dataset → arch).
//! - [`quality`]: validity, uniqueness and novelty of samples; [`train`]: seeded, resumable
//!   training loops with atomic checkpoints.

#![warn(missing_docs)]

pub mod batch;
pub mod decoder;
pub mod encoder;
pub mod error;
pub mod generator;
pub mod graph;
pub mod gru;
pub mod message;
pub mod quality;
pub mod train;
pub mod vae;

pub use batch::GraphBatch;
pub use decoder::{DecoderLoss, Decoding, GraphDecoder, GraphDecoderConfig};
pub use encoder::{GraphEncoder, GraphEncoderConfig};
pub use error::{GraphVaeError, Result};
pub use generator::{ConditionalGenerator, ConditionalGeneratorConfig};
pub use graph::{GraphSpace, Mbv3Invalid, Mbv3Space, Nb201Invalid, Nb201Space, TypedGraph};
pub use quality::{check_all, report, Decoded, SampleReport};
pub use train::{fit, EpochStats, TrainConfig};
pub use vae::{vae_loss, GraphVae, GraphVaeConfig, VaeLoss};
