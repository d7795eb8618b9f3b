//! Features page: the silver layer. Customers x features table (virtualised rows, so 100k+
//! customers scroll smoothly), a histogram of the chosen feature, the tenure-stage mix and the
//! per-feature statistics.

use super::{Action, heading, percent, stale_banner, thousands};
use crate::app::theme;
use crate::app::wizard::Step;
use crate::pipeline::model::{FeatureStat, FeatureSummary, FeatureTable};
use eframe::egui::{self, RichText};
use egui_extras::{Column, TableBuilder};
use egui_plot::{Bar, BarChart, LineStyle, Plot, VLine};

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

/// Share of customers the histogram's axis covers: the rest go to one overflow bar, so a long
/// tail (orders per customer from 1 to 350) does not squeeze everyone into the first bar.
pub const HISTOGRAM_COVERAGE: f64 = 0.99;

/// Counts of a feature's defined values in equal-width bins up to a high percentile, the values
/// above it in one overflow bin.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Histogram {
    /// (lower edge, width, count) per bin, ascending.
    pub bins: Vec<(f64, f64, u64)>,
    /// Values above the last bin (the long tail), when the axis was clipped.
    pub overflow: Option<Overflow>,
    /// Median of the defined values.
    pub median: Option<f64>,
    /// Customers for whom the feature is undefined (NULL or not finite).
    pub undefined: u64,
}

/// The values a clipped histogram gathers in its last bar.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Overflow {
    /// Every value in it is above this (the end of the regular bins).
    pub above: f64,
    pub max: f64,
    pub count: u64,
}

/// Bin the defined values into at most `bins` equal-width bins from their minimum to their
/// [`HISTOGRAM_COVERAGE`] percentile (nearest rank); values above it go to the overflow bin.
/// When that percentile is the maximum, or equals the minimum, nothing is clipped. Integer data
/// gets integer-wide bins centred on whole numbers (no empty half-bins between counts). All-equal
/// values give one bin of width 1 centred on the value.
pub fn histogram(values: &[Option<f64>], bins: usize) -> Histogram {
    let mut defined: Vec<f64> =
        values.iter().flatten().copied().filter(|v| v.is_finite()).collect();
    let undefined = (values.len() - defined.len()) as u64;
    if defined.is_empty() || bins == 0 {
        return Histogram { undefined, ..Histogram::default() };
    }
    defined.sort_by(f64::total_cmp);
    let (min, max) = (defined[0], defined[defined.len() - 1]);
    let median = Some(median_of_sorted(&defined));
    if max <= min {
        let bins = vec![(min - 0.5, 1.0, defined.len() as u64)];
        return Histogram { bins, overflow: None, median, undefined };
    }
    let rank =
        ((HISTOGRAM_COVERAGE * defined.len() as f64).ceil() as usize).clamp(1, defined.len());
    let clip = defined[rank - 1];
    let end = if clip > min { clip } else { max };
    let integers = defined.iter().all(|v| v.fract() == 0.0);
    let (start, width, bins) = if integers {
        let width = ((end - min + 1.0) / bins as f64).ceil().max(1.0);
        (min - 0.5, width, ((end - min + 1.0) / width).ceil() as usize)
    } else {
        (min, (end - min) / bins as f64, bins)
    };
    let mut counts = vec![0_u64; bins];
    let mut overflow = 0_u64;
    for &v in &defined {
        if v > end {
            overflow += 1;
        } else {
            counts[(((v - start) / width) as usize).min(bins - 1)] += 1;
        }
    }
    Histogram {
        bins: counts
            .into_iter()
            .enumerate()
            .map(|(i, c)| (start + i as f64 * width, width, c))
            .collect(),
        overflow: (overflow > 0).then_some(Overflow { above: end, max, count: overflow }),
        median,
        undefined,
    }
}

/// The median of ascending, non-empty `sorted` (the mean of the middle two for an even count).
fn median_of_sorted(sorted: &[f64]) -> f64 {
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 { sorted[mid] } else { (sorted[mid - 1] + sorted[mid]) / 2.0 }
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

    /// The histogram drawn for the selected feature (computed when the page first shows it).
    pub fn histogram_shown(&self) -> Option<&Histogram> {
        self.cached.as_ref().filter(|(i, _)| *i == self.selected).map(|(_, h)| h)
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
    let tail = hist.overflow.zip(hist.bins.last()).map(|(o, &(lo, w, _))| {
        let name = format!("above {}: up to {}", fmt_value(Some(o.above)), fmt_value(Some(o.max)));
        (o, Bar::new(lo + w * 1.5 + w * 0.5, o.count as f64).width(w * 1.9).name(name))
    });
    if let Some((o, _)) = &tail {
        ui.label(
            RichText::new(format!(
                "The last bar gathers the {} customers above {} (up to {}), so the axis \
                 shows the {} below.",
                thousands(o.count),
                fmt_value(Some(o.above)),
                fmt_value(Some(o.max)),
                percent(HISTOGRAM_COVERAGE)
            ))
            .weak(),
        );
    }
    let median = hist.median;
    let median_color = theme::highlight_color(ui.visuals());
    Plot::new("feature_histogram")
        .height(200.0)
        .allow_scroll(false)
        .allow_drag(false)
        .allow_zoom(false)
        .y_axis_label("customers")
        .legend(egui_plot::Legend::default().position(egui_plot::Corner::RightTop))
        .show(ui, |plot| {
            plot.bar_chart(BarChart::new(&names[view.selected], bars).color(color));
            if let Some((_, bar)) = tail {
                plot.bar_chart(BarChart::new("long tail", vec![bar]).color(theme::outlier_color()));
            }
            if let Some(m) = median {
                let name = format!("median {}", fmt_value(Some(m)));
                plot.vline(
                    VLine::new(name, m)
                        .color(median_color)
                        .width(2.0)
                        .style(LineStyle::dashed_loose()),
                );
            }
        });
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
    fn integer_values_get_whole_number_bins_and_a_median() {
        // 0..=9 in at most 5 bins: width ceil(10 / 5) = 2 from -0.5, so [-0.5, 1.5) holds 0 and
        // 1, [1.5, 3.5) 2 and 3, ... The 99th percentile (rank ceil(9.9) = 10) is the maximum:
        // nothing is clipped. Median (4 + 5) / 2.
        let mut values: Vec<Option<f64>> = (0..10).map(|v| Some(f64::from(v))).collect();
        values.push(None);
        values.push(Some(f64::NAN));
        let h = histogram(&values, 5);
        assert_eq!(h.undefined, 2);
        assert_eq!(h.bins.iter().map(|b| b.2).collect::<Vec<_>>(), vec![2, 2, 2, 2, 2]);
        assert_eq!((h.bins[1].0, h.bins[1].1), (1.5, 2.0));
        assert_eq!(h.median, Some(4.5));
        assert_eq!(h.overflow, None);
    }

    #[test]
    fn fractional_values_get_equal_width_bins_from_min_to_max() {
        // 0.25, 0.75, ..., 4.75 in 5 bins of width (4.75 - 0.25) / 5 = 0.9: two values each
        // (4.75 is the maximum and goes in the last bin).
        let values: Vec<Option<f64>> = (0..10).map(|i| Some(0.25 + 0.5 * f64::from(i))).collect();
        let h = histogram(&values, 5);
        assert_eq!(h.bins.iter().map(|b| b.2).collect::<Vec<_>>(), vec![2, 2, 2, 2, 2]);
        assert!((h.bins[1].0 - 1.15).abs() < 1e-12 && (h.bins[0].1 - 0.9).abs() < 1e-12);
        assert_eq!(h.median, Some(2.5));
    }

    #[test]
    fn a_long_tail_goes_to_one_overflow_bin() {
        // 990 customers with 1..=10 orders (99 each) and 10 with 200..=209. The 99th percentile
        // is rank 990, the last 10: bins of width 1 over 1..=10 hold 99 each; the 10 above go to
        // the overflow bin. Median: ranks 500 and 501 are both 6 (ranks 496..=594 are 6).
        let mut values: Vec<Option<f64>> = (0..990).map(|i| Some(f64::from(1 + i % 10))).collect();
        values.extend((200..210).map(|v| Some(f64::from(v))));
        let h = histogram(&values, 40);
        assert_eq!(h.bins.len(), 10);
        assert!(h.bins.iter().all(|b| b.2 == 99 && b.1 == 1.0), "{:?}", h.bins);
        assert_eq!(h.overflow, Some(Overflow { above: 10.0, max: 209.0, count: 10 }));
        assert_eq!(h.median, Some(6.0));
    }

    #[test]
    fn histogram_of_degenerate_columns_is_defined() {
        let h = histogram(&[Some(3.0), Some(3.0)], 10);
        assert_eq!((h.bins, h.median), (vec![(2.5, 1.0, 2)], Some(3.0)));
        assert_eq!(histogram(&[None], 10), Histogram { undefined: 1, ..Histogram::default() });
        assert!(histogram(&[], 10).bins.is_empty());
        // 99 % zeros: the percentile is the minimum, so the axis runs to the maximum instead.
        let mut zeros = vec![Some(0.0); 99];
        zeros.push(Some(4.0));
        let h = histogram(&zeros, 40);
        assert_eq!(h.overflow, None);
        assert_eq!(h.bins.iter().map(|b| b.2).sum::<u64>(), 100);
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
