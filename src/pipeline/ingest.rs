//! Load (bronze): stream a CSV of order lines into `bronze_rows` with DuckDB's reader.
//!
//! The file never passes through Rust memory: DuckDB reads it (gzip and zstd too), with the
//! delimiter (comma, semicolon, tab, pipe) and encoding sniffed from its first MiB of text by
//! [`crate::pipeline::csv_input`], which also makes the path literal (no globbing). UTF-8 (a BOM
//! is skipped) falls back to Latin-1 when the bytes are not UTF-8. Every value is kept as text exactly as loaded; required columns are matched
//! case-insensitively (surrounding spaces ignored) and stored under their canonical names, extra
//! columns under their own. Rows with the wrong number of fields go to `bronze_rejects_malformed`
//! with their line number. The SHA-256 of the input is computed on a second thread meanwhile.
//!
//! `bronze_return_order_data` is a view: `row_id` (1-based position among the loaded rows, in
//! file order) and the raw columns; validation adds the parsed values and quality flags to it from
//! the narrow table `bronze_quality` (the layout is in [`crate::pipeline::bronze`]).

use crate::pipeline::bronze::{
    self, BRONZE_QUALITY, BRONZE_ROWS, ColumnMapping, MALFORMED, drop_bronze_view,
};
use crate::pipeline::config::Config;
use crate::pipeline::csv_input::{Compression, InputFile};
use crate::pipeline::error::{DbContext, PipelineError, Result};
use crate::pipeline::model::{CsvPreview, IngestSummary, REQUIRED_COLUMNS};
use crate::pipeline::progress::{Progress, Stage};
use crate::pipeline::store::{Store, ident, literal};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::Path;
use std::time::Instant;

fn normalize_header(name: &str) -> String {
    name.trim().trim_start_matches('\u{feff}').trim().to_ascii_uppercase()
}

/// Match a header against the required columns; `Err(missing)` names the absent ones.
pub fn map_columns(header: &[String]) -> std::result::Result<ColumnMapping, Vec<String>> {
    let mut required = Vec::new();
    let mut missing = Vec::new();
    let mut used = vec![false; header.len()];
    for req in REQUIRED_COLUMNS {
        match header.iter().position(|h| normalize_header(h) == req) {
            Some(i) => {
                used[i] = true;
                required.push((req.to_string(), header[i].clone()));
            }
            None => missing.push(req.to_string()),
        }
    }
    if !missing.is_empty() {
        return Err(missing);
    }
    let reserved: Vec<String> = REQUIRED_COLUMNS.iter().map(|s| s.to_string()).collect();
    let mut extra = Vec::new();
    for (i, h) in header.iter().enumerate() {
        if used[i] {
            continue;
        }
        let mut stored = h.trim().trim_start_matches('\u{feff}').to_string();
        let upper = stored.to_ascii_uppercase();
        if stored.is_empty() || reserved.contains(&upper) || bronze::is_derived_column(&stored) {
            stored = format!(
                "extra_{}",
                if stored.is_empty() { format!("col{}", i + 1) } else { stored }
            );
        }
        while extra.iter().any(|(s, _): &(String, String)| s.eq_ignore_ascii_case(&stored)) {
            stored.push('_');
        }
        extra.push((stored, h.clone()));
    }
    Ok(ColumnMapping { required, extra })
}

/// The reader's largest buffer: 128 MiB instead of DuckDB's default. Each buffer is a batch of the
/// order-preserving insert; fewer, larger batches cost less to merge into row groups (about 12%
/// less CPU for the load of 4.1M rows; 512 MiB gained nothing more and raised the peak memory).
const CSV_BUFFER_SIZE: u64 = 128 << 20;

/// The preview's buffer: enough for the header sniffer's sample and the first rows.
const PREVIEW_BUFFER_SIZE: u64 = 16 << 20;
/// Rows DuckDB's sniffer samples to read the header's names.
const HEADER_SAMPLE_ROWS: u32 = 1024;

/// Uncompressed files up to this size are read as one buffer: too small for a second thread to pay.
const ONE_BUFFER_MAX: u64 = 32 << 20;

/// The reader's buffer for a file of `bytes` read with `threads` threads.
///
/// An uncompressed file is cut into equal batches, as many as the threads or a multiple of them,
/// each at most [`CSV_BUFFER_SIZE`]: every thread reads and converts its own batch, and no batch
/// is left short. Short or uneven batches end in partial row groups that the checkpoint after the
/// load merges by rewriting (recompressing) them. Measured on 2 cores (DuckDB 1.5, see
/// docs/decisions.md "Loading"): the 20k-customer file (210 MiB) loads in 1.65 s as two 105 MiB
/// batches, against 3.2 s as one buffer (one thread) and 1.9 s + 0.9 s checkpoint as 128 + 84 MiB.
fn reader_buffer_size(bytes: u64, compression: Compression, threads: u64) -> u64 {
    const MIB: u64 = 1 << 20;
    const PAGE: u64 = 4096;
    if compression != Compression::None {
        return CSV_BUFFER_SIZE;
    }
    if bytes <= ONE_BUFFER_MAX {
        return (bytes / MIB + 2) * MIB;
    }
    let threads = threads.max(1);
    let batches = threads * bytes.div_ceil(threads * CSV_BUFFER_SIZE);
    // Rounded up to whole pages: the last batch is shorter by at most a page per batch.
    bytes.div_ceil(batches).next_multiple_of(PAGE)
}

/// The reader's NULL string: a control character no export writes as a whole field, so every
/// field is read as text (an empty field as ''; the cleaning treats '' as empty).
const NEVER_NULL: &str = "\u{1}";

/// A CSV file with its dialect, sniffed once: every read of the file uses the same settings.
#[derive(Clone, Copy)]
struct CsvSource<'a> {
    input: &'a InputFile,
    delimiter: char,
    encoding: &'static str,
    /// The reader's buffer: one batch of the load (see [`reader_buffer_size`]).
    buffer_size: u64,
}

impl<'a> CsvSource<'a> {
    /// The file as the load reads it, cut into batches for DuckDB's `threads`.
    fn sniff(input: &'a InputFile, threads: u64) -> Self {
        let buffer_size = reader_buffer_size(input.bytes, input.compression, threads);
        Self::with_buffer(input, buffer_size)
    }

    /// The file as the preview reads it: only its first rows, so a small buffer.
    fn sniff_for_preview(input: &'a InputFile) -> Self {
        Self::with_buffer(input, PREVIEW_BUFFER_SIZE.min(input.bytes + (1 << 20)))
    }

    fn with_buffer(input: &'a InputFile, buffer_size: u64) -> Self {
        let encoding = if input.looks_like_utf8() { "utf-8" } else { "latin-1" };
        Self { input, delimiter: input.header_delimiter(), encoding, buffer_size }
    }

    /// The `read_csv(...)` table function call; with `store_rejects`, ragged rows are kept in
    /// the temp tables `rs_reject_errors` / `rs_reject_scans`. Empty fields are read as the
    /// empty string, not NULL (the NULL string is [`NEVER_NULL`]), so the reader's exception for
    /// "extra fields that are NULL" never applies and a line with extra trailing empty fields
    /// is malformed, like any line with the wrong number of fields.
    fn read_csv(&self, store_rejects: bool) -> String {
        self.read_csv_sampling(store_rejects, None)
    }

    /// [`Self::read_csv`] with the sniffer sampling `sample_rows` rows instead of its default.
    fn read_csv_sampling(&self, store_rejects: bool, sample_rows: Option<u32>) -> String {
        let mut options = format!(
            "{}, header = true, all_varchar = true, auto_detect = true, delim = {}, quote = '\"', \
             encoding = {}, compression = {}, nullstr = {}, strict_mode = true, \
             null_padding = false, ignore_errors = true, buffer_size = {}",
            self.input.reader_path(),
            literal(&self.delimiter.to_string()),
            literal(self.encoding),
            literal(self.input.compression.reader_option()),
            literal(NEVER_NULL),
            self.buffer_size,
        );
        if let Some(rows) = sample_rows {
            options.push_str(&format!(", sample_size = {rows}"));
        }
        if store_rejects {
            options.push_str(
                ", store_rejects = true, rejects_table = 'rs_reject_errors', rejects_scan = 'rs_reject_scans'",
            );
        }
        format!("read_csv({options})")
    }

    /// The header as DuckDB reads it.
    fn header(&self, conn: &duckdb::Connection) -> Result<Vec<String>> {
        // The sniffer reads a sample from the start: a whole load batch (up to 128 MiB) would
        // only add reading (0.12 -> 0.04 s for the 20k-customer file, measured in DuckDB 1.5).
        // The names need few sample rows (the delimiter and quote are given, every column is
        // text): duckdb-rs sniffs once to prepare the statement and again to run it, each
        // 0.03 s on its default 20,480 rows and 0.01 s on 1,024 (20k-customer file).
        let sample = Self { buffer_size: self.buffer_size.min(PREVIEW_BUFFER_SIZE), ..*self };
        let call = sample.read_csv_sampling(false, Some(HEADER_SAMPLE_ROWS));
        let sql = format!("DESCRIBE SELECT * FROM {call}");
        let mut stmt = conn.prepare(&sql).map_err(|e| self.read_error(e))?;
        stmt.query_map([], |r| r.get::<_, String>(0))
            .map_err(|e| self.read_error(e))?
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| self.read_error(e))
    }

    /// DuckDB's reader failed on the file: say so in words (its own text goes to the log).
    fn read_error(&self, e: duckdb::Error) -> PipelineError {
        tracing::info!("reading {}: {e}", self.input.path.display());
        PipelineError::Data(format!(
            "cannot read {} as a CSV file: its text could not be split into rows and columns. \
             Check that it is a CSV export of order lines (text with a header line, fields \
             separated by commas, semicolons, tabs or pipes), not a spreadsheet or an archive.",
            self.input.path.display()
        ))
    }

    /// The header was read as one column: the file's delimiter is none of those we read.
    fn single_column_error(&self, header: &[String]) -> PipelineError {
        let shown: String =
            header.first().map(|h| h.chars().take(80).collect()).unwrap_or_default();
        PipelineError::Data(format!(
            "the header of {} was read as a single column (\"{shown}\"): the file seems to use \
             another delimiter than comma, semicolon, tab or pipe. Export it again with one of \
             those between the fields.",
            self.input.path.display()
        ))
    }

    /// Match the header against the required columns, naming the missing ones.
    fn mapping(&self, header: &[String]) -> Result<ColumnMapping> {
        map_columns(header).map_err(|missing| {
            if header.len() == 1 {
                return self.single_column_error(header);
            }
            PipelineError::MissingColumn {
                path: self.input.path.display().to_string(),
                column: missing.join(", "),
                required: REQUIRED_COLUMNS.join(", "),
                found: header.join(", "),
            }
        })
    }
}

/// SHA-256 of a file, streamed; `None` on a read error (the hash is informative only).
pub fn sha256_file(path: &Path) -> Option<String> {
    let mut file = std::fs::File::open(path).ok()?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Some(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Header, delimiter and first rows of a CSV, on a throwaway in-memory connection.
pub fn preview_csv(path: &Path, rows: usize) -> Result<CsvPreview> {
    let input = InputFile::open(path)?;
    let conn = duckdb::Connection::open_in_memory().db("opening a scratch database")?;
    let csv = CsvSource::sniff_for_preview(&input);
    let columns = csv.header(&conn)?;
    let required = REQUIRED_COLUMNS
        .iter()
        .map(|req| {
            let found = columns.iter().find(|h| normalize_header(h) == *req).cloned();
            (req.to_string(), found)
        })
        .collect::<Vec<_>>();
    let extra = columns
        .iter()
        .filter(|h| !REQUIRED_COLUMNS.contains(&normalize_header(h).as_str()))
        .cloned()
        .collect();
    let select: Vec<String> =
        columns.iter().map(|c| format!("coalesce({}, '')", ident(c))).collect();
    let sql = format!("SELECT {} FROM {} LIMIT {rows}", select.join(", "), csv.read_csv(false));
    let mut stmt = conn.prepare(&sql).map_err(|e| csv.read_error(e))?;
    let n = columns.len();
    let data = stmt
        .query_map([], |r| {
            (0..n).map(|i| r.get::<_, String>(i)).collect::<duckdb::Result<Vec<_>>>()
        })
        .map_err(|e| csv.read_error(e))?
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| csv.read_error(e))?;
    Ok(CsvPreview {
        path: path.to_path_buf(),
        delimiter: csv.delimiter,
        columns,
        required,
        extra,
        rows: data,
    })
}

fn bronze_select(mapping: &ColumnMapping) -> String {
    let mut cols = Vec::new();
    for (canon, found) in &mapping.required {
        cols.push(format!("{} AS {}", ident(found), ident(canon)));
    }
    for (stored, found) in &mapping.extra {
        cols.push(format!("{} AS {}", ident(found), ident(stored)));
    }
    cols.join(", ")
}

fn load_bronze(
    store: &Store,
    csv: &CsvSource,
    mapping: &ColumnMapping,
    progress: &Progress,
) -> Result<()> {
    let source = csv.read_csv(true);
    drop_bronze_view(store)?;
    // No row_number() here: a window over the reader's output runs on one thread; the insert
    // keeps file order (insertion order is preserved), so the row id is the table's rowid + 1.
    let sql = format!(
        "DROP TABLE IF EXISTS temp.rs_reject_errors; DROP TABLE IF EXISTS temp.rs_reject_scans;
         DROP TABLE IF EXISTS {BRONZE_QUALITY};
         CREATE OR REPLACE TABLE {BRONZE_ROWS} AS SELECT {} FROM {source};
         {loaded_view}
         CREATE OR REPLACE TABLE {MALFORMED} AS
           SELECT line AS line_number, string_agg(DISTINCT error_type::VARCHAR, ', ') AS error_type,
                  first(csv_line) AS raw_line, first(error_message) AS error_message
           FROM rs_reject_errors GROUP BY line ORDER BY line;",
        bronze_select(mapping),
        loaded_view = bronze::loaded_rows_view_sql(),
    );
    store.execute_monitored(&sql, "Loading CSV", progress, (0.05, 0.95))
}

fn has_invalid_unicode(store: &Store) -> Result<bool> {
    Ok(store.scalar_i64(&format!(
        "SELECT count(*) FROM {MALFORMED} WHERE error_type ILIKE '%UNICODE%'"
    ))? > 0)
}

/// Load the CSV into bronze (replacing any earlier load) in one transaction.
pub fn ingest(
    store: &Store,
    csv: &Path,
    config: &Config,
    progress: &Progress,
) -> Result<IngestSummary> {
    let started = Instant::now();
    let input = InputFile::open(csv)?;
    progress.update(0.0, "Reading header");
    let hash_path = csv.to_path_buf();
    let hasher = std::thread::spawn(move || {
        let started = Instant::now();
        let hash = sha256_file(&hash_path);
        tracing::info!("input SHA-256: {:.2} s", started.elapsed().as_secs_f64());
        hash
    });
    let threads = store.scalar_i64("SELECT current_setting('threads')")?;
    let mut source = CsvSource::sniff(&input, threads.max(1) as u64);
    tracing::info!(
        "reading {} bytes in batches of {} bytes on {threads} threads",
        input.bytes,
        source.buffer_size
    );
    let header = source.header(store.conn())?;
    let mapping = source.mapping(&header)?;
    store.in_transaction(|s| {
        s.forget_stage_and_later(Stage::Ingest)?;
        load_bronze(s, &source, &mapping, progress)
    })?;
    if source.encoding == "utf-8" && has_invalid_unicode(store)? {
        tracing::warn!("{} is not valid UTF-8; reading it as Latin-1", csv.display());
        source.encoding = "latin-1";
        store.in_transaction(|s| load_bronze(s, &source, &mapping, progress))?;
    }
    progress.update(0.96, "Writing the rows to the analysis file");
    store.checkpoint("the load")?;
    let rows_loaded = store.scalar_i64(&format!("SELECT count(*) FROM {BRONZE_ROWS}"))? as u64;
    let malformed_rows = store.scalar_i64(&format!("SELECT count(*) FROM {MALFORMED}"))? as u64;
    let input_sha256 = hasher.join().ok().flatten().unwrap_or_default();
    let summary = IngestSummary {
        input_path: csv.to_path_buf(),
        input_name: csv.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        input_sha256,
        rows_loaded,
        malformed_rows,
        extra_columns: mapping.extra.iter().map(|(s, _)| s.clone()).collect(),
        has_gross: mapping.extra.iter().any(|(s, _)| s.eq_ignore_ascii_case("GROSS")),
        encoding: source.encoding.to_string(),
        seconds: started.elapsed().as_secs_f64(),
    };
    let details = serde_json::json!({ "summary": summary, "mapping": mapping });
    store.in_transaction(|s| s.mark_stage_complete(Stage::Ingest, &details, config))?;
    progress.update_items(1.0, "Loaded", rows_loaded);
    Ok(summary)
}

/// The stored ingest summary and column mapping.
pub fn stored_ingest(store: &Store) -> Result<Option<(IngestSummary, ColumnMapping)>> {
    #[derive(serde::Deserialize)]
    struct Stored {
        summary: IngestSummary,
        mapping: ColumnMapping,
    }
    Ok(store.stage_summary::<Stored>(Stage::Ingest)?.map(|s| (s.summary, s.mapping)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_uncompressed_file_is_cut_into_equal_batches_one_or_more_per_thread() {
        const MIB: u64 = 1 << 20;
        let none = Compression::None;
        // Small files: one buffer.
        assert_eq!(reader_buffer_size(1000, none, 2), 2 * MIB);
        assert_eq!(reader_buffer_size(32 * MIB, none, 2), 34 * MIB);
        // The 20k-customer file (210 MiB) on 2 threads: two batches of 105 MiB; on 4, four.
        assert_eq!(
            reader_buffer_size(219_996_483, none, 2),
            109_998_244_u64.next_multiple_of(4096)
        );
        assert_eq!(reader_buffer_size(219_996_483, none, 4), 54_999_121_u64.next_multiple_of(4096));
        // Over 128 MiB a batch: a multiple of the threads (1045 MiB on 2 threads: 10 batches).
        assert_eq!(reader_buffer_size(1_095_893_554, none, 2), 109_592_576);
        // 11 GB on 2 threads: 82 equal batches of just under 128 MiB.
        let big = 10_997_218_825;
        let buffer = reader_buffer_size(big, none, 2);
        assert!(buffer <= 128 * MIB && big.div_ceil(buffer) == 82, "{buffer}");
        assert!(big - 81 * buffer > buffer - 82 * 4096, "the last batch is a full one");
        assert_eq!(reader_buffer_size(200 * MIB, Compression::Gzip, 2), 128 * MIB);
    }

    #[test]
    fn sha256_file_matches_the_standard_digest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("abc.csv");
        std::fs::write(&path, b"abc").unwrap();
        // FIPS 180-2 test vector for "abc".
        assert_eq!(
            sha256_file(&path).as_deref(),
            Some("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        );
        assert_eq!(sha256_file(&dir.path().join("missing.csv")), None);
    }

    /// `cargo test --lib pipeline::ingest::tests::sha256_throughput -- --ignored --nocapture`:
    /// MB/s of the input hash on this machine (the sha2 crate picks SHA-NI when the CPU has it).
    #[test]
    #[ignore]
    fn sha256_throughput() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.csv");
        let block: Vec<u8> = (0..1 << 20).map(|i| (i % 251) as u8).collect();
        let mut file = std::fs::File::create(&path).unwrap();
        for _ in 0..1024 {
            std::io::Write::write_all(&mut file, &block).unwrap();
        }
        drop(file);
        let cpu_seconds = || {
            let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
            let rest = stat.rsplit_once(')').map_or("", |(_, r)| r).to_string();
            let fields: Vec<f64> =
                rest.split_whitespace().map(|v| v.parse().unwrap_or(0.0)).collect();
            (fields.get(11).unwrap_or(&0.0) + fields.get(12).unwrap_or(&0.0)) / 100.0
        };
        let (started, cpu) = (Instant::now(), cpu_seconds());
        sha256_file(&path).unwrap();
        let (seconds, cpu) = (started.elapsed().as_secs_f64(), cpu_seconds() - cpu);
        println!(
            "SHA-256 of 1 GiB (page cache): {seconds:.2} s wall ({:.0} MB/s), {cpu:.2} s CPU \
             ({:.0} MB/s)",
            1073.741824 / seconds,
            1073.741824 / cpu
        );
    }
}
