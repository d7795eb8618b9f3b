//! Trustworthiness of a low-dimensional view (scikit-learn's `trustworthiness`, exact).
//!
//! `T(k) = 1 - 2 / (n k (2n - 3k - 1)) * sum_i sum_{j in U_k(i)} max(0, r(i, j) - k)`, where
//! `U_k(i)` are the k nearest neighbours of i in the view and `r(i, j)` is the rank of j among
//! i's neighbours in the original space (1 = nearest). 1 means every view neighbour is a true
//! neighbour. Ties in distance are broken by the lower index (scikit-learn leaves them to its
//! sort). Each row costs one pass over the other points with a single comparison for nearly all
//! of them, so the exact value is O(n^2 d), parallel over fixed row tiles, summed as integers.

use ndarray::{Array2, ArrayView2, Axis};
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;

use super::knn::{exact_knn, squared_distance_tile, squared_norms};
use super::{EmbedError, check_matrix};
use crate::pipeline::progress::Progress;

/// Rows of the original-space distance matrix computed at once per task.
const ROW_TILE: usize = 64;

/// Exact trustworthiness of `low` (n x 2 or any width) as a view of `high` (n x d).
///
/// `k` is lowered to the largest value below n / 2 (scikit-learn's requirement); with fewer than
/// 3 points there is no neighbour to misplace and the result is 1. Errors when the row counts
/// differ or a value is not finite.
pub fn trustworthiness(
    high: ArrayView2<f64>,
    low: ArrayView2<f64>,
    k: usize,
) -> Result<f64, EmbedError> {
    if high.nrows() != low.nrows() {
        return Err(EmbedError::RowMismatch { high: high.nrows(), low: low.nrows() });
    }
    let (n, _) = check_matrix(high)?;
    check_matrix(low)?;
    let k = k.min(n.saturating_sub(1) / 2);
    if k == 0 {
        return Ok(1.0);
    }
    let low_neighbours = exact_knn(low, k, &Progress::none())?.indices;
    let norms = squared_norms(high);
    let tiles: Vec<usize> = (0..n).step_by(ROW_TILE).collect();
    let penalty: u64 = tiles
        .par_iter()
        .map(|&start| {
            let end = (start + ROW_TILE).min(n);
            let distances = squared_distance_tile(high, &norms, start..end, 0..n);
            distances
                .axis_iter(Axis(0))
                .enumerate()
                .map(|(a, row)| {
                    let i = start + a;
                    let neighbours = low_neighbours.row(i);
                    let row = row.as_slice().map(<[f64]>::to_vec).unwrap_or_else(|| row.to_vec());
                    rank_penalty(&row, i, neighbours.iter().copied(), k)
                })
                .sum::<u64>()
        })
        .collect::<Vec<u64>>()
        .into_iter()
        .sum();
    let (n, k) = (n as f64, k as f64);
    Ok(1.0 - penalty as f64 * 2.0 / (n * k * (2.0 * n - 3.0 * k - 1.0)))
}

/// Trustworthiness on a fixed-seed subset of `sample_size` points (ranks within the subset).
///
/// The whole data set is used when `sample_size >= n`.
pub fn trustworthiness_sampled(
    high: ArrayView2<f64>,
    low: ArrayView2<f64>,
    k: usize,
    sample_size: usize,
    seed: u64,
) -> Result<f64, EmbedError> {
    let n = high.nrows();
    if sample_size >= n || high.nrows() != low.nrows() {
        return trustworthiness(high, low, k);
    }
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut rows = rand::seq::index::sample(&mut rng, n, sample_size).into_vec();
    rows.sort_unstable();
    let high_subset: Array2<f64> = high.select(Axis(0), &rows);
    let low_subset: Array2<f64> = low.select(Axis(0), &rows);
    trustworthiness(high_subset.view(), low_subset.view(), k)
}

/// `sum_j max(0, r(i, j) - k)` over the view neighbours `j` of point `i`, given i's squared
/// distances to every point in the original space.
fn rank_penalty(
    distances: &[f64],
    i: usize,
    neighbours: impl Iterator<Item = usize>,
    k: usize,
) -> u64 {
    // Keys (distance, index) of the view neighbours, ascending.
    let mut keys: Vec<(f64, usize)> = neighbours.map(|j| (distances[j], j)).collect();
    keys.sort_by(|x, y| key_cmp(*x, *y));
    let Some(&last) = keys.last() else { return 0 };
    // before[p] = points m (not i) with exactly p keys <= their own key, for m below the last key.
    let mut before = vec![0u64; keys.len() + 1];
    for (m, &d) in distances.iter().enumerate() {
        if m == i || key_cmp((d, m), last).is_ge() {
            continue;
        }
        let p = keys.partition_point(|&key| key_cmp(key, (d, m)).is_le());
        before[p] += 1;
    }
    // The t-th key is preceded by every m with p <= t; its rank is that count + 1.
    let mut preceding = 0u64;
    let mut penalty = 0u64;
    for count in before.iter().take(keys.len()) {
        preceding += count;
        let rank = preceding + 1;
        penalty += rank.saturating_sub(k as u64);
    }
    penalty
}

fn key_cmp(x: (f64, usize), y: (f64, usize)) -> std::cmp::Ordering {
    x.0.total_cmp(&y.0).then(x.1.cmp(&y.1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;
    use rand::Rng;

    /// Direct transcription of scikit-learn: full argsort of the original distances.
    fn reference(high: ArrayView2<f64>, low: ArrayView2<f64>, k: usize) -> f64 {
        let n = high.nrows();
        let distance = |x: ArrayView2<f64>, i: usize, j: usize| -> f64 {
            x.row(i).iter().zip(x.row(j)).map(|(a, b)| (a - b) * (a - b)).sum::<f64>()
        };
        let mut total = 0.0;
        for i in 0..n {
            let order = |x: ArrayView2<f64>| {
                let mut others: Vec<usize> = (0..n).filter(|&j| j != i).collect();
                others.sort_by(|&a, &b| {
                    distance(x, i, a).total_cmp(&distance(x, i, b)).then(a.cmp(&b))
                });
                others
            };
            let high_order = order(high);
            for &j in order(low).iter().take(k) {
                let rank = high_order.iter().position(|&m| m == j).unwrap() + 1;
                total += (rank as f64 - k as f64).max(0.0);
            }
        }
        let (n, k) = (n as f64, k as f64);
        1.0 - total * 2.0 / (n * k * (2.0 * n - 3.0 * k - 1.0))
    }

    fn random_points(n: usize, d: usize, seed: u64) -> Array2<f64> {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        Array2::from_shape_fn((n, d), |_| rng.gen_range(-1.0..1.0))
    }

    #[test]
    fn identity_embedding_is_perfectly_trustworthy() {
        let data = random_points(200, 2, 1);
        assert_eq!(trustworthiness(data.view(), data.view(), 5).unwrap(), 1.0);
    }

    #[test]
    fn shuffled_embedding_is_less_trustworthy_and_matches_the_reference() {
        let data = random_points(150, 2, 2);
        let shuffled = random_points(150, 2, 3); // unrelated positions
        let t = trustworthiness(data.view(), shuffled.view(), 5).unwrap();
        let expected = reference(data.view(), shuffled.view(), 5);
        assert!((t - expected).abs() < 1e-12, "{t} vs {expected}");
        // A random view of uniform points scores about 0.5.
        assert!(t < 0.7, "{t}");
    }

    #[test]
    fn small_hand_case() {
        // Original positions 0, 1, 2, 10, 11; the view swaps points 0 and 4. k = 1 (< n/2).
        // View nearest (ties -> lower index) and its original rank from the point:
        //   p0 (at 11): p3 (at 10); original order from 0: p1, p2, p3, p4 -> rank 3, penalty 2
        //   p1 (at 1): p2 and p4 tie at 1 -> p2; original: p0 (1), p2 (1) -> rank 2, penalty 1
        //   p2 (at 2): p1; original nearest of p2 is p1 -> rank 1, penalty 0
        //   p3 (at 10): p0 (at 11); original order from 3: p4, p2, p1, p0 -> rank 4, penalty 3
        //   p4 (at 0): p1 (at 1); original order from 4: p3, p2, p1, p0 -> rank 3, penalty 2
        // Total 8; T = 1 - 8 * 2 / (5 * 1 * (2*5 - 3*1 - 1)) = 1 - 16/30.
        let high = array![[0.0], [1.0], [2.0], [10.0], [11.0]];
        let low = array![[11.0], [1.0], [2.0], [10.0], [0.0]];
        let t = trustworthiness(high.view(), low.view(), 1).unwrap();
        assert!((t - (1.0 - 16.0 / 30.0)).abs() < 1e-12, "{t}");
        assert!((t - reference(high.view(), low.view(), 1)).abs() < 1e-12);
    }

    #[test]
    fn sampled_version_uses_a_fixed_subset() {
        let data = random_points(300, 3, 4);
        let view = data.slice(ndarray::s![.., 0..2]).to_owned();
        let a = trustworthiness_sampled(data.view(), view.view(), 5, 100, 9).unwrap();
        let b = trustworthiness_sampled(data.view(), view.view(), 5, 100, 9).unwrap();
        assert_eq!(a, b);
        assert!(a > 0.5 && a < 1.0, "{a}");
        let full = trustworthiness_sampled(data.view(), view.view(), 5, 1000, 9).unwrap();
        assert_eq!(full, trustworthiness(data.view(), view.view(), 5).unwrap());
    }

    #[test]
    fn degenerate_inputs() {
        let two = array![[0.0, 1.0], [1.0, 0.0]];
        assert_eq!(trustworthiness(two.view(), two.view(), 5).unwrap(), 1.0);
        let three = array![[0.0], [1.0], [2.0]];
        assert_eq!(
            trustworthiness(three.view(), two.view(), 1),
            Err(EmbedError::RowMismatch { high: 3, low: 2 })
        );
        let empty = Array2::<f64>::zeros((0, 2));
        assert_eq!(trustworthiness(empty.view(), empty.view(), 5), Err(EmbedError::NoPoints));
        let same = Array2::<f64>::zeros((10, 3));
        let view = Array2::<f64>::zeros((10, 2));
        assert_eq!(trustworthiness(same.view(), view.view(), 3).unwrap(), 1.0);
    }
}
