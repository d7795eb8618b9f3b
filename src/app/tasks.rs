//! The work each background job does, and what it sends back ([`JobOutput`]).
//!
//! Every function here runs on a worker thread (see `jobs.rs`); none touches the UI.

use crate::app::backend::{self, BackendError, SampleWritten};
use crate::app::jobs::JobPanicked;
use crate::pipeline::config::Config;
use crate::pipeline::model::{
    CsvPreview, FeatureSummary, FeatureTable, IngestSummary, QualityReport,
};
use crate::pipeline::progress::{Progress, Stage};
use crate::pipeline::{Analysis, PipelineError};
use std::path::{Path, PathBuf};

/// How many data rows the Load page previews.
pub const PREVIEW_ROWS: usize = 20;

/// Why a job failed, as the user reads it.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error("internal error (please report it with the log file): {0}")]
    Internal(String),
}

impl AppError {
    /// The user stopped the job.
    pub fn is_cancelled(&self) -> bool {
        matches!(
            self,
            AppError::Pipeline(PipelineError::Cancelled)
                | AppError::Backend(BackendError::Pipeline(PipelineError::Cancelled))
        )
    }
}

/// What a file dialog was opened for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PickPurpose {
    OpenCsv,
    OpenAnalysis,
}

/// A loaded analysis file's stored results, read without recomputing anything.
#[derive(Debug, Default)]
pub struct Restored {
    pub last_stage: Option<Stage>,
    pub ingest: Option<IngestSummary>,
    pub quality: Option<QualityReport>,
    pub features: Option<(FeatureSummary, FeatureTable)>,
}

/// The result of one job.
// One value per job crosses the channel, so the size of the largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum JobOutput {
    Picked {
        purpose: PickPurpose,
        path: Option<PathBuf>,
    },
    SampleWritten(Result<SampleWritten, AppError>),
    Preview {
        csv: PathBuf,
        result: Result<CsvPreview, AppError>,
    },
    /// `analysis` is the handle the job opened (kept even when a later stage failed).
    Loaded {
        analysis: Option<Analysis>,
        result: Result<(IngestSummary, QualityReport), AppError>,
    },
    Features(Result<(FeatureSummary, FeatureTable), AppError>),
    Restored {
        analysis: Option<Analysis>,
        path: PathBuf,
        result: Result<Restored, AppError>,
    },
    Panicked(String),
}

impl From<JobPanicked> for JobOutput {
    fn from(p: JobPanicked) -> Self {
        JobOutput::Panicked(p.0)
    }
}

/// Show a native file dialog (blocks this worker thread only).
pub fn pick_file(purpose: PickPurpose, start_dir: Option<PathBuf>) -> JobOutput {
    let mut dialog = rfd::FileDialog::new();
    dialog = match purpose {
        PickPurpose::OpenCsv => dialog
            .set_title("Open order lines (CSV)")
            .add_filter("CSV files", &["csv", "txt", "tsv"]),
        PickPurpose::OpenAnalysis => {
            dialog.set_title("Open an analysis").add_filter("ReturnScope analysis", &["duckdb"])
        }
    };
    if let Some(dir) = start_dir {
        dialog = dialog.set_directory(dir);
    }
    JobOutput::Picked { purpose, path: dialog.pick_file() }
}

/// Generate the sample CSV in the data folder.
pub fn write_sample(data_dir: &Path) -> JobOutput {
    let csv = backend::sample_csv_path(data_dir);
    JobOutput::SampleWritten(
        backend::write_sample(&csv, backend::SAMPLE_CUSTOMERS, backend::SAMPLE_SEED)
            .map_err(AppError::from),
    )
}

/// Read the header and first rows of `csv`.
pub fn preview(csv: PathBuf) -> JobOutput {
    let result = Analysis::preview_csv(&csv, PREVIEW_ROWS).map_err(AppError::from);
    JobOutput::Preview { csv, result }
}

/// Open the analysis file for `csv`, load the CSV into it and validate.
pub fn load_and_validate(
    data_dir: &Path,
    csv: &Path,
    config: &Config,
    progress: &Progress,
) -> JobOutput {
    let analysis = match backend::open_analysis_for_csv(data_dir, csv, config) {
        Ok(a) => a,
        Err(err) => return JobOutput::Loaded { analysis: None, result: Err(err.into()) },
    };
    let result = (|| -> Result<_, AppError> {
        let ingest = analysis.ingest(csv, config, &progress.for_stage(Stage::Ingest))?;
        progress.check_cancel().map_err(PipelineError::from)?;
        let quality = analysis.validate(config, &progress.for_stage(Stage::Validate))?;
        Ok((ingest, quality))
    })();
    JobOutput::Loaded { analysis: Some(analysis), result }
}

/// Build the silver layer, then read it back for the Features page.
pub fn build_features(
    analysis: Result<Analysis, PipelineError>,
    config: &Config,
    progress: &Progress,
) -> JobOutput {
    let result = (|| -> Result<_, AppError> {
        let analysis = analysis?;
        let summary = analysis.features(config, &progress.for_stage(Stage::Features))?;
        progress.check_cancel().map_err(PipelineError::from)?;
        let table = analysis.feature_table()?;
        Ok((summary, table))
    })();
    JobOutput::Features(result)
}

/// Open an existing analysis file and read what it holds, recomputing nothing.
pub fn restore(db: PathBuf, config: &Config) -> JobOutput {
    let analysis = match Analysis::open(&db, config) {
        Ok(a) => a,
        Err(err) => {
            return JobOutput::Restored { analysis: None, path: db, result: Err(err.into()) };
        }
    };
    let result = read_stored(&analysis);
    JobOutput::Restored { analysis: Some(analysis), path: db, result }
}

fn read_stored(analysis: &Analysis) -> Result<Restored, AppError> {
    let last_stage = analysis.completed_stage()?;
    let quality =
        if last_stage >= Some(Stage::Validate) { analysis.quality_report()? } else { None };
    let summary =
        if last_stage >= Some(Stage::Features) { analysis.feature_summary()? } else { None };
    let features = match summary {
        Some(summary) => Some((summary, analysis.feature_table()?)),
        None => None,
    };
    let ingest = if last_stage.is_some() { analysis.ingest_summary()? } else { None };
    Ok(Restored { last_stage, ingest, quality, features })
}
