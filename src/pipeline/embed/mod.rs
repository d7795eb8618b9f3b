//! 2-D views of the gold matrix (CLUSTERING.md "2-D views").
//!
//! - [`pca_2d`]: exact principal components for every customer (cheap, shown first).
//! - [`umap()`]: a UMAP-style embedding (exact kNN graph, fuzzy simplicial set, stochastic layout)
//!   of a fixed-seed [`stratified_sample`], computed in the background.
//! - [`trustworthiness()`] / [`trustworthiness_sampled`]: how faithfully a 2-D view keeps each
//!   point's high-dimensional neighbours (scikit-learn's definition).
//!
//! - [`stage`]: the embedding stage as the pipeline runs it (configured, with progress).
//!
//! Every routine is deterministic: the same input and seed give bit-identical output whatever the
//! number of threads.

pub mod knn;
mod layout;
pub mod pca;
mod power;
pub mod sample;
pub mod stage;
pub mod trustworthiness;
pub mod umap;

pub use knn::{KnnGraph, exact_knn};
pub use pca::{Pca2d, pca_2d};
pub use sample::stratified_sample;
pub use trustworthiness::{trustworthiness, trustworthiness_sampled};
pub use umap::{UmapParams, fit_ab, map_neighbours, umap, umap_with_neighbours};

use crate::pipeline::progress::Cancelled;

/// Why a 2-D view could not be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EmbedError {
    /// The matrix has no rows.
    #[error("there are no customers to draw: the clustering matrix has no rows")]
    NoPoints,

    /// The matrix has rows but no feature columns.
    #[error("there are no features to draw: the clustering matrix has no columns")]
    NoFeatures,

    /// A value is NaN or infinite; the gold stage should have removed it.
    #[error(
        "the clustering matrix holds a non-finite value (row {row}, column {column}); \
         rebuild the gold matrix"
    )]
    NonFinite { row: usize, column: usize },

    /// Two matrices that must describe the same points have different row counts.
    #[error("the high-dimensional data has {high} rows but the 2-D view has {low}")]
    RowMismatch { high: usize, low: usize },

    /// A parameter is outside its meaningful range.
    #[error("invalid embedding parameter: {0}")]
    InvalidParameter(String),

    /// The user cancelled the stage.
    #[error("stopped: cancelled by the user")]
    Cancelled,
}

impl From<Cancelled> for EmbedError {
    fn from(_: Cancelled) -> Self {
        EmbedError::Cancelled
    }
}

/// Checks that `data` is non-empty and finite; returns `(n, d)`.
pub(crate) fn check_matrix(data: ndarray::ArrayView2<f64>) -> Result<(usize, usize), EmbedError> {
    let (n, d) = data.dim();
    if n == 0 {
        return Err(EmbedError::NoPoints);
    }
    if d == 0 {
        return Err(EmbedError::NoFeatures);
    }
    if let Some(((row, column), _)) = data.indexed_iter().find(|(_, v)| !v.is_finite()) {
        return Err(EmbedError::NonFinite { row, column });
    }
    Ok((n, d))
}
