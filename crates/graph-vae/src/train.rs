//! Training loops for the VAE and the conditional generator: seeded, checkpointed, resumable.
//!
//! Every epoch's shuffling and noise come from a stream derived from `(seed, epoch)`, so a run
//! resumed from the checkpoint of epoch `k` continues exactly as the uninterrupted run would.
//! A checkpoint is a directory `epoch-NNNNN/` (model, optimizer state, history) written under a
//! temporary name and renamed when complete; the file `latest` (also renamed into place) names
//! the newest one. A kill at any moment leaves the previous checkpoint usable.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::AutodiffModule;
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::record::{FullPrecisionSettings, NamedMpkFileRecorder, Recorder};
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::Tensor;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use search_space::network::init::mix;
use serde::{Deserialize, Serialize};

use crate::error::{GraphVaeError, Result};
use crate::vae::VaeLoss;

/// How to train.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Passes over the training items.
    pub epochs: usize,
    /// Items per step.
    pub batch_size: usize,
    /// Adam learning rate.
    pub learning_rate: f64,
    /// Weight of the KL term (MetaD2A: 0.005).
    pub beta: f64,
    /// Scale of the reparameterisation noise `z = μ + scale·ε·σ` (D-VAE's and MetaD2A's code
    /// both use 0.01).
    pub noise_scale: f32,
    /// Seed of shuffling and noise.
    pub seed: u64,
    /// Where checkpoints go (none: no checkpoints, no resume).
    pub checkpoint_dir: Option<PathBuf>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 100,
            batch_size: 64,
            learning_rate: 1e-3,
            beta: 0.005,
            noise_scale: 0.01,
            seed: 0,
            checkpoint_dir: None,
        }
    }
}

/// Losses of one epoch, averaged per item.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochStats {
    /// Epoch number, from 0.
    pub epoch: usize,
    /// Mean `reconstruction + β·KL` per item.
    pub loss: f64,
    /// Mean type NLL per item.
    pub types: f64,
    /// Mean edge BCE per item.
    pub edges: f64,
    /// Mean KL per item.
    pub kl: f64,
    /// Wall seconds.
    pub seconds: f64,
}

#[derive(Serialize, Deserialize)]
struct CheckpointState {
    epoch: usize,
    history: Vec<EpochStats>,
}

fn ckpt_err(path: &Path, e: impl std::fmt::Display) -> GraphVaeError {
    GraphVaeError::Checkpoint {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// Runs `step` over shuffled batches of `0..items` for the configured epochs with Adam, resuming
/// from the newest checkpoint in `config.checkpoint_dir` if there is one. `step` gets the model,
/// the batch's item indices and the epoch's random stream and returns the batch's summed loss;
/// `on_epoch` sees each finished epoch's statistics (after its checkpoint is written).
pub fn fit<B, M, F, P>(
    mut model: M,
    items: usize,
    config: &TrainConfig,
    device: &B::Device,
    mut step: F,
    mut on_epoch: P,
) -> Result<(M, Vec<EpochStats>)>
where
    B: AutodiffBackend,
    M: AutodiffModule<B>,
    F: FnMut(&M, &[usize], &mut ChaCha8Rng) -> Result<VaeLoss<B>>,
    P: FnMut(&EpochStats),
{
    if items == 0 {
        return Err(GraphVaeError::Data("no training items".into()));
    }
    if config.batch_size == 0 {
        return Err(GraphVaeError::Data("batch_size is 0".into()));
    }
    let recorder = NamedMpkFileRecorder::<FullPrecisionSettings>::new();
    let mut optim = AdamConfig::new().init::<B, M>();
    let mut history = Vec::new();
    let mut first_epoch = 0;
    if let Some(dir) = &config.checkpoint_dir {
        if let Some(ckpt) = latest_checkpoint(dir)? {
            model = model
                .load_file(ckpt.join("model"), &recorder, device)
                .map_err(|e| ckpt_err(&ckpt, e))?;
            let record = recorder
                .load(ckpt.join("optim"), device)
                .map_err(|e| ckpt_err(&ckpt, e))?;
            optim = optim.load_record(record);
            let state: CheckpointState = read_json(&ckpt.join("state.json"))?;
            first_epoch = state.epoch + 1;
            history = state.history;
        }
    }
    let mut order: Vec<usize> = (0..items).collect();
    for epoch in first_epoch..config.epochs {
        let start = Instant::now();
        let mut rng = ChaCha8Rng::seed_from_u64(mix(config.seed, epoch as u64));
        order.sort_unstable();
        order.shuffle(&mut rng);
        let (mut sum, mut types, mut edges, mut kl) = (0f64, 0f64, 0f64, 0f64);
        for batch in order.chunks(config.batch_size) {
            let loss = step(&model, batch, &mut rng)?;
            let total = loss.total(config.beta);
            let parts: Tensor<B, 1> = Tensor::cat(
                vec![
                    total.clone().detach(),
                    loss.reconstruction.types.clone().detach(),
                    loss.reconstruction.edges.clone().detach(),
                    loss.kl.clone().detach(),
                ],
                0,
            );
            let grads = GradientsParams::from_grads(total.backward(), &model);
            model = optim.step(config.learning_rate, model, grads);
            let p = parts
                .into_data()
                .convert::<f32>()
                .to_vec::<f32>()
                .unwrap_or_default();
            if !p.iter().all(|v| v.is_finite()) {
                return Err(GraphVaeError::Diverged { epoch });
            }
            if let [a, b, c, d] = p[..] {
                sum += a as f64;
                types += b as f64;
                edges += c as f64;
                kl += d as f64;
            }
        }
        let n = items as f64;
        history.push(EpochStats {
            epoch,
            loss: sum / n,
            types: types / n,
            edges: edges / n,
            kl: kl / n,
            seconds: start.elapsed().as_secs_f64(),
        });
        if let Some(dir) = &config.checkpoint_dir {
            save_checkpoint(dir, epoch, &model, &optim, &history, &recorder)?;
        }
        on_epoch(history.last().expect("just pushed"));
    }
    Ok((model, history))
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| ckpt_err(path, e))?;
    serde_json::from_str(&text).map_err(|e| ckpt_err(path, e))
}

/// The newest complete checkpoint directory under `dir`, if any.
pub fn latest_checkpoint(dir: &Path) -> Result<Option<PathBuf>> {
    let pointer = dir.join("latest");
    match std::fs::read_to_string(&pointer) {
        Ok(name) => {
            let path = dir.join(name.trim());
            if path.is_dir() {
                Ok(Some(path))
            } else {
                Err(ckpt_err(
                    &pointer,
                    format!("names {}, which is missing", path.display()),
                ))
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ckpt_err(&pointer, e)),
    }
}

fn save_checkpoint<B, M, O>(
    dir: &Path,
    epoch: usize,
    model: &M,
    optim: &O,
    history: &[EpochStats],
    recorder: &NamedMpkFileRecorder<FullPrecisionSettings>,
) -> Result<()>
where
    B: AutodiffBackend,
    M: AutodiffModule<B>,
    O: Optimizer<M, B>,
{
    let name = format!("epoch-{epoch:05}");
    let tmp = dir.join(format!("{name}.tmp"));
    let done = dir.join(&name);
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| ckpt_err(&tmp, e))?;
    model
        .clone()
        .save_file(tmp.join("model"), recorder)
        .map_err(|e| ckpt_err(&tmp, e))?;
    recorder
        .record(optim.to_record(), tmp.join("optim"))
        .map_err(|e| ckpt_err(&tmp, e))?;
    let state = CheckpointState {
        epoch,
        history: history.to_vec(),
    };
    let json = serde_json::to_string_pretty(&state).map_err(|e| ckpt_err(&tmp, e))?;
    std::fs::write(tmp.join("state.json"), json).map_err(|e| ckpt_err(&tmp, e))?;
    let _ = std::fs::remove_dir_all(&done);
    std::fs::rename(&tmp, &done).map_err(|e| ckpt_err(&done, e))?;
    let pointer_tmp = dir.join("latest.tmp");
    std::fs::write(&pointer_tmp, &name).map_err(|e| ckpt_err(&pointer_tmp, e))?;
    std::fs::rename(&pointer_tmp, dir.join("latest")).map_err(|e| ckpt_err(dir, e))?;
    // Older checkpoints are no longer needed.
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let file = entry.file_name();
            let file = file.to_string_lossy();
            if file.starts_with("epoch-") && *file != name && !file.ends_with(".tmp") {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    Ok(())
}
