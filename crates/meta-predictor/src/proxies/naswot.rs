//! NASWOT (Mellor, Turner, Storkey and Crowley, "Neural Architecture Search without
//! Training", ICML 2021): the log-determinant of the kernel of ReLU activation patterns.

use burn::tensor::backend::Backend;
use burn::tensor::Tensor;
use search_space::network::BnMode;
use search_space::Nb201Network;

use super::error::{ProxyError, Result};
use super::linalg::log_abs_det;
use super::minibatch::Minibatch;
use super::proxy::Proxy;

/// NASWOT score of `network` on `batch`'s images:
///
/// ```text
/// c_i ∈ {0,1}^U      binary code of image i: [pre-activation > 0] at every unit of every
///                    ReLU of the network, concatenated (U units in all)
/// K_ij = U − d_H(c_i, c_j)       (= c_iᵀc_j + (1−c_i)ᵀ(1−c_j), the paper's K_H)
/// naswot = log |det K|           (numpy's slogdet)
/// ```
///
/// with batch norm using batch statistics (the network in training mode, as the paper's code
/// scores it). The ReLUs are those of every `nor_conv_*` edge of every cell, both halves of
/// each reduction block, and the final one before pooling
/// ([`Nb201Network::forward_observed`]). The paper's code counts the ReLUs its backward pass
/// visits; in NAS-Bench-201's cells a `none` edge multiplies by 0, which keeps every node in
/// the graph, so that is every ReLU, including those of conv edges whose output the cell
/// discards (they see the cell's input, or zeros for a node with no live input). The labels are
/// not used.
///
/// The kernel is computed from the Gram matrix of the codes (see [`activation_kernel`]).
///
/// - `batch.images`: `[batch, input_channels, resolution, resolution]`, batch ≥ 2
/// - returns: `log |det K|`, `K: [batch, batch]`; `−∞` when `K` is singular, i.e. the network
///   gives two images of the batch the same code everywhere (it cannot tell them apart: e.g. a
///   duplicated image, or the all-`none` cell, whose network has ReLUs only after its cells
///   have zeroed the input). `−∞` ranks last.
///
/// Like a training step, the forward pass updates the batch norms' running statistics (which no
/// proxy reads).
pub fn naswot<B: Backend>(network: &Nb201Network<B>, batch: &Minibatch<B>) -> Result<f64> {
    let n = batch.len();
    if n < 2 {
        return Err(ProxyError::BatchTooSmall {
            proxy: Proxy::Naswot,
            batch: n,
            min: 2,
        });
    }
    let kernel = activation_kernel(network, batch.images.clone());
    let score = log_abs_det(&kernel, n);
    if score.is_nan() || score == f64::INFINITY {
        return Err(ProxyError::NonFinite {
            proxy: Proxy::Naswot,
            value: score,
            fix: "the activations are not finite: check that the images are finite and \
                  normalised",
        });
    }
    Ok(score)
}

/// The NASWOT kernel, row-major `[batch, batch]`:
///
/// ```text
/// C = [c_1; …; c_n] ∈ {0,1}^{n×U},  G = C Cᵀ   (agreements on 1s; G_ii = number of 1s of c_i)
/// K_ij = U − G_ii − G_jj + 2 G_ij               (= c_iᵀc_j + (1−c_i)ᵀ(1−c_j))
/// ```
///
/// `G` is accumulated on the backend one ReLU at a time (`[batch, U_r] · [U_r, batch]`) and read
/// once; its entries are integers, exact in `f32` while `U ≤ 2²⁴` (about 16.7 M units per
/// image; NAS-Bench-201's full network at 32×32 has under 1 M). Past that the accumulator is
/// read into `f64` and restarted (only a single ReLU of more than 2²⁴ units per image would be
/// inexact).
///
/// - `images`: `[batch, input_channels, resolution, resolution]`
pub fn activation_kernel<B: Backend>(network: &Nb201Network<B>, images: Tensor<B, 4>) -> Vec<f64> {
    /// Largest count of units an `f32` accumulator holds exactly.
    const EXACT_F32: usize = 1 << 24;
    let n = images.dims()[0];
    // Units in the f32 accumulator, and in all.
    let (mut units, mut total) = (0usize, 0usize);
    let mut gram: Option<Tensor<B, 2>> = None;
    let mut spilled = vec![0.0f64; n * n];
    let _ = network.forward_observed(images, BnMode::Train, &mut |pre: &Tensor<B, 4>| {
        let [batch, channels, height, width] = pre.dims();
        let relu_units = channels * height * width;
        let codes = pre
            .clone()
            .reshape([batch, relu_units])
            .greater_elem(0.0)
            .float();
        let part = codes.clone().matmul(codes.transpose());
        if units + relu_units > EXACT_F32 {
            if let Some(g) = gram.take() {
                add_into(&mut spilled, g);
            }
            units = 0;
        }
        units += relu_units;
        total += relu_units;
        gram = Some(match gram.take() {
            Some(g) => g + part,
            None => part,
        });
    });
    if let Some(g) = gram {
        add_into(&mut spilled, g);
    }
    let total = total as f64;
    let diagonal: Vec<f64> = (0..n).map(|i| spilled[i * (n + 1)]).collect();
    let mut kernel = spilled;
    for i in 0..n {
        for j in 0..n {
            kernel[i * n + j] = total - diagonal[i] - diagonal[j] + 2.0 * kernel[i * n + j];
        }
    }
    kernel
}

/// Adds the `[n, n]` tensor `g` into the row-major `acc`.
fn add_into<B: Backend>(acc: &mut [f64], g: Tensor<B, 2>) {
    for (a, v) in acc.iter_mut().zip(g.into_data().iter::<f64>()) {
        *a += v;
    }
}
