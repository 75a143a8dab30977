//! Typed errors of the predictor.

use std::path::PathBuf;

/// Why the predictor cannot do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum PredictorError {
    /// An input of the wrong width.
    #[error("{what}: expected {expected}, found {found}")]
    Width {
        /// Which input.
        what: &'static str,
        /// What the model takes.
        expected: usize,
        /// What was given.
        found: usize,
    },
    /// Training data that cannot be trained on.
    #[error("training data: {0}")]
    Data(String),
    /// The set encoder rejected its input.
    #[error(transparent)]
    SetEncoder(#[from] set_encoder::SetEncoderError),
    /// A graph could not be batched.
    #[error(transparent)]
    Graph(#[from] graph_vae::GraphVaeError),
    /// A score combination that cannot be fitted or applied.
    #[error("score combination: {0}")]
    Combination(String),
    /// A checkpoint could not be written or read.
    #[error("checkpoint {path}: {message}")]
    Checkpoint {
        /// File.
        path: PathBuf,
        /// The cause.
        message: String,
    },
}

/// Result with a [`PredictorError`].
pub type Result<T, E = PredictorError> = std::result::Result<T, E>;
