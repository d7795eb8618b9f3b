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

/// Build the model of a clustering run just stored, measure how often it reproduces the run's
/// own segments, and store it in the analysis file (`segmentation_model`). Called right after
/// the cluster stage: if it fails, no model is left behind (never one of an earlier clustering).
pub fn save_model(
    store: &crate::pipeline::store::Store,
    config: &crate::pipeline::config::Config,
    run: &crate::pipeline::cluster::stage::ClusterRun,
) -> crate::pipeline::error::Result<SegmentationModel> {
    let saved = model::build_model(store, config, run)
        .and_then(|m| {
            let agreement = agreement_with_run(&m, run)?;
            m.with_agreement_document(agreement)
        })
        .and_then(|(m, document)| {
            store.in_transaction(|s| model::write_model(s, &m, &document)).map(|()| m)
        });
    if saved.is_err() {
        let dropped = store.conn().execute_batch(&format!("DROP TABLE IF EXISTS {MODEL_TABLE}"));
        if let Err(e) = dropped {
            tracing::warn!("cannot drop the stale model: {e}");
        }
    }
    saved
}

/// A file write DuckDB refused, in words a user can act on (never DuckDB's own text).
pub(crate) fn plain_db_reason(e: &duckdb::Error) -> String {
    tracing::warn!("write failed: {e}");
    "the folder does not exist, is not writable, or the file is open in another program".into()
}
