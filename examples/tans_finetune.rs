//! TANS's fine-tuning comparison (issue 15, item 4) on the v2 database's meta-test sets: at
//! equal optimiser steps, with seeds, the test accuracy of
//!
//! - **tans**: TANS's pick (the shipped bundle's top network, no constraint) fine-tuned;
//! - **tans-cell-scratch**: the same cell, same input size, from scratch;
//! - **random-zoo**: a zoo network drawn uniformly (per seed) fine-tuned;
//! - **best-avg-zoo**: the zoo network with the largest excess accuracy over its own task's mean
//!   (the zoo's "best on average": each network was only ever tested on its own task) fine-tuned;
//! - **metad2a-scratch**: MetaD2A's top cell (shipped bundle) from scratch at the set's own
//!   input size.
//!
//! ```text
//! cargo run --release -p metanas --example tans_finetune -- --steps 25,50,100,200 --seeds 3 \
//!     --out docs/results/tans-finetune.md
//! ```
//!
//! Every arm trains with the zoo's loop (`model_zoo::fine_tune`: SGD 0.1, Nesterov 0.9, weight
//! decay 5e-4, batch 64, cosine over the steps, BN recalibration before testing); from scratch
//! is the same loop from a seeded initialisation. CPU (flex).

use std::error::Error;
use std::path::PathBuf;

use burn::backend::Flex;
use clap::Parser;
use datasets::{DataPaths, Task, TaskSpec};
use metanas::device::CpuBackend;
use metanas::tans::{fine_tune, spec_for, FineTuneOptions, RetrieveOptions, Tans};
use metanas::{MetaD2A, SearchOptions};
use model_zoo::plan::{Plan, Role};
use model_zoo::stats::{mean, standard_error};
use model_zoo::zoo::Zoo;
use model_zoo::Protocol;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use search_space::{Nb201Arch, Nb201NetworkConfig};

#[derive(Debug, Parser)]
#[command(about = "Fine-tuning comparison of TANS's pick against baselines")]
struct Args {
    /// The database plan whose meta-test sets are compared.
    #[arg(long, default_value = "crates/model-zoo/data/v2/plan.json")]
    plan: PathBuf,
    /// The zoo.
    #[arg(long, default_value = "crates/model-zoo/data/zoo")]
    zoo: PathBuf,
    /// Step counts.
    #[arg(long, value_delimiter = ',', default_value = "25,50,100,200")]
    steps: Vec<usize>,
    /// Seeds per (set, arm, steps).
    #[arg(long, default_value_t = 3)]
    seeds: u64,
    /// Write the markdown table here (also printed).
    #[arg(long)]
    out: Option<PathBuf>,
}

const ARMS: [&str; 5] = [
    "tans",
    "tans-cell-scratch",
    "random-zoo",
    "best-avg-zoo",
    "metad2a-scratch",
];

fn scratch(
    arch: Nb201Arch,
    protocol: &Protocol,
    task: &Task,
    steps: usize,
    seed: u64,
) -> Result<f64, Box<dyn Error>> {
    let device = Default::default();
    let network = Nb201NetworkConfig::new(arch)
        .with_channels(protocol.channels)
        .with_cells_per_stage(protocol.cells_per_stage)
        .with_input_channels(task.train.channels)
        .with_num_classes(task.way())
        .with_resolution(task.train.height)
        .with_seed(seed)
        .init::<CpuBackend>(&device);
    let tuned = model_zoo::fine_tune::<CpuBackend>(
        network,
        task,
        &protocol.recipe(),
        steps,
        seed,
        &device,
    )?;
    Ok(tuned.test_accuracy.unwrap_or(f64::NAN))
}

fn main() -> Result<(), Box<dyn Error>> {
    let args = Args::parse();
    let device = Default::default();
    let paths = DataPaths::from_env();
    let plan: Plan = serde_json::from_str(&std::fs::read_to_string(&args.plan)?)?;
    let mut sets: Vec<(String, TaskSpec, Protocol)> = Vec::new();
    for job in plan.jobs(&paths)? {
        if job.role == Role::MetaTest && !sets.iter().any(|s| s.0 == job.group) {
            sets.push((job.group.clone(), job.task.clone(), job.protocol.clone()));
        }
    }
    let zoo = Zoo::open(&args.zoo)?;
    let tans = Tans::<Flex>::pretrained(&device)?;
    let extractor = tans.extractor(&device)?;
    let metad2a = MetaD2A::<Flex>::pretrained(&device)?;
    let options = SearchOptions::default().check()?;
    // The zoo network with the largest excess over its task's mean accuracy.
    let entries = zoo.entries();
    let task_mean = |key: &str| {
        let acc: Vec<f64> = entries
            .iter()
            .filter(|e| e.task.key() == key)
            .map(|e| e.stored.test_accuracy)
            .collect();
        mean(&acc)
    };
    let best_avg = (0..entries.len())
        .max_by(|&a, &b| {
            let ex = |i: usize| entries[i].stored.test_accuracy - task_mean(&entries[i].task.key());
            ex(a).total_cmp(&ex(b)).then(b.cmp(&a))
        })
        .unwrap_or(0);
    let mut table = String::from(
        "| set | arm | network | steps | test accuracy % (mean ± s.e. over seeds) |\n|---|---|---|---|---|\n",
    );
    for (group, spec, protocol) in &sets {
        let own = Task::build(spec, &paths)?;
        let found =
            tans.retrieve_images(&extractor, &zoo, &own.train, &RetrieveOptions::default())?;
        let pick = found.ranked[0].entry;
        let d2a = metad2a
            .search_images(&extractor, &own.train, &options)?
            .ranked[0]
            .arch;
        eprintln!(
            "{group}: TANS picks {}; MetaD2A picks {d2a}",
            entries[pick].describe()
        );
        for arm in ARMS {
            for &steps in &args.steps {
                let mut acc = Vec::new();
                let mut what = String::new();
                for seed in 0..args.seeds {
                    let zoo_arm = |entry: usize| -> Result<(f64, String), Box<dyn Error>> {
                        let task = Task::build(&spec_for(&entries[entry], spec), &paths)?;
                        let ft = FineTuneOptions {
                            steps,
                            lr: None,
                            seed,
                        };
                        let (r, _) = fine_tune::<CpuBackend>(&zoo, entry, &task, &ft, &device)?;
                        Ok((
                            r.test_accuracy.unwrap_or(f64::NAN),
                            entries[entry].describe(),
                        ))
                    };
                    let (a, w) = match arm {
                        "tans" => zoo_arm(pick)?,
                        "random-zoo" => {
                            let mut rng = ChaCha8Rng::seed_from_u64(0x7a4d ^ seed);
                            zoo_arm(rng.random_range(0..entries.len()))?
                        }
                        "best-avg-zoo" => zoo_arm(best_avg)?,
                        "tans-cell-scratch" => {
                            let e = &entries[pick];
                            let task = Task::build(&spec_for(e, spec), &paths)?;
                            let a = scratch(e.arch, &e.protocol, &task, steps, seed)?;
                            (a, format!("{} from scratch", e.arch))
                        }
                        _ => {
                            let a = scratch(d2a, protocol, &own, steps, seed)?;
                            (a, format!("{d2a} from scratch"))
                        }
                    };
                    acc.push(100.0 * a);
                    what = if arm == "random-zoo" {
                        "a different network per seed".into()
                    } else {
                        w
                    };
                }
                let se = if acc.len() > 1 {
                    standard_error(&acc)
                } else {
                    f64::NAN
                };
                // Cells are written with `|`: escaped for the markdown table.
                let what = what.replace('|', "\\|");
                let line = format!(
                    "| {group} | {arm} | {what} | {steps} | {:.2} ± {:.2} |\n",
                    mean(&acc),
                    se
                );
                eprint!("{line}");
                table += &line;
            }
        }
    }
    print!("{table}");
    if let Some(out) = &args.out {
        std::fs::write(out, table)?;
    }
    Ok(())
}
