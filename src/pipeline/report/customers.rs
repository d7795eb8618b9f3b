//! "Customer Assignments": every customer with segment, archetype, micro-segment, outlier flag
//! and key features, as an Excel table (autofilter, frozen header).
//!
//! The sheet lists at most a cap of customers (the report's [`super::CUSTOMER_SHEET_MAX`], fewer if
//! Excel's rows run out first), so that the workbook opens quickly. Above it, the sheet lists an
//! evenly spread selection (every n-th customer of the segment-ordered list, so each segment
//! keeps its share and its filter finds customers), a notice says so, and [`write_all_csv`]
//! writes every customer to a CSV with the same columns beside the workbook.

use std::io::Write;
use std::path::Path;

use rust_xlsxwriter::{Format, Table, TableColumn, TableStyle, Worksheet, XlsxError};

use super::data::{CustomerRow, ReportData};
use super::style::{self, Styles};

/// The title, subtitle and the overflow notice sit above the header.
const HEADER_ROW: u32 = 3;
/// The notice above the header spans columns A to this one (or the last, if fewer).
const NOTICE_LAST_COLUMN: u16 = 9;
const FIXED_COLUMNS: [&str; 6] =
    ["Customer ID", "Segment", "Archetype", "Micro-segment", "Outlier", "Distance to centroid"];

/// Writes the sheet with at most `cap` customers (and within `row_limit` rows); returns whether
/// some customers are not listed, in which case the caller writes them all to `all_csv_name`.
pub fn write(
    sheet: &mut Worksheet,
    data: &ReportData,
    styles: &Styles,
    row_limit: u32,
    cap: usize,
    all_csv_name: &str,
) -> Result<bool, XlsxError> {
    let total = data.customers.len();
    let fits = (row_limit.saturating_sub(HEADER_ROW + 1) as usize).min(cap);
    let listed = listed_indices(total, fits);
    let partial = listed.len() < total;
    let headers = headers(data);
    let last_col = (headers.len() - 1) as u16;

    style::write_title(
        sheet,
        styles,
        "Customer Assignments",
        "Every customer's segment. Outliers keep their nearest segment and are flagged. Use the \
         filter buttons to select a segment.",
    )?;
    if partial {
        let message = format!(
            "This sheet lists {} of the {} customers, evenly spread over the segments, so that \
             the workbook opens quickly. Every customer is in the file {all_csv_name} beside \
             this workbook.",
            fmt_count(listed.len()),
            fmt_count(total),
        );
        // Across the first columns, two lines high: one wrapped cell in column A is unreadable.
        sheet.merge_range(2, 0, 2, last_col.min(NOTICE_LAST_COLUMN), &message, &styles.warning)?;
        sheet.set_row_height(2, 32)?;
    }

    set_column_widths(sheet, data)?;
    if listed.is_empty() {
        style::write_header(
            sheet,
            styles,
            HEADER_ROW,
            0,
            &headers.iter().map(String::as_str).collect::<Vec<_>>(),
        )?;
        sheet.write_string_with_format(HEADER_ROW + 1, 0, "No customers.", &styles.note)?;
        return Ok(partial);
    }

    // The sheet is written in row order (constant-memory mode): the table (its header row)
    // first, then the customers.
    let columns: Vec<TableColumn> = headers
        .iter()
        .map(|h| TableColumn::new().set_header(h).set_header_format(&styles.header_wrap))
        .collect();
    let table = Table::new()
        .set_name("Customers")
        .set_style(TableStyle::Light1)
        .set_banded_rows(false)
        .set_columns(&columns);
    sheet.set_row_height(HEADER_ROW, 32)?;
    sheet.add_table(HEADER_ROW, 0, HEADER_ROW + listed.len() as u32, last_col, &table)?;
    sheet.set_freeze_panes(HEADER_ROW + 1, 1)?;
    sheet.set_repeat_rows(HEADER_ROW, HEADER_ROW)?;
    let formats = RowFormats::new(data, styles);
    for (i, &index) in listed.iter().enumerate() {
        write_customer(sheet, HEADER_ROW + 1 + i as u32, &data.customers[index], &formats)?;
    }
    Ok(partial)
}

/// Which of `total` customers the sheet lists when it holds `fits`: all of them, or `fits`
/// evenly spaced ones (`i * total / fits`), in order.
fn listed_indices(total: usize, fits: usize) -> Vec<usize> {
    if total <= fits {
        return (0..total).collect();
    }
    (0..fits).map(|i| i * total / fits).collect()
}

/// The sheet's (and the overflow CSV's) column headers.
fn headers(data: &ReportData) -> Vec<String> {
    FIXED_COLUMNS
        .iter()
        .map(|s| s.to_string())
        .chain(data.key_feature_names.iter().cloned())
        .collect()
}

fn set_column_widths(sheet: &mut Worksheet, data: &ReportData) -> Result<(), XlsxError> {
    style::set_widths(sheet, 0, &[30.0, 13.0, 26.0, 14.0, 9.0, 12.0])?;
    for (j, name) in data.key_feature_names.iter().enumerate() {
        let width = (name.len() as f64 * 0.75).clamp(12.0, 20.0);
        sheet.set_column_width(FIXED_COLUMNS.len() as u16 + j as u16, width)?;
    }
    Ok(())
}

/// Formats chosen once per workbook, not per cell.
struct RowFormats {
    text: Format,
    decimal: Format,
    outlier: Format,
    not_segmented: Format,
    /// Swatch of segment n at index n - 1.
    segments: Vec<Format>,
    /// Number format per key feature.
    features: Vec<Format>,
}

impl RowFormats {
    fn new(data: &ReportData, styles: &Styles) -> Self {
        let max_segment = data.customers.iter().filter_map(|c| c.segment).max().unwrap_or(0);
        RowFormats {
            text: styles.text.clone(),
            decimal: styles.decimal.clone(),
            outlier: styles.swatch(crate::palette::OUTLIER_RGB),
            not_segmented: styles.swatch(crate::palette::NOT_SEGMENTED_RGB),
            segments: (1..=max_segment)
                .map(|n| styles.swatch(crate::palette::segment_rgb(n)))
                .collect(),
            features: data
                .key_feature_names
                .iter()
                .map(|f| styles.for_feature(f).clone())
                .collect(),
        }
    }

    fn segment(&self, customer: &CustomerRow) -> &Format {
        match customer.segment {
            Some(n) => self.segments.get(n.wrapping_sub(1)).unwrap_or(&self.text),
            None => &self.not_segmented,
        }
    }
}

fn write_customer(
    sheet: &mut Worksheet,
    row: u32,
    customer: &CustomerRow,
    formats: &RowFormats,
) -> Result<(), XlsxError> {
    sheet.write_string_with_format(row, 0, &customer.customer_id, &formats.text)?;
    sheet.write_string_with_format(row, 1, customer.segment_label(), formats.segment(customer))?;
    sheet.write_string_with_format(row, 2, &customer.archetype, &formats.text)?;
    sheet.write_string_with_format(row, 3, &customer.micro_segment, &formats.text)?;
    if customer.is_outlier {
        sheet.write_string_with_format(row, 4, "Yes", &formats.outlier)?;
    } else {
        sheet.write_string_with_format(row, 4, "No", &formats.text)?;
    }
    style::write_opt_number(sheet, row, 5, customer.distance_to_centroid, &formats.decimal)?;
    for (j, format) in formats.features.iter().enumerate() {
        let value = customer.key_features.get(j).copied().flatten();
        style::write_opt_number(sheet, row, FIXED_COLUMNS.len() as u16 + j as u16, value, format)?;
    }
    Ok(())
}

/// Writes every customer to `path` as CSV with the sheet's columns, in the report's order.
/// Written atomically: a failed or interrupted write leaves no truncated CSV.
pub fn write_all_csv(data: &ReportData, path: &Path) -> std::io::Result<()> {
    crate::pipeline::atomic_file::write_atomically(path, |out| write_all_rows(data, out))
}

fn write_all_rows(data: &ReportData, out: &mut dyn Write) -> std::io::Result<()> {
    let header: Vec<String> = headers(data).iter().map(|h| csv_field(h)).collect();
    writeln!(out, "{}", header.join(","))?;
    for customer in &data.customers {
        let mut fields = vec![
            csv_field(&customer.customer_id),
            csv_field(&customer.segment_label()),
            csv_field(&customer.archetype),
            csv_field(&customer.micro_segment),
            if customer.is_outlier { "Yes".to_string() } else { "No".to_string() },
            csv_number(customer.distance_to_centroid),
        ];
        for j in 0..data.key_feature_names.len() {
            fields.push(csv_number(customer.key_features.get(j).copied().flatten()));
        }
        writeln!(out, "{}", fields.join(","))?;
    }
    Ok(())
}

/// RFC 4180 quoting when the text holds a comma, quote or line break.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// A number with full precision; empty for missing or non-finite.
fn csv_number(value: Option<f64>) -> String {
    match value {
        Some(v) if v.is_finite() => v.to_string(),
        _ => String::new(),
    }
}

/// 1234567 -> "1,234,567".
pub fn fmt_count(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quoting_and_counts() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_number(Some(f64::NAN)), "");
        assert_eq!(csv_number(Some(0.25)), "0.25");
        assert_eq!(fmt_count(0), "0");
        assert_eq!(fmt_count(999), "999");
        assert_eq!(fmt_count(1_048_572), "1,048,572");
    }

    #[test]
    fn listed_customers_are_all_or_evenly_spaced() {
        assert_eq!(listed_indices(3, 5), vec![0, 1, 2]);
        assert_eq!(listed_indices(5, 5), vec![0, 1, 2, 3, 4]);
        assert_eq!(listed_indices(10, 4), vec![0, 2, 5, 7]);
        assert_eq!(listed_indices(1_000_000, 100_000)[..3], [0, 10, 20]);
        assert_eq!(listed_indices(1_000_000, 100_000).last(), Some(&999_990));
        assert!(listed_indices(7, 0).is_empty());
    }
}
