//! Segments over time: the saved model, `score` and `compare` through the real binary, on
//! generated extracts (two periods with planted movers).

use crate::cli::returnscope;
use returnscope::pipeline::scoring::{SegmentationModel, load_model};
use returnscope::pipeline::{Analysis, Config};
use std::collections::HashMap;
use std::path::Path;
use std::process::Output;

fn ok(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_str(&ok(out)).unwrap()
}

/// Exit 1 with a message containing `needle`.
fn fails_with(out: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert!(stderr.contains(needle), "expected {needle:?} in: {stderr}");
    assert!(!stderr.contains("DuckDB") && !stderr.contains("Binder Error"), "{stderr}");
}

/// (customer, segment, micro_segment, is_outlier) of a results table, by customer.
fn placements(db: &Path, table: &str) -> HashMap<String, (Option<i64>, Option<String>, bool)> {
    let a = Analysis::open(db, &Config::default()).unwrap();
    let mut stmt = a
        .store()
        .conn()
        .prepare(&format!(
            "SELECT customer_id, segment, micro_segment, coalesce(is_outlier, false) FROM {table}"
        ))
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?, r.get(3)?))))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn truth(path: &Path) -> HashMap<String, String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(','))
        .map(|(c, a)| (c.trim().to_lowercase(), a.to_string()))
        .collect()
}

/// Two periods of 3,000 customers (30% of the Loyal Customers become High Returners); the
/// first one segmented into `old.duckdb`.
fn two_periods(dir: &Path) {
    ok(&returnscope(
        &[
            "sample",
            "--customers",
            "3000",
            "--seed",
            "5",
            "--out",
            "q1.csv",
            "--second-period",
            "q2.csv",
            "--movers",
            "0.3",
        ],
        dir,
    ));
    let out = ok(&returnscope(&["run", "q1.csv", "--db", "old.duckdb", "--until", "cluster"], dir));
    assert!(out.contains("Model:") && out.contains("as the clustering did"), "{out}");
}

#[test]
fn a_model_scores_its_own_input_as_the_clustering_did_and_survives_json() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    two_periods(d);
    // The run summary's agreement is the stored one.
    let stored = load_model(&d.join("old.duckdb"), &Config::default()).unwrap();
    let agreement = stored.self_agreement.unwrap();
    assert!(agreement.share() >= 0.99, "{agreement:?}");
    // Export, re-import: the same model.
    ok(&returnscope(&["export", "model", "--db", "old.duckdb", "--out", "model.json"], d));
    let exported = load_model(&d.join("model.json"), &Config::default()).unwrap();
    assert_eq!(exported, stored);
    assert_eq!(exported.format_version, 1);
    // Scoring the model's own input, with either form: identical assignments, and at least
    // 99% the same as the stored clustering.
    let a = json(&returnscope(
        &[
            "score",
            "q1.csv",
            "--model",
            "old.duckdb",
            "--db",
            "s1.duckdb",
            "--json",
            "--out",
            "s1.csv",
        ],
        d,
    ));
    ok(&returnscope(&["score", "q1.csv", "--model", "model.json", "--db", "s2.duckdb"], d));
    let (s1, s2) = (
        placements(&d.join("s1.duckdb"), "scored_results"),
        placements(&d.join("s2.duckdb"), "scored_results"),
    );
    assert_eq!(s1, s2);
    let clustered = placements(&d.join("old.duckdb"), "clustering_results");
    let same = clustered.iter().filter(|(c, p)| s1.get(*c) == Some(p)).count();
    assert!(same as f64 >= 0.99 * clustered.len() as f64, "{same} of {}", clustered.len());
    assert_eq!(same, agreement.agreeing, "scoring the CSV reproduces the model's own agreement");
    // Customers with one order are not placed, with a reason.
    let not_placed = &a["scores"]["not_placed"];
    assert!(not_placed[0][0].as_str().unwrap().contains("fewer than 2 orders"), "{a}");
    let csv = std::fs::read_to_string(d.join("s1.csv")).unwrap();
    assert!(csv.starts_with("customer_id,segment,archetype,micro_segment,is_outlier,distance_to_centroid,model_id,reason"));
    assert_eq!(csv.lines().count(), s1.len() + 1);
}

#[test]
fn a_model_of_a_sampled_phase_1_flags_every_own_customer_as_the_run_did() {
    // Above dbscan.exact_limit phase 1 finds its core points on a sample and judges everyone
    // else against them; the model keeps the sample's core points, so scoring the same input
    // gives every customer the run's outlier flag.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sample = ["sample", "--customers", "3000", "--seed", "5", "--out", "q1.csv"];
    ok(&returnscope(&sample, d));
    std::fs::write(d.join("sampled.toml"), "[dbscan]\nexact_limit = 1000\n").unwrap();
    let run = ["run", "q1.csv", "--db", "old.duckdb", "--until", "cluster", "--config"];
    ok(&returnscope(&[&run[..], &["sampled.toml"]].concat(), d));
    let model = load_model(&d.join("old.duckdb"), &Config::default()).unwrap();
    let cores = model.outliers.core_points.len();
    assert!(cores > 500 && cores <= 1000, "{cores} core points: not from a sample of 1,000");
    ok(&returnscope(&["score", "q1.csv", "--model", "old.duckdb", "--db", "s1.duckdb"], d));
    let scored = placements(&d.join("s1.duckdb"), "scored_results");
    let clustered = placements(&d.join("old.duckdb"), "clustering_results");
    let outliers = clustered.values().filter(|p| p.2).count();
    assert!(outliers > 0 && outliers < clustered.len() / 4, "{outliers} outliers");
    for (customer, placed) in &clustered {
        assert_eq!(scored[customer].2, placed.2, "outlier flag of {customer}");
    }
}

#[test]
fn compare_with_itself_is_diagonal_and_without_drift_and_finds_the_planted_movers() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    two_periods(d);
    let same = json(&returnscope(&["compare", "old.duckdb", "old.duckdb", "--json"], d));
    let matrix = same["matrix"].as_array().unwrap();
    for (i, row) in matrix.iter().enumerate() {
        for (j, n) in row.as_array().unwrap().iter().enumerate() {
            if i != j {
                assert_eq!(n.as_u64(), Some(0), "off-diagonal cell ({i}, {j})");
            }
        }
    }
    assert_eq!(same["moved"], 0);
    for f in same["drift"].as_array().unwrap() {
        assert_eq!(
            (f["psi"].as_f64(), f["ks"].as_f64()),
            (Some(0.0), Some(0.0)),
            "{}",
            f["feature"]
        );
    }
    // The second period: scored with OLD's model by compare itself (features only).
    ok(&returnscope(&["run", "q2.csv", "--db", "new.duckdb", "--until", "features"], d));
    let c = json(&returnscope(
        &[
            "compare",
            "old.duckdb",
            "new.duckdb",
            "--json",
            "--out",
            "movers.csv",
            "--report",
            "changes.xlsx",
        ],
        d,
    ));
    assert_eq!(c["new_segments"], "scored_now");
    assert_eq!(c["only_old"], 0);
    assert_eq!(c["only_new"], 0);
    let movers = truth(&d.join("q2.movers.csv"));
    assert!(movers.len() > 50, "{} movers", movers.len());
    let rows = std::fs::read_to_string(d.join("movers.csv")).unwrap();
    let mut header = rows.lines().next().unwrap().split(',');
    for column in ["customer_id", "old_segment", "new_segment", "old_archetype", "new_archetype"] {
        assert_eq!(header.next(), Some(column));
    }
    let (mut planted, mut planted_left, mut others, mut others_stayed) = (0, 0, 0, 0);
    for line in rows.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let moved = f[7] == "true";
        if movers.contains_key(f[0]) {
            planted += 1;
            planted_left += usize::from(moved);
        } else {
            others += 1;
            others_stayed += usize::from(!moved);
        }
    }
    assert_eq!(planted, movers.len());
    assert!(planted_left as f64 >= 0.8 * planted as f64, "{planted_left} of {planted} movers left");
    assert!(others_stayed as f64 >= 0.95 * others as f64, "{others_stayed} of {others} stayed");
    // The workbook has the Changes sheet with native charts.
    let xlsx = std::fs::File::open(d.join("changes.xlsx")).unwrap();
    let mut zip = zip::ZipArchive::new(xlsx).unwrap();
    let names: Vec<String> = zip.file_names().map(|n| n.unwrap().into_owned()).collect();
    assert!(names.iter().filter(|n| n.starts_with("xl/charts/chart")).count() >= 2, "{names:?}");
    let mut workbook = String::new();
    std::io::Read::read_to_string(&mut zip.by_name("xl/workbook.xml").unwrap(), &mut workbook)
        .unwrap();
    assert!(workbook.contains("name=\"Changes\""), "{workbook}");
    // Compared again, NEW is already scored with OLD's model.
    let again = json(&returnscope(&["compare", "old.duckdb", "new.duckdb", "--json"], d));
    assert_eq!(again["new_segments"], "already_scored");
    assert_eq!(again["matrix"], c["matrix"]);
}

#[test]
fn bad_inputs_say_what_is_wrong_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    two_periods(d);
    ok(&returnscope(&["export", "model", "--db", "old.duckdb", "--out", "model.json"], d));
    let text = std::fs::read_to_string(d.join("model.json")).unwrap();
    // A model of another format version.
    std::fs::write(
        d.join("v9.json"),
        text.replacen("\"format_version\":1", "\"format_version\":9", 1),
    )
    .unwrap();
    let out = returnscope(
        &["score", "q2.csv", "--model", "v9.json", "--db", "x.duckdb", "--out", "x.csv"],
        d,
    );
    fails_with(&out, "format version 9");
    // A model whose features the extract cannot provide (order values need GROSS).
    let mut model: SegmentationModel = serde_json::from_str(&text).unwrap();
    let used = model.features.iter_mut().find(|f| f.used).unwrap();
    used.name = "avg_order_value".into();
    std::fs::write(d.join("gross.json"), serde_json::to_string(&model).unwrap()).unwrap();
    let out = returnscope(
        &["score", "q2.csv", "--model", "gross.json", "--db", "x.duckdb", "--out", "x.csv"],
        d,
    );
    fails_with(&out, "cannot provide: avg_order_value");
    // An analysis that is not clustered, as a model and as OLD.
    ok(&returnscope(&["run", "q2.csv", "--db", "plain.duckdb", "--until", "features"], d));
    let out = returnscope(&["score", "q1.csv", "--model", "plain.duckdb", "--db", "x.duckdb"], d);
    fails_with(&out, "is not segmented");
    let out = returnscope(&["compare", "plain.duckdb", "old.duckdb", "--out", "x.csv"], d);
    fails_with(&out, "is not segmented");
    // Two periods with no customer in common.
    let q2 = std::fs::read_to_string(d.join("q2.csv")).unwrap();
    std::fs::write(d.join("strangers.csv"), q2.replace('@', "@other.")).unwrap();
    ok(&returnscope(
        &["run", "strangers.csv", "--db", "strangers.duckdb", "--until", "features"],
        d,
    ));
    let out = returnscope(
        &["compare", "old.duckdb", "strangers.duckdb", "--out", "x.csv", "--report", "x.xlsx"],
        d,
    );
    fails_with(&out, "no customer in common");
    for name in ["x.duckdb", "x.csv", "x.xlsx"] {
        assert!(!d.join(name).exists(), "{name} was written");
    }
    let strangers = Analysis::open(&d.join("strangers.duckdb"), &Config::default()).unwrap();
    assert!(!strangers.store().table_exists("scored_results").unwrap(), "NEW was scored");
}
