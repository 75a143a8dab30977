//! Graph forms of a cell: MetaD2A's 8-vertex typed DAG, and a Graphviz drawing of the wiring.
//!
//! MetaD2A (and D-VAE) see a cell as a DAG of *typed vertices*: vertex 0 is START (type 0),
//! vertex 7 is END (type 1), and vertices 1..=6 are the six edge ops in string order, typed
//! `op index + 2`. The wiring between them is the fixed 11-edge pattern stored in every MetaD2A
//! graph; it is not the cell's data flow (that is [`to_dot`]). Only vertex types carry the
//! architecture; edges matter for validity.

use std::fmt::Write as _;

use petgraph::algo::is_cyclic_directed;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::Direction;

use crate::arch::{Nb201Arch, EDGES};
use crate::op::Op;

/// Vertex type of START.
pub const START_TYPE: u8 = 0;
/// Vertex type of END.
pub const END_TYPE: u8 = 1;
/// Number of vertex types (START, END and the five ops).
pub const NUM_VERTEX_TYPES: usize = 7;
/// Number of vertices of an NB201 graph.
pub const NUM_VERTICES: usize = 8;
/// The fixed edges of MetaD2A's NB201 graphs, as `(from, to)` vertex pairs.
pub const METAD2A_EDGES: [(usize, usize); 11] = [
    (0, 1),
    (1, 2),
    (1, 3),
    (1, 5),
    (2, 3),
    (2, 6),
    (3, 4),
    (3, 6),
    (4, 5),
    (5, 6),
    (6, 7),
];

/// A typed DAG: node weights are vertex types, node indices are vertex positions.
pub type TypedDag = DiGraph<u8, ()>;

/// The vertex type of an op (`op index + 2`).
pub const fn op_type(op: Op) -> u8 {
    op as u8 + 2
}

/// Why a typed graph is not a valid NAS-Bench-201 cell.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    /// Not exactly 8 vertices.
    #[error("expected {NUM_VERTICES} vertices, found {0}")]
    VertexCount(usize),
    /// The graph has a directed cycle.
    #[error("graph has a cycle")]
    Cycle,
    /// Vertex 0 is not START or vertex 7 is not END.
    #[error("vertex {vertex} has type {found}, expected {expected}")]
    Terminal {
        /// Vertex position.
        vertex: usize,
        /// Its type.
        found: u8,
        /// The type it must have.
        expected: u8,
    },
    /// An op vertex has a type that is not an op (START/END inside, or out of range).
    #[error("vertex {vertex} has type {found}, expected an op type 2..=6")]
    OpType {
        /// Vertex position.
        vertex: usize,
        /// Its type.
        found: u8,
    },
    /// A non-START vertex has no incoming edge.
    #[error("vertex {0} has no incoming edge")]
    NoInput(usize),
    /// A non-END vertex has no outgoing edge.
    #[error("vertex {0} has no outgoing edge")]
    NoOutput(usize),
}

impl Nb201Arch {
    /// MetaD2A's 8-vertex typed DAG of this cell.
    pub fn to_graph(&self) -> TypedDag {
        let mut g = TypedDag::with_capacity(NUM_VERTICES, METAD2A_EDGES.len());
        g.add_node(START_TYPE);
        for op in self.ops() {
            g.add_node(op_type(op));
        }
        g.add_node(END_TYPE);
        for (from, to) in METAD2A_EDGES {
            g.add_edge(NodeIndex::new(from), NodeIndex::new(to), ());
        }
        g
    }

    /// The cell encoded by a typed DAG, after checking MetaD2A's validity rules: 8 vertices, a
    /// DAG, START at 0 and END at 7 and nowhere else, op types at 1..=6, every non-START vertex
    /// with an input and every non-END vertex with an output.
    pub fn from_graph(g: &TypedDag) -> Result<Nb201Arch, GraphError> {
        if g.node_count() != NUM_VERTICES {
            return Err(GraphError::VertexCount(g.node_count()));
        }
        if is_cyclic_directed(g) {
            return Err(GraphError::Cycle);
        }
        let ty = |v: usize| g[NodeIndex::new(v)];
        for (vertex, expected) in [(0, START_TYPE), (NUM_VERTICES - 1, END_TYPE)] {
            if ty(vertex) != expected {
                return Err(GraphError::Terminal {
                    vertex,
                    found: ty(vertex),
                    expected,
                });
            }
        }
        let mut ops = [Op::None; 6];
        for (k, slot) in ops.iter_mut().enumerate() {
            let found = ty(k + 1);
            *slot = found
                .checked_sub(2)
                .and_then(|i| Op::from_index(i as usize))
                .ok_or(GraphError::OpType {
                    vertex: k + 1,
                    found,
                })?;
        }
        for v in 0..NUM_VERTICES {
            let n = NodeIndex::new(v);
            if v != 0
                && g.neighbors_directed(n, Direction::Incoming)
                    .next()
                    .is_none()
            {
                return Err(GraphError::NoInput(v));
            }
            if v != NUM_VERTICES - 1
                && g.neighbors_directed(n, Direction::Outgoing)
                    .next()
                    .is_none()
            {
                return Err(GraphError::NoOutput(v));
            }
        }
        Ok(Nb201Arch::new(ops))
    }

    /// The cell's real wiring as Graphviz DOT: nodes 0..=3 (0 is the input, 3 the output), one
    /// edge per non-`none` op, labelled by the op. Render with `dot -Tsvg`.
    pub fn to_dot(&self) -> String {
        to_dot(self)
    }
}

/// See [`Nb201Arch::to_dot`].
pub fn to_dot(arch: &Nb201Arch) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "digraph cell {{");
    let _ = writeln!(s, "  label=\"{arch}\";\n  labelloc=t;\n  rankdir=LR;");
    let _ = writeln!(
        s,
        "  node [shape=circle];\n  0 [label=\"0 (in)\", shape=doublecircle];\n  1;\n  2;\n  3 [label=\"3 (out)\", shape=doublecircle];"
    );
    for (&(to, from), op) in EDGES.iter().zip(arch.ops()) {
        if op != Op::None {
            let _ = writeln!(s, "  {from} -> {to} [label=\"{op}\"];");
        }
    }
    s.push_str("}\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_all() {
        for arch in Nb201Arch::all() {
            assert_eq!(Nb201Arch::from_graph(&arch.to_graph()), Ok(arch));
        }
    }

    #[test]
    fn invalid_graphs_are_typed_errors() {
        let arch = Nb201Arch::from_index(0).unwrap();
        let mut g = arch.to_graph();
        g[NodeIndex::new(3)] = END_TYPE;
        assert_eq!(
            Nb201Arch::from_graph(&g),
            Err(GraphError::OpType {
                vertex: 3,
                found: 1
            })
        );
        let mut g = arch.to_graph();
        g.add_edge(NodeIndex::new(7), NodeIndex::new(0), ());
        assert_eq!(Nb201Arch::from_graph(&g), Err(GraphError::Cycle));
        let mut g = arch.to_graph();
        let e = g.find_edge(NodeIndex::new(6), NodeIndex::new(7)).unwrap();
        g.remove_edge(e);
        assert_eq!(Nb201Arch::from_graph(&g), Err(GraphError::NoOutput(6)));
        let mut g = arch.to_graph();
        g.add_node(3);
        assert_eq!(Nb201Arch::from_graph(&g), Err(GraphError::VertexCount(9)));
    }

    #[test]
    fn dot_draws_live_edges() {
        let arch: Nb201Arch =
            "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|none~0|none~1|avg_pool_3x3~2|"
                .parse()
                .unwrap();
        let dot = arch.to_dot();
        assert!(dot.contains("0 -> 1 [label=\"nor_conv_3x3\"]"));
        assert!(dot.contains("1 -> 2 [label=\"skip_connect\"]"));
        assert!(dot.contains("2 -> 3 [label=\"avg_pool_3x3\"]"));
        assert_eq!(dot.matches("->").count(), 3);
    }
}
