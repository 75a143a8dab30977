//! [`PixelExtractor`]: resized raw pixels as features, and [`gray_planes`], the shared
//! preprocessing that brings any [`Images`] to one square grayscale plane per image.

use crate::features::{check_images, ExtractError, FeatureExtractor, Features};
use crate::gray::SourceImage;
use crate::images::Images;
use crate::resize::resize;

/// One `side × side` grayscale plane per image, `[n, side, side]` row-major.
///
/// Channels are averaged (tasks store gray repeated as RGB, so this recovers the gray plane),
/// then each plane is resized with [`resize`] (area averaging down, bilinear up). Values keep
/// the images' normalisation: both steps are weighted averages.
///
/// # Panics
/// If `images.data` is not `n × channels × height × width` long (see
/// [`check_images`]).
pub fn gray_planes(images: &Images, side: usize) -> Vec<f32> {
    let (c, h, w) = (images.channels, images.height, images.width);
    let plane = h * w;
    let mut out = Vec::with_capacity(images.len() * side * side);
    for i in 0..images.len() {
        let image = images.image(i);
        let pixels = if c == 1 {
            image.to_vec()
        } else {
            let scale = 1.0 / c as f32;
            (0..plane)
                .map(|p| (0..c).map(|ch| image[ch * plane + p]).sum::<f32>() * scale)
                .collect()
        };
        let gray = SourceImage::gray(w, h, pixels);
        out.extend(resize(&gray, side, side).pixels);
    }
    out
}

/// Features made of the image itself: channels averaged, resized to `side × side`, flattened
/// (`dim = side²`).
///
/// The baseline extractor: no learning, no Burn, identical on every machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PixelExtractor {
    side: usize,
}

impl PixelExtractor {
    /// Default side: 16, so 256 features per image.
    pub const DEFAULT_SIDE: usize = 16;

    /// Pixels resized to `side × side`.
    ///
    /// # Panics
    /// If `side` is 0.
    pub fn new(side: usize) -> Self {
        assert!(side > 0, "PixelExtractor side must be positive");
        Self { side }
    }

    /// The side images are resized to.
    pub fn side(&self) -> usize {
        self.side
    }
}

impl Default for PixelExtractor {
    fn default() -> Self {
        Self::new(Self::DEFAULT_SIDE)
    }
}

impl FeatureExtractor for PixelExtractor {
    fn id(&self) -> String {
        format!("pixels-v1-{0}x{0}", self.side)
    }

    fn dim(&self) -> usize {
        self.side * self.side
    }

    fn extract(&self, images: &Images) -> Result<Features, ExtractError> {
        check_images(images, &self.id())?;
        Ok(Features {
            data: gray_planes(images, self.side),
            labels: images.labels.clone(),
            dim: self.dim(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn averages_channels_and_resizes() {
        // Two 2×2 images with 2 channels; image 1's channels differ.
        let images = Images {
            data: vec![
                1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, // image 0: all ones
                0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, // image 1: mean 0.5
            ],
            labels: vec![4, 2],
            channels: 2,
            height: 2,
            width: 2,
        };
        let features = PixelExtractor::new(1).extract(&images).unwrap();
        assert_eq!(features.dim, 1);
        assert_eq!(features.data, vec![1.0, 0.5]);
        assert_eq!(features.labels, vec![4, 2]);
        let same = PixelExtractor::new(2).extract(&images).unwrap();
        assert_eq!(same.data, vec![1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5]);
    }

    #[test]
    fn id_names_the_options() {
        assert_eq!(PixelExtractor::default().id(), "pixels-v1-16x16");
        assert_eq!(PixelExtractor::default().dim(), 256);
        assert_ne!(PixelExtractor::new(8).id(), PixelExtractor::new(16).id());
    }

    #[test]
    fn bad_buffers_are_errors_not_panics() {
        let images = Images {
            data: vec![0.0; 3],
            labels: vec![0],
            channels: 1,
            height: 2,
            width: 2,
        };
        assert!(matches!(
            PixelExtractor::default().extract(&images),
            Err(ExtractError::BadImages { .. })
        ));
    }
}
