//! Gold: from silver features to the clustering matrix (`gold_cluster_processed`).
//!
//! Reads the eligible customers' numeric features from silver (ordered by customer_id, so every
//! later table lines up row by row), applies the transforms of CLUSTERING.md "Gold" in
//! [`transform`] (pure code, no DuckDB), and stores the matrix with customer_id plus
//! `gold_feature_transforms`, one row per input feature saying exactly what was done to it.

mod columns;
pub mod transform;

pub use transform::{FeatureTransform, GoldError, GoldMatrix, build_gold};

use crate::pipeline::config::Config;
use crate::pipeline::error::{DbContext, PipelineError, Result};
use crate::pipeline::features::{ORDER_VALUE_FEATURES, SILVER, silver_numeric_columns};
use crate::pipeline::model::RawFeatures;
use crate::pipeline::progress::{Progress, Stage};
use crate::pipeline::store::{Store, ident};
use duckdb::types::Value;
use ndarray::Array2;
use serde::{Deserialize, Serialize};

/// The gold matrix table.
pub const GOLD: &str = "gold_cluster_processed";
/// One row per input feature: what the gold layer did to it.
pub const TRANSFORMS: &str = "gold_feature_transforms";

/// What the gold stage built.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct GoldSummary {
    pub customers: usize,
    pub features_in: usize,
    pub features_kept: Vec<String>,
    /// (feature, reason) for every dropped feature.
    pub dropped: Vec<(String, String)>,
    pub log1p: Vec<String>,
    pub nulls_filled: usize,
}

/// The raw silver values of the eligible customers (NaN = NULL), ordered by customer_id.
/// Order-value features are included only when `with_order_value`.
pub fn read_raw_features(store: &Store, with_order_value: bool) -> Result<RawFeatures> {
    if !store.table_exists(SILVER)? {
        return Err(PipelineError::MissingLayer {
            stage: "Gold",
            needs: "features",
            until: "features",
        });
    }
    let names: Vec<String> = silver_numeric_columns(store)?
        .into_iter()
        .filter(|c| with_order_value || !ORDER_VALUE_FEATURES.contains(&c.as_str()))
        .collect();
    let select: Vec<String> =
        names.iter().map(|c| format!("CAST({} AS DOUBLE)", ident(c))).collect();
    let sql = format!(
        "SELECT customer_id, {} FROM {SILVER} WHERE eligible ORDER BY customer_id",
        select.join(", ")
    );
    let (ids, flat) =
        columns::read_id_and_numbers(store, &sql, names.len(), "reading silver features")?;
    let values = Array2::from_shape_vec((ids.len(), names.len()), flat).map_err(|e| {
        PipelineError::Data(format!("silver features have an inconsistent shape: {e}"))
    })?;
    Ok(RawFeatures { customer_ids: ids, names, values })
}

fn write_matrix(store: &Store, gold: &GoldMatrix) -> Result<()> {
    let columns: Vec<String> = gold.names.iter().map(|n| format!("{} DOUBLE", ident(n))).collect();
    store
        .conn()
        .execute_batch(&format!(
            "CREATE OR REPLACE TABLE {GOLD} (customer_id VARCHAR, {})",
            columns.join(", ")
        ))
        .db("creating the gold table")?;
    let mut app = store.conn().appender(GOLD).db("writing the gold matrix")?;
    for (i, id) in gold.customer_ids.iter().enumerate() {
        let mut row: Vec<Value> = Vec::with_capacity(gold.names.len() + 1);
        row.push(Value::Text(id.clone()));
        row.extend(gold.matrix.row(i).iter().map(|v| Value::Double(*v)));
        app.append_row(duckdb::appender_params_from_iter(row)).db("writing the gold matrix")?;
    }
    app.flush().db("writing the gold matrix")
}

fn opt(v: Option<f64>) -> Value {
    v.map_or(Value::Null, Value::Double)
}

fn write_transforms(store: &Store, transforms: &[FeatureTransform]) -> Result<()> {
    store
        .conn()
        .execute_batch(&format!(
            "CREATE OR REPLACE TABLE {TRANSFORMS} (feature VARCHAR, kept BOOLEAN, drop_reason VARCHAR,
               completeness DOUBLE, nulls_filled BIGINT, fill_value DOUBLE, log1p BOOLEAN, skewness DOUBLE,
               clip_low DOUBLE, clip_high DOUBLE, center DOUBLE, scale DOUBLE)"
        ))
        .db("creating the transforms table")?;
    let mut app = store.conn().appender(TRANSFORMS).db("writing the transforms")?;
    for t in transforms {
        let row = vec![
            Value::Text(t.feature.clone()),
            Value::Boolean(t.kept),
            t.drop_reason.clone().map_or(Value::Null, Value::Text),
            Value::Double(t.completeness),
            Value::BigInt(t.nulls_filled as i64),
            opt(t.fill_value),
            Value::Boolean(t.log1p),
            opt(t.skewness),
            opt(t.clip_low),
            opt(t.clip_high),
            opt(t.center),
            opt(t.scale),
        ];
        app.append_row(duckdb::appender_params_from_iter(row)).db("writing the transforms")?;
    }
    app.flush().db("writing the transforms")
}

fn summarize(gold: &GoldMatrix) -> GoldSummary {
    GoldSummary {
        customers: gold.customer_ids.len(),
        features_in: gold.transforms.len(),
        features_kept: gold.names.clone(),
        dropped: gold
            .transforms
            .iter()
            .filter(|t| !t.kept)
            .map(|t| (t.feature.clone(), t.drop_reason.clone().unwrap_or_default()))
            .collect(),
        log1p: gold.transforms.iter().filter(|t| t.log1p).map(|t| t.feature.clone()).collect(),
        nulls_filled: gold.transforms.iter().map(|t| t.nulls_filled).sum(),
    }
}

/// Build and store the gold matrix (one transaction).
pub fn build_gold_layer(
    store: &Store,
    config: &Config,
    progress: &Progress,
) -> Result<GoldSummary> {
    progress.update(0.05, "Reading features");
    let raw = read_raw_features(store, config.data.include_order_value)?;
    progress.check_cancel()?;
    progress.update(0.3, "Filling, transforming and scaling");
    let gold = build_gold(&raw, &config.gold, config.quality.min_feature_completeness)
        .map_err(|e| PipelineError::Data(format!("cannot build the clustering matrix: {e}")))?;
    progress.check_cancel()?;
    progress.update(0.7, "Storing the matrix");
    let summary = summarize(&gold);
    store.in_transaction(|s| {
        s.forget_stage_and_later(Stage::Gold)?;
        write_matrix(s, &gold)?;
        write_transforms(s, &gold.transforms)?;
        let details =
            serde_json::to_value(&summary).map_err(|e| PipelineError::Data(e.to_string()))?;
        s.mark_stage_complete(Stage::Gold, &details, config)
    })?;
    progress.update_items(1.0, "Matrix ready", summary.customers as u64);
    Ok(summary)
}

/// Read the stored gold matrix (ids, feature names, matrix).
pub fn read_gold(store: &Store) -> Result<(Vec<String>, Vec<String>, Array2<f64>)> {
    let missing = PipelineError::MissingLayer {
        stage: "Clustering",
        needs: "the gold matrix",
        until: "gold",
    };
    let summary = match stored_summary(store)? {
        Some(summary) if store.table_exists(GOLD)? => summary,
        _ => return Err(missing),
    };
    let names = summary.features_kept;
    let select: Vec<String> = names.iter().map(|c| ident(c)).collect();
    let sql = format!("SELECT customer_id, {} FROM {GOLD} ORDER BY customer_id", select.join(", "));
    let (ids, flat) =
        columns::read_id_and_numbers(store, &sql, names.len(), "reading the gold matrix")?;
    if flat.iter().any(|v| v.is_nan()) {
        return Err(PipelineError::Data(
            "the gold matrix has empty values: build the clustering matrix again (gold)".into(),
        ));
    }
    let matrix = Array2::from_shape_vec((ids.len(), names.len()), flat).map_err(|e| {
        PipelineError::Data(format!("the gold matrix has an inconsistent shape: {e}"))
    })?;
    Ok((ids, names, matrix))
}

/// The stored gold summary.
pub fn stored_summary(store: &Store) -> Result<Option<GoldSummary>> {
    store.stage_summary(Stage::Gold)
}
