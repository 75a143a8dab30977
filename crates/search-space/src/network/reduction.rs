//! The residual reduction block between stages (NAS-Bench-201's `ResNetBasicblock`, stride 2).

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::tensor::module::avg_pool2d;
use burn::tensor::{backend::Backend, Tensor};

use super::batch_norm::BnMode;
use super::init::{mix, uniform_param};
use super::ops::{pointwise_conv, ReluConvBn, ReluConvBnConfig};

/// Configuration of a [`ResidualBlock`].
#[derive(Config, Debug)]
pub struct ResidualBlockConfig {
    /// Input channels.
    pub channels_in: usize,
    /// Output channels.
    pub channels_out: usize,
    /// Seed of the block's weights.
    #[config(default = 0)]
    pub seed: u64,
}

/// A stride-2 residual block that halves the resolution and changes the width:
/// `ReLU-Conv3×3(s2)-BN → ReLU-Conv3×3-BN`, plus the shortcut `AvgPool2×2(s2) → Conv1×1` (no
/// bias, no BN). Parameters: `9·in·out + 2·out + 9·out² + 2·out + in·out` (`56C² + 8C` for
/// `C → 2C`).
#[derive(Module, Debug)]
pub struct ResidualBlock<B: Backend> {
    /// ReLU-Conv3×3 (stride 2)-BN, `in → out`.
    pub conv_a: ReluConvBn<B>,
    /// ReLU-Conv3×3-BN, `out → out`.
    pub conv_b: ReluConvBn<B>,
    /// Shortcut 1×1 convolution after the 2×2 average pool, `in → out`, no bias.
    pub shortcut: Conv2d<B>,
}

impl ResidualBlockConfig {
    /// Builds the block.
    pub fn init<B: Backend>(&self, device: &B::Device) -> ResidualBlock<B> {
        let (cin, cout) = (self.channels_in, self.channels_out);
        let mut shortcut = Conv2dConfig::new([cin, cout], [1, 1])
            .with_bias(false)
            .init(device);
        shortcut.weight = uniform_param(
            [cout, cin, 1, 1],
            1.0 / (cin as f32).sqrt(),
            mix(self.seed, 2),
            device,
        );
        ResidualBlock {
            conv_a: ReluConvBnConfig::new(cin, cout, 3)
                .with_stride(2)
                .with_seed(mix(self.seed, 0))
                .init(device),
            conv_b: ReluConvBnConfig::new(cout, cout, 3)
                .with_seed(mix(self.seed, 1))
                .init(device),
            shortcut,
        }
    }
}

impl<B: Backend> ResidualBlock<B> {
    /// - `input`: `[batch, in, height, width]` (height and width even)
    /// - output: `[batch, out, height/2, width/2]`
    pub fn forward(&self, input: Tensor<B, 4>, mode: BnMode) -> Tensor<B, 4> {
        self.forward_observed(input, mode, &mut |_| {})
    }

    /// [`Self::forward`], handing the inputs of its two ReLUs (`conv_a`'s, then `conv_b`'s) to
    /// `observe`. With a no-op `observe` this *is* [`Self::forward`].
    ///
    /// - `input`: `[batch, in, height, width]` (height and width even)
    /// - output: `[batch, out, height/2, width/2]`
    pub fn forward_observed(
        &self,
        input: Tensor<B, 4>,
        mode: BnMode,
        observe: &mut impl FnMut(&Tensor<B, 4>),
    ) -> Tensor<B, 4> {
        let [_, _, height, width] = input.dims();
        assert!(
            height % 2 == 0 && width % 2 == 0,
            "ResidualBlock: input {height}×{width} must have even sides"
        );
        let residual = pointwise_conv(
            avg_pool2d(input.clone(), [2, 2], [2, 2], [0, 0], true, false),
            self.shortcut.weight.val(),
        );
        let out = self.conv_a.forward_observed(input, mode, observe);
        let out = self.conv_b.forward_observed(out, mode, observe);
        out + residual
    }
}
