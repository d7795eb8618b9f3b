//! Exact k-nearest-neighbour graph by blocked brute force.
//!
//! Candidate distances come from the Gram trick in f32: every point is a query row
//! `[x, 1, |x|^2]` and a reference column `[-2x, |x|^2, 1]`, so their product is the squared
//! distance with no pass to add the norms. The references are stored in chunks of
//! [`REFERENCE_CHUNK`] points as panels of the shared kernel ([`panel`]: transposed, no GEMM
//! packing), and a few queries at a time sweep one chunk that stays in the L1 cache. The f32
//! values only select: a reference is a candidate when its value is within the f32 rounding
//! margin of the query's current k-th exact distance, and each candidate's distance is then
//! computed exactly in f64 and ranked by (distance, index). So the neighbours are the exact
//! ones, exact duplicates are at distance 0, ties go to the lower index, and the kept set does
//! not depend on the order candidates arrive in. Query tiles are fixed, independent of the
//! thread count, so the graph is identical whatever the scheduling.

use ndarray::{Array2, ArrayView2, Axis, s};
use rayon::prelude::*;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::{EmbedError, check_matrix};
use crate::pipeline::kernels::panel::{self, padded_width};
use crate::pipeline::progress::Progress;

/// Rows of queries handled by one task.
const QUERY_TILE: usize = 256;

/// The k nearest other points of every point (the point itself excluded).
#[derive(Debug, Clone, PartialEq)]
pub struct KnnGraph {
    /// Neighbours per point (may be lower than asked for when there are few points).
    pub k: usize,
    /// n x k neighbour indices, nearest first; ties by lower index.
    pub indices: Array2<usize>,
    /// n x k Euclidean distances matching `indices`, ascending.
    pub distances: Array2<f64>,
}

/// Exact Euclidean kNN of every row of `data`, excluding the row itself.
///
/// `k` is lowered to `n - 1` when there are fewer points. Checks for cancellation between tiles.
pub fn exact_knn(
    data: ArrayView2<f64>,
    k: usize,
    progress: &Progress,
) -> Result<KnnGraph, EmbedError> {
    let (n, _) = check_matrix(data)?;
    let k = k.min(n - 1);
    let points = GramPoints::new(data);
    let tiles: Vec<(usize, usize)> =
        (0..n).step_by(QUERY_TILE).map(|start| (start, (start + QUERY_TILE).min(n))).collect();
    let done = AtomicUsize::new(0);
    let found: Vec<Vec<Nearest>> = tiles
        .par_iter()
        .map(|&(start, end)| {
            progress.check_cancel()?;
            let nearest = points.knn_of_tile(start, end, k);
            let finished = done.fetch_add(1, Ordering::Relaxed) + 1;
            progress.update(0.0, format!("nearest neighbours: {finished}/{} tiles", tiles.len()));
            Ok(nearest)
        })
        .collect::<Result<_, EmbedError>>()?;

    let mut indices = Array2::zeros((n, k));
    let mut distances = Array2::zeros((n, k));
    for nearest in found.into_iter().flatten() {
        let i = nearest.query;
        for (slot, (j, distance)) in nearest.into_sorted().into_iter().enumerate() {
            indices[[i, slot]] = j;
            distances[[i, slot]] = distance;
        }
    }
    Ok(KnnGraph { k, indices, distances })
}

/// Squared Euclidean norm of every row.
pub(crate) fn squared_norms(data: ArrayView2<f64>) -> Vec<f64> {
    data.axis_iter(Axis(0)).map(|row| row.dot(&row)).collect()
}

/// Squared distances between rows `queries` and rows `references` of `data` (clamped at 0).
pub(crate) fn squared_distance_tile(
    data: ArrayView2<f64>,
    norms: &[f64],
    queries: std::ops::Range<usize>,
    references: std::ops::Range<usize>,
) -> Array2<f64> {
    let q = data.slice(s![queries.clone(), ..]);
    let r = data.slice(s![references.clone(), ..]);
    let mut tile = q.dot(&r.t());
    for (a, mut row) in tile.axis_iter_mut(Axis(0)).enumerate() {
        let qa = norms[queries.start + a];
        for (b, value) in row.iter_mut().enumerate() {
            *value = (qa + norms[references.start + b] - 2.0 * *value).max(0.0);
        }
    }
    tile
}

/// Bound on the f32 rounding error of a Gram-trick squared distance whose two squared norms add
/// up to `scale`: about 30 terms of size up to 2 x scale, each rounded at 2^-24 (6e-8), stay
/// below 4e-6 x scale (the same bound as DBSCAN's blocks). Not finite when the norms are too
/// large for f32 products (then every pair is computed exactly).
pub(crate) fn f32_margin(scale: f64) -> f64 {
    if scale < F32_SAFE_SCALE { 1e-5 * scale + 1e-30 } else { f64::INFINITY }
}

/// Reference points per panel: 256 x 27 f32 values (25 features) are 27 KB, inside the L1
/// cache while the queries of a tile sweep it.
const REFERENCE_CHUNK: usize = 256;

/// Queries whose products with one chunk are computed at once (8 KB of results).
const QUERY_GROUP: usize = 8;

/// Largest sum of squared norms for which the f32 products stay finite (far below f32::MAX).
const F32_SAFE_SCALE: f64 = 1e30;

/// The points in the forms the search needs: f64 rows for exact distances, f32 query rows and
/// reference panels for the candidate products, squared norms for the rounding margins.
struct GramPoints {
    n: usize,
    d: usize,
    /// Row-major n x d copy of the data.
    rows: Vec<f64>,
    norms: Vec<f64>,
    /// Query rows `[x, 1, |x|^2]`, row-major n x (d + 2).
    query_side: Vec<f32>,
    /// The reference columns `[-2x, |x|^2, 1]` of chunk `c` (points `c * REFERENCE_CHUNK..`)
    /// as a panel of d + 2 rows, starting at `c * (d + 2) * REFERENCE_CHUNK`.
    panels: Vec<f32>,
    /// Largest squared norm in each chunk.
    chunk_largest_norm: Vec<f64>,
}

impl GramPoints {
    fn new(data: ArrayView2<f64>) -> Self {
        let (n, d) = data.dim();
        let rows: Vec<f64> = data.iter().copied().collect();
        let norms: Vec<f64> = rows.chunks_exact(d).map(|x| x.iter().map(|v| v * v).sum()).collect();
        let query_side: Vec<f32> = rows
            .chunks_exact(d)
            .zip(&norms)
            .flat_map(|(x, &norm)| x.iter().map(|&v| v as f32).chain([1.0, norm as f32]))
            .collect();
        let reference = |p: usize, j: usize| match j {
            j if j < d => (-2.0 * rows[p * d + j]) as f32,
            j if j == d => norms[p] as f32,
            _ => 1.0,
        };
        let mut panels = Vec::with_capacity(n.next_multiple_of(REFERENCE_CHUNK) * (d + 2));
        let mut chunk_largest_norm = Vec::new();
        for start in (0..n).step_by(REFERENCE_CHUNK) {
            let end = (start + REFERENCE_CHUNK).min(n);
            panel::write_panel(&mut panels, start..end, d + 2, reference, |_| 0.0);
            chunk_largest_norm.push(norms[start..end].iter().fold(0.0_f64, |m, &v| m.max(v)));
        }
        GramPoints { n, d, rows, norms, query_side, panels, chunk_largest_norm }
    }

    fn row(&self, i: usize) -> &[f64] {
        &self.rows[i * self.d..(i + 1) * self.d]
    }

    fn query_row(&self, i: usize) -> &[f32] {
        &self.query_side[i * (self.d + 2)..(i + 1) * (self.d + 2)]
    }

    /// Exact squared distance between points `i` and `j`.
    fn squared_distance(&self, i: usize, j: usize) -> f64 {
        self.row(i).iter().zip(self.row(j)).map(|(a, b)| (a - b) * (a - b)).sum()
    }

    /// The k nearest neighbours of the points `start..end`.
    fn knn_of_tile(&self, start: usize, end: usize, k: usize) -> Vec<Nearest> {
        let mut best: Vec<Nearest> = (start..end).map(|i| Nearest::new(i, k)).collect();
        if k == 0 {
            return best;
        }
        let mut buffer = vec![0.0_f32; QUERY_GROUP * REFERENCE_CHUNK];
        for chunk in 0..self.chunk_largest_norm.len() {
            for group in best.chunks_mut(QUERY_GROUP) {
                self.scan_chunk(group, chunk, &mut buffer);
            }
        }
        best
    }

    /// Offers the points of reference chunk `chunk` to every query of `group`, their f32
    /// products computed into `buffer`.
    fn scan_chunk(&self, group: &mut [Nearest], chunk: usize, buffer: &mut [f32]) {
        let first = chunk * REFERENCE_CHUNK;
        let points = (first + REFERENCE_CHUNK).min(self.n) - first;
        let width = padded_width(points);
        let rows = self.d + 2;
        let panel = &self.panels[first * rows..first * rows + width * rows];
        let mut queries: [&[f32]; QUERY_GROUP] = [&[]; QUERY_GROUP];
        for (query, nearest) in queries.iter_mut().zip(group.iter()) {
            *query = self.query_row(nearest.query);
        }
        panel::products(&queries[..group.len()], panel, width, buffer);
        let largest_norm = self.chunk_largest_norm[chunk];
        for (nearest, values) in group.iter_mut().zip(buffer.chunks_exact(width)) {
            let margin = f32_margin(self.norms[nearest.query] + largest_norm);
            nearest.scan(self, &values[..points], first, margin);
        }
    }
}

/// The k best (exact squared distance, index) of point `query` seen so far, ascending.
struct Nearest {
    query: usize,
    best: Vec<(f64, usize)>,
    /// Largest f32 product that may still hold a neighbour: the k-th exact distance plus the
    /// rounding margin (infinite until k candidates are kept).
    threshold: f32,
}

impl Nearest {
    fn new(query: usize, k: usize) -> Self {
        let empty = (f64::INFINITY, usize::MAX);
        Nearest { query, best: vec![empty; k], threshold: f32::INFINITY }
    }

    fn kth(&self) -> (f64, usize) {
        self.best[self.best.len() - 1]
    }

    /// The f32 threshold for products whose rounding error is below `margin`, rounded up.
    fn threshold_for(&self, margin: f64) -> f32 {
        let limit = self.kth().0 + margin;
        (limit * (1.0 + 1e-6)) as f32
    }

    /// Considers the points `first..first + values.len()`, whose f32 products are `values`
    /// (every one of them when the margin is not finite: the products may have overflowed).
    fn scan(&mut self, points: &GramPoints, values: &[f32], first: usize, margin: f64) {
        if !margin.is_finite() {
            (first..first + values.len()).for_each(|t| self.consider(points, t, margin));
            return;
        }
        self.threshold = self.threshold_for(margin);
        for (b, &value) in values.iter().enumerate() {
            if value <= self.threshold {
                self.consider(points, first + b, margin);
            }
        }
    }

    /// Keeps point `j` if its exact (distance, index) beats the k-th kept.
    fn consider(&mut self, points: &GramPoints, j: usize, margin: f64) {
        if j == self.query {
            return;
        }
        let key = (points.squared_distance(self.query, j), j);
        if key_less(key, self.kth()) {
            insert_sorted(&mut self.best, key);
            self.threshold = self.threshold_for(margin);
        }
    }

    /// (index, Euclidean distance) sorted by (distance, index).
    fn into_sorted(self) -> Vec<(usize, f64)> {
        let mut pairs: Vec<(usize, f64)> =
            self.best.iter().map(|&(d2, j)| (j, d2.sqrt())).collect();
        pairs.sort_by(|x, y| x.1.total_cmp(&y.1).then(x.0.cmp(&y.0)));
        pairs
    }
}

fn key_less(x: (f64, usize), y: (f64, usize)) -> bool {
    x.0 < y.0 || (x.0 == y.0 && x.1 < y.1)
}

/// Inserts `key` into an ascending list of fixed length (by distance, then index), dropping the
/// last entry.
pub(crate) fn insert_sorted(best: &mut [(f64, usize)], key: (f64, usize)) {
    let mut position = best.len() - 1;
    while position > 0 && key_less(key, best[position - 1]) {
        best[position] = best[position - 1];
        position -= 1;
    }
    best[position] = key;
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;
    use rand::{Rng, SeedableRng};
    use rand_xoshiro::Xoshiro256PlusPlus;

    /// Reference: sort all other points by (exact distance, index).
    fn brute_force(data: ArrayView2<f64>, k: usize) -> (Array2<usize>, Array2<f64>) {
        let n = data.nrows();
        let mut indices = Array2::zeros((n, k));
        let mut distances = Array2::zeros((n, k));
        for i in 0..n {
            let mut all: Vec<(f64, usize)> = (0..n)
                .filter(|&j| j != i)
                .map(|j| {
                    let d2: f64 =
                        data.row(i).iter().zip(data.row(j)).map(|(x, y)| (x - y) * (x - y)).sum();
                    (d2.sqrt(), j)
                })
                .collect();
            all.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
            for (slot, &(d, j)) in all.iter().take(k).enumerate() {
                indices[[i, slot]] = j;
                distances[[i, slot]] = d;
            }
        }
        (indices, distances)
    }

    #[test]
    fn matches_brute_force_across_tile_boundaries() {
        // 2,100 points span nine query tiles of 256 and three reference chunks of 1,024.
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
        let data = Array2::from_shape_fn((2100, 4), |_| rng.gen_range(-1.0..1.0));
        let graph = exact_knn(data.view(), 5, &Progress::none()).unwrap();
        let (indices, distances) = brute_force(data.view(), 5);
        assert_eq!(graph.indices, indices);
        assert!(graph.distances.iter().zip(&distances).all(|(a, b)| (a - b).abs() < 1e-12));
    }

    #[test]
    fn ties_go_to_the_lower_index_like_brute_force() {
        // An integer grid with repeated points: many neighbours at exactly equal distances,
        // also across the k-th place, and duplicates at distance 0.
        // 2,300 random points of a 6^4 grid.
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(5);
        let data = Array2::from_shape_fn((2300, 4), |_| f64::from(rng.gen_range(0..6_u8)));
        let graph = exact_knn(data.view(), 9, &Progress::none()).unwrap();
        let (indices, distances) = brute_force(data.view(), 9);
        assert_eq!(graph.indices, indices);
        assert_eq!(graph.distances, distances);
    }

    #[test]
    fn a_block_of_many_equal_points_keeps_the_lowest_indices() {
        // 700 copies of one point among 300 random ones, across tiles: a copy's neighbours are
        // the lowest-index other copies, at distance 0.
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
        let data = Array2::from_shape_fn((1000, 3), |(i, _)| {
            if i % 10 < 7 { 0.5 } else { rng.gen_range(-1.0..1.0) }
        });
        let graph = exact_knn(data.view(), 8, &Progress::none()).unwrap();
        let (indices, distances) = brute_force(data.view(), 8);
        assert_eq!(graph.indices, indices);
        assert_eq!(graph.distances, distances);
        assert_eq!(graph.indices.row(0).to_vec(), vec![1, 2, 3, 4, 5, 6, 10, 11]);
    }

    #[test]
    fn exact_where_f32_products_are_coarse_or_overflow() {
        // Away from the origin the f32 Gram values carry errors (offset 30: about 1e-3, inside
        // the margin), are off by more than the neighbour gaps (3e3), or overflow (1e20).
        for offset in [30.0, 3e3, 1e20] {
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(11);
            let data = Array2::from_shape_fn((600, 5), |_| offset + rng.gen_range(-1.0..1.0));
            let graph = exact_knn(data.view(), 6, &Progress::none()).unwrap();
            let (indices, distances) = brute_force(data.view(), 6);
            assert_eq!(graph.indices, indices, "offset {offset}");
            assert_eq!(graph.distances, distances, "offset {offset}");
        }
    }

    #[test]
    fn duplicates_are_at_distance_zero_and_k_is_capped() {
        let data = array![[1.0, 1.0], [1.0, 1.0], [4.0, 5.0]];
        let graph = exact_knn(data.view(), 10, &Progress::none()).unwrap();
        assert_eq!(graph.k, 2);
        assert_eq!(graph.indices.row(0).to_vec(), vec![1, 2]);
        assert_eq!(graph.distances.row(0).to_vec(), vec![0.0, 5.0]); // 3-4-5 triangle
        assert_eq!(graph.indices.row(2).to_vec(), vec![0, 1]); // tie broken by index

        let single = array![[3.0]];
        let graph = exact_knn(single.view(), 15, &Progress::none()).unwrap();
        assert_eq!((graph.k, graph.indices.dim()), (0, (1, 0)));
    }
}
