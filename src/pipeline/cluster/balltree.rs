//! A ball tree that orders points so that nearby points are stored together.
//!
//! Nodes split at the median of their widest coordinate (like scikit-learn's BallTree) and are
//! bounded by a ball around their mean. The points are copied into tree order, so every
//! subtree is one contiguous block of memory; [`super::blocks`] cuts the tree into blocks of
//! nearby points and does the distance work block against block.

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

    /// The tree position of every original index (the inverse of [`Self::original_index`]).
    pub(crate) fn positions(&self) -> Vec<usize> {
        let mut position = vec![0; self.order.len()];
        for (t, &i) in self.order.iter().enumerate() {
            position[i] = t;
        }
        position
    }

    /// Every point in tree order, row-major (`len() * d` values).
    pub(crate) fn points(&self) -> &[f64] {
        &self.points
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

    /// Number of nodes (node 0 is the root; children always have larger ids than parents).
    pub(crate) fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Tree positions `start..end` covered by a node.
    pub(crate) fn node_range(&self, id: usize) -> (usize, usize) {
        (self.nodes[id].start, self.nodes[id].end)
    }

    pub(crate) fn node_radius(&self, id: usize) -> f64 {
        self.nodes[id].radius
    }

    pub(crate) fn node_children(&self, id: usize) -> Option<(usize, usize)> {
        self.nodes[id].children
    }

    /// Centre of a node's bounding ball.
    pub(crate) fn node_center(&self, id: usize) -> &[f64] {
        self.center(id)
    }
}

/// Pruning radii for a query radius `eps`: a ball farther than `outer` cannot hold a point
/// within eps, a ball nearer than `inner` holds only such points (rounding-safe).
pub(crate) fn eps_bounds(eps: f64) -> (f64, f64) {
    (eps * (1.0 + SLACK) + 1e-12, eps * (1.0 - SLACK))
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
    fn every_ball_holds_its_points_and_children_split_the_range() {
        let (x, _) = synthetic_blobs(700, 6, 3, 1.5, 9);
        let tree = BallTree::build(x.as_slice().unwrap(), 6);
        let mut seen: Vec<usize> = (0..700).map(|t| tree.original_index(t)).collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..700).collect::<Vec<_>>());
        for id in 0..tree.node_count() {
            let (s, e) = tree.node_range(id);
            for t in s..e {
                let d = sq_dist(tree.point(t), tree.node_center(id)).sqrt();
                assert!(d <= tree.node_radius(id) * (1.0 + 1e-12));
                // Tree order holds copies of the original rows.
                assert_eq!(tree.point(t), x.row(tree.original_index(t)).as_slice().unwrap());
            }
            match tree.node_children(id) {
                Some((l, r)) => {
                    assert_eq!(
                        (tree.node_range(l).0, tree.node_range(l).1),
                        (s, tree.node_range(r).0)
                    );
                    assert_eq!(tree.node_range(r).1, e);
                    assert!(l > id && r > id);
                }
                None => assert!(e - s <= LEAF_SIZE),
            }
        }
    }
}
