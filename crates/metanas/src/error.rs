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
    /// A budgeted search could not run or a run failed.
    #[error(transparent)]
    Budget(#[from] crate::budget::BudgetError),
    /// Data that cannot be used (too few runs, images, classes...).
    #[error("{0}")]
    Data(String),
    /// Search options with an invalid value.
    #[error("search options: {0}")]
    Options(#[from] SearchOptionsError),
    /// A bundle's weights hold NaN or infinite values: every ranking from it would be NaN.
    #[error(
        "bundle {path}: parameter `{parameter}` holds {count} non-finite value(s) (NaN or \
         infinity) out of {total}; the file is corrupt or its training diverged: restore the \
         bundle (crates/metanas/bundle in the repository) or meta-train it again (cargo run \
         --release --example metad2a_train -- --out DIR)"
    )]
    NonFiniteWeights {
        /// The weights file.
        path: PathBuf,
        /// The parameter, as its module path (`head_out.weight`).
        parameter: String,
        /// Non-finite values in it.
        count: usize,
        /// Values in it.
        total: usize,
    },
    /// A bundle's weights do not have the shapes its `metad2a.json` config gives them.
    #[error(
        "bundle {path}: parameter `{parameter}` has shape {found:?}, but the config in \
         metad2a.json makes it {expected:?}; the config and the weights come from different \
         trainings: keep the three files of one bundle together (MetaD2A::save writes them), \
         restore them, or meta-train the bundle again"
    )]
    BundleMismatch {
        /// The weights file.
        path: PathBuf,
        /// The parameter, as its module path (`set_encoder.pool.output.weight`), or the count
        /// of parameters when those differ.
        parameter: String,
        /// Its shape under the config.
        expected: Vec<usize>,
        /// Its shape in the file.
        found: Vec<usize>,
    },
    /// The features come from another extractor than the one the bundle was trained on.
    #[error(
        "the bundle was trained on features of extractor `{bundle}`, but these come from \
         `{found}`; its predictions on them would be meaningless: extract with the bundle's \
         extractor (set_encoder::CnnExtractor::pretrained for the shipped bundle) or \
         meta-train a bundle on `{found}`"
    )]
    ExtractorMismatch {
        /// The extractor id recorded in the bundle.
        bundle: String,
        /// The id of the extractor in use.
        found: String,
    },
    /// No bundle directory was given and none was found where one is looked for.
    #[error(
        "no MetaD2A bundle found: ${env} is not set, no crates/metanas/bundle in {cwd} or a \
         folder above it, and no bundle/ next to {exe}; give the bundle's directory (--bundle \
         DIR on the command line, MetaD2A::load(dir, &device) in code) or set ${env}",
        env = crate::metad2a::BUNDLE_ENV,
        cwd = .cwd.display(),
        exe = .exe.display()
    )]
    BundleNotFound {
        /// The directory searched from.
        cwd: PathBuf,
        /// The running executable.
        exe: PathBuf,
    },
    /// A bundle meta-trained on one search space was loaded as a model of another.
    #[error(
        "bundle {path} holds a MetaD2A model of the `{bundle}` search space, but it was loaded \
         as a `{expected}` model; load it as the `{bundle}` space (--space {bundle} on the \
         command line, MetaD2A::<B, S> with S's NAME `{bundle}` in code) or give a `{expected}` \
         bundle"
    )]
    SpaceMismatch {
        /// The bundle directory.
        path: PathBuf,
        /// The space the bundle records (`"nb201"` when it records none).
        bundle: String,
        /// The space it was loaded as.
        expected: &'static str,
    },
    /// A search produced candidates, but none within the budgets.
    #[error(
        "none of the {scored} {point}s a search produced meets {}: the smallest have \
         {min_params:.3} M parameters and {min_flops:.1} M FLOPs; raise the budget, or rank \
         more points (candidates, pool)",
        budgets(*.max_params, *.max_flops)
    )]
    NoCandidateWithinBudget {
        /// What a point of the space is called.
        point: &'static str,
        /// Distinct valid points produced (generated and pooled).
        scored: usize,
        /// The parameter budget (millions).
        max_params: Option<f64>,
        /// The FLOPs budget (millions).
        max_flops: Option<f64>,
        /// The fewest parameters among them (millions).
        min_params: f64,
        /// The fewest FLOPs among them (millions).
        min_flops: f64,
    },
    /// A bundle could not be written or read.
    #[error("bundle {path}: {message}")]
    Bundle {
        /// File or directory.
        path: PathBuf,
        /// The cause.
        message: String,
    },
}

/// Which search budget a [`SearchOptionsError`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Budget {
    /// [`SearchOptions::max_params`](crate::metad2a::SearchOptions::max_params).
    Params,
    /// [`SearchOptions::max_flops`](crate::metad2a::SearchOptions::max_flops).
    Flops,
}

impl std::fmt::Display for Budget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Budget::Params => "max_params",
            Budget::Flops => "max_flops",
        })
    }
}

/// Why [`SearchOptions::check`](crate::metad2a::SearchOptions::check) refused a set of search
/// options: one variant per invalid value, each naming the field and the fix.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum SearchOptionsError {
    /// `candidates` is 0.
    #[error(
        "candidates is 0: a generated search scores at least one candidate; set candidates to 1 \
         or more (MetaD2A: 500)"
    )]
    ZeroCandidates,
    /// `top_k` is 0.
    #[error("top_k is 0: a search returns its top_k best cells; set top_k to 1 or more")]
    ZeroTopK,
    /// `draws` is 0.
    #[error(
        "draws is 0: a predicted accuracy is the mean over this many image draws; set draws to 1 \
         or more (MetaD2A: 10)"
    )]
    ZeroDraws,
    /// `batch` is 0.
    #[error("batch is 0: the generator decodes this many graphs per call; set batch to 1 or more")]
    ZeroBatch,
    /// `draws_per_batch` is 0.
    #[error(
        "draws_per_batch is 0: each generator call encodes this many image draws; set it to 1 \
         or more"
    )]
    ZeroDrawsPerBatch,
    /// `max_batches` is 0.
    #[error(
        "max_batches is 0: a generated search would never call the generator; set max_batches \
         to 1 or more"
    )]
    ZeroMaxBatches,
    /// A budget is NaN, infinite or negative.
    #[error(
        "{budget} is {value}: a budget is a finite, non-negative number of millions; give one, \
         or none for no limit"
    )]
    InvalidBudget {
        /// Which budget.
        budget: Budget,
        /// Its value.
        value: f64,
    },
    /// No point of the space meets the budgets: every search would come back empty.
    #[error(
        "no {point} meets {}: the smallest have {min_params:.3} M parameters and \
         {min_flops:.1} M FLOPs under this {config}; raise the budget",
        budgets(*.max_params, *.max_flops)
    )]
    NoCellWithinBudget {
        /// What a point of the space is called (`"NAS-Bench-201 cell"`).
        point: &'static str,
        /// The options field holding the reference network (`"macro_config"`).
        config: &'static str,
        /// The parameter budget (millions).
        max_params: Option<f64>,
        /// The FLOPs budget (millions).
        max_flops: Option<f64>,
        /// The fewest parameters of any point (millions).
        min_params: f64,
        /// The fewest FLOPs of any point (millions).
        min_flops: f64,
    },
    /// An exhaustive search of a space too large to score whole.
    #[error(
        "exhaustive is set, but the `{space}` space is too large to score every point; rank a \
         seeded random sample beside the generated candidates with pool instead"
    )]
    ExhaustiveUnsupported {
        /// The space's tag (`"mbv3"`).
        space: &'static str,
    },
    /// The MobileNetV3 reference network is not a network.
    #[error("mbv3_macro_config: {0} (OFA's ImageNet network: Mbv3MacroConfig::ofa_imagenet())")]
    Mbv3MacroConfig(search_space::mbv3::Mbv3ConfigError),
    /// A size of the macro network is 0.
    #[error(
        "macro_config.{field} is 0: the network the costs refer to needs it to be at least 1 \
         (NB201's CIFAR-10 network: MacroConfig::nb201_cifar10())"
    )]
    ZeroMacroSize {
        /// The field of [`MacroConfig`](search_space::cost::MacroConfig).
        field: &'static str,
    },
}

fn budgets(max_params: Option<f64>, max_flops: Option<f64>) -> String {
    match (max_params, max_flops) {
        (Some(p), Some(f)) => format!("max_params {p} and max_flops {f}"),
        (Some(p), None) => format!("max_params {p}"),
        (None, Some(f)) => format!("max_flops {f}"),
        (None, None) => "no budget".into(),
    }
}

/// Result with a [`MetanasError`].
pub type Result<T, E = MetanasError> = std::result::Result<T, E>;
