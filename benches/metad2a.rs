//! MetaD2A search latency and predictor throughput, with the shipped bundle.
//!
//! ```text
//! cargo bench -p metanas --bench metad2a
//! METANAS_DEVICE=wgpu cargo bench -p metanas --features wgpu --bench metad2a
//! ```
//! The backend is `$METANAS_DEVICE` (`metanas::device`: cpu, wgpu, wgpu:N, cuda, cuda:N; default
//! cpu, the flex backend); on another backend the group names end in ` (<device>)` so its
//! results do not overwrite the CPU baseline.
//! The task is MNIST's meta-test task from the database (10 classes × 100 training images);
//! its features are extracted once outside the timed region except in the end-to-end case.
//! - `search`: features → generate 500 unique valid cells → score (mean over 10 draws) → rank.
//! - `predictor`: scoring 1,000 cells for one task, with graph latents cached (the head only)
//!   and without (graph encoder + head).

use std::path::Path;

use burn::tensor::backend::{AutodiffBackend, Backend};
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use datasets::{DataPaths, FeatureExtractor, Task};
use graph_vae::{GraphSpace, Nb201Space, TypedGraph};
use meta_predictor::GraphLatentCache;
use metanas::device::{dispatch, DeviceSpec, WithBackend};
use metanas::metad2a::{ground_truths, MetaD2A, SearchOptions};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use search_space::Nb201Arch;
use set_encoder::CnnExtractor;

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

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
    let model = MetaD2A::<B>::load(&root().join("crates/metanas/bundle"), device).expect("bundle");
    let records = model_zoo::database::load(&[root().join("crates/model-zoo/data/runs.jsonl")])
        .expect("database");
    let truth = ground_truths(&records, 1)
        .into_iter()
        .find(|t| t.group == "test/mnist")
        .expect("test/mnist in the database");
    let task = Task::build(&truth.spec, &DataPaths::from_env())
        .expect("MNIST data (scripts/setup-data.sh)");
    let extractor = CnnExtractor::<B>::pretrained(device).expect("weights");
    let features = extractor.extract(&task.train).expect("features");

    let mut group = c.benchmark_group(label("metad2a", spec));
    group.sample_size(10);
    group.bench_function("search: features + generate 500 + score + rank", |b| {
        b.iter(|| {
            let f = extractor.extract(&task.train).unwrap();
            black_box(model.search(&f, &SearchOptions::default()).unwrap())
        })
    });
    group.bench_function("search: exhaustive, 15,625 cells (latents cached)", |b| {
        let options = SearchOptions {
            exhaustive: true,
            ..SearchOptions::default()
        };
        model.search(&features, &options).unwrap(); // fills the cache
        b.iter(|| black_box(model.search(&features, &options).unwrap()))
    });
    group.finish();

    let archs: Vec<Nb201Arch> = (0..1000)
        .map(|i| Nb201Arch::from_index(i * 15).unwrap())
        .collect();
    let graphs: Vec<TypedGraph> = archs.iter().map(|a| Nb201Space.arch_to_graph(a)).collect();
    let mut group = c.benchmark_group(label("predictor, 1,000 cells, 1 draw", spec));
    group.throughput(Throughput::Elements(1000));
    group.bench_function("graph latents cached", |b| {
        let cache = GraphLatentCache::new(model.predictor(), &graphs, 1024, device).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        b.iter(|| {
            black_box(
                cache
                    .score(model.predictor(), &features, 20, 1, &mut rng)
                    .unwrap(),
            )
        })
    });
    group.bench_function("graph latents computed", |b| {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        b.iter(|| {
            let cache = GraphLatentCache::new(model.predictor(), &graphs, 1024, device).unwrap();
            black_box(
                cache
                    .score(model.predictor(), &features, 20, 1, &mut rng)
                    .unwrap(),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
