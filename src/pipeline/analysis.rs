//! One analysis = one DuckDB file. [`Analysis`] is the facade the CLI and the app call: one method
//! per stage (plain data in and out, progress and cancel passed in) and read-only views of the layers.
//!
//! DuckDB connections are `Send` but not `Sync`: a worker thread takes its own handle with
//! [`Analysis::try_clone`].

use crate::pipeline::config::Config;
use crate::pipeline::error::Result;
use crate::pipeline::model::*;
use crate::pipeline::progress::{Progress, Stage};
use std::path::{Path, PathBuf};

/// An open analysis file.
pub struct Analysis {
    db_path: PathBuf,
}

impl Analysis {
    /// Open (or create) the analysis file. A file locked by another process gives
    /// `PipelineError::DatabaseLocked`.
    pub fn open(db_path: &Path, _config: &Config) -> Result<Self> {
        Ok(Self { db_path: db_path.to_path_buf() })
    }

    /// A second handle on the same file, for a worker thread.
    pub fn try_clone(&self) -> Result<Self> {
        Ok(Self { db_path: self.db_path.clone() })
    }

    pub fn db_path(&self) -> &Path {
        &self.db_path
    }

    /// The last stage whose layer is complete in this file (None for a new file).
    pub fn completed_stage(&self) -> Result<Option<Stage>> {
        todo!()
    }

    /// Header, delimiter and first rows of a CSV, without loading it.
    pub fn preview_csv(_path: &Path, _rows: usize) -> Result<CsvPreview> {
        todo!()
    }

    /// Load the CSV into `bronze_return_order_data` (replacing any earlier load).
    pub fn ingest(&self, _csv: &Path, _config: &Config, _progress: &Progress) -> Result<IngestSummary> {
        todo!()
    }

    /// Apply the cleaning table, count every quality case, run the dataset checks.
    pub fn validate(&self, _config: &Config, _progress: &Progress) -> Result<QualityReport> {
        todo!()
    }

    /// Build `silver_customer_features`.
    pub fn features(&self, _config: &Config, _progress: &Progress) -> Result<FeatureSummary> {
        todo!()
    }

    /// The stored quality report of the last validation, if any.
    pub fn quality_report(&self) -> Result<Option<QualityReport>> {
        todo!()
    }

    /// The stored feature summary, if the features stage has run.
    pub fn feature_summary(&self) -> Result<Option<FeatureSummary>> {
        todo!()
    }

    /// The silver layer as columns (every customer).
    pub fn feature_table(&self) -> Result<FeatureTable> {
        todo!()
    }
}
