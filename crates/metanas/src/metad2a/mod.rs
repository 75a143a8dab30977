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

mod budget;
mod bundle;
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
use std::path::Path;
use std::sync::OnceLock;
use std::time::Instant;

use burn::module::{AutodiffModule, Module};
use burn::record::{FullPrecisionSettings, NamedMpkFileRecorder};
use burn::tensor::backend::{AutodiffBackend, Backend};
use datasets::{FeatureExtractor, Features, Images};
use graph_vae::{
    ConditionalGenerator, ConditionalGeneratorConfig, Decoding, EpochStats, GraphBatch, GraphSpace,
    Nb201Space, TrainConfig, TypedGraph,
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

/// A meta-trained MetaD2A: generator + predictor (+ what they were trained on).
#[derive(Debug)]
pub struct MetaD2A<B: Backend> {
    /// Dataset → architectures.
    pub generator: ConditionalGenerator<B>,
    /// (Dataset, architecture) → normalised accuracy.
    pub predictor: MetaPredictor<B>,
    /// Configs, normalisation, provenance.
    pub meta: BundleMeta,
    all_cells: OnceLock<GraphLatentCache<B>>,
}

/// One ranked architecture.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    /// The cell.
    pub arch: Nb201Arch,
    /// Predicted test accuracy (%), in the database's protocol.
    pub predicted_accuracy: f64,
    /// Parameters (millions) under the search's macro config.
    pub params_m: f64,
    /// FLOPs (millions) under the search's macro config.
    pub flops_m: f64,
}

impl SearchResult {
    /// The ranked candidates as a text table, one line per candidate (what the CLI and the
    /// quickstart print).
    pub fn table(&self) -> String {
        let mut out = String::from("rank  predicted %  params (M)  FLOPs (M)  cell\n");
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

/// The result of a search.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SearchResult {
    /// The best `top_k` candidates, best first.
    pub ranked: Vec<Candidate>,
    /// Unique valid candidates scored.
    pub scored: usize,
    /// Graphs decoded (0 in exhaustive mode).
    pub decoded: usize,
    /// Decoded graphs that were valid cells.
    pub valid: usize,
    /// Wall seconds of the whole search.
    pub seconds: f64,
}

fn bundle_err(path: &Path, e: impl std::fmt::Display) -> MetanasError {
    MetanasError::Bundle {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

impl<B: Backend> MetaD2A<B> {
    /// Meta-trains generator and predictor on `data` (on the autodiff backend `A`, whose inner
    /// backend is `B`). `log` receives one line per epoch.
    pub fn meta_train<A>(
        data: &MetaData,
        extractor_id: &str,
        config: &MetaTrainConfig,
        device: &A::Device,
        mut log: impl FnMut(&str),
    ) -> Result<Self>
    where
        A: AutodiffBackend<InnerBackend = B>,
    {
        let start = Instant::now();
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
            all_cells: OnceLock::new(),
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
    /// the weights have the shapes `metad2a.json`'s configs give them
    /// ([`MetanasError::BundleMismatch`]) and every weight is finite
    /// ([`MetanasError::NonFiniteWeights`]); a missing or unreadable file, or another format or
    /// version, is [`MetanasError::Bundle`].
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
            all_cells: OnceLock::new(),
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
    /// assert_eq!(model.meta.extractor, "cnn-v1-c8850966af62280c");
    /// # Ok::<(), MetanasError>(())
    /// ```
    pub fn pretrained(device: &B::Device) -> Result<Self> {
        Self::load(&locate_bundle()?, device)
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
    ) -> Result<SearchResult>
    where
        E: FeatureExtractor + ?Sized,
        O: SearchParams + ?Sized,
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
        archs: &[Nb201Arch],
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
        archs: &[Nb201Arch],
        draws: usize,
        seed: u64,
    ) -> Result<Vec<f64>> {
        self.check_features(task)?;
        if draws == 0 {
            return Err(SearchOptionsError::ZeroDraws.into());
        }
        let device = self.device();
        let graphs: Vec<TypedGraph> = archs.iter().map(|a| Nb201Space.arch_to_graph(a)).collect();
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

    /// Ranks cells for the task whose training images have features `task` (from the bundle's
    /// extractor: [`search_images`](Self::search_images) checks it; here only their width is
    /// checked). `options` are [`SearchOptions`], checked here, or [`ValidSearchOptions`].
    pub fn search<O: SearchParams + ?Sized>(
        &self,
        task: &Features,
        options: &O,
    ) -> Result<SearchResult> {
        let start = Instant::now();
        let valid = options.checked()?;
        let valid = valid.as_ref();
        let options = valid.options();
        self.check_features(task)?;
        let allowed = |a: &Nb201Arch| valid.fits(a);
        let device = self.device();
        let (archs, scores, decoded, valid) = if options.exhaustive {
            let cache = self.all_cells.get_or_init(|| {
                let graphs: Vec<TypedGraph> = Nb201Arch::all()
                    .map(|a| Nb201Space.arch_to_graph(&a))
                    .collect();
                GraphLatentCache::new(&self.predictor, &graphs, 2048, &device)
                    .expect("NB201 graphs always batch")
            });
            let scores = self.scores(cache, task, options.draws, score_seed(options.seed))?;
            let archs: Vec<Nb201Arch> = Nb201Arch::all().collect();
            (archs, scores, 0, 0)
        } else {
            let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
            let mut seen = HashSet::new();
            let mut archs = Vec::new();
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
                    if let Ok(arch) = Nb201Space.graph_to_arch(&g) {
                        valid += 1;
                        if archs.len() < options.candidates && allowed(&arch) && seen.insert(arch) {
                            archs.push(arch);
                        }
                    }
                }
            }
            if archs.is_empty() {
                return Err(MetanasError::Data(
                    "the generator produced no valid cell within the constraints".into(),
                ));
            }
            let scores = self.predict(task, &archs, options.draws, score_seed(options.seed))?;
            (archs, scores, decoded, valid)
        };
        let mut ranked: Vec<Candidate> = archs
            .iter()
            .zip(&scores)
            .filter(|(a, _)| !options.exhaustive || allowed(a))
            .map(|(a, &s)| {
                let c = a.cost(&options.macro_config);
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
                .then(a.arch.index().cmp(&b.arch.index()))
        });
        ranked.truncate(options.top_k);
        Ok(SearchResult {
            ranked,
            scored,
            decoded,
            valid,
            seconds: start.elapsed().as_secs_f64(),
        })
    }
}

/// The seed of the image draws a search scores its cells with: one for both modes, so that a
/// cell scores the same whether it was generated or found exhaustively (the generated mode's
/// own draws, for the generator's latents, come from `seed` itself).
fn score_seed(seed: u64) -> u64 {
    seed ^ 0x9e37
}
