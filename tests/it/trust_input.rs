//! Real extracts (issue 16): a `rowid` column, literal paths, extra trailing fields, gzip and zstd
//! extracts, a file with another delimiter, and errors that never show DuckDB's raw text.

use crate::cli::returnscope;
use crate::common::*;
use returnscope::pipeline::progress::Progress;
use returnscope::pipeline::share::Sharing;
use returnscope::pipeline::{Analysis, PipelineError};
use std::path::Path;

const ROW1: &str = "O1,a@x.com,2024-01-01 10:00:00,S1,1,0,No,,,,1,1,C1,BR";
const ROW2: &str = "O2,a@x.com,2024-01-05 10:00:00,S2,2,1,Yes,2024-01-09 10:00:00,R,,1,1,C1,BR";
const ROW3: &str = "O3,b@x.com,2024-01-07 10:00:00,S3,1,0,No,,,Café Zürich 東京,1,1,C2,BR";

/// Load and validate `path` into a fresh analysis beside it: (rows loaded, malformed, clean).
fn load(path: &Path) -> Result<(Analysis, u64, u64, u64), PipelineError> {
    let config = small_config(None);
    let db = path.with_file_name(format!("{}.duckdb", path.file_name().unwrap().to_string_lossy()));
    let analysis = Analysis::open(&db, &config)?;
    let summary = analysis.ingest(path, &config, &Progress::none())?;
    let q = analysis.validate(&config, &Progress::none())?;
    Ok((analysis, summary.rows_loaded, summary.malformed_rows, q.clean_lines))
}

/// Words of DuckDB's own error texts that must never reach a user.
fn assert_no_raw_duckdb_text(message: &str) {
    for raw in ["Binder Error", "IO Error", "Invalid Input Error", "Catalog Error", "Parser Error"]
    {
        assert!(!message.contains(raw), "raw DuckDB text in: {message}");
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut encoder, bytes).unwrap();
    encoder.finish().unwrap()
}

fn zstd(bytes: &[u8]) -> Vec<u8> {
    ruzstd::encoding::compress_to_vec(bytes, ruzstd::encoding::CompressionLevel::Fastest)
}

#[test]
fn a_rowid_column_is_kept_as_extra_rowid() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!("ROWID,{HEADER}\nAAA1,{ROW1}\nAAA2,{ROW2}\n");
    let path = write(dir.path(), "oracle.csv", &text);
    let (a, rows, malformed, clean) = load(&path).unwrap();
    assert_eq!((rows, malformed, clean), (2, 0, 2));
    assert_eq!(
        scalar(
            &a,
            "SELECT count(*) FROM bronze_return_order_data WHERE extra_rowid = 'AAA2' AND row_id = 2"
        ),
        1
    );
    // Any case.
    let text = format!("{HEADER},RowId\n{ROW1},r1\n");
    let (_, rows, _, _) = load(&write(dir.path(), "lower.csv", &text)).unwrap();
    assert_eq!(rows, 1);
}

#[test]
fn paths_are_literal_not_globs() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "xy.csv", &format!("{HEADER}\n{ROW1}\n{ROW2}\n{ROW3}\n"));
    write(dir.path(), "x1.csv", &format!("{HEADER}\n{ROW1}\n{ROW2}\n{ROW3}\n"));
    let star = write(dir.path(), "x*.csv", &format!("{HEADER}\n{ROW1}\n"));
    assert_eq!(load(&star).unwrap().1, 1, "x*.csv alone, not xy.csv too");
    let bracket = write(dir.path(), "x[1].csv", &format!("{HEADER}\n{ROW1}\n{ROW2}\n"));
    assert_eq!(load(&bracket).unwrap().1, 2, "x[1].csv itself, not x1.csv");
    let question = write(dir.path(), "x?.csv", &format!("{HEADER}\n{ROW2}\n"));
    assert_eq!(load(&question).unwrap().1, 1);
    let odd = dir.path().join("l'été [2024] données");
    std::fs::create_dir(&odd).unwrap();
    let quoted = write(&odd, "ventes d'août.csv", &format!("{HEADER}\n{ROW1}\n{ROW3}\n"));
    assert_eq!(load(&quoted).unwrap().1, 2);
    let preview = Analysis::preview_csv(&star, 5).unwrap();
    assert_eq!(preview.rows.len(), 1);
}

#[test]
fn a_line_with_extra_trailing_empty_fields_is_malformed_with_its_line_number() {
    let dir = tempfile::tempdir().unwrap();
    // Line 3 repeats line 2 with two more (empty) fields; line 4 has one more.
    let text = format!("{HEADER}\n{ROW1}\n{ROW1},,\n{ROW2},\n{ROW3}\n");
    let (a, rows, malformed, clean) = load(&write(dir.path(), "ragged.csv", &text)).unwrap();
    assert_eq!((rows, malformed, clean), (2, 2, 2));
    assert_eq!(scalar(&a, "SELECT count(*) FROM bronze_quality WHERE is_duplicate"), 0);
    let lines: Vec<i64> = {
        let mut stmt = a
            .store()
            .conn()
            .prepare("SELECT line_number FROM bronze_rejects_malformed ORDER BY 1")
            .unwrap();
        stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
    };
    assert_eq!(lines, vec![3, 4]);
    // Empty fields inside a well-formed line are still empty values.
    assert_eq!(
        scalar(
            &a,
            "SELECT count(*) FROM bronze_return_order_data WHERE return_ts IS NULL AND NOT returned"
        ),
        2
    );
}

#[test]
fn gzip_and_zstd_extracts_are_sniffed_decompressed() {
    let dir = tempfile::tempdir().unwrap();
    // A semicolon inside a quoted comment makes ';' frequent in the rows, never in the header.
    let text = format!(
        "{HEADER}\n{ROW1}\n{ROW2}\n{ROW3}\n{}\n",
        ROW3.replace("Café Zürich 東京", "\"a;b;c;d;e;f;g;h;Café Zürich 東京\"")
    );
    let plain = write(dir.path(), "orders.csv", &text);
    let (a, rows, malformed, clean) = load(&plain).unwrap();
    assert_eq!((rows, malformed, clean), (4, 0, 4));
    let cafe = "SELECT count(*) FROM bronze_return_order_data WHERE RETURN_COMMENT LIKE '%Café Zürich 東京'";
    assert_eq!(scalar(&a, cafe), 2);
    for (name, bytes) in [
        ("orders.csv.gz", gzip(text.as_bytes())),
        ("orders.csv.zst", zstd(text.as_bytes())),
        ("gzip-without-extension.csv", gzip(text.as_bytes())),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let (a, r, m, c) = load(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!((r, m, c), (rows, malformed, clean), "{name}");
        assert_eq!(scalar(&a, cafe), 2, "{name}: read as UTF-8, not Latin-1");
        let encoding: String = a.ingest_summary().unwrap().unwrap().encoding;
        assert_eq!(encoding, "utf-8", "{name}");
        assert_eq!(Analysis::preview_csv(&path, 2).unwrap().delimiter, ',', "{name}");
    }
}

#[test]
fn a_header_read_as_one_column_says_the_delimiter_seems_different() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!("{}\n{}\n", HEADER.replace(',', "^"), ROW1.replace(',', "^"));
    let err = load(&write(dir.path(), "caret.csv", &text)).err().expect("an error");
    let message = err.to_string();
    assert!(message.contains("seems to use another delimiter"), "{message}");
    assert!(!message.contains("Found:"), "does not list every column as missing: {message}");
}

#[test]
fn errors_a_user_can_cause_never_show_raw_duckdb_text() {
    let dir = tempfile::tempdir().unwrap();
    // Not an analysis file.
    let notes = write(dir.path(), "notes.duckdb", "these are my notes, not a database\n");
    let err = Analysis::open(&notes, &small_config(None)).err().expect("an error");
    assert!(err.to_string().contains("not a ReturnScope analysis file"), "{err}");
    assert_no_raw_duckdb_text(&err.to_string());
    // A spreadsheet saved with a CSV name, a missing file, a folder.
    let mut zip = vec![0x50, 0x4b, 0x03, 0x04];
    zip.extend((0..4000u32).map(|i| (i * 7919 % 251) as u8));
    let fake = dir.path().join("sheet.csv");
    std::fs::write(&fake, zip).unwrap();
    for path in [fake, dir.path().join("missing.csv"), dir.path().to_path_buf()] {
        let err = load(&path).err().unwrap_or_else(|| panic!("{} loaded", path.display()));
        assert_no_raw_duckdb_text(&err.to_string());
    }
    // Exporting into a folder that does not exist.
    let csv = write(dir.path(), "ok.csv", &format!("{HEADER}\n{ROW1}\n{ROW2}\n"));
    let (a, ..) = load(&csv).unwrap();
    a.features(&small_config(None), &Progress::none()).unwrap();
    let err = a
        .export_silver(&dir.path().join("no/such/folder/f.csv"), &Sharing::as_loaded())
        .unwrap_err();
    assert!(err.to_string().contains("folder does not exist"), "{err}");
    assert_no_raw_duckdb_text(&err.to_string());
}

/// `returnscope validate --json` counts, without timings.
fn validate_counts(dir: &Path, file: &str) -> serde_json::Value {
    let out = returnscope(&["validate", file, "--json"], dir);
    assert_eq!(out.status.code(), Some(0), "{file}: {}", String::from_utf8_lossy(&out.stderr));
    let mut v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in ["timings", "input", "stages_run", "memory"] {
        v.as_object_mut().unwrap().remove(key);
    }
    v
}

#[test]
fn cli_validate_gives_the_same_counts_for_every_name_and_compression() {
    let dir = tempfile::tempdir().unwrap();
    let out = returnscope(&["sample", "--customers", "1200", "--out", "s.csv"], dir.path());
    assert!(out.status.success());
    let mut text = std::fs::read_to_string(dir.path().join("s.csv")).unwrap();
    let first_row = text.lines().nth(1).unwrap().to_string();
    text.push_str(&first_row.replacen(',', "x,", 1).replace("@", "+ünïcødé@"));
    text.push('\n');
    std::fs::write(dir.path().join("s.csv"), &text).unwrap();
    let plain = validate_counts(dir.path(), "s.csv");
    assert!(plain["rows_loaded"].as_u64().unwrap() > 10_000, "{plain}");
    let with_rowid: String = text
        .lines()
        .enumerate()
        .map(|(i, l)| if i == 0 { format!("ROWID,{l}\n") } else { format!("R{},{l}\n", l.len()) })
        .collect();
    write(dir.path(), "rowid.csv", &with_rowid);
    write(dir.path(), "x*.csv", &text);
    write(dir.path(), "xy.csv", &format!("{HEADER}\n{ROW1}\n"));
    let odd = "l'été [2024] über.csv";
    write(dir.path(), odd, &text);
    std::fs::write(dir.path().join("s.csv.gz"), gzip(text.as_bytes())).unwrap();
    std::fs::write(dir.path().join("s.csv.zst"), zstd(text.as_bytes())).unwrap();
    for file in ["rowid.csv", "x*.csv", odd, "s.csv.gz", "s.csv.zst"] {
        assert_eq!(validate_counts(dir.path(), file), plain, "{file}");
    }
}

/// The real extract of the issue (`../shared/data`, beside the repository): a gzip file whose
/// compressed bytes looked `;`-separated and not UTF-8.
#[test]
fn the_real_gzip_extract_loads_like_its_decompressed_copy() {
    let gz = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/uci-online-retail-2009-2010.csv.gz");
    let dir = tempfile::tempdir().unwrap();
    let mut text = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::MultiGzDecoder::new(std::fs::File::open(&gz).unwrap()),
        &mut text,
    )
    .unwrap();
    let plain = dir.path().join("retail.csv");
    std::fs::write(&plain, text).unwrap();
    let copy = dir.path().join("retail.csv.gz");
    std::fs::copy(&gz, &copy).unwrap();
    let (_, rows, malformed, clean) = load(&plain).unwrap();
    assert_eq!(rows, 406_339, "the README's count");
    let (a, gz_rows, gz_malformed, gz_clean) = load(&copy).unwrap();
    assert_eq!((gz_rows, gz_malformed, gz_clean), (rows, malformed, clean));
    assert_eq!(a.ingest_summary().unwrap().unwrap().encoding, "utf-8");
}
