//! One analysis = one DuckDB file. [`Analysis`] is the facade the CLI and the app call: one method
//! per stage (plain data in and out, progress and cancel passed in) and read-only views of the
//! layers.
//!
//! DuckDB connections are `Send` but not `Sync`: a worker thread takes its own handle with
//! [`Analysis::try_clone`].

use crate::pipeline::cluster::stage::{self, ClusterRun};
use crate::pipeline::config::Config;
use crate::pipeline::embed::stage::{LayoutCallback, compute_umap};
use crate::pipeline::error::{PipelineError, Result};
use crate::pipeline::gold::{self, GoldSummary};
use crate::pipeline::model::*;
use crate::pipeline::progress::{Progress, Stage};
use crate::pipeline::share::Sharing;
use crate::pipeline::silver_import::{self, SilverSource};
use crate::pipeline::store::Store;
use crate::pipeline::{features, ingest, metadata, report, results, validate};
use std::path::Path;

/// Which stages of an analysis are complete.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AnalysisState {
    /// The complete stages, in pipeline order: each one's layer and summary can be read.
    pub complete: Vec<Stage>,
    /// The first recorded stage whose summary this version cannot read (the analysis was made by
    /// another version), with the message that says so: run the analysis again from there.
    pub unreadable: Option<(Stage, String)>,
}

impl AnalysisState {
    /// "ingest, validate" (or "none").
    pub fn complete_list(&self) -> String {
        if self.complete.is_empty() {
            return "none".into();
        }
        self.complete.iter().map(|s| s.key()).collect::<Vec<_>>().join(", ")
    }
}

/// An open analysis file.
pub struct Analysis {
    store: Store,
}

impl Analysis {
    /// Open (or create) the analysis file. A file locked by another process gives
    /// `PipelineError::DatabaseLocked`.
    pub fn open(db_path: &Path, config: &Config) -> Result<Self> {
        Ok(Self { store: Store::open(db_path, &config.store)? })
    }

    /// Run a stage, then remove the spill folder if the stage left it empty.
    fn stage<T>(&self, run: impl FnOnce() -> Result<T>) -> Result<T> {
        let outcome = run();
        self.store.tidy_spill_folder();
        outcome
    }

    /// A second handle on the same file, for a worker thread.
    pub fn try_clone(&self) -> Result<Self> {
        Ok(Self { store: self.store.try_clone()? })
    }

    pub fn db_path(&self) -> &Path {
        self.store.path()
    }

    /// The underlying store (for stages that live in other modules).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The last stage whose layer is complete (and readable by this version) in this file; None
    /// for a new file.
    pub fn completed_stage(&self) -> Result<Option<Stage>> {
        Ok(self.state()?.complete.last().copied())
    }

    /// Which stages are complete, and the first recorded one this version cannot read.
    pub fn state(&self) -> Result<AnalysisState> {
        let mut state = AnalysisState::default();
        for stage in Stage::RECORDED {
            match self.stage_readable(stage) {
                Ok(true) => state.complete.push(stage),
                Ok(false) => break,
                Err(e @ PipelineError::UnreadableStage { .. }) => {
                    state.unreadable = Some((stage, e.to_string()));
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(state)
    }

    /// Is `stage` recorded complete, with a summary this version can decode?
    fn stage_readable(&self, stage: Stage) -> Result<bool> {
        Ok(match stage {
            Stage::Ingest => self.ingest_summary()?.is_some(),
            Stage::Validate => self.quality_report()?.is_some(),
            Stage::Features => self.feature_summary()?.is_some(),
            Stage::Gold => self.gold_summary()?.is_some(),
            Stage::Cluster => self.cluster_outcome()?.is_some(),
            Stage::Embed | Stage::Report | Stage::Score | Stage::Compare => false,
        })
    }

    /// Header, delimiter and first rows of a CSV, without loading it.
    pub fn preview_csv(path: &Path, rows: usize) -> Result<CsvPreview> {
        ingest::preview_csv(path, rows)
    }

    /// Load the CSV into `bronze_return_order_data` (replacing any earlier load).
    pub fn ingest(
        &self,
        csv: &Path,
        config: &Config,
        progress: &Progress,
    ) -> Result<IngestSummary> {
        self.stage(|| ingest::ingest(&self.store, csv, config, &progress.for_stage(Stage::Ingest)))
    }

    /// Apply the cleaning table, count every quality case, run the dataset checks.
    pub fn validate(&self, config: &Config, progress: &Progress) -> Result<QualityReport> {
        self.refuse_without_order_lines("validate")?;
        self.stage(|| validate::validate(&self.store, config, &progress.for_stage(Stage::Validate)))
    }

    /// Build `silver_customer_features`.
    pub fn features(&self, config: &Config, progress: &Progress) -> Result<FeatureSummary> {
        self.refuse_without_order_lines("build features from")?;
        self.stage(|| {
            features::build_features(&self.store, config, &progress.for_stage(Stage::Features))
        })
    }

    /// Make a checked features table (see [`silver_import::inspect`]) this analysis's silver
    /// layer, replacing what the file held; the stages up to Features are then complete.
    pub fn import_silver(
        &self,
        source: &SilverSource,
        config: &Config,
        progress: &Progress,
    ) -> Result<FeatureSummary> {
        self.stage(|| {
            silver_import::import(&self.store, source, config, &progress.for_stage(Stage::Features))
        })
    }

    /// The features table this analysis was opened from (None when it was built from a CSV).
    pub fn imported_from(&self) -> Result<Option<String>> {
        silver_import::imported_from(&self.store)
    }

    /// An analysis opened from a features table has no order lines: validation and features
    /// cannot run on it.
    fn refuse_without_order_lines(&self, what: &str) -> Result<()> {
        match self.imported_from()? {
            Some(table) => Err(crate::pipeline::PipelineError::Data(format!(
                "this analysis was opened from the features table {table}, which holds no order lines to {what}. \
                 Open the CSV of order lines instead, or go on to clustering."
            ))),
            None => Ok(()),
        }
    }

    /// Build `gold_cluster_processed` from the eligible customers' features.
    pub fn gold(&self, config: &Config, progress: &Progress) -> Result<GoldSummary> {
        self.stage(|| gold::build_gold_layer(&self.store, config, &progress.for_stage(Stage::Gold)))
    }

    /// Segment the customers and store `clustering_results`, `cluster_summary`, the segmentation
    /// model and the metadata; `with_umap` also computes the UMAP-style view (the app may run it separately).
    pub fn cluster(
        &self,
        config: &Config,
        progress: &Progress,
        with_umap: bool,
    ) -> Result<ClusterRun> {
        self.stage(|| {
            let mut run = stage::cluster_and_store(
                &self.store,
                config,
                &progress.for_stage(Stage::Cluster),
                with_umap,
            )?;
            let model_started = std::time::Instant::now();
            crate::pipeline::scoring::save_model(&self.store, config, &run)?;
            let model_s = model_started.elapsed().as_secs_f64();
            run.outcome.timings.push(("model_and_check".into(), model_s));
            self.write_metadata(&mut run.outcome)?;
            Ok(run)
        })
    }

    /// Re-segment with another K (phase 1 kept) and store.
    pub fn recluster(
        &self,
        config: &Config,
        previous: &ClusterRun,
        k: usize,
        progress: &Progress,
    ) -> Result<ClusterRun> {
        let mut run = stage::recluster_and_store(
            &self.store,
            config,
            previous,
            k,
            &progress.for_stage(Stage::Cluster),
        )?;
        crate::pipeline::scoring::save_model(&self.store, config, &run)?;
        self.write_metadata(&mut run.outcome)?;
        Ok(run)
    }

    /// Write `<analysis>.clustering_metadata.json` for `outcome` (with the parameters recorded
    /// with the stages) beside the analysis file, and note where.
    fn write_metadata(&self, outcome: &mut ClusterOutcome) -> Result<()> {
        outcome.metadata_path = Some(metadata::write_metadata(&self.store, outcome)?);
        Ok(())
    }

    /// The UMAP-style view of a finished run (the app runs it in the background after the PCA view
    /// is shown); `on_layout` receives the layout as it improves. Stores nothing: see
    /// [`Self::store_umap`].
    pub fn umap_view(
        &self,
        run: &ClusterRun,
        config: &Config,
        progress: &Progress,
        on_layout: Option<LayoutCallback<'_>>,
    ) -> Result<Vec<(usize, f64, f64)>> {
        compute_umap(
            &run.matrix,
            &run.map_groups(),
            config,
            &progress.for_stage(Stage::Embed),
            on_layout,
        )
    }

    /// Keep a UMAP-style view in `run` and in the stored results.
    pub fn store_umap(
        &self,
        config: &Config,
        run: &mut ClusterRun,
        umap: Vec<(usize, f64, f64)>,
    ) -> Result<()> {
        run.set_umap(umap, config);
        results::store_map(&self.store, &run.customer_ids, &run.umap, &run.outcome, config)?;
        self.write_metadata(&mut run.outcome)
    }

    /// The clustering matrix `config` gives, built in memory from the features (nothing is
    /// stored), and phase 1's sorted k-distance curve on it: the app shows the curve and
    /// previews eps before the first segmentation. Needs the features.
    pub fn eps_curve(
        &self,
        config: &Config,
        progress: &Progress,
    ) -> Result<(ndarray::Array2<f64>, Vec<f64>)> {
        let raw = gold::read_raw_features(&self.store, config.data.include_order_value)?;
        progress.check_cancel()?;
        let gold = gold::build_gold(&raw, &config.gold, config.quality.min_feature_completeness)
            .map_err(|e| {
                crate::pipeline::PipelineError::Data(format!(
                    "cannot build the clustering matrix: {e}"
                ))
            })?;
        progress.check_cancel()?;
        let curve =
            crate::pipeline::cluster::hybrid::phase1_k_distances(gold.matrix.view(), config);
        Ok((gold.matrix, curve))
    }

    /// The gold matrix (customers x scaled features); `None` before it is built. The app
    /// previews DBSCAN settings on it.
    pub fn gold_matrix(&self) -> Result<Option<ndarray::Array2<f64>>> {
        if self.completed_stage()? < Some(Stage::Gold) {
            return Ok(None);
        }
        Ok(Some(gold::read_gold(&self.store)?.2))
    }

    /// Write the Excel report, customers named as `sharing` says; returns the path written.
    pub fn write_report(
        &self,
        path: &Path,
        progress: &Progress,
        sharing: &Sharing,
    ) -> Result<std::path::PathBuf> {
        let progress = progress.for_stage(Stage::Report);
        progress.update(0.0, "Reading results");
        let mut data = report::from_store::report_data(&self.store)?;
        report::pseudonyms::pseudonymize(&mut data, sharing)?;
        let outcome =
            report::write_report(&data, path, &progress.sub(0.1, 1.0)).map_err(|e| match e {
                report::ReportError::Cancelled => PipelineError::Cancelled,
                other => PipelineError::Write {
                    path: path.display().to_string(),
                    reason: other.to_string(),
                },
            })?;
        Ok(outcome.path)
    }

    /// The data behind the report (the app shows parts of it on the Report page). Its
    /// parameters are those the analysis was run with, as recorded with its stages.
    pub fn report_data(&self) -> Result<report::ReportData> {
        report::from_store::report_data(&self.store)
    }

    /// Export `clustering_results` joined with the key features to a CSV, customers named as
    /// `sharing` says (a scored analysis: `scored_results`); returns the lookup CSV's path if one
    /// was written.
    pub fn export_results_csv(
        &self,
        out: &Path,
        sharing: &Sharing,
    ) -> Result<Option<std::path::PathBuf>> {
        let scored_only = !self.store.table_exists(results::RESULTS)?
            && self.store.table_exists(crate::pipeline::scoring::SCORED)?;
        if scored_only {
            if sharing.pseudonyms.is_some() {
                return Err(PipelineError::Data(
                    "pseudonyms are not available yet for the export of a scored analysis: \
                     export without them, or export the scored period's own segmentation"
                        .into(),
                ));
            }
            crate::pipeline::scoring::stage::export_scores_csv(&self.store, out, true)?;
            return Ok(None);
        }
        results::export_results_csv(&self.store, out, sharing)
    }

    /// The stored gold summary, if the matrix was built.
    pub fn gold_summary(&self) -> Result<Option<GoldSummary>> {
        gold::stored_summary(&self.store)
    }

    /// The stored clustering outcome, if clustering ran.
    pub fn cluster_outcome(&self) -> Result<Option<ClusterOutcome>> {
        results::stored_outcome(&self.store)
    }

    /// The stored ingest summary, if a CSV was loaded.
    pub fn ingest_summary(&self) -> Result<Option<IngestSummary>> {
        Ok(ingest::stored_ingest(&self.store)?.map(|(s, _)| s))
    }

    /// The stored quality report of the last validation, if any.
    pub fn quality_report(&self) -> Result<Option<QualityReport>> {
        validate::stored_report(&self.store)
    }

    /// The stored feature summary, if the features stage has run.
    pub fn feature_summary(&self) -> Result<Option<FeatureSummary>> {
        features::stored_summary(&self.store)
    }

    /// The silver layer as columns (every customer).
    pub fn feature_table(&self) -> Result<FeatureTable> {
        features::feature_table(&self.store)
    }

    /// Export the silver layer to Parquet or CSV, customers named as `sharing` says; returns
    /// the lookup CSV's path if one was written.
    pub fn export_silver(
        &self,
        out: &Path,
        sharing: &Sharing,
    ) -> Result<Option<std::path::PathBuf>> {
        features::export_silver(&self.store, out, sharing)
    }
}
