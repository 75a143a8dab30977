//! [`Images`]: a batch of labelled images stored as one flat `f32` buffer.

/// A batch of images, row-major `[n, channels, height, width]`, f32, normalised.
///
/// `labels[i]` is the label of image `i`; `data.len() == n * channels * height * width`.
#[derive(Clone, Debug, PartialEq)]
pub struct Images {
    /// Pixel values, `[n, channels, height, width]` row-major.
    pub data: Vec<f32>,
    /// One label per image.
    pub labels: Vec<usize>,
    /// Channels per image (1 for grayscale, 3 for grayscale repeated as RGB).
    pub channels: usize,
    /// Image height in pixels.
    pub height: usize,
    /// Image width in pixels.
    pub width: usize,
}

impl Images {
    /// Number of values in one image: `channels * height * width`.
    pub fn image_len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the batch holds no image.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The values of image `i`, `[channels, height, width]` row-major.
    ///
    /// # Panics
    /// If `i >= self.len()`.
    pub fn image(&self, i: usize) -> &[f32] {
        let n = self.image_len();
        &self.data[i * n..(i + 1) * n]
    }
}
