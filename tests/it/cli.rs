//! The real `returnscope` binary: sample -> validate -> run, JSON output and exit codes.

use crate::common::*;
use std::path::Path;
use std::process::{Command, Output};

pub fn returnscope(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_returnscope")).args(args).current_dir(cwd).output().unwrap()
}

fn json(out: &Output) -> serde_json::Value {
    assert!(out.status.code() != Some(1), "failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn validate_reports_exactly_what_the_generator_planted() {
    let dir = tempfile::tempdir().unwrap();
    let options =
        returnscope::pipeline::sample::SampleOptions { customers: 20_000, seed: 7, clean: false };
    let planted = returnscope::pipeline::sample::write_sample(&dir.path().join("s.csv"), &options)
        .unwrap()
        .planted;
    assert!(planted.values().sum::<u64>() > 0, "the generator plants dirty rows");
    let out = returnscope(&["validate", "s.csv", "--json"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    let report = json(&out);
    for (name, count) in planted {
        if name == "after_as_of" {
            continue;
        }
        assert_eq!(report["quality"][&name].as_u64(), Some(count), "{name}");
    }
}

#[test]
fn validate_exits_2_and_says_why_when_data_cannot_be_segmented() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "tiny.csv",
        &format!("{HEADER}\nO1,a@x.com,2024-01-01,S,1,0,No,,,,1,1,C,B\n"),
    );
    let out = returnscope(&["validate", "tiny.csv"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("BLOCKING") && stdout.contains("min_customers"), "{stdout}");
}

#[test]
fn run_json_has_counts_timings_and_cluster_results() {
    let dir = tempfile::tempdir().unwrap();
    let out =
        returnscope(&["sample", "--customers", "1500", "--out", "s.csv", "--clean"], dir.path());
    assert!(out.status.success());
    let out = returnscope(
        &["run", "s.csv", "--db", "a.duckdb", "--until", "cluster", "--json"],
        dir.path(),
    );
    let v = json(&out);
    assert!(v["rows_loaded"].as_u64().unwrap() > 10_000);
    assert_eq!(v["quality"]["duplicate_rows"].as_u64(), Some(0));
    assert!(v["timings"].as_array().unwrap().len() >= 5);
    let k = v["cluster"]["k"].as_u64().unwrap();
    assert!((3..=14).contains(&k));
    assert!(v["cluster"]["noise_ratio"].as_f64().unwrap() <= 0.15);
    assert!(dir.path().join("a.clustering_metadata.json").exists());
    // A bad configuration key is named.
    write(dir.path(), "bad.toml", "[kmeans]\nk_maximum = 3\n");
    let out = returnscope(&["run", "s.csv", "--config", "bad.toml"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("k_maximum"));
}

#[test]
fn a_cli_run_writes_its_log_file_beside_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let out =
        returnscope(&["sample", "--customers", "300", "--out", "s.csv", "--clean"], dir.path());
    assert!(out.status.success());
    let out = Command::new(env!("CARGO_BIN_EXE_returnscope"))
        .args(["run", "s.csv", "--db", "out/a.duckdb", "--until", "validate"])
        .current_dir(dir.path())
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let logs: Vec<_> = std::fs::read_dir(dir.path().join("out").join("logs"))
        .expect("a logs folder beside the database")
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(logs.len(), 1, "{logs:?}");
    let name = logs[0].file_name().unwrap().to_string_lossy().into_owned();
    // pipeline_execution_YYYYMMDD_HHMMSS.log
    let stamp = name
        .strip_prefix("pipeline_execution_")
        .and_then(|s| s.strip_suffix(".log"))
        .unwrap_or_else(|| panic!("unexpected log file name {name}"));
    assert!(
        stamp.len() == 15
            && stamp.as_bytes()[8] == b'_'
            && stamp.chars().filter(|c| c.is_ascii_digit()).count() == 14,
        "{name}"
    );
    let text = std::fs::read_to_string(&logs[0]).unwrap();
    assert!(text.contains(&name), "the log names itself: {text}");
    assert!(text.contains("Loading CSV"), "the load is logged: {text}");
}
