//! The model zoo end to end: a small zoo built from a plan on the embedded MNIST sample, its
//! networks loaded back on flex and tested to the metrics their entries name; every way a blob
//! can go wrong is a typed error naming the file (never a panic); the builder resumes and
//! re-trains entries whose blob is broken; the command line builds, reports and checks a zoo.

use std::path::{Path, PathBuf};
use std::process::Command;

use burn::backend::Flex;
use datasets::{DataPaths, SourceSpec, Task};
use model_zoo::plan::{Plan, PlanGroup, Role};
use model_zoo::store::StoreError;
use model_zoo::zoo::{
    self, Zoo, ZooBuildOptions, ZooEntry, ZooError, ZooSelection, ZooWriter, BLOB_DIR, INDEX_FILE,
};
use model_zoo::{test_network, CpuBackend, Protocol};
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

/// Two groups (one meta-training with `tasks` tasks of 6 cells, one meta-test) on the MNIST
/// sample embedded in the repository.
fn plan(tasks: usize) -> Plan {
    let group = |name: &str, role, tasks| PlanGroup {
        name: name.into(),
        role,
        source: SourceSpec::MnistSample,
        classes: Vec::new(),
        way: 2,
        tasks,
        uniform_archs: 5,
        good_archs: 1,
        seeds: 1,
        connected_only: true,
        test_groups: 0,
        protocol: tiny_protocol(),
        panel_archs: 0,
        channels: 1,
        pin: false,
    };
    Plan {
        name: "tiny-zoo".into(),
        seed: 15,
        good_cells: vec![Nb201Arch::from_index(9930).unwrap()],
        panel: Vec::new(),
        groups: vec![
            group("train/a", Role::MetaTrain, tasks),
            group("test/b", Role::MetaTest, 1),
        ],
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("metanas-zoo-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Builds a zoo of `tasks` tasks × 2 cells into `dir`.
fn build(dir: &Path, tasks: usize) -> zoo::ZooBuildReport {
    let paths = DataPaths::from_env();
    let jobs = plan(tasks).jobs(&paths).unwrap();
    let selection = ZooSelection {
        tasks,
        cells_per_task: 2,
        spread: 1.0,
    };
    let jobs = zoo::select_jobs(&jobs, &selection);
    zoo::build::<CpuBackend>(
        &jobs,
        dir,
        &paths,
        &ZooBuildOptions::default(),
        &Default::default(),
        &mut |_| {},
    )
    .unwrap()
}

#[test]
fn selection_takes_meta_training_tasks_in_turn_and_spreads_cells_by_size() {
    let paths = DataPaths::from_env();
    let mut p = plan(3);
    // A second meta-training group: tasks alternate between the two.
    let mut second = p.groups[0].clone();
    second.name = "train/c".into();
    p.groups.push(second);
    let jobs = p.jobs(&paths).unwrap();
    let selection = ZooSelection {
        tasks: 4,
        cells_per_task: 3,
        spread: 1.0,
    };
    let picked = zoo::select_jobs(&jobs, &selection);
    assert_eq!(picked.len(), 12);
    assert!(picked.iter().all(|j| j.role == Role::MetaTrain));
    let groups: Vec<&str> = picked.chunks(3).map(|c| c[0].group.as_str()).collect();
    assert_eq!(groups, ["train/a", "train/c", "train/a", "train/c"]);
    for task in picked.chunks(3) {
        assert!(task.iter().all(|j| j.task_index == task[0].task_index));
        let params: Vec<usize> = task
            .iter()
            .map(|j| {
                let c = j.protocol.macro_config(1, 2);
                search_space::cost::param_count(&j.arch, &c)
            })
            .collect();
        assert!(params.windows(2).all(|w| w[0] <= w[1]), "{params:?}");
        // Spread 1.0 reaches the task's largest connected cell.
        let largest = jobs
            .iter()
            .filter(|j| j.task_index == task[0].task_index && j.arch.is_connected())
            .map(|j| search_space::cost::param_count(&j.arch, &j.protocol.macro_config(1, 2)))
            .max()
            .unwrap();
        assert_eq!(params[2], largest);
    }
}

#[test]
fn a_built_zoo_loads_its_networks_to_the_metrics_it_recorded() {
    let dir = scratch("load");
    let report = build(&dir, 2);
    assert_eq!((report.selected, report.added, report.failed), (4, 4, 0));
    let zoo = Zoo::open(&dir).unwrap();
    assert_eq!(zoo.entries().len(), 4);
    let paths = DataPaths::from_env();
    for entry in zoo.entries() {
        assert_eq!(entry.role, Role::MetaTrain);
        assert!(entry.weights.bytes > 0);
        let network = zoo.load::<Flex>(entry, &Default::default()).unwrap();
        use burn::module::Module;
        assert_eq!(network.num_params(), entry.param_count);
        let task = Task::build(&entry.task, &paths).unwrap();
        let (loss, accuracy) = test_network(&network, &task, &entry.protocol).unwrap();
        // Deterministic on flex: the stored network tests exactly as the build measured it.
        assert_eq!(accuracy.to_bits(), entry.stored.test_accuracy.to_bits());
        assert_eq!(loss.to_bits(), entry.stored.test_loss.to_bits());
        // f16 moves the loss a little, not the accuracy much (2-way, 20 test images).
        assert!((loss - entry.trained.test_loss).abs() < 0.05, "{entry:?}");
    }
    // Entries are keyed by task, cell and seed.
    let first = &zoo.entries()[0];
    assert_eq!(zoo.get(&first.key()), Some(first));
}

#[test]
fn the_trained_network_tests_to_its_run_metrics() {
    let paths = DataPaths::from_env();
    let job = &plan(1).jobs(&paths).unwrap()[0];
    let task = Task::build(&job.task, &paths).unwrap();
    let (result, network) = model_zoo::train_with_network::<CpuBackend>(
        job.arch,
        &task,
        &job.protocol,
        job.seed,
        &Default::default(),
    )
    .unwrap();
    let network = network.expect("an ok run");
    let (loss, accuracy) = test_network(&network, &task, &job.protocol).unwrap();
    assert_eq!(Some(accuracy), result.test_accuracy);
    assert_eq!(Some(loss), result.test_loss);
    // And through the f32 path of the database: the same run.
    let again = model_zoo::train_cpu(job.arch, &task, &job.protocol, job.seed).unwrap();
    assert_eq!(again.test_accuracy, result.test_accuracy);
    // A task of another shape is a typed error, not a kernel panic.
    let mut other = job.task.clone();
    other.classes = vec![0, 1, 2];
    let other = Task::build(&other, &paths).unwrap();
    assert!(matches!(
        test_network(&network, &other, &job.protocol),
        Err(model_zoo::TrainError::NetworkMismatch { .. })
    ));
}

/// Rewrites the index of `dir` with `edit` applied to every line of the zoo's first entry
/// (a key can have several lines: the last one counts).
fn edit_first_entry(dir: &Path, edit: impl Fn(&mut ZooEntry)) {
    let key = Zoo::open(dir).unwrap().entries()[0].key();
    let index = dir.join(INDEX_FILE);
    let text = std::fs::read_to_string(&index).unwrap();
    let lines: Vec<String> = text
        .lines()
        .enumerate()
        .map(|(i, line)| match serde_json::from_str::<ZooEntry>(line) {
            Ok(mut entry) if i > 0 && entry.key() == key => {
                edit(&mut entry);
                serde_json::to_string(&entry).unwrap()
            }
            _ => line.to_string(),
        })
        .collect();
    std::fs::write(&index, lines.join("\n") + "\n").unwrap();
}

#[test]
fn broken_blobs_are_typed_errors_naming_the_file_and_the_build_repairs_them() {
    let dir = scratch("broken");
    build(&dir, 1);
    let zoo = Zoo::open(&dir).unwrap();
    let entry = zoo.entries()[0].clone();
    let blob = zoo.blob_path(&entry);
    let original = std::fs::read(&blob).unwrap();
    let device = Default::default();

    // A changed byte.
    let mut altered = original.clone();
    let last = altered.len() - 1;
    altered[last] ^= 1;
    std::fs::write(&blob, &altered).unwrap();
    let err = zoo.load::<Flex>(&entry, &device).unwrap_err();
    assert!(matches!(err, ZooError::Checksum { .. }), "{err}");
    assert!(
        err.to_string().contains(&blob.display().to_string()),
        "{err}"
    );
    assert!(err.to_string().contains("git checkout"), "{err}");

    // A truncated file.
    std::fs::write(&blob, &original[..100]).unwrap();
    let err = zoo.load::<Flex>(&entry, &device).unwrap_err();
    assert!(
        matches!(
            err,
            ZooError::Checksum {
                found_bytes: 100,
                ..
            }
        ),
        "{err}"
    );

    // A missing file: the check reports it, and the next build re-trains the entry.
    std::fs::remove_file(&blob).unwrap();
    let err = zoo.load::<Flex>(&entry, &device).unwrap_err();
    assert!(matches!(err, ZooError::MissingBlob { .. }), "{err}");
    assert!(err.to_string().contains("metanas-db zoo"), "{err}");
    let check = zoo.check();
    assert_eq!((check.ok, check.problems.len()), (1, 1));
    let report = build(&dir, 1);
    assert_eq!((report.broken, report.stored, report.added), (1, 1, 1));
    let zoo = Zoo::open(&dir).unwrap();
    assert_eq!(
        zoo.entries().len(),
        2,
        "the new line replaces the broken entry"
    );
    assert!(zoo.check().problems.is_empty());
    let check = zoo.check();
    assert!(check.orphans.is_empty(), "{:?}", check.orphans);

    // A blob of another network under the right checksum: the entry's cell differs.
    let entry = zoo.entries()[0].clone();
    let other = zoo.entries()[1].clone();
    assert_ne!(entry.arch, other.arch);
    edit_first_entry(&dir, |e| e.weights = other.weights.clone());
    let zoo = Zoo::open(&dir).unwrap();
    let err = zoo.load::<Flex>(&zoo.entries()[0], &device).unwrap_err();
    assert!(matches!(err, ZooError::Mismatch { .. }), "{err}");
    assert!(err.to_string().contains(&entry.arch.to_string()), "{err}");

    // Same cell, another number of classes: a shape mismatch at the classifier.
    edit_first_entry(&dir, |e| {
        e.weights = entry.weights.clone();
        e.task.classes.push(3);
    });
    let zoo = Zoo::open(&dir).unwrap();
    let err = zoo.load::<Flex>(&zoo.entries()[0], &device).unwrap_err();
    match &err {
        ZooError::Mismatch {
            at,
            expected,
            found,
            ..
        } => {
            assert!(at.starts_with("classifier"), "{err}");
            assert!(expected.contains("shape [16, 3]"), "{err}");
            assert!(found.contains("shape [16, 2]"), "{err}");
        }
        _ => panic!("expected a mismatch, got {err}"),
    }

    // Bytes that are no record at all, under their own checksum.
    let junk = b"not a record".to_vec();
    let writer_dir = dir.join(BLOB_DIR);
    let junk_ref = model_zoo::zoo::BlobRef {
        sha256: zoo::sha256_hex(&junk),
        bytes: junk.len() as u64,
    };
    std::fs::write(
        writer_dir.join(format!("{}.{}", junk_ref.sha256, zoo::BLOB_EXTENSION)),
        &junk,
    )
    .unwrap();
    edit_first_entry(&dir, |e| {
        e.task.classes.pop();
        e.weights = junk_ref.clone();
    });
    let zoo = Zoo::open(&dir).unwrap();
    let err = zoo.load::<Flex>(&zoo.entries()[0], &device).unwrap_err();
    assert!(matches!(err, ZooError::Decode { .. }), "{err}");
}

#[test]
fn a_zoo_has_one_writer_and_a_rebuild_trains_nothing() {
    let dir = scratch("resume");
    let first = build(&dir, 1);
    assert_eq!(first.added, 2);
    let (writer, zoo) = ZooWriter::open(&dir).unwrap();
    assert_eq!(zoo.entries().len(), 2);
    let err = ZooWriter::open(&dir).unwrap_err();
    assert!(
        matches!(err, ZooError::Index(StoreError::Locked { .. })),
        "{err}"
    );
    drop(writer);
    let again = build(&dir, 1);
    assert_eq!((again.stored, again.added), (2, 0));
    // A crash between blob and index line leaves an orphan blob and an intact index.
    let (writer, _) = ZooWriter::open(&dir).unwrap();
    let orphan = writer.write_blob(b"orphan").unwrap();
    drop(writer);
    let check = Zoo::open(&dir).unwrap().check();
    assert_eq!(check.ok, 2);
    assert_eq!(check.orphans.len(), 1);
    assert!(check.orphans[0]
        .display()
        .to_string()
        .contains(&orphan.sha256));
}

#[test]
fn metanas_db_builds_extends_and_checks_a_zoo() {
    let dir = scratch("cli");
    let plan_path = dir.join("plan.json");
    std::fs::write(&plan_path, serde_json::to_string(&plan(2)).unwrap()).unwrap();
    let out = dir.join("zoo");
    let zoo = |extra: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_metanas-db"))
            .args(["zoo", "--plan"])
            .arg(&plan_path)
            .arg("--out")
            .arg(&out)
            .args(["--tasks", "2", "--cells-per-task", "2"])
            .args(extra)
            .env("RAYON_NUM_THREADS", "1")
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout).unwrap()
    };
    let dry = zoo(&["--dry-run"]);
    assert!(dry.contains("4 networks over 2 tasks"), "{dry}");
    assert!(!out.join(INDEX_FILE).exists(), "a dry run writes nothing");
    let first = zoo(&["--limit", "3"]);
    assert!(first.contains("3 added now"), "{first}");
    let second = zoo(&[]);
    assert!(
        second.contains("3 already in the zoo, 1 added now"),
        "{second}"
    );
    let status = Command::new(env!("CARGO_BIN_EXE_metanas-db"))
        .arg("zoo-status")
        .arg(&out)
        .output()
        .unwrap();
    let text = String::from_utf8(status.stdout).unwrap();
    assert!(status.status.success(), "{text}");
    assert!(text.contains("4 networks over 2 tasks"), "{text}");
    assert!(
        text.contains("4 intact, 0 with problems, 0 orphans"),
        "{text}"
    );
}
