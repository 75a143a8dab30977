//! Scoring many architectures for one task in one call, with the graph latents cached.

use burn::tensor::{backend::Backend, DType, Tensor};
use datasets::Features;
use graph_vae::{GraphBatch, TypedGraph};
use rand::Rng;
use set_encoder::{draw_per_class, SetBatch};

use crate::error::{PredictorError, Result};
use crate::kernels;
use crate::model::MetaPredictor;

/// Graph latents of a fixed list of architectures (e.g. all 15,625 NB201 cells), computed once:
/// they do not depend on the task, so scoring a new task is one set encoding plus one head call.
#[derive(Clone, Debug)]
pub struct GraphLatentCache<B: Backend> {
    latents: Tensor<B, 2>,
    /// `G·W_G + b` of the head's first layer, per architecture.
    head_part: Tensor<B, 2>,
    /// `head_part` as host `f32`, when the backend keeps its tensors in host memory (flex): then
    /// scores come from the fused kernel of [`kernels`].
    host_head_part: Option<Vec<f32>>,
}

impl<B: Backend> GraphLatentCache<B> {
    /// Encodes `graphs` (in chunks of `chunk` graphs).
    pub fn new(
        model: &MetaPredictor<B>,
        graphs: &[TypedGraph],
        chunk: usize,
        device: &B::Device,
    ) -> Result<Self> {
        let mut parts = Vec::new();
        for c in graphs.chunks(chunk.max(1)) {
            let batch = GraphBatch::new(
                c,
                model.graph_encoder.num_types,
                model.graph_encoder.max_vertices,
                device,
            )?;
            parts.push(model.graph_latents(&batch));
        }
        if parts.is_empty() {
            return Err(graph_vae::GraphVaeError::EmptyBatch.into());
        }
        Self::from_latents(model, Tensor::cat(parts, 0))
    }

    /// A cache over graph latents computed elsewhere (`[archs, latent]`, e.g.
    /// [`MetaPredictor::graph_latents`] saved from an earlier run); an error when they are empty
    /// or their width is not the model's latent width.
    pub fn from_latents(model: &MetaPredictor<B>, latents: Tensor<B, 2>) -> Result<Self> {
        let [archs, width] = latents.dims();
        if archs == 0 {
            return Err(graph_vae::GraphVaeError::EmptyBatch.into());
        }
        if width != model.latent_dim() {
            return Err(PredictorError::Width {
                what: "graph latents",
                expected: model.latent_dim(),
                found: width,
            });
        }
        let head_part = model.head_graph_part(latents.clone());
        let host_head_part =
            (on_host::<B>() && head_part.dtype() == DType::F32).then(|| to_host(head_part.clone()));
        Ok(Self {
            head_part,
            host_head_part,
            latents,
        })
    }

    /// Number of cached architectures.
    pub fn len(&self) -> usize {
        self.latents.dims()[0]
    }

    /// Whether the cache is empty (never, once built).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The latents, `[archs, latent]`.
    pub fn latents(&self) -> &Tensor<B, 2> {
        &self.latents
    }

    /// Normalised scores of every cached architecture for the task whose image features are
    /// `task`, averaged over `draws` resampled image draws of `per_class` images per class.
    pub fn score<R: Rng + ?Sized>(
        &self,
        model: &MetaPredictor<B>,
        task: &Features,
        per_class: usize,
        draws: usize,
        rng: &mut R,
    ) -> Result<Vec<f32>> {
        Ok(self
            .score_impl(model, task, per_class, draws, rng, false)?
            .0)
    }

    /// [`score`](Self::score), with each architecture's (dataset, architecture) embedding: the
    /// head's hidden layer `tanh(W·[D; G] + b)`, averaged over the same draws, row-major
    /// `[archs, head_hidden]`. The scores equal `score`'s for the same `rng` state.
    pub fn score_embedded<R: Rng + ?Sized>(
        &self,
        model: &MetaPredictor<B>,
        task: &Features,
        per_class: usize,
        draws: usize,
        rng: &mut R,
    ) -> Result<(Vec<f32>, Vec<f32>)> {
        let (scores, embedding) = self.score_impl(model, task, per_class, draws, rng, true)?;
        Ok((scores, embedding.unwrap_or_default()))
    }

    fn score_impl<R: Rng + ?Sized>(
        &self,
        model: &MetaPredictor<B>,
        task: &Features,
        per_class: usize,
        draws: usize,
        rng: &mut R,
        embed: bool,
    ) -> Result<(Vec<f32>, Option<Vec<f32>>)> {
        let device = self.latents.device();
        let draws = draws.max(1);
        let drawn: Vec<Vec<Vec<f32>>> = (0..draws)
            .map(|_| draw_per_class(task, per_class, rng))
            .collect();
        let set = SetBatch::from_classes(task.dim, &drawn, &device)?;
        let latents = model.dataset_latents(&set)?;
        self.score_from_latents(model, latents, embed)
    }

    /// Normalised scores of every cached architecture for dataset latents computed elsewhere
    /// (`[draws, latent]`, one row per image draw, e.g. [`MetaPredictor::dataset_latents`]),
    /// averaged over the draws. [`score`](Self::score) is this after encoding its draws.
    pub fn score_dataset_latents(
        &self,
        model: &MetaPredictor<B>,
        latents: Tensor<B, 2>,
    ) -> Result<Vec<f32>> {
        let [draws, width] = latents.dims();
        if width != model.latent_dim() || draws == 0 {
            return Err(PredictorError::Width {
                what: "dataset latents (one row per draw, at least one)",
                expected: model.latent_dim(),
                found: width,
            });
        }
        Ok(self.score_from_latents(model, latents, false)?.0)
    }

    fn score_from_latents(
        &self,
        model: &MetaPredictor<B>,
        latents: Tensor<B, 2>,
        embed: bool,
    ) -> Result<(Vec<f32>, Option<Vec<f32>>)> {
        let draws = latents.dims()[0];
        // The head is non-linear in the dataset latent: average the scores, not the latents.
        let parts = model.head_dataset_part(latents);
        // On flex, the fused host kernel scores (both modes, so their scores agree).
        let host_scores = self.host_head_part.as_ref().map(|graphs| {
            let weight = to_host(model.head_out.weight.val());
            let bias = model
                .head_out
                .bias
                .as_ref()
                .map_or(0.0, |b| to_host(b.val())[0]);
            kernels::score_rows(graphs, &to_host(parts.clone()), &weight, bias)
        });
        if let (Some(scores), false) = (&host_scores, embed) {
            return Ok((scores.clone(), None));
        }
        let mut sum: Option<Tensor<B, 1>> = None;
        let mut hidden_sum: Option<Tensor<B, 2>> = None;
        for d in 0..draws {
            let dataset = parts.clone().narrow(0, d, 1);
            if embed {
                let h = model.head_hidden_parts(dataset.clone(), self.head_part.clone());
                hidden_sum = Some(match hidden_sum {
                    None => h,
                    Some(acc) => acc + h,
                });
            }
            if host_scores.is_none() {
                let s = model.score_parts(dataset, self.head_part.clone());
                sum = Some(match sum {
                    None => s,
                    Some(acc) => acc + s,
                });
            }
        }
        let to_vec = |t: Tensor<B, 1>| {
            t.into_data()
                .convert::<f32>()
                .to_vec::<f32>()
                .unwrap_or_default()
        };
        let hidden = hidden_sum.map(|h| to_vec((h / draws as f32).flatten::<1>(0, 1)));
        let scores = match host_scores {
            Some(scores) => scores,
            None => to_vec(sum.expect("at least one draw") / draws as f32),
        };
        Ok((scores, hidden))
    }
}

/// Whether `B` keeps its tensors in host memory (flex, with or without autodiff), so that
/// scoring can run the host kernel on them instead of the backend's ops.
fn on_host<B: Backend>() -> bool {
    #[cfg(feature = "flex")]
    {
        use burn::backend::{Autodiff, Flex};
        use std::any::TypeId;
        let id = TypeId::of::<B>();
        id == TypeId::of::<Flex>() || id == TypeId::of::<Autodiff<Flex>>()
    }
    #[cfg(not(feature = "flex"))]
    false
}

/// A tensor's values as host `f32`, row-major.
fn to_host<B: Backend, const D: usize>(tensor: Tensor<B, D>) -> Vec<f32> {
    tensor
        .into_data()
        .convert::<f32>()
        .to_vec::<f32>()
        .expect("converted to f32")
}
