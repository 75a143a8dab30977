//! MetaD2A (Lee et al., ICLR 2021): meta-train a dataset-conditioned architecture generator and
//! a meta-performance predictor on the database, then answer a new dataset in seconds.
//!
//! ```text
//! new task's images ─▶ features ─▶ generator (resampled draws, sampled decoding)
//!     ─▶ N unique valid cells (constraints applied) ─▶ predictor (mean over draws) ─▶ top-k
//! ```
//!
//! [`MetaD2A::meta_train`] learns both models from [`MetaData`]; [`MetaD2A::save`] /
//! [`MetaD2A::load`] keep them as one versioned bundle directory (checked when read: shapes
//! against the config, finite values); [`MetaD2A::pretrained`] loads the bundle found at run
//! time ([`locate_bundle`]); [`MetaD2A::search`] ranks, with options checked into
//! [`ValidSearchOptions`]; [`MetaD2A::search_images`] also checks that the images' feature
//! extractor is the bundle's.
//!
//! The model is generic over the [`SearchSpace`] it searches (`MetaD2A<B, S = Nb201>`): the
//! generator, the predictor, the bundle and the search loop are one code for NAS-Bench-201
//! cells and Once-for-All MobileNetV3 networks ([`Mbv3`](crate::space::Mbv3)). A bundle records
//! its space (`metad2a.json`'s `space`, absent = `nb201`), and loading it as another space is
//! [`MetanasError::SpaceMismatch`].

mod budget;
pub(crate) mod bundle;
mod data;
mod options;

pub use budget::{BudgetOptions, BudgetResult};
pub use bundle::{locate_bundle, BUNDLE_ENV, REPO_BUNDLE};
pub use options::{SearchOptions, SearchParams, ValidSearchOptions};

pub use data::{
    global_best, global_prior, ground_truths, GroundTruth, MetaData, MetaDataOptions, MetaTestSet,
    TaskEntry,
};

use std::collections::HashSet;
use std::marker::PhantomData;
use std::path::Path;
use std::sync::OnceLock;
use std::time::Instant;

use burn::module::{AutodiffModule, Module};
use burn::record::{FullPrecisionSettings, NamedMpkFileRecorder};
use burn::tensor::backend::{AutodiffBackend, Backend};
use datasets::{FeatureExtractor, Features, Images};
use graph_vae::{
    ConditionalGenerator, ConditionalGeneratorConfig, Decoding, EpochStats, GraphBatch, GraphSpace,
    TrainConfig, TypedGraph,
};
use meta_predictor::{
    GraphLatentCache, MetaPredictor, MetaPredictorConfig, PredictorEpoch, PredictorMeta,
    PredictorTrainConfig,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use search_space::Nb201Arch;
use serde::{Deserialize, Serialize};
use set_encoder::{draw_per_class, SetBatch};

use crate::error::{MetanasError, Result, SearchOptionsError};
use crate::space::{Nb201, Point, SearchSpace};

/// Bundle format name and version written to `metad2a.json`.
pub const BUNDLE_FORMAT: &str = "metanas-metad2a";
/// Current bundle version; [`MetaD2A::load`] refuses others.
pub const BUNDLE_VERSION: u32 = 1;

/// How to meta-train.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MetaTrainConfig {
    /// The generator's structure.
    pub generator: ConditionalGeneratorConfig,
    /// The predictor's structure.
    pub predictor: MetaPredictorConfig,
    /// Generator training.
    pub generator_train: TrainConfig,
    /// Predictor training.
    pub predictor_train: PredictorTrainConfig,
    /// Images drawn per class when a task is encoded (MetaD2A: 20).
    pub images_per_class: usize,
}

impl MetaTrainConfig {
    /// MetaD2A's structures for features of width `feature_dim`, except the predictor's graph
    /// encoder width (128 instead of 512: our database is an order of magnitude smaller than
    /// MetaD2A's, and scoring all 15,625 cells stays well under a second on a CPU).
    pub fn new(feature_dim: usize) -> Self {
        Self {
            generator: ConditionalGeneratorConfig::new(feature_dim),
            predictor: MetaPredictorConfig::new(feature_dim).with_graph_hidden(128),
            generator_train: TrainConfig {
                epochs: 150,
                batch_size: 16,
                learning_rate: 1e-3,
                beta: 0.005,
                noise_scale: 0.01,
                seed: 0,
                checkpoint_dir: None,
            },
            predictor_train: PredictorTrainConfig::default(),
            images_per_class: 20,
        }
    }

    /// [`new`](Self::new) with the generator and predictor sized for space `S`'s graphs (their
    /// vertex types and count; NB201's are `new`'s).
    pub fn for_space<S: SearchSpace>(feature_dim: usize) -> Self {
        let space = S::graph_space();
        let mut config = Self::new(feature_dim);
        config.generator = config
            .generator
            .with_num_types(space.num_types())
            .with_max_vertices(space.max_vertices());
        config.predictor = config
            .predictor
            .with_num_types(space.num_types())
            .with_max_vertices(space.max_vertices());
        config
    }
}

/// The space of a bundle written before spaces were recorded.
fn nb201_tag() -> String {
    Nb201::NAME.into()
}

/// What was meta-trained on, and how it went.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrainingSummary {
    /// Predictor training examples.
    pub train_examples: usize,
    /// Predictor validation examples.
    pub valid_examples: usize,
    /// Generator (task, good arch) pairs.
    pub generator_pairs: usize,
    /// Distinct meta-training tasks.
    pub tasks: usize,
    /// Generator epochs.
    pub generator_history: Vec<EpochStats>,
    /// The meta-training tasks held out of the predictor's training (its validation split):
    /// data the predictor has not fit, on which later stages (the proxy combination) can be
    /// learnt. Empty in a bundle written before it was recorded.
    #[serde(default)]
    pub valid_tasks: Vec<datasets::TaskSpec>,
    /// Seconds spent meta-training.
    pub seconds: f64,
}

/// The bundle's `metad2a.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BundleMeta {
    /// Always [`BUNDLE_FORMAT`].
    pub format: String,
    /// [`BUNDLE_VERSION`] when written.
    pub version: u32,
    /// The search space ([`SearchSpace::NAME`]: `nb201`, `mbv3`); `nb201` in a bundle written
    /// before it was recorded.
    #[serde(default = "nb201_tag")]
    pub space: String,
    /// Id of the feature extractor the models were trained on (see
    /// [`FeatureExtractor::id`]); [`MetaD2A::search_images`] and [`MetaD2A::predict_images`]
    /// refuse features of another. Empty in a bundle written before it was recorded (then only
    /// the feature width is checked).
    #[serde(default)]
    pub extractor: String,
    /// Images drawn per class when a task is encoded.
    pub images_per_class: usize,
    /// Generator structure.
    pub generator: ConditionalGeneratorConfig,
    /// Predictor structure, normalisation and history.
    pub predictor: PredictorMeta,
    /// What it was trained on.
    pub summary: TrainingSummary,
}

/// A meta-trained MetaD2A of search space `S` (NAS-Bench-201 unless named): generator +
/// predictor (+ what they were trained on).
#[derive(Debug)]
pub struct MetaD2A<B: Backend, S: SearchSpace = Nb201> {
    /// Dataset → architectures.
    generator: ConditionalGenerator<B>,
    /// (Dataset, architecture) → normalised accuracy.
    predictor: MetaPredictor<B>,
    /// Configs, normalisation, provenance.
    meta: BundleMeta,
    /// The graph latents of every point of the space (an exhaustive search's), built once.
    all_points: OnceLock<GraphLatentCache<B>>,
    space: PhantomData<S>,
}

/// One ranked architecture: a point of the searched space (`A`: NB201 cells unless named).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Candidate<A = Nb201Arch> {
    /// The cell (or network).
    pub arch: A,
    /// Predicted test accuracy (%), in the database's protocol.
    pub predicted_accuracy: f64,
    /// Parameters (millions) under the search's reference network (NB201: `macro_config`;
    /// MobileNetV3: `mbv3_macro_config`).
    pub params_m: f64,
    /// FLOPs, i.e. multiply-adds (millions), under the search's reference network.
    pub flops_m: f64,
}

impl<A: Point> SearchResult<A> {
    /// The ranked candidates as a text table, one line per candidate (what the CLI and the
    /// quickstart print).
    pub fn table(&self) -> String {
        let point = if A::Space::NAME == Nb201::NAME {
            "cell"
        } else {
            "network"
        };
        let mut out = format!(
            "rank  predicted %  params (M)  {:>9}  {point}\n",
            format!("{} (M)", A::Space::FLOPS_LABEL)
        );
        for (i, c) in self.ranked.iter().enumerate() {
            out += &format!(
                "{:4}  {:11.2}  {:10.3}  {:9.1}  {}\n",
                i + 1,
                c.predicted_accuracy,
                c.params_m,
                c.flops_m,
                c.arch
            );
        }
        out
    }
}

/// The result of a search (of NB201 cells unless `A` names another space's points).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SearchResult<A = Nb201Arch> {
    /// The best `top_k` candidates, best first.
    pub ranked: Vec<Candidate<A>>,
    /// Unique valid candidates scored.
    pub scored: usize,
    /// Graphs decoded (0 in exhaustive mode).
    pub decoded: usize,
    /// Decoded graphs that were valid cells.
    pub valid: usize,
    /// Points drawn for the pool ([`SearchOptions::pool`]), over-budget draws and duplicates
    /// included; 0 without one (and then not written).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub pooled: usize,
    /// Wall seconds of the whole search.
    pub seconds: f64,
}

fn bundle_err(path: &Path, e: impl std::fmt::Display) -> MetanasError {
    MetanasError::Bundle {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

impl<B: Backend, S: SearchSpace> MetaD2A<B, S> {
    /// The dataset-conditioned generator (dataset → architectures).
    pub fn generator(&self) -> &ConditionalGenerator<B> {
        &self.generator
    }

    /// The meta-performance predictor ((dataset, architecture) → normalised accuracy).
    pub fn predictor(&self) -> &MetaPredictor<B> {
        &self.predictor
    }

    /// The bundle's description: configs, space, extractor id, normalisation, provenance.
    pub fn meta(&self) -> &BundleMeta {
        &self.meta
    }

    /// Meta-trains generator and predictor on `data` (on the autodiff backend `A`, whose inner
    /// backend is `B`). `log` receives one line per epoch. The configs' graph sizes must be
    /// the space's ([`MetaTrainConfig::for_space`]).
    pub fn meta_train<A>(
        data: &MetaData<S>,
        extractor_id: &str,
        config: &MetaTrainConfig,
        device: &A::Device,
        mut log: impl FnMut(&str),
    ) -> Result<Self>
    where
        A: AutodiffBackend<InnerBackend = B>,
    {
        let start = Instant::now();
        let space = S::graph_space();
        for (part, types, vertices) in [
            (
                "generator",
                config.generator.num_types,
                config.generator.max_vertices,
            ),
            (
                "predictor",
                config.predictor.num_types,
                config.predictor.max_vertices,
            ),
        ] {
            if (types, vertices) != (space.num_types(), space.max_vertices()) {
                return Err(MetanasError::Data(format!(
                    "the {part} config is sized for graphs of {types} vertex types and \
                     {vertices} vertices, the `{}` space's have {} and {}: build the config \
                     with MetaTrainConfig::for_space",
                    S::NAME,
                    space.num_types(),
                    space.max_vertices()
                )));
            }
        }
        let features = data.features();
        if data.generator_pairs.is_empty() {
            return Err(MetanasError::Data(
                "no generator pairs (no meta-training task)".into(),
            ));
        }
        // Generator: (task, its best arch), a fresh image draw at every use.
        let generator = config.generator.try_init::<A>(device)?;
        let per_class = config.images_per_class;
        let pairs = &data.generator_pairs;
        let (generator, generator_history) = graph_vae::fit(
            generator,
            pairs.len(),
            &config.generator_train,
            device,
            |m: &ConditionalGenerator<A>, idx: &[usize], rng: &mut ChaCha8Rng| {
                let sets: Vec<Vec<Vec<f32>>> = idx
                    .iter()
                    .map(|&i| draw_per_class(&features[pairs[i].0], per_class, rng))
                    .collect();
                let tasks = SetBatch::from_classes(m.feature_dim(), &sets, device)?;
                let graphs: Vec<TypedGraph> = idx.iter().map(|&i| pairs[i].1.clone()).collect();
                let graphs =
                    GraphBatch::new(&graphs, m.decoder.num_types, m.decoder.max_vertices, device)?;
                let eps = graph_vae::vae::normal_noise(idx.len(), m.decoder.latent, rng, device);
                m.loss(&tasks, &graphs, eps, config.generator_train.noise_scale)
            },
            |s| {
                log(&format!(
                    "generator epoch {:3}  loss {:.4}  kl {:.3}  {:.1} s",
                    s.epoch, s.loss, s.kl, s.seconds
                ))
            },
        )?;
        // Predictor.
        let predictor = config.predictor.try_init::<A>(device)?;
        let trained = meta_predictor::train(
            predictor,
            &features,
            &data.train,
            &data.valid,
            &config.predictor_train,
            device,
            |e: &PredictorEpoch| {
                log(&format!(
                    "predictor epoch {:3}  train mse {:.4}  valid r {}  within-task ρ {}  {:.1} s",
                    e.epoch,
                    e.train_mse,
                    e.valid_pearson.map_or("-".into(), |r| format!("{r:.3}")),
                    e.valid_spearman.map_or("-".into(), |r| format!("{r:.3}")),
                    e.seconds
                ))
            },
        )?;
        let n_tasks = data
            .tasks
            .iter()
            .filter(|t| {
                data.meta_test
                    .iter()
                    .all(|m| data.tasks[m.task].spec != t.spec)
            })
            .count();
        let meta = BundleMeta {
            format: BUNDLE_FORMAT.into(),
            version: BUNDLE_VERSION,
            space: S::NAME.into(),
            extractor: extractor_id.into(),
            images_per_class: per_class,
            generator: config.generator.clone(),
            predictor: PredictorMeta {
                config: config.predictor.clone(),
                normalizer: trained.normalizer,
                history: trained.history,
                best_epoch: trained.best_epoch,
            },
            summary: TrainingSummary {
                train_examples: data.train.len(),
                valid_examples: data.valid.len(),
                generator_pairs: pairs.len(),
                tasks: n_tasks,
                generator_history,
                valid_tasks: {
                    let mut t: Vec<usize> = data.valid.iter().map(|e| e.task).collect();
                    t.sort_unstable();
                    t.dedup();
                    t.into_iter().map(|t| data.tasks[t].spec.clone()).collect()
                },
                seconds: start.elapsed().as_secs_f64(),
            },
        };
        Ok(Self {
            generator: generator.valid(),
            predictor: trained.model.valid(),
            meta,
            all_points: OnceLock::new(),
            space: PhantomData,
        })
    }

    /// Writes the bundle directory: `metad2a.json`, `generator.mpk`, `predictor.mpk`. Files are
    /// written into `<dir>/.writing/` and then renamed into place one by one.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let tmp = dir.join(".writing");
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).map_err(|e| bundle_err(&tmp, e))?;
        let recorder = NamedMpkFileRecorder::<FullPrecisionSettings>::new();
        self.generator
            .clone()
            .save_file(tmp.join("generator"), &recorder)
            .map_err(|e| bundle_err(&tmp, e))?;
        self.predictor
            .clone()
            .save_file(tmp.join("predictor"), &recorder)
            .map_err(|e| bundle_err(&tmp, e))?;
        let json = serde_json::to_string_pretty(&self.meta).map_err(|e| bundle_err(dir, e))?;
        std::fs::write(tmp.join("metad2a.json"), json + "\n").map_err(|e| bundle_err(&tmp, e))?;
        for name in ["generator.mpk", "predictor.mpk", "metad2a.json"] {
            std::fs::rename(tmp.join(name), dir.join(name))
                .map_err(|e| bundle_err(&dir.join(name), e))?;
        }
        std::fs::remove_dir(&tmp).map_err(|e| bundle_err(&tmp, e))
    }

    /// Reads a bundle directory written by [`save`](Self::save), and checks it before any use:
    /// it is a model of space `S` ([`MetanasError::SpaceMismatch`] otherwise; a bundle that
    /// records no space is NB201's), its configs are sized for `S`'s graphs, the weights have
    /// the shapes `metad2a.json`'s configs give them ([`MetanasError::BundleMismatch`]) and
    /// every weight is finite ([`MetanasError::NonFiniteWeights`]); a missing or unreadable
    /// file, or another format or version, is [`MetanasError::Bundle`].
    pub fn load(dir: &Path, device: &B::Device) -> Result<Self> {
        let path = dir.join("metad2a.json");
        let text = std::fs::read_to_string(&path).map_err(|e| bundle_err(&path, e))?;
        let meta: BundleMeta = serde_json::from_str(&text).map_err(|e| bundle_err(&path, e))?;
        if meta.format != BUNDLE_FORMAT || meta.version != BUNDLE_VERSION {
            return Err(bundle_err(
                &path,
                format!(
                    "format {} v{}, this build reads {BUNDLE_FORMAT} v{BUNDLE_VERSION}",
                    meta.format, meta.version
                ),
            ));
        }
        if meta.space != S::NAME {
            return Err(MetanasError::SpaceMismatch {
                path: dir.to_path_buf(),
                bundle: meta.space,
                expected: S::NAME,
            });
        }
        let space = S::graph_space();
        for (part, types, vertices) in [
            (
                "generator",
                meta.generator.num_types,
                meta.generator.max_vertices,
            ),
            (
                "predictor",
                meta.predictor.config.num_types,
                meta.predictor.config.max_vertices,
            ),
        ] {
            if (types, vertices) != (space.num_types(), space.max_vertices()) {
                return Err(bundle_err(
                    &path,
                    format!(
                        "the {part} config is sized for graphs of {types} vertex types and \
                         {vertices} vertices, but the bundle's `{}` space has {} and {}",
                        S::NAME,
                        space.num_types(),
                        space.max_vertices()
                    ),
                ));
            }
        }
        let generator = bundle::load_checked(
            meta.generator.try_init::<B>(device)?,
            &dir.join("generator.mpk"),
            device,
        )?;
        let predictor = bundle::load_checked(
            meta.predictor.config.try_init::<B>(device)?,
            &dir.join("predictor.mpk"),
            device,
        )?;
        Ok(Self {
            generator,
            predictor,
            meta,
            all_points: OnceLock::new(),
            space: PhantomData,
        })
    }

    /// The pretrained bundle, found at run time by [`locate_bundle`] (`$METANAS_BUNDLE`, then
    /// `crates/metanas/bundle` in the current directory or a folder above it, then `bundle/`
    /// next to the executable), and [`load`](Self::load)ed.
    ///
    /// ```
    /// use metanas::prelude::*;
    ///
    /// let model = MetaD2A::<Flex>::pretrained(&Default::default())?;
    /// assert_eq!(model.meta().extractor, "cnn-v1-c8850966af62280c");
    /// # Ok::<(), MetanasError>(())
    /// ```
    pub fn pretrained(device: &B::Device) -> Result<Self> {
        Self::load(&locate_bundle()?, device)
    }

    /// The shipped extractor the bundle was trained on (its recorded id, through
    /// [`set_encoder::Pretrained::from_id`]), loaded on `device` and checked
    /// ([`check_extractor`](Self::check_extractor)): what [`search_images`](Self::search_images)
    /// needs. A bundle that recorded no extractor gets the shipped CNN.
    ///
    /// ```
    /// use metanas::prelude::*;
    ///
    /// let device = Default::default();
    /// let model = MetaD2A::<Flex>::pretrained(&device)?;
    /// let extractor = model.extractor(&device)?;
    /// assert_eq!(extractor.id(), model.meta().extractor);
    /// # Ok::<(), MetanasError>(())
    /// ```
    pub fn extractor(&self, device: &B::Device) -> Result<Box<dyn FeatureExtractor>> {
        let choice = if self.meta.extractor.is_empty() {
            set_encoder::Pretrained::Cnn
        } else {
            set_encoder::Pretrained::from_id(&self.meta.extractor)?
        };
        let extractor = choice.load::<B>(device)?;
        self.check_extractor(&*extractor)?;
        Ok(extractor)
    }

    /// Checks that features from `extractor` are what the bundle was trained on: the same
    /// extractor id ([`MetanasError::ExtractorMismatch`]; skipped for a bundle that recorded
    /// none) and the same width.
    pub fn check_extractor<E: FeatureExtractor + ?Sized>(&self, extractor: &E) -> Result<()> {
        let id = extractor.id();
        if !self.meta.extractor.is_empty() && id != self.meta.extractor {
            return Err(MetanasError::ExtractorMismatch {
                bundle: self.meta.extractor.clone(),
                found: id,
            });
        }
        if extractor.dim() != self.predictor.feature_dim() {
            return Err(MetanasError::Data(format!(
                "extractor `{id}` gives features of width {}, the bundle was trained on width {}",
                extractor.dim(),
                self.predictor.feature_dim()
            )));
        }
        Ok(())
    }

    /// [`search`](Self::search) on `images`, after checking that `extractor` is the bundle's
    /// ([`check_extractor`](Self::check_extractor)) and extracting their features with it.
    pub fn search_images<E, O>(
        &self,
        extractor: &E,
        images: &Images,
        options: &O,
    ) -> Result<SearchResult<S::Arch>>
    where
        E: FeatureExtractor + ?Sized,
        O: SearchParams<S> + ?Sized,
    {
        let options = options.checked()?;
        self.check_extractor(extractor)?;
        self.search(&extractor.extract(images)?, options.as_ref())
    }

    /// [`predict`](Self::predict) on `images`, after checking that `extractor` is the bundle's
    /// ([`check_extractor`](Self::check_extractor)) and extracting their features with it.
    pub fn predict_images<E: FeatureExtractor + ?Sized>(
        &self,
        extractor: &E,
        images: &Images,
        archs: &[S::Arch],
        draws: usize,
        seed: u64,
    ) -> Result<Vec<f64>> {
        self.check_extractor(extractor)?;
        self.predict(&extractor.extract(images)?, archs, draws, seed)
    }

    /// Predicted accuracies (%) of `archs` for the task with image features `task`, each the
    /// mean over `draws` (at least 1) resampled image draws (seeded by `seed`). The features
    /// must come from the bundle's extractor ([`predict_images`](Self::predict_images) checks
    /// it; here only their width is checked).
    pub fn predict(
        &self,
        task: &Features,
        archs: &[S::Arch],
        draws: usize,
        seed: u64,
    ) -> Result<Vec<f64>> {
        self.check_features(task)?;
        if draws == 0 {
            return Err(SearchOptionsError::ZeroDraws.into());
        }
        let device = self.device();
        let space = S::graph_space();
        let graphs: Vec<TypedGraph> = archs.iter().map(|a| space.arch_to_graph(a)).collect();
        let cache = GraphLatentCache::new(&self.predictor, &graphs, 1024, &device)?;
        self.scores(&cache, task, draws, seed)
    }

    fn scores(
        &self,
        cache: &GraphLatentCache<B>,
        task: &Features,
        draws: usize,
        seed: u64,
    ) -> Result<Vec<f64>> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let norm = self.meta.predictor.normalizer;
        Ok(cache
            .score(
                &self.predictor,
                task,
                self.meta.images_per_class,
                draws,
                &mut rng,
            )?
            .into_iter()
            .map(|y| norm.inverse(y as f64))
            .collect())
    }

    fn device(&self) -> B::Device {
        self.predictor.head_out.weight.device()
    }

    fn check_features(&self, task: &Features) -> Result<()> {
        if task.dim != self.predictor.feature_dim() {
            return Err(MetanasError::Data(format!(
                "task features have width {}, the bundle was trained on width {} ({})",
                task.dim,
                self.predictor.feature_dim(),
                self.meta.extractor
            )));
        }
        if task.num_classes() < 2 {
            return Err(MetanasError::Data(format!(
                "a task needs at least 2 classes, this one has {}",
                task.num_classes()
            )));
        }
        if let Some(i) = task.data.iter().position(|v| !v.is_finite()) {
            return Err(MetanasError::Data(format!(
                "task features hold a non-finite value ({}) in row {}: the extractor's output \
                 is broken; check the images and the extractor's weights",
                task.data[i],
                i / task.dim.max(1)
            )));
        }
        Ok(())
    }

    /// Ranks points of the space for the task whose training images have features `task`
    /// (from the bundle's extractor: [`search_images`](Self::search_images) checks it; here only
    /// their width is checked). `options` are [`SearchOptions`], checked here for space `S`, or
    /// [`ValidSearchOptions<S>`].
    ///
    /// The candidates are the generator's unique valid decodes (up to `candidates`) and, with
    /// `pool`, that many points within the budgets drawn at random ([`SearchSpace::sample`],
    /// rejecting draws over budget, at most 50 draws per point asked for); or, with
    /// `exhaustive`, every point. Every candidate must meet the budgets; when candidates were produced but none
    /// meets them the error is [`MetanasError::NoCandidateWithinBudget`], naming the smallest
    /// costs among them.
    pub fn search<O: SearchParams<S> + ?Sized>(
        &self,
        task: &Features,
        options: &O,
    ) -> Result<SearchResult<S::Arch>> {
        let start = Instant::now();
        let checked = options.checked()?;
        let checked = checked.as_ref();
        let options = checked.options();
        self.check_features(task)?;
        let space = S::graph_space();
        let allowed = |a: &S::Arch| checked.fits(a);
        let device = self.device();
        let (archs, scores, decoded, valid_graphs, pooled) = if options.exhaustive {
            // `check_in` refuses an exhaustive search of a space without `all`.
            let all =
                S::all().ok_or(SearchOptionsError::ExhaustiveUnsupported { space: S::NAME })?;
            let cache = self.all_points.get_or_init(|| {
                let graphs: Vec<TypedGraph> = all.iter().map(|a| space.arch_to_graph(a)).collect();
                GraphLatentCache::new(&self.predictor, &graphs, 2048, &device)
                    .expect("the space's own graphs always batch")
            });
            let scores = self.scores(cache, task, options.draws, score_seed(options.seed))?;
            (all, scores, 0, 0, 0)
        } else {
            let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
            let mut seen = HashSet::new();
            let mut archs = Vec::new();
            // The cheapest candidate turned away by the budgets, for the error when none is left.
            let mut over_budget = Vec::new();
            let (mut decoded, mut valid) = (0, 0);
            for _ in 0..options.max_batches {
                if archs.len() >= options.candidates {
                    break;
                }
                // Fresh image draws → latents z = μ(D); each latent is decoded several times
                // (types and edges sampled), so the set encoder runs on `draws_per_batch` draws
                // while `batch` graphs are decoded.
                let n_draws = options.draws_per_batch.min(options.batch);
                let sets: Vec<Vec<Vec<f32>>> = (0..n_draws)
                    .map(|_| draw_per_class(task, self.meta.images_per_class, &mut rng))
                    .collect();
                let tasks = SetBatch::from_classes(task.dim, &sets, &device)?;
                let (mu, _) = self.generator.posterior(&tasks)?;
                let rows: Vec<usize> = (0..options.batch).map(|i| i % n_draws).collect();
                let rows = burn::tensor::Tensor::<B, 1, burn::tensor::Int>::from_data(
                    burn::tensor::TensorData::new(
                        rows.iter().map(|&r| r as i64).collect::<Vec<_>>(),
                        [rows.len()],
                    ),
                    &device,
                );
                let graphs = self.generator.decoder.decode(
                    mu.select(0, rows),
                    Decoding::Sample,
                    &mut rng,
                )?;
                decoded += graphs.len();
                for g in graphs {
                    if let Ok(arch) = space.graph_to_arch(&g) {
                        valid += 1;
                        if archs.len() < options.candidates {
                            if !allowed(&arch) {
                                over_budget.push(arch);
                            } else if seen.insert(arch) {
                                archs.push(arch);
                            }
                        }
                    }
                }
            }
            // The pool: its own generator of draws, so that adding one leaves the generated
            // candidates as they were.
            // Draws are rejected until `pool` of them meet the budget (at most
            // POOL_DRAWS_PER_POINT × pool draws), so that a tight budget still gets a pool.
            let mut pool_rng = ChaCha8Rng::seed_from_u64(pool_seed(options.seed));
            let (mut pooled, mut drawn) = (0, 0);
            while pooled < options.pool && drawn < POOL_DRAWS_PER_POINT * options.pool {
                let arch = S::sample(&mut pool_rng);
                drawn += 1;
                if !allowed(&arch) {
                    if over_budget.len() < options.pool {
                        over_budget.push(arch);
                    }
                } else {
                    pooled += 1;
                    if seen.insert(arch) {
                        archs.push(arch);
                    }
                }
            }
            if archs.is_empty() {
                if over_budget.is_empty() {
                    return Err(MetanasError::Data(
                        "the generator produced no valid cell within the constraints".into(),
                    ));
                }
                let distinct: HashSet<S::Arch> = over_budget.iter().copied().collect();
                let (min_params, min_flops) = distinct
                    .iter()
                    .map(|a| checked.cost(a))
                    .fold((f64::INFINITY, f64::INFINITY), |(p, f), c| {
                        (p.min(c.params), f.min(c.flops))
                    });
                return Err(MetanasError::NoCandidateWithinBudget {
                    point: S::POINT,
                    scored: distinct.len(),
                    max_params: options.max_params,
                    max_flops: options.max_flops,
                    min_params,
                    min_flops,
                });
            }
            let scores = self.predict(task, &archs, options.draws, score_seed(options.seed))?;
            (archs, scores, decoded, valid, drawn)
        };
        let mut ranked: Vec<Candidate<S::Arch>> = archs
            .iter()
            .zip(&scores)
            .filter(|(a, _)| !options.exhaustive || allowed(a))
            .map(|(a, &s)| {
                let c = checked.cost(a);
                Candidate {
                    arch: *a,
                    predicted_accuracy: s,
                    params_m: c.params,
                    flops_m: c.flops,
                }
            })
            .collect();
        let scored = ranked.len();
        ranked.sort_by(|a, b| {
            b.predicted_accuracy
                .total_cmp(&a.predicted_accuracy)
                .then(a.arch.point_index().cmp(&b.arch.point_index()))
        });
        ranked.truncate(options.top_k);
        Ok(SearchResult {
            ranked,
            scored,
            decoded,
            valid: valid_graphs,
            pooled,
            seconds: start.elapsed().as_secs_f64(),
        })
    }
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// The most draws per requested pool point: a pool's draws are rejected until `pool` of them
/// meet the budget, and a budget met by fewer than 1 draw in 50 gets a smaller pool.
const POOL_DRAWS_PER_POINT: usize = 50;

/// The seed of a search's pool sample, apart from the seed of its image draws and decoding.
fn pool_seed(seed: u64) -> u64 {
    seed ^ 0x706f_6f6c
}

/// The seed of the image draws a search scores its cells with: one for both modes, so that a
/// cell scores the same whether it was generated or found exhaustively (the generated mode's
/// own draws, for the generator's latents, come from `seed` itself).
fn score_seed(seed: u64) -> u64 {
    seed ^ 0x9e37
}
