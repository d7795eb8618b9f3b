//! Seeded K-means: greedy k-means++ initialisation and Lloyd iterations, as scikit-learn's
//! `KMeans(init="k-means++", algorithm="lloyd")`, best of `n_init` runs by inertia; or a single
//! run from given centroids (a sample's, refined on every point).
//!
//! The iterations are Lloyd's, accelerated by Hamerly's bounds ([`super::hamerly`]): the same
//! labels and centroids as plain Lloyd, most points skipping the distance computations once the
//! centroids settle. k-means++ and the assignment of other points ([`assign_nearest`]) compute
//! the distances directly, block by block in parallel: for K of a few dozen
//! at most this costs less than a matrix product `X C^T`, which copies (packs) the rows on every
//! call. Per-block partial sums are combined in block order, so results do not depend on the
//! number of threads; the `n_init` runs are fitted in parallel and the best is kept by (inertia,
//! run number). Convergence: labels unchanged, or the total squared centroid shift at most
//! `1e-4` x the mean feature variance (scikit-learn's `tol`).

use super::silhouette::SilhouetteSummary;
use super::sqdist::sq_dists_to_rows;
use super::{BLOCK_ROWS, ClusterError, derive_seed, hamerly, row_major, seeded_rng, sq_dist};
use crate::pipeline::progress::Progress;
use ndarray::{Array2, ArrayView1, ArrayView2, Axis, CowArray, Ix2};
use rand::Rng;
use rayon::prelude::*;
use std::sync::Mutex;

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
    /// The silhouette of exactly these labels on these points, when the K sweep already
    /// computed it (so it need not be computed again).
    pub silhouette: Option<SilhouetteSummary>,
}

/// Fit K-means with `n_init` seeded runs (at least one, run in parallel) and keep the lowest
/// inertia (the earliest run on ties). Errors: no points, `k` = 0, `k` > n, cancellation.
pub fn kmeans(
    data: ArrayView2<'_, f64>,
    k: usize,
    n_init: usize,
    max_iter: usize,
    seed: u64,
    progress: &Progress,
) -> Result<KMeansFit, ClusterError> {
    check_k(data.nrows(), k)?;
    let points = KMeansPoints::new(data);
    let runs = n_init.max(1);
    let done = Mutex::new(0usize);
    let run_done = || {
        if let Ok(mut done) = done.lock() {
            *done += 1;
            progress.update(*done as f64 / runs as f64, format!("K={k}: {done} of {runs} runs"));
        }
    };
    points.best_of_runs(k, runs, seed, max_iter, progress, &run_done)
}

/// Points prepared once for any number of K-means runs on them: C-contiguous rows and the
/// convergence tolerance.
pub(crate) struct KMeansPoints<'a> {
    x: CowArray<'a, f64, Ix2>,
    tol: f64,
}

impl<'a> KMeansPoints<'a> {
    pub(crate) fn new(data: ArrayView2<'a, f64>) -> Self {
        let x = row_major(data);
        let tol = TOL * mean_variance(x.view());
        KMeansPoints { x, tol }
    }

    /// Run number `run` of K-means with `k` clusters: k-means++ from the random stream of
    /// (`seed`, `k`, `run`), then Lloyd. Only reads `progress`'s cancel flag.
    pub(crate) fn run(
        &self,
        k: usize,
        seed: u64,
        run: usize,
        max_iter: usize,
        progress: &Progress,
    ) -> Result<KMeansFit, ClusterError> {
        check_k(self.x.nrows(), k)?;
        progress.check_cancel()?;
        let mut rng = seeded_rng(derive_seed(seed, &[k as u64, run as u64]));
        let init = kmeans_plus_plus(self.x.view(), k, &mut rng);
        lloyd(self.x.view(), init, max_iter.max(1), self.tol, progress)
    }

    /// The best of runs `0..runs` (lowest inertia, the earliest run on ties), the runs fitted in
    /// parallel; `run_done` is called as each run finishes. The result does not depend on the
    /// number of threads or the order the runs finish in.
    pub(crate) fn best_of_runs(
        &self,
        k: usize,
        runs: usize,
        seed: u64,
        max_iter: usize,
        progress: &Progress,
        run_done: &(dyn Fn() + Sync),
    ) -> Result<KMeansFit, ClusterError> {
        (0..runs.max(1))
            .into_par_iter()
            .map(|run| {
                let fit = self.run(k, seed, run, max_iter, progress)?;
                run_done();
                Ok((run, fit))
            })
            .try_reduce_with(|a, b| Ok(better_run(a, b)))
            .unwrap_or(Err(ClusterError::Empty))
            .map(|(_, fit)| fit)
    }
}

/// Of two numbered runs, the one with the lower inertia; the earlier one on ties.
fn better_run(a: (usize, KMeansFit), b: (usize, KMeansFit)) -> (usize, KMeansFit) {
    let key = |r: &(usize, KMeansFit)| (r.1.inertia, r.0);
    match key(&a).0.total_cmp(&key(&b).0).then(key(&a).1.cmp(&key(&b).1)) {
        std::cmp::Ordering::Greater => b,
        _ => a,
    }
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
    let points = KMeansPoints::new(data);
    lloyd(points.x.view(), centroids, max_iter.max(1), points.tol, progress)
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
    let c = centroids.as_standard_layout();
    let labels = nearest_labels(x, c.view());
    let dist = labels
        .par_iter()
        .enumerate()
        .with_min_len(BLOCK_ROWS)
        .map(|(i, &l)| exact_sq_dist(x.row(i), c.row(l)).sqrt())
        .collect();
    (labels, dist)
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

/// The row ranges of the parallel blocks.
fn blocks(n: usize) -> impl IndexedParallelIterator<Item = (usize, usize)> {
    (0..n.div_ceil(BLOCK_ROWS))
        .into_par_iter()
        .map(move |b| (b * BLOCK_ROWS, ((b + 1) * BLOCK_ROWS).min(n)))
}

/// Nearest centroid of every row (ties: the lowest index), the labels of [`assign_nearest`]
/// without the distances. Direct distances: for K of a few dozen at most, a loop over the
/// centroids costs less than a matrix product, which would copy (pack) the rows on every call.
pub fn nearest_labels(data: ArrayView2<'_, f64>, centroids: ArrayView2<'_, f64>) -> Vec<usize> {
    if centroids.nrows() == 0 {
        return vec![0; data.nrows()];
    }
    let (x, c) = (row_major(data), row_major(centroids));
    let (xs, cs, d) = (x.as_slice().unwrap_or(&[]), c.as_slice().unwrap_or(&[]), x.ncols());
    let parts: Vec<Vec<usize>> = blocks(x.nrows())
        .map(|(a, b)| (a..b).map(|i| nearest(&xs[i * d..(i + 1) * d], cs, d)).collect())
        .collect();
    parts.concat()
}

/// Centroids whose distances [`nearest`] computes in one call of the kernel.
const CENTROID_BATCH: usize = 16;

/// Index of the centroid (rows of `cs`, `d` wide) nearest to `row`; the lowest on ties.
fn nearest(row: &[f64], cs: &[f64], d: usize) -> usize {
    let mut best = (0, f64::INFINITY);
    let mut dist = [0.0; CENTROID_BATCH];
    for (b, batch) in cs.chunks(CENTROID_BATCH * d.max(1)).enumerate() {
        let dist = &mut dist[..batch.len() / d.max(1)];
        sq_dists_to_rows(row, batch, dist);
        for (o, &v) in dist.iter().enumerate() {
            if v < best.1 {
                best = (b * CENTROID_BATCH + o, v);
            }
        }
    }
    best.0
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
    let (centroids, labels, n_iter) = (done.centroids, done.labels, done.n_iter);
    Ok(KMeansFit { centroids, labels, inertia, n_iter, silhouette: None })
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
fn kmeans_plus_plus(x: ArrayView2<'_, f64>, k: usize, rng: &mut impl Rng) -> Array2<f64> {
    let (n, d) = x.dim();
    let xs = x.as_slice().unwrap_or(&[]);
    let mut centers = Array2::zeros((k, d));
    let first = rng.gen_range(0..n);
    centers.row_mut(0).assign(&x.row(first));
    let mut closest = candidate_distances(xs, d, &[first], &vec![f64::INFINITY; n]).0.remove(0);
    let trials = 2 + (k as f64).ln().floor() as usize;
    let mut potential: f64 = ordered_sum(&closest);
    let mut cumulative = vec![0.0; n];
    for c in 1..k {
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
        let (cand_d2, pots) = candidate_distances(xs, d, &candidates, &closest);
        let best = (0..trials).fold(0, |b, t| if pots[t] < pots[b] { t } else { b });
        closest.iter_mut().zip(&cand_d2[best]).for_each(|(a, b)| *a = a.min(*b));
        potential = pots[best];
        centers.row_mut(c).assign(&x.row(candidates[best]));
    }
    centers
}

/// Sum in a fixed order of blocks (so it does not depend on threads).
fn ordered_sum(v: &[f64]) -> f64 {
    v.chunks(BLOCK_ROWS).map(|c| c.iter().sum::<f64>()).sum()
}

/// Squared distances from every row of `xs` (row-major, `d` wide) to each of the rows `ids`, one
/// vector per id; and per id the potential it would leave, the sum over rows of min(`closest`,
/// its distance), block by block in the order of [`ordered_sum`].
fn candidate_distances(
    xs: &[f64],
    d: usize,
    ids: &[usize],
    closest: &[f64],
) -> (Vec<Vec<f64>>, Vec<f64>) {
    let n = closest.len();
    let parts: Vec<(Vec<Vec<f64>>, Vec<f64>)> = blocks(n)
        .map(|(a, b)| {
            let d2: Vec<Vec<f64>> = ids
                .iter()
                .map(|&id| {
                    let mut out = vec![0.0; b - a];
                    sq_dists_to_rows(&xs[id * d..(id + 1) * d], &xs[a * d..b * d], &mut out);
                    out
                })
                .collect();
            let near = &closest[a..b];
            let pots = d2
                .iter()
                .map(|v| near.iter().zip(v).map(|(x, y)| x.min(*y)).sum::<f64>())
                .collect();
            (d2, pots)
        })
        .collect();
    let distances: Vec<Vec<f64>> = (0..ids.len())
        .map(|t| parts.iter().flat_map(|p| p.0[t].iter().copied()).collect())
        .collect();
    let potentials: Vec<f64> = (0..ids.len()).map(|t| parts.iter().map(|p| p.1[t]).sum()).collect();
    (distances, potentials)
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
    fn parallel_runs_keep_the_earliest_lowest_inertia_run() {
        // Overlapping blobs and K above the planted 5: the runs reach different optima.
        let (x, _) = synthetic_blobs(3000, 6, 5, 5.0, 17);
        let points = KMeansPoints::new(x.view());
        let none = Progress::none();
        let runs: Vec<KMeansFit> =
            (0..6).map(|r| points.run(8, 5, r, 300, &none).unwrap()).collect();
        let best = (0..6).fold(0, |b, r| if runs[r].inertia < runs[b].inertia { r } else { b });
        assert!(runs.iter().any(|f| f.inertia > runs[best].inertia), "every run alike");
        for threads in [1, 2] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let fit = pool.install(|| kmeans(x.view(), 8, 6, 300, 5, &none)).unwrap();
            assert_eq!(fit, runs[best], "{threads} threads");
        }
        // Equal inertia: the earlier run.
        let (a, b) = (runs[0].clone(), KMeansFit { labels: vec![], ..runs[0].clone() });
        assert_eq!(better_run((4, b.clone()), (2, a.clone())).0, 2);
        assert_eq!(better_run((2, a), (4, b)).0, 2);
    }

    #[test]
    fn nearest_centroid_by_direct_distances() {
        // Centroids 0, 4, 4 (a duplicate) and 10 on a line: 1.9 -> 0, 2.1 -> 1 (not its twin 2),
        // 7.5 -> 3; 2.0 is equally far from 0 and 4: the lower index.
        let c = array![[0.0, 0.0], [4.0, 0.0], [4.0, 0.0], [10.0, 0.0]];
        let x = array![[1.9, 0.0], [2.1, 0.0], [7.5, 0.0], [2.0, 0.0]];
        let (labels, dist) = assign_nearest(x.view(), c.view());
        assert_eq!(labels, vec![0, 1, 3, 0]);
        assert!((dist[2] - 2.5).abs() < 1e-12);
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
