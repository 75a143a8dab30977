//! What an architecture *is*: the NAS-Bench-201 cell space, exactly as the official benchmark
//! defines it, and trainable Burn networks for any of its cells.
//!
//! - [`Op`] and [`Nb201Arch`]: the five ops, the six-edge cell, the official string format and
//!   the official index order.
//! - [`isomorphism`]: the canonical form that groups cells computing the same function
//!   (6,466 classes, the partition NATS-Bench uses).
//! - [`graph`]: MetaD2A's 8-vertex typed DAG and a Graphviz export of the cell wiring.
//! - [`cost`]: parameters and FLOPs of the macro network, derived from its structure.
//! - [`benchmark`]: the tabular NAS-Bench-201 results as a typed look-up.
//! - [`network`]: [`Nb201Network`], a Burn module for any cell.
//! - [`mbv3`]: Once-for-All's MobileNetV3 space ([`Mbv3Arch`]): text form, TANS's 45-integer
//!   encoding, MetaD2A's graph, params/FLOPs, and [`Mbv3Network`](mbv3::Mbv3Network).
//! - [`device`]: the backend a binary, example or bench runs on (`--device cpu|wgpu|cuda`),
//!   here because every crate with a binary depends on this one (re-exported as
//!   `metanas::device`).

pub mod arch;
pub mod benchmark;
pub mod cost;
pub mod device;
pub mod graph;
pub mod isomorphism;
pub mod mbv3;
pub mod network;
pub mod op;

pub use arch::{Nb201Arch, ParseArchError, EDGES, NB201_SIZE};
pub use cost::{Cost, MacroConfig};
pub use mbv3::{Mbv3Arch, Mbv3MacroConfig};
pub use network::{Nb201Network, Nb201NetworkConfig};
pub use op::Op;
