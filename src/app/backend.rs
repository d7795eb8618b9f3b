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

/// Where the analysis of `csv` lives: `<data_dir>/analyses/<csv stem>-<hash>.duckdb`, the hash
/// being the first 8 hex digits of the SHA-256 of the CSV's absolute path. Two files with the
/// same name in different folders (`jan/orders.csv`, `feb/orders.csv`) get their own analyses;
/// loading the same file again reuses its analysis. No I/O (the path is made absolute against
/// the working folder, symbolic links are not followed).
pub fn analysis_path_for(data_dir: &Path, csv: &Path) -> PathBuf {
    use sha2::Digest as _;
    let stem =
        csv.file_stem().map_or_else(|| "analysis".into(), |s| s.to_string_lossy().into_owned());
    let absolute = std::path::absolute(csv).unwrap_or_else(|_| csv.to_path_buf());
    let digest = sha2::Sha256::digest(absolute.as_os_str().as_encoded_bytes());
    let short: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    data_dir.join("analyses").join(format!("{stem}-{short}.duckdb"))
}

/// Where the analysis of the features table `table` (named `name`) lives:
/// `<data_dir>/analyses/<name> features-<hash>.duckdb`, the hash as in [`analysis_path_for`].
pub fn features_analysis_path_for(data_dir: &Path, table: &Path, name: &str) -> PathBuf {
    let csv_like = analysis_path_for(data_dir, table);
    let hash = csv_like
        .file_stem()
        .and_then(|s| s.to_str())
        .and_then(|s| s.rsplit_once('-'))
        .map_or("", |(_, hash)| hash)
        .to_string();
    data_dir.join("analyses").join(format!("{name} features-{hash}.duckdb"))
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
    open_analysis_at(&analysis_path_for(data_dir, csv), config)
}

/// Open (or create) the analysis file `db`, creating its folder first.
pub fn open_analysis_at(db: &Path, config: &Config) -> Result<Analysis, BackendError> {
    if let Some(parent) = db.parent() {
        ensure_dir(parent)?;
    }
    Ok(Analysis::open(db, config)?)
}

/// What the sample generator wrote.
#[derive(Debug, Clone)]
pub struct SampleWritten {
    pub csv: PathBuf,
    pub description: String,
}

/// Write a generated extract of `customers` customers to `out_csv`, with the dirt a real
/// export has (bad dates and quantities, duplicates, mixed timestamp forms and e-mail spellings,
/// a few malformed lines) at small known rates, so the Validate page shows cleaning at work.
pub fn write_sample(
    out_csv: &Path,
    customers: usize,
    seed: u64,
) -> Result<SampleWritten, BackendError> {
    if let Some(parent) = out_csv.parent() {
        ensure_dir(parent)?;
    }
    let options = sample::SampleOptions { customers, seed, clean: false };
    let summary =
        sample::write_sample(out_csv, &options).map_err(|e| BackendError::Sample(e.to_string()))?;
    let planted: u64 = summary.planted.values().sum();
    Ok(SampleWritten {
        csv: out_csv.to_path_buf(),
        description: format!(
            "Sample data: {} generated customers, {} order lines ({} of them dirty, for the \
             cleaning to fix), written to {}.",
            summary.customers,
            summary.rows_written,
            planted,
            out_csv.display()
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_csv_gets_its_own_analysis_named_after_it() {
        let data = Path::new("/data");
        let db = analysis_path_for(data, Path::new("/home/me/orders 2024.csv"));
        // sha256("/home/me/orders 2024.csv") starts 62e71e7c (printf "%s" PATH | sha256sum).
        assert_eq!(db, Path::new("/data/analyses/orders 2024-62e71e7c.duckdb"));
        let jan = analysis_path_for(data, Path::new("/shop/jan/orders.csv"));
        let feb = analysis_path_for(data, Path::new("/shop/feb/orders.csv"));
        assert_ne!(jan, feb, "same name, other folder: another analysis");
        assert!(
            file_name_of(&jan).starts_with("orders-") && file_name_of(&feb).starts_with("orders-")
        );
        assert_eq!(jan, analysis_path_for(data, Path::new("/shop/jan/orders.csv")), "stable");
        // A relative path names the same file as its absolute form.
        let here = std::env::current_dir().unwrap();
        assert_eq!(
            analysis_path_for(data, Path::new("orders.csv")),
            analysis_path_for(data, &here.join("orders.csv"))
        );
    }

    fn file_name_of(path: &Path) -> String {
        path.file_name().unwrap().to_string_lossy().into_owned()
    }
}
