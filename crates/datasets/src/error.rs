//! The crate's [`Error`] type: every failure names the file (and byte offset) it comes from.

use std::path::PathBuf;

/// Shorthand for `Result<T, datasets::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The command that installs every default data source.
pub const SETUP_COMMAND: &str = "bash scripts/setup-data.sh";

/// Everything that can go wrong while reading data or building a task.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A data file or folder that a source needs is not installed.
    #[error("{}: {what} not found; run `{SETUP_COMMAND}` to install it", path.display())]
    MissingData {
        /// The path that was looked for.
        path: PathBuf,
        /// What was expected there (e.g. "Fashion-MNIST").
        what: String,
    },
    /// An operating-system error while reading a file or folder.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The content of a file is truncated or corrupt.
    ///
    /// For gzip files `offset` counts bytes of the *decompressed* content.
    #[error("{}: byte {offset}: {message}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Byte offset of the problem in the (decompressed) content.
        offset: u64,
        /// What is wrong.
        message: String,
    },
    /// An image file of an image folder could not be decoded.
    #[error("{}: cannot decode image: {source}", path.display())]
    Image {
        /// The image file.
        path: PathBuf,
        /// The decoder's error.
        source: image::ImageError,
    },
    /// An image folder is not laid out as one sub-folder of images per class.
    #[error("{}: {message}", path.display())]
    BadFolder {
        /// The folder.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A font file could not be parsed.
    #[error("{}: invalid font: {message}", path.display())]
    BadFont {
        /// The font file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// The glyph source found fewer than two characters drawn by enough fonts.
    #[error(
        "glyph source: only {found} classes are covered by at least {min_fonts} fonts under {dirs:?} \
         (install fonts with `{SETUP_COMMAND}`, or lower `min_fonts`)"
    )]
    TooFewGlyphClasses {
        /// Classes found.
        found: usize,
        /// The `min_fonts` option in force.
        min_fonts: usize,
        /// Font folders searched.
        dirs: Vec<PathBuf>,
    },
    /// The glyph canvas is too small to draw on.
    #[error("glyph canvas must be at least 4 pixels, got {0}")]
    GlyphCanvasTooSmall(usize),
    /// The glyph source was asked for zero variants per font.
    #[error("glyph variants_per_font must be at least 1")]
    ZeroGlyphVariants,
    /// A task needs at least two classes.
    #[error("a task needs at least 2 classes, got {0}")]
    TooFewClasses(usize),
    /// A class index is not below the number of classes of the source.
    #[error("class index {index} out of range: the source has {available} classes")]
    ClassOutOfRange {
        /// The offending index.
        index: usize,
        /// Number of classes of the source.
        available: usize,
    },
    /// A class appears twice in a task.
    #[error("class index {0} appears more than once in the task")]
    DuplicateClass(usize),
    /// `train_per_class` is zero.
    #[error("train_per_class must be at least 1")]
    ZeroTrainPerClass,
    /// `resolution` is zero.
    #[error("resolution must be at least 1")]
    ZeroResolution,
    /// `channels` is neither 1 nor 3.
    #[error("channels must be 1 or 3, got {0}")]
    BadChannels(usize),
    /// A class has fewer images than a task asks for.
    #[error("class `{class}` has {available} images, the task needs {needed}")]
    NotEnoughImages {
        /// Name of the class.
        class: String,
        /// Images the task needs from it.
        needed: usize,
        /// Images the split can offer.
        available: usize,
    },
    /// A class has too few sample groups (fonts) to hold some out for test.
    #[error(
        "class `{class}` has {available} sample groups (fonts), cannot hold out {held_out} for \
         test and keep one for training"
    )]
    NotEnoughGroups {
        /// Name of the class.
        class: String,
        /// Groups asked to be held out.
        held_out: usize,
        /// Groups the class has.
        available: usize,
    },
    /// A pinned task's class is not where (or not what) its spec says: the source's class list
    /// differs from the one the spec was made on (e.g. another set of fonts is installed).
    #[error("task label {label}: the spec names class `{expected}` at source index {index}, but the source has `{found}` there{}; the installed data differs from the data the task was made on (run `{SETUP_COMMAND}` to install the pinned package versions, or rebuild the record)", moved_to.map_or_else(|| format!(" and no class named `{expected}` at all"), |i| format!(" (`{expected}` is now at index {i})")))]
    ClassMismatch {
        /// Task label (position in `classes`).
        label: usize,
        /// The source class index the spec names.
        index: usize,
        /// The class name the spec pinned.
        expected: String,
        /// The class name the source has at `index` (empty when out of range).
        found: String,
        /// Where the pinned name is in the source now, if anywhere.
        moved_to: Option<usize>,
    },
    /// A pinned task's class is drawn from different content than when the spec was made.
    #[error("task label {label} (class `{class}`): its images come from different content than when the task was made (fingerprint {expected} pinned, {found} now; now drawn from {origin}); install the pinned package versions (`{SETUP_COMMAND}`) or rebuild the record")]
    SourceChanged {
        /// Task label.
        label: usize,
        /// Class name.
        class: String,
        /// The pinned fingerprint.
        expected: String,
        /// The fingerprint of the installed data.
        found: String,
        /// What the class is drawn from now (fonts, files).
        origin: String,
    },
    /// A spec pins a different number of names or fingerprints than it has classes.
    #[error(
        "task spec pins {pinned} {what} for {classes} classes; a spec pins none or one per class"
    )]
    BadPins {
        /// `class names` or `fingerprints`.
        what: &'static str,
        /// How many are pinned.
        pinned: usize,
        /// How many classes the spec has.
        classes: usize,
    },
    /// Fewer classes are available than a task's way.
    #[error("cannot draw {way}-way tasks from {available} classes")]
    WayTooLarge {
        /// Classes per task.
        way: usize,
        /// Classes available.
        available: usize,
    },
    /// A procedural source's canvas is outside `4..=1024` pixels.
    #[error("procedural canvas must be 4 to 1024 pixels, got {0}")]
    BadProceduralCanvas(usize),
    /// A procedural source asks for fewer than 2 or more than 1,000,000 classes.
    #[error("a procedural source needs 2 to 1000000 classes, got {0}")]
    BadProceduralClasses(usize),
    /// A procedural source asks for zero samples per class.
    #[error("procedural samples_per_class must be at least 1")]
    ZeroProceduralSamples,
    /// A procedural source's global class ids `first_class..first_class + classes` overflow `u64`.
    #[error("procedural class ids {first_class} + {classes} classes overflow u64")]
    ProceduralClassIdOverflow {
        /// The spec's first global class id.
        first_class: u64,
        /// The spec's number of classes.
        classes: usize,
    },
    /// A procedural jitter knob is above its maximum.
    #[error("procedural jitter `{knob}` is {value} per mille, above the maximum {max}")]
    ProceduralJitterTooLarge {
        /// The knob's field name.
        knob: &'static str,
        /// Its value.
        value: u32,
        /// The largest value allowed.
        max: u32,
    },
    /// A photo source lists fewer than two pictures.
    #[error("a photo source needs at least 2 pictures (one class each), got {0}")]
    TooFewPhotos(usize),
    /// Two pictures of a photo source have the same class name.
    #[error("photo class `{class}` is named by both {} and {}; class names must be unique", first.display(), second.display())]
    DuplicatePhotoClass {
        /// The class name (a file stem, or a KDE wallpaper's folder name).
        class: String,
        /// The first picture with that name.
        first: PathBuf,
        /// The second picture with that name.
        second: PathBuf,
    },
    /// A photo source's crop canvas is smaller than 4 pixels.
    #[error("photo canvas must be at least 4 pixels, got {0}")]
    PhotoCanvasTooSmall(usize),
    /// A photo source's crop scales are not `0 < min <= max <= 1000` per mille.
    #[error("photo crop scales must satisfy 0 < min <= max <= 1000 per mille, got min {min_permille}, max {max_permille}")]
    BadPhotoScale {
        /// The spec's `min_scale_permille`.
        min_permille: u32,
        /// The spec's `max_scale_permille`.
        max_permille: u32,
    },
    /// A photo source asks for zero crops per class.
    #[error("photo crops_per_class must be at least 1")]
    ZeroPhotoCrops,
}

impl Error {
    /// An [`Error::Io`], or [`Error::MissingData`] when the file does not exist.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error, what: &str) -> Self {
        let path = path.into();
        if source.kind() == std::io::ErrorKind::NotFound {
            Error::MissingData {
                path,
                what: what.to_string(),
            }
        } else {
            Error::Io { path, source }
        }
    }

    /// An [`Error::Corrupt`].
    pub(crate) fn corrupt(
        path: impl Into<PathBuf>,
        offset: u64,
        message: impl Into<String>,
    ) -> Self {
        Error::Corrupt {
            path: path.into(),
            offset,
            message: message.into(),
        }
    }
}
