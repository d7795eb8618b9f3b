//! The segment overview's two figures: the segment sizes as bars and the profile heatmap
//! (segments x key features, each cell the segment's median, coloured by where it ranks among all
//! clustered customers).

use crate::app::cluster_view::ClusterView;
use crate::app::format::{percent, thousands};
use crate::app::plots::{row_color, row_name};
use crate::pipeline::archetypes::phrases::{feature_label, format_feature_value};
use eframe::egui::{self, Color32, RichText, Sense, Stroke, StrokeKind, vec2};

/// Width of one heatmap cell.
const CELL_WIDTH: f32 = 78.0;
const CELL_HEIGHT: f32 = 24.0;

/// One bar per segment (and the outliers): size and share of the clustered customers.
pub fn size_bars(ui: &mut egui::Ui, view: &ClusterView) {
    let largest = (0..view.groups()).map(|g| view.row(g).size).max().unwrap_or(1).max(1);
    egui::Grid::new("segment_sizes").num_columns(3).spacing([10.0, 4.0]).show(ui, |ui| {
        for g in 0..view.groups() {
            let row = view.row(g);
            ui.colored_label(row_color(row), row_name(row));
            let (rect, _) = ui.allocate_exact_size(vec2(220.0, 16.0), Sense::hover());
            let width = rect.width() * row.size as f32 / largest as f32;
            let bar = egui::Rect::from_min_size(rect.min, vec2(width.max(1.0), rect.height()));
            ui.painter().rect_filled(bar, 2.0, row_color(row));
            ui.label(format!("{} ({})", thousands(row.size), percent(row.share)));
            ui.end_row();
        }
    });
}

/// The colour of a cell whose segment median ranks at `percentile` (0-100) among all clustered
/// customers, where the typical customer (the population median) ranks at `typical`: orange above,
/// blue below, neutral at the typical rank; full colour at the extremes (0 or 100).
pub fn percentile_color(percentile: Option<f64>, typical: Option<f64>, dark_mode: bool) -> Color32 {
    let neutral = if dark_mode { Color32::from_gray(60) } else { Color32::from_gray(235) };
    let Some(p) = percentile.filter(|p| p.is_finite()) else { return neutral };
    let typical = typical.filter(|t| t.is_finite()).unwrap_or(50.0).clamp(1.0, 99.0);
    let (strength, target) = if p >= typical {
        ((p - typical) / (100.0 - typical), Color32::from_rgb(0xE6, 0x7E, 0x22))
    } else {
        ((typical - p) / typical, Color32::from_rgb(0x2E, 0x86, 0xC1))
    };
    neutral.lerp_to_gamma(target, strength.clamp(0.0, 1.0) as f32)
}

/// Segments x key features; each cell shows the segment's median in its unit and is coloured by
/// where that median ranks among all clustered customers (a scale that stays readable when most
/// customers share one value). Hover shows the real values and the rank.
pub fn heatmap(ui: &mut egui::Ui, view: &ClusterView) {
    let names = &view.data.key_feature_names;
    let dark = ui.visuals().dark_mode;
    egui::Grid::new("profile_heatmap").spacing([2.0, 2.0]).show(ui, |ui| {
        ui.label("");
        for name in names {
            // Left-aligned in a fixed width (add_sized would justify the wrapped words).
            ui.allocate_ui(vec2(CELL_WIDTH, 44.0), |ui| {
                ui.set_width(CELL_WIDTH);
                ui.add(egui::Label::new(RichText::new(feature_label(name)).small()).wrap());
            });
        }
        ui.end_row();
        for g in 0..view.groups() {
            let row = view.row(g);
            ui.colored_label(row_color(row), row_name(row));
            for (j, name) in names.iter().enumerate() {
                let rank = view.percentiles[g].get(j).copied().flatten();
                let typical = view.typical_percentiles.get(j).copied().flatten();
                let median = row.key_feature_medians.get(j).copied().filter(|v| v.is_finite());
                let population = view.population_medians.get(j).copied().flatten();
                let value = |v: Option<f64>| v.map_or_else(|| "—".into(), |v| format_feature_value(name, v));
                heat_cell(ui, percentile_color(rank, typical, dark), &value(median), dark)
                    .on_hover_text(format!(
                        "{}\n{}: median {}\nAll clustered customers: median {}\nRanks above {} of all clustered customers",
                        feature_label(name),
                        row.label,
                        value(median),
                        value(population),
                        rank.map_or_else(|| "—".into(), |r| format!("{r:.0} %")),
                    ));
            }
            ui.end_row();
        }
    });
    ui.label(
        RichText::new(
            "Each cell: the segment's median. Colour: where it ranks among all clustered customers \
             (orange above the typical customer, blue below; the stronger, the further).",
        )
        .weak()
        .small(),
    );
}

fn heat_cell(ui: &mut egui::Ui, fill: Color32, text: &str, dark: bool) -> egui::Response {
    let (rect, response) = ui.allocate_exact_size(vec2(CELL_WIDTH, CELL_HEIGHT), Sense::hover());
    ui.painter().rect(rect, 2.0, fill, Stroke::NONE, StrokeKind::Inside);
    let text_color = if dark { Color32::WHITE } else { Color32::BLACK };
    ui.painter().text(
        rect.center(),
        egui::Align2::CENTER_CENTER,
        text,
        egui::FontId::proportional(12.0),
        text_color,
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heat_colours_grow_with_the_distance_from_the_typical_rank() {
        let neutral = Color32::from_gray(235);
        assert_eq!(percentile_color(Some(50.0), Some(50.0), false), neutral);
        // Where most customers return nothing the typical rank is 32: a median there is neutral.
        assert_eq!(percentile_color(Some(32.0), Some(32.0), false), neutral);
        assert_eq!(
            percentile_color(Some(100.0), Some(32.0), false),
            Color32::from_rgb(0xE6, 0x7E, 0x22)
        );
        assert_eq!(
            percentile_color(Some(0.0), Some(50.0), false),
            Color32::from_rgb(0x2E, 0x86, 0xC1)
        );
        assert_eq!(percentile_color(None, Some(50.0), false), neutral);
        let mild = percentile_color(Some(70.0), Some(50.0), false);
        let strong = percentile_color(Some(95.0), Some(50.0), false);
        assert!(mild != neutral && mild != strong);
        assert!(strong.r() > mild.r() || strong.b() < mild.b(), "further is stronger");
    }
}
