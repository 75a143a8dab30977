//! [`TansData`]: the zoo read as TANS's meta-training data — each task's image features and
//! each network's model input (cell graph, functional embedding, interface) and accuracy.

use std::collections::HashMap;

use burn::tensor::backend::Backend;
use datasets::{DataPaths, FeatureExtractor, Features, Task, TaskSpec};
use model_zoo::zoo::{Zoo, ZooEntry};
use search_space::{Cost, Nb201Arch};

use super::error::{Result, TansError};
use super::net::{ARCH_DIM, INTERFACE_DIM};
use super::probe::Probe;

/// One meta-training task of the zoo: its features and its networks.
#[derive(Clone, Debug)]
pub struct ZooTask {
    /// Plan group (`train/glyphs-20w50s16`, ...).
    pub group: String,
    /// The task.
    pub spec: TaskSpec,
    /// Features of its training images.
    pub features: Features,
    /// Its networks: indices into [`TansData::models`].
    pub models: Vec<usize>,
}

/// One zoo network as TANS sees it.
#[derive(Clone, Debug)]
pub struct ZooModel {
    /// Index of the entry in the zoo ([`Zoo::entries`]).
    pub entry: usize,
    /// Index of its task in [`TansData::tasks`].
    pub task: usize,
    /// The model encoder's input ([`model_input`]).
    pub input: Vec<f32>,
    /// Test accuracy of the stored network on its task, in `[0, 1]`.
    pub accuracy: f64,
    /// Its cost.
    pub cost: Cost,
}

/// The zoo as meta-training data.
#[derive(Clone, Debug)]
pub struct TansData {
    /// The tasks, in order of first appearance in the zoo.
    pub tasks: Vec<ZooTask>,
    /// The networks, in zoo order.
    pub models: Vec<ZooModel>,
    /// Id of the extractor the features come from.
    pub extractor: String,
    /// Width of the features.
    pub feature_dim: usize,
    /// Width of the functional embedding.
    pub functional_dim: usize,
}

/// The cell's graph as 6 edges × 5 operations, one-hot (edge-major, `Op::index` order): the
/// NB201 cell is a fixed 4-node DAG whose edges carry the operations, so this is its whole
/// graph.
pub fn arch_encoding(arch: &Nb201Arch) -> [f32; ARCH_DIM] {
    let mut x = [0.0; ARCH_DIM];
    for (e, op) in arch.ops().iter().enumerate() {
        x[e * 5 + op.index()] = 1.0;
    }
    x
}

/// The network's interface: 1 for RGB input (0 for gray), resolution / 32, classes / 20.
pub fn interface_encoding(entry: &ZooEntry) -> [f32; INTERFACE_DIM] {
    [
        if entry.task.channels == 3 { 1.0 } else { 0.0 },
        entry.protocol.resolution as f32 / 32.0,
        entry.task.classes.len() as f32 / 20.0,
    ]
}

/// The model encoder's input for `entry` with functional embedding `functional`: the cell's
/// one-hot graph, the functional embedding scaled to unit L2 norm (TANS normalises its
/// topology-plus-features vector the same way), the interface.
pub fn model_input(entry: &ZooEntry, functional: &[f32]) -> Vec<f32> {
    let norm = functional
        .iter()
        .map(|v| v * v)
        .sum::<f32>()
        .sqrt()
        .max(1e-12);
    let mut x = arch_encoding(&entry.arch).to_vec();
    x.extend(functional.iter().map(|v| v / norm));
    x.extend(interface_encoding(entry));
    x
}

/// The functional embedding of every entry of `zoo` ([`Probe::embed`] of the loaded network),
/// on `device`, in zoo order; `log` gets a line every 100 networks.
pub fn functional_embeddings<B: Backend>(
    zoo: &Zoo,
    probe: &Probe,
    device: &B::Device,
    mut log: impl FnMut(&str),
) -> Result<Vec<Vec<f32>>> {
    probe.check()?;
    let mut out = Vec::with_capacity(zoo.entries().len());
    for (i, entry) in zoo.entries().iter().enumerate() {
        let network = zoo.load::<B>(entry, device)?;
        out.push(probe.embed(&network)?);
        if (i + 1).is_multiple_of(100) {
            log(&format!(
                "functional embeddings: {}/{}",
                i + 1,
                zoo.entries().len()
            ));
        }
    }
    Ok(out)
}

impl TansData {
    /// Reads `zoo` as meta-training data: builds every task once (from `paths`) and extracts
    /// its training images' features with `extractor`, and embeds every network with `probe`
    /// (on `device`). `log` gets progress lines.
    pub fn from_zoo<B: Backend>(
        zoo: &Zoo,
        extractor: &dyn FeatureExtractor,
        probe: &Probe,
        paths: &DataPaths,
        device: &B::Device,
        mut log: impl FnMut(&str),
    ) -> Result<Self> {
        if zoo.entries().is_empty() {
            return Err(TansError::Data(format!(
                "the zoo in {} has no networks: build one with `metanas-db zoo`",
                zoo.dir().display()
            )));
        }
        let functional = functional_embeddings::<B>(zoo, probe, device, &mut log)?;
        let functional_dim = functional[0].len();
        if let Some(i) = functional.iter().position(|f| f.len() != functional_dim) {
            return Err(TansError::Data(format!(
                "zoo network {} has a functional embedding of width {}, the first has {}: one \
                 TANS model embeds networks of one width (channels) only",
                zoo.entries()[i].describe(),
                functional[i].len(),
                functional_dim
            )));
        }
        let mut tasks: Vec<ZooTask> = Vec::new();
        let mut by_key: HashMap<String, usize> = HashMap::new();
        let mut models = Vec::with_capacity(zoo.entries().len());
        for (i, entry) in zoo.entries().iter().enumerate() {
            let key = entry.task.key();
            let t = match by_key.get(&key) {
                Some(&t) => t,
                None => {
                    let task = Task::build(&entry.task, paths)?;
                    let features = extractor.extract(&task.train)?;
                    tasks.push(ZooTask {
                        group: entry.group.clone(),
                        spec: entry.task.clone(),
                        features,
                        models: Vec::new(),
                    });
                    by_key.insert(key, tasks.len() - 1);
                    if tasks.len().is_multiple_of(20) {
                        log(&format!("task features: {} tasks", tasks.len()));
                    }
                    tasks.len() - 1
                }
            };
            tasks[t].models.push(models.len());
            models.push(ZooModel {
                entry: i,
                task: t,
                input: model_input(entry, &functional[i]),
                accuracy: entry.stored.test_accuracy,
                cost: entry.cost,
            });
        }
        Ok(Self {
            tasks,
            models,
            extractor: extractor.id(),
            feature_dim: extractor.dim(),
            functional_dim,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_arch_encoding_is_one_hot_per_edge() {
        for arch in Nb201Arch::all().step_by(997) {
            let x = arch_encoding(&arch);
            for e in 0..6 {
                assert_eq!(x[e * 5..e * 5 + 5].iter().sum::<f32>(), 1.0);
                assert_eq!(x[e * 5 + arch.ops()[e].index()], 1.0);
            }
        }
    }
}
