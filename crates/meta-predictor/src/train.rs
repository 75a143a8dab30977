//! Training the predictor: normalised targets, MSE, early stopping on validation Pearson r.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::{AutodiffModule, Module};
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::record::{FullPrecisionSettings, NamedMpkFileRecorder};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{ElementConversion, Tensor, TensorData};
use datasets::Features;
use graph_vae::{GraphBatch, TypedGraph};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use search_space::network::init::mix;
use serde::{Deserialize, Serialize};
use set_encoder::{draw_per_class, SetBatch};

use crate::error::{PredictorError, Result};
use crate::metrics::pearson;
use crate::model::MetaPredictor;

/// One measured run: task `task` (an index into the task list), its architecture's graph, and
/// the accuracy reached.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Example {
    /// Index of the task in the task list given with the examples.
    pub task: usize,
    /// The architecture.
    pub graph: TypedGraph,
    /// Test accuracy (any unit; targets are normalised).
    pub accuracy: f64,
}

/// `y = (accuracy − mean) / std` over the training examples (MetaD2A also divides by 100; a
/// constant factor that only rescales the loss).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Normalizer {
    /// Mean training accuracy.
    pub mean: f64,
    /// Standard deviation (unbiased) of the training accuracies.
    pub std: f64,
}

impl Normalizer {
    /// From the accuracies of `examples`.
    pub fn fit(examples: &[Example]) -> Result<Self> {
        let n = examples.len();
        if n < 2 {
            return Err(PredictorError::Data(format!(
                "{n} examples; at least 2 needed"
            )));
        }
        let mean = examples.iter().map(|e| e.accuracy).sum::<f64>() / n as f64;
        let var = examples
            .iter()
            .map(|e| (e.accuracy - mean).powi(2))
            .sum::<f64>()
            / (n - 1) as f64;
        if !(var > 0.0 && var.is_finite()) {
            return Err(PredictorError::Data("all accuracies are equal".into()));
        }
        Ok(Self {
            mean,
            std: var.sqrt(),
        })
    }

    /// Normalised value.
    pub fn forward(&self, accuracy: f64) -> f64 {
        (accuracy - self.mean) / self.std
    }

    /// Accuracy from a normalised value.
    pub fn inverse(&self, y: f64) -> f64 {
        y * self.std + self.mean
    }
}

/// How to train the predictor.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PredictorTrainConfig {
    /// Most epochs.
    pub epochs: usize,
    /// Stop after this many epochs without a better validation score ([`selection`](Self::selection)).
    pub patience: usize,
    /// The validation score that picks the epoch kept.
    pub selection: Selection,
    /// Examples per step.
    pub batch_size: usize,
    /// Adam learning rate.
    pub learning_rate: f64,
    /// Images drawn per class each time a task is encoded (MetaD2A: 20).
    pub images_per_class: usize,
    /// Seed of shuffling and image draws.
    pub seed: u64,
}

impl Default for PredictorTrainConfig {
    fn default() -> Self {
        Self {
            epochs: 60,
            patience: 15,
            selection: Selection::WithinTaskSpearman,
            batch_size: 32,
            learning_rate: 2e-4,
            images_per_class: 20,
            seed: 0,
        }
    }
}

/// The validation score that decides which epoch's weights are kept.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Selection {
    /// Pearson r over all validation examples pooled (MetaD2A's choice). Pooled over tasks it is
    /// dominated by predicting each task's accuracy level, not the order of its cells.
    Pearson,
    /// Mean over the validation tasks (those with ≥ 3 measured cells) of the Spearman
    /// correlation between predicted and measured accuracy within the task: the ranking a
    /// search needs.
    #[default]
    WithinTaskSpearman,
}

/// One epoch of training.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PredictorEpoch {
    /// Epoch number, from 0.
    pub epoch: usize,
    /// Mean squared error on normalised targets, training examples.
    pub train_mse: f64,
    /// Pearson r on the validation examples.
    pub valid_pearson: Option<f64>,
    /// Mean within-task Spearman on the validation tasks.
    #[serde(default)]
    pub valid_spearman: Option<f64>,
    /// Wall seconds (training and validation).
    pub seconds: f64,
}

/// What training returns: the best model (by validation r) and its history.
#[derive(Debug)]
pub struct Trained<B: AutodiffBackend> {
    /// The model of the best epoch.
    pub model: MetaPredictor<B>,
    /// Target normalisation.
    pub normalizer: Normalizer,
    /// Per-epoch statistics.
    pub history: Vec<PredictorEpoch>,
    /// Epoch of the kept model.
    pub best_epoch: usize,
}

fn sets<B: Backend>(
    tasks: &[Features],
    which: impl Iterator<Item = usize>,
    per_class: usize,
    rng: &mut ChaCha8Rng,
    device: &B::Device,
) -> Result<SetBatch<B>> {
    let drawn: Vec<Vec<Vec<f32>>> = which
        .map(|t| draw_per_class(&tasks[t], per_class, rng))
        .collect();
    let dim = tasks.first().map_or(0, |f| f.dim);
    Ok(SetBatch::from_classes(dim, &drawn, device)?)
}

fn check(tasks: &[Features], examples: &[Example], what: &str) -> Result<()> {
    if let Some(e) = examples.iter().find(|e| e.task >= tasks.len()) {
        return Err(PredictorError::Data(format!(
            "{what} example names task {} of {}",
            e.task,
            tasks.len()
        )));
    }
    Ok(())
}

/// Trains `model` on `train`, keeping the epoch with the best Pearson r on `valid` (the last
/// epoch when `valid` is empty). Tasks are re-drawn (`images_per_class` per class) at every use.
pub fn train<B: AutodiffBackend>(
    mut model: MetaPredictor<B>,
    tasks: &[Features],
    train: &[Example],
    valid: &[Example],
    config: &PredictorTrainConfig,
    device: &B::Device,
    mut on_epoch: impl FnMut(&PredictorEpoch),
) -> Result<Trained<B>> {
    check(tasks, train, "training")?;
    check(tasks, valid, "validation")?;
    if config.batch_size == 0 {
        return Err(PredictorError::Data("batch_size is 0".into()));
    }
    let normalizer = Normalizer::fit(train)?;
    let mut optim = AdamConfig::new().init::<B, MetaPredictor<B>>();
    let mut order: Vec<usize> = (0..train.len()).collect();
    let mut history = Vec::new();
    let mut best: Option<(f64, usize, MetaPredictor<B>)> = None;
    for epoch in 0..config.epochs {
        let start = Instant::now();
        let mut rng = ChaCha8Rng::seed_from_u64(mix(config.seed, epoch as u64));
        order.sort_unstable();
        order.shuffle(&mut rng);
        let mut sse = 0.0;
        for batch in order.chunks(config.batch_size) {
            let examples: Vec<&Example> = batch.iter().map(|&i| &train[i]).collect();
            let set = sets::<B>(
                tasks,
                examples.iter().map(|e| e.task),
                config.images_per_class,
                &mut rng,
                device,
            )?;
            let graphs: Vec<TypedGraph> = examples.iter().map(|e| e.graph.clone()).collect();
            let graphs = GraphBatch::new(
                &graphs,
                model.graph_encoder.num_types,
                model.graph_encoder.max_vertices,
                device,
            )?;
            let target: Vec<f32> = examples
                .iter()
                .map(|e| normalizer.forward(e.accuracy) as f32)
                .collect();
            let target = Tensor::<B, 1>::from_data(TensorData::new(target, [batch.len()]), device);
            let pred = model.forward(&set, &graphs)?;
            let loss = (pred - target).powi_scalar(2).sum();
            sse += loss.clone().into_scalar().elem::<f64>();
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(config.learning_rate, model, grads);
        }
        let (valid_pearson, valid_spearman) = if valid.is_empty() {
            (None, None)
        } else {
            let pred = predict_examples(
                &model.valid(),
                tasks,
                valid,
                config.images_per_class,
                1,
                mix(config.seed, 1 << 40),
                device,
            )?;
            let truth: Vec<f64> = valid.iter().map(|e| e.accuracy).collect();
            (pearson(&pred, &truth), within_task_spearman(valid, &pred))
        };
        let stats = PredictorEpoch {
            epoch,
            train_mse: sse / train.len() as f64,
            valid_pearson,
            valid_spearman,
            seconds: start.elapsed().as_secs_f64(),
        };
        on_epoch(&stats);
        history.push(stats);
        let score = match config.selection {
            Selection::Pearson => valid_pearson,
            Selection::WithinTaskSpearman => valid_spearman,
        }
        .unwrap_or(f64::NEG_INFINITY);
        let improved = match &best {
            None => true,
            Some((s, _, _)) => score > *s || valid.is_empty(),
        };
        if improved {
            best = Some((score, epoch, model.clone()));
        } else if epoch - best.as_ref().map_or(0, |b| b.1) >= config.patience {
            break;
        }
    }
    let (_, best_epoch, model) = best.ok_or_else(|| PredictorError::Data("0 epochs".into()))?;
    Ok(Trained {
        model,
        normalizer,
        history,
        best_epoch,
    })
}

/// Mean over tasks (with ≥ 3 examples) of the Spearman correlation of `pred` with the
/// examples' accuracies within the task; `None` when no task has 3 examples.
fn within_task_spearman(examples: &[Example], pred: &[f64]) -> Option<f64> {
    let mut by_task: std::collections::BTreeMap<usize, (Vec<f64>, Vec<f64>)> =
        std::collections::BTreeMap::new();
    for (e, &p) in examples.iter().zip(pred) {
        let t = by_task.entry(e.task).or_default();
        t.0.push(p);
        t.1.push(e.accuracy);
    }
    let rhos: Vec<f64> = by_task
        .values()
        .filter(|t| t.0.len() >= 3)
        .filter_map(|(p, a)| crate::metrics::spearman(p, a))
        .collect();
    (!rhos.is_empty()).then(|| rhos.iter().sum::<f64>() / rhos.len() as f64)
}

/// Normalised predictions for `examples`, each averaged over `draws` fresh image draws of its
/// task (seeded by `seed`).
pub fn predict_examples<B: Backend>(
    model: &MetaPredictor<B>,
    tasks: &[Features],
    examples: &[Example],
    per_class: usize,
    draws: usize,
    seed: u64,
    device: &B::Device,
) -> Result<Vec<f64>> {
    check(tasks, examples, "prediction")?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = vec![0.0; examples.len()];
    for chunk_start in (0..examples.len()).step_by(256) {
        let chunk = &examples[chunk_start..(chunk_start + 256).min(examples.len())];
        let graphs: Vec<TypedGraph> = chunk.iter().map(|e| e.graph.clone()).collect();
        let graphs = GraphBatch::new(
            &graphs,
            model.graph_encoder.num_types,
            model.graph_encoder.max_vertices,
            device,
        )?;
        let g = model.graph_latents(&graphs);
        for _ in 0..draws.max(1) {
            let set = sets::<B>(
                tasks,
                chunk.iter().map(|e| e.task),
                per_class,
                &mut rng,
                device,
            )?;
            let d = model.dataset_latents(&set)?;
            let p = model.score_latents(d, g.clone())?;
            let p = p
                .into_data()
                .convert::<f32>()
                .to_vec::<f32>()
                .unwrap_or_default();
            for (o, v) in out[chunk_start..].iter_mut().zip(p) {
                *o += v as f64 / draws.max(1) as f64;
            }
        }
    }
    Ok(out)
}

/// A predictor saved with its normalisation: `<path>.mpk` (weights) and `<path>.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PredictorMeta {
    /// The config the model was built with.
    pub config: crate::model::MetaPredictorConfig,
    /// Target normalisation.
    pub normalizer: Normalizer,
    /// Training history.
    pub history: Vec<PredictorEpoch>,
    /// Epoch of the saved weights.
    pub best_epoch: usize,
}

fn ckpt_err(path: &Path, e: impl std::fmt::Display) -> PredictorError {
    PredictorError::Checkpoint {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// Saves weights and metadata next to `path` (`.mpk`, `.json`), each written under a temporary
/// name and renamed into place.
pub fn save<B: Backend>(model: &MetaPredictor<B>, meta: &PredictorMeta, path: &Path) -> Result<()> {
    let recorder = NamedMpkFileRecorder::<FullPrecisionSettings>::new();
    let tmp: PathBuf = path.with_extension("tmp");
    model
        .clone()
        .save_file(tmp.clone(), &recorder)
        .map_err(|e| ckpt_err(path, e))?;
    std::fs::rename(tmp.with_extension("mpk"), path.with_extension("mpk"))
        .map_err(|e| ckpt_err(path, e))?;
    let json = serde_json::to_string_pretty(meta).map_err(|e| ckpt_err(path, e))?;
    let tmp_json = path.with_extension("json.tmp");
    std::fs::write(&tmp_json, json).map_err(|e| ckpt_err(&tmp_json, e))?;
    std::fs::rename(&tmp_json, path.with_extension("json")).map_err(|e| ckpt_err(path, e))
}

/// Loads what [`save`] wrote.
pub fn load<B: Backend>(
    path: &Path,
    device: &B::Device,
) -> Result<(MetaPredictor<B>, PredictorMeta)> {
    let json_path = path.with_extension("json");
    let text = std::fs::read_to_string(&json_path).map_err(|e| ckpt_err(&json_path, e))?;
    let meta: PredictorMeta = serde_json::from_str(&text).map_err(|e| ckpt_err(&json_path, e))?;
    let recorder = NamedMpkFileRecorder::<FullPrecisionSettings>::new();
    let model = meta
        .config
        .try_init::<B>(device)?
        .load_file(path.with_extension("mpk"), &recorder, device)
        .map_err(|e| ckpt_err(path, e))?;
    Ok((model, meta))
}
