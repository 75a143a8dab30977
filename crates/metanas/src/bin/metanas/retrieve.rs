//! `metanas retrieve`: TANS — the zoo networks most similar to a dataset within the parameter
//! and FLOPs limits, re-ranked by the predictor, and optionally the best one fine-tuned on it
//! (`metanas::tans`, docs/tans.md). CPU (flex).

use std::error::Error;
use std::path::PathBuf;

use burn::backend::Flex;
use clap::Args;
use datasets::DataPaths;
use metanas::device::CpuBackend;
use metanas::tans::{
    fine_tune, locate_tans_bundle, locate_zoo, task_for, FineTuneOptions, RetrieveOptions, Tans,
};
use model_zoo::zoo::Zoo;

use super::{check_out_dir, write_out, DataArgs};

#[derive(Debug, Args)]
pub(crate) struct RetrieveArgs {
    #[command(flatten)]
    data: DataArgs,
    /// The TANS bundle (default: `$METANAS_TANS_BUNDLE`, then `crates/metanas/bundle-tans` in
    /// the current directory or a folder above it, then `bundle-tans/` next to this executable).
    #[arg(long)]
    bundle: Option<PathBuf>,
    /// The zoo (default: `crates/model-zoo/data/zoo` in the current directory or above).
    #[arg(long)]
    zoo: Option<PathBuf>,
    /// Most parameters of a retrieved network, in millions.
    #[arg(long)]
    max_params: Option<f64>,
    /// Most multiply-adds per image of a retrieved network, in millions.
    #[arg(long)]
    max_flops: Option<f64>,
    /// Networks retrieved (the most similar, re-ranked by predicted accuracy).
    #[arg(long, default_value_t = 10)]
    top_k: usize,
    /// Fine-tune the top network for this many optimiser steps on the dataset's training
    /// images and test it on its test images (0: retrieve only).
    #[arg(long, default_value_t = 0)]
    fine_tune_steps: usize,
    /// Peak learning rate of fine-tuning (default: the zoo network's protocol's).
    #[arg(long)]
    lr: Option<f64>,
    /// Seed of the query's image draws, the new classifier and the batch order.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Re-embed every zoo network with the bundle's encoders first (for a zoo built or
    /// extended after the bundle).
    #[arg(long)]
    embed_zoo: bool,
    /// Also write the answer as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
}

/// Loads bundle and zoo, builds the task, retrieves, prints, fine-tunes the top network.
pub(crate) fn retrieve(args: &RetrieveArgs) -> Result<(), Box<dyn Error>> {
    if args.top_k == 0 {
        return Err("--top-k 0: retrieve at least one network".into());
    }
    if let Some(path) = &args.json {
        check_out_dir("--json", path)?;
    }
    let device = Default::default();
    let bundle = match &args.bundle {
        Some(dir) => dir.clone(),
        None => locate_tans_bundle()?,
    };
    let zoo_dir = match &args.zoo {
        Some(dir) => dir.clone(),
        None => locate_zoo()?,
    };
    let mut tans = Tans::<Flex>::load(&bundle, &device)?;
    let zoo = Zoo::open(&zoo_dir)?;
    if args.embed_zoo {
        tans.embed_zoo(&zoo)?;
    }
    let extractor = tans.extractor(&device)?;
    let test_per_class = if args.fine_tune_steps > 0 {
        args.data.test_per_class
    } else {
        1
    };
    let task = args.data.task(32, test_per_class)?;
    let options = RetrieveOptions {
        k: args.top_k,
        max_params: args.max_params,
        max_flops: args.max_flops,
        seed: args.seed,
        ..RetrieveOptions::default()
    };
    let result = tans.retrieve_images(&extractor, &zoo, &task.train, &options)?;
    println!(
        "{}-way task, {} images; {} of {} zoo networks within the limits; retrieved in {:.2} s\n",
        task.way(),
        task.train.len(),
        result.eligible,
        zoo.entries().len(),
        result.seconds
    );
    print!("{}", result.table());
    let mut tuned = None;
    if args.fine_tune_steps > 0 {
        let top = &result.ranked[0];
        let entry = &zoo.entries()[top.entry];
        let task = task_for(entry, &task.spec, &DataPaths::from_env())?;
        let (r, _) = fine_tune::<CpuBackend>(
            &zoo,
            top.entry,
            &task,
            &FineTuneOptions {
                steps: args.fine_tune_steps,
                lr: args.lr,
                seed: args.seed,
            },
            &device,
        )?;
        println!(
            "\nfine-tuned {} for {} steps at {} px, {} channel(s): test accuracy {} ({:.1} s)",
            r.describe,
            r.steps,
            entry.protocol.resolution,
            entry.task.channels,
            r.test_accuracy
                .map_or("- (diverged)".into(), |a| format!("{:.2}%", 100.0 * a)),
            r.seconds
        );
        tuned = Some(r);
    }
    if let Some(path) = &args.json {
        let json = serde_json::json!({ "retrieved": result, "fine_tuned": tuned });
        write_out("--json", path, &serde_json::to_string_pretty(&json)?)?;
    }
    Ok(())
}
