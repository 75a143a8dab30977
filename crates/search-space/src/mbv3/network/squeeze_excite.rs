//! Squeeze-and-excite with an h-sigmoid gate (OFA's `SEModule`).

use burn::config::Config;
use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::activation::relu;
use burn::tensor::{backend::Backend, Tensor};

use super::activation::hard_sigmoid;
use crate::network::init::{linear, mix};

/// Configuration of a [`SqueezeExcite`].
#[derive(Config, Debug)]
pub struct SqueezeExciteConfig {
    /// Channels of the input (and output).
    pub channels: usize,
    /// Channels of the squeezed code (OFA: `make_divisible(channels / 4, 8)`).
    pub squeezed: usize,
    /// Seed of the weights' random streams.
    #[config(default = 0)]
    pub seed: u64,
}

/// Squeeze-and-excite: global average pool → 1×1 conv `C → S` (bias) → ReLU → 1×1 conv
/// `S → C` (bias) → h-sigmoid, and the input scaled channel-wise by that gate. The 1×1 convs
/// act on a 1×1 map, so they are linear layers here (same parameters, same function).
#[derive(Module, Debug)]
pub struct SqueezeExcite<B: Backend> {
    /// The squeeze, `C → S`, with bias.
    pub reduce: Linear<B>,
    /// The excitation, `S → C`, with bias.
    pub expand: Linear<B>,
}

impl SqueezeExciteConfig {
    /// Builds the module; weights and biases `U(±1/√fan_in)` from the stream [`Self::seed`].
    pub fn init<B: Backend>(&self, device: &B::Device) -> SqueezeExcite<B> {
        SqueezeExcite {
            reduce: linear(
                self.channels,
                self.squeezed,
                true,
                mix(self.seed, 0),
                device,
            ),
            expand: linear(
                self.squeezed,
                self.channels,
                true,
                mix(self.seed, 1),
                device,
            ),
        }
    }
}

impl<B: Backend> SqueezeExcite<B> {
    /// - `input`: `[batch, channels, height, width]`
    /// - output: `[batch, channels, height, width]`
    pub fn forward(&self, input: Tensor<B, 4>) -> Tensor<B, 4> {
        let [batch, channels, height, width] = input.dims();
        let pooled = input
            .clone()
            .reshape([batch, channels, height * width])
            .mean_dim(2)
            .reshape([batch, channels]);
        let gate = hard_sigmoid(self.expand.forward(relu(self.reduce.forward(pooled))));
        // A [batch, channels, 1, 1] factor, not [1, channels, 1, 1]: broadcasting over the batch
        // is a slow path on the flex backend.
        input * gate.reshape([batch, channels, 1, 1])
    }
}
