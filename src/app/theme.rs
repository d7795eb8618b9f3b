//! Colours of the app: the shared segment palette as egui colours, and the theme choice.

use crate::app::settings::ThemeChoice;
use crate::palette;
use eframe::egui::{self, Color32};

fn rgb(c: [u8; 3]) -> Color32 {
    Color32::from_rgb(c[0], c[1], c[2])
}

/// Colour of segment `segment` (1-based), the same as in the Excel report.
pub fn segment_color(segment: usize) -> Color32 {
    rgb(palette::segment_rgb(segment))
}

/// Colour of DBSCAN outliers.
pub fn outlier_color() -> Color32 {
    rgb(palette::OUTLIER_RGB)
}

/// Colour of customers that were not segmented.
pub fn not_segmented_color() -> Color32 {
    rgb(palette::NOT_SEGMENTED_RGB)
}

/// Colour for blocking problems and errors in the current theme.
pub fn error_color(visuals: &egui::Visuals) -> Color32 {
    visuals.error_fg_color
}

/// Colour for warnings in the current theme.
pub fn warning_color(visuals: &egui::Visuals) -> Color32 {
    visuals.warn_fg_color
}

/// Colour of a marker drawn over data (the median on a histogram): the report's accent orange
/// on light backgrounds, a lighter one on dark.
pub fn highlight_color(visuals: &egui::Visuals) -> Color32 {
    if visuals.dark_mode { Color32::from_rgb(0xF0, 0x8A, 0x3C) } else { rgb(palette::ACCENT_RGB) }
}

/// Colour for checks that passed.
pub fn ok_color(visuals: &egui::Visuals) -> Color32 {
    if visuals.dark_mode {
        Color32::from_rgb(120, 200, 120)
    } else {
        Color32::from_rgb(30, 130, 50)
    }
}

/// Apply the user's theme choice to the context.
pub fn apply(ctx: &egui::Context, choice: ThemeChoice) {
    let preference = match choice {
        ThemeChoice::System => egui::ThemePreference::System,
        ThemeChoice::Light => egui::ThemePreference::Light,
        ThemeChoice::Dark => egui::ThemePreference::Dark,
    };
    ctx.set_theme(preference);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn palette_colours_convert_channel_for_channel() {
        let c = segment_color(1);
        let [r, g, b] = palette::segment_rgb(1);
        assert_eq!([c.r(), c.g(), c.b(), c.a()], [r, g, b, 255]);
        assert_ne!(outlier_color(), not_segmented_color());
    }
}
