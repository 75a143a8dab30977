//! [`Mbv3Protocol`]: how a MobileNetV3 point is trained and scored.

use serde::{Deserialize, Serialize};

use search_space::mbv3::Mbv3ConfigError;
use search_space::Mbv3MacroConfig;

use crate::protocol::{Protocol, ProtocolError, Recipe};

/// A training protocol for Once-for-All MobileNetV3 points: the macro network (width
/// multiplier, resolution) and NAS-Bench-201's optimiser recipe, the same as [`Protocol`]'s (SGD
/// with Nesterov momentum 0.9 and no dampening, per-step cosine decay, weight decay 5e-4,
/// cross-entropy, BN recalibration before testing).
///
/// The task's size is not part of the protocol: the task spec says it. Every invalid value has
/// its own error ([`Mbv3ProtocolError`]).
///
/// ```
/// use model_zoo::mbv3::Mbv3Protocol;
/// let p = Mbv3Protocol::mini();
/// assert_eq!(p.validate(), Ok(()));
/// assert_eq!(p.macro_config(3, 10).resolution, 32);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Mbv3Protocol {
    /// Width multiplier of every layer (OFA publishes 1.0 and 1.2).
    pub width_mult: f64,
    /// Side of the square input images.
    pub resolution: usize,
    /// Passes over the training set (at least; see `min_steps`).
    pub epochs: usize,
    /// At least this many optimiser steps: a task with few training images gets more epochs.
    /// 0 = exactly `epochs`.
    #[serde(default)]
    pub min_steps: usize,
    /// Training batch size (at least 2, for batch norm).
    pub batch_size: usize,
    /// Batch size for evaluation and BN recalibration.
    pub eval_batch_size: usize,
    /// Initial learning rate; it decays to 0 with a per-step cosine.
    pub lr: f64,
    /// Momentum (Nesterov, no dampening).
    pub momentum: f64,
    /// L2 weight decay on every parameter.
    pub weight_decay: f64,
    /// Reset batch-norm running statistics to their average over the training set before each
    /// evaluation.
    pub bn_recalibration: bool,
    /// Evaluate after every epoch, not only after the last (slower).
    pub test_every_epoch: bool,
    /// How many seeds a database record averages (the trainer runs one seed per call).
    pub seeds_per_record: usize,
}

impl Default for Mbv3Protocol {
    fn default() -> Self {
        Self::mini()
    }
}

impl Mbv3Protocol {
    /// The mini protocol for CPU databases: width 0.35 at 32×32, 5 epochs of at least 60 steps
    /// at batch 64, NB201's optimiser recipe. One run costs about as much as an NB201
    /// [`Protocol::mini`] run at 32×32 on the same task (see `examples/mbv3_db.rs measure`).
    pub fn mini() -> Self {
        Self::from_nb201(
            &Protocol {
                min_steps: 60,
                ..Protocol::mini()
            },
            0.35,
            32,
        )
    }

    /// The MobileNetV3 protocol with `nb201`'s optimiser and schedule (epochs, minimum steps,
    /// batch sizes, learning rate, momentum, weight decay, BN recalibration), so that a
    /// MobileNetV3 database is trained like an NB201 one, at `width_mult` and `resolution`.
    pub fn from_nb201(nb201: &Protocol, width_mult: f64, resolution: usize) -> Self {
        Self {
            width_mult,
            resolution,
            epochs: nb201.epochs,
            min_steps: nb201.min_steps,
            batch_size: nb201.batch_size,
            eval_batch_size: nb201.eval_batch_size,
            lr: nb201.lr,
            momentum: nb201.momentum,
            weight_decay: nb201.weight_decay,
            bn_recalibration: nb201.bn_recalibration,
            test_every_epoch: nb201.test_every_epoch,
            seeds_per_record: nb201.seeds_per_record,
        }
    }

    /// The macro network this protocol trains for a task with `input_channels` and
    /// `num_classes`, for the cost model ([`search_space::Mbv3Arch::cost`]).
    pub fn macro_config(&self, input_channels: usize, num_classes: usize) -> Mbv3MacroConfig {
        Mbv3MacroConfig {
            width_mult: self.width_mult,
            input_channels,
            num_classes,
            resolution: self.resolution,
        }
    }

    /// The optimiser and schedule part, which the shared training loop runs.
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
    pub fn validate(&self) -> Result<(), Mbv3ProtocolError> {
        if !(self.width_mult.is_finite() && self.width_mult > 0.0) {
            return Err(Mbv3ProtocolError::WidthMult(self.width_mult));
        }
        if self.resolution == 0 {
            return Err(Mbv3ProtocolError::ZeroResolution);
        }
        self.recipe().validate()?;
        if self.seeds_per_record == 0 {
            return Err(ProtocolError::ZeroSeeds.into());
        }
        Ok(())
    }
}

/// An invalid [`Mbv3Protocol`] field.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum Mbv3ProtocolError {
    /// The width multiplier is not a positive finite number.
    #[error("MobileNetV3 protocol: width multiplier {0} is not a positive finite number (the mini protocol uses 0.35, OFA 1.0 and 1.2)")]
    WidthMult(f64),
    /// `resolution` is 0.
    #[error("MobileNetV3 protocol: resolution must be positive (the mini protocol uses 32)")]
    ZeroResolution,
    /// An optimiser or schedule field is invalid (the same checks as [`Protocol`]'s).
    #[error(transparent)]
    Recipe(#[from] ProtocolError),
    /// The protocol and the task do not describe a network (e.g. a task without classes).
    #[error("MobileNetV3 protocol: {0}")]
    Network(#[from] Mbv3ConfigError),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(f: impl FnOnce(&mut Mbv3Protocol)) -> Result<(), Mbv3ProtocolError> {
        let mut p = Mbv3Protocol::mini();
        f(&mut p);
        p.validate()
    }

    #[test]
    fn mini_is_valid_and_shares_the_nb201_recipe() {
        assert_eq!(Mbv3Protocol::mini().validate(), Ok(()));
        assert_eq!(Mbv3Protocol::default(), Mbv3Protocol::mini());
        let nb201 = Protocol {
            min_steps: 60,
            ..Protocol::mini()
        };
        assert_eq!(Mbv3Protocol::mini().recipe(), nb201.recipe());
    }

    #[test]
    fn width_must_be_positive_and_finite() {
        assert_eq!(
            with(|p| p.width_mult = 0.0),
            Err(Mbv3ProtocolError::WidthMult(0.0))
        );
        assert!(matches!(
            with(|p| p.width_mult = f64::INFINITY),
            Err(Mbv3ProtocolError::WidthMult(_))
        ));
    }

    #[test]
    fn resolution_cannot_be_zero() {
        assert_eq!(
            with(|p| p.resolution = 0),
            Err(Mbv3ProtocolError::ZeroResolution)
        );
    }

    #[test]
    fn recipe_errors_are_the_nb201_ones() {
        assert_eq!(
            with(|p| p.batch_size = 1),
            Err(Mbv3ProtocolError::Recipe(ProtocolError::BatchSize(1)))
        );
        assert_eq!(
            with(|p| p.seeds_per_record = 0),
            Err(Mbv3ProtocolError::Recipe(ProtocolError::ZeroSeeds))
        );
    }

    #[test]
    fn serde_round_trip() {
        let p = Mbv3Protocol::mini();
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(serde_json::from_str::<Mbv3Protocol>(&json).unwrap(), p);
    }
}
