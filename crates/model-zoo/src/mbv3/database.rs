//! The MobileNetV3 database: the plan of (task, point) runs over tasks of an NB201 database.
//!
//! Records, jobs and the resumable, multi-worker builder are the NB201 database's
//! ([`RunRecord`], [`Job`], [`build_jobs`](crate::database::build_jobs)) with a MobileNetV3 point and protocol; the
//! store has its own format name, `metanas-mbv3-runs`, so neither reader mistakes one database
//! for the other.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use datasets::TaskSpec;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use search_space::Mbv3Arch;

use super::protocol::Mbv3Protocol;
use crate::database::{runs_header, RunRecord};
use crate::plan::{Job, Role};
use crate::store::{read_store, StoreError, StoreHeader};

/// The header of a MobileNetV3 run store.
pub fn mbv3_runs_header() -> StoreHeader {
    StoreHeader {
        format: "metanas-mbv3-runs".into(),
        version: 1,
    }
}

/// One MobileNetV3 training run: the database's [`RunRecord`] with a MobileNetV3 point and
/// protocol, keyed (task spec, point, protocol, seed) like an NB201 run.
pub type Mbv3RunRecord = RunRecord<Mbv3Arch, Mbv3Protocol>;

/// One MobileNetV3 run to do, built by [`build_jobs`](crate::database::build_jobs) like an
/// NB201 job.
pub type Mbv3Job = Job<Mbv3Arch, Mbv3Protocol>;

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
        let text = r.task.key();
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
/// Jobs are task-major, then point, then seed; a (task, point) pair is one shard unit.
pub fn plan_jobs(
    tasks: &[SourceTask],
    points: &[Mbv3Arch],
    seeds: &[u64],
    width_mult: f64,
    resolution: usize,
) -> Vec<Mbv3Job> {
    let mut jobs = Vec::with_capacity(tasks.len() * points.len() * seeds.len());
    let mut unit = 0;
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
                    unit,
                    task: task.clone(),
                    arch: *arch,
                    protocol: protocol.clone(),
                    seed,
                });
            }
            unit += 1;
        }
    }
    jobs
}

/// Reads every valid record of a MobileNetV3 store.
pub fn read_mbv3_runs(path: &Path) -> Result<Vec<Mbv3RunRecord>, StoreError> {
    Ok(read_store::<Mbv3RunRecord>(path, &mbv3_runs_header())?.records)
}
