//! BASE end to end on synthetic 8×8 RGB tasks: meta-training runs, resumes exactly from a saved
//! bundle, adaptation learns a task, bad input is a typed error, and the evaluation harness
//! adds BASE and the from-scratch search beside the other methods.

use burn::backend::{Autodiff, Flex};
use datasets::{DataPaths, Images, SourceSpec, Task, TaskSpec};
use metanas::base::{locate_base_bundle, Base, BaseConfig, BaseError};
use metanas::evaluate::{evaluate, BaseInput, EvaluateError, EvaluateOptions, Inputs};
use model_zoo::database::RunRecord;
use model_zoo::plan::Role;
use model_zoo::{Protocol, RunResult, RunStatus};
use search_space::{Cost, Nb201Arch};

type B = Autodiff<Flex>;

/// A 2-way RGB task at 8×8: class 0 is bright where `mask(x, y)` holds, class 1 where it does
/// not, with deterministic noise.
fn task(per_class: usize, salt: u64, mask: fn(usize, usize) -> bool) -> Task {
    let side = 8;
    let split = |salt: u64| {
        let (mut data, mut labels, mut state) = (Vec::new(), Vec::new(), salt);
        for i in 0..2 * per_class {
            let label = i % 2;
            for _c in 0..3 {
                for y in 0..side {
                    for x in 0..side {
                        state = state
                            .wrapping_mul(6_364_136_223_846_793_005)
                            .wrapping_add(1_442_695_040_888_963_407);
                        let noise = ((state >> 40) as f32 / (1u64 << 24) as f32) - 0.5;
                        let bright = mask(x, y) == (label == 0);
                        data.push(if bright { 0.8 } else { -0.8 } + noise);
                    }
                }
            }
            labels.push(label);
        }
        Images {
            data,
            labels,
            channels: 3,
            height: side,
            width: side,
        }
    };
    Task {
        spec: TaskSpec::new(
            SourceSpec::Digits,
            vec![0, 1],
            per_class,
            per_class,
            side,
            0,
        ),
        train: split(salt),
        test: split(salt + 1),
    }
}

fn left(x: usize, _: usize) -> bool {
    x < 4
}

fn top(_: usize, y: usize) -> bool {
    y < 4
}

fn tiny(iterations: usize) -> BaseConfig {
    BaseConfig {
        channels: 4,
        cells_per_stage: 1,
        resolution: 8,
        max_classes: 3,
        batch_size: 8,
        inner_steps: 3,
        meta_iterations: iterations,
        seed: 5,
        ..BaseConfig::default()
    }
}

#[test]
fn meta_training_resumed_from_a_saved_bundle_is_the_uninterrupted_run() {
    let device = Default::default();
    let tasks = [task(8, 1, left), task(8, 3, top)];
    let mut whole = Base::<B>::new(tiny(4), &device).unwrap();
    let mut logged = Vec::new();
    whole
        .meta_train(&tasks, None, |s| logged.push(s.clone()))
        .unwrap();
    assert_eq!(logged.len(), 4);
    assert!(logged.iter().all(|s| s.loss.is_finite() && s.shift > 0.0));
    assert!(logged[0].epsilon > logged[3].epsilon);

    let dir = std::env::temp_dir().join(format!("metanas-base-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut part = Base::<B>::new(tiny(4), &device).unwrap();
    part.meta_train(&tasks, Some(2), |_| {}).unwrap();
    part.save(&dir).unwrap();
    let mut resumed = Base::<B>::load(&dir, &device).unwrap();
    assert_eq!(resumed.history().len(), 2);
    resumed.meta_train(&tasks, None, |_| {}).unwrap();
    // The same iterations, bit for bit (all but the wall-clock seconds).
    let strip = |h: &[metanas::base::MetaStep]| -> Vec<_> {
        h.iter()
            .map(|s| (s.iteration, s.task, s.loss, s.epsilon, s.shift, s.entropy))
            .collect()
    };
    assert_eq!(strip(resumed.history()), strip(whole.history()));
    assert_eq!(resumed.probabilities(), whole.probabilities());
    // Meta-training moved the distribution off uniform.
    assert!(whole
        .probabilities()
        .iter()
        .flatten()
        .any(|p| (p - 0.2).abs() > 1e-4));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn adaptation_learns_a_task_and_reads_off_the_most_probable_cells() {
    let device = Default::default();
    let base = Base::<B>::new(
        BaseConfig {
            batch_size: 16,
            ..tiny(0)
        },
        &device,
    )
    .unwrap();
    let t = task(24, 7, left);
    let a = base.adapt(&t, 30, 0).unwrap();
    assert_eq!(a.losses.len(), 30);
    assert_eq!(a.top[0].0, a.cell);
    assert!(a.top.windows(2).all(|w| w[0].1 >= w[1].1));
    for row in &a.probabilities {
        assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    }
    let first: f64 = a.losses[..5].iter().sum::<f64>() / 5.0;
    let last: f64 = a.losses[25..].iter().sum::<f64>() / 5.0;
    assert!(last < first, "loss {first} → {last}");
    assert!(
        a.supernet_accuracy > 0.8,
        "accuracy {}",
        a.supernet_accuracy
    );
    // Deterministic for a seed.
    let again = base.adapt(&t, 30, 0).unwrap();
    assert_eq!(again.losses, a.losses);
    assert_eq!(again.cell, a.cell);
}

#[test]
fn bad_input_is_a_typed_error() {
    let device = Default::default();
    let bad = BaseConfig {
        resolution: 6,
        ..tiny(1)
    };
    assert!(matches!(
        Base::<B>::new(bad, &device),
        Err(BaseError::Config {
            field: "resolution",
            ..
        })
    ));
    let mut base = Base::<B>::new(tiny(1), &device).unwrap();
    assert!(matches!(
        base.meta_train(&[], None, |_| {}),
        Err(BaseError::NoTasks)
    ));
    // A grayscale task: one channel.
    let mut gray = task(4, 1, left);
    gray.train.channels = 1;
    gray.train.data.truncate(gray.train.labels.len() * 64);
    let e = base.adapt(&gray, 1, 0).unwrap_err();
    assert!(e.to_string().contains("with_channels(3)"), "{e}");
    let missing = std::env::temp_dir().join("metanas-base-no-such-bundle");
    assert!(matches!(
        Base::<B>::load(&missing, &device),
        Err(BaseError::Bundle { .. })
    ));
}

/// A meta-test set of MNIST digits (3 classes, 8 px) whose three panel cells were
/// "measured" at 2 seeds, and the tiny protocol picks outside the panel are trained with.
fn digits_set() -> (Vec<RunRecord>, Vec<Nb201Arch>) {
    // 22 training images per class: the harness draws a 64-image proxy minibatch.
    // The embedded MNIST sample: no installed data needed.
    let spec = TaskSpec::new(SourceSpec::MnistSample, vec![0, 1, 2], 22, 10, 8, 7);
    let protocol = Protocol {
        channels: 4,
        resolution: 8,
        train_per_class: 22,
        test_per_class: 10,
        epochs: 1,
        batch_size: 8,
        eval_batch_size: 32,
        ..Protocol::mini()
    };
    let panel: Vec<Nb201Arch> = [
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|",
        "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|",
        "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
    ]
    .iter()
    .map(|s| s.parse().unwrap())
    .collect();
    let mut records = Vec::new();
    for (i, arch) in panel.iter().enumerate() {
        for seed in 0..2 {
            let acc = 0.9 - 0.25 * i as f64 + 0.01 * seed as f64;
            records.push(RunRecord {
                group: "test/mnist-sample".into(),
                role: Role::MetaTest,
                task: spec.clone(),
                arch: *arch,
                seed,
                protocol: protocol.clone(),
                result: RunResult {
                    arch: *arch,
                    seed,
                    epochs: Vec::new(),
                    test_accuracy: Some(acc),
                    test_loss: Some(1.0 - acc),
                    wall_seconds: 1.0,
                    cost: Cost {
                        params: 0.001,
                        flops: 1.0,
                    },
                    param_count: 1000,
                    status: RunStatus::Ok,
                },
                weights: None,
                error: None,
                cpu_simd: None,
            });
        }
    }
    (records, panel)
}

#[test]
fn the_harness_adds_base_and_the_from_scratch_search_with_trained_picks() {
    let device = Default::default();
    let (records, panel) = digits_set();
    let data = DataPaths::from_env();
    let options = EvaluateOptions {
        bootstrap: 20,
        train_seeds: 1,
        proxies: vec![],
        all_cells_proxies: vec![],
        oracle_top: 0,
        ..EvaluateOptions::default()
    };
    let config = BaseConfig {
        batch_size: 8,
        ..tiny(0)
    };
    // An un-meta-trained model is the from-scratch supernet: both methods must agree exactly.
    let model = Base::<B>::new(config.clone(), &device).unwrap();
    let inputs = |seeds: Vec<u64>, arch_lr| Inputs::<'_, Flex, B> {
        records: &records,
        panel: &panel,
        data: &data,
        metad2a: None,
        base: Some(BaseInput {
            model: &model,
            steps: 3,
            seeds,
            arch_lr,
        }),
        store: None,
    };
    let evaluation =
        evaluate::<B, Flex>(&inputs(vec![0, 1], None), &options, &device, &mut |_| {}).unwrap();
    let set = &evaluation.sets[0];
    let find = |name: &str| {
        set.methods
            .iter()
            .find(|m| m.method == name)
            .unwrap_or_else(|| panic!("{name} missing from {:?}", set.methods))
    };
    let base = find("BASE (adapted, argmax cell)");
    let scratch = find("supernet from scratch (same steps)");
    assert_eq!(base.pool, "adapted supernet (3 steps, 2 seeds)");
    for m in [base, scratch] {
        assert!(m.regret.arch.is_some());
        assert!(m.regret.regret_pp.is_finite() && m.regret.se_pp.is_finite());
        assert!(m.seconds > 0.0, "adaptation time is the method's compute");
        assert!(m.regret.runs >= 1);
        let loss = m.loss.as_ref().expect("every run has a test loss");
        assert!(loss.regret_nats.is_finite() && loss.se_nats.is_finite());
    }
    // Here a panel run's test loss is 1 − its accuracy, so judged by loss the random panel
    // cell's regret is its accuracy regret in fractions.
    let random = find("random panel cell (expected)");
    let loss = random.loss.as_ref().unwrap();
    assert!((loss.regret_nats - random.regret.regret_pp / 100.0).abs() < 1e-9);
    assert!(set
        .best_loss
        .as_ref()
        .is_some_and(|(arch, _)| *arch == set.best_arch));
    assert_eq!(base.regret.arch, scratch.regret.arch);
    assert_eq!(base.regret.regret_pp, scratch.regret.regret_pp);
    // Picks outside the three-cell panel were trained with the set's protocol.
    assert_eq!(
        evaluation.trained_runs > 0,
        !base.regret.in_panel || !scratch.regret.in_panel
    );
    assert!(evaluation
        .summary
        .iter()
        .any(|s| s.label.starts_with("BASE (adapted, argmax cell)")));

    // No seed, or an unusable learning rate: typed errors, nothing run.
    let e = evaluate::<B, Flex>(&inputs(vec![], None), &options, &device, &mut |_| {}).unwrap_err();
    assert!(
        matches!(
            e,
            EvaluateError::Option {
                option: "base.seeds",
                ..
            }
        ),
        "{e}"
    );
    let e = evaluate::<B, Flex>(&inputs(vec![0], Some(-1.0)), &options, &device, &mut |_| {})
        .unwrap_err();
    assert!(e.to_string().contains("arch_lr"), "{e}");
}

#[test]
fn the_shipped_bundle_is_found_and_loads() {
    let dir = locate_base_bundle().expect("crates/metanas/bundle-base is in the repository");
    let base = Base::<B>::load(&dir, &Default::default()).unwrap();
    assert!(
        !base.history().is_empty(),
        "the shipped bundle is meta-trained"
    );
    assert_eq!(base.history().len(), base.config().meta_iterations);
}
