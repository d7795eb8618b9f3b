//! `clustering_metadata.json`, written beside the analysis file after clustering: every parameter
//! used, how eps was chosen, the K sweep, the metrics, counts, timings, the input's name and hash,
//! as_of and versions, so a run can be explained and repeated.

use crate::pipeline::config::Config;
use crate::pipeline::error::{PipelineError, Result};
use crate::pipeline::model::ClusterOutcome;
use crate::pipeline::store::Store;
use crate::pipeline::{features, ingest, validate};
use std::path::PathBuf;

/// Versions of ReturnScope and of the DuckDB engine.
pub fn versions(store: &Store) -> Vec<(String, String)> {
    let duckdb: String = store
        .conn()
        .query_row("SELECT version()", [], |r| r.get(0))
        .unwrap_or_else(|_| "unknown".into());
    vec![("returnscope".into(), env!("CARGO_PKG_VERSION").into()), ("duckdb".into(), duckdb)]
}

/// Where the metadata goes: beside the DuckDB file.
pub fn metadata_path(store: &Store) -> PathBuf {
    store
        .path()
        .parent()
        .map(|p| p.join("clustering_metadata.json"))
        .unwrap_or_else(|| "clustering_metadata.json".into())
}

/// Build the metadata document.
pub fn metadata_json(
    store: &Store,
    config: &Config,
    outcome: &ClusterOutcome,
) -> Result<serde_json::Value> {
    let ingest = ingest::stored_ingest(store)?.map(|(s, _)| s);
    let quality = validate::stored_report(store)?;
    let feats = features::stored_summary(store)?;
    let mut timings = serde_json::Map::new();
    if let Some(i) = &ingest {
        timings.insert("ingest".into(), i.seconds.into());
    }
    if let Some(f) = &feats {
        timings.insert("features".into(), f.seconds.into());
    }
    for (name, secs) in &outcome.timings {
        timings.insert(name.clone(), (*secs).into());
    }
    Ok(serde_json::json!({
        "input": {
            "file": ingest.as_ref().map(|i| i.input_name.clone()),
            "sha256": ingest.as_ref().map(|i| i.input_sha256.clone()),
            "encoding": ingest.as_ref().map(|i| i.encoding.clone()),
        },
        "as_of": quality.as_ref().and_then(|q| q.as_of.clone()),
        "counts": {
            "rows_loaded": ingest.as_ref().map(|i| i.rows_loaded),
            "malformed_rows": ingest.as_ref().map(|i| i.malformed_rows),
            "clean_lines": quality.as_ref().map(|q| q.clean_lines),
            "customers": quality.as_ref().map(|q| q.customers),
            "eligible_customers": quality.as_ref().map(|q| q.eligible_customers),
            "clustered_customers": outcome.customers,
            "outliers": outcome.outliers,
        },
        "quality": quality.as_ref().map(|q| q.counts.iter().map(|c| (c.name.clone(), c.count)).collect::<std::collections::BTreeMap<_, _>>()),
        "eps": { "value": outcome.eps, "how": outcome.eps_source, "min_samples": outcome.min_samples,
                 "kdistance_knee": outcome.kdistance_knee },
        "noise_ratio": outcome.noise_ratio,
        "k": { "chosen": outcome.chosen_k, "reason": outcome.choice_reason, "elbow": outcome.elbow_k,
               "weak_structure": outcome.weak_structure },
        "k_sweep": outcome.sweep,
        "metrics": { "silhouette": outcome.silhouette, "calinski_harabasz": outcome.calinski_harabasz,
                     "davies_bouldin": outcome.davies_bouldin },
        "segments": outcome.segments,
        "embeddings": { "pca_explained_variance_ratio": outcome.pca_explained,
                        "trustworthiness_pca": outcome.trustworthiness_pca,
                        "trustworthiness_umap": outcome.trustworthiness_umap,
                        "umap_points": outcome.umap_points },
        "features": outcome.features,
        "warnings": outcome.warnings,
        "timings_seconds": timings,
        "parameters": config,
        "versions": versions(store).into_iter().collect::<std::collections::BTreeMap<_, _>>(),
    }))
}

/// Write `clustering_metadata.json` beside the analysis file.
pub fn write_metadata(store: &Store, config: &Config, outcome: &ClusterOutcome) -> Result<PathBuf> {
    let path = metadata_path(store);
    let json = metadata_json(store, config, outcome)?;
    let text =
        serde_json::to_string_pretty(&json).map_err(|e| PipelineError::Data(e.to_string()))?;
    std::fs::write(&path, text).map_err(|e| PipelineError::Write {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    Ok(path)
}
