//! Squared Euclidean distances in f64 from one point to many rows, as K-means and the silhouette
//! compute them: [`sq_dist4`]'s arithmetic (four lane sums of squared differences, combined as
//! `(l0 + l1) + (l2 + l3)`, then the last `d mod 4` coordinates added in order), so every
//! distance is the same to the last bit whichever function computes it.
//!
//! [`sq_dists_to_rows`] is the kernel of the K sweep (k-means++ candidates, the full-K
//! assignments of Lloyd's iterations, the silhouette's pairwise distances). One distance at a
//! time is a chain of dependent additions, so the CPU waits on each; on x86-64 CPUs with AVX
//! (checked at run time) four rows at a time run as four independent 4-lane chains, one 256-bit
//! register each, with the same operations in the same order: separate multiplies and adds (no
//! fused multiply-add, which rounds once instead of twice), so the result equals the plain loop
//! bit for bit on any CPU.

/// Squared Euclidean distance with four independent accumulators (vectorises well).
#[inline]
pub(super) fn sq_dist4(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0; 4];
    let (ca, cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (p, q) in ca.zip(cb) {
        for l in 0..4 {
            let t = p[l] - q[l];
            acc[l] += t * t;
        }
    }
    let mut s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for (p, q) in ra.iter().zip(rb) {
        s += (p - q) * (p - q);
    }
    s
}

/// `out[j]` = [`sq_dist4`]`(point, row j of rows)` for the first `out.len()` rows of `rows`
/// (row-major, `point.len()` wide).
pub(super) fn sq_dists_to_rows(point: &[f64], rows: &[f64], out: &mut [f64]) {
    to_rows::<false>(point, rows, out);
}

/// The Euclidean distances: the square roots of [`sq_dists_to_rows`] (correctly rounded, so
/// also the same on any CPU).
pub(super) fn dists_to_rows(point: &[f64], rows: &[f64], out: &mut [f64]) {
    to_rows::<true>(point, rows, out);
}

/// Squared distances, or distances with `SQRT`.
fn to_rows<const SQRT: bool>(point: &[f64], rows: &[f64], out: &mut [f64]) {
    let d = point.len();
    assert!(rows.len() >= out.len() * d, "{} rows of {d} need {} values", out.len(), rows.len());
    #[cfg(target_arch = "x86_64")]
    if d >= 4 && std::arch::is_x86_feature_detected!("avx") {
        // SAFETY: the CPU supports AVX (checked just above); `rows` holds `out.len()` rows.
        unsafe { avx::to_rows::<SQRT>(point, rows, out) };
        return;
    }
    to_rows_portable::<SQRT>(point, rows, out);
}

/// The same distances one at a time (any CPU).
fn to_rows_portable<const SQRT: bool>(point: &[f64], rows: &[f64], out: &mut [f64]) {
    let d = point.len();
    if d == 0 {
        out.fill(0.0);
        return;
    }
    for (o, row) in out.iter_mut().zip(rows.chunks_exact(d)) {
        let v = sq_dist4(point, row);
        *o = if SQRT { v.sqrt() } else { v };
    }
}

/// The kernel for x86-64 with AVX.
#[cfg(target_arch = "x86_64")]
mod avx {
    use super::sq_dist4;
    use std::arch::x86_64::{
        __m256d, _mm256_add_pd, _mm256_hadd_pd, _mm256_loadu_pd, _mm256_mul_pd,
        _mm256_permute2f128_pd, _mm256_set_pd, _mm256_set1_pd, _mm256_setzero_pd, _mm256_sqrt_pd,
        _mm256_storeu_pd, _mm256_sub_pd,
    };

    /// Rows computed together, one 4-lane accumulator each.
    const GROUP: usize = 4;

    /// [`super::to_rows`] four rows at a time (the last `out.len() mod 4` one at a time with
    /// [`sq_dist4`]).
    ///
    /// # Safety
    /// The CPU must support AVX; `point.len()` >= 4 and `rows` holds `out.len()` rows of it.
    #[target_feature(enable = "avx")]
    pub(super) unsafe fn to_rows<const SQRT: bool>(point: &[f64], rows: &[f64], out: &mut [f64]) {
        let d = point.len();
        let groups = out.len() / GROUP;
        for (g, out) in out.chunks_exact_mut(GROUP).enumerate() {
            let base = &rows[g * GROUP * d..(g + 1) * GROUP * d];
            let four = [&base[..d], &base[d..2 * d], &base[2 * d..3 * d], &base[3 * d..]];
            let mut sums = four_rows(point, four);
            if SQRT {
                sums = _mm256_sqrt_pd(sums);
            }
            // SAFETY: `out` holds GROUP = 4 values.
            unsafe { _mm256_storeu_pd(out.as_mut_ptr(), sums) };
        }
        for (j, o) in out.iter_mut().enumerate().skip(groups * GROUP) {
            let v = sq_dist4(point, &rows[j * d..(j + 1) * d]);
            *o = if SQRT { v.sqrt() } else { v };
        }
    }

    /// The four distances from `point` to `r`, lane j for row j.
    #[inline]
    #[target_feature(enable = "avx")]
    fn four_rows(point: &[f64], r: [&[f64]; GROUP]) -> __m256d {
        let d = point.len();
        let chunks = d / 4;
        assert!(r.iter().all(|row| row.len() == d));
        let mut acc = [_mm256_setzero_pd(); GROUP];
        for c in 0..chunks {
            let at = c * 4;
            // SAFETY: at + 4 <= chunks * 4 <= d, the length of `point` and of every row.
            let p = unsafe { _mm256_loadu_pd(point.as_ptr().add(at)) };
            for (a, row) in acc.iter_mut().zip(&r) {
                // SAFETY: as above.
                let t = _mm256_sub_pd(p, unsafe { _mm256_loadu_pd(row.as_ptr().add(at)) });
                *a = _mm256_add_pd(*a, _mm256_mul_pd(t, t));
            }
        }
        // (l0 + l1) + (l2 + l3) of each row, as sq_dist4 combines its lanes.
        let h01 = _mm256_hadd_pd(acc[0], acc[1]);
        let h23 = _mm256_hadd_pd(acc[2], acc[3]);
        let low = _mm256_permute2f128_pd::<0x20>(h01, h23);
        let high = _mm256_permute2f128_pd::<0x31>(h01, h23);
        let mut s = _mm256_add_pd(low, high);
        for e in chunks * 4..d {
            let t = _mm256_sub_pd(
                _mm256_set1_pd(point[e]),
                _mm256_set_pd(r[3][e], r[2][e], r[1][e], r[0][e]),
            );
            s = _mm256_add_pd(s, _mm256_mul_pd(t, t));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values of many magnitudes, so that any change in the order of operations shows in the
    /// last bits.
    fn awkward(i: usize) -> f64 {
        let x = ((i * 2_654_435_761) % 1_000_003) as f64 / 1_000_003.0;
        (x - 0.5) * 10f64.powi((i % 7) as i32 - 3)
    }

    #[test]
    fn hand_computed_distance() {
        let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0];
        let b = [0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0];
        // 1 + 4 + 4 + 9 + 16 + 25 + 36 = 95.
        assert_eq!(sq_dist4(&a, &b), 95.0);
        assert_eq!(sq_dist4(&[], &[]), 0.0);
        let mut out = [f64::NAN; 2];
        sq_dists_to_rows(&a, &[a, b].concat(), &mut out);
        assert_eq!(out, [0.0, 95.0]);
    }

    #[test]
    fn many_rows_equal_one_at_a_time_bit_for_bit() {
        // Widths around the 4-lane chunks, and row counts around the groups of four.
        for d in [0, 1, 3, 4, 5, 8, 11, 25] {
            let point: Vec<f64> = (0..d).map(|j| awkward(7919 * j + 1)).collect();
            for n in [0, 1, 3, 4, 7, 9, 33] {
                let rows: Vec<f64> = (0..n * d).map(awkward).collect();
                let mut out = vec![f64::NAN; n];
                sq_dists_to_rows(&point, &rows, &mut out);
                let mut portable = vec![f64::NAN; n];
                to_rows_portable::<false>(&point, &rows, &mut portable);
                let mut roots = vec![f64::NAN; n];
                dists_to_rows(&point, &rows, &mut roots);
                for j in 0..n {
                    let want = sq_dist4(&point, &rows[j * d..(j + 1) * d]);
                    assert_eq!(out[j].to_bits(), want.to_bits(), "d {d}, row {j} of {n}");
                    assert_eq!(portable[j].to_bits(), want.to_bits(), "d {d}, row {j} of {n}");
                    assert_eq!(roots[j].to_bits(), want.sqrt().to_bits(), "d {d}, row {j}");
                }
                // Against a plain sum in f64: equal up to rounding.
                for (j, got) in out.iter().enumerate() {
                    let plain: f64 = (0..d).map(|e| (point[e] - rows[j * d + e]).powi(2)).sum();
                    assert!((got - plain).abs() <= 1e-12 * plain.max(1e-300), "{got} vs {plain}");
                }
            }
        }
    }
}
