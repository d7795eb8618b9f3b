//! The numeric core of the hybrid segmentation (CLUSTERING.md phases 1-3).
//!
//! - [`dbscan`]: exact scikit-learn DBSCAN over a ball tree, parallel, O(n) memory (phase 1 and 3).
//! - [`kdistance`]: the sorted k-distance curve, the automatic eps and the knee of a curve.
//! - [`kmeans`]: seeded k-means++ / Lloyd with parallel assignment, best of `n_init` runs.
//! - [`metrics`]: silhouette (exact or sampled; in [`mod@silhouette`]), Calinski-Harabasz,
//!   Davies-Bouldin, adjusted Rand.
//! - [`sweep`]: K-means for every K with all criteria and stability, and the choice of K.
//! - [`preview`]: the app's instant estimate of phase 1's noise share at another eps.
//! - [`hybrid`]: the three phases chained on the gold matrix, with timings and warnings.
//! - [`synthetic`]: planted Gaussian blobs for tests and benchmarks.
//!
//! Every function takes the gold matrix as an `ArrayView2<f64>` (n customers x d standardized
//! features). Every random choice comes from a seeded generator and every parallel reduction runs
//! in a fixed order, so the same input and configuration give bit-identical results.

pub(crate) mod balltree;
#[cfg(test)]
mod bench;
mod blocks;
pub mod dbscan;
mod hamerly;
pub mod hybrid;
pub mod kdistance;
pub mod kmeans;
pub mod metrics;
pub(crate) mod near;
pub mod preview;
mod sampled;
pub mod silhouette;
mod sqdist;
pub mod stage;
pub mod sweep;
pub mod synthetic;

pub use dbscan::{DbscanResult, dbscan};
pub use hybrid::{
    EpsSource, HybridClustering, OutlierPreview, PhaseTimings, hybrid_cluster, preview_outliers,
    recluster_with_k,
};
pub use kdistance::{auto_eps, core_share_at, downsample_curve, k_distances, knee};
pub use kmeans::{KMeansFit, assign_nearest, kmeans, kmeans_from};
pub use metrics::{
    SilhouetteSummary, adjusted_rand_index, calinski_harabasz, davies_bouldin, silhouette,
    silhouette_per_cluster, silhouette_summary,
};
pub use preview::NoiseSampler;
pub use sweep::{KSweep, fit_with_k, sweep_k};
pub use synthetic::{sample_rows, synthetic_blobs};

use crate::pipeline::progress::{Cancelled, Progress};
use ndarray::{ArrayView2, CowArray, Ix2};
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

/// Everything that can stop a clustering run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ClusterError {
    #[error("clustering cancelled by the user")]
    Cancelled,
    #[error("there are no customers to cluster")]
    Empty,
    #[error(
        "the clustering matrix has a missing or infinite value (row {row}, column {column}); \
         the gold layer must fill and scale every feature first"
    )]
    NonFinite { row: usize, column: usize },
    #[error("K-means with K={k} needs at least {k} points, but only {n} are available")]
    TooFewPoints { n: usize, k: usize },
    #[error(
        "DBSCAN (eps {eps:.4}, min_samples {min_samples}) left only {kept} customers that are not \
         noise; K-means needs at least {needed}. Raise dbscan.eps (or use eps = \"auto\") or \
         lower dbscan.min_samples."
    )]
    TooFewAfterDbscan { kept: usize, needed: usize, eps: f64, min_samples: usize },
    #[error("K={k} is not allowed: K must be between 2 and the {n} non-outlier customers minus 1")]
    BadK { k: usize, n: usize },
}

impl From<Cancelled> for ClusterError {
    fn from(_: Cancelled) -> Self {
        ClusterError::Cancelled
    }
}

/// Rows processed per parallel task (and per step of a fixed-order reduction).
pub(crate) const BLOCK_ROWS: usize = 1024;

/// A row-major (C-contiguous) view of the data, copied only when it is not already one.
pub(crate) fn row_major(data: ArrayView2<'_, f64>) -> CowArray<'_, f64, Ix2> {
    if data.is_standard_layout() {
        CowArray::from(data)
    } else {
        CowArray::from(data.as_standard_layout().into_owned())
    }
}

/// The rows of a C-contiguous matrix as one slice (empty when the matrix is empty).
pub(crate) fn flat<'a>(data: &'a CowArray<'_, f64, Ix2>) -> &'a [f64] {
    data.as_slice().unwrap_or(&[])
}

/// Squared Euclidean distance between two equally long slices.
#[inline]
pub(crate) fn sq_dist(a: &[f64], b: &[f64]) -> f64 {
    let mut s = 0.0;
    for (x, y) in a.iter().zip(b) {
        let t = x - y;
        s += t * t;
    }
    s
}

/// A well-mixed seed derived from a base seed and a tuple of indices (SplitMix64 finaliser), so
/// every run, K and subsample gets its own independent, reproducible random stream.
pub(crate) fn derive_seed(seed: u64, parts: &[u64]) -> u64 {
    let mut z = seed;
    for &p in parts {
        z = z
            .wrapping_add(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(p.wrapping_mul(0xD1B5_4A32_D192_ED69));
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
    }
    z
}

/// The project's random generator, seeded.
pub(crate) fn seeded_rng(seed: u64) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(seed)
}

/// `size` distinct indices of `0..n` drawn with a fixed seed, sorted; all of `0..n` when
/// `n <= size`.
pub(crate) fn sample_indices(n: usize, size: usize, seed: u64) -> Vec<usize> {
    if n <= size {
        return (0..n).collect();
    }
    let mut rng = seeded_rng(seed);
    let mut idx = rand::seq::index::sample(&mut rng, n, size).into_vec();
    idx.sort_unstable();
    idx
}

/// A progress handle that maps its 0..1 onto `start..end` of `parent`, sharing its cancel flag.
pub(crate) fn sub_progress(parent: &Progress, start: f64, end: f64) -> Progress {
    let outer = parent.clone();
    Progress::new(
        move |u| outer.update(start + (end - start) * u.fraction, u.message),
        parent.cancel_token().clone(),
    )
    .for_stage(parent.stage())
}

/// The first non-finite cell of a matrix, if any.
pub(crate) fn find_non_finite(data: ArrayView2<'_, f64>) -> Option<(usize, usize)> {
    data.indexed_iter().find(|(_, v)| !v.is_finite()).map(|(pos, _)| pos)
}
