//! The k-distance curve, the automatic DBSCAN eps, and the knee of a curve.
//!
//! The k-distance of a point is the distance to its k-th nearest neighbour among all points,
//! itself counted as the first (scikit-learn's `NearestNeighbors(k).fit(X).kneighbors(X)`).
//! Sorted ascending, it is the curve a DBSCAN user reads eps from: a point whose k-distance is
//! at most eps has at least k points within eps, i.e. is a core point for `min_samples = k`.
//! So the (1 - r) quantile of the curve is the eps that makes about (1 - r) of the points core
//! and at most about r of them noise (CLUSTERING.md, phase 1).

use super::balltree::BallTree;
use super::blocks::Blocks;
use super::{flat, row_major, sample_indices};
use ndarray::ArrayView2;

/// Radius used when every sampled k-distance is 0 (each point has k exact duplicates): any
/// positive radius then gives the same clusters, so a tiny one is used.
pub const MIN_EPS: f64 = 1e-9;

/// Sorted k-distances of a fixed-seed sample of `sample_size` points (all points when
/// n <= sample_size), neighbours searched among all points. Empty when n = 0; when k > n the
/// distance to the farthest point is used.
pub fn k_distances(data: ArrayView2<'_, f64>, k: usize, sample_size: usize, seed: u64) -> Vec<f64> {
    let x = row_major(data);
    let tree = BallTree::build(flat(&x), data.ncols());
    k_distances_on_tree(&tree, k, sample_size, seed)
}

/// [`k_distances`] over an already built tree (DBSCAN shares it).
pub(crate) fn k_distances_on_tree(
    tree: &BallTree,
    k: usize,
    sample_size: usize,
    seed: u64,
) -> Vec<f64> {
    let n = tree.len();
    let position_of = tree.positions();
    let positions: Vec<usize> =
        sample_indices(n, sample_size, seed).into_iter().map(|i| position_of[i]).collect();
    let mut kd = Blocks::new(tree).kth_distances(&positions, k);
    kd.sort_by(f64::total_cmp);
    kd
}

/// The automatic eps: the (1 - max_noise_ratio) quantile of the sorted k-distances, with linear
/// interpolation between order statistics (numpy's default). A 0 quantile (heavy duplicates)
/// is replaced by the smallest positive k-distance, or [`MIN_EPS`] when there is none. An empty
/// curve gives [`MIN_EPS`].
pub fn auto_eps(sorted_kdist: &[f64], max_noise_ratio: f64) -> f64 {
    let q = quantile(sorted_kdist, 1.0 - max_noise_ratio.clamp(0.0, 1.0));
    if q > 0.0 { q } else { sorted_kdist.iter().copied().find(|&v| v > 0.0).unwrap_or(MIN_EPS) }
}

/// Sorted k-distances of every point read off its nearest other points: `neighbour_distances`
/// is n x m, each row ascending with the point itself left out, as [`crate::pipeline::embed::exact_knn`]
/// gives it. Both searches are exact and compute a distance the same way (the squared
/// differences summed in feature order, then the square root), so this is [`k_distances`] over
/// every point bit for bit, at no cost when the map's neighbours are known anyway. `None` when
/// the rows hold fewer than the k - 1 other points needed.
pub fn k_distances_from_neighbours(
    neighbour_distances: ArrayView2<'_, f64>,
    k: usize,
) -> Option<Vec<f64>> {
    let n = neighbour_distances.nrows();
    // The point itself is the first of its k nearest (k is at most n, as in `k_distances`).
    let k = k.clamp(1, n.max(1));
    let mut kd = match k {
        1 => vec![0.0; n],
        _ if neighbour_distances.ncols() < k - 1 => return None,
        _ => neighbour_distances.column(k - 2).to_vec(),
    };
    kd.sort_by(f64::total_cmp);
    Some(kd)
}

/// Linear-interpolation quantile of an ascending slice (0 for an empty slice).
pub(crate) fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let pos = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (pos - lo as f64) * (sorted[hi] - sorted[lo])
}

/// Share of points whose k-distance is at most `eps`: the share of DBSCAN core points at that
/// eps (for `min_samples` = k), read off the full-data curve for an instant GUI preview.
pub fn core_share_at(sorted_kdist: &[f64], eps: f64) -> f64 {
    if sorted_kdist.is_empty() {
        return 0.0;
    }
    sorted_kdist.partition_point(|&v| v <= eps) as f64 / sorted_kdist.len() as f64
}

/// Index of the knee of a curve (Kneedle-style): after scaling both axes to [0, 1], the point
/// farthest from the straight line joining the first and last points. Works for rising curves
/// (the k-distance curve) and falling ones (inertia against K). `None` for fewer than 3 points,
/// a flat curve, a straight line or non-finite values.
pub fn knee(curve: &[f64]) -> Option<usize> {
    let m = curve.len();
    if m < 3 || curve.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let (lo, hi) =
        curve.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
    if hi - lo <= 0.0 {
        return None;
    }
    let y = |i: usize| (curve[i] - lo) / (hi - lo);
    let x = |i: usize| i as f64 / (m - 1) as f64;
    // Line through (0, y0) and (1, y1): (y1 - y0) x - y + y0 = 0.
    let (y0, y1) = (y(0), y(m - 1));
    let norm = ((y1 - y0).powi(2) + 1.0).sqrt();
    let distance = |i: usize| ((y1 - y0) * x(i) - y(i) + y0).abs() / norm;
    let (best, best_d) = (1..m - 1)
        .map(|i| (i, distance(i)))
        .fold((0, 0.0), |acc, (i, d)| if d > acc.1 { (i, d) } else { acc });
    if best_d > 1e-9 { Some(best) } else { None }
}

/// At most `max_points` points `[rank, value]` of a sorted curve for plotting, evenly spaced in
/// rank, always keeping the first and last point.
pub fn downsample_curve(sorted: &[f64], max_points: usize) -> Vec<[f64; 2]> {
    let m = sorted.len();
    if m <= max_points.max(2) {
        return sorted.iter().enumerate().map(|(i, &v)| [i as f64, v]).collect();
    }
    let steps = max_points.max(2) - 1;
    (0..=steps)
        .map(|s| {
            let i = (s as f64 * (m - 1) as f64 / steps as f64).round() as usize;
            [i as f64, sorted[i]]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn k_distance_counts_the_point_itself() {
        // Points on a line at 0, 1, 3, 6. k=2: nearest other point -> 1, 1, 2, 3.
        // k=3: second nearest other point: 0 -> 3, 1 -> 2, 3 -> 3 (to 6 or 0), 6 -> 5.
        let x = array![[0.0], [1.0], [3.0], [6.0]];
        assert_eq!(k_distances(x.view(), 1, 100, 0), vec![0.0; 4]);
        assert_eq!(k_distances(x.view(), 2, 100, 0), vec![1.0, 1.0, 2.0, 3.0]);
        assert_eq!(k_distances(x.view(), 3, 100, 0), vec![2.0, 3.0, 3.0, 5.0]);
        // A sample of 2 points still searches among all 4.
        let s = k_distances(x.view(), 2, 2, 5);
        assert_eq!(s.len(), 2);
        assert!(s.iter().all(|v| [1.0, 2.0, 3.0].contains(v)));
        assert!(k_distances(x.slice(ndarray::s![0..0, ..]), 2, 10, 0).is_empty());
    }

    /// The curve read off the map's neighbours equals the one searched for, bit for bit, for
    /// every k the neighbours cover (duplicates included); beyond them there is no answer.
    #[test]
    fn the_curve_from_the_maps_neighbours_is_the_searched_curve() {
        use crate::pipeline::cluster::synthetic_blobs;
        use crate::pipeline::embed::exact_knn;
        use crate::pipeline::progress::Progress;
        let (mut x, _) = synthetic_blobs(700, 6, 4, 1.5, 11);
        for i in 0..40 {
            let copy = x.row(i).to_owned();
            x.row_mut(699 - i).assign(&copy);
        }
        let knn = exact_knn(x.view(), 14, &Progress::none()).unwrap();
        for k in 1..=15 {
            let searched = k_distances(x.view(), k, 700, 3);
            let read = k_distances_from_neighbours(knn.distances.view(), k).unwrap();
            let bits = |v: &[f64]| v.iter().map(|d| d.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&read), bits(&searched), "k = {k}");
        }
        assert_eq!(k_distances_from_neighbours(knn.distances.view(), 16), None);
        let few = array![[0.0], [1.0], [3.0]];
        let knn = exact_knn(few.view(), 14, &Progress::none()).unwrap();
        // k above n: the farthest point, as the search says.
        let read = k_distances_from_neighbours(knn.distances.view(), 9);
        assert_eq!(read, Some(vec![2.0, 3.0, 3.0]));
        assert_eq!(read, Some(k_distances(few.view(), 9, 10, 0)));
    }

    #[test]
    fn auto_eps_is_the_interpolated_quantile() {
        // 0.85 quantile of [1, 2, 3, 4, 5]: position 0.85 * 4 = 3.4 -> 4 + 0.4 * (5 - 4) = 4.4.
        assert!((auto_eps(&[1.0, 2.0, 3.0, 4.0, 5.0], 0.15) - 4.4).abs() < 1e-12);
        // Duplicates: position 0.85 * 9 = 7.65 falls between two zeros -> smallest positive value.
        let dup = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.7];
        assert_eq!(auto_eps(&dup, 0.15), 0.7);
        assert_eq!(auto_eps(&[0.0, 0.0], 0.15), MIN_EPS);
        assert_eq!(auto_eps(&[], 0.15), MIN_EPS);
        // Core share: 3 of 5 values are <= 3.
        assert_eq!(core_share_at(&[1.0, 2.0, 3.0, 4.0, 5.0], 3.0), 0.6);
    }

    #[test]
    fn knee_of_rising_and_falling_curves() {
        // Rising: flat then steep. Scaled y = [0, .05, .1, .15, 1] (x = i/4); chord y = x;
        // distances |x - y| / sqrt2 with |x - y| = [0, .2, .4, .6, 0] -> knee at index 3.
        assert_eq!(knee(&[0.0, 1.0, 2.0, 3.0, 20.0]), Some(3));
        // Falling (inertia): 100, 40, 20, 15, 12, 10 -> scaled [1, .333, .111, .056, .022, 0];
        // chord y = 1 - x with x = i/5: gaps 1 - x - y = [0, .467, .489, .344, .178, 0]
        // -> knee at index 2.
        assert_eq!(knee(&[100.0, 40.0, 20.0, 15.0, 12.0, 10.0]), Some(2));
        assert_eq!(knee(&[1.0, 2.0, 3.0, 4.0]), None); // straight line
        assert_eq!(knee(&[2.0, 2.0, 2.0]), None); // flat
        assert_eq!(knee(&[1.0, 2.0]), None);
        assert_eq!(knee(&[1.0, f64::NAN, 2.0]), None);
    }

    #[test]
    fn downsampling_keeps_ends() {
        let curve: Vec<f64> = (0..5000).map(|i| i as f64).collect();
        let d = downsample_curve(&curve, 1000);
        assert_eq!(d.len(), 1000);
        assert_eq!(d[0], [0.0, 0.0]);
        assert_eq!(d[999], [4999.0, 4999.0]);
        assert_eq!(downsample_curve(&curve[..10], 1000).len(), 10);
    }
}
