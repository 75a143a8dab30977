//! Training throughput of the NB201 network, and in the same run the backend's conv2d
//! forward + backward speed next to its matmul speed, so the gap to the machine's peak (matmul
//! is about the peak) is visible.
//!
//! `cargo bench -p metanas --bench training`
//!
//! The backend is `$METANAS_DEVICE` (`metanas::device`: cpu, wgpu, wgpu:N, cuda, cuda:N; default
//! cpu, the flex backend), e.g. `METANAS_DEVICE=cuda cargo bench -p metanas --features cuda
//! --bench training`; on another backend the group names end in ` (<device>)` so its results do
//! not overwrite the CPU baseline. Every timed iteration ends with `Backend::sync` (a no-op on
//! flex), so an asynchronous GPU backend is timed to completion, not to submission.
//!
//! Groups and how to read them:
//! - `train_mini`: one SGD (Nesterov) step, cross-entropy, batch 64, 1×16×16 inputs, C = 8,
//!   N = 1, 10 classes (the mini protocol). Throughput is set to the batch, so criterion's
//!   "elem/s" reads as **images/s**.
//! - `train_official`: the same step at the official NAS-Bench-201 macro config, 3×32×32
//!   inputs, C = 16, N = 5, 10 classes, at batch 64 (the official protocol trains at 256; 64 keeps
//!   the run short). "elem/s" reads as **images/s**. Flat sampling, few iterations: rough.
//! - `kernels`: `conv3x3_fwd` and `conv3x3_fwd_bwd` (3×3, 16→16 channels, input
//!   [64, 16, 32, 32], stride 1, pad 1, no bias) and `matmul_1024` (1024³, f32). Throughput is
//!   set to the FLOPs of one iteration, so criterion's "elem/s" reads as **FLOP/s**
//!   ("Gelem/s" = GFLOP/s). Conv forward = 2·N·Cout·H·W·Cin·9 FLOPs, forward + backward ≈ 3×
//!   that (input and weight gradients); matmul = 2·n³. These are the backend's own conv2d;
//!   `metanas_conv3x3_mini_fwd_bwd` is the project's (`search_space::network::conv2d`, the
//!   one the networks train with) at the mini protocol's first stage (input [64, 8, 16, 16],
//!   8 → 8 channels), and `..._im2col` the same op with im2col + GEMM for every convolution
//!   (the kernel before the direct one; on flex only). `scripts/speed_vs_pytorch.py` times the
//!   same convolution in PyTorch.
//!
//! Each training case is done with two cells: the best NB201 CIFAR-10 cell (index 9930, five
//! 3×3 convs) and a cheap cell (pooling, 1×1 convs, skips).

use std::hint::black_box;
use std::time::Duration;

use burn::nn::loss::CrossEntropyLoss;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{GradientsParams, Optimizer, SgdConfig};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Distribution, Int, Tensor};
use criterion::{
    criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use metanas::device::{dispatch, DeviceSpec, WithBackend};
use metanas::search_space::network::{self as net, with_cpu_conv, CpuConv};
use metanas::search_space::{Nb201Arch, Nb201NetworkConfig};

const BATCH: usize = 64;
const CLASSES: usize = 10;

/// The cells measured: the best CIFAR-10 cell (index 9930) and a cheap one.
const ARCHS: [(&str, &str); 2] = [
    (
        "nb201_9930",
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|",
    ),
    (
        "cheap_pool_1x1_skip",
        "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_1x1~1|skip_connect~2|",
    ),
];

/// A network shape: input channels and resolution, width C, cells per stage N.
struct NetShape {
    group: &'static str,
    input_channels: usize,
    resolution: usize,
    channels: usize,
    cells_per_stage: usize,
}

const MINI: NetShape = NetShape {
    group: "train_mini",
    input_channels: 1,
    resolution: 16,
    channels: 8,
    cells_per_stage: 1,
};

const OFFICIAL: NetShape = NetShape {
    group: "train_official",
    input_channels: 3,
    resolution: 32,
    channels: 16,
    cells_per_stage: 5,
};

/// Which benchmark group a [`Bench`] runs.
#[derive(Clone, Copy)]
enum Group {
    Kernels,
    TrainMini,
    TrainOfficial,
}

/// One benchmark group, handed to [`dispatch`] to run on the backend `$METANAS_DEVICE` names.
struct Bench<'a> {
    c: &'a mut Criterion,
    spec: DeviceSpec,
    group: Group,
}

impl WithBackend for Bench<'_> {
    type Output = ();

    fn run<B: AutodiffBackend>(self, device: B::Device) {
        match self.group {
            Group::Kernels => kernels_on::<B>(self.c, self.spec, &device),
            Group::TrainMini => train_steps::<B>(self.c, &MINI, false, self.spec, &device),
            Group::TrainOfficial => train_steps::<B>(self.c, &OFFICIAL, true, self.spec, &device),
        }
    }
}

fn on_device(c: &mut Criterion, group: Group) {
    // Display, not Debug: the error names the fix (a feature to build with, the specs).
    let spec = DeviceSpec::from_env().unwrap_or_else(|e| panic!("{e}"));
    dispatch(&spec, Bench { c, spec, group }).unwrap_or_else(|e| panic!("{e}"));
}

/// `name` on the CPU, `name (device)` on any other device.
fn label(name: &str, spec: DeviceSpec) -> String {
    if spec == DeviceSpec::Cpu {
        name.to_string()
    } else {
        format!("{name} ({spec})")
    }
}

/// Waits for the device to finish (a no-op on flex).
fn sync<B: Backend>(device: &B::Device) {
    B::sync(device).expect("the device finishes its work");
}

/// One SGD step per iteration at `shape`, for each cell of [`ARCHS`].
fn train_steps<B: AutodiffBackend>(
    c: &mut Criterion,
    shape: &NetShape,
    flat: bool,
    spec: DeviceSpec,
    device: &B::Device,
) {
    let images = Tensor::<B, 4>::random(
        [
            BATCH,
            shape.input_channels,
            shape.resolution,
            shape.resolution,
        ],
        Distribution::Normal(0.0, 1.0),
        device,
    );
    let labels: Vec<i64> = (0..BATCH as i64).map(|i| i % CLASSES as i64).collect();
    let labels = Tensor::<B, 1, Int>::from_data(labels.as_slice(), device);
    let loss_fn = CrossEntropyLoss::new(None, device);

    let mut group = c.benchmark_group(label(shape.group, spec));
    group.throughput(Throughput::Elements(BATCH as u64));
    if flat {
        group.sampling_mode(SamplingMode::Flat);
    }
    for (name, arch) in ARCHS {
        let arch: Nb201Arch = arch.parse().expect("valid arch");
        let mut model = Nb201NetworkConfig::new(arch)
            .with_channels(shape.channels)
            .with_cells_per_stage(shape.cells_per_stage)
            .with_input_channels(shape.input_channels)
            .with_num_classes(CLASSES)
            .with_resolution(shape.resolution)
            .with_seed(0)
            .init::<B>(device);
        let mut optim = SgdConfig::new()
            .with_momentum(Some(
                MomentumConfig::new()
                    .with_momentum(0.9)
                    .with_dampening(0.0)
                    .with_nesterov(true),
            ))
            .init::<B, _>();
        group.bench_function(BenchmarkId::new(name, format!("batch{BATCH}")), |b| {
            b.iter(|| {
                let logits = model.forward(images.clone());
                let loss = loss_fn.forward(logits, labels.clone());
                let grads = GradientsParams::from_grads(loss.backward(), &model);
                model = optim.step(0.01, model.clone(), grads);
                sync::<B>(device);
            })
        });
    }
    group.finish();
}

fn train_mini(c: &mut Criterion) {
    on_device(c, Group::TrainMini);
}

fn train_official(c: &mut Criterion) {
    on_device(c, Group::TrainOfficial);
}

fn kernels(c: &mut Criterion) {
    on_device(c, Group::Kernels);
}

/// conv2d forward, conv2d forward + backward and matmul, with FLOPs as the throughput.
fn kernels_on<B: AutodiffBackend>(c: &mut Criterion, spec: DeviceSpec, device: &B::Device) {
    let [n, cin, h, w] = [64usize, 16, 32, 32];
    let cout = 16usize;
    let conv_fwd_flops = (2 * n * cout * h * w * cin * 9) as u64;
    let x = Tensor::<B, 4>::random([n, cin, h, w], Distribution::Normal(0.0, 1.0), device);
    let weight = Tensor::<B, 4>::random([cout, cin, 3, 3], Distribution::Normal(0.0, 0.1), device);
    let r = Tensor::<B, 4>::random([n, cout, h, w], Distribution::Normal(0.0, 1.0), device);
    let options = || ConvOptions::new([1, 1], [1, 1], [1, 1], 1);

    let mut group = c.benchmark_group(label("kernels", spec));
    group.throughput(Throughput::Elements(conv_fwd_flops));
    group.bench_function("conv3x3_fwd", |b| {
        let (x, weight) = (x.clone().inner(), weight.clone().inner());
        b.iter(|| {
            let y = black_box(conv2d(x.clone(), weight.clone(), None, options()));
            sync::<B::InnerBackend>(device);
            y
        })
    });
    group.throughput(Throughput::Elements(3 * conv_fwd_flops));
    group.bench_function("conv3x3_fwd_bwd", |b| {
        b.iter(|| {
            let y = conv2d(
                x.clone().require_grad(),
                weight.clone().require_grad(),
                None,
                options(),
            );
            let grads = black_box((y * r.clone()).sum().backward());
            sync::<B>(device);
            grads
        })
    });

    // The project's convolution at the mini protocol's first stage.
    let [n, c, hw] = [64usize, 8, 16];
    let mini_flops = (2 * n * c * hw * hw * c * 9) as u64;
    let x = Tensor::<B, 4>::random([n, c, hw, hw], Distribution::Normal(0.0, 1.0), device);
    let weight = Tensor::<B, 4>::random([c, c, 3, 3], Distribution::Normal(0.0, 0.1), device);
    let r = Tensor::<B, 4>::random([n, c, hw, hw], Distribution::Normal(0.0, 1.0), device);
    group.throughput(Throughput::Elements(3 * mini_flops));
    for (name, kernel) in [
        ("metanas_conv3x3_mini_fwd_bwd", CpuConv::Gemm),
        ("metanas_conv3x3_mini_fwd_bwd_im2col", CpuConv::Im2col),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                with_cpu_conv(kernel, || {
                    let y = net::conv2d(
                        x.clone().require_grad(),
                        weight.clone().require_grad(),
                        None,
                        options(),
                    );
                    let grads = black_box((y * r.clone()).sum().backward());
                    sync::<B>(device);
                    grads
                })
            })
        });
    }

    let size = 1024usize;
    let a =
        Tensor::<B::InnerBackend, 2>::random([size, size], Distribution::Normal(0.0, 1.0), device);
    let m =
        Tensor::<B::InnerBackend, 2>::random([size, size], Distribution::Normal(0.0, 1.0), device);
    group.throughput(Throughput::Elements((2 * size * size * size) as u64));
    group.bench_function("matmul_1024", |b| {
        b.iter(|| {
            let p = black_box(a.clone().matmul(m.clone()));
            sync::<B::InnerBackend>(device);
            p
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    targets = kernels, train_mini, train_official
}
criterion_main!(benches);
