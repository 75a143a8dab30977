//! The NAS-Bench-201 cell operations as modules.

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::PaddingConfig2d;
use burn::tensor::activation::relu;
use burn::tensor::{backend::Backend, Tensor, TensorData};

use super::batch_norm::{BatchNorm2d, BatchNorm2dConfig, BnMode};
use super::conv::conv_module;
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
        let x = relu(input);
        let x = if self.conv.kernel_size == [1, 1] && self.conv.stride == [1, 1] {
            pointwise_conv(x, self.conv.weight.val())
        } else {
            conv_module(&self.conv, x)
        };
        self.bn.forward_mode(x, mode)
    }

    /// [`Self::forward`], first handing the ReLU's input (the pre-activation) to `observe`.
    /// The result is [`Self::forward`]'s, bit for bit.
    ///
    /// - `input`: `[batch, in, height, width]` (also what `observe` sees)
    /// - output: `[batch, out, ⌈height/stride⌉, ⌈width/stride⌉]`
    pub fn forward_observed(
        &self,
        input: Tensor<B, 4>,
        mode: BnMode,
        observe: &mut impl FnMut(&Tensor<B, 4>),
    ) -> Tensor<B, 4> {
        observe(&input);
        self.forward(input, mode)
    }
}

/// A 1×1 convolution without bias as one batched matrix product (`[out, in] @ [in, h·w]` per
/// image): the same function as `conv2d`, an order of magnitude faster forward and backward on
/// the flex CPU backend, whose convolutions go through im2col and strided copies.
///
/// - `input`: `[batch, in, height, width]`, `weight`: `[out, in, 1, 1]`
/// - output: `[batch, out, height, width]`
pub(crate) fn pointwise_conv<B: Backend>(
    input: Tensor<B, 4>,
    weight: Tensor<B, 4>,
) -> Tensor<B, 4> {
    let [batch, channels_in, height, width] = input.dims();
    let [channels_out, weight_in, kh, kw] = weight.dims();
    assert!(
        weight_in == channels_in && kh == 1 && kw == 1,
        "pointwise_conv: weight {:?} does not fit input channels {channels_in}",
        [channels_out, weight_in, kh, kw]
    );
    weight
        .reshape([1, channels_out, channels_in])
        .matmul(input.reshape([batch, channels_in, height * width]))
        .reshape([batch, channels_out, height, width])
}

/// The `skip_connect` op: identity.
#[derive(Module, Clone, Debug, Default)]
pub struct Identity {}

/// The `avg_pool_3x3` op: 3×3 average, stride 1, padding 1 *not* counted in the average
/// (`count_include_pad=False`), so border pixels average over the 4 or 6 pixels that exist.
///
/// The valid window of a pixel is a product of a row range and a column range, so the pool is
/// separable: `Y = P_h · X · P_wᵀ` with `P_n[i][k] = 1/|{k : |i−k| ≤ 1}|` for `|i − k| ≤ 1`.
/// It runs as matrix products (one with `P_h ⊗ P_w` for small images), 4–15× faster forward and
/// backward than `avg_pool2d` on the flex CPU backend, and exact up to float rounding.
#[derive(Module, Clone, Debug, Default)]
pub struct AvgPool3x3 {}

/// Images with at most this many pixels are pooled with one `[h·w, h·w]` matrix product.
const KRONECKER_MAX_PIXELS: usize = 64;

impl AvgPool3x3 {
    /// - `input`: `[batch, channels, height, width]`
    /// - output: `[batch, channels, height, width]`
    pub fn forward<B: Backend>(&self, input: Tensor<B, 4>) -> Tensor<B, 4> {
        let [batch, channels, height, width] = input.dims();
        let device = input.device();
        let pixels = height * width;
        if pixels <= KRONECKER_MAX_PIXELS {
            // y[(i,j)] = Σ x[(k,q)] · P_h[i][k] · P_w[j][q], as x @ Kᵀ.
            let (ph, pw) = (pool_matrix(height), pool_matrix(width));
            let mut kt = vec![0.0f32; pixels * pixels];
            for i in 0..height {
                for j in 0..width {
                    for k in i.saturating_sub(1)..(i + 2).min(height) {
                        for q in j.saturating_sub(1)..(j + 2).min(width) {
                            kt[(k * width + q) * pixels + i * width + j] =
                                ph[i * height + k] * pw[j * width + q];
                        }
                    }
                }
            }
            let kt = Tensor::<B, 2>::from_data(TensorData::new(kt, [pixels, pixels]), &device);
            input
                .reshape([batch * channels, pixels])
                .matmul(kt)
                .reshape([batch, channels, height, width])
        } else {
            let ph = Tensor::<B, 3>::from_data(
                TensorData::new(pool_matrix(height), [1, height, height]),
                &device,
            );
            let pw_t = Tensor::<B, 2>::from_data(
                TensorData::new(pool_matrix(width), [width, width]),
                &device,
            )
            .transpose();
            let rows = input
                .reshape([batch * channels * height, width])
                .matmul(pw_t)
                .reshape([batch * channels, height, width]);
            ph.matmul(rows).reshape([batch, channels, height, width])
        }
    }
}

/// The `[n, n]` row-averaging matrix of a 3-tap window that ignores padding.
fn pool_matrix(n: usize) -> Vec<f32> {
    let mut m = vec![0.0f32; n * n];
    for i in 0..n {
        let (lo, hi) = (i.saturating_sub(1), (i + 1).min(n - 1));
        let weight = 1.0 / (hi - lo + 1) as f32;
        for k in lo..=hi {
            m[i * n + k] = weight;
        }
    }
    m
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

    /// [`Self::forward`], handing the input of the op's ReLU (conv ops only) to `observe`.
    ///
    /// - `input`: `[batch, channels, height, width]`
    /// - output: `[batch, channels, height, width]`
    pub fn forward_observed(
        &self,
        input: Tensor<B, 4>,
        mode: BnMode,
        observe: &mut impl FnMut(&Tensor<B, 4>),
    ) -> Tensor<B, 4> {
        match self {
            EdgeOp::Conv1x1(op) | EdgeOp::Conv3x3(op) => op.forward_observed(input, mode, observe),
            _ => self.forward(input, mode),
        }
    }
}
