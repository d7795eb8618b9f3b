//! The app shell: menus, step bar, progress bar, notices, drag-and-drop, and the glue that turns
//! user actions into background jobs and job results into page state.
//!
//! The UI thread only draws and hands work to [`JobRunner`]; it never waits on I/O, DuckDB or a
//! file dialog. Actions become jobs in `shell/commands.rs`, job results become state in
//! `shell/outcomes.rs`; this file holds the state, the input handling and the drawing.

mod commands;
mod delete;
mod outcomes;
mod over_time;
mod progress_bar;

use crate::app::backend;
use crate::app::frame_stats::FrameStats;
use crate::app::jobs::{JobId, JobKind, JobRunner};
use crate::app::notices::Notices;
use crate::app::pages::cluster::{ClusterPage, PageFlags};
use crate::app::pages::features::FeaturesView;
use crate::app::pages::load::{LoadPage, file_name, is_analysis_file};
use crate::app::pages::report::ReportPage;
use crate::app::pages::validate::ValidateView;
use crate::app::pages::{self, Action};
use crate::app::settings::{ClusterSettings, Settings, SettingsWriter, ThemeChoice};
use crate::app::tasks::{
    self, AppError, JobOutput, MapLayout, PickPurpose, PreviewData, Restored, Segmented,
};
use crate::app::theme;
use crate::app::wizard::{Step, StepState, Wizard};
use crate::pipeline::Analysis;
use crate::pipeline::cluster::stage::ClusterRun;
use crate::pipeline::config::Config;
use crate::pipeline::model::{IngestSummary, QualityReport};
use crossbeam_channel::Receiver;
use eframe::egui::{self, Key, KeyboardShortcut, Modifiers, RichText};
use std::path::{Path, PathBuf};
use std::sync::Arc;

const OPEN_CSV: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::O);
const SAVE_REPORT: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::S);
const QUIT: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::Q);
/// Scope id of the wizard page's `Ui`, fixed so that the notices above it do not move its ids.
const PAGE_SCOPE: &str = "wizard_page";

/// Label of the Cancel button of the progress bar.
pub const CANCEL_BUTTON: &str = "Cancel";
/// The File menu's item that deletes the open analysis.
pub const DELETE_MENU: &str = "Delete analysis…";
/// The button of the confirmation that deletes.
pub const DELETE_CONFIRM_BUTTON: &str = "Delete the analysis";
/// File menu: open a features (silver) table, such as the Spark job's output.
pub const OPEN_FEATURES_TABLE: &str = "Open features table…";

pub use crate::app::notices::{Notice, NoticeKind};

/// The desktop app.
pub struct ReturnScopeApp {
    data_dir: PathBuf,
    settings_writer: SettingsWriter,
    settings: Settings,
    applied_theme: Option<ThemeChoice>,
    config: Config,
    jobs: JobRunner<JobOutput>,
    wizard: Wizard,
    analysis: Option<Analysis>,
    load: LoadPage,
    ingest: Option<IngestSummary>,
    quality: Option<QualityReport>,
    continue_anyway: bool,
    features: Option<FeaturesView>,
    cluster: ClusterPage,
    /// The last clustering run in memory (another K re-segments from it); `None` while a job
    /// holds it or for a reopened file.
    cluster_run: Option<Box<ClusterRun>>,
    /// What the eps preview runs on.
    preview_data: Option<Arc<PreviewData>>,
    /// The exact preview job running, with its (eps, min_samples).
    preview_job: Option<(JobId, (f64, usize))>,
    /// The (eps, min_samples) of the noise estimate running, if one is.
    estimate_running: Option<(f64, usize)>,
    /// Layouts of the UMAP-style map while its job runs.
    map_live: Option<Receiver<MapLayout>>,
    report: ReportPage,
    /// The last comparison of two periods, and whether its page is shown instead of the wizard.
    changes: Option<pages::changes::ChangesPage>,
    show_changes: bool,
    /// Compare with this earlier analysis once the analysis being opened is restored.
    compare_after_open: Option<PathBuf>,
    frame_stats: FrameStats,
    notices: Notices,
    pending: Vec<Action>,
    /// The reopen job running, if one is (its progress names steps, not pipeline stages).
    reopen_job: Option<JobId>,
    /// Actions asked for while a stage ran: they start when it ends.
    queued: Vec<Action>,
    /// Actions waiting for the map job to stop (it holds the run).
    after_map: Vec<Action>,
    show_about: bool,
    /// The "Delete analysis" confirmation is open.
    confirm_delete: bool,
}

impl ReturnScopeApp {
    /// The app with its data folder (analyses, sample data, settings, logs) at `data_dir`;
    /// `initial_csv` is previewed on the first frame.
    pub fn new(data_dir: PathBuf, initial_csv: Option<PathBuf>) -> Self {
        let settings_path = Settings::path_in(&data_dir);
        let settings = Settings::load(&settings_path);
        let mut config = Config::default();
        if let Some(cluster) = &settings.cluster {
            cluster.apply_to(&mut config);
        }
        Self {
            data_dir,
            settings_writer: SettingsWriter::start(settings_path),
            settings,
            applied_theme: None,
            config,
            jobs: JobRunner::new(),
            wizard: Wizard::default(),
            analysis: None,
            load: LoadPage::default(),
            ingest: None,
            quality: None,
            continue_anyway: false,
            features: None,
            cluster: ClusterPage::default(),
            cluster_run: None,
            preview_data: None,
            preview_job: None,
            estimate_running: None,
            map_live: None,
            report: ReportPage::default(),
            changes: None,
            show_changes: false,
            compare_after_open: None,
            frame_stats: FrameStats::default(),
            notices: Notices::default(),
            pending: initial_csv.map(Action::open_file).into_iter().collect(),
            reopen_job: None,
            queued: Vec::new(),
            after_map: Vec::new(),
            show_about: false,
            confirm_delete: false,
        }
    }

    /// The app for tests: data folder (and settings) in `data_dir`, nothing opened.
    pub fn new_for_test(data_dir: &Path) -> Self {
        Self::new(data_dir.to_path_buf(), None)
    }

    /// The window size saved at the last exit, if any.
    pub fn saved_window_size(&self) -> Option<[f32; 2]> {
        self.settings.window_size
    }

    /// Preview `csv` as if it had been dropped on the window (handled on the next frame).
    pub fn open_csv(&mut self, csv: PathBuf) {
        self.pending.push(Action::OpenCsv(csv));
    }

    /// Open a features table as File > "Open features table…" does (handled on the next frame).
    pub fn open_features_table(&mut self, table: PathBuf) {
        self.pending.push(Action::OpenFeaturesTable(table));
    }

    /// Open an analysis file as File > Open analysis does (handled on the next frame).
    pub fn open_analysis(&mut self, db: PathBuf) {
        self.pending.push(Action::OpenAnalysis(db));
    }

    /// Whether a pipeline stage (or preview) is running.
    pub fn is_busy(&self) -> bool {
        self.jobs.is_busy()
    }

    /// Whether any job, dialogs and previews included, is running.
    pub fn has_jobs(&self) -> bool {
        self.jobs.has_any()
    }

    /// The segmentation shown on the Cluster page, if any.
    pub fn cluster_view(&self) -> Option<&crate::app::cluster_view::ClusterView> {
        self.cluster.view.as_deref()
    }

    /// The Cluster page's state (tests read the preview and the map from it).
    pub fn cluster_page(&self) -> &ClusterPage {
        &self.cluster
    }

    /// The open analysis file, if any.
    pub fn analysis_path(&self) -> Option<&Path> {
        self.analysis.as_ref().map(|a| a.db_path())
    }

    /// The comparison shown on the Changes page, if one was made.
    pub fn changes_page(&self) -> Option<&pages::changes::ChangesPage> {
        self.changes.as_ref()
    }

    /// Whether the Changes page is shown instead of the wizard.
    pub fn showing_changes(&self) -> bool {
        self.show_changes && self.changes.is_some()
    }

    /// Once the analysis opened at start-up is restored, compare it with `earlier`
    /// (`returnscope NEW.duckdb --compare-with OLD.duckdb`).
    pub fn compare_after_open(&mut self, earlier: PathBuf) {
        self.compare_after_open = Some(earlier);
    }

    /// Compare with `earlier` as if it had been chosen in the dialog.
    pub fn compare_with(&mut self, earlier: PathBuf) {
        self.pending.push(Action::Compare(earlier));
    }

    /// Score `csv` with the open analysis's model as if it had been chosen on the Load page.
    pub fn score_csv(&mut self, csv: PathBuf) {
        self.pending.push(Action::Score(csv));
    }

    /// Export the listed movers to `path` as if it had been chosen in the save dialog.
    pub fn export_movers_to(&mut self, path: PathBuf) {
        self.pending.push(Action::ExportMovers(path));
    }

    /// The last report written, if any.
    pub fn saved_report(&self) -> Option<&Path> {
        self.report.saved.as_deref()
    }

    /// Write the report to `path` as if it had been chosen in the save dialog.
    pub fn save_report_to(&mut self, path: PathBuf) {
        self.pending.push(Action::SaveReport(path));
    }

    /// Export the results to `path` as if it had been chosen in the save dialog.
    pub fn export_results_to(&mut self, path: PathBuf) {
        self.pending.push(Action::ExportResults(path));
    }

    /// Record the previous frame's CPU time (eframe's measurement).
    pub fn record_frame_time(&mut self, cpu_seconds: Option<f32>) {
        self.frame_stats.record(cpu_seconds);
    }

    /// The page shown.
    pub fn current_step(&self) -> Step {
        self.wizard.current()
    }

    /// Where step `step` stands.
    pub fn step_state(&self, step: Step) -> StepState {
        self.wizard.state(step)
    }

    /// The validation results shown on the Validate page, if any.
    pub fn quality_report(&self) -> Option<&QualityReport> {
        self.quality.as_ref()
    }

    /// The Features page's state, once features are built.
    pub fn features_view(&self) -> Option<&FeaturesView> {
        self.features.as_ref()
    }

    /// The analyses the Load page lists, most recent first.
    pub fn analyses(&self) -> &[crate::app::settings::AnalysisRecord] {
        &self.settings.analyses
    }

    /// The CSV the Load page previews, if any.
    pub fn previewed_csv(&self) -> Option<&Path> {
        self.load.csv.as_deref()
    }

    /// The messages shown above the page.
    pub fn notices(&self) -> &[Notice] {
        self.notices.as_slice()
    }

    /// Draw one frame of the whole app into `ui` (eframe calls this through `App::ui`; tests call
    /// it from an egui_kittest harness).
    pub fn show(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        self.apply_theme(&ctx);
        self.receive_job_results();
        self.receive_live_map();
        self.handle_keys_and_drops(&ctx);
        self.run_pending_actions(&ctx);
        self.start_curve_if_needed(&ctx);
        self.start_preview_if_needed(&ctx);

        egui::Panel::top("menu_and_steps").show(ui, |ui| {
            self.menu_bar(ui);
            ui.add_space(2.0);
            let busy = self.jobs.is_busy();
            let step = self.wizard.current();
            self.wizard.step_bar(ui, !busy);
            if self.wizard.current() != step {
                self.show_changes = false;
            }
            ui.add_space(4.0);
        });
        if self.jobs.is_busy() {
            egui::Panel::bottom("progress").show(ui, |ui| self.progress_bar(ui));
        }
        egui::CentralPanel::default().show(ui, |ui| {
            self.notices.ui(ui);
            // The page's widget ids must not depend on how many notices are above it: a notice
            // that fades between two frames would otherwise move every id, and a click (or an
            // AccessKit action) aimed at the page would land on a widget that no longer exists.
            let page = egui::UiBuilder::new().scope_id(egui::Id::unique(PAGE_SCOPE));
            let action = ui.scope_builder(page, |ui| self.page(ui)).inner;
            self.pending.extend(action);
        });
        self.about_window(&ctx);
        self.delete_confirmation(&ctx);
        let on_screen = match self.wizard.current() {
            Step::Cluster if self.jobs.is_busy() => "Cluster page, a job running",
            Step::Cluster => "Cluster page",
            _ => "another page",
        };
        self.frame_stats.ui(&ctx, on_screen);
        drop_overlay(&ctx);
        self.remember_window_size(&ctx);
        self.remember_cluster_settings();
    }

    fn apply_theme(&mut self, ctx: &egui::Context) {
        if self.applied_theme != Some(self.settings.theme) {
            theme::apply(ctx, self.settings.theme);
            self.applied_theme = Some(self.settings.theme);
        }
    }

    fn remember_window_size(&mut self, ctx: &egui::Context) {
        if let Some(rect) = ctx.input(|i| i.viewport().inner_rect) {
            self.settings.window_size = Some([rect.width(), rect.height()]);
        }
    }

    /// Save the settings now and wait for the write (at exit).
    pub fn save_settings(&mut self) {
        self.settings_writer.finish(&self.settings);
    }

    /// Keep the Cluster page's settings for the next session when they changed (the writer
    /// saves once changes pause, so dragging a value is one write).
    fn remember_cluster_settings(&mut self) {
        let now = ClusterSettings::from_config(&self.config);
        if self.settings.cluster.clone().unwrap_or_default() != now {
            self.settings.cluster = Some(now);
            self.settings_writer.save(&self.settings);
        }
    }

    /// The configuration the pages edit (tests read the Cluster page's settings from it).
    pub fn config(&self) -> &Config {
        &self.config
    }

    // ---- input ----------------------------------------------------------------------------

    fn handle_keys_and_drops(&mut self, ctx: &egui::Context) {
        let (open, save, quit, escape) = ctx.input_mut(|i| {
            (
                i.consume_shortcut(&OPEN_CSV),
                i.consume_shortcut(&SAVE_REPORT),
                i.consume_shortcut(&QUIT),
                i.consume_key(Modifiers::NONE, Key::Escape),
            )
        });
        if open {
            self.pending.push(Action::OpenCsvDialog);
        }
        if save && self.cluster.view.is_some() {
            self.pending.push(Action::SaveReportDialog);
        }
        if quit {
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
        }
        if escape {
            if self.jobs.is_busy() {
                self.jobs.cancel_stage();
            } else {
                self.show_about = false;
            }
        }
        let dropped = ctx.input(|i| i.raw.dropped_files.first().map(|f| f.path().to_path_buf()));
        if let Some(path) = dropped {
            self.pending.push(Action::open_file(path));
        }
    }

    // ---- drawing ----------------------------------------------------------------------------

    fn menu_bar(&mut self, ui: &mut egui::Ui) {
        egui::MenuBar::new().ui(ui, |ui| {
            ui.menu_button("File", |ui| self.file_menu(ui));
            ui.menu_button("View", |ui| {
                let before = self.settings.theme;
                ui.radio_value(&mut self.settings.theme, ThemeChoice::System, "Follow the system");
                ui.radio_value(&mut self.settings.theme, ThemeChoice::Light, "Light");
                ui.radio_value(&mut self.settings.theme, ThemeChoice::Dark, "Dark");
                if self.settings.theme != before {
                    self.settings_writer.save(&self.settings);
                }
                ui.separator();
                ui.checkbox(&mut self.frame_stats.show, "Show frame time");
            });
            ui.menu_button("Help", |ui| {
                if ui.button("About ReturnScope").clicked() {
                    self.show_about = true;
                }
                if ui.button("Open log folder").clicked() {
                    open_folder(backend::log_dir(&self.data_dir));
                }
            });
        });
    }

    fn file_menu(&mut self, ui: &mut egui::Ui) {
        let busy = self.jobs.is_busy();
        let shortcut = |s: &KeyboardShortcut| ui.ctx().format_shortcut(s);
        let (open_text, save_text, quit_text) =
            (shortcut(&OPEN_CSV), shortcut(&SAVE_REPORT), shortcut(&QUIT));
        if ui.add_enabled(!busy, egui::Button::new("Open CSV…").shortcut_text(open_text)).clicked()
        {
            self.pending.push(Action::OpenCsvDialog);
        }
        if ui.add_enabled(!busy, egui::Button::new("Open analysis…")).clicked() {
            self.pending.push(Action::OpenAnalysisDialog);
        }
        if ui
            .add_enabled(!busy, egui::Button::new(OPEN_FEATURES_TABLE))
            .on_hover_text(
                "A silver table made elsewhere, such as by the Spark job (returnscope spark-job): \
                 a .parquet file, or any part file of the folder Spark wrote. Starts at Features.",
            )
            .clicked()
        {
            self.pending.push(Action::OpenFeaturesTableDialog);
        }
        let clustered = self.cluster.view.is_some() && !busy;
        if ui
            .add_enabled(clustered, egui::Button::new("Save report…").shortcut_text(save_text))
            .on_disabled_hover_text("Available once customers are clustered")
            .clicked()
        {
            self.pending.push(Action::SaveReportDialog);
        }
        if ui
            .add_enabled(clustered, egui::Button::new("Export results CSV…"))
            .on_disabled_hover_text("Available once customers are clustered")
            .clicked()
        {
            self.pending.push(Action::ExportResultsDialog);
        }
        if ui
            .add_enabled(self.analysis.is_some() && !busy, egui::Button::new(DELETE_MENU))
            .on_hover_text(
                "Remove the open analysis from this computer: the analysis file, its metadata, \
                 spill folder and logs",
            )
            .on_disabled_hover_text("Open an analysis first")
            .clicked()
        {
            self.pending.push(Action::DeleteAnalysisDialog);
        }
        let open = self.analysis.is_some() && !busy;
        if ui
            .add_enabled(open, egui::Button::new(pages::changes::COMPARE_BUTTON))
            .on_disabled_hover_text("Available once an analysis is open")
            .on_hover_text("What changed since an earlier analysis of the same customers")
            .clicked()
        {
            self.pending.push(Action::CompareDialog);
        }
        ui.menu_button("Recent files", |ui| {
            if self.settings.recent_files.is_empty() {
                ui.label(RichText::new("None yet").weak());
            }
            for file in self.settings.recent_files.clone() {
                if ui
                    .add_enabled(!busy, egui::Button::new(file_name(&file)))
                    .on_hover_text(file.display().to_string())
                    .clicked()
                {
                    self.pending.push(Action::open_file(file));
                }
            }
        });
        ui.separator();
        if ui.add(egui::Button::new("Quit").shortcut_text(quit_text)).clicked() {
            ui.ctx().send_viewport_cmd(egui::ViewportCommand::Close);
        }
    }

    fn page(&mut self, ui: &mut egui::Ui) -> Option<Action> {
        let busy = self.jobs.is_busy();
        if self.show_changes
            && let Some(changes) = self.changes.as_mut()
        {
            return pages::changes::show(ui, changes, busy);
        }
        let stale = |s: Step| self.wizard.state(s) == StepState::Stale;
        let (validate_stale, features_stale) = (stale(Step::Validate), stale(Step::Features));
        match self.wizard.current() {
            Step::Load => {
                self.load.model_ready = self.cluster.view.is_some();
                pages::load::show(
                    ui,
                    &self.load,
                    &self.settings.recent_files,
                    &self.settings.analyses,
                    busy,
                )
            }
            Step::Validate => {
                let view = ValidateView {
                    ingest: self.ingest.as_ref(),
                    quality: self.quality.as_ref(),
                    stale: validate_stale,
                    busy,
                };
                egui::ScrollArea::vertical()
                    .id_salt("validate_page")
                    .show(ui, |ui| pages::validate::show(ui, &view, &mut self.continue_anyway))
                    .inner
            }
            Step::Features => {
                pages::features::show(ui, self.features.as_mut(), features_stale, busy)
            }
            Step::Cluster => {
                let flags = PageFlags { stale: stale(Step::Cluster), busy };
                pages::cluster::show(ui, &mut self.cluster, &mut self.config, &flags)
            }
            Step::Report => {
                egui::ScrollArea::vertical()
                    .id_salt("report_page")
                    .show(ui, |ui| {
                        pages::report::show(
                            ui,
                            &mut self.report,
                            self.cluster.view.as_deref(),
                            stale(Step::Report) || stale(Step::Cluster),
                            busy,
                        )
                    })
                    .inner
            }
        }
    }

    fn about_window(&mut self, ctx: &egui::Context) {
        if !self.show_about {
            return;
        }
        let response = egui::Modal::new(egui::Id::unique("about_returnscope")).show(ctx, |ui| {
            ui.heading("ReturnScope");
            ui.label(format!("Version {}", env!("CARGO_PKG_VERSION")));
            ui.label(env!("CARGO_PKG_DESCRIPTION"));
            ui.label(format!("Data folder: {}", self.data_dir.display()));
            ui.add_space(8.0);
            ui.button("Close").clicked()
        });
        if response.inner || response.should_close() {
            self.show_about = false;
        }
    }
}

impl eframe::App for ReturnScopeApp {
    fn ui(&mut self, ui: &mut egui::Ui, frame: &mut eframe::Frame) {
        self.record_frame_time(frame.info().cpu_usage);
        self.show(ui);
    }

    fn on_exit(&mut self) {
        self.save_settings();
    }
}

/// While files hover over the window, dim it and say what dropping does.
fn drop_overlay(ctx: &egui::Context) {
    let hovering = ctx.input(|i| i.raw.hovered_files.first().map(|f| f.path.clone()));
    let Some(path) = hovering else { return };
    let text = match path {
        Some(p) if is_analysis_file(&p) => format!("Drop to open the analysis {}", file_name(&p)),
        Some(p) => format!("Drop to load {}", file_name(&p)),
        None => "Drop a CSV of order lines".to_string(),
    };
    let painter = ctx.layer_painter(egui::LayerId::new(
        egui::Order::Foreground,
        egui::Id::unique("drop_overlay"),
    ));
    let rect = ctx.content_rect();
    painter.rect_filled(rect, 0.0, egui::Color32::from_black_alpha(170));
    painter.text(
        rect.center(),
        egui::Align2::CENTER_CENTER,
        text,
        egui::FontId::proportional(26.0),
        egui::Color32::WHITE,
    );
}

/// `path` with extension `ext` added when it has none (save dialogs may return a bare name).
fn with_extension(path: PathBuf, ext: &str) -> PathBuf {
    if path.extension().is_some() { path } else { path.with_extension(ext) }
}

/// Open `dir` in the system's file manager, without waiting for it.
fn open_folder(dir: PathBuf) {
    std::thread::spawn(move || {
        if let Err(err) = crate::pipeline::private_files::create_dir_all(&dir) {
            tracing::warn!("cannot create {}: {err}", dir.display());
        }
        let program = if cfg!(target_os = "windows") {
            "explorer"
        } else if cfg!(target_os = "macos") {
            "open"
        } else {
            "xdg-open"
        };
        if let Err(err) = std::process::Command::new(program).arg(&dir).status() {
            tracing::warn!("cannot open {} with {program}: {err}", dir.display());
        }
    });
}
