//! Re-trains the pretrained feature CNN and writes `crates/set-encoder/weights/`.
//!
//! ```text
//! cargo run --release -p set-encoder --bin train-feature-cnn            # the shipped weights
//! cargo run --release -p set-encoder --bin train-feature-cnn -- --epochs 1 --out /tmp/cnn
//! ```
//! Data and protocol: see `set_encoder::cnn_training`. Data locations come from the usual
//! environment (`METANAS_DATA`, `METANAS_FASHION_MNIST`, `METANAS_FONT_DIRS`).

use std::path::PathBuf;
use std::process::ExitCode;

use burn::backend::{Autodiff, Flex};
use burn::config::Config;
use clap::Parser;
use datasets::DataPaths;
use set_encoder::cnn_training::{train_feature_cnn, CnnTrainingConfig};
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
}

fn main() -> ExitCode {
    let args = Args::parse();
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
    let device = Default::default();
    let result =
        train_feature_cnn::<Autodiff<Flex>>(&config, &DataPaths::from_env(), &device, |line| {
            eprintln!("{line}");
        });
    let (cnn, report) = match result {
        Ok(trained) => trained,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let bytes = match record_bytes(&cnn) {
        Ok(bytes) => bytes,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let write = || -> std::io::Result<()> {
        std::fs::create_dir_all(&args.out)?;
        std::fs::write(args.out.join("feature_cnn.mpk"), &bytes)?;
        config.cnn.save(args.out.join("feature_cnn.json"))?;
        config.save(args.out.join("training.json"))
    };
    if let Err(e) = write() {
        eprintln!("error: cannot write to {}: {e}", args.out.display());
        return ExitCode::FAILURE;
    }
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
    ExitCode::SUCCESS
}
