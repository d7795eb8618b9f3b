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
