//! TANS end to end: meta-training learns on separable synthetic data, the shipped bundle loads
//! and retrieves from the shipped zoo within every constraint, broken bundles are typed errors,
//! and fine-tuning a zoo network runs its exact number of steps deterministically.

use std::path::{Path, PathBuf};

use burn::backend::{Autodiff, Flex};
use datasets::{Features, Images, Task};
use metanas::tans::{
    evaluate, fine_tune, meta_train, FineTuneOptions, RetrieveOptions, Tans, TansData, TansError,
    TansNetConfig, TansTrainConfig, ZooModel, ZooTask, REPO_TANS_BUNDLE, REPO_ZOO,
};
use model_zoo::zoo::Zoo;
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use search_space::Cost;

type B = Flex;
type A = Autodiff<Flex>;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn zoo() -> Zoo {
    Zoo::open(&root().join(REPO_ZOO)).expect("the shipped zoo opens")
}

fn bundle() -> Tans<B> {
    Tans::load(&root().join(REPO_TANS_BUNDLE), &Default::default()).expect("the shipped bundle")
}

/// Features of a task: `classes` classes of `per_class` rows around `center` (+ class offset).
fn features(center: &[f32], classes: usize, per_class: usize, rng: &mut ChaCha8Rng) -> Features {
    let dim = center.len();
    let mut data = Vec::new();
    let mut labels = Vec::new();
    for c in 0..classes {
        for _ in 0..per_class {
            for (d, &m) in center.iter().enumerate() {
                let offset = if d % classes == c { 0.5 } else { 0.0 };
                data.push(m + offset + rng.random_range(-0.2..0.2));
            }
            labels.push(c);
        }
    }
    Features { data, labels, dim }
}

/// Six tasks of two networks each, whose features and model inputs both encode the task.
fn synthetic() -> TansData {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let (dim, functional) = (8, 6);
    let mut tasks = Vec::new();
    let mut models = Vec::new();
    for t in 0..6 {
        let center: Vec<f32> = (0..dim).map(|_| rng.random_range(-2.0..2.0)).collect();
        let spec = datasets::TaskSpec::new(datasets::SourceSpec::Digits, vec![0, 1], 1, 1, 8, t);
        let mut own = Vec::new();
        for k in 0..2 {
            let mut input = vec![0.0f32; 30 + functional + 3];
            input[(t as usize * 7 + k) % 30] = 1.0;
            input[30 + (t as usize % functional)] = 1.0;
            own.push(models.len());
            models.push(ZooModel {
                entry: models.len(),
                task: t as usize,
                input,
                accuracy: 0.5 + 0.1 * k as f64 + 0.02 * t as f64,
                cost: Cost {
                    params: 0.01,
                    flops: 0.1,
                },
            });
        }
        tasks.push(ZooTask {
            group: format!("g{}", t % 2),
            spec,
            features: features(&center, 3, 10, &mut rng),
            models: own,
        });
    }
    TansData {
        tasks,
        models,
        extractor: "synthetic".into(),
        feature_dim: dim,
        functional_dim: functional,
    }
}

#[test]
fn meta_training_learns_separable_tasks_and_is_deterministic() {
    let data = synthetic();
    let net = TansNetConfig::new(8, 6)
        .with_latent_dim(16)
        .with_set_hidden(8)
        .with_model_hidden(16)
        .with_predictor_hidden(8);
    let config = TansTrainConfig {
        steps: 60,
        learning_rate: 3e-3,
        images_per_class: 5,
        ..TansTrainConfig::default()
    };
    let all: Vec<usize> = (0..6).collect();
    let device = Default::default();
    let (model, history) = meta_train::<A>(&data, &all, &net, &config, &device, |_| {}).unwrap();
    let first = history.first().unwrap().contrastive;
    let last = history.last().unwrap().contrastive;
    assert!(last < 0.5 * first, "contrastive loss {first} → {last}");
    let m = evaluate(&model, &data, &all, 5, 3, 0).unwrap();
    assert!(
        m.own_at_1.mean >= 5.0 / 6.0,
        "own network at 1: {} (random {})",
        m.own_at_1,
        m.random_own_at_1
    );
    let (again, _) = meta_train::<A>(&data, &all, &net, &config, &device, |_| {}).unwrap();
    assert_eq!(
        evaluate(&again, &data, &all, 5, 3, 0).unwrap(),
        m,
        "same seed, same model"
    );
    // Invalid settings are typed errors.
    let bad = TansTrainConfig {
        steps: 0,
        ..config.clone()
    };
    assert!(matches!(
        meta_train::<A>(&data, &all, &net, &bad, &device, |_| {}),
        Err(TansError::Option { name: "steps", .. })
    ));
    assert!(matches!(
        meta_train::<A>(&data, &all[..1], &net, &config, &device, |_| {}),
        Err(TansError::Data(_))
    ));
}

fn query() -> Features {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let center: Vec<f32> = (0..64).map(|_| rng.random_range(-0.5..0.5)).collect();
    features(&center, 5, 20, &mut rng)
}

#[test]
fn the_shipped_bundle_retrieves_within_the_constraints() {
    let tans = bundle();
    let zoo = zoo();
    assert_eq!(tans.embeddings().len(), zoo.entries().len());
    let extractor = tans.extractor(&Default::default()).unwrap();
    let images = Images {
        data: vec![0.0; 2 * 28 * 28],
        labels: vec![0, 1],
        channels: 1,
        height: 28,
        width: 28,
    };
    let result = tans
        .retrieve_images(&extractor, &zoo, &images, &RetrieveOptions::default())
        .unwrap();
    assert_eq!(result.ranked.len(), 10);
    let predicted: Vec<f64> = result.ranked.iter().map(|r| r.predicted_accuracy).collect();
    assert!(predicted.windows(2).all(|w| w[0] >= w[1]), "{predicted:?}");
    // Another extractor is refused.
    let pixels = datasets::PixelExtractor::new(8);
    assert!(matches!(
        tans.retrieve_images(&pixels, &zoo, &images, &RetrieveOptions::default()),
        Err(TansError::ExtractorMismatch { .. })
    ));
    // No network meets an impossible limit.
    let none = RetrieveOptions {
        max_params: Some(1e-6),
        ..RetrieveOptions::default()
    };
    assert!(matches!(
        tans.retrieve(&zoo, &query(), &none),
        Err(TansError::NothingWithinConstraints { .. })
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn every_retrieved_network_meets_every_constraint(
        params in proptest::option::of(0.015f64..0.09),
        flops in proptest::option::of(0.2f64..30.0),
        k in 1usize..40,
        seed in 0u64..1000,
    ) {
        let tans = bundle();
        let zoo = zoo();
        let options = RetrieveOptions { k, max_params: params, max_flops: flops, draws: 2, seed };
        let eligible = zoo
            .entries()
            .iter()
            .filter(|e| params.is_none_or(|p| e.cost.params <= p) && flops.is_none_or(|f| e.cost.flops <= f))
            .count();
        match tans.retrieve(&zoo, &query(), &options) {
            Ok(result) => {
                prop_assert_eq!(result.eligible, eligible);
                prop_assert_eq!(result.ranked.len(), k.min(eligible));
                for r in &result.ranked {
                    let e = &zoo.entries()[r.entry];
                    prop_assert!(params.is_none_or(|p| e.cost.params <= p));
                    prop_assert!(flops.is_none_or(|f| e.cost.flops <= f));
                    prop_assert_eq!(r.params_m, e.cost.params);
                }
            }
            Err(TansError::NothingWithinConstraints { .. }) => prop_assert_eq!(eligible, 0),
            Err(e) => prop_assert!(false, "unexpected error {e}"),
        }
    }
}

fn copy_bundle(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("metanas-tans-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["tans.json", "model.mpk", "zoo-embeddings.json"] {
        std::fs::copy(root().join(REPO_TANS_BUNDLE).join(f), dir.join(f)).unwrap();
    }
    dir
}

#[test]
fn broken_bundles_are_typed_errors() {
    let device = Default::default();
    // Saved and loaded back: the same embeddings.
    let tans = bundle();
    let dir = copy_bundle("roundtrip");
    tans.save(&dir).unwrap();
    let back = Tans::<B>::load(&dir, &device).unwrap();
    assert_eq!(back.embeddings(), tans.embeddings());
    assert!(!dir.join(".writing").exists());
    // Another version.
    let text = std::fs::read_to_string(dir.join("tans.json")).unwrap();
    std::fs::write(
        dir.join("tans.json"),
        text.replacen("\"version\": 1", "\"version\": 99", 1),
    )
    .unwrap();
    let e = Tans::<B>::load(&dir, &device).unwrap_err();
    assert!(
        matches!(e, TansError::Bundle { .. }) && e.to_string().contains("v99"),
        "{e}"
    );
    // A truncated weights file.
    let dir = copy_bundle("truncated");
    let bytes = std::fs::read(dir.join("model.mpk")).unwrap();
    std::fs::write(dir.join("model.mpk"), &bytes[..bytes.len() / 2]).unwrap();
    assert!(matches!(
        Tans::<B>::load(&dir, &device),
        Err(TansError::Bundle { .. })
    ));
    // A config that does not match the weights.
    let dir = copy_bundle("mismatch");
    let text = std::fs::read_to_string(dir.join("tans.json")).unwrap();
    std::fs::write(
        dir.join("tans.json"),
        text.replacen("\"predictor_hidden\": 64", "\"predictor_hidden\": 32", 1),
    )
    .unwrap();
    assert!(matches!(
        Tans::<B>::load(&dir, &device),
        Err(TansError::BundleMismatch { .. })
    ));
    // A non-finite embedding.
    let dir = copy_bundle("nan");
    let text = std::fs::read_to_string(dir.join("zoo-embeddings.json")).unwrap();
    let at = text.find("\"embedding\":[").unwrap() + "\"embedding\":[".len();
    let end = at + text[at..].find(',').unwrap();
    let broken = format!("{}1e999{}", &text[..at], &text[end..]);
    std::fs::write(dir.join("zoo-embeddings.json"), broken).unwrap();
    assert!(Tans::<B>::load(&dir, &device).is_err());
    // A zoo the bundle has not embedded.
    let zoo_dir = std::env::temp_dir().join(format!("metanas-tans-zoo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&zoo_dir);
    std::fs::create_dir_all(&zoo_dir).unwrap();
    let index = std::fs::read_to_string(root().join(REPO_ZOO).join("index.jsonl")).unwrap();
    let shipped = zoo();
    let sha = &shipped.entries()[3].weights.sha256;
    std::fs::write(
        zoo_dir.join("index.jsonl"),
        index.replacen(sha.as_str(), &"0".repeat(64), 1),
    )
    .unwrap();
    let other = Zoo::open(&zoo_dir).unwrap();
    assert!(matches!(
        tans.retrieve(&other, &query(), &RetrieveOptions::default()),
        Err(TansError::ZooNotEmbedded { missing: 1, .. })
    ));
}

#[test]
fn fine_tuning_takes_its_steps_and_is_deterministic() {
    let zoo = zoo();
    // The smallest input of the zoo: 8 px.
    let (entry, e) = zoo
        .entries()
        .iter()
        .enumerate()
        .find(|(_, e)| e.protocol.resolution == 8)
        .unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let (c, side, way) = (e.task.channels, 8, 3);
    let split = |n: usize, rng: &mut ChaCha8Rng| Images {
        data: (0..n * way * c * side * side)
            .map(|_| rng.random_range(-1.0f32..1.0))
            .collect(),
        labels: (0..way).flat_map(|l| std::iter::repeat_n(l, n)).collect(),
        channels: c,
        height: side,
        width: side,
    };
    // The spec says how many classes the task has (the images are synthetic).
    let mut spec = e.task.clone();
    spec.classes.truncate(way);
    let task = Task {
        spec,
        train: split(12, &mut rng),
        test: split(4, &mut rng),
    };
    let device = Default::default();
    let options = FineTuneOptions {
        steps: 3,
        lr: Some(0.01),
        seed: 5,
    };
    let (a, net) = fine_tune::<A>(&zoo, entry, &task, &options, &device).unwrap();
    assert!(a.test_accuracy.is_some() && net.is_some());
    // 36 training images in batches of 64: one step per epoch, so 3 steps are 3 epochs.
    assert_eq!(a.epochs.len(), 3);
    let dims = net.unwrap().classifier.weight.dims();
    assert_eq!(dims[1], way, "classifier {dims:?}");
    let (b, _) = fine_tune::<A>(&zoo, entry, &task, &options, &device).unwrap();
    assert_eq!(a.test_accuracy, b.test_accuracy);
    assert_eq!(a.test_loss, b.test_loss);
    let zero = FineTuneOptions {
        steps: 0,
        ..options
    };
    assert!(matches!(
        fine_tune::<A>(&zoo, entry, &task, &zero, &device),
        Err(TansError::Option { name: "steps", .. })
    ));
    // A task at another resolution.
    let wrong = Task {
        train: Images {
            data: vec![0.0; 36 * c * 16 * 16],
            height: 16,
            width: 16,
            ..task.train.clone()
        },
        ..task.clone()
    };
    assert!(matches!(
        fine_tune::<A>(&zoo, entry, &wrong, &options, &device),
        Err(TansError::Data(_))
    ));
    assert!(matches!(
        fine_tune::<A>(&zoo, zoo.entries().len(), &task, &options, &device),
        Err(TansError::Data(_))
    ));
}

/// `metanas retrieve` prints networks within the limits, fine-tunes the top one, and names the
/// smallest network when nothing fits.
#[cfg(feature = "cli")]
#[test]
fn the_cli_retrieves_and_fine_tunes() {
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_metanas"))
            .current_dir(root())
            .args(["retrieve", "--source", "mnist-sample", "--way", "5"])
            .args(["--train-per-class", "10", "--test-per-class", "10"])
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&[
        "--max-params",
        "0.03",
        "--top-k",
        "3",
        "--fine-tune-steps",
        "2",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("fine-tuned") && text.contains("test accuracy"),
        "{text}"
    );
    let rows: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(" train/") && !l.starts_with("fine-tuned"))
        .collect();
    assert_eq!(rows.len(), 3, "{text}");
    for row in rows {
        let params: f64 = row.split_whitespace().nth(4).unwrap().parse().unwrap();
        assert!(params <= 0.03, "{row}");
    }
    let out = run(&["--max-params", "0.000001"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no zoo network meets max_params 0.000001 M"),
        "{err}"
    );
}
