//! Logging: `tracing` to stderr and to a per-run file `pipeline_execution_<timestamp>.log` in a
//! logs folder (beside the DB for the CLI, in the app's data dir for the GUI).
//!
//! Log files and their folder are owner-only (see `pipeline::private_files`), and no log line
//! carries row content: paths, counts, timings and line numbers only. Deleting an analysis may
//! remove the file being written; [`continue_in_new_file_if_removed`] then starts another.

use crate::pipeline::private_files;
use crate::pipeline::sample::calendar::civil_from_days;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::writer::MakeWriterExt;

/// The log file being written: its folder, its path and the open file.
struct CurrentLog {
    dir: PathBuf,
    path: PathBuf,
    file: File,
}

static CURRENT: Mutex<Option<CurrentLog>> = Mutex::new(None);

/// `YYYYMMDD_HHMMSS` in UTC, without pulling in a date crate.
pub fn utc_timestamp() -> String {
    let secs =
        SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    format!("{year:04}{month:02}{day:02}_{:02}{:02}{:02}", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// A new owner-only log file in `log_dir`.
fn open_log_file(log_dir: &Path) -> Option<CurrentLog> {
    let path = log_dir.join(format!("pipeline_execution_{}.log", utc_timestamp()));
    private_files::create_dir_all(log_dir).ok()?;
    let file = private_files::create_file(&path).ok()?;
    Some(CurrentLog { dir: log_dir.to_path_buf(), path, file })
}

/// Writes each record to the current log file, whichever it is.
struct ToCurrentFile;

impl Write for ToCurrentFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match CURRENT.lock() {
            Ok(mut guard) => match guard.as_mut() {
                Some(log) => log.file.write(buf),
                None => Ok(buf.len()),
            },
            Err(_) => Ok(buf.len()),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match CURRENT.lock() {
            Ok(mut guard) => guard.as_mut().map_or(Ok(()), |log| log.file.flush()),
            Err(_) => Ok(()),
        }
    }
}

impl<'a> MakeWriter<'a> for ToCurrentFile {
    type Writer = ToCurrentFile;

    fn make_writer(&'a self) -> Self::Writer {
        ToCurrentFile
    }
}

/// Start logging: warnings and errors to stderr, everything at `info` (or `RUST_LOG`) to a new
/// log file in `log_dir`. Returns the log file path, or None if the folder is not writable.
pub fn init(log_dir: &Path) -> Option<PathBuf> {
    match open_log_file(log_dir) {
        Some(log) => {
            let path = log.path.clone();
            if let Ok(mut guard) = CURRENT.lock() {
                *guard = Some(log);
            }
            let writer = std::io::stderr.with_max_level(tracing::Level::WARN).and(ToCurrentFile);
            let _ = tracing_subscriber::fmt()
                .with_env_filter(
                    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
                )
                .with_writer(writer)
                .with_ansi(false)
                .try_init();
            Some(path)
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

/// The log file being written, if any.
pub fn current_file() -> Option<PathBuf> {
    CURRENT.lock().ok().and_then(|guard| guard.as_ref().map(|log| log.path.clone()))
}

/// If the log file being written was deleted (with the analysis it belonged to), go on in a new
/// file in the same folder.
pub fn continue_in_new_file_if_removed() {
    let Ok(mut guard) = CURRENT.lock() else { return };
    let Some(log) = guard.as_ref() else { return };
    if log.path.exists() {
        return;
    }
    let dir = log.dir.clone();
    *guard = open_log_file(&dir);
}
