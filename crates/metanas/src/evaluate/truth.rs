//! [`SetTruth`]: the measured ground truth of one meta-test set over the panel, and what a
//! method's pick and ranking are worth against it, with seed-bootstrap standard errors.

use std::collections::{BTreeMap, HashMap};

use datasets::TaskSpec;
use model_zoo::database::RunRecord;
use model_zoo::plan::Role;
use model_zoo::stats::{mean, percentile_interval, pooled_variance, spearman, variance};
use model_zoo::Protocol;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use search_space::Nb201Arch;
use serde::Serialize;

use super::error::EvaluateError;

/// What a set's ground truth measures of each run: higher is better in both.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub enum TruthMetric {
    /// Test accuracy (%); regrets in percentage points.
    #[default]
    Accuracy,
    /// Minus the test cross-entropy (nats); regrets in nats. On the v2 database it is the more
    /// reliable ground truth: every meta-test set meets both split-half targets by test loss,
    /// not all by accuracy (`metanas-db analyze`, docs/database.md).
    TestLoss,
}

impl TruthMetric {
    /// A run's value for the ground truth: `None` unless the run is `ok` and has the measure.
    pub fn value(self, record: &RunRecord) -> Option<f64> {
        let result = &record.result;
        if !result.is_ok() {
            return None;
        }
        match self {
            Self::Accuracy => result.test_accuracy.map(|a| 100.0 * a),
            Self::TestLoss => result.test_loss.filter(|l| l.is_finite()).map(|l| -l),
        }
    }

    /// A trained pick's value: a run that diverged or failed counts as chance (a uniform
    /// guess: 100/way %, or −ln way nats), which is what the pick would have given.
    pub fn pick_value(self, record: &RunRecord) -> f64 {
        let way = record.task.classes.len().max(1) as f64;
        self.value(record).unwrap_or(match self {
            Self::Accuracy => 100.0 / way,
            Self::TestLoss => -way.ln(),
        })
    }
}

/// One panel cell's runs on a set.
#[derive(Clone, Debug)]
pub struct TruthCell {
    /// The representative of the cell's isomorphism class ([`Nb201Arch::canonical`]).
    pub arch: Nb201Arch,
    /// Each `ok` run's value in the set's [`TruthMetric`] (test accuracy %, or −test loss), in
    /// seed order.
    pub runs: Vec<f64>,
}

impl TruthCell {
    /// Mean value over the runs.
    pub fn mean(&self) -> f64 {
        mean(&self.runs)
    }
}

/// The ground truth of one meta-test set: the panel cells measured on it, each with its runs.
///
/// Cells are isomorphism classes: runs of two isomorphic cells are runs of one class, and
/// [`SetTruth::find`] looks an arbitrary cell up by its class.
#[derive(Clone, Debug)]
pub struct SetTruth {
    /// The plan group of the set, e.g. `test/photos`.
    pub group: String,
    /// What the runs' values measure.
    pub metric: TruthMetric,
    /// The task every run trained on.
    pub task: TaskSpec,
    /// The protocol every run trained with.
    pub protocol: Protocol,
    /// Panel cells with at least one `ok` run, in panel order.
    pub cells: Vec<TruthCell>,
    /// Pooled within-cell seed standard deviation (in the metric's unit), from cells with ≥ 2
    /// runs (0 if none): a cell with one run is resampled around its value with it.
    pub seed_sd: f64,
    index: HashMap<usize, usize>,
}

impl SetTruth {
    /// The ground truth by test accuracy of every meta-test set in `records`, over the cells of
    /// `panel` (runs of other cells are ignored). Sets come in the order their group first
    /// appears. A set's runs must share one task and one protocol; one with fewer than two
    /// measured panel cells is an error, as is a store with no meta-test run.
    pub fn from_records(
        records: &[RunRecord],
        panel: &[Nb201Arch],
    ) -> Result<Vec<SetTruth>, EvaluateError> {
        Self::from_records_by(records, panel, TruthMetric::Accuracy)
    }

    /// [`SetTruth::from_records`] with the runs valued by `metric`.
    pub fn from_records_by(
        records: &[RunRecord],
        panel: &[Nb201Arch],
        metric: TruthMetric,
    ) -> Result<Vec<SetTruth>, EvaluateError> {
        let panel_ids: HashMap<usize, usize> = panel
            .iter()
            .enumerate()
            .map(|(i, a)| (a.canonical_id(), i))
            .collect();
        let mut order: Vec<&str> = Vec::new();
        let mut by_group: HashMap<&str, Vec<&RunRecord>> = HashMap::new();
        for r in records.iter().filter(|r| r.role == Role::MetaTest) {
            if !by_group.contains_key(r.group.as_str()) {
                order.push(&r.group);
            }
            by_group.entry(&r.group).or_default().push(r);
        }
        if order.is_empty() {
            return Err(EvaluateError::NoMetaTest);
        }
        order
            .into_iter()
            .map(|group| {
                let runs = &by_group[group];
                let first = runs[0];
                if let Some(other) = runs.iter().find(|r| r.task != first.task) {
                    return Err(EvaluateError::MixedSet {
                        group: group.to_string(),
                        what: format!(
                            "tasks (their specs differ in {})",
                            spec_difference(&first.task, &other.task)
                        ),
                    });
                }
                if runs.iter().any(|r| r.protocol != first.protocol) {
                    return Err(EvaluateError::MixedSet {
                        group: group.to_string(),
                        what: "protocols".into(),
                    });
                }
                // (panel position) → (seed → value); isomorphic runs with one seed count once
                // (the first).
                let mut cells: BTreeMap<usize, BTreeMap<u64, f64>> = BTreeMap::new();
                for r in runs {
                    let (Some(&pos), Some(value)) =
                        (panel_ids.get(&r.arch.canonical_id()), metric.value(r))
                    else {
                        continue;
                    };
                    cells.entry(pos).or_default().entry(r.seed).or_insert(value);
                }
                let cells: Vec<TruthCell> = cells
                    .into_iter()
                    .map(|(pos, runs)| TruthCell {
                        arch: panel[pos].canonical(),
                        runs: runs.into_values().collect(),
                    })
                    .collect();
                if cells.len() < 2 {
                    return Err(EvaluateError::TooFewCells {
                        group: group.to_string(),
                        cells: cells.len(),
                    });
                }
                Ok(SetTruth {
                    metric,
                    ..SetTruth::new(
                        group.to_string(),
                        first.task.clone(),
                        first.protocol.clone(),
                        cells,
                    )
                })
            })
            .collect()
    }

    /// A set from its cells valued by test accuracy (their `arch` need not be canonical).
    pub fn new(group: String, task: TaskSpec, protocol: Protocol, cells: Vec<TruthCell>) -> Self {
        let cells: Vec<TruthCell> = cells
            .into_iter()
            .map(|c| TruthCell {
                arch: c.arch.canonical(),
                ..c
            })
            .collect();
        let index = cells
            .iter()
            .enumerate()
            .map(|(i, c)| (c.arch.canonical_id(), i))
            .collect();
        let seed_sd =
            pooled_variance(cells.iter().map(|c| c.runs.as_slice())).map_or(0.0, |(v, _)| v.sqrt());
        Self {
            group,
            metric: TruthMetric::Accuracy,
            task,
            protocol,
            cells,
            seed_sd,
            index,
        }
    }

    /// The position in [`SetTruth::cells`] of `arch`'s isomorphism class, if measured.
    pub fn find(&self, arch: &Nb201Arch) -> Option<usize> {
        self.index.get(&arch.canonical_id()).copied()
    }

    /// Each cell's mean value.
    pub fn means(&self) -> Vec<f64> {
        self.cells.iter().map(TruthCell::mean).collect()
    }

    /// The cell with the best mean (the first on ties).
    pub fn best(&self) -> usize {
        let m = self.means();
        (0..m.len()).fold(0, |b, i| if m[i] > m[b] { i } else { b })
    }

    /// Fewest and most runs of a cell.
    pub fn seeds(&self) -> (usize, usize) {
        let n = self.cells.iter().map(|c| c.runs.len());
        (n.clone().min().unwrap_or(0), n.max().unwrap_or(0))
    }

    /// The regret of `pick` against the best panel cell (pp of accuracy, or nats of test loss),
    /// with its seed-bootstrap standard error over `bootstrap` resamples.
    ///
    /// Every replicate resamples each panel cell's runs (a cell with one run is drawn around it
    /// with [`SetTruth::seed_sd`]) and each candidate's runs, recomputes the best panel mean and
    /// the pick's value, so the winner's curse of the best cell and any selection inside the pick
    /// (best of several measured candidates) are in the error. A candidate in the panel uses the
    /// panel cell's resampled mean in the same replicate.
    pub fn regret(&self, pick: &Measured, bootstrap: usize, seed: u64) -> RegretEstimate {
        let means = self.means();
        let best = means.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let value = |cell_means: &[f64], candidate_means: &[f64]| -> f64 {
            match pick.rule {
                PickRule::First => candidate_means[0],
                PickRule::BestMeasured => candidate_means
                    .iter()
                    .copied()
                    .fold(f64::NEG_INFINITY, f64::max),
                PickRule::Expected => mean(cell_means),
                PickRule::Average => mean(candidate_means),
            }
        };
        let point_candidates: Vec<f64> = pick
            .candidates
            .iter()
            .map(|c| c.panel.map_or_else(|| mean(&c.runs), |i| means[i]))
            .collect();
        let chosen = match pick.rule {
            PickRule::First | PickRule::Expected | PickRule::Average => 0,
            PickRule::BestMeasured => (0..point_candidates.len()).fold(0, |b, i| {
                if point_candidates[i] > point_candidates[b] {
                    i
                } else {
                    b
                }
            }),
        };
        let point = best - value(&means, &point_candidates);
        // A cell picked twice (e.g. by two adaptation seeds) is one set of runs: it is resampled
        // once per replicate, not as independent measurements (which would shrink the error).
        let first_same: Vec<usize> = pick
            .candidates
            .iter()
            .map(|c| {
                let id = c.arch.canonical_id();
                pick.candidates
                    .iter()
                    .position(|o| o.arch.canonical_id() == id)
                    .unwrap_or(0)
            })
            .collect();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut m = vec![0.0; self.cells.len()];
        let mut cm = vec![0.0; pick.candidates.len()];
        let replicates: Vec<f64> = (0..bootstrap)
            .map(|_| {
                for (k, cell) in self.cells.iter().enumerate() {
                    m[k] = resample(&cell.runs, self.seed_sd, &mut rng);
                }
                for (k, c) in pick.candidates.iter().enumerate() {
                    cm[k] = match c.panel {
                        Some(i) => m[i],
                        None if first_same[k] < k => cm[first_same[k]],
                        None => resample(&c.runs, self.seed_sd, &mut rng),
                    };
                }
                m.iter().copied().fold(f64::NEG_INFINITY, f64::max) - value(&m, &cm)
            })
            .collect();
        let candidate = pick.candidates.get(chosen);
        RegretEstimate {
            regret_pp: point,
            se_pp: variance(&replicates).sqrt(),
            accuracy_pct: match pick.rule {
                PickRule::Expected => mean(&means),
                PickRule::Average => mean(&point_candidates),
                PickRule::First | PickRule::BestMeasured => point_candidates[chosen],
            },
            arch: candidate.map(|c| c.arch.to_string()),
            runs: candidate.map_or(0, |c| c.runs.len()),
            in_panel: candidate.is_some_and(|c| c.panel.is_some()),
        }
    }

    /// Spearman between `scores` (one per cell of [`SetTruth::cells`]; NaN = not scored, left
    /// out) and the cell means, with a 95% percentile interval from resampling the cells.
    /// `None` below three scored cells.
    pub fn rank_agreement(
        &self,
        scores: &[f64],
        bootstrap: usize,
        seed: u64,
    ) -> Option<RankAgreement> {
        let means = self.means();
        let pairs: Vec<(f64, f64)> = scores
            .iter()
            .zip(&means)
            .filter(|(s, _)| s.is_finite())
            .map(|(&s, &m)| (s, m))
            .collect();
        if pairs.len() < 3 {
            return None;
        }
        let (x, y): (Vec<f64>, Vec<f64>) = pairs.iter().copied().unzip();
        let rho = spearman(&x, &y).unwrap_or(f64::NAN);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let replicates: Vec<f64> =
            model_zoo::stats::bootstrap(pairs.len(), bootstrap, &mut rng, |idx| {
                let (bx, by): (Vec<f64>, Vec<f64>) = idx.iter().map(|&i| pairs[i]).unzip();
                spearman(&bx, &by).unwrap_or(f64::NAN)
            });
        let (lo, hi) = percentile_interval(&replicates, 0.95);
        Some(RankAgreement {
            spearman: rho,
            interval: (lo, hi),
            cells: pairs.len(),
        })
    }
}

/// The fields in which two task specs differ, each with both values (shortened), e.g.
/// `train_per_class (20 and 100)`.
fn spec_difference(a: &TaskSpec, b: &TaskSpec) -> String {
    let (Ok(serde_json::Value::Object(a)), Ok(serde_json::Value::Object(b))) =
        (serde_json::to_value(a), serde_json::to_value(b))
    else {
        return "fields that do not serialise".into();
    };
    let short = |v: Option<&serde_json::Value>| {
        let text = v.map_or("absent".to_string(), |v| v.to_string());
        match text.char_indices().nth(40) {
            Some((i, _)) => format!("{}…", &text[..i]),
            None => text,
        }
    };
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    let fields: Vec<String> = keys
        .into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| format!("{k} ({} and {})", short(a.get(k)), short(b.get(k))))
        .collect();
    if fields.is_empty() {
        "nothing serialised".into()
    } else {
        fields.join(", ")
    }
}

/// One bootstrap draw of a mean: resample the runs, or draw around a single run with `sd`.
fn resample(runs: &[f64], sd: f64, rng: &mut ChaCha8Rng) -> f64 {
    match runs.len() {
        0 => f64::NAN,
        1 => runs[0] + sd * normal(rng),
        n => (0..n).map(|_| runs[rng.random_range(0..n)]).sum::<f64>() / n as f64,
    }
}

/// A standard normal draw (Box–Muller).
fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let v: f64 = rng.random();
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

/// How a method's final pick is read from its candidates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum PickRule {
    /// The first candidate (a method's top-1).
    First,
    /// The candidate with the best measured accuracy: an *oracle* over the candidates (MetaD2A's
    /// published "best of the top 30" reads test accuracy to choose).
    BestMeasured,
    /// The expected value of a uniformly random panel cell (no candidates).
    Expected,
    /// The mean over the candidates: each is the pick of one run of a randomised method (e.g.
    /// one adaptation seed), so the value is the method's expected pick.
    Average,
}

/// One candidate of a pick with its measured runs.
#[derive(Clone, Debug)]
pub struct MeasuredCell {
    /// The cell.
    pub arch: Nb201Arch,
    /// Its position in the set's panel cells, if it is one of them (then `runs` are its runs).
    pub panel: Option<usize>,
    /// Its values on the set in the set's [`TruthMetric`] (test accuracy %, or −test loss).
    pub runs: Vec<f64>,
}

/// A method's candidates on a set, measured, and the rule that picks one.
#[derive(Clone, Debug)]
pub struct Measured {
    /// Candidates, the method's best first.
    pub candidates: Vec<MeasuredCell>,
    /// How the pick is read from them.
    pub rule: PickRule,
}

/// A pick's regret against the best panel cell. The field names read in accuracy; from a
/// [`TruthMetric::TestLoss`] truth the values are −test loss and nats
/// ([`LossRegret::from_estimate`] names them so).
#[derive(Clone, Debug, Serialize)]
pub struct RegretEstimate {
    /// The cell picked (`None` for the random pick).
    pub arch: Option<String>,
    /// Its measured accuracy (%) (the panel mean for the random pick).
    pub accuracy_pct: f64,
    /// Runs behind that accuracy.
    pub runs: usize,
    /// Whether the pick is a panel cell (else it was trained for the evaluation).
    pub in_panel: bool,
    /// Best panel mean − the pick's accuracy (pp).
    pub regret_pp: f64,
    /// Seed-bootstrap standard error of the regret (pp).
    pub se_pp: f64,
}

/// A pick's regret judged by test loss.
#[derive(Clone, Debug, Serialize)]
pub struct LossRegret {
    /// The pick's mean test loss (nats; the panel mean for the random pick).
    pub loss: f64,
    /// The pick's loss − the best panel cell's mean loss (nats).
    pub regret_nats: f64,
    /// Seed-bootstrap standard error of the regret (nats).
    pub se_nats: f64,
}

impl LossRegret {
    /// Names the values of an estimate from a [`TruthMetric::TestLoss`] truth.
    pub fn from_estimate(e: &RegretEstimate) -> Self {
        Self {
            loss: -e.accuracy_pct,
            regret_nats: e.regret_pp,
            se_nats: e.se_pp,
        }
    }
}

/// Rank agreement of a method's scores with the measured panel.
#[derive(Clone, Debug, Serialize)]
pub struct RankAgreement {
    /// Spearman between the scores and the cell means (NaN when either side is constant).
    pub spearman: f64,
    /// 95% percentile interval from resampling the cells.
    pub interval: (f64, f64),
    /// Cells scored.
    pub cells: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use datasets::SourceSpec;

    fn set(runs: &[&[f64]]) -> SetTruth {
        let task = TaskSpec::new(SourceSpec::MnistSample, (0..10).collect(), 10, 10, 16, 0);
        let cells = runs
            .iter()
            .enumerate()
            .map(|(i, r)| TruthCell {
                arch: panel_arch(i),
                runs: r.to_vec(),
            })
            .collect();
        SetTruth::new("test/x".into(), task, Protocol::mini(), cells)
    }

    /// Distinct isomorphism classes: all-conv cells differ in their edge ops.
    fn panel_arch(i: usize) -> Nb201Arch {
        let mut seen = std::collections::HashSet::new();
        Nb201Arch::all()
            .filter(|a| seen.insert(a.canonical_id()))
            .nth(100 + 37 * i)
            .unwrap()
    }

    fn first(truth: &SetTruth, i: usize) -> Measured {
        Measured {
            candidates: vec![MeasuredCell {
                arch: truth.cells[i].arch,
                panel: Some(i),
                runs: truth.cells[i].runs.clone(),
            }],
            rule: PickRule::First,
        }
    }

    #[test]
    fn regret_of_the_best_cell_is_zero_and_of_others_their_gap() {
        let t = set(&[&[90.0, 92.0], &[80.0, 82.0], &[70.0, 71.0, 72.0]]);
        assert_eq!(t.best(), 0);
        let r = t.regret(&first(&t, 0), 200, 1);
        assert_eq!(r.regret_pp, 0.0);
        assert!(r.in_panel);
        let r = t.regret(&first(&t, 2), 200, 1);
        assert!((r.regret_pp - 20.0).abs() < 1e-12);
        // Well-separated cells: the bootstrap error is the two means' sampling error, ~1 pp.
        assert!(r.se_pp > 0.1 && r.se_pp < 2.0, "{}", r.se_pp);
    }

    #[test]
    fn best_measured_picks_the_best_candidate_and_expected_is_the_mean_gap() {
        let t = set(&[&[90.0, 90.0], &[80.0, 80.0], &[70.0, 70.0]]);
        let pick = Measured {
            candidates: vec![
                MeasuredCell {
                    arch: t.cells[2].arch,
                    panel: Some(2),
                    runs: vec![70.0, 70.0],
                },
                MeasuredCell {
                    arch: panel_arch(9),
                    panel: None,
                    runs: vec![95.0, 95.0],
                },
            ],
            rule: PickRule::BestMeasured,
        };
        let r = t.regret(&pick, 50, 0);
        assert!(
            (r.regret_pp + 5.0).abs() < 1e-12,
            "an off-panel pick can beat the panel"
        );
        assert!(!r.in_panel);
        assert_eq!(r.se_pp, 0.0, "no seed noise, no error");
        let expected = t.regret(
            &Measured {
                candidates: vec![],
                rule: PickRule::Expected,
            },
            50,
            0,
        );
        assert!((expected.regret_pp - 10.0).abs() < 1e-12);
        assert!((expected.accuracy_pct - 80.0).abs() < 1e-12);
    }

    #[test]
    fn average_is_the_mean_of_the_candidates_not_the_best() {
        let t = set(&[&[90.0, 90.0], &[80.0, 80.0], &[70.0, 70.0]]);
        let pick = Measured {
            candidates: vec![
                MeasuredCell {
                    arch: t.cells[0].arch,
                    panel: Some(0),
                    runs: vec![90.0, 90.0],
                },
                MeasuredCell {
                    arch: panel_arch(9),
                    panel: None,
                    runs: vec![76.0, 76.0],
                },
            ],
            rule: PickRule::Average,
        };
        let r = t.regret(&pick, 50, 0);
        assert!((r.regret_pp - 7.0).abs() < 1e-12, "{}", r.regret_pp);
        assert!((r.accuracy_pct - 83.0).abs() < 1e-12);
        assert_eq!(r.se_pp, 0.0, "no seed noise, no error");
    }

    #[test]
    fn a_cell_picked_twice_is_resampled_once() {
        let t = set(&[&[90.0, 92.0], &[80.0, 82.0], &[70.0, 71.0, 72.0]]);
        let off = MeasuredCell {
            arch: panel_arch(9),
            panel: None,
            runs: vec![70.0, 78.0, 86.0],
        };
        let one = t.regret(
            &Measured {
                candidates: vec![off.clone()],
                rule: PickRule::First,
            },
            400,
            4,
        );
        let twice = t.regret(
            &Measured {
                candidates: vec![off.clone(), off],
                rule: PickRule::Average,
            },
            400,
            4,
        );
        assert_eq!(twice.regret_pp, one.regret_pp);
        assert!(
            (twice.se_pp - one.se_pp).abs() < 1e-9,
            "{} vs {}: the same runs, the same error",
            twice.se_pp,
            one.se_pp
        );
    }

    #[test]
    fn single_runs_are_resampled_with_the_pooled_seed_sd() {
        let t = set(&[&[90.0, 94.0], &[80.0], &[86.0, 90.0]]);
        assert!((t.seed_sd - 8f64.sqrt()).abs() < 1e-12);
        let r = t.regret(&first(&t, 1), 400, 3);
        assert!(
            r.se_pp > 1.0,
            "a one-run cell must carry seed noise: {}",
            r.se_pp
        );
    }

    #[test]
    fn rank_agreement_skips_unscored_cells_and_brackets_the_estimate() {
        let t = set(&[&[90.0], &[80.0], &[70.0], &[60.0], &[50.0]]);
        let a = t
            .rank_agreement(&[5.0, 4.0, f64::NAN, 2.0, 1.0], 200, 0)
            .unwrap();
        assert_eq!(a.cells, 4);
        assert!((a.spearman - 1.0).abs() < 1e-12);
        assert!(a.interval.0 <= a.spearman && a.spearman <= a.interval.1 + 1e-12);
        assert!(t
            .rank_agreement(&[1.0, f64::NAN, f64::NAN, f64::NAN, 2.0], 10, 0)
            .is_none());
    }

    #[test]
    fn find_looks_cells_up_by_isomorphism_class() {
        // A class with two members, measured under one of them.
        let (a, b) = Nb201Arch::all()
            .find_map(|a| {
                Nb201Arch::all()
                    .find(|b| *b != a && b.canonical_id() == a.canonical_id())
                    .map(|b| (a, b))
            })
            .expect("NB201 has isomorphic cells");
        let task = TaskSpec::new(SourceSpec::MnistSample, (0..10).collect(), 10, 10, 16, 0);
        let cells = vec![
            TruthCell {
                arch: panel_arch(0),
                runs: vec![90.0],
            },
            TruthCell {
                arch: b,
                runs: vec![80.0],
            },
        ];
        let t = SetTruth::new("test/x".into(), task, Protocol::mini(), cells);
        assert_eq!(t.find(&a), Some(1));
        assert_eq!(t.find(&panel_arch(0)), Some(0));
        assert_eq!(t.find(&panel_arch(7)), None);
    }

    /// A meta-test record of `arch` with `seed`, its accuracy and loss; `ok` or diverged.
    fn record(arch: Nb201Arch, seed: u64, accuracy: f64, loss: f64, ok: bool) -> RunRecord {
        let task = TaskSpec::new(SourceSpec::MnistSample, (0..10).collect(), 10, 10, 16, 0);
        let mut result = model_zoo::RunResult::failed(arch, seed);
        if ok {
            result.test_accuracy = Some(accuracy);
            result.test_loss = Some(loss);
            result.status = model_zoo::RunStatus::Ok;
        }
        RunRecord {
            group: "test/x".into(),
            role: Role::MetaTest,
            task,
            arch,
            seed,
            protocol: Protocol::mini(),
            result,
            weights: None,
            error: None,
            cpu_simd: None,
        }
    }

    #[test]
    fn a_set_mixing_two_tasks_names_the_fields_that_differ() {
        let a = panel_arch(0);
        let mut other = record(a, 1, 0.9, 0.4, true);
        other.task.train_per_class = 100;
        let records = vec![record(a, 0, 0.9, 0.5, true), other];
        let e = SetTruth::from_records(&records, &[a])
            .unwrap_err()
            .to_string();
        assert!(e.contains("train_per_class (10 and 100)"), "{e}");
    }

    #[test]
    fn test_loss_truth_ranks_cells_by_lower_loss_and_values_failures_at_chance() {
        // Cell 0 is the more accurate, cell 1 the better calibrated: the two truths disagree.
        let (a, b) = (panel_arch(0), panel_arch(1));
        let records = vec![
            record(a, 0, 0.90, 0.50, true),
            record(a, 1, 0.92, 0.40, true),
            record(b, 0, 0.88, 0.30, true),
            record(b, 1, 0.0, 0.0, false),
        ];
        let panel = [a, b];
        let acc = SetTruth::from_records(&records, &panel).unwrap();
        let loss = SetTruth::from_records_by(&records, &panel, TruthMetric::TestLoss).unwrap();
        assert_eq!(
            (acc[0].metric, loss[0].metric),
            (TruthMetric::Accuracy, TruthMetric::TestLoss)
        );
        assert_eq!(acc[0].cells[0].runs, vec![90.0, 92.0]);
        assert_eq!(loss[0].cells[0].runs, vec![-0.5, -0.4]);
        assert_eq!(
            loss[0].cells[1].runs,
            vec![-0.3],
            "the diverged run is no ground truth"
        );
        assert_eq!((acc[0].best(), loss[0].best()), (0, 1));
        let r = LossRegret::from_estimate(&loss[0].regret(&first(&loss[0], 0), 100, 0));
        assert!((r.loss - 0.45).abs() < 1e-12 && (r.regret_nats - 0.15).abs() < 1e-12);
        // A failed pick is worth a uniform guess over the task's 10 classes.
        assert!((TruthMetric::TestLoss.pick_value(&records[3]) + 10f64.ln()).abs() < 1e-12);
        assert!((TruthMetric::Accuracy.pick_value(&records[3]) - 10.0).abs() < 1e-12);
    }
}
