//! Typed errors of the graph VAE.

use std::path::PathBuf;

/// Why a graph batch, a model or a checkpoint cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum GraphVaeError {
    /// A batch with no graphs.
    #[error("empty batch: at least one graph is needed")]
    EmptyBatch,
    /// The graphs of one batch must have the same number of vertices (MetaD2A's graphs do).
    #[error("graph {graph} has {found} vertices, the batch has {expected}")]
    VertexCount {
        /// Position of the graph in the batch.
        graph: usize,
        /// Vertices of the first graph.
        expected: usize,
        /// Vertices of this graph.
        found: usize,
    },
    /// More vertices than the model was built for.
    #[error("graphs have {found} vertices, the model takes at most {max}")]
    TooManyVertices {
        /// Vertices of the graphs.
        found: usize,
        /// The model's `max_vertices`.
        max: usize,
    },
    /// A vertex type outside `0..num_types`.
    #[error("graph {graph}, vertex {vertex}: type {found} is not below {num_types}")]
    VertexType {
        /// Graph position.
        graph: usize,
        /// Vertex position.
        vertex: usize,
        /// The type.
        found: u8,
        /// Number of types of the model.
        num_types: usize,
    },
    /// An edge that does not go forward in vertex order (graphs are given in topological order).
    #[error("graph {graph}: edge {from}→{to} does not go from an earlier to a later vertex")]
    Edge {
        /// Graph position.
        graph: usize,
        /// Source vertex.
        from: usize,
        /// Target vertex.
        to: usize,
    },
    /// A latent or condition of the wrong width.
    #[error("{what}: expected width {expected}, found {found}")]
    Width {
        /// Which input.
        what: &'static str,
        /// Width the model takes.
        expected: usize,
        /// Width given.
        found: usize,
    },
    /// A training set that cannot be trained on.
    #[error("training data: {0}")]
    Data(String),
    /// The loss became NaN or infinite; the last checkpoint (if any) is the last good state.
    #[error("training diverged in epoch {epoch} (non-finite loss)")]
    Diverged {
        /// The epoch.
        epoch: usize,
    },
    /// The set encoder rejected its input.
    #[error(transparent)]
    SetEncoder(#[from] set_encoder::SetEncoderError),
    /// A checkpoint could not be written or read.
    #[error("checkpoint {path}: {message}")]
    Checkpoint {
        /// File or directory.
        path: PathBuf,
        /// The cause.
        message: String,
    },
}

/// Result with a [`GraphVaeError`].
pub type Result<T, E = GraphVaeError> = std::result::Result<T, E>;
