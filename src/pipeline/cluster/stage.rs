//! The cluster stage: gold matrix in, segments out, stored.
//!
//! Runs the hybrid clustering ([`super::hybrid_cluster`]), names the segments from the raw silver
//! values ([`crate::pipeline::archetypes`]), computes the 2-D views
//! ([`crate::pipeline::embed::stage`]), and replaces `clustering_results` and `cluster_summary`
//! in one transaction ([`crate::pipeline::results`]). The caller writes the metadata file.

use super::hybrid::{KnownNeighbours, hybrid_cluster_with};
use super::{HybridClustering, recluster_with_k};
use crate::pipeline::archetypes::{SegmentProfile, profile_segments};
use crate::pipeline::config::Config;
use crate::pipeline::embed::KnnGraph;
use crate::pipeline::embed::stage::{
    PcaView, Views, map_needs_groups, neighbours_of_every_row, pca_view, umap_trust,
    views_of_every_row, views_with_pca,
};
use crate::pipeline::error::{PipelineError, Result};
use crate::pipeline::gold::{read_gold, read_raw_features};
use crate::pipeline::model::{
    ClusterOutcome, RawFeatures, SegmentSummary, segment_or_outliers_label,
};
use crate::pipeline::progress::Progress;
use crate::pipeline::results::{CustomerResults, store_results};
use crate::pipeline::store::Store;
use ndarray::Array2;
use std::time::Instant;

/// The in-memory result of a clustering run, kept by the app so another K re-segments quickly.
pub struct ClusterRun {
    pub customer_ids: Vec<String>,
    pub feature_names: Vec<String>,
    pub matrix: Array2<f64>,
    pub raw: RawFeatures,
    pub hybrid: HybridClustering,
    pub profiles: Vec<SegmentProfile>,
    pub pca: Array2<f64>,
    pub pca_explained: [f64; 2],
    /// (row index, x, y) of the UMAP sample.
    pub umap: Vec<(usize, f64, f64)>,
    pub outcome: ClusterOutcome,
}

fn data_error(e: impl std::fmt::Display) -> PipelineError {
    PipelineError::Data(e.to_string())
}

fn micro_segment_counts(hybrid: &HybridClustering) -> Vec<usize> {
    let mut sets = vec![std::collections::BTreeSet::new(); hybrid.chosen_k];
    for (i, m) in hybrid.micro_segment.iter().enumerate() {
        if !m.ends_with(".0") {
            sets[hybrid.segment[i] - 1].insert(m.clone());
        }
    }
    sets.into_iter().map(|s| s.len()).collect()
}

fn summaries(profiles: &[SegmentProfile], hybrid: &HybridClustering) -> Vec<SegmentSummary> {
    let micro = micro_segment_counts(hybrid);
    profiles
        .iter()
        .map(|p| SegmentSummary {
            segment: p.segment,
            label: segment_or_outliers_label(p.segment),
            archetype: p.archetype.clone(),
            size: p.size,
            share: p.share,
            description: p.description.clone(),
            action: p.action.clone(),
            silhouette: p
                .segment
                .and_then(|s| hybrid.segment_silhouette.get(s - 1).copied().flatten()),
            micro_segments: p.segment.map_or(0, |s| micro.get(s - 1).copied().unwrap_or(0)),
            returned_units_share: p.returned_units_share,
            order_share: p.order_share,
            reasons: p.reasons.clone(),
            outlier_groups: p.outlier_groups.clone(),
            medians: p.medians.clone(),
        })
        .collect()
}

fn eps_source_text(hybrid: &HybridClustering) -> String {
    match hybrid.eps_source {
        super::EpsSource::Auto { quantile } => format!(
            "auto: the {:.0}th percentile of each customer's distance to its {}th nearest neighbour",
            quantile * 100.0,
            hybrid.min_samples
        ),
        super::EpsSource::Configured => "configured (dbscan.eps)".to_string(),
    }
}

/// What clustering reads: the gold matrix and, row for row, the raw silver values.
struct Inputs {
    ids: Vec<String>,
    names: Vec<String>,
    matrix: Array2<f64>,
    raw: RawFeatures,
}

fn load_inputs(store: &Store, config: &Config) -> Result<Inputs> {
    let (ids, names, matrix) = read_gold(store)?;
    let raw = read_raw_features(store, config.data.include_order_value)?;
    if raw.customer_ids != ids {
        return Err(PipelineError::Data(
            "the features changed since the clustering matrix was built: rebuild the matrix".into(),
        ));
    }
    Ok(Inputs { ids, names, matrix, raw })
}

/// Run phases 1-3, name the segments, compute the 2-D views and store everything.
pub fn cluster_and_store(
    store: &Store,
    config: &Config,
    progress: &Progress,
    with_umap: bool,
) -> Result<ClusterRun> {
    let started = Instant::now();
    let inputs = load_inputs(store, config)?;
    let read_s = started.elapsed().as_secs_f64();
    progress.update(0.02, "Clustering");
    let (hybrid, views) = cluster_with_views(&inputs.matrix, config, progress, with_umap)?;
    let mut run = finish_run(store, config, progress, inputs, hybrid, views, started)?;
    run.outcome.timings.push(("read_inputs".into(), read_s));
    Ok(run)
}

/// Phases 1-3 and the 2-D views of `matrix`.
///
/// The views that do not depend on the segments are computed beside the clustering (rayon
/// tasks, so whichever core the clustering leaves idle takes them): the PCA view always, and the
/// UMAP-style map too when its sample is every customer ([`map_needs_groups`]); otherwise the
/// map follows the segments. Each is a pure function of the matrix and the configuration, so
/// the results are those of computing one after the other, on any number of threads. The views'
/// `seconds` are what they add to the stage after the clustering (their own time is logged).
///
/// When the map's sample is every customer and phase 1 covers every customer too (the everyday
/// size), both need every customer's nearest neighbours: the map's neighbour graph is computed
/// first, on every core, and phase 1 reads its k-distance curve and DBSCAN's core points off it
/// ([`super::hybrid::KnownNeighbours`]: the same results bit for bit) instead of searching again.
pub fn cluster_with_views(
    matrix: &Array2<f64>,
    config: &Config,
    progress: &Progress,
    with_umap: bool,
) -> Result<(HybridClustering, Views)> {
    let with_map = with_umap && !map_needs_groups(matrix.nrows(), config);
    // Progress comes from the clustering alone; the views beside it only share the cancel flag.
    let beside = progress.quiet();
    let joined = Instant::now();
    // Where the clustering's progress starts: the search only names itself there.
    let searching = &progress.sub(0.02, 0.02);
    let neighbours =
        if with_map { neighbours_of_every_row(matrix, config, searching)? } else { None };
    let known = neighbours.as_ref().map(|graph| KnownNeighbours {
        indices: graph.indices.view(),
        distances: graph.distances.view(),
        seconds: joined.elapsed().as_secs_f64(),
    });
    let ((hybrid, clustering_s), early) = rayon::join(
        || {
            let clustering = &progress.sub(0.02, 0.6);
            let hybrid = hybrid_cluster_with(matrix.view(), config, known, clustering);
            (hybrid, joined.elapsed().as_secs_f64())
        },
        || early_views(matrix, config, &beside, with_map, neighbours.as_ref()),
    );
    let hybrid = hybrid.map_err(cluster_error)?;
    let mut views = match early? {
        EarlyViews::All(views) => views,
        EarlyViews::Pca(pca) => {
            let groups = map_groups(&hybrid);
            views_with_pca(pca, matrix, &groups, config, progress, with_umap, None)?
        }
    };
    tracing::info!("2-D views: {:.2} s, partly beside the clustering", views.seconds);
    views.seconds = (joined.elapsed().as_secs_f64() - clustering_s).max(0.0);
    Ok((hybrid, views))
}

/// The views computed beside the clustering: all of them, or the PCA view only when the map's
/// sample depends on the segments.
enum EarlyViews {
    All(Views),
    Pca(PcaView),
}

fn early_views(
    matrix: &Array2<f64>,
    config: &Config,
    progress: &Progress,
    with_map: bool,
    neighbours: Option<&KnnGraph>,
) -> Result<EarlyViews> {
    if with_map {
        views_of_every_row(matrix, neighbours, config, progress).map(EarlyViews::All)
    } else {
        pca_view(matrix, config).map(EarlyViews::Pca)
    }
}

/// Re-segment with a K the user picked (phase 1 and the 2-D views kept), and store.
pub fn recluster_and_store(
    store: &Store,
    config: &Config,
    previous: &ClusterRun,
    k: usize,
    progress: &Progress,
) -> Result<ClusterRun> {
    let started = Instant::now();
    let hybrid = recluster_with_k(
        previous.matrix.view(),
        &previous.hybrid,
        k,
        config,
        &progress.sub(0.0, 0.6),
    )
    .map_err(cluster_error)?;
    let inputs = Inputs {
        ids: previous.customer_ids.clone(),
        names: previous.feature_names.clone(),
        matrix: previous.matrix.clone(),
        raw: previous.raw.clone(),
    };
    let views = Views {
        pca: previous.pca.clone(),
        pca_explained: previous.pca_explained,
        umap: previous.umap.clone(),
        trust_pca: previous.outcome.trustworthiness_pca,
        trust_umap: previous.outcome.trustworthiness_umap,
        seconds: 0.0,
    };
    finish_run(store, config, progress, inputs, hybrid, views, started)
}

fn cluster_error(e: super::ClusterError) -> PipelineError {
    match e {
        super::ClusterError::Cancelled => PipelineError::Cancelled,
        other => data_error(other),
    }
}

fn finish_run(
    store: &Store,
    config: &Config,
    progress: &Progress,
    inputs: Inputs,
    hybrid: HybridClustering,
    views: Views,
    started: Instant,
) -> Result<ClusterRun> {
    progress.update(0.95, "Naming segments");
    let Inputs { ids, names, matrix, raw } = inputs;
    let profiles = profile_segments(&raw, &hybrid.segment, &hybrid.is_outlier);
    progress.check_cancel()?;
    let mut outcome = ClusterOutcome {
        customers: ids.len(),
        features: names.clone(),
        eps: hybrid.eps,
        eps_source: eps_source_text(&hybrid),
        min_samples: hybrid.min_samples,
        noise_ratio: hybrid.noise_ratio,
        outliers: hybrid.is_outlier.iter().filter(|o| **o).count(),
        chosen_k: hybrid.chosen_k,
        recommended_k: hybrid.sweep.recommended_k,
        choice_reason: hybrid.sweep.reason.clone(),
        elbow_k: hybrid.sweep.elbow_k,
        weak_structure: hybrid.sweep.weak_structure,
        silhouette: hybrid.silhouette,
        calinski_harabasz: hybrid.calinski_harabasz,
        davies_bouldin: hybrid.davies_bouldin,
        sweep: hybrid.sweep.rows.clone(),
        segments: summaries(&profiles, &hybrid),
        kdistance_curve: hybrid.kdistance_curve.clone(),
        kdistance_knee: hybrid.kdistance_knee,
        pca_explained: views.pca_explained,
        trustworthiness_pca: views.trust_pca,
        trustworthiness_umap: views.trust_umap,
        umap_points: views.umap.len(),
        warnings: hybrid.warnings.clone(),
        timings: vec![
            ("dbscan".into(), hybrid.timings.dbscan_s),
            ("kmeans_sweep".into(), hybrid.timings.kmeans_s),
            ("subclusters".into(), hybrid.timings.subcluster_s),
            ("embeddings".into(), views.seconds),
        ],
        metadata_path: None,
    };
    progress.update(0.96, "Storing results");
    let run = ClusterRun {
        customer_ids: ids,
        feature_names: names,
        matrix,
        raw,
        hybrid,
        profiles,
        pca: views.pca,
        pca_explained: views.pca_explained,
        umap: views.umap,
        outcome: ClusterOutcome::default(),
    };
    outcome.timings.push(("cluster_stage_total".into(), started.elapsed().as_secs_f64()));
    store_results(store, &run.customer_results(), &outcome, config)?;
    progress.update_items(1.0, "Segments ready", outcome.customers as u64);
    Ok(ClusterRun { outcome, ..run })
}

/// The strata of the UMAP-style sample: each customer's segment, or -1 for an outlier.
fn map_groups(hybrid: &HybridClustering) -> Vec<i64> {
    hybrid
        .segment
        .iter()
        .zip(&hybrid.is_outlier)
        .map(|(&s, &o)| if o { -1 } else { s as i64 })
        .collect()
}

impl ClusterRun {
    /// The strata of the UMAP-style sample: each customer's segment, or -1 for an outlier.
    pub fn map_groups(&self) -> Vec<i64> {
        map_groups(&self.hybrid)
    }

    /// The per-customer results as [`crate::pipeline::results`] stores them.
    pub fn customer_results(&self) -> CustomerResults<'_> {
        CustomerResults {
            customer_ids: &self.customer_ids,
            segment: &self.hybrid.segment,
            is_outlier: &self.hybrid.is_outlier,
            micro_segment: &self.hybrid.micro_segment,
            distance_to_centroid: &self.hybrid.distance_to_centroid,
            segment_archetypes: self.segment_archetypes(),
            pca: &self.pca,
            umap: &self.umap,
        }
    }

    /// The archetype of segment `s` at index `s - 1`.
    fn segment_archetypes(&self) -> Vec<String> {
        (1..=self.hybrid.chosen_k)
            .map(|s| {
                self.profiles
                    .iter()
                    .find(|p| p.segment == Some(s))
                    .map(|p| p.archetype.clone())
                    .unwrap_or_default()
            })
            .collect()
    }

    /// Keep a UMAP-style map computed after the run, with its trustworthiness in the outcome.
    pub fn set_umap(&mut self, umap: Vec<(usize, f64, f64)>, config: &Config) {
        self.outcome.trustworthiness_umap = umap_trust(&self.matrix, &umap, config);
        self.outcome.umap_points = umap.len();
        self.umap = umap;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::cluster::hybrid_cluster;
    use crate::pipeline::cluster::synthetic::synthetic_blobs;
    use crate::pipeline::config::KMeansConfig;
    use crate::pipeline::embed::stage::compute_views;

    fn small_config(umap_sample: usize) -> Config {
        let mut config = Config {
            kmeans: KMeansConfig { k_min: 2, k_max: 5, n_init: 2, ..KMeansConfig::default() },
            ..Config::default()
        };
        config.embedding.umap_sample = umap_sample;
        config.embedding.n_epochs = 30;
        config.embedding.trustworthiness_sample = 300;
        config
    }

    /// The clustering and the views computed at the same time equal the clustering followed by
    /// the views of its segments, bit for bit, on one thread and on two: with the map's sample
    /// every row (the map beside the clustering, phase 1's k-distances read off the map's
    /// neighbours) and a smaller one (the map after it).
    #[test]
    fn views_beside_the_clustering_equal_the_views_after_it() {
        let (x, _) = synthetic_blobs(900, 5, 3, 1.0, 4);
        for umap_sample in [1000, 400] {
            let config = small_config(umap_sample);
            let hybrid = hybrid_cluster(x.view(), &config, &Progress::none()).unwrap();
            let groups = map_groups(&hybrid);
            let views = compute_views(&x, &groups, &config, &Progress::none(), true).unwrap();
            assert_eq!(views.umap.len(), umap_sample.min(900));
            for threads in [1, 2] {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                let (h, v) = pool
                    .install(|| cluster_with_views(&x, &config, &Progress::none(), true))
                    .unwrap();
                let same_clustering = (&h.segment, &h.micro_segment, &h.is_outlier, &h.sweep)
                    == (&hybrid.segment, &hybrid.micro_segment, &hybrid.is_outlier, &hybrid.sweep);
                assert!(same_clustering, "sample {umap_sample}, {threads} threads");
                // Phase 1 read off the map's neighbours (sample 1000) or searched (400): the
                // same curve and eps, bit for bit.
                let phase1 = |c: &HybridClustering| {
                    let curve: Vec<[u64; 2]> =
                        c.kdistance_curve.iter().map(|p| p.map(f64::to_bits)).collect();
                    (c.eps.to_bits(), c.kdistance_points, curve, c.dbscan_core.clone())
                };
                assert_eq!(phase1(&h), phase1(&hybrid), "sample {umap_sample}, {threads} threads");
                assert_eq!(v.pca, views.pca);
                assert_eq!(v.umap, views.umap, "sample {umap_sample}, {threads} threads");
                assert_eq!((v.trust_pca, v.trust_umap), (views.trust_pca, views.trust_umap));
            }
        }
    }

    /// A cancel stops the clustering and the views beside it, as a cancelled run.
    #[test]
    fn a_cancelled_run_stops_with_cancelled() {
        let (x, _) = synthetic_blobs(600, 4, 3, 1.0, 2);
        let cancel = crate::pipeline::progress::CancelToken::new();
        cancel.cancel();
        let progress = Progress::new(|_| {}, cancel);
        let outcome = cluster_with_views(&x, &small_config(1000), &progress, true);
        assert!(matches!(outcome, Err(PipelineError::Cancelled)), "{:?}", outcome.err());
    }
}
