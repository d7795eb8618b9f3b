//! A UMAP-style 2-D embedding, following umap-learn 0.5 step by step.
//!
//! 1. Exact kNN graph ([`exact_knn`]), `n_neighbors - 1` other points per point (umap-learn
//!    counts the point itself as its first neighbour).
//! 2. Fuzzy simplicial set: per point, `rho` = distance to the nearest distinct neighbour and
//!    `sigma` found by binary search so that `sum exp(-(d - rho) / sigma) = log2(n_neighbors)`;
//!    membership `exp(-(d - rho) / sigma)`, symmetrised as `a + b - a b`; edges weaker than
//!    `max / n_epochs` dropped.
//! 3. Initialisation: exact PCA scaled to +-10 plus 1e-4 noise, then each axis rescaled to [0, 10].
//! 4. Stochastic layout in f32: every edge is sampled every `max_w / w` epochs, attracted with
//!    the curve `1 / (1 + a d^(2b))` (a, b least-squares fitted from `min_dist`), plus 5 negative
//!    samples per positive one; gradients clipped at 4; learning rate decays linearly to 0.
//!
//! The layout ([`super::layout`]) runs fixed blocks of points in parallel, each moving only its
//! own points against the others' positions at the start of the epoch, so the result is
//! bit-identical for the same input and seed whatever the number of threads; the kNN search and
//! the per-point fuzzy weights are parallel and deterministic too.

use ndarray::{Array2, ArrayView2};
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;

use super::knn::{KnnGraph, exact_knn};
pub use super::layout::EpochCallback;
pub(crate) use super::layout::FuzzyGraph;
use super::layout::{Curve, LayoutRun, optimize_layout};
use super::pca::pca_2d;
use super::{EmbedError, check_matrix};
use crate::pipeline::progress::Progress;

/// umap-learn's `spread`: the scale of the embedded points.
const SPREAD: f64 = 1.0;
/// Binary-search settings of umap-learn's `smooth_knn_dist`.
const SMOOTH_K_TOLERANCE: f64 = 1e-5;
const MIN_K_DIST_SCALE: f64 = 1e-3;
const SIGMA_SEARCH_STEPS: usize = 64;
/// Half-width of the initial layout and standard deviation of the noise added to it.
const INIT_SCALE: f64 = 10.0;
const INIT_NOISE: f64 = 1e-4;

/// Parameters of [`umap`] (defaults as umap-learn, 200 epochs).
#[derive(Debug, Clone, PartialEq)]
pub struct UmapParams {
    /// Size of the local neighbourhood, the point itself included (>= 2).
    pub n_neighbors: usize,
    /// Smallest distance between embedded points, in [0, 1].
    pub min_dist: f64,
    /// Passes of the stochastic layout.
    pub n_epochs: usize,
    /// Seed of every random choice.
    pub seed: u64,
    /// Call `on_epoch` every this many epochs (0 = never).
    pub snapshot_every: usize,
}

impl Default for UmapParams {
    fn default() -> Self {
        Self { n_neighbors: 15, min_dist: 0.1, n_epochs: 200, seed: 42, snapshot_every: 10 }
    }
}

/// UMAP-style 2-D embedding of every row of `data` (n x 2).
///
/// Reports `epoch e/N` after each epoch and checks for cancellation; calls `on_epoch` every
/// `params.snapshot_every` epochs with the current layout. Degenerate inputs: an empty or
/// non-finite matrix is an error; a single point, or points that are all identical, give all
/// zeros; fewer than `n_neighbors` points use `n - 1` neighbours.
pub fn umap(
    data: ArrayView2<f64>,
    params: &UmapParams,
    progress: &Progress,
    on_epoch: Option<EpochCallback<'_>>,
) -> Result<Array2<f64>, EmbedError> {
    umap_with_neighbours(data, None, params, progress, on_epoch)
}

/// [`umap`] with the neighbour graph of `data` already computed (`exact_knn` with
/// `n_neighbors - 1`, as [`map_neighbours`] does); a graph of another size is computed again.
pub fn umap_with_neighbours(
    data: ArrayView2<f64>,
    neighbours: Option<&KnnGraph>,
    params: &UmapParams,
    progress: &Progress,
    on_epoch: Option<EpochCallback<'_>>,
) -> Result<Array2<f64>, EmbedError> {
    validate(params)?;
    let (n, _) = check_matrix(data)?;
    let pca = pca_2d(data)?;
    let all_identical = pca.explained_variance.iter().all(|&v| v == 0.0);
    if n == 1 || all_identical {
        return Ok(Array2::zeros((n, 2)));
    }
    let k = (params.n_neighbors - 1).min(n - 1);
    let computed;
    let knn = match neighbours {
        Some(graph) if graph.k == k && graph.indices.nrows() == n => graph,
        _ => {
            computed = map_neighbours(data, params.n_neighbors, progress)?;
            &computed
        }
    };
    progress.check_cancel()?;
    let graph = fuzzy_simplicial_set(knn, params.n_neighbors.min(n), params.n_epochs);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(params.seed);
    let mut layout = initial_layout(&pca.coords, &mut rng);
    let (a, b) = fit_ab(SPREAD, params.min_dist);
    let curve = Curve::new(a as f32, b as f32);
    optimize_layout(&mut layout, &graph, &curve, layout_run(params), progress, on_epoch)?;
    Ok(layout.mapv(f64::from))
}

/// The map's neighbour graph of `data`: the `n_neighbors - 1` nearest other points of every row
/// (`n_neighbors` counts the point itself, as in umap-learn).
pub fn map_neighbours(
    data: ArrayView2<f64>,
    n_neighbors: usize,
    progress: &Progress,
) -> Result<KnnGraph, EmbedError> {
    exact_knn(data, n_neighbors.saturating_sub(1), progress)
}

fn layout_run(params: &UmapParams) -> LayoutRun {
    LayoutRun {
        n_epochs: params.n_epochs,
        seed: params.seed,
        snapshot_every: params.snapshot_every,
    }
}

fn validate(params: &UmapParams) -> Result<(), EmbedError> {
    if params.n_neighbors < 2 {
        return Err(EmbedError::InvalidParameter(format!(
            "n_neighbors must be at least 2 (got {})",
            params.n_neighbors
        )));
    }
    if !(0.0..=1.0).contains(&params.min_dist) {
        return Err(EmbedError::InvalidParameter(format!(
            "min_dist must be between 0 and 1 (got {})",
            params.min_dist
        )));
    }
    Ok(())
}

/// Per-point smoothing of umap-learn's `smooth_knn_dist`: (rho, sigma).
///
/// `distances` are the point's neighbours (itself excluded), ascending; `n_neighbors` counts the
/// point itself, as in umap-learn, so the target is `log2(n_neighbors)`; `mean_all` is the mean
/// neighbour distance over all points (used as a floor for sigma when rho is 0).
fn smooth_knn_distance(distances: &[f64], n_neighbors: usize, mean_all: f64) -> (f64, f64) {
    let target = (n_neighbors as f64).log2();
    let rho = distances.iter().copied().find(|&d| d > 0.0).unwrap_or(0.0);
    let (mut low, mut high, mut mid) = (0.0_f64, f64::INFINITY, 1.0_f64);
    for _ in 0..SIGMA_SEARCH_STEPS {
        let psum: f64 = distances
            .iter()
            .map(|&d| if d - rho > 0.0 { (-(d - rho) / mid).exp() } else { 1.0 })
            .sum();
        if (psum - target).abs() < SMOOTH_K_TOLERANCE {
            break;
        }
        if psum > target {
            high = mid;
            mid = (low + high) / 2.0;
        } else {
            low = mid;
            mid = if high.is_infinite() { mid * 2.0 } else { (low + high) / 2.0 };
        }
    }
    // umap-learn's mean includes the point itself at distance 0.
    let mean_own = distances.iter().sum::<f64>() / (distances.len() + 1) as f64;
    let floor = MIN_K_DIST_SCALE * if rho > 0.0 { mean_own } else { mean_all };
    (rho, mid.max(floor))
}

/// Fuzzy simplicial set of a kNN graph: memberships, fuzzy union, weak edges dropped.
pub(crate) fn fuzzy_simplicial_set(
    knn: &KnnGraph,
    n_neighbors: usize,
    n_epochs: usize,
) -> FuzzyGraph {
    let n = knn.indices.nrows();
    let k = knn.k;
    if k == 0 {
        return FuzzyGraph::default();
    }
    let mean_all = knn.distances.sum() / (n * (k + 1)) as f64;
    let memberships: Vec<Vec<f64>> =
        (0..n)
            .into_par_iter()
            .map(|i| {
                let row = knn.distances.row(i);
                let distances = row.as_slice().map(<[f64]>::to_vec).unwrap_or_else(|| row.to_vec());
                let (rho, sigma) = smooth_knn_distance(&distances, n_neighbors, mean_all);
                distances
                    .iter()
                    .map(|&d| {
                        if d - rho <= 0.0 || sigma == 0.0 {
                            1.0
                        } else {
                            (-(d - rho) / sigma).exp()
                        }
                    })
                    .collect()
            })
            .collect();

    // Each directed membership i -> j enters as (i, j, w, forward) and (j, i, w, transposed);
    // after sorting by (row, column) the two halves of a pair are adjacent.
    let mut entries: Vec<(u64, f64, bool)> = Vec::with_capacity(2 * n * k);
    for (i, row) in memberships.iter().enumerate() {
        for (slot, &w) in row.iter().enumerate() {
            let j = knn.indices[[i, slot]];
            entries.push(((i * n + j) as u64, w, true));
            entries.push(((j * n + i) as u64, w, false));
        }
    }
    entries.sort_unstable_by(|x, y| x.0.cmp(&y.0).then(y.2.cmp(&x.2)));

    let mut graph = FuzzyGraph::default();
    let mut position = 0;
    while position < entries.len() {
        let key = entries[position].0;
        let (mut forward, mut transposed) = (0.0, 0.0);
        while position < entries.len() && entries[position].0 == key {
            let (_, w, is_forward) = entries[position];
            if is_forward {
                forward = w
            } else {
                transposed = w
            }
            position += 1;
        }
        let union = forward + transposed - forward * transposed;
        graph.head.push((key / n as u64) as u32);
        graph.tail.push((key % n as u64) as u32);
        graph.weight.push(union);
    }
    drop_weak_edges(graph, n_epochs)
}

/// Removes edges that would be sampled less than once (weight < max / n_epochs) or have weight 0.
fn drop_weak_edges(graph: FuzzyGraph, n_epochs: usize) -> FuzzyGraph {
    let max = graph.weight.iter().copied().fold(0.0, f64::max);
    let threshold = max / n_epochs.max(1) as f64;
    let mut kept = FuzzyGraph::default();
    for ((&h, &t), &w) in graph.head.iter().zip(&graph.tail).zip(&graph.weight) {
        if w > 0.0 && w >= threshold {
            kept.head.push(h);
            kept.tail.push(t);
            kept.weight.push(w);
        }
    }
    kept
}

/// PCA coordinates scaled to +-10, a little Gaussian noise, then each axis mapped onto [0, 10].
fn initial_layout(pca: &Array2<f64>, rng: &mut Xoshiro256PlusPlus) -> Array2<f32> {
    let largest = pca.iter().fold(0.0_f64, |m, x| m.max(x.abs()));
    let expansion = if largest > 0.0 { INIT_SCALE / largest } else { 1.0 };
    let mut layout = pca.mapv(|x| (x * expansion) as f32);
    layout.iter_mut().for_each(|x| *x += (INIT_NOISE * standard_normal(rng)) as f32);
    for mut axis in layout.columns_mut() {
        let low = axis.iter().copied().fold(f32::INFINITY, f32::min);
        let high = axis.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        if high > low {
            axis.mapv_inplace(|x| INIT_SCALE as f32 * (x - low) / (high - low));
        }
    }
    layout
}

/// A standard normal draw (Box-Muller).
fn standard_normal(rng: &mut Xoshiro256PlusPlus) -> f64 {
    let u1: f64 = 1.0 - rng.r#gen::<f64>(); // (0, 1]
    let u2: f64 = rng.r#gen::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Least-squares fit of `1 / (1 + a x^(2b))` to umap-learn's target curve (1 below `min_dist`,
/// `exp(-(x - min_dist) / spread)` above) on 300 points of [0, 3 spread], by Levenberg-Marquardt
/// from (1, 1) as scipy's `curve_fit` does. Returns (a, b).
pub fn fit_ab(spread: f64, min_dist: f64) -> (f64, f64) {
    let xs: Vec<f64> = (0..300).map(|i| 3.0 * spread * i as f64 / 299.0).collect();
    let ys: Vec<f64> = xs
        .iter()
        .map(|&x| if x < min_dist { 1.0 } else { (-(x - min_dist) / spread).exp() })
        .collect();
    let cost = |a: f64, b: f64| -> f64 {
        xs.iter().zip(&ys).map(|(&x, &y)| (curve_value(x, a, b) - y).powi(2)).sum()
    };
    let (mut a, mut b) = (1.0_f64, 1.0_f64);
    let mut current = cost(a, b);
    let mut damping = 1e-3;
    for _ in 0..500 {
        let (mut jtj, mut jtr) = ([[0.0_f64; 2]; 2], [0.0_f64; 2]);
        for (&x, &y) in xs.iter().zip(&ys) {
            let (value, da, db) = curve_with_gradient(x, a, b);
            let residual = value - y;
            let g = [da, db];
            for r in 0..2 {
                jtr[r] += g[r] * residual;
                for c in 0..2 {
                    jtj[r][c] += g[r] * g[c];
                }
            }
        }
        let m =
            [[jtj[0][0] * (1.0 + damping), jtj[0][1]], [jtj[1][0], jtj[1][1] * (1.0 + damping)]];
        let det = m[0][0] * m[1][1] - m[0][1] * m[1][0];
        if det.abs() < f64::MIN_POSITIVE {
            break;
        }
        let step_a = -(m[1][1] * jtr[0] - m[0][1] * jtr[1]) / det;
        let step_b = -(m[0][0] * jtr[1] - m[1][0] * jtr[0]) / det;
        let (next_a, next_b) = (a + step_a, b + step_b);
        let next = cost(next_a, next_b);
        if next.is_finite() && next < current {
            let converged = (current - next) <= 1e-15 * current.max(1e-300);
            (a, b, current) = (next_a, next_b, next);
            damping = (damping / 10.0).max(1e-12);
            if converged {
                break;
            }
        } else {
            damping *= 10.0;
            if damping > 1e12 {
                break;
            }
        }
    }
    (a, b)
}

fn curve_value(x: f64, a: f64, b: f64) -> f64 {
    if x <= 0.0 { 1.0 } else { 1.0 / (1.0 + a * x.powf(2.0 * b)) }
}

/// Value and partial derivatives (d/da, d/db) of `1 / (1 + a x^(2b))`.
fn curve_with_gradient(x: f64, a: f64, b: f64) -> (f64, f64, f64) {
    if x <= 0.0 {
        return (1.0, 0.0, 0.0);
    }
    let p = x.powf(2.0 * b);
    let denominator = 1.0 + a * p;
    let value = 1.0 / denominator;
    let da = -p / (denominator * denominator);
    let db = -a * p * 2.0 * x.ln() / (denominator * denominator);
    (value, da, db)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::embed::trustworthiness::trustworthiness;
    use crate::pipeline::progress::CancelToken;
    use ndarray::array;
    use std::sync::Mutex;
    use std::time::Instant;

    /// `blobs` Gaussian blobs (sd 1) in `d` dimensions with centres 10 apart on random axes.
    fn gaussian_blobs(n: usize, d: usize, blobs: usize, seed: u64) -> (Array2<f64>, Vec<usize>) {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let centres = Array2::from_shape_fn((blobs, d), |_| 10.0 * rng.gen_range(-1.0..1.0));
        let labels: Vec<usize> = (0..n).map(|i| i % blobs).collect();
        let data = Array2::from_shape_fn((n, d), |(i, j)| {
            centres[[labels[i], j]] + standard_normal(&mut rng)
        });
        (data, labels)
    }

    /// Leave-one-out k-nearest-neighbour vote in the embedding (ties -> lowest label).
    fn knn_accuracy(embedding: &Array2<f64>, labels: &[usize], k: usize) -> f64 {
        let graph = exact_knn(embedding.view(), k, &Progress::none()).unwrap();
        let classes = labels.iter().max().unwrap() + 1;
        let correct = (0..labels.len())
            .filter(|&i| {
                let mut votes = vec![0usize; classes];
                graph.indices.row(i).iter().for_each(|&j| votes[labels[j]] += 1);
                let best =
                    (0..classes).max_by(|&a, &b| votes[a].cmp(&votes[b]).then(b.cmp(&a))).unwrap();
                best == labels[i]
            })
            .count();
        correct as f64 / labels.len() as f64
    }

    fn quick(n_epochs: usize) -> UmapParams {
        UmapParams { n_epochs, ..UmapParams::default() }
    }

    #[test]
    fn ab_fit_matches_umap_learn() {
        // umap-learn's find_ab_params(1.0, 0.1) = (1.5769434603113077, 0.8950608781227859).
        let (a, b) = fit_ab(1.0, 0.1);
        assert!((a - 1.576_943_46).abs() < 1e-4 && (b - 0.895_060_88).abs() < 1e-4, "{a} {b}");
        // Larger min_dist flattens the curve near 0: b grows, a falls.
        let (a5, b5) = fit_ab(1.0, 0.5);
        assert!(a5 < a && b5 > b, "{a5} {b5}");
    }

    #[test]
    fn sigma_search_hits_the_log2_target() {
        // Neighbours at 1, 2, 3, 4 (self excluded), n_neighbors = 5: rho = 1 and
        // sum_j exp(-(d_j - 1) / sigma) must equal log2(5) = 2.3219...
        let (rho, sigma) = smooth_knn_distance(&[1.0, 2.0, 3.0, 4.0], 5, 2.0);
        assert_eq!(rho, 1.0);
        let total: f64 = [0.0, 1.0, 2.0, 3.0].iter().map(|x: &f64| (-x / sigma).exp()).sum();
        assert!((total - 5f64.log2()).abs() < 1e-4, "{total}");
    }

    #[test]
    fn fuzzy_graph_is_symmetric_with_unit_bounded_weights() {
        let (data, _) = gaussian_blobs(300, 5, 3, 11);
        let knn = exact_knn(data.view(), 14, &Progress::none()).unwrap();
        let graph = fuzzy_simplicial_set(&knn, 15, 200);
        let mut edges: Vec<(u32, u32, u64)> = graph
            .head
            .iter()
            .zip(&graph.tail)
            .zip(&graph.weight)
            .map(|((&h, &t), &w)| (h, t, w.to_bits()))
            .collect();
        let mut mirrored: Vec<(u32, u32, u64)> = edges.iter().map(|&(h, t, w)| (t, h, w)).collect();
        edges.sort_unstable();
        mirrored.sort_unstable();
        assert_eq!(edges, mirrored);
        assert!(graph.weight.iter().all(|&w| w > 0.0 && w <= 1.0));
        // Every point's nearest neighbour gets membership 1 (d = rho), so the maximum is 1.
        assert_eq!(graph.weight.iter().copied().fold(0.0, f64::max), 1.0);
    }

    #[test]
    fn separated_blobs_stay_apart() {
        // 5 blobs x 400 points in 20 dimensions.
        let (data, labels) = gaussian_blobs(2000, 20, 5, 3);
        let embedding = umap(data.view(), &quick(100), &Progress::none(), None).unwrap();
        assert!(embedding.iter().all(|x| x.is_finite()));
        let accuracy = knn_accuracy(&embedding, &labels, 5);
        assert!(accuracy > 0.95, "kNN accuracy {accuracy}");
        let trust = trustworthiness(data.view(), embedding.view(), 15).unwrap();
        assert!(trust > 0.9, "trustworthiness {trust}");
    }

    #[test]
    fn same_seed_gives_bit_identical_output_on_any_thread_count() {
        // 1,500 points: three layout blocks, so the blocks really run in parallel.
        let (data, _) = gaussian_blobs(1500, 8, 4, 5);
        let params = quick(60);
        let with_threads = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| umap(data.view(), &params, &Progress::none(), None)).unwrap()
        };
        let bits = |a: &Array2<f64>| a.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        let one = with_threads(1);
        assert_eq!(bits(&one), bits(&with_threads(2)));
        assert_eq!(bits(&one), bits(&with_threads(3)));
        let other_seed = UmapParams { seed: 7, ..params };
        let third = umap(data.view(), &other_seed, &Progress::none(), None).unwrap();
        assert_ne!(one, third);
    }

    #[test]
    fn degenerate_inputs_give_clear_results() {
        let p = quick(20);
        let none = Progress::none();
        assert_eq!(
            umap(Array2::<f64>::zeros((0, 3)).view(), &p, &none, None),
            Err(EmbedError::NoPoints)
        );
        assert_eq!(
            umap(array![[1.0, 2.0]].view(), &p, &none, None).unwrap(),
            Array2::<f64>::zeros((1, 2))
        );
        let duplicates = Array2::from_elem((30, 4), 2.5);
        assert_eq!(
            umap(duplicates.view(), &p, &none, None).unwrap(),
            Array2::<f64>::zeros((30, 2))
        );
        // Fewer points than neighbours: falls back to n - 1 neighbours.
        let few = array![[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [5.0, 5.0], [6.0, 5.0]];
        let embedding = umap(few.view(), &p, &none, None).unwrap();
        assert_eq!(embedding.dim(), (5, 2));
        assert!(embedding.iter().all(|x| x.is_finite()));
        // One feature, with repeated values.
        let line = Array2::from_shape_fn((60, 1), |(i, _)| (i % 20) as f64);
        assert!(umap(line.view(), &p, &none, None).unwrap().iter().all(|x| x.is_finite()));
        let two = array![[0.0], [1.0]];
        assert!(umap(two.view(), &p, &none, None).unwrap().iter().all(|x| x.is_finite()));
        let bad = UmapParams { n_neighbors: 1, ..p.clone() };
        assert!(matches!(
            umap(few.view(), &bad, &none, None),
            Err(EmbedError::InvalidParameter(_))
        ));
        let nan = array![[0.0], [f64::NAN]];
        assert_eq!(
            umap(nan.view(), &p, &none, None),
            Err(EmbedError::NonFinite { row: 1, column: 0 })
        );
    }

    #[test]
    fn reports_epochs_snapshots_and_honours_cancel() {
        let (data, _) = gaussian_blobs(200, 4, 2, 9);
        let messages = std::sync::Arc::new(Mutex::new(Vec::new()));
        let sink = messages.clone();
        let progress = Progress::new(
            move |u| sink.lock().unwrap().push((u.fraction, u.message)),
            CancelToken::new(),
        );
        let snapshots = Mutex::new(Vec::new());
        let record = |epoch: usize, layout: &Array2<f32>| {
            snapshots.lock().unwrap().push((epoch, layout.nrows()))
        };
        let params = UmapParams { n_epochs: 30, snapshot_every: 10, ..UmapParams::default() };
        umap(data.view(), &params, &progress, Some(&record)).unwrap();
        assert_eq!(*snapshots.lock().unwrap(), vec![(10, 200), (20, 200), (30, 200)]);
        let messages = messages.lock().unwrap();
        assert!(messages.contains(&(0.5, "epoch 15/30".to_string())));
        assert_eq!(messages.last().unwrap(), &(1.0, "epoch 30/30".to_string()));

        let cancel = CancelToken::new();
        cancel.cancel();
        let cancelled = Progress::new(|_| {}, cancel);
        assert_eq!(umap(data.view(), &params, &cancelled, None), Err(EmbedError::Cancelled));
    }

    /// `cargo test --lib pipeline::embed::umap::tests::benchmark_20k -- --ignored --nocapture`:
    /// wall and CPU seconds of each part of the map of 20,000 x 25 (12 blobs of varied spread,
    /// standardised), and its trustworthiness as the cluster stage computes it (k = 10 on a
    /// 2,000-point sample). `GOLD_DB=analysis.duckdb` maps that analysis's gold matrix instead
    /// (its first 20,000 rows).
    #[test]
    #[ignore]
    fn benchmark_20k() {
        let data = match std::env::var("GOLD_DB") {
            Ok(path) => {
                let config = crate::pipeline::config::StoreConfig::default();
                let store = crate::pipeline::store::Store::open(path.as_ref(), &config).unwrap();
                let gold = crate::pipeline::gold::read_gold(&store).unwrap().2;
                let rows = gold.nrows().min(20_000);
                gold.slice(ndarray::s![..rows, ..]).to_owned()
            }
            Err(_) => {
                let (mut data, _) = gaussian_blobs(20_000, 25, 12, 21);
                for mut column in data.columns_mut() {
                    let mean = column.mean().unwrap();
                    let sd = column.std(0.0);
                    column.mapv_inplace(|x| (x - mean) / sd);
                }
                data
            }
        };
        let none = Progress::none();
        let params = UmapParams::default();
        let timed = |name: &str, f: &mut dyn FnMut()| {
            let (wall, cpu) = (Instant::now(), crate::pipeline::memory::process_cpu_seconds());
            f();
            let cpu = crate::pipeline::memory::process_cpu_seconds() - cpu;
            println!("{name:>14}: {:6.3} s wall, {cpu:6.3} s CPU", wall.elapsed().as_secs_f64());
        };
        println!("{} x {}", data.nrows(), data.ncols());
        let mut knn = None;
        timed("kNN", &mut || knn = Some(exact_knn(data.view(), 14, &none).unwrap()));
        let mut graph = FuzzyGraph::default();
        let knn = knn.unwrap();
        timed("fuzzy graph", &mut || graph = fuzzy_simplicial_set(&knn, 15, params.n_epochs));
        let mut layout = Array2::zeros((0, 2));
        timed("PCA, init", &mut || {
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(params.seed);
            layout = initial_layout(&pca_2d(data.view()).unwrap().coords, &mut rng);
        });
        let (a, b) = fit_ab(SPREAD, params.min_dist);
        let curve = Curve::new(a as f32, b as f32);
        timed("layout", &mut || {
            optimize_layout(&mut layout, &graph, &curve, layout_run(&params), &none, None).unwrap()
        });
        let mut embedding = Array2::zeros((0, 2));
        timed("whole map", &mut || embedding = umap(data.view(), &params, &none, None).unwrap());
        let mut trust = 0.0;
        timed("trustworthiness", &mut || {
            trust = crate::pipeline::embed::trustworthiness_sampled(
                data.view(),
                embedding.view(),
                10,
                2000,
                params.seed,
            )
            .unwrap()
        });
        let max = graph.weight.iter().copied().fold(0.0, f64::max);
        let samples: f64 =
            graph.weight.iter().map(|w| (params.n_epochs as f64 * w / max).floor()).sum();
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        embedding.iter().for_each(|v| v.to_bits().hash(&mut hasher));
        println!(
            "{} edges, {samples:.0} edge samples (each with about 5 negative samples); map \
             trustworthiness (k = 10, 2,000 sample) {trust:.4}; map hash {:016x}",
            graph.head.len(),
            hasher.finish()
        );
    }
}
