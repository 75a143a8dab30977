//! How well a score ranks architectures: correlations and top-k quality.
//!
//! Every function takes parallel slices (`pred[i]` is the score of the item whose true value is
//! `truth[i]`) and returns `None` where the metric is undefined (fewer than two items, a
//! constant input, mismatched lengths, a NaN), never a panic.

/// Pearson's linear correlation.
pub fn pearson(pred: &[f64], truth: &[f64]) -> Option<f64> {
    if !comparable(pred, truth) {
        return None;
    }
    let n = pred.len() as f64;
    let (mp, mt) = (pred.iter().sum::<f64>() / n, truth.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (&p, &t) in pred.iter().zip(truth) {
        sxy += (p - mp) * (t - mt);
        sxx += (p - mp) * (p - mp);
        syy += (t - mt) * (t - mt);
    }
    (sxx > 0.0 && syy > 0.0).then(|| (sxy / (sxx * syy).sqrt()).clamp(-1.0, 1.0))
}

/// Spearman's rank correlation (Pearson on ranks; tied values share their mean rank).
pub fn spearman(pred: &[f64], truth: &[f64]) -> Option<f64> {
    if !comparable(pred, truth) {
        return None;
    }
    pearson(&ranks(pred), &ranks(truth))
}

/// Kendall's τ-b (accounts for ties in either input).
pub fn kendall_tau(pred: &[f64], truth: &[f64]) -> Option<f64> {
    if !comparable(pred, truth) {
        return None;
    }
    let n = pred.len();
    let (mut concordant, mut discordant, mut ties_p, mut ties_t) = (0i64, 0i64, 0i64, 0i64);
    for i in 0..n {
        for j in i + 1..n {
            let dp = pred[i] - pred[j];
            let dt = truth[i] - truth[j];
            match (dp == 0.0, dt == 0.0) {
                (true, true) => {}
                (true, false) => ties_p += 1,
                (false, true) => ties_t += 1,
                (false, false) if (dp > 0.0) == (dt > 0.0) => concordant += 1,
                (false, false) => discordant += 1,
            }
        }
    }
    let (c, d) = (concordant as f64, discordant as f64);
    let denom = ((c + d + ties_p as f64) * (c + d + ties_t as f64)).sqrt();
    (denom > 0.0).then(|| (c - d) / denom)
}

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

/// Ranks from 1 (smallest) to n, ties sharing their mean rank.
pub fn ranks(values: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..values.len()).collect();
    idx.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut out = vec![0.0; values.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && values[idx[j + 1]] == values[idx[i]] {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            out[k] = rank;
        }
        i = j + 1;
    }
    out
}

fn comparable_allow_constant(pred: &[f64], truth: &[f64]) -> bool {
    !pred.is_empty() && pred.len() == truth.len() && pred.iter().chain(truth).all(|v| !v.is_nan())
}

fn comparable(pred: &[f64], truth: &[f64]) -> bool {
    pred.len() >= 2 && comparable_allow_constant(pred, truth)
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
    }
}
