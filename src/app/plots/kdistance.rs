//! The sorted k-distance curve of phase 1 with its knee and a horizontal eps line the user drags
//! (or clicks) to try another eps.

use eframe::egui::{self, Color32};
use egui_plot::{AxisHints, HLine, HoverPosition, Line, LineStyle, Plot, PlotPoints, Points};

/// Draw the curve (`k_distance` ascending, one value per sampled customer) with `eps` as a line;
/// returns the eps the user dragged or clicked to, if any.
pub fn show(
    ui: &mut egui::Ui,
    k_distance: &[f64],
    knee: Option<usize>,
    eps: f64,
    min_samples: usize,
    height: f32,
) -> Option<f64> {
    let n = k_distance.len().max(1) as f64;
    let curve: PlotPoints<'_> =
        k_distance.iter().enumerate().map(|(i, d)| [i as f64 / n * 100.0, *d]).collect();
    let line_color = ui.visuals().text_color();
    let eps_color = Color32::from_rgb(0xD5, 0x5E, 0x00);
    let response = Plot::new("kdistance_plot")
        .height(height)
        .allow_drag(false)
        .allow_zoom(false)
        .allow_scroll(false)
        .allow_boxed_zoom(false)
        .allow_double_click_reset(false)
        .show_x(false)
        .x_axis_label("customers, sorted (%)")
        // egui_plot hides tick labels closer than 20 points; a curve from 0 to 8 in a short plot
        // has its unit ticks 19 points apart and lost every label. 12 points is enough for one
        // line of text.
        .custom_y_axes(vec![
            AxisHints::new_y()
                .label(format!("distance to {min_samples}th neighbour"))
                .label_spacing(12.0..=20.0)
                .min_thickness(36.0),
        ])
        .label_formatter(|hover| {
            let (HoverPosition::NearDataPoint { position, .. }
            | HoverPosition::Elsewhere { position }) = hover;
            Some(format!("eps {:.3}", position.y))
        })
        .show(ui, |plot| {
            plot.line(Line::new("k-distance", curve).color(line_color).width(1.5));
            if let Some(i) = knee.filter(|&i| i < k_distance.len()) {
                plot.points(
                    Points::new("knee", vec![[i as f64 / n * 100.0, k_distance[i]]])
                        .radius(5.0)
                        .color(eps_color),
                );
            }
            plot.hline(
                HLine::new("eps", eps).color(eps_color).width(2.0).style(LineStyle::dashed_loose()),
            );
            let pressed = plot.response().dragged() || plot.response().clicked();
            pressed.then(|| plot.pointer_coordinate().map(|p| p.y)).flatten()
        });
    let picked = response.inner.filter(|y| y.is_finite() && *y > 0.0);
    response.response.on_hover_text("Drag or click to try another eps; the numbers below update.");
    picked
}
