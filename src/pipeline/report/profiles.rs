//! "Cluster Profiles": one row per segment (then Outliers and Not segmented) with size, share,
//! archetype, description, action and the medians of the key features, shaded as a heatmap;
//! below it, the same medians rescaled per feature and a chart comparing the segments.

use rust_xlsxwriter::{
    Chart, ChartType, Color, ConditionalFormat3ColorScale, Worksheet, XlsxError,
};

use super::data::ReportData;
use super::style::{self, Styles};

const SHEET: &str = "Cluster Profiles";
const HEADER_ROW: u32 = 3;
const FIXED_COLUMNS: [&str; 9] = [
    "Segment",
    "Customers",
    "Share",
    "Archetype",
    "Description",
    "Recommended action",
    "Silhouette",
    "Micro-segments",
    "Share of returned units",
];
/// First column of the key-feature medians.
pub const FEATURE_COL: u16 = FIXED_COLUMNS.len() as u16;

pub fn write(sheet: &mut Worksheet, data: &ReportData, styles: &Styles) -> Result<(), XlsxError> {
    style::write_title(
        sheet,
        styles,
        "Cluster Profiles",
        "Median of each key feature per segment (raw values). Shading runs per feature column: \
         blue = lowest, orange = highest among the rows.",
    )?;
    style::set_widths(sheet, 0, &[15.0, 11.0, 8.0, 24.0, 44.0, 44.0, 10.0, 10.0, 11.0])?;
    for j in 0..data.key_feature_names.len() {
        sheet.set_column_width(FEATURE_COL + j as u16, 13.0)?;
    }
    let mut headers: Vec<&str> = FIXED_COLUMNS.to_vec();
    headers.extend(data.key_feature_names.iter().map(String::as_str));
    style::write_header(sheet, styles, HEADER_ROW, 0, &headers)?;
    sheet.set_row_height(HEADER_ROW, 45)?;
    sheet.set_freeze_panes(HEADER_ROW + 1, 1)?;

    let mut row = HEADER_ROW + 1;
    for segment in &data.segments {
        sheet.write_string_with_format(row, 0, &segment.label, &styles.swatch(segment.rgb()))?;
        sheet.write_number_with_format(row, 1, segment.size as f64, &styles.count)?;
        sheet.write_number_with_format(row, 2, segment.share, &styles.percent)?;
        sheet.write_string_with_format(row, 3, &segment.archetype, &styles.wrap)?;
        sheet.write_string_with_format(row, 4, &segment.description, &styles.wrap)?;
        sheet.write_string_with_format(row, 5, &segment.action, &styles.wrap)?;
        style::write_opt_number(sheet, row, 6, segment.silhouette, &styles.metric)?;
        sheet.write_number_with_format(row, 7, segment.micro_segments as f64, &styles.count)?;
        sheet.write_number_with_format(row, 8, segment.returned_units_share, &styles.percent)?;
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
        let lines = (segment.description.len().max(segment.action.len()) / 48)
            .max(segment.archetype.len() / 24)
            + 1;
        sheet.set_row_height(row, 15.0 * lines as f64 + 4.0)?;
        row += 1;
    }
    if data.segments.is_empty() || data.key_feature_names.is_empty() {
        return Ok(());
    }
    add_heatmap(sheet, data, HEADER_ROW + 1, row - 1)?;
    write_relative_profile(sheet, data, styles, row + 2)
}

/// One 3-colour scale per feature column, so each feature is shaded on its own range.
fn add_heatmap(
    sheet: &mut Worksheet,
    data: &ReportData,
    first: u32,
    last: u32,
) -> Result<(), XlsxError> {
    for j in 0..data.key_feature_names.len() as u16 {
        let scale = ConditionalFormat3ColorScale::new()
            .set_minimum_color(Color::RGB(0x8DB4E2))
            .set_midpoint_color(Color::RGB(0xFFFFFF))
            .set_maximum_color(Color::RGB(0xF4B183));
        sheet.add_conditional_format(first, FEATURE_COL + j, last, FEATURE_COL + j, &scale)?;
    }
    Ok(())
}

/// Each feature's medians rescaled to 0 (lowest row) ..= 1 (highest row), and a clustered
/// column chart of them: the segments side by side on every key feature.
fn write_relative_profile(
    sheet: &mut Worksheet,
    data: &ReportData,
    styles: &Styles,
    start: u32,
) -> Result<(), XlsxError> {
    let rows: Vec<_> = data.segments.iter().filter(|s| !s.is_not_segmented()).collect();
    // The block sits under the medians it rescales, labelled in the column before them.
    let label_col = FEATURE_COL - 1;
    let last_feature = FEATURE_COL + data.key_feature_names.len() as u16 - 1;
    sheet.merge_range(
        start,
        label_col,
        start,
        last_feature,
        "Relative profile: each feature rescaled from 0 (lowest segment) to 1 (highest)",
        &styles.section,
    )?;
    let header_row = start + 1;
    sheet.write_string_with_format(header_row, label_col, "Segment", &styles.header_wrap)?;
    for (j, name) in data.key_feature_names.iter().enumerate() {
        sheet.write_string_with_format(
            header_row,
            FEATURE_COL + j as u16,
            name,
            &styles.header_wrap,
        )?;
    }
    sheet.set_row_height(header_row, 45)?;
    let scaled = rescale_per_feature(
        &rows.iter().map(|s| s.key_feature_medians.clone()).collect::<Vec<_>>(),
        data.key_feature_names.len(),
    );
    let mut chart = Chart::new(ChartType::Column);
    style::style_chart(
        &mut chart,
        "Segments compared on the key features (0 = lowest, 1 = highest)",
    );
    for (i, (segment, values)) in rows.iter().zip(&scaled).enumerate() {
        let row = header_row + 1 + i as u32;
        sheet.write_string_with_format(
            row,
            label_col,
            &segment.label,
            &styles.swatch(segment.rgb()),
        )?;
        sheet.set_row_height(row, 18)?;
        for (j, value) in values.iter().enumerate() {
            style::write_opt_number(sheet, row, FEATURE_COL + j as u16, *value, &styles.decimal)?;
        }
        chart
            .add_series()
            .set_name((SHEET, row, label_col))
            .set_categories((SHEET, header_row, FEATURE_COL, header_row, last_feature))
            .set_values((SHEET, row, FEATURE_COL, row, last_feature))
            .set_format(&mut style::fill(segment.rgb()))
            .set_gap(80);
    }
    chart.y_axis().set_min(0).set_max(1).set_num_format("0.0");
    chart.legend().set_position(rust_xlsxwriter::ChartLegendPosition::Right);
    chart.set_width(1150).set_height(420);
    sheet.insert_chart(start, 0, &chart)?;
    Ok(())
}

/// Min-max rescaling of each feature (column) across the rows; 0.5 when all rows are equal,
/// `None` for a missing value.
pub fn rescale_per_feature(rows: &[Vec<f64>], n_features: usize) -> Vec<Vec<Option<f64>>> {
    let value = |row: &Vec<f64>, j: usize| row.get(j).copied().filter(|v| v.is_finite());
    let ranges: Vec<Option<(f64, f64)>> = (0..n_features)
        .map(|j| {
            rows.iter().filter_map(|r| value(r, j)).fold(None, |acc, v| match acc {
                None => Some((v, v)),
                Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
            })
        })
        .collect();
    rows.iter()
        .map(|row| {
            (0..n_features)
                .map(|j| {
                    let v = value(row, j)?;
                    let (lo, hi) = ranges[j]?;
                    Some(if hi > lo { (v - lo) / (hi - lo) } else { 0.5 })
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rescaling_maps_each_feature_to_its_own_range() {
        // Feature 0 spans 2..6: 4 -> (4 - 2) / 4 = 0.5. Feature 1 is constant: 0.5 everywhere.
        let rows = vec![vec![2.0, 7.0], vec![6.0, 7.0], vec![4.0, f64::NAN]];
        let scaled = rescale_per_feature(&rows, 2);
        assert_eq!(scaled[0], vec![Some(0.0), Some(0.5)]);
        assert_eq!(scaled[1], vec![Some(1.0), Some(0.5)]);
        assert_eq!(scaled[2], vec![Some(0.5), None]);
        assert!(rescale_per_feature(&[], 3).is_empty());
    }
}
