//! The gradient-norm proxy `grad_norm` (Abdelfattah, Mehrotra, Dudziak and Lane,
//! "Zero-Cost Proxies for Lightweight NAS", ICLR 2021).

use burn::tensor::backend::AutodiffBackend;
use search_space::Nb201Network;

use super::error::Result;
use super::loss_gradients::sum_over_layers;
use super::minibatch::Minibatch;
use super::proxy::Proxy;

/// `grad_norm` of `network` on `batch`:
///
/// ```text
/// L = mean cross-entropy of the logits on the batch's labels (batch norm: batch statistics)
/// grad_norm = Σ_layers ‖∂L/∂W_l‖₂        Frobenius norm per conv / classifier weight, summed
/// ```
///
/// - `batch`: images `[batch, input_channels, resolution, resolution]` and labels `[batch]`,
///   batch ≥ 2
/// - returns: the score, ≥ 0
pub fn grad_norm<B: AutodiffBackend>(
    network: &Nb201Network<B>,
    batch: &Minibatch<B>,
) -> Result<f64> {
    sum_over_layers(Proxy::GradNorm, network, batch, |_, g| {
        g.square().sum().sqrt()
    })
}
