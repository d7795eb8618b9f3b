//! What the app remembers between runs: theme, window size and recent files (paths only; never
//! customer data). Stored as JSON in `<data_dir>/settings.json`.
//!
//! eframe's own persistence needs its `persistence` feature, which this build does not enable, so
//! the app keeps this small file itself. Writes happen on a background thread.

use crate::pipeline::private_files;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// How many recent files the File menu and the Load page list.
pub const MAX_RECENT: usize = 8;

/// The theme the user picked in the View menu.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ThemeChoice {
    #[default]
    System,
    Light,
    Dark,
}

/// The persisted settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub theme: ThemeChoice,
    /// Most recent first; CSV and .duckdb files.
    pub recent_files: Vec<PathBuf>,
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

    /// Write the settings now (used at exit, when no UI waits).
    pub fn save(&self, path: &Path) {
        let result =
            serde_json::to_string_pretty(self).map_err(std::io::Error::other).and_then(|json| {
                if let Some(parent) = path.parent() {
                    private_files::create_dir_all(parent)?;
                }
                private_files::write(path, json)
            });
        if let Err(err) = result {
            tracing::warn!("cannot save settings to {}: {err}", path.display());
        }
    }

    /// Write the settings on a background thread (from the UI thread).
    pub fn save_in_background(&self, path: &Path) {
        let settings = self.clone();
        let path = path.to_path_buf();
        std::thread::spawn(move || settings.save(&path));
    }

    /// Put `file` first in the recent list (no duplicates, at most [`MAX_RECENT`]).
    pub fn remember_file(&mut self, file: &Path) {
        self.recent_files.retain(|f| f != file);
        self.recent_files.insert(0, file.to_path_buf());
        self.recent_files.truncate(MAX_RECENT);
    }
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
            theme: ThemeChoice::Dark,
            window_size: Some([800.0, 600.0]),
            ..Default::default()
        };
        s.remember_file(Path::new("/a.csv"));
        s.save(&path);
        assert_eq!(Settings::load(&path), s);
        std::fs::write(&path, "{ not json").unwrap();
        assert_eq!(Settings::load(&path), Settings::default());
    }
}
