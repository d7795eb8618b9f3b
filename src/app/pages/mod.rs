//! One file per wizard page. A page draws itself from plain data and returns the [`Action`] the
//! user asked for; the app shell (`shell.rs`) carries actions out, so pages never start jobs.

pub mod changes;
pub mod cluster;
pub mod features;
pub mod load;
pub mod report;
pub mod validate;

pub use crate::app::format::{percent, thousands};
use crate::app::wizard::Step;
use eframe::egui::{self, RichText};
use std::path::PathBuf;

/// What the user asked for on a page or in a menu.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    OpenCsvDialog,
    OpenAnalysisDialog,
    /// Preview this CSV (from a drop, the recent list or a dialog).
    OpenCsv(PathBuf),
    /// Open this analysis file and restore its results.
    OpenAnalysis(PathBuf),
    OpenFeaturesTableDialog,
    /// Check this features (silver) table and segment it: the wizard starts at Features.
    OpenFeaturesTable(PathBuf),
    TrySample,
    /// Load and validate the previewed CSV.
    LoadPreviewed,
    BuildFeatures,
    /// Build the clustering matrix and segment with the page's settings.
    RunClustering,
    /// Compute the UMAP-style map of the run in memory.
    ComputeMap,
    /// Re-segment with this K (phase 1 kept).
    UseK(usize),
    SaveReportDialog,
    /// Write the Excel report here.
    SaveReport(PathBuf),
    ExportResultsDialog,
    /// Write the results CSV here.
    ExportResults(PathBuf),
    /// Open this folder in the file manager.
    OpenFolder(PathBuf),
    /// Ask whether to delete the open analysis.
    DeleteAnalysisDialog,
    /// Delete the open analysis and its files (confirmed).
    DeleteAnalysis,
    /// Choose an earlier analysis to compare the open one with.
    CompareDialog,
    /// Compare the open analysis (now) with this earlier analysis file.
    Compare(PathBuf),
    /// Choose a new CSV to score with the open analysis's model.
    ScoreDialog,
    /// Score this CSV with the open analysis's model and show what changed.
    Score(PathBuf),
    ExportMoversDialog,
    /// Write the movers the Changes page lists here.
    ExportMovers(PathBuf),
    /// Leave the Changes page for the wizard.
    CloseChanges,
    GoTo(Step),
}

impl Action {
    /// Open `file`: an analysis file (`.duckdb`) is reopened, a features table (`.parquet`, or
    /// the folder the Spark job wrote) opened at Features, anything else previewed as a CSV.
    pub fn open_file(file: PathBuf) -> Self {
        if load::is_analysis_file(&file) {
            Action::OpenAnalysis(file)
        } else if is_features_table(&file) {
            Action::OpenFeaturesTable(file)
        } else {
            Action::OpenCsv(file)
        }
    }
}

/// A Parquet file or a folder: what File > "Open features table…" opens.
pub fn is_features_table(path: &std::path::Path) -> bool {
    path.is_dir() || path.extension().is_some_and(|e| e.eq_ignore_ascii_case("parquet"))
}

/// A page heading with a one-line explanation under it.
pub fn heading(ui: &mut egui::Ui, title: &str, explanation: &str) {
    ui.heading(title);
    ui.label(RichText::new(explanation).weak());
    ui.add_space(8.0);
}

/// A framed notice shown when the page's results are out of date.
pub fn stale_banner(ui: &mut egui::Ui, what_to_do: &str) {
    let color = crate::app::theme::warning_color(ui.visuals());
    egui::Frame::group(ui.style()).stroke(egui::Stroke::new(1.0, color)).show(ui, |ui| {
        ui.colored_label(
            color,
            format!("These results are out of date: an earlier step changed. {what_to_do}"),
        );
    });
    ui.add_space(6.0);
}
