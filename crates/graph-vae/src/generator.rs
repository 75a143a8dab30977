//! MetaD2A's conditional generator: a dataset's images → a latent → an architecture.

use burn::config::Config;
use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::{backend::Backend, Tensor};
use rand::Rng;
use search_space::network::init::{linear, mix};
use set_encoder::{SetBatch, SetEncoder, SetEncoderConfig};

use crate::batch::GraphBatch;
use crate::decoder::{Decoding, GraphDecoder, GraphDecoderConfig};
use crate::error::{GraphVaeError, Result};
use crate::graph::TypedGraph;
use crate::vae::{vae_loss, VaeLoss};

/// Configuration of a [`ConditionalGenerator`]; defaults are MetaD2A's NB201 generator.
#[derive(Config, Debug)]
pub struct ConditionalGeneratorConfig {
    /// Width of the image features the set encoder takes.
    pub feature_dim: usize,
    /// Vertex types (NB201: 7).
    #[config(default = 7)]
    pub num_types: usize,
    /// Vertices of a graph (NB201: 8).
    #[config(default = 8)]
    pub max_vertices: usize,
    /// GRU hidden width (MetaD2A: 56).
    #[config(default = 56)]
    pub hidden: usize,
    /// Latent width, also the set encoder's (MetaD2A: 56).
    #[config(default = 56)]
    pub latent: usize,
    /// Seed of the initial weights.
    #[config(default = 0)]
    pub seed: u64,
}

/// `q(z | D) → p(G | z)`: the set encoder's dataset code `v` gives `μ = fc_mu(v)`,
/// `log σ² = fc_logvar(v)`; training decodes `z = μ + 0.01·ε·σ` (MetaD2A's noise scale),
/// search decodes `z = μ` and gets its diversity from resampled images and sampled decoding.
/// There is no graph-encoder path: the loss is the decoder's NLL of the task's good
/// architecture plus `β·KL`.
#[derive(Module, Debug)]
pub struct ConditionalGenerator<B: Backend> {
    /// The generator's own set encoder.
    pub set_encoder: SetEncoder<B>,
    /// Dataset code → μ.
    pub fc_mu: Linear<B>,
    /// Dataset code → log σ².
    pub fc_logvar: Linear<B>,
    /// Graph decoder.
    pub decoder: GraphDecoder<B>,
}

impl ConditionalGeneratorConfig {
    /// Builds the generator, or says why the set encoder cannot be built.
    pub fn try_init<B: Backend>(&self, device: &B::Device) -> Result<ConditionalGenerator<B>> {
        let set_encoder = SetEncoderConfig::new(self.feature_dim)
            .with_hidden_dim(self.latent)
            .with_latent_dim(self.latent)
            .with_seed(mix(self.seed, 0))
            .try_init(device)?;
        let decoder = GraphDecoderConfig::new()
            .with_num_types(self.num_types)
            .with_max_vertices(self.max_vertices)
            .with_hidden(self.hidden)
            .with_latent(self.latent)
            .with_seed(mix(self.seed, 1))
            .init(device);
        Ok(ConditionalGenerator {
            set_encoder,
            fc_mu: linear(self.latent, self.latent, true, mix(self.seed, 2), device),
            fc_logvar: linear(self.latent, self.latent, true, mix(self.seed, 3), device),
            decoder,
        })
    }
}

impl<B: Backend> ConditionalGenerator<B> {
    /// Width of the image features it takes.
    pub fn feature_dim(&self) -> usize {
        self.set_encoder.input_dim()
    }

    /// `(μ, log σ²)` per task of the batch.
    pub fn posterior(&self, tasks: &SetBatch<B>) -> Result<(Tensor<B, 2>, Tensor<B, 2>)> {
        if tasks.dim() != self.feature_dim() {
            return Err(GraphVaeError::Width {
                what: "image features",
                expected: self.feature_dim(),
                found: tasks.dim(),
            });
        }
        let code = self.set_encoder.encode(tasks)?;
        Ok((
            self.fc_mu.forward(code.clone()),
            self.fc_logvar.forward(code),
        ))
    }

    /// Loss of decoding each task's architecture in `graphs` from `z = μ + scale·ε·σ`.
    pub fn loss(
        &self,
        tasks: &SetBatch<B>,
        graphs: &GraphBatch<B>,
        eps: Tensor<B, 2>,
        scale: f32,
    ) -> Result<VaeLoss<B>> {
        let (mu, logvar) = self.posterior(tasks)?;
        vae_loss(&self.decoder, graphs, mu, logvar, eps, scale)
    }

    /// One graph per task, decoded from `z = μ`.
    pub fn generate<R: Rng + ?Sized>(
        &self,
        tasks: &SetBatch<B>,
        decoding: Decoding,
        rng: &mut R,
    ) -> Result<Vec<TypedGraph>> {
        let (mu, _) = self.posterior(tasks)?;
        self.decoder.decode(mu, decoding, rng)
    }
}
