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
use crate::error::{GraphVaeError, Result};
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

/// The VAE loss of decoding `graphs` from the posterior `q(z|·) = N(μ, σ²)`: the decoder's
/// teacher-forced NLL at the reparameterised latent `z = μ + scale·ε·σ`, and
/// `KL(N(μ, σ²) ‖ N(0, I))`, each summed over the batch. The one loss of both the unconditional
/// [`GraphVae`] and MetaD2A's [`ConditionalGenerator`](crate::ConditionalGenerator).
///
/// `mu`, `logvar` (log σ²) and `eps` (standard normal noise): `[graphs, latent]` each;
/// `scale` shrinks the noise (D-VAE's code and MetaD2A: 0.01). Errors: `eps` not shaped like
/// `mu`, or the decoder's own checks ([`GraphDecoder::loss`]).
pub fn vae_loss<B: Backend>(
    decoder: &GraphDecoder<B>,
    graphs: &GraphBatch<B>,
    mu: Tensor<B, 2>,
    logvar: Tensor<B, 2>,
    eps: Tensor<B, 2>,
    scale: f32,
) -> Result<VaeLoss<B>> {
    let ([rows, cols], [eps_rows, eps_cols]) = (mu.dims(), eps.dims());
    if eps_rows != rows {
        return Err(GraphVaeError::Width {
            what: "noise rows (one per graph)",
            expected: rows,
            found: eps_rows,
        });
    }
    if eps_cols != cols {
        return Err(GraphVaeError::Width {
            what: "noise columns (the latent width)",
            expected: cols,
            found: eps_cols,
        });
    }
    let z = mu.clone() + eps * (logvar.clone() * 0.5).exp() * scale;
    Ok(VaeLoss {
        reconstruction: decoder.loss(z, graphs)?,
        kl: kl_divergence(mu, logvar),
    })
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
        vae_loss(&self.decoder, graphs, mu, logvar, eps, scale)
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

#[cfg(test)]
mod tests {
    use burn::backend::Flex;
    use burn::module::Param;
    use search_space::Nb201Arch;

    use super::*;
    use crate::graph::{GraphSpace, Nb201Space};

    /// Two NB201 cells (8 vertices, 7 types) and a small decoder with latent width 2.
    fn setup() -> (GraphDecoder<Flex>, GraphBatch<Flex>) {
        let device = Default::default();
        let graphs: Vec<TypedGraph> = [0, 9930]
            .iter()
            .map(|&i| Nb201Space.arch_to_graph(&Nb201Arch::from_index(i).unwrap()))
            .collect();
        let decoder = GraphDecoderConfig::new()
            .with_hidden(4)
            .with_latent(2)
            .with_seed(3)
            .init::<Flex>(&device);
        (decoder, GraphBatch::new(&graphs, 7, 8, &device).unwrap())
    }

    fn tensor(rows: [[f32; 2]; 2]) -> Tensor<Flex, 2> {
        Tensor::from_floats(rows, &Default::default())
    }

    fn scalar(t: Tensor<Flex, 1>) -> f64 {
        f64::from(t.into_scalar())
    }

    /// μ and log σ² of the two graphs: σ = 2 for one coordinate, 1 elsewhere.
    fn posterior() -> (Tensor<Flex, 2>, Tensor<Flex, 2>) {
        (
            tensor([[1.0, 0.0], [0.0, -2.0]]),
            tensor([[0.0, 4f32.ln()], [0.0, 0.0]]),
        )
    }

    /// With the type and edge heads zeroed every logit is 0: each of the 7 generated vertices
    /// costs ln 7 (uniform over 7 types) and each of the 1 + 2 + … + 7 = 28 candidate edges
    /// ln 2 (BCE at logit 0), whatever the latent. KL per coordinate is ½(σ² + μ² − ln σ² − 1):
    /// ½ + (3/2 − ln 2) + 0 + 2 = 4 − ln 2.
    #[test]
    fn loss_matches_a_hand_computation() {
        let (mut decoder, batch) = setup();
        for head in [&mut decoder.type_out, &mut decoder.edge_out] {
            head.weight = Param::from_tensor(head.weight.val().zeros_like());
            let bias = head.bias.as_ref().expect("heads have a bias").val();
            head.bias = Some(Param::from_tensor(bias.zeros_like()));
        }
        let (mu, logvar) = posterior();
        let eps = tensor([[2.0, -1.0], [0.5, 3.0]]);
        let loss = vae_loss(&decoder, &batch, mu, logvar, eps, 0.5).unwrap();
        let (ln2, ln7) = (2f64.ln(), 7f64.ln());
        let close = |a: f64, b: f64| (a - b).abs() < 1e-4 * b.abs().max(1.0);
        let types = scalar(loss.reconstruction.types.clone());
        let edges = scalar(loss.reconstruction.edges.clone());
        let kl = scalar(loss.kl.clone());
        assert!(close(types, 2.0 * 7.0 * ln7), "{types}");
        assert!(close(edges, 2.0 * 28.0 * ln2), "{edges}");
        assert!(close(kl, 4.0 - ln2), "{kl}");
        let total = scalar(loss.total(0.5));
        assert!(
            close(total, 14.0 * ln7 + 56.0 * ln2 + 0.5 * (4.0 - ln2)),
            "{total}"
        );
    }

    /// The reconstruction is the decoder's NLL at z = μ + scale·ε·σ, here with scale ½:
    /// [[1 + ½·2·1, 0 − ½·1·2], [0 + ½·½·1, −2 + ½·3·1]] = [[2, −1], [¼, −½]].
    #[test]
    fn reconstruction_is_decoded_from_the_reparameterised_latent() {
        let (decoder, batch) = setup();
        let (mu, logvar) = posterior();
        let eps = tensor([[2.0, -1.0], [0.5, 3.0]]);
        let loss = vae_loss(&decoder, &batch, mu, logvar, eps, 0.5).unwrap();
        let z = tensor([[2.0, -1.0], [0.25, -0.5]]);
        let want = scalar(decoder.loss(z.clone(), &batch).unwrap().total());
        let got = scalar(loss.reconstruction.total());
        assert!((got - want).abs() < 1e-5 * want.abs(), "{got} vs {want}");
        // and not the NLL at μ: the noise matters
        let at_mu = scalar(decoder.loss(posterior().0, &batch).unwrap().total());
        assert!((at_mu - want).abs() > 1e-3, "{at_mu} vs {want}");
    }

    #[test]
    fn noise_of_the_wrong_shape_is_an_error() {
        let (decoder, batch) = setup();
        let (mu, logvar) = posterior();
        let eps = Tensor::<Flex, 2>::zeros([1, 2], &Default::default());
        let err = vae_loss(&decoder, &batch, mu.clone(), logvar.clone(), eps, 1.0).unwrap_err();
        assert!(err.to_string().contains("noise rows"), "{err}");
        let eps = Tensor::<Flex, 2>::zeros([2, 3], &Default::default());
        let err = vae_loss(&decoder, &batch, mu, logvar, eps, 1.0).unwrap_err();
        assert!(err.to_string().contains("noise columns"), "{err}");
    }
}
