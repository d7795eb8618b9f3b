//! The DuckDB store: opening an analysis file safely, running a stage's SQL in one transaction,
//! and running long statements with progress and cancellation.
//!
//! DuckDB is opened with extension auto-install and auto-load off (it must never reach for the
//! network), a bounded memory limit and a temp directory for spilling. A file held by another
//! process gives [`PipelineError::DatabaseLocked`] instead of DuckDB's raw message.

use crate::pipeline::config::StoreConfig;
use crate::pipeline::error::{DbContext, PipelineError, Result};
use crate::pipeline::memory::MemoryBudget;
use crate::pipeline::private_files;
use crate::pipeline::progress::Progress;
use duckdb::Connection;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What a log line says before the analysis file's full path (see [`Store::open`]).
pub const LOG_MARKER: &str = "analysis file: ";

/// How often a long statement's progress is read from DuckDB (and a cancel looked for).
const PROGRESS_LOOK_EVERY: Duration = Duration::from_millis(100);

/// DuckDB's write-ahead log of the analysis file `db`.
pub fn wal_path(db: &Path) -> PathBuf {
    with_suffix(db, ".wal")
}

/// The folder DuckDB spills to for `db` (unless `store.temp_directory` names another).
pub fn spill_dir(db: &Path) -> PathBuf {
    with_suffix(db, ".tmp")
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// An open DuckDB connection to one analysis file.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    /// `<db>.tmp`, DuckDB's spill folder, unless the configuration names another one.
    spill_folder: Option<PathBuf>,
    /// How much memory the analysis may use (DuckDB gets three quarters of it).
    budget: MemoryBudget,
}

pub(crate) fn is_lock_error(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("could not set lock") || m.contains("conflicting lock")
}

fn db_config(
    path: &Path,
    cfg: &StoreConfig,
    budget: &MemoryBudget,
) -> duckdb::Result<duckdb::Config> {
    let mut config = duckdb::Config::default()
        .enable_autoload_extension(false)?
        .with("autoinstall_known_extensions", "false")?
        .with("autoload_known_extensions", "false")?;
    config = config.max_memory(&budget.duckdb_limit())?;
    if cfg.threads > 0 {
        config = config.threads(cfg.threads as i64)?;
    }
    let temp = if cfg.temp_directory.trim().is_empty() {
        spill_dir(path)
    } else {
        PathBuf::from(cfg.temp_directory.trim())
    };
    config.with("temp_directory", temp.to_string_lossy())
}

impl Store {
    /// Open (or create) the DuckDB file at `path`.
    pub fn open(path: &Path, cfg: &StoreConfig) -> Result<Self> {
        if let Some(parent) = path.parent()
            && !parent.as_os_str().is_empty()
            && !parent.exists()
        {
            private_files::create_dir_all(parent).map_err(|e| PipelineError::DatabaseOpen {
                path: path.display().to_string(),
                reason: format!("cannot create the folder {}: {e}", parent.display()),
            })?;
        }
        let budget = MemoryBudget::for_limit(&cfg.memory_limit)
            .map_err(|e| PipelineError::Data(e.to_string()))?;
        let config = db_config(path, cfg, &budget).db("configuring DuckDB")?;
        let is_new = !path.exists();
        let conn = Connection::open_with_flags(path, config).map_err(|e| {
            let message = e.to_string();
            if is_lock_error(&message) {
                PipelineError::DatabaseLocked { path: path.display().to_string() }
            } else {
                tracing::info!("opening {}: {message}", path.display());
                PipelineError::DatabaseOpen {
                    path: path.display().to_string(),
                    reason: crate::pipeline::error::describe_open_failure(&message),
                }
            }
        })?;
        let spill_folder = cfg.temp_directory.trim().is_empty().then(|| spill_dir(path));
        let store = Self { conn, path: path.to_path_buf(), spill_folder, budget };
        store.ensure_state_table()?;
        store.tidy_spill_folder();
        if is_new {
            store.restrict_new_files();
        }
        log_analysis_file(path);
        Ok(store)
    }

    /// A new analysis file (and its write-ahead log) is owner-only: DuckDB creates them with the
    /// process's umask, which the app and the CLI tighten at start-up, but library callers may
    /// not have.
    fn restrict_new_files(&self) {
        for file in [self.path.clone(), wal_path(&self.path)] {
            if let Err(err) = private_files::restrict(&file) {
                tracing::warn!("cannot make {} private: {err}", file.display());
            }
        }
    }

    /// A second connection to the same database (for another thread).
    pub fn try_clone(&self) -> Result<Self> {
        let conn = self.conn.try_clone().db("opening a second connection")?;
        Ok(Self {
            conn,
            path: self.path.clone(),
            spill_folder: self.spill_folder.clone(),
            budget: self.budget,
        })
    }

    /// How much memory this analysis may use.
    pub fn memory_budget(&self) -> MemoryBudget {
        self.budget
    }

    /// Remove `<db>.tmp` when it is empty (a stage has ended, or an earlier process left it).
    /// While the database spills, DuckDB keeps a marker file in it, so a folder in use is never
    /// removed (DuckDB creates it once per open database and would not create it again); DuckDB
    /// itself removes the folder it created when the analysis is closed.
    pub fn tidy_spill_folder(&self) {
        if let Some(folder) = &self.spill_folder {
            let _ = std::fs::remove_dir(folder);
        }
    }

    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn ensure_state_table(&self) -> Result<()> {
        self.conn
            .execute_batch(
                "CREATE TABLE IF NOT EXISTS pipeline_state (
                    stage VARCHAR PRIMARY KEY,
                    completed_at TIMESTAMP,
                    details VARCHAR
                 );",
            )
            .db("creating the pipeline state table")
    }

    /// Does a table exist in the main schema?
    pub fn table_exists(&self, name: &str) -> Result<bool> {
        let n: i64 = self
            .conn
            .query_row(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main' AND table_name = ?",
                [name],
                |r| r.get(0),
            )
            .db("looking up a table")?;
        Ok(n > 0)
    }

    /// Run `body` inside one transaction: all of a stage's writes land, or none do.
    pub fn in_transaction<T>(&self, body: impl FnOnce(&Store) -> Result<T>) -> Result<T> {
        self.conn.execute_batch("BEGIN TRANSACTION").db("starting a transaction")?;
        match body(self) {
            Ok(v) => {
                self.conn.execute_batch("COMMIT").db("committing the stage")?;
                Ok(v)
            }
            Err(e) => {
                if let Err(rollback) = self.conn.execute_batch("ROLLBACK") {
                    tracing::info!("rollback after a failed stage also failed: {rollback}");
                }
                Err(e)
            }
        }
    }

    /// Write everything committed into the database file now (DuckDB compresses new row groups
    /// and empties its write-ahead log at a checkpoint). A stage that wrote a large layer calls
    /// this before it reports done, so it pays for its own storage: otherwise the next stage's
    /// commit triggers the checkpoint and the cost shows up there.
    pub fn checkpoint(&self, layer: &str) -> Result<()> {
        let started = std::time::Instant::now();
        self.conn.execute_batch("CHECKPOINT").db("writing the layer to the analysis file")?;
        tracing::info!("checkpoint after {layer}: {:.2} s", started.elapsed().as_secs_f64());
        Ok(())
    }

    /// Execute SQL that may run for a while: progress from DuckDB's own estimate is mapped into
    /// `fraction_range`, and cancelling interrupts the query.
    pub fn execute_monitored(
        &self,
        sql: &str,
        context: &str,
        progress: &Progress,
        fraction_range: (f64, f64),
    ) -> Result<()> {
        self.execute_watched(sql, context, progress, fraction_range, PROGRESS_LOOK_EVERY)
    }

    /// [`Self::execute_monitored`], looking at the progress (and for a cancel) every `look_every`.
    fn execute_watched(
        &self,
        sql: &str,
        context: &str,
        progress: &Progress,
        fraction_range: (f64, f64),
        look_every: Duration,
    ) -> Result<()> {
        progress.check_cancel()?;
        // Announce the step before it runs: DuckDB reports a percentage only for queries that
        // last a while, so a stage of short statements would otherwise say nothing (and could
        // not be cancelled from a progress report) until it ends.
        progress.update(fraction_range.0, context.to_string());
        self.conn.set_query_progress_tracking(true).db("enabling progress tracking")?;
        let interrupt = self.conn.interrupt_handle();
        let progress_handle = self.conn.progress_handle();
        // The watcher waits on this channel between looks at the query's progress: the
        // statement's end (the sender dropped) wakes it at once, so a statement is never
        // followed by the rest of a watcher's sleep (up to 100 ms each, several per stage).
        let (finished, statement_done) = crossbeam_channel::bounded::<()>(0);
        let outcome = std::thread::scope(|scope| {
            let watcher_progress = progress.clone();
            scope.spawn(move || {
                let (lo, hi) = fraction_range;
                loop {
                    if watcher_progress.is_cancelled() {
                        interrupt.interrupt();
                        break;
                    }
                    if let Some(pct) = progress_handle.query_progress().percentage() {
                        let f = lo + (hi - lo) * (pct / 100.0).clamp(0.0, 1.0);
                        watcher_progress.update(f, context.to_string());
                    }
                    match statement_done.recv_timeout(look_every) {
                        Err(crossbeam_channel::RecvTimeoutError::Timeout) => continue,
                        _ => break,
                    }
                }
            });
            let started = std::time::Instant::now();
            let result = self.conn.execute_batch(sql);
            drop(finished);
            tracing::info!("{context}: {:.2} s", started.elapsed().as_secs_f64());
            result
        });
        if progress.is_cancelled() {
            return Err(PipelineError::Cancelled);
        }
        outcome.db(context)
    }

    /// Read one scalar.
    pub fn scalar_i64(&self, sql: &str) -> Result<i64> {
        self.conn.query_row(sql, [], |r| r.get::<_, Option<i64>>(0)).db(sql).map(|v| v.unwrap_or(0))
    }
}

/// Note in the log which analysis file this process works on, so that deleting the analysis can
/// find the logs that belong to it (see `pipeline::analysis_files`).
fn log_analysis_file(path: &Path) {
    let full = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    tracing::info!("{}{}", LOG_MARKER, full.display());
}

/// Quote an identifier for SQL.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Quote a string literal for SQL.
pub fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The analysis an ignored benchmark reads, named by `GOLD_DB`; `None` (after saying so) when
/// it is not set.
#[cfg(test)]
pub(crate) fn bench_analysis() -> Option<Store> {
    let Ok(path) = std::env::var("GOLD_DB") else {
        println!("set GOLD_DB");
        return None;
    };
    Some(Store::open(path.as_ref(), &StoreConfig::default()).expect("GOLD_DB opens as an analysis"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::progress::CancelToken;
    use std::time::Instant;

    fn memory_store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("a.duckdb"), &StoreConfig::default()).unwrap();
        (dir, store)
    }

    #[test]
    fn a_monitored_statement_returns_when_it_ends_not_when_the_watcher_looks_next() {
        let (_dir, store) = memory_store();
        let started = Instant::now();
        let look_every = Duration::from_secs(30);
        store
            .execute_watched(
                "CREATE TABLE t AS SELECT 1 AS x",
                "t",
                &Progress::none(),
                (0.0, 1.0),
                look_every,
            )
            .unwrap();
        // Before the watcher woke on the statement's end, every statement also waited out the
        // watcher's sleep: 30 s here.
        assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
        assert_eq!(store.scalar_i64("SELECT count(*) FROM t").unwrap(), 1);
    }

    #[test]
    fn a_cancel_interrupts_a_long_monitored_statement() {
        let (_dir, store) = memory_store();
        let token = CancelToken::new();
        let progress = Progress::new(|_| {}, token.clone());
        let canceller = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            token.cancel();
        });
        // Minutes of work if nothing interrupts it.
        let endless = "CREATE TABLE t AS SELECT sum(a.range * b.range) AS s FROM range(1000000000) a, range(1000) b";
        let outcome =
            store.execute_watched(endless, "t", &progress, (0.0, 1.0), Duration::from_millis(20));
        canceller.join().unwrap();
        assert!(matches!(outcome, Err(PipelineError::Cancelled)), "{outcome:?}");
    }
}
