//! How well a score ranks architectures: correlations and top-k quality.
//!
//! Every function takes parallel slices (`pred[i]` is the score of the item whose true value is
//! `truth[i]`) and returns `None` where the metric is undefined (fewer than two items, a
//! constant input, mismatched lengths, a NaN), never a panic.
//!
//! The correlations and [`ranks`] are the workspace's one implementation, in
//! [`model_zoo::stats`] (which documents the NaN and tie contract), re-exported here; this module
//! adds the top-k metrics.

pub use model_zoo::stats::{kendall_tau, pearson, ranks, spearman};

/// Indices of the `k` highest scores, best first (ties broken by index).
pub fn top_k(scores: &[f64], k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    idx.truncate(k);
    idx
}

/// Fraction of the predicted top-`k` that is in the true top-`k`.
pub fn precision_at_k(pred: &[f64], truth: &[f64], k: usize) -> Option<f64> {
    if !comparable_allow_constant(pred, truth) || k == 0 {
        return None;
    }
    let k = k.min(pred.len());
    let best: std::collections::HashSet<usize> = top_k(truth, k).into_iter().collect();
    let hits = top_k(pred, k).iter().filter(|i| best.contains(i)).count();
    Some(hits as f64 / k as f64)
}

/// Regret of the predicted top-`k`: the best true value overall minus the best true value among
/// the `k` items with the highest predictions (0 when the best item is in the top-k).
pub fn regret_at_k(pred: &[f64], truth: &[f64], k: usize) -> Option<f64> {
    if !comparable_allow_constant(pred, truth) || k == 0 {
        return None;
    }
    let best = truth.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let picked = top_k(pred, k)
        .into_iter()
        .map(|i| truth[i])
        .fold(f64::NEG_INFINITY, f64::max);
    Some(best - picked)
}

/// At least one pair, equal lengths, no NaN (a constant side is fine for top-k).
fn comparable_allow_constant(pred: &[f64], truth: &[f64]) -> bool {
    !pred.is_empty() && pred.len() == truth.len() && pred.iter().chain(truth).all(|v| !v.is_nan())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_values() {
        let a = [1.0, 2.0, 3.0, 4.0, 5.0];
        let b = [2.0, 1.0, 4.0, 3.0, 5.0];
        assert!((pearson(&a, &b).unwrap() - 0.8).abs() < 1e-12);
        assert!((spearman(&a, &b).unwrap() - 0.8).abs() < 1e-12);
        // 8 concordant, 2 discordant pairs.
        assert!((kendall_tau(&a, &b).unwrap() - 0.6).abs() < 1e-12);
        assert_eq!(ranks(&[3.0, 1.0, 3.0, 2.0]), vec![3.5, 1.0, 3.5, 2.0]);
        assert_eq!(precision_at_k(&a, &b, 2), Some(0.5));
        assert_eq!(regret_at_k(&a, &b, 1), Some(0.0));
        assert_eq!(regret_at_k(&b, &a, 1), Some(0.0));
        assert_eq!(regret_at_k(&[5.0, 1.0], &[0.2, 0.9], 1), Some(0.9 - 0.2));
    }

    #[test]
    fn undefined_cases_are_none() {
        assert_eq!(pearson(&[1.0], &[1.0]), None);
        assert_eq!(pearson(&[1.0, 1.0], &[1.0, 2.0]), None);
        assert_eq!(spearman(&[1.0, 2.0], &[1.0]), None);
        assert_eq!(kendall_tau(&[f64::NAN, 1.0], &[1.0, 2.0]), None);
        assert_eq!(precision_at_k(&[1.0], &[1.0], 0), None);
    }

    proptest! {
        #[test]
        fn bounded_and_self_perfect(v in proptest::collection::vec(-1e3f64..1e3, 2..40)) {
            let distinct = v.iter().any(|&x| x != v[0]);
            if distinct {
                prop_assert!((pearson(&v, &v).unwrap() - 1.0).abs() < 1e-9);
                prop_assert!((spearman(&v, &v).unwrap() - 1.0).abs() < 1e-9);
                prop_assert!((kendall_tau(&v, &v).unwrap() - 1.0).abs() < 1e-9);
                let neg: Vec<f64> = v.iter().map(|x| -x).collect();
                prop_assert!((spearman(&v, &neg).unwrap() + 1.0).abs() < 1e-9);
            }
            let w: Vec<f64> = v.iter().rev().copied().collect();
            for m in [pearson(&v, &w), spearman(&v, &w), kendall_tau(&v, &w)].into_iter().flatten() {
                prop_assert!((-1.0..=1.0).contains(&m));
            }
            for k in 1..v.len() {
                prop_assert_eq!(regret_at_k(&v, &v, k), Some(0.0));
                prop_assert!(regret_at_k(&w, &v, k).unwrap() >= 0.0);
                let p = precision_at_k(&w, &v, k).unwrap();
                prop_assert!((0.0..=1.0).contains(&p));
            }
        }

        #[test]
        fn rank_metrics_ignore_monotone_maps(v in proptest::collection::vec(-10f64..10.0, 2..30),
                                             t in proptest::collection::vec(-10f64..10.0, 30)) {
            let t = &t[..v.len()];
            let mapped: Vec<f64> = v.iter().map(|x| x.exp() * 3.0 + 1.0).collect();
            prop_assert_eq!(spearman(&v, t), spearman(&mapped, t));
            prop_assert_eq!(kendall_tau(&v, t), kendall_tau(&mapped, t));
        }

        /// The rank-statistics contract of `model_zoo::stats` on data with many ties (small
        /// integers): ranks are a tie-averaged permutation of 1..=n; a strictly increasing map
        /// of either side leaves Spearman and Kendall unchanged (exactly: only ranks matter);
        /// the statistics are symmetric; a decreasing map flips their sign; constant sides are
        /// `None`.
        #[test]
        fn rank_statistics_contract_with_ties(
            pairs in proptest::collection::vec((-4i32..4, -4i32..4), 2..40),
        ) {
            let x: Vec<f64> = pairs.iter().map(|p| f64::from(p.0)).collect();
            let y: Vec<f64> = pairs.iter().map(|p| f64::from(p.1)).collect();
            let n = x.len();
            let r = ranks(&x);
            prop_assert_eq!(r.iter().sum::<f64>(), (n * (n + 1)) as f64 / 2.0);
            for i in 0..n {
                for j in 0..n {
                    prop_assert_eq!(x[i] < x[j], r[i] < r[j]);
                    prop_assert_eq!(x[i] == x[j], r[i] == r[j]);
                }
            }
            let up = |v: &[f64]| v.iter().map(|a| a * a * a + 2.0 * a).collect::<Vec<f64>>();
            let down = |v: &[f64]| v.iter().map(|a| (-a / 3.0).exp()).collect::<Vec<f64>>();
            for f in [spearman, kendall_tau] {
                let rho = f(&x, &y);
                prop_assert_eq!(rho, f(&up(&x), &y));
                prop_assert_eq!(rho, f(&x, &up(&y)));
                prop_assert_eq!(rho, f(&y, &x));
                let flipped = f(&down(&x), &y);
                prop_assert_eq!(rho.is_some(), flipped.is_some());
                if let (Some(a), Some(b)) = (rho, flipped) {
                    prop_assert!((a + b).abs() < 1e-12, "{} vs {}", a, b);
                    prop_assert!((-1.0..=1.0).contains(&a));
                }
                let constant = x.iter().all(|&v| v == x[0]) || y.iter().all(|&v| v == y[0]);
                prop_assert_eq!(rho.is_none(), constant);
            }
            let distinct = x.iter().any(|&v| v != x[0]);
            for f in [pearson, spearman, kendall_tau] {
                prop_assert_eq!(f(&x, &x).map(|r| (r - 1.0).abs() < 1e-12), distinct.then_some(true));
            }
        }

        /// A NaN anywhere makes every correlation `None` (never NaN, never a number), and ranks
        /// put NaN lowest, tied, whatever the NaN's sign.
        #[test]
        fn nan_contract(
            v in proptest::collection::vec(-1e3f64..1e3, 2..30),
            t in proptest::collection::vec(-1e3f64..1e3, 30),
            at in 0usize..30,
            negative in any::<bool>(),
        ) {
            let t = &t[..v.len()];
            let nan = if negative { -f64::NAN } else { f64::NAN };
            let mut with_nan = v.clone();
            with_nan[at % v.len()] = nan;
            for f in [pearson, spearman, kendall_tau] {
                prop_assert_eq!(f(&with_nan, t), None);
                prop_assert_eq!(f(t, &with_nan), None);
            }
            let mut two_nans = with_nan.clone();
            two_nans.push(-nan);
            let r = ranks(&two_nans);
            let (i, j) = (at % v.len(), two_nans.len() - 1);
            prop_assert_eq!(r[i], 1.5);
            prop_assert_eq!(r[j], 1.5);
            prop_assert!(r.iter().enumerate().all(|(k, &rank)| k == i || k == j || rank > 2.0));
        }
    }
}
