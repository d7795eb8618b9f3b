//! Fill [`ReportData`] from an analysis file: the quality report, the silver statistics, the
//! stored clustering outcome and the per-customer results.

use super::data::*;
use crate::pipeline::config::Config;
use crate::pipeline::error::{DbContext, PipelineError, Result};
use crate::pipeline::features::{SILVER, read_stats};
use crate::pipeline::gold::GOLD;
use crate::pipeline::model::{
    ClusterOutcome, DatasetCheck, FeatureStat, NOT_SEGMENTED, QualityCount,
};
use crate::pipeline::results::{RESULTS, stored_outcome};
use crate::pipeline::store::{Store, ident};
use crate::pipeline::{ingest, metadata, validate};

fn nan(v: Option<f64>) -> f64 {
    v.unwrap_or(f64::NAN)
}

fn dataset_facts(store: &Store) -> Result<DatasetFacts> {
    let ingest = ingest::stored_ingest(store)?.map(|(s, _)| s).unwrap_or_default();
    let q = validate::stored_report(store)?.unwrap_or_default();
    Ok(DatasetFacts {
        input_file: ingest.input_name,
        input_sha256: ingest.input_sha256,
        rows_loaded: ingest.rows_loaded,
        clean_lines: q.clean_lines,
        customers: q.customers,
        eligible_customers: q.eligible_customers,
        first_order_date: q.first_order.unwrap_or_default(),
        last_order_date: q.last_order.unwrap_or_default(),
        as_of: q.as_of.unwrap_or_default(),
    })
}

fn quality(store: &Store) -> Result<(Vec<QualityCount>, Vec<DatasetCheck>)> {
    let q = validate::stored_report(store)?.unwrap_or_default();
    Ok((q.counts, q.checks))
}

fn not_segmented_row(store: &Store, keys: &[String], total: u64) -> Result<Option<SegmentRow>> {
    let size = store
        .scalar_i64(&format!("SELECT count(*) FROM {SILVER} WHERE NOT eligible"))?
        .max(0) as u64;
    if size == 0 {
        return Ok(None);
    }
    let medians: Vec<String> =
        keys.iter().map(|k| format!("median(CAST({} AS DOUBLE))", ident(k))).collect();
    let sql = format!("SELECT {} FROM {SILVER} WHERE NOT eligible", medians.join(", "));
    let values: Vec<f64> = store
        .conn()
        .query_row(&sql, [], |r| {
            (0..keys.len()).map(|i| r.get::<_, Option<f64>>(i).map(nan)).collect()
        })
        .db("profiling customers who were not segmented")?;
    let returned_total = store.conn().query_row(
        &format!("SELECT sum(items_returned_count) FILTER (NOT eligible) / nullif(sum(items_returned_count), 0) FROM {SILVER}"),
        [],
        |r| r.get::<_, Option<f64>>(0),
    );
    Ok(Some(SegmentRow {
        segment: None,
        label: NOT_SEGMENTED.into(),
        size,
        share: if total > 0 { size as f64 / total as f64 } else { 0.0 },
        archetype: NOT_SEGMENTED.into(),
        description: "Too few orders to be segmented (below quality.min_orders_per_customer)."
            .into(),
        action: "Nurture toward a second order; re-segment them once they qualify.".into(),
        key_feature_medians: values,
        silhouette: None,
        micro_segments: 0,
        returned_units_share: returned_total.ok().flatten().unwrap_or(0.0),
    }))
}

fn segment_rows(outcome: &ClusterOutcome, keys: &[String], total: u64) -> Vec<SegmentRow> {
    outcome
        .segments
        .iter()
        .map(|s| SegmentRow {
            segment: s.segment,
            label: s.label.clone(),
            size: s.size as u64,
            share: if total > 0 { s.size as f64 / total as f64 } else { 0.0 },
            archetype: s.archetype.clone(),
            description: s.description.clone(),
            action: s.action.clone(),
            key_feature_medians: keys
                .iter()
                .map(|k| s.medians.iter().find(|(f, _)| f == k).map_or(f64::NAN, |(_, v)| *v))
                .collect(),
            silhouette: s.silhouette,
            micro_segments: s.micro_segments,
            returned_units_share: s.returned_units_share,
        })
        .collect()
}

fn customers(store: &Store, keys: &[String]) -> Result<Vec<CustomerRow>> {
    let key_cols: Vec<String> =
        keys.iter().map(|k| format!("CAST(s.{} AS DOUBLE)", ident(k))).collect();
    let sql = format!(
        "SELECT s.customer_id, r.segment, coalesce(r.archetype, '{NOT_SEGMENTED}'), coalesce(r.micro_segment, ''),
                coalesce(r.is_outlier, false), r.distance_to_centroid, r.pca_x, r.pca_y, r.umap_x, r.umap_y, {}
         FROM {SILVER} s LEFT JOIN {RESULTS} r USING (customer_id)
         ORDER BY r.segment NULLS LAST, s.customer_id",
        key_cols.join(", ")
    );
    let mut stmt = store.conn().prepare(&sql).db("reading customer results")?;
    let mut rows = stmt.query([]).db("reading customer results")?;
    let mut out = Vec::new();
    while let Some(r) = rows.next().db("reading customer results")? {
        let get = |i: usize| r.get::<_, Option<f64>>(i);
        out.push(CustomerRow {
            customer_id: r.get(0).db("reading customer results")?,
            segment: r.get::<_, Option<i32>>(1).db("reading customer results")?.map(|s| s as usize),
            archetype: r.get(2).db("reading customer results")?,
            micro_segment: r.get(3).db("reading customer results")?,
            is_outlier: r.get(4).db("reading customer results")?,
            distance_to_centroid: get(5).db("reading customer results")?,
            pca_x: get(6).db("reading customer results")?,
            pca_y: get(7).db("reading customer results")?,
            umap_x: get(8).db("reading customer results")?,
            umap_y: get(9).db("reading customer results")?,
            key_features: (0..keys.len())
                .map(|k| get(10 + k))
                .collect::<duckdb::Result<_>>()
                .db("reading customer results")?,
        });
    }
    Ok(out)
}

/// Share of each gold feature's variance that lies between segments (eta squared), non-outliers.
fn feature_importance(store: &Store, features: &[String]) -> Result<Vec<(String, f64)>> {
    let mut out = Vec::new();
    for f in features {
        let sql = format!(
            "WITH j AS (SELECT r.segment, g.{col} AS x FROM {GOLD} g JOIN {RESULTS} r USING (customer_id) WHERE NOT r.is_outlier),
                  m AS (SELECT avg(x) AS gm FROM j),
                  s AS (SELECT segment, count(*) AS n, avg(x) AS sm FROM j GROUP BY segment)
             SELECT (SELECT sum(n * (sm - gm) ^ 2) FROM s, m) / nullif((SELECT sum((x - gm) ^ 2) FROM j, m), 0)",
            col = ident(f)
        );
        let v: Option<f64> =
            store.conn().query_row(&sql, [], |r| r.get(0)).db("measuring feature importance")?;
        out.push((f.clone(), v.unwrap_or(0.0)));
    }
    out.sort_by(|a, b| b.1.total_cmp(&a.1));
    Ok(out)
}

fn feature_stats(store: &Store) -> Result<Vec<FeatureStat>> {
    read_stats(store)
}

fn knee_index(curve: &[f64], knee: Option<f64>) -> Option<usize> {
    let knee = knee?;
    curve.iter().position(|d| *d >= knee)
}

fn timings(store: &Store, outcome: &ClusterOutcome) -> Result<Vec<(String, f64)>> {
    let mut t = Vec::new();
    if let Some((i, _)) = ingest::stored_ingest(store)? {
        t.push(("ingest".to_string(), i.seconds));
    }
    if let Some(f) = crate::pipeline::features::stored_summary(store)? {
        t.push(("features".to_string(), f.seconds));
    }
    t.extend(outcome.timings.iter().cloned());
    Ok(t)
}

/// Everything the report shows, read from a clustered analysis.
pub fn report_data(store: &Store, config: &Config) -> Result<ReportData> {
    let outcome = stored_outcome(store)?.ok_or(PipelineError::MissingLayer {
        stage: "The report",
        needs: "clustering",
        until: "cluster",
    })?;
    let dataset = dataset_facts(store)?;
    let (quality_counts, dataset_checks) = quality(store)?;
    let keys = crate::pipeline::features::present_key_features(store)?;
    let total = store.scalar_i64(&format!("SELECT count(*) FROM {SILVER}"))?.max(0) as u64;
    let mut segments = segment_rows(&outcome, &keys, total);
    segments.extend(not_segmented_row(store, &keys, total)?);
    let k_distance: Vec<f64> = outcome.kdistance_curve.iter().map(|p| p[1]).collect();
    Ok(ReportData {
        dataset,
        quality_counts,
        dataset_checks,
        segments,
        customers: customers(store, &keys)?,
        key_feature_names: keys,
        feature_stats: feature_stats(store)?,
        feature_importance: feature_importance(store, &outcome.features)?,
        k_sweep: outcome.sweep.clone(),
        chosen_k: outcome.chosen_k,
        choice_reason: outcome.choice_reason.clone(),
        weak_structure: outcome.weak_structure,
        eps: outcome.eps,
        eps_source: outcome.eps_source.clone(),
        min_samples: outcome.min_samples,
        noise_ratio: outcome.noise_ratio,
        k_distance_knee: knee_index(&k_distance, outcome.kdistance_knee),
        k_distance,
        trustworthiness: Trustworthiness {
            pca: outcome.trustworthiness_pca,
            umap: outcome.trustworthiness_umap,
        },
        parameters: parameters_from_config(config),
        versions: metadata::versions(store),
        timings: timings(store, &outcome)?,
    })
}
