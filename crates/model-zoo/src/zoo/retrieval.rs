//! [`Retrieval`]: the top k zoo entries for a query embedding under cost constraints, then
//! re-scored by a predictor (TANS's retrieval step, with the constraint filter its code lacks).
//!
//! Entries and the query live in one embedding space (TANS: 128-d, L2-normalised, so the dot
//! product is the cosine). An entry is eligible when its cost meets every constraint; the
//! eligible entries are ranked by dot product with the query, ties by entry index (lower
//! first), and the first k kept. [`Retrieval::retrieve`] then asks a [`Rescore`] for each
//! hit's predicted accuracy and reorders the k by it. Plain Rust on the CPU, one pass over
//! the embeddings (vectorised under `pulp`'s run-time dispatch, already in the tree for the
//! predictor's scoring kernel): no Burn, no device.

use pulp::{Arch, Simd, WithSimd};
use search_space::Cost;

/// Cost limits an entry must meet, in the units of [`Cost`]: millions of parameters and of
/// multiply-adds per image. `None` = no limit.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Constraints {
    /// Most parameters (M).
    pub max_params: Option<f64>,
    /// Most multiply-adds per image (M).
    pub max_flops: Option<f64>,
}

impl Constraints {
    /// Whether `cost` meets every limit.
    #[inline(always)]
    pub fn admits(&self, cost: &Cost) -> bool {
        self.max_params.is_none_or(|m| cost.params <= m)
            && self.max_flops.is_none_or(|m| cost.flops <= m)
    }

    fn check(&self) -> Result<(), RetrievalError> {
        for (name, value) in [
            ("max_params", self.max_params),
            ("max_flops", self.max_flops),
        ] {
            if let Some(v) = value.filter(|v| v.is_nan() || *v < 0.0) {
                return Err(RetrievalError::Constraint { name, value: v });
            }
        }
        Ok(())
    }
}

/// One retrieved entry.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Hit {
    /// Position of the entry (row of the embeddings, index of its cost).
    pub entry: usize,
    /// Dot product of its embedding with the query.
    pub similarity: f32,
    /// Predicted accuracy, once re-scored ([`Retrieval::retrieve`]).
    pub predicted: Option<f64>,
}

/// A predictor of each candidate's accuracy on the query's task (TANS: its performance
/// predictor on the query and model embeddings). Any `FnMut(&Hit) -> f64` is one.
pub trait Rescore {
    /// The predicted accuracy of `hit` (higher is better; must be finite).
    fn predict(&mut self, hit: &Hit) -> f64;
}

impl<F: FnMut(&Hit) -> f64> Rescore for F {
    fn predict(&mut self, hit: &Hit) -> f64 {
        self(hit)
    }
}

/// Invalid input to [`Retrieval`].
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum RetrievalError {
    /// The embedding dimension is 0.
    #[error("the embedding dimension must be positive")]
    ZeroDimension,
    /// The embeddings do not hold `entries × dim` values.
    #[error("{values} embedding values for {entries} entries of dimension {dim}: expected {}", entries * dim)]
    Shape {
        /// Values given.
        values: usize,
        /// Entries (costs) given.
        entries: usize,
        /// The dimension.
        dim: usize,
    },
    /// An entry's embedding has a NaN or infinite value.
    #[error("entry {entry}'s embedding has a non-finite value")]
    NonFiniteEmbedding {
        /// The entry.
        entry: usize,
    },
    /// An entry's cost is NaN or infinite.
    #[error("entry {entry}'s cost is not finite")]
    NonFiniteCost {
        /// The entry.
        entry: usize,
    },
    /// The query's length is not the dimension.
    #[error("the query has {found} values; the entries' embeddings have {expected}")]
    QueryDimension {
        /// The query's length.
        found: usize,
        /// The dimension.
        expected: usize,
    },
    /// The query has a NaN or infinite value.
    #[error("the query's value {index} is {value}, not a finite number")]
    NonFiniteQuery {
        /// Its position.
        index: usize,
        /// The value.
        value: f32,
    },
    /// k is 0.
    #[error("k must be at least 1")]
    ZeroK,
    /// A constraint is NaN or negative.
    #[error("{name} = {value} is not a limit (expected a number ≥ 0, or none)")]
    Constraint {
        /// `max_params` or `max_flops`.
        name: &'static str,
        /// The value.
        value: f64,
    },
    /// The re-scorer returned NaN or an infinity.
    #[error("the predicted accuracy of entry {entry} is {value}, not a finite number")]
    NonFinitePrediction {
        /// The entry.
        entry: usize,
        /// The prediction.
        value: f64,
    },
}

/// Entry embeddings (`[entries, dim]`, row-major) and costs, ready to answer queries.
#[derive(Clone, Debug)]
pub struct Retrieval {
    dim: usize,
    embeddings: Vec<f32>,
    costs: Vec<Cost>,
}

impl Retrieval {
    /// Entries with `embeddings` `[costs.len(), dim]` (row-major) and their `costs`; every
    /// value must be finite.
    pub fn new(embeddings: Vec<f32>, dim: usize, costs: Vec<Cost>) -> Result<Self, RetrievalError> {
        if dim == 0 {
            return Err(RetrievalError::ZeroDimension);
        }
        if embeddings.len() != costs.len() * dim {
            return Err(RetrievalError::Shape {
                values: embeddings.len(),
                entries: costs.len(),
                dim,
            });
        }
        if let Some(entry) = embeddings
            .chunks_exact(dim)
            .position(|row| !row.iter().all(|v| v.is_finite()))
        {
            return Err(RetrievalError::NonFiniteEmbedding { entry });
        }
        if let Some(entry) = costs
            .iter()
            .position(|c| !(c.params.is_finite() && c.flops.is_finite()))
        {
            return Err(RetrievalError::NonFiniteCost { entry });
        }
        Ok(Self {
            dim,
            embeddings,
            costs,
        })
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.costs.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.costs.is_empty()
    }

    /// The embedding dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The entries' costs.
    pub fn costs(&self) -> &[Cost] {
        &self.costs
    }

    /// The `min(k, eligible)` entries meeting `constraints` with the largest dot product with
    /// `query`, best first (equal similarities: lower entry index first).
    pub fn top_k(
        &self,
        query: &[f32],
        constraints: &Constraints,
        k: usize,
    ) -> Result<Vec<Hit>, RetrievalError> {
        self.check_query(query, constraints, k)?;
        let best = Arch::new().dispatch(Scan {
            embeddings: &self.embeddings,
            costs: &self.costs,
            query,
            constraints,
            k,
        });
        Ok(best
            .into_iter()
            .map(|(similarity, entry)| Hit {
                entry,
                similarity,
                predicted: None,
            })
            .collect())
    }

    /// [`Self::top_k`], then each hit's accuracy predicted by `rescore` and the hits reordered
    /// by it, best first (equal predictions: higher similarity, then lower index, first).
    pub fn retrieve(
        &self,
        query: &[f32],
        constraints: &Constraints,
        k: usize,
        rescore: &mut dyn Rescore,
    ) -> Result<Vec<Hit>, RetrievalError> {
        let mut hits = self.top_k(query, constraints, k)?;
        for hit in &mut hits {
            let value = rescore.predict(hit);
            if !value.is_finite() {
                return Err(RetrievalError::NonFinitePrediction {
                    entry: hit.entry,
                    value,
                });
            }
            hit.predicted = Some(value);
        }
        // `top_k` already ordered equal predictions by similarity, then index; the sort is
        // stable.
        let predicted = |h: &Hit| h.predicted.unwrap_or(0.0);
        hits.sort_by(|a, b| {
            predicted(b)
                .partial_cmp(&predicted(a))
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        Ok(hits)
    }

    fn check_query(
        &self,
        query: &[f32],
        constraints: &Constraints,
        k: usize,
    ) -> Result<(), RetrievalError> {
        if query.len() != self.dim {
            return Err(RetrievalError::QueryDimension {
                found: query.len(),
                expected: self.dim,
            });
        }
        if let Some((index, &value)) = query.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(RetrievalError::NonFiniteQuery { index, value });
        }
        if k == 0 {
            return Err(RetrievalError::ZeroK);
        }
        constraints.check()
    }
}

/// The scan of [`Retrieval::top_k`] under a run-time CPU dispatch (`pulp`: AVX2 where the CPU
/// has it, SSE2 otherwise): one pass over the rows in order. Multiplies and adds stay separate (no fused multiply-add), so every
/// dispatch target gives the same scores, bit for bit.
struct Scan<'a> {
    embeddings: &'a [f32],
    costs: &'a [Cost],
    query: &'a [f32],
    constraints: &'a Constraints,
    k: usize,
}

impl WithSimd for Scan<'_> {
    /// The best `k` (score, entry), best first.
    type Output = Vec<(f32, usize)>;

    #[inline(always)]
    fn with_simd<S: Simd>(self, _simd: S) -> Self::Output {
        // Plain loops and `inline(always)` helpers only: code outside this function's inlined
        // body would be compiled without the dispatched CPU features.
        let (dim, k) = (self.query.len(), self.k);
        // `best` stays sorted best first; entries arrive in index order, so an entry that only
        // ties the worst kept one never displaces it.
        let mut best: Vec<(f32, usize)> = Vec::with_capacity(k + 1);
        // Every row is scored in order, and the constraints are asked only of an entry that
        // would enter the top k: a sequential pass streams from memory at full speed, whereas
        // skipping the excluded rows first reads the rest out of order behind an unpredictable
        // branch (measured slower with half the zoo excluded). The result is the same: the
        // best k among the eligible entries.
        for (entry, (row, cost)) in self
            .embeddings
            .chunks_exact(dim)
            .zip(self.costs)
            .enumerate()
        {
            // Finite inputs can still overflow to inf − inf: such an entry ranks last.
            let score = dot(row, self.query);
            let score = if score.is_nan() {
                f32::NEG_INFINITY
            } else {
                score
            };
            if best.len() == k && score <= best[k - 1].0 {
                continue;
            }
            if !self.constraints.admits(cost) {
                continue;
            }
            let at = best.partition_point(|&(s, _)| s >= score);
            best.insert(at, (score, entry));
            best.truncate(k);
        }
        best
    }
}

/// Partial sums of the dot product: enough independent accumulators for 8-wide vectors.
const LANES: usize = 16;

/// Dot product in [`LANES`] interleaved partial sums (kept in vector registers), summed
/// pairwise in a fixed order: the same order for every row, so equal rows score equal.
#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; LANES];
    let body = a.len() - a.len() % LANES;
    for base in (0..body).step_by(LANES) {
        let x: &[f32; LANES] = a[base..base + LANES].try_into().expect("a full chunk");
        let y: &[f32; LANES] = b[base..base + LANES].try_into().expect("a full chunk");
        for l in 0..LANES {
            acc[l] += x[l] * y[l];
        }
    }
    for j in body..a.len() {
        acc[j - body] += a[j] * b[j];
    }
    let mut width = LANES;
    while width > 1 {
        width /= 2;
        for l in 0..width {
            acc[l] += acc[l + width];
        }
    }
    acc[0]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cost(params: f64, flops: f64) -> Cost {
        Cost { params, flops }
    }

    fn small() -> Retrieval {
        // Three entries in 2-d: similarities with [1, 0] are 3, 1, 3.
        Retrieval::new(
            vec![3.0, 0.0, 1.0, 5.0, 3.0, -1.0],
            2,
            vec![cost(0.1, 1.0), cost(0.2, 2.0), cost(0.3, 3.0)],
        )
        .unwrap()
    }

    #[test]
    fn ranks_by_dot_product_ties_by_index() {
        let hits = small()
            .top_k(&[1.0, 0.0], &Constraints::default(), 3)
            .unwrap();
        let order: Vec<usize> = hits.iter().map(|h| h.entry).collect();
        assert_eq!(order, [0, 2, 1]);
        assert_eq!(hits[0].similarity, 3.0);
    }

    #[test]
    fn constraints_filter_before_ranking() {
        let c = Constraints {
            max_params: Some(0.25),
            max_flops: None,
        };
        let order: Vec<usize> = small()
            .top_k(&[1.0, 0.0], &c, 3)
            .unwrap()
            .iter()
            .map(|h| h.entry)
            .collect();
        assert_eq!(order, [0, 1]);
        let none = Constraints {
            max_params: None,
            max_flops: Some(0.5),
        };
        assert!(small().top_k(&[1.0, 0.0], &none, 3).unwrap().is_empty());
    }

    #[test]
    fn rescoring_reorders_the_top_k() {
        let mut predictor = |h: &Hit| h.entry as f64;
        let hits = small()
            .retrieve(&[1.0, 0.0], &Constraints::default(), 2, &mut predictor)
            .unwrap();
        let order: Vec<usize> = hits.iter().map(|h| h.entry).collect();
        assert_eq!(
            order,
            [2, 0],
            "the top 2 by similarity, reordered by prediction"
        );
        assert_eq!(hits[0].predicted, Some(2.0));
        let mut nan = |_: &Hit| f64::NAN;
        assert!(matches!(
            small().retrieve(&[1.0, 0.0], &Constraints::default(), 2, &mut nan),
            Err(RetrievalError::NonFinitePrediction { .. })
        ));
    }

    #[test]
    fn bad_input_is_a_typed_error() {
        let r = small();
        let none = Constraints::default();
        assert_eq!(
            r.top_k(&[1.0], &none, 1),
            Err(RetrievalError::QueryDimension {
                found: 1,
                expected: 2
            })
        );
        assert_eq!(r.top_k(&[1.0, 0.0], &none, 0), Err(RetrievalError::ZeroK));
        assert!(matches!(
            r.top_k(&[f32::NAN, 0.0], &none, 1),
            Err(RetrievalError::NonFiniteQuery { index: 0, .. })
        ));
        let negative = Constraints {
            max_params: Some(-1.0),
            max_flops: None,
        };
        assert!(matches!(
            r.top_k(&[1.0, 0.0], &negative, 1),
            Err(RetrievalError::Constraint {
                name: "max_params",
                ..
            })
        ));
        let nan = Constraints {
            max_params: None,
            max_flops: Some(f64::NAN),
        };
        assert!(matches!(
            r.top_k(&[1.0, 0.0], &nan, 1),
            Err(RetrievalError::Constraint {
                name: "max_flops",
                ..
            })
        ));
        assert_eq!(
            Retrieval::new(vec![1.0; 5], 2, vec![cost(0.0, 0.0); 2]).unwrap_err(),
            RetrievalError::Shape {
                values: 5,
                entries: 2,
                dim: 2
            }
        );
        assert_eq!(
            Retrieval::new(vec![], 0, vec![]).unwrap_err(),
            RetrievalError::ZeroDimension
        );
        assert_eq!(
            Retrieval::new(vec![0.0, f32::INFINITY], 1, vec![cost(0.0, 0.0); 2]).unwrap_err(),
            RetrievalError::NonFiniteEmbedding { entry: 1 }
        );
        assert_eq!(
            Retrieval::new(vec![0.0], 1, vec![cost(f64::NAN, 0.0)]).unwrap_err(),
            RetrievalError::NonFiniteCost { entry: 0 }
        );
    }

    /// Entries with small integer embeddings (so every dot product is exact in any order, and
    /// ties are common) and costs on a coarse grid (so constraints tie with costs too).
    fn case() -> impl Strategy<Value = (usize, Vec<f32>, Vec<Cost>, Vec<f32>, Constraints, usize)> {
        (1usize..6, 0usize..40).prop_flat_map(|(dim, entries)| {
            let limit = prop::option::of((0u8..12).prop_map(|v| f64::from(v) / 4.0));
            (
                Just(dim),
                prop::collection::vec((-3i8..4).prop_map(f32::from), entries * dim),
                prop::collection::vec(
                    ((0u8..12), (0u8..12))
                        .prop_map(|(p, f)| cost(f64::from(p) / 4.0, f64::from(f) / 4.0)),
                    entries,
                ),
                prop::collection::vec((-3i8..4).prop_map(f32::from), dim),
                (limit.clone(), limit).prop_map(|(max_params, max_flops)| Constraints {
                    max_params,
                    max_flops,
                }),
                1usize..12,
            )
        })
    }

    proptest! {
        #[test]
        fn retrieval_meets_constraints_and_matches_brute_force(
            (dim, embeddings, costs, query, constraints, k) in case()
        ) {
            let r = Retrieval::new(embeddings.clone(), dim, costs.clone()).unwrap();
            let hits = r.top_k(&query, &constraints, k).unwrap();
            for h in &hits {
                let c = costs[h.entry];
                prop_assert!(constraints.max_params.is_none_or(|m| c.params <= m));
                prop_assert!(constraints.max_flops.is_none_or(|m| c.flops <= m));
            }
            // Brute force: score every eligible entry in f64 (exact for these integers), sort
            // by score descending then index ascending, keep k.
            let mut all: Vec<(f64, usize)> = (0..costs.len())
                .filter(|&i| constraints.admits(&costs[i]))
                .map(|i| {
                    let row = &embeddings[i * dim..(i + 1) * dim];
                    let s: f64 = row.iter().zip(&query).map(|(a, b)| f64::from(a * b)).sum();
                    (s, i)
                })
                .collect();
            let eligible = all.len();
            // Numeric order (−0 = +0, as the retrieval compares), then index.
            all.sort_by(|a, b| b.0.partial_cmp(&a.0).expect("finite").then(a.1.cmp(&b.1)));
            all.truncate(k);
            prop_assert_eq!(hits.len(), k.min(eligible));
            let got: Vec<(f64, usize)> =
                hits.iter().map(|h| (f64::from(h.similarity), h.entry)).collect();
            prop_assert_eq!(got, all);

            // Re-scoring keeps the same entries, ordered by the prediction.
            let mut predictor = |h: &Hit| (h.entry % 3) as f64;
            let rescored = r.retrieve(&query, &constraints, k, &mut predictor).unwrap();
            let mut same: Vec<usize> = rescored.iter().map(|h| h.entry).collect();
            let mut before: Vec<usize> = hits.iter().map(|h| h.entry).collect();
            prop_assert!(rescored
                .windows(2)
                .all(|w| w[0].predicted.unwrap() >= w[1].predicted.unwrap()));
            same.sort_unstable();
            before.sort_unstable();
            prop_assert_eq!(same, before);
        }
    }
}
