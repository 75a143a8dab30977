//! Set encoder speed: one 10-class × 20-image task, and 32 such tasks in one batch (dense, and
//! ragged with padding + masks).
//!
//! ```text
//! cargo bench -p metanas --bench set_encoder
//! METANAS_DEVICE=wgpu cargo bench -p metanas --features wgpu --bench set_encoder
//! ```
//! The backend is `$METANAS_DEVICE` (`metanas::device`: cpu, wgpu, wgpu:N, cuda, cuda:N; default
//! cpu, the flex backend); on another backend the group names end in ` (<device>)` so its
//! results do not overwrite the CPU baseline.
//! Features are 64-d (the pretrained CNN's width); the encoder has MetaD2A's defaults (56-d,
//! 4 heads, SAB → SAB → PMA → Linear at both levels). Only the forward pass is timed: the batch
//! is built beforehand.

use burn::tensor::backend::{AutodiffBackend, Backend};
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use metanas::device::{dispatch, DeviceSpec, WithBackend};
use set_encoder::{SetBatch, SetEncoder, SetEncoderConfig};

const DIM: usize = 64;

/// A task with `sizes[c]` images in class `c`, deterministic pseudo-random features.
fn task(sizes: &[usize], salt: usize) -> Vec<Vec<f32>> {
    sizes
        .iter()
        .enumerate()
        .map(|(c, &n)| {
            (0..n * DIM)
                .map(|i| (((i * 7919 + c * 104_729 + salt * 31) % 1000) as f32 / 500.0) - 1.0)
                .collect()
        })
        .collect()
}

fn encode<B: Backend>(encoder: &SetEncoder<B>, batch: &SetBatch<B>) -> Vec<f32> {
    encoder
        .encode(batch)
        .expect("valid batch")
        .into_data()
        .to_vec()
        .expect("f32 latents")
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
    let encoder = SetEncoderConfig::new(DIM).init::<B>(device);
    let one = SetBatch::<B>::from_classes(DIM, &[task(&[20; 10], 0)], device).unwrap();
    let dense: Vec<_> = (0..32).map(|t| task(&[20; 10], t)).collect();
    let dense = SetBatch::<B>::from_classes(DIM, &dense, device).unwrap();
    // 5..=10 classes of 10..=20 images: padded to [32, 10, 20, 64] with masks.
    let ragged: Vec<_> = (0..32)
        .map(|t| {
            let sizes: Vec<usize> = (0..5 + t % 6).map(|c| 10 + (t * 3 + c * 5) % 11).collect();
            task(&sizes, t)
        })
        .collect();
    let ragged = SetBatch::<B>::from_classes(DIM, &ragged, device).unwrap();
    assert!(!ragged.is_dense());

    let mut group = c.benchmark_group(label("set_encoder", spec));
    group.sample_size(20);
    group.bench_function("one task 10x20", |b| {
        b.iter(|| encode(&encoder, black_box(&one)))
    });
    group.bench_function("32 tasks 10x20", |b| {
        b.iter(|| encode(&encoder, black_box(&dense)))
    });
    group.bench_function("32 ragged tasks (masked)", |b| {
        b.iter(|| encode(&encoder, black_box(&ragged)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
