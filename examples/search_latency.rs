//! MetaD2A search latency on one backend, cold and warm, with the shipped bundle and the MNIST
//! sample embedded in the repository (nothing to install: it runs on a bare GPU machine).
//!
//! ```text
//! cargo run --release --example search_latency                          # cpu
//! cargo run --release --features cuda --example search_latency -- --device cuda --json
//! ```
//!
//! The task is the embedded sample's 10 digits × 100 training images at the mini protocol's
//! resolution, as `metanas search --source mnist-sample` builds it. Each repetition times, in
//! one process: the feature extraction (the pretrained CNN over the 1,000 images), the default
//! search on those features (generate 500 unique valid cells, score each over 10 draws, rank)
//! and the exhaustive search (all 15,625 cells, graph latents cached after the first). The
//! first repetition is *cold*: on wgpu and CUDA it includes compiling every kernel it meets,
//! which `metanas search` pays on each call; the later ones are *warm* (their median is
//! reported), what a long-lived process pays per search. The criterion bench
//! `benches/metad2a.rs` times the same search on the MNIST JSON task (which needs
//! `scripts/setup-data.sh`). Searches return their ranked cells on the host, so every timed
//! section has finished on the device.
//!
//! `--device` (or `$METANAS_DEVICE`; default cpu) picks the backend (`metanas::device`).

use std::error::Error;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use burn::tensor::backend::{AutodiffBackend, Backend};
use clap::Parser;
use datasets::{DataPaths, SourceSpec, Task, TaskSpec};
use metanas::device::{dispatch, DeviceSpec, WithBackend};
use metanas::metad2a::{MetaD2A, SearchOptions};
use model_zoo::Protocol;

#[derive(Debug, Parser)]
#[command(about = "MetaD2A search latency, cold and warm, on the embedded MNIST sample")]
struct Args {
    /// Repetitions: the first is cold, the median of the others is the warm latency.
    #[arg(long, default_value_t = 5)]
    reps: usize,
    /// The MetaD2A bundle directory.
    #[arg(long, default_value = "crates/metanas/bundle")]
    bundle: PathBuf,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// Backend: cpu, wgpu, wgpu:N, cuda, cuda:N (default: $METANAS_DEVICE, else cpu).
    #[arg(long)]
    device: Option<DeviceSpec>,
}

/// Seconds of each timed section, one entry per repetition.
#[derive(Default)]
struct Times {
    load: f64,
    features: Vec<f64>,
    search: Vec<f64>,
    exhaustive: Vec<f64>,
}

struct Latency<'a> {
    args: &'a Args,
    task: &'a Task,
}

impl WithBackend for Latency<'_> {
    type Output = Result<Times, Box<dyn Error>>;

    fn run<A: AutodiffBackend>(self, device: A::Device) -> Self::Output {
        measure::<A::InnerBackend>(self.args, self.task, &device)
    }
}

/// Inference only: the backend without autodiff, as `metanas search` runs it.
fn measure<B: Backend>(
    args: &Args,
    task: &Task,
    device: &B::Device,
) -> Result<Times, Box<dyn Error>> {
    let start = Instant::now();
    let model = MetaD2A::<B>::load(&args.bundle, device)
        .map_err(|e| format!("{}: {e}", args.bundle.display()))?;
    let extractor = model.extractor(device)?;
    let mut times = Times {
        load: start.elapsed().as_secs_f64(),
        ..Times::default()
    };
    let exhaustive = SearchOptions {
        exhaustive: true,
        ..SearchOptions::default()
    };
    for _ in 0..args.reps {
        let t = Instant::now();
        let features = extractor.extract(&task.train)?;
        times.features.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        let found = model.search(&features, &SearchOptions::default())?;
        times.search.push(t.elapsed().as_secs_f64());
        assert!(!found.ranked.is_empty(), "the search ranked no cell");
        let t = Instant::now();
        model.search(&features, &exhaustive)?;
        times.exhaustive.push(t.elapsed().as_secs_f64());
    }
    Ok(times)
}

/// The first value (cold) and the median of the rest (warm; NaN with one repetition).
fn cold_warm(seconds: &[f64]) -> (f64, f64) {
    let mut rest = seconds[1..].to_vec();
    rest.sort_by(f64::total_cmp);
    let warm = match rest.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => rest[n / 2],
        n => (rest[n / 2 - 1] + rest[n / 2]) / 2.0,
    };
    (seconds[0], warm)
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
    if args.reps == 0 {
        return Err("--reps 0: give at least 1 (2 or more for a warm figure)".into());
    }
    let spec = DeviceSpec::resolve(args.device)?;
    let protocol = Protocol::mini();
    let task_spec = TaskSpec::new(
        SourceSpec::MnistSample,
        (0..10).collect(),
        protocol.train_per_class,
        1,
        protocol.resolution,
        0,
    );
    let task = Task::build(&task_spec, &DataPaths::from_env())?;
    let times = dispatch(
        &spec,
        Latency {
            args: &args,
            task: &task,
        },
    )??;
    let sections = [
        ("features", &times.features),
        ("search", &times.search),
        ("exhaustive", &times.exhaustive),
    ];
    if args.json {
        let fields: Vec<String> = sections
            .iter()
            .map(|(name, s)| {
                let (cold, warm) = cold_warm(s);
                let warm = if warm.is_nan() {
                    "null".to_string()
                } else {
                    format!("{warm:.6e}")
                };
                format!(r#""{name}_cold_s":{cold:.6e},"{name}_warm_s":{warm}"#)
            })
            .collect();
        println!(
            r#"{{"device":"{spec}","images":{},"reps":{},"load_s":{:.6e},{}}}"#,
            task.train.len(),
            args.reps,
            times.load,
            fields.join(",")
        );
        return Ok(());
    }
    println!(
        "{spec}: {}-way task, {} images; bundle and CNN loaded in {:.3} s; {} repetitions \
         (cold = the first, warm = the median of the others)",
        task.way(),
        task.train.len(),
        times.load,
        args.reps
    );
    for (name, seconds) in sections {
        let (cold, warm) = cold_warm(seconds);
        let what = match name {
            "features" => "features (CNN over the training images)",
            "search" => "search: generate 500 + score + rank",
            _ => "search: exhaustive, 15,625 cells",
        };
        println!("  {what}: cold {cold:.3} s, warm {warm:.3} s");
    }
    Ok(())
}
