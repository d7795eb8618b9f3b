//! "Visualizations": the customers on a 2-D map (one scatter series per segment plus the
//! outliers, in the palette's colours) and the k-distance curve that eps was read from.
//!
//! Excel draws charts from cells, so the plotted points are written to a data block right of the
//! charts. The map shows at most [`MAX_POINTS`] (about) customers, sampled deterministically per
//! segment in proportion to its size; it uses the UMAP coordinates where they exist, else PCA.

use rust_xlsxwriter::{
    Chart, ChartAxisCrossing, ChartFormat, ChartLine, ChartLineDashType, ChartMarker,
    ChartMarkerType, ChartSolidFill, ChartType, Color, Worksheet, XlsxError,
};

use super::customers::fmt_count;
use super::data::{CustomerRow, ReportData};
use super::style::{self, Styles};
use crate::pipeline::model::{OUTLIERS, segment_label};

const SHEET: &str = "Visualizations";
/// About this many customers are plotted.
pub const MAX_POINTS: usize = 5_000;
/// Every group keeps at least this many points (or all it has), so small segments stay visible.
const MIN_PER_GROUP: usize = 25;
/// The k-distance curve is drawn from at most this many points.
const MAX_CURVE_POINTS: usize = 1_000;
/// First column of the plot data (column V).
const DATA_COL: u16 = 21;
const HEADER_ROW: u32 = 3;

/// One scatter series: a label, its colour and the sampled points.
#[derive(Debug, Clone, PartialEq)]
pub struct ScatterGroup {
    pub label: String,
    pub rgb: [u8; 3],
    pub points: Vec<(f64, f64)>,
}

/// Which 2-D view the map uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Umap,
    Pca,
}

pub fn write(sheet: &mut Worksheet, data: &ReportData, styles: &Styles) -> Result<(), XlsxError> {
    sheet.set_screen_gridlines(false);
    let (view, groups) = scatter_groups(data, MAX_POINTS);
    let shown: usize = groups.iter().map(|g| g.points.len()).sum();
    let view_name = match view {
        View::Umap => "UMAP-style embedding",
        View::Pca => "PCA",
    };
    style::write_title(
        sheet,
        styles,
        "Visualizations",
        &format!(
            "Customer map ({view_name}): {} customers shown, sampled per segment; Outliers in grey. \
             Plot data from column V on.",
            fmt_count(shown)
        ),
    )?;
    style::set_widths(
        sheet,
        DATA_COL,
        &[14.0, 10.0, 10.0, 2.0, 10.0, 12.0, 2.0, 10.0, 10.0, 2.0, 10.0, 12.0],
    )?;
    let scatter_end = write_scatter(sheet, styles, view, &groups)?;
    // Print the charts, not the plot data.
    sheet.set_print_area(0, 0, scatter_end + 22, 14)?;
    write_k_distance(sheet, data, styles, scatter_end)
}

/// The scatter's groups: segments in number order, then the outliers; empty groups dropped.
pub fn scatter_groups(data: &ReportData, max_points: usize) -> (View, Vec<ScatterGroup>) {
    let has_umap = data.customers.iter().any(|c| c.umap_x.is_some() && c.umap_y.is_some());
    let view = if has_umap { View::Umap } else { View::Pca };
    let coords = |c: &CustomerRow| match view {
        View::Umap => c.umap_x.zip(c.umap_y),
        View::Pca => c.pca_x.zip(c.pca_y),
    };
    let max_segment = data.customers.iter().filter_map(|c| c.segment).max().unwrap_or(0);
    let mut members: Vec<Vec<(f64, f64)>> = vec![Vec::new(); max_segment + 1];
    for c in &data.customers {
        let Some(xy) = coords(c).filter(|(x, y)| x.is_finite() && y.is_finite()) else { continue };
        match (c.segment, c.is_outlier) {
            (_, true) => members[0].push(xy),
            (Some(n), false) => members[n].push(xy),
            (None, false) => {}
        }
    }
    let total: usize = members.iter().map(Vec::len).sum();
    let mut groups: Vec<ScatterGroup> = Vec::new();
    let order = (1..=max_segment).chain(std::iter::once(0));
    for index in order {
        let points = &members[index];
        if points.is_empty() {
            continue;
        }
        let quota = quota(points.len(), total, max_points);
        let (label, rgb) = if index == 0 {
            (OUTLIERS.to_string(), crate::palette::OUTLIER_RGB)
        } else {
            (segment_label(index), crate::palette::segment_rgb(index))
        };
        groups.push(ScatterGroup { label, rgb, points: evenly_spaced(points, quota) });
    }
    (view, groups)
}

/// Points a group of `size` keeps out of `total` when about `max_points` are shown.
fn quota(size: usize, total: usize, max_points: usize) -> usize {
    if total <= max_points {
        return size;
    }
    let proportional = (size as f64 * max_points as f64 / total as f64).round() as usize;
    proportional.max(MIN_PER_GROUP).min(size)
}

/// `count` items at evenly spaced positions (deterministic; the first item always kept).
pub fn evenly_spaced<T: Copy>(items: &[T], count: usize) -> Vec<T> {
    let n = items.len();
    if count >= n {
        return items.to_vec();
    }
    (0..count).map(|i| items[i * n / count]).collect()
}

fn write_scatter(
    sheet: &mut Worksheet,
    styles: &Styles,
    view: View,
    groups: &[ScatterGroup],
) -> Result<u32, XlsxError> {
    style::write_header(sheet, styles, HEADER_ROW, DATA_COL, &["Series", "x", "y"])?;
    let mut chart = Chart::new(ChartType::Scatter);
    style::style_chart(&mut chart, "Customers by segment");
    let mut row = HEADER_ROW + 1;
    for group in groups {
        let first = row;
        for (x, y) in &group.points {
            sheet.write_string(row, DATA_COL, &group.label)?;
            sheet.write_number(row, DATA_COL + 1, *x)?;
            sheet.write_number(row, DATA_COL + 2, *y)?;
            row += 1;
        }
        let colour = Color::RGB(crate::palette::rgb_u32(group.rgb));
        let is_outliers = group.label == OUTLIERS;
        let marker = ChartMarker::new()
            .set_type(if is_outliers { ChartMarkerType::X } else { ChartMarkerType::Circle })
            .set_size(if is_outliers { 4 } else { 3 })
            .set_format(
                ChartFormat::new()
                    .set_solid_fill(ChartSolidFill::new().set_color(colour).set_transparency(25))
                    .set_border(ChartLine::new().set_color(colour)),
            )
            .clone();
        chart
            .add_series()
            .set_name(&group.label)
            .set_categories((SHEET, first, DATA_COL + 1, row - 1, DATA_COL + 1))
            .set_values((SHEET, first, DATA_COL + 2, row - 1, DATA_COL + 2))
            .set_marker(&marker);
    }
    let axis = match view {
        View::Umap => "UMAP",
        View::Pca => "PC",
    };
    // Axes along the bottom and left edges, not through the origin.
    chart
        .x_axis()
        .set_name(format!("{axis} 1").as_str())
        .set_major_gridlines(false)
        .set_crossing(ChartAxisCrossing::Min);
    chart
        .y_axis()
        .set_name(format!("{axis} 2").as_str())
        .set_major_gridlines(false)
        .set_crossing(ChartAxisCrossing::Min);
    chart.legend().set_position(rust_xlsxwriter::ChartLegendPosition::Right);
    chart.set_width(940).set_height(620);
    if !groups.is_empty() {
        sheet.insert_chart(HEADER_ROW, 0, &chart)?;
    } else {
        sheet.write_string_with_format(
            HEADER_ROW,
            0,
            "No customer has 2-D coordinates.",
            &styles.note,
        )?;
    }
    // 620 px at 20 px per row.
    Ok(HEADER_ROW + 33)
}

/// The sorted k-distance curve with the chosen eps as a dashed line and the knee marked.
fn write_k_distance(
    sheet: &mut Worksheet,
    data: &ReportData,
    styles: &Styles,
    row: u32,
) -> Result<(), XlsxError> {
    let curve = &data.k_distance;
    if curve.is_empty() {
        sheet.write_string_with_format(
            row,
            0,
            "No k-distance curve was recorded.",
            &styles.note,
        )?;
        return Ok(());
    }
    let col = DATA_COL + 4;
    style::write_header(sheet, styles, HEADER_ROW, col, &["Point (sorted)", "k-distance"])?;
    let indices: Vec<usize> = curve_indices(curve.len(), MAX_CURVE_POINTS);
    for (i, index) in indices.iter().enumerate() {
        let r = HEADER_ROW + 1 + i as u32;
        sheet.write_number(r, col, (*index + 1) as f64)?;
        style::write_opt_number(sheet, r, col + 1, Some(curve[*index]), &styles.metric)?;
    }
    let last_curve_row = HEADER_ROW + indices.len() as u32;

    style::write_header(sheet, styles, HEADER_ROW, col + 3, &["eps line x", "eps"])?;
    for (i, x) in [1.0, curve.len() as f64].iter().enumerate() {
        sheet.write_number(HEADER_ROW + 1 + i as u32, col + 3, *x)?;
        sheet.write_number_with_format(
            HEADER_ROW + 1 + i as u32,
            col + 4,
            data.eps,
            &styles.metric,
        )?;
    }

    let mut chart = Chart::new(ChartType::ScatterStraight);
    style::style_chart(
        &mut chart,
        &format!(
            "Distance to the {}th nearest neighbour, sorted (eps = {:.3})",
            data.min_samples, data.eps
        ),
    );
    let blue = crate::palette::rgb_u32(crate::palette::segment_rgb(1));
    let vermillion = crate::palette::rgb_u32(crate::palette::ACCENT_RGB);
    chart
        .add_series()
        .set_name("k-distance")
        .set_categories((SHEET, HEADER_ROW + 1, col, last_curve_row, col))
        .set_values((SHEET, HEADER_ROW + 1, col + 1, last_curve_row, col + 1))
        .set_format(&mut style::line(blue, 2.25));
    chart
        .add_series()
        .set_name(format!("chosen eps = {:.3}", data.eps).as_str())
        .set_categories((SHEET, HEADER_ROW + 1, col + 3, HEADER_ROW + 2, col + 3))
        .set_values((SHEET, HEADER_ROW + 1, col + 4, HEADER_ROW + 2, col + 4))
        .set_format(
            ChartFormat::new().set_line(
                ChartLine::new()
                    .set_color(Color::RGB(vermillion))
                    .set_width(1.5)
                    .set_dash_type(ChartLineDashType::Dash),
            ),
        );
    if let Some(knee) = data.k_distance_knee.filter(|k| *k < curve.len()) {
        style::write_header(sheet, styles, HEADER_ROW, col + 6, &["knee x", "knee"])?;
        sheet.write_number(HEADER_ROW + 1, col + 6, (knee + 1) as f64)?;
        sheet.write_number_with_format(HEADER_ROW + 1, col + 7, curve[knee], &styles.metric)?;
        chart
            .add_series()
            .set_name("knee")
            .set_categories((SHEET, HEADER_ROW + 1, col + 6, HEADER_ROW + 1, col + 6))
            .set_values((SHEET, HEADER_ROW + 1, col + 7, HEADER_ROW + 1, col + 7))
            .set_format(ChartFormat::new().set_no_line())
            .set_marker(
                ChartMarker::new()
                    .set_type(ChartMarkerType::Diamond)
                    .set_size(9)
                    .set_format(&mut style::fill(crate::palette::ACCENT_RGB)),
            );
    }
    chart
        .x_axis()
        .set_name("customers, sorted by k-distance")
        .set_min(0)
        .set_max(curve.len() as f64);
    chart
        .y_axis()
        .set_name("k-distance (standardized units)")
        .set_major_gridlines_line(ChartLine::new().set_color(Color::RGB(0xE3E7EA)));
    chart.legend().set_position(rust_xlsxwriter::ChartLegendPosition::Bottom);
    chart.set_width(940).set_height(380);
    sheet.insert_chart(row + 1, 0, &chart)?;
    sheet.set_page_breaks(&[row])?;
    Ok(())
}

/// At most `max` indices into a curve of `n` points, evenly spaced, always with the last one.
fn curve_indices(n: usize, max: usize) -> Vec<usize> {
    if n <= max {
        return (0..n).collect();
    }
    (0..max).map(|i| i * (n - 1) / (max - 1)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scatter_sample_is_capped_proportional_and_deterministic() {
        let data = ReportData::example(20_000, 6);
        let (view, groups) = scatter_groups(&data, MAX_POINTS);
        assert_eq!(view, View::Umap);
        let shown: usize = groups.iter().map(|g| g.points.len()).sum();
        // Proportional rounding: within one point per group of 5,000.
        assert!(shown.abs_diff(MAX_POINTS) <= groups.len(), "{shown}");
        assert_eq!(groups.len(), 7, "6 segments + Outliers");
        assert_eq!(groups[6].label, "Outliers");
        assert_eq!(groups[0].rgb, crate::palette::segment_rgb(1));
        assert_eq!(scatter_groups(&data, MAX_POINTS).1, groups);
    }

    #[test]
    fn without_umap_the_map_uses_pca_and_skips_unsegmented() {
        let mut data = ReportData::example(300, 3);
        for c in &mut data.customers {
            c.umap_x = None;
        }
        let (view, groups) = scatter_groups(&data, MAX_POINTS);
        assert_eq!(view, View::Pca);
        let with_pca = data.customers.iter().filter(|c| c.pca_x.is_some()).count();
        assert_eq!(groups.iter().map(|g| g.points.len()).sum::<usize>(), with_pca);
    }

    #[test]
    fn evenly_spaced_and_curve_indices() {
        let items: Vec<usize> = (0..10).collect();
        // i * 10 / 4 for i = 0..4: 0, 2, 5, 7.
        assert_eq!(evenly_spaced(&items, 4), vec![0, 2, 5, 7]);
        assert_eq!(evenly_spaced(&items, 20).len(), 10);
        // i * 9 / 2 for i = 0..3: 0, 4, 9.
        assert_eq!(curve_indices(10, 3), vec![0, 4, 9]);
        assert_eq!(quota(10, 100, 5_000), 10);
        // 1,000 of 100,000 with 5,000 shown: 50.
        assert_eq!(quota(1_000, 100_000, 5_000), 50);
        assert_eq!(quota(10, 100_000, 5_000), 10);
    }
}
