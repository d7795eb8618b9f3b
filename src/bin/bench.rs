//! Benchmarks: `cargo run --bin bench -- [--customers 20000,100000] [--million] [--until gold]
//! [--reuse] [--dir D] [--repeat N]`.
//!
//! For each size, on data from the built-in generator (about 40 order lines per customer), the
//! whole headless run as `returnscope run` does it (load, validate, features, gold, the
//! clustering with its phases, the 2-D views, the report), with per stage the wall time, the
//! CPU time and the stage's own peak resident memory; then, up to 100,000 customers, scoring a
//! second period with the saved model and comparing the two. Each size runs in a child process
//! of its own, so its peak memory is its own. A last table puts the sizes side by side. Speed
//! and memory targets live here, not in timed tests. Runs in the same (dev) profile as the app
//! and the tests, whose dependencies are optimised.

use anyhow::Context;
use clap::{ArgAction, Parser};
use returnscope::pipeline::memory::{StageMeter, process_cpu_seconds};
use returnscope::pipeline::progress::{Progress, Stage};
use returnscope::pipeline::sample::{SampleOptions, write_sample};
use returnscope::pipeline::share::Sharing;
use returnscope::pipeline::{Analysis, Config};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Marks the line of a child's stdout that carries its rows.
const ROWS_MARK: &str = "BENCH-ROWS ";
/// Sizes above this skip the over-time rows (a second 11 GB period at a million).
const OVER_TIME_MAX_CUSTOMERS: usize = 100_000;
const MILLION: usize = 1_000_000;
/// The stage name of the row that sums the run.
const END_TO_END: &str = "end to end";

#[derive(Parser)]
struct Args {
    /// Sizes to run, in customers (about 40 order lines each), comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = [20_000, 100_000])]
    customers: Vec<usize>,
    /// Also run 1,000,000 customers (41M lines: an 11 GB CSV and about as much again for the
    /// analysis file; about 10 minutes once the CSV exists).
    #[arg(long)]
    million: bool,
    /// Working folder (default: `returnscope-bench` in the temp folder); one sub-folder per size.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Stop after this stage: load, validate, features, gold, cluster or all.
    #[arg(long, default_value = "all")]
    until: String,
    /// The analysis's memory budget (e.g. 4GB); empty = the default (half the RAM, at most 8 GB).
    #[arg(long, default_value = "")]
    memory_limit: String,
    /// Reuse `bench.csv` in a size's folder if it exists (skips generating the sample).
    #[arg(long)]
    reuse: bool,
    /// Also time scoring a second period with the saved model and comparing the two periods
    /// (sizes up to 100,000).
    #[arg(long, default_value_t = true, action = ArgAction::Set)]
    over_time: bool,
    /// Run each size this many times and show the run whose end to end is the median (every
    /// run's end to end is listed): on a shared machine one run can be a few percent off.
    #[arg(long, default_value_t = 1)]
    repeat: usize,
    /// Internal: run this one size in this process and print its rows.
    #[arg(long, hide = true)]
    one: Option<usize>,
}

/// One measured row.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Row {
    stage: String,
    seconds: f64,
    /// NaN (null in JSON) for phases, whose CPU and memory are their stage's.
    #[serde(deserialize_with = "nan_for_null")]
    cpu_seconds: f64,
    #[serde(deserialize_with = "nan_for_null")]
    peak_mib: f64,
    note: String,
    /// Part of the end-to-end run (`returnscope run`); phases and extras are not.
    in_run: bool,
}

fn nan_for_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(<Option<f64> as serde::Deserialize>::deserialize(d)?.unwrap_or(f64::NAN))
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

#[derive(Default)]
struct Table(Vec<Row>);

impl Table {
    /// Time `f` as a stage of the run (`in_run`) or an extra, with its own peak memory.
    fn time<T>(
        &mut self,
        name: &str,
        in_run: bool,
        f: impl FnOnce() -> anyhow::Result<T>,
        note: impl Fn(&T, f64) -> String,
    ) -> anyhow::Result<T> {
        let (start, cpu, meter) =
            (Instant::now(), process_cpu_seconds(), StageMeter::start(Stage::Ingest));
        let out = f()?;
        let seconds = start.elapsed().as_secs_f64();
        let peak_mib = mib(meter.finish().peak_bytes);
        let row = Row {
            stage: name.to_string(),
            seconds,
            cpu_seconds: process_cpu_seconds() - cpu,
            peak_mib,
            note: note(&out, seconds),
            in_run,
        };
        eprintln!("{name}: {seconds:.2} s, CPU {:.1} s, peak {peak_mib:.0} MiB", row.cpu_seconds);
        self.0.push(row);
        Ok(out)
    }

    /// A phase inside the row just timed (its seconds from the stage's own timings).
    fn phase(&mut self, name: &str, seconds: f64) {
        let row = Row {
            stage: format!("  {name}"),
            seconds,
            cpu_seconds: f64::NAN,
            peak_mib: f64::NAN,
            note: String::new(),
            in_run: false,
        };
        self.0.push(row);
    }

    /// The end-to-end row: the run's stages summed, the highest stage peak.
    fn end_to_end(&self) -> Row {
        let run: Vec<&Row> = self.0.iter().filter(|r| r.in_run).collect();
        Row {
            stage: END_TO_END.into(),
            seconds: run.iter().map(|r| r.seconds).sum(),
            cpu_seconds: run.iter().map(|r| r.cpu_seconds).sum(),
            peak_mib: run.iter().map(|r| r.peak_mib).fold(0.0, f64::max),
            note: run.iter().map(|r| r.stage.as_str()).collect::<Vec<_>>().join(" + "),
            in_run: false,
        }
    }
}

fn cell(v: f64, decimals: usize) -> String {
    if v.is_finite() { format!("{v:.decimals$}") } else { String::new() }
}

fn print_size(customers: usize, rows: &[Row]) {
    println!("\n### {customers} customers\n");
    println!("| stage | seconds | CPU s | peak RSS MiB | notes |\n|---|---:|---:|---:|---|");
    for r in rows {
        let stage =
            if r.stage == END_TO_END { format!("**{}**", r.stage) } else { r.stage.clone() };
        println!(
            "| {stage} | {} | {} | {} | {} |",
            cell(r.seconds, 2),
            cell(r.cpu_seconds, 1),
            cell(r.peak_mib, 0),
            r.note
        );
    }
}

fn print_side_by_side(results: &[(usize, Vec<Row>)]) {
    println!("\n### Side by side: seconds (peak RSS MiB)\n");
    let sizes: Vec<String> = results.iter().map(|(n, _)| format!("{n} customers")).collect();
    println!("| stage | {} |", sizes.join(" | "));
    println!("|---|{}", "---:|".repeat(results.len()));
    let mut stages: Vec<&str> = Vec::new();
    for (_, rows) in results {
        for r in rows {
            if !stages.contains(&r.stage.as_str()) {
                stages.push(&r.stage);
            }
        }
    }
    for stage in stages {
        let cells: Vec<String> = results
            .iter()
            .map(|(_, rows)| match rows.iter().find(|r| r.stage == stage) {
                Some(r) if r.peak_mib.is_finite() => {
                    format!("{} ({})", cell(r.seconds, 1), cell(r.peak_mib, 0))
                }
                Some(r) => cell(r.seconds, 1),
                None => String::new(),
            })
            .collect();
        println!("| {stage} | {} |", cells.join(" | "));
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // Per-statement timings (`RUST_LOG=info`) go to stderr.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    if let Some(customers) = args.one {
        let rows = run_one_size(&args, customers)?;
        println!("{ROWS_MARK}{}", serde_json::to_string(&rows)?);
        return Ok(());
    }
    let mut sizes = args.customers.clone();
    if args.million && !sizes.contains(&MILLION) {
        sizes.push(MILLION);
    }
    let mut results = Vec::new();
    for customers in sizes {
        let rows = median_run(customers, args.repeat)?;
        print_size(customers, &rows);
        results.push((customers, rows));
    }
    if results.len() > 1 {
        print_side_by_side(&results);
    }
    Ok(())
}

/// Run one size `repeat` times (at least once), each in a child process, and keep the run whose
/// end to end is the median (the lower middle one of an even number).
fn median_run(customers: usize, repeat: usize) -> anyhow::Result<Vec<Row>> {
    let mut runs =
        (0..repeat.max(1)).map(|_| run_child(customers)).collect::<Result<Vec<_>, _>>()?;
    let end_to_end =
        |rows: &Vec<Row>| rows.iter().find(|r| r.stage == END_TO_END).map_or(0.0, |r| r.seconds);
    runs.sort_by(|a, b| end_to_end(a).total_cmp(&end_to_end(b)));
    if runs.len() > 1 {
        let all: Vec<String> = runs.iter().map(|r| format!("{:.2}", end_to_end(r))).collect();
        println!(
            "\n{customers} customers, end to end of {} runs: {} s; the median run is shown",
            runs.len(),
            all.join(", ")
        );
    }
    Ok(runs.swap_remove((runs.len() - 1) / 2))
}

/// Run one size in a child process (same arguments, plus `--one`) and read its rows.
fn run_child(customers: usize) -> anyhow::Result<Vec<Row>> {
    let exe = std::env::current_exe().context("finding the bench binary")?;
    let mut child_args: Vec<String> = std::env::args().skip(1).collect();
    child_args.extend(["--one".into(), customers.to_string()]);
    let out = std::process::Command::new(exe)
        .args(&child_args)
        .stderr(std::process::Stdio::inherit())
        .output()
        .context("running one size")?;
    anyhow::ensure!(out.status.success(), "the {customers}-customer run failed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix(ROWS_MARK))
        .context("the child printed no rows")?;
    Ok(serde_json::from_str(line)?)
}

fn size_dir(args: &Args, customers: usize) -> anyhow::Result<PathBuf> {
    let root = args.dir.clone().unwrap_or_else(|| std::env::temp_dir().join("returnscope-bench"));
    let dir = root.join(format!("n{customers}"));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// The sample CSV for `customers` (generated unless `--reuse` finds one), and its data lines.
fn sample_csv(t: &mut Table, args: &Args, dir: &Path, customers: usize) -> anyhow::Result<u64> {
    let csv = dir.join("bench.csv");
    if let Some(rows) = existing_rows(&csv).filter(|_| args.reuse) {
        return Ok(rows);
    }
    let sample = t.time(
        "generate sample",
        false,
        || Ok(write_sample(&csv, &SampleOptions { customers, seed: 1, clean: false })?),
        |s, _| format!("{} rows, {} customers", s.rows_written, s.customers),
    )?;
    std::fs::write(csv.with_extension("rows"), sample.rows_written.to_string())?;
    Ok(sample.rows_written)
}

fn run_one_size(args: &Args, customers: usize) -> anyhow::Result<Vec<Row>> {
    let dir = size_dir(args, customers)?;
    let mut config = Config::default();
    config.quality.min_customers = 1;
    config.store.memory_limit = args.memory_limit.clone();
    let mut t = Table::default();
    let rows = sample_csv(&mut t, args, &dir, customers)? as f64;
    let db = dir.join("bench.duckdb");
    let _ = std::fs::remove_file(&db);
    let analysis = Analysis::open(&db, &config)?;
    let p = Progress::none();
    let budget = analysis.store().memory_budget();
    eprintln!("{customers} customers, memory budget {}", budget.describe());
    let csv = dir.join("bench.csv");
    t.time(
        "load (bronze)",
        true,
        || Ok(analysis.ingest(&csv, &config, &p)?),
        |_, s| format!("{:.0} rows/s", rows / s),
    )?;
    let until = args.until.as_str();
    if until != "load" {
        t.time(
            "validate",
            true,
            || Ok(analysis.validate(&config, &p)?),
            |_, s| format!("{:.0} rows/s", rows / s),
        )?;
    }
    if !matches!(until, "load" | "validate") {
        t.time(
            "features (silver)",
            true,
            || Ok(analysis.features(&config, &p)?),
            |f, _| format!("{} customers", f.customers),
        )?;
    }
    if !matches!(until, "load" | "validate" | "features") {
        t.time(
            "gold",
            true,
            || Ok(analysis.gold(&config, &p)?),
            |g, _| format!("{} x {}", g.customers, g.features_kept.len()),
        )?;
    }
    if !matches!(until, "load" | "validate" | "features" | "gold") {
        cluster_and_report(&mut t, &analysis, &config, &dir)?;
    }
    let end_to_end = t.end_to_end();
    t.0.push(end_to_end);
    if until == "all" && args.over_time && customers <= OVER_TIME_MAX_CUSTOMERS {
        over_time(&mut t, &dir, args, customers, &analysis, &config)?;
    }
    Ok(t.0)
}

/// The clustering stage as the CLI runs it (with the 2-D views), its phases, and the report.
fn cluster_and_report(
    t: &mut Table,
    analysis: &Analysis,
    config: &Config,
    dir: &Path,
) -> anyhow::Result<()> {
    let p = Progress::none();
    let run = t.time(
        "cluster (phases below)",
        true,
        || Ok(analysis.cluster(config, &p, true)?),
        |r, _| {
            let o = &r.outcome;
            let micro: usize = o.segments.iter().map(|s| s.micro_segments).sum();
            format!(
                "K={}, noise {:.1}%, {micro} micro-segments, silhouette {}, map trustworthiness {}",
                o.chosen_k,
                o.noise_ratio * 100.0,
                o.silhouette.map_or("-".into(), |v| format!("{v:.3}")),
                o.trustworthiness_umap.map_or("-".into(), |v| format!("{v:.3}")),
            )
        },
    )?;
    let phase = |key: &str| run.outcome.timings.iter().find(|(n, _)| n == key).map(|(_, s)| *s);
    let named = [
        ("dbscan", "DBSCAN (phase 1)"),
        ("kmeans_sweep", "K sweep (phase 2)"),
        ("subclusters", "micro-segments (phase 3)"),
        ("embeddings", "2-D views (PCA, UMAP-style map)"),
    ];
    let mut phases_total = 0.0;
    for (key, name) in named {
        if let Some(seconds) = phase(key) {
            phases_total += seconds;
            t.phase(name, seconds);
        }
    }
    if let Some(read) = phase("read_inputs") {
        phases_total += read;
        t.phase("reading the matrix and raw features", read);
    }
    if let Some(total) = phase("cluster_stage_total") {
        t.phase("naming segments, storing results", (total - phases_total).max(0.0));
    }
    if let Some(model) = phase("model_and_check") {
        t.phase("model and its self-check", model);
    }
    let report = dir.join("bench.xlsx");
    t.time(
        "report",
        true,
        || Ok(analysis.write_report(&report, &p, &Sharing::as_loaded())?),
        |_, _| {
            let size = std::fs::metadata(&report).map_or(0, |m| m.len());
            format!("{:.1} MB workbook", size as f64 / 1e6)
        },
    )?;
    Ok(())
}

/// A second period (10% of the Loyal Customers become High Returners): its features, scoring
/// with the first period's model (targets on 2 cores at 100,000: < 15 s after the features),
/// and the comparison of the two analyses (target < 5 s).
fn over_time(
    t: &mut Table,
    dir: &Path,
    args: &Args,
    customers: usize,
    first: &Analysis,
    config: &Config,
) -> anyhow::Result<()> {
    use returnscope::pipeline::compare::compare;
    use returnscope::pipeline::sample::write_two_periods;
    use returnscope::pipeline::scoring::{require_model, score_store};
    let p = Progress::none();
    let second = dir.join("bench_q2.csv");
    if !(args.reuse && second.exists()) {
        let opts = SampleOptions { customers, seed: 1, clean: false };
        t.time(
            "generate second period",
            false,
            || Ok(write_two_periods(&dir.join("bench_q1.csv"), &second, &opts, 0.1)?),
            |s, _| format!("{} rows, {} movers", s.second_rows_written, s.movers),
        )?;
    }
    let db = dir.join("bench_q2.duckdb");
    let _ = std::fs::remove_file(&db);
    let analysis = Analysis::open(&db, config)?;
    t.time(
        "second period: load + validate + features",
        false,
        || {
            analysis.ingest(&second, config, &p)?;
            analysis.validate(config, &p)?;
            Ok(analysis.features(config, &p)?)
        },
        |f, _| format!("{} customers", f.customers),
    )?;
    let model = t.time(
        "read the model",
        false,
        || Ok(require_model(first.store())?),
        |m, _| format!("{} core points", m.outliers.core_points.len()),
    )?;
    t.time(
        "score with the model (after features)",
        false,
        || Ok(score_store(analysis.store(), &model, &p)?),
        |s, secs| format!("{} placed, {:.0} customers/s", s.placed, s.placed as f64 / secs),
    )?;
    t.time(
        "compare two periods",
        false,
        || Ok(compare(first.store(), analysis.store(), &p)?),
        |c, _| format!("{} in both, {} moved, {} features", c.in_both, c.moved, c.drift.len()),
    )?;
    Ok(())
}

/// Rows of a sample written by an earlier run (recorded beside it), `None` if there is none.
fn existing_rows(csv: &Path) -> Option<u64> {
    if !csv.exists() {
        return None;
    }
    std::fs::read_to_string(csv.with_extension("rows")).ok()?.trim().parse().ok()
}
