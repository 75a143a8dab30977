//! [`Proxy`]: the names of the zero-cost proxies.

use std::fmt;
use std::str::FromStr;

/// A zero-cost proxy: a score of an untrained network computed from one minibatch (or from the
/// architecture alone), higher meaning "predicted better". Its textual form is the name the
/// zero-cost literature uses (`synflow`, `naswot`, `jacob_cov`, `snip`, `grad_norm`, `params`,
/// `flops`).
///
/// ```
/// use meta_predictor::proxies::Proxy;
/// let p: Proxy = "jacob_cov".parse().unwrap();
/// assert_eq!(p, Proxy::JacobCov);
/// assert_eq!(p.to_string(), "jacob_cov");
/// assert!("synflow2".parse::<Proxy>().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Proxy {
    /// Synaptic flow (Tanaka et al., NeurIPS 2020), see [`synflow`](super::synflow()).
    Synflow,
    /// NASWOT, the log-determinant of the ReLU activation-pattern kernel (Mellor et al.,
    /// ICML 2021), see [`naswot`](super::naswot()).
    Naswot,
    /// The input-Jacobian correlation score (Mellor et al., arXiv:2006.04647 v1), see
    /// [`jacob_cov`](super::jacob_cov()).
    JacobCov,
    /// SNIP connection sensitivity (Lee et al., ICLR 2019), see [`snip`](super::snip()).
    Snip,
    /// Sum of per-layer gradient norms (Abdelfattah et al., ICLR 2021), see
    /// [`grad_norm`](super::grad_norm()).
    GradNorm,
    /// Trainable parameters of the macro network (from [`search_space::cost`]).
    Params,
    /// Multiply-adds per image of the macro network (from [`search_space::cost`]).
    Flops,
}

impl Proxy {
    /// Every proxy, in declaration order.
    pub const ALL: [Proxy; 7] = [
        Proxy::Synflow,
        Proxy::Naswot,
        Proxy::JacobCov,
        Proxy::Snip,
        Proxy::GradNorm,
        Proxy::Params,
        Proxy::Flops,
    ];

    /// The proxy's name (its [`Display`](fmt::Display) form).
    pub const fn name(self) -> &'static str {
        match self {
            Proxy::Synflow => "synflow",
            Proxy::Naswot => "naswot",
            Proxy::JacobCov => "jacob_cov",
            Proxy::Snip => "snip",
            Proxy::GradNorm => "grad_norm",
            Proxy::Params => "params",
            Proxy::Flops => "flops",
        }
    }

    /// Whether the proxy looks at the minibatch's images (`params` and `flops` do not, and
    /// `synflow` uses only their shape).
    pub const fn uses_images(self) -> bool {
        matches!(
            self,
            Proxy::Naswot | Proxy::JacobCov | Proxy::Snip | Proxy::GradNorm
        )
    }

    /// Whether the proxy needs gradients (an autodiff backend).
    pub const fn needs_gradients(self) -> bool {
        matches!(
            self,
            Proxy::Synflow | Proxy::JacobCov | Proxy::Snip | Proxy::GradNorm
        )
    }
}

impl fmt::Display for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A proxy name that is not one of [`Proxy::ALL`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown proxy `{0}`; expected one of synflow, naswot, jacob_cov, snip, grad_norm, params, flops")]
pub struct UnknownProxy(pub String);

impl FromStr for Proxy {
    type Err = UnknownProxy;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Proxy::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| UnknownProxy(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for p in Proxy::ALL {
            assert_eq!(p.to_string().parse::<Proxy>(), Ok(p));
        }
    }

    #[test]
    fn unknown_name_is_an_error_that_lists_the_names() {
        let err = "logsynflow".parse::<Proxy>().unwrap_err();
        assert!(err.to_string().contains("synflow, naswot"), "{err}");
    }
}
