//! The whole cluster stage timed on a real analysis (ignored by default): `GOLD_DB=<a copy of an
//! analysis> cargo test --test it cluster_stage_bench -- --ignored --nocapture`. It lives here
//! rather than in `pipeline::cluster` because it runs the stage as the app does, through
//! `Analysis` (which imports the cluster module) and the model (`scoring` imports it too).

use returnscope::pipeline::analysis::Analysis;
use returnscope::pipeline::config::Config;
use returnscope::pipeline::memory::process_cpu_seconds;
use returnscope::pipeline::progress::{CancelToken, Progress};
use returnscope::pipeline::store::Store;
use std::time::Instant;

/// A progress handle printing each new message with the wall and CPU seconds so far.
fn timed_cpu_progress() -> Progress {
    let (start, cpu) = (Instant::now(), process_cpu_seconds());
    let last = std::sync::Mutex::new(String::new());
    Progress::new(
        move |u| {
            let message: String = u.message.chars().take_while(|c| !c.is_ascii_digit()).collect();
            if let Ok(mut last) = last.lock()
                && *last != message
            {
                let (wall, used) = (start.elapsed().as_secs_f64(), process_cpu_seconds() - cpu);
                println!("  {wall:7.2} s wall {used:7.2} s CPU  {}", u.message);
                *last = message;
            }
        },
        CancelToken::new(),
    )
}

/// Every clustered customer's (id, segment, archetype, micro-segment, outlier flag, distance
/// bits) as stored in an analysis's `clustering_results`, by id.
fn stored_results(store: &Store) -> Vec<(String, i32, String, String, bool, u64)> {
    let sql = "SELECT customer_id, segment, archetype, micro_segment, is_outlier, \
               distance_to_centroid FROM clustering_results ORDER BY customer_id";
    let mut stmt = store.conn().prepare(sql).unwrap();
    stmt.query_map([], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get::<_, f64>(5)?.to_bits()))
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

/// The whole cluster stage as a run computes it (phases, 2-D views, naming, storing, the model
/// and its self-check) on a segmented analysis, compared with the results it already holds:
/// `GOLD_DB=<a copy of an analysis> cargo test --test it cluster_stage_bench --
/// --ignored --nocapture` (`THREADS=1` for one thread; `STEPS=1` prints each progress
/// message with the wall and CPU seconds so far, to see where a core sits idle). The analysis is overwritten: use a
/// copy. Prints wall and CPU seconds, the stage's timings, and how many customers' stored
/// results differ from before.
#[test]
#[ignore]
fn bench_cluster_stage() {
    let path = std::env::var("GOLD_DB").expect("GOLD_DB=<copy of an analysis>.duckdb");
    let threads = std::env::var("THREADS").ok().and_then(|v| v.parse().ok()).unwrap_or(0);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
    let config = Config::default();
    let open = || Analysis::open(path.as_ref(), &config).unwrap();
    let before = stored_results(open().store());
    let progress =
        if std::env::var("STEPS").is_ok() { timed_cpu_progress() } else { Progress::none() };
    let (t, cpu) = (Instant::now(), process_cpu_seconds());
    let run = pool.install(|| open().cluster(&config, &progress, true)).unwrap();
    let (wall, cpu) = (t.elapsed().as_secs_f64(), process_cpu_seconds() - cpu);
    let after = stored_results(open().store());
    let differ = before.iter().zip(&after).filter(|(a, b)| a != b).count();
    let o = &run.outcome;
    let timings: Vec<String> = o.timings.iter().map(|(k, s)| format!("{k} {s:.2}")).collect();
    println!(
        "cluster stage, {} customers: {wall:.2} s wall, {cpu:.2} s CPU, {} threads; K = {}, \
         noise {:.2}%, silhouette {:?}, map trustworthiness {:?}; {differ} of {} customers' \
         stored results differ from before ({} rows before, {} after)\n  {}",
        o.customers,
        pool.current_num_threads(),
        o.chosen_k,
        100.0 * o.noise_ratio,
        o.silhouette,
        o.trustworthiness_umap,
        before.len().min(after.len()),
        before.len(),
        after.len(),
        timings.join(", ")
    );
}
