//! Training a MobileNetV3 point on a task through the shared loop.

use std::time::Instant;

use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::Tensor;
use datasets::Task;
use search_space::mbv3::{Mbv3Arch, Mbv3Network, Mbv3NetworkConfig};
use search_space::network::BnMode;

use super::protocol::{Mbv3Protocol, Mbv3ProtocolError};
use crate::error::TrainError;
use crate::result::RunResult;
use crate::train::{check_task, ignore, train_network, weight_bytes, TrainableNetwork};

impl<B: Backend> TrainableNetwork<B> for Mbv3Network<B> {
    type Config = Mbv3NetworkConfig;

    fn build(config: &Mbv3NetworkConfig, seed: u64, device: &B::Device) -> Self {
        config.clone().with_seed(seed).init(device)
    }

    fn logits(&self, images: Tensor<B, 4>) -> Tensor<B, 2> {
        self.forward(images)
    }

    fn recalibrate_bn(&self, batches: &mut dyn Iterator<Item = Tensor<B, 4>>) -> usize {
        let mut count = 0;
        for (batch, images) in batches.enumerate() {
            let _ = self.forward_mode(images, BnMode::Recalibrate { batch });
            count += 1;
        }
        count
    }
}

/// Trains the MobileNetV3 network of `arch` on `task` under `protocol` with `seed`, on backend
/// `B` and `device`, and tests it on the task's test split: the same loop, optimiser and
/// schedule as the NB201 trainer ([`crate::train`]).
///
/// The network takes the task's channels (1 for grayscale tasks, 3 for RGB) and classes at the
/// protocol's width and resolution; the task must be built at that resolution. The seed fixes
/// the initial weights and the batch order: on flex, the same seed gives the same result bit for
/// bit. Inputs are checked first ([`TrainError`]); once training starts the run always returns
/// a [`RunResult`], with [`RunStatus::Diverged`](crate::RunStatus::Diverged) if the loss stops
/// being finite. `cost` holds parameters (M) and multiply-adds (M per image) from
/// [`Mbv3Arch::cost`].
pub fn train_mbv3<B: AutodiffBackend>(
    arch: Mbv3Arch,
    task: &Task,
    protocol: &Mbv3Protocol,
    seed: u64,
    device: &B::Device,
) -> Result<RunResult<Mbv3Arch>, TrainError> {
    train_mbv3_model::<B>(arch, task, protocol, seed, device).map(|(result, _)| result)
}

/// [`train_mbv3`], also returning the tested network's weights as a Burn record (full
/// precision, `BinBytesRecorder`); `None` when the run diverged.
pub fn train_mbv3_with_weights<B: AutodiffBackend>(
    arch: Mbv3Arch,
    task: &Task,
    protocol: &Mbv3Protocol,
    seed: u64,
    device: &B::Device,
) -> Result<(RunResult<Mbv3Arch>, Option<Vec<u8>>), TrainError> {
    let (result, model) = train_mbv3_model::<B>(arch, task, protocol, seed, device)?;
    Ok((result, model.map(weight_bytes).transpose()?))
}

#[allow(clippy::type_complexity)]
fn train_mbv3_model<B: AutodiffBackend>(
    arch: Mbv3Arch,
    task: &Task,
    protocol: &Mbv3Protocol,
    seed: u64,
    device: &B::Device,
) -> Result<(RunResult<Mbv3Arch>, Option<Mbv3Network<B::InnerBackend>>), TrainError> {
    let start = Instant::now();
    protocol.validate()?;
    let (way, channels) = check_task(task, protocol.resolution)?;
    let config = Mbv3NetworkConfig::new(arch)
        .with_width_mult(protocol.width_mult)
        .with_input_channels(channels)
        .with_num_classes(way)
        .with_resolution(protocol.resolution);
    let plan = config.plan().map_err(Mbv3ProtocolError::from)?;
    let trained = train_network::<B, Mbv3Network<B>>(
        &config,
        task,
        &protocol.recipe(),
        seed,
        device,
        &mut ignore,
    );
    let (test_accuracy, test_loss) = trained.final_test();
    let result = RunResult {
        arch,
        seed,
        epochs: trained.epochs,
        test_accuracy,
        test_loss,
        wall_seconds: start.elapsed().as_secs_f64(),
        cost: plan.cost(),
        param_count: plan.param_count(),
        status: trained.status,
    };
    Ok((result, trained.model))
}

/// [`train_mbv3`] on the default CPU backend ([`CpuBackend`](crate::CpuBackend)).
#[cfg(feature = "flex")]
pub fn train_mbv3_cpu(
    arch: Mbv3Arch,
    task: &Task,
    protocol: &Mbv3Protocol,
    seed: u64,
) -> Result<RunResult<Mbv3Arch>, TrainError> {
    train_mbv3::<crate::CpuBackend>(arch, task, protocol, seed, &Default::default())
}
