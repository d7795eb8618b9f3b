//! "Technical Details": what is needed to explain and repeat the run: the input's hash, every
//! configuration parameter, component versions, the time each stage took, and the conditions each
//! segment name was checked against.

use rust_xlsxwriter::{Worksheet, XlsxError};

use super::data::ReportData;
use super::style::{self, Styles};
use crate::pipeline::archetypes::conditions::CONDITIONS;

/// Versions and timings sit right of the parameters.
const SIDE_COL: u16 = 3;

pub fn write(sheet: &mut Worksheet, data: &ReportData, styles: &Styles) -> Result<(), XlsxError> {
    sheet.set_screen_gridlines(false);
    style::set_widths(sheet, 0, &[38.0, 30.0, 3.0, 30.0, 14.0])?;
    style::write_title(
        sheet,
        styles,
        "Technical Details",
        "Everything needed to repeat this run: the same input (same hash) and parameters give the \
         same segments.",
    )?;
    let mut row = 3;
    sheet.merge_range(row, 0, row, 4, "Input", &styles.section)?;
    row += 1;
    let d = &data.dataset;
    for (label, value) in
        [("Input file", &d.input_file), ("SHA-256", &d.input_sha256), ("Features as of", &d.as_of)]
    {
        sheet.write_string_with_format(row, 0, label, &styles.label)?;
        sheet.merge_range(
            row,
            1,
            row,
            4,
            value,
            if label == "SHA-256" { &styles.mono } else { &styles.text },
        )?;
        row += 1;
    }
    row += 1;
    let side_start = row;
    sheet.merge_range(row, 0, row, 1, "Parameters", &styles.section)?;
    style::write_header(sheet, styles, row + 1, 0, &["Key", "Value"])?;
    for (i, (key, value)) in data.parameters.iter().enumerate() {
        let r = row + 2 + i as u32;
        sheet.write_string_with_format(r, 0, key, &styles.mono)?;
        sheet.write_string_with_format(r, 1, value, &styles.text)?;
    }
    row = side_start;
    sheet.merge_range(row, SIDE_COL, row, SIDE_COL + 1, "Versions", &styles.section)?;
    style::write_header(sheet, styles, row + 1, SIDE_COL, &["Component", "Version"])?;
    row += 2;
    for (name, version) in &data.versions {
        sheet.write_string_with_format(row, SIDE_COL, name, &styles.text)?;
        sheet.write_string_with_format(row, SIDE_COL + 1, version, &styles.text)?;
        row += 1;
    }
    row += 1;
    sheet.merge_range(row, SIDE_COL, row, SIDE_COL + 1, "Timings", &styles.section)?;
    style::write_header(sheet, styles, row + 1, SIDE_COL, &["Stage", "Seconds"])?;
    row += 2;
    let seconds = styles.text.clone().set_num_format("#,##0.00");
    for (stage, secs) in &data.timings {
        let name =
            if is_cluster_phase(stage) { format!("  {stage} (in cluster)") } else { stage.clone() };
        sheet.write_string_with_format(row, SIDE_COL, &name, &styles.text)?;
        style::write_opt_number(sheet, row, SIDE_COL + 1, Some(*secs), &seconds)?;
        row += 1;
    }
    // The clustering's phases are part of its stage total: counted once.
    let total: f64 = data
        .timings
        .iter()
        .filter(|(stage, _)| !is_cluster_phase(stage))
        .map(|(_, s)| s)
        .filter(|s| s.is_finite())
        .sum();
    sheet.write_string_with_format(row, SIDE_COL, "Total", &styles.label)?;
    sheet.write_number_with_format(row, SIDE_COL + 1, total, &seconds.clone().set_bold())?;
    let parameters_end = side_start + 2 + data.parameters.len() as u32;
    write_name_conditions(sheet, styles, row.max(parameters_end) + 2)?;
    Ok(())
}

/// A phase timed inside the cluster stage, whose `cluster_stage_total` already counts it.
fn is_cluster_phase(stage: &str) -> bool {
    matches!(stage, "read_inputs" | "dbscan" | "kmeans_sweep" | "subclusters" | "embeddings")
}

/// "Segment names": each archetype's conditions, checked before a segment carries the name.
fn write_name_conditions(
    sheet: &mut Worksheet,
    styles: &Styles,
    mut row: u32,
) -> Result<u32, XlsxError> {
    sheet.merge_range(
        row,
        0,
        row,
        4,
        "Segment names: the conditions a segment must meet to carry a name",
        &styles.section,
    )?;
    row += 1;
    style::write_header(sheet, styles, row, 0, &["Name"])?;
    sheet.merge_range(
        row,
        1,
        row,
        4,
        "Conditions (against all clustered customers)",
        &styles.header_wrap,
    )?;
    row += 1;
    for &(name, conditions) in CONDITIONS {
        sheet.write_string_with_format(row, 0, name, &styles.label)?;
        sheet.merge_range(row, 1, row, 4, conditions, &styles.wrap)?;
        sheet.set_row_height(row, 15.0 * (conditions.len() / 85 + 1) as f64 + 4.0)?;
        row += 1;
    }
    Ok(row)
}
