//! "Cluster Profiles": one row per segment (then Outliers and Not segmented) with size, its
//! shares of customers, orders and returned units, archetype, why it carries the name, action and
//! the medians of the key features (real values, business labels); below it, where each segment's
//! median ranks among all clustered customers (0-100, a scale that stays readable on skewed
//! features), shaded as a heatmap, and a chart comparing the segments on it.

use rust_xlsxwriter::{
    Chart, ChartType, Color, ConditionalFormat3ColorScale, ConditionalFormatType, Worksheet,
    XlsxError,
};

use super::data::ReportData;
use super::style::{self, Styles};
use crate::pipeline::archetypes::phrases::feature_label;

const SHEET: &str = "Cluster Profiles";
const HEADER_ROW: u32 = 3;
const FIXED_COLUMNS: [&str; 10] = [
    "Segment",
    "Customers",
    "Share of customers",
    "Share of orders",
    "Share of returned units",
    "Archetype",
    "Why this name",
    "Recommended action",
    "Silhouette",
    "Micro-segments",
];
/// First column of the key-feature medians.
pub const FEATURE_COL: u16 = FIXED_COLUMNS.len() as u16;

pub fn write(sheet: &mut Worksheet, data: &ReportData, styles: &Styles) -> Result<(), XlsxError> {
    style::write_title(
        sheet,
        styles,
        "Cluster Profiles",
        "Median of each key feature per segment (real values). Below: where each median ranks \
         among all clustered customers, 0-100 (50 = the typical customer; blue lower, orange higher).",
    )?;
    style::set_widths(sheet, 0, &[15.0, 11.0, 10.0, 10.0, 11.0, 24.0, 48.0, 44.0, 10.0, 10.0])?;
    for j in 0..data.key_feature_names.len() {
        sheet.set_column_width(FEATURE_COL + j as u16, 14.0)?;
    }
    let labels: Vec<String> = data.key_feature_names.iter().map(|f| feature_label(f)).collect();
    let mut headers: Vec<&str> = FIXED_COLUMNS.to_vec();
    headers.extend(labels.iter().map(String::as_str));
    style::write_header(sheet, styles, HEADER_ROW, 0, &headers)?;
    sheet.set_row_height(HEADER_ROW, 60)?;
    sheet.set_freeze_panes(HEADER_ROW + 1, 1)?;

    let mut row = HEADER_ROW + 1;
    for segment in &data.segments {
        sheet.write_string_with_format(row, 0, &segment.label, &styles.swatch(segment.rgb()))?;
        sheet.write_number_with_format(row, 1, segment.size as f64, &styles.count)?;
        sheet.write_number_with_format(row, 2, segment.share, &styles.percent)?;
        sheet.write_number_with_format(row, 3, segment.order_share, &styles.percent)?;
        sheet.write_number_with_format(row, 4, segment.returned_units_share, &styles.percent)?;
        sheet.write_string_with_format(row, 5, &segment.archetype, &styles.wrap)?;
        sheet.write_string_with_format(row, 6, &segment.description, &styles.wrap)?;
        sheet.write_string_with_format(row, 7, &segment.action, &styles.wrap)?;
        style::write_opt_number(sheet, row, 8, segment.silhouette, &styles.metric)?;
        sheet.write_number_with_format(row, 9, segment.micro_segments as f64, &styles.count)?;
        for (j, name) in data.key_feature_names.iter().enumerate() {
            let value = segment.key_feature_medians.get(j).copied();
            style::write_opt_number(
                sheet,
                row,
                FEATURE_COL + j as u16,
                value,
                styles.for_feature(name),
            )?;
        }
        let lines = (segment.description.len() / 52)
            .max(segment.action.len() / 48)
            .max(segment.archetype.len() / 24)
            + 1;
        sheet.set_row_height(row, 15.0 * lines as f64 + 4.0)?;
        row += 1;
    }
    if data.segments.is_empty() || data.key_feature_names.is_empty() {
        return Ok(());
    }
    write_percentile_profile(sheet, data, styles, &labels, row + 2)
}

/// One 3-colour scale per feature column on fixed points: 0 blue, 50 white, 100 orange.
fn add_heatmap(
    sheet: &mut Worksheet,
    data: &ReportData,
    first: u32,
    last: u32,
) -> Result<(), XlsxError> {
    for j in 0..data.key_feature_names.len() as u16 {
        let scale = ConditionalFormat3ColorScale::new()
            .set_minimum(ConditionalFormatType::Number, 0)
            .set_midpoint(ConditionalFormatType::Number, 50)
            .set_maximum(ConditionalFormatType::Number, 100)
            .set_minimum_color(Color::RGB(0x8DB4E2))
            .set_midpoint_color(Color::RGB(0xFFFFFF))
            .set_maximum_color(Color::RGB(0xF4B183));
        sheet.add_conditional_format(first, FEATURE_COL + j, last, FEATURE_COL + j, &scale)?;
    }
    Ok(())
}

/// Each segment's median as a percentile rank among all clustered customers (0-100), shaded,
/// and a clustered column chart of them: the segments side by side on every key feature.
fn write_percentile_profile(
    sheet: &mut Worksheet,
    data: &ReportData,
    styles: &Styles,
    labels: &[String],
    start: u32,
) -> Result<(), XlsxError> {
    let rows: Vec<_> = data.segments.iter().filter(|s| !s.is_not_segmented()).collect();
    // The block sits under the medians it ranks, labelled in the column before them.
    let label_col = FEATURE_COL - 1;
    let last_feature = FEATURE_COL + data.key_feature_names.len() as u16 - 1;
    sheet.merge_range(
        start,
        label_col,
        start,
        last_feature,
        "Where each segment's median ranks among all clustered customers (0-100; 50 = typical)",
        &styles.section,
    )?;
    let header_row = start + 1;
    sheet.write_string_with_format(header_row, label_col, "Segment", &styles.header_wrap)?;
    for (j, label) in labels.iter().enumerate() {
        sheet.write_string_with_format(
            header_row,
            FEATURE_COL + j as u16,
            label,
            &styles.header_wrap,
        )?;
    }
    sheet.set_row_height(header_row, 60)?;
    let population = population_sorted(data);
    let ranks: Vec<Vec<Option<f64>>> =
        rows.iter().map(|s| percentile_ranks(&s.key_feature_medians, &population)).collect();
    let mut chart = Chart::new(ChartType::Column);
    style::style_chart(&mut chart, "Segments compared: percentile of the median (50 = typical)");
    let whole = styles.count.clone().set_num_format("0");
    for (i, (segment, values)) in rows.iter().zip(&ranks).enumerate() {
        let row = header_row + 1 + i as u32;
        sheet.write_string_with_format(
            row,
            label_col,
            &segment.label,
            &styles.swatch(segment.rgb()),
        )?;
        sheet.set_row_height(row, 18)?;
        for (j, value) in values.iter().enumerate() {
            style::write_opt_number(sheet, row, FEATURE_COL + j as u16, *value, &whole)?;
        }
        chart
            .add_series()
            .set_name((SHEET, row, label_col))
            .set_categories((SHEET, header_row, FEATURE_COL, header_row, last_feature))
            .set_values((SHEET, row, FEATURE_COL, row, last_feature))
            .set_format(&mut style::fill(segment.rgb()))
            .set_gap(80);
    }
    add_heatmap(sheet, data, header_row + 1, header_row + rows.len() as u32)?;
    chart.y_axis().set_min(0).set_max(100).set_num_format("0");
    chart.legend().set_position(rust_xlsxwriter::ChartLegendPosition::Right);
    chart.set_width(1150).set_height(420);
    sheet.insert_chart(start, 0, &chart)?;
    Ok(())
}

/// Each key feature's values over all clustered customers (those with a segment), sorted.
pub fn population_sorted(data: &ReportData) -> Vec<Vec<f64>> {
    (0..data.key_feature_names.len())
        .map(|j| {
            let mut values: Vec<f64> = data
                .customers
                .iter()
                .filter(|c| c.segment.is_some())
                .filter_map(|c| c.key_features.get(j).copied().flatten())
                .filter(|v| v.is_finite())
                .collect();
            values.sort_unstable_by(f64::total_cmp);
            values
        })
        .collect()
}

/// The percentile rank (0-100) of `value` among `sorted`: the share below it plus half the share
/// equal to it (mid-rank, so a value shared by most customers ranks in the middle of them).
pub fn percentile_rank(sorted: &[f64], value: f64) -> Option<f64> {
    if sorted.is_empty() || !value.is_finite() {
        return None;
    }
    let below = sorted.partition_point(|v| *v < value);
    let not_above = sorted.partition_point(|v| *v <= value);
    let equal = not_above - below;
    Some(100.0 * (below as f64 + 0.5 * equal as f64) / sorted.len() as f64)
}

/// [`percentile_rank`] of each median among its feature's population.
pub fn percentile_ranks(medians: &[f64], population: &[Vec<f64>]) -> Vec<Option<f64>> {
    population
        .iter()
        .enumerate()
        .map(|(j, sorted)| percentile_rank(sorted, medians.get(j).copied()?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_ranks_stay_readable_on_skewed_features() {
        // 64 of 100 customers return nothing, the rest 1..=36 units: a skewed feature whose
        // population median is 0 (a ratio to it would be infinite).
        let mut population: Vec<f64> = vec![0.0; 64];
        population.extend((1..=36).map(f64::from));
        // A median of 0: below it none, equal 64 -> 32. A median of 5: 68 below -> 68.5.
        assert_eq!(percentile_rank(&population, 0.0), Some(32.0));
        assert_eq!(percentile_rank(&population, 5.0), Some(68.5));
        assert_eq!(percentile_rank(&population, 1_000.0), Some(100.0));
        assert_eq!(percentile_rank(&population, -1.0), Some(0.0));
        assert_eq!(percentile_rank(&population, f64::NAN), None);
        assert_eq!(percentile_rank(&[], 1.0), None);
        let ranks = percentile_ranks(&[5.0, 2.0], &[population, vec![1.0, 2.0, 3.0, 4.0]]);
        assert_eq!(ranks, vec![Some(68.5), Some(37.5)]);
    }
}
