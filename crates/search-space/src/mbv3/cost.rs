//! Parameters and multiply-adds of a MobileNetV3 network, derived from its [`Mbv3Plan`].
//!
//! Counting follows OFA's own counter (`ofa/utils/flops_counter.py`, the figures of its model
//! zoo): parameters are every trainable tensor (convolutions, batch-norm scale and shift,
//! squeeze-and-excite convs with their biases, the classifier with its bias); multiply-adds count
//! every convolution (`in/groups · k² · out · H·W`, squeeze-and-excite's 1×1 convs at 1×1) and
//! every linear layer (`in · out`, no bias), and nothing for batch norm, activations, pooling,
//! the SE gate's product or the residual sums.

use super::arch::Mbv3Arch;
use super::plan::{Mbv3ConfigError, Mbv3MacroConfig, Mbv3Plan};
use crate::cost::Cost;

/// One layer that holds parameters or multiply-adds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layer {
    /// A 2-D convolution producing `out_size × out_size` maps.
    Conv {
        /// Input channels.
        c_in: usize,
        /// Output channels.
        c_out: usize,
        /// Square kernel size.
        kernel: usize,
        /// Groups (`c_in` for a depthwise convolution).
        groups: usize,
        /// Whether it adds a bias.
        bias: bool,
        /// Output height (= width).
        out_size: usize,
    },
    /// A batch norm with affine scale and shift.
    BatchNorm {
        /// Channels.
        channels: usize,
    },
    /// A fully connected layer (also a 1×1 convolution on a 1×1 map).
    Linear {
        /// Inputs.
        d_in: usize,
        /// Outputs.
        d_out: usize,
        /// Whether it adds a bias.
        bias: bool,
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
                groups,
                bias,
                ..
            } => c_in / groups * c_out * kernel * kernel + if bias { c_out } else { 0 },
            Layer::BatchNorm { channels } => 2 * channels,
            Layer::Linear { d_in, d_out, bias } => d_in * d_out + if bias { d_out } else { 0 },
        }
    }

    /// Multiply-adds for one image.
    pub const fn flops(&self) -> usize {
        match *self {
            Layer::Conv {
                c_in,
                c_out,
                kernel,
                groups,
                out_size,
                ..
            } => c_in / groups * c_out * kernel * kernel * out_size * out_size,
            Layer::BatchNorm { .. } => 0,
            Layer::Linear { d_in, d_out, .. } => d_in * d_out,
        }
    }
}

impl Mbv3Plan {
    /// The network layer by layer, in forward order (see the [plan docs](super::plan)).
    pub fn layers(&self) -> Vec<Layer> {
        let conv = |c_in, c_out, kernel, groups, out_size| Layer::Conv {
            c_in,
            c_out,
            kernel,
            groups,
            bias: false,
            out_size,
        };
        let mut out = vec![
            conv(self.input_channels, self.stem, 3, 1, self.stem_size()),
            Layer::BatchNorm {
                channels: self.stem,
            },
        ];
        for b in &self.blocks {
            let (size, mid) = (b.out_size(), b.c_mid);
            if b.has_expand() {
                out.push(conv(b.c_in, mid, 1, 1, b.in_size));
                out.push(Layer::BatchNorm { channels: mid });
            }
            out.push(conv(mid, mid, b.kernel, mid, size));
            out.push(Layer::BatchNorm { channels: mid });
            if let Some(se) = b.se_mid {
                out.push(Layer::Linear {
                    d_in: mid,
                    d_out: se,
                    bias: true,
                });
                out.push(Layer::Linear {
                    d_in: se,
                    d_out: mid,
                    bias: true,
                });
            }
            out.push(conv(mid, b.c_out, 1, 1, size));
            out.push(Layer::BatchNorm { channels: b.c_out });
        }
        out.extend([
            conv(
                self.last_channels(),
                self.final_expand,
                1,
                1,
                self.final_size(),
            ),
            Layer::BatchNorm {
                channels: self.final_expand,
            },
            Layer::Linear {
                d_in: self.final_expand,
                d_out: self.feature_mix,
                bias: false,
            },
            Layer::Linear {
                d_in: self.feature_mix,
                d_out: self.num_classes,
                bias: true,
            },
        ]);
        out
    }

    /// Exact trainable parameter count.
    pub fn param_count(&self) -> usize {
        self.layers().iter().map(Layer::params).sum()
    }

    /// Exact multiply-adds per image.
    pub fn flop_count(&self) -> usize {
        self.layers().iter().map(Layer::flops).sum()
    }

    /// Parameters (M) and multiply-adds (M).
    pub fn cost(&self) -> Cost {
        Cost {
            params: self.param_count() as f64 / 1e6,
            flops: self.flop_count() as f64 / 1e6,
        }
    }
}

impl Mbv3Arch {
    /// Parameters (M) and multiply-adds (M) of this network under `config`.
    ///
    /// ```
    /// use search_space::mbv3::{Mbv3Arch, Mbv3MacroConfig};
    /// let cost = Mbv3Arch::largest().cost(&Mbv3MacroConfig::ofa_imagenet()).unwrap();
    /// assert!((7.0..8.0).contains(&cost.params));
    /// ```
    pub fn cost(&self, config: &Mbv3MacroConfig) -> Result<Cost, Mbv3ConfigError> {
        Ok(Mbv3Plan::new(self, config)?.cost())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mbv3::choice::{Expand, Kernel, Mbv3Block};
    use crate::mbv3::plan::MbConvSpec;

    fn imagenet() -> Mbv3MacroConfig {
        Mbv3MacroConfig::ofa_imagenet()
    }

    fn w12() -> Mbv3MacroConfig {
        Mbv3MacroConfig {
            width_mult: 1.2,
            ..imagenet()
        }
    }

    fn within(value: usize, reference: f64, tolerance: f64) -> bool {
        (value as f64 - reference).abs() <= tolerance * reference
    }

    /// MobileNetV3-Large, checked against figures computed outside this code:
    /// - torchvision's `mobilenet_v3_large` has exactly 5,483,032 parameters (its model card,
    ///   `MobileNet_V3_Large_Weights.IMAGENET1K_V1.meta["num_params"]`); its feature-mix layer
    ///   is a `Linear(960, 1280)` *with* bias, where OFA's (and the paper's "NBN" conv) has
    ///   none, so ours is 1,280 fewer;
    /// - Howard et al., "Searching for MobileNetV3", ICCV 2019, Table 3: 5.4M parameters,
    ///   219M multiply-adds at 224×224; the TF-Slim/Keras release table of the same model: 217M.
    #[test]
    fn mobilenet_v3_large_matches_published_figures() {
        let plan = Mbv3Plan::mobilenet_v3_large(&imagenet()).unwrap();
        assert_eq!(plan.param_count() + 1280, 5_483_032);
        assert!(within(plan.param_count(), 5.4e6, 0.02));
        assert!(within(plan.flop_count(), 219e6, 0.02));
        assert!(within(plan.flop_count(), 217e6, 0.005));
        assert_eq!(plan.flop_count(), 216_589_760);
    }

    /// The OFA point nearest MobileNetV3-Large differs from it only in the middle widths of
    /// three blocks (240 for the paper's 200, 184, 184).
    #[test]
    fn mobilenet_v3_large_is_nearly_an_ofa_point() {
        let large = Mbv3Plan::mobilenet_v3_large(&imagenet()).unwrap();
        let arch: Mbv3Arch =
            "k3e4,k3e3|k5e3,k5e3,k5e3|k3e6,k3e3,k3e3,k3e3|k3e6,k3e6|k5e6,k5e6,k5e6"
                .parse()
                .unwrap();
        let ofa = Mbv3Plan::new(&arch, &imagenet()).unwrap();
        assert_eq!(ofa.blocks.len(), large.blocks.len());
        let differing: Vec<usize> = (0..large.blocks.len())
            .filter(|&i| large.blocks[i] != ofa.blocks[i])
            .collect();
        assert_eq!(differing, [7, 8, 9]);
        assert_eq!(
            differing
                .iter()
                .map(|&i| large.blocks[i].c_mid)
                .collect::<Vec<_>>(),
            [200, 184, 184]
        );
        assert!(differing.iter().all(|&i| ofa.blocks[i].c_mid == 240));
        let same_otherwise = differing.iter().all(|&i| {
            MbConvSpec {
                c_mid: 240,
                ..large.blocks[i]
            } == ofa.blocks[i]
        });
        assert!(same_otherwise);
        assert_eq!(
            (ofa.stem, ofa.final_expand, ofa.feature_mix),
            (large.stem, large.final_expand, large.feature_mix)
        );
    }

    /// OFA's reference sub-networks of `ofa_mbv3_d234_e346_k357_w1.0` at 224×224, 1,000 classes.
    /// - The largest (`set_active_subnet(ks=7, e=6, d=4)`): ≈ 7.7M parameters, the figure quoted
    ///   for OFA's full MobileNetV3 network (issue 17); 7,664,760 here.
    /// - The smallest (ks=3, e=3, d=2): 3,410,792 parameters, 121M MACs here, which is below
    ///   MobileNetV3-Large as it must be (every block is at most as wide).
    #[test]
    fn ofa_reference_subnets() {
        let largest = Mbv3Plan::new(&Mbv3Arch::largest(), &imagenet()).unwrap();
        let smallest = Mbv3Plan::new(&Mbv3Arch::smallest(), &imagenet()).unwrap();
        assert!(within(largest.param_count(), 7.7e6, 0.01));
        assert_eq!(largest.param_count(), 7_664_760);
        assert_eq!(largest.flop_count(), 566_170_656);
        assert_eq!(smallest.param_count(), 3_410_792);
        assert_eq!(smallest.flop_count(), 121_278_672);
        let large = Mbv3Plan::mobilenet_v3_large(&imagenet()).unwrap();
        assert!(smallest.param_count() < large.param_count());
        assert!(smallest.flop_count() < large.flop_count());
    }

    /// OFA's README lists specialised sub-networks of `ofa_mbv3_d234_e346_k357_w1.2` found under
    /// MAC budgets: `flops@595M_top1@80.0` (9.1M params, 595M MACs), `flops@482M_top1@79.6`
    /// (9.1M, 482M), `flops@389M_top1@79.1` (8.4M, 389M), at resolutions up to 224. Their
    /// parameters must lie between the smallest and largest w1.2 networks', and their MACs
    /// below the largest's at 224.
    #[test]
    fn ofa_specialised_networks_fit_the_w12_space() {
        let largest = Mbv3Plan::new(&Mbv3Arch::largest(), &w12()).unwrap();
        let smallest = Mbv3Plan::new(&Mbv3Arch::smallest(), &w12()).unwrap();
        for (params, macs) in [(9.1e6, 595e6), (9.1e6, 482e6), (8.4e6, 389e6)] {
            assert!((smallest.param_count() as f64) < params);
            assert!(params < largest.param_count() as f64);
            assert!(macs < largest.flop_count() as f64);
        }
        assert_eq!(largest.param_count(), 10_701_632);
    }

    #[test]
    fn cost_grows_with_every_choice() {
        let config = imagenet();
        let base = Mbv3Arch::smallest();
        let base_cost = base.cost(&config).unwrap();
        for (stage, block) in [(0, 0), (2, 1), (4, 1)] {
            for bigger in [
                Mbv3Block::new(Kernel::K5, Expand::E3),
                Mbv3Block::new(Kernel::K3, Expand::E4),
            ] {
                let mut stages: Vec<Vec<Mbv3Block>> =
                    (0..5).map(|s| base.stage(s).to_vec()).collect();
                stages[stage][block] = bigger;
                let cost = Mbv3Arch::from_stages(&stages)
                    .unwrap()
                    .cost(&config)
                    .unwrap();
                assert!(cost.params > base_cost.params && cost.flops > base_cost.flops);
            }
        }
        assert!(matches!(
            base.cost(&Mbv3MacroConfig {
                num_classes: 0,
                ..config
            }),
            Err(Mbv3ConfigError::ZeroClasses)
        ));
    }
}
