//! The predictor learns a dataset-dependent ranking, saves and loads, and scores in batches.

use burn::backend::{Autodiff, Flex};
use datasets::Features;
use graph_vae::{GraphSpace, Nb201Space};
use meta_predictor::metrics::{pearson, spearman};
use meta_predictor::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use search_space::{Nb201Arch, Op};

type A = Autodiff<Flex>;

/// A synthetic task of `kind` 0 or 1: 4 classes × 12 images of 4 features, the kind written
/// into feature `kind`.
fn task(kind: usize, seed: u64) -> Features {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut data = Vec::new();
    let mut labels = Vec::new();
    for c in 0..4 {
        for _ in 0..12 {
            for f in 0..4 {
                let base = if f == kind { 2.0 } else { 0.0 };
                data.push(base + 0.2 * c as f32 + 0.3 * rng.random::<f32>());
            }
            labels.push(c);
        }
    }
    Features {
        data,
        labels,
        dim: 4,
    }
}

/// Kind 0 rewards 3×3 convolutions, kind 1 penalises them: the ranking depends on the dataset,
/// and a model that ignores it can do no better than a constant.
fn accuracy(kind: usize, arch: &Nb201Arch) -> f64 {
    let convs = arch.count(Op::NorConv3x3) as f64;
    if kind == 0 {
        50.0 + 5.0 * convs
    } else {
        80.0 - 5.0 * convs
    }
}

fn examples(tasks: &[Features], archs: &[Nb201Arch]) -> Vec<Example> {
    let mut out = Vec::new();
    for (t, _) in tasks.iter().enumerate() {
        for a in archs {
            out.push(Example {
                task: t,
                graph: Nb201Space.arch_to_graph(a),
                accuracy: accuracy(t % 2, a),
            });
        }
    }
    out
}

fn small(use_dataset: bool) -> MetaPredictorConfig {
    MetaPredictorConfig::new(4)
        .with_graph_hidden(32)
        .with_head_hidden(64)
        .with_use_dataset(use_dataset)
        .with_seed(1)
}

fn archs(seed: u64, n: usize) -> Vec<Nb201Arch> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| Nb201Arch::from_index(rng.random_range(0..15_625)).unwrap())
        .collect()
}

#[test]
fn the_predictor_uses_the_dataset_and_beats_its_ablation() {
    let device = Default::default();
    let tasks: Vec<Features> = (0..6).map(|i| task(i % 2, i as u64)).collect();
    let train_set = examples(&tasks[..4], &archs(1, 40));
    // Validation: unseen tasks (4, 5) and unseen archs.
    let valid: Vec<Example> = examples(&tasks, &archs(2, 30))
        .into_iter()
        .filter(|e| e.task >= 4)
        .collect();
    let config = PredictorTrainConfig {
        epochs: 40,
        patience: 40,
        selection: meta_predictor::Selection::Pearson,
        batch_size: 16,
        learning_rate: 2e-3,
        images_per_class: 8,
        seed: 3,
    };
    let truth: Vec<f64> = valid.iter().map(|e| e.accuracy).collect();
    let mut r = Vec::new();
    for use_dataset in [true, false] {
        let model = small(use_dataset).try_init::<A>(&device).unwrap();
        let trained = train(model, &tasks, &train_set, &valid, &config, &device, |_| {}).unwrap();
        let valid_model = burn::module::AutodiffModule::valid(&trained.model);
        let pred = predict_examples(&valid_model, &tasks, &valid, 8, 2, 9, &device).unwrap();
        r.push(pearson(&pred, &truth).unwrap());
        eprintln!("use_dataset {use_dataset}: r = {:.3}", r.last().unwrap());
    }
    assert!(r[0] > 0.9, "with the dataset r = {}", r[0]);
    assert!(
        r[1] < 0.3,
        "without the dataset r = {} (the two kinds disagree)",
        r[1]
    );
}

#[test]
fn save_load_and_cached_scoring_agree() {
    let device = Default::default();
    let model = small(true).try_init::<Flex>(&device).unwrap();
    let meta = PredictorMeta {
        config: small(true),
        normalizer: Normalizer {
            mean: 60.0,
            std: 5.0,
        },
        history: vec![],
        best_epoch: 0,
    };
    let dir = std::env::temp_dir().join(format!("meta-predictor-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("predictor");
    save(&model, &meta, &path).unwrap();
    let (loaded, meta2) = load::<Flex>(&path, &device).unwrap();
    assert_eq!(meta2.normalizer, meta.normalizer);

    let archs = archs(5, 50);
    let graphs: Vec<_> = archs.iter().map(|a| Nb201Space.arch_to_graph(a)).collect();
    let t = task(0, 1);
    let a = GraphLatentCache::new(&model, &graphs, 16, &device)
        .unwrap()
        .score(&model, &t, 8, 3, &mut ChaCha8Rng::seed_from_u64(4))
        .unwrap();
    let cache = GraphLatentCache::new(&loaded, &graphs, 50, &device).unwrap();
    assert_eq!(cache.len(), 50);
    let b = cache
        .score(&loaded, &t, 8, 3, &mut ChaCha8Rng::seed_from_u64(4))
        .unwrap();
    for (x, y) in a.iter().zip(&b) {
        assert!((x - y).abs() < 1e-5, "{x} vs {y}");
    }
    // The cache scores every arch; ranking by it is a permutation of the archs.
    assert_eq!(a.len(), 50);
    let s = spearman(
        &a.iter().map(|&v| v as f64).collect::<Vec<_>>(),
        &b.iter().map(|&v| v as f64).collect::<Vec<_>>(),
    );
    assert!(s.unwrap() > 0.999);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_inputs_are_typed_errors() {
    let device = Default::default();
    let model = small(true).try_init::<A>(&device).unwrap();
    let tasks = vec![task(0, 0)];
    let bad = vec![
        Example {
            task: 3,
            graph: Nb201Space.arch_to_graph(&archs(0, 1)[0]),
            accuracy: 1.0,
        },
        Example {
            task: 0,
            graph: Nb201Space.arch_to_graph(&archs(0, 1)[0]),
            accuracy: 2.0,
        },
    ];
    let config = PredictorTrainConfig::default();
    assert!(matches!(
        train(model.clone(), &tasks, &bad, &[], &config, &device, |_| {}),
        Err(PredictorError::Data(_))
    ));
    let same = vec![bad[1].clone(), bad[1].clone()];
    assert!(matches!(
        train(model, &tasks, &same, &[], &config, &device, |_| {}),
        Err(PredictorError::Data(_))
    ));
    let missing = std::env::temp_dir().join("meta-predictor-does-not-exist");
    assert!(matches!(
        load::<Flex>(&missing, &device),
        Err(PredictorError::Checkpoint { .. })
    ));
}

#[test]
fn cached_scores_equal_the_plain_forward_pass() {
    let device = Default::default();
    let model = small(true).try_init::<Flex>(&device).unwrap();
    let graphs: Vec<_> = archs(8, 40)
        .iter()
        .map(|a| Nb201Space.arch_to_graph(a))
        .collect();
    let cache = GraphLatentCache::new(&model, &graphs, 16, &device).unwrap();
    let t = task(1, 2);
    // One draw: the cache's split head must equal the plain head on the same draw.
    let cached = cache
        .score(&model, &t, 8, 1, &mut ChaCha8Rng::seed_from_u64(5))
        .unwrap();
    let drawn = vec![set_encoder::draw_per_class(
        &t,
        8,
        &mut ChaCha8Rng::seed_from_u64(5),
    )];
    let set = set_encoder::SetBatch::<Flex>::from_classes(4, &drawn, &device).unwrap();
    let d = model.dataset_latents(&set).unwrap();
    let plain: Vec<f32> = model
        .score_latents(d, cache.latents().clone())
        .unwrap()
        .into_data()
        .to_vec()
        .unwrap();
    for (a, b) in cached.iter().zip(&plain) {
        assert!((a - b).abs() < 1e-5 * (1.0 + b.abs()), "{a} vs {b}");
    }
}

#[test]
fn host_scoring_kernel_matches_the_plain_head_over_draws() {
    // On flex the cache scores with a fused host kernel (vectorised tanh); it must agree with
    // Burn's ops on the same draws, and `score_embedded` must give the same scores.
    let device = Default::default();
    let model = small(true).try_init::<Flex>(&device).unwrap();
    let graphs: Vec<_> = archs(3, 60)
        .iter()
        .map(|a| Nb201Space.arch_to_graph(a))
        .collect();
    let cache = GraphLatentCache::new(&model, &graphs, 32, &device).unwrap();
    let t = task(2, 3);
    let draws = 4;
    let cached = cache
        .score(&model, &t, 8, draws, &mut ChaCha8Rng::seed_from_u64(9))
        .unwrap();
    let (embedded, hidden) = cache
        .score_embedded(&model, &t, 8, draws, &mut ChaCha8Rng::seed_from_u64(9))
        .unwrap();
    assert_eq!(cached, embedded);
    assert_eq!(hidden.len(), 60 * model.head_hidden.weight.dims()[1]);
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let drawn: Vec<_> = (0..draws)
        .map(|_| set_encoder::draw_per_class(&t, 8, &mut rng))
        .collect();
    let mut plain = vec![0.0f32; 60];
    for one in drawn {
        let set = set_encoder::SetBatch::<Flex>::from_classes(4, &[one], &device).unwrap();
        let d = model.dataset_latents(&set).unwrap();
        let s: Vec<f32> = model
            .score_latents(d, cache.latents().clone())
            .unwrap()
            .into_data()
            .to_vec()
            .unwrap();
        for (p, s) in plain.iter_mut().zip(s) {
            *p += s / draws as f32;
        }
    }
    for (a, b) in cached.iter().zip(&plain) {
        assert!((a - b).abs() < 1e-5 * (1.0 + b.abs()), "{a} vs {b}");
    }
}
