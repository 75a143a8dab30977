//! Backend parity: the same weights and inputs give the same numbers on flex (CPU) and a GPU
//! backend: wgpu, or CUDA (see `parity_backend` for how the backend under test is chosen).
//!
//! Every model is built once on flex with a seed, copied to the GPU backend through its record
//! (bit-exact, checked), and both copies are run on the same input. Outputs must agree within a
//! stated tolerance: `|flex - gpu| <= atol + rtol * |flex|` element-wise. The two backends sum in
//! different orders (and lavapipe's shaders fuse multiply-adds), so f32 results differ in the
//! last bits; the tolerances are about ten times the worst difference measured on Mesa lavapipe
//! (`XDG_RUNTIME_DIR=/tmp cargo test -p metanas --features wgpu --test parity -- --nocapture`
//! prints every worst difference). CUDA is held to the same tolerances
//! (`cargo test --release -p metanas --features cuda --test parity -- --nocapture`, on a machine
//! with an NVIDIA driver; `scripts/gpu-check.sh` runs it).
//!
//! To cover another model (graph decoder, predictor): write the test body generic over the
//! backend under test (`fn body<G: AutodiffBackend>(gpu: &G::Device)`), build the model on
//! [`Cpu`], [`copy_to_gpu`] it into a module built on `G` with a different seed, run both, and
//! [`assert_close`] the outputs ([`assert_params_close`] for whole modules); the `#[test]` is
//! `on_gpu!(body)`.
//!
//! Runs on any wgpu adapter; without a GPU, install Mesa's lavapipe
//! (`apt-get install mesa-vulkan-drivers libvulkan1`). `.ci/run` does.
#![cfg(any(feature = "wgpu", feature = "cuda"))]

mod parity_backend;

use burn::backend::flex::FlexDevice;
use burn::backend::{Autodiff, Flex};
use burn::module::{AutodiffModule, Module, ModuleVisitor, Param};
use burn::nn::loss::CrossEntropyLoss;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{GradientsParams, Optimizer, SgdConfig};
use burn::record::{BinBytesRecorder, FullPrecisionSettings, Recorder};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Int, Tensor, TensorData};
use parity_backend::on_gpu;
use search_space::network::init::uniform_values;
use search_space::{Nb201Arch, Nb201Network, Nb201NetworkConfig};
use set_encoder::{SetBatch, SetEncoder, SetEncoderConfig};

/// The reference backend: flex on the CPU, with autodiff.
type Cpu = Autodiff<Flex>;

fn cpu() -> FlexDevice {
    FlexDevice
}

/// A tolerance `|a - b| <= atol + rtol * |a|`, `a` being the reference (flex) value.
#[derive(Clone, Copy, Debug)]
struct Tolerance {
    atol: f32,
    rtol: f32,
}

/// The largest difference found by [`assert_close`].
#[derive(Clone, Copy, Debug)]
struct Worst {
    /// Largest `|a - b|`.
    abs: f32,
    /// Largest `|a - b| / (atol + rtol * |a|)`: 1 is the limit.
    ratio: f32,
}

/// Asserts that `a` (reference) and `b` agree element-wise within `tol`, and prints the worst
/// element. Panics naming the worst element when they do not, or when either is not finite.
fn assert_close(name: &str, a: &[f32], b: &[f32], tol: Tolerance) -> Worst {
    assert_eq!(a.len(), b.len(), "{name}: lengths differ");
    assert!(!a.is_empty(), "{name}: nothing to compare");
    let (mut worst_abs, mut worst_ratio, mut worst_at) = (0.0f32, 0.0f32, 0);
    for (i, (&x, &y)) in a.iter().zip(b).enumerate() {
        assert!(
            x.is_finite() && y.is_finite(),
            "{name}[{i}]: non-finite {x} vs {y}"
        );
        let diff = (x - y).abs();
        let ratio = diff / (tol.atol + tol.rtol * x.abs());
        worst_abs = worst_abs.max(diff);
        if ratio > worst_ratio {
            (worst_ratio, worst_at) = (ratio, i);
        }
    }
    let (x, y) = (a[worst_at], b[worst_at]);
    println!(
        "{name}: {} values, max |diff| {worst_abs:.3e}; closest to the limit: [{worst_at}] \
         {x:.6e} vs {y:.6e} ({:.1}% of atol {:.0e} + rtol {:.0e}·|a|)",
        a.len(),
        worst_ratio * 100.0,
        tol.atol,
        tol.rtol
    );
    assert!(
        worst_ratio <= 1.0,
        "{name}: [{worst_at}] flex {x:e} vs {} {y:e}: |diff| {:e} > atol {:e} + rtol {:e}·|a|",
        parity_backend::name(),
        (x - y).abs(),
        tol.atol,
        tol.rtol
    );
    Worst {
        abs: worst_abs,
        ratio: worst_ratio,
    }
}

/// A tensor's values on the host.
fn values<B: Backend, const D: usize>(tensor: Tensor<B, D>) -> Vec<f32> {
    tensor
        .into_data()
        .convert::<f32>()
        .to_vec()
        .expect("a float tensor")
}

/// Every float parameter of a module with its path (`stem_conv.weight`), in visiting order.
fn named_params<B: Backend, M: Module<B>>(module: &M) -> Vec<(String, Vec<f32>)> {
    struct Collect {
        path: Vec<String>,
        params: Vec<(String, Vec<f32>)>,
    }
    impl<B: Backend> ModuleVisitor<B> for Collect {
        fn enter_module(&mut self, name: &str, _container_type: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _name: &str, _container_type: &str) {
            self.path.pop();
        }
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            self.params.push((self.path.join("."), values(param.val())));
        }
    }
    let mut collect = Collect {
        path: Vec::new(),
        params: Vec::new(),
    };
    module.visit(&mut collect);
    collect.params
}

/// [`assert_close`] on every parameter of two modules of the same structure; returns the worst
/// difference over all of them.
fn assert_params_close<A: Backend, B: Backend, MA: Module<A>, MB: Module<B>>(
    name: &str,
    a: &MA,
    b: &MB,
    tol: Tolerance,
) -> Worst {
    let (a, b) = (named_params(a), named_params(b));
    assert_eq!(a.len(), b.len(), "{name}: parameter counts differ");
    let mut worst = Worst {
        abs: 0.0,
        ratio: 0.0,
    };
    for ((path_a, a), (path_b, b)) in a.iter().zip(&b) {
        assert_eq!(path_a, path_b, "{name}: parameter order differs");
        let w = assert_close(&format!("{name}.{path_a}"), a, b, tol);
        worst.abs = worst.abs.max(w.abs);
        worst.ratio = worst.ratio.max(w.ratio);
    }
    worst
}

/// Loads `src`'s weights (parameters and buffers) into `dst`, a module of the same structure on
/// another backend, through a full-precision in-memory record: a bit-exact copy.
fn copy_module<A: Backend, B: Backend, MA: Module<A>, MB: Module<B>>(
    src: &MA,
    dst: MB,
    device: &B::Device,
) -> MB {
    let recorder = BinBytesRecorder::<FullPrecisionSettings>::default();
    let bytes = Recorder::<A>::record(&recorder, src.clone().into_record(), ())
        .expect("record the source module");
    let record = Recorder::<B>::load(&recorder, bytes, device).expect("load the record");
    dst.load_record(record)
}

/// [`copy_module`] from flex to the GPU backend, checking that every parameter arrived bit for
/// bit and that `dst` really was different before (so the test cannot pass by a shared seed
/// alone).
fn copy_to_gpu<G: AutodiffBackend, MA: Module<Cpu>, MB: Module<G>>(
    name: &str,
    src: &MA,
    dst: MB,
    gpu: &G::Device,
) -> MB {
    let before = named_params(&dst);
    let copied = copy_module(src, dst, gpu);
    let (src_params, after) = (named_params(src), named_params(&copied));
    assert_ne!(
        before,
        after,
        "{name}: the {} module must start from other weights",
        parity_backend::name()
    );
    assert_eq!(src_params, after, "{name}: the copy is not bit-exact");
    copied
}

/// `n` values in [-1, 1) from a fixed stream.
fn data(n: usize, seed: u64) -> Vec<f32> {
    uniform_values(n, 1.0, seed)
}

// ---------------------------------------------------------------------------------------------
// NAS-Bench-201 network

/// Every op of the space appears in the cell: conv 3×3, conv 1×1, avg pool, skip, none.
const ARCH: &str =
    "|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|none~1|nor_conv_3x3~2|";
const CLASSES: usize = 5;
const BATCH: usize = 8;
const RESOLUTION: usize = 16;

/// Logits of the inference network (BN with running statistics); also the training step's
/// loss and the BN running statistics it updates. Measured on lavapipe: max |diff| 1.5e-8
/// (logits), 0 (loss), 1.2e-7 (running variance ≈ 1).
const NB201_VALUES: Tolerance = Tolerance {
    atol: 1e-6,
    rtol: 1e-5,
};
/// The step itself (updated − initial: lr × the momentum/weight-decay-adjusted gradient). Small
/// steps carry the backward pass's rounding, so the relative part is the loose one (measured:
/// up to 2.6e-4 relative on steps of order 1e-5).
const NB201_STEP: Tolerance = Tolerance {
    atol: 1e-7,
    rtol: 1e-3,
};
/// Parameters after the step (measured: max |diff| 1.2e-7).
const NB201_UPDATED: Tolerance = Tolerance {
    atol: 1e-6,
    rtol: 1e-5,
};

fn nb201<B: Backend>(seed: u64, device: &B::Device) -> Nb201Network<B> {
    let arch: Nb201Arch = ARCH.parse().expect("a valid cell");
    Nb201NetworkConfig::new(arch)
        .with_channels(8)
        .with_cells_per_stage(1)
        .with_input_channels(3)
        .with_num_classes(CLASSES)
        .with_resolution(RESOLUTION)
        .with_seed(seed)
        .init(device)
}

fn images<B: Backend>(device: &B::Device) -> Tensor<B, 4> {
    let shape = [BATCH, 3, RESOLUTION, RESOLUTION];
    Tensor::from_data(
        TensorData::new(data(shape.iter().product(), 7), shape),
        device,
    )
}

fn labels<B: Backend>(device: &B::Device) -> Tensor<B, 1, Int> {
    let labels: Vec<i64> = (0..BATCH).map(|i| (i % CLASSES) as i64).collect();
    Tensor::from_data(TensorData::new(labels, [BATCH]), device)
}

#[test]
fn nb201_forward_matches() {
    on_gpu!(nb201_forward)
}

fn nb201_forward<G: AutodiffBackend>(gpu: &G::Device) {
    let flex = nb201::<Cpu>(1, &cpu());
    let tested = copy_to_gpu("nb201", &flex, nb201::<G>(2, gpu), gpu);
    let (flex, tested) = (flex.valid(), tested.valid());
    let a = values(flex.forward(images(&cpu())));
    let b = values(tested.forward(images(gpu)));
    assert_eq!(a.len(), BATCH * CLASSES);
    assert_close("nb201 logits", &a, &b, NB201_VALUES);
}

/// One SGD step as in training (Nesterov momentum 0.9, weight decay 5e-4, lr 0.1, BN with batch
/// statistics): the loss, the running statistics, the step and the updated parameters agree.
fn sgd_step<B: AutodiffBackend>(
    model: Nb201Network<B>,
    device: &B::Device,
) -> (f32, Nb201Network<B>) {
    let mut optim = SgdConfig::new()
        .with_momentum(Some(
            MomentumConfig::new()
                .with_momentum(0.9)
                .with_dampening(0.0)
                .with_nesterov(true),
        ))
        .with_weight_decay(Some(WeightDecayConfig::new(5e-4)))
        .init::<B, Nb201Network<B>>();
    let logits = model.forward(images(device));
    let loss = CrossEntropyLoss::new(None, device).forward(logits, labels(device));
    let loss_value = values(loss.clone())[0];
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    (loss_value, optim.step(0.1, model, grads))
}

#[test]
fn nb201_training_step_matches() {
    on_gpu!(nb201_training_step)
}

fn nb201_training_step<G: AutodiffBackend>(gpu: &G::Device) {
    let flex = nb201::<Cpu>(3, &cpu());
    let tested = copy_to_gpu("nb201", &flex, nb201::<G>(4, gpu), gpu);
    let initial = named_params(&flex);

    let (loss_a, flex) = sgd_step(flex, &cpu());
    let (loss_b, tested) = sgd_step(tested, gpu);
    assert_close("nb201 loss", &[loss_a], &[loss_b], NB201_VALUES);

    // The running statistics the training forward pass updated.
    for (name, a, b) in [
        (
            "stem_bn.running_mean",
            flex.stem_bn.running_mean.value(),
            tested.stem_bn.running_mean.value(),
        ),
        (
            "stem_bn.running_var",
            flex.stem_bn.running_var.value(),
            tested.stem_bn.running_var.value(),
        ),
        (
            "final_bn.running_mean",
            flex.final_bn.running_mean.value(),
            tested.final_bn.running_mean.value(),
        ),
        (
            "final_bn.running_var",
            flex.final_bn.running_var.value(),
            tested.final_bn.running_var.value(),
        ),
    ] {
        let a = values(a);
        assert_close(&format!("nb201 {name}"), &a, &values(b), NB201_VALUES);
    }

    // The step per parameter (updated − initial), then the updated parameters.
    let (after_a, after_b) = (named_params(&flex), named_params(&tested));
    let mut moved = 0.0f32;
    let mut worst_step = 0.0f32;
    for ((path, init), ((_, a), (_, b))) in initial.iter().zip(after_a.iter().zip(&after_b)) {
        let step =
            |after: &[f32]| -> Vec<f32> { after.iter().zip(init).map(|(x, x0)| x - x0).collect() };
        let (step_a, step_b) = (step(a), step(b));
        moved = step_a.iter().fold(moved, |m, s| m.max(s.abs()));
        let w = assert_close(&format!("nb201 step {path}"), &step_a, &step_b, NB201_STEP);
        worst_step = worst_step.max(w.ratio);
    }
    println!(
        "nb201 step: worst element at {:.1}% of the tolerance",
        worst_step * 100.0
    );
    assert!(moved > 1e-4, "the step barely moved the weights: {moved}");
    let worst = assert_params_close("nb201 updated", &flex, &tested, NB201_UPDATED);
    println!(
        "nb201 updated parameters: max |diff| {:.3e}, {:.1}% of the tolerance (largest step {moved:.3e})",
        worst.abs,
        worst.ratio * 100.0
    );
}

// ---------------------------------------------------------------------------------------------
// Set encoder

/// Latents of the set encoder (attention, MLPs, masked padding). Measured: max |diff| 8.9e-8.
const SET_ENCODER_LATENT: Tolerance = Tolerance {
    atol: 1e-6,
    rtol: 1e-5,
};

/// Features of tasks with `sizes[t][c]` images in class `c` of task `t`, `dim` values each, from
/// fixed streams.
fn task_features(sizes: &[&[usize]], dim: usize) -> Vec<Vec<Vec<f32>>> {
    sizes
        .iter()
        .enumerate()
        .map(|(t, classes)| {
            classes
                .iter()
                .enumerate()
                .map(|(c, &n)| data(n * dim, (t * 10 + c) as u64))
                .collect()
        })
        .collect()
}

#[test]
fn set_encoder_forward_matches() {
    on_gpu!(set_encoder_forward)
}

fn set_encoder_forward<G: AutodiffBackend>(gpu: &G::Device) {
    const DIM: usize = 16;
    let config = |seed| SetEncoderConfig::new(DIM).with_seed(seed);
    let flex: SetEncoder<Cpu> = config(5).init(&cpu());
    let tested = copy_to_gpu("set encoder", &flex, config(6).init::<G>(gpu), gpu);
    let (flex, tested) = (flex.valid(), tested.valid());

    // Three tasks of uneven shape, so the padding masks are exercised: 5 classes of 1–6
    // images, 2 classes of 3, 3 classes of 4–6.
    let tasks = task_features(&[&[1, 6, 2, 5, 3], &[3, 3], &[4, 6, 5]], DIM);
    let a = flex
        .encode(&SetBatch::from_classes(DIM, &tasks, &cpu()).expect("a valid batch"))
        .expect("encode on flex");
    let b = tested
        .encode(&SetBatch::from_classes(DIM, &tasks, gpu).expect("a valid batch"))
        .expect("encode on the GPU backend");
    assert_eq!(a.dims(), [3, flex.latent_dim()]);
    assert_close(
        "set encoder latent",
        &values(a),
        &values(b),
        SET_ENCODER_LATENT,
    );
}

/// Parameters after one SGD step (lr 0.1) of the set encoder.
const SET_ENCODER_STEP: Tolerance = Tolerance {
    atol: 1e-6,
    rtol: 1e-5,
};

/// `Σ latent ⊙ w` for a fixed `w`: every latent element gets its own upstream gradient.
fn weighted_sum<B: Backend>(latent: Tensor<B, 2>) -> Tensor<B, 1> {
    let w = Tensor::from_data(
        TensorData::new(data(latent.dims().iter().product(), 77), latent.dims()),
        &latent.device(),
    );
    (latent * w).sum()
}

#[test]
fn set_encoder_step_matches() {
    on_gpu!(set_encoder_step)
}

fn set_encoder_step<G: AutodiffBackend>(gpu: &G::Device) {
    const DIM: usize = 16;
    let config = |seed| SetEncoderConfig::new(DIM).with_seed(seed);
    let flex: SetEncoder<Cpu> = config(5).init(&cpu());
    let tested = copy_to_gpu("set encoder", &flex, config(6).init::<G>(gpu), gpu);
    for (name, sizes) in [
        ("dense", [&[5, 5, 5, 5][..], &[5, 5, 5, 5], &[5, 5, 5, 5]]),
        ("padded", [&[1, 6, 2, 5, 3][..], &[3, 3], &[4, 6, 5]]),
    ] {
        let tasks = task_features(&sizes, DIM);
        let a = flex
            .encode(&SetBatch::from_classes(DIM, &tasks, &cpu()).expect("a valid batch"))
            .expect("encode on flex");
        let b = tested
            .encode(&SetBatch::from_classes(DIM, &tasks, gpu).expect("a valid batch"))
            .expect("encode on the GPU backend");
        let stepped_a = gradient_step(flex.clone(), weighted_sum(a));
        let stepped_b = gradient_step(tested.clone(), weighted_sum(b));
        assert_params_close(
            &format!("set encoder after one SGD step ({name})"),
            &stepped_a,
            &stepped_b,
            SET_ENCODER_STEP,
        );
    }
}

/// Graph-model tolerances: the GRU recursions chain ~40 small matmuls.
const GRAPH_VALUES: Tolerance = Tolerance {
    atol: 1e-5,
    rtol: 1e-4,
};

/// One plain SGD step on `loss` (lr 0.1): the update is `lr·gradient`, so the comparison checks
/// the gradients. (Adam's first step is `lr·g/(|g| + ε)`, which turns float noise in gradients
/// near zero into full-size steps of either sign: not a backend difference.)
fn gradient_step<B: AutodiffBackend, M: burn::module::AutodiffModule<B>>(
    model: M,
    loss: Tensor<B, 1>,
) -> M {
    let mut optim = SgdConfig::new().init::<B, M>();
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    optim.step(0.1, model, grads)
}

fn nb201_graphs(indices: &[usize]) -> Vec<graph_vae::TypedGraph> {
    use graph_vae::GraphSpace;
    indices
        .iter()
        .map(|&i| graph_vae::Nb201Space.arch_to_graph(&Nb201Arch::from_index(i).expect("index")))
        .collect()
}

fn decoder_loss<B: Backend>(
    m: &graph_vae::GraphDecoder<B>,
    z: &[f32],
    graphs: &[graph_vae::TypedGraph],
    device: &B::Device,
) -> graph_vae::DecoderLoss<B> {
    let z = Tensor::from_data(TensorData::new(z.to_vec(), [graphs.len(), 56]), device);
    let batch = graph_vae::GraphBatch::new(graphs, 7, 8, device).expect("batch");
    m.loss(z, &batch).expect("loss")
}

fn decoder_greedy<B: Backend>(
    m: &graph_vae::GraphDecoder<B>,
    z: &[f32],
    n: usize,
    device: &B::Device,
) -> Vec<graph_vae::TypedGraph> {
    use rand::SeedableRng;
    let z = Tensor::from_data(TensorData::new(z.to_vec(), [n, 56]), device);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    m.decode(z, graph_vae::Decoding::Greedy, &mut rng)
        .expect("decode")
}

#[test]
fn graph_decoder_loss_step_and_decoding_match() {
    on_gpu!(graph_decoder_loss_step_and_decoding)
}

fn graph_decoder_loss_step_and_decoding<G: AutodiffBackend>(gpu: &G::Device) {
    use graph_vae::{GraphDecoder, GraphDecoderConfig};
    let config = |seed| GraphDecoderConfig::new().with_seed(seed);
    let flex: GraphDecoder<Cpu> = config(5).init(&cpu());
    let tested = copy_to_gpu("graph decoder", &flex, config(6).init::<G>(gpu), gpu);
    let graphs = nb201_graphs(&[0, 9_930, 15_624, 777]);
    let z = data(4 * 56, 11);
    let la = decoder_loss(&flex, &z, &graphs, &cpu());
    let lb = decoder_loss(&tested, &z, &graphs, gpu);
    assert_close(
        "decoder type NLL",
        &values(la.types.clone()),
        &values(lb.types.clone()),
        GRAPH_VALUES,
    );
    assert_close(
        "decoder edge BCE",
        &values(la.edges.clone()),
        &values(lb.edges.clone()),
        GRAPH_VALUES,
    );
    let flex = gradient_step(flex, la.total());
    let tested = gradient_step(tested, lb.total());
    assert_params_close(
        "graph decoder after one SGD step",
        &flex,
        &tested,
        GRAPH_VALUES,
    );

    // Greedy decoding of the same latents gives the same graphs.
    let (flex, tested) = (flex.valid(), tested.valid());
    assert_eq!(
        decoder_greedy(&flex, &z, 4, &cpu()),
        decoder_greedy(&tested, &z, 4, gpu)
    );
}

fn predict<B: Backend>(
    m: &meta_predictor::MetaPredictor<B>,
    tasks: &[Vec<Vec<f32>>],
    dim: usize,
    graphs: &[graph_vae::TypedGraph],
    device: &B::Device,
) -> Tensor<B, 1> {
    let set = SetBatch::from_classes(dim, tasks, device).expect("sets");
    let graphs = graph_vae::GraphBatch::new(graphs, 7, 8, device).expect("graphs");
    m.forward(&set, &graphs).expect("forward")
}

#[test]
fn meta_predictor_forward_and_step_match() {
    on_gpu!(meta_predictor_forward_and_step)
}

fn meta_predictor_forward_and_step<G: AutodiffBackend>(gpu: &G::Device) {
    use meta_predictor::{MetaPredictor, MetaPredictorConfig};
    const DIM: usize = 16;
    let config = |seed| {
        MetaPredictorConfig::new(DIM)
            .with_graph_hidden(64)
            .with_seed(seed)
    };
    let flex: MetaPredictor<Cpu> = config(5).try_init(&cpu()).expect("predictor");
    let tested = copy_to_gpu(
        "meta-predictor",
        &flex,
        config(6).try_init::<G>(gpu).expect("predictor"),
        gpu,
    );
    let graphs = nb201_graphs(&[1, 2_000, 9_930]);
    let tasks: Vec<Vec<Vec<f32>>> = (0..3)
        .map(|t| (0..4).map(|c| data(5 * DIM, (t * 10 + c) as u64)).collect())
        .collect();
    let pa = predict(&flex, &tasks, DIM, &graphs, &cpu());
    let pb = predict(&tested, &tasks, DIM, &graphs, gpu);
    assert_close(
        "predictor output",
        &values(pa.clone()),
        &values(pb.clone()),
        GRAPH_VALUES,
    );
    let flex = gradient_step(flex, pa.powi_scalar(2).sum());
    let tested = gradient_step(tested, pb.powi_scalar(2).sum());
    // The set encoder's parameters too: with Burn's fused wgpu backend they differed by up to
    // ~1e-3 here (the PMA gradients; see `parity_ops.rs`), which is why metanas runs unfused.
    assert_params_close(
        "meta-predictor after one SGD step: set encoder",
        &flex.set_encoder,
        &tested.set_encoder,
        GRAPH_VALUES,
    );
    assert_params_close(
        "meta-predictor after one SGD step: graph encoder",
        &flex.graph_encoder,
        &tested.graph_encoder,
        GRAPH_VALUES,
    );
    for (name, a, b) in [
        ("graph_fuse", &flex.graph_fuse, &tested.graph_fuse),
        ("graph_out", &flex.graph_out, &tested.graph_out),
        ("head_hidden", &flex.head_hidden, &tested.head_hidden),
        ("head_out", &flex.head_out, &tested.head_out),
    ] {
        assert_params_close(
            &format!("meta-predictor after one SGD step: {name}"),
            a,
            b,
            GRAPH_VALUES,
        );
    }
}
