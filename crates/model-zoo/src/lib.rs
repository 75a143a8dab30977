//! Training NAS-Bench-201 networks on image tasks: the protocol that labels architectures.
//!
//! [`train`] takes a cell ([`Nb201Arch`](search_space::Nb201Arch)), a task
//! ([`datasets::Task`]), a [`Protocol`] and a seed, trains the cell's
//! [`Nb201Network`](search_space::Nb201Network) with NAS-Bench-201's recipe (SGD, Nesterov
//! momentum 0.9 without dampening, lr 0.1 with per-step cosine decay, weight decay 5e-4) and
//! returns a [`RunResult`]: per-epoch metrics, final test accuracy and loss, wall time, the
//! network's cost, and whether the run diverged.
//!
//! ```no_run
//! use model_zoo::{train_cpu, Protocol};
//! # fn task() -> datasets::Task { unimplemented!() }
//! let arch = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
//!     .parse()
//!     .unwrap();
//! let result = train_cpu(arch, &task(), &Protocol::mini(), 0).unwrap();
//! println!("test accuracy {:?}", result.test_accuracy);
//! ```
//!
//! Files: `protocol.rs` (hyperparameters, checked), `train.rs` (the loop, generic over the
//! network), `result.rs` (the record), `error.rs` (refusals), `data.rs` (device batches and
//! shuffling); [`mbv3`] trains Once-for-All MobileNetV3 points through the same loop and keeps
//! their database; [`zoo`] keeps trained networks with their weights (half precision, checked
//! on load) and retrieves them under parameter and FLOP limits (TANS).

pub mod analysis;
pub mod compare;
pub mod database;
pub mod mbv3;
pub mod plan;
pub mod presets;
pub mod stats;
pub mod store;
pub mod zoo;

mod data;
mod error;
mod protocol;
mod result;
mod train;

pub use error::TrainError;
pub use protocol::{Protocol, ProtocolError, Recipe};
pub use result::{EpochMetrics, RunResult, RunStatus};
pub use train::{
    fine_tune, test_network, train, train_observed, train_with_network, train_with_weights,
    FineTuned, TrainEvent,
};
#[cfg(feature = "flex")]
pub use train::{train_cpu, train_cpu_with_weights, CpuBackend};
