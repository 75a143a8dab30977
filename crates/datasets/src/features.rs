//! [`FeatureExtractor`]: images in, one feature vector per image out ([`Features`]).
//!
//! The set encoder never sees pixels: a task's images are first mapped to vectors by an
//! extractor. Two ship with metanas: [`PixelExtractor`](crate::PixelExtractor) (resized raw
//! pixels, here) and the small pretrained CNN of the `set-encoder` crate (it needs Burn, which
//! this crate does not depend on). [`FeatureCache`](crate::FeatureCache) remembers the features
//! of recently seen task specs.

use crate::images::Images;

/// Feature vectors of a batch of images: row-major `[n, dim]`, with the images' labels.
#[derive(Clone, Debug, PartialEq)]
pub struct Features {
    /// Values, `[n, dim]` row-major: row `i` describes image `i`.
    pub data: Vec<f32>,
    /// The label of each row (copied from the images).
    pub labels: Vec<usize>,
    /// Length of one feature vector.
    pub dim: usize,
}

impl Features {
    /// Number of rows (images).
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there is no row.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Row `i`, `dim` values.
    ///
    /// # Panics
    /// If `i >= self.len()`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    /// Number of classes, taken as the largest label plus one (0 when empty).
    pub fn num_classes(&self) -> usize {
        self.labels.iter().max().map_or(0, |&l| l + 1)
    }

    /// The rows of each class `0..num_classes()`, in row order: entry `c` is the flat
    /// `[n_c, dim]` block of the rows labelled `c` (empty if no row has label `c`).
    pub fn by_class(&self) -> Vec<Vec<f32>> {
        let mut classes = vec![Vec::new(); self.num_classes()];
        for (i, &label) in self.labels.iter().enumerate() {
            classes[label].extend_from_slice(self.row(i));
        }
        classes
    }
}

/// Why features could not be extracted.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    /// The images' buffer does not hold `n × channels × height × width` values.
    #[error(
        "extractor `{extractor}`: {values} values for {images} images of {channels}×{height}×{width}"
    )]
    BadImages {
        /// The extractor's id.
        extractor: String,
        /// Values in the buffer.
        values: usize,
        /// Number of images (labels).
        images: usize,
        /// Channels per image.
        channels: usize,
        /// Image height.
        height: usize,
        /// Image width.
        width: usize,
    },
    /// An image has no pixel (zero channels, height or width).
    #[error("extractor `{extractor}`: images of {channels}×{height}×{width} have no pixel")]
    EmptyImages {
        /// The extractor's id.
        extractor: String,
        /// Channels per image.
        channels: usize,
        /// Image height.
        height: usize,
        /// Image width.
        width: usize,
    },
    /// The extractor itself failed (e.g. its weights could not be loaded).
    #[error("extractor `{extractor}`: {message}")]
    Extractor {
        /// The extractor's id.
        extractor: String,
        /// What went wrong.
        message: String,
    },
    /// Building the task whose images were to be extracted failed.
    #[error(transparent)]
    Data(#[from] crate::Error),
}

/// Maps a batch of images to one feature vector each.
///
/// Implementations process the whole batch (internally in chunks if they like), keep the row
/// order and copy the labels, and accept any channel count and size: they bring images to
/// their own input format (see [`gray_planes`](crate::gray_planes)).
///
/// ```
/// use datasets::{FeatureExtractor, Images, PixelExtractor};
/// let images = Images { data: vec![0.5; 2 * 8 * 8], labels: vec![0, 1], channels: 1, height: 8, width: 8 };
/// let features = PixelExtractor::new(4).extract(&images)?;
/// assert_eq!((features.len(), features.dim), (2, 16));
/// # Ok::<(), datasets::ExtractError>(())
/// ```
pub trait FeatureExtractor: Send + Sync + std::fmt::Debug {
    /// A stable identifier that changes whenever the outputs would (name, version, options,
    /// weights): caches key on it.
    fn id(&self) -> String;

    /// Length of each feature vector.
    fn dim(&self) -> usize;

    /// Features of `images`: `[images.len(), self.dim()]`, labels copied.
    fn extract(&self, images: &Images) -> Result<Features, ExtractError>;
}

/// Checks that `images` is consistent and has pixels; `extractor` names the caller in errors.
pub fn check_images(images: &Images, extractor: &str) -> Result<(), ExtractError> {
    if images.data.len() != images.len() * images.image_len() {
        return Err(ExtractError::BadImages {
            extractor: extractor.to_string(),
            values: images.data.len(),
            images: images.len(),
            channels: images.channels,
            height: images.height,
            width: images.width,
        });
    }
    if images.image_len() == 0 {
        return Err(ExtractError::EmptyImages {
            extractor: extractor.to_string(),
            channels: images.channels,
            height: images.height,
            width: images.width,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_and_classes() {
        let features = Features {
            data: vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            labels: vec![1, 0, 1],
            dim: 2,
        };
        assert_eq!(features.len(), 3);
        assert_eq!(features.row(2), [5.0, 6.0]);
        assert_eq!(features.num_classes(), 2);
        assert_eq!(
            features.by_class(),
            vec![vec![3.0, 4.0], vec![1.0, 2.0, 5.0, 6.0]]
        );
    }

    #[test]
    fn inconsistent_images_are_errors() {
        let mut images = Images {
            data: vec![0.0; 7],
            labels: vec![0, 1],
            channels: 1,
            height: 2,
            width: 2,
        };
        assert!(matches!(
            check_images(&images, "x"),
            Err(ExtractError::BadImages { values: 7, .. })
        ));
        images.data = vec![];
        images.height = 0;
        assert!(matches!(
            check_images(&images, "x"),
            Err(ExtractError::EmptyImages { .. })
        ));
    }
}
