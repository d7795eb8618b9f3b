//! The over-time commands: `returnscope score` (a new extract placed with a saved model),
//! `returnscope compare` (two periods), and `export model`.

use super::{cancel_on_ctrl_c, cli_progress, init_logging_beside};
use crate::pipeline::compare::{self, Comparison, output};
use crate::pipeline::config::Config;
use crate::pipeline::progress::{Progress, Stage};
use crate::pipeline::run::{RunOptions, run_pipeline};
use crate::pipeline::scoring::{self, ScoreSummary, SegmentationModel};
use crate::pipeline::store::Store;
use crate::pipeline::{Analysis, ingest};
use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Where `score` keeps the new extract's analysis by default: `<csv stem>.duckdb` here.
fn default_scored_db(input: &Path) -> PathBuf {
    let stem = input.file_stem().map_or_else(|| "scored".into(), |s| s.to_string_lossy());
    PathBuf::from(format!("{stem}.duckdb"))
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Order-value coordinates need the GROSS column: say so before anything is written.
fn check_extract_provides(input: &Path, model: &SegmentationModel) -> anyhow::Result<()> {
    let order_value = crate::pipeline::features::ORDER_VALUE_FEATURES;
    let needs: Vec<&str> =
        model.used_features().into_iter().filter(|f| order_value.contains(f)).collect();
    if needs.is_empty() {
        return Ok(());
    }
    let preview = ingest::preview_csv(input, 0)?;
    if !preview.columns.iter().any(|c| c.trim().eq_ignore_ascii_case("GROSS")) {
        return Err(crate::pipeline::PipelineError::ModelFeaturesUnavailable {
            features: needs.join(", "),
            hint: "The model was learned with order values (data.include_order_value): the new \
                   extract needs the GROSS column."
                .into(),
        }
        .into());
    }
    Ok(())
}

/// `returnscope score NEW.csv --model A.duckdb|model.json [--db] [--out] [--json]`.
pub fn score(
    input: &Path,
    model_path: &Path,
    db: Option<PathBuf>,
    out: Option<PathBuf>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let model = scoring::load_model(model_path, &Config::default())?;
    let db = db.unwrap_or_else(|| default_scored_db(input));
    if same_file(&db, model_path) {
        bail!(
            "--db names the model's own analysis: give the new extract its own analysis file \
             (for example --db new.duckdb)"
        );
    }
    if !input.exists() {
        bail!("cannot read {}: no such file", input.display());
    }
    check_extract_provides(input, &model)?;
    let config = model.config_for_new_extract();
    init_logging_beside(&db);
    let progress = cli_progress(cancel_on_ctrl_c());
    let run = run_pipeline(&RunOptions::features_for_scoring(input, &db), &config, &progress)?;
    let analysis = Analysis::open(&db, &config)?;
    if let Some(blocking) = blocking_for_scoring(&analysis)? {
        println!("BLOCKING:   {blocking}");
        return Ok(ExitCode::from(2));
    }
    let summary =
        scoring::score_store(analysis.store(), &model, &progress.for_stage(Stage::Score))?;
    if let Some(out) = &out {
        scoring::stage::export_scores_csv(analysis.store(), out, false)?;
    }
    if json {
        let value = serde_json::json!({
            "input": run.input, "db": db.display().to_string(), "as_of": run.as_of,
            "rows_loaded": run.rows_loaded, "scores": summary,
            "out": out.as_ref().map(|p| p.display().to_string()),
        });
        println!("{}", serde_json::to_string(&value)?);
    } else {
        print_score(&run.input, &db, run.as_of.as_deref(), &summary, out.as_deref());
    }
    Ok(ExitCode::SUCCESS)
}

/// A blocking check that stops scoring; too few customers does not (a small extract can be
/// scored: nothing is clustered).
fn blocking_for_scoring(analysis: &Analysis) -> anyhow::Result<Option<String>> {
    let Some(report) = analysis.quality_report()? else { return Ok(None) };
    Ok(report
        .blocking()
        .into_iter()
        .find(|c| c.name != "enough_customers")
        .map(|c| c.message.clone()))
}

fn print_score(input: &str, db: &Path, as_of: Option<&str>, s: &ScoreSummary, out: Option<&Path>) {
    println!("Input:      {input}");
    println!("Analysis:   {}", db.display());
    if let Some(as_of) = as_of {
        println!("As of:      {as_of}");
    }
    println!(
        "Model:      {} (learned from {}{})",
        s.model_id,
        s.model_input,
        s.model_as_of.as_deref().map_or(String::new(), |a| format!(", as of {a}"))
    );
    println!("Customers:  {} ({} placed, {} outliers)", s.customers, s.placed, s.outliers);
    for (reason, n) in &s.not_placed {
        println!("Not placed: {n} customers: {reason}");
    }
    if !s.nulls_filled.is_empty() {
        let filled: Vec<String> = s.nulls_filled.iter().map(|(f, n)| format!("{f}={n}")).collect();
        println!("Filled:     NULL values took the model's fill value: {}", filled.join(", "));
    }
    for (label, archetype, n) in &s.segments {
        println!("            {label:<12} {archetype:<40} {n:>8} customers");
    }
    if let Some(out) = out {
        println!("Scores:     {}", out.display());
    }
    println!("Timings:    score {:.2}s", s.seconds);
}

/// `returnscope export model --db A.duckdb --out model.json`.
pub fn export_model(db: &Path, out: &Path) -> anyhow::Result<()> {
    if !db.exists() {
        bail!("cannot read {}: no such file", db.display());
    }
    let store = Store::open(db, &Config::default().store)?;
    let model = scoring::require_model(&store)?;
    scoring::export_model(&model, out)?;
    Ok(())
}

/// `returnscope compare OLD.duckdb NEW.duckdb [--out] [--report] [--json]`.
pub fn compare(
    old: &Path,
    new: &Path,
    out: Option<PathBuf>,
    report: Option<PathBuf>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    for path in [old, new] {
        if !path.exists() {
            bail!("cannot read {}: no such file", path.display());
        }
    }
    let config = Config::default();
    let progress = cli_progress(cancel_on_ctrl_c()).for_stage(Stage::Compare);
    let old_store = Store::open(old, &config.store)?;
    let comparison = if same_file(old, new) {
        compare::compare(&old_store, &old_store, &progress)?
    } else {
        let new_store = Store::open(new, &config.store)?;
        compare::compare(&old_store, &new_store, &progress)?
    };
    if let Some(out) = &out {
        output::write_movers_csv(&comparison.movers, out)
            .with_context(|| format!("writing {}", out.display()))?;
    }
    if let Some(report) = &report {
        crate::pipeline::compare::workbook::write_changes_workbook(
            &comparison,
            report,
            &Progress::none(),
        )?;
    }
    if json {
        println!("{}", output::comparison_json(&comparison)?);
    } else {
        print_comparison(&comparison, out.as_deref(), report.as_deref());
    }
    Ok(ExitCode::SUCCESS)
}

fn print_comparison(c: &Comparison, out: Option<&Path>, report: Option<&Path>) {
    println!("OLD:        {} ({} customers)", c.old.analysis, c.old.customers);
    println!("NEW:        {} ({} customers)", c.new.analysis, c.new.customers);
    let how = match c.new_segments {
        compare::NewSegments::OwnClustering => "NEW is the clustering the model was learned from",
        compare::NewSegments::AlreadyScored => "NEW was already scored with it",
        compare::NewSegments::ScoredNow => "NEW was scored with it now",
    };
    println!("Model:      {} (OLD's; {how})", c.model_id);
    println!(
        "Customers:  {} in both, {} only in OLD, {} only in NEW; {} of those in both changed group",
        c.in_both, c.only_old, c.only_new, c.moved
    );
    println!("Migration (rows OLD, columns NEW, customers in both):");
    let width = c.categories.iter().map(|k| k.label.len()).max().unwrap_or(8).max(8);
    let header: Vec<String> =
        c.categories.iter().map(|k| format!("{:>w$}", k.label, w = width)).collect();
    println!("  {:<width$} {}", "", header.join(" "));
    for (k, row) in c.categories.iter().zip(&c.matrix) {
        let cells: Vec<String> = row.iter().map(|n| format!("{n:>width$}")).collect();
        println!("  {:<width$} {}", k.label, cells.join(" "));
    }
    println!("Sizes (all customers of each period):");
    for s in &c.sizes {
        println!("  {:<width$} {:<40} {:>8} -> {:>8}", s.label, s.archetype, s.old, s.new);
    }
    println!("Drift (PSI > 0.2 = major shift):");
    let mut drift: Vec<&compare::FeatureDrift> = c.drift.iter().collect();
    drift.sort_by(|a, b| b.psi.total_cmp(&a.psi));
    for d in drift {
        let flag = if d.psi > compare::drift::PSI_MAJOR { "  <-- major shift" } else { "" };
        println!("  {:<40} PSI {:>7.4}  KS {:>6.4}{flag}", d.feature, d.psi, d.ks);
    }
    if let Some(out) = out {
        println!("Movers:     {}", out.display());
    }
    if let Some(report) = report {
        println!("Report:     {}", report.display());
    }
    println!("Timings:    compare {:.2}s", c.seconds);
}

/// `returnscope sample --customers N --out first.csv --second-period second.csv --movers 0.1`.
pub fn sample_two_periods(
    customers: usize,
    seed: u64,
    clean: bool,
    out: &Path,
    second: &Path,
    movers: f64,
) -> anyhow::Result<ExitCode> {
    if !(0.0..=1.0).contains(&movers) {
        bail!("--movers is a share between 0 and 1 (for example 0.1), not {movers}");
    }
    let opts = crate::pipeline::sample::SampleOptions { customers, seed, clean };
    let s = crate::pipeline::sample::write_two_periods(out, second, &opts, movers)
        .with_context(|| format!("writing {} and {}", out.display(), second.display()))?;
    println!(
        "wrote {} rows for {} customers to {} (truth: {})",
        s.first.rows_written,
        s.first.customers,
        out.display(),
        s.first.truth_path.display()
    );
    println!(
        "wrote the second period, {} rows, to {}: {} {} became {} (list: {}; truth: {})",
        s.second_rows_written,
        second.display(),
        s.movers,
        crate::pipeline::sample::MOVERS_FROM,
        crate::pipeline::sample::MOVERS_TO,
        s.movers_path.display(),
        s.second_truth_path.display()
    );
    Ok(ExitCode::SUCCESS)
}
