//! The plans this project ships: the protocol study and the database.
//!
//! `metanas-db plan` writes them as JSON (`crates/model-zoo/data/`); the JSON files are what the
//! builder runs, so a plan stays reproducible even if these functions change later.

use datasets::held_out::{meta_train_scripts, META_TEST_SCRIPTS};
use datasets::photos::PhotosSpec;
use datasets::procedural::ProceduralSpec;
use datasets::{GlyphsSpec, Script, SourceSpec, Split};
use search_space::benchmark::{Dataset, Nb201Benchmark};
use search_space::Nb201Arch;

use crate::plan::{Plan, PlanGroup, Role};
use crate::protocol::Protocol;

/// Glyph options of the shipped plans: 80 renderings per (character, font), so that a class
/// drawn by the minimum of 4 fonts still has the 300 images the mini protocol asks for.
fn glyphs(scripts: Vec<Script>) -> SourceSpec {
    SourceSpec::Glyphs(GlyphsSpec {
        scripts,
        variants_per_font: 80,
        ..GlyphsSpec::default()
    })
}

/// Glyphs of every default script except the held-out ones
/// ([`datasets::held_out::META_TEST_SCRIPTS`]).
pub fn meta_train_glyphs() -> SourceSpec {
    glyphs(meta_train_scripts())
}

/// The v1 database's meta-training glyphs: every default script but Georgian and Ethiopic.
/// Kept so [`database_plan`] still writes the committed v1 plan; it leaks `digits` (MNIST's
/// shapes) into meta-training, which v2 fixes with [`meta_train_glyphs`].
fn v1_meta_train_glyphs() -> SourceSpec {
    glyphs(
        Script::defaults()
            .into_iter()
            .filter(|s| ![Script::Georgian, Script::Ethiopic].contains(s))
            .collect(),
    )
}

/// Glyphs of one held-out script.
pub fn meta_test_glyphs(script: Script) -> SourceSpec {
    glyphs(vec![script])
}

/// The `n` best NAS-Bench-201 cells by mean test accuracy over CIFAR-10, CIFAR-100 and
/// ImageNet16-120, one per isomorphism class.
pub fn good_cells(bench: &Nb201Benchmark, n: usize) -> Vec<Nb201Arch> {
    let mut rows: Vec<(f64, Nb201Arch)> = bench
        .records()
        .into_iter()
        .map(|r| {
            let m = [Dataset::Cifar10, Dataset::Cifar100, Dataset::ImageNet16_120]
                .iter()
                .map(|&d| r.metrics(d).test_accuracy)
                .sum::<f64>()
                / 3.0;
            (m, r.arch)
        })
        .collect();
    rows.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut seen = std::collections::HashSet::new();
    rows.into_iter()
        .filter(|(_, a)| seen.insert(a.canonical_id()))
        .map(|(_, a)| a)
        .take(n)
        .collect()
}

/// The mini protocol for glyph tasks: 20-way with 50 training and 100 test images per class.
/// 10-way glyph tasks at 100 shots scored 98–99% (no room to separate cells); twice the classes
/// at half the shots keeps the run time and moves the ceiling away.
pub fn glyph_protocol() -> Protocol {
    Protocol {
        train_per_class: 50,
        test_per_class: 100,
        ..Protocol::mini()
    }
}

fn group(
    name: &str,
    role: Role,
    source: SourceSpec,
    way: usize,
    tasks: usize,
    archs: (usize, usize),
    seeds: usize,
) -> PlanGroup {
    PlanGroup {
        name: name.into(),
        role,
        source,
        classes: Vec::new(),
        way,
        tasks,
        uniform_archs: archs.0,
        good_archs: archs.1,
        seeds,
        connected_only: false,
        test_groups: 0,
        protocol: Protocol::mini(),
        panel_archs: 0,
        channels: 1,
        pin: false,
    }
}

/// The protocol study: one task from each of three sources, 24 random connected cells, 3 seeds.
pub fn study_plan() -> Plan {
    let study = |name: &str, source: SourceSpec, way: usize| PlanGroup {
        connected_only: true,
        ..group(name, Role::MetaTrain, source, way, 1, (24, 0), 3)
    };
    Plan {
        name: "protocol-study".into(),
        seed: 2026,
        good_cells: Vec::new(),
        panel: Vec::new(),
        groups: vec![
            PlanGroup {
                protocol: glyph_protocol(),
                ..study("study/glyphs-20way", v1_meta_train_glyphs(), 20)
            },
            study(
                "study/fashion-10way",
                SourceSpec::FashionMnist {
                    split: Split::Train,
                },
                10,
            ),
            study("study/mnist-10way", SourceSpec::MnistJson, 10),
        ],
    }
}

/// The shipped database: meta-training tasks from glyphs (all but the held-out scripts) and
/// Fashion-MNIST (one seed per record), and meta-test datasets never used for meta-training, with
/// enough seeds per record for SNR ≥ 3. Seeds come from the protocol study (`docs/protocol.md`):
/// r ≈ 1.2 on MNIST 10-way needs 6 seeds, given 9 (SNR ≈ 3.7) because r from 24 archs × 3 seeds
/// is uncertain; digits gets MNIST's 9; r ≈ 1.4 on 20-way glyphs needs 5, given 6 (SNR ≈ 3.5).
pub fn database_plan(good: Vec<Nb201Arch>) -> Plan {
    let train =
        |name, source, way, tasks| group(name, Role::MetaTrain, source, way, tasks, (12, 3), 1);
    let test =
        |name, source, way, seeds| group(name, Role::MetaTest, source, way, 1, (150, 10), seeds);
    Plan {
        name: "metanas-nb201-v1".into(),
        seed: 20261122,
        good_cells: good,
        panel: Vec::new(),
        groups: vec![
            PlanGroup {
                protocol: glyph_protocol(),
                ..train("train/glyphs", v1_meta_train_glyphs(), 20, 120)
            },
            train(
                "train/fashion",
                SourceSpec::FashionMnist {
                    split: Split::Train,
                },
                5,
                40,
            ),
            test("test/mnist", SourceSpec::MnistJson, 10, 9),
            PlanGroup {
                // sklearn digits has ~180 images per class: 100 train + 70 test.
                protocol: Protocol {
                    test_per_class: 70,
                    ..Protocol::mini()
                },
                ..test("test/digits", SourceSpec::Digits, 10, 9)
            },
            PlanGroup {
                protocol: glyph_protocol(),
                ..test(
                    "test/glyphs-georgian",
                    meta_test_glyphs(Script::Georgian),
                    20,
                    6,
                )
            },
        ],
    }
}

/// The v2 panel: the `good` known-good cells, then `stratified` connected cells drawn uniformly
/// among the isomorphism classes within strata of the number of 3×3 convolutions (0, 1, 2, 3, 4,
/// 5–6), as equal in size as `stratified` allows; no two cells isomorphic.
pub fn panel_cells(good: &[Nb201Arch], stratified: usize, seed: u64) -> Vec<Nb201Arch> {
    use rand::seq::IndexedRandom;
    use rand::SeedableRng;
    use search_space::Op;
    let mut ids: std::collections::BTreeSet<usize> =
        good.iter().map(|a| a.canonical_id()).collect();
    let mut panel: Vec<Nb201Arch> = good.to_vec();
    let mut strata: Vec<Vec<Nb201Arch>> = vec![Vec::new(); 6];
    for arch in Nb201Arch::canonical_classes() {
        if arch.is_connected() && !ids.contains(&arch.canonical_id()) {
            strata[arch.count(Op::NorConv3x3).min(5)].push(arch);
        }
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let per = stratified / strata.len();
    let extra = stratified % strata.len();
    for (k, stratum) in strata.iter().enumerate() {
        let want = per + usize::from(k < extra);
        for &arch in stratum.choose_multiple(&mut rng, want) {
            if ids.insert(arch.canonical_id()) {
                panel.push(arch);
            }
        }
    }
    panel
}

/// Least optimiser steps of a v2 run on grayscale tasks (glyphs, MNIST, Fashion-MNIST).
pub const V2_MIN_STEPS_GRAY: usize = 60;
/// Least optimiser steps of a v2 run on RGB tasks (photo crops, procedural textures). A pilot
/// on the RGB meta-test sets (docs/database.md, "Protocol pilot") measured a seed σ of
/// 3.7–4.5 pp at 60 steps against 1.5–2.9 pp at 240, with a wider spread across cells; at 240
/// steps the glyph sets saturate (95–99.7%), so they keep 60.
pub const V2_MIN_STEPS_RGB: usize = 240;

/// The mini protocol of the v2 database for `train`/`test` images per class at `resolution`,
/// with at least `min_steps` optimiser steps however small the task (`Protocol::min_steps`).
pub fn v2_protocol(train: usize, test: usize, resolution: usize, min_steps: usize) -> Protocol {
    Protocol {
        train_per_class: train,
        test_per_class: test,
        resolution,
        min_steps,
        ..Protocol::mini()
    }
}

/// One v2 group: pinned tasks of `way` classes with `train`/`test` images per class at
/// `resolution` and `channels`; meta-test groups measure the whole panel with `seeds` seeds,
/// meta-training groups 20 panel cells and 3 fresh uniform cells with one seed.
#[allow(clippy::too_many_arguments)]
fn v2_group(
    name: &str,
    role: Role,
    source: SourceSpec,
    channels: usize,
    (way, train, test, resolution): (usize, usize, usize, usize),
    tasks: usize,
    panel: usize,
    seeds: usize,
) -> PlanGroup {
    let meta_train = role == Role::MetaTrain;
    let fresh = if meta_train { V2_FRESH_CELLS } else { 0 };
    PlanGroup {
        protocol: v2_protocol(
            train,
            test,
            resolution,
            if channels == 3 {
                V2_MIN_STEPS_RGB
            } else {
                V2_MIN_STEPS_GRAY
            },
        ),
        panel_archs: if meta_train { V2_PANEL_PER_TASK } else { panel },
        channels,
        pin: true,
        ..group(name, role, source, way, tasks, (fresh, 0), seeds)
    }
}

/// Panel cells each v2 meta-training task measures.
pub const V2_PANEL_PER_TASK: usize = 20;
/// Fresh uniform cells (outside the panel) each v2 meta-training task measures.
pub const V2_FRESH_CELLS: usize = 3;
/// Seeds planned per (meta-test set, panel cell) in v2 for most sets; builders take them seed
/// by seed. Every set now gets more (session 11: MNIST 22, Khmer 16, textures 15, Georgian and
/// photos 12; session 12: MNIST 28, textures 18), so that test loss reaches the reliability
/// targets; docs/database.md.
pub const V2_TEST_SEEDS: usize = 10;

/// The v2 database (issue 13): four meta-training domains — glyphs, Fashion-MNIST, photo crops
/// (RGB) and procedural textures (RGB) — with class counts 5–20, 10–200 training images per
/// class and 8–32 px, 150 tasks that each measure 20 cells of a fixed panel plus 3 fresh ones;
/// and five meta-test sets over four domains (MNIST, Georgian and Khmer glyphs, held-out
/// photos, held-out textures), each measuring the whole panel with up to
/// [`V2_TEST_SEEDS`] seeds or more and larger test splits. Every task is pinned to its data.
pub fn database_plan_v2(panel: Vec<Nb201Arch>) -> Plan {
    use Role::{MetaTest, MetaTrain};
    let n = panel.len();
    let gray = 1;
    let rgb = 3;
    let fashion = SourceSpec::FashionMnist {
        split: Split::Train,
    };
    let photos = SourceSpec::Photos(PhotosSpec::meta_train());
    let textures = SourceSpec::Procedural(ProceduralSpec::meta_train());
    let train = |name, source, channels, shape, tasks| {
        v2_group(name, MetaTrain, source, channels, shape, tasks, 0, 1)
    };
    let test = |name, source, channels, shape, seeds| {
        v2_group(name, MetaTest, source, channels, shape, 1, n, seeds)
    };
    // Khmer at 20 images per class replaced Ethiopic at 50 (session 8): Ethiopic saturated at
    // 97% and its panel ranking did not reproduce (seed against seed 0.12); docs/database.md.
    let [georgian, khmer] = [Script::Georgian, Script::Khmer];
    debug_assert!(META_TEST_SCRIPTS.contains(&georgian) && META_TEST_SCRIPTS.contains(&khmer));
    Plan {
        name: "metanas-nb201-v2".into(),
        seed: 20261202,
        good_cells: Vec::new(),
        panel,
        groups: vec![
            // 20 training images per class, not 100 (session 8): as reliable on the pilot's
            // ten panel cells at a third of the cost per run; over the whole panel less
            // reliable per run, about as costly per unit of reliability (docs/database.md).
            // Seeds beyond V2_TEST_SEEDS (session 11): from each set's split-half at 10 seeds,
            // the count that should lift test loss past both targets (docs/database.md). Session
            // 12: MNIST (0.48) and textures (0.49) fell just short of 0.5 within the better half
            // at 22 and 15 seeds; Spearman–Brown from there asks for 24 and 16, taken with a
            // margin for the statistic's own noise (50 cells).
            test(
                "test/mnist",
                SourceSpec::MnistJson,
                gray,
                (10, 20, 750, 16),
                28,
            ),
            test(
                "test/glyphs-georgian",
                meta_test_glyphs(georgian),
                gray,
                (20, 50, 250, 16),
                12,
            ),
            test(
                "test/glyphs-khmer",
                meta_test_glyphs(khmer),
                gray,
                (20, 20, 250, 16),
                16,
            ),
            test(
                "test/photos",
                SourceSpec::Photos(PhotosSpec::meta_test()),
                rgb,
                (10, 50, 300, 16),
                12,
            ),
            test(
                "test/textures",
                SourceSpec::Procedural(ProceduralSpec::meta_test()),
                rgb,
                (10, 50, 300, 16),
                18,
            ),
            train(
                "train/glyphs-20w50s16",
                meta_train_glyphs(),
                gray,
                (20, 50, 100, 16),
                30,
            ),
            train(
                "train/glyphs-10w20s12",
                meta_train_glyphs(),
                gray,
                (10, 20, 100, 12),
                15,
            ),
            train(
                "train/glyphs-15w30s24",
                meta_train_glyphs(),
                gray,
                (15, 30, 100, 24),
                10,
            ),
            train(
                "train/glyphs-5w10s8",
                meta_train_glyphs(),
                gray,
                (5, 10, 100, 8),
                10,
            ),
            train(
                "train/fashion-5w200s16",
                fashion.clone(),
                gray,
                (5, 200, 200, 16),
                10,
            ),
            train(
                "train/fashion-10w40s12",
                fashion,
                gray,
                (10, 40, 200, 12),
                10,
            ),
            train(
                "train/photos-10w50s16",
                photos.clone(),
                rgb,
                (10, 50, 100, 16),
                15,
            ),
            train(
                "train/photos-20w30s16",
                photos.clone(),
                rgb,
                (20, 30, 100, 16),
                10,
            ),
            train("train/photos-5w100s32", photos, rgb, (5, 100, 100, 32), 5),
            train(
                "train/textures-10w50s16",
                textures.clone(),
                rgb,
                (10, 50, 100, 16),
                15,
            ),
            train(
                "train/textures-20w20s12",
                textures.clone(),
                rgb,
                (20, 20, 100, 12),
                10,
            ),
            train(
                "train/textures-5w150s8",
                textures,
                rgb,
                (5, 150, 100, 8),
                10,
            ),
        ],
    }
}
