//! Typed DAGs in topological order, and the search spaces they encode.

use petgraph::graph::{DiGraph, NodeIndex};
use search_space::graph::{
    GraphError, TypedDag, END_TYPE, NUM_VERTEX_TYPES, NUM_VERTICES, START_TYPE,
};
use search_space::mbv3::graph::{NUM_VERTEX_TYPES as MBV3_TYPES, NUM_VERTICES as MBV3_VERTICES};
use search_space::mbv3::{Mbv3Arch, Mbv3GraphError};
use search_space::Nb201Arch;
use serde::{Deserialize, Serialize};

use crate::error::{GraphVaeError, Result};

/// A DAG of typed vertices, numbered in topological order (every edge goes from a lower to a
/// higher vertex), as D-VAE reads and writes graphs: vertex 0 is the START vertex.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TypedGraph {
    /// Vertex types, in vertex order.
    pub types: Vec<u8>,
    /// Edges `(from, to)` with `from < to`, sorted.
    pub edges: Vec<(usize, usize)>,
}

impl TypedGraph {
    /// A graph from its vertex types and edges (edges are sorted; duplicates removed).
    pub fn new(types: Vec<u8>, mut edges: Vec<(usize, usize)>) -> Self {
        edges.sort_unstable();
        edges.dedup();
        Self { types, edges }
    }

    /// Number of vertices.
    pub fn len(&self) -> usize {
        self.types.len()
    }

    /// Whether the graph has no vertex.
    pub fn is_empty(&self) -> bool {
        self.types.is_empty()
    }

    /// Whether `from → to` is an edge.
    pub fn has_edge(&self, from: usize, to: usize) -> bool {
        self.edges.binary_search(&(from, to)).is_ok()
    }

    /// Checks the vertex types against `num_types` and that every edge goes forward.
    pub fn check(&self, graph: usize, num_types: usize) -> Result<()> {
        if let Some((vertex, &found)) = self
            .types
            .iter()
            .enumerate()
            .find(|(_, &t)| t as usize >= num_types)
        {
            return Err(GraphVaeError::VertexType {
                graph,
                vertex,
                found,
                num_types,
            });
        }
        if let Some(&(from, to)) = self
            .edges
            .iter()
            .find(|&&(from, to)| from >= to || to >= self.len())
        {
            return Err(GraphVaeError::Edge { graph, from, to });
        }
        Ok(())
    }

    /// The petgraph form (node weights are types, node indices are vertex positions), or the
    /// first edge whose end is not a vertex.
    pub fn to_petgraph(&self) -> Result<TypedDag> {
        let mut g = DiGraph::with_capacity(self.len(), self.edges.len());
        for &t in &self.types {
            g.add_node(t);
        }
        for &(from, to) in &self.edges {
            if from.max(to) >= self.len() {
                return Err(GraphVaeError::Edge { graph: 0, from, to });
            }
            g.add_edge(NodeIndex::new(from), NodeIndex::new(to), ());
        }
        Ok(g)
    }

    /// The graph of a petgraph DAG whose node indices are already in topological order.
    /// Fails on an edge that goes backwards.
    pub fn from_petgraph(g: &TypedDag) -> Result<Self> {
        let types = g.node_weights().copied().collect();
        let mut edges = Vec::with_capacity(g.edge_count());
        for e in g.raw_edges() {
            let (from, to) = (e.source().index(), e.target().index());
            if from >= to {
                return Err(GraphVaeError::Edge { graph: 0, from, to });
            }
            edges.push((from, to));
        }
        Ok(Self::new(types, edges))
    }
}

/// A search space whose architectures are typed DAGs: what the VAE needs to know to read and
/// write them, and the check that turns a decoded graph back into an architecture.
pub trait GraphSpace {
    /// The architecture type.
    type Arch: Clone + Eq + std::hash::Hash;
    /// Why a graph is not an architecture of this space.
    type Invalid: std::error::Error + Clone;

    /// Number of vertex types, START and END included.
    fn num_types(&self) -> usize;
    /// The most vertices a graph of the space has.
    fn max_vertices(&self) -> usize;
    /// Type of the START vertex.
    fn start_type(&self) -> u8;
    /// Type of the END vertex.
    fn end_type(&self) -> u8;
    /// The graph of an architecture.
    fn arch_to_graph(&self, arch: &Self::Arch) -> TypedGraph;
    /// The architecture of a graph, or why it is not one.
    fn graph_to_arch(&self, graph: &TypedGraph) -> Result<Self::Arch, Self::Invalid>;
}

/// NAS-Bench-201 as MetaD2A encodes it: 8 vertices (START, the six edge ops in string order,
/// END), 7 types, the fixed 11-edge wiring (see [`search_space::graph`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Nb201Space;

/// Why a typed graph is not an NB201 cell.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Nb201Invalid {
    /// An edge names a vertex the graph does not have.
    #[error("edge {from}→{to} names a missing vertex")]
    Edge {
        /// Source vertex.
        from: usize,
        /// Target vertex.
        to: usize,
    },
    /// The graph breaks MetaD2A's validity rules.
    #[error(transparent)]
    Graph(#[from] GraphError),
}

impl GraphSpace for Nb201Space {
    type Arch = Nb201Arch;
    type Invalid = Nb201Invalid;

    fn num_types(&self) -> usize {
        NUM_VERTEX_TYPES
    }
    fn max_vertices(&self) -> usize {
        NUM_VERTICES
    }
    fn start_type(&self) -> u8 {
        START_TYPE
    }
    fn end_type(&self) -> u8 {
        END_TYPE
    }
    fn arch_to_graph(&self, arch: &Nb201Arch) -> TypedGraph {
        TypedGraph::from_petgraph(&arch.to_graph())
            .expect("MetaD2A's NB201 graphs are in topological order")
    }
    fn graph_to_arch(&self, graph: &TypedGraph) -> Result<Nb201Arch, Nb201Invalid> {
        let g = graph.to_petgraph().map_err(|e| match e {
            GraphVaeError::Edge { from, to, .. } => Nb201Invalid::Edge { from, to },
            _ => unreachable!("to_petgraph only reports edges"),
        })?;
        Ok(Nb201Arch::from_graph(&g)?)
    }
}

/// Once-for-All's MobileNetV3 space as MetaD2A encodes it: 22 vertices (START, the 20 block
/// slots, END) in a chain, 29 types (START, END and 27 `(stage depth, kernel, expand)`
/// combinations); all vertices of a stage agree on its depth, and the blocks of slots beyond
/// a stage's depth are ignored (see [`search_space::mbv3::graph`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Mbv3Space;

/// Why a typed graph is not a network of the MobileNetV3 space.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Mbv3Invalid {
    /// An edge names a vertex the graph does not have.
    #[error("edge {from}→{to} names a missing vertex")]
    Edge {
        /// Source vertex.
        from: usize,
        /// Target vertex.
        to: usize,
    },
    /// The graph breaks MetaD2A's validity rules.
    #[error(transparent)]
    Graph(#[from] Mbv3GraphError),
}

impl GraphSpace for Mbv3Space {
    type Arch = Mbv3Arch;
    type Invalid = Mbv3Invalid;

    fn num_types(&self) -> usize {
        MBV3_TYPES
    }
    fn max_vertices(&self) -> usize {
        MBV3_VERTICES
    }
    fn start_type(&self) -> u8 {
        START_TYPE
    }
    fn end_type(&self) -> u8 {
        END_TYPE
    }
    fn arch_to_graph(&self, arch: &Mbv3Arch) -> TypedGraph {
        TypedGraph::from_petgraph(&arch.to_graph())
            .expect("MetaD2A's MobileNetV3 graphs are chains in vertex order")
    }
    fn graph_to_arch(&self, graph: &TypedGraph) -> Result<Mbv3Arch, Mbv3Invalid> {
        let g = graph.to_petgraph().map_err(|e| match e {
            GraphVaeError::Edge { from, to, .. } => Mbv3Invalid::Edge { from, to },
            _ => unreachable!("to_petgraph only reports edges"),
        })?;
        Ok(Mbv3Arch::from_graph(&g)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nb201_round_trips_through_typed_graphs() {
        for index in [0, 1, 777, 15_624] {
            let arch = Nb201Arch::from_index(index).unwrap();
            let g = Nb201Space.arch_to_graph(&arch);
            assert_eq!(g.len(), 8);
            assert_eq!(g.edges.len(), 11);
            assert_eq!(Nb201Space.graph_to_arch(&g).unwrap(), arch);
        }
    }

    #[test]
    fn check_rejects_bad_types_and_backward_edges() {
        let g = TypedGraph::new(vec![0, 9, 1], vec![(0, 1), (1, 2)]);
        assert!(matches!(
            g.check(3, 7),
            Err(GraphVaeError::VertexType {
                graph: 3,
                vertex: 1,
                found: 9,
                ..
            })
        ));
        let g = TypedGraph::new(vec![0, 2, 1], vec![(2, 1)]);
        assert!(matches!(
            g.check(0, 7),
            Err(GraphVaeError::Edge { from: 2, to: 1, .. })
        ));
    }

    mod mbv3 {
        use super::*;
        use crate::batch::GraphBatch;
        use crate::quality::{check_all, report};
        use crate::vae::GraphVaeConfig;
        use burn::backend::Flex;
        use proptest::prelude::*;
        use rand::SeedableRng;
        use rand_chacha::ChaCha8Rng;
        use search_space::mbv3::{Mbv3Block, MBV3_SIZE};
        use std::collections::HashSet;

        fn arb_arch() -> impl Strategy<Value = Mbv3Arch> {
            (0..MBV3_SIZE).prop_map(|i| Mbv3Arch::from_index(i).expect("index below size"))
        }

        #[test]
        fn dimensions_are_metad2a_s() {
            assert_eq!(Mbv3Space.num_types(), 29);
            assert_eq!(Mbv3Space.max_vertices(), 22);
            let g = Mbv3Space.arch_to_graph(&Mbv3Arch::largest());
            assert_eq!(g.types[0], Mbv3Space.start_type());
            assert_eq!(g.types[21], Mbv3Space.end_type());
            assert!(g.types[1..21].iter().all(|&t| t == 28));
            assert_eq!(g.edges, (0..21).map(|v| (v, v + 1)).collect::<Vec<_>>());
            g.check(0, Mbv3Space.num_types()).unwrap();
        }

        #[test]
        fn invalid_graphs_are_typed_errors() {
            let good = Mbv3Space.arch_to_graph(&Mbv3Arch::smallest());
            // Stage 2's vertices are 9..=12; give one of them depth 3.
            let mut g = good.clone();
            g.types[10] = search_space::mbv3::graph::slot_type(3, Mbv3Block::FILLER);
            assert!(matches!(
                Mbv3Space.graph_to_arch(&g),
                Err(Mbv3Invalid::Graph(Mbv3GraphError::StageDepth {
                    stage: 2,
                    vertex: 10,
                    found: 3,
                    expected: 2
                }))
            ));
            let g = TypedGraph::new(good.types.clone(), vec![(0, 1), (1, 30)]);
            assert_eq!(
                Mbv3Space.graph_to_arch(&g),
                Err(Mbv3Invalid::Edge { from: 1, to: 30 })
            );
            let g = TypedGraph::new(good.types[..21].to_vec(), good.edges[..20].to_vec());
            assert_eq!(
                Mbv3Space.graph_to_arch(&g),
                Err(Mbv3Invalid::Graph(Mbv3GraphError::VertexCount(21)))
            );
            let mut g = good;
            g.edges.retain(|&e| e != (20, 21));
            assert_eq!(
                Mbv3Space.graph_to_arch(&g),
                Err(Mbv3Invalid::Graph(Mbv3GraphError::NoOutput(20)))
            );
        }

        /// Graphs of the space batch, encode and decode through the VAE at MetaD2A's
        /// dimensions, and the decoded graphs are checked against the space.
        #[test]
        fn graphs_go_through_the_vae() {
            let mut rng = ChaCha8Rng::seed_from_u64(5);
            let archs: Vec<Mbv3Arch> = (0..4).map(|_| Mbv3Arch::sample(&mut rng)).collect();
            let graphs: Vec<TypedGraph> =
                archs.iter().map(|a| Mbv3Space.arch_to_graph(a)).collect();
            let device = Default::default();
            let batch = GraphBatch::<Flex>::new(
                &graphs,
                Mbv3Space.num_types(),
                Mbv3Space.max_vertices(),
                &device,
            )
            .unwrap();
            let vae = GraphVaeConfig::new()
                .with_num_types(Mbv3Space.num_types())
                .with_max_vertices(Mbv3Space.max_vertices())
                .init::<Flex>(&device);
            let (mu, _) = vae.encode(&batch);
            assert_eq!(mu.dims()[0], 4);
            let decoded = check_all(&Mbv3Space, vae.reconstruct(&batch).unwrap());
            assert_eq!(decoded.len(), 4);
            let seen: HashSet<Mbv3Arch> = archs.into_iter().collect();
            let r = report(&decoded, &seen);
            assert!((0.0..=1.0).contains(&r.validity));
        }

        proptest! {
            #[test]
            fn every_point_round_trips(arch in arb_arch()) {
                let g = Mbv3Space.arch_to_graph(&arch);
                prop_assert!(g.check(0, Mbv3Space.num_types()).is_ok());
                prop_assert_eq!(Mbv3Space.graph_to_arch(&g), Ok(arch));
            }

            /// Any slot vertex given START or END's type, or a type past the last, is rejected.
            #[test]
            fn foreign_types_are_rejected(arch in arb_arch(), vertex in 1usize..21, ty in prop_oneof![Just(0u8), Just(1u8), 29u8..=255]) {
                let mut g = Mbv3Space.arch_to_graph(&arch);
                g.types[vertex] = ty;
                let rejected = matches!(
                    Mbv3Space.graph_to_arch(&g),
                    Err(Mbv3Invalid::Graph(Mbv3GraphError::SlotType { vertex: v, found })) if v == vertex && found == ty
                );
                prop_assert!(rejected);
            }
        }
    }
}
