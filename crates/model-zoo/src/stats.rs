//! Signal and noise of a protocol, measured from stored runs.
//!
//! For one task: each architecture's recorded accuracy is the mean over its seeds. The *signal* is
//! the standard deviation of those means across architectures; the *noise* of a recorded value is
//! the seed standard deviation divided by √seeds (pooled over architectures). SNR = signal / noise.
//! With `r` = (true spread across archs) / (one seed's std), a record averaging `k` seeds has
//! SNR ≈ √(k·r² + 1), so `k = (SNR² − 1) / r²` seeds reach a target SNR.

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

/// Ranks with ties averaged (1-based).
pub fn ranks(x: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..x.len()).collect();
    order.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let mut out = vec![0.0; x.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && x[order[j + 1]] == x[order[i]] {
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

/// Pearson correlation (NaN when either side is constant).
pub fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let (mx, my) = (mean(x), mean(y));
    let cov: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let vx: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
    let vy: f64 = y.iter().map(|b| (b - my).powi(2)).sum();
    cov / (vx * vy).sqrt()
}

/// Spearman rank correlation.
pub fn spearman(x: &[f64], y: &[f64]) -> f64 {
    pearson(&ranks(x), &ranks(y))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spearman_of_monotone_data_is_one() {
        let x = [1.0, 2.0, 3.0, 4.0];
        assert!((spearman(&x, &[10.0, 20.0, 25.0, 100.0]) - 1.0).abs() < 1e-12);
        assert!((spearman(&x, &[4.0, 3.0, 2.0, 1.0]) + 1.0).abs() < 1e-12);
    }

    #[test]
    fn ties_share_a_rank() {
        assert_eq!(ranks(&[3.0, 1.0, 3.0]), vec![2.5, 1.0, 2.5]);
    }
}
