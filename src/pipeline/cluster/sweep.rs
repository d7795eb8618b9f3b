//! The K sweep of phase 2: every criterion for every K, and the choice of K.
//!
//! For K in `k_min..=k_max` (K < n): the best of `n_init` K-means runs gives inertia, and on the
//! same points silhouette (sampled per `silhouette_sample`), Calinski-Harabasz and Davies-Bouldin.
//! Stability: for each of `stability_pairs` pairs of fixed-seed random 80% subsamples, K-means
//! (the best of `stability_runs` runs) is fitted on each, every point is assigned to its nearest
//! centroid under both fits, and the adjusted Rand index of the two labelings is taken;
//! stability is the mean. CLUSTERING.md says one run per fit; with one, K depended on the seed
//! (a single k-means++ run that lands in a poor local optimum reads as instability of K itself:
//! docs/decisions.md, "Clustering").
//!
//! Choice (CLUSTERING.md): the highest stability; among the Ks within 0.02 of it, the best
//! silhouette (then the smaller K). Silhouette alone prefers too few clusters on data with
//! several groups of unequal spread; segments must survive leaving out a fifth of customers.

use super::kdistance::knee;
use super::kmeans::{KMeansFit, KMeansPoints, kmeans, kmeans_from, nearest_labels};
#[cfg(test)]
use super::metrics::silhouette;
use super::metrics::{
    adjusted_rand_index, calinski_harabasz, davies_bouldin, silhouette_summaries,
    silhouette_summary,
};
use super::{ClusterError, derive_seed, sample_indices, sub_progress};
use crate::pipeline::config::KMeansConfig;
use crate::pipeline::model::KSweepRow;
use crate::pipeline::progress::Progress;
use ndarray::{Array2, ArrayView2, Axis, CowArray, Ix2};
use rayon::prelude::*;
use std::sync::Mutex;

/// Stability within this much of the best counts as equally stable.
pub const STABILITY_TOLERANCE: f64 = 0.02;

/// Share of the points in each stability subsample.
pub const SUBSAMPLE_SHARE: f64 = 0.8;

/// The whole sweep and the K it chose.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct KSweep {
    pub rows: Vec<KSweepRow>,
    /// Knee of the inertia curve (shown, not used for the choice).
    pub elbow_k: Option<usize>,
    pub chosen_k: usize,
    /// The K the sweep's rule chose (stays when the user picks another K).
    pub recommended_k: usize,
    /// Why `chosen_k`, in plain English.
    pub reason: String,
    /// The chosen K's silhouette is below `min_silhouette_score` (or unknown).
    pub weak_structure: bool,
    /// Points of the fixed-seed sample the criteria were computed on; `None`: all points.
    pub sample_size: Option<usize>,
}

impl KSweep {
    /// The row of `k`, if it was swept.
    pub fn row(&self, k: usize) -> Option<&KSweepRow> {
        self.rows.iter().find(|r| r.k == k)
    }
}

/// The points the criteria are computed on: all of them, or a fixed-seed sample above
/// `cfg.sweep_sample`.
struct SweepPoints<'a> {
    rows: CowArray<'a, f64, Ix2>,
    /// Set when `rows` is a sample of the data.
    sampled: bool,
}

impl<'a> SweepPoints<'a> {
    fn of(data: ArrayView2<'a, f64>, cfg: &KMeansConfig) -> Self {
        let n = data.nrows();
        if n <= cfg.sweep_sample {
            return SweepPoints { rows: CowArray::from(data), sampled: false };
        }
        let idx = sample_indices(n, cfg.sweep_sample, derive_seed(cfg.seed, &[SWEEP_SAMPLE_SEED]));
        let sample: Array2<f64> = data.select(Axis(0), &idx);
        SweepPoints { rows: CowArray::from(sample), sampled: true }
    }

    fn view(&self) -> ArrayView2<'_, f64> {
        self.rows.view()
    }

    /// The K-means fit on every point: the sweep's own on all points, or refined from the
    /// sample's centroids.
    fn fit_everyone(
        &self,
        data: ArrayView2<'_, f64>,
        fit: KMeansFit,
        cfg: &KMeansConfig,
        progress: &Progress,
    ) -> Result<KMeansFit, ClusterError> {
        if self.sampled {
            // The new fit's own labels on every point: its silhouette is computed afresh.
            kmeans_from(data, fit.centroids, cfg.max_iter, progress)
        } else {
            Ok(fit)
        }
    }
}

/// Seed tag of the sweep's sample.
const SWEEP_SAMPLE_SEED: u64 = 0x5EE9;

/// Sweep K over `cfg.k_min..=cfg.k_max` (K < n) and return the sweep with the chosen K's fit.
/// Above `cfg.sweep_sample` points the criteria come from a fixed-seed sample and the chosen K is
/// then fitted on every point starting from the sample's centroids.
pub fn sweep_k(
    data: ArrayView2<'_, f64>,
    cfg: &KMeansConfig,
    progress: &Progress,
) -> Result<(KSweep, KMeansFit), ClusterError> {
    let n = data.nrows();
    let ks: Vec<usize> = (cfg.k_min.max(2)..=cfg.k_max).filter(|&k| k < n).collect();
    if ks.is_empty() {
        return Err(ClusterError::TooFewPoints { n, k: cfg.k_min.max(2) + 1 });
    }
    let points = SweepPoints::of(data, cfg);
    let sweep_end = if points.sampled { 0.9 } else { 1.0 };
    let m = points.view().nrows();
    let total = ks.iter().map(|&k| fits_per_k(m, k, cfg)).sum();
    let tally = FitTally::new(&sub_progress(progress, 0.0, 0.95 * sweep_end), total);
    let evaluated: Vec<(KSweepRow, KMeansFit)> = ks
        .par_iter()
        .map(|&k| evaluate_on(points.view(), k, cfg, &tally))
        .collect::<Result<_, _>>()?;
    let (mut rows, mut fits): (Vec<KSweepRow>, Vec<KMeansFit>) = evaluated.into_iter().unzip();
    progress.update(0.95 * sweep_end, "K-means: silhouettes of every K");
    progress.check_cancel()?;
    let labelings: Vec<&[usize]> = fits.iter().map(|f| f.labels.as_slice()).collect();
    let mut sils = silhouette_summaries(points.view(), &labelings, cfg.silhouette_sample, cfg.seed);
    for (row, sil) in rows.iter_mut().zip(&sils) {
        row.silhouette = sil.as_ref().map(|s| s.mean);
    }
    let inertia: Vec<f64> = rows.iter().map(|r| r.inertia).collect();
    let elbow_k = knee(&inertia).map(|i| rows[i].k);
    let chosen = choose_k(&rows);
    let chosen_k = rows[chosen].k;
    let weak_structure = rows[chosen].silhouette.is_none_or(|s| s < cfg.min_silhouette_score);
    let sample_size = points.sampled.then(|| points.view().nrows());
    let mut reason = explain_choice(&rows, chosen, cfg.min_silhouette_score);
    if let Some(m) = sample_size {
        reason.push_str(&sample_note(m, n));
    }
    let kept = KMeansFit { silhouette: sils.swap_remove(chosen), ..fits.swap_remove(chosen) };
    let fit = points.fit_everyone(data, kept, cfg, &sub_progress(progress, sweep_end, 1.0))?;
    let fit = refit_labels(data, fit);
    progress.update(1.0, format!("K-means: chose K = {chosen_k}"));
    let sweep = KSweep {
        rows,
        elbow_k,
        chosen_k,
        recommended_k: chosen_k,
        reason,
        weak_structure,
        sample_size,
    };
    Ok((sweep, fit))
}

/// Fit K-means with a K the user picked (same seeds and runs as the sweep uses for that K).
pub fn fit_with_k(
    data: ArrayView2<'_, f64>,
    k: usize,
    cfg: &KMeansConfig,
    progress: &Progress,
) -> Result<KMeansFit, ClusterError> {
    if k < 2 || k >= data.nrows() {
        return Err(ClusterError::BadK { k, n: data.nrows() });
    }
    kmeans(data, k, cfg.n_init, cfg.max_iter, cfg.seed, progress)
}

/// Criteria row for one K (on the sweep's points: the same sample as [`sweep_k`] above
/// `cfg.sweep_sample`) and the fit on every point.
pub(crate) fn evaluate_k(
    data: ArrayView2<'_, f64>,
    k: usize,
    cfg: &KMeansConfig,
    progress: &Progress,
) -> Result<(KSweepRow, KMeansFit), ClusterError> {
    if k < 2 || k >= data.nrows() {
        return Err(ClusterError::BadK { k, n: data.nrows() });
    }
    let points = SweepPoints::of(data, cfg);
    let end = if points.sampled { 0.9 } else { 1.0 };
    let tally =
        FitTally::new(&sub_progress(progress, 0.0, end), fits_per_k(points.view().nrows(), k, cfg));
    let (mut row, fit) = evaluate_on(points.view(), k, cfg, &tally)?;
    let sil = silhouette_summary(points.view(), &fit.labels, cfg.silhouette_sample, cfg.seed);
    row.silhouette = sil.as_ref().map(|s| s.mean);
    let fit = KMeansFit { silhouette: sil, ..fit };
    let fit = points.fit_everyone(data, fit, cfg, &sub_progress(progress, end, 1.0))?;
    Ok((row, fit))
}

/// Criteria row for one K on `data` (and the kept fit), silhouette left to the caller (the sweep
/// computes every K's in one pass). The `n_init` runs and the stability fits run in parallel.
fn evaluate_on(
    data: ArrayView2<'_, f64>,
    k: usize,
    cfg: &KMeansConfig,
    tally: &FitTally,
) -> Result<(KSweepRow, KMeansFit), ClusterError> {
    if k < 2 || k >= data.nrows() {
        return Err(ClusterError::BadK { k, n: data.nrows() });
    }
    let progress = tally.progress();
    let (fit, stability) = rayon::join(
        || {
            let points = KMeansPoints::new(data);
            points.best_of_runs(k, cfg.n_init, cfg.seed, cfg.max_iter, progress, &|| tally.tick(k))
        },
        || stability(data, k, cfg, tally),
    );
    let (fit, stability) = (fit?, stability?);
    progress.check_cancel()?;
    let row = KSweepRow {
        k,
        inertia: fit.inertia,
        silhouette: None,
        calinski_harabasz: calinski_harabasz(data, &fit.labels),
        davies_bouldin: davies_bouldin(data, &fit.labels),
        stability,
    };
    Ok((row, fit))
}

/// Size of each stability subsample of `n` points.
fn subsample_size(n: usize) -> usize {
    ((n as f64) * SUBSAMPLE_SHARE).round() as usize
}

/// K-means fits the evaluation of `k` on `n` points takes: the `n_init` runs and two per
/// stability pair (when stability can be measured).
fn fits_per_k(n: usize, k: usize, cfg: &KMeansConfig) -> usize {
    let stability =
        if subsample_size(n) > k { 2 * cfg.stability_pairs * cfg.stability_runs } else { 0 };
    cfg.n_init.max(1) + stability
}

/// Mean adjusted Rand index between fits on pairs of 80% subsamples, compared on all points.
/// The fits (the best of `stability_runs` runs each, fixed seeds) run in parallel; the pairs'
/// indices are averaged in pair order.
fn stability(
    data: ArrayView2<'_, f64>,
    k: usize,
    cfg: &KMeansConfig,
    tally: &FitTally,
) -> Result<Option<f64>, ClusterError> {
    let n = data.nrows();
    let m = subsample_size(n);
    if cfg.stability_pairs == 0 || m <= k {
        return Ok(None);
    }
    let progress = tally.progress();
    let labelings: Vec<Vec<usize>> = (0..2 * cfg.stability_pairs)
        .into_par_iter()
        .map(|t| {
            let (p, side) = (t / 2, (t % 2) as u64);
            let seed = derive_seed(cfg.seed, &[0x57AB, k as u64, p as u64, side]);
            let rows = data.select(Axis(0), &sample_indices(n, m, seed));
            let points = KMeansPoints::new(rows.view());
            let fit = points.best_of_runs(
                k,
                cfg.stability_runs,
                seed,
                cfg.max_iter,
                progress,
                &|| tally.tick(k),
            )?;
            Ok(nearest_labels(data, fit.centroids.view()))
        })
        .collect::<Result<_, ClusterError>>()?;
    let total: f64 =
        labelings.chunks_exact(2).map(|pair| adjusted_rand_index(&pair[0], &pair[1])).sum();
    Ok(Some(total / cfg.stability_pairs as f64))
}

/// Counts the K-means fits finished by the sweep's parallel tasks and reports the share done (in
/// order: one report at a time).
struct FitTally {
    progress: Progress,
    done: Mutex<usize>,
    total: usize,
}

impl FitTally {
    fn new(progress: &Progress, total: usize) -> Self {
        FitTally { progress: progress.clone(), done: Mutex::new(0), total: total.max(1) }
    }

    /// The progress handle of the sweep (for its cancel flag).
    fn progress(&self) -> &Progress {
        &self.progress
    }

    /// One more fit finished (one of `k`'s).
    fn tick(&self, k: usize) {
        if let Ok(mut done) = self.done.lock() {
            *done += 1;
            let message = format!("K-means: {} of {} fits (K = {k})", *done, self.total);
            self.progress.update(*done as f64 / self.total as f64, message);
        }
    }
}

/// Index of the chosen row: highest stability, then best silhouette within the tolerance, then
/// the smaller K. Without any stability: best silhouette; without either: the first row.
fn choose_k(rows: &[KSweepRow]) -> usize {
    let best_stability = rows.iter().filter_map(|r| r.stability).fold(f64::NEG_INFINITY, f64::max);
    let eligible = |r: &KSweepRow| {
        best_stability == f64::NEG_INFINITY
            || r.stability.is_some_and(|s| s >= best_stability - STABILITY_TOLERANCE)
    };
    let sil = |r: &KSweepRow| r.silhouette.unwrap_or(f64::NEG_INFINITY);
    (0..rows.len())
        .filter(|&i| eligible(&rows[i]))
        .fold(None, |best: Option<usize>, i| match best {
            Some(b) if sil(&rows[b]) >= sil(&rows[i]) => Some(b),
            _ => Some(i),
        })
        .unwrap_or(0)
}

fn fmt_opt(v: Option<f64>) -> String {
    v.map_or_else(|| "n/a".to_string(), |v| format!("{v:.2}"))
}

/// Plain-English reason for the choice.
fn explain_choice(rows: &[KSweepRow], chosen: usize, min_silhouette: f64) -> String {
    let row = &rows[chosen];
    let best_stability = rows.iter().filter_map(|r| r.stability).fold(f64::NEG_INFINITY, f64::max);
    let mut text = if best_stability == f64::NEG_INFINITY {
        format!(
            "K={}: best silhouette ({}); stability was not measured",
            row.k,
            fmt_opt(row.silhouette)
        )
    } else {
        let close: Vec<String> = rows
            .iter()
            .filter(|r| r.stability.is_some_and(|s| s >= best_stability - STABILITY_TOLERANCE))
            .map(|r| r.k.to_string())
            .collect();
        if close.len() == 1 {
            format!(
                "K={}: most stable ({}); silhouette {}",
                row.k,
                fmt_opt(row.stability),
                fmt_opt(row.silhouette)
            )
        } else {
            format!(
                "K={}: stability {} (best {best_stability:.2}); silhouette {} best among K within \
                 {STABILITY_TOLERANCE} of it (K = {})",
                row.k,
                fmt_opt(row.stability),
                fmt_opt(row.silhouette),
                close.join(", ")
            )
        }
    };
    if row.silhouette.is_none_or(|s| s < min_silhouette) {
        text.push_str(&format!(
            ". Weak structure: silhouette below {min_silhouette}, the segments overlap; treat them \
             as a rough grouping"
        ));
    }
    text
}

/// What the reason adds when the sweep ran on a sample of `m` of the `n` points.
fn sample_note(m: usize, n: usize) -> String {
    format!(
        ". The criteria of every K were computed on a fixed-seed sample of {m} of the {n} \
         customers; the chosen K was then fitted on all {n}"
    )
}

/// The kept fit with its labels on `data` given by [`nearest_labels`] (as every later placement
/// of a customer is); the silhouette is kept if the labels are Lloyd's (they are up to exact
/// ties).
fn refit_labels(data: ArrayView2<'_, f64>, fit: KMeansFit) -> KMeansFit {
    let labels = nearest_labels(data, fit.centroids.view());
    let silhouette = fit.silhouette.filter(|_| labels == fit.labels);
    KMeansFit { labels, silhouette, ..fit }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::cluster::synthetic::synthetic_blobs;

    fn cfg(k_min: usize, k_max: usize) -> KMeansConfig {
        KMeansConfig { k_min, k_max, n_init: 3, ..KMeansConfig::default() }
    }

    #[test]
    fn picks_four_planted_blobs() {
        let (x, truth) = synthetic_blobs(1200, 8, 4, 1.0, 21);
        let (sweep, fit) = sweep_k(x.view(), &cfg(2, 7), &Progress::none()).unwrap();
        assert_eq!(sweep.chosen_k, 4, "{sweep:#?}");
        assert_eq!(adjusted_rand_index(&fit.labels, &truth), 1.0);
        assert!(!sweep.weak_structure);
        let row = sweep.row(4).unwrap();
        assert!(row.stability.unwrap() > 0.99 && row.silhouette.unwrap() > 0.5);
        assert_eq!(sweep.rows.len(), 6);
        assert!(sweep.reason.starts_with("K=4"), "{}", sweep.reason);
        // The elbow of the inertia curve is also at 4.
        assert_eq!(sweep.elbow_k, Some(4));
    }

    #[test]
    fn choice_rule_prefers_silhouette_among_equally_stable() {
        let row = |k, sil, stab| KSweepRow {
            k,
            inertia: 0.0,
            silhouette: Some(sil),
            calinski_harabasz: None,
            davies_bouldin: None,
            stability: Some(stab),
        };
        // Stabilities 0.90, 0.97, 0.96, 0.80: K=4 and K=5 are within 0.02 of the best 0.97;
        // K=5 has the better silhouette (0.45 > 0.41).
        let rows =
            vec![row(3, 0.60, 0.90), row(4, 0.41, 0.97), row(5, 0.45, 0.96), row(6, 0.5, 0.8)];
        assert_eq!(rows[choose_k(&rows)].k, 5);
        let text = explain_choice(&rows, 2, 0.3);
        assert!(
            text.contains("K=5") && text.contains("0.45") && text.contains("K = 4, 5"),
            "{text}"
        );
        assert!(explain_choice(&rows, 2, 0.5).contains("Weak structure"));
    }

    #[test]
    fn above_the_sample_size_sweeps_a_sample_and_fits_everyone() {
        let (x, truth) = synthetic_blobs(3000, 8, 4, 1.0, 21);
        let sampled = KMeansConfig { sweep_sample: 1000, ..cfg(2, 6) };
        let (sweep, fit) = sweep_k(x.view(), &sampled, &Progress::none()).unwrap();
        assert_eq!(sweep.chosen_k, 4, "{sweep:#?}");
        assert_eq!(sweep.sample_size, Some(1000));
        assert!(sweep.reason.contains("sample of 1000 of the 3000 customers"), "{}", sweep.reason);
        // The fit covers every point, and its inertia is over every point (~ n d spread^2).
        assert_eq!(fit.labels.len(), 3000);
        assert_eq!(adjusted_rand_index(&fit.labels, &truth), 1.0);
        assert!((fit.inertia / 24_000.0 - 1.0).abs() < 0.05, "{}", fit.inertia);
        // The rows are the criteria of the sample: the sample's own sweep gives the same rows.
        let idx = sample_indices(3000, 1000, derive_seed(sampled.seed, &[SWEEP_SAMPLE_SEED]));
        let sample = x.select(Axis(0), &idx);
        let (on_sample, _) = sweep_k(sample.view(), &cfg(2, 6), &Progress::none()).unwrap();
        assert_eq!(on_sample.rows, sweep.rows);
        assert_eq!(on_sample.sample_size, None);
        assert!(!on_sample.reason.contains("sample"), "{}", on_sample.reason);
        // Another K evaluated alone uses the same sample (silhouette: same up to rounding).
        let (row, fit5) = evaluate_k(x.view(), 5, &sampled, &Progress::none()).unwrap();
        let swept = sweep.row(5).unwrap();
        assert_eq!((row.inertia, row.stability), (swept.inertia, swept.stability));
        assert!((row.silhouette.unwrap() - swept.silhouette.unwrap()).abs() < 1e-9);
        assert_eq!(fit5.labels.len(), 3000);
        // Below the sample size nothing changes.
        let (full, _) = sweep_k(x.view(), &cfg(2, 6), &Progress::none()).unwrap();
        assert_eq!(full.sample_size, None);
        assert_ne!(full.rows, sweep.rows);
    }

    #[test]
    fn one_pass_silhouettes_equal_each_ks_own() {
        let (x, _) = synthetic_blobs(1500, 5, 5, 3.0, 9);
        let c = KMeansConfig { silhouette_sample: 600, ..cfg(3, 6) };
        let (sweep, _) = sweep_k(x.view(), &c, &Progress::none()).unwrap();
        for k in 3..=6 {
            let fit = fit_with_k(x.view(), k, &c, &Progress::none()).unwrap();
            let own = silhouette(x.view(), &fit.labels, c.silhouette_sample, c.seed).unwrap();
            let swept = sweep.row(k).unwrap().silhouette.unwrap();
            assert!((own - swept).abs() < 1e-9, "K={k}: {own} vs {swept}");
        }
    }

    #[test]
    fn the_kept_fit_carries_its_silhouette_unless_fitted_beyond_the_sample() {
        let (x, _) = synthetic_blobs(1200, 5, 4, 2.0, 13);
        let c = KMeansConfig { silhouette_sample: 500, ..cfg(3, 6) };
        let (sweep, fit) = sweep_k(x.view(), &c, &Progress::none()).unwrap();
        let kept = fit.silhouette.clone().expect("the sweep's silhouette of the kept fit");
        let fresh = silhouette_summary(x.view(), &fit.labels, 500, c.seed).unwrap();
        assert_eq!(kept.mean, sweep.row(sweep.chosen_k).unwrap().silhouette.unwrap());
        assert!((kept.mean - fresh.mean).abs() < 1e-12, "{} vs {}", kept.mean, fresh.mean);
        assert_eq!(kept.per_cluster.len(), fresh.per_cluster.len());
        for (a, b) in kept.per_cluster.iter().zip(&fresh.per_cluster) {
            assert!((a.unwrap() - b.unwrap()).abs() < 1e-12);
        }
        // Another K evaluated alone carries its own; a sweep on a sample fits everyone afresh.
        let (row, other) = evaluate_k(x.view(), 5, &c, &Progress::none()).unwrap();
        assert_eq!(other.silhouette.map(|s| s.mean), row.silhouette);
        let sampled = KMeansConfig { sweep_sample: 1000, ..c };
        assert_eq!(sweep_k(x.view(), &sampled, &Progress::none()).unwrap().1.silhouette, None);
    }

    /// The sweep in a rayon pool of `threads` threads.
    fn sweep_on(threads: usize, x: &Array2<f64>, c: &KMeansConfig) -> (KSweep, KMeansFit) {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| sweep_k(x.view(), c, &Progress::none()).unwrap())
    }

    #[test]
    fn same_sweep_on_one_and_two_threads() {
        // Overlapping blobs, so the runs of a K reach different optima and the choice matters.
        let (x, _) = synthetic_blobs(2500, 6, 6, 5.0, 12);
        let c = KMeansConfig { n_init: 4, silhouette_sample: 800, ..cfg(3, 8) };
        let one = sweep_on(1, &x, &c);
        assert_eq!(one, sweep_on(2, &x, &c));
        assert_eq!(one, sweep_on(3, &x, &c));
        // Each row is the best of the K's runs fitted one by one, and the stability of the
        // K's subsample fits compared one by one.
        for row in &one.0.rows {
            let alone = kmeans(x.view(), row.k, c.n_init, c.max_iter, c.seed, &Progress::none());
            assert_eq!(row.inertia, alone.unwrap().inertia, "K={}", row.k);
            let (n, m) = (2500, subsample_size(2500));
            let labels = |p: u64, side: u64| {
                let seed = derive_seed(c.seed, &[0x57AB, row.k as u64, p, side]);
                let rows = x.select(Axis(0), &sample_indices(n, m, seed));
                let runs = c.stability_runs;
                let fit = kmeans(rows.view(), row.k, runs, c.max_iter, seed, &Progress::none());
                crate::pipeline::cluster::assign_nearest(x.view(), fit.unwrap().centroids.view()).0
            };
            let mut total = 0.0;
            for p in 0..c.stability_pairs as u64 {
                total += adjusted_rand_index(&labels(p, 0), &labels(p, 1));
            }
            assert_eq!(row.stability, Some(total / c.stability_pairs as f64), "K={}", row.k);
        }
    }

    #[test]
    fn progress_counts_every_fit_in_order_and_cancel_stops_the_sweep() {
        use crate::pipeline::progress::CancelToken;
        use std::sync::{Arc, Mutex};
        let (x, _) = synthetic_blobs(900, 4, 3, 2.0, 6);
        let c = cfg(2, 5);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&seen);
        let progress = Progress::new(
            move |u| sink.lock().unwrap().push((u.fraction, u.message)),
            CancelToken::new(),
        );
        sweep_k(x.view(), &c, &progress).unwrap();
        let seen = seen.lock().unwrap();
        assert!(seen.windows(2).all(|w| w[0].0 <= w[1].0), "{seen:?}");
        assert_eq!(seen.last().unwrap().0, 1.0);
        // K = 2..5, each 3 runs + 3 stability pairs of 2 fits of 3 runs: 4 x 21 = 84 fits.
        let fits: Vec<&String> =
            seen.iter().map(|(_, m)| m).filter(|m| m.contains(" fits")).collect();
        assert_eq!(fits.len(), 84, "{fits:?}");
        assert!(fits[83].starts_with("K-means: 84 of 84 fits"), "{}", fits[83]);
        // Cancelled after the 5th fit: the sweep stops with Cancelled.
        let token = CancelToken::new();
        let (count, cancel) = (Arc::new(Mutex::new(0)), token.clone());
        let counter = Arc::clone(&count);
        let progress = Progress::new(
            move |u| {
                let mut n = counter.lock().unwrap();
                *n += usize::from(u.message.contains(" fits"));
                if *n == 5 {
                    cancel.cancel();
                }
            },
            token,
        );
        assert_eq!(sweep_k(x.view(), &c, &progress).unwrap_err(), ClusterError::Cancelled);
        assert!(*count.lock().unwrap() < 36);
    }

    #[test]
    fn deterministic_and_degenerate() {
        let (x, _) = synthetic_blobs(400, 4, 3, 2.0, 4);
        let c = cfg(2, 4);
        let a = sweep_k(x.view(), &c, &Progress::none()).unwrap();
        let b = sweep_k(x.view(), &c, &Progress::none()).unwrap();
        assert_eq!(a, b);
        let tiny = x.slice(ndarray::s![..3, ..]);
        // K=2 is the only K < 3 points.
        assert_eq!(sweep_k(tiny, &c, &Progress::none()).unwrap().0.rows.len(), 1);
        let two = x.slice(ndarray::s![..2, ..]);
        assert!(matches!(
            sweep_k(two, &c, &Progress::none()),
            Err(ClusterError::TooFewPoints { .. })
        ));
        assert!(matches!(
            fit_with_k(x.view(), 1, &c, &Progress::none()),
            Err(ClusterError::BadK { .. })
        ));
        // All points identical: a defined sweep, flagged weak.
        let same = Array2::from_elem((50, 3), 1.0);
        let (sweep, _) = sweep_k(same.view(), &c, &Progress::none()).unwrap();
        assert!(sweep.weak_structure);
    }
}
