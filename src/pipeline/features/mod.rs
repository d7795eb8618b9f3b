//! Features (silver): the 33 customer features of FEATURES.md, computed set-based in DuckDB SQL.
//!
//! One SQL file per feature family lives in `sql/` (read them: each says which features it makes
//! and how). They run in order inside one transaction and replace `silver_customer_features`;
//! per-feature statistics go to `silver_feature_stats` for the app and the report.
//!
//! `00_base.sql` stores the keyed lines and orders as temp tables; the families define temp
//! *views* over them (only the small class rates are stored), so the silver statement is one
//! query holding every family: DuckDB plans and schedules it whole instead of storing one
//! family's table after another (see docs/decisions.md, "Features").

use crate::pipeline::config::Config;
use crate::pipeline::error::{DbContext, PipelineError, Result};
use crate::pipeline::model::{FeatureStat, FeatureSummary, FeatureTable};
use crate::pipeline::progress::{Progress, Stage};
use crate::pipeline::store::{Store, ident, literal};
use crate::pipeline::{ingest, validate};
use std::time::Instant;

#[cfg(test)]
mod bench;

/// The silver table.
pub const SILVER: &str = "silver_customer_features";
/// Per-feature statistics of the silver table.
pub const STATS: &str = "silver_feature_stats";

/// The 32 numeric features, in FEATURES.md order (the 33rd is the label `customer_tenure_stage`).
pub const NUMERIC_FEATURES: [&str; 32] = [
    "sales_order_no_nunique",
    "sku_nunique",
    "items_returned_count",
    "sales_qty_mean",
    "avg_order_size",
    "return_rate",
    "return_ratio",
    "return_product_variety",
    "avg_returns_per_order",
    "return_frequency_ratio",
    "return_intensity",
    "consecutive_returns",
    "avg_consecutive_returns",
    "customer_lifetime_days",
    "avg_days_to_return",
    "return_timing_spread",
    "days_since_last_order",
    "recent_orders",
    "recent_returns",
    "recent_vs_avg_ratio",
    "behavior_stability_score",
    "category_diversity_score",
    "category_loyalty_score",
    "high_return_category_affinity",
    "sku_adjacency_orders",
    "sku_adjacency_returns",
    "sku_adjacency_timing",
    "sku_adjacency_return_timing",
    "seasonal_susceptibility_orders",
    "seasonal_susceptibility_returns",
    "trend_product_category_order_rate",
    "trend_product_category_return_rate",
];

/// Optional order-value features (when the input has GROSS).
pub const ORDER_VALUE_FEATURES: [&str; 2] = ["avg_order_value", "avg_return_value"];

/// The tenure label and its stages, in order.
pub const TENURE_LABEL: &str = "customer_tenure_stage";
pub const TENURE_STAGES: [&str; 4] = ["New", "Growing", "Mature", "Veteran"];

/// The base relations (stored): keys, keyed lines, orders, customers.
const BASE_SQL: &str = include_str!("sql/00_base.sql");
/// The feature families: views over the base relations, computed by the silver statement.
const FAMILY_SQL: [&str; 4] = [
    include_str!("sql/10_volume_returns_temporal.sql"),
    include_str!("sql/20_category.sql"),
    include_str!("sql/30_adjacency.sql"),
    include_str!("sql/40_seasonal_trend.sql"),
];
const SILVER_SQL: &str = include_str!("sql/50_silver.sql");

/// Relations of the feature SQL that are views (never stored; dropped before the tables).
const TEMP_VIEWS: [&str; 11] = [
    "f_lines",
    "f_line_aggs",
    "f_runs",
    "f_recent_orders",
    "f_halves",
    "f_category",
    "f_adj_orders",
    "f_adj_lines",
    "f_adjacency",
    "f_seasonal",
    "f_trend",
];

/// Relations of the feature SQL that are stored for the stage's transaction.
const TEMP_TABLES: [&str; 9] = [
    "f_customer_keys",
    "f_order_keys",
    "f_sku_keys",
    "f_class_keys",
    "f_orders",
    "f_lines2",
    "f_customers",
    "f_class_rates",
    "f_high_classes",
];

/// Numbers substituted into the SQL templates.
struct Params {
    as_of: String,
    as_of_us: i64,
    window_days: f64,
    window_us: i64,
    adjacency_us: i64,
    min_orders: u32,
    order_value: bool,
}

fn fill(template: &str, p: &Params) -> String {
    let order_value = if p.order_value {
        "CASE WHEN c.n_orders > 0 THEN a.gross_sum / c.n_orders END AS avg_order_value,
         CASE WHEN a.items_returned_count > 0 THEN a.returned_value / a.items_returned_count END AS avg_return_value,"
    } else {
        ""
    };
    template
        .replace("{AS_OF_US}", &p.as_of_us.to_string())
        .replace("{W_US}", &p.window_us.to_string())
        .replace("{A_US}", &p.adjacency_us.to_string())
        .replace("{W_DAYS}", &format!("{:?}", p.window_days))
        .replace("{MIN_ORDERS}", &p.min_orders.to_string())
        .replace("{ORDER_VALUE_COLUMNS}", order_value)
}

fn params(store: &Store, config: &Config) -> Result<Params> {
    let report = validate::stored_report(store)?.ok_or(PipelineError::MissingLayer {
        stage: "Features",
        needs: "validated data",
        until: "validate",
    })?;
    // A file validated before bronze was split has no bronze_quality: validating again upgrades it.
    if !store.table_exists(crate::pipeline::bronze::BRONZE_QUALITY)? {
        return Err(PipelineError::MissingLayer {
            stage: "Features",
            needs: "data validated by this version",
            until: "validate",
        });
    }
    let as_of = report.as_of.ok_or_else(|| {
        PipelineError::Data(
            "no clean line has an order date, so there is nothing to build features from".into(),
        )
    })?;
    let as_of_us: i64 = store
        .conn()
        .query_row(&format!("SELECT epoch_us(CAST({} AS TIMESTAMP))", literal(&as_of)), [], |r| {
            r.get(0)
        })
        .db("reading as_of")?;
    let has_gross = ingest::stored_ingest(store)?.is_some_and(|(s, _)| s.has_gross);
    let us_per_day = 86_400_000_000.0;
    Ok(Params {
        as_of,
        as_of_us,
        window_days: config.data.recency_window_days,
        window_us: (config.data.recency_window_days * us_per_day).round() as i64,
        adjacency_us: (config.data.adjacency_window_days * us_per_day).round() as i64,
        min_orders: config.quality.min_orders_per_customer,
        order_value: has_gross,
    })
}

fn drop_temp_tables(store: &Store) {
    for v in TEMP_VIEWS {
        let _ = store.conn().execute_batch(&format!("DROP VIEW IF EXISTS temp.{v}"));
    }
    for t in TEMP_TABLES {
        let _ = store.conn().execute_batch(&format!("DROP TABLE IF EXISTS temp.{t}"));
    }
}

/// DuckDB's parallel aggregates may add floating-point values in a different order from run to
/// run, changing the last bits of a mean. Silver stores every DOUBLE feature rounded to 9
/// decimals (far below any meaningful difference) so that the same input gives byte-identical
/// layers, and everything computed from them (gold, segments, PCA) is reproducible.
fn rounded_silver_sql(store: &Store) -> Result<String> {
    let mut stmt = store
        .conn()
        .prepare("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'f_silver' ORDER BY ordinal_position")
        .db("reading the silver columns")?;
    let columns: Vec<(String, String)> = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .db("reading the silver columns")?
        .collect::<std::result::Result<_, _>>()
        .db("reading the silver columns")?;
    let select: Vec<String> = columns
        .iter()
        .map(|(name, ty)| {
            if ty == "DOUBLE" {
                format!("round({col}, 9) AS {col}", col = ident(name))
            } else {
                ident(name)
            }
        })
        .collect();
    Ok(format!(
        "CREATE OR REPLACE TABLE {SILVER} AS SELECT {} FROM f_silver ORDER BY customer_id; DROP TABLE f_silver;",
        select.join(", ")
    ))
}

/// The numeric feature columns present in silver (with order value when the input had GROSS).
pub fn silver_numeric_columns(store: &Store) -> Result<Vec<String>> {
    let mut stmt = store
        .conn()
        .prepare(&format!(
            "SELECT column_name FROM information_schema.columns WHERE table_name = '{SILVER}' ORDER BY ordinal_position"
        ))
        .db("reading the silver columns")?;
    let present: Vec<String> = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .db("reading the silver columns")?
        .collect::<std::result::Result<_, _>>()
        .db("reading the silver columns")?;
    Ok(NUMERIC_FEATURES
        .iter()
        .chain(ORDER_VALUE_FEATURES.iter())
        .filter(|f| present.iter().any(|p| p == *f))
        .map(|f| f.to_string())
        .collect())
}

/// The raw features shown in summaries and reports, in display order.
pub fn key_features() -> &'static [&'static str] {
    &[
        "sales_order_no_nunique",
        "avg_order_size",
        "return_rate",
        "return_ratio",
        "avg_days_to_return",
        "customer_lifetime_days",
        "days_since_last_order",
        "recent_orders",
    ]
}

/// The [`key_features`] that this silver layer has.
pub fn present_key_features(store: &Store) -> Result<Vec<String>> {
    let columns = silver_numeric_columns(store)?;
    Ok(key_features()
        .iter()
        .filter(|f| columns.iter().any(|c| c == *f))
        .map(|f| f.to_string())
        .collect())
}

fn stats_sql(columns: &[String]) -> String {
    let unions: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            format!(
                "SELECT {i} AS ord, {name} AS feature, count({col}) AS n, avg(CASE WHEN {col} IS NULL THEN 1.0 ELSE 0.0 END) AS null_share,
                   avg({col}) AS mean, stddev_samp({col}) AS std, min({col}) AS min,
                   quantile_cont({col}, [0.01, 0.25, 0.5, 0.75, 0.99]) AS q, max({col}) AS max
                 FROM {SILVER}",
                name = literal(c),
                col = format!("CAST({} AS DOUBLE)", ident(c))
            )
        })
        .collect();
    let outside: Vec<String> = columns
        .iter()
        .map(|c| {
            format!(
                "SELECT {name} AS feature, avg(CASE WHEN v < s.q[1] OR v > s.q[5] THEN 1.0 ELSE 0.0 END) AS outside
                 FROM (SELECT CAST({col} AS DOUBLE) AS v FROM {SILVER} WHERE {col} IS NOT NULL), rs_stats s WHERE s.feature = {name}",
                name = literal(c),
                col = ident(c)
            )
        })
        .collect();
    format!(
        "CREATE OR REPLACE TEMP TABLE rs_stats AS {};
         CREATE OR REPLACE TABLE {STATS} AS
         SELECT s.feature, s.n AS count, s.null_share, s.mean, s.std, s.min, s.q[2] AS p25, s.q[3] AS median,
                s.q[4] AS p75, s.max, o.outside AS outside_p1_p99_share
         FROM rs_stats s LEFT JOIN ({}) o USING (feature) ORDER BY s.ord;
         DROP TABLE rs_stats;",
        unions.join(" UNION ALL "),
        outside.join(" UNION ALL ")
    )
}

/// Read `silver_feature_stats`.
pub fn read_stats(store: &Store) -> Result<Vec<FeatureStat>> {
    if !store.table_exists(STATS)? {
        return Ok(Vec::new());
    }
    let mut stmt = store
        .conn()
        .prepare(&format!(
            "SELECT feature, count, null_share, mean, std, min, p25, median, p75, max, outside_p1_p99_share FROM {STATS}"
        ))
        .db("reading feature statistics")?;
    let rows = stmt
        .query_map([], |r| {
            Ok(FeatureStat {
                feature: r.get(0)?,
                count: r.get::<_, i64>(1)?.max(0) as u64,
                null_share: r.get::<_, Option<f64>>(2)?.unwrap_or(0.0),
                mean: r.get(3)?,
                std: r.get(4)?,
                min: r.get(5)?,
                p25: r.get(6)?,
                median: r.get(7)?,
                p75: r.get(8)?,
                max: r.get(9)?,
                outside_p1_p99_share: r.get(10)?,
            })
        })
        .db("reading feature statistics")?
        .collect::<std::result::Result<Vec<_>, _>>()
        .db("reading feature statistics")?;
    Ok(rows)
}

fn tenure_mix(store: &Store) -> Result<Vec<(String, u64)>> {
    TENURE_STAGES
        .iter()
        .map(|stage| {
            let n = store.scalar_i64(&format!(
                "SELECT count(*) FROM {SILVER} WHERE {TENURE_LABEL} = {}",
                literal(stage)
            ))?;
            Ok((stage.to_string(), n.max(0) as u64))
        })
        .collect()
}

/// Summarise the stored silver layer and its statistics, and record the stage as complete.
fn record_summary(
    store: &Store,
    as_of: String,
    started: Instant,
    config: &Config,
) -> Result<FeatureSummary> {
    let summary = FeatureSummary {
        customers: store.scalar_i64(&format!("SELECT count(*) FROM {SILVER}"))?.max(0) as u64,
        eligible_customers: store
            .scalar_i64(&format!("SELECT count(*) FROM {SILVER} WHERE eligible"))?
            .max(0) as u64,
        as_of,
        stats: read_stats(store)?,
        tenure_stages: tenure_mix(store)?,
        seconds: started.elapsed().as_secs_f64(),
    };
    let details = serde_json::to_value(&summary).map_err(|e| PipelineError::Data(e.to_string()))?;
    store.mark_stage_complete(Stage::Features, &details, config)?;
    Ok(summary)
}

/// The statistics of a silver layer stored by someone else (a features table opened with
/// `run --silver`), and the stage recorded as complete; call inside the importing transaction.
pub(crate) fn store_statistics(
    store: &Store,
    as_of: Option<String>,
    started: Instant,
    config: &Config,
) -> Result<FeatureSummary> {
    let columns = silver_numeric_columns(store)?;
    store.conn().execute_batch(&stats_sql(&columns)).db("computing the feature statistics")?;
    record_summary(store, as_of.unwrap_or_default(), started, config)
}

/// Build `silver_customer_features` and its statistics in one transaction.
pub fn build_features(
    store: &Store,
    config: &Config,
    progress: &Progress,
) -> Result<FeatureSummary> {
    let started = Instant::now();
    let p = params(store, config)?;
    let result = store.in_transaction(|s| {
        s.forget_stage_and_later(Stage::Features)?;
        s.execute_monitored(
            &fill(BASE_SQL, &p),
            "Preparing lines and orders",
            progress,
            (0.0, 0.4),
        )?;
        let families: Vec<String> = FAMILY_SQL.iter().map(|sql| fill(sql, &p)).collect();
        s.execute_monitored(
            &families.concat(),
            "Preparing the feature families",
            progress,
            (0.4, 0.45),
        )?;
        s.execute_monitored(
            &fill(SILVER_SQL, &p),
            "Computing the features",
            progress,
            (0.45, 0.9),
        )?;
        s.conn().execute_batch(&rounded_silver_sql(s)?).db("storing the silver layer")?;
        let columns = silver_numeric_columns(s)?;
        s.execute_monitored(&stats_sql(&columns), "Feature statistics", progress, (0.9, 1.0))?;
        record_summary(s, p.as_of.clone(), started, config)
    });
    drop_temp_tables(store);
    let summary = result?;
    store.checkpoint("the features")?;
    progress.update_items(1.0, "Features built", summary.customers);
    Ok(summary)
}

/// The stored summary of the last features build.
pub fn stored_summary(store: &Store) -> Result<Option<FeatureSummary>> {
    store.stage_summary(Stage::Features)
}

/// The silver layer as columns, ordered by customer_id.
pub fn feature_table(store: &Store) -> Result<FeatureTable> {
    if !store.table_exists(SILVER)? {
        return Err(PipelineError::MissingLayer {
            stage: "The features table",
            needs: "features",
            until: "features",
        });
    }
    let columns = silver_numeric_columns(store)?;
    let select: Vec<String> =
        columns.iter().map(|c| format!("CAST({} AS DOUBLE)", ident(c))).collect();
    let sql = format!(
        "SELECT customer_id, eligible, {TENURE_LABEL}, {} FROM {SILVER} ORDER BY customer_id",
        select.join(", ")
    );
    let mut table = FeatureTable {
        columns: columns.clone(),
        values: vec![Vec::new(); columns.len()],
        ..Default::default()
    };
    let mut stmt = store.conn().prepare(&sql).db("reading the features")?;
    let mut rows = stmt.query([]).db("reading the features")?;
    while let Some(row) = rows.next().db("reading the features")? {
        table.customer_ids.push(row.get(0).db("reading the features")?);
        table.eligible.push(row.get(1).db("reading the features")?);
        table.tenure_stage.push(row.get(2).db("reading the features")?);
        for (c, values) in table.values.iter_mut().enumerate() {
            values.push(row.get::<_, Option<f64>>(3 + c).db("reading the features")?);
        }
    }
    Ok(table)
}

/// Export the silver layer for analysts: Parquet or CSV by the file's extension.
pub fn export_silver(
    store: &Store,
    out: &std::path::Path,
    sharing: &crate::pipeline::share::Sharing,
) -> Result<Option<std::path::PathBuf>> {
    if !store.table_exists(SILVER)? {
        return Err(PipelineError::MissingLayer {
            stage: "Export",
            needs: "features",
            until: "features",
        });
    }
    let ext = out.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    // A Parquet export carries the silver format, so `run --silver` can open it (and a later
    // version can tell it from its own).
    let parquet = format!(
        "FORMAT PARQUET, KV_METADATA {{{}: '{}'}}",
        crate::pipeline::model::SILVER_FORMAT_KEY,
        crate::pipeline::model::SILVER_FORMAT
    );
    let format = match ext.as_str() {
        "parquet" => parquet.as_str(),
        "csv" => "FORMAT CSV, HEADER",
        _ => {
            return Err(PipelineError::Data(format!(
                "cannot export to {}: use a file name ending in .parquet or .csv",
                out.display()
            )));
        }
    };
    let select = format!("SELECT * FROM {SILVER}");
    crate::pipeline::share::copy_to(store, &select, "customer_id", out, format, sharing)
}
