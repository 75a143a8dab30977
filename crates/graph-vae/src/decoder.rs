//! D-VAE's graph decoder: vertices and edges generated one at a time from a latent.

use burn::config::Config;
use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::activation::{log_softmax, relu, sigmoid, softmax, tanh};
use burn::tensor::{backend::Backend, Tensor, TensorData};
use rand::Rng;
use search_space::network::init::{linear, mix};

use crate::batch::GraphBatch;
use crate::error::{GraphVaeError, Result};
use crate::graph::TypedGraph;
use crate::gru::GruCell;
use crate::message::{aggregate, GatedMessage};

/// Configuration of a [`GraphDecoder`]. Defaults are MetaD2A's NB201 generator.
#[derive(Config, Debug)]
pub struct GraphDecoderConfig {
    /// Number of vertex types, START and END included (NB201: 7).
    #[config(default = 7)]
    pub num_types: usize,
    /// Vertices of a decoded graph (NB201: 8); the last one is always END.
    #[config(default = 8)]
    pub max_vertices: usize,
    /// GRU hidden width (MetaD2A: 56).
    #[config(default = 56)]
    pub hidden: usize,
    /// Latent width (MetaD2A: 56).
    #[config(default = 56)]
    pub latent: usize,
    /// Type of the START vertex.
    #[config(default = 0)]
    pub start_type: u8,
    /// Type of the END vertex.
    #[config(default = 1)]
    pub end_type: u8,
    /// Seed of the initial weights.
    #[config(default = 0)]
    pub seed: u64,
}

/// How the decoder picks types and edges.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decoding {
    /// The most likely type; an edge when its probability exceeds ½.
    Greedy,
    /// Types drawn from their softmax, edges from their Bernoulli.
    Sample,
}

/// The teacher-forced negative log-likelihood of a batch, summed over graphs.
#[derive(Clone, Debug)]
pub struct DecoderLoss<B: Backend> {
    /// `−Σ log p(type)` over every generated vertex.
    pub types: Tensor<B, 1>,
    /// `Σ BCE(edge)` over every candidate edge into every generated vertex.
    pub edges: Tensor<B, 1>,
}

impl<B: Backend> DecoderLoss<B> {
    /// `types + edges`.
    pub fn total(&self) -> Tensor<B, 1> {
        self.types.clone() + self.edges.clone()
    }
}

/// The D-VAE decoder as MetaD2A's generator uses it (`hs = nz = 56`):
///
/// ```text
/// h₀ = tanh(fc_init(z));  START: h = GRU(onehot(START), h₀)
/// for v in 1..n:
///     type_v ~ softmax(type_head(h_{v−1}))            (END forced at v = n−1)
///     h_v = GRU(onehot(type_v), 0)
///     for u = v−1 down to 0:
///         edge u→v ~ σ(edge_head([h_u; h_v]));  if added, h_v = GRU(onehot(type_v), Σ_{preds} m(h, ·))
///     an END vertex instead takes an edge from every vertex without a successor
/// ```
///
/// Training ([`loss`](Self::loss)) is teacher-forced and batched: the states used for all
/// candidate edges of a vertex depend only on the true edges, so they are computed in one GRU
/// call (suffix sums of the true predecessors' messages), and all edge logits of a vertex in one
/// head call. Decoding ([`decode`](Self::decode)) is batched over graphs; edges are decided on
/// the host with the caller's random stream, so results are identical across backends up to
/// floating-point ties.
#[derive(Module, Debug)]
pub struct GraphDecoder<B: Backend> {
    /// `z → h₀` (then tanh).
    pub fc_init: Linear<B>,
    /// Vertex update.
    pub gru: GruCell<B>,
    /// Messages along edges.
    pub message: GatedMessage<B>,
    /// Type head, first layer `hidden → 2·hidden`.
    pub type_hidden: Linear<B>,
    /// Type head, second layer `2·hidden → num_types`.
    pub type_out: Linear<B>,
    /// Edge head, first layer `2·hidden → 4·hidden`.
    pub edge_hidden: Linear<B>,
    /// Edge head, second layer `4·hidden → 1`.
    pub edge_out: Linear<B>,
    /// Number of vertex types.
    pub num_types: usize,
    /// Vertices of a decoded graph.
    pub max_vertices: usize,
    /// GRU hidden width.
    pub hidden: usize,
    /// Latent width.
    pub latent: usize,
    /// START type.
    pub start_type: u8,
    /// END type.
    pub end_type: u8,
}

impl GraphDecoderConfig {
    /// Builds the decoder.
    pub fn init<B: Backend>(&self, device: &B::Device) -> GraphDecoder<B> {
        let (hs, s) = (self.hidden, self.seed);
        GraphDecoder {
            fc_init: linear(self.latent, hs, true, mix(s, 0), device),
            gru: GruCell::new(self.num_types, hs, mix(s, 1), device),
            message: GatedMessage::new(hs, self.max_vertices, mix(s, 2), device),
            type_hidden: linear(hs, 2 * hs, true, mix(s, 3), device),
            type_out: linear(2 * hs, self.num_types, true, mix(s, 4), device),
            edge_hidden: linear(2 * hs, 4 * hs, true, mix(s, 5), device),
            edge_out: linear(4 * hs, 1, true, mix(s, 6), device),
            num_types: self.num_types,
            max_vertices: self.max_vertices,
            hidden: hs,
            latent: self.latent,
            start_type: self.start_type,
            end_type: self.end_type,
        }
    }
}

impl<B: Backend> GraphDecoder<B> {
    fn type_logits(&self, h: Tensor<B, 2>) -> Tensor<B, 2> {
        self.type_out.forward(relu(self.type_hidden.forward(h)))
    }

    /// Edge logits for pairs `[.., 2·hidden]` → `[.., 1]`.
    fn edge_logits<const D: usize>(&self, pair: Tensor<B, D>) -> Tensor<B, D> {
        self.edge_out.forward(relu(self.edge_hidden.forward(pair)))
    }

    fn check_latent(&self, z: &Tensor<B, 2>) -> Result<()> {
        let found = z.dims()[1];
        if found != self.latent {
            return Err(GraphVaeError::Width {
                what: "latent",
                expected: self.latent,
                found,
            });
        }
        Ok(())
    }

    fn start_state(&self, z: Tensor<B, 2>) -> Tensor<B, 2> {
        let b = z.dims()[0];
        let h0 = tanh(self.fc_init.forward(z));
        let x = self.one_hot(&vec![self.start_type; b], &h0.device());
        self.gru.forward(x, h0)
    }

    fn one_hot(&self, types: &[u8], device: &B::Device) -> Tensor<B, 2> {
        let mut data = vec![0f32; types.len() * self.num_types];
        for (i, &t) in types.iter().enumerate() {
            data[i * self.num_types + t as usize] = 1.0;
        }
        Tensor::from_data(TensorData::new(data, [types.len(), self.num_types]), device)
    }

    /// Teacher-forced loss of decoding `graphs` from latents `z` (`[graphs, latent]`).
    pub fn loss(&self, z: Tensor<B, 2>, graphs: &GraphBatch<B>) -> Result<DecoderLoss<B>> {
        self.check_latent(&z)?;
        let (b, n, hs) = (graphs.len(), graphs.num_vertices(), self.hidden);
        if z.dims()[0] != b {
            return Err(GraphVaeError::Width {
                what: "latents (one per graph)",
                expected: b,
                found: z.dims()[0],
            });
        }
        if n > self.max_vertices {
            return Err(GraphVaeError::TooManyVertices {
                found: n,
                max: self.max_vertices,
            });
        }
        let device = z.device();
        let h0 = tanh(self.fc_init.forward(z));
        let start = self.gru.forward(graphs.vertex_one_hot(0), h0);
        let mut messages = vec![self.message.forward(start.clone(), 0)];
        let mut states = vec![start];
        let mut type_nll = Tensor::<B, 1>::zeros([1], &device);
        let mut edge_bce = Tensor::<B, 1>::zeros([1], &device);
        for v in 1..n {
            let logp = log_softmax(self.type_logits(states[v - 1].clone()), 1);
            type_nll = type_nll - logp.gather(1, graphs.vertex_types(v)).sum();

            // Candidate u (processed from v−1 down to 0) sees the true edges from u+1..v:
            // hidden input = suffix sum of the true predecessors' messages. Index 0 of `inputs`
            // is the full sum: the vertex's final state.
            let edges = graphs.in_edges(v); // [b, v]
            let weighted: Vec<Tensor<B, 2>> = (0..v)
                .map(|u| messages[u].clone() * edges.clone().narrow(1, u, 1))
                .collect();
            let mut inputs = vec![Tensor::<B, 2>::zeros([b, hs], &device); v + 1];
            for u in (0..v).rev() {
                inputs[u] = inputs[u + 1].clone() + weighted[u].clone();
            }
            let x = graphs.vertex_one_hot(v).repeat_dim(0, v + 1);
            let all = self
                .gru
                .forward(x, Tensor::cat(inputs, 0))
                .reshape([v + 1, b, hs]);
            let last = all.clone().narrow(0, 0, 1).reshape([b, hs]);
            let candidates = all.narrow(0, 1, v); // [v, b, hs]: state seen by candidate u
            let sources: Tensor<B, 3> = Tensor::stack(states.clone(), 0); // [v, b, hs]
            let logits = self
                .edge_logits(Tensor::cat(vec![sources, candidates], 2))
                .reshape([v, b]);
            let target = edges.transpose(); // [v, b]
            edge_bce = edge_bce + bce_with_logits(logits, target).sum();

            messages.push(self.message.forward(last.clone(), v));
            states.push(last);
        }
        Ok(DecoderLoss {
            types: type_nll,
            edges: edge_bce,
        })
    }

    /// Decodes one graph per latent (`[graphs, latent]`). `rng` draws the samples of
    /// [`Decoding::Sample`] (unused when greedy). A graph whose END comes early stops there.
    pub fn decode<R: Rng + ?Sized>(
        &self,
        z: Tensor<B, 2>,
        decoding: Decoding,
        rng: &mut R,
    ) -> Result<Vec<TypedGraph>> {
        self.check_latent(&z)?;
        let (b, n, hs) = (z.dims()[0], self.max_vertices, self.hidden);
        let device = z.device();
        let mut types: Vec<Vec<u8>> = vec![vec![self.start_type]; b];
        let mut edges: Vec<Vec<(usize, usize)>> = vec![Vec::new(); b];
        let mut finished = vec![false; b];
        let start = self.start_state(z);
        let mut messages = vec![self.message.forward(start.clone(), 0)];
        let mut states = vec![start];
        for v in 1..n {
            // Types.
            let new_types: Vec<u8> = if v == n - 1 {
                vec![self.end_type; b]
            } else {
                let probs = softmax(self.type_logits(states[v - 1].clone()), 1)
                    .into_data()
                    .convert::<f32>()
                    .to_vec::<f32>()
                    .expect("f32 probabilities");
                probs
                    .chunks(self.num_types)
                    .map(|p| match decoding {
                        Decoding::Greedy => argmax(p) as u8,
                        Decoding::Sample => sample(p, rng) as u8,
                    })
                    .collect()
            };
            let x = self.one_hot(&new_types, &device);
            let mut in_edges = vec![vec![false; v]; b];
            for i in 0..b {
                if finished[i] {
                    continue;
                }
                types[i].push(new_types[i]);
                if new_types[i] == self.end_type {
                    // END takes an edge from every vertex without a successor.
                    let mut has_out = vec![false; v];
                    for &(from, _) in &edges[i] {
                        has_out[from] = true;
                    }
                    for u in (0..v).filter(|&u| !has_out[u]) {
                        in_edges[i][u] = true;
                    }
                }
            }
            // Edges, from the nearest earlier vertex back to START.
            let mut h = self.gru.forward(x.clone(), Tensor::zeros([b, hs], &device));
            let mut hidden = Tensor::<B, 2>::zeros([b, hs], &device);
            for u in (0..v).rev() {
                let p =
                    sigmoid(self.edge_logits(Tensor::cat(vec![states[u].clone(), h.clone()], 1)))
                        .into_data()
                        .convert::<f32>()
                        .to_vec::<f32>()
                        .expect("f32 probabilities");
                let mut added = vec![0f32; b];
                for i in 0..b {
                    let keep = match decoding {
                        Decoding::Greedy => p[i] > 0.5,
                        Decoding::Sample => rng.random::<f32>() < p[i],
                    };
                    if finished[i] || new_types[i] == self.end_type {
                        continue;
                    }
                    if keep {
                        in_edges[i][u] = true;
                        added[i] = 1.0;
                    }
                }
                if added.iter().any(|&a| a > 0.0) {
                    let mask = Tensor::<B, 2>::from_data(TensorData::new(added, [b, 1]), &device);
                    hidden = hidden + messages[u].clone() * mask;
                    h = self.gru.forward(x.clone(), hidden.clone());
                }
            }
            // Final states from the decided predecessors (END vertices included).
            let mut weights = vec![0f32; b * v];
            for i in 0..b {
                for u in 0..v {
                    if in_edges[i][u] && !finished[i] {
                        weights[i * v + u] = 1.0;
                        edges[i].push((u, v));
                    }
                }
            }
            let weights = Tensor::<B, 2>::from_data(TensorData::new(weights, [b, v]), &device);
            let h = self.gru.forward(x, aggregate(weights, &messages, hs));
            messages.push(self.message.forward(h.clone(), v));
            states.push(h);
            for i in 0..b {
                if new_types[i] == self.end_type {
                    finished[i] = true;
                }
            }
        }
        Ok(types
            .into_iter()
            .zip(edges)
            .map(|(t, e)| TypedGraph::new(t, e))
            .collect())
    }
}

/// Binary cross-entropy of `σ(x)` against `y`, computed stably for logits of any size:
/// `max(x, 0) − x·y + ln(1 + e^{−|x|})`.
pub fn bce_with_logits<B: Backend, const D: usize>(
    x: Tensor<B, D>,
    y: Tensor<B, D>,
) -> Tensor<B, D> {
    relu(x.clone()) - x.clone() * y + (x.abs().neg().exp() + 1.0).log()
}

fn argmax(p: &[f32]) -> usize {
    p.iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |best, (i, &x)| {
            if x > best.1 {
                (i, x)
            } else {
                best
            }
        })
        .0
}

/// An index drawn from the (unnormalised, non-negative) weights `p`.
fn sample<R: Rng + ?Sized>(p: &[f32], rng: &mut R) -> usize {
    let total: f32 = p.iter().sum();
    let mut r = rng.random::<f32>() * total;
    for (i, &x) in p.iter().enumerate() {
        if r < x {
            return i;
        }
        r -= x;
    }
    p.len() - 1
}
