//! The model zoo: trained networks with their weights, and retrieval under cost constraints
//! (TANS, issue 15).
//!
//! A zoo is a folder:
//!
//! ```text
//! index.jsonl            header {"format":"metanas-zoo","version":1}, then one ZooEntry per line
//! blobs/<sha256>.mpk     one network's weights: Burn's CompactRecorder format (named
//!                        MessagePack, half precision), named by the SHA-256 of its bytes
//! ```
//!
//! An entry ([`ZooEntry`]) is keyed by ([`TaskSpec::key`](datasets::TaskSpec::key), cell,
//! seed) ([`ZooKey`]) and says what the network is (task, cell, seed, protocol), how well it
//! did (test accuracy and loss as trained in f32, and again after the round trip through f16),
//! what it costs (parameters, multiply-adds) and which blob holds it (SHA-256 and length).
//! [`Zoo::load`] checks the blob against both before building an
//! [`Nb201Network`](search_space::Nb201Network) on any backend, and checks the record's layout
//! (every tensor's path and shape) against the network the entry describes, so a missing,
//! truncated, altered or mismatched blob is a [`ZooError`] naming the file and the fix, never a
//! panic. The index is a [`store`](crate::store): append-only, locked while written, cut back
//! to its last whole line after a crash; a blob is written under a temporary name and renamed
//! before its entry is appended, so a crash leaves at most an orphan blob.
//!
//! [`build`] fills a zoo from a database [`Plan`](crate::plan::Plan): it picks meta-training
//! tasks and cells ([`select_jobs`]), re-trains those runs with the database's training loop
//! (on flex, bit for bit the records of the run database) and stores each network. `metanas-db
//! zoo` is its command line. [`Retrieval`] ranks entries by the dot product of embeddings under
//! `max_params` / `max_flops` and re-scores the top k with a predictor.
//!
//! **Why here.** This crate trains the networks and keeps the run database; the zoo is that
//! database with the weights kept. It reuses the training loop, the plans and their jobs, the
//! run keys and the durable store, and [`build`] reproduces the database's records exactly, so
//! a zoo entry and a database record of the same key describe the same experiment. Retrieval
//! is plain Rust over the entries' costs and whatever embeddings a caller supplies: TANS's
//! learned encoders and predictor (in `meta-predictor` / `metanas`) only provide the numbers,
//! and the zoo does not depend on them.

mod blob;
mod build;
mod entry;
mod error;
mod retrieval;
mod store;

pub use blob::{decode, encode, sha256_hex, BLOB_EXTENSION};
pub use build::{
    blob_size, build, select_jobs, ZooBuildOptions, ZooBuildReport, ZooEvent, ZooSelection,
};
pub use entry::{zoo_header, BlobRef, Evaluation, ZooEntry, ZooKey};
pub use error::ZooError;
pub use retrieval::{Constraints, Hit, Rescore, Retrieval, RetrievalError};
pub use store::{Zoo, ZooCheck, ZooWriter, BLOB_DIR, INDEX_FILE};
