//! BASE (Shaw et al., NeurIPS 2019): a weight-sharing supernet *and* a distribution over cells,
//! meta-learned across tasks, then adapted to a new task in a few gradient steps.
//!
//! ```text
//! meta-training, iteration t (seeded by (seed, t), so a resumed run repeats exactly):
//!   task ~ uniform(tasks);  θ̃, α̃ ← θ, α
//!   k inner steps on task batches: w ~ GumbelSoftmax(α̃, τ)  (hard: one op per edge)
//!       loss = CE(supernet_θ̃(x; w)[:, :way], y);  θ̃ ← SGD(θ̃),  α̃ ← Adam(α̃)
//!   Reptile: θ ← θ + ε_t (θ̃ − θ),  α ← α + ε_t (α̃ − α),  ε_t = ε (1 − t / T)
//! adaptation to a new task: the same inner loop for N steps from (θ, α), then the most
//! probable cells of softmax(α̃)
//! ```
//!
//! The supernet is [`search_space::network::Nb201Supernet`] (every op on every edge; see its
//! docs for batch norm under weight sharing); the distribution over cells is a `[6, 5]` logit
//! matrix ([`ArchLogits`]), one categorical per edge shared by every cell, its own module with
//! its own optimiser. Tasks of every class count share one classifier of `max_classes` outputs,
//! of which a task reads its first `way`; labels are arbitrary per task, so the head starts
//! every inner loop at zero and only the body and α carry what transfers. Grayscale tasks enter as three
//! replicated channels (`TaskSpec::with_channels(3)`), so one stem serves every domain.
//!
//! Where this differs from the paper: first-order Reptile instead of BASE's meta-gradient
//! approximation; per-edge categoricals shared across cells (BASE also shares the cell across
//! positions); the concrete relaxation with a fixed temperature; and a NAS-Bench-201 supernet
//! at the database's mini scale instead of an ImageNet-scale DARTS space.
//!
//! [`Base::meta_train`] runs (or resumes) meta-training; [`Base::save`] / [`Base::load`] keep a
//! versioned bundle (`base.json`, `supernet.mpk`, `arch.mpk`), written atomically, which is also
//! the checkpoint; [`Base::adapt`] answers a new task; [`Base::new`] without meta-training is
//! the from-scratch baseline (GDAS-style search on the task alone).

mod error;
mod locate;
mod reptile;

pub use error::BaseError;
pub use locate::{locate_base_bundle, BASE_BUNDLE_ENV, REPO_BASE_BUNDLE};

use std::path::Path;
use std::time::Instant;

use burn::module::{AutodiffModule, Module, Param};
use burn::nn::loss::CrossEntropyLoss;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, GradientsParams, Optimizer, SgdConfig};
use burn::record::{FullPrecisionSettings, NamedMpkFileRecorder};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{ElementConversion, Int, Tensor, TensorData};
use datasets::{Images, Task};
use rand::seq::index::sample;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use search_space::network::init::mix;
use search_space::network::supernet::{
    edge_probabilities, most_probable_cells, NUM_EDGES, NUM_OPS,
};
use search_space::network::{EdgeWeights, Nb201Supernet, Nb201SupernetConfig};
use search_space::Nb201Arch;
use serde::{Deserialize, Serialize};

/// Bundle format name written to `base.json`.
pub const BASE_FORMAT: &str = "metanas-base";
/// Bundle version; [`Base::load`] refuses others.
pub const BASE_VERSION: u32 = 1;

/// How BASE meta-trains and adapts. The defaults are the database's mini scale (C = 8, one cell
/// per stage, 16 px) with GDAS's hard Gumbel sampling, and the first configuration that did not
/// collapse (docs/base.md).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BaseConfig {
    /// Supernet width C of the first stage.
    pub channels: usize,
    /// Supernet cells per stage.
    pub cells_per_stage: usize,
    /// Side of the (square, 3-channel) images; a multiple of 4.
    pub resolution: usize,
    /// Classifier outputs: the most classes a task may have.
    pub max_classes: usize,
    /// Images per inner step (at least 2, for batch norm).
    pub batch_size: usize,
    /// Inner steps per meta-training iteration.
    pub inner_steps: usize,
    /// SGD learning rate of the supernet weights in the inner loop.
    pub weight_lr: f64,
    /// SGD momentum of the supernet weights in the inner loop.
    pub momentum: f64,
    /// Adam learning rate of the architecture logits in the inner loop.
    pub arch_lr: f64,
    /// Gumbel-softmax temperature τ.
    pub tau: f64,
    /// Hard (straight-through, one op per edge: GDAS) or soft (every op mixed) samples.
    pub hard: bool,
    /// Reptile's outer step ε at the first iteration, decayed linearly to 0.
    pub meta_step: f64,
    /// Meta-training iterations T.
    pub meta_iterations: usize,
    /// Seed of the initial weights and of every random choice.
    pub seed: u64,
}

impl Default for BaseConfig {
    fn default() -> Self {
        Self {
            channels: 8,
            cells_per_stage: 1,
            resolution: 16,
            max_classes: 20,
            batch_size: 32,
            inner_steps: 20,
            weight_lr: 0.05,
            momentum: 0.9,
            // 0.05 collapsed the distribution onto cells that output zeros (docs/base.md).
            arch_lr: 0.003,
            tau: 1.0,
            hard: true,
            meta_step: 1.0,
            meta_iterations: 800,
            seed: 0,
        }
    }
}

impl BaseConfig {
    /// Checks every field; the first invalid one is the error.
    pub fn validate(&self) -> Result<(), BaseError> {
        let bad = |field, value: String, why| Err(BaseError::Config { field, value, why });
        if self.channels == 0 {
            return bad("channels", "0".into(), "must be positive");
        }
        if self.cells_per_stage == 0 {
            return bad("cells_per_stage", "0".into(), "must be positive");
        }
        if self.resolution == 0 || !self.resolution.is_multiple_of(4) {
            return bad(
                "resolution",
                self.resolution.to_string(),
                "must be a positive multiple of 4",
            );
        }
        if self.max_classes < 2 {
            return bad("max_classes", self.max_classes.to_string(), "must be ≥ 2");
        }
        if self.batch_size < 2 {
            return bad(
                "batch_size",
                self.batch_size.to_string(),
                "must be ≥ 2 (batch norm)",
            );
        }
        for (field, v) in [
            ("weight_lr", self.weight_lr),
            ("arch_lr", self.arch_lr),
            ("tau", self.tau),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return bad(field, v.to_string(), "must be a positive number");
            }
        }
        if !(self.momentum.is_finite() && (0.0..1.0).contains(&self.momentum)) {
            return bad("momentum", self.momentum.to_string(), "must be in [0, 1)");
        }
        if !(self.meta_step.is_finite() && self.meta_step > 0.0 && self.meta_step <= 1.0) {
            return bad("meta_step", self.meta_step.to_string(), "must be in (0, 1]");
        }
        Ok(())
    }

    fn supernet(&self) -> Nb201SupernetConfig {
        Nb201SupernetConfig::new()
            .with_channels(self.channels)
            .with_cells_per_stage(self.cells_per_stage)
            .with_input_channels(3)
            .with_num_classes(self.max_classes)
            .with_resolution(self.resolution)
            .with_seed(self.seed)
    }
}

/// The distribution over cells: one categorical per edge, `softmax(logits[e])` over the ops in
/// [`search_space::Op::ALL`] order.
#[derive(Module, Debug)]
pub struct ArchLogits<B: Backend> {
    /// `[6, 5]` logits.
    pub logits: Param<Tensor<B, 2>>,
}

impl<B: Backend> ArchLogits<B> {
    /// The uniform distribution (all logits 0).
    pub fn uniform(device: &B::Device) -> Self {
        ArchLogits {
            logits: Param::from_tensor(Tensor::zeros([NUM_EDGES, NUM_OPS], device)),
        }
    }

    /// The logits as host values, row-major `[6, 5]`.
    pub fn values(&self) -> Vec<f32> {
        self.logits
            .val()
            .into_data()
            .convert::<f32>()
            .to_vec()
            .expect("f32 logits")
    }
}

/// One meta-training iteration, as logged and kept in the bundle.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetaStep {
    /// Iteration index t.
    pub iteration: usize,
    /// The task trained on (its position in the task list).
    pub task: usize,
    /// Mean training loss of the inner steps.
    pub loss: f64,
    /// Reptile step ε_t.
    pub epsilon: f64,
    /// How far the inner loop moved the supernet weights (Euclidean norm of θ̃ − θ).
    pub shift: f64,
    /// Entropy of the cell distribution after the update (nats; uniform = 6 ln 5 ≈ 9.66).
    pub entropy: f64,
    /// Seconds the iteration took.
    pub seconds: f64,
}

/// What [`Base::adapt`] found for a task.
#[derive(Clone, Debug)]
pub struct Adaptation {
    /// The most probable cell of the adapted distribution (the per-edge argmax).
    pub cell: Nb201Arch,
    /// The most probable cells, best first, with their probabilities.
    pub top: Vec<(Nb201Arch, f64)>,
    /// The adapted per-edge op probabilities.
    pub probabilities: [[f64; NUM_OPS]; NUM_EDGES],
    /// Training loss of each adaptation step.
    pub losses: Vec<f64>,
    /// Test accuracy of [`Self::cell`] run with the adapted shared weights (a proxy, not a
    /// trained network's accuracy).
    pub supernet_accuracy: f64,
    /// Wall-clock seconds of the adaptation (steps and the accuracy above).
    pub seconds: f64,
}

/// What `base.json` holds.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct BaseMeta {
    format: String,
    version: u32,
    config: BaseConfig,
    history: Vec<MetaStep>,
}

/// BASE's meta-learned supernet and cell distribution (see the [module docs](self)).
#[derive(Debug)]
pub struct Base<B: AutodiffBackend> {
    supernet: Nb201Supernet<B>,
    arch: ArchLogits<B>,
    config: BaseConfig,
    history: Vec<MetaStep>,
}

impl<B: AutodiffBackend> Base<B> {
    /// A supernet with initial weights from `config.seed` and the uniform cell distribution:
    /// the from-scratch baseline, and the start of meta-training.
    pub fn new(config: BaseConfig, device: &B::Device) -> Result<Self, BaseError> {
        config.validate()?;
        Ok(Self {
            supernet: config.supernet().init(device),
            arch: ArchLogits::uniform(device),
            config,
            history: Vec::new(),
        })
    }

    /// The shipped bundle, found at run time ([`locate_base_bundle`]), loaded on `device`.
    ///
    /// ```no_run
    /// use burn::backend::{Autodiff, Flex};
    /// use metanas::base::Base;
    ///
    /// let base = Base::<Autodiff<Flex>>::pretrained(&Default::default())?;
    /// assert!(!base.history().is_empty());
    /// # Ok::<(), metanas::base::BaseError>(())
    /// ```
    pub fn pretrained(device: &B::Device) -> Result<Self, BaseError> {
        Self::load(&locate_base_bundle()?, device)
    }

    /// The configuration.
    pub fn config(&self) -> &BaseConfig {
        &self.config
    }

    /// The meta-training iterations done so far.
    pub fn history(&self) -> &[MetaStep] {
        &self.history
    }

    /// The current per-edge op probabilities.
    pub fn probabilities(&self) -> [[f64; NUM_OPS]; NUM_EDGES] {
        edge_probabilities(&self.arch.values())
    }

    /// Runs meta-training iterations on `tasks` from where the history stops until
    /// `config.meta_iterations` or `until` (exclusive), whichever comes first, calling `log`
    /// after each. Every iteration draws from its own seed `(seed, t)`, so stopping, saving,
    /// loading and calling again gives the same model as one uninterrupted run.
    pub fn meta_train(
        &mut self,
        tasks: &[Task],
        until: Option<usize>,
        mut log: impl FnMut(&MetaStep),
    ) -> Result<(), BaseError> {
        if tasks.is_empty() {
            return Err(BaseError::NoTasks);
        }
        for (i, task) in tasks.iter().enumerate() {
            self.check_task(task, &i.to_string())?;
        }
        let total = self.config.meta_iterations;
        let end = until.map_or(total, |u| u.min(total));
        for t in self.history.len()..end {
            let start = Instant::now();
            let mut rng = ChaCha8Rng::seed_from_u64(mix(self.config.seed, 1 + t as u64));
            let task = rng.random_range(0..tasks.len());
            let (supernet, arch, losses) = inner_loop(
                self.supernet.clone(),
                ArchLogits {
                    logits: self.arch.logits.clone(),
                },
                &tasks[task],
                self.config.inner_steps,
                &self.config,
                &mut rng,
                &format!("meta-training iteration {t}"),
            )?;
            let epsilon = self.config.meta_step * (1.0 - t as f64 / total as f64);
            let shift = reptile::squared_distance(&self.supernet, &supernet).sqrt();
            self.supernet = reptile::interpolate(self.supernet.clone(), &supernet, epsilon);
            self.arch = reptile::interpolate(
                ArchLogits {
                    logits: self.arch.logits.clone(),
                },
                &arch,
                epsilon,
            );
            let step = MetaStep {
                iteration: t,
                task,
                loss: losses.iter().sum::<f64>() / losses.len().max(1) as f64,
                epsilon,
                shift,
                entropy: entropy(&self.probabilities()),
                seconds: start.elapsed().as_secs_f64(),
            };
            log(&step);
            self.history.push(step);
        }
        Ok(())
    }

    /// Adapts the supernet and the cell distribution to `task` with `steps` inner steps (the
    /// meta-training inner loop, seeded by `seed`), and reads off the most probable cells.
    pub fn adapt(&self, task: &Task, steps: usize, seed: u64) -> Result<Adaptation, BaseError> {
        self.adapt_with(task, steps, seed, self.config.arch_lr)
    }

    /// [`adapt`](Self::adapt) with the cell distribution's Adam learning rate at adaptation set
    /// to `arch_lr` instead of the meta-training one (a larger one moves the meta-learned prior
    /// further in the same steps; docs/base.md measures whether that changes the answer).
    pub fn adapt_with(
        &self,
        task: &Task,
        steps: usize,
        seed: u64,
        arch_lr: f64,
    ) -> Result<Adaptation, BaseError> {
        let start = Instant::now();
        let config = BaseConfig {
            arch_lr,
            ..self.config.clone()
        };
        config.validate()?;
        self.check_task(task, "new")?;
        let mut rng = ChaCha8Rng::seed_from_u64(mix(seed, 0xADA9));
        let (supernet, arch, losses) = inner_loop(
            self.supernet.clone(),
            ArchLogits {
                logits: self.arch.logits.clone(),
            },
            task,
            steps,
            &config,
            &mut rng,
            "adaptation",
        )?;
        let probabilities = edge_probabilities(&arch.values());
        let top = most_probable_cells(&probabilities, 10);
        let cell = top[0].0;
        let supernet_accuracy = accuracy(&supernet.valid(), &task.test, &cell, task.way());
        Ok(Adaptation {
            cell,
            top,
            probabilities,
            losses,
            supernet_accuracy,
            seconds: start.elapsed().as_secs_f64(),
        })
    }

    /// Writes the bundle (also the meta-training checkpoint): `base.json`, `supernet.mpk` and
    /// `arch.mpk`, each written into `<dir>/.writing/` and renamed into place.
    pub fn save(&self, dir: &Path) -> Result<(), BaseError> {
        let tmp = dir.join(".writing");
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).map_err(|e| BaseError::bundle(&tmp, e))?;
        let recorder = NamedMpkFileRecorder::<FullPrecisionSettings>::new();
        self.supernet
            .clone()
            .valid()
            .save_file(tmp.join("supernet"), &recorder)
            .map_err(|e| BaseError::bundle(&tmp, e))?;
        ArchLogits {
            logits: self.arch.logits.clone(),
        }
        .valid()
        .save_file(tmp.join("arch"), &recorder)
        .map_err(|e| BaseError::bundle(&tmp, e))?;
        let meta = BaseMeta {
            format: BASE_FORMAT.into(),
            version: BASE_VERSION,
            config: self.config.clone(),
            history: self.history.clone(),
        };
        let json = serde_json::to_string_pretty(&meta).map_err(|e| BaseError::bundle(dir, e))?;
        std::fs::write(tmp.join("base.json"), json + "\n")
            .map_err(|e| BaseError::bundle(&tmp, e))?;
        // The weights first, the description last: a folder whose base.json names N iterations
        // holds the weights of at least those.
        for name in ["supernet.mpk", "arch.mpk", "base.json"] {
            std::fs::rename(tmp.join(name), dir.join(name))
                .map_err(|e| BaseError::bundle(&dir.join(name), e))?;
        }
        std::fs::remove_dir(&tmp).map_err(|e| BaseError::bundle(&tmp, e))
    }

    /// Reads a bundle written by [`save`](Self::save); another format or version, a missing
    /// file, weights that do not fit the config, or non-finite logits are errors.
    pub fn load(dir: &Path, device: &B::Device) -> Result<Self, BaseError> {
        let path = dir.join("base.json");
        let text = std::fs::read_to_string(&path).map_err(|e| BaseError::bundle(&path, e))?;
        let meta: BaseMeta =
            serde_json::from_str(&text).map_err(|e| BaseError::bundle(&path, e))?;
        if meta.format != BASE_FORMAT || meta.version != BASE_VERSION {
            return Err(BaseError::bundle(
                &path,
                format!(
                    "format {} v{}, this build reads {BASE_FORMAT} v{BASE_VERSION}",
                    meta.format, meta.version
                ),
            ));
        }
        meta.config.validate()?;
        let recorder = NamedMpkFileRecorder::<FullPrecisionSettings>::new();
        let supernet = meta
            .config
            .supernet()
            .init::<B>(device)
            .load_file(dir.join("supernet"), &recorder, device)
            .map_err(|e| BaseError::bundle(&dir.join("supernet.mpk"), e))?;
        let arch = ArchLogits::<B>::uniform(device)
            .load_file(dir.join("arch"), &recorder, device)
            .map_err(|e| BaseError::bundle(&dir.join("arch.mpk"), e))?;
        if arch.logits.val().dims() != [NUM_EDGES, NUM_OPS]
            || arch.values().iter().any(|v| !v.is_finite())
        {
            return Err(BaseError::bundle(
                &dir.join("arch.mpk"),
                "the architecture logits are not 6 × 5 finite values",
            ));
        }
        Ok(Self {
            supernet,
            arch,
            config: meta.config,
            history: meta.history,
        })
    }

    fn check_task(&self, task: &Task, name: &str) -> Result<(), BaseError> {
        let c = &self.config;
        let err = |what: String| BaseError::Task {
            task: name.to_string(),
            what,
            resolution: c.resolution,
            max_classes: c.max_classes,
        };
        let way = task.way();
        if way < 2 || way > c.max_classes {
            return Err(err(format!("{way} classes")));
        }
        for (split, images) in [("train", &task.train), ("test", &task.test)] {
            if images.channels != 3 || images.height != c.resolution || images.width != c.resolution
            {
                return Err(err(format!(
                    "{split} images are {}×{}×{}",
                    images.channels, images.height, images.width
                )));
            }
            if images.labels.iter().any(|&l| l >= way) {
                return Err(err(format!("a {split} label is ≥ {way}")));
            }
        }
        if task.train.labels.len() < 2 || task.test.labels.is_empty() {
            return Err(err(format!(
                "{} training and {} test images (need ≥ 2 and ≥ 1)",
                task.train.labels.len(),
                task.test.labels.len()
            )));
        }
        Ok(())
    }
}

/// Entropy (nats) of the distribution over cells: the sum of the edges' entropies.
fn entropy(p: &[[f64; NUM_OPS]; NUM_EDGES]) -> f64 {
    p.iter()
        .flatten()
        .filter(|&&v| v > 0.0)
        .map(|&v| -v * v.ln())
        .sum()
}

/// Images `idx` of `images` as a `[n, c, h, w]` batch and their labels.
fn batch<B: Backend>(
    images: &Images,
    idx: &[usize],
    device: &B::Device,
) -> (Tensor<B, 4>, Tensor<B, 1, Int>) {
    let plane = images.channels * images.height * images.width;
    let mut data = Vec::with_capacity(idx.len() * plane);
    for &i in idx {
        data.extend_from_slice(&images.data[i * plane..(i + 1) * plane]);
    }
    let x = Tensor::from_data(
        TensorData::new(
            data,
            [idx.len(), images.channels, images.height, images.width],
        ),
        device,
    );
    let labels: Vec<i64> = idx.iter().map(|&i| images.labels[i] as i64).collect();
    let y = Tensor::from_data(TensorData::new(labels, [idx.len()]), device);
    (x, y)
}

/// The inner loop's result: adapted weights, adapted logits, each step's loss.
type Adapted<B> = (Nb201Supernet<B>, ArchLogits<B>, Vec<f64>);

/// `steps` inner steps of the supernet and the logits on `task`: hard or soft Gumbel samples
/// of the cell, cross-entropy over the task's first `way` outputs, SGD (momentum) on the
/// weights and Adam on the logits, fresh optimisers. Returns the adapted modules and each
/// step's loss.
fn inner_loop<B: AutodiffBackend>(
    mut supernet: Nb201Supernet<B>,
    mut arch: ArchLogits<B>,
    task: &Task,
    steps: usize,
    config: &BaseConfig,
    rng: &mut ChaCha8Rng,
    stage: &str,
) -> Result<Adapted<B>, BaseError> {
    let device = arch.logits.val().device();
    // A task's labels are arbitrary: the head starts every task at zero (uniform predictions,
    // loss ln(way)), so the first steps' gradients, also those on α, measure the body's
    // features rather than a meta-learned head's confident mistakes.
    // (`zeros_like` is a new, untracked tensor: it must be marked as a parameter again.)
    supernet.classifier.weight = supernet
        .classifier
        .weight
        .map(|w| w.zeros_like().require_grad());
    supernet.classifier.bias = supernet
        .classifier
        .bias
        .map(|b| b.map(|b| b.zeros_like().require_grad()));
    let mut weight_optim = SgdConfig::new()
        .with_momentum(Some(
            MomentumConfig::new()
                .with_momentum(config.momentum)
                .with_dampening(0.0)
                .with_nesterov(true),
        ))
        .init::<B, Nb201Supernet<B>>();
    let mut arch_optim = AdamConfig::new().init::<B, ArchLogits<B>>();
    let loss_fn = CrossEntropyLoss::new(None, &device);
    let n = task.train.labels.len();
    let size = config.batch_size.min(n);
    let way = task.way();
    let mut losses = Vec::with_capacity(steps);
    for step in 0..steps {
        let idx = sample(rng, n, size).into_vec();
        let (x, y) = batch::<B>(&task.train, &idx, &device);
        let weights = EdgeWeights::gumbel(arch.logits.val(), config.tau, config.hard, rng);
        let logits = supernet.forward(x, &weights).slice([0..size, 0..way]);
        let loss = loss_fn.forward(logits, y);
        let value: f64 = loss.clone().into_scalar().elem();
        if !value.is_finite() {
            return Err(BaseError::Diverged {
                stage: stage.to_string(),
                step,
                loss: value,
            });
        }
        losses.push(value);
        let mut grads = loss.backward();
        let weight_grads = GradientsParams::from_module(&mut grads, &supernet);
        let arch_grads = GradientsParams::from_module(&mut grads, &arch);
        supernet = weight_optim.step(config.weight_lr, supernet, weight_grads);
        arch = arch_optim.step(config.arch_lr, arch, arch_grads);
    }
    Ok((supernet, arch, losses))
}

/// Test accuracy of `cell` run with `supernet`'s shared weights, in batches of up to 256 (batch
/// statistics, as the supernet always normalises).
fn accuracy<B: Backend>(
    supernet: &Nb201Supernet<B>,
    test: &Images,
    cell: &Nb201Arch,
    way: usize,
) -> f64 {
    let device = supernet.classifier.weight.val().device();
    let weights = EdgeWeights::fixed(cell, &device);
    let n = test.labels.len();
    let order: Vec<usize> = (0..n).collect();
    let mut correct = 0usize;
    for chunk in order.chunks(256) {
        // A last batch of one image has no batch statistics: score it with its predecessor.
        let idx: Vec<usize> = if chunk.len() == 1 && n > 1 {
            vec![chunk[0] - 1, chunk[0]]
        } else {
            chunk.to_vec()
        };
        let (x, y) = batch::<B>(test, &idx, &device);
        let logits = supernet.forward(x, &weights).slice([0..idx.len(), 0..way]);
        let predicted = logits.argmax(1).reshape([idx.len()]);
        let hits: Vec<bool> = predicted
            .equal(y)
            .into_data()
            .to_vec()
            .expect("bool predictions");
        // Count only the chunk's own images (the borrowed predecessor was counted before).
        correct += hits[idx.len() - chunk.len()..]
            .iter()
            .filter(|&&h| h)
            .count();
    }
    correct as f64 / n as f64
}
