//! D-VAE's graph encoder: GRU states propagated along the DAG.

use burn::config::Config;
use burn::module::Module;
use burn::tensor::{backend::Backend, Tensor};
use search_space::network::init::mix;

use crate::batch::GraphBatch;
use crate::gru::GruCell;
use crate::message::{aggregate, GatedMessage};

/// Configuration of a [`GraphEncoder`].
#[derive(Config, Debug)]
pub struct GraphEncoderConfig {
    /// Number of vertex types (NB201: 7).
    #[config(default = 7)]
    pub num_types: usize,
    /// Most vertices of a graph (NB201: 8).
    #[config(default = 8)]
    pub max_vertices: usize,
    /// GRU hidden width (MetaD2A's generator-side D-VAE: 56; its predictor: 512).
    #[config(default = 56)]
    pub hidden: usize,
    /// Also propagate backwards, from the END vertex to START (the predictor's encoder).
    #[config(default = false)]
    pub bidirectional: bool,
    /// Seed of the initial weights.
    #[config(default = 0)]
    pub seed: u64,
}

/// One direction of propagation: a GRU cell and the gated messages it aggregates.
#[derive(Module, Debug)]
pub struct Propagation<B: Backend> {
    /// Vertex update `h_v = GRU(onehot(type_v), Σ messages)`.
    pub gru: GruCell<B>,
    /// Messages sent along edges.
    pub message: GatedMessage<B>,
}

impl<B: Backend> Propagation<B> {
    fn new(c: &GraphEncoderConfig, seed: u64, device: &B::Device) -> Self {
        Self {
            gru: GruCell::new(c.num_types, c.hidden, mix(seed, 0), device),
            message: GatedMessage::new(c.hidden, c.max_vertices, mix(seed, 1), device),
        }
    }
}

/// The D-VAE encoder (Zhang et al., 2019) as MetaD2A uses it:
///
/// ```text
/// forward:  for v in topological order   h_v = GRU_f(onehot(type_v), Σ_{u→v} m_f(h_u, u))
/// backward: for v in reverse order       h'_v = GRU_b(onehot(type_v), Σ_{v→w} m_b(h'_w, w))
/// state:    [h_last]  or, bidirectional,  [h_last; h'_0]
/// ```
///
/// Vertices without a predecessor (successor) start from a zero hidden input. The recursion is
/// over vertex positions; every step is one batched tensor op over all graphs of the batch.
#[derive(Module, Debug)]
pub struct GraphEncoder<B: Backend> {
    /// The forward pass.
    pub forward_pass: Propagation<B>,
    /// The backward pass (bidirectional encoders only).
    pub backward_pass: Option<Propagation<B>>,
    /// GRU hidden width.
    pub hidden: usize,
    /// Number of vertex types.
    pub num_types: usize,
    /// Most vertices of a graph.
    pub max_vertices: usize,
}

impl GraphEncoderConfig {
    /// Builds the encoder.
    pub fn init<B: Backend>(&self, device: &B::Device) -> GraphEncoder<B> {
        GraphEncoder {
            forward_pass: Propagation::new(self, mix(self.seed, 0), device),
            backward_pass: self
                .bidirectional
                .then(|| Propagation::new(self, mix(self.seed, 1), device)),
            hidden: self.hidden,
            num_types: self.num_types,
            max_vertices: self.max_vertices,
        }
    }

    /// Width of the graph state: `hidden`, doubled when bidirectional.
    pub fn state_dim(&self) -> usize {
        self.hidden * if self.bidirectional { 2 } else { 1 }
    }
}

impl<B: Backend> GraphEncoder<B> {
    /// Width of the graph state.
    pub fn state_dim(&self) -> usize {
        self.hidden * if self.backward_pass.is_some() { 2 } else { 1 }
    }

    /// The graph states, `[graphs, state_dim]`.
    pub fn forward(&self, graphs: &GraphBatch<B>) -> Tensor<B, 2> {
        let n = graphs.num_vertices();
        let zeros = |g: &GraphBatch<B>| Tensor::zeros([g.len(), self.hidden], &g.types.device());
        let mut messages: Vec<Tensor<B, 2>> = Vec::with_capacity(n);
        let mut last = None;
        for v in 0..n {
            let hidden = match v {
                0 => zeros(graphs),
                _ => aggregate(graphs.in_edges(v), &messages, self.hidden),
            };
            let h = self
                .forward_pass
                .gru
                .forward(graphs.vertex_one_hot(v), hidden);
            messages.push(self.forward_pass.message.forward(h.clone(), v));
            last = Some(h);
        }
        let forward_state = last.expect("a batch has at least one vertex");
        let Some(backward) = &self.backward_pass else {
            return forward_state;
        };
        // Messages of vertices v+1..n, kept in vertex order.
        let mut messages: Vec<Tensor<B, 2>> = Vec::with_capacity(n);
        let mut first = None;
        for v in (0..n).rev() {
            let hidden = match v + 1 == n {
                true => zeros(graphs),
                false => aggregate(graphs.out_edges(v), &messages, self.hidden),
            };
            let h = backward.gru.forward(graphs.vertex_one_hot(v), hidden);
            messages.insert(0, backward.message.forward(h.clone(), v));
            first = Some(h);
        }
        Tensor::cat(vec![forward_state, first.expect("non-empty")], 1)
    }
}
