//! RGB photo source: class-labelled crops of photographs and wallpapers, one class per picture.
//!
//! # The domain
//!
//! Each class is one picture (a photograph of a flower, a meadow, a pier; a textured abstract
//! wallpaper), and its samples are random square crops of it, resampled to a small canvas. A task
//! asks "which picture is this patch from?": texture and scene recognition from local evidence
//! (colour, edges, grain, blur), the kind of natural-image statistics that digits, glyphs and
//! Fashion-MNIST lack. Crops of one picture differ in position, scale (a fraction of the
//! picture's shorter side, [`PhotosSpec::min_scale_permille`]..[`PhotosSpec::max_scale_permille`])
//! and, optionally, a horizontal flip, so a task is neither a colour lookup nor hopeless.
//!
//! # Where the pictures come from
//!
//! Debian packages ([`PHOTO_PACKAGES`], installed by `bash scripts/setup-data.sh`), under
//! their own free licences (see `/usr/share/doc/<package>/copyright`):
//!
//! | package | pictures | licence |
//! |---|---|---|
//! | `mate-backgrounds` | `/usr/share/backgrounds/mate/{nature,abstract,desktop}/` | GPL-2+ |
//! | `ukui-wallpapers` | `/usr/share/backgrounds/*.{jpg,png}` | CC-BY-SA-3.0 |
//! | `gnome-backgrounds` | `/usr/share/backgrounds/gnome/*.webp` | CC-BY-SA-3.0 (Adwaita art), package GPL-2+ |
//! | `plasma-workspace-wallpapers` | `/usr/share/wallpapers/<Name>/contents/images/` | GPL-2+ |
//!
//! Two presets split them into disjoint class sets: [`PhotosSpec::meta_test`] (pictures of
//! `mate-backgrounds` only) and [`PhotosSpec::meta_train`] (the other three packages). No picture,
//! class name or near-duplicate (another resolution or palette of the same artwork) is in both.
//!
//! The scikit-image sample photographs (astronaut, coffee, chelsea, ...) are **reserved for
//! evaluation**: never list them in a spec used for meta-training or for building the database.
//!
//! # Determinism
//!
//! Each picture is decoded once by [`PhotoSource::open`], shrunk so that its shorter side is at
//! most [`MAX_SHORT_SIDE`] pixels, composited over black where it has alpha, and kept in memory.
//! Crop `sample` of a picture is drawn by a ChaCha8 generator seeded from the picture file's
//! SHA-256 and `sample` — never from its path — so the same file gives the same crops wherever it
//! is installed, and [`Source::class_fingerprint`] (file SHA-256 plus the crop options) pins
//! exactly what fixes them.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::fingerprint::{hex, Fingerprinter};
use crate::gray::SourceImage;
use crate::resize::resize;
use crate::source::{Source, SourceSpec};

/// The Debian packages the preset pictures come from.
pub const PHOTO_PACKAGES: [&str; 4] = [
    "mate-backgrounds",
    "ukui-wallpapers",
    "gnome-backgrounds",
    "plasma-workspace-wallpapers",
];

/// Pictures are shrunk until their shorter side is at most this many pixels.
///
/// Bounds memory (about 0.8 MB per picture) and makes crop scales mean the same on a 1080p
/// photograph and a 4096² wallpaper. Shrinking averages the source pixels that fall into each
/// target pixel (`image`'s `thumbnail_exact`: antialiased, and three times faster than a Triangle
/// filter on these sizes).
pub const MAX_SHORT_SIDE: u32 = 512;

/// [`PhotosSpec::meta_test`]'s pictures: `mate-backgrounds`' twelve nature photographs and
/// three textured abstract/desktop pictures. Left out: the mostly transparent or near-uniform
/// ones (Arc-Colors, Flow, Gulp, Silk, Spring, Waves, GreenTraditional, the Stripes), the
/// 3840×2160 and 5640×3172 copies of Elephants.jpg, and three of the four recoloured
/// Ubuntu-Mate-*-no-logo auroras.
const META_TEST_FILES: [&str; 15] = [
    "/usr/share/backgrounds/mate/nature/Aqua.jpg",
    "/usr/share/backgrounds/mate/nature/Blinds.jpg",
    "/usr/share/backgrounds/mate/nature/Dune.jpg",
    "/usr/share/backgrounds/mate/nature/FreshFlower.jpg",
    "/usr/share/backgrounds/mate/nature/Garden.jpg",
    "/usr/share/backgrounds/mate/nature/GreenMeadow.jpg",
    "/usr/share/backgrounds/mate/nature/LadyBird.jpg",
    "/usr/share/backgrounds/mate/nature/RainDrops.jpg",
    "/usr/share/backgrounds/mate/nature/Storm.jpg",
    "/usr/share/backgrounds/mate/nature/TwoWings.jpg",
    "/usr/share/backgrounds/mate/nature/Wood.jpg",
    "/usr/share/backgrounds/mate/nature/YellowFlower.jpg",
    "/usr/share/backgrounds/mate/abstract/Elephants.jpg",
    "/usr/share/backgrounds/mate/desktop/Float-into-MATE.png",
    "/usr/share/backgrounds/mate/desktop/Ubuntu-Mate-Cold-no-logo.png",
];

/// [`PhotosSpec::meta_train`]'s pictures: all twelve of `ukui-wallpapers`, five GNOME designs
/// (the light `-l` variant of each: `-d`/`-l` are one artwork in two palettes, which would make
/// class pairs that differ only in colour), and all thirty `plasma-workspace-wallpapers` (the
/// smallest real file of each; the other sizes are rescaled copies or symlinks). Left out: the
/// near-uniform GNOME `symbolic` and `wood` (the latter also mirrors the meta-test `Wood`
/// photograph), the 256-pixel `vnc-*` placeholders and the SVGs.
const META_TRAIN_FILES: [&str; 47] = [
    // ukui-wallpapers
    "/usr/share/backgrounds/2004default.jpg",
    "/usr/share/backgrounds/calla.png",
    "/usr/share/backgrounds/city.png",
    "/usr/share/backgrounds/desert.png",
    "/usr/share/backgrounds/firstgeneration.jpg",
    "/usr/share/backgrounds/fluent-color.png",
    "/usr/share/backgrounds/focal-ubuntukylin.png",
    "/usr/share/backgrounds/goldfish.png",
    "/usr/share/backgrounds/rhythm.jpg",
    "/usr/share/backgrounds/rollpaper.png",
    "/usr/share/backgrounds/string.jpg",
    "/usr/share/backgrounds/the-mouse.jpg",
    // gnome-backgrounds
    "/usr/share/backgrounds/gnome/adwaita-l.webp",
    "/usr/share/backgrounds/gnome/grid-l.webp",
    "/usr/share/backgrounds/gnome/licorice-l.webp",
    "/usr/share/backgrounds/gnome/pixels-l.webp",
    "/usr/share/backgrounds/gnome/truchet-l.webp",
    // plasma-workspace-wallpapers
    "/usr/share/wallpapers/Altai/contents/images/1080x1920.png",
    "/usr/share/wallpapers/Autumn/contents/images/2560x1600.jpg",
    "/usr/share/wallpapers/BytheWater/contents/images/2560x1600.jpg",
    "/usr/share/wallpapers/Canopee/contents/images/3840x2160.png",
    "/usr/share/wallpapers/Cascade/contents/images/3840x2160.png",
    "/usr/share/wallpapers/Cluster/contents/images/3840x2160.png",
    "/usr/share/wallpapers/ColdRipple/contents/images/2560x1600.jpg",
    "/usr/share/wallpapers/ColorfulCups/contents/images/2560x1600.jpg",
    "/usr/share/wallpapers/DarkestHour/contents/images/2560x1600.jpg",
    "/usr/share/wallpapers/Elarun/contents/images/2560x1600.png",
    "/usr/share/wallpapers/EveningGlow/contents/images/2560x1600.jpg",
    "/usr/share/wallpapers/FallenLeaf/contents/images/2560x1600.jpg",
    "/usr/share/wallpapers/Flow/contents/images/720x1440.jpg",
    "/usr/share/wallpapers/FlyingKonqui/contents/images/2560x1600.png",
    "/usr/share/wallpapers/Grey/contents/images/2560x1600.jpg",
    "/usr/share/wallpapers/Honeywave/contents/images/1080x1920.jpg",
    "/usr/share/wallpapers/IceCold/contents/images/5120x2880.png",
    "/usr/share/wallpapers/Kay/contents/images/1080x1920.png",
    "/usr/share/wallpapers/Kite/contents/images/2560x1600.jpg",
    "/usr/share/wallpapers/Kokkini/contents/images/3840x2160.png",
    "/usr/share/wallpapers/MilkyWay/contents/images/1080x1920.png",
    "/usr/share/wallpapers/OneStandsOut/contents/images/2560x1600.jpg",
    "/usr/share/wallpapers/Opal/contents/images/3840x2160.png",
    "/usr/share/wallpapers/PastelHills/contents/images/3200x2000.jpg",
    "/usr/share/wallpapers/Patak/contents/images/1080x1920.png",
    "/usr/share/wallpapers/Path/contents/images/2560x1600.jpg",
    "/usr/share/wallpapers/SafeLanding/contents/images/1622x2880.jpg",
    "/usr/share/wallpapers/Shell/contents/images/720x1440.jpg",
    "/usr/share/wallpapers/Volna/contents/images/5120x2880.jpg",
    "/usr/share/wallpapers/summer_1am/contents/images/2560x1600.jpg",
];

fn default_crops_per_class() -> usize {
    600
}

fn default_canvas() -> usize {
    32
}

fn default_min_scale_permille() -> u32 {
    100
}

fn default_max_scale_permille() -> u32 {
    300
}

fn default_flip() -> bool {
    true
}

/// Options of the photo source: which pictures (one class each) and how crops are drawn.
///
/// Only `name` and `files` are required in JSON; the crop options default as documented:
///
/// ```
/// use datasets::photos::PhotosSpec;
/// use datasets::SourceSpec;
/// let spec: SourceSpec =
///     serde_json::from_str(r#"{"kind":"photos","name":"mine","files":["/a/cat.jpg","/b/dog.png"]}"#)
///         .unwrap();
/// let SourceSpec::Photos(photos) = &spec else { unreachable!() };
/// assert_eq!((photos.crops_per_class, photos.canvas), (600, 32));
/// assert_eq!(photos.class_names().unwrap(), ["cat", "dog"]);
/// assert_eq!(spec.name(), "photos:mine");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct PhotosSpec {
    /// A short name of the collection (`train`, `test`), used in [`crate::SourceSpec::name`].
    pub name: String,
    /// Absolute paths of the pictures, one class each, in class order. A class is named by the
    /// file stem, or by the wallpaper's folder for KDE wallpaper packages (see [`class_name`]);
    /// names must be unique.
    pub files: Vec<PathBuf>,
    /// Crops (samples) per class. Default 600.
    #[serde(default = "default_crops_per_class")]
    pub crops_per_class: usize,
    /// Side in pixels of every crop produced, at least 4. Default 32.
    #[serde(default = "default_canvas")]
    pub canvas: usize,
    /// Smallest crop side, in per mille of the (shrunk) picture's shorter side. Default 100.
    ///
    /// The defaults (100..300, crops of 51 to 154 pixels of a 512-pixel side) put a
    /// nearest-class-mean classifier on 16×16 RGB pixels at about 49% (meta-train) and 64%
    /// (meta-test) on 10-way tasks: far from chance (10%) and from solved. Larger crops make
    /// tasks easier (150..450: 56% and 70%).
    #[serde(default = "default_min_scale_permille")]
    pub min_scale_permille: u32,
    /// Largest crop side, in per mille of the picture's shorter side, at most 1000. Default 300.
    #[serde(default = "default_max_scale_permille")]
    pub max_scale_permille: u32,
    /// Whether half of the crops (chosen by the crop's generator) are mirrored left-right.
    /// Default true.
    #[serde(default = "default_flip")]
    pub flip: bool,
}

impl PhotosSpec {
    /// A spec over `files` with every crop option at its default.
    pub fn new(name: impl Into<String>, files: Vec<PathBuf>) -> Self {
        Self {
            name: name.into(),
            files,
            crops_per_class: default_crops_per_class(),
            canvas: default_canvas(),
            min_scale_permille: default_min_scale_permille(),
            max_scale_permille: default_max_scale_permille(),
            flip: default_flip(),
        }
    }

    /// The meta-training pictures (named `train`): 47 classes from `ukui-wallpapers`,
    /// `gnome-backgrounds` and `plasma-workspace-wallpapers`.
    pub fn meta_train() -> Self {
        Self::new(
            "train",
            META_TRAIN_FILES.iter().map(PathBuf::from).collect(),
        )
    }

    /// The meta-test pictures (named `test`): 15 classes from `mate-backgrounds`, disjoint from
    /// [`PhotosSpec::meta_train`]'s.
    pub fn meta_test() -> Self {
        Self::new("test", META_TEST_FILES.iter().map(PathBuf::from).collect())
    }

    /// The spec with `crops` crops per class.
    pub fn with_crops_per_class(mut self, crops: usize) -> Self {
        self.crops_per_class = crops;
        self
    }

    /// The spec with crops of `canvas × canvas` pixels.
    pub fn with_canvas(mut self, canvas: usize) -> Self {
        self.canvas = canvas;
        self
    }

    /// The spec with crop sides between `min_permille` and `max_permille` of the shorter side.
    pub fn with_scale_permille(mut self, min_permille: u32, max_permille: u32) -> Self {
        self.min_scale_permille = min_permille;
        self.max_scale_permille = max_permille;
        self
    }

    /// The spec with horizontal flips on or off.
    pub fn with_flip(mut self, flip: bool) -> Self {
        self.flip = flip;
        self
    }

    /// Checks the crop options, the number of pictures and the uniqueness of class names
    /// (without touching the files).
    pub fn validate(&self) -> Result<()> {
        if self.crops_per_class == 0 {
            return Err(Error::ZeroPhotoCrops);
        }
        if self.canvas < 4 {
            return Err(Error::PhotoCanvasTooSmall(self.canvas));
        }
        let (min, max) = (self.min_scale_permille, self.max_scale_permille);
        if min == 0 || max > 1000 || min > max {
            return Err(Error::BadPhotoScale {
                min_permille: min,
                max_permille: max,
            });
        }
        self.class_names().map(|_| ())
    }

    /// The class names of `files`, in order ([`class_name`] of each).
    ///
    /// # Errors
    /// [`Error::TooFewPhotos`] for fewer than two files, [`Error::DuplicatePhotoClass`] when two
    /// files give the same name.
    pub fn class_names(&self) -> Result<Vec<String>> {
        if self.files.len() < 2 {
            return Err(Error::TooFewPhotos(self.files.len()));
        }
        let mut seen: HashMap<String, &Path> = HashMap::new();
        let mut names = Vec::with_capacity(self.files.len());
        for path in &self.files {
            let name = class_name(path);
            if let Some(first) = seen.insert(name.clone(), path) {
                return Err(Error::DuplicatePhotoClass {
                    class: name,
                    first: first.to_path_buf(),
                    second: path.clone(),
                });
            }
            names.push(name);
        }
        Ok(names)
    }
}

/// The class name of a picture: its file stem, except for KDE wallpaper packages
/// (`<Name>/contents/images*/<W>x<H>.<ext>`, whose stems are resolutions), named `<Name>`.
///
/// ```
/// use datasets::photos::class_name;
/// use std::path::Path;
/// assert_eq!(class_name(Path::new("/usr/share/backgrounds/mate/nature/Aqua.jpg")), "Aqua");
/// assert_eq!(
///     class_name(Path::new("/usr/share/wallpapers/Kite/contents/images/2560x1600.jpg")),
///     "Kite"
/// );
/// ```
pub fn class_name(path: &Path) -> String {
    let name_of = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned());
    let images = path.parent();
    let contents = images.and_then(Path::parent);
    let wallpaper = contents.and_then(Path::parent);
    if let (Some(images), Some(contents), Some(wallpaper)) = (images, contents, wallpaper) {
        let is_images = name_of(images).is_some_and(|n| n.starts_with("images"));
        if is_images && name_of(contents).as_deref() == Some("contents") {
            if let Some(name) = name_of(wallpaper) {
                return name;
            }
        }
    }
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// The Debian package of [`PHOTO_PACKAGES`] that installs `path`, judged by its folder.
pub fn package_of(path: &Path) -> Option<&'static str> {
    if path.starts_with("/usr/share/backgrounds/mate") {
        Some("mate-backgrounds")
    } else if path.starts_with("/usr/share/backgrounds/gnome") {
        Some("gnome-backgrounds")
    } else if path.starts_with("/usr/share/wallpapers") {
        Some("plasma-workspace-wallpapers")
    } else if path.parent() == Some(Path::new("/usr/share/backgrounds")) {
        Some("ukui-wallpapers")
    } else {
        None
    }
}

/// One decoded picture.
struct Picture {
    path: PathBuf,
    /// SHA-256 of the file's bytes.
    digest: [u8; 32],
    /// The picture, shrunk to at most [`MAX_SHORT_SIDE`] on its shorter side.
    rgb: image::RgbImage,
}

impl fmt::Debug for Picture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Picture")
            .field("path", &self.path)
            .field("sha256", &hex(&self.digest))
            .field("size", &self.rgb.dimensions())
            .finish()
    }
}

/// Crops of pictures, one class per picture (see the [module docs](self)).
#[derive(Debug)]
pub struct PhotoSource {
    spec: SourceSpec,
    options: PhotosSpec,
    class_names: Vec<String>,
    pictures: Vec<Picture>,
}

impl PhotoSource {
    /// Opens the pictures `spec` lists: reads, hashes and decodes each once (in parallel).
    ///
    /// # Errors
    /// The errors of [`PhotosSpec::validate`]; [`Error::MissingData`] naming the Debian package
    /// for a missing file; [`Error::Io`]; [`Error::Image`] for a file that does not decode.
    /// With several bad files, the first one in `spec.files` is reported.
    pub fn open(spec: &PhotosSpec) -> Result<Self> {
        spec.validate()?;
        let class_names = spec.class_names()?;
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(spec.files.len());
        let mut slots: Vec<Option<Result<Picture>>> = Vec::new();
        slots.resize_with(spec.files.len(), || None);
        std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|t| {
                    scope.spawn(move || {
                        (t..spec.files.len())
                            .step_by(threads)
                            .map(|i| (i, load_picture(&spec.files[i])))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            for worker in workers {
                match worker.join() {
                    Ok(results) => {
                        for (i, picture) in results {
                            slots[i] = Some(picture);
                        }
                    }
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
        });
        let pictures = slots
            .into_iter()
            .map(|slot| slot.expect("every picture index is loaded by one worker"))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            spec: SourceSpec::Photos(spec.clone()),
            options: spec.clone(),
            class_names,
            pictures,
        })
    }

    /// The picture of `class` as kept in memory: `(width, height)` after shrinking.
    pub fn picture_size(&self, class: usize) -> (usize, usize) {
        let (w, h) = self.pictures[class].rgb.dimensions();
        (w as usize, h as usize)
    }

    /// The SHA-256 (hex) of `class`'s picture file.
    pub fn file_sha256(&self, class: usize) -> String {
        hex(&self.pictures[class].digest)
    }

    /// The crop window of `sample` of `class`: `(x, y, side, flipped)` in the shrunk picture.
    fn crop_window(&self, class: usize, sample: usize) -> (u32, u32, u32, bool) {
        let picture = &self.pictures[class];
        let (w, h) = picture.rgb.dimensions();
        let short = w.min(h);
        let side_at = |permille: u32| {
            ((u64::from(short) * u64::from(permille) + 500) / 1000).clamp(1, u64::from(short))
                as u32
        };
        let (lo, hi) = (
            side_at(self.options.min_scale_permille),
            side_at(self.options.max_scale_permille),
        );
        let mut rng = ChaCha8Rng::from_seed(crop_seed(&picture.digest, sample));
        let side = rng.random_range(lo..=hi);
        let x = rng.random_range(0..=w - side);
        let y = rng.random_range(0..=h - side);
        // Always drawn, so turning flips off changes no crop window.
        let coin: bool = rng.random();
        (x, y, side, self.options.flip && coin)
    }
}

/// Reads, hashes and decodes one picture, shrinks it to at most [`MAX_SHORT_SIDE`] on its
/// shorter side, then composites alpha over black.
///
/// Shrinking goes through `DynamicImage`'s non-generic methods, compiled (and optimised) in the
/// `image` crate: generic `imageops` functions would be compiled at this crate's opt-level,
/// which in debug builds makes opening 4096² wallpapers take minutes.
fn load_picture(path: &Path) -> Result<Picture> {
    let what = match package_of(path) {
        Some(package) => format!("picture from Debian package {package}"),
        None => format!(
            "picture (the presets' come from Debian packages {})",
            PHOTO_PACKAGES.join(", ")
        ),
    };
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e, &what))?;
    let digest: [u8; 32] = Sha256::digest(&bytes).into();
    let mut decoded = image::load_from_memory(&bytes).map_err(|e| Error::Image {
        path: path.to_path_buf(),
        source: e,
    })?;
    let (w, h) = (decoded.width(), decoded.height());
    let short = w.min(h);
    if short > MAX_SHORT_SIDE {
        let scaled = |n: u32| {
            ((u64::from(n) * u64::from(MAX_SHORT_SIDE) + u64::from(short) / 2) / u64::from(short))
                .max(1) as u32
        };
        decoded = decoded.thumbnail_exact(scaled(w), scaled(h));
    }
    let rgb = if decoded.color().has_alpha() {
        let rgba = decoded.to_rgba8();
        let (w, h) = rgba.dimensions();
        let raw: Vec<u8> = rgba
            .as_raw()
            .chunks_exact(4)
            .flat_map(|p| {
                let over_black = |v: u8| ((u16::from(v) * u16::from(p[3]) + 127) / 255) as u8;
                [over_black(p[0]), over_black(p[1]), over_black(p[2])]
            })
            .collect();
        image::RgbImage::from_raw(w, h, raw).expect("3 bytes per pixel")
    } else {
        decoded.to_rgb8()
    };
    Ok(Picture {
        path: path.to_path_buf(),
        digest,
        rgb,
    })
}

/// The seed of crop `sample` of the picture whose file hashes to `digest`.
fn crop_seed(digest: &[u8; 32], sample: usize) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"metanas photos crop v1");
    h.update(&digest[..16]);
    h.update((sample as u64).to_le_bytes());
    h.finalize().into()
}

impl Source for PhotoSource {
    fn spec(&self) -> &SourceSpec {
        &self.spec
    }

    fn class_names(&self) -> &[String] {
        &self.class_names
    }

    fn num_samples(&self, _class: usize) -> usize {
        self.options.crops_per_class
    }

    fn channels(&self) -> usize {
        3
    }

    /// Crop `sample` of picture `class`: a square window drawn from the picture's hash and
    /// `sample`, mirrored if drawn so, resampled to `canvas × canvas` (area averaging).
    ///
    /// Output: `[3, canvas, canvas]` planar RGB in `0..=1`.
    fn image(&self, class: usize, sample: usize) -> Result<SourceImage> {
        assert!(
            sample < self.options.crops_per_class,
            "sample {sample} out of range: {} crops per class",
            self.options.crops_per_class
        );
        let (x0, y0, side, flipped) = self.crop_window(class, sample);
        let rgb = &self.pictures[class].rgb;
        let (stride, side, x0) = (rgb.width() as usize * 3, side as usize, x0 as usize);
        let n = side * side;
        let mut pixels = vec![0.0f32; 3 * n];
        for dy in 0..side {
            let row_start = (y0 as usize + dy) * stride + x0 * 3;
            let row = &rgb.as_raw()[row_start..row_start + side * 3];
            for (dx, px) in row.chunks_exact(3).enumerate() {
                let i = dy * side + if flipped { side - 1 - dx } else { dx };
                pixels[i] = f32::from(px[0]) / 255.0;
                pixels[n + i] = f32::from(px[1]) / 255.0;
                pixels[2 * n + i] = f32::from(px[2]) / 255.0;
            }
        }
        let crop = SourceImage {
            channels: 3,
            width: side,
            height: side,
            pixels,
        };
        let canvas = self.options.canvas;
        let mut out = resize(&crop, canvas, canvas);
        // Area weights sum to 1 only up to rounding.
        out.pixels.iter_mut().for_each(|v| *v = v.clamp(0.0, 1.0));
        Ok(out)
    }

    /// SHA-256 over the picture file's SHA-256 and every option that shapes its crops.
    fn class_fingerprint(&self, class: usize) -> Result<String> {
        let o = &self.options;
        let mut h = Fingerprinter::new();
        h.update(b"photos v1");
        h.update(&self.pictures[class].digest);
        h.update(&MAX_SHORT_SIDE.to_le_bytes());
        h.update(&(o.canvas as u64).to_le_bytes());
        h.update(&o.min_scale_permille.to_le_bytes());
        h.update(&o.max_scale_permille.to_le_bytes());
        h.update(&[u8::from(o.flip)]);
        Ok(h.finish())
    }

    fn class_origin(&self, class: usize) -> String {
        let path = &self.pictures[class].path;
        match package_of(path) {
            Some(package) => format!("{} (Debian package {package})", path.display()),
            None => path.display().to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh empty folder under the system temp dir.
    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("datasets-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// A `w × h` picture with a colour gradient plus a stripe pattern set by `seed`.
    fn write_picture(path: &Path, w: u32, h: u32, seed: u8) {
        image::RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([
                (x * 255 / w) as u8,
                (y * 255 / h) as u8,
                if (x / 3 + y / 5 + u32::from(seed)) % 2 == 0 {
                    200
                } else {
                    30
                },
            ])
        })
        .save(path)
        .unwrap();
    }

    fn two_pictures(name: &str) -> (PathBuf, PhotosSpec) {
        let dir = temp_dir(name);
        let files = vec![dir.join("a.png"), dir.join("b.jpg")];
        write_picture(&files[0], 90, 60, 0);
        write_picture(&files[1], 40, 70, 1);
        let spec = PhotosSpec::new("t", files)
            .with_crops_per_class(20)
            .with_canvas(8);
        (dir, spec)
    }

    #[test]
    fn crops_are_deterministic_rgb_in_range() {
        let (dir, spec) = two_pictures("photos-crops");
        let source = PhotoSource::open(&spec).unwrap();
        assert_eq!(source.class_names(), ["a", "b"]);
        assert_eq!(source.channels(), 3);
        assert_eq!(source.num_samples(1), 20);
        assert_eq!(source.spec().name(), "photos:t");
        let again = PhotoSource::open(&spec).unwrap();
        let mut distinct = std::collections::HashSet::new();
        for class in 0..2 {
            for sample in 0..20 {
                let img = source.image(class, sample).unwrap();
                assert_eq!((img.channels, img.width, img.height), (3, 8, 8));
                assert_eq!(img.pixels.len(), 3 * 8 * 8);
                assert!(img.pixels.iter().all(|v| (0.0..=1.0).contains(v)));
                assert_eq!(img, again.image(class, sample).unwrap());
                distinct.insert(img.pixels.iter().map(|v| v.to_bits()).collect::<Vec<_>>());
            }
        }
        assert!(
            distinct.len() > 30,
            "crops should differ: {} distinct",
            distinct.len()
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn crops_follow_the_file_content_not_its_path() {
        let (dir, spec) = two_pictures("photos-moved");
        let source = PhotoSource::open(&spec).unwrap();
        let moved = dir.join("elsewhere");
        std::fs::create_dir_all(&moved).unwrap();
        let files: Vec<PathBuf> = spec
            .files
            .iter()
            .map(|f| {
                let to = moved.join(f.file_name().unwrap());
                std::fs::copy(f, &to).unwrap();
                to
            })
            .collect();
        let moved_source = PhotoSource::open(&PhotosSpec {
            files,
            ..spec.clone()
        })
        .unwrap();
        for class in 0..2 {
            assert_eq!(
                source.class_fingerprint(class).unwrap(),
                moved_source.class_fingerprint(class).unwrap()
            );
            assert_eq!(
                source.image(class, 5).unwrap(),
                moved_source.image(class, 5).unwrap()
            );
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn fingerprint_changes_with_the_file_and_the_options() {
        let (dir, spec) = two_pictures("photos-fingerprint");
        let before = PhotoSource::open(&spec).unwrap();
        let fp = |s: &PhotoSource, c| s.class_fingerprint(c).unwrap();
        assert_ne!(fp(&before, 0), fp(&before, 1));
        let canvas = PhotoSource::open(&spec.clone().with_canvas(9)).unwrap();
        assert_ne!(fp(&before, 0), fp(&canvas, 0));
        let flip = PhotoSource::open(&spec.clone().with_flip(false)).unwrap();
        assert_ne!(fp(&before, 0), fp(&flip, 0));
        write_picture(&spec.files[0], 90, 60, 1);
        let after = PhotoSource::open(&spec).unwrap();
        assert_ne!(fp(&before, 0), fp(&after, 0));
        assert_eq!(fp(&before, 1), fp(&after, 1));
        assert_ne!(before.file_sha256(0), after.file_sha256(0));
        assert!(after.class_origin(0).ends_with("a.png"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn flips_mirror_the_same_window() {
        let (dir, spec) = two_pictures("photos-flip");
        let plain = PhotoSource::open(&spec.clone().with_flip(false)).unwrap();
        let flipping = PhotoSource::open(&spec).unwrap();
        let mut flipped = 0;
        for sample in 0..20 {
            let (a, b) = (
                plain.image(0, sample).unwrap(),
                flipping.image(0, sample).unwrap(),
            );
            if a != b {
                flipped += 1;
                let mirrored: Vec<f32> = a
                    .pixels
                    .chunks(8)
                    .flat_map(|row| row.iter().rev().copied())
                    .collect();
                let close = mirrored
                    .iter()
                    .zip(&b.pixels)
                    .all(|(x, y)| (x - y).abs() < 1e-5);
                assert!(close, "sample {sample} is not a mirror image");
            }
        }
        assert!((3..=17).contains(&flipped), "{flipped} of 20 flipped");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn large_pictures_are_shrunk() {
        let dir = temp_dir("photos-large");
        let files = vec![dir.join("wide.png"), dir.join("tall.png")];
        write_picture(&files[0], 1200, 600, 0);
        write_picture(&files[1], 300, 700, 0);
        let source = PhotoSource::open(&PhotosSpec::new("t", files)).unwrap();
        assert_eq!(source.picture_size(0), (1024, 512));
        assert_eq!(source.picture_size(1), (300, 700));
        assert_eq!(source.image(0, 599).unwrap().width, 32);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn transparent_pixels_are_black() {
        let dir = temp_dir("photos-alpha");
        let files = vec![dir.join("clear.png"), dir.join("solid.png")];
        image::RgbaImage::from_pixel(20, 20, image::Rgba([255, 255, 255, 0]))
            .save(&files[0])
            .unwrap();
        write_picture(&files[1], 20, 20, 0);
        let source = PhotoSource::open(&PhotosSpec::new("t", files).with_canvas(4)).unwrap();
        assert!(source.image(0, 0).unwrap().pixels.iter().all(|&v| v == 0.0));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn missing_file_names_the_package_and_the_setup_script() {
        let (dir, mut spec) = two_pictures("photos-missing");
        spec.files[1] = dir.join("gone.png");
        let err = PhotoSource::open(&spec).unwrap_err();
        assert!(matches!(err, Error::MissingData { .. }), "{err}");
        let msg = err.to_string();
        assert!(
            msg.contains("gone.png") && msg.contains("scripts/setup-data.sh"),
            "{msg}"
        );
        spec.files[1] = "/usr/share/backgrounds/mate/nature/NoSuchPicture.jpg".into();
        let msg = PhotoSource::open(&spec).unwrap_err().to_string();
        assert!(msg.contains("mate-backgrounds"), "{msg}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn undecodable_file_is_an_image_error() {
        let (dir, mut spec) = two_pictures("photos-corrupt");
        spec.files[0] = dir.join("broken.png");
        std::fs::write(&spec.files[0], b"\x89PNG\r\n\x1a\nnot really").unwrap();
        let err = PhotoSource::open(&spec).unwrap_err();
        assert!(matches!(err, Error::Image { .. }), "{err}");
        assert!(err.to_string().contains("broken.png"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn duplicate_class_names_are_rejected() {
        let spec = PhotosSpec::new("t", vec!["/x/cat.jpg".into(), "/y/cat.png".into()]);
        let err = PhotoSource::open(&spec).unwrap_err();
        assert!(
            matches!(&err, Error::DuplicatePhotoClass { class, .. } if class == "cat"),
            "{err}"
        );
        let kde = PhotosSpec::new(
            "t",
            vec![
                "/w/Kite/contents/images/2560x1600.jpg".into(),
                "/w/Kite/contents/images_dark/2560x1600.jpg".into(),
            ],
        );
        assert!(matches!(
            kde.validate(),
            Err(Error::DuplicatePhotoClass { .. })
        ));
    }

    #[test]
    fn fewer_than_two_pictures_are_rejected() {
        let spec = PhotosSpec::new("t", vec!["/x/cat.jpg".into()]);
        assert!(matches!(
            PhotoSource::open(&spec),
            Err(Error::TooFewPhotos(1))
        ));
    }

    #[test]
    fn bad_options_are_rejected() {
        let base = PhotosSpec::new("t", vec!["/x/a.jpg".into(), "/x/b.jpg".into()]);
        assert!(base.validate().is_ok());
        assert!(matches!(
            base.clone().with_canvas(3).validate(),
            Err(Error::PhotoCanvasTooSmall(3))
        ));
        assert!(matches!(
            base.clone().with_crops_per_class(0).validate(),
            Err(Error::ZeroPhotoCrops)
        ));
        for (min, max) in [(0, 500), (100, 1001), (600, 500)] {
            let err = base
                .clone()
                .with_scale_permille(min, max)
                .validate()
                .unwrap_err();
            assert!(
                matches!(err, Error::BadPhotoScale { .. }),
                "{min}..{max}: {err}"
            );
        }
        assert!(base.with_scale_permille(1000, 1000).validate().is_ok());
    }

    #[test]
    fn spec_json_defaults_and_round_trip() {
        let spec: SourceSpec =
            serde_json::from_str(r#"{"kind":"photos","name":"x","files":["/a/p.jpg","/a/q.jpg"]}"#)
                .unwrap();
        let expected = PhotosSpec::new("x", vec!["/a/p.jpg".into(), "/a/q.jpg".into()]);
        assert_eq!(spec, SourceSpec::Photos(expected));
        let json = serde_json::to_string(&spec).unwrap();
        assert_eq!(serde_json::from_str::<SourceSpec>(&json).unwrap(), spec);
    }

    #[test]
    fn presets_are_disjoint_and_named_uniquely() {
        let (train, test) = (PhotosSpec::meta_train(), PhotosSpec::meta_test());
        let (train_names, test_names) = (train.class_names().unwrap(), test.class_names().unwrap());
        assert_eq!((train_names.len(), test_names.len()), (47, 15));
        for name in &test_names {
            let clash = train_names.iter().any(|t| t.eq_ignore_ascii_case(name));
            assert!(!clash, "class `{name}` is in both presets");
        }
        assert!(test.files.iter().all(|f| !train.files.contains(f)));
        assert!(test
            .files
            .iter()
            .all(|f| package_of(f) == Some("mate-backgrounds")));
        assert!(train.files.iter().all(|f| {
            package_of(f).is_some_and(|p| p != "mate-backgrounds" && PHOTO_PACKAGES.contains(&p))
        }));
        assert!(train.validate().is_ok() && test.validate().is_ok());
    }
}
