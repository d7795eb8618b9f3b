//! `returnscope run --silver`: a features table made elsewhere is segmented exactly as our own
//! features are, and a table that does not follow FEATURES.md is refused with a message that
//! names what is wrong, writing nothing (no analysis file, no log folder).

use crate::cli::returnscope;
use std::path::{Path, PathBuf};

/// Every customer's segment, outlier flag, micro-segment and archetype, by customer id.
pub type Segments = Vec<(String, Option<i32>, bool, Option<String>, Option<String>)>;

/// The stored segmentation of an analysis file.
pub fn segments(db: &Path) -> Segments {
    let conn = duckdb::Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT customer_id, segment, is_outlier, micro_segment, archetype
             FROM clustering_results ORDER BY customer_id",
        )
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn ok(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "exit {:?}: {}{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A dirty sample, run on the CSV up to `until`, its silver exported to `silver.parquet`.
fn csv_run(dir: &Path, until: &str) -> PathBuf {
    ok(&returnscope(&["sample", "--customers", "1500", "--seed", "5", "--out", "s.csv"], dir));
    ok(&returnscope(&["run", "s.csv", "--db", "csv.duckdb", "--until", until], dir));
    ok(&returnscope(&["export", "silver", "--db", "csv.duckdb", "--out", "silver.parquet"], dir));
    dir.join("silver.parquet")
}

#[test]
fn run_silver_on_exported_features_gives_the_same_segments_and_a_report() {
    let dir = tempfile::tempdir().unwrap();
    csv_run(dir.path(), "cluster");
    let out = returnscope(
        &[
            "run",
            "--silver",
            "silver.parquet",
            "--db",
            "silver.duckdb",
            "--report",
            "r.xlsx",
            "--json",
        ],
        dir.path(),
    );
    ok(&out);
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["customers"].as_u64(), Some(1500), "{summary}");
    let stages: Vec<&str> =
        summary["stages_run"].as_array().unwrap().iter().filter_map(|s| s.as_str()).collect();
    assert_eq!(stages, ["features", "gold", "cluster", "report"]);
    let ours = segments(&dir.path().join("csv.duckdb"));
    assert_eq!(ours.len(), summary["eligible_customers"].as_u64().unwrap() as usize);
    assert!(ours == segments(&dir.path().join("silver.duckdb")), "segments differ");
    assert!(dir.path().join("r.xlsx").metadata().unwrap().len() > 10_000);
}

/// Write a variant of `silver` made by `select` (over the view `s`), with COPY `options`.
fn variant(silver: &Path, out: &Path, select: &str, options: &str) {
    let conn = duckdb::Connection::open_in_memory().unwrap();
    conn.execute_batch(&format!(
        "CREATE VIEW s AS SELECT * FROM read_parquet('{}');
         COPY ({select}) TO '{}' (FORMAT PARQUET{options});",
        silver.display(),
        out.display()
    ))
    .unwrap();
}

#[test]
fn bad_features_tables_are_refused_naming_the_problem_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let silver = csv_run(dir.path(), "features");
    let cases = [
        ("missing.parquet", "SELECT * EXCLUDE (return_rate) FROM s", "", "no column return_rate"),
        (
            "mistyped.parquet",
            "SELECT * REPLACE (CAST(sku_nunique AS VARCHAR) AS sku_nunique) FROM s",
            "",
            "feature sku_nunique is VARCHAR, but FEATURES.md makes it a number",
        ),
        (
            "duplicates.parquet",
            "SELECT * FROM s UNION ALL (SELECT * FROM s ORDER BY customer_id LIMIT 2)",
            "",
            "customer_id must be unique, but 2 rows repeat a customer",
        ),
        (
            "newer.parquet",
            "SELECT * FROM s",
            ", KV_METADATA {returnscope_silver_format: '2'}",
            "silver format 2, newer than the format 1",
        ),
    ];
    for (name, select, options, expected) in cases {
        let case_dir = dir.path().join(name.trim_end_matches(".parquet"));
        std::fs::create_dir(&case_dir).unwrap();
        variant(&silver, &case_dir.join(name), select, options);
        let out = returnscope(&["run", "--silver", name, "--db", "a.duckdb"], &case_dir);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {stderr}");
        assert!(stderr.contains(expected), "{name}: {stderr}");
        assert!(stderr.contains("Nothing was written"), "{name}: {stderr}");
        let left: Vec<_> =
            std::fs::read_dir(&case_dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, [std::ffi::OsString::from(name)], "{name}: files written");
    }
    // The untouched export opens (the checks refuse only what is wrong).
    ok(&returnscope(
        &["run", "--silver", "silver.parquet", "--db", "ok.duckdb", "--until", "features"],
        dir.path(),
    ));
}
