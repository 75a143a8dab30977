//! The database, read as meta-training and meta-test sets for MetaD2A, in any
//! [`SearchSpace`]: the records' architecture type names the space ([`Point`]).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use datasets::{DataPaths, FeatureExtractor, Features, Task, TaskSpec};
use graph_vae::{GraphSpace, TypedGraph};
use meta_predictor::Example;
use model_zoo::database::RunRecord;
use model_zoo::plan::Role;
use model_zoo::{Protocol, RunStatus};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use search_space::Nb201Arch;
use serde::Serialize;

use crate::error::{MetanasError, Result};
use crate::space::{Nb201, Point, SearchSpace};

/// One task of the database with the features of its training images; `P` is the protocol
/// type of the space's records.
#[derive(Clone, Debug)]
pub struct TaskEntry<P = Protocol> {
    /// Plan group (e.g. `train/glyphs`, `test/mnist`).
    pub group: String,
    /// The task, rebuildable with `Task::build`.
    pub spec: TaskSpec,
    /// The protocol its runs used.
    pub protocol: P,
    /// Features of its training images.
    pub features: Features,
}

/// A meta-test dataset's ground truth: its task, protocol, and the measured accuracy of each
/// architecture (mean over seeds), best first.
#[derive(Clone, Debug)]
pub struct GroundTruth<A = Nb201Arch, P = Protocol> {
    /// Plan group (e.g. `test/mnist`).
    pub group: String,
    /// The task.
    pub spec: TaskSpec,
    /// The protocol of its runs.
    pub protocol: P,
    /// `(arch, mean test accuracy in %, seeds)`, best first.
    pub truth: Vec<(A, f64, usize)>,
}

impl<A: PartialEq, P> GroundTruth<A, P> {
    /// Mean accuracy (%) of `arch`, if it was measured.
    pub fn accuracy(&self, arch: &A) -> Option<f64> {
        self.truth.iter().find(|t| &t.0 == arch).map(|t| t.1)
    }

    /// Best known accuracy (%).
    pub fn best(&self) -> f64 {
        self.truth.first().map_or(f64::NAN, |t| t.1)
    }

    /// Mean accuracy (%) over the measured archs: the expected accuracy of a random pick.
    pub fn mean(&self) -> f64 {
        self.truth.iter().map(|t| t.1).sum::<f64>() / self.truth.len().max(1) as f64
    }

    /// Fraction of measured archs strictly better than `accuracy` (0 = at least the best known).
    pub fn fraction_better(&self, accuracy: f64) -> f64 {
        let better = self.truth.iter().filter(|t| t.1 > accuracy).count();
        better as f64 / self.truth.len().max(1) as f64
    }
}

/// A meta-test dataset with the index of its task in [`MetaData::tasks`].
#[derive(Clone, Debug)]
pub struct MetaTestSet<A = Nb201Arch, P = Protocol> {
    /// Index into [`MetaData::tasks`].
    pub task: usize,
    /// Its ground truth.
    pub truth: GroundTruth<A, P>,
}

fn accuracy_pct<A, P>(r: &RunRecord<A, P>) -> f64 {
    100.0 * r.result.test_accuracy.unwrap_or(f64::NAN)
}

fn usable<A, P>(r: &RunRecord<A, P>) -> bool {
    r.result.status == RunStatus::Ok && r.result.test_accuracy.is_some()
}

/// The ground truth of every meta-test group in `records` (archs with at least `min_seeds`
/// finished seeds), sorted by group name. Duplicated records count once.
pub fn ground_truths<A: Point, P: Clone + Serialize>(
    records: &[RunRecord<A, P>],
    min_seeds: usize,
) -> Vec<GroundTruth<A, P>> {
    let mut seen = std::collections::HashSet::new();
    type Runs<A> = BTreeMap<A, Vec<f64>>;
    let mut groups: BTreeMap<String, (TaskSpec, P, Runs<A>)> = BTreeMap::new();
    for r in records
        .iter()
        .filter(|r| r.role == Role::MetaTest && usable(r))
    {
        if !seen.insert(r.key()) {
            continue;
        }
        let entry = groups
            .entry(r.group.clone())
            .or_insert_with(|| (r.task.clone(), r.protocol.clone(), BTreeMap::new()));
        entry.2.entry(r.arch).or_default().push(accuracy_pct(r));
    }
    groups
        .into_iter()
        .map(|(group, (spec, protocol, by_arch))| {
            let mut truth: Vec<(A, f64, usize)> = by_arch
                .into_iter()
                .filter(|(_, v)| v.len() >= min_seeds.max(1))
                .map(|(a, v)| (a, v.iter().sum::<f64>() / v.len() as f64, v.len()))
                .collect();
            truth.sort_by(|a, b| b.1.total_cmp(&a.1));
            GroundTruth {
                group,
                spec,
                protocol,
                truth,
            }
        })
        .collect()
}

/// The "global-best" architecture: the highest global prior among cells run on at least
/// `min_tasks` meta-training tasks (ties broken by the lower index of the space,
/// [`Point::point_index`]: NB201's official index).
pub fn global_best<A: Point>(prior: &HashMap<A, (f64, usize)>, min_tasks: usize) -> Option<A> {
    prior
        .iter()
        .filter(|(_, p)| p.1 >= min_tasks)
        .max_by(|a, b| {
            a.1 .0
                .total_cmp(&b.1 .0)
                .then(b.0.point_index().cmp(&a.0.point_index()))
        })
        .map(|(a, _)| *a)
}

/// The "global prior" of each architecture run in meta-training: its accuracy z-scored within
/// each task, averaged over the tasks it was run on, with that number of tasks.
pub fn global_prior<A: Point, P: Serialize>(
    records: &[RunRecord<A, P>],
) -> HashMap<A, (f64, usize)> {
    let mut seen = std::collections::HashSet::new();
    // Tasks in a fixed (sorted) order, so that the float sums below do not depend on hashing.
    let mut by_task: BTreeMap<String, Vec<(A, f64)>> = BTreeMap::new();
    for r in records
        .iter()
        .filter(|r| r.role == Role::MetaTrain && usable(r))
    {
        if seen.insert(r.key()) {
            by_task
                .entry(key(&r.task))
                .or_default()
                .push((r.arch, accuracy_pct(r)));
        }
    }
    let mut prior: HashMap<A, (f64, usize)> = HashMap::new();
    for runs in by_task.values() {
        let n = runs.len() as f64;
        let mean = runs.iter().map(|r| r.1).sum::<f64>() / n;
        let sd = (runs.iter().map(|r| (r.1 - mean).powi(2)).sum::<f64>() / n).sqrt();
        if sd > 0.0 {
            for (arch, acc) in runs {
                let e = prior.entry(*arch).or_default();
                e.0 += (acc - mean) / sd;
                e.1 += 1;
            }
        }
    }
    for v in prior.values_mut() {
        v.0 /= v.1 as f64;
    }
    prior
}

/// Everything MetaD2A learns from and is judged on, read from database records of space `S`
/// (NAS-Bench-201 unless named).
#[derive(Clone, Debug)]
pub struct MetaData<S: SearchSpace = Nb201> {
    /// Tasks with features (meta-train and meta-test).
    pub tasks: Vec<TaskEntry<S::Protocol>>,
    /// Predictor training examples (meta-train tasks not held out), accuracy in %.
    pub train: Vec<Example>,
    /// Predictor validation examples (held-out meta-train tasks), accuracy in %.
    pub valid: Vec<Example>,
    /// Generator pairs: (task, its best measured architecture), meta-train tasks only.
    pub generator_pairs: Vec<(usize, TypedGraph)>,
    /// Meta-test datasets.
    pub meta_test: Vec<MetaTestSet<S::Arch, S::Protocol>>,
    /// Per meta-train arch: mean per-task z-scored accuracy and task count (see
    /// [`global_prior`]).
    pub global_prior: HashMap<S::Arch, (f64, usize)>,
}

/// How to read the database.
#[derive(Clone, Debug)]
pub struct MetaDataOptions {
    /// Fraction of meta-train tasks held out for the predictor's validation.
    pub valid_fraction: f64,
    /// Seed of the validation split.
    pub seed: u64,
    /// Meta-test archs need at least this many finished seeds to count.
    pub min_seeds: usize,
}

impl Default for MetaDataOptions {
    fn default() -> Self {
        Self {
            valid_fraction: 0.1,
            seed: 0,
            min_seeds: 1,
        }
    }
}

fn key(spec: &TaskSpec) -> String {
    spec.key()
}

impl<S: SearchSpace> MetaData<S> {
    /// Reads the runs of the space's database files `paths` ([`SearchSpace::load_records`]);
    /// task images come from `data`, features from `extractor`. Diverged and failed runs are
    /// left out.
    pub fn from_database(
        paths: &[PathBuf],
        data: &DataPaths,
        extractor: &dyn FeatureExtractor,
        options: &MetaDataOptions,
    ) -> Result<Self> {
        let records = S::load_records(paths)?;
        Self::from_records(&records, data, extractor, options)
    }

    /// As [`from_database`](Self::from_database), from records already read; their
    /// architecture type names the space.
    pub fn from_records<A, P>(
        records: &[RunRecord<A, P>],
        data: &DataPaths,
        extractor: &dyn FeatureExtractor,
        options: &MetaDataOptions,
    ) -> Result<Self>
    where
        A: Point<Space = S>,
        S: SearchSpace<Arch = A, Protocol = P>,
        P: Clone + std::fmt::Debug + PartialEq + Serialize + serde::de::DeserializeOwned,
    {
        let space = S::graph_space();
        // Distinct tasks, in first-seen order.
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut tasks: Vec<TaskEntry<P>> = Vec::new();
        let mut runs: Vec<Vec<&RunRecord<A, P>>> = Vec::new();
        // The same run may sit in several files (a merged database and its shards).
        let mut seen = std::collections::HashSet::new();
        for r in records {
            if !seen.insert(r.key()) {
                continue;
            }
            if !usable(r) {
                continue;
            }
            let k = key(&r.task);
            let i = match index.get(&k) {
                Some(&i) => i,
                None => {
                    let task = Task::build(&r.task, data)?;
                    let features = extractor.extract(&task.train)?;
                    tasks.push(TaskEntry {
                        group: r.group.clone(),
                        spec: r.task.clone(),
                        protocol: r.protocol.clone(),
                        features,
                    });
                    runs.push(Vec::new());
                    index.insert(k, tasks.len() - 1);
                    tasks.len() - 1
                }
            };
            runs[i].push(r);
        }
        let acc = |r: &RunRecord<A, P>| accuracy_pct(r);

        let mut train_tasks: Vec<usize> = (0..tasks.len())
            .filter(|&t| runs[t][0].role == Role::MetaTrain)
            .collect();
        if train_tasks.is_empty() {
            return Err(MetanasError::Data(
                "the database has no meta-training run".into(),
            ));
        }
        train_tasks.shuffle(&mut ChaCha8Rng::seed_from_u64(options.seed));
        let n_valid = ((train_tasks.len() as f64) * options.valid_fraction).round() as usize;
        let n_valid = n_valid.min(train_tasks.len() - 1);
        let valid_tasks: Vec<usize> = train_tasks[..n_valid].to_vec();

        let mut train = Vec::new();
        let mut valid = Vec::new();
        let mut generator_pairs = Vec::new();
        let truths = ground_truths(records, options.min_seeds);
        let meta_test: Vec<MetaTestSet<A, P>> = truths
            .into_iter()
            .filter_map(|truth| {
                let task = tasks.iter().position(|t| t.spec == truth.spec)?;
                Some(MetaTestSet { task, truth })
            })
            .collect();
        for (t, task_runs) in runs.iter().enumerate() {
            if task_runs[0].role == Role::MetaTest {
                continue;
            }
            let examples: Vec<Example> = task_runs
                .iter()
                .map(|r| Example {
                    task: t,
                    graph: space.arch_to_graph(&r.arch),
                    accuracy: acc(r),
                })
                .collect();
            if let Some(best) = task_runs.iter().max_by(|a, b| acc(a).total_cmp(&acc(b))) {
                generator_pairs.push((t, space.arch_to_graph(&best.arch)));
            }
            if valid_tasks.contains(&t) {
                valid.extend(examples);
            } else {
                train.extend(examples);
            }
        }
        Ok(Self {
            tasks,
            train,
            valid,
            generator_pairs,
            meta_test,
            global_prior: global_prior(records),
        })
    }

    /// The features of every task, in task order (what the predictor's examples index).
    pub fn features(&self) -> Vec<Features> {
        self.tasks.iter().map(|t| t.features.clone()).collect()
    }
}
