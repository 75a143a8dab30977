//! CPU speed of the kernels that set the database's throughput, each beside the kernel it
//! replaced, measured in one process: the protocol's training step and whole run, the 3×3
//! convolution, the predictor's exhaustive scoring, and the matrix library's peak.
//!
//! ```text
//! cargo run --release --example speed                       # every case, a markdown table
//! cargo run --release --example speed -- --case conv --kernel burn --json   # one case
//! RAYON_NUM_THREADS=1 cargo run --release --example speed   # one thread
//! ```
//!
//! `scripts/speed_vs_pytorch.py` runs the same cases in PyTorch and this example's `--json` cases
//! alternately in one sitting and prints the ratios (README, "Speed against PyTorch").
//!
//! `--device` (or `$METANAS_DEVICE`; default cpu) picks the backend (`metanas::device`). The
//! kernels compared are the flex backend's: on wgpu or CUDA `--kernel gemm` and `burn` run the
//! same Burn kernels, and the figures are that backend's speed (each timed repetition waits for
//! the device).
//!
//! Cases (all `f32`):
//! - `step`: one SGD step (Nesterov, cross-entropy, batch 64 or `--batch`) of the mini network (C = 8, N = 1,
//!   1×16×16 inputs, 10 classes) of NAS-Bench-201 cell 1000; `--kernel gemm|burn` picks the
//!   convolution (`search_space::network::CpuConv`). Reported as images/s.
//! - `run`: one whole mini-protocol run (`model_zoo::train`: 5 epochs of 1,000 images = 80
//!   steps, BN recalibration, testing on 2,000 images) of the same cell on the embedded MNIST
//!   sample; its inverse is the database builder's runs/hour per thread. `--kernel` as `step`.
//! - `conv`: 3×3 convolution forward + backward (input and weight gradients), input
//!   `[64, 8, 16, 16]`, 8 output channels, padding 1, no bias; `--kernel` as above.
//! - `score`: the predictor's exhaustive scoring: 15,625 cached cells × 10 image draws through
//!   the head (`tanh(D·W_D + G·W_G + b)·w + b'`, averaged over draws); `--kernel gemm` is the
//!   fused host kernel the predictor runs on flex, `burn` the same head in Burn tensor ops.
//! - `matmul`: a 1024³ matrix product through Burn's flex matmul (the `gemm` crate, which the
//!   convolution also calls): the matrix library's peak, to read the others' GFLOP/s against.

use std::error::Error;
use std::hint::black_box;
use std::process::ExitCode;
use std::time::Instant;

use burn::nn::loss::CrossEntropyLoss;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{GradientsParams, Optimizer, SgdConfig};
use burn::tensor::activation::tanh;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Distribution, Int, Tensor};
use clap::{Parser, ValueEnum};
use datasets::{sample_task_specs, DataPaths, SourceSpec, Task};
use meta_predictor::{GraphLatentCache, MetaPredictorConfig};
use metanas::device::{dispatch, DeviceSpec, WithBackend};
use model_zoo::Protocol;
use search_space::network::{self, with_cpu_conv, CpuConv};
use search_space::{Nb201Arch, Nb201NetworkConfig};

/// NAS-Bench-201's cell 1000: the cell of the speed issue's measurements.
const CELL: usize = 1000;
const CLASSES: usize = 10;
const CONV_SHAPE: [usize; 4] = [64, 8, 16, 16];
const SCORE_CELLS: usize = 15_625;
const SCORE_DRAWS: usize = 10;
const MATMUL: usize = 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Case {
    Step,
    Run,
    Conv,
    Score,
    Matmul,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Kernel {
    /// The project's kernels (direct and im2col + GEMM convolution, fused scoring).
    Gemm,
    /// The project's kernels with im2col + GEMM for every convolution (the kernel before the
    /// direct one; the same floats).
    Im2col,
    /// Burn's own ops, the baseline they replaced.
    Burn,
}

#[derive(Debug, Parser)]
#[command(about = "CPU speed of the training and scoring kernels, ours beside Burn's")]
struct Args {
    /// One case (default: every case with both kernels, as a table).
    #[arg(long, value_enum)]
    case: Option<Case>,
    /// The kernel of a single case.
    #[arg(long, value_enum, default_value = "gemm")]
    kernel: Kernel,
    /// Timed repetitions per case (the median is reported); `run` uses a third of them.
    #[arg(long, default_value_t = 15)]
    reps: usize,
    /// Print one JSON object per case instead of a table.
    #[arg(long)]
    json: bool,
    /// Batch size of the `step` case.
    #[arg(long, default_value_t = 64)]
    batch: usize,
    /// Backend: cpu, wgpu, wgpu:N, cuda, cuda:N (default: $METANAS_DEVICE, else cpu).
    #[arg(long)]
    device: Option<DeviceSpec>,
}

/// One case's measurement.
struct Measured {
    case: Case,
    kernel: Kernel,
    /// Median seconds per repetition.
    seconds: f64,
    /// Items (images, or FLOPs for `conv` and `matmul`, cell-draw pairs for `score`) per
    /// repetition.
    items: f64,
    unit: &'static str,
}

impl Measured {
    fn json(&self) -> String {
        format!(
            r#"{{"case":"{}","kernel":"{}","threads":{},"median_s":{:.6e},"items":{},"unit":"{}","per_s":{:.6e},"cell":"{}"}}"#,
            format!("{:?}", self.case).to_lowercase(),
            format!("{:?}", self.kernel).to_lowercase(),
            threads(),
            self.seconds,
            self.items,
            self.unit,
            self.items / self.seconds,
            cell()
        )
    }
}

/// The rayon threads flex may use (`RAYON_NUM_THREADS`, else the cores).
fn threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Median seconds of `reps` calls of `f`, each waiting for `device` to finish (a no-op on flex),
/// after two untimed warm-up calls.
fn median_seconds<B: Backend>(device: &B::Device, reps: usize, mut f: impl FnMut()) -> f64 {
    let mut call = || {
        f();
        B::sync(device).expect("the device finishes its work");
    };
    call();
    call();
    let mut times: Vec<f64> = (0..reps.max(1))
        .map(|_| {
            let start = Instant::now();
            call();
            start.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn cpu_conv(kernel: Kernel) -> CpuConv {
    match kernel {
        Kernel::Gemm => CpuConv::Gemm,
        Kernel::Im2col => CpuConv::Im2col,
        Kernel::Burn => CpuConv::Burn,
    }
}

fn cell() -> Nb201Arch {
    Nb201Arch::from_index(CELL).expect("cell 1000 exists")
}

fn step<B: AutodiffBackend>(
    device: &B::Device,
    kernel: Kernel,
    reps: usize,
    batch: usize,
) -> Measured {
    let images = Tensor::<B, 4>::random([batch, 1, 16, 16], Distribution::Normal(0.0, 1.0), device);
    let labels: Vec<i64> = (0..batch as i64).map(|i| i % CLASSES as i64).collect();
    let labels = Tensor::<B, 1, Int>::from_data(labels.as_slice(), device);
    let loss_fn = CrossEntropyLoss::new(None, device);
    let mut model = Nb201NetworkConfig::new(cell())
        .with_channels(8)
        .with_cells_per_stage(1)
        .with_input_channels(1)
        .with_num_classes(CLASSES)
        .with_resolution(16)
        .with_seed(0)
        .init::<B>(device);
    let mut optim = SgdConfig::new()
        .with_momentum(Some(
            MomentumConfig::new()
                .with_momentum(0.9)
                .with_dampening(0.0)
                .with_nesterov(true),
        ))
        .init::<B, _>();
    let seconds = with_cpu_conv(cpu_conv(kernel), || {
        median_seconds::<B>(device, reps, || {
            let logits = model.forward(images.clone());
            let loss = loss_fn.forward(logits, labels.clone());
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(0.01, model.clone(), grads);
        })
    });
    Measured {
        case: Case::Step,
        kernel,
        seconds,
        items: batch as f64,
        unit: "images",
    }
}

fn run<B: AutodiffBackend>(
    device: &B::Device,
    kernel: Kernel,
    reps: usize,
) -> Result<Measured, Box<dyn Error>> {
    let protocol = Protocol {
        train_per_class: 100,
        test_per_class: 200,
        ..Protocol::mini()
    };
    let paths = DataPaths::from_env();
    let spec = sample_task_specs(&SourceSpec::MnistSample, CLASSES, CLASSES, 1, 0)?
        .remove(0)
        .with_shots(protocol.train_per_class, protocol.test_per_class)
        .with_resolution(protocol.resolution);
    let task = Task::build(&spec, &paths)?;
    let mut failed = None;
    let seconds = with_cpu_conv(cpu_conv(kernel), || {
        median_seconds::<B>(device, reps.div_ceil(3), || {
            if let Err(e) = model_zoo::train::<B>(cell(), &task, &protocol, 0, device) {
                failed = Some(e);
            }
        })
    });
    if let Some(e) = failed {
        return Err(e.into());
    }
    Ok(Measured {
        case: Case::Run,
        kernel,
        seconds,
        items: (protocol.epochs * protocol.train_per_class * CLASSES) as f64,
        unit: "training images",
    })
}

fn conv<B: AutodiffBackend>(device: &B::Device, kernel: Kernel, reps: usize) -> Measured {
    let [n, c, h, w] = CONV_SHAPE;
    let x = Tensor::<B, 4>::random(CONV_SHAPE, Distribution::Normal(0.0, 1.0), device);
    let weight =
        Tensor::<B, 4>::random([c, c, 3, 3], Distribution::Normal(0.0, 0.1), device).require_grad();
    let seconds = with_cpu_conv(cpu_conv(kernel), || {
        median_seconds::<B>(device, reps, || {
            let x = x.clone().require_grad();
            let options = ConvOptions::new([1, 1], [1, 1], [1, 1], 1);
            let y = network::conv2d(x.clone(), weight.clone(), None, options);
            let grads = y.sum().backward();
            black_box((x.grad(&grads), weight.grad(&grads)));
        })
    });
    // Forward 2·N·Cout·H·W·Cin·9; the two gradients as much again each.
    let forward = 2.0 * (n * c * h * w * c * 9) as f64;
    Measured {
        case: Case::Conv,
        kernel,
        seconds,
        items: 3.0 * forward,
        unit: "flop",
    }
}

fn score<I: Backend>(
    device: &I::Device,
    kernel: Kernel,
    reps: usize,
) -> Result<Measured, Box<dyn Error>> {
    let model = MetaPredictorConfig::new(64).try_init::<I>(device)?;
    let latent = model.latent_dim();
    let graphs = Tensor::<I, 2>::random(
        [SCORE_CELLS, latent],
        Distribution::Normal(0.0, 1.0),
        device,
    );
    let datasets = Tensor::<I, 2>::random(
        [SCORE_DRAWS, latent],
        Distribution::Normal(0.0, 1.0),
        device,
    );
    let cache = GraphLatentCache::from_latents(&model, graphs.clone())?;
    let head_part = model.head_graph_part(graphs);
    let seconds = match kernel {
        Kernel::Gemm | Kernel::Im2col => median_seconds::<I>(device, reps, || {
            black_box(
                cache
                    .score_dataset_latents(&model, datasets.clone())
                    .expect("scores"),
            );
        }),
        // What the predictor ran before the fused kernel: per draw, the hidden layer as a
        // tensor, Burn's tanh, then the output layer.
        Kernel::Burn => median_seconds::<I>(device, reps, || {
            let parts = model.head_dataset_part(datasets.clone());
            let mut sum = Tensor::<I, 1>::zeros([SCORE_CELLS], device);
            for d in 0..SCORE_DRAWS {
                let hidden = tanh(head_part.clone() + parts.clone().narrow(0, d, 1));
                sum = sum + model.head_out.forward(hidden).reshape([SCORE_CELLS]);
            }
            black_box((sum / SCORE_DRAWS as f32).into_data());
        }),
    };
    Ok(Measured {
        case: Case::Score,
        kernel,
        seconds,
        items: (SCORE_CELLS * SCORE_DRAWS) as f64,
        unit: "cell-draws",
    })
}

fn matmul<I: Backend>(device: &I::Device, reps: usize) -> Measured {
    let a = Tensor::<I, 2>::random([MATMUL, MATMUL], Distribution::Normal(0.0, 1.0), device);
    let b = Tensor::<I, 2>::random([MATMUL, MATMUL], Distribution::Normal(0.0, 1.0), device);
    let seconds = median_seconds::<I>(device, reps, || {
        black_box(a.clone().matmul(b.clone()).into_data());
    });
    Measured {
        case: Case::Matmul,
        kernel: Kernel::Gemm,
        seconds,
        items: 2.0 * (MATMUL as f64).powi(3),
        unit: "flop",
    }
}

fn measure<B: AutodiffBackend>(
    device: &B::Device,
    case: Case,
    kernel: Kernel,
    args: &Args,
) -> Result<Measured, Box<dyn Error>> {
    let reps = args.reps;
    Ok(match case {
        Case::Step => step::<B>(device, kernel, reps, args.batch),
        Case::Run => run::<B>(device, kernel, reps)?,
        Case::Conv => conv::<B>(device, kernel, reps),
        Case::Score => score::<B::InnerBackend>(device, kernel, reps)?,
        Case::Matmul => matmul::<B::InnerBackend>(device, reps),
    })
}

/// The whole command on the backend the device spec names.
struct Speed(Args);

impl WithBackend for Speed {
    type Output = Result<(), Box<dyn Error>>;

    fn run<B: AutodiffBackend>(self, device: B::Device) -> Self::Output {
        measure_all::<B>(&device, self.0)
    }
}

fn main() -> ExitCode {
    match try_main(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn try_main(args: Args) -> Result<(), Box<dyn Error>> {
    let spec = DeviceSpec::resolve(args.device)?;
    dispatch(&spec, Speed(args))?
}

fn measure_all<B: AutodiffBackend>(device: &B::Device, args: Args) -> Result<(), Box<dyn Error>> {
    if let Some(case) = args.case {
        let m = measure::<B>(device, case, args.kernel, &args)?;
        if args.json {
            println!("{}", m.json());
        } else {
            println!(
                "{:?} ({:?}): {:.3} ms, {:.4e} {}/s",
                m.case,
                m.kernel,
                m.seconds * 1e3,
                m.items / m.seconds,
                m.unit
            );
        }
        return Ok(());
    }
    // Every case, the two kernels alternately (ours, Burn's, ours, Burn's) so that load drifts
    // hit both alike; the faster of the two rounds of each.
    let mut rows = Vec::new();
    for case in [Case::Step, Case::Run, Case::Conv, Case::Score] {
        let mut pair = [Vec::new(), Vec::new()];
        for _ in 0..2 {
            for (i, kernel) in [Kernel::Gemm, Kernel::Burn].into_iter().enumerate() {
                let m = measure::<B>(device, case, kernel, &args)?;
                if args.json {
                    println!("{}", m.json());
                }
                pair[i].push(m);
            }
        }
        rows.push(pair);
    }
    let peak = matmul::<B::InnerBackend>(device, args.reps);
    if args.json {
        println!("{}", peak.json());
        return Ok(());
    }
    let best = |ms: &[Measured]| ms.iter().map(|m| m.seconds).fold(f64::INFINITY, f64::min);
    println!(
        "threads: {}; matrix library peak (1024³ matmul): {:.1} GFLOP/s\n",
        threads(),
        peak.items / peak.seconds / 1e9
    );
    println!("| case | ours | Burn's | speed-up |");
    println!("|---|---|---|---|");
    for [ours, burn] in &rows {
        let (a, b) = (best(ours), best(burn));
        let m = &ours[0];
        let rate = |s: f64| match m.unit {
            "flop" => format!("{:.2} ms ({:.1} GFLOP/s)", s * 1e3, m.items / s / 1e9),
            _ => format!("{:.2} ms ({:.0} {}/s)", s * 1e3, m.items / s, m.unit),
        };
        println!(
            "| {:?} | {} | {} | {:.2}× |",
            m.case,
            rate(a),
            rate(b),
            b / a
        );
    }
    Ok(())
}
