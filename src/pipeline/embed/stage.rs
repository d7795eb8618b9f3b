//! The embedding stage: the 2-D views of a clustering, as configured (`embedding.*`), with
//! progress and cancel: PCA of every customer, the UMAP-style map of a stratified sample, and
//! the trustworthiness of each. Plain data in and out; the caller stores the result (the cluster
//! stage with the run, or [`crate::pipeline::results::store_map`] when the app computes the map
//! in the background).

use super::{EmbedError, KnnGraph, UmapParams};
use crate::pipeline::config::Config;
use crate::pipeline::error::{PipelineError, Result};
use crate::pipeline::progress::Progress;
use ndarray::{Array2, Axis};
use std::time::Instant;

/// Receives a 2-D layout as (row index, x, y) while it is computed.
pub type LayoutCallback<'a> = &'a (dyn Fn(&[(usize, f64, f64)]) + Sync);

/// The 2-D views of the gold matrix; they do not depend on K, so a re-segmentation keeps them.
#[derive(Clone)]
pub struct Views {
    pub pca: Array2<f64>,
    pub pca_explained: [f64; 2],
    /// (row index, x, y) of the UMAP-style sample; empty when not computed.
    pub umap: Vec<(usize, f64, f64)>,
    pub trust_pca: Option<f64>,
    pub trust_umap: Option<f64>,
    pub seconds: f64,
}

fn embed_error(e: EmbedError) -> PipelineError {
    match e {
        EmbedError::Cancelled => PipelineError::Cancelled,
        other => PipelineError::Data(other.to_string()),
    }
}

/// The UMAP-style view of a stratified sample of `matrix` (strata: `groups`, one per row, e.g.
/// the segment or -1 for an outlier), as (row index, x, y). `on_layout` sees the layout, in the
/// same form, as it improves (the app draws it live).
pub fn compute_umap(
    matrix: &Array2<f64>,
    groups: &[i64],
    config: &Config,
    progress: &Progress,
    on_layout: Option<LayoutCallback<'_>>,
) -> Result<Vec<(usize, f64, f64)>> {
    umap_of_sample(matrix, groups, config, progress, on_layout, None)
}

/// The map's neighbour graph of every row of `matrix` ([`super::map_neighbours`]), for a map
/// whose sample is every row ([`map_needs_groups`] false) and whose graph another step shares
/// (the cluster stage's phase 1 reads its k-distances and core points off it). `None` when the
/// map would not use it: disabled, too few rows, or an input the map itself refuses (it then
/// says why).
pub fn neighbours_of_every_row(
    matrix: &Array2<f64>,
    config: &Config,
    progress: &Progress,
) -> Result<Option<KnnGraph>> {
    let e = &config.embedding;
    if !e.umap_enabled
        || e.n_neighbors < 2
        || matrix.nrows() < 2
        || map_needs_groups(matrix.nrows(), config)
    {
        return Ok(None);
    }
    progress.update(0.0, "Finding each customer's nearest neighbours");
    // The search's own per-tile messages are not for users; the cancel still reaches it.
    match super::map_neighbours(matrix.view(), e.n_neighbors, &progress.quiet()) {
        Ok(graph) => Ok(Some(graph)),
        Err(EmbedError::Cancelled) => Err(PipelineError::Cancelled),
        Err(_) => Ok(None),
    }
}

/// [`compute_umap`], reusing `neighbours` (the graph of every row) when the sample is every row.
fn umap_of_sample(
    matrix: &Array2<f64>,
    groups: &[i64],
    config: &Config,
    progress: &Progress,
    on_layout: Option<LayoutCallback<'_>>,
    neighbours: Option<&KnnGraph>,
) -> Result<Vec<(usize, f64, f64)>> {
    let sample =
        super::stratified_sample(groups, config.embedding.umap_sample, config.embedding.seed);
    let neighbours = neighbours.filter(|_| sample.len() == matrix.nrows());
    let sub = matrix.select(Axis(0), &sample);
    let params = UmapParams {
        n_neighbors: config.embedding.n_neighbors,
        min_dist: config.embedding.min_dist,
        n_epochs: config.embedding.n_epochs,
        seed: config.embedding.seed,
        snapshot_every: 10,
    };
    let snapshot = |_epoch: usize, layout: &Array2<f32>| {
        if let Some(report) = on_layout {
            let points: Vec<(usize, f64, f64)> = sample
                .iter()
                .enumerate()
                .map(|(j, &i)| (i, f64::from(layout[[j, 0]]), f64::from(layout[[j, 1]])))
                .collect();
            report(&points);
        }
    };
    let on_epoch: Option<super::umap::EpochCallback<'_>> =
        if on_layout.is_some() { Some(&snapshot) } else { None };
    let layout = super::umap_with_neighbours(sub.view(), neighbours, &params, progress, on_epoch)
        .map_err(embed_error)?;
    Ok(sample.iter().enumerate().map(|(j, &i)| (i, layout[[j, 0]], layout[[j, 1]])).collect())
}

fn trust(matrix: &Array2<f64>, low: &Array2<f64>, config: &Config) -> Option<f64> {
    super::trustworthiness_sampled(
        matrix.view(),
        low.view(),
        10,
        config.embedding.trustworthiness_sample,
        config.embedding.seed,
    )
    .ok()
}

/// Trustworthiness of a UMAP-style map of some rows of `matrix` (None below 3 points).
pub fn umap_trust(
    matrix: &Array2<f64>,
    umap: &[(usize, f64, f64)],
    config: &Config,
) -> Option<f64> {
    if umap.len() < 3 {
        return None;
    }
    let rows: Vec<usize> = umap.iter().map(|(i, _, _)| *i).collect();
    let high = matrix.select(Axis(0), &rows);
    let low =
        Array2::from_shape_fn((umap.len(), 2), |(r, c)| if c == 0 { umap[r].1 } else { umap[r].2 });
    trust(&high, &low, config)
}

/// The PCA view of every row with its trustworthiness: it depends on no clustering, so the
/// cluster stage computes it beside the segmentation.
pub struct PcaView {
    pub coords: Array2<f64>,
    pub explained: [f64; 2],
    pub trust: Option<f64>,
    pub seconds: f64,
}

/// The PCA view of every row of `matrix` and its trustworthiness.
pub fn pca_view(matrix: &Array2<f64>, config: &Config) -> Result<PcaView> {
    let started = Instant::now();
    let pca = super::pca_2d(matrix.view()).map_err(embed_error)?;
    Ok(PcaView {
        trust: trust(matrix, &pca.coords, config),
        coords: pca.coords,
        explained: pca.explained_variance_ratio,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Whether the UMAP-style map of `rows` rows depends on their strata (the segments): only when
/// there are more rows than `embedding.umap_sample`; up to that, its sample is every row, so the
/// map can be computed before the segments are known.
pub fn map_needs_groups(rows: usize, config: &Config) -> bool {
    rows > config.embedding.umap_sample
}

/// The PCA view of every row and, with `with_umap` (and `embedding.umap_enabled`), the
/// UMAP-style map of a sample stratified by `groups`, with their trustworthiness.
pub fn compute_views(
    matrix: &Array2<f64>,
    groups: &[i64],
    config: &Config,
    progress: &Progress,
    with_umap: bool,
) -> Result<Views> {
    progress.update(0.65, "PCA view");
    let pca = pca_view(matrix, config)?;
    views_with_pca(pca, matrix, groups, config, progress, with_umap, None)
}

/// Both views of every row, for a map whose sample is every row ([`map_needs_groups`] false),
/// built on `neighbours` when known ([`neighbours_of_every_row`]).
pub fn views_of_every_row(
    matrix: &Array2<f64>,
    neighbours: Option<&KnnGraph>,
    config: &Config,
    progress: &Progress,
) -> Result<Views> {
    progress.update(0.65, "PCA view");
    let pca = pca_view(matrix, config)?;
    // Every row is in the map's sample, whatever its stratum.
    let groups = vec![0; matrix.nrows()];
    views_with_pca(pca, matrix, &groups, config, progress, true, neighbours)
}

/// [`compute_views`] with the PCA view already computed, and the map's neighbour graph when it
/// is known (used only when the map's sample is every row).
pub fn views_with_pca(
    pca: PcaView,
    matrix: &Array2<f64>,
    groups: &[i64],
    config: &Config,
    progress: &Progress,
    with_umap: bool,
    neighbours: Option<&KnnGraph>,
) -> Result<Views> {
    let started = Instant::now();
    let umap = if with_umap && config.embedding.umap_enabled {
        umap_of_sample(matrix, groups, config, &progress.sub(0.68, 0.95), None, neighbours)?
    } else {
        Vec::new()
    };
    Ok(Views {
        trust_pca: pca.trust,
        trust_umap: umap_trust(matrix, &umap, config),
        pca: pca.coords,
        pca_explained: pca.explained,
        umap,
        seconds: pca.seconds + started.elapsed().as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_xoshiro::Xoshiro256PlusPlus;

    /// `cargo test --lib pipeline::embed::stage::tests::views_of_a_million -- --ignored
    /// --nocapture`: the views of 1,000,000 x 25 (6 blobs) cost the map of the 20,000-point
    /// sample plus the PCA of everyone.
    #[test]
    #[ignore]
    fn views_of_a_million() {
        let (n, d, blobs) = (1_000_000, 25, 6);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
        let centres = Array2::from_shape_fn((blobs, d), |_| 4.0 * rng.gen_range(-1.0..1.0));
        let matrix =
            Array2::from_shape_fn((n, d), |(i, j)| centres[[i % blobs, j]] + rng.r#gen::<f64>());
        let groups: Vec<i64> = (0..n).map(|i| (i % blobs) as i64).collect();
        let config = Config::default();
        let started = Instant::now();
        let pca = super::super::pca_2d(matrix.view()).unwrap();
        let pca_seconds = started.elapsed().as_secs_f64();
        let views = compute_views(&matrix, &groups, &config, &Progress::none(), true).unwrap();
        println!(
            "1,000,000 x 25: PCA alone {pca_seconds:.2} s; all views {:.2} s ({} map points, \
             trustworthiness PCA {:.3}, map {:.3})",
            views.seconds,
            views.umap.len(),
            views.trust_pca.unwrap_or(f64::NAN),
            views.trust_umap.unwrap_or(f64::NAN),
        );
        assert_eq!(pca.coords.nrows(), n);
    }
}
