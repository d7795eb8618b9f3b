//! "Feature Analysis": per-feature statistics over the eligible customers, and how much of each
//! feature's variance lies between segments (its importance for the segmentation), with data
//! bars and a ranking chart.

use rust_xlsxwriter::{Chart, ChartType, Color, ConditionalFormatDataBar, Worksheet, XlsxError};

use super::data::ReportData;
use super::style::{self, Styles};

const SHEET: &str = "Feature Analysis";
const HEADER_ROW: u32 = 3;
const HEADERS: [&str; 13] = [
    "Feature",
    "Non-null",
    "Null share",
    "Mean",
    "Std",
    "Min",
    "P25",
    "Median",
    "P75",
    "Max",
    "Outside P1-P99",
    "Between-segment variance share",
    "Importance rank",
];
/// The ranking table sits right of the statistics.
const RANK_COL: u16 = HEADERS.len() as u16 + 1;

pub fn write(sheet: &mut Worksheet, data: &ReportData, styles: &Styles) -> Result<(), XlsxError> {
    style::write_title(
        sheet,
        styles,
        "Feature Analysis",
        "Statistics of each customer feature (raw values, eligible customers). The variance share \
         tells how strongly a feature separates the segments (1 = only between segments).",
    )?;
    style::set_widths(
        sheet,
        0,
        &[
            32.0, 10.0, 11.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 12.0, 16.0, 11.0, 3.0,
            32.0, 14.0,
        ],
    )?;
    style::write_header(sheet, styles, HEADER_ROW, 0, &HEADERS)?;
    sheet.set_row_height(HEADER_ROW, 45)?;
    sheet.set_freeze_panes(HEADER_ROW + 1, 1)?;
    let ranking = importance_ranking(data);
    let mut row = HEADER_ROW + 1;
    for stat in &data.feature_stats {
        let number = styles.for_feature(&stat.feature);
        sheet.write_string_with_format(row, 0, &stat.feature, &styles.text)?;
        sheet.write_number_with_format(row, 1, stat.count as f64, &styles.count)?;
        style::write_opt_number(sheet, row, 2, Some(stat.null_share), &styles.percent)?;
        let values = [stat.mean, stat.std, stat.min, stat.p25, stat.median, stat.p75, stat.max];
        for (j, v) in values.into_iter().enumerate() {
            style::write_opt_number(sheet, row, 3 + j as u16, v, number)?;
        }
        style::write_opt_number(sheet, row, 10, stat.outside_p1_p99_share, &styles.percent)?;
        let importance = ranking.iter().position(|(f, _)| *f == stat.feature);
        let share = importance.map(|i| ranking[i].1);
        style::write_opt_number(sheet, row, 11, share, &styles.percent)?;
        style::write_opt_number(sheet, row, 12, importance.map(|i| i as f64 + 1.0), &styles.count)?;
        row += 1;
    }
    if row > HEADER_ROW + 1 {
        add_bars(sheet, HEADER_ROW + 1, row - 1, 2, style::BAR_WARM)?;
        add_bars(sheet, HEADER_ROW + 1, row - 1, 10, style::BAR_WARM)?;
        add_bars(sheet, HEADER_ROW + 1, row - 1, 11, style::BAR_COOL)?;
    }
    write_ranking(sheet, styles, &ranking)
}

/// (feature, variance share), highest first; NaN shares last.
pub fn importance_ranking(data: &ReportData) -> Vec<(String, f64)> {
    let mut ranking = data.feature_importance.clone();
    ranking.sort_by(|a, b| {
        let key = |v: f64| if v.is_finite() { v } else { f64::NEG_INFINITY };
        key(b.1).total_cmp(&key(a.1)).then_with(|| a.0.cmp(&b.0))
    });
    ranking
}

fn add_bars(
    sheet: &mut Worksheet,
    first: u32,
    last: u32,
    col: u16,
    rgb: u32,
) -> Result<(), XlsxError> {
    let bars = ConditionalFormatDataBar::new().set_fill_color(Color::RGB(rgb)).set_solid_fill(true);
    sheet.add_conditional_format(first, col, last, col, &bars)?;
    Ok(())
}

/// The importance ranking as a small table and a horizontal bar chart.
fn write_ranking(
    sheet: &mut Worksheet,
    styles: &Styles,
    ranking: &[(String, f64)],
) -> Result<(), XlsxError> {
    style::write_header(
        sheet,
        styles,
        HEADER_ROW,
        RANK_COL,
        &["Feature (by importance)", "Variance share"],
    )?;
    for (i, (feature, share)) in ranking.iter().enumerate() {
        let row = HEADER_ROW + 1 + i as u32;
        sheet.write_string_with_format(row, RANK_COL, feature, &styles.text)?;
        style::write_opt_number(sheet, row, RANK_COL + 1, Some(*share), &styles.percent)?;
    }
    if ranking.is_empty() {
        return Ok(());
    }
    let (first, last) = (HEADER_ROW + 1, HEADER_ROW + ranking.len() as u32);
    let mut chart = Chart::new(ChartType::Bar);
    style::style_chart(&mut chart, "Which features separate the segments");
    chart
        .add_series()
        .set_name("Between-segment variance share")
        .set_categories((SHEET, first, RANK_COL, last, RANK_COL))
        .set_values((SHEET, first, RANK_COL + 1, last, RANK_COL + 1))
        .set_format(&mut style::fill(crate::palette::segment_rgb(1)))
        .set_gap(50);
    // In a bar chart the y axis holds the categories: reversed, the most important is on top.
    chart.y_axis().set_reverse().set_label_interval(1);
    chart.x_axis().set_num_format("0%").set_min(0);
    chart.legend().set_hidden();
    chart.set_width(620).set_height(80 + 22 * ranking.len() as u32);
    sheet.insert_chart(last + 2, RANK_COL, &chart)?;
    Ok(())
}
