//! Pooling by multihead attention (PMA): `k` learned seeds attend to the set.

use burn::config::Config;
use burn::module::{Module, Param};
use burn::tensor::{backend::Backend, Bool, Tensor};

use crate::error::{Result, SetEncoderError};
use crate::init::{mix, uniform_param, xavier_bound};
use crate::mab::{Mab, MabConfig};

/// Configuration of a [`Pma`].
#[derive(Config, Debug)]
pub struct PmaConfig {
    /// Width of the elements and of the output; a multiple of `num_heads`.
    pub dim: usize,
    /// Number of seed vectors `k`, i.e. of pooled outputs (MetaD2A: 1).
    #[config(default = 1)]
    pub num_seeds: usize,
    /// Attention heads.
    #[config(default = 4)]
    pub num_heads: usize,
    /// Seed of the initial weights.
    #[config(default = 0)]
    pub seed: u64,
}

/// Pooling by multihead attention: `PMA(X) = MAB(S, X)` with `k` learned seeds `S`
/// (Xavier-uniform initialised). As in MetaD2A's code there is no row-wise feed-forward layer
/// on `X` before the attention (the Set Transformer paper has one).
///
/// Permutation invariant; with a mask it pools only the real elements.
#[derive(Module, Debug)]
pub struct Pma<B: Backend> {
    /// The seeds, `[1, k, dim]`.
    pub seeds: Param<Tensor<B, 3>>,
    /// `MAB(S, X)`.
    pub mab: Mab<B>,
}

impl PmaConfig {
    /// Checks that the configuration can build a block.
    pub fn validate(&self) -> Result<()> {
        if self.num_seeds == 0 {
            return Err(SetEncoderError::ZeroSize { what: "num_seeds" });
        }
        MabConfig::new(self.dim, self.dim, self.dim)
            .with_num_heads(self.num_heads)
            .validate()
    }

    /// Builds the block, or says why the configuration cannot.
    pub fn try_init<B: Backend>(&self, device: &B::Device) -> Result<Pma<B>> {
        self.validate()?;
        let shape = [1, self.num_seeds, self.dim];
        Ok(Pma {
            seeds: uniform_param(shape, xavier_bound(&shape), mix(self.seed, 0), device),
            mab: MabConfig::new(self.dim, self.dim, self.dim)
                .with_num_heads(self.num_heads)
                .with_seed(mix(self.seed, 1))
                .try_init(device)?,
        })
    }

    /// Builds the block.
    ///
    /// # Panics
    /// If the configuration is invalid (see [`validate`](Self::validate)).
    pub fn init<B: Backend>(&self, device: &B::Device) -> Pma<B> {
        self.try_init(device)
            .unwrap_or_else(|e| panic!("invalid PmaConfig: {e}"))
    }
}

impl<B: Backend> Pma<B> {
    /// - `x`: `[batch, n, dim]`
    /// - `valid`: `[batch, n]`, `true` for real elements; `None` = all real
    /// - output: `[batch, k, dim]`
    pub fn forward(&self, x: Tensor<B, 3>, valid: Option<&Tensor<B, 2, Bool>>) -> Tensor<B, 3> {
        let [batch, _, dim] = x.dims();
        let seeds = self.seeds.val().repeat_dim(0, batch);
        let k = seeds.dims()[1];
        let out = self.mab.forward(seeds, x, valid);
        assert_eq!(out.dims(), [batch, k, dim], "PMA output");
        out
    }
}
