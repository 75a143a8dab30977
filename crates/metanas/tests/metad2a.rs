//! The shipped MetaD2A bundle on a real meta-test dataset: search is seeded, ranked, constrained;
//! bundles round-trip; bad bundles and bad inputs are typed errors.

use std::path::{Path, PathBuf};

use burn::backend::Flex;
use datasets::{DataPaths, FeatureExtractor, Features, Task};
use metanas::metad2a::{ground_truths, MetaD2A, SearchOptions};
use metanas::MetanasError;
use set_encoder::CnnExtractor;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn bundle() -> MetaD2A<Flex> {
    MetaD2A::load(&root().join("crates/metanas/bundle"), &Default::default())
        .expect("the shipped bundle loads")
}

/// MNIST's meta-test task from the shipped database, as CNN features. Built from the MNIST
/// sample embedded in the repository, which holds that task's images (needs nothing installed).
fn mnist() -> Features {
    let records =
        model_zoo::database::load(&[root().join("crates/model-zoo/data/runs.jsonl")]).unwrap();
    let truth = ground_truths(&records, 1)
        .into_iter()
        .find(|t| t.group == "test/mnist")
        .expect("the database has MNIST's ground truth");
    let spec = datasets::mnist_sample::embedded_equivalent(&truth.spec)
        .unwrap()
        .expect("the embedded MNIST sample holds the database's test/mnist task");
    let task = Task::build(&spec, &DataPaths::from_env()).unwrap();
    CnnExtractor::<Flex>::pretrained(&Default::default())
        .unwrap()
        .extract(&task.train)
        .unwrap()
}

#[test]
fn search_is_seeded_ranked_and_constrained() {
    let model = bundle();
    let task = mnist();
    let options = SearchOptions {
        candidates: 100,
        top_k: 5,
        draws: 3,
        seed: 7,
        ..SearchOptions::default()
    };
    let a = model.search(&task, &options).unwrap();
    let b = model.search(&task, &options).unwrap();
    assert_eq!(a.ranked, b.ranked, "same seed, same result");
    assert_eq!(a.ranked.len(), 5);
    assert!(a.scored > 5 && a.scored <= 100);
    assert!(a.valid <= a.decoded);
    assert!(a
        .ranked
        .windows(2)
        .all(|w| w[0].predicted_accuracy >= w[1].predicted_accuracy));
    let unique: std::collections::HashSet<_> = a.ranked.iter().map(|c| c.arch).collect();
    assert_eq!(unique.len(), 5);

    let small = SearchOptions {
        max_params: Some(0.4),
        ..options.clone()
    };
    let c = model.search(&task, &small).unwrap();
    assert!(!c.ranked.is_empty());
    assert!(c.ranked.iter().all(|r| r.params_m <= 0.4), "{:?}", c.ranked);

    let all = model
        .search(
            &task,
            &SearchOptions {
                exhaustive: true,
                max_flops: Some(100.0),
                ..options
            },
        )
        .unwrap();
    assert!(
        all.scored < 15_625 && all.scored > 1_000,
        "{} cells under 100 MFLOPs",
        all.scored
    );
    assert!(all.ranked.iter().all(|r| r.flops_m <= 100.0));
    // The exhaustive top-1 under the budget scores at least as high as every generated
    // candidate that meets the same budget (a cell's score depends only on the task, the cell
    // and the seed, so the same cell scores the same in both searches).
    let generated: Vec<_> = a
        .ranked
        .iter()
        .chain(&c.ranked)
        .filter(|r| r.flops_m <= 100.0)
        .collect();
    assert!(
        !generated.is_empty(),
        "no generated candidate under 100 MFLOPs to compare"
    );
    for r in generated {
        assert!(
            all.ranked[0].predicted_accuracy >= r.predicted_accuracy - 1e-6,
            "exhaustive top-1 {:?} scores below generated {:?}",
            all.ranked[0],
            r
        );
    }
}

#[test]
fn a_saved_bundle_loads_to_the_same_model() {
    let model = bundle();
    let dir = std::env::temp_dir().join(format!("metanas-bundle-{}", std::process::id()));
    model.save(&dir).unwrap();
    let again = MetaD2A::<Flex>::load(&dir, &Default::default()).unwrap();
    let task = mnist();
    let options = SearchOptions {
        candidates: 50,
        top_k: 3,
        draws: 2,
        ..SearchOptions::default()
    };
    assert_eq!(
        model.search(&task, &options).unwrap().ranked,
        again.search(&task, &options).unwrap().ranked
    );

    // A bundle of another version is refused with a typed error.
    let json = std::fs::read_to_string(dir.join("metad2a.json")).unwrap();
    std::fs::write(
        dir.join("metad2a.json"),
        json.replace("\"version\": 1", "\"version\": 99"),
    )
    .unwrap();
    assert!(matches!(
        MetaD2A::<Flex>::load(&dir, &Default::default()),
        Err(MetanasError::Bundle { .. })
    ));
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(matches!(
        MetaD2A::<Flex>::load(&dir, &Default::default()),
        Err(MetanasError::Bundle { .. })
    ));
}

#[test]
fn bad_tasks_are_typed_errors() {
    let model = bundle();
    let narrow = Features {
        data: vec![0.0; 40],
        labels: vec![0, 0, 1, 1, 1, 1, 0, 1, 0, 1],
        dim: 4,
    };
    assert!(matches!(
        model.search(&narrow, &SearchOptions::default()),
        Err(MetanasError::Data(_))
    ));
    let one_class = Features {
        data: vec![0.5; 64 * 3],
        labels: vec![0, 0, 0],
        dim: 64,
    };
    assert!(matches!(
        model.search(&one_class, &SearchOptions::default()),
        Err(MetanasError::Data(_))
    ));
    let impossible = SearchOptions {
        max_params: Some(0.0),
        candidates: 10,
        max_batches: 2,
        ..SearchOptions::default()
    };
    assert!(matches!(
        model.search(&mnist(), &impossible),
        Err(MetanasError::Data(_))
    ));
}

mod corrupt_bundles {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        /// Whatever bytes sit in a bundle's files, loading returns a typed error or a model,
        /// never a panic.
        #[test]
        fn corrupt_files_are_errors(json in proptest::collection::vec(any::<u8>(), 0..200),
                                    weights in proptest::collection::vec(any::<u8>(), 0..200),
                                    which in 0usize..3) {
            let dir = std::env::temp_dir().join(format!("metanas-corrupt-{}-{which}", std::process::id()));
            let shipped = root().join("crates/metanas/bundle");
            std::fs::create_dir_all(&dir).unwrap();
            for f in ["metad2a.json", "generator.mpk", "predictor.mpk"] {
                std::fs::copy(shipped.join(f), dir.join(f)).unwrap();
            }
            match which {
                0 => std::fs::write(dir.join("metad2a.json"), &json).unwrap(),
                1 => std::fs::write(dir.join("generator.mpk"), &weights).unwrap(),
                _ => std::fs::write(dir.join("predictor.mpk"), &weights).unwrap(),
            }
            let loaded = MetaD2A::<Flex>::load(&dir, &Default::default());
            prop_assert!(matches!(loaded, Err(MetanasError::Bundle { .. })), "{:?}", loaded.err());
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}
