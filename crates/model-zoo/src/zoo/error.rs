//! [`ZooError`]: why a zoo could not be read, written or loaded from.

use std::path::PathBuf;

use search_space::network::NetworkConfigError;

use crate::plan::PlanError;
use crate::store::StoreError;
use crate::TrainError;

/// Why a zoo operation failed. Every variant about a blob names its file and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ZooError {
    /// The index could not be read or written.
    #[error(transparent)]
    Index(#[from] StoreError),
    /// The plan the zoo is built from could not be expanded.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// A file or folder could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The entry's blob is not there.
    #[error(
        "{path}: the weights of {entry} are missing; restore the file (`git checkout -- {path}`) \
         or run `metanas-db zoo` again, which re-trains entries whose blob is missing"
    )]
    MissingBlob {
        /// The blob's path.
        path: PathBuf,
        /// The entry ([`ZooEntry::describe`](super::ZooEntry::describe)).
        entry: String,
    },
    /// The blob's bytes are not the ones the entry names.
    #[error(
        "{path}: the weights of {entry} do not match the index ({found_bytes} bytes with SHA-256 \
         {found}, expected {expected_bytes} bytes with SHA-256 {expected}): the file was altered \
         or truncated; restore it (`git checkout -- {path}`) or delete it and run `metanas-db \
         zoo` again to re-train the entry"
    )]
    Checksum {
        /// The blob's path.
        path: PathBuf,
        /// The entry.
        entry: String,
        /// SHA-256 the index names.
        expected: String,
        /// SHA-256 of the file.
        found: String,
        /// Length the index names.
        expected_bytes: u64,
        /// Length of the file.
        found_bytes: u64,
    },
    /// The blob is not a half-precision Burn record of an NB201 network.
    #[error(
        "{path}: not a zoo blob (a Burn CompactRecorder record of an NB201 network): {message}; \
         delete it and run `metanas-db zoo` again to re-train the entry"
    )]
    Decode {
        /// The blob's path (or `(bytes)` when decoding from memory).
        path: PathBuf,
        /// What the decoder said.
        message: String,
    },
    /// The blob holds another network than the one its entry describes.
    #[error(
        "{path}: the weights do not fit {entry}: at `{at}` the entry's network has {expected}, \
         the blob has {found}; the index line and the blob disagree (restore both from git, or \
         delete the blob and run `metanas-db zoo` again)"
    )]
    Mismatch {
        /// The blob's path.
        path: PathBuf,
        /// The entry.
        entry: String,
        /// Where in the record they first differ (a field path).
        at: String,
        /// What the entry's network has there.
        expected: String,
        /// What the blob has there.
        found: String,
    },
    /// The entry describes a network that cannot be built.
    #[error("{entry}: {source}")]
    Config {
        /// The entry.
        entry: String,
        /// Why its configuration is invalid.
        source: NetworkConfigError,
    },
    /// A network could not be serialised.
    #[error("cannot serialise the network: {0}")]
    Encode(String),
    /// A network could not be tested or trained.
    #[error(transparent)]
    Train(#[from] TrainError),
}
