//! What the user asks for becomes work: each [`Action`] starts a background job (or opens a
//! dialog, or moves the wizard). The eps preview's jobs are started here too, as the settings
//! change.

use super::*;

impl ReturnScopeApp {
    pub(super) fn run_pending_actions(&mut self, ctx: &egui::Context) {
        if !self.jobs.is_busy() && !self.queued.is_empty() {
            // What waited for the last stage goes first.
            let mut queued = std::mem::take(&mut self.queued);
            queued.append(&mut self.pending);
            self.pending = queued;
        }
        for action in std::mem::take(&mut self.pending) {
            self.run_action(ctx, action);
        }
    }

    pub(super) fn run_action(&mut self, ctx: &egui::Context, action: Action) {
        let needs_stage = !matches!(
            action,
            Action::GoTo(_)
                | Action::OpenCsvDialog
                | Action::OpenAnalysisDialog
                | Action::OpenFeaturesTableDialog
                | Action::SaveReportDialog
                | Action::ExportResultsDialog
                | Action::DeleteAnalysisDialog
                | Action::OpenFolder(_)
                | Action::CompareDialog
                | Action::ScoreDialog
                | Action::ExportMoversDialog
                | Action::CloseChanges
        );
        if needs_stage && self.jobs.is_busy() {
            // Chosen in a dialog, dropped or picked from a menu while a step runs: it waits.
            self.notify(NoticeKind::Info, "That will start when the running step finishes.");
            self.queued.push(action);
            return;
        }
        if waits_for_map(&action) && self.jobs.has_running(JobKind::Map) {
            // The map job holds the run and writes the analysis at its end: stop it first.
            self.jobs.cancel_kind(JobKind::Map);
            self.after_map.push(action);
            return;
        }
        match action {
            Action::OpenCsvDialog => self.pick(ctx, PickPurpose::OpenCsv),
            Action::OpenAnalysisDialog => self.pick(ctx, PickPurpose::OpenAnalysis),
            Action::OpenCsv(csv) => self.start_preview(ctx, csv),
            Action::OpenAnalysis(db) => self.start_restore(ctx, db),
            Action::OpenFeaturesTableDialog => self.pick(ctx, PickPurpose::OpenFeaturesTable),
            Action::OpenFeaturesTable(table) => self.start_features_table(ctx, table),
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
            Action::DeleteAnalysisDialog => self.confirm_delete = self.analysis.is_some(),
            Action::DeleteAnalysis => self.start_delete(ctx),
            Action::CompareDialog => self.pick(ctx, PickPurpose::CompareWith),
            Action::ScoreDialog => self.pick(ctx, PickPurpose::ScoreCsv),
            Action::ExportMoversDialog => self.pick(ctx, PickPurpose::ExportMovers),
            Action::Compare(earlier) => self.start_compare(ctx, earlier),
            Action::Score(csv) => self.start_score(ctx, csv),
            Action::ExportMovers(path) => self.start_export_movers(ctx, path),
            Action::CloseChanges => self.show_changes = false,
            Action::GoTo(step) => {
                self.wizard.go_to(step);
            }
        }
    }

    pub(super) fn pick(&mut self, ctx: &egui::Context, purpose: PickPurpose) {
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
            PickPurpose::OpenAnalysis | PickPurpose::CompareWith => {
                Some(self.data_dir.join("analyses"))
            }
            PickPurpose::ScoreCsv => {
                self.load.csv.as_ref().and_then(|f| f.parent().map(Path::to_path_buf))
            }
            PickPurpose::SaveReport | PickPurpose::ExportResults | PickPurpose::ExportMovers => {
                self.output_dir()
            }
            PickPurpose::OpenFeaturesTable => None,
        };
        let file_name = match purpose {
            PickPurpose::SaveReport => Some(format!("{} segments.xlsx", self.analysis_stem())),
            PickPurpose::ExportResults => Some(format!("{} segments.csv", self.analysis_stem())),
            PickPurpose::ExportMovers => Some(format!("{} movers.csv", self.analysis_stem())),
            PickPurpose::OpenCsv
            | PickPurpose::OpenAnalysis
            | PickPurpose::CompareWith
            | PickPurpose::ScoreCsv
            | PickPurpose::OpenFeaturesTable => None,
        };
        self.jobs.spawn(ctx, JobKind::Dialog, "Choosing a file", move |_| {
            tasks::pick_file(purpose, start_dir, file_name)
        });
    }

    /// Where save dialogs start: the folder of the last file written, else the documents folder.
    /// Without either, the data folder's `reports`.
    pub(super) fn output_dir(&self) -> Option<PathBuf> {
        let last = self.report.saved.as_ref().or(self.report.exported.as_ref());
        last.and_then(|p| p.parent().map(Path::to_path_buf))
            .or_else(|| {
                directories::UserDirs::new().and_then(|d| d.document_dir().map(Path::to_path_buf))
            })
            .or_else(|| Some(self.data_dir.join("reports")))
    }

    /// The analysis file's name without extension ("orders 2024").
    pub(super) fn analysis_stem(&self) -> String {
        self.analysis
            .as_ref()
            .and_then(|a| a.db_path().file_stem())
            .map_or_else(|| "ReturnScope".into(), |s| s.to_string_lossy().into_owned())
    }

    pub(super) fn analysis_handle(
        &mut self,
    ) -> Option<Result<Analysis, crate::pipeline::PipelineError>> {
        match &self.analysis {
            Some(analysis) => Some(analysis.try_clone()),
            None => {
                self.notify(NoticeKind::Error, "No analysis is open: load a CSV first.");
                None
            }
        }
    }

    pub(super) fn start_clustering(&mut self, ctx: &egui::Context) {
        let Some(handle) = self.analysis_handle() else { return };
        self.jobs.cancel_kind(JobKind::Preview); // the stage needs the cores
        let config = self.config.clone();
        self.cluster_run = None;
        self.jobs.spawn(ctx, JobKind::Stage, "Segmenting customers", move |progress| {
            tasks::segment(handle, &config, progress)
        });
    }

    pub(super) fn start_resegment(&mut self, ctx: &egui::Context, k: usize) {
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

    pub(super) fn start_map(&mut self, ctx: &egui::Context) {
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
        self.jobs.spawn(ctx, JobKind::Map, "Computing the UMAP-style map", move |progress| {
            tasks::compute_map(handle, &config, run, index, live_tx, wake, progress)
        });
    }

    pub(super) fn start_save_report(&mut self, ctx: &egui::Context, path: PathBuf) {
        let Some(handle) = self.analysis_handle() else { return };
        let (choice, data_dir) = (self.report.share, self.data_dir.clone());
        let title = format!("Saving the report {}", file_name(&path));
        self.jobs.spawn(ctx, JobKind::Stage, title, move |progress| {
            tasks::save_report(handle, (&path, choice, &data_dir), progress)
        });
    }

    pub(super) fn start_export(&mut self, ctx: &egui::Context, path: PathBuf) {
        let Some(handle) = self.analysis_handle() else { return };
        let (choice, data_dir) = (self.report.share, self.data_dir.clone());
        let title = format!("Exporting {}", file_name(&path));
        self.jobs.spawn(ctx, JobKind::Stage, title, move |_| {
            tasks::export_results(handle, (&path, choice, &data_dir))
        });
    }

    /// Keep the eps preview in step with the settings: for large data an instant estimate, and
    /// the exact phase 1 on every customer; one job of each at a time, the latest setting wins
    /// (a superseded exact preview is cancelled).
    pub(super) fn start_preview_if_needed(&mut self, ctx: &egui::Context) {
        if self.wizard.current() != Step::Cluster {
            return;
        }
        // The data must be this page's: the run's, or the curve's before the first run.
        let has_curve = self.cluster.view.is_some() || self.cluster.curve.is_some();
        let (Some(data), Some(eps), true) =
            (self.preview_data.clone(), self.cluster.eps_shown(&self.config), has_curve)
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

    /// Before the first segmentation, prepare the Cluster page's k-distance curve (and what the
    /// eps preview runs on) in the background as soon as the page is shown, and again when
    /// min_samples changes.
    pub(super) fn start_curve_if_needed(&mut self, ctx: &egui::Context) {
        let min_samples = self.config.dbscan.min_samples;
        let ready = self.wizard.current() == Step::Cluster
            && self.wizard.state(Step::Features) == StepState::Done
            && self.cluster.wants_curve(min_samples)
            && !self.jobs.is_busy();
        let Some(analysis) = self.analysis.as_ref().filter(|_| ready) else { return };
        let handle = analysis.try_clone();
        self.cluster.curve_requested = Some(min_samples);
        self.cluster.curve_error = None;
        let config = self.config.clone();
        self.jobs.spawn(ctx, JobKind::Preview, "Preparing the k-distance curve", move |progress| {
            tasks::eps_curve(handle, &config, progress)
        });
    }

    /// Move the UMAP-style map along with its job.
    pub(super) fn receive_live_map(&mut self) {
        let Some(rx) = &self.map_live else { return };
        let latest = rx.try_iter().last();
        if let (Some(layout), Some(view)) = (latest, self.cluster.view.as_deref_mut()) {
            view.scatter.set_umap(&layout);
        }
    }

    pub(super) fn start_preview(&mut self, ctx: &egui::Context, csv: PathBuf) {
        self.load.select(csv.clone());
        self.wizard.go_to(Step::Load);
        self.remember(&csv);
        let title = format!("Reading {}", file_name(&csv));
        self.jobs.spawn(ctx, JobKind::Stage, title, move |_| tasks::preview(csv));
    }

    pub(super) fn start_load(&mut self, ctx: &egui::Context) {
        let Some(csv) = self.load.preview.as_ref().map(|p| p.path.clone()) else { return };
        // Close our handle first: the job opens the file itself (DuckDB allows one writer).
        self.analysis = None;
        let (data_dir, config) = (self.data_dir.clone(), self.config.clone());
        let title = format!("Loading {}", file_name(&csv));
        self.jobs.spawn(ctx, JobKind::Stage, title, move |progress| {
            tasks::load_and_validate(&data_dir, &csv, &config, progress)
        });
    }

    pub(super) fn start_features(&mut self, ctx: &egui::Context) {
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

    pub(super) fn start_restore(&mut self, ctx: &egui::Context, db: PathBuf) {
        self.analysis = None;
        self.remember(&db);
        let config = self.config.clone();
        let title = format!("Opening {}", file_name(&db));
        let id = self.jobs.spawn(ctx, JobKind::Stage, title, move |progress| {
            tasks::restore(db, &config, progress)
        });
        self.reopen_job = Some(id);
    }

    /// Check a features table and make it the silver layer of its own analysis file; the
    /// wizard then shows it at Features, as a reopened analysis.
    pub(super) fn start_features_table(&mut self, ctx: &egui::Context, table: PathBuf) {
        self.analysis = None;
        let (data_dir, config) = (self.data_dir.clone(), self.config.clone());
        let title = format!("Opening the features table {}", file_name(&table));
        self.jobs.spawn(ctx, JobKind::Stage, title, move |progress| {
            tasks::open_features_table(&data_dir, &table, &config, progress)
        });
    }

    pub(super) fn remember(&mut self, file: &Path) {
        self.settings.remember_file(file);
        self.settings_writer.save(&self.settings);
    }
}

/// Whether `action` needs the run the map job holds, or writes the analysis the map job writes
/// at its end: it then waits for the map job to stop.
fn waits_for_map(action: &Action) -> bool {
    matches!(
        action,
        Action::LoadPreviewed
            | Action::BuildFeatures
            | Action::RunClustering
            | Action::UseK(_)
            | Action::ComputeMap
            | Action::OpenAnalysis(_)
    )
}
