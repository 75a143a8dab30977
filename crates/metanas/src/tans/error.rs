//! [`TansError`]: why a TANS step failed, each naming the problem and the fix.

use std::path::PathBuf;

/// Why a TANS step (meta-training, loading, retrieval, fine-tuning) failed.
#[derive(Debug, thiserror::Error)]
pub enum TansError {
    /// The zoo could not be read, or a network of it could not be loaded.
    #[error(transparent)]
    Zoo(#[from] model_zoo::zoo::ZooError),
    /// Retrieval rejected its input.
    #[error(transparent)]
    Retrieval(#[from] model_zoo::zoo::RetrievalError),
    /// A task could not be built.
    #[error(transparent)]
    Dataset(#[from] datasets::Error),
    /// Features could not be extracted.
    #[error(transparent)]
    Extract(#[from] datasets::ExtractError),
    /// The set encoder rejected its input.
    #[error(transparent)]
    SetEncoder(#[from] set_encoder::SetEncoderError),
    /// Fine-tuning could not run.
    #[error(transparent)]
    Train(#[from] model_zoo::TrainError),
    /// Data that cannot be used (too few tasks, classes, networks...).
    #[error("{0}")]
    Data(String),
    /// An option with an invalid value.
    #[error("TANS option `{name}` = {value}: {fix}")]
    Option {
        /// The option.
        name: &'static str,
        /// Its value, as text.
        value: String,
        /// What a valid value is.
        fix: &'static str,
    },
    /// A bundle file is missing, unreadable, or of another format or version.
    #[error(
        "TANS bundle {path}: {message}; restore the bundle (crates/metanas/bundle-tans in the \
         repository) or meta-train it again (cargo run --release -p metanas --example tans_train -- \
         --out DIR)"
    )]
    Bundle {
        /// File or directory.
        path: PathBuf,
        /// The cause.
        message: String,
    },
    /// A bundle's weights do not have the shapes its `tans.json` config gives them.
    #[error(
        "TANS bundle {path}: parameter `{parameter}` has shape {found:?}, but tans.json's config \
         makes it {expected:?}; the files come from different trainings: keep the files of one \
         bundle together (Tans::save writes them) or meta-train it again"
    )]
    BundleMismatch {
        /// The weights file.
        path: PathBuf,
        /// The parameter's module path, or "number of parameters".
        parameter: String,
        /// Its shape under the config.
        expected: Vec<usize>,
        /// Its shape in the file.
        found: Vec<usize>,
    },
    /// A bundle's weights or zoo embeddings hold NaN or infinite values.
    #[error(
        "TANS bundle {path}: `{what}` holds {count} non-finite value(s); the file is corrupt or \
         its training diverged: restore the bundle or meta-train it again"
    )]
    NonFinite {
        /// The file.
        path: PathBuf,
        /// The parameter or embedding.
        what: String,
        /// How many values are not finite.
        count: usize,
    },
    /// The features come from another extractor than the one the bundle was trained on.
    #[error(
        "the TANS bundle was trained on features of extractor `{bundle}`, but these come from \
         `{found}`: extract with the bundle's extractor (Tans::extractor) or meta-train a bundle \
         on `{found}`"
    )]
    ExtractorMismatch {
        /// The extractor id recorded in the bundle.
        bundle: String,
        /// The id of the extractor in use.
        found: String,
    },
    /// Zoo entries the bundle has no embedding for (a zoo built or extended after it).
    #[error(
        "{missing} of the zoo's {entries} networks have no embedding in the TANS bundle (first: \
         {first}); the zoo was extended or rebuilt after the bundle: embed it again \
         (Tans::embed_zoo, or `metanas retrieve --embed-zoo`) or give the bundle's zoo"
    )]
    ZooNotEmbedded {
        /// Entries without an embedding.
        missing: usize,
        /// Entries of the zoo.
        entries: usize,
        /// The first one's description.
        first: String,
    },
    /// No zoo network meets the constraints.
    #[error(
        "no zoo network meets {constraints}: the smallest has {min_params:.4} M parameters and \
         {min_flops:.2} M multiply-adds; raise the limits"
    )]
    NothingWithinConstraints {
        /// The constraints, as text.
        constraints: String,
        /// The fewest parameters of any zoo network (M).
        min_params: f64,
        /// The fewest multiply-adds of any zoo network (M).
        min_flops: f64,
    },
}

/// Result with a [`TansError`].
pub type Result<T, E = TansError> = std::result::Result<T, E>;
