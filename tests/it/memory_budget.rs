//! The memory budget: DuckDB gets its share of `store.memory_limit`, a run says per stage how
//! much memory it used and warns when a stage came close to the budget, and a limit that is not
//! an amount says what to write.

use crate::cli::returnscope;
use crate::common::*;
use returnscope::pipeline::config::StoreConfig;
use returnscope::pipeline::store::Store;

const GIB: u64 = 1 << 30;

#[test]
fn duckdb_gets_three_quarters_of_the_configured_budget() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = StoreConfig { memory_limit: "2GB".into(), ..Default::default() };
    let store = Store::open(&dir.path().join("a.duckdb"), &cfg).unwrap();
    assert_eq!(store.memory_budget().bytes, 2 * GIB);
    let setting: String =
        store.conn().query_row("SELECT current_setting('memory_limit')", [], |r| r.get(0)).unwrap();
    assert!(setting.starts_with("1.5 GiB") || setting.starts_with("1536"), "{setting}");
}

#[test]
fn a_run_reports_each_stage_s_memory_and_warns_near_the_budget() {
    let dir = tempfile::tempdir().unwrap();
    let out =
        returnscope(&["sample", "--customers", "1200", "--out", "s.csv", "--clean"], dir.path());
    assert!(out.status.success());
    // 64 MB is less than the process itself holds: every stage comes close to it.
    write(dir.path(), "tight.toml", "[store]\nmemory_limit = \"64MB\"\n");
    let out = returnscope(
        &[
            "run",
            "s.csv",
            "--db",
            "a.duckdb",
            "--until",
            "validate",
            "--config",
            "tight.toml",
            "--json",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["memory_budget_bytes"].as_u64(), Some(64 << 20));
    let stages: Vec<&str> =
        v["memory"].as_array().unwrap().iter().map(|m| m["stage"].as_str().unwrap()).collect();
    assert_eq!(stages, ["ingest", "validate"]);
    for m in v["memory"].as_array().unwrap() {
        assert!(m["peak_bytes"].as_u64().unwrap() > 10 << 20, "{m}");
    }
    let warnings = v["warnings"].to_string();
    assert!(
        warnings.contains("Load used") && warnings.contains("of the 64 MB memory budget"),
        "{warnings}"
    );

    // The default budget: no warning on a small run, and the text summary names the memory.
    let out = returnscope(&["run", "s.csv", "--db", "b.duckdb", "--until", "validate"], dir.path());
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let memory_line = stdout.lines().find(|l| l.starts_with("Memory:")).unwrap_or_default();
    assert!(memory_line.contains("ingest") && memory_line.contains("budget"), "{stdout}");
    assert!(!stdout.contains("memory budget;"), "{stdout}");
}

#[test]
fn a_memory_limit_that_is_not_an_amount_says_what_to_write() {
    let dir = tempfile::tempdir().unwrap();
    let out =
        returnscope(&["sample", "--customers", "300", "--out", "s.csv", "--clean"], dir.path());
    assert!(out.status.success());
    write(dir.path(), "bad.toml", "[store]\nmemory_limit = \"plenty\"\n");
    let out = returnscope(&["run", "s.csv", "--config", "bad.toml"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("store.memory_limit") && stderr.contains("\"4GB\""), "{stderr}");
    assert!(!dir.path().join("customer_clustering.duckdb").exists());
}
