//! Synaptic flow (Tanaka et al., "Pruning neural networks without any data by iteratively
//! conserving synaptic flow", NeurIPS 2020), as a zero-cost proxy (Abdelfattah et al.,
//! "Zero-Cost Proxies for Lightweight NAS", ICLR 2021).

use burn::module::{Module, ModuleMapper, Param};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::Tensor;
use search_space::network::{BatchNorm2d, BatchNorm2dConfig, BnMode, EdgeOp};
use search_space::Nb201Network;

use super::error::{ProxyError, Result};
use super::proxy::Proxy;
use super::weights::{layer_weights, LayerWeight};

/// Below this output sum the unit-scale pass is used as is: gradients stay below it too (see
/// [`synflow`]), far from `f32`'s overflow at ≈ 2¹²⁸.
const PLAIN_LIMIT: f64 = 18_446_744_073_709_551_616.0; // 2⁶⁴

/// Input scales `2^-e` tried, in order, to measure the output when the unit input overflows.
const PROBE_EXPONENTS: [i32; 2] = [64, 120];

/// Synflow of `network`:
///
/// ```text
/// R(θ) = 1ᵀ f(𝟙; |θ|)            network with every parameter replaced by its absolute value,
///                                batch norm removed, on one all-ones image
/// synflow = Σ_layers Σ_{θ ∈ W_l} |θ · ∂R/∂θ|     over every conv and the classifier weight
/// ```
///
/// as the reference implementation of the zero-cost proxies computes it (`synflow` with
/// `bn=False`: batch norms are the identity, the network is the rest of the untrained network).
/// The input is `[1, input_channels, resolution, resolution]` of ones; the minibatch's images
/// are not used. All activations are non-negative, so every ReLU is the identity and `R` is a
/// polynomial in `|θ|` with non-negative coefficients: the score is ≥ 0, and exactly 0 when no
/// path joins input and output (a cell whose output node is disconnected from its input).
///
/// Precision: the reference runs in `f64` because the score of a deep network overflows
/// `f32` (≈ 300× per all-`nor_conv_3x3` cell at C = 16). Here the network runs in the
/// backend's `f32`, and overflow is avoided exactly instead: without batch norm the network
/// is linear in its input, so scaling the input by `α = 2⁻ᵉ` and the backward seed by `β = 2⁻ᵉ`
/// scales every term `θ · ∂R/∂θ` by `αβ`, a power of two, which is divided out in `f64`.
/// `e = 0` (the plain computation) whenever the output sum stays below 2⁶⁴; otherwise `e` is
/// chosen so that activations and gradients both stay near `√R`. This reaches scores of about
/// 10⁷⁰; beyond that the result is [`ProxyError::NonFinite`]. The classifier bias adds the
/// constant `Σ|b|` to `R` and enters no weight's gradient, so it is dropped (set to 0).
///
/// The network's own parameters are not changed (the score uses a copy).
pub fn synflow<B: AutodiffBackend>(network: &Nb201Network<B>) -> Result<f64> {
    let linear = linearize(network.clone());
    let (score, output) = scaled_pass(&linear, 0, true);
    if output.is_finite() && output <= PLAIN_LIMIT && score.is_finite() {
        return Ok(score);
    }
    let overflow = ProxyError::NonFinite {
        proxy: Proxy::Synflow,
        value: f64::INFINITY,
        fix: "the network's synaptic flow overflows f32 even rescaled (above ~1e70): score a \
              narrower or shallower network (ProxyConfig::channels, cells_per_stage)",
    };
    // The output sum R at unit scale, measured at a smaller input scale if it overflowed.
    let output = if output.is_finite() {
        output
    } else {
        PROBE_EXPONENTS
            .iter()
            .map(|&e| scaled_pass(&linear, e, false).1)
            .find(|r| r.is_finite())
            .ok_or(overflow.clone())?
    };
    // Balance: activations reach ~α·R and gradients ~β·R at worst; α = β = 2^-e ≈ R^-1/2.
    let exponent = (output.log2() / 2.0).ceil() as i32;
    if exponent > 126 {
        return Err(overflow);
    }
    let (score, _) = scaled_pass(&linear, exponent, true);
    if score.is_finite() {
        Ok(score)
    } else {
        Err(overflow)
    }
}

/// Runs the linearised network on `2^-e · 𝟙` and, if `backward`, back-propagates
/// `2^-e · Σ output`. Returns `(synflow, R)` with both scale factors divided out (`synflow` is
/// NaN without `backward`).
pub(super) fn scaled_pass<B: AutodiffBackend>(
    network: &Nb201Network<B>,
    exponent: i32,
    backward: bool,
) -> (f64, f64) {
    let device = network.stem_conv.weight.val().device();
    let side = network.resolution;
    let scale = 2f64.powi(-exponent);
    let input = Tensor::<B, 4>::ones([1, network.input_channels, side, side], &device)
        .mul_scalar(scale as f32);
    let output = network.forward_mode(input, BnMode::Eval).sum();
    let sum = scalar(output.clone().inner()) / scale;
    if !backward {
        return (f64::NAN, sum);
    }
    let grads = output.mul_scalar(scale as f32).backward();
    let mut per_layer = Vec::new();
    for named in layer_weights(network) {
        let term = match named.weight {
            LayerWeight::Conv(w) => w.grad(&grads).map(|g| (w.inner() * g).abs().sum()),
            LayerWeight::Linear(w) => w.grad(&grads).map(|g| (w.inner() * g).abs().sum()),
        };
        per_layer.extend(term);
    }
    let score = if per_layer.is_empty() {
        0.0
    } else {
        Tensor::cat(per_layer, 0)
            .into_data()
            .iter::<f64>()
            .sum::<f64>()
    };
    (score / (scale * scale), sum)
}

/// The single value of a `[1]` tensor, as `f64`.
fn scalar<B: Backend>(t: Tensor<B, 1>) -> f64 {
    t.into_data().iter::<f64>().next().unwrap_or(f64::NAN)
}

/// The network synflow scores: every parameter replaced by its absolute value (a fresh leaf
/// that requires gradients), every batch norm the identity, the classifier bias zero.
pub(super) fn linearize<B: AutodiffBackend>(network: Nb201Network<B>) -> Nb201Network<B> {
    let mut net = network.map(&mut AbsoluteValue);
    let device = net.stem_conv.weight.val().device();
    let identity = |bn: &BatchNorm2d<B>| {
        // γ = 1, β = 0, running mean 0, running variance 1, ε = 0: in eval mode the scale is
        // exactly 1/√1 and the shift exactly 0.
        BatchNorm2dConfig::new(bn.gamma.lazy_shape().dims::<1>()[0])
            .with_epsilon(0.0)
            .init(&device)
    };
    net.stem_bn = identity(&net.stem_bn);
    for cell in net.stages.iter_mut().flatten() {
        for edge in cell.edges.iter_mut().flatten() {
            if let EdgeOp::Conv1x1(op) | EdgeOp::Conv3x3(op) = edge {
                op.bn = identity(&op.bn);
            }
        }
    }
    for block in &mut net.reductions {
        block.conv_a.bn = identity(&block.conv_a.bn);
        block.conv_b.bn = identity(&block.conv_b.bn);
    }
    net.final_bn = identity(&net.final_bn);
    if let Some(bias) = net.classifier.bias.take() {
        net.classifier.bias =
            Some(bias.map(|b| Tensor::from_inner(b.inner().zeros_like()).require_grad()));
    }
    net
}

/// Maps every float parameter to its absolute value, as a new leaf that requires gradients.
struct AbsoluteValue;

impl<B: AutodiffBackend> ModuleMapper<B> for AbsoluteValue {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        param.map(|t| Tensor::from_inner(t.inner().abs()).require_grad())
    }
}
