//! Fine-tuning a retrieved zoo network on the query task: load it ([`Zoo::load`]), replace its
//! classifier by a fresh one for the task's classes, train it for a given number of optimiser
//! steps with the zoo's own training loop ([`model_zoo::fine_tune`]) and test it.

use std::time::Instant;

use burn::tensor::backend::AutodiffBackend;
use datasets::{DataPaths, Task, TaskSpec};
use model_zoo::zoo::{Zoo, ZooEntry};
use model_zoo::EpochMetrics;
use search_space::network::init::{linear, mix};
use search_space::Nb201Network;
use serde::Serialize;

use super::error::{Result, TansError};

/// How to fine-tune.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FineTuneOptions {
    /// Optimiser steps (at least 1).
    pub steps: usize,
    /// Peak learning rate of the cosine schedule; `None`: the zoo network's own protocol's
    /// (0.1 for the shipped zoo).
    pub lr: Option<f64>,
    /// Seed of the new classifier and the batch order.
    pub seed: u64,
}

impl Default for FineTuneOptions {
    fn default() -> Self {
        Self {
            steps: 50,
            lr: None,
            seed: 0,
        }
    }
}

/// A fine-tuned zoo network's results.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FineTuneResult {
    /// The zoo entry it started from.
    pub entry: usize,
    /// Its group, cell and seed.
    pub describe: String,
    /// Optimiser steps taken.
    pub steps: usize,
    /// Test accuracy on the task's test split (`None` if the run diverged).
    pub test_accuracy: Option<f64>,
    /// Test loss.
    pub test_loss: Option<f64>,
    /// Per-epoch metrics.
    pub epochs: Vec<EpochMetrics>,
    /// Wall seconds (loading, training, testing).
    pub seconds: f64,
}

/// `spec` rebuilt for `entry`'s network: its resolution and input channels (the images are
/// converted and resized by `Task::build`), everything else as given.
pub fn spec_for(entry: &ZooEntry, spec: &TaskSpec) -> TaskSpec {
    spec.clone()
        .with_resolution(entry.protocol.resolution)
        .with_channels(entry.task.channels)
}

/// [`spec_for`], built from `paths`.
pub fn task_for(entry: &ZooEntry, spec: &TaskSpec, paths: &DataPaths) -> Result<Task> {
    Ok(Task::build(&spec_for(entry, spec), paths)?)
}

/// Fine-tunes zoo network `entry` of `zoo` on `task` (on autodiff backend `A`): its classifier
/// is replaced by a fresh one for the task's classes (seeded), then every weight trains for
/// `options.steps` steps under the entry's protocol (SGD, Nesterov momentum, weight decay,
/// cosine schedule over the steps, batch-norm recalibration before testing), with
/// `options.lr` as peak rate if given. The task must have the network's resolution and
/// channels ([`task_for`] builds it so). Returns the results and the fine-tuned network.
pub fn fine_tune<A: AutodiffBackend>(
    zoo: &Zoo,
    entry: usize,
    task: &Task,
    options: &FineTuneOptions,
    device: &A::Device,
) -> Result<(FineTuneResult, Option<Nb201Network<A::InnerBackend>>)> {
    let start = Instant::now();
    let e = zoo.entries().get(entry).ok_or_else(|| {
        TansError::Data(format!(
            "zoo entry {entry} does not exist: the zoo has {} networks",
            zoo.entries().len()
        ))
    })?;
    if options.steps == 0 {
        return Err(TansError::Option {
            name: "steps",
            value: "0".into(),
            fix: "fine-tuning takes at least 1 optimiser step",
        });
    }
    let mut recipe = e.protocol.recipe();
    if let Some(lr) = options.lr {
        if !(lr.is_finite() && lr > 0.0) {
            return Err(TansError::Option {
                name: "lr",
                value: lr.to_string(),
                fix: "a finite positive learning rate",
            });
        }
        recipe.lr = lr;
    }
    let (channels, side) = (task.train.channels, task.train.height);
    if channels != e.task.channels || side != e.protocol.resolution {
        return Err(TansError::Data(format!(
            "the task's images are {channels} channel(s) at {side} px, zoo network {} takes {} \
             at {} px: build the task with tans::task_for",
            e.describe(),
            e.task.channels,
            e.protocol.resolution
        )));
    }
    let mut network = zoo.load::<A>(e, device)?;
    let features = network.classifier.weight.dims()[0];
    network.classifier = linear(
        features,
        task.way(),
        true,
        mix(options.seed, 0x0c1a_55e7),
        device,
    );
    let tuned =
        model_zoo::fine_tune::<A>(network, task, &recipe, options.steps, options.seed, device)?;
    Ok((
        FineTuneResult {
            entry,
            describe: e.describe(),
            steps: options.steps,
            test_accuracy: tuned.test_accuracy,
            test_loss: tuned.test_loss,
            epochs: tuned.epochs,
            seconds: start.elapsed().as_secs_f64(),
        },
        tuned.network,
    ))
}
