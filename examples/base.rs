//! `base`: meta-train BASE on the database's meta-training tasks, and adapt it to the
//! meta-test sets beside the same supernet searched from scratch.
//!
//! ```text
//! # meta-train (resumable: run the same command again after a kill; a checkpoint every 25)
//! cargo run --release --example base -- meta-train --out target/base --tasks 60 --iterations 800
//! # adapt to every meta-test set of the database, 50 steps, against the from-scratch search
//! cargo run --release --example base -- adapt --bundle target/base --steps 50
//! # the same with a faster cell distribution at adaptation only
//! cargo run --release --example base -- adapt --bundle target/base --steps 50 --arch-lr 0.03
//! ```
//!
//! Tasks are the v2 database's (`crates/model-zoo/data/v2/runs.jsonl`), taken round-robin over
//! its groups and rebuilt at the config's resolution with 3 channels (a grayscale source's
//! plane is repeated). `--device cpu|wgpu[:N]|cuda[:N]` picks the backend (default:
//! `$METANAS_DEVICE`, else `cpu`). The work is in `metanas::base`; this file parses arguments
//! and prints.

use std::collections::BTreeMap;
use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use burn::tensor::backend::AutodiffBackend;
use clap::{Parser, Subcommand};
use datasets::{DataPaths, Task, TaskSpec};
use metanas::base::{Base, BaseConfig};
use metanas::device::{dispatch, DeviceSpec, WithBackend};
use model_zoo::database::{load, RunRecord};
use model_zoo::mbv3::source_tasks;
use model_zoo::plan::Role;
use search_space::Nb201Arch;

#[derive(Parser)]
#[command(about = "Meta-train BASE and adapt it to the meta-test sets")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// The run database the tasks come from.
    #[arg(
        long,
        default_value = "crates/model-zoo/data/v2/runs.jsonl",
        global = true
    )]
    database: PathBuf,
    /// `cpu`, `wgpu[:N]` or `cuda[:N]` (default: `$METANAS_DEVICE`, else `cpu`).
    #[arg(long, global = true)]
    device: Option<DeviceSpec>,
}

#[derive(Subcommand)]
enum Command {
    /// Meta-train into `--out`, resuming from the bundle there if any.
    MetaTrain {
        /// Bundle folder (created; also the checkpoint).
        #[arg(long)]
        out: PathBuf,
        /// Meta-training tasks, round-robin over the database's meta-training groups.
        #[arg(long, default_value_t = 60)]
        tasks: usize,
        /// Meta-training iterations (a new bundle only; a resumed one keeps its config).
        #[arg(long, default_value_t = 800)]
        iterations: usize,
        /// Save a checkpoint every this many iterations.
        #[arg(long, default_value_t = 25)]
        checkpoint_every: usize,
        /// Seed of a new bundle.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Inner steps per iteration (a new bundle only).
        #[arg(long)]
        inner_steps: Option<usize>,
        /// Adam learning rate of the cell distribution in the inner loop (a new bundle only).
        #[arg(long)]
        arch_lr: Option<f64>,
        /// SGD learning rate of the supernet weights in the inner loop (a new bundle only).
        #[arg(long)]
        weight_lr: Option<f64>,
    },
    /// Adapt the bundle and a from-scratch supernet to each meta-test set.
    Adapt {
        /// The bundle folder.
        #[arg(long)]
        bundle: PathBuf,
        /// Adaptation steps.
        #[arg(long, default_value_t = 50)]
        steps: usize,
        /// Adaptation seed.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Adam learning rate of the cell distribution at adaptation (default: the bundle's).
        #[arg(long)]
        arch_lr: Option<f64>,
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

fn run(cli: Cli) -> Result<(), Box<dyn Error>> {
    let device = DeviceSpec::resolve(cli.device)?;
    match cli.command {
        Command::MetaTrain {
            out,
            tasks,
            iterations,
            checkpoint_every,
            seed,
            inner_steps,
            arch_lr,
            weight_lr,
        } => dispatch(
            &device,
            MetaTrain {
                database: &cli.database,
                out: &out,
                tasks,
                config: {
                    let d = BaseConfig::default();
                    BaseConfig {
                        meta_iterations: iterations,
                        seed,
                        inner_steps: inner_steps.unwrap_or(d.inner_steps),
                        arch_lr: arch_lr.unwrap_or(d.arch_lr),
                        weight_lr: weight_lr.unwrap_or(d.weight_lr),
                        ..d
                    }
                },
                checkpoint_every: checkpoint_every.max(1),
            },
        )?,
        Command::Adapt {
            bundle,
            steps,
            seed,
            arch_lr,
        } => dispatch(
            &device,
            Adapt {
                database: &cli.database,
                bundle: &bundle,
                steps,
                seed,
                arch_lr,
            },
        )?,
    }
}

/// The first `count` tasks of `role` in the database, rebuilt at `resolution` with 3 channels.
fn build_tasks(
    database: &Path,
    role: Role,
    count: usize,
    resolution: usize,
) -> Result<Vec<(String, Task)>, Box<dyn Error>> {
    let paths = DataPaths::from_env();
    source_tasks(database, role, count)?
        .into_iter()
        .map(|t| {
            let spec = TaskSpec {
                resolution,
                ..t.spec
            }
            .with_channels(3);
            Ok((t.group, Task::build(&spec, &paths)?))
        })
        .collect()
}

struct MetaTrain<'a> {
    database: &'a Path,
    out: &'a Path,
    tasks: usize,
    config: BaseConfig,
    checkpoint_every: usize,
}

impl WithBackend for MetaTrain<'_> {
    type Output = Result<(), Box<dyn Error>>;

    fn run<B: AutodiffBackend>(self, device: B::Device) -> Self::Output {
        let mut base = if self.out.join("base.json").exists() {
            let base = Base::<B>::load(self.out, &device)?;
            println!(
                "resuming {} at iteration {} of {}",
                self.out.display(),
                base.history().len(),
                base.config().meta_iterations
            );
            base
        } else {
            std::fs::create_dir_all(self.out)?;
            Base::<B>::new(self.config, &device)?
        };
        let resolution = base.config().resolution;
        let tasks = build_tasks(self.database, Role::MetaTrain, self.tasks, resolution)?;
        let (groups, tasks): (Vec<String>, Vec<Task>) = tasks.into_iter().unzip();
        println!("{} meta-training tasks at {resolution} px", tasks.len());
        let total = base.config().meta_iterations;
        while base.history().len() < total {
            let until = (base.history().len() + self.checkpoint_every).min(total);
            base.meta_train(&tasks, Some(until), |s| {
                println!(
                    "iteration {:>4}  task {:>3} ({})  loss {:.3}  ε {:.3}  shift {:.3}  entropy {:.3}  {:.1} s",
                    s.iteration, s.task, groups[s.task], s.loss, s.epsilon, s.shift, s.entropy, s.seconds
                )
            })?;
            base.save(self.out)?;
        }
        let seconds: f64 = base.history().iter().map(|s| s.seconds).sum();
        println!(
            "{}: {} iterations, {:.0} s of meta-training",
            self.out.display(),
            total,
            seconds
        );
        print_top(&base.probabilities());
        Ok(())
    }
}

fn print_top(probs: &[[f64; 5]; 6]) {
    for (arch, p) in search_space::network::supernet::most_probable_cells(probs, 3) {
        println!("  {p:.4}  {arch}");
    }
}

struct Adapt<'a> {
    database: &'a Path,
    bundle: &'a Path,
    steps: usize,
    seed: u64,
    arch_lr: Option<f64>,
}

impl WithBackend for Adapt<'_> {
    type Output = Result<(), Box<dyn Error>>;

    fn run<B: AutodiffBackend>(self, device: B::Device) -> Self::Output {
        let meta = Base::<B>::load(self.bundle, &device)?;
        let scratch = Base::<B>::new(meta.config().clone(), &device)?;
        let records = load(&[self.database.to_path_buf()])?;
        let truth = panel_means(&records);
        let resolution = meta.config().resolution;
        let sets = truth.len();
        for (group, task) in build_tasks(self.database, Role::MetaTest, sets, resolution)? {
            let means = truth.get(&group);
            let best = means.map(|m| m.values().copied().fold(f64::NAN, f64::max));
            println!(
                "{group}: best panel cell {}",
                best.map_or("–".into(), |b| format!("{:.2}%", 100.0 * b))
            );
            for (name, base) in [("BASE", &meta), ("from scratch", &scratch)] {
                let lr = self.arch_lr.unwrap_or(base.config().arch_lr);
                let a = base.adapt_with(&task, self.steps, self.seed, lr)?;
                let known = means
                    .and_then(|m| m.get(&a.cell))
                    .map_or("not in the panel".to_string(), |acc| {
                        format!("panel mean {:.2}%", 100.0 * acc)
                    });
                println!(
                    "  {name:<12} {:.1} s, supernet acc {:.3}, p {:.4}: {} ({known})",
                    a.seconds, a.supernet_accuracy, a.top[0].1, a.cell
                );
            }
        }
        Ok(())
    }
}

/// Mean test accuracy of every (meta-test group, cell) in the database.
fn panel_means(records: &[RunRecord]) -> BTreeMap<String, BTreeMap<Nb201Arch, f64>> {
    let mut sums: BTreeMap<String, BTreeMap<Nb201Arch, (f64, usize)>> = BTreeMap::new();
    for r in records.iter().filter(|r| r.role == Role::MetaTest) {
        if let Some(acc) = r.result.test_accuracy {
            let e = sums
                .entry(r.group.clone())
                .or_default()
                .entry(r.arch)
                .or_default();
            e.0 += acc;
            e.1 += 1;
        }
    }
    sums.into_iter()
        .map(|(g, cells)| {
            let means = cells
                .into_iter()
                .map(|(a, (s, n))| (a, s / n as f64))
                .collect();
            (g, means)
        })
        .collect()
}
