//! Clustering on generated data with planted archetypes: the segments must recover them.

use returnscope::pipeline::progress::Progress;
use returnscope::pipeline::sample::{SampleOptions, write_sample};
use returnscope::pipeline::{Analysis, Config};
use std::collections::HashMap;

/// Run the whole pipeline on a planted sample; return (analysis, truth: customer -> archetype).
pub fn clustered_sample(
    dir: &std::path::Path,
    customers: usize,
    seed: u64,
) -> (Analysis, HashMap<String, String>) {
    let csv = dir.join("sample.csv");
    let summary = write_sample(&csv, &SampleOptions { customers, seed, clean: false }).unwrap();
    let truth = read_truth(&summary.truth_path);
    let mut config = Config::default();
    config.quality.min_customers = 500;
    let analysis = Analysis::open(&dir.join("a.duckdb"), &config).unwrap();
    let p = Progress::none();
    analysis.ingest(&csv, &config, &p).unwrap();
    analysis.validate(&config, &p).unwrap();
    analysis.features(&config, &p).unwrap();
    analysis.gold(&config, &p).unwrap();
    analysis.cluster(&config, &p, false).unwrap();
    (analysis, truth)
}

fn read_truth(path: &std::path::Path) -> HashMap<String, String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(','))
        .map(|(c, a)| (c.trim().to_lowercase(), a.trim().to_string()))
        .collect()
}

#[test]
fn planted_archetypes_land_in_segments_with_their_name() {
    let dir = tempfile::tempdir().unwrap();
    let (analysis, truth) = clustered_sample(dir.path(), 4000, 11);
    let outcome = analysis.cluster_outcome().unwrap().unwrap();
    assert!(outcome.noise_ratio <= 0.15, "noise {:.3} > 15%", outcome.noise_ratio);
    let mut stmt = analysis
        .store()
        .conn()
        .prepare("SELECT customer_id, archetype FROM clustering_results")
        .unwrap();
    let assigned: HashMap<String, String> = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    let mut per_archetype: HashMap<&str, (usize, usize)> = HashMap::new();
    for (customer, planted) in &truth {
        let Some(got) = assigned.get(customer) else { continue }; // not eligible
        let entry = per_archetype.entry(planted.as_str()).or_default();
        entry.1 += 1;
        if got.starts_with(planted.as_str()) {
            entry.0 += 1;
        }
    }
    let mut report = String::new();
    for (archetype, (hit, n)) in &per_archetype {
        report.push_str(&format!(
            "{archetype}: {hit}/{n} ({:.0}%)\n",
            100.0 * *hit as f64 / *n as f64
        ));
    }
    for (archetype, (hit, n)) in &per_archetype {
        assert!(
            *hit as f64 >= 0.8 * *n as f64,
            "{archetype} recovered below 80%:\n{report}\nsegments: {:#?}",
            outcome.segments
        );
    }
}

#[test]
fn same_input_and_config_give_identical_results() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let (x, _) = clustered_sample(a.path(), 1500, 3);
    let (y, _) = clustered_sample(b.path(), 1500, 3);
    let dump = |an: &Analysis, sql: &str| -> Vec<String> {
        let mut stmt = an.store().conn().prepare(sql).unwrap();
        stmt.query_map([], |r| r.get::<_, String>(0)).unwrap().map(|r| r.unwrap()).collect()
    };
    for table in ["clustering_results", "cluster_summary"] {
        let sql = format!("SELECT CAST(t AS VARCHAR) FROM (SELECT * FROM {table}) t ORDER BY 1");
        let (a, b) = (dump(&x, &sql), dump(&y, &sql));
        assert_eq!(a.len(), b.len(), "{table}: row counts differ");
        if let Some((l, r)) = a.iter().zip(&b).find(|(l, r)| l != r) {
            panic!("{table} differs between runs:\n{l}\n{r}");
        }
    }
}

#[test]
fn another_k_resegments_and_keeps_the_views() {
    let dir = tempfile::tempdir().unwrap();
    let (analysis, _) = clustered_sample(dir.path(), 1500, 8);
    let config = Config::default();
    let first = analysis.cluster(&config, &Progress::none(), false).unwrap();
    let k = first.outcome.chosen_k + 1;
    let again = analysis.recluster(&config, &first, k, &Progress::none()).unwrap();
    assert_eq!(again.outcome.chosen_k, k);
    assert_eq!(again.pca, first.pca, "the 2-D views do not depend on K");
    let segments: i64 = analysis
        .store()
        .conn()
        .query_row("SELECT count(DISTINCT segment) FROM clustering_results", [], |r| r.get(0))
        .unwrap();
    assert_eq!(segments as usize, k, "the stored results follow the new K");
}

#[test]
fn every_name_is_explained_in_business_words_and_the_outliers_by_kind() {
    let dir = tempfile::tempdir().unwrap();
    let (analysis, _) = clustered_sample(dir.path(), 1500, 5);
    let outcome = analysis.cluster_outcome().unwrap().unwrap();
    use returnscope::pipeline::features::{NUMERIC_FEATURES, ORDER_VALUE_FEATURES};
    let column_names: Vec<&str> =
        NUMERIC_FEATURES.iter().chain(&ORDER_VALUE_FEATURES).copied().collect();
    for s in &outcome.segments {
        for text in std::iter::once(&s.description).chain(&s.reasons) {
            assert!(
                !column_names.iter().any(|c| text.contains(c)) && !text.contains('_'),
                "{}: a column name in {text:?}",
                s.archetype
            );
        }
        let descriptive =
            s.archetype.starts_with("Customers: ") || s.archetype == "Regular Customers";
        if s.segment.is_some() && !descriptive {
            assert!(!s.reasons.is_empty(), "{} carries a name without its reasons", s.archetype);
        }
    }
    let outliers = outcome.segments.iter().find(|s| s.segment.is_none()).expect("an Outliers row");
    let by_kind: usize = outliers.outlier_groups.iter().map(|g| g.customers).sum();
    assert_eq!(by_kind, outliers.size, "every outlier has a kind");
    let named: Vec<_> =
        outliers.outlier_groups.iter().filter(|g| g.kind != "Unusual mix").collect();
    assert!(named.windows(2).all(|w| w[0].customers >= w[1].customers), "largest kinds first");
    let shares: f64 = outcome.segments.iter().map(|s| s.returned_units_share).sum();
    assert!((shares - 1.0).abs() < 1e-9, "returned units shares sum to {shares}");
    let orders: f64 = outcome.segments.iter().map(|s| s.order_share).sum();
    assert!((orders - 1.0).abs() < 1e-9, "order shares sum to {orders}");
}
