//! Grayscale images as sources produce them: [`GrayImage`] (one) and [`GrayImages`] (a file's worth).

/// One grayscale image, row-major `[height, width]`, values in `0..=1` (0 = background).
#[derive(Clone, Debug, PartialEq)]
pub struct GrayImage {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// `height * width` values in `0..=1`.
    pub pixels: Vec<f32>,
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
    pub fn image(&self, i: usize) -> GrayImage {
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
        GrayImage {
            width: self.width,
            height: self.height,
            pixels,
        }
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
