//! Round-trip tests: write a report, read it back with calamine and the zip container.

use std::io::Read;
use std::path::Path;
use std::sync::{Arc, Mutex};

use calamine::{Data, Range, Reader, Xlsx, open_workbook};

use super::*;
use crate::pipeline::progress::CancelToken;

fn read_sheet(path: &Path, name: &str) -> Range<Data> {
    let mut workbook: Xlsx<_> = open_workbook(path).unwrap();
    workbook.worksheet_range(name).unwrap()
}

fn text(range: &Range<Data>, row: u32, col: u32) -> String {
    match range.get_value((row, col)) {
        Some(Data::String(s)) => s.clone(),
        Some(Data::Empty) | None => String::new(),
        Some(other) => panic!("({row}, {col}) is not text: {other:?}"),
    }
}

fn number(range: &Range<Data>, row: u32, col: u32) -> Option<f64> {
    match range.get_value((row, col)) {
        Some(Data::Float(v)) => Some(*v),
        Some(Data::Int(v)) => Some(*v as f64),
        Some(Data::Empty) | None => None,
        Some(other) => panic!("({row}, {col}) is not a number: {other:?}"),
    }
}

fn assert_same(actual: Option<f64>, expected: Option<f64>, what: &str) {
    match (actual, expected.filter(|v| v.is_finite())) {
        (Some(a), Some(e)) => {
            assert!((a - e).abs() <= 1e-12 * e.abs().max(1.0), "{what}: {a} != {e}")
        }
        (None, None) => {}
        (a, e) => panic!("{what}: {a:?} != {e:?}"),
    }
}

fn zip_entries(path: &Path) -> Vec<String> {
    let archive = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    archive.file_names().map(|name| name.unwrap().to_string()).collect()
}

fn zip_text(path: &Path, entry: &str) -> String {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut out = String::new();
    archive.by_name(entry).unwrap().read_to_string(&mut out).unwrap();
    out
}

fn write_example(dir: &Path, n: usize, k: usize) -> (ReportData, ReportOutcome) {
    let data = ReportData::example(n, k);
    let path = dir.join("report.xlsx");
    let outcome = write_report(&data, &path, &Progress::none()).unwrap();
    (data, outcome)
}

#[test]
fn sheets_are_named_and_ordered() {
    let dir = tempfile::tempdir().unwrap();
    let (_, outcome) = write_example(dir.path(), 400, 4);
    let workbook: Xlsx<_> = open_workbook(&outcome.path).unwrap();
    assert_eq!(workbook.sheet_names(), SHEET_NAMES.to_vec());
    assert_eq!(outcome.sheets, SHEET_NAMES.to_vec());
    assert_eq!(outcome.all_customers_csv, None);
    assert!(!dir.path().join(".report.xlsx.partial").exists());
}

#[test]
fn customer_assignments_hold_every_customer() {
    let dir = tempfile::tempdir().unwrap();
    let (data, outcome) = write_example(dir.path(), 600, 5);
    let sheet = read_sheet(&outcome.path, "Customer Assignments");
    assert_eq!(text(&sheet, 3, 0), "Customer ID");
    assert_eq!(text(&sheet, 3, 6), data.key_feature_names[0]);
    for (i, c) in data.customers.iter().enumerate() {
        let row = 4 + i as u32;
        assert_eq!(text(&sheet, row, 0), c.customer_id);
        assert_eq!(text(&sheet, row, 1), c.segment_label());
        assert_eq!(text(&sheet, row, 2), c.archetype);
        assert_eq!(text(&sheet, row, 3), c.micro_segment);
        assert_eq!(text(&sheet, row, 4), if c.is_outlier { "Yes" } else { "No" });
        assert_same(number(&sheet, row, 5), c.distance_to_centroid, "distance");
        for (j, v) in c.key_features.iter().enumerate() {
            assert_same(number(&sheet, row, 6 + j as u32), *v, &data.key_feature_names[j]);
        }
    }
    // Nothing below the last customer.
    assert_eq!(sheet.end().map(|(r, _)| r), Some(3 + data.customers.len() as u32));
    // An Excel table (autofilter) covers header and customers, and the header is frozen.
    let table = zip_text(&outcome.path, "xl/tables/table1.xml");
    let last_col = (b'A' + 5 + data.key_feature_names.len() as u8) as char;
    assert!(table.contains(&format!("ref=\"A4:{last_col}604\"")), "{table}");
    assert!(table.contains("<autoFilter"));
    let sheet_xml = zip_text(&outcome.path, "xl/worksheets/sheet3.xml");
    assert!(sheet_xml.contains("state=\"frozen\""));
}

#[test]
fn cluster_profiles_match_the_segments() {
    let dir = tempfile::tempdir().unwrap();
    let (data, outcome) = write_example(dir.path(), 800, 6);
    let sheet = read_sheet(&outcome.path, "Cluster Profiles");
    assert_eq!(data.segments.len(), 8, "6 segments + Outliers + Not segmented");
    for (i, s) in data.segments.iter().enumerate() {
        let row = 4 + i as u32;
        assert_eq!(text(&sheet, row, 0), s.label);
        assert_same(number(&sheet, row, 1), Some(s.size as f64), "size");
        assert_same(number(&sheet, row, 2), Some(s.share), "share");
        assert_same(number(&sheet, row, 3), Some(s.order_share), "orders");
        assert_same(number(&sheet, row, 4), Some(s.returned_units_share), "returned");
        assert_eq!(text(&sheet, row, 5), s.archetype);
        assert_eq!(text(&sheet, row, 6), s.description);
        assert_eq!(text(&sheet, row, 7), s.action);
        assert_same(number(&sheet, row, 8), s.silhouette, "silhouette");
        assert_same(number(&sheet, row, 9), Some(s.micro_segments as f64), "micro");
        for (j, m) in s.key_feature_medians.iter().enumerate() {
            assert_same(number(&sheet, row, 10 + j as u32), Some(*m), "median");
        }
    }
    // Headers in business words, no column names.
    for j in 0..data.key_feature_names.len() as u32 {
        let header = text(&sheet, 3, 10 + j);
        assert!(!header.contains('_') && !header.is_empty(), "{header}");
    }
    assert_eq!(text(&sheet, 3, 10), "Share of order lines returned");
    // Below: each segment median's percentile among the clustered customers, by hand for one.
    let block = 4 + data.segments.len() as u32 + 4;
    assert_eq!(text(&sheet, block, 9), "Segment 1");
    let population = population_sorted(&data);
    let expected = percentile_rank(&population[0], data.segments[0].key_feature_medians[0]);
    assert_same(number(&sheet, block, 10), expected, "percentile");
    assert!(expected.is_some_and(|p| p > 50.0), "High Returners return more lines than most");
    assert_eq!(text(&sheet, 10, 0), "Outliers");
    assert_eq!(text(&sheet, 11, 0), "Not segmented");
    // One 3-colour scale per key feature column.
    let xml = zip_text(&outcome.path, "xl/worksheets/sheet2.xml");
    assert_eq!(xml.matches("<colorScale>").count(), data.key_feature_names.len());
}

#[test]
fn every_charted_sheet_has_native_charts() {
    let dir = tempfile::tempdir().unwrap();
    let (_, outcome) = write_example(dir.path(), 1_000, 5);
    let entries = zip_entries(&outcome.path);
    let charts = entries.iter().filter(|e| e.starts_with("xl/charts/chart") && e.ends_with(".xml"));
    // Summary 1, Profiles 1, Features 1, Quality Metrics 5, Visualizations 2.
    assert_eq!(charts.count(), 10);
    for sheet in [1, 2, 4, 5, 7] {
        let rels = zip_text(&outcome.path, &format!("xl/worksheets/_rels/sheet{sheet}.xml.rels"));
        assert!(rels.contains("drawing"), "sheet {sheet} has no drawing");
    }
    // The segment colours of the palette reach the scatter chart.
    let all_charts: String =
        (1..=10).map(|i| zip_text(&outcome.path, &format!("xl/charts/chart{i}.xml"))).collect();
    for n in 1..=5 {
        let hex = crate::palette::hex(crate::palette::segment_rgb(n));
        assert!(all_charts.contains(&format!("val=\"{}\"", &hex[1..])), "{hex} missing");
    }
}

/// The CSV beside the workbook holds every customer, in the report's order, with the sheet's
/// columns.
fn assert_csv_holds_everyone(csv_path: &Path, data: &ReportData) {
    let csv = std::fs::read_to_string(csv_path).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 1 + data.customers.len(), "header + every customer");
    assert!(lines[0].starts_with("Customer ID,Segment,Archetype,Micro-segment,Outlier,"));
    for (line, customer) in lines[1..].iter().zip(&data.customers) {
        let fields: Vec<&str> = line.split(',').collect();
        assert_eq!(fields[0], customer.customer_id);
        assert_eq!(fields[1], customer.segment_label());
        let first_feature = customer.key_features[0].map_or(String::new(), |v| v.to_string());
        assert_eq!(fields[6], first_feature);
    }
}

#[test]
fn customers_above_the_cap_are_spread_on_the_sheet_and_all_in_the_csv() {
    let dir = tempfile::tempdir().unwrap();
    let data = ReportData::example(20, 3);
    let path = dir.path().join("big.xlsx");
    // Cap 6 of 20: the sheet lists customers 20 i / 6 = 0, 3, 6, 10, 13, 16 (rows 4..=9).
    let outcome =
        write_report_with_limits(&data, &path, &Progress::none(), EXCEL_MAX_ROWS, 6).unwrap();
    let csv_path = dir.path().join("big_customers.csv");
    assert_eq!(outcome.all_customers_csv.as_deref(), Some(csv_path.as_path()));

    let sheet = read_sheet(&path, "Customer Assignments");
    for (row, index) in (4..).zip([0, 3, 6, 10, 13, 16]) {
        assert_eq!(text(&sheet, row, 0), data.customers[index].customer_id, "row {row}");
        assert_eq!(text(&sheet, row, 1), data.customers[index].segment_label(), "row {row}");
    }
    assert_eq!(sheet.end().map(|(r, _)| r), Some(9));
    let notice = text(&sheet, 2, 0);
    assert!(
        notice.contains("lists 6 of the 20 customers")
            && notice.contains("Every customer is in the file big_customers.csv"),
        "{notice}"
    );
    assert_csv_holds_everyone(&csv_path, &data);
}

#[test]
fn customers_beyond_the_row_limit_are_all_in_the_csv() {
    let dir = tempfile::tempdir().unwrap();
    let data = ReportData::example(20, 3);
    let path = dir.path().join("big.xlsx");
    // Limit 10 rows: title, subtitle, notice, header, then 6 customers (rows 4..=9).
    let outcome =
        write_report_with_limits(&data, &path, &Progress::none(), 10, CUSTOMER_SHEET_MAX).unwrap();
    let csv_path = dir.path().join("big_customers.csv");
    assert_eq!(outcome.all_customers_csv.as_deref(), Some(csv_path.as_path()));
    let sheet = read_sheet(&path, "Customer Assignments");
    assert_eq!(sheet.end().map(|(r, _)| r), Some(9));
    assert_eq!(text(&sheet, 9, 0), data.customers[16].customer_id);
    assert!(text(&sheet, 2, 0).contains("lists 6 of the 20 customers"));
    assert_csv_holds_everyone(&csv_path, &data);
}

#[test]
fn customers_at_the_cap_are_all_on_the_sheet_and_no_csv_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let data = ReportData::example(20, 3);
    let path = dir.path().join("exact.xlsx");
    let outcome =
        write_report_with_limits(&data, &path, &Progress::none(), EXCEL_MAX_ROWS, 20).unwrap();
    assert_eq!(outcome.all_customers_csv, None);
    assert!(!dir.path().join("exact_customers.csv").exists());
    let sheet = read_sheet(&path, "Customer Assignments");
    assert_eq!(text(&sheet, 2, 0), "");
    assert_eq!(text(&sheet, 23, 0), data.customers[19].customer_id);
}

#[test]
fn degenerate_reports_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let empty = ReportData::default();
    let path = dir.path().join("empty.xlsx");
    let outcome = write_report(&empty, &path, &Progress::none()).unwrap();
    let workbook: Xlsx<_> = open_workbook(&outcome.path).unwrap();
    assert_eq!(workbook.sheet_names().len(), 8);
    let one = ReportData::example(1, 1);
    write_report(&one, &dir.path().join("one.xlsx"), &Progress::none()).unwrap();
}

#[test]
fn progress_is_reported_per_sheet_and_cancel_stops_without_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = ReportData::example(100, 3);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    let progress = Progress::new(move |u| sink.lock().unwrap().push(u), CancelToken::new());
    write_report(&data, &dir.path().join("r.xlsx"), &progress).unwrap();
    let updates = seen.lock().unwrap().clone();
    for name in SHEET_NAMES {
        assert!(updates.iter().any(|u| u.message.contains(name)), "no update for {name}");
    }
    assert!(updates.windows(2).all(|w| w[0].fraction <= w[1].fraction));
    assert_eq!(updates.last().map(|u| u.fraction), Some(1.0));

    let token = CancelToken::new();
    token.cancel();
    let cancelled = Progress::new(|_| {}, token);
    let path = dir.path().join("cancelled.xlsx");
    assert!(matches!(write_report(&data, &path, &cancelled), Err(ReportError::Cancelled)));
    assert!(!path.exists());
}

#[test]
fn an_unwritable_path_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no such folder").join("r.xlsx");
    let err = write_report(&ReportData::example(10, 2), &path, &Progress::none()).unwrap_err();
    assert!(matches!(err, ReportError::Xlsx { .. }), "{err}");
    assert!(err.to_string().contains("r.xlsx"));
}

/// `cargo test --lib pipeline::report::tests::benchmark_100k -- --ignored --nocapture`
#[test]
#[ignore]
fn benchmark_100k() {
    let dir = tempfile::tempdir().unwrap();
    let data = ReportData::example(100_000, 8);
    let path = dir.path().join("bench.xlsx");
    let start = std::time::Instant::now();
    write_report(&data, &path, &Progress::none()).unwrap();
    let seconds = start.elapsed().as_secs_f64();
    let size = std::fs::metadata(&path).unwrap().len();
    // A measurement, not a test of speed (targets live in the bench binary): target < 5 s.
    println!("100,000 customers: {seconds:.2} s (target < 5 s), {:.1} MB", size as f64 / 1e6);
}

/// Writes an example report for looking at: `REPORT_EXAMPLE=/tmp/x.xlsx cargo test --lib
/// pipeline::report::tests::write_example_for_review -- --ignored` (`REPORT_N` customers,
/// `REPORT_K` segments, at most `REPORT_CAP` of them on Customer Assignments).
#[test]
#[ignore]
fn write_example_for_review() {
    let path =
        std::env::var("REPORT_EXAMPLE").unwrap_or_else(|_| "/tmp/report_example.xlsx".into());
    let n = std::env::var("REPORT_N").ok().and_then(|s| s.parse().ok()).unwrap_or(5_000);
    let k = std::env::var("REPORT_K").ok().and_then(|s| s.parse().ok()).unwrap_or(6);
    let cap = std::env::var("REPORT_CAP").ok().and_then(|s| s.parse().ok());
    let data = ReportData::example(n, k);
    let cap = cap.unwrap_or(CUSTOMER_SHEET_MAX);
    write_report_with_limits(&data, Path::new(&path), &Progress::none(), EXCEL_MAX_ROWS, cap)
        .unwrap();
}

#[test]
fn the_timings_total_counts_the_clustering_phases_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut data = ReportData::example(50, 3);
    data.timings = vec![
        ("ingest".into(), 10.0),
        ("features".into(), 5.0),
        ("dbscan".into(), 3.0),
        ("kmeans_sweep".into(), 2.0),
        ("cluster_stage_total".into(), 6.0),
    ];
    let path = dir.path().join("t.xlsx");
    write_report(&data, &path, &Progress::none()).unwrap();
    let sheet = read_sheet(&path, "Technical Details");
    let (row, col) = sheet
        .cells()
        .find(|(_, _, v)| matches!(v, Data::String(s) if s == "Total"))
        .map(|(r, c, _)| (r as u32, c as u32))
        .expect("a Total row");
    let (start_row, start_col) = sheet.start().unwrap();
    let total = number(&sheet, row + start_row, col + start_col + 1);
    assert_eq!(total, Some(21.0), "ingest + features + the cluster stage, phases inside it");
    let phase =
        sheet.cells().any(|(_, _, v)| matches!(v, Data::String(s) if s == "  dbscan (in cluster)"));
    assert!(phase, "phases are marked as part of the cluster stage");
}

/// `GOLD_DB=analysis.duckdb cargo test --lib pipeline::report::tests::bench_report -- --ignored
/// --nocapture`: the report of a stored analysis, reading its data and writing the workbook
/// timed apart (wall and process CPU seconds).
#[test]
#[ignore = "benchmark"]
fn bench_report() {
    use crate::pipeline::memory::process_cpu_seconds;
    let Some(store) = crate::pipeline::store::bench_analysis() else { return };
    let dir = tempfile::tempdir().unwrap();
    for run in 1..=3 {
        let (t, cpu) = (std::time::Instant::now(), process_cpu_seconds());
        let data = from_store::report_data(&store).unwrap();
        let (read_s, read_cpu) = (t.elapsed().as_secs_f64(), process_cpu_seconds() - cpu);
        let (t, cpu) = (std::time::Instant::now(), process_cpu_seconds());
        let out = dir.path().join(format!("report{run}.xlsx"));
        write_report(&data, &out, &Progress::none()).unwrap();
        println!(
            "run {run}: reading {read_s:.2} s ({read_cpu:.2} CPU), writing {:.2} s ({:.2} CPU), \
             {} bytes",
            t.elapsed().as_secs_f64(),
            process_cpu_seconds() - cpu,
            std::fs::metadata(&out).unwrap().len()
        );
    }
}
