//! The hybrid segmentation (CLUSTERING.md phases 1-3) on the gold matrix.
//!
//! 1. DBSCAN on all customers in the full feature space; its noise are the outliers. eps is the
//!    configured number, or `auto`: the (1 - max_noise_ratio) quantile of the k-distance curve
//!    (k = min_samples) estimated on a fixed-seed sample.
//! 2. The K sweep on the non-outliers; the chosen fit's centroids then segment every customer,
//!    outliers included (nearest centroid, flagged). Segments are numbered 1..=K by decreasing
//!    size (non-outlier members; ties by lowest member index).
//! 3. DBSCAN inside each segment's non-outlier members when there are at least
//!    3 x subcluster.min_samples of them: micro-segments "<segment>.<j>", j >= 1, and
//!    "<segment>.0" for everyone in no sub-cluster (outliers too).

use super::balltree::BallTree;
use super::dbscan::{dbscan_on_tree, dbscan_on_tree_with};
use super::kdistance::{
    auto_eps, downsample_curve, k_distances_from_neighbours, k_distances_on_tree, knee,
};
use super::kmeans::{KMeansFit, assign_nearest};
use super::metrics::{calinski_harabasz, davies_bouldin, silhouette_summary};
use super::sampled::dbscan_on_sample;
use super::sweep::{KSweep, evaluate_k, sweep_k};
use super::{
    ClusterError, derive_seed, find_non_finite, flat, row_major, sample_indices, sub_progress,
};
use crate::pipeline::config::{Config, EpsSetting};
use crate::pipeline::progress::Progress;
use ndarray::{Array2, ArrayView2, Axis};
use std::time::Instant;

/// Points kept of the k-distance curve for plotting.
pub const CURVE_POINTS: usize = 1000;

/// Points per segment whose k-distance sets an automatic micro-segment eps: a quantile is
/// estimated to about +-0.5 percentage points from 5000 points, and the segments together
/// would otherwise cost as much as phase 1 again.
pub const SUB_KDISTANCE_SAMPLE: usize = 5000;

/// Noise above max(2 x max_noise_ratio, max_noise_ratio + 0.10) triggers a warning.
const NOISE_WARNING_FACTOR: f64 = 2.0;
const NOISE_WARNING_MARGIN: f64 = 0.10;

/// Where the phase-1 eps came from.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum EpsSource {
    /// The given quantile of the k-distance curve.
    Auto { quantile: f64 },
    /// The number in the configuration.
    Configured,
}

/// Seconds spent per phase.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
pub struct PhaseTimings {
    pub dbscan_s: f64,
    pub kmeans_s: f64,
    pub subcluster_s: f64,
    pub total_s: f64,
}

/// Everything the hybrid clustering found, per customer (row order of the gold matrix) and
/// overall.
#[derive(Debug, Clone, PartialEq)]
pub struct HybridClustering {
    // Phase 1.
    pub eps: f64,
    pub eps_source: EpsSource,
    pub min_samples: usize,
    /// Sorted k-distance curve, at most [`CURVE_POINTS`] points `[rank, distance]`.
    pub kdistance_curve: Vec<[f64; 2]>,
    /// Points the k-distance curve was computed on (the curve's full length).
    pub kdistance_points: usize,
    /// Distance at the knee of the k-distance curve.
    pub kdistance_knee: Option<f64>,
    pub is_outlier: Vec<bool>,
    /// DBSCAN core points of the clusters that were kept (not noise, not a small group set
    /// aside): a customer with none of them within eps is an outlier (the saved model's rule).
    pub dbscan_core: Vec<bool>,
    pub dbscan_clusters: usize,
    pub noise_ratio: f64,
    // Phase 2.
    pub sweep: KSweep,
    pub chosen_k: usize,
    pub silhouette: Option<f64>,
    pub calinski_harabasz: Option<f64>,
    pub davies_bouldin: Option<f64>,
    /// Mean silhouette of segment s at index s - 1 (`None` when not measurable).
    pub segment_silhouette: Vec<Option<f64>>,
    /// Segment 1..=K of every customer (outliers: their nearest centroid).
    pub segment: Vec<usize>,
    pub distance_to_centroid: Vec<f64>,
    /// Centroid of segment s in row s - 1 (standardized units).
    pub centroids: Array2<f64>,
    // Phase 3.
    pub micro_segment: Vec<String>,
    /// eps used inside segment s (index s - 1); `None` when the segment was too small.
    pub micro_eps: Vec<Option<f64>>,
    /// Whether a customer is a core point of its micro-segment's DBSCAN (never for `.0`).
    pub micro_core: Vec<bool>,
    pub timings: PhaseTimings,
    /// Plain-English warnings (too much noise, weak structure).
    pub warnings: Vec<String>,
}

impl HybridClustering {
    /// Customers per segment (index s - 1), outliers included.
    pub fn segment_sizes(&self) -> Vec<usize> {
        let mut sizes = vec![0; self.chosen_k];
        self.segment.iter().for_each(|&s| sizes[s - 1] += 1);
        sizes
    }
}

/// Phase 1 result, shared by the full run and a re-run with another K.
struct Outliers {
    eps: f64,
    eps_source: EpsSource,
    curve: Vec<f64>,
    is_outlier: Vec<bool>,
    core: Vec<bool>,
    clusters: usize,
}

/// Every row's nearest other rows, found before the clustering (the map's neighbour graph): when
/// phase 1 covers every row ([`curve_is_over_every_row`]) it reads its k-distance curve and
/// DBSCAN's core points off them instead of searching again, with the same results bit for bit.
#[derive(Debug, Clone, Copy)]
pub struct KnownNeighbours<'a> {
    /// n x m: the m nearest other rows of each row, by exact (distance, index).
    pub indices: ArrayView2<'a, usize>,
    /// Their distances, each row ascending.
    pub distances: ArrayView2<'a, f64>,
    /// Seconds the search took: phase 1's time too.
    pub seconds: f64,
}

/// Whether phase 1's k-distance curve covers every row of an n-row matrix: DBSCAN runs on every
/// row and the curve's sample is all of them. Only then can [`KnownNeighbours`] stand in for
/// its searches.
pub fn curve_is_over_every_row(n: usize, config: &Config) -> bool {
    phase1_sample(n, config).is_none() && config.dbscan.kdistance_sample >= n
}

/// Run the three phases on the gold matrix (n customers x d standardized features).
pub fn hybrid_cluster(
    data: ArrayView2<'_, f64>,
    config: &Config,
    progress: &Progress,
) -> Result<HybridClustering, ClusterError> {
    hybrid_cluster_with(data, config, None, progress)
}

/// [`hybrid_cluster`] with every row's nearest neighbours already known (ignored unless phase 1
/// covers every row, see [`curve_is_over_every_row`]); their search counts as phase 1's time.
pub fn hybrid_cluster_with(
    data: ArrayView2<'_, f64>,
    config: &Config,
    known: Option<KnownNeighbours<'_>>,
    progress: &Progress,
) -> Result<HybridClustering, ClusterError> {
    check_input(data)?;
    let start = Instant::now();
    let n = data.nrows();
    let known = known.filter(|k| {
        curve_is_over_every_row(n, config) && k.indices.nrows() == n && k.distances.nrows() == n
    });
    let known_s = known.map_or(0.0, |k| k.seconds);
    let phase1 = find_outliers(data, config, known, &sub_progress(progress, 0.0, 0.3))?;
    let dbscan_s = start.elapsed().as_secs_f64();
    let kept = non_outliers(&phase1.is_outlier);
    let needed = config.kmeans.k_min + 1;
    if kept.len() < needed {
        return Err(ClusterError::TooFewAfterDbscan {
            kept: kept.len(),
            needed,
            eps: phase1.eps,
            min_samples: config.dbscan.min_samples,
        });
    }
    let core = data.select(Axis(0), &kept);
    let (sweep, fit) = sweep_k(core.view(), &config.kmeans, &sub_progress(progress, 0.3, 0.85))?;
    let mut result =
        finish(data, config, progress, phase1, kept, core, sweep, fit, (start, dbscan_s))?;
    // The known neighbours were found before `start`: phase 1's time too.
    result.timings.dbscan_s += known_s;
    result.timings.total_s += known_s;
    Ok(result)
}

/// Re-run phases 2-3 with a K the user picked, keeping phase 1 (and the sweep table).
pub fn recluster_with_k(
    data: ArrayView2<'_, f64>,
    previous: &HybridClustering,
    k: usize,
    config: &Config,
    progress: &Progress,
) -> Result<HybridClustering, ClusterError> {
    check_input(data)?;
    if previous.is_outlier.len() != data.nrows() {
        return Err(ClusterError::BadK { k, n: data.nrows() });
    }
    let start = Instant::now();
    let kept = non_outliers(&previous.is_outlier);
    if k < 2 || k >= kept.len() {
        return Err(ClusterError::BadK { k, n: kept.len() });
    }
    let core = data.select(Axis(0), &kept);
    let (row, fit) =
        evaluate_k(core.view(), k, &config.kmeans, &sub_progress(progress, 0.0, 0.85))?;
    let mut sweep = previous.sweep.clone();
    if let Some(existing) = sweep.rows.iter_mut().find(|r| r.k == k) {
        *existing = row.clone();
    }
    sweep.chosen_k = k;
    sweep.weak_structure = row.silhouette.is_none_or(|s| s < config.kmeans.min_silhouette_score);
    sweep.reason = format!(
        "K={k}: chosen by the user (silhouette {}, stability {}; the sweep suggested K={})",
        row.silhouette.map_or("n/a".into(), |v| format!("{v:.2}")),
        row.stability.map_or("n/a".into(), |v| format!("{v:.2}")),
        previous.sweep.recommended_k
    );
    if let Some(m) = sweep.sample_size {
        sweep.reason.push_str(&format!(
            "; the criteria of every K were measured on a fixed-seed sample of {m} customers"
        ));
    }
    let phase1 = Outliers {
        eps: previous.eps,
        eps_source: previous.eps_source,
        curve: Vec::new(),
        is_outlier: previous.is_outlier.clone(),
        core: previous.dbscan_core.clone(),
        clusters: previous.dbscan_clusters,
    };
    let mut result = finish(data, config, progress, phase1, kept, core, sweep, fit, (start, 0.0))?;
    result.kdistance_curve = previous.kdistance_curve.clone();
    result.kdistance_points = previous.kdistance_points;
    result.kdistance_knee = previous.kdistance_knee;
    result.timings.dbscan_s = previous.timings.dbscan_s;
    Ok(result)
}

fn check_input(data: ArrayView2<'_, f64>) -> Result<(), ClusterError> {
    if data.nrows() == 0 {
        return Err(ClusterError::Empty);
    }
    match find_non_finite(data) {
        Some((row, column)) => Err(ClusterError::NonFinite { row, column }),
        None => Ok(()),
    }
}

fn non_outliers(is_outlier: &[bool]) -> Vec<usize> {
    (0..is_outlier.len()).filter(|&i| !is_outlier[i]).collect()
}

/// The seed of phase 1's k-distance sample.
fn phase1_seed(config: &Config) -> u64 {
    derive_seed(config.kmeans.seed, &[0xD85C])
}

/// The rows phase 1 runs DBSCAN on: `None` for every row (the default), or, with an automatic
/// eps and more rows than a non-zero `dbscan.exact_limit`, a fixed-seed sample of that many (see
/// [`super::sampled`]).
fn phase1_sample(n: usize, config: &Config) -> Option<Vec<usize>> {
    let cfg = &config.dbscan;
    let sampled = cfg.eps == EpsSetting::Auto && cfg.exact_limit > 0 && n > cfg.exact_limit;
    sampled.then(|| sample_indices(n, cfg.exact_limit, derive_seed(phase1_seed(config), &[1])))
}

/// Phase 1's sorted k-distance curve of `data` (the same sample and seed as a run), without
/// running DBSCAN: the app shows it before the first segmentation so eps can be chosen first.
pub fn phase1_k_distances(data: ArrayView2<'_, f64>, config: &Config) -> Vec<f64> {
    let cfg = &config.dbscan;
    let (k, size, seed) = (cfg.min_samples, cfg.kdistance_sample, phase1_seed(config));
    match phase1_sample(data.nrows(), config) {
        Some(rows) => {
            super::kdistance::k_distances(data.select(Axis(0), &rows).view(), k, size, seed)
        }
        None => super::kdistance::k_distances(data, k, size, seed),
    }
}

/// Phase 1: eps (auto or configured) and DBSCAN on every customer (or on a sample of them, see
/// [`phase1_sample`]). `known`: every row's nearest neighbours, when already found.
fn find_outliers(
    data: ArrayView2<'_, f64>,
    config: &Config,
    known: Option<KnownNeighbours<'_>>,
    progress: &Progress,
) -> Result<Outliers, ClusterError> {
    let cfg = &config.dbscan;
    let (result, eps, curve) = match phase1_sample(data.nrows(), config) {
        Some(sample) => {
            progress.update(0.05, "DBSCAN: k-distance curve of the sample");
            let mut curve = Vec::new();
            let (result, eps) = dbscan_on_sample(
                data,
                &sample,
                cfg.min_samples,
                |tree| {
                    curve = k_distances_on_tree(
                        tree,
                        cfg.min_samples,
                        cfg.kdistance_sample,
                        phase1_seed(config),
                    );
                    auto_eps(&curve, cfg.max_noise_ratio)
                },
                &sub_progress(progress, 0.15, 1.0),
            )?;
            (result, eps, curve)
        }
        None => {
            let x = row_major(data);
            let tree = BallTree::build(flat(&x), data.ncols());
            progress.update(0.05, "DBSCAN: k-distance curve");
            let known_curve =
                known.and_then(|k| k_distances_from_neighbours(k.distances, cfg.min_samples));
            let curve = known_curve.unwrap_or_else(|| {
                k_distances_on_tree(
                    &tree,
                    cfg.min_samples,
                    cfg.kdistance_sample,
                    phase1_seed(config),
                )
            });
            progress.check_cancel()?;
            let eps = match cfg.eps {
                EpsSetting::Auto => auto_eps(&curve, cfg.max_noise_ratio),
                EpsSetting::Value(v) => v,
            };
            let nearest = known.map(|k| k.indices);
            let dbscan_progress = &sub_progress(progress, 0.15, 1.0);
            let result =
                dbscan_on_tree_with(&tree, eps, cfg.min_samples, nearest, dbscan_progress)?;
            (result, eps, curve)
        }
    };
    let eps_source = match cfg.eps {
        EpsSetting::Auto => EpsSource::Auto { quantile: 1.0 - cfg.max_noise_ratio },
        EpsSetting::Value(_) => EpsSource::Configured,
    };
    let is_outlier =
        outliers_with_small_clusters(&result.labels, result.n_clusters, cfg.max_noise_ratio);
    let core = result.is_core.iter().zip(&is_outlier).map(|(&c, &o)| c && !o).collect();
    Ok(Outliers { eps, eps_source, curve, is_outlier, core, clusters: result.n_clusters })
}

/// What phase 1 would set aside at one setting, for the app's instant preview.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OutlierPreview {
    /// DBSCAN noise / points.
    pub noise_share: f64,
    /// Outliers as phase 1 flags them (noise plus small dense groups) / points.
    pub outlier_share: f64,
    /// DBSCAN clusters.
    pub clusters: usize,
}

/// Phase 1 at (`eps`, `min_samples`) on `data` (the app passes a sample): DBSCAN, then the same
/// small-cluster rule as [`hybrid_cluster`]. `None` when cancelled.
pub fn preview_outliers(
    data: ArrayView2<'_, f64>,
    eps: f64,
    min_samples: usize,
    max_noise_ratio: f64,
    progress: &Progress,
) -> Option<OutlierPreview> {
    let result = super::dbscan(data, eps, min_samples, progress).ok()?;
    let flagged = outliers_with_small_clusters(&result.labels, result.n_clusters, max_noise_ratio);
    let n = flagged.len().max(1) as f64;
    Some(OutlierPreview {
        noise_share: result.noise_ratio(),
        outlier_share: flagged.iter().filter(|f| **f).count() as f64 / n,
        clusters: result.n_clusters,
    })
}

/// A DBSCAN cluster holding less than this share of the customers is a small dense group apart
/// from everyone else (e.g. a handful of resellers); it is set aside with the noise.
pub const SMALL_CLUSTER_SHARE: f64 = 0.02;

/// DBSCAN noise, plus the members of small clusters (smallest first) as long as the outlier
/// share stays within `max_noise_ratio`. See docs/decisions.md.
pub(crate) fn outliers_with_small_clusters(
    labels: &[i32],
    n_clusters: usize,
    max_noise_ratio: f64,
) -> Vec<bool> {
    let n = labels.len();
    let mut is_outlier: Vec<bool> = labels.iter().map(|&l| l < 0).collect();
    let mut sizes = vec![0usize; n_clusters];
    for &l in labels.iter().filter(|l| **l >= 0) {
        sizes[l as usize] += 1;
    }
    let largest = sizes.iter().copied().max().unwrap_or(0);
    let mut small: Vec<usize> = (0..n_clusters)
        .filter(|&c| (sizes[c] as f64) < SMALL_CLUSTER_SHARE * n as f64 && sizes[c] < largest)
        .collect();
    small.sort_by_key(|&c| (sizes[c], c));
    let mut outliers = is_outlier.iter().filter(|o| **o).count();
    let budget = (max_noise_ratio * n as f64).floor() as usize;
    for c in small {
        if outliers + sizes[c] > budget {
            break;
        }
        outliers += sizes[c];
        for (flag, &l) in is_outlier.iter_mut().zip(labels) {
            if l == c as i32 {
                *flag = true;
            }
        }
    }
    is_outlier
}

/// Segments numbered 1..=K by decreasing size: `new[old label]`.
fn rank_by_size(labels: &[usize], k: usize) -> Vec<usize> {
    let mut size = vec![0usize; k];
    let mut first = vec![usize::MAX; k];
    for (i, &l) in labels.iter().enumerate() {
        size[l] += 1;
        first[l] = first[l].min(i);
    }
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&a, &b| size[b].cmp(&size[a]).then(first[a].cmp(&first[b])));
    let mut new = vec![0; k];
    for (rank, &old) in order.iter().enumerate() {
        new[old] = rank + 1;
    }
    new
}

/// Phases 2 (assignment, metrics) and 3, and the result.
#[allow(clippy::too_many_arguments)]
fn finish(
    data: ArrayView2<'_, f64>,
    config: &Config,
    progress: &Progress,
    phase1: Outliers,
    kept: Vec<usize>,
    core: Array2<f64>,
    sweep: KSweep,
    fit: KMeansFit,
    (start, dbscan_s): (Instant, f64),
) -> Result<HybridClustering, ClusterError> {
    let k = fit.centroids.nrows();
    let new_of = rank_by_size(&fit.labels, k);
    let mut centroids = Array2::zeros(fit.centroids.raw_dim());
    for (old, &s) in new_of.iter().enumerate() {
        centroids.row_mut(s - 1).assign(&fit.centroids.row(old));
    }
    let (nearest, distance_to_centroid) = assign_nearest(data, centroids.view());
    let segment: Vec<usize> = nearest.iter().map(|&l| l + 1).collect();
    let core_labels: Vec<usize> = kept.iter().map(|&i| segment[i] - 1).collect();
    // The sweep's silhouette of the kept fit when these are its labels, renamed; else afresh.
    let sil =
        fit.silhouette.as_ref().and_then(|s| s.renamed(&fit.labels, &core_labels)).or_else(|| {
            silhouette_summary(
                core.view(),
                &core_labels,
                config.kmeans.silhouette_sample,
                config.kmeans.seed,
            )
        });
    let segment_silhouette = (0..k)
        .map(|s| sil.as_ref().and_then(|v| v.per_cluster.get(s).copied().flatten()))
        .collect();
    let kmeans_s = start.elapsed().as_secs_f64() - dbscan_s;
    progress.update(0.85, "Micro-segments");
    let phase3_start = Instant::now();
    let (micro_segment, micro_eps, micro_core) = micro_segments(
        data,
        config,
        &segment,
        &phase1.is_outlier,
        k,
        &sub_progress(progress, 0.85, 1.0),
    )?;
    let subcluster_s = phase3_start.elapsed().as_secs_f64();
    let n = data.nrows();
    let noise = phase1.is_outlier.iter().filter(|&&o| o).count();
    let noise_ratio = noise as f64 / n as f64;
    let warnings = warnings_for(config, noise_ratio, phase1.eps, &sweep);
    let kd_knee = knee(&phase1.curve).map(|i| phase1.curve[i]);
    progress.update(1.0, format!("Clustering done: {k} segments, {noise} outliers"));
    Ok(HybridClustering {
        eps: phase1.eps,
        eps_source: phase1.eps_source,
        min_samples: config.dbscan.min_samples,
        kdistance_curve: downsample_curve(&phase1.curve, CURVE_POINTS),
        kdistance_points: phase1.curve.len(),
        kdistance_knee: kd_knee,
        is_outlier: phase1.is_outlier,
        dbscan_core: phase1.core,
        dbscan_clusters: phase1.clusters,
        noise_ratio,
        chosen_k: k,
        silhouette: sil.as_ref().map(|s| s.mean),
        calinski_harabasz: calinski_harabasz(core.view(), &core_labels),
        davies_bouldin: davies_bouldin(core.view(), &core_labels),
        sweep,
        segment_silhouette,
        segment,
        distance_to_centroid,
        centroids,
        micro_segment,
        micro_eps,
        micro_core,
        timings: PhaseTimings {
            dbscan_s,
            kmeans_s,
            subcluster_s,
            total_s: start.elapsed().as_secs_f64(),
        },
        warnings,
    })
}

fn warnings_for(config: &Config, noise_ratio: f64, eps: f64, sweep: &KSweep) -> Vec<String> {
    let mut warnings = Vec::new();
    let max = config.dbscan.max_noise_ratio;
    if noise_ratio > (max * NOISE_WARNING_FACTOR).max(max + NOISE_WARNING_MARGIN) {
        warnings.push(format!(
            "DBSCAN marked {:.0}% of customers as outliers (eps {eps:.3}, target at most {:.0}%). \
             eps is probably too small for this data: use eps = \"auto\" or a larger value.",
            noise_ratio * 100.0,
            max * 100.0
        ));
    }
    if sweep.weak_structure {
        warnings.push(format!(
            "Weak structure: the chosen K={} has a silhouette below {}; the segments overlap and \
             should be read as a rough grouping.",
            sweep.chosen_k, config.kmeans.min_silhouette_score
        ));
    }
    warnings
}

/// Micro-segment id per customer, eps per segment, and the micro-segments' core points.
type MicroSegments = (Vec<String>, Vec<Option<f64>>, Vec<bool>);

/// The members (indices into a segment's members) micro-segment DBSCAN runs on, as
/// [`phase1_sample`]: `None` for all of them.
fn micro_sample(members: usize, config: &Config, segment: usize) -> Option<Vec<usize>> {
    let limit = config.dbscan.exact_limit;
    let sampled = config.subcluster.eps == EpsSetting::Auto && limit > 0 && members > limit;
    sampled.then(|| {
        sample_indices(members, limit, derive_seed(config.kmeans.seed, &[0x50B, segment as u64, 1]))
    })
}

/// Phase 3: micro-segment id of every customer, the eps used per segment, and which customers
/// are core points of their micro-segment.
fn micro_segments(
    data: ArrayView2<'_, f64>,
    config: &Config,
    segment: &[usize],
    is_outlier: &[bool],
    k: usize,
    progress: &Progress,
) -> Result<MicroSegments, ClusterError> {
    let sub = &config.subcluster;
    let mut micro: Vec<String> = segment.iter().map(|s| format!("{s}.0")).collect();
    let mut eps_used = vec![None; k];
    let mut core = vec![false; segment.len()];
    if !sub.enabled {
        return Ok((micro, eps_used, core));
    }
    for s in 1..=k {
        progress.check_cancel()?;
        let members: Vec<usize> =
            (0..segment.len()).filter(|&i| segment[i] == s && !is_outlier[i]).collect();
        if members.len() < 3 * sub.min_samples {
            continue;
        }
        let rows = data.select(Axis(0), &members);
        let result = match micro_sample(members.len(), config, s) {
            Some(sample) => {
                let seed = derive_seed(config.kmeans.seed, &[0x50B, s as u64]);
                let curve_size = config.dbscan.kdistance_sample.min(SUB_KDISTANCE_SAMPLE);
                let eps_of_sample = |tree: &BallTree| {
                    let kd = k_distances_on_tree(tree, sub.min_samples, curve_size, seed);
                    auto_eps(&kd, config.dbscan.max_noise_ratio)
                };
                let (result, eps) = dbscan_on_sample(
                    rows.view(),
                    &sample,
                    sub.min_samples,
                    eps_of_sample,
                    &progress.quiet(),
                )?;
                eps_used[s - 1] = Some(eps);
                result
            }
            None => {
                let tree = BallTree::build(rows.as_slice().unwrap_or(&[]), rows.ncols());
                let eps = match sub.eps {
                    EpsSetting::Value(v) => v,
                    EpsSetting::Auto => {
                        let seed = derive_seed(config.kmeans.seed, &[0x50B, s as u64]);
                        let sample = config.dbscan.kdistance_sample.min(SUB_KDISTANCE_SAMPLE);
                        let kd = k_distances_on_tree(&tree, sub.min_samples, sample, seed);
                        auto_eps(&kd, config.dbscan.max_noise_ratio)
                    }
                };
                eps_used[s - 1] = Some(eps);
                dbscan_on_tree(&tree, eps, sub.min_samples, &Progress::none())?
            }
        };
        for ((&i, &l), &is_core) in members.iter().zip(&result.labels).zip(&result.is_core) {
            if l >= 0 {
                micro[i] = format!("{s}.{}", l + 1);
                core[i] = is_core;
            }
        }
        progress.update(s as f64 / k as f64, format!("Micro-segments: segment {s} of {k}"));
    }
    Ok((micro, eps_used, core))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_dbscan_clusters_join_the_outliers_within_the_noise_budget() {
        // 200 points: cluster 0 has 180, cluster 1 has 3 (1.5% < 2%), cluster 2 has 5 (2.5%),
        // 12 noise. Budget 15% = 30 points: noise 12 + cluster 1 (3) = 15 fit; cluster 2 is not
        // small. With a budget of 7% (14 points) cluster 1 does not fit.
        let mut labels = vec![0i32; 180];
        labels.extend([1; 3]);
        labels.extend([2; 5]);
        labels.extend([-1; 12]);
        let flagged = outliers_with_small_clusters(&labels, 3, 0.15);
        assert_eq!(flagged.iter().filter(|f| **f).count(), 15);
        assert!(flagged[180..183].iter().all(|f| *f) && !flagged[183]);
        let flagged = outliers_with_small_clusters(&labels, 3, 0.07);
        assert_eq!(flagged.iter().filter(|f| **f).count(), 12);
    }
    use crate::pipeline::cluster::metrics::adjusted_rand_index;
    use crate::pipeline::cluster::synthetic::synthetic_blobs;
    use crate::pipeline::config::KMeansConfig;

    fn small_config() -> Config {
        Config {
            kmeans: KMeansConfig {
                k_min: 2,
                k_max: 6,
                n_init: 2,
                stability_pairs: 2,
                ..KMeansConfig::default()
            },
            ..Config::default()
        }
    }

    /// Four blobs of 300 points in 6-D plus 12 far-away points.
    fn planted() -> (Array2<f64>, Vec<usize>) {
        let (mut x, truth) = synthetic_blobs(1212, 6, 4, 1.0, 8);
        for i in 1200..1212 {
            for j in 0..6 {
                x[[i, j]] = 40.0 + 10.0 * (i - 1200) as f64 + j as f64;
            }
        }
        (x, truth)
    }

    #[test]
    fn segments_outliers_and_micro_segments() {
        let (x, truth) = planted();
        let r = hybrid_cluster(x.view(), &small_config(), &Progress::none()).unwrap();
        assert_eq!(r.chosen_k, 4, "{:#?}", r.sweep);
        // The 12 planted outliers are noise; auto eps keeps noise near the 15% target.
        assert!(r.is_outlier[1200..].iter().all(|&o| o));
        assert!(r.noise_ratio < 0.2, "{}", r.noise_ratio);
        assert!(
            matches!(r.eps_source, EpsSource::Auto { quantile } if (quantile - 0.85).abs() < 1e-12)
        );
        // Segments recover the blobs; sizes are descending (segment 1 the largest).
        assert_eq!(adjusted_rand_index(&r.segment[..1200], &truth[..1200]), 1.0);
        let sizes = r.segment_sizes();
        assert!(sizes.windows(2).all(|w| w[0] >= w[1]), "{sizes:?}");
        assert_eq!(sizes.iter().sum::<usize>(), 1212);
        // Every micro id starts with its segment; outliers are "<segment>.0".
        for i in 0..1212 {
            let prefix = format!("{}.", r.segment[i]);
            assert!(r.micro_segment[i].starts_with(&prefix));
            if r.is_outlier[i] {
                assert!(r.micro_segment[i].ends_with(".0"));
            }
        }
        assert!(r.micro_segment.iter().any(|m| m.ends_with(".1")));
        assert!(r.silhouette.unwrap() > 0.5 && r.segment_silhouette.iter().all(|s| s.is_some()));
        assert!(r.kdistance_curve.len() <= CURVE_POINTS && r.kdistance_knee.is_some());
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
        // distance_to_centroid is the distance to the own segment's centroid.
        let c = r.centroids.row(r.segment[0] - 1);
        let d0 = x.row(0).iter().zip(c).map(|(a, b)| (a - b) * (a - b)).sum::<f64>().sqrt();
        assert!((d0 - r.distance_to_centroid[0]).abs() < 1e-9);
    }

    #[test]
    fn deterministic_and_recluster() {
        let (x, _) = planted();
        let cfg = small_config();
        let a = hybrid_cluster(x.view(), &cfg, &Progress::none()).unwrap();
        let b = hybrid_cluster(x.view(), &cfg, &Progress::none()).unwrap();
        assert_eq!(
            (&a.segment, &a.micro_segment, &a.is_outlier, &a.sweep),
            (&b.segment, &b.micro_segment, &b.is_outlier, &b.sweep)
        );
        let r = recluster_with_k(x.view(), &a, 3, &cfg, &Progress::none()).unwrap();
        assert_eq!(r.chosen_k, 3);
        assert_eq!(r.is_outlier, a.is_outlier);
        assert!(r.segment.iter().all(|&s| (1..=3).contains(&s)));
        assert!(r.sweep.reason.contains("chosen by the user"), "{}", r.sweep.reason);
        assert!(matches!(
            recluster_with_k(x.view(), &a, 1, &cfg, &Progress::none()),
            Err(ClusterError::BadK { .. })
        ));
    }

    #[test]
    fn errors_and_warnings() {
        let cfg = small_config();
        let empty = Array2::<f64>::zeros((0, 4));
        assert_eq!(hybrid_cluster(empty.view(), &cfg, &Progress::none()), Err(ClusterError::Empty));
        let mut bad = Array2::<f64>::zeros((10, 2));
        bad[[3, 1]] = f64::NAN;
        assert_eq!(
            hybrid_cluster(bad.view(), &cfg, &Progress::none()),
            Err(ClusterError::NonFinite { row: 3, column: 1 })
        );
        // A tiny configured eps: everything is noise -> a clear error naming eps.
        let (x, _) = planted();
        let mut tiny = cfg.clone();
        tiny.dbscan.eps = EpsSetting::Value(1e-6);
        let err = hybrid_cluster(x.view(), &tiny, &Progress::none()).unwrap_err();
        assert!(matches!(err, ClusterError::TooFewAfterDbscan { kept: 0, .. }));
        assert!(err.to_string().contains("dbscan.eps"));
        // An eps making only 20% of the points core (its 0.2 k-distance quantile) gives far
        // more noise than the 15% target: the run goes on, with a warning.
        let mut small = cfg.clone();
        let kd = crate::pipeline::cluster::k_distances(x.view(), 5, 100_000, 0);
        small.dbscan.eps = EpsSetting::Value(crate::pipeline::cluster::auto_eps(&kd, 0.8));
        let r = hybrid_cluster(x.view(), &small, &Progress::none()).unwrap();
        assert!(r.noise_ratio > 0.3, "{}", r.noise_ratio);
        assert!(r.warnings.iter().any(|w| w.contains("outliers")), "{:?}", r.warnings);
        assert_eq!(r.eps_source, EpsSource::Configured);
        // All points identical: one DBSCAN cluster, K-means on duplicates, weak structure.
        let same = Array2::from_elem((60, 3), 0.5);
        let r = hybrid_cluster(same.view(), &cfg, &Progress::none()).unwrap();
        assert_eq!(r.noise_ratio, 0.0);
        assert!(r.sweep.weak_structure);
        assert_eq!(r.segment.len(), 60);
    }
}
