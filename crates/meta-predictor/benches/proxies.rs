//! Zero-cost proxies: the time to score 500 cells on one task, per proxy.
//!
//! ```text
//! cargo bench -p meta-predictor --bench proxies
//! METANAS_DEVICE=wgpu cargo bench -p meta-predictor --features wgpu --bench proxies
//! ```
//! The backend is `$METANAS_DEVICE` (`search_space::device`, re-exported as `metanas::device`:
//! cpu, wgpu, wgpu:N, cuda, cuda:N; default cpu, the flex backend); on another backend the group
//! name ends in ` (<device>)` so its results do not overwrite the CPU baseline. Every timed
//! iteration reads its scores (or the forward pass's output) back to the host, so a GPU backend
//! is timed to completion.
//!
//! The task is 10 classes × 100 training images of the MNIST sample embedded in the repository
//! (16×16, 1 channel, nothing to install); the network is the database's mini protocol network
//! (C = 8, N = 1) and the minibatch 64 images ([`ProxyConfig::default`]). Each iteration scores
//! the next of 500 fixed cells (every 31st index of NAS-Bench-201), building its network from
//! the seed as a real search does, so a benchmark's time × 500 is the time for 500 cells.
//! `forward (baseline)` is one inference forward pass of the same network on the same batch, so
//! each proxy's cost can be read as a multiple of it. After criterion, one timed pass over the
//! 500 cells with synflow + NASWOT checks the issue's target (≤ 5 s, on the CPU).

use std::time::Instant;

use burn::module::AutodiffModule;
use burn::tensor::backend::AutodiffBackend;
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use datasets::{DataPaths, SourceSpec, Task, TaskSpec};
use meta_predictor::proxies::{score_arch, Minibatch, Proxy, ProxyConfig};
use search_space::device::{dispatch, DeviceSpec, WithBackend};
use search_space::network::BnMode;
use search_space::Nb201Arch;

const CELLS: usize = 500;

fn cells() -> Vec<Nb201Arch> {
    (0..CELLS)
        .map(|i| Nb201Arch::from_index(i * 31 % 15_625).expect("index in range"))
        .collect()
}

fn setup<B: AutodiffBackend>(device: &B::Device) -> (Minibatch<B>, ProxyConfig) {
    let spec = TaskSpec::new(SourceSpec::MnistSample, (0..10).collect(), 100, 0, 16, 0);
    let task = Task::build(&spec, &DataPaths::from_env()).expect("the embedded MNIST sample");
    let config = ProxyConfig::new();
    let batch = config.minibatch::<B>(&task, device).expect("minibatch");
    (batch, config)
}

/// The benchmark, handed to [`dispatch`] to run on the backend `$METANAS_DEVICE` names.
struct Bench<'a> {
    c: &'a mut Criterion,
    spec: DeviceSpec,
}

impl WithBackend for Bench<'_> {
    type Output = ();

    fn run<B: AutodiffBackend>(self, device: B::Device) {
        bench_on::<B>(self.c, self.spec, &device);
    }
}

fn bench(c: &mut Criterion) {
    // Display, not Debug: the error names the fix (a feature to build with, the specs).
    let spec = DeviceSpec::from_env().unwrap_or_else(|e| panic!("{e}"));
    dispatch(&spec, Bench { c, spec }).unwrap_or_else(|e| panic!("{e}"));
}

fn bench_on<B: AutodiffBackend>(c: &mut Criterion, spec: DeviceSpec, device: &B::Device) {
    let (batch, config) = setup::<B>(device);
    let cells = cells();
    let name = "proxies, per cell (×500 for 500 cells)";
    let mut group = c.benchmark_group(if spec == DeviceSpec::Cpu {
        name.to_string()
    } else {
        format!("{name} ({spec})")
    });
    group.sample_size(20);

    group.bench_function("forward (baseline)", |b| {
        let mut i = 0;
        let inner = batch.inner();
        b.iter(|| {
            let arch = cells[i % CELLS];
            i += 1;
            let net = config
                .network(arch, &batch)
                .unwrap()
                .init::<B>(device)
                .valid();
            black_box(
                net.forward_mode(inner.images.clone(), BnMode::Train)
                    .into_data(),
            )
        })
    });
    let mut cases: Vec<(String, Vec<Proxy>)> = Proxy::ALL
        .iter()
        .map(|&p| (p.to_string(), vec![p]))
        .collect();
    cases.push((
        "synflow + naswot".into(),
        vec![Proxy::Synflow, Proxy::Naswot],
    ));
    for (name, proxies) in cases {
        group.bench_function(name, |b| {
            let mut i = 0;
            b.iter(|| {
                let arch = cells[i % CELLS];
                i += 1;
                black_box(score_arch(arch, &proxies, &batch, &config).unwrap())
            })
        });
    }
    group.finish();

    let start = Instant::now();
    for &arch in &cells {
        black_box(score_arch(arch, &[Proxy::Synflow, Proxy::Naswot], &batch, &config).unwrap());
    }
    println!(
        "synflow + naswot, {CELLS} cells in one pass: {:.2} s (target ≤ 5 s on the CPU{})",
        start.elapsed().as_secs_f64(),
        if spec == DeviceSpec::Cpu {
            String::new()
        } else {
            format!("; this is {spec}")
        }
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
