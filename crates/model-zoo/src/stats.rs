//! Signal and noise of a protocol, measured from stored runs.
//!
//! For one task: each architecture's recorded accuracy is the mean over its seeds. The *signal* is
//! the standard deviation of those means across architectures; the *noise* of a recorded value is
//! the seed standard deviation divided by √seeds (pooled over architectures). SNR = signal / noise.
//! With `r` = (true spread across archs) / (one seed's std), a record averaging `k` seeds has
//! SNR ≈ √(k·r² + 1), so `k = (SNR² − 1) / r²` seeds reach a target SNR.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use search_space::Nb201Arch;

use crate::database::RunRecord;

/// Mean of a slice (0 for an empty one).
pub fn mean(x: &[f64]) -> f64 {
    if x.is_empty() {
        0.0
    } else {
        x.iter().sum::<f64>() / x.len() as f64
    }
}

/// Unbiased sample variance (0 below two values).
pub fn variance(x: &[f64]) -> f64 {
    if x.len() < 2 {
        return 0.0;
    }
    let m = mean(x);
    x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (x.len() - 1) as f64
}

/// Ranks from 1 (smallest) to n, tied values sharing their mean rank (`[3, 1, 3]` → `[2.5, 1,
/// 2.5]`).
///
/// NaN values rank below every number, tied with each other, whatever their sign bit (a NaN
/// computed on x86 is negative, `f64::NAN` positive: ordering them by [`f64::total_cmp`] alone
/// would put one first and the other last). So a failed score ranks as the worst.
/// `-0.0` and `0.0` are tied.
pub fn ranks(x: &[f64]) -> Vec<f64> {
    // NaN first (as equal), then the numbers in order.
    let cmp = |a: f64, b: f64| match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => a.total_cmp(&b),
    };
    let tied = |a: f64, b: f64| (a.is_nan() && b.is_nan()) || a == b;
    let mut order: Vec<usize> = (0..x.len()).collect();
    order.sort_by(|&a, &b| cmp(x[a], x[b]));
    let mut out = vec![0.0; x.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && tied(x[order[j + 1]], x[order[i]]) {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            out[k] = rank;
        }
        i = j + 1;
    }
    out
}

/// Pearson's linear correlation of the pairs `(x[i], y[i])`, in `[−1, 1]`.
///
/// The correlations ([`pearson`], [`spearman`], [`kendall_tau`]) share one contract: `None`
/// where the statistic is undefined — fewer than two pairs, slices of different lengths, a NaN
/// on either side, or either side constant (for Pearson also infinite values, whose deviations
/// are undefined) — never NaN, never a panic. Callers that report undefined values as NaN write
/// `.unwrap_or(f64::NAN)`.
///
/// ```
/// use model_zoo::stats::pearson;
/// assert_eq!(pearson(&[1.0, 2.0, 3.0], &[2.0, 4.0, 6.0]), Some(1.0));
/// assert_eq!(pearson(&[1.0, 2.0, 3.0], &[5.0, 5.0, 5.0]), None); // constant
/// assert_eq!(pearson(&[1.0, f64::NAN], &[1.0, 2.0]), None);
/// ```
pub fn pearson(x: &[f64], y: &[f64]) -> Option<f64> {
    if !comparable(x, y) {
        return None;
    }
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (&a, &b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    let r = sxy / (sxx * syy).sqrt();
    (sxx > 0.0 && syy > 0.0 && r.is_finite()).then(|| r.clamp(-1.0, 1.0))
}

/// Spearman's rank correlation: [`pearson`] of the [`ranks`] (ties share their mean rank), with
/// the correlations' `None` contract (see [`pearson`]); infinite values are ranked like any
/// other.
///
/// ```
/// use model_zoo::stats::spearman;
/// // any increasing map of the data keeps ρ = 1
/// assert_eq!(spearman(&[1.0, 2.0, 3.0, 4.0], &[10.0, 20.0, 25.0, 1e9]), Some(1.0));
/// assert_eq!(spearman(&[1.0, 2.0], &[1.0]), None); // lengths differ
/// ```
pub fn spearman(x: &[f64], y: &[f64]) -> Option<f64> {
    if !comparable(x, y) {
        return None;
    }
    pearson(&ranks(x), &ranks(y))
}

/// Kendall's τ-b, which accounts for ties on either side, with the correlations' `None`
/// contract (see [`pearson`]). O(n²) pairs.
///
/// ```
/// use model_zoo::stats::kendall_tau;
/// // 8 concordant and 2 discordant pairs of 5 items
/// let tau = kendall_tau(&[1.0, 2.0, 3.0, 4.0, 5.0], &[2.0, 1.0, 4.0, 3.0, 5.0]).unwrap();
/// assert!((tau - 0.6).abs() < 1e-12);
/// ```
pub fn kendall_tau(x: &[f64], y: &[f64]) -> Option<f64> {
    if !comparable(x, y) {
        return None;
    }
    let n = x.len();
    let (mut concordant, mut discordant, mut ties_x, mut ties_y) = (0u64, 0u64, 0u64, 0u64);
    for i in 0..n {
        for j in i + 1..n {
            // No NaN here (`comparable`), so `partial_cmp` is total; equal infinities tie.
            let dx = x[i].partial_cmp(&x[j])?;
            let dy = y[i].partial_cmp(&y[j])?;
            match (dx, dy) {
                (Ordering::Equal, Ordering::Equal) => {}
                (Ordering::Equal, _) => ties_x += 1,
                (_, Ordering::Equal) => ties_y += 1,
                (a, b) if a == b => concordant += 1,
                _ => discordant += 1,
            }
        }
    }
    let (c, d) = (concordant as f64, discordant as f64);
    let denom = ((c + d + ties_x as f64) * (c + d + ties_y as f64)).sqrt();
    (denom > 0.0).then(|| (c - d) / denom)
}

/// At least two pairs, equal lengths, no NaN: the inputs every correlation needs.
fn comparable(x: &[f64], y: &[f64]) -> bool {
    x.len() >= 2 && x.len() == y.len() && x.iter().chain(y).all(|v| !v.is_nan())
}

/// Signal and noise of one task's runs.
#[derive(Clone, Debug)]
pub struct TaskSignal {
    /// Architectures with at least one finished run.
    pub archs: usize,
    /// Seeds per architecture (the smallest count).
    pub seeds: usize,
    /// Mean recorded accuracy.
    pub mean_accuracy: f64,
    /// Lowest and highest recorded accuracy.
    pub range: (f64, f64),
    /// Std across archs of the recorded (seed-mean) accuracy.
    pub signal: f64,
    /// Pooled seed std of a single run.
    pub seed_std: f64,
    /// `r`: estimated true spread over one seed's std.
    pub r: f64,
    /// SNR of the recorded values (signal / (seed std / √seeds)).
    pub snr: f64,
    /// Median wall seconds per run.
    pub median_seconds: f64,
    /// Per-arch recorded accuracy.
    pub per_arch: Vec<(Nb201Arch, f64)>,
}

impl TaskSignal {
    /// SNR of a record averaging `k` seeds, by the model √(k·r² + 1).
    pub fn snr_at(&self, k: usize) -> f64 {
        (k as f64 * self.r * self.r + 1.0).sqrt()
    }

    /// Seeds a record needs to reach `target` SNR.
    pub fn seeds_for(&self, target: f64) -> usize {
        if self.r <= 0.0 {
            return usize::MAX;
        }
        (((target * target - 1.0) / (self.r * self.r)).ceil() as usize).max(1)
    }
}

/// Measure signal and noise over `runs` (all of one task), keeping successful runs only.
pub fn task_signal(runs: &[&RunRecord]) -> Option<TaskSignal> {
    let mut by_arch: BTreeMap<usize, (Nb201Arch, Vec<f64>)> = BTreeMap::new();
    let mut seconds = Vec::new();
    for r in runs {
        if let Some(acc) = r.result.test_accuracy.filter(|_| r.result.is_ok()) {
            by_arch
                .entry(r.arch.index())
                .or_insert_with(|| (r.arch, Vec::new()))
                .1
                .push(acc);
            seconds.push(r.result.wall_seconds);
        }
    }
    if by_arch.len() < 2 {
        return None;
    }
    let seeds = by_arch.values().map(|(_, v)| v.len()).min()?;
    let per_arch: Vec<(Nb201Arch, f64)> = by_arch.values().map(|(a, v)| (*a, mean(v))).collect();
    let means: Vec<f64> = per_arch.iter().map(|(_, m)| *m).collect();
    let seed_var = mean(
        &by_arch
            .values()
            .filter(|(_, v)| v.len() >= 2)
            .map(|(_, v)| variance(v))
            .collect::<Vec<_>>(),
    );
    let seed_std = seed_var.sqrt();
    let signal = variance(&means).sqrt();
    let noise = seed_std / (seeds as f64).sqrt();
    // Observed variance of k-seed means = true variance + seed variance / k.
    let true_var = (signal * signal - seed_var / seeds as f64).max(0.0);
    seconds.sort_by(f64::total_cmp);
    Some(TaskSignal {
        archs: per_arch.len(),
        seeds,
        mean_accuracy: mean(&means),
        range: (
            means.iter().copied().fold(f64::INFINITY, f64::min),
            means.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        ),
        signal,
        seed_std,
        r: if seed_std > 0.0 {
            true_var.sqrt() / seed_std
        } else {
            f64::INFINITY
        },
        snr: if noise > 0.0 {
            signal / noise
        } else {
            f64::INFINITY
        },
        median_seconds: seconds[seconds.len() / 2],
        per_arch,
    })
}

/// Quantile `q` in `0..=1` with linear interpolation between order statistics (R's type 7,
/// NumPy's default); NaN values are ignored, NaN for no values.
pub fn quantile(x: &[f64], q: f64) -> f64 {
    let mut v: Vec<f64> = x.iter().copied().filter(|v| !v.is_nan()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let h = (v.len() - 1) as f64 * q.clamp(0.0, 1.0);
    let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
    v[lo] + (h - lo as f64) * (v[hi] - v[lo])
}

/// Median (NaN values ignored; NaN for no values).
pub fn median(x: &[f64]) -> f64 {
    quantile(x, 0.5)
}

/// Standard error of the mean: sample standard deviation / √n (0 below two values).
pub fn standard_error(x: &[f64]) -> f64 {
    if x.len() < 2 {
        return 0.0;
    }
    (variance(x) / x.len() as f64).sqrt()
}

/// Pooled within-group variance: Σ_g Σ_i (x_gi − x̄_g)² / Σ_g (n_g − 1), with its degrees of
/// freedom. Groups below two values add nothing; `None` when no group has two.
pub fn pooled_variance<'a>(groups: impl IntoIterator<Item = &'a [f64]>) -> Option<(f64, usize)> {
    let (mut ss, mut df) = (0.0, 0usize);
    for g in groups {
        if g.len() >= 2 {
            ss += variance(g) * (g.len() - 1) as f64;
            df += g.len() - 1;
        }
    }
    (df > 0).then(|| (ss / df as f64, df))
}

/// Spearman–Brown prophecy: the reliability of a measurement `factor` times as long as one of
/// reliability `rho` (`factor` 2 projects a split-half correlation to the full length).
pub fn spearman_brown(rho: f64, factor: f64) -> f64 {
    factor * rho / (1.0 + (factor - 1.0) * rho)
}

/// Percentile interval at confidence `level` (e.g. 0.95) from bootstrap replicates: their
/// `(1 − level)/2` and `(1 + level)/2` quantiles. NaN replicates are ignored.
pub fn percentile_interval(replicates: &[f64], level: f64) -> (f64, f64) {
    let tail = (1.0 - level) / 2.0;
    (quantile(replicates, tail), quantile(replicates, 1.0 - tail))
}

/// `b` bootstrap replicates of a statistic over `n` items: each replicate draws `n` indices
/// with replacement and passes them to `stat`.
pub fn bootstrap<R: rand::Rng>(
    n: usize,
    b: usize,
    rng: &mut R,
    mut stat: impl FnMut(&[usize]) -> f64,
) -> Vec<f64> {
    let mut idx = vec![0; n];
    (0..b)
        .map(|_| {
            for i in idx.iter_mut() {
                *i = rng.random_range(0..n);
            }
            stat(&idx)
        })
        .collect()
}

/// Split-half reliability of items measured repeatedly (e.g. cells, each with several seeds):
/// the Spearman correlation across items between the mean of each item's values at even
/// positions and the mean at odd positions. Items with fewer than two values are left out;
/// NaN below three items.
pub fn split_half_even_odd(items: &[&[f64]]) -> f64 {
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for v in items.iter().filter(|v| v.len() >= 2) {
        let even: Vec<f64> = v.iter().step_by(2).copied().collect();
        let odd: Vec<f64> = v.iter().skip(1).step_by(2).copied().collect();
        a.push(mean(&even));
        b.push(mean(&odd));
    }
    if a.len() < 3 {
        return f64::NAN;
    }
    spearman(&a, &b).unwrap_or(f64::NAN)
}

/// Split-half reliability averaged over `splits` random splits: each split shuffles every item's
/// values and compares the mean of the first ⌊n/2⌋ with the mean of the next ⌊n/2⌋ (equal halves;
/// an odd value out is left out), by Spearman across items. Items with fewer than two values are
/// left out; NaN below three items or when every split is degenerate.
pub fn split_half_random<R: rand::Rng>(items: &[&[f64]], splits: usize, rng: &mut R) -> f64 {
    random_halves(items, splits, rng, |a, b| {
        spearman(a, b).unwrap_or(f64::NAN)
    })
}

/// Split-half reliability within the top half, averaged over random splits: in each split, the
/// items whose half-A mean is at least the median of half A are kept and their half means
/// correlated (Spearman), and the same selecting on half B; the two are averaged.
///
/// Selecting on one half leaves the other half's noise independent of the selection, so pure
/// noise scores about 0. Selecting on the overall mean instead (the sum of the halves) makes the
/// halves negatively correlated within the selection — about −0.47 for pure noise — whatever
/// the signal.
pub fn split_half_random_top<R: rand::Rng>(items: &[&[f64]], splits: usize, rng: &mut R) -> f64 {
    let top = |a: &[f64], b: &[f64]| {
        let cut = median(a);
        let (x, y): (Vec<f64>, Vec<f64>) = a
            .iter()
            .zip(b)
            .filter(|(v, _)| **v >= cut)
            .map(|(v, w)| (*v, *w))
            .unzip();
        if x.len() < 3 {
            f64::NAN
        } else {
            spearman(&x, &y).unwrap_or(f64::NAN)
        }
    };
    random_halves(items, splits, rng, |a, b| (top(a, b) + top(b, a)) / 2.0)
}

/// Mean over `splits` random equal splits of `score(half A means, half B means)`, NaN scores
/// left out.
fn random_halves<R: rand::Rng>(
    items: &[&[f64]],
    splits: usize,
    rng: &mut R,
    mut score: impl FnMut(&[f64], &[f64]) -> f64,
) -> f64 {
    use rand::seq::SliceRandom;
    let items: Vec<&[f64]> = items.iter().copied().filter(|v| v.len() >= 2).collect();
    if items.len() < 3 {
        return f64::NAN;
    }
    let mut scores = Vec::with_capacity(splits);
    let (mut a, mut b) = (vec![0.0; items.len()], vec![0.0; items.len()]);
    let mut w = Vec::new();
    for _ in 0..splits {
        for (i, v) in items.iter().enumerate() {
            w.clear();
            w.extend_from_slice(v);
            w.shuffle(rng);
            let h = w.len() / 2;
            a[i] = mean(&w[..h]);
            b[i] = mean(&w[h..2 * h]);
        }
        let s = score(&a, &b);
        if !s.is_nan() {
            scores.push(s);
        }
    }
    if scores.is_empty() {
        f64::NAN
    } else {
        mean(&scores)
    }
}

/// An additive two-way fit `y[r, c] ≈ row[r] + col[c]` of an incomplete matrix.
#[derive(Clone, Debug)]
pub struct AdditiveFit {
    /// Row effects (they carry the grand mean).
    pub row: Vec<f64>,
    /// Column effects, centred to mean 0 over columns with entries.
    pub col: Vec<f64>,
    /// `y − row − col`, in the order of the entries.
    pub residuals: Vec<f64>,
    /// Alternating least-squares sweeps used.
    pub sweeps: usize,
}

/// Least-squares additive fit of the observed `(row, col, y)` entries of a `rows × cols` matrix,
/// by alternating least squares (exact after one sweep for a complete matrix). Rows or columns
/// without entries get effect 0. For a disconnected pattern of entries the split of effects
/// between components is arbitrary; the residuals are not.
pub fn additive_fit(entries: &[(usize, usize, f64)], rows: usize, cols: usize) -> AdditiveFit {
    let mut row = vec![0.0; rows];
    let mut col = vec![0.0; cols];
    let (mut rn, mut cn) = (vec![0usize; rows], vec![0usize; cols]);
    for &(r, c, _) in entries {
        rn[r] += 1;
        cn[c] += 1;
    }
    let mut sweeps = 0;
    for sweep in 1..=2000 {
        sweeps = sweep;
        let mut sum = vec![0.0; cols];
        for &(r, c, y) in entries {
            sum[c] += y - row[r];
        }
        for c in 0..cols {
            col[c] = if cn[c] > 0 {
                sum[c] / cn[c] as f64
            } else {
                0.0
            };
        }
        let used = cn.iter().filter(|&&n| n > 0).count().max(1);
        let centre = col
            .iter()
            .zip(&cn)
            .filter(|(_, &n)| n > 0)
            .map(|(v, _)| v)
            .sum::<f64>()
            / used as f64;
        for (v, &n) in col.iter_mut().zip(&cn) {
            if n > 0 {
                *v -= centre;
            }
        }
        let mut sum = vec![0.0; rows];
        for &(r, c, y) in entries {
            sum[r] += y - col[c];
        }
        let mut change: f64 = 0.0;
        for r in 0..rows {
            let new = if rn[r] > 0 {
                sum[r] / rn[r] as f64
            } else {
                0.0
            };
            change = change.max((new - row[r]).abs());
            row[r] = new;
        }
        if change < 1e-12 {
            break;
        }
    }
    let residuals = entries
        .iter()
        .map(|&(r, c, y)| y - row[r] - col[c])
        .collect();
    AdditiveFit {
        row,
        col,
        residuals,
        sweeps,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spearman_of_monotone_data_is_one() {
        let x = [1.0, 2.0, 3.0, 4.0];
        assert!((spearman(&x, &[10.0, 20.0, 25.0, 100.0]).unwrap() - 1.0).abs() < 1e-12);
        assert!((spearman(&x, &[4.0, 3.0, 2.0, 1.0]).unwrap() + 1.0).abs() < 1e-12);
    }

    #[test]
    fn ties_share_a_rank() {
        assert_eq!(ranks(&[3.0, 1.0, 3.0]), vec![2.5, 1.0, 2.5]);
        assert_eq!(ranks(&[3.0, 1.0, 3.0, 2.0]), vec![3.5, 1.0, 3.5, 2.0]);
        assert_eq!(ranks(&[0.0, -0.0, 1.0]), vec![1.5, 1.5, 3.0]);
        assert_eq!(ranks(&[]), Vec::<f64>::new());
    }

    #[test]
    fn nan_ranks_lowest_whatever_its_sign() {
        let negative_nan = -f64::NAN;
        assert!(negative_nan.is_sign_negative());
        assert_eq!(
            ranks(&[2.0, f64::NAN, f64::NEG_INFINITY, negative_nan]),
            vec![4.0, 1.5, 3.0, 1.5]
        );
    }

    #[test]
    fn correlations_of_known_data() {
        let a = [1.0, 2.0, 3.0, 4.0, 5.0];
        let b = [2.0, 1.0, 4.0, 3.0, 5.0];
        assert!((pearson(&a, &b).unwrap() - 0.8).abs() < 1e-12);
        assert!((spearman(&a, &b).unwrap() - 0.8).abs() < 1e-12);
        // 8 concordant, 2 discordant pairs.
        assert!((kendall_tau(&a, &b).unwrap() - 0.6).abs() < 1e-12);
        // τ-b with ties on both sides: pairs (0,1) tie in x, (2,3) tie in y, the other 4 are
        // concordant: 4 / √((4 + 1) · (4 + 1)) = 0.8.
        let tau = kendall_tau(&[1.0, 1.0, 2.0, 3.0], &[1.0, 2.0, 3.0, 3.0]).unwrap();
        assert!((tau - 0.8).abs() < 1e-12, "{tau}");
        // infinities are ordinary ranks for the rank statistics; equal infinities tie
        let inf = f64::INFINITY;
        assert_eq!(spearman(&[1.0, inf, 2.0], &[1.0, 3.0, 2.0]), Some(1.0));
        assert_eq!(kendall_tau(&[inf, inf, 1.0], &[2.0, 2.0, 1.0]), Some(1.0));
        assert_eq!(pearson(&[1.0, inf, 2.0], &[1.0, 3.0, 2.0]), None);
    }

    #[test]
    fn undefined_correlations_are_none() {
        for f in [pearson, spearman, kendall_tau] {
            assert_eq!(f(&[1.0], &[1.0]), None, "one pair");
            assert_eq!(f(&[], &[]), None, "no pair");
            assert_eq!(f(&[1.0, 1.0], &[1.0, 2.0]), None, "constant x");
            assert_eq!(f(&[1.0, 2.0], &[3.0, 3.0]), None, "constant y");
            assert_eq!(f(&[1.0, 2.0], &[1.0]), None, "lengths differ");
            assert_eq!(f(&[f64::NAN, 1.0, 2.0], &[1.0, 2.0, 3.0]), None, "NaN in x");
            assert_eq!(
                f(&[1.0, 2.0, 3.0], &[1.0, -f64::NAN, 3.0]),
                None,
                "NaN in y"
            );
        }
    }

    #[test]
    fn split_half_of_constant_halves_is_nan() {
        // every item's halves agree but the half means are constant across items: ρ undefined
        let flat: [&[f64]; 3] = [&[1.0, 1.0], &[1.0, 1.0], &[1.0, 1.0]];
        assert!(split_half_even_odd(&flat).is_nan());
    }

    #[test]
    fn quantiles_interpolate_like_numpy() {
        let x = [4.0, 1.0, 3.0, 2.0];
        assert_eq!(quantile(&x, 0.5), 2.5);
        assert_eq!(quantile(&x, 0.25), 1.75);
        assert_eq!(quantile(&x, 1.0), 4.0);
        assert_eq!(median(&[5.0, f64::NAN, 1.0, 3.0]), 3.0);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn standard_error_of_one_to_four() {
        // sd = sqrt(5/3), n = 4
        let se = standard_error(&[1.0, 2.0, 3.0, 4.0]);
        assert!((se - (5.0f64 / 3.0).sqrt() / 2.0).abs() < 1e-12);
        assert_eq!(standard_error(&[7.0]), 0.0);
    }

    #[test]
    fn pooled_variance_weights_by_degrees_of_freedom() {
        let groups: [&[f64]; 3] = [&[1.0, 3.0], &[2.0, 6.0], &[9.0]];
        assert_eq!(pooled_variance(groups), Some((5.0, 2)));
        let groups: [&[f64]; 2] = [&[0.0, 0.0, 6.0], &[1.0, 3.0]];
        // SS = 24 + 2 over df = 2 + 1
        let (v, df) = pooled_variance(groups).unwrap();
        assert_eq!(df, 3);
        assert!((v - 26.0 / 3.0).abs() < 1e-12);
        let single: [&[f64]; 1] = [&[1.0]];
        assert_eq!(pooled_variance(single), None);
    }

    #[test]
    fn spearman_brown_known_values() {
        assert!((spearman_brown(0.5, 2.0) - 2.0 / 3.0).abs() < 1e-12);
        assert!((spearman_brown(0.6, 2.0) - 0.75).abs() < 1e-12);
        assert!((spearman_brown(0.5, 1.0) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn percentile_interval_of_zero_to_hundred() {
        let x: Vec<f64> = (0..=100).map(f64::from).collect();
        let close = |a: (f64, f64), b: (f64, f64)| (a.0 - b.0).abs() + (a.1 - b.1).abs() < 1e-9;
        assert!(close(percentile_interval(&x, 0.9), (5.0, 95.0)));
        assert!(close(percentile_interval(&x, 0.95), (2.5, 97.5)));
    }

    #[test]
    fn bootstrap_of_a_mean_has_the_standard_error() {
        use rand::SeedableRng;
        let data: Vec<f64> = (0..50).map(|i| f64::from(i % 10)).collect();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let reps = bootstrap(data.len(), 4000, &mut rng, |idx| {
            mean(&idx.iter().map(|&i| data[i]).collect::<Vec<_>>())
        });
        assert_eq!(reps.len(), 4000);
        // the bootstrap SE of a mean is the plug-in sd / √n = √(8.25 / 50) ≈ 0.406
        let se = variance(&reps).sqrt();
        assert!((se - (8.25f64 / 50.0).sqrt()).abs() < 0.03, "{se}");
        let constant = bootstrap(5, 10, &mut rng, |_| 1.5);
        assert_eq!(percentile_interval(&constant, 0.95), (1.5, 1.5));
    }

    #[test]
    fn split_half_of_consistent_and_reversed_items() {
        let same: [&[f64]; 3] = [&[1.0, 1.1], &[2.0, 2.1], &[3.0, 2.9]];
        assert!((split_half_even_odd(&same) - 1.0).abs() < 1e-12);
        let reversed: [&[f64]; 3] = [&[1.0, 3.0], &[2.0, 2.0], &[3.0, 1.0]];
        assert!((split_half_even_odd(&reversed) + 1.0).abs() < 1e-12);
        // odd positions: means of [1, 3] vs [2]: item 0 → (2, 2), item 1 → (5, 5), item 2 → (8, 8)
        let three: [&[f64]; 3] = [&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0], &[7.0, 8.0, 9.0]];
        assert!((split_half_even_odd(&three) - 1.0).abs() < 1e-12);
        let too_few: [&[f64]; 2] = [&[1.0, 2.0], &[3.0, 4.0]];
        assert!(split_half_even_odd(&too_few).is_nan());
    }

    #[test]
    fn random_splits_of_noise_free_items_agree() {
        use rand::SeedableRng;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let items: [&[f64]; 4] = [&[1.0; 4], &[2.0; 4], &[3.0; 4], &[4.0; 3]];
        assert!((split_half_random(&items, 50, &mut rng) - 1.0).abs() < 1e-12);
        // each item's values are {−k, +k}: every split gives halves (a, −a), so ρ = −1
        let pm: Vec<Vec<f64>> = (1..=30)
            .map(|k| vec![-f64::from(k), f64::from(k)])
            .collect();
        let pm: Vec<&[f64]> = pm.iter().map(Vec::as_slice).collect();
        assert!((split_half_random(&pm, 20, &mut rng) + 1.0).abs() < 1e-12);
    }

    #[test]
    fn top_half_split_half_of_pure_noise_is_near_zero() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let items: Vec<Vec<f64>> = (0..400)
            .map(|_| (0..2).map(|_| rng.random::<f64>()).collect())
            .collect();
        let items: Vec<&[f64]> = items.iter().map(Vec::as_slice).collect();
        assert!(split_half_random_top(&items, 50, &mut rng).abs() < 0.1);
        // noise-free items rank the same in both halves, selected or not
        let same: Vec<Vec<f64>> = (0..10).map(|k| vec![f64::from(k); 2]).collect();
        let same: Vec<&[f64]> = same.iter().map(Vec::as_slice).collect();
        assert!((split_half_random_top(&same, 5, &mut rng) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn additive_fit_recovers_an_incomplete_additive_matrix() {
        let (rows, cols) = (4, 5);
        let mut entries = Vec::new();
        for r in 0..rows {
            for c in 0..cols {
                if (r + c) % 3 != 0 || (r == 0 && c == 0) {
                    entries.push((r, c, 10.0 * r as f64 + (c * c) as f64));
                }
            }
        }
        let fit = additive_fit(&entries, rows, cols);
        assert!(fit.residuals.iter().all(|e| e.abs() < 1e-9), "{fit:?}");
        assert!((fit.row[2] - fit.row[1] - 10.0).abs() < 1e-9);
        assert!((fit.col[4] - fit.col[1] - 15.0).abs() < 1e-9);
        assert!(fit.col.iter().sum::<f64>().abs() < 1e-9);
        // a pure interaction leaves everything in the residuals
        let x = [(0, 0, 1.0), (0, 1, -1.0), (1, 0, -1.0), (1, 1, 1.0)];
        let fit = additive_fit(&x, 2, 2);
        assert!(fit.residuals.iter().all(|e| (e.abs() - 1.0).abs() < 1e-12));
    }
}
