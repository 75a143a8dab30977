//! [`MetaD2A::search_with_budget`]: generate and rank as [`MetaD2A::search`] does, then train up
//! to `k` candidates on the user's task and let the measurements correct the ranking.

use burn::tensor::backend::{AutodiffBackend, Backend};
use datasets::{Features, Task};
use graph_vae::{GraphSpace, TypedGraph};
use meta_predictor::GraphLatentCache;
use model_zoo::Protocol;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use search_space::Nb201Arch;
use serde::{Deserialize, Serialize};

use crate::budget::{run_budget, BudgetMethod, BudgetStep, BudgetTrace, GpPool};
use crate::error::{MetanasError, Result};
use crate::metad2a::{score_seed, MetaD2A, SearchOptions, SearchResult};
use crate::space::{Nb201, SearchSpace};

/// Settings of [`MetaD2A::search_with_budget`].
#[derive(Clone, Debug)]
pub struct BudgetOptions {
    /// How the candidate pool is generated and scored ([`SearchOptions::top_k`] is ignored:
    /// every candidate stays in the pool).
    pub search: SearchOptions,
    /// Training runs to spend (each trains one candidate once).
    pub budget: usize,
    /// How the runs are chosen (default: the predictor-guided GP).
    pub method: BudgetMethod,
    /// The protocol every candidate is trained with.
    pub protocol: Protocol,
    /// Seed of the training runs (one seed for every candidate, so runs compare like for like).
    pub train_seed: u64,
}

impl Default for BudgetOptions {
    fn default() -> Self {
        Self {
            search: SearchOptions {
                candidates: 100,
                ..SearchOptions::default()
            },
            budget: 3,
            method: BudgetMethod::predictor_gp(),
            protocol: Protocol::mini(),
            train_seed: 0,
        }
    }
}

/// The answer of a budgeted search.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BudgetResult {
    /// The cell answered: the best measured one (by the GP's posterior mean for the GP).
    pub arch: Nb201Arch,
    /// Its measured test accuracy (%).
    pub accuracy: f64,
    /// Its predicted accuracy (%) before any run.
    pub predicted: f64,
    /// Every run, in order.
    pub trace: BudgetTrace,
    /// The generated pool, ranked by the predictor (all candidates).
    pub pool: SearchResult,
    /// Wall seconds of the whole search, training included.
    pub seconds: f64,
}

impl<B: Backend, S: SearchSpace> MetaD2A<B, S> {
    /// Predicted accuracies (%) of `archs` as [`predict`](Self::predict) gives them, with each
    /// cell's (dataset, cell) embedding (the predictor head's hidden layer, averaged over the
    /// same image draws), row-major `[archs, width]`, and the width.
    pub fn predict_embedded(
        &self,
        task: &Features,
        archs: &[S::Arch],
        draws: usize,
        seed: u64,
    ) -> Result<(Vec<f64>, Vec<f32>, usize)> {
        self.check_features(task)?;
        if draws == 0 {
            return Err(crate::error::SearchOptionsError::ZeroDraws.into());
        }
        if archs.is_empty() {
            return Err(MetanasError::Data("no cells to predict".into()));
        }
        let device = self.device();
        let space = S::graph_space();
        let graphs: Vec<TypedGraph> = archs.iter().map(|a| space.arch_to_graph(a)).collect();
        let cache = GraphLatentCache::new(&self.predictor, &graphs, 1024, &device)?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (scores, embedding) = cache.score_embedded(
            &self.predictor,
            task,
            self.meta.images_per_class,
            draws,
            &mut rng,
        )?;
        let norm = self.meta.predictor.normalizer;
        let dim = embedding.len() / archs.len();
        Ok((
            scores.into_iter().map(|y| norm.inverse(y as f64)).collect(),
            embedding,
            dim,
        ))
    }
}

/// The budgeted search trains its candidates with NAS-Bench-201's protocol, so it is a search
/// of NB201 cells.
impl<B: Backend> MetaD2A<B, Nb201> {
    /// Searches as [`search`](Self::search) does, then spends `options.budget` training runs
    /// on `task` (whose training images have features `features`, from the bundle's extractor)
    /// with `options.method`, training each chosen candidate with `options.protocol` on backend
    /// `A`. `on_step` sees every run as it finishes (a progress bar, a log, a file). Returns the
    /// best measured cell and the trace. Deterministic given the seeds on one backend.
    pub fn search_with_budget<A: AutodiffBackend>(
        &self,
        task: &Task,
        features: &Features,
        options: &BudgetOptions,
        device: &A::Device,
        on_step: &mut dyn FnMut(&BudgetStep),
    ) -> Result<BudgetResult> {
        let start = std::time::Instant::now();
        let search = SearchOptions {
            top_k: options.search.candidates,
            ..options.search.clone()
        };
        let pool = self.search(features, &search)?;
        let archs: Vec<Nb201Arch> = pool.ranked.iter().map(|c| c.arch).collect();
        let gp = match options.method {
            BudgetMethod::PredictorGp { .. } | BudgetMethod::PredictorTopK => {
                let (predicted, embedding, dim) =
                    self.predict_embedded(features, &archs, search.draws, score_seed(search.seed))?;
                Some(GpPool::new(predicted, embedding, dim)?)
            }
            _ => None,
        };
        let mut measure = |_: usize, arch: Nb201Arch| {
            let run =
                model_zoo::train::<A>(arch, task, &options.protocol, options.train_seed, device)?;
            // A diverged run scores chance, which is what the cell would give.
            Ok(run
                .test_accuracy
                .filter(|_| run.is_ok())
                .map_or(100.0 / task.way().max(1) as f64, |a| 100.0 * a))
        };
        let trace = run_budget(
            &archs,
            gp.as_ref(),
            &options.method,
            options.budget,
            search.seed,
            &mut measure,
            on_step,
        )?;
        let last = trace.last();
        Ok(BudgetResult {
            arch: last.best_arch,
            accuracy: last.best_accuracy,
            predicted: pool.ranked[last.best_index].predicted_accuracy,
            trace,
            pool,
            seconds: start.elapsed().as_secs_f64(),
        })
    }
}
