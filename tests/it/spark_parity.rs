//! Parity of the Spark job (`returnscope spark-job`) with our own cleaning and features, on local
//! Spark: a dirty `returnscope sample` extract goes through both; every quality count must be
//! equal, every feature of every customer equal to 1e-9 (NULL where ours is NULL), and
//! `run --silver` on Spark's output must give the segments `run` gives on the CSV.
//!
//! Ignored by `cargo test` (it needs Java 17 and pyspark): `.ci/spark-parity` installs both and
//! runs it with `RETURNSCOPE_SPARK_SUBMIT` set to its `spark-submit`. Spark binds to 127.0.0.1
//! only. `RETURNSCOPE_SPARK_CUSTOMERS` sets the sample size (default 3,000).

use crate::cli::returnscope;
use crate::silver::segments;
use returnscope::pipeline::features::{NUMERIC_FEATURES, TENURE_LABEL};
use returnscope::pipeline::validate::QUALITY_COUNTS;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// Both sides round to 9 decimals; a value on a rounding tie may land one step apart.
const TOLERANCE: f64 = 1e-9 + 1e-12;

fn ok(what: &str, out: &std::process::Output) {
    assert!(
        out.status.success(),
        "{what} failed ({:?}):\n{}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Run the job with `spark-submit` on 2 local cores, bound to the loopback address only.
fn spark_submit(submit: &str, dir: &Path) -> f64 {
    let started = Instant::now();
    let out = Command::new(submit)
        .args(["--master", "local[2]"])
        .args([
            "--conf",
            "spark.driver.bindAddress=127.0.0.1",
            "--conf",
            "spark.driver.host=127.0.0.1",
        ])
        .args(["--conf", "spark.ui.enabled=false", "--conf", "spark.sql.shuffle.partitions=4"])
        .args(["job/returnscope_features.py", "--input", "s.csv", "--output", "spark_out"])
        .env("SPARK_LOCAL_IP", "127.0.0.1")
        .current_dir(dir)
        .output()
        .unwrap();
    ok("spark-submit", &out);
    println!("{}", String::from_utf8_lossy(&out.stdout));
    started.elapsed().as_secs_f64()
}

fn compare_quality(conn: &duckdb::Connection, files: &Path, ours: &serde_json::Value) {
    let sql = format!("SELECT count FROM read_parquet('{}') WHERE name = ?", files.display());
    for (name, _, _) in QUALITY_COUNTS {
        let spark: i64 = conn
            .query_row(&sql, [name], |r| r.get(0))
            .unwrap_or_else(|e| panic!("Spark wrote no count {name}: {e}"));
        assert_eq!(Some(spark as u64), ours[name].as_u64(), "quality count {name}");
    }
}

/// Per feature: customers where only one side is NULL, and the largest difference.
fn compare_features(conn: &duckdb::Connection) {
    let only_one_side: i64 = conn
        .query_row(
            "SELECT count(*) FROM ours.silver_customer_features o
             FULL JOIN spark s USING (customer_id) WHERE o.customer_id IS NULL OR s.customer_id IS NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(only_one_side, 0, "customers present on one side only");
    for f in NUMERIC_FEATURES {
        let (null_mismatch, worst, example): (i64, Option<f64>, Option<String>) = conn
            .query_row(
                &format!(
                    "SELECT count(*) FILTER ((o.{f} IS NULL) <> (s.{f} IS NULL)),
                            max(abs(o.{f} - s.{f})),
                            arg_max(customer_id, coalesce(abs(o.{f} - s.{f}), 0))
                     FROM ours.silver_customer_features o JOIN spark s USING (customer_id)"
                ),
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!(null_mismatch, 0, "{f}: NULL on one side only");
        let worst = worst.unwrap_or(0.0);
        assert!(worst <= TOLERANCE, "{f}: differs by {worst:e} (e.g. customer {example:?})");
    }
    let label_mismatch: i64 = conn
        .query_row(
            &format!(
                "SELECT count(*) FROM ours.silver_customer_features o JOIN spark s USING (customer_id)
                 WHERE o.{TENURE_LABEL} <> s.{TENURE_LABEL} OR o.eligible <> s.eligible"
            ),
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(label_mismatch, 0, "tenure stage or eligibility differ");
}

#[test]
#[ignore = "needs Java 17 and pyspark: run .ci/spark-parity"]
fn spark_job_matches_our_cleaning_features_and_segments() {
    let submit = std::env::var("RETURNSCOPE_SPARK_SUBMIT")
        .expect("set RETURNSCOPE_SPARK_SUBMIT to spark-submit (see .ci/spark-parity)");
    let customers =
        std::env::var("RETURNSCOPE_SPARK_CUSTOMERS").unwrap_or_else(|_| "3000".to_string());
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    ok(
        "sample",
        &returnscope(&["sample", "--customers", &customers, "--seed", "11", "--out", "s.csv"], dir),
    );
    let out =
        returnscope(&["run", "s.csv", "--db", "ours.duckdb", "--until", "cluster", "--json"], dir);
    ok("run on the CSV", &out);
    let ours: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    ok("spark-job", &returnscope(&["spark-job", "--out", "job"], dir));
    let spark_seconds = spark_submit(&submit, dir);

    let conn = duckdb::Connection::open_in_memory().unwrap();
    conn.execute_batch(&format!(
        "ATTACH '{}' AS ours (READ_ONLY);
         CREATE VIEW spark AS SELECT * FROM read_parquet('{}');",
        dir.join("ours.duckdb").display(),
        dir.join("spark_out/silver/*.parquet").display()
    ))
    .unwrap();
    compare_quality(&conn, &dir.join("spark_out/quality_counts/*.parquet"), &ours["quality"]);
    compare_features(&conn);
    drop(conn);

    let out = returnscope(
        &["run", "--silver", "spark_out", "--db", "spark.duckdb", "--until", "cluster"],
        dir,
    );
    ok("run --silver on Spark's output", &out);
    assert!(
        segments(&dir.join("ours.duckdb")) == segments(&dir.join("spark.duckdb")),
        "segments differ"
    );
    let features_seconds = ours["timings"]
        .as_array()
        .and_then(|t| t.iter().find(|s| s[0] == "features"))
        .and_then(|s| s[1].as_f64())
        .unwrap_or(f64::NAN);
    println!(
        "{customers} customers: Spark job {spark_seconds:.1} s (local[2], with JVM start), our features stage {features_seconds:.2} s"
    );
}
