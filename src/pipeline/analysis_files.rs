//! The files that make up one analysis, and forgetting it: [`delete_analysis`] removes the
//! analysis file, its write-ahead log (`<db>.wal`), its spill folder (`<db>.tmp`), its metadata
//! and the log files that belong to it, and nothing else.
//!
//! A log file belongs to an analysis when every analysis file it names is this one: each process
//! writes `store::LOG_MARKER` and the analysis file's full path into its log when it opens an
//! analysis (see `Store::open`). A log that also names another analysis (an app session that
//! opened two) is kept; logs hold no customer data, only paths, counts and timings.

use crate::pipeline::error::{PipelineError, Result};
use crate::pipeline::metadata::metadata_path;
use crate::pipeline::store::{LOG_MARKER, is_lock_error, spill_dir, wal_path};
use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};

/// The metadata's name when it was one file per folder (before it was named after the analysis).
const SHARED_METADATA: &str = "clustering_metadata.json";

/// The logs folder beside `db`, where the command line writes its logs.
pub fn log_dir_beside(db: &Path) -> PathBuf {
    db.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).join("logs")
}

/// What [`delete_analysis`] removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deleted {
    /// Every file and folder removed, the analysis file first.
    pub removed: Vec<PathBuf>,
}

/// Remove the analysis `db` and everything that belongs to it: its `.wal`, spill folder,
/// metadata, and the logs in `log_dirs` (and beside it) that name only this analysis. Refuses a
/// file that is not a DuckDB analysis and one another program has open.
pub fn delete_analysis(db: &Path, log_dirs: &[PathBuf]) -> Result<Deleted> {
    let mut deleted = Deleted::default();
    for path in files_of(db, log_dirs)? {
        if remove(&path)? {
            deleted.removed.push(path);
        }
    }
    tracing::info!("deleted the analysis {} ({} files)", db.display(), deleted.removed.len());
    Ok(deleted)
}

/// The files and folders of the analysis `db` that exist now, the analysis file first: what
/// [`delete_analysis`] removes. The same checks as deleting.
pub fn files_of(db: &Path, log_dirs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    check_is_analysis(db)?;
    check_not_in_use(db)?;
    let full = std::fs::canonicalize(db).unwrap_or_else(|_| db.to_path_buf());
    let mut doomed = vec![db.to_path_buf(), wal_path(db), spill_dir(db)];
    let metadata = metadata_path(db);
    if metadata_belongs_to(db, &metadata) {
        doomed.push(metadata);
    }
    let mut dirs = log_dirs.to_vec();
    dirs.push(log_dir_beside(db));
    dirs.sort();
    dirs.dedup();
    for dir in &dirs {
        doomed.extend(logs_of(&full, dir));
    }
    doomed.retain(|p| std::fs::symlink_metadata(p).is_ok());
    Ok(doomed)
}

/// A DuckDB file has `DUCK` at byte 8; anything else (a CSV given by mistake) is not deleted.
fn check_is_analysis(db: &Path) -> Result<()> {
    let not_analysis = |reason: &str| PipelineError::NotAnAnalysis {
        path: db.display().to_string(),
        reason: reason.to_string(),
    };
    let mut header = [0u8; 12];
    let mut file = std::fs::File::open(db).map_err(|e| not_analysis(&e.to_string()))?;
    file.read_exact(&mut header).map_err(|_| not_analysis("it is too short"))?;
    if &header[8..12] != b"DUCK" {
        return Err(not_analysis("it is not a DuckDB file"));
    }
    Ok(())
}

/// Another process writing to the file holds DuckDB's lock: opening it read-only fails then.
fn check_not_in_use(db: &Path) -> Result<()> {
    let config = duckdb::Config::default()
        .access_mode(duckdb::AccessMode::ReadOnly)
        .and_then(|c| c.enable_autoload_extension(false));
    let opened = config.and_then(|c| duckdb::Connection::open_with_flags(db, c));
    match opened {
        Ok(conn) => {
            drop(conn);
            Ok(())
        }
        Err(e) if is_lock_error(&e.to_string()) => {
            Err(PipelineError::DatabaseLocked { path: db.display().to_string() })
        }
        Err(e) => Err(PipelineError::DatabaseOpen {
            path: db.display().to_string(),
            reason: e.to_string(),
        }),
    }
}

/// The metadata named after the analysis is its own; the old shared name is only when no other
/// analysis file sits in the same folder.
fn metadata_belongs_to(db: &Path, metadata: &Path) -> bool {
    if metadata.file_name().is_none_or(|n| n != SHARED_METADATA) {
        return true;
    }
    let Some(dir) = metadata.parent() else { return false };
    let Ok(entries) =
        std::fs::read_dir(if dir.as_os_str().is_empty() { Path::new(".") } else { dir })
    else {
        return false;
    };
    let others = entries.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| {
        p.extension().is_some_and(|x| x == "duckdb")
            && p.file_name() != db.file_name()
            && check_is_analysis(p).is_ok()
    });
    others.count() == 0
}

/// The `.log` files in `dir` whose every analysis marker names `full_db`.
fn logs_of(full_db: &Path, dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut logs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "log") && names_only(p, full_db))
        .collect();
    logs.sort();
    logs
}

fn names_only(log: &Path, full_db: &Path) -> bool {
    let Ok(file) = std::fs::File::open(log) else { return false };
    let mut named = false;
    for line in std::io::BufReader::new(file).lines() {
        let Ok(line) = line else { return false };
        if let Some(at) = line.find(LOG_MARKER) {
            if Path::new(line[at + LOG_MARKER.len()..].trim_end()) != full_db {
                return false;
            }
            named = true;
        }
    }
    named
}

/// Remove a file or folder; `false` when it was not there.
fn remove(path: &Path) -> Result<bool> {
    let result = match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => Err(e),
        Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
    };
    result.map(|_| true).map_err(|e| PipelineError::Delete {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}
