//! "Data Quality": every cleaning count of FEATURES.md with its meaning and the action taken,
//! the dataset checks, and a summary of what was rejected and kept.

use rust_xlsxwriter::{Color, Format, Worksheet, XlsxError};

use super::data::ReportData;
use super::style::{self, Styles};
use crate::pipeline::model::Severity;

pub fn write(sheet: &mut Worksheet, data: &ReportData, styles: &Styles) -> Result<(), XlsxError> {
    sheet.set_screen_gridlines(false);
    style::set_widths(sheet, 0, &[30.0, 12.0, 12.0, 52.0, 40.0])?;
    style::write_title(
        sheet,
        styles,
        "Data Quality",
        "What the cleaning found and did. Rejected rows stay in the analysis file with their reason: \
         nothing loaded is silently lost.",
    )?;
    let mut row = write_summary(sheet, data, styles, 3)?;
    row = write_counts(sheet, data, styles, row + 1)?;
    write_checks(sheet, data, styles, row + 1)
}

/// Rows rejected by a rule (`rejected_*`) or skipped as malformed.
pub fn rejected_rows(data: &ReportData) -> u64 {
    data.quality_counts
        .iter()
        .filter(|q| q.name.starts_with("rejected_") || q.name == "malformed_rows")
        .map(|q| q.count)
        .sum()
}

fn write_summary(
    sheet: &mut Worksheet,
    data: &ReportData,
    styles: &Styles,
    mut row: u32,
) -> Result<u32, XlsxError> {
    sheet.merge_range(row, 0, row, 2, "Rejects summary", &styles.section)?;
    row += 1;
    let d = &data.dataset;
    let duplicates = data
        .quality_counts
        .iter()
        .filter(|q| q.name == "duplicate_rows")
        .map(|q| q.count)
        .sum::<u64>();
    let share = |n: u64| if d.rows_loaded == 0 { 0.0 } else { n as f64 / d.rows_loaded as f64 };
    let lines = [
        ("Rows loaded", d.rows_loaded, None),
        ("Rows rejected or malformed", rejected_rows(data), Some(share(rejected_rows(data)))),
        ("Duplicate rows dropped", duplicates, Some(share(duplicates))),
        ("Clean order lines kept", d.clean_lines, Some(share(d.clean_lines))),
    ];
    for (label, count, of_rows) in lines {
        sheet.write_string_with_format(row, 0, label, &styles.label)?;
        sheet.write_number_with_format(row, 1, count as f64, &styles.count)?;
        style::write_opt_number(sheet, row, 2, of_rows, &styles.percent)?;
        row += 1;
    }
    Ok(row)
}

fn write_counts(
    sheet: &mut Worksheet,
    data: &ReportData,
    styles: &Styles,
    mut row: u32,
) -> Result<u32, XlsxError> {
    sheet.merge_range(row, 0, row, 4, "Cleaning counts", &styles.section)?;
    row += 1;
    style::write_header(
        sheet,
        styles,
        row,
        0,
        &["Count", "Rows", "Share of rows loaded", "Meaning", "Action taken"],
    )?;
    sheet.set_row_height(row, 30)?;
    row += 1;
    for q in &data.quality_counts {
        let name_format = if q.count > 0 { &styles.text } else { &styles.note };
        sheet.write_string_with_format(row, 0, &q.name, name_format)?;
        sheet.write_number_with_format(row, 1, q.count as f64, &styles.count)?;
        sheet.write_number_with_format(row, 2, q.share, &styles.percent)?;
        sheet.write_string_with_format(row, 3, &q.meaning, &styles.wrap)?;
        sheet.write_string_with_format(row, 4, &q.action, &styles.wrap)?;
        row += 1;
    }
    if data.quality_counts.is_empty() {
        sheet.write_string_with_format(row, 0, "No counts recorded.", &styles.note)?;
        row += 1;
    }
    Ok(row)
}

fn severity_format(styles: &Styles, severity: Severity) -> Format {
    let (fill, font) = match severity {
        Severity::Blocking => (0xF8D7DA, 0x842029),
        Severity::Warning => (0xFFF3CD, 0x7A5200),
        Severity::Ok => (0xD1E7DD, 0x0F5132),
    };
    styles
        .text
        .clone()
        .set_bold()
        .set_background_color(Color::RGB(fill))
        .set_font_color(Color::RGB(font))
}

fn write_checks(
    sheet: &mut Worksheet,
    data: &ReportData,
    styles: &Styles,
    mut row: u32,
) -> Result<(), XlsxError> {
    sheet.merge_range(row, 0, row, 4, "Dataset checks", &styles.section)?;
    row += 1;
    style::write_header(sheet, styles, row, 0, &["Check", "Result"])?;
    sheet.merge_range(row, 2, row, 4, "Details", &styles.header)?;
    row += 1;
    for check in &data.dataset_checks {
        sheet.write_string_with_format(row, 0, &check.name, &styles.text)?;
        sheet.write_string_with_format(
            row,
            1,
            check.severity.label(),
            &severity_format(styles, check.severity),
        )?;
        sheet.merge_range(row, 2, row, 4, &check.message, &styles.wrap)?;
        row += 1;
    }
    Ok(())
}
