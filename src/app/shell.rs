//! The app shell: menus, step bar, progress bar, notices, drag-and-drop, and the glue that turns
//! user actions into background jobs and job results into page state.
//!
//! The UI thread only draws and hands work to [`JobRunner`]; it never waits on I/O, DuckDB or a
//! file dialog.

use crate::app::backend;
use crate::app::frame_stats::FrameStats;
use crate::app::jobs::{JobId, JobKind, JobRunner};
use crate::app::pages::cluster::{ClusterPage, PageFlags};
use crate::app::pages::features::FeaturesView;
use crate::app::pages::load::{LoadPage, file_name, is_analysis_file};
use crate::app::pages::report::ReportPage;
use crate::app::pages::validate::ValidateView;
use crate::app::pages::{self, Action};
use crate::app::settings::{Settings, ThemeChoice};
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

/// Label of the Cancel button of the progress bar.
pub const CANCEL_BUTTON: &str = "Cancel";

/// How serious a notice is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeKind {
    Info,
    Error,
}

/// A message shown above the page until dismissed.
#[derive(Debug, Clone)]
pub struct Notice {
    pub kind: NoticeKind,
    pub text: String,
}

/// The desktop app.
pub struct ReturnScopeApp {
    data_dir: PathBuf,
    settings_path: PathBuf,
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
    frame_stats: FrameStats,
    notices: Vec<Notice>,
    pending: Vec<Action>,
    show_about: bool,
}

impl ReturnScopeApp {
    /// The app with its data folder (analyses, sample data, settings, logs) at `data_dir`;
    /// `initial_csv` is previewed on the first frame.
    pub fn new(data_dir: PathBuf, initial_csv: Option<PathBuf>) -> Self {
        let settings_path = Settings::path_in(&data_dir);
        let settings = Settings::load(&settings_path);
        Self {
            data_dir,
            settings_path,
            settings,
            applied_theme: None,
            config: Config::default(),
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
            frame_stats: FrameStats::default(),
            notices: Vec::new(),
            pending: initial_csv
                .map(|f| {
                    if is_analysis_file(&f) { Action::OpenAnalysis(f) } else { Action::OpenCsv(f) }
                })
                .into_iter()
                .collect(),
            show_about: false,
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

    /// The messages shown above the page.
    pub fn notices(&self) -> &[Notice] {
        &self.notices
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
        self.start_preview_if_needed(&ctx);

        egui::Panel::top("menu_and_steps").show(ui, |ui| {
            self.menu_bar(ui);
            ui.add_space(2.0);
            let busy = self.jobs.is_busy();
            self.wizard.step_bar(ui, !busy);
            ui.add_space(4.0);
        });
        if self.jobs.is_busy() {
            egui::Panel::bottom("progress").show(ui, |ui| self.progress_bar(ui));
        }
        egui::CentralPanel::default().show(ui, |ui| {
            self.notices_ui(ui);
            let action = self.page(ui);
            self.pending.extend(action);
        });
        self.about_window(&ctx);
        let on_screen = match self.wizard.current() {
            Step::Cluster if self.jobs.is_busy() => "Cluster page, a job running",
            Step::Cluster => "Cluster page",
            _ => "another page",
        };
        self.frame_stats.ui(&ctx, on_screen);
        drop_overlay(&ctx);
        self.remember_window_size(&ctx);
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

    /// Save the settings now (at exit).
    pub fn save_settings(&self) {
        self.settings.save(&self.settings_path);
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
            self.pending.push(if is_analysis_file(&path) {
                Action::OpenAnalysis(path)
            } else {
                Action::OpenCsv(path)
            });
        }
    }

    // ---- actions -> jobs ------------------------------------------------------------------

    fn run_pending_actions(&mut self, ctx: &egui::Context) {
        for action in std::mem::take(&mut self.pending) {
            self.run_action(ctx, action);
        }
    }

    fn run_action(&mut self, ctx: &egui::Context, action: Action) {
        let needs_stage = !matches!(
            action,
            Action::GoTo(_)
                | Action::OpenCsvDialog
                | Action::OpenAnalysisDialog
                | Action::SaveReportDialog
                | Action::ExportResultsDialog
                | Action::OpenFolder(_)
        );
        if needs_stage && self.jobs.is_busy() {
            self.notify(
                NoticeKind::Info,
                "Please wait for the running step to finish, or cancel it.",
            );
            return;
        }
        match action {
            Action::OpenCsvDialog => self.pick(ctx, PickPurpose::OpenCsv),
            Action::OpenAnalysisDialog => self.pick(ctx, PickPurpose::OpenAnalysis),
            Action::OpenCsv(csv) => self.start_preview(ctx, csv),
            Action::OpenAnalysis(db) => self.start_restore(ctx, db),
            Action::TrySample => {
                let data_dir = self.data_dir.clone();
                self.jobs.spawn(ctx, JobKind::Stage, "Writing the sample data", move |_| {
                    tasks::write_sample(&data_dir)
                });
            }
            Action::LoadPreviewed => self.start_load(ctx),
            Action::BuildFeatures => self.start_features(ctx),
            Action::RunClustering => self.start_clustering(ctx),
            Action::ComputeMap => self.start_map(ctx),
            Action::UseK(k) => self.start_resegment(ctx, k),
            Action::SaveReportDialog => self.pick(ctx, PickPurpose::SaveReport),
            Action::ExportResultsDialog => self.pick(ctx, PickPurpose::ExportResults),
            Action::SaveReport(path) => self.start_save_report(ctx, path),
            Action::ExportResults(path) => self.start_export(ctx, path),
            Action::OpenFolder(dir) => open_folder(dir),
            Action::GoTo(step) => {
                self.wizard.go_to(step);
            }
        }
    }

    fn pick(&mut self, ctx: &egui::Context, purpose: PickPurpose) {
        if self.jobs.has_running(JobKind::Dialog) {
            return;
        }
        let start_dir = match purpose {
            PickPurpose::OpenCsv => self
                .settings
                .recent_files
                .iter()
                .find(|f| !is_analysis_file(f))
                .and_then(|f| f.parent().map(Path::to_path_buf)),
            PickPurpose::OpenAnalysis => Some(self.data_dir.join("analyses")),
            PickPurpose::SaveReport | PickPurpose::ExportResults => self.output_dir(),
        };
        let file_name = match purpose {
            PickPurpose::SaveReport => Some(format!("{} segments.xlsx", self.analysis_stem())),
            PickPurpose::ExportResults => Some(format!("{} segments.csv", self.analysis_stem())),
            PickPurpose::OpenCsv | PickPurpose::OpenAnalysis => None,
        };
        self.jobs.spawn(ctx, JobKind::Dialog, "Choosing a file", move |_| {
            tasks::pick_file_named(purpose, start_dir, file_name)
        });
    }

    /// Where save dialogs start: the folder of the last file written, else the documents folder.
    /// Without either, the data folder's `reports`.
    fn output_dir(&self) -> Option<PathBuf> {
        let last = self.report.saved.as_ref().or(self.report.exported.as_ref());
        last.and_then(|p| p.parent().map(Path::to_path_buf))
            .or_else(|| {
                directories::UserDirs::new().and_then(|d| d.document_dir().map(Path::to_path_buf))
            })
            .or_else(|| Some(self.data_dir.join("reports")))
    }

    /// The analysis file's name without extension ("orders 2024").
    fn analysis_stem(&self) -> String {
        self.analysis
            .as_ref()
            .and_then(|a| a.db_path().file_stem())
            .map_or_else(|| "ReturnScope".into(), |s| s.to_string_lossy().into_owned())
    }

    fn analysis_handle(&mut self) -> Option<Result<Analysis, crate::pipeline::PipelineError>> {
        match &self.analysis {
            Some(analysis) => Some(analysis.try_clone()),
            None => {
                self.notify(NoticeKind::Error, "No analysis is open: load a CSV first.");
                None
            }
        }
    }

    fn start_clustering(&mut self, ctx: &egui::Context) {
        let Some(handle) = self.analysis_handle() else { return };
        self.jobs.cancel_kind(JobKind::Preview); // the stage needs the cores
        let config = self.config.clone();
        self.cluster_run = None;
        self.jobs.spawn(ctx, JobKind::Stage, "Segmenting customers", move |progress| {
            tasks::segment(handle, &config, progress)
        });
    }

    fn start_resegment(&mut self, ctx: &egui::Context, k: usize) {
        let Some(handle) = self.analysis_handle() else { return };
        self.jobs.cancel_kind(JobKind::Preview); // the stage needs the cores
        let config = self.config.clone();
        let previous = self.cluster_run.take();
        self.jobs.spawn(
            ctx,
            JobKind::Stage,
            format!("Re-segmenting with K = {k}"),
            move |progress| tasks::resegment(handle, &config, previous, k, progress),
        );
    }

    fn start_map(&mut self, ctx: &egui::Context) {
        if !self.config.embedding.umap_enabled {
            return;
        }
        let Some(run) = self.cluster_run.take() else { return };
        let Some(index) =
            self.cluster.view.as_deref().map(|view| tasks::scatter_index_of_gold_rows(&run, view))
        else {
            self.cluster_run = Some(run);
            return;
        };
        let Some(handle) = self.analysis_handle() else {
            self.cluster_run = Some(run);
            return;
        };
        let index = Arc::new(index);
        let (live_tx, live_rx) = crossbeam_channel::unbounded();
        self.map_live = Some(live_rx);
        self.cluster.map_running = true;
        let config = self.config.clone();
        let wake = ctx.clone();
        self.jobs.spawn(ctx, JobKind::Stage, "Computing the UMAP-style map", move |progress| {
            tasks::compute_map(handle, &config, run, index, live_tx, wake, progress)
        });
    }

    fn start_save_report(&mut self, ctx: &egui::Context, path: PathBuf) {
        let Some(handle) = self.analysis_handle() else { return };
        let config = self.config.clone();
        let title = format!("Saving the report {}", file_name(&path));
        self.jobs.spawn(ctx, JobKind::Stage, title, move |progress| {
            tasks::save_report(handle, &config, &path, progress)
        });
    }

    fn start_export(&mut self, ctx: &egui::Context, path: PathBuf) {
        let Some(handle) = self.analysis_handle() else { return };
        let title = format!("Exporting {}", file_name(&path));
        self.jobs.spawn(ctx, JobKind::Stage, title, move |_| tasks::export_results(handle, &path));
    }

    /// Keep the eps preview in step with the settings: for large data an instant estimate, and
    /// the exact phase 1 on every customer; one job of each at a time, the latest setting wins
    /// (a superseded exact preview is cancelled).
    fn start_preview_if_needed(&mut self, ctx: &egui::Context) {
        if self.wizard.current() != Step::Cluster {
            return;
        }
        let (Some(data), Some(eps)) =
            (self.preview_data.clone(), self.cluster.eps_shown(&self.config))
        else {
            return;
        };
        let wanted = (eps, self.config.dbscan.min_samples);
        if self.cluster.at_run_settings(wanted) {
            return; // the run's own numbers are shown
        }
        let estimated = self.cluster.estimate.is_some_and(|e| (e.eps, e.min_samples) == wanted);
        if data.sampler.is_some() && self.estimate_running.is_none() && !estimated {
            self.estimate_running = Some(wanted);
            let data = data.clone();
            self.jobs.spawn(ctx, JobKind::Preview, "Estimating DBSCAN noise", move |_| {
                tasks::estimate_noise(&data, wanted.0, wanted.1)
            });
        }
        match self.preview_job {
            Some((id, running)) if running != wanted => self.jobs.cancel(id),
            Some(_) => {}
            None => {
                let shown = self.cluster.preview.is_some_and(|p| (p.eps, p.min_samples) == wanted);
                if !shown {
                    let max_noise = self.config.dbscan.max_noise_ratio;
                    let id =
                        self.jobs.spawn(ctx, JobKind::Preview, "Previewing DBSCAN", move |p| {
                            tasks::preview_dbscan(&data, wanted.0, wanted.1, max_noise, p)
                        });
                    self.preview_job = Some((id, wanted));
                }
            }
        }
    }

    /// Move the UMAP-style map along with its job.
    fn receive_live_map(&mut self) {
        let Some(rx) = &self.map_live else { return };
        let latest = rx.try_iter().last();
        if let (Some(layout), Some(view)) = (latest, self.cluster.view.as_deref_mut()) {
            view.scatter.set_umap(&layout);
        }
    }

    fn start_preview(&mut self, ctx: &egui::Context, csv: PathBuf) {
        self.load.select(csv.clone());
        self.wizard.go_to(Step::Load);
        self.remember(&csv);
        let title = format!("Reading {}", file_name(&csv));
        self.jobs.spawn(ctx, JobKind::Stage, title, move |_| tasks::preview(csv));
    }

    fn start_load(&mut self, ctx: &egui::Context) {
        let Some(csv) = self.load.preview.as_ref().map(|p| p.path.clone()) else { return };
        // Close our handle first: the job opens the file itself (DuckDB allows one writer).
        self.analysis = None;
        let (data_dir, config) = (self.data_dir.clone(), self.config.clone());
        let title = format!("Loading {}", file_name(&csv));
        self.jobs.spawn(ctx, JobKind::Stage, title, move |progress| {
            tasks::load_and_validate(&data_dir, &csv, &config, progress)
        });
    }

    fn start_features(&mut self, ctx: &egui::Context) {
        let Some(analysis) = &self.analysis else {
            self.notify(NoticeKind::Error, "No analysis is open: load a CSV first.");
            return;
        };
        let handle = analysis.try_clone();
        let config = self.config.clone();
        self.jobs.spawn(ctx, JobKind::Stage, "Building features", move |progress| {
            tasks::build_features(handle, &config, progress)
        });
    }

    fn start_restore(&mut self, ctx: &egui::Context, db: PathBuf) {
        self.analysis = None;
        self.remember(&db);
        let config = self.config.clone();
        let title = format!("Opening {}", file_name(&db));
        self.jobs.spawn(ctx, JobKind::Stage, title, move |_| tasks::restore(db, &config));
    }

    fn remember(&mut self, file: &Path) {
        self.settings.remember_file(file);
        self.settings.save_in_background(&self.settings_path);
    }

    // ---- job results -> state ---------------------------------------------------------------

    fn receive_job_results(&mut self) {
        for (_, output) in self.jobs.drain() {
            self.apply_output(output);
        }
    }

    fn apply_output(&mut self, output: JobOutput) {
        match output {
            JobOutput::Picked { purpose, path: Some(path) } => self.pending.push(match purpose {
                PickPurpose::OpenCsv => Action::OpenCsv(path),
                PickPurpose::OpenAnalysis => Action::OpenAnalysis(path),
                PickPurpose::SaveReport => Action::SaveReport(with_extension(path, "xlsx")),
                PickPurpose::ExportResults => Action::ExportResults(with_extension(path, "csv")),
            }),
            JobOutput::Picked { path: None, .. } => {}
            JobOutput::NoDialog { purpose, fallback: Some(path) } => {
                tracing::warn!("no file dialog on this system; writing to {}", path.display());
                self.notify(
                    NoticeKind::Info,
                    format!(
                        "This system has no file dialog (install xdg-desktop-portal or zenity), \
                         so the file goes to {}.",
                        path.display()
                    ),
                );
                if let Some(dir) = path.parent()
                    && let Err(err) = backend::ensure_dir(dir)
                {
                    self.notify(NoticeKind::Error, err.to_string());
                    return;
                }
                self.pending.push(match purpose {
                    PickPurpose::ExportResults => Action::ExportResults(path),
                    _ => Action::SaveReport(path),
                });
            }
            JobOutput::NoDialog { .. } => self.notify(
                NoticeKind::Error,
                "This system has no file dialog (install xdg-desktop-portal or zenity). Drop a \
                 file on the window, or pass it on the command line: returnscope FILE.",
            ),
            JobOutput::SampleWritten(Ok(sample)) => {
                self.notify(NoticeKind::Info, sample.description);
                self.pending.push(Action::OpenCsv(sample.csv));
            }
            JobOutput::SampleWritten(Err(err)) => {
                self.report_failure("Writing the sample data", &err)
            }
            JobOutput::Preview { csv, result } => {
                if self.load.csv.as_ref() != Some(&csv) {
                    return; // the user chose another file meanwhile
                }
                match result {
                    Ok(preview) => self.load.preview = Some(preview),
                    Err(err) => {
                        tracing::error!("preview of {} failed: {err:?}", csv.display());
                        self.load.preview_error = Some(err.to_string());
                    }
                }
            }
            JobOutput::Loaded { analysis, result } => self.loaded(analysis, result),
            JobOutput::Features(Ok((summary, table))) => {
                self.cluster_run = None; // its matrix no longer matches the features
                self.features = Some(FeaturesView::new(summary, table));
                self.wizard.complete(Step::Features);
                self.wizard.go_to(Step::Features);
            }
            JobOutput::Features(Err(err)) => self.report_failure("Building features", &err),
            JobOutput::Segmented(Ok(segmented)) => self.segmented(segmented, true),
            JobOutput::Segmented(Err(err)) => {
                // The matrix may have been rebuilt before the failure: what is shown is old.
                self.wizard.mark_stale_from(Step::Cluster);
                self.report_failure("Segmenting customers", &err);
            }
            JobOutput::Resegmented { result: Ok(segmented), .. } => {
                self.segmented(segmented, false)
            }
            JobOutput::Resegmented { result: Err(err), previous } => {
                self.cluster_run = previous;
                self.report_failure("Re-segmenting", &err);
            }
            JobOutput::Map { run, result } => {
                self.cluster_run = Some(run);
                self.cluster.map_running = false;
                self.map_live = None;
                match result {
                    Ok(layout) => {
                        if let Some(view) = self.cluster.view.as_deref_mut() {
                            view.scatter.set_umap(&layout);
                        }
                    }
                    Err(err) => self.report_failure("The UMAP-style map", &err),
                }
            }
            JobOutput::DbscanPreview(preview) => {
                self.preview_job = None;
                if preview.is_some() {
                    self.cluster.preview = preview;
                }
            }
            JobOutput::NoiseEstimate(estimate) => {
                self.estimate_running = None;
                if estimate.is_some() {
                    self.cluster.estimate = estimate;
                }
            }
            JobOutput::ReportSaved(Ok(path)) => {
                self.notify(NoticeKind::Info, format!("Report saved to {}.", path.display()));
                self.report.saved = Some(path);
                self.wizard.complete(Step::Report);
            }
            JobOutput::ReportSaved(Err(err)) => self.report_failure("Saving the report", &err),
            JobOutput::ResultsExported(Ok(path)) => {
                self.notify(NoticeKind::Info, format!("Results exported to {}.", path.display()));
                self.report.exported = Some(path);
            }
            JobOutput::ResultsExported(Err(err)) => {
                self.report_failure("Exporting the results", &err)
            }
            JobOutput::Restored { analysis, path, result } => {
                self.restored(analysis, &path, result)
            }
            JobOutput::Panicked(message) => {
                tracing::error!("a background job panicked: {message}");
                self.notify(
                    NoticeKind::Error,
                    format!("Internal error (please report it with the log file): {message}"),
                );
            }
        }
    }

    /// A segmentation arrived: show it; a fresh run (not another K) also starts the map job.
    fn segmented(&mut self, segmented: Segmented, fresh: bool) {
        let Segmented { run, view, preview } = segmented;
        // Another K keeps the map that was computed (the run carries it).
        self.cluster_run = run;
        self.cluster.set_view(view);
        if preview.is_some() {
            self.preview_data = preview;
        }
        self.wizard.complete(Step::Cluster);
        self.wizard.go_to(Step::Cluster);
        if fresh || !self.cluster.view.as_ref().is_some_and(|v| v.scatter.has_umap()) {
            self.pending.push(Action::ComputeMap);
        }
    }

    fn loaded(
        &mut self,
        analysis: Option<Analysis>,
        result: Result<(IngestSummary, QualityReport), AppError>,
    ) {
        self.analysis = analysis;
        match result {
            Ok((ingest, quality)) => {
                self.ingest = Some(ingest);
                self.quality = Some(quality);
                self.continue_anyway = false;
                self.wizard.complete(Step::Load);
                self.wizard.complete(Step::Validate);
                self.wizard.go_to(Step::Validate);
            }
            Err(err) => {
                // What the open file now holds is unknown: start again from the Load page.
                self.ingest = None;
                self.quality = None;
                self.features = None;
                self.wizard.reset_from(Step::Load);
                self.report_failure("Loading", &err);
            }
        }
    }

    fn restored(
        &mut self,
        analysis: Option<Analysis>,
        path: &Path,
        result: Result<Restored, AppError>,
    ) {
        match result {
            Ok(restored) => {
                if restored.last_stage.is_none() {
                    self.notify(
                        NoticeKind::Info,
                        format!("{} holds no results yet: load a CSV into it.", file_name(path)),
                    );
                }
                self.analysis = analysis;
                self.wizard = Wizard::restored(restored.last_stage);
                self.load = LoadPage::default();
                self.ingest = restored.ingest;
                self.quality = restored.quality;
                self.continue_anyway = false;
                self.features =
                    restored.features.map(|(summary, table)| FeaturesView::new(summary, table));
                self.cluster = ClusterPage::default();
                self.cluster_run = None;
                self.report = ReportPage::default();
                if let Some(segmented) = restored.segmented {
                    self.cluster.set_view(segmented.view);
                    self.preview_data = segmented.preview;
                }
            }
            Err(err) => self.report_failure(&format!("Opening {}", file_name(path)), &err),
        }
    }

    fn report_failure(&mut self, what: &str, err: &AppError) {
        if err.is_cancelled() {
            tracing::info!("{what}: cancelled by the user");
            self.notify(
                NoticeKind::Info,
                format!("{what} was cancelled; nothing of that step was kept."),
            );
        } else {
            tracing::error!("{what} failed: {err:?}");
            self.notify(NoticeKind::Error, format!("{what} failed: {err}"));
        }
    }

    fn notify(&mut self, kind: NoticeKind, text: impl Into<String>) {
        self.notices.push(Notice { kind, text: text.into() });
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
                    self.settings.save_in_background(&self.settings_path);
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
                    self.pending.push(if is_analysis_file(&file) {
                        Action::OpenAnalysis(file)
                    } else {
                        Action::OpenCsv(file)
                    });
                }
            }
        });
        ui.separator();
        if ui.add(egui::Button::new("Quit").shortcut_text(quit_text)).clicked() {
            ui.ctx().send_viewport_cmd(egui::ViewportCommand::Close);
        }
    }

    fn progress_bar(&mut self, ui: &mut egui::Ui) {
        let Some(job) = self.jobs.stage_job() else { return };
        let stage = job.last_update.as_ref().map(|u| u.stage.label()).unwrap_or("Starting");
        let message = job.last_update.as_ref().map(|u| u.message.clone()).unwrap_or_default();
        let rate = job
            .items_per_second()
            .map(|r| format!("{} rows/s", pages::thousands(r.round() as u64)));
        let (fraction, stopping, elapsed) =
            (job.fraction(), job.cancel_requested(), job.started.elapsed().as_secs());
        let title = job.title.clone();
        ui.add_space(4.0);
        // No spinner: it repaints every frame for the whole job, which costs a core under a
        // software renderer. Progress updates wake the UI; the seconds counter needs 1 Hz.
        ui.ctx().request_repaint_after(std::time::Duration::from_secs(1));
        ui.horizontal(|ui| {
            ui.label(RichText::new(&title).strong());
            ui.label(format!("— {stage}"));
            if !message.is_empty() {
                ui.label(RichText::new(message).weak());
            }
        });
        ui.horizontal(|ui| {
            let bar = egui::ProgressBar::new(fraction)
                .desired_width((ui.available_width() - 260.0).max(120.0))
                .show_percentage();
            ui.add(bar);
            ui.label(rate.unwrap_or_default());
            ui.label(format!("{elapsed} s"));
            if stopping {
                ui.label(RichText::new("Stopping…").italics());
            } else if ui.button(CANCEL_BUTTON).on_hover_text("Stop this step (Esc)").clicked() {
                self.jobs.cancel_stage();
            }
        });
        ui.add_space(4.0);
    }

    fn notices_ui(&mut self, ui: &mut egui::Ui) {
        let mut dismissed = None;
        for (i, notice) in self.notices.iter().enumerate() {
            let color = match notice.kind {
                NoticeKind::Error => theme::error_color(ui.visuals()),
                NoticeKind::Info => ui.visuals().text_color(),
            };
            egui::Frame::group(ui.style()).stroke(egui::Stroke::new(1.0, color)).show(ui, |ui| {
                ui.set_width(ui.available_width());
                ui.horizontal(|ui| {
                    if ui.small_button("Dismiss").clicked() {
                        dismissed = Some(i);
                    }
                    let prefix = if notice.kind == NoticeKind::Error { "Error: " } else { "" };
                    ui.add(
                        egui::Label::new(
                            RichText::new(format!("{prefix}{}", notice.text)).color(color),
                        )
                        .wrap(),
                    );
                });
            });
        }
        if let Some(i) = dismissed {
            self.notices.remove(i);
        }
        if !self.notices.is_empty() {
            ui.add_space(6.0);
        }
    }

    fn page(&mut self, ui: &mut egui::Ui) -> Option<Action> {
        let busy = self.jobs.is_busy();
        let stale = |s: Step| self.wizard.state(s) == StepState::Stale;
        let (validate_stale, features_stale) = (stale(Step::Validate), stale(Step::Features));
        match self.wizard.current() {
            Step::Load => pages::load::show(ui, &self.load, &self.settings.recent_files, busy),
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
                            &self.report,
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
        if let Err(err) = std::fs::create_dir_all(&dir) {
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
