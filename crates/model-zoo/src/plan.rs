//! A database *plan*: which tasks, which architectures, which protocol and how many seeds.
//!
//! A plan expands deterministically into [`Job`]s (one training run each). The builder runs the
//! jobs a store does not hold yet, so a plan can grow (more tasks, more archs) and the same store
//! is completed rather than rebuilt.

use std::collections::BTreeSet;

use datasets::{open_cached, sample_task_specs_among, DataPaths, SourceSpec, TaskSpec};
use rand::seq::{IndexedRandom, SliceRandom};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use search_space::Nb201Arch;
use serde::{Deserialize, Serialize};

use crate::protocol::Protocol;

/// What a group of records is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Learned from: tasks whose classes the meta-test never sees.
    MetaTrain,
    /// Held out: ground truth that search is judged on.
    MetaTest,
}

/// One group of tasks drawn from one source, all trained under one protocol.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlanGroup {
    /// Unique name, e.g. `train/glyphs` or `test/mnist`.
    pub name: String,
    /// Meta-training or meta-test.
    pub role: Role,
    /// Where the images come from.
    pub source: SourceSpec,
    /// Source class indices tasks may use; empty = all classes of the source.
    #[serde(default)]
    pub classes: Vec<usize>,
    /// Classes per task.
    pub way: usize,
    /// Number of tasks.
    pub tasks: usize,
    /// Architectures per task drawn uniformly over the isomorphism classes.
    pub uniform_archs: usize,
    /// Architectures per task drawn from the plan's known good cells.
    pub good_archs: usize,
    /// Training seeds per (task, arch); each seed is one record.
    pub seeds: usize,
    /// Draw uniform archs only among cells whose output depends on the input (for protocol
    /// studies; databases keep the degenerate cells, which score chance).
    #[serde(default)]
    pub connected_only: bool,
    /// Font groups held out for the test split (glyph sources only; see `TaskSpec::test_groups`).
    #[serde(default)]
    pub test_groups: usize,
    /// The training protocol of this group.
    pub protocol: Protocol,
    /// Cells per task taken from the plan's [`Plan::panel`] (all of it for a meta-test group):
    /// meta-training tasks take theirs in turn from a stream of shuffled copies of the panel, so
    /// every panel cell lands on the same number of tasks (± 1).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub panel_archs: usize,
    /// Channels of the group's tasks (1 or 3; see `TaskSpec::channels`).
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub channels: usize,
    /// Pin each task to the installed data (class names and content fingerprints, see
    /// `TaskSpec::pin`), so the task rebuilds exactly or fails with a typed error.
    #[serde(default, skip_serializing_if = "is_false")]
    pub pin: bool,
}

// Defaults are not written, so plans made before these fields existed serialise unchanged.
fn one() -> usize {
    1
}

fn is_one(n: &usize) -> bool {
    *n == 1
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

fn is_false(b: &bool) -> bool {
    !b
}

/// A whole database plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Name of the database.
    pub name: String,
    /// Seed of every random choice of the plan (tasks, architectures).
    pub seed: u64,
    /// Known good cells (e.g. the best NAS-Bench-201 cells), so every task sees strong archs.
    pub good_cells: Vec<Nb201Arch>,
    /// A fixed panel of cells measured across many tasks, so tasks can be compared cell by cell
    /// (see [`PlanGroup::panel_archs`]); empty in plans without one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub panel: Vec<Nb201Arch>,
    /// The groups.
    pub groups: Vec<PlanGroup>,
}

/// One training run to do: an NB201 cell under [`Protocol`] by default, or another space's
/// architecture `A` under its protocol `P` ([`crate::mbv3::plan_jobs`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Job<A = Nb201Arch, P = Protocol> {
    /// Group name.
    pub group: String,
    /// Role of the group.
    pub role: Role,
    /// Position of the task in the plan (tasks are numbered across groups).
    pub task_index: usize,
    /// Position of the (task, arch) pair in the plan; shards split these, so every seed of a
    /// pair lands in the same shard.
    pub unit: usize,
    /// The task.
    pub task: TaskSpec,
    /// The architecture.
    pub arch: A,
    /// Training seed.
    pub seed: u64,
    /// Protocol.
    pub protocol: P,
}

/// Why a plan cannot be expanded.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// Opening a source or drawing tasks failed.
    #[error("group `{group}`: {source}")]
    Data {
        /// Group name.
        group: String,
        /// The cause (boxed: `datasets::Error` is large).
        source: Box<datasets::Error>,
    },
    /// A group asks for more archs than exist or good cells than the plan lists.
    #[error("group `{group}`: {message}")]
    Invalid {
        /// Group name.
        group: String,
        /// What is wrong.
        message: String,
    },
}

/// Stable 64-bit mix of the plan seed and a name (FNV-1a), so groups draw independent streams.
fn mix(seed: u64, name: &str) -> u64 {
    name.bytes().fold(seed ^ 0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

impl Plan {
    /// Expand into jobs, task-major (all runs of a task are adjacent).
    pub fn jobs(&self, paths: &DataPaths) -> Result<Vec<Job>, PlanError> {
        let classes: Vec<Nb201Arch> = Nb201Arch::canonical_classes().collect();
        let panel_ids: BTreeSet<usize> = self.panel.iter().map(|a| a.canonical_id()).collect();
        if panel_ids.len() != self.panel.len() {
            return Err(PlanError::Invalid {
                group: "(plan)".into(),
                message: "the panel lists isomorphic cells twice".into(),
            });
        }
        let mut panel_stream = PanelStream::new(&self.panel, mix(self.seed, "panel"));
        let mut names = BTreeSet::new();
        let mut jobs = Vec::new();
        let mut task_index = 0;
        let mut unit = 0;
        for g in &self.groups {
            let invalid = |message: String| PlanError::Invalid {
                group: g.name.clone(),
                message,
            };
            if !names.insert(g.name.as_str()) {
                return Err(invalid("duplicate group name".into()));
            }
            if g.panel_archs > self.panel.len() {
                return Err(invalid(format!(
                    "asks for {} panel archs, the plan's panel has {}",
                    g.panel_archs,
                    self.panel.len()
                )));
            }
            if g.channels != 1 && g.channels != 3 {
                return Err(invalid(format!(
                    "channels must be 1 or 3, not {}",
                    g.channels
                )));
            }
            if g.good_archs > self.good_cells.len() {
                return Err(invalid(format!(
                    "asks for {} good archs, the plan lists {}",
                    g.good_archs,
                    self.good_cells.len()
                )));
            }
            let data = |source| PlanError::Data {
                group: g.name.clone(),
                source: Box::new(source),
            };
            // Opened only when needed: to list its classes or to pin tasks to it.
            let source = if g.classes.is_empty() || g.pin {
                Some(open_cached(&g.source, paths).map_err(data)?)
            } else {
                None
            };
            let pool: Vec<usize> = match (&source, g.classes.is_empty()) {
                (Some(source), true) => (0..source.num_classes()).collect(),
                _ => g.classes.clone(),
            };
            let seed = mix(self.seed, &g.name);
            let specs =
                sample_task_specs_among(&g.source, &pool, g.way, g.tasks, seed).map_err(data)?;
            let mut rng = ChaCha8Rng::seed_from_u64(seed.rotate_left(17));
            for spec in specs {
                let mut spec = spec
                    .with_shots(g.protocol.train_per_class, g.protocol.test_per_class)
                    .with_resolution(g.protocol.resolution)
                    .with_test_groups(g.test_groups)
                    .with_channels(g.channels);
                if let (true, Some(source)) = (g.pin, &source) {
                    spec = spec.pin(source.as_ref()).map_err(data)?;
                }
                let panel = if g.panel_archs == self.panel.len() {
                    self.panel.clone()
                } else {
                    panel_stream.take(g.panel_archs)
                };
                let archs = self.draw_archs(g, panel, &classes, &mut rng);
                for arch in archs {
                    for s in 0..g.seeds {
                        jobs.push(Job {
                            group: g.name.clone(),
                            role: g.role,
                            task_index,
                            unit,
                            task: spec.clone(),
                            arch,
                            seed: s as u64,
                            protocol: g.protocol.clone(),
                        });
                    }
                    unit += 1;
                }
                task_index += 1;
            }
        }
        Ok(jobs)
    }

    /// The archs of one task: its panel cells, then good cells, then uniform isomorphism
    /// classes, each skipping classes already chosen (by canonical id).
    fn draw_archs(
        &self,
        g: &PlanGroup,
        panel: Vec<Nb201Arch>,
        classes: &[Nb201Arch],
        rng: &mut ChaCha8Rng,
    ) -> Vec<Nb201Arch> {
        let mut chosen = panel;
        let mut ids: BTreeSet<usize> = chosen.iter().map(|a| a.canonical_id()).collect();
        for &arch in self.good_cells.choose_multiple(rng, g.good_archs) {
            if ids.insert(arch.canonical_id()) {
                chosen.push(arch);
            }
        }
        // Classes the uniform draw may still pick: when the group asks for more than there
        // are, it takes them all and stops (the draws themselves are unchanged, so existing
        // plans regenerate identically).
        let eligible = |a: &Nb201Arch| !g.connected_only || a.is_connected();
        let mut left = classes
            .iter()
            .filter(|a| eligible(a) && !ids.contains(&a.canonical_id()))
            .count();
        let mut uniform = 0;
        while uniform < g.uniform_archs && left > 0 {
            let arch = *classes.choose(rng).expect("6,466 classes");
            if !eligible(&arch) {
                continue;
            }
            if ids.insert(arch.canonical_id()) {
                chosen.push(arch);
                uniform += 1;
                left -= 1;
            }
        }
        chosen
    }
}

/// Shuffled copies of the panel, one after another: meta-training tasks take their panel cells
/// in turn from it, so each cell lands on the same number of tasks (± 1).
struct PanelStream<'a> {
    panel: &'a [Nb201Arch],
    rng: ChaCha8Rng,
    queue: std::collections::VecDeque<Nb201Arch>,
}

impl<'a> PanelStream<'a> {
    fn new(panel: &'a [Nb201Arch], seed: u64) -> Self {
        Self {
            panel,
            rng: ChaCha8Rng::seed_from_u64(seed),
            queue: Default::default(),
        }
    }

    /// The next `n` distinct cells (by canonical id); a cell already taken for this task waits
    /// at the front of the queue for the next task.
    fn take(&mut self, n: usize) -> Vec<Nb201Arch> {
        let mut out: Vec<Nb201Arch> = Vec::with_capacity(n);
        let mut ids = BTreeSet::new();
        let mut waiting = Vec::new();
        while out.len() < n {
            if self.queue.is_empty() {
                let mut copy = self.panel.to_vec();
                copy.shuffle(&mut self.rng);
                self.queue.extend(copy);
            }
            let arch = self.queue.pop_front().expect("refilled");
            if ids.insert(arch.canonical_id()) {
                out.push(arch);
            } else {
                waiting.push(arch);
            }
        }
        for arch in waiting.into_iter().rev() {
            self.queue.push_front(arch);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Plan {
        Plan {
            name: "t".into(),
            seed: 1,
            good_cells: vec![Nb201Arch::from_index(9930).unwrap()],
            panel: Vec::new(),
            groups: vec![PlanGroup {
                name: "train/digits".into(),
                role: Role::MetaTrain,
                source: SourceSpec::Digits,
                classes: (0..10).collect(),
                way: 3,
                tasks: 4,
                uniform_archs: 5,
                good_archs: 1,
                seeds: 2,
                connected_only: false,
                test_groups: 0,
                protocol: Protocol::mini(),
                panel_archs: 0,
                channels: 1,
                pin: false,
            }],
        }
    }

    #[test]
    fn expansion_is_deterministic_and_complete() {
        let paths = DataPaths::default();
        let a = plan().jobs(&paths).unwrap();
        assert_eq!(a, plan().jobs(&paths).unwrap());
        assert_eq!(a.len(), 4 * 6 * 2);
        for t in 0..4 {
            let archs: BTreeSet<usize> = a
                .iter()
                .filter(|j| j.task_index == t)
                .map(|j| j.arch.canonical_id())
                .collect();
            assert_eq!(archs.len(), 6, "distinct classes per task");
            assert!(archs.contains(&Nb201Arch::from_index(9930).unwrap().canonical_id()));
        }
    }

    #[test]
    fn asking_for_more_connected_cells_than_exist_takes_them_all() {
        let mut p = plan();
        p.groups[0].connected_only = true;
        p.groups[0].uniform_archs = 10_000;
        p.groups[0].tasks = 1;
        p.groups[0].seeds = 1;
        let jobs = p.jobs(&DataPaths::default()).unwrap();
        let connected = Nb201Arch::canonical_classes()
            .filter(|a| a.is_connected())
            .count();
        // The good cell (connected) plus every other connected class, each once.
        assert_eq!(jobs.len(), connected);
        assert!(jobs.iter().all(|j| j.arch.is_connected()));
    }

    #[test]
    fn panel_cells_spread_evenly_over_meta_training_tasks() {
        let panel: Vec<Nb201Arch> = Nb201Arch::canonical_classes()
            .filter(|a| a.is_connected())
            .take(10)
            .collect();
        let mut p = plan();
        p.panel = panel.clone();
        p.good_cells.clear();
        p.groups[0].good_archs = 0;
        p.groups[0].uniform_archs = 1;
        p.groups[0].seeds = 1;
        p.groups[0].tasks = 7;
        p.groups[0].panel_archs = 4;
        let jobs = p.jobs(&DataPaths::default()).unwrap();
        assert_eq!(jobs.len(), 7 * 5);
        let mut per_cell = std::collections::BTreeMap::new();
        for t in 0..7 {
            let task: Vec<&Job> = jobs.iter().filter(|j| j.task_index == t).collect();
            let ids: BTreeSet<usize> = task.iter().map(|j| j.arch.canonical_id()).collect();
            assert_eq!(ids.len(), 5, "distinct cells per task");
            let in_panel = task.iter().filter(|j| panel.contains(&j.arch)).count();
            assert!(in_panel >= 4, "{in_panel}");
            for j in task.iter().take(4) {
                *per_cell.entry(j.arch.canonical_id()).or_insert(0) += 1;
            }
        }
        // 28 panel draws over 10 cells: each cell on 2 or 3 tasks.
        assert_eq!(per_cell.len(), 10);
        assert!(per_cell.values().all(|&n| n == 2 || n == 3), "{per_cell:?}");
        // A meta-test-like group measuring the whole panel gets every cell.
        p.groups[0].panel_archs = 10;
        p.groups[0].uniform_archs = 0;
        let all = p.jobs(&DataPaths::default()).unwrap();
        assert_eq!(all.len(), 7 * 10);
        p.panel.push(p.panel[0]);
        assert!(matches!(
            p.jobs(&DataPaths::default()),
            Err(PlanError::Invalid { .. })
        ));
    }

    #[test]
    fn too_many_good_archs_is_an_error() {
        let mut p = plan();
        p.groups[0].good_archs = 2;
        assert!(matches!(
            p.jobs(&DataPaths::default()),
            Err(PlanError::Invalid { .. })
        ));
    }
}
