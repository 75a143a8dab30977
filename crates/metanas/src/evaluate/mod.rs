//! One evaluation harness: every method on every meta-test set of a database, judged against the
//! set's measured panel with standard errors.
//!
//! For each meta-test set of the store, [`evaluate`] builds the set's ground truth
//! ([`SetTruth`]: the panel cells measured on it, each with its seeds), lets every method pick a
//! cell, measures each pick (a panel cell's runs, or else the pick trained now with the set's
//! protocol for [`EvaluateOptions::train_seeds`] seeds, kept in a resumable store), and reports:
//!
//! - the **regret** of the pick against the best panel cell (pp) with its seed-bootstrap
//!   standard error ([`SetTruth::regret`]), and the same pick's regret by **test loss** (nats,
//!   [`TruthMetric::TestLoss`]): on the v2 database the panel's ranking by test loss is the more
//!   reliable ground truth (its split-half meets both targets on every set);
//! - the method's **Spearman** with the measured panel (its scores of the panel cells), with a
//!   95% interval from resampling the cells ([`SetTruth::rank_agreement`]);
//! - the **compute** it spent (wall seconds of scoring or searching on this machine).
//!
//! Methods: MetaD2A (its predictor over the panel; its generated top-1; its exhaustive top-1 over
//! all 15,625 cells; best of its top 5 and of its top 30 by *measured* accuracy, which are
//! oracles and labelled so), BASE (its meta-trained supernet adapted to the set, the argmax
//! cell) beside the same supernet searched from scratch for the same steps, each zero-cost
//! proxy (over the panel, over MetaD2A's candidate pool, and the cheap ones over every
//! isomorphism class), the global best of the meta-training tasks, and a random panel cell (its
//! expected regret). A method's regret averaged over the sets comes
//! with √(Σ SE²)/n.

mod budget;
mod error;
mod report;
mod truth;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Instant;

use burn::tensor::backend::{AutodiffBackend, Backend};
use datasets::{DataPaths, FeatureExtractor, Task, TaskSpec};
use meta_predictor::proxies::{score_arch, Proxy, ProxyConfig};
use meta_predictor::{RankCombination, TaskScores};
use model_zoo::database::{runs_header, RunKey, RunRecord};
use model_zoo::plan::Role;
use model_zoo::stats::mean;
use model_zoo::store::StoreWriter;
use search_space::Nb201Arch;
use serde::Serialize;

pub use budget::{
    budget_curves, BudgetCurveOptions, BudgetCurves, CurvePoint, MethodCurve, SetCurves,
};
pub use error::EvaluateError;
pub use report::{Evaluation, MethodResult, MethodSummary, SetEvaluation};
pub use truth::{
    LossRegret, Measured, MeasuredCell, PickRule, RankAgreement, RegretEstimate, SetTruth,
    TruthCell, TruthMetric,
};

use crate::base::Base;
use crate::metad2a::{MetaD2A, SearchOptions};

/// Settings of [`evaluate`].
#[derive(Clone, Debug, Serialize)]
pub struct EvaluateOptions {
    /// Seed of the bootstraps, the proxies' minibatches and MetaD2A's searches.
    pub seed: u64,
    /// Bootstrap resamples for every standard error and interval.
    pub bootstrap: usize,
    /// Seeds a pick outside the panel is trained with.
    pub train_seeds: usize,
    /// Proxies scored over the panel and over MetaD2A's candidate pool.
    #[serde(serialize_with = "proxy_names")]
    pub proxies: Vec<Proxy>,
    /// Proxies also scored over every isomorphism class (6,466 cells: keep to the fast ones).
    #[serde(serialize_with = "proxy_names")]
    pub all_cells_proxies: Vec<Proxy>,
    /// Fewest meta-training tasks a cell must be measured on to be the global-best pick.
    pub min_train_tasks: usize,
    /// Unique valid candidates MetaD2A generates.
    pub candidates: usize,
    /// Image draws MetaD2A's predictor averages.
    pub draws: usize,
    /// Size of MetaD2A's "best of the top k by measured accuracy" oracle (MetaD2A's papers
    /// report k = 30); 0 skips it. Every one of the k cells is measured.
    pub oracle_top: usize,
    /// Seeds each cell of that oracle is trained with when it is outside the panel (fewer than
    /// `train_seeds` keeps its cost down: 30 cells per set; the oracle is a reference, not a
    /// method).
    pub oracle_seeds: usize,
}

fn proxy_names<S: serde::Serializer>(proxies: &[Proxy], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(proxies.iter().map(|p| p.name()))
}

impl Default for EvaluateOptions {
    fn default() -> Self {
        Self {
            seed: 0,
            bootstrap: 1000,
            train_seeds: 3,
            proxies: vec![
                Proxy::Synflow,
                Proxy::Naswot,
                Proxy::JacobCov,
                Proxy::Snip,
                Proxy::GradNorm,
                Proxy::Params,
                Proxy::Flops,
            ],
            all_cells_proxies: vec![Proxy::Synflow, Proxy::Naswot, Proxy::Params, Proxy::Flops],
            min_train_tasks: 5,
            candidates: 500,
            draws: 10,
            oracle_top: 30,
            oracle_seeds: 1,
        }
    }
}

impl EvaluateOptions {
    fn check(&self) -> Result<(), EvaluateError> {
        let bad = |option, why: &str| {
            Err(EvaluateError::Option {
                option,
                why: why.to_string(),
            })
        };
        if self.bootstrap < 2 {
            return bad("bootstrap", "at least 2 resamples are needed for an error");
        }
        if self.train_seeds == 0 {
            return bad(
                "train_seeds",
                "a pick outside the panel needs at least 1 seed",
            );
        }
        if self.oracle_top > 0 && self.oracle_seeds == 0 {
            return bad(
                "oracle_seeds",
                "the top-k oracle's cells outside the panel need at least 1 seed (or set \
                 oracle_top to 0)",
            );
        }
        if self.candidates == 0 {
            return bad("candidates", "MetaD2A needs at least 1 candidate");
        }
        if self.draws == 0 {
            return bad("draws", "MetaD2A's predictor needs at least 1 image draw");
        }
        Ok(())
    }
}

/// MetaD2A and the feature extractor its bundle was trained on.
pub struct MetaD2AInput<'a, M: Backend> {
    /// The meta-trained model.
    pub model: &'a MetaD2A<M>,
    /// The extractor that turns a set's training images into the model's features.
    pub extractor: &'a dyn FeatureExtractor,
}

/// BASE and how it adapts to each set. The from-scratch baseline is the same supernet
/// configuration with fresh weights and the uniform distribution ([`Base::new`]), adapted with
/// the same steps, seeds and learning rates.
pub struct BaseInput<'a, B: AutodiffBackend> {
    /// The meta-trained model.
    pub model: &'a Base<B>,
    /// Adaptation steps (BASE's and the from-scratch search's).
    pub steps: usize,
    /// Adaptation seeds: one pick per seed, each trained with the set's protocol; with several,
    /// the method's regret is the mean over them ([`PickRule::Average`]).
    pub seeds: Vec<u64>,
    /// Adam learning rate of the cell distribution at adaptation; `None` keeps the bundle's.
    pub arch_lr: Option<f64>,
}

/// What an evaluation reads.
pub struct Inputs<'a, M: Backend, B: AutodiffBackend> {
    /// The database: meta-test runs are the ground truth, meta-training runs give the global
    /// best.
    pub records: &'a [RunRecord],
    /// The panel the meta-test sets were measured on.
    pub panel: &'a [Nb201Arch],
    /// Where the sets' source data live.
    pub data: &'a DataPaths,
    /// MetaD2A, if it is to be evaluated.
    pub metad2a: Option<MetaD2AInput<'a, M>>,
    /// BASE (and the from-scratch search beside it), if they are to be evaluated.
    pub base: Option<BaseInput<'a, B>>,
    /// Store of the runs trained for picks outside the panel (resumable: runs already there are
    /// reused). `None` keeps them in memory only.
    pub store: Option<&'a Path>,
}

/// Evaluates every method on every meta-test set of `inputs.records`; `B` trains the picks
/// outside the panel and computes the proxies, `M` runs MetaD2A. `log` receives one line per
/// step.
pub fn evaluate<B: AutodiffBackend, M: Backend>(
    inputs: &Inputs<'_, M, B>,
    options: &EvaluateOptions,
    device: &B::Device,
    log: &mut dyn FnMut(&str),
) -> Result<Evaluation, EvaluateError> {
    options.check()?;
    let scratch = match &inputs.base {
        Some(b) => {
            if b.seeds.is_empty() {
                return Err(EvaluateError::Option {
                    option: "base.seeds",
                    why: "BASE needs at least one adaptation seed".into(),
                });
            }
            let config = b.model.config().clone();
            let base_err = |source| EvaluateError::Base {
                group: "(all sets)".into(),
                source: Box::new(source),
            };
            if let Some(lr) = b.arch_lr {
                crate::base::BaseConfig {
                    arch_lr: lr,
                    ..config.clone()
                }
                .validate()
                .map_err(base_err)?;
            }
            Some(Base::<B>::new(config, device).map_err(base_err)?)
        }
        None => None,
    };
    let truths = SetTruth::from_records(inputs.records, inputs.panel)?;
    // The same sets judged by test loss. A store where some set cannot be judged so (too few
    // panel cells with a test loss: older stores) gets no loss regret at all, shown as "–".
    let loss_truths: HashMap<String, SetTruth> =
        SetTruth::from_records_by(inputs.records, inputs.panel, TruthMetric::TestLoss)
            .map(|t| t.into_iter().map(|t| (t.group.clone(), t)).collect())
            .unwrap_or_default();
    let mut measurer = Measurer::<B>::open(inputs.store, device)?;
    let train_scores = train_scores(inputs.records);
    let all_classes: Vec<Nb201Arch> = Nb201Arch::all()
        .filter(|a| a.canonical_id() == a.index())
        .collect();
    let combination = match &inputs.metad2a {
        // Without proxies there is nothing to combine the predictor with.
        Some(m)
            if !m.model.meta().summary.valid_tasks.is_empty() && !options.proxies.is_empty() =>
        {
            Some(fit_combination::<B, M>(
                inputs.records,
                inputs.data,
                m,
                options,
                device,
                log,
            )?)
        }
        _ => None,
    };
    let mut sets = Vec::new();
    for (s, truth) in truths.iter().enumerate() {
        let group = truth.group.clone();
        log(&format!(
            "{group}: {} panel cells, {}–{} seeds",
            truth.cells.len(),
            truth.seeds().0,
            truth.seeds().1
        ));
        let task = Task::build(&truth.task, inputs.data).map_err(|source| EvaluateError::Task {
            group: group.clone(),
            source: Box::new(source),
        })?;
        let seed = |k: u64| options.seed ^ (s as u64) << 32 ^ k;
        let loss_truth = loss_truths.get(&group);
        let mut ctx = SetContext {
            truth,
            loss_truth,
            task: &task,
            measurer: &mut measurer,
            options,
            methods: Vec::new(),
            seeds: options.train_seeds,
        };
        let panel_archs: Vec<Nb201Arch> = truth.cells.iter().map(|c| c.arch).collect();

        // The zero-cost proxies, over the panel first.
        let config = ProxyConfig::new()
            .with_channels(truth.protocol.channels)
            .with_cells_per_stage(truth.protocol.cells_per_stage)
            .with_batch_seed(options.seed);
        let batch =
            config
                .minibatch::<B>(&task, device)
                .map_err(|source| EvaluateError::Proxy {
                    proxy: "minibatch".into(),
                    group: group.clone(),
                    source: Box::new(source),
                })?;
        let score_all = |proxy: Proxy, archs: &[Nb201Arch]| -> Result<(Vec<f64>, f64), _> {
            let start = Instant::now();
            let scores = archs
                .iter()
                .map(|a| score_arch(*a, &[proxy], &batch, &config).map(|v| v[0]))
                .collect::<Result<Vec<f64>, _>>()
                .map_err(|source| EvaluateError::Proxy {
                    proxy: proxy.name().into(),
                    group: group.clone(),
                    source: Box::new(source),
                })?;
            Ok::<_, EvaluateError>((scores, start.elapsed().as_secs_f64()))
        };
        let mut panel_agreement: HashMap<Proxy, Option<RankAgreement>> = HashMap::new();
        let mut panel_scores: Vec<(Vec<f64>, f64)> = Vec::new();
        for &proxy in &options.proxies {
            let (scores, seconds) = score_all(proxy, &panel_archs)?;
            panel_scores.push((scores.clone(), seconds));
            let agreement = truth.rank_agreement(&scores, options.bootstrap, seed(1));
            panel_agreement.insert(proxy, agreement.clone());
            let order = ranking(&panel_archs, &scores);
            ctx.add(
                proxy.name(),
                false,
                format!("panel ({})", panel_archs.len()),
                &order[..1],
                PickRule::First,
                agreement,
                seconds,
                seed(2),
            )?;
        }
        for &proxy in &options.all_cells_proxies {
            log(&format!(
                "{group}: {} over {} cells",
                proxy.name(),
                all_classes.len()
            ));
            let (scores, seconds) = score_all(proxy, &all_classes)?;
            let order = ranking(&all_classes, &scores);
            ctx.add(
                proxy.name(),
                false,
                format!("all cells ({})", all_classes.len()),
                &order[..1],
                PickRule::First,
                panel_agreement.get(&proxy).cloned().flatten(),
                seconds,
                seed(3),
            )?;
        }

        // The global best of the meta-training tasks, restricted to the panel.
        let global: Vec<f64> = panel_archs
            .iter()
            .map(|a| {
                train_scores
                    .get(&a.canonical_id())
                    .filter(|s| s.1 >= options.min_train_tasks)
                    .map_or(f64::NAN, |s| s.0)
            })
            .collect();
        if global.iter().any(|g| g.is_finite()) {
            let order = ranking(&panel_archs, &global);
            let agreement = truth.rank_agreement(&global, options.bootstrap, seed(4));
            ctx.add(
                "global best (meta-training)",
                false,
                format!(
                    "panel cells on ≥ {} meta-training tasks ({})",
                    options.min_train_tasks,
                    global.iter().filter(|g| g.is_finite()).count()
                ),
                &order[..1],
                PickRule::First,
                agreement,
                0.0,
                seed(5),
            )?;
        }
        let expected = Measured {
            candidates: Vec::new(),
            rule: PickRule::Expected,
        };
        ctx.push(
            "random panel cell (expected)",
            false,
            format!("panel ({})", panel_archs.len()),
            truth.regret(&expected, options.bootstrap, seed(6)),
            loss_truth.map(|t| {
                LossRegret::from_estimate(&t.regret(&expected, options.bootstrap, seed(6)))
            }),
            None,
            0.0,
        );

        // MetaD2A.
        if let Some(m) = &inputs.metad2a {
            let err = |e: crate::MetanasError| EvaluateError::MetaD2A {
                group: group.clone(),
                source: Box::new(e),
            };
            let features = m
                .extractor
                .extract(&task.train)
                .map_err(|e| err(e.into()))?;
            let start = Instant::now();
            let predicted = m
                .model
                .predict(&features, &panel_archs, options.draws, options.seed)
                .map_err(err)?;
            let seconds = start.elapsed().as_secs_f64();
            let agreement = truth.rank_agreement(&predicted, options.bootstrap, seed(7));
            let order = ranking(&panel_archs, &predicted);
            ctx.add(
                "MetaD2A predictor",
                false,
                format!("panel ({})", panel_archs.len()),
                &order[..1],
                PickRule::First,
                agreement.clone(),
                seconds,
                seed(8),
            )?;
            if let Some(c) = &combination {
                let rows = score_rows(&predicted, &panel_scores);
                let combined = c.score(&rows).map_err(|e| err(e.into()))?;
                let agreement = truth.rank_agreement(&combined, options.bootstrap, seed(14));
                let order = ranking(&panel_archs, &combined);
                ctx.add(
                    COMBINED,
                    false,
                    format!("panel ({})", panel_archs.len()),
                    &order[..1],
                    PickRule::First,
                    agreement,
                    seconds + panel_scores.iter().map(|p| p.1).sum::<f64>(),
                    seed(15),
                )?;
            }
            log(&format!("{group}: MetaD2A search"));
            let search = SearchOptions {
                candidates: options.candidates,
                top_k: options.candidates,
                draws: options.draws,
                macro_config: truth.protocol.macro_config(task.train.channels, task.way()),
                seed: options.seed,
                ..SearchOptions::default()
            };
            let generated = m.model.search(&features, &search).map_err(err)?;
            let pool: Vec<Nb201Arch> = generated.ranked.iter().map(|c| c.arch).collect();
            let pool_name = format!("MetaD2A candidates ({})", pool.len());
            ctx.add(
                "MetaD2A generated top-1",
                false,
                pool_name.clone(),
                &pool[..1],
                PickRule::First,
                agreement.clone(),
                generated.seconds,
                seed(9),
            )?;
            let exhaustive = m
                .model
                .search(
                    &features,
                    &SearchOptions {
                        exhaustive: true,
                        top_k: 1,
                        ..search.clone()
                    },
                )
                .map_err(err)?;
            ctx.add(
                "MetaD2A exhaustive top-1",
                false,
                "all cells (15625)".into(),
                &[exhaustive.ranked[0].arch],
                PickRule::First,
                agreement.clone(),
                exhaustive.seconds,
                seed(10),
            )?;
            let top = pool.len().min(5);
            ctx.add(
                "MetaD2A best of top-5 by measured accuracy (oracle)",
                true,
                pool_name.clone(),
                &pool[..top],
                PickRule::BestMeasured,
                agreement.clone(),
                generated.seconds,
                seed(11),
            )?;
            if options.oracle_top > 0 {
                let top = pool.len().min(options.oracle_top);
                log(&format!("{group}: MetaD2A top-{top} oracle"));
                ctx.seeds = options.oracle_seeds;
                let added = ctx.add(
                    &format!("MetaD2A best of top-{top} by measured accuracy (oracle)"),
                    true,
                    pool_name.clone(),
                    &pool[..top],
                    PickRule::BestMeasured,
                    agreement.clone(),
                    generated.seconds,
                    seed(12),
                );
                ctx.seeds = options.train_seeds;
                added?;
            }
            let mut pool_scores: Vec<(Vec<f64>, f64)> = Vec::new();
            for &proxy in &options.proxies {
                let (scores, seconds) = score_all(proxy, &pool)?;
                pool_scores.push((scores.clone(), seconds));
                let order = ranking(&pool, &scores);
                ctx.add(
                    proxy.name(),
                    false,
                    pool_name.clone(),
                    &order[..1],
                    PickRule::First,
                    panel_agreement.get(&proxy).cloned().flatten(),
                    seconds,
                    seed(13),
                )?;
            }
            if let Some(c) = &combination {
                let predicted: Vec<f64> = generated
                    .ranked
                    .iter()
                    .map(|c| c.predicted_accuracy)
                    .collect();
                let rows = score_rows(&predicted, &pool_scores);
                let combined = c.score(&rows).map_err(|e| err(e.into()))?;
                let order = ranking(&pool, &combined);
                ctx.add(
                    COMBINED,
                    false,
                    pool_name.clone(),
                    &order[..1],
                    PickRule::First,
                    None,
                    generated.seconds + pool_scores.iter().map(|p| p.1).sum::<f64>(),
                    seed(16),
                )?;
            }
        }
        // BASE adapted to the set, and the same supernet searched from scratch.
        if let (Some(b), Some(scratch)) = (&inputs.base, &scratch) {
            let config = b.model.config();
            let spec = TaskSpec {
                resolution: config.resolution,
                ..truth.task.clone()
            }
            .with_channels(3);
            let base_task =
                Task::build(&spec, inputs.data).map_err(|source| EvaluateError::Task {
                    group: group.clone(),
                    source: Box::new(source),
                })?;
            let arch_lr = b.arch_lr.unwrap_or(config.arch_lr);
            let pool = format!(
                "adapted supernet ({} steps, {} seed{})",
                b.steps,
                b.seeds.len(),
                if b.seeds.len() == 1 { "" } else { "s" }
            );
            for (k, (name, model)) in [
                ("BASE (adapted, argmax cell)", b.model),
                ("supernet from scratch (same steps)", scratch),
            ]
            .into_iter()
            .enumerate()
            {
                log(&format!("{group}: {name}, {} steps", b.steps));
                let mut picks = Vec::with_capacity(b.seeds.len());
                let mut seconds = 0.0;
                for &s in &b.seeds {
                    let a =
                        model
                            .adapt_with(&base_task, b.steps, s, arch_lr)
                            .map_err(|source| EvaluateError::Base {
                                group: group.clone(),
                                source: Box::new(source),
                            })?;
                    log(&format!(
                        "{group}: {name}, seed {s}: {} (p {:.4}, {:.1} s)",
                        a.cell, a.top[0].1, a.seconds
                    ));
                    seconds += a.seconds;
                    picks.push(a.cell);
                }
                let rule = if picks.len() == 1 {
                    PickRule::First
                } else {
                    PickRule::Average
                };
                ctx.add(
                    name,
                    false,
                    pool.clone(),
                    &picks,
                    rule,
                    None,
                    seconds,
                    seed(17 + k as u64),
                )?;
            }
        }
        let methods = std::mem::take(&mut ctx.methods);
        let means = truth.means();
        let best = truth.best();
        let best_loss = loss_truth.map(|t| {
            let b = t.best();
            (t.cells[b].arch.to_string(), -t.cells[b].mean())
        });
        sets.push(SetEvaluation {
            group,
            cells: truth.cells.len(),
            seeds: truth.seeds(),
            seed_sd_pp: truth.seed_sd,
            best_arch: truth.cells[best].arch.to_string(),
            best_pct: means[best],
            panel_mean_pct: mean(&means),
            best_loss,
            methods,
        });
    }
    Ok(Evaluation::new(
        options.clone(),
        sets,
        measurer.trained,
        combination,
    ))
}

/// The name of the learned combination of the predictor and the proxies.
const COMBINED: &str = "MetaD2A predictor + proxies (learned rank combination)";

/// Rows `[predictor, proxy 1, …]` per cell for [`RankCombination::score`].
fn score_rows(predicted: &[f64], proxies: &[(Vec<f64>, f64)]) -> Vec<Vec<f64>> {
    predicted
        .iter()
        .enumerate()
        .map(|(i, &p)| {
            std::iter::once(p)
                .chain(proxies.iter().map(|(s, _)| s[i]))
                .collect()
        })
        .collect()
}

/// Fits the rank combination of the predictor and `options.proxies` on the meta-training tasks
/// the bundle's predictor was not trained on (its validation split, recorded in the bundle):
/// each task is built from the store's records, its measured cells scored by the predictor and
/// the proxies on one minibatch of it.
fn fit_combination<B: AutodiffBackend, M: Backend>(
    records: &[RunRecord],
    data: &DataPaths,
    m: &MetaD2AInput<'_, M>,
    options: &EvaluateOptions,
    device: &B::Device,
    log: &mut dyn FnMut(&str),
) -> Result<RankCombination, EvaluateError> {
    let specs = &m.model.meta().summary.valid_tasks;
    log(&format!(
        "fitting the predictor + proxies combination on {} held-out meta-training tasks",
        specs.len()
    ));
    let fail = |group: &str, e: crate::MetanasError| EvaluateError::MetaD2A {
        group: group.to_string(),
        source: Box::new(e),
    };
    let mut tasks = Vec::new();
    for spec in specs {
        let runs: Vec<&RunRecord> = records
            .iter()
            .filter(|r| r.role == Role::MetaTrain && &r.task == spec)
            .collect();
        let Some(first) = runs.first() else {
            continue;
        };
        let group = first.group.clone();
        let mut cells: BTreeMap<usize, (Nb201Arch, Vec<f64>)> = BTreeMap::new();
        for r in &runs {
            cells
                .entry(r.arch.canonical_id())
                .or_insert((r.arch, Vec::new()))
                .1
                .push(TruthMetric::Accuracy.pick_value(r));
        }
        let archs: Vec<Nb201Arch> = cells.values().map(|c| c.0).collect();
        let accuracy: Vec<f64> = cells.values().map(|c| mean(&c.1)).collect();
        let task = Task::build(spec, data).map_err(|source| EvaluateError::Task {
            group: group.clone(),
            source: Box::new(source),
        })?;
        let features = m
            .extractor
            .extract(&task.train)
            .map_err(|e| fail(&group, e.into()))?;
        let predicted = m
            .model
            .predict(&features, &archs, options.draws, options.seed)
            .map_err(|e| fail(&group, e))?;
        let config = ProxyConfig::new()
            .with_channels(first.protocol.channels)
            .with_cells_per_stage(first.protocol.cells_per_stage)
            .with_batch_seed(options.seed);
        let config = config
            .clone()
            .with_batch_size(config.batch_size.min(task.train.len()));
        let proxy_err = |proxy: &str, source| EvaluateError::Proxy {
            proxy: proxy.into(),
            group: group.clone(),
            source: Box::new(source),
        };
        let batch = config
            .minibatch::<B>(&task, device)
            .map_err(|e| proxy_err("minibatch", e))?;
        let mut scores = Vec::with_capacity(archs.len());
        for (a, p) in archs.iter().zip(&predicted) {
            let proxies = score_arch(*a, &options.proxies, &batch, &config)
                .map_err(|e| proxy_err("combination inputs", e))?;
            scores.push(std::iter::once(*p).chain(proxies).collect());
        }
        tasks.push(TaskScores { scores, accuracy });
    }
    let names: Vec<&str> = std::iter::once("predictor")
        .chain(options.proxies.iter().map(|p| p.name()))
        .collect();
    let combination = RankCombination::fit(&names, &tasks, COMBINATION_RIDGE)
        .map_err(|e| fail("meta-training (held out)", e.into()))?;
    log(&format!(
        "combination weights: {}",
        names
            .iter()
            .zip(&combination.weights)
            .map(|(n, w)| format!("{n} {w:+.3}"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    Ok(combination)
}

/// Ridge penalty per row of the combination's fit: small, against collinear proxies (params
/// and FLOPs rank cells almost alike).
const COMBINATION_RIDGE: f64 = 0.01;

/// `archs` sorted by descending score (NaN last), ties by index: a method's ranking.
fn ranking(archs: &[Nb201Arch], scores: &[f64]) -> Vec<Nb201Arch> {
    let mut order: Vec<usize> = (0..archs.len()).collect();
    let key = |s: f64| if s.is_nan() { f64::NEG_INFINITY } else { s };
    order.sort_by(|&a, &b| {
        key(scores[b])
            .total_cmp(&key(scores[a]))
            .then(archs[a].index().cmp(&archs[b].index()))
    });
    order.into_iter().map(|i| archs[i]).collect()
}

/// Each cell class's mean percentile rank over the meta-training tasks it was measured on
/// (0 = worst, 1 = best), with the number of tasks.
pub(crate) fn train_scores(records: &[RunRecord]) -> HashMap<usize, (f64, usize)> {
    let mut tasks: BTreeMap<String, BTreeMap<usize, Vec<f64>>> = BTreeMap::new();
    for r in records.iter().filter(|r| r.role == Role::MetaTrain) {
        if let Some(a) = r.result.test_accuracy.filter(|_| r.result.is_ok()) {
            let key = r.task.key();
            tasks
                .entry(key)
                .or_default()
                .entry(r.arch.canonical_id())
                .or_default()
                .push(a);
        }
    }
    let mut sums: HashMap<usize, (f64, usize)> = HashMap::new();
    for cells in tasks.values().filter(|c| c.len() >= 2) {
        let ids: Vec<usize> = cells.keys().copied().collect();
        let means: Vec<f64> = cells.values().map(|v| mean(v)).collect();
        let ranks = model_zoo::stats::ranks(&means);
        for (id, r) in ids.iter().zip(ranks) {
            let e = sums.entry(*id).or_default();
            e.0 += (r - 1.0) / (ids.len() - 1) as f64;
            e.1 += 1;
        }
    }
    sums.into_iter()
        .map(|(id, (s, n))| (id, (s / n as f64, n)))
        .collect()
}

/// The methods of one set, as they are added.
struct SetContext<'a, B: AutodiffBackend> {
    truth: &'a SetTruth,
    /// The same set judged by test loss, when its runs have it.
    loss_truth: Option<&'a SetTruth>,
    task: &'a Task,
    measurer: &'a mut Measurer<B>,
    options: &'a EvaluateOptions,
    methods: Vec<MethodResult>,
    /// Seeds a pick outside the panel is trained with.
    seeds: usize,
}

impl<B: AutodiffBackend> SetContext<'_, B> {
    /// Measures `candidates` and adds the method's result, judged by accuracy and, where the
    /// set has it, by test loss (the same runs: nothing is trained twice).
    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        name: &str,
        oracle: bool,
        pool: String,
        candidates: &[Nb201Arch],
        rule: PickRule,
        agreement: Option<RankAgreement>,
        seconds: f64,
        seed: u64,
    ) -> Result<(), EvaluateError> {
        let mut judge = |truth: &SetTruth| -> Result<RegretEstimate, EvaluateError> {
            let candidates = candidates
                .iter()
                .map(|a| self.measurer.measure(truth, self.task, *a, self.seeds))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(truth.regret(&Measured { candidates, rule }, self.options.bootstrap, seed))
        };
        let regret = judge(self.truth)?;
        let loss = match self.loss_truth {
            Some(t) => Some(LossRegret::from_estimate(&judge(t)?)),
            None => None,
        };
        self.push(name, oracle, pool, regret, loss, agreement, seconds);
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        name: &str,
        oracle: bool,
        pool: String,
        regret: RegretEstimate,
        loss: Option<LossRegret>,
        agreement: Option<RankAgreement>,
        seconds: f64,
    ) {
        self.methods.push(MethodResult {
            method: name.to_string(),
            oracle,
            pool,
            regret,
            loss,
            agreement,
            seconds,
        });
    }
}

/// A trained pick's run, valued by both metrics ([`TruthMetric::pick_value`]).
#[derive(Clone, Copy, Debug)]
struct PickRun {
    accuracy: f64,
    neg_loss: f64,
}

impl PickRun {
    fn of(record: &RunRecord) -> Self {
        Self {
            accuracy: TruthMetric::Accuracy.pick_value(record),
            neg_loss: TruthMetric::TestLoss.pick_value(record),
        }
    }

    fn value(self, metric: TruthMetric) -> f64 {
        match metric {
            TruthMetric::Accuracy => self.accuracy,
            TruthMetric::TestLoss => self.neg_loss,
        }
    }
}

/// Measures picks: a panel cell's runs, or runs trained now (and kept).
struct Measurer<B: AutodiffBackend> {
    writer: Option<StoreWriter<RunRecord>>,
    known: HashMap<RunKey, PickRun>,
    device: B::Device,
    /// Runs trained by this evaluation.
    trained: usize,
}

impl<B: AutodiffBackend> Measurer<B> {
    fn open(store: Option<&Path>, device: &B::Device) -> Result<Self, EvaluateError> {
        let (writer, known) = match store {
            Some(path) => {
                let (writer, contents) = StoreWriter::<RunRecord>::open(path, &runs_header())
                    .map_err(|source| EvaluateError::Store {
                        path: path.to_path_buf(),
                        source: Box::new(source),
                    })?;
                let known = contents
                    .records
                    .iter()
                    .map(|r| (r.key(), PickRun::of(r)))
                    .collect();
                (Some(writer), known)
            }
            None => (None, HashMap::new()),
        };
        Ok(Self {
            writer,
            known,
            device: device.clone(),
            trained: 0,
        })
    }

    fn measure(
        &mut self,
        truth: &SetTruth,
        task: &Task,
        arch: Nb201Arch,
        seeds: usize,
    ) -> Result<MeasuredCell, EvaluateError> {
        if let Some(i) = truth.find(&arch) {
            return Ok(MeasuredCell {
                arch,
                panel: Some(i),
                runs: truth.cells[i].runs.clone(),
            });
        }
        // The class's representative stands for every member.
        let cell = arch.canonical();
        let mut runs = Vec::with_capacity(seeds);
        for seed in 0..seeds as u64 {
            let key = RunKey::new(&truth.task, &cell, &truth.protocol, seed);
            if let Some(run) = self.known.get(&key) {
                runs.push(run.value(truth.metric));
                continue;
            }
            let result = model_zoo::train::<B>(cell, task, &truth.protocol, seed, &self.device)
                .map_err(|source| EvaluateError::Train {
                    arch: cell.to_string(),
                    group: truth.group.clone(),
                    source: Box::new(source),
                })?;
            self.trained += 1;
            let record = RunRecord {
                group: truth.group.clone(),
                role: Role::MetaTest,
                task: truth.task.clone(),
                arch: cell,
                seed,
                protocol: truth.protocol.clone(),
                result,
                weights: None,
                error: None,
                cpu_simd: Some(model_zoo::database::cpu_simd_level().to_string()),
            };
            if let Some(w) = self.writer.as_mut() {
                w.append(&record).map_err(|source| EvaluateError::Store {
                    path: w.path().to_path_buf(),
                    source: Box::new(source),
                })?;
            }
            let run = PickRun::of(&record);
            self.known.insert(key, run);
            runs.push(run.value(truth.metric));
        }
        Ok(MeasuredCell {
            arch,
            panel: None,
            runs,
        })
    }
}
