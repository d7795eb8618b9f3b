//! Report page: what the Excel report will contain, Save report (also File menu and Ctrl+S),
//! Open containing folder, and the results export as CSV.

use super::{Action, heading, percent, stale_banner, thousands};
use crate::app::cluster_view::ClusterView;
use crate::app::plots::{row_color, row_name};
use crate::app::tasks::ShareChoice;
use crate::pipeline::report::{CUSTOMER_SHEET_MAX, SHEET_NAMES};
use eframe::egui::{self, RichText};
use std::path::PathBuf;

/// Label of the save button.
pub const SAVE_BUTTON: &str = "Save report…";
/// Label of the export button.
pub const EXPORT_BUTTON: &str = "Export results CSV…";
/// Label of the button that opens the folder of the last saved file.
pub const OPEN_FOLDER_BUTTON: &str = "Open containing folder";
/// Label of the pseudonyms checkbox.
pub const PSEUDONYMS_CHECKBOX: &str = "Replace customer e-mails with pseudonyms";
/// Label of the lookup checkbox.
pub const LOOKUP_CHECKBOX: &str = "Also save a private lookup file (pseudonyms and their e-mails)";

/// What this page remembers.
#[derive(Debug)]
pub struct ReportPage {
    /// The last report written.
    pub saved: Option<PathBuf>,
    /// The last results CSV written.
    pub exported: Option<PathBuf>,
    /// How the report and the export name customers (pseudonyms unless the user unticks it).
    pub share: ShareChoice,
}

impl Default for ReportPage {
    fn default() -> Self {
        Self {
            saved: None,
            exported: None,
            share: ShareChoice { pseudonymize: true, lookup: false },
        }
    }
}

/// The two checkboxes that decide how customers are named in what is saved.
fn share_choice(ui: &mut egui::Ui, share: &mut ShareChoice, busy: bool) {
    ui.add_enabled(!busy, egui::Checkbox::new(&mut share.pseudonymize, PSEUDONYMS_CHECKBOX))
        .on_hover_text(
            "Customers appear as C-… codes instead of e-mail addresses in the report and the \
             export. The same customer gets the same code in every analysis on this computer, \
             and the code cannot be turned back into the e-mail without ReturnScope's key.",
        );
    ui.indent("lookup", |ui| {
        ui.add_enabled(
            !busy && share.pseudonymize,
            egui::Checkbox::new(&mut share.lookup, LOOKUP_CHECKBOX),
        )
        .on_hover_text(
            "A CSV beside the saved file that maps each code back to the customer's e-mail, so \
             you can act on a segment. Keep it private: do not send it with the report.",
        );
    });
    if !share.pseudonymize {
        share.lookup = false;
        ui.label(
            RichText::new(
                "The saved files will list every customer's e-mail address: share them only \
                 with people allowed to see customer data.",
            )
            .color(crate::app::theme::warning_color(ui.visuals())),
        );
    }
}

/// What each sheet holds, in the workbook's order.
fn sheet_contents(view: &ClusterView) -> [String; 8] {
    let d = &view.data;
    let customers = d.customers.len();
    let overflow = if customers > CUSTOMER_SHEET_MAX {
        format!(
            " ({} of them listed, evenly spread over the segments; all in a CSV beside the \
             workbook)",
            thousands(CUSTOMER_SHEET_MAX as u64)
        )
    } else {
        String::new()
    };
    [
        format!("K = {}, segment sizes, the headline per segment", d.chosen_k),
        format!(
            "the {} segments, the outliers and the customers not segmented: archetype, \
             description, action, medians",
            d.chosen_k
        ),
        format!("{} customers with their segment{overflow}", thousands(customers as u64)),
        format!("{} features: statistics and importance", d.feature_stats.len()),
        format!("the K sweep ({} values of K) and the criteria", d.k_sweep.len()),
        format!("{} cleaning counts and the dataset checks", d.quality_counts.len()),
        "segment sizes, profiles and the maps as native Excel charts".to_string(),
        "every parameter, versions and timings, so the run can be repeated".to_string(),
    ]
}

/// Header of the column with each segment's share of all returned units.
pub const RETURNED_UNITS_HEADER: &str = "Share of all returned units";

/// The segments as the Executive Summary lists them.
fn segments_table(ui: &mut egui::Ui, view: &ClusterView) {
    egui::Grid::new("report_segments").num_columns(5).spacing([16.0, 4.0]).striped(true).show(
        ui,
        |ui| {
            let headers = [
                ("Segment", ""),
                ("Customers", ""),
                ("Share of customers", "This segment's customers / all customers"),
                (
                    RETURNED_UNITS_HEADER,
                    "Units this segment returned / units all customers returned: where the \
                     returns come from",
                ),
                ("Recommended action", ""),
            ];
            for (header, hint) in headers {
                let label = ui.label(RichText::new(header).strong());
                if !hint.is_empty() {
                    label.on_hover_text(hint);
                }
            }
            ui.end_row();
            for g in 0..view.groups() {
                let row = view.row(g);
                ui.colored_label(row_color(row), row_name(row));
                ui.label(thousands(row.size));
                ui.label(percent(row.share));
                ui.label(percent(row.returned_units_share));
                ui.add(egui::Label::new(&row.action).wrap());
                ui.end_row();
            }
        },
    );
}

/// Draw the page.
pub fn show(
    ui: &mut egui::Ui,
    page: &mut ReportPage,
    view: Option<&ClusterView>,
    stale: bool,
    busy: bool,
) -> Option<Action> {
    let mut action = None;
    heading(
        ui,
        "Report",
        "An Excel workbook for stakeholders, and every customer's segment as CSV.",
    );
    let Some(view) = view else {
        ui.label("Segment the customers first (step 4).");
        return None;
    };
    if stale {
        stale_banner(ui, "Run the clustering again before saving the report.");
    }
    let d = &view.data;
    ui.label(
        RichText::new(format!(
            "{}: {} order lines, {} customers ({} segmented), {} to {}.",
            d.dataset.input_file,
            thousands(d.dataset.rows_loaded),
            thousands(d.dataset.customers),
            thousands(view.clustered_customers() as u64),
            d.dataset.first_order_date,
            d.dataset.last_order_date,
        ))
        .strong(),
    );
    ui.add_space(6.0);
    segments_table(ui, view);
    ui.add_space(8.0);
    ui.label(RichText::new("The workbook").strong());
    egui::Grid::new("report_sheets").num_columns(2).spacing([16.0, 4.0]).striped(true).show(
        ui,
        |ui| {
            for (name, what) in SHEET_NAMES.iter().zip(sheet_contents(view)) {
                ui.label(*name);
                ui.label(what);
                ui.end_row();
            }
        },
    );
    ui.add_space(10.0);
    share_choice(ui, &mut page.share, busy);
    ui.add_space(4.0);
    ui.horizontal(|ui| {
        if ui
            .add_enabled(!busy, egui::Button::new(RichText::new(SAVE_BUTTON).strong()))
            .on_hover_text("Choose where to save the Excel report (Ctrl+S)")
            .clicked()
        {
            action = Some(Action::SaveReportDialog);
        }
        if ui
            .add_enabled(!busy, egui::Button::new(EXPORT_BUTTON))
            .on_hover_text("Every customer with segment, archetype, outlier flag and key features")
            .clicked()
        {
            action = Some(Action::ExportResultsDialog);
        }
        if ui
            .add_enabled(!busy, egui::Button::new(super::changes::COMPARE_BUTTON))
            .on_hover_text("What changed since an earlier analysis of the same customers")
            .clicked()
        {
            action = Some(Action::CompareDialog);
        }
    });
    for (what, path) in [("Report saved to", &page.saved), ("Results exported to", &page.exported)]
    {
        let Some(path) = path else { continue };
        ui.horizontal(|ui| {
            ui.label(format!("{what} {}", path.display()));
            if ui.button(OPEN_FOLDER_BUTTON).clicked()
                && let Some(dir) = path.parent()
            {
                action = Some(Action::OpenFolder(dir.to_path_buf()));
            }
        });
    }
    action
}
