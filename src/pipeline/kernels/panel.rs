//! The distance kernel of DBSCAN's blocks (`cluster::blocks`) and of the map's kNN graph
//! (`embed::knn`): squared distances from a few query points to one block of points, in f32,
//! without a general matrix product.
//!
//! A block's points are stored once, transposed, as a *panel*: row `j` holds coordinate `j` of
//! every point of the block, padded to a multiple of [`TILE`] points. A query row `q` (length
//! `dims`) times the panel gives one value per point; with the rows both callers write
//! (`[x, 1, |x|^2]` against `[-2y, |y|^2, 1]`) that value is the squared distance.
//!
//! Why not GEMM: a block is at most 256 points and the queries of one block pair are often a
//! handful, so a general matrix product spends as long packing its operands as multiplying them
//! (measured: packing 25% and the kernel 16% of exact DBSCAN at 100k). Here nothing is packed:
//! on x86-64 CPUs with AVX2 and FMA (checked at run time) two queries at a time sweep a tile of
//! 32 points with eight 8-lane accumulators; elsewhere a plain loop runs. The two differ only in
//! f32 rounding, which every caller already allows for (decisions within the f32 margin of a
//! threshold are re-checked with the exact f64 distance), so results never depend on it.

/// Points per tile: panel widths are padded to a multiple of it.
pub(crate) const TILE: usize = 32;

/// Width of a block of `points` points in its panel.
pub(crate) fn padded_width(points: usize) -> usize {
    points.div_ceil(TILE) * TILE
}

/// Writes one block's panel: `dims` rows of `padded_width(points.len())` values, row `j` holding
/// `coordinate(point, j)` of every point, and `padding` for the padded columns.
pub(crate) fn write_panel(
    out: &mut Vec<f32>,
    points: std::ops::Range<usize>,
    dims: usize,
    coordinate: impl Fn(usize, usize) -> f32,
    padding: impl Fn(usize) -> f32,
) {
    let width = padded_width(points.len());
    for j in 0..dims {
        out.extend(points.clone().map(|p| coordinate(p, j)));
        out.extend(std::iter::repeat_n(padding(j), width - points.len()));
    }
}

/// Products of `queries` (each `dims` long, `dims` = the panel's rows) with a panel of `width`
/// columns (a multiple of [`TILE`]): `out[i * width + c]` = query i times column c. `out` holds
/// at least `queries.len() * width` values.
pub(crate) fn products(queries: &[&[f32]], panel: &[f32], width: usize, out: &mut [f32]) {
    assert!(width.is_multiple_of(TILE) && out.len() >= queries.len() * width);
    assert!(queries.iter().all(|q| q.len() * width == panel.len()));
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        for (pair, out) in queries.chunks(2).zip(out.chunks_mut(2 * width)) {
            // SAFETY: the CPU supports AVX2 and FMA (checked just above); the lengths were
            // checked on entry.
            unsafe { avx2::pair_times_panel(pair, panel, width, out) };
        }
        return;
    }
    products_portable(queries, panel, width, out);
}

/// The same products in plain Rust (any CPU; the compiler vectorises what it can).
fn products_portable(queries: &[&[f32]], panel: &[f32], width: usize, out: &mut [f32]) {
    for (q, out) in queries.iter().zip(out.chunks_mut(width)) {
        out[..width].fill(0.0);
        for (&v, row) in q.iter().zip(panel.chunks_exact(width)) {
            for (o, &p) in out.iter_mut().zip(row) {
                *o += v * p;
            }
        }
    }
}

/// The kernel for x86-64 with AVX2 and FMA: one or two queries against the panel, a tile of 32
/// columns at a time in eight 8-lane accumulators (four per query), so every panel value loaded
/// serves both queries and no accumulator leaves its register.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::TILE;
    use std::arch::x86_64::{
        __m256, _mm256_fmadd_ps, _mm256_loadu_ps, _mm256_set1_ps, _mm256_setzero_ps,
        _mm256_storeu_ps,
    };

    const LANES: usize = 8;

    /// `pair` is one or two queries of `panel.len() / width` values; `out` holds at least
    /// `pair.len() * width` values.
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA, and `width` must be a multiple of [`TILE`].
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn pair_times_panel(
        pair: &[&[f32]],
        panel: &[f32],
        width: usize,
        out: &mut [f32],
    ) {
        let (qa, qb) = (pair[0], pair.get(1).copied().unwrap_or(pair[0]));
        let dims = qa.len().min(qb.len()).min(panel.len() / width.max(1));
        for c in (0..width).step_by(TILE) {
            let mut a = [_mm256_setzero_ps(); 4];
            let mut b = [_mm256_setzero_ps(); 4];
            // Column c..c + TILE of row j lies at j * width + c: inside `panel` for
            // j < dims <= panel.len() / width, as c + TILE <= width.
            let mut tile = panel.as_ptr().wrapping_add(c);
            for (&va, &vb) in qa[..dims].iter().zip(&qb[..dims]) {
                let (va, vb) = (_mm256_set1_ps(va), _mm256_set1_ps(vb));
                // SAFETY: `tile` points at TILE = 4 x LANES values of the current row (see above).
                let (x0, x1, x2, x3) = unsafe {
                    (
                        _mm256_loadu_ps(tile),
                        _mm256_loadu_ps(tile.wrapping_add(LANES)),
                        _mm256_loadu_ps(tile.wrapping_add(2 * LANES)),
                        _mm256_loadu_ps(tile.wrapping_add(3 * LANES)),
                    )
                };
                a[0] = _mm256_fmadd_ps(va, x0, a[0]);
                a[1] = _mm256_fmadd_ps(va, x1, a[1]);
                a[2] = _mm256_fmadd_ps(va, x2, a[2]);
                a[3] = _mm256_fmadd_ps(va, x3, a[3]);
                b[0] = _mm256_fmadd_ps(vb, x0, b[0]);
                b[1] = _mm256_fmadd_ps(vb, x1, b[1]);
                b[2] = _mm256_fmadd_ps(vb, x2, b[2]);
                b[3] = _mm256_fmadd_ps(vb, x3, b[3]);
                // One row further: inside `panel` while rows remain; after the last row it is
                // one row past the tile and never read.
                tile = tile.wrapping_add(width);
            }
            store_tile(&mut out[c..][..TILE], &a);
            if pair.len() > 1 {
                store_tile(&mut out[width + c..][..TILE], &b);
            }
        }
    }

    #[target_feature(enable = "avx2,fma")]
    fn store_tile(out: &mut [f32], acc: &[__m256; 4]) {
        let out = &mut out[..TILE];
        for (k, &v) in acc.iter().enumerate() {
            // SAFETY: `out` holds TILE = 4 x LANES values.
            unsafe { _mm256_storeu_ps(out.as_mut_ptr().add(k * LANES), v) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Query rows times a panel written from the same points equal the f64 dot products, with
    /// an odd number of queries (the pair loop and the remainder) and a block narrower than its
    /// padded width.
    #[test]
    fn products_equal_dot_products_for_pairs_and_a_remainder() {
        let dims = 5;
        let points: Vec<Vec<f32>> = (0..45)
            .map(|p| (0..dims).map(|j| ((p * 7 + j * 3) % 11) as f32 - 5.0).collect())
            .collect();
        let mut panel = Vec::new();
        write_panel(&mut panel, 0..points.len(), dims, |p, j| points[p][j], |_| 0.0);
        let width = padded_width(points.len());
        assert_eq!(width, 64);
        assert_eq!(panel.len(), dims * width);
        let queries: Vec<Vec<f32>> =
            (0..3).map(|i| (0..dims).map(|j| (i + j) as f32 * 0.5 - 1.0).collect()).collect();
        let rows: Vec<&[f32]> = queries.iter().map(Vec::as_slice).collect();
        let mut out = vec![f32::NAN; rows.len() * width];
        products(&rows, &panel, width, &mut out);
        let mut portable = vec![f32::NAN; rows.len() * width];
        products_portable(&rows, &panel, width, &mut portable);
        for (i, q) in queries.iter().enumerate() {
            for (p, point) in points.iter().enumerate() {
                let want: f64 = q.iter().zip(point).map(|(&a, &b)| a as f64 * b as f64).sum();
                assert_eq!(out[i * width + p] as f64, want, "query {i}, point {p}");
                assert_eq!(portable[i * width + p] as f64, want, "query {i}, point {p}");
            }
            // Padding columns hold zeros here: the products there are 0.
            assert!(out[i * width + 45..(i + 1) * width].iter().all(|&v| v == 0.0));
        }
    }
}
