//! Isomorphism classes of NAS-Bench-201 cells.
//!
//! Two cells are the same network when they compute the same function. The canonical form here
//! is NATS-Bench's `to_unique_str(consider_zero=True)`, rebuilt from its definition: each node is
//! written as the sorted sum of its incoming terms, where
//! - a `none` edge, or any edge leaving a node that is exactly zero, contributes zero (`#`);
//! - `skip_connect` contributes its input node unchanged;
//! - a parametric op contributes `(input)@op`.
//!
//! Nodes that do not feed the output disappear from the string, sums are commutative (sorted),
//! and skips are transparent. A *sum* of zeros (`#+#`) is deliberately not reduced to zero: a
//! conv fed by it still emits its BatchNorm shift, so it is not the `none` function. This gives
//! exactly 6,466 classes, the partition of the benchmark's `unique_str` column.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::arch::{Nb201Arch, EDGES, NB201_SIZE};
use crate::op::Op;

/// Number of isomorphism classes of NAS-Bench-201 cells.
pub const NB201_CLASSES: usize = 6_466;

const ZERO: &str = "#";

/// The canonical string of `arch` (NATS-Bench's `unique_str`); equal strings mean isomorphic cells.
pub fn unique_str(arch: &Nb201Arch) -> String {
    let ops = arch.ops();
    let mut nodes: Vec<String> = vec!["0".to_string()];
    for to in 1..=3 {
        let mut terms: Vec<String> = EDGES
            .iter()
            .zip(ops)
            .filter(|((t, _), _)| *t == to)
            .map(|(&(_, from), op)| {
                let input = &nodes[from];
                match op {
                    Op::None => ZERO.to_string(),
                    _ if input == ZERO => ZERO.to_string(),
                    Op::SkipConnect => input.clone(),
                    _ => format!("({input})@{op}"),
                }
            })
            .collect();
        terms.sort();
        nodes.push(terms.join("+"));
    }
    nodes.pop().expect("three nodes were pushed")
}

struct Classes {
    /// For each dense code, the smallest official index of its class.
    canonical_index: Vec<u16>,
    count: usize,
}

fn classes() -> &'static Classes {
    static CLASSES: OnceLock<Classes> = OnceLock::new();
    CLASSES.get_or_init(|| {
        let mut smallest: HashMap<String, u16> = HashMap::with_capacity(NB201_CLASSES);
        let mut canonical_index = vec![0u16; NB201_SIZE];
        // Official order: the first member met in a class is its smallest index.
        for (index, arch) in Nb201Arch::all().enumerate() {
            let id = *smallest.entry(unique_str(&arch)).or_insert(index as u16);
            canonical_index[arch.code()] = id;
        }
        Classes {
            canonical_index,
            count: smallest.len(),
        }
    })
}

/// The number of distinct isomorphism classes (6,466; computed, not assumed).
pub fn class_count() -> usize {
    classes().count
}

impl Nb201Arch {
    /// The smallest official index among the cells isomorphic to this one.
    pub fn canonical_id(&self) -> usize {
        classes().canonical_index[self.code()] as usize
    }

    /// The representative of this cell's isomorphism class: the member with the smallest
    /// official index. Idempotent, and equal for two cells exactly when they are isomorphic.
    pub fn canonical(&self) -> Nb201Arch {
        Nb201Arch::from_index(self.canonical_id()).expect("canonical ids are valid indices")
    }

    /// Whether the output depends on the input at all (some path of non-`none` edges from node 0
    /// to node 3). 341 of the 15,625 cells have no such path and score chance accuracy.
    pub fn is_connected(&self) -> bool {
        let ops = self.ops();
        let mut live = [true, false, false, false];
        for (&(to, from), op) in EDGES.iter().zip(ops) {
            if op != Op::None && live[from] {
                live[to] = true;
            }
        }
        live[3]
    }

    /// One representative per isomorphism class, in official index order (6,466 cells).
    pub fn canonical_classes() -> impl Iterator<Item = Nb201Arch> {
        Nb201Arch::all().filter(|a| a.canonical_id() == a.index())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_6466_classes() {
        assert_eq!(class_count(), NB201_CLASSES);
        assert_eq!(Nb201Arch::canonical_classes().count(), NB201_CLASSES);
    }

    #[test]
    fn disconnected_cells() {
        assert_eq!(Nb201Arch::all().filter(|a| !a.is_connected()).count(), 341);
    }

    #[test]
    fn matches_a_benchmark_row() {
        let arch: Nb201Arch = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
            .parse()
            .unwrap();
        assert_eq!(
            unique_str(&arch),
            "((0)@nor_conv_3x3)@avg_pool_3x3+(0)@nor_conv_3x3+((0)@nor_conv_3x3)@nor_conv_3x3+0"
        );
    }
}
