//! The Excel report: one workbook a business reader can open, with native Excel charts.
//!
//! [`write_report`] turns a [`ReportData`] (plain data the pipeline fills from DuckDB) into eight
//! sheets, in this order: Executive Summary, Cluster Profiles, Customer Assignments, Feature
//! Analysis, Quality Metrics, Data Quality, Visualizations, Technical Details. Segment colours
//! come from [`crate::palette`], the same as in the desktop app.
//!
//! The Customer Assignments sheet lists at most [`CUSTOMER_SHEET_MAX`] customers (Excel holds
//! 1,048,576 rows per sheet, but a sheet that long makes a 100 MB workbook that takes minutes to
//! open). Above it, the sheet lists an evenly spread selection and says so, and every customer
//! goes to `<stem>_customers.csv` beside the workbook.
//!
//! The workbook is written to a temporary file next to the target and renamed at the end, so a
//! failed or cancelled run never leaves a half-written report behind.

pub mod data;
#[cfg(test)]
mod example;
pub mod from_store;
pub mod pseudonyms;

mod customers;
mod features;
mod metrics;
mod profiles;
mod quality;
pub(crate) mod style;
mod summary;
mod technical;
mod visuals;

use std::path::{Path, PathBuf};

use rust_xlsxwriter::{DocProperties, Workbook, XlsxError};

use crate::pipeline::private_files;
use crate::pipeline::progress::Progress;
pub use customers::fmt_count;
pub use data::{
    CustomerRow, DatasetFacts, ReportData, SegmentRow, Trustworthiness, parameters_from_config,
};
pub use profiles::{percentile_rank, percentile_ranks, population_sorted};

/// The sheets of the report, in workbook order.
pub const SHEET_NAMES: [&str; 8] = [
    "Executive Summary",
    "Cluster Profiles",
    "Customer Assignments",
    "Feature Analysis",
    "Quality Metrics",
    "Data Quality",
    "Visualizations",
    "Technical Details",
];

/// Rows in an Excel worksheet.
pub const EXCEL_MAX_ROWS: u32 = 1_048_576;

/// Customers listed on the Customer Assignments sheet at most. At 100,000 the workbook is about
/// 11 MB and opens in seconds; at 1,000,000 it was 109 MB (docs/decisions.md).
pub const CUSTOMER_SHEET_MAX: usize = 100_000;

/// What [`write_report`] produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportOutcome {
    /// The workbook.
    pub path: PathBuf,
    /// The CSV with every customer, written when the sheet does not list them all.
    pub all_customers_csv: Option<PathBuf>,
    /// The sheet names, in order.
    pub sheets: Vec<String>,
}

/// Why the report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(
        "cannot write the report {path}: {source}. If the file is open in Excel, close it; \
         check that the folder exists and that you may write there."
    )]
    Xlsx {
        path: String,
        #[source]
        source: XlsxError,
    },
    #[error("cannot write {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("stopped: cancelled by the user; no report was written")]
    Cancelled,
}

impl From<crate::pipeline::progress::Cancelled> for ReportError {
    fn from(_: crate::pipeline::progress::Cancelled) -> Self {
        ReportError::Cancelled
    }
}

/// Writes the report for `data` to `path` (an `.xlsx` file), reporting progress per sheet.
pub fn write_report(
    data: &ReportData,
    path: &Path,
    progress: &Progress,
) -> Result<ReportOutcome, ReportError> {
    write_report_with_limits(data, path, progress, EXCEL_MAX_ROWS, CUSTOMER_SHEET_MAX)
}

/// [`write_report`] with a custom worksheet row limit and cap on the customers the sheet lists
/// (tests use tiny ones).
pub(crate) fn write_report_with_limits(
    data: &ReportData,
    path: &Path,
    progress: &Progress,
    row_limit: u32,
    customer_cap: usize,
) -> Result<ReportOutcome, ReportError> {
    let xlsx_err =
        |source: XlsxError| ReportError::Xlsx { path: path.display().to_string(), source };
    let styles = style::Styles::new();
    let mut workbook = Workbook::new();
    // Level 3 of 9: 100k customers write in about 3/4 of the default level's time, for a file
    // about 15% larger.
    workbook.set_zip_compression_level(3);
    workbook.set_properties(
        &DocProperties::new()
            .set_title("ReturnScope customer return segments")
            .set_subject(&data.dataset.input_file)
            .set_author("ReturnScope"),
    );
    let steps = SHEET_NAMES.len() as f64 + 1.0;
    let all_csv = all_customers_csv_path(path);
    let all_csv_name = all_csv.file_name().map(|s| s.to_string_lossy()).unwrap_or_default();
    let mut partial = false;
    for (i, name) in SHEET_NAMES.iter().enumerate() {
        progress.check_cancel()?;
        progress.update(i as f64 / steps, format!("Writing sheet {name}"));
        // Customer Assignments (up to 100,000 rows) is written row by row and flushed as it
        // goes, its strings inline: no shared-string hashing of every customer id.
        let sheet = if i == 2 {
            workbook.add_worksheet_with_constant_memory().map_err(xlsx_err)?
        } else {
            workbook.add_worksheet()
        };
        sheet.set_name(*name).map_err(xlsx_err)?;
        match i {
            0 => summary::write(sheet, data, &styles),
            1 => profiles::write(sheet, data, &styles),
            2 => customers::write(sheet, data, &styles, row_limit, customer_cap, &all_csv_name)
                .map(|p| partial = p),
            3 => features::write(sheet, data, &styles),
            4 => metrics::write(sheet, data, &styles),
            5 => quality::write(sheet, data, &styles),
            6 => visuals::write(sheet, data, &styles),
            _ => technical::write(sheet, data, &styles),
        }
        .map_err(xlsx_err)?;
    }
    progress.check_cancel()?;
    let all_customers_csv = if partial {
        customers::write_all_csv(data, &all_csv)
            .map_err(|source| ReportError::Io { path: all_csv.display().to_string(), source })?;
        Some(all_csv)
    } else {
        None
    };
    progress.update(SHEET_NAMES.len() as f64 / steps, "Saving the workbook");
    save_atomically(&mut workbook, path)?;
    progress.update(1.0, "Report written");
    Ok(ReportOutcome {
        path: path.to_path_buf(),
        all_customers_csv,
        sheets: SHEET_NAMES.iter().map(|s| s.to_string()).collect(),
    })
}

/// `<dir>/<stem>_customers.csv` beside the workbook.
pub fn all_customers_csv_path(path: &Path) -> PathBuf {
    let stem = path.file_stem().map_or_else(|| "report".into(), |s| s.to_string_lossy());
    path.with_file_name(format!("{stem}_customers.csv"))
}

/// Saves to a temporary file beside `path` (owner-only), then renames it over `path`; a new
/// report stays owner-only, an existing one keeps its mode.
pub(crate) fn save_atomically(workbook: &mut Workbook, path: &Path) -> Result<(), ReportError> {
    let file_name = path.file_name().map_or_else(|| "report.xlsx".into(), |s| s.to_string_lossy());
    let partial = path.with_file_name(format!(".{file_name}.partial"));
    let io_err = |source| ReportError::Io { path: path.display().to_string(), source };
    let _ = std::fs::remove_file(&partial); // left by a crash
    // The folder missing or read-only: the same advice as when the workbook cannot be saved.
    let file = private_files::create_new_file(&partial).map_err(|e| ReportError::Xlsx {
        path: path.display().to_string(),
        source: XlsxError::IoError(e),
    })?;
    if let Err(source) = workbook.save_to_writer(std::io::BufWriter::new(file)) {
        let _ = std::fs::remove_file(&partial);
        return Err(ReportError::Xlsx { path: path.display().to_string(), source });
    }
    private_files::keep_mode_of_target(&partial, path)
        .and_then(|_| std::fs::rename(&partial, path))
        .map_err(|source| {
            let _ = std::fs::remove_file(&partial);
            io_err(source)
        })
}

#[cfg(test)]
mod tests;
