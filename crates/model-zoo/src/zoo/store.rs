//! [`Zoo`] (a zoo folder, read) and [`ZooWriter`] (its one writer).

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use burn::tensor::backend::Backend;
use search_space::Nb201Network;

use super::blob::{blob_path, decode_at, sha256_hex, BLOB_EXTENSION};
use super::entry::{zoo_header, BlobRef, ZooEntry, ZooKey};
use super::error::ZooError;
use crate::store::{read_store, CorruptLine, StoreWriter};

/// Name of the index inside a zoo folder.
pub const INDEX_FILE: &str = "index.jsonl";
/// Name of the blob folder inside a zoo folder.
pub const BLOB_DIR: &str = "blobs";

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ZooError + '_ {
    move |source| ZooError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A zoo folder as read: its entries (one per key; a later line with the same key replaces an
/// earlier one, in the earlier one's place) and the index lines that were not valid entries.
#[derive(Clone, Debug)]
pub struct Zoo {
    dir: PathBuf,
    entries: Vec<ZooEntry>,
    corrupt: Vec<CorruptLine>,
}

/// What [`Zoo::check`] found.
#[derive(Debug, Default)]
pub struct ZooCheck {
    /// Entries whose blob exists and matches.
    pub ok: usize,
    /// One error per entry whose blob is missing or does not match.
    pub problems: Vec<ZooError>,
    /// Blob files no entry names (left by a run that stopped between blob and index line, or
    /// by entries replaced since).
    pub orphans: Vec<PathBuf>,
    /// Bytes of the blobs the entries name.
    pub blob_bytes: u64,
    /// Bytes of the index file.
    pub index_bytes: u64,
}

impl Zoo {
    /// Reads the zoo in `dir` (its `index.jsonl`).
    pub fn open(dir: &Path) -> Result<Self, ZooError> {
        let contents = read_store::<ZooEntry>(&dir.join(INDEX_FILE), &zoo_header())?;
        Ok(Self::from_records(dir, contents.records, contents.corrupt))
    }

    fn from_records(dir: &Path, records: Vec<ZooEntry>, corrupt: Vec<CorruptLine>) -> Self {
        let mut entries: Vec<ZooEntry> = Vec::with_capacity(records.len());
        let mut at: HashMap<ZooKey, usize> = HashMap::new();
        for entry in records {
            match at.get(&entry.key()) {
                Some(&i) => entries[i] = entry,
                None => {
                    at.insert(entry.key(), entries.len());
                    entries.push(entry);
                }
            }
        }
        Self {
            dir: dir.to_path_buf(),
            entries,
            corrupt,
        }
    }

    /// The zoo's folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The entries, in index order.
    pub fn entries(&self) -> &[ZooEntry] {
        &self.entries
    }

    /// Index lines that are not valid entries (reported, skipped).
    pub fn corrupt_lines(&self) -> &[CorruptLine] {
        &self.corrupt
    }

    /// The entry of `key`, if the zoo has one.
    pub fn get(&self, key: &ZooKey) -> Option<&ZooEntry> {
        self.entries.iter().find(|e| e.key() == *key)
    }

    /// Where `entry`'s blob is.
    pub fn blob_path(&self, entry: &ZooEntry) -> PathBuf {
        blob_path(&self.dir.join(BLOB_DIR), &entry.weights.sha256)
    }

    /// The bytes of `entry`'s blob, checked against the length and SHA-256 its entry names.
    pub fn read_blob(&self, entry: &ZooEntry) -> Result<Vec<u8>, ZooError> {
        let path = self.blob_path(entry);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ZooError::MissingBlob {
                    path,
                    entry: entry.describe(),
                })
            }
            Err(source) => return Err(ZooError::Io { path, source }),
        };
        let found = sha256_hex(&bytes);
        if found != entry.weights.sha256 || bytes.len() as u64 != entry.weights.bytes {
            return Err(ZooError::Checksum {
                path,
                entry: entry.describe(),
                expected: entry.weights.sha256.clone(),
                found,
                expected_bytes: entry.weights.bytes,
                found_bytes: bytes.len() as u64,
            });
        }
        Ok(bytes)
    }

    /// The network of `entry` on `device`, its weights converted from f16 to the backend's
    /// float type. Checks the blob (present, same length and SHA-256) and its layout against
    /// the network the entry describes (cell, widths, channels, classes) before building it.
    pub fn load<B: Backend>(
        &self,
        entry: &ZooEntry,
        device: &B::Device,
    ) -> Result<Nb201Network<B>, ZooError> {
        let bytes = self.read_blob(entry)?;
        decode_at(
            &bytes,
            &entry.network_config(),
            device,
            &self.blob_path(entry),
            &entry.describe(),
        )
    }

    /// Checks every entry's blob (present, same length and SHA-256; not decoded) and lists the
    /// blob files no entry names.
    pub fn check(&self) -> ZooCheck {
        let mut check = ZooCheck {
            index_bytes: std::fs::metadata(self.dir.join(INDEX_FILE)).map_or(0, |m| m.len()),
            ..ZooCheck::default()
        };
        let mut named = HashSet::new();
        for entry in &self.entries {
            named.insert(self.blob_path(entry));
            match self.read_blob(entry) {
                Ok(bytes) => {
                    check.ok += 1;
                    check.blob_bytes += bytes.len() as u64;
                }
                Err(e) => check.problems.push(e),
            }
        }
        if let Ok(files) = std::fs::read_dir(self.dir.join(BLOB_DIR)) {
            let mut orphans: Vec<PathBuf> = files
                .filter_map(|f| f.ok().map(|f| f.path()))
                .filter(|p| p.extension().is_some_and(|e| e == BLOB_EXTENSION))
                .filter(|p| !named.contains(p))
                .collect();
            orphans.sort();
            check.orphans = orphans;
        }
        check
    }
}

/// The one writer of a zoo folder: it holds the index's lock, writes blobs atomically and
/// appends entries durably.
#[derive(Debug)]
pub struct ZooWriter {
    blobs: PathBuf,
    index: StoreWriter<ZooEntry>,
}

impl ZooWriter {
    /// Opens (creating it if needed) the zoo in `dir` for writing, and returns what it holds.
    /// A second writer of the same zoo is refused ([`StoreError::Locked`](crate::store::StoreError::Locked)).
    pub fn open(dir: &Path) -> Result<(Self, Zoo), ZooError> {
        let blobs = dir.join(BLOB_DIR);
        std::fs::create_dir_all(&blobs).map_err(io(&blobs))?;
        let (index, contents) = StoreWriter::open(&dir.join(INDEX_FILE), &zoo_header())?;
        let zoo = Zoo::from_records(dir, contents.records, contents.corrupt);
        Ok((Self { blobs, index }, zoo))
    }

    /// Writes `bytes` as a blob named by its SHA-256 (to a temporary name, synced, then
    /// renamed; nothing is written if the blob exists) and returns its reference.
    pub fn write_blob(&self, bytes: &[u8]) -> Result<BlobRef, ZooError> {
        let sha256 = sha256_hex(bytes);
        let path = blob_path(&self.blobs, &sha256);
        let intact = std::fs::read(&path).is_ok_and(|old| old == bytes);
        if !intact {
            let tmp = self.blobs.join(format!(".{sha256}.partial"));
            let mut file = File::create(&tmp).map_err(io(&tmp))?;
            file.write_all(bytes).map_err(io(&tmp))?;
            file.sync_all().map_err(io(&tmp))?;
            std::fs::rename(&tmp, &path).map_err(io(&path))?;
            // The rename itself is durable once the folder is synced (best effort: not every
            // platform can open a folder).
            if let Ok(dir) = File::open(&self.blobs) {
                let _ = dir.sync_all();
            }
        }
        Ok(BlobRef {
            sha256,
            bytes: bytes.len() as u64,
        })
    }

    /// Appends `entry` to the index (one line, synced). Write its blob first.
    pub fn append(&mut self, entry: &ZooEntry) -> Result<(), ZooError> {
        Ok(self.index.append(entry)?)
    }
}
