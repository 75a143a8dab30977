//! Ranking many cells by a proxy: the whole job of a zero-cost search.

use burn::tensor::backend::AutodiffBackend;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use search_space::{Nb201Arch, NB201_SIZE};

use super::config::ProxyConfig;
use super::error::Result;
use super::minibatch::Minibatch;
use super::proxy::Proxy;
use super::score::score_arch;

/// A cell with its proxy scores.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ScoredArch {
    /// The cell.
    pub arch: Nb201Arch,
    /// One score per proxy asked for, in that order.
    pub scores: Vec<f64>,
}

/// `n` distinct NAS-Bench-201 cells drawn with `seed` (ChaCha8), or all 15,625 in index order
/// when `n ≥ 15,625`.
pub fn sample_archs(n: usize, seed: u64) -> Vec<Nb201Arch> {
    if n >= NB201_SIZE {
        return Nb201Arch::all().collect();
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rand::seq::index::sample(&mut rng, NB201_SIZE, n)
        .into_iter()
        .filter_map(Nb201Arch::from_index)
        .collect()
}

/// Scores every cell of `archs` with `proxies` on `batch` ([`score_arch`]) and returns them best
/// first by the first proxy (`−∞` last; ties keep their input order). `progress` is called
/// after each cell with (cells done, cells in all).
///
/// # Panics
/// If `proxies` is empty.
pub fn rank_archs<B: AutodiffBackend>(
    archs: &[Nb201Arch],
    proxies: &[Proxy],
    batch: &Minibatch<B>,
    config: &ProxyConfig,
    mut progress: impl FnMut(usize, usize),
) -> Result<Vec<ScoredArch>> {
    assert!(!proxies.is_empty(), "rank_archs: no proxy to rank by");
    let mut scored = Vec::with_capacity(archs.len());
    for (i, &arch) in archs.iter().enumerate() {
        let scores = score_arch(arch, proxies, batch, config)?;
        scored.push(ScoredArch { arch, scores });
        progress(i + 1, archs.len());
    }
    // Stable sort, descending by the first score; NaN cannot occur (errors instead).
    scored.sort_by(|a, b| b.scores[0].total_cmp(&a.scores[0]));
    Ok(scored)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampled_cells_are_distinct_and_seeded() {
        let a = sample_archs(50, 3);
        assert_eq!(a, sample_archs(50, 3));
        assert_ne!(a, sample_archs(50, 4));
        let mut idx: Vec<usize> = a.iter().map(Nb201Arch::index).collect();
        idx.sort_unstable();
        idx.dedup();
        assert_eq!(idx.len(), 50);
        assert_eq!(sample_archs(20_000, 0).len(), NB201_SIZE);
    }
}
