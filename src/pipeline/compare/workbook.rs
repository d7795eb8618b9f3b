//! The comparison as an Excel workbook: a "Changes" sheet (the periods, the migration matrix as
//! a coloured table, segment sizes then and now with a native clustered-column chart, the drift
//! table sorted by PSI with a native bar chart) and a "Movers" sheet (every customer in both
//! periods who changed group). Written to a temporary name and renamed, like the report.

use super::{Comparison, drift};
use crate::palette;
use crate::pipeline::error::{PipelineError, Result};
use crate::pipeline::progress::Progress;
use crate::pipeline::report::style::{self, Styles};
use crate::pipeline::report::{EXCEL_MAX_ROWS, save_atomically};
use rust_xlsxwriter::{
    Chart, ChartType, Color, ConditionalFormat3ColorScale, Workbook, Worksheet, XlsxError,
};
use std::path::Path;

/// The sheet names, in workbook order.
pub const CHANGES_SHEETS: [&str; 2] = ["Changes", "Movers"];

const CHANGES: &str = "Changes";

/// Write the comparison workbook to `path`.
pub fn write_changes_workbook(c: &Comparison, path: &Path, progress: &Progress) -> Result<()> {
    let xlsx = |e: XlsxError| PipelineError::Write {
        path: path.display().to_string(),
        reason: format!("{e}. If the file is open in Excel, close it"),
    };
    let styles = Styles::new();
    let mut workbook = Workbook::new();
    workbook.set_zip_compression_level(3);
    progress.update(0.1, "Writing sheet Changes");
    let sheet = workbook.add_worksheet().set_name(CHANGES).map_err(xlsx)?;
    write_changes(sheet, c, &styles).map_err(xlsx)?;
    progress.check_cancel()?;
    progress.update(0.5, "Writing sheet Movers");
    let sheet = workbook.add_worksheet().set_name(CHANGES_SHEETS[1]).map_err(xlsx)?;
    write_movers(sheet, c, &styles).map_err(xlsx)?;
    progress.check_cancel()?;
    progress.update(0.9, "Saving the workbook");
    save_atomically(&mut workbook, path).map_err(|e| PipelineError::Write {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    progress.update(1.0, "Workbook written");
    Ok(())
}

fn category_rgb(c: &Comparison, index: usize) -> [u8; 3] {
    let k = c.categories.len().saturating_sub(2);
    if index < k {
        palette::segment_rgb(index + 1)
    } else if index == k {
        palette::OUTLIER_RGB
    } else {
        palette::NOT_SEGMENTED_RGB
    }
}

fn category_name(c: &Comparison, index: usize) -> String {
    let cat = &c.categories[index];
    if cat.archetype.is_empty() || cat.archetype == cat.label {
        cat.label.clone()
    } else {
        format!("{}: {}", cat.label, cat.archetype)
    }
}

fn write_changes(sheet: &mut Worksheet, c: &Comparison, styles: &Styles) -> Result<(), XlsxError> {
    let subtitle = format!(
        "{} (as of {}) compared with {} (as of {}), in the segments of model {}",
        c.new.input_name,
        c.new.as_of.as_deref().unwrap_or("?"),
        c.old.input_name,
        c.old.as_of.as_deref().unwrap_or("?"),
        c.model_id
    );
    style::write_title(sheet, styles, "What changed since last time", &subtitle)?;
    let facts = [
        ("Customers in both periods", c.in_both),
        ("Only in the earlier period", c.only_old),
        ("Only in the later period", c.only_new),
        ("In both, and changed group", c.moved),
    ];
    for (i, (label, value)) in facts.iter().enumerate() {
        let row = 3 + i as u32;
        sheet.write_string_with_format(row, 0, *label, &styles.label)?;
        sheet.write_number_with_format(row, 1, *value as f64, &styles.count)?;
    }
    let next = write_matrix(sheet, c, styles, 8)?;
    let next = write_sizes(sheet, c, styles, next + 2)?;
    write_drift(sheet, c, styles, next + 2)?;
    style::set_widths(sheet, 0, &[34.0])?;
    style::set_widths(sheet, 1, &vec![14.0; c.categories.len() + 1])?;
    Ok(())
}

/// The migration matrix (row shares, coloured) from `start`; returns the next free row.
fn write_matrix(
    sheet: &mut Worksheet,
    c: &Comparison,
    styles: &Styles,
    start: u32,
) -> Result<u32, XlsxError> {
    let n = c.categories.len();
    sheet.write_string_with_format(
        start,
        0,
        "Where the customers of each earlier group are now (share of the row; customers in both periods)",
        &styles.section,
    )?;
    let header = start + 1;
    sheet.write_string_with_format(header, 0, "Earlier \\ Now", &styles.header_wrap)?;
    for j in 0..n {
        sheet.write_string_with_format(
            header,
            1 + j as u16,
            category_name(c, j),
            &styles.header_wrap,
        )?;
    }
    sheet.write_string_with_format(header, 1 + n as u16, "Customers", &styles.header_wrap)?;
    sheet.set_row_height(header, 45)?;
    for (i, row) in c.row_shares.iter().enumerate() {
        let r = header + 1 + i as u32;
        sheet.write_string_with_format(
            r,
            0,
            category_name(c, i),
            &styles.swatch(category_rgb(c, i)),
        )?;
        for (j, share) in row.iter().enumerate() {
            sheet.write_number_with_format(r, 1 + j as u16, *share, &styles.percent)?;
        }
        let total: usize = c.matrix[i].iter().sum();
        sheet.write_number_with_format(r, 1 + n as u16, total as f64, &styles.count)?;
    }
    let last = header + n as u32;
    let scale = ConditionalFormat3ColorScale::new()
        .set_minimum_color(Color::RGB(0xFFFFFF))
        .set_midpoint_color(Color::RGB(0xF4C77D))
        .set_maximum_color(Color::RGB(0xD55E00));
    sheet.add_conditional_format(header + 1, 1, last, n as u16, &scale)?;
    Ok(last + 1)
}

/// Sizes then and now, with a clustered column chart; returns the next free row.
fn write_sizes(
    sheet: &mut Worksheet,
    c: &Comparison,
    styles: &Styles,
    start: u32,
) -> Result<u32, XlsxError> {
    sheet.write_string_with_format(
        start,
        0,
        "Group sizes then and now (all customers of each period)",
        &styles.section,
    )?;
    let header = start + 1;
    style::write_header(
        sheet,
        styles,
        header,
        0,
        &["Group", "Earlier", "Now", "Earlier share", "Now share", "Change"],
    )?;
    for (i, s) in c.sizes.iter().enumerate() {
        let r = header + 1 + i as u32;
        sheet.write_string_with_format(
            r,
            0,
            category_name(c, i),
            &styles.swatch(category_rgb(c, i)),
        )?;
        sheet.write_number_with_format(r, 1, s.old as f64, &styles.count)?;
        sheet.write_number_with_format(r, 2, s.new as f64, &styles.count)?;
        sheet.write_number_with_format(r, 3, s.old_share, &styles.percent)?;
        sheet.write_number_with_format(r, 4, s.new_share, &styles.percent)?;
        sheet.write_number_with_format(r, 5, s.new as f64 - s.old as f64, &styles.count)?;
    }
    let last = header + c.sizes.len() as u32;
    let mut chart = Chart::new(ChartType::Column);
    style::style_chart(&mut chart, "Customers per group, earlier vs now");
    for (col, rgb) in [(1u16, palette::NOT_SEGMENTED_RGB), (2u16, palette::segment_rgb(1))] {
        chart
            .add_series()
            .set_name((CHANGES, header, col))
            .set_categories((CHANGES, header + 1, 0, last, 0))
            .set_values((CHANGES, header + 1, col, last, col))
            .set_format(&mut style::fill(rgb))
            .set_gap(60);
    }
    chart.set_width(720).set_height(320);
    sheet.insert_chart(header, 7, &chart)?;
    Ok(last.max(header + 16))
}

/// Drift per feature, by PSI descending, with a bar chart of PSI.
fn write_drift(
    sheet: &mut Worksheet,
    c: &Comparison,
    styles: &Styles,
    start: u32,
) -> Result<(), XlsxError> {
    sheet.write_string_with_format(
        start,
        0,
        "Feature drift (PSI over OLD's deciles; above 0.1 moderate, above 0.2 major)",
        &styles.section,
    )?;
    let header = start + 1;
    style::write_header(sheet, styles, header, 0, &["Feature", "PSI", "KS", "Shift"])?;
    let mut drift: Vec<&drift::FeatureDrift> = c.drift.iter().collect();
    drift.sort_by(|a, b| b.psi.total_cmp(&a.psi));
    for (i, d) in drift.iter().enumerate() {
        let r = header + 1 + i as u32;
        let flagged = d.psi > drift::PSI_MAJOR;
        sheet.write_string_with_format(r, 0, &d.feature, &styles.text)?;
        let metric = if flagged { &styles.highlight_metric } else { &styles.metric };
        sheet.write_number_with_format(r, 1, d.psi, metric)?;
        sheet.write_number_with_format(r, 2, d.ks, &styles.metric)?;
        let shift = if flagged { &styles.warning } else { &styles.text };
        sheet.write_string_with_format(r, 3, &d.shift, shift)?;
    }
    if drift.is_empty() {
        return Ok(());
    }
    let last = header + drift.len() as u32;
    let mut chart = Chart::new(ChartType::Bar);
    style::style_chart(&mut chart, "Population stability index per feature");
    chart
        .add_series()
        .set_name("PSI")
        .set_categories((CHANGES, header + 1, 0, last, 0))
        .set_values((CHANGES, header + 1, 1, last, 1))
        .set_format(&mut style::fill(palette::segment_rgb(2)))
        .set_gap(40);
    chart.legend().set_hidden();
    chart.set_width(720).set_height(40 + 18 * drift.len() as u32);
    sheet.insert_chart(header, 7, &chart)?;
    Ok(())
}

/// Every customer in both periods who changed group (as many as fit in a sheet).
fn write_movers(sheet: &mut Worksheet, c: &Comparison, styles: &Styles) -> Result<(), XlsxError> {
    let moved: Vec<&super::Mover> = c.movers.iter().filter(|m| m.moved()).collect();
    let room = (EXCEL_MAX_ROWS - 5) as usize;
    let subtitle = if moved.len() > room {
        format!(
            "{} customers changed group; the first {room} are listed (compare --out writes all)",
            moved.len()
        )
    } else {
        format!("{} customers changed group", moved.len())
    };
    style::write_title(sheet, styles, "Customers who changed group", &subtitle)?;
    style::write_header(
        sheet,
        styles,
        3,
        0,
        &["Customer", "Earlier group", "Now", "Earlier archetype", "Now archetype"],
    )?;
    for (i, m) in moved.iter().take(room).enumerate() {
        let r = 4 + i as u32;
        sheet.write_string(r, 0, &m.customer_id)?;
        sheet.write_string(r, 1, &c.categories[m.old_category].label)?;
        sheet.write_string(r, 2, &c.categories[m.new_category].label)?;
        sheet.write_string(r, 3, &m.old_archetype)?;
        sheet.write_string(r, 4, &m.new_archetype)?;
    }
    sheet.autofilter(3, 0, 3 + moved.len().min(room) as u32, 4)?;
    style::set_widths(sheet, 0, &[36.0, 16.0, 16.0, 34.0, 34.0])?;
    Ok(())
}
