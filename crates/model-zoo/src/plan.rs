//! A database *plan*: which tasks, which architectures, which protocol and how many seeds.
//!
//! A plan expands deterministically into [`Job`]s (one training run each). The builder runs the
//! jobs a store does not hold yet, so a plan can grow (more tasks, more archs) and the same store
//! is completed rather than rebuilt.

use std::collections::BTreeSet;

use datasets::{open_cached, sample_task_specs_among, DataPaths, SourceSpec, TaskSpec};
use rand::seq::IndexedRandom;
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
    /// The groups.
    pub groups: Vec<PlanGroup>,
}

/// One training run to do.
#[derive(Clone, Debug, PartialEq)]
pub struct Job {
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
    pub arch: Nb201Arch,
    /// Training seed.
    pub seed: u64,
    /// Protocol.
    pub protocol: Protocol,
}

/// Why a plan cannot be expanded.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// Opening a source or drawing tasks failed.
    #[error("group `{group}`: {source}")]
    Data {
        /// Group name.
        group: String,
        /// The cause.
        source: datasets::Error,
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
            if g.good_archs > self.good_cells.len() {
                return Err(invalid(format!(
                    "asks for {} good archs, the plan lists {}",
                    g.good_archs,
                    self.good_cells.len()
                )));
            }
            let data = |source| PlanError::Data {
                group: g.name.clone(),
                source,
            };
            let pool: Vec<usize> = if g.classes.is_empty() {
                let source = open_cached(&g.source, paths).map_err(data)?;
                (0..source.num_classes()).collect()
            } else {
                g.classes.clone()
            };
            let seed = mix(self.seed, &g.name);
            let specs =
                sample_task_specs_among(&g.source, &pool, g.way, g.tasks, seed).map_err(data)?;
            let mut rng = ChaCha8Rng::seed_from_u64(seed.rotate_left(17));
            for spec in specs {
                let spec = spec
                    .with_shots(g.protocol.train_per_class, g.protocol.test_per_class)
                    .with_resolution(g.protocol.resolution)
                    .with_test_groups(g.test_groups);
                let archs = self.draw_archs(g, &classes, &mut rng);
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

    /// The archs of one task: good cells first, then uniform isomorphism classes not already
    /// chosen (by canonical id).
    fn draw_archs(
        &self,
        g: &PlanGroup,
        classes: &[Nb201Arch],
        rng: &mut ChaCha8Rng,
    ) -> Vec<Nb201Arch> {
        let mut chosen: Vec<Nb201Arch> = self
            .good_cells
            .choose_multiple(rng, g.good_archs)
            .copied()
            .collect();
        let mut ids: BTreeSet<usize> = chosen.iter().map(|a| a.canonical_id()).collect();
        let mut uniform = 0;
        while uniform < g.uniform_archs && ids.len() < classes.len() {
            let arch = *classes.choose(rng).expect("6,466 classes");
            if g.connected_only && !arch.is_connected() {
                continue;
            }
            if ids.insert(arch.canonical_id()) {
                chosen.push(arch);
                uniform += 1;
            }
        }
        chosen
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
    fn too_many_good_archs_is_an_error() {
        let mut p = plan();
        p.groups[0].good_archs = 2;
        assert!(matches!(
            p.jobs(&DataPaths::default()),
            Err(PlanError::Invalid { .. })
        ));
    }
}
