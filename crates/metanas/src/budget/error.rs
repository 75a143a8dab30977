//! Why a budgeted search cannot run.

/// An error a measurement callback may return (training failed, a file could not be written).
pub type MeasureError = Box<dyn std::error::Error + Send + Sync>;

/// Why a budgeted search failed.
#[derive(Debug, thiserror::Error)]
pub enum BudgetError {
    /// No candidate cells.
    #[error("the candidate pool is empty: generate or pass at least one cell")]
    EmptyPool,
    /// A budget of zero runs.
    #[error("a budget of 0 training runs measures nothing: give a budget of at least 1")]
    ZeroBudget,
    /// More runs than candidates.
    #[error(
        "a budget of {budget} runs exceeds the {pool} candidate cells (each is trained once): \
         lower the budget or generate more candidates"
    )]
    BudgetExceedsPool {
        /// Runs asked for.
        budget: usize,
        /// Cells in the pool.
        pool: usize,
    },
    /// Per-cell inputs whose length is not the pool's.
    #[error(
        "{what} has {found} entries for a pool of {pool} cells: give one per candidate, in the \
         pool's order"
    )]
    Length {
        /// Which input.
        what: &'static str,
        /// Cells in the pool.
        pool: usize,
        /// Entries given.
        found: usize,
    },
    /// Embeddings whose size is not `cells × dim`.
    #[error(
        "embeddings hold {found} values, but {cells} cells of width {dim} need {}: pass one \
         row per cell, row-major",
        cells * dim
    )]
    Embedding {
        /// Cells in the pool.
        cells: usize,
        /// Width of one embedding.
        dim: usize,
        /// Values given.
        found: usize,
    },
    /// A NaN or infinite input.
    #[error("{what} of candidate {index} is not finite: the predictor's output is broken")]
    NonFinite {
        /// Which input.
        what: &'static str,
        /// The candidate.
        index: usize,
    },
    /// A method's setting out of range.
    #[error("{method}: {why}")]
    Method {
        /// The method.
        method: &'static str,
        /// What is wrong and the fix.
        why: String,
    },
    /// The GP's covariance lost positive definiteness (a zero noise with duplicate cells).
    #[error(
        "the Gaussian process covariance is singular: give a positive noise SD \
         (GpHyper::noise_sd)"
    )]
    Singular,
    /// A measurement returned a value that is not an accuracy.
    #[error(
        "measuring {arch} returned {value}, not a finite accuracy (%): the training run failed \
         silently"
    )]
    BadMeasurement {
        /// The cell.
        arch: String,
        /// The value returned.
        value: f64,
    },
    /// A measurement failed; the runs before it are in `done`.
    #[error("measuring {arch} (run {} of the budget) failed: {source}", done + 1)]
    Measure {
        /// The cell.
        arch: String,
        /// Runs completed before it.
        done: usize,
        /// Why.
        source: MeasureError,
    },
}
