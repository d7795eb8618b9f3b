//! A ball tree for exact Euclidean range and k-nearest-neighbour queries in ~25 dimensions.
//!
//! Nodes split at the median of their widest coordinate (like scikit-learn's BallTree) and are
//! bounded by a ball around their mean. The points are copied into tree order, so a leaf is one
//! contiguous block of memory. A query skips a node when the ball cannot reach the query radius,
//! counts a node whole when the ball lies inside it, and scans leaves with a partial distance
//! that stops as soon as the radius is exceeded. On clustered data (customers) most of the tree
//! is pruned; on structureless data it degrades gracefully to a blocked brute-force scan.

use super::sq_dist;

/// Points per leaf: big enough to amortise the node test, small enough to prune well.
const LEAF_SIZE: usize = 32;

/// Relative slack on pruning tests, so rounding never drops a point at exactly `eps`.
const SLACK: f64 = 1e-9;

struct Node {
    start: usize,
    end: usize,
    radius: f64,
    /// Children node ids; `None` for a leaf.
    children: Option<(usize, usize)>,
}

/// A ball tree over a copy of the points (row-major, tree order).
pub(crate) struct BallTree {
    d: usize,
    points: Vec<f64>,
    /// `order[t]` = original index of the point at tree position `t`.
    order: Vec<usize>,
    nodes: Vec<Node>,
    centers: Vec<f64>,
}

impl BallTree {
    /// Build over `n` rows of `d` values each (`data.len() == n * d`).
    pub(crate) fn build(data: &[f64], d: usize) -> Self {
        let n = data.len().checked_div(d).unwrap_or(0);
        let mut order: Vec<usize> = (0..n).collect();
        let mut tree = BallTree {
            d,
            points: Vec::new(),
            order: Vec::new(),
            nodes: Vec::new(),
            centers: Vec::new(),
        };
        if n > 0 {
            tree.build_node(data, &mut order, 0, n);
        }
        tree.points = Vec::with_capacity(n * d);
        for &i in &order {
            tree.points.extend_from_slice(&data[i * d..(i + 1) * d]);
        }
        tree.order = order;
        tree
    }

    /// Number of points in the tree.
    pub(crate) fn len(&self) -> usize {
        self.order.len()
    }

    /// Original index of the point at tree position `t`.
    pub(crate) fn original_index(&self, t: usize) -> usize {
        self.order[t]
    }

    /// Coordinates of the point at tree position `t`.
    pub(crate) fn point(&self, t: usize) -> &[f64] {
        &self.points[t * self.d..(t + 1) * self.d]
    }

    fn build_node(&mut self, data: &[f64], order: &mut [usize], start: usize, end: usize) -> usize {
        let d = self.d;
        let id = self.nodes.len();
        let members = &mut order[start..end];
        let center = mean_of(data, d, members);
        let radius = members
            .iter()
            .map(|&i| sq_dist(&data[i * d..(i + 1) * d], &center))
            .fold(0.0, f64::max)
            .sqrt();
        self.centers.extend_from_slice(&center);
        self.nodes.push(Node { start, end, radius, children: None });
        if end - start > LEAF_SIZE && radius > 0.0 {
            let dim = widest_dimension(data, d, members);
            let mid = members.len() / 2;
            members.select_nth_unstable_by(mid, |&a, &b| {
                data[a * d + dim].total_cmp(&data[b * d + dim]).then(a.cmp(&b))
            });
            let left = self.build_node(data, order, start, start + mid);
            let right = self.build_node(data, order, start + mid, end);
            self.nodes[id].children = Some((left, right));
        }
        id
    }

    fn center(&self, node: usize) -> &[f64] {
        &self.centers[node * self.d..(node + 1) * self.d]
    }

    /// Number of points within `eps` of `q` (distance <= eps, `q` itself included when it is a
    /// tree point), stopping early once `cap` is reached.
    pub(crate) fn count_within(&self, q: &[f64], eps: f64, cap: usize) -> usize {
        let mut count = 0;
        self.visit_within(q, eps, &mut |block| {
            count += block.len();
            count < cap
        });
        count.min(cap)
    }

    /// Call `f` with the original index of every point within `eps` of `q`.
    pub(crate) fn for_each_within(&self, q: &[f64], eps: f64, mut f: impl FnMut(usize)) {
        self.visit_within(q, eps, &mut |block| {
            for &i in block {
                f(i);
            }
            true
        });
    }

    /// Core of the range queries: hands over blocks of original indices within `eps`; the
    /// callback returns `false` to stop the search.
    fn visit_within(&self, q: &[f64], eps: f64, f: &mut dyn FnMut(&[usize]) -> bool) {
        if self.nodes.is_empty() || eps.is_nan() || eps < 0.0 {
            return;
        }
        let eps_sq = eps * eps;
        let outer = eps * (1.0 + SLACK) + 1e-12;
        let inner = eps * (1.0 - SLACK);
        let mut stack = vec![0usize];
        let mut hits: Vec<usize> = Vec::with_capacity(LEAF_SIZE);
        while let Some(id) = stack.pop() {
            let node = &self.nodes[id];
            let dc = sq_dist(q, self.center(id)).sqrt();
            if dc - node.radius > outer {
                continue;
            }
            if dc + node.radius <= inner {
                if !f(&self.order[node.start..node.end]) {
                    return;
                }
                continue;
            }
            match node.children {
                Some((l, r)) => {
                    stack.push(r);
                    stack.push(l);
                }
                None => {
                    hits.clear();
                    for t in node.start..node.end {
                        if bounded_sq_dist(q, self.point(t), eps_sq) <= eps_sq {
                            hits.push(self.order[t]);
                        }
                    }
                    if !hits.is_empty() && !f(&hits) {
                        return;
                    }
                }
            }
        }
    }

    /// Distance from `q` to its k-th nearest tree point (a tree point counts itself, at
    /// distance 0, like scikit-learn's `kneighbors` on the fitted data). `k` is clamped to
    /// `1..=len`; an empty tree gives `NaN`.
    pub(crate) fn kth_neighbor_distance(&self, q: &[f64], k: usize) -> f64 {
        let n = self.len();
        if n == 0 {
            return f64::NAN;
        }
        let k = k.clamp(1, n);
        // `best` holds the k smallest squared distances seen so far, ascending.
        let mut best = vec![f64::INFINITY; k];
        let mut stack: Vec<(usize, f64)> = vec![(0, 0.0)];
        while let Some((id, lower)) = stack.pop() {
            if lower * lower > best[k - 1] * (1.0 + SLACK) {
                continue;
            }
            let node = &self.nodes[id];
            match node.children {
                Some((l, r)) => {
                    let bl = (sq_dist(q, self.center(l)).sqrt() - self.nodes[l].radius).max(0.0);
                    let br = (sq_dist(q, self.center(r)).sqrt() - self.nodes[r].radius).max(0.0);
                    // Visit the nearer child first: push it last.
                    if bl <= br {
                        stack.push((r, br));
                        stack.push((l, bl));
                    } else {
                        stack.push((l, bl));
                        stack.push((r, br));
                    }
                }
                None => {
                    for t in node.start..node.end {
                        let dist = bounded_sq_dist(q, self.point(t), best[k - 1]);
                        if dist < best[k - 1] {
                            insert_sorted(&mut best, dist);
                        }
                    }
                }
            }
        }
        best[k - 1].sqrt()
    }
}

/// Put `v` into the ascending array `best`, dropping its largest element.
fn insert_sorted(best: &mut [f64], v: f64) {
    let mut i = best.len() - 1;
    while i > 0 && best[i - 1] > v {
        best[i] = best[i - 1];
        i -= 1;
    }
    best[i] = v;
}

/// Squared distance, abandoned (returning a value above `bound`) once it exceeds `bound`.
#[inline]
pub(crate) fn bounded_sq_dist(a: &[f64], b: &[f64], bound: f64) -> f64 {
    let mut s = 0.0;
    for (ca, cb) in a.chunks(8).zip(b.chunks(8)) {
        s += sq_dist(ca, cb);
        if s > bound {
            return s;
        }
    }
    s
}

fn mean_of(data: &[f64], d: usize, members: &[usize]) -> Vec<f64> {
    let mut c = vec![0.0; d];
    for &i in members {
        for (cj, x) in c.iter_mut().zip(&data[i * d..(i + 1) * d]) {
            *cj += x;
        }
    }
    let inv = 1.0 / members.len().max(1) as f64;
    c.iter_mut().for_each(|v| *v *= inv);
    c
}

fn widest_dimension(data: &[f64], d: usize, members: &[usize]) -> usize {
    let mut lo = vec![f64::INFINITY; d];
    let mut hi = vec![f64::NEG_INFINITY; d];
    for &i in members {
        for j in 0..d {
            let v = data[i * d + j];
            lo[j] = lo[j].min(v);
            hi[j] = hi[j].max(v);
        }
    }
    (0..d).max_by(|&a, &b| (hi[a] - lo[a]).total_cmp(&(hi[b] - lo[b])).then(b.cmp(&a))).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::cluster::synthetic::synthetic_blobs;

    #[test]
    fn range_and_knn_queries_match_brute_force() {
        let (x, _) = synthetic_blobs(700, 6, 3, 1.5, 9);
        let data = x.as_slice().unwrap();
        let d = 6;
        let tree = BallTree::build(data, d);
        for q in (0..700).step_by(37) {
            let qrow = &data[q * d..(q + 1) * d];
            let mut dists: Vec<f64> =
                (0..700).map(|j| sq_dist(qrow, &data[j * d..(j + 1) * d])).collect();
            for eps in [0.5, 2.0, 4.0, 100.0] {
                let brute: Vec<usize> = (0..700).filter(|&j| dists[j] <= eps * eps).collect();
                let mut got = Vec::new();
                tree.for_each_within(qrow, eps, |j| got.push(j));
                got.sort_unstable();
                assert_eq!(got, brute, "query {q} eps {eps}");
                assert_eq!(tree.count_within(qrow, eps, 5), brute.len().min(5));
            }
            dists.sort_by(f64::total_cmp);
            for k in [1, 2, 5, 30] {
                assert!((tree.kth_neighbor_distance(qrow, k) - dists[k - 1].sqrt()).abs() < 1e-12);
            }
        }
    }
}
