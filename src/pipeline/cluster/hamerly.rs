//! Lloyd's K-means iterations accelerated with Hamerly's bounds (Hamerly 2010, "Making k-means
//! even faster"): the same sequence of labels and centroids as plain Lloyd from the same start,
//! with most points skipping the K distance computations after the first iterations.
//!
//! Every point keeps an upper bound `u` on the distance to its own centroid and a lower bound `l`
//! on the distance to any other centroid. When the centroids move, `u` grows by its centroid's
//! shift and `l` shrinks by the largest shift of another centroid. A point keeps its label without
//! any distance computation when `u` < max(`l`, half the gap from its centroid to the nearest other
//! one); otherwise `u` is made exact, and only if that does not settle it are all K distances
//! computed. Decisions within rounding of a bound are always recomputed, so the labels are the
//! nearest centroid's (lowest index on ties), as Lloyd's.
//!
//! The M-step computes every centroid from all its members, block by block in a fixed order (as
//! Lloyd does), so the centroids are exactly Lloyd's for the same labels and do not depend on the
//! number of threads; a block's partial sums are kept from one iteration to the next and summed
//! again only when one of its labels changed ([`BlockSums`]), which gives the same totals. Empty
//! clusters are repaired as scikit-learn does (see [`super::kmeans`]); convergence is Lloyd's:
//! labels unchanged, or total squared centroid shift at most `tol`.

use super::sqdist::{sq_dist4, sq_dists_to_rows};
use super::{BLOCK_ROWS, ClusterError};
use crate::pipeline::progress::Progress;
use ndarray::{Array2, ArrayView2};
use rayon::prelude::*;

/// Relative margin under which a bound is not trusted and the distance is computed instead.
const BOUND_SLACK: f64 = 1e-9;

/// The outcome of the iterations: final centroids, each point's nearest of them, iterations run.
pub(super) struct Converged {
    pub centroids: Array2<f64>,
    pub labels: Vec<usize>,
    pub n_iter: usize,
}

/// Per-point state of the bounds.
struct Bounds {
    labels: Vec<usize>,
    upper: Vec<f64>,
    lower: Vec<f64>,
}

/// Centroids whose distances [`nearest_two`] computes in one call of the kernel.
const CENTROID_BATCH: usize = 16;

/// Nearest and second-nearest centroid of one row: (label, distance, second distance).
fn nearest_two(row: &[f64], c: &[f64], d: usize) -> (usize, f64, f64) {
    let (mut best, mut best_d, mut second_d) = (0, f64::INFINITY, f64::INFINITY);
    let mut dist = [0.0; CENTROID_BATCH];
    for (b, batch) in c.chunks(CENTROID_BATCH * d.max(1)).enumerate() {
        let dist = &mut dist[..batch.len() / d.max(1)];
        sq_dists_to_rows(row, batch, dist);
        for (o, &v) in dist.iter().enumerate() {
            if v < best_d {
                second_d = best_d;
                best = b * CENTROID_BATCH + o;
                best_d = v;
            } else if v < second_d {
                second_d = v;
            }
        }
    }
    (best, best_d.sqrt(), second_d.sqrt())
}

/// Exact nearest centroids for every point, with both bounds tight.
fn assign_all(xs: &[f64], c: &[f64], d: usize) -> Bounds {
    let n = xs.len().checked_div(d).unwrap_or(0);
    let parts: Vec<Vec<(usize, f64, f64)>> = (0..n.div_ceil(BLOCK_ROWS))
        .into_par_iter()
        .map(|b| {
            let (a, e) = (b * BLOCK_ROWS, ((b + 1) * BLOCK_ROWS).min(n));
            (a..e).map(|i| nearest_two(&xs[i * d..(i + 1) * d], c, d)).collect()
        })
        .collect();
    let mut bounds =
        Bounds { labels: Vec::with_capacity(n), upper: Vec::with_capacity(n), lower: vec![] };
    bounds.lower.reserve(n);
    for (l, u, lo) in parts.into_iter().flatten() {
        bounds.labels.push(l);
        bounds.upper.push(u);
        bounds.lower.push(lo);
    }
    bounds
}

/// Half the distance from every centroid to its nearest other centroid.
fn half_gaps(c: &[f64], k: usize, d: usize) -> Vec<f64> {
    (0..k)
        .map(|j| {
            let cj = &c[j * d..(j + 1) * d];
            (0..k)
                .filter(|&o| o != j)
                .map(|o| sq_dist4(cj, &c[o * d..(o + 1) * d]))
                .fold(f64::INFINITY, f64::min)
                .sqrt()
                / 2.0
        })
        .collect()
}

/// One assignment pass using the bounds; points whose bounds do not settle their label get
/// their distances computed. Returns, per block of [`BLOCK_ROWS`] points, whether a label changed.
fn assign_bounded(xs: &[f64], c: &[f64], k: usize, d: usize, bounds: &mut Bounds) -> Vec<bool> {
    let gaps = half_gaps(c, k, d);
    let Bounds { labels, upper, lower } = bounds;
    labels
        .par_chunks_mut(BLOCK_ROWS)
        .zip(upper.par_chunks_mut(BLOCK_ROWS))
        .zip(lower.par_chunks_mut(BLOCK_ROWS))
        .enumerate()
        .map(|(b, ((labels, upper), lower))| {
            let mut changed = false;
            for r in 0..labels.len() {
                let i = b * BLOCK_ROWS + r;
                let row = &xs[i * d..(i + 1) * d];
                let a = labels[r];
                let limit = gaps[a].max(lower[r]) * (1.0 - BOUND_SLACK);
                if upper[r] < limit {
                    continue;
                }
                upper[r] = sq_dist4(row, &c[a * d..(a + 1) * d]).sqrt();
                if upper[r] < limit {
                    continue;
                }
                let (l, u, lo) = nearest_two(row, c, d);
                changed |= l != a;
                labels[r] = l;
                upper[r] = u;
                lower[r] = lo;
            }
            changed
        })
        .collect()
}

/// Member sums (k x d, row-major) and counts of the points `a..e`.
fn block_sums(xs: &[f64], labels: &[usize], (a, e): (usize, usize), k: usize, d: usize) -> Partial {
    let mut sums = vec![0.0; k * d];
    let mut counts = vec![0usize; k];
    for i in a..e {
        let l = labels[i];
        counts[l] += 1;
        let row = &xs[i * d..(i + 1) * d];
        sums[l * d..(l + 1) * d].iter_mut().zip(row).for_each(|(s, v)| *s += v);
    }
    (sums, counts)
}

/// Member sums and counts of one block of points.
type Partial = (Vec<f64>, Vec<usize>);

/// The blocks' partial sums and counts added in block order.
fn add_partials<'p>(parts: impl Iterator<Item = &'p Partial>, k: usize, d: usize) -> Partial {
    let mut sums = vec![0.0; k * d];
    let mut counts = vec![0usize; k];
    for (s, c) in parts {
        sums.iter_mut().zip(s).for_each(|(t, v)| *t += v);
        counts.iter_mut().zip(c).for_each(|(t, v)| *t += v);
    }
    (sums, counts)
}

/// Member sums (k x d, row-major) and counts, summed block by block in a fixed order.
#[cfg(test)]
fn member_sums(xs: &[f64], labels: &[usize], k: usize, d: usize) -> Partial {
    let n = labels.len();
    let parts: Vec<Partial> = (0..n.div_ceil(BLOCK_ROWS))
        .into_par_iter()
        .map(|b| block_sums(xs, labels, (b * BLOCK_ROWS, ((b + 1) * BLOCK_ROWS).min(n)), k, d))
        .collect();
    add_partials(parts.iter(), k, d)
}

/// The M-step's sums kept per block of [`BLOCK_ROWS`] points across iterations: only the blocks
/// where a label changed are summed again, and the totals are the partials added in block order,
/// so they equal a fresh [`block_sums`] of every block bit for bit. Late iterations move few
/// points, so most blocks are reused.
struct BlockSums {
    parts: Vec<Partial>,
    stale: Vec<bool>,
    k: usize,
    d: usize,
}

impl BlockSums {
    fn new(n: usize, k: usize, d: usize) -> Self {
        let blocks = n.div_ceil(BLOCK_ROWS);
        BlockSums { parts: vec![(Vec::new(), Vec::new()); blocks], stale: vec![true; blocks], k, d }
    }

    /// The blocks flagged in `changed` (one flag per block) must be summed again.
    fn mark_blocks(&mut self, changed: &[bool]) {
        self.stale.iter_mut().zip(changed).for_each(|(s, &c)| *s |= c);
    }

    /// Point `i`'s label changed.
    fn mark_point(&mut self, i: usize) {
        self.stale[i / BLOCK_ROWS] = true;
    }

    /// Member sums and counts of `labels`, summing only the stale blocks again.
    fn totals(&mut self, xs: &[f64], labels: &[usize]) -> Partial {
        let (n, k, d) = (labels.len(), self.k, self.d);
        self.parts.par_iter_mut().zip(self.stale.par_iter_mut()).enumerate().for_each(
            |(b, (part, stale))| {
                if *stale {
                    *part = block_sums(
                        xs,
                        labels,
                        (b * BLOCK_ROWS, ((b + 1) * BLOCK_ROWS).min(n)),
                        k,
                        d,
                    );
                    *stale = false;
                }
            },
        );
        add_partials(self.parts.iter(), k, d)
    }
}

/// scikit-learn's repair of empty clusters: each empty cluster takes one of the points farthest
/// from their centroid (farthest first, lowest index on ties), removed from its old cluster.
/// Moved points lose their bounds (they are recomputed in the next pass); returns them.
fn relocate_empty(
    xs: &[f64],
    c: &[f64],
    d: usize,
    bounds: &mut Bounds,
    sums: &mut [f64],
    counts: &mut [usize],
) -> Vec<usize> {
    let empty: Vec<usize> = (0..counts.len()).filter(|&j| counts[j] == 0).collect();
    if empty.is_empty() {
        return Vec::new();
    }
    let n = bounds.labels.len();
    let dist: Vec<f64> = (0..n)
        .into_par_iter()
        .with_min_len(BLOCK_ROWS)
        .map(|i| {
            let l = bounds.labels[i];
            sq_dist4(&xs[i * d..(i + 1) * d], &c[l * d..(l + 1) * d])
        })
        .collect();
    let mut order: Vec<usize> = (0..n).collect();
    let take = empty.len().min(n);
    let by_distance = |a: &usize, b: &usize| dist[*b].total_cmp(&dist[*a]).then(a.cmp(b));
    if take < n {
        order.select_nth_unstable_by(take, by_distance);
    }
    let mut far = order[..take].to_vec();
    far.sort_by(by_distance);
    let mut moved = Vec::with_capacity(take);
    for (&cluster, &p) in empty.iter().zip(&far) {
        let old = bounds.labels[p];
        if counts[old] <= 1 {
            continue; // moving it would only empty another cluster
        }
        for (j, v) in xs[p * d..(p + 1) * d].iter().enumerate() {
            sums[old * d + j] -= v;
            sums[cluster * d + j] = *v;
        }
        counts[old] -= 1;
        counts[cluster] = 1;
        bounds.labels[p] = cluster;
        bounds.upper[p] = f64::INFINITY;
        bounds.lower[p] = 0.0;
        moved.push(p);
    }
    moved
}

/// New centroids from the sums (an empty cluster keeps its centroid); returns each centroid's
/// shift (Euclidean) and the total squared shift.
fn move_centroids(c: &mut [f64], sums: &[f64], counts: &[usize], d: usize) -> (Vec<f64>, f64) {
    let mut shifts = vec![0.0; counts.len()];
    let mut total = 0.0;
    for (j, &count) in counts.iter().enumerate() {
        if count == 0 {
            continue;
        }
        let inv = 1.0 / count as f64;
        let mut sq = 0.0;
        for (cv, s) in c[j * d..(j + 1) * d].iter_mut().zip(&sums[j * d..(j + 1) * d]) {
            let new = s * inv;
            sq += (new - *cv) * (new - *cv);
            *cv = new;
        }
        total += sq;
        shifts[j] = sq.sqrt();
    }
    (shifts, total)
}

/// Loosen the bounds by the centroid shifts (triangle inequality).
fn loosen(bounds: &mut Bounds, shifts: &[f64]) {
    let (mut top, mut top_j, mut second) = (0.0, usize::MAX, 0.0);
    for (j, &s) in shifts.iter().enumerate() {
        if s > top {
            second = top;
            top = s;
            top_j = j;
        } else if s > second {
            second = s;
        }
    }
    let Bounds { labels, upper, lower } = bounds;
    upper
        .par_iter_mut()
        .zip(lower.par_iter_mut())
        .zip(labels.par_iter())
        .with_min_len(BLOCK_ROWS)
        .for_each(|((u, l), &a)| {
            *u += shifts[a];
            *l -= if a == top_j { second } else { top };
        });
}

/// Lloyd iterations from `centroids` (k x d) on the row-major `x`, accelerated by the bounds.
pub(super) fn iterate(
    x: ArrayView2<'_, f64>,
    centroids: Array2<f64>,
    max_iter: usize,
    tol: f64,
    progress: &Progress,
) -> Result<Converged, ClusterError> {
    let (k, d) = centroids.dim();
    let xs = x.as_slice().ok_or(ClusterError::Empty)?;
    let mut c = centroids.as_standard_layout().into_owned().into_raw_vec_and_offset().0;
    let mut bounds = assign_all(xs, &c, d);
    let mut sums_kept = BlockSums::new(bounds.labels.len(), k, d);
    let mut previous: Vec<usize> = Vec::new();
    let mut n_iter = 0;
    for iteration in 0..max_iter {
        progress.check_cancel()?;
        n_iter += 1;
        if iteration > 0 {
            let changed = assign_bounded(xs, &c, k, d, &mut bounds);
            sums_kept.mark_blocks(&changed);
        }
        let (mut sums, mut counts) = sums_kept.totals(xs, &bounds.labels);
        for p in relocate_empty(xs, &c, d, &mut bounds, &mut sums, &mut counts) {
            sums_kept.mark_point(p);
        }
        let (shifts, total_shift) = move_centroids(&mut c, &sums, &counts, d);
        loosen(&mut bounds, &shifts);
        let same_labels = bounds.labels == previous;
        previous.clone_from(&bounds.labels);
        if same_labels || total_shift <= tol {
            break;
        }
    }
    assign_bounded(xs, &c, k, d, &mut bounds);
    let centroids = Array2::from_shape_vec((k, d), c).map_err(|_| ClusterError::Empty)?;
    Ok(Converged { centroids, labels: bounds.labels, n_iter })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::cluster::synthetic::synthetic_blobs;
    use ndarray::{Axis, array};

    /// Plain Lloyd with the same M-step, every distance computed: the reference.
    fn plain_lloyd(x: ArrayView2<'_, f64>, c0: Array2<f64>, max_iter: usize) -> Converged {
        let (k, d) = c0.dim();
        let xs = x.as_slice().unwrap();
        let mut c = c0.into_raw_vec_and_offset().0;
        let mut previous = Vec::new();
        let mut n_iter = 0;
        for _ in 0..max_iter {
            n_iter += 1;
            let mut b = assign_all(xs, &c, d);
            let (mut sums, mut counts) = member_sums(xs, &b.labels, k, d);
            relocate_empty(xs, &c, d, &mut b, &mut sums, &mut counts);
            let _ = move_centroids(&mut c, &sums, &counts, d);
            if b.labels == previous {
                break;
            }
            previous = b.labels;
        }
        let labels = assign_all(xs, &c, d).labels;
        Converged { centroids: Array2::from_shape_vec((k, d), c).unwrap(), labels, n_iter }
    }

    #[test]
    fn same_iterations_as_plain_lloyd() {
        // Overlapping blobs: many points change label over many iterations.
        let (x, _) = synthetic_blobs(3000, 7, 6, 6.0, 3);
        for (k, seed) in [(3, 1u64), (6, 2), (11, 3)] {
            let start = x.select(Axis(0), &crate::pipeline::cluster::sample_indices(3000, k, seed));
            let fast = iterate(x.view(), start.clone(), 300, 0.0, &Progress::none()).unwrap();
            let slow = plain_lloyd(x.view(), start, 300);
            assert!(slow.n_iter > 5, "K={k}: only {} iterations", slow.n_iter);
            assert_eq!(fast.labels, slow.labels, "K={k}");
            assert_eq!(fast.centroids, slow.centroids, "K={k}");
            assert_eq!(fast.n_iter, slow.n_iter, "K={k}");
        }
    }

    #[test]
    fn kept_block_sums_equal_fresh_sums() {
        // 2,600 points: blocks of 1024, 1024 and 552.
        let (x, _) = synthetic_blobs(2600, 5, 4, 3.0, 8);
        let xs = x.as_slice().unwrap();
        let mut labels: Vec<usize> = (0..2600).map(|i| (i * 7 + i / 13) % 4).collect();
        let mut kept = BlockSums::new(2600, 4, 5);
        assert_eq!(kept.totals(xs, &labels), member_sums(xs, &labels, 4, 5));
        // Points of the second block change label; only that block is marked.
        for i in [1500, 1600, 2047] {
            labels[i] = (labels[i] + 1) % 4;
        }
        let stale_sums = kept.totals(xs, &labels);
        assert_ne!(stale_sums, member_sums(xs, &labels, 4, 5), "unmarked blocks are reused");
        kept.mark_blocks(&[false, true, false]);
        assert_eq!(kept.totals(xs, &labels), member_sums(xs, &labels, 4, 5));
        labels[2599] = (labels[2599] + 2) % 4;
        kept.mark_point(2599);
        let (sums, counts) = kept.totals(xs, &labels);
        assert_eq!((sums.clone(), counts.clone()), member_sums(xs, &labels, 4, 5));
        assert_eq!(counts.iter().sum::<usize>(), 2600);
        // The sums are the members' coordinates added up (checked against a plain loop).
        let mut plain = vec![0.0; 20];
        for (i, &l) in labels.iter().enumerate() {
            for j in 0..5 {
                plain[l * 5 + j] += xs[i * 5 + j];
            }
        }
        sums.iter().zip(&plain).for_each(|(a, b)| assert!((a - b).abs() < 1e-9 * (1.0 + b.abs())));
    }

    #[test]
    fn hand_computed_iterations() {
        // 1-D points 0, 1, 2, 10, 11 from centroids 0 and 1: first labels {0} {1, 2, 10, 11},
        // centroids 0 and 6; then {0, 1, 2} {10, 11}: 1 and 10.5; then unchanged.
        let x = array![[0.0], [1.0], [2.0], [10.0], [11.0]];
        let fit = iterate(x.view(), array![[0.0], [1.0]], 100, 0.0, &Progress::none()).unwrap();
        assert_eq!(fit.centroids, array![[1.0], [10.5]]);
        assert_eq!(fit.labels, vec![0, 0, 0, 1, 1]);
        assert_eq!(fit.n_iter, 3);
        // Two identical starting centroids: the second gets no member, so it takes the farthest
        // point from its centroid (11, at 11 from 0), and the rest follows.
        let fit = iterate(x.view(), array![[0.0], [0.0]], 100, 0.0, &Progress::none()).unwrap();
        assert_eq!(fit.centroids, array![[1.0], [10.5]]);
    }
}
