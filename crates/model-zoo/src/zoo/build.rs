//! Filling a zoo from a database plan: which runs ([`select_jobs`]) and the resumable builder
//! ([`build`]).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use burn::tensor::backend::{AutodiffBackend, Backend};
use datasets::{DataPaths, Task};
use search_space::cost;

use super::blob::{decode, encode};
use super::entry::{network_config, Evaluation, ZooEntry};
use super::error::ZooError;
use super::store::ZooWriter;
use crate::database::{RunKey, RunRecord};
use crate::plan::{Job, Role};
use crate::result::RunResult;
use crate::store::read_store;
use crate::{test_network, train_with_network};

/// Which runs of a plan a zoo takes.
#[derive(Clone, Debug, PartialEq)]
pub struct ZooSelection {
    /// Meta-training tasks to take. Tasks are taken in turn from the plan's meta-training
    /// groups (one task of each group, then the next of each, each group in plan order), so
    /// any number of tasks spreads over every group and domain.
    pub tasks: usize,
    /// Cells per task: spread evenly over the task's connected cells ranked by parameter
    /// count (ties by canonical id), from the smallest.
    pub cells_per_task: usize,
    /// Share of that ranking the picks spread over, from the smallest cell: 1.0 reaches the
    /// largest, 0.8 stops at the cell four fifths of the way up (leaving out the largest
    /// cells, and a fifth of the disk space).
    pub spread: f64,
}

impl Default for ZooSelection {
    /// 100 tasks, 5 cells per task, spread over the smaller 80% of each task's cells.
    fn default() -> Self {
        Self {
            tasks: 100,
            cells_per_task: 5,
            spread: 0.8,
        }
    }
}

/// The runs of `jobs` (a plan's, from [`Plan::jobs`](crate::plan::Plan::jobs)) that a zoo
/// takes under `selection`: meta-training jobs of seed 0 only, task-major in the order tasks
/// are taken (so any prefix of a build is spread over the groups). A task without a connected
/// cell is passed over.
pub fn select_jobs(jobs: &[Job], selection: &ZooSelection) -> Vec<Job> {
    // Tasks per group, each group's tasks in plan order, groups in plan order.
    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
    let mut by_task: BTreeMap<usize, Vec<&Job>> = BTreeMap::new();
    for job in jobs
        .iter()
        .filter(|j| j.role == Role::MetaTrain && j.seed == 0)
    {
        let runs = by_task.entry(job.task_index).or_default();
        if runs.is_empty() {
            match groups.iter_mut().find(|(name, _)| *name == job.group) {
                Some((_, tasks)) => tasks.push(job.task_index),
                None => groups.push((job.group.clone(), vec![job.task_index])),
            }
        }
        runs.push(job);
    }
    let mut order = Vec::new();
    let longest = groups.iter().map(|(_, t)| t.len()).max().unwrap_or(0);
    for round in 0..longest {
        order.extend(groups.iter().filter_map(|(_, tasks)| tasks.get(round)));
    }

    let mut out = Vec::new();
    let mut taken = 0;
    for task_index in order {
        if taken == selection.tasks {
            break;
        }
        let picks = pick_cells(&by_task[&task_index], selection);
        if !picks.is_empty() {
            taken += 1;
            out.extend(picks.into_iter().cloned());
        }
    }
    out
}

/// The cells of one task's runs that the zoo takes (see [`ZooSelection::cells_per_task`]).
fn pick_cells<'a>(runs: &[&'a Job], selection: &ZooSelection) -> Vec<&'a Job> {
    let mut ranked: Vec<(usize, usize, &Job)> = runs
        .iter()
        .filter(|j| j.arch.is_connected())
        .map(|j| {
            let config = j
                .protocol
                .macro_config(j.task.channels, j.task.classes.len());
            (
                cost::param_count(&j.arch, &config),
                j.arch.canonical_id(),
                *j,
            )
        })
        .collect();
    ranked.sort_by_key(|&(params, id, _)| (params, id));
    ranked.dedup_by_key(|r| r.1);
    let n = ranked.len();
    let k = selection.cells_per_task.min(n);
    if k == 0 {
        return Vec::new();
    }
    if k == 1 {
        return vec![ranked[0].2];
    }
    // The top rank the picks reach, at least k − 1 so that the k ranks are distinct: with a
    // step of at least one rank, rounding keeps them strictly increasing.
    let top = (((n - 1) as f64 * selection.spread.clamp(0.0, 1.0)).round() as usize)
        .max(k - 1)
        .min(n - 1);
    let step = top as f64 / (k - 1) as f64;
    (0..k)
        .map(|i| ranked[((i as f64 * step).round() as usize).min(n - 1)].2)
        .collect()
}

/// Options of [`build`].
#[derive(Clone, Debug, Default)]
pub struct ZooBuildOptions {
    /// Stop after this many new networks.
    pub limit: Option<usize>,
    /// Run stores to compare every re-trained run with (same key): the committed database,
    /// whose records a re-run on flex reproduces bit for bit.
    pub reference: Vec<PathBuf>,
}

/// What [`build`] did.
#[derive(Clone, Debug, Default)]
pub struct ZooBuildReport {
    /// Runs selected.
    pub selected: usize,
    /// Of those, already in the zoo with an intact blob.
    pub stored: usize,
    /// Entries whose blob was missing or did not match: re-trained.
    pub broken: usize,
    /// Networks added by this build.
    pub added: usize,
    /// Runs that diverged (no network to keep; not stored, tried again next time).
    pub diverged: usize,
    /// Runs that could not be trained (task not buildable, training refused or panicked).
    pub failed: usize,
    /// Added runs that a reference store also holds.
    pub compared: usize,
    /// Of those, the ones whose test accuracy and loss differ from the reference's bits.
    pub differ: Vec<String>,
}

/// What [`build`] reports as it goes.
#[derive(Debug)]
pub enum ZooEvent<'a> {
    /// Starting: `todo` runs to train (after the limit).
    Start {
        /// Runs to train.
        todo: usize,
    },
    /// An entry's blob is missing or does not match; the run is trained again.
    Broken {
        /// The problem.
        error: &'a ZooError,
    },
    /// A network was stored. `reference` is whether the run's test accuracy and loss equal a
    /// reference store's bit for bit, when one holds the run.
    Added {
        /// The new entry.
        entry: &'a ZooEntry,
        /// Comparison with the reference store.
        reference: Option<bool>,
    },
    /// A run gave no network.
    Skipped {
        /// The run.
        job: &'a Job,
        /// Why.
        reason: String,
    },
}

/// Trains the `jobs` (from [`select_jobs`]) that the zoo in `dir` lacks, on backend `B`, and
/// stores each network (blob, then index line) as soon as it is tested; resumable (an entry
/// with an intact blob is not trained again) and stoppable at any moment. Each network is
/// tested twice on its task: as trained (the run's metrics) and after the round trip through
/// the half-precision blob ([`ZooEntry::stored`]).
pub fn build<B: AutodiffBackend>(
    jobs: &[Job],
    dir: &Path,
    paths: &DataPaths,
    options: &ZooBuildOptions,
    device: &B::Device,
    progress: &mut dyn FnMut(ZooEvent<'_>),
) -> Result<ZooBuildReport, ZooError> {
    let (mut writer, zoo) = ZooWriter::open(dir)?;
    let mut report = ZooBuildReport {
        selected: jobs.len(),
        ..Default::default()
    };
    let mut done = std::collections::HashSet::new();
    for entry in zoo.entries() {
        match zoo.read_blob(entry) {
            Ok(_) => {
                done.insert(entry.key());
            }
            Err(error) => {
                report.broken += 1;
                progress(ZooEvent::Broken { error: &error });
            }
        }
    }
    let mut reference: HashMap<RunKey, RunResult> = HashMap::new();
    for store in &options.reference {
        let contents = read_store::<RunRecord>(store, &crate::database::runs_header())?;
        reference.extend(contents.records.into_iter().map(|r| (r.key(), r.result)));
    }
    let mut todo: Vec<&Job> = jobs
        .iter()
        .filter(|j| {
            let key = super::ZooKey::new(&j.task, j.arch, j.seed);
            let stored = done.contains(&key);
            report.stored += usize::from(stored);
            !stored
        })
        .collect();
    if let Some(limit) = options.limit {
        todo.truncate(limit);
    }
    progress(ZooEvent::Start { todo: todo.len() });

    let mut task: Option<(usize, Task)> = None;
    for job in todo {
        if task.as_ref().is_none_or(|(i, _)| *i != job.task_index) {
            task = match Task::build(&job.task, paths) {
                Ok(t) => Some((job.task_index, t)),
                Err(e) => {
                    report.failed += 1;
                    progress(ZooEvent::Skipped {
                        job,
                        reason: format!("the task cannot be built: {e}"),
                    });
                    None
                }
            };
        }
        let Some((_, built)) = &task else { continue };
        let trained = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            train_with_network::<B>(job.arch, built, &job.protocol, job.seed, device)
        }));
        let (result, network) = match trained {
            Ok(Ok((result, Some(network)))) => (result, network),
            Ok(Ok((_, None))) => {
                report.diverged += 1;
                progress(ZooEvent::Skipped {
                    job,
                    reason: "the run diverged".into(),
                });
                continue;
            }
            Ok(Err(e)) => {
                report.failed += 1;
                progress(ZooEvent::Skipped {
                    job,
                    reason: e.to_string(),
                });
                continue;
            }
            Err(_) => {
                report.failed += 1;
                progress(ZooEvent::Skipped {
                    job,
                    reason: "training panicked".into(),
                });
                continue;
            }
        };
        let (Some(test_accuracy), Some(test_loss)) = (result.test_accuracy, result.test_loss)
        else {
            report.diverged += 1;
            progress(ZooEvent::Skipped {
                job,
                reason: "the run has no test metrics".into(),
            });
            continue;
        };
        let bytes = encode(network)?;
        let config = network_config(job.arch, &job.protocol, &job.task);
        let stored = decode::<B::InnerBackend>(&bytes, &config, device)?;
        let (loss, accuracy) = test_network(&stored, built, &job.protocol)?;
        let entry = ZooEntry {
            group: job.group.clone(),
            role: job.role,
            task: job.task.clone(),
            arch: job.arch,
            seed: job.seed,
            protocol: job.protocol.clone(),
            trained: Evaluation {
                test_accuracy,
                test_loss,
            },
            stored: Evaluation {
                test_accuracy: accuracy,
                test_loss: loss,
            },
            param_count: result.param_count,
            cost: result.cost,
            weights: writer.write_blob(&bytes)?,
            wall_seconds: result.wall_seconds,
        };
        writer.append(&entry)?;
        report.added += 1;
        let same = reference
            .get(&RunKey::new(&job.task, &job.arch, &job.protocol, job.seed))
            .map(|r| {
                r.test_accuracy.map(f64::to_bits) == Some(test_accuracy.to_bits())
                    && r.test_loss.map(f64::to_bits) == Some(test_loss.to_bits())
            });
        if let Some(same) = same {
            report.compared += 1;
            if !same {
                report.differ.push(entry.describe());
            }
        }
        progress(ZooEvent::Added {
            entry: &entry,
            reference: same,
        });
    }
    Ok(report)
}

/// The size in bytes of the blob `job`'s network will have: the network is built untrained
/// and encoded (the layout, ids and metadata, hence the length, do not depend on the weights),
/// so a zoo's size is known before anything is trained.
pub fn blob_size<B: Backend>(job: &Job, device: &B::Device) -> Result<u64, ZooError> {
    let config = network_config(job.arch, &job.protocol, &job.task);
    config.validate().map_err(|source| ZooError::Config {
        entry: format!("{} {} seed {}", job.group, job.arch, job.seed),
        source,
    })?;
    Ok(encode(config.init::<B>(device))?.len() as u64)
}
