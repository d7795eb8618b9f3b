//! Exact DBSCAN (scikit-learn semantics), parallel, in O(n) memory.
//!
//! Semantics, as `sklearn.cluster.DBSCAN(metric="euclidean")`:
//! - the neighbourhood of a point is every point at distance <= eps, the point itself included;
//! - a point is core when its neighbourhood has at least `min_samples` points;
//! - clusters are the connected components of core points (two cores within eps are linked);
//! - a non-core point within eps of a core point is a border point and joins the cluster that
//!   scikit-learn's expansion reaches first; every other point is noise (-1).
//!
//! scikit-learn starts a cluster at each unlabelled core point in index order and expands it
//! completely before the next one, so clusters are numbered in order of their lowest core point
//! index, and a border point gets the lowest cluster number among its core neighbours. We
//! reproduce exactly that labelling (not only up to renaming) with three parallel passes that
//! never store a neighbourhood:
//! 1. core flags: count neighbours over the ball tree, stopping at `min_samples`;
//! 2. components: every core point re-queries its neighbourhood and unites itself with its core
//!    neighbours in a lock-free union-find whose root is always the lowest index, so the result
//!    does not depend on thread scheduling;
//! 3. borders: every non-core point takes the lowest root among its core neighbours.

use super::balltree::BallTree;
use super::{BLOCK_ROWS, flat, row_major};
use crate::pipeline::progress::{Cancelled, Progress};
use ndarray::ArrayView2;
use rayon::prelude::*;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The outcome of one DBSCAN run.
#[derive(Debug, Clone, PartialEq)]
pub struct DbscanResult {
    /// Cluster per point, 0.. in order of the cluster's lowest core point index; -1 = noise.
    pub labels: Vec<i32>,
    pub n_clusters: usize,
    pub noise_count: usize,
    pub is_core: Vec<bool>,
}

impl DbscanResult {
    /// Share of points labelled noise (0 for no points).
    pub fn noise_ratio(&self) -> f64 {
        if self.labels.is_empty() {
            0.0
        } else {
            self.noise_count as f64 / self.labels.len() as f64
        }
    }
}

/// Run DBSCAN on the rows of `data`. A NaN or negative `eps` is treated as 0 (only exact
/// duplicates are neighbours); `min_samples` 0 or 1 makes every point core.
pub fn dbscan(
    data: ArrayView2<'_, f64>,
    eps: f64,
    min_samples: usize,
    progress: &Progress,
) -> Result<DbscanResult, Cancelled> {
    let eps = if eps >= 0.0 { eps } else { 0.0 };
    let x = row_major(data);
    let tree = BallTree::build(flat(&x), data.ncols());
    progress.update(0.05, "DBSCAN: index built");
    dbscan_on_tree(&tree, eps, min_samples, progress)
}

/// DBSCAN over an already built tree (the k-distance step shares it).
pub(crate) fn dbscan_on_tree(
    tree: &BallTree,
    eps: f64,
    min_samples: usize,
    progress: &Progress,
) -> Result<DbscanResult, Cancelled> {
    let n = tree.len();
    let is_core = core_flags(tree, eps, min_samples, progress)?;
    let parent: Vec<AtomicUsize> = (0..n).map(AtomicUsize::new).collect();
    link_core_points(tree, eps, &is_core, &parent, progress)?;
    let roots: Vec<usize> = (0..n).map(|i| find(&parent, i)).collect();
    let (core_label, n_clusters) = number_clusters(&is_core, &roots);
    let labels = label_points(tree, eps, &is_core, &roots, &core_label, progress)?;
    let noise_count = labels.iter().filter(|&&l| l < 0).count();
    progress.update(1.0, format!("DBSCAN: {n_clusters} clusters, {noise_count} noise points"));
    Ok(DbscanResult { labels, n_clusters, noise_count, is_core })
}

/// Run `per_point(tree position)` over every point in parallel, block by block, checking for
/// cancellation between blocks and reporting progress between `from` and `to`.
fn for_all_points<T: Send>(
    tree: &BallTree,
    progress: &Progress,
    (from, to, what): (f64, f64, &str),
    per_point: impl Fn(usize) -> T + Sync + Send,
) -> Result<Vec<T>, Cancelled> {
    let n = tree.len();
    let mut out = Vec::with_capacity(n);
    let step = BLOCK_ROWS * 8;
    for start in (0..n).step_by(step) {
        progress.check_cancel()?;
        let end = (start + step).min(n);
        out.par_extend((start..end).into_par_iter().with_min_len(64).map(&per_point));
        progress.update(from + (to - from) * end as f64 / n as f64, what.to_string());
    }
    Ok(out)
}

/// Pass 1: `is_core[i]` for every original index `i`.
fn core_flags(
    tree: &BallTree,
    eps: f64,
    min_samples: usize,
    progress: &Progress,
) -> Result<Vec<bool>, Cancelled> {
    let by_position =
        for_all_points(tree, progress, (0.05, 0.35, "DBSCAN: finding core points"), |t| {
            tree.count_within(tree.point(t), eps, min_samples) >= min_samples
        })?;
    let mut is_core = vec![false; tree.len()];
    for (t, core) in by_position.into_iter().enumerate() {
        is_core[tree.original_index(t)] = core;
    }
    Ok(is_core)
}

/// Pass 2: unite every core point with its core neighbours.
fn link_core_points(
    tree: &BallTree,
    eps: f64,
    is_core: &[bool],
    parent: &[AtomicUsize],
    progress: &Progress,
) -> Result<(), Cancelled> {
    for_all_points(tree, progress, (0.35, 0.8, "DBSCAN: linking core points"), |t| {
        let i = tree.original_index(t);
        if is_core[i] {
            tree.for_each_within(tree.point(t), eps, |j| {
                if j < i && is_core[j] {
                    union(parent, i, j);
                }
            });
        }
    })?;
    Ok(())
}

/// Cluster number of every core point's root, numbered by increasing root (= lowest core index).
fn number_clusters(is_core: &[bool], roots: &[usize]) -> (Vec<i32>, usize) {
    let mut label_of_root = vec![-1i32; roots.len()];
    let mut next = 0i32;
    for i in 0..roots.len() {
        if is_core[i] && roots[i] == i {
            label_of_root[i] = next;
            next += 1;
        }
    }
    (label_of_root, next.max(0) as usize)
}

/// Pass 3: final labels; a non-core point takes the lowest cluster among its core neighbours.
fn label_points(
    tree: &BallTree,
    eps: f64,
    is_core: &[bool],
    roots: &[usize],
    label_of_root: &[i32],
    progress: &Progress,
) -> Result<Vec<i32>, Cancelled> {
    let by_position =
        for_all_points(tree, progress, (0.8, 1.0, "DBSCAN: labelling border points"), |t| {
            let i = tree.original_index(t);
            if is_core[i] {
                return label_of_root[roots[i]];
            }
            let mut best = usize::MAX;
            tree.for_each_within(tree.point(t), eps, |j| {
                if is_core[j] {
                    best = best.min(roots[j]);
                }
            });
            if best == usize::MAX { -1 } else { label_of_root[best] }
        })?;
    let mut labels = vec![-1; tree.len()];
    for (t, l) in by_position.into_iter().enumerate() {
        labels[tree.original_index(t)] = l;
    }
    Ok(labels)
}

/// Root of `x` with path halving; concurrent callers only ever shorten paths.
fn find(parent: &[AtomicUsize], mut x: usize) -> usize {
    loop {
        let p = parent[x].load(Ordering::Acquire);
        if p == x {
            return x;
        }
        let gp = parent[p].load(Ordering::Acquire);
        if gp != p {
            let _ = parent[x].compare_exchange_weak(p, gp, Ordering::AcqRel, Ordering::Relaxed);
        }
        x = gp;
    }
}

/// Lock-free union: the higher root is linked under the lower one, so every root is the lowest
/// index of its set whatever the interleaving.
fn union(parent: &[AtomicUsize], a: usize, b: usize) {
    let (mut a, mut b) = (a, b);
    loop {
        a = find(parent, a);
        b = find(parent, b);
        if a == b {
            return;
        }
        let (hi, lo) = if a > b { (a, b) } else { (b, a) };
        if parent[hi].compare_exchange(hi, lo, Ordering::AcqRel, Ordering::Acquire).is_ok() {
            return;
        }
    }
}

/// DBSCAN on a small sample for an instant preview of a dragged eps: (noise share, clusters).
///
/// The sample is sparser than the full data, so at the same eps it shows somewhat more noise;
/// [`super::core_share_at`] on the full k-distance curve gives the exact share of core points.
pub fn preview_dbscan(
    sample_data: ArrayView2<'_, f64>,
    eps: f64,
    min_samples: usize,
) -> (f64, usize) {
    match dbscan(sample_data, eps, min_samples, &Progress::none()) {
        Ok(r) => (r.noise_ratio(), r.n_clusters),
        Err(Cancelled) => (f64::NAN, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::cluster::sq_dist;
    use crate::pipeline::cluster::synthetic::synthetic_blobs;
    use ndarray::{Array2, array};
    use rand::Rng;

    fn run(x: &Array2<f64>, eps: f64, min_samples: usize) -> DbscanResult {
        dbscan(x.view(), eps, min_samples, &Progress::none()).unwrap()
    }

    /// scikit-learn's algorithm transcribed literally: all neighbourhoods stored, clusters
    /// expanded depth-first from each unlabelled core point in index order.
    fn sklearn_reference(x: &Array2<f64>, eps: f64, min_samples: usize) -> (Vec<i32>, Vec<bool>) {
        let n = x.nrows();
        let neigh: Vec<Vec<usize>> = (0..n)
            .map(|i| {
                (0..n)
                    .filter(|&j| {
                        sq_dist(x.row(i).as_slice().unwrap(), x.row(j).as_slice().unwrap())
                            <= eps * eps
                    })
                    .collect()
            })
            .collect();
        let core: Vec<bool> = neigh.iter().map(|v| v.len() >= min_samples).collect();
        let mut labels = vec![-1i32; n];
        let mut next = 0;
        for i in 0..n {
            if labels[i] != -1 || !core[i] {
                continue;
            }
            let mut stack = vec![i];
            while let Some(p) = stack.pop() {
                if labels[p] == -1 {
                    labels[p] = next;
                    if core[p] {
                        stack.extend(neigh[p].iter().copied().filter(|&v| labels[v] == -1));
                    }
                }
            }
            next += 1;
        }
        (labels, core)
    }

    #[test]
    fn equals_sklearn_reference_on_random_data() {
        for seed in 0..4u64 {
            let mut rng = crate::pipeline::cluster::seeded_rng(seed);
            let (mut x, _) = synthetic_blobs(400, 4, 3, 1.0, seed);
            // Sprinkle uniform points so there are borders and noise.
            for i in 0..80 {
                for j in 0..4 {
                    x[[i * 5, j]] = rng.gen_range(-12.0..12.0);
                }
            }
            for &(eps, ms) in &[(0.8, 4), (1.2, 5), (2.0, 10), (3.5, 3)] {
                let got = run(&x, eps, ms);
                let (want, core) = sklearn_reference(&x, eps, ms);
                assert_eq!(got.is_core, core, "seed {seed} eps {eps}");
                // Exact labels, border points included (same numbering as scikit-learn).
                assert_eq!(got.labels, want, "seed {seed} eps {eps}");
                assert_eq!(got.noise_count, want.iter().filter(|&&l| l < 0).count());
                assert_eq!(
                    got.n_clusters,
                    want.iter().copied().max().map_or(0, |m| m + 1) as usize
                );
            }
        }
    }

    #[test]
    fn border_point_joins_the_lower_cluster() {
        // Groups {2.1, 2.15, 2.2} and {0.0, 0.05, 0.1}, and x=1.1 between them; eps=1 (+1e-9
        // for rounding), min_samples=4. Neighbour counts (self included):
        //   2.1: {2.1, 2.15, 2.2, 1.1} = 4 -> core;   2.15, 2.2: 3 (1.1 is 1.05 away) -> border
        //   0.1: {0.0, 0.05, 0.1, 1.1} = 4 -> core;   0.0, 0.05: 3 -> border
        //   1.1: {2.1, 1.1, 0.1} = 3 -> not core, but within eps of both cores.
        let x = array![[2.1], [2.15], [2.2], [1.1], [0.0], [0.05], [0.1]];
        let r = run(&x, 1.0 + 1e-9, 4);
        let (want, _) = sklearn_reference(&x, 1.0 + 1e-9, 4);
        assert_eq!(r.labels, want);
        // Cluster 0 holds index 0 (the group at 2.1..2.2), and the middle point 1.1 is within
        // 1.0 of both 2.1 and 0.1, both core: it takes cluster 0, the lower number.
        assert_eq!(r.labels, vec![0, 0, 0, 0, 1, 1, 1]);
    }

    #[test]
    fn geometric_cases() {
        // Two concentric rings (radius 1 and 5, 200 points each): two clusters, no noise.
        let mut rings = Array2::zeros((400, 2));
        for i in 0..200 {
            let t = i as f64 / 200.0 * std::f64::consts::TAU;
            rings[[i, 0]] = t.cos();
            rings[[i, 1]] = t.sin();
            rings[[200 + i, 0]] = 5.0 * t.cos();
            rings[[200 + i, 1]] = 5.0 * t.sin();
        }
        // Neighbouring points on the outer ring are 2*5*sin(pi/200) = 0.157 apart.
        let r = run(&rings, 0.3, 3);
        assert_eq!((r.n_clusters, r.noise_count), (2, 0));
        assert!(r.labels[..200].iter().all(|&l| l == 0) && r.labels[200..].iter().all(|&l| l == 1));

        // Exact duplicates: 6 copies of one point are one cluster even at eps = 0.
        let dup = Array2::from_elem((6, 3), 1.5);
        let r = run(&dup, 0.0, 5);
        assert_eq!((r.n_clusters, r.noise_count), (1, 0));

        // All noise: points 10 apart, eps 1.
        let far = Array2::from_shape_fn((20, 2), |(i, j)| (i * 10 + j) as f64);
        let r = run(&far, 1.0, 2);
        assert_eq!((r.n_clusters, r.noise_count), (0, 20));
        assert!(r.labels.iter().all(|&l| l == -1));

        // One cluster: a huge eps links everything.
        let (blobs, _) = synthetic_blobs(300, 5, 4, 1.0, 1);
        let r = run(&blobs, 1e6, 5);
        assert_eq!((r.n_clusters, r.noise_count), (1, 0));

        // Four planted blobs.
        let r = run(&blobs, 2.0, 5);
        assert_eq!(r.n_clusters, 4);
    }

    #[test]
    fn degenerate_inputs() {
        let empty = Array2::<f64>::zeros((0, 3));
        let r = run(&empty, 1.0, 5);
        assert!(r.labels.is_empty() && r.n_clusters == 0);
        let one = Array2::<f64>::zeros((1, 3));
        assert_eq!(run(&one, 1.0, 5).labels, vec![-1]);
        assert_eq!(run(&one, 1.0, 1).labels, vec![0]);
        assert_eq!(run(&one, f64::NAN, 1).labels, vec![0]);
        let (noise, clusters) = preview_dbscan(empty.view(), 1.0, 5);
        assert_eq!((noise, clusters), (0.0, 0));
    }

    #[test]
    fn deterministic_and_cancellable() {
        let (x, _) = synthetic_blobs(3000, 8, 5, 2.0, 3);
        let a = run(&x, 2.5, 5);
        let b = run(&x, 2.5, 5);
        assert_eq!(a, b);
        let token = crate::pipeline::progress::CancelToken::new();
        token.cancel();
        let p = Progress::new(|_| {}, token);
        assert_eq!(dbscan(x.view(), 2.5, 5, &p), Err(Cancelled));
    }
}
