//! A Gaussian process over a finite pool of cells whose mean is the predictor's score and whose
//! kernel lives on the predictor's (dataset, cell) embedding.
//!
//! For pool cell `i` with predicted accuracy `pᵢ` (pp) and embedding `eᵢ` (the predictor head's
//! hidden layer for this dataset and cell), the measured accuracy is modelled as
//!
//! ```text
//! y(i) = pᵢ + c + β·(pᵢ − p̄) + f(eᵢ) + ε,
//! c ~ N(0, level²),  β ~ N(0, slope²),  f ~ GP(0, residual²·exp(−‖e − e'‖² / 2ℓ²)),  ε ~ N(0, noise²)
//! ```
//!
//! so the prior mean is the predictor's score, the level `c` absorbs the new dataset's accuracy
//! offset, `β` lets the measurements stretch, shrink or reverse the predictor's spread, and `f`
//! corrects cells near a measured one in the predictor's own representation (a deep kernel with
//! the meta-learned network frozen, as in ABLR or DKL-style BO). Integrating `c` and `β` out gives
//! the covariance `level² + slope²·(pᵢ − p̄)(pⱼ − p̄) + residual²·k(eᵢ, eⱼ)`. The residual scale
//! and the length scale are chosen by marginal likelihood over a small grid once there are
//! enough measurements ([`GpHyper::fit`]); the noise is the protocol's seed noise, fixed.

use crate::budget::BudgetError;

/// Hyperparameters of the pool GP (accuracies in percentage points).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GpHyper {
    /// Prior SD of the dataset's accuracy offset from the predictor (pp).
    pub level_sd: f64,
    /// Prior SD of the correction to the predictor's slope (1 = the spread may double or vanish).
    pub slope_sd: f64,
    /// Prior SD of the cell-specific correction (pp).
    pub residual_sd: f64,
    /// Length scale of the embedding kernel, as a multiple of the pool's median pairwise distance.
    pub length: f64,
    /// SD of one measurement around the cell's mean: the protocol's seed noise (pp; the
    /// database's meta-test sets measure 0.6–4.6 pp).
    pub noise_sd: f64,
}

impl Default for GpHyper {
    fn default() -> Self {
        Self {
            level_sd: 10.0,
            slope_sd: 1.0,
            residual_sd: 2.0,
            length: 1.0,
            noise_sd: 2.0,
        }
    }
}

/// The grid [`GpHyper::fit`] searches: residual SD (pp) and length-scale multiple.
const RESIDUAL_GRID: [f64; 4] = [1.0, 2.0, 4.0, 8.0];
const LENGTH_GRID: [f64; 3] = [0.5, 1.0, 2.0];

impl GpHyper {
    /// The residual SD and length scale of highest marginal likelihood of the measurements
    /// `(pool index, accuracy)` over a small grid; the level and slope priors and the noise stay
    /// as in `self` (the noise is a property of the training protocol, known from the
    /// database's repeated runs, and a handful of runs cannot estimate it). Fewer than
    /// `min_points` measurements leave `self` unchanged.
    pub fn fit(&self, pool: &GpPool, observed: &[(usize, f64)], min_points: usize) -> Self {
        if observed.len() < min_points.max(1) {
            return *self;
        }
        let mut best = (f64::NEG_INFINITY, *self);
        for &residual_sd in &RESIDUAL_GRID {
            for &length in &LENGTH_GRID {
                let h = Self {
                    residual_sd,
                    length,
                    ..*self
                };
                if let Ok(post) = Posterior::fit(pool, &h, observed) {
                    if post.log_marginal > best.0 {
                        best = (post.log_marginal, h);
                    }
                }
            }
        }
        best.1
    }
}

/// The pool the GP is defined on: each cell's predicted accuracy and embedding.
#[derive(Clone, Debug)]
pub struct GpPool {
    predicted: Vec<f64>,
    embedding: Vec<f32>,
    dim: usize,
    mean_predicted: f64,
    median_distance: f64,
}

impl GpPool {
    /// A pool of `predicted.len()` cells with row-major embeddings `[cells, dim]`.
    pub fn new(predicted: Vec<f64>, embedding: Vec<f32>, dim: usize) -> Result<Self, BudgetError> {
        let n = predicted.len();
        if n == 0 {
            return Err(BudgetError::EmptyPool);
        }
        if dim == 0 || embedding.len() != n * dim {
            return Err(BudgetError::Embedding {
                cells: n,
                dim,
                found: embedding.len(),
            });
        }
        if let Some(i) = predicted.iter().position(|p| !p.is_finite()) {
            return Err(BudgetError::NonFinite {
                what: "predicted accuracy",
                index: i,
            });
        }
        if let Some(i) = embedding.iter().position(|e| !e.is_finite()) {
            return Err(BudgetError::NonFinite {
                what: "embedding",
                index: i / dim,
            });
        }
        let mean_predicted = predicted.iter().sum::<f64>() / n as f64;
        let mut pool = Self {
            predicted,
            embedding,
            dim,
            mean_predicted,
            median_distance: 1.0,
        };
        pool.median_distance = pool.median_pair_distance();
        Ok(pool)
    }

    /// Cells in the pool.
    pub fn len(&self) -> usize {
        self.predicted.len()
    }

    /// Whether the pool is empty (never: [`GpPool::new`] refuses it).
    pub fn is_empty(&self) -> bool {
        self.predicted.is_empty()
    }

    /// The predicted accuracy of cell `i` (pp).
    pub fn predicted(&self, i: usize) -> f64 {
        self.predicted[i]
    }

    fn row(&self, i: usize) -> &[f32] {
        &self.embedding[i * self.dim..(i + 1) * self.dim]
    }

    fn sq_distance(&self, i: usize, j: usize) -> f64 {
        self.row(i)
            .iter()
            .zip(self.row(j))
            .map(|(a, b)| {
                let d = (a - b) as f64;
                d * d
            })
            .sum()
    }

    /// Median distance over pairs of (up to 256 evenly spaced) cells; 1 when all coincide.
    fn median_pair_distance(&self) -> f64 {
        let n = self.len();
        let step = n.div_ceil(256).max(1);
        let idx: Vec<usize> = (0..n).step_by(step).collect();
        let mut d = Vec::with_capacity(idx.len() * idx.len() / 2);
        for (a, &i) in idx.iter().enumerate() {
            for &j in &idx[a + 1..] {
                d.push(self.sq_distance(i, j).sqrt());
            }
        }
        if d.is_empty() {
            return 1.0;
        }
        d.sort_by(f64::total_cmp);
        let m = d[d.len() / 2];
        if m > 0.0 {
            m
        } else {
            1.0
        }
    }

    /// Prior covariance of cells `i` and `j` under `h` (without the noise).
    fn kernel(&self, h: &GpHyper, i: usize, j: usize) -> f64 {
        let l = h.length * self.median_distance;
        let rbf = (-self.sq_distance(i, j) / (2.0 * l * l)).exp();
        h.level_sd.powi(2)
            + h.slope_sd.powi(2)
                * (self.predicted[i] - self.mean_predicted)
                * (self.predicted[j] - self.mean_predicted)
            + h.residual_sd.powi(2) * rbf
    }
}

/// The GP conditioned on measurements.
#[derive(Clone, Debug)]
pub struct Posterior {
    points: Vec<usize>,
    hyper: GpHyper,
    /// Lower Cholesky factor of `K + noise²·I` over the measured points, row-major.
    chol: Vec<f64>,
    /// `(K + noise²·I)⁻¹ (y − m)`.
    alpha: Vec<f64>,
    /// Log marginal likelihood of the measurements.
    pub log_marginal: f64,
}

impl Posterior {
    /// Conditions the GP with hyperparameters `h` on `(pool index, accuracy)` measurements.
    pub fn fit(pool: &GpPool, h: &GpHyper, observed: &[(usize, f64)]) -> Result<Self, BudgetError> {
        let k = observed.len();
        let points: Vec<usize> = observed.iter().map(|o| o.0).collect();
        let mut a = vec![0.0; k * k];
        for r in 0..k {
            for c in 0..=r {
                let v = pool.kernel(h, points[r], points[c])
                    + if r == c { h.noise_sd.powi(2) } else { 0.0 };
                a[r * k + c] = v;
                a[c * k + r] = v;
            }
        }
        let chol = cholesky(&a, k).ok_or(BudgetError::Singular)?;
        let resid: Vec<f64> = observed
            .iter()
            .map(|&(i, y)| y - pool.predicted[i])
            .collect();
        let z = forward_solve(&chol, k, &resid);
        let alpha = backward_solve(&chol, k, &z);
        let log_det: f64 = (0..k).map(|i| chol[i * k + i].ln()).sum();
        let log_marginal = -0.5 * z.iter().map(|v| v * v).sum::<f64>()
            - log_det
            - 0.5 * k as f64 * (2.0 * std::f64::consts::PI).ln();
        Ok(Self {
            points,
            hyper: *h,
            chol,
            alpha,
            log_marginal,
        })
    }

    /// Posterior mean and SD (pp) of cell `i`'s accuracy (its mean over seeds, without noise).
    pub fn predict(&self, pool: &GpPool, i: usize) -> (f64, f64) {
        let k = self.points.len();
        let prior_var = pool.kernel(&self.hyper, i, i);
        if k == 0 {
            return (pool.predicted[i], prior_var.max(0.0).sqrt());
        }
        let kx: Vec<f64> = self
            .points
            .iter()
            .map(|&p| pool.kernel(&self.hyper, p, i))
            .collect();
        let mean = pool.predicted[i] + kx.iter().zip(&self.alpha).map(|(a, b)| a * b).sum::<f64>();
        let v = forward_solve(&self.chol, k, &kx);
        let var = prior_var - v.iter().map(|x| x * x).sum::<f64>();
        (mean, var.max(1e-12).sqrt())
    }
}

/// Expected improvement of a cell with posterior `(mean, sd)` over `best` (maximisation).
pub fn expected_improvement(mean: f64, sd: f64, best: f64) -> f64 {
    if sd <= 0.0 {
        return (mean - best).max(0.0);
    }
    let z = (mean - best) / sd;
    let pdf = (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt();
    let cdf = 0.5 * libm::erfc(-z / std::f64::consts::SQRT_2);
    (mean - best) * cdf + sd * pdf
}

/// Lower Cholesky factor of the symmetric `n × n` matrix `a`, or `None` if it is not positive
/// definite.
fn cholesky(a: &[f64], n: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let s: f64 = (0..j).map(|k| l[i * n + k] * l[j * n + k]).sum();
            if i == j {
                let d = a[i * n + i] - s;
                if d <= 0.0 || !d.is_finite() {
                    return None;
                }
                l[i * n + i] = d.sqrt();
            } else {
                l[i * n + j] = (a[i * n + j] - s) / l[j * n + j];
            }
        }
    }
    Some(l)
}

/// Solves `L x = b` for lower-triangular `L`.
fn forward_solve(l: &[f64], n: usize, b: &[f64]) -> Vec<f64> {
    let mut x = vec![0.0; n];
    for i in 0..n {
        let s: f64 = (0..i).map(|k| l[i * n + k] * x[k]).sum();
        x[i] = (b[i] - s) / l[i * n + i];
    }
    x
}

/// Solves `Lᵀ x = b` for lower-triangular `L`.
fn backward_solve(l: &[f64], n: usize, b: &[f64]) -> Vec<f64> {
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        let s: f64 = (i + 1..n).map(|k| l[k * n + i] * x[k]).sum();
        x[i] = (b[i] - s) / l[i * n + i];
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool() -> GpPool {
        // Four cells on a line in a 2-D embedding; the predictor ranks them 0 < 1 < 2 < 3.
        GpPool::new(
            vec![80.0, 81.0, 82.0, 83.0],
            vec![0.0, 0.0, 1.0, 0.0, 2.0, 0.0, 3.0, 0.0],
            2,
        )
        .unwrap()
    }

    #[test]
    fn cholesky_reconstructs_the_matrix() {
        let a = [4.0, 2.0, 0.6, 2.0, 5.0, 1.0, 0.6, 1.0, 3.0];
        let l = cholesky(&a, 3).unwrap();
        for i in 0..3 {
            for j in 0..3 {
                let v: f64 = (0..3).map(|k| l[i * 3 + k] * l[j * 3 + k]).sum();
                assert!((v - a[i * 3 + j]).abs() < 1e-12);
            }
        }
        assert!(cholesky(&[1.0, 2.0, 2.0, 1.0], 2).is_none());
    }

    #[test]
    fn without_measurements_the_posterior_is_the_predictor() {
        let p = pool();
        let post = Posterior::fit(&p, &GpHyper::default(), &[]).unwrap();
        for i in 0..4 {
            assert_eq!(post.predict(&p, i).0, p.predicted(i));
        }
    }

    #[test]
    fn a_measurement_moves_the_level_and_shrinks_its_own_uncertainty() {
        let p = pool();
        let h = GpHyper::default();
        let prior = Posterior::fit(&p, &h, &[]).unwrap();
        // Cell 0 measures 10 pp above its prediction: every cell's mean rises (the level is
        // shared), the measured cell's SD shrinks the most.
        let post = Posterior::fit(&p, &h, &[(0, 90.0)]).unwrap();
        for i in 0..4 {
            assert!(post.predict(&p, i).0 > p.predicted(i) + 1.0);
        }
        assert!(post.predict(&p, 0).1 < prior.predict(&p, 0).1 / 2.0);
        assert!(post.predict(&p, 0).1 < post.predict(&p, 3).1);
    }

    #[test]
    fn measurements_can_reverse_a_wrong_predictor() {
        // The truth runs opposite to the predictor: after measuring both ends, the GP's slope
        // correction makes the predictor's worst cell the best.
        let p = pool();
        let h = GpHyper {
            noise_sd: 0.5,
            ..GpHyper::default()
        };
        let post = Posterior::fit(&p, &h, &[(0, 90.0), (3, 80.0)]).unwrap();
        let (m1, _) = post.predict(&p, 1);
        let (m2, _) = post.predict(&p, 2);
        assert!(m1 > m2, "{m1} vs {m2}");
    }

    #[test]
    fn expected_improvement_is_positive_and_grows_with_mean_and_sd() {
        let base = expected_improvement(80.0, 1.0, 81.0);
        assert!(base > 0.0);
        assert!(expected_improvement(80.5, 1.0, 81.0) > base);
        assert!(expected_improvement(80.0, 2.0, 81.0) > base);
        assert!((expected_improvement(85.0, 1e-9, 81.0) - 4.0).abs() < 1e-6);
        assert_eq!(expected_improvement(80.0, 0.0, 81.0), 0.0);
    }

    #[test]
    fn the_fit_prefers_a_large_residual_for_data_far_from_the_predictor() {
        let p = pool();
        let obs = [(0, 95.0), (1, 60.0), (2, 90.0), (3, 65.0)];
        let h = GpHyper::default().fit(&p, &obs, 3);
        assert_eq!(h.residual_sd, 8.0);
        assert_eq!(h.noise_sd, GpHyper::default().noise_sd);
        assert_eq!(GpHyper::default().fit(&p, &obs[..2], 3), GpHyper::default());
    }

    #[test]
    fn a_bad_pool_is_a_typed_error() {
        assert!(matches!(
            GpPool::new(vec![], vec![], 2),
            Err(BudgetError::EmptyPool)
        ));
        assert!(matches!(
            GpPool::new(vec![1.0], vec![0.0; 3], 2),
            Err(BudgetError::Embedding { .. })
        ));
        assert!(matches!(
            GpPool::new(vec![f64::NAN], vec![0.0; 2], 2),
            Err(BudgetError::NonFinite { .. })
        ));
    }
}
