//! A durable, append-only store of records: JSON Lines with a versioned header.
//!
//! Line 1 is a [`StoreHeader`]; every further line is one record. Each append is one `write` of a
//! whole line followed by `fsync`, so a `kill -9` at any moment leaves every earlier line intact
//! and at most one partial last line (the record in flight). Opening a store for appending cuts
//! such a partial tail before writing, so a resumed writer never glues a new record onto it.
//! Reading validates every line and reports a corrupt one by its line number instead of failing
//! the whole file.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The first line of every store.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreHeader {
    /// What the records are (e.g. `metanas-runs`); a reader refuses a store of another kind.
    pub format: String,
    /// Schema version of the records.
    pub version: u32,
}

/// Why a store could not be opened or written. Corrupt *records* are not errors: see
/// [`StoreContents::corrupt`].
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An I/O failure on the store file.
    #[error("{path}: {source}")]
    Io {
        /// The store file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is empty or its first line is not a header.
    #[error("{path}: line 1 is not a store header: {message}")]
    BadHeader {
        /// The store file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The header names another format or version than the reader expects.
    #[error(
        "{path}: store holds `{found_format}` v{found_version}, expected `{format}` v{version}"
    )]
    Incompatible {
        /// The store file.
        path: PathBuf,
        /// Format found.
        found_format: String,
        /// Version found.
        found_version: u32,
        /// Format expected.
        format: String,
        /// Version expected.
        version: u32,
    },
    /// A record could not be serialised.
    #[error("cannot serialise record: {0}")]
    Serialise(#[from] serde_json::Error),
    /// Another process holds the store open for writing.
    #[error("{path}: another process is writing this store (it holds the store's lock); give every builder its own store (`--shard i/n --store runs.i.jsonl`) and combine them with `metanas-db merge`")]
    Locked {
        /// The store file.
        path: PathBuf,
    },
}

/// A line that did not hold a valid record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CorruptLine {
    /// 1-based line number in the file.
    pub line: usize,
    /// Why it was rejected.
    pub message: String,
}

/// Everything a store holds.
#[derive(Clone, Debug)]
pub struct StoreContents<R> {
    /// The header.
    pub header: StoreHeader,
    /// Valid records, in file order.
    pub records: Vec<R>,
    /// The 1-based line number of each record in `records`.
    pub lines: Vec<usize>,
    /// Lines that are not valid records (kept in the file, skipped by readers).
    pub corrupt: Vec<CorruptLine>,
    /// Bytes of a partial last line (no trailing newline): a write cut off by a crash.
    pub partial_tail: usize,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Read and validate a whole store, expecting `header`'s format and version.
pub fn read_store<R: DeserializeOwned>(
    path: &Path,
    header: &StoreHeader,
) -> Result<StoreContents<R>, StoreError> {
    let file = File::open(path).map_err(io(path))?;
    let mut reader = BufReader::new(file);
    let mut buf = Vec::new();
    let mut line_no = 0;
    let mut found: Option<StoreHeader> = None;
    let mut records = Vec::new();
    let mut lines = Vec::new();
    let mut corrupt = Vec::new();
    let mut partial_tail = 0;
    loop {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf).map_err(io(path))?;
        if n == 0 {
            break;
        }
        line_no += 1;
        if buf.last() != Some(&b'\n') {
            partial_tail = n;
            break;
        }
        let text = &buf[..n - 1];
        if found.is_none() {
            let h: StoreHeader =
                serde_json::from_slice(text).map_err(|e| StoreError::BadHeader {
                    path: path.to_path_buf(),
                    message: e.to_string(),
                })?;
            if h != *header {
                return Err(StoreError::Incompatible {
                    path: path.to_path_buf(),
                    found_format: h.format,
                    found_version: h.version,
                    format: header.format.clone(),
                    version: header.version,
                });
            }
            found = Some(h);
            continue;
        }
        match serde_json::from_slice::<R>(text) {
            Ok(r) => {
                records.push(r);
                lines.push(line_no);
            }
            Err(e) => corrupt.push(CorruptLine {
                line: line_no,
                message: e.to_string(),
            }),
        }
    }
    let header = found.ok_or_else(|| StoreError::BadHeader {
        path: path.to_path_buf(),
        message: "file is empty or has no complete first line".into(),
    })?;
    Ok(StoreContents {
        lines,
        header,
        records,
        corrupt,
        partial_tail,
    })
}

/// An open store that appends records durably.
#[derive(Debug)]
pub struct StoreWriter<R> {
    path: PathBuf,
    file: File,
    _record: PhantomData<fn(&R)>,
}

impl<R: Serialize + DeserializeOwned> StoreWriter<R> {
    /// Open `path` for appending, creating it with `header` if it does not exist, and return the
    /// records already there. A partial last line left by a crash is cut off first.
    pub fn open(path: &Path, header: &StoreHeader) -> Result<(Self, StoreContents<R>), StoreError> {
        if !path.exists() {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(io(dir))?;
            }
            // Write the header to a temporary file and rename it into place: a store either
            // exists with its header or does not exist.
            let tmp = path.with_extension("tmp-header");
            let mut f = File::create(&tmp).map_err(io(&tmp))?;
            let mut line = serde_json::to_vec(header)?;
            line.push(b'\n');
            f.write_all(&line).map_err(io(&tmp))?;
            f.sync_all().map_err(io(&tmp))?;
            std::fs::rename(&tmp, path).map_err(io(path))?;
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(io(path))?;
        // One writer at a time: the lock is taken before the tail is inspected, so a second
        // writer can neither cut the first one's line in flight nor interleave with it. The
        // operating system releases it when the process ends, however it ends.
        file.try_lock().map_err(|e| match e {
            std::fs::TryLockError::WouldBlock => StoreError::Locked {
                path: path.to_path_buf(),
            },
            std::fs::TryLockError::Error(source) => StoreError::Io {
                path: path.to_path_buf(),
                source,
            },
        })?;
        let contents = read_store::<R>(path, header)?;
        if contents.partial_tail > 0 {
            let len = file.metadata().map_err(io(path))?.len();
            file.set_len(len - contents.partial_tail as u64)
                .map_err(io(path))?;
            file.sync_all().map_err(io(path))?;
        }
        let mut writer = Self {
            path: path.to_path_buf(),
            file,
            _record: PhantomData,
        };
        writer.file.seek(SeekFrom::End(0)).map_err(io(path))?;
        Ok((writer, contents))
    }

    /// Append one record as one line and flush it to disk before returning.
    pub fn append(&mut self, record: &R) -> Result<(), StoreError> {
        let mut line = serde_json::to_vec(record)?;
        line.push(b'\n');
        self.file.write_all(&line).map_err(io(&self.path))?;
        self.file.sync_data().map_err(io(&self.path))
    }

    /// The store's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Write a complete store (header + records) atomically: to a temporary file, then renamed.
pub fn write_store<R: Serialize>(
    path: &Path,
    header: &StoreHeader,
    records: &[R],
) -> Result<(), StoreError> {
    let tmp = path.with_extension("tmp-write");
    let mut out = std::io::BufWriter::new(File::create(&tmp).map_err(io(&tmp))?);
    serde_json::to_writer(&mut out, header)?;
    out.write_all(b"\n").map_err(io(&tmp))?;
    for r in records {
        serde_json::to_writer(&mut out, r)?;
        out.write_all(b"\n").map_err(io(&tmp))?;
    }
    let file = out.into_inner().map_err(|e| StoreError::Io {
        path: tmp.clone(),
        source: e.into_error(),
    })?;
    file.sync_all().map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_second_writer_is_refused_until_the_first_closes() {
        let dir = std::env::temp_dir().join(format!("store-lock-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("s.jsonl");
        let header = super::StoreHeader {
            format: "t".into(),
            version: 1,
        };
        let (mut first, _) = super::StoreWriter::<u32>::open(&path, &header).unwrap();
        first.append(&1).unwrap();
        let err = super::StoreWriter::<u32>::open(&path, &header).unwrap_err();
        assert!(matches!(err, super::StoreError::Locked { .. }), "{err}");
        assert!(err.to_string().contains("merge"), "{err}");
        drop(first);
        let (_, contents) = super::StoreWriter::<u32>::open(&path, &header).unwrap();
        assert_eq!(contents.records, vec![1]);
        std::fs::remove_dir_all(dir).unwrap();
    }

    use super::*;

    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    struct Rec {
        id: u32,
        acc: f64,
    }

    fn header() -> StoreHeader {
        StoreHeader {
            format: "test-records".into(),
            version: 1,
        }
    }

    fn tmp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("metanas-store-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("runs.jsonl")
    }

    #[test]
    fn append_and_reopen() {
        let path = tmp("reopen");
        let (mut w, c) = StoreWriter::<Rec>::open(&path, &header()).unwrap();
        assert!(c.records.is_empty());
        w.append(&Rec { id: 1, acc: 0.5 }).unwrap();
        w.append(&Rec { id: 2, acc: 0.25 }).unwrap();
        drop(w);
        let (_, c) = StoreWriter::<Rec>::open(&path, &header()).unwrap();
        assert_eq!(c.records.len(), 2);
        assert_eq!(c.records[1], Rec { id: 2, acc: 0.25 });
    }

    #[test]
    fn partial_tail_is_cut_and_corrupt_lines_reported() {
        let path = tmp("tail");
        let (mut w, _) = StoreWriter::<Rec>::open(&path, &header()).unwrap();
        w.append(&Rec { id: 1, acc: 0.5 }).unwrap();
        drop(w);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"id\": oops}\n{\"id\":3,\"ac").unwrap();
        drop(f);
        let c = read_store::<Rec>(&path, &header()).unwrap();
        assert_eq!(c.records.len(), 1);
        assert_eq!(c.corrupt.len(), 1);
        assert_eq!(c.corrupt[0].line, 3);
        assert!(c.partial_tail > 0);
        let (mut w, _) = StoreWriter::<Rec>::open(&path, &header()).unwrap();
        w.append(&Rec { id: 4, acc: 1.0 }).unwrap();
        let c = read_store::<Rec>(&path, &header()).unwrap();
        assert_eq!(c.records.iter().map(|r| r.id).collect::<Vec<_>>(), [1, 4]);
        assert_eq!(c.partial_tail, 0);
    }

    #[test]
    fn incompatible_header_is_an_error() {
        let path = tmp("header");
        StoreWriter::<Rec>::open(&path, &header()).unwrap();
        let other = StoreHeader {
            format: "test-records".into(),
            version: 2,
        };
        assert!(matches!(
            read_store::<Rec>(&path, &other),
            Err(StoreError::Incompatible {
                found_version: 1,
                ..
            })
        ));
        std::fs::write(&path, "not json\n").unwrap();
        assert!(matches!(
            read_store::<Rec>(&path, &header()),
            Err(StoreError::BadHeader { .. })
        ));
    }

    #[test]
    fn write_store_is_readable() {
        let path = tmp("write");
        let recs = vec![Rec { id: 7, acc: 0.1 }];
        write_store(&path, &header(), &recs).unwrap();
        assert_eq!(read_store::<Rec>(&path, &header()).unwrap().records, recs);
    }
}
