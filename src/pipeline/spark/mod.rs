//! The Spark job: FEATURES.md's cleaning rules and the 33 features as Spark SQL, for order lines
//! that live in a warehouse or lake rather than in a CSV on a laptop.
//!
//! `returnscope spark-job --out DIR` writes the job: a PySpark driver (`returnscope_features.py`)
//! and one Spark SQL file per stage and feature family (`sql/`), embedded here at build time. The
//! driver reads order lines (a table, CSV or Parquet), and writes the silver table, the quality
//! counts and a one-row run summary as Parquet; `returnscope run --silver` segments its output
//! (see [`crate::pipeline::silver_import`]).
//!
//! Each Spark SQL file is the twin of one of our DuckDB files (`features/sql/`, and the cleaning
//! SQL of `validate`), kept equal by tests rather than generated: see docs/decisions.md, "Beyond
//! one machine". The tests here check the structure (every relation and feature on both sides);
//! the parity test in `tests/it/spark_parity.rs` runs the job on local Spark and compares every
//! count and every feature of every customer.

use crate::pipeline::error::{PipelineError, Result};
pub use crate::pipeline::model::SILVER_FORMAT;
use std::path::{Path, PathBuf};

/// The driver's file name (what `spark-submit` runs).
pub const DRIVER: &str = "returnscope_features.py";

/// Every file of the job: (path inside the job folder, content).
pub const JOB_FILES: [(&str, &str); 9] = [
    (DRIVER, include_str!("job/returnscope_features.py")),
    ("README.md", include_str!("job/README.md")),
    ("sql/00_clean.sql", include_str!("job/sql/00_clean.sql")),
    ("sql/10_base.sql", include_str!("job/sql/10_base.sql")),
    ("sql/20_volume_returns_temporal.sql", include_str!("job/sql/20_volume_returns_temporal.sql")),
    ("sql/30_category.sql", include_str!("job/sql/30_category.sql")),
    ("sql/40_adjacency.sql", include_str!("job/sql/40_adjacency.sql")),
    ("sql/50_seasonal_trend.sql", include_str!("job/sql/50_seasonal_trend.sql")),
    ("sql/60_silver.sql", include_str!("job/sql/60_silver.sql")),
];

/// Write the job into `dir` (created if needed; the job's own files are replaced, nothing else in
/// the folder is touched). Returns the files written.
pub fn write_job(dir: &Path) -> Result<Vec<PathBuf>> {
    let write_error = |path: &Path, e: std::io::Error| PipelineError::Write {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    std::fs::create_dir_all(dir.join("sql")).map_err(|e| write_error(dir, e))?;
    JOB_FILES
        .iter()
        .map(|(name, content)| {
            let path = dir.join(name);
            std::fs::write(&path, content).map_err(|e| write_error(&path, e))?;
            Ok(path)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::features::{NUMERIC_FEATURES, TENURE_LABEL};
    use std::collections::BTreeSet;

    fn job_file(name: &str) -> &'static str {
        JOB_FILES.iter().find(|(n, _)| *n == name).map(|(_, c)| *c).unwrap_or_default()
    }

    fn all_spark_sql() -> String {
        JOB_FILES.iter().filter(|(n, _)| n.ends_with(".sql")).map(|(_, c)| *c).collect()
    }

    fn duckdb_feature_sql() -> String {
        [
            include_str!("../features/sql/00_base.sql"),
            include_str!("../features/sql/10_volume_returns_temporal.sql"),
            include_str!("../features/sql/20_category.sql"),
            include_str!("../features/sql/30_adjacency.sql"),
            include_str!("../features/sql/40_seasonal_trend.sql"),
            include_str!("../features/sql/50_silver.sql"),
        ]
        .concat()
    }

    /// The relations a script creates (`CREATE ... TABLE|VIEW name`, `CACHE TABLE name`).
    fn created_relations(sql: &str) -> BTreeSet<String> {
        let words: Vec<&str> = sql.split_whitespace().collect();
        words
            .windows(2)
            .filter(|w| matches!(w[0], "TABLE" | "VIEW"))
            .map(|w| w[1].trim_end_matches(|c: char| !c.is_alphanumeric() && c != '_').to_string())
            .filter(|name| name.starts_with("f_"))
            .collect()
    }

    /// Positions of whole-word occurrences of `word` in `text`.
    fn find_word(text: &str, word: &str) -> Option<usize> {
        let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
        text.match_indices(word).map(|(i, _)| i).find(|&i| {
            let before = text[..i].chars().next_back().is_none_or(|c| !is_ident(c));
            let after = text[i + word.len()..].chars().next().is_none_or(|c| !is_ident(c));
            before && after
        })
    }

    #[test]
    fn both_engines_build_the_same_relations() {
        // Our dense integer keys (f_*_keys) and f_src have no Spark twin: Spark joins on the text
        // keys and filters the clean lines directly.
        let ours: BTreeSet<String> = created_relations(&duckdb_feature_sql())
            .into_iter()
            .filter(|r| !r.ends_with("_keys") && r != "f_src")
            .collect();
        let spark = created_relations(&all_spark_sql());
        assert_eq!(ours, spark);
        assert!(ours.len() >= 15, "{ours:?}");
    }

    #[test]
    fn both_silver_queries_name_every_feature_in_features_md_order() {
        for (engine, sql) in [
            ("duckdb", include_str!("../features/sql/50_silver.sql")),
            ("spark", job_file("sql/60_silver.sql")),
        ] {
            let mut last = 0;
            for name in NUMERIC_FEATURES.iter().chain([&TENURE_LABEL, &"eligible"]) {
                let at = find_word(&sql[last..], name)
                    .unwrap_or_else(|| panic!("{engine}: {name} missing or out of order"));
                last += at + name.len();
            }
        }
    }

    #[test]
    fn every_quality_count_is_written_by_the_driver() {
        let driver = job_file(DRIVER);
        for (name, _, _) in crate::pipeline::validate::QUALITY_COUNTS {
            assert!(driver.contains(&format!("\"{name}\"")), "{name} not in the driver");
        }
        assert!(driver.contains(&format!("SILVER_FORMAT = {SILVER_FORMAT}")));
    }

    #[test]
    fn every_placeholder_is_one_the_driver_fills() {
        let driver = job_file(DRIVER);
        let sql = all_spark_sql();
        let placeholders: BTreeSet<&str> = sql
            .match_indices('{')
            .filter_map(|(i, _)| {
                let end = sql[i..].find('}')? + i;
                let name = &sql[i + 1..end];
                name.chars().all(|c| c.is_ascii_uppercase() || c == '_').then_some(name)
            })
            .filter(|n| !n.is_empty())
            .collect();
        assert!(placeholders.contains("AS_OF_US"), "{placeholders:?}");
        for name in placeholders {
            assert!(driver.contains(&format!("\"{name}\"")), "{name} is never filled");
        }
    }

    #[test]
    fn writes_every_file_of_the_job() {
        let dir = tempfile::tempdir().expect("temp dir");
        let written = write_job(&dir.path().join("job")).expect("write");
        assert_eq!(written.len(), JOB_FILES.len());
        let driver = std::fs::read_to_string(dir.path().join("job").join(DRIVER)).expect("driver");
        assert!(driver.contains("def main("));
        assert!(dir.path().join("job/sql/60_silver.sql").is_file());
    }
}
