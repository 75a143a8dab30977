//! Once-for-All MobileNetV3 points trained end to end, and their database.
//!
//! - [`Mbv3Protocol`] (`protocol.rs`): width, resolution and NAS-Bench-201's optimiser recipe.
//! - [`train_mbv3`] (`train.rs`): one point on one task through the crate's single training
//!   loop (the one NB201 cells train through), returning a
//!   [`RunResult<Mbv3Arch>`](crate::RunResult).
//! - `database.rs`: the plan ([`source_tasks`], [`sample_points`], [`plan_jobs`]) of
//!   [`Mbv3Job`]s, built by the NB201 database's builder
//!   ([`build_jobs`](crate::database::build_jobs)) into [`Mbv3RunRecord`]s.
//! - [`profile_step`] (`profile.rs`): the depthwise convolutions' share of a training step.
//!
//! [`Mbv3Arch`]: search_space::Mbv3Arch

mod database;
mod profile;
mod protocol;
mod train;

pub use database::{
    mbv3_runs_header, plan_jobs, read_mbv3_runs, sample_points, source_tasks, Mbv3DatabaseError,
    Mbv3Job, Mbv3RunRecord, SourceTask,
};
pub use profile::{profile_step, StepProfile};
pub use protocol::{Mbv3Protocol, Mbv3ProtocolError};
#[cfg(feature = "flex")]
pub use train::train_mbv3_cpu;
pub use train::{train_mbv3, train_mbv3_with_weights};
