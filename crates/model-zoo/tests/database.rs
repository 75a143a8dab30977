//! The run database end to end: a builder killed mid-write loses nothing already written and
//! resumes to a complete store; a record re-runs to the same accuracy from its spec and seed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use datasets::{DataPaths, SourceSpec, Task};
use model_zoo::database::{self, runs_header, RunRecord};
use model_zoo::plan::{Plan, PlanGroup, Role};
use model_zoo::store::read_store;
use model_zoo::{train_cpu, Protocol};
use search_space::Nb201Arch;

fn tiny_protocol() -> Protocol {
    Protocol {
        channels: 4,
        cells_per_stage: 1,
        resolution: 8,
        train_per_class: 20,
        test_per_class: 10,
        epochs: 1,
        batch_size: 10,
        eval_batch_size: 64,
        ..Protocol::mini()
    }
}

fn tiny_plan(tasks: usize, archs: usize) -> Plan {
    Plan {
        name: "tiny".into(),
        seed: 5,
        good_cells: vec![Nb201Arch::from_index(9930).unwrap()],
        panel: Vec::new(),
        groups: vec![PlanGroup {
            // The MNIST sample embedded in the repository: the builder runs with nothing
            // installed.
            name: "train/mnist-sample".into(),
            role: Role::MetaTrain,
            source: SourceSpec::MnistSample,
            classes: Vec::new(),
            way: 2,
            tasks,
            uniform_archs: archs,
            good_archs: 1,
            seeds: 1,
            connected_only: false,
            test_groups: 0,
            protocol: tiny_protocol(),
            panel_archs: 0,
            channels: 1,
            pin: false,
        }],
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("metanas-db-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn lines(path: &Path) -> usize {
    std::fs::read(path)
        .map(|b| b.iter().filter(|&&c| c == b'\n').count())
        .unwrap_or(0)
}

#[test]
fn killed_builder_resumes_with_nothing_lost() {
    let dir = scratch("kill");
    let plan_path = dir.join("plan.json");
    let store = dir.join("runs.jsonl");
    let plan = tiny_plan(3, 7);
    std::fs::write(&plan_path, serde_json::to_string(&plan).unwrap()).unwrap();
    let planned = plan.jobs(&DataPaths::from_env()).unwrap().len();
    let build = || {
        Command::new(env!("CARGO_BIN_EXE_metanas-db"))
            .args(["build", "--plan"])
            .arg(&plan_path)
            .arg("--store")
            .arg(&store)
            .env("RAYON_NUM_THREADS", "1")
            .spawn()
            .expect("metanas-db starts")
    };
    // Kill the builder (SIGKILL) three times, each as soon as it has stored one more run.
    let mut stored = 0;
    for round in 0..3 {
        let mut child = build();
        let deadline = Instant::now() + Duration::from_secs(120);
        while lines(&store) < stored + 2 && Instant::now() < deadline {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        let c = read_store::<RunRecord>(&store, &runs_header()).unwrap();
        assert!(c.corrupt.is_empty(), "round {round}: {:?}", c.corrupt);
        assert!(
            c.records.len() >= stored,
            "round {round}: records were lost"
        );
        stored = c.records.len();
    }
    // Resume to the end.
    assert!(build().wait().unwrap().success());
    let c = read_store::<RunRecord>(&store, &runs_header()).unwrap();
    assert!(c.corrupt.is_empty());
    assert_eq!(c.partial_tail, 0);
    let keys: std::collections::HashSet<_> = c.records.iter().map(|r| r.key()).collect();
    assert_eq!(keys.len(), c.records.len(), "no run stored twice");
    assert_eq!(c.records.len(), planned);
}

#[test]
fn shards_are_disjoint_and_merge_to_the_plan() {
    let dir = scratch("shards");
    let plan = tiny_plan(3, 2);
    let paths = DataPaths::from_env();
    let train = |job: &model_zoo::plan::Job, task: &Task| {
        train_cpu(job.arch, task, &job.protocol, job.seed)
            .map(|result| database::Trained {
                result,
                weights: None,
            })
            .map_err(|e| e.to_string())
    };
    let mut stores = Vec::new();
    for i in 0..2 {
        let store = dir.join(format!("shard{i}.jsonl"));
        let options = database::BuildOptions {
            shard: format!("{i}/2").parse().unwrap(),
            ..Default::default()
        };
        database::build(&plan, &store, &paths, &options, &(), train).unwrap();
        stores.push(store);
    }
    let a = database::load(&stores[..1]).unwrap();
    let b = database::load(&stores[1..]).unwrap();
    assert!(!a.is_empty() && !b.is_empty());
    assert!(a.iter().all(|r| b.iter().all(|s| s.key() != r.key())));
    // Merging a shard twice drops the duplicates.
    let out = dir.join("merged.jsonl");
    let inputs = vec![stores[0].clone(), stores[1].clone(), stores[0].clone()];
    let report = database::merge(&inputs, &out, false).unwrap();
    assert_eq!(report.records, plan.jobs(&paths).unwrap().len());
    assert_eq!(report.duplicates, a.len());
    // A store trained under another protocol for the same group is refused.
    let mut other = tiny_plan(1, 1);
    other.groups[0].protocol.epochs = 2;
    let odd = dir.join("odd.jsonl");
    database::build(&other, &odd, &paths, &Default::default(), &(), train).unwrap();
    let err = database::merge(&[out.clone(), odd], &dir.join("bad.jsonl"), false).unwrap_err();
    assert!(matches!(err, database::DatabaseError::Incompatible { .. }));
    // No inputs, or an output that would shrink, are refused; --force replaces.
    assert!(matches!(
        database::merge(&[], &out, false),
        Err(database::DatabaseError::NoInputs)
    ));
    let err = database::merge(&stores[..1], &out, false).unwrap_err();
    assert!(
        matches!(err, database::DatabaseError::WouldShrink { .. }),
        "{err}"
    );
    assert_eq!(
        database::load(std::slice::from_ref(&out)).unwrap().len(),
        plan.jobs(&paths).unwrap().len(),
        "the refused merge left the store as it was"
    );
    database::merge(&stores[..1], &out, true).unwrap();
    assert_eq!(database::load(&[out]).unwrap().len(), a.len());
    // A record out of range is skipped as corrupt, by line number.
    let mut bad = a[0].clone();
    bad.result.test_accuracy = Some(1.5);
    let odd = dir.join("range.jsonl");
    model_zoo::store::write_store(&odd, &database::runs_header(), &[a[0].clone(), bad]).unwrap();
    let report = database::merge(&[odd], &dir.join("range-out.jsonl"), false).unwrap();
    assert_eq!(report.records, 1);
    assert_eq!(report.corrupt.len(), 1);
    assert_eq!(report.corrupt[0].1.line, 3);
    assert!(report.corrupt[0].1.message.contains("outside [0, 1]"));
}

#[test]
fn a_panicking_run_is_recorded_as_failed_and_the_build_goes_on() {
    let dir = scratch("panic");
    let plan = tiny_plan(2, 1);
    let paths = DataPaths::from_env();
    let first = plan.jobs(&paths).unwrap()[0].key();
    let store = dir.join("runs.jsonl");
    let report = database::build(
        &plan,
        &store,
        &paths,
        &Default::default(),
        &(),
        |job: &model_zoo::plan::Job, task: &Task| {
            if job.key() == first {
                panic!("a bug in one run");
            }
            train_cpu(job.arch, task, &job.protocol, job.seed)
                .map(|result| database::Trained {
                    result,
                    weights: None,
                })
                .map_err(|e| e.to_string())
        },
    )
    .unwrap();
    assert_eq!(
        (report.ran, report.failed),
        (plan.jobs(&paths).unwrap().len(), 1)
    );
    let records = database::load(&[store]).unwrap();
    let failed: Vec<&RunRecord> = records.iter().filter(|r| !r.result.is_ok()).collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].key(), first);
    let error = failed[0].error.as_deref().unwrap_or_default();
    assert!(
        error.contains("training panicked: a bug in one run"),
        "{error}"
    );
}

#[test]
fn a_record_reruns_to_the_same_accuracy() {
    let dir = scratch("rerun");
    let store = dir.join("runs.jsonl");
    let plan = tiny_plan(1, 1);
    let paths = DataPaths::from_env();
    database::build(
        &plan,
        &store,
        &paths,
        &Default::default(),
        &(),
        |job, task| {
            train_cpu(job.arch, task, &job.protocol, job.seed)
                .map(|result| database::Trained {
                    result,
                    weights: None,
                })
                .map_err(|e| e.to_string())
        },
    )
    .unwrap();
    for record in database::load(&[store]).unwrap() {
        let task = Task::build(&record.task, &paths).unwrap();
        // The record names the SIMD level its sums ran at: this CPU's.
        assert_eq!(record.cpu_simd.as_deref(), Some(database::cpu_simd_level()));
        let again = train_cpu(record.arch, &task, &record.protocol, record.seed).unwrap();
        // Exact on the flex CPU backend, which is deterministic for a fixed seed on a CPU of
        // the same SIMD level.
        assert_eq!(again.test_accuracy, record.result.test_accuracy);
        assert_eq!(again.test_loss, record.result.test_loss);
    }
}

#[test]
fn saved_weights_are_content_addressed_reproducible_and_load() {
    use burn::backend::Flex;
    use burn::module::Module;
    use burn::record::{BinBytesRecorder, FullPrecisionSettings, Recorder};
    use search_space::{Nb201Network, Nb201NetworkConfig};
    use sha2::{Digest, Sha256};

    let dir = scratch("weights");
    let store = dir.join("runs.jsonl");
    let blobs = dir.join("weights");
    let paths = DataPaths::from_env();
    let options = database::BuildOptions {
        save_weights: Some(blobs.clone()),
        ..Default::default()
    };
    database::build(
        &tiny_plan(1, 1),
        &store,
        &paths,
        &options,
        &(),
        |job, task| {
            model_zoo::train_cpu_with_weights(job.arch, task, &job.protocol, job.seed)
                .map(|(result, weights)| database::Trained { result, weights })
                .map_err(|e| e.to_string())
        },
    )
    .unwrap();
    let records = database::load(&[store]).unwrap();
    assert_eq!(records.len(), 2, "one task, one uniform and one good arch");
    for record in records {
        let hash = record
            .weights
            .as_deref()
            .expect("the record names its weights");
        let bytes = std::fs::read(blobs.join(format!("{hash}.bin"))).unwrap();
        let digest: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(digest, hash, "the file is named by its content");
        // The bytes load into the network the record describes, and re-running the record
        // gives the same network: equal outputs (the bytes differ, as Burn names parameters
        // with random ids).
        let task = Task::build(&record.task, &paths).unwrap();
        let (_, again) =
            model_zoo::train_cpu_with_weights(record.arch, &task, &record.protocol, record.seed)
                .unwrap();
        let p = &record.protocol;
        let load = |bytes: Vec<u8>| -> Nb201Network<Flex> {
            let fresh = Nb201NetworkConfig::new(record.arch)
                .with_channels(p.channels)
                .with_cells_per_stage(p.cells_per_stage)
                .with_input_channels(task.train.channels)
                .with_num_classes(task.way())
                .with_resolution(p.resolution)
                .with_seed(99)
                .init(&Default::default());
            let loaded = BinBytesRecorder::<FullPrecisionSettings>::default()
                .load(bytes, &Default::default())
                .expect("a network record");
            fresh.load_record(loaded)
        };
        let (stored, rerun) = (load(bytes), load(again.expect("weights of an ok run")));
        let input = || {
            burn::tensor::Tensor::<Flex, 4>::ones(
                [2, task.train.channels, p.resolution, p.resolution],
                &Default::default(),
            )
        };
        let (a, b) = (
            stored.forward(input()).into_data(),
            rerun.forward(input()).into_data(),
        );
        assert!(a == b, "re-trained weights differ from the stored ones");
        let network = stored;
        assert_eq!(network.num_params(), record.result.param_count);
    }
}

/// The store's lines with the wall times zeroed: what must not change between two builds of
/// the same plan on the flex backend.
fn timeless_lines(store: &Path) -> Vec<String> {
    let mut records = database::load(&[store.to_path_buf()]).unwrap();
    records.sort_by_key(|r| format!("{:?}", r.key()));
    records
        .into_iter()
        .map(|mut r| {
            r.result.wall_seconds = 0.0;
            serde_json::to_string(&r).unwrap()
        })
        .collect()
}

#[test]
fn metanas_db_on_cpu_builds_the_records_of_train_cpu() {
    let dir = scratch("device-cpu");
    let plan = tiny_plan(1, 1);
    let plan_path = dir.join("plan.json");
    std::fs::write(&plan_path, serde_json::to_string(&plan).unwrap()).unwrap();
    let by_cli = dir.join("cli.jsonl");
    let status = Command::new(env!("CARGO_BIN_EXE_metanas-db"))
        .args(["build", "--device", "cpu", "--plan"])
        .arg(&plan_path)
        .arg("--store")
        .arg(&by_cli)
        .env("RAYON_NUM_THREADS", "1")
        .status()
        .unwrap();
    assert!(status.success());
    let by_lib = dir.join("lib.jsonl");
    database::build(
        &plan,
        &by_lib,
        &DataPaths::from_env(),
        &Default::default(),
        &(),
        |job, task| {
            train_cpu(job.arch, task, &job.protocol, job.seed)
                .map(|result| database::Trained {
                    result,
                    weights: None,
                })
                .map_err(|e| e.to_string())
        },
    )
    .unwrap();
    let (cli, lib) = (timeless_lines(&by_cli), timeless_lines(&by_lib));
    assert_eq!(cli.len(), 2);
    assert_eq!(
        cli, lib,
        "--device cpu trains on train_cpu's backend, bit for bit"
    );
}

#[cfg(not(feature = "wgpu"))]
#[test]
fn metanas_db_refuses_a_backend_not_compiled_in_before_touching_the_store() {
    let dir = scratch("device-wgpu");
    let store = dir.join("runs.jsonl");
    let out = Command::new(env!("CARGO_BIN_EXE_metanas-db"))
        .args(["build", "--device", "wgpu:1", "--plan"])
        .arg(dir.join("no-such-plan.json"))
        .arg("--store")
        .arg(&store)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("the wgpu backend is not compiled into this binary")
            && stderr.contains("--features wgpu"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!store.exists(), "no store is created");
}

#[test]
fn metanas_db_rejects_an_unknown_device_name() {
    let out = Command::new(env!("CARGO_BIN_EXE_metanas-db"))
        .args([
            "build", "--plan", "p.json", "--store", "s.jsonl", "--device", "tpu",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("unknown device `tpu`; expected cpu, flex, wgpu"),
        "{stderr}"
    );
}

#[test]
fn metanas_db_stops_quietly_when_stdout_is_closed() {
    // A pipe whose reader is gone, as after `metanas-db status | head -0`: the first write fails
    // with EPIPE.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = Command::new(env!("CARGO_BIN_EXE_metanas-db"))
        .arg("status")
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}: {stderr}", out.status);
    assert!(stderr.is_empty(), "{stderr}");
}
