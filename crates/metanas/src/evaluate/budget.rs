//! Budgeted search in the harness: every method at budgets of k trained cells on every meta-test
//! set, with the database's runs as the measurements.
//!
//! On a set, the pool is its panel (the cells measured there over several seeds). One
//! *repetition* draws, for every panel cell, which of its seeds a "training run" returns, and
//! runs each method for the largest budget with that repetition as its seed; the answer after
//! `k` runs is judged by the mean of the answered cell's *other* seeds (the seed the method saw
//! is left out, so a lucky run does not flatter its own pick; a cell with one run keeps it). The
//! regret is the best panel cell's mean minus that, averaged over the repetitions, with the
//! standard error over repetitions. The best cell's mean carries the winner's curse (it is the
//! maximum of noisy means), which shifts every method's regret up alike.

use std::collections::HashMap;
use std::fmt;

use burn::tensor::backend::Backend;
use datasets::{DataPaths, Task};
use model_zoo::database::RunRecord;
use model_zoo::stats::mean;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use search_space::Nb201Arch;
use serde::Serialize;

use crate::budget::{run_budget, BudgetMethod, GpPool};
use crate::evaluate::{train_scores, EvaluateError, MetaD2AInput, SetTruth};

/// Settings of [`budget_curves`].
#[derive(Clone, Debug, Serialize)]
pub struct BudgetCurveOptions {
    /// Budgets (trained cells) the curves report, ascending; the largest is run.
    pub budgets: Vec<usize>,
    /// Repetitions per set and method (each a fresh draw of which seed a run returns).
    pub repeats: usize,
    /// Seed of the draws and of the methods.
    pub seed: u64,
    /// Image draws MetaD2A's predictor averages.
    pub draws: usize,
    /// Fewest meta-training tasks a cell must be measured on to take part in the global-best
    /// ranking.
    pub min_train_tasks: usize,
}

impl Default for BudgetCurveOptions {
    fn default() -> Self {
        Self {
            budgets: vec![1, 2, 3, 5, 10],
            repeats: 50,
            seed: 0,
            draws: 10,
            min_train_tasks: 5,
        }
    }
}

/// One method's regret at one budget on one set.
#[derive(Clone, Debug, Serialize)]
pub struct CurvePoint {
    /// Trained cells.
    pub k: usize,
    /// Mean regret over the repetitions (pp).
    pub regret_pp: f64,
    /// Its standard error (pp).
    pub se_pp: f64,
}

/// One method's curve on one set.
#[derive(Clone, Debug, Serialize)]
pub struct MethodCurve {
    /// The method.
    pub method: String,
    /// Regret per budget.
    pub points: Vec<CurvePoint>,
    /// Mean wall seconds per run spent choosing (fits, acquisition), measurement excluded.
    pub choose_seconds_per_step: f64,
}

/// Every method's curve on one meta-test set.
#[derive(Clone, Debug, Serialize)]
pub struct SetCurves {
    /// The set's plan group.
    pub group: String,
    /// Panel cells (the pool).
    pub cells: usize,
    /// Fewest and most seeds of a panel cell.
    pub seeds: (usize, usize),
    /// The best panel cell's mean accuracy (%).
    pub best_pct: f64,
    /// The curves.
    pub methods: Vec<MethodCurve>,
}

/// The curves on every meta-test set.
#[derive(Clone, Debug, Serialize)]
pub struct BudgetCurves {
    /// The settings.
    pub options: BudgetCurveOptions,
    /// Per set.
    pub sets: Vec<SetCurves>,
}

/// Runs every budgeted method on every meta-test set of `records`, measuring by the panel's runs.
/// The predictor-guided GP and the predictor's top-k need `metad2a`; without it they are left
/// out.
pub fn budget_curves<M: Backend>(
    records: &[RunRecord],
    panel: &[Nb201Arch],
    data: &DataPaths,
    metad2a: Option<&MetaD2AInput<'_, M>>,
    options: &BudgetCurveOptions,
    log: &mut dyn FnMut(&str),
) -> Result<BudgetCurves, EvaluateError> {
    let bad = |why: &str| {
        Err(EvaluateError::Option {
            option: "budgets",
            why: why.to_string(),
        })
    };
    let max_k = match options.budgets.iter().max() {
        Some(&k) if k > 0 => k,
        _ => return bad("give at least one budget ≥ 1"),
    };
    if options.budgets.windows(2).any(|w| w[0] >= w[1]) {
        return bad("budgets must be strictly ascending");
    }
    if options.repeats < 2 {
        return Err(EvaluateError::Option {
            option: "repeats",
            why: "at least 2 repetitions are needed for a standard error".into(),
        });
    }
    let truths = SetTruth::from_records(records, panel)?;
    let train = train_scores(records);
    let mut sets = Vec::new();
    for (s, truth) in truths.iter().enumerate() {
        let group = truth.group.clone();
        let archs: Vec<Nb201Arch> = truth.cells.iter().map(|c| c.arch).collect();
        if archs.len() < max_k {
            return bad(&format!(
                "{group} has {} panel cells, fewer than the largest budget {max_k}",
                archs.len()
            ));
        }
        log(&format!(
            "{group}: budgets up to {max_k} over {} cells",
            archs.len()
        ));
        let mut methods: Vec<(String, BudgetMethod, Option<GpPool>)> = Vec::new();
        if let Some(m) = metad2a {
            let err = |e: crate::MetanasError| EvaluateError::MetaD2A {
                group: group.clone(),
                source: Box::new(e),
            };
            let task = Task::build(&truth.task, data).map_err(|source| EvaluateError::Task {
                group: group.clone(),
                source: Box::new(source),
            })?;
            let features = m
                .extractor
                .extract(&task.train)
                .map_err(|e| err(e.into()))?;
            let (predicted, embedding, dim) = m
                .model
                .predict_embedded(&features, &archs, options.draws, options.seed)
                .map_err(err)?;
            let pool = GpPool::new(predicted, embedding, dim).map_err(|e| err(e.into()))?;
            methods.push((
                "MetaD2A + GP (expected improvement)".into(),
                BudgetMethod::predictor_gp(),
                Some(pool.clone()),
            ));
            methods.push((
                "MetaD2A predictor top-k".into(),
                BudgetMethod::PredictorTopK,
                Some(pool.clone()),
            ));
        }
        let global: Vec<f64> = archs
            .iter()
            .map(|a| {
                train
                    .get(&a.canonical_id())
                    .filter(|t| t.1 >= options.min_train_tasks)
                    .map_or(f64::NAN, |t| t.0)
            })
            .collect();
        if global.iter().any(|g| g.is_finite()) {
            methods.push((
                "global best (meta-training) top-k".into(),
                BudgetMethod::Ranked { scores: global },
                None,
            ));
        }
        methods.push(("random search".into(), BudgetMethod::Random, None));
        methods.push((
            "regularised evolution (P 3, S 2)".into(),
            BudgetMethod::rea(),
            None,
        ));

        let means = truth.means();
        let best = means.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let mut curves = Vec::new();
        for (name, method, pool) in &methods {
            let mut regrets: Vec<Vec<f64>> = vec![Vec::new(); options.budgets.len()];
            let mut choose = Vec::new();
            for r in 0..options.repeats {
                let rep_seed = options.seed ^ ((s as u64) << 40) ^ (r as u64);
                let mut rng = ChaCha8Rng::seed_from_u64(rep_seed ^ 0x5eed);
                let drawn: Vec<usize> = truth
                    .cells
                    .iter()
                    .map(|c| rng.random_range(0..c.runs.len()))
                    .collect();
                let trace = run_budget(
                    &archs,
                    pool.as_ref(),
                    method,
                    max_k,
                    rep_seed,
                    &mut |i, _| Ok(truth.cells[i].runs[drawn[i]]),
                    &mut |_| {},
                )
                .map_err(|e| EvaluateError::MetaD2A {
                    group: group.clone(),
                    source: Box::new(e.into()),
                })?;
                for (b, &k) in options.budgets.iter().enumerate() {
                    let i = trace.after(k).best_index;
                    regrets[b].push(best - held_out_mean(&truth.cells[i].runs, drawn[i]));
                }
                choose.extend(trace.steps.iter().map(|st| st.choose_seconds));
            }
            curves.push(MethodCurve {
                method: name.clone(),
                points: options
                    .budgets
                    .iter()
                    .zip(&regrets)
                    .map(|(&k, v)| CurvePoint {
                        k,
                        regret_pp: mean(v),
                        se_pp: sd(v) / (v.len() as f64).sqrt(),
                    })
                    .collect(),
                choose_seconds_per_step: mean(&choose),
            });
        }
        sets.push(SetCurves {
            group,
            cells: archs.len(),
            seeds: truth.seeds(),
            best_pct: best,
            methods: curves,
        });
    }
    Ok(BudgetCurves {
        options: options.clone(),
        sets,
    })
}

/// The mean of `runs` without run `seen` (all of them when there is only one).
fn held_out_mean(runs: &[f64], seen: usize) -> f64 {
    if runs.len() < 2 {
        return runs[0];
    }
    let rest: Vec<f64> = runs
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != seen)
        .map(|(_, v)| *v)
        .collect();
    mean(&rest)
}

/// Sample standard deviation (0 for fewer than two values).
fn sd(v: &[f64]) -> f64 {
    if v.len() < 2 {
        return 0.0;
    }
    let m = mean(v);
    (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64).sqrt()
}

impl BudgetCurves {
    /// Each method's regret at each budget averaged over the sets, with √(Σ SE²)/n.
    pub fn summary(&self) -> Vec<(String, Vec<CurvePoint>)> {
        let mut order: Vec<String> = Vec::new();
        let mut acc: HashMap<String, Vec<Vec<&CurvePoint>>> = HashMap::new();
        for set in &self.sets {
            for m in &set.methods {
                if !acc.contains_key(&m.method) {
                    order.push(m.method.clone());
                }
                let e = acc
                    .entry(m.method.clone())
                    .or_insert_with(|| vec![Vec::new(); m.points.len()]);
                for (b, p) in m.points.iter().enumerate() {
                    e[b].push(p);
                }
            }
        }
        order
            .into_iter()
            .map(|name| {
                let points = acc[&name]
                    .iter()
                    .map(|ps| {
                        let n = ps.len() as f64;
                        CurvePoint {
                            k: ps[0].k,
                            regret_pp: ps.iter().map(|p| p.regret_pp).sum::<f64>() / n,
                            se_pp: ps.iter().map(|p| p.se_pp.powi(2)).sum::<f64>().sqrt() / n,
                        }
                    })
                    .collect();
                (name, points)
            })
            .collect()
    }
}

impl fmt::Display for BudgetCurves {
    /// Markdown: the summary over the sets, then one table per set (regret ± SE per budget).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header = |f: &mut fmt::Formatter<'_>| -> fmt::Result {
            write!(f, "| method |")?;
            for k in &self.options.budgets {
                write!(f, " k = {k} |")?;
            }
            writeln!(f)?;
            write!(f, "|---|")?;
            for _ in &self.options.budgets {
                write!(f, "---|")?;
            }
            writeln!(f)
        };
        let row = |f: &mut fmt::Formatter<'_>, name: &str, points: &[CurvePoint]| -> fmt::Result {
            write!(f, "| {name} |")?;
            for p in points {
                write!(f, " {:.2} ± {:.2} |", p.regret_pp, p.se_pp)?;
            }
            writeln!(f)
        };
        writeln!(
            f,
            "## Regret (pp) after k trained cells, averaged over {} meta-test sets\n",
            self.sets.len()
        )?;
        writeln!(
            f,
            "Mean over the sets of each set's mean regret over {} repetitions, ± √(Σ SE²)/n.\n",
            self.options.repeats
        )?;
        header(f)?;
        for (name, points) in self.summary() {
            row(f, &name, &points)?;
        }
        for set in &self.sets {
            writeln!(
                f,
                "\n## {}\n\n{} panel cells, {}–{} seeds each; best panel cell {:.2}%.\n",
                set.group, set.cells, set.seeds.0, set.seeds.1, set.best_pct
            )?;
            header(f)?;
            for m in &set.methods {
                row(f, &m.method, &m.points)?;
            }
            writeln!(
                f,
                "\nSeconds spent choosing per run (measurement excluded):"
            )?;
            for m in &set.methods {
                writeln!(f, "- {}: {:.4} s", m.method, m.choose_seconds_per_step)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_out_mean_leaves_the_seen_run_out() {
        assert_eq!(held_out_mean(&[1.0, 2.0, 3.0], 0), 2.5);
        assert_eq!(held_out_mean(&[4.0], 0), 4.0);
    }
}
