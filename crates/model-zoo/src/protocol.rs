//! [`Protocol`]: every choice that determines how an architecture is trained and scored.

use serde::{Deserialize, Serialize};

use search_space::MacroConfig;

/// A training protocol: the macro network, the task's size and the optimiser's recipe.
///
/// NAS-Bench-201's evaluation recipe (SGD with Nesterov momentum 0.9 and no dampening, lr 0.1
/// with per-step cosine decay to 0, weight decay 5e-4, cross-entropy, no warm-up) scaled down to
/// seconds per run on a CPU. [`Protocol::mini`] (also [`Default`]) is the database protocol;
/// [`Protocol::nb201`] is the original for comparison.
///
/// A protocol is a plain value: [`Protocol::validate`] checks it, and every invalid value has its
/// own [`ProtocolError`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Protocol {
    /// Width C of the first stage (stages are C, 2C, 4C).
    pub channels: usize,
    /// Cells per stage, N.
    pub cells_per_stage: usize,
    /// Side of the square input images (a positive multiple of 4).
    pub resolution: usize,
    /// Training images per class the task should hold.
    pub train_per_class: usize,
    /// Test images per class the task should hold.
    pub test_per_class: usize,
    /// Passes over the training set.
    pub epochs: usize,
    /// Training batch size (at least 2, for batch norm).
    pub batch_size: usize,
    /// Batch size for evaluation and BN recalibration (no gradients; larger is faster).
    pub eval_batch_size: usize,
    /// Initial learning rate; it decays to 0 with a per-step cosine.
    pub lr: f64,
    /// Momentum (Nesterov, no dampening).
    pub momentum: f64,
    /// L2 weight decay on every parameter, batch-norm affine and biases included (as NB201).
    pub weight_decay: f64,
    /// Before each evaluation, reset the batch-norm running statistics to their exact average
    /// over the training set (one extra forward pass; removes stale-statistics outliers).
    pub bn_recalibration: bool,
    /// Evaluate on the test set after every epoch, not only after the last (slower).
    pub test_every_epoch: bool,
    /// How many seeds a database record averages (the trainer runs one seed per call).
    pub seeds_per_record: usize,
    /// At least this many optimiser steps: a task with few training images gets more epochs
    /// (see [`Protocol::epochs_for`]). 0 = exactly `epochs` (the v1 database).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub min_steps: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Default for Protocol {
    fn default() -> Self {
        Self::mini()
    }
}

impl Protocol {
    /// The mini protocol for building databases on a CPU: C = 8, N = 1, 16×16 images, 100 train
    /// and 200 test images per class, 5 epochs at batch 64, BN recalibration; ≈ 2–3 s per
    /// 5-way run on one core (see the crate docs).
    pub fn mini() -> Self {
        Self {
            channels: 8,
            cells_per_stage: 1,
            resolution: 16,
            train_per_class: 100,
            test_per_class: 200,
            epochs: 5,
            batch_size: 64,
            eval_batch_size: 256,
            lr: 0.1,
            momentum: 0.9,
            weight_decay: 5e-4,
            bn_recalibration: true,
            test_every_epoch: false,
            seeds_per_record: 1,
            min_steps: 0,
        }
    }

    /// NAS-Bench-201's own recipe for non-CIFAR data in MetaD2A (C = 16, N = 5, 32×32, batch
    /// 256, 200 epochs, 3 seeds); the per-class counts are placeholders for the task's size.
    pub fn nb201() -> Self {
        Self {
            channels: 16,
            cells_per_stage: 5,
            resolution: 32,
            train_per_class: 5000,
            test_per_class: 1000,
            epochs: 200,
            batch_size: 256,
            eval_batch_size: 512,
            lr: 0.1,
            momentum: 0.9,
            weight_decay: 5e-4,
            bn_recalibration: false,
            test_every_epoch: true,
            seeds_per_record: 3,
            min_steps: 0,
        }
    }

    /// The macro network this protocol trains for a task with `input_channels` and
    /// `num_classes`, for the cost model ([`Nb201Arch::cost`](search_space::Nb201Arch::cost)).
    pub fn macro_config(&self, input_channels: usize, num_classes: usize) -> MacroConfig {
        MacroConfig {
            channels: self.channels,
            cells_per_stage: self.cells_per_stage,
            input_channels,
            num_classes,
            resolution: self.resolution,
        }
    }

    /// Optimiser steps per epoch on `train_images` images (a trailing batch of one image is
    /// dropped: batch norm needs two).
    pub fn steps_per_epoch(&self, train_images: usize) -> usize {
        self.recipe().steps_per_epoch(train_images)
    }

    /// Epochs a run on `train_images` images trains for: `epochs`, raised until the run takes at
    /// least `min_steps` optimiser steps.
    pub fn epochs_for(&self, train_images: usize) -> usize {
        self.recipe().epochs_for(train_images)
    }

    /// The optimiser and schedule part of this protocol (everything but the network and the
    /// task's size), which every search space's protocol shares.
    pub fn recipe(&self) -> Recipe {
        Recipe {
            epochs: self.epochs,
            min_steps: self.min_steps,
            batch_size: self.batch_size,
            eval_batch_size: self.eval_batch_size,
            lr: self.lr,
            momentum: self.momentum,
            weight_decay: self.weight_decay,
            bn_recalibration: self.bn_recalibration,
            test_every_epoch: self.test_every_epoch,
        }
    }

    /// Checks every field; the first invalid one is reported.
    pub fn validate(&self) -> Result<(), ProtocolError> {
        use ProtocolError as E;
        if self.channels == 0 {
            return Err(E::ZeroChannels);
        }
        if self.resolution == 0 || !self.resolution.is_multiple_of(4) {
            return Err(E::Resolution(self.resolution));
        }
        if self.train_per_class == 0 {
            return Err(E::ZeroTrainPerClass);
        }
        if self.test_per_class == 0 {
            return Err(E::ZeroTestPerClass);
        }
        self.recipe().validate()?;
        if self.seeds_per_record == 0 {
            return Err(E::ZeroSeeds);
        }
        Ok(())
    }
}

/// The optimiser and schedule of a protocol: NAS-Bench-201's recipe (SGD with Nesterov
/// momentum and no dampening, per-step cosine decay to 0, L2 weight decay, cross-entropy) with
/// its sizes. [`Protocol`] (NB201 cells) and [`Mbv3Protocol`](crate::mbv3::Mbv3Protocol)
/// (MobileNetV3 points) both train through it, so the two spaces share one training loop.
#[derive(Clone, Debug, PartialEq)]
pub struct Recipe {
    /// Passes over the training set (at least; see [`Recipe::epochs_for`]).
    pub epochs: usize,
    /// At least this many optimiser steps; 0 = exactly `epochs`.
    pub min_steps: usize,
    /// Training batch size (at least 2, for batch norm).
    pub batch_size: usize,
    /// Batch size for evaluation and BN recalibration.
    pub eval_batch_size: usize,
    /// Initial learning rate.
    pub lr: f64,
    /// Nesterov momentum, no dampening.
    pub momentum: f64,
    /// L2 weight decay on every parameter.
    pub weight_decay: f64,
    /// Reset batch-norm running statistics over the training set before each evaluation.
    pub bn_recalibration: bool,
    /// Evaluate after every epoch, not only after the last.
    pub test_every_epoch: bool,
}

impl Recipe {
    /// Optimiser steps per epoch on `train_images` images (a trailing batch of one image is
    /// dropped: batch norm needs two).
    pub fn steps_per_epoch(&self, train_images: usize) -> usize {
        let full = train_images / self.batch_size;
        let rest = train_images % self.batch_size;
        full + usize::from(rest >= 2)
    }

    /// Epochs a run on `train_images` images trains for: `epochs`, raised until the run takes at
    /// least `min_steps` optimiser steps.
    pub fn epochs_for(&self, train_images: usize) -> usize {
        let per_epoch = self.steps_per_epoch(train_images).max(1);
        self.epochs.max(self.min_steps.div_ceil(per_epoch))
    }

    /// Checks the optimiser's and schedule's fields; the first invalid one is reported.
    pub fn validate(&self) -> Result<(), ProtocolError> {
        use ProtocolError as E;
        if self.epochs == 0 {
            return Err(E::ZeroEpochs);
        }
        if self.batch_size < 2 {
            return Err(E::BatchSize(self.batch_size));
        }
        if self.eval_batch_size == 0 {
            return Err(E::ZeroEvalBatchSize);
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(E::LearningRate(self.lr));
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return Err(E::Momentum(self.momentum));
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return Err(E::WeightDecay(self.weight_decay));
        }
        Ok(())
    }
}

/// An invalid [`Protocol`] field.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ProtocolError {
    /// `channels` is 0.
    #[error("protocol: channels (C) must be positive")]
    ZeroChannels,
    /// `resolution` is 0 or not a multiple of 4.
    #[error("protocol: resolution {0} is not a positive multiple of 4")]
    Resolution(usize),
    /// `train_per_class` is 0.
    #[error("protocol: train_per_class must be positive")]
    ZeroTrainPerClass,
    /// `test_per_class` is 0.
    #[error("protocol: test_per_class must be positive")]
    ZeroTestPerClass,
    /// `epochs` is 0.
    #[error("protocol: epochs must be positive")]
    ZeroEpochs,
    /// `batch_size` is below 2.
    #[error("protocol: batch_size {0} is below 2 (batch norm needs two images)")]
    BatchSize(usize),
    /// `eval_batch_size` is 0.
    #[error("protocol: eval_batch_size must be positive")]
    ZeroEvalBatchSize,
    /// `lr` is not a positive finite number.
    #[error("protocol: learning rate {0} is not positive and finite")]
    LearningRate(f64),
    /// `momentum` is outside `[0, 1)`.
    #[error("protocol: momentum {0} is outside [0, 1)")]
    Momentum(f64),
    /// `weight_decay` is negative or not finite.
    #[error("protocol: weight decay {0} is negative or not finite")]
    WeightDecay(f64),
    /// `seeds_per_record` is 0.
    #[error("protocol: seeds_per_record must be positive")]
    ZeroSeeds,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(f: impl FnOnce(&mut Protocol)) -> Result<(), ProtocolError> {
        let mut p = Protocol::mini();
        f(&mut p);
        p.validate()
    }

    #[test]
    fn presets_are_valid() {
        assert_eq!(Protocol::mini().validate(), Ok(()));
        assert_eq!(Protocol::nb201().validate(), Ok(()));
        assert_eq!(Protocol::default(), Protocol::mini());
    }

    #[test]
    fn channels_cannot_be_zero() {
        assert_eq!(with(|p| p.channels = 0), Err(ProtocolError::ZeroChannels));
    }

    #[test]
    fn resolution_must_be_a_multiple_of_four() {
        assert_eq!(
            with(|p| p.resolution = 0),
            Err(ProtocolError::Resolution(0))
        );
        assert_eq!(
            with(|p| p.resolution = 14),
            Err(ProtocolError::Resolution(14))
        );
        assert_eq!(with(|p| p.resolution = 8), Ok(()));
    }

    #[test]
    fn image_counts_cannot_be_zero() {
        assert_eq!(
            with(|p| p.train_per_class = 0),
            Err(ProtocolError::ZeroTrainPerClass)
        );
        assert_eq!(
            with(|p| p.test_per_class = 0),
            Err(ProtocolError::ZeroTestPerClass)
        );
    }

    #[test]
    fn epochs_cannot_be_zero() {
        assert_eq!(with(|p| p.epochs = 0), Err(ProtocolError::ZeroEpochs));
    }

    #[test]
    fn batch_sizes_must_allow_batch_norm() {
        assert_eq!(with(|p| p.batch_size = 1), Err(ProtocolError::BatchSize(1)));
        assert_eq!(
            with(|p| p.eval_batch_size = 0),
            Err(ProtocolError::ZeroEvalBatchSize)
        );
    }

    #[test]
    fn learning_rate_must_be_positive_and_finite() {
        assert_eq!(with(|p| p.lr = 0.0), Err(ProtocolError::LearningRate(0.0)));
        assert!(matches!(
            with(|p| p.lr = f64::NAN),
            Err(ProtocolError::LearningRate(_))
        ));
        // A huge but finite rate is a valid (if divergent) protocol.
        assert_eq!(with(|p| p.lr = 1e6), Ok(()));
    }

    #[test]
    fn momentum_must_be_in_unit_interval() {
        assert_eq!(
            with(|p| p.momentum = 1.0),
            Err(ProtocolError::Momentum(1.0))
        );
        assert_eq!(
            with(|p| p.momentum = -0.1),
            Err(ProtocolError::Momentum(-0.1))
        );
        assert_eq!(with(|p| p.momentum = 0.0), Ok(()));
    }

    #[test]
    fn weight_decay_cannot_be_negative() {
        assert_eq!(
            with(|p| p.weight_decay = -1.0),
            Err(ProtocolError::WeightDecay(-1.0))
        );
    }

    #[test]
    fn seeds_per_record_cannot_be_zero() {
        assert_eq!(
            with(|p| p.seeds_per_record = 0),
            Err(ProtocolError::ZeroSeeds)
        );
    }

    #[test]
    fn trailing_single_image_batches_are_dropped() {
        let p = Protocol::mini();
        assert_eq!(p.steps_per_epoch(500), 8);
        assert_eq!(p.steps_per_epoch(513), 8);
        assert_eq!(p.steps_per_epoch(514), 9);
        assert_eq!(p.steps_per_epoch(1), 0);
    }

    #[test]
    fn serde_round_trip() {
        let p = Protocol::nb201();
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(serde_json::from_str::<Protocol>(&json).unwrap(), p);
    }
}
