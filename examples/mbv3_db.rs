//! `mbv3_db`: the small MobileNetV3 database and the cost of its protocol.
//!
//! ```text
//! # cost of one MBv3 run vs one NB201 mini run on the same 32×32 RGB task, and the depthwise share
//! cargo run --release -p model-zoo --example mbv3_db -- measure --width 0.35 --runs 3
//! # train N OFA-sampled points on M meta-training tasks of the v2 database (resumable)
//! cargo run --release -p model-zoo --example mbv3_db -- build --tasks 8 --points 6 \
//!     --store crates/model-zoo/data/mbv3/runs.jsonl
//! ```
//! `--device cpu|wgpu[:N]|cuda[:N]` (default `cpu`, the flex backend; `wgpu` and `cuda` need the
//! matching cargo feature) picks the backend both subcommands train on. `$METANAS_DEVICE` is not
//! read: a record does not say which backend trained it, so the database leaves the CPU only
//! when the command line says so. The work is in `model_zoo::mbv3`; this file parses arguments
//! and prints.

use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use burn::tensor::backend::AutodiffBackend;
use clap::{Parser, Subcommand};
use datasets::{DataPaths, Task, TaskSpec};
use model_zoo::database::{self, BuildOptions, BuildReport, Progress, Trained};
use model_zoo::mbv3::{
    mbv3_runs_header, plan_jobs, profile_step, sample_points, source_tasks, train_mbv3, Mbv3Job,
    Mbv3Protocol, Mbv3RunRecord, SourceTask,
};
use model_zoo::plan::Role;
use model_zoo::{train, Protocol};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use search_space::device::{dispatch, DeviceSpec, WithBackend};
use search_space::{Mbv3Arch, Nb201Arch, NB201_SIZE};

#[derive(Parser)]
#[command(name = "mbv3_db", about = "Build the small MobileNetV3 database")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Backend and device to train on: cpu, wgpu, wgpu:N, cuda or cuda:N (wgpu and cuda need
    /// the matching cargo feature). `$METANAS_DEVICE` is not read: records do not say which
    /// backend trained them.
    #[arg(long, global = true, default_value_t = DeviceSpec::Cpu)]
    device: DeviceSpec,
}

#[derive(Subcommand)]
enum Command {
    /// Time MBv3 runs against NB201 mini runs on the same 32×32 RGB task, side by side, and
    /// the depthwise convolutions' share of an MBv3 training step.
    Measure {
        /// The NB201 run store the task is taken from.
        #[arg(long, default_value = "crates/model-zoo/data/v2/runs.jsonl")]
        source: PathBuf,
        /// Group prefix of the (RGB) task to measure on.
        #[arg(long, default_value = "train/photos")]
        group: String,
        /// MobileNetV3 width multipliers to try.
        #[arg(long, value_delimiter = ',', default_value = "0.35")]
        width: Vec<f64>,
        /// Runs of each kind (distinct architectures, seed 0).
        #[arg(long, default_value_t = 3)]
        runs: usize,
    },
    /// Train `points` OFA-sampled points on `tasks` meta-training tasks; skips stored runs.
    Build {
        /// The NB201 run store the tasks are taken from (role meta_train).
        #[arg(long, default_value = "crates/model-zoo/data/v2/runs.jsonl")]
        source: PathBuf,
        /// The MobileNetV3 store to fill.
        #[arg(long, default_value = "crates/model-zoo/data/mbv3/runs.jsonl")]
        store: PathBuf,
        /// Number of tasks (round-robin over the source's groups).
        #[arg(long, default_value_t = 8)]
        tasks: usize,
        /// Number of points, the same on every task.
        #[arg(long, default_value_t = 6)]
        points: usize,
        /// Seed of the points.
        #[arg(long, default_value_t = 0)]
        point_seed: u64,
        /// Training seeds per (task, point).
        #[arg(long, default_value_t = 1)]
        seeds: u64,
        /// Width multiplier.
        #[arg(long)]
        width: Option<f64>,
        /// Stop after this many new runs.
        #[arg(long)]
        limit: Option<usize>,
        /// Worker threads, each training one network at a time.
        #[arg(long, default_value_t = 1)]
        workers: usize,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// One line per stored run.
struct Log {
    start: Instant,
}

impl Progress<Mbv3Arch, Mbv3Protocol> for Log {
    fn start(&self, total: usize) {
        println!("{total} runs to do");
    }

    fn done(&self, r: &Mbv3RunRecord) {
        println!(
            "{:>7.0}s {} {} seed {}: acc {:?} ({:.1} s, {:.3} M params, {:.2} MMACs){}",
            self.start.elapsed().as_secs_f64(),
            r.group,
            r.arch,
            r.seed,
            r.result.test_accuracy,
            r.result.wall_seconds,
            r.result.cost.params,
            r.result.cost.flops,
            r.error
                .as_deref()
                .map(|e| format!(" error: {e}"))
                .unwrap_or_default()
        );
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// `measure` on the backend `--device` names.
struct Measure<'a> {
    /// The meta-training task of the source store (its NB201 protocol is the baseline's).
    source: &'a SourceTask,
    /// That task, built at 32×32.
    task: &'a Task,
    /// MobileNetV3 width multipliers.
    width: &'a [f64],
    /// Runs of each kind.
    runs: usize,
}

impl WithBackend for Measure<'_> {
    type Output = Result<(), Box<dyn Error>>;

    fn run<B: AutodiffBackend>(self, device: B::Device) -> Self::Output {
        let Measure {
            source: t,
            task,
            width,
            runs,
        } = self;
        let nb201 = Protocol {
            resolution: 32,
            ..t.protocol.clone()
        };
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let points = sample_points(runs, 0);
        let mut nb_times = Vec::new();
        let mut mb_times: Vec<Vec<f64>> = vec![Vec::new(); width.len()];
        for (i, point) in points.iter().enumerate() {
            let arch = Nb201Arch::from_index(rand::Rng::random_range(&mut rng, 0..NB201_SIZE))
                .ok_or("NB201 index out of range")?;
            let r = train::<B>(arch, task, &nb201, 0, &device)?;
            println!(
                "nb201 {arch}: {:.1} s, acc {:?}, {:.2} MFLOPs",
                r.wall_seconds, r.test_accuracy, r.cost.flops
            );
            nb_times.push(r.wall_seconds);
            for (w, &wm) in width.iter().enumerate() {
                let p = Mbv3Protocol::from_nb201(&t.protocol, wm, 32);
                let r = train_mbv3::<B>(*point, task, &p, 0, &device)?;
                println!(
                    "mbv3 w{wm} {point}: {:.1} s, acc {:?}, {:.3} M params, {:.2} MMACs",
                    r.wall_seconds, r.test_accuracy, r.cost.params, r.cost.flops
                );
                mb_times[w].push(r.wall_seconds);
                if i == 0 {
                    let prof =
                        profile_step::<B>(*point, &p, task.train.channels, task.way(), 3, &device)?;
                    println!(
                        "  step {:.3} s, depthwise {:.3} s: share {:.0}%",
                        prof.step_seconds,
                        prof.depthwise_seconds,
                        100.0 * prof.depthwise_share()
                    );
                }
            }
        }
        let nb = median(nb_times);
        println!("nb201 mini at 32px: median {nb:.1} s/run");
        for (w, times) in width.iter().zip(mb_times) {
            let mb = median(times);
            println!(
                "mbv3 width {w}: median {mb:.1} s/run, ratio to nb201 {:.2}",
                mb / nb
            );
        }
        Ok(())
    }
}

/// `build` on the backend `--device` names: the jobs the store lacks, each trained with
/// `train_mbv3` on backend `B` (on `cpu`, the flex backend of `train_mbv3_cpu`: the same
/// records bit for bit).
struct Build<'a> {
    jobs: Vec<Mbv3Job>,
    store: &'a Path,
    paths: &'a DataPaths,
    options: &'a BuildOptions,
    log: &'a Log,
}

impl WithBackend for Build<'_> {
    type Output = Result<BuildReport, database::DatabaseError>;

    fn run<B: AutodiffBackend>(self, device: B::Device) -> Self::Output {
        let device = &device;
        database::build_jobs(
            self.jobs,
            self.store,
            &mbv3_runs_header(),
            self.paths,
            self.options,
            self.log,
            |job, task| {
                train_mbv3::<B>(job.arch, task, &job.protocol, job.seed, device)
                    .map(|result| Trained {
                        result,
                        weights: None,
                    })
                    .map_err(|e| e.to_string())
            },
        )
    }
}

fn run(cli: Cli) -> Result<(), Box<dyn Error>> {
    // Before reading anything: a backend that is not compiled in is an error, not failed runs.
    let device = cli.device;
    device.check()?;
    if device != DeviceSpec::Cpu {
        println!("device: {device}");
    }
    let paths = DataPaths::from_env();
    match cli.command {
        Command::Measure {
            source,
            group,
            width,
            runs,
        } => {
            // The first task of each of the v2 database's eight meta-training groups.
            let tasks = source_tasks(&source, Role::MetaTrain, 8)?;
            let t = tasks
                .iter()
                .find(|t| t.group.starts_with(&group))
                .ok_or_else(|| {
                    format!(
                        "no meta-training task of group `{group}*` in {}",
                        source.display()
                    )
                })?;
            let spec = TaskSpec {
                resolution: 32,
                ..t.spec.clone()
            };
            let task = Task::build(&spec, &paths)?;
            println!(
                "task {} ({}-way, {} train images, {} channels, 32×32)",
                t.group,
                task.way(),
                task.train.len(),
                task.train.channels
            );
            let job = Measure {
                source: t,
                task: &task,
                width: &width,
                runs,
            };
            dispatch(&device, job)??;
        }
        Command::Build {
            source,
            store,
            tasks,
            points,
            point_seed,
            seeds,
            width,
            limit,
            workers,
        } => {
            if device != DeviceSpec::Cpu {
                eprintln!(
                    "the records will not say they were trained on {device}: keep this store \
                     apart from CPU builds"
                );
            }
            let width = width.unwrap_or(Mbv3Protocol::mini().width_mult);
            let tasks = source_tasks(&source, Role::MetaTrain, tasks)?;
            let points = sample_points(points, point_seed);
            let seeds: Vec<u64> = (0..seeds).collect();
            let jobs = plan_jobs(&tasks, &points, &seeds, width, 32);
            let options = BuildOptions {
                workers,
                limit,
                ..BuildOptions::default()
            };
            let log = Log {
                start: Instant::now(),
            };
            let job = Build {
                jobs,
                store: &store,
                paths: &paths,
                options: &options,
                log: &log,
            };
            let report = dispatch(&device, job)??;
            println!(
                "{}: {} planned, {} already stored, {} trained ({} failed or diverged), {} corrupt lines, {:.0} s",
                store.display(),
                report.planned,
                report.skipped,
                report.ran,
                report.failed,
                report.corrupt.len(),
                log.start.elapsed().as_secs_f64()
            );
        }
    }
    Ok(())
}
