//! The headless pipeline, one module per stage.
//!
//! bronze (`ingest`, `validate`) -> silver (`features`) -> gold (`gold`) -> `cluster` (+ `archetypes`)
//! -> `embed` (PCA / UMAP-style 2-D views) -> `results` (tables + metadata) -> `report` (xlsx).
//! `run` chains them for the CLI and the app; `sample` generates demo and test data. Over time:
//! `scoring` (the saved model, placing a new extract's customers) and `compare` (two periods).

pub mod analysis;
pub mod archetypes;
pub mod cluster;
pub mod compare;
pub mod config;
pub mod embed;
pub mod error;
pub mod features;
pub mod gold;
pub mod ingest;
pub mod metadata;
pub mod model;
pub mod progress;
pub mod report;
pub mod run;
pub mod sample;
pub mod scoring;
pub mod store;
pub mod validate;
pub use analysis::Analysis;
pub use config::Config;
pub use error::PipelineError;
pub use progress::{CancelToken, Cancelled, Progress, ProgressUpdate, Stage};
