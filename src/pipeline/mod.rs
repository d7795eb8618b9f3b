//! The headless pipeline, one module per stage.
//!
//! bronze (`ingest`, `validate`; schema in `bronze`) -> silver (`features`) -> gold (`gold`) ->
//! `cluster` (+ `archetypes`, and the 2-D views of `embed`) -> `results` (tables) + `metadata`
//! (JSON) -> `report` (xlsx). [`Analysis`] is the one entry point (a method per stage); `run`
//! chains the stages for the CLI; `sample` generates demo and test data. Plain types shared by
//! all of them are in `model`. `spark` writes the cleaning and features as a Spark job;
//! `silver_import` opens the silver table it makes. Over time: `scoring` (the saved model,
//! placing a new extract's customers) and `compare` (two periods). See `docs/architecture.md`.

pub mod analysis;
pub mod analysis_files;
pub mod archetypes;
pub mod atomic_file;
pub mod bronze;
pub mod cluster;
pub mod compare;
pub mod config;
pub mod csv_input;
pub mod embed;
pub mod error;
pub mod fault;
pub mod features;
pub mod gold;
pub mod ingest;
pub(crate) mod kernels;
pub mod memory;
pub mod metadata;
pub mod model;
pub mod private_files;
pub mod progress;
pub mod pseudonym;
pub mod report;
pub mod results;
pub mod run;
pub mod sample;
pub mod scoring;
pub mod share;
pub mod silver_import;
pub mod spark;
pub mod state;
pub mod store;
pub mod validate;
pub use analysis::Analysis;
pub use config::Config;
pub use error::PipelineError;
pub use progress::{CancelToken, Cancelled, Progress, ProgressUpdate, Stage};
