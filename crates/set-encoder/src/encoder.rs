//! [`SetEncoder`]: MetaD2A's two-level dataset encoder (images → class prototypes → latent).

use burn::config::Config;
use burn::module::Module;
use burn::tensor::{backend::Backend, Bool, Tensor};
use datasets::Features;

use crate::batch::SetBatch;
use crate::error::{Result, SetEncoderError};
use crate::init::mix;
use crate::mask::zero_invalid_rows;
use crate::set_pool::{SetBlockKind, SetPool, SetPoolConfig};

/// Configuration of a [`SetEncoder`]. Defaults are MetaD2A's: 56-d hidden width, prototypes
/// and latent, 4 heads, two SABs per level.
///
/// ```
/// use burn::backend::Flex;
/// use set_encoder::{SetBatch, SetEncoderConfig};
/// let device = Default::default();
/// let encoder = SetEncoderConfig::new(3).init::<Flex>(&device);
/// // One task: 2 classes of 2 and 1 images, 3 features each.
/// let task = vec![vec![vec![0.1, 0.2, 0.3, 0.4, 0.5, 0.6], vec![1.0, 0.0, -1.0]]];
/// let latent = encoder.encode(&SetBatch::from_classes(3, &task, &device)?)?;
/// assert_eq!(latent.dims(), [1, 56]);
/// # Ok::<(), set_encoder::SetEncoderError>(())
/// ```
#[derive(Config, Debug)]
pub struct SetEncoderConfig {
    /// Width of the image features (MetaD2A: 512, ResNet18's; ours: the extractor's dim).
    pub input_dim: usize,
    /// Width inside both levels' blocks and of the class prototypes (MetaD2A: 56);
    /// a multiple of `num_heads`.
    #[config(default = 56)]
    pub hidden_dim: usize,
    /// Width of the dataset latent (MetaD2A: 56).
    #[config(default = 56)]
    pub latent_dim: usize,
    /// Attention heads of every block (MetaD2A: 4).
    #[config(default = 4)]
    pub num_heads: usize,
    /// Equivariant blocks per level (MetaD2A: 2).
    #[config(default = 2)]
    pub depth: usize,
    /// The equivariant block of both levels (MetaD2A: SAB).
    #[config(default = "SetBlockKind::Sab")]
    pub block: SetBlockKind,
    /// Seed of the initial weights.
    #[config(default = 0)]
    pub seed: u64,
}

/// MetaD2A's dataset encoder: a task (a set of classes, each a set of images) → one latent.
///
/// ```text
/// features [tasks, classes, images, input_dim]
///   → per class:  SetPool (blocks → PMA(1 seed) → Linear)   [tasks, classes, hidden_dim]  prototypes
///   → per task:   SetPool over the prototypes               [tasks, latent_dim]           latent
/// ```
///
/// Invariant to the order of the images within each class and to the order of the classes.
/// Where we differ from the reference (`SetPool` in `set_encoder/setenc_models.py`, used one task
/// at a time with exactly 20 images per class):
/// - **batching with masks**: many tasks of different class counts and class sizes share one
///   padded tensor; masked keys get [`MASKED_LOGIT`](crate::mask::MASKED_LOGIT) and padded rows
///   are zeroed, so a task's latent does not depend on what it is batched with. Without padding
///   the computation is the reference's.
/// - **inputs**: our own extractors' features (64-d CNN or resized pixels) instead of
///   ImageNet-ResNet18's 512-d, hence `input_dim` is a parameter.
/// - **initialisation**: the same distributions as PyTorch's, drawn from our seeded streams.
/// - **configurable** depth, widths, heads and SAB/ISAB (the reference fixes `sabPF`).
#[derive(Module, Debug)]
pub struct SetEncoder<B: Backend> {
    /// Per class: images → prototype (MetaD2A's `intra_setpool`).
    pub intra: SetPool<B>,
    /// Per task: prototypes → latent (MetaD2A's `inter_setpool`).
    pub inter: SetPool<B>,
}

impl SetEncoderConfig {
    fn level(&self, input_dim: usize, output_dim: usize, seed: u64) -> SetPoolConfig {
        SetPoolConfig::new(input_dim)
            .with_hidden_dim(self.hidden_dim)
            .with_output_dim(output_dim)
            .with_num_heads(self.num_heads)
            .with_depth(self.depth)
            .with_block(self.block)
            .with_num_seeds(1)
            .with_seed(seed)
    }

    fn levels(&self) -> (SetPoolConfig, SetPoolConfig) {
        (
            self.level(self.input_dim, self.hidden_dim, mix(self.seed, 0)),
            self.level(self.hidden_dim, self.latent_dim, mix(self.seed, 1)),
        )
    }

    /// Checks that the configuration can build an encoder.
    pub fn validate(&self) -> Result<()> {
        if self.latent_dim == 0 {
            return Err(SetEncoderError::ZeroSize { what: "latent_dim" });
        }
        let (intra, inter) = self.levels();
        intra.validate()?;
        inter.validate()
    }

    /// Builds the encoder, or says why the configuration cannot.
    pub fn try_init<B: Backend>(&self, device: &B::Device) -> Result<SetEncoder<B>> {
        self.validate()?;
        let (intra, inter) = self.levels();
        Ok(SetEncoder {
            intra: intra.try_init(device)?,
            inter: inter.try_init(device)?,
        })
    }

    /// Builds the encoder.
    ///
    /// # Panics
    /// If the configuration is invalid (see [`validate`](Self::validate)).
    pub fn init<B: Backend>(&self, device: &B::Device) -> SetEncoder<B> {
        self.try_init(device)
            .unwrap_or_else(|e| panic!("invalid SetEncoderConfig: {e}"))
    }
}

impl<B: Backend> SetEncoder<B> {
    /// Width of the image features it takes.
    pub fn input_dim(&self) -> usize {
        self.intra.input_dim()
    }

    /// Width of the class prototypes.
    pub fn prototype_dim(&self) -> usize {
        self.intra.output_dim()
    }

    /// Width of the latent.
    pub fn latent_dim(&self) -> usize {
        self.inter.output_dim()
    }

    /// The latent of every task of `batch`: `[tasks, latent_dim]`.
    ///
    /// Errors: [`FeatureDim`](SetEncoderError::FeatureDim) if the batch's features are not
    /// `input_dim` wide. Masks are skipped when nothing is padded.
    pub fn encode(&self, batch: &SetBatch<B>) -> Result<Tensor<B, 2>> {
        if batch.dim() != self.input_dim() {
            return Err(SetEncoderError::FeatureDim {
                expected: self.input_dim(),
                found: batch.dim(),
            });
        }
        let features = batch.features().clone();
        Ok(if batch.is_dense() {
            self.forward(features, None, None)
        } else {
            self.forward(
                features,
                Some(batch.image_valid().clone()),
                Some(batch.class_valid().clone()),
            )
        })
    }

    /// The latents of tasks given as extracted features (one [`Features`] per task, classes by
    /// label): [`SetBatch::from_features`] then [`encode`](Self::encode).
    pub fn encode_features(&self, tasks: &[&Features]) -> Result<Tensor<B, 2>> {
        let device = self.devices().into_iter().next().unwrap_or_default();
        self.encode(&SetBatch::from_features(tasks, &device)?)
    }

    /// The class prototypes of every task: `[tasks, max_classes, hidden_dim]`, zero for padded
    /// classes.
    ///
    /// - `features`: `[tasks, classes, images, input_dim]`
    /// - `image_valid`: `[tasks, classes, images]`; `None` = all real
    /// - `class_valid`: `[tasks, classes]`; `None` = all real
    pub fn prototypes(
        &self,
        features: Tensor<B, 4>,
        image_valid: Option<Tensor<B, 3, Bool>>,
        class_valid: Option<&Tensor<B, 2, Bool>>,
    ) -> Tensor<B, 3> {
        let [tasks, classes, images, dim] = features.dims();
        assert_eq!(dim, self.input_dim(), "SetEncoder: feature width");
        if let Some(mask) = &image_valid {
            assert_eq!(
                mask.dims(),
                [tasks, classes, images],
                "SetEncoder: image mask"
            );
        }
        let sets = features.reshape([tasks * classes, images, dim]);
        let image_valid = image_valid.map(|m| m.reshape([tasks * classes, images]));
        let prototypes = self.intra.forward(sets, image_valid.as_ref()).reshape([
            tasks,
            classes,
            self.prototype_dim(),
        ]);
        match class_valid {
            Some(valid) => zero_invalid_rows(prototypes, valid),
            None => prototypes,
        }
    }

    /// Encodes padded tasks.
    ///
    /// - `features`: `[tasks, classes, images, input_dim]`, padding anywhere the masks say
    /// - `image_valid`: `[tasks, classes, images]`, `true` for real images; `None` = all real
    /// - `class_valid`: `[tasks, classes]`, `true` for real classes; `None` = all real
    /// - output: `[tasks, latent_dim]`
    ///
    /// Every real class needs a real image (see [`SetBatch`], which checks this).
    pub fn forward(
        &self,
        features: Tensor<B, 4>,
        image_valid: Option<Tensor<B, 3, Bool>>,
        class_valid: Option<Tensor<B, 2, Bool>>,
    ) -> Tensor<B, 2> {
        let [tasks, classes, _, _] = features.dims();
        if let Some(mask) = &class_valid {
            assert_eq!(mask.dims(), [tasks, classes], "SetEncoder: class mask");
        }
        let prototypes = self.prototypes(features, image_valid, class_valid.as_ref());
        self.inter
            .forward(prototypes, class_valid.as_ref())
            .reshape([tasks, self.latent_dim()])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;

    type B = Flex;

    #[test]
    fn defaults_are_metad2a() {
        let encoder = SetEncoderConfig::new(512).init::<B>(&Default::default());
        assert_eq!(encoder.input_dim(), 512);
        assert_eq!(encoder.prototype_dim(), 56);
        assert_eq!(encoder.latent_dim(), 56);
        assert_eq!(encoder.intra.blocks.len(), 2);
        assert!(matches!(encoder.intra.blocks[0], crate::SetBlock::Sab(_)));
        assert_eq!(encoder.intra.pma.seeds.shape().dims::<3>(), [1, 1, 56]);
    }

    #[test]
    fn invalid_configs_are_typed_errors() {
        assert_eq!(
            SetEncoderConfig::new(8).with_hidden_dim(10).validate(),
            Err(SetEncoderError::HeadsDoNotDivide { dim: 10, heads: 4 })
        );
        assert_eq!(
            SetEncoderConfig::new(0).validate(),
            Err(SetEncoderError::ZeroSize { what: "input_dim" })
        );
        assert_eq!(
            SetEncoderConfig::new(8).with_depth(0).validate(),
            Err(SetEncoderError::ZeroSize { what: "depth" })
        );
        assert_eq!(
            SetEncoderConfig::new(8).with_latent_dim(0).validate(),
            Err(SetEncoderError::ZeroSize { what: "latent_dim" })
        );
        assert_eq!(
            SetEncoderConfig::new(8)
                .with_block(SetBlockKind::Isab(0))
                .validate(),
            Err(SetEncoderError::ZeroSize {
                what: "num_inducing"
            })
        );
    }

    #[test]
    fn wrong_feature_width_is_an_error() {
        let device = Default::default();
        let encoder = SetEncoderConfig::new(4)
            .with_hidden_dim(8)
            .init::<B>(&device);
        let batch =
            SetBatch::<B>::from_classes(3, &[vec![vec![0.0; 3], vec![1.0; 3]]], &device).unwrap();
        assert_eq!(
            encoder.encode(&batch).unwrap_err(),
            SetEncoderError::FeatureDim {
                expected: 4,
                found: 3
            }
        );
    }

    #[test]
    fn same_seed_same_weights() {
        let device = Default::default();
        let config = SetEncoderConfig::new(3)
            .with_hidden_dim(8)
            .with_latent_dim(4)
            .with_seed(9);
        let batch =
            SetBatch::<B>::from_classes(3, &[vec![vec![0.5, 0.1, -0.2], vec![1.0; 3]]], &device)
                .unwrap();
        let a: Vec<f32> = config
            .init::<B>(&device)
            .encode(&batch)
            .unwrap()
            .into_data()
            .to_vec()
            .unwrap();
        let b: Vec<f32> = config
            .init::<B>(&device)
            .encode(&batch)
            .unwrap()
            .into_data()
            .to_vec()
            .unwrap();
        let c: Vec<f32> = config
            .clone()
            .with_seed(10)
            .init::<B>(&device)
            .encode(&batch)
            .unwrap()
            .into_data()
            .to_vec()
            .unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
