//! Cluster page (placeholder): part 2 fills it with the clustering run and its results.

use super::heading;
use eframe::egui;

/// Draw the page.
pub fn show(ui: &mut egui::Ui) {
    heading(ui, "Cluster", "Grouping eligible customers by how they return.");
    ui.label("Coming in the next part of ReturnScope:");
    for line in [
        "• the clustering matrix (gold layer): chosen features, transformed and scaled;",
        "• DBSCAN to set unusual customers aside as outliers;",
        "• K-means with K chosen by stability and silhouette, then micro-segments inside each segment;",
        "• a name and a profile for every segment, and 2-D maps of the customers.",
    ] {
        ui.label(line);
    }
}
