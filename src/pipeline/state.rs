//! What an analysis file records about each completed stage, in the table `pipeline_state`: its
//! summary (JSON), the format of that summary, and the configuration the stage ran with.
//!
//! - **Versioned summaries.** Each record is `{"format": N, "config": {...}, "summary": {...}}`.
//!   A record without `format` was written before formats were recorded (format 1: the column
//!   held the bare summary). A summary this version cannot decode, or one written in a newer
//!   format, is an [`PipelineError::UnreadableStage`]: the analysis says which stage to run
//!   again instead of looking un-run or half restored.
//! - **The run's own configuration.** Every number in the report and the metadata must be the
//!   run's: [`run_config`] assembles the configuration that produced the layers, each key from the
//!   stage that reads it ([`keys_read_by`]), whatever the settings are now. `run --resume` keeps a
//!   complete stage only when the keys it reads are unchanged.

use crate::pipeline::config::Config;
use crate::pipeline::error::{DbContext, PipelineError, Result};
use crate::pipeline::progress::Stage;
use crate::pipeline::store::Store;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// The format of the stage records this version writes. Raise it when a stored summary changes
/// so that an older version cannot decode it; a record in a newer format is never guessed at.
pub const SUMMARY_FORMAT: u64 = 2;

/// One completed stage as recorded.
#[derive(Debug, Clone)]
pub struct StageRecord {
    /// 1 for records written before formats were recorded.
    pub format: u64,
    pub summary: Value,
    /// The configuration the stage ran with (None in a format-1 record).
    pub config: Option<Config>,
}

impl StageRecord {
    fn parse(text: &str) -> Self {
        let value: Value = serde_json::from_str(text).unwrap_or(Value::Null);
        match value.get("format").and_then(Value::as_u64) {
            Some(format) => StageRecord {
                format,
                config: value.get("config").and_then(|c| serde_json::from_value(c.clone()).ok()),
                summary: value.get("summary").cloned().unwrap_or(Value::Null),
            },
            None => StageRecord { format: 1, summary: value, config: None },
        }
    }
}

impl Store {
    /// Record that `stage` completed with `summary`, run with `config` (inside the stage's
    /// transaction, as its last write).
    pub fn mark_stage_complete(
        &self,
        stage: Stage,
        summary: &Value,
        config: &Config,
    ) -> Result<()> {
        crate::pipeline::fault::before_commit(self.path(), stage)?;
        let record = json!({ "format": SUMMARY_FORMAT, "config": config, "summary": summary });
        self.conn()
            .execute(
                "INSERT OR REPLACE INTO pipeline_state VALUES (?, now()::TIMESTAMP, ?)",
                duckdb::params![stage.key(), record.to_string()],
            )
            .db("recording the stage")?;
        Ok(())
    }

    /// Forget `stage` and every later one: re-running a stage makes the later layers stale.
    pub fn forget_stage_and_later(&self, stage: Stage) -> Result<()> {
        for later in Stage::RECORDED.iter().filter(|s| **s >= stage) {
            self.conn()
                .execute("DELETE FROM pipeline_state WHERE stage = ?", [later.key()])
                .db("clearing stale stages")?;
        }
        Ok(())
    }

    /// The record of a completed stage, as stored (None when the stage has not completed).
    pub fn stage_record(&self, stage: Stage) -> Result<Option<StageRecord>> {
        let mut stmt = self
            .conn()
            .prepare("SELECT details FROM pipeline_state WHERE stage = ?")
            .db("reading the pipeline state")?;
        let mut rows = stmt.query([stage.key()]).db("reading the pipeline state")?;
        match rows.next().db("reading the pipeline state")? {
            Some(row) => {
                let text: Option<String> = row.get(0).db("reading the pipeline state")?;
                Ok(Some(StageRecord::parse(text.as_deref().unwrap_or(""))))
            }
            None => Ok(None),
        }
    }

    /// The summary of a completed stage, decoded; an error names the stage when this version
    /// cannot read it.
    pub fn stage_summary<T: DeserializeOwned>(&self, stage: Stage) -> Result<Option<T>> {
        let Some(record) = self.stage_record(stage)? else { return Ok(None) };
        if record.format > SUMMARY_FORMAT {
            return Err(PipelineError::UnreadableStage { stage, newer: true });
        }
        serde_json::from_value(record.summary).map(Some).map_err(|e| {
            tracing::info!("the stored {} summary cannot be decoded: {e}", stage.key());
            PipelineError::UnreadableStage { stage, newer: false }
        })
    }

    /// The configuration a completed stage ran with (None before it completed, or when its
    /// record predates recorded configurations).
    pub fn stage_config(&self, stage: Stage) -> Result<Option<Config>> {
        Ok(self.stage_record(stage)?.and_then(|r| r.config))
    }
}

/// The configuration keys `stage` reads, as JSON: two runs of a stage on the same layers give the
/// same result when these are equal. (`store.*` changes only speed and memory; `embedding.*`
/// only the 2-D map, which the cluster stage also computes.)
pub fn keys_read_by(stage: Stage, config: &Config) -> Value {
    let (d, q) = (&config.data, &config.quality);
    match stage {
        Stage::Validate => json!({
            "data.as_of": d.as_of, "data.drop_duplicate_rows": d.drop_duplicate_rows,
            "quality.min_customers": q.min_customers,
            "quality.min_orders_per_customer": q.min_orders_per_customer,
            "quality.max_missing_data_ratio": q.max_missing_data_ratio,
        }),
        Stage::Features => json!({
            "data.recency_window_days": d.recency_window_days,
            "data.adjacency_window_days": d.adjacency_window_days,
            "quality.min_orders_per_customer": q.min_orders_per_customer,
        }),
        Stage::Gold => json!({
            "data.include_order_value": d.include_order_value,
            "quality.min_feature_completeness": q.min_feature_completeness,
            "gold": config.gold,
        }),
        Stage::Cluster => json!({
            "data.include_order_value": d.include_order_value,
            "dbscan": config.dbscan, "kmeans": config.kmeans, "subcluster": config.subcluster,
            "embedding": config.embedding,
        }),
        Stage::Ingest | Stage::Embed | Stage::Report | Stage::Score | Stage::Compare => json!({}),
    }
}

/// The configuration that produced the analysis's layers: each key as the stage that reads it
/// ran with it. None when a stage up to clustering has not completed, or completed before
/// configurations were recorded.
pub fn run_config(store: &Store) -> Result<Option<Config>> {
    let (Some(validate), Some(features), Some(gold), Some(mut run)) = (
        store.stage_config(Stage::Validate)?,
        store.stage_config(Stage::Features)?,
        store.stage_config(Stage::Gold)?,
        store.stage_config(Stage::Cluster)?,
    ) else {
        return Ok(None);
    };
    run.data.as_of = validate.data.as_of;
    run.data.drop_duplicate_rows = validate.data.drop_duplicate_rows;
    run.quality.min_customers = validate.quality.min_customers;
    run.quality.max_missing_data_ratio = validate.quality.max_missing_data_ratio;
    run.data.recency_window_days = features.data.recency_window_days;
    run.data.adjacency_window_days = features.data.adjacency_window_days;
    run.quality.min_orders_per_customer = features.quality.min_orders_per_customer;
    run.quality.min_feature_completeness = gold.quality.min_feature_completeness;
    run.gold = gold.gold;
    Ok(Some(run))
}

/// Would `stage`, run now with `config`, read the same keys as when it completed?
pub fn same_configuration(store: &Store, stage: Stage, config: &Config) -> Result<bool> {
    Ok(store
        .stage_config(stage)?
        .is_some_and(|stored| keys_read_by(stage, &stored) == keys_read_by(stage, config)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_without_format_is_a_format_1_bare_summary() {
        let old = StageRecord::parse(r#"{"rows_loaded": 3}"#);
        assert_eq!((old.format, old.summary["rows_loaded"].as_u64()), (1, Some(3)));
        assert!(old.config.is_none());
        let new = StageRecord::parse(
            &json!({"format": 2, "config": Config::default(), "summary": {"a": 1}}).to_string(),
        );
        assert_eq!((new.format, new.summary["a"].as_u64()), (2, Some(1)));
        assert_eq!(new.config, Some(Config::default()));
    }

    #[test]
    fn each_stage_compares_only_the_keys_it_reads() {
        let base = Config::default();
        let mut other = base.clone();
        other.kmeans.k_max = 9;
        assert_eq!(keys_read_by(Stage::Gold, &base), keys_read_by(Stage::Gold, &other));
        assert_ne!(keys_read_by(Stage::Cluster, &base), keys_read_by(Stage::Cluster, &other));
        other.data.recency_window_days = 30.0;
        assert_ne!(keys_read_by(Stage::Features, &base), keys_read_by(Stage::Features, &other));
        assert_eq!(keys_read_by(Stage::Validate, &base), keys_read_by(Stage::Validate, &other));
    }
}
