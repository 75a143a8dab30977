//! The small dense linear algebra the proxies need, in `f64` on the host: a log-determinant by
//! LU with partial pivoting, row correlations, and a Cholesky factorisation. Matrices are
//! row-major `[n, n]` slices with `n` the batch size (tens), so nothing here is performance
//! critical.

/// `log |det A|` of the row-major `[n, n]` matrix `a` by LU with partial pivoting (what
/// `numpy.linalg.slogdet` computes); `-∞` when a pivot is exactly zero (a singular matrix).
///
/// ```text
/// a: [n, n] → log |det a|
/// ```
pub(crate) fn log_abs_det(a: &[f64], n: usize) -> f64 {
    assert_eq!(a.len(), n * n, "log_abs_det: expected an [{n}, {n}] matrix");
    let mut m = a.to_vec();
    let mut log_det = 0.0;
    for col in 0..n {
        let pivot_row = (col..n)
            .max_by(|&i, &j| m[i * n + col].abs().total_cmp(&m[j * n + col].abs()))
            .unwrap_or(col);
        let pivot = m[pivot_row * n + col];
        if pivot == 0.0 {
            return f64::NEG_INFINITY;
        }
        if pivot_row != col {
            for k in 0..n {
                m.swap(col * n + k, pivot_row * n + k);
            }
        }
        log_det += pivot.abs().ln();
        for row in col + 1..n {
            let factor = m[row * n + col] / pivot;
            if factor != 0.0 {
                for k in col..n {
                    m[row * n + k] -= factor * m[col * n + k];
                }
            }
        }
    }
    log_det
}

/// Pearson correlations between the rows of the row-major `[n, d]` matrix `x` (what
/// `numpy.corrcoef` computes), or `None` when a row is constant (its correlation is undefined).
///
/// ```text
/// x: [n, d] → [n, n]
/// ```
pub(crate) fn row_correlations(x: &[f64], n: usize, d: usize) -> Option<Vec<f64>> {
    assert_eq!(
        x.len(),
        n * d,
        "row_correlations: expected [{n}, {d}] values"
    );
    let mut centred = x.to_vec();
    let mut norms = vec![0.0; n];
    for (row, norm) in centred.chunks_mut(d).zip(&mut norms) {
        let mean = row.iter().sum::<f64>() / d as f64;
        row.iter_mut().for_each(|v| *v -= mean);
        *norm = row.iter().map(|v| v * v).sum::<f64>().sqrt();
        if *norm == 0.0 || !norm.is_finite() {
            return None;
        }
    }
    let mut corr = vec![0.0; n * n];
    for i in 0..n {
        for j in i..n {
            let dot: f64 = centred[i * d..(i + 1) * d]
                .iter()
                .zip(&centred[j * d..(j + 1) * d])
                .map(|(a, b)| a * b)
                .sum();
            let c = if i == j {
                1.0
            } else {
                (dot / (norms[i] * norms[j])).clamp(-1.0, 1.0)
            };
            corr[i * n + j] = c;
            corr[j * n + i] = c;
        }
    }
    Some(corr)
}

/// The lower Cholesky factor `L` (`A = L Lᵀ`) of the symmetric row-major `[n, n]` matrix `a`, or
/// `None` when `a` is not positive definite.
pub(crate) fn cholesky(a: &[f64], n: usize) -> Option<Vec<f64>> {
    assert_eq!(a.len(), n * n, "cholesky: expected an [{n}, {n}] matrix");
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let s: f64 = (0..j).map(|k| l[i * n + k] * l[j * n + k]).sum();
            if i == j {
                let d = a[i * n + i] - s;
                if d <= 0.0 || !d.is_finite() {
                    return None;
                }
                l[i * n + i] = d.sqrt();
            } else {
                l[i * n + j] = (a[i * n + j] - s) / l[j * n + j];
            }
        }
    }
    Some(l)
}

/// `(Σ log λᵢ, Σ 1/λᵢ)` over the eigenvalues `λᵢ` of the symmetric positive definite `a`, from
/// its Cholesky factor: `log det A = 2 Σ log Lᵢᵢ` and `tr A⁻¹ = ‖L⁻¹‖²_F`. `None` when `a` is
/// not positive definite.
pub(crate) fn log_det_and_inverse_trace(a: &[f64], n: usize) -> Option<(f64, f64)> {
    let l = cholesky(a, n)?;
    let log_det = 2.0 * (0..n).map(|i| l[i * n + i].ln()).sum::<f64>();
    // Column j of L⁻¹ by forward substitution on e_j.
    let mut inverse_trace = 0.0;
    let mut column = vec![0.0; n];
    for j in 0..n {
        column.iter_mut().for_each(|v| *v = 0.0);
        for i in j..n {
            let rhs = if i == j { 1.0 } else { 0.0 };
            let s: f64 = (j..i).map(|k| l[i * n + k] * column[k]).sum();
            column[i] = (rhs - s) / l[i * n + i];
        }
        inverse_trace += column[j..].iter().map(|v| v * v).sum::<f64>();
    }
    Some((log_det, inverse_trace))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_abs_det_of_a_known_matrix() {
        // det [[2, 1, 0], [1, 3, 1], [0, 1, 4]] = 2·11 − 1·4 = 18
        let a = [2.0, 1.0, 0.0, 1.0, 3.0, 1.0, 0.0, 1.0, 4.0];
        assert!((log_abs_det(&a, 3) - 18f64.ln()).abs() < 1e-12);
        // Pivoting: det [[0, 1], [1, 0]] = −1
        assert!(log_abs_det(&[0.0, 1.0, 1.0, 0.0], 2).abs() < 1e-12);
    }

    #[test]
    fn singular_matrix_has_log_det_minus_infinity() {
        let a = [5.0, 5.0, 5.0, 5.0];
        assert_eq!(log_abs_det(&a, 2), f64::NEG_INFINITY);
    }

    #[test]
    fn correlations_match_a_hand_computation() {
        let x = [1.0, 2.0, 3.0, 3.0, 2.0, 1.0, 1.0, 2.0, 4.0];
        let c = row_correlations(&x, 3, 3).unwrap();
        assert!((c[1] + 1.0).abs() < 1e-12);
        // corr([1,2,3],[1,2,4]) = 3 / √(2 · 14/3)
        let expected = 3.0 / (2.0f64 * 14.0 / 3.0).sqrt();
        assert!((c[2] - expected).abs() < 1e-12, "{}", c[2]);
        assert!(row_correlations(&[1.0, 1.0, 0.0, 1.0], 2, 2).is_none());
    }

    #[test]
    fn cholesky_terms_match_eigenvalues() {
        // Eigenvalues of [[2, 1], [1, 2]] are 1 and 3.
        let (log_det, inv_trace) = log_det_and_inverse_trace(&[2.0, 1.0, 1.0, 2.0], 2).unwrap();
        assert!((log_det - 3f64.ln()).abs() < 1e-12);
        assert!((inv_trace - (1.0 + 1.0 / 3.0)).abs() < 1e-12);
        assert!(cholesky(&[1.0, 2.0, 2.0, 1.0], 2).is_none());
    }
}
