//! [`FeatureCnn`]: the small convolutional network whose embedding serves as image features.

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{backend::Backend, Tensor};

use crate::error::{Result, SetEncoderError};
use crate::init::{linear, mix, seed_conv};

/// Configuration of a [`FeatureCnn`].
#[derive(Config, Debug)]
pub struct FeatureCnnConfig {
    /// Side of the square grayscale input (at least 8: three 2× poolings).
    #[config(default = 28)]
    pub resolution: usize,
    /// Output channels of the three 3×3 convolutions.
    #[config(default = "[16, 32, 64]")]
    pub widths: [usize; 3],
    /// Width of the embedding (the features it extracts).
    #[config(default = 64)]
    pub embedding_dim: usize,
    /// Seed of the initial weights.
    #[config(default = 0)]
    pub seed: u64,
}

/// Three conv blocks and a linear layer: a grayscale image → a `embedding_dim` vector.
///
/// ```text
/// [batch, 1, R, R]
///   → Conv3×3(1→w0) → ReLU → MaxPool2   [batch, w0, R/2, R/2]
///   → Conv3×3(w0→w1) → ReLU → MaxPool2  [batch, w1, R/4, R/4]
///   → Conv3×3(w1→w2) → ReLU → MaxPool2  [batch, w2, R/8, R/8]   (sizes rounded down)
///   → flatten → Linear → ReLU           [batch, embedding_dim]
/// ```
///
/// No batch norm: on the flex CPU backend it dominates training time (see `burn-notes`), and a
/// network this shallow trains well without it.
#[derive(Module, Debug)]
pub struct FeatureCnn<B: Backend> {
    /// The three convolutions (3×3, padding 1, with bias).
    pub convs: Vec<Conv2d<B>>,
    /// 2×2 max pooling after each convolution.
    pub pool: MaxPool2d,
    /// Flattened last feature map → embedding.
    pub embed: Linear<B>,
    /// Side of the expected input.
    pub resolution: usize,
}

impl FeatureCnnConfig {
    /// Side of the last feature map.
    fn final_side(&self) -> usize {
        self.resolution / 8
    }

    /// Checks that the configuration can build a network.
    pub fn validate(&self) -> Result<()> {
        if self.resolution < 8 {
            return Err(SetEncoderError::ZeroSize {
                what: "resolution / 8",
            });
        }
        if self.widths.contains(&0) {
            return Err(SetEncoderError::ZeroSize { what: "widths" });
        }
        if self.embedding_dim == 0 {
            return Err(SetEncoderError::ZeroSize {
                what: "embedding_dim",
            });
        }
        Ok(())
    }

    /// Builds the network, or says why the configuration cannot.
    pub fn try_init<B: Backend>(&self, device: &B::Device) -> Result<FeatureCnn<B>> {
        self.validate()?;
        let inputs = [1, self.widths[0], self.widths[1]];
        let convs = inputs
            .iter()
            .zip(self.widths)
            .enumerate()
            .map(|(i, (&cin, cout))| {
                let conv = Conv2dConfig::new([cin, cout], [3, 3])
                    .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                    .init(device);
                seed_conv(conv, mix(self.seed, i as u64), device)
            })
            .collect();
        let side = self.final_side();
        Ok(FeatureCnn {
            convs,
            pool: MaxPool2dConfig::new([2, 2]).init(),
            embed: linear(
                self.widths[2] * side * side,
                self.embedding_dim,
                mix(self.seed, 3),
                device,
            ),
            resolution: self.resolution,
        })
    }

    /// Builds the network.
    ///
    /// # Panics
    /// If the configuration is invalid (see [`validate`](Self::validate)).
    pub fn init<B: Backend>(&self, device: &B::Device) -> FeatureCnn<B> {
        self.try_init(device)
            .unwrap_or_else(|e| panic!("invalid FeatureCnnConfig: {e}"))
    }
}

impl<B: Backend> FeatureCnn<B> {
    /// Width of the embedding.
    pub fn embedding_dim(&self) -> usize {
        self.embed.weight.shape().dims::<2>()[1]
    }

    /// - `images`: `[batch, 1, resolution, resolution]`
    /// - output: `[batch, embedding_dim]`, non-negative (after a ReLU)
    pub fn forward(&self, images: Tensor<B, 4>) -> Tensor<B, 2> {
        let [batch, channels, height, width] = images.dims();
        assert_eq!(channels, 1, "FeatureCnn takes grayscale images");
        assert_eq!(
            [height, width],
            [self.resolution, self.resolution],
            "FeatureCnn input side"
        );
        let maps = self
            .convs
            .iter()
            .fold(images, |x, conv| self.pool.forward(relu(conv.forward(x))));
        let flat = maps.flatten::<2>(1, 3);
        let out = relu(self.embed.forward(flat));
        assert_eq!(
            out.dims(),
            [batch, self.embedding_dim()],
            "FeatureCnn output"
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;

    #[test]
    fn shapes_and_sizes() {
        let device = Default::default();
        let cnn = FeatureCnnConfig::new().init::<Flex>(&device);
        let out = cnn.forward(Tensor::zeros([3, 1, 28, 28], &device));
        assert_eq!(out.dims(), [3, 64]);
        // 160 + 4,640 + 18,496 conv parameters, 576·64 + 64 embedding parameters.
        assert_eq!(cnn.num_params(), 160 + 4_640 + 18_496 + 36_928);
        let small = FeatureCnnConfig::new()
            .with_resolution(16)
            .init::<Flex>(&device);
        assert_eq!(
            small.forward(Tensor::zeros([1, 1, 16, 16], &device)).dims(),
            [1, 64]
        );
        assert!(FeatureCnnConfig::new()
            .with_resolution(7)
            .validate()
            .is_err());
    }
}
