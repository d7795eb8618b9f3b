//! Everything the Excel report shows, as plain data.
//!
//! The report writer never touches DuckDB: the pipeline fills a [`ReportData`] from its tables
//! (`clustering_results`, `cluster_summary`, `clustering_metadata.json`, the quality counts) and
//! hands it over. Tests build a plausible, fully filled one with `ReportData::example` (the
//! test-only module `example`).

use crate::pipeline::config::Config;
use crate::pipeline::model::{
    DatasetCheck, FeatureStat, KSweepRow, NOT_SEGMENTED, QualityCount, segment_label,
};

/// Facts about the input and the customer base, shown on the Executive Summary.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DatasetFacts {
    /// The CSV's file name (not its full path).
    pub input_file: String,
    /// Hex SHA-256 of the CSV's bytes.
    pub input_sha256: String,
    /// Data rows read from the CSV (header excluded).
    pub rows_loaded: u64,
    /// Rows left after cleaning (FEATURES.md "clean lines").
    pub clean_lines: u64,
    /// Distinct customers among clean lines.
    pub customers: u64,
    /// Customers with at least `min_orders_per_customer` orders (the clustered ones).
    pub eligible_customers: u64,
    /// Earliest order date among clean lines, as text (e.g. `2022-01-03`).
    pub first_order_date: String,
    /// Latest order date among clean lines, as text.
    pub last_order_date: String,
    /// The as_of timestamp the features were computed at, as text.
    pub as_of: String,
}

/// One row of the segment summary: a K-means segment, the Outliers, or Not segmented.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SegmentRow {
    /// The segment number (from 1); `None` for the Outliers and the Not segmented rows, which
    /// are told apart by [`label`](Self::label) ([`OUTLIERS`], [`NOT_SEGMENTED`]).
    pub segment: Option<usize>,
    /// "Segment 1", "Outliers", "Not segmented".
    pub label: String,
    /// Customers in the row (a segment counts its non-outlier members).
    pub size: u64,
    /// size / all customers, so the rows sum to 1.
    pub share: f64,
    pub archetype: String,
    /// One line written from the most distinctive features.
    pub description: String,
    /// The recommended action.
    pub action: String,
    /// Median of each key raw feature, aligned to [`ReportData::key_feature_names`]; NaN where
    /// undefined.
    pub key_feature_medians: Vec<f64>,
    /// Mean silhouette of the segment's members; `None` for rows that are no segment.
    pub silhouette: Option<f64>,
    /// Number of DBSCAN micro-segments found inside the segment.
    pub micro_segments: usize,
    /// The row's share of all returned units (0 ..= 1).
    pub returned_units_share: f64,
}

impl SegmentRow {
    /// True for the Not segmented row.
    pub fn is_not_segmented(&self) -> bool {
        self.segment.is_none() && self.label == NOT_SEGMENTED
    }

    /// True for the Outliers row.
    pub fn is_outliers(&self) -> bool {
        self.segment.is_none() && !self.is_not_segmented()
    }

    /// The row's colour from [`crate::palette`].
    pub fn rgb(&self) -> [u8; 3] {
        match self.segment {
            Some(n) => crate::palette::segment_rgb(n),
            None if self.is_not_segmented() => crate::palette::NOT_SEGMENTED_RGB,
            None => crate::palette::OUTLIER_RGB,
        }
    }
}

/// One customer's result.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerRow {
    pub customer_id: String,
    /// The K-means segment (outliers carry their nearest segment); `None` = not segmented.
    pub segment: Option<usize>,
    pub archetype: String,
    /// `"<segment>.<j>"`; empty when not segmented.
    pub micro_segment: String,
    /// DBSCAN noise.
    pub is_outlier: bool,
    /// Distance to the segment's centroid in the standardized space.
    pub distance_to_centroid: Option<f64>,
    /// Raw values of the key features, aligned to [`ReportData::key_feature_names`].
    pub key_features: Vec<Option<f64>>,
    /// PCA coordinates; `None` for customers outside the gold matrix (not segmented).
    pub pca_x: Option<f64>,
    pub pca_y: Option<f64>,
    /// UMAP-style coordinates; `None` when the customer is not in the embedding sample.
    pub umap_x: Option<f64>,
    pub umap_y: Option<f64>,
}

impl CustomerRow {
    /// "Segment n" or "Not segmented".
    pub fn segment_label(&self) -> String {
        match self.segment {
            Some(n) => segment_label(n),
            None => NOT_SEGMENTED.to_string(),
        }
    }

    /// The colour of the customer's segment cell.
    pub fn rgb(&self) -> [u8; 3] {
        match self.segment {
            Some(n) => crate::palette::segment_rgb(n),
            None => crate::palette::NOT_SEGMENTED_RGB,
        }
    }
}

/// How faithful each 2-D view is to the neighbourhoods of the gold space (0 ..= 1).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Trustworthiness {
    pub pca: Option<f64>,
    pub umap: Option<f64>,
}

/// Everything the report shows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReportData {
    pub dataset: DatasetFacts,
    pub quality_counts: Vec<QualityCount>,
    pub dataset_checks: Vec<DatasetCheck>,
    /// Segments in number order, then Outliers, then Not segmented.
    pub segments: Vec<SegmentRow>,
    /// The FEATURES.md names of the key features profiled per segment and customer.
    pub key_feature_names: Vec<String>,
    pub customers: Vec<CustomerRow>,
    pub feature_stats: Vec<FeatureStat>,
    /// (feature, share of its variance between segments), 0 ..= 1.
    pub feature_importance: Vec<(String, f64)>,
    pub k_sweep: Vec<KSweepRow>,
    pub chosen_k: usize,
    /// Why this K, in a sentence or two.
    pub choice_reason: String,
    /// The chosen K's silhouette is below `min_silhouette_score`.
    pub weak_structure: bool,
    /// DBSCAN eps used (standardized units).
    pub eps: f64,
    /// How eps was chosen ("auto: 0.85 quantile of the 5-NN distance on 20,000 customers").
    pub eps_source: String,
    pub min_samples: usize,
    /// Outliers / eligible customers.
    pub noise_ratio: f64,
    /// Sorted distance of each (sampled) point to its min_samples-th neighbour.
    pub k_distance: Vec<f64>,
    /// Index of the knee in `k_distance`, when one was found.
    pub k_distance_knee: Option<usize>,
    pub trustworthiness: Trustworthiness,
    /// Every configuration parameter as (dotted key, value).
    pub parameters: Vec<(String, String)>,
    /// (component, version).
    pub versions: Vec<(String, String)>,
    /// (stage, seconds).
    pub timings: Vec<(String, f64)>,
}

/// Every configuration value as (dotted key, value), e.g. `("dbscan.min_samples", "5")`.
pub fn parameters_from_config(config: &Config) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Ok(value) = serde_json::to_value(config) {
        flatten_json("", &value, &mut out);
    }
    out
}

fn flatten_json(prefix: &str, value: &serde_json::Value, out: &mut Vec<(String, String)>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, inner) in map {
                let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
                flatten_json(&path, inner, out);
            }
        }
        serde_json::Value::String(s) => out.push((prefix.to_string(), s.clone())),
        serde_json::Value::Null => out.push((prefix.to_string(), "(not set)".to_string())),
        other => out.push((prefix.to_string(), other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_parameters_are_flattened_with_dotted_keys() {
        let params = parameters_from_config(&Config::default());
        let min_samples = params.iter().find(|(k, _)| k == "dbscan.min_samples");
        assert_eq!(min_samples.map(|(_, v)| v.as_str()), Some("5"));
        assert!(params.iter().any(|(k, v)| k == "dbscan.eps" && v == "auto"));
    }
}
