//! [`Task`]: an n-way few-shot task drawn deterministically from a source.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::error::{Error, Result};
use crate::images::Images;
use crate::paths::DataPaths;
use crate::resize::resize;
use crate::sampling::sample_distinct;
use crate::source::{open_cached, Source, SourceSpec};

/// Serialisable description from which a task is rebuilt exactly.
///
/// ```
/// use datasets::{SourceSpec, TaskSpec};
/// let spec = TaskSpec::new(SourceSpec::Digits, vec![3, 1, 4], 5, 5, 16, 42).with_channels(3);
/// let json = serde_json::to_string(&spec).unwrap();
/// assert_eq!(serde_json::from_str::<TaskSpec>(&json).unwrap(), spec);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct TaskSpec {
    /// The source the classes are drawn from.
    pub source: SourceSpec,
    /// Indices into the source's class list; task label `i` is source class `classes[i]`.
    pub classes: Vec<usize>,
    /// Training images per class.
    pub train_per_class: usize,
    /// Test images per class (disjoint from the training images).
    pub test_per_class: usize,
    /// Side of the square output images, in pixels.
    pub resolution: usize,
    /// Seed of every random choice made while building the task.
    pub seed: u64,
    /// Output channels: 1 or 3. A grayscale source's plane is repeated into 3 channels; an RGB
    /// source's image is turned into luma for 1 (see [`SourceImage::with_channels`]).
    ///
    /// [`SourceImage::with_channels`]: crate::SourceImage::with_channels
    #[serde(default = "default_channels")]
    pub channels: usize,
    /// How pixel values are normalised.
    #[serde(default)]
    pub normalization: Normalization,
    /// Sample groups (fonts, for glyphs) of each class kept for the test split only; 0 = none,
    /// train and test images are then drawn from all samples.
    #[serde(default)]
    pub test_groups: usize,
    /// The names of `classes` (characters, file stems) when the spec is pinned
    /// ([`TaskSpec::pin`]); empty = not pinned. Building checks them, so a source whose class
    /// list differs is an error, not a different task.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub class_names: Vec<String>,
    /// One content fingerprint per class when pinned ([`Source::class_fingerprint`]); empty =
    /// not pinned. Building checks them, so changed fonts or files are an error.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fingerprints: Vec<String>,
}

fn default_channels() -> usize {
    1
}

/// How pixel values in `0..=1` (0 = background) are normalised.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Normalization {
    /// `(x - 0.5) / 0.5`, into `-1..=1`: the same map for every task, so tasks stay comparable.
    #[default]
    Fixed,
    /// `(x - mean) / std` with the mean and standard deviation of all pixels of the task's train
    /// split (applied to both splits; a constant split leaves `std` at 1).
    PerTask,
}

impl TaskSpec {
    /// The task's identity as text: its JSON, the form run stores keep it in and compare it by
    /// (serde_json writes these fields in declaration order, so equal specs give equal keys).
    /// The one task key of the workspace: the database, its analysis, the evaluation harness and
    /// MetaD2A's meta-training data all group runs by it.
    ///
    /// ```
    /// use datasets::{SourceSpec, TaskSpec};
    /// let a = TaskSpec::new(SourceSpec::Digits, vec![3, 1], 5, 5, 16, 42);
    /// assert_eq!(a.key(), a.clone().key());
    /// assert_ne!(a.key(), a.clone().with_channels(3).key());
    /// ```
    pub fn key(&self) -> String {
        serde_json::to_string(self).expect("a task spec serialises (no maps, finite numbers)")
    }

    /// A spec with 1 channel, [`Normalization::Fixed`] and no held-out groups.
    pub fn new(
        source: SourceSpec,
        classes: Vec<usize>,
        train_per_class: usize,
        test_per_class: usize,
        resolution: usize,
        seed: u64,
    ) -> Self {
        Self {
            source,
            classes,
            train_per_class,
            test_per_class,
            resolution,
            seed,
            channels: 1,
            normalization: Normalization::Fixed,
            test_groups: 0,
            class_names: Vec::new(),
            fingerprints: Vec::new(),
        }
    }

    /// Pins the spec to `source`: records the names and content fingerprints of its classes,
    /// so that [`Task::build`] on another machine either rebuilds this exact task or fails with
    /// [`Error::ClassMismatch`] / [`Error::SourceChanged`].
    pub fn pin(mut self, source: &dyn Source) -> Result<Self> {
        self.validate()?;
        let available = source.num_classes();
        if let Some(&index) = self.classes.iter().find(|&&c| c >= available) {
            return Err(Error::ClassOutOfRange { index, available });
        }
        self.class_names = self
            .classes
            .iter()
            .map(|&c| source.class_names()[c].clone())
            .collect();
        self.fingerprints = self
            .classes
            .iter()
            .map(|&c| source.class_fingerprint(c))
            .collect::<Result<_>>()?;
        Ok(self)
    }

    /// Whether the spec pins its classes' names and content.
    pub fn is_pinned(&self) -> bool {
        !self.class_names.is_empty()
    }

    /// Checks the pinned names and fingerprints against `source` (a no-op for an unpinned spec).
    pub fn check_pins(&self, source: &dyn Source) -> Result<()> {
        for (what, n) in [
            ("class names", self.class_names.len()),
            ("fingerprints", self.fingerprints.len()),
        ] {
            if n != 0 && n != self.classes.len() {
                return Err(Error::BadPins {
                    what,
                    pinned: n,
                    classes: self.classes.len(),
                });
            }
        }
        let names = source.class_names();
        for (label, (&index, expected)) in self.classes.iter().zip(&self.class_names).enumerate() {
            let found = names.get(index).cloned().unwrap_or_default();
            if &found != expected {
                return Err(Error::ClassMismatch {
                    label,
                    index,
                    expected: expected.clone(),
                    found,
                    moved_to: names.iter().position(|n| n == expected),
                });
            }
        }
        for (label, (&index, expected)) in self.classes.iter().zip(&self.fingerprints).enumerate() {
            let found = source.class_fingerprint(index)?;
            if &found != expected {
                return Err(Error::SourceChanged {
                    label,
                    class: names[index].clone(),
                    expected: expected.clone(),
                    found,
                    origin: source.class_origin(index),
                });
            }
        }
        Ok(())
    }

    /// Sets the images per class of each split.
    pub fn with_shots(mut self, train_per_class: usize, test_per_class: usize) -> Self {
        self.train_per_class = train_per_class;
        self.test_per_class = test_per_class;
        self
    }

    /// Sets the output resolution.
    pub fn with_resolution(mut self, resolution: usize) -> Self {
        self.resolution = resolution;
        self
    }

    /// Sets the output channels (1 or 3).
    pub fn with_channels(mut self, channels: usize) -> Self {
        self.channels = channels;
        self
    }

    /// Sets the normalisation.
    pub fn with_normalization(mut self, normalization: Normalization) -> Self {
        self.normalization = normalization;
        self
    }

    /// Sets the number of sample groups (fonts) per class kept for the test split.
    pub fn with_test_groups(mut self, test_groups: usize) -> Self {
        self.test_groups = test_groups;
        self
    }

    /// Checks the values that do not depend on the source.
    pub fn validate(&self) -> Result<()> {
        if self.classes.len() < 2 {
            return Err(Error::TooFewClasses(self.classes.len()));
        }
        for (i, c) in self.classes.iter().enumerate() {
            if self.classes[..i].contains(c) {
                return Err(Error::DuplicateClass(*c));
            }
        }
        if self.train_per_class == 0 {
            return Err(Error::ZeroTrainPerClass);
        }
        if self.resolution == 0 {
            return Err(Error::ZeroResolution);
        }
        if self.channels != 1 && self.channels != 3 {
            return Err(Error::BadChannels(self.channels));
        }
        Ok(())
    }
}

/// A labelled few-shot task: train and test images of `way` classes.
///
/// Images are ordered class by class (all of label 0, then label 1, ...), in draw order within a
/// class. Built only from its [`TaskSpec`], so equal specs give bit-identical tasks.
#[derive(Clone, Debug, PartialEq)]
pub struct Task {
    /// The spec this task was built from.
    pub spec: TaskSpec,
    /// Training images, labels `0..way` in the order of `spec.classes`.
    pub train: Images,
    /// Test images, labels `0..way` in the order of `spec.classes`.
    pub test: Images,
}

impl Task {
    /// Number of classes.
    pub fn way(&self) -> usize {
        self.spec.classes.len()
    }

    /// Builds the task `spec` describes, opening its source through [`open_cached`] (so data is
    /// read once per process).
    ///
    /// ```no_run
    /// use datasets::{DataPaths, SourceSpec, Task, TaskSpec};
    /// let spec = TaskSpec::new(SourceSpec::Digits, vec![0, 1, 2], 10, 5, 16, 7);
    /// let task = Task::build(&spec, &DataPaths::from_env())?;
    /// assert_eq!(task.train.len(), 30);
    /// assert_eq!(task.test.image(0).len(), 16 * 16);
    /// # Ok::<(), datasets::Error>(())
    /// ```
    pub fn build(spec: &TaskSpec, paths: &DataPaths) -> Result<Task> {
        spec.validate()?;
        let source = open_cached(&spec.source, paths)?;
        Task::from_source(spec, source.as_ref())
    }

    /// Builds the task `spec` describes from an already opened source.
    ///
    /// `source` should be the one `spec.source` describes; only its classes and images are used.
    ///
    /// Per class, in the order of `spec.classes`, a ChaCha8 generator seeded with `spec.seed`
    /// draws `train_per_class + test_per_class` distinct samples (the first ones train, the rest
    /// test). With `test_groups = g > 0` it first draws `g` groups (fonts) of the class whose
    /// samples may only be test images, and draws train images from the other groups. Images are
    /// converted to `channels` (see [`crate::SourceImage::with_channels`]), resized to
    /// `resolution` (see [`mod@crate::resize`]) and normalised.
    pub fn from_source(spec: &TaskSpec, source: &dyn Source) -> Result<Task> {
        spec.validate()?;
        let available = source.num_classes();
        if let Some(&index) = spec.classes.iter().find(|&&c| c >= available) {
            if !spec.is_pinned() {
                return Err(Error::ClassOutOfRange { index, available });
            }
        }
        spec.check_pins(source)?;
        let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
        let side = spec.resolution;
        let plane = spec.channels * side * side;
        let mut train = Vec::with_capacity(spec.classes.len() * spec.train_per_class * plane);
        let mut test = Vec::with_capacity(spec.classes.len() * spec.test_per_class * plane);
        for &class in &spec.classes {
            let (train_samples, test_samples) = draw_samples(spec, source, class, &mut rng)?;
            for (samples, out) in [(train_samples, &mut train), (test_samples, &mut test)] {
                for sample in samples {
                    let image = source.image(class, sample)?.with_channels(spec.channels);
                    out.extend(resize(&image, side, side).pixels);
                }
            }
        }
        let (shift, scale) = match spec.normalization {
            Normalization::Fixed => (0.5, 2.0),
            Normalization::PerTask => mean_and_inverse_std(&train),
        };
        let finish = |values: Vec<f32>, per_class: usize| {
            let data = values.into_iter().map(|v| (v - shift) * scale).collect();
            Images {
                data,
                labels: (0..spec.classes.len())
                    .flat_map(|l| std::iter::repeat_n(l, per_class))
                    .collect(),
                channels: spec.channels,
                height: side,
                width: side,
            }
        };
        Ok(Task {
            spec: spec.clone(),
            train: finish(train, spec.train_per_class),
            test: finish(test, spec.test_per_class),
        })
    }
}

/// Distinct train and test samples of one class.
fn draw_samples(
    spec: &TaskSpec,
    source: &dyn Source,
    class: usize,
    rng: &mut ChaCha8Rng,
) -> Result<(Vec<usize>, Vec<usize>)> {
    let name = || source.class_names()[class].clone();
    let n = source.num_samples(class);
    let (train_n, test_n) = (spec.train_per_class, spec.test_per_class);
    if spec.test_groups == 0 {
        let needed = train_n + test_n;
        if needed > n {
            return Err(Error::NotEnoughImages {
                class: name(),
                needed,
                available: n,
            });
        }
        let mut picks = sample_distinct(rng, n, needed);
        let test = picks.split_off(train_n);
        return Ok((picks, test));
    }
    let groups = source.num_groups(class);
    if spec.test_groups >= groups {
        return Err(Error::NotEnoughGroups {
            class: name(),
            held_out: spec.test_groups,
            available: groups,
        });
    }
    let mut is_test_group = vec![false; groups];
    for g in sample_distinct(rng, groups, spec.test_groups) {
        is_test_group[g] = true;
    }
    let (test_pool, train_pool): (Vec<usize>, Vec<usize>) =
        (0..n).partition(|&s| is_test_group[source.group(class, s)]);
    let mut pick = |pool: &[usize], k: usize| {
        if k > pool.len() {
            return Err(Error::NotEnoughImages {
                class: name(),
                needed: k,
                available: pool.len(),
            });
        }
        Ok(sample_distinct(rng, pool.len(), k)
            .into_iter()
            .map(|i| pool[i])
            .collect::<Vec<_>>())
    };
    let train = pick(&train_pool, train_n)?;
    let test = pick(&test_pool, test_n)?;
    Ok((train, test))
}

/// Mean and 1/std of `values` (1/std = 1 when the values are constant).
fn mean_and_inverse_std(values: &[f32]) -> (f32, f32) {
    let n = values.len().max(1) as f64;
    let mean = values.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let var = values
        .iter()
        .map(|&v| (f64::from(v) - mean).powi(2))
        .sum::<f64>()
        / n;
    let std = var.sqrt();
    (
        mean as f32,
        if std > 1e-6 { (1.0 / std) as f32 } else { 1.0 },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gray::{GrayImages, Pixels, SourceImage};
    use crate::source::InMemorySource;

    /// 3 classes × 10 images of 2×2; image `i` has all pixels `i / 29`.
    fn toy_source() -> InMemorySource {
        let labels: Vec<usize> = (0..30).map(|i| i % 3).collect();
        let values = (0..30u8).flat_map(|i| [i; 4]).collect();
        let images = GrayImages {
            pixels: Pixels::Bytes { values, max: 29 },
            labels,
            height: 2,
            width: 2,
        };
        InMemorySource::new(
            SourceSpec::Digits,
            vec!["a".into(), "b".into(), "c".into()],
            images,
        )
    }

    /// The file-order image index each output image came from (pixels are `i / 29`).
    fn indices(images: &Images) -> Vec<usize> {
        (0..images.len())
            .map(|i| ((images.image(i)[0] * 0.5 + 0.5) * 29.0).round() as usize)
            .collect()
    }

    /// Two classes whose 12 samples fall in 4 groups (`sample % 4`); pixel = `group / 3`.
    #[derive(Debug)]
    struct Grouped(Vec<String>, SourceSpec);

    impl Source for Grouped {
        fn spec(&self) -> &SourceSpec {
            &self.1
        }
        fn class_names(&self) -> &[String] {
            &self.0
        }
        fn num_samples(&self, _class: usize) -> usize {
            12
        }
        fn num_groups(&self, _class: usize) -> usize {
            4
        }
        fn group(&self, _class: usize, sample: usize) -> usize {
            sample % 4
        }
        fn image(&self, _class: usize, sample: usize) -> Result<SourceImage> {
            Ok(SourceImage::gray(1, 1, vec![(sample % 4) as f32 / 3.0]))
        }
    }

    #[test]
    fn held_out_groups_only_appear_in_test() {
        let source = Grouped(vec!["x".into(), "y".into()], SourceSpec::glyphs());
        for seed in 0..20 {
            let spec =
                TaskSpec::new(SourceSpec::glyphs(), vec![1, 0], 6, 3, 1, seed).with_test_groups(1);
            let task = Task::from_source(&spec, &source).unwrap();
            let group = |v: f32| ((v * 0.5 + 0.5) * 3.0).round() as usize;
            for class in 0..2 {
                let train: Vec<usize> = (0..6)
                    .map(|i| group(task.train.image(class * 6 + i)[0]))
                    .collect();
                let test: Vec<usize> = (0..3)
                    .map(|i| group(task.test.image(class * 3 + i)[0]))
                    .collect();
                assert!(
                    test.iter().all(|g| *g == test[0]),
                    "one held-out group: {test:?}"
                );
                assert!(
                    !train.contains(&test[0]),
                    "train {train:?} uses test group {}",
                    test[0]
                );
            }
        }
        let too_many =
            TaskSpec::new(SourceSpec::glyphs(), vec![0, 1], 2, 2, 1, 0).with_test_groups(4);
        assert!(matches!(
            Task::from_source(&too_many, &source),
            Err(Error::NotEnoughGroups { .. })
        ));
    }

    #[test]
    fn builds_disjoint_labelled_splits() {
        let spec = TaskSpec::new(SourceSpec::Digits, vec![2, 0], 3, 4, 2, 9);
        let task = Task::from_source(&spec, &toy_source()).unwrap();
        assert_eq!(task.way(), 2);
        assert_eq!(task.train.labels, vec![0, 0, 0, 1, 1, 1]);
        assert_eq!(task.test.labels, vec![0, 0, 0, 0, 1, 1, 1, 1]);
        let (train, test) = (indices(&task.train), indices(&task.test));
        // Label 0 is source class 2: file indices ≡ 2 (mod 3).
        assert!(train[..3].iter().chain(&test[..4]).all(|i| i % 3 == 2));
        assert!(train[3..].iter().chain(&test[4..]).all(|i| i % 3 == 0));
        assert!(train.iter().all(|i| !test.contains(i)));
    }

    #[test]
    fn same_spec_same_task_other_seed_other_task() {
        let source = toy_source();
        let spec = TaskSpec::new(SourceSpec::Digits, vec![0, 1, 2], 4, 4, 3, 1);
        let a = Task::from_source(&spec, &source).unwrap();
        assert_eq!(a, Task::from_source(&spec, &source).unwrap());
        let other = TaskSpec { seed: 2, ..spec };
        assert_ne!(a.train, Task::from_source(&other, &source).unwrap().train);
    }

    #[test]
    fn channels_repeat_the_gray_plane() {
        let spec = TaskSpec::new(SourceSpec::Digits, vec![0, 1], 1, 1, 2, 0).with_channels(3);
        let task = Task::from_source(&spec, &toy_source()).unwrap();
        let img = task.train.image(0);
        assert_eq!(img.len(), 12);
        assert_eq!(img[..4], img[4..8]);
        assert_eq!(img[..4], img[8..]);
    }

    #[test]
    fn per_task_normalisation_standardises_train() {
        let spec = TaskSpec::new(SourceSpec::Digits, vec![0, 1, 2], 5, 2, 2, 3)
            .with_normalization(Normalization::PerTask);
        let task = Task::from_source(&spec, &toy_source()).unwrap();
        let n = task.train.data.len() as f32;
        let mean = task.train.data.iter().sum::<f32>() / n;
        let var = task
            .train
            .data
            .iter()
            .map(|v| (v - mean).powi(2))
            .sum::<f32>()
            / n;
        assert!(
            mean.abs() < 1e-5 && (var - 1.0).abs() < 1e-4,
            "mean {mean} var {var}"
        );
    }

    #[test]
    fn invalid_specs_have_their_own_errors() {
        let source = toy_source();
        let base = TaskSpec::new(SourceSpec::Digits, vec![0, 1], 2, 2, 4, 0);
        let check = |spec: TaskSpec| Task::from_source(&spec, &source).unwrap_err();
        assert!(matches!(
            check(TaskSpec {
                classes: vec![0],
                ..base.clone()
            }),
            Error::TooFewClasses(1)
        ));
        assert!(matches!(
            check(TaskSpec {
                classes: vec![1, 1],
                ..base.clone()
            }),
            Error::DuplicateClass(1)
        ));
        assert!(matches!(
            check(TaskSpec {
                classes: vec![0, 3],
                ..base.clone()
            }),
            Error::ClassOutOfRange { index: 3, .. }
        ));
        assert!(matches!(
            check(base.clone().with_shots(0, 1)),
            Error::ZeroTrainPerClass
        ));
        assert!(matches!(
            check(base.clone().with_resolution(0)),
            Error::ZeroResolution
        ));
        assert!(matches!(
            check(base.clone().with_channels(2)),
            Error::BadChannels(2)
        ));
        assert!(matches!(
            check(base.clone().with_shots(6, 5)),
            Error::NotEnoughImages {
                needed: 11,
                available: 10,
                ..
            }
        ));
        assert!(matches!(
            check(base.with_test_groups(1)),
            Error::NotEnoughGroups { .. }
        ));
    }

    #[test]
    fn pinned_specs_rebuild_or_name_the_difference() {
        let source = toy_source();
        let spec = TaskSpec::new(SourceSpec::Digits, vec![2, 0], 3, 4, 2, 9)
            .pin(&source)
            .unwrap();
        assert_eq!(spec.class_names, ["c", "a"]);
        assert_eq!(spec.fingerprints.len(), 2);
        let json = serde_json::to_string(&spec).unwrap();
        assert_eq!(serde_json::from_str::<TaskSpec>(&json).unwrap(), spec);
        assert_eq!(
            Task::from_source(&spec, &source).unwrap().train,
            Task::from_source(
                &TaskSpec::new(SourceSpec::Digits, vec![2, 0], 3, 4, 2, 9),
                &source
            )
            .unwrap()
            .train,
            "pinning does not change the task"
        );
        // Another class list (say, other fonts installed): the name is checked, not the index.
        let renamed = InMemorySource::new(
            SourceSpec::Digits,
            vec!["c".into(), "b".into(), "a".into()],
            toy_source().images().clone(),
        );
        match Task::from_source(&spec, &renamed).unwrap_err() {
            Error::ClassMismatch {
                label: 0,
                index: 2,
                expected,
                found,
                moved_to: Some(0),
            } => assert_eq!((expected.as_str(), found.as_str()), ("c", "a")),
            e => panic!("{e}"),
        }
        // Same names, different pixels: the fingerprint catches it.
        let mut images = toy_source().images().clone();
        if let Pixels::Bytes { values, .. } = &mut images.pixels {
            values[0] ^= 1; // image 0 is class 0 ("a")
        }
        let changed = InMemorySource::new(
            SourceSpec::Digits,
            vec!["a".into(), "b".into(), "c".into()],
            images,
        );
        let err = Task::from_source(&spec, &changed).unwrap_err();
        assert!(
            matches!(&err, Error::SourceChanged { label: 1, class, .. } if class == "a"),
            "{err}"
        );
        assert!(err.to_string().contains("setup-data.sh"), "{err}");
        let bad = TaskSpec {
            fingerprints: vec!["x".into()],
            ..spec
        };
        assert!(matches!(
            Task::from_source(&bad, &source),
            Err(Error::BadPins {
                what: "fingerprints",
                pinned: 1,
                classes: 2
            })
        ));
    }

    #[test]
    fn rgb_sources_give_rgb_or_luma_tasks() {
        #[derive(Debug)]
        struct Rgb(Vec<String>, SourceSpec);
        impl Source for Rgb {
            fn spec(&self) -> &SourceSpec {
                &self.1
            }
            fn class_names(&self) -> &[String] {
                &self.0
            }
            fn num_samples(&self, _class: usize) -> usize {
                4
            }
            fn channels(&self) -> usize {
                3
            }
            fn image(&self, class: usize, _sample: usize) -> Result<SourceImage> {
                // Class 0 pure red, class 1 pure blue, 2×2.
                let mut pixels = vec![0.0; 12];
                let c = if class == 0 { 0 } else { 2 };
                pixels[c * 4..c * 4 + 4].fill(1.0);
                Ok(SourceImage {
                    channels: 3,
                    width: 2,
                    height: 2,
                    pixels,
                })
            }
        }
        let source = Rgb(vec!["r".into(), "b".into()], SourceSpec::Digits);
        let spec = TaskSpec::new(SourceSpec::Digits, vec![0, 1], 1, 1, 2, 0).with_channels(3);
        let task = Task::from_source(&spec, &source).unwrap();
        // Fixed normalisation maps 1 → 1 and 0 → -1, per channel.
        assert_eq!(
            task.train.image(0),
            [[1.0; 4], [-1.0; 4], [-1.0; 4]].concat()
        );
        assert_eq!(
            task.train.image(1),
            [[-1.0; 4], [-1.0; 4], [1.0; 4]].concat()
        );
        let luma = Task::from_source(&spec.with_channels(1), &source).unwrap();
        let expect = |w: f32| (w - 0.5) * 2.0;
        assert!((luma.train.image(0)[0] - expect(0.299)).abs() < 1e-6);
        assert!((luma.train.image(1)[0] - expect(0.114)).abs() < 1e-6);
    }

    #[test]
    fn spec_json_round_trip_and_defaults() {
        let spec = TaskSpec::new(SourceSpec::glyphs(), vec![5, 9], 3, 2, 28, u64::MAX)
            .with_test_groups(1)
            .with_normalization(Normalization::PerTask);
        let json = serde_json::to_string(&spec).unwrap();
        assert_eq!(serde_json::from_str::<TaskSpec>(&json).unwrap(), spec);
        let minimal: TaskSpec = serde_json::from_str(
            r#"{"source":{"kind":"mnist_csv"},"classes":[0,1],"train_per_class":1,"test_per_class":1,"resolution":8,"seed":0}"#,
        )
        .unwrap();
        assert_eq!(
            minimal,
            TaskSpec::new(SourceSpec::MnistCsv, vec![0, 1], 1, 1, 8, 0)
        );
    }
}
