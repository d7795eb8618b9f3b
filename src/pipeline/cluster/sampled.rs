//! DBSCAN above a size: core points found on a fixed-seed sample, every other point judged
//! against them by DBSCAN's own rule.
//!
//! Exact DBSCAN must prove, for every non-core point, that fewer than `min_samples` points lie
//! within eps; in 25 dimensions that touches most of the data, so its cost grows faster than n
//! (about 500 s at a million customers). Above a size the clustering therefore runs as follows:
//! 1. exact DBSCAN on a fixed-seed sample of the points, with the same `min_samples` and eps from
//!    the same automatic rule *on the sample* (the (1 - max_noise_ratio) quantile of the sample's
//!    k-distances): the rule targets a share of core points, which the sample then meets as the
//!    data would. A sample is sparser than the data, so its eps is larger; an eps fixed in
//!    advance is not rescaled, and a configured eps therefore keeps exact DBSCAN (see
//!    docs/decisions.md);
//! 2. every point outside the sample is a border point of the lowest cluster among the sample's
//!    core points within eps, or noise when there is none: DBSCAN's rule for a non-core point,
//!    with the sample's core points as the core points.
//!
//! The sample's core points are the run's core points, so the saved model's rule ("no core point
//! within eps = outlier") gives every customer the outlier flag the run gave it (up to the small
//! groups phase 1 sets aside). Memory stays O(n); the work is exact DBSCAN on the sample plus
//! one range search per other point that stops at the first core point of cluster 0.

use super::balltree::BallTree;
use super::blocks::Blocks;
use super::dbscan::{DbscanResult, dbscan_on_tree, for_all};
use super::sub_progress;
use crate::pipeline::progress::{Cancelled, Progress};
use ndarray::ArrayView2;

/// The rows `indices` of `data`, row-major in one vector.
fn rows_of(data: ArrayView2<'_, f64>, indices: &[usize]) -> Vec<f64> {
    let mut out = Vec::with_capacity(indices.len() * data.ncols());
    for &i in indices {
        out.extend(data.row(i).iter());
    }
    out
}

/// DBSCAN on the rows `sample` (ascending) of `data`, extended to every row as described in the
/// module documentation. `choose_eps` gets the sample's tree and returns eps (the automatic rule
/// computed on the sample). Returns the result for every row (`is_core` only for the sample's
/// core points) and the eps used.
pub(crate) fn dbscan_on_sample(
    data: ArrayView2<'_, f64>,
    sample: &[usize],
    min_samples: usize,
    choose_eps: impl FnOnce(&BallTree) -> f64,
    progress: &Progress,
) -> Result<(DbscanResult, f64), Cancelled> {
    let (n, d) = data.dim();
    let sample_tree = BallTree::build(&rows_of(data, sample), d);
    let eps = choose_eps(&sample_tree);
    progress.check_cancel()?;
    let on_sample =
        dbscan_on_tree(&sample_tree, eps, min_samples, &sub_progress(progress, 0.0, 0.6))?;
    drop(sample_tree);
    let mut labels = vec![-1i32; n];
    let mut is_core = vec![false; n];
    let mut in_sample = vec![false; n];
    for (k, &i) in sample.iter().enumerate() {
        labels[i] = on_sample.labels[k];
        is_core[i] = on_sample.is_core[k];
        in_sample[i] = true;
    }
    let rest: Vec<usize> = (0..n).filter(|&i| !in_sample[i]).collect();
    let cores: Vec<usize> = sample.iter().copied().filter(|&i| is_core[i]).collect();
    let found =
        border_or_noise(data, &rest, &cores, &labels, eps, &sub_progress(progress, 0.6, 1.0))?;
    for (&i, l) in rest.iter().zip(found) {
        labels[i] = l.map_or(-1, |l| l as i32);
    }
    let noise_count = labels.iter().filter(|&&l| l < 0).count();
    let n_clusters = on_sample.n_clusters;
    progress.update(1.0, format!("DBSCAN: {n_clusters} clusters, {noise_count} noise points"));
    Ok((DbscanResult { labels, n_clusters, noise_count, is_core }, eps))
}

/// For each row of `queries`: the lowest cluster among the core rows `cores` (labels in
/// `labels`, by row) within eps, or `None`.
fn border_or_noise(
    data: ArrayView2<'_, f64>,
    queries: &[usize],
    cores: &[usize],
    labels: &[i32],
    eps: f64,
    progress: &Progress,
) -> Result<Vec<Option<u32>>, Cancelled> {
    if queries.is_empty() {
        return Ok(Vec::new());
    }
    if cores.is_empty() {
        return Ok(vec![None; queries.len()]);
    }
    let d = data.ncols();
    let core_tree = BallTree::build(&rows_of(data, cores), d);
    let core_blocks = Blocks::new(&core_tree);
    let core_label: Vec<u32> =
        (0..core_tree.len()).map(|t| labels[cores[core_tree.original_index(t)]] as u32).collect();
    let min_label = core_blocks.min_label_per_block(&core_label);
    let query_tree = BallTree::build(&rows_of(data, queries), d);
    let query_blocks = Blocks::new(&query_tree);
    let per_block = for_all(
        query_blocks.len(),
        progress,
        (0.0, 1.0, "DBSCAN: judging the customers outside the sample"),
        |q| core_blocks.lowest_labels_within(&query_blocks, q, &core_label, &min_label, eps),
    )?;
    let mut out = vec![None; queries.len()];
    for (t, label) in per_block.into_iter().flatten().enumerate() {
        out[query_tree.original_index(t)] = label;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::cluster::kdistance::k_distances_on_tree;
    use crate::pipeline::cluster::synthetic::synthetic_blobs;
    use crate::pipeline::cluster::{
        adjusted_rand_index, auto_eps, dbscan, sample_indices, sq_dist,
    };
    use ndarray::{Array2, Axis};
    use rand::Rng;

    /// Planted blobs with every tenth point moved to a uniform position in [-20, 20]^d.
    fn sprinkled(n: usize, d: usize, centers: usize, seed: u64) -> Array2<f64> {
        let (mut x, _) = synthetic_blobs(n, d, centers, 1.0, seed);
        let mut rng = crate::pipeline::cluster::seeded_rng(seed + 100);
        for i in (0..n).step_by(10) {
            x.row_mut(i).iter_mut().for_each(|v| *v = rng.gen_range(-20.0..20.0));
        }
        x
    }

    fn as_classes(labels: &[i32]) -> Vec<usize> {
        labels.iter().map(|&l| (l + 1) as usize).collect()
    }

    #[test]
    fn the_whole_data_as_sample_is_exact_dbscan() {
        let x = sprinkled(1500, 4, 3, 1);
        let all: Vec<usize> = (0..1500).collect();
        for eps in [0.8, 1.5, 3.0] {
            let (got, used) =
                dbscan_on_sample(x.view(), &all, 5, |_| eps, &Progress::none()).unwrap();
            assert_eq!(used, eps);
            assert_eq!(got, dbscan(x.view(), eps, 5, &Progress::none()).unwrap());
        }
    }

    #[test]
    fn points_outside_the_sample_take_the_lowest_cluster_of_a_core_within_eps() {
        let x = sprinkled(3000, 6, 4, 2);
        let sample = sample_indices(3000, 1000, 7);
        let mut several_clusters = false;
        for eps in [1.5, 2.5, 4.0] {
            let (got, _) =
                dbscan_on_sample(x.view(), &sample, 5, |_| eps, &Progress::none()).unwrap();
            let rows = x.select(Axis(0), &sample);
            let want = dbscan(rows.view(), eps, 5, &Progress::none()).unwrap();
            several_clusters |= want.n_clusters >= 2;
            assert_eq!(got.n_clusters, want.n_clusters);
            for i in 0..3000 {
                if let Ok(k) = sample.binary_search(&i) {
                    assert_eq!((got.labels[i], got.is_core[i]), (want.labels[k], want.is_core[k]));
                    continue;
                }
                let by_brute_force = (0..sample.len())
                    .filter(|&k| want.is_core[k])
                    .filter(|&k| {
                        let (a, b) = (x.row(i), x.row(sample[k]));
                        sq_dist(a.as_slice().unwrap(), b.as_slice().unwrap()) <= eps * eps
                    })
                    .map(|k| want.labels[k])
                    .min()
                    .unwrap_or(-1);
                assert_eq!(got.labels[i], by_brute_force, "point {i}, eps {eps}");
                assert!(!got.is_core[i]);
            }
            assert_eq!(got.noise_count, got.labels.iter().filter(|&&l| l < 0).count());
        }
        assert!(several_clusters);
    }

    /// The automatic eps on the sample, as phase 1 computes it.
    fn auto_on_sample(tree: &BallTree) -> f64 {
        auto_eps(&k_distances_on_tree(tree, 5, 20_000, 3), 0.15)
    }

    #[test]
    fn a_third_of_planted_25d_data_reproduces_exact_dbscan() {
        // 6 blobs in 25 dimensions, 10% scattered points. Exact DBSCAN with the automatic eps
        // on all 12,000 points against DBSCAN on a sample of 4,000 extended to the rest.
        let x = sprinkled(12_000, 25, 6, 3);
        let none = Progress::none();
        let x_tree = BallTree::build(x.as_slice().unwrap(), 25);
        let exact = dbscan(x.view(), auto_on_sample(&x_tree), 5, &none).unwrap();
        let sample = sample_indices(12_000, 4_000, 11);
        let (sampled, _) = dbscan_on_sample(x.view(), &sample, 5, auto_on_sample, &none).unwrap();
        assert_eq!(exact.n_clusters, 6);
        assert_eq!(sampled.n_clusters, 6);
        let gap = (exact.noise_ratio() - sampled.noise_ratio()).abs();
        assert!(gap <= 0.01, "noise {} vs {}", exact.noise_ratio(), sampled.noise_ratio());
        let ari = adjusted_rand_index(&as_classes(&exact.labels), &as_classes(&sampled.labels));
        assert!(ari >= 0.95, "ARI {ari}");
    }

    #[test]
    fn deterministic_whatever_the_thread_count() {
        let x = sprinkled(6000, 8, 4, 4);
        let sample = sample_indices(6000, 2000, 5);
        let run =
            || dbscan_on_sample(x.view(), &sample, 5, auto_on_sample, &Progress::none()).unwrap();
        let one_thread = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
        let three_threads = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
        let a = one_thread.install(run);
        assert_eq!(a, three_threads.install(run));
        assert!(a.0.n_clusters >= 2 && a.0.noise_count > 0);
    }
}
