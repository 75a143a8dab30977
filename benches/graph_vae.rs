//! Graph VAE speed on CPU (flex backend): decode 500 cells from one latent (sampled decoding,
//! batched over the 500 graphs), and encode all 15,625 NAS-Bench-201 cells.
//!
//! ```text
//! cargo bench -p metanas --bench graph_vae
//! ```
//! Untrained weights at MetaD2A's widths (hidden 56, latent 56): speed does not depend on what
//! the weights are. The encoder is timed at the generator's width (56, unidirectional) and at
//! the shipped predictor's (128, bidirectional).

use burn::backend::Flex;
use burn::tensor::Tensor;
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use graph_vae::{
    Decoding, GraphBatch, GraphDecoderConfig, GraphEncoderConfig, GraphSpace, Nb201Space,
    TypedGraph,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use search_space::Nb201Arch;

type B = Flex;

fn bench(c: &mut Criterion) {
    let device = Default::default();
    let decoder = GraphDecoderConfig::new().with_seed(1).init::<B>(&device);
    let z = Tensor::<B, 2>::ones([1, 56], &device).repeat_dim(0, 500);
    c.bench_function("decode 500 cells from one latent (sampled)", |b| {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        b.iter(|| {
            black_box(
                decoder
                    .decode(z.clone(), Decoding::Sample, &mut rng)
                    .unwrap(),
            )
        })
    });
    let graphs: Vec<TypedGraph> = Nb201Arch::all()
        .map(|a| Nb201Space.arch_to_graph(&a))
        .collect();
    let batch = GraphBatch::<B>::new(&graphs, 7, 8, &device).unwrap();
    let mut group = c.benchmark_group("encode all 15,625 cells");
    group.sample_size(10);
    for (name, hidden, bi) in [
        ("hidden 56, forward", 56, false),
        ("hidden 128, bidirectional", 128, true),
    ] {
        let encoder = GraphEncoderConfig::new()
            .with_hidden(hidden)
            .with_bidirectional(bi)
            .init::<B>(&device);
        group.bench_function(name, |b| {
            b.iter(|| black_box(encoder.forward(&batch).into_data()))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
