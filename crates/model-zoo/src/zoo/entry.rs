//! [`ZooEntry`]: one network of the zoo, as its index line describes it.

use datasets::TaskSpec;
use search_space::{Cost, Nb201Arch, Nb201NetworkConfig};
use serde::{Deserialize, Serialize};

use crate::plan::Role;
use crate::protocol::Protocol;
use crate::store::StoreHeader;

/// The header of a zoo index (`index.jsonl`).
pub fn zoo_header() -> StoreHeader {
    StoreHeader {
        format: "metanas-zoo".into(),
        version: 1,
    }
}

/// Identity of a zoo network: the task ([`TaskSpec::key`]), the cell and the training seed.
/// An index holds one entry per key (a later line with the same key replaces an earlier one).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ZooKey {
    /// [`TaskSpec::key`] of the task the network was trained on.
    pub task: String,
    /// The cell.
    pub arch: Nb201Arch,
    /// The training seed.
    pub seed: u64,
}

impl ZooKey {
    /// The key of a network trained on `task` with `arch` and `seed`.
    pub fn new(task: &TaskSpec, arch: Nb201Arch, seed: u64) -> Self {
        Self {
            task: task.key(),
            arch,
            seed,
        }
    }
}

/// Where an entry's weights are: the blob `blobs/<sha256>.mpk`, checked on load.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobRef {
    /// SHA-256 of the blob's bytes (lowercase hex): its name and its checksum.
    pub sha256: String,
    /// Length of the blob in bytes.
    pub bytes: u64,
}

/// Test metrics of a network on its task's test split.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Fraction of test images classified correctly.
    pub test_accuracy: f64,
    /// Mean test cross-entropy.
    pub test_loss: f64,
}

/// One network of the zoo: what it is, how well it did, what it costs, and where its weights
/// are.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ZooEntry {
    /// The database plan group its task comes from.
    pub group: String,
    /// Meta-training or meta-test (the zoo's builder takes meta-training tasks only).
    pub role: Role,
    /// The task, rebuildable with `Task::build`; [`TaskSpec::key`] of it is the entry's key.
    pub task: TaskSpec,
    /// The cell.
    pub arch: Nb201Arch,
    /// The training seed (initial weights and batch order).
    pub seed: u64,
    /// The training protocol.
    pub protocol: Protocol,
    /// The trained network in full precision on its task, as the training run measured it:
    /// the database record's test metrics, bit for bit on flex.
    pub trained: Evaluation,
    /// The stored (half-precision) network, loaded back to f32 and tested again on the same
    /// task: what a user of the zoo gets.
    pub stored: Evaluation,
    /// Exact trainable parameter count.
    pub param_count: usize,
    /// Parameters (M) and multiply-adds per image (M) from the cost model.
    pub cost: Cost,
    /// The weights.
    pub weights: BlobRef,
    /// Wall-clock seconds of the training run.
    pub wall_seconds: f64,
}

impl ZooEntry {
    /// This entry's key.
    pub fn key(&self) -> ZooKey {
        ZooKey::new(&self.task, self.arch, self.seed)
    }

    /// The configuration of the network the entry describes (the protocol's macro network for
    /// the task's channels and classes), without its seed: the weights come from the blob.
    pub fn network_config(&self) -> Nb201NetworkConfig {
        network_config(self.arch, &self.protocol, &self.task)
    }

    /// A short description for messages: group, cell and seed.
    pub fn describe(&self) -> String {
        format!("{} {} seed {}", self.group, self.arch, self.seed)
    }
}

/// The network `protocol` trains for `arch` on `task` (its channels and classes), seed 0.
pub(crate) fn network_config(
    arch: Nb201Arch,
    protocol: &Protocol,
    task: &TaskSpec,
) -> Nb201NetworkConfig {
    Nb201NetworkConfig::new(arch)
        .with_channels(protocol.channels)
        .with_cells_per_stage(protocol.cells_per_stage)
        .with_input_channels(task.channels)
        .with_num_classes(task.classes.len())
        .with_resolution(protocol.resolution)
}
