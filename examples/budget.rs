//! Budgeted search on the meta-test sets: regret after k = 1, 2, 3, 5, 10 trained cells for the
//! predictor-guided GP and its baselines at the same budget (`metanas::evaluate::budget_curves`).
//!
//! ```text
//! cargo run --release --example budget -- --out docs/results
//! ```
//!
//! Each set's pool is its measured panel and a "training run" returns one of the cell's seeds
//! from the database, drawn per repetition, so the curves cost seconds, not CPU-hours; the
//! answer after k runs is judged by the mean of the cell's other seeds. Writes `budget.md`,
//! `budget.json` and one plot per set (`budget-<set>.svg`, regret vs k with ± 1 SE bars).
//! `--device cpu|wgpu[:N]|cuda[:N]` picks the backend MetaD2A scores on (default:
//! `$METANAS_DEVICE`, else `cpu`); nothing is trained.

use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use burn::tensor::backend::AutodiffBackend;
use clap::Parser;
use datasets::DataPaths;
use metanas::device::{dispatch, DeviceSpec, WithBackend};
use metanas::evaluate::{budget_curves, BudgetCurveOptions, BudgetCurves, MetaD2AInput, SetCurves};
use metanas::MetaD2A;
use model_zoo::analysis::parse_panel;
use model_zoo::database::RunRecord;
use plotters::prelude::*;

#[derive(Debug, Parser)]
#[command(about = "Regret after k trained cells for every budgeted method on the meta-test sets")]
struct Args {
    /// The database.
    #[arg(long, default_value = "crates/model-zoo/data/v2/runs.jsonl")]
    store: PathBuf,
    /// The plan whose panel the meta-test sets were measured on.
    #[arg(long, default_value = "crates/model-zoo/data/v2/plan.json")]
    plan: PathBuf,
    /// The MetaD2A bundle.
    #[arg(long, default_value = "crates/metanas/bundle")]
    bundle: PathBuf,
    /// Leave MetaD2A out (global best, random and REA only).
    #[arg(long)]
    no_metad2a: bool,
    /// Where the reports go.
    #[arg(long, default_value = "docs/results")]
    out: PathBuf,
    /// Budgets, ascending.
    #[arg(long, value_delimiter = ',', default_value = "1,2,3,5,10")]
    budgets: Vec<usize>,
    /// Repetitions per set and method.
    #[arg(long, default_value_t = 50)]
    repeats: usize,
    /// Seed of the draws and the methods.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Backend and device: cpu, wgpu, wgpu:N, cuda or cuda:N (default: $METANAS_DEVICE, else cpu).
    #[arg(long)]
    device: Option<DeviceSpec>,
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

/// The curves, handed to [`dispatch`] to run on the chosen backend.
struct Job<'a> {
    args: &'a Args,
    records: &'a [RunRecord],
    panel: &'a [search_space::Nb201Arch],
}

impl WithBackend for Job<'_> {
    type Output = Result<BudgetCurves, Box<dyn Error>>;

    fn run<B: AutodiffBackend>(self, device: B::Device) -> Self::Output {
        let args = self.args;
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
        let options = BudgetCurveOptions {
            budgets: args.budgets.clone(),
            repeats: args.repeats,
            seed: args.seed,
            ..BudgetCurveOptions::default()
        };
        Ok(budget_curves(
            self.records,
            self.panel,
            &DataPaths::from_env(),
            metad2a.as_ref(),
            &options,
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
    let curves = dispatch(&device, job)??;
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
        "# Budgeted search on the meta-test sets\n\nProduced by `cargo run --release --example \
         budget -- {}` on the store `{}` ({} records), panel from `{}`, bundle `{}`{}. Each \
         set's pool is its measured panel; a training run returns one of the cell's seeds, \
         drawn per repetition; the cell answered after k runs is judged by the mean of its \
         other seeds, against the best panel cell's mean (regret, pp).\n\n{curves}",
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
    );
    write(&args.out.join("budget.md"), md.as_bytes())?;
    write(
        &args.out.join("budget.json"),
        serde_json::to_string_pretty(&curves)?.as_bytes(),
    )?;
    for set in &curves.sets {
        let path = args
            .out
            .join(format!("budget-{}.svg", set.group.replace('/', "-")));
        plot(&path, set).map_err(|e| format!("drawing {}: {e}", path.display()))?;
    }
    println!("{curves}");
    println!("wrote {}", args.out.join("budget.md").display());
    Ok(())
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), Box<dyn Error>> {
    std::fs::write(path, bytes).map_err(|e| format!("writing {}: {e}", path.display()).into())
}

/// Regret vs k per method, ± 1 SE bars.
fn plot(path: &Path, set: &SetCurves) -> Result<(), Box<dyn Error>> {
    let k_max = set
        .methods
        .iter()
        .flat_map(|m| m.points.iter().map(|p| p.k))
        .max()
        .unwrap_or(1) as f64;
    let hi = set
        .methods
        .iter()
        .flat_map(|m| m.points.iter().map(|p| p.regret_pp + p.se_pp))
        .fold(1.0, f64::max);
    let lo = set
        .methods
        .iter()
        .flat_map(|m| m.points.iter().map(|p| p.regret_pp - p.se_pp))
        .fold(0.0, f64::min);
    let root = SVGBackend::new(path, (760, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("{}: regret after k trained cells (± 1 SE)", set.group),
            ("sans-serif", 16),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(48)
        .build_cartesian_2d(0.5..k_max + 0.5, lo..hi * 1.05)?;
    chart
        .configure_mesh()
        .x_desc("trained cells k")
        .y_desc("regret (pp)")
        .draw()?;
    for (i, m) in set.methods.iter().enumerate() {
        let colour = Palette99::pick(i).to_rgba();
        let offset = (i as f64 - set.methods.len() as f64 / 2.0) * 0.06;
        let pts: Vec<(f64, f64)> = m
            .points
            .iter()
            .map(|p| (p.k as f64 + offset, p.regret_pp))
            .collect();
        chart
            .draw_series(LineSeries::new(pts.clone(), colour.stroke_width(2)))?
            .label(m.method.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], colour));
        for p in &m.points {
            let x = p.k as f64 + offset;
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(x, p.regret_pp - p.se_pp), (x, p.regret_pp + p.se_pp)],
                colour.stroke_width(1),
            )))?;
        }
        chart.draw_series(
            pts.iter()
                .map(|&(x, y)| Circle::new((x, y), 3, colour.filled())),
        )?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()?;
    root.present()?;
    Ok(())
}
