//! The training loop.

use std::f64::consts::PI;
use std::time::Instant;

use burn::module::{AutodiffModule, Module};
use burn::nn::loss::CrossEntropyLoss;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{GradientsParams, Optimizer, SgdConfig};
use burn::record::{BinBytesRecorder, FullPrecisionSettings, Recorder};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{ElementConversion, Int, Tensor};
use datasets::Task;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use search_space::{cost, Nb201Arch, Nb201Network, Nb201NetworkConfig};

use crate::data::{check_split, shuffle, DeviceImages};
use crate::error::TrainError;
use crate::protocol::{Protocol, ProtocolError, Recipe};
use crate::result::{EpochMetrics, RunResult, RunStatus};

/// A network the protocol trainer can train: built from a configuration and a seed, it maps
/// images to class logits and can recalibrate its batch norms. NB201's [`Nb201Network`] and
/// MobileNetV3's [`Mbv3Network`](search_space::mbv3::Mbv3Network) implement it, so both spaces
/// train through one loop ([`train_network`]); the parameter count is
/// [`Module::num_params`].
pub(crate) trait TrainableNetwork<B: Backend>: Module<B> {
    /// Everything that determines the network but the seed.
    type Config;

    /// The network `config` describes, with initial weights drawn from `seed`.
    fn build(config: &Self::Config, seed: u64, device: &B::Device) -> Self;

    /// Class logits: `images [batch, channels, side, side]` → `[batch, classes]`. Batch norm
    /// uses batch statistics on an autodiff backend, running statistics otherwise.
    fn logits(&self, images: Tensor<B, 4>) -> Tensor<B, 2>;

    /// Resets every batch norm's running statistics to their average over `batches` (each of
    /// at least two images); returns the number of batches seen.
    fn recalibrate_bn(&self, batches: &mut dyn Iterator<Item = Tensor<B, 4>>) -> usize;
}

impl<B: Backend> TrainableNetwork<B> for Nb201Network<B> {
    type Config = Nb201NetworkConfig;

    fn build(config: &Nb201NetworkConfig, seed: u64, device: &B::Device) -> Self {
        config.clone().with_seed(seed).init(device)
    }

    fn logits(&self, images: Tensor<B, 4>) -> Tensor<B, 2> {
        self.forward(images)
    }

    fn recalibrate_bn(&self, batches: &mut dyn Iterator<Item = Tensor<B, 4>>) -> usize {
        Nb201Network::recalibrate_bn(self, batches)
    }
}

/// Checks a task against a protocol's resolution; returns its number of classes and channels.
pub(crate) fn check_task(task: &Task, resolution: usize) -> Result<(usize, usize), TrainError> {
    let way = task.way();
    if way == 0 {
        return Err(TrainError::NoClasses);
    }
    check_split(&task.train, "train", resolution, way, 2)?;
    check_split(&task.test, "test", resolution, way, 1)?;
    let channels = task.train.channels;
    if task.test.channels != channels {
        return Err(TrainError::ChannelMismatch {
            train: channels,
            test: task.test.channels,
        });
    }
    Ok((way, channels))
}

/// What the shared loop returns: the finished epochs' metrics, how the run ended, and the
/// tested inference model (`None` if the run diverged).
pub(crate) struct Trained<M> {
    pub epochs: Vec<EpochMetrics>,
    pub status: RunStatus,
    pub model: Option<M>,
}

impl<M> Trained<M> {
    /// Test accuracy and loss after the last epoch, when the run finished.
    pub fn final_test(&self) -> (Option<f64>, Option<f64>) {
        match (self.status, self.epochs.last()) {
            (RunStatus::Ok, Some(last)) => (last.test_accuracy, last.test_loss),
            _ => (None, None),
        }
    }
}

/// What the training loop reports while it runs, to the observer of [`train_observed`] (a
/// front end draws a progress bar from it). Every event is also a `tracing` event of target
/// `model_zoo::train`: epochs at `debug`, steps at `trace`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TrainEvent<'a> {
    /// Training starts: `total_steps` optimiser steps over `epochs` epochs.
    Start {
        /// Optimiser steps of the whole run.
        total_steps: usize,
        /// Epochs of the whole run.
        epochs: usize,
    },
    /// Optimiser step `step` (from 0) finished with this training-batch loss.
    Step {
        /// The step's index.
        step: usize,
        /// Its batch's cross-entropy.
        loss: f64,
    },
    /// Epoch `epoch` (from 0) finished.
    Epoch {
        /// The epoch's index.
        epoch: usize,
        /// Its metrics (test metrics when the epoch was tested).
        metrics: &'a EpochMetrics,
    },
}

/// An observer that ignores every event.
pub(crate) fn ignore(_: TrainEvent<'_>) {}

/// The one training loop: builds the network `config` describes with `seed`, trains it on the
/// (checked) `task` under `recipe` and tests it, telling `observer` as it goes. Deterministic
/// for a seed on the flex backend.
pub(crate) fn train_network<B, M>(
    config: &M::Config,
    task: &Task,
    recipe: &Recipe,
    seed: u64,
    device: &B::Device,
    observer: &mut dyn FnMut(TrainEvent<'_>),
) -> Trained<M::InnerModule>
where
    B: AutodiffBackend,
    M: TrainableNetwork<B> + AutodiffModule<B>,
    M::InnerModule: TrainableNetwork<B::InnerBackend>,
{
    let model = M::build(config, seed, device);
    let train_set = DeviceImages::<B::InnerBackend>::upload(&task.train, device);
    let test_set = DeviceImages::<B::InnerBackend>::upload(&task.test, device);
    let (epochs, status, model) = run_epochs(
        model, &train_set, &test_set, recipe, seed, None, device, observer,
    );
    Trained {
        epochs,
        status,
        model,
    }
}

/// Trains `arch` on `task` under `protocol` with `seed`, on backend `B` and `device`, and
/// evaluates it on the task's test split.
///
/// The seed fixes the initial weights (see [`search_space::network`]) and the batch order; on
/// the flex CPU backend the same seed gives the same result bit for bit. Inputs are checked
/// first ([`TrainError`]); once training starts the run always returns a [`RunResult`], with
/// [`RunStatus::Diverged`] if the loss stops being finite. Progress goes to `tracing` (target
/// `model_zoo::train`); [`train_observed`] also hands it to a callback.
pub fn train<B: AutodiffBackend>(
    arch: Nb201Arch,
    task: &Task,
    protocol: &Protocol,
    seed: u64,
    device: &B::Device,
) -> Result<RunResult, TrainError> {
    train_observed::<B>(arch, task, protocol, seed, device, &mut ignore)
}

/// [`train`], telling `observer` about every step and epoch as it happens ([`TrainEvent`]),
/// e.g. to draw a progress bar.
pub fn train_observed<B: AutodiffBackend>(
    arch: Nb201Arch,
    task: &Task,
    protocol: &Protocol,
    seed: u64,
    device: &B::Device,
    observer: &mut dyn FnMut(TrainEvent<'_>),
) -> Result<RunResult, TrainError> {
    train_model::<B>(arch, task, protocol, seed, device, observer).map(|(result, _)| result)
}

/// [`train`], also returning the trained network's weights as a Burn record (full precision,
/// `BinBytesRecorder`), exactly the inference model that was tested (BN statistics included);
/// `None` when the run diverged. `Nb201Network::load_record` reads them back.
pub fn train_with_weights<B: AutodiffBackend>(
    arch: Nb201Arch,
    task: &Task,
    protocol: &Protocol,
    seed: u64,
    device: &B::Device,
) -> Result<(RunResult, Option<Vec<u8>>), TrainError> {
    let (result, model) = train_model::<B>(arch, task, protocol, seed, device, &mut ignore)?;
    Ok((result, model.map(weight_bytes).transpose()?))
}

/// [`train`], also returning the tested inference network itself (BN statistics included;
/// `None` when the run diverged): what [`train_with_weights`] serialises, for a caller that keeps
/// it in another form (the [zoo](crate::zoo) stores it in half precision).
#[allow(clippy::type_complexity)]
pub fn train_with_network<B: AutodiffBackend>(
    arch: Nb201Arch,
    task: &Task,
    protocol: &Protocol,
    seed: u64,
    device: &B::Device,
) -> Result<(RunResult, Option<Nb201Network<B::InnerBackend>>), TrainError> {
    train_model::<B>(arch, task, protocol, seed, device, &mut ignore)
}

/// Test loss and accuracy of a trained `network` on `task`'s test split under `protocol`
/// (its evaluation batch size), with the network's batch-norm statistics as they are: no
/// recalibration, so a network that [`train_with_network`] returned (or the zoo loads) gives
/// exactly the run's `test_loss` and `test_accuracy` on the flex backend.
///
/// Refuses a task the network cannot take (channels, resolution, classes) with a
/// [`TrainError`] instead of panicking inside a kernel.
pub fn test_network<B: Backend>(
    network: &Nb201Network<B>,
    task: &Task,
    protocol: &Protocol,
) -> Result<(f64, f64), TrainError> {
    protocol.validate()?;
    let (way, channels) = check_task(task, protocol.resolution)?;
    let classes = network.classifier.weight.dims()[1];
    if channels != network.input_channels
        || protocol.resolution != network.resolution
        || way != classes
    {
        return Err(TrainError::NetworkMismatch {
            network: (network.input_channels, network.resolution, classes),
            task: (channels, protocol.resolution, way),
        });
    }
    let device = network.classifier.weight.device();
    let test_set = DeviceImages::<B>::upload(&task.test, &device);
    Ok(test_loss_accuracy(
        network,
        &test_set,
        protocol.recipe().eval_batch_size,
    ))
}

/// What [`fine_tune`] returns.
#[derive(Debug)]
pub struct FineTuned<B: Backend> {
    /// The finished epochs' metrics (the last one tested).
    pub epochs: Vec<EpochMetrics>,
    /// How the run ended.
    pub status: RunStatus,
    /// Test accuracy after the last step (`None` if the run diverged).
    pub test_accuracy: Option<f64>,
    /// Test loss after the last step.
    pub test_loss: Option<f64>,
    /// The tested inference network (`None` if the run diverged).
    pub network: Option<Nb201Network<B>>,
}

/// Fine-tunes `network` — trained weights whose classifier already has `task`'s classes, e.g. a
/// zoo network with a fresh classifier — on `task` for exactly `steps` optimiser steps of
/// `recipe` (its batch size, SGD with Nesterov momentum and weight decay, the cosine schedule
/// spread over the `steps`; `recipe.epochs` and `min_steps` are not used), then tests it after
/// batch-norm recalibration if the recipe asks: [`train`]'s loop, started from given weights
/// instead of a seed's (`seed` orders the batches). A task the network cannot take (channels,
/// resolution, classes) is [`TrainError::NetworkMismatch`].
pub fn fine_tune<B: AutodiffBackend>(
    network: Nb201Network<B>,
    task: &Task,
    recipe: &Recipe,
    steps: usize,
    seed: u64,
    device: &B::Device,
) -> Result<FineTuned<B::InnerBackend>, TrainError> {
    recipe.validate()?;
    if steps == 0 {
        return Err(ProtocolError::ZeroEpochs.into());
    }
    let (way, channels) = check_task(task, network.resolution)?;
    let classes = network.classifier.weight.dims()[1];
    if channels != network.input_channels || way != classes {
        return Err(TrainError::NetworkMismatch {
            network: (network.input_channels, network.resolution, classes),
            task: (channels, network.resolution, way),
        });
    }
    let train_set = DeviceImages::<B::InnerBackend>::upload(&task.train, device);
    let test_set = DeviceImages::<B::InnerBackend>::upload(&task.test, device);
    let (epochs, status, model) = run_epochs(
        network,
        &train_set,
        &test_set,
        recipe,
        seed,
        Some(steps),
        device,
        &mut ignore,
    );
    let (test_accuracy, test_loss) = match (status, epochs.last()) {
        (RunStatus::Ok, Some(last)) => (last.test_accuracy, last.test_loss),
        _ => (None, None),
    };
    Ok(FineTuned {
        epochs,
        status,
        test_accuracy,
        test_loss,
        network: model,
    })
}

/// A tested network's weights as a Burn record (full precision, `BinBytesRecorder`).
pub(crate) fn weight_bytes<B: Backend, M: Module<B>>(model: M) -> Result<Vec<u8>, TrainError> {
    BinBytesRecorder::<FullPrecisionSettings>::default()
        .record(model.into_record(), ())
        .map_err(|e| TrainError::Record(e.to_string()))
}

/// [`train`], returning the tested inference model too (`None` if the run diverged).
#[allow(clippy::type_complexity)]
fn train_model<B: AutodiffBackend>(
    arch: Nb201Arch,
    task: &Task,
    protocol: &Protocol,
    seed: u64,
    device: &B::Device,
    observer: &mut dyn FnMut(TrainEvent<'_>),
) -> Result<(RunResult, Option<Nb201Network<B::InnerBackend>>), TrainError> {
    let start = Instant::now();
    protocol.validate()?;
    let resolution = protocol.resolution;
    let (way, channels) = check_task(task, resolution)?;

    let macro_config = protocol.macro_config(channels, way);
    let config = Nb201NetworkConfig::new(arch)
        .with_channels(protocol.channels)
        .with_cells_per_stage(protocol.cells_per_stage)
        .with_input_channels(channels)
        .with_num_classes(way)
        .with_resolution(resolution);
    let trained = train_network::<B, Nb201Network<B>>(
        &config,
        task,
        &protocol.recipe(),
        seed,
        device,
        observer,
    );
    let (test_accuracy, test_loss) = trained.final_test();
    let result = RunResult {
        arch,
        seed,
        epochs: trained.epochs,
        test_accuracy,
        test_loss,
        wall_seconds: start.elapsed().as_secs_f64(),
        cost: arch.cost(&macro_config),
        param_count: cost::param_count(&arch, &macro_config),
        status: trained.status,
    };
    Ok((result, trained.model))
}

/// The default CPU backend: flex with autodiff.
#[cfg(feature = "flex")]
pub type CpuBackend = burn::backend::Autodiff<burn::backend::Flex>;

/// [`train_with_weights`] on the default CPU backend ([`CpuBackend`]).
#[cfg(feature = "flex")]
pub fn train_cpu_with_weights(
    arch: Nb201Arch,
    task: &Task,
    protocol: &Protocol,
    seed: u64,
) -> Result<(RunResult, Option<Vec<u8>>), TrainError> {
    train_with_weights::<CpuBackend>(arch, task, protocol, seed, &Default::default())
}

/// [`train`] on the default CPU backend ([`CpuBackend`]).
#[cfg(feature = "flex")]
pub fn train_cpu(
    arch: Nb201Arch,
    task: &Task,
    protocol: &Protocol,
    seed: u64,
) -> Result<RunResult, TrainError> {
    train::<CpuBackend>(arch, task, protocol, seed, &Default::default())
}

/// Learning rate of step `step` of `total`: cosine from `lr` towards 0, updated every step.
pub(crate) fn cosine_lr(lr: f64, step: usize, total: usize) -> f64 {
    0.5 * lr * (1.0 + (PI * step as f64 / total as f64).cos())
}

/// Trains for the protocol's epochs (or, with `max_steps`, for exactly that many optimiser
/// steps, the cosine schedule spread over them); returns the finished epochs' metrics, the
/// status, and the last tested inference model (`None` if the run diverged).
#[allow(clippy::type_complexity, clippy::too_many_arguments)]
fn run_epochs<B, M>(
    mut model: M,
    train_set: &DeviceImages<B::InnerBackend>,
    test_set: &DeviceImages<B::InnerBackend>,
    protocol: &Recipe,
    seed: u64,
    max_steps: Option<usize>,
    device: &B::Device,
    observer: &mut dyn FnMut(TrainEvent<'_>),
) -> (Vec<EpochMetrics>, RunStatus, Option<M::InnerModule>)
where
    B: AutodiffBackend,
    M: TrainableNetwork<B> + AutodiffModule<B>,
    M::InnerModule: TrainableNetwork<B::InnerBackend>,
{
    let mut optim = SgdConfig::new()
        .with_momentum(Some(
            MomentumConfig::new()
                .with_momentum(protocol.momentum)
                .with_dampening(0.0)
                .with_nesterov(true),
        ))
        .with_weight_decay(
            (protocol.weight_decay > 0.0)
                .then(|| WeightDecayConfig::new(protocol.weight_decay as f32)),
        )
        .init::<B, M>();
    let loss_fn = CrossEntropyLoss::new(None, device);

    let n = train_set.len();
    let batch_size = protocol.batch_size;
    let steps_per_epoch = protocol.steps_per_epoch(n);
    let (num_epochs, total_steps) = match max_steps {
        None => {
            let epochs = protocol.epochs_for(n);
            (epochs, steps_per_epoch * epochs)
        }
        Some(steps) => (steps.div_ceil(steps_per_epoch.max(1)), steps),
    };
    observer(TrainEvent::Start {
        total_steps,
        epochs: num_epochs,
    });
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut order: Vec<usize> = (0..n).collect();
    let mut metrics = Vec::with_capacity(num_epochs);
    let mut step = 0;
    let mut tested = None;

    for epoch in 0..num_epochs {
        shuffle(&mut order, &mut rng);
        let (mut loss_sum, mut correct, mut seen) = (0.0, 0usize, 0usize);
        for batch in order.chunks(batch_size).take(steps_per_epoch) {
            if step == total_steps {
                break;
            }
            let (images, labels) = train_set.select(batch);
            let logits = model.logits(Tensor::from_inner(images));
            let loss = loss_fn.forward(logits.clone(), Tensor::from_inner(labels.clone()));
            let loss_value: f64 = loss.clone().into_scalar().elem();
            if !loss_value.is_finite() {
                tracing::debug!(target: "model_zoo::train", epoch, step, "diverged: non-finite training loss");
                return (metrics, RunStatus::Diverged { epoch }, None);
            }
            loss_sum += loss_value * batch.len() as f64;
            correct += count_correct(logits.inner(), labels);
            seen += batch.len();
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(cosine_lr(protocol.lr, step, total_steps), model, grads);
            tracing::trace!(target: "model_zoo::train", step, loss = loss_value);
            observer(TrainEvent::Step {
                step,
                loss: loss_value,
            });
            step += 1;
        }

        let last = epoch + 1 == num_epochs;
        let (test_loss, test_accuracy) = if last || protocol.test_every_epoch {
            let valid = model.valid();
            let (loss, accuracy) = evaluate(&valid, train_set, test_set, protocol);
            if !loss.is_finite() {
                tracing::debug!(target: "model_zoo::train", epoch, "diverged: non-finite test loss");
                return (metrics, RunStatus::Diverged { epoch }, None);
            }
            tested = Some(valid);
            (Some(loss), Some(accuracy))
        } else {
            (None, None)
        };
        let epoch_metrics = EpochMetrics {
            train_loss: loss_sum / seen as f64,
            train_accuracy: correct as f64 / seen as f64,
            test_loss,
            test_accuracy,
        };
        tracing::debug!(target: "model_zoo::train", "{}", describe(epoch, &epoch_metrics));
        observer(TrainEvent::Epoch {
            epoch,
            metrics: &epoch_metrics,
        });
        metrics.push(epoch_metrics);
    }
    (metrics, RunStatus::Ok, tested)
}

/// Test loss and accuracy of an inference model, after BN recalibration on the training images
/// if the protocol asks for it.
fn evaluate<B: Backend, M: TrainableNetwork<B>>(
    model: &M,
    train_set: &DeviceImages<B>,
    test_set: &DeviceImages<B>,
    protocol: &Recipe,
) -> (f64, f64) {
    let batch_size = protocol.eval_batch_size;
    if protocol.bn_recalibration {
        // Batches of one image have no batch statistics: drop a trailing single image.
        model.recalibrate_bn(
            &mut train_set
                .chunks(batch_size)
                .filter(|(images, _)| images.dims()[0] >= 2)
                .map(|(images, _)| images),
        );
    }
    test_loss_accuracy(model, test_set, batch_size)
}

/// Test loss and accuracy of `model` as it is, in batches of `batch_size`.
fn test_loss_accuracy<B: Backend, M: TrainableNetwork<B>>(
    model: &M,
    test_set: &DeviceImages<B>,
    batch_size: usize,
) -> (f64, f64) {
    let loss_fn = CrossEntropyLoss::new(None, &test_set.labels.device());
    let (mut loss_sum, mut correct) = (0.0, 0usize);
    for (images, labels) in test_set.chunks(batch_size) {
        let len = labels.dims()[0];
        let logits = model.logits(images);
        let loss: f64 = loss_fn
            .forward(logits.clone(), labels.clone())
            .into_scalar()
            .elem();
        loss_sum += loss * len as f64;
        correct += count_correct(logits, labels);
    }
    let n = test_set.len() as f64;
    (loss_sum / n, correct as f64 / n)
}

/// Number of rows of `logits` `[batch, classes]` whose arg-max is the label.
fn count_correct<B: Backend>(logits: Tensor<B, 2>, labels: Tensor<B, 1, Int>) -> usize {
    let predicted = logits.argmax(1).flatten::<1>(0, 1);
    let correct: i64 = predicted.equal(labels).int().sum().into_scalar().elem();
    correct as usize
}

fn describe(epoch: usize, m: &EpochMetrics) -> String {
    let mut s = format!(
        "epoch {:>3}: train loss {:.4} acc {:.4}",
        epoch + 1,
        m.train_loss,
        m.train_accuracy
    );
    if let (Some(loss), Some(acc)) = (m.test_loss, m.test_accuracy) {
        s.push_str(&format!(" | test loss {loss:.4} acc {acc:.4}"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_starts_at_lr_and_decays_to_zero() {
        assert_eq!(cosine_lr(0.1, 0, 100), 0.1);
        assert!((cosine_lr(0.1, 50, 100) - 0.05).abs() < 1e-12);
        assert!(cosine_lr(0.1, 99, 100) < 1e-4);
        let mut last = f64::INFINITY;
        for step in 0..100 {
            let lr = cosine_lr(0.1, step, 100);
            assert!(lr <= last);
            last = lr;
        }
    }
}
