//! The database's signal report: how much of what the runs record is architecture signal, how
//! much is seed noise, and how much of the signal depends on the task.
//!
//! [`analyze`] derives everything from the [`RunRecord`]s (groups, tasks, cells, seeds; no names
//! are built in) and returns a [`Report`]: `Display` writes markdown tables for
//! `docs/database.md`, `Serialize` writes the same numbers as JSON. Sections:
//!
//! 1. composition per group; 2. seed noise (pooled within-cell seed std); 3. split-half
//!    reliability of each meta-test task's cell ranking; 4. cross-task agreement (Spearman of
//!    cell means between tasks); 5. the task × cell interaction share, the ceiling on what
//!    conditioning on the dataset can add, over the meta-test tasks alone and over all tasks;
//!    6. the regret of trivial picks on each meta-test task.
//!
//! Conventions: a *task* is a distinct [`TaskSpec`](datasets::TaskSpec); a *cell* is an
//! isomorphism class of NAS-Bench-201 cells ([`Nb201Arch::canonical_id`]); a cell's value on a
//! task is the mean over its runs there (its "seeds"; runs of two isomorphic cells count as two
//! seeds). Only `ok` runs count, the others are counted and skipped. The *panel* is the set of
//! cells the cross-task statistics use: the cells given, or else those measured on every
//! meta-test task. Accuracies are reported in percent and percentage points (pp). Every random
//! draw comes from ChaCha8 seeded with [`AnalyzeOptions::seed`], so a report is reproducible.
//!
//! Seed noise of a group without repeated runs (a meta-training group: one seed per task and
//! cell) cannot be measured; it is borrowed from the meta-test tasks most like the group (same
//! image channels and training protocol, preferably the same source kind and resolution; see
//! [`NoiseFrom`]), and only when none is alike from all meta-test tasks.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use search_space::Nb201Arch;
use serde::Serialize;

use crate::database::RunRecord;
use crate::plan::Role;
use crate::stats::{
    additive_fit, bootstrap, mean, median, percentile_interval, pooled_variance, quantile, ranks,
    spearman, spearman_brown, split_half_even_odd, split_half_random, split_half_random_top,
    variance,
};
use crate::Protocol;

/// Split-half reliability a meta-test task should reach over all panel cells.
pub const TARGET_ALL: f64 = 0.8;
/// Split-half reliability a meta-test task should reach within the better half of the panel.
pub const TARGET_BETTER_HALF: f64 = 0.5;
/// Meta-training tasks each panel cell should be measured on.
pub const TARGET_TRAIN_TASKS_PER_CELL: usize = 30;

/// Settings of [`analyze`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AnalyzeOptions {
    /// Seed of every random draw (random split-halves and bootstraps).
    pub seed: u64,
    /// Bootstrap resamples: of tasks for the interaction share, of seeds for regret.
    pub bootstrap: usize,
    /// Random split-halves averaged per task.
    pub splits: usize,
    /// Fewest shared panel cells for a pair of tasks to enter the agreement; also the fewest
    /// cells the default panel (cells on every meta-test task) may have before the report falls
    /// back to all cells.
    pub min_shared: usize,
    /// Fewest meta-training tasks a cell must be measured on to be the "global best" pick: a
    /// cell seen on two or three tasks can top the mean percentile rank by luck.
    pub min_train_tasks: usize,
}

impl Default for AnalyzeOptions {
    fn default() -> Self {
        Self {
            seed: 0,
            bootstrap: 200,
            splits: 200,
            min_shared: 10,
            min_train_tasks: 10,
        }
    }
}

/// Why a panel file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PanelError {
    /// Not JSON.
    #[error("panel is not JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// JSON of another shape.
    #[error("panel must be a JSON array of NB201 cell strings or an object with a `panel` array")]
    Shape,
    /// An entry is not a cell string.
    #[error("panel entry {index}: {message}")]
    Arch {
        /// 0-based position in the array.
        index: usize,
        /// What is wrong with it.
        message: String,
    },
}

/// Read a panel: a JSON array of NB201 cell strings, or an object (e.g. a plan) whose `panel`
/// field is such an array.
///
/// ```
/// let cells = model_zoo::analysis::parse_panel(
///     r#"{"name": "plan", "panel": ["|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"]}"#,
/// )
/// .unwrap();
/// assert_eq!(cells.len(), 1);
/// ```
pub fn parse_panel(text: &str) -> Result<Vec<Nb201Arch>, PanelError> {
    let value: serde_json::Value = serde_json::from_str(text)?;
    let list = match &value {
        serde_json::Value::Array(a) => a,
        serde_json::Value::Object(o) => match o.get("panel") {
            Some(serde_json::Value::Array(a)) => a,
            _ => return Err(PanelError::Shape),
        },
        _ => return Err(PanelError::Shape),
    };
    list.iter()
        .enumerate()
        .map(|(index, v)| {
            let s = v.as_str().ok_or_else(|| PanelError::Arch {
                index,
                message: format!("expected a string, found {v}"),
            })?;
            s.parse().map_err(|e| PanelError::Arch {
                index,
                message: format!("`{s}`: {e}"),
            })
        })
        .collect()
}

/// The whole report. `Display` writes it as markdown.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// Records read.
    pub records: usize,
    /// Records that are not `ok` (diverged or failed), skipped.
    pub failed: usize,
    /// Records per SIMD level of the CPU that built them ([`RunRecord::cpu_simd`];
    /// "unrecorded" for records from before it was kept), in order of the level's name.
    pub cpu_simd: Vec<(String, usize)>,
    /// Distinct tasks.
    pub tasks: usize,
    /// Distinct cells (isomorphism classes) with an `ok` run.
    pub cells: usize,
    /// Which cells the panel statistics use.
    pub panel: PanelInfo,
    /// 1. Per group.
    pub composition: Vec<GroupComposition>,
    /// 2. Per meta-test task, and pooled per meta-training group.
    pub seed_noise: Vec<SeedNoise>,
    /// 3. Per meta-test task and metric.
    pub split_half: Vec<SplitHalf>,
    /// 4. Between tasks.
    pub agreement: Agreement,
    /// Section 5, the interaction over all tasks: `None` when the panel matrix has no
    /// residual degrees of freedom; meta-training entries use borrowed seed noise (see
    /// [`Interaction::noise_sources`]).
    pub interaction: Option<Interaction>,
    /// Section 5, the interaction over the meta-test tasks only, whose seed noise is measured
    /// on their own repeated runs; `None` as for `interaction` (e.g. one meta-test task).
    pub interaction_meta_test: Option<Interaction>,
    /// 6. Per meta-test task.
    pub regret: Regret,
    /// The settings used.
    pub options: AnalyzeOptions,
}

/// Where the panel came from.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum PanelSource {
    /// Given by the caller (`--panel`).
    Given {
        /// Cells given (isomorphic duplicates counted once).
        cells: usize,
    },
    /// The cells measured on every meta-test task.
    EveryMetaTestTask,
    /// All cells, because too few cells are measured on every meta-test task.
    AllCells {
        /// Cells measured on every meta-test task.
        on_every_meta_test_task: usize,
    },
}

/// The panel the cross-task statistics use.
#[derive(Clone, Debug, Serialize)]
pub struct PanelInfo {
    /// Where it came from.
    pub source: PanelSource,
    /// Panel cells with at least one `ok` run.
    pub measured: usize,
    /// Meta-training tasks with an `ok` run of a panel cell, per panel cell: min, median, max
    /// (0 for a cell on none).
    pub train_tasks_per_cell: (usize, f64, usize),
    /// Panel cells on at least [`TARGET_TRAIN_TASKS_PER_CELL`] meta-training tasks.
    pub cells_on_enough_tasks: usize,
    /// Meta-test tasks with an `ok` run of every panel cell.
    pub complete_meta_test_tasks: usize,
    /// Meta-test tasks.
    pub meta_test_tasks: usize,
}

/// 1. One group's composition.
#[derive(Clone, Debug, Serialize)]
pub struct GroupComposition {
    /// Group name.
    pub group: String,
    /// Its role.
    pub role: Role,
    /// Distinct tasks.
    pub tasks: usize,
    /// Distinct cells with an `ok` run.
    pub cells: usize,
    /// Records.
    pub runs: usize,
    /// Records that are not `ok`.
    pub failed: usize,
    /// `ok` runs per (task, cell): min, median, max.
    pub seeds: (usize, f64, usize),
    /// Classes per task: min, max.
    pub way: (usize, usize),
    /// Training images per class: min, max.
    pub train_per_class: (usize, usize),
    /// Test images per class: min, max.
    pub test_per_class: (usize, usize),
    /// Image side in pixels: min, max.
    pub resolution: (usize, usize),
    /// Image channels: min, max.
    pub channels: (usize, usize),
    /// Test accuracy of `ok` runs, percent: min, median, max.
    pub accuracy_pct: (f64, f64, f64),
    /// Median wall seconds of `ok` runs.
    pub median_wall_seconds: f64,
}

/// 2. Pooled within-cell seed noise of one task or group.
#[derive(Clone, Debug, Serialize)]
pub struct SeedNoise {
    /// A meta-test task's label, or a group name (pooled over its tasks).
    pub scope: String,
    /// Role of the tasks.
    pub role: Role,
    /// Tasks pooled.
    pub tasks: usize,
    /// (task, cell) entries with at least two runs.
    pub cells_repeated: usize,
    /// Degrees of freedom, Σ (runs − 1) over those entries.
    pub df: usize,
    /// Pooled seed std of test accuracy, pp (`None` without repeats).
    pub accuracy_std_pp: Option<f64>,
    /// Pooled seed std of test cross-entropy.
    pub loss_std: Option<f64>,
}

/// What a split-half or regret statistic ranks cells by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Test accuracy.
    Accuracy,
    /// Negated test cross-entropy (higher is better).
    NegLoss,
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Metric::Accuracy => "accuracy",
            Metric::NegLoss => "−loss",
        })
    }
}

/// 3. Split-half reliability of one meta-test task's panel ranking.
#[derive(Clone, Debug, Serialize)]
pub struct SplitHalf {
    /// Task label.
    pub task: String,
    /// The task's source kind (`glyphs`, `mnist_json`, `photos`, `procedural`, ...).
    pub domain: String,
    /// Image channels of the task.
    pub channels: usize,
    /// What cells are ranked by.
    pub metric: Metric,
    /// Panel cells with at least two runs.
    pub cells: usize,
    /// Runs per cell among them: min, max.
    pub seeds: (usize, usize),
    /// Spearman between the means of even- and odd-position seeds (seeds sorted).
    pub even_odd: f64,
    /// Mean Spearman over random equal splits.
    pub random: f64,
    /// Cells whose overall mean is at least the median.
    pub better_cells: usize,
    /// Even/odd split-half within the better half.
    pub better_even_odd: f64,
    /// Random split-half within the better half.
    pub better_random: f64,
    /// Random split-half within the top half selected on one half's mean (averaged over
    /// selecting on either half): free of the selection bias of `better_random`.
    pub top_by_half: f64,
    /// Spearman–Brown projection of `random` to the full-seed mean, 2ρ/(1+ρ) (NaN for ρ ≤ 0).
    pub projected: f64,
    /// Spearman–Brown projection of `better_random`.
    pub better_projected: f64,
    /// Seeds per cell at which `random` would reach [`TARGET_ALL`] by Spearman–Brown (the
    /// fewest seeds per cell now when it already does; NaN for ρ ≤ 0).
    pub seeds_for_all: f64,
    /// `random >= TARGET_ALL`.
    pub meets_all: bool,
    /// `better_random >= TARGET_BETTER_HALF`.
    pub meets_better: bool,
}

/// Distribution of a set of correlations.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// How many.
    pub pairs: usize,
    /// Mean.
    pub mean: f64,
    /// First quartile.
    pub q1: f64,
    /// Median.
    pub median: f64,
    /// Third quartile.
    pub q3: f64,
}

impl Summary {
    fn of(x: &[f64]) -> Option<Self> {
        (!x.is_empty()).then(|| Summary {
            pairs: x.len(),
            mean: mean(x),
            q1: quantile(x, 0.25),
            median: median(x),
            q3: quantile(x, 0.75),
        })
    }
}

/// Mean agreement between the tasks of two groups.
#[derive(Clone, Debug, Serialize)]
pub struct GroupPair {
    /// First group.
    pub a: String,
    /// Second group (equal to `a` within a group).
    pub b: String,
    /// Task pairs.
    pub pairs: usize,
    /// Mean Spearman.
    pub mean: f64,
}

/// 4. Agreement of cell rankings between tasks, over shared panel cells.
#[derive(Clone, Debug, Serialize)]
pub struct Agreement {
    /// Fewest shared cells for a pair to count.
    pub min_shared: usize,
    /// Pairs within a group.
    pub within: Option<Summary>,
    /// Pairs across groups.
    pub across: Option<Summary>,
    /// Groups in table order.
    pub groups: Vec<String>,
    /// Mean Spearman per group pair (a ≤ b in table order).
    pub table: Vec<GroupPair>,
}

/// Where an entry's seed-noise variance came from.
///
/// A group without repeated runs borrows the pooled seed variance of meta-test tasks (with
/// repeated runs) like it, trying in this order: `Comparable`, `ComparableOtherResolution`,
/// `ComparableOtherSource`, `ComparableOtherSourceAndResolution`, then `AllMetaTest`. Every
/// comparable step keeps the image channels and the training protocol: optimiser steps
/// (`min_steps`), epochs, batch size, learning rate, momentum, weight decay, BN recalibration,
/// network width and depth; not the image counts per class (meta-test tasks have larger test
/// splits by design) nor the evaluation-only fields. The source kind is the source's variant
/// (`glyphs`, `photos`, `procedural`, `mnist_json`, ...) without its options.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NoiseFrom {
    /// The pooled seed variance of the entry's own group.
    OwnGroup,
    /// Meta-test tasks with the same channels, protocol, source kind and resolution.
    Comparable,
    /// Meta-test tasks with the same channels, protocol and source kind, another resolution.
    ComparableOtherResolution,
    /// Meta-test tasks with the same channels, protocol and resolution, another source kind.
    ComparableOtherSource,
    /// Meta-test tasks with the same channels and protocol, another source kind and resolution.
    ComparableOtherSourceAndResolution,
    /// No meta-test task is comparable: the pooled seed variance of all meta-test tasks.
    AllMetaTest,
    /// No repeated runs anywhere: noise taken as 0.
    Unknown,
}

impl NoiseFrom {
    /// The comparable steps in the order they are tried, with whether each requires the same
    /// source kind and the same resolution.
    const LADDER: [(NoiseFrom, bool, bool); 4] = [
        (NoiseFrom::Comparable, true, true),
        (NoiseFrom::ComparableOtherResolution, true, false),
        (NoiseFrom::ComparableOtherSource, false, true),
        (NoiseFrom::ComparableOtherSourceAndResolution, false, false),
    ];

    fn describe(self) -> &'static str {
        match self {
            NoiseFrom::OwnGroup => "its own repeated runs",
            NoiseFrom::Comparable => {
                "comparable meta-test tasks: same channels, protocol, source kind and resolution"
            }
            NoiseFrom::ComparableOtherResolution => {
                "meta-test tasks with the same channels, protocol and source kind (other \
                 resolution)"
            }
            NoiseFrom::ComparableOtherSource => {
                "meta-test tasks with the same channels, protocol and resolution (other \
                 source kind)"
            }
            NoiseFrom::ComparableOtherSourceAndResolution => {
                "meta-test tasks with the same channels and protocol (other source kind and \
                 resolution)"
            }
            NoiseFrom::AllMetaTest => "all meta-test tasks (no comparable meta-test task)",
            NoiseFrom::Unknown => "unknown (no repeats anywhere): 0",
        }
    }
}

/// The seed-noise variance used for one group's entries.
#[derive(Clone, Debug, Serialize)]
pub struct NoiseSource {
    /// Group.
    pub group: String,
    /// Where its seed variance came from.
    pub from: NoiseFrom,
    /// The seed std used, pp.
    pub seed_std_pp: f64,
    /// The groups whose repeated runs it is pooled from (the group itself for `own_group`,
    /// none for `unknown`).
    pub pooled_from: Vec<String>,
    /// Degrees of freedom of the pooled variance, Σ (runs − 1) over its (task, cell) entries.
    pub df: usize,
}

/// Which tasks an [`Interaction`] decomposes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InteractionScope {
    /// Every task, meta-training included.
    AllTasks,
    /// The meta-test tasks only.
    MetaTest,
}

/// 5. Variance decomposition of the (task, cell) matrix of panel means, in pp².
#[derive(Clone, Debug, Serialize)]
pub struct Interaction {
    /// Which tasks it decomposes.
    pub scope: InteractionScope,
    /// Tasks (rows) with at least two panel cells.
    pub tasks: usize,
    /// Panel cells (columns) on at least two of those tasks.
    pub cells: usize,
    /// Observed entries.
    pub entries: usize,
    /// entries / (tasks × cells).
    pub fill: f64,
    /// Residual degrees of freedom of the additive fit.
    pub df: usize,
    /// Task main-effect variance (sampling error removed).
    pub task_var: f64,
    /// Cell main-effect variance (sampling error removed).
    pub cell_var: f64,
    /// Residual variance of the additive fit (interaction + seed noise).
    pub residual_var: f64,
    /// Seed-noise part of the residual: mean of σ²_seed / runs over entries.
    pub noise_var: f64,
    /// residual − noise.
    pub interaction_var: f64,
    /// interaction / (cell + interaction), unclamped.
    pub share: f64,
    /// `share` clamped to 0..=1.
    pub share_clamped: f64,
    /// 95% interval of `share` (unclamped) from resampling tasks: the resampled shares'
    /// 2.5th and 97.5th percentiles, shifted by `resample_bias` so that they centre on `share`.
    pub interval: (f64, f64),
    /// Mean resampled share − `share`. A task drawn twice lets the additive fit absorb its
    /// interaction, so resampled shares run low by about as much as they spread; the plain
    /// percentile interval would miss the estimate.
    pub resample_bias: f64,
    /// Resamples that gave a share.
    pub bootstrap: usize,
    /// Seed variance used per group.
    pub noise_sources: Vec<NoiseSource>,
}

impl Interaction {
    /// Whether the share means anything: the seed noise used must leave a non-negative
    /// interaction and a positive cell-dependent variance. With borrowed noise larger than the
    /// residual (meta-training groups noisier on paper than they are) it does not.
    pub fn estimable(&self) -> bool {
        self.interaction_var >= 0.0 && self.cell_var + self.interaction_var > 0.0
    }
}

/// A pick's regret on one task.
#[derive(Clone, Debug, Serialize)]
pub struct Pick {
    /// The cell picked.
    pub arch: String,
    /// Its mean accuracy, percent.
    pub accuracy_pct: f64,
    /// best − pick, pp.
    pub regret_pp: f64,
    /// Bootstrap standard error of the regret, pp.
    pub se_pp: f64,
}

/// A uniformly random panel cell's regret on one task.
#[derive(Clone, Debug, Serialize)]
pub struct RandomPick {
    /// Expected regret, best − mean of cell means, pp.
    pub regret_pp: f64,
    /// Bootstrap standard error of it, pp.
    pub se_pp: f64,
    /// Standard deviation of one random pick's regret (the spread of cell means), pp.
    pub sd_pp: f64,
}

/// 6. Regret of trivial picks on one meta-test task.
#[derive(Clone, Debug, Serialize)]
pub struct TaskRegret {
    /// Task label.
    pub task: String,
    /// Panel cells measured on it.
    pub cells: usize,
    /// Runs per cell: min, max.
    pub seeds: (usize, usize),
    /// The best cell.
    pub best: String,
    /// Its mean accuracy, percent.
    pub best_pct: f64,
    /// Winner's curse: bootstrap estimate of how much the best mean is biased up, pp.
    pub best_bias_pp: f64,
    /// The cell with the best mean percentile rank over meta-training tasks.
    pub global_best: Option<Pick>,
    /// The cell with the most parameters.
    pub most_params: Option<Pick>,
    /// A random cell.
    pub random: RandomPick,
}

/// Mean regret of one kind of pick over meta-test tasks.
#[derive(Clone, Debug, Serialize)]
pub struct MeanRegret {
    /// Tasks averaged.
    pub tasks: usize,
    /// Mean regret, pp.
    pub regret_pp: f64,
    /// √(Σ se²) / n, pp.
    pub se_pp: f64,
}

impl MeanRegret {
    fn of(x: &[(f64, f64)]) -> Option<Self> {
        (!x.is_empty()).then(|| MeanRegret {
            tasks: x.len(),
            regret_pp: x.iter().map(|v| v.0).sum::<f64>() / x.len() as f64,
            se_pp: x.iter().map(|v| v.1 * v.1).sum::<f64>().sqrt() / x.len() as f64,
        })
    }
}

/// 6. Regret of trivial picks.
#[derive(Clone, Debug, Serialize)]
pub struct Regret {
    /// Per meta-test task.
    pub tasks: Vec<TaskRegret>,
    /// Mean of the global-best pick.
    pub global_best: Option<MeanRegret>,
    /// Mean of the most-parameters pick.
    pub most_params: Option<MeanRegret>,
    /// Mean of a random pick.
    pub random: Option<MeanRegret>,
}

/// One cell's runs on one task.
#[derive(Clone, Debug)]
struct Cell {
    /// The member of the class with the smallest index among those run.
    arch: Nb201Arch,
    /// (seed, arch string, accuracy, loss) of each `ok` run.
    runs: Vec<(u64, String, f64, Option<f64>)>,
    /// Accuracies in pp, seeds in order.
    acc: Vec<f64>,
    /// Negated losses, seeds in order.
    neg_loss: Vec<f64>,
    params: usize,
    flops: f64,
}

impl Cell {
    fn values(&self, metric: Metric) -> &[f64] {
        match metric {
            Metric::Accuracy => &self.acc,
            Metric::NegLoss => &self.neg_loss,
        }
    }
}

/// One task's records.
struct TaskData<'a> {
    group: &'a str,
    role: Role,
    spec: &'a datasets::TaskSpec,
    /// The protocol of its first record (a group holds one protocol: `merge` refuses mixes).
    protocol: &'a Protocol,
    label: String,
    cells: BTreeMap<usize, Cell>,
    runs: usize,
    failed: usize,
    wall: Vec<f64>,
}

fn role_rank(role: Role) -> u8 {
    match role {
        Role::MetaTrain => 0,
        Role::MetaTest => 1,
    }
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::MetaTrain => "meta-train",
        Role::MetaTest => "meta-test",
    }
}

/// A random stream of its own for each statistic, all from one seed.
fn stream(seed: u64, id: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(id);
    rng
}

fn normal<R: Rng>(rng: &mut R) -> f64 {
    // Box–Muller; 1 − u is in (0, 1], so the log is finite.
    let u1 = 1.0 - rng.random::<f64>();
    let u2 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Group the records by task and cell, in (role, group, first appearance) order.
fn collect(records: &[RunRecord]) -> Vec<TaskData<'_>> {
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut tasks: Vec<TaskData> = Vec::new();
    for r in records {
        let key = r.task.key();
        let t = *index.entry(key).or_insert_with(|| {
            tasks.push(TaskData {
                group: &r.group,
                role: r.role,
                spec: &r.task,
                protocol: &r.protocol,
                label: String::new(),
                cells: BTreeMap::new(),
                runs: 0,
                failed: 0,
                wall: Vec::new(),
            });
            tasks.len() - 1
        });
        let task = &mut tasks[t];
        task.runs += 1;
        let Some(acc) = r.result.test_accuracy.filter(|_| r.result.is_ok()) else {
            task.failed += 1;
            continue;
        };
        task.wall.push(r.result.wall_seconds);
        let cell = task
            .cells
            .entry(r.arch.canonical_id())
            .or_insert_with(|| Cell {
                arch: r.arch,
                runs: Vec::new(),
                acc: Vec::new(),
                neg_loss: Vec::new(),
                params: 0,
                flops: 0.0,
            });
        if r.arch.index() < cell.arch.index() {
            cell.arch = r.arch;
        }
        cell.params = cell.params.max(r.result.param_count);
        cell.flops = cell.flops.max(r.result.cost.flops);
        cell.runs
            .push((r.seed, r.arch.to_string(), acc, r.result.test_loss));
    }
    for task in &mut tasks {
        for cell in task.cells.values_mut() {
            cell.runs
                .sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)).then(a.2.total_cmp(&b.2)));
            cell.acc = cell.runs.iter().map(|r| 100.0 * r.2).collect();
            cell.neg_loss = cell.runs.iter().filter_map(|r| r.3.map(|l| -l)).collect();
        }
    }
    tasks.sort_by(|a, b| (role_rank(a.role), a.group).cmp(&(role_rank(b.role), b.group)));
    let mut per_group: BTreeMap<&str, usize> = BTreeMap::new();
    for t in &tasks {
        *per_group.entry(t.group).or_default() += 1;
    }
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    let labels: Vec<String> = tasks
        .iter()
        .map(|t| {
            let k = seen.entry(t.group).or_default();
            *k += 1;
            if per_group[t.group] == 1 {
                t.group.to_string()
            } else {
                format!("{}#{}", t.group, *k - 1)
            }
        })
        .collect();
    for (t, label) in tasks.iter_mut().zip(labels) {
        t.label = label;
    }
    tasks
}

/// What a task's seed noise is compared by when a group without repeated runs borrows it.
#[derive(Clone, Debug, PartialEq)]
struct NoiseKey {
    /// Image channels.
    channels: usize,
    /// The source's kind (its serde tag: `glyphs`, `photos`, ...), without its options.
    kind: String,
    /// Image side of the task and of the protocol.
    resolution: (usize, usize),
    /// The protocol less what only sizes the task or the evaluation: resolution, images per
    /// class, evaluation batch size, per-epoch testing.
    regime: Protocol,
}

impl NoiseKey {
    fn of(task: &TaskData) -> Self {
        let kind = source_kind(task);
        Self {
            channels: task.spec.channels,
            kind,
            resolution: (task.spec.resolution, task.protocol.resolution),
            regime: Protocol {
                resolution: 0,
                train_per_class: 0,
                test_per_class: 0,
                eval_batch_size: 0,
                test_every_epoch: false,
                ..task.protocol.clone()
            },
        }
    }
}

/// The seed variance (accuracy, pp²) used for one group, and where it came from.
#[derive(Clone, Debug)]
struct GroupNoise {
    var: f64,
    from: NoiseFrom,
    /// Groups whose repeated runs it is pooled from.
    pooled_from: Vec<String>,
    df: usize,
}

/// Seed variances (accuracy, pp²) by task and by group.
struct NoiseModel {
    task: Vec<Option<f64>>,
    /// Every group: measured on its own repeats, else borrowed (see [`NoiseFrom`]).
    group: BTreeMap<String, GroupNoise>,
}

impl NoiseModel {
    fn new(tasks: &[TaskData]) -> Self {
        // Pooled over the given tasks, with the groups that have repeats among them.
        let pooled = |ts: &[&TaskData]| -> Option<(f64, usize, Vec<String>)> {
            let (var, df) = pooled_variance(
                ts.iter()
                    .flat_map(|t| t.cells.values().map(|c| c.acc.as_slice())),
            )?;
            let groups: BTreeSet<&str> = ts
                .iter()
                .filter(|t| t.cells.values().any(|c| c.acc.len() >= 2))
                .map(|t| t.group)
                .collect();
            Some((var, df, groups.into_iter().map(str::to_owned).collect()))
        };
        let task = tasks.iter().map(|t| pooled(&[t]).map(|p| p.0)).collect();
        let keys: Vec<NoiseKey> = tasks.iter().map(NoiseKey::of).collect();
        let test: Vec<usize> = (0..tasks.len())
            .filter(|&t| tasks[t].role == Role::MetaTest)
            .collect();
        let all_test = pooled(&test.iter().map(|&t| &tasks[t]).collect::<Vec<_>>());
        let mut group = BTreeMap::new();
        for g in tasks.iter().map(|t| t.group).collect::<BTreeSet<_>>() {
            let members: Vec<usize> = (0..tasks.len()).filter(|&t| tasks[t].group == g).collect();
            // A group is one source, protocol and shape: its first task speaks for it.
            let key = &keys[members[0]];
            let found = pooled(&members.iter().map(|&t| &tasks[t]).collect::<Vec<_>>())
                .map(|p| (p, NoiseFrom::OwnGroup))
                .or_else(|| {
                    NoiseFrom::LADDER
                        .iter()
                        .find_map(|&(from, same_kind, same_res)| {
                            let alike: Vec<&TaskData> = test
                                .iter()
                                .filter(|&&t| {
                                    let k = &keys[t];
                                    k.channels == key.channels
                                        && k.regime == key.regime
                                        && (!same_kind || k.kind == key.kind)
                                        && (!same_res || k.resolution == key.resolution)
                                })
                                .map(|&t| &tasks[t])
                                .collect();
                            pooled(&alike).map(|p| (p, from))
                        })
                })
                .or_else(|| all_test.clone().map(|p| (p, NoiseFrom::AllMetaTest)));
            let noise = match found {
                Some(((var, df, pooled_from), from)) => GroupNoise {
                    var,
                    from,
                    pooled_from,
                    df,
                },
                None => GroupNoise {
                    var: 0.0,
                    from: NoiseFrom::Unknown,
                    pooled_from: Vec::new(),
                    df: 0,
                },
            };
            group.insert(g.to_string(), noise);
        }
        Self { task, group }
    }

    /// Seed variance for a group's entries, and where it came from.
    fn for_group(&self, group: &str) -> &GroupNoise {
        &self.group[group]
    }
}

/// The signal report of `records`; `panel` restricts the cross-task statistics to those cells
/// (default: the cells measured on every meta-test task, or all cells when fewer than
/// `options.min_shared` are).
pub fn analyze(
    records: &[RunRecord],
    panel: Option<&[Nb201Arch]>,
    options: &AnalyzeOptions,
) -> Report {
    let tasks = collect(records);
    let all_cells: BTreeSet<usize> = tasks.iter().flat_map(|t| t.cells.keys().copied()).collect();
    let test: Vec<usize> = (0..tasks.len())
        .filter(|&t| tasks[t].role == Role::MetaTest)
        .collect();
    let (panel, source) = match panel {
        Some(given) => {
            let set: BTreeSet<usize> = given.iter().map(Nb201Arch::canonical_id).collect();
            let n = set.len();
            (set, PanelSource::Given { cells: n })
        }
        None => {
            let mut every: Option<BTreeSet<usize>> = None;
            for &t in &test {
                let here: BTreeSet<usize> = tasks[t].cells.keys().copied().collect();
                every = Some(match every {
                    None => here,
                    Some(e) => e.intersection(&here).copied().collect(),
                });
            }
            match every {
                Some(e) if e.len() >= options.min_shared.max(2) => {
                    (e, PanelSource::EveryMetaTestTask)
                }
                e => (
                    all_cells.clone(),
                    PanelSource::AllCells {
                        on_every_meta_test_task: e.map_or(0, |e| e.len()),
                    },
                ),
            }
        }
    };
    let noise = NoiseModel::new(&tasks);
    let per_cell: Vec<usize> = panel
        .iter()
        .map(|c| {
            tasks
                .iter()
                .filter(|t| t.role == Role::MetaTrain && t.cells.contains_key(c))
                .count()
        })
        .collect();
    let (lo, hi) = min_max(per_cell.iter().copied());
    Report {
        records: records.len(),
        cpu_simd: {
            let mut by: BTreeMap<String, usize> = BTreeMap::new();
            for r in records {
                let level = r.cpu_simd.as_deref().unwrap_or("unrecorded");
                *by.entry(level.to_string()).or_default() += 1;
            }
            by.into_iter().collect()
        },
        failed: tasks.iter().map(|t| t.failed).sum(),
        tasks: tasks.len(),
        cells: all_cells.len(),
        panel: PanelInfo {
            source,
            measured: panel.intersection(&all_cells).count(),
            train_tasks_per_cell: (
                if per_cell.is_empty() { 0 } else { lo },
                median(&per_cell.iter().map(|&n| n as f64).collect::<Vec<_>>()),
                hi,
            ),
            cells_on_enough_tasks: per_cell
                .iter()
                .filter(|&&n| n >= TARGET_TRAIN_TASKS_PER_CELL)
                .count(),
            complete_meta_test_tasks: test
                .iter()
                .filter(|&&t| panel.iter().all(|c| tasks[t].cells.contains_key(c)))
                .count(),
            meta_test_tasks: test.len(),
        },
        composition: composition(&tasks),
        seed_noise: seed_noise(&tasks),
        split_half: split_halves(&tasks, &panel, options),
        agreement: agreement(&tasks, &panel, options.min_shared),
        interaction: interaction(&tasks, InteractionScope::AllTasks, &panel, &noise, options),
        interaction_meta_test: interaction(
            &tasks,
            InteractionScope::MetaTest,
            &panel,
            &noise,
            options,
        ),
        regret: regret(&tasks, &panel, &noise, options),
        options: options.clone(),
    }
}

fn min_max(x: impl Iterator<Item = usize>) -> (usize, usize) {
    x.fold((usize::MAX, 0), |(lo, hi), v| (lo.min(v), hi.max(v)))
}

fn composition(tasks: &[TaskData]) -> Vec<GroupComposition> {
    let mut groups: Vec<&str> = tasks.iter().map(|t| t.group).collect();
    groups.dedup();
    groups
        .into_iter()
        .map(|g| {
            let ts: Vec<&TaskData> = tasks.iter().filter(|t| t.group == g).collect();
            let cells: BTreeSet<usize> = ts.iter().flat_map(|t| t.cells.keys().copied()).collect();
            let seeds: Vec<usize> = ts
                .iter()
                .flat_map(|t| t.cells.values().map(|c| c.acc.len()))
                .collect();
            let acc: Vec<f64> = ts
                .iter()
                .flat_map(|t| t.cells.values().flat_map(|c| c.acc.iter().copied()))
                .collect();
            let wall: Vec<f64> = ts.iter().flat_map(|t| t.wall.iter().copied()).collect();
            let (lo, hi) = min_max(seeds.iter().copied());
            GroupComposition {
                group: g.to_string(),
                role: ts[0].role,
                tasks: ts.len(),
                cells: cells.len(),
                runs: ts.iter().map(|t| t.runs).sum(),
                failed: ts.iter().map(|t| t.failed).sum(),
                seeds: (
                    if seeds.is_empty() { 0 } else { lo },
                    median(&seeds.iter().map(|&s| s as f64).collect::<Vec<_>>()),
                    hi,
                ),
                way: min_max(ts.iter().map(|t| t.spec.classes.len())),
                train_per_class: min_max(ts.iter().map(|t| t.spec.train_per_class)),
                test_per_class: min_max(ts.iter().map(|t| t.spec.test_per_class)),
                resolution: min_max(ts.iter().map(|t| t.spec.resolution)),
                channels: min_max(ts.iter().map(|t| t.spec.channels)),
                accuracy_pct: (quantile(&acc, 0.0), median(&acc), quantile(&acc, 1.0)),
                median_wall_seconds: median(&wall),
            }
        })
        .collect()
}

fn noise_row<'a>(
    scope: String,
    role: Role,
    ts: impl Iterator<Item = &'a TaskData<'a>> + Clone,
) -> SeedNoise {
    let acc: Vec<&[f64]> = ts
        .clone()
        .flat_map(|t| t.cells.values().map(|c| c.acc.as_slice()))
        .collect();
    let loss: Vec<&[f64]> = ts
        .clone()
        .flat_map(|t| t.cells.values().map(|c| c.neg_loss.as_slice()))
        .collect();
    let a = pooled_variance(acc.iter().copied());
    SeedNoise {
        scope,
        role,
        tasks: ts
            .filter(|t| t.cells.values().any(|c| c.acc.len() >= 2))
            .count(),
        cells_repeated: acc.iter().filter(|v| v.len() >= 2).count(),
        df: a.map_or(0, |v| v.1),
        accuracy_std_pp: a.map(|v| v.0.sqrt()),
        loss_std: pooled_variance(loss).map(|v| v.0.sqrt()),
    }
}

fn seed_noise(tasks: &[TaskData]) -> Vec<SeedNoise> {
    let mut rows: Vec<SeedNoise> = tasks
        .iter()
        .filter(|t| t.role == Role::MetaTest)
        .map(|t| noise_row(t.label.clone(), t.role, std::iter::once(t)))
        .collect();
    if rows.len() > 1 {
        let all = noise_row(
            "all meta-test tasks".into(),
            Role::MetaTest,
            tasks.iter().filter(|t| t.role == Role::MetaTest),
        );
        if all.df > 0 {
            rows.push(all);
        }
    }
    let mut groups: Vec<&str> = tasks
        .iter()
        .filter(|t| t.role == Role::MetaTrain)
        .map(|t| t.group)
        .collect();
    groups.dedup();
    for g in groups {
        rows.push(noise_row(
            g.to_string(),
            Role::MetaTrain,
            tasks.iter().filter(|t| t.group == g),
        ));
    }
    rows
}

/// The task's source kind (its serde tag: `glyphs`, `photos`, ...), without its options.
fn source_kind(task: &TaskData) -> String {
    serde_json::to_value(&task.spec.source)
        .ok()
        .and_then(|v| v.get("kind")?.as_str().map(str::to_owned))
        .unwrap_or_else(|| task.spec.source.name())
}

fn split_halves(
    tasks: &[TaskData],
    panel: &BTreeSet<usize>,
    options: &AnalyzeOptions,
) -> Vec<SplitHalf> {
    let mut rows = Vec::new();
    for (t, task) in tasks.iter().enumerate() {
        if task.role != Role::MetaTest {
            continue;
        }
        for (m, metric) in [Metric::Accuracy, Metric::NegLoss].into_iter().enumerate() {
            let items: Vec<&[f64]> = task
                .cells
                .iter()
                .filter(|(c, cell)| panel.contains(c) && cell.values(metric).len() >= 2)
                .map(|(_, cell)| cell.values(metric))
                .collect();
            if items.len() < 3 {
                continue;
            }
            let means: Vec<f64> = items.iter().map(|v| mean(v)).collect();
            let cut = median(&means);
            let better: Vec<&[f64]> = items
                .iter()
                .zip(&means)
                .filter(|(_, &m)| m >= cut)
                .map(|(v, _)| *v)
                .collect();
            let id = 1_000 + 8 * t as u64 + 4 * m as u64;
            let random = split_half_random(&items, options.splits, &mut stream(options.seed, id));
            let better_random =
                split_half_random(&better, options.splits, &mut stream(options.seed, id + 1));
            let seeds = min_max(items.iter().map(|v| v.len()));
            rows.push(SplitHalf {
                task: task.label.clone(),
                domain: source_kind(task),
                channels: task.spec.channels,
                metric,
                cells: items.len(),
                seeds,
                even_odd: split_half_even_odd(&items),
                random,
                better_cells: better.len(),
                better_even_odd: split_half_even_odd(&better),
                better_random,
                top_by_half: split_half_random_top(
                    &items,
                    options.splits,
                    &mut stream(options.seed, id + 2),
                ),
                projected: project(random),
                better_projected: project(better_random),
                seeds_for_all: seeds_for(random, TARGET_ALL, seeds.0),
                meets_all: random >= TARGET_ALL,
                meets_better: better_random >= TARGET_BETTER_HALF,
            });
        }
    }
    rows
}

/// Seeds per cell at which the random split-half would reach `target`, by Spearman–Brown from
/// `rho` measured with `seeds` per cell (halves of `seeds / 2`): `seeds · t(1 − ρ) / (ρ(1 − t))`,
/// at least `seeds`; NaN for ρ ≤ 0.
fn seeds_for(rho: f64, target: f64, seeds: usize) -> f64 {
    if rho >= target {
        seeds as f64
    } else if rho > 0.0 {
        // less a hair, so that an exact multiple is not rounded up by float error
        (seeds as f64 * target * (1.0 - rho) / (rho * (1.0 - target)) - 1e-9).ceil()
    } else {
        f64::NAN
    }
}

/// Spearman–Brown projection of a split-half correlation to twice the seeds; undefined (NaN)
/// for ρ ≤ 0.
fn project(rho: f64) -> f64 {
    if rho > 0.0 {
        spearman_brown(rho, 2.0)
    } else {
        f64::NAN
    }
}

/// Each task's panel-cell mean accuracies, sorted by cell.
fn panel_means(task: &TaskData, panel: &BTreeSet<usize>) -> Vec<(usize, f64)> {
    task.cells
        .iter()
        .filter(|(c, _)| panel.contains(c))
        .map(|(&c, cell)| (c, mean(&cell.acc)))
        .collect()
}

fn agreement(tasks: &[TaskData], panel: &BTreeSet<usize>, min_shared: usize) -> Agreement {
    let mut groups: Vec<&str> = tasks.iter().map(|t| t.group).collect();
    groups.dedup();
    let gi: HashMap<&str, usize> = groups.iter().enumerate().map(|(i, g)| (*g, i)).collect();
    let means: Vec<Vec<(usize, f64)>> = tasks.iter().map(|t| panel_means(t, panel)).collect();
    let usable: Vec<usize> = (0..tasks.len())
        .filter(|&t| means[t].len() >= min_shared.max(3))
        .collect();
    let (mut within, mut across) = (Vec::new(), Vec::new());
    let mut table: BTreeMap<(usize, usize), (f64, usize)> = BTreeMap::new();
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for (k, &a) in usable.iter().enumerate() {
        for &b in &usable[k + 1..] {
            x.clear();
            y.clear();
            let (ma, mb) = (&means[a], &means[b]);
            let (mut i, mut j) = (0, 0);
            while i < ma.len() && j < mb.len() {
                match ma[i].0.cmp(&mb[j].0) {
                    std::cmp::Ordering::Less => i += 1,
                    std::cmp::Ordering::Greater => j += 1,
                    std::cmp::Ordering::Equal => {
                        x.push(ma[i].1);
                        y.push(mb[j].1);
                        i += 1;
                        j += 1;
                    }
                }
            }
            if x.len() < min_shared.max(3) {
                continue;
            }
            let Some(rho) = spearman(&x, &y) else {
                continue;
            };
            let (ga, gb) = (gi[tasks[a].group], gi[tasks[b].group]);
            if ga == gb {
                within.push(rho);
            } else {
                across.push(rho);
            }
            let e = table.entry((ga.min(gb), ga.max(gb))).or_default();
            e.0 += rho;
            e.1 += 1;
        }
    }
    Agreement {
        min_shared,
        within: Summary::of(&within),
        across: Summary::of(&across),
        groups: groups.iter().map(|g| g.to_string()).collect(),
        table: table
            .into_iter()
            .map(|((a, b), (sum, n))| GroupPair {
                a: groups[a].to_string(),
                b: groups[b].to_string(),
                pairs: n,
                mean: sum / n as f64,
            })
            .collect(),
    }
}

/// One observed entry of the (task, cell) matrix.
#[derive(Clone, Copy)]
struct Entry {
    row: usize,
    col: usize,
    /// Mean accuracy, pp.
    y: f64,
    /// Seed-noise variance of the mean, pp².
    noise: f64,
}

/// The decomposition of one matrix.
struct Decomposition {
    df: usize,
    task_var: f64,
    cell_var: f64,
    residual_var: f64,
    noise_var: f64,
}

impl Decomposition {
    fn share(&self) -> f64 {
        let inter = self.residual_var - self.noise_var;
        inter / (self.cell_var + inter)
    }
}

/// Connected components of the bipartite graph of rows and columns joined by entries.
fn components(entries: &[Entry], rows: usize, cols: usize) -> usize {
    let mut parent: Vec<usize> = (0..rows + cols).collect();
    fn find(p: &mut [usize], mut x: usize) -> usize {
        while p[x] != x {
            p[x] = p[p[x]];
            x = p[x];
        }
        x
    }
    for e in entries {
        let (a, b) = (find(&mut parent, e.row), find(&mut parent, rows + e.col));
        parent[a] = b;
    }
    let mut used = vec![false; rows + cols];
    for e in entries {
        used[e.row] = true;
        used[rows + e.col] = true;
    }
    (0..rows + cols)
        .filter(|&x| used[x] && find(&mut parent, x) == x)
        .count()
}

/// Method-of-moments decomposition: additive fit, residual variance on its degrees of freedom,
/// main-effect variances less their sampling error (residual / entries per row or column).
fn decompose(entries: &[Entry], rows: usize, cols: usize) -> Option<Decomposition> {
    let triples: Vec<(usize, usize, f64)> = entries.iter().map(|e| (e.row, e.col, e.y)).collect();
    let fit = additive_fit(&triples, rows, cols);
    let (mut rn, mut cn) = (vec![0usize; rows], vec![0usize; cols]);
    for e in entries {
        rn[e.row] += 1;
        cn[e.col] += 1;
    }
    let used_rows: Vec<usize> = (0..rows).filter(|&r| rn[r] > 0).collect();
    let used_cols: Vec<usize> = (0..cols).filter(|&c| cn[c] > 0).collect();
    let params = used_rows.len() + used_cols.len() - components(entries, rows, cols);
    let df = entries.len().checked_sub(params).filter(|&d| d > 0)?;
    let residual_var = fit.residuals.iter().map(|r| r * r).sum::<f64>() / df as f64;
    let inv_mean = |n: &[usize], used: &[usize]| {
        used.iter().map(|&i| 1.0 / n[i] as f64).sum::<f64>() / used.len() as f64
    };
    let row_eff: Vec<f64> = used_rows.iter().map(|&r| fit.row[r]).collect();
    let col_eff: Vec<f64> = used_cols.iter().map(|&c| fit.col[c]).collect();
    Some(Decomposition {
        df,
        task_var: variance(&row_eff) - residual_var * inv_mean(&cn, &used_cols),
        cell_var: variance(&col_eff) - residual_var * inv_mean(&rn, &used_rows),
        residual_var,
        noise_var: mean(&entries.iter().map(|e| e.noise).collect::<Vec<_>>()),
    })
}

fn interaction(
    tasks: &[TaskData],
    scope: InteractionScope,
    panel: &BTreeSet<usize>,
    noise: &NoiseModel,
    options: &AnalyzeOptions,
) -> Option<Interaction> {
    // Keep tasks with ≥ 2 panel cells and cells on ≥ 2 of those tasks, until both hold.
    let mut rows: Vec<usize> = (0..tasks.len())
        .filter(|&t| scope == InteractionScope::AllTasks || tasks[t].role == Role::MetaTest)
        .collect();
    let mut cols: BTreeSet<usize> = panel.clone();
    loop {
        let new_rows: Vec<usize> = rows
            .iter()
            .copied()
            .filter(|&t| tasks[t].cells.keys().filter(|c| cols.contains(c)).count() >= 2)
            .collect();
        let mut count: BTreeMap<usize, usize> = BTreeMap::new();
        for &t in &new_rows {
            for c in tasks[t].cells.keys().filter(|c| cols.contains(c)) {
                *count.entry(*c).or_default() += 1;
            }
        }
        let new_cols: BTreeSet<usize> = count
            .into_iter()
            .filter(|&(_, n)| n >= 2)
            .map(|(c, _)| c)
            .collect();
        let stable = new_rows.len() == rows.len() && new_cols.len() == cols.len();
        rows = new_rows;
        cols = new_cols;
        if stable {
            break;
        }
    }
    let col_index: HashMap<usize, usize> = cols.iter().enumerate().map(|(i, &c)| (c, i)).collect();
    let mut noise_sources: BTreeMap<&str, &GroupNoise> = BTreeMap::new();
    // Entries grouped by row, so a bootstrap can copy whole rows.
    let by_row: Vec<Vec<Entry>> = rows
        .iter()
        .enumerate()
        .map(|(r, &t)| {
            let source = noise.for_group(tasks[t].group);
            noise_sources.insert(tasks[t].group, source);
            let var = source.var;
            tasks[t]
                .cells
                .iter()
                .filter_map(|(c, cell)| {
                    col_index.get(c).map(|&col| Entry {
                        row: r,
                        col,
                        y: mean(&cell.acc),
                        noise: var / cell.acc.len() as f64,
                    })
                })
                .collect()
        })
        .collect();
    let entries: Vec<Entry> = by_row.iter().flatten().copied().collect();
    let d = decompose(&entries, rows.len(), cols.len())?;
    let share = d.share();
    let mut rng = stream(
        options.seed,
        match scope {
            InteractionScope::AllTasks => 2,
            InteractionScope::MetaTest => 4,
        },
    );
    let mut shares: Vec<f64> = bootstrap(rows.len(), options.bootstrap, &mut rng, |idx| {
        let resampled: Vec<Entry> = idx
            .iter()
            .enumerate()
            .flat_map(|(r, &i)| by_row[i].iter().map(move |e| Entry { row: r, ..*e }))
            .collect();
        decompose(&resampled, rows.len(), cols.len()).map_or(f64::NAN, |d| d.share())
    });
    shares.retain(|s| s.is_finite());
    let resample_bias = mean(&shares) - share;
    let (lo, hi) = percentile_interval(&shares, 0.95);
    Some(Interaction {
        scope,
        tasks: rows.len(),
        cells: cols.len(),
        entries: entries.len(),
        fill: entries.len() as f64 / (rows.len() * cols.len()) as f64,
        df: d.df,
        task_var: d.task_var,
        cell_var: d.cell_var,
        residual_var: d.residual_var,
        noise_var: d.noise_var,
        interaction_var: d.residual_var - d.noise_var,
        share,
        share_clamped: share.clamp(0.0, 1.0),
        interval: (lo - resample_bias, hi - resample_bias),
        resample_bias,
        bootstrap: shares.len(),
        noise_sources: noise_sources
            .into_iter()
            .map(|(g, n)| NoiseSource {
                group: g.to_string(),
                from: n.from,
                seed_std_pp: n.var.sqrt(),
                pooled_from: n.pooled_from.clone(),
                df: n.df,
            })
            .collect(),
    })
}

/// Each cell's mean percentile rank over meta-training tasks, with the number of tasks.
fn train_scores(tasks: &[TaskData]) -> BTreeMap<usize, (f64, usize)> {
    let mut acc: BTreeMap<usize, (f64, usize)> = BTreeMap::new();
    for t in tasks.iter().filter(|t| t.role == Role::MetaTrain) {
        if t.cells.len() < 2 {
            continue;
        }
        let means: Vec<f64> = t.cells.values().map(|c| mean(&c.acc)).collect();
        let r = ranks(&means);
        let n = means.len() as f64;
        for (c, rank) in t.cells.keys().zip(r) {
            let e = acc.entry(*c).or_default();
            e.0 += (rank - 1.0) / (n - 1.0);
            e.1 += 1;
        }
    }
    acc.into_iter()
        .map(|(c, (sum, n))| (c, (sum / n as f64, n)))
        .collect()
}

fn argmax(x: &[f64]) -> usize {
    (0..x.len()).fold(0, |best, i| if x[i] > x[best] { i } else { best })
}

fn regret(
    tasks: &[TaskData],
    panel: &BTreeSet<usize>,
    noise: &NoiseModel,
    options: &AnalyzeOptions,
) -> Regret {
    let scores = train_scores(tasks);
    let mut rows = Vec::new();
    for (t, task) in tasks.iter().enumerate() {
        if task.role != Role::MetaTest {
            continue;
        }
        let cells: Vec<(&usize, &Cell)> = task
            .cells
            .iter()
            .filter(|(c, _)| panel.contains(c))
            .collect();
        if cells.len() < 2 {
            continue;
        }
        let means: Vec<f64> = cells.iter().map(|(_, c)| mean(&c.acc)).collect();
        let best = argmax(&means);
        let global = cells
            .iter()
            .enumerate()
            .filter_map(|(i, (c, _))| {
                scores
                    .get(c)
                    .filter(|s| s.1 >= options.min_train_tasks)
                    .map(|s| (i, *s))
            })
            .max_by(|a, b| {
                (a.1 .0.total_cmp(&b.1 .0))
                    .then(a.1 .1.cmp(&b.1 .1))
                    .then(cells[b.0].0.cmp(cells[a.0].0))
            })
            .map(|(i, _)| i);
        let params = (0..cells.len()).max_by(|&a, &b| {
            let (ca, cb) = (cells[a].1, cells[b].1);
            ca.params
                .cmp(&cb.params)
                .then(ca.flops.total_cmp(&cb.flops))
                .then(cb.arch.to_string().cmp(&ca.arch.to_string()))
        });
        // Seed bootstrap: resample each cell's runs; a cell with one run draws around it with the
        // task's seed std (else its group's, measured or borrowed), since resampling one value
        // is no draw at all.
        let sigma = noise.task[t]
            .unwrap_or_else(|| noise.for_group(task.group).var)
            .sqrt();
        let mut rng = stream(options.seed, 3_000 + t as u64);
        let (mut best_s, mut glob_s, mut par_s, mut rand_s) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut m = vec![0.0; cells.len()];
        for _ in 0..options.bootstrap {
            for (k, (_, cell)) in cells.iter().enumerate() {
                let v = &cell.acc;
                m[k] = if v.len() == 1 {
                    v[0] + sigma * normal(&mut rng)
                } else {
                    (0..v.len())
                        .map(|_| v[rng.random_range(0..v.len())])
                        .sum::<f64>()
                        / v.len() as f64
                };
            }
            let b = m.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            best_s.push(b);
            if let Some(g) = global {
                glob_s.push(b - m[g]);
            }
            if let Some(p) = params {
                par_s.push(b - m[p]);
            }
            rand_s.push(b - mean(&m));
        }
        let se = |x: &[f64]| variance(x).sqrt();
        let pick = |i: usize, s: &[f64]| Pick {
            arch: cells[i].1.arch.to_string(),
            accuracy_pct: means[i],
            regret_pp: means[best] - means[i],
            se_pp: se(s),
        };
        let centred: Vec<f64> = means.iter().map(|m| means[best] - m).collect();
        rows.push(TaskRegret {
            task: task.label.clone(),
            cells: cells.len(),
            seeds: min_max(cells.iter().map(|(_, c)| c.acc.len())),
            best: cells[best].1.arch.to_string(),
            best_pct: means[best],
            best_bias_pp: mean(&best_s) - means[best],
            global_best: global.map(|g| pick(g, &glob_s)),
            most_params: params.map(|p| pick(p, &par_s)),
            random: RandomPick {
                regret_pp: mean(&centred),
                se_pp: se(&rand_s),
                sd_pp: (variance(&centred) * (centred.len() - 1) as f64 / centred.len() as f64)
                    .sqrt(),
            },
        });
    }
    let collect = |f: &dyn Fn(&TaskRegret) -> Option<(f64, f64)>| {
        MeanRegret::of(&rows.iter().filter_map(f).collect::<Vec<_>>())
    };
    Regret {
        global_best: collect(&|r| r.global_best.as_ref().map(|p| (p.regret_pp, p.se_pp))),
        most_params: collect(&|r| r.most_params.as_ref().map(|p| (p.regret_pp, p.se_pp))),
        random: collect(&|r| Some((r.random.regret_pp, r.random.se_pp))),
        tasks: rows,
    }
}

/// A number, or "–" when it is not finite.
fn num(x: f64, digits: usize) -> String {
    if x.is_finite() {
        format!("{x:.digits$}")
    } else {
        "–".into()
    }
}

fn range(r: (usize, usize)) -> String {
    if r.0 == r.1 {
        r.0.to_string()
    } else {
        format!("{}–{}", r.0, r.1)
    }
}

fn yes(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "# Database signal report\n")?;
        writeln!(
            f,
            "{} records ({} not ok, skipped), {} tasks, {} distinct cells (isomorphism classes).",
            self.records, self.failed, self.tasks, self.cells
        )?;
        let levels: Vec<String> = self
            .cpu_simd
            .iter()
            .map(|(level, n)| format!("{level} {n}"))
            .collect();
        writeln!(
            f,
            "Records by the SIMD level of the CPU that built them (a CPU run repeats bit for bit \
             only on the same level): {}.",
            levels.join(", ")
        )?;
        let panel = match &self.panel.source {
            PanelSource::Given { cells } => format!("the {cells} cells given"),
            PanelSource::EveryMetaTestTask => "the cells measured on every meta-test task".into(),
            PanelSource::AllCells {
                on_every_meta_test_task,
            } => format!(
                "all cells, because only {on_every_meta_test_task} are measured on every \
                 meta-test task (fewer than {})",
                self.options.min_shared
            ),
        };
        writeln!(
            f,
            "Panel: {panel}; {} of them measured. Bootstrap B = {}, random splits R = {}, seed {}.\n",
            self.panel.measured, self.options.bootstrap, self.options.splits, self.options.seed
        )?;
        let p = &self.panel;
        writeln!(
            f,
            "Panel coverage: every panel cell measured on {} of {} meta-test tasks; meta-training \
             tasks per panel cell min / median / max {} / {} / {}, {} of the panel's cells on at \
             least {TARGET_TRAIN_TASKS_PER_CELL} (target: all).\n",
            p.complete_meta_test_tasks,
            p.meta_test_tasks,
            p.train_tasks_per_cell.0,
            num(p.train_tasks_per_cell.1, 1),
            p.train_tasks_per_cell.2,
            p.cells_on_enough_tasks,
        )?;
        self.fmt_composition(f)?;
        self.fmt_noise(f)?;
        self.fmt_split_half(f)?;
        self.fmt_agreement(f)?;
        self.fmt_interaction(f)?;
        self.fmt_regret(f)
    }
}

impl Report {
    fn fmt_composition(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "## 1. Composition\n")?;
        writeln!(
            f,
            "| group | role | tasks | cells | runs | seeds per (task, cell) min/median/max | way | \
             train/class | test/class | px | channels | accuracy min / median / max | median s/run | not ok |"
        )?;
        writeln!(
            f,
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
        )?;
        for g in &self.composition {
            writeln!(
                f,
                "| `{}` | {} | {} | {} | {} | {} / {} / {} | {} | {} | {} | {} | {} | {}% / {}% / {}% | {} | {} |",
                g.group,
                role_name(g.role),
                g.tasks,
                g.cells,
                g.runs,
                g.seeds.0,
                num(g.seeds.1, 0),
                g.seeds.2,
                range(g.way),
                range(g.train_per_class),
                range(g.test_per_class),
                range(g.resolution),
                range(g.channels),
                num(g.accuracy_pct.0, 1),
                num(g.accuracy_pct.1, 1),
                num(g.accuracy_pct.2, 1),
                num(g.median_wall_seconds, 1),
                g.failed
            )?;
        }
        writeln!(f)
    }

    fn fmt_noise(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "## 2. Seed noise\n")?;
        writeln!(
            f,
            "Pooled within-cell standard deviation of one run over seeds, from (task, cell) entries \
             with at least two runs. Meta-training groups are pooled over their tasks.\n"
        )?;
        writeln!(
            f,
            "| scope | role | tasks | repeated cells | df | accuracy σ (pp) | loss σ |"
        )?;
        writeln!(f, "|---|---|---|---|---|---|---|")?;
        for r in &self.seed_noise {
            writeln!(
                f,
                "| {} | {} | {} | {} | {} | {} | {} |",
                r.scope,
                role_name(r.role),
                r.tasks,
                r.cells_repeated,
                r.df,
                r.accuracy_std_pp.map_or("–".into(), |v| num(v, 2)),
                r.loss_std.map_or("–".into(), |v| num(v, 4)),
            )?;
        }
        writeln!(f)
    }

    fn fmt_split_half(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "## 3. Split-half reliability (meta-test)\n")?;
        writeln!(
            f,
            "Panel cells with at least two runs: each cell's runs split in two halves (even/odd \
             positions of the sorted seeds; and the mean over {} random equal splits), Spearman \
             between the half means across cells. SB: Spearman–Brown projection 2ρ/(1+ρ) of the \
             random split-half to the mean of all seeds (– for ρ ≤ 0); \"seeds for\" the same projection \
             turned round: the seeds per cell at which the random split-half would reach the \
             target. \"Better half\": cells \
             whose overall mean is at least the median. Selecting on the overall mean (the sum of \
             the two halves) biases the halves' correlation down, to about −0.47 for pure noise; \
             \"top by one half\" selects on one half's mean and correlates it with the other \
             (both ways, averaged), which is about 0 for pure noise. With normal cell effects and \
             seed noise, the correlation within the half fixed by the cells' true means lies \
             between the two (simulated: 0.59 where the first reads 0.52 and the second 0.62), so \
             the target is judged on the first, the conservative one. Targets, on the random \
             split-half: ≥ {TARGET_ALL} over all cells, ≥ {TARGET_BETTER_HALF} within the better \
             half.\n",
            self.options.splits
        )?;
        if self.split_half.is_empty() {
            return writeln!(
                f,
                "No meta-test task has three panel cells with two runs or more.\n"
            );
        }
        writeln!(
            f,
            "| task | metric | cells | seeds | ρ even/odd | ρ random | SB | ≥ {TARGET_ALL} | \
             seeds for {TARGET_ALL} (SB) | better half cells | ρ even/odd | ρ random | SB | ≥ {TARGET_BETTER_HALF} | \
             ρ top by one half |"
        )?;
        writeln!(
            f,
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
        )?;
        for r in &self.split_half {
            writeln!(
                f,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                r.task,
                r.metric,
                r.cells,
                range(r.seeds),
                num(r.even_odd, 2),
                num(r.random, 2),
                num(r.projected, 2),
                yes(r.meets_all),
                num(r.seeds_for_all, 0),
                r.better_cells,
                num(r.better_even_odd, 2),
                num(r.better_random, 2),
                num(r.better_projected, 2),
                yes(r.meets_better),
                num(r.top_by_half, 2),
            )?;
        }
        writeln!(f)?;
        for metric in [Metric::Accuracy, Metric::NegLoss] {
            let met: Vec<&SplitHalf> = self
                .split_half
                .iter()
                .filter(|r| r.metric == metric && r.meets_all && r.meets_better)
                .collect();
            let domains: BTreeSet<&str> = met.iter().map(|r| r.domain.as_str()).collect();
            let rgb = met.iter().any(|r| r.channels == 3);
            let names: Vec<&str> = met.iter().map(|r| r.task.as_str()).collect();
            writeln!(
                f,
                "- By {metric}: sets meeting both targets {} of {} ({}); their domains {}, {}; \
                 the ground truth can rank methods (≥ 5 such sets, ≥ 3 domains, ≥ 1 RGB): {}.",
                met.len(),
                self.split_half
                    .iter()
                    .filter(|r| r.metric == metric)
                    .count(),
                if names.is_empty() {
                    "none".into()
                } else {
                    names.join(", ")
                },
                domains.len(),
                if rgb { "one or more RGB" } else { "none RGB" },
                yes(met.len() >= 5 && domains.len() >= 3 && rgb),
            )?;
        }
        writeln!(f)
    }

    fn fmt_agreement(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let a = &self.agreement;
        writeln!(f, "## 4. Cross-task agreement\n")?;
        writeln!(
            f,
            "Spearman between two tasks' cell means over their shared panel cells, for every pair \
             of tasks sharing at least {} cells.\n",
            a.min_shared
        )?;
        writeln!(f, "| pairs | n | mean | q1 | median | q3 |")?;
        writeln!(f, "|---|---|---|---|---|---|")?;
        for (name, s) in [("within a group", &a.within), ("across groups", &a.across)] {
            match s {
                Some(s) => writeln!(
                    f,
                    "| {name} | {} | {} | {} | {} | {} |",
                    s.pairs,
                    num(s.mean, 2),
                    num(s.q1, 2),
                    num(s.median, 2),
                    num(s.q3, 2)
                )?,
                None => writeln!(f, "| {name} | 0 | – | – | – | – |")?,
            }
        }
        writeln!(f)?;
        if a.table.is_empty() {
            return Ok(());
        }
        writeln!(f, "Mean Spearman (task pairs) by group:\n")?;
        write!(f, "| |")?;
        for g in &a.groups {
            write!(f, " `{g}` |")?;
        }
        writeln!(f)?;
        writeln!(f, "|---|{}", "---|".repeat(a.groups.len()))?;
        for g in &a.groups {
            write!(f, "| `{g}` |")?;
            for h in &a.groups {
                let cell = a
                    .table
                    .iter()
                    .find(|p| (&p.a == g && &p.b == h) || (&p.a == h && &p.b == g));
                match cell {
                    Some(p) => write!(f, " {} ({}) |", num(p.mean, 2), p.pairs)?,
                    None => write!(f, " – |")?,
                }
            }
            writeln!(f)?;
        }
        writeln!(f)
    }

    fn fmt_interaction(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "## 5. Task × cell interaction\n")?;
        let scopes = [
            ("meta-test tasks only", &self.interaction_meta_test),
            ("all tasks", &self.interaction),
        ];
        if scopes.iter().all(|(_, i)| i.is_none()) {
            return writeln!(
                f,
                "Too few overlapping (task, panel cell) entries for an additive fit with residual \
                 degrees of freedom.\n"
            );
        }
        writeln!(
            f,
            "Matrix of mean accuracies (pp) over tasks × panel cells, fitted as task + cell by \
             least squares; residual variance on its degrees of freedom; main-effect variances \
             less their sampling error. The seed-noise part of the residual is σ²_seed / runs per \
             entry. Two scopes: the meta-test tasks only, whose seed σ is measured on their own \
             repeated runs, and all tasks, where a group with one run per (task, cell) (a \
             meta-training group) borrows the σ of comparable meta-test tasks (table below), so \
             that scope is only as good as the borrowed σ.\n"
        )?;
        writeln!(f, "| | {} | {} |", scopes[0].0, scopes[1].0)?;
        writeln!(f, "|---|---|---|")?;
        let row = |f: &mut fmt::Formatter<'_>,
                   name: &str,
                   cell: &dyn Fn(&Interaction) -> String|
         -> fmt::Result {
            write!(f, "| {name} |")?;
            for (_, i) in &scopes {
                match i {
                    Some(i) => write!(f, " {} |", cell(i))?,
                    None => write!(f, " – |")?,
                }
            }
            writeln!(f)
        };
        let var = |v: f64| {
            if v >= 0.0 {
                format!("{} ({})", num(v, 2), num(v.sqrt(), 2))
            } else {
                format!("{} (–)", num(v, 2))
            }
        };
        row(f, "tasks × panel cells", &|i| {
            format!("{} × {}", i.tasks, i.cells)
        })?;
        row(f, "entries (filled)", &|i| {
            format!("{} ({:.0}%)", i.entries, 100.0 * i.fill)
        })?;
        row(f, "residual degrees of freedom", &|i| i.df.to_string())?;
        row(f, "task main effect, pp² (std)", &|i| var(i.task_var))?;
        row(f, "cell main effect, pp² (std)", &|i| var(i.cell_var))?;
        row(f, "residual (interaction + noise), pp² (std)", &|i| {
            var(i.residual_var)
        })?;
        row(f, "seed noise, pp² (std)", &|i| var(i.noise_var))?;
        row(f, "interaction (residual − noise), pp² (std)", &|i| {
            var(i.interaction_var)
        })?;
        row(f, "**interaction share** (unclamped)", &|i| {
            if i.estimable() {
                format!("**{}** ({})", num(i.share_clamped, 3), num(i.share, 3))
            } else {
                format!("not estimable ({})", num(i.share, 3))
            }
        })?;
        row(f, "95% interval", &|i| {
            if i.estimable() {
                format!("[{}, {}]", num(i.interval.0, 3), num(i.interval.1, 3))
            } else {
                "–".into()
            }
        })?;
        row(f, "resampled shares run low by", &|i| {
            num(-i.resample_bias, 3)
        })?;
        row(f, "resamples", &|i| i.bootstrap.to_string())?;
        writeln!(f)?;
        let share = |i: &Option<Interaction>| match i {
            Some(i) if !i.estimable() => format!(
                "not estimable: the seed noise used ({} pp²) exceeds the residual ({} pp²), so \
                 the interaction cannot be told from noise; where the noise is borrowed, this \
                 says those tasks' own seed noise is smaller than the borrowed one (their \
                 residual bounds it: σ_seed ≤ {} pp)",
                num(i.noise_var, 2),
                num(i.residual_var, 2),
                num(i.residual_var.max(0.0).sqrt(), 2)
            ),
            Some(i) => format!(
                "{} (unclamped {}), 95% interval [{}, {}]",
                num(i.share_clamped, 3),
                num(i.share, 3),
                num(i.interval.0, 3),
                num(i.interval.1, 3)
            ),
            None => "– (no residual degrees of freedom)".into(),
        };
        writeln!(
            f,
            "**Interaction share** (of the cell-dependent variance, the task-specific part): over \
             the meta-test tasks only {}; over all tasks {}. Intervals from resampling the tasks \
             (cells held fixed; the percentile interval re-centred on the estimate: resampled \
             shares run low because a task drawn twice lets the fit absorb its own interaction). \
             This is the ceiling on what conditioning on the dataset can add over one global \
             ranking of cells.\n",
            share(&self.interaction_meta_test),
            share(&self.interaction),
        )?;
        for (name, i) in &scopes {
            if let Some(i) = i {
                if i.resample_bias.abs() > (i.interval.1 - i.interval.0) / 2.0 {
                    writeln!(
                        f,
                        "Caution ({name}): the resampling bias exceeds the interval's half-width, \
                         so the matrix is too sparse (cells on few tasks) for the interval to be \
                         trusted.\n"
                    )?;
                }
            }
        }
        let Some(i) = self
            .interaction
            .as_ref()
            .or(self.interaction_meta_test.as_ref())
        else {
            return Ok(());
        };
        writeln!(f, "Seed noise used per group:\n")?;
        writeln!(f, "| group | seed σ (pp) | df | from | pooled from |")?;
        writeln!(f, "|---|---|---|---|---|")?;
        for s in &i.noise_sources {
            let pooled: Vec<String> = s.pooled_from.iter().map(|g| format!("`{g}`")).collect();
            writeln!(
                f,
                "| `{}` | {} | {} | {} | {} |",
                s.group,
                num(s.seed_std_pp, 2),
                s.df,
                s.from.describe(),
                if pooled.is_empty() {
                    "–".into()
                } else {
                    pooled.join(", ")
                }
            )?;
        }
        writeln!(f)
    }

    fn fmt_regret(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.regret;
        writeln!(f, "## 6. Regret of trivial picks (meta-test)\n")?;
        writeln!(
            f,
            "Ground truth: each panel cell's mean accuracy over its runs on the task; regret = best \
             mean − pick's mean (pp) ± bootstrap SE over seeds ({} resamples; a cell with one run \
             is drawn around it with the task's pooled seed σ). *Global best*: the best mean \
             percentile rank over the meta-training tasks it was measured on (at least {}). *Most \
             parameters*: ties broken by FLOPs. *Random*: expected regret (σ of one random pick). \
             Winner's curse: the best cell's mean is biased up (column \"bias\", bootstrap \
             estimate), and every regret with it.\n",
            self.options.bootstrap, self.options.min_train_tasks
        )?;
        if r.tasks.is_empty() {
            return writeln!(f, "No meta-test task has two panel cells.\n");
        }
        writeln!(
            f,
            "| task | cells | seeds | best | best acc | bias | global best | most params | random |"
        )?;
        writeln!(f, "|---|---|---|---|---|---|---|---|---|")?;
        let pick = |p: &Option<Pick>| match p {
            Some(p) => format!(
                "{} ± {} (`{}`, {}%)",
                num(p.regret_pp, 2),
                num(p.se_pp, 2),
                p.arch,
                num(p.accuracy_pct, 2)
            ),
            None => "–".into(),
        };
        for t in &r.tasks {
            writeln!(
                f,
                "| {} | {} | {} | `{}` | {}% | +{} | {} | {} | {} ± {} (σ {}) |",
                t.task,
                t.cells,
                range(t.seeds),
                t.best,
                num(t.best_pct, 2),
                num(t.best_bias_pp, 2),
                pick(&t.global_best),
                pick(&t.most_params),
                num(t.random.regret_pp, 2),
                num(t.random.se_pp, 2),
                num(t.random.sd_pp, 2),
            )?;
        }
        let mean = |m: &Option<MeanRegret>| match m {
            Some(m) => format!(
                "{} ± {} ({} tasks)",
                num(m.regret_pp, 2),
                num(m.se_pp, 2),
                m.tasks
            ),
            None => "–".into(),
        };
        writeln!(
            f,
            "| **mean** | | | | | | {} | {} | {} |",
            mean(&r.global_best),
            mean(&r.most_params),
            mean(&r.random)
        )?;
        writeln!(f)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use datasets::{SourceSpec, TaskSpec};
    use search_space::Cost;

    use super::*;
    use crate::{Protocol, RunResult, RunStatus};

    /// The first `n` cells that are their own isomorphism class's representative.
    fn cells(n: usize) -> Vec<Nb201Arch> {
        (0..15_625)
            .filter_map(Nb201Arch::from_index)
            .filter(|a| a.canonical_id() == a.index())
            .take(n)
            .collect()
    }

    fn spec(seed: u64) -> TaskSpec {
        TaskSpec::new(SourceSpec::Digits, vec![0, 1, 2], 10, 10, 8, seed)
    }

    /// A successful run record (also used by `compare`'s tests).
    pub(crate) fn record(
        group: &str,
        task: &TaskSpec,
        arch: Nb201Arch,
        seed: u64,
        acc: f64,
    ) -> RunRecord {
        let role = if group.starts_with("test") {
            Role::MetaTest
        } else {
            Role::MetaTrain
        };
        RunRecord {
            group: group.into(),
            role,
            task: task.clone(),
            arch,
            seed,
            protocol: Protocol::mini(),
            result: RunResult {
                arch,
                seed,
                epochs: Vec::new(),
                test_accuracy: Some(acc),
                test_loss: Some(1.0 - acc),
                wall_seconds: 1.0,
                cost: Cost {
                    params: 0.001,
                    flops: 1.0,
                },
                param_count: 1000,
                status: RunStatus::Ok,
            },
            weights: None,
            error: None,
            cpu_simd: None,
        }
    }

    /// Tasks `(group, task seed)` × `cells` × `seeds`, accuracy from `f(task, cell, seed)`.
    fn design(
        tasks: &[(&str, u64)],
        cells: &[Nb201Arch],
        seeds: u64,
        f: impl Fn(usize, usize, u64) -> f64,
    ) -> Vec<RunRecord> {
        let mut out = Vec::new();
        for (t, &(group, task_seed)) in tasks.iter().enumerate() {
            let spec = spec(task_seed);
            for (c, &arch) in cells.iter().enumerate() {
                for s in 0..seeds {
                    out.push(record(group, &spec, arch, s, f(t, c, s)));
                }
            }
        }
        out
    }

    #[test]
    fn additive_design_has_no_interaction_and_full_reliability() {
        let tasks = [
            ("train/a", 1),
            ("train/a", 2),
            ("train/a", 3),
            ("train/a", 4),
            ("test/x", 5),
            ("test/y", 6),
        ];
        let records = design(&tasks, &cells(12), 3, |t, c, _| {
            0.3 + 0.05 * t as f64 + 0.02 * c as f64
        });
        let r = analyze(&records, None, &three_train_tasks());
        assert_eq!(r.panel.source, PanelSource::EveryMetaTestTask);
        assert_eq!((r.tasks, r.cells, r.panel.measured), (6, 12, 12));
        assert_eq!(r.cpu_simd, vec![("unrecorded".to_string(), 72 * 3)]);
        // every panel cell on the 4 meta-training tasks and both meta-test tasks
        assert_eq!(r.panel.train_tasks_per_cell, (4, 4.0, 4));
        assert_eq!(r.panel.cells_on_enough_tasks, 0);
        assert_eq!(
            (r.panel.complete_meta_test_tasks, r.panel.meta_test_tasks),
            (2, 2)
        );
        let i = r.interaction.as_ref().unwrap();
        assert_eq!((i.tasks, i.cells, i.entries), (6, 12, 72));
        assert!(i.residual_var < 1e-9, "{i:?}");
        assert!(i.share.abs() < 1e-6, "{i:?}");
        // cell effects 2c pp, c = 0..11: variance 4 · 13
        assert!((i.cell_var - 52.0).abs() < 1e-6, "{i:?}");
        // task effects 5t pp, t = 0..5: variance 25 · 3.5
        assert!((i.task_var - 87.5).abs() < 1e-6, "{i:?}");
        assert_eq!(r.split_half.len(), 4);
        for s in &r.split_half {
            assert!((s.even_odd - 1.0).abs() < 1e-12, "{s:?}");
            assert!((s.random - 1.0).abs() < 1e-12, "{s:?}");
            assert!((s.better_random - 1.0).abs() < 1e-12, "{s:?}");
            assert_eq!((s.cells, s.better_cells, s.seeds), (12, 6, (3, 3)));
            assert!(s.meets_all && s.meets_better);
        }
        let a = &r.agreement;
        assert_eq!(a.within.as_ref().unwrap().pairs, 6);
        assert_eq!(a.across.as_ref().unwrap().pairs, 15 - 6);
        assert!((a.within.as_ref().unwrap().mean - 1.0).abs() < 1e-12);
        assert!((a.across.as_ref().unwrap().mean - 1.0).abs() < 1e-12);
        for n in &r.seed_noise {
            assert_eq!(n.accuracy_std_pp, Some(0.0), "{n:?}");
        }
        for t in &r.regret.tasks {
            assert_eq!(t.global_best.as_ref().unwrap().regret_pp, 0.0);
            assert_eq!(t.best_bias_pp, 0.0);
        }
        let text = r.to_string();
        for heading in ["## 1.", "## 2.", "## 3.", "## 4.", "## 5.", "## 6."] {
            assert!(text.contains(heading), "{text}");
        }
        // both sets meet both targets, but two sets of one grayscale domain cannot rank methods
        assert!(
            text.contains(
                "sets meeting both targets 2 of 2 (test/x, test/y); their domains 1, none RGB"
            ) && text.contains("(≥ 5 such sets, ≥ 3 domains, ≥ 1 RGB): no."),
            "{text}"
        );
    }

    #[test]
    fn seeds_for_a_target_inverts_spearman_brown() {
        // ρ = 0.5 at 10 seeds: 4× the seeds for 0.8 (2·0.5/(1+0.5) doubles to 2/3, 4× to 0.8)
        assert_eq!(seeds_for(0.5, 0.8, 10), 40.0);
        assert!((spearman_brown(0.5, 4.0) - 0.8).abs() < 1e-12);
        assert_eq!(seeds_for(0.85, 0.8, 7), 7.0);
        assert!(seeds_for(-0.1, 0.8, 10).is_nan());
    }

    #[test]
    fn groups_ranking_cells_in_reverse_interact() {
        let tasks = [
            ("train/up", 1),
            ("train/up", 2),
            ("train/up", 3),
            ("train/down", 4),
            ("train/down", 5),
            ("train/down", 6),
            ("test/x", 7),
        ];
        let records = design(&tasks, &cells(12), 2, |t, c, _| {
            let sign = if (3..6).contains(&t) { -1.0 } else { 1.0 };
            0.5 + 0.01 * t as f64 + sign * 0.02 * c as f64
        });
        let r = analyze(&records, None, &three_train_tasks());
        let i = r.interaction.as_ref().unwrap();
        assert!(i.share > 0.9, "{i:?}");
        assert!(i.interval.0 > 0.5, "{i:?}");
        let down_up = r
            .agreement
            .table
            .iter()
            .find(|p| p.a != p.b && p.a.starts_with("train") && p.b.starts_with("train"))
            .unwrap();
        assert_eq!(down_up.pairs, 9);
        assert!((down_up.mean + 1.0).abs() < 1e-12);
        assert!((r.agreement.within.as_ref().unwrap().mean - 1.0).abs() < 1e-12);
        // the global best by meta-training ranks is ambiguous (three up, three down tasks): it is
        // whichever cell wins the tie-break, never worse than the worst cell
        let t = &r.regret.tasks[0];
        assert!(t.global_best.as_ref().unwrap().regret_pp <= 22.0 + 1e-9);
    }

    /// One meta-test task with accuracies 90, 80, 70, 60, 50% (cells 0–4, cell 4 the largest),
    /// three meta-training tasks on which cell 1 is best; `spread` added ∓ to seeds 0 and 1.
    fn picks(spread: f64) -> (Vec<RunRecord>, Vec<Nb201Arch>) {
        let cells = cells(5);
        let test = spec(10);
        let mut records = Vec::new();
        for (c, acc) in [0.9, 0.8, 0.7, 0.6, 0.5].into_iter().enumerate() {
            for s in 0..2 {
                let mut r = record(
                    "test/x",
                    &test,
                    cells[c],
                    s,
                    acc + spread * (2.0 * s as f64 - 1.0),
                );
                if c == 4 {
                    r.result.param_count = 5000;
                }
                records.push(r);
            }
        }
        for task_seed in 0..3 {
            let train = spec(task_seed);
            for (c, acc) in [0.5, 0.9, 0.6, 0.7, 0.8].into_iter().enumerate() {
                records.push(record("train/a", &train, cells[c], 0, acc));
            }
        }
        (records, cells)
    }

    /// The defaults, but a cell on three meta-training tasks may be the global best.
    fn three_train_tasks() -> AnalyzeOptions {
        AnalyzeOptions {
            min_train_tasks: 3,
            ..AnalyzeOptions::default()
        }
    }

    #[test]
    fn regret_of_known_picks() {
        let (records, cells) = picks(0.0);
        let r = analyze(&records, Some(&cells), &three_train_tasks());
        assert_eq!(r.panel.source, PanelSource::Given { cells: 5 });
        let t = &r.regret.tasks[0];
        assert_eq!(t.best, cells[0].to_string());
        let global = t.global_best.as_ref().unwrap();
        assert_eq!(global.arch, cells[1].to_string());
        assert!((global.regret_pp - 10.0).abs() < 1e-9);
        let params = t.most_params.as_ref().unwrap();
        assert_eq!(params.arch, cells[4].to_string());
        assert!((params.regret_pp - 40.0).abs() < 1e-9);
        assert!((t.random.regret_pp - 20.0).abs() < 1e-9);
        assert!((t.random.sd_pp - 200f64.sqrt()).abs() < 1e-9);
        // two identical seeds: no noise, no winner's curse
        assert_eq!(
            (global.se_pp, params.se_pp, t.random.se_pp),
            (0.0, 0.0, 0.0)
        );
        assert_eq!(t.best_bias_pp, 0.0);
        let mean = r.regret.most_params.as_ref().unwrap();
        assert_eq!(mean.tasks, 1);
        assert!((mean.regret_pp - 40.0).abs() < 1e-9);
        // the global-best pick needs enough meta-training tasks
        let strict = AnalyzeOptions {
            min_train_tasks: 4,
            ..three_train_tasks()
        };
        let r = analyze(&records, Some(&cells), &strict);
        assert!(r.regret.tasks[0].global_best.is_none());
    }

    #[test]
    fn seed_noise_gives_standard_errors_and_a_pooled_std() {
        let (records, cells) = picks(0.01);
        let r = analyze(&records, Some(&cells), &three_train_tasks());
        // seeds ±1 pp around each mean: variance (1 + 1) / 1 = 2 pp²
        let noise = &r.seed_noise[0];
        assert_eq!(
            (noise.scope.as_str(), noise.cells_repeated, noise.df),
            ("test/x", 5, 5)
        );
        assert!((noise.accuracy_std_pp.unwrap() - 2f64.sqrt()).abs() < 1e-9);
        assert!((noise.loss_std.unwrap() - 0.01 * 2f64.sqrt()).abs() < 1e-9);
        let t = &r.regret.tasks[0];
        let global = t.global_best.as_ref().unwrap();
        assert!((global.regret_pp - 10.0).abs() < 1e-9);
        assert!(global.se_pp > 0.3 && global.se_pp < 2.0, "{global:?}");
        // the best cell is 10 pp clear of the next: no winner's curse beyond noise
        assert!(t.best_bias_pp.abs() < 0.3, "{t:?}");
        // determinism: the same seed gives the same report, another seed another bootstrap
        let again = analyze(&records, Some(&cells), &three_train_tasks());
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            serde_json::to_string(&again).unwrap()
        );
        let other = AnalyzeOptions {
            seed: 1,
            ..three_train_tasks()
        };
        let other = analyze(&records, Some(&cells), &other);
        assert_ne!(
            other.regret.tasks[0].global_best.as_ref().unwrap().se_pp,
            global.se_pp
        );
    }

    #[test]
    fn failed_runs_are_counted_and_skipped_and_isomorphic_cells_merge() {
        let (mut records, cells) = picks(0.0);
        let mut failed = records[0].clone();
        failed.seed = 7;
        failed.result = RunResult::failed(failed.arch, 7);
        records.push(failed);
        // a cell isomorphic to a panel cell but written differently counts as that cell
        let twin = (0..15_625)
            .filter_map(Nb201Arch::from_index)
            .find(|a| {
                a.canonical_id() != a.index() && cells.iter().all(|c| c.index() != a.canonical_id())
            })
            .unwrap();
        let rep = twin.canonical();
        let test = records[0].task.clone();
        records.push(record("test/x", &test, rep, 0, 0.4));
        records.push(record("test/x", &test, twin, 0, 0.4));
        let r = analyze(&records, Some(&cells), &three_train_tasks());
        assert_eq!(r.failed, 1);
        let g = r.composition.iter().find(|g| g.group == "test/x").unwrap();
        assert_eq!((g.failed, g.runs, g.cells), (1, 13, 6));
        assert_eq!(g.seeds, (2, 2.0, 2));
        assert_eq!(r.cells, 6);
    }

    #[test]
    fn seed_noise_alone_is_not_counted_as_interaction() {
        // additive task + cell effects plus 1 pp seed noise: the residual is all noise
        let mut rng = stream(42, 0);
        let noise: Vec<f64> = (0..8 * 15 * 4).map(|_| normal(&mut rng)).collect();
        let tasks = [
            ("train/a", 1),
            ("train/a", 2),
            ("train/a", 3),
            ("train/a", 4),
            ("train/b", 5),
            ("train/b", 6),
            ("test/x", 7),
            ("test/y", 8),
        ];
        let records = design(&tasks, &cells(15), 4, |t, c, s| {
            0.4 + 0.03 * t as f64 + 0.02 * c as f64 + 0.01 * noise[(t * 15 + c) * 4 + s as usize]
        });
        let r = analyze(&records, None, &AnalyzeOptions::default());
        let i = r.interaction.as_ref().unwrap();
        assert!((i.noise_var - 0.25).abs() < 0.05, "{i:?}");
        assert!(i.share.abs() < 0.01, "{i:?}");
        assert!(i.interval.0 <= i.share && i.share <= i.interval.1, "{i:?}");
        assert!(i.interval.0 < 0.01 && i.interval.1 > -0.01, "{i:?}");
        for n in &r.seed_noise {
            assert!((n.accuracy_std_pp.unwrap() - 1.0).abs() < 0.2, "{n:?}");
        }
    }

    #[test]
    fn the_best_of_many_equal_cells_is_biased_up() {
        // 20 equally good cells, seeds ±1 pp: the observed best mean is pure luck
        let mut rng = stream(3, 0);
        let noise: Vec<f64> = (0..40).map(|_| normal(&mut rng)).collect();
        let records = design(&[("test/x", 1)], &cells(20), 2, |_, c, s| {
            0.5 + 0.01 * noise[2 * c + s as usize]
        });
        let r = analyze(&records, None, &AnalyzeOptions::default());
        let t = &r.regret.tasks[0];
        assert!(t.best_bias_pp > 0.2, "{t:?}");
        let s = &r.split_half[0];
        assert!(s.random.abs() < 0.5 && !s.meets_all, "{s:?}");
    }

    #[test]
    fn selecting_the_better_half_on_the_overall_mean_biases_split_halves_down() {
        // 400 equally good cells, two noisy seeds each: no signal at all
        let mut rng = stream(5, 0);
        let noise: Vec<f64> = (0..800).map(|_| normal(&mut rng)).collect();
        let records = design(&[("test/x", 1)], &cells(400), 2, |_, c, s| {
            0.5 + 0.01 * noise[2 * c + s as usize]
        });
        let r = analyze(&records, None, &AnalyzeOptions::default());
        let s = &r.split_half[0];
        assert!(s.random.abs() < 0.1, "{s:?}");
        // within the half selected on the sum of the halves: (Var S|S>0 − Var D) / (… + …)
        let v = 2.0 * (1.0 - 2.0 / std::f64::consts::PI);
        let collider = (v - 2.0) / (v + 2.0);
        assert!((s.better_random - collider).abs() < 0.1, "{s:?}");
        assert!(s.top_by_half.abs() < 0.1, "{s:?}");
        assert!(s.projected.is_nan() || s.projected < 0.2);
        assert!(s.better_projected.is_nan());
    }

    #[test]
    fn panels_parse_from_arrays_and_plans() {
        let a = "|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|skip_connect~0|skip_connect~1|nor_conv_3x3~2|";
        let array = format!(r#"["{a}", "{a}"]"#);
        assert_eq!(parse_panel(&array).unwrap().len(), 2);
        let plan = format!(r#"{{"name": "p", "groups": [], "panel": ["{a}"]}}"#);
        assert_eq!(parse_panel(&plan).unwrap()[0].to_string(), a);
        assert!(matches!(parse_panel("{}"), Err(PanelError::Shape)));
        assert!(matches!(parse_panel("3"), Err(PanelError::Shape)));
        assert!(matches!(
            parse_panel("[1]"),
            Err(PanelError::Arch { index: 0, .. })
        ));
        assert!(matches!(
            parse_panel(r#"["|bad~0|"]"#),
            Err(PanelError::Arch { index: 0, .. })
        ));
        assert!(matches!(parse_panel("[,"), Err(PanelError::Json(_))));
    }

    /// A group of `n` tasks × `cells` × `seeds` whose task spec and protocol `adjust` edits;
    /// accuracy (pp) from `f(task, cell, seed)`.
    fn group_of(
        group: &str,
        first_task_seed: u64,
        n: usize,
        cells: &[Nb201Arch],
        seeds: u64,
        adjust: impl Fn(&mut TaskSpec, &mut Protocol),
        f: impl Fn(usize, usize, u64) -> f64,
    ) -> Vec<RunRecord> {
        let mut out = Vec::new();
        for t in 0..n {
            let mut spec = spec(first_task_seed + t as u64);
            let mut protocol = Protocol {
                min_steps: 60,
                ..Protocol::mini()
            };
            adjust(&mut spec, &mut protocol);
            for (c, &arch) in cells.iter().enumerate() {
                for s in 0..seeds {
                    let mut r = record(group, &spec, arch, s, f(t, c, s) / 100.0);
                    r.protocol = protocol.clone();
                    out.push(r);
                }
            }
        }
        out
    }

    /// Meta-test: `test/gray` (1 channel, 60 steps, σ 0.5 pp) and `test/rgb` (3 channels, 240
    /// steps, σ 5 pp), three seeds each, additive. Meta-training `train/gray`: eight tasks like
    /// `test/gray` but with other image counts per class, one seed, σ 0.5 pp, and a true
    /// task × cell interaction of 1.5 pp; cell effects 0.5 pp apart (variance 3.25 pp²), so the
    /// true share of `train/gray` alone is 2.25 / (3.25 + 2.25) ≈ 0.41.
    fn low_noise_meta_training() -> (Vec<RunRecord>, Vec<Nb201Arch>) {
        let cells = cells(12);
        let mut rng = stream(11, 0);
        let mut draws: Vec<f64> = (0..2_000).map(|_| normal(&mut rng)).collect();
        let mut take = move |n: usize| draws.drain(..n).collect::<Vec<f64>>();
        let (gray, rgb, train, inter) = (take(2 * 36), take(2 * 36), take(96), take(96));
        let rgb_task = |spec: &mut TaskSpec, p: &mut Protocol| {
            spec.channels = 3;
            p.min_steps = 240;
        };
        let mut records = group_of(
            "test/gray",
            100,
            1,
            &cells,
            3,
            |_, _| {},
            |_, c, s| 80.0 + 0.5 * c as f64 + 0.5 * gray[3 * c + s as usize],
        );
        records.extend(group_of(
            "test/rgb",
            200,
            1,
            &cells,
            3,
            rgb_task,
            |_, c, s| 70.0 + 0.5 * c as f64 + 5.0 * rgb[3 * c + s as usize],
        ));
        let more_images = |spec: &mut TaskSpec, p: &mut Protocol| {
            spec.train_per_class = 20;
            p.train_per_class = 20;
            p.test_per_class = 50;
        };
        records.extend(group_of(
            "train/gray",
            300,
            8,
            &cells,
            1,
            more_images,
            |t, c, _| {
                75.0 + t as f64 + 0.5 * c as f64 + 1.5 * inter[12 * t + c] + 0.5 * train[12 * t + c]
            },
        ));
        (records, cells)
    }

    #[test]
    fn a_group_without_repeats_borrows_the_noise_of_comparable_meta_test_tasks() {
        let (mut records, cells) = low_noise_meta_training();
        let plain = |t: usize, c: usize, _| 80.0 + t as f64 + 0.5 * c as f64;
        // every step of the ladder, each on two one-seed tasks
        let small = |spec: &mut TaskSpec, p: &mut Protocol| {
            spec.resolution = 4;
            p.resolution = 12;
        };
        let other_kind =
            |spec: &mut TaskSpec, _: &mut Protocol| spec.source = SourceSpec::MnistSample;
        let other_small = |spec: &mut TaskSpec, p: &mut Protocol| {
            other_kind(spec, p);
            small(spec, p);
        };
        let rgb = |spec: &mut TaskSpec, p: &mut Protocol| {
            spec.channels = 3;
            p.min_steps = 240;
        };
        let slow = |_: &mut TaskSpec, p: &mut Protocol| p.min_steps = 120;
        let rgb_slow = |spec: &mut TaskSpec, p: &mut Protocol| {
            spec.channels = 3;
            p.min_steps = 120;
        };
        records.extend(group_of("train/small", 400, 2, &cells, 1, small, plain));
        records.extend(group_of(
            "train/other",
            500,
            2,
            &cells,
            1,
            other_kind,
            plain,
        ));
        records.extend(group_of(
            "train/other-small",
            600,
            2,
            &cells,
            1,
            other_small,
            plain,
        ));
        records.extend(group_of("train/rgb", 700, 2, &cells, 1, rgb, plain));
        records.extend(group_of("train/slow", 800, 2, &cells, 1, slow, plain));
        records.extend(group_of(
            "train/rgb-slow",
            900,
            2,
            &cells,
            1,
            rgb_slow,
            plain,
        ));
        let r = analyze(&records, None, &AnalyzeOptions::default());
        let measured = |scope: &str| {
            r.seed_noise
                .iter()
                .find(|n| n.scope == scope)
                .unwrap()
                .accuracy_std_pp
                .unwrap()
        };
        let (gray, rgb_sigma, all) = (
            measured("test/gray"),
            measured("test/rgb"),
            measured("all meta-test tasks"),
        );
        assert!(
            (gray - 0.5).abs() < 0.2 && (rgb_sigma - 5.0).abs() < 1.5,
            "{gray} {rgb_sigma}"
        );
        let i = r.interaction.as_ref().unwrap();
        let source = |g: &str| i.noise_sources.iter().find(|s| s.group == g).unwrap();
        let expect = [
            ("test/gray", NoiseFrom::OwnGroup, gray, "test/gray"),
            ("test/rgb", NoiseFrom::OwnGroup, rgb_sigma, "test/rgb"),
            ("train/gray", NoiseFrom::Comparable, gray, "test/gray"),
            (
                "train/small",
                NoiseFrom::ComparableOtherResolution,
                gray,
                "test/gray",
            ),
            (
                "train/other",
                NoiseFrom::ComparableOtherSource,
                gray,
                "test/gray",
            ),
            (
                "train/other-small",
                NoiseFrom::ComparableOtherSourceAndResolution,
                gray,
                "test/gray",
            ),
            ("train/rgb", NoiseFrom::Comparable, rgb_sigma, "test/rgb"),
        ];
        for (group, from, sigma, pooled) in expect {
            let s = source(group);
            assert_eq!(s.from, from, "{s:?}");
            assert!((s.seed_std_pp - sigma).abs() < 1e-9, "{s:?}");
            assert_eq!(s.pooled_from, [pooled], "{s:?}");
            assert_eq!(s.df, 24, "{s:?}");
        }
        // nothing alike (other optimiser steps): all meta-test tasks, as before
        for group in ["train/slow", "train/rgb-slow"] {
            let s = source(group);
            assert_eq!(s.from, NoiseFrom::AllMetaTest, "{s:?}");
            assert!((s.seed_std_pp - all).abs() < 1e-9, "{s:?}");
            assert_eq!(s.pooled_from, ["test/gray", "test/rgb"], "{s:?}");
            assert_eq!(s.df, 48, "{s:?}");
        }
        let text = r.to_string();
        assert!(
            text.contains("| `train/gray` | 0.") && text.contains("comparable meta-test tasks"),
            "{text}"
        );
        let json = serde_json::to_value(&r).unwrap();
        let sources = json["interaction"]["noise_sources"].as_array().unwrap();
        assert!(sources
            .iter()
            .any(|s| s["group"] == "train/gray" && s["from"] == "comparable"));
    }

    #[test]
    fn borrowing_comparable_noise_recovers_the_interaction_of_low_noise_meta_training() {
        // pooled over all meta-test tasks, σ² ≈ (0.25 + 25) / 2 pp² per one-seed entry would
        // swamp train/gray's residual (≈ 2.5 pp²) and leave no interaction at all
        let (records, _) = low_noise_meta_training();
        let r = analyze(&records, None, &AnalyzeOptions::default());
        let i = r.interaction.as_ref().unwrap();
        assert_eq!(i.scope, InteractionScope::AllTasks);
        assert_eq!(i.tasks, 10);
        let train = i
            .noise_sources
            .iter()
            .find(|s| s.group == "train/gray")
            .unwrap();
        assert_eq!(train.from, NoiseFrom::Comparable);
        assert!(train.seed_std_pp < 1.0, "{train:?}");
        assert!(i.interaction_var > 0.5, "{i:?}");
        assert!(i.share > 0.15 && i.share < 0.8, "{i:?}");
        assert!(i.interval.0 <= i.share && i.share <= i.interval.1, "{i:?}");
    }

    #[test]
    fn borrowed_noise_above_the_residual_is_reported_as_not_estimable() {
        // meta-test: additive plus a large seed noise (±3 pp); meta-training: exactly additive,
        // one seed, so its borrowed noise exceeds its residual (zero)
        let tasks = [
            ("test/x", 1),
            ("test/y", 2),
            ("train/a", 3),
            ("train/a", 4),
            ("train/a", 5),
            ("train/a", 6),
            ("train/a", 7),
            ("train/a", 8),
        ];
        let cells = cells(12);
        let mut records = design(&tasks[..2], &cells, 4, |t, c, s| {
            let noise = if s % 2 == 0 { 0.03 } else { -0.03 };
            0.6 + 0.01 * t as f64 + 0.02 * c as f64 + noise * (1.0 + (c % 3) as f64)
        });
        records.extend(design(&tasks[2..], &cells, 1, |t, c, _| {
            0.5 + 0.01 * t as f64 + 0.02 * c as f64
        }));
        let r = analyze(&records, None, &three_train_tasks());
        let all = r.interaction.as_ref().unwrap();
        assert!(all.interaction_var < 0.0, "{all:?}");
        assert!(!all.estimable(), "{all:?}");
        let text = r.to_string();
        let line = text
            .lines()
            .find(|l| l.starts_with("**Interaction share**"))
            .unwrap();
        assert!(
            line.contains("over all tasks not estimable: the seed noise used"),
            "{line}"
        );
        assert!(
            text.contains("| **interaction share** (unclamped) |"),
            "{text}"
        );
        assert!(text.contains("not estimable ("), "{text}");
    }

    #[test]
    fn the_interaction_share_is_reported_over_meta_test_tasks_and_over_all_tasks() {
        // meta-test: two tasks rank the cells up, two down (pure interaction, two seeds, no
        // noise); meta-training: six additive tasks that rank them up, one seed
        let tasks = [
            ("test/up", 1),
            ("test/up", 2),
            ("test/down", 3),
            ("test/down", 4),
            ("train/a", 5),
            ("train/a", 6),
            ("train/a", 7),
            ("train/a", 8),
            ("train/a", 9),
            ("train/a", 10),
        ];
        let cells = cells(12);
        let mut records = design(&tasks[..4], &cells, 2, |t, c, _| {
            let sign = if t >= 2 { -1.0 } else { 1.0 };
            0.6 + 0.01 * t as f64 + sign * 0.02 * c as f64
        });
        records.extend(design(&tasks[4..], &cells, 1, |t, c, _| {
            0.5 + 0.01 * t as f64 + 0.02 * c as f64
        }));
        let r = analyze(&records, None, &three_train_tasks());
        let test = r.interaction_meta_test.as_ref().unwrap();
        let all = r.interaction.as_ref().unwrap();
        assert_eq!(
            (test.scope, test.tasks, test.cells),
            (InteractionScope::MetaTest, 4, 12)
        );
        assert_eq!(
            (all.scope, all.tasks, all.cells),
            (InteractionScope::AllTasks, 10, 12)
        );
        // up and down cancel in the cell effect: all of it is interaction
        assert!(test.share > 0.99, "{test:?}");
        assert!(
            test.interval.0 <= test.share && test.share <= test.interval.1,
            "{test:?}"
        );
        assert!(all.share < test.share - 0.1, "{all:?}");
        assert!(
            all.interval.0 <= all.share && all.share <= all.interval.1,
            "{all:?}"
        );
        // the meta-test scope uses only the meta-test groups' own noise
        assert!(test
            .noise_sources
            .iter()
            .all(|s| s.from == NoiseFrom::OwnGroup));
        let groups: Vec<&str> = test
            .noise_sources
            .iter()
            .map(|s| s.group.as_str())
            .collect();
        assert_eq!(groups, ["test/down", "test/up"]);
        let train = all
            .noise_sources
            .iter()
            .find(|s| s.group == "train/a")
            .unwrap();
        assert_eq!(train.from, NoiseFrom::Comparable);
        // both in the JSON (the old fields kept) and in the markdown
        let json = serde_json::to_value(&r).unwrap();
        for key in ["interaction", "interaction_meta_test"] {
            for field in ["share", "share_clamped", "interval", "noise_var", "scope"] {
                assert!(!json[key][field].is_null(), "{key}.{field}");
            }
        }
        assert_eq!(json["interaction_meta_test"]["scope"], "meta_test");
        assert_eq!(json["interaction"]["scope"], "all_tasks");
        let text = r.to_string();
        let line = text
            .lines()
            .find(|l| l.starts_with("**Interaction share**"))
            .unwrap();
        assert!(
            line.contains(&format!(
                "over the meta-test tasks only {} (unclamped {})",
                num(test.share_clamped, 3),
                num(test.share, 3)
            )) && line.contains(&format!("over all tasks {}", num(all.share_clamped, 3))),
            "{line}"
        );
        assert!(
            text.contains("| | meta-test tasks only | all tasks |"),
            "{text}"
        );
        // a single meta-test task has no meta-test decomposition, the report says so
        let one: Vec<RunRecord> = records
            .iter()
            .filter(|r| r.group != "test/down")
            .cloned()
            .collect();
        let r = analyze(&one, None, &three_train_tasks());
        assert!(
            r.interaction_meta_test.is_none()
                || r.interaction_meta_test.as_ref().unwrap().tasks == 2
        );
        assert!(r.interaction.is_some());
    }
}
