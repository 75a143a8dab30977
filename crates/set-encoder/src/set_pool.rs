//! One level of MetaD2A's set encoder (`SetPool`): blocks → PMA → linear.

use burn::config::Config;
use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::{backend::Backend, Bool, Tensor};

use crate::error::{Result, SetEncoderError};
use crate::init::{linear, mix};
use crate::isab::{Isab, IsabConfig};
use crate::pma::{Pma, PmaConfig};
use crate::sab::{Sab, SabConfig};

/// Which equivariant block a [`SetPool`] stacks.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum SetBlockKind {
    /// [`Sab`]: full self-attention, `O(n²)`. MetaD2A's choice (mode `sabPF`).
    Sab,
    /// [`Isab`] with this many inducing points: `O(n·m)`, for large sets.
    Isab(usize),
}

/// Configuration of a [`SetPool`]. The defaults are MetaD2A's (`dim_hidden = 56`, 4 heads,
/// two SABs, one seed).
#[derive(Config, Debug)]
pub struct SetPoolConfig {
    /// Width of the input elements.
    pub input_dim: usize,
    /// Width inside the blocks and the PMA; a multiple of `num_heads`.
    #[config(default = 56)]
    pub hidden_dim: usize,
    /// Width of the output.
    #[config(default = 56)]
    pub output_dim: usize,
    /// Attention heads of every block.
    #[config(default = 4)]
    pub num_heads: usize,
    /// Number of equivariant blocks before the pooling.
    #[config(default = 2)]
    pub depth: usize,
    /// The equivariant block.
    #[config(default = "SetBlockKind::Sab")]
    pub block: SetBlockKind,
    /// PMA seeds, i.e. pooled outputs per set.
    #[config(default = 1)]
    pub num_seeds: usize,
    /// Seed of the initial weights.
    #[config(default = 0)]
    pub seed: u64,
}

/// One equivariant block of a [`SetPool`].
// Unboxed: Burn has no `Module` impl for `Box`, and an encoder holds only a few blocks.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum SetBlock<B: Backend> {
    /// A set attention block.
    Sab(Sab<B>),
    /// An induced set attention block.
    Isab(Isab<B>),
}

impl<B: Backend> SetBlock<B> {
    /// `x: [batch, n, in]`, `valid: [batch, n]` → `[batch, n, out]`, zero on padded rows.
    pub fn forward(&self, x: Tensor<B, 3>, valid: Option<&Tensor<B, 2, Bool>>) -> Tensor<B, 3> {
        match self {
            SetBlock::Sab(block) => block.forward(x, valid),
            SetBlock::Isab(block) => block.forward(x, valid),
        }
    }
}

/// A set of vectors in, `num_seeds` vectors out: `depth` × [`SetBlock`] → [`Pma`] → [`Linear`].
///
/// MetaD2A's `SetPool(mode='sabPF')`: `SAB(in→hidden) → SAB(hidden→hidden) → PMA(hidden, 1 seed)
/// → Linear(hidden→out)`. Permutation invariant in the set's elements.
#[derive(Module, Debug)]
pub struct SetPool<B: Backend> {
    /// The equivariant blocks; the first maps `input_dim → hidden_dim`.
    pub blocks: Vec<SetBlock<B>>,
    /// The pooling.
    pub pma: Pma<B>,
    /// The output layer `hidden_dim → output_dim`.
    pub output: Linear<B>,
}

impl SetPoolConfig {
    /// Checks that the configuration can build a set pool.
    pub fn validate(&self) -> Result<()> {
        for (what, value) in [
            ("input_dim", self.input_dim),
            ("hidden_dim", self.hidden_dim),
            ("output_dim", self.output_dim),
            ("depth", self.depth),
        ] {
            if value == 0 {
                return Err(SetEncoderError::ZeroSize { what });
            }
        }
        if let SetBlockKind::Isab(0) = self.block {
            return Err(SetEncoderError::ZeroSize {
                what: "num_inducing",
            });
        }
        PmaConfig::new(self.hidden_dim)
            .with_num_seeds(self.num_seeds)
            .with_num_heads(self.num_heads)
            .validate()
    }

    /// Builds the set pool, or says why the configuration cannot.
    pub fn try_init<B: Backend>(&self, device: &B::Device) -> Result<SetPool<B>> {
        self.validate()?;
        let blocks = (0..self.depth)
            .map(|i| {
                let input = if i == 0 {
                    self.input_dim
                } else {
                    self.hidden_dim
                };
                let seed = mix(self.seed, i as u64);
                Ok(match self.block {
                    SetBlockKind::Sab => SetBlock::Sab(
                        SabConfig::new(input, self.hidden_dim)
                            .with_num_heads(self.num_heads)
                            .with_seed(seed)
                            .try_init(device)?,
                    ),
                    SetBlockKind::Isab(m) => SetBlock::Isab(
                        IsabConfig::new(input, self.hidden_dim)
                            .with_num_inducing(m)
                            .with_num_heads(self.num_heads)
                            .with_seed(seed)
                            .try_init(device)?,
                    ),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let tail = mix(self.seed, u64::MAX);
        Ok(SetPool {
            blocks,
            pma: PmaConfig::new(self.hidden_dim)
                .with_num_seeds(self.num_seeds)
                .with_num_heads(self.num_heads)
                .with_seed(mix(tail, 0))
                .try_init(device)?,
            output: linear(self.hidden_dim, self.output_dim, mix(tail, 1), device),
        })
    }

    /// Builds the set pool.
    ///
    /// # Panics
    /// If the configuration is invalid (see [`validate`](Self::validate)).
    pub fn init<B: Backend>(&self, device: &B::Device) -> SetPool<B> {
        self.try_init(device)
            .unwrap_or_else(|e| panic!("invalid SetPoolConfig: {e}"))
    }
}

impl<B: Backend> SetPool<B> {
    /// Width of the input elements.
    pub fn input_dim(&self) -> usize {
        match &self.blocks[0] {
            SetBlock::Sab(block) => block.mab.key_dim(),
            SetBlock::Isab(block) => block.mab_summarise.key_dim(),
        }
    }

    /// Width of the output.
    pub fn output_dim(&self) -> usize {
        self.output.weight.shape().dims::<2>()[1]
    }

    /// - `x`: `[batch, n, input_dim]`
    /// - `valid`: `[batch, n]`, `true` for real elements; `None` = all real
    /// - output: `[batch, num_seeds, output_dim]`, pooled over the real elements only
    pub fn forward(&self, x: Tensor<B, 3>, valid: Option<&Tensor<B, 2, Bool>>) -> Tensor<B, 3> {
        let [batch, _, input_dim] = x.dims();
        assert_eq!(input_dim, self.input_dim(), "SetPool: input width");
        let hidden = self
            .blocks
            .iter()
            .fold(x, |x, block| block.forward(x, valid));
        let out = self.output.forward(self.pma.forward(hidden, valid));
        assert_eq!(out.dims()[0], batch, "SetPool keeps the batch");
        out
    }
}
