//! Our layers against the Burn layers they replace, forward + backward, at the shapes of the
//! mini protocol's first stage (batch 64, C = 8, 16×16); plus one training step of the mini
//! network. Compare each `ours` line with the `burn` line beside it.
//!
//! `cargo bench -p model-zoo --bench layers` (only the convolutions: `... -- conv`)
//!
//! The backend is `$METANAS_DEVICE` (`search_space::device`, re-exported as `metanas::device`:
//! cpu, wgpu, wgpu:N, cuda, cuda:N; default cpu, the flex backend), e.g.
//! `METANAS_DEVICE=wgpu cargo bench -p model-zoo --features wgpu --bench layers`; on another
//! backend the group names end in ` (<device>)` so its results do not overwrite the CPU baseline,
//! and every timed iteration ends with `Backend::sync` (a no-op on flex). The comparison is made
//! for the CPU: our convolution runs its own im2col + GEMM kernel on flex only and is Burn's
//! `conv2d` elsewhere, so off the CPU its `ours` and `burn` lines time the same kernel.

use burn::module::Module;
use burn::nn::conv::Conv2dConfig;
use burn::nn::{BatchNormConfig, PaddingConfig2d};
use burn::optim::momentum::MomentumConfig;
use burn::optim::{GradientsParams, Optimizer, SgdConfig};
use burn::tensor::activation::relu;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::module::{avg_pool2d, conv2d};
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Distribution, Int, Tensor};
use criterion::{criterion_group, criterion_main, Criterion};
use search_space::device::{dispatch, DeviceSpec, WithBackend};
use search_space::network::{self, AvgPool3x3, BatchNorm2dConfig, BnMode, ReluConvBnConfig};
use search_space::{Nb201Arch, Nb201NetworkConfig};

const SHAPE: [usize; 4] = [64, 8, 16, 16];

/// Which benchmark function a [`Bench`] runs.
#[derive(Clone, Copy)]
enum Group {
    Layers,
    Conv,
    TrainStep,
}

/// One benchmark function, handed to [`dispatch`] to run on the backend `$METANAS_DEVICE` names.
struct Bench<'a> {
    c: &'a mut Criterion,
    spec: DeviceSpec,
    group: Group,
}

impl WithBackend for Bench<'_> {
    type Output = ();

    fn run<B: AutodiffBackend>(self, device: B::Device) {
        let on = On::<B> {
            spec: self.spec,
            device,
        };
        match self.group {
            Group::Layers => layers_on(self.c, &on),
            Group::Conv => conv_on(self.c, &on),
            Group::TrainStep => train_step_on(self.c, &on),
        }
    }
}

fn on_device(c: &mut Criterion, group: Group) {
    // Display, not Debug: the error names the fix (a feature to build with, the specs).
    let spec = DeviceSpec::from_env().unwrap_or_else(|e| panic!("{e}"));
    dispatch(&spec, Bench { c, spec, group }).unwrap_or_else(|e| panic!("{e}"));
}

/// The backend and device the benchmarks run on.
struct On<B: Backend> {
    spec: DeviceSpec,
    device: B::Device,
}

impl<B: Backend> On<B> {
    /// `name` on the CPU, `name (device)` on any other device.
    fn label(&self, name: &str) -> String {
        if self.spec == DeviceSpec::Cpu {
            name.to_string()
        } else {
            format!("{name} ({})", self.spec)
        }
    }

    /// Waits for the device to finish (a no-op on flex).
    fn sync(&self) {
        B::sync(&self.device).expect("the device finishes its work");
    }
}

/// Forward, then backward of `Σ output · r` (a dense upstream gradient, as inside a network).
fn fwd_bwd<B: AutodiffBackend>(
    on: &On<B>,
    x: &Tensor<B, 4>,
    r: &Tensor<B, 4>,
    f: impl Fn(Tensor<B, 4>) -> Tensor<B, 4>,
) {
    let y = f(x.clone().require_grad());
    let _ = (y * r.clone()).sum().backward();
    on.sync();
}

fn layers(c: &mut Criterion) {
    on_device(c, Group::Layers);
}

fn layers_on<B: AutodiffBackend>(c: &mut Criterion, on: &On<B>) {
    let device = &on.device;
    let x = Tensor::<B, 4>::random(SHAPE, Distribution::Normal(0.5, 2.0), device);
    let r = Tensor::<B, 4>::random(SHAPE, Distribution::Normal(0.0, 1.0), device);
    let channels = SHAPE[1];

    let mut group = c.benchmark_group(on.label("batch_norm"));
    let theirs = BatchNormConfig::new(channels).init::<B>(device);
    let ours = BatchNorm2dConfig::new(channels).init::<B>(device);
    group.bench_function("burn", |b| {
        b.iter(|| fwd_bwd(on, &x, &r, |x| theirs.forward(x)))
    });
    group.bench_function("ours", |b| {
        b.iter(|| fwd_bwd(on, &x, &r, |x| ours.forward_mode(x, BnMode::Train)))
    });
    group.finish();

    let mut group = c.benchmark_group(on.label("avg_pool_3x3"));
    group.bench_function("burn", |b| {
        b.iter(|| {
            fwd_bwd(on, &x, &r, |x| {
                avg_pool2d(x, [3, 3], [1, 1], [1, 1], false, false)
            })
        })
    });
    group.bench_function("ours", |b| {
        b.iter(|| fwd_bwd(on, &x, &r, |x| AvgPool3x3 {}.forward(x)))
    });
    group.finish();

    // NAS-Bench-201's nor_conv ops built from Burn's layers, against ours.
    for k in [1, 3] {
        let mut group = c.benchmark_group(on.label(&format!("relu_conv{k}x{k}_bn")));
        let conv = Conv2dConfig::new([channels, channels], [k, k])
            .with_padding(PaddingConfig2d::Explicit(k / 2, k / 2, k / 2, k / 2))
            .with_bias(false)
            .init::<B>(device);
        let bn = BatchNormConfig::new(channels).init::<B>(device);
        let op = ReluConvBnConfig::new(channels, channels, k).init::<B>(device);
        group.bench_function("burn", |b| {
            b.iter(|| fwd_bwd(on, &x, &r, |x| bn.forward(conv.forward(relu(x)))))
        });
        group.bench_function("ours", |b| {
            b.iter(|| fwd_bwd(on, &x, &r, |x| op.forward(x, BnMode::Train)))
        });
        group.finish();
    }
}

fn conv(c: &mut Criterion) {
    on_device(c, Group::Conv);
}

/// 3×3 convolutions at the mini protocol's shapes (the cells' stride-1 convs of the three
/// stages, and the two stride-2 reduction convs), forward + backward with input and weight
/// gradients: Burn's `conv2d` against `search_space::network::conv2d`.
fn conv_on<B: AutodiffBackend>(c: &mut Criterion, on: &On<B>) {
    let device = &on.device;
    for (input, out, stride) in [
        ([64, 8, 16, 16], 8, 1),
        ([64, 16, 8, 8], 16, 1),
        ([64, 32, 4, 4], 32, 1),
        ([64, 8, 16, 16], 16, 2),
        ([64, 16, 8, 8], 32, 2),
    ] {
        let [n, cin, h, w]: [usize; 4] = input;
        let mut group =
            c.benchmark_group(on.label(&format!("conv3x3_s{stride}_{n}x{cin}x{h}x{w}_to_{out}")));
        let x = Tensor::<B, 4>::random(input, Distribution::Normal(0.0, 1.0), device);
        let weight =
            Tensor::<B, 4>::random([out, cin, 3, 3], Distribution::Normal(0.0, 0.1), device)
                .require_grad();
        let options = ConvOptions::new([stride, stride], [1, 1], [1, 1], 1);
        let r = Tensor::<B, 4>::random(
            [n, out, h.div_ceil(stride), w.div_ceil(stride)],
            Distribution::Normal(0.0, 1.0),
            device,
        );
        group.bench_function("burn", |b| {
            b.iter(|| {
                fwd_bwd(on, &x, &r, |x| {
                    conv2d(x, weight.clone(), None, options.clone())
                })
            })
        });
        group.bench_function("ours", |b| {
            b.iter(|| {
                fwd_bwd(on, &x, &r, |x| {
                    network::conv2d(x, weight.clone(), None, options.clone())
                })
            })
        });
        group.finish();
    }
}

fn train_step(c: &mut Criterion) {
    on_device(c, Group::TrainStep);
}

fn train_step_on<B: AutodiffBackend>(c: &mut Criterion, on: &On<B>) {
    let device = &on.device;
    let mut group = c.benchmark_group(on.label("mini_train_step"));
    let images = Tensor::<B, 4>::random([64, 1, 16, 16], Distribution::Normal(0.0, 1.0), device);
    let labels = Tensor::<B, 1, Int>::from_data([0i64; 64], device);
    for (name, arch) in [
        ("nb201_c10_best", "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"),
        ("pool_conv1x1_skip", "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_1x1~1|skip_connect~2|"),
    ] {
        let arch: Nb201Arch = arch.parse().expect("valid arch");
        let mut model = Nb201NetworkConfig::new(arch)
            .with_channels(8)
            .with_cells_per_stage(1)
            .with_input_channels(1)
            .with_num_classes(5)
            .with_resolution(16)
            .init::<B>(device);
        let mut optim = SgdConfig::new()
            .with_momentum(Some(MomentumConfig::new().with_dampening(0.0).with_nesterov(true)))
            .init::<B, _>();
        let loss = burn::nn::loss::CrossEntropyLoss::new(None, device);
        group.bench_function(name, |b| {
            b.iter(|| {
                let logits = model.forward(images.clone());
                let l = loss.forward(logits, labels.clone());
                let grads = GradientsParams::from_grads(l.backward(), &model);
                model = optim.step(0.01, model.clone(), grads);
                on.sync();
            })
        });
        let _ = model.num_params();
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(3));
    targets = layers, conv, train_step
}
criterion_main!(benches);
