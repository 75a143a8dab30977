//! [`ProxyConfig`]: the network and minibatch every proxy of a comparison shares.

use burn::config::Config;
use burn::tensor::backend::Backend;
use datasets::Task;
use search_space::{MacroConfig, Nb201Arch, Nb201NetworkConfig};

use super::error::Result;
use super::minibatch::Minibatch;

/// The untrained network a proxy scores and the minibatch it sees. The defaults are the
/// database's mini protocol network (C = 8, N = 1) and a 64-image batch, the batch size of the
/// zero-cost proxy study (Abdelfattah et al., ICLR 2021, NAS-Bench-201 runs).
///
/// The input channels, resolution and classes of the network come from the minibatch (that is,
/// from the task), so one config serves every task.
///
/// ```
/// use meta_predictor::proxies::ProxyConfig;
/// let config = ProxyConfig::new().with_batch_size(32).with_seed(3);
/// assert_eq!((config.channels, config.cells_per_stage), (8, 1));
/// ```
#[derive(Config, Debug)]
pub struct ProxyConfig {
    /// Width C of the first stage of the scored network (stages C, 2C, 4C).
    #[config(default = 8)]
    pub channels: usize,
    /// Cells per stage, N.
    #[config(default = 1)]
    pub cells_per_stage: usize,
    /// Images in the minibatch.
    #[config(default = 64)]
    pub batch_size: usize,
    /// Seed of the network's initial weights ([`Nb201NetworkConfig::seed`]).
    #[config(default = 0)]
    pub seed: u64,
    /// Seed of the minibatch draw ([`Minibatch::draw`]).
    #[config(default = 0)]
    pub batch_seed: u64,
}

impl ProxyConfig {
    /// The network configuration for `arch` on `batch`'s images and classes, checked.
    pub fn network<B: Backend>(
        &self,
        arch: Nb201Arch,
        batch: &Minibatch<B>,
    ) -> Result<Nb201NetworkConfig> {
        let config = Nb201NetworkConfig::new(arch)
            .with_channels(self.channels)
            .with_cells_per_stage(self.cells_per_stage)
            .with_input_channels(batch.channels())
            .with_num_classes(batch.num_classes)
            .with_resolution(batch.side())
            .with_seed(self.seed);
        config.validate()?;
        Ok(config)
    }

    /// The macro network for the cost model ([`Nb201Arch::cost`]) on `batch`'s images.
    pub fn macro_config<B: Backend>(&self, batch: &Minibatch<B>) -> MacroConfig {
        MacroConfig {
            channels: self.channels,
            cells_per_stage: self.cells_per_stage,
            input_channels: batch.channels(),
            num_classes: batch.num_classes,
            resolution: batch.side(),
        }
    }

    /// Draws the minibatch of `task`'s training images (`batch_size` images, seed
    /// `batch_seed`).
    pub fn minibatch<B: Backend>(&self, task: &Task, device: &B::Device) -> Result<Minibatch<B>> {
        Minibatch::from_task(task, self.batch_size, self.batch_seed, device)
    }
}
