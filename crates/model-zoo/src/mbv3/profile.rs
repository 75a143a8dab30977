//! Where a MobileNetV3 training step spends its time: the depthwise convolutions' share.

use std::time::Instant;

use burn::module::AutodiffModule;
use burn::nn::loss::CrossEntropyLoss;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Distribution, Int, Tensor, TensorData};
use search_space::mbv3::{Mbv3Arch, Mbv3Network, Mbv3NetworkConfig};
use search_space::network::conv2d;

use super::protocol::{Mbv3Protocol, Mbv3ProtocolError};
use crate::train::TrainableNetwork;

/// Seconds of one training step (forward and backward at the protocol's batch size) of a
/// network, and of its depthwise convolutions alone.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepProfile {
    /// Forward + backward of the whole network, seconds per step (median of the repeats).
    pub step_seconds: f64,
    /// Forward + backward of the network's depthwise convolutions, each run alone on inputs of
    /// its shape through the same `conv2d` (Burn's grouped convolution), seconds per step.
    pub depthwise_seconds: f64,
}

impl StepProfile {
    /// The depthwise convolutions' share of a step, `depthwise_seconds / step_seconds`.
    pub fn depthwise_share(&self) -> f64 {
        self.depthwise_seconds / self.step_seconds
    }
}

/// Waits for the device's queued work (a no-op on flex), so a step on a GPU backend is timed to
/// completion, not to submission. A device that fails here fails its next operation too, with
/// Burn's own error, so the result is not needed.
fn wait<B: Backend>(device: &B::Device) {
    let _ = B::sync(device);
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Profiles a training step of `arch` under `protocol` for a task of `input_channels` and
/// `num_classes` on random images: `repeats` timed steps after one warm-up step, for the whole
/// network and for its depthwise convolutions alone (what the depthwise share is measured by).
/// Each timed step waits for the device (`Backend::sync`), so GPU backends time the work.
pub fn profile_step<B: AutodiffBackend>(
    arch: Mbv3Arch,
    protocol: &Mbv3Protocol,
    input_channels: usize,
    num_classes: usize,
    repeats: usize,
    device: &B::Device,
) -> Result<StepProfile, Mbv3ProtocolError> {
    protocol.validate()?;
    let config = Mbv3NetworkConfig::new(arch)
        .with_width_mult(protocol.width_mult)
        .with_input_channels(input_channels)
        .with_num_classes(num_classes)
        .with_resolution(protocol.resolution);
    let plan = config.plan()?;
    let batch = protocol.batch_size;
    let side = protocol.resolution;
    let model = <Mbv3Network<B> as TrainableNetwork<B>>::build(&config, 0, device);
    let loss_fn = CrossEntropyLoss::new(None, device);
    let images = Tensor::<B, 4>::random(
        [batch, input_channels, side, side],
        Distribution::Normal(0.0, 1.0),
        device,
    );
    let labels: Vec<i64> = (0..batch).map(|i| (i % num_classes) as i64).collect();
    let labels = Tensor::<B, 1, Int>::from_data(TensorData::new(labels, [batch]), device);
    let mut steps = Vec::with_capacity(repeats);
    for i in 0..=repeats {
        let start = Instant::now();
        let loss = loss_fn.forward(model.logits(images.clone()), labels.clone());
        let _ = loss.backward();
        wait::<B>(device);
        if i > 0 {
            steps.push(start.elapsed().as_secs_f64());
        }
    }

    let inputs: Vec<_> = plan
        .blocks
        .iter()
        .map(|b| {
            let x = Tensor::<B, 4>::random(
                [batch, b.c_mid, b.in_size, b.in_size],
                Distribution::Normal(0.0, 1.0),
                device,
            )
            .require_grad();
            let w = Tensor::<B, 4>::random(
                [b.c_mid, 1, b.kernel, b.kernel],
                Distribution::Normal(0.0, 0.1),
                device,
            )
            .require_grad();
            let pad = b.kernel / 2;
            let options = ConvOptions::new([b.stride, b.stride], [pad, pad], [1, 1], b.c_mid);
            (x, w, options)
        })
        .collect();
    let mut depthwise = Vec::with_capacity(repeats);
    for i in 0..=repeats {
        let start = Instant::now();
        for (x, w, options) in &inputs {
            let y = conv2d(x.clone(), w.clone(), None, options.clone());
            let _ = y.sum().backward();
        }
        wait::<B>(device);
        if i > 0 {
            depthwise.push(start.elapsed().as_secs_f64());
        }
    }
    let _ = model.valid();
    Ok(StepProfile {
        step_seconds: median(steps),
        depthwise_seconds: median(depthwise),
    })
}
