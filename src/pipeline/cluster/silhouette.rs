//! The silhouette, exact or on a fixed-seed sample, of one labeling or of several labelings of
//! the same points at once (the K sweep's).
//!
//! For point i, a = mean distance to the other members of its cluster, b = the lowest mean
//! distance to the members of another cluster, s = (b - a) / max(a, b); a point alone in its
//! cluster gets s = 0. Exact when n <= `sample_size`; otherwise, as scikit-learn's
//! `silhouette_score(sample_size=...)` does, the silhouette of a fixed-seed sample of
//! `sample_size` points computed within that sample.
//!
//! How: the sample's pairwise distances do not depend on the labels, so each is computed once
//! for every labeling. The sample is ordered by *cell* (the points sharing their label in every
//! labeling; for one labeling the cells are its clusters), so each point's distances to a cell
//! are one contiguous run, summed in order; a cluster's distance sum is then the sum of its
//! cells' sums, in cell order. A block of points sweeps the sample once: every sample row's
//! distances to the block's points come from one call of the kernel ([`super::sqdist`]), the
//! block's points staying in the cache while the sample streams past. Distances are direct
//! (differences squared, then the square root), so a point's distance to itself is exactly 0.
//! Every sum runs in a fixed order, so the result does not depend on the number of threads.

use super::sqdist::dists_to_rows;
use super::{BLOCK_ROWS, row_major, sample_indices};
use ndarray::{ArrayView2, Axis};
use rayon::prelude::*;

/// Sample points per block: their distances to one sample row come from one kernel call.
const QUERY_BLOCK: usize = 32;

/// Mean silhouette overall and per cluster, on the same points.
#[derive(Debug, Clone, PartialEq)]
pub struct SilhouetteSummary {
    /// Mean silhouette of the points used.
    pub mean: f64,
    /// Mean silhouette per label value (index = label); `None` for a label with no point used.
    pub per_cluster: Vec<Option<f64>>,
    /// Points the silhouette was computed on (n, or the sample size).
    pub points_used: usize,
}

impl SilhouetteSummary {
    /// The same summary for labels `to` that rename `from` (the same points, one label value of
    /// `to` for each of `from` and the other way round), per cluster indexed by the new values;
    /// `None` when `to` is not such a renaming.
    pub fn renamed(&self, from: &[usize], to: &[usize]) -> Option<SilhouetteSummary> {
        if from.len() != to.len() {
            return None;
        }
        let slots = |labels: &[usize]| labels.iter().copied().max().map_or(0, |v| v + 1);
        let (mut new_of, mut old_of) = (vec![None; slots(from)], vec![None; slots(to)]);
        for (&a, &b) in from.iter().zip(to) {
            if *new_of[a].get_or_insert(b) != b || *old_of[b].get_or_insert(a) != a {
                return None;
            }
        }
        let per_cluster = old_of
            .iter()
            .map(|old| old.and_then(|a: usize| self.per_cluster.get(a).copied().flatten()))
            .collect();
        Some(SilhouetteSummary { per_cluster, ..self.clone() })
    }
}

/// Mean silhouette (see the module doc); `None` with fewer than 2 clusters among the points
/// used, with every point its own cluster, or with fewer than 3 points.
pub fn silhouette(
    data: ArrayView2<'_, f64>,
    labels: &[usize],
    sample_size: usize,
    seed: u64,
) -> Option<f64> {
    silhouette_summary(data, labels, sample_size, seed).map(|s| s.mean)
}

/// Mean silhouette per cluster (index = label) on the same sample as [`silhouette`].
pub fn silhouette_per_cluster(
    data: ArrayView2<'_, f64>,
    labels: &[usize],
    sample_size: usize,
    seed: u64,
) -> Option<Vec<Option<f64>>> {
    silhouette_summary(data, labels, sample_size, seed).map(|s| s.per_cluster)
}

/// Overall and per-cluster silhouette from one pass.
pub fn silhouette_summary(
    data: ArrayView2<'_, f64>,
    labels: &[usize],
    sample_size: usize,
    seed: u64,
) -> Option<SilhouetteSummary> {
    silhouette_summaries(data, &[labels], sample_size, seed).pop().flatten()
}

/// [`silhouette_summary`] of each of several labelings of the same points, all on the same
/// fixed-seed sample (of the first n points, n the shortest labeling's length), with the sample's
/// distances computed once for all of them. Equal to each labeling's own summary up to rounding
/// (a cluster's distance sum adds its cells' sums).
pub fn silhouette_summaries(
    data: ArrayView2<'_, f64>,
    labelings: &[&[usize]],
    sample_size: usize,
    seed: u64,
) -> Vec<Option<SilhouetteSummary>> {
    let n = labelings.iter().map(|l| l.len()).fold(data.nrows(), usize::min);
    if n < 3 || labelings.is_empty() {
        return vec![None; labelings.len()];
    }
    let idx = sample_indices(n, sample_size.max(3), seed);
    let m = idx.len();
    let sampled: Vec<Labeling> = labelings
        .iter()
        .map(|l| Labeling::of(&idx.iter().map(|&i| l[i]).collect::<Vec<_>>()))
        .collect();
    let measured: Vec<&Labeling> = sampled.iter().filter(|l| l.k >= 2 && l.k < m).collect();
    let values = if measured.is_empty() {
        Vec::new()
    } else {
        let x = data.select(Axis(0), &idx);
        point_silhouettes(row_major(x.view()).view(), &measured)
    };
    let mut values = values.into_iter();
    labelings
        .iter()
        .zip(&sampled)
        .map(|(labels, s)| {
            if s.k < 2 || s.k >= m {
                return None;
            }
            let per_point = values.next()?;
            Some(summarize(&per_point, s, &labels[..n], &idx))
        })
        .collect()
}

/// One labeling on the sample: labels renumbered 0.. in increasing order of value.
struct Labeling {
    /// Dense label of every sample point.
    dense: Vec<usize>,
    /// Distinct labels.
    k: usize,
    /// Sample points per dense label.
    sizes: Vec<usize>,
    /// The original label value of every dense label.
    values: Vec<usize>,
}

impl Labeling {
    fn of(labels: &[usize]) -> Self {
        let mut values = labels.to_vec();
        values.sort_unstable();
        values.dedup();
        let dense: Vec<usize> = labels.iter().map(|l| values.partition_point(|v| v < l)).collect();
        let mut sizes = vec![0; values.len()];
        dense.iter().for_each(|&l| sizes[l] += 1);
        Labeling { dense, k: values.len(), sizes, values }
    }
}

/// Mean (block sums added in order) and per-cluster means of one labeling's point silhouettes.
fn summarize(s: &[f64], labeling: &Labeling, labels: &[usize], idx: &[usize]) -> SilhouetteSummary {
    let mut sum = vec![0.0; labeling.k];
    let mut count = vec![0usize; labeling.k];
    for (v, &l) in s.iter().zip(&labeling.dense) {
        sum[l] += v;
        count[l] += 1;
    }
    let max_label = labels.iter().copied().max().unwrap_or(0);
    let mut per_cluster = vec![None; max_label + 1];
    for (d, &value) in labeling.values.iter().enumerate() {
        per_cluster[value] = Some(sum[d] / count[d] as f64);
    }
    let m = idx.len();
    let mean = s.chunks(BLOCK_ROWS).map(|c| c.iter().sum::<f64>()).sum::<f64>() / m as f64;
    SilhouetteSummary { mean, per_cluster, points_used: m }
}

/// The sample ordered by cell: `order[p]` is the sample point at position p, `cell_start[c]` the
/// first position of cell c (one more entry: the end), and `cluster_of[t][c]` the label of cell
/// c in labeling t.
struct Cells {
    order: Vec<usize>,
    cell_start: Vec<usize>,
    cluster_of: Vec<Vec<usize>>,
}

impl Cells {
    fn of(labelings: &[&Labeling], m: usize) -> Self {
        let key = |i: usize| labelings.iter().map(move |l| l.dense[i]);
        let mut order: Vec<usize> = (0..m).collect();
        order.sort_by(|&a, &b| key(a).cmp(key(b)).then(a.cmp(&b)));
        let mut cell_start = Vec::new();
        let mut cluster_of = vec![Vec::new(); labelings.len()];
        for (p, &i) in order.iter().enumerate() {
            if p == 0 || key(order[p - 1]).ne(key(i)) {
                cell_start.push(p);
                for (t, l) in labelings.iter().enumerate() {
                    cluster_of[t].push(l.dense[i]);
                }
            }
        }
        cell_start.push(m);
        Cells { order, cell_start, cluster_of }
    }

    fn count(&self) -> usize {
        self.cell_start.len() - 1
    }
}

/// Every sample point's silhouette under each labeling (in sample order), `x` the sample's rows.
fn point_silhouettes(x: ArrayView2<'_, f64>, labelings: &[&Labeling]) -> Vec<Vec<f64>> {
    let m = x.nrows();
    let cells = Cells::of(labelings, m);
    let sorted = x.select(Axis(0), &cells.order);
    let rows = sorted.as_slice().unwrap_or(&[]);
    let d = x.ncols();
    let blocks: Vec<Vec<Vec<f64>>> = (0..m.div_ceil(QUERY_BLOCK))
        .into_par_iter()
        .map(|b| {
            let queries = b * QUERY_BLOCK..((b + 1) * QUERY_BLOCK).min(m);
            let sums = cell_sums(rows, d, queries.clone(), &cells);
            queries
                .enumerate()
                .map(|(q, p)| {
                    let own = cells.order[p];
                    labelings
                        .iter()
                        .enumerate()
                        .map(|(t, l)| {
                            let mut cluster = vec![0.0; l.k];
                            for (c, &label) in cells.cluster_of[t].iter().enumerate() {
                                cluster[label] += sums[c * QUERY_BLOCK + q];
                            }
                            point_silhouette(&cluster, &l.sizes, l.dense[own])
                        })
                        .collect()
                })
                .collect()
        })
        .collect();
    let mut out = vec![vec![0.0; m]; labelings.len()];
    for (p, s) in blocks.into_iter().flatten().enumerate() {
        for (t, v) in s.into_iter().enumerate() {
            out[t][cells.order[p]] = v;
        }
    }
    out
}

/// The distance sums from each query (positions `queries` of the cell-ordered `rows`, `d` wide)
/// to every cell: `sums[c * QUERY_BLOCK + q]` for query q of the block and cell c, each the
/// cell's distances added in position order.
fn cell_sums(rows: &[f64], d: usize, queries: std::ops::Range<usize>, cells: &Cells) -> Vec<f64> {
    let width = queries.len();
    let block = &rows[queries.start * d..queries.end * d];
    let mut sums = vec![0.0; cells.count() * QUERY_BLOCK];
    let mut dist = [0.0; QUERY_BLOCK];
    for (c, run) in cells.cell_start.windows(2).enumerate() {
        let acc = &mut sums[c * QUERY_BLOCK..c * QUERY_BLOCK + width];
        for p in run[0]..run[1] {
            dists_to_rows(&rows[p * d..(p + 1) * d], block, &mut dist[..width]);
            acc.iter_mut().zip(&dist).for_each(|(a, v)| *a += v);
        }
    }
    sums
}

/// s = (b - a) / max(a, b) from the distance sums of one point to every cluster.
fn point_silhouette(sums: &[f64], sizes: &[usize], own: usize) -> f64 {
    if sizes[own] <= 1 {
        return 0.0;
    }
    let a = sums[own] / (sizes[own] - 1) as f64;
    let b = (0..sums.len())
        .filter(|&l| l != own && sizes[l] > 0)
        .map(|l| sums[l] / sizes[l] as f64)
        .fold(f64::INFINITY, f64::min);
    let denom = a.max(b);
    if denom > 0.0 && denom.is_finite() { (b - a) / denom } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::cluster::synthetic::synthetic_blobs;
    use ndarray::array;

    /// The definition, one point at a time: every pairwise distance in f64, summed per cluster.
    fn by_definition(x: ArrayView2<'_, f64>, labels: &[usize]) -> Vec<f64> {
        let n = x.nrows();
        let dist = |i: usize, j: usize| {
            x.row(i).iter().zip(x.row(j)).map(|(a, b)| (a - b) * (a - b)).sum::<f64>().sqrt()
        };
        (0..n)
            .map(|i| {
                let mean_to = |l: usize, skip: bool| {
                    let members: Vec<usize> =
                        (0..n).filter(|&j| labels[j] == l && !(skip && j == i)).collect();
                    members.iter().map(|&j| dist(i, j)).sum::<f64>() / members.len() as f64
                };
                if labels.iter().filter(|&&l| l == labels[i]).count() == 1 {
                    return 0.0;
                }
                let a = mean_to(labels[i], true);
                let mut others: Vec<usize> = labels.to_vec();
                others.sort_unstable();
                others.dedup();
                let b = others
                    .into_iter()
                    .filter(|&l| l != labels[i])
                    .map(|l| mean_to(l, false))
                    .fold(f64::INFINITY, f64::min);
                (b - a) / a.max(b)
            })
            .collect()
    }

    #[test]
    fn point_silhouettes_follow_the_definition() {
        // 70 points (blocks of 32: two full, one of 6), three labelings whose cells cut across
        // each other's clusters, one with a singleton cluster.
        let (x, truth) = synthetic_blobs(70, 3, 3, 2.0, 4);
        let halves: Vec<usize> = (0..70).map(|i| usize::from(i % 2 == 0) * 5).collect();
        let mut single = truth.clone();
        single[17] = 9;
        let labels = [truth, halves, single];
        let sampled: Vec<Labeling> = labels.iter().map(|l| Labeling::of(l)).collect();
        let refs: Vec<&Labeling> = sampled.iter().collect();
        let got = point_silhouettes(x.view(), &refs);
        for (t, l) in labels.iter().enumerate() {
            let want = by_definition(x.view(), l);
            for i in 0..70 {
                assert!((got[t][i] - want[i]).abs() < 1e-12, "labeling {t}, point {i}");
            }
        }
        assert_eq!(got[2][17], 0.0);
    }

    #[test]
    fn summaries_of_many_labelings_equal_each_one_alone() {
        let (x, truth) = synthetic_blobs(900, 4, 4, 3.0, 6);
        let thirds: Vec<usize> = (0..900).map(|i| 10 + i % 3).collect();
        let labelings: Vec<&[usize]> = vec![&truth, &thirds, &[4; 900]];
        for sample in [10_000, 300] {
            let all = silhouette_summaries(x.view(), &labelings, sample, 5);
            for (labels, got) in labelings.iter().zip(&all) {
                let alone = silhouette_summary(x.view(), labels, sample, 5);
                match (alone, got) {
                    (Some(w), Some(g)) => {
                        assert!((w.mean - g.mean).abs() < 1e-12, "{} vs {}", w.mean, g.mean);
                        assert_eq!(w.points_used, g.points_used);
                        assert_eq!(w.per_cluster.len(), g.per_cluster.len());
                        for (a, b) in w.per_cluster.iter().zip(&g.per_cluster) {
                            assert_eq!(a.is_some(), b.is_some());
                            assert!((a.unwrap_or(0.0) - b.unwrap_or(0.0)).abs() < 1e-12);
                        }
                    }
                    (w, g) => assert_eq!(&w, g),
                }
            }
            assert_eq!(all[2], None);
            assert_eq!(all[1].as_ref().unwrap().per_cluster[..10], [None; 10]);
        }
    }

    #[test]
    fn same_silhouettes_on_one_and_two_threads() {
        let (x, truth) = synthetic_blobs(500, 5, 3, 2.5, 1);
        let other: Vec<usize> = truth.iter().enumerate().map(|(i, l)| (l + i % 5) % 4).collect();
        let labelings: Vec<&[usize]> = vec![&truth, &other];
        let on = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| silhouette_summaries(x.view(), &labelings, 400, 2))
        };
        assert_eq!(on(1), on(2));
    }

    #[test]
    fn renamed_summaries_follow_the_labels() {
        let summary = SilhouetteSummary {
            mean: 0.25,
            per_cluster: vec![Some(0.5), None, Some(-0.1)],
            points_used: 5,
        };
        // 0 -> 3, 2 -> 0: cluster 3 takes 0's value, 0 takes 2's; 1 and 2 carry no label.
        let renamed = summary.renamed(&[0, 2, 2, 0, 0], &[3, 0, 0, 3, 3]).unwrap();
        assert_eq!(renamed.per_cluster, vec![Some(-0.1), None, None, Some(0.5)]);
        assert_eq!((renamed.mean, renamed.points_used), (0.25, 5));
        // Not renamings: a label split in two, two labels merged, different lengths.
        assert_eq!(summary.renamed(&[0, 2, 2, 0, 0], &[3, 0, 1, 3, 3]), None);
        assert_eq!(summary.renamed(&[0, 2, 2, 0, 0], &[1, 1, 1, 1, 1]), None);
        assert_eq!(summary.renamed(&[0, 2], &[0, 2, 2]), None);
    }

    #[test]
    fn hand_computed_cells() {
        // Labelings [0, 0, 1, 1] and [0, 1, 1, 1] of 0, 1, 4, 5: cells (0, 0) = {0},
        // (0, 1) = {1}, (1, 1) = {4, 5}; the first labeling's clusters are cells 0 + 1 and 2.
        let a = Labeling::of(&[0, 0, 1, 1]);
        let b = Labeling::of(&[3, 7, 7, 7]);
        let cells = Cells::of(&[&a, &b], 4);
        assert_eq!(cells.order, vec![0, 1, 2, 3]);
        assert_eq!(cells.cell_start, vec![0, 1, 2, 4]);
        assert_eq!(cells.cluster_of, vec![vec![0, 0, 1], vec![0, 1, 1]]);
        // The textbook silhouette of x = 0, 1 | 4, 5 is 94/126 (see metrics' tests); the second
        // labeling {0} {1, 4, 5}: point 0 alone (0); 1: a = (3 + 4) / 2, b = 1, s = (1 - 3.5)
        // / 3.5; 4: a = (3 + 1) / 2 = 2, b = 4, s = 0.5; 5: a = (4 + 1) / 2, b = 5, s = 0.5.
        let x = array![[0.0], [1.0], [4.0], [5.0]];
        let s = silhouette_summaries(x.view(), &[&[0, 0, 1, 1], &[3, 7, 7, 7]], 100, 0);
        let mean = |t: usize| s[t].as_ref().unwrap().mean;
        assert!((mean(0) - 94.0 / 126.0).abs() < 1e-15);
        assert!((mean(1) - (-2.5 / 3.5 + 0.5 + 0.5) / 4.0).abs() < 1e-15);
    }
}
