//! [`TansNet`]: TANS's three learned parts in one module: the query encoder, the model encoder
//! and the performance predictor.
//!
//! ```text
//! task features [tasks, classes, images, d] ─SetEncoder─▶ [tasks, latent] ─L2─▶ q
//! model input   [models, 30 + 2·4C + 3]     ─Linear─ReLU─Linear─▶ [models, latent] ─L2─▶ m
//! [q ; m ; q⊙m] [pairs, 3·latent]           ─Linear─ReLU─Linear─sigmoid─▶ [pairs] accuracy
//! ```
//!
//! Where we differ from TANS's released code (`../shared/anchors/tans-base.md`): the query
//! encoder is MetaD2A's two-level Set Transformer (`set_encoder::SetEncoder`, the project's
//! dataset encoder) instead of one shared linear layer mean-pooled; the model encoder has a
//! hidden layer; the predictor sees `q ⊙ m` and has a hidden layer, because TANS's
//! `sigmoid(Linear([q; m]))` is `f(q) + g(m)` inside the sigmoid and so ranks the networks the
//! same way for every query.

use burn::config::Config;
use burn::module::Module;
use burn::tensor::activation::{relu, sigmoid};
use burn::tensor::backend::Backend;
use burn::tensor::Tensor;
use search_space::network::init::{linear, mix};
use set_encoder::{SetBatch, SetEncoder, SetEncoderConfig};

use super::error::{Result, TansError};

/// Width of the cell's graph encoding: 6 edges × 5 operations, one-hot.
pub const ARCH_DIM: usize = 30;
/// Width of the network's interface encoding: RGB input, resolution / 32, classes / 20.
pub const INTERFACE_DIM: usize = 3;

/// Configuration of a [`TansNet`].
#[derive(Config, Debug)]
pub struct TansNetConfig {
    /// Width of the image features (the extractor's: 64 for the shipped CNN).
    pub feature_dim: usize,
    /// Width of the functional embedding (`2 · 4C`: 64 for the zoo's C = 8).
    pub functional_dim: usize,
    /// Width of the shared embedding space (TANS: 128).
    #[config(default = 128)]
    pub latent_dim: usize,
    /// Hidden width of the set encoder (MetaD2A: 56).
    #[config(default = 56)]
    pub set_hidden: usize,
    /// Hidden width of the model encoder.
    #[config(default = 128)]
    pub model_hidden: usize,
    /// Hidden width of the predictor.
    #[config(default = 64)]
    pub predictor_hidden: usize,
    /// Seed of the initial weights.
    #[config(default = 0)]
    pub seed: u64,
}

/// TANS's query encoder, model encoder and performance predictor.
#[derive(Module, Debug)]
pub struct TansNet<B: Backend> {
    /// Task features → query embedding (before L2 normalisation).
    pub query: SetEncoder<B>,
    /// Model input → hidden.
    pub model_in: burn::nn::Linear<B>,
    /// Hidden → model embedding (before L2 normalisation).
    pub model_out: burn::nn::Linear<B>,
    /// `[q ; m ; q⊙m]` → hidden.
    pub predictor_in: burn::nn::Linear<B>,
    /// Hidden → accuracy logit.
    pub predictor_out: burn::nn::Linear<B>,
}

impl TansNetConfig {
    /// Width of a model input: graph, functional embedding, interface.
    pub fn model_input_dim(&self) -> usize {
        ARCH_DIM + self.functional_dim + INTERFACE_DIM
    }

    fn set_encoder(&self) -> SetEncoderConfig {
        SetEncoderConfig::new(self.feature_dim)
            .with_hidden_dim(self.set_hidden)
            .with_latent_dim(self.latent_dim)
            .with_seed(mix(self.seed, 1))
    }

    /// Builds the network, or says why the configuration cannot.
    pub fn try_init<B: Backend>(&self, device: &B::Device) -> Result<TansNet<B>> {
        for (name, v) in [
            ("feature_dim", self.feature_dim),
            ("functional_dim", self.functional_dim),
            ("latent_dim", self.latent_dim),
            ("model_hidden", self.model_hidden),
            ("predictor_hidden", self.predictor_hidden),
        ] {
            if v == 0 {
                return Err(TansError::Option {
                    name,
                    value: "0".into(),
                    fix: "every width of the TANS model must be at least 1",
                });
            }
        }
        let (l, mh, ph) = (self.latent_dim, self.model_hidden, self.predictor_hidden);
        Ok(TansNet {
            query: self.set_encoder().try_init(device)?,
            model_in: linear(self.model_input_dim(), mh, true, mix(self.seed, 2), device),
            model_out: linear(mh, l, true, mix(self.seed, 3), device),
            predictor_in: linear(3 * l, ph, true, mix(self.seed, 4), device),
            predictor_out: linear(ph, 1, true, mix(self.seed, 5), device),
        })
    }
}

/// Rows scaled to unit L2 norm: `x [n, d]` → `[n, d]`.
pub fn l2_normalize<B: Backend>(x: Tensor<B, 2>) -> Tensor<B, 2> {
    let norm = x
        .clone()
        .powf_scalar(2.0)
        .sum_dim(1)
        .add_scalar(1e-12)
        .sqrt();
    x / norm
}

impl<B: Backend> TansNet<B> {
    /// Width of the image features it reads.
    pub fn feature_dim(&self) -> usize {
        self.query.input_dim()
    }

    /// Width of the embedding space.
    pub fn latent_dim(&self) -> usize {
        self.model_out.weight.dims()[1]
    }

    /// Width of a model input.
    pub fn model_input_dim(&self) -> usize {
        self.model_in.weight.dims()[0]
    }

    /// Query embeddings, unit norm: tasks `[tasks, classes, images, feature_dim]` →
    /// `[tasks, latent]`.
    pub fn encode_query(&self, tasks: &SetBatch<B>) -> Result<Tensor<B, 2>> {
        Ok(l2_normalize(self.query.encode(tasks)?))
    }

    /// Model embeddings, unit norm: `inputs [models, model_input_dim]` → `[models, latent]`.
    pub fn encode_model(&self, inputs: Tensor<B, 2>) -> Tensor<B, 2> {
        let [_, d] = inputs.dims();
        assert_eq!(d, self.model_input_dim(), "model inputs of width {d}");
        l2_normalize(self.model_out.forward(relu(self.model_in.forward(inputs))))
    }

    /// Predicted accuracy in `[0, 1]` of each (query, model) pair: `q [pairs, latent]`,
    /// `m [pairs, latent]` → `[pairs]`.
    pub fn predict(&self, q: Tensor<B, 2>, m: Tensor<B, 2>) -> Tensor<B, 1> {
        let x = Tensor::cat(vec![q.clone(), m.clone(), q * m], 1);
        let y = self
            .predictor_out
            .forward(relu(self.predictor_in.forward(x)));
        sigmoid(y).flatten(0, 1)
    }
}

/// TANS's bidirectional hinge loss over in-batch negatives, as the mean over the `n(n−1)`
/// off-diagonal pairs: `q [n, latent]` (tasks) and `m [n, latent]` (each task's positive
/// network), both unit norm. With `s = q mᵀ`, each pair `i ≠ j` costs
/// `max(0, α − s_ii + s_ij)` (task i prefers another task's network) plus
/// `max(0, α − s_jj + s_ij)` (network j prefers another task). TANS's extra
/// `2·Σ max(0, α − s_ii)` (an artefact of zeroing the diagonal instead of masking it) is left
/// out. `n` must be at least 2.
pub fn contrastive_loss<B: Backend>(q: Tensor<B, 2>, m: Tensor<B, 2>, margin: f32) -> Tensor<B, 1> {
    let [n, _] = q.dims();
    assert!(n >= 2, "the contrastive loss needs at least 2 tasks");
    let device = q.device();
    let s = q.matmul(m.transpose()); // [n, n]
    let eye = Tensor::<B, 2>::from_data(
        burn::tensor::TensorData::new(
            (0..n * n)
                .map(|k| if k / n == k % n { 1.0f32 } else { 0.0 })
                .collect::<Vec<_>>(),
            [n, n],
        ),
        &device,
    );
    let off = eye.clone().neg().add_scalar(1.0);
    let diag = (s.clone() * eye).sum_dim(1); // [n, 1]: s_ii
                                             // Row i: the task's other networks s_ij must sit α below its own s_ii.
    let rows = (s.clone() - diag.clone()).add_scalar(margin).clamp_min(0.0) * off.clone();
    // Column j: the other tasks s_ij must sit α below the network's own task s_jj.
    let cols = (s - diag.transpose()).add_scalar(margin).clamp_min(0.0) * off;
    (rows.sum() + cols.sum()).div_scalar((n * (n - 1)) as f32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;
    use burn::tensor::TensorData;

    #[test]
    fn the_loss_is_zero_when_positives_win_by_the_margin_and_positive_otherwise() {
        let device = Default::default();
        let eye = Tensor::<Flex, 2>::from_data(
            TensorData::new(vec![1.0f32, 0.0, 0.0, 1.0], [2, 2]),
            &device,
        );
        let loss: f32 = contrastive_loss(eye.clone(), eye.clone(), 0.2).into_scalar();
        assert_eq!(loss, 0.0);
        // Swapped positives: every pair violates by 1 + α.
        let swapped = Tensor::<Flex, 2>::from_data(
            TensorData::new(vec![0.0f32, 1.0, 1.0, 0.0], [2, 2]),
            &device,
        );
        let loss: f32 = contrastive_loss(eye, swapped, 0.2).into_scalar();
        assert!((loss - 2.4).abs() < 1e-6, "{loss}");
    }

    #[test]
    fn embeddings_have_unit_norm_and_predictions_lie_in_0_1() {
        let device = Default::default();
        let net = TansNetConfig::new(4, 6).try_init::<Flex>(&device).unwrap();
        let inputs = Tensor::<Flex, 2>::ones([3, net.model_input_dim()], &device);
        let m = net.encode_model(inputs);
        let norms: Vec<f32> = m
            .clone()
            .powf_scalar(2.0)
            .sum_dim(1)
            .into_data()
            .to_vec()
            .unwrap();
        assert!(norms.iter().all(|n| (n - 1.0).abs() < 1e-5), "{norms:?}");
        let p: Vec<f32> = net.predict(m.clone(), m).into_data().to_vec().unwrap();
        assert!(p.iter().all(|v| (0.0..=1.0).contains(v)));
        assert!(matches!(
            TansNetConfig::new(4, 0).try_init::<Flex>(&device),
            Err(TansError::Option {
                name: "functional_dim",
                ..
            })
        ));
    }
}
