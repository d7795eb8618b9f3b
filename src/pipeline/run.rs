//! The headless pipeline run: stages in order up to a chosen one, with timings, as the CLI's
//! `returnscope run` uses it. The app calls the same [`Analysis`] methods one page at a time.

use crate::pipeline::analysis::Analysis;
use crate::pipeline::config::Config;
use crate::pipeline::error::Result;
use crate::pipeline::memory::{MemoryBudget, StageMeter};
use crate::pipeline::model::{ClusterOutcome, QualityReport};
use crate::pipeline::progress::{Progress, Stage};
use crate::pipeline::share::Sharing;
use crate::pipeline::silver_import::SilverSource;
use crate::pipeline::state;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

/// What to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub input: PathBuf,
    pub db: PathBuf,
    pub report: Option<PathBuf>,
    pub until: Stage,
    /// Go on past blocking validation checks (the CLI stops with exit code 2 otherwise).
    pub ignore_blocking: bool,
    /// Keep the stages already complete in the analysis for the same input and configuration
    /// (from the first stage that is not, everything runs again).
    pub resume: bool,
    /// How the report names customers (e-mails, or pseudonyms).
    pub sharing: Sharing,
}

impl RunOptions {
    /// Load, validate and build the features of a new extract that a saved model will score:
    /// no report, past blocking checks (scoring reports them itself), nothing resumed.
    pub fn features_for_scoring(input: &std::path::Path, db: &std::path::Path) -> Self {
        RunOptions {
            input: input.to_path_buf(),
            db: db.to_path_buf(),
            report: None,
            until: Stage::Features,
            ignore_blocking: true,
            resume: false,
            sharing: Sharing::as_loaded(),
        }
    }
}

/// Everything a run did, for the human summary and `--json`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunSummary {
    pub input: String,
    pub db: String,
    pub rows_loaded: u64,
    pub malformed_rows: u64,
    pub clean_lines: u64,
    pub customers: u64,
    pub eligible_customers: u64,
    pub as_of: Option<String>,
    /// Every quality count by its FEATURES.md name.
    pub quality: BTreeMap<String, u64>,
    /// Blocking dataset checks (empty when the data can be segmented).
    pub blocking: Vec<String>,
    pub warnings: Vec<String>,
    /// Seconds per stage, in order.
    pub timings: Vec<(String, f64)>,
    /// Peak resident memory per stage run, in order.
    pub memory: Vec<StagePeak>,
    /// The analysis's memory budget (`store.memory_limit`, or half the RAM at most 8 GB).
    pub memory_budget_bytes: u64,
    pub stages_run: Vec<Stage>,
    /// Stages kept from an earlier run (`resume`): complete for the same input and configuration.
    pub stages_kept: Vec<Stage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report_path: Option<String>,
}

impl RunSummary {
    fn record_quality(&mut self, q: &QualityReport) {
        self.clean_lines = q.clean_lines;
        self.customers = q.customers;
        self.eligible_customers = q.eligible_customers;
        self.as_of = q.as_of.clone();
        self.quality = q.counts.iter().map(|c| (c.name.clone(), c.count)).collect();
        for check in &q.checks {
            match check.severity {
                crate::pipeline::model::Severity::Blocking => {
                    self.blocking.push(check.message.clone())
                }
                crate::pipeline::model::Severity::Warning => {
                    self.warnings.push(check.message.clone())
                }
                crate::pipeline::model::Severity::Ok => {}
            }
        }
    }
}

/// One stage's peak memory, as the summary (and `--json`) reports it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StagePeak {
    pub stage: String,
    pub peak_bytes: u64,
}

fn timed<T>(summary: &mut RunSummary, stage: Stage, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let started = Instant::now();
    let meter = StageMeter::start(stage);
    let out = f()?;
    let used = meter.finish();
    summary.timings.push((stage.key().to_string(), started.elapsed().as_secs_f64()));
    summary.memory.push(StagePeak { stage: stage.key().to_string(), peak_bytes: used.peak_bytes });
    let budget = MemoryBudget { bytes: summary.memory_budget_bytes, configured: false };
    if let Some(warning) = used.warning(&budget) {
        tracing::warn!("{warning}");
        summary.warnings.push(warning);
    }
    summary.stages_run.push(stage);
    Ok(out)
}

/// Which complete stages a resumed run keeps: each one in order while it is complete (readable)
/// for the same input and the same configuration keys; from the first that is not, every stage
/// runs again.
struct Resume {
    keeping: bool,
}

impl Resume {
    fn new(opts: &RunOptions, analysis: &Analysis) -> Result<Self> {
        if !opts.resume {
            return Ok(Self { keeping: false });
        }
        let stored = analysis.ingest_summary()?.map(|s| s.input_sha256).unwrap_or_default();
        let same_input = !stored.is_empty()
            && crate::pipeline::ingest::sha256_file(&opts.input).is_some_and(|h| h == stored);
        Ok(Self { keeping: same_input })
    }

    /// Keep `stage`? Once a stage is not kept, no later one is.
    fn keeps(&mut self, analysis: &Analysis, stage: Stage, config: &Config) -> Result<bool> {
        self.keeping = self.keeping
            && analysis.state()?.complete.contains(&stage)
            && (stage == Stage::Ingest
                || state::same_configuration(analysis.store(), stage, config)?);
        Ok(self.keeping)
    }
}

/// One stage of a run: how to run it, and how to read its stored result.
struct Step<R, S> {
    stage: Stage,
    run: R,
    stored: S,
}

impl<T, R, S> Step<R, S>
where
    R: FnOnce() -> Result<T>,
    S: FnOnce() -> Result<Option<T>>,
{
    /// Run the stage, or keep its stored result when resuming.
    fn run_or_keep(
        self,
        summary: &mut RunSummary,
        resume: &mut Resume,
        analysis: &Analysis,
        config: &Config,
    ) -> Result<T> {
        if resume.keeps(analysis, self.stage, config)?
            && let Some(kept) = (self.stored)()?
        {
            summary.stages_kept.push(self.stage);
            return Ok(kept);
        }
        resume.keeping = false;
        tracing::info!("stage {} started", self.stage.key());
        timed(summary, self.stage, self.run)
    }
}

/// Run the stages up to `opts.until`. A blocking validation check stops the run after
/// validation (the summary says why) unless `ignore_blocking`.
pub fn run_pipeline(opts: &RunOptions, config: &Config, progress: &Progress) -> Result<RunSummary> {
    let mut summary = RunSummary {
        input: opts.input.display().to_string(),
        db: opts.db.display().to_string(),
        ..Default::default()
    };
    let analysis = Analysis::open(&opts.db, config)?;
    summary.memory_budget_bytes = analysis.store().memory_budget().bytes;
    let mut resume = Resume::new(opts, &analysis)?;
    let a = &analysis;
    let ingest = Step {
        stage: Stage::Ingest,
        run: || a.ingest(&opts.input, config, progress),
        stored: || a.ingest_summary(),
    }
    .run_or_keep(&mut summary, &mut resume, a, config)?;
    summary.rows_loaded = ingest.rows_loaded;
    summary.malformed_rows = ingest.malformed_rows;
    if opts.until == Stage::Ingest {
        return Ok(summary);
    }
    let quality = Step {
        stage: Stage::Validate,
        run: || a.validate(config, progress),
        stored: || a.quality_report(),
    }
    .run_or_keep(&mut summary, &mut resume, a, config)?;
    summary.record_quality(&quality);
    if opts.until == Stage::Validate || (!quality.can_segment() && !opts.ignore_blocking) {
        return Ok(summary);
    }
    Step {
        stage: Stage::Features,
        run: || a.features(config, progress),
        stored: || a.feature_summary(),
    }
    .run_or_keep(&mut summary, &mut resume, a, config)?;
    run_after_features(a, opts, config, progress, summary, &mut resume)
}

/// Run gold, clustering and the report on a features table made elsewhere (checked by
/// [`silver_import::inspect`]): `returnscope run --silver`. `opts.input` is the table's path.
/// Nothing is resumed: the table is imported again.
pub fn run_silver(
    opts: &RunOptions,
    source: &SilverSource,
    config: &Config,
    progress: &Progress,
) -> Result<RunSummary> {
    if opts.until < Stage::Features {
        return Err(crate::pipeline::PipelineError::Data(format!(
            "--until {} stops before the features, where a features table starts; use --until features, gold, cluster or report",
            opts.until.key()
        )));
    }
    let mut summary = RunSummary {
        input: opts.input.display().to_string(),
        db: opts.db.display().to_string(),
        ..Default::default()
    };
    let analysis = Analysis::open(&opts.db, config)?;
    summary.memory_budget_bytes = analysis.store().memory_budget().bytes;
    timed(&mut summary, Stage::Features, || analysis.import_silver(source, config, progress))?;
    if let Some(quality) = analysis.quality_report()? {
        summary.rows_loaded = quality.rows_loaded;
        summary.malformed_rows = source.run_info.as_ref().map_or(0, |i| i.malformed_rows);
        summary.record_quality(&quality);
        if !quality.can_segment() && !opts.ignore_blocking {
            return Ok(summary);
        }
    }
    let mut resume = Resume { keeping: false };
    run_after_features(&analysis, opts, config, progress, summary, &mut resume)
}

/// Gold, clustering and the report, up to `opts.until`.
fn run_after_features(
    a: &Analysis,
    opts: &RunOptions,
    config: &Config,
    progress: &Progress,
    mut summary: RunSummary,
    resume: &mut Resume,
) -> Result<RunSummary> {
    if opts.until == Stage::Features {
        return Ok(summary);
    }
    Step { stage: Stage::Gold, run: || a.gold(config, progress), stored: || a.gold_summary() }
        .run_or_keep(&mut summary, resume, a, config)?;
    if opts.until == Stage::Gold {
        return Ok(summary);
    }
    let outcome = Step {
        stage: Stage::Cluster,
        run: || a.cluster(config, progress, true).map(|run| run.outcome),
        stored: || a.cluster_outcome(),
    }
    .run_or_keep(&mut summary, resume, a, config)?;
    let mut cluster = cluster_json(&outcome);
    if let Some(info) = crate::pipeline::scoring::model::stored_model_info(a.store())? {
        cluster["model"] = serde_json::json!(info);
    }
    summary.cluster = Some(cluster);
    if opts.until == Stage::Cluster && opts.report.is_none() {
        return Ok(summary);
    }
    if let Some(path) = &opts.report {
        let written =
            timed(&mut summary, Stage::Report, || a.write_report(path, progress, &opts.sharing))?;
        summary.report_path = Some(written.display().to_string());
    }
    Ok(summary)
}

/// The clustering part of `--json`: eps and how, K, the sweep, metrics, noise, segments.
fn cluster_json(o: &ClusterOutcome) -> serde_json::Value {
    serde_json::json!({
        "eps": o.eps,
        "eps_source": o.eps_source,
        "k": o.chosen_k,
        "k_reason": o.choice_reason,
        "k_sweep": o.sweep,
        "silhouette": o.silhouette,
        "calinski_harabasz": o.calinski_harabasz,
        "davies_bouldin": o.davies_bouldin,
        "noise_ratio": o.noise_ratio,
        "weak_structure": o.weak_structure,
        "segments": o.segments.iter().map(|s| serde_json::json!({
            "segment": s.segment, "archetype": s.archetype, "size": s.size, "share": s.share,
            "order_share": s.order_share, "returned_units_share": s.returned_units_share,
            "description": s.description, "action": s.action, "outlier_groups": s.outlier_groups,
        })).collect::<Vec<_>>(),
        "trustworthiness_pca": o.trustworthiness_pca,
        "trustworthiness_umap": o.trustworthiness_umap,
        "metadata": o.metadata_path,
        "warnings": o.warnings,
    })
}
