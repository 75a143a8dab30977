//! Host kernels for the predictor's scoring path: a vectorised `tanh` and the head's output layer
//! fused with it.
//!
//! Scoring every NB201 cell for a task evaluates the head's hidden layer
//! `tanh(D·W_D + G·W_G + b)` at cells × draws × `head_hidden` points (15,625 × 10 × 512 ≈ 80 M),
//! then reduces each row with the output layer. Burn's flex backend computes `tanh` one element
//! at a time through libm and materialises the whole `[cells, head_hidden]` hidden layer per
//! draw, so `tanh` was most of an exhaustive search. Here, per cell and draw:
//!
//! ```text
//! score = Σ_j w_j · tanh(G_j + D_j)     (G: the cell's row of G·W_G + b, D: the draw's D·W_D)
//! ```
//!
//! with `tanh` from `expm1` in straight-line code the compiler vectorises, under a run-time CPU
//! dispatch (`pulp`: AVX2 + FMA where the CPU has them, SSE2 otherwise). Cells are the outer
//! loop, so a cell's row and all draws' rows stay in L1. Results match Burn's path to float
//! rounding (a different summation order), and are the same on every run (no threads, fixed
//! order).

use pulp::{Arch, Simd, WithSimd};

/// Lanes of the partial sums: enough independent accumulators for 8- and 16-wide vectors.
const LANES: usize = 16;

/// `tanh(x)` in f32, within 4 ulp or 2e-8 absolute of the exact value over the whole line (the
/// tests check it against f64). NaN stays NaN, the sign of zero is kept, ±∞ gives ±1.
///
/// `tanh(x) = sign(x) · −m / (2 + m)` with `m = expm1(−2|x|)`; `expm1(y) = 2ᵏ·(1 + q) − 1` with
/// `k = round(y / ln 2)`, `r = y − k·ln 2` (ln 2 in two parts, so `r` is exact to f32 rounding)
/// and `q = expm1(r)`, `|r| ≤ ln 2 / 2`, from its Taylor series to `r⁷/7!` (the next term is
/// below f32 rounding). `|x|` is clamped to 10, where `tanh` is 1 in f32.
#[inline(always)]
pub(crate) fn tanh(x: f32) -> f32 {
    const LOG2_E: f32 = std::f32::consts::LOG2_E;
    // ln 2 = LN2_HI + LN2_LO; LN2_HI has few mantissa bits, so k · LN2_HI is exact.
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    // Adding 1.5 · 2²³ rounds to an integer (round half to even) without a float-to-int call.
    const ROUND: f32 = 12_582_912.0;
    let a = x.abs();
    // Not `min`: a NaN must stay NaN.
    let a = if a > 10.0 { 10.0 } else { a };
    let y = -2.0 * a;
    let shifted = y * LOG2_E + ROUND;
    let k = shifted - ROUND;
    let r = (y - k * LN2_HI) - k * LN2_LO;
    let p = 1.0 / 5040.0;
    let p = p * r + 1.0 / 720.0;
    let p = p * r + 1.0 / 120.0;
    let p = p * r + 1.0 / 24.0;
    let p = p * r + 1.0 / 6.0;
    let p = p * r + 0.5;
    let p = p * r + 1.0;
    let q = p * r;
    // k ∈ [−29, 0] sits in the low mantissa bits of `shifted` (its ulp is 1), so 2ᵏ, a normal
    // float, is built from integer operations alone (no float-to-int conversion, which would
    // not vectorise).
    let k_bits = shifted.to_bits().wrapping_sub(ROUND.to_bits());
    let two_k = f32::from_bits(k_bits.wrapping_add(127) << 23);
    let m = two_k * q + (two_k - 1.0);
    (-m / (2.0 + m)).copysign(x)
}

/// The head's output for every row of `graphs` averaged over the rows of `datasets`:
///
/// `out_i = b + (1 / draws) · Σ_d Σ_j w_j · tanh(graphs_ij + datasets_dj)`
///
/// - `graphs`: `[rows, hidden]` row-major (each cell's `G·W_G + b₁`)
/// - `datasets`: `[draws, hidden]` (each draw's `D·W_D`), `draws ≥ 1`
/// - `weight`: `[hidden]`, `bias`: the output layer's
/// - returns `[rows]`
///
/// # Panics
/// When the slices' lengths disagree with `hidden` (a caller bug; the predictor checks shapes).
pub(crate) fn score_rows(graphs: &[f32], datasets: &[f32], weight: &[f32], bias: f32) -> Vec<f32> {
    let hidden = weight.len();
    assert!(
        hidden > 0 && graphs.len().is_multiple_of(hidden) && datasets.len().is_multiple_of(hidden),
        "score_rows: lengths {} and {} are not multiples of the hidden width {hidden}",
        graphs.len(),
        datasets.len()
    );
    let draws = datasets.len() / hidden;
    assert!(draws > 0, "score_rows: no draws");
    struct Op<'a> {
        graphs: &'a [f32],
        datasets: &'a [f32],
        weight: &'a [f32],
        bias: f32,
        draws: usize,
    }
    impl WithSimd for Op<'_> {
        type Output = Vec<f32>;
        #[inline(always)]
        fn with_simd<S: Simd>(self, _simd: S) -> Vec<f32> {
            // Plain index loops and `inline(always)` helpers only: code outside this function's
            // inlined body would be compiled without the dispatched CPU features.
            let hidden = self.weight.len();
            let rows = self.graphs.len() / hidden;
            let scale = 1.0 / self.draws as f32;
            let mut out = vec![0.0f32; rows];
            for (i, out) in out.iter_mut().enumerate() {
                let g = &self.graphs[i * hidden..(i + 1) * hidden];
                let mut total = 0.0f32;
                for k in 0..self.draws {
                    total += row_dot(g, &self.datasets[k * hidden..(k + 1) * hidden], self.weight);
                }
                *out = total * scale + self.bias;
            }
            out
        }
    }
    Arch::new().dispatch(Op {
        graphs,
        datasets,
        weight,
        bias,
        draws,
    })
}

/// `Σ_j w_j · tanh(g_j + d_j)`, with `LANES` partial sums the compiler keeps in vector registers.
#[inline(always)]
fn row_dot(g: &[f32], d: &[f32], w: &[f32]) -> f32 {
    let mut acc = [0.0f32; LANES];
    let body = g.len() - g.len() % LANES;
    for base in (0..body).step_by(LANES) {
        let g: &[f32; LANES] = g[base..base + LANES].try_into().expect("a full chunk");
        let d: &[f32; LANES] = d[base..base + LANES].try_into().expect("a full chunk");
        let w: &[f32; LANES] = w[base..base + LANES].try_into().expect("a full chunk");
        for l in 0..LANES {
            acc[l] += w[l] * tanh(g[l] + d[l]);
        }
    }
    let mut sum = 0.0f32;
    for j in body..g.len() {
        sum += w[j] * tanh(g[j] + d[j]);
    }
    // Pairwise, in a fixed order.
    let mut width = LANES;
    while width > 1 {
        width /= 2;
        for l in 0..width {
            acc[l] += acc[l + width];
        }
    }
    acc[0] + sum
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Distance in units in the last place (same-sign floats; 0 for equal values).
    fn ulps(a: f32, b: f32) -> u32 {
        if a == b {
            return 0;
        }
        let key = |v: f32| {
            let bits = v.to_bits() as i64;
            if bits < 0x8000_0000 {
                bits
            } else {
                0x8000_0000 - bits
            }
        };
        (key(a) - key(b)).unsigned_abs() as u32
    }

    #[test]
    fn tanh_is_accurate_over_the_line() {
        let mut worst_ulp = 0;
        let mut worst_abs = 0.0f64;
        // Every 1009th float from 1e-30 to beyond saturation, both signs.
        let mut bits = 1e-30f32.to_bits();
        while f32::from_bits(bits) < 20.0 {
            for x in [f32::from_bits(bits), -f32::from_bits(bits)] {
                let exact = (x as f64).tanh();
                let got = tanh(x);
                let abs = (got as f64 - exact).abs();
                worst_abs = worst_abs.max(abs);
                if abs > 2e-8 {
                    worst_ulp = worst_ulp.max(ulps(got, exact as f32));
                }
            }
            bits += 1009;
        }
        assert!(
            worst_ulp <= 4,
            "worst error {worst_ulp} ulp (abs {worst_abs:e})"
        );
    }

    #[test]
    fn tanh_special_values() {
        assert!(tanh(f32::NAN).is_nan());
        assert_eq!(tanh(f32::INFINITY), 1.0);
        assert_eq!(tanh(f32::NEG_INFINITY), -1.0);
        assert_eq!(tanh(0.0).to_bits(), 0.0f32.to_bits());
        assert_eq!(tanh(-0.0).to_bits(), (-0.0f32).to_bits());
        assert_eq!(tanh(f32::MAX), 1.0);
        assert_eq!(tanh(1e-40), 1e-40);
    }

    #[test]
    fn fused_scores_match_a_plain_loop() {
        // hidden = 37: a body of two 16-lane chunks and a tail of 5.
        let hidden = 37;
        let value = |i: usize, s: f32| (i as f32 * 0.37 + s).sin() * 2.0;
        let graphs: Vec<f32> = (0..5 * hidden).map(|i| value(i, 0.1)).collect();
        let datasets: Vec<f32> = (0..3 * hidden).map(|i| value(i, 1.7)).collect();
        let weight: Vec<f32> = (0..hidden).map(|i| value(i, 2.9)).collect();
        let got = score_rows(&graphs, &datasets, &weight, 0.25);
        assert_eq!(got.len(), 5);
        for (row, &got) in got.iter().enumerate() {
            let mut total = 0.0f64;
            for draw in 0..3 {
                for j in 0..hidden {
                    let x = graphs[row * hidden + j] as f64 + datasets[draw * hidden + j] as f64;
                    total += weight[j] as f64 * x.tanh();
                }
            }
            let expected = total / 3.0 + 0.25;
            assert!(
                (got as f64 - expected).abs() < 1e-5,
                "row {row}: {got} vs {expected}"
            );
        }
    }

    #[test]
    #[should_panic(expected = "not multiples")]
    fn fused_scores_refuse_ragged_rows() {
        score_rows(&[0.0; 5], &[0.0; 2], &[0.0; 2], 0.0);
    }
}
