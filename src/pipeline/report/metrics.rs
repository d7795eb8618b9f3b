//! "Quality Metrics": how K and eps were chosen. The K sweep table with one line chart per
//! criterion (silhouette, inertia/elbow, Calinski-Harabasz, Davies-Bouldin, stability), the
//! DBSCAN settings and noise ratio, the 2-D views' trustworthiness and each segment's silhouette.

use rust_xlsxwriter::{
    Chart, ChartMarker, ChartMarkerType, ChartPoint, ChartType, Color, ConditionalFormatDataBar,
    Worksheet, XlsxError,
};

use super::data::ReportData;
use super::style::{self, Styles};
use crate::pipeline::model::KSweepRow;

const SHEET: &str = "Quality Metrics";
const SWEEP_HEADERS: [&str; 6] = [
    "K",
    "Inertia",
    "Silhouette (higher is better)",
    "Calinski-Harabasz (higher is better)",
    "Davies-Bouldin (lower is better)",
    "Stability, ARI (higher is better)",
];
/// Column of the chart grid (right of the table).
const CHART_COL: u16 = 7;

pub fn write(sheet: &mut Worksheet, data: &ReportData, styles: &Styles) -> Result<(), XlsxError> {
    sheet.set_screen_gridlines(false);
    style::set_widths(sheet, 0, &[26.0, 14.0, 14.0, 16.0, 15.0, 15.0, 2.0])?;
    style::write_title(
        sheet,
        styles,
        "Quality Metrics",
        "How the number of segments (K) and the outlier radius (eps) were chosen.",
    )?;
    let mut row = 3;
    sheet.write_string_with_format(row, 0, "Chosen K", &styles.label)?;
    sheet.write_number_with_format(row, 1, data.chosen_k as f64, &styles.count)?;
    row += 1;
    sheet.merge_range(row, 0, row, 5, &format!("Why: {}", data.choice_reason), &styles.sentence)?;
    sheet.set_row_height(row, 34)?;
    row += 1;
    if data.weak_structure {
        sheet.merge_range(
            row,
            0,
            row,
            5,
            "Weak structure: the chosen K's silhouette is below the configured minimum; the \
             segments overlap and should be read as tendencies.",
            &styles.warning,
        )?;
        sheet.set_row_height(row, 34)?;
        row += 1;
    }
    row += 1;
    let table_row = row;
    row = write_sweep(sheet, data, styles, table_row)?;
    insert_sweep_charts(sheet, data, table_row)?;
    row = write_dbscan(sheet, data, styles, row + 1)?;
    write_segment_silhouettes(sheet, data, styles, row + 1)?;
    Ok(())
}

fn write_sweep(
    sheet: &mut Worksheet,
    data: &ReportData,
    styles: &Styles,
    mut row: u32,
) -> Result<u32, XlsxError> {
    sheet.merge_range(row, 0, row, 5, "K sweep", &styles.section)?;
    row += 1;
    style::write_header(sheet, styles, row, 0, &SWEEP_HEADERS)?;
    sheet.set_row_height(row, 45)?;
    row += 1;
    for r in &data.k_sweep {
        let chosen = r.k == data.chosen_k;
        let number = if chosen { &styles.highlight_metric } else { &styles.metric };
        let count = if chosen { &styles.highlight_count } else { &styles.count };
        sheet.write_number_with_format(row, 0, r.k as f64, count)?;
        let big = if chosen { &styles.highlight_count } else { &styles.count };
        style::write_opt_number(sheet, row, 1, Some(r.inertia), big)?;
        style::write_opt_number(sheet, row, 2, r.silhouette, number)?;
        style::write_opt_number(sheet, row, 3, r.calinski_harabasz, big)?;
        style::write_opt_number(sheet, row, 4, r.davies_bouldin, number)?;
        style::write_opt_number(sheet, row, 5, r.stability, number)?;
        row += 1;
    }
    Ok(row)
}

/// Five line charts against K in a two-column grid right of the table; the chosen K's marker
/// is drawn larger and in orange.
fn insert_sweep_charts(
    sheet: &mut Worksheet,
    data: &ReportData,
    table_row: u32,
) -> Result<(), XlsxError> {
    if data.k_sweep.is_empty() {
        return Ok(());
    }
    let (first, last) = (table_row + 2, table_row + 1 + data.k_sweep.len() as u32);
    let criteria: [(u16, &str, &str); 5] = [
        (5, "Stability (ARI) vs K", "0.00"),
        (2, "Silhouette vs K", "0.00"),
        (1, "Inertia vs K (elbow)", "#,##0"),
        (3, "Calinski-Harabasz vs K", "#,##0"),
        (4, "Davies-Bouldin vs K (lower = better)", "0.00"),
    ];
    for (i, (col, title, num_format)) in criteria.iter().enumerate() {
        let title = format!("{title}; chosen K = {}", data.chosen_k);
        let chart = sweep_chart(data, first, last, *col, &title, num_format);
        let grid_row = table_row + (i as u32 / 2) * 16;
        let grid_col = CHART_COL + (i as u16 % 2) * 7;
        sheet.insert_chart(grid_row, grid_col, &chart)?;
    }
    Ok(())
}

fn sweep_chart(
    data: &ReportData,
    first: u32,
    last: u32,
    col: u16,
    title: &str,
    num_format: &str,
) -> Chart {
    let mut chart = Chart::new(ChartType::Line);
    style::style_chart(&mut chart, title);
    let blue = crate::palette::rgb_u32(crate::palette::segment_rgb(1));
    let points: Vec<ChartPoint> = data
        .k_sweep
        .iter()
        .map(|r: &KSweepRow| {
            if r.k == data.chosen_k {
                ChartPoint::new().set_format(&mut style::fill(crate::palette::ACCENT_RGB))
            } else {
                ChartPoint::new()
            }
        })
        .collect();
    chart
        .add_series()
        .set_name(title)
        .set_categories((SHEET, first, 0, last, 0))
        .set_values((SHEET, first, col, last, col))
        .set_format(&mut style::line(blue, 2.0))
        .set_marker(
            ChartMarker::new()
                .set_type(ChartMarkerType::Circle)
                .set_size(6)
                .set_format(&mut style::fill(crate::palette::segment_rgb(1))),
        )
        .set_points(&points);
    chart.x_axis().set_name("K");
    chart.y_axis().set_num_format(num_format).set_major_gridlines_line(
        rust_xlsxwriter::ChartLine::new().set_color(Color::RGB(0xE3E7EA)),
    );
    chart.legend().set_hidden();
    chart.set_width(480).set_height(300);
    chart
}

fn write_dbscan(
    sheet: &mut Worksheet,
    data: &ReportData,
    styles: &Styles,
    mut row: u32,
) -> Result<u32, XlsxError> {
    sheet.merge_range(row, 0, row, 5, "Outliers (DBSCAN) and 2-D views", &styles.section)?;
    row += 1;
    let mut pair = |row: u32, label: &str| {
        sheet.write_string_with_format(row, 0, label, &styles.label).map(|_| ())
    };
    pair(row, "eps (standardized units)")?;
    pair(row + 1, "How eps was chosen")?;
    pair(row + 2, "min_samples")?;
    pair(row + 3, "Noise ratio (outliers)")?;
    pair(row + 4, "Trustworthiness, PCA")?;
    pair(row + 5, "Trustworthiness, UMAP")?;
    sheet.write_number_with_format(row, 1, data.eps, &styles.metric)?;
    sheet.merge_range(row + 1, 1, row + 1, 5, &data.eps_source, &styles.wrap)?;
    sheet.set_row_height(row + 1, 32)?;
    sheet.write_number_with_format(row + 2, 1, data.min_samples as f64, &styles.count)?;
    sheet.write_number_with_format(row + 3, 1, data.noise_ratio, &styles.percent)?;
    style::write_opt_number(sheet, row + 4, 1, data.trustworthiness.pca, &styles.metric)?;
    style::write_opt_number(sheet, row + 5, 1, data.trustworthiness.umap, &styles.metric)?;
    if data.trustworthiness.umap.is_none() {
        sheet.write_string_with_format(row + 5, 2, "not computed", &styles.note)?;
    }
    Ok(row + 6)
}

fn write_segment_silhouettes(
    sheet: &mut Worksheet,
    data: &ReportData,
    styles: &Styles,
    mut row: u32,
) -> Result<(), XlsxError> {
    sheet.merge_range(row, 0, row, 5, "Silhouette per segment", &styles.section)?;
    row += 1;
    style::write_header(sheet, styles, row, 0, &["Segment", "Silhouette", "Customers"])?;
    row += 1;
    let first = row;
    for segment in data.segments.iter().filter(|s| s.segment.is_some()) {
        sheet.write_string_with_format(row, 0, &segment.label, &styles.swatch(segment.rgb()))?;
        style::write_opt_number(sheet, row, 1, segment.silhouette, &styles.metric)?;
        sheet.write_number_with_format(row, 2, segment.size as f64, &styles.count)?;
        row += 1;
    }
    if row > first {
        let bars = ConditionalFormatDataBar::new()
            .set_fill_color(Color::RGB(style::BAR_COOL))
            .set_solid_fill(true);
        sheet.add_conditional_format(first, 1, row - 1, 1, &bars)?;
    }
    Ok(())
}
