//! The scoring stage: the eligible customers of an analysis (its silver layer) placed with a
//! frozen model, stored as `scored_results`; nothing is clustered.
//!
//! Every silver customer gets a row. A customer the model cannot place keeps NULL segment
//! columns and says why in `reason` (today: too few orders to be segmented, as in the model's
//! own analysis); NULL feature values take the model's fill values, counted per feature in the
//! summary. A model whose coordinates the extract lacks is an error before anything is written.

use super::assign::{Assigner, Assignment, to_model_space};
use super::model::SegmentationModel;
use crate::pipeline::error::{DbContext, PipelineError, Result};
use crate::pipeline::features::SILVER;
use crate::pipeline::gold::read_raw_features;
use crate::pipeline::model::segment_or_outliers_label;
use crate::pipeline::progress::Progress;
use crate::pipeline::store::{Store, literal};
use duckdb::types::Value;
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// Per-customer scores.
pub const SCORED: &str = "scored_results";
/// One row: which model scored this analysis, and the summary.
pub const SCORING_INFO: &str = "scoring_info";

/// What scoring did.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ScoreSummary {
    pub model_id: String,
    /// The model's source extract and as_of.
    pub model_input: String,
    pub model_as_of: Option<String>,
    /// Customers in the silver layer.
    pub customers: usize,
    pub placed: usize,
    pub outliers: usize,
    /// (reason, customers) for everyone not placed.
    pub not_placed: Vec<(String, usize)>,
    /// (feature, NULLs that took the model's fill value), only features with some.
    pub nulls_filled: Vec<(String, usize)>,
    /// (segment label, archetype, customers placed), outliers as their own row.
    pub segments: Vec<(String, String, usize)>,
    pub seconds: f64,
}

/// The reason stored for a customer with too few orders.
pub fn too_few_orders_reason(min_orders: u32) -> String {
    format!("fewer than {min_orders} orders: too few to be segmented (as in the model's analysis)")
}

/// Score the analysis in `store` with `model` and store `scored_results` (one transaction).
pub fn score_store(
    store: &Store,
    model: &SegmentationModel,
    progress: &Progress,
) -> Result<ScoreSummary> {
    let started = Instant::now();
    if !store.table_exists(SILVER)? {
        return Err(PipelineError::MissingLayer {
            stage: "Scoring",
            needs: "the new extract's features",
            until: "features",
        });
    }
    progress.update(0.05, "Reading features");
    let raw = read_raw_features(store, true)?;
    let space = to_model_space(model, &raw)?;
    progress.check_cancel()?;
    progress.update(0.2, "Placing customers");
    let placed = Assigner::new(model)?.assign(space.matrix.view(), &progress.sub(0.2, 0.8))?;
    let not_eligible = ineligible_customers(store)?;
    let reason = too_few_orders_reason(model.config.quality.min_orders_per_customer);
    progress.update(0.8, "Storing scores");
    let mut summary = summarize(model, &placed, not_eligible.len(), reason.clone());
    summary.nulls_filled = space.nulls_filled.into_iter().filter(|(_, n)| *n > 0).collect();
    store.in_transaction(|s| {
        write_scores(s, model, &space.customer_ids, &placed, &not_eligible, &reason)?;
        write_info(s, &summary)
    })?;
    summary.seconds = started.elapsed().as_secs_f64();
    progress.update_items(1.0, "Customers scored", summary.customers as u64);
    Ok(summary)
}

fn ineligible_customers(store: &Store) -> Result<Vec<String>> {
    let mut stmt = store
        .conn()
        .prepare(&format!(
            "SELECT customer_id FROM {SILVER} WHERE NOT eligible ORDER BY customer_id"
        ))
        .db("reading the customers")?;
    let ids = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .db("reading the customers")?
        .collect::<std::result::Result<Vec<_>, _>>()
        .db("reading the customers")?;
    Ok(ids)
}

fn summarize(
    model: &SegmentationModel,
    placed: &[Assignment],
    not_eligible: usize,
    reason: String,
) -> ScoreSummary {
    let k = model.segments.len();
    let mut sizes = vec![0usize; k + 1];
    for a in placed {
        sizes[if a.is_outlier { k } else { a.segment - 1 }] += 1;
    }
    let segments = (0..=k)
        .map(|i| {
            let s = (i < k).then_some(i + 1);
            let archetype = model.archetype_of(i + 1, s.is_none());
            (segment_or_outliers_label(s), archetype, sizes[i])
        })
        .collect();
    ScoreSummary {
        model_id: model.model_id.clone(),
        model_input: model.source.input_name.clone(),
        model_as_of: model.source.as_of.clone(),
        customers: placed.len() + not_eligible,
        placed: placed.len(),
        outliers: sizes[k],
        not_placed: if not_eligible > 0 { vec![(reason, not_eligible)] } else { Vec::new() },
        segments,
        ..ScoreSummary::default()
    }
}

fn write_scores(
    store: &Store,
    model: &SegmentationModel,
    ids: &[String],
    placed: &[Assignment],
    not_eligible: &[String],
    reason: &str,
) -> Result<()> {
    store
        .conn()
        .execute_batch(&format!(
            "CREATE OR REPLACE TABLE {SCORED} (customer_id VARCHAR, segment INTEGER,
               archetype VARCHAR, micro_segment VARCHAR, is_outlier BOOLEAN,
               distance_to_centroid DOUBLE, model_id VARCHAR, reason VARCHAR)"
        ))
        .db("creating the scores table")?;
    let mut app = store.conn().appender(SCORED).db("writing the scores")?;
    let model_id = Value::Text(model.model_id.clone());
    for (id, a) in ids.iter().zip(placed) {
        let row = vec![
            Value::Text(id.clone()),
            Value::Int(a.segment as i32),
            Value::Text(model.archetype_of(a.segment, a.is_outlier)),
            Value::Text(a.micro_segment.clone()),
            Value::Boolean(a.is_outlier),
            Value::Double(a.distance_to_centroid),
            model_id.clone(),
            Value::Null,
        ];
        app.append_row(duckdb::appender_params_from_iter(row)).db("writing the scores")?;
    }
    for id in not_eligible {
        let row = vec![
            Value::Text(id.clone()),
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
            model_id.clone(),
            Value::Text(reason.to_string()),
        ];
        app.append_row(duckdb::appender_params_from_iter(row)).db("writing the scores")?;
    }
    app.flush().db("writing the scores")
}

fn write_info(store: &Store, summary: &ScoreSummary) -> Result<()> {
    let details = serde_json::to_string(summary).map_err(|e| PipelineError::Data(e.to_string()))?;
    store
        .conn()
        .execute_batch(&format!(
            "CREATE OR REPLACE TABLE {SCORING_INFO} (model_id VARCHAR, details VARCHAR);
             INSERT INTO {SCORING_INFO} VALUES ({}, {});",
            literal(&summary.model_id),
            literal(&details)
        ))
        .db("storing the scoring summary")
}

/// The summary of the last scoring of this analysis, if it was scored.
pub fn stored_score(store: &Store) -> Result<Option<ScoreSummary>> {
    if !store.table_exists(SCORING_INFO)? || !store.table_exists(SCORED)? {
        return Ok(None);
    }
    let details: Option<String> = store
        .conn()
        .query_row(&format!("SELECT details FROM {SCORING_INFO} LIMIT 1"), [], |r| r.get(0))
        .ok();
    Ok(details.and_then(|d| serde_json::from_str(&d).ok()))
}

/// Export `scored_results` to a CSV (customers ordered by segment, then id); with
/// `with_key_features`, joined with the key raw features as `export results` does.
pub fn export_scores_csv(
    store: &Store,
    out: &std::path::Path,
    with_key_features: bool,
) -> Result<()> {
    let keys: Vec<String> = if with_key_features {
        crate::pipeline::features::present_key_features(store)?
            .iter()
            .map(|k| format!("s.{}", crate::pipeline::store::ident(k)))
            .collect()
    } else {
        Vec::new()
    };
    let extra = if keys.is_empty() { String::new() } else { format!(", {}", keys.join(", ")) };
    let sql = format!(
        "COPY (SELECT r.*{extra} FROM {SCORED} r LEFT JOIN {SILVER} s USING (customer_id)
               ORDER BY r.segment NULLS LAST, r.customer_id)
         TO {} (FORMAT CSV, HEADER)",
        literal(&out.to_string_lossy())
    );
    store.conn().execute_batch(&sql).map_err(|e| PipelineError::Write {
        path: out.display().to_string(),
        reason: crate::pipeline::scoring::plain_db_reason(&e),
    })
}
