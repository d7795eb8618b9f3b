//! Timing runs (ignored by default): `cargo test --lib pipeline::cluster::bench -- --ignored
//! --nocapture`. They print numbers rather than assert them, since the machine varies.

use super::kmeans::kmeans;
use super::synthetic::synthetic_blobs;
use super::*;
use crate::pipeline::config::Config;
use crate::pipeline::memory::process_cpu_seconds;
use ndarray::{Array2, Axis, s};
use rand::SeedableRng;
use std::time::Instant;

/// Blobs standardized column by column, like the gold matrix: 6 groups that overlap (centres
/// ~40 apart, within-group pair distances ~40), so eps and K are not trivial.
fn gold_like(n: usize, d: usize, seed: u64) -> Array2<f64> {
    let (mut x, _) = synthetic_blobs(n, d, 6, 4.0, seed);
    for mut col in x.axis_iter_mut(Axis(1)) {
        let mean = col.mean().unwrap_or(0.0);
        let std = col.std(0.0).max(1e-12);
        col.mapv_inplace(|v| (v - mean) / std);
    }
    x
}

/// Structureless data: one standard Gaussian (the worst case for a spatial index).
fn gaussian(n: usize, d: usize, seed: u64) -> Array2<f64> {
    synthetic_blobs(n, d, 1, 1.0, seed).0
}

/// Neighbour counts for every point by blocked GEMM brute force (the alternative index).
fn brute_force_counts(x: &Array2<f64>, eps: f64) -> Vec<usize> {
    use rayon::prelude::*;
    let norms: Vec<f64> = x.axis_iter(Axis(0)).map(|r| r.dot(&r)).collect();
    let n = x.nrows();
    let parts: Vec<Vec<usize>> = (0..n.div_ceil(256))
        .into_par_iter()
        .map(|b| {
            let (a, e) = (b * 256, ((b + 1) * 256).min(n));
            let g = x.slice(s![a..e, ..]).dot(&x.t());
            g.axis_iter(Axis(0))
                .enumerate()
                .map(|(r, row)| {
                    row.iter()
                        .zip(&norms)
                        .filter(|&(&dot, &nj)| norms[a + r] - 2.0 * dot + nj <= eps * eps)
                        .count()
                })
                .collect()
        })
        .collect();
    parts.concat()
}

/// A progress handle printing the elapsed time whenever the message changes.
fn timed_progress() -> crate::pipeline::progress::Progress {
    let start = Instant::now();
    let last = std::sync::Mutex::new(String::new());
    crate::pipeline::progress::Progress::new(
        move |u| {
            if let Ok(mut last) = last.lock()
                && *last != u.message
            {
                println!("  {:7.2} s  {}", start.elapsed().as_secs_f64(), u.message);
                *last = u.message.clone();
            }
        },
        crate::pipeline::progress::CancelToken::new(),
    )
}

#[test]
#[ignore]
fn bench_dbscan_index() {
    for (name, x) in
        [("gold-like", gold_like(100_000, 25, 1)), ("gaussian", gaussian(100_000, 25, 1))]
    {
        let kd = k_distances(x.view(), 5, 20_000, 0);
        let eps = auto_eps(&kd, 0.15);
        let t = Instant::now();
        let r = dbscan(x.view(), eps, 5, &timed_progress()).unwrap();
        let tree_s = t.elapsed().as_secs_f64();
        if std::env::var("SKIP_BRUTE").is_ok() {
            println!(
                "{name}: tree DBSCAN {tree_s:.2} s, {} clusters, noise {:.1}%",
                r.n_clusters,
                100.0 * r.noise_ratio()
            );
            continue;
        }
        let t = Instant::now();
        let sub = x.slice(s![..20_000, ..]).to_owned();
        let counts = brute_force_counts(&sub, eps);
        // One brute-force pass over 20k x 100k pairs would take 5x this (and DBSCAN needs 2-3).
        let brute_pass_100k = t.elapsed().as_secs_f64() * 25.0;
        println!(
            "{name} 100k x 25: eps {eps:.3}, ball-tree DBSCAN {tree_s:.2} s ({} clusters, noise \
             {:.1}%); blocked brute force: one neighbour-count pass ~{brute_pass_100k:.1} s \
             (measured on 20k: {} counted)",
            r.n_clusters,
            100.0 * r.noise_ratio(),
            counts.len()
        );
    }
}

#[test]
#[ignore]
fn bench_kmeans_vs_linfa() {
    use linfa::prelude::*;
    use linfa_clustering::KMeans;
    let x = gold_like(20_000, 25, 2);
    let (mut ours, mut theirs) = (0.0, 0.0);
    for k in 3..=14 {
        let t = Instant::now();
        let fit =
            kmeans(x.view(), k, 10, 300, 42, &crate::pipeline::progress::Progress::none()).unwrap();
        let a = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let ds = linfa::DatasetBase::from(x.clone());
        let rng = rand_xoshiro::Xoshiro256Plus::seed_from_u64(42);
        let model = KMeans::params_with_rng(k, rng)
            .n_runs(10)
            .max_n_iterations(300)
            .tolerance(1e-4)
            .fit(&ds)
            .unwrap();
        let b = t.elapsed().as_secs_f64();
        ours += a;
        theirs += b;
        println!(
            "K={k:2}: ours {a:.2} s inertia {:.1} ({} iter) | linfa {b:.2} s inertia {:.1}",
            fit.inertia,
            fit.n_iter,
            model.inertia() * x.nrows() as f64
        );
    }
    println!("K=3..14, n_init 10, 20k x 25: ours {ours:.1} s, linfa {theirs:.1} s");
}

#[test]
#[ignore]
fn bench_sweep_sampled() {
    // The K sweep at 1M points: criteria on the default 100k sample, the chosen K refined on all.
    let x = gold_like(1_000_000, 25, 2);
    let cfg = Config::default().kmeans;
    let (t, cpu) = (Instant::now(), process_cpu_seconds());
    let (sweep, fit) =
        sweep::sweep_k(x.view(), &cfg, &crate::pipeline::progress::Progress::none()).unwrap();
    println!(
        "sweep 1M x 25 (sample {:?}): {:.1} s wall, {:.1} s CPU; K = {}, final fit {} iterations",
        sweep.sample_size,
        t.elapsed().as_secs_f64(),
        process_cpu_seconds() - cpu,
        sweep.chosen_k,
        fit.n_iter
    );
}

#[test]
#[ignore]
fn bench_hybrid() {
    // `GOLD_DB=analysis.duckdb`: that analysis's gold matrix; else gold-like data of BENCH_N
    // (default 20k and 100k) rows.
    let inputs: Vec<(String, Array2<f64>)> = match std::env::var("GOLD_DB") {
        Ok(path) => {
            let cfg = crate::pipeline::config::StoreConfig::default();
            let store = crate::pipeline::store::Store::open(path.as_ref(), &cfg).unwrap();
            vec![(path, crate::pipeline::gold::read_gold(&store).unwrap().2)]
        }
        Err(_) => match std::env::var("BENCH_N").ok().and_then(|v| v.parse().ok()) {
            Some(n) => vec![(format!("gold-like {n}"), gold_like(n, 25, 3))],
            None => [20_000, 100_000]
                .into_iter()
                .map(|n| (format!("gold-like {n}"), gold_like(n, 25, 3)))
                .collect(),
        },
    };
    for (name, x) in inputs {
        let (t, cpu) = (Instant::now(), process_cpu_seconds());
        let r = hybrid_cluster(
            x.view(),
            &Config::default(),
            &crate::pipeline::progress::Progress::none(),
        )
        .unwrap();
        println!(
            "hybrid {name} ({} x {}): {:.1} s total, {:.1} CPU-s (DBSCAN {:.1} s, K sweep {:.1} s, \
             micro {:.1} s); eps {:.3}, noise {:.1}%, K={} ({}), {} threads",
            x.nrows(),
            x.ncols(),
            t.elapsed().as_secs_f64(),
            process_cpu_seconds() - cpu,
            r.timings.dbscan_s,
            r.timings.kmeans_s,
            r.timings.subcluster_s,
            r.eps,
            100.0 * r.noise_ratio,
            r.chosen_k,
            r.sweep.reason,
            rayon::current_num_threads()
        );
    }
}

#[test]
#[ignore]
fn bench_pieces() {
    let n: usize = std::env::var("BENCH_N").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let x = gold_like(n, 25, 3);
    let none = crate::pipeline::progress::Progress::none();
    let t = Instant::now();
    let kd = k_distances(x.view(), 5, 20_000, 0);
    println!("k-distances (20k sample of {n}): {:.2} s", t.elapsed().as_secs_f64());
    let eps = auto_eps(&kd, 0.15);
    let t = Instant::now();
    let r = dbscan(x.view(), eps, 5, &timed_progress()).unwrap();
    println!(
        "dbscan: {:.2} s (noise {}, core {}, pairs evaluated {:.3e}, blocks {})",
        t.elapsed().as_secs_f64(),
        r.noise_count,
        r.is_core.iter().filter(|&&c| c).count(),
        super::blocks::PAIRS.load(std::sync::atomic::Ordering::Relaxed) as f64,
        {
            let xr = row_major(x.view());
            let tree = super::balltree::BallTree::build(flat(&xr), 25);
            super::blocks::Blocks::new(&tree).len()
        }
    );
    if std::env::var("ONLY_DBSCAN").is_ok() {
        return;
    }
    let t = Instant::now();
    let fit = kmeans(x.view(), 10, 10, 300, 42, &none).unwrap();
    println!("kmeans K=10 n_init 10: {:.2} s ({} iter)", t.elapsed().as_secs_f64(), fit.n_iter);
    let t = Instant::now();
    let s = silhouette(x.view(), &fit.labels, 10_000, 0);
    println!("silhouette 10k sample: {:.2} s ({s:?})", t.elapsed().as_secs_f64());
    let t = Instant::now();
    let ch = calinski_harabasz(x.view(), &fit.labels);
    let db = davies_bouldin(x.view(), &fit.labels);
    println!("CH + DB: {:.2} s ({ch:?} {db:?})", t.elapsed().as_secs_f64());
    let t = Instant::now();
    let (a, _) = assign_nearest(x.view(), fit.centroids.view());
    println!("assign_nearest: {:.3} s", t.elapsed().as_secs_f64());
    let t = Instant::now();
    let ari = adjusted_rand_index(&a, &fit.labels);
    println!("ARI: {:.3} s ({ari})", t.elapsed().as_secs_f64());
}

/// Phase 1 exact against phase 1 on samples, with the automatic eps as a run computes it:
/// noise ratios, adjusted Rand of the DBSCAN labels and of the outlier flags, CPU and wall.
/// `GOLD_DB=analysis.duckdb` reads that analysis's gold matrix (else gold-like data of BENCH_N
/// rows); `SAMPLES=50000,100000` the sample sizes; `SKIP_EXACT=1` times the samples only.
#[test]
#[ignore]
fn bench_sampled_phase1() {
    use super::balltree::BallTree;
    use super::dbscan::dbscan_on_tree;
    use super::hybrid::outliers_with_small_clusters;
    use super::kdistance::k_distances_on_tree;
    use super::sampled::dbscan_on_sample;
    let x = match std::env::var("GOLD_DB") {
        Ok(path) => {
            let cfg = crate::pipeline::config::StoreConfig::default();
            let store = crate::pipeline::store::Store::open(path.as_ref(), &cfg).unwrap();
            crate::pipeline::gold::read_gold(&store).unwrap().2
        }
        Err(_) => {
            let n = std::env::var("BENCH_N").ok().and_then(|v| v.parse().ok()).unwrap_or(200_000);
            gold_like(n, 25, 3)
        }
    };
    let samples: Vec<usize> = std::env::var("SAMPLES")
        .unwrap_or_else(|_| "100000".into())
        .split(',')
        .filter_map(|v| v.trim().parse().ok())
        .collect();
    let (n, d) = x.dim();
    let none = crate::pipeline::progress::Progress::none();
    let eps_rule = |tree: &BallTree| auto_eps(&k_distances_on_tree(tree, 5, 20_000, 7), 0.15);
    let flags = |r: &DbscanResult| outliers_with_small_clusters(&r.labels, r.n_clusters, 0.15);
    let classes = |l: &[i32]| l.iter().map(|&v| (v + 1) as usize).collect::<Vec<_>>();
    let share = |f: &[bool]| f.iter().filter(|&&o| o).count() as f64 / n as f64;
    let timed = |f: &dyn Fn() -> (DbscanResult, f64)| {
        let (t, cpu) = (Instant::now(), process_cpu_seconds());
        let out = f();
        (out, t.elapsed().as_secs_f64(), process_cpu_seconds() - cpu)
    };
    let exact = (std::env::var("SKIP_EXACT").is_err()).then(|| {
        let ((r, eps), wall, cpu) = timed(&|| {
            let xr = row_major(x.view());
            let tree = BallTree::build(flat(&xr), d);
            let eps = eps_rule(&tree);
            (dbscan_on_tree(&tree, eps, 5, &none).unwrap(), eps)
        });
        let o = flags(&r);
        println!(
            "exact {n} x {d}: eps {eps:.4}, {} clusters, noise {:.2}%, outliers {:.2}%, {wall:.1} \
             s wall, {cpu:.1} s CPU",
            r.n_clusters,
            100.0 * r.noise_ratio(),
            100.0 * share(&o)
        );
        (r, o)
    });
    for size in samples {
        let sample = sample_indices(n, size, 11);
        let ((r, eps), wall, cpu) =
            timed(&|| dbscan_on_sample(x.view(), &sample, 5, eps_rule, &none).unwrap());
        let o = flags(&r);
        let cores = r.is_core.iter().filter(|&&c| c).count();
        print!(
            "sample {size} of {n}: eps {eps:.4}, {} clusters, noise {:.2}%, outliers {:.2}%, {cores} \
             core points, {wall:.1} s wall, {cpu:.1} s CPU",
            r.n_clusters,
            100.0 * r.noise_ratio(),
            100.0 * share(&o)
        );
        match &exact {
            Some((e, eo)) => {
                let ari = adjusted_rand_index(&classes(&e.labels), &classes(&r.labels));
                let to_usize = |f: &[bool]| f.iter().map(|&b| b as usize).collect::<Vec<_>>();
                let ari_flags = adjusted_rand_index(&to_usize(eo), &to_usize(&o));
                let same = eo.iter().zip(&o).filter(|(a, b)| a == b).count() as f64 / n as f64;
                println!(
                    "; vs exact: ARI labels {ari:.4}, ARI outlier flags {ari_flags:.4}, same flag \
                     {:.2}%",
                    100.0 * same
                );
            }
            None => println!(),
        }
    }
}

/// The non-outlier rows of an analysis's gold matrix (phase 1 as a run does it, default
/// configuration), cached as raw little-endian f64 in `cache` (n and d first, as u64).
fn phase2_points(gold_db: &str, cache: &str) -> Array2<f64> {
    use super::balltree::BallTree;
    use super::dbscan::dbscan_on_tree;
    use super::hybrid::outliers_with_small_clusters;
    use super::kdistance::k_distances_on_tree;
    if let Ok(bytes) = std::fs::read(cache) {
        let word = |i: usize| u64::from_le_bytes(bytes[i * 8..i * 8 + 8].try_into().unwrap());
        let (n, d) = (word(0) as usize, word(1) as usize);
        let values = (0..n * d).map(|i| f64::from_bits(word(2 + i))).collect();
        return Array2::from_shape_vec((n, d), values).unwrap();
    }
    let cfg = Config::default();
    let store =
        crate::pipeline::store::Store::open(gold_db.as_ref(), &cfg.store).expect("GOLD_DB opens");
    let x = crate::pipeline::gold::read_gold(&store).unwrap().2;
    let xr = row_major(x.view());
    let tree = BallTree::build(flat(&xr), x.ncols());
    let seed = derive_seed(cfg.kmeans.seed, &[0xD85C]);
    let (k, size) = (cfg.dbscan.min_samples, cfg.dbscan.kdistance_sample);
    let eps = auto_eps(&k_distances_on_tree(&tree, k, size, seed), cfg.dbscan.max_noise_ratio);
    let none = crate::pipeline::progress::Progress::none();
    let r = dbscan_on_tree(&tree, eps, k, &none).unwrap();
    let outlier = outliers_with_small_clusters(&r.labels, r.n_clusters, cfg.dbscan.max_noise_ratio);
    let kept: Vec<usize> = (0..x.nrows()).filter(|&i| !outlier[i]).collect();
    let core = x.select(Axis(0), &kept);
    let mut bytes = Vec::with_capacity(16 + 8 * core.len());
    bytes.extend((core.nrows() as u64).to_le_bytes());
    bytes.extend((core.ncols() as u64).to_le_bytes());
    core.iter().for_each(|v| bytes.extend(v.to_bits().to_le_bytes()));
    std::fs::write(cache, bytes).unwrap();
    core
}

/// The K sweep on the non-outlier rows of a real analysis, as a run computes it:
/// `GOLD_DB=analysis.duckdb CORE_CACHE=/tmp/core.bin cargo test --lib
/// pipeline::cluster::bench::bench_sweep_gold -- --ignored --nocapture` (`THREADS=1` for one
/// thread). Prints wall and CPU seconds, the chosen K, every row and a hash of the labels, so two
/// builds' sweeps can be compared bit for bit.
#[test]
#[ignore]
fn bench_sweep_gold() {
    let gold_db = std::env::var("GOLD_DB").expect("GOLD_DB=analysis.duckdb");
    let cache = std::env::var("CORE_CACHE").unwrap_or_else(|_| format!("{gold_db}.core.bin"));
    let core = phase2_points(&gold_db, &cache);
    let threads = std::env::var("THREADS").ok().and_then(|v| v.parse().ok()).unwrap_or(0);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
    let cfg = Config::default().kmeans;
    let (t, cpu) = (Instant::now(), process_cpu_seconds());
    let (sweep, fit) = pool
        .install(|| sweep::sweep_k(core.view(), &cfg, &crate::pipeline::progress::Progress::none()))
        .unwrap();
    let (wall, cpu) = (t.elapsed().as_secs_f64(), process_cpu_seconds() - cpu);
    for r in &sweep.rows {
        println!(
            "K={:2} inertia {:.6} silhouette {:?} CH {:?} DB {:?} stability {:?}",
            r.k, r.inertia, r.silhouette, r.calinski_harabasz, r.davies_bouldin, r.stability
        );
    }
    use std::hash::{Hash, Hasher};
    let hash = |v: &dyn Fn(&mut std::collections::hash_map::DefaultHasher)| {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        v(&mut h);
        h.finish()
    };
    let bits = |v: Option<f64>| v.map(f64::to_bits);
    let table = hash(&|h| {
        for r in &sweep.rows {
            (r.k, r.inertia.to_bits(), bits(r.calinski_harabasz), bits(r.davies_bouldin)).hash(h);
            bits(r.stability).hash(h);
        }
    });
    let silhouettes = hash(&|h| sweep.rows.iter().for_each(|r| bits(r.silhouette).hash(h)));
    println!(
        "sweep {} x {}: {wall:.2} s wall, {cpu:.2} s CPU, {} threads; K = {}, labels hash {:016x}, \
         table hash {table:016x} (silhouettes {silhouettes:016x})",
        core.nrows(),
        core.ncols(),
        pool.current_num_threads(),
        sweep.chosen_k,
        hash(&|h| fit.labels.hash(h)),
    );
}

/// The K sweep on an analysis's own gold matrix and outlier flags, for several sample sizes and
/// seeds: does the chosen K depend on the sample, and how far do the final labels (the chosen K
/// fitted on everyone) move from the first size's and seed's? `GOLD_DB=analysis.duckdb`,
/// `SWEEP_SAMPLES=100000,200000` (0 = every point), `SWEEP_SEEDS=42,7`.
#[test]
#[ignore]
fn bench_sweep_on_analysis() {
    let Some(store) = crate::pipeline::store::bench_analysis() else { return };
    let (ids, _, x) = crate::pipeline::gold::read_gold(&store).unwrap();
    let mut outlier = std::collections::HashMap::new();
    let mut stmt =
        store.conn().prepare("SELECT customer_id, is_outlier FROM clustering_results").unwrap();
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, bool>(1)?))).unwrap();
    for row in rows {
        let (id, o) = row.unwrap();
        outlier.insert(id, o);
    }
    let keep: Vec<usize> =
        (0..ids.len()).filter(|&i| !outlier.get(&ids[i]).copied().unwrap_or(true)).collect();
    let x = x.select(Axis(0), &keep);
    let list = |var: &str, default: &str| -> Vec<usize> {
        std::env::var(var)
            .unwrap_or_else(|_| default.into())
            .split(',')
            .filter_map(|v| v.trim().parse().ok())
            .collect()
    };
    let mut reference: Option<Vec<usize>> = None;
    for size in list("SWEEP_SAMPLES", "100000") {
        for seed in list("SWEEP_SEEDS", "42") {
            let mut k = Config::default().kmeans;
            k.sweep_sample = if size == 0 { usize::MAX } else { size };
            k.seed = seed as u64;
            if let Some(p) = std::env::var("STAB_PAIRS").ok().and_then(|v| v.parse().ok()) {
                k.stability_pairs = p;
            }
            let (t, cpu) = (Instant::now(), process_cpu_seconds());
            let none = crate::pipeline::progress::Progress::none();
            let (sweep, fit) = sweep::sweep_k(x.view(), &k, &none).unwrap();
            let stab: Vec<String> = sweep
                .rows
                .iter()
                .map(|r| format!("{}:{:.2}", r.k, r.stability.unwrap_or(f64::NAN)))
                .collect();
            let (wall, cpu) = (t.elapsed().as_secs_f64(), process_cpu_seconds() - cpu);
            let reference = reference.get_or_insert_with(|| fit.labels.clone());
            println!(
                "{} points, sample {size}, seed {seed}: K = {} ({wall:.1} s wall, {cpu:.1} s \
                 CPU), ARI against the first {:.4}; stability {}",
                x.nrows(),
                sweep.chosen_k,
                adjusted_rand_index(reference, &fit.labels),
                stab.join(" ")
            );
        }
    }
}
