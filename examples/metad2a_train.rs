//! Meta-train MetaD2A (generator + predictor) on the database and write the bundle.
//!
//! ```text
//! cargo run --release --example metad2a_train -- --out crates/metanas/bundle
//! cargo run --release --example metad2a_train -- --extractor efficientnet:32 --out target/bundle-effnet32
//! ```
//!
//! Reads the merged database and the builders' shards (duplicates are counted once), builds
//! every task's images and their features (`--extractor`: the shipped 64-d CNN, or
//! EfficientNet-Lite0's ImageNet features at a resolution; the bundle records which), trains the conditional generator on each
//! meta-training task's best cell and the predictor on all meta-training runs (10% of the tasks
//! held out for early stopping), and saves the bundle the quickstart and `metanas search` load.
//! `--device cpu|wgpu[:N]|cuda[:N]` picks the backend (default: `$METANAS_DEVICE`, else `cpu`).

use std::error::Error;
use std::path::PathBuf;
use std::process::ExitCode;

use burn::tensor::backend::AutodiffBackend;
use clap::Parser;
use datasets::DataPaths;
use metanas::device::{dispatch, DeviceSpec, WithBackend};
use metanas::metad2a::{MetaD2A, MetaData, MetaDataOptions, MetaTrainConfig};
use set_encoder::Pretrained;

#[derive(Debug, Parser)]
#[command(about = "Meta-train MetaD2A on the database and save the bundle")]
struct Args {
    /// Database files (JSON Lines run stores).
    /// Missing files are skipped (the shards exist only while builders run).
    #[arg(long, num_args = 1.., default_values = [
        "crates/model-zoo/data/v2/runs.jsonl",
        "crates/model-zoo/data/v2/shards/runs.0.jsonl",
        "crates/model-zoo/data/v2/shards/runs.1.jsonl",
    ])]
    database: Vec<PathBuf>,
    /// Feature extractor: `cnn` (the shipped 64-d CNN), `efficientnet` (32 px, the resolution chosen for MetaD2A) or
    /// `efficientnet:RES` (needs `scripts/setup-data.sh`).
    #[arg(long, default_value = "cnn")]
    extractor: Pretrained,
    /// Bundle directory to write.
    #[arg(long, default_value = "crates/metanas/bundle")]
    out: PathBuf,
    /// Generator epochs.
    #[arg(long, default_value_t = 150)]
    generator_epochs: usize,
    /// Most predictor epochs (early stopping on validation Pearson r).
    #[arg(long, default_value_t = 60)]
    predictor_epochs: usize,
    /// Seed of weights, splits, shuffling and image draws.
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

fn run(args: Args) -> Result<(), Box<dyn Error>> {
    // Fail before reading the database if the backend is missing.
    let device = DeviceSpec::resolve(args.device)?;
    if device != DeviceSpec::Cpu {
        println!("device: {device}");
    }
    dispatch(&device, MetaTrain { args: &args })?
}

/// The whole run, handed to [`dispatch`] to run on the chosen backend.
struct MetaTrain<'a> {
    args: &'a Args,
}

impl WithBackend for MetaTrain<'_> {
    type Output = Result<(), Box<dyn Error>>;

    fn run<B: AutodiffBackend>(self, device: B::Device) -> Self::Output {
        meta_train::<B>(self.args, &device)
    }
}

/// Features and the bundle on `B`'s inner backend, training with autodiff on `B`.
fn meta_train<B: AutodiffBackend>(args: &Args, device: &B::Device) -> Result<(), Box<dyn Error>> {
    let extractor = args.extractor.load::<B::InnerBackend>(device)?;
    let paths: Vec<PathBuf> = args
        .database
        .iter()
        .filter(|p| p.exists())
        .cloned()
        .collect();
    let t = std::time::Instant::now();
    let options = MetaDataOptions {
        seed: args.seed,
        ..MetaDataOptions::default()
    };
    let data = MetaData::from_database(&paths, &DataPaths::from_env(), &*extractor, &options)?;
    println!(
        "{} tasks, {} training + {} validation runs, {} generator pairs, {} meta-test sets; \
         features `{}` ({:.1} s)",
        data.tasks.len(),
        data.train.len(),
        data.valid.len(),
        data.generator_pairs.len(),
        data.meta_test.len(),
        extractor.id(),
        t.elapsed().as_secs_f64()
    );
    let mut config = MetaTrainConfig::new(extractor.dim());
    config.generator_train.epochs = args.generator_epochs;
    config.generator_train.seed = args.seed;
    config.generator = config.generator.with_seed(args.seed);
    config.predictor = config.predictor.with_seed(args.seed);
    config.predictor_train.epochs = args.predictor_epochs;
    config.predictor_train.seed = args.seed;
    let model = MetaD2A::<B::InnerBackend>::meta_train::<B>(
        &data,
        &extractor.id(),
        &config,
        device,
        |line| println!("{line}"),
    )?;
    model.save(&args.out)?;
    println!(
        "saved {} (predictor best epoch {}, {:.0} s)",
        args.out.display(),
        model.meta().predictor.best_epoch,
        model.meta().summary.seconds
    );
    Ok(())
}
