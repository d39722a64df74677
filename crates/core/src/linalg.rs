//! The small dense linear algebra the regressions share (RegMix's fit, the collection's
//! regression prior): a Cholesky factor and its solve, on row-major `p × p` matrices.

/// Lower-triangular `L` with `a = L·Lᵀ` (`a` symmetric positive definite, `p × p`, row-major;
/// only its lower triangle is read). `None` when `a` is not positive definite.
pub fn cholesky(a: &[f64], p: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; p * p];
    for i in 0..p {
        for j in 0..=i {
            let s: f64 = (0..j).map(|m| l[i * p + m] * l[j * p + m]).sum();
            if i == j {
                let d = a[i * p + i] - s;
                if d <= 0.0 || !d.is_finite() {
                    return None;
                }
                l[i * p + i] = d.sqrt();
            } else {
                l[i * p + j] = (a[i * p + j] - s) / l[j * p + j];
            }
        }
    }
    Some(l)
}

/// Solves `L·Lᵀ·x = b` for the factor `l` of [`cholesky`].
pub fn cholesky_solve(l: &[f64], p: usize, b: &[f64]) -> Vec<f64> {
    let mut z = vec![0.0; p];
    for i in 0..p {
        z[i] = (b[i] - (0..i).map(|m| l[i * p + m] * z[m]).sum::<f64>()) / l[i * p + i];
    }
    let mut x = vec![0.0; p];
    for i in (0..p).rev() {
        x[i] = (z[i] - (i + 1..p).map(|m| l[m * p + i] * x[m]).sum::<f64>()) / l[i * p + i];
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solves_a_system_by_hand_and_refuses_an_indefinite_one() {
        // [[4, 2], [2, 3]] x = [2, 1]: x = [0.5, 0].
        let a = [4.0, 2.0, 2.0, 3.0];
        let l = cholesky(&a, 2).unwrap();
        assert_eq!(l, [2.0, 0.0, 1.0, 2f64.sqrt()]);
        let x = cholesky_solve(&l, 2, &[2.0, 1.0]);
        assert!((x[0] - 0.5).abs() < 1e-12 && x[1].abs() < 1e-12, "{x:?}");
        assert!(cholesky(&[1.0, 2.0, 2.0, 1.0], 2).is_none());
    }
}
