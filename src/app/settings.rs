//! What the app remembers between runs: theme, window size, recent files, the analyses made
//! (paths and dates only; never customer data) and the Cluster page's settings. Stored as JSON in
//! `<data_dir>/settings.json`.
//!
//! eframe's own persistence needs its `persistence` feature, which this build does not enable, so
//! the app keeps this small file itself. One writer thread ([`SettingsWriter`]) saves it: the UI
//! hands it snapshots, it waits until changes pause for [`SAVE_DELAY`] and writes the latest one
//! atomically (temporary file + rename), so a burst of changes is one write, writes never finish
//! out of order, and a crash never leaves half a file.

use crate::pipeline::config::{Config, EpsSetting};
use crossbeam_channel::{Receiver, Sender};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How many recent files the File menu and the Load page list.
pub const MAX_RECENT: usize = 8;
/// How many analyses the Load page lists.
pub const MAX_ANALYSES: usize = 12;
/// The writer saves once changes have paused this long.
pub const SAVE_DELAY: Duration = Duration::from_millis(300);
/// The version of the settings format (a newer app may migrate an older file by it).
pub const SETTINGS_VERSION: u32 = 2;

/// The theme the user picked in the View menu.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ThemeChoice {
    #[default]
    System,
    Light,
    Dark,
}

/// An analysis file the app made or opened, for the Load page's list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnalysisRecord {
    /// The `.duckdb` file.
    pub db: PathBuf,
    /// The CSV it was loaded from.
    pub source: PathBuf,
    /// When it was last loaded or opened, seconds since 1970 (UTC).
    pub used_at: u64,
}

/// The settings of the Cluster page, kept from one session to the next.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClusterSettings {
    pub eps: EpsSetting,
    pub min_samples: usize,
    pub k_min: usize,
    pub k_max: usize,
    pub n_init: usize,
    pub micro_segments: bool,
    pub micro_eps: EpsSetting,
    pub micro_min_samples: usize,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        Self::from_config(&Config::default())
    }
}

impl ClusterSettings {
    /// The page's settings in `config`.
    pub fn from_config(config: &Config) -> Self {
        Self {
            eps: config.dbscan.eps,
            min_samples: config.dbscan.min_samples,
            k_min: config.kmeans.k_min,
            k_max: config.kmeans.k_max,
            n_init: config.kmeans.n_init,
            micro_segments: config.subcluster.enabled,
            micro_eps: config.subcluster.eps,
            micro_min_samples: config.subcluster.min_samples,
        }
    }

    /// Put these settings into `config`, within the ranges the page allows.
    pub fn apply_to(&self, config: &mut Config) {
        config.dbscan.eps = self.eps;
        config.dbscan.min_samples = self.min_samples.clamp(2, 200);
        config.kmeans.k_min = self.k_min.clamp(2, 30);
        config.kmeans.k_max = self.k_max.clamp(config.kmeans.k_min, 30);
        config.kmeans.n_init = self.n_init.clamp(1, 50);
        config.subcluster.enabled = self.micro_segments;
        config.subcluster.eps = self.micro_eps;
        config.subcluster.min_samples = self.micro_min_samples.clamp(2, 100);
    }
}

/// The persisted settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// The format version the file was written with (0 for files before versions).
    pub version: u32,
    pub theme: ThemeChoice,
    /// Most recent first; CSV and .duckdb files.
    pub recent_files: Vec<PathBuf>,
    /// Analyses made or opened, most recent first.
    pub analyses: Vec<AnalysisRecord>,
    /// The Cluster page's settings; `None` until the user changes one.
    pub cluster: Option<ClusterSettings>,
    /// Inner window size in points at the last exit.
    pub window_size: Option<[f32; 2]>,
}

impl Settings {
    /// The settings file inside the data folder.
    pub fn path_in(data_dir: &Path) -> PathBuf {
        data_dir.join("settings.json")
    }

    /// Read the settings; a missing or unreadable file gives the defaults (logged).
    pub fn load(path: &Path) -> Self {
        match std::fs::read_to_string(path) {
            Ok(text) => serde_json::from_str(&text).unwrap_or_else(|err| {
                tracing::warn!("ignoring unreadable settings {}: {err}", path.display());
                Self::default()
            }),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Self::default(),
            Err(err) => {
                tracing::warn!("cannot read settings {}: {err}", path.display());
                Self::default()
            }
        }
    }

    /// Write the settings now, atomically: a temporary file beside `path`, renamed over it.
    pub fn save(&self, path: &Path) {
        let snapshot = Self { version: SETTINGS_VERSION, ..self.clone() };
        if let Err(err) = write_atomically(path, &snapshot) {
            tracing::warn!("cannot save settings to {}: {err}", path.display());
        }
    }

    /// Put `file` first in the recent list (no duplicates, at most [`MAX_RECENT`]).
    pub fn remember_file(&mut self, file: &Path) {
        self.recent_files.retain(|f| f != file);
        self.recent_files.insert(0, file.to_path_buf());
        self.recent_files.truncate(MAX_RECENT);
    }

    /// Put the analysis `db` (of `source`) first in the analyses list, used at `used_at`.
    pub fn remember_analysis(&mut self, db: &Path, source: &Path, used_at: u64) {
        self.analyses.retain(|a| a.db != db);
        let record = AnalysisRecord { db: db.to_path_buf(), source: source.to_path_buf(), used_at };
        self.analyses.insert(0, record);
        self.analyses.truncate(MAX_ANALYSES);
    }
}

fn write_atomically(path: &Path, settings: &Settings) -> std::io::Result<()> {
    let json = serde_json::to_string_pretty(settings).map_err(std::io::Error::other)?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    std::fs::write(&temporary, json)?;
    std::fs::rename(&temporary, path)
}

/// Seconds since 1970 now (0 if the clock is before 1970).
pub fn now_unix() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// `"YYYY-MM-DD HH:MM UTC"` for seconds since 1970 (Howard Hinnant's civil-from-days).
pub fn format_utc(unix: u64) -> String {
    let days = (unix / 86_400) as i64;
    let (hour, minute) = ((unix % 86_400) / 3_600, (unix % 3_600) / 60);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02} UTC")
}

/// The one thread that writes the settings file (the exception to "threads go through the
/// JobRunner": it lives as long as the app and holds no job).
pub struct SettingsWriter {
    tx: Option<Sender<Settings>>,
    thread: Option<std::thread::JoinHandle<usize>>,
}

impl SettingsWriter {
    /// Start the writer for the file at `path`.
    pub fn start(path: PathBuf) -> Self {
        let (tx, rx) = crossbeam_channel::unbounded();
        let thread = std::thread::Builder::new()
            .name("returnscope-settings".into())
            .spawn(move || write_latest(&rx, &path))
            .map_err(|err| tracing::warn!("cannot start the settings writer: {err}"))
            .ok();
        Self { tx: Some(tx), thread }
    }

    /// Hand a snapshot to the writer (never blocks): it is written once changes pause.
    pub fn save(&self, settings: &Settings) {
        if let Some(tx) = &self.tx {
            // The writer only stops when the app does.
            let _ = tx.send(settings.clone());
        }
    }

    /// Write `settings` and wait for the writer to finish (at exit); returns how many times it
    /// wrote the file.
    pub fn finish(&mut self, settings: &Settings) -> usize {
        self.save(settings);
        self.tx = None;
        self.thread.take().and_then(|t| t.join().ok()).unwrap_or(0)
    }
}

impl Drop for SettingsWriter {
    fn drop(&mut self) {
        self.tx = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The writer's loop: wait for a snapshot, keep taking newer ones until none comes for
/// [`SAVE_DELAY`] (or the app closes), write the latest. Returns the number of writes.
fn write_latest(rx: &Receiver<Settings>, path: &Path) -> usize {
    let mut writes = 0;
    while let Ok(mut latest) = rx.recv() {
        // A timeout (changes paused) or the app closing ends the wait.
        while let Ok(newer) = rx.recv_timeout(SAVE_DELAY) {
            latest = newer;
        }
        latest.save(path);
        writes += 1;
    }
    writes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_files_are_deduplicated_newest_first_and_capped() {
        let mut s = Settings::default();
        for i in 0..10 {
            s.remember_file(Path::new(&format!("/f{i}.csv")));
        }
        s.remember_file(Path::new("/f5.csv"));
        assert_eq!(s.recent_files.len(), MAX_RECENT);
        assert_eq!(s.recent_files[0], Path::new("/f5.csv"));
        // f9 f8 f7 f6 f4 f3 f2 follow f5; f1 and f0 fell off.
        assert_eq!(s.recent_files[1], Path::new("/f9.csv"));
        assert_eq!(s.recent_files[7], Path::new("/f2.csv"));
    }

    #[test]
    fn settings_round_trip_and_bad_files_give_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = Settings::path_in(dir.path());
        let mut s = Settings {
            version: SETTINGS_VERSION,
            theme: ThemeChoice::Dark,
            window_size: Some([800.0, 600.0]),
            cluster: Some(ClusterSettings { min_samples: 9, ..ClusterSettings::default() }),
            ..Default::default()
        };
        s.remember_file(Path::new("/a.csv"));
        s.remember_analysis(Path::new("/d/a-1234abcd.duckdb"), Path::new("/a.csv"), 86_400);
        s.save(&path);
        assert_eq!(Settings::load(&path), s);
        assert!(!path.with_extension("json.tmp").exists(), "the temporary file was renamed");
        std::fs::write(&path, "{ not json").unwrap();
        assert_eq!(Settings::load(&path), Settings::default());
    }

    #[test]
    fn a_burst_of_changes_is_one_write_of_the_latest() {
        let dir = tempfile::tempdir().unwrap();
        let path = Settings::path_in(dir.path());
        let mut writer = SettingsWriter::start(path.clone());
        let mut s = Settings::default();
        for i in 0..20 {
            s.remember_file(Path::new(&format!("/f{i}.csv")));
            writer.save(&s);
        }
        s.theme = ThemeChoice::Light;
        // 21 snapshots well within the delay: one write (two if this thread was descheduled
        // for longer than the delay between two sends on a loaded machine).
        let writes = writer.finish(&s);
        assert!((1..=2).contains(&writes), "{writes} writes");
        let saved = Settings::load(&path);
        assert_eq!(saved.theme, ThemeChoice::Light);
        assert_eq!(saved.recent_files[0], Path::new("/f19.csv"));
        assert_eq!(saved.version, SETTINGS_VERSION);
    }

    #[test]
    fn cluster_settings_go_into_the_config_within_the_page_ranges() {
        let saved = ClusterSettings {
            eps: EpsSetting::Value(0.8),
            min_samples: 500,
            k_min: 6,
            k_max: 4,
            micro_segments: false,
            ..ClusterSettings::default()
        };
        let mut config = Config::default();
        saved.apply_to(&mut config);
        assert_eq!(config.dbscan.eps, EpsSetting::Value(0.8));
        assert_eq!(config.dbscan.min_samples, 200, "clamped to the page's range");
        assert_eq!((config.kmeans.k_min, config.kmeans.k_max), (6, 6));
        assert!(!config.subcluster.enabled);
        assert_eq!(ClusterSettings::from_config(&Config::default()), ClusterSettings::default());
    }

    #[test]
    fn dates_are_formatted_in_utc() {
        assert_eq!(format_utc(0), "1970-01-01 00:00 UTC");
        // 2024-02-29 12:34 UTC = 19,782 days + 45,240 s = 1,709,210,040.
        assert_eq!(format_utc(1_709_210_040), "2024-02-29 12:34 UTC");
        assert_eq!(format_utc(951_782_400), "2000-02-29 00:00 UTC");
    }
}
