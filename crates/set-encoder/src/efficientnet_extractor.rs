//! [`EfficientNetExtractor`]: ImageNet-pretrained EfficientNet-Lite0's 1280-d penultimate
//! features as a [`FeatureExtractor`].

use std::path::Path;

use burn::tensor::{backend::Backend, Tensor, TensorData};
use datasets::{
    check_images, resize, ExtractError, FeatureExtractor, Features, Images, SourceImage,
};

use crate::efficientnet::{EfficientNetLite0, FEATURE_DIM};
use crate::efficientnet_weights::{self, SAFETENSORS_SHA256};
use crate::error::Result;

/// Side images are resized to by default: the resolution the network was trained at on
/// ImageNet. Not chosen by meta-test quality (that comparison needs a MetaD2A bundle trained on
/// these features); [`EfficientNetExtractor::with_resolution`] picks another.
pub const DEFAULT_RESOLUTION: usize = 224;

/// Images per forward pass by default. At 224×224 the widest activation of a batch of 8,
/// `[8, 96, 112, 112]`, is 39 MB of f32; on the 2-core CPU batches of 8 extracted 14.5 and
/// 16.4 images/s against 12.2 and 10.2 for batches of 32 (two alternated runs each, under load:
/// larger batches spend their extra time in page faults). At 64 px batches of 4, 8 and 16 were
/// within about 10% of each other (16 fastest).
pub const DEFAULT_BATCH_SIZE: usize = 8;

/// EfficientNet-Lite0 with ImageNet weights: `dim = 1280` features per image.
///
/// Input: [`Images`] normalised like training tasks (`Normalization::Fixed`, values in
/// `-1..=1` for pixels `0..=1`). Each image is made RGB (grayscale repeated into three channels;
/// a count other than 1 or 3 is averaged to gray first), resized to
/// [`resolution`](Self::resolution)² ([`datasets::resize`]: area averaging down, bilinear up) and
/// mapped to the network's input `(p − 127) / 128` for 8-bit pixels `p = 255 (v + 1) / 2`.
///
/// The weights are not in the repository (18.8 MB, Apache-2.0): `bash scripts/setup-data.sh`
/// installs them; [`pretrained`](Self::pretrained) reads them from the data folder and returns
/// an error naming that command when they are missing or differ (see
/// [`efficientnet_weights`](crate::efficientnet_weights)).
///
/// The id, `efficientnet-lite0-{resolution}px-{first 16 hex digits of the weights' SHA-256}`,
/// differs from the small CNN's `cnn-v1-...` and changes with the resolution, so caches and
/// bundles never mix the two.
///
/// ```no_run
/// use burn::backend::Flex;
/// use datasets::{FeatureExtractor, Images};
/// use set_encoder::EfficientNetExtractor;
/// let extractor = EfficientNetExtractor::<Flex>::pretrained(&Default::default())?.with_resolution(64);
/// let images = Images { data: vec![0.0; 2 * 28 * 28], labels: vec![0, 1], channels: 1, height: 28, width: 28 };
/// let features = extractor.extract(&images).unwrap();
/// assert_eq!((features.len(), features.dim), (2, 1280));
/// # Ok::<(), set_encoder::SetEncoderError>(())
/// ```
#[derive(Debug)]
pub struct EfficientNetExtractor<B: Backend> {
    net: EfficientNetLite0<B>,
    device: B::Device,
    resolution: usize,
    batch_size: usize,
    weights_id: String,
}

impl<B: Backend> EfficientNetExtractor<B> {
    /// The ImageNet network from the data folder
    /// ([`efficientnet_weights::default_path`]), checked, on `device`.
    pub fn pretrained(device: &B::Device) -> Result<Self> {
        Self::from_file(&efficientnet_weights::default_path(), device)
    }

    /// The ImageNet network from the converted safetensors file at `path` (its SHA-256 is
    /// checked against [`SAFETENSORS_SHA256`]).
    pub fn from_file(path: &Path, device: &B::Device) -> Result<Self> {
        let net = efficientnet_weights::load_file(path, device)?;
        Ok(Self::new(net, &SAFETENSORS_SHA256[..16], device))
    }

    /// Wraps any network; `weights_id` must change whenever its weights do (the extractor's
    /// [`id`](FeatureExtractor::id) is built from it).
    pub fn new(
        net: EfficientNetLite0<B>,
        weights_id: impl Into<String>,
        device: &B::Device,
    ) -> Self {
        Self {
            net,
            device: device.clone(),
            resolution: DEFAULT_RESOLUTION,
            batch_size: DEFAULT_BATCH_SIZE,
            weights_id: weights_id.into(),
        }
    }

    /// Sets the side images are resized to (at least 1; default [`DEFAULT_RESOLUTION`]).
    pub fn with_resolution(mut self, resolution: usize) -> Self {
        self.resolution = resolution.max(1);
        self
    }

    /// Sets the images per forward pass (at least 1).
    pub fn with_batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size.max(1);
        self
    }

    /// The side images are resized to.
    pub fn resolution(&self) -> usize {
        self.resolution
    }

    /// The network.
    pub fn net(&self) -> &EfficientNetLite0<B> {
        &self.net
    }

    /// The network's input for `images`: `[n, 3, resolution, resolution]` row-major (see the
    /// type's docs for the mapping).
    pub fn input(&self, images: &Images) -> std::result::Result<Vec<f32>, ExtractError> {
        check_images(images, &self.id())?;
        let (c, h, w) = (images.channels, images.height, images.width);
        let side = self.resolution;
        let plane = h * w;
        let mut out = Vec::with_capacity(images.len() * 3 * side * side);
        for i in 0..images.len() {
            let image = images.image(i);
            let pixels = match c {
                3 => image.to_vec(),
                1 => image.repeat(3),
                _ => {
                    let scale = 1.0 / c as f32;
                    let gray: Vec<f32> = (0..plane)
                        .map(|p| (0..c).map(|ch| image[ch * plane + p]).sum::<f32>() * scale)
                        .collect();
                    gray.repeat(3)
                }
            };
            let rgb = SourceImage {
                channels: 3,
                width: w,
                height: h,
                pixels,
            };
            // v in -1..=1 → p = 127.5 (v + 1) → (p − 127) / 128.
            out.extend(
                resize(&rgb, side, side)
                    .pixels
                    .into_iter()
                    .map(|v| (127.5 * v + 0.5) / 128.0),
            );
        }
        Ok(out)
    }

    /// Runs `head` on the network's input for `images`, in batches; `dim` values per image.
    fn run(
        &self,
        images: &Images,
        dim: usize,
        head: impl Fn(Tensor<B, 4>) -> Tensor<B, 2>,
    ) -> std::result::Result<Features, ExtractError> {
        let input = self.input(images)?;
        let side = self.resolution;
        let image_len = 3 * side * side;
        let mut data = Vec::with_capacity(images.len() * dim);
        for chunk in input.chunks(self.batch_size * image_len) {
            let n = chunk.len() / image_len;
            let x = Tensor::<B, 4>::from_data(
                TensorData::new(chunk.to_vec(), [n, 3, side, side]),
                &self.device,
            );
            let values =
                head(x)
                    .into_data()
                    .to_vec::<f32>()
                    .map_err(|e| ExtractError::Extractor {
                        extractor: self.id(),
                        message: format!("{e:?}"),
                    })?;
            data.extend(values);
        }
        Ok(Features {
            data,
            labels: images.labels.clone(),
            dim,
        })
    }

    /// ImageNet class logits of `images` (`dim` = 1000), prepared as for
    /// [`extract`](FeatureExtractor::extract).
    pub fn logits(&self, images: &Images) -> std::result::Result<Features, ExtractError> {
        self.run(images, self.net.num_classes(), |x| self.net.forward(x))
    }
}

impl<B: Backend> FeatureExtractor for EfficientNetExtractor<B> {
    fn id(&self) -> String {
        format!(
            "efficientnet-lite0-{}px-{}",
            self.resolution, self.weights_id
        )
    }

    fn dim(&self) -> usize {
        FEATURE_DIM
    }

    fn extract(&self, images: &Images) -> std::result::Result<Features, ExtractError> {
        self.run(images, FEATURE_DIM, |x| self.net.features(x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::efficientnet::EfficientNetLite0Config;
    use burn::backend::Flex;

    fn extractor() -> EfficientNetExtractor<Flex> {
        let device = Default::default();
        let net = EfficientNetLite0Config::new()
            .with_num_classes(4)
            .init::<Flex>(&device);
        EfficientNetExtractor::new(net, "random", &device).with_resolution(16)
    }

    #[test]
    fn gray_is_replicated_and_pixels_mapped_like_the_checkpoint() {
        let e = extractor().with_resolution(2);
        // One 2×2 gray image with 8-bit values 0, 127, 255, 64 (Fixed normalisation).
        let eight_bit = [0.0f32, 127.0, 255.0, 64.0];
        let gray = Images {
            data: eight_bit.iter().map(|p| p / 255.0 * 2.0 - 1.0).collect(),
            labels: vec![0],
            channels: 1,
            height: 2,
            width: 2,
        };
        let input = e.input(&gray).unwrap();
        assert_eq!(input.len(), 12);
        for (c, plane) in input.chunks(4).enumerate() {
            for (x, p) in plane.iter().zip(eight_bit) {
                assert!(
                    (x - (p - 127.0) / 128.0).abs() < 1e-6,
                    "channel {c}: {x} for {p}"
                );
            }
        }
        let rgb = Images {
            data: gray.data.repeat(3),
            channels: 3,
            ..gray.clone()
        };
        assert_eq!(e.input(&rgb).unwrap(), input);
    }

    #[test]
    fn batches_rows_labels_and_ids() {
        let e = extractor();
        let images = Images {
            data: (0..5 * 3 * 10 * 12)
                .map(|i| ((i % 13) as f32 / 6.0) - 1.0)
                .collect(),
            labels: vec![0, 1, 0, 1, 2],
            channels: 3,
            height: 10,
            width: 12,
        };
        let whole = e.extract(&images).unwrap();
        assert_eq!((whole.len(), whole.dim), (5, FEATURE_DIM));
        assert_eq!(whole.labels, images.labels);
        let batched = EfficientNetExtractor::new(e.net().clone(), "random", &Default::default())
            .with_resolution(16)
            .with_batch_size(2)
            .extract(&images)
            .unwrap();
        for (a, b) in whole.data.iter().zip(&batched.data) {
            assert!((a - b).abs() <= 1e-5 * (1.0 + a.abs()), "{a} vs {b}");
        }
        assert_eq!(e.logits(&images).unwrap().dim, 4);
        assert_eq!(e.id(), "efficientnet-lite0-16px-random");
        assert_ne!(e.id(), extractor().with_resolution(32).id());
        let bad = Images {
            data: vec![0.0; 7],
            ..images
        };
        assert!(matches!(
            e.extract(&bad),
            Err(ExtractError::BadImages { .. })
        ));
    }
}
