//! The pipeline's error type: every failure a user can cause says what was wrong and what to do.

use crate::pipeline::config::ConfigError;
use crate::pipeline::progress::{Cancelled, Stage};

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("{0}")]
    Config(#[from] ConfigError),

    #[error("stopped: cancelled by the user; nothing of this stage was kept")]
    Cancelled,

    #[error("cannot read {path}: {reason}. Check that the file exists and that you may read it.")]
    InputUnreadable { path: String, reason: String },

    #[error(
        "the file {path} has no column {column} (matched case-insensitively). The input needs \
         these columns: {required}. Found: {found}."
    )]
    MissingColumn { path: String, column: String, required: String, found: String },

    #[error("the file {path} is empty: it has no header line. Choose a CSV export of order lines.")]
    EmptyInput { path: String },

    #[error(
        "the analysis file {path} is in use by another ReturnScope (or DuckDB) process. Close the \
         other program, or choose another analysis file with --db."
    )]
    DatabaseLocked { path: String },

    #[error("the analysis file {path} cannot be opened: {}", without_row_content(reason))]
    DatabaseOpen { path: String, reason: String },

    #[error(
        "{stage} needs {needs} first: run the earlier stages (returnscope run ... --until {until})."
    )]
    MissingLayer { stage: &'static str, needs: &'static str, until: &'static str },

    #[error("{0}")]
    Data(String),

    /// A DuckDB statement failed. The message says what happened in words; DuckDB's own text
    /// (`detail`) is written to the log, never shown.
    #[error("{}", describe_db_failure(context, detail))]
    Db { context: String, detail: String },

    #[error("the features table {path} cannot be segmented: {problem}. Nothing was written.")]
    SilverTable { path: String, problem: String },

    #[error("cannot write {path}: {}", without_row_content(reason))]
    Write { path: String, reason: String },

    #[error(
        "the pseudonym key {path} cannot be used: {reason}. It makes the customer pseudonyms of \
         shared reports; restore it from a backup, or remove it to start a new key (pseudonyms \
         then no longer match earlier reports)."
    )]
    PseudonymKey { path: String, reason: String },

    #[error("{path} is not a ReturnScope analysis ({reason}), so it was not deleted.")]
    NotAnAnalysis { path: String, reason: String },

    #[error(
        "cannot delete {path}: {reason}. Check that you may change its folder, then delete the \
         analysis again."
    )]
    Delete { path: String, reason: String },

    /// The stored summary of a completed stage cannot be read by this version.
    #[error("{}", unreadable_stage_message(*stage, *newer))]
    UnreadableStage { stage: Stage, newer: bool },

    #[error(
        "this is not a ReturnScope segmentation model: {reason}. Pass a segmented analysis file \
         (.duckdb) or a model written by `returnscope export model`: {path}"
    )]
    ModelUnreadable { path: String, reason: String },

    #[error(
        "the model has format version {found}, and this ReturnScope reads version {supported}: \
         export the model again with this version (`returnscope export model`), or score with \
         the version that wrote it: {path}"
    )]
    ModelVersion { path: String, found: u32, supported: u32 },

    #[error(
        "the analysis is not segmented, so it has no model: run the clustering first \
         (`returnscope run ... --until cluster`; an analysis segmented by an earlier version \
         needs its clustering run again): {path}"
    )]
    NotSegmented { path: String },

    #[error(
        "the model needs features this extract cannot provide: {features}. {hint} Nothing was \
         scored."
    )]
    ModelFeaturesUnavailable { features: String, hint: String },

    #[error(
        "the two periods have no customer in common ({old_customers} and {new_customers} \
         customers): compare two extracts of the same customers (a customer is identified by its \
         e-mail address, trimmed and lower-cased). Nothing was written."
    )]
    NoCommonCustomers { old_customers: usize, new_customers: usize },
}

/// `message` without row content, for errors and logs: DuckDB quotes the offending value
/// (`Could not convert string 'x' ...`) and the whole CSV line (`Original Line: ...`), which can
/// hold a customer's e-mail. Quoted values become `'…'`, "Original Line" lines are dropped, and
/// anything shaped like an e-mail address becomes `<e-mail>`; line numbers stay.
pub fn without_row_content(message: &str) -> String {
    let lines: Vec<&str> = message
        .lines()
        .filter(|line| !line.trim_start().to_ascii_lowercase().starts_with("original line"))
        .collect();
    let text = lines.join("\n");
    let unquoted = redact_single_quoted(&text);
    unquoted.split(' ').map(redact_email_token).collect::<Vec<_>>().join(" ")
}

fn redact_single_quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut parts = text.split('\'');
    if let Some(first) = parts.next() {
        out.push_str(first);
    }
    let rest: Vec<&str> = parts.collect();
    // Pairs of quotes enclose a value; an unmatched last quote (an apostrophe) is kept.
    for (i, part) in rest.iter().enumerate() {
        let quoted_value = i % 2 == 0 && i + 1 < rest.len();
        out.push('\'');
        out.push_str(if quoted_value { "…" } else { part });
    }
    out
}

fn redact_email_token(token: &str) -> String {
    match token.find('@') {
        Some(at) if at > 0 && at + 1 < token.len() => "<e-mail>".to_string(),
        _ => token.to_string(),
    }
}

fn unreadable_stage_message(stage: Stage, newer: bool) -> String {
    let step = stage.title();
    if newer {
        format!(
            "this analysis was made by a newer version of ReturnScope, and this version cannot \
             read its {step} results. Open it with the newer version, or run it again from \
             {step} (the earlier steps are kept)."
        )
    } else {
        format!(
            "this analysis was made by an older version of ReturnScope, and this version cannot \
             read its {step} results. Run it again from {step} (the earlier steps are kept)."
        )
    }
}

impl From<Cancelled> for PipelineError {
    fn from(_: Cancelled) -> Self {
        PipelineError::Cancelled
    }
}

/// Attach what we were doing to a DuckDB error.
pub trait DbContext<T> {
    fn db(self, context: &str) -> Result<T, PipelineError>;
}

impl<T> DbContext<T> for Result<T, duckdb::Error> {
    fn db(self, context: &str) -> Result<T, PipelineError> {
        self.map_err(|source| {
            tracing::info!(
                "database error while {context}: {}",
                without_row_content(&source.to_string())
            );
            PipelineError::Db { context: context.to_string(), detail: source.to_string() }
        })
    }
}

/// What a failed DuckDB statement means for the user, from DuckDB's message.
fn describe_db_failure(context: &str, detail: &str) -> String {
    let during = lowercase_first(context);
    let d = detail.to_ascii_lowercase();
    if d.contains("out of memory") || d.contains("could not allocate") {
        format!(
            "the computer ran out of memory while {during}. Close other programs, or set \
             store.memory_limit lower (the database then spills to disk), and run it again."
        )
    } else if d.contains("no space left") || d.contains("disk is full") {
        format!(
            "the disk is full: {during} could not be written to the analysis file or its spill \
             folder. Free some space and run it again; nothing of this step was kept."
        )
    } else if d.contains("permission denied") || d.contains("read-only") || d.contains("read only")
    {
        format!(
            "the analysis file cannot be written while {during}: you are not allowed to write \
             to it or to its folder. Choose another analysis file or folder."
        )
    } else if d.contains("conflict") {
        format!(
            "another task changed the analysis file while {during}; nothing of this step was \
             kept. Run it again."
        )
    } else {
        format!(
            "an unexpected database error stopped {during}; nothing of this step was kept. \
             Run it again; if it happens again, report it with the log file (it has the details)."
        )
    }
}

fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |c| c.to_lowercase().chain(chars).collect())
}

/// Why DuckDB could not open an analysis file, in words.
pub fn describe_open_failure(detail: &str) -> String {
    let d = detail.to_ascii_lowercase();
    if d.contains("not a valid duckdb database") || d.contains("invalid magic") {
        "it is not a ReturnScope analysis file. Choose an analysis (.duckdb) file made by \
         ReturnScope, or another name for a new one"
            .into()
    } else if d.contains("newer") || d.contains("version") {
        "it was written by a newer version of ReturnScope (or DuckDB). Open it with that version, \
         or run the analysis again into a new file"
            .into()
    } else if d.contains("permission denied") || d.contains("read-only") {
        "you are not allowed to write to it or to its folder. Choose another place".into()
    } else if d.contains("no space left") {
        "the disk is full. Free some space and try again".into()
    } else {
        "the file may be damaged (the details are in the log). Run the analysis again into a new \
         file"
            .into()
    }
}

pub type Result<T, E = PipelineError> = std::result::Result<T, E>;

/// DuckDB could not write an export file (`COPY ... TO`): why, in words, as a write error.
pub fn export_error(path: &std::path::Path, e: duckdb::Error) -> PipelineError {
    let detail = e.to_string();
    tracing::info!("writing {}: {}", path.display(), without_row_content(&detail));
    let d = detail.to_ascii_lowercase();
    let reason = if d.contains("permission denied") || d.contains("read-only") {
        "you are not allowed to write there; choose another folder"
    } else if d.contains("no such file") || d.contains("directory") {
        "its folder does not exist; choose an existing folder"
    } else if d.contains("no space left") {
        "the disk is full; free some space and export again"
    } else {
        "the export stopped unexpectedly (the details are in the log); export again"
    };
    PipelineError::Write { path: path.display().to_string(), reason: reason.into() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_keep_line_numbers_and_lose_row_content() {
        let duckdb = "Invalid Input Error: CSV Error on Line: 7\nOriginal Line: SO1,ann@shop.com,2024-01-01\nExpected Number of Columns: 14 Found: 3";
        assert_eq!(
            without_row_content(duckdb),
            "Invalid Input Error: CSV Error on Line: 7\nExpected Number of Columns: 14 Found: 3"
        );
        assert_eq!(
            without_row_content("Could not convert string 'ann@shop.com' to INT64 on line 3"),
            "Could not convert string '…' to INT64 on line 3"
        );
        assert_eq!(without_row_content("customer bob@x.org failed"), "customer <e-mail> failed");
        assert_eq!(without_row_content("it's fine: @ alone"), "it's fine: @ alone");
    }
}
