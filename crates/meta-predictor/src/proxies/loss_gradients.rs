//! The gradients of the training loss on one minibatch, shared by [`snip`](super::snip()) and
//! [`grad_norm`](super::grad_norm()).

use burn::nn::loss::CrossEntropyLoss;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::Tensor;
use search_space::network::BnMode;
use search_space::Nb201Network;

use super::error::{ProxyError, Result};
use super::minibatch::Minibatch;
use super::proxy::Proxy;
use super::weights::{layer_weights, LayerWeight};

/// `Σ_layers m(W_l, ∂L/∂W_l)` for the loss `L` = mean cross-entropy of `network` on `batch`,
/// with batch norm using batch statistics (the reference scores the network in training mode).
/// A layer the loss does not reach (a conv edge whose output is discarded) contributes
/// `m(W, 0)`, which is 0 for every metric used here, so it is skipped.
///
/// `metric` gets the weight and its gradient flattened to `[numel]` and returns `[1]`.
pub(crate) fn sum_over_layers<B, M>(
    proxy: Proxy,
    network: &Nb201Network<B>,
    batch: &Minibatch<B>,
    metric: M,
) -> Result<f64>
where
    B: AutodiffBackend,
    M: Fn(Tensor<B::InnerBackend, 1>, Tensor<B::InnerBackend, 1>) -> Tensor<B::InnerBackend, 1>,
{
    let n = batch.len();
    if n < 2 {
        return Err(ProxyError::BatchTooSmall {
            proxy,
            batch: n,
            min: 2,
        });
    }
    let logits = network.forward_mode(batch.images.clone(), BnMode::Train);
    let loss = CrossEntropyLoss::new(None, &logits.device()).forward(logits, batch.labels.clone());
    let grads = loss.backward();
    let mut per_layer = Vec::new();
    for named in layer_weights(network) {
        let term = match named.weight {
            LayerWeight::Conv(w) => w.grad(&grads).map(|g| {
                let w = w.inner();
                let numel = w.shape().num_elements();
                metric(w.reshape([numel]), g.reshape([numel]))
            }),
            LayerWeight::Linear(w) => w.grad(&grads).map(|g| {
                let w = w.inner();
                let numel = w.shape().num_elements();
                metric(w.reshape([numel]), g.reshape([numel]))
            }),
        };
        per_layer.extend(term);
    }
    let score = if per_layer.is_empty() {
        0.0
    } else {
        Tensor::cat(per_layer, 0)
            .into_data()
            .iter::<f64>()
            .sum::<f64>()
    };
    if score.is_finite() {
        Ok(score)
    } else {
        Err(ProxyError::NonFinite {
            proxy,
            value: score,
            fix: "the loss gradients are not finite: check that the images are finite and \
                  normalised and the labels match the classifier",
        })
    }
}
