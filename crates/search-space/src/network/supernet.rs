//! The NAS-Bench-201 weight-sharing supernet: every edge of every cell holds all five ops, mixed
//! by per-edge weights over the ops.
//!
//! This is the network BASE (Shaw et al., NeurIPS 2019) meta-learns and GDAS / DARTS search
//! with. The macro network is [`Nb201Network`](super::Nb201Network)'s (stem, three stages of
//! `N` cells, two residual reductions, final BN, pooling, classifier); only the cells differ.
//!
//! The architecture is not part of the module: [`Nb201Supernet::forward`] takes
//! [`EdgeWeights`], which a caller makes from its own architecture logits (a separate parameter
//! with its own optimiser, as in DARTS and GDAS), with [`EdgeWeights::gumbel`] (BASE's concrete
//! relaxation, soft or hard), [`EdgeWeights::soft`] (DARTS's softmax), or
//! [`EdgeWeights::fixed`] (one cell, evaluated with the shared weights).
//!
//! **Batch norm under weight sharing.** The conv ops inside a mixed edge use batch norm without
//! affine parameters and without running statistics (DARTS's and GDAS's
//! `BatchNorm2d(affine=False)`): an affine scale would let an op's output scale trade off
//! against its mixing weight, and running statistics would average over batches in which the
//! op was mixed with different weights (or, with hard sampling, not run at all). Every forward
//! pass therefore normalises with the batch's statistics, in training and in evaluation alike;
//! the stem, the reductions and the final BN are ordinary affine batch norms, also run with
//! batch statistics ([`BnMode::Train`]).

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::{relu, softmax};
use burn::tensor::{backend::Backend, Tensor, TensorData};
use rand::Rng;

use super::batch_norm::{normalize_batch, BatchNorm2d, BatchNorm2dConfig, BnMode};
use super::conv::conv_module;
use super::init::{mix, uniform_param};
use super::model::{validate_macro, NetworkConfigError};
use super::ops::{pointwise_conv, AvgPool3x3};
use super::reduction::{ResidualBlock, ResidualBlockConfig};
use crate::{Nb201Arch, Op, EDGES};

/// Ops per edge ([`Op::ALL`], in official order: none, skip, 1×1 conv, 3×3 conv, pool).
pub const NUM_OPS: usize = 5;
/// Edges per cell ([`EDGES`]).
pub const NUM_EDGES: usize = 6;

/// Epsilon of the affine-free batch norms.
const BN_EPSILON: f64 = 1e-5;

// Roles of the top-level parts in the seed derivation (see `init::mix`); the same tags as
// `Nb201Network`'s, so the stem, reductions and classifier start from the same weights as a
// network of the same seed.
const TAG_STEM: u64 = 0;
const TAG_CELLS: u64 = 1;
const TAG_REDUCTIONS: u64 = 2;
const TAG_CLASSIFIER_WEIGHT: u64 = 3;
const TAG_CLASSIFIER_BIAS: u64 = 4;

/// Configuration of an [`Nb201Supernet`]; the fields and defaults are
/// [`Nb201NetworkConfig`](super::Nb201NetworkConfig)'s without the cell.
#[derive(Config, Debug)]
pub struct Nb201SupernetConfig {
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
    /// Side of the square input images; a positive multiple of 4.
    #[config(default = 32)]
    pub resolution: usize,
    /// Seed of the initial weights.
    #[config(default = 0)]
    pub seed: u64,
}

/// ReLU → conv (no bias, padding `k/2`) → affine-free batch norm: a conv op inside a mixed edge.
#[derive(Module, Debug)]
pub struct SharedConv<B: Backend> {
    /// The convolution, weight `[C, C, k, k]`.
    pub conv: Conv2d<B>,
}

impl<B: Backend> SharedConv<B> {
    fn new(channels: usize, k: usize, seed: u64, device: &B::Device) -> Self {
        let pad = k / 2;
        let mut conv = Conv2dConfig::new([channels, channels], [k, k])
            .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
            .with_bias(false)
            .init(device);
        conv.weight = uniform_param(
            [channels, channels, k, k],
            1.0 / ((channels * k * k) as f32).sqrt(),
            seed,
            device,
        );
        SharedConv { conv }
    }

    /// - `input`: `[batch, C, h, w]`; output: `[batch, C, h, w]`
    pub fn forward(&self, input: Tensor<B, 4>) -> Tensor<B, 4> {
        let x = relu(input);
        let x = if self.conv.kernel_size == [1, 1] {
            pointwise_conv(x, self.conv.weight.val())
        } else {
            conv_module(&self.conv, x)
        };
        normalize_batch(x, BN_EPSILON)
    }
}

/// One edge of a supernet cell: the two parametric ops (the other three have no weights).
#[derive(Module, Debug)]
pub struct MixedEdge<B: Backend> {
    /// `nor_conv_1x1`.
    pub conv1x1: SharedConv<B>,
    /// `nor_conv_3x3`.
    pub conv3x3: SharedConv<B>,
}

impl<B: Backend> MixedEdge<B> {
    /// The output of op `op` on `input` (`None` for the `none` op, which outputs zeros).
    fn op(&self, op: Op, input: Tensor<B, 4>) -> Option<Tensor<B, 4>> {
        match op {
            Op::None => None,
            Op::SkipConnect => Some(input),
            Op::NorConv1x1 => Some(self.conv1x1.forward(input)),
            Op::NorConv3x3 => Some(self.conv3x3.forward(input)),
            Op::AvgPool3x3 => Some(AvgPool3x3 {}.forward(input)),
        }
    }
}

/// A supernet cell: NAS-Bench-201's four nodes with a [`MixedEdge`] on each of the six edges.
#[derive(Module, Debug)]
pub struct SuperCell<B: Backend> {
    /// The edges in [`EDGES`] order.
    pub edges: Vec<MixedEdge<B>>,
}

/// Mixing weights of the ops on each edge, shared by every cell of the supernet.
#[derive(Clone, Debug)]
pub enum EdgeWeights<B: Backend> {
    /// Every op runs; edge `e`'s output is `Σₒ w[e, o] · opₒ(x)`.
    Soft(Tensor<B, 2>),
    /// Only op `choice[e]` runs on edge `e`, scaled by `w[e, choice[e]]` (1 in value; with
    /// [`EdgeWeights::gumbel`]'s straight-through weights its gradient reaches every logit).
    Hard {
        /// `[6, 5]` weights; only the chosen entries are read.
        weights: Tensor<B, 2>,
        /// The op index ([`Op::index`]) chosen on each edge.
        choice: [usize; NUM_EDGES],
    },
}

impl<B: Backend> EdgeWeights<B> {
    /// DARTS's relaxation: `softmax(logits)` per edge, every op mixed.
    ///
    /// - `logits`: `[6, 5]`
    pub fn soft(logits: Tensor<B, 2>) -> Self {
        EdgeWeights::Soft(softmax(logits, 1))
    }

    /// One cell, with constant one-hot weights (no gradient to any logits): the supernet then
    /// computes that cell with the shared weights.
    pub fn fixed(arch: &Nb201Arch, device: &B::Device) -> Self {
        let choice = arch.ops().map(|op| op.index());
        let mut w = vec![0.0f32; NUM_EDGES * NUM_OPS];
        for (e, &o) in choice.iter().enumerate() {
            w[e * NUM_OPS + o] = 1.0;
        }
        EdgeWeights::Hard {
            weights: Tensor::from_data(TensorData::new(w, [NUM_EDGES, NUM_OPS]), device),
            choice,
        }
    }

    /// BASE's concrete (Gumbel-softmax) relaxation of a sample from the per-edge categorical
    /// distribution `softmax(logits)`: `y = softmax((logits + g) / τ)` with `g` standard Gumbel
    /// noise drawn from `rng`. Soft: every op mixed with `y`. Hard (GDAS): only the sampled op
    /// `argmax y` runs per edge, with the straight-through weight `1 − sg(y) + y`, whose value
    /// is 1 and whose gradient is `y`'s.
    ///
    /// - `logits`: `[6, 5]`; `tau` > 0
    pub fn gumbel(logits: Tensor<B, 2>, tau: f64, hard: bool, rng: &mut impl Rng) -> Self {
        let device = logits.device();
        let noise: Vec<f32> = (0..NUM_EDGES * NUM_OPS)
            .map(|_| {
                // U in (0, 1): never exactly 0 or 1, so the logs are finite.
                let u: f64 = rng.random_range(f64::EPSILON..1.0 - f64::EPSILON);
                -(-u.ln()).ln() as f32
            })
            .collect();
        let g = Tensor::<B, 2>::from_data(TensorData::new(noise, [NUM_EDGES, NUM_OPS]), &device);
        let y = softmax((logits + g) / tau, 1);
        if !hard {
            return EdgeWeights::Soft(y);
        }
        let values: Vec<f32> = y
            .clone()
            .into_data()
            .convert::<f32>()
            .to_vec()
            .expect("f32 weights");
        let mut choice = [0usize; NUM_EDGES];
        let mut one_hot = vec![0.0f32; NUM_EDGES * NUM_OPS];
        for (e, c) in choice.iter_mut().enumerate() {
            let row = &values[e * NUM_OPS..(e + 1) * NUM_OPS];
            *c = argmax(row);
            one_hot[e * NUM_OPS + *c] = 1.0;
        }
        let one_hot =
            Tensor::<B, 2>::from_data(TensorData::new(one_hot, [NUM_EDGES, NUM_OPS]), &device);
        EdgeWeights::Hard {
            weights: one_hot - y.clone().detach() + y,
            choice,
        }
    }

    /// The cell that runs when the weights are hard; `None` for soft weights.
    pub fn cell(&self) -> Option<Nb201Arch> {
        match self {
            EdgeWeights::Soft(_) => None,
            EdgeWeights::Hard { choice, .. } => Some(Nb201Arch::new(
                choice.map(|o| Op::from_index(o).expect("op index < 5")),
            )),
        }
    }

    /// The `[1, 1, 1, 1]` weight of op `o` on edge `e`, for broadcasting over a feature map.
    fn weight(&self, e: usize, o: usize) -> Tensor<B, 4> {
        let w = match self {
            EdgeWeights::Soft(w) | EdgeWeights::Hard { weights: w, .. } => w,
        };
        w.clone().slice([e..e + 1, o..o + 1]).reshape([1, 1, 1, 1])
    }
}

/// Index of the largest value (the first on ties).
fn argmax(row: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = i;
        }
    }
    best
}

impl<B: Backend> SuperCell<B> {
    /// - `input`: `[batch, C, h, w]`; output: `[batch, C, h, w]`
    pub fn forward(&self, input: Tensor<B, 4>, weights: &EdgeWeights<B>) -> Tensor<B, 4> {
        let mut nodes: [Option<Tensor<B, 4>>; 4] = [Some(input), None, None, None];
        for (e, (edge, &(to, from))) in self.edges.iter().zip(EDGES.iter()).enumerate() {
            let Some(source) = nodes[from].clone() else {
                continue;
            };
            let ops: Vec<usize> = match weights {
                EdgeWeights::Soft(_) => (0..NUM_OPS).collect(),
                EdgeWeights::Hard { choice, .. } => vec![choice[e]],
            };
            for o in ops {
                let op = Op::from_index(o).expect("op index < 5");
                let Some(out) = edge.op(op, source.clone()) else {
                    continue;
                };
                let out = out * weights.weight(e, o);
                nodes[to] = Some(match nodes[to].take() {
                    Some(sum) => sum + out,
                    None => out,
                });
            }
        }
        match nodes[3].take() {
            Some(out) => out,
            None => {
                // Every path to the output is cut: the cell outputs zeros.
                let x = nodes[0].take().expect("the input node");
                x.zeros_like()
            }
        }
    }
}

/// The NAS-Bench-201 supernet (see the [module docs](self)).
#[derive(Module, Debug)]
pub struct Nb201Supernet<B: Backend> {
    /// Stem convolution 3×3, `in → C`, no bias.
    pub stem_conv: Conv2d<B>,
    /// Stem batch norm over C.
    pub stem_bn: BatchNorm2d<B>,
    /// The three stages of N supernet cells, at widths C, 2C, 4C.
    pub stages: Vec<Vec<SuperCell<B>>>,
    /// The reductions C → 2C and 2C → 4C.
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

impl Nb201SupernetConfig {
    /// Checks that the configuration can build a supernet.
    pub fn validate(&self) -> Result<(), NetworkConfigError> {
        validate_macro(
            self.channels,
            self.input_channels,
            self.num_classes,
            self.resolution,
        )
    }

    /// Builds the supernet (parameters are lazy, as in [`Nb201NetworkConfig::init`]).
    ///
    /// # Panics
    /// If the configuration is invalid (see [`Self::validate`]).
    ///
    /// [`Nb201NetworkConfig::init`]: super::Nb201NetworkConfig::init
    pub fn init<B: Backend>(&self, device: &B::Device) -> Nb201Supernet<B> {
        if let Err(e) = self.validate() {
            panic!("invalid Nb201SupernetConfig: {e}");
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
                        let seed = mix(cell_seed, ((s as u64) << 32) | i as u64);
                        SuperCell {
                            edges: (0..NUM_EDGES)
                                .map(|e| {
                                    let seed = mix(seed, e as u64);
                                    MixedEdge {
                                        conv1x1: SharedConv::new(width, 1, mix(seed, 1), device),
                                        conv3x3: SharedConv::new(width, 3, mix(seed, 3), device),
                                    }
                                })
                                .collect(),
                        }
                    })
                    .collect()
            })
            .collect();
        let reduction_seed = mix(self.seed, TAG_REDUCTIONS);
        let reductions = (0..2)
            .map(|s| {
                ResidualBlockConfig::new(widths[s], widths[s + 1])
                    .with_seed(mix(reduction_seed, s as u64))
                    .init(device)
            })
            .collect();
        let features = widths[2];
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
        Nb201Supernet {
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

impl<B: Backend> Nb201Supernet<B> {
    /// Class logits of the supernet under `weights`; every batch norm uses the batch's
    /// statistics (see the [module docs](self)), so a batch needs at least two images.
    ///
    /// - `input`: `[batch, input_channels, resolution, resolution]`
    /// - output: `[batch, num_classes]` (logits)
    ///
    /// # Panics
    /// If the input shape is not `[_, input_channels, resolution, resolution]`.
    pub fn forward(&self, input: Tensor<B, 4>, weights: &EdgeWeights<B>) -> Tensor<B, 2> {
        let [batch, channels, height, width] = input.dims();
        let r = self.resolution;
        assert!(
            channels == self.input_channels && height == r && width == r,
            "Nb201Supernet: input [{batch}, {channels}, {height}, {width}] does not match \
             [batch, {}, {r}, {r}]",
            self.input_channels
        );
        let mode = BnMode::Train;
        let mut x = self
            .stem_bn
            .forward_mode(conv_module(&self.stem_conv, input), mode);
        for (s, cells) in self.stages.iter().enumerate() {
            if s > 0 {
                x = self.reductions[s - 1].forward(x, mode);
            }
            for cell in cells {
                x = cell.forward(x, weights);
            }
        }
        let x = relu(self.final_bn.forward_mode(x, mode));
        let [_, features, h, w] = x.dims();
        let pooled = x
            .reshape([batch, features, h * w])
            .mean_dim(2)
            .reshape([batch, features]);
        self.classifier.forward(pooled)
    }
}

/// Per-edge op probabilities `softmax(logits)` from `[6, 5]` logits given as host values
/// (row-major).
///
/// # Panics
/// If `logits` does not hold 30 values.
pub fn edge_probabilities(logits: &[f32]) -> [[f64; NUM_OPS]; NUM_EDGES] {
    assert_eq!(logits.len(), NUM_EDGES * NUM_OPS, "expected [6, 5] logits");
    let mut p = [[0.0; NUM_OPS]; NUM_EDGES];
    for (e, row) in p.iter_mut().enumerate() {
        let l = &logits[e * NUM_OPS..(e + 1) * NUM_OPS];
        let max = l.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
        let exp: Vec<f64> = l.iter().map(|&v| (v as f64 - max).exp()).collect();
        let sum: f64 = exp.iter().sum();
        for (o, v) in row.iter_mut().enumerate() {
            *v = exp[o] / sum;
        }
    }
    p
}

/// The `k` most probable cells under independent per-edge categoricals `probs`, most probable
/// first, each with its probability (the product of its edges' probabilities); ties keep the
/// cells' index order. The first is the per-edge argmax.
pub fn most_probable_cells(probs: &[[f64; NUM_OPS]; NUM_EDGES], k: usize) -> Vec<(Nb201Arch, f64)> {
    let mut all: Vec<(Nb201Arch, f64)> = Nb201Arch::all()
        .map(|arch| {
            let p = arch
                .ops()
                .iter()
                .enumerate()
                .map(|(e, op)| probs[e][op.index()])
                .product();
            (arch, p)
        })
        .collect();
    all.sort_by(|a, b| b.1.total_cmp(&a.1));
    all.truncate(k);
    all
}

#[cfg(test)]
mod tests {
    use burn::backend::{Autodiff, Flex};
    use burn::tensor::{Distribution, Tolerance};
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    type B = Flex;
    type AD = Autodiff<Flex>;

    fn tiny() -> Nb201SupernetConfig {
        Nb201SupernetConfig::new()
            .with_channels(4)
            .with_cells_per_stage(1)
            .with_input_channels(3)
            .with_num_classes(5)
            .with_resolution(8)
            .with_seed(7)
    }

    fn images<Bk: Backend>(device: &burn::tensor::Device<Bk>) -> Tensor<Bk, 4> {
        Tensor::<Bk, 4>::random([6, 3, 8, 8], Distribution::Normal(0.0, 1.0), device)
    }

    fn arch() -> Nb201Arch {
        "|nor_conv_3x3~0|+|skip_connect~0|avg_pool_3x3~1|+|none~0|nor_conv_1x1~1|nor_conv_3x3~2|"
            .parse()
            .unwrap()
    }

    /// Logits that put (almost) all mass on `arch`'s ops.
    fn peaked_logits(arch: &Nb201Arch, device: &burn::tensor::Device<B>) -> Tensor<B, 2> {
        let mut l = vec![0.0f32; NUM_EDGES * NUM_OPS];
        for (e, op) in arch.ops().iter().enumerate() {
            l[e * NUM_OPS + op.index()] = 40.0;
        }
        Tensor::from_data(TensorData::new(l, [NUM_EDGES, NUM_OPS]), device)
    }

    #[test]
    fn soft_weights_peaked_on_a_cell_compute_that_cell() {
        let device = Default::default();
        let net = tiny().init::<B>(&device);
        let x = images::<B>(&device);
        let fixed = net.forward(x.clone(), &EdgeWeights::fixed(&arch(), &device));
        assert_eq!(fixed.dims(), [6, 5]);
        let soft = net.forward(
            x.clone(),
            &EdgeWeights::soft(peaked_logits(&arch(), &device)),
        );
        fixed
            .clone()
            .into_data()
            .assert_approx_eq::<f32>(&soft.into_data(), Tolerance::absolute(1e-4));
        // Another cell computes something else.
        let other: Nb201Arch = "|nor_conv_1x1~0|+|nor_conv_1x1~0|nor_conv_1x1~1|+|nor_conv_1x1~0|nor_conv_1x1~1|nor_conv_1x1~2|"
            .parse()
            .unwrap();
        let y = net.forward(x, &EdgeWeights::fixed(&other, &device));
        let diff: f32 = (y - fixed).abs().max().into_scalar();
        assert!(diff > 1e-3, "two cells gave the same logits");
    }

    #[test]
    fn a_cell_cut_from_its_output_still_classifies() {
        let device = Default::default();
        let net = tiny().init::<B>(&device);
        let cut = Nb201Arch::new([Op::None; 6]);
        let y = net.forward(images::<B>(&device), &EdgeWeights::fixed(&cut, &device));
        let values: Vec<f32> = y.into_data().to_vec().unwrap();
        assert!(values.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn hard_gumbel_runs_one_cell_and_its_gradient_reaches_every_logit_of_each_edge() {
        let device = Default::default();
        let net = tiny().init::<AD>(&device);
        let logits = Tensor::<AD, 2>::random(
            [NUM_EDGES, NUM_OPS],
            Distribution::Normal(0.0, 1.0),
            &device,
        )
        .require_grad();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let w = EdgeWeights::gumbel(logits.clone(), 1.0, true, &mut rng);
        let cell = w.cell().expect("hard weights name a cell");
        // The weights' values are one-hot: the supernet computes exactly that cell.
        let x = images::<AD>(&device);
        let hard = net.forward(x.clone(), &w);
        let fixed = net.forward(x, &EdgeWeights::fixed(&cell, &device));
        hard.clone()
            .into_data()
            .assert_approx_eq::<f32>(&fixed.into_data(), Tolerance::absolute(1e-5));
        let grads = hard.square().mean().backward();
        let g: Vec<f32> = logits.grad(&grads).unwrap().into_data().to_vec().unwrap();
        // Straight-through: every logit of an edge whose chosen op can reach the output gets a
        // gradient (edge 3 → 0 is `from` node 0 and feeds node 3 directly, always live).
        let edge = 3;
        assert!(
            g[edge * NUM_OPS..(edge + 1) * NUM_OPS]
                .iter()
                .all(|v| *v != 0.0),
            "{g:?}"
        );
        // Same seed, same sample.
        let again = EdgeWeights::gumbel(logits, 1.0, true, &mut ChaCha8Rng::seed_from_u64(3));
        assert_eq!(again.cell(), Some(cell));
    }

    #[test]
    fn hard_gumbel_samples_follow_the_softmax() {
        // The Gumbel-max trick: argmax(logits + g) is a draw from softmax(logits).
        let device = Default::default();
        let row = [2.0f32, 0.0, 1.0, -1.0, 0.5];
        let logits: Vec<f32> = (0..NUM_EDGES).flat_map(|_| row).collect();
        let p = edge_probabilities(&logits)[0];
        let logits =
            Tensor::<B, 2>::from_data(TensorData::new(logits, [NUM_EDGES, NUM_OPS]), &device);
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let mut counts = [0usize; NUM_OPS];
        let draws = 500;
        for _ in 0..draws {
            let w = EdgeWeights::gumbel(logits.clone(), 1.0, true, &mut rng);
            for op in w.cell().unwrap().ops() {
                counts[op.index()] += 1;
            }
        }
        let n = (draws * NUM_EDGES) as f64;
        for o in 0..NUM_OPS {
            let freq = counts[o] as f64 / n;
            let se = (p[o] * (1.0 - p[o]) / n).sqrt();
            assert!((freq - p[o]).abs() < 4.0 * se, "op {o}: {freq} vs {}", p[o]);
        }
    }

    #[test]
    fn the_most_probable_cells_are_ranked_and_their_probabilities_sum_to_one() {
        let logits: Vec<f32> = (0..NUM_EDGES * NUM_OPS)
            .map(|i| ((i * 7) % 11) as f32 / 3.0)
            .collect();
        let probs = edge_probabilities(&logits);
        for row in &probs {
            assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        }
        let all = most_probable_cells(&probs, usize::MAX);
        assert_eq!(all.len(), crate::NB201_SIZE);
        assert!((all.iter().map(|c| c.1).sum::<f64>() - 1.0).abs() < 1e-9);
        assert!(all.windows(2).all(|w| w[0].1 >= w[1].1));
        let argmax_cell = Nb201Arch::new(std::array::from_fn(|e| {
            Op::from_index(argmax(&logits[e * NUM_OPS..(e + 1) * NUM_OPS])).unwrap()
        }));
        assert_eq!(most_probable_cells(&probs, 1)[0].0, argmax_cell);
    }

    #[test]
    fn invalid_configs_are_errors() {
        assert_eq!(
            tiny().with_resolution(6).validate(),
            Err(NetworkConfigError::Resolution(6))
        );
        assert_eq!(
            tiny().with_channels(0).validate(),
            Err(NetworkConfigError::ZeroChannels)
        );
    }
}
