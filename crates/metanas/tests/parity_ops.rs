//! Backward parity of the tensor ops and blocks the models are built from: every input's
//! gradient on the GPU backend (wgpu, or CUDA: see `parity_backend`) must match flex's.
//! `parity.rs` compares whole models; when one of those disagrees, this suite says where.
//!
//! Each case builds its inputs from fixed streams on both backends, computes
//! `loss = Σ f(inputs) ⊙ w` for a fixed random `w` (so every output element gets its own
//! upstream gradient), and compares `∂loss/∂input` for every input.
//!
//! This suite found why the set encoder's gradients differed on wgpu: Burn 0.21.0's *fused*
//! wgpu backend gets one-query attention (PMA) wrong, while every op alone and the unfused
//! backend are right. metanas therefore dispatches to unfused wgpu and, as CUDA shares the
//! fusion code, unfused CUDA (`metanas::device`); [`fused_wgpu_report`] and
//! [`fused_cuda_report`] print the fused backends' differences.
//!
//! `XDG_RUNTIME_DIR=/tmp cargo test -p metanas --features wgpu --test parity_ops -- --nocapture`
//! (add `--include-ignored` for the fused report); on an NVIDIA machine
//! `cargo test --release -p metanas --features cuda --test parity_ops -- --nocapture
//! --include-ignored` (`scripts/gpu-check.sh` runs it).
#![cfg(any(feature = "wgpu", feature = "cuda"))]

mod parity_backend;

use burn::backend::flex::FlexDevice;
use burn::backend::{Autodiff, Flex};
use burn::tensor::activation::softmax;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Bool, Tensor, TensorData};
use parity_backend::on_gpu;
use search_space::network::init::uniform_values;
use set_encoder::{MabConfig, PmaConfig, SetEncoderConfig};

type Cpu = Autodiff<Flex>;

/// `|flex - gpu| <= ATOL + RTOL·|flex|`: f32 sums in other orders (inputs are O(1)).
const ATOL: f32 = 1e-5;
const RTOL: f32 = 1e-4;

#[derive(Clone, Copy, Debug)]
enum Op {
    /// `[1, 1, 8] → repeat_dim(0, 6)`: how the PMA seeds meet a batch.
    RepeatDim,
    /// `[6, 1, 8] · [8, 12]` (the weight broadcast over the batch).
    BroadcastMatmul,
    /// `[12, 1, 4, 14].swap_dims(1, 2) · [12, 4, 5, 14].swap_dims(2, 3)`: one query's scores
    /// in multi-head attention, both factors strided views.
    Matmul4dOneRowViews,
    /// `[3, 2, 5, 4] · [3, 2, 4, 1]`.
    Matmul4dOneColumn,
    /// softmax over the last dim of `[3, 2, 1, 5]`.
    Softmax,
    /// `mask_fill` of `[3, 2, 1, 5]` with a broadcast key mask.
    MaskFill,
    /// `[3, 1, 8] → [3, 1, 2, 4] → swap_dims(1, 2) → ·2 → swap back → [3, 1, 8]`.
    SplitHeads,
    /// sum over dim 1 of `[4, 5, 6]`, then mean over dim 1 of the result.
    SumMean,
    /// `burn::tensor::module::linear` (56 → 56, bias) on `[12, 1, 56]`.
    LinearOneRow,
    /// `set_encoder::Mab` (16 → 16, 4 heads) as self-attention on 6 sets of 5: the input and
    /// every weight and bias.
    Mab,
    /// `set_encoder::Mab` (56, 4 heads of 14) with one query per set, `[12, 1, 56]` against
    /// `[12, 5, 56]`: both inputs and `fc_q`'s weight.
    MabOneQuery,
    /// `set_encoder::Pma` (56, one seed) on 12 sets of 5: the input and the seeds.
    Pma,
    /// `set_encoder::SetEncoder` (16-d features, defaults) on 3 tasks × 4 classes × 5 images:
    /// the features, the first SAB's `fc_q` weight, the inter-level PMA seeds.
    SetEncoder,
}

const OPS: [Op; 13] = [
    Op::RepeatDim,
    Op::BroadcastMatmul,
    Op::Matmul4dOneRowViews,
    Op::Matmul4dOneColumn,
    Op::Softmax,
    Op::MaskFill,
    Op::SplitHeads,
    Op::SumMean,
    Op::LinearOneRow,
    Op::Mab,
    Op::MabOneQuery,
    Op::Pma,
    Op::SetEncoder,
];

fn input<B: Backend, const D: usize>(
    shape: [usize; D],
    seed: u64,
    device: &B::Device,
) -> Tensor<B, D> {
    let n = shape.iter().product();
    Tensor::from_data(TensorData::new(uniform_values(n, 1.0, seed), shape), device)
}

fn leaf<B: AutodiffBackend, const D: usize>(
    shape: [usize; D],
    seed: u64,
    device: &B::Device,
) -> Tensor<B, D> {
    input(shape, seed, device).require_grad()
}

fn host<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
    t.into_data().convert::<f32>().to_vec().expect("f32 values")
}

/// `Σ y ⊙ w` with `w` a fixed stream of `y`'s shape.
fn weighted_sum<B: Backend, const D: usize>(y: Tensor<B, D>) -> Tensor<B, 1> {
    let w = input::<B, D>(y.dims(), 99, &y.device());
    (y * w).sum()
}

/// The gradients of `op`'s inputs, in a fixed order.
fn gradients<B: AutodiffBackend>(op: Op, device: &B::Device) -> Vec<Vec<f32>> {
    // The gradient of a leaf (or a parameter's value) after `backward`.
    macro_rules! grad {
        ($grads:expr, $t:expr) => {
            host(
                $t.grad(&$grads)
                    .expect(concat!(stringify!($t), " has a gradient")),
            )
        };
    }
    match op {
        Op::RepeatDim => {
            let x = leaf::<B, 3>([1, 1, 8], 1, device);
            let grads = weighted_sum(x.clone().repeat_dim(0, 6)).backward();
            vec![grad!(grads, x)]
        }
        Op::BroadcastMatmul => {
            let x = leaf::<B, 3>([6, 1, 8], 1, device);
            let w = leaf::<B, 2>([8, 12], 2, device);
            let grads = weighted_sum(x.clone().matmul(w.clone().unsqueeze())).backward();
            vec![grad!(grads, x), grad!(grads, w)]
        }
        Op::Matmul4dOneRowViews => {
            let a = leaf::<B, 4>([12, 1, 4, 14], 1, device);
            let b = leaf::<B, 4>([12, 4, 5, 14], 2, device);
            let y = a.clone().swap_dims(1, 2).matmul(b.clone().swap_dims(2, 3));
            let grads = weighted_sum(y).backward();
            vec![grad!(grads, a), grad!(grads, b)]
        }
        Op::Matmul4dOneColumn => {
            let a = leaf::<B, 4>([3, 2, 5, 4], 1, device);
            let b = leaf::<B, 4>([3, 2, 4, 1], 2, device);
            let grads = weighted_sum(a.clone().matmul(b.clone())).backward();
            vec![grad!(grads, a), grad!(grads, b)]
        }
        Op::Softmax | Op::MaskFill => {
            let x = leaf::<B, 4>([3, 2, 1, 5], 1, device);
            let y = if matches!(op, Op::Softmax) {
                softmax(x.clone() * 3.0, 3)
            } else {
                let valid: Vec<bool> = (0..15).map(|i| i % 4 != 3).collect();
                let masked =
                    Tensor::<B, 2, Bool>::from_data(TensorData::new(valid, [3, 5]), device)
                        .bool_not()
                        .reshape([3, 1, 1, 5])
                        .expand([3, 2, 1, 5]);
                x.clone().mask_fill(masked, -1.0e4)
            };
            let grads = weighted_sum(y).backward();
            vec![grad!(grads, x)]
        }
        Op::SplitHeads => {
            let x = leaf::<B, 3>([3, 1, 8], 1, device);
            let y = (x.clone().reshape([3, 1, 2, 4]).swap_dims(1, 2) * 2.0)
                .swap_dims(1, 2)
                .reshape([3, 1, 8]);
            let grads = weighted_sum(y).backward();
            vec![grad!(grads, x)]
        }
        Op::SumMean => {
            let x = leaf::<B, 3>([4, 5, 6], 1, device);
            let grads = weighted_sum(x.clone().sum_dim(1).mean_dim(2)).backward();
            vec![grad!(grads, x)]
        }
        Op::LinearOneRow => {
            let x = leaf::<B, 3>([12, 1, 56], 1, device);
            let w = leaf::<B, 2>([56, 56], 2, device);
            let b = leaf::<B, 1>([56], 3, device);
            let y = burn::tensor::module::linear(x.clone(), w.clone(), Some(b.clone()));
            let grads = weighted_sum(y).backward();
            vec![grad!(grads, x), grad!(grads, w), grad!(grads, b)]
        }
        Op::Mab => {
            let mab = MabConfig::new(16, 16, 16)
                .with_num_heads(4)
                .with_seed(3)
                .init::<B>(device);
            let x = leaf::<B, 3>([6, 5, 16], 1, device);
            let grads = weighted_sum(mab.forward(x.clone(), x.clone(), None)).backward();
            let mut out = vec![grad!(grads, x)];
            for l in [&mab.fc_q, &mab.fc_k, &mab.fc_v, &mab.fc_o] {
                out.push(grad!(grads, l.weight.val()));
                out.push(grad!(grads, l.bias.as_ref().expect("a bias").val()));
            }
            out
        }
        Op::MabOneQuery => {
            let mab = MabConfig::new(56, 56, 56)
                .with_num_heads(4)
                .with_seed(3)
                .init::<B>(device);
            let x = leaf::<B, 3>([12, 5, 56], 1, device);
            let q = leaf::<B, 3>([12, 1, 56], 2, device);
            let grads = weighted_sum(mab.forward(q.clone(), x.clone(), None)).backward();
            vec![
                grad!(grads, x),
                grad!(grads, q),
                grad!(grads, mab.fc_q.weight.val()),
            ]
        }
        Op::Pma => {
            let pma = PmaConfig::new(56).with_seed(3).init::<B>(device);
            let x = leaf::<B, 3>([12, 5, 56], 1, device);
            let grads = weighted_sum(pma.forward(x.clone(), None)).backward();
            vec![grad!(grads, x), grad!(grads, pma.seeds.val())]
        }
        Op::SetEncoder => {
            let encoder = SetEncoderConfig::new(16).with_seed(3).init::<B>(device);
            let x = leaf::<B, 4>([3, 4, 5, 16], 1, device);
            let grads = weighted_sum(encoder.forward(x.clone(), None, None)).backward();
            let set_encoder::SetBlock::Sab(first) = &encoder.intra.blocks[0] else {
                unreachable!("SAB is the default block")
            };
            vec![
                grad!(grads, x),
                grad!(grads, first.mab.fc_q.weight.val()),
                grad!(grads, encoder.inter.pma.seeds.val()),
            ]
        }
    }
}

/// The largest `|a - b| / (ATOL + RTOL·|a|)` over one input's gradient (1 is the limit; NaN
/// counts as worst), and where.
fn worst(a: &[f32], b: &[f32]) -> (f32, usize) {
    assert_eq!(a.len(), b.len(), "gradient sizes differ");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs() / (ATOL + RTOL * x.abs()))
        .enumerate()
        .fold(
            (0.0f32, 0),
            |w, (j, r)| {
                if r > w.0 || r.is_nan() {
                    (r, j)
                } else {
                    w
                }
            },
        )
}

/// Compares every op's gradients on `G` (named `backend` in the output) with flex's; returns
/// the failures.
fn compare<G: AutodiffBackend>(
    ops: &[Op],
    label: &str,
    backend: &str,
    device: &G::Device,
) -> Vec<String> {
    let mut failures = Vec::new();
    for &op in ops {
        let a = gradients::<Cpu>(op, &FlexDevice);
        let b = gradients::<G>(op, device);
        assert_eq!(a.len(), b.len());
        for (i, (a, b)) in a.iter().zip(&b).enumerate() {
            let (ratio, at) = worst(a, b);
            println!(
                "{label}, {op:?} input {i}: {} values, worst [{at}] flex {:.6e} {backend} {:.6e} \
                 ({:.1}% of the tolerance)",
                a.len(),
                a[at],
                b[at],
                ratio * 100.0
            );
            if ratio.is_nan() || ratio > 1.0 {
                failures.push(format!(
                    "{op:?} input {i}: flex {} vs {backend} {}",
                    a[at], b[at]
                ));
            }
        }
    }
    failures
}

#[test]
fn op_gradients_match_flex() {
    on_gpu!(op_gradients)
}

fn op_gradients<G: AutodiffBackend>(gpu: &G::Device) {
    let name = parity_backend::name();
    let failures = compare::<G>(&OPS, name, name, gpu);
    assert!(failures.is_empty(), "gradients differ: {failures:#?}");
}

/// The blocks the fused-backend reports compare: plain attention, and the one-query attention
/// that fusion got wrong on wgpu.
const FUSED_OPS: [Op; 3] = [Op::Mab, Op::MabOneQuery, Op::Pma];

/// Why metanas dispatches to unfused wgpu. Measured on Mesa lavapipe: `Mab` agrees, while
/// `MabOneQuery` and `Pma` differ by up to ~2 (flex -3.0e-2, fused 2.2e0), signs flipped.
/// Printed, not asserted: the fused backend is not what metanas runs, and what fusion does
/// depends on the device.
#[cfg(feature = "wgpu")]
#[test]
#[ignore = "a report on Burn's fused wgpu backend; run with --include-ignored"]
fn fused_wgpu_report() {
    use burn::backend::wgpu::WgpuDevice;
    // Burn's default wgpu backend, with kernel fusion.
    type GpuFused = Autodiff<burn::backend::Wgpu>;
    let device = WgpuDevice::DefaultDevice;
    let failures = compare::<GpuFused>(&FUSED_OPS, "fused wgpu", "wgpu", &device);
    println!("fused wgpu: {} inputs out of tolerance", failures.len());
}

/// The same report on Burn's fused CUDA backend (`burn::backend::Cuda`, which fuses kernels
/// with Burn's default features) on device 0: does the wgpu fusion bug exist there? Printed,
/// not asserted, like the wgpu report. Without an NVIDIA driver or NVRTC it fails with the
/// device module's message instead of a panic inside Burn.
#[cfg(feature = "cuda")]
#[test]
#[ignore = "a report on Burn's fused CUDA backend; run with --include-ignored on an NVIDIA GPU"]
fn fused_cuda_report() {
    use burn::backend::cuda::CudaDevice;
    use metanas::device::DeviceSpec;
    type CudaFused = Autodiff<burn::backend::Cuda>;
    if let Err(e) = DeviceSpec::Cuda(None).check() {
        panic!("fused CUDA report: {e}");
    }
    let device = CudaDevice::new(0);
    println!("fused cuda: backend {}", CudaFused::name(&device));
    let failures = compare::<CudaFused>(&FUSED_OPS, "fused cuda", "cuda", &device);
    println!("fused cuda: {} inputs out of tolerance", failures.len());
}
