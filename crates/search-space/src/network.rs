//! Trainable NAS-Bench-201 networks as Burn modules.
//!
//! [`Nb201Network`] is the official NAS-Bench-201 macro network (`TinyNetwork` with an
//! `InferCell` per position) for any [`Nb201Arch`](crate::Nb201Arch), with the width, depth,
//! input channels, classes and resolution configurable:
//!
//! ```text
//! input [B, in, R, R]
//!   → stem: Conv3×3 (no bias) → BN                          [B, C, R, R]
//!   → N cells at C                                          [B, C, R, R]
//!   → residual reduction C → 2C                             [B, 2C, R/2, R/2]
//!   → N cells at 2C
//!   → residual reduction 2C → 4C                            [B, 4C, R/4, R/4]
//!   → N cells at 4C
//!   → BN → ReLU → global average pool                       [B, 4C]
//!   → linear classifier (with bias)                         [B, K]
//! ```
//!
//! Its parameter count ([`Module::num_params`](burn::module::Module::num_params)) is exactly the
//! official count, because batch-norm running statistics live in [`Buffer`]s, which are saved
//! and moved with the module but are not parameters.
//!
//! Weights are initialised deterministically from [`Nb201NetworkConfig::seed`], independently of
//! the backend, and every parameter's values depend only on the seed and the parameter's
//! *position* (stage, cell, edge): two cells that share an op on an edge start from the same
//! weights there.
//!
//! Files: [`buffer`](Buffer) (non-trainable state), [`batch_norm`](BatchNorm2d),
//! [`ops`](EdgeOp) (the five cell ops), [`cell`](Nb201Cell), [`reduction`](ResidualBlock),
//! [`model`](Nb201Network), `init` (seeded initialisation), and [`supernet`] (the
//! weight-sharing network with every op on every edge, for BASE and GDAS-style search).

mod batch_norm;
mod buffer;
mod cell;
mod conv;
pub mod init;
mod model;
mod ops;
mod reduction;
pub mod supernet;

pub use batch_norm::{BatchNorm2d, BatchNorm2dConfig, BnMode};
pub use buffer::Buffer;
pub use cell::{Nb201Cell, Nb201CellConfig};
pub(crate) use conv::conv_module;
pub use conv::{conv2d, cpu_conv, with_cpu_conv, CpuConv};
pub use model::{Nb201Network, Nb201NetworkConfig, NetworkConfigError};
pub(crate) use ops::pointwise_conv;
pub use ops::{AvgPool3x3, EdgeOp, Identity, ReluConvBn, ReluConvBnConfig};
pub use reduction::{ResidualBlock, ResidualBlockConfig};
pub use supernet::{EdgeWeights, Nb201Supernet, Nb201SupernetConfig};

#[cfg(test)]
mod tests;
