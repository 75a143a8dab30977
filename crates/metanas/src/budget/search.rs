//! The budgeted loop: choose a cell, measure it, update, until `k` runs are spent.

use std::collections::{HashSet, VecDeque};
use std::time::Instant;

use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use search_space::Nb201Arch;
use serde::{Deserialize, Serialize};

use crate::budget::gp::{expected_improvement, GpHyper, GpPool, Posterior};
use crate::budget::{BudgetError, MeasureError};

/// How the `k` runs of a budgeted search are chosen.
#[derive(Clone, Debug, PartialEq)]
pub enum BudgetMethod {
    /// The predictor-guided Gaussian process ([`gp`](crate::budget::gp)): first the predictor's
    /// top cell, then the cell of highest expected improvement under the GP refit on every
    /// measurement; the answer is the measured cell of highest posterior mean.
    PredictorGp {
        /// The prior; the residual, length and noise scales are refit by marginal likelihood.
        hyper: GpHyper,
        /// Fewest measurements before the scales are refit (below, `hyper`'s are used).
        refit_after: usize,
    },
    /// The predictor's top-k trained without updating: the GP pool's predicted accuracies in
    /// descending order; the answer is the best measured.
    PredictorTopK,
    /// Cells in descending order of fixed scores, one per run (the predictor's top-k, the global
    /// best of the meta-training tasks, a proxy's ranking); the answer is the best measured.
    Ranked {
        /// One score per pool cell.
        scores: Vec<f64>,
    },
    /// Uniformly random cells without replacement; the answer is the best measured.
    Random,
    /// Regularised evolution (Real et al., AAAI 2019) inside the pool: `population` random
    /// cells, then each run mutates the best of `tournament` random members into the nearest
    /// unmeasured pool cell (fewest edges changed, ties at random) and retires the oldest.
    Rea {
        /// Population size.
        population: usize,
        /// Tournament size.
        tournament: usize,
    },
}

impl BudgetMethod {
    /// The GP with its default prior, refit from the third measurement on.
    pub fn predictor_gp() -> Self {
        Self::PredictorGp {
            hyper: GpHyper::default(),
            refit_after: 3,
        }
    }

    /// REA at the scale of budgets of up to ten runs (population 3, tournament 2; Real et al.
    /// use 100 and 25 over thousands of runs).
    pub fn rea() -> Self {
        Self::Rea {
            population: 3,
            tournament: 2,
        }
    }
}

/// One run of a budgeted search.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BudgetStep {
    /// The cell's position in the pool.
    pub index: usize,
    /// The cell trained.
    pub arch: Nb201Arch,
    /// Its measured test accuracy (%).
    pub accuracy: f64,
    /// The method's estimate of its accuracy before the run (GP posterior mean; `None` for the
    /// methods without a model).
    pub expected: Option<f64>,
    /// The SD of that estimate (GP only).
    pub sd: Option<f64>,
    /// Pool position of the cell the search would answer after this run.
    pub best_index: usize,
    /// That cell.
    pub best_arch: Nb201Arch,
    /// Its measured accuracy (%).
    pub best_accuracy: f64,
    /// Seconds spent choosing the cell (model fit and acquisition), measurement excluded.
    pub choose_seconds: f64,
    /// Seconds the measurement took.
    pub measure_seconds: f64,
}

/// The runs of a budgeted search, in order; the last step's `best_*` is the answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BudgetTrace {
    /// Every run.
    pub steps: Vec<BudgetStep>,
}

impl BudgetTrace {
    /// The answer after all runs: the last step (whose `best_*` fields name the cell).
    pub fn last(&self) -> &BudgetStep {
        self.steps.last().expect("a trace holds at least one run")
    }

    /// The answer after the first `k` runs (`k` ≥ 1, at most the trace's length).
    pub fn after(&self, k: usize) -> &BudgetStep {
        &self.steps[k.clamp(1, self.steps.len()) - 1]
    }
}

/// Runs `method` over the pool `archs` for `budget` measurements. `gp` (the predictor's scores
/// and embeddings of the same cells, in the same order) is needed by
/// [`BudgetMethod::PredictorGp`] only. `measure(index, arch)` trains the cell and returns its
/// test accuracy (%); `on_step` sees every run as it finishes. Deterministic given `seed` and
/// the measurements.
pub fn run_budget(
    archs: &[Nb201Arch],
    gp: Option<&GpPool>,
    method: &BudgetMethod,
    budget: usize,
    seed: u64,
    measure: &mut dyn FnMut(usize, Nb201Arch) -> Result<f64, MeasureError>,
    on_step: &mut dyn FnMut(&BudgetStep),
) -> Result<BudgetTrace, BudgetError> {
    let n = archs.len();
    if n == 0 {
        return Err(BudgetError::EmptyPool);
    }
    if budget == 0 {
        return Err(BudgetError::ZeroBudget);
    }
    if budget > n {
        return Err(BudgetError::BudgetExceedsPool { budget, pool: n });
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut chooser = Chooser::new(archs, gp, method)?;
    let mut measured: Vec<(usize, f64)> = Vec::with_capacity(budget);
    let mut steps = Vec::with_capacity(budget);
    for done in 0..budget {
        let start = Instant::now();
        let (index, expected, sd) = chooser.next(&measured, &mut rng)?;
        let choose_seconds = start.elapsed().as_secs_f64();
        let start = Instant::now();
        let arch = archs[index];
        let accuracy = measure(index, arch).map_err(|source| BudgetError::Measure {
            arch: arch.to_string(),
            done,
            source,
        })?;
        if !accuracy.is_finite() {
            return Err(BudgetError::BadMeasurement {
                arch: arch.to_string(),
                value: accuracy,
            });
        }
        let measure_seconds = start.elapsed().as_secs_f64();
        let start = Instant::now();
        measured.push((index, accuracy));
        chooser.observe(index, accuracy);
        let best_index = chooser.answer(&measured)?;
        let best_accuracy = measured
            .iter()
            .find(|m| m.0 == best_index)
            .map_or(accuracy, |m| m.1);
        let step = BudgetStep {
            index,
            arch,
            accuracy,
            expected,
            sd,
            best_index,
            best_arch: archs[best_index],
            best_accuracy,
            choose_seconds: choose_seconds + start.elapsed().as_secs_f64(),
            measure_seconds,
        };
        on_step(&step);
        steps.push(step);
    }
    Ok(BudgetTrace { steps })
}

/// The per-method state of a search.
enum Chooser<'a> {
    Gp {
        pool: &'a GpPool,
        hyper: GpHyper,
        refit_after: usize,
        posterior: Posterior,
        taken: HashSet<usize>,
    },
    Ordered {
        order: Vec<usize>,
        next: usize,
    },
    Random {
        left: Vec<usize>,
    },
    Rea {
        archs: &'a [Nb201Arch],
        population: usize,
        tournament: usize,
        members: VecDeque<(usize, f64)>,
        taken: HashSet<usize>,
    },
}

impl<'a> Chooser<'a> {
    fn new(
        archs: &'a [Nb201Arch],
        gp: Option<&'a GpPool>,
        method: &BudgetMethod,
    ) -> Result<Self, BudgetError> {
        let n = archs.len();
        Ok(match method {
            BudgetMethod::PredictorGp { hyper, refit_after } => {
                let pool = gp.ok_or(BudgetError::Method {
                    method: "predictor GP",
                    why: "needs the predictor's scores and embeddings of the pool (a GpPool)"
                        .into(),
                })?;
                if pool.len() != n {
                    return Err(BudgetError::Length {
                        what: "the GP pool",
                        pool: n,
                        found: pool.len(),
                    });
                }
                if !(hyper.noise_sd > 0.0 && hyper.level_sd >= 0.0 && hyper.slope_sd >= 0.0) {
                    return Err(BudgetError::Method {
                        method: "predictor GP",
                        why: "noise_sd must be > 0 and level_sd, slope_sd ≥ 0".into(),
                    });
                }
                Self::Gp {
                    pool,
                    hyper: *hyper,
                    refit_after: *refit_after,
                    posterior: Posterior::fit(pool, hyper, &[])?,
                    taken: HashSet::new(),
                }
            }
            BudgetMethod::PredictorTopK => {
                let pool = gp.ok_or(BudgetError::Method {
                    method: "predictor top-k",
                    why: "needs the predictor's scores of the pool (a GpPool)".into(),
                })?;
                let scores: Vec<f64> = (0..pool.len()).map(|i| pool.predicted(i)).collect();
                return Self::new(archs, None, &BudgetMethod::Ranked { scores });
            }
            BudgetMethod::Ranked { scores } => {
                if scores.len() != n {
                    return Err(BudgetError::Length {
                        what: "the ranking's scores",
                        pool: n,
                        found: scores.len(),
                    });
                }
                let key = |s: f64| if s.is_nan() { f64::NEG_INFINITY } else { s };
                let mut order: Vec<usize> = (0..n).collect();
                order.sort_by(|&a, &b| key(scores[b]).total_cmp(&key(scores[a])).then(a.cmp(&b)));
                Self::Ordered { order, next: 0 }
            }
            BudgetMethod::Random => Self::Random {
                left: (0..n).collect(),
            },
            BudgetMethod::Rea {
                population,
                tournament,
            } => {
                if *population == 0 || *tournament == 0 || tournament > population {
                    return Err(BudgetError::Method {
                        method: "REA",
                        why: format!(
                            "population {population} and tournament {tournament}: need \
                             1 ≤ tournament ≤ population"
                        ),
                    });
                }
                Self::Rea {
                    archs,
                    population: *population,
                    tournament: *tournament,
                    members: VecDeque::new(),
                    taken: HashSet::new(),
                }
            }
        })
    }

    /// The next cell to measure, with the model's estimate and SD where there is one.
    fn next(
        &mut self,
        measured: &[(usize, f64)],
        rng: &mut ChaCha8Rng,
    ) -> Result<(usize, Option<f64>, Option<f64>), BudgetError> {
        Ok(match self {
            Self::Gp {
                pool,
                posterior,
                taken,
                ..
            } => {
                let incumbent = measured
                    .iter()
                    .map(|m| posterior.predict(pool, m.0).0)
                    .fold(f64::NEG_INFINITY, f64::max);
                let mut best: Option<(usize, f64, f64, f64)> = None;
                for i in (0..pool.len()).filter(|i| !taken.contains(i)) {
                    let (mean, sd) = posterior.predict(pool, i);
                    // Before any measurement: the predictor's top cell.
                    let score = if measured.is_empty() {
                        mean
                    } else {
                        expected_improvement(mean, sd, incumbent)
                    };
                    if best.is_none_or(|b| score > b.1) {
                        best = Some((i, score, mean, sd));
                    }
                }
                let (i, _, mean, sd) = best.expect("the budget is at most the pool");
                (i, Some(mean), Some(sd))
            }
            Self::Ordered { order, next } => {
                *next += 1;
                (order[*next - 1], None, None)
            }
            Self::Random { left } => {
                let k = rng.random_range(0..left.len());
                (left.swap_remove(k), None, None)
            }
            Self::Rea {
                archs,
                population,
                tournament,
                members,
                taken,
            } => {
                let free: Vec<usize> = (0..archs.len()).filter(|i| !taken.contains(i)).collect();
                if members.len() < *population {
                    (*free.choose(rng).expect("budget ≤ pool"), None, None)
                } else {
                    let all: Vec<(usize, f64)> = members.iter().copied().collect();
                    let parent = all
                        .choose_multiple(rng, *tournament)
                        .max_by(|a, b| a.1.total_cmp(&b.1))
                        .expect("tournament ≥ 1")
                        .0;
                    let changed = |i: usize| {
                        let (a, b) = (archs[parent].ops(), archs[i].ops());
                        a.iter().zip(&b).filter(|(x, y)| x != y).count()
                    };
                    let nearest = free
                        .iter()
                        .map(|&i| changed(i))
                        .min()
                        .expect("budget ≤ pool");
                    let ties: Vec<usize> = free
                        .into_iter()
                        .filter(|&i| changed(i) == nearest)
                        .collect();
                    (*ties.choose(rng).expect("non-empty"), None, None)
                }
            }
        })
    }

    /// Records a measurement (refits the GP; ages the REA population).
    fn observe(&mut self, index: usize, accuracy: f64) {
        match self {
            Self::Gp { taken, .. } => {
                taken.insert(index);
            }
            Self::Rea {
                population,
                members,
                taken,
                ..
            } => {
                taken.insert(index);
                members.push_back((index, accuracy));
                if members.len() > *population {
                    members.pop_front();
                }
            }
            Self::Ordered { .. } | Self::Random { .. } => {}
        }
    }

    /// The cell the search answers with now (after [`observe`](Self::observe)), refitting the
    /// GP on all measurements.
    fn answer(&mut self, measured: &[(usize, f64)]) -> Result<usize, BudgetError> {
        match self {
            Self::Gp {
                pool,
                hyper,
                refit_after,
                posterior,
                ..
            } => {
                let h = hyper.fit(pool, measured, *refit_after);
                *posterior = Posterior::fit(pool, &h, measured)?;
                Ok(measured
                    .iter()
                    .map(|m| (m.0, posterior.predict(pool, m.0).0))
                    .max_by(|a, b| a.1.total_cmp(&b.1))
                    .expect("at least one measurement")
                    .0)
            }
            _ => Ok(best_measured(measured)),
        }
    }
}

/// The measured cell of highest accuracy (the first on ties).
fn best_measured(measured: &[(usize, f64)]) -> usize {
    measured
        .iter()
        .fold(None::<(usize, f64)>, |best, &(i, a)| match best {
            Some((_, b)) if b >= a => best,
            _ => Some((i, a)),
        })
        .expect("at least one measurement")
        .0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn archs(n: usize) -> Vec<Nb201Arch> {
        Nb201Arch::all().step_by(97).take(n).collect()
    }

    /// A pool whose true accuracy is `truth[i]`, measured without noise.
    fn run(
        method: &BudgetMethod,
        truth: &[f64],
        gp: Option<&GpPool>,
        budget: usize,
        seed: u64,
    ) -> BudgetTrace {
        let a = archs(truth.len());
        run_budget(
            &a,
            gp,
            method,
            budget,
            seed,
            &mut |i, _| Ok(truth[i]),
            &mut |_| {},
        )
        .unwrap()
    }

    #[test]
    fn every_method_measures_distinct_cells_and_answers_a_measured_one() {
        let truth: Vec<f64> = (0..40)
            .map(|i| 70.0 + ((i * 7) % 40) as f64 / 2.0)
            .collect();
        let pool = GpPool::new(
            truth.iter().map(|t| 80.0 + (t - 80.0) * 0.5).collect(),
            (0..40).flat_map(|i| [i as f32, (i % 3) as f32]).collect(),
            2,
        )
        .unwrap();
        for method in [
            BudgetMethod::predictor_gp(),
            BudgetMethod::Ranked {
                scores: truth.clone(),
            },
            BudgetMethod::Random,
            BudgetMethod::rea(),
        ] {
            let trace = run(&method, &truth, Some(&pool), 10, 7);
            let cells: HashSet<usize> = trace.steps.iter().map(|s| s.index).collect();
            assert_eq!(cells.len(), 10, "{method:?}");
            for s in &trace.steps {
                assert!(cells.contains(&s.best_index));
                assert_eq!(s.best_accuracy, truth[s.best_index]);
            }
            // Same seed, same choices (the timings differ).
            let again = run(&method, &truth, Some(&pool), 10, 7);
            let key = |t: &BudgetTrace| -> Vec<(usize, usize, Option<f64>)> {
                t.steps
                    .iter()
                    .map(|s| (s.index, s.best_index, s.expected))
                    .collect()
            };
            assert_eq!(key(&trace), key(&again));
        }
    }

    #[test]
    fn ranked_takes_the_order_and_the_gp_starts_with_the_predictor_top() {
        let truth = [80.0, 85.0, 75.0, 90.0];
        let t = run(
            &BudgetMethod::Ranked {
                scores: vec![1.0, 3.0, 2.0, 0.0],
            },
            &truth,
            None,
            3,
            0,
        );
        let order: Vec<usize> = t.steps.iter().map(|s| s.index).collect();
        assert_eq!(order, [1, 2, 0]);
        assert_eq!(t.last().best_index, 1);
        let pool = GpPool::new(vec![70.0, 71.0, 79.0, 72.0], vec![0.0, 1.0, 2.0, 3.0], 1).unwrap();
        let t = run(&BudgetMethod::predictor_gp(), &truth, Some(&pool), 1, 0);
        assert_eq!(t.steps[0].index, 2);
        assert_eq!(t.steps[0].expected, Some(79.0));
    }

    #[test]
    fn with_a_good_predictor_the_gp_finds_the_best_cell_faster_than_random() {
        // 60 cells; the predictor knows the truth up to a small distortion.
        let truth: Vec<f64> = (0..60)
            .map(|i| 60.0 + ((i * 37) % 60) as f64 / 2.0)
            .collect();
        let pool = GpPool::new(
            truth.iter().map(|t| 0.5 * t + 40.0).collect(),
            truth.iter().map(|t| *t as f32 / 10.0).collect(),
            1,
        )
        .unwrap();
        let best = truth.iter().cloned().fold(f64::MIN, f64::max);
        let gp = run(&BudgetMethod::predictor_gp(), &truth, Some(&pool), 3, 0);
        assert_eq!(truth[gp.last().best_index], best);
        let random_regret: f64 = (0..20)
            .map(|s| {
                best - truth[run(&BudgetMethod::Random, &truth, None, 3, s)
                    .last()
                    .best_index]
            })
            .sum::<f64>()
            / 20.0;
        assert!(random_regret > 1.0, "{random_regret}");
    }

    #[test]
    fn rea_mutates_to_a_neighbour_of_a_population_member() {
        // The 125 cells whose first three edges are `none`: each has 12 pool neighbours one
        // edge away.
        let a: Vec<Nb201Arch> = (0..125).map(|c| Nb201Arch::from_code(c).unwrap()).collect();
        let truth: Vec<f64> = (0..125).map(|i| i as f64).collect();
        let trace = run_budget(
            &a,
            None,
            &BudgetMethod::rea(),
            8,
            3,
            &mut |i, _| Ok(truth[i]),
            &mut |_| {},
        )
        .unwrap();
        let distance = |x: Nb201Arch, y: Nb201Arch| {
            x.ops().iter().zip(&y.ops()).filter(|(p, q)| p != q).count()
        };
        for (k, s) in trace.steps.iter().enumerate().skip(3) {
            let near = trace.steps[..k]
                .iter()
                .map(|p| distance(p.arch, s.arch))
                .min()
                .unwrap();
            assert_eq!(near, 1, "step {k}");
        }
    }

    #[test]
    fn bad_settings_are_typed_errors() {
        let a = archs(5);
        let mut m = |_: usize, _: Nb201Arch| Ok(1.0);
        let mut go = |method: &BudgetMethod, budget| {
            run_budget(&a, None, method, budget, 0, &mut m, &mut |_| {})
        };
        assert!(matches!(
            go(&BudgetMethod::Random, 0),
            Err(BudgetError::ZeroBudget)
        ));
        assert!(matches!(
            go(&BudgetMethod::Random, 6),
            Err(BudgetError::BudgetExceedsPool { budget: 6, pool: 5 })
        ));
        assert!(matches!(
            go(&BudgetMethod::predictor_gp(), 2),
            Err(BudgetError::Method { .. })
        ));
        assert!(matches!(
            go(&BudgetMethod::Ranked { scores: vec![1.0] }, 2),
            Err(BudgetError::Length { .. })
        ));
        assert!(matches!(
            go(
                &BudgetMethod::Rea {
                    population: 2,
                    tournament: 3
                },
                2
            ),
            Err(BudgetError::Method { .. })
        ));
        let mut failing =
            |_: usize, _: Nb201Arch| -> Result<f64, MeasureError> { Err("disk full".into()) };
        let e = run_budget(
            &a,
            None,
            &BudgetMethod::Random,
            2,
            0,
            &mut failing,
            &mut |_| {},
        )
        .unwrap_err();
        assert!(e.to_string().contains("disk full"), "{e}");
        let mut nan = |_: usize, _: Nb201Arch| Ok(f64::NAN);
        assert!(matches!(
            run_budget(&a, None, &BudgetMethod::Random, 2, 0, &mut nan, &mut |_| {}),
            Err(BudgetError::BadMeasurement { .. })
        ));
    }
}
