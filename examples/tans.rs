//! TANS in a few lines: retrieve trained zoo networks for a new dataset under a parameter
//! limit, then fine-tune the best one on it.
//!
//! ```text
//! cargo run --release -p metanas --example tans -- --max-params 0.03 --steps 50
//! ```
//!
//! The dataset is the MNIST sample embedded in the repository (10 digits; nothing to install),
//! which no zoo network was trained on. CPU (flex).

use std::error::Error;

use burn::backend::Flex;
use clap::Parser;
use datasets::{DataPaths, SourceSpec, Task, TaskSpec};
use metanas::device::CpuBackend;
use metanas::tans::{fine_tune, locate_zoo, task_for, FineTuneOptions, RetrieveOptions, Tans};
use model_zoo::zoo::Zoo;

#[derive(Debug, Parser)]
#[command(about = "Retrieve a zoo network for the MNIST sample with TANS and fine-tune it")]
struct Args {
    /// Most parameters (M) of a retrieved network.
    #[arg(long)]
    max_params: Option<f64>,
    /// Most multiply-adds per image (M) of a retrieved network.
    #[arg(long)]
    max_flops: Option<f64>,
    /// Fine-tuning steps.
    #[arg(long, default_value_t = 50)]
    steps: usize,
    /// Seed of the draws, the classifier and the batches.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

fn main() -> Result<(), Box<dyn Error>> {
    let args = Args::parse();
    let device = Default::default();
    let tans = Tans::<Flex>::pretrained(&device)?;
    let zoo = Zoo::open(&locate_zoo()?)?;
    let extractor = tans.extractor(&device)?;
    let paths = DataPaths::from_env();
    // 10-way MNIST, 20 training and 50 test images per class, at 28 px for the extractor.
    let spec = TaskSpec::new(
        SourceSpec::MnistSample,
        (0..10).collect(),
        20,
        50,
        28,
        args.seed,
    );
    let task = Task::build(&spec, &paths)?;
    let options = RetrieveOptions {
        max_params: args.max_params,
        max_flops: args.max_flops,
        seed: args.seed,
        ..RetrieveOptions::default()
    };
    let result = tans.retrieve_images(&extractor, &zoo, &task.train, &options)?;
    print!("{}", result.table());
    // The best by predicted accuracy, its task rebuilt at the network's input size.
    let top = &result.ranked[0];
    let tuned_task = task_for(&zoo.entries()[top.entry], &spec, &paths)?;
    let finetune = FineTuneOptions {
        steps: args.steps,
        lr: None,
        seed: args.seed,
    };
    let (tuned, _) = fine_tune::<CpuBackend>(&zoo, top.entry, &tuned_task, &finetune, &device)?;
    println!(
        "fine-tuned {} for {} steps: test accuracy {:.2}% ({:.1} s)",
        tuned.describe,
        tuned.steps,
        100.0 * tuned.test_accuracy.unwrap_or(f64::NAN),
        tuned.seconds
    );
    Ok(())
}
