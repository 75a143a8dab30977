//! [`EfficientNetLite0`]: Google's EfficientNet-Lite0 image classifier as a Burn module, for
//! inference with ImageNet weights ([`efficientnet_weights`](crate::efficientnet_weights)).
//!
//! Why here, in `set-encoder`: this crate holds the feature extractors that need Burn (the
//! `datasets` crate defines [`FeatureExtractor`](datasets::FeatureExtractor) but does not link
//! Burn), next to the small [`FeatureCnn`](crate::FeatureCnn) it is an alternative to, and the
//! set encoder is what consumes its features.
//!
//! The network (EfficientNet-Lite: no squeeze-and-excitation, ReLU6 instead of swish, stem and
//! head not rescaled):
//!
//! ```text
//! [batch, 3, H, W], pixels as (p − 127) / 128, RGB
//!   → stem conv 3×3 /2 (3→32) → ReLU6
//!   → 16 MBConv blocks in 7 stages (STAGES): expand 1×1 → ReLU6 → depthwise k×k → ReLU6
//!     → project 1×1, plus the input when stride 1 and widths match
//!   → head conv 1×1 (320→1280) → ReLU6 → global average pool     [batch, 1280]  (features)
//!   → linear 1280→num_classes                                      [batch, num_classes]
//! ```
//!
//! Every convolution uses TensorFlow's "SAME" padding (Burn's [`PaddingConfig2d::Same`]:
//! computed per input size, one more row/column at the bottom/right when the total is odd), so
//! any input size works. Batch norm is folded into the convolution before it when weights are
//! loaded (a bias per conv): this module is for inference only, and folding avoids the flex
//! backend's slow per-channel broadcast (see `burn-notes`).

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::{backend::Backend, Tensor};

/// One stage of MBConv blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stage {
    /// Blocks in the stage.
    pub repeats: usize,
    /// Side of the depthwise kernel.
    pub kernel: usize,
    /// Stride of the stage's first block (the others have stride 1).
    pub stride: usize,
    /// Expansion ratio: the depthwise conv works on `expand × input` channels.
    pub expand: usize,
    /// Output channels.
    pub channels: usize,
}

/// EfficientNet-Lite0's seven stages (16 blocks).
pub const STAGES: [Stage; 7] = [
    stage(1, 3, 1, 1, 16),
    stage(2, 3, 2, 6, 24),
    stage(2, 5, 2, 6, 40),
    stage(3, 3, 2, 6, 80),
    stage(3, 5, 1, 6, 112),
    stage(4, 5, 2, 6, 192),
    stage(1, 3, 1, 6, 320),
];

const fn stage(
    repeats: usize,
    kernel: usize,
    stride: usize,
    expand: usize,
    channels: usize,
) -> Stage {
    Stage {
        repeats,
        kernel,
        stride,
        expand,
        channels,
    }
}

/// Output channels of the stem convolution.
pub const STEM_CHANNELS: usize = 32;
/// Width of the penultimate features (the head convolution's output).
pub const FEATURE_DIM: usize = 1280;

/// One MBConv block's shape, as [`EfficientNetLite0Config::blocks`] lists them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockShape {
    /// Input channels.
    pub input: usize,
    /// Output channels.
    pub output: usize,
    /// Depthwise kernel side.
    pub kernel: usize,
    /// Depthwise stride.
    pub stride: usize,
    /// Expansion ratio (1: no expansion conv).
    pub expand: usize,
}

impl BlockShape {
    /// Channels of the depthwise convolution.
    pub fn hidden(&self) -> usize {
        self.input * self.expand
    }

    /// Whether the block adds its input to its output (stride 1, same width).
    pub fn has_skip(&self) -> bool {
        self.stride == 1 && self.input == self.output
    }
}

/// Configuration of an [`EfficientNetLite0`].
#[derive(Config, Debug)]
pub struct EfficientNetLite0Config {
    /// Classes of the final linear layer (ImageNet: 1000).
    #[config(default = 1000)]
    pub num_classes: usize,
}

impl EfficientNetLite0Config {
    /// The 16 blocks, in order.
    pub fn blocks(&self) -> Vec<BlockShape> {
        let mut input = STEM_CHANNELS;
        let mut blocks = Vec::new();
        for s in STAGES {
            for r in 0..s.repeats {
                blocks.push(BlockShape {
                    input,
                    output: s.channels,
                    kernel: s.kernel,
                    stride: if r == 0 { s.stride } else { 1 },
                    expand: s.expand,
                });
                input = s.channels;
            }
        }
        blocks
    }

    /// Builds the network with Burn's default random initialisation (every conv with a bias,
    /// where the loaded weights put the folded batch norm). Load ImageNet weights with
    /// [`efficientnet_weights::load_file`](crate::efficientnet_weights::load_file) instead.
    pub fn init<B: Backend>(&self, device: &B::Device) -> EfficientNetLite0<B> {
        let blocks = self
            .blocks()
            .into_iter()
            .map(|shape| MbConv {
                expand: (shape.expand != 1)
                    .then(|| conv(shape.input, shape.hidden(), 1, 1, 1, device)),
                depthwise: conv(
                    shape.hidden(),
                    shape.hidden(),
                    shape.kernel,
                    shape.stride,
                    shape.hidden(),
                    device,
                ),
                project: conv(shape.hidden(), shape.output, 1, 1, 1, device),
                skip: shape.has_skip(),
            })
            .collect();
        let last = STAGES[STAGES.len() - 1].channels;
        EfficientNetLite0 {
            stem: conv(3, STEM_CHANNELS, 3, 2, 1, device),
            blocks,
            head: conv(last, FEATURE_DIM, 1, 1, 1, device),
            classifier: LinearConfig::new(FEATURE_DIM, self.num_classes).init(device),
        }
    }
}

/// A convolution with bias and TF "SAME" padding.
pub(crate) fn conv<B: Backend>(
    input: usize,
    output: usize,
    kernel: usize,
    stride: usize,
    groups: usize,
    device: &B::Device,
) -> Conv2d<B> {
    Conv2dConfig::new([input, output], [kernel, kernel])
        .with_stride([stride, stride])
        .with_groups(groups)
        .with_padding(PaddingConfig2d::Same)
        .with_bias(true)
        .init(device)
}

/// ReLU6: `min(max(x, 0), 6)`.
fn relu6<B: Backend>(x: Tensor<B, 4>) -> Tensor<B, 4> {
    x.clamp(0.0, 6.0)
}

/// An MBConv block with its batch norms folded into the convolutions.
#[derive(Module, Debug)]
pub struct MbConv<B: Backend> {
    /// 1×1 expansion (absent when the expansion ratio is 1).
    pub expand: Option<Conv2d<B>>,
    /// k×k depthwise convolution (groups = channels).
    pub depthwise: Conv2d<B>,
    /// 1×1 projection (no activation after it).
    pub project: Conv2d<B>,
    /// Whether the block adds its input to its output.
    pub skip: bool,
}

impl<B: Backend> MbConv<B> {
    /// - `x`: `[batch, input, h, w]`
    /// - output: `[batch, output, ⌈h / stride⌉, ⌈w / stride⌉]`
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let hidden = match &self.expand {
            Some(expand) => relu6(expand.forward(x.clone())),
            None => x.clone(),
        };
        let out = self.project.forward(relu6(self.depthwise.forward(hidden)));
        if self.skip {
            out + x
        } else {
            out
        }
    }
}

/// EfficientNet-Lite0 with batch norm folded: 4,631,000 parameters with the 1000-class
/// classifier (PyTorch's 4,652,008 less one of each batch norm's two per-channel vectors).
///
/// ```
/// use burn::backend::Flex;
/// use burn::tensor::Tensor;
/// use set_encoder::EfficientNetLite0Config;
/// let device = Default::default();
/// let net = EfficientNetLite0Config::new().with_num_classes(10).init::<Flex>(&device);
/// let x = Tensor::<Flex, 4>::zeros([2, 3, 32, 32], &device);
/// assert_eq!(net.features(x.clone()).dims(), [2, 1280]);
/// assert_eq!(net.forward(x).dims(), [2, 10]);
/// ```
#[derive(Module, Debug)]
pub struct EfficientNetLite0<B: Backend> {
    /// 3×3 stride-2 stem, 3 → 32 channels.
    pub stem: Conv2d<B>,
    /// The 16 MBConv blocks.
    pub blocks: Vec<MbConv<B>>,
    /// 1×1 head conv, 320 → 1280 channels.
    pub head: Conv2d<B>,
    /// The ImageNet classifier, 1280 → `num_classes` (weight `[1280, num_classes]`).
    pub classifier: Linear<B>,
}

impl<B: Backend> EfficientNetLite0<B> {
    /// Classes of the classifier.
    pub fn num_classes(&self) -> usize {
        self.classifier.weight.dims()[1]
    }

    /// The penultimate features: head activations averaged over space.
    ///
    /// - `x`: `[batch, 3, h, w]`, RGB, pixels mapped as `(p − 127) / 128` for `p` in `0..=255`;
    ///   any `h, w ≥ 1`
    /// - output: `[batch, 1280]`, non-negative (ReLU6 before the pooling)
    pub fn features(&self, x: Tensor<B, 4>) -> Tensor<B, 2> {
        let [batch, channels, _, _] = x.dims();
        assert_eq!(channels, 3, "EfficientNetLite0 takes RGB input");
        let x = relu6(self.stem.forward(x));
        let x = self.blocks.iter().fold(x, |x, block| block.forward(x));
        let x = relu6(self.head.forward(x));
        let out = x.mean_dim(3).mean_dim(2).reshape([batch, FEATURE_DIM]);
        assert_eq!(
            out.dims(),
            [batch, FEATURE_DIM],
            "EfficientNetLite0 features"
        );
        out
    }

    /// Class logits.
    ///
    /// - `x`: as for [`features`](Self::features)
    /// - output: `[batch, num_classes]`
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 2> {
        self.classifier.forward(self.features(x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;

    #[test]
    fn architecture_matches_lite0() {
        let config = EfficientNetLite0Config::new();
        let blocks = config.blocks();
        assert_eq!(blocks.len(), 16);
        let kernels: Vec<usize> = blocks.iter().map(|b| b.kernel).collect();
        assert_eq!(kernels, [3, 3, 3, 5, 5, 3, 3, 3, 5, 5, 5, 5, 5, 5, 5, 3]);
        assert_eq!(blocks[0].expand, 1);
        assert!(blocks[1..].iter().all(|b| b.expand == 6));
        let net = config.init::<Flex>(&Default::default());
        // PyTorch's EfficientNet-Lite0 has 4,652,008 trainable parameters, among them a scale
        // and a shift for each of its 21,008 batch-norm channels; folded, one bias remains.
        assert_eq!(net.num_params(), 4_652_008 - 21_008);
    }

    #[test]
    fn any_input_size_gives_the_feature_width() {
        let device = Default::default();
        let net = EfficientNetLite0Config::new()
            .with_num_classes(3)
            .init::<Flex>(&device);
        for (h, w) in [(1, 1), (17, 9), (32, 32)] {
            let x = Tensor::<Flex, 4>::ones([2, 3, h, w], &device);
            assert_eq!(net.features(x.clone()).dims(), [2, FEATURE_DIM]);
            assert_eq!(net.forward(x).dims(), [2, 3]);
        }
    }
}
