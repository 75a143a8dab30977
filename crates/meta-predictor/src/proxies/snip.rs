//! SNIP connection sensitivity (Lee, Ajanthan and Torr, "SNIP: Single-shot Network Pruning
//! based on Connection Sensitivity", ICLR 2019), summed over the network as the zero-cost proxy
//! `snip` (Abdelfattah et al., "Zero-Cost Proxies for Lightweight NAS", ICLR 2021).

use burn::tensor::backend::AutodiffBackend;
use search_space::Nb201Network;

use super::error::Result;
use super::loss_gradients::sum_over_layers;
use super::minibatch::Minibatch;
use super::proxy::Proxy;

/// SNIP of `network` on `batch`:
///
/// ```text
/// L = mean cross-entropy of the logits on the batch's labels (batch norm: batch statistics)
/// snip = Σ_layers Σ_{θ ∈ W_l} |θ · ∂L/∂θ|       over every conv and the classifier weight
/// ```
///
/// (the reference computes `|∂L/∂m|` for a mask `m = 1` multiplying each weight, which is the
/// same number).
///
/// - `batch`: images `[batch, input_channels, resolution, resolution]` and labels `[batch]`,
///   batch ≥ 2
/// - returns: the score, ≥ 0; 0 when the output does not depend on any weight but the
///   classifier's bias
pub fn snip<B: AutodiffBackend>(network: &Nb201Network<B>, batch: &Minibatch<B>) -> Result<f64> {
    sum_over_layers(Proxy::Snip, network, batch, |w, g| (w * g).abs().sum())
}
