//! A learned combination of scores (the predictor's, zero-cost proxies'), fitted on tasks where
//! the cells' accuracies were measured.
//!
//! Scores of different kinds live on incomparable scales (synflow spans orders of magnitude, the
//! predictor's accuracies a few points, a proxy may be −∞), and what matters within a task is
//! the order. So each score is replaced by its rank within the task, scaled to [−½, ½] (ties
//! share their mean rank; NaN and −∞ rank lowest), the measured accuracies likewise, and one
//! weight per score is fitted by ridge regression over every (task, cell) row. A new task's
//! cells are scored by the same transform and weights. This is the "re-rank by a learned
//! combination" of the predictor and proxies (cf. Abdelfattah et al., ICLR 2021, who vote with
//! several proxies; White et al., NeurIPS 2021, who feed proxies to a model as features).

use serde::{Deserialize, Serialize};

use crate::error::{PredictorError, Result};

/// One task's rows: each cell's scores (one per input, same order in every task) and its
/// measured accuracy.
#[derive(Clone, Debug, Default)]
pub struct TaskScores {
    /// `scores[cell][input]`.
    pub scores: Vec<Vec<f64>>,
    /// Measured accuracy per cell.
    pub accuracy: Vec<f64>,
}

/// Fitted weights over rank-transformed inputs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RankCombination {
    /// Name of each input, in order.
    pub inputs: Vec<String>,
    /// Weight of each input's within-task rank.
    pub weights: Vec<f64>,
    /// Rows (task, cell) it was fitted on.
    pub rows: usize,
    /// Tasks it was fitted on.
    pub tasks: usize,
}

impl RankCombination {
    /// Fits one weight per input by ridge regression (penalty `ridge` ≥ 0, per row) of the
    /// within-task accuracy ranks on the within-task score ranks. Tasks with fewer than 3 cells
    /// carry no order and are skipped.
    pub fn fit(inputs: &[&str], tasks: &[TaskScores], ridge: f64) -> Result<Self> {
        let d = inputs.len();
        if d == 0 {
            return Err(PredictorError::Combination(
                "no input to combine: name at least one score".into(),
            ));
        }
        if !(ridge >= 0.0 && ridge.is_finite()) {
            return Err(PredictorError::Combination(format!(
                "ridge penalty {ridge}: give a finite value ≥ 0"
            )));
        }
        let mut xtx = vec![0.0; d * d];
        let mut xty = vec![0.0; d];
        let (mut rows, mut used) = (0, 0);
        for (t, task) in tasks.iter().enumerate() {
            if task.scores.len() != task.accuracy.len() {
                return Err(PredictorError::Combination(format!(
                    "task {t}: {} score rows for {} accuracies",
                    task.scores.len(),
                    task.accuracy.len()
                )));
            }
            if let Some(row) = task.scores.iter().find(|r| r.len() != d) {
                return Err(PredictorError::Combination(format!(
                    "task {t}: a cell has {} scores for {d} inputs",
                    row.len()
                )));
            }
            if task.scores.len() < 3 {
                continue;
            }
            let x = rank_columns(&task.scores, d);
            let y = centred_ranks(&task.accuracy);
            for (row, &target) in x.iter().zip(&y) {
                for i in 0..d {
                    xty[i] += row[i] * target;
                    for j in 0..d {
                        xtx[i * d + j] += row[i] * row[j];
                    }
                }
            }
            rows += y.len();
            used += 1;
        }
        if used == 0 {
            return Err(PredictorError::Combination(
                "no task with at least 3 measured cells to fit on".into(),
            ));
        }
        for i in 0..d {
            xtx[i * d + i] += ridge * rows as f64;
        }
        let weights = solve(xtx, xty, d).ok_or_else(|| {
            PredictorError::Combination(
                "the inputs are collinear: give a positive ridge penalty or drop a duplicate \
                 input"
                    .into(),
            )
        })?;
        Ok(Self {
            inputs: inputs.iter().map(|s| s.to_string()).collect(),
            weights,
            rows,
            tasks: used,
        })
    }

    /// The combined score of each cell of one task, from its scores (`scores[cell][input]`).
    pub fn score(&self, scores: &[Vec<f64>]) -> Result<Vec<f64>> {
        let d = self.weights.len();
        if let Some(row) = scores.iter().find(|r| r.len() != d) {
            return Err(PredictorError::Combination(format!(
                "a cell has {} scores; the combination takes {d} ({})",
                row.len(),
                self.inputs.join(", ")
            )));
        }
        Ok(rank_columns(scores, d)
            .iter()
            .map(|row| row.iter().zip(&self.weights).map(|(x, w)| x * w).sum())
            .collect())
    }
}

/// Each column's within-task ranks scaled to [−½, ½].
fn rank_columns(scores: &[Vec<f64>], d: usize) -> Vec<Vec<f64>> {
    let mut out = vec![vec![0.0; d]; scores.len()];
    for j in 0..d {
        let col: Vec<f64> = scores.iter().map(|r| r[j]).collect();
        for (row, r) in out.iter_mut().zip(centred_ranks(&col)) {
            row[j] = r;
        }
    }
    out
}

/// Ranks (ties averaged; NaN and −∞ lowest, tied with each other) scaled to [−½, ½]; all zero
/// for one value.
fn centred_ranks(v: &[f64]) -> Vec<f64> {
    let n = v.len();
    if n < 2 {
        return vec![0.0; n];
    }
    // A failed score (NaN) counts as the worst possible one, −∞.
    let v: Vec<f64> = v
        .iter()
        .map(|&x| if x.is_nan() { f64::NEG_INFINITY } else { x })
        .collect();
    crate::metrics::ranks(&v)
        .into_iter()
        .map(|r| (r - 1.0) / (n - 1) as f64 - 0.5)
        .collect()
}

/// Solves the symmetric positive definite system `a x = b` (Gaussian elimination with partial
/// pivoting); `None` when singular.
fn solve(mut a: Vec<f64>, mut b: Vec<f64>, n: usize) -> Option<Vec<f64>> {
    for c in 0..n {
        let p = (c..n).max_by(|&i, &j| a[i * n + c].abs().total_cmp(&a[j * n + c].abs()))?;
        if a[p * n + c].abs() < 1e-12 {
            return None;
        }
        if p != c {
            for k in 0..n {
                a.swap(p * n + k, c * n + k);
            }
            b.swap(p, c);
        }
        for r in c + 1..n {
            let f = a[r * n + c] / a[c * n + c];
            for k in c..n {
                a[r * n + k] -= f * a[c * n + k];
            }
            b[r] -= f * b[c];
        }
    }
    let mut x = vec![0.0; n];
    for r in (0..n).rev() {
        let s: f64 = (r + 1..n).map(|k| a[r * n + k] * x[k]).sum();
        x[r] = (b[r] - s) / a[r * n + r];
    }
    Some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_are_centred_with_ties_averaged_and_nan_lowest() {
        assert_eq!(centred_ranks(&[3.0, 1.0, 2.0]), [0.5, -0.5, 0.0]);
        assert_eq!(centred_ranks(&[1.0, 1.0, 5.0]), [-0.25, -0.25, 0.5]);
        assert_eq!(
            centred_ranks(&[f64::NAN, f64::NEG_INFINITY, 0.0]),
            [-0.25, -0.25, 0.5]
        );
        assert_eq!(centred_ranks(&[7.0]), [0.0]);
    }

    fn task(seed: u64) -> TaskScores {
        // Accuracy follows input 0 exactly; input 1 is noise; input 2 is reversed.
        let n = 12;
        let acc: Vec<f64> = (0..n)
            .map(|i| ((i as u64 * 7 + seed) % n as u64) as f64)
            .collect();
        TaskScores {
            scores: acc
                .iter()
                .enumerate()
                .map(|(i, a)| vec![a.exp(), ((i * 5 + 3) % 11) as f64, -a])
                .collect(),
            accuracy: acc,
        }
    }

    #[test]
    fn the_fit_finds_the_informative_inputs_and_their_signs() {
        let tasks: Vec<TaskScores> = (0..6).map(task).collect();
        let c = RankCombination::fit(&["good", "noise", "reversed"], &tasks, 0.01).unwrap();
        assert_eq!(c.tasks, 6);
        assert_eq!(c.rows, 72);
        // Inputs 0 and 2 are collinear in rank (one is the other reversed): the ridge splits
        // the weight between them with opposite signs; the noise gets little.
        assert!(c.weights[0] > 0.3 && c.weights[2] < -0.3, "{:?}", c.weights);
        assert!(c.weights[1].abs() < 0.2, "{:?}", c.weights);
        let t = task(9);
        let s = c.score(&t.scores).unwrap();
        let best = (0..s.len()).max_by(|&a, &b| s[a].total_cmp(&s[b])).unwrap();
        let top = (0..s.len())
            .max_by(|&a, &b| t.accuracy[a].total_cmp(&t.accuracy[b]))
            .unwrap();
        assert_eq!(best, top);
    }

    #[test]
    fn bad_inputs_are_typed_errors() {
        assert!(RankCombination::fit(&[], &[task(0)], 0.1).is_err());
        assert!(RankCombination::fit(&["a", "b", "c"], &[task(0)], -1.0).is_err());
        assert!(RankCombination::fit(&["a", "b"], &[task(0)], 0.1).is_err());
        let short = TaskScores {
            scores: vec![vec![1.0]; 2],
            accuracy: vec![1.0, 2.0],
        };
        assert!(RankCombination::fit(&["a"], &[short], 0.1).is_err());
        let c = RankCombination::fit(&["a", "b", "c"], &[task(0)], 0.1).unwrap();
        assert!(c.score(&[vec![1.0]]).is_err());
    }
}
