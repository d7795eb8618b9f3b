//! Segments over time, part 1: the saved model and scoring with it.
//!
//! - [`model`]: the segmentation model (what a clustering decided), stored in the analysis file
//!   and exported as versioned JSON.
//! - [`assign`]: the assignment rule: a customer's raw features to a segment, micro-segment
//!   and outlier flag, without clustering.
//! - [`stage`]: scoring an analysis's customers with a model into `scored_results`.
//!
//! Comparing two periods is [`crate::pipeline::compare`].

pub mod assign;
pub mod model;
pub mod stage;

pub use assign::{Assigner, Assignment, agreement_with_run, to_model_space};
pub use model::{
    Agreement, MODEL_FORMAT_VERSION, MODEL_TABLE, SegmentationModel, export_model, load_model,
    require_model, stored_model,
};
pub use stage::{SCORED, ScoreSummary, score_store, stored_score};

/// A file write DuckDB refused, in words a user can act on (never DuckDB's own text).
pub(crate) fn plain_db_reason(e: &duckdb::Error) -> String {
    tracing::warn!("write failed: {e}");
    "the folder does not exist, is not writable, or the file is open in another program".into()
}
