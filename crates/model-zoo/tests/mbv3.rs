//! MobileNetV3 points end to end: a point learns an easy task through the shared training loop,
//! and the database builder stores, resumes and keys MobileNetV3 runs in their own store format.

use std::path::PathBuf;

use datasets::{DataPaths, Images, SourceSpec, Task, TaskSpec};
use model_zoo::database::{self, runs_header, BuildOptions, RunRecord, Trained};
use model_zoo::mbv3::{
    mbv3_runs_header, read_mbv3_runs, sample_points, train_mbv3_cpu, Mbv3Job, Mbv3Protocol,
};
use model_zoo::plan::Role;
use model_zoo::store::read_store;
use model_zoo::{Protocol, RunStatus};
use search_space::mbv3::Mbv3Plan;

/// A 2-way RGB task at 32×32: class 0 has a bright left half, class 1 a bright right half, with
/// deterministic noise.
fn synthetic_task(per_class: usize) -> Task {
    let side = 32;
    let split = |salt: u64| {
        let (mut data, mut labels, mut state) = (Vec::new(), Vec::new(), salt);
        for i in 0..2 * per_class {
            let label = i % 2;
            for _channel in 0..3 {
                for _y in 0..side {
                    for x in 0..side {
                        state = state
                            .wrapping_mul(6_364_136_223_846_793_005)
                            .wrapping_add(1_442_695_040_888_963_407);
                        let noise = ((state >> 40) as f32 / (1u64 << 24) as f32) - 0.5;
                        let bright = (x < side / 2) == (label == 0);
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
        train: split(1),
        test: split(2),
    }
}

fn tiny_protocol(epochs: usize) -> Mbv3Protocol {
    let nb201 = Protocol {
        epochs,
        min_steps: 0,
        batch_size: 16,
        eval_batch_size: 64,
        ..Protocol::mini()
    };
    Mbv3Protocol::from_nb201(&nb201, 0.35, 32)
}

#[test]
fn a_point_learns_an_easy_task() {
    let task = synthetic_task(48);
    let arch = sample_points(1, 3)[0];
    let protocol = tiny_protocol(3);
    let result = train_mbv3_cpu(arch, &task, &protocol, 0).unwrap();
    assert_eq!(result.status, RunStatus::Ok);
    assert_eq!(result.epochs.len(), 3);
    let accuracy = result.test_accuracy.unwrap();
    assert!(accuracy > 0.9, "accuracy {accuracy}");
    // The cost is the exact cost of the trained network's configuration.
    let plan = Mbv3Plan::new(&arch, &protocol.macro_config(3, 2)).unwrap();
    assert_eq!(result.param_count, plan.param_count());
    // Deterministic for a seed.
    let again = train_mbv3_cpu(arch, &task, &protocol, 0).unwrap();
    assert_eq!(again.epochs, result.epochs);
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("metanas-mbv3-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn the_builder_stores_and_resumes_mbv3_runs_in_their_own_format() {
    let dir = scratch("build");
    let store = dir.join("runs.jsonl");
    let paths = DataPaths::from_env();
    // The MNIST sample shipped in the repository, at 32×32.
    let task = TaskSpec::new(SourceSpec::MnistSample, vec![0, 1], 8, 4, 32, 0);
    let protocol = tiny_protocol(1);
    let jobs: Vec<Mbv3Job> = sample_points(2, 0)
        .into_iter()
        .enumerate()
        .map(|(unit, arch)| Mbv3Job {
            group: "train/mnist-sample".into(),
            role: Role::MetaTrain,
            task_index: 0,
            unit,
            task: task.clone(),
            arch,
            protocol: protocol.clone(),
            seed: 0,
        })
        .collect();
    let train = |job: &Mbv3Job, task: &Task| {
        train_mbv3_cpu(job.arch, task, &job.protocol, job.seed)
            .map(|result| Trained {
                result,
                weights: None,
            })
            .map_err(|e| e.to_string())
    };
    let options = BuildOptions::default();
    let header = mbv3_runs_header();
    let report =
        database::build_jobs(jobs.clone(), &store, &header, &paths, &options, &(), train).unwrap();
    assert_eq!((report.planned, report.skipped, report.ran), (2, 0, 2));
    let records = read_mbv3_runs(&store).unwrap();
    assert_eq!(records.len(), 2);
    for (r, job) in records.iter().zip(&jobs) {
        assert_eq!(r.key(), job.key());
        assert_eq!(r.arch, job.arch);
        assert!(r.result.test_accuracy.is_some(), "{:?}", r.error);
    }
    // A second build skips both.
    let again = database::build_jobs(jobs, &store, &header, &paths, &options, &(), train).unwrap();
    assert_eq!((again.skipped, again.ran), (2, 0));
    // The NB201 reader refuses a MobileNetV3 store instead of misreading it.
    assert!(read_store::<RunRecord>(&store, &runs_header()).is_err());
}
