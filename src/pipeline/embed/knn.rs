//! Exact k-nearest-neighbour graph by blocked brute force.
//!
//! Squared distances come from the Gram trick, `|x|^2 + |y|^2 - 2 x.y`, with the products done a
//! tile at a time by ndarray's matrix multiply (an optimised dependency), so the cost is one
//! n x n x d product plus a cheap threshold test per pair. Each query keeps a small sorted list of
//! its best candidates. The kept neighbours' distances are then recomputed directly, so exact
//! duplicates are at distance 0 (the Gram trick would leave ~1e-7 of rounding), and sorted by
//! (distance, index). Query tiles are fixed, independent of the thread count, so the graph is
//! identical whatever the scheduling.

use ndarray::{Array2, ArrayView2, Axis, s};
use rayon::prelude::*;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::{EmbedError, check_matrix};
use crate::pipeline::progress::Progress;

/// Rows of queries handled by one task.
const QUERY_TILE: usize = 256;
/// Reference rows multiplied against a query tile at once (keeps a tile at 4 MB).
const REFERENCE_TILE: usize = 2048;

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
    let norms = squared_norms(data);
    let tiles: Vec<(usize, usize)> =
        (0..n).step_by(QUERY_TILE).map(|start| (start, (start + QUERY_TILE).min(n))).collect();
    let done = AtomicUsize::new(0);
    let tile_results: Vec<(Vec<usize>, Vec<f64>)> = tiles
        .par_iter()
        .map(|&(start, end)| {
            progress.check_cancel()?;
            let result = knn_of_tile(data, &norms, start, end, k);
            let finished = done.fetch_add(1, Ordering::Relaxed) + 1;
            progress.update(0.0, format!("nearest neighbours: {finished}/{} tiles", tiles.len()));
            Ok(result)
        })
        .collect::<Result<_, EmbedError>>()?;

    let mut indices = Vec::with_capacity(n * k);
    let mut distances = Vec::with_capacity(n * k);
    for (tile_indices, tile_distances) in tile_results {
        indices.extend(tile_indices);
        distances.extend(tile_distances);
    }
    Ok(KnnGraph {
        k,
        indices: Array2::from_shape_vec((n, k), indices).map_err(shape_error)?,
        distances: Array2::from_shape_vec((n, k), distances).map_err(shape_error)?,
    })
}

fn shape_error(error: ndarray::ShapeError) -> EmbedError {
    EmbedError::InvalidParameter(format!("internal shape error in kNN: {error}"))
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

/// The k nearest neighbours of rows `start..end`, flattened row-major (indices, distances).
fn knn_of_tile(
    data: ArrayView2<f64>,
    norms: &[f64],
    start: usize,
    end: usize,
    k: usize,
) -> (Vec<usize>, Vec<f64>) {
    let n = data.nrows();
    let rows = end - start;
    let mut best_index = vec![usize::MAX; rows * k];
    let mut best_distance = vec![f64::INFINITY; rows * k];
    if k == 0 {
        return (best_index, best_distance);
    }
    for reference_start in (0..n).step_by(REFERENCE_TILE) {
        let reference_end = (reference_start + REFERENCE_TILE).min(n);
        let tile = squared_distance_tile(data, norms, start..end, reference_start..reference_end);
        for (a, row) in tile.axis_iter(Axis(0)).enumerate() {
            let query = start + a;
            let slots = a * k..(a + 1) * k;
            let (distances, indices) = (&mut best_distance[slots.clone()], &mut best_index[slots]);
            for (b, &candidate) in row.iter().enumerate() {
                let j = reference_start + b;
                if candidate < distances[k - 1] && j != query {
                    insert_sorted(distances, indices, candidate, j);
                }
            }
        }
    }
    refine_exactly(data, start, k, &mut best_index, &mut best_distance);
    (best_index, best_distance)
}

/// Inserts (distance, index) into ascending lists of fixed length, dropping the last entry.
fn insert_sorted(distances: &mut [f64], indices: &mut [usize], distance: f64, index: usize) {
    let mut position = distances.len() - 1;
    while position > 0 && distances[position - 1] > distance {
        distances[position] = distances[position - 1];
        indices[position] = indices[position - 1];
        position -= 1;
    }
    distances[position] = distance;
    indices[position] = index;
}

/// Replaces the Gram-trick distances of the kept neighbours by directly computed Euclidean
/// distances and re-sorts each list by (distance, index).
fn refine_exactly(
    data: ArrayView2<f64>,
    start: usize,
    k: usize,
    indices: &mut [usize],
    distances: &mut [f64],
) {
    let mut pairs: Vec<(f64, usize)> = Vec::with_capacity(k);
    for (a, (row_indices, row_distances)) in
        indices.chunks_mut(k).zip(distances.chunks_mut(k)).enumerate()
    {
        let query = data.row(start + a);
        pairs.clear();
        pairs.extend(row_indices.iter().map(|&j| {
            let squared: f64 = query.iter().zip(data.row(j)).map(|(x, y)| (x - y) * (x - y)).sum();
            (squared.sqrt(), j)
        }));
        pairs.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
        for (slot, &(distance, j)) in pairs.iter().enumerate() {
            row_distances[slot] = distance;
            row_indices[slot] = j;
        }
    }
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
        // 2,100 points span nine query tiles and two reference tiles (256 and 2,048 rows).
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
        let data = Array2::from_shape_fn((2100, 4), |_| rng.gen_range(-1.0..1.0));
        let graph = exact_knn(data.view(), 5, &Progress::none()).unwrap();
        let (indices, distances) = brute_force(data.view(), 5);
        assert_eq!(graph.indices, indices);
        assert!(graph.distances.iter().zip(&distances).all(|(a, b)| (a - b).abs() < 1e-12));
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
