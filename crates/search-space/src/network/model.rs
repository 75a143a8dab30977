//! The NAS-Bench-201 macro network (`TinyNetwork`) around any cell.

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{backend::Backend, Tensor};

use super::batch_norm::{BatchNorm2d, BatchNorm2dConfig, BnMode};
use super::cell::{Nb201Cell, Nb201CellConfig};
use super::conv::conv_module;
use super::init::{mix, uniform_param};
use super::reduction::{ResidualBlock, ResidualBlockConfig};
use crate::Nb201Arch;

/// Number of stages (widths C, 2C, 4C).
const STAGES: usize = 3;

// Roles of the top-level parts in the seed derivation (see `init::mix`).
const TAG_STEM: u64 = 0;
const TAG_CELLS: u64 = 1;
const TAG_REDUCTIONS: u64 = 2;
const TAG_CLASSIFIER_WEIGHT: u64 = 3;
const TAG_CLASSIFIER_BIAS: u64 = 4;

/// Configuration of an [`Nb201Network`]. The defaults are NAS-Bench-201's CIFAR-10 network
/// (C = 16, N = 5, 3 input channels, 10 classes, 32×32).
///
/// ```
/// use burn::backend::Flex;
/// use burn::module::Module;
/// use search_space::{Nb201Arch, Nb201NetworkConfig};
///
/// let arch: Nb201Arch = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
///     .parse()
///     .unwrap();
/// let net = Nb201NetworkConfig::new(arch).init::<Flex>(&Default::default());
/// assert_eq!(net.num_params(), 1_288_506); // 1.288506 MB in the NAS-Bench-201 table
/// ```
#[derive(Config, Debug)]
pub struct Nb201NetworkConfig {
    /// The cell repeated at every cell position.
    pub arch: Nb201Arch,
    /// Width C of the first stage (the stages are C, 2C, 4C).
    #[config(default = 16)]
    pub channels: usize,
    /// Cells per stage, N.
    #[config(default = 5)]
    pub cells_per_stage: usize,
    /// Channels of the input images.
    #[config(default = 3)]
    pub input_channels: usize,
    /// Number of classes K.
    #[config(default = 10)]
    pub num_classes: usize,
    /// Side of the square input images; a positive multiple of 4 (two stride-2 reductions).
    #[config(default = 32)]
    pub resolution: usize,
    /// Seed of the initial weights (see the [module docs](crate::network)).
    #[config(default = 0)]
    pub seed: u64,
}

/// A configuration value that cannot build a network.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NetworkConfigError {
    /// `channels` is 0.
    #[error("network width C must be positive")]
    ZeroChannels,
    /// `input_channels` is 0.
    #[error("input images must have at least one channel")]
    ZeroInputChannels,
    /// `num_classes` is 0.
    #[error("the classifier needs at least one class")]
    ZeroClasses,
    /// `resolution` is 0 or not a multiple of 4.
    #[error("resolution {0} is not a positive multiple of 4 (the network halves it twice)")]
    Resolution(usize),
}

/// Checks the macro network's sizes, shared by [`Nb201NetworkConfig`] and the
/// [supernet](super::supernet::Nb201SupernetConfig).
pub(crate) fn validate_macro(
    channels: usize,
    input_channels: usize,
    num_classes: usize,
    resolution: usize,
) -> Result<(), NetworkConfigError> {
    if channels == 0 {
        return Err(NetworkConfigError::ZeroChannels);
    }
    if input_channels == 0 {
        return Err(NetworkConfigError::ZeroInputChannels);
    }
    if num_classes == 0 {
        return Err(NetworkConfigError::ZeroClasses);
    }
    if resolution == 0 || !resolution.is_multiple_of(4) {
        return Err(NetworkConfigError::Resolution(resolution));
    }
    Ok(())
}

/// The NAS-Bench-201 macro network with one cell type:
///
/// stem Conv3×3 (no bias) + BN → N cells at C → [`ResidualBlock`] → N cells at 2C →
/// [`ResidualBlock`] → N cells at 4C → BN → ReLU → global average pool → linear (with bias).
///
/// Parameters (`num_params`): stem `9·in·C + 2C`; each cell at width `w`:
/// `n₃ₓ₃·(9w² + 2w) + n₁ₓ₁·(w² + 2w)`; reduction `C → 2C`: `56C² + 8C`; final BN `8C`;
/// classifier `4C·K + K`.
#[derive(Module, Debug)]
pub struct Nb201Network<B: Backend> {
    /// Stem convolution 3×3, `in → C`, no bias.
    pub stem_conv: Conv2d<B>,
    /// Stem batch norm over C.
    pub stem_bn: BatchNorm2d<B>,
    /// The three stages of N cells, at widths C, 2C, 4C.
    pub stages: Vec<Vec<Nb201Cell<B>>>,
    /// The reductions C → 2C and 2C → 4C between the stages.
    pub reductions: Vec<ResidualBlock<B>>,
    /// Batch norm before the final ReLU, over 4C.
    pub final_bn: BatchNorm2d<B>,
    /// Linear classifier `4C → K`, with bias.
    pub classifier: Linear<B>,
    /// Channels of the expected input.
    pub input_channels: usize,
    /// Side of the expected (square) input.
    pub resolution: usize,
}

impl Nb201NetworkConfig {
    /// Checks that the configuration can build a network.
    pub fn validate(&self) -> Result<(), NetworkConfigError> {
        validate_macro(
            self.channels,
            self.input_channels,
            self.num_classes,
            self.resolution,
        )
    }

    /// Builds the network. Parameters are lazy: nothing is allocated for a weight until it is
    /// first used, so building is cheap.
    ///
    /// # Panics
    /// If the configuration is invalid (see [`Self::validate`]).
    pub fn init<B: Backend>(&self, device: &B::Device) -> Nb201Network<B> {
        if let Err(e) = self.validate() {
            panic!("invalid Nb201NetworkConfig: {e}");
        }
        let (c, k, cin) = (self.channels, self.num_classes, self.input_channels);
        let widths = [c, 2 * c, 4 * c];

        let mut stem_conv = Conv2dConfig::new([cin, c], [3, 3])
            .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
            .with_bias(false)
            .init(device);
        stem_conv.weight = uniform_param(
            [c, cin, 3, 3],
            1.0 / ((9 * cin) as f32).sqrt(),
            mix(self.seed, TAG_STEM),
            device,
        );

        let cell_seed = mix(self.seed, TAG_CELLS);
        let stages = widths
            .iter()
            .enumerate()
            .map(|(s, &width)| {
                (0..self.cells_per_stage)
                    .map(|i| {
                        Nb201CellConfig::new(self.arch, width)
                            .with_seed(mix(cell_seed, ((s as u64) << 32) | i as u64))
                            .init(device)
                    })
                    .collect()
            })
            .collect();

        let reduction_seed = mix(self.seed, TAG_REDUCTIONS);
        let reductions = (0..STAGES - 1)
            .map(|s| {
                ResidualBlockConfig::new(widths[s], widths[s + 1])
                    .with_seed(mix(reduction_seed, s as u64))
                    .init(device)
            })
            .collect();

        let features = widths[STAGES - 1];
        let mut classifier = LinearConfig::new(features, k).init(device);
        let bound = 1.0 / (features as f32).sqrt();
        classifier.weight = uniform_param(
            [features, k],
            bound,
            mix(self.seed, TAG_CLASSIFIER_WEIGHT),
            device,
        );
        classifier.bias = Some(uniform_param(
            [k],
            bound,
            mix(self.seed, TAG_CLASSIFIER_BIAS),
            device,
        ));

        Nb201Network {
            stem_conv,
            stem_bn: BatchNorm2dConfig::new(c).init(device),
            stages,
            reductions,
            final_bn: BatchNorm2dConfig::new(features).init(device),
            classifier,
            input_channels: cin,
            resolution: self.resolution,
        }
    }
}

impl<B: Backend> Nb201Network<B> {
    /// Class logits, with batch norm in [`BnMode::auto`] mode (batch statistics on an autodiff
    /// backend, running statistics otherwise).
    ///
    /// - `input`: `[batch, input_channels, resolution, resolution]`
    /// - output: `[batch, num_classes]` (logits)
    pub fn forward(&self, input: Tensor<B, 4>) -> Tensor<B, 2> {
        let mode = BnMode::auto::<B>(&input.device());
        self.forward_mode(input, mode)
    }

    /// Class logits with batch norm in the given mode.
    ///
    /// - `input`: `[batch, input_channels, resolution, resolution]`
    /// - output: `[batch, num_classes]` (logits)
    ///
    /// # Panics
    /// If the input shape is not `[_, input_channels, resolution, resolution]`.
    pub fn forward_mode(&self, input: Tensor<B, 4>, mode: BnMode) -> Tensor<B, 2> {
        self.run(input, mode, &mut |_| {}, false)
    }

    /// [`Self::forward_mode`], handing the input of every ReLU of the network to `observe`, in
    /// execution order: every conv edge of each cell (also those whose output the cell
    /// discards, as NAS-Bench-201's own cells compute them; see
    /// [`Nb201Cell::forward_observed`]), both halves of each reduction, and the final ReLU
    /// before pooling. This is the hook that activation-pattern scores such as NASWOT (Mellor
    /// et al., ICML 2021) need. The output is [`Self::forward_mode`]'s, bit for bit.
    ///
    /// - `input`: `[batch, input_channels, resolution, resolution]`
    /// - output: `[batch, num_classes]` (logits); each observed tensor is
    ///   `[batch, channels, height, width]` at its layer
    ///
    /// # Panics
    /// If the input shape is not `[_, input_channels, resolution, resolution]`.
    pub fn forward_observed(
        &self,
        input: Tensor<B, 4>,
        mode: BnMode,
        observe: &mut impl FnMut(&Tensor<B, 4>),
    ) -> Tensor<B, 2> {
        self.run(input, mode, observe, true)
    }

    /// The forward pass; `observed` runs the cells with [`Nb201Cell::forward_observed`].
    fn run(
        &self,
        input: Tensor<B, 4>,
        mode: BnMode,
        observe: &mut impl FnMut(&Tensor<B, 4>),
        observed: bool,
    ) -> Tensor<B, 2> {
        let [batch, channels, height, width] = input.dims();
        let r = self.resolution;
        assert!(
            channels == self.input_channels && height == r && width == r,
            "Nb201Network: input [{batch}, {channels}, {height}, {width}] does not match \
             [batch, {}, {r}, {r}]",
            self.input_channels
        );
        let mut x = self
            .stem_bn
            .forward_mode(conv_module(&self.stem_conv, input), mode);
        for (s, cells) in self.stages.iter().enumerate() {
            if s > 0 {
                x = self.reductions[s - 1].forward_observed(x, mode, observe);
            }
            for cell in cells {
                x = if observed {
                    cell.forward_observed(x, mode, observe)
                } else {
                    cell.forward(x, mode)
                };
            }
        }
        let x = self.final_bn.forward_mode(x, mode);
        observe(&x);
        let x = relu(x);
        let [_, features, h, w] = x.dims();
        let pooled = x
            .reshape([batch, features, h * w])
            .mean_dim(2)
            .reshape([batch, features]);
        self.classifier.forward(pooled)
    }

    /// BN recalibration: runs `batches` through the network with batch statistics and sets
    /// every batch norm's running statistics to their average over the batches (see
    /// [`BnMode::Recalibrate`]). Use it on an inference module (`model.valid()`) after
    /// training, with the training images, to replace running statistics that lag behind the
    /// final weights. Returns the number of batches seen (0 leaves the statistics unchanged).
    ///
    /// - each batch: `[batch, input_channels, resolution, resolution]`
    pub fn recalibrate_bn<I>(&self, batches: I) -> usize
    where
        I: IntoIterator<Item = Tensor<B, 4>>,
    {
        let mut count = 0;
        for (batch, input) in batches.into_iter().enumerate() {
            let _ = self.forward_mode(input, BnMode::Recalibrate { batch });
            count += 1;
        }
        count
    }
}
