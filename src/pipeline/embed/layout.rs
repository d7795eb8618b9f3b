//! The stochastic layout of the UMAP-style map, parallel and deterministic.
//!
//! umap-learn's layout is a sequential pass over the edges per epoch (Gauss-Seidel): each
//! sampled edge `j -> k` pulls `j` and `k` together, then pushes `j` away from a few random
//! points. Done in that order it cannot be split between threads without the result depending
//! on the scheduling. Here the points are cut into fixed blocks of [`BLOCK_POINTS`] consecutive
//! indices (the edges are sorted by head, so each block owns a contiguous run of edges) and every
//! epoch runs the blocks in parallel:
//!
//! - a block moves only its own points: the head `j` of each of its edges, read and written
//!   live in the block, so a point's steps within an epoch compound as in umap-learn;
//! - every other point is read from a copy of the layout taken at the start of the epoch, so no
//!   block sees another block's writes of the same epoch;
//! - the graph is symmetric and both directions of an edge have the same weight, hence the same
//!   schedule: where umap-learn moves `j` once as the head of `j -> k` and once as the tail of
//!   `k -> j`, the block moves it once by twice the (clipped) step;
//! - the negative samples of a block come from its own random stream, seeded by (seed, epoch,
//!   block); the pushes of one edge's negative samples are all computed from the point's
//!   position after the edge's pull and applied together (umap-learn applies them one after
//!   the other), so their powers and divisions overlap instead of waiting for each other;
//!   they are computed in batches of 8, lane by lane (the compiler vectorises the divisions),
//!   and summed in a fixed order;
//! - `d^2` to the power `b` comes from [`PowerOf`] (a table and a polynomial for the run's
//!   fixed `b`), not from `powf`.
//!
//! Nothing depends on the number of threads or on which thread runs which block, so the layout
//! is bit-identical for the same input and seed on any machine with the same float arithmetic.

use rand::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;

use super::EmbedError;
use super::power::PowerOf;
use crate::pipeline::progress::Progress;
use ndarray::Array2;

/// Callback receiving (epochs done, current n x 2 layout) while the layout forms.
pub type EpochCallback<'a> = &'a (dyn Fn(usize, &Array2<f32>) + Sync);

/// The symmetric fuzzy graph as a list of directed edges (both directions present, with the
/// same weight), sorted by (head, tail).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct FuzzyGraph {
    pub head: Vec<u32>,
    pub tail: Vec<u32>,
    pub weight: Vec<f64>,
}

/// How long the layout runs and what it reports.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LayoutRun {
    /// Passes over the edges.
    pub n_epochs: usize,
    /// Seed of the negative samples.
    pub seed: u64,
    /// Call the epoch callback every this many epochs (0 = never).
    pub snapshot_every: usize,
}

/// Points per block: fixed (never derived from the thread count) so that the result is too.
/// 512 gives 40 blocks at 20,000 points, enough to balance two to eight threads.
pub(crate) const BLOCK_POINTS: usize = 512;
/// Negative samples per positive sample (umap-learn's `negative_sample_rate`).
const NEGATIVE_SAMPLE_RATE: f64 = 5.0;
/// Weight of the repulsive term (umap-learn's `repulsion_strength`, gamma).
const REPULSION_STRENGTH: f32 = 1.0;
/// Largest absolute gradient component applied in one step.
const GRADIENT_CLIP: f32 = 4.0;

/// The low-dimensional similarity curve `1 / (1 + a d^(2b))`.
#[derive(Debug, Clone)]
pub(crate) struct Curve {
    a: f32,
    b: f32,
    /// `x^b` for this curve's `b` ([`PowerOf`]: a table and a polynomial, not `powf`).
    power: PowerOf,
}

impl Curve {
    pub(crate) fn new(a: f32, b: f32) -> Self {
        Curve { a, b, power: PowerOf::new(f64::from(b)) }
    }

    /// Attractive gradient coefficient for squared distance `d2` (> 0):
    /// `-2ab d2^(b-1) / (a d2^b + 1)`, with `d2^(b-1)` as `d2^b / d2`.
    #[inline(always)]
    fn attraction(&self, d2: f32) -> f32 {
        let pow_b = self.power.pow(d2);
        -2.0 * self.a * self.b * pow_b / (d2 * (self.a * pow_b + 1.0))
    }

    /// Repulsive gradient coefficient for squared distance `d2` (> 0).
    #[inline(always)]
    fn repulsion(&self, d2: f32) -> f32 {
        2.0 * REPULSION_STRENGTH * self.b / ((0.001 + d2) * (self.a * self.power.pow(d2) + 1.0))
    }
}

/// Epoch bookkeeping of one edge (umap-learn's `epochs_per_sample` schedule), but the epoch of
/// its next sample, which every epoch reads for every edge and so is kept apart
/// ([`EdgeClocks::next_sample`]).
#[derive(Debug, Clone, Copy)]
struct EdgeClock {
    epochs_per_sample: f64,
    epochs_per_negative: f64,
    next_negative: f64,
}

/// The schedules of all edges, in edge order.
struct EdgeClocks {
    /// Epoch at which each edge is next sampled.
    next_sample: Vec<f64>,
    rest: Vec<EdgeClock>,
}

fn edge_clocks(weights: &[f64]) -> EdgeClocks {
    let max = weights.iter().copied().fold(0.0, f64::max);
    let rest: Vec<EdgeClock> = weights
        .iter()
        .map(|&w| {
            let epochs_per_sample = max / w;
            let epochs_per_negative = epochs_per_sample / NEGATIVE_SAMPLE_RATE;
            EdgeClock { epochs_per_sample, epochs_per_negative, next_negative: epochs_per_negative }
        })
        .collect();
    EdgeClocks { next_sample: rest.iter().map(|c| c.epochs_per_sample).collect(), rest }
}

/// Where each block's edges start in the head-sorted edge list (one more entry than blocks).
fn block_edge_starts(head: &[u32], n_vertices: usize) -> Vec<usize> {
    debug_assert!(head.is_sorted(), "edges must be sorted by head");
    (0..n_vertices.div_ceil(BLOCK_POINTS))
        .map(|block| head.partition_point(|&h| (h as usize) < block * BLOCK_POINTS))
        .chain(std::iter::once(head.len()))
        .collect()
}

/// Splits `items` into consecutive pieces at `starts` (as from [`block_edge_starts`]).
fn split_at_starts<'a, T>(mut items: &'a mut [T], starts: &[usize]) -> Vec<&'a mut [T]> {
    let mut pieces = Vec::with_capacity(starts.len().saturating_sub(1));
    for pair in starts.windows(2) {
        let (piece, rest) = items.split_at_mut(pair[1] - pair[0]);
        pieces.push(piece);
        items = rest;
    }
    pieces
}

/// Runs the stochastic layout in place (`layout` is n x 2, row-major).
pub(crate) fn optimize_layout(
    layout: &mut Array2<f32>,
    graph: &FuzzyGraph,
    curve: &Curve,
    params: LayoutRun,
    progress: &Progress,
    on_epoch: Option<EpochCallback<'_>>,
) -> Result<(), EmbedError> {
    let n_vertices = layout.nrows();
    let mut clocks = edge_clocks(&graph.weight);
    let starts = block_edge_starts(&graph.head, n_vertices);
    for epoch in 0..params.n_epochs {
        progress.check_cancel()?;
        let alpha = 1.0 - epoch as f32 / params.n_epochs as f32;
        let coords = layout.as_slice_mut().ok_or_else(|| {
            EmbedError::InvalidParameter("internal: layout is not contiguous".into())
        })?;
        let epoch_start = coords.to_vec();
        let step = Step { graph, curve, epoch_start: &epoch_start, epoch: epoch as f64, alpha };
        let pieces = split_at_starts(&mut clocks.next_sample, &starts)
            .into_iter()
            .zip(split_at_starts(&mut clocks.rest, &starts));
        coords
            .par_chunks_mut(2 * BLOCK_POINTS)
            .zip(pieces.collect::<Vec<_>>())
            .enumerate()
            .for_each(|(block, (own, (next_sample, rest)))| {
                let mut rng = block_rng(params.seed, epoch, block);
                let edges = BlockEdges { first: starts[block], next_sample, rest };
                step.run_block(block * BLOCK_POINTS, own, edges, &mut rng);
            });
        let done = epoch + 1;
        progress.update(
            done as f64 / params.n_epochs as f64,
            format!("epoch {done}/{}", params.n_epochs),
        );
        if let Some(callback) = on_epoch
            && params.snapshot_every > 0
            && done.is_multiple_of(params.snapshot_every)
        {
            callback(done, layout);
        }
    }
    Ok(())
}

/// The random stream of one block in one epoch (SplitMix64 inside `seed_from_u64` spreads
/// nearby seeds apart).
fn block_rng(seed: u64, epoch: usize, block: usize) -> Xoshiro256PlusPlus {
    let stream = ((epoch as u64) << 32 | block as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    Xoshiro256PlusPlus::seed_from_u64(seed ^ stream)
}

/// The edges of one block: where they start in the edge list, and their clocks.
struct BlockEdges<'a> {
    first: usize,
    next_sample: &'a mut [f64],
    rest: &'a mut [EdgeClock],
}

/// What every block of one epoch shares.
struct Step<'a> {
    graph: &'a FuzzyGraph,
    curve: &'a Curve,
    /// The whole layout as it was when the epoch began.
    epoch_start: &'a [f32],
    epoch: f64,
    alpha: f32,
}

impl Step<'_> {
    /// One epoch of umap-learn's `optimize_layout_euclidean_single_epoch` for the edges whose
    /// head lies in `own` (points `first..first + own.len() / 2`), moving only those points.
    fn run_block(
        &self,
        first: usize,
        own: &mut [f32],
        edges: BlockEdges<'_>,
        rng: &mut Xoshiro256PlusPlus,
    ) {
        let n_vertices = self.epoch_start.len() / 2;
        for (offset, next_sample) in edges.next_sample.iter_mut().enumerate() {
            if *next_sample > self.epoch {
                continue;
            }
            let clock = &mut edges.rest[offset];
            let edge = edges.first + offset;
            let j = self.graph.head[edge] as usize - first;
            let k = self.graph.tail[edge] as usize;
            let other = self.position(own, first, k);
            self.attract(own, j, other);
            *next_sample += clock.epochs_per_sample;

            // floor(x) clamped at 0 is the truncation of max(x, 0): no libm call for floor.
            let negatives =
                ((self.epoch - clock.next_negative) / clock.epochs_per_negative).max(0.0) as usize;
            let samples = (0..negatives).map(|_| random_vertex(rng, n_vertices));
            self.repel_from(own, first, j, samples.filter(|&v| v != first + j));
            clock.next_negative += negatives as f64 * clock.epochs_per_negative;
        }
    }

    /// Point `v`: live if the block owns it, else as at the start of the epoch.
    #[inline(always)]
    fn position(&self, own: &[f32], first: usize, v: usize) -> [f32; 2] {
        let source = match v.checked_sub(first) {
            Some(local) if 2 * local < own.len() => &own[2 * local..2 * local + 2],
            _ => &self.epoch_start[2 * v..2 * v + 2],
        };
        [source[0], source[1]]
    }

    /// Moves own point `j` towards `other` by twice the clipped step of one edge direction.
    #[inline(always)]
    fn attract(&self, own: &mut [f32], j: usize, other: [f32; 2]) {
        let dx = own[2 * j] - other[0];
        let dy = own[2 * j + 1] - other[1];
        let d2 = dx * dx + dy * dy;
        if d2 <= 0.0 {
            return;
        }
        let coefficient = self.curve.attraction(d2);
        own[2 * j] += 2.0 * (coefficient * dx).clamp(-GRADIENT_CLIP, GRADIENT_CLIP) * self.alpha;
        own[2 * j + 1] +=
            2.0 * (coefficient * dy).clamp(-GRADIENT_CLIP, GRADIENT_CLIP) * self.alpha;
    }

    /// Pushes own point `j` away from each point of `others` (negative samples), every push
    /// computed from j's position before the first and the pushes applied together: the pushes
    /// are independent computations the processor overlaps, where one after the other each
    /// waited for the previous one's power and division. They are gathered in batches of
    /// [`PUSH_BATCH`] whose gradients are computed lane by lane (the divisions vectorised) and
    /// summed in a fixed order.
    #[inline(always)]
    fn repel_from(
        &self,
        own: &mut [f32],
        first: usize,
        j: usize,
        others: impl Iterator<Item = usize>,
    ) {
        let at = [own[2 * j], own[2 * j + 1]];
        let mut total = [0.0_f32; 2];
        let mut batch = Pushes::default();
        for v in others {
            let other = self.position(own, first, v);
            batch.add(at[0] - other[0], at[1] - other[1]);
            if batch.len == PUSH_BATCH {
                self.add_pushes(&mut batch, &mut total);
            }
        }
        if batch.len > 0 {
            self.add_pushes(&mut batch, &mut total);
        }
        own[2 * j] += total[0];
        own[2 * j + 1] += total[1];
    }

    /// Adds the clipped steps of the pushes in `batch` to `total` and empties the batch.
    #[inline(always)]
    fn add_pushes(&self, batch: &mut Pushes, total: &mut [f32; 2]) {
        let (dx, dy) = (&batch.dx, &batch.dy);
        let mut d2 = [0.0_f32; PUSH_BATCH];
        for lane in 0..PUSH_BATCH {
            d2[lane] = dx[lane] * dx[lane] + dy[lane] * dy[lane];
        }
        let mut step = [[0.0_f32; PUSH_BATCH]; 2];
        for lane in 0..PUSH_BATCH {
            // Computed for every lane (finite at 0), then dropped for coincident points and
            // the empty lanes: no branch between the lanes.
            let coefficient = self.curve.repulsion(d2[lane]);
            let coefficient = if d2[lane] > 0.0 { coefficient } else { 0.0 };
            let clipped = |g: f32| g.clamp(-GRADIENT_CLIP, GRADIENT_CLIP) * self.alpha;
            step[0][lane] = clipped(coefficient * dx[lane]);
            step[1][lane] = clipped(coefficient * dy[lane]);
        }
        total[0] += pairwise_sum(&step[0]);
        total[1] += pairwise_sum(&step[1]);
        *batch = Pushes::default();
    }
}

/// Negative samples whose pushes are computed together.
const PUSH_BATCH: usize = 8;

/// Offsets from a point to up to [`PUSH_BATCH`] negative samples; unused lanes hold 0.
#[derive(Default)]
struct Pushes {
    dx: [f32; PUSH_BATCH],
    dy: [f32; PUSH_BATCH],
    len: usize,
}

impl Pushes {
    #[inline(always)]
    fn add(&mut self, dx: f32, dy: f32) {
        self.dx[self.len] = dx;
        self.dy[self.len] = dy;
        self.len += 1;
    }
}

/// `((v0 + v1) + (v2 + v3)) + ((v4 + v5) + (v6 + v7))`: a fixed order, three additions deep.
#[inline(always)]
fn pairwise_sum(values: &[f32; PUSH_BATCH]) -> f32 {
    let quads = [
        (values[0] + values[1]) + (values[2] + values[3]),
        (values[4] + values[5]) + (values[6] + values[7]),
    ];
    quads[0] + quads[1]
}

/// A uniform vertex index by multiply-shift of 64 random bits (bias below n / 2^64).
#[inline(always)]
fn random_vertex(rng: &mut Xoshiro256PlusPlus, n_vertices: usize) -> usize {
    ((u128::from(rng.next_u64()) * n_vertices as u128) >> 64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_own_contiguous_runs_of_head_sorted_edges() {
        // 1,100 points: blocks 0..512, 512..1024, 1024..1100.
        let head: Vec<u32> = vec![0, 3, 511, 512, 512, 1023, 1099];
        assert_eq!(block_edge_starts(&head, 1100), vec![0, 3, 6, 7]);
        // A block without edges gets an empty run.
        assert_eq!(block_edge_starts(&[0, 1, 1030], 1100), vec![0, 2, 2, 3]);
        let mut clocks = edge_clocks(&[1.0; 7]);
        let sizes: Vec<usize> =
            split_at_starts(&mut clocks.rest, &[0, 3, 6, 7]).iter().map(|p| p.len()).collect();
        assert_eq!(sizes, vec![3, 3, 1]);
    }

    #[test]
    fn edge_clocks_follow_umap_learn_schedule() {
        // Weights 1 and 0.25: sampled every 1 and every 4 epochs, negatives 5x as often.
        let clocks = edge_clocks(&[1.0, 0.25]);
        assert_eq!(clocks.rest[0].epochs_per_sample, 1.0);
        assert_eq!(clocks.rest[1].epochs_per_sample, 4.0);
        assert_eq!(clocks.rest[1].epochs_per_negative, 0.8);
        assert_eq!(clocks.next_sample[1], 4.0);
    }

    #[test]
    fn a_block_moves_its_own_point_by_twice_one_edge_step_reading_others_at_epoch_start() {
        // Points 0 and 600 lie in different blocks, 2 apart on x; a = b = 1, alpha = 1.
        let mut start = vec![0.0_f32; 2 * 601];
        start[1200] = 2.0;
        let graph = FuzzyGraph { head: vec![0, 600], tail: vec![600, 0], weight: vec![1.0, 1.0] };
        let curve = &Curve::new(1.0, 1.0);
        let step = Step { graph: &graph, curve, epoch_start: &start, epoch: 1.0, alpha: 1.0 };
        let mut block0 = start[..2 * 512].to_vec();
        let mut block1 = start[2 * 512..].to_vec(); // points 512..=600; 600 is local 88
        // Point 600 seen from block 0 is its epoch-start position, whatever block 1 has done.
        block1[2 * 88] = 1.0;
        assert_eq!(step.position(&block0, 0, 600), [2.0, 0.0]);
        assert_eq!(step.position(&block1, 512, 600), [1.0, 0.0]);
        block1[2 * 88] = 2.0;
        let (seen_by_0, seen_by_1) =
            (step.position(&block0, 0, 600), step.position(&block1, 512, 0));
        step.attract(&mut block0, 0, seen_by_0);
        step.attract(&mut block1, 88, seen_by_1);
        // d2 = 4: coefficient -2ab / (a d2 + 1) = -0.4; one direction's step on x is
        // -0.4 * -2 = 0.8, twice that is 1.6: both points move 1.6 towards each other.
        assert!((block0[0] - 1.6).abs() < 1e-6, "{}", block0[0]);
        assert!((block1[2 * 88] - 0.4).abs() < 1e-6, "{}", block1[2 * 88]);
        assert_eq!((block0[1], block1[2 * 88 + 1]), (0.0, 0.0));
    }

    #[test]
    fn negative_samples_push_from_the_position_before_the_first() {
        // Point 0 at the origin, point 1 at (1, 0); a = b = 1, alpha = 1. One push: d2 = 1,
        // coefficient 2b / ((0.001 + d2)(a d2 + 1)) = 2 / 2.002, step -0.999 on x. Two samples
        // of point 1 push twice that; one after the other the second would start from -0.999
        // (d2 = 3.996, step -0.2002, -1.1993 in all).
        let start = vec![0.0_f32, 0.0, 1.0, 0.0];
        let graph = FuzzyGraph::default();
        let curve = &Curve::new(1.0, 1.0);
        let step = Step { graph: &graph, curve, epoch_start: &start, epoch: 1.0, alpha: 1.0 };
        let mut own = start[..2].to_vec();
        step.repel_from(&mut own, 0, 0, [1, 1].into_iter());
        let one = 2.0 / 2.002_f32;
        assert!((own[0] + 2.0 * one).abs() < 1e-6, "{}", own[0]);
        assert_eq!(own[1], 0.0);
    }
}
