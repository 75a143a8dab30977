//! Re-trains the pretrained feature CNN and writes `crates/set-encoder/weights/`.
//!
//! ```text
//! cargo run --release -p set-encoder --bin train-feature-cnn            # the shipped weights
//! cargo run --release -p set-encoder --bin train-feature-cnn -- --epochs 1 --out /tmp/cnn
//! cargo run --release -p set-encoder --features wgpu --bin train-feature-cnn -- --device wgpu --out /tmp/cnn
//! ```
//! Data and protocol: see `set_encoder::cnn_training`. Data locations come from the usual
//! environment (`METANAS_DATA`, `METANAS_FASHION_MNIST`, `METANAS_FONT_DIRS`).
//!
//! `--device cpu|wgpu[:N]|cuda[:N]` (default `cpu`, the flex backend the shipped weights were
//! trained on; `wgpu` and `cuda` need the matching cargo feature) picks the backend, through
//! `search_space::device` (`metanas::device`). `$METANAS_DEVICE` is not read: the weights do not
//! say which backend trained them, so they leave the CPU only when the command line says so.

use std::error::Error;
use std::path::PathBuf;
use std::process::ExitCode;

use burn::config::Config;
use burn::tensor::backend::AutodiffBackend;
use clap::Parser;
use datasets::DataPaths;
use search_space::device::{dispatch, DeviceSpec, WithBackend};
use set_encoder::cnn_training::{train_feature_cnn, CnnTrainingConfig, CnnTrainingReport};
use set_encoder::record_bytes;

/// Train the feature CNN on the meta-training sources (glyphs of the training scripts,
/// Fashion-MNIST train split) and save its weights.
#[derive(Parser, Debug)]
struct Args {
    /// Output folder for `feature_cnn.mpk` (weights) and `feature_cnn.json` (network config).
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/weights"))]
    out: PathBuf,
    /// Passes over the training images.
    #[arg(long)]
    epochs: Option<usize>,
    /// Training images per glyph class.
    #[arg(long)]
    glyph_train_per_class: Option<usize>,
    /// Training images per Fashion-MNIST class.
    #[arg(long)]
    fashion_train_per_class: Option<usize>,
    /// Input side of the network.
    #[arg(long)]
    resolution: Option<usize>,
    /// Seed of data, batch order and initial weights.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Backend and device to train on: cpu, wgpu, wgpu:N, cuda or cuda:N (wgpu and cuda need
    /// the matching cargo feature). `$METANAS_DEVICE` is not read.
    #[arg(long, default_value_t = DeviceSpec::Cpu)]
    device: DeviceSpec,
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The training on the backend `--device` names: the trained network's record bytes and the
/// report.
struct Train<'a> {
    config: &'a CnnTrainingConfig,
    paths: &'a DataPaths,
}

impl WithBackend for Train<'_> {
    type Output = Result<(Vec<u8>, CnnTrainingReport), Box<dyn Error>>;

    fn run<B: AutodiffBackend>(self, device: B::Device) -> Self::Output {
        let (cnn, report) = train_feature_cnn::<B>(self.config, self.paths, &device, |line| {
            eprintln!("{line}");
        })?;
        Ok((record_bytes(&cnn)?, report))
    }
}

fn run(args: Args) -> Result<(), Box<dyn Error>> {
    // Before loading any data: a backend that is not compiled in is an error.
    args.device.check()?;
    let mut config = CnnTrainingConfig::new().with_seed(args.seed);
    config.cnn.seed = args.seed;
    if let Some(epochs) = args.epochs {
        config.epochs = epochs;
    }
    if let Some(n) = args.glyph_train_per_class {
        config.glyph_train_per_class = n;
    }
    if let Some(n) = args.fashion_train_per_class {
        config.fashion_train_per_class = n;
    }
    if let Some(r) = args.resolution {
        config.cnn.resolution = r;
    }
    if args.device != DeviceSpec::Cpu {
        eprintln!("device: {}", args.device);
    }
    let paths = DataPaths::from_env();
    let (bytes, report) = dispatch(
        &args.device,
        Train {
            config: &config,
            paths: &paths,
        },
    )??;
    let write = || -> std::io::Result<()> {
        std::fs::create_dir_all(&args.out)?;
        std::fs::write(args.out.join("feature_cnn.mpk"), &bytes)?;
        config.cnn.save(args.out.join("feature_cnn.json"))?;
        config.save(args.out.join("training.json"))
    };
    write().map_err(|e| format!("cannot write to {}: {e}", args.out.display()))?;
    let (loss, train_accuracy) = report.epochs.last().copied().unwrap_or_default();
    println!(
        "{} classes ({} glyph + 10 fashion), {} train / {} val images; data {:.0}s, training {:.0}s",
        report.classes,
        report.glyph_classes,
        report.train_images,
        report.val_images,
        report.data_seconds,
        report.train_seconds
    );
    println!(
        "final loss {loss:.3}, train accuracy {train_accuracy:.3}, validation accuracy {:.3}",
        report.val_accuracy
    );
    println!(
        "wrote {} ({} bytes)",
        args.out.join("feature_cnn.mpk").display(),
        bytes.len()
    );
    Ok(())
}
