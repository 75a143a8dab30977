//! Tests of the MobileNetV3 network against its plan: the cost identity, shapes, seeding, and a
//! short training run.

use burn::backend::{Autodiff, Flex};
use burn::module::{Module, ModuleVisitor, Param};
use burn::nn::loss::CrossEntropyLoss;
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::tensor::{Int, Tensor, TensorData};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::*;
use crate::mbv3::{Mbv3Arch, Mbv3MacroConfig, Mbv3Plan};
use crate::network::init::uniform_values;
use crate::network::BnMode;

type B = Flex;
type Ad = Autodiff<Flex>;

fn device() -> burn::tensor::Device<B> {
    Default::default()
}

/// Counts parameters from their declared shapes, without materialising lazy parameters.
fn lazy_param_count<M: Module<B>>(module: &M) -> usize {
    struct Count(usize);
    impl ModuleVisitor<B> for Count {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            self.0 += param.lazy_shape().num_elements();
        }
    }
    let mut count = Count(0);
    module.visit(&mut count);
    count.0
}

fn small(arch: Mbv3Arch) -> Mbv3NetworkConfig {
    Mbv3NetworkConfig::new(arch)
        .with_width_mult(0.5)
        .with_num_classes(4)
        .with_resolution(32)
}

/// The cost identity: the modules built hold exactly the parameters the cost model counts, for
/// sampled points under several macro configurations.
#[test]
fn cost_identity_on_sampled_points() {
    let mut rng = ChaCha8Rng::seed_from_u64(17);
    let configs = [
        Mbv3MacroConfig::ofa_imagenet(),
        Mbv3MacroConfig {
            width_mult: 1.2,
            ..Mbv3MacroConfig::ofa_imagenet()
        },
        Mbv3MacroConfig {
            width_mult: 0.35,
            input_channels: 1,
            num_classes: 7,
            resolution: 28,
        },
    ];
    let mut archs = vec![Mbv3Arch::largest(), Mbv3Arch::smallest()];
    archs.extend((0..12).map(|_| Mbv3Arch::sample_ofa(&mut rng)));
    for arch in &archs {
        for m in &configs {
            let config = Mbv3NetworkConfig::new(*arch)
                .with_width_mult(m.width_mult)
                .with_input_channels(m.input_channels)
                .with_num_classes(m.num_classes)
                .with_resolution(m.resolution);
            let net = config.init::<B>(&device());
            let plan = Mbv3Plan::new(arch, m).unwrap();
            assert_eq!(lazy_param_count(&net), plan.param_count(), "{arch} {m:?}");
        }
    }
}

/// The identity with materialised weights (`num_params`), on OFA's largest network and on
/// MobileNetV3-Large built from its plan.
#[test]
fn cost_identity_materialised() {
    let config = Mbv3NetworkConfig::new(Mbv3Arch::largest());
    let net = config.init::<B>(&device());
    assert_eq!(net.num_params(), 7_664_760);
    assert_eq!(net.num_params(), config.plan().unwrap().param_count());
    let plan = Mbv3Plan::mobilenet_v3_large(&Mbv3MacroConfig::ofa_imagenet()).unwrap();
    let large = Mbv3Network::<B>::from_plan(&plan, 0, &device());
    assert_eq!(large.num_params(), plan.param_count());
    assert_eq!(large.num_params() + 1280, 5_483_032); // torchvision's count, see cost.rs
}

#[test]
fn forward_shapes_and_seeding() {
    let arch: Mbv3Arch = "k7e6,k3e3|k5e4,k5e4,k3e6|k3e3,k7e4|k5e6,k5e6,k5e6,k5e6|k3e4,k7e3"
        .parse()
        .unwrap();
    let x = Tensor::<B, 4>::from_data(
        TensorData::new(uniform_values(2 * 3 * 32 * 32, 1.0, 5), [2, 3, 32, 32]),
        &device(),
    );
    let run = |seed| {
        small(arch)
            .with_seed(seed)
            .init::<B>(&device())
            .forward_mode(x.clone(), BnMode::Train)
    };
    let y = run(0);
    assert_eq!(y.dims(), [2, 4]);
    let values = y.to_data().to_vec::<f32>().unwrap();
    assert!(values.iter().all(|v| v.is_finite()));
    assert_eq!(values, run(0).to_data().to_vec::<f32>().unwrap());
    assert_ne!(values, run(1).to_data().to_vec::<f32>().unwrap());
    // An odd resolution: every stride-2 stage rounds up.
    let net = small(arch).with_resolution(23).init::<B>(&device());
    let x = Tensor::<B, 4>::zeros([1, 3, 23, 23], &device());
    assert_eq!(net.forward_mode(x, BnMode::Eval).dims(), [1, 4]);
}

#[test]
#[should_panic(expected = "does not match")]
fn forward_rejects_wrong_resolution() {
    let net = small(Mbv3Arch::smallest()).init::<B>(&device());
    let _ = net.forward(Tensor::zeros([1, 3, 28, 28], &device()));
}

#[test]
#[should_panic(expected = "width multiplier")]
fn init_rejects_invalid_config() {
    let _ = small(Mbv3Arch::smallest())
        .with_width_mult(-1.0)
        .init::<B>(&device());
}

/// A few dozen Adam steps on a fixed synthetic batch of 32×32 RGB images (class = which
/// quadrant is bright) bring the loss well down.
#[test]
fn a_short_training_run_learns() {
    let device = device();
    let (classes, per_class, side) = (4, 4, 32);
    let n = classes * per_class;
    let noise = uniform_values(n * 3 * side * side, 0.3, 11);
    let mut pixels = Vec::with_capacity(noise.len());
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let class = i % classes;
        labels.push(class as i64);
        for c in 0..3 {
            for y in 0..side {
                for x in 0..side {
                    let quadrant = 2 * (y / (side / 2)) + x / (side / 2);
                    let signal = if quadrant == class { 1.0 } else { 0.0 };
                    pixels.push(signal + noise[((i * 3 + c) * side + y) * side + x]);
                }
            }
        }
    }
    let images = Tensor::<Ad, 4>::from_data(TensorData::new(pixels, [n, 3, side, side]), &device);
    let targets = Tensor::<Ad, 1, Int>::from_data(TensorData::new(labels, [n]), &device);

    let mut model = small(Mbv3Arch::smallest()).with_seed(3).init::<Ad>(&device);
    let mut optim = AdamConfig::new().init::<Ad, Mbv3Network<Ad>>();
    let loss_fn = CrossEntropyLoss::new(None, &device);
    let mut losses = Vec::new();
    for _ in 0..30 {
        let logits = model.forward(images.clone());
        let loss = loss_fn.forward(logits, targets.clone());
        losses.push(loss.clone().into_scalar());
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(5e-3, model, grads);
    }
    let first = losses[0];
    let last = losses[losses.len() - 3..].iter().sum::<f32>() / 3.0;
    assert!(
        last < 0.5 * first,
        "loss did not halve: {first} → {last} ({losses:?})"
    );
}
