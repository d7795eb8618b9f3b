//! Benchmarks: `cargo run --bin bench -- [--customers 100000] [--until validate] [--reuse]`.
//!
//! Prints one table: per stage the wall time, throughput and the process's peak RSS so far, on
//! data from the built-in generator. Speed and memory targets live here, not in timed tests. Runs
//! in the same (dev) profile as the app and the tests, whose dependencies are optimised.

use anyhow::Context;
use clap::Parser;
use returnscope::pipeline::progress::Progress;
use returnscope::pipeline::sample::{SampleOptions, write_sample};
use returnscope::pipeline::share::Sharing;
use returnscope::pipeline::{Analysis, Config, embed};
use std::time::Instant;

#[derive(Parser)]
struct Args {
    /// Customers to generate (about 40 order lines each).
    #[arg(long, default_value_t = 100_000)]
    customers: usize,
    /// Working folder (default: a fresh temp folder).
    #[arg(long)]
    dir: Option<std::path::PathBuf>,
    /// Also time UMAP on a 20,000-point sample.
    #[arg(long, default_value_t = true)]
    extras: bool,
    /// Stop after this stage: load, validate, features, gold, cluster or all.
    #[arg(long, default_value = "all")]
    until: String,
    /// DuckDB memory limit for the run (e.g. 1GB); empty = the configured default.
    #[arg(long, default_value = "")]
    memory_limit: String,
    /// Reuse `bench.csv` in the working folder if it exists (skips generating the sample).
    #[arg(long)]
    reuse: bool,
    /// Also time scoring a second period with the saved model and comparing the two periods.
    #[arg(long, default_value_t = true)]
    over_time: bool,
}

/// Peak resident set size of this process so far, in MiB (Linux; 0 elsewhere).
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(str::to_string))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<f64>().ok()))
        .map_or(0.0, |kb| kb / 1024.0)
}

/// CPU time (user + system) of this process so far, in seconds (Linux; 0 elsewhere). On a shared
/// machine wall time varies with the neighbours' load; CPU time much less.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses): utime and stime are 14 and 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

struct Table(Vec<(String, f64, String)>);

impl Table {
    fn time<T>(
        &mut self,
        name: &str,
        f: impl FnOnce() -> anyhow::Result<T>,
        note: impl Fn(&T, f64) -> String,
    ) -> anyhow::Result<T> {
        let start = Instant::now();
        let cpu = cpu_seconds();
        let out = f()?;
        let secs = start.elapsed().as_secs_f64();
        let n = format!("{}, CPU {:.1} s", note(&out, secs), cpu_seconds() - cpu);
        eprintln!("{name}: {secs:.2} s {n}");
        self.0.push((name.to_string(), secs, n));
        Ok(out)
    }
    fn print(&self) {
        println!("| stage | seconds | peak RSS so far | notes |\n|---|---:|---:|---|");
        for (name, secs, note) in &self.0 {
            println!("| {name} | {secs:.2} | {note} |");
        }
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // Per-statement timings (`RUST_LOG=info`) go to stderr.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let tmp = tempfile_dir(&args)?;
    let csv = tmp.join("bench.csv");
    let mut config = Config::default();
    config.quality.min_customers = 1;
    config.store.memory_limit = args.memory_limit.clone();
    let p = Progress::none();
    let mut t = Table(Vec::new());
    let rss = |s: &str| format!("{:.0} MiB | {s}", peak_rss_mib());
    let rows_written = match existing_rows(&csv).filter(|_| args.reuse) {
        Some(n) => n,
        None => {
            let sample = t.time(
                "generate sample",
                || {
                    Ok(write_sample(
                        &csv,
                        &SampleOptions { customers: args.customers, seed: 1, clean: false },
                    )?)
                },
                |s, _| rss(&format!("{} rows, {} customers", s.rows_written, s.customers)),
            )?;
            std::fs::write(csv.with_extension("rows"), sample.rows_written.to_string())?;
            sample.rows_written
        }
    };
    let until = args.until.as_str();
    let db = tmp.join("bench.duckdb");
    let _ = std::fs::remove_file(&db);
    let analysis = Analysis::open(&db, &config)?;
    let rows = rows_written as f64;
    let load_started = Instant::now();
    t.time(
        "load (bronze)",
        || Ok(analysis.ingest(&csv, &config, &p)?),
        |_, s| rss(&format!("{:.0} rows/s", rows / s)),
    )?;
    // Wall time as measured here (the summary's own seconds end before the layer's checkpoint).
    let load_secs = load_started.elapsed().as_secs_f64();
    if until == "load" {
        t.print();
        return Ok(());
    }
    let start = Instant::now();
    t.time(
        "validate",
        || Ok(analysis.validate(&config, &p)?),
        |_, s| rss(&format!("{:.0} rows/s", rows / s)),
    )?;
    let combined = load_secs + start.elapsed().as_secs_f64();
    t.0.push(("load + validate".into(), combined, rss(&format!("{:.0} rows/s", rows / combined))));
    if until == "validate" {
        t.print();
        return Ok(());
    }
    t.time(
        "features (silver)",
        || Ok(analysis.features(&config, &p)?),
        |f, _| rss(&format!("{} customers", f.customers)),
    )?;
    if until == "features" {
        t.print();
        return Ok(());
    }
    t.time(
        "gold",
        || Ok(analysis.gold(&config, &p)?),
        |g, _| rss(&format!("{} x {}", g.customers, g.features_kept.len())),
    )?;
    if until == "gold" {
        t.print();
        return Ok(());
    }
    let run = t.time(
        "cluster (DBSCAN + K sweep + metrics + sub-DBSCAN + PCA)",
        || Ok(analysis.cluster(&config, &p, false)?),
        |r, _| {
            let o = &r.outcome;
            let phases: Vec<String> =
                o.timings.iter().map(|(n, s)| format!("{n} {s:.1}s")).collect();
            rss(&format!(
                "K={} noise {:.1}% [{}]",
                o.chosen_k,
                o.noise_ratio * 100.0,
                phases.join(", ")
            ))
        },
    )?;
    let report = tmp.join("bench.xlsx");
    t.time(
        "report (real data)",
        || Ok(analysis.write_report(&report, &p, &Sharing::as_loaded())?),
        |_, _| rss(""),
    )?;
    if args.over_time {
        over_time(&mut t, &tmp, &args, &analysis, &config)?;
    }
    if args.extras {
        let n = run.matrix.nrows().min(20_000);
        let sub = run.matrix.slice(ndarray::s![..n, ..]).to_owned();
        let params = embed::UmapParams::default();
        t.time(
            "UMAP-style embedding",
            || embed::umap(sub.view(), &params, &p, None).context("umap"),
            |_, _| rss(&format!("{} x {}", sub.nrows(), sub.ncols())),
        )?;
    }
    t.print();
    Ok(())
}

/// A second period (10% of the Loyal Customers become High Returners): its features, scoring
/// with the first period's model (targets on 2 cores: < 15 s after the features), and the
/// comparison of the two 100k analyses (target < 5 s).
fn over_time(
    t: &mut Table,
    tmp: &std::path::Path,
    args: &Args,
    first: &Analysis,
    config: &Config,
) -> anyhow::Result<()> {
    use returnscope::pipeline::compare::compare;
    use returnscope::pipeline::sample::write_two_periods;
    use returnscope::pipeline::scoring::{require_model, score_store};
    let p = Progress::none();
    let rss = |s: &str| format!("{:.0} MiB | {s}", peak_rss_mib());
    let second = tmp.join("bench_q2.csv");
    if !(args.reuse && second.exists()) {
        let opts = SampleOptions { customers: args.customers, seed: 1, clean: false };
        t.time(
            "generate second period",
            || Ok(write_two_periods(&tmp.join("bench_q1.csv"), &second, &opts, 0.1)?),
            |s, _| rss(&format!("{} rows, {} movers", s.second_rows_written, s.movers)),
        )?;
    }
    let db = tmp.join("bench_q2.duckdb");
    let _ = std::fs::remove_file(&db);
    let analysis = Analysis::open(&db, config)?;
    t.time(
        "second period: load + validate + features",
        || {
            analysis.ingest(&second, config, &p)?;
            analysis.validate(config, &p)?;
            Ok(analysis.features(config, &p)?)
        },
        |f, _| rss(&format!("{} customers", f.customers)),
    )?;
    let model = t.time(
        "read the model",
        || Ok(require_model(first.store())?),
        |m, _| rss(&format!("{} core points", m.outliers.core_points.len())),
    )?;
    t.time(
        "score with the model (after features)",
        || Ok(score_store(analysis.store(), &model, &p)?),
        |s, secs| rss(&format!("{} placed, {:.0} customers/s", s.placed, s.placed as f64 / secs)),
    )?;
    t.time(
        "compare two periods",
        || Ok(compare(first.store(), analysis.store(), &p)?),
        |c, _| {
            rss(&format!("{} in both, {} moved, {} features", c.in_both, c.moved, c.drift.len()))
        },
    )?;
    Ok(())
}

/// Rows of a sample written by an earlier run (recorded beside it), `None` if there is none.
fn existing_rows(csv: &std::path::Path) -> Option<u64> {
    if !csv.exists() {
        return None;
    }
    std::fs::read_to_string(csv.with_extension("rows")).ok()?.trim().parse().ok()
}

fn tempfile_dir(args: &Args) -> anyhow::Result<std::path::PathBuf> {
    let dir = args.dir.clone().unwrap_or_else(|| std::env::temp_dir().join("returnscope-bench"));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
