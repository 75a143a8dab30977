//! [`Minibatch`]: the images a proxy looks at, drawn from a task with a seed.

use burn::tensor::{backend::Backend, Int, Tensor, TensorData};
use datasets::{Images, Task};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::error::{ProxyError, Result};

/// One minibatch of labelled images on a device, as the proxies take it.
///
/// - `images`: `[batch, channels, side, side]` (normalised as the task normalises them)
/// - `labels`: `[batch]`, each in `0..num_classes`
#[derive(Clone, Debug)]
pub struct Minibatch<B: Backend> {
    /// The images, `[batch, channels, side, side]`.
    pub images: Tensor<B, 4>,
    /// The labels, `[batch]`.
    pub labels: Tensor<B, 1, Int>,
    /// Classes of the task (the classifier's outputs), which the labels index.
    pub num_classes: usize,
    /// Which images of the source set were drawn, in batch order.
    pub indices: Vec<usize>,
}

impl<B: Backend> Minibatch<B> {
    /// Draws `size` distinct images of `task.train`, in an order fixed by `seed` (see
    /// [`Self::draw`]).
    pub fn from_task(task: &Task, size: usize, seed: u64, device: &B::Device) -> Result<Self> {
        Self::draw(&task.train, task.way(), size, seed, device)
    }

    /// Draws `size` distinct images of `images` in an order fixed by `seed` (ChaCha8, the
    /// generator the datasets crate draws tasks with).
    ///
    /// ```
    /// use burn::backend::Flex;
    /// use datasets::Images;
    /// use meta_predictor::proxies::Minibatch;
    ///
    /// let images = Images {
    ///     data: vec![0.0; 6 * 4 * 4],
    ///     labels: vec![0, 0, 1, 1, 2, 2],
    ///     channels: 1,
    ///     height: 4,
    ///     width: 4,
    /// };
    /// let a = Minibatch::<Flex>::draw(&images, 3, 4, 7, &Default::default()).unwrap();
    /// let b = Minibatch::<Flex>::draw(&images, 3, 4, 7, &Default::default()).unwrap();
    /// assert_eq!(a.indices, b.indices);
    /// assert_eq!(a.images.dims(), [4, 1, 4, 4]);
    /// ```
    pub fn draw(
        images: &Images,
        num_classes: usize,
        size: usize,
        seed: u64,
        device: &B::Device,
    ) -> Result<Self> {
        if size > images.len() {
            return Err(ProxyError::NotEnoughImages {
                requested: size,
                available: images.len(),
            });
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let indices = rand::seq::index::sample(&mut rng, images.len(), size).into_vec();
        Self::select(images, num_classes, &indices, device)
    }

    /// The images `indices` of `images`, in that order.
    ///
    /// # Panics
    /// If an index is out of range.
    pub fn select(
        images: &Images,
        num_classes: usize,
        indices: &[usize],
        device: &B::Device,
    ) -> Result<Self> {
        if images.height != images.width {
            return Err(ProxyError::NotSquare {
                height: images.height,
                width: images.width,
            });
        }
        let mut data = Vec::with_capacity(indices.len() * images.image_len());
        let mut labels = Vec::with_capacity(indices.len());
        for &i in indices {
            let label = images.labels[i];
            if label >= num_classes {
                return Err(ProxyError::Label { label, num_classes });
            }
            data.extend_from_slice(images.image(i));
            labels.push(label as i64);
        }
        let n = indices.len();
        let shape = [n, images.channels, images.height, images.width];
        Ok(Self {
            images: Tensor::from_data(TensorData::new(data, shape), device),
            labels: Tensor::from_data(TensorData::new(labels, [n]), device),
            num_classes,
            indices: indices.to_vec(),
        })
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.images.dims()[0]
    }

    /// Whether the minibatch holds no image.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Channels of each image.
    pub fn channels(&self) -> usize {
        self.images.dims()[1]
    }

    /// Side of the (square) images.
    pub fn side(&self) -> usize {
        self.images.dims()[2]
    }

    /// The same images in another order: image `i` of the result is image `order[i]` of
    /// `self`.
    ///
    /// # Panics
    /// If an index of `order` is out of range.
    pub fn permuted(&self, order: &[usize]) -> Self {
        let device = self.images.device();
        let idx = Tensor::<B, 1, Int>::from_data(
            TensorData::new(
                order.iter().map(|&i| i as i64).collect::<Vec<_>>(),
                [order.len()],
            ),
            &device,
        );
        Self {
            images: self.images.clone().select(0, idx.clone()),
            labels: self.labels.clone().select(0, idx),
            num_classes: self.num_classes,
            indices: order.iter().map(|&i| self.indices[i]).collect(),
        }
    }
}

impl<B: burn::tensor::backend::AutodiffBackend> Minibatch<B> {
    /// The same minibatch on the inner (non-autodiff) backend, for the proxies that need no
    /// gradients ([`naswot`](super::naswot())).
    pub fn inner(&self) -> Minibatch<B::InnerBackend> {
        Minibatch {
            images: self.images.clone().inner(),
            labels: self.labels.clone().inner(),
            num_classes: self.num_classes,
            indices: self.indices.clone(),
        }
    }
}
