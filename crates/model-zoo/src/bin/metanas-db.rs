//! `metanas-db`: build, resume, shard, merge and inspect the database of training runs.
//!
//! ```text
//! metanas-db build  --plan crates/model-zoo/data/plan.json --store runs.jsonl [--shard 0/4] [--workers 2] [--device wgpu]
//! metanas-db merge  --out crates/model-zoo/data/runs.jsonl a.jsonl b.jsonl ...
//! metanas-db status --plan crates/model-zoo/data/plan.json crates/model-zoo/data/runs.jsonl
//! metanas-db study  runs.jsonl [--nb201 path/to/nb201_groundtruth.csv]
//! metanas-db plan   --nb201 path/to/nb201_groundtruth.csv [--out crates/model-zoo/data]
//! metanas-db analyze crates/model-zoo/data/v2/runs.jsonl --panel crates/model-zoo/data/v2/plan.json
//! metanas-db compare a.jsonl b.jsonl
//! metanas-db zoo    --plan crates/model-zoo/data/v2/plan.json --out crates/model-zoo/data/zoo [--tasks 100] [--cells-per-task 5] [--limit N] [--device cpu]
//! metanas-db zoo-status crates/model-zoo/data/zoo
//! ```
//! The binary only parses arguments and prints; the work is in `model_zoo::database`.
//!
//! `build --device cpu|wgpu[:N]|cuda[:N]` (default `cpu`, the flex backend; `wgpu` and `cuda`
//! need the matching cargo feature) picks the backend it trains on, through
//! `search_space::device` (`metanas::device`). Unlike the `metanas` CLI it does not read
//! `$METANAS_DEVICE`: a record does not say which backend trained it, so a build leaves the CPU
//! only when its command line says so. `zoo` takes `--device` the same way. A closed stdout (`metanas-db status ... | head`) ends the
//! program quietly with status 0.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Instant;

use burn::tensor::backend::AutodiffBackend;
use clap::{Parser, Subcommand};
use datasets::DataPaths;
use indicatif::{ProgressBar, ProgressStyle};
use model_zoo::database::{
    self, BuildOptions, BuildReport, DatabaseError, Progress, RunRecord, Shard, Trained,
};
use model_zoo::plan::Plan;
use model_zoo::presets;
use model_zoo::stats::{spearman, task_signal};
use model_zoo::zoo::{self, Zoo, ZooBuildOptions, ZooEvent, ZooSelection};
use search_space::benchmark::{Dataset, Nb201Benchmark};
use search_space::device::{dispatch, DeviceSpec, WithBackend};

#[derive(Parser)]
#[command(
    name = "metanas-db",
    about = "Build and inspect the metanas database of training runs"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write the shipped plans (protocol study and database) as JSON.
    Plan {
        /// Output folder.
        #[arg(long, default_value = "crates/model-zoo/data")]
        out: PathBuf,
        /// NAS-Bench-201 table, for the known good cells.
        #[arg(long)]
        nb201: PathBuf,
    },
    /// Run the plan's missing jobs, appending each result to the store as it finishes.
    Build {
        /// The plan (JSON).
        #[arg(long)]
        plan: PathBuf,
        /// The store to append to (created if missing).
        #[arg(long)]
        store: PathBuf,
        /// Run only part i of n of the plan's (task, arch) pairs (`i/n`; all seeds of a pair stay together).
        #[arg(long, default_value = "0/1")]
        shard: Shard,
        /// Worker threads, each training one network at a time.
        #[arg(long, default_value_t = 1)]
        workers: usize,
        /// Stop after this many new runs.
        #[arg(long)]
        limit: Option<usize>,
        /// Stores whose records count as done (e.g. the committed database).
        #[arg(long)]
        done: Vec<PathBuf>,
        /// Run only groups whose name starts with one of these (e.g. `test/`).
        #[arg(long)]
        groups: Vec<String>,
        /// Run only seeds up to this one (e.g. 3: the first four meta-test seeds).
        #[arg(long)]
        max_seed: Option<u64>,
        /// Keep each trained network's weights in this folder as `<sha256>.bin` (a Burn
        /// full-precision binary record of the tested network), named by the record's `weights`.
        #[arg(long)]
        save_weights: Option<PathBuf>,
        /// Backend and device to train on: cpu, wgpu, wgpu:N, cuda or cuda:N (wgpu and cuda
        /// need the matching cargo feature). `$METANAS_DEVICE` is not read: records do not say
        /// which backend trained them.
        #[arg(long, default_value_t = DeviceSpec::Cpu)]
        device: DeviceSpec,
    },
    /// Merge stores into one, de-duplicating runs and checking that protocols agree.
    Merge {
        /// Output store (written atomically).
        #[arg(long)]
        out: PathBuf,
        /// Input stores.
        inputs: Vec<PathBuf>,
        /// Replace `--out` even if the merge holds fewer records than it does now.
        #[arg(long)]
        force: bool,
    },
    /// Count records per group, and what a plan still lacks.
    Status {
        /// A plan to compare against.
        #[arg(long)]
        plan: Option<PathBuf>,
        /// Stores.
        stores: Vec<PathBuf>,
    },
    /// Signal and noise per task: SNR, seeds needed for SNR 3, Spearman vs NAS-Bench-201.
    Study {
        /// Stores.
        stores: Vec<PathBuf>,
        /// NAS-Bench-201 table for the rank correlation with CIFAR-10.
        #[arg(long)]
        nb201: Option<PathBuf>,
    },
    /// The signal report: composition, seed noise, split-half reliability, cross-task
    /// agreement, task × cell interaction share, regret of trivial picks (markdown).
    Analyze {
        /// The store.
        store: PathBuf,
        /// Panel cells: a JSON array of NB201 cell strings, or a plan with a `panel` field
        /// (default: the cells measured on every meta-test task).
        #[arg(long)]
        panel: Option<PathBuf>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Seed of the random splits and bootstraps.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// Build or extend the model zoo: re-train chosen meta-training runs of a plan with their
    /// weights kept (half precision, named by SHA-256), each tested as trained and as stored;
    /// resumable (entries with an intact blob are skipped).
    Zoo {
        /// The database plan (JSON) whose meta-training runs the zoo takes.
        #[arg(long)]
        plan: PathBuf,
        /// The zoo folder (index.jsonl and blobs/; created if missing).
        #[arg(long)]
        out: PathBuf,
        /// Meta-training tasks, taken in turn from the plan's meta-training groups.
        #[arg(long, default_value_t = ZooSelection::default().tasks)]
        tasks: usize,
        /// Cells per task, spread over the task's connected cells ranked by parameters.
        #[arg(long, default_value_t = ZooSelection::default().cells_per_task)]
        cells_per_task: usize,
        /// Share of each task's ranking (from the smallest cell) the picks spread over.
        #[arg(long, default_value_t = ZooSelection::default().spread)]
        spread: f64,
        /// Stop after this many new networks.
        #[arg(long)]
        limit: Option<usize>,
        /// Run stores to compare each re-trained run with (bit for bit on cpu), e.g. the
        /// committed database.
        #[arg(long)]
        reference: Vec<PathBuf>,
        /// Backend and device to train on: cpu, wgpu, wgpu:N, cuda or cuda:N (not read from
        /// `$METANAS_DEVICE`).
        #[arg(long, default_value_t = DeviceSpec::Cpu)]
        device: DeviceSpec,
        /// List what would be trained and the zoo's size once built; train nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// What a zoo holds: entries, tasks, bytes per network, accuracy as trained (f32) against
    /// as stored (f16); checks every blob's length and SHA-256.
    ZooStatus {
        /// The zoo folder.
        zoo: PathBuf,
    },
    /// Two builds of the same runs side by side (another backend, kernel or machine): per
    /// group, the paired difference B − A of test accuracy against the seed noise of A.
    Compare {
        /// Build A (the reference): a store.
        a: PathBuf,
        /// Build B: a store with (some of) the same runs.
        b: PathBuf,
        /// Print the comparison as JSON.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        // `metanas-db status ... | head`: the reader has what it wanted.
        Ok(()) | Err(Failure::ClosedStdout) => ExitCode::SUCCESS,
        Err(Failure::Error(e)) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Why `metanas-db` stops before the end.
#[derive(Debug)]
enum Failure {
    /// An error to report.
    Error(String),
    /// Stdout was closed by its reader (a broken pipe): nothing more to print.
    ClosedStdout,
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Failure::Error(message)
    }
}

/// Writes to stdout, flushed; a closed pipe is [`Failure::ClosedStdout`] instead of the panic
/// of `print!`.
fn write_stdout(text: std::fmt::Arguments<'_>) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    out.write_fmt(text)
        .and_then(|()| out.flush())
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::BrokenPipe => Failure::ClosedStdout,
            _ => Failure::Error(format!("cannot write to stdout: {e}")),
        })
}

/// `print!` that returns [`Failure::ClosedStdout`] from the enclosing function when stdout is
/// closed.
macro_rules! out {
    ($($arg:tt)*) => {
        write_stdout(format_args!($($arg)*))?
    };
}

/// `println!` that returns [`Failure::ClosedStdout`] from the enclosing function when stdout
/// is closed.
macro_rules! outln {
    ($($arg:tt)*) => {
        write_stdout(format_args!("{}\n", format_args!($($arg)*)))?
    };
}

fn read_plan(path: &PathBuf) -> Result<Plan, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// A progress bar on a terminal; a log line every 25 runs otherwise (background builds).
struct Report {
    bar: Option<ProgressBar>,
    start: Instant,
    total: Mutex<(usize, usize)>,
}

impl Progress for Report {
    fn start(&self, total: usize) {
        self.total.lock().expect("lock").1 = total;
        if let Some(bar) = &self.bar {
            bar.set_length(total as u64);
        } else {
            eprintln!("{total} runs to do");
        }
    }

    fn done(&self, r: &RunRecord) {
        let mut t = self.total.lock().expect("lock");
        t.0 += 1;
        let acc = r.result.test_accuracy.unwrap_or(f64::NAN);
        if let Some(bar) = &self.bar {
            bar.inc(1);
            bar.set_message(format!("{} acc {acc:.3}", r.group));
        } else if t.0.is_multiple_of(25) || t.0 == t.1 {
            let el = self.start.elapsed().as_secs_f64();
            let eta = el / t.0 as f64 * (t.1 - t.0) as f64;
            eprintln!(
                "{}/{} runs, {:.0} runs/h, eta {:.0} min",
                t.0,
                t.1,
                t.0 as f64 / el * 3600.0,
                eta / 60.0
            );
        }
    }
}

/// `build`'s training on the backend `--device` names: the plan's missing jobs, each trained
/// with `model_zoo::train` (`train_with_weights` when weights are kept) on backend `B`. On
/// `cpu` this is the flex backend of `model_zoo::train_cpu`, so records are bit-identical to
/// the ones it builds.
struct BuildOn<'a> {
    plan: &'a Plan,
    store: &'a Path,
    paths: &'a DataPaths,
    options: &'a BuildOptions,
    progress: &'a Report,
}

impl WithBackend for BuildOn<'_> {
    type Output = Result<BuildReport, DatabaseError>;

    fn run<B: AutodiffBackend>(self, device: B::Device) -> Self::Output {
        let keep = self.options.save_weights.is_some();
        let device = &device;
        database::build(
            self.plan,
            self.store,
            self.paths,
            self.options,
            self.progress,
            |job, task| {
                if keep {
                    model_zoo::train_with_weights::<B>(
                        job.arch,
                        task,
                        &job.protocol,
                        job.seed,
                        device,
                    )
                    .map(|(result, weights)| Trained { result, weights })
                } else {
                    model_zoo::train::<B>(job.arch, task, &job.protocol, job.seed, device).map(
                        |result| Trained {
                            result,
                            weights: None,
                        },
                    )
                }
                .map_err(|e| e.to_string())
            },
        )
    }
}

/// `zoo`'s work on the backend `--device` names: the selected runs' projected size
/// (`--dry-run`) or the build.
struct ZooOn<'a> {
    jobs: &'a [model_zoo::plan::Job],
    out: &'a Path,
    paths: &'a DataPaths,
    options: &'a ZooBuildOptions,
    dry_run: bool,
}

impl WithBackend for ZooOn<'_> {
    type Output = Result<(), Failure>;

    fn run<B: AutodiffBackend>(self, device: B::Device) -> Self::Output {
        if self.dry_run {
            return zoo_dry_run::<B>(self.jobs, &device);
        }
        let start = Instant::now();
        let mut added = 0usize;
        let mut todo = 0usize;
        let mut on_event = |event: ZooEvent<'_>| match event {
            ZooEvent::Start { todo: n } => {
                todo = n;
                eprintln!("{n} networks to train into {}", self.out.display());
            }
            ZooEvent::Broken { error } => eprintln!("warning: {error}"),
            ZooEvent::Skipped { job, reason } => eprintln!(
                "warning: {} {} seed {}: no network stored: {reason}",
                job.group, job.arch, job.seed
            ),
            ZooEvent::Added { entry, reference } => {
                added += 1;
                let el = start.elapsed().as_secs_f64();
                let check = match reference {
                    Some(true) => ", = reference",
                    Some(false) => ", DIFFERS from the reference",
                    None => "",
                };
                eprintln!(
                    "{added}/{todo} {} {} ({} params): acc {:.4} f32, {:.4} f16, {:.1} s{check}; {:.0} networks/h, eta {:.0} min",
                    entry.group,
                    entry.arch,
                    entry.param_count,
                    entry.trained.test_accuracy,
                    entry.stored.test_accuracy,
                    entry.wall_seconds,
                    added as f64 / el * 3600.0,
                    el / added as f64 * (todo - added) as f64 / 60.0
                );
            }
        };
        let report = zoo::build::<B>(
            self.jobs,
            self.out,
            self.paths,
            self.options,
            &device,
            &mut on_event,
        )
        .map_err(|e| e.to_string())?;
        outln!(
            "selected {} runs: {} already in the zoo, {} added now, {} re-trained for a broken \
             blob, {} diverged, {} failed; {} compared with the reference, {} differ",
            report.selected,
            report.stored,
            report.added,
            report.broken,
            report.diverged,
            report.failed,
            report.compared,
            report.differ.len()
        );
        for d in &report.differ {
            eprintln!("warning: {d}: differs from the reference store");
        }
        Ok(())
    }
}

/// `zoo --dry-run`: the selected runs per group and the blob bytes they will take.
fn zoo_dry_run<B: AutodiffBackend>(
    jobs: &[model_zoo::plan::Job],
    device: &B::Device,
) -> Result<(), Failure> {
    let mut groups: BTreeMap<&str, (std::collections::BTreeSet<usize>, usize, u64)> =
        BTreeMap::new();
    let mut total = 0u64;
    for job in jobs {
        let bytes = zoo::blob_size::<B::InnerBackend>(job, device).map_err(|e| e.to_string())?;
        let g = groups.entry(&job.group).or_default();
        g.0.insert(job.task_index);
        g.1 += 1;
        g.2 += bytes;
        total += bytes;
    }
    outln!("group\ttasks\tnetworks\tblob MB");
    for (name, (tasks, n, bytes)) in &groups {
        outln!("{name}\t{}\t{n}\t{:.2}", tasks.len(), *bytes as f64 / 1e6);
    }
    let tasks: usize = groups.values().map(|g| g.0.len()).sum();
    outln!(
        "{} networks over {tasks} tasks: {:.2} MB of blobs ({:.1} KB per network)",
        jobs.len(),
        total as f64 / 1e6,
        total as f64 / 1e3 / jobs.len().max(1) as f64
    );
    Ok(())
}

/// `zoo-status`: counts, sizes, f32 against f16 accuracy, blob checks.
fn zoo_status(dir: &Path) -> Result<(), Failure> {
    let zoo = Zoo::open(dir).map_err(|e| e.to_string())?;
    for c in zoo.corrupt_lines() {
        eprintln!(
            "warning: {}: line {}: {}",
            dir.join(zoo::INDEX_FILE).display(),
            c.line,
            c.message
        );
    }
    let entries = zoo.entries();
    let check = zoo.check();
    let mut groups: BTreeMap<&str, (std::collections::BTreeSet<String>, usize)> = BTreeMap::new();
    for e in entries {
        let g = groups.entry(&e.group).or_default();
        g.0.insert(e.task.key());
        g.1 += 1;
    }
    outln!("group\ttasks\tnetworks");
    for (name, (tasks, n)) in &groups {
        outln!("{name}\t{}\t{n}", tasks.len());
    }
    let tasks: std::collections::BTreeSet<String> = entries.iter().map(|e| e.task.key()).collect();
    let n = entries.len().max(1) as f64;
    outln!(
        "{} networks over {} tasks; blobs {:.2} MB ({:.1} KB per network), index {:.2} MB, total {:.2} MB",
        entries.len(),
        tasks.len(),
        check.blob_bytes as f64 / 1e6,
        check.blob_bytes as f64 / 1e3 / n,
        check.index_bytes as f64 / 1e6,
        (check.blob_bytes + check.index_bytes) as f64 / 1e6
    );
    if !entries.is_empty() {
        let params: Vec<usize> = entries.iter().map(|e| e.param_count).collect();
        let delta: Vec<f64> = entries
            .iter()
            .map(|e| e.stored.test_accuracy - e.trained.test_accuracy)
            .collect();
        let loss: Vec<f64> = entries
            .iter()
            .map(|e| e.stored.test_loss - e.trained.test_loss)
            .collect();
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let max_abs = |v: &[f64]| v.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        let abs: Vec<f64> = delta.iter().map(|d| d.abs()).collect();
        outln!(
            "parameters {}–{}; training time {:.2} CPU-hours",
            params.iter().min().unwrap_or(&0),
            params.iter().max().unwrap_or(&0),
            entries.iter().map(|e| e.wall_seconds).sum::<f64>() / 3600.0
        );
        outln!(
            "test accuracy stored (f16) − trained (f32): mean {:+.3} pp, mean |Δ| {:.3} pp, max |Δ| {:.3} pp, unchanged in {} of {}; test loss: mean {:+.5}, max |Δ| {:.5}",
            100.0 * mean(&delta),
            100.0 * mean(&abs),
            100.0 * max_abs(&delta),
            delta.iter().filter(|d| **d == 0.0).count(),
            entries.len(),
            mean(&loss),
            max_abs(&loss)
        );
    }
    outln!(
        "blobs: {} intact, {} with problems, {} orphans",
        check.ok,
        check.problems.len(),
        check.orphans.len()
    );
    for p in &check.problems {
        eprintln!("error: {p}");
    }
    for o in &check.orphans {
        eprintln!("orphan: {}", o.display());
    }
    if check.problems.is_empty() {
        Ok(())
    } else {
        Err(Failure::Error(format!(
            "{} blobs are missing or do not match",
            check.problems.len()
        )))
    }
}

fn run(cli: Cli) -> Result<(), Failure> {
    let paths = DataPaths::from_env();
    match cli.command {
        Command::Plan { out, nb201 } => {
            let bench = Nb201Benchmark::from_path(&nb201).map_err(|e| e.to_string())?;
            let good = presets::good_cells(&bench, 30);
            let panel = presets::panel_cells(&good, 70, 20261202);
            std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
            for (file, plan) in [
                ("study-plan.json", presets::study_plan()),
                ("plan.json", presets::database_plan(good)),
                ("v2/plan.json", presets::database_plan_v2(panel)),
            ] {
                let path = out.join(file);
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
                }
                let text = serde_json::to_string_pretty(&plan).expect("plans serialise");
                std::fs::write(&path, text + "\n")
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                let jobs = plan.jobs(&paths).map_err(|e| e.to_string())?;
                outln!("wrote {} ({} runs)", path.display(), jobs.len());
            }
            Ok(())
        }
        Command::Build {
            plan,
            store,
            shard,
            workers,
            limit,
            done,
            save_weights,
            groups,
            max_seed,
            device,
        } => {
            // Before reading anything: a backend that is not compiled in, or CUDA without a
            // driver, is an error, not failed runs in the store.
            device.check().map_err(|e| e.to_string())?;
            if device != DeviceSpec::Cpu {
                eprintln!(
                    "training on {device}: the records will not say so; keep this store apart \
                     from CPU builds and compare the two with `metanas-db compare`"
                );
            }
            let plan = read_plan(&plan)?;
            let bar = std::io::stderr().is_terminal().then(|| {
                let b = ProgressBar::new(0);
                b.set_style(
                    ProgressStyle::with_template(
                        "{bar:40} {pos}/{len} runs  {elapsed} elapsed, eta {eta}  {msg}",
                    )
                    .expect("valid template"),
                );
                b
            });
            let progress = Report {
                bar,
                start: Instant::now(),
                total: Mutex::new((0, 0)),
            };
            let options = BuildOptions {
                shard,
                workers,
                save_weights,
                limit,
                done,
                groups,
                max_seed,
            };
            let job = BuildOn {
                plan: &plan,
                store: &store,
                paths: &paths,
                options: &options,
                progress: &progress,
            };
            let report = dispatch(&device, job)
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
            if let Some(bar) = &progress.bar {
                bar.finish();
            }
            for c in &report.corrupt {
                eprintln!(
                    "warning: {}: line {}: {}",
                    store.display(),
                    c.line,
                    c.message
                );
            }
            outln!(
                "planned {} runs in shard {}/{}: {} already stored, {} trained now ({} failed)",
                report.planned,
                shard.index,
                shard.count,
                report.skipped,
                report.ran,
                report.failed
            );
            Ok(())
        }
        Command::Merge { out, inputs, force } => {
            let r = database::merge(&inputs, &out, force).map_err(|e| e.to_string())?;
            for (p, c) in &r.corrupt {
                eprintln!(
                    "warning: {}: line {} skipped: {}",
                    p.display(),
                    c.line,
                    c.message
                );
            }
            outln!(
                "wrote {} records to {} ({} duplicates dropped)",
                r.records,
                out.display(),
                r.duplicates
            );
            Ok(())
        }
        Command::Status { plan, stores } => {
            let mut records = Vec::new();
            for store in &stores {
                let c = model_zoo::store::read_store::<RunRecord>(store, &database::runs_header())
                    .map_err(|e| e.to_string())?;
                for l in &c.corrupt {
                    eprintln!(
                        "warning: {}: line {}: {}",
                        store.display(),
                        l.line,
                        l.message
                    );
                }
                for (r, line) in c.records.into_iter().zip(c.lines) {
                    match r.check() {
                        Ok(()) => records.push(r),
                        Err(m) => eprintln!("warning: {}: line {line}: {m}", store.display()),
                    }
                }
            }
            let mut groups: BTreeMap<&str, (usize, usize, Vec<&datasets::TaskSpec>)> =
                BTreeMap::new();
            for r in &records {
                let g = groups.entry(&r.group).or_default();
                g.0 += 1;
                g.1 += usize::from(!r.result.is_ok());
                if !g.2.contains(&&r.task) {
                    g.2.push(&r.task);
                }
            }
            outln!("group\truns\tfailed\ttasks");
            for (name, (runs, failed, tasks)) in &groups {
                outln!("{name}\t{runs}\t{failed}\t{}", tasks.len());
            }
            if let Some(plan) = plan {
                let plan = read_plan(&plan)?;
                let jobs = plan.jobs(&paths).map_err(|e| e.to_string())?;
                let have: std::collections::HashSet<_> = records.iter().map(|r| r.key()).collect();
                let missing = jobs.iter().filter(|j| !have.contains(&j.key())).count();
                outln!("plan: {} runs, {} missing", jobs.len(), missing);
            }
            Ok(())
        }
        Command::Study { stores, nb201 } => {
            let records = database::load(&stores).map_err(|e| e.to_string())?;
            let bench = nb201
                .map(|p| Nb201Benchmark::from_path(&p).map_err(|e| e.to_string()))
                .transpose()?;
            let mut tasks: BTreeMap<(String, String), Vec<&RunRecord>> = BTreeMap::new();
            for r in &records {
                let key = r.task.key();
                tasks.entry((r.group.clone(), key)).or_default().push(r);
            }
            outln!("| group | task | archs | seeds | s/run (median) | mean acc (range) | r | SNR 1 seed | SNR recorded | seeds for SNR 3 | Spearman vs NB201-C10 |");
            outln!("|---|---|---|---|---|---|---|---|---|---|---|");
            for ((group, _), runs) in &tasks {
                let Some(s) = task_signal(runs) else { continue };
                let rho = bench.as_ref().and_then(|b| {
                    let (ours, theirs): (Vec<f64>, Vec<f64>) = s
                        .per_arch
                        .iter()
                        .filter_map(|(a, acc)| {
                            b.get(a, Dataset::Cifar10).map(|m| (*acc, m.test_accuracy))
                        })
                        .unzip();
                    spearman(&ours, &theirs)
                });
                let t = &runs[0].task;
                outln!(
                    "| {group} | {}-way {}px {}+{}/class | {} | {} | {:.2} | {:.3} ({:.3}–{:.3}) | {:.2} | {:.2} | {:.2} | {} | {} |",
                    t.classes.len(),
                    t.resolution,
                    t.train_per_class,
                    t.test_per_class,
                    s.archs,
                    s.seeds,
                    s.median_seconds,
                    s.mean_accuracy,
                    s.range.0,
                    s.range.1,
                    s.r,
                    s.snr_at(1),
                    s.snr,
                    s.seeds_for(3.0),
                    rho.map_or("–".into(), |r| format!("{r:.2}")),
                );
            }
            Ok(())
        }
        Command::Analyze {
            store,
            panel,
            json,
            seed,
        } => analyze(&store, panel.as_ref(), json, seed),
        Command::Zoo {
            plan,
            out,
            tasks,
            cells_per_task,
            spread,
            limit,
            reference,
            device,
            dry_run,
        } => {
            device.check().map_err(|e| e.to_string())?;
            let plan = read_plan(&plan)?;
            let jobs = plan.jobs(&paths).map_err(|e| e.to_string())?;
            let selection = ZooSelection {
                tasks,
                cells_per_task,
                spread,
            };
            let jobs = zoo::select_jobs(&jobs, &selection);
            let options = ZooBuildOptions { limit, reference };
            let job = ZooOn {
                jobs: &jobs,
                out: &out,
                paths: &paths,
                options: &options,
                dry_run,
            };
            dispatch(&device, job).map_err(|e| e.to_string())?
        }
        Command::ZooStatus { zoo } => zoo_status(&zoo),
        Command::Compare { a, b, json } => {
            let a = database::load(std::slice::from_ref(&a)).map_err(|e| e.to_string())?;
            let b = database::load(std::slice::from_ref(&b)).map_err(|e| e.to_string())?;
            let comparison = model_zoo::compare::compare(&a, &b);
            if json {
                let text = serde_json::to_string_pretty(&comparison).expect("reports serialise");
                outln!("{text}");
            } else {
                out!("{comparison}");
            }
            Ok(())
        }
    }
}

/// `metanas-db analyze`: read the store (and panel), print the report.
fn analyze(store: &PathBuf, panel: Option<&PathBuf>, json: bool, seed: u64) -> Result<(), Failure> {
    use model_zoo::analysis::{self, AnalyzeOptions};
    let records = database::load(std::slice::from_ref(store)).map_err(|e| e.to_string())?;
    let panel = panel
        .map(|p| {
            let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
            analysis::parse_panel(&text).map_err(|e| format!("{}: {e}", p.display()))
        })
        .transpose()?;
    let options = AnalyzeOptions {
        seed,
        ..AnalyzeOptions::default()
    };
    let report = analysis::analyze(&records, panel.as_deref(), &options);
    if json {
        let text = serde_json::to_string_pretty(&report).expect("reports serialise");
        outln!("{text}");
    } else {
        out!("{report}");
    }
    Ok(())
}
