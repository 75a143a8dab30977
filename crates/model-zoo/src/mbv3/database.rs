//! The MobileNetV3 database: records, the plan of (task, point) runs, and the resumable builder.
//!
//! Records are stored like NB201 runs ([`crate::store`]: JSON Lines, a versioned header, one
//! fsynced line per run, a crashed tail cut on reopening, one writer at a time) under their own
//! format name, `metanas-mbv3-runs`, so neither reader mistakes one database for the other.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use datasets::{DataPaths, Task, TaskSpec};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use search_space::Mbv3Arch;
use serde::{Deserialize, Serialize};

use super::protocol::Mbv3Protocol;
use crate::database::{runs_header, RunRecord};
use crate::plan::Role;
use crate::result::{RunResult, RunStatus};
use crate::store::{read_store, CorruptLine, StoreError, StoreHeader, StoreWriter};

/// The header of a MobileNetV3 run store.
pub fn mbv3_runs_header() -> StoreHeader {
    StoreHeader {
        format: "metanas-mbv3-runs".into(),
        version: 1,
    }
}

/// One MobileNetV3 training run in the database, keyed like an NB201
/// [`RunRecord`]: (task spec, architecture, protocol, seed).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Mbv3RunRecord {
    /// The group of the task (the NB201 group it was taken from, e.g. `train/photos-10w50s16`).
    pub group: String,
    /// Meta-training or meta-test.
    pub role: Role,
    /// The task, rebuildable with `Task::build`.
    pub task: TaskSpec,
    /// The architecture (its text form in JSON).
    pub arch: Mbv3Arch,
    /// The training seed.
    pub seed: u64,
    /// The protocol it was trained with.
    pub protocol: Mbv3Protocol,
    /// The outcome: accuracy, loss, wall time, parameters and multiply-adds.
    pub result: RunResult<Mbv3Arch>,
    /// Why the run failed, for [`RunStatus::Failed`] records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Identity of a MobileNetV3 run: two records with the same key are the same experiment.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Mbv3RunKey(String);

impl Mbv3RunKey {
    /// The key of a run.
    pub fn new(task: &TaskSpec, arch: &Mbv3Arch, protocol: &Mbv3Protocol, seed: u64) -> Self {
        // serde_json is deterministic for these types (structs and vectors, no maps).
        let text = serde_json::to_string(&(task, arch, protocol, seed))
            .expect("task, arch and protocol serialise");
        Mbv3RunKey(text)
    }
}

impl Mbv3RunRecord {
    /// This record's key.
    pub fn key(&self) -> Mbv3RunKey {
        Mbv3RunKey::new(&self.task, &self.arch, &self.protocol, self.seed)
    }
}

/// One run to do: a point on a task under a protocol with a seed.
#[derive(Clone, Debug, PartialEq)]
pub struct Mbv3Job {
    /// The task's group.
    pub group: String,
    /// The task's role.
    pub role: Role,
    /// Position of the task in the plan (jobs of one task are consecutive).
    pub task_index: usize,
    /// The task, at the protocol's resolution.
    pub task: TaskSpec,
    /// The point.
    pub arch: Mbv3Arch,
    /// The protocol.
    pub protocol: Mbv3Protocol,
    /// The seed.
    pub seed: u64,
}

impl Mbv3Job {
    /// This job's key.
    pub fn key(&self) -> Mbv3RunKey {
        Mbv3RunKey::new(&self.task, &self.arch, &self.protocol, self.seed)
    }
}

/// A task taken from an NB201 database, with the protocol it was trained under there.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceTask {
    /// Its group in the NB201 database.
    pub group: String,
    /// Its role there.
    pub role: Role,
    /// Its spec (at the NB201 resolution).
    pub spec: TaskSpec,
    /// The NB201 protocol of its runs.
    pub protocol: crate::Protocol,
}

/// Why the MobileNetV3 database could not be planned or built.
#[derive(Debug, thiserror::Error)]
pub enum Mbv3DatabaseError {
    /// A store could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The NB201 database holds fewer distinct tasks of the role than asked for.
    #[error("{}: holds {found} distinct {role:?} tasks, {wanted} were asked for; ask for at most {found}", path.display())]
    TooFewTasks {
        /// The NB201 store.
        path: PathBuf,
        /// The role.
        role: Role,
        /// Distinct tasks found.
        found: usize,
        /// Tasks asked for.
        wanted: usize,
    },
}

/// The first `count` distinct tasks of `role` in the NB201 run store at `path`, taken
/// round-robin over its groups (sorted by name) so that every source is represented early: the
/// first task of each group, then the second of each, and so on.
pub fn source_tasks(
    path: &Path,
    role: Role,
    count: usize,
) -> Result<Vec<SourceTask>, Mbv3DatabaseError> {
    let contents = read_store::<RunRecord>(path, &runs_header())?;
    let mut groups: Vec<(String, Vec<SourceTask>)> = Vec::new();
    let mut seen = HashSet::new();
    for r in contents.records.into_iter().filter(|r| r.role == role) {
        let text = serde_json::to_string(&r.task).map_err(StoreError::from)?;
        if !seen.insert(text) {
            continue;
        }
        let task = SourceTask {
            group: r.group.clone(),
            role: r.role,
            spec: r.task,
            protocol: r.protocol,
        };
        match groups.iter_mut().find(|(g, _)| *g == r.group) {
            Some((_, tasks)) => tasks.push(task),
            None => groups.push((r.group, vec![task])),
        }
    }
    groups.sort_by(|a, b| a.0.cmp(&b.0));
    let found = seen.len();
    if found < count {
        return Err(Mbv3DatabaseError::TooFewTasks {
            path: path.to_path_buf(),
            role,
            found,
            wanted: count,
        });
    }
    let mut picked = Vec::with_capacity(count);
    let mut round = 0;
    while picked.len() < count {
        for (_, tasks) in &groups {
            if let Some(t) = tasks.get(round) {
                if picked.len() < count {
                    picked.push(t.clone());
                }
            }
        }
        round += 1;
    }
    Ok(picked)
}

/// `count` points drawn with OFA's sampler ([`Mbv3Arch::sample_ofa`]) from `seed`, without
/// repeats.
pub fn sample_points(count: usize, seed: u64) -> Vec<Mbv3Arch> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut seen = HashSet::new();
    let mut points = Vec::with_capacity(count);
    while points.len() < count {
        let arch = Mbv3Arch::sample_ofa(&mut rng);
        if seen.insert(arch) {
            points.push(arch);
        }
    }
    points
}

/// Every (task, point, seed) job: each task is rebuilt at the MobileNetV3 protocol's resolution
/// and trained with [`Mbv3Protocol::from_nb201`] of its NB201 protocol, at `width_mult` and
/// `resolution` (so the schedule — epochs, minimum steps — is the one its NB201 runs had).
/// Jobs are task-major, then point, then seed.
pub fn plan_jobs(
    tasks: &[SourceTask],
    points: &[Mbv3Arch],
    seeds: &[u64],
    width_mult: f64,
    resolution: usize,
) -> Vec<Mbv3Job> {
    let mut jobs = Vec::with_capacity(tasks.len() * points.len() * seeds.len());
    for (task_index, t) in tasks.iter().enumerate() {
        let task = TaskSpec {
            resolution,
            ..t.spec.clone()
        };
        let protocol = Mbv3Protocol::from_nb201(&t.protocol, width_mult, resolution);
        for arch in points {
            for &seed in seeds {
                jobs.push(Mbv3Job {
                    group: t.group.clone(),
                    role: t.role,
                    task_index,
                    task: task.clone(),
                    arch: *arch,
                    protocol: protocol.clone(),
                    seed,
                });
            }
        }
    }
    jobs
}

/// What a build did.
#[derive(Clone, Debug, Default)]
pub struct Mbv3BuildReport {
    /// Jobs given.
    pub planned: usize,
    /// Jobs already stored before the build (skipped).
    pub skipped: usize,
    /// Runs trained and stored by this build.
    pub ran: usize,
    /// Of those, runs that diverged or failed.
    pub failed: usize,
    /// Corrupt lines found in the store (reported, left in place).
    pub corrupt: Vec<CorruptLine>,
}

/// Runs the `jobs` that the store at `store` does not hold yet, in order, appending each record
/// durably as soon as it is known; at most `limit` new runs. Resumable: a killed build loses at
/// most the run in flight. A task is built once for its consecutive jobs; a task that cannot be
/// built, or a run that cannot start, is stored as [`RunStatus::Failed`] with the reason and is
/// retried by the next build (diverged runs are results and are not). `train` trains one job on
/// its built task; `done` is told about each stored record (for progress).
pub fn build_mbv3<F>(
    jobs: &[Mbv3Job],
    store: &Path,
    paths: &DataPaths,
    limit: Option<usize>,
    mut train: F,
    mut done: impl FnMut(&Mbv3RunRecord),
) -> Result<Mbv3BuildReport, Mbv3DatabaseError>
where
    F: FnMut(&Mbv3Job, &Task) -> Result<RunResult<Mbv3Arch>, String>,
{
    let (mut writer, contents) = StoreWriter::<Mbv3RunRecord>::open(store, &mbv3_runs_header())?;
    let stored: HashSet<Mbv3RunKey> = contents
        .records
        .iter()
        .filter(|r| r.result.status != RunStatus::Failed)
        .map(Mbv3RunRecord::key)
        .collect();
    let todo: Vec<&Mbv3Job> = jobs
        .iter()
        .filter(|j| !stored.contains(&j.key()))
        .take(limit.unwrap_or(usize::MAX))
        .collect();
    let mut report = Mbv3BuildReport {
        planned: jobs.len(),
        skipped: jobs.iter().filter(|j| stored.contains(&j.key())).count(),
        corrupt: contents.corrupt,
        ..Default::default()
    };
    let mut built: Option<(usize, Result<Task, String>)> = None;
    for job in todo {
        if built.as_ref().is_none_or(|(i, _)| *i != job.task_index) {
            let task = Task::build(&job.task, paths).map_err(|e| e.to_string());
            built = Some((job.task_index, task));
        }
        let task = &built.as_ref().expect("built above").1;
        let outcome = match task {
            Ok(task) => train(job, task),
            Err(e) => Err(format!("cannot build the task: {e}")),
        };
        let (result, error) = match outcome {
            Ok(result) => (result, None),
            Err(e) => (RunResult::failed(job.arch, job.seed), Some(e)),
        };
        let record = Mbv3RunRecord {
            group: job.group.clone(),
            role: job.role,
            task: job.task.clone(),
            arch: job.arch,
            seed: job.seed,
            protocol: job.protocol.clone(),
            result,
            error,
        };
        writer.append(&record)?;
        report.ran += 1;
        if !record.result.is_ok() {
            report.failed += 1;
        }
        done(&record);
    }
    Ok(report)
}

/// Reads every valid record of a MobileNetV3 store.
pub fn read_mbv3_runs(path: &Path) -> Result<Vec<Mbv3RunRecord>, StoreError> {
    Ok(read_store::<Mbv3RunRecord>(path, &mbv3_runs_header())?.records)
}
