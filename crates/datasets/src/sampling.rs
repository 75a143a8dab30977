//! Seeded sampling: distinct indices, and whole families of task specs.

use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::error::{Error, Result};
use crate::source::SourceSpec;
use crate::task::TaskSpec;

/// Training images per class of the specs made by [`sample_task_specs`].
pub const DEFAULT_TRAIN_PER_CLASS: usize = 20;
/// Test images per class of the specs made by [`sample_task_specs`].
pub const DEFAULT_TEST_PER_CLASS: usize = 20;
/// Resolution of the specs made by [`sample_task_specs`].
pub const DEFAULT_RESOLUTION: usize = 32;

/// `k` distinct indices from `0..n` in random order (a partial Fisher–Yates shuffle that only
/// stores the displaced entries, so `n` may be large).
///
/// Written out rather than taken from `rand::seq` so that the result depends only on the
/// generator's output, which `ChaCha8Rng` guarantees across versions and platforms.
///
/// # Panics
/// If `k > n`.
pub fn sample_distinct(rng: &mut impl Rng, n: usize, k: usize) -> Vec<usize> {
    assert!(k <= n, "cannot draw {k} distinct values from {n}");
    let mut displaced = std::collections::HashMap::new();
    (0..k)
        .map(|i| {
            let j = i + (rng.next_u64() % (n - i) as u64) as usize;
            let at_j = *displaced.get(&j).unwrap_or(&j);
            let at_i = *displaced.get(&i).unwrap_or(&i);
            displaced.insert(j, at_i);
            at_j
        })
        .collect()
}

/// `count` task specs over `source`, each with `way` distinct classes out of
/// `0..num_classes_available` (ascending) and its own seed, all derived from `seed`.
///
/// Specs use [`DEFAULT_TRAIN_PER_CLASS`], [`DEFAULT_TEST_PER_CLASS`] and [`DEFAULT_RESOLUTION`];
/// change them with the `TaskSpec::with_*` methods.
///
/// ```
/// use datasets::{sample_task_specs, SourceSpec};
/// let specs = sample_task_specs(&SourceSpec::Digits, 10, 5, 3, 7).unwrap();
/// assert_eq!(specs.len(), 3);
/// assert!(specs.iter().all(|s| s.classes.len() == 5));
/// ```
pub fn sample_task_specs(
    source: &SourceSpec,
    num_classes_available: usize,
    way: usize,
    count: usize,
    seed: u64,
) -> Result<Vec<TaskSpec>> {
    let pool: Vec<usize> = (0..num_classes_available).collect();
    sample_task_specs_among(source, &pool, way, count, seed)
}

/// Like [`sample_task_specs`], drawing classes from `pool` only (e.g. the meta-training classes,
/// keeping the others for meta-testing).
pub fn sample_task_specs_among(
    source: &SourceSpec,
    pool: &[usize],
    way: usize,
    count: usize,
    seed: u64,
) -> Result<Vec<TaskSpec>> {
    if way < 2 {
        return Err(Error::TooFewClasses(way));
    }
    if way > pool.len() {
        return Err(Error::WayTooLarge {
            way,
            available: pool.len(),
        });
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Ok((0..count)
        .map(|_| {
            let mut classes: Vec<usize> = sample_distinct(&mut rng, pool.len(), way)
                .into_iter()
                .map(|i| pool[i])
                .collect();
            classes.sort_unstable();
            TaskSpec::new(
                source.clone(),
                classes,
                DEFAULT_TRAIN_PER_CLASS,
                DEFAULT_TEST_PER_CLASS,
                DEFAULT_RESOLUTION,
                rng.next_u64(),
            )
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn distinct_and_in_range(n in 1usize..200, k_frac in 0.0f64..=1.0, seed in any::<u64>()) {
            let k = (n as f64 * k_frac) as usize;
            let picks = sample_distinct(&mut ChaCha8Rng::seed_from_u64(seed), n, k);
            let mut sorted = picks.clone();
            sorted.sort_unstable();
            sorted.dedup();
            prop_assert_eq!(sorted.len(), k);
            prop_assert!(picks.iter().all(|&p| p < n));
        }
    }

    #[test]
    fn works_for_huge_ranges() {
        let picks = sample_distinct(&mut ChaCha8Rng::seed_from_u64(1), usize::MAX / 2, 5);
        assert_eq!(picks.len(), 5);
    }

    #[test]
    fn specs_are_deterministic_and_valid() {
        let a = sample_task_specs(&SourceSpec::Digits, 10, 5, 20, 3).unwrap();
        assert_eq!(
            a,
            sample_task_specs(&SourceSpec::Digits, 10, 5, 20, 3).unwrap()
        );
        assert_ne!(
            a,
            sample_task_specs(&SourceSpec::Digits, 10, 5, 20, 4).unwrap()
        );
        for spec in &a {
            assert!(spec.classes.windows(2).all(|w| w[0] < w[1]));
            assert!(spec.classes.iter().all(|&c| c < 10));
        }
        let seeds: std::collections::HashSet<u64> = a.iter().map(|s| s.seed).collect();
        assert_eq!(seeds.len(), a.len());
    }

    #[test]
    fn pools_restrict_classes() {
        let specs = sample_task_specs_among(&SourceSpec::Digits, &[1, 3, 5], 2, 10, 0).unwrap();
        assert!(specs
            .iter()
            .all(|s| s.classes.iter().all(|c| [1, 3, 5].contains(c))));
    }

    #[test]
    fn way_is_checked() {
        assert!(matches!(
            sample_task_specs(&SourceSpec::Digits, 10, 11, 1, 0),
            Err(Error::WayTooLarge { .. })
        ));
        assert!(matches!(
            sample_task_specs(&SourceSpec::Digits, 10, 1, 1, 0),
            Err(Error::TooFewClasses(1))
        ));
    }
}
