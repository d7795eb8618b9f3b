//! Seeded K-means: greedy k-means++ initialisation and Lloyd iterations, as scikit-learn's
//! `KMeans(init="k-means++", algorithm="lloyd")`, best of `n_init` runs by inertia; or a single
//! run from given centroids (a sample's, refined on every point).
//!
//! The iterations are Lloyd's, accelerated by Hamerly's bounds ([`super::hamerly`]): the same
//! labels and centroids as plain Lloyd, most points skipping the distance computations once the
//! centroids settle. k-means++ and the final assignment of other points ([`assign_nearest`]) use
//! a matrix product `X C^T` done block by block in parallel by ndarray's optimised GEMM, with
//! squared distances `|x|^2 - 2 x.c + |c|^2`, as scikit-learn does. Per-block partial sums are
//! combined in block order, so results do not depend on the number of threads. Convergence:
//! labels unchanged, or the total squared centroid shift at most `1e-4` x the mean feature
//! variance (scikit-learn's `tol`).

use super::{BLOCK_ROWS, ClusterError, derive_seed, hamerly, row_major, seeded_rng, sq_dist};
use crate::pipeline::progress::Progress;
use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, ArrayView1, ArrayView2, Axis, s};
use rand::Rng;
use rayon::prelude::*;

/// scikit-learn's default relative tolerance on the centroid shift.
const TOL: f64 = 1e-4;

/// One fitted K-means model.
#[derive(Debug, Clone, PartialEq)]
pub struct KMeansFit {
    /// K x d centroids.
    pub centroids: Array2<f64>,
    /// Nearest centroid of every point.
    pub labels: Vec<usize>,
    /// Sum of squared distances of the points to their nearest centroid.
    pub inertia: f64,
    /// Lloyd iterations of the kept run.
    pub n_iter: usize,
}

/// Fit K-means with `n_init` seeded runs (at least one) and keep the lowest inertia (the
/// earliest run on ties). Errors: no points, `k` = 0, `k` > n, cancellation.
pub fn kmeans(
    data: ArrayView2<'_, f64>,
    k: usize,
    n_init: usize,
    max_iter: usize,
    seed: u64,
    progress: &Progress,
) -> Result<KMeansFit, ClusterError> {
    check_k(data.nrows(), k)?;
    let x = row_major(data);
    let x = x.view();
    let norms = row_sq_norms(x);
    let tol = TOL * mean_variance(x);
    let runs = n_init.max(1);
    let mut best: Option<KMeansFit> = None;
    for run in 0..runs {
        progress.check_cancel()?;
        let mut rng = seeded_rng(derive_seed(seed, &[k as u64, run as u64]));
        let init = kmeans_plus_plus(x, &norms, k, &mut rng);
        let fit = lloyd(x, init, max_iter.max(1), tol, progress)?;
        if best.as_ref().is_none_or(|b| fit.inertia < b.inertia) {
            best = Some(fit);
        }
        progress
            .update((run + 1) as f64 / runs as f64, format!("K={k}: run {} of {runs}", run + 1));
    }
    best.ok_or(ClusterError::Empty)
}

/// One K-means run from the given centroids (K = their rows), e.g. a sample's centroids refined
/// on every point.
pub fn kmeans_from(
    data: ArrayView2<'_, f64>,
    centroids: Array2<f64>,
    max_iter: usize,
    progress: &Progress,
) -> Result<KMeansFit, ClusterError> {
    check_k(data.nrows(), centroids.nrows())?;
    let x = row_major(data);
    let tol = TOL * mean_variance(x.view());
    lloyd(x.view(), centroids, max_iter.max(1), tol, progress)
}

fn check_k(n: usize, k: usize) -> Result<(), ClusterError> {
    if n == 0 {
        return Err(ClusterError::Empty);
    }
    if k == 0 {
        return Err(ClusterError::BadK { k, n });
    }
    if k > n {
        return Err(ClusterError::TooFewPoints { n, k });
    }
    Ok(())
}

/// Nearest centroid of every row and the Euclidean distance to it (ties: lowest centroid).
/// With no centroids every label is 0 and every distance infinite.
pub fn assign_nearest(
    data: ArrayView2<'_, f64>,
    centroids: ArrayView2<'_, f64>,
) -> (Vec<usize>, Vec<f64>) {
    if centroids.nrows() == 0 {
        return (vec![0; data.nrows()], vec![f64::INFINITY; data.nrows()]);
    }
    let x = row_major(data);
    let x = x.view();
    let norms = row_sq_norms(x);
    let c = centroids.as_standard_layout();
    let labels = assign_labels(x, &norms, c.view());
    let dist = labels
        .par_iter()
        .enumerate()
        .with_min_len(BLOCK_ROWS)
        .map(|(i, &l)| exact_sq_dist(x.row(i), c.row(l)).sqrt())
        .collect();
    (labels, dist)
}

/// Sum of squared row norms, per row, in parallel.
pub(crate) fn row_sq_norms(x: ArrayView2<'_, f64>) -> Vec<f64> {
    x.axis_iter(Axis(0)).into_par_iter().with_min_len(BLOCK_ROWS).map(|r| r.dot(&r)).collect()
}

fn exact_sq_dist(a: ArrayView1<'_, f64>, b: ArrayView1<'_, f64>) -> f64 {
    match (a.as_slice(), b.as_slice()) {
        (Some(a), Some(b)) => sq_dist(a, b),
        _ => a.iter().zip(b).map(|(p, q)| (p - q) * (p - q)).sum(),
    }
}

/// Mean over features of the population variance (scikit-learn's scale for `tol`).
fn mean_variance(x: ArrayView2<'_, f64>) -> f64 {
    if x.nrows() == 0 || x.ncols() == 0 {
        return 0.0;
    }
    x.var_axis(Axis(0), 0.0).mean().unwrap_or(0.0)
}

/// Squared distances from a block of rows to every centroid: `|x|^2 - 2 x.c + |c|^2`, >= 0.
fn block_sq_distances(
    block: ArrayView2<'_, f64>,
    block_norms: &[f64],
    c: ArrayView2<'_, f64>,
    c_norms: &[f64],
) -> Array2<f64> {
    let g = block.dot(&c.t());
    let mut g = if g.is_standard_layout() { g } else { g.as_standard_layout().into_owned() };
    let k = c_norms.len();
    if let Some(values) = g.as_slice_mut() {
        for (row, &xn) in values.chunks_mut(k.max(1)).zip(block_norms) {
            for (v, &cn) in row.iter_mut().zip(c_norms) {
                *v = (xn - 2.0 * *v + cn).max(0.0);
            }
        }
    }
    g
}

/// The row ranges of the parallel blocks.
fn blocks(n: usize) -> impl IndexedParallelIterator<Item = (usize, usize)> {
    (0..n.div_ceil(BLOCK_ROWS))
        .into_par_iter()
        .map(move |b| (b * BLOCK_ROWS, ((b + 1) * BLOCK_ROWS).min(n)))
}

/// Nearest centroid and squared distance for each row of a block, from one matrix product:
/// argmin over j of |c_j|^2 - 2 x.c_j (the row's |x|^2 is the same for every j).
fn nearest_in_block(
    block: ArrayView2<'_, f64>,
    block_norms: &[f64],
    c: ArrayView2<'_, f64>,
    c_norms: &[f64],
) -> Vec<(usize, f64)> {
    let k = c_norms.len();
    let mut g = Array2::zeros((block.nrows(), k));
    general_mat_mul(1.0, &block, &c.t(), 0.0, &mut g);
    let values = g.as_slice().unwrap_or(&[]);
    values
        .chunks_exact(k.max(1))
        .zip(block_norms)
        .map(|(row, &xn)| {
            let mut best = (0, f64::INFINITY);
            for (j, (&dot, &cn)) in row.iter().zip(c_norms).enumerate() {
                let v = cn - 2.0 * dot;
                if v < best.1 {
                    best = (j, v);
                }
            }
            (best.0, (xn + best.1).max(0.0))
        })
        .collect()
}

fn assign_labels(x: ArrayView2<'_, f64>, norms: &[f64], c: ArrayView2<'_, f64>) -> Vec<usize> {
    let c_norms = row_sq_norms(c);
    let parts: Vec<Vec<usize>> = blocks(x.nrows())
        .map(|(a, b)| {
            nearest_in_block(x.slice(s![a..b, ..]), &norms[a..b], c, &c_norms)
                .into_iter()
                .map(|(l, _)| l)
                .collect()
        })
        .collect();
    parts.concat()
}

/// Lloyd iterations from `centroids` (Hamerly-accelerated, see [`super::hamerly`]); returns the
/// final labels and exact inertia.
fn lloyd(
    x: ArrayView2<'_, f64>,
    centroids: Array2<f64>,
    max_iter: usize,
    tol: f64,
    progress: &Progress,
) -> Result<KMeansFit, ClusterError> {
    let done = hamerly::iterate(x, centroids, max_iter, tol, progress)?;
    let inertia = inertia_of(x, &done.labels, done.centroids.view());
    Ok(KMeansFit { centroids: done.centroids, labels: done.labels, inertia, n_iter: done.n_iter })
}

/// Exact sum of squared distances to the assigned centroids, summed block by block in order.
pub(crate) fn inertia_of(x: ArrayView2<'_, f64>, labels: &[usize], c: ArrayView2<'_, f64>) -> f64 {
    let parts: Vec<f64> = blocks(x.nrows())
        .map(|(a, b)| (a..b).map(|i| exact_sq_dist(x.row(i), c.row(labels[i]))).sum::<f64>())
        .collect();
    parts.iter().sum()
}

/// Greedy k-means++ (scikit-learn's `_kmeans_plusplus`): the first centre uniformly at random;
/// each next one is the best, by resulting potential, of `2 + ln k` candidates drawn with
/// probability proportional to the squared distance to the nearest centre so far.
fn kmeans_plus_plus(
    x: ArrayView2<'_, f64>,
    norms: &[f64],
    k: usize,
    rng: &mut impl Rng,
) -> Array2<f64> {
    let (n, d) = x.dim();
    let mut centers = Array2::zeros((k, d));
    let first = rng.gen_range(0..n);
    centers.row_mut(0).assign(&x.row(first));
    let closest = sq_distances_to(x, norms, &[first]).remove(0);
    add_plus_plus_centres(x, norms, centers, 1, closest, rng)
}

/// Fill rows `from..` of `centers` by the greedy k-means++ rule, `closest` holding every point's
/// squared distance to the nearest of the first `from` centres.
fn add_plus_plus_centres(
    x: ArrayView2<'_, f64>,
    norms: &[f64],
    mut centers: Array2<f64>,
    from: usize,
    mut closest: Vec<f64>,
    rng: &mut impl Rng,
) -> Array2<f64> {
    let n = x.nrows();
    let k = centers.nrows();
    let trials = 2 + (k as f64).ln().floor() as usize;
    let mut potential: f64 = ordered_sum(&closest);
    let mut cumulative = vec![0.0; n];
    for c in from..k {
        let mut acc = 0.0;
        for (cum, v) in cumulative.iter_mut().zip(&closest) {
            acc += v;
            *cum = acc;
        }
        let candidates: Vec<usize> = (0..trials)
            .map(|_| {
                let r = rng.r#gen::<f64>() * potential;
                cumulative.partition_point(|&v| v < r).min(n - 1)
            })
            .collect();
        let cand_d2 = sq_distances_to(x, norms, &candidates);
        let pots: Vec<f64> = cand_d2.iter().map(|d2| potential_with(&closest, d2)).collect();
        let best = (0..trials).fold(0, |b, t| if pots[t] < pots[b] { t } else { b });
        closest.iter_mut().zip(&cand_d2[best]).for_each(|(a, b)| *a = a.min(*b));
        potential = pots[best];
        centers.row_mut(c).assign(&x.row(candidates[best]));
    }
    centers
}

/// Sum of min(closest, d2) over the points, in the block order of [`ordered_sum`].
fn potential_with(closest: &[f64], d2: &[f64]) -> f64 {
    closest
        .chunks(BLOCK_ROWS)
        .zip(d2.chunks(BLOCK_ROWS))
        .map(|(a, b)| a.iter().zip(b).map(|(x, y)| x.min(*y)).sum::<f64>())
        .sum()
}

/// Sum in a fixed order of blocks (so it does not depend on threads).
fn ordered_sum(v: &[f64]) -> f64 {
    v.chunks(BLOCK_ROWS).map(|c| c.iter().sum::<f64>()).sum()
}

/// Squared distances from every row to each of the rows `ids`, one vector per id.
fn sq_distances_to(x: ArrayView2<'_, f64>, norms: &[f64], ids: &[usize]) -> Vec<Vec<f64>> {
    let c = x.select(Axis(0), ids);
    let c_norms: Vec<f64> = ids.iter().map(|&i| norms[i]).collect();
    let parts: Vec<Array2<f64>> = blocks(x.nrows())
        .map(|(a, b)| block_sq_distances(x.slice(s![a..b, ..]), &norms[a..b], c.view(), &c_norms))
        .collect();
    (0..c.nrows()).map(|j| parts.iter().flat_map(|p| p.column(j).to_vec()).collect()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::cluster::metrics::adjusted_rand_index;
    use crate::pipeline::cluster::synthetic::synthetic_blobs;
    use ndarray::array;

    #[test]
    fn recovers_planted_blobs() {
        let (x, truth) = synthetic_blobs(2000, 10, 5, 1.0, 11);
        let fit = kmeans(x.view(), 5, 4, 300, 42, &Progress::none()).unwrap();
        assert_eq!(adjusted_rand_index(&fit.labels, &truth), 1.0);
        // Inertia is about n * d * spread^2 = 2000 * 10 * 1 = 20000 (within 5%).
        assert!((fit.inertia / 20000.0 - 1.0).abs() < 0.05, "{}", fit.inertia);
        let (labels, dist) = assign_nearest(x.view(), fit.centroids.view());
        assert_eq!(labels, fit.labels);
        let sum_sq: f64 = dist.iter().map(|d| d * d).sum();
        assert!((sum_sq - fit.inertia).abs() < 1e-6 * fit.inertia);
    }

    #[test]
    fn hand_computed_two_means() {
        // 1-D points 0, 1, 10, 11 with K=2: centroids 0.5 and 10.5, inertia 4 * 0.25 = 1.
        let x = array![[0.0], [1.0], [10.0], [11.0]];
        let fit = kmeans(x.view(), 2, 3, 100, 1, &Progress::none()).unwrap();
        let mut c: Vec<f64> = fit.centroids.column(0).to_vec();
        c.sort_by(f64::total_cmp);
        assert_eq!(c, vec![0.5, 10.5]);
        assert!((fit.inertia - 1.0).abs() < 1e-12);
        assert_eq!(fit.labels[0], fit.labels[1]);
        assert_ne!(fit.labels[1], fit.labels[2]);
        // assign_nearest: 5.4 is nearer 0.5 (4.9) than 10.5 (5.1).
        let (l, d) = assign_nearest(array![[5.4]].view(), fit.centroids.view());
        assert_eq!(fit.centroids[[l[0], 0]], 0.5);
        assert!((d[0] - 4.9).abs() < 1e-12);
    }

    #[test]
    fn fits_from_given_centroids() {
        // 1-D points 0, 1, 2, 10, 11 from centroids 0 and 1: {0} {1, 2, 10, 11} (0 and 6), then
        // {0, 1, 2} {10, 11}: centroids 1 and 10.5, inertia 1 + 0 + 1 + 0.25 + 0.25 = 2.5.
        let x = array![[0.0], [1.0], [2.0], [10.0], [11.0]];
        let fit = kmeans_from(x.view(), array![[0.0], [1.0]], 100, &Progress::none()).unwrap();
        assert_eq!(fit.centroids, array![[1.0], [10.5]]);
        assert_eq!(fit.labels, vec![0, 0, 0, 1, 1]);
        assert!((fit.inertia - 2.5).abs() < 1e-12);
        // max_iter 1: one Lloyd step from the start, labels then reassigned to its centroids.
        let one = kmeans_from(x.view(), array![[0.0], [1.0]], 1, &Progress::none()).unwrap();
        assert_eq!(one.centroids, array![[0.0], [6.0]]);
        assert_eq!(one.labels, vec![0, 0, 0, 1, 1]);
        let too_many = Array2::zeros((6, 1));
        assert!(matches!(
            kmeans_from(x.view(), too_many, 10, &Progress::none()),
            Err(ClusterError::TooFewPoints { n: 5, k: 6 })
        ));
    }

    #[test]
    fn deterministic_and_degenerate() {
        let (x, _) = synthetic_blobs(1500, 6, 4, 3.0, 5);
        let a = kmeans(x.view(), 6, 3, 100, 9, &Progress::none()).unwrap();
        let b = kmeans(x.view(), 6, 3, 100, 9, &Progress::none()).unwrap();
        assert_eq!(a, b);
        let empty = Array2::<f64>::zeros((0, 3));
        assert_eq!(kmeans(empty.view(), 2, 1, 10, 0, &Progress::none()), Err(ClusterError::Empty));
        let two = Array2::<f64>::zeros((2, 3));
        assert_eq!(
            kmeans(two.view(), 3, 1, 10, 0, &Progress::none()),
            Err(ClusterError::TooFewPoints { n: 2, k: 3 })
        );
        // All points identical: a defined fit with inertia 0.
        let same = Array2::from_elem((50, 3), 2.0);
        let fit = kmeans(same.view(), 3, 2, 10, 0, &Progress::none()).unwrap();
        assert_eq!(fit.inertia, 0.0);
        assert_eq!(fit.labels.len(), 50);
    }
}
