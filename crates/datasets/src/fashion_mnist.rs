//! Fashion-MNIST from Debian's `dataset-fashion-mnist` (gzip IDX files).

use crate::error::{Error, Result};
use crate::gray::{GrayImages, Pixels};
use crate::gzip::read_maybe_gzip;
use crate::idx::{parse_idx_images, parse_idx_labels};
use crate::paths::DataPaths;
use crate::source::Split;

/// Class names, in label order.
pub const CLASS_NAMES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

const WHAT: &str = "Fashion-MNIST (Debian package dataset-fashion-mnist)";

/// Reads one split of Fashion-MNIST (60,000 train or 10,000 test images, 28×28).
pub fn read_fashion_mnist(paths: &DataPaths, split: Split) -> Result<GrayImages> {
    let images_path = paths.fashion_mnist_images(split);
    let labels_path = paths.fashion_mnist_labels(split);
    let (values, n, rows, cols) =
        parse_idx_images(read_maybe_gzip(&images_path, WHAT)?, &images_path)?;
    let labels = parse_idx_labels(read_maybe_gzip(&labels_path, WHAT)?, &labels_path)?;
    if labels.len() != n {
        return Err(Error::corrupt(
            &labels_path,
            4,
            format!(
                "{} labels for {n} images in {}",
                labels.len(),
                images_path.display()
            ),
        ));
    }
    if let Some(i) = labels
        .iter()
        .position(|&l| usize::from(l) >= CLASS_NAMES.len())
    {
        // 8 header bytes precede the labels.
        return Err(Error::corrupt(
            &labels_path,
            8 + i as u64,
            format!("label {} is not below 10", labels[i]),
        ));
    }
    Ok(GrayImages {
        pixels: Pixels::Bytes {
            values,
            max: u8::MAX,
        },
        labels: labels.into_iter().map(usize::from).collect(),
        height: rows,
        width: cols,
    })
}
