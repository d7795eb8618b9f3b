//! Planted Gaussian blobs (tests, benchmarks) and fixed-seed row samples (GUI previews).

use super::{sample_indices, seeded_rng};
use ndarray::{Array2, ArrayView2, Axis};
use rand::Rng;

/// `n` points in `d` dimensions around `centers` planted centres (drawn uniformly in
/// [-10, 10]^d), point i belonging to centre `i % centers`, with independent Gaussian noise of
/// standard deviation `spread` on every coordinate. Returns the matrix and the true labels.
/// `centers` 0 is treated as 1.
pub fn synthetic_blobs(
    n: usize,
    d: usize,
    centers: usize,
    spread: f64,
    seed: u64,
) -> (Array2<f64>, Vec<usize>) {
    let centers = centers.max(1);
    let mut rng = seeded_rng(seed);
    let middles = Array2::from_shape_fn((centers, d), |_| rng.gen_range(-10.0..10.0));
    let labels: Vec<usize> = (0..n).map(|i| i % centers).collect();
    let mut x = Array2::zeros((n, d));
    for (i, mut row) in x.outer_iter_mut().enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            *v = middles[[labels[i], j]] + spread * standard_normal(&mut rng);
        }
    }
    (x, labels)
}

/// One draw of N(0, 1) by the Box-Muller transform.
fn standard_normal(rng: &mut impl Rng) -> f64 {
    let u1: f64 = 1.0 - rng.r#gen::<f64>(); // in (0, 1], so ln(u1) is finite
    let u2: f64 = rng.r#gen::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// A fixed-seed sample of at most `size` rows (all rows, in order, when there are fewer).
pub fn sample_rows(data: ArrayView2<'_, f64>, size: usize, seed: u64) -> Array2<f64> {
    let idx = sample_indices(data.nrows(), size, seed);
    data.select(Axis(0), &idx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_are_reproducible_and_centred() {
        let (a, la) = synthetic_blobs(4000, 3, 4, 0.5, 7);
        let (b, lb) = synthetic_blobs(4000, 3, 4, 0.5, 7);
        assert_eq!((a.clone(), la.clone()), (b, lb));
        // Within-blob standard deviation is `spread`: 1000 points per blob give a sample std
        // within a few percent of 0.5.
        let rows: Vec<usize> = (0..4000).filter(|i| la[*i] == 0).collect();
        let col = a.select(Axis(0), &rows).column(0).to_owned();
        let std = col.std(1.0);
        assert!((std - 0.5).abs() < 0.05, "std {std}");
        assert_eq!(sample_rows(a.view(), 10, 1).nrows(), 10);
        assert_eq!(sample_rows(a.view(), 10_000, 1), a);
    }
}
