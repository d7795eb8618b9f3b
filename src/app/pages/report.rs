//! Report page (placeholder): part 2 adds the Excel report and the results export.

use super::heading;
use eframe::egui;

/// Draw the page.
pub fn show(ui: &mut egui::Ui) {
    heading(ui, "Report", "Sharing the segmentation.");
    ui.label("Coming in the next part of ReturnScope:");
    for line in [
        "• an Excel report: segment profiles, sizes, quality checks and the method used;",
        "• an export of every customer with their segment (CSV), from File > Export results;",
        "• saving the report with Ctrl+S once customers are clustered.",
    ] {
        ui.label(line);
    }
}
