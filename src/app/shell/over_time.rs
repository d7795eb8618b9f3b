//! The shell's part of "segments over time": starting the comparison, scoring and movers-export
//! jobs, and turning their results into the Changes page.

use super::{JobKind, NoticeKind, ReturnScopeApp, file_name};
use crate::app::over_time;
use crate::app::pages::changes::ChangesPage;
use crate::app::pages::thousands;
use crate::app::tasks::{AppError, Scored};
use crate::pipeline::compare::Comparison;
use eframe::egui;
use std::path::PathBuf;

impl ReturnScopeApp {
    pub(super) fn start_compare(&mut self, ctx: &egui::Context, earlier: PathBuf) {
        let Some(handle) = self.analysis_handle() else { return };
        let config = self.config.clone();
        let title = format!("Comparing with {}", file_name(&earlier));
        self.jobs.spawn(ctx, JobKind::Stage, title, move |progress| {
            over_time::compare_with_earlier(handle, &earlier, &config, progress)
        });
    }

    pub(super) fn start_score(&mut self, ctx: &egui::Context, csv: PathBuf) {
        let Some(handle) = self.analysis_handle() else { return };
        let data_dir = self.data_dir.clone();
        let title = format!("Scoring {} with this model", file_name(&csv));
        self.jobs.spawn(ctx, JobKind::Stage, title, move |progress| {
            over_time::score_with_model(handle, &csv, &data_dir, progress)
        });
    }

    pub(super) fn start_export_movers(&mut self, ctx: &egui::Context, path: PathBuf) {
        let Some(changes) = self.changes.as_mut() else { return };
        let movers = changes.filtered_movers().into_iter().cloned().collect();
        let title = format!("Exporting {}", file_name(&path));
        self.jobs
            .spawn(ctx, JobKind::Stage, title, move |_| over_time::export_movers(movers, path));
    }

    fn show_comparison(&mut self, comparison: Box<Comparison>) {
        self.changes = Some(ChangesPage::new(comparison));
        self.show_changes = true;
    }

    pub(super) fn compared(&mut self, result: Result<Box<Comparison>, AppError>) {
        match result {
            Ok(comparison) => self.show_comparison(comparison),
            Err(err) => self.report_failure("Comparing the analyses", &err),
        }
    }

    pub(super) fn scored(&mut self, result: Result<Box<Scored>, AppError>) {
        match result {
            Ok(scored) => {
                let s = &scored.summary;
                self.notify(
                    NoticeKind::Info,
                    format!(
                        "Scored {} customers with this analysis's model ({} placed, {} outliers); \
                         the new extract's analysis is {}.",
                        thousands(s.customers as u64),
                        thousands(s.placed as u64),
                        thousands(s.outliers as u64),
                        scored.db.display()
                    ),
                );
                let Scored { comparison, .. } = *scored;
                self.show_comparison(comparison);
            }
            Err(err) => self.report_failure("Scoring with this model", &err),
        }
    }

    pub(super) fn movers_exported(&mut self, result: Result<PathBuf, AppError>) {
        match result {
            Ok(path) => {
                self.notify(NoticeKind::Info, format!("Movers exported to {}.", path.display()));
                if let Some(changes) = self.changes.as_mut() {
                    changes.exported = Some(path);
                }
            }
            Err(err) => self.report_failure("Exporting the movers", &err),
        }
    }
}
