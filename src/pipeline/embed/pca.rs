//! Exact two-component PCA of the gold matrix.
//!
//! The gold matrix is tall and thin (n up to millions, d <= ~40), so we form the d x d covariance
//! matrix (one BLAS-style product through ndarray, O(n d^2)) and diagonalise it with the cyclic
//! Jacobi method, which is exact to machine precision, needs no external LAPACK and is
//! deterministic. Our own code rather than `linfa-reduction`'s `Pca` because that goes through
//! `linfa-linalg` (an iterative / randomised path for a full SVD of the n x d matrix) and copies
//! between ndarray versions, and because we want a fixed sign convention and defined results for
//! d = 1, n = 1 and constant columns.

use ndarray::{Array1, Array2, ArrayView2, Axis};

use super::{EmbedError, check_matrix};

/// Two principal components of a matrix, for every row.
#[derive(Debug, Clone, PartialEq)]
pub struct Pca2d {
    /// n x 2 coordinates: the centred rows projected on the two components.
    pub coords: Array2<f64>,
    /// Share of the total variance carried by each component (0 when the data has none).
    pub explained_variance_ratio: [f64; 2],
    /// Variance along each component (the covariance eigenvalues, divisor n - 1).
    pub explained_variance: [f64; 2],
    /// Unit loadings of each component in feature space (all zeros for a missing component,
    /// e.g. the second one when d = 1). Sign: the largest absolute loading is positive.
    pub components: [Vec<f64>; 2],
    /// Column means that were subtracted before projecting.
    pub mean: Vec<f64>,
}

/// X^T X summed row by row in a fixed order. A BLAS-style product may split the sum differently
/// from run to run, and the results tables must be byte-identical for the same input.
fn covariance_in_row_order(centred: &Array2<f64>) -> Array2<f64> {
    let d = centred.ncols();
    let mut sum = Array2::<f64>::zeros((d, d));
    for row in centred.rows() {
        for i in 0..d {
            let ri = row[i];
            for j in i..d {
                sum[[i, j]] += ri * row[j];
            }
        }
    }
    for i in 0..d {
        for j in 0..i {
            sum[[i, j]] = sum[[j, i]];
        }
    }
    sum
}

/// Rows times the basis, each dot product in a fixed order (see [`covariance_in_row_order`]).
fn project_in_row_order(centred: &Array2<f64>, basis: &Array2<f64>) -> Array2<f64> {
    let mut out = Array2::<f64>::zeros((centred.nrows(), basis.ncols()));
    for (r, row) in centred.rows().into_iter().enumerate() {
        for c in 0..basis.ncols() {
            out[[r, c]] = row.iter().zip(basis.column(c)).map(|(a, b)| a * b).sum();
        }
    }
    out
}

/// Exact PCA to two dimensions.
///
/// Errors for an empty or non-finite matrix. Degenerate inputs give defined results: one row or
/// all-constant columns give zero coordinates and ratios `[0, 0]`; one feature gives a zero
/// second component with ratio 0.
pub fn pca_2d(data: ArrayView2<f64>) -> Result<Pca2d, EmbedError> {
    let (n, d) = check_matrix(data)?;
    let mean = data.mean_axis(Axis(0)).unwrap_or_else(|| Array1::zeros(d));
    let centred = &data - &mean.view().insert_axis(Axis(0));
    let covariance = covariance_in_row_order(&centred) / (n.saturating_sub(1).max(1) as f64);
    let total_variance: f64 = covariance.diag().iter().sum();

    let (eigenvalues, eigenvectors) = symmetric_eigen(covariance);
    let order = descending_order(&eigenvalues);

    let mut components = [vec![0.0; d], vec![0.0; d]];
    let mut variance = [0.0; 2];
    for (slot, &k) in order.iter().take(2).enumerate() {
        components[slot] = sign_fixed(eigenvectors.column(k).to_vec());
        variance[slot] = eigenvalues[k].max(0.0);
    }
    let ratio = if total_variance > 0.0 {
        [variance[0] / total_variance, variance[1] / total_variance]
    } else {
        [0.0, 0.0]
    };

    let mut basis = Array2::<f64>::zeros((d, 2));
    for (slot, component) in components.iter().enumerate() {
        basis.column_mut(slot).assign(&Array1::from(component.clone()));
    }
    let coords = if total_variance > 0.0 {
        project_in_row_order(&centred, &basis)
    } else {
        Array2::zeros((n, 2))
    };

    Ok(Pca2d {
        coords,
        explained_variance_ratio: ratio,
        explained_variance: variance,
        components,
        mean: mean.to_vec(),
    })
}

/// Eigen-decomposition of a symmetric matrix by cyclic Jacobi rotations.
///
/// Returns the eigenvalues (unsorted) and the eigenvectors as columns. Converges quadratically;
/// for d <= 40 a handful of sweeps of O(d^3) each.
pub(crate) fn symmetric_eigen(mut a: Array2<f64>) -> (Vec<f64>, Array2<f64>) {
    let d = a.nrows();
    let mut v = Array2::<f64>::eye(d);
    let scale: f64 = a.iter().map(|x| x * x).sum::<f64>().sqrt();
    if scale == 0.0 {
        return (vec![0.0; d], v);
    }
    for _sweep in 0..100 {
        let off_diagonal: f64 = (0..d)
            .flat_map(|p| (p + 1..d).map(move |q| (p, q)))
            .map(|(p, q)| a[[p, q]].powi(2))
            .sum();
        if off_diagonal.sqrt() <= f64::EPSILON * scale {
            break;
        }
        for p in 0..d {
            for q in p + 1..d {
                jacobi_rotate(&mut a, &mut v, p, q);
            }
        }
    }
    ((0..d).map(|i| a[[i, i]]).collect(), v)
}

/// One Jacobi rotation zeroing `a[p][q]` (Numerical Recipes' stable formulation).
fn jacobi_rotate(a: &mut Array2<f64>, v: &mut Array2<f64>, p: usize, q: usize) {
    let apq = a[[p, q]];
    if apq == 0.0 {
        return;
    }
    let theta = (a[[q, q]] - a[[p, p]]) / (2.0 * apq);
    let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
    let t = if theta == 0.0 { 1.0 } else { t };
    let c = 1.0 / (t * t + 1.0).sqrt();
    let s = t * c;
    let d = a.nrows();
    for k in 0..d {
        let (akp, akq) = (a[[k, p]], a[[k, q]]);
        a[[k, p]] = c * akp - s * akq;
        a[[k, q]] = s * akp + c * akq;
    }
    for k in 0..d {
        let (apk, aqk) = (a[[p, k]], a[[q, k]]);
        a[[p, k]] = c * apk - s * aqk;
        a[[q, k]] = s * apk + c * aqk;
    }
    for k in 0..d {
        let (vkp, vkq) = (v[[k, p]], v[[k, q]]);
        v[[k, p]] = c * vkp - s * vkq;
        v[[k, q]] = s * vkp + c * vkq;
    }
}

/// Indices of `values` from largest to smallest (ties: lower index first).
fn descending_order(values: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&i, &j| values[j].total_cmp(&values[i]).then(i.cmp(&j)));
    order
}

/// Flips a vector so that its largest-magnitude entry (first one on ties) is positive.
fn sign_fixed(mut vector: Vec<f64>) -> Vec<f64> {
    let mut largest = 0usize;
    for (i, x) in vector.iter().enumerate() {
        if x.abs() > vector[largest].abs() {
            largest = i;
        }
    }
    if vector.get(largest).is_some_and(|&x| x < 0.0) {
        vector.iter_mut().for_each(|x| *x = -*x);
    }
    vector
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn points_on_a_line_have_all_variance_in_the_first_component() {
        // y = 2x: the direction (1, 2)/sqrt(5) carries everything.
        let data = array![[0.0, 0.0], [1.0, 2.0], [2.0, 4.0], [3.0, 6.0]];
        let pca = pca_2d(data.view()).unwrap();
        assert!(close(pca.explained_variance_ratio[0], 1.0, 1e-12));
        assert!(close(pca.explained_variance_ratio[1], 0.0, 1e-12));
        let c = &pca.components[0];
        assert!(close(c[0], 1.0 / 5f64.sqrt(), 1e-12) && close(c[1], 2.0 / 5f64.sqrt(), 1e-12));
        // Mean (1.5, 3); first point projects to -(1.5 + 6)/sqrt(5).
        assert!(close(pca.coords[[0, 0]], -7.5 / 5f64.sqrt(), 1e-12));
        assert!(pca.coords.column(1).iter().all(|x| x.abs() < 1e-12));
    }

    #[test]
    fn two_dimensional_case_matches_hand_computed_eigenvalues() {
        // Rows: (2, 1), (-2, -1), (1, 2), (-1, -2). Mean 0.
        // Sum x^2 = 4+4+1+1 = 10, sum y^2 = 10, sum xy = 2+2+2+2 = 8; covariance = [[10,8],[8,10]]/3.
        // Eigenvalues: (10 +- 8)/3 = 6 and 2/3; eigenvectors (1,1)/sqrt2 and (1,-1)/sqrt2.
        // Ratios: 6 / (20/3) = 0.9 and (2/3)/(20/3) = 0.1.
        let data = array![[2.0, 1.0], [-2.0, -1.0], [1.0, 2.0], [-1.0, -2.0]];
        let pca = pca_2d(data.view()).unwrap();
        assert!(close(pca.explained_variance[0], 6.0, 1e-12));
        assert!(close(pca.explained_variance[1], 2.0 / 3.0, 1e-12));
        assert!(close(pca.explained_variance_ratio[0], 0.9, 1e-12));
        assert!(close(pca.explained_variance_ratio[1], 0.1, 1e-12));
        let h = 1.0 / 2f64.sqrt();
        // Second component: largest |loading| ties between the two entries; the first one is
        // made positive -> (1, -1)/sqrt2. Row (2, 1) projects to (3h, h).
        assert_eq!(pca.components[1].len(), 2);
        assert!(close(pca.components[1][0], h, 1e-12) && close(pca.components[1][1], -h, 1e-12));
        assert!(close(pca.coords[[0, 0]], 3.0 * h, 1e-12));
        assert!(close(pca.coords[[0, 1]], h, 1e-12));
    }

    #[test]
    fn sign_is_fixed_by_the_largest_loading() {
        // Dominant direction mostly along -x in the data; the loading must still be positive.
        let data = array![[-3.0, 0.1], [3.0, -0.1], [-2.9, 0.0], [2.9, 0.0]];
        let pca = pca_2d(data.view()).unwrap();
        assert!(pca.components[0][0] > 0.99);
        let mirrored = data.mapv(|x| -x);
        let pca_mirrored = pca_2d(mirrored.view()).unwrap();
        assert_eq!(pca.components[0], pca_mirrored.components[0]);
    }

    #[test]
    fn one_feature_gives_a_zero_second_component() {
        let data = array![[1.0], [2.0], [4.0]];
        let pca = pca_2d(data.view()).unwrap();
        assert_eq!(pca.explained_variance_ratio, [1.0, 0.0]);
        assert_eq!(pca.components[1], vec![0.0]);
        // Mean 7/3: the first row projects to 1 - 7/3 = -4/3.
        assert!(close(pca.coords[[0, 0]], -4.0 / 3.0, 1e-12));
        assert!(pca.coords.column(1).iter().all(|&x| x == 0.0));
    }

    #[test]
    fn degenerate_inputs_give_defined_results() {
        let one_row = array![[1.0, 2.0, 3.0]];
        let pca = pca_2d(one_row.view()).unwrap();
        assert_eq!(pca.coords, Array2::<f64>::zeros((1, 2)));
        assert_eq!(pca.explained_variance_ratio, [0.0, 0.0]);

        let constant = Array2::from_elem((5, 3), 7.0);
        let pca = pca_2d(constant.view()).unwrap();
        assert_eq!(pca.coords, Array2::<f64>::zeros((5, 2)));
        assert_eq!(pca.explained_variance_ratio, [0.0, 0.0]);

        // A constant column next to a varying one: all variance on the varying one.
        let mixed = array![[5.0, 1.0], [5.0, 2.0], [5.0, 3.0]];
        let pca = pca_2d(mixed.view()).unwrap();
        assert_eq!(pca.explained_variance_ratio, [1.0, 0.0]);
        assert!(close(pca.components[0][1], 1.0, 1e-15));

        assert_eq!(pca_2d(Array2::<f64>::zeros((0, 3)).view()), Err(EmbedError::NoPoints));
        assert_eq!(pca_2d(Array2::<f64>::zeros((3, 0)).view()), Err(EmbedError::NoFeatures));
        let nan = array![[1.0, f64::NAN]];
        assert_eq!(pca_2d(nan.view()), Err(EmbedError::NonFinite { row: 0, column: 1 }));
    }

    #[test]
    fn jacobi_recovers_a_known_spectrum() {
        // Q diag(5, 2, 1) Q^T with Q a rotation about z by 30 degrees then about x by 45.
        let (c, s) = (30f64.to_radians().cos(), 30f64.to_radians().sin());
        let rz = array![[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]];
        let h = 1.0 / 2f64.sqrt();
        let rx = array![[1.0, 0.0, 0.0], [0.0, h, -h], [0.0, h, h]];
        let q = rx.dot(&rz);
        let lambda = Array2::from_diag(&array![5.0, 2.0, 1.0]);
        let a = q.dot(&lambda).dot(&q.t());
        let (values, vectors) = symmetric_eigen(a.clone());
        let mut sorted = values.clone();
        sorted.sort_by(|x, y| y.total_cmp(x));
        for (got, want) in sorted.iter().zip([5.0, 2.0, 1.0]) {
            assert!(close(*got, want, 1e-12), "{got} vs {want}");
        }
        // A v = lambda v for every pair.
        for (k, &value) in values.iter().enumerate() {
            let v = vectors.column(k);
            let residual = &a.dot(&v) - &(&v * value);
            assert!(residual.iter().all(|r| r.abs() < 1e-12));
        }
    }
}
