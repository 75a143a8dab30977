//! Procedural source: RGB textures, one class per generated *recipe*, unlimited classes.
//!
//! A class is identified by a global id (a `u64`). Its recipe is drawn by a ChaCha8 generator
//! seeded with a stable mix of the id and [`GENERATOR_VERSION`], so the same id always means the
//! same class, and two specs whose id ranges do not overlap share no class: the
//! [`ProceduralSpec::meta_train`] preset (ids `0..200`) and [`ProceduralSpec::meta_test`] (ids
//! `1_000_000..1_000_060`) give meta-test tasks made of recipes never seen in meta-training.
//!
//! A recipe is a pattern (one layer, sometimes blended with a weaker second layer of another
//! family) and a colouring. The families are chosen so that the best network can differ between
//! tasks:
//! - **gratings**: the sum of 1–3 oriented sinusoids with class-specific frequencies (1.5–7
//!   cycles per canvas), orientations and relative amplitudes, optionally sharpened towards square
//!   waves: favours frequency- and orientation-selective convolutions;
//! - **shapes**: scattered discs, rings, squares or bars with class-specific size, density,
//!   aspect ratio and (for some classes) a preferred orientation, drawn anti-aliased from signed
//!   distances: favours shape detectors at some scale;
//! - **noise**: smoothed lattice (value) noise with class-specific correlation length, anisotropy,
//!   orientation, contrast and optional ridges: favours pooling and texture statistics;
//! - **cells**: Worley (cellular) noise: blobs, cell walls or flat-shaded mosaics, with
//!   class-specific density, regularity and anisotropy.
//!
//! Colour: a class palette of 2–3 colours that the pattern value (`0..=1`) is mapped through, or
//! a palette laid out by a separate low-frequency field while the pattern sets brightness
//! (colour independent of the pattern), or a palette drawn afresh for every sample (colour says
//! nothing about the class). Classes come in families of 4 consecutive ids: in some families the
//! siblings share the pattern recipe and differ only by colour, in others they share the
//! colouring and differ only by pattern.
//!
//! Samples of a class vary within class-specific bounds: random phase and position (always),
//! rotation and scale jitter, per-sample colour jitter, brightness, contrast and an illumination
//! gradient, and additive pixel noise; [`TextureJitter`] scales these.
//!
//! Determinism: `image(class, sample)` depends only on the class's global id, the sample index
//! and the spec's sampling options (`canvas`, `jitter`), not on call order. Random numbers come
//! straight from ChaCha8's stream (no `rand` distributions, whose algorithms may change between
//! releases) and the pixels use only IEEE-754 basic arithmetic (our own polynomial sine, no
//! `libm`), so they are the same bits on every platform. Random draws do not depend on the
//! canvas, so a larger canvas renders the same textures at a finer resolution (pixel noise
//! aside). Any change of the images bumps [`GENERATOR_VERSION`], which changes every class's
//! fingerprint.
//!
//! ```
//! use datasets::procedural::{ProceduralSource, ProceduralSpec};
//! use datasets::Source;
//! let source = ProceduralSource::open(&ProceduralSpec::meta_test())?;
//! assert_eq!(source.class_names()[0], "tex-1000000");
//! let image = source.image(3, 17)?;
//! assert_eq!((image.channels, image.height, image.width), (3, 32, 32));
//! assert_eq!(image, source.image(3, 17)?);
//! # Ok::<(), datasets::Error>(())
//! ```

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::error::{Error, Result};
use crate::fingerprint::Fingerprinter;
use crate::gray::SourceImage;
use crate::source::{Source, SourceSpec};

/// Version of the generator: bumped whenever the images of some (class, sample) change.
pub const GENERATOR_VERSION: u32 = 1;

/// The first global class id of [`ProceduralSpec::meta_test`], far above any meta-train id.
pub const META_TEST_FIRST_CLASS: u64 = 1_000_000;

/// Largest canvas side, in pixels.
const MAX_CANVAS: usize = 1024;
/// Most classes one source may hold (their names are kept in memory).
const MAX_CLASSES: usize = 1_000_000;
/// Consecutive global ids that form a family (siblings may share a pattern or a colouring).
const FAMILY: u64 = 4;

/// Options of the procedural source. Every field has a default ([`ProceduralSpec::meta_train`]),
/// so `{}` is a valid JSON spec.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct ProceduralSpec {
    /// A short name of the collection (`train`, `test`), used in [`SourceSpec::name`]; it does
    /// not change the images.
    pub name: String,
    /// Global id of the source's class 0; class `k` is recipe `first_class + k`.
    pub first_class: u64,
    /// Number of classes (2 to 1,000,000).
    pub classes: usize,
    /// Distinct samples per class (at least 1).
    pub samples_per_class: usize,
    /// Side of the square images, in pixels (4 to 1024).
    pub canvas: usize,
    /// How much samples of a class vary.
    pub jitter: TextureJitter,
}

impl Default for ProceduralSpec {
    fn default() -> Self {
        Self::meta_train()
    }
}

impl ProceduralSpec {
    /// The meta-training collection: `train`, global ids `0..200`.
    pub fn meta_train() -> Self {
        Self {
            name: "train".into(),
            first_class: 0,
            classes: 200,
            samples_per_class: 600,
            canvas: 32,
            jitter: TextureJitter::default(),
        }
    }

    /// The meta-test collection: `test`, global ids `1_000_000..1_000_060`, none of which
    /// [`meta_train`](Self::meta_train) holds.
    pub fn meta_test() -> Self {
        Self {
            name: "test".into(),
            first_class: META_TEST_FIRST_CLASS,
            classes: 60,
            ..Self::meta_train()
        }
    }

    /// Checks every option, returning the first invalid one as its own error variant.
    pub fn validate(&self) -> Result<()> {
        if !(4..=MAX_CANVAS).contains(&self.canvas) {
            return Err(Error::BadProceduralCanvas(self.canvas));
        }
        if !(2..=MAX_CLASSES).contains(&self.classes) {
            return Err(Error::BadProceduralClasses(self.classes));
        }
        if self.samples_per_class == 0 {
            return Err(Error::ZeroProceduralSamples);
        }
        if self.first_class.checked_add(self.classes as u64).is_none() {
            return Err(Error::ProceduralClassIdOverflow {
                first_class: self.first_class,
                classes: self.classes,
            });
        }
        self.jitter.validate()
    }

    /// The global id of class `k`.
    pub fn global_id(&self, k: usize) -> u64 {
        self.first_class + k as u64
    }
}

/// How much the samples of a class vary, as integers per mille (specs stay hashable and exact).
///
/// The defaults are calibrated so that 10-way tasks are neither saturated nor hopeless (see the
/// `difficulty_proxy` test); 0 everywhere leaves only the random phase and position of the
/// pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct TextureJitter {
    /// Scale of each recipe's own rotation and scale jitter bounds (1000 = as generated, at most
    /// 3000).
    pub geometry_permille: u32,
    /// Scale of the per-sample hue and saturation jitter (1000 = hue ±0.05 turn, saturation
    /// ±20 %; at most 3000).
    pub colour_permille: u32,
    /// Largest brightness shift, relative contrast change and illumination gradient, per mille
    /// of the value range (at most 1000).
    pub photometric_permille: u32,
    /// Standard deviation of the additive per-pixel noise, per mille of the value range (at most
    /// 1000).
    pub noise_permille: u32,
}

impl Default for TextureJitter {
    fn default() -> Self {
        Self {
            geometry_permille: 1000,
            colour_permille: 1000,
            photometric_permille: 220,
            noise_permille: 50,
        }
    }
}

impl TextureJitter {
    /// No variation beyond random phase and position.
    pub const NONE: TextureJitter = TextureJitter {
        geometry_permille: 0,
        colour_permille: 0,
        photometric_permille: 0,
        noise_permille: 0,
    };

    fn validate(&self) -> Result<()> {
        for (knob, value, max) in [
            ("geometry_permille", self.geometry_permille, 3000),
            ("colour_permille", self.colour_permille, 3000),
            ("photometric_permille", self.photometric_permille, 1000),
            ("noise_permille", self.noise_permille, 1000),
        ] {
            if value > max {
                return Err(Error::ProceduralJitterTooLarge { knob, value, max });
            }
        }
        Ok(())
    }
}

/// Generated textures, one class per recipe; images are rendered on demand.
#[derive(Debug)]
pub struct ProceduralSource {
    spec: SourceSpec,
    options: ProceduralSpec,
    class_names: Vec<String>,
}

impl ProceduralSource {
    /// Checks `options` (see [`ProceduralSpec::validate`]) and names the classes `tex-{id}`.
    pub fn open(options: &ProceduralSpec) -> Result<Self> {
        options.validate()?;
        let class_names = (0..options.classes)
            .map(|k| format!("tex-{:06}", options.global_id(k)))
            .collect();
        Ok(Self {
            spec: SourceSpec::Procedural(options.clone()),
            options: options.clone(),
            class_names,
        })
    }

    /// A one-line description of class `class`'s recipe (`"gratings(2) + shapes(ring), mapped
    /// palette"`).
    ///
    /// # Panics
    /// If `class` is out of range.
    pub fn describe(&self, class: usize) -> String {
        assert!(class < self.options.classes, "class {class} out of range");
        Recipe::generate(self.options.global_id(class)).describe()
    }
}

impl Source for ProceduralSource {
    fn spec(&self) -> &SourceSpec {
        &self.spec
    }

    fn class_names(&self) -> &[String] {
        &self.class_names
    }

    fn num_samples(&self, class: usize) -> usize {
        assert!(class < self.options.classes, "class {class} out of range");
        self.options.samples_per_class
    }

    fn image(&self, class: usize, sample: usize) -> Result<SourceImage> {
        assert!(class < self.options.classes, "class {class} out of range");
        assert!(
            sample < self.options.samples_per_class,
            "sample {sample} out of range"
        );
        let id = self.options.global_id(class);
        let recipe = Recipe::generate(id);
        let seed = mix(class_seed(id) ^ mix(sample as u64 ^ SALT_SAMPLE));
        Ok(recipe.render(
            &mut Draw::new(seed),
            self.options.canvas,
            &self.options.jitter,
        ))
    }

    fn channels(&self) -> usize {
        3
    }

    /// Hashes what fixes the images: the generator version, the global id and the sampling
    /// options; renders nothing.
    fn class_fingerprint(&self, class: usize) -> Result<String> {
        let o = &self.options;
        let mut h = Fingerprinter::new();
        h.update(b"procedural");
        h.update(&GENERATOR_VERSION.to_le_bytes());
        h.update(&o.global_id(class).to_le_bytes());
        for n in [o.samples_per_class as u64, o.canvas as u64] {
            h.update(&n.to_le_bytes());
        }
        let j = &o.jitter;
        for n in [
            j.geometry_permille,
            j.colour_permille,
            j.photometric_permille,
            j.noise_permille,
        ] {
            h.update(&n.to_le_bytes());
        }
        Ok(h.finish())
    }

    fn class_origin(&self, class: usize) -> String {
        format!(
            "procedural generator v{GENERATOR_VERSION}, recipe {} ({})",
            self.options.global_id(class),
            self.describe(class)
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Random numbers: ChaCha8's raw stream, turned into floats by us so nothing depends on `rand`'s
// distribution code.

const SALT_CLASS: u64 = 0x7465_7874_7572_6531; // "texture1"
const SALT_FAMILY: u64 = 0x6661_6d69_6c79_3031; // "family01"
const SALT_SAMPLE: u64 = 0x7361_6d70_6c65_3031; // "sample01"

/// SplitMix64's finaliser: a stable, well-mixed hash of a `u64`.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn class_seed(id: u64) -> u64 {
    mix(mix(id ^ SALT_CLASS) ^ u64::from(GENERATOR_VERSION))
}

fn family_seed(id: u64) -> u64 {
    mix(mix((id / FAMILY) ^ SALT_FAMILY) ^ u64::from(GENERATOR_VERSION))
}

/// Uniform draws from a ChaCha8 stream.
struct Draw(ChaCha8Rng);

impl Draw {
    fn new(seed: u64) -> Self {
        let mut key = [0u8; 32];
        for (i, chunk) in key.chunks_exact_mut(8).enumerate() {
            chunk.copy_from_slice(&mix(seed ^ ((i as u64) << 56)).to_le_bytes());
        }
        Self(ChaCha8Rng::from_seed(key))
    }

    /// Uniform in `[0, 1)`, 24 bits.
    fn unit(&mut self) -> f32 {
        (self.0.next_u32() >> 8) as f32 * (1.0 / 16_777_216.0)
    }

    /// Uniform in `[lo, hi)`.
    fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.unit()
    }

    /// Uniform in `[-bound, bound)`.
    fn signed(&mut self, bound: f32) -> f32 {
        bound * (2.0 * self.unit() - 1.0)
    }

    /// Uniform in `0..n`.
    fn below(&mut self, n: u32) -> u32 {
        ((u64::from(self.0.next_u32()) * u64::from(n)) >> 32) as u32
    }

    fn chance(&mut self, p: f32) -> bool {
        self.unit() < p
    }

    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }
}

/// `sin(2π t)` from basic arithmetic only (absolute error < 4e-6), so pixels are bit-identical
/// on every platform.
fn sin_turns(t: f32) -> f32 {
    // x in [-0.5, 0.5), then folded into [-0.25, 0.25] where the Taylor series converges fast.
    let mut x = t - (t + 0.5).floor();
    if x > 0.25 {
        x = 0.5 - x;
    } else if x < -0.25 {
        x = -0.5 - x;
    }
    let y = x * std::f32::consts::TAU;
    let y2 = y * y;
    y * (1.0 - y2 / 6.0 * (1.0 - y2 / 20.0 * (1.0 - y2 / 42.0 * (1.0 - y2 / 72.0))))
}

fn cos_turns(t: f32) -> f32 {
    sin_turns(t + 0.25)
}

fn smoothstep(f: f32) -> f32 {
    f * f * (3.0 - 2.0 * f)
}

// ---------------------------------------------------------------------------------------------
// Recipes.

/// Everything that defines a class. Lengths are in canvas widths, angles in turns.
#[derive(Clone, Debug)]
struct Recipe {
    primary: Layer,
    /// A weaker second layer of another family and its weight.
    secondary: Option<(Layer, f32)>,
    colouring: Colouring,
}

#[derive(Clone, Debug)]
enum Layer {
    Gratings(Gratings),
    Shapes(Shapes),
    Noise(Noise),
    Cells(Cells),
}

#[derive(Clone, Debug)]
struct Wave {
    /// Cycles per canvas width.
    frequency: f32,
    angle: f32,
    amplitude: f32,
}

#[derive(Clone, Debug)]
struct Gratings {
    waves: Vec<Wave>,
    /// 0 = sinusoids; larger = closer to square waves.
    sharpness: f32,
    rotation_jitter: f32,
    scale_jitter: f32,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum ShapeKind {
    Disc,
    Ring,
    Square,
    Bar,
}

#[derive(Clone, Debug)]
struct Shapes {
    kind: ShapeKind,
    /// Half the shape's longer side (radius of discs and rings).
    size: f32,
    size_spread: f32,
    /// Long over short side (squares and bars).
    aspect: f32,
    /// Ring thickness over radius.
    thickness: f32,
    /// Mean number of shapes per canvas.
    count: f32,
    /// A preferred orientation, or `None` for random orientations.
    angle: Option<f32>,
    rotation_jitter: f32,
    scale_jitter: f32,
    /// Lowest intensity of a shape (the brightest is 1).
    intensity_low: f32,
    background: f32,
}

#[derive(Clone, Debug)]
struct Noise {
    /// Correlation length (lattice cell side).
    cell: f32,
    /// Stretch of the cells along `angle` (≥ 1).
    anisotropy: f32,
    angle: f32,
    octaves: u32,
    /// Contrast around the threshold: high gains give hard-edged blobs.
    gain: f32,
    threshold: f32,
    /// Fold the noise around its mean into thin veins.
    ridged: bool,
    rotation_jitter: f32,
    scale_jitter: f32,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum CellMode {
    /// Bright blobs around the feature points.
    Blobs,
    /// Bright lines where two cells meet.
    Walls,
    /// Each cell flat-shaded with a random value.
    Mosaic,
}

#[derive(Clone, Debug)]
struct Cells {
    mode: CellMode,
    cell: f32,
    anisotropy: f32,
    angle: f32,
    /// How far a feature point may wander from its lattice cell's centre (1 = anywhere in it).
    irregularity: f32,
    gain: f32,
    threshold: f32,
    rotation_jitter: f32,
    scale_jitter: f32,
}

/// A colour in HSV, each component in `0..=1` (hue in turns).
#[derive(Clone, Copy, Debug)]
struct Hsv([f32; 3]);

#[derive(Clone, Debug)]
enum ColourMode {
    /// The pattern value indexes the palette.
    Mapped,
    /// A separate low-frequency field indexes the palette; the pattern sets brightness.
    Decoupled {
        /// Cycles per canvas width of the colour field.
        frequency: f32,
        /// Brightness where the pattern is 0.
        floor: f32,
    },
    /// A new palette for every sample: colour carries no class information.
    PerSample,
}

#[derive(Clone, Debug)]
struct Colouring {
    palette: Vec<Hsv>,
    mode: ColourMode,
}

impl Recipe {
    /// The recipe of global class `id`; siblings of a family may share a pattern or a colouring.
    fn generate(id: u64) -> Recipe {
        let mut own = Draw::new(class_seed(id));
        let mut family = Draw::new(family_seed(id));
        let sharing = family.below(10);
        let (pattern_rng, colour_rng) = match sharing {
            0..=3 => (None, None),
            4..=6 => (Some(&mut family), None),
            _ => (None, Some(&mut family)),
        };
        let shared_colour = colour_rng.is_some();
        let shared_pattern = pattern_rng.is_some();
        let (primary, secondary) = match pattern_rng {
            Some(rng) => pattern(rng),
            None => pattern(&mut own),
        };
        // Siblings that share a pattern must differ by colour, so their palette stays a class
        // property; siblings that share a colouring differ by pattern.
        let colouring = match colour_rng {
            Some(rng) => colouring(rng, false),
            None => colouring(&mut own, !shared_pattern),
        };
        debug_assert!(!(shared_colour && shared_pattern));
        Recipe {
            primary,
            secondary,
            colouring,
        }
    }

    fn describe(&self) -> String {
        let mut s = self.primary.describe();
        if let Some((layer, w)) = &self.secondary {
            s += &format!(" + {:.0}% {}", w * 100.0, layer.describe());
        }
        let mode = match self.colouring.mode {
            ColourMode::Mapped => "mapped",
            ColourMode::Decoupled { .. } => "decoupled",
            ColourMode::PerSample => "random",
        };
        format!("{s}, {mode} palette of {}", self.colouring.palette.len())
    }

    fn render(&self, d: &mut Draw, n: usize, jitter: &TextureJitter) -> SourceImage {
        let geometry = jitter.geometry_permille as f32 / 1000.0;
        let mut value = vec![0.0f32; n * n];
        self.primary.render(d, geometry, n, &mut value);
        if let Some((layer, weight)) = &self.secondary {
            let mut second = vec![0.0f32; n * n];
            layer.render(d, geometry, n, &mut second);
            for (v, s) in value.iter_mut().zip(&second) {
                *v = (1.0 - weight) * *v + weight * s;
            }
        }
        self.colouring.render(d, n, jitter, &value)
    }
}

fn pattern(d: &mut Draw) -> (Layer, Option<(Layer, f32)>) {
    let first = d.below(4);
    let primary = layer(d, first);
    let secondary = d.chance(0.35).then(|| {
        let other = (first + 1 + d.below(3)) % 4;
        (layer(d, other), d.range(0.2, 0.45))
    });
    (primary, secondary)
}

fn layer(d: &mut Draw, family: u32) -> Layer {
    match family {
        0 => {
            let count = 1 + d.below(3) as usize;
            let waves = (0..count)
                .map(|_| Wave {
                    frequency: d.range(1.5, 7.0),
                    angle: d.unit() * 0.5,
                    amplitude: d.range(0.3, 1.0),
                })
                .collect();
            Layer::Gratings(Gratings {
                waves,
                sharpness: if d.chance(0.4) {
                    d.range(1.0, 6.0)
                } else {
                    0.0
                },
                rotation_jitter: d.range(0.01, 0.08),
                scale_jitter: d.range(0.03, 0.15),
            })
        }
        1 => {
            let kind = [
                ShapeKind::Disc,
                ShapeKind::Ring,
                ShapeKind::Square,
                ShapeKind::Bar,
            ][d.below(4) as usize];
            let size = d.range(0.035, 0.16);
            let aspect = match kind {
                ShapeKind::Bar => d.range(2.5, 6.0),
                ShapeKind::Square => d.range(1.0, 1.6),
                _ => 1.0,
            };
            // As many shapes as cover 8–35 % of the canvas (rings count their whole disc), so
            // the canvas is neither empty nor full whatever their size.
            let area = match kind {
                ShapeKind::Disc => std::f32::consts::PI * size * size,
                ShapeKind::Ring => 0.7 * std::f32::consts::PI * size * size,
                ShapeKind::Square | ShapeKind::Bar => 4.0 * size * size / aspect,
            };
            let count = (d.range(0.08, 0.35) / area).clamp(2.0, 60.0);
            Layer::Shapes(Shapes {
                kind,
                size,
                size_spread: d.range(0.05, 0.35),
                aspect,
                thickness: d.range(0.25, 0.55),
                count,
                angle: d.chance(0.5).then(|| d.unit() * 0.5),
                rotation_jitter: d.range(0.01, 0.08),
                scale_jitter: d.range(0.03, 0.15),
                intensity_low: d.range(0.5, 1.0),
                background: d.range(0.0, 0.3),
            })
        }
        2 => Layer::Noise(Noise {
            cell: d.range(0.07, 0.35),
            anisotropy: if d.chance(0.5) {
                d.range(1.5, 4.0)
            } else {
                1.0
            },
            angle: d.unit() * 0.5,
            octaves: 1 + d.below(2),
            gain: d.range(1.5, 5.0),
            threshold: d.signed(0.15),
            ridged: d.chance(0.3),
            rotation_jitter: d.range(0.01, 0.08),
            scale_jitter: d.range(0.03, 0.15),
        }),
        _ => Layer::Cells(Cells {
            mode: [CellMode::Blobs, CellMode::Walls, CellMode::Mosaic][d.below(3) as usize],
            cell: d.range(0.12, 0.4),
            anisotropy: if d.chance(0.4) {
                d.range(1.3, 2.5)
            } else {
                1.0
            },
            angle: d.unit() * 0.5,
            irregularity: d.range(0.2, 1.0),
            gain: d.range(2.0, 6.0),
            threshold: d.range(0.1, 0.5),
            rotation_jitter: d.range(0.01, 0.08),
            scale_jitter: d.range(0.03, 0.15),
        }),
    }
}

fn palette(d: &mut Draw) -> Vec<Hsv> {
    let count = 2 + d.below(2) as usize;
    let hue = d.unit();
    // Analogous, complementary or triadic hues.
    let step = match d.below(3) {
        0 => d.signed(0.12),
        1 => 0.5 / (count - 1) as f32 + d.signed(0.04),
        _ => 1.0 / 3.0,
    };
    let grey = d.chance(0.1);
    let (dark, light) = (d.range(0.08, 0.4), d.range(0.6, 0.98));
    let mut colours: Vec<Hsv> = (0..count)
        .map(|i| {
            let t = i as f32 / (count - 1) as f32;
            let saturation = if grey {
                d.range(0.0, 0.12)
            } else {
                d.range(0.25, 0.95)
            };
            Hsv([
                (hue + step * i as f32).rem_euclid(1.0),
                saturation,
                dark + (light - dark) * t,
            ])
        })
        .collect();
    if d.chance(0.25) {
        colours.reverse();
    }
    colours
}

fn colouring(d: &mut Draw, may_be_random: bool) -> Colouring {
    let palette = palette(d);
    let roll = d.below(10);
    let mode = match roll {
        0..=5 => ColourMode::Mapped,
        6..=7 => ColourMode::Decoupled {
            frequency: d.range(0.5, 1.4),
            floor: d.range(0.2, 0.5),
        },
        _ if may_be_random => ColourMode::PerSample,
        _ => ColourMode::Mapped,
    };
    Colouring { palette, mode }
}

// ---------------------------------------------------------------------------------------------
// Rendering. Pattern layers write values in about `0..=1` into `[n, n]` row-major buffers.

/// Pixel centre `i` of `n` in canvas units.
fn centre(i: usize, n: usize) -> f32 {
    (i as f32 + 0.5) / n as f32
}

impl Layer {
    fn describe(&self) -> String {
        match self {
            Layer::Gratings(g) => format!("gratings({})", g.waves.len()),
            Layer::Shapes(s) => format!("shapes({:?})", s.kind).to_lowercase(),
            Layer::Noise(_) => "noise".into(),
            Layer::Cells(c) => format!("cells({:?})", c.mode).to_lowercase(),
        }
    }

    fn render(&self, d: &mut Draw, geometry: f32, n: usize, out: &mut [f32]) {
        match self {
            Layer::Gratings(g) => g.render(d, geometry, n, out),
            Layer::Shapes(s) => s.render(d, geometry, n, out),
            Layer::Noise(s) => s.render(d, geometry, n, out),
            Layer::Cells(c) => c.render(d, geometry, n, out),
        }
    }
}

impl Gratings {
    fn render(&self, d: &mut Draw, geometry: f32, n: usize, out: &mut [f32]) {
        let rotation = d.signed(self.rotation_jitter * geometry);
        let scale = 1.0 + d.signed(self.scale_jitter * geometry);
        out.fill(0.0);
        let mut total = 0.0;
        for wave in &self.waves {
            let amplitude = wave.amplitude * d.range(0.85, 1.15);
            let frequency = wave.frequency * scale;
            let angle = wave.angle + rotation;
            let phase = d.unit();
            add_wave(
                out,
                n,
                frequency * cos_turns(angle),
                frequency * sin_turns(angle),
                phase,
                amplitude,
            );
            total += amplitude;
        }
        let k = self.sharpness;
        for v in out.iter_mut() {
            let s = *v / total;
            // A soft clip that keeps ±1 at ±1 and steepens zero crossings as k grows.
            let s = s * (1.0 + k) / (1.0 + k * s.abs());
            *v = 0.5 + 0.5 * s;
        }
    }
}

impl Shapes {
    fn render(&self, d: &mut Draw, geometry: f32, n: usize, out: &mut [f32]) {
        out.fill(self.background);
        let rotation = d.signed(self.rotation_jitter * geometry);
        let scale = 1.0 + d.signed(self.scale_jitter * geometry);
        let count = (self.count * d.range(0.7, 1.3)).round().max(1.0) as usize;
        let px = n as f32;
        for _ in 0..count {
            let (cx, cy) = (d.range(-0.1, 1.1), d.range(-0.1, 1.1));
            let size = self.size * scale * (1.0 + d.signed(self.size_spread));
            let angle = match self.angle {
                Some(a) => a + rotation + d.signed(0.02 * geometry),
                None => d.unit(),
            };
            let intensity = d.range(self.intensity_low, 1.0);
            let (c, s) = (cos_turns(angle), sin_turns(angle));
            let (hx, hy) = (size, size / self.aspect);
            let thickness = self.thickness * size;
            // Everything in pixel units from here: distances below are in pixels.
            let reach = size * px + 1.5;
            let (cxp, cyp) = (cx * px, cy * px);
            let x0 = (cxp - reach).floor().max(0.0) as usize;
            let y0 = (cyp - reach).floor().max(0.0) as usize;
            let x1 = ((cxp + reach).ceil().max(0.0) as usize).min(n);
            let y1 = ((cyp + reach).ceil().max(0.0) as usize).min(n);
            for y in y0..y1 {
                let dy = y as f32 + 0.5 - cyp;
                for x in x0..x1 {
                    let dx = x as f32 + 0.5 - cxp;
                    let distance = match self.kind {
                        ShapeKind::Disc => (dx * dx + dy * dy).sqrt() - size * px,
                        ShapeKind::Ring => {
                            ((dx * dx + dy * dy).sqrt() - size * px).abs() - 0.5 * thickness * px
                        }
                        ShapeKind::Square | ShapeKind::Bar => {
                            let qx = (c * dx + s * dy).abs() - hx * px;
                            let qy = (c * dy - s * dx).abs() - hy * px;
                            let (ox, oy) = (qx.max(0.0), qy.max(0.0));
                            (ox * ox + oy * oy).sqrt() + qx.max(qy).min(0.0)
                        }
                    };
                    let coverage = (0.5 - distance).clamp(0.0, 1.0);
                    let v = &mut out[y * n + x];
                    *v += (intensity - *v).max(0.0) * coverage;
                }
            }
        }
    }
}

/// Adds `amplitude · sin(2π (kx·u + ky·v + phase))` to the `[n, n]` buffer `out`, `(u, v)` being
/// pixel centres in canvas units. `sin(a(u) + b(v)) = sin a cos b + cos a sin b` makes it cost 4n
/// sines, not n².
fn add_wave(out: &mut [f32], n: usize, kx: f32, ky: f32, phase: f32, amplitude: f32) {
    let columns: Vec<(f32, f32)> = (0..n)
        .map(|x| {
            let a = kx * centre(x, n) + phase;
            (amplitude * sin_turns(a), amplitude * cos_turns(a))
        })
        .collect();
    for (y, row) in out.chunks_exact_mut(n).enumerate() {
        let b = ky * centre(y, n);
        let (sin_b, cos_b) = (sin_turns(b), cos_turns(b));
        for (v, &(sin_a, cos_a)) in row.iter_mut().zip(&columns) {
            *v += sin_a * cos_b + cos_a * sin_b;
        }
    }
}

/// A rotated, anisotropic square lattice laid over the canvas, with values at its nodes.
///
/// Lattice coordinates of canvas points are at least 1, and node `(ix + 1, iy + 1)` exists for
/// every point, so that bilinear lookups and 3×3 neighbourhoods never leave the grid.
struct Lattice {
    /// Canvas → lattice: `x' = ax·u + bx·v + ox`, `y' = ay·u + by·v + oy`.
    ax: f32,
    bx: f32,
    ay: f32,
    by: f32,
    ox: f32,
    oy: f32,
    nx: usize,
    ny: usize,
}

impl Lattice {
    /// Cells `cell · √anisotropy` long along `angle` and `cell / √anisotropy` across, shifted
    /// by a random fraction of a cell.
    fn new(d: &mut Draw, cell: f32, anisotropy: f32, angle: f32) -> Self {
        let stretch = anisotropy.sqrt();
        let (cx, cy) = (cell * stretch, cell / stretch);
        let (c, s) = (cos_turns(angle), sin_turns(angle));
        let (ax, bx, ay, by) = (c / cx, s / cx, -s / cy, c / cy);
        let corners = [(0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0)];
        let span = |a: f32, b: f32| {
            corners
                .iter()
                .fold((f32::MAX, f32::MIN), |(lo, hi), &(u, v)| {
                    let t = a * u + b * v;
                    (lo.min(t), hi.max(t))
                })
        };
        let (x_lo, x_hi) = span(ax, bx);
        let (y_lo, y_hi) = span(ay, by);
        let ox = 1.25 - x_lo + d.unit();
        let oy = 1.25 - y_lo + d.unit();
        Self {
            ax,
            bx,
            ay,
            by,
            ox,
            oy,
            nx: (x_hi - x_lo).ceil() as usize + 4,
            ny: (y_hi - y_lo).ceil() as usize + 4,
        }
    }

    fn coords(&self, u: f32, v: f32) -> (f32, f32) {
        (
            self.ax * u + self.bx * v + self.ox,
            self.ay * u + self.by * v + self.oy,
        )
    }

    /// One uniform value per node.
    fn values(&self, d: &mut Draw) -> Vec<f32> {
        (0..self.nx * self.ny).map(|_| d.unit()).collect()
    }

    /// Smooth (smoothstep-bilinear) interpolation of node `values` at canvas point `(u, v)`.
    fn sample(&self, values: &[f32], u: f32, v: f32) -> f32 {
        let (gx, gy) = self.coords(u, v);
        let (ix, iy) = (gx as usize, gy as usize);
        let (fx, fy) = (smoothstep(gx - ix as f32), smoothstep(gy - iy as f32));
        let i = iy * self.nx + ix;
        let top = values[i] + (values[i + 1] - values[i]) * fx;
        let bottom = values[i + self.nx] + (values[i + self.nx + 1] - values[i + self.nx]) * fx;
        top + (bottom - top) * fy
    }
}

impl Noise {
    fn render(&self, d: &mut Draw, geometry: f32, n: usize, out: &mut [f32]) {
        let angle = self.angle + d.signed(self.rotation_jitter * geometry);
        let cell = self.cell * (1.0 + d.signed(self.scale_jitter * geometry));
        let octaves: Vec<(Lattice, Vec<f32>, f32)> = (0..self.octaves)
            .map(|o| {
                let lattice = Lattice::new(d, cell / (1 << o) as f32, self.anisotropy, angle);
                let values = lattice.values(d);
                (lattice, values, 1.0 / (1 << o) as f32)
            })
            .collect();
        let norm: f32 = octaves.iter().map(|o| o.2).sum();
        for (y, row) in out.chunks_exact_mut(n).enumerate() {
            let v = centre(y, n);
            for (x, out) in row.iter_mut().enumerate() {
                let u = centre(x, n);
                let mut noise = 0.0;
                for (lattice, values, weight) in &octaves {
                    noise += weight * lattice.sample(values, u, v);
                }
                let mut noise = noise / norm;
                if self.ridged {
                    // Veins where the noise crosses its mean.
                    noise = 1.0 - 2.0 * (noise - 0.5).abs();
                    noise = noise * noise;
                }
                *out = 0.5 + self.gain * (noise - 0.5 - self.threshold);
            }
        }
    }
}

impl Cells {
    fn render(&self, d: &mut Draw, geometry: f32, n: usize, out: &mut [f32]) {
        let angle = self.angle + d.signed(self.rotation_jitter * geometry);
        let cell = self.cell * (1.0 + d.signed(self.scale_jitter * geometry));
        let lattice = Lattice::new(d, cell, self.anisotropy, angle);
        // One feature point per node (offset within its cell) and one shade per cell.
        let points: Vec<(f32, f32, f32)> = (0..lattice.nx * lattice.ny)
            .map(|i| {
                let (x, y) = ((i % lattice.nx) as f32, (i / lattice.nx) as f32);
                (
                    x + 0.5 + self.irregularity * (d.unit() - 0.5),
                    y + 0.5 + self.irregularity * (d.unit() - 0.5),
                    d.unit(),
                )
            })
            .collect();
        for (y, row) in out.chunks_exact_mut(n).enumerate() {
            let v = centre(y, n);
            for (x, out) in row.iter_mut().enumerate() {
                let (gx, gy) = lattice.coords(centre(x, n), v);
                let (ix, iy) = (gx as usize, gy as usize);
                let (mut f1, mut f2, mut shade) = (f32::MAX, f32::MAX, 0.0);
                for jy in iy - 1..=iy + 1 {
                    let start = jy * lattice.nx + ix - 1;
                    for &(px, py, s) in &points[start..start + 3] {
                        let d2 = (gx - px) * (gx - px) + (gy - py) * (gy - py);
                        // Branch-free: the nearest point changes unpredictably.
                        shade = if d2 < f1 { s } else { shade };
                        f2 = f2.min(f1.max(d2));
                        f1 = f1.min(d2);
                    }
                }
                let (f1, f2) = (f1.sqrt(), f2.sqrt());
                *out = match self.mode {
                    CellMode::Blobs => 1.0 - self.gain * (f1 - self.threshold),
                    CellMode::Walls => 1.0 - self.gain * 0.5 * (f2 - f1),
                    CellMode::Mosaic => shade,
                };
            }
        }
    }
}

fn hsv_to_rgb(Hsv([h, s, v]): Hsv) -> [f32; 3] {
    let h6 = h.rem_euclid(1.0) * 6.0;
    let sector = (h6 as usize).min(5);
    let f = h6 - sector as f32;
    let (p, q, t) = (v * (1.0 - s), v * (1.0 - s * f), v * (1.0 - s * (1.0 - f)));
    match sector {
        0 => [v, t, p],
        1 => [q, v, p],
        2 => [p, v, t],
        3 => [p, q, v],
        4 => [t, p, v],
        _ => [v, p, q],
    }
}

/// The colour at `t` in `0..=1` along a gradient through `colours` (at least 2).
fn gradient(colours: &[[f32; 3]], t: f32) -> [f32; 3] {
    let t = t.clamp(0.0, 1.0) * (colours.len() - 1) as f32;
    let i = (t as usize).min(colours.len() - 2);
    let f = t - i as f32;
    let (a, b) = (colours[i], colours[i + 1]);
    [
        a[0] + (b[0] - a[0]) * f,
        a[1] + (b[1] - a[1]) * f,
        a[2] + (b[2] - a[2]) * f,
    ]
}

impl Colouring {
    /// Maps the pattern `value` (`[n, n]`) to RGB and applies the photometric jitter and noise.
    fn render(&self, d: &mut Draw, n: usize, jitter: &TextureJitter, value: &[f32]) -> SourceImage {
        let colour = jitter.colour_permille as f32 / 1000.0;
        let photometric = jitter.photometric_permille as f32 / 1000.0;
        let drawn;
        let palette = match self.mode {
            ColourMode::PerSample => {
                drawn = palette(d);
                &drawn
            }
            _ => &self.palette,
        };
        let hue_shift = d.signed(0.05 * colour);
        let saturation = 1.0 + d.signed(0.2 * colour);
        let colours: Vec<[f32; 3]> = palette
            .iter()
            .map(|&Hsv([h, s, v])| {
                hsv_to_rgb(Hsv([h + hue_shift, (s * saturation).clamp(0.0, 1.0), v]))
            })
            .collect();
        // The colour field of decoupled colourings: two slow waves at random orientations.
        let field = match self.mode {
            ColourMode::Decoupled { frequency, floor } => {
                let mut field = vec![0.5f32; n * n];
                for _ in 0..2 {
                    let angle = d.unit();
                    let f = frequency * d.range(0.8, 1.25);
                    let phase = d.unit();
                    add_wave(
                        &mut field,
                        n,
                        f * cos_turns(angle),
                        f * sin_turns(angle),
                        phase,
                        0.25,
                    );
                }
                Some((field, floor))
            }
            _ => None,
        };
        let contrast = 1.0 + d.signed(photometric);
        let brightness = d.signed(photometric);
        let (tilt_x, tilt_y) = (d.signed(photometric), d.signed(photometric));
        // Triangular noise (sum of two uniforms, standard deviation 1/√6) scaled to the requested
        // standard deviation.
        let noise = jitter.noise_permille as f32 / 1000.0 * 6f32.sqrt();
        let mut state = d.next_u64();
        let plane = n * n;
        let mut pixels = vec![0.0f32; 3 * plane];
        let (red, rest) = pixels.split_at_mut(plane);
        let (green, blue) = rest.split_at_mut(plane);
        let mut put = |i: usize, [r, g, b]: [f32; 3]| {
            red[i] = r;
            green[i] = g;
            blue[i] = b;
        };
        match &field {
            Some((field, floor)) => {
                for (i, (&v, &f)) in value.iter().zip(field).enumerate() {
                    let c = gradient(&colours, f);
                    let shade = floor + (1.0 - floor) * v.clamp(0.0, 1.0);
                    put(i, [c[0] * shade, c[1] * shade, c[2] * shade]);
                }
            }
            None => {
                for (i, &v) in value.iter().enumerate() {
                    put(i, gradient(&colours, v));
                }
            }
        }
        let light_x: Vec<f32> = (0..n).map(|x| tilt_x * (centre(x, n) - 0.5)).collect();
        for y in 0..n {
            let light = 0.5 + brightness + tilt_y * (centre(y, n) - 0.5);
            for (x, light_x) in light_x.iter().enumerate() {
                let i = y * n + x;
                // One 64-bit draw per pixel: three triangular values from pairs of 10-bit
                // uniforms (quantised to 1/1024 of the noise amplitude).
                state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
                let mut r = mix(state);
                for channel in [&mut red[i], &mut green[i], &mut blue[i]] {
                    let tri = ((r & 0x3FF) + ((r >> 10) & 0x3FF) + 1) as f32 / 1024.0 - 1.0;
                    r >>= 20;
                    let out = (*channel - 0.5) * contrast + light + light_x + noise * tri;
                    *channel = out.clamp(0.0, 1.0);
                }
            }
        }
        SourceImage {
            channels: 3,
            width: n,
            height: n,
            pixels,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::{Task, TaskSpec};
    use proptest::prelude::*;

    fn small() -> ProceduralSpec {
        ProceduralSpec {
            name: "small".into(),
            classes: 12,
            samples_per_class: 40,
            ..ProceduralSpec::meta_train()
        }
    }

    #[test]
    fn sine_is_accurate() {
        for i in -2000..=2000 {
            let t = i as f32 / 997.0;
            let exact = (t * std::f32::consts::TAU).sin();
            assert!((sin_turns(t) - exact).abs() < 1e-5, "{t}");
            assert!((cos_turns(t) - (t * std::f32::consts::TAU).cos()).abs() < 1e-5);
        }
    }

    #[test]
    fn images_are_deterministic_rgb_in_range() {
        let a = ProceduralSource::open(&small()).unwrap();
        let b = ProceduralSource::open(&small()).unwrap();
        assert_eq!(a.channels(), 3);
        assert_eq!(a.num_classes(), 12);
        assert_eq!(a.num_samples(5), 40);
        for class in 0..12 {
            let image = a.image(class, 7).unwrap();
            assert_eq!((image.channels, image.height, image.width), (3, 32, 32));
            assert_eq!(image.pixels.len(), 3 * 32 * 32);
            assert!(image.pixels.iter().all(|v| (0.0..=1.0).contains(v)));
            assert_eq!(image, b.image(class, 7).unwrap());
            assert_ne!(image, a.image(class, 8).unwrap());
            let (lo, hi) = image
                .pixels
                .iter()
                .fold((1.0f32, 0.0f32), |(lo, hi), &v| (lo.min(v), hi.max(v)));
            assert!(
                hi - lo > 0.1,
                "class {class} renders a pattern ({lo}..{hi})"
            );
        }
        // Call order does not matter.
        assert_eq!(a.image(3, 1).unwrap(), b.image(3, 1).unwrap());
    }

    #[test]
    fn classes_are_global_ids() {
        let train = ProceduralSource::open(&ProceduralSpec::meta_train()).unwrap();
        let test = ProceduralSource::open(&ProceduralSpec::meta_test()).unwrap();
        assert_eq!(train.class_names()[123], "tex-000123");
        assert_eq!(test.class_names()[0], "tex-1000000");
        let names: std::collections::HashSet<_> = train.class_names().iter().collect();
        assert!(test.class_names().iter().all(|name| !names.contains(name)));
        // A shifted range renders the same class at the same global id.
        let shifted = ProceduralSource::open(&ProceduralSpec {
            first_class: 120,
            classes: 10,
            ..ProceduralSpec::meta_train()
        })
        .unwrap();
        assert_eq!(shifted.image(3, 9).unwrap(), train.image(123, 9).unwrap());
        assert_eq!(
            shifted.class_fingerprint(3).unwrap(),
            train.class_fingerprint(123).unwrap()
        );
        assert!(train
            .class_origin(5)
            .starts_with("procedural generator v1, recipe 5 ("));
    }

    #[test]
    fn fingerprints_are_stable_and_sensitive() {
        let source = ProceduralSource::open(&small()).unwrap();
        // Pinned: a changed value means the images changed, so GENERATOR_VERSION must be bumped.
        assert_eq!(source.class_fingerprint(0).unwrap(), "1169759d45c85a5b");
        assert_ne!(
            source.class_fingerprint(0).unwrap(),
            source.class_fingerprint(1).unwrap()
        );
        let moved = ProceduralSource::open(&ProceduralSpec {
            first_class: 1,
            ..small()
        })
        .unwrap();
        assert_eq!(
            moved.class_fingerprint(0).unwrap(),
            source.class_fingerprint(1).unwrap()
        );
        assert_ne!(
            moved.class_fingerprint(0).unwrap(),
            source.class_fingerprint(0).unwrap()
        );
        for changed in [
            ProceduralSpec {
                canvas: 24,
                ..small()
            },
            ProceduralSpec {
                samples_per_class: 41,
                ..small()
            },
            ProceduralSpec {
                jitter: TextureJitter {
                    noise_permille: 51,
                    ..TextureJitter::default()
                },
                ..small()
            },
        ] {
            let other = ProceduralSource::open(&changed).unwrap();
            assert_ne!(
                other.class_fingerprint(0).unwrap(),
                source.class_fingerprint(0).unwrap()
            );
        }
        let renamed = ProceduralSource::open(&ProceduralSpec {
            name: "other".into(),
            ..small()
        })
        .unwrap();
        assert_eq!(
            renamed.class_fingerprint(4).unwrap(),
            source.class_fingerprint(4).unwrap()
        );
    }

    #[test]
    fn bad_options_are_typed_errors() {
        let open = |spec: ProceduralSpec| ProceduralSource::open(&spec).unwrap_err();
        assert!(matches!(
            open(ProceduralSpec {
                canvas: 3,
                ..small()
            }),
            Error::BadProceduralCanvas(3)
        ));
        assert!(matches!(
            open(ProceduralSpec {
                canvas: 4096,
                ..small()
            }),
            Error::BadProceduralCanvas(4096)
        ));
        for classes in [0, 1] {
            assert!(matches!(
                open(ProceduralSpec { classes, ..small() }),
                Error::BadProceduralClasses(c) if c == classes
            ));
        }
        assert!(matches!(
            open(ProceduralSpec {
                samples_per_class: 0,
                ..small()
            }),
            Error::ZeroProceduralSamples
        ));
        assert!(matches!(
            open(ProceduralSpec {
                first_class: u64::MAX - 5,
                ..small()
            }),
            Error::ProceduralClassIdOverflow { classes: 12, .. }
        ));
        assert!(matches!(
            open(ProceduralSpec {
                jitter: TextureJitter {
                    photometric_permille: 1001,
                    ..TextureJitter::default()
                },
                ..small()
            }),
            Error::ProceduralJitterTooLarge {
                knob: "photometric_permille",
                value: 1001,
                max: 1000
            }
        ));
        // The largest valid first class works.
        let last = ProceduralSource::open(&ProceduralSpec {
            first_class: u64::MAX - 12,
            ..small()
        })
        .unwrap();
        assert!(last.image(11, 0).is_ok());
    }

    #[test]
    fn spec_serialises_and_defaults() {
        let spec: SourceSpec = serde_json::from_str(r#"{"kind":"procedural"}"#).unwrap();
        assert_eq!(spec, SourceSpec::Procedural(ProceduralSpec::meta_train()));
        assert_eq!(spec.name(), "procedural:train");
        let test = SourceSpec::Procedural(ProceduralSpec::meta_test());
        let json = serde_json::to_string(&test).unwrap();
        assert_eq!(serde_json::from_str::<SourceSpec>(&json).unwrap(), test);
    }

    #[test]
    fn families_share_patterns_or_colours() {
        // Over many families, some siblings share a pattern and some a colouring; every family
        // family still has four distinct classes.
        let source = ProceduralSource::open(&ProceduralSpec {
            classes: 400,
            samples_per_class: 2,
            ..ProceduralSpec::meta_train()
        })
        .unwrap();
        let mut kinds = [0; 3];
        for family in 0..100 {
            kinds[Draw::new(family_seed(family * FAMILY)).below(10) as usize * 3 / 10] += 1;
            let first = source.image(family as usize * 4, 0).unwrap();
            for sibling in 1..4 {
                assert_ne!(
                    first,
                    source.image(family as usize * 4 + sibling, 0).unwrap()
                );
            }
        }
        assert!(kinds.iter().all(|&k| k > 15), "{kinds:?}");
    }

    /// Nearest-class-mean accuracy on 16×16 RGB pixels: a quick proxy of task difficulty.
    fn nearest_mean_accuracy(source: &ProceduralSource, classes: Vec<usize>, seed: u64) -> f64 {
        let spec =
            TaskSpec::new(source.spec().clone(), classes, 50, 100, 16, seed).with_channels(3);
        let task = Task::from_source(&spec, source).unwrap();
        let way = task.way();
        let dim = task.train.data.len() / task.train.len();
        let mut means = vec![vec![0.0f64; dim]; way];
        for i in 0..task.train.len() {
            for (m, &v) in means[task.train.labels[i]]
                .iter_mut()
                .zip(task.train.image(i))
            {
                *m += f64::from(v) / 50.0;
            }
        }
        let correct = (0..task.test.len())
            .filter(|&i| {
                let image = task.test.image(i);
                let distance = |m: &Vec<f64>| -> f64 {
                    m.iter()
                        .zip(image)
                        .map(|(a, &b)| (a - f64::from(b)).powi(2))
                        .sum()
                };
                let best = (0..way)
                    .min_by(|&a, &b| distance(&means[a]).total_cmp(&distance(&means[b])))
                    .unwrap();
                best == task.test.labels[i]
            })
            .count();
        correct as f64 / task.test.len() as f64
    }

    fn proxy(spec: &ProceduralSpec, subsets: u64) -> Vec<f64> {
        let source = ProceduralSource::open(spec).unwrap();
        (0..subsets)
            .map(|seed| {
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                let classes = crate::sampling::sample_distinct(&mut rng, spec.classes, 10);
                nearest_mean_accuracy(&source, classes, seed)
            })
            .collect()
    }

    #[test]
    fn tasks_are_neither_saturated_nor_hopeless() {
        let accuracy = proxy(&ProceduralSpec::meta_test(), 1)[0];
        assert!((0.2..=0.9).contains(&accuracy), "{accuracy}");
    }

    /// `cargo test --release -p datasets procedural::tests::difficulty_proxy -- --ignored --nocapture`
    #[test]
    #[ignore = "prints calibration numbers; run in release"]
    fn difficulty_proxy() {
        for spec in [ProceduralSpec::meta_train(), ProceduralSpec::meta_test()] {
            let accuracies = proxy(&spec, 5);
            let mean = accuracies.iter().sum::<f64>() / accuracies.len() as f64;
            eprintln!(
                "{}: nearest-class-mean 10-way accuracy {mean:.3} over {:?}",
                spec.name,
                accuracies
                    .iter()
                    .map(|a| (a * 1000.0).round() / 1000.0)
                    .collect::<Vec<_>>()
            );
        }
    }

    #[test]
    fn pixels_are_pinned() {
        // Pixels of a few classes of each preset: a change here means the generator changed, so
        // GENERATOR_VERSION must be bumped (and this value updated).
        let mut h = Fingerprinter::new();
        for spec in [ProceduralSpec::meta_train(), ProceduralSpec::meta_test()] {
            let source = ProceduralSource::open(&spec).unwrap();
            for class in [0, 1, 2, 3, 17, 42] {
                h.update_image(&source.image(class, 5).unwrap());
            }
        }
        assert_eq!(h.finish(), "6a69543bb68d93a4");
    }

    /// `cargo test --release -p datasets procedural::tests::throughput -- --ignored --nocapture`
    #[test]
    #[ignore = "prints a throughput; run in release"]
    fn throughput() {
        // User CPU time of this thread, from /proc (Linux; clock ticks of 10 ms).
        let cpu = || {
            std::fs::read_to_string("/proc/thread-self/stat")
                .ok()
                .and_then(|stat| {
                    let fields: Vec<&str> = stat.rsplit(')').next()?.split_whitespace().collect();
                    Some(fields.get(11)?.parse::<f64>().ok()? / 100.0)
                })
        };
        let source = ProceduralSource::open(&ProceduralSpec::meta_train()).unwrap();
        let cpu_start = cpu();
        let start = std::time::Instant::now();
        let mut count = 0;
        let mut checksum = 0.0f32;
        for class in 0..200 {
            for sample in 0..200 {
                checksum += source.image(class, sample).unwrap().pixels[17];
                count += 1;
            }
        }
        let seconds = start.elapsed().as_secs_f64();
        eprintln!(
            "{count} images of 32×32 in {seconds:.2} s: {:.0} images/s (checksum {checksum})",
            count as f64 / seconds
        );
        if let (Some(a), Some(b)) = (cpu_start, cpu()) {
            eprintln!("  {:.0} images per CPU second", count as f64 / (b - a));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn any_small_spec_renders_in_range(
            first_class in prop_oneof![0u64..1000, (u64::MAX - 1000)..(u64::MAX - 10)],
            canvas in 4usize..40,
            geometry in 0u32..=3000,
            colour in 0u32..=3000,
            photometric in 0u32..=1000,
            noise in 0u32..=1000,
            class in 0usize..5,
            sample in 0usize..1000,
        ) {
            let spec = ProceduralSpec {
                name: "prop".into(),
                first_class,
                classes: 5,
                samples_per_class: 1000,
                canvas,
                jitter: TextureJitter {
                    geometry_permille: geometry,
                    colour_permille: colour,
                    photometric_permille: photometric,
                    noise_permille: noise,
                },
            };
            let source = ProceduralSource::open(&spec).unwrap();
            let image = source.image(class, sample).unwrap();
            prop_assert_eq!((image.channels, image.height, image.width), (3, canvas, canvas));
            prop_assert!(image.pixels.iter().all(|v| (0.0..=1.0).contains(v)));
        }
    }
}
