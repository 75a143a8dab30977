//! The crate's error type.

/// Everything that can go wrong configuring an encoder or handing it a batch.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SetEncoderError {
    /// A size in a configuration is zero (`what` names the field).
    #[error("`{what}` must be at least 1")]
    ZeroSize {
        /// The configuration field.
        what: &'static str,
    },
    /// The attention width is not a multiple of the number of heads.
    #[error("attention width {dim} is not divisible by {heads} heads")]
    HeadsDoNotDivide {
        /// Width of the attention (dim_V).
        dim: usize,
        /// Number of heads.
        heads: usize,
    },
    /// A batch holds no task.
    #[error("the batch holds no task")]
    EmptyBatch,
    /// A task has no class.
    #[error("task {task} has no class")]
    EmptyTask {
        /// Position of the task in the batch.
        task: usize,
    },
    /// A class has no image (classes are never dropped silently: a class with no example cannot
    /// be summarised).
    #[error("task {task}, class {class} has no image")]
    EmptyClass {
        /// Position of the task in the batch.
        task: usize,
        /// The class (label) within the task.
        class: usize,
    },
    /// A class's flat feature buffer is not a whole number of rows.
    #[error(
        "task {task}, class {class}: {len} values are not a multiple of the feature dim {dim}"
    )]
    RaggedClass {
        /// Position of the task in the batch.
        task: usize,
        /// The class within the task.
        class: usize,
        /// Values in the buffer.
        len: usize,
        /// The feature dimension.
        dim: usize,
    },
    /// Features have another width than the encoder takes.
    #[error("features are {found}-dimensional, the encoder takes {expected}")]
    FeatureDim {
        /// The encoder's input width.
        expected: usize,
        /// The width given.
        found: usize,
    },
    /// A tensor has another shape than the batch layout requires.
    #[error("{what} has shape {found:?}, expected {expected:?}")]
    Shape {
        /// Which tensor.
        what: &'static str,
        /// The shape required.
        expected: Vec<usize>,
        /// The shape given.
        found: Vec<usize>,
    },
    /// A padding class (masked out) has images marked valid.
    #[error("task {task}, class {class} is masked out but has valid images")]
    MaskMismatch {
        /// Position of the task in the batch.
        task: usize,
        /// The class within the task.
        class: usize,
    },
    /// Pretrained weights could not be read.
    #[error("cannot load weights `{name}`: {message}")]
    Weights {
        /// Which weights.
        name: String,
        /// The recorder's message.
        message: String,
    },
    /// EfficientNet-Lite0's ImageNet weights are missing or differ (the message names the setup
    /// command). Boxed: its paths and shapes would otherwise triple the size of every
    /// `Result` that carries this error.
    #[error(transparent)]
    EfficientNetWeights(Box<crate::efficientnet_weights::WeightsError>),
    /// A name or recorded id that names no shipped extractor.
    #[error(
        "unknown feature extractor `{name}`: {why} (use `cnn`, `efficientnet` or \
         `efficientnet:RES` with RES in 8..=512)"
    )]
    UnknownExtractor {
        /// The name or id given.
        name: String,
        /// What is wrong with it.
        why: String,
    },
}

impl From<crate::efficientnet_weights::WeightsError> for SetEncoderError {
    fn from(error: crate::efficientnet_weights::WeightsError) -> Self {
        Self::EfficientNetWeights(Box::new(error))
    }
}

/// Shorthand for `Result<T, SetEncoderError>`.
pub type Result<T, E = SetEncoderError> = std::result::Result<T, E>;
