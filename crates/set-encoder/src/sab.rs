//! The set attention block (SAB): every element attends to the whole set.

use burn::config::Config;
use burn::module::Module;
use burn::tensor::{backend::Backend, Bool, Tensor};

use crate::error::Result;
use crate::mab::{Mab, MabConfig};
use crate::mask::zero_invalid_rows;

/// Configuration of a [`Sab`].
#[derive(Config, Debug)]
pub struct SabConfig {
    /// Width of the input elements.
    pub input_dim: usize,
    /// Width of the output elements; a multiple of `num_heads`.
    pub output_dim: usize,
    /// Attention heads.
    #[config(default = 4)]
    pub num_heads: usize,
    /// Seed of the initial weights.
    #[config(default = 0)]
    pub seed: u64,
}

/// Set attention block: `SAB(X) = MAB(X, X)`. Permutation equivariant; `O(n²)` in the set size.
#[derive(Module, Debug)]
pub struct Sab<B: Backend> {
    /// The attention block, queries and keys both `X`.
    pub mab: Mab<B>,
}

impl SabConfig {
    fn mab(&self) -> MabConfig {
        MabConfig::new(self.input_dim, self.input_dim, self.output_dim)
            .with_num_heads(self.num_heads)
            .with_seed(self.seed)
    }

    /// Checks that the configuration can build a block.
    pub fn validate(&self) -> Result<()> {
        self.mab().validate()
    }

    /// Builds the block, or says why the configuration cannot.
    pub fn try_init<B: Backend>(&self, device: &B::Device) -> Result<Sab<B>> {
        Ok(Sab {
            mab: self.mab().try_init(device)?,
        })
    }

    /// Builds the block.
    ///
    /// # Panics
    /// If the configuration is invalid (see [`validate`](Self::validate)).
    pub fn init<B: Backend>(&self, device: &B::Device) -> Sab<B> {
        self.try_init(device)
            .unwrap_or_else(|e| panic!("invalid SabConfig: {e}"))
    }
}

impl<B: Backend> Sab<B> {
    /// - `x`: `[batch, n, input_dim]`
    /// - `valid`: `[batch, n]`, `true` for real elements; `None` = all real
    /// - output: `[batch, n, output_dim]`, zero on padded rows
    pub fn forward(&self, x: Tensor<B, 3>, valid: Option<&Tensor<B, 2, Bool>>) -> Tensor<B, 3> {
        let [batch, n, _] = x.dims();
        let out = self.mab.forward(x.clone(), x, valid);
        assert_eq!(out.dims()[..2], [batch, n], "SAB keeps the set");
        match valid {
            Some(valid) => zero_invalid_rows(out, valid),
            None => out,
        }
    }
}
