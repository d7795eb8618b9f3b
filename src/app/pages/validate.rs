//! Validate page: what loading found (every count of the cleaning table, in plain language) and the
//! dataset checks; blocking problems say how to go on, warnings can be accepted.

use super::{Action, heading, percent, stale_banner, thousands};
use crate::app::theme;
use crate::pipeline::model::{DatasetCheck, IngestSummary, QualityReport, Severity};
use eframe::egui::{self, RichText};
use egui_extras::{Column, TableBuilder};

/// Label of the button that runs the features stage.
pub const BUILD_FEATURES_BUTTON: &str = "Build features";
/// Label of the checkbox that accepts warnings.
pub const CONTINUE_ANYWAY: &str = "Continue anyway";
/// What the page says instead of offering to build features, for a features table.
pub const FEATURES_MADE_ELSEWHERE: &str = "These counts come from the job that built the features \
     table, and its features are already in this analysis: go on to Features.";

/// What the Validate page shows.
pub struct ValidateView<'a> {
    pub ingest: Option<&'a IngestSummary>,
    pub quality: Option<&'a QualityReport>,
    pub stale: bool,
    pub busy: bool,
}

/// Draw the page; `continue_anyway` is the user's acceptance of the warnings.
pub fn show(
    ui: &mut egui::Ui,
    view: &ValidateView<'_>,
    continue_anyway: &mut bool,
) -> Option<Action> {
    heading(
        ui,
        "Validate",
        "What the data looks like after cleaning, and whether it can be segmented.",
    );
    let Some(report) = view.quality else {
        ui.label("Load a CSV first.");
        return None;
    };
    if view.stale {
        stale_banner(ui, "Load the file again to refresh them.");
    }
    summary(ui, view.ingest, report);
    ui.add_space(6.0);
    checks(ui, &report.checks);
    let action = if view.ingest.is_some_and(IngestSummary::is_features_table) {
        ui.add_space(6.0);
        ui.label(FEATURES_MADE_ELSEWHERE);
        None
    } else {
        next_step(ui, report, continue_anyway, view.busy)
    };
    ui.add_space(8.0);
    ui.label(RichText::new("Quality counts").strong());
    counts_table(ui, report);
    action
}

fn summary(ui: &mut egui::Ui, ingest: Option<&IngestSummary>, r: &QualityReport) {
    egui::Grid::new("validate_summary").num_columns(2).spacing([24.0, 4.0]).show(ui, |ui| {
        if let Some(ingest) = ingest {
            ui.label("File");
            ui.label(&ingest.input_name);
            ui.end_row();
            if ingest.malformed_rows > 0 {
                ui.label("Malformed rows (skipped)");
                ui.label(thousands(ingest.malformed_rows));
                ui.end_row();
            }
        }
        let rows = [
            ("Rows loaded", thousands(r.rows_loaded)),
            ("Clean order lines", thousands(r.clean_lines)),
            ("Customers", thousands(r.customers)),
            ("Customers with enough orders to segment", thousands(r.eligible_customers)),
            (
                "Orders from",
                format!(
                    "{} to {}",
                    r.first_order.as_deref().unwrap_or("?"),
                    r.last_order.as_deref().unwrap_or("?")
                ),
            ),
            ("Measured as of", r.as_of.clone().unwrap_or_else(|| "?".into())),
        ];
        for (name, value) in rows {
            ui.label(name);
            ui.label(value);
            ui.end_row();
        }
    });
}

fn checks(ui: &mut egui::Ui, checks: &[DatasetCheck]) {
    for check in checks {
        let (icon, color) = match check.severity {
            Severity::Ok => ("OK", theme::ok_color(ui.visuals())),
            Severity::Warning => ("Warning", theme::warning_color(ui.visuals())),
            Severity::Blocking => ("Blocking", theme::error_color(ui.visuals())),
        };
        if check.severity == Severity::Blocking {
            egui::Frame::group(ui.style()).stroke(egui::Stroke::new(1.5, color)).show(ui, |ui| {
                ui.colored_label(
                    color,
                    RichText::new(format!("{icon}: {}: {}", check.name, check.message)).strong(),
                );
            });
        } else {
            ui.colored_label(color, format!("{icon}: {}: {}", check.name, check.message));
        }
    }
}

fn next_step(
    ui: &mut egui::Ui,
    report: &QualityReport,
    continue_anyway: &mut bool,
    busy: bool,
) -> Option<Action> {
    let has_warnings = report.checks.iter().any(|c| c.severity == Severity::Warning);
    let mut action = None;
    ui.add_space(6.0);
    ui.horizontal(|ui| {
        if !report.can_segment() {
            ui.add_enabled(false, egui::Button::new(BUILD_FEATURES_BUTTON));
            ui.colored_label(
                theme::error_color(ui.visuals()),
                "Segmentation is blocked: fix the problems above in the source data and load it again.",
            );
            return;
        }
        if has_warnings {
            ui.checkbox(continue_anyway, CONTINUE_ANYWAY).on_hover_text("Build features although the warnings above apply");
        }
        let allowed = !busy && (!has_warnings || *continue_anyway);
        if ui.add_enabled(allowed, egui::Button::new(RichText::new(BUILD_FEATURES_BUTTON).strong())).clicked() {
            action = Some(Action::BuildFeatures);
        }
    });
    action
}

fn counts_table(ui: &mut egui::Ui, report: &QualityReport) {
    TableBuilder::new(ui)
        .id_salt("quality_counts")
        .striped(true)
        .column(Column::initial(220.0).at_least(160.0).clip(true).resizable(true))
        .column(Column::auto().at_least(70.0))
        .column(Column::auto().at_least(60.0))
        .column(Column::initial(320.0).at_least(120.0).clip(true).resizable(true))
        .column(Column::remainder().at_least(120.0).clip(true))
        .header(20.0, |mut header| {
            for title in ["Case", "Count", "Share", "What it means", "What was done"] {
                header.col(|ui| {
                    ui.strong(title);
                });
            }
        })
        .body(|mut body| {
            for count in &report.counts {
                body.row(20.0, |mut row| {
                    let highlight = count.count > 0;
                    row.col(|ui| {
                        ui.label(RichText::new(&count.name).monospace());
                    });
                    row.col(|ui| {
                        let text = RichText::new(thousands(count.count));
                        ui.label(if highlight { text.strong() } else { text.weak() });
                    });
                    row.col(|ui| {
                        ui.label(percent(count.share));
                    });
                    row.col(|ui| {
                        ui.label(&count.meaning).on_hover_text(&count.meaning);
                    });
                    row.col(|ui| {
                        ui.label(&count.action).on_hover_text(&count.action);
                    });
                });
            }
        });
}
