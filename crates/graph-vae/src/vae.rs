//! The unconditional graph VAE: encode a graph, decode it back.

use burn::config::Config;
use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::{backend::Backend, Tensor, TensorData};
use rand::Rng;
use search_space::network::init::{linear, mix};

use crate::batch::GraphBatch;
use crate::decoder::{DecoderLoss, Decoding, GraphDecoder, GraphDecoderConfig};
use crate::encoder::{GraphEncoder, GraphEncoderConfig};
use crate::error::Result;
use crate::graph::TypedGraph;

/// Configuration of a [`GraphVae`]; defaults are D-VAE's on NB201 at MetaD2A's widths.
#[derive(Config, Debug)]
pub struct GraphVaeConfig {
    /// Vertex types (NB201: 7).
    #[config(default = 7)]
    pub num_types: usize,
    /// Vertices of a graph (NB201: 8).
    #[config(default = 8)]
    pub max_vertices: usize,
    /// GRU hidden width of encoder and decoder.
    #[config(default = 56)]
    pub hidden: usize,
    /// Latent width.
    #[config(default = 56)]
    pub latent: usize,
    /// Bidirectional encoder.
    #[config(default = false)]
    pub bidirectional: bool,
    /// Seed of the initial weights.
    #[config(default = 0)]
    pub seed: u64,
}

/// The loss terms of a batch, each summed over its graphs.
#[derive(Clone, Debug)]
pub struct VaeLoss<B: Backend> {
    /// Teacher-forced reconstruction NLL.
    pub reconstruction: DecoderLoss<B>,
    /// `KL(q(z|G) ‖ N(0, I))`.
    pub kl: Tensor<B, 1>,
}

impl<B: Backend> VaeLoss<B> {
    /// `reconstruction + β·KL`.
    pub fn total(&self, beta: f64) -> Tensor<B, 1> {
        self.reconstruction.total() + self.kl.clone() * beta
    }
}

/// D-VAE: a [`GraphEncoder`] to `q(z|G) = N(μ, σ²)` and a [`GraphDecoder`] for `p(G|z)`.
#[derive(Module, Debug)]
pub struct GraphVae<B: Backend> {
    /// Graph encoder.
    pub encoder: GraphEncoder<B>,
    /// Graph state → μ.
    pub fc_mu: Linear<B>,
    /// Graph state → log σ².
    pub fc_logvar: Linear<B>,
    /// Graph decoder.
    pub decoder: GraphDecoder<B>,
}

impl GraphVaeConfig {
    /// Builds the VAE.
    pub fn init<B: Backend>(&self, device: &B::Device) -> GraphVae<B> {
        let encoder = GraphEncoderConfig::new()
            .with_num_types(self.num_types)
            .with_max_vertices(self.max_vertices)
            .with_hidden(self.hidden)
            .with_bidirectional(self.bidirectional)
            .with_seed(mix(self.seed, 0));
        let decoder = GraphDecoderConfig::new()
            .with_num_types(self.num_types)
            .with_max_vertices(self.max_vertices)
            .with_hidden(self.hidden)
            .with_latent(self.latent)
            .with_seed(mix(self.seed, 1));
        let state = encoder.state_dim();
        GraphVae {
            encoder: encoder.init(device),
            fc_mu: linear(state, self.latent, true, mix(self.seed, 2), device),
            fc_logvar: linear(state, self.latent, true, mix(self.seed, 3), device),
            decoder: decoder.init(device),
        }
    }
}

/// `KL(N(μ, σ²) ‖ N(0, I))` summed: `−½ Σ (1 + log σ² − μ² − σ²)`.
pub fn kl_divergence<B: Backend>(mu: Tensor<B, 2>, logvar: Tensor<B, 2>) -> Tensor<B, 1> {
    ((logvar.clone().exp() + mu.powi_scalar(2) - logvar - 1.0) * 0.5).sum()
}

/// Standard normal noise `[rows, cols]` from `rng` (Box–Muller on the host, so a seed gives the
/// same noise on every backend).
pub fn normal_noise<B: Backend, R: Rng + ?Sized>(
    rows: usize,
    cols: usize,
    rng: &mut R,
    device: &B::Device,
) -> Tensor<B, 2> {
    let values = (0..rows * cols)
        .map(|_| {
            let u1: f32 = 1.0 - rng.random::<f32>(); // (0, 1]
            let u2: f32 = rng.random();
            (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
        })
        .collect();
    Tensor::from_data(TensorData::new(values, [rows, cols]), device)
}

impl<B: Backend> GraphVae<B> {
    /// Latent width.
    pub fn latent_dim(&self) -> usize {
        self.decoder.latent
    }

    /// `(μ, log σ²)` of each graph, `[graphs, latent]` each.
    pub fn encode(&self, graphs: &GraphBatch<B>) -> (Tensor<B, 2>, Tensor<B, 2>) {
        let state = self.encoder.forward(graphs);
        (
            self.fc_mu.forward(state.clone()),
            self.fc_logvar.forward(state),
        )
    }

    /// The loss with the reparameterised latent `z = μ + scale·ε·σ` (`eps` standard normal,
    /// `[graphs, latent]`).
    pub fn loss(
        &self,
        graphs: &GraphBatch<B>,
        eps: Tensor<B, 2>,
        scale: f32,
    ) -> Result<VaeLoss<B>> {
        let (mu, logvar) = self.encode(graphs);
        let z = mu.clone() + eps * (logvar.clone() * 0.5).exp() * scale;
        Ok(VaeLoss {
            reconstruction: self.decoder.loss(z, graphs)?,
            kl: kl_divergence(mu, logvar),
        })
    }

    /// Greedy decoding of each graph's mean latent.
    pub fn reconstruct(&self, graphs: &GraphBatch<B>) -> Result<Vec<TypedGraph>> {
        let (mu, _) = self.encode(graphs);
        // Greedy decoding draws nothing from the stream.
        let mut unused = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(0);
        self.decoder.decode(mu, Decoding::Greedy, &mut unused)
    }

    /// `n` graphs decoded from latents drawn from the prior `N(0, I)`.
    pub fn sample_prior<R: Rng + ?Sized>(
        &self,
        n: usize,
        decoding: Decoding,
        rng: &mut R,
        device: &B::Device,
    ) -> Result<Vec<TypedGraph>> {
        let z = normal_noise(n, self.latent_dim(), rng, device);
        self.decoder.decode(z, decoding, rng)
    }
}
