//! The segment map: every clustered customer on the PCA or UMAP-style view, coloured by segment,
//! outliers as grey crosses, archetype names at the segment centres, hidden segments left out.
//!
//! Large data stays interactive because only [`ClusterView::scatter`]'s `drawn` subset is drawn
//! (at most `MAX_DRAWN_POINTS`, every segment keeping its share); hovering finds the nearest drawn
//! customer in screen space.

use crate::app::cluster_view::{ClusterView, MapKind};
use crate::app::plots::{row_color, row_name};
use crate::pipeline::archetypes::phrases::{feature_label, format_feature_value};
use eframe::egui::{self, RichText};
use egui_plot::{MarkerShape, Plot, PlotBounds, PlotPoint, PlotPoints, Points, Text};

/// How close (in points) the pointer must be to a customer to show its card.
const HOVER_RADIUS: f32 = 10.0;

/// Draw the map; returns the hovered customer (index into the scatter's points).
pub fn show(
    ui: &mut egui::Ui,
    view: &ClusterView,
    map: MapKind,
    hidden: &[bool],
    height: f32,
    applied_version: &mut [u64; 2],
) -> Option<usize> {
    let scatter = &view.scatter;
    let (bounds, version) = scatter.bounds(map);
    let new_bounds = bounds.filter(|_| applied_version[map as usize] != version);
    applied_version[map as usize] = version;
    let text_color = ui.visuals().strong_text_color();
    let (x_label, y_label) = match map {
        MapKind::Pca => (
            format!("PC1 ({:.0} % of variance)", view.pca_explained[0] * 100.0),
            format!("PC2 ({:.0} % of variance)", view.pca_explained[1] * 100.0),
        ),
        MapKind::Umap => ("UMAP-style 1".to_string(), "UMAP-style 2".to_string()),
    };
    let response = Plot::new(("segment_map", map as u8))
        .height(height)
        // The wheel scrolls the page (the plot sits in a scrolling page); drag pans, Ctrl+wheel
        // zooms, double-click resets.
        .allow_scroll(false)
        .show_x(false)
        .show_y(false)
        .x_axis_label(x_label)
        .y_axis_label(y_label)
        .label_formatter(|_| None)
        .show(ui, |plot| {
            if let Some([x0, x1, y0, y1]) = new_bounds {
                // New positions (a new run, a map snapshot): start from their central range.
                plot.set_plot_bounds(PlotBounds::from_min_max([x0, y0], [x1, y1]));
            }
            for g in 0..view.groups() {
                if hidden.get(g).copied().unwrap_or(false) {
                    continue;
                }
                let row = view.row(g);
                let points = PlotPoints::Borrowed(scatter.drawn_positions(map, g));
                let item =
                    Points::new(row_name(row), points).color(row_color(row)).allow_hover(false);
                plot.points(if row.is_outliers() {
                    item.shape(MarkerShape::Cross).radius(2.5)
                } else {
                    item.shape(MarkerShape::Circle).radius(1.6).filled(true)
                });
            }
            for g in 0..view.groups() {
                let (Some([x, y]), false) =
                    (scatter.centre(map, g), hidden.get(g).copied().unwrap_or(false))
                else {
                    continue;
                };
                let row = view.row(g);
                if row.is_outliers() {
                    continue; // outliers are scattered: a name at their median means nothing
                }
                plot.text(Text::new(
                    "names",
                    PlotPoint::new(x, y),
                    RichText::new(&row.archetype).strong().size(14.0).color(text_color),
                ));
            }
            nearest_drawn(plot, view, map, hidden)
        });
    let hovered = response.inner;
    if let Some(i) = hovered {
        response.response.on_hover_ui_at_pointer(|ui| hover_card(ui, view, i));
    }
    hovered
}

fn nearest_drawn(
    plot: &egui_plot::PlotUi<'_>,
    view: &ClusterView,
    map: MapKind,
    hidden: &[bool],
) -> Option<usize> {
    let pointer = plot.response().hover_pos()?;
    let scatter = &view.scatter;
    let mut best: Option<(f32, usize)> = None;
    for (g, points) in scatter.drawn.iter().enumerate() {
        if hidden.get(g).copied().unwrap_or(false) {
            continue;
        }
        for &i in points {
            let Some([x, y]) = scatter.position(map, i) else { continue };
            let d = plot.screen_from_plot(PlotPoint::new(x, y)).distance(pointer);
            if d <= HOVER_RADIUS && best.is_none_or(|(bd, _)| d < bd) {
                best = Some((d, i));
            }
        }
    }
    best.map(|(_, i)| i)
}

/// The customer's id, segment and key features.
fn hover_card(ui: &mut egui::Ui, view: &ClusterView, i: usize) {
    let scatter = &view.scatter;
    let row = view.row(scatter.group[i]);
    let customer = &view.data.customers[scatter.customer_row[i]];
    ui.label(RichText::new(&scatter.ids[i]).strong());
    ui.colored_label(row_color(row), row_name(row));
    if !customer.micro_segment.is_empty() && !customer.micro_segment.ends_with(".0") {
        ui.label(format!("micro-segment {}", customer.micro_segment));
    }
    egui::Grid::new("hover_features").num_columns(2).show(ui, |ui| {
        for (name, value) in view.data.key_feature_names.iter().zip(&customer.key_features) {
            ui.label(RichText::new(feature_label(name)).weak());
            ui.label(value.map_or_else(|| "—".to_string(), |v| format_feature_value(name, v)));
            ui.end_row();
        }
    });
}

/// A feature value with as many decimals as it needs.
pub fn format_value(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e12 {
        format!("{v:.0}")
    } else if v.abs() >= 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}
