//! What the jobs send back becomes app state: page data, wizard steps, notices.

use super::*;
use crate::pipeline::error::without_row_content;

impl ReturnScopeApp {
    pub(super) fn receive_job_results(&mut self) {
        for (_, output) in self.jobs.drain() {
            self.apply_output(output);
        }
    }

    pub(super) fn apply_output(&mut self, output: JobOutput) {
        match output {
            JobOutput::Picked { purpose, path: Some(path) } => self.pending.push(match purpose {
                PickPurpose::OpenCsv => Action::OpenCsv(path),
                PickPurpose::OpenAnalysis => Action::OpenAnalysis(path),
                PickPurpose::OpenFeaturesTable => Action::OpenFeaturesTable(path),
                PickPurpose::SaveReport => Action::SaveReport(with_extension(path, "xlsx")),
                PickPurpose::ExportResults => Action::ExportResults(with_extension(path, "csv")),
                PickPurpose::CompareWith => Action::Compare(path),
                PickPurpose::ScoreCsv => Action::Score(path),
                PickPurpose::ExportMovers => Action::ExportMovers(with_extension(path, "csv")),
            }),
            JobOutput::Picked { path: None, .. } => {}
            JobOutput::NoDialog { purpose, fallback: Some(path) } => {
                tracing::warn!("no file dialog on this system; writing to {}", path.display());
                self.notify(
                    NoticeKind::Warning,
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
                    PickPurpose::ExportMovers => Action::ExportMovers(path),
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
                        tracing::error!(
                            "preview of {} failed: {}",
                            csv.display(),
                            without_row_content(&err.to_string())
                        );
                        self.load.preview_error = Some(err.to_string());
                    }
                }
            }
            JobOutput::Loaded { analysis, result } => self.loaded(analysis, result),
            JobOutput::Features(Ok((summary, table))) => {
                self.cluster_run = None; // its matrix no longer matches the features
                self.cluster.forget_curve();
                self.preview_data = None;
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
                // What waited for the map job to stop runs now.
                self.pending.append(&mut self.after_map);
                match result {
                    Ok(layout) => {
                        if let Some(view) = self.cluster.view.as_deref_mut() {
                            view.scatter.set_umap(&layout);
                        }
                    }
                    Err(err) if err.is_cancelled() => {
                        tracing::info!("the UMAP-style map was stopped for another step");
                    }
                    Err(err) => self.report_failure("The UMAP-style map", &err),
                }
            }
            JobOutput::EpsCurve(result) => self.eps_curve_ready(result),
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
            JobOutput::ReportSaved(Ok(written)) => {
                self.notify_written("Report saved to", &written);
                self.report.saved = Some(written.path);
                self.wizard.complete(Step::Report);
            }
            JobOutput::ReportSaved(Err(err)) => self.report_failure("Saving the report", &err),
            JobOutput::Compared(result) => self.compared(result),
            JobOutput::Scored(result) => self.scored(result),
            JobOutput::MoversExported(result) => self.movers_exported(result),
            JobOutput::ResultsExported(Ok(written)) => {
                self.notify_written("Results exported to", &written);
                self.report.exported = Some(written.path);
            }
            JobOutput::AnalysisDeleted { db, result: Ok(deleted) } => self.notify(
                NoticeKind::Success,
                format!(
                    "Deleted the analysis {} ({} files and folders).",
                    file_name(&db),
                    deleted.removed.len()
                ),
            ),
            JobOutput::AnalysisDeleted { db, result: Err(err) } => {
                self.report_failure(&format!("Deleting {}", file_name(&db)), &err)
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
    pub(super) fn segmented(&mut self, segmented: Segmented, fresh: bool) {
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

    /// The k-distance curve before the first run arrived (ignored once a run is shown).
    pub(super) fn eps_curve_ready(
        &mut self,
        result: Result<(tasks::EpsCurve, Arc<PreviewData>), AppError>,
    ) {
        if self.cluster.view.is_some() {
            return;
        }
        match result {
            Ok((curve, data)) => {
                self.cluster.curve = Some(curve);
                self.cluster.preview = None;
                self.cluster.estimate = None;
                self.preview_data = Some(data);
            }
            // Stopped for a stage: asked again the next time the page is shown without results.
            Err(err) if err.is_cancelled() => self.cluster.curve_requested = None,
            Err(err) => {
                tracing::warn!("the k-distance curve before the first run failed: {err:?}");
                self.cluster.curve_error = Some(format!(
                    "The k-distance curve cannot be shown before the first run: {err}"
                ));
            }
        }
    }

    pub(super) fn loaded(
        &mut self,
        analysis: Option<Analysis>,
        result: Result<(IngestSummary, QualityReport), AppError>,
    ) {
        self.analysis = analysis;
        match result {
            Ok((ingest, quality)) => {
                self.remember_analysis(&ingest);
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

    pub(super) fn restored(
        &mut self,
        analysis: Option<Analysis>,
        path: &Path,
        result: Result<Restored, AppError>,
    ) {
        match result {
            Ok(restored) => {
                if let Some(message) = &restored.unreadable {
                    self.notify(NoticeKind::Error, format!("Opening the analysis: {message}"));
                } else if restored.last_stage.is_none() {
                    self.notify(
                        NoticeKind::Info,
                        format!("{} holds no results yet: load a CSV into it.", file_name(path)),
                    );
                }
                self.analysis = analysis;
                if let Some(ingest) = &restored.ingest {
                    self.remember_analysis(ingest);
                }
                self.wizard = Wizard::restored(restored.last_stage);
                self.load = LoadPage::default();
                self.ingest = restored.ingest;
                self.quality = restored.quality;
                self.continue_anyway = false;
                self.features =
                    restored.features.map(|(summary, table)| FeaturesView::new(summary, table));
                self.cluster = ClusterPage::default();
                self.cluster_run = None;
                self.report = ReportPage { share: self.report.share, ..ReportPage::default() };
                if let Some(segmented) = restored.segmented {
                    self.cluster.set_view(segmented.view);
                    self.preview_data = segmented.preview;
                }
                if let Some(earlier) = self.compare_after_open.take() {
                    self.pending.push(Action::Compare(earlier));
                }
            }
            Err(err) => self.report_failure(&format!("Opening {}", file_name(path)), &err),
        }
    }

    /// List the open analysis (loaded from `ingest`'s file) first on the Load page.
    fn remember_analysis(&mut self, ingest: &IngestSummary) {
        let Some(db) = self.analysis.as_ref().map(|a| a.db_path().to_path_buf()) else { return };
        let now = crate::app::settings::now_unix();
        self.settings.remember_analysis(&db, &ingest.input_path, now);
        self.settings_writer.save(&self.settings);
    }

    pub(super) fn report_failure(&mut self, what: &str, err: &AppError) {
        if err.is_cancelled() {
            tracing::info!("{what}: cancelled by the user");
            self.notify(
                NoticeKind::Info,
                format!("{what} was cancelled; nothing of that step was kept."),
            );
        } else {
            tracing::error!("{what} failed: {}", without_row_content(&err.to_string()));
            self.notify(NoticeKind::Error, format!("{what} failed: {err}"));
        }
    }

    /// Say where a report or export went, and where its private lookup is.
    fn notify_written(&mut self, what: &str, written: &tasks::Written) {
        let lookup = written.lookup.as_ref().map_or_else(String::new, |l| {
            format!(" The pseudonym lookup is in {}: keep it private.", l.display())
        });
        self.notify(NoticeKind::Success, format!("{what} {}.{lookup}", written.path.display()));
    }

    /// Show a message above the page (info and success fade; errors stay until dismissed).
    pub(crate) fn notify(&mut self, kind: NoticeKind, text: impl Into<String>) {
        self.notices.post(kind, text);
    }
}
