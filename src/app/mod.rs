//! The desktop app: an eframe/egui wizard (Load -> Validate -> Features -> Cluster -> Report) that
//! drives the pipeline on background threads.
//!
//! - [`shell`]: the app itself ([`ReturnScopeApp`]): menus, step bar, progress, notices, drops.
//! - [`pages`]: one file per wizard page.
//! - [`jobs`]: the one background job runner; [`tasks`]: what each job does ([`over_time`]:
//!   comparing with an earlier analysis, scoring a new CSV with the open model).
//! - [`cluster_view`]: the segmentation as the Cluster and Report pages show it; [`plots`]: their
//!   plots; [`frame_stats`]: the frame-time overlay.
//! - [`wizard`]: steps and their done / stale state; [`settings`]: what is remembered between
//!   runs; [`theme`]: colours; [`backend`]: adapters to code owned elsewhere.
//! - [`notices`]: the messages above the page.
//!
//! Where failures are shown: a job that fails posts an error notice above the page ("Loading
//! failed: …", the pipeline's message, which says what to do); it stays until dismissed, and the
//! full error goes to the log. A cancellation or a finished save is information or success and
//! fades after a few seconds. Problems that belong to a page stay on it: a CSV that cannot be
//! previewed (Load page), blocking dataset checks (Validate page), results out of date (a banner
//! on the page), a k-distance curve that cannot be prepared (Cluster page). A job that panics
//! becomes an error notice asking for the log file.

pub mod backend;
pub mod cluster_view;
pub mod format;
pub mod frame_stats;
pub mod jobs;
pub mod notices;
pub mod over_time;
pub mod pages;
pub mod plots;
pub mod settings;
pub mod shell;
pub mod tasks;
pub mod theme;
pub mod wizard;

#[cfg(test)]
mod frame_bench;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_changes;

pub use shell::ReturnScopeApp;

use anyhow::Context as _;
use eframe::egui;
use std::path::PathBuf;

/// The app icon (256x256 PNG, drawn by `assets/make_icon.py`).
pub const ICON_PNG: &[u8] = include_bytes!("../../assets/icon.png");

/// Open the ReturnScope window; `initial_csv` is previewed on the Load page. Returns when the
/// window is closed.
pub fn run_app(initial_csv: Option<PathBuf>, compare_with: Option<PathBuf>) -> anyhow::Result<()> {
    crate::pipeline::private_files::restrict_process_umask();
    let data_dir = backend::default_data_dir()
        .context("cannot determine a data folder for ReturnScope (is HOME set?)")?;
    backend::make_data_dir_private(&data_dir);
    match crate::logging::init(&backend::log_dir(&data_dir)) {
        Some(log) => tracing::info!(
            "ReturnScope {} started; log file {}",
            env!("CARGO_PKG_VERSION"),
            log.display()
        ),
        None => eprintln!(
            "warning: no log file: {} is not writable",
            backend::log_dir(&data_dir).display()
        ),
    }
    jobs::lower_background_priority();
    let mut app = ReturnScopeApp::new(data_dir, initial_csv);
    if let Some(earlier) = compare_with {
        app.compare_after_open(earlier);
    }
    let size = app.saved_window_size().unwrap_or([1280.0, 820.0]);
    let mut viewport = egui::ViewportBuilder::default()
        .with_title("ReturnScope")
        .with_app_id("returnscope")
        .with_inner_size(size)
        .with_min_inner_size([760.0, 480.0])
        .with_drag_and_drop(true);
    match eframe::icon_data::from_png_bytes(ICON_PNG) {
        Ok(icon) => viewport = viewport.with_icon(icon),
        Err(err) => tracing::warn!("the app icon cannot be decoded: {err}"),
    }
    let options = eframe::NativeOptions { viewport, ..Default::default() };
    eframe::run_native("returnscope", options, Box::new(|_cc| Ok(Box::new(app))))
        .map_err(|err| anyhow::anyhow!("the window could not be opened: {err}"))
}
