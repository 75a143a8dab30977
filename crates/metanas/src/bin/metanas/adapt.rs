//! `metanas adapt`: BASE's meta-learned supernet and cell distribution adapted to a dataset in
//! a few gradient steps, answering the most probable cells (`metanas::base`, docs/base.md).

use std::error::Error;
use std::path::PathBuf;

use burn::tensor::backend::AutodiffBackend;
use clap::Args;
use datasets::{DataPaths, Task};
use metanas::base::{locate_base_bundle, Adaptation, Base};
use metanas::device::{dispatch, DeviceSpec, WithBackend};
use search_space::network::supernet::most_probable_cells;

use super::{check_out_dir, write_out, DataArgs};

#[derive(Debug, Args)]
pub(crate) struct AdaptArgs {
    #[command(flatten)]
    data: DataArgs,
    /// The BASE bundle (default: `$METANAS_BASE_BUNDLE`, then `crates/metanas/bundle-base` in
    /// the current directory or a folder above it, then `bundle-base/` next to this executable).
    #[arg(long)]
    bundle: Option<PathBuf>,
    /// Adaptation steps on the weights and the cell distribution.
    #[arg(long, default_value_t = 50)]
    steps: usize,
    /// Most probable cells to print.
    #[arg(long, default_value_t = 5)]
    top_k: usize,
    /// Seed of the adaptation's batches and Gumbel samples.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Adam learning rate of the cell distribution at adaptation (default: the bundle's).
    #[arg(long)]
    arch_lr: Option<f64>,
    /// Also write the answer as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Backend and device.
    #[arg(long)]
    device: Option<DeviceSpec>,
}

/// Loads the bundle, builds the task at its resolution with 3 channels, adapts, prints.
pub(crate) fn adapt(args: &AdaptArgs) -> Result<(), Box<dyn Error>> {
    if args.top_k == 0 {
        return Err("--top-k 0: print at least one cell".into());
    }
    if let Some(path) = &args.json {
        check_out_dir("--json", path)?;
    }
    let bundle = match &args.bundle {
        Some(dir) => dir.clone(),
        None => locate_base_bundle()?,
    };
    let device = DeviceSpec::resolve(args.device)?;
    let (config, a) = dispatch(
        &device,
        Adapt {
            args,
            bundle: &bundle,
        },
    )??;
    let top = most_probable_cells(&a.probabilities, args.top_k);
    println!(
        "BASE ({}) adapted for {} steps in {:.1} s (final training loss {:.3}); the \
         supernet's test accuracy with the argmax cell (a proxy, not a trained network's): \
         {:.2}%",
        bundle.display(),
        args.steps,
        a.seconds,
        a.losses.last().copied().unwrap_or(f64::NAN),
        100.0 * a.supernet_accuracy
    );
    for (rank, (arch, p)) in top.iter().enumerate() {
        println!("{:>3}  p {p:.4}  {arch}", rank + 1);
    }
    if let Some(path) = &args.json {
        let json = serde_json::json!({
            "bundle": bundle,
            "steps": args.steps,
            "seed": args.seed,
            "arch_lr": args.arch_lr.unwrap_or(config.arch_lr),
            "seconds": a.seconds,
            "cell": a.cell.to_string(),
            "top": top
                .iter()
                .map(|(arch, p)| serde_json::json!({"arch": arch.to_string(), "probability": p}))
                .collect::<Vec<_>>(),
            "edge_probabilities": a.probabilities,
            "losses": a.losses,
            "supernet_accuracy": a.supernet_accuracy,
        });
        write_out(
            "--json",
            path,
            &(serde_json::to_string_pretty(&json)? + "\n"),
        )?;
    }
    Ok(())
}

struct Adapt<'a> {
    args: &'a AdaptArgs,
    bundle: &'a std::path::Path,
}

impl WithBackend for Adapt<'_> {
    type Output = Result<(metanas::base::BaseConfig, Adaptation), Box<dyn Error>>;
    fn run<B: AutodiffBackend>(self, device: B::Device) -> Self::Output {
        let base = Base::<B>::load(self.bundle, &device)?;
        let config = base.config().clone();
        let task = self
            .args
            .data
            .task(config.resolution, self.args.data.test_per_class)?;
        // The supernet's stem takes 3 channels: a grayscale source's plane is repeated.
        let task = if task.train.channels == 3 {
            task
        } else {
            Task::build(&task.spec.clone().with_channels(3), &DataPaths::from_env())?
        };
        if task.way() > config.max_classes {
            return Err(format!(
                "the task has {} classes, the BASE bundle's classifier {}: pass --way {} or fewer",
                task.way(),
                config.max_classes,
                config.max_classes
            )
            .into());
        }
        let arch_lr = self.args.arch_lr.unwrap_or(config.arch_lr);
        let a = base.adapt_with(&task, self.args.steps, self.args.seed, arch_lr)?;
        Ok((config, a))
    }
}
