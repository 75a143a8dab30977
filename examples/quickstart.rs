//! MetaD2A on a dataset it has never seen: search in seconds, train the pick, compare.
//!
//! ```text
//! cargo run --release --example quickstart
//! cargo run --release --example quickstart -- --dataset test/digits
//! ```
//!
//! Offline and on built-in data: the pretrained bundle (`crates/metanas/bundle`) and the
//! database (`crates/model-zoo/data/runs.jsonl`) ship with the repository, the images come
//! from the data packages `scripts/setup-data.sh` installs. The meta-test datasets were never
//! used for meta-training; the database holds their measured ground truth.

use std::error::Error;
use std::path::PathBuf;
use std::time::Instant;

use burn::backend::Flex;
use clap::Parser;
use datasets::{DataPaths, FeatureExtractor, Task};
use metanas::metad2a::{global_best, global_prior, ground_truths, MetaD2A, SearchOptions};
use set_encoder::CnnExtractor;

#[derive(Debug, Parser)]
#[command(about = "Search a meta-test dataset with the pretrained MetaD2A bundle")]
struct Args {
    /// Meta-test dataset (a `test/...` group of the database).
    #[arg(long, default_value = "test/mnist")]
    dataset: String,
    /// The MetaD2A bundle.
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
}

fn main() -> Result<(), Box<dyn Error>> {
    let args = Args::parse();
    let device = Default::default();
    let model = MetaD2A::<Flex>::load(&args.bundle, &device)?;
    let records = model_zoo::database::load(std::slice::from_ref(&args.database))?;
    let truths = ground_truths(&records, 1);
    let Some(truth) = truths.iter().find(|t| t.group == args.dataset) else {
        let names: Vec<&str> = truths.iter().map(|t| t.group.as_str()).collect();
        return Err(format!(
            "no meta-test dataset `{}` in the database; it has: {}",
            args.dataset,
            names.join(", ")
        )
        .into());
    };

    let task = Task::build(&truth.spec, &DataPaths::from_env())?;
    let extractor = CnnExtractor::<Flex>::pretrained(&device)?;
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
    let run = model_zoo::train_cpu(pick.arch, &task, &truth.protocol, args.seed)?;
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
                    * model_zoo::train_cpu(arch, &task, &truth.protocol, args.seed)?
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
