//! [`CnnExtractor`]: the pretrained [`FeatureCnn`] as a [`FeatureExtractor`].

use burn::config::Config;
use burn::module::Module;
use burn::record::{FullPrecisionSettings, NamedMpkBytesRecorder, Recorder};
use burn::tensor::{backend::Backend, Tensor, TensorData};
use datasets::{check_images, gray_planes, ExtractError, FeatureExtractor, Features, Images};

use crate::error::{Result, SetEncoderError};
use crate::feature_cnn::{FeatureCnn, FeatureCnnConfig};

/// The shipped CNN weights (Burn named MessagePack record, full precision), trained by
/// `cargo run --release -p set-encoder --bin train-feature-cnn`; see
/// [`cnn_training`](crate::cnn_training) for the data.
pub const PRETRAINED_WEIGHTS: &[u8] = include_bytes!("../weights/feature_cnn.mpk");

/// The configuration the shipped weights were trained with (JSON).
pub const PRETRAINED_CONFIG: &str = include_str!("../weights/feature_cnn.json");

/// Images per forward pass by default.
pub const DEFAULT_BATCH_SIZE: usize = 256;

/// A [`FeatureCnn`]'s embedding as image features (`dim = embedding_dim`, 64 for the shipped
/// network).
///
/// Images of any size and channel count are brought to the network's input by
/// [`gray_planes`] (channels averaged, resized); they should be normalised
/// like training tasks were (`Normalization::Fixed`, the default). Extraction runs in batches of
/// [`batch_size`](Self::with_batch_size) images on the extractor's device.
///
/// ```
/// use burn::backend::Flex;
/// use datasets::{FeatureExtractor, Images};
/// use set_encoder::CnnExtractor;
/// let extractor = CnnExtractor::<Flex>::pretrained(&Default::default())?;
/// let images = Images { data: vec![-1.0; 3 * 28 * 28], labels: vec![0, 1, 2], channels: 1, height: 28, width: 28 };
/// let features = extractor.extract(&images).unwrap();
/// assert_eq!((features.len(), features.dim), (3, 64));
/// # Ok::<(), set_encoder::SetEncoderError>(())
/// ```
#[derive(Debug)]
pub struct CnnExtractor<B: Backend> {
    cnn: FeatureCnn<B>,
    device: B::Device,
    batch_size: usize,
    id: String,
}

impl<B: Backend> CnnExtractor<B> {
    /// The network shipped in `crates/set-encoder/weights/`, on `device`.
    pub fn pretrained(device: &B::Device) -> Result<Self> {
        let config = FeatureCnnConfig::load_binary(PRETRAINED_CONFIG.as_bytes()).map_err(|e| {
            SetEncoderError::Weights {
                name: "feature_cnn.json".into(),
                message: e.to_string(),
            }
        })?;
        Self::from_record(&config, PRETRAINED_WEIGHTS, "feature_cnn.mpk", device)
    }

    /// A network built from `config` with the weights of `record` (bytes written by
    /// [`record_bytes`]); `name` names them in errors.
    pub fn from_record(
        config: &FeatureCnnConfig,
        record: &[u8],
        name: &str,
        device: &B::Device,
    ) -> Result<Self> {
        let weights_error = |message: String| SetEncoderError::Weights {
            name: name.to_string(),
            message,
        };
        if record.is_empty() {
            return Err(weights_error(
                "the file is empty; train it with `cargo run --release -p set-encoder --bin \
                 train-feature-cnn`"
                    .into(),
            ));
        }
        let loaded = NamedMpkBytesRecorder::<FullPrecisionSettings>::default()
            .load(record.to_vec(), device)
            .map_err(|e| weights_error(e.to_string()))?;
        let cnn = config.try_init::<B>(device)?.load_record(loaded);
        let id = format!(
            "cnn-v1-{:016x}",
            fnv1a(config_json(config).as_bytes(), fnv1a(record, FNV_OFFSET))
        );
        Ok(Self::new(cnn, id, device))
    }

    /// Wraps any network; `id` must change whenever its weights do (caches key on it).
    pub fn new(cnn: FeatureCnn<B>, id: impl Into<String>, device: &B::Device) -> Self {
        Self {
            cnn,
            device: device.clone(),
            batch_size: DEFAULT_BATCH_SIZE,
            id: id.into(),
        }
    }

    /// Sets the images per forward pass (at least 1).
    pub fn with_batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size.max(1);
        self
    }

    /// The network.
    pub fn cnn(&self) -> &FeatureCnn<B> {
        &self.cnn
    }
}

/// The bytes [`CnnExtractor::from_record`] reads: `cnn`'s record in Burn's named MessagePack
/// format, full precision.
pub fn record_bytes<B: Backend>(cnn: &FeatureCnn<B>) -> Result<Vec<u8>> {
    NamedMpkBytesRecorder::<FullPrecisionSettings>::default()
        .record(cnn.clone().into_record(), ())
        .map_err(|e| SetEncoderError::Weights {
            name: "record".into(),
            message: e.to_string(),
        })
}

fn config_json(config: &FeatureCnnConfig) -> String {
    burn::config::config_to_json(config)
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a over `bytes`, continuing from `hash`.
fn fnv1a(bytes: &[u8], hash: u64) -> u64 {
    bytes.iter().fold(hash, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

impl<B: Backend> FeatureExtractor for CnnExtractor<B> {
    fn id(&self) -> String {
        self.id.clone()
    }

    fn dim(&self) -> usize {
        self.cnn.embedding_dim()
    }

    fn extract(&self, images: &Images) -> std::result::Result<Features, ExtractError> {
        check_images(images, &self.id)?;
        let side = self.cnn.resolution;
        let plane = side * side;
        let planes = gray_planes(images, side);
        let mut data = Vec::with_capacity(images.len() * self.dim());
        for chunk in planes.chunks(self.batch_size * plane) {
            let n = chunk.len() / plane;
            let input = Tensor::<B, 4>::from_data(
                TensorData::new(chunk.to_vec(), [n, 1, side, side]),
                &self.device,
            );
            let out = self.cnn.forward(input).into_data();
            let values = out.to_vec::<f32>().map_err(|e| ExtractError::Extractor {
                extractor: self.id.clone(),
                message: format!("{e:?}"),
            })?;
            data.extend(values);
        }
        Ok(Features {
            data,
            labels: images.labels.clone(),
            dim: self.dim(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;

    #[test]
    fn records_round_trip_and_ids_follow_weights() {
        let device = Default::default();
        let config = FeatureCnnConfig::new()
            .with_resolution(8)
            .with_widths([2, 2, 2])
            .with_embedding_dim(3);
        let a = config.clone().with_seed(1).init::<Flex>(&device);
        let b = config.clone().with_seed(2).init::<Flex>(&device);
        let (ra, rb) = (record_bytes(&a).unwrap(), record_bytes(&b).unwrap());
        let ea = CnnExtractor::<Flex>::from_record(&config, &ra, "a", &device).unwrap();
        let eb = CnnExtractor::<Flex>::from_record(&config, &rb, "b", &device).unwrap();
        assert_ne!(ea.id(), eb.id());
        let images = Images {
            data: (0..5 * 64).map(|i| (i % 7) as f32 / 7.0).collect(),
            labels: vec![0, 1, 0, 1, 2],
            channels: 1,
            height: 8,
            width: 8,
        };
        let direct: Vec<f32> = a
            .forward(Tensor::from_data(
                TensorData::new(images.data.clone(), [5, 1, 8, 8]),
                &device,
            ))
            .into_data()
            .to_vec()
            .unwrap();
        let extracted = ea.with_batch_size(2).extract(&images).unwrap();
        assert_eq!(extracted.labels, images.labels);
        assert_eq!(extracted.data, direct, "batched extraction equals one pass");
        assert!(matches!(
            CnnExtractor::<Flex>::from_record(&config, &[], "empty", &device),
            Err(SetEncoderError::Weights { .. })
        ));
    }
}
