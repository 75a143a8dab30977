//! Glyph source: characters rendered from installed fonts, one class per character.
//!
//! Why `ab_glyph`: it is maintained (used by `glyph_brush`, `imageproc`, `egui`), pure Rust, and —
//! unlike `fontdue`, whose rasteriser only takes a pixel size — it hands out a glyph's raw outline
//! curves. We transform those curves with our own affine jitter (rotation, shear, scale, shift)
//! and fill them with its companion `ab_glyph_rasterizer`, so every sample is an exact, anti-aliased
//! rendering of a transformed outline rather than a resampled bitmap.
//!
//! Sample `s` of a class drawn by fonts `f_0 .. f_{m-1}` is variant `s / m` in font `f_{s % m}`;
//! its jitter comes from a random generator seeded by the character, the font's file name and the
//! variant, so an image depends on nothing else: not on the order of calls, not on other fonts.

use std::path::PathBuf;

use ab_glyph::{point, Font, GlyphId, OutlineCurve, Point};
use ab_glyph_rasterizer::Rasterizer;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::error::{Error, Result};
use crate::fonts::{discover_fonts, LoadedFont};
use crate::gray::SourceImage;
use crate::scripts::Script;
use crate::source::{Source, SourceSpec};

/// Options of the glyph source. Every field has a default, so `{}` is a valid JSON spec.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct GlyphsSpec {
    /// Character sets; their characters become classes in this order (duplicates dropped).
    pub scripts: Vec<Script>,
    /// Keep only fonts whose file name contains one of these (case-insensitive); empty = all.
    pub fonts: Vec<String>,
    /// Drop fonts whose file name contains one of these (case-insensitive).
    pub exclude_fonts: Vec<String>,
    /// A character is a class only if at least this many fonts draw it (0 counts as 1).
    pub min_fonts: usize,
    /// Side of the rendered square image, in pixels (at least 4).
    pub canvas: usize,
    /// Distinct jittered renderings per (character, font) pair (at least 1).
    pub variants_per_font: usize,
    /// Random affine jitter applied to each rendering.
    pub jitter: Jitter,
}

impl Default for GlyphsSpec {
    fn default() -> Self {
        Self {
            scripts: Script::defaults(),
            fonts: Vec::new(),
            exclude_fonts: Vec::new(),
            min_fonts: 4,
            canvas: 32,
            variants_per_font: 64,
            jitter: Jitter::default(),
        }
    }
}

/// Ranges of the random affine jitter; each quantity is drawn uniformly from `-max..=max`.
///
/// Integers (percent, degrees) keep specs hashable and exactly reproducible.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Jitter {
    /// Relative change of the glyph size, in percent.
    pub size_percent: u32,
    /// Rotation, in degrees.
    pub rotation_degrees: u32,
    /// Horizontal shear, in percent (x += shear · y).
    pub shear_percent: u32,
    /// Translation of each axis, in percent of the canvas.
    pub shift_percent: u32,
}

impl Default for Jitter {
    fn default() -> Self {
        Self {
            size_percent: 15,
            rotation_degrees: 10,
            shear_percent: 15,
            shift_percent: 6,
        }
    }
}

impl Jitter {
    /// No jitter: every variant of a (character, font) pair renders the same.
    pub const NONE: Jitter = Jitter {
        size_percent: 0,
        rotation_degrees: 0,
        shear_percent: 0,
        shift_percent: 0,
    };
}

/// The em square spans this fraction of the canvas (before size jitter).
const EM_FRACTION: f32 = 0.75;
/// Blank border kept around a glyph that had to be shrunk or moved to fit, in pixels.
const MARGIN: f32 = 1.0;

/// Characters rendered from fonts, lazily: an image is rendered when asked for.
#[derive(Debug)]
pub struct GlyphSource {
    spec: SourceSpec,
    options: GlyphsSpec,
    class_names: Vec<String>,
    chars: Vec<char>,
    /// Per class: the fonts (indices into `fonts`) drawing it, with the glyph id in each.
    class_fonts: Vec<Vec<(usize, GlyphId)>>,
    fonts: Vec<LoadedFont>,
    font_dirs: Vec<PathBuf>,
}

impl GlyphSource {
    /// Discovers fonts under `font_dirs` and keeps the characters drawn by at least
    /// `options.min_fonts` of them.
    ///
    /// Errors: a canvas under 4 pixels, zero variants, an unreadable font folder or file, or
    /// fewer than 2 classes.
    pub fn open(options: &GlyphsSpec, font_dirs: &[PathBuf]) -> Result<Self> {
        if options.canvas < 4 {
            return Err(Error::GlyphCanvasTooSmall(options.canvas));
        }
        if options.variants_per_font == 0 {
            return Err(Error::ZeroGlyphVariants);
        }
        let mut candidates = Vec::new();
        for script in &options.scripts {
            for c in script.chars() {
                if !candidates.contains(&c) {
                    candidates.push(c);
                }
            }
        }
        let wanted = |name: &str| {
            let name = name.to_lowercase();
            (options.fonts.is_empty()
                || options
                    .fonts
                    .iter()
                    .any(|f| name.contains(&f.to_lowercase())))
                && !options
                    .exclude_fonts
                    .iter()
                    .any(|f| name.contains(&f.to_lowercase()))
        };
        let mut fonts = Vec::new();
        let mut coverage: Vec<Vec<(usize, GlyphId)>> = vec![Vec::new(); candidates.len()];
        for path in discover_fonts(font_dirs)? {
            let name = path
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
            if !wanted(&name) {
                continue;
            }
            let font = LoadedFont::open(&path)?;
            let mut used = false;
            for (k, &c) in candidates.iter().enumerate() {
                if let Some(id) = font.drawable_glyph(c) {
                    coverage[k].push((fonts.len(), id));
                    used = true;
                }
            }
            // Only fonts that draw a candidate stay in memory.
            if used {
                fonts.push(font);
            }
        }
        let min_fonts = options.min_fonts.max(1);
        let mut chars = Vec::new();
        let mut class_fonts = Vec::new();
        for (c, drawn_by) in candidates.into_iter().zip(coverage) {
            if drawn_by.len() >= min_fonts {
                chars.push(c);
                class_fonts.push(drawn_by);
            }
        }
        if chars.len() < 2 {
            return Err(Error::TooFewGlyphClasses {
                found: chars.len(),
                min_fonts,
                dirs: font_dirs.to_vec(),
            });
        }
        Ok(Self {
            spec: SourceSpec::Glyphs(options.clone()),
            options: options.clone(),
            class_names: chars.iter().map(|c| c.to_string()).collect(),
            chars,
            class_fonts,
            fonts,
            font_dirs: font_dirs.to_vec(),
        })
    }

    /// The character of each class.
    pub fn chars(&self) -> &[char] {
        &self.chars
    }

    /// File names (without extension) of the fonts drawing `class`, in sample-group order.
    pub fn font_names(&self, class: usize) -> Vec<&str> {
        self.class_fonts[class]
            .iter()
            .map(|&(f, _)| self.fonts[f].name.as_str())
            .collect()
    }

    /// Number of fonts that draw at least one class.
    pub fn num_fonts(&self) -> usize {
        self.fonts.len()
    }

    /// The folders fonts were searched in.
    pub fn font_dirs(&self) -> &[PathBuf] {
        &self.font_dirs
    }

    /// Renders glyph `id` of `font` on a `canvas`-pixel square, with the jitter drawn from `seed`.
    fn render(&self, font: &LoadedFont, id: GlyphId, seed: u64) -> SourceImage {
        let canvas = self.options.canvas;
        let side = canvas as f32;
        let mut pixels = vec![0.0; canvas * canvas];
        let Some(outline) = font.font.outline(id) else {
            return SourceImage::gray(canvas, canvas, pixels);
        };
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut uniform = || rng.random::<f32>() * 2.0 - 1.0;
        let j = self.options.jitter;
        let size = EM_FRACTION * side * (1.0 + uniform() * j.size_percent as f32 / 100.0);
        let angle = (uniform() * j.rotation_degrees as f32).to_radians();
        let shear = uniform() * j.shear_percent as f32 / 100.0;
        let shift_x = uniform() * j.shift_percent as f32 / 100.0 * side;
        let shift_y = uniform() * j.shift_percent as f32 / 100.0 * side;

        let units_per_em = font.font.units_per_em().unwrap_or(1000.0);
        let scale = size / units_per_em;
        // Font units (y up) → pixels (y down), about the glyph's bounding-box centre, which lands
        // at the canvas centre (plus shift). Fonts disagree on where the baseline sits in the em
        // box (compare Latin and Arabic fonts), so centring on the ink frames every script alike;
        // the size stays em-based, so `o` is still smaller than `O`.
        let b = outline.bounds;
        let anchor = point((b.min.x + b.max.x) / 2.0, (b.min.y + b.max.y) / 2.0);
        let (sin, cos) = angle.sin_cos();
        let centre = point(side / 2.0 + shift_x, side / 2.0 + shift_y);
        let transform = |p: Point| {
            let x = (p.x - anchor.x) * scale;
            let y = -(p.y - anchor.y) * scale;
            let x = x + shear * y;
            point(cos * x - sin * y + centre.x, sin * x + cos * y + centre.y)
        };
        let mut curves: Vec<OutlineCurve> = outline
            .curves
            .iter()
            .map(|c| map_curve(c, &transform))
            .collect();
        fit_into_canvas(&mut curves, side);

        let mut rasterizer = Rasterizer::new(canvas, canvas);
        for curve in &curves {
            match *curve {
                OutlineCurve::Line(a, b) => rasterizer.draw_line(a, b),
                OutlineCurve::Quad(a, b, c) => rasterizer.draw_quad(a, b, c),
                OutlineCurve::Cubic(a, b, c, d) => rasterizer.draw_cubic(a, b, c, d),
            }
        }
        rasterizer.for_each_pixel(|i, alpha| pixels[i] = alpha.min(1.0));
        SourceImage::gray(canvas, canvas, pixels)
    }
}

impl Source for GlyphSource {
    fn spec(&self) -> &SourceSpec {
        &self.spec
    }

    fn class_names(&self) -> &[String] {
        &self.class_names
    }

    fn num_samples(&self, class: usize) -> usize {
        self.class_fonts[class].len() * self.options.variants_per_font
    }

    fn num_groups(&self, class: usize) -> usize {
        self.class_fonts[class].len()
    }

    fn group(&self, class: usize, sample: usize) -> usize {
        sample % self.class_fonts[class].len()
    }

    /// The fonts drawing the class, in sample order: each font file's SHA-256 and glyph id.
    fn class_fingerprint(&self, class: usize) -> Result<String> {
        let mut h = crate::fingerprint::Fingerprinter::new();
        for &(f, id) in &self.class_fonts[class] {
            h.update(self.fonts[f].digest.as_bytes());
            h.update(&id.0.to_le_bytes());
        }
        Ok(h.finish())
    }

    fn class_origin(&self, class: usize) -> String {
        format!("fonts {}", self.font_names(class).join(", "))
    }

    fn image(&self, class: usize, sample: usize) -> Result<SourceImage> {
        let fonts = &self.class_fonts[class];
        let (font_index, id) = fonts[sample % fonts.len()];
        let variant = (sample / fonts.len()) as u64;
        let font = &self.fonts[font_index];
        let seed = mix(
            mix(mix(u64::from(self.chars[class] as u32)) ^ fnv1a(font.name.as_bytes())) ^ variant,
        );
        Ok(self.render(font, id, seed))
    }
}

fn map_curve(curve: &OutlineCurve, f: &impl Fn(Point) -> Point) -> OutlineCurve {
    match *curve {
        OutlineCurve::Line(a, b) => OutlineCurve::Line(f(a), f(b)),
        OutlineCurve::Quad(a, b, c) => OutlineCurve::Quad(f(a), f(b), f(c)),
        OutlineCurve::Cubic(a, b, c, d) => OutlineCurve::Cubic(f(a), f(b), f(c), f(d)),
    }
}

/// Shrinks (about its centre) and moves the outline so its control points — and hence the curves,
/// which lie in their convex hull — stay `MARGIN` pixels inside a `side`-pixel canvas.
fn fit_into_canvas(curves: &mut [OutlineCurve], side: f32) {
    let (mut min, mut max) = (
        point(f32::INFINITY, f32::INFINITY),
        point(f32::NEG_INFINITY, f32::NEG_INFINITY),
    );
    for curve in curves.iter() {
        for_each_point(curve, |p| {
            min = point(min.x.min(p.x), min.y.min(p.y));
            max = point(max.x.max(p.x), max.y.max(p.y));
        });
    }
    if !(min.x.is_finite() && max.x.is_finite()) {
        return;
    }
    let available = side - 2.0 * MARGIN;
    let (w, h) = (max.x - min.x, max.y - min.y);
    let k = (available / w.max(f32::MIN_POSITIVE))
        .min(available / h.max(f32::MIN_POSITIVE))
        .min(1.0);
    let centre = point((min.x + max.x) / 2.0, (min.y + max.y) / 2.0);
    // After scaling by k about the centre, shift so that the box lies inside the margins.
    let shift_axis = |c: f32, extent: f32| {
        let (lo, hi) = (c - extent * k / 2.0, c + extent * k / 2.0);
        if lo < MARGIN {
            MARGIN - lo
        } else if hi > side - MARGIN {
            side - MARGIN - hi
        } else {
            0.0
        }
    };
    let shift = point(shift_axis(centre.x, w), shift_axis(centre.y, h));
    if k == 1.0 && shift.x == 0.0 && shift.y == 0.0 {
        return;
    }
    let f = |p: Point| {
        point(
            centre.x + (p.x - centre.x) * k + shift.x,
            centre.y + (p.y - centre.y) * k + shift.y,
        )
    };
    for curve in curves.iter_mut() {
        *curve = map_curve(curve, &f);
    }
}

fn for_each_point(curve: &OutlineCurve, mut f: impl FnMut(Point)) {
    match *curve {
        OutlineCurve::Line(a, b) => [a, b].into_iter().for_each(&mut f),
        OutlineCurve::Quad(a, b, c) => [a, b, c].into_iter().for_each(&mut f),
        OutlineCurve::Cubic(a, b, c, d) => [a, b, c, d].into_iter().for_each(&mut f),
    }
}

/// SplitMix64's finaliser: a well-mixed 64-bit hash of a 64-bit value.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a, a stable hash of a font's file name (std's hashers may change between releases).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn degenerate_options_have_their_own_errors() {
        let tiny = GlyphsSpec {
            canvas: 3,
            ..GlyphsSpec::default()
        };
        assert!(matches!(
            GlyphSource::open(&tiny, &[]),
            Err(Error::GlyphCanvasTooSmall(3))
        ));
        let none = GlyphsSpec {
            variants_per_font: 0,
            ..GlyphsSpec::default()
        };
        assert!(matches!(
            GlyphSource::open(&none, &[]),
            Err(Error::ZeroGlyphVariants)
        ));
    }

    #[test]
    fn no_fonts_is_a_clear_error() {
        let err = GlyphSource::open(&GlyphsSpec::default(), &["/nonexistent".into()]).unwrap_err();
        assert!(
            matches!(err, Error::TooFewGlyphClasses { found: 0, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("scripts/setup-data.sh"), "{err}");
    }

    #[test]
    fn fitting_keeps_curves_inside_the_canvas() {
        let mut curves = vec![OutlineCurve::Line(point(-10.0, 5.0), point(50.0, 40.0))];
        fit_into_canvas(&mut curves, 32.0);
        let OutlineCurve::Line(a, b) = curves[0] else {
            unreachable!()
        };
        for p in [a, b] {
            assert!(
                (MARGIN - 1e-4..=32.0 - MARGIN + 1e-4).contains(&p.x),
                "{p:?}"
            );
            assert!(
                (MARGIN - 1e-4..=32.0 - MARGIN + 1e-4).contains(&p.y),
                "{p:?}"
            );
        }
    }

    #[test]
    fn seeds_hash_stably() {
        // Changing these would change every glyph image: keep them fixed.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(mix(0), 0xe220_a839_7b1d_cdaf);
    }
}
