//! Seeded, backend-independent parameter initialisation.
//!
//! Burn's initialisers draw from the backend's global random state, which is shared by every
//! thread of a process and differs between backends. Here every parameter tensor gets its own
//! random stream, derived from the network seed and the parameter's position by [`mix`], and
//! its values are generated on the host with SplitMix64: the same seed gives the same weights on
//! every backend, in every thread, forever (no dependence on a `rand` version).
//!
//! Parameters are lazy ([`Param::uninitialized`]): building a network allocates nothing until a
//! parameter is first used, so networks are cheap to construct and inspect.

use burn::module::{Param, ParamId};
use burn::tensor::{backend::Backend, Tensor, TensorData};

/// Derives a child seed from `seed` and a `tag` (a position or a role), so that sibling
/// parameters get unrelated streams.
pub fn mix(seed: u64, tag: u64) -> u64 {
    splitmix_finalize(seed ^ splitmix_finalize(tag.wrapping_add(0x632B_E59B_D9B4_E019)))
}

/// The SplitMix64 output function.
fn splitmix_finalize(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// `n` values drawn uniformly from `[-bound, bound)` by the SplitMix64 stream seeded with `seed`.
pub fn uniform_values(n: usize, bound: f32, seed: u64) -> Vec<f32> {
    let mut state = seed;
    (0..n)
        .map(|_| {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            // 24 random bits: exactly representable in f32, uniform on [0, 1).
            let unit = (splitmix_finalize(state) >> 40) as f32 * (1.0 / (1u64 << 24) as f32);
            (2.0 * unit - 1.0) * bound
        })
        .collect()
}

/// A lazy parameter of `shape` drawn uniformly from `[-bound, bound)` with its own stream
/// `seed`. With `bound = 1/√fan_in` this is PyTorch's default for convolutions and linear layers
/// (Kaiming-uniform with `a = √5`), which NAS-Bench-201 uses.
pub fn uniform_param<B: Backend, const D: usize>(
    shape: [usize; D],
    bound: f32,
    seed: u64,
    device: &B::Device,
) -> Param<Tensor<B, D>> {
    Param::uninitialized(
        ParamId::new(),
        move |device, require_grad| {
            let n = shape.iter().product();
            let data = TensorData::new(uniform_values(n, bound, seed), shape);
            let tensor = Tensor::<B, D>::from_data(data, device);
            if require_grad {
                tensor.require_grad()
            } else {
                tensor
            }
        },
        device.clone(),
        true,
        shape.into(),
    )
}

/// A lazy parameter of `shape` filled with `value` (batch-norm γ = 1, β = 0).
pub(crate) fn constant_param<B: Backend, const D: usize>(
    shape: [usize; D],
    value: f32,
    device: &B::Device,
) -> Param<Tensor<B, D>> {
    Param::uninitialized(
        ParamId::new(),
        move |device, require_grad| {
            let tensor = Tensor::<B, D>::full(shape, value, device);
            if require_grad {
                tensor.require_grad()
            } else {
                tensor
            }
        },
        device.clone(),
        true,
        shape.into(),
    )
}

/// A Burn linear layer `d_input → d_output` with PyTorch's default initialisation
/// (`U(-1/√d_input, 1/√d_input)` for weight and bias), seeded: weight stream `mix(seed, 0)`,
/// bias stream `mix(seed, 1)`.
pub fn linear<B: Backend>(
    d_input: usize,
    d_output: usize,
    bias: bool,
    seed: u64,
    device: &B::Device,
) -> burn::nn::Linear<B> {
    let bound = 1.0 / (d_input as f32).sqrt();
    burn::nn::Linear {
        weight: uniform_param([d_input, d_output], bound, mix(seed, 0), device),
        bias: bias.then(|| uniform_param([d_output], bound, mix(seed, 1), device)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_values_are_deterministic_and_in_range() {
        let a = uniform_values(1000, 0.25, 7);
        assert_eq!(a, uniform_values(1000, 0.25, 7));
        assert_ne!(a, uniform_values(1000, 0.25, 8));
        assert!(a.iter().all(|v| (-0.25..0.25).contains(v)));
        let mean = a.iter().sum::<f32>() / a.len() as f32;
        assert!(mean.abs() < 0.02, "mean {mean}");
    }

    #[test]
    fn mix_separates_tags_and_seeds() {
        assert_ne!(mix(1, 0), mix(1, 1));
        assert_ne!(mix(1, 0), mix(2, 0));
        assert_eq!(mix(3, 4), mix(3, 4));
    }
}
