//! The segment overview's two figures: the segment sizes as bars and the profile heatmap
//! (segments x key features, each cell the segment's median relative to all clustered customers).

use crate::app::cluster_view::ClusterView;
use crate::app::format::{percent, thousands};
use crate::app::plots::scatter::format_value;
use crate::app::plots::{row_color, row_name};
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

/// The colour of a cell whose segment median is `ratio` times the population's: orange above,
/// blue below, white-ish (or the panel colour) at 1; saturation grows with |log2 ratio| up to 4x.
pub fn ratio_color(ratio: Option<f64>, dark_mode: bool) -> Color32 {
    let neutral = if dark_mode { Color32::from_gray(60) } else { Color32::from_gray(235) };
    let Some(ratio) = ratio.filter(|r| r.is_finite() && *r > 0.0) else { return neutral };
    let strength = (ratio.log2().abs() / 2.0).min(1.0) as f32;
    let target = if ratio >= 1.0 {
        Color32::from_rgb(0xE6, 0x7E, 0x22)
    } else {
        Color32::from_rgb(0x2E, 0x86, 0xC1)
    };
    neutral.lerp_to_gamma(target, strength)
}

/// Segments x key features; each cell shows the segment's median as a multiple of all clustered
/// customers' median, coloured by how far it is from 1x. Hover shows both medians.
pub fn heatmap(ui: &mut egui::Ui, view: &ClusterView) {
    let names = &view.data.key_feature_names;
    let dark = ui.visuals().dark_mode;
    egui::Grid::new("profile_heatmap").spacing([2.0, 2.0]).show(ui, |ui| {
        ui.label("");
        for name in names {
            ui.add_sized(
                vec2(CELL_WIDTH, 32.0),
                egui::Label::new(RichText::new(name.replace('_', " ")).small()).wrap(),
            );
        }
        ui.end_row();
        for g in 0..view.groups() {
            let row = view.row(g);
            ui.colored_label(row_color(row), row_name(row));
            for (j, name) in names.iter().enumerate() {
                let ratio = view.relative[g].get(j).copied().flatten();
                let median = row.key_feature_medians.get(j).copied().filter(|v| v.is_finite());
                let population = view.population_medians.get(j).copied().flatten();
                heat_cell(ui, ratio, median, dark).on_hover_text(format!(
                    "{name}\n{}: median {}\nall clustered customers: median {}",
                    row.label,
                    median.map_or_else(|| "—".into(), format_value),
                    population.map_or_else(|| "—".into(), format_value),
                ));
            }
            ui.end_row();
        }
    });
    ui.label(
        RichText::new(
            "Each cell: the segment's median as a multiple of all clustered customers' median \
             (orange above, blue below; where the overall median is 0 the segment's median is shown).",
        )
        .weak()
        .small(),
    );
}

fn heat_cell(
    ui: &mut egui::Ui,
    ratio: Option<f64>,
    median: Option<f64>,
    dark: bool,
) -> egui::Response {
    let (rect, response) = ui.allocate_exact_size(vec2(CELL_WIDTH, CELL_HEIGHT), Sense::hover());
    let fill = ratio_color(ratio, dark);
    ui.painter().rect(rect, 2.0, fill, Stroke::NONE, StrokeKind::Inside);
    let text = match (ratio, median) {
        (Some(r), _) => format!("{r:.2}×"),
        (None, Some(m)) => format_value(m),
        (None, None) => "—".into(),
    };
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
    fn heat_colours_grow_with_the_ratio_and_split_by_direction() {
        let neutral = ratio_color(Some(1.0), false);
        assert_eq!(neutral, Color32::from_gray(235));
        let high = ratio_color(Some(4.0), false);
        assert_eq!(high, Color32::from_rgb(0xE6, 0x7E, 0x22), "4x is full orange");
        let low = ratio_color(Some(0.25), false);
        assert_eq!(low, Color32::from_rgb(0x2E, 0x86, 0xC1), "a quarter is full blue");
        assert_eq!(ratio_color(None, false), neutral);
        let mild = ratio_color(Some(1.5), false);
        assert!(mild != neutral && mild != high);
    }
}
