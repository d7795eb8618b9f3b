//! The K sweep: stability, silhouette, inertia (elbow), Calinski-Harabasz and Davies-Bouldin
//! against K, the chosen K marked on each. Clicking a plot picks the K under the pointer.

use crate::pipeline::model::KSweepRow;
use eframe::egui::{self, Color32};
use egui_plot::{Line, LineStyle, Plot, PlotPoints, Points, VLine};

/// One criterion of the sweep.
struct Criterion {
    title: &'static str,
    better: &'static str,
    /// The criterion's value for one K (`None` where it was not computed).
    value: fn(&KSweepRow) -> Option<f64>,
}

const CRITERIA: [Criterion; 5] = [
    Criterion {
        title: "Stability",
        better: "higher is better: the same segments on 80% subsamples",
        value: |r| r.stability,
    },
    Criterion { title: "Silhouette", better: "higher is better", value: |r| r.silhouette },
    Criterion { title: "Inertia (elbow)", better: "look for the bend", value: |r| Some(r.inertia) },
    Criterion {
        title: "Calinski-Harabasz",
        better: "higher is better",
        value: |r| r.calinski_harabasz,
    },
    Criterion { title: "Davies-Bouldin", better: "lower is better", value: |r| r.davies_bouldin },
];

/// Draw the criteria in a row of small plots; returns the K the user clicked, if any.
pub fn show(
    ui: &mut egui::Ui,
    sweep: &[KSweepRow],
    chosen_k: usize,
    current_k: usize,
    height: f32,
) -> Option<usize> {
    let mut picked = None;
    let spacing = ui.spacing().item_spacing.x;
    let width = ((ui.available_width() - 2.0 * spacing) / 3.0).max(90.0);
    for criteria in CRITERIA.chunks(3) {
        ui.horizontal(|ui| {
            for criterion in criteria {
                ui.vertical(|ui| {
                    ui.set_width(width);
                    ui.label(egui::RichText::new(criterion.title).strong())
                        .on_hover_text(criterion.better);
                    let plot = criterion_plot(ui, criterion, sweep, chosen_k, current_k, height);
                    picked = plot.or(picked);
                });
            }
        });
    }
    picked
}

fn criterion_plot(
    ui: &mut egui::Ui,
    criterion: &Criterion,
    sweep: &[KSweepRow],
    chosen_k: usize,
    current_k: usize,
    height: f32,
) -> Option<usize> {
    let points: Vec<[f64; 2]> = sweep
        .iter()
        .filter_map(|r| (criterion.value)(r).map(|v| [r.k as f64, v]))
        .filter(|p| p[1].is_finite())
        .collect();
    let color = ui.visuals().text_color();
    let chosen_color = Color32::from_rgb(0xD5, 0x5E, 0x00);
    let chosen: Vec<[f64; 2]> =
        points.iter().copied().filter(|p| p[0] as usize == chosen_k).collect();
    let response = Plot::new(("k_sweep", criterion.title))
        .height(height)
        .allow_drag(false)
        .allow_zoom(false)
        .allow_scroll(false)
        .allow_boxed_zoom(false)
        .show_x(false)
        .y_axis_min_width(28.0)
        .label_formatter(|hover| match hover {
            egui_plot::HoverPosition::NearDataPoint { position, .. } => {
                Some(format!("K = {}: {:.3}", position.x.round(), position.y))
            }
            egui_plot::HoverPosition::Elsewhere { .. } => None,
        })
        .show(ui, |plot| {
            plot.line(Line::new(criterion.title, PlotPoints::from(points.clone())).color(color));
            plot.points(Points::new("K", points.clone()).radius(2.5).color(color));
            plot.vline(VLine::new("chosen K", chosen_k as f64).color(chosen_color).width(1.5));
            if current_k != chosen_k {
                plot.vline(
                    VLine::new("shown K", current_k as f64)
                        .color(color)
                        .style(LineStyle::dashed_dense()),
                );
            }
            plot.points(Points::new("chosen", chosen).radius(5.0).color(chosen_color));
            let clicked = plot.response().clicked();
            clicked.then(|| plot.pointer_coordinate()).flatten()
        });
    let k = response.inner.map(|p| p.x.round())?;
    let valid = sweep.iter().any(|r| r.k as f64 == k);
    valid.then_some(k as usize)
}
