//! Adapters between the app and code that other modules own: the analysis file location, the
//! sample-data generator and the shared segment palette.
//!
//! Everything here is called from background jobs (never from the UI thread) except the palette
//! and path helpers, which do no I/O.

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
    std::fs::create_dir_all(dir).map_err(|e| BackendError::CreateDir {
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

/// Colours of the shared palette (RGB), until `crate::palette` lands.
///
/// TODO(palette): forward to `crate::palette::{segment_rgb, OUTLIER_RGB, NOT_SEGMENTED_RGB}`.
pub mod palette {
    /// Tableau-10, the fallback palette for segments 1..=10, then repeating.
    const SEGMENTS: [[u8; 3]; 10] = [
        [31, 119, 180],
        [255, 127, 14],
        [44, 160, 44],
        [214, 39, 40],
        [148, 103, 189],
        [140, 86, 75],
        [227, 119, 194],
        [127, 127, 127],
        [188, 189, 34],
        [23, 190, 207],
    ];

    /// Colour of segment `segment` (1-based).
    pub fn segment_rgb(segment: usize) -> [u8; 3] {
        SEGMENTS[segment.saturating_sub(1) % SEGMENTS.len()]
    }

    /// Colour of DBSCAN outliers.
    pub const OUTLIER_RGB: [u8; 3] = [90, 90, 90];
    /// Colour of customers that were not segmented (too few orders).
    pub const NOT_SEGMENTED_RGB: [u8; 3] = [200, 200, 200];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn analysis_file_is_named_after_the_csv() {
        let db = analysis_path_for(Path::new("/data"), Path::new("/home/me/orders 2024.csv"));
        assert_eq!(db, Path::new("/data/analyses/orders 2024.duckdb"));
    }

    #[test]
    fn segment_colours_are_one_based_and_repeat() {
        assert_eq!(palette::segment_rgb(1), [31, 119, 180]);
        assert_eq!(palette::segment_rgb(11), palette::segment_rgb(1));
        assert_eq!(palette::segment_rgb(0), palette::segment_rgb(1));
    }
}
