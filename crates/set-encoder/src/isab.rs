//! The induced set attention block (ISAB): attention through `m` learned inducing points.

use burn::config::Config;
use burn::module::{Module, Param};
use burn::tensor::{backend::Backend, Bool, Tensor};

use crate::error::{Result, SetEncoderError};
use crate::init::{mix, uniform_param, xavier_bound};
use crate::mab::{Mab, MabConfig};
use crate::mask::zero_invalid_rows;

/// Configuration of an [`Isab`].
#[derive(Config, Debug)]
pub struct IsabConfig {
    /// Width of the input elements.
    pub input_dim: usize,
    /// Width of the output elements (and of the inducing points); a multiple of `num_heads`.
    pub output_dim: usize,
    /// Number of inducing points `m` (MetaD2A's unused ISAB has 32).
    #[config(default = 32)]
    pub num_inducing: usize,
    /// Attention heads.
    #[config(default = 4)]
    pub num_heads: usize,
    /// Seed of the initial weights.
    #[config(default = 0)]
    pub seed: u64,
}

/// Induced set attention block: `ISAB(X) = MAB(X, H)` with `H = MAB(I, X)`, where `I` are `m`
/// learned inducing points (Xavier-uniform initialised, as in the reference).
///
/// Permutation equivariant like [`Sab`](crate::Sab) at `O(n·m)` instead of `O(n²)`.
#[derive(Module, Debug)]
pub struct Isab<B: Backend> {
    /// The inducing points, `[1, m, output_dim]`.
    pub inducing: Param<Tensor<B, 3>>,
    /// `MAB(I, X)`: the inducing points summarise the set.
    pub mab_summarise: Mab<B>,
    /// `MAB(X, H)`: each element reads the summary.
    pub mab_broadcast: Mab<B>,
}

impl IsabConfig {
    /// Checks that the configuration can build a block.
    pub fn validate(&self) -> Result<()> {
        if self.num_inducing == 0 {
            return Err(SetEncoderError::ZeroSize {
                what: "num_inducing",
            });
        }
        MabConfig::new(self.output_dim, self.input_dim, self.output_dim)
            .with_num_heads(self.num_heads)
            .validate()
    }

    /// Builds the block, or says why the configuration cannot.
    pub fn try_init<B: Backend>(&self, device: &B::Device) -> Result<Isab<B>> {
        self.validate()?;
        let shape = [1, self.num_inducing, self.output_dim];
        Ok(Isab {
            inducing: uniform_param(shape, xavier_bound(&shape), mix(self.seed, 0), device),
            mab_summarise: MabConfig::new(self.output_dim, self.input_dim, self.output_dim)
                .with_num_heads(self.num_heads)
                .with_seed(mix(self.seed, 1))
                .try_init(device)?,
            mab_broadcast: MabConfig::new(self.input_dim, self.output_dim, self.output_dim)
                .with_num_heads(self.num_heads)
                .with_seed(mix(self.seed, 2))
                .try_init(device)?,
        })
    }

    /// Builds the block.
    ///
    /// # Panics
    /// If the configuration is invalid (see [`validate`](Self::validate)).
    pub fn init<B: Backend>(&self, device: &B::Device) -> Isab<B> {
        self.try_init(device)
            .unwrap_or_else(|e| panic!("invalid IsabConfig: {e}"))
    }
}

impl<B: Backend> Isab<B> {
    /// - `x`: `[batch, n, input_dim]`
    /// - `valid`: `[batch, n]`, `true` for real elements; `None` = all real
    /// - output: `[batch, n, output_dim]`, zero on padded rows
    ///
    /// Only real elements are summarised into `H` (the mask applies to `MAB(I, X)`'s keys).
    pub fn forward(&self, x: Tensor<B, 3>, valid: Option<&Tensor<B, 2, Bool>>) -> Tensor<B, 3> {
        let [batch, n, _] = x.dims();
        let inducing = self.inducing.val().repeat_dim(0, batch);
        let summary = self.mab_summarise.forward(inducing, x.clone(), valid);
        let out = self.mab_broadcast.forward(x, summary, None);
        assert_eq!(out.dims()[..2], [batch, n], "ISAB keeps the set");
        match valid {
            Some(valid) => zero_invalid_rows(out, valid),
            None => out,
        }
    }
}
