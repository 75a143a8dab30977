//! Meta-training TANS on the zoo ([`meta_train`]) and measuring it on held-out tasks
//! ([`evaluate`]).

use std::collections::BTreeMap;
use std::time::Instant;

use burn::module::AutodiffModule;
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{ElementConversion, Int, Tensor, TensorData};
use model_zoo::stats::{mean, spearman, standard_error};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use set_encoder::{draw_per_class, SetBatch};

use super::data::TansData;
use super::error::{Result, TansError};
use super::net::{contrastive_loss, TansNet, TansNetConfig};

/// How to meta-train.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TansTrainConfig {
    /// Optimiser steps; each step sees every training task once (TANS: 10,000 steps of 140).
    pub steps: usize,
    /// Adam's learning rate (TANS: 0.01, for its linear encoders).
    pub learning_rate: f64,
    /// Margin of the hinge loss (TANS: 0.2).
    pub margin: f32,
    /// Weight of the predictor's MSE in the total loss (TANS: 1).
    pub mse_weight: f32,
    /// Images drawn per class when a task is encoded (MetaD2A: 20), afresh at every step.
    pub images_per_class: usize,
    /// Temperature (accuracy, in [0, 1]) of the positive's draw: a task's positive network is
    /// drawn from its networks with probability ∝ exp((accuracy − best) / temperature), so the
    /// task is pulled towards the networks that do well on it (0.01: a network 1 pp behind the
    /// best is drawn e⁻¹ times as often).
    pub temperature: f64,
    /// Meta-training tasks held out for validation, drawn evenly from the zoo's groups.
    pub valid_tasks: usize,
    /// Seed of the split, the draws and the order (the weights' seed is the net's).
    pub seed: u64,
}

impl Default for TansTrainConfig {
    fn default() -> Self {
        Self {
            steps: 400,
            learning_rate: 1e-3,
            margin: 0.2,
            mse_weight: 1.0,
            images_per_class: 20,
            temperature: 0.01,
            valid_tasks: 20,
            seed: 0,
        }
    }
}

impl TansTrainConfig {
    /// Checks every value, one [`TansError::Option`] per invalid one.
    pub fn check(&self) -> Result<()> {
        let bad = |name, value: String, fix| Err(TansError::Option { name, value, fix });
        if self.steps == 0 {
            return bad("steps", "0".into(), "meta-training needs at least 1 step");
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return bad(
                "learning_rate",
                self.learning_rate.to_string(),
                "a finite positive rate (TANS: 0.01; ours: 0.001)",
            );
        }
        if !(self.margin.is_finite() && self.margin >= 0.0) {
            return bad(
                "margin",
                self.margin.to_string(),
                "a finite margin ≥ 0 (TANS: 0.2)",
            );
        }
        if !(self.mse_weight.is_finite() && self.mse_weight >= 0.0) {
            return bad(
                "mse_weight",
                self.mse_weight.to_string(),
                "a finite weight ≥ 0 (TANS: 1)",
            );
        }
        if self.images_per_class == 0 {
            return bad("images_per_class", "0".into(), "at least 1 (MetaD2A: 20)");
        }
        if !(self.temperature.is_finite() && self.temperature > 0.0) {
            return bad(
                "temperature",
                self.temperature.to_string(),
                "a finite positive temperature (0.01)",
            );
        }
        Ok(())
    }
}

/// A mean over tasks with its standard error.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// The mean.
    pub mean: f64,
    /// Its standard error (sample standard deviation / √n).
    pub se: f64,
    /// Tasks it is over.
    pub n: usize,
}

impl Estimate {
    /// The mean and standard error of `x`.
    pub fn of(x: &[f64]) -> Self {
        Self {
            mean: mean(x),
            se: if x.len() > 1 {
                standard_error(x)
            } else {
                f64::NAN
            },
            n: x.len(),
        }
    }
}

impl std::fmt::Display for Estimate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.3} ± {:.3} (n = {})", self.mean, self.se, self.n)
    }
}

/// How well a TANS model retrieves each task's networks from the whole zoo, over a set of
/// tasks (its query: the mean of `draws` image draws of the task's training features).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RetrievalMetrics {
    /// Networks in the zoo searched.
    pub zoo: usize,
    /// The task's best network (stored accuracy) is the most similar of the zoo.
    pub best_at_1: Estimate,
    /// ... among the 5 most similar.
    pub best_at_5: Estimate,
    /// ... among the 10 most similar.
    pub best_at_10: Estimate,
    /// The best network is the top 1 after the 10 most similar are re-scored by the predictor.
    pub best_at_1_rescored: Estimate,
    /// The most similar network is one of the task's own.
    pub own_at_1: Estimate,
    /// The most similar network comes from the task's group (same source and interface).
    pub group_at_1: Estimate,
    /// Spearman's ρ between predicted and stored accuracy over the task's own networks.
    pub spearman: Estimate,
    /// Mean squared error of the predicted accuracy (in [0, 1]) over the task's own networks.
    pub mse: Estimate,
    /// `best_at_1`, `best_at_5`, `best_at_10` of a uniformly random ranking: k / zoo.
    pub random_best_at: [f64; 3],
    /// `own_at_1` of a random pick: mean over the tasks of (own networks) / zoo.
    pub random_own_at_1: f64,
    /// `group_at_1` of a random pick: mean over the tasks of (group's networks) / zoo.
    pub random_group_at_1: f64,
}

/// One logged point of meta-training.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainPoint {
    /// The step (from 1).
    pub step: usize,
    /// Contrastive loss of the step.
    pub contrastive: f64,
    /// Predictor MSE of the step.
    pub mse: f64,
}

/// The held-out split: `valid` tasks taken in turn from each group (shuffled within it by
/// `seed`), the rest for training; both sorted.
pub fn split_tasks(data: &TansData, valid: usize, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut groups: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (t, task) in data.tasks.iter().enumerate() {
        groups.entry(&task.group).or_default().push(t);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5a11);
    let mut lists: Vec<Vec<usize>> = groups.into_values().collect();
    for l in &mut lists {
        l.shuffle(&mut rng);
    }
    let mut held = Vec::new();
    let mut round = 0;
    while held.len() < valid.min(data.tasks.len()) {
        for l in &lists {
            if held.len() < valid && round < l.len() {
                held.push(l[round]);
            }
        }
        round += 1;
    }
    held.sort_unstable();
    let train = (0..data.tasks.len())
        .filter(|t| !held.contains(t))
        .collect();
    (train, held)
}

fn int_tensor<B: Backend>(v: &[usize], device: &B::Device) -> Tensor<B, 1, Int> {
    Tensor::from_data(
        TensorData::new(v.iter().map(|&i| i as i64).collect::<Vec<_>>(), [v.len()]),
        device,
    )
}

fn model_inputs<B: Backend>(data: &TansData, models: &[usize], device: &B::Device) -> Tensor<B, 2> {
    let d = data.models[0].input.len();
    let flat: Vec<f32> = models
        .iter()
        .flat_map(|&m| data.models[m].input.iter().copied())
        .collect();
    Tensor::from_data(TensorData::new(flat, [models.len(), d]), device)
}

/// Meta-trains a [`TansNet`] of `config` on the tasks `train` of `data` (on autodiff backend
/// `A`): each step encodes every training task from a fresh image draw, draws its positive
/// network ([`TansTrainConfig::temperature`]), and minimises the hinge loss against the other
/// tasks' positives plus the predictor's MSE over every network of the training tasks.
/// Returns the inference network and the logged losses (every 25 steps and the last).
pub fn meta_train<A: AutodiffBackend>(
    data: &TansData,
    train: &[usize],
    net: &TansNetConfig,
    config: &TansTrainConfig,
    device: &A::Device,
    mut log: impl FnMut(&str),
) -> Result<(TansNet<A::InnerBackend>, Vec<TrainPoint>)> {
    config.check()?;
    if train.len() < 2 {
        return Err(TansError::Data(format!(
            "meta-training needs at least 2 training tasks, the split leaves {}: hold out fewer \
             (valid_tasks) or give a larger zoo",
            train.len()
        )));
    }
    if net.feature_dim != data.feature_dim || net.functional_dim != data.functional_dim {
        return Err(TansError::Data(format!(
            "the net is configured for features of width {} and functional embeddings of width \
             {}, the data has {} and {}",
            net.feature_dim, net.functional_dim, data.feature_dim, data.functional_dim
        )));
    }
    let mut model = net.try_init::<A>(device)?;
    let mut optim = AdamConfig::new().init::<A, TansNet<A>>();
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    // Every network of the training tasks, and for each its task's row in the batch.
    let models: Vec<usize> = train
        .iter()
        .flat_map(|&t| data.tasks[t].models.iter().copied())
        .collect();
    let row_of_task: Vec<usize> = models
        .iter()
        .map(|&m| {
            train
                .iter()
                .position(|&t| t == data.models[m].task)
                .unwrap_or(0)
        })
        .collect();
    let inputs = model_inputs::<A>(data, &models, device);
    let rows = int_tensor::<A>(&row_of_task, device);
    let accuracy = Tensor::<A, 1>::from_data(
        TensorData::new(
            models
                .iter()
                .map(|&m| data.models[m].accuracy as f32)
                .collect::<Vec<_>>(),
            [models.len()],
        ),
        device,
    );
    let mut history = Vec::new();
    let start = Instant::now();
    for step in 1..=config.steps {
        let sets: Vec<Vec<Vec<f32>>> = train
            .iter()
            .map(|&t| draw_per_class(&data.tasks[t].features, config.images_per_class, &mut rng))
            .collect();
        let positives: Vec<usize> = train
            .iter()
            .map(|&t| {
                let own = &data.tasks[t].models;
                let best = own
                    .iter()
                    .map(|&m| data.models[m].accuracy)
                    .fold(f64::NEG_INFINITY, f64::max);
                let weights: Vec<f64> = own
                    .iter()
                    .map(|&m| ((data.models[m].accuracy - best) / config.temperature).exp())
                    .collect();
                let mut u = rng.random::<f64>() * weights.iter().sum::<f64>();
                let mut pick = own.len() - 1;
                for (i, w) in weights.iter().enumerate() {
                    if u < *w {
                        pick = i;
                        break;
                    }
                    u -= w;
                }
                models.iter().position(|&m| m == own[pick]).unwrap_or(0)
            })
            .collect();
        let tasks = SetBatch::from_classes(data.feature_dim, &sets, device)?;
        let q = model.encode_query(&tasks)?;
        let m = model.encode_model(inputs.clone());
        let contrastive = contrastive_loss(
            q.clone(),
            m.clone().select(0, int_tensor::<A>(&positives, device)),
            config.margin,
        );
        let predicted = model.predict(q.select(0, rows.clone()), m);
        let mse = (predicted - accuracy.clone()).powf_scalar(2.0).mean();
        let loss = contrastive.clone() + mse.clone().mul_scalar(config.mse_weight);
        let (c, e): (f32, f32) = (contrastive.into_scalar().elem(), mse.into_scalar().elem());
        if !(c.is_finite() && e.is_finite()) {
            return Err(TansError::Data(format!(
                "meta-training diverged at step {step} (loss not finite): lower learning_rate"
            )));
        }
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(config.learning_rate, model, grads);
        if step.is_multiple_of(25) || step == config.steps {
            let point = TrainPoint {
                step,
                contrastive: f64::from(c),
                mse: f64::from(e),
            };
            log(&format!(
                "step {:4}  contrastive {:.4}  mse {:.5}  {:.0} s",
                step,
                point.contrastive,
                point.mse,
                start.elapsed().as_secs_f64()
            ));
            history.push(point);
        }
    }
    Ok((model.valid(), history))
}

/// The query embedding of a task: the mean of the embeddings of `draws` image draws of
/// `images_per_class` per class (seeded by `seed`), scaled back to unit norm.
pub fn query_embedding<B: Backend>(
    net: &TansNet<B>,
    features: &datasets::Features,
    images_per_class: usize,
    draws: usize,
    seed: u64,
) -> Result<Vec<f32>> {
    let device = net.model_in.weight.device();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let sets: Vec<Vec<Vec<f32>>> = (0..draws.max(1))
        .map(|_| draw_per_class(features, images_per_class, &mut rng))
        .collect();
    let q = net.encode_query(&SetBatch::from_classes(features.dim, &sets, &device)?)?;
    let q: Vec<f32> = q
        .mean_dim(0)
        .into_data()
        .to_vec()
        .map_err(|e| TansError::Data(format!("reading a query embedding: {e:?}")))?;
    let norm = q.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
    Ok(q.iter().map(|v| v / norm).collect())
}

/// The model embeddings of every network of `data` (`[models, latent]`, row-major).
pub fn model_embeddings<B: Backend>(net: &TansNet<B>, data: &TansData) -> Result<Vec<f32>> {
    let device = net.model_in.weight.device();
    let all: Vec<usize> = (0..data.models.len()).collect();
    net.encode_model(model_inputs::<B>(data, &all, &device))
        .into_data()
        .to_vec()
        .map_err(|e| TansError::Data(format!("reading model embeddings: {e:?}")))
}

/// The predicted accuracy of each model embedding of `models` (`[n, latent]`, row-major) for
/// query `q`.
pub fn predict_rows<B: Backend>(net: &TansNet<B>, q: &[f32], models: &[f32]) -> Result<Vec<f64>> {
    let device = net.model_in.weight.device();
    let l = q.len();
    let n = models.len() / l.max(1);
    let qs: Vec<f32> = (0..n).flat_map(|_| q.iter().copied()).collect();
    let p: Vec<f32> = net
        .predict(
            Tensor::from_data(TensorData::new(qs, [n, l]), &device),
            Tensor::from_data(TensorData::new(models.to_vec(), [n, l]), &device),
        )
        .into_data()
        .to_vec()
        .map_err(|e| TansError::Data(format!("reading predictions: {e:?}")))?;
    Ok(p.into_iter().map(f64::from).collect())
}

/// How retrieval went for one task (see [`RetrievalMetrics`] for the fields' meaning).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskOutcome {
    /// Index of the task in [`TansData::tasks`].
    pub task: usize,
    /// Rank (from 0) of the task's best network among the whole zoo by similarity.
    pub best_rank: usize,
    /// The best network is the top 1 after re-scoring the 10 most similar.
    pub rescored_best: bool,
    /// The most similar network is one of the task's own.
    pub own_at_1: bool,
    /// The most similar network comes from the task's group.
    pub group_at_1: bool,
    /// Spearman's ρ of predicted against stored accuracy over the task's networks.
    pub spearman: Option<f64>,
    /// Mean squared error of the predictions over the task's networks.
    pub mse: f64,
    /// The task's networks / zoo.
    pub own_share: f64,
    /// Its group's networks / zoo.
    pub group_share: f64,
}

impl RetrievalMetrics {
    /// The metrics over `outcomes` (for a zoo of `zoo` networks).
    pub fn from_outcomes(outcomes: &[TaskOutcome], zoo: usize) -> Self {
        let e = |f: &dyn Fn(&TaskOutcome) -> bool| {
            Estimate::of(
                &outcomes
                    .iter()
                    .map(|o| if f(o) { 1.0 } else { 0.0 })
                    .collect::<Vec<_>>(),
            )
        };
        let rho: Vec<f64> = outcomes.iter().filter_map(|o| o.spearman).collect();
        let mse: Vec<f64> = outcomes.iter().map(|o| o.mse).collect();
        let own: Vec<f64> = outcomes.iter().map(|o| o.own_share).collect();
        let group: Vec<f64> = outcomes.iter().map(|o| o.group_share).collect();
        Self {
            zoo,
            best_at_1: e(&|o| o.best_rank < 1),
            best_at_5: e(&|o| o.best_rank < 5),
            best_at_10: e(&|o| o.best_rank < 10),
            best_at_1_rescored: e(&|o| o.rescored_best),
            own_at_1: e(&|o| o.own_at_1),
            group_at_1: e(&|o| o.group_at_1),
            spearman: Estimate::of(&rho),
            mse: Estimate::of(&mse),
            random_best_at: [1.0, 5.0, 10.0].map(|k: f64| k.min(zoo as f64) / zoo.max(1) as f64),
            random_own_at_1: mean(&own),
            random_group_at_1: mean(&group),
        }
    }
}

/// [`RetrievalMetrics`] of `net` on `tasks` of `data`, retrieving from all of `data`'s networks
/// (queries: `draws` draws of `images_per_class` per class, seeded by `seed`).
pub fn evaluate<B: Backend>(
    net: &TansNet<B>,
    data: &TansData,
    tasks: &[usize],
    images_per_class: usize,
    draws: usize,
    seed: u64,
) -> Result<RetrievalMetrics> {
    let outcomes = evaluate_tasks(net, data, tasks, images_per_class, draws, seed)?;
    Ok(RetrievalMetrics::from_outcomes(
        &outcomes,
        data.models.len(),
    ))
}

/// One [`TaskOutcome`] per task of `tasks` (see [`evaluate`]).
pub fn evaluate_tasks<B: Backend>(
    net: &TansNet<B>,
    data: &TansData,
    tasks: &[usize],
    images_per_class: usize,
    draws: usize,
    seed: u64,
) -> Result<Vec<TaskOutcome>> {
    let n = data.models.len();
    let l = net.latent_dim();
    let embeddings = model_embeddings(net, data)?;
    let mut groups: BTreeMap<&str, usize> = BTreeMap::new();
    for m in &data.models {
        *groups.entry(&data.tasks[m.task].group).or_default() += 1;
    }
    let mut outcomes = Vec::with_capacity(tasks.len());
    for &t in tasks {
        let task = &data.tasks[t];
        let q = query_embedding(
            net,
            &task.features,
            images_per_class,
            draws,
            seed ^ t as u64,
        )?;
        let sims: Vec<f32> = embeddings
            .chunks_exact(l)
            .map(|row| row.iter().zip(&q).map(|(a, b)| a * b).sum())
            .collect();
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| sims[b].total_cmp(&sims[a]).then(a.cmp(&b)));
        let best = *task
            .models
            .iter()
            .max_by(|&&a, &&b| data.models[a].accuracy.total_cmp(&data.models[b].accuracy))
            .unwrap_or(&0);
        let top10: Vec<f32> = order[..10.min(n)]
            .iter()
            .flat_map(|&m| embeddings[m * l..(m + 1) * l].iter().copied())
            .collect();
        let p10 = predict_rows(net, &q, &top10)?;
        let rescored = (0..p10.len())
            .max_by(|&a, &b| p10[a].total_cmp(&p10[b]).then(b.cmp(&a)))
            .map(|i| order[i]);
        let top = order[0];
        let own: Vec<f32> = task
            .models
            .iter()
            .flat_map(|&m| embeddings[m * l..(m + 1) * l].iter().copied())
            .collect();
        let predicted = predict_rows(net, &q, &own)?;
        let truth: Vec<f64> = task
            .models
            .iter()
            .map(|&m| data.models[m].accuracy)
            .collect();
        outcomes.push(TaskOutcome {
            task: t,
            best_rank: order.iter().position(|&m| m == best).unwrap_or(n),
            rescored_best: rescored == Some(best),
            own_at_1: data.models[top].task == t,
            group_at_1: data.tasks[data.models[top].task].group == task.group,
            spearman: spearman(&predicted, &truth),
            mse: mean(
                &predicted
                    .iter()
                    .zip(&truth)
                    .map(|(p, t)| (p - t).powi(2))
                    .collect::<Vec<_>>(),
            ),
            own_share: task.models.len() as f64 / n as f64,
            group_share: groups[task.group.as_str()] as f64 / n as f64,
        });
    }
    Ok(outcomes)
}

/// `k` folds of the tasks for cross-validation: each group's tasks, shuffled by `seed`, dealt
/// in turn to the folds (so every fold holds every group); each fold sorted.
pub fn task_folds(data: &TansData, k: usize, seed: u64) -> Vec<Vec<usize>> {
    let mut groups: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (t, task) in data.tasks.iter().enumerate() {
        groups.entry(&task.group).or_default().push(t);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xf01d);
    let mut folds = vec![Vec::new(); k.max(1)];
    let count = folds.len();
    let mut next = 0;
    for mut list in groups.into_values() {
        list.shuffle(&mut rng);
        for t in list {
            folds[next % count].push(t);
            next += 1;
        }
    }
    for f in &mut folds {
        f.sort_unstable();
    }
    folds
}
