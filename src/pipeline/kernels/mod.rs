//! Numeric kernels shared by the stages: no pipeline types, no stage imports them through
//! another stage.
//!
//! - [`panel`]: f32 products of a few query rows with a block of points stored transposed,
//!   the distances of DBSCAN's blocks (`cluster::blocks`) and of the map's kNN graph
//!   (`embed::knn`).

pub(crate) mod panel;
