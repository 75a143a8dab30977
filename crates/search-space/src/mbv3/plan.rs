//! The layer-by-layer structure of a MobileNetV3 network: what [`Mbv3Network`] builds and what
//! the cost model counts, derived once from a point and a macro configuration.
//!
//! OFA's MobileNetV3 (`ofa_mbv3.py`, `OFAMobileNetV3` with its active sub-network extracted):
//!
//! ```text
//! input [B, in, R, R]
//!   → stem Conv3×3 stride 2 (no bias) → BN → h-swish                 16·w channels
//!   → fixed MBConv 16 → 16, expand 1 (no expand conv), kernel 3, ReLU, residual
//!   → 5 searched stages of 2–4 MBConv blocks:
//!        width   24    40    80      112     160      (× w, rounded to a multiple of 8)
//!        stride   2     2     2        1       2      (first block of the stage)
//!        act   ReLU  ReLU  h-swish h-swish h-swish
//!        SE      –     ✓     –        ✓       ✓
//!   → Conv1×1 → 960·w (no bias) → BN → h-swish      (final expand)
//!   → global average pool
//!   → 1×1 conv → 1280·w, no bias, no BN → h-swish   (feature mix; a linear layer on [B, 960·w])
//!   → linear classifier (with bias)
//! ```
//!
//! An MBConv block is: [Conv1×1 `in → mid` → BN → act] (absent when `mid = in`) → depthwise
//! Conv k×k (stride s, padding k/2) → BN → act → [squeeze-and-excite] → Conv1×1 `mid → out`
//! → BN, plus the input when `s = 1` and `in = out`. Its middle width is
//! `make_divisible(in · e, 8)`, and squeeze-and-excite squeezes to `make_divisible(mid / 4, 8)`
//! with ReLU, expands back with an h-sigmoid gate, both 1×1 convs with bias.
//!
//! OFA's dropout before the classifier is left out (it holds no parameters and the network is
//! seeded and deterministic).
//!
//! [`Mbv3Network`]: super::Mbv3Network

use serde::{Deserialize, Serialize};

use super::arch::Mbv3Arch;
use super::choice::STAGES;

/// Channel counts are rounded to multiples of this (OFA's `MyNetwork.CHANNEL_DIVISIBLE`).
pub const CHANNEL_DIVISIBLE: usize = 8;
/// Widths at multiplier 1.0: the stem, the fixed first block, then the five searched stages.
pub const BASE_WIDTHS: [usize; 2 + STAGES] = [16, 16, 24, 40, 80, 112, 160];
/// Width of the final expand layer at multiplier 1.0.
pub const BASE_FINAL_EXPAND: usize = 960;
/// Width of the feature-mix layer at multiplier 1.0.
pub const BASE_FEATURE_MIX: usize = 1280;
/// Stride of each searched stage's first block.
pub const STAGE_STRIDES: [usize; STAGES] = [2, 2, 2, 1, 2];
/// Activation of each searched stage.
pub const STAGE_ACTIVATIONS: [Activation; STAGES] = [
    Activation::Relu,
    Activation::Relu,
    Activation::HSwish,
    Activation::HSwish,
    Activation::HSwish,
];
/// Whether each searched stage's blocks squeeze and excite.
pub const STAGE_SE: [bool; STAGES] = [false, true, false, true, true];
/// Squeeze-and-excite reduction.
pub const SE_REDUCTION: usize = 4;

/// The TensorFlow/OFA channel rounding: `value` to the nearest multiple of `divisor` (at least
/// `divisor`), rounded up once more if that lost over 10%.
///
/// ```
/// use search_space::mbv3::make_divisible;
/// assert_eq!(make_divisible(16.0 * 1.2, 8), 24);
/// assert_eq!(make_divisible(12.0, 8), 16);
/// assert_eq!(make_divisible(960.0 / 4.0, 8), 240);
/// assert_eq!(make_divisible(3.0, 8), 8);
/// ```
pub fn make_divisible(value: f64, divisor: usize) -> usize {
    let d = divisor as f64;
    let mut rounded = (((value + d / 2.0).floor() as usize) / divisor * divisor).max(divisor);
    if (rounded as f64) < 0.9 * value {
        rounded += divisor;
    }
    rounded
}

/// A nonlinearity of the network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Activation {
    /// `max(x, 0)`.
    Relu,
    /// `x · relu6(x + 3) / 6` (Howard et al., 2019).
    HSwish,
}

/// The macro network around a point: width, input, classes, resolution.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Mbv3MacroConfig {
    /// Width multiplier `w` (OFA publishes 1.0 and 1.2): every width is `make_divisible(base · w, 8)`.
    pub width_mult: f64,
    /// Channels of the input images.
    pub input_channels: usize,
    /// Classifier outputs.
    pub num_classes: usize,
    /// Input height and width.
    pub resolution: usize,
}

impl Mbv3MacroConfig {
    /// OFA's ImageNet network: `w = 1.0`, 3×224×224 input, 1,000 classes.
    pub const fn ofa_imagenet() -> Self {
        Self {
            width_mult: 1.0,
            input_channels: 3,
            num_classes: 1000,
            resolution: 224,
        }
    }

    /// Checks that the configuration describes a network.
    pub fn validate(&self) -> Result<(), Mbv3ConfigError> {
        if !(self.width_mult.is_finite() && self.width_mult > 0.0) {
            return Err(Mbv3ConfigError::WidthMult(self.width_mult));
        }
        if self.input_channels == 0 {
            return Err(Mbv3ConfigError::ZeroInputChannels);
        }
        if self.num_classes == 0 {
            return Err(Mbv3ConfigError::ZeroClasses);
        }
        if self.resolution == 0 {
            return Err(Mbv3ConfigError::ZeroResolution);
        }
        Ok(())
    }

    /// `make_divisible(base · w, 8)`.
    pub fn width(&self, base: usize) -> usize {
        make_divisible(base as f64 * self.width_mult, CHANNEL_DIVISIBLE)
    }
}

/// A macro configuration that cannot build a network.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum Mbv3ConfigError {
    /// The width multiplier is not a positive finite number.
    #[error("width multiplier {0} must be a positive finite number (OFA uses 1.0 and 1.2)")]
    WidthMult(f64),
    /// `input_channels` is 0.
    #[error("input images must have at least one channel")]
    ZeroInputChannels,
    /// `num_classes` is 0.
    #[error("the classifier needs at least one class")]
    ZeroClasses,
    /// `resolution` is 0.
    #[error("the input resolution must be positive")]
    ZeroResolution,
}

/// Output side of a convolution with odd kernel `k`, padding `k / 2` and stride `stride` on a
/// side of `size`: `⌈size / stride⌉`.
pub const fn conv_out(size: usize, stride: usize) -> usize {
    (size - 1) / stride + 1
}

/// One MBConv block, fully resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MbConvSpec {
    /// Input channels.
    pub c_in: usize,
    /// Middle (expanded) channels: the depthwise convolution's width.
    pub c_mid: usize,
    /// Output channels.
    pub c_out: usize,
    /// Depthwise kernel size (odd).
    pub kernel: usize,
    /// Depthwise stride.
    pub stride: usize,
    /// Channels squeeze-and-excite squeezes to, if the block has it.
    pub se_mid: Option<usize>,
    /// The block's nonlinearity.
    pub activation: Activation,
    /// Input side.
    pub in_size: usize,
}

impl MbConvSpec {
    /// Whether the block has an expand (inverted-bottleneck) 1×1 convolution: when `c_mid ≠
    /// c_in` (OFA's expand ratio 1 and MobileNetV3's first block have none).
    pub const fn has_expand(&self) -> bool {
        self.c_mid != self.c_in
    }

    /// Whether the input is added to the output (stride 1, same width).
    pub const fn residual(&self) -> bool {
        self.stride == 1 && self.c_in == self.c_out
    }

    /// Output side.
    pub const fn out_size(&self) -> usize {
        conv_out(self.in_size, self.stride)
    }
}

/// A whole network, layer by layer (see the [module docs](self)).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Mbv3Plan {
    /// Channels of the input images.
    pub input_channels: usize,
    /// Input side.
    pub resolution: usize,
    /// Stem output channels.
    pub stem: usize,
    /// Every MBConv block in order, the fixed first block included.
    pub blocks: Vec<MbConvSpec>,
    /// Final expand channels.
    pub final_expand: usize,
    /// Feature-mix channels.
    pub feature_mix: usize,
    /// Classifier outputs.
    pub num_classes: usize,
}

impl Mbv3Plan {
    /// OFA's network for `arch` under `config`.
    ///
    /// ```
    /// use search_space::mbv3::{Mbv3Arch, Mbv3MacroConfig, Mbv3Plan};
    /// let plan = Mbv3Plan::new(&Mbv3Arch::smallest(), &Mbv3MacroConfig::ofa_imagenet()).unwrap();
    /// assert_eq!(plan.blocks.len(), 1 + 10);
    /// assert_eq!(plan.blocks[1].c_mid, 48); // 16 · 3
    /// assert_eq!(plan.final_size(), 7);
    /// ```
    pub fn new(arch: &Mbv3Arch, config: &Mbv3MacroConfig) -> Result<Self, Mbv3ConfigError> {
        config.validate()?;
        let widths = BASE_WIDTHS.map(|b| config.width(b));
        let mut size = conv_out(config.resolution, 2);
        let mut blocks = vec![MbConvSpec {
            c_in: widths[0],
            c_mid: widths[0],
            c_out: widths[1],
            kernel: 3,
            stride: 1,
            se_mid: None,
            activation: Activation::Relu,
            in_size: size,
        }];
        let mut c_in = widths[1];
        for s in 0..STAGES {
            for (i, block) in arch.stage(s).iter().enumerate() {
                let stride = if i == 0 { STAGE_STRIDES[s] } else { 1 };
                let c_mid = make_divisible((c_in * block.expand.ratio()) as f64, CHANNEL_DIVISIBLE);
                let spec = MbConvSpec {
                    c_in,
                    c_mid,
                    c_out: widths[2 + s],
                    kernel: block.kernel.size(),
                    stride,
                    se_mid: STAGE_SE[s].then(|| se_width(c_mid)),
                    activation: STAGE_ACTIVATIONS[s],
                    in_size: size,
                };
                size = spec.out_size();
                c_in = spec.c_out;
                blocks.push(spec);
            }
        }
        Ok(Self {
            input_channels: config.input_channels,
            resolution: config.resolution,
            stem: widths[0],
            blocks,
            final_expand: config.width(BASE_FINAL_EXPAND),
            feature_mix: config.width(BASE_FEATURE_MIX),
            num_classes: config.num_classes,
        })
    }

    /// MobileNetV3-Large (Howard et al., ICCV 2019, Table 1) under `config`, with widths scaled
    /// as torchvision scales them. It has OFA's macro structure (same stem, SE stages,
    /// activations, strides and head) and its stage depths (2, 3, 4, 2, 3) are in the space;
    /// it differs from the OFA point
    /// `k3e4,k3e3|k5e3,k5e3,k5e3|k3e6,k3e3,k3e3,k3e3|k3e6,k3e6|k5e6,k5e6,k5e6` only in the middle
    /// widths of the 80-channel stage's last three blocks: 200, 184, 184 (ratios 2.5, 2.3, 2.3,
    /// outside OFA's 3, 4, 6) instead of 240.
    pub fn mobilenet_v3_large(config: &Mbv3MacroConfig) -> Result<Self, Mbv3ConfigError> {
        use Activation::{HSwish as HS, Relu as RE};
        config.validate()?;
        // (kernel, expanded, out, SE, activation, stride), Table 1 of the paper.
        const ROWS: [(usize, usize, usize, bool, Activation, usize); 15] = [
            (3, 16, 16, false, RE, 1),
            (3, 64, 24, false, RE, 2),
            (3, 72, 24, false, RE, 1),
            (5, 72, 40, true, RE, 2),
            (5, 120, 40, true, RE, 1),
            (5, 120, 40, true, RE, 1),
            (3, 240, 80, false, HS, 2),
            (3, 200, 80, false, HS, 1),
            (3, 184, 80, false, HS, 1),
            (3, 184, 80, false, HS, 1),
            (3, 480, 112, true, HS, 1),
            (3, 672, 112, true, HS, 1),
            (5, 672, 160, true, HS, 2),
            (5, 960, 160, true, HS, 1),
            (5, 960, 160, true, HS, 1),
        ];
        let stem = config.width(16);
        let mut size = conv_out(config.resolution, 2);
        let mut c_in = stem;
        let mut blocks = Vec::with_capacity(ROWS.len());
        for (kernel, expanded, out, se, activation, stride) in ROWS {
            let c_mid = config.width(expanded);
            let spec = MbConvSpec {
                c_in,
                c_mid,
                c_out: config.width(out),
                kernel,
                stride,
                se_mid: se.then(|| se_width(c_mid)),
                activation,
                in_size: size,
            };
            size = spec.out_size();
            c_in = spec.c_out;
            blocks.push(spec);
        }
        Ok(Self {
            input_channels: config.input_channels,
            resolution: config.resolution,
            stem,
            final_expand: 6 * c_in,
            feature_mix: config.width(BASE_FEATURE_MIX),
            blocks,
            num_classes: config.num_classes,
        })
    }

    /// Side of the stem's output.
    pub const fn stem_size(&self) -> usize {
        conv_out(self.resolution, 2)
    }

    /// Side of the last block's output (the final expand layer's).
    pub fn final_size(&self) -> usize {
        self.blocks
            .last()
            .map_or(self.stem_size(), MbConvSpec::out_size)
    }

    /// Channels of the last block's output.
    pub fn last_channels(&self) -> usize {
        self.blocks.last().map_or(self.stem, |b| b.c_out)
    }
}

/// Squeeze-and-excite width for `channels`: `make_divisible(channels / 4, 8)` (integer division
/// first, as OFA's `SEModule` does).
pub fn se_width(channels: usize) -> usize {
    make_divisible((channels / SE_REDUCTION) as f64, CHANNEL_DIVISIBLE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn make_divisible_matches_ofa() {
        // Values worked by hand from OFA's `make_divisible`.
        assert_eq!(make_divisible(16.0, 8), 16);
        assert_eq!(make_divisible(19.2, 8), 24); // 16 · 1.2
        assert_eq!(make_divisible(134.4, 8), 136); // 112 · 1.2
        assert_eq!(make_divisible(1152.0, 8), 1152); // 960 · 1.2
        assert_eq!(make_divisible(4.0, 8), 8);
        assert_eq!(make_divisible(10.0, 8), 16); // 8 < 0.9 · 10
        assert_eq!(make_divisible(44.0, 8), 48); // ties round up
        assert_eq!(se_width(72), 24);
        assert_eq!(se_width(100), 24); // int(25 + 4) // 8 · 8 = 24 ≥ 0.9 · 25
    }

    #[test]
    fn strides_and_sizes() {
        let config = Mbv3MacroConfig {
            resolution: 32,
            ..Mbv3MacroConfig::ofa_imagenet()
        };
        let plan = Mbv3Plan::new(&Mbv3Arch::largest(), &config).unwrap();
        assert_eq!(plan.stem_size(), 16);
        assert_eq!(plan.final_size(), 1);
        assert_eq!(plan.blocks.len(), 21);
        let residuals = plan.blocks.iter().filter(|b| b.residual()).count();
        assert_eq!(residuals, 1 + 5 * 3);
        assert!(!plan.blocks[0].has_expand());
        assert!(plan.blocks[1..].iter().all(MbConvSpec::has_expand));
        assert_eq!(
            Mbv3Plan::new(
                &Mbv3Arch::largest(),
                &Mbv3MacroConfig {
                    width_mult: 0.0,
                    ..config
                }
            ),
            Err(Mbv3ConfigError::WidthMult(0.0))
        );
    }
}
