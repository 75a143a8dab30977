//! The MBConv block (inverted residual with a depthwise convolution).

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::PaddingConfig2d;
use burn::tensor::{backend::Backend, Tensor};

use super::squeeze_excite::{SqueezeExcite, SqueezeExciteConfig};
use crate::mbv3::plan::{Activation, MbConvSpec};
use crate::network::init::{mix, uniform_param};
use crate::network::{conv_module, pointwise_conv, BatchNorm2d, BatchNorm2dConfig, BnMode};

// Roles of the block's parts in the seed derivation.
const TAG_EXPAND: u64 = 0;
const TAG_DEPTHWISE: u64 = 1;
const TAG_SE: u64 = 2;
const TAG_PROJECT: u64 = 3;

/// Configuration of an [`MbConv`].
#[derive(Config, Debug)]
pub struct MbConvConfig {
    /// Widths, kernel, stride, squeeze-and-excite and activation of the block.
    pub spec: MbConvSpec,
    /// Seed of the weights' random streams.
    #[config(default = 0)]
    pub seed: u64,
}

/// An MBConv block (OFA's `MBConvLayer` in a `ResidualBlock`):
///
/// ```text
/// x [B, in, H, W]
///   → [Conv1×1 in → mid (no bias) → BN → act]          (only when mid ≠ in)
///   → depthwise Conv k×k, stride s, padding k/2 → BN → act
///   → [squeeze-and-excite]
///   → Conv1×1 mid → out (no bias) → BN                  (no activation: a linear bottleneck)
///   (+ x when s = 1 and in = out)
/// ```
#[derive(Module, Debug)]
pub struct MbConv<B: Backend> {
    /// The expand (inverted-bottleneck) 1×1 convolution, weight `[mid, in, 1, 1]`.
    pub expand: Option<Conv2d<B>>,
    /// Batch norm after the expand convolution.
    pub expand_bn: Option<BatchNorm2d<B>>,
    /// The depthwise convolution, weight `[mid, 1, k, k]`, `mid` groups.
    pub depthwise: Conv2d<B>,
    /// Batch norm after the depthwise convolution.
    pub depthwise_bn: BatchNorm2d<B>,
    /// Squeeze-and-excite after the depthwise stage, if the block has it.
    pub se: Option<SqueezeExcite<B>>,
    /// The projection 1×1 convolution, weight `[out, mid, 1, 1]`.
    pub project: Conv2d<B>,
    /// Batch norm after the projection.
    pub project_bn: BatchNorm2d<B>,
    /// The block's nonlinearity.
    #[module(skip)]
    pub activation: Activation,
    /// Whether the input is added to the output.
    pub residual: bool,
}

/// A 1×1 convolution without bias, weight `U(±1/√c_in)` from stream `seed`.
pub(crate) fn pointwise<B: Backend>(
    c_in: usize,
    c_out: usize,
    seed: u64,
    device: &B::Device,
) -> Conv2d<B> {
    let mut conv = Conv2dConfig::new([c_in, c_out], [1, 1])
        .with_bias(false)
        .init(device);
    conv.weight = uniform_param(
        [c_out, c_in, 1, 1],
        1.0 / (c_in as f32).sqrt(),
        seed,
        device,
    );
    conv
}

impl MbConvConfig {
    /// Builds the block.
    ///
    /// # Panics
    /// If the kernel size is even or a width or the stride is zero.
    pub fn init<B: Backend>(&self, device: &B::Device) -> MbConv<B> {
        let s = &self.spec;
        assert!(
            s.kernel % 2 == 1 && s.stride > 0 && s.c_in > 0 && s.c_mid > 0 && s.c_out > 0,
            "MbConvConfig: invalid block {s:?}"
        );
        let (k, mid) = (s.kernel, s.c_mid);
        let pad = k / 2;
        let mut depthwise = Conv2dConfig::new([mid, mid], [k, k])
            .with_groups(mid)
            .with_stride([s.stride, s.stride])
            .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
            .with_bias(false)
            .init(device);
        depthwise.weight = uniform_param(
            [mid, 1, k, k],
            1.0 / (k as f32),
            mix(self.seed, TAG_DEPTHWISE),
            device,
        );
        let has_expand = s.has_expand();
        MbConv {
            expand: has_expand.then(|| pointwise(s.c_in, mid, mix(self.seed, TAG_EXPAND), device)),
            expand_bn: has_expand.then(|| BatchNorm2dConfig::new(mid).init(device)),
            depthwise,
            depthwise_bn: BatchNorm2dConfig::new(mid).init(device),
            se: s.se_mid.map(|squeezed| {
                SqueezeExciteConfig::new(mid, squeezed)
                    .with_seed(mix(self.seed, TAG_SE))
                    .init(device)
            }),
            project: pointwise(mid, s.c_out, mix(self.seed, TAG_PROJECT), device),
            project_bn: BatchNorm2dConfig::new(s.c_out).init(device),
            activation: s.activation,
            residual: s.residual(),
        }
    }
}

impl<B: Backend> MbConv<B> {
    /// - `input`: `[batch, in, height, width]`
    /// - output: `[batch, out, ⌈height/stride⌉, ⌈width/stride⌉]`
    pub fn forward(&self, input: Tensor<B, 4>, mode: BnMode) -> Tensor<B, 4> {
        let act = self.activation;
        let mut x = input.clone();
        if let (Some(conv), Some(bn)) = (&self.expand, &self.expand_bn) {
            x = act.forward(bn.forward_mode(pointwise_conv(x, conv.weight.val()), mode));
        }
        x = act.forward(
            self.depthwise_bn
                .forward_mode(conv_module(&self.depthwise, x), mode),
        );
        if let Some(se) = &self.se {
            x = se.forward(x);
        }
        x = self
            .project_bn
            .forward_mode(pointwise_conv(x, self.project.weight.val()), mode);
        if self.residual {
            x + input
        } else {
            x
        }
    }
}
