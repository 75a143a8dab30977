//! [`RunResult`]: what one training run records.

use serde::{Deserialize, Serialize};

use search_space::{Cost, Nb201Arch};

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum RunStatus {
    /// Every epoch finished with a finite loss.
    Ok,
    /// The training loss became NaN or infinite during `epoch` (0-based); training stopped there.
    Diverged {
        /// The epoch in which the loss stopped being finite.
        epoch: usize,
    },
    /// The run could not be trained at all (e.g. its task could not be built); the database
    /// record says why.
    Failed,
}

/// Metrics of one epoch. Training metrics are averages over the epoch's batches as they were
/// trained (weights changing); test metrics use the weights at the end of the epoch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// Mean training cross-entropy.
    pub train_loss: f64,
    /// Fraction of training images classified correctly.
    pub train_accuracy: f64,
    /// Test cross-entropy, when the test set was evaluated after this epoch.
    pub test_loss: Option<f64>,
    /// Test accuracy, when the test set was evaluated after this epoch.
    pub test_accuracy: Option<f64>,
}

/// The record of training one architecture on one task with one seed.
///
/// `A` is the architecture's type: an NB201 cell by default, an
/// [`Mbv3Arch`](search_space::Mbv3Arch) for the MobileNetV3 space ([`crate::mbv3`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunResult<A = Nb201Arch> {
    /// The trained architecture.
    pub arch: A,
    /// The seed of the initial weights and of the batch order.
    pub seed: u64,
    /// Per-epoch metrics, one entry per finished epoch.
    pub epochs: Vec<EpochMetrics>,
    /// Test accuracy after the last epoch (`None` if the run diverged).
    pub test_accuracy: Option<f64>,
    /// Test cross-entropy after the last epoch (`None` if the run diverged).
    pub test_loss: Option<f64>,
    /// Wall-clock seconds of the whole run (data upload, training, evaluation).
    pub wall_seconds: f64,
    /// Parameters (M) and FLOPs (M per image; multiply-adds for MobileNetV3) of the trained
    /// network, from the space's cost model.
    pub cost: Cost,
    /// Exact trainable parameter count of the trained network.
    pub param_count: usize,
    /// How the run ended.
    pub status: RunStatus,
}

impl<A> RunResult<A> {
    /// The record of a run that could not be trained.
    pub fn failed(arch: A, seed: u64) -> Self {
        Self {
            arch,
            seed,
            epochs: Vec::new(),
            test_accuracy: None,
            test_loss: None,
            wall_seconds: 0.0,
            cost: Cost {
                params: 0.0,
                flops: 0.0,
            },
            param_count: 0,
            status: RunStatus::Failed,
        }
    }

    /// Whether the run finished without diverging.
    pub fn is_ok(&self) -> bool {
        self.status == RunStatus::Ok
    }
}
