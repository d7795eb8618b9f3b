//! Blocks of nearby points for exact range computations by matrix products.
//!
//! In 25 dimensions a ball tree cannot prune single points well: a range query still touches
//! most of the data, and a scalar distance loop is slow. So the points are cut into blocks of
//! at most [`BLOCK_POINTS`] (subtrees of the ball tree, contiguous in tree order, each with its
//! bounding ball). Two blocks are compared only when their balls come within eps; a pair whose
//! balls lie entirely within eps needs no distances at all; the remaining pairs get all their
//! distances from the panel kernel ([`panel`]: the block's points stored transposed, no
//! GEMM packing), as `|x|^2 - 2 x.y + |y|^2` in f32. Pairs within rounding distance of eps are
//! re-checked exactly, so the result is the same as comparing exact distances with `<= eps`.
//!
//! Balls prune poorly in 25 dimensions, so every block also has a bounding box along the data's
//! first principal directions (estimated on a fixed subset of the points): the distance between
//! two points is at least the distance between their projections on orthonormal directions, so
//! the gap between a point's (or a block's) projection and a block's box is a second lower
//! bound, and a block is compared only when both bounds come within eps.

use super::balltree::{BallTree, eps_bounds};
use super::sq_dist;
use crate::pipeline::embed::knn::{f32_margin, insert_sorted};
use crate::pipeline::embed::pca::symmetric_eigen;
use crate::pipeline::kernels::panel::{self, padded_width};
use ndarray::{Array2, ArrayView2, Axis, s};
use rayon::prelude::*;

/// Largest block (a multiple of the panel's tile).
pub(crate) const BLOCK_POINTS: usize = 256;

/// Queries whose distances to one block are computed at once (a few KB of results).
const QUERY_CHUNK: usize = 8;

/// Principal directions the bounding boxes are taken along.
const BOX_DIMS: usize = 10;

/// Points the principal directions are estimated from (every m-th point in tree order).
const PCA_POINTS: usize = 20_000;

/// Relative allowance for rounding in the projections (far above f64 error, far below eps).
const BOX_SLACK: f64 = 1e-9;

/// The blocks of a ball tree.
pub(crate) struct Blocks<'a> {
    pub tree: &'a BallTree,
    /// Tree positions `start..end` of each block.
    pub ranges: Vec<(usize, usize)>,
    centers: Vec<f64>,
    pub radius: Vec<f64>,
    /// Squared norm of every point, by tree position.
    norms: Vec<f64>,
    /// Every point as a query row `[x, 1, |x|^2]` (tree order), and every block as a panel of
    /// target columns `[-2x, |x|^2, 1]` ([`panel`]): their products are squared
    /// distances. In f32, which doubles the speed; every decision within the f32 rounding
    /// margin of the threshold is re-checked with the exact f64 distance.
    query_side: Vec<f32>,
    panels: Vec<f32>,
    /// Where each block's panel starts in `panels`.
    panel_start: Vec<usize>,
    d: usize,
    /// Every point projected on the principal directions (tree order), and per block the
    /// lowest and highest projection on each (`BOX_DIMS` values per block, or fewer for d < 10).
    projected: Vec<f64>,
    box_dims: usize,
    box_low: Vec<f64>,
    box_high: Vec<f64>,
    /// Rounding allowance of the box bounds: BOX_SLACK x (1 + the largest point norm).
    box_slack: f64,
}

/// Orthonormal principal directions (d x min(d, BOX_DIMS), largest variance first) of an evenly
/// spaced subset of the tree's points.
fn principal_directions(tree: &BallTree, d: usize) -> Array2<f64> {
    let n = tree.len();
    let p = d.min(BOX_DIMS);
    if n == 0 || d == 0 {
        return Array2::zeros((d, p));
    }
    let rows: Vec<usize> = (0..n).step_by(n.div_ceil(PCA_POINTS)).collect();
    let x = Array2::from_shape_fn((rows.len(), d), |(i, j)| tree.point(rows[i])[j]);
    let mean = x.mean_axis(Axis(0)).unwrap_or_else(|| ndarray::Array1::zeros(d));
    let centred = &x - &mean;
    let (values, vectors) = symmetric_eigen(centred.t().dot(&centred));
    let mut order: Vec<usize> = (0..d).collect();
    order.sort_by(|&a, &b| values[b].total_cmp(&values[a]).then(a.cmp(&b)));
    Array2::from_shape_fn((d, p), |(j, k)| vectors[[j, order[k]]])
}

impl<'a> Blocks<'a> {
    /// The highest tree nodes with at most [`BLOCK_POINTS`] points.
    pub(crate) fn new(tree: &'a BallTree) -> Self {
        let d = if tree.len() > 0 { tree.point(0).len() } else { 0 };
        let mut b = Blocks {
            tree,
            ranges: Vec::new(),
            centers: Vec::new(),
            radius: Vec::new(),
            norms: Vec::new(),
            query_side: Vec::new(),
            panels: Vec::new(),
            panel_start: Vec::new(),
            d,
            projected: Vec::new(),
            box_dims: 0,
            box_low: Vec::new(),
            box_high: Vec::new(),
            box_slack: 0.0,
        };
        let mut stack = if tree.node_count() > 0 { vec![0] } else { Vec::new() };
        while let Some(id) = stack.pop() {
            let (s, e) = tree.node_range(id);
            match tree.node_children(id) {
                Some((l, r)) if e - s > BLOCK_POINTS => {
                    stack.push(r);
                    stack.push(l);
                }
                _ => {
                    b.ranges.push((s, e));
                    b.centers.extend_from_slice(tree.node_center(id));
                    b.radius.push(tree.node_radius(id));
                }
            }
        }
        let norms: Vec<f64> =
            (0..tree.len()).map(|t| tree.point(t).iter().map(|v| v * v).sum()).collect();
        b.query_side = (0..tree.len())
            .flat_map(|t| {
                let point = tree.point(t).iter().map(|&v| v as f32);
                point.chain([1.0, norms[t] as f32])
            })
            .collect();
        b.write_panels(&norms);
        b.box_slack = BOX_SLACK * (1.0 + norms.iter().fold(0.0, |a: f64, &v| a.max(v)).sqrt());
        b.norms = norms;
        b.add_boxes();
        b
    }

    /// Every block's target columns `[-2x, |x|^2, 1]` as a panel (padding columns 0).
    fn write_panels(&mut self, norms: &[f64]) {
        let (tree, d) = (self.tree, self.d);
        let target = |t: usize, j: usize| match j {
            j if j < d => (-2.0 * tree.point(t)[j]) as f32,
            j if j == d => norms[t] as f32,
            _ => 1.0,
        };
        let total: usize = self.ranges.iter().map(|&(s, e)| padded_width(e - s) * (d + 2)).sum();
        self.panels = Vec::with_capacity(total);
        for &(s, e) in &self.ranges {
            self.panel_start.push(self.panels.len());
            panel::write_panel(&mut self.panels, s..e, d + 2, target, |_| 0.0);
        }
    }

    /// Project every point on the principal directions and bound each block by a box there.
    fn add_boxes(&mut self) {
        let (n, d) = (self.tree.len(), self.d);
        let directions = principal_directions(self.tree, d);
        let points = ArrayView2::from_shape((n, d), self.tree.points()).expect("n x d points");
        let projected = points.dot(&directions);
        let p = directions.ncols();
        for &(s, e) in &self.ranges {
            for k in 0..p {
                let column = projected.slice(s![s..e, k]);
                self.box_low.push(column.iter().fold(f64::INFINITY, |a, &v| a.min(v)));
                self.box_high.push(column.iter().fold(f64::NEG_INFINITY, |a, &v| a.max(v)));
            }
        }
        self.projected = projected.iter().copied().collect();
        self.box_dims = p;
    }

    /// Lower bound on the distance from the point at tree position `t` to block `b`'s points,
    /// from the boxes (less the rounding allowance).
    fn box_gap_of_point(&self, t: usize, b: usize) -> f64 {
        let p = self.box_dims;
        let x = &self.projected[t * p..(t + 1) * p];
        let (low, high) = (&self.box_low[b * p..(b + 1) * p], &self.box_high[b * p..(b + 1) * p]);
        let gap_sq: f64 = x
            .iter()
            .zip(low.iter().zip(high))
            .map(|(&v, (&lo, &hi))| (lo - v).max(v - hi).max(0.0).powi(2))
            .sum();
        gap_sq.sqrt() - self.box_slack
    }

    /// Lower bound on the distance between the points of blocks `a` and `b`, from the boxes.
    fn box_gap_of_blocks(&self, a: usize, b: usize) -> f64 {
        let p = self.box_dims;
        let gap_sq: f64 = (0..p)
            .map(|k| {
                let (la, ha) = (self.box_low[a * p + k], self.box_high[a * p + k]);
                let (lb, hb) = (self.box_low[b * p + k], self.box_high[b * p + k]);
                (lb - ha).max(la - hb).max(0.0).powi(2)
            })
            .sum();
        gap_sq.sqrt() - 2.0 * self.box_slack
    }

    pub(crate) fn len(&self) -> usize {
        self.ranges.len()
    }

    pub(crate) fn center(&self, b: usize) -> &[f64] {
        &self.centers[b * self.d..(b + 1) * self.d]
    }

    /// Every block with the lower bound of the distance between its points and block `q`'s
    /// (from the two balls) and the upper bound, nearest first (ties by block id).
    pub(crate) fn by_lower_bound(&self, q: usize) -> Vec<(usize, f64, f64)> {
        let cq = self.center(q);
        let mut out: Vec<(usize, f64, f64)> = (0..self.len())
            .map(|t| {
                let dist = sq_dist(cq, self.center(t)).sqrt();
                let reach = self.radius[q] + self.radius[t];
                let lower = (dist - reach).max(self.box_gap_of_blocks(q, t)).max(0.0);
                (t, lower, dist + reach)
            })
            .collect();
        out.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
        out
    }

    /// Blocks whose ball comes within `eps` of block `q`'s ball, nearest first, with whether
    /// the two balls lie entirely within eps of each other.
    pub(crate) fn reachable(&self, q: usize, eps: f64) -> Vec<(usize, bool)> {
        let (outer, inner) = eps_bounds(eps);
        self.by_lower_bound(q)
            .into_iter()
            .take_while(|&(_, lower, _)| lower <= outer)
            .map(|(t, _, upper)| (t, upper <= inner))
            .collect()
    }

    /// Block holding tree position `t`.
    fn block_of(&self, t: usize) -> usize {
        self.ranges.partition_point(|&(_, e)| e <= t)
    }

    /// Distance from the point at each tree position in `positions` to its k-th nearest point
    /// (itself counted first; k clamped to 1..=n). Blocks are searched nearest first and a
    /// block is skipped once its ball is farther than every query's current k-th distance.
    pub(crate) fn kth_distances(&self, positions: &[usize], k: usize) -> Vec<f64> {
        let n = self.tree.len();
        if n == 0 {
            return vec![f64::NAN; positions.len()];
        }
        let k = k.clamp(1, n);
        let mut by_block: Vec<Vec<usize>> = vec![Vec::new(); self.len()];
        for (i, &t) in positions.iter().enumerate() {
            by_block[self.block_of(t)].push(i);
        }
        let found: Vec<Vec<(usize, f64)>> = (0..self.len())
            .into_par_iter()
            .map(|q| {
                let own: Vec<usize> = by_block[q].iter().map(|&i| positions[i]).collect();
                let kth = self.kth_in_block(q, &own, k);
                by_block[q].iter().copied().zip(kth).collect()
            })
            .collect();
        let mut out = vec![0.0; positions.len()];
        for (i, v) in found.into_iter().flatten() {
            out[i] = v;
        }
        out
    }

    /// k-th neighbour distances of the points `own` of block `q`.
    fn kth_in_block(&self, q: usize, own: &[usize], k: usize) -> Vec<f64> {
        if own.is_empty() {
            return Vec::new();
        }
        // Per query: the k smallest (squared distance, position) seen, ascending.
        let mut best: Vec<Vec<(f64, usize)>> =
            vec![vec![(f64::INFINITY, usize::MAX); k]; own.len()];
        for (t, lower, _) in self.by_lower_bound(q) {
            let worst = best.iter().map(|b| b[k - 1].0).fold(0.0, f64::max);
            if lower * lower > worst * (1.0 + 1e-9) {
                break;
            }
            let (ct, rt) = (self.center(t), self.radius[t]);
            let rows: Vec<usize> = (0..own.len())
                .filter(|&i| {
                    let ball = sq_dist(self.tree.point(own[i]), ct).sqrt() - rt;
                    let lb = ball.max(self.box_gap_of_point(own[i], t)).max(0.0);
                    lb * lb <= best[i][k - 1].0 * (1.0 + 1e-9)
                })
                .collect();
            if rows.is_empty() {
                continue;
            }
            let queries: Vec<usize> = rows.iter().map(|&i| own[i]).collect();
            let ts = self.ranges[t].0;
            let max_tn = self.max_norm(t);
            self.distance_rows(self, &queries, t, |i, row| {
                let b = &mut best[rows[i]];
                let q = self.tree.point(queries[i]);
                let margin = f32_margin(self.norms[queries[i]] + max_tn);
                for (j, &v) in row.iter().enumerate() {
                    // Candidates by the f32 value, ranked by the exact distance.
                    if (v as f64) < b[k - 1].0 + margin {
                        let exact = sq_dist(q, self.tree.point(ts + j));
                        if exact < b[k - 1].0 {
                            insert_sorted(b, (exact, ts + j));
                        }
                    }
                }
            });
        }
        // Report the exact distance to the k-th neighbour found.
        own.iter()
            .zip(&best)
            .map(|(&p, b)| sq_dist(self.tree.point(p), self.tree.point(b[k - 1].1)).sqrt())
            .collect()
    }

    /// The positions among `positions` whose point comes within eps of block `t`'s ball.
    pub(crate) fn near_block(&self, positions: &[usize], t: usize, eps: f64) -> Vec<usize> {
        self.near_block_indices(positions, t, eps).into_iter().map(|i| positions[i]).collect()
    }

    /// Like [`Self::near_block`], but the indices into `positions` rather than the positions.
    pub(crate) fn near_block_indices(&self, positions: &[usize], t: usize, eps: f64) -> Vec<usize> {
        let (outer, _) = eps_bounds(eps);
        let (ct, rt) = (self.center(t), self.radius[t]);
        (0..positions.len())
            .filter(|&i| self.box_gap_of_point(positions[i], t) <= outer)
            .filter(|&i| sq_dist(self.tree.point(positions[i]), ct).sqrt() - rt <= outer)
            .collect()
    }

    /// The query row (see the `query_side` field) of tree position `p`.
    fn query_row(&self, p: usize) -> &[f32] {
        &self.query_side[p * (self.d + 2)..(p + 1) * (self.d + 2)]
    }

    /// Largest squared norm of block `t`'s points.
    fn max_norm(&self, t: usize) -> f64 {
        let (ts, te) = self.ranges[t];
        self.norms[ts..te].iter().fold(0.0, |a: f64, &b| a.max(b))
    }

    /// f32 squared distances from the points at tree positions `positions` of `queries` (these
    /// blocks or another tree's, of the same dimension) to every point of block `t`:
    /// `each(i, row)` for the i-th position, `row[j]` for the block's j-th point.
    fn distance_rows(
        &self,
        queries: &Blocks<'_>,
        positions: &[usize],
        t: usize,
        mut each: impl FnMut(usize, &[f32]),
    ) {
        let (ts, te) = self.ranges[t];
        let width = padded_width(te - ts);
        let start = self.panel_start[t];
        let panel = &self.panels[start..start + width * (self.d + 2)];
        let mut out = vec![0.0f32; QUERY_CHUNK.min(positions.len()) * width];
        let mut rows: [&[f32]; QUERY_CHUNK] = [&[]; QUERY_CHUNK];
        for (c, chunk) in positions.chunks(QUERY_CHUNK).enumerate() {
            for (row, &p) in rows.iter_mut().zip(chunk) {
                *row = queries.query_row(p);
            }
            panel::products(&rows[..chunk.len()], panel, width, &mut out);
            for (i, row) in out.chunks_exact(width).take(chunk.len()).enumerate() {
                each(c * QUERY_CHUNK + i, &row[..te - ts]);
            }
        }
    }

    /// Call `f(query index, target position)` for every query (tree positions `queries`) and
    /// point of block `t` within eps.
    pub(crate) fn pairs_within(
        &self,
        queries: &[usize],
        t: usize,
        eps: f64,
        mut f: impl FnMut(usize, usize),
    ) {
        let (ts, te) = self.ranges[t];
        if queries.is_empty() || te <= ts {
            return;
        }
        #[cfg(test)]
        PAIRS.fetch_add((queries.len() * (te - ts)) as u64, std::sync::atomic::Ordering::Relaxed);
        let eps_sq = eps * eps;
        let max_tn = self.max_norm(t);
        self.distance_rows(self, queries, t, |qi, row| {
            let tol = f32_margin(self.norms[queries[qi]] + max_tn + eps_sq);
            let (lo, hi) = ((eps_sq - tol) as f32, (eps_sq + tol) as f32);
            let q = self.tree.point(queries[qi]);
            for (j, &v) in row.iter().enumerate() {
                if v <= hi && (v < lo || sq_dist(q, self.tree.point(ts + j)) <= eps_sq) {
                    f(qi, ts + j);
                }
            }
        });
    }
}

impl Blocks<'_> {
    /// The lowest of `labels` (indexed by tree position) in each block.
    pub(crate) fn min_label_per_block(&self, labels: &[u32]) -> Vec<u32> {
        self.ranges
            .iter()
            .map(|&(s, e)| labels[s..e].iter().copied().min().unwrap_or(u32::MAX))
            .collect()
    }

    /// Ball-ball lower bound between block `q` of `queries` and every block of `self`, for the
    /// blocks within eps, nearest first (ties by block id).
    fn reachable_from(&self, queries: &Blocks<'_>, q: usize, eps: f64) -> Vec<usize> {
        let (outer, _) = eps_bounds(eps);
        let cq = queries.center(q);
        let mut near: Vec<(usize, f64)> = (0..self.len())
            .map(|t| {
                let gap = sq_dist(cq, self.center(t)).sqrt() - queries.radius[q] - self.radius[t];
                (t, gap.max(0.0))
            })
            .filter(|&(_, lower)| lower <= outer)
            .collect();
        near.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
        near.into_iter().map(|(t, _)| t).collect()
    }

    /// The scan both cross-tree queries share. For block `q` of `queries`: every block `t` of
    /// this tree within eps of it (nearest first), the query positions `p` whose state
    /// `open(state, t)` keeps and whose point comes within eps of t's ball, and their f32 squared
    /// distances to t's points: `each(state, p, t's first position, row, (lo, hi))`, where below
    /// `lo` a distance is surely within eps and above `hi` surely not (between, the f64 distance
    /// decides). `state` holds one entry per point of block `q`; the scan stops once `done`.
    // The three closures are the two queries' only differences: a struct would only rename them.
    #[allow(clippy::too_many_arguments)]
    fn scan_cross<S>(
        &self,
        queries: &Blocks<'_>,
        q: usize,
        eps: f64,
        state: &mut [S],
        done: impl Fn(&[S]) -> bool,
        open: impl Fn(&S, usize) -> bool,
        mut each: impl FnMut(&mut S, usize, usize, &[f32], (f32, f32)),
    ) {
        let (qs, qe) = queries.ranges[q];
        let (outer, _) = eps_bounds(eps);
        let eps_sq = eps * eps;
        for t in self.reachable_from(queries, q, eps) {
            if done(state) {
                break;
            }
            let (ct, rt) = (self.center(t), self.radius[t]);
            let rows: Vec<usize> = (qs..qe)
                .filter(|&p| open(&state[p - qs], t))
                .filter(|&p| sq_dist(queries.tree.point(p), ct).sqrt() - rt <= outer)
                .collect();
            if rows.is_empty() {
                continue;
            }
            let ts = self.ranges[t].0;
            let max_tn = self.max_norm(t);
            self.distance_rows(queries, &rows, t, |i, row| {
                let p = rows[i];
                let tol = f32_margin(queries.norms[p] + max_tn + eps_sq);
                let window = ((eps_sq - tol) as f32, (eps_sq + tol) as f32);
                each(&mut state[p - qs], p, ts, row, window);
            });
        }
    }

    /// For every point of block `q` of another tree's blocks (`queries`), the lowest `label`
    /// (indexed by tree position of `self`) among this tree's points within eps; `None` when no
    /// point is within eps. A block is searched for a query only while it may still lower that
    /// query's label (`min_label` of the block below the query's best), so a query that found
    /// label 0 stops. Exact: decisions within f32 rounding of eps are re-checked in f64.
    pub(crate) fn lowest_labels_within(
        &self,
        queries: &Blocks<'_>,
        q: usize,
        labels: &[u32],
        min_label: &[u32],
        eps: f64,
    ) -> Vec<Option<u32>> {
        let (qs, qe) = queries.ranges[q];
        let eps_sq = eps * eps;
        let mut best = vec![u32::MAX; qe - qs];
        self.scan_cross(
            queries,
            q,
            eps,
            &mut best,
            |best| best.iter().all(|&b| b == 0),
            |&b, t| b > min_label[t],
            |b, p, ts, row, (lo, hi)| {
                let point = queries.tree.point(p);
                for (j, &v) in row.iter().enumerate() {
                    if labels[ts + j] < *b
                        && v <= hi
                        && (v < lo || sq_dist(point, self.tree.point(ts + j)) <= eps_sq)
                    {
                        *b = labels[ts + j];
                    }
                }
            },
        );
        best.into_iter().map(|b| (b != u32::MAX).then_some(b)).collect()
    }

    /// For every point of block `q` of another tree's blocks (`queries`), the tree position of
    /// this tree's nearest point within eps (exact f64 squared distances; ties: the lowest
    /// original index), or `None` when no point is within eps.
    pub(crate) fn nearest_within(
        &self,
        queries: &Blocks<'_>,
        q: usize,
        eps: f64,
    ) -> Vec<Option<usize>> {
        let (qs, qe) = queries.ranges[q];
        let eps_sq = eps * eps;
        let mut best: Vec<Option<(f64, usize)>> = vec![None; qe - qs];
        let closer = |d2: f64, t: usize, best: Option<(f64, usize)>| {
            let original = self.tree.original_index(t);
            best.is_none_or(|(bd, bt)| {
                d2 < bd || (d2 == bd && original < self.tree.original_index(bt))
            })
        };
        self.scan_cross(
            queries,
            q,
            eps,
            &mut best,
            |_| false,
            |_, _| true,
            |b, p, ts, row, (_, hi)| {
                let point = queries.tree.point(p);
                for (j, _) in row.iter().enumerate().filter(|&(_, &v)| v <= hi) {
                    let d2 = sq_dist(point, self.tree.point(ts + j));
                    if d2 <= eps_sq && closer(d2, ts + j, *b) {
                        *b = Some((d2, ts + j));
                    }
                }
            },
        );
        best.into_iter().map(|b| b.map(|(_, t)| t)).collect()
    }
}

/// Pairs evaluated by [`Blocks::pairs_within`] (benchmarks).
#[cfg(test)]
pub(crate) static PAIRS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::cluster::synthetic::synthetic_blobs;

    #[test]
    fn principal_boxes_never_overestimate_a_distance() {
        // 25 dimensions: the boxes use 10 of them, so they are a real projection.
        let (x, _) = synthetic_blobs(2000, 25, 4, 3.0, 6);
        let tree = BallTree::build(x.as_slice().unwrap(), 25);
        let blocks = Blocks::new(&tree);
        assert_eq!(blocks.box_dims, 10);
        let min_dist = |t: usize, b: usize| {
            let (s, e) = blocks.ranges[b];
            (s..e)
                .map(|u| sq_dist(tree.point(t), tree.point(u)).sqrt())
                .fold(f64::INFINITY, f64::min)
        };
        let mut pruning = 0;
        for b in 0..blocks.len() {
            for t in (0..tree.len()).step_by(37) {
                let gap = blocks.box_gap_of_point(t, b);
                assert!(gap <= min_dist(t, b), "point {t}, block {b}");
                pruning += usize::from(gap > 1.0);
            }
            for a in 0..blocks.len() {
                let (s, e) = blocks.ranges[a];
                let nearest = (s..e).map(|t| min_dist(t, b)).fold(f64::INFINITY, f64::min);
                assert!(blocks.box_gap_of_blocks(a, b) <= nearest, "blocks {a}, {b}");
            }
        }
        // The bound is not trivially zero: it separates points from other blobs' blocks.
        assert!(pruning > 0);
    }

    #[test]
    fn pairs_and_kth_distances_match_brute_force() {
        // 1500 points: several blocks of at most 256.
        let (x, _) = synthetic_blobs(1500, 7, 3, 2.0, 4);
        let tree = BallTree::build(x.as_slice().unwrap(), 7);
        let blocks = Blocks::new(&tree);
        assert!(blocks.len() >= 6);
        let n = tree.len();
        let exact = |a: usize, b: usize| sq_dist(tree.point(a), tree.point(b));
        let queries: Vec<usize> = (0..n).step_by(97).collect();
        for eps in [1.0, 3.0, 6.0] {
            for b in 0..blocks.len() {
                let (s, e) = blocks.ranges[b];
                let targets: Vec<usize> = (s..e).collect();
                let mut got = Vec::new();
                blocks.pairs_within(&queries, b, eps, |qi, t| got.push((queries[qi], t)));
                let want: Vec<(usize, usize)> = queries
                    .iter()
                    .flat_map(|&q| targets.iter().map(move |&t| (q, t)))
                    .filter(|&(q, t)| exact(q, t) <= eps * eps)
                    .collect();
                assert_eq!(got, want);
            }
        }
        for k in [1, 5, 40] {
            let got = blocks.kth_distances(&queries, k);
            for (&q, g) in queries.iter().zip(&got) {
                let mut d: Vec<f64> = (0..n).map(|t| exact(q, t)).collect();
                d.sort_by(f64::total_cmp);
                assert!((g - d[k - 1].sqrt()).abs() < 1e-9, "k {k}: {g} vs {}", d[k - 1].sqrt());
            }
        }
    }
}
