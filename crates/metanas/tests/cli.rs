//! The `metanas` binary as a user runs it: invalid flags are errors that name the flag, write
//! errors name the path, and the bundle is found at run time (nothing compiled in).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A fresh, empty temporary folder for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("metanas-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `metanas args` from `cwd` with `$METANAS_BUNDLE` set to `bundle_env` (or unset).
fn metanas(args: &[&str], cwd: &Path, bundle_env: Option<&Path>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_metanas"));
    cmd.args(args)
        .current_dir(cwd)
        .env_remove("METANAS_BUNDLE")
        .env_remove("METANAS_DEVICE");
    if let Some(dir) = bundle_env {
        cmd.env("METANAS_BUNDLE", dir);
    }
    cmd.output().expect("the metanas binary runs")
}

/// Asserts that the run failed and its error names every one of `words`.
fn fails_naming(out: &Output, words: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "expected a failure; stdout:\n{}\nstderr:\n{stderr}",
        String::from_utf8_lossy(&out.stdout)
    );
    for w in words {
        assert!(
            stderr.contains(w),
            "the error does not name `{w}`:\n{stderr}"
        );
    }
}

#[test]
fn zero_counts_are_errors_naming_the_flag() {
    let cwd = root();
    let out = metanas(
        &["search", "--source", "mnist-sample", "--top-k", "0"],
        &cwd,
        None,
    );
    fails_naming(&out, &["--top-k 0"]);
    let out = metanas(
        &["search", "--source", "mnist-sample", "--candidates", "0"],
        &cwd,
        None,
    );
    fails_naming(&out, &["--candidates 0"]);
}

#[test]
fn a_budget_nothing_meets_is_an_error_naming_the_budget_flags() {
    let cwd = root();
    let out = metanas(
        &[
            "search",
            "--source",
            "mnist-sample",
            "--exhaustive",
            "--max-params",
            "0.01",
        ],
        &cwd,
        None,
    );
    fails_naming(&out, &["--max-params 0.01", "--max-flops"]);
    assert!(out.stdout.is_empty(), "no table is printed");
    let out = metanas(
        &["search", "--source", "mnist-sample", "--max-flops", "NaN"],
        &cwd,
        None,
    );
    fails_naming(&out, &["--max-flops NaN"]);
}

#[test]
fn write_errors_name_the_path() {
    let dir = scratch("write");
    let missing = dir.join("no-such-folder");
    let svg = missing.join("cell.svg");
    let out = metanas(
        &[
            "draw",
            "--arch",
            "|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|skip_connect~0|skip_connect~1|nor_conv_3x3~2|",
            "--out",
            svg.to_str().unwrap(),
        ],
        &dir,
        None,
    );
    fails_naming(&out, &["--out", svg.to_str().unwrap()]);
    // `--json` into a missing folder fails before the search, naming the path.
    let json = missing.join("picks.json");
    let out = metanas(
        &[
            "search",
            "--source",
            "mnist-sample",
            "--json",
            json.to_str().unwrap(),
        ],
        &root(),
        None,
    );
    fails_naming(&out, &["--json", json.to_str().unwrap()]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn without_a_bundle_anywhere_the_error_names_the_flag() {
    // A folder outside the repository, `$METANAS_BUNDLE` unset, no `bundle/` next to the binary:
    // the old binary used the path compiled into it; now nothing is found.
    let dir = scratch("nobundle");
    let out = metanas(&["search", "--source", "mnist-sample"], &dir, None);
    fails_naming(
        &out,
        &["no MetaD2A bundle found", "--bundle", "METANAS_BUNDLE"],
    );
    // `$METANAS_BUNDLE` is used when set, and a folder without a bundle is named.
    let out = metanas(&["search", "--source", "mnist-sample"], &dir, Some(&dir));
    fails_naming(&out, &[dir.to_str().unwrap(), "METANAS_BUNDLE"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_bundle_is_found_from_a_folder_inside_the_repository() {
    // From `crates/` (not the repository root), `$METANAS_BUNDLE` unset: the bundle is
    // `crates/metanas/bundle` of the folder above. A small search on the embedded MNIST sample.
    let dir = scratch("found");
    let json = dir.join("picks.json");
    let out = metanas(
        &[
            "search",
            "--source",
            "mnist-sample",
            "--way",
            "3",
            "--train-per-class",
            "20",
            "--candidates",
            "10",
            "--top-k",
            "2",
            "--json",
            json.to_str().unwrap(),
        ],
        &root().join("crates"),
        None,
    );
    assert!(
        out.status.success(),
        "stderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let ranked = result["ranked"].as_array().unwrap();
    assert_eq!(ranked.len(), 2);
    assert!(ranked
        .iter()
        .all(|c| c["predicted_accuracy"].as_f64().is_some_and(f64::is_finite)));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_budgeted_search_trains_k_cells_and_answers_the_best_measured() {
    let dir = scratch("budget");
    let json = dir.join("trace.json");
    let tiny = [
        "search",
        "--source",
        "mnist-sample",
        "--way",
        "3",
        "--train-per-class",
        "20",
        "--test-per-class",
        "10",
        "--candidates",
        "10",
    ];
    let mut args = tiny.to_vec();
    args.extend(["--train-budget", "2", "--json", json.to_str().unwrap()]);
    let out = metanas(&args, &root(), None);
    assert!(
        out.status.success(),
        "stderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let steps = result["trace"]["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2);
    assert_ne!(
        steps[0]["arch"], steps[1]["arch"],
        "each cell is trained once"
    );
    // The answer is one of the trained cells, with the accuracy its run measured.
    let answer = steps
        .iter()
        .find(|s| s["arch"] == result["arch"])
        .expect("the answer was measured");
    assert_eq!(answer["accuracy"], result["accuracy"]);
    let acc = result["accuracy"].as_f64().unwrap();
    assert!((0.0..=100.0).contains(&acc), "{acc}");

    let mut args = tiny.to_vec();
    args.extend(["--train-budget", "11"]);
    fails_naming(
        &metanas(&args, &root(), None),
        &["--train-budget 11", "--candidates"],
    );
    let mut args = tiny.to_vec();
    args.extend(["--train-budget", "1", "--rank-by", "synflow"]);
    fails_naming(
        &metanas(&args, &root(), None),
        &["--train-budget", "--rank-by"],
    );
}

#[test]
fn rank_by_a_proxy_orders_the_candidates_by_it() {
    let dir = scratch("rank-by");
    let json = dir.join("ranked.json");
    let out = metanas(
        &[
            "search",
            "--source",
            "mnist-sample",
            "--way",
            "3",
            "--train-per-class",
            "20",
            "--candidates",
            "12",
            "--top-k",
            "5",
            "--rank-by",
            "params",
            "--json",
            json.to_str().unwrap(),
        ],
        &root(),
        None,
    );
    assert!(
        out.status.success(),
        "stderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(rows.len(), 5);
    let params: Vec<f64> = rows.iter().map(|r| r["params"].as_f64().unwrap()).collect();
    assert!(params.windows(2).all(|w| w[0] >= w[1]), "{params:?}");
    fails_naming(
        &metanas(
            &["search", "--source", "mnist-sample", "--rank-by", "nope"],
            &root(),
            None,
        ),
        &["--rank-by", "predictor"],
    );
}

#[test]
fn a_small_unbalanced_image_folder_names_the_flag_and_warns() {
    let dir = scratch("folder");
    for (class, n) in [("ants", 3), ("bees", 40)] {
        let d = dir.join("images").join(class);
        std::fs::create_dir_all(&d).unwrap();
        for i in 0..n {
            let img = image::GrayImage::from_fn(8, 8, |x, y| image::Luma([(x * 30 + y * i) as u8]));
            img.save(d.join(format!("{i}.png"))).unwrap();
        }
    }
    let images = dir.join("images");
    let out = metanas(
        &["search", "--images", images.to_str().unwrap()],
        &root(),
        None,
    );
    fails_naming(
        &out,
        &["`ants` has 3 images", "--train-per-class", "unbalanced"],
    );
}

/// Runs `metanas adapt args` from the repository root with `$METANAS_BASE_BUNDLE` set to
/// `bundle_env` (or unset).
fn metanas_adapt(args: &[&str], bundle_env: Option<&Path>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_metanas"));
    cmd.arg("adapt")
        .args(args)
        .current_dir(root())
        .env_remove("METANAS_BASE_BUNDLE")
        .env_remove("METANAS_DEVICE");
    if let Some(dir) = bundle_env {
        cmd.env("METANAS_BASE_BUNDLE", dir);
    }
    cmd.output().expect("the metanas binary runs")
}

#[test]
fn adapt_answers_the_shipped_base_bundles_most_probable_cells() {
    let dir = scratch("adapt");
    let json = dir.join("adapt.json");
    let out = metanas_adapt(
        &[
            "--source",
            "mnist-sample",
            "--way",
            "3",
            "--train-per-class",
            "20",
            "--test-per-class",
            "5",
            "--steps",
            "3",
            "--top-k",
            "2",
            "--json",
            json.to_str().unwrap(),
        ],
        None,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "stdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("bundle-base"), "{stdout}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let top = v["top"].as_array().unwrap();
    assert_eq!(top.len(), 2);
    assert_eq!(top[0]["arch"], v["cell"]);
    assert!(top[0]["probability"].as_f64() >= top[1]["probability"].as_f64());
    assert_eq!(v["losses"].as_array().unwrap().len(), 3);
    for row in v["edge_probabilities"].as_array().unwrap() {
        let sum: f64 = row
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_f64().unwrap())
            .sum();
        assert!((sum - 1.0).abs() < 1e-6, "{row}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn adapt_errors_name_the_flag_or_the_bundle_variable() {
    let out = metanas_adapt(&["--source", "mnist-sample", "--top-k", "0"], None);
    fails_naming(&out, &["--top-k 0"]);
    let empty = scratch("adapt-empty");
    let out = metanas_adapt(&["--source", "mnist-sample", "--steps", "1"], Some(&empty));
    fails_naming(&out, &["$METANAS_BASE_BUNDLE", "base.json"]);
    let _ = std::fs::remove_dir_all(&empty);
}
