//! Features page: the silver layer. Customers x features table (virtualised rows, so 100k+
//! customers scroll smoothly), a histogram of the chosen feature, the tenure-stage mix and the
//! per-feature statistics.

use super::{Action, heading, percent, stale_banner, thousands};
use crate::app::theme;
use crate::app::wizard::Step;
use crate::pipeline::model::{FeatureStat, FeatureSummary, FeatureTable};
use eframe::egui::{self, RichText};
use egui_extras::{Column, TableBuilder};
use egui_plot::{Bar, BarChart, Plot};

/// Label of the button that moves on to clustering.
pub const NEXT_BUTTON: &str = "Continue to clustering";
/// Bars of the feature histogram.
const HISTOGRAM_BINS: usize = 40;

/// Which table the lower half of the page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FeaturesTab {
    #[default]
    Customers,
    Statistics,
}

/// Counts of a feature's defined values in equal-width bins.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    /// (lower edge, width, count) per bin, ascending.
    pub bins: Vec<(f64, f64, u64)>,
    /// Customers for whom the feature is undefined (NULL or not finite).
    pub undefined: u64,
}

/// Bin the defined values into `bins` equal-width bins between their min and max (the max falls in
/// the last bin). All-equal values give one bin of width 1 centred on the value.
pub fn histogram(values: &[Option<f64>], bins: usize) -> Histogram {
    let defined: Vec<f64> = values.iter().flatten().copied().filter(|v| v.is_finite()).collect();
    let undefined = (values.len() - defined.len()) as u64;
    let (min, max) = defined
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    if defined.is_empty() || bins == 0 {
        return Histogram { bins: Vec::new(), undefined };
    }
    if max <= min {
        return Histogram { bins: vec![(min - 0.5, 1.0, defined.len() as u64)], undefined };
    }
    let width = (max - min) / bins as f64;
    let mut counts = vec![0_u64; bins];
    for v in defined {
        let i = (((v - min) / width) as usize).min(bins - 1);
        counts[i] += 1;
    }
    Histogram {
        bins: counts
            .into_iter()
            .enumerate()
            .map(|(i, c)| (min + i as f64 * width, width, c))
            .collect(),
        undefined,
    }
}

/// The Features page's data and view state.
#[derive(Debug, Default)]
pub struct FeaturesView {
    pub summary: FeatureSummary,
    pub table: FeatureTable,
    /// Index into `table.columns` of the histogram's feature.
    pub selected: usize,
    pub tab: FeaturesTab,
    cached: Option<(usize, Histogram)>,
}

impl FeaturesView {
    pub fn new(summary: FeatureSummary, table: FeatureTable) -> Self {
        Self { summary, table, ..Self::default() }
    }

    fn selected_histogram(&mut self) -> Option<&Histogram> {
        let column = self.table.values.get(self.selected)?;
        if self.cached.as_ref().is_none_or(|(i, _)| *i != self.selected) {
            self.cached = Some((self.selected, histogram(column, HISTOGRAM_BINS)));
        }
        self.cached.as_ref().map(|(_, h)| h)
    }
}

/// Draw the page.
pub fn show(
    ui: &mut egui::Ui,
    view: Option<&mut FeaturesView>,
    stale: bool,
    busy: bool,
) -> Option<Action> {
    heading(
        ui,
        "Features",
        "One row per customer: the 33 return-behaviour features of the silver layer.",
    );
    let Some(view) = view else {
        ui.label("Build the features on the Validate page first.");
        return None;
    };
    if stale {
        stale_banner(ui, "Build the features again on the Validate page.");
    }
    let mut action = None;
    ui.horizontal(|ui| {
        let s = &view.summary;
        ui.label(format!(
            "{} customers, {} eligible for segmentation, as of {} (built in {:.1} s).",
            thousands(s.customers),
            thousands(s.eligible_customers),
            s.as_of,
            s.seconds
        ));
        if ui.add_enabled(!busy, egui::Button::new(RichText::new(NEXT_BUTTON).strong())).clicked() {
            action = Some(Action::GoTo(Step::Cluster));
        }
    });
    ui.add_space(4.0);
    ui.columns(2, |cols| {
        histogram_panel(&mut cols[0], view);
        tenure_mix(&mut cols[1], &view.summary);
    });
    ui.add_space(4.0);
    ui.horizontal(|ui| {
        ui.selectable_value(&mut view.tab, FeaturesTab::Customers, "Customer table");
        ui.selectable_value(&mut view.tab, FeaturesTab::Statistics, "Feature statistics");
    });
    ui.separator();
    match view.tab {
        FeaturesTab::Customers => customers_table(ui, &view.table),
        FeaturesTab::Statistics => {
            let selected = view.table.columns.get(view.selected).cloned();
            let clicked = statistics_table(ui, &view.summary.stats, selected.as_deref());
            if let Some(i) = clicked.and_then(|f| view.table.columns.iter().position(|c| *c == f)) {
                view.selected = i;
            }
        }
    }
    action
}

fn histogram_panel(ui: &mut egui::Ui, view: &mut FeaturesView) {
    let names = view.table.columns.clone();
    if names.is_empty() {
        ui.label("No numeric features.");
        return;
    }
    view.selected = view.selected.min(names.len() - 1);
    ui.horizontal(|ui| {
        ui.label("Distribution of");
        egui::ComboBox::from_id_salt("histogram_feature")
            .selected_text(&names[view.selected])
            .height(400.0)
            .show_ui(ui, |ui| {
                for (i, name) in names.iter().enumerate() {
                    ui.selectable_value(&mut view.selected, i, name);
                }
            });
    });
    let color = theme::segment_color(1);
    let Some(hist) = view.selected_histogram() else { return };
    if hist.undefined > 0 {
        ui.label(
            RichText::new(format!(
                "{} customers without a value are not shown.",
                thousands(hist.undefined)
            ))
            .weak(),
        );
    }
    let bars: Vec<Bar> = hist
        .bins
        .iter()
        .map(|&(lo, w, c)| Bar::new(lo + w / 2.0, c as f64).width(w * 0.95))
        .collect();
    Plot::new("feature_histogram")
        .height(200.0)
        .allow_scroll(false)
        .allow_drag(false)
        .allow_zoom(false)
        .y_axis_label("customers")
        .show(ui, |plot| plot.bar_chart(BarChart::new(&names[view.selected], bars).color(color)));
}

fn tenure_mix(ui: &mut egui::Ui, summary: &FeatureSummary) {
    ui.label(RichText::new("Tenure stages").strong());
    let total: u64 = summary.tenure_stages.iter().map(|(_, n)| n).sum();
    egui::Grid::new("tenure_mix").num_columns(3).spacing([12.0, 6.0]).show(ui, |ui| {
        for (stage, n) in &summary.tenure_stages {
            let share = if total > 0 { *n as f32 / total as f32 } else { 0.0 };
            ui.label(stage);
            ui.label(thousands(*n));
            ui.add(
                egui::ProgressBar::new(share).desired_width(160.0).text(percent(f64::from(share))),
            );
            ui.end_row();
        }
    });
}

/// The statistics table; returns the feature whose name was clicked (its histogram is shown).
fn statistics_table(
    ui: &mut egui::Ui,
    stats: &[FeatureStat],
    selected: Option<&str>,
) -> Option<String> {
    let height = (ui.available_height() - 24.0).max(120.0);
    let mut clicked = None;
    let headers = [
        "Feature",
        "Defined",
        "Missing",
        "Mean",
        "Std",
        "Min",
        "P25",
        "Median",
        "P75",
        "Max",
        "Outside P1–P99",
    ];
    TableBuilder::new(ui)
        .id_salt("feature_stats")
        .striped(true)
        .column(Column::auto().at_least(200.0))
        .columns(Column::auto().at_least(64.0), headers.len() - 1)
        .max_scroll_height(height)
        .header(20.0, |mut header| {
            for h in headers {
                header.col(|ui| {
                    ui.strong(h);
                });
            }
        })
        .body(|body| {
            body.rows(20.0, stats.len(), |mut row| {
                let s = &stats[row.index()];
                row.col(|ui| {
                    let is_selected = selected == Some(s.feature.as_str());
                    let name = egui::Button::selectable(
                        is_selected,
                        RichText::new(&s.feature).monospace(),
                    );
                    if ui.add(name).on_hover_text("Show its distribution above").clicked() {
                        clicked = Some(s.feature.clone());
                    }
                });
                let cells = [
                    thousands(s.count),
                    percent(s.null_share),
                    fmt_value(s.mean),
                    fmt_value(s.std),
                    fmt_value(s.min),
                    fmt_value(s.p25),
                    fmt_value(s.median),
                    fmt_value(s.p75),
                    fmt_value(s.max),
                    s.outside_p1_p99_share.map_or_else(|| "—".into(), percent),
                ];
                for cell in cells {
                    row.col(|ui| {
                        ui.label(cell);
                    });
                }
            });
        });
    clicked
}

fn customers_table(ui: &mut egui::Ui, table: &FeatureTable) {
    let height = ui.available_height();
    egui::ScrollArea::horizontal().id_salt("customers_hscroll").show(ui, |ui| {
        TableBuilder::new(ui)
            .id_salt("customers")
            .striped(true)
            .max_scroll_height((height - 40.0).max(120.0))
            .column(Column::initial(220.0).clip(true).resizable(true))
            .column(Column::exact(64.0))
            .column(Column::exact(80.0))
            .columns(Column::initial(120.0).clip(true).resizable(true), table.columns.len())
            .header(20.0, |mut header| {
                for title in ["Customer", "Eligible", "Tenure"]
                    .iter()
                    .copied()
                    .chain(table.columns.iter().map(String::as_str))
                {
                    header.col(|ui| {
                        ui.strong(title).on_hover_text(title);
                    });
                }
            })
            .body(|body| {
                body.rows(18.0, table.customer_ids.len(), |mut row| {
                    let r = row.index();
                    row.col(|ui| {
                        ui.label(&table.customer_ids[r]);
                    });
                    row.col(|ui| {
                        ui.label(if table.eligible.get(r).copied().unwrap_or(false) {
                            "yes"
                        } else {
                            "no"
                        });
                    });
                    row.col(|ui| {
                        ui.label(table.tenure_stage.get(r).map_or("", String::as_str));
                    });
                    for column in &table.values {
                        row.col(|ui| {
                            ui.label(fmt_value(column.get(r).copied().flatten()));
                        });
                    }
                });
            });
    });
}

/// A feature value for display: integers without decimals, others with up to 3; "—" when undefined.
pub fn fmt_value(v: Option<f64>) -> String {
    match v {
        None => "—".into(),
        Some(x) if !x.is_finite() => "—".into(),
        Some(x) if x.fract() == 0.0 && x.abs() < 1e15 => format!("{x:.0}"),
        Some(x) => {
            let s = format!("{x:.3}");
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_bins_cover_min_to_max_and_count_undefined() {
        // Values 0..=9 in 5 bins of width (9-0)/5 = 1.8: [0,1.8) holds 0,1; [1.8,3.6) 2,3;
        // [3.6,5.4) 4,5; [5.4,7.2) 6,7; [7.2,9] 8,9 (the max goes in the last bin).
        let mut values: Vec<Option<f64>> = (0..10).map(|v| Some(f64::from(v))).collect();
        values.push(None);
        values.push(Some(f64::NAN));
        let h = histogram(&values, 5);
        assert_eq!(h.undefined, 2);
        assert_eq!(h.bins.iter().map(|b| b.2).collect::<Vec<_>>(), vec![2, 2, 2, 2, 2]);
        assert!((h.bins[1].0 - 1.8).abs() < 1e-12);
        assert!((h.bins[0].1 - 1.8).abs() < 1e-12);
    }

    #[test]
    fn histogram_of_degenerate_columns_is_defined() {
        assert_eq!(histogram(&[Some(3.0), Some(3.0)], 10).bins, vec![(2.5, 1.0, 2)]);
        assert_eq!(histogram(&[None], 10), Histogram { bins: vec![], undefined: 1 });
        assert!(histogram(&[], 10).bins.is_empty());
    }

    #[test]
    fn values_are_formatted_compactly() {
        assert_eq!(fmt_value(Some(3.0)), "3");
        assert_eq!(fmt_value(Some(0.25)), "0.25");
        assert_eq!(fmt_value(Some(1.0 / 3.0)), "0.333");
        assert_eq!(fmt_value(None), "—");
        assert_eq!(fmt_value(Some(f64::INFINITY)), "—");
    }
}
