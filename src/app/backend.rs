//! Adapters between the app and code that other modules own: the analysis file location, the
//! sample-data generator.
//!
//! Everything here is called from background jobs (never from the UI thread) except the path
//! helpers, which do no I/O.

use crate::pipeline::config::Config;
use crate::pipeline::sample;
use crate::pipeline::{Analysis, PipelineError};
use std::path::{Path, PathBuf};

/// Failures of the adapters that are not pipeline errors.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("cannot create the folder {path}: {reason}")]
    CreateDir { path: String, reason: String },
    #[error("the sample data could not be written: {0}")]
    Sample(String),
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
}

/// How many customers "Try sample data" generates.
pub const SAMPLE_CUSTOMERS: usize = 3_000;
/// Seed of the sample data (the same file every time).
pub const SAMPLE_SEED: u64 = 42;

/// The default data folder: `directories::ProjectDirs::from("com", "ReturnScope", "ReturnScope")`.
pub fn default_data_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("com", "ReturnScope", "ReturnScope")
        .map(|dirs| dirs.data_dir().to_path_buf())
}

/// Create the data folder owner-only, and make one that an earlier version created readable by
/// others (0755) owner-only: it holds every analysis, so every customer's e-mail.
pub fn make_data_dir_private(data_dir: &Path) {
    let result = crate::pipeline::private_files::create_dir_all(data_dir)
        .and_then(|_| crate::pipeline::private_files::restrict(data_dir));
    if let Err(err) = result {
        tracing::warn!("cannot make the data folder {} private: {err}", data_dir.display());
    }
}

/// Where the analysis of `csv` lives: `<data_dir>/analyses/<csv stem>.duckdb`.
pub fn analysis_path_for(data_dir: &Path, csv: &Path) -> PathBuf {
    let stem =
        csv.file_stem().map_or_else(|| "analysis".into(), |s| s.to_string_lossy().into_owned());
    data_dir.join("analyses").join(format!("{stem}.duckdb"))
}

/// Where the sample CSV is written.
pub fn sample_csv_path(data_dir: &Path) -> PathBuf {
    data_dir.join("samples").join("returnscope-sample.csv")
}

/// Where the log files are written (see `crate::logging`).
pub fn log_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("logs")
}

/// Create `dir` and its parents.
pub fn ensure_dir(dir: &Path) -> Result<(), BackendError> {
    crate::pipeline::private_files::create_dir_all(dir).map_err(|e| BackendError::CreateDir {
        path: dir.display().to_string(),
        reason: e.to_string(),
    })
}

/// Open (or create) the analysis file for `csv`, creating its folder first.
pub fn open_analysis_for_csv(
    data_dir: &Path,
    csv: &Path,
    config: &Config,
) -> Result<Analysis, BackendError> {
    let db = analysis_path_for(data_dir, csv);
    if let Some(parent) = db.parent() {
        ensure_dir(parent)?;
    }
    Ok(Analysis::open(&db, config)?)
}

/// What the sample generator wrote.
#[derive(Debug, Clone)]
pub struct SampleWritten {
    pub csv: PathBuf,
    pub description: String,
}

/// Write a clean generated data set of `customers` customers to `out_csv`.
pub fn write_sample(
    out_csv: &Path,
    customers: usize,
    seed: u64,
) -> Result<SampleWritten, BackendError> {
    if let Some(parent) = out_csv.parent() {
        ensure_dir(parent)?;
    }
    let options = sample::SampleOptions { customers, seed, clean: true };
    let summary =
        sample::write_sample(out_csv, &options).map_err(|e| BackendError::Sample(e.to_string()))?;
    Ok(SampleWritten {
        csv: out_csv.to_path_buf(),
        description: format!(
            "Sample data: {} generated customers, {} order lines, written to {}.",
            summary.customers,
            summary.rows_written,
            out_csv.display()
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn analysis_file_is_named_after_the_csv() {
        let db = analysis_path_for(Path::new("/data"), Path::new("/home/me/orders 2024.csv"));
        assert_eq!(db, Path::new("/data/analyses/orders 2024.duckdb"));
    }
}
