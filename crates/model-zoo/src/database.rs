//! The database of training runs: records, the resumable and shardable builder, and merging.
//!
//! A record is one (task spec, arch, protocol, seed) with its [`RunResult`], stored in a
//! [`store`](crate::store) file. Records, keys, jobs and the builder are generic over the
//! architecture and its protocol: NB201 cells under [`Protocol`] by default, MobileNetV3 points
//! under [`Mbv3Protocol`](crate::mbv3::Mbv3Protocol) in [`crate::mbv3`], each space in its own
//! store format. The builder expands a [`Plan`] into jobs, skips those whose key
//! is already stored, runs the rest on a few worker threads and appends each result durably as
//! it finishes. `--shard i/n` keeps the (task, arch) pairs whose plan position is `i` modulo
//! `n`, so `n` processes or machines fill disjoint parts; [`merge`] joins their stores.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use datasets::{DataPaths, Task, TaskSpec};
use search_space::Nb201Arch;
use serde::{Deserialize, Serialize};

use crate::plan::{Job, Plan, PlanError, Role};
use crate::protocol::Protocol;
use crate::result::{RunResult, RunStatus};
use crate::store::{read_store, write_store, CorruptLine, StoreError, StoreHeader, StoreWriter};

/// The header of a run store.
pub fn runs_header() -> StoreHeader {
    StoreHeader {
        format: "metanas-runs".into(),
        version: 1,
    }
}

/// One training run in the database: an NB201 cell under [`Protocol`] by default, or another
/// space's architecture `A` under its protocol `P`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRecord<A = Nb201Arch, P = Protocol> {
    /// The plan group it belongs to.
    pub group: String,
    /// Meta-training or meta-test.
    pub role: Role,
    /// The task, rebuildable with `Task::build`.
    pub task: TaskSpec,
    /// The architecture.
    pub arch: A,
    /// The training seed.
    pub seed: u64,
    /// The protocol it was trained with.
    pub protocol: P,
    /// The outcome.
    pub result: RunResult<A>,
    /// Content address (SHA-256, hex) of the trained weights, when they were kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<String>,
    /// Why the run failed, for [`crate::RunStatus::Failed`] records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The SIMD level of the CPU that built the record ([`cpu_simd_level`]), `None` in
    /// records from before it was kept (session 11). Burn's flex kernels pick their vector
    /// width at run time, so a CPU run's sums, and after many SGD steps its accuracy, repeat
    /// bit for bit only on a CPU of the same level (docs/database.md, "Reproducing a record").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_simd: Option<String>,
}

/// The widest SIMD level this CPU offers among those Burn's flex kernels dispatch to at run
/// time (through `macerator`): `x86-64-v4` (AVX-512 F/BW/CD/DQ/VL), `x86-64-v3` (AVX2, FMA,
/// BMI, F16C), `x86-64-v2`, `x86-64`; on other architectures the architecture's name
/// (`aarch64`, ...).
pub fn cpu_simd_level() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        let v2 = has!("sse4.2") && has!("ssse3") && has!("popcnt");
        let v3 = v2
            && has!("avx")
            && has!("avx2")
            && has!("bmi1")
            && has!("bmi2")
            && has!("fma")
            && has!("lzcnt")
            && has!("f16c");
        let v4 = v3
            && has!("avx512f")
            && has!("avx512bw")
            && has!("avx512cd")
            && has!("avx512dq")
            && has!("avx512vl");
        match (v4, v3, v2) {
            (true, _, _) => "x86-64-v4",
            (_, true, _) => "x86-64-v3",
            (_, _, true) => "x86-64-v2",
            _ => "x86-64",
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        std::env::consts::ARCH
    }
}

/// Identity of a run: two records with the same key are the same experiment.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RunKey(String);

impl RunKey {
    /// The key of a run.
    pub fn new<A: Serialize, P: Serialize>(
        task: &TaskSpec,
        arch: &A,
        protocol: &P,
        seed: u64,
    ) -> Self {
        // serde_json is deterministic for these types (structs and vectors, no maps).
        let text = serde_json::to_string(&(task, arch, protocol, seed))
            .expect("task, arch and protocol serialise");
        RunKey(text)
    }
}

impl<A: Serialize, P: Serialize> RunRecord<A, P> {
    /// This record's key.
    pub fn key(&self) -> RunKey {
        RunKey::new(&self.task, &self.arch, &self.protocol, self.seed)
    }
}

impl<A, P> RunRecord<A, P> {
    /// Checks the values a reader relies on: accuracy in `[0, 1]`, finite loss and time.
    pub fn check(&self) -> Result<(), String> {
        let r = &self.result;
        if let Some(a) = r.test_accuracy.filter(|a| !(0.0..=1.0).contains(a)) {
            return Err(format!("test accuracy {a} is outside [0, 1]"));
        }
        if let Some(l) = r.test_loss.filter(|l| l.is_nan() || *l < 0.0) {
            return Err(format!("test loss {l} is negative or NaN"));
        }
        if !(r.wall_seconds.is_finite() && r.wall_seconds >= 0.0) {
            return Err(format!(
                "wall time {} is not a finite non-negative number",
                r.wall_seconds
            ));
        }
        Ok(())
    }
}

impl<A: Serialize, P: Serialize> Job<A, P> {
    /// This job's key.
    pub fn key(&self) -> RunKey {
        RunKey::new(&self.task, &self.arch, &self.protocol, self.seed)
    }
}

/// Why a build or merge failed.
#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    /// The store could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The plan could not be expanded.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// A shard argument is not `i/n` with `i < n`.
    #[error("bad shard `{0}`: expected i/n with 0 <= i < n")]
    Shard(String),
    /// Two stores disagree on the protocol of a group.
    /// `merge` was given no input.
    #[error("merge needs at least one input store")]
    NoInputs,
    /// Merging would leave `out` with fewer records than it holds now.
    #[error("{}: holds {existing} records, the merge would write {merged}; list it among the inputs to keep them, or pass --force to replace it", out.display())]
    WouldShrink {
        /// The output store.
        out: PathBuf,
        /// Valid records in it now.
        existing: usize,
        /// Records the merge would write.
        merged: usize,
    },
    #[error("incompatible stores: group `{group}` was trained with different protocols")]
    Incompatible {
        /// The group.
        group: String,
    },
    /// Weights could not be written.
    #[error("cannot save weights in {path}: {message}")]
    Weights {
        /// Directory.
        path: PathBuf,
        /// Cause.
        message: String,
    },
}

/// Part `index` of `count` equal parts of a plan's (task, arch) pairs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// This shard, `0..count`.
    pub index: usize,
    /// Number of shards.
    pub count: usize,
}

impl Shard {
    /// The whole plan.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// Whether this shard owns (task, arch) pair number `unit`.
    pub fn owns(&self, unit: usize) -> bool {
        unit % self.count == self.index
    }
}

impl std::str::FromStr for Shard {
    type Err = DatabaseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || DatabaseError::Shard(s.to_string());
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let index: usize = i.trim().parse().map_err(|_| bad())?;
        let count: usize = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

/// What a training run of one job produced.
pub struct Trained<A = Nb201Arch> {
    /// The result.
    pub result: RunResult<A>,
    /// Serialised weights, when asked for.
    pub weights: Option<Vec<u8>>,
}

/// Options of [`build`].
#[derive(Clone, Debug)]
pub struct BuildOptions {
    /// Which part of the plan to run.
    pub shard: Shard,
    /// Worker threads (each trains one network at a time).
    pub workers: usize,
    /// Keep each trained network's weights in this directory, named by content hash.
    pub save_weights: Option<PathBuf>,
    /// Stop after this many new runs.
    pub limit: Option<usize>,
    /// Other stores whose records count as done (e.g. the committed database).
    pub done: Vec<PathBuf>,
    /// Run only groups whose name starts with one of these prefixes; empty = all groups.
    pub groups: Vec<String>,
    /// Run only seeds `0..=max_seed`; `None` = all seeds.
    pub max_seed: Option<u64>,
}

impl Default for BuildOptions {
    fn default() -> Self {
        Self {
            shard: Shard::ALL,
            workers: 1,
            save_weights: None,
            limit: None,
            done: Vec::new(),
            groups: Vec::new(),
            max_seed: None,
        }
    }
}

/// What a build did.
#[derive(Clone, Debug, Default)]
pub struct BuildReport {
    /// Jobs of the plan in this shard.
    pub planned: usize,
    /// Jobs already stored before the build.
    pub skipped: usize,
    /// Runs trained and stored by this build.
    pub ran: usize,
    /// Of those, runs that diverged or failed.
    pub failed: usize,
    /// Corrupt lines found in the store (reported, left in place).
    pub corrupt: Vec<CorruptLine>,
}

/// Progress events for a front end (progress bar, logs).
pub trait Progress<A = Nb201Arch, P = Protocol>: Sync {
    /// Called once with the number of runs to do.
    fn start(&self, total: usize);
    /// Called after each stored run.
    fn done(&self, record: &RunRecord<A, P>);
}

impl<A, P> Progress<A, P> for () {
    fn start(&self, _: usize) {}
    fn done(&self, _: &RunRecord<A, P>) {}
}

/// Run the jobs of `plan` (in `options.shard`) that `store` does not hold, appending each result
/// to `store` as soon as it is known. `train` trains one job; it is called from worker threads.
pub fn build<F>(
    plan: &Plan,
    store: &Path,
    paths: &DataPaths,
    options: &BuildOptions,
    progress: &dyn Progress,
    train: F,
) -> Result<BuildReport, DatabaseError>
where
    F: Fn(&Job, &Task) -> Result<Trained, String> + Sync,
{
    let jobs = plan.jobs(paths)?;
    build_jobs(jobs, store, &runs_header(), paths, options, progress, train)
}

/// [`build`] for any space: runs the `jobs` (in `options.shard`, `options.groups` and
/// `options.max_seed`) that the store at `store` (of format `header`) and `options.done` do not
/// hold, on `options.workers` threads, appending each record durably as soon as it is known.
/// A task that cannot be built, or a training run that panics or refuses to start, is stored
/// as a failed run with its reason and retried by the next build.
pub fn build_jobs<A, P, F>(
    jobs: Vec<Job<A, P>>,
    store: &Path,
    header: &StoreHeader,
    paths: &DataPaths,
    options: &BuildOptions,
    progress: &dyn Progress<A, P>,
    train: F,
) -> Result<BuildReport, DatabaseError>
where
    A: Clone + Send + Sync + Serialize + serde::de::DeserializeOwned,
    P: Clone + Send + Sync + Serialize + serde::de::DeserializeOwned,
    F: Fn(&Job<A, P>, &Task) -> Result<Trained<A>, String> + Sync,
{
    let (mut writer, contents) = StoreWriter::<RunRecord<A, P>>::open(store, header)?;
    // A run counts as done unless it failed for a reason outside training (e.g. its task could
    // not be built): those are retried. Diverged runs are results and stay done.
    let finished = |r: &&RunRecord<A, P>| r.result.status != RunStatus::Failed;
    let mut done: HashSet<RunKey> = contents
        .records
        .iter()
        .filter(finished)
        .map(RunRecord::key)
        .collect();
    for other in &options.done {
        if other.exists() {
            let c = read_store::<RunRecord<A, P>>(other, header)?;
            done.extend(c.records.iter().filter(finished).map(RunRecord::key));
        }
    }
    let jobs: Vec<Job<A, P>> = jobs
        .into_iter()
        .filter(|j| options.shard.owns(j.unit))
        .filter(|j| {
            options.groups.is_empty() || options.groups.iter().any(|g| j.group.starts_with(g))
        })
        .filter(|j| options.max_seed.is_none_or(|m| j.seed <= m))
        .collect();
    let mut report = BuildReport {
        planned: jobs.len(),
        corrupt: contents.corrupt,
        ..Default::default()
    };
    let mut todo: Vec<Job<A, P>> = jobs
        .into_iter()
        .filter(|j| !done.contains(&j.key()))
        .collect();
    // Build order: seed-major, and within a seed the meta-test groups first. Every prefix of a
    // build is then a usable database: one ground-truth ranking per meta-test dataset early,
    // the whole meta-training set next, and extra meta-test seeds (noise reduction) last.
    todo.sort_by_key(|j| (j.seed, j.role != Role::MetaTest, j.unit));
    report.skipped = report.planned - todo.len();
    if let Some(limit) = options.limit {
        todo.truncate(limit);
    }
    progress.start(todo.len());
    if todo.is_empty() {
        return Ok(report);
    }
    if let Some(dir) = &options.save_weights {
        std::fs::create_dir_all(dir).map_err(|e| DatabaseError::Weights {
            path: dir.clone(),
            message: e.to_string(),
        })?;
    }

    // Queue runs in chunks of one task, so a worker builds the task once per chunk, and a big
    // task (a meta-test dataset with thousands of runs) still spreads over all workers.
    const CHUNK: usize = 16;
    let mut by_task: Vec<Vec<Job<A, P>>> = Vec::new();
    for job in todo {
        match by_task.last_mut() {
            Some(last) if last[0].task_index == job.task_index && last.len() < CHUNK => {
                last.push(job)
            }
            _ => by_task.push(vec![job]),
        }
    }
    let queue = Arc::new(Mutex::new(by_task.into_iter()));
    let (tx, rx) = mpsc::channel::<Result<RunRecord<A, P>, DatabaseError>>();
    let workers = options.workers.max(1);
    let save_weights = options.save_weights.clone();
    std::thread::scope(|scope| -> Result<(), DatabaseError> {
        for _ in 0..workers {
            let queue = Arc::clone(&queue);
            let tx = tx.clone();
            let train = &train;
            let save_weights = save_weights.clone();
            scope.spawn(move || loop {
                // Workers catch their panics (below), so the lock is never poisoned; were it
                // poisoned anyway, the queue itself is still sound.
                let next = queue.lock().unwrap_or_else(|e| e.into_inner()).next();
                let Some(jobs) = next else {
                    return;
                };
                let task = match Task::build(&jobs[0].task, paths) {
                    Ok(t) => t,
                    Err(e) => {
                        // A task that cannot be built fails all its runs, recorded as failures.
                        for job in &jobs {
                            let _ = tx.send(Ok(failed_record(job, &e.to_string())));
                        }
                        continue;
                    }
                };
                for job in jobs {
                    // A panic inside one training run (a bug, an assertion in a kernel) fails
                    // that run, recorded with its message and retried by the next build; the
                    // other runs go on.
                    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        train(&job, &task)
                    }))
                    .unwrap_or_else(|panic| {
                        Err(format!("training panicked: {}", panic_text(panic.as_ref())))
                    });
                    let record = match outcome {
                        Ok(trained) => {
                            let weights = match (&save_weights, trained.weights) {
                                (Some(dir), Some(bytes)) => match save_blob(dir, &bytes) {
                                    Ok(hash) => Some(hash),
                                    Err(e) => {
                                        let _ = tx.send(Err(e));
                                        return;
                                    }
                                },
                                _ => None,
                            };
                            Ok(RunRecord {
                                group: job.group.clone(),
                                role: job.role,
                                task: job.task.clone(),
                                arch: job.arch.clone(),
                                seed: job.seed,
                                protocol: job.protocol.clone(),
                                result: trained.result,
                                weights,
                                error: None,
                                cpu_simd: Some(cpu_simd_level().to_string()),
                            })
                        }
                        Err(message) => Ok(failed_record(&job, &message)),
                    };
                    if tx.send(record).is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);
        for record in rx {
            let record = record?;
            writer.append(&record)?;
            report.ran += 1;
            if !record.result.is_ok() {
                report.failed += 1;
            }
            progress.done(&record);
        }
        Ok(())
    })?;
    Ok(report)
}

/// The message of a caught panic (`panic!` with a string literal or a formatted string).
fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_string())
}

fn failed_record<A: Clone, P: Clone>(job: &Job<A, P>, message: &str) -> RunRecord<A, P> {
    RunRecord {
        group: job.group.clone(),
        role: job.role,
        task: job.task.clone(),
        arch: job.arch.clone(),
        seed: job.seed,
        protocol: job.protocol.clone(),
        result: RunResult::failed(job.arch.clone(), job.seed),
        weights: None,
        error: Some(message.to_string()),
        cpu_simd: Some(cpu_simd_level().to_string()),
    }
}

/// Write `bytes` to `dir/<sha256>.bin` (atomically, once) and return the hash.
fn save_blob(dir: &Path, bytes: &[u8]) -> Result<String, DatabaseError> {
    use sha2::{Digest, Sha256};
    let hash: String = Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let path = dir.join(format!("{hash}.bin"));
    if !path.exists() {
        let tmp = dir.join(format!("{hash}.partial"));
        let err = |e: std::io::Error| DatabaseError::Weights {
            path: dir.to_path_buf(),
            message: e.to_string(),
        };
        std::fs::write(&tmp, bytes).map_err(err)?;
        std::fs::rename(&tmp, &path).map_err(err)?;
    }
    Ok(hash)
}

/// Read every record of the stores at `paths`.
pub fn load(paths: &[PathBuf]) -> Result<Vec<RunRecord>, DatabaseError> {
    let mut out = Vec::new();
    for p in paths {
        out.extend(read_store::<RunRecord>(p, &runs_header())?.records);
    }
    Ok(out)
}

/// What [`merge`] did.
#[derive(Clone, Debug, Default)]
pub struct MergeReport {
    /// Records written.
    pub records: usize,
    /// Duplicates dropped (same key; the first one read is kept).
    pub duplicates: usize,
    /// Corrupt lines skipped, per input.
    pub corrupt: Vec<(PathBuf, CorruptLine)>,
}

/// Merge run stores into `out` (atomically): de-duplicate by key, and refuse stores whose records
/// of one group were trained under different protocols. Records whose values are out of range
/// (see [`RunRecord::check`]) are skipped as corrupt. An existing `out` is never replaced by a
/// smaller store unless `force` is set.
pub fn merge(inputs: &[PathBuf], out: &Path, force: bool) -> Result<MergeReport, DatabaseError> {
    if inputs.is_empty() {
        return Err(DatabaseError::NoInputs);
    }
    let mut report = MergeReport::default();
    let mut seen = HashSet::new();
    let mut protocols: HashMap<String, Protocol> = HashMap::new();
    let mut records = Vec::new();
    for input in inputs {
        let c = read_store::<RunRecord>(input, &runs_header())?;
        report
            .corrupt
            .extend(c.corrupt.into_iter().map(|l| (input.clone(), l)));
        for (r, line) in c.records.into_iter().zip(c.lines) {
            if let Err(message) = r.check() {
                report
                    .corrupt
                    .push((input.clone(), CorruptLine { line, message }));
                continue;
            }
            match protocols.get(&r.group) {
                Some(p) if *p != r.protocol => {
                    return Err(DatabaseError::Incompatible { group: r.group });
                }
                Some(_) => {}
                None => {
                    protocols.insert(r.group.clone(), r.protocol.clone());
                }
            }
            if seen.insert(r.key()) {
                records.push(r);
            } else {
                report.duplicates += 1;
            }
        }
    }
    report.records = records.len();
    if !force && out.exists() {
        let existing = read_store::<RunRecord>(out, &runs_header())?.records.len();
        if existing > records.len() {
            return Err(DatabaseError::WouldShrink {
                out: out.to_path_buf(),
                existing,
                merged: records.len(),
            });
        }
    }
    write_store(out, &runs_header(), &records)?;
    Ok(report)
}
