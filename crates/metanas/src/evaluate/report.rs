//! [`Evaluation`]: the harness's results; `Display` writes the markdown tables of
//! `docs/results`, `Serialize` the same numbers as JSON.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use super::truth::{LossRegret, RankAgreement, RegretEstimate};
use super::EvaluateOptions;

/// One method on one set.
#[derive(Clone, Debug, Serialize)]
pub struct MethodResult {
    /// The method, e.g. `synflow` or `MetaD2A generated top-1`.
    pub method: String,
    /// Whether the pick reads measured accuracy (an oracle, not a method a user can run).
    pub oracle: bool,
    /// What the method chose from, with its size.
    pub pool: String,
    /// The pick and its regret against the best panel cell.
    pub regret: RegretEstimate,
    /// The same pick's regret by test loss, where the set's runs have it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loss: Option<LossRegret>,
    /// The method's scores of the panel cells against their measured means (the same scorer's
    /// for every pool it picks from).
    pub agreement: Option<RankAgreement>,
    /// Wall seconds of scoring or searching on the evaluating machine.
    pub seconds: f64,
}

impl MethodResult {
    /// The row label: method and pool.
    pub fn label(&self) -> String {
        format!("{} · {}", self.method, pool_kind(&self.pool))
    }
}

/// The pool without its size, so that rows of different sets group together.
fn pool_kind(pool: &str) -> &str {
    pool.split(" (").next().unwrap_or(pool)
}

/// Every method on one meta-test set.
#[derive(Clone, Debug, Serialize)]
pub struct SetEvaluation {
    /// The set's plan group.
    pub group: String,
    /// Panel cells measured on it.
    pub cells: usize,
    /// Fewest and most runs of a panel cell.
    pub seeds: (usize, usize),
    /// Pooled seed standard deviation of one run (pp).
    pub seed_sd_pp: f64,
    /// The best panel cell.
    pub best_arch: String,
    /// Its mean accuracy (%), biased up by the winner's curse like every maximum of noisy means.
    pub best_pct: f64,
    /// Mean accuracy of the panel (%).
    pub panel_mean_pct: f64,
    /// The best panel cell by mean test loss, with that loss (nats), where the runs have it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub best_loss: Option<(String, f64)>,
    /// The methods, in the order they ran.
    pub methods: Vec<MethodResult>,
}

/// A method's regret averaged over the sets it ran on.
#[derive(Clone, Debug, Serialize)]
pub struct MethodSummary {
    /// Method and pool ([`MethodResult::label`]).
    pub label: String,
    /// Whether it is an oracle.
    pub oracle: bool,
    /// Sets averaged.
    pub sets: usize,
    /// Mean regret (pp).
    pub regret_pp: f64,
    /// √(Σ SE²) / n (pp): the sets' errors are independent.
    pub se_pp: f64,
    /// Mean regret by test loss (nats) and its √(Σ SE²) / n, when every set has it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loss_regret_nats: Option<(f64, f64)>,
    /// Mean Spearman with the panel over the sets that have one.
    pub spearman: Option<f64>,
    /// Total wall seconds over the sets.
    pub seconds: f64,
}

/// The harness's results.
#[derive(Clone, Debug, Serialize)]
pub struct Evaluation {
    /// The settings it ran with.
    pub options: EvaluateOptions,
    /// Per meta-test set.
    pub sets: Vec<SetEvaluation>,
    /// Per method, over the sets, in first-seen order.
    pub summary: Vec<MethodSummary>,
    /// Runs trained during this evaluation (picks outside the panel not yet in its store).
    pub trained_runs: usize,
    /// The learned combination of the predictor and the proxies, when it was fitted.
    pub combination: Option<meta_predictor::RankCombination>,
}

impl Evaluation {
    pub(super) fn new(
        options: EvaluateOptions,
        sets: Vec<SetEvaluation>,
        trained: usize,
        combination: Option<meta_predictor::RankCombination>,
    ) -> Self {
        let mut order: Vec<String> = Vec::new();
        let mut by: BTreeMap<String, Vec<&MethodResult>> = BTreeMap::new();
        for m in sets.iter().flat_map(|s| &s.methods) {
            let label = m.label();
            if !by.contains_key(&label) {
                order.push(label.clone());
            }
            by.entry(label).or_default().push(m);
        }
        let summary = order
            .into_iter()
            .map(|label| {
                let rows = &by[&label];
                let n = rows.len() as f64;
                let losses: Option<Vec<&LossRegret>> =
                    rows.iter().map(|m| m.loss.as_ref()).collect();
                let loss_regret_nats = losses.map(|l| {
                    let regret = l.iter().map(|l| l.regret_nats).sum::<f64>() / n;
                    let se = l.iter().map(|l| l.se_nats * l.se_nats).sum::<f64>().sqrt() / n;
                    (regret, se)
                });
                let rhos: Vec<f64> = rows
                    .iter()
                    .filter_map(|m| m.agreement.as_ref().map(|a| a.spearman))
                    .collect();
                MethodSummary {
                    oracle: rows[0].oracle,
                    sets: rows.len(),
                    regret_pp: rows.iter().map(|m| m.regret.regret_pp).sum::<f64>() / n,
                    se_pp: rows
                        .iter()
                        .map(|m| m.regret.se_pp * m.regret.se_pp)
                        .sum::<f64>()
                        .sqrt()
                        / n,
                    loss_regret_nats,
                    spearman: (!rhos.is_empty())
                        .then(|| rhos.iter().sum::<f64>() / rhos.len() as f64),
                    seconds: rows.iter().map(|m| m.seconds).sum(),
                    label,
                }
            })
            .collect();
        Self {
            options,
            sets,
            summary,
            trained_runs: trained,
            combination,
        }
    }
}

/// `regret ± se` in nats, or "–".
fn nats(l: Option<(f64, f64)>) -> String {
    l.map_or("–".into(), |(r, se)| format!("{r:.3} ± {se:.3}"))
}

fn rho(a: &Option<RankAgreement>) -> String {
    a.as_ref().map_or("–".into(), |a| {
        format!(
            "{:+.2} [{:+.2}, {:+.2}]",
            a.spearman, a.interval.0, a.interval.1
        )
    })
}

impl fmt::Display for Evaluation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "## Summary over {} meta-test sets\n", self.sets.len())?;
        writeln!(
            f,
            "Regret: the best panel cell's mean accuracy minus the pick's (pp), averaged over the \
             sets, ± √(Σ SE²)/n from each set's seed bootstrap. Spearman: the method's scores of \
             the panel cells against their measured means, averaged over the sets. Regret by test \
             loss: the same picks judged by mean test cross-entropy (the pick's minus the best \
             panel cell's, nats), the more reliable ground truth on the v2 database. Rows marked \
             *oracle* choose by measured test accuracy (by test loss in the loss column) and are \
             not methods a user can run.\n"
        )?;
        writeln!(
            f,
            "| method · pool | sets | regret (pp) ± SE | regret by test loss (nats) ± SE | mean \
             Spearman | seconds (all sets) |"
        )?;
        writeln!(f, "|---|---|---|---|---|---|")?;
        let mut rows: Vec<&MethodSummary> = self.summary.iter().collect();
        rows.sort_by(|a, b| {
            a.oracle
                .cmp(&b.oracle)
                .then(a.regret_pp.total_cmp(&b.regret_pp))
        });
        for m in rows {
            writeln!(
                f,
                "| {}{} | {} | {:.2} ± {:.2} | {} | {} | {:.1} |",
                m.label,
                if m.oracle { " *(oracle)*" } else { "" },
                m.sets,
                m.regret_pp,
                m.se_pp,
                nats(m.loss_regret_nats),
                m.spearman.map_or("–".into(), |r| format!("{r:+.2}")),
                m.seconds
            )?;
        }
        if let Some(c) = &self.combination {
            let weights: Vec<String> = c
                .inputs
                .iter()
                .zip(&c.weights)
                .map(|(n, w)| format!("{n} {w:+.3}"))
                .collect();
            writeln!(
                f,
                "\nThe learned rank combination was fitted on the {} meta-training tasks held out \
                 of the predictor's training ({} measured cells), by ridge regression of the \
                 within-task accuracy ranks on the within-task score ranks; weights: {}.",
                c.tasks,
                c.rows,
                weights.join(", ")
            )?;
        }
        for s in &self.sets {
            writeln!(
                f,
                "\n## {}\n\n{} panel cells, {}–{} seeds each, seed σ {:.2} pp; best panel cell {:.2}% \
                 (`{}`), panel mean {:.2}%.\n",
                s.group,
                s.cells,
                s.seeds.0,
                s.seeds.1,
                s.seed_sd_pp,
                s.best_pct,
                s.best_arch,
                s.panel_mean_pct
            )?;
            if let Some((arch, loss)) = &s.best_loss {
                writeln!(
                    f,
                    "Best panel cell by test loss: {loss:.4} nats (`{arch}`).\n"
                )?;
            }
            writeln!(
                f,
                "| method | pool | pick | runs | accuracy % | regret (pp) ± SE | test loss | loss \
                 regret (nats) ± SE | Spearman [95%] | seconds |"
            )?;
            writeln!(f, "|---|---|---|---|---|---|---|---|---|---|")?;
            for m in &s.methods {
                let r = &m.regret;
                writeln!(
                    f,
                    "| {}{} | {} | {} | {}{} | {:.2} | {:.2} ± {:.2} | {} | {} | {} | {:.2} |",
                    m.method,
                    if m.oracle { " *(oracle)*" } else { "" },
                    m.pool,
                    r.arch.as_deref().map_or("–".into(), |a| format!("`{a}`")),
                    r.runs,
                    if r.arch.is_some() && !r.in_panel {
                        " (trained)"
                    } else {
                        ""
                    },
                    r.accuracy_pct,
                    r.regret_pp,
                    r.se_pp,
                    m.loss
                        .as_ref()
                        .map_or("–".into(), |l| format!("{:.4}", l.loss)),
                    nats(m.loss.as_ref().map(|l| (l.regret_nats, l.se_nats))),
                    rho(&m.agreement),
                    m.seconds
                )?;
            }
        }
        Ok(())
    }
}
