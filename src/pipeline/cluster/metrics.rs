//! Clustering quality criteria, as scikit-learn computes them, in f64 and in parallel.
//!
//! - Silhouette (exact, or on a fixed-seed sample as scikit-learn's `silhouette_score(sample_size=
//!   ...)`): in the `silhouette` module, re-exported here.
//! - Calinski-Harabasz: [B / (K - 1)] / [W / (n - K)], B and W the between- and within-cluster
//!   dispersions (1.0 when W = 0, as scikit-learn).
//! - Davies-Bouldin: mean over clusters of max_j (s_i + s_j) / d(c_i, c_j), s the mean distance
//!   of members to their centroid (0.0 when all s or all centroid distances are 0).
//! - Adjusted Rand index: from the pair-confusion matrix, exact in 128-bit integers.
//!
//! Labels are arbitrary `usize` values; a label value that no point carries is ignored.

pub use super::silhouette::{
    SilhouetteSummary, silhouette, silhouette_per_cluster, silhouette_summaries, silhouette_summary,
};
use super::{BLOCK_ROWS, row_major, sq_dist};
#[cfg(test)]
use ndarray::s;
use ndarray::{Array2, ArrayView2, Axis};
use rayon::prelude::*;
use std::collections::HashMap;

/// Per-cluster sizes and centroids (rows for label values nobody carries stay 0).
fn centroids_of(
    x: ArrayView2<'_, f64>,
    labels: &[usize],
    n_slots: usize,
) -> (Array2<f64>, Vec<usize>) {
    let d = x.ncols();
    let parts: Vec<(Array2<f64>, Vec<usize>)> = (0..x.nrows().div_ceil(BLOCK_ROWS))
        .into_par_iter()
        .map(|b| {
            let (a, e) = (b * BLOCK_ROWS, ((b + 1) * BLOCK_ROWS).min(x.nrows()));
            let mut sums = Array2::zeros((n_slots, d));
            let mut counts = vec![0usize; n_slots];
            for i in a..e {
                let mut row = sums.row_mut(labels[i]);
                row += &x.row(i);
                counts[labels[i]] += 1;
            }
            (sums, counts)
        })
        .collect();
    let mut sums = Array2::zeros((n_slots, d));
    let mut counts = vec![0usize; n_slots];
    for (s, c) in parts {
        sums += &s;
        counts.iter_mut().zip(&c).for_each(|(t, v)| *t += v);
    }
    for (mut row, &c) in sums.axis_iter_mut(Axis(0)).zip(&counts) {
        if c > 0 {
            row /= c as f64;
        }
    }
    (sums, counts)
}

/// Sum over rows of `f(row index)`, block by block in a fixed order.
fn ordered_par_sum(n: usize, f: impl Fn(usize) -> f64 + Sync) -> f64 {
    let parts: Vec<f64> = (0..n.div_ceil(BLOCK_ROWS))
        .into_par_iter()
        .map(|b| (b * BLOCK_ROWS..((b + 1) * BLOCK_ROWS).min(n)).map(&f).sum::<f64>())
        .collect();
    parts.iter().sum()
}

/// Data and clusters checked for the dispersion criteria.
struct Prepared<'a> {
    /// C-contiguous rows.
    x: ndarray::CowArray<'a, f64, ndarray::Ix2>,
    /// Centroid per label value (zero rows for values nobody carries).
    centroids: Array2<f64>,
    /// Points per label value.
    counts: Vec<usize>,
}

fn prepared<'a>(data: ArrayView2<'a, f64>, labels: &[usize]) -> Option<Prepared<'a>> {
    let n = data.nrows();
    if n == 0 || labels.len() != n {
        return None;
    }
    let n_slots = labels.iter().copied().max().unwrap_or(0) + 1;
    let x = row_major(data);
    let (c, counts) = centroids_of(x.view(), labels, n_slots);
    let k = counts.iter().filter(|&&c| c > 0).count();
    if k < 2 || k >= n {
        return None;
    }
    Some(Prepared { x, centroids: c, counts })
}

fn row_slice<'a>(x: &'a ArrayView2<'_, f64>, i: usize) -> &'a [f64] {
    let d = x.ncols();
    &x.as_slice().unwrap_or(&[])[i * d..(i + 1) * d]
}

/// Calinski-Harabasz index; `None` unless 2 <= clusters < n (and labels match the rows).
pub fn calinski_harabasz(data: ArrayView2<'_, f64>, labels: &[usize]) -> Option<f64> {
    let Prepared { x, centroids: c, counts } = prepared(data, labels)?;
    let x = x.view();
    let n = x.nrows();
    let k = counts.iter().filter(|&&c| c > 0).count();
    let mean = x.mean_axis(Axis(0))?;
    let mean = mean.as_slice()?;
    let c = c.as_standard_layout();
    let extra: f64 = (0..counts.len())
        .filter(|&j| counts[j] > 0)
        .map(|j| counts[j] as f64 * sq_dist(c.row(j).as_slice().unwrap_or(&[]), mean))
        .sum();
    let intra = ordered_par_sum(n, |i| {
        sq_dist(row_slice(&x, i), c.row(labels[i]).as_slice().unwrap_or(&[]))
    });
    Some(if intra == 0.0 { 1.0 } else { extra * (n - k) as f64 / (intra * (k - 1) as f64) })
}

/// Davies-Bouldin index (lower is better); `None` unless 2 <= clusters < n.
pub fn davies_bouldin(data: ArrayView2<'_, f64>, labels: &[usize]) -> Option<f64> {
    let Prepared { x, centroids: c, counts } = prepared(data, labels)?;
    let x = x.view();
    let c = c.as_standard_layout();
    let present: Vec<usize> = (0..counts.len()).filter(|&j| counts[j] > 0).collect();
    let mut spread_sum = vec![0.0; counts.len()];
    let parts: Vec<Vec<f64>> = (0..x.nrows().div_ceil(BLOCK_ROWS))
        .into_par_iter()
        .map(|b| {
            let mut acc = vec![0.0; counts.len()];
            for i in b * BLOCK_ROWS..((b + 1) * BLOCK_ROWS).min(x.nrows()) {
                acc[labels[i]] +=
                    sq_dist(row_slice(&x, i), c.row(labels[i]).as_slice().unwrap_or(&[])).sqrt();
            }
            acc
        })
        .collect();
    for p in parts {
        spread_sum.iter_mut().zip(&p).for_each(|(t, v)| *t += v);
    }
    let spread: Vec<f64> = present.iter().map(|&j| spread_sum[j] / counts[j] as f64).collect();
    let centroid = |j: usize| c.row(present[j]).to_vec();
    let k = present.len();
    let mut dist = vec![0.0; k * k];
    for a in 0..k {
        for b in 0..k {
            dist[a * k + b] = sq_dist(&centroid(a), &centroid(b)).sqrt();
        }
    }
    let all_zero = |v: &[f64]| v.iter().all(|x| x.abs() < 1e-8);
    if all_zero(&spread) || all_zero(&dist) {
        return Some(0.0);
    }
    let score = |a: usize| {
        (0..k)
            .filter(|&b| b != a && dist[a * k + b] > 0.0)
            .map(|b| (spread[a] + spread[b]) / dist[a * k + b])
            .fold(0.0, f64::max)
    };
    Some((0..k).map(score).sum::<f64>() / k as f64)
}

/// Adjusted Rand index between two labelings of the same points (scikit-learn's
/// `adjusted_rand_score`): 1 for identical partitions up to renaming, about 0 for random ones.
/// Only the first min(len) labels are compared; fewer than 2 points give 1.
pub fn adjusted_rand_index(a: &[usize], b: &[usize]) -> f64 {
    let n = a.len().min(b.len());
    let mut table: HashMap<(usize, usize), i128> = HashMap::new();
    let mut rows: HashMap<usize, i128> = HashMap::new();
    let mut cols: HashMap<usize, i128> = HashMap::new();
    for i in 0..n {
        *table.entry((a[i], b[i])).or_default() += 1;
        *rows.entry(a[i]).or_default() += 1;
        *cols.entry(b[i]).or_default() += 1;
    }
    let n = n as i128;
    let squares = |m: &dyn Fn() -> Vec<i128>| m().iter().map(|v| v * v).sum::<i128>();
    let sum_sq = squares(&|| table.values().copied().collect());
    let tp = sum_sq - n;
    let fp = squares(&|| cols.values().copied().collect()) - sum_sq;
    let fn_ = squares(&|| rows.values().copied().collect()) - sum_sq;
    let tn = n * n - fp - fn_ - sum_sq;
    if fn_ == 0 && fp == 0 {
        return 1.0;
    }
    let num = 2.0 * ((tp * tn - fn_ * fp) as f64);
    let den = ((tp + fn_) * (fn_ + tn) + (tp + fp) * (fp + tn)) as f64;
    if den == 0.0 { 1.0 } else { num / den }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::cluster::synthetic::synthetic_blobs;
    use ndarray::array;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn silhouette_textbook() {
        // x = 0, 1 | 4, 5. Every a = 1. b: for 0 -> mean(4, 5) = 4.5, for 1 -> mean(3, 4) = 3.5,
        // symmetric for 5 and 4. s = 3.5/4.5 = 7/9 twice and 2.5/3.5 = 5/7 twice;
        // mean = (7/9 + 5/7) / 2 = 94/126.
        let x = array![[0.0], [1.0], [4.0], [5.0]];
        let s = silhouette_summary(x.view(), &[0, 0, 1, 1], 10_000, 0).unwrap();
        assert!(close(s.mean, 94.0 / 126.0), "{}", s.mean);
        assert!(close(s.per_cluster[0].unwrap(), (7.0 / 9.0 + 5.0 / 7.0) / 2.0));
        // Add a singleton at 20 (label 5, labels 2..4 unused): its s = 0, the others keep their
        // b (20 is farther): mean = 2 * (7/9 + 5/7) / 5 = 188/315.
        let x = array![[0.0], [1.0], [4.0], [5.0], [20.0]];
        let s = silhouette_summary(x.view(), &[0, 0, 1, 1, 5], 10_000, 0).unwrap();
        assert!(close(s.mean, 188.0 / 315.0), "{}", s.mean);
        assert_eq!(s.per_cluster.len(), 6);
        assert_eq!(s.per_cluster[5], Some(0.0));
        assert_eq!(s.per_cluster[3], None);
        // Degenerate: one cluster, every point its own cluster, fewer than 3 points.
        assert_eq!(silhouette(x.view(), &[1; 5], 100, 0), None);
        assert_eq!(silhouette(x.view(), &[0, 1, 2, 3, 4], 100, 0), None);
        assert_eq!(silhouette(x.slice(s![..2, ..]), &[0, 1], 100, 0), None);
    }

    #[test]
    fn sampled_silhouette_is_close_to_exact() {
        let (x, labels) = synthetic_blobs(3000, 5, 3, 4.0, 2);
        let exact = silhouette(x.view(), &labels, 10_000, 0).unwrap();
        let sampled = silhouette(x.view(), &labels, 500, 0).unwrap();
        assert!((exact - sampled).abs() < 0.03, "{exact} vs {sampled}");
        assert_eq!(sampled, silhouette(x.view(), &labels, 500, 0).unwrap());
        assert_ne!(exact, sampled);
    }

    /// Mean silhouette of each labeling, from the sweep's one-pass summaries.
    fn silhouettes(
        x: ArrayView2<'_, f64>,
        labelings: &[&[usize]],
        sample: usize,
        seed: u64,
    ) -> Vec<Option<f64>> {
        let all = silhouette_summaries(x, labelings, sample, seed);
        all.into_iter().map(|s| s.map(|s| s.mean)).collect()
    }

    #[test]
    fn silhouettes_of_many_labelings_equal_one_at_a_time() {
        let (x, truth) = synthetic_blobs(1500, 4, 3, 3.0, 8);
        let halves: Vec<usize> = (0..1500).map(|i| usize::from(i % 2 == 0) * 7).collect();
        let one = vec![2; 1500];
        let labelings: Vec<&[usize]> = vec![&truth, &halves, &one];
        for sample in [10_000, 400] {
            let all = silhouettes(x.view(), &labelings, sample, 3);
            for (labels, got) in labelings.iter().zip(&all) {
                let want = silhouette(x.view(), labels, sample, 3);
                match (want, got) {
                    (Some(w), Some(g)) => assert!((w - g).abs() < 1e-9, "{w} vs {g}"),
                    _ => assert_eq!(want, *got),
                }
            }
            assert!(all[0].unwrap() > 0.25 && all[1].unwrap().abs() < 0.05, "{all:?}");
            assert_eq!(all[2], None);
        }
        // The textbook case above: x = 0, 1 | 4, 5 gives 94/126.
        let x = array![[0.0], [1.0], [4.0], [5.0]];
        assert!(close(silhouettes(x.view(), &[&[0, 0, 1, 1]], 100, 0)[0].unwrap(), 94.0 / 126.0));
    }

    #[test]
    fn dispersion_indices_textbook() {
        // x = 0, 1 | 4, 5: overall mean 2.5, centroids 0.5 and 4.5.
        // B = 2 * 2^2 + 2 * 2^2 = 16, W = 4 * 0.5^2 = 1, CH = (16 / 1) / (1 / 2) = 32.
        // DB: s = 0.5 for both, centroid distance 4, R = (0.5 + 0.5) / 4 = 0.25.
        let x = array![[0.0], [1.0], [4.0], [5.0]];
        assert!(close(calinski_harabasz(x.view(), &[0, 0, 1, 1]).unwrap(), 32.0));
        assert!(close(davies_bouldin(x.view(), &[0, 0, 1, 1]).unwrap(), 0.25));
        // Three clusters on a line: {0, 2} c=1, {10} c=10, {20, 22} c=21; s = 1, 0, 1.
        // R(1,10) = 1/9, R(1,21) = 2/20 -> max 1/9; R(10,1) = 1/9, R(10,21) = 1/11 -> 1/9;
        // R(21,10) = 1/11, R(21,1) = 1/10 -> 1/10. DB = (1/9 + 1/9 + 1/10) / 3.
        let y = array![[0.0], [2.0], [10.0], [20.0], [22.0]];
        let db = davies_bouldin(y.view(), &[3, 3, 7, 9, 9]).unwrap();
        assert!(close(db, (2.0 / 9.0 + 0.1) / 3.0), "{db}");
        // CH: mean 10.8; B = 2*9.8^2 + 0.8^2 + 2*10.2^2 = 192.08 + 0.64 + 208.08 = 400.8,
        // W = 1 + 1 + 0 + 1 + 1 = 4, CH = (400.8 / 2) / (4 / 2) = 100.2.
        let ch = calinski_harabasz(y.view(), &[3, 3, 7, 9, 9]).unwrap();
        assert!(close(ch, 100.2), "{ch}");
        // Degenerate cases.
        assert_eq!(calinski_harabasz(x.view(), &[0, 0, 0, 0]), None);
        assert_eq!(davies_bouldin(x.view(), &[0, 1, 2, 3]), None);
        let same = Array2::from_elem((4, 2), 1.0);
        assert_eq!(calinski_harabasz(same.view(), &[0, 0, 1, 1]), Some(1.0));
        assert_eq!(davies_bouldin(same.view(), &[0, 0, 1, 1]), Some(0.0));
    }

    #[test]
    fn adjusted_rand_textbook() {
        // a = [0,0,1,1], b = [0,0,1,2]: contingency {2; 1, 1}, sum of squares 6, n = 4.
        // tp = 6 - 4 = 2, fp = (4+1+1) - 6 = 0, fn = (4+4) - 6 = 2, tn = 16 - 0 - 2 - 6 = 8.
        // ARI = 2 (2*8 - 2*0) / ((2+2)(2+8) + (2+0)(0+8)) = 32 / 56 = 4/7.
        assert!(close(adjusted_rand_index(&[0, 0, 1, 1], &[0, 0, 1, 2]), 4.0 / 7.0));
        assert_eq!(adjusted_rand_index(&[0, 0, 1, 1], &[5, 5, 3, 3]), 1.0);
        // a = [0,0,0,1,1,1], b = [0,0,1,1,2,2]: contingency {2,1,0; 0,1,2}, squares 10, n 6.
        // tp = 4, fp = (4+4+4) - 10 = 2, fn = (9+9) - 10 = 8, tn = 36 - 2 - 8 - 10 = 16.
        // ARI = 2 (4*16 - 8*2) / ((4+8)(8+16) + (4+2)(2+16)) = 96 / (288 + 108) = 96/396.
        assert!(close(adjusted_rand_index(&[0, 0, 0, 1, 1, 1], &[0, 0, 1, 1, 2, 2]), 96.0 / 396.0));
        assert_eq!(adjusted_rand_index(&[], &[]), 1.0);
        assert_eq!(adjusted_rand_index(&[0, 0, 0], &[0, 0, 0]), 1.0);
    }
}
