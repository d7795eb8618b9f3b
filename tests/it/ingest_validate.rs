//! Load and validate: header matching, dialects, encodings, ragged rows and the errors a user
//! can cause, each with a message that names the problem.

use crate::common::*;
use returnscope::pipeline::progress::Progress;
use returnscope::pipeline::{Analysis, PipelineError};
use std::process::Command;

const ROW1: &str = "O1,a@x.com,2024-01-01 10:00:00,S1,1,0,No,,,,1,1,C1,BR";
const ROW2: &str = "O2,a@x.com,2024-01-05 10:00:00,S2,2,1,Yes,2024-01-09 10:00:00,R,,1,1,C1,BR";

fn load(
    dir: &std::path::Path,
    name: &str,
    bytes: &[u8],
) -> Result<(Analysis, u64, u64), PipelineError> {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    let config = small_config(None);
    let analysis = Analysis::open(&dir.join(format!("{name}.duckdb")), &config)?;
    let summary = analysis.ingest(&path, &config, &Progress::none())?;
    let q = analysis.validate(&config, &Progress::none())?;
    assert_eq!(q.rows_loaded, summary.rows_loaded);
    Ok((analysis, summary.rows_loaded, q.clean_lines))
}

#[test]
fn every_delimiter_is_sniffed() {
    let dir = tempfile::tempdir().unwrap();
    for (name, delim) in [("comma", ','), ("semicolon", ';'), ("tab", '\t'), ("pipe", '|')] {
        let text = format!("{HEADER}\n{ROW1}\n{ROW2}\n").replace(',', &delim.to_string());
        let (_, rows, clean) = load(dir.path(), &format!("{name}.csv"), text.as_bytes()).unwrap();
        assert_eq!((rows, clean), (2, 2), "{name}");
        let preview = Analysis::preview_csv(&dir.path().join(format!("{name}.csv")), 5).unwrap();
        assert_eq!(preview.delimiter, delim, "{name}");
    }
}

#[test]
fn header_variants_bom_and_crlf() {
    let dir = tempfile::tempdir().unwrap();
    // Lower case, surrounding spaces, a UTF-8 BOM, CRLF line ends and an extra column.
    let header =
        HEADER.split(',').map(|h| format!(" {} ", h.to_lowercase())).collect::<Vec<_>>().join(",");
    let text = format!("\u{feff}{header},Extra Col\r\n{ROW1},e1\r\n{ROW2},e2\r\n");
    let (a, rows, clean) = load(dir.path(), "variants.csv", text.as_bytes()).unwrap();
    assert_eq!((rows, clean), (2, 2));
    // Extra columns are kept in bronze as loaded.
    assert_eq!(
        scalar(&a, "SELECT count(*) FROM bronze_return_order_data WHERE \"Extra Col\" = 'e2'"),
        1
    );
    assert_eq!(
        scalar(&a, "SELECT count(*) FROM bronze_return_order_data WHERE customer_id = 'a@x.com'"),
        2
    );
}

#[test]
fn quoted_newline_and_latin1_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "{HEADER}\n{ROW1}\nO2,a@x.com,2024-01-05 10:00:00,S2,1,1,Yes,2024-01-09,R,\"too\nsmall\",1,1,C1,BR\n"
    );
    let (a, rows, _) = load(dir.path(), "newline.csv", text.as_bytes()).unwrap();
    assert_eq!(rows, 2);
    assert_eq!(
        scalar(
            &a,
            "SELECT count(*) FROM bronze_return_order_data WHERE \"RETURN_COMMENT\" = 'too' || chr(10) || 'small'"
        ),
        1
    );
    // "Café" in Latin-1: byte 0xE9 is not UTF-8.
    let mut bytes = format!("{HEADER}\n{ROW1}\n").into_bytes();
    bytes.extend_from_slice(b"O2,a@x.com,2024-01-05 10:00:00,S2,1,0,No,,,Caf\xe9,1,1,C1,BR\n");
    let (a, rows, clean) = load(dir.path(), "latin1.csv", &bytes).unwrap();
    assert_eq!((rows, clean), (2, 2));
    assert_eq!(
        scalar(
            &a,
            "SELECT count(*) FROM bronze_return_order_data WHERE \"RETURN_COMMENT\" = 'Café'"
        ),
        1
    );
    assert_eq!(a.ingest_summary().unwrap().unwrap().encoding, "latin-1");
}

#[test]
fn ragged_rows_go_to_the_rejects_table_with_line_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!("{HEADER}\n{ROW1}\nO9,short@x.com,2024-01-01\n{ROW2},too,many\n{ROW2}\n");
    let (a, rows, _) = load(dir.path(), "ragged.csv", text.as_bytes()).unwrap();
    assert_eq!(rows, 2);
    let q = a.quality_report().unwrap().unwrap();
    assert_eq!(q.count("malformed_rows"), 2);
    // Lines 3 and 4 of the file (the header is line 1).
    assert_eq!(scalar(&a, "SELECT min(line_number) FROM bronze_rejects_malformed"), 3);
    assert_eq!(scalar(&a, "SELECT max(line_number) FROM bronze_rejects_malformed"), 4);
}

#[test]
fn row_ids_follow_the_file_and_the_later_copy_is_the_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!("{HEADER}\n{ROW1}\nO9,short@x.com,2024-01-01\n{ROW2}\n{ROW1}\n");
    let path = write(dir.path(), "ids.csv", &text);
    let config = small_config(None);
    let a = Analysis::open(&dir.path().join("ids.duckdb"), &config).unwrap();
    a.ingest(&path, &config, &Progress::none()).unwrap();
    // Loaded, not yet validated: row ids number the loaded rows in file order.
    let ids = "SELECT string_agg(row_id::VARCHAR || ':' || \"SALES_ORDER_NO\", ',' ORDER BY row_id) FROM bronze_return_order_data";
    let text_of = |a: &Analysis, sql: &str| -> String {
        a.store().conn().query_row(sql, [], |r| r.get(0)).unwrap()
    };
    assert_eq!(text_of(&a, ids), "1:O1,2:O2,3:O1");
    a.validate(&config, &Progress::none()).unwrap();
    assert_eq!(text_of(&a, ids), "1:O1,2:O2,3:O1");
    assert_eq!(
        text_of(
            &a,
            "SELECT string_agg(row_id::VARCHAR, ',' ORDER BY row_id) FROM bronze_return_order_data WHERE is_duplicate"
        ),
        "3"
    );
    // Validating again (another as_of) gives the same rows and flags.
    let later = small_config(Some("2024-01-02"));
    a.validate(&later, &Progress::none()).unwrap();
    assert_eq!(scalar(&a, "SELECT count(*) FROM bronze_return_order_data WHERE in_scope"), 1);
    assert_eq!(scalar(&a, "SELECT count(*) FROM bronze_return_order_data WHERE is_duplicate"), 1);
}

#[test]
fn a_file_with_the_old_single_bronze_table_is_validated_again_without_reloading() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!("{HEADER},Extra Col\n{ROW1},e1\n{ROW2},e2\n{ROW1},e1\n");
    let path = write(dir.path(), "old.csv", &text);
    let config = small_config(None);
    let a = Analysis::open(&dir.path().join("old.duckdb"), &config).unwrap();
    a.ingest(&path, &config, &Progress::none()).unwrap();
    let before = a.validate(&config, &Progress::none()).unwrap();
    // The layout of earlier versions: one table with the raw and the derived columns.
    a.store()
        .conn()
        .execute_batch(
            "CREATE TABLE old_bronze AS SELECT * FROM bronze_return_order_data;
             DROP VIEW bronze_return_order_data; DROP TABLE bronze_quality; DROP TABLE bronze_rows;
             ALTER TABLE old_bronze RENAME TO bronze_return_order_data;",
        )
        .unwrap();
    let Err(err) = a.features(&config, &Progress::none()) else {
        panic!("features need validation first")
    };
    assert!(err.to_string().contains("validate"), "{err}");
    let after = a.validate(&config, &Progress::none()).unwrap();
    assert_eq!(format!("{:?}", after.counts), format!("{:?}", before.counts));
    assert_eq!(
        scalar(
            &a,
            "SELECT count(*) FROM bronze_return_order_data WHERE \"Extra Col\" = 'e1' AND is_duplicate AND row_id = 3"
        ),
        1
    );
    a.features(&config, &Progress::none()).unwrap();
}

#[test]
fn empty_file_header_only_and_missing_column() {
    let dir = tempfile::tempdir().unwrap();
    let err = load(dir.path(), "empty.csv", b"").err().expect("empty file must fail");
    assert!(err.to_string().contains("empty"), "{err}");

    let (_, rows, _) =
        load(dir.path(), "header_only.csv", format!("{HEADER}\n").as_bytes()).unwrap();
    assert_eq!(rows, 0);

    let header = HEADER.replace("RETURN_QTY,", "");
    let row = ROW1.replacen(",0,No", ",No", 1);
    let err = load(dir.path(), "missing.csv", format!("{header}\n{row}\n").as_bytes())
        .err()
        .expect("must fail");
    assert!(err.to_string().contains("RETURN_QTY"), "the message names the column: {err}");
}

#[test]
fn unreadable_path_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let config = small_config(None);
    let a = Analysis::open(&dir.path().join("x.duckdb"), &config).unwrap();
    let err = a.ingest(&dir.path().join("nope.csv"), &config, &Progress::none()).unwrap_err();
    assert!(matches!(err, PipelineError::InputUnreadable { .. }), "{err}");
    assert!(err.to_string().contains("nope.csv"));
}

#[test]
fn timestamps_and_numbers_follow_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let rows = [
        // Accepted order dates.
        "T1,t@x.com,2024-01-02 03:04:05.123456789,S,1,0,No,,,,1,1,C,B",
        "T2,t@x.com,2024-01-02T03:04:05,S,1e0,0,No,,,,1,1,C,B",
        "T3,t@x.com,1/2/2024 3:04,S,1.5,0,No,,,,1,1,C,B",
        "T4,t@x.com,01/02/2024 03:04:05,S,+2,0,No,,,,1,1,C,B",
        "T5,t@x.com,2024-01-02,S,.5,0,No,,,,1,1,C,B",
        // Rejected: impossible date, unsupported form, hour 24, NaN, inf, zero, negative.
        "U1,t@x.com,2023-02-29,S,1,0,No,,,,1,1,C,B",
        "U2,t@x.com,2024/01/02,S,1,0,No,,,,1,1,C,B",
        "U3,t@x.com,2024-01-02 24:00:00,S,1,0,No,,,,1,1,C,B",
        "U4,t@x.com,2024-01-02,S,NaN,0,No,,,,1,1,C,B",
        "U5,t@x.com,2024-01-02,S,inf,0,No,,,,1,1,C,B",
        "U6,t@x.com,2024-01-02,S,0,0,No,,,,1,1,C,B",
        "U7,t@x.com,2024-01-02,S,-1,0,No,,,,1,1,C,B",
    ];
    let text = format!("{HEADER}\n{}\n", rows.join("\n"));
    let (a, rows, clean) = load(dir.path(), "forms.csv", text.as_bytes()).unwrap();
    assert_eq!((rows, clean), (12, 5));
    let q = a.quality_report().unwrap().unwrap();
    assert_eq!(q.count("rejected_bad_order_date"), 3);
    assert_eq!(q.count("rejected_bad_sales_qty"), 4);
    let t: String = a
        .store()
        .conn()
        .query_row(
            "SELECT CAST(order_ts AS VARCHAR) FROM bronze_return_order_data WHERE order_no = 'T3'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(t, "2024-01-02 03:04:00");
    let frac: String = a
        .store()
        .conn()
        .query_row(
            "SELECT CAST(order_ts AS VARCHAR) FROM bronze_return_order_data WHERE order_no = 'T1'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    // Timestamps keep microseconds: the 7th..9th fraction digits are dropped.
    assert_eq!(frac, "2024-01-02 03:04:05.123456");
}

#[test]
fn a_database_locked_by_another_process_gives_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(dir.path(), "in.csv", &format!("{HEADER}\n{ROW1}\n{ROW2}\n"));
    let db = dir.path().join("locked.duckdb");
    let _holder = Analysis::open(&db, &small_config(None)).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_returnscope"))
        .args(["run", csv.to_str().unwrap(), "--db", db.to_str().unwrap(), "--until", "ingest"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("in use by another"), "{stderr}");
}

#[test]
fn rerunning_a_stage_replaces_its_layer() {
    let dir = tempfile::tempdir().unwrap();
    let config = small_config(None);
    let csv = write(dir.path(), "in.csv", &format!("{HEADER}\n{ROW1}\n{ROW2}\n"));
    let a = Analysis::open(&dir.path().join("r.duckdb"), &config).unwrap();
    for _ in 0..2 {
        a.ingest(&csv, &config, &Progress::none()).unwrap();
        a.validate(&config, &Progress::none()).unwrap();
        a.features(&config, &Progress::none()).unwrap();
    }
    assert_eq!(scalar(&a, "SELECT count(*) FROM bronze_return_order_data"), 2);
    assert_eq!(scalar(&a, "SELECT count(*) FROM silver_customer_features"), 1);
    // Re-loading makes later layers stale.
    a.ingest(&csv, &config, &Progress::none()).unwrap();
    assert_eq!(a.completed_stage().unwrap(), Some(returnscope::pipeline::Stage::Ingest));
}
