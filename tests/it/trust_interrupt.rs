//! Interruptions (issue 16): a cancel, an injected failure and a SIGKILL in each stage leave the
//! earlier layers and the completed stages intact; the file reopens cleanly, says which stages are
//! complete, and `run --resume` goes on from the interrupted stage.

use crate::cli::returnscope;
use returnscope::pipeline::progress::{CancelToken, Progress, Stage};
use returnscope::pipeline::{Analysis, Config, PipelineError};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const STAGES: [Stage; 5] = Stage::RECORDED;

/// The table each stage writes, with the row count a complete run gives it.
const LAYERS: [(Stage, &str); 5] = [
    (Stage::Ingest, "bronze_rows"),
    (Stage::Validate, "bronze_quality"),
    (Stage::Features, "silver_customer_features"),
    (Stage::Gold, "gold_cluster_processed"),
    (Stage::Cluster, "clustering_results"),
];

fn sample(dir: &Path) -> PathBuf {
    let out = returnscope(&["sample", "--customers", "1500", "--out", "s.csv", "--clean"], dir);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    dir.join("s.csv")
}

fn run_stage(
    a: &Analysis,
    stage: Stage,
    csv: &Path,
    config: &Config,
    p: &Progress,
) -> Result<(), PipelineError> {
    match stage {
        Stage::Ingest => a.ingest(csv, config, p).map(drop),
        Stage::Validate => a.validate(config, p).map(drop),
        Stage::Features => a.features(config, p).map(drop),
        Stage::Gold => a.gold(config, p).map(drop),
        _ => a.cluster(config, p, false).map(drop),
    }
}

fn count(a: &Analysis, table: &str) -> i64 {
    a.store().conn().query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0)).unwrap()
}

/// Row counts of every layer of a complete run.
fn complete_counts(dir: &Path, csv: &Path) -> Vec<i64> {
    let config = Config::default();
    let a = Analysis::open(&dir.join("complete.duckdb"), &config).unwrap();
    for stage in STAGES {
        run_stage(&a, stage, csv, &config, &Progress::none()).unwrap();
    }
    LAYERS.iter().map(|(_, t)| count(&a, t)).collect()
}

/// The layers before `stage` hold exactly what a complete run gives them, and the analysis says
/// those stages (and no later one) are complete.
fn assert_intact_before(a: &Analysis, stage: Stage, expected: &[i64], what: &str) {
    let state = a.state().unwrap();
    let before: Vec<Stage> = STAGES.iter().copied().filter(|s| *s < stage).collect();
    assert_eq!(state.complete, before, "{what}");
    for ((s, table), want) in LAYERS.iter().zip(expected) {
        if *s < stage {
            assert_eq!(count(a, table), *want, "{what}: {table}");
        }
    }
}

#[test]
fn a_cancel_in_each_stage_keeps_the_earlier_layers_and_stages() {
    let dir = tempfile::tempdir().unwrap();
    let csv = sample(dir.path());
    let expected = complete_counts(dir.path(), &csv);
    let config = Config::default();
    for stage in STAGES {
        let a =
            Analysis::open(&dir.path().join(format!("{}.duckdb", stage.key())), &config).unwrap();
        for earlier in STAGES.iter().filter(|s| **s < stage) {
            run_stage(&a, *earlier, &csv, &config, &Progress::none()).unwrap();
        }
        // Cancel as soon as the stage reports any progress.
        let token = CancelToken::new();
        let trigger = token.clone();
        let progress = Progress::new(
            move |u| {
                if u.stage == stage {
                    trigger.cancel();
                }
            },
            token,
        );
        let outcome = run_stage(&a, stage, &csv, &config, &progress);
        assert!(matches!(outcome, Err(PipelineError::Cancelled)), "{stage:?}: {outcome:?}");
        assert_intact_before(&a, stage, &expected, &format!("cancel in {stage:?}"));
        // The stage then runs to the same result as in a complete run.
        run_stage(&a, stage, &csv, &config, &Progress::none()).unwrap();
        let (_, table) = LAYERS.iter().find(|(s, _)| *s == stage).unwrap();
        let i = STAGES.iter().position(|s| *s == stage).unwrap();
        assert_eq!(count(&a, table), expected[i], "{stage:?} after the cancel");
    }
}

fn run_cli(dir: &Path, fault: Option<&str>, extra: &[&str]) -> Output {
    let mut args = vec!["run", "s.csv", "--db", "a.duckdb", "--until", "cluster", "--json"];
    args.extend(extra);
    let mut command = Command::new(env!("CARGO_BIN_EXE_returnscope"));
    command.args(&args).current_dir(dir);
    if let Some(fault) = fault {
        command.env("RETURNSCOPE_FAULT", fault);
    }
    command.output().unwrap()
}

/// Start a run that holds inside `stage` (before it commits), and SIGKILL it there.
fn kill_during(dir: &Path, stage: Stage) {
    let marker = dir.join("a.duckdb.fault-hold");
    let _ = std::fs::remove_file(&marker);
    let mut child = Command::new(env!("CARGO_BIN_EXE_returnscope"))
        .args(["run", "s.csv", "--db", "a.duckdb", "--until", "cluster"])
        .current_dir(dir)
        .env("RETURNSCOPE_FAULT", format!("hold:{}", stage.key()))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !marker.exists() {
        assert!(started.elapsed() < Duration::from_secs(240), "{stage:?} never reached");
        assert!(child.try_wait().unwrap().is_none(), "the run ended before {stage:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    std::fs::remove_file(&marker).unwrap();
}

fn stages(v: &serde_json::Value, key: &str) -> Vec<String> {
    v[key].as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect()
}

#[test]
fn a_kill_or_a_failure_in_each_stage_reopens_cleanly_and_resumes_from_that_stage() {
    let dir = tempfile::tempdir().unwrap();
    let csv = sample(dir.path());
    let expected = complete_counts(dir.path(), &csv);
    let db = dir.path().join("a.duckdb");
    for stage in STAGES {
        // Killed mid-stage (a run from the start, so the stage runs whatever the file holds).
        kill_during(dir.path(), stage);
        {
            let a = Analysis::open(&db, &Config::default()).unwrap();
            assert_intact_before(&a, stage, &expected, &format!("kill in {stage:?}"));
        }
        // A failing write in the same stage: the run says which stages the file keeps.
        let out = run_cli(dir.path(), Some(&format!("fail:{}", stage.key())), &["--resume"]);
        assert_eq!(out.status.code(), Some(1), "{stage:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let complete: Vec<&str> = STAGES.iter().filter(|s| **s < stage).map(|s| s.key()).collect();
        let listed = if complete.is_empty() { "none".to_string() } else { complete.join(", ") };
        assert!(stderr.contains(&format!("Complete in a.duckdb: {listed}.")), "{stderr}");
        {
            let a = Analysis::open(&db, &Config::default()).unwrap();
            assert_intact_before(&a, stage, &expected, &format!("failure in {stage:?}"));
        }
        // Resumed: the earlier stages are kept, this one and the later ones run.
        let out = run_cli(dir.path(), None, &["--resume"]);
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(stages(&v, "stages_kept"), complete, "{stage:?}");
        assert_eq!(stages(&v, "stages_run").len(), 5 - complete.len(), "{stage:?}");
        assert_eq!(v["rows_loaded"].as_i64(), Some(expected[0]));
        let a = Analysis::open(&db, &Config::default()).unwrap();
        assert_eq!(a.state().unwrap().complete, STAGES.to_vec());
        assert!(!dir.path().join("a.duckdb.tmp").exists(), "no spill folder left");
    }
}

#[test]
fn resume_reruns_from_the_first_stage_whose_input_or_configuration_changed() {
    let dir = tempfile::tempdir().unwrap();
    sample(dir.path());
    assert_eq!(run_cli(dir.path(), None, &[]).status.code(), Some(0));
    let kept = |extra: &[&str]| {
        let out = run_cli(dir.path(), None, extra);
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        (stages(&v, "stages_kept"), v)
    };
    let (all, v) = kept(&["--resume"]);
    assert_eq!(all, ["ingest", "validate", "features", "gold", "cluster"]);
    assert!(v["cluster"]["k"].as_u64().is_some(), "the kept segments are reported");
    // Another K range changes only the clustering.
    std::fs::write(dir.path().join("k.toml"), "[kmeans]\nk_max = 6\n").unwrap();
    assert_eq!(
        kept(&["--resume", "--config", "k.toml"]).0,
        ["ingest", "validate", "features", "gold"]
    );
    // Another recency window changes the features and everything after them.
    std::fs::write(dir.path().join("w.toml"), "[data]\nrecency_window_days = 30\n").unwrap();
    assert_eq!(kept(&["--resume", "--config", "w.toml"]).0, ["ingest", "validate"]);
    // Another input (one more line) changes everything.
    let mut text = std::fs::read_to_string(dir.path().join("s.csv")).unwrap();
    let last = text.lines().last().unwrap().replacen(',', "z,", 1);
    text.push_str(&last);
    text.push('\n');
    std::fs::write(dir.path().join("s.csv"), text).unwrap();
    assert!(kept(&["--resume", "--config", "w.toml"]).0.is_empty());
}

#[cfg(unix)]
#[test]
fn ctrl_c_rolls_back_the_running_stage_lists_the_complete_ones_and_exits_130() {
    let dir = tempfile::tempdir().unwrap();
    let out =
        returnscope(&["sample", "--customers", "15000", "--out", "s.csv", "--clean"], dir.path());
    assert!(out.status.success());
    let child = Command::new(env!("CARGO_BIN_EXE_returnscope"))
        .args(["run", "s.csv", "--db", "a.duckdb", "--until", "cluster"])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Ctrl-C once the features stage has started (the log file says when).
    let started = Instant::now();
    loop {
        let log = std::fs::read_dir(dir.path().join("logs"))
            .ok()
            .and_then(|mut d| d.next())
            .and_then(|e| std::fs::read_to_string(e.unwrap().path()).ok())
            .unwrap_or_default();
        if log.contains("stage features started") {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(240), "features never started: {log}");
        std::thread::sleep(Duration::from_millis(10));
    }
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("Stopped by Ctrl-C"), "{stderr}");
    let a = Analysis::open(&dir.path().join("a.duckdb"), &Config::default()).unwrap();
    let state = a.state().unwrap();
    assert!(state.complete.len() >= 2 && state.complete.len() < 5, "{state:?}");
    assert!(
        stderr.contains(&format!("Complete in a.duckdb: {}.", state.complete_list())),
        "{stderr}"
    );
    assert_eq!(count(&a, "bronze_rows"), count(&a, "bronze_quality"));
}
