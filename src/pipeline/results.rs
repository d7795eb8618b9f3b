//! The clustering's tables: `clustering_results` (one row per clustered customer) and
//! `cluster_summary` (one row per segment, then the Outliers), written and read here.
//!
//! The cluster stage ([`crate::pipeline::cluster::stage`]) computes; this module stores what it
//! found, in one transaction with the stage's outcome, reads the stored outcome back and exports
//! the results. The UMAP-style map, computed later in the app, is added to the same rows by
//! [`store_map`].

use crate::pipeline::error::{DbContext, PipelineError, Result};
use crate::pipeline::features::{SILVER, key_features, present_key_features};
use crate::pipeline::model::{ClusterOutcome, OUTLIERS, SegmentSummary};
use crate::pipeline::progress::Stage;
use crate::pipeline::store::{Store, ident, literal};
use duckdb::types::Value;
use ndarray::Array2;
use std::path::Path;

/// Per-customer results.
pub const RESULTS: &str = "clustering_results";
/// Per-segment summary (plus an Outliers row).
pub const SUMMARY: &str = "cluster_summary";

/// Every clustered customer's result, row for row (plain slices of a clustering run).
pub struct CustomerResults<'a> {
    pub customer_ids: &'a [String],
    /// 1..=K; an outlier carries its nearest segment.
    pub segment: &'a [usize],
    pub is_outlier: &'a [bool],
    pub micro_segment: &'a [String],
    pub distance_to_centroid: &'a [f64],
    /// The archetype of segment `s` at index `s - 1`.
    pub segment_archetypes: Vec<String>,
    /// PCA coordinates, one row per customer.
    pub pca: &'a Array2<f64>,
    /// (row index, x, y) of the customers in the UMAP-style sample.
    pub umap: &'a [(usize, f64, f64)],
}

fn data_error(e: impl std::fmt::Display) -> PipelineError {
    PipelineError::Data(e.to_string())
}

/// Replace the clustering's tables and mark the cluster stage complete with `outcome`, in one
/// transaction (later stages are forgotten).
pub fn store_results(
    store: &Store,
    results: &CustomerResults<'_>,
    outcome: &ClusterOutcome,
) -> Result<()> {
    store.in_transaction(|s| {
        s.forget_stage_and_later(Stage::Cluster)?;
        write_results(s, results)?;
        write_summary(s, &outcome.segments)?;
        let details = serde_json::to_value(outcome).map_err(data_error)?;
        s.mark_stage_complete(Stage::Cluster, &details)
    })
}

fn write_results(store: &Store, results: &CustomerResults<'_>) -> Result<()> {
    store
        .conn()
        .execute_batch(&format!(
            "CREATE OR REPLACE TABLE {RESULTS} (customer_id VARCHAR, segment INTEGER, archetype VARCHAR,
               micro_segment VARCHAR, is_outlier BOOLEAN, distance_to_centroid DOUBLE,
               pca_x DOUBLE, pca_y DOUBLE, umap_x DOUBLE, umap_y DOUBLE)"
        ))
        .db("creating the results table")?;
    let mut umap = vec![None; results.customer_ids.len()];
    for (i, x, y) in results.umap {
        umap[*i] = Some((*x, *y));
    }
    let mut app = store.conn().appender(RESULTS).db("writing the results")?;
    for (i, id) in results.customer_ids.iter().enumerate() {
        let segment = results.segment[i];
        let archetype = if results.is_outlier[i] {
            OUTLIERS.to_string()
        } else {
            results.segment_archetypes.get(segment - 1).cloned().unwrap_or_default()
        };
        let (ux, uy) = umap[i]
            .map_or((Value::Null, Value::Null), |(x, y)| (Value::Double(x), Value::Double(y)));
        let row = vec![
            Value::Text(id.clone()),
            Value::Int(segment as i32),
            Value::Text(archetype),
            Value::Text(results.micro_segment[i].clone()),
            Value::Boolean(results.is_outlier[i]),
            Value::Double(results.distance_to_centroid[i]),
            Value::Double(results.pca[[i, 0]]),
            Value::Double(results.pca[[i, 1]]),
            ux,
            uy,
        ];
        app.append_row(duckdb::appender_params_from_iter(row)).db("writing the results")?;
    }
    app.flush().db("writing the results")
}

fn write_summary(store: &Store, segments: &[SegmentSummary]) -> Result<()> {
    let keys = key_features();
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

/// Keep a UMAP-style map computed after the run: the results' `umap_x`/`umap_y` (customers
/// outside the map's sample get NULL) and the stored outcome, in one transaction.
pub fn store_map(
    store: &Store,
    customer_ids: &[String],
    umap: &[(usize, f64, f64)],
    outcome: &ClusterOutcome,
) -> Result<()> {
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
            for (i, x, y) in umap {
                app.append_row(duckdb::params![customer_ids[*i], x, y]).db("storing the map")?;
            }
            app.flush().db("storing the map")?;
        }
        s.conn()
            .execute_batch(&format!(
                "UPDATE {RESULTS} r SET umap_x = u.x, umap_y = u.y FROM umap_view u
                 WHERE r.customer_id = u.customer_id; DROP TABLE umap_view;"
            ))
            .db("storing the map")?;
        let details = serde_json::to_value(outcome).map_err(data_error)?;
        s.mark_stage_complete(Stage::Cluster, &details)
    })
}

/// The stored outcome of the last clustering.
pub fn stored_outcome(store: &Store) -> Result<Option<ClusterOutcome>> {
    Ok(store.stage_details(Stage::Cluster)?.and_then(|d| serde_json::from_value(d).ok()))
}

/// Export the per-customer results with the key raw features to a CSV.
pub fn export_results_csv(store: &Store, out: &Path) -> Result<()> {
    if !store.table_exists(RESULTS)? {
        return Err(PipelineError::MissingLayer {
            stage: "Export",
            needs: "clustering",
            until: "cluster",
        });
    }
    let keys: Vec<String> =
        present_key_features(store)?.iter().map(|k| format!("s.{}", ident(k))).collect();
    let extra = if keys.is_empty() { String::new() } else { format!(", {}", keys.join(", ")) };
    let sql = format!(
        "COPY (SELECT r.*{extra} FROM {RESULTS} r JOIN {SILVER} s USING (customer_id) ORDER BY r.segment, r.customer_id)
         TO {} (FORMAT CSV, HEADER)",
        literal(&out.to_string_lossy())
    );
    store.conn().execute_batch(&sql).map_err(|e| PipelineError::Write {
        path: out.display().to_string(),
        reason: e.to_string(),
    })
}
