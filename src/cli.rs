//! The command line: `returnscope` (no arguments) opens the desktop app; `run`, `validate`,
//! `score`, `compare`, `sample`, `export`, `delete`, `config` and `spark-job` run headless for
//! scripts and scheduled jobs (`score` and `compare` live in [`over_time`]).
//!
//! Exit codes: 0 success; 1 error; 2 the data cannot be segmented (a blocking check failed).

use crate::pipeline::config::Config;
use crate::pipeline::memory::{ResidentSampler, format_bytes};
use crate::pipeline::progress::{CancelToken, Progress, ProgressUpdate, Stage};
use crate::pipeline::pseudonym::PseudonymKey;
use crate::pipeline::run::{RunOptions, RunSummary, run_pipeline, run_silver};
use crate::pipeline::share::Sharing;
use crate::pipeline::{
    Analysis, PipelineError, analysis_files, private_files, sample, silver_import, spark, store,
};
use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;

mod over_time;

#[derive(Parser, Debug)]
#[command(
    name = "returnscope",
    version,
    about = "Segments customers by how they return what they buy."
)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// A CSV to open in the desktop app (as when double-clicked with "Open with ReturnScope").
    pub file: Option<PathBuf>,
    /// With an analysis as FILE: open it and show what changed since this earlier analysis.
    #[arg(long, requires = "file")]
    pub compare_with: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the pipeline headless on a CSV of order lines (or, with --silver, on a features table).
    Run {
        #[arg(required_unless_present = "silver")]
        input: Option<PathBuf>,
        /// Start from a features (silver) table instead of order lines: a Parquet file, or the
        /// folder the Spark job wrote (see `spark-job`). Runs gold, clustering and the report.
        #[arg(long, conflicts_with = "input", value_name = "PATH")]
        silver: Option<PathBuf>,
        /// The analysis file (DuckDB).
        #[arg(long, default_value = "customer_clustering.duckdb")]
        db: PathBuf,
        /// Write the Excel report here.
        #[arg(long)]
        report: Option<PathBuf>,
        /// Configuration file (TOML); see `returnscope config`.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Reference timestamp (default: the latest order date).
        #[arg(long)]
        as_of: Option<String>,
        /// Stop after this stage.
        #[arg(long, value_enum, default_value_t = UntilStage::Report)]
        until: UntilStage,
        /// One JSON object on stdout instead of the human summary.
        #[arg(long)]
        json: bool,
        /// Go on even when a blocking data check failed.
        #[arg(long)]
        force: bool,
        /// Keep the stages already complete in the analysis file for the same input and
        /// configuration, and run from the first one that is not.
        #[arg(long)]
        resume: bool,
        #[command(flatten)]
        pseudonyms: PseudonymArgs,
    },
    /// Load and validate a CSV: the quality report only. Exit 2 when the data cannot be segmented.
    Validate {
        input: PathBuf,
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Write a realistic sample extract with planted customer archetypes (and its truth file).
    Sample {
        #[arg(long)]
        customers: usize,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        #[arg(long)]
        out: PathBuf,
        /// No dirty rows (only planted archetypes).
        #[arg(long)]
        clean: bool,
        /// Also write a second period of the same customers here: everyone behaves as before
        /// except the planted movers.
        #[arg(long)]
        second_period: Option<PathBuf>,
        /// Share of the Loyal Customers who become High Returners in the second period.
        #[arg(long, default_value_t = 0.1, requires = "second_period")]
        movers: f64,
    },
    /// Place a new extract's customers with a saved model (no re-clustering).
    Score {
        input: PathBuf,
        /// A segmented analysis (.duckdb) or a model exported with `export model` (.json).
        #[arg(long)]
        model: PathBuf,
        /// The new extract's analysis file (default: <csv name>.duckdb here).
        #[arg(long)]
        db: Option<PathBuf>,
        /// Also write the scores to this CSV.
        #[arg(long)]
        out: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// What changed between two periods: migration matrix, sizes, feature drift, movers.
    Compare {
        /// The earlier analysis (its model places NEW's customers).
        old: PathBuf,
        /// The later analysis (scored with OLD's model when it is not already).
        new: PathBuf,
        /// One row per customer in both periods (CSV).
        #[arg(long)]
        out: Option<PathBuf>,
        /// A workbook with the Changes sheet (.xlsx).
        #[arg(long)]
        report: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Export a layer for analysts.
    Export {
        #[arg(value_enum)]
        layer: ExportLayer,
        #[arg(long, default_value = "customer_clustering.duckdb")]
        db: PathBuf,
        /// Output file: .parquet or .csv.
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        pseudonyms: PseudonymArgs,
    },
    /// Delete an analysis: the analysis file, its .wal, spill folder, metadata and the logs that
    /// belong to it (and nothing else), after a confirmation.
    Delete {
        #[arg(long)]
        db: PathBuf,
        /// Do not ask for confirmation (scripts).
        #[arg(long)]
        yes: bool,
    },
    /// Print the default configuration (every key, as TOML).
    Config,
    /// Write the cleaning and features as a Spark job (PySpark driver + Spark SQL) into a folder.
    SparkJob {
        #[arg(long)]
        out: PathBuf,
    },
}

/// Customer e-mails in what is written for sharing (the report, exports).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct PseudonymArgs {
    /// Replace customer e-mails with pseudonyms (C-...): the same customer gets the same
    /// pseudonym in every analysis; the key is in the app's data folder.
    #[arg(long)]
    pub pseudonymize: bool,
    /// Also write a private CSV mapping each pseudonym back to its customer here.
    #[arg(long, value_name = "FILE", requires = "pseudonymize")]
    pub pseudonym_lookup: Option<PathBuf>,
}

impl PseudonymArgs {
    /// How outputs name customers; with pseudonyms, the key from the app's data folder (created
    /// on first use).
    fn sharing(&self) -> anyhow::Result<Sharing> {
        if !self.pseudonymize {
            return Ok(Sharing::as_loaded());
        }
        let key = PseudonymKey::load_or_create(&data_dir()?)?;
        Ok(Sharing::pseudonymized(key, self.pseudonym_lookup.clone()))
    }
}

/// The app's data folder (the pseudonym key, the app's analyses and logs).
fn data_dir() -> anyhow::Result<PathBuf> {
    crate::app::backend::default_data_dir()
        .context("cannot determine ReturnScope's data folder (is HOME set?)")
}

/// Stages `--until` accepts.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum UntilStage {
    Ingest,
    Validate,
    Features,
    Gold,
    Cluster,
    Report,
}

impl From<UntilStage> for Stage {
    fn from(u: UntilStage) -> Stage {
        match u {
            UntilStage::Ingest => Stage::Ingest,
            UntilStage::Validate => Stage::Validate,
            UntilStage::Features => Stage::Features,
            UntilStage::Gold => Stage::Gold,
            UntilStage::Cluster => Stage::Cluster,
            UntilStage::Report => Stage::Report,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ExportLayer {
    /// silver_customer_features (.parquet or .csv).
    Silver,
    /// clustering_results with the key features (.csv).
    Results,
    /// The segmentation model as versioned JSON (.json).
    Model,
}

/// Parse the command line and dispatch; prints errors in plain language.
pub fn main() -> ExitCode {
    // Everything this process creates, DuckDB's files included, is readable by its owner only.
    private_files::restrict_process_umask();
    let cli = Cli::parse();
    match dispatch(cli) {
        Ok(code) => code,
        Err(e) if was_interrupted(&e) => {
            eprintln!("Stopped by Ctrl-C: nothing of this step was kept.");
            ExitCode::from(EXIT_INTERRUPTED)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// Whether a command failed because Ctrl-C cancelled it (score, compare, exports: `run` says
/// more itself).
fn was_interrupted(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        matches!(cause.downcast_ref::<PipelineError>(), Some(PipelineError::Cancelled))
            || cause.is::<crate::pipeline::progress::Cancelled>()
    })
}

fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        None => {
            crate::app::run_app(cli.file, cli.compare_with)?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Run {
            input,
            silver,
            db,
            report,
            config,
            as_of,
            until,
            json,
            force,
            resume,
            pseudonyms,
        }) => {
            let config = load_config(config.as_deref(), as_of)?;
            let sharing = pseudonyms.sharing()?;
            // Check a features table before anything (the log folder included) is written.
            let source = silver.as_deref().map(silver_import::inspect).transpose()?;
            init_logging_beside(&db);
            let report =
                report.or_else(|| (until == UntilStage::Report).then(|| default_report_path(&db)));
            let input = input.or(silver).unwrap_or_default();
            let opts = RunOptions {
                input,
                db,
                report,
                until: until.into(),
                ignore_blocking: force,
                resume,
                sharing,
            };
            let progress = cli_progress(cancel_on_ctrl_c());
            let outcome = match &source {
                Some(source) => run_silver(&opts, source, &config, &progress),
                None => run_pipeline(&opts, &config, &progress),
            };
            match outcome {
                Ok(summary) => {
                    print_summary(&summary, json)?;
                    Ok(exit_for(&summary))
                }
                Err(e) => Ok(report_stopped_run(&opts, &config, &e)),
            }
        }
        Some(Command::Validate { input, config, json }) => {
            let config = load_config(config.as_deref(), None)?;
            validate_only(&input, &config, json)
        }
        Some(Command::Sample {
            customers,
            seed,
            out,
            clean,
            second_period: Some(second),
            movers,
        }) => over_time::sample_two_periods(customers, seed, clean, &out, &second, movers),
        Some(Command::Score { input, model, db, out, json }) => {
            over_time::score(&input, &model, db, out, json)
        }
        Some(Command::Compare { old, new, out, report, json }) => {
            over_time::compare(&old, &new, out, report, json)
        }
        Some(Command::Sample { customers, seed, out, clean, second_period: None, .. }) => {
            let opts = sample::SampleOptions { customers, seed, clean };
            let s = sample::write_sample(&out, &opts)
                .with_context(|| format!("writing {}", out.display()))?;
            println!(
                "wrote {} rows for {} customers to {} (truth: {})",
                s.rows_written,
                s.customers,
                out.display(),
                s.truth_path.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Export { layer, db, out, pseudonyms }) => {
            anyhow::ensure!(
                db.is_file(),
                "there is no analysis file {}: run `returnscope run` first, or name it with --db",
                db.display()
            );
            let sharing = pseudonyms.sharing()?;
            let analysis = Analysis::open(&db, &Config::default())?;
            let lookup = match layer {
                ExportLayer::Silver => analysis.export_silver(&out, &sharing)?,
                ExportLayer::Results => analysis.export_results_csv(&out, &sharing)?,
                ExportLayer::Model => {
                    over_time::export_model(&db, &out)?;
                    None
                }
            };
            println!("wrote {}", out.display());
            if let Some(lookup) = lookup {
                println!("wrote the pseudonym lookup {} (keep it private)", lookup.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Delete { db, yes }) => delete(&db, yes),
        Some(Command::Config) => {
            print!("{}", Config::default().to_toml_string());
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::SparkJob { out }) => {
            let files = spark::write_job(&out)?;
            println!("wrote the Spark job ({} files) to {}", files.len(), out.display());
            println!(
                "run it:  spark-submit {} --input <table, CSV or Parquet> --output <folder>",
                out.join(spark::DRIVER).display()
            );
            println!("then:    returnscope run --silver <folder>");
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `returnscope delete`: list what goes, ask (unless `yes`), delete.
fn delete(db: &Path, yes: bool) -> anyhow::Result<ExitCode> {
    let log_dirs: Vec<PathBuf> =
        data_dir().ok().map(|d| crate::app::backend::log_dir(&d)).into_iter().collect();
    let files = analysis_files::files_of(db, &log_dirs)?;
    println!("Deleting the analysis {} removes:", db.display());
    for file in &files {
        println!("  {}", file.display());
    }
    if !yes && !confirmed()? {
        println!("Nothing was deleted.");
        return Ok(ExitCode::SUCCESS);
    }
    let deleted = analysis_files::delete_analysis(db, &log_dirs)?;
    println!("Deleted {} files and folders.", deleted.removed.len());
    Ok(ExitCode::SUCCESS)
}

/// Ask on the terminal; without one, `--yes` is required.
fn confirmed() -> anyhow::Result<bool> {
    use std::io::{BufRead, IsTerminal, Write};
    anyhow::ensure!(
        std::io::stdin().is_terminal(),
        "no terminal to confirm on: add --yes to delete without asking"
    );
    print!("Delete them? This cannot be undone. [y/N] ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "Yes"))
}

fn load_config(path: Option<&Path>, as_of: Option<String>) -> anyhow::Result<Config> {
    let mut config = match path {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    if as_of.is_some() {
        config.data.as_of = as_of;
        config.validate()?;
    }
    Ok(config)
}

/// `clustering_results.xlsx` beside the analysis file.
fn default_report_path(db: &Path) -> PathBuf {
    db.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .join("clustering_results.xlsx")
}

fn init_logging_beside(db: &Path) {
    if let Some(path) = crate::logging::init(&analysis_files::log_dir_beside(db)) {
        tracing::info!("log file {}", path.display());
    }
}

/// Ctrl-C cancels the running stage: its statement is interrupted and its transaction rolled
/// back, so the analysis keeps the stages completed before it. A second Ctrl-C stops at once.
fn cancel_on_ctrl_c() -> CancelToken {
    let token = CancelToken::new();
    let handler_token = token.clone();
    let installed = ctrlc::set_handler(move || {
        if handler_token.is_cancelled() {
            eprintln!("\nStopped at once.");
            std::process::exit(EXIT_INTERRUPTED.into());
        }
        eprintln!("\nStopping: rolling back the running stage (Ctrl-C again to stop at once)...");
        handler_token.cancel();
    });
    if let Err(e) = installed {
        tracing::warn!("Ctrl-C will stop the process without rolling back: {e}");
    }
    token
}

/// Exit code after Ctrl-C (128 + SIGINT, as shells report it).
const EXIT_INTERRUPTED: u8 = 130;

/// A run stopped by an error or Ctrl-C: say why, which stages the analysis file keeps, and how
/// to go on from there.
fn report_stopped_run(opts: &RunOptions, config: &Config, error: &PipelineError) -> ExitCode {
    let interrupted = matches!(error, PipelineError::Cancelled);
    if interrupted {
        eprintln!("Stopped by Ctrl-C: the running stage was rolled back.");
    } else {
        eprintln!("error: {error}");
    }
    let state = Analysis::open(&opts.db, config).and_then(|a| a.state());
    match state {
        Ok(state) => {
            eprintln!("Complete in {}: {}.", opts.db.display(), state.complete_list());
            if !state.complete.is_empty() {
                eprintln!(
                    "Run the same command with --resume to keep them and go on from the next stage."
                );
            }
        }
        Err(e) => tracing::warn!("cannot read the analysis state after the failure: {e}"),
    }
    ExitCode::from(if interrupted { EXIT_INTERRUPTED } else { 1 })
}

/// Progress bars on stderr, one per stage (hidden when stderr is not a terminal).
fn cli_progress(cancel: CancelToken) -> Progress {
    let current: Mutex<Option<(Stage, ProgressBar)>> = Mutex::new(None);
    let memory = ResidentSampler::default();
    let style = ProgressStyle::with_template("{prefix:>28} [{bar:30}] {percent:>3}% {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    Progress::new(
        move |u: ProgressUpdate| {
            let Ok(mut guard) = current.lock() else { return };
            if guard.as_ref().is_none_or(|(s, _)| *s != u.stage) {
                if let Some((_, old)) = guard.take() {
                    old.finish();
                }
                let bar =
                    ProgressBar::new(1000).with_style(style.clone()).with_prefix(u.stage.label());
                *guard = Some((u.stage, bar));
            }
            if let Some((_, bar)) = guard.as_ref() {
                bar.set_position((u.fraction * 1000.0) as u64);
                match memory.sample() {
                    Some(bytes) => {
                        bar.set_message(format!("{} ({})", u.message, format_bytes(bytes)))
                    }
                    None => bar.set_message(u.message),
                }
            }
        },
        cancel,
    )
}

fn exit_for(summary: &RunSummary) -> ExitCode {
    if summary.blocking.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(2) }
}

fn print_summary(summary: &RunSummary, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(summary)?);
        return Ok(());
    }
    println!("Input:      {}", summary.input);
    println!("Analysis:   {}", summary.db);
    println!(
        "Rows:       {} loaded, {} malformed, {} clean lines",
        summary.rows_loaded, summary.malformed_rows, summary.clean_lines
    );
    println!(
        "Customers:  {} ({} eligible for segmentation)",
        summary.customers, summary.eligible_customers
    );
    if let Some(as_of) = &summary.as_of {
        println!("As of:      {as_of}");
    }
    let nonzero: Vec<String> =
        summary.quality.iter().filter(|(_, v)| **v > 0).map(|(k, v)| format!("{k}={v}")).collect();
    if !nonzero.is_empty() {
        println!("Quality:    {}", nonzero.join(", "));
    }
    for w in &summary.warnings {
        println!("Warning:    {w}");
    }
    for b in &summary.blocking {
        println!("BLOCKING:   {b}");
    }
    if let Some(c) = &summary.cluster {
        println!(
            "Segments:   K = {} ({}); silhouette {}; outliers {:.1}% (eps {:.3})",
            c["k"],
            c["k_reason"].as_str().unwrap_or(""),
            c["silhouette"].as_f64().map_or("n/a".to_string(), |v| format!("{v:.3}")),
            c["noise_ratio"].as_f64().unwrap_or(0.0) * 100.0,
            c["eps"].as_f64().unwrap_or(0.0)
        );
        for seg in c["segments"].as_array().into_iter().flatten() {
            print_segment(seg);
        }
        if let Some(model) = c.get("model") {
            println!(
                "Model:      {}: the assignment rule places {:.2}% of these customers as the \
                 clustering did ({} of {} checked)",
                model["model_id"].as_str().unwrap_or(""),
                model["agreement"].as_f64().unwrap_or(0.0) * 100.0,
                model["agreeing"],
                model["customers"]
            );
        }
        for w in c["warnings"].as_array().into_iter().flatten() {
            println!("Warning:    {}", w.as_str().unwrap_or(""));
        }
    }
    if let Some(path) = &summary.report_path {
        println!("Report:     {path}");
    }
    if !summary.stages_kept.is_empty() {
        let kept: Vec<&str> = summary.stages_kept.iter().map(|s| s.key()).collect();
        println!("Kept:       {} (complete for the same input and configuration)", kept.join(", "));
    }
    let timings: Vec<String> =
        summary.timings.iter().map(|(s, t)| format!("{s} {t:.2}s")).collect();
    println!("Timings:    {}", timings.join(", "));
    let memory: Vec<String> = summary
        .memory
        .iter()
        .map(|m| format!("{} {}", m.stage, format_bytes(m.peak_bytes)))
        .collect();
    if !memory.is_empty() {
        println!(
            "Memory:     {} (budget {})",
            memory.join(", "),
            format_bytes(summary.memory_budget_bytes)
        );
    }
    Ok(())
}

fn validate_only(input: &Path, config: &Config, json: bool) -> anyhow::Result<ExitCode> {
    let scratch =
        std::env::temp_dir().join(format!("returnscope-validate-{}.duckdb", std::process::id()));
    let opts = RunOptions {
        input: input.to_path_buf(),
        db: scratch.clone(),
        report: None,
        until: Stage::Validate,
        ignore_blocking: false,
        resume: false,
        sharing: Sharing::as_loaded(),
    };
    let result = run_pipeline(&opts, config, &cli_progress(cancel_on_ctrl_c()));
    for file in [scratch.clone(), store::wal_path(&scratch)] {
        let _ = std::fs::remove_file(file);
    }
    let _ = std::fs::remove_dir_all(store::spill_dir(&scratch));
    if let Err(PipelineError::Cancelled) = result {
        eprintln!("Stopped by Ctrl-C.");
        return Ok(ExitCode::from(EXIT_INTERRUPTED));
    }
    let mut summary = result?;
    summary.db = String::new();
    print_summary(&summary, json)?;
    Ok(exit_for(&summary))
}

/// One segment of the run summary: name, size, its shares of customers, orders and returned
/// units, why it carries the name; for the outliers, their kinds.
fn print_segment(seg: &serde_json::Value) {
    let pct = |key: &str| seg[key].as_f64().unwrap_or(0.0) * 100.0;
    println!(
        "            {:>4} {:<40} {:>8} customers ({:.1}%), {:.1}% of orders, {:.1}% of returned units",
        seg["segment"].as_u64().map_or("-".to_string(), |s| s.to_string()),
        seg["archetype"].as_str().unwrap_or(""),
        seg["size"],
        pct("share"),
        pct("order_share"),
        pct("returned_units_share")
    );
    println!("                 {}", seg["description"].as_str().unwrap_or(""));
    for g in seg["outlier_groups"].as_array().into_iter().flatten() {
        println!(
            "                   {:<22} {:>6} customers, {:.1}% of returned units: {}",
            g["kind"].as_str().unwrap_or(""),
            g["customers"],
            g["returned_units_share"].as_f64().unwrap_or(0.0) * 100.0,
            g["action"].as_str().unwrap_or("")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cancelled_command_is_told_apart_from_a_failed_one() {
        let cancelled = anyhow::Error::new(PipelineError::Cancelled).context("scoring q2.csv");
        assert!(was_interrupted(&cancelled));
        let cancelled_step = anyhow::Error::new(crate::pipeline::progress::Cancelled);
        assert!(was_interrupted(&cancelled_step));
        let failed = anyhow::Error::new(PipelineError::Data("no customers".into()));
        assert!(!was_interrupted(&failed));
    }
}
