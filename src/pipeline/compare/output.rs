//! A comparison written for people and scripts: the movers CSV (`compare --out`) and the
//! "Changes" workbook (`compare --report`, and the app's Save on the Changes page).

use super::{Comparison, Mover};
use crate::pipeline::error::{PipelineError, Result};
use std::io::Write;
use std::path::Path;

/// Header of the movers CSV.
pub const MOVERS_HEADER: &str = "customer_id,old_segment,new_segment,old_archetype,new_archetype,\
old_is_outlier,new_is_outlier,moved";

/// A CSV field, quoted when it holds a comma, a quote or a line break.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

fn segment_text(segment: Option<usize>) -> String {
    segment.map_or_else(String::new, |s| s.to_string())
}

/// One CSV line for a customer in both periods.
pub fn mover_line(m: &Mover) -> String {
    format!(
        "{},{},{},{},{},{},{},{}",
        csv_field(&m.customer_id),
        segment_text(m.old_segment),
        segment_text(m.new_segment),
        csv_field(&m.old_archetype),
        csv_field(&m.new_archetype),
        m.old_is_outlier,
        m.new_is_outlier,
        m.moved()
    )
}

/// Write `movers` (all, or a filtered subset) to a CSV, through a temporary name.
pub fn write_movers_csv<'a>(movers: impl IntoIterator<Item = &'a Mover>, out: &Path) -> Result<()> {
    let write_error = |e: std::io::Error| PipelineError::Write {
        path: out.display().to_string(),
        reason: e.to_string(),
    };
    let tmp = out.with_extension("csv.partial");
    let file = std::fs::File::create(&tmp).map_err(write_error)?;
    let mut w = std::io::BufWriter::new(file);
    writeln!(w, "{MOVERS_HEADER}").map_err(write_error)?;
    for m in movers {
        writeln!(w, "{}", mover_line(m)).map_err(write_error)?;
    }
    w.flush().map_err(write_error)?;
    drop(w);
    std::fs::rename(&tmp, out).map_err(write_error)
}

/// The comparison as the JSON of `compare --json` (no per-customer rows).
pub fn comparison_json(c: &Comparison) -> Result<String> {
    serde_json::to_string_pretty(c).map_err(|e| PipelineError::Data(e.to_string()))
}
