//! Images as sources produce them: [`SourceImage`] (one, grayscale or RGB) and [`GrayImages`]
//! (a grayscale file's worth).

/// One image at its source's native size, planar `[channels, height, width]` row-major, values
/// in `0..=1` (0 = background for glyphs and digits). `channels` is 1 (grayscale) or 3 (RGB).
#[derive(Clone, Debug, PartialEq)]
pub struct SourceImage {
    /// 1 (grayscale) or 3 (RGB, planar).
    pub channels: usize,
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// `channels * height * width` values in `0..=1`.
    pub pixels: Vec<f32>,
}

impl SourceImage {
    /// A grayscale image from `height * width` values.
    pub fn gray(width: usize, height: usize, pixels: Vec<f32>) -> Self {
        debug_assert_eq!(pixels.len(), width * height);
        Self {
            channels: 1,
            width,
            height,
            pixels,
        }
    }

    /// One plane (channel `c`) of the image.
    pub fn plane(&self, c: usize) -> &[f32] {
        let n = self.width * self.height;
        &self.pixels[c * n..(c + 1) * n]
    }

    /// The image with `channels` planes: grayscale is repeated into RGB, RGB is turned into
    /// luma with the ITU-R BT.601 weights (0.299, 0.587, 0.114); the same count is a copy.
    ///
    /// # Panics
    /// If `channels` is neither 1 nor 3, or the image's own count is neither.
    pub fn with_channels(&self, channels: usize) -> SourceImage {
        let n = self.width * self.height;
        let pixels = match (self.channels, channels) {
            (a, b) if a == b => self.pixels.clone(),
            (1, 3) => self.pixels.repeat(3),
            (3, 1) => (0..n)
                .map(|i| {
                    0.299 * self.pixels[i]
                        + 0.587 * self.pixels[n + i]
                        + 0.114 * self.pixels[2 * n + i]
                })
                .collect(),
            (a, b) => panic!("SourceImage::with_channels: {a} -> {b} channels is not supported"),
        };
        SourceImage {
            channels,
            width: self.width,
            height: self.height,
            pixels,
        }
    }
}

/// Pixel storage of [`GrayImages`]: bytes where the file holds integers (4× smaller than f32).
#[derive(Clone, Debug, PartialEq)]
pub enum Pixels {
    /// Integers in `0..=max`; the value `v` means `v / max`.
    Bytes {
        /// All pixels, image after image.
        values: Vec<u8>,
        /// The value meaning full intensity (255 for MNIST, 16 for sklearn digits).
        max: u8,
    },
    /// Floats already in `0..=1`.
    Floats(Vec<f32>),
}

/// Labelled grayscale images of one size, as read from one dataset.
#[derive(Clone, Debug, PartialEq)]
pub struct GrayImages {
    /// Pixels, `[n, height, width]` row-major.
    pub pixels: Pixels,
    /// One label per image.
    pub labels: Vec<usize>,
    /// Image height.
    pub height: usize,
    /// Image width.
    pub width: usize,
}

impl GrayImages {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there is no image.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Image `i` with values in `0..=1`.
    ///
    /// # Panics
    /// If `i >= self.len()`.
    pub fn image(&self, i: usize) -> SourceImage {
        let n = self.height * self.width;
        let range = i * n..(i + 1) * n;
        let pixels = match &self.pixels {
            Pixels::Bytes { values, max } => {
                let scale = 1.0 / f32::from(*max);
                values[range]
                    .iter()
                    .map(|&v| f32::from(v) * scale)
                    .collect()
            }
            Pixels::Floats(values) => values[range].to_vec(),
        };
        SourceImage::gray(self.width, self.height, pixels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_pixels_are_scaled_by_max() {
        let images = GrayImages {
            pixels: Pixels::Bytes {
                values: vec![0, 16, 8, 4, 0, 0, 0, 16],
                max: 16,
            },
            labels: vec![3, 1],
            height: 2,
            width: 2,
        };
        assert_eq!(images.len(), 2);
        assert_eq!(images.image(0).pixels, vec![0.0, 1.0, 0.5, 0.25]);
        assert_eq!(images.image(1).pixels, vec![0.0, 0.0, 0.0, 1.0]);
    }
}
