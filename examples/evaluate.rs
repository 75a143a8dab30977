//! The evaluation harness: every method on every meta-test set of the v2 database, with standard
//! errors (`metanas::evaluate`).
//!
//! ```text
//! cargo run --release --example evaluate -- --out docs/results
//! ```
//!
//! Reads the store and the plan's panel, scores the zero-cost proxies, the global best of the
//! meta-training tasks, a random cell and MetaD2A (`--bundle`; `--no-metad2a` skips it), trains
//! every pick outside the panel with the set's protocol (`--train-seeds` seeds, kept in
//! `--eval-store` so a second run trains nothing), and writes `evaluation.md`,
//! `evaluation.json` and one regret plot per set (`evaluation-<set>.svg`) to `--out`.
//! `--device cpu|wgpu[:N]|cuda[:N]` picks the backend (default: `$METANAS_DEVICE`, else `cpu`);
//! the database's runs were made on the CPU backend, so picks trained on another backend differ
//! from them by that backend's rounding.

use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use burn::tensor::backend::AutodiffBackend;
use clap::Parser;
use datasets::DataPaths;
use meta_predictor::proxies::Proxy;
use metanas::base::Base;
use metanas::device::{dispatch, DeviceSpec, WithBackend};
use metanas::evaluate::{evaluate, BaseInput, EvaluateOptions, Evaluation, Inputs, MetaD2AInput};
use metanas::MetaD2A;
use model_zoo::analysis::parse_panel;
use model_zoo::database::RunRecord;
use plotters::prelude::*;

#[derive(Debug, Parser)]
#[command(about = "Evaluate every method on the meta-test sets of the database")]
struct Args {
    /// The database.
    #[arg(long, default_value = "crates/model-zoo/data/v2/runs.jsonl")]
    store: PathBuf,
    /// The plan whose panel the meta-test sets were measured on.
    #[arg(long, default_value = "crates/model-zoo/data/v2/plan.json")]
    plan: PathBuf,
    /// Store of the runs trained for picks outside the panel (created if missing; reused).
    #[arg(long, default_value = "crates/model-zoo/data/v2/evaluate.jsonl")]
    eval_store: PathBuf,
    /// The MetaD2A bundle.
    #[arg(long, default_value = "crates/metanas/bundle")]
    bundle: PathBuf,
    /// Leave MetaD2A out (proxies, global best and random only).
    #[arg(long)]
    no_metad2a: bool,
    /// Where the reports go.
    #[arg(long, default_value = "docs/results")]
    out: PathBuf,
    /// Seeds a pick outside the panel is trained with.
    #[arg(long, default_value_t = 3)]
    train_seeds: usize,
    /// Size of MetaD2A's best-of-top-k oracle (0 skips it).
    #[arg(long, default_value_t = 30)]
    oracle_top: usize,
    /// Seeds each oracle cell outside the panel is trained with.
    #[arg(long, default_value_t = 1)]
    oracle_seeds: usize,
    /// Candidates MetaD2A generates.
    #[arg(long, default_value_t = 500)]
    candidates: usize,
    /// Bootstrap resamples.
    #[arg(long, default_value_t = 1000)]
    bootstrap: usize,
    /// Seed of the bootstraps, minibatches and searches.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Zero-cost proxies scored over the panel and MetaD2A's pool, and combined with its
    /// predictor (comma-separated; empty for none, which also skips the combination).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "synflow,naswot,jacob_cov,snip,grad_norm,params,flops"
    )]
    proxies: Vec<String>,
    /// Proxies also scored over every isomorphism class (comma-separated; empty for none).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "synflow,naswot,params,flops"
    )]
    all_cells_proxies: Vec<String>,
    /// Backend and device: cpu, wgpu, wgpu:N, cuda or cuda:N (default: $METANAS_DEVICE, else cpu).
    #[arg(long)]
    device: Option<DeviceSpec>,
    /// A BASE bundle: adds BASE (adapted, argmax cell) and the same supernet from scratch.
    #[arg(long)]
    base_bundle: Option<PathBuf>,
    /// BASE's (and the from-scratch search's) adaptation steps.
    #[arg(long, default_value_t = 50)]
    base_steps: usize,
    /// BASE's adaptation seeds (comma-separated; one pick each, regret averaged).
    #[arg(long, value_delimiter = ',', default_value = "0")]
    base_seeds: Vec<u64>,
    /// Adam learning rate of the cell distribution at adaptation (default: the bundle's).
    #[arg(long)]
    base_arch_lr: Option<f64>,
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

struct Job<'a> {
    args: &'a Args,
    records: &'a [RunRecord],
    panel: &'a [search_space::Nb201Arch],
}

impl WithBackend for Job<'_> {
    type Output = Result<Evaluation, Box<dyn Error>>;

    fn run<B: AutodiffBackend>(self, device: B::Device) -> Self::Output {
        let args = self.args;
        let data = DataPaths::from_env();
        let (model, extractor) = if args.no_metad2a {
            (None, None)
        } else {
            // The extractor the bundle was trained on (its recorded id).
            let model = MetaD2A::<B::InnerBackend>::load(&args.bundle, &device)?;
            let extractor = model.extractor(&device)?;
            (Some(model), Some(extractor))
        };
        let metad2a = match (&model, &extractor) {
            (Some(model), Some(extractor)) => Some(MetaD2AInput {
                model,
                extractor: &**extractor,
            }),
            _ => None,
        };
        let base_model = match &args.base_bundle {
            Some(dir) => Some(Base::<B>::load(dir, &device)?),
            None => None,
        };
        let inputs = Inputs {
            records: self.records,
            panel: self.panel,
            data: &data,
            metad2a,
            base: base_model.as_ref().map(|model| BaseInput {
                model,
                steps: args.base_steps,
                seeds: args.base_seeds.clone(),
                arch_lr: args.base_arch_lr,
            }),
            store: Some(&args.eval_store),
        };
        let options = EvaluateOptions {
            seed: args.seed,
            bootstrap: args.bootstrap,
            train_seeds: args.train_seeds,
            candidates: args.candidates,
            oracle_top: args.oracle_top,
            oracle_seeds: args.oracle_seeds,
            proxies: parse_proxies(&args.proxies)?,
            all_cells_proxies: parse_proxies(&args.all_cells_proxies)?,
            ..EvaluateOptions::default()
        };
        Ok(evaluate::<B, B::InnerBackend>(
            &inputs,
            &options,
            &device,
            &mut |line| println!("{line}"),
        )?)
    }
}

fn run(args: Args) -> Result<(), Box<dyn Error>> {
    let device = DeviceSpec::resolve(args.device)?;
    let records = model_zoo::database::load(std::slice::from_ref(&args.store))?;
    let panel = parse_panel(&std::fs::read_to_string(&args.plan).map_err(|e| {
        format!(
            "reading the plan {}: {e} (pass --plan with the plan whose panel the store measured)",
            args.plan.display()
        )
    })?)?;
    let job = Job {
        args: &args,
        records: &records,
        panel: &panel,
    };
    let evaluation = dispatch(&device, job)??;
    std::fs::create_dir_all(&args.out)
        .map_err(|e| format!("creating {}: {e}", args.out.display()))?;
    // As typed in a shell: empty or spaced arguments quoted (`--proxies ""`).
    let command: Vec<String> = std::env::args()
        .skip(1)
        .map(|a| {
            if a.is_empty() || a.contains(char::is_whitespace) {
                format!("\"{a}\"")
            } else {
                a
            }
        })
        .collect();
    let md = format!(
        "# Evaluation on the meta-test sets\n\nProduced by `cargo run --release --example evaluate \
         -- {}` on the store `{}` ({} records), panel from `{}`, bundle `{}`{}; picks outside the \
         panel trained over {} seeds with the set's protocol ({} for the cells of the top-k \
         oracle; kept in `{}`, {} trained by this run){}. Accuracies are test accuracies (%) under the database's protocol.\n\n{evaluation}",
        command.join(" "),
        args.store.display(),
        records.len(),
        args.plan.display(),
        args.bundle.display(),
        if args.no_metad2a {
            " (not evaluated)"
        } else {
            ""
        },
        args.train_seeds,
        args.oracle_seeds,
        args.eval_store.display(),
        evaluation.trained_runs,
        args.base_bundle.as_ref().map_or(String::new(), |b| format!(
            "; BASE bundle `{}` and the same supernet from scratch adapted for {} steps with \
             seed(s) {:?}, architecture learning rate {}",
            b.display(),
            args.base_steps,
            args.base_seeds,
            args.base_arch_lr
                .map_or("the bundle's".to_string(), |lr| lr.to_string())
        )),
    );
    write(&args.out.join("evaluation.md"), md.as_bytes())?;
    write(
        &args.out.join("evaluation.json"),
        serde_json::to_string_pretty(&evaluation)?.as_bytes(),
    )?;
    for set in &evaluation.sets {
        let path = args
            .out
            .join(format!("evaluation-{}.svg", set.group.replace('/', "-")));
        plot(&path, set).map_err(|e| format!("drawing {}: {e}", path.display()))?;
    }
    println!("wrote {}", args.out.join("evaluation.md").display());
    Ok(())
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), Box<dyn Error>> {
    std::fs::write(path, bytes).map_err(|e| format!("writing {}: {e}", path.display()).into())
}

/// Regret per method with ±1 SE bars, best first; oracles in grey.
fn plot(path: &Path, set: &metanas::evaluate::SetEvaluation) -> Result<(), Box<dyn Error>> {
    let mut rows: Vec<_> = set.methods.iter().collect();
    rows.sort_by(|a, b| a.regret.regret_pp.total_cmp(&b.regret.regret_pp));
    let hi = rows
        .iter()
        .map(|m| m.regret.regret_pp + m.regret.se_pp)
        .fold(1.0, f64::max);
    let lo = rows
        .iter()
        .map(|m| m.regret.regret_pp - m.regret.se_pp)
        .fold(0.0, f64::min);
    let height = 80 + 22 * rows.len() as u32;
    let root = SVGBackend::new(path, (900, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let n = rows.len() as i32;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("{}: regret vs the best panel cell (± 1 SE)", set.group),
            ("sans-serif", 16),
        )
        .margin(10)
        .x_label_area_size(36)
        .y_label_area_size(400)
        .build_cartesian_2d(lo..hi * 1.05, (0..n).into_segmented())?;
    let labels: Vec<String> = rows
        .iter()
        .map(|m| {
            format!(
                "{}{} · {}",
                m.method,
                if m.oracle { " (oracle)" } else { "" },
                m.pool
            )
        })
        .collect();
    chart
        .configure_mesh()
        .disable_y_mesh()
        .x_desc("regret (pp)")
        .y_labels(rows.len())
        .y_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) => labels.get(*i as usize).cloned().unwrap_or_default(),
            _ => String::new(),
        })
        .draw()?;
    for (i, m) in rows.iter().enumerate() {
        let colour = if m.oracle {
            RGBColor(150, 150, 150)
        } else {
            BLUE
        };
        let y = SegmentValue::CenterOf(i as i32);
        let (r, se) = (m.regret.regret_pp, m.regret.se_pp);
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(r - se, y.clone()), (r + se, y.clone())],
            colour.stroke_width(2),
        )))?;
        chart.draw_series(std::iter::once(Circle::new(
            (r, y.clone()),
            4,
            colour.filled(),
        )))?;
    }
    root.present()?;
    Ok(())
}

/// Proxy names from a comma-separated flag (empty entries ignored, so `--proxies ""` is none).
fn parse_proxies(names: &[String]) -> Result<Vec<Proxy>, Box<dyn Error>> {
    names
        .iter()
        .map(|n| n.trim())
        .filter(|n| !n.is_empty())
        .map(|n| {
            n.parse::<Proxy>()
                .map_err(|e| format!("--proxies: {e}").into())
        })
        .collect()
}
