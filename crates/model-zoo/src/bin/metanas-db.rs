//! `metanas-db`: build, resume, shard, merge and inspect the database of training runs.
//!
//! ```text
//! metanas-db build  --plan crates/model-zoo/data/plan.json --store runs.jsonl [--shard 0/4] [--workers 2]
//! metanas-db merge  --out crates/model-zoo/data/runs.jsonl a.jsonl b.jsonl ...
//! metanas-db status --plan crates/model-zoo/data/plan.json crates/model-zoo/data/runs.jsonl
//! metanas-db study  runs.jsonl [--nb201 path/to/nb201_groundtruth.csv]
//! metanas-db plan   --nb201 path/to/nb201_groundtruth.csv [--out crates/model-zoo/data]
//! metanas-db analyze crates/model-zoo/data/v2/runs.jsonl --panel crates/model-zoo/data/v2/plan.json
//! metanas-db compare a.jsonl b.jsonl
//! ```
//! The binary only parses arguments and prints; the work is in `model_zoo::database`.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Instant;

use clap::{Parser, Subcommand};
use datasets::DataPaths;
use indicatif::{ProgressBar, ProgressStyle};
use model_zoo::database::{self, BuildOptions, Progress, RunRecord, Shard, Trained};
use model_zoo::plan::Plan;
use model_zoo::presets;
use model_zoo::stats::{spearman, task_signal};
use search_space::benchmark::{Dataset, Nb201Benchmark};

#[derive(Parser)]
#[command(
    name = "metanas-db",
    about = "Build and inspect the metanas database of training runs"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write the shipped plans (protocol study and database) as JSON.
    Plan {
        /// Output folder.
        #[arg(long, default_value = "crates/model-zoo/data")]
        out: PathBuf,
        /// NAS-Bench-201 table, for the known good cells.
        #[arg(long)]
        nb201: PathBuf,
    },
    /// Run the plan's missing jobs, appending each result to the store as it finishes.
    Build {
        /// The plan (JSON).
        #[arg(long)]
        plan: PathBuf,
        /// The store to append to (created if missing).
        #[arg(long)]
        store: PathBuf,
        /// Run only part i of n of the plan's (task, arch) pairs (`i/n`; all seeds of a pair stay together).
        #[arg(long, default_value = "0/1")]
        shard: Shard,
        /// Worker threads, each training one network at a time.
        #[arg(long, default_value_t = 1)]
        workers: usize,
        /// Stop after this many new runs.
        #[arg(long)]
        limit: Option<usize>,
        /// Stores whose records count as done (e.g. the committed database).
        #[arg(long)]
        done: Vec<PathBuf>,
        /// Run only groups whose name starts with one of these (e.g. `test/`).
        #[arg(long)]
        groups: Vec<String>,
        /// Run only seeds up to this one (e.g. 3: the first four meta-test seeds).
        #[arg(long)]
        max_seed: Option<u64>,
        /// Keep each trained network's weights in this folder as `<sha256>.bin` (a Burn
        /// full-precision binary record of the tested network), named by the record's `weights`.
        #[arg(long)]
        save_weights: Option<PathBuf>,
    },
    /// Merge stores into one, de-duplicating runs and checking that protocols agree.
    Merge {
        /// Output store (written atomically).
        #[arg(long)]
        out: PathBuf,
        /// Input stores.
        inputs: Vec<PathBuf>,
        /// Replace `--out` even if the merge holds fewer records than it does now.
        #[arg(long)]
        force: bool,
    },
    /// Count records per group, and what a plan still lacks.
    Status {
        /// A plan to compare against.
        #[arg(long)]
        plan: Option<PathBuf>,
        /// Stores.
        stores: Vec<PathBuf>,
    },
    /// Signal and noise per task: SNR, seeds needed for SNR 3, Spearman vs NAS-Bench-201.
    Study {
        /// Stores.
        stores: Vec<PathBuf>,
        /// NAS-Bench-201 table for the rank correlation with CIFAR-10.
        #[arg(long)]
        nb201: Option<PathBuf>,
    },
    /// The signal report: composition, seed noise, split-half reliability, cross-task
    /// agreement, task × cell interaction share, regret of trivial picks (markdown).
    Analyze {
        /// The store.
        store: PathBuf,
        /// Panel cells: a JSON array of NB201 cell strings, or a plan with a `panel` field
        /// (default: the cells measured on every meta-test task).
        #[arg(long)]
        panel: Option<PathBuf>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Seed of the random splits and bootstraps.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// Two builds of the same runs side by side (another backend, kernel or machine): per
    /// group, the paired difference B − A of test accuracy against the seed noise of A.
    Compare {
        /// Build A (the reference): a store.
        a: PathBuf,
        /// Build B: a store with (some of) the same runs.
        b: PathBuf,
        /// Print the comparison as JSON.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn read_plan(path: &PathBuf) -> Result<Plan, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// A progress bar on a terminal; a log line every 25 runs otherwise (background builds).
struct Report {
    bar: Option<ProgressBar>,
    start: Instant,
    total: Mutex<(usize, usize)>,
}

impl Progress for Report {
    fn start(&self, total: usize) {
        self.total.lock().expect("lock").1 = total;
        if let Some(bar) = &self.bar {
            bar.set_length(total as u64);
        } else {
            eprintln!("{total} runs to do");
        }
    }

    fn done(&self, r: &RunRecord) {
        let mut t = self.total.lock().expect("lock");
        t.0 += 1;
        let acc = r.result.test_accuracy.unwrap_or(f64::NAN);
        if let Some(bar) = &self.bar {
            bar.inc(1);
            bar.set_message(format!("{} acc {acc:.3}", r.group));
        } else if t.0.is_multiple_of(25) || t.0 == t.1 {
            let el = self.start.elapsed().as_secs_f64();
            let eta = el / t.0 as f64 * (t.1 - t.0) as f64;
            eprintln!(
                "{}/{} runs, {:.0} runs/h, eta {:.0} min",
                t.0,
                t.1,
                t.0 as f64 / el * 3600.0,
                eta / 60.0
            );
        }
    }
}

fn run(cli: Cli) -> Result<(), String> {
    let paths = DataPaths::from_env();
    match cli.command {
        Command::Plan { out, nb201 } => {
            let bench = Nb201Benchmark::from_path(&nb201).map_err(|e| e.to_string())?;
            let good = presets::good_cells(&bench, 30);
            let panel = presets::panel_cells(&good, 70, 20261202);
            std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
            for (file, plan) in [
                ("study-plan.json", presets::study_plan()),
                ("plan.json", presets::database_plan(good)),
                ("v2/plan.json", presets::database_plan_v2(panel)),
            ] {
                let path = out.join(file);
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
                }
                let text = serde_json::to_string_pretty(&plan).expect("plans serialise");
                std::fs::write(&path, text + "\n")
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                let jobs = plan.jobs(&paths).map_err(|e| e.to_string())?;
                println!("wrote {} ({} runs)", path.display(), jobs.len());
            }
            Ok(())
        }
        Command::Build {
            plan,
            store,
            shard,
            workers,
            limit,
            done,
            save_weights,
            groups,
            max_seed,
        } => {
            let plan = read_plan(&plan)?;
            let bar = std::io::stderr().is_terminal().then(|| {
                let b = ProgressBar::new(0);
                b.set_style(
                    ProgressStyle::with_template(
                        "{bar:40} {pos}/{len} runs  {elapsed} elapsed, eta {eta}  {msg}",
                    )
                    .expect("valid template"),
                );
                b
            });
            let progress = Report {
                bar,
                start: Instant::now(),
                total: Mutex::new((0, 0)),
            };
            let options = BuildOptions {
                shard,
                workers,
                save_weights: save_weights.clone(),
                limit,
                done,
                groups,
                max_seed,
            };
            let keep = save_weights.is_some();
            let report =
                database::build(&plan, &store, &paths, &options, &progress, |job, task| {
                    if keep {
                        model_zoo::train_cpu_with_weights(job.arch, task, &job.protocol, job.seed)
                            .map(|(result, weights)| Trained { result, weights })
                    } else {
                        model_zoo::train_cpu(job.arch, task, &job.protocol, job.seed).map(
                            |result| Trained {
                                result,
                                weights: None,
                            },
                        )
                    }
                    .map_err(|e| e.to_string())
                })
                .map_err(|e| e.to_string())?;
            if let Some(bar) = &progress.bar {
                bar.finish();
            }
            for c in &report.corrupt {
                eprintln!(
                    "warning: {}: line {}: {}",
                    store.display(),
                    c.line,
                    c.message
                );
            }
            println!(
                "planned {} runs in shard {}/{}: {} already stored, {} trained now ({} failed)",
                report.planned, shard.index, shard.count, report.skipped, report.ran, report.failed
            );
            Ok(())
        }
        Command::Merge { out, inputs, force } => {
            let r = database::merge(&inputs, &out, force).map_err(|e| e.to_string())?;
            for (p, c) in &r.corrupt {
                eprintln!(
                    "warning: {}: line {} skipped: {}",
                    p.display(),
                    c.line,
                    c.message
                );
            }
            println!(
                "wrote {} records to {} ({} duplicates dropped)",
                r.records,
                out.display(),
                r.duplicates
            );
            Ok(())
        }
        Command::Status { plan, stores } => {
            let mut records = Vec::new();
            for store in &stores {
                let c = model_zoo::store::read_store::<RunRecord>(store, &database::runs_header())
                    .map_err(|e| e.to_string())?;
                for l in &c.corrupt {
                    eprintln!(
                        "warning: {}: line {}: {}",
                        store.display(),
                        l.line,
                        l.message
                    );
                }
                for (r, line) in c.records.into_iter().zip(c.lines) {
                    match r.check() {
                        Ok(()) => records.push(r),
                        Err(m) => eprintln!("warning: {}: line {line}: {m}", store.display()),
                    }
                }
            }
            let mut groups: BTreeMap<&str, (usize, usize, Vec<&datasets::TaskSpec>)> =
                BTreeMap::new();
            for r in &records {
                let g = groups.entry(&r.group).or_default();
                g.0 += 1;
                g.1 += usize::from(!r.result.is_ok());
                if !g.2.contains(&&r.task) {
                    g.2.push(&r.task);
                }
            }
            println!("group\truns\tfailed\ttasks");
            for (name, (runs, failed, tasks)) in &groups {
                println!("{name}\t{runs}\t{failed}\t{}", tasks.len());
            }
            if let Some(plan) = plan {
                let plan = read_plan(&plan)?;
                let jobs = plan.jobs(&paths).map_err(|e| e.to_string())?;
                let have: std::collections::HashSet<_> = records.iter().map(|r| r.key()).collect();
                let missing = jobs.iter().filter(|j| !have.contains(&j.key())).count();
                println!("plan: {} runs, {} missing", jobs.len(), missing);
            }
            Ok(())
        }
        Command::Study { stores, nb201 } => {
            let records = database::load(&stores).map_err(|e| e.to_string())?;
            let bench = nb201
                .map(|p| Nb201Benchmark::from_path(&p).map_err(|e| e.to_string()))
                .transpose()?;
            let mut tasks: BTreeMap<(String, String), Vec<&RunRecord>> = BTreeMap::new();
            for r in &records {
                let key = r.task.key();
                tasks.entry((r.group.clone(), key)).or_default().push(r);
            }
            println!("| group | task | archs | seeds | s/run (median) | mean acc (range) | r | SNR 1 seed | SNR recorded | seeds for SNR 3 | Spearman vs NB201-C10 |");
            println!("|---|---|---|---|---|---|---|---|---|---|---|");
            for ((group, _), runs) in &tasks {
                let Some(s) = task_signal(runs) else { continue };
                let rho = bench.as_ref().and_then(|b| {
                    let (ours, theirs): (Vec<f64>, Vec<f64>) = s
                        .per_arch
                        .iter()
                        .filter_map(|(a, acc)| {
                            b.get(a, Dataset::Cifar10).map(|m| (*acc, m.test_accuracy))
                        })
                        .unzip();
                    spearman(&ours, &theirs)
                });
                let t = &runs[0].task;
                println!(
                    "| {group} | {}-way {}px {}+{}/class | {} | {} | {:.2} | {:.3} ({:.3}–{:.3}) | {:.2} | {:.2} | {:.2} | {} | {} |",
                    t.classes.len(),
                    t.resolution,
                    t.train_per_class,
                    t.test_per_class,
                    s.archs,
                    s.seeds,
                    s.median_seconds,
                    s.mean_accuracy,
                    s.range.0,
                    s.range.1,
                    s.r,
                    s.snr_at(1),
                    s.snr,
                    s.seeds_for(3.0),
                    rho.map_or("–".into(), |r| format!("{r:.2}")),
                );
            }
            Ok(())
        }
        Command::Analyze {
            store,
            panel,
            json,
            seed,
        } => analyze(&store, panel.as_ref(), json, seed),
        Command::Compare { a, b, json } => {
            let a = database::load(std::slice::from_ref(&a)).map_err(|e| e.to_string())?;
            let b = database::load(std::slice::from_ref(&b)).map_err(|e| e.to_string())?;
            let comparison = model_zoo::compare::compare(&a, &b);
            if json {
                let text = serde_json::to_string_pretty(&comparison).expect("reports serialise");
                println!("{text}");
            } else {
                print!("{comparison}");
            }
            Ok(())
        }
    }
}

/// `metanas-db analyze`: read the store (and panel), print the report.
fn analyze(store: &PathBuf, panel: Option<&PathBuf>, json: bool, seed: u64) -> Result<(), String> {
    use model_zoo::analysis::{self, AnalyzeOptions};
    let records = database::load(std::slice::from_ref(store)).map_err(|e| e.to_string())?;
    let panel = panel
        .map(|p| {
            let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
            analysis::parse_panel(&text).map_err(|e| format!("{}: {e}", p.display()))
        })
        .transpose()?;
    let options = AnalyzeOptions {
        seed,
        ..AnalyzeOptions::default()
    };
    let report = analysis::analyze(&records, panel.as_deref(), &options);
    if json {
        let text = serde_json::to_string_pretty(&report).expect("reports serialise");
        println!("{text}");
    } else {
        print!("{report}");
    }
    Ok(())
}
