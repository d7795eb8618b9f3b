//! The cluster stage: gold matrix in, segments out, stored.
//!
//! Runs the hybrid clustering ([`super::hybrid_cluster`]), names the segments from the raw silver
//! values ([`crate::pipeline::archetypes`]), computes the 2-D views ([`crate::pipeline::embed`]),
//! and replaces `clustering_results`, `cluster_summary` and `clustering_metadata.json` in one go.

use super::{HybridClustering, KSweepRow, hybrid_cluster, recluster_with_k};
use crate::pipeline::archetypes::{SegmentProfile, profile_segments};
use crate::pipeline::config::Config;
use crate::pipeline::embed::{self, UmapParams};
use crate::pipeline::error::{DbContext, PipelineError, Result};
use crate::pipeline::gold::{RawFeatures, read_gold, read_raw_features};
use crate::pipeline::progress::{Progress, Stage};
use crate::pipeline::store::{Store, ident};
use duckdb::types::Value;
use ndarray::{Array2, Axis};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Instant;

/// Per-customer results.
pub const RESULTS: &str = "clustering_results";
/// Per-segment summary (plus an Outliers row).
pub const SUMMARY: &str = "cluster_summary";
/// Archetype name given to DBSCAN noise in every summary.
pub const OUTLIERS: &str = "Outliers";

/// One row of `cluster_summary`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct SegmentSummary {
    /// 1..=K; None for the Outliers row.
    pub segment: Option<usize>,
    pub label: String,
    pub archetype: String,
    pub size: usize,
    pub share: f64,
    pub description: String,
    pub action: String,
    pub silhouette: Option<f64>,
    pub micro_segments: usize,
    /// Share of all returned units that this segment's customers returned.
    pub returned_units_share: f64,
    /// Medians of the key raw features.
    pub medians: Vec<(String, f64)>,
}

/// What the cluster stage found (plain data for the CLI, the app and the report).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ClusterOutcome {
    pub customers: usize,
    pub features: Vec<String>,
    pub eps: f64,
    pub eps_source: String,
    pub min_samples: usize,
    pub noise_ratio: f64,
    pub outliers: usize,
    pub chosen_k: usize,
    /// The K the sweep recommended (differs from `chosen_k` when the user picked another).
    #[serde(default)]
    pub recommended_k: usize,
    pub choice_reason: String,
    pub elbow_k: Option<usize>,
    pub weak_structure: bool,
    pub silhouette: Option<f64>,
    pub calinski_harabasz: Option<f64>,
    pub davies_bouldin: Option<f64>,
    pub sweep: Vec<KSweepRow>,
    pub segments: Vec<SegmentSummary>,
    pub kdistance_curve: Vec<[f64; 2]>,
    pub kdistance_knee: Option<f64>,
    pub pca_explained: [f64; 2],
    pub trustworthiness_pca: Option<f64>,
    pub trustworthiness_umap: Option<f64>,
    pub umap_points: usize,
    pub warnings: Vec<String>,
    /// (phase, seconds).
    pub timings: Vec<(String, f64)>,
    pub metadata_path: Option<PathBuf>,
}

/// Receives a 2-D layout as (row index, x, y) while it is computed.
pub type LayoutCallback<'a> = &'a (dyn Fn(&[(usize, f64, f64)]) + Sync);

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

fn embed_error(e: embed::EmbedError) -> PipelineError {
    match e {
        embed::EmbedError::Cancelled => PipelineError::Cancelled,
        other => data_error(other),
    }
}

/// Segment label shown everywhere: "Segment 3", or "Outliers".
pub fn segment_label(segment: Option<usize>) -> String {
    segment.map_or_else(|| OUTLIERS.to_string(), |s| format!("Segment {s}"))
}

fn feature_column(raw: &RawFeatures, name: &str) -> Option<usize> {
    raw.names.iter().position(|n| n == name)
}

fn returned_units_shares(raw: &RawFeatures, hybrid: &HybridClustering) -> (Vec<f64>, f64) {
    let k = hybrid.chosen_k;
    let mut per_segment = vec![0.0; k];
    let mut outliers = 0.0;
    let Some(col) = feature_column(raw, "items_returned_count") else { return (per_segment, 0.0) };
    let mut total = 0.0;
    for (i, v) in raw.values.column(col).iter().enumerate() {
        let v = if v.is_finite() { *v } else { 0.0 };
        total += v;
        if hybrid.is_outlier[i] {
            outliers += v;
        } else {
            per_segment[hybrid.segment[i] - 1] += v;
        }
    }
    if total > 0.0 {
        per_segment.iter_mut().for_each(|s| *s /= total);
        outliers /= total;
    }
    (per_segment, outliers)
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

fn summaries(
    profiles: &[SegmentProfile],
    hybrid: &HybridClustering,
    raw: &RawFeatures,
) -> Vec<SegmentSummary> {
    let (shares, outlier_share) = returned_units_shares(raw, hybrid);
    let micro = micro_segment_counts(hybrid);
    profiles
        .iter()
        .map(|p| SegmentSummary {
            segment: p.segment,
            label: segment_label(p.segment),
            archetype: p.archetype.clone(),
            size: p.size,
            share: p.share,
            description: p.description.clone(),
            action: p.action.clone(),
            silhouette: p
                .segment
                .and_then(|s| hybrid.segment_silhouette.get(s - 1).copied().flatten()),
            micro_segments: p.segment.map_or(0, |s| micro.get(s - 1).copied().unwrap_or(0)),
            returned_units_share: p
                .segment
                .map_or(outlier_share, |s| shares.get(s - 1).copied().unwrap_or(0.0)),
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

/// The UMAP-style view of a stratified sample of `matrix` (strata: the segments and the outliers of
/// `hybrid`), as (row index, x, y). `on_layout` sees the layout, in the same form, as it improves
/// (the app draws it live).
pub fn compute_umap(
    matrix: &Array2<f64>,
    hybrid: &HybridClustering,
    config: &Config,
    progress: &Progress,
    on_layout: Option<LayoutCallback<'_>>,
) -> Result<Vec<(usize, f64, f64)>> {
    let groups: Vec<i64> = hybrid
        .segment
        .iter()
        .zip(&hybrid.is_outlier)
        .map(|(&s, &o)| if o { -1 } else { s as i64 })
        .collect();
    let sample =
        embed::stratified_sample(&groups, config.embedding.umap_sample, config.embedding.seed);
    let sub = matrix.select(Axis(0), &sample);
    let params = UmapParams {
        n_neighbors: config.embedding.n_neighbors,
        min_dist: config.embedding.min_dist,
        n_epochs: config.embedding.n_epochs,
        seed: config.embedding.seed,
        snapshot_every: 10,
    };
    let snapshot = |_epoch: usize, layout: &Array2<f32>| {
        if let Some(report) = on_layout {
            let points: Vec<(usize, f64, f64)> = sample
                .iter()
                .enumerate()
                .map(|(j, &i)| (i, f64::from(layout[[j, 0]]), f64::from(layout[[j, 1]])))
                .collect();
            report(&points);
        }
    };
    let on_epoch: Option<embed::umap::EpochCallback<'_>> =
        if on_layout.is_some() { Some(&snapshot) } else { None };
    let layout = embed::umap(sub.view(), &params, progress, on_epoch).map_err(embed_error)?;
    Ok(sample.iter().enumerate().map(|(j, &i)| (i, layout[[j, 0]], layout[[j, 1]])).collect())
}

fn trust(matrix: &Array2<f64>, low: &Array2<f64>, config: &Config) -> Option<f64> {
    embed::trustworthiness_sampled(
        matrix.view(),
        low.view(),
        10,
        config.embedding.trustworthiness_sample,
        config.embedding.seed,
    )
    .ok()
}

fn umap_trust(matrix: &Array2<f64>, umap: &[(usize, f64, f64)], config: &Config) -> Option<f64> {
    if umap.len() < 3 {
        return None;
    }
    let rows: Vec<usize> = umap.iter().map(|(i, _, _)| *i).collect();
    let high = matrix.select(Axis(0), &rows);
    let low =
        Array2::from_shape_fn((umap.len(), 2), |(r, c)| if c == 0 { umap[r].1 } else { umap[r].2 });
    trust(&high, &low, config)
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

/// The 2-D views of the gold matrix; they do not depend on K, so a re-segmentation keeps them.
#[derive(Clone)]
struct Views {
    pca: Array2<f64>,
    pca_explained: [f64; 2],
    umap: Vec<(usize, f64, f64)>,
    trust_pca: Option<f64>,
    trust_umap: Option<f64>,
    seconds: f64,
}

fn compute_views(
    matrix: &Array2<f64>,
    hybrid: &HybridClustering,
    config: &Config,
    progress: &Progress,
    with_umap: bool,
) -> Result<Views> {
    progress.update(0.65, "PCA view");
    let started = Instant::now();
    let pca = embed::pca_2d(matrix.view()).map_err(embed_error)?;
    let umap = if with_umap && config.embedding.umap_enabled {
        compute_umap(matrix, hybrid, config, &progress.sub(0.68, 0.95), None)?
    } else {
        Vec::new()
    };
    Ok(Views {
        trust_pca: trust(matrix, &pca.coords, config),
        trust_umap: umap_trust(matrix, &umap, config),
        pca: pca.coords,
        pca_explained: pca.explained_variance_ratio,
        umap,
        seconds: started.elapsed().as_secs_f64(),
    })
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
    progress.update(0.02, "Clustering");
    let hybrid = hybrid_cluster(inputs.matrix.view(), config, &progress.sub(0.02, 0.6))
        .map_err(cluster_error)?;
    let views = compute_views(&inputs.matrix, &hybrid, config, progress, with_umap)?;
    finish_run(store, config, progress, inputs, hybrid, views, started)
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
        segments: summaries(&profiles, &hybrid, &raw),
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
    progress.update(0.97, "Saving the model");
    let model = crate::pipeline::scoring::model::build_model(store, config, &run)?;
    outcome.timings.push(("cluster_stage_total".into(), started.elapsed().as_secs_f64()));
    store.in_transaction(|s| {
        s.forget_stage_and_later(Stage::Cluster)?;
        write_results(s, &run)?;
        write_summary(s, &outcome.segments)?;
        crate::pipeline::scoring::model::write_model(s, &model)?;
        let details = serde_json::to_value(&outcome).map_err(data_error)?;
        s.mark_stage_complete(Stage::Cluster, &details)
    })?;
    outcome.metadata_path = crate::pipeline::metadata::write_metadata(store, config, &outcome).ok();
    progress.update_items(1.0, "Segments ready", outcome.customers as u64);
    Ok(ClusterRun { outcome, ..run })
}

fn write_results(store: &Store, run: &ClusterRun) -> Result<()> {
    store
        .conn()
        .execute_batch(&format!(
            "CREATE OR REPLACE TABLE {RESULTS} (customer_id VARCHAR, segment INTEGER, archetype VARCHAR,
               micro_segment VARCHAR, is_outlier BOOLEAN, distance_to_centroid DOUBLE,
               pca_x DOUBLE, pca_y DOUBLE, umap_x DOUBLE, umap_y DOUBLE)"
        ))
        .db("creating the results table")?;
    let archetype_of: Vec<String> = (1..=run.hybrid.chosen_k)
        .map(|s| {
            run.profiles
                .iter()
                .find(|p| p.segment == Some(s))
                .map(|p| p.archetype.clone())
                .unwrap_or_default()
        })
        .collect();
    let mut umap = vec![None; run.customer_ids.len()];
    for (i, x, y) in &run.umap {
        umap[*i] = Some((*x, *y));
    }
    let h = &run.hybrid;
    let mut app = store.conn().appender(RESULTS).db("writing the results")?;
    for (i, id) in run.customer_ids.iter().enumerate() {
        let archetype = if h.is_outlier[i] {
            OUTLIERS.to_string()
        } else {
            archetype_of[h.segment[i] - 1].clone()
        };
        let (ux, uy) = umap[i]
            .map_or((Value::Null, Value::Null), |(x, y)| (Value::Double(x), Value::Double(y)));
        let row = vec![
            Value::Text(id.clone()),
            Value::Int(h.segment[i] as i32),
            Value::Text(archetype),
            Value::Text(h.micro_segment[i].clone()),
            Value::Boolean(h.is_outlier[i]),
            Value::Double(h.distance_to_centroid[i]),
            Value::Double(run.pca[[i, 0]]),
            Value::Double(run.pca[[i, 1]]),
            ux,
            uy,
        ];
        app.append_row(duckdb::appender_params_from_iter(row)).db("writing the results")?;
    }
    app.flush().db("writing the results")
}

fn write_summary(store: &Store, segments: &[SegmentSummary]) -> Result<()> {
    let keys: Vec<&str> = crate::pipeline::archetypes::key_features().to_vec();
    let medians: Vec<String> =
        keys.iter().map(|f| format!("{} DOUBLE", ident(&format!("median_{f}")))).collect();
    let extra =
        if medians.is_empty() { String::new() } else { format!(", {}", medians.join(", ")) };
    store
        .conn()
        .execute_batch(&format!(
            "CREATE OR REPLACE TABLE {SUMMARY} (segment INTEGER, label VARCHAR, archetype VARCHAR, size BIGINT,
               share DOUBLE, description VARCHAR, action VARCHAR, silhouette DOUBLE, micro_segments INTEGER,
               returned_units_share DOUBLE{extra})"
        ))
        .db("creating the summary table")?;
    let mut app = store.conn().appender(SUMMARY).db("writing the summary")?;
    for s in segments {
        let mut row = vec![
            s.segment.map_or(Value::Null, |v| Value::Int(v as i32)),
            Value::Text(s.label.clone()),
            Value::Text(s.archetype.clone()),
            Value::BigInt(s.size as i64),
            Value::Double(s.share),
            Value::Text(s.description.clone()),
            Value::Text(s.action.clone()),
            s.silhouette.map_or(Value::Null, Value::Double),
            Value::Int(s.micro_segments as i32),
            Value::Double(s.returned_units_share),
        ];
        row.extend(keys.iter().map(|k| {
            s.medians
                .iter()
                .find(|(f, _)| f == k)
                .filter(|(_, v)| v.is_finite())
                .map_or(Value::Null, |(_, v)| Value::Double(*v))
        }));
        app.append_row(duckdb::appender_params_from_iter(row)).db("writing the summary")?;
    }
    app.flush().db("writing the summary")
}

/// Keep a UMAP-style view computed after the run (the app computes it in the background): the run,
/// the results table's `umap_x`/`umap_y`, the stored outcome and the metadata file all get it.
pub fn store_umap(
    store: &Store,
    config: &Config,
    run: &mut ClusterRun,
    umap: Vec<(usize, f64, f64)>,
) -> Result<()> {
    run.outcome.trustworthiness_umap = umap_trust(&run.matrix, &umap, config);
    run.outcome.umap_points = umap.len();
    run.umap = umap;
    store.in_transaction(|s| {
        s.conn()
            .execute_batch(&format!("UPDATE {RESULTS} SET umap_x = NULL, umap_y = NULL"))
            .db("clearing the previous map")?;
        s.conn()
            .execute_batch(
                "CREATE OR REPLACE TEMP TABLE umap_view (customer_id VARCHAR, x DOUBLE, y DOUBLE)",
            )
            .db("storing the map")?;
        {
            let mut app = s.conn().appender("umap_view").db("storing the map")?;
            for (i, x, y) in &run.umap {
                app.append_row(duckdb::params![run.customer_ids[*i], x, y])
                    .db("storing the map")?;
            }
            app.flush().db("storing the map")?;
        }
        s.conn()
            .execute_batch(&format!(
                "UPDATE {RESULTS} r SET umap_x = u.x, umap_y = u.y FROM umap_view u
                 WHERE r.customer_id = u.customer_id; DROP TABLE umap_view;"
            ))
            .db("storing the map")?;
        let details = serde_json::to_value(&run.outcome).map_err(data_error)?;
        s.mark_stage_complete(Stage::Cluster, &details)
    })?;
    run.outcome.metadata_path =
        crate::pipeline::metadata::write_metadata(store, config, &run.outcome).ok();
    Ok(())
}

/// The stored outcome of the last clustering.
pub fn stored_outcome(store: &Store) -> Result<Option<ClusterOutcome>> {
    Ok(store.stage_details(Stage::Cluster)?.and_then(|d| serde_json::from_value(d).ok()))
}

/// Export the per-customer results with the key raw features to a CSV.
pub fn export_results_csv(store: &Store, out: &std::path::Path) -> Result<()> {
    if !store.table_exists(RESULTS)? {
        return Err(PipelineError::MissingLayer {
            stage: "Export",
            needs: "clustering",
            until: "cluster",
        });
    }
    let keys: Vec<String> = crate::pipeline::features::present_key_features(store)?
        .iter()
        .map(|k| format!("s.{}", ident(k)))
        .collect();
    let extra = if keys.is_empty() { String::new() } else { format!(", {}", keys.join(", ")) };
    let sql = format!(
        "COPY (SELECT r.*{extra} FROM {RESULTS} r JOIN {} s USING (customer_id) ORDER BY r.segment, r.customer_id)
         TO {} (FORMAT CSV, HEADER)",
        crate::pipeline::features::SILVER,
        crate::pipeline::store::literal(&out.to_string_lossy())
    );
    store.conn().execute_batch(&sql).map_err(|e| PipelineError::Write {
        path: out.display().to_string(),
        reason: e.to_string(),
    })
}
