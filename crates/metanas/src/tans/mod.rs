//! TANS (Jeong et al., NeurIPS 2021): answer a new dataset with a *trained network* retrieved
//! from the zoo (`model_zoo::zoo`), not a cell to train from scratch.
//!
//! ```text
//! task images ─▶ features ─▶ query encoder ─▶ q ─┐
//! zoo network ─▶ cell graph + probe response ─▶ model encoder ─▶ m ─┴─▶ top k by q·m under
//!     max_params / max_flops (model_zoo::zoo::Retrieval) ─▶ re-scored by predictor(q, m)
//! ```
//!
//! [`Tans::meta_train`] learns the encoders and the predictor on the zoo ([`TansData`]) with
//! tasks held out for validation; [`Tans::save`] / [`Tans::load`] keep them as one versioned
//! bundle (`crates/metanas/bundle-tans`), with every zoo network's embedding;
//! [`Tans::retrieve`] answers a task. Where we differ from the paper and its code:
//! `docs/tans.md`.

mod bundle;
mod data;
mod error;
mod finetune;
mod net;
mod probe;
mod train;

pub use bundle::{
    locate_tans_bundle, locate_zoo, ZooEmbedding, BUNDLE_FORMAT, BUNDLE_VERSION, REPO_TANS_BUNDLE,
    REPO_ZOO, TANS_BUNDLE_ENV,
};
pub use data::{
    arch_encoding, functional_embeddings, interface_encoding, model_input, TansData, ZooModel,
    ZooTask,
};
pub use error::{Result, TansError};
pub use finetune::{fine_tune, spec_for, task_for, FineTuneOptions, FineTuneResult};
pub use net::{contrastive_loss, l2_normalize, TansNet, TansNetConfig, ARCH_DIM, INTERFACE_DIM};
pub use probe::Probe;
pub use train::{
    evaluate, evaluate_tasks, meta_train, model_embeddings, query_embedding, split_tasks,
    task_folds, Estimate, RetrievalMetrics, TansTrainConfig, TaskOutcome, TrainPoint,
};

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use burn::tensor::backend::{AutodiffBackend, Backend};
use datasets::{FeatureExtractor, Features, Images};
use model_zoo::zoo::{Constraints, Retrieval, Zoo, ZooEntry};
use serde::{Deserialize, Serialize};

/// What a bundle was meta-trained on, and how well it did.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TansSummary {
    /// Zoo networks embedded.
    pub zoo_networks: usize,
    /// Meta-training tasks used for training.
    pub train_tasks: usize,
    /// The held-out tasks (group and task seed).
    pub valid_tasks: Vec<String>,
    /// Retrieval and prediction on the held-out tasks.
    pub validation: Option<RetrievalMetrics>,
    /// The same on the training tasks (how well it fits).
    pub training: Option<RetrievalMetrics>,
    /// Logged losses.
    pub history: Vec<TrainPoint>,
    /// Seconds of meta-training (features and embeddings excluded).
    pub seconds: f64,
}

/// The bundle's `tans.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TansMeta {
    /// Always [`BUNDLE_FORMAT`].
    pub format: String,
    /// [`BUNDLE_VERSION`] when written.
    pub version: u32,
    /// Id of the feature extractor the query encoder was trained on.
    pub extractor: String,
    /// The network's structure.
    pub net: TansNetConfig,
    /// The probe of the functional embeddings.
    pub probe: Probe,
    /// How it was meta-trained.
    pub train: TansTrainConfig,
    /// What it was trained on and how well it did.
    pub summary: TansSummary,
}

/// Retrieval settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetrieveOptions {
    /// Networks returned: the k most similar under the constraints, re-ranked by the predictor
    /// (TANS: 10).
    pub k: usize,
    /// Most parameters (M) of a returned network.
    pub max_params: Option<f64>,
    /// Most multiply-adds per image (M) of a returned network.
    pub max_flops: Option<f64>,
    /// Image draws averaged into the query embedding.
    pub draws: usize,
    /// Seed of the draws.
    pub seed: u64,
}

impl Default for RetrieveOptions {
    fn default() -> Self {
        Self {
            k: 10,
            max_params: None,
            max_flops: None,
            draws: 5,
            seed: 0,
        }
    }
}

/// One retrieved zoo network.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Retrieved {
    /// Its position in the zoo ([`Zoo::entries`]).
    pub entry: usize,
    /// Its group, cell and seed.
    pub describe: String,
    /// Cosine similarity of its embedding to the query's.
    pub similarity: f32,
    /// The predictor's accuracy (%) for it on the query task.
    pub predicted_accuracy: f64,
    /// Its stored test accuracy (%) on its own task.
    pub zoo_accuracy: f64,
    /// Parameters (M).
    pub params_m: f64,
    /// Multiply-adds per image (M).
    pub flops_m: f64,
}

/// What [`Tans::retrieve`] found.
#[derive(Clone, Debug, Serialize)]
pub struct RetrieveResult {
    /// Best first (by predicted accuracy among the k most similar).
    pub ranked: Vec<Retrieved>,
    /// Zoo networks meeting the constraints.
    pub eligible: usize,
    /// Wall seconds (query encoding, scan, re-scoring).
    pub seconds: f64,
}

impl RetrieveResult {
    /// The ranked networks as a text table.
    pub fn table(&self) -> String {
        let mut out = "rank  predicted %  similarity  zoo acc %  params (M)  MAdds (M)  network\n"
            .to_string();
        for (i, r) in self.ranked.iter().enumerate() {
            out += &format!(
                "{:4}  {:11.2}  {:10.3}  {:9.2}  {:10.4}  {:9.2}  {}\n",
                i + 1,
                r.predicted_accuracy,
                r.similarity,
                r.zoo_accuracy,
                r.params_m,
                r.flops_m,
                r.describe
            );
        }
        out
    }
}

/// A meta-trained TANS: the network, its description, and the zoo's embeddings.
#[derive(Debug)]
pub struct Tans<B: Backend> {
    net: TansNet<B>,
    meta: TansMeta,
    embeddings: Vec<ZooEmbedding>,
}

impl<B: Backend> Tans<B> {
    /// The query encoder, model encoder and predictor.
    pub fn net(&self) -> &TansNet<B> {
        &self.net
    }

    /// The bundle's description.
    pub fn meta(&self) -> &TansMeta {
        &self.meta
    }

    /// The zoo networks' embeddings, by blob.
    pub fn embeddings(&self) -> &[ZooEmbedding] {
        &self.embeddings
    }

    fn device(&self) -> B::Device {
        self.net.model_in.weight.device()
    }

    /// Meta-trains on `data` (built from `zoo`; autodiff backend `A` over `B`): holds out
    /// `train.valid_tasks` tasks, trains, measures retrieval on the held-out and the training
    /// tasks, and embeds every zoo network.
    pub fn meta_train<A>(
        zoo: &Zoo,
        data: &TansData,
        net: &TansNetConfig,
        probe: &Probe,
        train: &TansTrainConfig,
        device: &A::Device,
        mut log: impl FnMut(&str),
    ) -> Result<Self>
    where
        A: AutodiffBackend<InnerBackend = B>,
    {
        if data.models.len() != zoo.entries().len() {
            return Err(TansError::Data(format!(
                "the data holds {} networks, the zoo {}: build the data from this zoo",
                data.models.len(),
                zoo.entries().len()
            )));
        }
        let start = Instant::now();
        let (train_tasks, valid_tasks) = split_tasks(data, train.valid_tasks, train.seed);
        let (trained, history) = meta_train::<A>(data, &train_tasks, net, train, device, &mut log)?;
        let seconds = start.elapsed().as_secs_f64();
        let per_class = train.images_per_class;
        let draws = RetrieveOptions::default().draws;
        let validation = (!valid_tasks.is_empty())
            .then(|| evaluate(&trained, data, &valid_tasks, per_class, draws, train.seed))
            .transpose()?;
        let training = Some(evaluate(
            &trained,
            data,
            &train_tasks,
            per_class,
            draws,
            train.seed,
        )?);
        let l = trained.latent_dim();
        let embeddings = model_embeddings(&trained, data)?
            .chunks_exact(l)
            .zip(zoo.entries())
            .map(|(e, entry)| ZooEmbedding {
                sha256: entry.weights.sha256.clone(),
                embedding: e.to_vec(),
            })
            .collect();
        let meta = TansMeta {
            format: BUNDLE_FORMAT.into(),
            version: BUNDLE_VERSION,
            extractor: data.extractor.clone(),
            net: net.clone(),
            probe: *probe,
            train: train.clone(),
            summary: TansSummary {
                zoo_networks: zoo.entries().len(),
                train_tasks: train_tasks.len(),
                valid_tasks: valid_tasks
                    .iter()
                    .map(|&t| {
                        let task = &data.tasks[t];
                        format!("{} seed {}", task.group, task.spec.seed)
                    })
                    .collect(),
                validation,
                training,
                history,
                seconds,
            },
        };
        Ok(Self {
            net: trained,
            meta,
            embeddings,
        })
    }

    /// Writes the bundle directory (created if needed): `tans.json`, `model.mpk`,
    /// `zoo-embeddings.json`, each written under `.writing/` and renamed into place.
    pub fn save(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| TansError::Bundle {
            path: dir.to_path_buf(),
            message: e.to_string(),
        })?;
        bundle::save(
            dir,
            &self.net,
            &self.meta,
            &self.embeddings,
            self.net.latent_dim(),
        )
    }

    /// Reads a bundle written by [`save`](Self::save): another format or version, a missing or
    /// unreadable file ([`TansError::Bundle`]), weights of other shapes than the config's
    /// ([`TansError::BundleMismatch`]) or non-finite values ([`TansError::NonFinite`]) are
    /// errors.
    pub fn load(dir: &Path, device: &B::Device) -> Result<Self> {
        let meta: TansMeta = bundle::read_meta(dir)?;
        let net = bundle::load_net(meta.net.try_init::<B>(device)?, dir, device)?;
        let embeddings = bundle::read_embeddings(dir, net.latent_dim())?;
        Ok(Self {
            net,
            meta,
            embeddings,
        })
    }

    /// The bundle found by [`locate_tans_bundle`], loaded.
    pub fn pretrained(device: &B::Device) -> Result<Self> {
        Self::load(&locate_tans_bundle()?, device)
    }

    /// The shipped CNN extractor (`set_encoder::CnnExtractor::pretrained`), checked to be the
    /// one the bundle was trained on ([`TansError::ExtractorMismatch`] otherwise).
    pub fn extractor(&self, device: &B::Device) -> Result<set_encoder::CnnExtractor<B>> {
        let extractor = set_encoder::CnnExtractor::<B>::pretrained(device)?;
        self.check_extractor(&extractor)?;
        Ok(extractor)
    }

    /// Checks that `extractor` is the one the bundle was trained on.
    pub fn check_extractor<E: FeatureExtractor + ?Sized>(&self, extractor: &E) -> Result<()> {
        if extractor.id() != self.meta.extractor {
            return Err(TansError::ExtractorMismatch {
                bundle: self.meta.extractor.clone(),
                found: extractor.id(),
            });
        }
        Ok(())
    }

    /// Re-embeds every network of `zoo` (functional embeddings through the bundle's probe,
    /// then the model encoder), replacing the stored embeddings: for a zoo built or extended
    /// after the bundle.
    pub fn embed_zoo(&mut self, zoo: &Zoo) -> Result<()> {
        let device = self.device();
        let functional = functional_embeddings::<B>(zoo, &self.meta.probe, &device, |_| {})?;
        let d = self.net.model_input_dim();
        let mut flat = Vec::with_capacity(functional.len() * d);
        for (entry, f) in zoo.entries().iter().zip(&functional) {
            let x = model_input(entry, f);
            if x.len() != d {
                return Err(TansError::Data(format!(
                    "zoo network {} gives a model input of width {}, the bundle's encoder reads \
                     {d}: it was trained on networks of another width",
                    entry.describe(),
                    x.len()
                )));
            }
            flat.extend(x);
        }
        let n = functional.len();
        let m: Vec<f32> = self
            .net
            .encode_model(burn::tensor::Tensor::from_data(
                burn::tensor::TensorData::new(flat, [n, d]),
                &device,
            ))
            .into_data()
            .to_vec()
            .map_err(|e| TansError::Data(format!("reading model embeddings: {e:?}")))?;
        let l = self.net.latent_dim();
        self.embeddings = m
            .chunks_exact(l)
            .zip(zoo.entries())
            .map(|(e, entry)| ZooEmbedding {
                sha256: entry.weights.sha256.clone(),
                embedding: e.to_vec(),
            })
            .collect();
        Ok(())
    }

    /// The zoo's embeddings in its entries' order, ready to answer queries;
    /// [`TansError::ZooNotEmbedded`] if an entry has none.
    pub fn retrieval(&self, zoo: &Zoo) -> Result<Retrieval> {
        let by_sha: HashMap<&str, &[f32]> = self
            .embeddings
            .iter()
            .map(|e| (e.sha256.as_str(), e.embedding.as_slice()))
            .collect();
        let missing: Vec<&ZooEntry> = zoo
            .entries()
            .iter()
            .filter(|e| !by_sha.contains_key(e.weights.sha256.as_str()))
            .collect();
        if let Some(first) = missing.first() {
            return Err(TansError::ZooNotEmbedded {
                missing: missing.len(),
                entries: zoo.entries().len(),
                first: first.describe(),
            });
        }
        let l = self.net.latent_dim();
        let mut flat = Vec::with_capacity(zoo.entries().len() * l);
        for e in zoo.entries() {
            flat.extend_from_slice(by_sha[e.weights.sha256.as_str()]);
        }
        let costs = zoo.entries().iter().map(|e| e.cost).collect();
        Ok(Retrieval::new(flat, l, costs)?)
    }

    /// The query embedding of a task with image features `features` (from the bundle's
    /// extractor), averaged over `draws` image draws.
    pub fn encode_query(&self, features: &Features, draws: usize, seed: u64) -> Result<Vec<f32>> {
        if features.dim != self.net.feature_dim() {
            return Err(TansError::Data(format!(
                "task features have width {}, the bundle was trained on width {} ({})",
                features.dim,
                self.net.feature_dim(),
                self.meta.extractor
            )));
        }
        if features.num_classes() < 2 {
            return Err(TansError::Data(format!(
                "a task needs at least 2 classes, this one has {}",
                features.num_classes()
            )));
        }
        if let Some(i) = features.data.iter().position(|v| !v.is_finite()) {
            return Err(TansError::Data(format!(
                "task features hold a non-finite value in row {}: check the images and the \
                 extractor",
                i / features.dim.max(1)
            )));
        }
        query_embedding(
            &self.net,
            features,
            self.meta.train.images_per_class,
            draws,
            seed,
        )
    }

    /// The `k` zoo networks most similar to the task with image features `features` among
    /// those meeting the constraints, re-ranked by the predicted accuracy.
    pub fn retrieve(
        &self,
        zoo: &Zoo,
        features: &Features,
        options: &RetrieveOptions,
    ) -> Result<RetrieveResult> {
        let start = Instant::now();
        if options.draws == 0 {
            return Err(TansError::Option {
                name: "draws",
                value: "0".into(),
                fix: "the query is the mean over at least 1 image draw",
            });
        }
        let retrieval = self.retrieval(zoo)?;
        let constraints = Constraints {
            max_params: options.max_params,
            max_flops: options.max_flops,
        };
        let q = self.encode_query(features, options.draws, options.seed)?;
        let l = self.net.latent_dim();
        let by_sha: HashMap<&str, &[f32]> = self
            .embeddings
            .iter()
            .map(|e| (e.sha256.as_str(), e.embedding.as_slice()))
            .collect();
        let entries = zoo.entries();
        let mut failed = None;
        let hits = retrieval.retrieve(
            &q,
            &constraints,
            options.k,
            &mut |hit: &model_zoo::zoo::Hit| {
                let m = by_sha[entries[hit.entry].weights.sha256.as_str()];
                match train::predict_rows(&self.net, &q, &m[..l]) {
                    Ok(p) => p[0],
                    Err(e) => {
                        failed = Some(e);
                        0.0
                    }
                }
            },
        )?;
        if let Some(e) = failed {
            return Err(e);
        }
        let eligible = entries
            .iter()
            .filter(|e| constraints.admits(&e.cost))
            .count();
        if hits.is_empty() {
            let (min_params, min_flops) = entries
                .iter()
                .fold((f64::INFINITY, f64::INFINITY), |(p, f), e| {
                    (p.min(e.cost.params), f.min(e.cost.flops))
                });
            return Err(TansError::NothingWithinConstraints {
                constraints: match (options.max_params, options.max_flops) {
                    (Some(p), Some(f)) => format!("max_params {p} M and max_flops {f} M"),
                    (Some(p), None) => format!("max_params {p} M"),
                    (None, Some(f)) => format!("max_flops {f} M"),
                    (None, None) => "no limit".into(),
                },
                min_params,
                min_flops,
            });
        }
        let ranked = hits
            .iter()
            .map(|h| {
                let e = &entries[h.entry];
                Retrieved {
                    entry: h.entry,
                    describe: e.describe(),
                    similarity: h.similarity,
                    predicted_accuracy: 100.0 * h.predicted.unwrap_or(f64::NAN),
                    zoo_accuracy: 100.0 * e.stored.test_accuracy,
                    params_m: e.cost.params,
                    flops_m: e.cost.flops,
                }
            })
            .collect();
        Ok(RetrieveResult {
            ranked,
            eligible,
            seconds: start.elapsed().as_secs_f64(),
        })
    }

    /// [`retrieve`](Self::retrieve) on `images`, after checking that `extractor` is the
    /// bundle's and extracting their features with it.
    pub fn retrieve_images<E: FeatureExtractor + ?Sized>(
        &self,
        extractor: &E,
        zoo: &Zoo,
        images: &Images,
        options: &RetrieveOptions,
    ) -> Result<RetrieveResult> {
        self.check_extractor(extractor)?;
        self.retrieve(zoo, &extractor.extract(images)?, options)
    }
}
