//! One entry point: build the network for a cell and compute the proxies asked for.

use burn::module::AutodiffModule;
use burn::tensor::backend::AutodiffBackend;
use search_space::Nb201Arch;

use super::config::ProxyConfig;
use super::cost::{flops, params};
use super::error::Result;
use super::grad_norm::grad_norm;
use super::jacob_cov::jacob_cov;
use super::minibatch::Minibatch;
use super::naswot::naswot;
use super::proxy::Proxy;
use super::snip::snip;
use super::synflow::synflow;

/// Scores `arch` with each of `proxies` on `batch`: builds the untrained network of `config`
/// for the batch's images and classes once (weights from `config.seed`), then computes each
/// proxy on it. The values are in the order of `proxies`; each is independent of which other
/// proxies are asked for and in which order.
///
/// ```
/// use burn::backend::{Autodiff, Flex};
/// use datasets::Images;
/// use meta_predictor::proxies::{score_arch, Minibatch, Proxy, ProxyConfig};
/// use search_space::Nb201Arch;
///
/// type B = Autodiff<Flex>;
/// let images = Images {
///     data: (0..8 * 64).map(|i| ((i * 37 % 17) as f32 - 8.0) / 8.0).collect(),
///     labels: vec![0, 1, 0, 1, 0, 1, 0, 1],
///     channels: 1,
///     height: 8,
///     width: 8,
/// };
/// let batch = Minibatch::<B>::draw(&images, 2, 8, 0, &Default::default())?;
/// let arch = Nb201Arch::from_index(123).unwrap();
/// let config = ProxyConfig::new().with_channels(4);
/// let scores = score_arch(arch, &[Proxy::Synflow, Proxy::Params], &batch, &config)?;
/// assert!(scores[0] > 0.0 && scores[1] > 0.0);
/// # Ok::<(), meta_predictor::proxies::ProxyError>(())
/// ```
pub fn score_arch<B: AutodiffBackend>(
    arch: Nb201Arch,
    proxies: &[Proxy],
    batch: &Minibatch<B>,
    config: &ProxyConfig,
) -> Result<Vec<f64>> {
    let network = config
        .network(arch, batch)?
        .init::<B>(&batch.images.device());
    let macro_config = config.macro_config(batch);
    proxies
        .iter()
        .map(|proxy| match proxy {
            Proxy::Synflow => synflow(&network),
            Proxy::Naswot => naswot(&network.valid(), &batch.inner()),
            Proxy::JacobCov => jacob_cov(&network, batch),
            Proxy::Snip => snip(&network, batch),
            Proxy::GradNorm => grad_norm(&network, batch),
            Proxy::Params => Ok(params(&arch, &macro_config)),
            Proxy::Flops => Ok(flops(&arch, &macro_config)),
        })
        .collect()
}
