//! Zoo retrieval at scale: one query against 100,000 synthetic entries of dimension 128
//! (TANS's latent size), k = 10, under constraints that keep about half the entries
//! (`max_params` keeps ~71%, `max_flops` ~71% of those), with and without a re-scoring closure,
//! and unconstrained for comparison.
//!
//! `cargo bench -p model-zoo --bench retrieval` (`-- --test` runs each case once).
//!
//! CPU only: retrieval is plain Rust (no Burn), so `$METANAS_DEVICE` is not read.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use model_zoo::zoo::{Constraints, Hit, Retrieval};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use search_space::Cost;

const ENTRIES: usize = 100_000;
const DIM: usize = 128;
const K: usize = 10;

/// L2-normalised Gaussian-ish embeddings (sum of uniforms) and costs uniform over the zoo's
/// range (0.02–0.1 M parameters, 1–10 M multiply-adds).
fn synthetic(entries: usize, seed: u64) -> (Vec<f32>, Vec<Cost>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut embeddings = Vec::with_capacity(entries * DIM);
    for _ in 0..entries {
        let row: Vec<f32> = (0..DIM)
            .map(|_| (0..4).map(|_| rng.random::<f32>() - 0.5).sum())
            .collect();
        let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt();
        embeddings.extend(row.iter().map(|v| v / norm));
    }
    let costs = (0..entries)
        .map(|_| Cost {
            params: rng.random_range(0.02..0.1),
            flops: rng.random_range(1.0..10.0),
        })
        .collect();
    (embeddings, costs)
}

fn bench(c: &mut Criterion) {
    let (embeddings, costs) = synthetic(ENTRIES, 15);
    let retrieval = Retrieval::new(embeddings, DIM, costs).expect("valid synthetic zoo");
    let (query, _) = synthetic(1, 16);
    // 0.077 M keeps (0.077 − 0.02) / 0.08 ≈ 71% by parameters, 7.4 M ≈ 71% by multiply-adds:
    // about half the zoo meets both.
    let half = Constraints {
        max_params: Some(0.077),
        max_flops: Some(7.4),
    };
    let eligible = retrieval.costs().iter().filter(|c| half.admits(c)).count();
    eprintln!(
        "retrieval bench: {ENTRIES} entries, d = {DIM}, k = {K}; the constraints keep {eligible} ({:.1}%)",
        100.0 * eligible as f64 / ENTRIES as f64
    );

    let mut group = c.benchmark_group("zoo_retrieval");
    group.bench_function("top10_of_100k_d128_half_eligible", |b| {
        b.iter(|| {
            retrieval
                .top_k(black_box(&query), &half, K)
                .expect("valid query")
        })
    });
    group.bench_function("top10_of_100k_d128_half_eligible_rescored", |b| {
        // A stand-in predictor (the similarity itself, shifted by the entry): the hook's cost
        // is k calls.
        let mut predictor = |h: &Hit| f64::from(h.similarity) + (h.entry % 7) as f64 * 1e-3;
        b.iter(|| {
            retrieval
                .retrieve(black_box(&query), &half, K, &mut predictor)
                .expect("valid query")
        })
    });
    group.bench_function("top10_of_100k_d128_unconstrained", |b| {
        b.iter(|| {
            retrieval
                .top_k(black_box(&query), &Constraints::default(), K)
                .expect("valid query")
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
