//! The one configuration (TOML) for the CLI (`--config`) and the app's settings.
//!
//! Every key has the seed's default, unknown keys are rejected by name, and [`Config::validate`]
//! names the key of any value out of range. `Config::default()` is the configuration the product
//! ships with; `returnscope config --print` would write it out (see README).

use serde::{Deserialize, Serialize};
use std::path::Path;

/// Everything that can go wrong reading a configuration file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration file {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("the configuration file {path} is not valid: {message}")]
    Parse { path: String, message: String },
    #[error("configuration key `{key}` has a bad value: {message}")]
    BadValue { key: &'static str, message: String },
}

/// `eps` for a DBSCAN run: estimated from the data, or a fixed radius in standardized units.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum EpsSetting {
    #[default]
    Auto,
    Value(f64),
}

impl Serialize for EpsSetting {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            EpsSetting::Auto => s.serialize_str("auto"),
            EpsSetting::Value(v) => s.serialize_f64(*v),
        }
    }
}

impl<'de> Deserialize<'de> for EpsSetting {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(f64),
            Int(i64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Number(v) => Ok(EpsSetting::Value(v)),
            Raw::Int(v) => Ok(EpsSetting::Value(v as f64)),
            Raw::Text(t) if t.trim().eq_ignore_ascii_case("auto") => Ok(EpsSetting::Auto),
            Raw::Text(t) => Err(serde::de::Error::custom(format!(
                "eps must be \"auto\" or a positive number, not \"{t}\""
            ))),
        }
    }
}

/// How the gold layer scales each feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scaling {
    /// z-score: (x - mean) / std.
    #[default]
    Standard,
    /// (x - median) / IQR.
    Robust,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub data: DataConfig,
    pub quality: QualityConfig,
    pub gold: GoldConfig,
    pub dbscan: DbscanConfig,
    pub kmeans: KMeansConfig,
    pub subcluster: SubclusterConfig,
    pub embedding: EmbeddingConfig,
    pub store: StoreConfig,
}

/// Cleaning and feature windows (FEATURES.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataConfig {
    /// Reference timestamp; default: the latest ORDER_DATE among clean lines.
    pub as_of: Option<String>,
    pub drop_duplicate_rows: bool,
    /// W, the recency window in days.
    pub recency_window_days: f64,
    /// A, the adjacency window in days.
    pub adjacency_window_days: f64,
    /// Cluster on avg_order_value / avg_return_value when the input has GROSS.
    pub include_order_value: bool,
}

/// Dataset checks (blocking or warning) run by validation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QualityConfig {
    pub min_customers: u64,
    pub min_orders_per_customer: u32,
    pub max_missing_data_ratio: f64,
    pub min_feature_completeness: f64,
}

/// Silver -> gold matrix transforms (CLUSTERING.md "Gold").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GoldConfig {
    pub skew_threshold: f64,
    pub clip_lower_percentile: f64,
    pub clip_upper_percentile: f64,
    pub max_abs_correlation: f64,
    pub scaling: Scaling,
}

/// Phase 1: DBSCAN on the full gold space.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DbscanConfig {
    pub eps: EpsSetting,
    pub min_samples: usize,
    /// Auto eps is the (1 - max_noise_ratio) quantile of the k-distances.
    pub max_noise_ratio: f64,
    /// Points used to estimate the k-distance curve when n is larger.
    pub kdistance_sample: usize,
    /// 0 (the default): DBSCAN is exact on every customer. Otherwise, with an automatic eps,
    /// DBSCAN (phase 1, and each segment's micro-segments) runs on every point up to this many
    /// and, above it, on a fixed-seed sample of this many, every other point judged against the
    /// sample's core points: faster, not exact (docs/decisions.md, "Clustering").
    pub exact_limit: usize,
}

/// Phase 2: K-means sweep and K choice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KMeansConfig {
    pub k_min: usize,
    pub k_max: usize,
    pub n_init: usize,
    pub max_iter: usize,
    pub seed: u64,
    pub stability_pairs: usize,
    /// K-means runs (k-means++ starts, the best kept) per stability subsample fit.
    pub stability_runs: usize,
    pub silhouette_sample: usize,
    pub min_silhouette_score: f64,
    /// Above this many points, K is chosen on a fixed-seed sample of this many, and the chosen K
    /// is then fitted on everyone from the sample's centroids.
    pub sweep_sample: usize,
}

/// Phase 3: DBSCAN inside each segment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SubclusterConfig {
    pub enabled: bool,
    pub eps: EpsSetting,
    pub min_samples: usize,
}

/// 2-D views: PCA for all, UMAP-style on a sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmbeddingConfig {
    pub umap_enabled: bool,
    pub umap_sample: usize,
    pub n_neighbors: usize,
    pub min_dist: f64,
    pub n_epochs: usize,
    pub seed: u64,
    pub trustworthiness_sample: usize,
}

/// DuckDB settings: bounded memory, spilling to a temp directory.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// The analysis's memory budget, e.g. "4GB"; empty = half of the RAM, at most 8 GB. DuckDB
    /// gets three quarters of it and spills to disk beyond (see `pipeline::memory`).
    pub memory_limit: String,
    /// Worker threads for DuckDB; 0 = all cores.
    pub threads: usize,
    /// Where DuckDB spills; empty = `<db>.tmp` beside the database file.
    pub temp_directory: String,
}

impl Default for DataConfig {
    fn default() -> Self {
        Self {
            as_of: None,
            drop_duplicate_rows: true,
            recency_window_days: 90.0,
            adjacency_window_days: 14.0,
            include_order_value: false,
        }
    }
}

impl Default for QualityConfig {
    fn default() -> Self {
        Self {
            min_customers: 1000,
            min_orders_per_customer: 2,
            max_missing_data_ratio: 0.3,
            min_feature_completeness: 0.5,
        }
    }
}

impl Default for GoldConfig {
    fn default() -> Self {
        Self {
            skew_threshold: 1.0,
            clip_lower_percentile: 1.0,
            clip_upper_percentile: 99.0,
            max_abs_correlation: 0.95,
            scaling: Scaling::Standard,
        }
    }
}

impl Default for DbscanConfig {
    fn default() -> Self {
        Self {
            eps: EpsSetting::Auto,
            min_samples: 5,
            max_noise_ratio: 0.15,
            kdistance_sample: 20_000,
            exact_limit: 0,
        }
    }
}

impl Default for KMeansConfig {
    fn default() -> Self {
        Self {
            k_min: 3,
            k_max: 14,
            n_init: 10,
            max_iter: 300,
            seed: 42,
            stability_pairs: 3,
            stability_runs: 3,
            silhouette_sample: 10_000,
            min_silhouette_score: 0.3,
            sweep_sample: 50_000,
        }
    }
}

impl Default for SubclusterConfig {
    fn default() -> Self {
        Self { enabled: true, eps: EpsSetting::Auto, min_samples: 3 }
    }
}

impl Default for EmbeddingConfig {
    fn default() -> Self {
        Self {
            umap_enabled: true,
            umap_sample: 20_000,
            n_neighbors: 15,
            min_dist: 0.1,
            n_epochs: 200,
            seed: 42,
            trustworthiness_sample: 2_000,
        }
    }
}

fn bad(key: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError::BadValue { key, message: message.into() }
}

fn check_fraction(key: &'static str, v: f64) -> Result<(), ConfigError> {
    if (0.0..=1.0).contains(&v) {
        Ok(())
    } else {
        Err(bad(key, format!("{v} is not between 0 and 1")))
    }
}

fn check_positive(key: &'static str, v: f64) -> Result<(), ConfigError> {
    if v.is_finite() && v > 0.0 { Ok(()) } else { Err(bad(key, format!("{v} must be above 0"))) }
}

fn check_eps(key: &'static str, eps: EpsSetting) -> Result<(), ConfigError> {
    match eps {
        EpsSetting::Auto => Ok(()),
        EpsSetting::Value(v) => check_positive(key, v),
    }
}

impl Config {
    /// Parse a TOML text; `origin` names the file in messages.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Self, ConfigError> {
        let config: Config = toml::from_str(text)
            .map_err(|e| ConfigError::Parse { path: origin.to_string(), message: e.to_string() })?;
        config.validate()?;
        Ok(config)
    }

    /// Read and validate a TOML file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.display().to_string(), source })?;
        Self::from_toml_str(&text, &path.display().to_string())
    }

    /// The configuration as TOML, every key written out.
    pub fn to_toml_string(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }

    /// Check every value; the error names the first bad key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_data()?;
        self.validate_quality()?;
        self.validate_gold()?;
        self.validate_clustering()?;
        self.validate_embedding()?;
        self.validate_store()
    }

    fn validate_store(&self) -> Result<(), ConfigError> {
        let limit = self.store.memory_limit.trim();
        let is_size = crate::pipeline::memory::parse_size(limit).is_some_and(|b| b > 0);
        if limit.is_empty() || limit.eq_ignore_ascii_case("auto") || is_size {
            Ok(())
        } else {
            Err(bad(
                "store.memory_limit",
                format!(
                    "\"{limit}\" is not an amount of memory: write e.g. \"4GB\" or \"512MB\", \
                     or leave it empty for half of this computer's memory (at most 8 GB)"
                ),
            ))
        }
    }

    fn validate_data(&self) -> Result<(), ConfigError> {
        check_positive("data.recency_window_days", self.data.recency_window_days)?;
        check_positive("data.adjacency_window_days", self.data.adjacency_window_days)?;
        if let Some(as_of) = &self.data.as_of
            && as_of.trim().is_empty()
        {
            return Err(bad("data.as_of", "is empty; remove the key to use the latest order date"));
        }
        Ok(())
    }

    fn validate_quality(&self) -> Result<(), ConfigError> {
        let q = &self.quality;
        if q.min_orders_per_customer < 1 {
            return Err(bad("quality.min_orders_per_customer", "must be at least 1"));
        }
        check_fraction("quality.max_missing_data_ratio", q.max_missing_data_ratio)?;
        check_fraction("quality.min_feature_completeness", q.min_feature_completeness)
    }

    fn validate_gold(&self) -> Result<(), ConfigError> {
        let g = &self.gold;
        if !(0.0..50.0).contains(&g.clip_lower_percentile) {
            return Err(bad("gold.clip_lower_percentile", "must be in 0..50"));
        }
        if !(50.0..=100.0).contains(&g.clip_upper_percentile) {
            return Err(bad("gold.clip_upper_percentile", "must be in 50..=100"));
        }
        if !(g.max_abs_correlation > 0.0 && g.max_abs_correlation <= 1.0) {
            return Err(bad("gold.max_abs_correlation", "must be in (0, 1]"));
        }
        if !g.skew_threshold.is_finite() {
            return Err(bad("gold.skew_threshold", "must be a number"));
        }
        Ok(())
    }

    fn validate_clustering(&self) -> Result<(), ConfigError> {
        check_eps("dbscan.eps", self.dbscan.eps)?;
        if self.dbscan.min_samples < 2 {
            return Err(bad("dbscan.min_samples", "must be at least 2"));
        }
        check_fraction("dbscan.max_noise_ratio", self.dbscan.max_noise_ratio)?;
        if self.dbscan.kdistance_sample < 100 {
            return Err(bad("dbscan.kdistance_sample", "must be at least 100"));
        }
        if self.dbscan.exact_limit != 0 && self.dbscan.exact_limit < 1000 {
            return Err(bad("dbscan.exact_limit", "must be 0 (always exact) or at least 1000"));
        }
        let k = &self.kmeans;
        if k.k_min < 2 {
            return Err(bad("kmeans.k_min", "must be at least 2"));
        }
        if k.k_max < k.k_min {
            return Err(bad("kmeans.k_max", format!("{} is below k_min {}", k.k_max, k.k_min)));
        }
        if k.n_init < 1 {
            return Err(bad("kmeans.n_init", "must be at least 1"));
        }
        if k.stability_runs < 1 {
            return Err(bad("kmeans.stability_runs", "must be at least 1"));
        }
        if k.max_iter < 1 {
            return Err(bad("kmeans.max_iter", "must be at least 1"));
        }
        if k.sweep_sample < 1_000 {
            return Err(bad("kmeans.sweep_sample", "must be at least 1000"));
        }
        if k.silhouette_sample < 100 {
            return Err(bad("kmeans.silhouette_sample", "must be at least 100"));
        }
        check_fraction("kmeans.min_silhouette_score", k.min_silhouette_score.abs())?;
        check_eps("subcluster.eps", self.subcluster.eps)?;
        if self.subcluster.min_samples < 2 {
            return Err(bad("subcluster.min_samples", "must be at least 2"));
        }
        Ok(())
    }

    fn validate_embedding(&self) -> Result<(), ConfigError> {
        let e = &self.embedding;
        if e.n_neighbors < 2 {
            return Err(bad("embedding.n_neighbors", "must be at least 2"));
        }
        if e.umap_sample < 10 {
            return Err(bad("embedding.umap_sample", "must be at least 10"));
        }
        if e.n_epochs < 1 {
            return Err(bad("embedding.n_epochs", "must be at least 1"));
        }
        check_positive("embedding.min_dist", e.min_dist)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_round_trip_through_toml() {
        let text = Config::default().to_toml_string();
        let back = Config::from_toml_str(&text, "default").unwrap();
        assert_eq!(back, Config::default());
        assert!(text.contains("eps = \"auto\""));
    }

    #[test]
    fn unknown_key_is_named() {
        let err = Config::from_toml_str("[dbscan]\nepsilon = 0.5\n", "x.toml").unwrap_err();
        assert!(err.to_string().contains("epsilon"), "{err}");
    }

    #[test]
    fn bad_value_is_named() {
        let err = Config::from_toml_str("[kmeans]\nk_min = 5\nk_max = 3\n", "x.toml").unwrap_err();
        assert!(err.to_string().contains("kmeans.k_max"), "{err}");
        let err = Config::from_toml_str("[dbscan]\neps = \"wide\"\n", "x.toml").unwrap_err();
        assert!(err.to_string().contains("eps"), "{err}");
        let cfg = Config::from_toml_str("[dbscan]\neps = 1\n", "x.toml").unwrap();
        assert_eq!(cfg.dbscan.eps, EpsSetting::Value(1.0));
    }
}
