//! The Cluster page's plots, one file each: the k-distance curve with its draggable eps line
//! ([`kdistance`]), the K sweep ([`sweep`]), the segment map ([`scatter`]) and the segment overview
//! (size bars and the relative profile heatmap, [`profile`]).
//!
//! Plots draw from plain data and return what the user did (a new eps, a K, a hovered customer);
//! the page turns that into actions.

pub mod kdistance;
pub mod profile;
pub mod scatter;
pub mod sweep;

use crate::pipeline::report::SegmentRow;
use eframe::egui::Color32;

/// The colour of a segment row (the shared palette; Outliers grey).
pub fn row_color(row: &SegmentRow) -> Color32 {
    let [r, g, b] = row.rgb();
    Color32::from_rgb(r, g, b)
}

/// "Segment 3 · High Returners", or just "Outliers" where the label is the archetype.
pub fn row_name(row: &SegmentRow) -> String {
    if row.label == row.archetype {
        row.label.clone()
    } else {
        format!("{} · {}", row.label, row.archetype)
    }
}
