//! What an analysis records (issue 16): the configuration each stage ran with is what the report
//! and the metadata show; the metadata is named after the analysis; a summary written by another
//! version says which stage to run again.

use crate::cli::returnscope;
use crate::common::*;
use returnscope::pipeline::progress::{Progress, Stage};
use returnscope::pipeline::report::parameters_from_config;
use returnscope::pipeline::share::Sharing;
use returnscope::pipeline::{Analysis, Config};
use std::path::Path;

fn run_all(db: &Path, csv: &Path, config: &Config) -> Analysis {
    let a = Analysis::open(db, config).unwrap();
    let p = Progress::none();
    a.ingest(csv, config, &p).unwrap();
    a.validate(config, &p).unwrap();
    a.features(config, &p).unwrap();
    a.gold(config, &p).unwrap();
    a.cluster(config, &p, false).unwrap();
    a
}

fn metadata(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The value of `key` in the workbook's Technical Details sheet.
fn technical_detail(xlsx: &Path, key: &str) -> Option<String> {
    use calamine::{Reader, Xlsx, open_workbook};
    let mut workbook: Xlsx<_> = open_workbook(xlsx).unwrap();
    let range = workbook.worksheet_range("Technical Details").unwrap();
    range
        .rows()
        .find(|r| r.first().is_some_and(|c| matches!(c, calamine::Data::String(s) if s == key)))
        .map(|r| r[1].to_string())
}

#[test]
fn the_report_and_the_metadata_show_the_configuration_the_run_used() {
    let dir = tempfile::tempdir().unwrap();
    let out =
        returnscope(&["sample", "--customers", "1500", "--out", "s.csv", "--clean"], dir.path());
    assert!(out.status.success());
    let csv = dir.path().join("s.csv");
    let mut jan_config = Config::default();
    jan_config.kmeans.k_max = 6;
    jan_config.dbscan.min_samples = 7;
    jan_config.data.recency_window_days = 30.0;
    let jan = run_all(&dir.path().join("jan.duckdb"), &csv, &jan_config);
    let feb = run_all(&dir.path().join("feb.duckdb"), &csv, &Config::default());
    let expected = parameters_from_config(&jan_config);
    let value = |key: &str| expected.iter().find(|(k, _)| k == key).unwrap().1.clone();
    // The report reads the run's configuration, not the settings of the moment.
    let data = jan.report_data().unwrap();
    for key in ["kmeans.k_max", "dbscan.min_samples", "data.recency_window_days"] {
        let shown = data.parameters.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
        assert_eq!(shown, Some(value(key)), "{key}");
    }
    let xlsx = dir.path().join("jan.xlsx");
    jan.write_report(&xlsx, &Progress::none(), &Sharing::as_loaded()).unwrap();
    assert_eq!(technical_detail(&xlsx, "kmeans.k_max"), Some("6".into()));
    // Each analysis in the folder has its own metadata, with its own parameters.
    let jan_meta = metadata(&dir.path().join("jan.clustering_metadata.json"));
    let feb_meta = metadata(&dir.path().join("feb.clustering_metadata.json"));
    assert_eq!(jan_meta["parameters"]["kmeans"]["k_max"], 6);
    assert_eq!(jan_meta["parameters"]["dbscan"]["min_samples"], 7);
    assert_eq!(feb_meta["parameters"]["kmeans"]["k_max"], 14);
    assert!(!dir.path().join("clustering_metadata.json").exists());
    let partial = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".partial"))
        .count();
    assert_eq!(partial, 0, "no temporary file left");
    drop(feb);
}

/// Replace the stored record of `stage` through `change` (on its JSON).
fn rewrite_record(
    a: &Analysis,
    stage: Stage,
    change: impl FnOnce(serde_json::Value) -> serde_json::Value,
) {
    let conn = a.store().conn();
    let text: String = conn
        .query_row("SELECT details FROM pipeline_state WHERE stage = ?", [stage.key()], |r| {
            r.get(0)
        })
        .unwrap();
    let new = change(serde_json::from_str(&text).unwrap());
    conn.execute(
        "UPDATE pipeline_state SET details = ? WHERE stage = ?",
        [new.to_string(), stage.key().to_string()],
    )
    .unwrap();
}

#[test]
fn an_analysis_from_another_version_says_which_stage_to_run_again() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "{HEADER}\nO1,a@x.com,2024-01-01,S1,1,0,No,,,,1,1,C1,BR\nO2,a@x.com,2024-01-05,S2,2,1,Yes,2024-01-09,R,,1,1,C1,BR\n"
    );
    let a = run_to_features(dir.path(), &text, &small_config(None));
    assert_eq!(a.state().unwrap().complete, [Stage::Ingest, Stage::Validate, Stage::Features]);
    // A summary written before formats were recorded (the bare summary) still reads.
    rewrite_record(&a, Stage::Ingest, |v| v["summary"].clone());
    assert_eq!(a.state().unwrap().complete.len(), 3);
    assert_eq!(a.ingest_summary().unwrap().unwrap().rows_loaded, 2);
    // A features summary this version cannot decode: Features is the step to run again.
    rewrite_record(&a, Stage::Features, |mut v| {
        v["summary"]["customers"] = "many".into();
        v
    });
    let state = a.state().unwrap();
    assert_eq!(state.complete, [Stage::Ingest, Stage::Validate]);
    let (stage, message) = state.unreadable.unwrap();
    assert_eq!(stage, Stage::Features);
    assert!(
        message.contains("older version") && message.contains("again from Features"),
        "{message}"
    );
    assert_eq!(a.completed_stage().unwrap(), Some(Stage::Validate));
    // A validation summary in a newer format is never guessed at.
    rewrite_record(&a, Stage::Validate, |mut v| {
        v["format"] = 99.into();
        v
    });
    let (stage, message) = a.state().unwrap().unreadable.unwrap();
    assert_eq!(stage, Stage::Validate);
    assert!(message.contains("newer version"), "{message}");
    let err = a.quality_report().unwrap_err();
    assert_eq!(err.to_string(), message);
}
