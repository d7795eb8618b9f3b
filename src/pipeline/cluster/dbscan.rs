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
//! reproduce exactly that labelling (not only up to renaming) with three parallel passes over a
//! ball tree that never store a neighbourhood:
//! 1. core flags: neighbour counts, block against block (see [`super::blocks`]), nearest
//!    blocks first, dropping each point from the work as soon as it reaches `min_samples`. A
//!    non-core point has fewer than `min_samples` neighbours, so they are kept, and so are the
//!    first `min_samples` found of every core point (O(n) memory);
//! 2. components, in a lock-free union-find whose root is always the lowest index (so the
//!    result does not depend on thread scheduling): core points of blocks within eps are
//!    united; a block pair is skipped when the core points of both blocks are already known to
//!    be in one component, which in dense regions is nearly always once the neighbours kept in
//!    pass 1 have been united;
//! 3. borders: every non-core point takes the lowest root among its core neighbours, read from
//!    the neighbours kept in pass 1.
//!
//! Memory: O(n) plus one block-by-block distance matrix per thread.

use super::balltree::BallTree;
use super::blocks::Blocks;
use super::{BLOCK_ROWS, flat, row_major, sq_dist};
use crate::pipeline::progress::{Cancelled, Progress};
use ndarray::ArrayView2;
use rayon::prelude::*;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Marks "none" in index arrays.
const NONE: usize = usize::MAX;

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
    dbscan_on_tree_with(tree, eps, min_samples, None, progress)
}

/// [`dbscan_on_tree`] with every point's nearest other points already known: `nearest` is
/// n x m, row i the m nearest other points of point i (original indices) by exact (distance,
/// index), as the map's neighbour graph has them. Pass 1 then reads the core flags off them
/// ([`core_flags_from_nearest`]) instead of searching, when they are enough to decide
/// (`min_samples` at most m + 1, or every other point listed).
pub(crate) fn dbscan_on_tree_with(
    tree: &BallTree,
    eps: f64,
    min_samples: usize,
    nearest: Option<ArrayView2<'_, usize>>,
    progress: &Progress,
) -> Result<DbscanResult, Cancelled> {
    let eps = if eps >= 0.0 { eps } else { 0.0 };
    let n = tree.len();
    let blocks = Blocks::new(tree);
    let decides = |m: ArrayView2<'_, usize>| {
        m.nrows() == n && (min_samples <= m.ncols() + 1 || m.ncols() + 1 >= n)
    };
    let (core_pos, few_neighbours) = match nearest.filter(|m| decides(m.view())) {
        Some(m) => {
            progress.update(0.4, "DBSCAN: core points from the nearest neighbours");
            core_flags_from_nearest(tree, m, eps, min_samples)
        }
        None => core_flags(&blocks, eps, min_samples, progress)?,
    };
    let parent: Vec<AtomicUsize> = (0..n).map(AtomicUsize::new).collect();
    link_kept_neighbours(tree, &core_pos, &few_neighbours, &parent);
    link_core_points(&blocks, eps, &core_pos, &parent, progress)?;
    let mut is_core = vec![false; n];
    for (t, &c) in core_pos.iter().enumerate() {
        is_core[tree.original_index(t)] = c;
    }
    let roots: Vec<usize> = (0..n).map(|i| find(&parent, i)).collect();
    let (label_of_root, n_clusters) = number_clusters(&is_core, &roots);
    let labels = label_points(tree, &core_pos, &few_neighbours, &roots, &label_of_root);
    let noise_count = labels.iter().filter(|&&l| l < 0).count();
    progress.update(1.0, format!("DBSCAN: {n_clusters} clusters, {noise_count} noise points"));
    Ok(DbscanResult { labels, n_clusters, noise_count, is_core })
}

/// Run `per_item(i)` for `i` in `0..count` in parallel, block by block, checking for
/// cancellation between blocks and reporting progress between `from` and `to`. Items are
/// split as finely as rayon likes: a few dozen heavy items (a micro-segment's query blocks)
/// would otherwise run on one thread.
pub(crate) fn for_all<T: Send>(
    count: usize,
    progress: &Progress,
    (from, to, what): (f64, f64, &str),
    per_item: impl Fn(usize) -> T + Sync + Send,
) -> Result<Vec<T>, Cancelled> {
    let mut out = Vec::with_capacity(count);
    let step = BLOCK_ROWS * 8;
    for start in (0..count).step_by(step) {
        progress.check_cancel()?;
        let end = (start + step).min(count);
        out.par_extend((start..end).into_par_iter().map(&per_item));
        progress.update(from + (to - from) * end as f64 / count as f64, what.to_string());
    }
    Ok(out)
}

/// Pass 1: core flag of every tree position, and up to `min_samples` neighbours (tree
/// positions) of every point: all of them for a non-core point.
fn core_flags(
    blocks: &Blocks<'_>,
    eps: f64,
    min_samples: usize,
    progress: &Progress,
) -> Result<(Vec<bool>, Vec<Vec<usize>>), Cancelled> {
    let per_block =
        for_all(blocks.len(), progress, (0.05, 0.4, "DBSCAN: finding core points"), |q| {
            let (s, e) = blocks.ranges[q];
            let mut neighbours: Vec<Vec<usize>> = vec![Vec::new(); e - s];
            let mut active: Vec<usize> = (s..e).collect();
            for (t, inside) in blocks.reachable(q, eps) {
                let (ts, te) = blocks.ranges[t];
                if inside {
                    for &p in &active {
                        neighbours[p - s].extend(ts..te);
                    }
                } else {
                    let rows = blocks.near_block(&active, t, eps);
                    blocks.pairs_within(&rows, t, eps, |qi, p| neighbours[rows[qi] - s].push(p));
                }
                active.retain(|&p| {
                    let open = neighbours[p - s].len() < min_samples;
                    if !open {
                        neighbours[p - s].truncate(min_samples);
                        neighbours[p - s].shrink_to_fit();
                    }
                    open
                });
                if active.is_empty() {
                    break;
                }
            }
            let core: Vec<bool> = (s..e).map(|p| !active.contains(&p)).collect();
            (core, neighbours)
        })?;
    let mut core = Vec::with_capacity(blocks.tree.len());
    let mut few = Vec::with_capacity(blocks.tree.len());
    for (c, nb) in per_block {
        core.extend(c);
        few.extend(nb);
    }
    Ok((core, few))
}

/// Pass 1 from known nearest neighbours (see [`dbscan_on_tree_with`]), with the same result as
/// [`core_flags`]: a point's neighbours within eps are itself and those of its listed nearest
/// points within eps (each decided on the exact squared distance, as the search does). The list
/// holds every neighbour within eps unless all its points are within eps: an unlisted point is
/// no nearer than any listed one. So a point whose listed points are not all within eps has its
/// whole neighbourhood counted; one whose listed points all are has at least m + 1 >=
/// `min_samples` neighbours and is core. Kept: every neighbour of a non-core point, the first
/// `min_samples` of a core point.
fn core_flags_from_nearest(
    tree: &BallTree,
    nearest: ArrayView2<'_, usize>,
    eps: f64,
    min_samples: usize,
) -> (Vec<bool>, Vec<Vec<usize>>) {
    let position = tree.positions();
    let eps_sq = eps * eps;
    (0..tree.len())
        .into_par_iter()
        .with_min_len(BLOCK_ROWS)
        .map(|t| {
            let point = tree.point(t);
            let listed = nearest.row(tree.original_index(t));
            let mut kept = vec![t];
            kept.extend(
                listed
                    .iter()
                    .map(|&j| position[j])
                    .filter(|&u| sq_dist(point, tree.point(u)) <= eps_sq),
            );
            let core = kept.len() >= min_samples;
            if core {
                kept.truncate(min_samples);
            }
            (core, kept)
        })
        .unzip()
}

/// Pass 2a: unite every core point with the core neighbours kept in pass 1.
fn link_kept_neighbours(
    tree: &BallTree,
    core_pos: &[bool],
    kept: &[Vec<usize>],
    parent: &[AtomicUsize],
) {
    (0..tree.len()).into_par_iter().with_min_len(BLOCK_ROWS).for_each(|t| {
        if core_pos[t] {
            for &p in kept[t].iter().filter(|&&p| core_pos[p]) {
                union(parent, tree.original_index(t), tree.original_index(p));
            }
        }
    });
}

/// Pass 2b: unite core points within eps, skipping block pairs already connected.
fn link_core_points(
    blocks: &Blocks<'_>,
    eps: f64,
    core_pos: &[bool],
    parent: &[AtomicUsize],
    progress: &Progress,
) -> Result<(), Cancelled> {
    let tree = blocks.tree;
    let cores: Vec<Vec<usize>> =
        blocks.ranges.iter().map(|&(s, e)| (s..e).filter(|&t| core_pos[t]).collect()).collect();
    let uniform: Vec<AtomicUsize> = (0..blocks.len()).map(|_| AtomicUsize::new(NONE)).collect();
    // A core point of `b` when all of b's core points are known to be in one component.
    let uniform_rep = |b: usize| -> Option<usize> {
        let cached = uniform[b].load(Ordering::Acquire);
        if cached != NONE {
            return Some(cached);
        }
        let first = tree.original_index(*cores[b].first()?);
        let root = find(parent, first);
        if cores[b].iter().all(|&t| find(parent, tree.original_index(t)) == root) {
            uniform[b].store(first, Ordering::Release);
            return Some(first);
        }
        None
    };
    let connected = |a: usize, b: usize| match (uniform_rep(a), uniform_rep(b)) {
        (Some(x), Some(y)) => find(parent, x) == find(parent, y),
        _ => false,
    };
    let link_block = |q: usize| {
        if cores[q].is_empty() {
            return;
        }
        for (t, inside) in blocks.reachable(q, eps).into_iter().filter(|&(t, _)| t >= q) {
            if cores[t].is_empty() || connected(q, t) {
                continue;
            }
            if inside {
                let anchor = tree.original_index(cores[q][0]);
                cores[t].iter().for_each(|&p| union(parent, anchor, tree.original_index(p)));
                cores[q].iter().for_each(|&p| union(parent, anchor, tree.original_index(p)));
                continue;
            }
            let rows = blocks.near_block(&cores[q], t, eps);
            let rows = match uniform_rep(t) {
                Some(rep) => {
                    let root = find(parent, rep);
                    rows.into_iter()
                        .filter(|&p| find(parent, tree.original_index(p)) != root)
                        .collect()
                }
                None => rows,
            };
            if rows.is_empty() {
                continue;
            }
            blocks.pairs_within(&rows, t, eps, |qi, p| {
                if core_pos[p] {
                    union(parent, tree.original_index(rows[qi]), tree.original_index(p));
                }
            });
        }
    };
    for_all(blocks.len(), progress, (0.4, 1.0, "DBSCAN: linking core points"), link_block)?;
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
    core_pos: &[bool],
    few_neighbours: &[Vec<usize>],
    roots: &[usize],
    label_of_root: &[i32],
) -> Vec<i32> {
    let root_at = |t: usize| roots[tree.original_index(t)];
    let mut labels = vec![-1; tree.len()];
    for t in 0..tree.len() {
        let best = if core_pos[t] {
            Some(root_at(t))
        } else {
            few_neighbours[t].iter().filter(|&&p| core_pos[p]).map(|&p| root_at(p)).min()
        };
        labels[tree.original_index(t)] = best.map_or(-1, |b| label_of_root[b]);
    }
    labels
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

    /// Pass 1 read off known nearest neighbours gives scikit-learn's labels too, on data with
    /// duplicates, for every `min_samples` the neighbours decide, at eps equal to a k-distance
    /// (points exactly at eps) and between them; with too few neighbours listed the search runs.
    #[test]
    fn core_points_from_known_neighbours_equal_the_search() {
        use crate::pipeline::cluster::k_distances;
        use crate::pipeline::embed::exact_knn;
        let mut rng = crate::pipeline::cluster::seeded_rng(9);
        let (mut x, _) = synthetic_blobs(500, 4, 3, 1.0, 9);
        for i in 0..60 {
            for j in 0..4 {
                x[[i * 7, j]] = rng.gen_range(-10.0..10.0);
            }
        }
        for i in 0..30 {
            let copy = x.row(i).to_owned();
            x.row_mut(499 - i).assign(&copy);
        }
        let knn = exact_knn(x.view(), 9, &Progress::none()).unwrap();
        let tree = BallTree::build(flat(&row_major(x.view())), x.ncols());
        for min_samples in [1, 2, 3, 5, 10, 11] {
            let curve = k_distances(x.view(), min_samples.min(10), 500, 0);
            for eps in [curve[250], curve[400], 0.5 * (curve[300] + curve[301]), 0.0] {
                let none = Progress::none();
                let known =
                    dbscan_on_tree_with(&tree, eps, min_samples, Some(knn.indices.view()), &none);
                let (want, core) = sklearn_reference(&x, eps, min_samples);
                let known = known.unwrap();
                assert_eq!(known.is_core, core, "min_samples {min_samples}, eps {eps}");
                assert_eq!(known.labels, want, "min_samples {min_samples}, eps {eps}");
                assert_eq!(known, dbscan_on_tree(&tree, eps, min_samples, &none).unwrap());
            }
        }
    }

    #[test]
    fn equals_sklearn_reference_across_many_blocks() {
        // 1800 points make 8+ blocks, so cross-block linking and the "balls within eps" and
        // "already connected" shortcuts are all exercised.
        let (x, _) = synthetic_blobs(1800, 6, 5, 1.5, 77);
        for &(eps, ms) in &[(1.5, 5), (2.5, 8), (4.0, 4)] {
            let got = run(&x, eps, ms);
            let (want, core) = sklearn_reference(&x, eps, ms);
            assert_eq!(got.is_core, core, "eps {eps}");
            assert_eq!(got.labels, want, "eps {eps}");
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
        let preview = crate::pipeline::cluster::preview_outliers(
            empty.view(),
            1.0,
            5,
            0.15,
            &Progress::none(),
        );
        assert_eq!(
            preview.map(|p| (p.noise_share, p.outlier_share, p.clusters)),
            Some((0.0, 0.0, 0))
        );
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
