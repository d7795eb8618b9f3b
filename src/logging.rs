//! Logging: `tracing` to stderr and to a per-run file `pipeline_execution_<timestamp>.log` in a
//! logs folder (beside the DB for the CLI, in the app's data dir for the GUI).

use crate::pipeline::sample::calendar::civil_from_days;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::writer::MakeWriterExt;

/// `YYYYMMDD_HHMMSS` in UTC, without pulling in a date crate.
pub fn utc_timestamp() -> String {
    let secs =
        SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    format!("{year:04}{month:02}{day:02}_{:02}{:02}{:02}", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Start logging: warnings and errors to stderr, everything at `info` (or `RUST_LOG`) to a new
/// log file in `log_dir`. Returns the log file path, or None if the folder is not writable.
pub fn init(log_dir: &Path) -> Option<PathBuf> {
    let file_path = log_dir.join(format!("pipeline_execution_{}.log", utc_timestamp()));
    let file =
        std::fs::create_dir_all(log_dir).ok().and_then(|_| std::fs::File::create(&file_path).ok());
    match file {
        Some(f) => {
            let writer =
                std::io::stderr.with_max_level(tracing::Level::WARN).and(std::sync::Mutex::new(f));
            let _ = tracing_subscriber::fmt()
                .with_env_filter(
                    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
                )
                .with_writer(writer)
                .with_ansi(false)
                .try_init();
            Some(file_path)
        }
        None => {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(
                    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")),
                )
                .with_writer(std::io::stderr)
                .try_init();
            None
        }
    }
}
