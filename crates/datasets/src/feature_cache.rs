//! [`FeatureCache`]: features of recently used tasks, keyed by task spec, split and extractor.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use crate::features::{ExtractError, FeatureExtractor, Features};
use crate::paths::DataPaths;
use crate::source::Split;
use crate::task::{Task, TaskSpec};

/// What a cached entry was computed from.
///
/// The task is identified by its serialised [`TaskSpec`] (which rebuilds it bit for bit), the
/// extractor by its [`id`](FeatureExtractor::id).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FeatureKey {
    /// The task spec as JSON.
    pub task: String,
    /// Which split of the task was extracted.
    pub split: Split,
    /// The extractor's id.
    pub extractor: String,
}

impl FeatureKey {
    /// The key of `split` of the task `spec` describes, through `extractor`.
    pub fn new(spec: &TaskSpec, split: Split, extractor: &dyn FeatureExtractor) -> Self {
        Self {
            // A TaskSpec holds only strings, integers, paths and enums: serialising cannot fail
            // short of a non-UTF-8 folder path, which then keys on its debug form instead.
            task: serde_json::to_string(spec).unwrap_or_else(|_| format!("{spec:?}")),
            split,
            extractor: extractor.id(),
        }
    }
}

/// A small in-memory cache of task features, least recently used entries evicted first.
///
/// Meta-training draws the same tasks again and again (MetaD2A resamples images of a fixed task
/// list); extracting them once per process saves most of the feature cost. Thread-safe; values
/// are shared as `Arc`s.
///
/// ```no_run
/// use datasets::{DataPaths, FeatureCache, PixelExtractor, SourceSpec, Split, TaskSpec};
/// let cache = FeatureCache::new(64);
/// let spec = TaskSpec::new(SourceSpec::Digits, vec![0, 1, 2], 20, 5, 16, 0);
/// let paths = DataPaths::from_env();
/// let a = cache.get_or_extract(&spec, Split::Train, &PixelExtractor::default(), &paths)?;
/// let b = cache.get_or_extract(&spec, Split::Train, &PixelExtractor::default(), &paths)?;
/// assert!(std::sync::Arc::ptr_eq(&a, &b));
/// # Ok::<(), datasets::ExtractError>(())
/// ```
#[derive(Debug)]
pub struct FeatureCache {
    capacity: usize,
    state: Mutex<CacheState>,
}

#[derive(Debug, Default)]
struct CacheState {
    entries: HashMap<FeatureKey, Arc<Features>>,
    /// Keys from least to most recently used.
    recency: VecDeque<FeatureKey>,
}

impl FeatureCache {
    /// A cache holding at most `capacity` entries (0 disables caching).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            state: Mutex::new(CacheState::default()),
        }
    }

    /// Features of `split` of the task `spec` describes: from the cache, or by building the task
    /// ([`Task::build`]) and running `extractor` on the split.
    pub fn get_or_extract(
        &self,
        spec: &TaskSpec,
        split: Split,
        extractor: &dyn FeatureExtractor,
        paths: &DataPaths,
    ) -> Result<Arc<Features>, ExtractError> {
        let key = FeatureKey::new(spec, split, extractor);
        if let Some(hit) = self.lookup(&key) {
            return Ok(hit);
        }
        let task = Task::build(spec, paths)?;
        self.insert(key, extract_split(&task, split, extractor)?)
    }

    /// Like [`get_or_extract`](Self::get_or_extract) for a task already built.
    pub fn get_or_extract_task(
        &self,
        task: &Task,
        split: Split,
        extractor: &dyn FeatureExtractor,
    ) -> Result<Arc<Features>, ExtractError> {
        let key = FeatureKey::new(&task.spec, split, extractor);
        if let Some(hit) = self.lookup(&key) {
            return Ok(hit);
        }
        self.insert(key, extract_split(task, split, extractor)?)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops every entry.
    pub fn clear(&self) {
        let mut state = self.lock();
        state.entries.clear();
        state.recency.clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CacheState> {
        // A panic while holding the lock leaves the maps consistent (each update is one call).
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lookup(&self, key: &FeatureKey) -> Option<Arc<Features>> {
        let mut state = self.lock();
        let hit = Arc::clone(state.entries.get(key)?);
        state.recency.retain(|k| k != key);
        state.recency.push_back(key.clone());
        Some(hit)
    }

    /// Stores `features` (unless an equal key raced in first, whose value then wins).
    fn insert(&self, key: FeatureKey, features: Features) -> Result<Arc<Features>, ExtractError> {
        let features = Arc::new(features);
        if self.capacity == 0 {
            return Ok(features);
        }
        let mut state = self.lock();
        if let Some(existing) = state.entries.get(&key) {
            return Ok(Arc::clone(existing));
        }
        while state.entries.len() >= self.capacity {
            match state.recency.pop_front() {
                Some(old) => {
                    state.entries.remove(&old);
                }
                None => break,
            }
        }
        state.recency.push_back(key.clone());
        state.entries.insert(key, Arc::clone(&features));
        Ok(features)
    }
}

fn extract_split(
    task: &Task,
    split: Split,
    extractor: &dyn FeatureExtractor,
) -> Result<Features, ExtractError> {
    extractor.extract(match split {
        Split::Train => &task.train,
        Split::Test => &task.test,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::images::Images;
    use crate::source::SourceSpec;
    use crate::PixelExtractor;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Counts its calls; features are the images' first pixel.
    #[derive(Debug, Default)]
    struct Counting(AtomicUsize);

    impl FeatureExtractor for Counting {
        fn id(&self) -> String {
            "counting".into()
        }
        fn dim(&self) -> usize {
            1
        }
        fn extract(&self, images: &Images) -> Result<Features, ExtractError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(Features {
                data: (0..images.len()).map(|i| images.image(i)[0]).collect(),
                labels: images.labels.clone(),
                dim: 1,
            })
        }
    }

    fn task(seed: u64) -> Task {
        let spec = TaskSpec::new(SourceSpec::Digits, vec![0, 1], 2, 1, 2, seed);
        let images = |n: usize| Images {
            data: vec![seed as f32; n * 4],
            labels: (0..n).map(|i| i % 2).collect(),
            channels: 1,
            height: 2,
            width: 2,
        };
        Task {
            spec,
            train: images(4),
            test: images(2),
        }
    }

    #[test]
    fn hits_evicts_least_recent_and_keys_on_split_and_extractor() {
        let cache = FeatureCache::new(2);
        let counting = Counting::default();
        let calls = || counting.0.load(Ordering::SeqCst);
        let (t0, t1, t2) = (task(0), task(1), task(2));
        let a = cache
            .get_or_extract_task(&t0, Split::Train, &counting)
            .unwrap();
        let b = cache
            .get_or_extract_task(&t0, Split::Train, &counting)
            .unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(calls(), 1);
        let test = cache
            .get_or_extract_task(&t0, Split::Test, &counting)
            .unwrap();
        assert_eq!(test.len(), 2);
        assert_eq!(calls(), 2);
        // t0/train was used before t0/test, so it is evicted by t1.
        cache
            .get_or_extract_task(&t1, Split::Train, &counting)
            .unwrap();
        assert_eq!(cache.len(), 2);
        cache
            .get_or_extract_task(&t0, Split::Test, &counting)
            .unwrap();
        assert_eq!(calls(), 3);
        cache
            .get_or_extract_task(&t0, Split::Train, &counting)
            .unwrap();
        assert_eq!(calls(), 4);
        // Another extractor is another key.
        let pixels = cache
            .get_or_extract_task(&t2, Split::Train, &PixelExtractor::new(1))
            .unwrap();
        assert_eq!(pixels.data, vec![2.0; 4]);
        cache.clear();
        assert!(cache.is_empty());
    }

    #[test]
    fn zero_capacity_never_stores() {
        let cache = FeatureCache::new(0);
        let counting = Counting::default();
        cache
            .get_or_extract_task(&task(0), Split::Train, &counting)
            .unwrap();
        cache
            .get_or_extract_task(&task(0), Split::Train, &counting)
            .unwrap();
        assert_eq!(counting.0.load(Ordering::SeqCst), 2);
        assert!(cache.is_empty());
    }
}
