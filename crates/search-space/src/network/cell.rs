//! One NAS-Bench-201 cell (the official `InferCell`).

use burn::config::Config;
use burn::module::Module;
use burn::tensor::{backend::Backend, Tensor};

use super::batch_norm::BnMode;
use super::init::mix;
use super::ops::{AvgPool3x3, EdgeOp, Identity, ReluConvBnConfig};
use crate::{Nb201Arch, Op, EDGES};

/// Configuration of an [`Nb201Cell`].
#[derive(Config, Debug)]
pub struct Nb201CellConfig {
    /// The ops on the six edges.
    pub arch: Nb201Arch,
    /// Channels of every node.
    pub channels: usize,
    /// Seed of this cell's weights; edge `i` draws from `mix(seed, i)`, so an op starts from the
    /// same weights on the same edge whatever the other edges hold.
    #[config(default = 0)]
    pub seed: u64,
}

/// A NAS-Bench-201 cell: nodes 0..=3, node 0 is the input, node `j` is the sum of its incoming
/// edges `j ← i` (`i < j`), the output is node 3. A `none` edge is absent; a node with no live
/// input is zeros.
#[derive(Module, Debug)]
pub struct Nb201Cell<B: Backend> {
    /// The op of each edge in [`EDGES`] order; `None` for a `none` edge.
    pub edges: Vec<Option<EdgeOp<B>>>,
}

impl Nb201CellConfig {
    /// Builds the cell.
    pub fn init<B: Backend>(&self, device: &B::Device) -> Nb201Cell<B> {
        let c = self.channels;
        let edges = self
            .arch
            .ops()
            .iter()
            .enumerate()
            .map(|(i, op)| {
                let seed = mix(self.seed, i as u64);
                let conv = |k: usize| {
                    ReluConvBnConfig::new(c, c, k)
                        .with_seed(mix(seed, k as u64))
                        .init(device)
                };
                match op {
                    Op::None => None,
                    Op::SkipConnect => Some(EdgeOp::Skip(Identity {})),
                    Op::NorConv1x1 => Some(EdgeOp::Conv1x1(conv(1))),
                    Op::NorConv3x3 => Some(EdgeOp::Conv3x3(conv(3))),
                    Op::AvgPool3x3 => Some(EdgeOp::AvgPool(AvgPool3x3 {})),
                }
            })
            .collect();
        Nb201Cell { edges }
    }
}

impl<B: Backend> Nb201Cell<B> {
    /// - `input`: `[batch, channels, height, width]`
    /// - output: `[batch, channels, height, width]`
    pub fn forward(&self, input: Tensor<B, 4>, mode: BnMode) -> Tensor<B, 4> {
        self.run(input, mode, &mut |_| {}, false)
    }

    /// [`Self::forward`] as the reference `InferCell` runs it, handing the input of every
    /// ReLU to `observe`: *every* conv edge runs, including those whose output cannot reach
    /// the cell's output (in NAS-Bench-201's code a `none` edge multiplies by 0, so those ReLUs
    /// are still part of the computation graph; [`Self::forward`] skips them). The output is
    /// [`Self::forward`]'s, bit for bit: the extra edges only feed nodes the output does not
    /// read. In [`BnMode::Train`] the extra edges' batch norms update their running statistics,
    /// as the reference's do.
    ///
    /// - `input`: `[batch, channels, height, width]`
    /// - output: `[batch, channels, height, width]`; each observed tensor has the same shape
    ///   (the edge's source node; zeros for a node with no live input)
    pub fn forward_observed(
        &self,
        input: Tensor<B, 4>,
        mode: BnMode,
        observe: &mut impl FnMut(&Tensor<B, 4>),
    ) -> Tensor<B, 4> {
        self.run(input, mode, observe, true)
    }

    /// The cell's forward pass; `every_edge` also runs the edges [`Self::useful_nodes`] prunes.
    fn run(
        &self,
        input: Tensor<B, 4>,
        mode: BnMode,
        observe: &mut impl FnMut(&Tensor<B, 4>),
        every_edge: bool,
    ) -> Tensor<B, 4> {
        let dims = input.dims();
        let device = input.device();
        // `None` marks a node that is exactly zero, so that skip and pool edges from it cost
        // nothing. A conv edge from a zero node is *not* zero (its batch norm outputs β), so it
        // runs on real zeros, as in the reference implementation.
        let mut nodes: [Option<Tensor<B, 4>>; 4] = [Some(input), None, None, None];
        let useful = if every_edge {
            [true; 4]
        } else {
            self.useful_nodes()
        };
        for (i, (edge, &(to, from))) in self.edges.iter().zip(EDGES.iter()).enumerate() {
            let Some(op) = edge else { continue };
            if !useful[to] {
                continue;
            }
            let source = match (&nodes[from], op) {
                (Some(x), _) => x.clone(),
                (None, EdgeOp::Conv1x1(_) | EdgeOp::Conv3x3(_)) => Tensor::zeros(dims, &device),
                (None, _) => continue,
            };
            let out = op.forward_observed(source, mode, observe);
            debug_assert_eq!(out.dims(), dims, "edge {i} changed the shape");
            nodes[to] = Some(match nodes[to].take() {
                Some(sum) => sum + out,
                None => out,
            });
        }
        let [input, _, _, output] = nodes;
        match output {
            Some(out) => out,
            None => input.expect("node 0 is the input").zeros_like(),
        }
    }

    /// Which nodes can reach the output through live edges. The others cannot change the
    /// output or any gradient, so their edges are skipped (the reference implementation
    /// computes them and throws them away).
    fn useful_nodes(&self) -> [bool; 4] {
        let mut useful = [false, false, false, true];
        // EDGES lists edges by target node, so reversed it visits a node's out-edges before
        // the node itself is needed.
        for (edge, &(to, from)) in self.edges.iter().zip(EDGES.iter()).rev() {
            if edge.is_some() && useful[to] {
                useful[from] = true;
            }
        }
        useful
    }
}
