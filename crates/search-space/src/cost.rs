//! Parameters and FLOPs of the NAS-Bench-201 macro network, derived from its structure.
//!
//! [`layers`] lists the network layer by layer (the same structure [`crate::Nb201Network`]
//! builds); [`Cost`] sums it. Counting follows the official counter: parameters are every
//! trainable tensor (convs, BatchNorm affine, classifier); FLOPs count multiply-adds of convs and
//! the classifier (with its bias), and nothing for BatchNorm, ReLU or pooling.

use serde::{Deserialize, Serialize};

use crate::arch::{Nb201Arch, EDGES};
use crate::op::Op;

/// The macro network around a cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MacroConfig {
    /// Channels of the first stage (C); stages have C, 2C and 4C.
    pub channels: usize,
    /// Cells per stage (N).
    pub cells_per_stage: usize,
    /// Channels of the input images.
    pub input_channels: usize,
    /// Classifier outputs.
    pub num_classes: usize,
    /// Input height and width.
    pub resolution: usize,
}

impl MacroConfig {
    /// The official CIFAR-10 configuration: C=16, N=5, 3×32×32 input, 10 classes.
    pub const fn nb201_cifar10() -> Self {
        Self {
            channels: 16,
            cells_per_stage: 5,
            input_channels: 3,
            num_classes: 10,
            resolution: 32,
        }
    }

    /// The official CIFAR-100 configuration (100 classes).
    pub const fn nb201_cifar100() -> Self {
        Self {
            num_classes: 100,
            ..Self::nb201_cifar10()
        }
    }

    /// The official ImageNet16-120 configuration (120 classes, 16×16).
    pub const fn nb201_imagenet16_120() -> Self {
        Self {
            num_classes: 120,
            resolution: 16,
            ..Self::nb201_cifar10()
        }
    }
}

/// One layer that holds parameters or FLOPs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layer {
    /// A 2-D convolution without bias producing `out_size × out_size` maps.
    Conv {
        /// Input channels.
        c_in: usize,
        /// Output channels.
        c_out: usize,
        /// Square kernel size.
        kernel: usize,
        /// Output height (= width).
        out_size: usize,
    },
    /// A BatchNorm with affine scale and shift.
    BatchNorm {
        /// Channels.
        channels: usize,
    },
    /// A fully connected layer with bias.
    Linear {
        /// Inputs.
        d_in: usize,
        /// Outputs.
        d_out: usize,
    },
}

impl Layer {
    /// Trainable parameters.
    pub const fn params(&self) -> usize {
        match *self {
            Layer::Conv {
                c_in,
                c_out,
                kernel,
                ..
            } => c_in * c_out * kernel * kernel,
            Layer::BatchNorm { channels } => 2 * channels,
            Layer::Linear { d_in, d_out } => d_in * d_out + d_out,
        }
    }

    /// Multiply-adds for one image.
    pub const fn flops(&self) -> usize {
        match *self {
            Layer::Conv {
                c_in,
                c_out,
                kernel,
                out_size,
            } => c_in * c_out * kernel * kernel * out_size * out_size,
            Layer::BatchNorm { .. } => 0,
            Layer::Linear { d_in, d_out } => d_in * d_out + d_out,
        }
    }
}

/// Output size of a 3×3, stride-2, padding-1 convolution (the reduction block).
const fn reduced(size: usize) -> usize {
    (size + 2 - 3) / 2 + 1
}

/// The macro network of `arch` under `config`, layer by layer, in forward order:
/// stem conv + BN; 3 stages of N cells at C, 2C, 4C with a residual reduction block between
/// stages; final BN; classifier.
pub fn layers(arch: &Nb201Arch, config: &MacroConfig) -> Vec<Layer> {
    let c = config.channels;
    let mut size = config.resolution;
    let mut out = vec![
        Layer::Conv {
            c_in: config.input_channels,
            c_out: c,
            kernel: 3,
            out_size: size,
        },
        Layer::BatchNorm { channels: c },
    ];
    for stage in 0..3 {
        let width = c << stage;
        if stage > 0 {
            let c_in = width / 2;
            size = reduced(size);
            out.extend([
                Layer::Conv {
                    c_in,
                    c_out: width,
                    kernel: 3,
                    out_size: size,
                },
                Layer::BatchNorm { channels: width },
                Layer::Conv {
                    c_in: width,
                    c_out: width,
                    kernel: 3,
                    out_size: size,
                },
                Layer::BatchNorm { channels: width },
                // Shortcut: 2×2 average pool, then a 1×1 conv.
                Layer::Conv {
                    c_in,
                    c_out: width,
                    kernel: 1,
                    out_size: size,
                },
            ]);
        }
        for _ in 0..config.cells_per_stage {
            for (_, op) in EDGES.iter().zip(arch.ops()) {
                let kernel = match op {
                    Op::NorConv1x1 => 1,
                    Op::NorConv3x3 => 3,
                    _ => continue,
                };
                out.push(Layer::Conv {
                    c_in: width,
                    c_out: width,
                    kernel,
                    out_size: size,
                });
                out.push(Layer::BatchNorm { channels: width });
            }
        }
    }
    let last = c << 2;
    out.push(Layer::BatchNorm { channels: last });
    out.push(Layer::Linear {
        d_in: last,
        d_out: config.num_classes,
    });
    out
}

/// Size of a network in the benchmark's units.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cost {
    /// Trainable parameters, in millions (the benchmark's "MB").
    pub params: f64,
    /// Multiply-adds per image, in millions.
    pub flops: f64,
}

/// Exact trainable parameter count of `arch`'s macro network.
pub fn param_count(arch: &Nb201Arch, config: &MacroConfig) -> usize {
    layers(arch, config).iter().map(Layer::params).sum()
}

/// Exact multiply-adds per image of `arch`'s macro network.
pub fn flop_count(arch: &Nb201Arch, config: &MacroConfig) -> usize {
    layers(arch, config).iter().map(Layer::flops).sum()
}

impl Nb201Arch {
    /// Parameters (M) and FLOPs (M) of this cell's macro network under `config`.
    pub fn cost(&self, config: &MacroConfig) -> Cost {
        Cost {
            params: param_count(self, config) as f64 / 1e6,
            flops: flop_count(self, config) as f64 / 1e6,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uniform(op: Op) -> Nb201Arch {
        Nb201Arch::new([op; 6])
    }

    #[test]
    fn anchor_reference_params() {
        let c10 = MacroConfig::nb201_cifar10();
        assert_eq!(param_count(&uniform(Op::None), &c10), 73_306);
        assert_eq!(param_count(&uniform(Op::NorConv3x3), &c10), 1_531_546);
        let best: Nb201Arch = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
            .parse()
            .unwrap();
        assert_eq!(param_count(&best, &c10), 1_288_506);
        assert_eq!(
            param_count(&best, &MacroConfig::nb201_cifar100()),
            1_294_356
        );
    }

    #[test]
    fn fitted_linear_formula_holds() {
        // The DATA.md formula is a check, not the model: FLOPs = base + 35.38944·n3 + 3.93216·n1.
        let cfg = MacroConfig::nb201_cifar10();
        for arch in Nb201Arch::all().step_by(97) {
            let n3 = arch.count(Op::NorConv3x3) as f64;
            let n1 = arch.count(Op::NorConv1x1) as f64;
            let cost = arch.cost(&cfg);
            assert!((cost.flops - (7.78305 + 35.38944 * n3 + 3.93216 * n1)).abs() < 1e-9);
            assert!((cost.params - (0.073306 + 0.24304 * n3 + 0.028 * n1)).abs() < 1e-9);
        }
    }
}
