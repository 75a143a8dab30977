//! Task images on the device, and the deterministic batch order.

use burn::tensor::{backend::Backend, Int, Tensor, TensorData};
use datasets::Images;
use rand::RngCore;

use crate::error::TrainError;

/// One split of a task as device tensors: images `[n, c, h, w]` and labels `[n]`.
pub(crate) struct DeviceImages<B: Backend> {
    pub images: Tensor<B, 4>,
    pub labels: Tensor<B, 1, Int>,
}

impl<B: Backend> DeviceImages<B> {
    /// Uploads a (checked) split.
    pub fn upload(split: &Images, device: &B::Device) -> Self {
        let n = split.len();
        let shape = [n, split.channels, split.height, split.width];
        let images = Tensor::from_data(TensorData::new(split.data.clone(), shape), device);
        let labels: Vec<i64> = split.labels.iter().map(|&l| l as i64).collect();
        let labels = Tensor::from_data(TensorData::new(labels, [n]), device);
        Self { images, labels }
    }

    pub fn len(&self) -> usize {
        self.labels.dims()[0]
    }

    /// The images and labels at `indices`.
    pub fn select(&self, indices: &[usize]) -> (Tensor<B, 4>, Tensor<B, 1, Int>) {
        let device = self.labels.device();
        let idx: Vec<i64> = indices.iter().map(|&i| i as i64).collect();
        let idx = Tensor::<B, 1, Int>::from_data(TensorData::new(idx, [indices.len()]), &device);
        (
            self.images.clone().select(0, idx.clone()),
            self.labels.clone().select(0, idx),
        )
    }

    /// Consecutive batches of at most `batch_size` images, in order.
    pub fn chunks(
        &self,
        batch_size: usize,
    ) -> impl Iterator<Item = (Tensor<B, 4>, Tensor<B, 1, Int>)> + '_ {
        let n = self.len();
        (0..n).step_by(batch_size).map(move |start| {
            let len = batch_size.min(n - start);
            (
                self.images.clone().narrow(0, start, len),
                self.labels.clone().narrow(0, start, len),
            )
        })
    }
}

/// Checks one split: shape, buffer length and labels.
pub(crate) fn check_split(
    split: &Images,
    name: &'static str,
    resolution: usize,
    way: usize,
    min_images: usize,
) -> Result<(), TrainError> {
    if split.len() < min_images {
        return Err(TrainError::TooFewImages {
            split: name,
            images: split.len(),
            needed: min_images,
        });
    }
    if split.channels == 0 || split.height != resolution || split.width != resolution {
        return Err(TrainError::Shape {
            split: name,
            channels: split.channels,
            height: split.height,
            width: split.width,
            resolution,
        });
    }
    if split.data.len() != split.len() * split.image_len() {
        return Err(TrainError::MalformedImages {
            split: name,
            values: split.data.len(),
            images: split.len(),
            channels: split.channels,
            height: split.height,
            width: split.width,
        });
    }
    if let Some(&label) = split.labels.iter().find(|&&l| l >= way) {
        return Err(TrainError::Label {
            split: name,
            label,
            way,
        });
    }
    Ok(())
}

/// Fisher–Yates shuffle driven by raw 64-bit outputs, so that the order depends only on the
/// generator's stream (stable across `rand` versions), not on `rand`'s sampling algorithms.
pub(crate) fn shuffle<R: RngCore>(items: &mut [usize], rng: &mut R) {
    for i in (1..items.len()).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn images(n: usize, c: usize, side: usize) -> Images {
        Images {
            data: vec![0.0; n * c * side * side],
            labels: (0..n).map(|i| i % 2).collect(),
            channels: c,
            height: side,
            width: side,
        }
    }

    #[test]
    fn shuffle_is_a_deterministic_permutation() {
        let mut a: Vec<usize> = (0..100).collect();
        let mut b = a.clone();
        shuffle(&mut a, &mut ChaCha8Rng::seed_from_u64(3));
        shuffle(&mut b, &mut ChaCha8Rng::seed_from_u64(3));
        assert_eq!(a, b);
        assert_ne!(a, (0..100).collect::<Vec<_>>());
        a.sort_unstable();
        assert_eq!(a, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn check_split_reports_each_problem() {
        assert_eq!(check_split(&images(4, 1, 8), "train", 8, 2, 2), Ok(()));
        assert!(matches!(
            check_split(&images(1, 1, 8), "train", 8, 2, 2),
            Err(TrainError::TooFewImages { images: 1, .. })
        ));
        assert!(matches!(
            check_split(&images(4, 1, 12), "test", 8, 2, 1),
            Err(TrainError::Shape { height: 12, .. })
        ));
        let mut short = images(4, 1, 8);
        short.data.pop();
        assert!(matches!(
            check_split(&short, "train", 8, 2, 2),
            Err(TrainError::MalformedImages { .. })
        ));
        assert!(matches!(
            check_split(&images(4, 1, 8), "train", 8, 1, 2),
            Err(TrainError::Label {
                label: 1,
                way: 1,
                ..
            })
        ));
    }
}
