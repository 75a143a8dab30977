//! Once-for-All's MobileNetV3 space (Cai et al., ICLR 2020): MetaD2A's second search space and
//! TANS's only one.
//!
//! - [`Mbv3Arch`] (a point: five stages of 2–4 MBConv blocks, each with a [`Kernel`] and an
//!   [`Expand`] ratio), its text form, its size [`MBV3_SIZE`], dense indices and seeded
//!   sampling ([`arch`]).
//! - [`encoding`]: TANS's 45 integers; [`graph`]: MetaD2A's 22-vertex typed chain.
//! - [`plan`]: the network layer by layer for a point and a [`Mbv3MacroConfig`];
//!   [`cost`]: its parameters and multiply-adds.
//! - [`network`]: [`Mbv3Network`], a Burn module for any point.

pub mod arch;
pub mod choice;
pub mod cost;
pub mod encoding;
pub mod graph;
pub mod network;
pub mod plan;

pub use arch::{Mbv3Arch, Mbv3ArchError, MBV3_SIZE, STAGE_SIZE};
pub use choice::{Expand, Kernel, Mbv3Block, DEPTHS, MAX_DEPTH, MIN_DEPTH, SLOTS, STAGES};
pub use encoding::{TansEncodingError, TANS_LEN};
pub use graph::Mbv3GraphError;
pub use network::{Mbv3Network, Mbv3NetworkConfig};
pub use plan::{
    make_divisible, Activation, MbConvSpec, Mbv3ConfigError, Mbv3MacroConfig, Mbv3Plan,
};
