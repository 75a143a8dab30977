//! EfficientNet-Lite0 features per input resolution: the time to extract the 1280-d features of
//! a batch of images, resize and input mapping included (docs/features.md has the results).
//!
//! ```text
//! bash scripts/setup-data.sh     # the ImageNet weights (the benchmark says SKIPPED without them)
//! cargo bench -p set-encoder --bench efficientnet
//! METANAS_DEVICE=wgpu cargo bench -p set-encoder --features wgpu --bench efficientnet
//! ```
//! The backend is `$METANAS_DEVICE` (`search_space::device`, re-exported as `metanas::device`:
//! cpu, wgpu, wgpu:N, cuda, cuda:N; default cpu, the flex backend); the extractor runs on its
//! inference backend (no autodiff). On another backend the group name ends in ` (<device>)` so
//! its results do not overwrite the CPU baseline; every iteration reads the features back to the
//! host, so a GPU backend is timed to completion.
//!
//! The images are 1,000 of the MNIST sample embedded in the repository (10 classes × 100, 28×28
//! gray, replicated to RGB by the extractor), resized to 32, 64 or 224 px; at 224 px only the
//! first 100 (one iteration of 1,000 takes minutes on two cores). Criterion reports the
//! throughput in images/s (elements/s). Batches of [`DEFAULT_BATCH_SIZE`] images (8).

use burn::tensor::backend::{AutodiffBackend, Backend};
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use datasets::{DataPaths, FeatureExtractor, Images, SourceSpec, Task, TaskSpec};
use search_space::device::{dispatch, DeviceSpec, WithBackend};
use set_encoder::efficientnet_extractor::DEFAULT_BATCH_SIZE;
use set_encoder::{efficientnet_weights, EfficientNetExtractor};

/// (resolution, images per iteration).
const CASES: [(usize, usize); 3] = [(32, 1_000), (64, 1_000), (224, 100)];

fn images() -> Images {
    let spec = TaskSpec::new(SourceSpec::MnistSample, (0..10).collect(), 100, 0, 28, 0);
    Task::build(&spec, &DataPaths::from_env())
        .expect("the embedded MNIST sample")
        .train
}

fn first(images: &Images, n: usize) -> Images {
    Images {
        data: images.data[..n * images.image_len()].to_vec(),
        labels: images.labels[..n].to_vec(),
        ..images.clone()
    }
}

/// The benchmark, handed to [`dispatch`] to run on the backend `$METANAS_DEVICE` names.
struct Bench<'a> {
    c: &'a mut Criterion,
    spec: DeviceSpec,
}

impl WithBackend for Bench<'_> {
    type Output = ();

    fn run<B: AutodiffBackend>(self, device: B::Device) {
        bench_on::<B::InnerBackend>(self.c, self.spec, &device);
    }
}

fn bench(c: &mut Criterion) {
    // Display, not Debug: the error names the fix (a feature to build with, the specs).
    let spec = DeviceSpec::from_env().unwrap_or_else(|e| panic!("{e}"));
    dispatch(&spec, Bench { c, spec }).unwrap_or_else(|e| panic!("{e}"));
}

fn bench_on<B: Backend>(c: &mut Criterion, spec: DeviceSpec, device: &B::Device) {
    let extractor = match EfficientNetExtractor::<B>::pretrained(device) {
        Ok(extractor) => extractor.with_batch_size(DEFAULT_BATCH_SIZE),
        Err(e) => {
            println!("efficientnet bench: SKIPPED, {e}");
            return;
        }
    };
    println!(
        "weights: {}",
        efficientnet_weights::default_path().display()
    );
    let images = images();
    let name = "efficientnet-lite0 features";
    let mut group = c.benchmark_group(if spec == DeviceSpec::Cpu {
        name.to_string()
    } else {
        format!("{name} ({spec})")
    });
    group.sample_size(10);
    let mut extractor = Some(extractor);
    for (resolution, n) in CASES {
        let e = extractor.take().expect("set").with_resolution(resolution);
        let batch = first(&images, n);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(format!("{resolution}px, {n} images"), |b| {
            b.iter(|| black_box(e.extract(&batch).expect("features")))
        });
        extractor = Some(e);
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
