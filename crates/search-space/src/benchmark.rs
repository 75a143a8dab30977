//! The tabular NAS-Bench-201 benchmark: results of every cell, looked up by (arch, dataset).
//!
//! Reads the CSV described in `shared/DATA.md` (header
//! `index,arch_str,unique_str,c10_test,c100_test,in16_test,c10valid_valid,c10valid_test,params_c10,params_c100,params_in16,flops_c10,flops_c100,flops_in16`),
//! or any subset of its rows. Every row is checked: its index must match its architecture string.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::arch::{Nb201Arch, ParseArchError};

/// The header the reader expects, column for column.
pub const HEADER: [&str; 14] = [
    "index",
    "arch_str",
    "unique_str",
    "c10_test",
    "c100_test",
    "in16_test",
    "c10valid_valid",
    "c10valid_test",
    "params_c10",
    "params_c100",
    "params_in16",
    "flops_c10",
    "flops_c100",
    "flops_in16",
];

/// A NAS-Bench-201 dataset (training setting).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Dataset {
    /// CIFAR-10 trained on train+valid, tested on test.
    Cifar10,
    /// CIFAR-10 trained on the train split only; [`Metrics::valid_accuracy`] is set.
    Cifar10Valid,
    /// CIFAR-100.
    Cifar100,
    /// ImageNet16-120.
    ImageNet16_120,
}

/// Results of one cell on one dataset.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Test accuracy in percent (200 epochs, mean over seeds).
    pub test_accuracy: f64,
    /// Validation accuracy in percent, for [`Dataset::Cifar10Valid`] only.
    pub valid_accuracy: Option<f64>,
    /// Parameters (M).
    pub params: f64,
    /// FLOPs (M).
    pub flops: f64,
}

/// One row of the benchmark.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The cell.
    pub arch: Nb201Arch,
    /// NATS-Bench's canonical string of the cell.
    pub unique_str: String,
    /// CIFAR-10 (train+valid) results.
    pub cifar10: Metrics,
    /// CIFAR-10 (train split) results.
    pub cifar10_valid: Metrics,
    /// CIFAR-100 results.
    pub cifar100: Metrics,
    /// ImageNet16-120 results.
    pub imagenet16_120: Metrics,
}

impl Record {
    /// Results on `dataset`.
    pub fn metrics(&self, dataset: Dataset) -> &Metrics {
        match dataset {
            Dataset::Cifar10 => &self.cifar10,
            Dataset::Cifar10Valid => &self.cifar10_valid,
            Dataset::Cifar100 => &self.cifar100,
            Dataset::ImageNet16_120 => &self.imagenet16_120,
        }
    }
}

/// Why a benchmark file could not be read. `line` is 1-based, the header being line 1.
#[derive(Debug, thiserror::Error)]
pub enum BenchmarkError {
    /// The file could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The header is not [`HEADER`].
    #[error("bad header: expected `{}`, found `{found}`", HEADER.join(","))]
    Header {
        /// The header found.
        found: String,
    },
    /// A row could not be split into fields (CSV syntax, wrong field count).
    #[error("line {line}: {message}")]
    Csv {
        /// Line number.
        line: u64,
        /// What is wrong.
        message: String,
    },
    /// A field is not a number.
    #[error("line {line}, column `{column}`: `{value}` is not a number")]
    Number {
        /// Line number.
        line: u64,
        /// Column name.
        column: &'static str,
        /// The offending value.
        value: String,
    },
    /// The architecture string does not parse.
    #[error("line {line}: bad arch_str: {source}")]
    Arch {
        /// Line number.
        line: u64,
        /// The parse error.
        source: ParseArchError,
    },
    /// The index column does not match the architecture's official index.
    #[error("line {line}: index {index} does not match arch_str (its index is {expected})")]
    IndexMismatch {
        /// Line number.
        line: u64,
        /// The index column.
        index: String,
        /// The official index of arch_str.
        expected: usize,
    },
    /// Two rows describe the same architecture.
    #[error("line {line}: duplicate row for index {index}")]
    Duplicate {
        /// Line number.
        line: u64,
        /// The repeated index.
        index: usize,
    },
}

/// The benchmark table (all rows, or a subset), keyed by official index.
#[derive(Clone, Debug, Default)]
pub struct Nb201Benchmark {
    records: HashMap<usize, Record>,
}

impl Nb201Benchmark {
    /// Read the CSV at `path`.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self, BenchmarkError> {
        let path = path.as_ref();
        let file = std::fs::File::open(path).map_err(|source| BenchmarkError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_reader(std::io::BufReader::new(file))
    }

    /// Read CSV text from any reader.
    pub fn from_reader(reader: impl Read) -> Result<Self, BenchmarkError> {
        let mut csv = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(reader);
        let mut rows = csv.records();
        let header = match rows.next() {
            Some(Ok(h)) => h,
            Some(Err(e)) => return Err(csv_error(1, e)),
            None => {
                return Err(BenchmarkError::Header {
                    found: String::new(),
                })
            }
        };
        if header.iter().ne(HEADER.iter().copied()) {
            return Err(BenchmarkError::Header {
                found: header.iter().collect::<Vec<_>>().join(","),
            });
        }
        let mut records = HashMap::new();
        for (k, row) in rows.enumerate() {
            let line = k as u64 + 2;
            let row = row.map_err(|e| csv_error(line, e))?;
            if row.len() != HEADER.len() {
                return Err(BenchmarkError::Csv {
                    line,
                    message: format!("expected {} fields, found {}", HEADER.len(), row.len()),
                });
            }
            let num = |col: usize| -> Result<f64, BenchmarkError> {
                let value = &row[col];
                value
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .ok_or_else(|| BenchmarkError::Number {
                        line,
                        column: HEADER[col],
                        value: value.to_string(),
                    })
            };
            let arch: Nb201Arch = row[1]
                .parse()
                .map_err(|source| BenchmarkError::Arch { line, source })?;
            let expected = arch.index();
            if row[0].trim().parse::<usize>().ok() != Some(expected) {
                return Err(BenchmarkError::IndexMismatch {
                    line,
                    index: row[0].to_string(),
                    expected,
                });
            }
            let metrics = |acc: usize, params: usize, flops: usize| -> Result<Metrics, _> {
                Ok(Metrics {
                    test_accuracy: num(acc)?,
                    valid_accuracy: None,
                    params: num(params)?,
                    flops: num(flops)?,
                })
            };
            let record = Record {
                arch,
                unique_str: row[2].to_string(),
                cifar10: metrics(3, 8, 11)?,
                cifar10_valid: Metrics {
                    valid_accuracy: Some(num(6)?),
                    ..metrics(7, 8, 11)?
                },
                cifar100: metrics(4, 9, 12)?,
                imagenet16_120: metrics(5, 10, 13)?,
            };
            if records.insert(expected, record).is_some() {
                return Err(BenchmarkError::Duplicate {
                    line,
                    index: expected,
                });
            }
        }
        Ok(Self { records })
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The row of `arch`, if the table holds it.
    pub fn record(&self, arch: &Nb201Arch) -> Option<&Record> {
        self.records.get(&arch.index())
    }

    /// Results of `arch` on `dataset`, if the table holds the arch.
    pub fn get(&self, arch: &Nb201Arch, dataset: Dataset) -> Option<&Metrics> {
        self.record(arch).map(|r| r.metrics(dataset))
    }

    /// All rows, in official index order.
    pub fn records(&self) -> Vec<&Record> {
        let mut rows: Vec<&Record> = self.records.values().collect();
        rows.sort_by_key(|r| r.arch.index());
        rows
    }
}

fn csv_error(line: u64, e: csv::Error) -> BenchmarkError {
    let line = e.position().map(|p| p.line()).unwrap_or(line);
    BenchmarkError::Csv {
        line,
        message: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROW1: &str = "1,|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|,x,93.66,70.29,44.03,90.77,90.51,0.802426,0.808276,0.809576,113.95137,113.95722,28.49548";

    fn table(rows: &[&str]) -> String {
        let mut s = HEADER.join(",");
        for r in rows {
            s.push('\n');
            s.push_str(r);
        }
        s
    }

    #[test]
    fn reads_a_subset() {
        let b = Nb201Benchmark::from_reader(table(&[ROW1]).as_bytes()).unwrap();
        let arch = Nb201Arch::from_index(1).unwrap();
        let m = b.get(&arch, Dataset::Cifar100).unwrap();
        assert_eq!(m.test_accuracy, 70.29);
        assert_eq!(
            b.get(&arch, Dataset::Cifar10Valid).unwrap().valid_accuracy,
            Some(90.77)
        );
        assert!(b
            .get(&Nb201Arch::from_index(2).unwrap(), Dataset::Cifar10)
            .is_none());
    }

    #[test]
    fn malformed_rows_name_their_line() {
        let bad_num = ROW1.replace("93.66", "nan?");
        let err = Nb201Benchmark::from_reader(table(&[ROW1, &bad_num]).as_bytes()).unwrap_err();
        assert!(
            matches!(
                err,
                BenchmarkError::Number {
                    line: 3,
                    column: "c10_test",
                    ..
                }
            ),
            "{err}"
        );
        let err = Nb201Benchmark::from_reader(table(&[ROW1, ROW1]).as_bytes()).unwrap_err();
        assert!(matches!(
            err,
            BenchmarkError::Duplicate { line: 3, index: 1 }
        ));
        let wrong_index = ROW1.replacen("1,", "2,", 1);
        let err = Nb201Benchmark::from_reader(table(&[&wrong_index]).as_bytes()).unwrap_err();
        assert!(matches!(
            err,
            BenchmarkError::IndexMismatch {
                line: 2,
                expected: 1,
                ..
            }
        ));
        let err = Nb201Benchmark::from_reader(table(&["1,2,3"]).as_bytes()).unwrap_err();
        assert!(matches!(err, BenchmarkError::Csv { line: 2, .. }));
        let err = Nb201Benchmark::from_reader("a,b\n".as_bytes()).unwrap_err();
        assert!(matches!(err, BenchmarkError::Header { .. }));
    }
}
