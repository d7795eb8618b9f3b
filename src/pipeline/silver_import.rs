//! Open a features (silver) table made elsewhere: the Parquet output of the Spark job
//! ([`crate::pipeline::spark`]), or of any job that follows FEATURES.md. `returnscope run
//! --silver PATH` and the app's File > "Open features table…" start here and go on at gold.
//!
//! [`inspect`] reads the table on a scratch in-memory connection and checks it before anything is
//! written: the format version, every FEATURES.md column with its type, one row per customer.
//! [`import`] then copies it into `silver_customer_features` of an analysis, with the quality
//! counts and run summary the Spark job writes beside it, and records the stages up to Features
//! as complete, so gold, clustering, the views and the report run as after our own features.

use crate::pipeline::config::Config;
use crate::pipeline::error::{DbContext, PipelineError, Result};
use crate::pipeline::features::{
    self, NUMERIC_FEATURES, ORDER_VALUE_FEATURES, SILVER, TENURE_LABEL, TENURE_STAGES,
};
use crate::pipeline::model::{
    DatasetCheck, FeatureSummary, IngestSummary, QualityCount, QualityReport, Severity,
};
use crate::pipeline::progress::{Progress, Stage};
use crate::pipeline::store::{Store, ident, literal};
use crate::pipeline::validate;
use std::path::{Path, PathBuf};
use std::time::Instant;

pub use crate::pipeline::model::{SILVER_FORMAT, SILVER_FORMAT_KEY as FORMAT_KEY};
/// Where Spark keeps its schema (with each column's metadata) in a Parquet footer.
const SPARK_SCHEMA_KEY: &str = "org.apache.spark.sql.parquet.row.metadata";

/// The Spark job's run summary (`run_info/`), when it lies beside the table.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunInfo {
    pub as_of: Option<String>,
    pub rows_loaded: u64,
    pub malformed_rows: u64,
    pub clean_lines: u64,
    /// The first and last order time of the lines the features use.
    pub first_order: Option<String>,
    pub last_order: Option<String>,
}

/// A checked features table, ready to import.
#[derive(Debug, Clone)]
pub struct SilverSource {
    /// What the user named (a file, a Spark output folder, or its `silver/` folder).
    pub path: PathBuf,
    /// The Parquet files read, for DuckDB's `read_parquet`.
    files: String,
    /// Numeric feature columns present, each with whether its type is an integer.
    numeric: Vec<(String, bool)>,
    pub customers: u64,
    pub has_order_value: bool,
    pub run_info: Option<RunInfo>,
    /// The quality counts (name, count) the job wrote beside the table.
    pub quality: Option<Vec<(String, u64)>>,
}

impl SilverSource {
    /// A short name for the table (the Spark output folder's name, or the file's stem).
    pub fn name(&self) -> String {
        let path = if self.path.file_name().is_some_and(|n| n == "silver") {
            self.path.parent().unwrap_or(&self.path)
        } else {
            &self.path
        };
        path.file_stem().map_or_else(|| "features".into(), |s| s.to_string_lossy().into_owned())
    }
}

fn problem(path: &Path, text: impl Into<String>) -> PipelineError {
    PipelineError::SilverTable { path: path.display().to_string(), problem: text.into() }
}

/// The folder of the table's Parquet parts and the folder of the whole job output (which may
/// hold `quality_counts/` and `run_info/`). A `part-*.parquet` file stands for its folder: Spark
/// splits one table into parts.
fn locate(path: &Path) -> Result<(PathBuf, Option<PathBuf>)> {
    let meta = std::fs::metadata(path).map_err(|e| PipelineError::InputUnreadable {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    let is_part =
        |p: &Path| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("part-"));
    let table = if meta.is_file() && is_part(path) {
        path.parent().unwrap_or(path).to_path_buf()
    } else if path.join("silver").is_dir() {
        path.join("silver")
    } else {
        path.to_path_buf()
    };
    let job_dir = if table.file_name().is_some_and(|n| n == "silver") {
        table.parent().map(Path::to_path_buf)
    } else {
        None
    };
    Ok((table, job_dir))
}

/// The `read_parquet` argument for a table: the file itself, or every `.parquet` in the folder.
fn parquet_files(table: &Path, user_path: &Path) -> Result<String> {
    let is_parquet = |p: &Path| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("parquet"));
    if table.is_file() {
        if !is_parquet(table) {
            return Err(problem(
                user_path,
                "it is not a Parquet file (.parquet); choose the silver table the Spark job wrote, or a .parquet export of one",
            ));
        }
        return Ok(literal(&table.to_string_lossy()));
    }
    let any = std::fs::read_dir(table)
        .map_err(|e| PipelineError::InputUnreadable {
            path: table.display().to_string(),
            reason: e.to_string(),
        })?
        .filter_map(|e| e.ok())
        .any(|e| is_parquet(&e.path()));
    if !any {
        return Err(problem(
            user_path,
            "the folder holds no Parquet files (.parquet); choose the folder the Spark job wrote (it holds silver/) or its silver/ folder",
        ));
    }
    Ok(literal(&table.join("*.parquet").to_string_lossy()))
}

fn describe(conn: &duckdb::Connection, files: &str, path: &Path) -> Result<Vec<(String, String)>> {
    let sql = format!("DESCRIBE SELECT * FROM read_parquet({files})");
    let read = |e: duckdb::Error| {
        problem(path, format!("it cannot be read as Parquet ({})", first_line(&e.to_string())))
    };
    let mut stmt = conn.prepare(&sql).map_err(read)?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .map_err(read)?
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(read)?;
    Ok(rows)
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or(text)
}

/// The highest silver format any file declares (None when none does: a table from another tool).
fn declared_format(conn: &duckdb::Connection, files: &str) -> Result<Option<i64>> {
    let sql = format!("SELECT decode(key), decode(value) FROM parquet_kv_metadata({files})");
    let mut stmt = conn.prepare(&sql).db("reading the Parquet metadata")?;
    let pairs = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .db("reading the Parquet metadata")?
        .filter_map(|r| r.ok());
    let mut version = None;
    for (key, value) in pairs {
        let found = if key == FORMAT_KEY {
            value.trim().parse::<i64>().ok()
        } else if key == SPARK_SCHEMA_KEY {
            spark_column_format(&value)
        } else {
            None
        };
        version = version.max(found);
    }
    Ok(version)
}

/// The format in the `customer_id` column's metadata of a Spark schema (JSON).
fn spark_column_format(schema: &str) -> Option<i64> {
    let schema: serde_json::Value = serde_json::from_str(schema).ok()?;
    schema["fields"]
        .as_array()?
        .iter()
        .find(|f| f["name"] == "customer_id")
        .and_then(|f| f["metadata"][FORMAT_KEY].as_i64())
}

fn is_integer_type(ty: &str) -> bool {
    matches!(
        ty,
        "TINYINT"
            | "SMALLINT"
            | "INTEGER"
            | "BIGINT"
            | "HUGEINT"
            | "UTINYINT"
            | "USMALLINT"
            | "UINTEGER"
            | "UBIGINT"
    )
}

fn is_numeric_type(ty: &str) -> bool {
    is_integer_type(ty) || matches!(ty, "FLOAT" | "DOUBLE") || ty.starts_with("DECIMAL")
}

/// Every FEATURES.md column present with its type: the numeric features (with whether they are
/// integers) and whether the optional order-value pair is there.
fn check_columns(path: &Path, columns: &[(String, String)]) -> Result<(Vec<(String, bool)>, bool)> {
    let type_of = |name: &str| columns.iter().find(|(c, _)| c == name).map(|(_, t)| t.as_str());
    let missing: Vec<String> = std::iter::once("customer_id")
        .chain(NUMERIC_FEATURES)
        .chain([TENURE_LABEL])
        .filter(|c| type_of(c).is_none())
        .map(|c| c.to_string())
        .collect();
    if !missing.is_empty() {
        let (noun, list) = if missing.len() == 1 {
            ("column", missing[0].clone())
        } else {
            ("columns", missing.join(", "))
        };
        return Err(problem(
            path,
            format!(
                "it has no {noun} {list} (FEATURES.md's silver layer needs customer_id, the 33 features and nothing renamed); write it with the job from `returnscope spark-job`"
            ),
        ));
    }
    for text_column in ["customer_id", TENURE_LABEL] {
        if let Some(ty) = type_of(text_column).filter(|t| *t != "VARCHAR") {
            return Err(problem(
                path,
                format!("column {text_column} is {ty}, but FEATURES.md makes it text"),
            ));
        }
    }
    let mut numeric = Vec::new();
    let optional = ORDER_VALUE_FEATURES.iter().filter(|f| type_of(f).is_some());
    for name in NUMERIC_FEATURES.iter().chain(optional) {
        let ty = type_of(name).unwrap_or_default();
        if !is_numeric_type(ty) {
            return Err(problem(
                path,
                format!("feature {name} is {ty}, but FEATURES.md makes it a number"),
            ));
        }
        numeric.push((name.to_string(), is_integer_type(ty)));
    }
    let has_order_value = ORDER_VALUE_FEATURES.iter().all(|f| type_of(f).is_some());
    if !has_order_value {
        numeric.retain(|(n, _)| !ORDER_VALUE_FEATURES.contains(&n.as_str()));
    }
    Ok((numeric, has_order_value))
}

/// One row per customer, every customer named, every tenure stage one of FEATURES.md's.
fn check_rows(conn: &duckdb::Connection, files: &str, path: &Path) -> Result<u64> {
    let (rows, unnamed, distinct): (i64, i64, i64) = conn
        .query_row(
            &format!(
                "SELECT count(*), count(*) FILTER (customer_id IS NULL OR trim(customer_id) = ''), count(DISTINCT customer_id)
                 FROM read_parquet({files})"
            ),
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .db("counting the customers of the features table")?;
    if rows == 0 {
        return Err(problem(path, "it has no rows (no customers)"));
    }
    if unnamed > 0 {
        return Err(problem(path, format!("{unnamed} rows have no customer_id")));
    }
    if distinct < rows {
        let examples: Vec<String> = query_strings(
            conn,
            &format!(
                "SELECT format('{{}} ({{}} rows)', customer_id, count(*)) FROM read_parquet({files})
                 GROUP BY customer_id HAVING count(*) > 1 ORDER BY count(*) DESC, customer_id LIMIT 3"
            ),
        )?;
        return Err(problem(
            path,
            format!(
                "customer_id must be unique, but {} rows repeat a customer (for example {}); keep one row per customer",
                rows - distinct,
                examples.join(", ")
            ),
        ));
    }
    let stages: Vec<String> = TENURE_STAGES.iter().map(|s| literal(s)).collect();
    let odd = query_strings(
        conn,
        &format!(
            "SELECT DISTINCT coalesce({TENURE_LABEL}, 'NULL') FROM read_parquet({files})
             WHERE {TENURE_LABEL} IS NULL OR {TENURE_LABEL} NOT IN ({}) LIMIT 3",
            stages.join(", ")
        ),
    )?;
    if !odd.is_empty() {
        return Err(problem(
            path,
            format!(
                "{TENURE_LABEL} holds {}, which is none of {}",
                odd.join(", "),
                TENURE_STAGES.join(", ")
            ),
        ));
    }
    Ok(rows as u64)
}

fn query_strings(conn: &duckdb::Connection, sql: &str) -> Result<Vec<String>> {
    let mut stmt = conn.prepare(sql).db("reading the features table")?;
    let rows = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .db("reading the features table")?
        .collect::<std::result::Result<Vec<_>, _>>()
        .db("reading the features table")?;
    Ok(rows)
}

/// The quality counts and run summary beside the table (None when absent or unreadable: they
/// only inform).
fn job_extras(
    conn: &duckdb::Connection,
    job_dir: Option<&Path>,
) -> (Option<Vec<(String, u64)>>, Option<RunInfo>) {
    let Some(dir) = job_dir else { return (None, None) };
    let part_glob = |name: &str| {
        let folder = dir.join(name);
        folder.is_dir().then(|| literal(&folder.join("*.parquet").to_string_lossy()))
    };
    let quality = part_glob("quality_counts").and_then(|files| {
        let mut stmt = conn
            .prepare(&format!("SELECT name, CAST(count AS BIGINT) FROM read_parquet({files})"))
            .ok()?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?.max(0) as u64)))
            .ok()?;
        rows.collect::<std::result::Result<Vec<_>, _>>().ok()
    });
    let run_info = part_glob("run_info").and_then(|files| {
        conn.query_row(
            &format!(
                "SELECT as_of, CAST(rows_loaded AS BIGINT), CAST(malformed_rows AS BIGINT), CAST(clean_lines AS BIGINT),
                        first_order, last_order
                 FROM read_parquet({files}) LIMIT 1"
            ),
            [],
            |r| {
                Ok(RunInfo {
                    as_of: r.get(0)?,
                    rows_loaded: r.get::<_, i64>(1)?.max(0) as u64,
                    malformed_rows: r.get::<_, i64>(2)?.max(0) as u64,
                    clean_lines: r.get::<_, i64>(3)?.max(0) as u64,
                    first_order: r.get(4)?,
                    last_order: r.get(5)?,
                })
            },
        )
        .ok()
    });
    (quality, run_info)
}

/// Read and check a features table; writes nothing. Every problem names what is wrong.
pub fn inspect(path: &Path) -> Result<SilverSource> {
    let (table, job_dir) = locate(path)?;
    let files = parquet_files(&table, path)?;
    let conn = duckdb::Connection::open_in_memory().db("opening a scratch database")?;
    let columns = describe(&conn, &files, path)?;
    if let Some(version) = declared_format(&conn, &files)?.filter(|v| *v > SILVER_FORMAT) {
        return Err(problem(
            path,
            format!(
                "it is in silver format {version}, newer than the format {SILVER_FORMAT} this ReturnScope reads; \
                 update ReturnScope, or write the table with the job from this version's `returnscope spark-job`"
            ),
        ));
    }
    let (numeric, has_order_value) = check_columns(path, &columns)?;
    let customers = check_rows(&conn, &files, path)?;
    let (quality, run_info) = job_extras(&conn, job_dir.as_deref());
    Ok(SilverSource {
        path: path.to_path_buf(),
        files,
        numeric,
        customers,
        has_order_value,
        run_info,
        quality,
    })
}

/// The silver table from the source: FEATURES.md's column order, integers as BIGINT, every other
/// number a DOUBLE rounded to 9 decimals (as our features stage stores them), and `eligible`
/// from this configuration's minimum number of orders.
fn copy_sql(source: &SilverSource, config: &Config) -> String {
    let numeric: Vec<String> = source
        .numeric
        .iter()
        .map(|(name, integer)| {
            let col = ident(name);
            if *integer {
                format!("CAST({col} AS BIGINT) AS {col}")
            } else {
                format!("round(CAST({col} AS DOUBLE), 9) AS {col}")
            }
        })
        .collect();
    let (features, order_value): (Vec<String>, Vec<String>) = numeric.into_iter().partition(|c| {
        !ORDER_VALUE_FEATURES.iter().any(|f| c.ends_with(&format!(" AS {}", ident(f))))
    });
    let mut select = vec!["CAST(customer_id AS VARCHAR) AS customer_id".to_string()];
    select.extend(features);
    select.push(TENURE_LABEL.to_string());
    select.extend(order_value);
    select.push(format!(
        "sales_order_no_nunique >= {} AS eligible",
        config.quality.min_orders_per_customer
    ));
    format!(
        "CREATE OR REPLACE TABLE {SILVER} AS SELECT {} FROM read_parquet({}) ORDER BY customer_id",
        select.join(", "),
        source.files
    )
}

fn ingest_details(source: &SilverSource, seconds: f64) -> serde_json::Value {
    let info = source.run_info.clone().unwrap_or_default();
    let summary = IngestSummary {
        input_path: source.path.clone(),
        input_name: source.name(),
        input_sha256: String::new(),
        rows_loaded: info.rows_loaded,
        malformed_rows: info.malformed_rows,
        extra_columns: Vec::new(),
        has_gross: source.has_order_value,
        encoding: "parquet".into(),
        seconds,
    };
    serde_json::json!({
        "summary": summary,
        "mapping": { "required": [], "extra": [] },
        "silver": source.path.display().to_string(),
    })
}

/// The quality report of the job that made the table (its counts, when it wrote them) and the
/// one dataset check that needs only customers: enough eligible customers to segment.
fn quality_report(source: &SilverSource, eligible: u64, config: &Config) -> QualityReport {
    let info = source.run_info.clone().unwrap_or_default();
    let share =
        |n: u64| if info.rows_loaded > 0 { n as f64 / info.rows_loaded as f64 } else { 0.0 };
    let counts = source.quality.as_ref().map_or_else(Vec::new, |found| {
        validate::QUALITY_COUNTS
            .iter()
            .map(|(name, meaning, action)| {
                let count = found.iter().find(|(n, _)| n == name).map_or(0, |(_, c)| *c);
                QualityCount {
                    name: name.to_string(),
                    count,
                    share: share(count),
                    meaning: meaning.to_string(),
                    action: action.to_string(),
                }
            })
            .collect()
    });
    let q = &config.quality;
    let check = if eligible < q.min_customers {
        DatasetCheck {
            name: "enough_customers".into(),
            severity: Severity::Blocking,
            message: format!(
                "Only {eligible} customers have at least {} orders; segmentation needs at least {}. Build the \
                 features over a longer date range, or lower quality.min_customers in the settings.",
                q.min_orders_per_customer, q.min_customers
            ),
        }
    } else {
        DatasetCheck {
            name: "enough_customers".into(),
            severity: Severity::Ok,
            message: format!(
                "{eligible} customers have at least {} orders.",
                q.min_orders_per_customer
            ),
        }
    };
    QualityReport {
        rows_loaded: info.rows_loaded,
        clean_lines: info.clean_lines,
        customers: source.customers,
        eligible_customers: eligible,
        first_order: info.first_order,
        last_order: info.last_order,
        as_of: info.as_of,
        counts,
        checks: vec![check],
    }
}

/// Drop the order-line layers of an earlier CSV load: this analysis is now the table's.
fn drop_order_lines(store: &Store) -> Result<()> {
    crate::pipeline::bronze::drop_bronze_view(store)?;
    store
        .conn()
        .execute_batch(
            "DROP TABLE IF EXISTS bronze_quality; DROP TABLE IF EXISTS bronze_rows; DROP TABLE IF EXISTS bronze_rejects_malformed;",
        )
        .db("removing the order lines of an earlier load")
}

/// Copy a checked table into the analysis as its silver layer, in one transaction, and record
/// the stages up to Features as complete.
pub fn import(
    store: &Store,
    source: &SilverSource,
    config: &Config,
    progress: &Progress,
) -> Result<FeatureSummary> {
    let started = Instant::now();
    progress.update(0.05, "Reading the features table");
    let summary = store.in_transaction(|s| {
        s.forget_stage_and_later(Stage::Ingest)?;
        drop_order_lines(s)?;
        s.execute_monitored(
            &copy_sql(source, config),
            "Reading the features table",
            progress,
            (0.05, 0.7),
        )?;
        s.mark_stage_complete(
            Stage::Ingest,
            &ingest_details(source, started.elapsed().as_secs_f64()),
        )?;
        let eligible =
            s.scalar_i64(&format!("SELECT count(*) FROM {SILVER} WHERE eligible"))?.max(0) as u64;
        validate::store_report(s, &quality_report(source, eligible, config))?;
        progress.update(0.75, "Feature statistics");
        let summary = features::store_statistics(
            s,
            source.run_info.as_ref().and_then(|i| i.as_of.clone()),
            started,
        )?;
        Ok(summary)
    })?;
    store.checkpoint("the features table")?;
    progress.update_items(1.0, "Features table opened", summary.customers);
    Ok(summary)
}

/// The path of the features table this analysis was opened from (None for a CSV analysis).
pub fn imported_from(store: &Store) -> Result<Option<String>> {
    Ok(store.stage_details(Stage::Ingest)?.and_then(|d| d["silver"].as_str().map(str::to_string)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_format_from_a_spark_schema() {
        let schema = r#"{"type":"struct","fields":[
            {"name":"customer_id","type":"string","nullable":true,"metadata":{"returnscope_silver_format":3}},
            {"name":"return_rate","type":"double","nullable":true,"metadata":{}}]}"#;
        assert_eq!(spark_column_format(schema), Some(3));
        assert_eq!(spark_column_format(r#"{"type":"struct","fields":[]}"#), None);
        assert_eq!(spark_column_format("not json"), None);
    }

    #[test]
    fn numbers_are_any_integer_float_or_decimal() {
        for ty in ["BIGINT", "INTEGER", "DOUBLE", "FLOAT", "DECIMAL(18,3)", "UBIGINT"] {
            assert!(is_numeric_type(ty), "{ty}");
        }
        for ty in ["VARCHAR", "BOOLEAN", "TIMESTAMP", "DATE"] {
            assert!(!is_numeric_type(ty), "{ty}");
        }
        assert!(is_integer_type("BIGINT") && !is_integer_type("DOUBLE"));
    }

    #[test]
    fn a_spark_output_folder_or_part_file_means_its_silver_folder() {
        let dir = tempfile::tempdir().expect("temp dir");
        let silver = dir.path().join("out/silver");
        std::fs::create_dir_all(&silver).expect("folders");
        let part = silver.join("part-00000-x.snappy.parquet");
        std::fs::write(&part, b"").expect("part");
        let job = Some(dir.path().join("out"));
        assert_eq!(locate(&dir.path().join("out")).expect("out"), (silver.clone(), job.clone()));
        assert_eq!(locate(&silver).expect("silver"), (silver.clone(), job.clone()));
        assert_eq!(locate(&part).expect("part"), (silver, job));
        let err = inspect(&dir.path().join("absent")).expect_err("absent");
        assert!(err.to_string().contains("absent"), "{err}");
    }
}
