//! [`TrainError`]: inputs that cannot be trained on.

use crate::mbv3::Mbv3ProtocolError;
use crate::protocol::ProtocolError;

/// Why [`train`](crate::train) refused to start. A run that starts never fails: divergence is
/// recorded in the [`RunResult`](crate::RunResult).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum TrainError {
    /// The protocol has an invalid field.
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// The MobileNetV3 protocol has an invalid field.
    #[error(transparent)]
    Mbv3Protocol(#[from] Mbv3ProtocolError),
    /// The task has no classes.
    #[error("the task has no classes")]
    NoClasses,
    /// A split has too few images to train or evaluate on.
    #[error("the task's {split} split has {images} images; it needs at least {needed}")]
    TooFewImages {
        /// `"train"` or `"test"`.
        split: &'static str,
        /// Images in the split.
        images: usize,
        /// The minimum.
        needed: usize,
    },
    /// A split's pixel buffer does not hold `labels × channels × height × width` values.
    #[error(
        "the task's {split} split holds {values} values, not {images} images of {channels}×{height}×{width}"
    )]
    MalformedImages {
        /// `"train"` or `"test"`.
        split: &'static str,
        /// Length of the pixel buffer.
        values: usize,
        /// Number of labels.
        images: usize,
        /// Channels per image.
        channels: usize,
        /// Image height.
        height: usize,
        /// Image width.
        width: usize,
    },
    /// A split's images are not `resolution × resolution`, or have no channel.
    #[error(
        "the task's {split} images are {channels}×{height}×{width}; the protocol's network \
         takes C×{resolution}×{resolution} with C ≥ 1 (build the task at the protocol's resolution)"
    )]
    Shape {
        /// `"train"` or `"test"`.
        split: &'static str,
        /// Channels per image.
        channels: usize,
        /// Image height.
        height: usize,
        /// Image width.
        width: usize,
        /// The protocol's resolution.
        resolution: usize,
    },
    /// Train and test images have different channel counts.
    #[error("train images have {train} channels but test images have {test}")]
    ChannelMismatch {
        /// Channels of the training images.
        train: usize,
        /// Channels of the test images.
        test: usize,
    },
    /// A label is not below the task's number of classes.
    #[error("the task's {split} split has label {label}, outside 0..{way}")]
    Label {
        /// `"train"` or `"test"`.
        split: &'static str,
        /// The offending label.
        label: usize,
        /// Number of classes.
        way: usize,
    },
    /// A trained network cannot be tested on a task: it takes other images or predicts
    /// another number of classes ([`test_network`](crate::test_network)).
    #[error(
        "the network takes {}-channel {}×{} images and predicts {} classes; the task has \
         {}-channel {}×{} images and {} classes (test it on the task it was trained on)",
        network.0, network.1, network.1, network.2, task.0, task.1, task.1, task.2
    )]
    NetworkMismatch {
        /// The network's (input channels, resolution, classes).
        network: (usize, usize, usize),
        /// The task's (channels, the protocol's resolution, classes).
        task: (usize, usize, usize),
    },
    /// The trained weights could not be serialised.
    #[error("cannot serialise the trained weights: {0}")]
    Record(String),
}
