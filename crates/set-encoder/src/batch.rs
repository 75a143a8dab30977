//! [`SetBatch`]: many tasks of uneven size in one padded tensor, with validity masks.

use burn::tensor::{backend::Backend, Bool, Tensor, TensorData};
use datasets::Features;

use crate::error::{Result, SetEncoderError};

/// Tasks padded to a common `[tasks, max_classes, max_images, dim]` layout.
///
/// Real data is unbalanced: classes hold different numbers of images and tasks different numbers
/// of classes. Nothing is truncated: every task is padded with zero rows up to the largest class
/// and with empty classes up to the largest task, and two masks say what is real. The
/// [`SetEncoder`](crate::SetEncoder) gives the same latent for a task whether it is encoded alone
/// or padded inside a batch (tested to 1e-5).
///
/// ```
/// use burn::backend::Flex;
/// use set_encoder::SetBatch;
/// // Two tasks with 2-d features: 2 classes of 1 and 3 images, then 3 classes of 2 images.
/// let tasks = vec![
///     vec![vec![0.0, 1.0], vec![1.0, 0.0, 2.0, 0.0, 3.0, 0.0]],
///     vec![vec![0.5; 4], vec![0.25; 4], vec![1.5; 4]],
/// ];
/// let batch = SetBatch::<Flex>::from_classes(2, &tasks, &Default::default())?;
/// assert_eq!(batch.features().dims(), [2, 3, 3, 2]);
/// assert_eq!(batch.sizes(), &[vec![1, 3], vec![2, 2, 2]]);
/// # Ok::<(), set_encoder::SetEncoderError>(())
/// ```
#[derive(Clone, Debug)]
pub struct SetBatch<B: Backend> {
    features: Tensor<B, 4>,
    image_valid: Tensor<B, 3, Bool>,
    class_valid: Tensor<B, 2, Bool>,
    sizes: Vec<Vec<usize>>,
}

impl<B: Backend> SetBatch<B> {
    /// A batch from host data: `tasks[t][c]` is class `c` of task `t`, its images' features as
    /// one flat `[n_c, dim]` row-major buffer.
    ///
    /// Errors: no task ([`EmptyBatch`](SetEncoderError::EmptyBatch)), a task with no class, a
    /// class with no image, a buffer that is not a whole number of rows, `dim = 0`.
    pub fn from_classes(dim: usize, tasks: &[Vec<Vec<f32>>], device: &B::Device) -> Result<Self> {
        if dim == 0 {
            return Err(SetEncoderError::ZeroSize { what: "dim" });
        }
        if tasks.is_empty() {
            return Err(SetEncoderError::EmptyBatch);
        }
        let mut sizes = Vec::with_capacity(tasks.len());
        for (t, classes) in tasks.iter().enumerate() {
            if classes.is_empty() {
                return Err(SetEncoderError::EmptyTask { task: t });
            }
            let mut task_sizes = Vec::with_capacity(classes.len());
            for (c, values) in classes.iter().enumerate() {
                if values.len() % dim != 0 {
                    return Err(SetEncoderError::RaggedClass {
                        task: t,
                        class: c,
                        len: values.len(),
                        dim,
                    });
                }
                if values.is_empty() {
                    return Err(SetEncoderError::EmptyClass { task: t, class: c });
                }
                task_sizes.push(values.len() / dim);
            }
            sizes.push(task_sizes);
        }
        let num_tasks = tasks.len();
        let max_classes = sizes.iter().map(Vec::len).max().unwrap_or(0);
        let max_images = sizes.iter().flatten().copied().max().unwrap_or(0);
        let mut data = vec![0.0f32; num_tasks * max_classes * max_images * dim];
        let mut image_valid = vec![false; num_tasks * max_classes * max_images];
        let mut class_valid = vec![false; num_tasks * max_classes];
        for (t, classes) in tasks.iter().enumerate() {
            for (c, values) in classes.iter().enumerate() {
                let set = t * max_classes + c;
                class_valid[set] = true;
                let start = set * max_images;
                image_valid[start..start + sizes[t][c]].fill(true);
                data[start * dim..start * dim + values.len()].copy_from_slice(values);
            }
        }
        Ok(Self {
            features: Tensor::from_data(
                TensorData::new(data, [num_tasks, max_classes, max_images, dim]),
                device,
            ),
            image_valid: Tensor::from_data(
                TensorData::new(image_valid, [num_tasks, max_classes, max_images]),
                device,
            ),
            class_valid: Tensor::from_data(
                TensorData::new(class_valid, [num_tasks, max_classes]),
                device,
            ),
            sizes,
        })
    }

    /// A batch from extracted features, one [`Features`] per task; rows are grouped into classes
    /// by label (`0..=max label`, so a label with no row is an
    /// [`EmptyClass`](SetEncoderError::EmptyClass)).
    ///
    /// Errors: as [`from_classes`](Self::from_classes), plus
    /// [`FeatureDim`](SetEncoderError::FeatureDim) when the tasks' widths differ.
    pub fn from_features(tasks: &[&Features], device: &B::Device) -> Result<Self> {
        let dim = tasks.first().ok_or(SetEncoderError::EmptyBatch)?.dim;
        let mut classes = Vec::with_capacity(tasks.len());
        for features in tasks {
            if features.dim != dim {
                return Err(SetEncoderError::FeatureDim {
                    expected: dim,
                    found: features.dim,
                });
            }
            if features.data.len() != features.len() * dim {
                return Err(SetEncoderError::RaggedClass {
                    task: classes.len(),
                    class: 0,
                    len: features.data.len(),
                    dim,
                });
            }
            classes.push(features.by_class());
        }
        Self::from_classes(dim, &classes, device)
    }

    /// A batch from tensors already laid out: `features: [tasks, classes, images, dim]`,
    /// `image_valid: [tasks, classes, images]`, `class_valid: [tasks, classes]` (`true` = real).
    ///
    /// The masks are read back to the host once, to check them: every task needs a real class,
    /// every real class a real image, and a padding class no real image.
    pub fn from_tensors(
        features: Tensor<B, 4>,
        image_valid: Tensor<B, 3, Bool>,
        class_valid: Tensor<B, 2, Bool>,
    ) -> Result<Self> {
        let [tasks, classes, images, dim] = features.dims();
        let check = |what, expected: Vec<usize>, found: Vec<usize>| {
            if expected == found {
                Ok(())
            } else {
                Err(SetEncoderError::Shape {
                    what,
                    expected,
                    found,
                })
            }
        };
        check(
            "image_valid",
            vec![tasks, classes, images],
            image_valid.dims().to_vec(),
        )?;
        check(
            "class_valid",
            vec![tasks, classes],
            class_valid.dims().to_vec(),
        )?;
        if tasks == 0 {
            return Err(SetEncoderError::EmptyBatch);
        }
        if dim == 0 {
            return Err(SetEncoderError::ZeroSize { what: "dim" });
        }
        let image_mask = bools(&image_valid);
        let class_mask = bools(&class_valid);
        let mut sizes = Vec::with_capacity(tasks);
        for t in 0..tasks {
            let mut task_sizes = Vec::new();
            for c in 0..classes {
                let set = t * classes + c;
                let row = &image_mask[set * images..(set + 1) * images];
                let n = row.iter().filter(|&&v| v).count();
                match (class_mask[set], n) {
                    (true, 0) => return Err(SetEncoderError::EmptyClass { task: t, class: c }),
                    (true, n) => task_sizes.push(n),
                    (false, 0) => {}
                    (false, _) => return Err(SetEncoderError::MaskMismatch { task: t, class: c }),
                }
            }
            if task_sizes.is_empty() {
                return Err(SetEncoderError::EmptyTask { task: t });
            }
            sizes.push(task_sizes);
        }
        Ok(Self {
            features,
            image_valid,
            class_valid,
            sizes,
        })
    }

    /// The padded features, `[tasks, max_classes, max_images, dim]` (zero where padded).
    pub fn features(&self) -> &Tensor<B, 4> {
        &self.features
    }

    /// `[tasks, max_classes, max_images]`, `true` for real images.
    pub fn image_valid(&self) -> &Tensor<B, 3, Bool> {
        &self.image_valid
    }

    /// `[tasks, max_classes]`, `true` for real classes.
    pub fn class_valid(&self) -> &Tensor<B, 2, Bool> {
        &self.class_valid
    }

    /// Images per real class of each task (`sizes()[t].len()` is task `t`'s class count).
    pub fn sizes(&self) -> &[Vec<usize>] {
        &self.sizes
    }

    /// Number of tasks.
    pub fn num_tasks(&self) -> usize {
        self.sizes.len()
    }

    /// Width of the features.
    pub fn dim(&self) -> usize {
        self.features.dims()[3]
    }

    /// Whether nothing is padded (every task has `max_classes` classes of `max_images` images),
    /// so the masks can be skipped.
    pub fn is_dense(&self) -> bool {
        let [_, classes, images, _] = self.features.dims();
        self.sizes
            .iter()
            .all(|task| task.len() == classes && task.iter().all(|&n| n == images))
    }
}

fn bools<B: Backend, const D: usize>(mask: &Tensor<B, D, Bool>) -> Vec<bool> {
    // Bool tensors read back as `bool` on every backend Burn ships (u8 on some older ones).
    let data = mask.to_data();
    data.to_vec::<bool>()
        .unwrap_or_else(|_| data.iter::<u8>().map(|v| v != 0).collect())
}

/// One resampled view of a task for the encoder: up to `per_class` rows of each class of
/// `features`, drawn without replacement by `rng` (all rows of a smaller class), as the flat
/// per-class buffers [`SetBatch::from_classes`] takes. MetaD2A draws 20 per class afresh every
/// time a task is used; classes with no row are left out.
pub fn draw_per_class<R: rand::Rng + ?Sized>(
    features: &datasets::Features,
    per_class: usize,
    rng: &mut R,
) -> Vec<Vec<f32>> {
    let mut rows: Vec<Vec<usize>> = vec![Vec::new(); features.num_classes()];
    for (i, &label) in features.labels.iter().enumerate() {
        rows[label].push(i);
    }
    rows.into_iter()
        .filter(|r| !r.is_empty())
        .map(|r| {
            let k = per_class.min(r.len());
            rand::seq::index::sample(rng, r.len(), k)
                .into_iter()
                .flat_map(|j| features.row(r[j]).iter().copied())
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;

    type B = Flex;

    #[test]
    fn pads_and_masks_without_truncating() {
        let device = Default::default();
        let tasks = vec![
            vec![vec![1.0, 2.0], vec![3.0, 4.0, 5.0, 6.0, 7.0, 8.0]],
            vec![vec![9.0, 9.0]],
        ];
        let batch = SetBatch::<B>::from_classes(2, &tasks, &device).unwrap();
        assert_eq!(batch.features().dims(), [2, 2, 3, 2]);
        let data: Vec<f32> = batch.features().to_data().to_vec().unwrap();
        assert_eq!(&data[..6], &[1.0, 2.0, 0.0, 0.0, 0.0, 0.0]);
        assert_eq!(&data[6..12], &[3.0, 4.0, 5.0, 6.0, 7.0, 8.0]);
        assert_eq!(&data[12..14], &[9.0, 9.0]);
        assert_eq!(
            bools(batch.image_valid()),
            [
                true, false, false, true, true, true, //
                true, false, false, false, false, false
            ]
        );
        assert_eq!(bools(batch.class_valid()), [true, true, true, false]);
        assert!(!batch.is_dense());
        let again = SetBatch::from_tensors(
            batch.features().clone(),
            batch.image_valid().clone(),
            batch.class_valid().clone(),
        )
        .unwrap();
        assert_eq!(again.sizes(), batch.sizes());
    }

    #[test]
    fn bad_inputs_are_typed_errors() {
        let device = Default::default();
        let err =
            |tasks: &[Vec<Vec<f32>>]| SetBatch::<B>::from_classes(2, tasks, &device).unwrap_err();
        assert_eq!(err(&[]), SetEncoderError::EmptyBatch);
        assert_eq!(err(&[vec![]]), SetEncoderError::EmptyTask { task: 0 });
        assert_eq!(
            err(&[vec![vec![1.0, 2.0]], vec![vec![1.0, 2.0], vec![]]]),
            SetEncoderError::EmptyClass { task: 1, class: 1 }
        );
        assert!(matches!(
            err(&[vec![vec![1.0, 2.0, 3.0]]]),
            SetEncoderError::RaggedClass { len: 3, dim: 2, .. }
        ));

        let features = Tensor::<B, 4>::zeros([1, 2, 2, 3], &device);
        let images =
            |v: Vec<bool>| Tensor::<B, 3, Bool>::from_data(TensorData::new(v, [1, 2, 2]), &device);
        let classes =
            |v: Vec<bool>| Tensor::<B, 2, Bool>::from_data(TensorData::new(v, [1, 2]), &device);
        assert_eq!(
            SetBatch::from_tensors(
                features.clone(),
                images(vec![true, false, false, false]),
                classes(vec![true, true])
            )
            .unwrap_err(),
            SetEncoderError::EmptyClass { task: 0, class: 1 }
        );
        assert_eq!(
            SetBatch::from_tensors(
                features.clone(),
                images(vec![true, false, true, false]),
                classes(vec![true, false])
            )
            .unwrap_err(),
            SetEncoderError::MaskMismatch { task: 0, class: 1 }
        );
        assert!(matches!(
            SetBatch::from_tensors(
                features,
                Tensor::<B, 3, Bool>::from_data(TensorData::new(vec![true; 2], [1, 1, 2]), &device),
                classes(vec![true, true])
            ),
            Err(SetEncoderError::Shape {
                what: "image_valid",
                ..
            })
        ));
    }

    #[test]
    fn features_group_by_label() {
        let features = Features {
            data: vec![1.0, 2.0, 3.0],
            labels: vec![1, 0, 1],
            dim: 1,
        };
        let batch = SetBatch::<B>::from_features(&[&features], &Default::default()).unwrap();
        assert_eq!(batch.sizes(), &[vec![1, 2]]);
        let gap = Features {
            data: vec![1.0],
            labels: vec![1],
            dim: 1,
        };
        assert_eq!(
            SetBatch::<B>::from_features(&[&gap], &Default::default()).unwrap_err(),
            SetEncoderError::EmptyClass { task: 0, class: 0 }
        );
    }
}
