//! Fill [`ReportData`] from an analysis file: the quality report, the silver statistics, the
//! stored clustering outcome and the per-customer results.

use super::data::*;
use crate::pipeline::error::{DbContext, PipelineError, Result};
use crate::pipeline::features::{SILVER, read_stats};
use crate::pipeline::gold::GOLD;
use crate::pipeline::model::OutlierGroup;
use crate::pipeline::model::{
    ClusterOutcome, DatasetCheck, FeatureStat, NOT_SEGMENTED, QualityCount,
};
use crate::pipeline::results::{RESULTS, stored_outcome};
use crate::pipeline::store::{Store, ident};
use crate::pipeline::{ingest, metadata, state, validate};

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

/// The eligible (clustered) customers' shares of all orders and of all returned units: the
/// cluster stage's shares are of the clustered customers, the report's of all customers.
struct EligibleShares {
    orders: f64,
    returned_units: f64,
}

fn eligible_shares(store: &Store) -> Result<EligibleShares> {
    let sql = format!(
        "SELECT sum(sales_order_no_nunique) FILTER (eligible) / nullif(sum(sales_order_no_nunique), 0),
                sum(items_returned_count) FILTER (eligible) / nullif(sum(items_returned_count), 0)
         FROM {SILVER}"
    );
    let (orders, returned_units) = store
        .conn()
        .query_row(&sql, [], |r| Ok((r.get::<_, Option<f64>>(0)?, r.get::<_, Option<f64>>(1)?)))
        .db("measuring the clustered customers' share of orders")?;
    Ok(EligibleShares {
        orders: orders.unwrap_or(1.0),
        returned_units: returned_units.unwrap_or(1.0),
    })
}

fn not_segmented_row(
    store: &Store,
    keys: &[String],
    total: u64,
    eligible: &EligibleShares,
) -> Result<Option<SegmentRow>> {
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
        order_share: 1.0 - eligible.orders,
        reasons: Vec::new(),
    }))
}

fn segment_rows(
    outcome: &ClusterOutcome,
    keys: &[String],
    total: u64,
    eligible: &EligibleShares,
) -> Vec<SegmentRow> {
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
            returned_units_share: s.returned_units_share * eligible.returned_units,
            order_share: s.order_share * eligible.orders,
            reasons: s.reasons.clone(),
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

/// Each feature's share of variance between segments (eta squared: between-segment sum of
/// squares over the total, outliers left out), highest first; all features in one statement, so
/// gold and the results are joined once.
fn feature_importance(store: &Store, features: &[String]) -> Result<Vec<(String, f64)>> {
    if features.is_empty() {
        return Ok(Vec::new());
    }
    let cols: Vec<String> = features.iter().map(|f| ident(f)).collect();
    let each = |template: &str| -> String {
        cols.iter().map(|c| template.replace("{c}", c)).collect::<Vec<_>>().join(", ")
    };
    let means = each("avg({c}) AS {c}");
    let sql = format!(
        "WITH j AS (SELECT r.segment, {gold_cols} FROM {GOLD} g JOIN {RESULTS} r USING (customer_id) WHERE NOT r.is_outlier),
              m AS (SELECT {means} FROM j),
              s AS (SELECT count(*) AS n, {means} FROM j GROUP BY segment),
              b AS (SELECT {between} FROM s, m),
              t AS (SELECT {total} FROM j, m)
         SELECT {ratios} FROM b, t",
        gold_cols = each("g.{c} AS {c}"),
        between = each("sum(s.n * (s.{c} - m.{c}) ^ 2) AS {c}"),
        total = each("sum((j.{c} - m.{c}) ^ 2) AS {c}"),
        ratios = each("b.{c} / nullif(t.{c}, 0)"),
    );
    let values: Vec<Option<f64>> = store
        .conn()
        .query_row(&sql, [], |r| (0..features.len()).map(|i| r.get(i)).collect())
        .db("measuring feature importance")?;
    let mut out: Vec<(String, f64)> =
        features.iter().cloned().zip(values.into_iter().map(|v| v.unwrap_or(0.0))).collect();
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

/// The configuration the run used, as (key, value) rows; one row saying so when the analysis
/// predates recorded configurations.
fn run_parameters(store: &Store) -> Result<Vec<(String, String)>> {
    Ok(match state::run_config(store)? {
        Some(config) => parameters_from_config(&config),
        None => vec![(
            "parameters".into(),
            "not recorded: this analysis was made by an older version of ReturnScope. Run it \
             again from Validate to record them."
                .into(),
        )],
    })
}

/// Everything the report shows, read from a clustered analysis.
pub fn report_data(store: &Store) -> Result<ReportData> {
    let outcome = stored_outcome(store)?.ok_or(PipelineError::MissingLayer {
        stage: "The report",
        needs: "clustering",
        until: "cluster",
    })?;
    let dataset = dataset_facts(store)?;
    let (quality_counts, dataset_checks) = quality(store)?;
    let keys = crate::pipeline::features::present_key_features(store)?;
    let total = store.scalar_i64(&format!("SELECT count(*) FROM {SILVER}"))?.max(0) as u64;
    let eligible = eligible_shares(store)?;
    let mut segments = segment_rows(&outcome, &keys, total, &eligible);
    segments.extend(not_segmented_row(store, &keys, total, &eligible)?);
    let outlier_groups = outcome
        .segments
        .iter()
        .flat_map(|s| s.outlier_groups.iter().cloned())
        .map(|g| OutlierGroup {
            returned_units_share: g.returned_units_share * eligible.returned_units,
            ..g
        })
        .collect();
    let k_distance: Vec<f64> = outcome.kdistance_curve.iter().map(|p| p[1]).collect();
    Ok(ReportData {
        dataset,
        quality_counts,
        dataset_checks,
        segments,
        outlier_groups,
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
        parameters: run_parameters(store)?,
        versions: metadata::versions(store),
        timings: timings(store, &outcome)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feature_importance_is_each_features_between_segment_share_of_variance() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("a.duckdb"), &Default::default()).unwrap();
        // Two segments of two customers and one outlier (left out). By hand:
        // a: grand mean 4, between 2(2-4)^2 + 2(6-4)^2 = 16, total 9+1+1+9 = 20 -> 0.8;
        // b: constant -> no variance -> 0; c: same mean 5 in both segments -> 0 of 100.
        let sql = format!(
            "CREATE TABLE {GOLD} (customer_id VARCHAR, a DOUBLE, b DOUBLE, c DOUBLE);
             INSERT INTO {GOLD} VALUES ('p', 1, 2, 0), ('q', 3, 2, 10), ('r', 5, 2, 0),
                                       ('s', 7, 2, 10), ('o', 100, 50, 50);
             CREATE TABLE {RESULTS} (customer_id VARCHAR, segment INTEGER, is_outlier BOOLEAN);
             INSERT INTO {RESULTS} VALUES ('p', 0, false), ('q', 0, false), ('r', 1, false),
                                          ('s', 1, false), ('o', -1, true);"
        );
        store.conn().execute_batch(&sql).unwrap();
        let features: Vec<String> = ["c", "b", "a"].map(String::from).to_vec();
        let importance = feature_importance(&store, &features).unwrap();
        let names: Vec<&str> = importance.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(names, ["a", "c", "b"], "highest first; ties keep the features' order");
        assert!((importance[0].1 - 0.8).abs() < 1e-12, "{importance:?}");
        assert_eq!((importance[1].1, importance[2].1), (0.0, 0.0));
    }
}
