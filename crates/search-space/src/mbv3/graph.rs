//! MetaD2A's graph form of a MobileNetV3 point: a 22-vertex typed chain.
//!
//! MetaD2A (Lee et al., ICLR 2021; `MetaD2A_mobilenetV3/utils.py`) writes a network of the OFA
//! space as START (type 0), one vertex per slot — 20 of them, slot `4·stage + i` at vertex
//! `1 + 4·stage + i` — and END (type 1), wired as a chain `0 → 1 → … → 21`. A slot vertex's
//! type folds its stage's depth in with its block:
//!
//! ```text
//! type = 2 + 9·(depth − 2) + 3·kernel index + expand index      (27 types, 2..=28)
//! ```
//!
//! with kernel index 0, 1, 2 for 3, 5, 7 and expand index 0, 1, 2 for 3, 4, 6, so 29 vertex
//! types in all. Every vertex of a stage therefore repeats the stage's depth, and a graph is
//! valid only if they agree.
//!
//! **Inactive slots** (beyond a stage's depth) still get a vertex: [`Mbv3Arch::to_graph`] gives
//! them [`Mbv3Block::FILLER`] (`k3e3`) with the stage's depth, and
//! [`Mbv3Arch::from_graph`] ignores their block, as MetaD2A's decoder does (its training graphs
//! come from OFA's sampler, which leaves random choices there). Many graphs thus read as one
//! network, and `from_graph(to_graph(a)) == a` for every `a`.
//!
//! Validity is MetaD2A's (`is_valid_ofa_mbv3`): 22 vertices, acyclic, START first and END last
//! and nowhere else, slot types in 2..=28, each stage's four vertices agreeing on its depth,
//! every vertex but START with an input and every vertex but END with an output. Only vertex
//! types carry the network; edges beyond the chain are allowed.

use petgraph::algo::is_cyclic_directed;
use petgraph::graph::NodeIndex;
use petgraph::Direction;

use super::arch::Mbv3Arch;
use super::choice::{Mbv3Block, MAX_DEPTH, MIN_DEPTH, SLOTS, STAGES};
use crate::graph::{TypedDag, END_TYPE, START_TYPE};

/// Number of vertex types: START, END and 27 (depth, kernel, expand) combinations.
pub const NUM_VERTEX_TYPES: usize = 29;
/// Number of vertices of a graph: START, 20 slots, END.
pub const NUM_VERTICES: usize = SLOTS + 2;

/// The vertex type of a slot holding `block` in a stage of depth `depth` (2..=4).
///
/// # Panics
/// If `depth` is not 2, 3 or 4.
pub const fn slot_type(depth: usize, block: Mbv3Block) -> u8 {
    assert!(
        depth >= MIN_DEPTH && depth <= MAX_DEPTH,
        "depth must be 2, 3 or 4"
    );
    (2 + 9 * (depth - MIN_DEPTH) + block.index()) as u8
}

/// The stage depth and block of a slot vertex type, if `ty` is in 2..=28.
pub const fn split_slot_type(ty: u8) -> Option<(usize, Mbv3Block)> {
    if ty < 2 || ty as usize >= NUM_VERTEX_TYPES {
        return None;
    }
    let t = ty as usize - 2;
    match Mbv3Block::from_index(t % 9) {
        Some(block) => Some((MIN_DEPTH + t / 9, block)),
        None => None,
    }
}

/// Why a typed graph is not a network of the MobileNetV3 space. Vertices are numbered from 0
/// (START); slot vertices are `1..=20`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Mbv3GraphError {
    /// Not exactly 22 vertices.
    #[error("expected {NUM_VERTICES} vertices (START, 20 block slots, END), found {0}")]
    VertexCount(usize),
    /// The graph has a directed cycle.
    #[error("graph has a cycle; edges must go from earlier to later vertices")]
    Cycle,
    /// Vertex 0 is not START or vertex 21 is not END.
    #[error("vertex {vertex} has type {found}, expected {expected} (START first, END last)")]
    Terminal {
        /// Vertex position.
        vertex: usize,
        /// Its type.
        found: u8,
        /// The type it must have.
        expected: u8,
    },
    /// A slot vertex has a type that is not a block type (START/END inside, or out of range).
    #[error("vertex {vertex} has type {found}; block slots take types 2..=28")]
    SlotType {
        /// Vertex position.
        vertex: usize,
        /// Its type.
        found: u8,
    },
    /// The vertices of a stage disagree on its depth.
    #[error("vertex {vertex} of stage {stage} says depth {found}, but the stage's first vertex says {expected}; all four vertices of a stage carry the same depth")]
    StageDepth {
        /// The stage.
        stage: usize,
        /// The disagreeing vertex.
        vertex: usize,
        /// The depth it encodes.
        found: usize,
        /// The depth the stage's first vertex encodes.
        expected: usize,
    },
    /// A vertex other than START has no incoming edge.
    #[error("vertex {0} has no incoming edge")]
    NoInput(usize),
    /// A vertex other than END has no outgoing edge.
    #[error("vertex {0} has no outgoing edge")]
    NoOutput(usize),
}

impl Mbv3Arch {
    /// MetaD2A's 22-vertex typed chain of this network (see the [module docs](self)).
    pub fn to_graph(&self) -> TypedDag {
        let mut g = TypedDag::with_capacity(NUM_VERTICES, NUM_VERTICES - 1);
        g.add_node(START_TYPE);
        let depths = self.depths();
        for (slot, block) in self.slots().into_iter().enumerate() {
            g.add_node(slot_type(depths[slot / MAX_DEPTH], block));
        }
        g.add_node(END_TYPE);
        for v in 1..NUM_VERTICES {
            g.add_edge(NodeIndex::new(v - 1), NodeIndex::new(v), ());
        }
        g
    }

    /// The network of a typed graph, after MetaD2A's validity checks (see the
    /// [module docs](self)).
    pub fn from_graph(g: &TypedDag) -> Result<Mbv3Arch, Mbv3GraphError> {
        if g.node_count() != NUM_VERTICES {
            return Err(Mbv3GraphError::VertexCount(g.node_count()));
        }
        if is_cyclic_directed(g) {
            return Err(Mbv3GraphError::Cycle);
        }
        let ty = |v: usize| g[NodeIndex::new(v)];
        for (vertex, expected) in [(0, START_TYPE), (NUM_VERTICES - 1, END_TYPE)] {
            if ty(vertex) != expected {
                return Err(Mbv3GraphError::Terminal {
                    vertex,
                    found: ty(vertex),
                    expected,
                });
            }
        }
        let mut depths = [0usize; STAGES];
        let mut slots = [Mbv3Block::FILLER; SLOTS];
        for (slot, entry) in slots.iter_mut().enumerate() {
            let vertex = slot + 1;
            let (depth, block) = split_slot_type(ty(vertex)).ok_or(Mbv3GraphError::SlotType {
                vertex,
                found: ty(vertex),
            })?;
            let stage = slot / MAX_DEPTH;
            if slot % MAX_DEPTH == 0 {
                depths[stage] = depth;
            } else if depth != depths[stage] {
                return Err(Mbv3GraphError::StageDepth {
                    stage,
                    vertex,
                    found: depth,
                    expected: depths[stage],
                });
            }
            *entry = block;
        }
        for v in 0..NUM_VERTICES {
            let n = NodeIndex::new(v);
            if v != 0
                && g.neighbors_directed(n, Direction::Incoming)
                    .next()
                    .is_none()
            {
                return Err(Mbv3GraphError::NoInput(v));
            }
            if v != NUM_VERTICES - 1
                && g.neighbors_directed(n, Direction::Outgoing)
                    .next()
                    .is_none()
            {
                return Err(Mbv3GraphError::NoOutput(v));
            }
        }
        Ok(Mbv3Arch::from_slots(depths, slots).expect("depths come from valid slot types"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mbv3::arch::MBV3_SIZE;
    use crate::mbv3::choice::{Expand, Kernel};
    use proptest::prelude::*;

    fn arb_arch() -> impl Strategy<Value = Mbv3Arch> {
        (0..MBV3_SIZE).prop_map(|i| Mbv3Arch::from_index(i).expect("index below size"))
    }

    #[test]
    fn types_match_metad2a_type_dict() {
        // MetaD2A's `type_dict` + 2: '2-3-3' → 2, '3-5-4' → 2 + 13, '4-7-6' → 2 + 26.
        assert_eq!(slot_type(2, Mbv3Block::new(Kernel::K3, Expand::E3)), 2);
        assert_eq!(slot_type(3, Mbv3Block::new(Kernel::K5, Expand::E4)), 15);
        assert_eq!(slot_type(4, Mbv3Block::new(Kernel::K7, Expand::E6)), 28);
        for ty in 2..29u8 {
            let (d, b) = split_slot_type(ty).unwrap();
            assert_eq!(slot_type(d, b), ty);
        }
        assert_eq!(split_slot_type(1), None);
        assert_eq!(split_slot_type(29), None);
    }

    #[test]
    fn invalid_graphs_are_typed_errors() {
        let arch: Mbv3Arch = "k3e3,k5e4|k7e6,k3e3,k3e4|k5e6,k5e6|k3e3,k3e3,k3e3,k3e3|k7e4,k7e6"
            .parse()
            .unwrap();
        let good = arch.to_graph();

        let mut g = good.clone();
        g[NodeIndex::new(6)] = slot_type(4, Mbv3Block::FILLER);
        assert_eq!(
            Mbv3Arch::from_graph(&g),
            Err(Mbv3GraphError::StageDepth {
                stage: 1,
                vertex: 6,
                found: 4,
                expected: 3
            })
        );
        let mut g = good.clone();
        g[NodeIndex::new(9)] = END_TYPE;
        assert_eq!(
            Mbv3Arch::from_graph(&g),
            Err(Mbv3GraphError::SlotType {
                vertex: 9,
                found: 1
            })
        );
        let mut g = good.clone();
        g[NodeIndex::new(9)] = 29;
        assert!(matches!(
            Mbv3Arch::from_graph(&g),
            Err(Mbv3GraphError::SlotType { vertex: 9, .. })
        ));
        let mut g = good.clone();
        g[NodeIndex::new(0)] = 2;
        assert!(matches!(
            Mbv3Arch::from_graph(&g),
            Err(Mbv3GraphError::Terminal { vertex: 0, .. })
        ));
        let mut g = good.clone();
        g.add_edge(NodeIndex::new(21), NodeIndex::new(0), ());
        assert_eq!(Mbv3Arch::from_graph(&g), Err(Mbv3GraphError::Cycle));
        let mut g = good.clone();
        let e = g.find_edge(NodeIndex::new(4), NodeIndex::new(5)).unwrap();
        g.remove_edge(e);
        assert_eq!(Mbv3Arch::from_graph(&g), Err(Mbv3GraphError::NoOutput(4)));
        g.add_edge(NodeIndex::new(4), NodeIndex::new(6), ());
        assert_eq!(Mbv3Arch::from_graph(&g), Err(Mbv3GraphError::NoInput(5)));
        let mut g = good.clone();
        g.add_node(3);
        assert_eq!(
            Mbv3Arch::from_graph(&g),
            Err(Mbv3GraphError::VertexCount(23))
        );
        // Extra forward edges are allowed: only types carry the network.
        let mut g = good;
        g.add_edge(NodeIndex::new(0), NodeIndex::new(21), ());
        assert_eq!(Mbv3Arch::from_graph(&g), Ok(arch));
    }

    proptest! {
        #[test]
        fn graph_round_trip(arch in arb_arch()) {
            let g = arch.to_graph();
            prop_assert_eq!(g.node_count(), NUM_VERTICES);
            prop_assert_eq!(g.edge_count(), NUM_VERTICES - 1);
            prop_assert_eq!(Mbv3Arch::from_graph(&g), Ok(arch));
        }

        /// Whatever blocks the inactive vertices carry (with the stage's depth), the graph reads
        /// as the same network.
        #[test]
        fn inactive_vertices_are_ignored(arch in arb_arch(), junk in proptest::collection::vec(0usize..9, 20)) {
            let mut g = arch.to_graph();
            let depths = arch.depths();
            for slot in (0..SLOTS).filter(|&s| !arch.is_active(s)) {
                let block = Mbv3Block::from_index(junk[slot]).unwrap();
                g[NodeIndex::new(slot + 1)] = slot_type(depths[slot / MAX_DEPTH], block);
            }
            prop_assert_eq!(Mbv3Arch::from_graph(&g), Ok(arch));
        }

        /// Any slot vertex retyped to another depth than its stage's is rejected.
        #[test]
        fn depth_disagreement_is_rejected(arch in arb_arch(), slot in 0usize..20, block in 0usize..9, shift in 1usize..3) {
            let mut g = arch.to_graph();
            let stage = slot / MAX_DEPTH;
            let depth = (arch.depths()[stage] - 2 + shift) % 3 + 2;
            g[NodeIndex::new(slot + 1)] = slot_type(depth, Mbv3Block::from_index(block).unwrap());
            let is_stage_depth_error = matches!(
                Mbv3Arch::from_graph(&g),
                Err(Mbv3GraphError::StageDepth { stage: s, .. }) if s == stage
            );
            prop_assert!(is_stage_depth_error);
        }
    }
}
