//! Two builds of the same runs, side by side: how far apart are they, measured against the
//! seed-to-seed noise of one build?
//!
//! A database is reproducible bit for bit only on the backend and kernels that built it. A run
//! rebuilt elsewhere (another backend, a new convolution kernel, another BLAS) starts from the
//! same seed but sums in another order, and training amplifies those last-bit differences. The
//! question a user needs answered is whether the two builds are *interchangeable*: is the
//! difference between build A and build B of the same (task, cell, seed) no larger than the
//! difference between two seeds of one build? [`compare`] joins two stores on the run key
//! ([`crate::database::RunKey`]: task, cell, protocol, seed) and answers per plan group:
//!
//! - the mean paired difference B − A of test accuracy, with its standard error (a build that
//!   is systematically better or worse shows here);
//! - the standard deviation of the paired differences, next to `√2 · σ_seed` of build A (what
//!   two independent seeds of one build differ by): a ratio near 1 means "B is a fresh seed of
//!   A", near 0 means "B is A";
//! - Spearman between A and B over the matched runs, next to Spearman between seed `s` and
//!   seed `s + 1` of A over the same cells.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::Serialize;

use crate::database::{RunKey, RunRecord};
use crate::stats::{mean, spearman, standard_error, variance};
use crate::RunStatus;

/// One plan group's comparison of two builds.
#[derive(Clone, Debug, Serialize)]
pub struct GroupComparison {
    /// The plan group.
    pub group: String,
    /// Runs present and successful in both builds.
    pub matched: usize,
    /// Runs present in A only, B only.
    pub only: (usize, usize),
    /// Runs whose test accuracy is bit-identical in both builds.
    pub identical: usize,
    /// Mean of B − A (test accuracy).
    pub mean_diff: f64,
    /// Standard error of `mean_diff`.
    pub mean_diff_se: f64,
    /// Standard deviation of B − A.
    pub sd_diff: f64,
    /// `√2 · σ_seed` of build A: the standard deviation of the difference between two seeds of
    /// one (task, cell), pooled over A's cells with at least two seeds (NaN without any).
    pub sd_seed_pair: f64,
    /// Spearman between A and B over the matched runs (NaN below three, or when either side is
    /// constant).
    pub spearman_ab: f64,
    /// Spearman between consecutive seeds of A over the same (task, cell) (NaN without any).
    pub spearman_seeds: f64,
}

impl GroupComparison {
    /// `sd_diff / sd_seed_pair`: ≈ 1 when B behaves as another seed of A, ≈ 0 when B is A.
    pub fn noise_ratio(&self) -> f64 {
        self.sd_diff / self.sd_seed_pair
    }
}

/// The comparison of two builds, group by group.
#[derive(Clone, Debug, Serialize)]
pub struct Comparison {
    /// One row per plan group present in either build, in name order.
    pub groups: Vec<GroupComparison>,
}

fn accuracy(record: &RunRecord) -> Option<f64> {
    match record.result.status {
        RunStatus::Ok => record.result.test_accuracy,
        _ => None,
    }
}

/// (task, cell) without the seed: the unit whose seeds are compared.
fn cell_key(record: &RunRecord) -> String {
    serde_json::to_string(&(&record.task, &record.arch, &record.protocol))
        .expect("task, arch and protocol serialise")
}

/// Compares build `b` against build `a` (see the module docs). Failed runs and records
/// without a test accuracy are left out of both sides.
pub fn compare(a: &[RunRecord], b: &[RunRecord]) -> Comparison {
    let index = |records: &[RunRecord]| -> HashMap<RunKey, (String, f64)> {
        records
            .iter()
            .filter_map(|r| Some((r.key(), (r.group.clone(), accuracy(r)?))))
            .collect()
    };
    let (ia, ib) = (index(a), index(b));
    #[derive(Default)]
    struct Acc {
        pairs: Vec<(f64, f64)>,
        only_a: usize,
        only_b: usize,
    }
    let mut groups: BTreeMap<String, Acc> = BTreeMap::new();
    for (key, (group, x)) in &ia {
        let acc = groups.entry(group.clone()).or_default();
        match ib.get(key) {
            Some((_, y)) => acc.pairs.push((*x, *y)),
            None => acc.only_a += 1,
        }
    }
    for (key, (group, _)) in &ib {
        if !ia.contains_key(key) {
            groups.entry(group.clone()).or_default().only_b += 1;
        }
    }
    // Seed structure of A: per group, per (task, cell), accuracies by seed.
    let mut seeds: BTreeMap<String, BTreeMap<String, BTreeMap<u64, f64>>> = BTreeMap::new();
    for r in a {
        if let Some(x) = accuracy(r) {
            seeds
                .entry(r.group.clone())
                .or_default()
                .entry(cell_key(r))
                .or_default()
                .insert(r.seed, x);
        }
    }
    let rows = groups
        .into_iter()
        .map(|(group, mut acc)| {
            // HashMap order is arbitrary: sort so that every statistic is deterministic.
            acc.pairs
                .sort_by(|p, q| p.partial_cmp(q).expect("finite accuracies"));
            let diffs: Vec<f64> = acc.pairs.iter().map(|(x, y)| y - x).collect();
            let (xs, ys): (Vec<f64>, Vec<f64>) = acc.pairs.iter().copied().unzip();
            let cells = seeds.get(&group);
            let (mut within, mut dof) = (0.0, 0usize);
            let (mut s0, mut s1) = (Vec::new(), Vec::new());
            for by_seed in cells.into_iter().flat_map(|c| c.values()) {
                let v: Vec<f64> = by_seed.values().copied().collect();
                if v.len() >= 2 {
                    within += variance(&v) * (v.len() - 1) as f64;
                    dof += v.len() - 1;
                    s0.push(v[0]);
                    s1.push(v[1]);
                }
            }
            let sigma2 = if dof > 0 {
                within / dof as f64
            } else {
                f64::NAN
            };
            GroupComparison {
                group,
                matched: acc.pairs.len(),
                only: (acc.only_a, acc.only_b),
                identical: acc.pairs.iter().filter(|(x, y)| x == y).count(),
                // Statistics of fewer than two pairs are undefined, not 0.
                mean_diff: if diffs.is_empty() {
                    f64::NAN
                } else {
                    mean(&diffs)
                },
                mean_diff_se: if diffs.len() >= 2 {
                    standard_error(&diffs)
                } else {
                    f64::NAN
                },
                sd_diff: if diffs.len() >= 2 {
                    variance(&diffs).sqrt()
                } else {
                    f64::NAN
                },
                sd_seed_pair: (2.0 * sigma2).sqrt(),
                spearman_ab: if xs.len() >= 3 {
                    spearman(&xs, &ys).unwrap_or(f64::NAN)
                } else {
                    f64::NAN
                },
                spearman_seeds: if s0.len() >= 3 {
                    spearman(&s0, &s1).unwrap_or(f64::NAN)
                } else {
                    f64::NAN
                },
            }
        })
        .collect();
    Comparison { groups: rows }
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "| group | matched | only A / only B | identical | mean B − A (pp) ± SE | SD(B − A) (pp) \
             | √2·σ_seed of A (pp) | ratio | Spearman A–B | Spearman seed–seed of A |"
        )?;
        writeln!(f, "|---|---|---|---|---|---|---|---|---|---|")?;
        for g in &self.groups {
            writeln!(
                f,
                "| {} | {} | {} / {} | {} | {:+.2} ± {:.2} | {:.2} | {:.2} | {:.2} | {:.3} | {:.3} |",
                g.group,
                g.matched,
                g.only.0,
                g.only.1,
                g.identical,
                100.0 * g.mean_diff,
                100.0 * g.mean_diff_se,
                100.0 * g.sd_diff,
                100.0 * g.sd_seed_pair,
                g.noise_ratio(),
                g.spearman_ab,
                g.spearman_seeds,
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use datasets::{SourceSpec, TaskSpec};
    use search_space::Nb201Arch;

    use super::*;

    fn record(group: &str, cell: usize, seed: u64, acc: f64) -> RunRecord {
        let task = TaskSpec::new(SourceSpec::Digits, vec![0, 1, 2], 10, 10, 8, 7);
        let arch = Nb201Arch::from_index(cell).expect("valid index");
        crate::analysis::tests::record(group, &task, arch, seed, acc)
    }

    fn build(shift: f64) -> Vec<RunRecord> {
        (0..10)
            .flat_map(|c| {
                (0..2).map(move |s| {
                    record("g", c, s, shift + 0.5 + 0.01 * c as f64 + 0.003 * s as f64)
                })
            })
            .collect()
    }

    #[test]
    fn identical_builds_have_zero_difference() {
        let a = build(0.0);
        let cmp = compare(&a, &a);
        let g = &cmp.groups[0];
        assert_eq!((g.matched, g.identical, g.only), (20, 20, (0, 0)));
        assert_eq!(g.sd_diff, 0.0);
        assert!((g.spearman_ab - 1.0).abs() < 1e-12);
        assert!(g.sd_seed_pair > 0.0);
    }

    #[test]
    fn a_shifted_build_shows_its_shift_and_unmatched_runs() {
        let a = build(0.0);
        let mut b = build(0.02);
        b.pop();
        b.push(record("h", 42, 0, 0.4));
        let cmp = compare(&a, &b);
        assert_eq!(cmp.groups.len(), 2);
        let g = &cmp.groups[0];
        assert_eq!((g.matched, g.identical, g.only), (19, 0, (1, 0)));
        assert!((g.mean_diff - 0.02).abs() < 1e-9, "{}", g.mean_diff);
        assert!(g.sd_diff < 1e-9);
        assert_eq!(cmp.groups[1].only, (0, 1));
        assert!(cmp.groups[1].mean_diff.is_nan() && cmp.groups[1].sd_diff.is_nan());
        assert!(format!("{cmp}").contains("| g | 19 | 1 / 0 | 0 | +2.00"));
    }
}
