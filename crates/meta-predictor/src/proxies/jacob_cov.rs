//! The Jacobian-covariance score of the first version of "Neural Architecture Search without
//! Training" (Mellor, Turner, Storkey and Crowley, arXiv:2006.04647 v1, 2020), as the zero-cost
//! proxy `jacob_cov` (Abdelfattah et al., ICLR 2021).

use burn::tensor::backend::AutodiffBackend;
use search_space::network::BnMode;
use search_space::Nb201Network;

use super::error::{ProxyError, Result};
use super::linalg::{log_det_and_inverse_trace, row_correlations};
use super::minibatch::Minibatch;
use super::proxy::Proxy;

/// The constant `k` added to every eigenvalue (the reference's `1e-5`).
pub const JACOB_COV_K: f64 = 1e-5;

/// `jacob_cov` of `network` on `batch`'s images:
///
/// ```text
/// J_i = ∂(Σ_k y_k)/∂x_i ∈ R^D     input gradient of the summed logits of the whole batch,
///                                  flattened (D = channels·side·side), batch norm in training
///                                  mode (batch statistics, so images interact)
/// Σ = corrcoef(J_1 … J_n)          [n, n] correlations between images
/// jacob_cov = −Σ_j [ log(λ_j + k) + 1/(λ_j + k) ],  λ_j the eigenvalues of Σ, k = 1e-5
/// ```
///
/// computed as `−(log det(Σ + kI) + tr (Σ + kI)⁻¹)` by a Cholesky factorisation, which is the
/// same sum. Higher is better (correlations near 0, eigenvalues near 1).
///
/// - `batch.images`: `[batch, input_channels, resolution, resolution]`, batch ≥ 2
/// - returns: the score; `−∞` when an image's Jacobian is constant (all zero, e.g. a cell
///   whose output is disconnected from its input), where the correlation is undefined (the
///   reference implementation returns NaN there). `−∞` ranks last.
pub fn jacob_cov<B: AutodiffBackend>(
    network: &Nb201Network<B>,
    batch: &Minibatch<B>,
) -> Result<f64> {
    let n = batch.len();
    if n < 2 {
        return Err(ProxyError::BatchTooSmall {
            proxy: Proxy::JacobCov,
            batch: n,
            min: 2,
        });
    }
    let input = batch.images.clone().detach().require_grad();
    let [_, channels, height, width] = input.dims();
    let d = channels * height * width;
    let output = network.forward_mode(input.clone(), BnMode::Train);
    let grads = output.sum().backward();
    let jacobian: Vec<f64> = match input.grad(&grads) {
        Some(g) => g.into_data().iter::<f64>().collect(),
        None => vec![0.0; n * d],
    };
    if jacobian.iter().any(|v| !v.is_finite()) {
        return Err(non_finite());
    }
    let Some(corr) = row_correlations(&jacobian, n, d) else {
        return Ok(f64::NEG_INFINITY);
    };
    let shifted: Vec<f64> = corr
        .iter()
        .enumerate()
        .map(|(i, &c)| if i % (n + 1) == 0 { c + JACOB_COV_K } else { c })
        .collect();
    let (log_det, inverse_trace) = log_det_and_inverse_trace(&shifted, n).ok_or_else(non_finite)?;
    Ok(-(log_det + inverse_trace))
}

fn non_finite() -> ProxyError {
    ProxyError::NonFinite {
        proxy: Proxy::JacobCov,
        value: f64::NAN,
        fix: "the input Jacobians are not finite: check that the images are finite and \
              normalised",
    }
}
