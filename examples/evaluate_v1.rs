//! Evaluate MetaD2A and its predictor on every meta-test dataset of the v1 database (the
//! harness for the v2 database, with proxies and standard errors, is `examples/evaluate.rs`).
//!
//! ```text
//! cargo run --release --example evaluate_v1 -- --out docs/results
//! ```
//!
//! Writes `predictor.md` (ranking quality of the meta-predictor against baselines on each
//! dataset's measured architectures), `metad2a.md` (the true accuracy of the searched picks
//! against baselines) and one predicted-vs-true scatter plot per dataset (`<name>.svg`).
//! Picks outside a dataset's measured pool are trained with the database's protocol
//! (`--train-seeds` seeds) so that every reported accuracy is measured, never predicted.
//! `--device cpu|wgpu[:N]|cuda[:N]` picks the backend (default: `$METANAS_DEVICE`, else `cpu`).

use std::collections::HashMap;
use std::error::Error;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use burn::module::AutodiffModule;
use burn::tensor::backend::AutodiffBackend;
use clap::Parser;
use datasets::{DataPaths, Features, Task};
use graph_vae::{GraphSpace, Nb201Space};
use meta_predictor::metrics::{kendall_tau, pearson, precision_at_k, regret_at_k, spearman};
use meta_predictor::{predict_examples, Example};
use metanas::device::{dispatch, DeviceSpec, WithBackend};
use metanas::metad2a::{MetaD2A, MetaData, MetaDataOptions, MetaTestSet, SearchOptions};
use model_zoo::database::RunRecord;
use plotters::prelude::*;
use search_space::cost::MacroConfig;
use search_space::Nb201Arch;
use set_encoder::CnnExtractor;

#[derive(Debug, Parser)]
#[command(about = "Evaluate MetaD2A and its predictor on the meta-test datasets")]
struct Args {
    /// Database files.
    #[arg(long, num_args = 1.., default_values = [
        "crates/model-zoo/data/runs.jsonl",
        "crates/model-zoo/data/shards/runs.0.jsonl",
        "crates/model-zoo/data/shards/runs.1.jsonl",
    ])]
    database: Vec<PathBuf>,
    /// The MetaD2A bundle.
    #[arg(long, default_value = "crates/metanas/bundle")]
    bundle: PathBuf,
    /// Where the reports go.
    #[arg(long, default_value = "docs/results")]
    out: PathBuf,
    /// Seeds to train a pick that the database has not measured.
    #[arg(long, default_value_t = 3)]
    train_seeds: u64,
    /// Unique valid candidates generated per search.
    #[arg(long, default_value_t = 500)]
    candidates: usize,
    /// Image draws the predictor averages over.
    #[arg(long, default_value_t = 10)]
    draws: usize,
    /// Seed of searches and draws.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Backend and device: cpu, wgpu, wgpu:N, cuda or cuda:N (default: $METANAS_DEVICE, else cpu).
    #[arg(long)]
    device: Option<DeviceSpec>,
}

/// Regrets (pp) of one dataset's picks, and its search time.
struct Regrets {
    top1: f64,
    best5: f64,
    global_best: f64,
    random: f64,
    seconds: f64,
}

/// One way of scoring the architectures of a dataset's pool.
struct Scored {
    name: &'static str,
    scores: Vec<f64>,
}

fn metrics_row(s: &Scored, truth: &[f64]) -> String {
    let f = |v: Option<f64>| v.map_or("–".into(), |x| format!("{x:.3}"));
    let pct = |v: Option<f64>| v.map_or("–".into(), |x| format!("{x:.2}"));
    // Position of the best known arch in this score's order: archs trained to reach it.
    let order = meta_predictor::metrics::top_k(&s.scores, s.scores.len());
    let best = meta_predictor::metrics::top_k(truth, 1)[0];
    let position = order.iter().position(|&i| i == best).map_or(0, |p| p + 1);
    format!(
        "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
        s.name,
        f(pearson(&s.scores, truth)),
        f(spearman(&s.scores, truth)),
        f(kendall_tau(&s.scores, truth)),
        f(precision_at_k(&s.scores, truth, 5)),
        f(precision_at_k(&s.scores, truth, 10)),
        pct(regret_at_k(&s.scores, truth, 1)),
        pct(regret_at_k(&s.scores, truth, 5)),
        position
    )
}

fn scatter(path: &Path, title: &str, pred: &[f64], truth: &[f64]) -> Result<(), Box<dyn Error>> {
    let lo = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = |v: &[f64]| v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let pad = |a: f64, b: f64| (a - 0.05 * (b - a), b + 0.05 * (b - a));
    let (x0, x1) = pad(lo(pred), hi(pred));
    let (y0, y1) = pad(lo(truth), hi(truth));
    let root = SVGBackend::new(path, (560, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(x0..x1, y0..y1)?;
    chart
        .configure_mesh()
        .x_desc("predicted accuracy (%)")
        .y_desc("measured accuracy (%)")
        .draw()?;
    chart.draw_series(
        pred.iter()
            .zip(truth)
            .map(|(&x, &y)| Circle::new((x, y), 3, BLUE.mix(0.6).filled())),
    )?;
    root.present()?;
    Ok(())
}

/// Measured accuracy (%) of `arch` on a dataset: the database's mean if measured, else trained
/// now with the dataset's protocol over `seeds` seeds on backend `B`.
fn measured<B: AutodiffBackend>(
    set: &MetaTestSet,
    task: &Task,
    arch: Nb201Arch,
    seeds: u64,
    cache: &mut HashMap<(String, Nb201Arch), (f64, &'static str)>,
    device: &B::Device,
) -> Result<(f64, &'static str), Box<dyn Error>> {
    if let Some(a) = set.truth.accuracy(&arch) {
        return Ok((a, "db"));
    }
    let key = (set.truth.group.clone(), arch);
    if let Some(&v) = cache.get(&key) {
        return Ok(v);
    }
    let mut sum = 0.0;
    for seed in 0..seeds {
        let r = model_zoo::train::<B>(arch, task, &set.truth.protocol, seed, device)?;
        sum += 100.0 * r.test_accuracy.unwrap_or(0.0);
    }
    let v = (sum / seeds as f64, "trained");
    cache.insert(key, v);
    Ok(v)
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
    dispatch(&device, Evaluate { args: &args })?
}

/// The whole evaluation, handed to [`dispatch`] to run on the chosen backend.
struct Evaluate<'a> {
    args: &'a Args,
}

impl WithBackend for Evaluate<'_> {
    type Output = Result<(), Box<dyn Error>>;

    fn run<B: AutodiffBackend>(self, device: B::Device) -> Self::Output {
        evaluate::<B>(self.args, &device)
    }
}

/// Inference on `B`'s inner backend; the ablation predictor and the picks train on `B`.
fn evaluate<B: AutodiffBackend>(args: &Args, device: &B::Device) -> Result<(), Box<dyn Error>> {
    let extractor = CnnExtractor::<B::InnerBackend>::pretrained(device)?;
    let paths: Vec<PathBuf> = args
        .database
        .iter()
        .filter(|p| p.exists())
        .cloned()
        .collect();
    let records: Vec<RunRecord> = model_zoo::database::load(&paths)?;
    let bundle = MetaD2A::<B::InnerBackend>::load(&args.bundle, device)?;
    let data_paths = DataPaths::from_env();
    // The same split as meta-training (seed 0 unless the bundle says otherwise).
    let data = MetaData::from_records(
        &records,
        &data_paths,
        &extractor,
        &MetaDataOptions::default(),
    )?;
    let features: Vec<Features> = data.features();
    println!(
        "{} meta-train runs ({} tasks), {} meta-test datasets",
        data.train.len() + data.valid.len(),
        data.tasks.len() - data.meta_test.len(),
        data.meta_test.len()
    );
    if data.train.len() != bundle.meta().summary.train_examples {
        println!(
            "warning: the bundle was trained on {} examples, this database gives {}: the ablation \
             and the global prior see different data than the bundle (pass the bundle's database)",
            bundle.meta().summary.train_examples,
            data.train.len()
        );
    }

    // Ablation (a): the same predictor trained with a constant dataset input.
    println!("training the ablation predictor (constant dataset input)...");
    let ablation_config = bundle
        .meta()
        .predictor
        .config
        .clone()
        .with_use_dataset(false);
    let train_config = meta_predictor::PredictorTrainConfig {
        seed: args.seed,
        ..Default::default()
    };
    let ablation = meta_predictor::train(
        ablation_config.try_init::<B>(device)?,
        &features,
        &data.train,
        &data.valid,
        &train_config,
        device,
        |_| {},
    )?;
    let ablation_model = ablation.model.valid();

    let mut predictor_md = String::new();
    let mut metad2a_md = String::new();
    let header = "| score | Pearson | Spearman | Kendall τ | P@5 | P@10 | regret@1 (pp) | regret@5 (pp) | archs to best |\n|---|---|---|---|---|---|---|---|---|\n";
    let mut trained_cache = HashMap::new();
    let mut summary: Vec<Regrets> = Vec::new();
    std::fs::create_dir_all(&args.out)?;
    for set in &data.meta_test {
        let name = set.truth.group.replace('/', "-");
        let task_features = &features[set.task];
        let pool: Vec<Nb201Arch> = set.truth.truth.iter().map(|t| t.0).collect();
        let truth: Vec<f64> = set.truth.truth.iter().map(|t| t.1).collect();
        let seeds: Vec<usize> = set.truth.truth.iter().map(|t| t.2).collect();
        let pred = bundle.predict(task_features, &pool, args.draws, args.seed)?;
        let examples: Vec<Example> = pool
            .iter()
            .map(|a| Example {
                task: set.task,
                graph: Nb201Space.arch_to_graph(a),
                accuracy: 0.0,
            })
            .collect();
        let norm = ablation.normalizer;
        let ablated: Vec<f64> = predict_examples(
            &ablation_model,
            &features,
            &examples,
            20,
            1,
            args.seed,
            device,
        )?
        .into_iter()
        .map(|y| norm.inverse(y))
        .collect();
        let cifar = MacroConfig::nb201_cifar10();
        let params: Vec<f64> = pool.iter().map(|a| a.cost(&cifar).params).collect();
        let flops: Vec<f64> = pool.iter().map(|a| a.cost(&cifar).flops).collect();
        let covered = pool
            .iter()
            .filter(|a| data.global_prior.contains_key(a))
            .count();
        let prior: Vec<f64> = pool
            .iter()
            .map(|a| data.global_prior.get(a).map_or(0.0, |p| p.0))
            .collect();
        let scored = [
            Scored {
                name: "MetaD2A predictor",
                scores: pred.clone(),
            },
            Scored {
                name: "(a) same model, constant dataset input",
                scores: ablated,
            },
            Scored {
                name: "(b) params",
                scores: params,
            },
            Scored {
                name: "(b) FLOPs",
                scores: flops,
            },
            Scored {
                name: "(c) global prior (meta-train mean z-score)",
                scores: prior,
            },
        ];
        let _ = writeln!(
            predictor_md,
            "\n## {} ({} archs measured, {}–{} seeds each; global prior covers {covered})\n\n{header}{}",
            set.truth.group,
            pool.len(),
            seeds.iter().min().unwrap_or(&0),
            seeds.iter().max().unwrap_or(&0),
            scored.iter().map(|s| metrics_row(s, &truth)).collect::<Vec<_>>().join("\n")
        );
        scatter(
            &args.out.join(format!("{name}.svg")),
            &set.truth.group,
            &pred,
            &truth,
        )?;

        // Search.
        let task = Task::build(&set.truth.spec, &data_paths)?;
        let options = SearchOptions {
            candidates: args.candidates,
            draws: args.draws,
            seed: args.seed,
            top_k: 5,
            ..SearchOptions::default()
        };
        let result = bundle.search(task_features, &options)?;
        let exhaustive = bundle.search(
            task_features,
            &SearchOptions {
                exhaustive: true,
                ..options.clone()
            },
        )?;
        let global_best = metanas::metad2a::global_best(&data.global_prior, 2)
            .ok_or("no arch ran on two meta-training tasks")?;
        println!(
            "{}: searched in {:.2} s ({} scored); training picks...",
            set.truth.group, result.seconds, result.scored
        );
        let top1 = result.ranked[0].arch;
        let (top1_acc, top1_src) = measured::<B>(
            set,
            &task,
            top1,
            args.train_seeds,
            &mut trained_cache,
            device,
        )?;
        let mut best5 = (f64::NEG_INFINITY, "db");
        for c in &result.ranked {
            let m = measured::<B>(
                set,
                &task,
                c.arch,
                args.train_seeds,
                &mut trained_cache,
                device,
            )?;
            if m.0 > best5.0 {
                best5 = m;
            }
        }
        let ex = measured::<B>(
            set,
            &task,
            exhaustive.ranked[0].arch,
            args.train_seeds,
            &mut trained_cache,
            device,
        )?;
        let gb = measured::<B>(
            set,
            &task,
            global_best,
            args.train_seeds,
            &mut trained_cache,
            device,
        )?;
        let best = set.truth.best();
        let random = set.truth.mean();
        let row = |name: &str, acc: f64, src: &str| {
            format!(
                "| {name} | {acc:.2} ({src}) | {:.2} | {:.0}% |",
                best - acc,
                100.0 * set.truth.fraction_better(acc)
            )
        };
        let _ = writeln!(
            metad2a_md,
            "\n## {} (best known {:.2}% over {} measured archs; search {:.2} s, {} unique valid candidates from {} decoded, {} of them valid)\n\n\
             | pick | accuracy % (source) | regret (pp) | measured archs better |\n|---|---|---|---|\n{}\n{}\n{}\n{}\n{}\n{}\n",
            set.truth.group,
            best,
            pool.len(),
            result.seconds,
            result.scored,
            result.decoded,
            result.valid,
            row(&format!("MetaD2A top-1 `{top1}` (predicted {:.2})", result.ranked[0].predicted_accuracy), top1_acc, top1_src),
            row("MetaD2A best of top-5", best5.0, best5.1),
            row(&format!("exhaustive predictor top-1 `{}`", exhaustive.ranked[0].arch), ex.0, ex.1),
            row(&format!("global-best arch `{global_best}`"), gb.0, gb.1),
            row("random arch (mean of measured pool)", random, "db"),
            row("best known", best, "db"),
        );
        summary.push(Regrets {
            top1: best - top1_acc,
            best5: best - best5.0,
            global_best: best - gb.0,
            random: best - random,
            seconds: result.seconds,
        });
    }
    let avg =
        |f: fn(&Regrets) -> f64| summary.iter().map(f).sum::<f64>() / summary.len().max(1) as f64;
    let intro = format!(
        "Produced by `cargo run --release --example evaluate -- --database crates/model-zoo/data/runs.jsonl --out {}` (bundle `{}`, {} draws, seed {}, \
         unmeasured picks trained over {} seeds with the dataset's protocol). Accuracies are test accuracies (%) \
         under the database's mini protocol; \"db\" values are the database's mean over its seeds.\n",
        args.out.display(),
        args.bundle.display(),
        args.draws,
        args.seed,
        args.train_seeds
    );
    let meta_line = format!(
        "Meta-trained on {} runs over {} tasks ({} validation runs); predictor kept at epoch {}.\n",
        bundle.meta().summary.train_examples,
        bundle.meta().summary.tasks,
        bundle.meta().summary.valid_examples,
        bundle.meta().predictor.best_epoch
    );
    std::fs::write(
        args.out.join("predictor.md"),
        format!(
            "# Meta-predictor on the meta-test datasets\n\n{intro}\n{meta_line}\n\
             Regret@k: best measured accuracy minus the best among the k highest-scored archs (percentage points). \
             \"archs to best\": position of the best measured arch in the score's order. \
             Scatter plots: `<dataset>.svg` in this folder.\n{predictor_md}"
        ),
    )?;
    std::fs::write(
        args.out.join("metad2a.md"),
        format!(
            "# MetaD2A search on the meta-test datasets\n\n{intro}\n{meta_line}\n\
             Mean regret over the {} datasets (pp): MetaD2A top-1 {:.2}, best of top-5 {:.2}, global-best arch {:.2}, \
             random arch {:.2}. Mean search time {:.2} s.\n{metad2a_md}",
            summary.len(),
            avg(|s| s.top1),
            avg(|s| s.best5),
            avg(|s| s.global_best),
            avg(|s| s.random),
            avg(|s| s.seconds),
        ),
    )?;
    println!(
        "wrote {}/predictor.md and {}/metad2a.md",
        args.out.display(),
        args.out.display()
    );
    Ok(())
}
