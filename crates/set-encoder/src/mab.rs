//! The multihead attention block (MAB) of the Set Transformer, as MetaD2A implements it.

use burn::config::Config;
use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::activation::{relu, softmax};
use burn::tensor::{backend::Backend, Bool, Tensor};

use crate::error::{Result, SetEncoderError};
use crate::init::{linear, mix};
use crate::mask::mask_keys;

/// Configuration of a [`Mab`].
#[derive(Config, Debug)]
pub struct MabConfig {
    /// Width of the queries, `dim_Q`.
    pub query_dim: usize,
    /// Width of the keys (the values are projected from the keys too), `dim_K`.
    pub key_dim: usize,
    /// Width of the projections and of the output, `dim_V`; a multiple of `num_heads`.
    pub value_dim: usize,
    /// Attention heads; head `i` attends with features `i·dim_V/heads .. (i+1)·dim_V/heads`.
    #[config(default = 4)]
    pub num_heads: usize,
    /// Seed of the initial weights (see the `init` module).
    #[config(default = 0)]
    pub seed: u64,
}

/// Multihead attention block: `MAB(Q, K) = H + ReLU(fc_o(H))` with `H = q + Attention(q, k, v)`,
/// where `q = fc_q(Q)`, `k = fc_k(K)`, `v = fc_v(K)`.
///
/// Exactly MetaD2A's (`set_encoder/setenc_modules.py`, itself Lee et al.'s Set Transformer with
/// `ln=False`):
/// - the heads split the feature dimension; each head's weights are
///   `softmax(q_h·k_hᵀ / √dim_V)`: the scale is the **full** `√dim_V`, not `√(dim_V/heads)`;
/// - the residual adds the **projected** query `q` (not the raw input), per head, before the
///   heads are concatenated;
/// - no LayerNorm.
///
/// Beyond the reference: an optional key mask (see [`mask`](crate::mask)) so that padded set
/// elements receive no attention.
#[derive(Module, Debug)]
pub struct Mab<B: Backend> {
    /// Query projection `dim_Q → dim_V`.
    pub fc_q: Linear<B>,
    /// Key projection `dim_K → dim_V`.
    pub fc_k: Linear<B>,
    /// Value projection `dim_K → dim_V`.
    pub fc_v: Linear<B>,
    /// Output layer `dim_V → dim_V` of the residual `H + ReLU(fc_o(H))`.
    pub fc_o: Linear<B>,
    /// Number of heads.
    pub num_heads: usize,
}

impl MabConfig {
    /// Checks that the configuration can build a block.
    pub fn validate(&self) -> Result<()> {
        for (what, value) in [
            ("query_dim", self.query_dim),
            ("key_dim", self.key_dim),
            ("value_dim", self.value_dim),
            ("num_heads", self.num_heads),
        ] {
            if value == 0 {
                return Err(SetEncoderError::ZeroSize { what });
            }
        }
        if !self.value_dim.is_multiple_of(self.num_heads) {
            return Err(SetEncoderError::HeadsDoNotDivide {
                dim: self.value_dim,
                heads: self.num_heads,
            });
        }
        Ok(())
    }

    /// Builds the block, or says why the configuration cannot.
    pub fn try_init<B: Backend>(&self, device: &B::Device) -> Result<Mab<B>> {
        self.validate()?;
        let (q, k, v) = (self.query_dim, self.key_dim, self.value_dim);
        Ok(Mab {
            fc_q: linear(q, v, mix(self.seed, 0), device),
            fc_k: linear(k, v, mix(self.seed, 1), device),
            fc_v: linear(k, v, mix(self.seed, 2), device),
            fc_o: linear(v, v, mix(self.seed, 3), device),
            num_heads: self.num_heads,
        })
    }

    /// Builds the block.
    ///
    /// # Panics
    /// If the configuration is invalid (see [`validate`](Self::validate)).
    pub fn init<B: Backend>(&self, device: &B::Device) -> Mab<B> {
        self.try_init(device)
            .unwrap_or_else(|e| panic!("invalid MabConfig: {e}"))
    }
}

impl<B: Backend> Mab<B> {
    /// Width of the queries.
    pub fn query_dim(&self) -> usize {
        self.fc_q.weight.shape().dims::<2>()[0]
    }

    /// Width of the keys.
    pub fn key_dim(&self) -> usize {
        self.fc_k.weight.shape().dims::<2>()[0]
    }

    /// Width of the output.
    pub fn value_dim(&self) -> usize {
        self.fc_q.weight.shape().dims::<2>()[1]
    }

    /// Attends from `query` to `key`.
    ///
    /// - `query`: `[batch, n_q, dim_Q]`
    /// - `key`: `[batch, n_k, dim_K]`
    /// - `key_valid`: `[batch, n_k]`, `true` for real elements; `None` = all real
    /// - output: `[batch, n_q, dim_V]`
    ///
    /// Rows of padded queries are computed like any other (callers reset them; see
    /// [`mask`](crate::mask)).
    pub fn forward(
        &self,
        query: Tensor<B, 3>,
        key: Tensor<B, 3>,
        key_valid: Option<&Tensor<B, 2, Bool>>,
    ) -> Tensor<B, 3> {
        let [batch, n_q, dim_q] = query.dims();
        let [batch_k, n_k, dim_k] = key.dims();
        assert_eq!(batch, batch_k, "MAB: query and key batch sizes differ");
        assert_eq!(dim_q, self.query_dim(), "MAB: query width");
        assert_eq!(dim_k, self.key_dim(), "MAB: key width");
        let dim_v = self.value_dim();
        let heads = self.num_heads;
        let head_dim = dim_v / heads;

        let q = self.fc_q.forward(query);
        // The 1/√dim_V scale is applied to k (fewer values than the scores; same result up to
        // rounding). The residual needs the unscaled q.
        let k = self.fc_k.forward(key.clone()) / (dim_v as f64).sqrt();
        let v = self.fc_v.forward(key);
        // [batch, n, dim_V] → [batch, heads, n, dim_V / heads]: head i takes features
        // i·head_dim .. (i+1)·head_dim, as `torch.split(dim_split, 2)` does.
        let split =
            |x: Tensor<B, 3>, n: usize| x.reshape([batch, n, heads, head_dim]).swap_dims(1, 2);
        let (q_heads, k, v) = (split(q.clone(), n_q), split(k, n_k), split(v, n_k));

        let scores = q_heads.matmul(k.swap_dims(2, 3));
        let scores = match key_valid {
            Some(valid) => mask_keys(scores, valid),
            None => scores,
        };
        let attention = softmax(scores, 3);
        // The residual q + A·v per head, then the heads concatenated, equals q (concatenated
        // already) + the concatenated A·v: adding in this layout avoids a strided sum.
        let h = q + attention
            .matmul(v)
            .swap_dims(1, 2)
            .reshape([batch, n_q, dim_v]);
        h.clone() + relu(self.fc_o.forward(h))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;
    use burn::tensor::TensorData;

    type B = Flex;

    #[test]
    fn config_errors_have_their_own_variants() {
        assert_eq!(
            MabConfig::new(4, 4, 6).validate(),
            Err(SetEncoderError::HeadsDoNotDivide { dim: 6, heads: 4 })
        );
        assert_eq!(
            MabConfig::new(0, 4, 8).validate(),
            Err(SetEncoderError::ZeroSize { what: "query_dim" })
        );
        assert_eq!(
            MabConfig::new(4, 4, 8).with_num_heads(0).validate(),
            Err(SetEncoderError::ZeroSize { what: "num_heads" })
        );
    }

    /// The forward pass written out by hand for one head: the √dim_V scale, the projected-query
    /// residual and the ReLU output layer.
    #[test]
    fn matches_the_reference_formula() {
        let device = Default::default();
        let mab = MabConfig::new(2, 3, 2)
            .with_num_heads(1)
            .with_seed(5)
            .init::<B>(&device);
        let query =
            Tensor::<B, 3>::from_data(TensorData::new(vec![0.3f32, -0.7], [1, 1, 2]), &device);
        let key = Tensor::<B, 3>::from_data(
            TensorData::new(vec![0.1f32, 0.2, 0.3, -0.4, 0.5, -0.6], [1, 2, 3]),
            &device,
        );
        let got: Vec<f32> = mab
            .forward(query.clone(), key.clone(), None)
            .into_data()
            .to_vec()
            .unwrap();

        let q: Vec<f32> = mab.fc_q.forward(query).into_data().to_vec().unwrap();
        let k: Vec<f32> = mab.fc_k.forward(key.clone()).into_data().to_vec().unwrap();
        let v: Vec<f32> = mab.fc_v.forward(key).into_data().to_vec().unwrap();
        let logits: Vec<f32> = (0..2)
            .map(|j| (q[0] * k[2 * j] + q[1] * k[2 * j + 1]) / 2f32.sqrt())
            .collect();
        let m = logits[0].max(logits[1]);
        let e: Vec<f32> = logits.iter().map(|l| (l - m).exp()).collect();
        let a: Vec<f32> = e.iter().map(|x| x / (e[0] + e[1])).collect();
        let h: Vec<f32> = (0..2)
            .map(|d| q[d] + a[0] * v[d] + a[1] * v[2 + d])
            .collect();
        let h_t = Tensor::<B, 3>::from_data(TensorData::new(h.clone(), [1, 1, 2]), &device);
        let o: Vec<f32> = mab.fc_o.forward(h_t).into_data().to_vec().unwrap();
        for d in 0..2 {
            let want = h[d] + o[d].max(0.0);
            assert!((got[d] - want).abs() < 1e-5, "{got:?} vs {want}");
        }
    }
}
