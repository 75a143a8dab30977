//! The shipped MetaD2A bundle on a real meta-test dataset: search is seeded, ranked, constrained;
//! bundles round-trip; bad bundles (corrupt, non-finite, config and weights apart, another
//! extractor) and bad inputs are typed errors. A small MobileNetV3 bundle meta-trained on
//! synthetic records: space tag, round trip, wrong-space loads, MACs budgets, the CLI.

use std::path::{Path, PathBuf};

use burn::backend::{Autodiff, Flex};
use burn::module::{Module as _, Param};
use burn::tensor::Tensor;
use datasets::{DataPaths, PixelExtractor, SourceSpec, Task};
use metanas::metad2a::{ground_truths, MetaData, MetaDataOptions, MetaTrainConfig};
use metanas::prelude::*;
use model_zoo::mbv3::{Mbv3Protocol, Mbv3RunRecord};
use model_zoo::plan::Role;
use model_zoo::{RunResult, RunStatus};
use search_space::{Cost, Mbv3Arch, Mbv3MacroConfig};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn bundle() -> MetaD2A<Flex> {
    MetaD2A::load(&root().join("crates/metanas/bundle"), &Default::default())
        .expect("the shipped bundle loads")
}

/// MNIST's meta-test task from the shipped database. Built from the MNIST sample embedded in
/// the repository, which holds that task's images (needs nothing installed).
fn mnist_task() -> Task {
    let records =
        model_zoo::database::load(&[root().join("crates/model-zoo/data/runs.jsonl")]).unwrap();
    let truth = ground_truths(&records, 1)
        .into_iter()
        .find(|t| t.group == "test/mnist")
        .expect("the database has MNIST's ground truth");
    let spec = datasets::mnist_sample::embedded_equivalent(&truth.spec)
        .unwrap()
        .expect("the embedded MNIST sample holds the database's test/mnist task");
    Task::build(&spec, &DataPaths::from_env()).unwrap()
}

/// [`mnist_task`]'s training images as CNN features.
fn mnist() -> Features {
    CnnExtractor::<Flex>::pretrained(&Default::default())
        .unwrap()
        .extract(&mnist_task().train)
        .unwrap()
}

/// A copy of the shipped bundle in a fresh temporary folder, with `metad2a.json` changed by
/// `edit`.
fn shipped_copy(name: &str, edit: impl FnOnce(&mut serde_json::Value)) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("metanas-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let shipped = root().join("crates/metanas/bundle");
    for f in ["generator.mpk", "predictor.mpk"] {
        std::fs::copy(shipped.join(f), dir.join(f)).unwrap();
    }
    let mut meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(shipped.join("metad2a.json")).unwrap())
            .unwrap();
    edit(&mut meta);
    std::fs::write(dir.join("metad2a.json"), meta.to_string()).unwrap();
    dir
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
    let mut broken = mnist();
    broken.data[7] = f32::NAN;
    let e = model
        .search(&broken, &SearchOptions::default())
        .unwrap_err();
    assert!(
        matches!(&e, MetanasError::Data(m) if m.contains("non-finite")),
        "{e}"
    );
}

#[test]
fn invalid_options_are_typed_errors_before_any_work() {
    let model = bundle();
    let task = mnist();
    for (options, expected) in [
        (
            SearchOptions {
                top_k: 0,
                ..SearchOptions::default()
            },
            SearchOptionsError::ZeroTopK,
        ),
        (
            SearchOptions {
                candidates: 0,
                ..SearchOptions::default()
            },
            SearchOptionsError::ZeroCandidates,
        ),
        (
            SearchOptions {
                draws: 0,
                exhaustive: true,
                ..SearchOptions::default()
            },
            SearchOptionsError::ZeroDraws,
        ),
    ] {
        match model.search(&task, &options) {
            Err(MetanasError::Options(e)) => assert_eq!(e, expected),
            other => panic!("{options:?}: {other:?}"),
        }
    }
    // A budget no cell meets: an error in both modes, not an empty ranking.
    for exhaustive in [false, true] {
        let impossible = SearchOptions {
            max_params: Some(0.0),
            exhaustive,
            ..SearchOptions::default()
        };
        assert!(
            matches!(
                model.search(&task, &impossible),
                Err(MetanasError::Options(
                    SearchOptionsError::NoCellWithinBudget { .. }
                ))
            ),
            "exhaustive {exhaustive}"
        );
    }
    assert!(matches!(
        model.predict(&task, &[], 0, 0),
        Err(MetanasError::Options(SearchOptionsError::ZeroDraws))
    ));
    // Checked options are taken as they are and give what the unchecked ones give.
    let options = SearchOptions {
        candidates: 30,
        top_k: 3,
        draws: 2,
        ..SearchOptions::default()
    };
    let valid = options.check().unwrap();
    assert_eq!(
        model.search(&task, &valid).unwrap().ranked,
        model.search(&task, &options).unwrap().ranked
    );
}

#[test]
fn bundles_with_non_finite_weights_are_refused() {
    let device = Default::default();
    for (file, parameter, value) in [
        ("predictor.mpk", "head_out.weight", f32::NAN),
        ("generator.mpk", "fc_mu.weight", f32::INFINITY),
    ] {
        // Save the shipped bundle, then overwrite one of its weight files with a corrupted copy
        // of that module (the fields are private: a bundle is only changed through its files).
        let model = bundle();
        let dir = std::env::temp_dir().join(format!("metanas-nan-{}", std::process::id()));
        model.save(&dir).unwrap();
        let recorder =
            burn::record::NamedMpkFileRecorder::<burn::record::FullPrecisionSettings>::new();
        if file == "predictor.mpk" {
            let mut predictor = model.predictor().clone();
            let shape = predictor.head_out.weight.dims();
            predictor.head_out.weight = Param::from_tensor(Tensor::full(shape, value, &device));
            predictor
                .save_file(dir.join("predictor"), &recorder)
                .unwrap();
        } else {
            let mut generator = model.generator().clone();
            let w = generator.fc_mu.weight.val();
            let shape = w.dims();
            let mut values = w.into_data().to_vec::<f32>().unwrap();
            values[3] = value;
            generator.fc_mu.weight = Param::from_tensor(Tensor::from_data(
                burn::tensor::TensorData::new(values, shape),
                &device,
            ));
            generator
                .save_file(dir.join("generator"), &recorder)
                .unwrap();
        }
        match MetaD2A::<Flex>::load(&dir, &device) {
            Err(e @ MetanasError::NonFiniteWeights { .. }) => {
                let MetanasError::NonFiniteWeights {
                    path,
                    parameter: p,
                    count,
                    ..
                } = &e
                else {
                    unreachable!()
                };
                assert_eq!(path, &dir.join(file));
                assert_eq!(p, parameter);
                assert!(*count >= 1);
                let message = e.to_string();
                assert!(
                    message.contains(file) && message.contains("metad2a_train"),
                    "{message}"
                );
            }
            other => panic!("{file}: {other:?}"),
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn a_config_that_does_not_match_the_weights_is_refused() {
    for (name, file, edit) in [
        (
            "gen",
            "generator.mpk",
            (|m: &mut serde_json::Value| m["generator"]["hidden"] = 64.into())
                as fn(&mut serde_json::Value),
        ),
        ("pred", "predictor.mpk", |m: &mut serde_json::Value| {
            m["predictor"]["config"]["graph_hidden"] = 64.into()
        }),
    ] {
        let dir = shipped_copy(&format!("mismatch-{name}"), edit);
        match MetaD2A::<Flex>::load(&dir, &Default::default()) {
            Err(MetanasError::BundleMismatch {
                path,
                expected,
                found,
                ..
            }) => {
                assert_eq!(path, dir.join(file));
                assert_ne!(expected, found);
            }
            other => panic!("{file}: {other:?}"),
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn features_of_another_extractor_are_refused() {
    let model = bundle();
    let images = mnist_task().train;
    // 8×8 raw pixels are 64 values, the bundle's feature width: only the id tells them apart.
    let pixels = PixelExtractor::new(8);
    assert_eq!(pixels.dim(), 64);
    let options = SearchOptions {
        candidates: 20,
        top_k: 3,
        draws: 2,
        ..SearchOptions::default()
    };
    let e = model.search_images(&pixels, &images, &options).unwrap_err();
    assert!(
        matches!(&e, MetanasError::ExtractorMismatch { bundle, found } if bundle == &model.meta().extractor && found == &pixels.id()),
        "{e:?}"
    );
    let arch = search_space::Nb201Arch::all().next().unwrap();
    assert!(matches!(
        model.predict_images(&pixels, &images, &[arch], 2, 0),
        Err(MetanasError::ExtractorMismatch { .. })
    ));
    // The bundle's own extractor passes and gives what searching its features gives.
    let cnn = CnnExtractor::<Flex>::pretrained(&Default::default()).unwrap();
    let checked = model.search_images(&cnn, &images, &options).unwrap();
    let features = cnn.extract(&images).unwrap();
    assert_eq!(
        checked.ranked,
        model.search(&features, &options).unwrap().ranked
    );
}

#[test]
fn a_bundle_without_an_extractor_id_still_loads() {
    let dir = shipped_copy("no-extractor", |m| {
        m.as_object_mut().unwrap().remove("extractor");
    });
    let model = MetaD2A::<Flex>::load(&dir, &Default::default()).unwrap();
    assert_eq!(model.meta().extractor, "");
    // Nothing recorded, nothing to compare: only the width is checked.
    assert!(model.check_extractor(&PixelExtractor::new(8)).is_ok());
    assert!(matches!(
        model.check_extractor(&PixelExtractor::new(4)),
        Err(MetanasError::Data(_))
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_pretrained_bundle_is_found_at_run_time() {
    // Tests run from crates/metanas: the bundle is crates/metanas/bundle of a folder above.
    let model = MetaD2A::<Flex>::pretrained(&Default::default()).unwrap();
    assert_eq!(model.meta().extractor, bundle().meta().extractor);
    assert!(locate_bundle().unwrap().ends_with("crates/metanas/bundle"));
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

// ---------------------------------------------------------------------------------------------
// MetaD2A over the MobileNetV3 space, on synthetic records.

/// MobileNetV3 records with made-up accuracies on real tasks: `tasks` 5-way tasks of the
/// embedded MNIST sample at 32 px (the last one a meta-test task), each with the same `points`
/// networks drawn by OFA's sampler; accuracy grows with the network's multiply-adds, shifted
/// per task.
fn mbv3_records(tasks: usize, points: usize) -> Vec<Mbv3RunRecord> {
    let archs = model_zoo::mbv3::sample_points(points, 11);
    let ofa = Mbv3MacroConfig::ofa_imagenet();
    let protocol = Mbv3Protocol::mini();
    let mut out = Vec::new();
    for t in 0..tasks {
        let test = t + 1 == tasks;
        let classes: Vec<usize> = (0..5).map(|c| (c + 2 * t) % 10).collect();
        let spec = datasets::TaskSpec::new(SourceSpec::MnistSample, classes, 10, 5, 32, t as u64);
        for (i, arch) in archs.iter().enumerate() {
            let cost = arch.cost(&ofa).unwrap();
            let accuracy = 0.3 + 0.5 * (cost.flops / 600.0) + 0.02 * t as f64 + 0.001 * i as f64;
            out.push(Mbv3RunRecord {
                group: if test {
                    "test/mnist".into()
                } else {
                    format!("train/mnist-{t}")
                },
                role: if test {
                    Role::MetaTest
                } else {
                    Role::MetaTrain
                },
                task: spec.clone(),
                arch: *arch,
                seed: 0,
                protocol: protocol.clone(),
                result: RunResult {
                    arch: *arch,
                    seed: 0,
                    epochs: Vec::new(),
                    test_accuracy: Some(accuracy.min(1.0)),
                    test_loss: Some(1.0),
                    wall_seconds: 1.0,
                    cost: Cost {
                        params: cost.params,
                        flops: cost.flops,
                    },
                    param_count: 0,
                    status: RunStatus::Ok,
                },
                weights: None,
                error: None,
                cpu_simd: None,
            });
        }
    }
    out
}

/// A fresh, empty temporary folder.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("metanas-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn ofa_cost(arch: &Mbv3Arch) -> Cost {
    arch.cost(&Mbv3MacroConfig::ofa_imagenet()).unwrap()
}

#[test]
fn an_mbv3_bundle_meta_trains_round_trips_and_searches_within_a_macs_budget() {
    let device = Default::default();
    let extractor = CnnExtractor::<Flex>::pretrained(&device).unwrap();
    let records = mbv3_records(5, 8);
    // The records' architecture type names the space: no annotation needed.
    let data = MetaData::from_records(
        &records,
        &DataPaths::from_env(),
        &extractor,
        &MetaDataOptions {
            valid_fraction: 0.25,
            ..MetaDataOptions::default()
        },
    )
    .unwrap();
    let _: &MetaData<Mbv3> = &data;
    assert_eq!(data.tasks.len(), 5);
    assert_eq!(data.generator_pairs.len(), 4);
    assert_eq!(data.train.len() + data.valid.len(), 4 * 8);
    assert_eq!(
        data.valid.len(),
        8,
        "one of four meta-training tasks held out"
    );
    assert_eq!(data.meta_test.len(), 1);
    assert_eq!(data.meta_test[0].truth.truth.len(), 8);
    assert!(data.meta_test[0]
        .truth
        .truth
        .windows(2)
        .all(|w| w[0].1 >= w[1].1));

    let mut config = MetaTrainConfig::for_space::<Mbv3>(extractor.dim());
    config.generator = config.generator.with_hidden(16).with_latent(16);
    config.predictor = config
        .predictor
        .with_graph_hidden(16)
        .with_latent(16)
        .with_head_hidden(16);
    config.generator_train.epochs = 2;
    config.generator_train.batch_size = 4;
    config.predictor_train.epochs = 2;
    config.images_per_class = 5;
    config.predictor_train.images_per_class = 5;
    // A config sized for NB201's graphs is refused before any training.
    let nb201_sized = MetaTrainConfig::new(extractor.dim());
    assert!(matches!(
        MetaD2A::<Flex, Mbv3>::meta_train::<Autodiff<Flex>>(
            &data,
            &extractor.id(),
            &nb201_sized,
            &device,
            |_| {}
        ),
        Err(MetanasError::Data(m)) if m.contains("for_space")
    ));
    let model = MetaD2A::<Flex, Mbv3>::meta_train::<Autodiff<Flex>>(
        &data,
        &extractor.id(),
        &config,
        &device,
        |_| {},
    )
    .unwrap();
    assert_eq!(model.meta().space, "mbv3");

    let dir = scratch("mbv3-bundle");
    model.save(&dir).unwrap();
    let json = std::fs::read_to_string(dir.join("metad2a.json")).unwrap();
    assert!(json.contains("\"space\": \"mbv3\""), "{json}");
    let again = MetaD2A::<Flex, Mbv3>::load(&dir, &device).unwrap();

    // A search under 300 M multiply-adds at OFA's ImageNet network: generated and pooled
    // networks, every one within the budget, its costs the cost model's, seeded.
    let task = extractor.extract(&mnist_task().train).unwrap();
    let options = SearchOptions {
        candidates: 10,
        pool: 40,
        top_k: 30,
        draws: 2,
        batch: 10,
        max_batches: 2,
        max_flops: Some(300.0),
        seed: 3,
        ..SearchOptions::default()
    };
    let a = model.search(&task, &options).unwrap();
    assert_eq!(a.ranked, again.search(&task, &options).unwrap().ranked);
    // The pool rejects draws over the budget until 40 meet it (at most 50 draws per point).
    assert!(a.pooled >= 40 && a.pooled <= 2000, "{}", a.pooled);
    assert!(a.scored >= 40 && a.scored <= 50, "{}", a.scored);
    assert!(a.ranked.len() == a.scored.min(30));
    for c in &a.ranked {
        assert!(c.flops_m <= 300.0, "{c:?}");
        let cost = ofa_cost(&c.arch);
        assert_eq!((c.params_m, c.flops_m), (cost.params, cost.flops));
    }
    assert!(a
        .ranked
        .windows(2)
        .all(|w| w[0].predicted_accuracy >= w[1].predicted_accuracy));
    assert!(a
        .table()
        .lines()
        .next()
        .unwrap()
        .contains("MACs (M)  network"));

    // Budgets: none in the space (smaller than the smallest network), none among the
    // candidates (only the smallest network meets it), and no exhaustive search.
    let smallest = ofa_cost(&Mbv3Arch::smallest());
    let e = model
        .search(
            &task,
            &SearchOptions {
                max_flops: Some(100.0),
                ..options.clone()
            },
        )
        .unwrap_err();
    assert!(
        matches!(&e, MetanasError::Options(SearchOptionsError::NoCellWithinBudget { min_flops, .. }) if *min_flops == smallest.flops),
        "{e}"
    );
    let e = model
        .search(
            &task,
            &SearchOptions {
                max_params: Some(smallest.params),
                max_flops: Some(smallest.flops),
                ..options.clone()
            },
        )
        .unwrap_err();
    let MetanasError::NoCandidateWithinBudget {
        scored,
        min_params,
        min_flops,
        ..
    } = e
    else {
        panic!("{e}");
    };
    assert!(scored > 0 && min_flops > smallest.flops && min_params >= smallest.params);
    assert!(matches!(
        model.search(
            &task,
            &SearchOptions {
                exhaustive: true,
                ..options.clone()
            }
        ),
        Err(MetanasError::Options(
            SearchOptionsError::ExhaustiveUnsupported { space: "mbv3" }
        ))
    ));

    // A bundle of one space loaded as the other is refused, naming both; the shipped bundle is
    // NB201's (it records the space; bundles older than the space tag record none and are
    // NB201's too).
    let e = MetaD2A::<Flex>::load(&dir, &device).unwrap_err();
    assert!(
        matches!(&e, MetanasError::SpaceMismatch { bundle, expected: "nb201", .. } if bundle == "mbv3"),
        "{e}"
    );
    assert!(e.to_string().contains("mbv3") && e.to_string().contains("nb201"));
    let shipped = root().join("crates/metanas/bundle");
    let meta = std::fs::read_to_string(shipped.join("metad2a.json")).unwrap();
    assert!(!meta.contains("\"space\"") || meta.contains("\"space\": \"nb201\""));
    let e = MetaD2A::<Flex, Mbv3>::load(&shipped, &device).unwrap_err();
    assert!(
        matches!(&e, MetanasError::SpaceMismatch { bundle, expected: "mbv3", .. } if bundle == "nb201"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `metanas meta-train --space mbv3` on a MobileNetV3 run store, then `metanas search --space
/// mbv3` with the bundle it wrote, as a user runs them.
#[test]
fn the_cli_meta_trains_and_searches_an_mbv3_bundle() {
    let dir = scratch("mbv3-cli");
    let store = dir.join("runs.jsonl");
    let mut text = String::from("{\"format\":\"metanas-mbv3-runs\",\"version\":1}\n");
    for r in mbv3_records(3, 5) {
        text += &(serde_json::to_string(&r).unwrap() + "\n");
    }
    std::fs::write(&store, text).unwrap();
    let bundle = dir.join("bundle");
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_metanas"))
            .args(args)
            .current_dir(root())
            .env_remove("METANAS_BUNDLE")
            .env_remove("METANAS_DEVICE")
            .output()
            .unwrap()
    };
    let (store_s, bundle_s) = (store.to_str().unwrap(), bundle.to_str().unwrap());
    let out = run(&[
        "meta-train",
        "--space",
        "mbv3",
        "--database",
        store_s,
        "--out",
        bundle_s,
        "--generator-epochs",
        "1",
        "--predictor-epochs",
        "1",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{stderr}");
    let json = dir.join("picks.json");
    let search = |extra: &[&str]| {
        let mut args = vec![
            "search",
            "--space",
            "mbv3",
            "--bundle",
            bundle_s,
            "--source",
            "mnist-sample",
            "--way",
            "5",
            "--train-per-class",
            "20",
            "--candidates",
            "10",
            "--max-batches",
            "2",
            "--pool",
            "30",
            "--top-k",
            "3",
        ];
        args.extend(extra);
        run(&args)
    };
    let out = search(&["--max-flops", "300", "--json", json.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("MACs (M)  network"), "{stdout}");
    let result: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let ranked = result["ranked"].as_array().unwrap();
    assert_eq!(ranked.len(), 3);
    for c in ranked {
        let arch: Mbv3Arch = c["arch"].as_str().unwrap().parse().unwrap();
        assert!(c["flops_m"].as_f64().unwrap() <= 300.0);
        assert_eq!(c["flops_m"].as_f64().unwrap(), ofa_cost(&arch).flops);
    }
    let fails = |out: std::process::Output, words: &[&str]| {
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(!out.status.success(), "{stderr}");
        for w in words {
            assert!(stderr.contains(w), "`{w}` not in: {stderr}");
        }
    };
    fails(search(&["--exhaustive"]), &["--exhaustive", "--pool"]);
    fails(
        search(&["--max-flops", "100"]),
        &["--max-flops 100", "MobileNetV3", "multiply-adds"],
    );
    // The MobileNetV3 bundle searched as NB201 (the default space) names both spaces.
    let out = run(&[
        "search",
        "--bundle",
        bundle_s,
        "--source",
        "mnist-sample",
        "--way",
        "2",
        "--train-per-class",
        "5",
    ]);
    fails(out, &["mbv3", "nb201", "--space"]);
    std::fs::remove_dir_all(&dir).unwrap();
}
