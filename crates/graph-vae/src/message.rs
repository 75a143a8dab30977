//! D-VAE's gated messages: what a vertex sends to its neighbours.

use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::activation::sigmoid;
use burn::tensor::{backend::Backend, Tensor, TensorData};
use search_space::network::init::{linear, mix};

/// `m(h_u, u) = σ(W_g [h_u; e_u] + b_g) ⊙ W_m [h_u; e_u]`, where `e_u` is the one-hot of the
/// sender's vertex index (D-VAE's `vid`; the mapper has no bias). A vertex's hidden input is the
/// sum of the messages of its predecessors (or successors, in the backward pass).
#[derive(Module, Debug)]
pub struct GatedMessage<B: Backend> {
    /// The gate `W_g`.
    pub gate: Linear<B>,
    /// The mapper `W_m` (no bias; `mapper` is a name the `Module` derive reserves).
    pub value: Linear<B>,
    /// Width of the vertex-index one-hot.
    pub max_vertices: usize,
}

impl<B: Backend> GatedMessage<B> {
    /// Messages of width `hidden` from states of width `hidden`, for graphs of at most
    /// `max_vertices` vertices.
    pub fn new(hidden: usize, max_vertices: usize, seed: u64, device: &B::Device) -> Self {
        let vs = hidden + max_vertices;
        Self {
            gate: linear(vs, hidden, true, mix(seed, 0), device),
            value: linear(vs, hidden, false, mix(seed, 1), device),
            max_vertices,
        }
    }

    /// The message of vertex `v` whose states (one per graph) are `h`, `[graphs, hidden]`.
    pub fn forward(&self, h: Tensor<B, 2>, v: usize) -> Tensor<B, 2> {
        let b = h.dims()[0];
        let mut row = vec![0f32; self.max_vertices];
        row[v] = 1.0;
        let id =
            Tensor::<B, 2>::from_data(TensorData::new(row, [1, self.max_vertices]), &h.device())
                .repeat_dim(0, b);
        let x = Tensor::cat(vec![h, id], 1);
        sigmoid(self.gate.forward(x.clone())) * self.value.forward(x)
    }
}

/// `Σ_k weights[:, k] · messages[k]`: `weights` is `[graphs, k]` (0/1 edges), each message
/// `[graphs, hidden]`. With no message the sum is zero.
pub fn aggregate<B: Backend>(
    weights: Tensor<B, 2>,
    messages: &[Tensor<B, 2>],
    hidden: usize,
) -> Tensor<B, 2> {
    let b = weights.dims()[0];
    if messages.is_empty() {
        return Tensor::zeros([b, hidden], &weights.device());
    }
    let k = messages.len();
    let stacked: Tensor<B, 3> = Tensor::stack(messages.to_vec(), 1); // [b, k, hidden]
    weights
        .reshape([b, 1, k])
        .matmul(stacked)
        .reshape([b, hidden])
}
