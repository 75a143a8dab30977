//! The OFA MobileNetV3 network for any point of the space.

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Linear, PaddingConfig2d};
use burn::tensor::{backend::Backend, Tensor};

use super::mb_conv::{pointwise, MbConv, MbConvConfig};
use crate::mbv3::arch::Mbv3Arch;
use crate::mbv3::plan::{Activation, Mbv3ConfigError, Mbv3MacroConfig, Mbv3Plan};
use crate::network::init::{linear, mix, uniform_param};
use crate::network::{conv_module, pointwise_conv, BatchNorm2d, BatchNorm2dConfig, BnMode};

// Roles of the top-level parts in the seed derivation (see `init::mix`).
const TAG_STEM: u64 = 0;
const TAG_BLOCKS: u64 = 1;
const TAG_FINAL_EXPAND: u64 = 2;
const TAG_FEATURE_MIX: u64 = 3;
const TAG_CLASSIFIER: u64 = 4;

/// Configuration of an [`Mbv3Network`]. The defaults are OFA's ImageNet network (width 1.0,
/// 3 input channels, 1,000 classes, 224×224).
///
/// ```
/// use burn::backend::Flex;
/// use burn::module::Module;
/// use search_space::mbv3::{Mbv3Arch, Mbv3NetworkConfig};
///
/// let config = Mbv3NetworkConfig::new(Mbv3Arch::smallest())
///     .with_num_classes(10)
///     .with_resolution(32);
/// let net = config.init::<Flex>(&Default::default());
/// assert_eq!(net.num_params(), config.plan().unwrap().param_count());
/// ```
#[derive(Config, Debug)]
pub struct Mbv3NetworkConfig {
    /// The point of the space.
    pub arch: Mbv3Arch,
    /// Width multiplier (OFA publishes 1.0 and 1.2).
    #[config(default = 1.0)]
    pub width_mult: f64,
    /// Channels of the input images.
    #[config(default = 3)]
    pub input_channels: usize,
    /// Number of classes.
    #[config(default = 1000)]
    pub num_classes: usize,
    /// Side of the square input images.
    #[config(default = 224)]
    pub resolution: usize,
    /// Seed of the initial weights.
    #[config(default = 0)]
    pub seed: u64,
}

impl Mbv3NetworkConfig {
    /// The macro configuration these fields describe.
    pub fn macro_config(&self) -> Mbv3MacroConfig {
        Mbv3MacroConfig {
            width_mult: self.width_mult,
            input_channels: self.input_channels,
            num_classes: self.num_classes,
            resolution: self.resolution,
        }
    }

    /// The network's structure, or why the configuration cannot build one.
    pub fn plan(&self) -> Result<Mbv3Plan, Mbv3ConfigError> {
        Mbv3Plan::new(&self.arch, &self.macro_config())
    }

    /// Builds the network. Parameters are lazy: nothing is allocated for a weight until it is
    /// first used, so building is cheap.
    ///
    /// # Panics
    /// If the configuration is invalid (see [`Mbv3MacroConfig::validate`]).
    pub fn init<B: Backend>(&self, device: &B::Device) -> Mbv3Network<B> {
        let plan = self
            .plan()
            .unwrap_or_else(|e| panic!("invalid Mbv3NetworkConfig: {e}"));
        Mbv3Network::from_plan(&plan, self.seed, device)
    }
}

/// OFA's MobileNetV3 (see [`plan`](crate::mbv3::plan) for the structure): stem, MBConv blocks,
/// final expand, global average pool, feature mix, classifier.
#[derive(Module, Debug)]
pub struct Mbv3Network<B: Backend> {
    /// Stem convolution 3×3, stride 2, `in → stem`, no bias.
    pub stem: Conv2d<B>,
    /// Stem batch norm.
    pub stem_bn: BatchNorm2d<B>,
    /// The MBConv blocks in order, the fixed first block included.
    pub blocks: Vec<MbConv<B>>,
    /// Final expand 1×1 convolution, no bias.
    pub final_expand: Conv2d<B>,
    /// Batch norm after the final expand.
    pub final_bn: BatchNorm2d<B>,
    /// Feature mix (a 1×1 conv on the pooled 1×1 map), no bias, no batch norm.
    pub feature_mix: Linear<B>,
    /// Linear classifier, with bias.
    pub classifier: Linear<B>,
    /// Channels of the expected input.
    pub input_channels: usize,
    /// Side of the expected (square) input.
    pub resolution: usize,
}

impl<B: Backend> Mbv3Network<B> {
    /// Builds the network a plan describes (e.g. [`Mbv3Plan::mobilenet_v3_large`]), weights
    /// seeded by `seed`.
    ///
    /// # Panics
    /// If a width of the plan is zero.
    pub fn from_plan(plan: &Mbv3Plan, seed: u64, device: &B::Device) -> Self {
        let (cin, stem_width) = (plan.input_channels, plan.stem);
        assert!(cin > 0 && stem_width > 0, "Mbv3Network: empty stem");
        let mut stem = Conv2dConfig::new([cin, stem_width], [3, 3])
            .with_stride([2, 2])
            .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
            .with_bias(false)
            .init(device);
        stem.weight = uniform_param(
            [stem_width, cin, 3, 3],
            1.0 / ((9 * cin) as f32).sqrt(),
            mix(seed, TAG_STEM),
            device,
        );
        let block_seed = mix(seed, TAG_BLOCKS);
        let blocks = plan
            .blocks
            .iter()
            .enumerate()
            .map(|(i, spec)| {
                MbConvConfig::new(*spec)
                    .with_seed(mix(block_seed, i as u64))
                    .init(device)
            })
            .collect();
        Mbv3Network {
            stem,
            stem_bn: BatchNorm2dConfig::new(stem_width).init(device),
            blocks,
            final_expand: pointwise(
                plan.last_channels(),
                plan.final_expand,
                mix(seed, TAG_FINAL_EXPAND),
                device,
            ),
            final_bn: BatchNorm2dConfig::new(plan.final_expand).init(device),
            feature_mix: linear(
                plan.final_expand,
                plan.feature_mix,
                false,
                mix(seed, TAG_FEATURE_MIX),
                device,
            ),
            classifier: linear(
                plan.feature_mix,
                plan.num_classes,
                true,
                mix(seed, TAG_CLASSIFIER),
                device,
            ),
            input_channels: cin,
            resolution: plan.resolution,
        }
    }

    /// Class logits, with batch norm in [`BnMode::auto`] mode (batch statistics on an autodiff
    /// backend, running statistics otherwise).
    ///
    /// - `input`: `[batch, input_channels, resolution, resolution]`
    /// - output: `[batch, num_classes]` (logits)
    pub fn forward(&self, input: Tensor<B, 4>) -> Tensor<B, 2> {
        let mode = BnMode::auto::<B>(&input.device());
        self.forward_mode(input, mode)
    }

    /// Class logits with batch norm in the given mode. In a batch-statistics mode the batch
    /// needs more than one image when the last maps are 1×1 (32×32 inputs).
    ///
    /// - `input`: `[batch, input_channels, resolution, resolution]`
    /// - output: `[batch, num_classes]` (logits)
    ///
    /// # Panics
    /// If the input shape is not `[_, input_channels, resolution, resolution]`.
    pub fn forward_mode(&self, input: Tensor<B, 4>, mode: BnMode) -> Tensor<B, 2> {
        let [batch, channels, height, width] = input.dims();
        let r = self.resolution;
        assert!(
            channels == self.input_channels && height == r && width == r,
            "Mbv3Network: input [{batch}, {channels}, {height}, {width}] does not match \
             [batch, {}, {r}, {r}]",
            self.input_channels
        );
        let hs = Activation::HSwish;
        let mut x = hs.forward(
            self.stem_bn
                .forward_mode(conv_module(&self.stem, input), mode),
        );
        for block in &self.blocks {
            x = block.forward(x, mode);
        }
        let x = hs.forward(
            self.final_bn
                .forward_mode(pointwise_conv(x, self.final_expand.weight.val()), mode),
        );
        let [_, features, h, w] = x.dims();
        let pooled = x
            .reshape([batch, features, h * w])
            .mean_dim(2)
            .reshape([batch, features]);
        let mixed = hs.forward(self.feature_mix.forward(pooled));
        self.classifier.forward(mixed)
    }
}
