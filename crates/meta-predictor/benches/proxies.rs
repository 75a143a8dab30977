//! Zero-cost proxies: the time to score 500 cells on one task, per proxy, on CPU (flex).
//!
//! ```text
//! cargo bench -p meta-predictor --bench proxies
//! ```
//! The task is 10 classes × 100 training images of the MNIST sample embedded in the repository
//! (16×16, 1 channel, nothing to install); the network is the database's mini protocol network
//! (C = 8, N = 1) and the minibatch 64 images ([`ProxyConfig::default`]). Each iteration scores
//! the next of 500 fixed cells (every 31st index of NAS-Bench-201), building its network from
//! the seed as a real search does, so a benchmark's time × 500 is the time for 500 cells.
//! `forward (baseline)` is one inference forward pass of the same network on the same batch, so
//! each proxy's cost can be read as a multiple of it. After criterion, one timed pass over the
//! 500 cells with synflow + NASWOT checks the issue's target (≤ 5 s).

use std::time::Instant;

use burn::backend::{Autodiff, Flex};
use burn::module::AutodiffModule;
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use datasets::{DataPaths, SourceSpec, Task, TaskSpec};
use meta_predictor::proxies::{score_arch, Minibatch, Proxy, ProxyConfig};
use search_space::network::BnMode;
use search_space::Nb201Arch;

// Flex only: the backend choice lives in `metanas::device`, and meta-predictor cannot depend on
// metanas (metanas depends on it); `benches/` of the metanas crate take `METANAS_DEVICE`.
type B = Autodiff<Flex>;

const CELLS: usize = 500;

fn cells() -> Vec<Nb201Arch> {
    (0..CELLS)
        .map(|i| Nb201Arch::from_index(i * 31 % 15_625).expect("index in range"))
        .collect()
}

fn setup() -> (Minibatch<B>, ProxyConfig) {
    let spec = TaskSpec::new(SourceSpec::MnistSample, (0..10).collect(), 100, 0, 16, 0);
    let task = Task::build(&spec, &DataPaths::from_env()).expect("the embedded MNIST sample");
    let config = ProxyConfig::new();
    let batch = config
        .minibatch::<B>(&task, &Default::default())
        .expect("minibatch");
    (batch, config)
}

fn bench(c: &mut Criterion) {
    let (batch, config) = setup();
    let cells = cells();
    let mut group = c.benchmark_group("proxies, per cell (×500 for 500 cells)");
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
                .init::<B>(&Default::default())
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
        "synflow + naswot, {CELLS} cells in one pass: {:.2} s (target ≤ 5 s)",
        start.elapsed().as_secs_f64()
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
