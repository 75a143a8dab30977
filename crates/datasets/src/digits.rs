//! scikit-learn's digits (1,797 images, 8×8, values `0..=16`) from PyPI `scikit-learn==1.7.2`'s
//! `sklearn/datasets/data/digits.csv.gz`.

use crate::error::Result;
use crate::gray::GrayImages;
use crate::gzip::read_maybe_gzip;
use crate::paths::DataPaths;
use crate::pixel_csv::{parse_pixel_csv, PixelCsvFormat};

/// Row layout: 64 pixels in `0..=16`, then the digit.
pub const FORMAT: PixelCsvFormat = PixelCsvFormat {
    height: 8,
    width: 8,
    max: 16,
    classes: 10,
};

/// Reads [`DataPaths::digits_csv`].
pub fn read_digits(paths: &DataPaths) -> Result<GrayImages> {
    let path = paths.digits_csv();
    let bytes = read_maybe_gzip(&path, "digits CSV (PyPI scikit-learn==1.7.2)")?;
    parse_pixel_csv(&bytes, &path, FORMAT)
}
