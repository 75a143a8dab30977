//! Validity, uniqueness and novelty of decoded graphs.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::graph::{GraphSpace, TypedGraph};

/// A decoded graph checked against its search space.
#[derive(Clone, Debug)]
pub struct Decoded<S: GraphSpace> {
    /// The graph as decoded.
    pub graph: TypedGraph,
    /// Its architecture, or why it is not one.
    pub arch: Result<S::Arch, S::Invalid>,
}

/// Checks every graph against `space`.
pub fn check_all<S: GraphSpace>(space: &S, graphs: Vec<TypedGraph>) -> Vec<Decoded<S>> {
    graphs
        .into_iter()
        .map(|graph| Decoded {
            arch: space.graph_to_arch(&graph),
            graph,
        })
        .collect()
}

/// The usual generative-model report (D-VAE, MetaD2A): fractions of a sample.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SampleReport {
    /// Graphs decoded.
    pub total: usize,
    /// Fraction that are architectures of the space.
    pub validity: f64,
    /// Distinct valid architectures over valid ones.
    pub uniqueness: f64,
    /// Distinct valid architectures not in the reference (training) set, over distinct valid.
    pub novelty: f64,
}

/// Report on `decoded`, novelty measured against `seen`.
pub fn report<S: GraphSpace>(decoded: &[Decoded<S>], seen: &HashSet<S::Arch>) -> SampleReport {
    let valid: Vec<&S::Arch> = decoded
        .iter()
        .filter_map(|d| d.arch.as_ref().ok())
        .collect();
    let unique: HashSet<&S::Arch> = valid.iter().copied().collect();
    let novel = unique.iter().filter(|a| !seen.contains(**a)).count();
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    SampleReport {
        total: decoded.len(),
        validity: ratio(valid.len(), decoded.len()),
        uniqueness: ratio(unique.len(), valid.len()),
        novelty: ratio(novel, unique.len()),
    }
}
