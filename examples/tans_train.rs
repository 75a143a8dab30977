//! Meta-train TANS (query encoder, model encoder, predictor) on the zoo and write the bundle,
//! or cross-validate it.
//!
//! ```text
//! cargo run --release -p metanas --example tans_train -- --out crates/metanas/bundle-tans
//! cargo run --release -p metanas --example tans_train -- --folds 5     # cross-validation only
//! ```
//!
//! Builds every zoo task once and extracts its training images' features with the shipped CNN,
//! embeds every zoo network's response to the probe, holds out `--valid-tasks` tasks (evenly
//! over the zoo's groups), meta-trains, prints retrieval and prediction on the held-out and
//! training tasks, and saves the bundle. With `--folds K` it instead trains K models, each with
//! one fold of tasks held out, and prints the metrics pooled over every task's held-out result.
//! CPU (flex) only.

use std::error::Error;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use burn::backend::Flex;
use clap::Parser;
use datasets::DataPaths;
use metanas::device::CpuBackend;
use metanas::tans::{
    evaluate_tasks, meta_train, task_folds, Probe, RetrievalMetrics, Tans, TansData, TansNetConfig,
    TansTrainConfig,
};
use model_zoo::zoo::Zoo;
use set_encoder::CnnExtractor;

#[derive(Debug, Parser)]
#[command(about = "Meta-train TANS on the zoo and save the bundle")]
struct Args {
    /// The zoo.
    #[arg(long, default_value = "crates/model-zoo/data/zoo")]
    zoo: PathBuf,
    /// Bundle directory to write.
    #[arg(long, default_value = "crates/metanas/bundle-tans")]
    out: PathBuf,
    /// Optimiser steps (each sees every training task).
    #[arg(long, default_value_t = 400)]
    steps: usize,
    /// Adam's learning rate.
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    /// Tasks held out for validation.
    #[arg(long, default_value_t = 20)]
    valid_tasks: usize,
    /// Images drawn per class when a task is encoded.
    #[arg(long, default_value_t = 20)]
    images_per_class: usize,
    /// Cross-validate over this many folds instead of writing a bundle.
    #[arg(long)]
    folds: Option<usize>,
    /// Seed of the weights, the split and the draws.
    #[arg(long, default_value_t = 0)]
    seed: u64,
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

fn print_metrics(name: &str, m: &RetrievalMetrics) {
    println!("{name} ({} tasks, zoo of {}):", m.best_at_1.n, m.zoo);
    let [r1, r5, r10] = m.random_best_at;
    println!("  best network at 1   {}   random {r1:.3}", m.best_at_1);
    println!("  best network at 5   {}   random {r5:.3}", m.best_at_5);
    println!("  best network at 10  {}   random {r10:.3}", m.best_at_10);
    println!(
        "  best at 1, top 10 re-scored by the predictor  {}",
        m.best_at_1_rescored
    );
    println!(
        "  top 1 is one of the task's own networks  {}   random {:.3}",
        m.own_at_1, m.random_own_at_1
    );
    println!(
        "  top 1 is from the task's group  {}   random {:.3}",
        m.group_at_1, m.random_group_at_1
    );
    println!(
        "  predictor Spearman ρ over the task's networks  {}   random 0",
        m.spearman
    );
    println!("  predictor MSE (accuracy in [0, 1])  {}", m.mse);
}

fn run(args: Args) -> Result<(), Box<dyn Error>> {
    let device = Default::default();
    let zoo = Zoo::open(&args.zoo)?;
    let extractor = CnnExtractor::<Flex>::pretrained(&device)?;
    let probe = Probe::default();
    let start = Instant::now();
    let data = TansData::from_zoo::<Flex>(
        &zoo,
        &extractor,
        &probe,
        &DataPaths::from_env(),
        &device,
        |l| eprintln!("{l}"),
    )?;
    eprintln!(
        "{} tasks, {} networks, features and functional embeddings in {:.0} s",
        data.tasks.len(),
        data.models.len(),
        start.elapsed().as_secs_f64()
    );
    let net = TansNetConfig::new(data.feature_dim, data.functional_dim).with_seed(args.seed);
    let train = TansTrainConfig {
        steps: args.steps,
        learning_rate: args.lr,
        images_per_class: args.images_per_class,
        valid_tasks: args.valid_tasks,
        seed: args.seed,
        ..TansTrainConfig::default()
    };
    if let Some(k) = args.folds {
        let mut outcomes = Vec::new();
        for (f, held) in task_folds(&data, k, args.seed).iter().enumerate() {
            let rest: Vec<usize> = (0..data.tasks.len())
                .filter(|t| !held.contains(t))
                .collect();
            let (model, _) = meta_train::<CpuBackend>(&data, &rest, &net, &train, &device, |l| {
                eprintln!("fold {f}: {l}")
            })?;
            outcomes.extend(evaluate_tasks(
                &model,
                &data,
                held,
                train.images_per_class,
                5,
                args.seed,
            )?);
        }
        print_metrics(
            &format!("{k}-fold cross-validation, every task held out once"),
            &RetrievalMetrics::from_outcomes(&outcomes, data.models.len()),
        );
        return Ok(());
    }
    let tans =
        Tans::<Flex>::meta_train::<CpuBackend>(&zoo, &data, &net, &probe, &train, &device, |l| {
            eprintln!("{l}")
        })?;
    let s = &tans.meta().summary;
    if let Some(v) = &s.validation {
        print_metrics("held-out tasks", v);
    }
    if let Some(t) = &s.training {
        print_metrics("training tasks", t);
    }
    println!("meta-training: {:.0} s", s.seconds);
    tans.save(&args.out)?;
    println!("bundle written to {}", args.out.display());
    Ok(())
}
