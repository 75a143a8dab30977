//! Zero-cost proxies: training-free scores of an untrained NAS-Bench-201 network computed from
//! one minibatch of a task (or from the cell alone), the practitioner's baseline for meta-NAS.
//!
//! | proxy | what it computes | paper |
//! |---|---|---|
//! | [`synflow`] | `Σ |θ ⊙ ∂R/∂θ|`, `R` the output sum of the `|θ|` network without BN on ones | Tanaka et al., NeurIPS 2020 |
//! | [`naswot`] | `log |det K|`, `K_ij` = ReLU units where images `i`, `j` agree | Mellor et al., ICML 2021 |
//! | [`jacob_cov`] | `−Σ log(λ+k) + 1/(λ+k)` over eigenvalues of the input-Jacobian correlations | Mellor et al., arXiv:2006.04647 v1 |
//! | [`snip`] | `Σ |θ ⊙ ∂L/∂θ|`, `L` the cross-entropy on the batch | Lee et al., ICLR 2019 |
//! | [`grad_norm`] | `Σ_layers ‖∂L/∂W_l‖₂` | Abdelfattah et al., ICLR 2021 |
//! | [`params`], [`flops`] | parameters and multiply-adds of the macro network | — |
//!
//! The definitions follow the reference implementation of "Zero-Cost Proxies for Lightweight
//! NAS" (Abdelfattah et al., ICLR 2021) and, for NASWOT, the paper's own code: sums run over
//! every convolution and the classifier weight; batch norm uses batch statistics, except in
//! synflow, which removes it. Each is checked against an independent PyTorch computation
//! (`scripts/proxies_reference.py`, fixtures in `tests/fixtures/proxies/`); see
//! `docs/proxies.md`.
//!
//! Everything is seeded: the network's weights by [`ProxyConfig::seed`], the minibatch by
//! [`ProxyConfig::batch_seed`]. A score is "higher is better" for every proxy. A network whose
//! output does not depend on its input gets 0 from synflow, snip and grad_norm and `−∞` from
//! jacob_cov; NASWOT is `−∞` when two images get the same activation codes everywhere.
//!
//! ```no_run
//! use burn::backend::{Autodiff, Flex};
//! use datasets::{DataPaths, SourceSpec, Task, TaskSpec};
//! use meta_predictor::proxies::{score_arch, Proxy, ProxyConfig};
//! use search_space::Nb201Arch;
//!
//! type B = Autodiff<Flex>;
//! let spec = TaskSpec::new(SourceSpec::MnistSample, (0..10).collect(), 100, 0, 16, 0);
//! let task = Task::build(&spec, &DataPaths::from_env())?;
//! let config = ProxyConfig::new();
//! let batch = config.minibatch::<B>(&task, &Default::default())?;
//! for arch in Nb201Arch::all().take(3) {
//!     let s = score_arch(arch, &[Proxy::Synflow, Proxy::Naswot], &batch, &config)?;
//!     println!("{arch}: synflow {:.3e}, naswot {:.2}", s[0], s[1]);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod config;
mod cost;
mod error;
mod grad_norm;
mod jacob_cov;
mod linalg;
mod loss_gradients;
mod minibatch;
mod naswot;
mod proxy;
mod rank;
mod score;
mod snip;
mod synflow;
mod weights;

pub use config::ProxyConfig;
pub use cost::{flops, params};
pub use error::{ProxyError, Result};
pub use grad_norm::grad_norm;
pub use jacob_cov::{jacob_cov, JACOB_COV_K};
pub use minibatch::Minibatch;
pub use naswot::{activation_kernel, naswot};
pub use proxy::{Proxy, UnknownProxy};
pub use rank::{rank_archs, sample_archs, ScoredArch};
pub use score::score_arch;
pub use snip::snip;
pub use synflow::synflow;
pub use weights::{layer_weights, LayerWeight, NamedWeight};

#[cfg(test)]
mod tests;
