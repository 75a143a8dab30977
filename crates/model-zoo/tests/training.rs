//! End-to-end behaviour of `train`: one integration-test binary for the crate.

use datasets::{Images, SourceSpec, Task, TaskSpec};
use model_zoo::{train_cpu, Protocol, RunStatus, TrainError};
use search_space::Nb201Arch;

const ARCH: &str =
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|";

/// A synthetic 2-way task at 8×8: class 0 is a bright left half, class 1 a bright right half,
/// both with deterministic noise.
fn synthetic_task(train_per_class: usize, test_per_class: usize) -> Task {
    let side = 8;
    let split = |per_class: usize, salt: u64| {
        let mut data = Vec::new();
        let mut labels = Vec::new();
        let mut state = salt;
        for i in 0..2 * per_class {
            let label = i % 2;
            for y in 0..side {
                for x in 0..side {
                    state = state
                        .wrapping_mul(6_364_136_223_846_793_005)
                        .wrapping_add(1_442_695_040_888_963_407);
                    let noise = ((state >> 40) as f32 / (1u64 << 24) as f32) - 0.5;
                    let bright = (x < side / 2) == (label == 0);
                    data.push(if bright { 0.8 } else { -0.8 } + noise + 0.0 * y as f32);
                }
            }
            labels.push(label);
        }
        Images {
            data,
            labels,
            channels: 1,
            height: side,
            width: side,
        }
    };
    Task {
        spec: TaskSpec::new(
            SourceSpec::Digits,
            vec![0, 1],
            train_per_class,
            test_per_class,
            side,
            0,
        ),
        train: split(train_per_class, 1),
        test: split(test_per_class, 2),
    }
}

fn tiny_protocol() -> Protocol {
    Protocol {
        channels: 4,
        cells_per_stage: 1,
        resolution: 8,
        train_per_class: 32,
        test_per_class: 16,
        epochs: 1,
        batch_size: 16,
        eval_batch_size: 32,
        ..Protocol::mini()
    }
}

fn arch() -> Nb201Arch {
    ARCH.parse().unwrap()
}

#[test]
fn tiny_run_finishes_with_finite_loss() {
    let task = synthetic_task(32, 16);
    let result = train_cpu(arch(), &task, &tiny_protocol(), 0).unwrap();
    assert_eq!(result.status, RunStatus::Ok);
    assert_eq!(result.epochs.len(), 1);
    let loss = result.test_loss.unwrap();
    let accuracy = result.test_accuracy.unwrap();
    assert!(loss.is_finite(), "loss {loss}");
    assert!((0.0..=1.0).contains(&accuracy));
    assert!(result.epochs[0].train_loss.is_finite());
    assert_eq!(
        result.param_count,
        search_space::cost::param_count(&arch(), &tiny_protocol().macro_config(1, 2))
    );
    assert!(result.wall_seconds > 0.0);
    // The record is plain data.
    let json = serde_json::to_string(&result).unwrap();
    let back: model_zoo::RunResult = serde_json::from_str(&json).unwrap();
    assert_eq!(back.test_accuracy, result.test_accuracy);
}

#[test]
fn easy_task_is_learned() {
    let task = synthetic_task(64, 32);
    let protocol = Protocol {
        epochs: 4,
        train_per_class: 64,
        test_per_class: 32,
        test_every_epoch: true,
        ..tiny_protocol()
    };
    let result = train_cpu(arch(), &task, &protocol, 1).unwrap();
    assert_eq!(result.epochs.len(), 4);
    assert!(result.epochs.iter().all(|e| e.test_accuracy.is_some()));
    let accuracy = result.test_accuracy.unwrap();
    assert!(accuracy > 0.9, "accuracy {accuracy}");
}

#[test]
fn same_seed_same_result() {
    let task = synthetic_task(32, 16);
    let protocol = Protocol {
        epochs: 2,
        test_every_epoch: true,
        ..tiny_protocol()
    };
    let a = train_cpu(arch(), &task, &protocol, 7).unwrap();
    let b = train_cpu(arch(), &task, &protocol, 7).unwrap();
    assert_eq!(a.epochs, b.epochs);
    assert_eq!(a.test_accuracy, b.test_accuracy);
    assert_eq!(a.test_loss, b.test_loss);
    let c = train_cpu(arch(), &task, &protocol, 8).unwrap();
    assert_ne!(a.epochs, c.epochs);
}

#[test]
fn divergence_is_recorded_not_a_crash() {
    let task = synthetic_task(32, 16);
    let protocol = Protocol {
        lr: 1e12,
        epochs: 3,
        ..tiny_protocol()
    };
    let result = train_cpu(arch(), &task, &protocol, 0).unwrap();
    assert!(
        matches!(result.status, RunStatus::Diverged { .. }),
        "{:?}",
        result.status
    );
    assert!(!result.is_ok());
    assert_eq!(result.test_accuracy, None);
    assert_eq!(result.test_loss, None);
    // Still serialisable.
    serde_json::to_string(&result).unwrap();
}

#[test]
fn cut_cells_train_without_crashing() {
    let task = synthetic_task(32, 16);
    let cut: Nb201Arch = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
        .parse()
        .unwrap();
    let result = train_cpu(cut, &task, &tiny_protocol(), 0).unwrap();
    assert_eq!(result.status, RunStatus::Ok);
}

#[test]
fn bad_inputs_are_typed_errors() {
    let protocol = tiny_protocol();
    let task = synthetic_task(32, 16);

    let mut empty = task.clone();
    empty.train.data.clear();
    empty.train.labels.clear();
    assert!(matches!(
        train_cpu(arch(), &empty, &protocol, 0),
        Err(TrainError::TooFewImages { split: "train", .. })
    ));

    let mut no_test = task.clone();
    no_test.test.data.clear();
    no_test.test.labels.clear();
    assert!(matches!(
        train_cpu(arch(), &no_test, &protocol, 0),
        Err(TrainError::TooFewImages { split: "test", .. })
    ));

    let wrong_resolution = Protocol {
        resolution: 16,
        ..protocol.clone()
    };
    assert!(matches!(
        train_cpu(arch(), &task, &wrong_resolution, 0),
        Err(TrainError::Shape { resolution: 16, .. })
    ));

    let mut bad_label = task.clone();
    bad_label.test.labels[0] = 5;
    assert!(matches!(
        train_cpu(arch(), &bad_label, &protocol, 0),
        Err(TrainError::Label {
            label: 5,
            way: 2,
            ..
        })
    ));

    let mut no_classes = task.clone();
    no_classes.spec.classes.clear();
    assert_eq!(
        train_cpu(arch(), &no_classes, &protocol, 0),
        Err(TrainError::NoClasses)
    );

    let bad_protocol = Protocol {
        epochs: 0,
        ..protocol
    };
    assert!(matches!(
        train_cpu(arch(), &task, &bad_protocol, 0),
        Err(TrainError::Protocol(_))
    ));
}

#[test]
fn the_observer_sees_every_step_and_epoch_of_the_same_run() {
    use model_zoo::{train_observed, CpuBackend, TrainEvent};
    let task = synthetic_task(32, 16);
    let protocol = Protocol {
        epochs: 2,
        ..tiny_protocol()
    };
    let (mut starts, mut steps, mut epochs) = (Vec::new(), Vec::new(), Vec::new());
    let observed = train_observed::<CpuBackend>(
        arch(),
        &task,
        &protocol,
        3,
        &Default::default(),
        &mut |event| match event {
            TrainEvent::Start {
                total_steps,
                epochs,
            } => starts.push((total_steps, epochs)),
            TrainEvent::Step { step, loss } => steps.push((step, loss)),
            TrainEvent::Epoch { epoch, metrics } => epochs.push((epoch, metrics.clone())),
        },
    )
    .unwrap();
    // 64 images at batch 16: 4 steps per epoch, 2 epochs.
    assert_eq!(starts, vec![(8, 2)]);
    assert_eq!(
        steps.iter().map(|s| s.0).collect::<Vec<_>>(),
        (0..8).collect::<Vec<_>>()
    );
    assert!(steps.iter().all(|s| s.1.is_finite()));
    assert_eq!(epochs.iter().map(|e| e.0).collect::<Vec<_>>(), vec![0, 1]);
    assert_eq!(
        epochs.into_iter().map(|e| e.1).collect::<Vec<_>>(),
        observed.epochs
    );
    // Observing changes nothing.
    let plain = train_cpu(arch(), &task, &protocol, 3).unwrap();
    assert_eq!(plain.epochs, observed.epochs);
}
