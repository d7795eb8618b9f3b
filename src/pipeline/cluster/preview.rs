//! An instant estimate of phase 1's noise share at a new eps, for large data sets.
//!
//! Running DBSCAN on a sample answers the wrong question (a sample is sparser, so it shows far
//! more noise than the full data). Instead a fixed-seed sample of customers is judged against
//! *all* customers, with exact DBSCAN semantics: a sampled customer is core when its
//! min_samples-th neighbour (itself counted) lies within eps, border when a core customer lies
//! within eps, noise otherwise. The share of noise among the sampled customers estimates the full
//! data's noise share without bias (standard error below 0.5 points at 5,000 samples).
//!
//! The k-distances do not depend on eps, so they are kept for the last min_samples; a new eps
//! then costs one range search for the sampled non-core customers. k-distances of a few thousand
//! queries are found by brute force in blocked matrix products (on clustered 25-dimensional data
//! a tree prunes too little to beat it), then recomputed exactly for the k nearest.

use super::balltree::BallTree;
use super::blocks::Blocks;
use super::{flat, row_major, sample_indices, sq_dist};
use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, ArrayView2, Axis, s};
use rayon::prelude::*;
use std::collections::HashMap;
use std::sync::Mutex;

/// The sampled customers and the tree of all customers.
pub struct NoiseSampler {
    tree: BallTree,
    /// Every point in tree order (row t = tree position t), and its squared norm.
    points: Array2<f64>,
    norms: Vec<f64>,
    /// Tree positions of the sampled customers.
    sample: Vec<usize>,
    /// (min_samples, k-distance of each sampled customer).
    kdist: Mutex<Option<(usize, Vec<f64>)>>,
}

impl NoiseSampler {
    /// Build the tree of `data` (every customer) and draw `sample_size` of them with `seed`.
    pub fn new(data: ArrayView2<'_, f64>, sample_size: usize, seed: u64) -> Self {
        let x = row_major(data);
        let tree = BallTree::build(flat(&x), data.ncols());
        let n = tree.len();
        let position_of = tree.positions();
        let sample =
            sample_indices(n, sample_size, seed).into_iter().map(|i| position_of[i]).collect();
        let d = data.ncols();
        let points = Array2::from_shape_fn((n, d), |(t, j)| tree.point(t)[j]);
        let norms = points.rows().into_iter().map(|r| r.dot(&r)).collect();
        Self { tree, points, norms, sample, kdist: Mutex::new(None) }
    }

    /// Customers sampled.
    pub fn sample_size(&self) -> usize {
        self.sample.len()
    }

    /// Customers in the data.
    pub fn population(&self) -> usize {
        self.tree.len()
    }

    /// Compute (and keep) the sampled customers' k-distances for `min_samples`: the slow part,
    /// after which [`Self::noise_share`] at any eps is quick.
    pub fn prepare(&self, min_samples: usize) {
        self.sample_kdist(min_samples);
    }

    /// Share of the sampled customers that DBSCAN(eps, min_samples) on all customers labels
    /// noise (0 for no data).
    pub fn noise_share(&self, eps: f64, min_samples: usize) -> f64 {
        if self.sample.is_empty() {
            return 0.0;
        }
        let blocks = Blocks::new(&self.tree);
        let kd = self.sample_kdist(min_samples);
        let non_core: Vec<usize> =
            self.sample.iter().zip(&kd).filter(|(_, d)| **d > eps).map(|(&p, _)| p).collect();
        let neighbours = neighbours_within(&blocks, &non_core, eps);
        let candidates: Vec<usize> = {
            let mut all: Vec<usize> = neighbours.iter().flatten().copied().collect();
            all.sort_unstable();
            all.dedup();
            all
        };
        let core: HashMap<usize, bool> = candidates
            .iter()
            .copied()
            .zip(self.kth_distances(&candidates, min_samples).into_iter().map(|d| d <= eps))
            .collect();
        let noise = neighbours
            .iter()
            .filter(|near| !near.iter().any(|p| core.get(p).copied().unwrap_or(false)))
            .count();
        noise as f64 / self.sample.len() as f64
    }

    fn sample_kdist(&self, min_samples: usize) -> Vec<f64> {
        let mut cache = self.kdist.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match cache.as_ref() {
            Some((k, kd)) if *k == min_samples => kd.clone(),
            _ => {
                let kd = self.kth_distances(&self.sample, min_samples);
                *cache = Some((min_samples, kd.clone()));
                kd
            }
        }
    }
}

impl NoiseSampler {
    /// Distance from each query (tree position) to its k-th nearest point, itself counted first
    /// (k clamped to 1..=n): blocked products give every squared distance as
    /// `|x|^2 - 2 x.y + |y|^2`; the k smallest per query are then recomputed exactly.
    fn kth_distances(&self, queries: &[usize], k: usize) -> Vec<f64> {
        let n = self.points.nrows();
        if n == 0 {
            return vec![f64::NAN; queries.len()];
        }
        let k = k.clamp(1, n);
        queries
            .par_chunks(QUERY_BLOCK)
            .flat_map_iter(|chunk| self.kth_distances_block(chunk, k))
            .collect()
    }

    fn kth_distances_block(&self, queries: &[usize], k: usize) -> Vec<f64> {
        let q = self.points.select(Axis(0), queries);
        // Per query the k smallest (approximate squared distance, position), ascending.
        let mut best: Vec<Vec<(f64, usize)>> = vec![Vec::with_capacity(k + 1); queries.len()];
        let n = self.points.nrows();
        let mut g = Array2::zeros((queries.len(), TARGET_BLOCK.min(n)));
        for start in (0..n).step_by(TARGET_BLOCK) {
            let end = (start + TARGET_BLOCK).min(n);
            let targets = self.points.slice(s![start..end, ..]);
            let mut g = g.slice_mut(s![.., ..end - start]);
            general_mat_mul(1.0, &q, &targets.t(), 0.0, &mut g);
            for (qi, row) in g.rows().into_iter().enumerate() {
                let qn = self.norms[queries[qi]];
                let top = &mut best[qi];
                for (j, &dot) in row.iter().enumerate() {
                    let d = qn - 2.0 * dot + self.norms[start + j];
                    if top.len() < k || d < top[k - 1].0 {
                        let at = top.partition_point(|&(v, _)| v <= d);
                        top.insert(at, (d, start + j));
                        top.truncate(k);
                    }
                }
            }
        }
        queries
            .iter()
            .zip(best)
            .map(|(&p, top)| {
                let mut exact: Vec<f64> = top
                    .iter()
                    .map(|&(_, t)| sq_dist(self.tree.point(p), self.tree.point(t)))
                    .collect();
                exact.sort_by(f64::total_cmp);
                exact.last().copied().unwrap_or(f64::NAN).sqrt()
            })
            .collect()
    }
}

/// Queries per parallel task of the brute-force k-distances.
const QUERY_BLOCK: usize = 128;
/// Points per matrix product.
const TARGET_BLOCK: usize = 2048;

/// For each query (tree position), every tree position within eps of it, itself excluded.
fn neighbours_within(blocks: &Blocks<'_>, queries: &[usize], eps: f64) -> Vec<Vec<usize>> {
    let mut out = vec![Vec::new(); queries.len()];
    for t in 0..blocks.len() {
        let near = blocks.near_block_indices(queries, t, eps);
        if near.is_empty() {
            continue;
        }
        let positions: Vec<usize> = near.iter().map(|&i| queries[i]).collect();
        blocks.pairs_within(&positions, t, eps, |qi, target| {
            if target != positions[qi] {
                out[near[qi]].push(target);
            }
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::cluster::dbscan;
    use crate::pipeline::cluster::synthetic::synthetic_blobs;
    use crate::pipeline::progress::Progress;

    #[test]
    fn with_every_customer_sampled_the_share_is_dbscans_noise_ratio() {
        let (x, _) = synthetic_blobs(3_000, 5, 4, 1.2, 11);
        let sampler = NoiseSampler::new(x.view(), 3_000, 1);
        for (eps, min_samples) in [(0.8, 5), (1.2, 5), (1.6, 10), (3.0, 5)] {
            let exact = dbscan(x.view(), eps, min_samples, &Progress::none()).unwrap();
            let estimate = sampler.noise_share(eps, min_samples);
            assert!(
                (estimate - exact.noise_ratio()).abs() < 1e-12,
                "eps {eps}, min_samples {min_samples}: {estimate} vs {}",
                exact.noise_ratio()
            );
        }
    }

    #[test]
    fn a_sample_judged_against_everyone_estimates_the_noise_share() {
        let (x, _) = synthetic_blobs(20_000, 5, 4, 1.2, 12);
        let sampler = NoiseSampler::new(x.view(), 2_000, 3);
        let exact = dbscan(x.view(), 0.6, 5, &Progress::none()).unwrap().noise_ratio();
        let estimate = sampler.noise_share(0.6, 5);
        assert!(exact > 0.05, "the setting leaves noise to estimate: {exact}");
        // Binomial standard error at n = 2,000 is below 1.2 points; allow three of them.
        assert!((estimate - exact).abs() < 0.035, "estimate {estimate} vs exact {exact}");
        // Whereas DBSCAN on the sample alone is far off (the point of this module).
        let sample = crate::pipeline::cluster::sample_rows(x.view(), 2_000, 3);
        let on_sample = dbscan(sample.view(), 0.6, 5, &Progress::none()).unwrap().noise_ratio();
        assert!(on_sample - exact > 0.1, "sample-only DBSCAN {on_sample} vs exact {exact}");
    }
}

#[cfg(test)]
mod timing {
    use super::*;
    use crate::pipeline::cluster::synthetic::synthetic_blobs;

    /// `cargo test --lib cluster::preview::timing -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn estimate_timing_100k() {
        let (x, _) = synthetic_blobs(100_000, 25, 6, 4.0, 5);
        let t = std::time::Instant::now();
        let s = NoiseSampler::new(x.view(), 2_000, 7);
        println!("tree and copy: {:.2} s", t.elapsed().as_secs_f64());
        for (eps, what) in [(8.0, "first (k-distances)"), (6.0, "another eps")] {
            let t = std::time::Instant::now();
            let share = s.noise_share(eps, 5);
            println!("{what}: {:.2} s, noise {share:.3}", t.elapsed().as_secs_f64());
        }
    }
}
