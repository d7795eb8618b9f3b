//! The Excel report written from a real clustered analysis, read back and checked against DuckDB.

use crate::segments::clustered_sample;
use calamine::{Data, Reader, Xlsx, open_workbook};
use returnscope::pipeline::progress::Progress;
use returnscope::pipeline::share::Sharing;
use std::io::Read;

#[test]
fn report_matches_the_tables_and_has_native_charts() {
    let dir = tempfile::tempdir().unwrap();
    let (analysis, _) = clustered_sample(dir.path(), 1500, 5);
    let path = dir.path().join("clustering_results.xlsx");
    let written = analysis.write_report(&path, &Progress::none(), &Sharing::as_loaded()).unwrap();
    assert_eq!(written, path);

    let mut book: Xlsx<_> = open_workbook(&path).unwrap();
    let names = book.sheet_names();
    assert_eq!(
        names,
        [
            "Executive Summary",
            "Cluster Profiles",
            "Customer Assignments",
            "Feature Analysis",
            "Quality Metrics",
            "Data Quality",
            "Visualizations",
            "Technical Details"
        ]
    );

    // Every customer of silver appears once in Customer Assignments, with its DuckDB segment.
    let sheet = book.worksheet_range("Customer Assignments").unwrap();
    let rows: Vec<&[Data]> = sheet.rows().collect();
    let header =
        rows.iter().position(|r| r.iter().any(|c| *c == "Customer ID")).expect("a header row");
    let id_col = rows[header].iter().position(|c| *c == "Customer ID").unwrap();
    let seg_col = rows[header].iter().position(|c| *c == "Segment").unwrap();
    let customers: Vec<(String, String)> = rows[header + 1..]
        .iter()
        .filter(|r| !r[id_col].to_string().is_empty())
        .map(|r| (r[id_col].to_string(), r[seg_col].to_string()))
        .collect();
    let conn = analysis.store().conn();
    let silver: i64 =
        conn.query_row("SELECT count(*) FROM silver_customer_features", [], |r| r.get(0)).unwrap();
    assert_eq!(customers.len() as i64, silver);
    for (id, seg) in customers.iter().step_by(97) {
        let db: Option<i32> = conn
            .query_row(
                "SELECT r.segment FROM silver_customer_features s LEFT JOIN clustering_results r USING (customer_id) WHERE s.customer_id = ?",
                [id],
                |r| r.get(0),
            )
            .unwrap();
        let want = db.map_or("Not segmented".to_string(), |s| format!("Segment {s}"));
        assert_eq!(seg, &want, "customer {id}");
    }

    // Native charts: at least one chart part per charted sheet.
    let file = std::fs::File::open(&path).unwrap();
    let mut zip = zip::ZipArchive::new(file).unwrap();
    let charts = zip
        .file_names()
        .filter_map(|n| n.ok())
        .filter(|n| n.starts_with("xl/charts/chart"))
        .count();
    assert!(charts >= 5, "only {charts} charts");
    let mut workbook_xml = String::new();
    zip.by_name("xl/workbook.xml").unwrap().read_to_string(&mut workbook_xml).unwrap();
    assert!(workbook_xml.contains("Executive Summary"));
}
