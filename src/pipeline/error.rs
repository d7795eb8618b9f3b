//! The pipeline's error type: every failure a user can cause says what was wrong and what to do.

use crate::pipeline::config::ConfigError;
use crate::pipeline::progress::Cancelled;

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

    #[error("the features table {path} cannot be segmented: {problem}. Nothing was written.")]
    SilverTable { path: String, problem: String },

    #[error("database error during {context}: {}", without_row_content(&source.to_string()))]
    Db {
        context: String,
        #[source]
        source: duckdb::Error,
    },

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
        self.map_err(|source| PipelineError::Db { context: context.to_string(), source })
    }
}

pub type Result<T, E = PipelineError> = std::result::Result<T, E>;

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
