//! The app's over-time jobs: comparing the open analysis with an earlier one, scoring a new CSV
//! with the open analysis's model, and exporting the movers. They run on worker threads (see
//! `jobs.rs`) and never touch the UI.

use crate::app::tasks::{AppError, JobOutput, Scored};
use crate::pipeline::compare::{Comparison, Mover, compare, output};
use crate::pipeline::config::Config;
use crate::pipeline::progress::{Progress, Stage};
use crate::pipeline::run::{RunOptions, run_pipeline};
use crate::pipeline::scoring::{require_model, score_store};
use crate::pipeline::store::Store;
use crate::pipeline::{Analysis, PipelineError};
use std::path::{Path, PathBuf};

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Compare the open analysis (NEW) with an earlier analysis file (OLD).
pub fn compare_with_earlier(
    current: Result<Analysis, PipelineError>,
    earlier: &Path,
    config: &Config,
    progress: &Progress,
) -> JobOutput {
    JobOutput::Compared(compare_job(current, earlier, config, progress).map(Box::new))
}

fn compare_job(
    current: Result<Analysis, PipelineError>,
    earlier: &Path,
    config: &Config,
    progress: &Progress,
) -> Result<Comparison, AppError> {
    let current = current?;
    let progress = progress.for_stage(Stage::Compare);
    if same_file(current.db_path(), earlier) {
        return Ok(compare(current.store(), current.store(), &progress)?);
    }
    let old = Store::open(earlier, &config.store)?;
    Ok(compare(&old, current.store(), &progress)?)
}

/// Where the app keeps a scored extract: `<data dir>/analyses/<csv stem> (scored).duckdb`, so
/// scoring never replaces the analysis of the same CSV.
pub fn scored_analysis_path(data_dir: &Path, csv: &Path) -> PathBuf {
    let stem = csv.file_stem().map_or_else(|| "scored".into(), |s| s.to_string_lossy());
    data_dir.join("analyses").join(format!("{stem} (scored).duckdb"))
}

/// Load, validate and build the features of `csv`, place its customers with the open
/// analysis's model, and compare the two periods.
pub fn score_with_model(
    current: Result<Analysis, PipelineError>,
    csv: &Path,
    data_dir: &Path,
    progress: &Progress,
) -> JobOutput {
    JobOutput::Scored(score_job(current, csv, data_dir, progress).map(Box::new))
}

fn score_job(
    current: Result<Analysis, PipelineError>,
    csv: &Path,
    data_dir: &Path,
    progress: &Progress,
) -> Result<Scored, AppError> {
    let current = current?;
    let model = require_model(current.store())?;
    let config = model.config_for_new_extract();
    let db = scored_analysis_path(data_dir, csv);
    run_pipeline(&RunOptions::features_for_scoring(csv, &db), &config, progress)?;
    let scored = Analysis::open(&db, &config)?;
    let summary = score_store(scored.store(), &model, &progress.for_stage(Stage::Score))?;
    let comparison = compare(current.store(), scored.store(), &progress.for_stage(Stage::Compare))?;
    Ok(Scored { summary, db, comparison: Box::new(comparison) })
}

/// Write the movers shown (the page's filter) to a CSV.
pub fn export_movers(movers: Vec<Mover>, path: PathBuf) -> JobOutput {
    JobOutput::MoversExported(
        output::write_movers_csv(&movers, &path).map(|()| path).map_err(AppError::from),
    )
}
