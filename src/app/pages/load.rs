//! Load page, the first page a user sees: what the app does, the analyses already made (each
//! with its source file and date), and choosing a CSV (dialog, drop, recent files or the sample
//! data), whose columns are checked in a preview before it is loaded and validated.

use super::{Action, heading};
use crate::app::settings::{AnalysisRecord, format_utc};
use crate::app::theme;
use crate::pipeline::model::CsvPreview;
use eframe::egui::{self, RichText};
use egui_extras::{Column, TableBuilder};
use std::path::{Path, PathBuf};

/// Label of the button that loads the previewed CSV.
pub const LOAD_BUTTON: &str = "Load and validate";
/// Label of the sample-data button.
pub const SAMPLE_BUTTON: &str = "Try sample data";
/// Heading of the list of analyses.
pub const ANALYSES_HEADING: &str = "Your analyses";
/// What the app does, for a first look (two lines).
pub const INTRODUCTION: [&str; 2] = [
    "ReturnScope groups your customers by how they return what they buy (high returners, loyal \
     customers, new customers, and the other groups your data holds).",
    "Give it a CSV of order lines; you get named segments with what to do about each, a map of \
     them, and an Excel report to share. Nothing leaves this computer.",
];

/// What the Load page shows.
#[derive(Debug, Default)]
pub struct LoadPage {
    /// The CSV being previewed.
    pub csv: Option<PathBuf>,
    pub preview: Option<CsvPreview>,
    /// Why the preview failed, if it did.
    pub preview_error: Option<String>,
    /// The open analysis is segmented, so its model can score a new CSV (set by the shell).
    pub model_ready: bool,
}

impl LoadPage {
    /// A new file was chosen: forget the old preview.
    pub fn select(&mut self, csv: PathBuf) {
        *self = Self { csv: Some(csv), ..Self::default() };
    }

    /// The message naming every missing required column, if any is missing.
    pub fn missing_columns_message(&self) -> Option<String> {
        let preview = self.preview.as_ref()?;
        let missing = preview.missing_required();
        if missing.is_empty() {
            return None;
        }
        let (noun, pronoun) =
            if missing.len() == 1 { ("column", "it") } else { ("columns", "them") };
        Some(format!(
            "{} has no {noun} {}. ReturnScope needs {pronoun} to segment customers; export the order \
             lines again with {pronoun} included (names are matched case-insensitively).",
            file_name(&preview.path),
            missing.join(", "),
        ))
    }

    fn can_load(&self) -> bool {
        self.preview.is_some() && self.missing_columns_message().is_none()
    }
}

/// Draw the page.
pub fn show(
    ui: &mut egui::Ui,
    page: &LoadPage,
    recent: &[PathBuf],
    analyses: &[AnalysisRecord],
    busy: bool,
) -> Option<Action> {
    let mut action = None;
    heading(ui, "Load order lines", "One CSV row per order line. Drop a file on the window, or:");
    if page.csv.is_none() {
        for line in INTRODUCTION {
            ui.label(line);
        }
        ui.add_space(6.0);
    }
    ui.horizontal(|ui| {
        ui.add_enabled_ui(!busy, |ui| {
            if ui.button("Open CSV…").on_hover_text("Ctrl+O").clicked() {
                action = Some(Action::OpenCsvDialog);
            }
            if ui
                .button(SAMPLE_BUTTON)
                .on_hover_text(
                    "3,000 generated customers, with a few dirty lines for the cleaning to fix, \
                     written to the app's data folder",
                )
                .clicked()
            {
                action = Some(Action::TrySample);
            }
            if ui
                .button("Open analysis…")
                .on_hover_text("Reopen a .duckdb analysis without recomputing")
                .clicked()
            {
                action = Some(Action::OpenAnalysisDialog);
            }
            if page.model_ready
                && ui
                    .button(super::changes::SCORE_BUTTON)
                    .on_hover_text(
                        "Place a new extract's customers in the open analysis's segments (no \
                         re-clustering) and see what changed",
                    )
                    .clicked()
            {
                action = Some(Action::ScoreDialog);
            }
        });
    });
    if let Some(a) = analyses_list(ui, analyses, busy) {
        action = Some(a);
    }
    let csvs: Vec<&PathBuf> = recent.iter().filter(|f| !is_analysis_file(f)).take(5).collect();
    if !csvs.is_empty() {
        ui.add_space(6.0);
        ui.label(RichText::new("Recent CSV files").strong());
        ui.add_enabled_ui(!busy, |ui| {
            for file in csvs {
                let text = format!(
                    "{}   ({})",
                    file_name(file),
                    file.parent().map(|p| p.display().to_string()).unwrap_or_default()
                );
                if ui.link(text).on_hover_text(file.display().to_string()).clicked() {
                    action = Some(Action::open_file(file.clone()));
                }
            }
        });
    }
    ui.separator();
    if let Some(a) = preview_section(ui, page, busy) {
        action = Some(a);
    }
    action
}

/// The analyses made or opened, most recent first: source file, its folder, when; a click reopens
/// the analysis without recomputing.
fn analyses_list(ui: &mut egui::Ui, analyses: &[AnalysisRecord], busy: bool) -> Option<Action> {
    if analyses.is_empty() {
        return None;
    }
    let mut action = None;
    ui.add_space(6.0);
    ui.label(RichText::new(ANALYSES_HEADING).strong());
    ui.add_enabled_ui(!busy, |ui| {
        egui::Grid::new("analyses").num_columns(3).spacing([16.0, 4.0]).show(ui, |ui| {
            for record in analyses.iter().take(6) {
                let link = ui.link(file_name(&record.source)).on_hover_text(format!(
                    "Reopen the analysis {} without recomputing",
                    record.db.display()
                ));
                if link.clicked() {
                    action = Some(Action::OpenAnalysis(record.db.clone()));
                }
                let folder = record.source.parent().map(|p| p.display().to_string());
                ui.label(RichText::new(folder.unwrap_or_default()).weak());
                ui.label(RichText::new(format_utc(record.used_at)).weak());
                ui.end_row();
            }
        });
    });
    action
}

fn preview_section(ui: &mut egui::Ui, page: &LoadPage, busy: bool) -> Option<Action> {
    let Some(csv) = &page.csv else {
        ui.label(RichText::new("No file chosen yet.").weak());
        return None;
    };
    ui.label(RichText::new(format!("File: {}", csv.display())).strong());
    if let Some(err) = &page.preview_error {
        ui.colored_label(theme::error_color(ui.visuals()), err);
        return None;
    }
    let Some(preview) = &page.preview else {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label("Reading the first rows…");
        });
        return None;
    };
    let mut action = None;
    ui.horizontal(|ui| {
        let load = ui.add_enabled(
            page.can_load() && !busy,
            egui::Button::new(RichText::new(LOAD_BUTTON).strong()),
        );
        if load.clicked() {
            action = Some(Action::LoadPreviewed);
        }
        ui.label(format!("Delimiter: {}", delimiter_name(preview.delimiter)));
    });
    if let Some(message) = page.missing_columns_message() {
        ui.colored_label(theme::error_color(ui.visuals()), RichText::new(message).strong());
    }
    ui.add_space(6.0);
    columns_section(ui, preview);
    ui.add_space(6.0);
    ui.label(RichText::new(format!("First {} rows", preview.rows.len())).strong());
    rows_table(ui, preview);
    action
}

fn columns_section(ui: &mut egui::Ui, preview: &CsvPreview) {
    ui.label(RichText::new("Required columns").strong());
    ui.horizontal_wrapped(|ui| {
        for (required, matched) in &preview.required {
            // A read-only tick per required column: ticked when the header has it.
            let mut found = matched.is_some();
            let (text, color) = match matched {
                Some(_) => (required.clone(), theme::ok_color(ui.visuals())),
                None => (format!("{required} (missing)"), theme::error_color(ui.visuals())),
            };
            let tick = egui::Checkbox::new(&mut found, RichText::new(text).color(color));
            let response = ui.add_enabled(false, tick);
            if let Some(header) = matched.as_ref().filter(|h| *h != required) {
                response.on_disabled_hover_text(format!("found as \"{header}\""));
            }
        }
    });
    if !preview.extra.is_empty() {
        ui.label(RichText::new("Other columns (kept, not used)").strong());
        ui.label(preview.extra.join(", "));
    }
}

fn rows_table(ui: &mut egui::Ui, preview: &CsvPreview) {
    let height = (ui.available_height() - 28.0).max(120.0);
    egui::ScrollArea::horizontal().id_salt("preview_scroll").show(ui, |ui| {
        TableBuilder::new(ui)
            .id_salt("preview_rows")
            .striped(true)
            .max_scroll_height(height)
            .columns(
                Column::auto().at_least(60.0).at_most(260.0).clip(true).resizable(true),
                preview.columns.len(),
            )
            .header(20.0, |mut header| {
                for name in &preview.columns {
                    header.col(|ui| {
                        ui.strong(name);
                    });
                }
            })
            .body(|body| {
                body.rows(18.0, preview.rows.len(), |mut row| {
                    let values = &preview.rows[row.index()];
                    for c in 0..preview.columns.len() {
                        row.col(|ui| {
                            ui.label(values.get(c).map_or("", String::as_str));
                        });
                    }
                });
            });
    });
}

fn delimiter_name(d: char) -> String {
    match d {
        ',' => "comma".into(),
        ';' => "semicolon".into(),
        '\t' => "tab".into(),
        '|' => "pipe".into(),
        other => format!("'{other}'"),
    }
}

/// The file's name for messages.
pub fn file_name(path: &Path) -> String {
    path.file_name()
        .map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
}

/// Whether `path` is an analysis file rather than a CSV.
pub fn is_analysis_file(path: &Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("duckdb"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn preview_missing(missing: &[&str]) -> LoadPage {
        let required = crate::pipeline::model::REQUIRED_COLUMNS
            .iter()
            .map(|c| (c.to_string(), (!missing.contains(c)).then(|| c.to_string())))
            .collect();
        LoadPage {
            csv: Some("/x/orders.csv".into()),
            preview: Some(CsvPreview {
                path: "/x/orders.csv".into(),
                required,
                ..Default::default()
            }),
            preview_error: None,
            model_ready: false,
        }
    }

    #[test]
    fn missing_columns_are_named_and_block_loading() {
        let page = preview_missing(&["RETURN_QTY"]);
        let msg = page.missing_columns_message().unwrap();
        assert!(msg.starts_with("orders.csv has no column RETURN_QTY."), "{msg}");
        assert!(!page.can_load());
        let two = preview_missing(&["SKU", "BRAND_"]).missing_columns_message().unwrap();
        assert!(two.contains("no columns SKU, BRAND_."), "{two}");
        let ok = preview_missing(&[]);
        assert!(ok.missing_columns_message().is_none());
        assert!(ok.can_load());
    }
}
