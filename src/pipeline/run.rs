//! The headless pipeline run: stages in order up to a chosen one, with timings, as the CLI's
//! `returnscope run` uses it. The app calls the same [`Analysis`] methods one page at a time.

use crate::pipeline::analysis::Analysis;
use crate::pipeline::config::Config;
use crate::pipeline::error::Result;
use crate::pipeline::model::{ClusterOutcome, QualityReport};
use crate::pipeline::progress::{Progress, Stage};
use crate::pipeline::silver_import::SilverSource;
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
    pub stages_run: Vec<Stage>,
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

fn timed<T>(summary: &mut RunSummary, stage: Stage, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let started = Instant::now();
    let out = f()?;
    summary.timings.push((format!("{stage:?}").to_lowercase(), started.elapsed().as_secs_f64()));
    summary.stages_run.push(stage);
    Ok(out)
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
    let ingest =
        timed(&mut summary, Stage::Ingest, || analysis.ingest(&opts.input, config, progress))?;
    summary.rows_loaded = ingest.rows_loaded;
    summary.malformed_rows = ingest.malformed_rows;
    if opts.until == Stage::Ingest {
        return Ok(summary);
    }
    let quality = timed(&mut summary, Stage::Validate, || analysis.validate(config, progress))?;
    summary.record_quality(&quality);
    if opts.until == Stage::Validate || (!quality.can_segment() && !opts.ignore_blocking) {
        return Ok(summary);
    }
    timed(&mut summary, Stage::Features, || analysis.features(config, progress))?;
    run_after_features(&analysis, opts, config, progress, summary)
}

/// Run gold, clustering and the report on a features table made elsewhere (checked by
/// [`silver_import::inspect`]): `returnscope run --silver`. `opts.input` is the table's path.
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
    timed(&mut summary, Stage::Features, || analysis.import_silver(source, config, progress))?;
    if let Some(quality) = analysis.quality_report()? {
        summary.rows_loaded = quality.rows_loaded;
        summary.malformed_rows = source.run_info.as_ref().map_or(0, |i| i.malformed_rows);
        summary.record_quality(&quality);
        if !quality.can_segment() && !opts.ignore_blocking {
            return Ok(summary);
        }
    }
    run_after_features(&analysis, opts, config, progress, summary)
}

/// Gold, clustering and the report, up to `opts.until`.
fn run_after_features(
    analysis: &Analysis,
    opts: &RunOptions,
    config: &Config,
    progress: &Progress,
    mut summary: RunSummary,
) -> Result<RunSummary> {
    if opts.until == Stage::Features {
        return Ok(summary);
    }
    timed(&mut summary, Stage::Gold, || analysis.gold(config, progress))?;
    if opts.until == Stage::Gold {
        return Ok(summary);
    }
    let run = timed(&mut summary, Stage::Cluster, || analysis.cluster(config, progress, true))?;
    let mut cluster = cluster_json(&run.outcome);
    if let Some(info) = crate::pipeline::scoring::model::stored_model_info(analysis.store())? {
        cluster["model"] = serde_json::json!(info);
    }
    summary.cluster = Some(cluster);
    if opts.until == Stage::Cluster && opts.report.is_none() {
        return Ok(summary);
    }
    if let Some(path) = &opts.report {
        let written =
            timed(&mut summary, Stage::Report, || analysis.write_report(path, config, progress))?;
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
        })).collect::<Vec<_>>(),
        "trustworthiness_pca": o.trustworthiness_pca,
        "trustworthiness_umap": o.trustworthiness_umap,
        "metadata": o.metadata_path,
        "warnings": o.warnings,
    })
}
