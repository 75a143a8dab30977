//! The meta-performance predictor: accuracy = f(dataset latent, graph latent).

use burn::config::Config;
use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::activation::tanh;
use burn::tensor::{backend::Backend, Tensor};
use graph_vae::{GraphBatch, GraphEncoder, GraphEncoderConfig};
use search_space::network::init::{linear, mix};
use set_encoder::{SetBatch, SetEncoder, SetEncoderConfig};

use crate::error::{PredictorError, Result};

/// Configuration of a [`MetaPredictor`]; defaults are MetaD2A's NB201 predictor.
#[derive(Config, Debug)]
pub struct MetaPredictorConfig {
    /// Width of the image features the set encoder takes.
    pub feature_dim: usize,
    /// Vertex types (NB201: 7).
    #[config(default = 7)]
    pub num_types: usize,
    /// Vertices of a graph (NB201: 8).
    #[config(default = 8)]
    pub max_vertices: usize,
    /// GRU width of the bidirectional graph encoder (MetaD2A: 512).
    #[config(default = 512)]
    pub graph_hidden: usize,
    /// Width of the dataset and graph latents (MetaD2A: 56 each).
    #[config(default = 56)]
    pub latent: usize,
    /// Hidden width of the regression head (MetaD2A: 512).
    #[config(default = 512)]
    pub head_hidden: usize,
    /// Whether the dataset is an input. `false` gives the ablation "same model, constant
    /// dataset input": the dataset latent is replaced by zeros, so only the graph is seen.
    #[config(default = true)]
    pub use_dataset: bool,
    /// Seed of the initial weights.
    #[config(default = 0)]
    pub seed: u64,
}

/// MetaD2A's predictor (`MetaPredictor` in `predictor/model.py`):
///
/// ```text
/// D = SetEncoder(images)                                        [56]
/// G = Linear(512→56)(Linear(1024→512)([h_fwd(END); h_bwd(START)]))   bidirectional D-VAE, hs 512
/// ŷ = Linear(512→1)(tanh(Linear(112→512)([D; G])))
/// ```
///
/// `ŷ` is the normalised accuracy (see [`Normalizer`](crate::Normalizer)). The graph latent does
/// not depend on the dataset, so scoring a whole space caches it ([`graph_latents`](Self::graph_latents)).
#[derive(Module, Debug)]
pub struct MetaPredictor<B: Backend> {
    /// The predictor's own set encoder.
    pub set_encoder: SetEncoder<B>,
    /// Bidirectional graph encoder.
    pub graph_encoder: GraphEncoder<B>,
    /// `[h_fwd; h_bwd] → graph_hidden`.
    pub graph_fuse: Linear<B>,
    /// `graph_hidden → latent`.
    pub graph_out: Linear<B>,
    /// Head, `2·latent → head_hidden`.
    pub head_hidden: Linear<B>,
    /// Head, `head_hidden → 1`.
    pub head_out: Linear<B>,
    /// Whether the dataset latent is used (else zeros).
    pub use_dataset: bool,
}

impl MetaPredictorConfig {
    /// Builds the predictor, or says why its set encoder cannot be built.
    pub fn try_init<B: Backend>(&self, device: &B::Device) -> Result<MetaPredictor<B>> {
        let s = self.seed;
        let graph = GraphEncoderConfig::new()
            .with_num_types(self.num_types)
            .with_max_vertices(self.max_vertices)
            .with_hidden(self.graph_hidden)
            .with_bidirectional(true)
            .with_seed(mix(s, 1));
        Ok(MetaPredictor {
            set_encoder: SetEncoderConfig::new(self.feature_dim)
                .with_hidden_dim(self.latent)
                .with_latent_dim(self.latent)
                .with_seed(mix(s, 0))
                .try_init(device)?,
            graph_fuse: linear(
                graph.state_dim(),
                self.graph_hidden,
                true,
                mix(s, 2),
                device,
            ),
            graph_encoder: graph.init(device),
            graph_out: linear(self.graph_hidden, self.latent, true, mix(s, 3), device),
            head_hidden: linear(2 * self.latent, self.head_hidden, true, mix(s, 4), device),
            head_out: linear(self.head_hidden, 1, true, mix(s, 5), device),
            use_dataset: self.use_dataset,
        })
    }
}

impl<B: Backend> MetaPredictor<B> {
    /// Width of the image features it takes.
    pub fn feature_dim(&self) -> usize {
        self.set_encoder.input_dim()
    }

    /// Width of the latents.
    pub fn latent_dim(&self) -> usize {
        self.graph_out.weight.dims()[1]
    }

    /// Dataset latents, `[tasks, latent]` (zeros when the dataset is not an input).
    pub fn dataset_latents(&self, tasks: &SetBatch<B>) -> Result<Tensor<B, 2>> {
        if tasks.dim() != self.feature_dim() {
            return Err(PredictorError::Width {
                what: "image features",
                expected: self.feature_dim(),
                found: tasks.dim(),
            });
        }
        if !self.use_dataset {
            let device = self.head_out.weight.device();
            return Ok(Tensor::zeros(
                [tasks.num_tasks(), self.latent_dim()],
                &device,
            ));
        }
        Ok(self.set_encoder.encode(tasks)?)
    }

    /// Graph latents, `[graphs, latent]`; they do not depend on the dataset.
    pub fn graph_latents(&self, graphs: &GraphBatch<B>) -> Tensor<B, 2> {
        let state = self.graph_encoder.forward(graphs);
        self.graph_out.forward(self.graph_fuse.forward(state))
    }

    /// Normalised predictions from latents: `dataset` is `[n, latent]` or `[1, latent]`
    /// (broadcast to every graph), `graphs` is `[n, latent]`. Returns `[n]`.
    pub fn score_latents(
        &self,
        dataset: Tensor<B, 2>,
        graphs: Tensor<B, 2>,
    ) -> Result<Tensor<B, 1>> {
        let [n, w] = graphs.dims();
        let [m, v] = dataset.dims();
        if w != self.latent_dim() || v != self.latent_dim() {
            return Err(PredictorError::Width {
                what: "latents",
                expected: self.latent_dim(),
                found: if w != self.latent_dim() { w } else { v },
            });
        }
        let dataset = match m {
            _ if m == n => dataset,
            1 => dataset.repeat_dim(0, n),
            _ => {
                return Err(PredictorError::Width {
                    what: "dataset latents (1 or one per graph)",
                    expected: n,
                    found: m,
                })
            }
        };
        let x = Tensor::cat(vec![dataset, graphs], 1);
        Ok(self
            .head_out
            .forward(tanh(self.head_hidden.forward(x)))
            .reshape([n]))
    }

    /// The graph's share of the head's first layer, `G·W_G + b` (`[graphs, head_hidden]`): the
    /// layer is linear in `[D; G]`, so this part can be cached per architecture and only
    /// `D·W_D` computed per task ([`score_parts`](Self::score_parts)).
    pub fn head_graph_part(&self, graphs: Tensor<B, 2>) -> Tensor<B, 2> {
        let l = self.latent_dim();
        let w = self.head_hidden.weight.val().narrow(0, l, l);
        let out = graphs.matmul(w);
        match &self.head_hidden.bias {
            Some(b) => out + b.val().unsqueeze::<2>(),
            None => out,
        }
    }

    /// The dataset's share of the head's first layer, `D·W_D` (`[tasks, head_hidden]`).
    pub fn head_dataset_part(&self, dataset: Tensor<B, 2>) -> Tensor<B, 2> {
        let w = self
            .head_hidden
            .weight
            .val()
            .narrow(0, 0, self.latent_dim());
        dataset.matmul(w)
    }

    /// The head's hidden layer `tanh(D·W_D + G·W_G + b)` from the two shares of its first
    /// layer (shapes as in [`score_parts`](Self::score_parts)): `[n, head_hidden]`, the
    /// (dataset, architecture) embedding the output layer reads.
    pub fn head_hidden_parts(&self, dataset: Tensor<B, 2>, graphs: Tensor<B, 2>) -> Tensor<B, 2> {
        tanh(graphs + dataset)
    }

    /// Normalised predictions from the two shares of the head's first layer: `dataset` is
    /// `[1, head_hidden]` (broadcast), `graphs` `[n, head_hidden]`. Returns `[n]`; equal to
    /// [`score_latents`](Self::score_latents) up to float rounding.
    pub fn score_parts(&self, dataset: Tensor<B, 2>, graphs: Tensor<B, 2>) -> Tensor<B, 1> {
        let n = graphs.dims()[0];
        self.head_out
            .forward(self.head_hidden_parts(dataset, graphs))
            .reshape([n])
    }

    /// Normalised predictions for pairs: task `i` of `tasks` with graph `i` of `graphs`.
    pub fn forward(&self, tasks: &SetBatch<B>, graphs: &GraphBatch<B>) -> Result<Tensor<B, 1>> {
        let d = self.dataset_latents(tasks)?;
        self.score_latents(d, self.graph_latents(graphs))
    }
}
