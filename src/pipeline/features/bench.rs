//! Timing run of validation and the features (ignored by default):
//! `ANALYSIS_DB=<an analysis whose CSV is loaded> cargo test --lib pipeline::features::bench --
//! --ignored --nocapture`. It copies the analysis to a temporary folder, validates it and builds
//! its features `REPEAT` times (default 3), and prints each statement's time (the
//! `execute_monitored` log lines) and each stage's wall and CPU seconds. With `EXPORT_DIR`, the
//! quality and silver tables are written there as Parquet as the analysis held them (`before/`)
//! and as the last run wrote them (`after/`), to compare two versions row for row (the loaded
//! rows are never rewritten). It prints numbers rather than asserting them: the machine varies.

use crate::pipeline::config::Config;
use crate::pipeline::memory::process_cpu_seconds;
use crate::pipeline::progress::Progress;
use crate::pipeline::store::{Store, wal_path};
use crate::pipeline::{features, validate};
use std::path::Path;
use std::time::Instant;

/// The tables a validation and features build write, compared between versions.
const COMPARED_TABLES: [&str; 5] =
    ["bronze_quality", "quality_report", "dataset_checks", features::SILVER, features::STATS];

fn timed<T>(label: &str, body: impl FnOnce() -> T) -> T {
    let (wall, cpu) = (Instant::now(), process_cpu_seconds());
    let out = body();
    println!(
        "{label}: {:.3} s wall, {:.3} CPU-s",
        wall.elapsed().as_secs_f64(),
        process_cpu_seconds() - cpu
    );
    out
}

fn export_tables(store: &Store, dir: &Path) {
    std::fs::create_dir_all(dir).expect("export folder");
    for table in COMPARED_TABLES {
        let out = dir.join(format!("{table}.parquet"));
        store
            .conn()
            .execute_batch(&format!(
                "COPY (SELECT * FROM {table}) TO '{}' (FORMAT PARQUET)",
                out.display()
            ))
            .expect("export");
    }
    println!("exported {} tables to {}", COMPARED_TABLES.len(), dir.display());
}

#[test]
#[ignore]
fn bench_validate_and_features() {
    let Ok(source) = std::env::var("ANALYSIS_DB") else {
        println!("set ANALYSIS_DB to an analysis whose CSV is loaded");
        return;
    };
    let _ = tracing_subscriber::fmt().with_max_level(tracing::Level::INFO).try_init();
    let repeat: usize = std::env::var("REPEAT").ok().and_then(|r| r.parse().ok()).unwrap_or(3);
    let dir = tempfile::tempdir().expect("temp folder");
    let db = dir.path().join("bench.duckdb");
    std::fs::copy(&source, &db).expect("copying the analysis");
    let wal = wal_path(Path::new(&source));
    if wal.exists() {
        std::fs::copy(wal, wal_path(&db)).expect("copying the analysis's write-ahead log");
    }
    let config = Config::default();
    let store = Store::open(&db, &config.store).expect("opening the copy");
    let export = std::env::var("EXPORT_DIR").ok().map(std::path::PathBuf::from);
    if let Some(dir) = &export {
        export_tables(&store, &dir.join("before"));
    }
    let progress = Progress::none();
    for run in 1..=repeat {
        println!("run {run} of {repeat}");
        timed("validate", || validate::validate(&store, &config, &progress).expect("validate"));
        timed("features", || {
            features::build_features(&store, &config, &progress).expect("features")
        });
    }
    if let Some(dir) = &export {
        export_tables(&store, &dir.join("after"));
    }
}
