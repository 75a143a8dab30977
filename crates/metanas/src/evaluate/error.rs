//! [`EvaluateError`]: why an evaluation could not run.

use std::path::PathBuf;

/// Why an evaluation could not run; each names the fix.
#[derive(Debug, thiserror::Error)]
pub enum EvaluateError {
    /// The store holds no meta-test run.
    #[error(
        "the database holds no meta-test run: pass a store with meta-test groups (e.g. \
         crates/model-zoo/data/v2/runs.jsonl)"
    )]
    NoMetaTest,
    /// A meta-test group mixes tasks or protocols, so its runs are not one ground truth.
    #[error(
        "meta-test group {group} mixes {what}: its runs are not one ground truth; pass a store \
         built from one plan"
    )]
    MixedSet {
        /// The group.
        group: String,
        /// What differs.
        what: String,
    },
    /// Too few panel cells were measured on a set to rank anything.
    #[error(
        "meta-test group {group} has {cells} measured panel cell(s), at least 2 are needed: \
         build more of the plan (metanas-db build) or pass the plan whose panel it measured"
    )]
    TooFewCells {
        /// The group.
        group: String,
        /// Cells measured.
        cells: usize,
    },
    /// An option has a value the evaluation cannot use.
    #[error("invalid evaluation option {option}: {why}")]
    Option {
        /// The option.
        option: &'static str,
        /// Why, and what to pass instead.
        why: String,
    },
    /// The store of runs trained for the evaluation could not be opened or written.
    #[error("evaluation store {path}: {source}")]
    Store {
        /// The store.
        path: PathBuf,
        /// The cause.
        source: Box<model_zoo::store::StoreError>,
    },
    /// A task could not be built from its spec.
    #[error("building the task of {group}: {source}")]
    Task {
        /// The group.
        group: String,
        /// The cause.
        source: Box<datasets::Error>,
    },
    /// A proxy could not be computed.
    #[error("proxy {proxy} on {group}: {source}")]
    Proxy {
        /// The proxy.
        proxy: String,
        /// The group.
        group: String,
        /// The cause.
        source: Box<meta_predictor::proxies::ProxyError>,
    },
    /// A pick could not be trained.
    #[error("training {arch} on {group}: {source}")]
    Train {
        /// The cell.
        arch: String,
        /// The group.
        group: String,
        /// The cause.
        source: Box<model_zoo::TrainError>,
    },
    /// BASE could not adapt (or its adaptation settings are invalid).
    #[error("BASE on {group}: {source}")]
    Base {
        /// The group.
        group: String,
        /// The cause.
        source: Box<crate::base::BaseError>,
    },
    /// MetaD2A failed (feature extraction, prediction or search).
    #[error("MetaD2A on {group}: {source}")]
    MetaD2A {
        /// The group.
        group: String,
        /// The cause.
        source: Box<crate::MetanasError>,
    },
}
