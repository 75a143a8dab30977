//! The zero-cost proxies against an independent PyTorch computation.
//!
//! `tests/fixtures/proxies/` holds what the Rust side exported (`inputs.json`, `inputs.bin`:
//! the batch and every weight of the networks, f32 little-endian) and what
//! `scripts/proxies_reference.py` computed from exactly those numbers (`expected.json`). This
//! test rebuilds the batch and the networks from their seeds, checks they are the exported
//! bits, and checks every proxy against the reference to 1e-4 relative. Regenerate with the
//! commands in `tests/fixtures/proxies/README.md`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::backend::{Autodiff, Flex};
use burn::module::AutodiffModule;
use burn::tensor::backend::Backend;
use datasets::{DataPaths, SourceSpec, Task, TaskSpec};
use meta_predictor::proxies::{
    flops, grad_norm, jacob_cov, layer_weights, naswot, params, snip, synflow, LayerWeight,
    Minibatch, Proxy, ProxyConfig,
};
use search_space::{Nb201Arch, Nb201Network};
use serde::{Deserialize, Serialize};

type B = Autodiff<Flex>;

/// Agreement asked of every proxy.
const TOLERANCE: f64 = 1e-4;

/// The cells of the fixture: a strong one, all-conv3x3, no conv, convs fed by all-zero nodes,
/// mixed 1×1, one whose output is disconnected from its input (but whose discarded conv edge
/// still sees it), and all-`none`.
const CELLS: [&str; 7] = [
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|",
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|",
    "|avg_pool_3x3~0|+|skip_connect~0|avg_pool_3x3~1|+|skip_connect~0|none~1|avg_pool_3x3~2|",
    "|none~0|+|none~0|none~1|+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|",
    "|nor_conv_1x1~0|+|avg_pool_3x3~0|nor_conv_1x1~1|+|skip_connect~0|nor_conv_1x1~1|none~2|",
    "|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|skip_connect~2|",
    "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
];

/// The proxies the reference computes.
const PROXIES: [Proxy; 7] = Proxy::ALL;

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/proxies")
}

/// A procedural RGB task (needs no installed data): 3 classes, 6 images each, 8×8.
fn task() -> Task {
    let source = SourceSpec::Procedural(datasets::ProceduralSpec::meta_test());
    let spec = TaskSpec::new(source, vec![0, 1, 2], 6, 0, 8, 11).with_channels(3);
    Task::build(&spec, &DataPaths::from_env()).expect("procedural task")
}

/// The tiny network of the fixture: C = 4, N = 1, weights seed 7; batch of 16, seed 5.
fn config() -> ProxyConfig {
    ProxyConfig::new()
        .with_channels(4)
        .with_cells_per_stage(1)
        .with_batch_size(16)
        .with_seed(7)
        .with_batch_seed(5)
}

/// A tensor stored in `inputs.bin`.
#[derive(Debug, Serialize, Deserialize)]
struct Stored {
    shape: Vec<usize>,
    /// Offset in f32 values.
    offset: usize,
}

#[derive(Debug, Serialize, Deserialize)]
struct Inputs {
    channels: usize,
    cells_per_stage: usize,
    input_channels: usize,
    num_classes: usize,
    resolution: usize,
    batch: Stored,
    labels: Vec<usize>,
    /// Every weight by name (see `layer_weights`), plus `classifier.bias`; the classifier
    /// weight is Burn's `[in, out]`.
    weights: BTreeMap<String, Stored>,
    /// Per cell: its string and the names of its weights.
    cells: Vec<(String, Vec<String>)>,
}

#[derive(Debug, Deserialize)]
struct Expected {
    /// Per cell string: proxy name → value, or "-inf" / "nan".
    cells: BTreeMap<String, BTreeMap<String, serde_json::Value>>,
}

fn named_tensors<Bk: Backend>(network: &Nb201Network<Bk>) -> Vec<(String, Vec<usize>, Vec<f32>)> {
    let values = |data: burn::tensor::TensorData| data.iter::<f32>().collect::<Vec<_>>();
    let mut out: Vec<_> = layer_weights(network)
        .into_iter()
        .map(|named| match named.weight {
            LayerWeight::Conv(w) => (named.name, w.dims().to_vec(), values(w.into_data())),
            LayerWeight::Linear(w) => (named.name, w.dims().to_vec(), values(w.into_data())),
        })
        .collect();
    let bias = network
        .classifier
        .bias
        .as_ref()
        .expect("classifier bias")
        .val();
    out.push((
        "classifier.bias".into(),
        bias.dims().to_vec(),
        values(bias.into_data()),
    ));
    out
}

fn setup() -> (Minibatch<B>, Vec<(Nb201Arch, Nb201Network<B>)>) {
    build(&config(), &task(), &CELLS)
}

fn build(
    config: &ProxyConfig,
    task: &Task,
    cells: &[&str],
) -> (Minibatch<B>, Vec<(Nb201Arch, Nb201Network<B>)>) {
    let device = Default::default();
    let batch = config.minibatch::<B>(task, &device).expect("minibatch");
    let networks = cells
        .iter()
        .map(|s| {
            let arch: Nb201Arch = s.parse().expect("cell");
            let net = config
                .network(arch, &batch)
                .expect("network")
                .init::<B>(&device);
            (arch, net)
        })
        .collect();
    (batch, networks)
}

/// Writes `inputs.json` and `inputs.bin` (run once, then `scripts/proxies_reference.py`).
#[test]
#[ignore = "writes the fixture inputs; see tests/fixtures/proxies/README.md"]
fn export_fixture_inputs() {
    let (batch, networks) = setup();
    export(&fixture_dir(), &config(), &batch, &networks);
}

/// Synflow's overflow-free rescaling on the full NAS-Bench-201 network (C = 16, N = 5,
/// 32×32), where the score overflows `f32`: exports the networks (≈ 6 MB, not committed) and
/// our scores to `$PROXIES_LARGE_DIR` (default `/tmp/metanas-proxies-large`) for
/// `scripts/proxies_reference.py DIR --only synflow`; see the README beside the fixtures.
#[test]
#[ignore = "writes ≈ 6 MB outside the repository; see tests/fixtures/proxies/README.md"]
fn export_large_synflow_check() {
    let dir = std::env::var_os("PROXIES_LARGE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp/metanas-proxies-large"));
    let source = SourceSpec::Procedural(datasets::ProceduralSpec::meta_test());
    let spec = TaskSpec::new(source, vec![0, 1], 1, 0, 32, 0).with_channels(3);
    let task = Task::build(&spec, &DataPaths::from_env()).expect("procedural task");
    let config = ProxyConfig::new()
        .with_channels(16)
        .with_cells_per_stage(5)
        .with_batch_size(2);
    let cells = [CELLS[0], CELLS[1], CELLS[4]];
    let (batch, networks) = build(&config, &task, &cells);
    export(&dir, &config, &batch, &networks);
    let ours: BTreeMap<String, f64> = networks
        .iter()
        .map(|(arch, net)| (arch.to_string(), synflow(net).expect("synflow")))
        .collect();
    let json = serde_json::to_string_pretty(&ours).unwrap();
    std::fs::write(dir.join("ours.json"), json + "\n").unwrap();
}

/// Writes the batch and every network's weights (`inputs.bin`, f32 little-endian) and where
/// each lies (`inputs.json`) to `dir`.
fn export(
    dir: &Path,
    config: &ProxyConfig,
    batch: &Minibatch<B>,
    networks: &[(Nb201Arch, Nb201Network<B>)],
) {
    let mut blob: Vec<f32> = batch.images.clone().into_data().iter::<f32>().collect();
    let labels = batch
        .labels
        .clone()
        .into_data()
        .iter::<i64>()
        .map(|l| l as usize)
        .collect();
    let mut weights = BTreeMap::new();
    let mut stored_values: BTreeMap<String, Vec<f32>> = BTreeMap::new();
    let mut cells = Vec::new();
    for (arch, network) in networks {
        let mut names = Vec::new();
        for (name, shape, values) in named_tensors(network) {
            match stored_values.get(&name) {
                // Weights depend on the seed and the position only: shared across cells.
                Some(existing) => assert_eq!(existing, &values, "{name} differs between cells"),
                None => {
                    weights.insert(
                        name.clone(),
                        Stored {
                            shape,
                            offset: blob.len(),
                        },
                    );
                    blob.extend_from_slice(&values);
                    stored_values.insert(name.clone(), values);
                }
            }
            names.push(name);
        }
        cells.push((arch.to_string(), names));
    }
    let inputs = Inputs {
        channels: config.channels,
        cells_per_stage: config.cells_per_stage,
        input_channels: batch.channels(),
        num_classes: batch.num_classes,
        resolution: batch.side(),
        batch: Stored {
            shape: batch.images.dims().to_vec(),
            offset: 0,
        },
        labels,
        weights,
        cells,
    };
    std::fs::create_dir_all(dir).unwrap();
    let bytes: Vec<u8> = blob.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(dir.join("inputs.bin"), bytes).unwrap();
    let json = serde_json::to_string_pretty(&inputs).unwrap();
    std::fs::write(dir.join("inputs.json"), json + "\n").unwrap();
}

fn read_fixture() -> (Inputs, Vec<f32>, Expected) {
    let dir = fixture_dir();
    let read = |name: &str| {
        std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
    };
    let inputs: Inputs = serde_json::from_slice(&read("inputs.json")).expect("inputs.json");
    let blob = read("inputs.bin")
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let expected: Expected = serde_json::from_slice(&read("expected.json")).expect("expected");
    (inputs, blob, expected)
}

fn slice<'a>(blob: &'a [f32], stored: &Stored) -> &'a [f32] {
    let n: usize = stored.shape.iter().product();
    &blob[stored.offset..stored.offset + n]
}

#[test]
fn proxies_match_the_pytorch_reference() {
    let (inputs, blob, expected) = read_fixture();
    let (batch, networks) = setup();

    // The inputs the reference saw are exactly what the seeds give today.
    let images: Vec<f32> = batch.images.clone().into_data().iter::<f32>().collect();
    assert_eq!(images, slice(&blob, &inputs.batch), "the minibatch changed");
    let labels: Vec<usize> = batch
        .labels
        .clone()
        .into_data()
        .iter::<i64>()
        .map(|l| l as usize)
        .collect();
    assert_eq!(labels, inputs.labels);
    assert_eq!(networks.len(), inputs.cells.len());

    let macro_config = config().macro_config(&batch);
    let mut worst = 0.0f64;
    let mut report = String::new();
    for ((arch, network), (cell, names)) in networks.iter().zip(&inputs.cells) {
        assert_eq!(&arch.to_string(), cell);
        let tensors = named_tensors(network);
        assert_eq!(tensors.len(), names.len(), "{cell}: weight count");
        for ((name, shape, values), stored_name) in tensors.iter().zip(names) {
            assert_eq!(name, stored_name);
            let stored = &inputs.weights[name];
            assert_eq!(shape, &stored.shape, "{name}");
            assert_eq!(
                values.as_slice(),
                slice(&blob, stored),
                "{name}: weights changed"
            );
        }

        let expected = &expected.cells[cell];
        for proxy in PROXIES {
            let ours = match proxy {
                Proxy::Synflow => synflow(network),
                Proxy::Naswot => naswot(&network.valid(), &batch.inner()),
                Proxy::JacobCov => jacob_cov(network, &batch),
                Proxy::Snip => snip(network, &batch),
                Proxy::GradNorm => grad_norm(network, &batch),
                Proxy::Params => Ok(params(arch, &macro_config)),
                Proxy::Flops => Ok(flops(arch, &macro_config)),
            }
            .unwrap_or_else(|e| panic!("{cell} {proxy}: {e}"));
            let reference = &expected[proxy.name()];
            match reference {
                serde_json::Value::Number(n) => {
                    let r = n.as_f64().unwrap();
                    let err = (ours - r).abs() / r.abs().max(ours.abs()).max(f64::MIN_POSITIVE);
                    let err = if ours == r { 0.0 } else { err };
                    worst = worst.max(err);
                    report +=
                        &format!("{proxy:>9} {ours:>14.8e} {r:>14.8e} rel {err:.1e}  {cell}\n");
                    assert!(
                        err <= TOLERANCE,
                        "{cell} {proxy}: ours {ours}, reference {r} ({err:.2e} relative)"
                    );
                }
                // The reference's slogdet of a singular kernel.
                serde_json::Value::String(s) if s == "-inf" => {
                    assert_eq!(ours, f64::NEG_INFINITY, "{cell} {proxy}");
                    report += &format!("{proxy:>9} {ours:>14} {s:>14}  {cell}\n");
                }
                // The reference's corrcoef of a constant Jacobian: we define it as −∞.
                serde_json::Value::String(s) if s == "nan" && proxy == Proxy::JacobCov => {
                    assert_eq!(ours, f64::NEG_INFINITY, "{cell} {proxy}");
                    report += &format!("{proxy:>9} {ours:>14} {s:>14}  {cell}\n");
                }
                other => panic!("{cell} {proxy}: unexpected reference value {other}"),
            }
        }
    }
    println!("{report}worst relative difference: {worst:.2e}");
}
