//! File > "Delete analysis…": the confirmation, and closing the analysis before a job deletes it
//! with everything that belongs to it (see `pipeline::analysis_files`).

use super::*;

impl ReturnScopeApp {
    pub(super) fn delete_confirmation(&mut self, ctx: &egui::Context) {
        if !self.confirm_delete {
            return;
        }
        let name = self.analysis_path().map(file_name).unwrap_or_default();
        let response = egui::Modal::new(egui::Id::unique("delete_analysis")).show(ctx, |ui| {
            ui.set_max_width(460.0);
            ui.heading(format!("Delete the analysis {name}?"));
            ui.add(
                egui::Label::new(
                    "This removes the analysis file with every customer's data, its metadata, \
                     its spill folder and the logs that belong to it from this computer. The CSV \
                     you loaded and the reports you saved are not touched. This cannot be undone.",
                )
                .wrap(),
            );
            ui.add_space(8.0);
            ui.horizontal(|ui| {
                let delete = ui.button(RichText::new(DELETE_CONFIRM_BUTTON).strong()).clicked();
                let cancel = ui.button("Keep it").clicked();
                (delete, cancel)
            })
            .inner
        });
        let (delete, cancel) = response.inner;
        if delete {
            self.pending.push(Action::DeleteAnalysis);
        }
        if delete || cancel || response.should_close() {
            self.confirm_delete = false;
        }
    }

    /// Forget everything shown about the open analysis: the app is as after start-up (the
    /// report's sharing choice is kept).
    pub(super) fn forget_analysis_state(&mut self) {
        self.analysis = None;
        self.wizard = Wizard::default();
        self.load = LoadPage::default();
        self.ingest = None;
        self.quality = None;
        self.continue_anyway = false;
        self.features = None;
        self.cluster = ClusterPage::default();
        self.cluster_run = None;
        self.preview_data = None;
        self.preview_job = None;
        self.estimate_running = None;
        self.map_live = None;
        self.report = ReportPage { share: self.report.share, ..ReportPage::default() };
    }

    /// Close the open analysis and delete it with everything that belongs to it (the user
    /// confirmed). The app starts again from the Load page.
    pub(super) fn start_delete(&mut self, ctx: &egui::Context) {
        let Some(db) = self.analysis.take().map(|a| a.db_path().to_path_buf()) else { return };
        self.jobs.cancel_kind(JobKind::Preview);
        self.forget_analysis_state();
        self.settings.recent_files.retain(|f| f != &db);
        self.settings_writer.save(&self.settings);
        let data_dir = self.data_dir.clone();
        let title = format!("Deleting the analysis {}", file_name(&db));
        self.jobs.spawn(ctx, JobKind::Stage, title, move |_| tasks::delete_analysis(db, &data_dir));
    }
}
