//! [`Probe`]: the fixed input every zoo network is shown to get its functional embedding.
//!
//! TANS feeds each network one fixed noise image and keeps its 1536-d penultimate features.
//! Our zoo's networks differ in input channels (1 or 3), resolution (8–32 px) and classes
//! (5–20), so the probe must mean the same thing to all of them and the embedding must not
//! depend on the class count:
//!
//! - **the probe** is `images` seeded patterns defined on the continuous square `[0, 1)²`, each
//!   channel a sum of [`WAVES`] random plane waves (frequencies up to [`MAX_CYCLES`] cycles per
//!   image, random phases and amplitudes), rasterised at pixel centres for the network's
//!   resolution and standardised (zero mean, unit variance per image and channel, like the
//!   zoo's normalised inputs). The same pattern at every resolution, low-frequency enough to
//!   survive 8 px; a 1-channel network sees the mean of the three channels (what the tasks' own
//!   RGB→gray conversion does, up to weights), standardised again;
//! - **the embedding** is the network's penultimate features (after the final batch norm and
//!   ReLU, global-average-pooled: `4C` values, 32 for the zoo's C = 8), with batch norm in
//!   inference mode, as their mean and standard deviation over the probe images: `2·4C` values
//!   that do not depend on the classifier, hence not on the class count.

use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use search_space::network::BnMode;
use search_space::Nb201Network;
use serde::{Deserialize, Serialize};

use super::error::{Result, TansError};

/// Plane waves per probe channel.
pub const WAVES: usize = 4;
/// Largest frequency of a wave, in cycles per image side.
pub const MAX_CYCLES: f64 = 3.0;

/// The probe: how many images and the seed of their patterns (recorded in the bundle).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Probe {
    /// Probe images (at least 2: the embedding holds their standard deviation).
    pub images: usize,
    /// Seed of the patterns.
    pub seed: u64,
}

impl Default for Probe {
    fn default() -> Self {
        Self {
            images: 16,
            seed: 0x7a45,
        }
    }
}

/// One wave: frequency (cycles per side) along x and y, phase, amplitude.
type Wave = (f64, f64, f64, f64);

impl Probe {
    /// Checks the probe.
    pub fn check(&self) -> Result<()> {
        if self.images < 2 {
            return Err(TansError::Option {
                name: "probe.images",
                value: self.images.to_string(),
                fix: "the functional embedding holds the spread over the probe: use at least 2",
            });
        }
        Ok(())
    }

    fn waves(&self) -> Vec<[Vec<Wave>; 3]> {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        (0..self.images)
            .map(|_| {
                std::array::from_fn(|_| {
                    (0..WAVES)
                        .map(|_| {
                            (
                                rng.random_range(-MAX_CYCLES..=MAX_CYCLES),
                                rng.random_range(-MAX_CYCLES..=MAX_CYCLES),
                                rng.random_range(0.0..std::f64::consts::TAU),
                                rng.random_range(0.25..1.0),
                            )
                        })
                        .collect()
                })
            })
            .collect()
    }

    /// The probe rasterised for a network's input: `[images, channels, side, side]` values,
    /// row-major. `channels` is 1 (the mean of the three pattern channels) or 3.
    pub fn pixels(&self, channels: usize, side: usize) -> Result<Vec<f32>> {
        self.check()?;
        if !(channels == 1 || channels == 3) || side == 0 {
            return Err(TansError::Data(format!(
                "the probe is drawn for 1 or 3 channels at a positive resolution, not {channels} \
                 channels at {side} px"
            )));
        }
        let mut out = Vec::with_capacity(self.images * channels * side * side);
        for waves in self.waves() {
            let planes: Vec<Vec<f64>> = waves
                .iter()
                .map(|ws| {
                    let mut plane = Vec::with_capacity(side * side);
                    for i in 0..side {
                        let y = (i as f64 + 0.5) / side as f64;
                        for j in 0..side {
                            let x = (j as f64 + 0.5) / side as f64;
                            plane.push(
                                ws.iter()
                                    .map(|&(fx, fy, phase, amp)| {
                                        amp * (std::f64::consts::TAU * (fx * x + fy * y) + phase)
                                            .sin()
                                    })
                                    .sum(),
                            );
                        }
                    }
                    plane
                })
                .collect();
            let planes = if channels == 1 {
                vec![(0..side * side)
                    .map(|p| planes.iter().map(|c| c[p]).sum::<f64>() / 3.0)
                    .collect()]
            } else {
                planes
            };
            for plane in planes {
                let n = plane.len() as f64;
                let mean = plane.iter().sum::<f64>() / n;
                let std = (plane.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
                out.extend(plane.iter().map(|v| ((v - mean) / std.max(1e-6)) as f32));
            }
        }
        Ok(out)
    }

    /// The functional embedding of `network`: mean then standard deviation over the probe of
    /// its pooled penultimate features (`2 · 4C` values), batch norm in inference mode.
    pub fn embed<B: Backend>(&self, network: &Nb201Network<B>) -> Result<Vec<f32>> {
        let (channels, side) = (network.input_channels, network.resolution);
        let pixels = self.pixels(channels, side)?;
        let device = network.classifier.weight.device();
        let input = Tensor::<B, 4>::from_data(
            TensorData::new(pixels, [self.images, channels, side, side]),
            &device,
        );
        let mut last = None;
        let _ = network.forward_observed(input, BnMode::Eval, &mut |t: &Tensor<B, 4>| {
            last = Some(t.clone())
        });
        let last = last.ok_or_else(|| TansError::Data("the network observed no layer".into()))?;
        let [n, width, h, w] = last.dims();
        let pooled: Vec<f32> = burn::tensor::activation::relu(last)
            .reshape([n, width, h * w])
            .mean_dim(2)
            .into_data()
            .to_vec()
            .map_err(|e| TansError::Data(format!("reading the probe's features: {e:?}")))?;
        let mut out = vec![0f32; 2 * width];
        for k in 0..width {
            let column: Vec<f64> = (0..n).map(|i| f64::from(pooled[i * width + k])).collect();
            let mean = column.iter().sum::<f64>() / n as f64;
            let var = column.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64;
            out[k] = mean as f32;
            out[width + k] = var.sqrt() as f32;
        }
        if out.iter().any(|v| !v.is_finite()) {
            return Err(TansError::Data(
                "the network's response to the probe is not finite: its weights are broken".into(),
            ));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_is_seeded_standardised_and_the_same_pattern_at_every_size() {
        let probe = Probe::default();
        let a = probe.pixels(3, 16).unwrap();
        assert_eq!(a, probe.pixels(3, 16).unwrap());
        assert_ne!(a, Probe { seed: 1, ..probe }.pixels(3, 16).unwrap());
        assert_eq!(a.len(), 16 * 3 * 256);
        for plane in a.chunks(256) {
            let mean = plane.iter().sum::<f32>() / 256.0;
            assert!(mean.abs() < 1e-4, "{mean}");
        }
        // A 32-px raster averaged 2×2 is close to the 16-px raster of the same pattern.
        let big = probe.pixels(1, 32).unwrap();
        let small = probe.pixels(1, 16).unwrap();
        let mut diff = 0.0f32;
        for i in 0..16 {
            for j in 0..16 {
                let b = (big[(2 * i) * 32 + 2 * j]
                    + big[(2 * i) * 32 + 2 * j + 1]
                    + big[(2 * i + 1) * 32 + 2 * j]
                    + big[(2 * i + 1) * 32 + 2 * j + 1])
                    / 4.0;
                diff += (b - small[i * 16 + j]).abs();
            }
        }
        assert!(diff / 256.0 < 0.1, "mean |Δ| {}", diff / 256.0);
        assert!(Probe { images: 1, ..probe }.pixels(1, 8).is_err());
        assert!(probe.pixels(2, 8).is_err());
    }
}
