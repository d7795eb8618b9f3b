//! The work each background job does, and what it sends back ([`JobOutput`]).
//!
//! Every function here runs on a worker thread (see `jobs.rs`); none touches the UI.

use crate::app::backend::{self, BackendError, SampleWritten};
use crate::app::cluster_view::ClusterView;
use crate::app::jobs::JobPanicked;
use crate::pipeline::cluster::stage::ClusterRun;
use crate::pipeline::config::Config;
use crate::pipeline::model::{
    CsvPreview, FeatureSummary, FeatureTable, IngestSummary, QualityReport,
};
use crate::pipeline::progress::{Progress, Stage};
use crate::pipeline::pseudonym::{self, PseudonymKey};
use crate::pipeline::share::Sharing;
use crate::pipeline::{Analysis, PipelineError, analysis_files};
use crossbeam_channel::Sender;
use eframe::egui;
use ndarray::Array2;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How many data rows the Load page previews.
pub const PREVIEW_ROWS: usize = 20;

/// Why a job failed, as the user reads it.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error("internal error (please report it with the log file): {0}")]
    Internal(String),
}

impl AppError {
    /// The user stopped the job.
    pub fn is_cancelled(&self) -> bool {
        matches!(
            self,
            AppError::Pipeline(PipelineError::Cancelled)
                | AppError::Backend(BackendError::Pipeline(PipelineError::Cancelled))
        )
    }
}

/// What a file dialog was opened for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PickPurpose {
    OpenCsv,
    OpenAnalysis,
    OpenFeaturesTable,
    SaveReport,
    ExportResults,
    /// An earlier analysis to compare the open one with.
    CompareWith,
    /// A new extract to score with the open analysis's model.
    ScoreCsv,
    ExportMovers,
}

/// Above this many customers the eps preview also gives an instant estimate while the exact
/// phase 1 runs.
pub const PREVIEW_POINTS: usize = 5_000;
/// Customers the estimate judges against everyone (standard error below 0.7 points).
const ESTIMATE_SAMPLE: usize = 2_000;
/// Seed of the estimate's sample.
const PREVIEW_SEED: u64 = 7;

/// What the eps preview runs on.
pub struct PreviewData {
    /// Every row of the gold matrix: the exact preview runs phase 1 on all of them.
    pub matrix: Array2<f64>,
    /// For more than [`PREVIEW_POINTS`] customers: the instant noise estimate.
    pub sampler: Option<crate::pipeline::cluster::NoiseSampler>,
}

impl PreviewData {
    /// Prepare the preview of `matrix`. For large data this builds the estimate's search tree
    /// and its neighbour distances at `min_samples` (the slow part, done once here in the
    /// background, so that moving eps is instant).
    pub fn new(matrix: Array2<f64>, min_samples: usize) -> Self {
        let sampler = (matrix.nrows() > PREVIEW_POINTS).then(|| {
            let s = crate::pipeline::cluster::NoiseSampler::new(
                matrix.view(),
                ESTIMATE_SAMPLE,
                PREVIEW_SEED,
            );
            s.prepare(min_samples);
            s
        });
        Self { matrix, sampler }
    }
}

/// The instant estimate of phase 1's noise at one setting.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NoiseEstimate {
    pub eps: f64,
    pub min_samples: usize,
    pub noise_share: f64,
    /// Customers sampled, of `population`.
    pub sampled: usize,
    pub population: usize,
}

/// Phase 1's k-distance curve before the first segmentation: the Cluster page shows it (and
/// previews eps on the matrix it came from) so eps can be chosen before the first run.
#[derive(Debug, Clone, PartialEq)]
pub struct EpsCurve {
    /// Sorted k-distances, at most `CURVE_POINTS` of them (as a run stores its curve).
    pub k_distance: Vec<f64>,
    /// Index of the knee in `k_distance`, when there is one.
    pub knee: Option<usize>,
    /// The k of the k-distances (DBSCAN's min_samples).
    pub min_samples: usize,
    /// The eps the automatic setting would choose.
    pub auto_eps: f64,
    /// Customers in the clustering matrix.
    pub customers: usize,
}

/// A finished segmentation, ready for the Cluster page.
pub struct Segmented {
    /// The in-memory run (another K re-segments from it quickly); `None` for a restored file.
    pub run: Option<Box<ClusterRun>>,
    pub view: Box<ClusterView>,
    /// What the eps preview runs on; `None` when phase 1 did not change (another K).
    pub preview: Option<Arc<PreviewData>>,
}

/// Phase 1's result at one setting, on the preview sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DbscanPreview {
    pub eps: f64,
    pub min_samples: usize,
    pub outliers: crate::pipeline::cluster::OutlierPreview,
    /// Points the preview ran on.
    pub points: usize,
}

/// The layout of the UMAP-style map as (scatter point index, x, y).
pub type MapLayout = Vec<(u32, f64, f64)>;

/// A loaded analysis file's stored results, read without recomputing anything.
#[derive(Default)]
pub struct Restored {
    pub last_stage: Option<Stage>,
    /// The file was made by another version and this one cannot read a stage's results: the
    /// message says which stage to run again (the wizard stops before it).
    pub unreadable: Option<String>,
    pub ingest: Option<IngestSummary>,
    pub quality: Option<QualityReport>,
    pub features: Option<(FeatureSummary, FeatureTable)>,
    pub segmented: Option<Segmented>,
}

/// A new extract scored with the open analysis's model, and what changed since it.
pub struct Scored {
    pub summary: crate::pipeline::scoring::ScoreSummary,
    /// The new extract's analysis file.
    pub db: PathBuf,
    pub comparison: Box<crate::pipeline::compare::Comparison>,
}

/// The result of one job.
// One value per job crosses the channel, so the size of the largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum JobOutput {
    Picked {
        purpose: PickPurpose,
        path: Option<PathBuf>,
    },
    /// This system has no file dialog (Linux without the desktop portal or zenity): a save goes
    /// to `fallback` when there is one.
    NoDialog {
        purpose: PickPurpose,
        fallback: Option<PathBuf>,
    },
    SampleWritten(Result<SampleWritten, AppError>),
    Preview {
        csv: PathBuf,
        result: Result<CsvPreview, AppError>,
    },
    /// `analysis` is the handle the job opened (kept even when a later stage failed).
    Loaded {
        analysis: Option<Analysis>,
        result: Result<(IngestSummary, QualityReport), AppError>,
    },
    Features(Result<(FeatureSummary, FeatureTable), AppError>),
    Segmented(Result<Segmented, AppError>),
    /// Another K: `previous` comes back when re-segmenting failed.
    Resegmented {
        result: Result<Segmented, AppError>,
        previous: Option<Box<ClusterRun>>,
    },
    /// The UMAP-style map: the run comes back whatever happened.
    Map {
        run: Box<ClusterRun>,
        result: Result<MapLayout, AppError>,
    },
    /// The k-distance curve before the first run, with what the eps preview runs on.
    EpsCurve(Result<(EpsCurve, Arc<PreviewData>), AppError>),
    DbscanPreview(Option<DbscanPreview>),
    NoiseEstimate(Option<NoiseEstimate>),
    ReportSaved(Result<Written, AppError>),
    ResultsExported(Result<Written, AppError>),
    AnalysisDeleted {
        db: PathBuf,
        result: Result<analysis_files::Deleted, AppError>,
    },
    Compared(Result<Box<crate::pipeline::compare::Comparison>, AppError>),
    Scored(Result<Box<Scored>, AppError>),
    MoversExported(Result<PathBuf, AppError>),
    Restored {
        analysis: Option<Analysis>,
        path: PathBuf,
        result: Result<Restored, AppError>,
    },
    Panicked(String),
}

impl From<JobPanicked> for JobOutput {
    fn from(p: JobPanicked) -> Self {
        JobOutput::Panicked(p.0)
    }
}

/// Show a native open or save dialog (blocks this worker thread only); `file_name` is the
/// suggested name of a save dialog.
pub fn pick_file(
    purpose: PickPurpose,
    start_dir: Option<PathBuf>,
    file_name: Option<String>,
) -> JobOutput {
    if !native_dialog_available() {
        let fallback = match purpose {
            PickPurpose::SaveReport | PickPurpose::ExportResults | PickPurpose::ExportMovers => {
                start_dir.zip(file_name).map(|(dir, name)| dir.join(name))
            }
            PickPurpose::OpenCsv
            | PickPurpose::OpenAnalysis
            | PickPurpose::CompareWith
            | PickPurpose::ScoreCsv
            | PickPurpose::OpenFeaturesTable => None,
        };
        return JobOutput::NoDialog { purpose, fallback };
    }
    let mut dialog = rfd::FileDialog::new();
    dialog = match purpose {
        PickPurpose::OpenCsv => dialog
            .set_title("Open order lines (CSV)")
            .add_filter("CSV files", &["csv", "txt", "tsv"]),
        PickPurpose::OpenAnalysis => {
            dialog.set_title("Open an analysis").add_filter("ReturnScope analysis", &["duckdb"])
        }
        PickPurpose::OpenFeaturesTable => dialog
            .set_title("Open a features table (Parquet; for a Spark output folder, any part file)")
            .add_filter("Parquet", &["parquet"]),
        PickPurpose::SaveReport => {
            dialog.set_title("Save the Excel report").add_filter("Excel workbook", &["xlsx"])
        }
        PickPurpose::ExportResults => {
            dialog.set_title("Export results (CSV)").add_filter("CSV files", &["csv"])
        }
        PickPurpose::CompareWith => dialog
            .set_title("Compare with an earlier analysis")
            .add_filter("ReturnScope analysis", &["duckdb"]),
        PickPurpose::ScoreCsv => dialog
            .set_title("Score order lines (CSV) with this model")
            .add_filter("CSV files", &["csv", "txt", "tsv"]),
        PickPurpose::ExportMovers => {
            dialog.set_title("Export movers (CSV)").add_filter("CSV files", &["csv"])
        }
    };
    if let Some(dir) = start_dir {
        dialog = dialog.set_directory(dir);
    }
    if let Some(name) = file_name {
        dialog = dialog.set_file_name(name);
    }
    let path = match purpose {
        PickPurpose::OpenCsv
        | PickPurpose::OpenAnalysis
        | PickPurpose::CompareWith
        | PickPurpose::ScoreCsv
        | PickPurpose::OpenFeaturesTable => dialog.pick_file(),
        PickPurpose::SaveReport | PickPurpose::ExportResults | PickPurpose::ExportMovers => {
            dialog.save_file()
        }
    };
    JobOutput::Picked { purpose, path }
}

/// Whether rfd can show a dialog: on Linux it needs the XDG desktop portal (over the D-Bus
/// session bus) or its zenity fallback; elsewhere the system dialogs are always there.
fn native_dialog_available() -> bool {
    if !cfg!(target_os = "linux") {
        return true;
    }
    let bus = std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some_and(|v| !v.is_empty());
    let zenity = std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|p| p.join("zenity").is_file()));
    bus || zenity
}

/// Build the clustering matrix, segment the customers (PCA view only: the UMAP-style map follows
/// in its own job), and prepare the Cluster page.
pub fn segment(
    analysis: Result<Analysis, PipelineError>,
    config: &Config,
    progress: &Progress,
) -> JobOutput {
    JobOutput::Segmented((|| -> Result<_, AppError> {
        let analysis = analysis?;
        analysis.gold(config, &progress.sub(0.0, 0.05))?;
        progress.check_cancel().map_err(PipelineError::from)?;
        let run = analysis.cluster(config, &progress.sub(0.05, 0.95), false)?;
        segmented(&analysis, run, true)
    })())
}

/// Re-segment with another K. Without a run in memory (a reopened file), segment first.
pub fn resegment(
    analysis: Result<Analysis, PipelineError>,
    config: &Config,
    previous: Option<Box<ClusterRun>>,
    k: usize,
    progress: &Progress,
) -> JobOutput {
    let result = (|| -> Result<_, AppError> {
        let analysis = analysis?;
        match previous.as_deref() {
            Some(base) => {
                let run = analysis.recluster(config, base, k, &progress.sub(0.0, 0.95))?;
                segmented(&analysis, run, false) // phase 1 kept: so is its preview
            }
            None => {
                let first = analysis.cluster(config, &progress.sub(0.0, 0.8), false)?;
                let run = analysis.recluster(config, &first, k, &progress.sub(0.8, 0.95))?;
                segmented(&analysis, run, true)
            }
        }
    })();
    let previous = if result.is_ok() { None } else { previous };
    JobOutput::Resegmented { result, previous }
}

/// The Cluster page's data for `run`; `with_preview` also prepares the eps preview (phase 1
/// changed).
fn segmented(
    analysis: &Analysis,
    run: ClusterRun,
    with_preview: bool,
) -> Result<Segmented, AppError> {
    let data = analysis.report_data()?;
    let view = ClusterView::new(data, run.pca_explained, run.outcome.recommended_k);
    let preview = with_preview
        .then(|| Arc::new(PreviewData::new(run.matrix.clone(), run.hybrid.min_samples)));
    Ok(Segmented { run: Some(Box::new(run)), view: Box::new(view), preview })
}

/// Where each gold row (the run's customer order) is in the scatter's points.
pub fn scatter_index_of_gold_rows(run: &ClusterRun, view: &ClusterView) -> Vec<Option<u32>> {
    let position: std::collections::HashMap<&str, u32> =
        view.scatter.ids.iter().enumerate().map(|(i, id)| (id.as_str(), i as u32)).collect();
    run.customer_ids.iter().map(|id| position.get(id.as_str()).copied()).collect()
}

fn to_scatter(layout: &[(usize, f64, f64)], index: &[Option<u32>]) -> MapLayout {
    layout
        .iter()
        .filter_map(|&(i, x, y)| index.get(i).copied().flatten().map(|p| (p, x, y)))
        .collect()
}

/// Compute the UMAP-style map of a run and store it; every few epochs the layout so far goes
/// through `live` (and the UI is woken) so the map moves while it is computed.
pub fn compute_map(
    analysis: Result<Analysis, PipelineError>,
    config: &Config,
    mut run: Box<ClusterRun>,
    index: Arc<Vec<Option<u32>>>,
    live: Sender<MapLayout>,
    ctx: egui::Context,
    progress: &Progress,
) -> JobOutput {
    let result = (|| -> Result<_, AppError> {
        let analysis = analysis?;
        let on_layout = |layout: &[(usize, f64, f64)]| {
            // The page may be gone (another run started): nothing to tell.
            let _ = live.send(to_scatter(layout, &index));
            ctx.request_repaint();
        };
        let started = std::time::Instant::now();
        let layout = analysis.umap_view(&run, config, progress, Some(&on_layout))?;
        let computed = started.elapsed().as_secs_f64();
        analysis.store_umap(config, &mut run, layout)?;
        tracing::info!(
            "UMAP-style map: layout {computed:.2} s, trustworthiness and storing {:.2} s",
            started.elapsed().as_secs_f64() - computed
        );
        Ok(to_scatter(&run.umap, &index))
    })();
    JobOutput::Map { run, result }
}

/// Build the clustering matrix in memory (nothing stored) and phase 1's k-distance curve on it,
/// then prepare the eps preview on that matrix.
pub fn eps_curve(
    analysis: Result<Analysis, PipelineError>,
    config: &Config,
    progress: &Progress,
) -> JobOutput {
    use crate::pipeline::cluster::{auto_eps, downsample_curve, hybrid::CURVE_POINTS, knee};
    JobOutput::EpsCurve((|| -> Result<_, AppError> {
        let (matrix, full) = analysis?.eps_curve(config, progress)?;
        let k_distance: Vec<f64> =
            downsample_curve(&full, CURVE_POINTS).into_iter().map(|p| p[1]).collect();
        let min_samples = config.dbscan.min_samples;
        let curve = EpsCurve {
            knee: knee(&k_distance),
            auto_eps: auto_eps(&full, config.dbscan.max_noise_ratio),
            min_samples,
            customers: matrix.nrows(),
            k_distance,
        };
        progress.check_cancel().map_err(PipelineError::from)?;
        Ok((curve, Arc::new(PreviewData::new(matrix, min_samples))))
    })())
}

/// Phase 1 at (`eps`, `min_samples`) on every customer. A superseded preview is cancelled
/// (`None`).
pub fn preview_dbscan(
    data: &PreviewData,
    eps: f64,
    min_samples: usize,
    max_noise_ratio: f64,
    progress: &Progress,
) -> JobOutput {
    let outliers = crate::pipeline::cluster::preview_outliers(
        data.matrix.view(),
        eps,
        min_samples,
        max_noise_ratio,
        progress,
    );
    JobOutput::DbscanPreview(outliers.map(|outliers| DbscanPreview {
        eps,
        min_samples,
        outliers,
        points: data.matrix.nrows(),
    }))
}

/// The instant noise estimate at (`eps`, `min_samples`), when the data is large enough to have one.
pub fn estimate_noise(data: &PreviewData, eps: f64, min_samples: usize) -> JobOutput {
    JobOutput::NoiseEstimate(data.sampler.as_ref().map(|sampler| NoiseEstimate {
        eps,
        min_samples,
        noise_share: sampler.noise_share(eps, min_samples),
        sampled: sampler.sample_size(),
        population: sampler.population(),
    }))
}

/// How the user chose to name customers in a report or export (the Report page's checkboxes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShareChoice {
    /// Replace customer e-mails with pseudonyms.
    pub pseudonymize: bool,
    /// Also write the private lookup CSV beside the output.
    pub lookup: bool,
}

/// A report or export written, with the pseudonym lookup beside it if one was asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub path: PathBuf,
    pub lookup: Option<PathBuf>,
}

/// The sharing options for `choice`; with pseudonyms, the key from the data folder (made on
/// first use).
fn sharing(choice: ShareChoice, data_dir: &Path, output: &Path) -> Result<Sharing, AppError> {
    if !choice.pseudonymize {
        return Ok(Sharing::as_loaded());
    }
    let key = PseudonymKey::load_or_create(data_dir)?;
    let lookup = choice.lookup.then(|| pseudonym::lookup_path_beside(output));
    Ok(Sharing::pseudonymized(key, lookup))
}

/// Write the Excel report to `path`.
pub fn save_report(
    analysis: Result<Analysis, PipelineError>,
    (path, choice, data_dir): (&Path, ShareChoice, &Path),
    progress: &Progress,
) -> JobOutput {
    JobOutput::ReportSaved((|| -> Result<_, AppError> {
        let sharing = sharing(choice, data_dir, path)?;
        let path = analysis?.write_report(path, progress, &sharing)?;
        Ok(Written { path, lookup: sharing.lookup_csv })
    })())
}

/// Write every customer's segment with the key features to a CSV at `path`.
pub fn export_results(
    analysis: Result<Analysis, PipelineError>,
    (path, choice, data_dir): (&Path, ShareChoice, &Path),
) -> JobOutput {
    JobOutput::ResultsExported((|| -> Result<_, AppError> {
        let sharing = sharing(choice, data_dir, path)?;
        let lookup = analysis?.export_results_csv(path, &sharing)?;
        Ok(Written { path: path.to_path_buf(), lookup })
    })())
}

/// Delete the analysis file `db` with everything that belongs to it (logs in the data folder
/// included); the app has closed its own handle first.
pub fn delete_analysis(db: PathBuf, data_dir: &Path) -> JobOutput {
    let result = analysis_files::delete_analysis(&db, &[backend::log_dir(data_dir)]);
    crate::logging::continue_in_new_file_if_removed();
    JobOutput::AnalysisDeleted { db, result: result.map_err(AppError::from) }
}

/// Generate the sample CSV in the data folder.
pub fn write_sample(data_dir: &Path) -> JobOutput {
    let csv = backend::sample_csv_path(data_dir);
    JobOutput::SampleWritten(
        backend::write_sample(&csv, backend::SAMPLE_CUSTOMERS, backend::SAMPLE_SEED)
            .map_err(AppError::from),
    )
}

/// Read the header and first rows of `csv`.
pub fn preview(csv: PathBuf) -> JobOutput {
    let result = Analysis::preview_csv(&csv, PREVIEW_ROWS).map_err(AppError::from);
    JobOutput::Preview { csv, result }
}

/// Open the analysis file for `csv`, load the CSV into it and validate.
pub fn load_and_validate(
    data_dir: &Path,
    csv: &Path,
    config: &Config,
    progress: &Progress,
) -> JobOutput {
    let analysis = match backend::open_analysis_for_csv(data_dir, csv, config) {
        Ok(a) => a,
        Err(err) => return JobOutput::Loaded { analysis: None, result: Err(err.into()) },
    };
    let result = (|| -> Result<_, AppError> {
        let ingest = analysis.ingest(csv, config, &progress.for_stage(Stage::Ingest))?;
        progress.check_cancel().map_err(PipelineError::from)?;
        let quality = analysis.validate(config, &progress.for_stage(Stage::Validate))?;
        Ok((ingest, quality))
    })();
    JobOutput::Loaded { analysis: Some(analysis), result }
}

/// Build the silver layer, then read it back for the Features page.
pub fn build_features(
    analysis: Result<Analysis, PipelineError>,
    config: &Config,
    progress: &Progress,
) -> JobOutput {
    let result = (|| -> Result<_, AppError> {
        let analysis = analysis?;
        let summary = analysis.features(config, &progress.for_stage(Stage::Features))?;
        progress.check_cancel().map_err(PipelineError::from)?;
        let table = analysis.feature_table()?;
        Ok((summary, table))
    })();
    JobOutput::Features(result)
}

/// Check a features table, make it the silver layer of its own analysis file
/// (`analyses/<name> features.duckdb`), and read that back as a reopened analysis.
pub fn open_features_table(
    data_dir: &Path,
    table: &Path,
    config: &Config,
    progress: &Progress,
) -> JobOutput {
    let source = match crate::pipeline::silver_import::inspect(table) {
        Ok(source) => source,
        Err(err) => {
            let path = table.to_path_buf();
            return JobOutput::Restored { analysis: None, path, result: Err(err.into()) };
        }
    };
    let db = backend::features_analysis_path_for(data_dir, table, &source.name());
    let analysis = match backend::open_analysis_at(&db, config) {
        Ok(a) => a,
        Err(err) => {
            let path = table.to_path_buf();
            return JobOutput::Restored { analysis: None, path, result: Err(err.into()) };
        }
    };
    let path = analysis.db_path().to_path_buf();
    let result = analysis
        .import_silver(&source, config, progress)
        .map_err(AppError::from)
        .and_then(|_| read_stored(&analysis, progress));
    JobOutput::Restored { analysis: Some(analysis), path, result }
}

/// The steps of reopening an analysis, as the progress bar names them (fraction at the start of
/// each step).
pub const REOPEN_STEPS: [(f64, &str); 6] = [
    (0.0, "Opening the file"),
    (0.05, "Reading the load and validation summaries"),
    (0.15, "Reading the features"),
    (0.4, "Reading the segments"),
    (0.65, "Preparing the segment map"),
    (0.8, "Preparing the eps preview"),
];

/// Report reopen step `i` (of [`REOPEN_STEPS`]) and stop if the user cancelled.
fn reopen_step(progress: &Progress, i: usize) -> Result<(), AppError> {
    progress.check_cancel().map_err(PipelineError::from)?;
    let (fraction, what) = REOPEN_STEPS[i];
    progress.update(fraction, format!("step {} of {}: {what}", i + 1, REOPEN_STEPS.len()));
    Ok(())
}

/// Open an existing analysis file and read what it holds, recomputing nothing; each step is
/// reported (a big analysis takes seconds to read).
pub fn restore(db: PathBuf, config: &Config, progress: &Progress) -> JobOutput {
    if let Err(err) = reopen_step(progress, 0) {
        return JobOutput::Restored { analysis: None, path: db, result: Err(err) };
    }
    let analysis = match Analysis::open(&db, config) {
        Ok(a) => a,
        Err(err) => {
            return JobOutput::Restored { analysis: None, path: db, result: Err(err.into()) };
        }
    };
    let result = read_stored(&analysis, progress);
    if result.is_ok() {
        progress.update(1.0, "Ready");
    }
    JobOutput::Restored { analysis: Some(analysis), path: db, result }
}

fn read_stored(analysis: &Analysis, progress: &Progress) -> Result<Restored, AppError> {
    reopen_step(progress, 1)?;
    let state = analysis.state()?;
    let last_stage = state.complete.last().copied();
    let unreadable = state.unreadable.map(|(_, message)| message);
    let quality =
        if last_stage >= Some(Stage::Validate) { analysis.quality_report()? } else { None };
    let ingest = if last_stage.is_some() { analysis.ingest_summary()? } else { None };
    reopen_step(progress, 2)?;
    let summary =
        if last_stage >= Some(Stage::Features) { analysis.feature_summary()? } else { None };
    let features = match summary {
        Some(summary) => Some((summary, analysis.feature_table()?)),
        None => None,
    };
    let segmented = if last_stage >= Some(Stage::Cluster) {
        restored_segmentation(analysis, progress)?
    } else {
        None
    };
    Ok(Restored { last_stage, unreadable, ingest, quality, features, segmented })
}

/// The stored segmentation of a reopened file (no run in memory: another K segments again).
fn restored_segmentation(
    analysis: &Analysis,
    progress: &Progress,
) -> Result<Option<Segmented>, AppError> {
    reopen_step(progress, 3)?;
    let outcome = analysis.cluster_outcome()?.unwrap_or_default();
    let data = analysis.report_data()?;
    reopen_step(progress, 4)?;
    let view = ClusterView::new(data, outcome.pca_explained, outcome.recommended_k);
    reopen_step(progress, 5)?;
    let Some(matrix) = analysis.gold_matrix()? else { return Ok(None) };
    let preview = PreviewData::new(matrix, view.data.min_samples);
    Ok(Some(Segmented { run: None, view: Box::new(view), preview: Some(Arc::new(preview)) }))
}
