//! BASE end to end on synthetic 8×8 RGB tasks: meta-training runs, resumes exactly from a saved
//! bundle, adaptation learns a task, and bad input is a typed error.

use burn::backend::{Autodiff, Flex};
use datasets::{Images, SourceSpec, Task, TaskSpec};
use metanas::base::{Base, BaseConfig, BaseError};

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
