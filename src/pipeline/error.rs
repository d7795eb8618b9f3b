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

    #[error("the analysis file {path} cannot be opened: {reason}")]
    DatabaseOpen { path: String, reason: String },

    #[error(
        "{stage} needs {needs} first: run the earlier stages (returnscope run ... --until {until})."
    )]
    MissingLayer { stage: &'static str, needs: &'static str, until: &'static str },

    #[error("{0}")]
    Data(String),

    #[error("the features table {path} cannot be segmented: {problem}. Nothing was written.")]
    SilverTable { path: String, problem: String },

    #[error("database error during {context}: {source}")]
    Db {
        context: String,
        #[source]
        source: duckdb::Error,
    },

    #[error("cannot write {path}: {reason}")]
    Write { path: String, reason: String },
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
