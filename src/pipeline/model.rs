//! Plain data passed between the pipeline, the CLI and the app: summaries and views of each layer.
//!
//! Nothing here touches DuckDB or egui; every struct is cheap to clone and send across threads.

use ndarray::Array2;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The required input columns of FEATURES.md, in its order.
/// The format of a silver table written for another engine to read or read from one (the Spark
/// job's output, `export silver`); `silver_import` refuses a higher one.
pub const SILVER_FORMAT: i64 = 1;
/// Where that format is stored: a Parquet key-value pair, or the `customer_id` column's metadata
/// in a Spark-written file.
pub const SILVER_FORMAT_KEY: &str = "returnscope_silver_format";

pub const REQUIRED_COLUMNS: [&str; 14] = [
    "SALES_ORDER_NO",
    "CUSTOMER_EMAILID",
    "ORDER_DATE",
    "SKU",
    "SALES_QTY",
    "RETURN_QTY",
    "UNITS_RETURNED_FLAG",
    "RETURN_DATE",
    "RETURN_NO",
    "RETURN_COMMENT",
    "Q_CLS_ID",
    "Q_SKU_ID",
    "CLASS_",
    "BRAND_",
];

/// The first rows and the detected columns of a CSV, before loading it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CsvPreview {
    pub path: PathBuf,
    /// Detected delimiter (`,` `;` tab `|`).
    pub delimiter: char,
    /// Header as found in the file.
    pub columns: Vec<String>,
    /// Each required column and the header it matched (None = missing).
    pub required: Vec<(String, Option<String>)>,
    /// Columns that are not required (kept in bronze).
    pub extra: Vec<String>,
    /// Up to the requested number of data rows, as text.
    pub rows: Vec<Vec<String>>,
}

impl CsvPreview {
    pub fn missing_required(&self) -> Vec<String> {
        self.required.iter().filter(|(_, m)| m.is_none()).map(|(r, _)| r.clone()).collect()
    }
}

/// What loading the CSV into bronze did.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct IngestSummary {
    pub input_path: PathBuf,
    pub input_name: String,
    pub input_sha256: String,
    /// Data rows read with the right number of fields (all kept in bronze).
    pub rows_loaded: u64,
    /// Rows with the wrong number of fields, kept in `bronze_rejects_malformed`.
    pub malformed_rows: u64,
    pub extra_columns: Vec<String>,
    pub has_gross: bool,
    /// `utf-8`, or `latin-1` when the file was not valid UTF-8; `parquet` for a features table
    /// made elsewhere ([`Self::is_features_table`]).
    pub encoding: String,
    pub seconds: f64,
}

impl IngestSummary {
    /// The analysis was opened from a features (silver) table, e.g. the Spark job's: its order
    /// lines were cleaned and its features built by that job, not here.
    pub fn is_features_table(&self) -> bool {
        self.encoding == "parquet"
    }
}

/// How serious a dataset check is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Severity {
    Ok,
    Warning,
    Blocking,
}

impl Severity {
    /// "Blocking", "Warning" or "OK".
    pub fn label(self) -> &'static str {
        match self {
            Severity::Blocking => "Blocking",
            Severity::Warning => "Warning",
            Severity::Ok => "OK",
        }
    }
}

/// One count of the FEATURES.md cleaning table, by its name.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct QualityCount {
    pub name: String,
    pub count: u64,
    /// count / rows loaded.
    pub share: f64,
    /// What it means, in plain language.
    pub meaning: String,
    /// What the pipeline did about it.
    pub action: String,
}

/// A dataset-level check (too few customers, a required column mostly empty, ...).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DatasetCheck {
    pub name: String,
    pub severity: Severity,
    pub message: String,
}

/// The validation stage's result: every quality count and dataset check.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct QualityReport {
    pub rows_loaded: u64,
    pub clean_lines: u64,
    pub customers: u64,
    pub eligible_customers: u64,
    pub first_order: Option<String>,
    pub last_order: Option<String>,
    pub as_of: Option<String>,
    pub counts: Vec<QualityCount>,
    pub checks: Vec<DatasetCheck>,
}

impl QualityReport {
    pub fn count(&self, name: &str) -> u64 {
        self.counts.iter().find(|c| c.name == name).map_or(0, |c| c.count)
    }
    /// The checks that stop segmentation.
    pub fn blocking(&self) -> Vec<&DatasetCheck> {
        self.checks.iter().filter(|c| c.severity == Severity::Blocking).collect()
    }
    pub fn can_segment(&self) -> bool {
        self.blocking().is_empty()
    }
}

/// Per-feature statistics of the silver layer.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct FeatureStat {
    pub feature: String,
    pub count: u64,
    pub null_share: f64,
    pub mean: Option<f64>,
    pub std: Option<f64>,
    pub min: Option<f64>,
    pub p25: Option<f64>,
    pub median: Option<f64>,
    pub p75: Option<f64>,
    pub max: Option<f64>,
    /// Share of defined values outside the 1st..99th percentile.
    pub outside_p1_p99_share: Option<f64>,
}

/// What the features stage built.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FeatureSummary {
    pub customers: u64,
    pub eligible_customers: u64,
    pub as_of: String,
    pub stats: Vec<FeatureStat>,
    /// Customers per tenure stage (New, Growing, Mature, Veteran).
    pub tenure_stages: Vec<(String, u64)>,
    pub seconds: f64,
}

/// The silver layer as columns, for the features table (virtualised rows) and histograms.
#[derive(Debug, Clone, Default)]
pub struct FeatureTable {
    pub customer_ids: Vec<String>,
    pub eligible: Vec<bool>,
    pub tenure_stage: Vec<String>,
    /// Numeric feature names, FEATURES.md order.
    pub columns: Vec<String>,
    /// Column-major: `values[c][row]`, None = NULL.
    pub values: Vec<Vec<Option<f64>>>,
}

/// The raw (silver) feature values of the eligible customers: what gold transforms and what
/// archetypes and summaries describe.
#[derive(Debug, Clone, PartialEq)]
pub struct RawFeatures {
    /// One per row.
    pub customer_ids: Vec<String>,
    /// One per column, FEATURES.md names, in FEATURES.md order.
    pub names: Vec<String>,
    /// Rows x columns; NaN (or any non-finite value) = NULL.
    pub values: Array2<f64>,
}

/// Archetype and label of the DBSCAN noise: its summary row, its customers, its map colour.
pub const OUTLIERS: &str = "Outliers";
/// Label of the customers with too few orders to be clustered.
pub const NOT_SEGMENTED: &str = "Not segmented";

/// The label of segment `n`: `"Segment n"`.
pub fn segment_label(segment: usize) -> String {
    format!("Segment {segment}")
}

/// The label of a summary row: "Segment 3", or "Outliers" for `None`.
pub fn segment_or_outliers_label(segment: Option<usize>) -> String {
    segment.map_or_else(|| OUTLIERS.to_string(), segment_label)
}

/// Every criterion of the K-means sweep for one K.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KSweepRow {
    pub k: usize,
    pub inertia: f64,
    pub silhouette: Option<f64>,
    pub calinski_harabasz: Option<f64>,
    pub davies_bouldin: Option<f64>,
    /// Mean adjusted Rand index over the subsample pairs; `None` when no pair was run.
    pub stability: Option<f64>,
}

/// One row of `cluster_summary`: a segment, or the Outliers.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct SegmentSummary {
    /// 1..=K; None for the Outliers row.
    pub segment: Option<usize>,
    pub label: String,
    pub archetype: String,
    pub size: usize,
    pub share: f64,
    pub description: String,
    pub action: String,
    pub silhouette: Option<f64>,
    pub micro_segments: usize,
    /// Share of all returned units that this segment's customers returned.
    pub returned_units_share: f64,
    /// Share of all orders that this segment's customers placed.
    #[serde(default)]
    pub order_share: f64,
    /// Why the segment carries its name: the deciding numbers, in business words.
    #[serde(default)]
    pub reasons: Vec<String>,
    /// The Outliers row's customers by kind, largest first (empty for segments).
    #[serde(default)]
    pub outlier_groups: Vec<OutlierGroup>,
    /// Medians of the key raw features.
    pub medians: Vec<(String, f64)>,
}

/// One kind of outlier (extreme returners, bulk buyers, ...) as summaries and reports show it;
/// see [`crate::pipeline::archetypes::outliers`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OutlierGroup {
    /// "Extreme returners".
    pub kind: String,
    pub customers: usize,
    /// customers / all outliers.
    pub share_of_outliers: f64,
    /// Their returned units / all clustered customers' returned units.
    pub returned_units_share: f64,
    pub description: String,
    pub action: String,
}

/// What the cluster stage found (plain data for the CLI, the app and the report), stored with
/// the stage in the analysis file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ClusterOutcome {
    pub customers: usize,
    pub features: Vec<String>,
    pub eps: f64,
    pub eps_source: String,
    pub min_samples: usize,
    pub noise_ratio: f64,
    pub outliers: usize,
    pub chosen_k: usize,
    /// The K the sweep recommended (differs from `chosen_k` when the user picked another).
    #[serde(default)]
    pub recommended_k: usize,
    pub choice_reason: String,
    pub elbow_k: Option<usize>,
    pub weak_structure: bool,
    pub silhouette: Option<f64>,
    pub calinski_harabasz: Option<f64>,
    pub davies_bouldin: Option<f64>,
    pub sweep: Vec<KSweepRow>,
    pub segments: Vec<SegmentSummary>,
    pub kdistance_curve: Vec<[f64; 2]>,
    pub kdistance_knee: Option<f64>,
    pub pca_explained: [f64; 2],
    pub trustworthiness_pca: Option<f64>,
    pub trustworthiness_umap: Option<f64>,
    pub umap_points: usize,
    pub warnings: Vec<String>,
    /// (phase, seconds).
    pub timings: Vec<(String, f64)>,
    /// Where the caller wrote the metadata JSON (not part of the stored outcome's meaning).
    pub metadata_path: Option<PathBuf>,
}
