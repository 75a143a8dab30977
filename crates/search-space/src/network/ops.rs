//! The NAS-Bench-201 cell operations as modules.

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::PaddingConfig2d;
use burn::tensor::activation::relu;
use burn::tensor::module::avg_pool2d;
use burn::tensor::{backend::Backend, Tensor};

use super::batch_norm::{BatchNorm2d, BatchNorm2dConfig, BnMode};
use super::init::uniform_param;

/// Configuration of a [`ReluConvBn`].
#[derive(Config, Debug)]
pub struct ReluConvBnConfig {
    /// Input channels.
    pub channels_in: usize,
    /// Output channels.
    pub channels_out: usize,
    /// Square kernel size (odd); the padding is `kernel_size / 2`.
    pub kernel_size: usize,
    /// Convolution stride.
    #[config(default = 1)]
    pub stride: usize,
    /// Seed of the convolution weights' random stream.
    #[config(default = 0)]
    pub seed: u64,
}

/// NAS-Bench-201's `ReLUConvBN`: ReLU → Conv (no bias, padding `k/2`) → BatchNorm (affine).
/// The cell ops `nor_conv_1x1` and `nor_conv_3x3`, and both halves of a [residual
/// block](super::ResidualBlock).
#[derive(Module, Debug)]
pub struct ReluConvBn<B: Backend> {
    /// The convolution, weight `[out, in, k, k]`, no bias.
    pub conv: Conv2d<B>,
    /// The batch norm over `out` channels.
    pub bn: BatchNorm2d<B>,
}

impl ReluConvBnConfig {
    /// Builds the op; conv weights are `U(±1/√fan_in)` from the stream [`Self::seed`].
    pub fn init<B: Backend>(&self, device: &B::Device) -> ReluConvBn<B> {
        let k = self.kernel_size;
        let pad = k / 2;
        let mut conv = Conv2dConfig::new([self.channels_in, self.channels_out], [k, k])
            .with_stride([self.stride, self.stride])
            .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
            .with_bias(false)
            .init(device);
        let fan_in = self.channels_in * k * k;
        conv.weight = uniform_param(
            [self.channels_out, self.channels_in, k, k],
            1.0 / (fan_in as f32).sqrt(),
            self.seed,
            device,
        );
        ReluConvBn {
            conv,
            bn: BatchNorm2dConfig::new(self.channels_out).init(device),
        }
    }
}

impl<B: Backend> ReluConvBn<B> {
    /// - `input`: `[batch, in, height, width]`
    /// - output: `[batch, out, ⌈height/stride⌉, ⌈width/stride⌉]`
    pub fn forward(&self, input: Tensor<B, 4>, mode: BnMode) -> Tensor<B, 4> {
        self.bn.forward_mode(self.conv.forward(relu(input)), mode)
    }
}

/// The `skip_connect` op: identity.
#[derive(Module, Clone, Debug, Default)]
pub struct Identity {}

/// The `avg_pool_3x3` op: 3×3 average, stride 1, padding 1 *not* counted in the average
/// (`count_include_pad=False`), so border pixels average over the 4 or 6 pixels that exist.
#[derive(Module, Clone, Debug, Default)]
pub struct AvgPool3x3 {}

impl AvgPool3x3 {
    /// - `input`: `[batch, channels, height, width]`
    /// - output: `[batch, channels, height, width]`
    pub fn forward<B: Backend>(&self, input: Tensor<B, 4>) -> Tensor<B, 4> {
        avg_pool2d(input, [3, 3], [1, 1], [1, 1], false, false)
    }
}

/// One live edge of a cell: any NAS-Bench-201 op but `none` (a `none` edge is simply absent).
#[derive(Module, Debug)]
pub enum EdgeOp<B: Backend> {
    /// `skip_connect`.
    Skip(Identity),
    /// `nor_conv_1x1`.
    Conv1x1(ReluConvBn<B>),
    /// `nor_conv_3x3`.
    Conv3x3(ReluConvBn<B>),
    /// `avg_pool_3x3`.
    AvgPool(AvgPool3x3),
}

impl<B: Backend> EdgeOp<B> {
    /// - `input`: `[batch, channels, height, width]`
    /// - output: `[batch, channels, height, width]`
    pub fn forward(&self, input: Tensor<B, 4>, mode: BnMode) -> Tensor<B, 4> {
        match self {
            EdgeOp::Skip(_) => input,
            EdgeOp::Conv1x1(op) | EdgeOp::Conv3x3(op) => op.forward(input, mode),
            EdgeOp::AvgPool(pool) => pool.forward(input),
        }
    }
}
