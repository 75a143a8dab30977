//! A batch of typed graphs as tensors.

use burn::tensor::{backend::Backend, Int, Tensor, TensorData};

use crate::error::{GraphVaeError, Result};
use crate::graph::TypedGraph;

/// Graphs of the same vertex count as tensors: types `[graphs, n]`, one-hot types
/// `[graphs, n, num_types]`, adjacency `[graphs, n, n]` with `adj[g, u, v] = 1` for an edge
/// `u → v`.
#[derive(Clone, Debug)]
pub struct GraphBatch<B: Backend> {
    /// Vertex types.
    pub types: Tensor<B, 2, Int>,
    /// One-hot vertex types.
    pub one_hot: Tensor<B, 3>,
    /// Adjacency (`u → v` at `[g, u, v]`).
    pub adjacency: Tensor<B, 3>,
}

impl<B: Backend> GraphBatch<B> {
    /// Checks and packs `graphs` (all with the same vertex count, at most `max_vertices`, types
    /// below `num_types`).
    pub fn new(
        graphs: &[TypedGraph],
        num_types: usize,
        max_vertices: usize,
        device: &B::Device,
    ) -> Result<Self> {
        let n = graphs.first().ok_or(GraphVaeError::EmptyBatch)?.len();
        if n > max_vertices {
            return Err(GraphVaeError::TooManyVertices {
                found: n,
                max: max_vertices,
            });
        }
        let b = graphs.len();
        let mut types = Vec::with_capacity(b * n);
        let mut one_hot = vec![0f32; b * n * num_types];
        let mut adjacency = vec![0f32; b * n * n];
        for (i, g) in graphs.iter().enumerate() {
            if g.len() != n {
                return Err(GraphVaeError::VertexCount {
                    graph: i,
                    expected: n,
                    found: g.len(),
                });
            }
            g.check(i, num_types)?;
            for (v, &t) in g.types.iter().enumerate() {
                types.push(t as i64);
                one_hot[(i * n + v) * num_types + t as usize] = 1.0;
            }
            for &(from, to) in &g.edges {
                adjacency[(i * n + from) * n + to] = 1.0;
            }
        }
        Ok(Self {
            types: Tensor::from_data(TensorData::new(types, [b, n]), device),
            one_hot: Tensor::from_data(TensorData::new(one_hot, [b, n, num_types]), device),
            adjacency: Tensor::from_data(TensorData::new(adjacency, [b, n, n]), device),
        })
    }

    /// Number of graphs.
    pub fn len(&self) -> usize {
        self.types.dims()[0]
    }

    /// Whether the batch is empty (never, for a batch built by [`new`](Self::new)).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Vertices per graph.
    pub fn num_vertices(&self) -> usize {
        self.types.dims()[1]
    }

    /// One-hot types of vertex `v`, `[graphs, num_types]`.
    pub fn vertex_one_hot(&self, v: usize) -> Tensor<B, 2> {
        let [b, _, t] = self.one_hot.dims();
        self.one_hot.clone().narrow(1, v, 1).reshape([b, t])
    }

    /// Types of vertex `v`, `[graphs, 1]`.
    pub fn vertex_types(&self, v: usize) -> Tensor<B, 2, Int> {
        self.types.clone().narrow(1, v, 1)
    }

    /// Edges into `v` from vertices `0..v`: `[graphs, v]`.
    pub fn in_edges(&self, v: usize) -> Tensor<B, 2> {
        let b = self.len();
        self.adjacency
            .clone()
            .narrow(1, 0, v)
            .narrow(2, v, 1)
            .reshape([b, v])
    }

    /// Edges out of `v` to vertices `v+1..n`: `[graphs, n − v − 1]`.
    pub fn out_edges(&self, v: usize) -> Tensor<B, 2> {
        let (b, n) = (self.len(), self.num_vertices());
        self.adjacency
            .clone()
            .narrow(1, v, 1)
            .narrow(2, v + 1, n - v - 1)
            .reshape([b, n - v - 1])
    }
}
