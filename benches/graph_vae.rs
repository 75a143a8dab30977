//! Graph VAE speed: decode 500 cells from one latent (sampled decoding, batched over the 500
//! graphs), and encode all 15,625 NAS-Bench-201 cells.
//!
//! ```text
//! cargo bench -p metanas --bench graph_vae
//! METANAS_DEVICE=wgpu cargo bench -p metanas --features wgpu --bench graph_vae
//! ```
//! The backend is `$METANAS_DEVICE` (`metanas::device`: cpu, wgpu, wgpu:N, cuda, cuda:N; default
//! cpu, the flex backend); on another backend the group names end in ` (<device>)` so its
//! results do not overwrite the CPU baseline.
//! Untrained weights at MetaD2A's widths (hidden 56, latent 56): speed does not depend on what
//! the weights are. The encoder is timed at the generator's width (56, unidirectional) and at
//! the shipped predictor's (128, bidirectional).

use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::Tensor;
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use graph_vae::{
    Decoding, GraphBatch, GraphDecoderConfig, GraphEncoderConfig, GraphSpace, Nb201Space,
    TypedGraph,
};
use metanas::device::{dispatch, DeviceSpec, WithBackend};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use search_space::Nb201Arch;

/// `name` on the CPU, `name (device)` on any other device.
fn label(name: &str, spec: DeviceSpec) -> String {
    if spec == DeviceSpec::Cpu {
        name.to_string()
    } else {
        format!("{name} ({spec})")
    }
}

fn bench(c: &mut Criterion) {
    // Display, not Debug: the error names the fix (a feature to build with, the specs).
    let spec = DeviceSpec::from_env().unwrap_or_else(|e| panic!("{e}"));
    dispatch(&spec, Bench { c, spec }).unwrap_or_else(|e| panic!("{e}"));
}

/// The benchmarks, handed to [`dispatch`] to run on the chosen backend.
struct Bench<'a> {
    c: &'a mut Criterion,
    spec: DeviceSpec,
}

impl WithBackend for Bench<'_> {
    type Output = ();

    fn run<A: AutodiffBackend>(self, device: A::Device) {
        bench_on::<A::InnerBackend>(self.c, self.spec, &device);
    }
}

/// Inference only: the backend without autodiff.
fn bench_on<B: Backend>(c: &mut Criterion, spec: DeviceSpec, device: &B::Device) {
    let decoder = GraphDecoderConfig::new().with_seed(1).init::<B>(device);
    let z = Tensor::<B, 2>::ones([1, 56], device).repeat_dim(0, 500);
    c.bench_function(
        &label("decode 500 cells from one latent (sampled)", spec),
        |b| {
            let mut rng = ChaCha8Rng::seed_from_u64(0);
            b.iter(|| {
                black_box(
                    decoder
                        .decode(z.clone(), Decoding::Sample, &mut rng)
                        .unwrap(),
                )
            })
        },
    );
    let graphs: Vec<TypedGraph> = Nb201Arch::all()
        .map(|a| Nb201Space.arch_to_graph(&a))
        .collect();
    let batch = GraphBatch::<B>::new(&graphs, 7, 8, device).unwrap();
    let mut group = c.benchmark_group(label("encode all 15,625 cells", spec));
    group.sample_size(10);
    for (name, hidden, bi) in [
        ("hidden 56, forward", 56, false),
        ("hidden 128, bidirectional", 128, true),
    ] {
        let encoder = GraphEncoderConfig::new()
            .with_hidden(hidden)
            .with_bidirectional(bi)
            .init::<B>(device);
        group.bench_function(name, |b| {
            b.iter(|| black_box(encoder.forward(&batch).into_data()))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
