//! Seeded, backend-independent parameter initialisation.
//!
//! Burn's initialisers draw from the backend's global random state, shared by every thread and
//! different on every backend. Here each parameter tensor gets its own stream, derived from the
//! module's seed and the parameter's role by [`mix`], and its values are generated on the host
//! with SplitMix64: the same config gives the same weights on every backend and thread.
//! The seed mixing and uniform streams are `search_space::network::init`'s, shared.
//!
//! The distributions are PyTorch's, as the reference code gets them: `nn.Linear` and `nn.Conv2d`
//! draw weight and bias from `U(-1/√fan_in, 1/√fan_in)`; PMA seeds and ISAB inducing points use
//! `xavier_uniform_`.

use burn::nn::conv::Conv2d;
use burn::nn::Linear;
use burn::tensor::backend::Backend;

pub(crate) use search_space::network::init::{mix, uniform_param};

/// Xavier-uniform bound of a PyTorch tensor of `shape` (`fan_in = shape[1]·receptive`,
/// `fan_out = shape[0]·receptive`, receptive = product of the remaining dims).
pub(crate) fn xavier_bound(shape: &[usize]) -> f32 {
    let receptive: usize = shape[2..].iter().product();
    let fan_in = shape[1] * receptive;
    let fan_out = shape[0] * receptive;
    (6.0 / (fan_in + fan_out) as f32).sqrt()
}

/// A Burn linear layer `d_input → d_output` with PyTorch's default initialisation, seeded.
pub(crate) fn linear<B: Backend>(
    d_input: usize,
    d_output: usize,
    seed: u64,
    device: &B::Device,
) -> Linear<B> {
    search_space::network::init::linear(d_input, d_output, true, seed, device)
}

/// Re-draws the weight and bias of `conv` with PyTorch's default initialisation, seeded.
pub(crate) fn seed_conv<B: Backend>(
    mut conv: Conv2d<B>,
    seed: u64,
    device: &B::Device,
) -> Conv2d<B> {
    let shape = conv.weight.shape().dims::<4>();
    let fan_in = shape[1] * shape[2] * shape[3];
    let bound = 1.0 / (fan_in as f32).sqrt();
    conv.weight = uniform_param(shape, bound, mix(seed, 0), device);
    if conv.bias.is_some() {
        conv.bias = Some(uniform_param([shape[0]], bound, mix(seed, 1), device));
    }
    conv
}

#[cfg(test)]
mod tests {
    use super::*;
    use search_space::network::init::uniform_values;

    #[test]
    fn uniform_values_are_deterministic_and_in_range() {
        let a = uniform_values(1000, 0.25, 7);
        assert_eq!(a, uniform_values(1000, 0.25, 7));
        assert_ne!(a, uniform_values(1000, 0.25, 8));
        assert!(a.iter().all(|v| (-0.25..0.25).contains(v)));
    }

    #[test]
    fn xavier_matches_pytorch_fans() {
        // PMA seed [1, 1, 56]: fan_in = 56, fan_out = 56.
        assert!((xavier_bound(&[1, 1, 56]) - (6.0f32 / 112.0).sqrt()).abs() < 1e-7);
        // ISAB inducing points [1, 32, 56]: fan_in = 32·56, fan_out = 56.
        assert!((xavier_bound(&[1, 32, 56]) - (6.0f32 / (33.0 * 56.0)).sqrt()).abs() < 1e-7);
    }

    #[test]
    fn mix_separates_tags_and_seeds() {
        assert_ne!(mix(1, 0), mix(1, 1));
        assert_ne!(mix(1, 0), mix(2, 0));
    }
}
