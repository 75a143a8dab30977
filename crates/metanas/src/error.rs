//! Typed errors of the facade.

use std::path::PathBuf;

/// Why a pipeline step failed.
#[derive(Debug, thiserror::Error)]
pub enum MetanasError {
    /// The database could not be read.
    #[error(transparent)]
    Database(#[from] model_zoo::database::DatabaseError),
    /// A task could not be built.
    #[error(transparent)]
    Dataset(#[from] datasets::Error),
    /// Features could not be extracted.
    #[error(transparent)]
    Extract(#[from] datasets::ExtractError),
    /// The set encoder rejected its input.
    #[error(transparent)]
    SetEncoder(#[from] set_encoder::SetEncoderError),
    /// The generator failed.
    #[error(transparent)]
    Generator(#[from] graph_vae::GraphVaeError),
    /// The predictor failed.
    #[error(transparent)]
    Predictor(#[from] meta_predictor::PredictorError),
    /// Training a network failed.
    #[error(transparent)]
    Train(#[from] model_zoo::TrainError),
    /// Data that cannot be used (too few runs, images, classes...).
    #[error("{0}")]
    Data(String),
    /// A bundle could not be written or read.
    #[error("bundle {path}: {message}")]
    Bundle {
        /// File or directory.
        path: PathBuf,
        /// The cause.
        message: String,
    },
}

/// Result with a [`MetanasError`].
pub type Result<T, E = MetanasError> = std::result::Result<T, E>;
