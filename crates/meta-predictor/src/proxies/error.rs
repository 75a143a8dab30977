//! [`ProxyError`]: why a proxy cannot be computed.

use search_space::network::NetworkConfigError;

use super::proxy::Proxy;

/// Why a zero-cost proxy cannot be computed. Each variant names what to change.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ProxyError {
    /// The minibatch is smaller than the proxy needs.
    #[error(
        "{proxy} needs a minibatch of at least {min} images, got {batch}: raise the batch size \
         (ProxyConfig::batch_size)"
    )]
    BatchTooSmall {
        /// The proxy.
        proxy: Proxy,
        /// Images in the minibatch.
        batch: usize,
        /// The smallest batch the proxy accepts.
        min: usize,
    },
    /// More images were asked for than the image set holds.
    #[error(
        "a minibatch of {requested} images was asked for, but the task's split holds only \
         {available}: lower the batch size or use more images per class"
    )]
    NotEnoughImages {
        /// Images asked for.
        requested: usize,
        /// Images available.
        available: usize,
    },
    /// Images that are not square.
    #[error("images are {height}×{width}; the NAS-Bench-201 network takes square images")]
    NotSquare {
        /// Image height.
        height: usize,
        /// Image width.
        width: usize,
    },
    /// A label outside `0..num_classes`.
    #[error("label {label} is outside 0..{num_classes}")]
    Label {
        /// The label.
        label: usize,
        /// Number of classes of the minibatch.
        num_classes: usize,
    },
    /// The minibatch and the network disagree on the input shape.
    #[error(
        "the network takes [_, {expected_channels}, {expected_side}, {expected_side}] inputs, \
         the minibatch is [_, {channels}, {side}, {side}]: build the network from the minibatch \
         (ProxyConfig::network)"
    )]
    Shape {
        /// Network input channels.
        expected_channels: usize,
        /// Network input side.
        expected_side: usize,
        /// Minibatch channels.
        channels: usize,
        /// Minibatch side.
        side: usize,
    },
    /// The network configuration derived from the minibatch is invalid (e.g. a resolution
    /// that is not a multiple of 4).
    #[error("network: {0}")]
    Network(#[from] NetworkConfigError),
    /// A score that is NaN or infinite where a finite value was expected.
    #[error("{proxy} gave {value}: {fix}")]
    NonFinite {
        /// The proxy.
        proxy: Proxy,
        /// The value computed.
        value: f64,
        /// What to change.
        fix: &'static str,
    },
}

/// Result with a [`ProxyError`].
pub type Result<T, E = ProxyError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_too_small_names_the_fix() {
        let e = ProxyError::BatchTooSmall {
            proxy: Proxy::Naswot,
            batch: 1,
            min: 2,
        };
        let text = e.to_string();
        assert!(
            text.contains("naswot") && text.contains("batch size"),
            "{text}"
        );
    }
}
