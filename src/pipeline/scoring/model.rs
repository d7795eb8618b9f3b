//! The saved segmentation model: everything a clustering decided that is needed to place one
//! more customer without clustering again, as a versioned, documented JSON document.
//!
//! It is built at the end of the cluster stage ([`build_model`]) and stored in the analysis file
//! (`segmentation_model`, one row: format version, model id, the document); `returnscope export
//! model` writes the same document to a `.json` file. [`load_model`] reads either form and
//! refuses a document of another format version. The format is described field by field in
//! `docs/model-format.md`.

use crate::pipeline::cluster::stage::ClusterRun;
use crate::pipeline::config::Config;
use crate::pipeline::error::{DbContext, PipelineError, Result};
use crate::pipeline::gold::TRANSFORMS;
use crate::pipeline::model::OUTLIERS;
use crate::pipeline::store::Store;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::Path;

/// The `format` field of every model document.
pub const MODEL_FORMAT: &str = "returnscope.segmentation_model";
/// The format version this build writes and reads.
pub const MODEL_FORMAT_VERSION: u32 = 1;
/// The table holding the model in an analysis file.
pub const MODEL_TABLE: &str = "segmentation_model";

/// A frozen segmentation: transforms, outlier rule, segment centres, micro-segment cores and
/// the texts shown to users.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentationModel {
    /// Always [`MODEL_FORMAT`].
    pub format: String,
    /// [`MODEL_FORMAT_VERSION`] when written by this build.
    pub format_version: u32,
    /// First 16 hex digits of the SHA-256 of the document (with `model_id` and `created_at`
    /// empty): the same clustering always has the same id.
    pub model_id: String,
    /// When the model was built (UTC, RFC 3339).
    pub created_at: String,
    /// The input the model was learned from.
    pub source: ModelSource,
    /// The configuration of the analysis (features, gold, DBSCAN, K-means, micro-segments).
    pub config: Config,
    /// Every feature the gold layer considered, in FEATURES.md order, with its transforms.
    pub features: Vec<ModelFeature>,
    /// Phase 1: who is an outlier.
    pub outliers: OutlierRule,
    /// Phase 2 and 3: one entry per segment, 1..=K in order.
    pub segments: Vec<ModelSegment>,
    /// Name, description and action of the Outliers group.
    pub outlier_texts: SegmentTexts,
    /// How often the rule reproduces the stored segments of the model's own customers.
    pub self_agreement: Option<Agreement>,
}

/// Where the model came from.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ModelSource {
    pub input_name: String,
    pub input_sha256: String,
    pub rows_loaded: u64,
    /// Customers clustered (eligible).
    pub customers: usize,
    pub as_of: Option<String>,
}

/// One input feature of the gold layer: whether it is a coordinate of the model's space and
/// how a raw value becomes that coordinate: fill a NULL with `fill_value`, `ln(1 + x)` when
/// `log1p`, clip to `clip_low..=clip_high`, then `(x - center) / scale`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelFeature {
    pub name: String,
    /// A coordinate of the model's space (kept by the gold layer).
    pub used: bool,
    /// Why the gold layer dropped it (completeness, near-constant, correlation).
    pub drop_reason: Option<String>,
    pub fill_value: Option<f64>,
    pub log1p: bool,
    pub clip_low: Option<f64>,
    pub clip_high: Option<f64>,
    pub center: Option<f64>,
    pub scale: Option<f64>,
}

/// DBSCAN's rule for noise: a customer with no core point within `eps` is an outlier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutlierRule {
    pub eps: f64,
    pub min_samples: usize,
    /// Core points of the DBSCAN clusters kept (scaled coordinates, one array per point).
    pub core_points: Vec<Vec<f64>>,
}

/// The texts users see for a segment (or the Outliers group).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SegmentTexts {
    pub archetype: String,
    pub description: String,
    pub action: String,
}

/// One K-means segment and its micro-segments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelSegment {
    /// 1..=K, as in `clustering_results`.
    pub segment: usize,
    #[serde(flatten)]
    pub texts: SegmentTexts,
    /// The K-means centre (scaled coordinates).
    pub centre: Vec<f64>,
    /// eps of the micro-segment DBSCAN; `None` when the segment was too small for one.
    pub micro_eps: Option<f64>,
    /// Micro-segment number j (of `"<segment>.<j>"`) of each core point below.
    pub micro_core_labels: Vec<u32>,
    /// Core points of the micro-segments (scaled coordinates).
    pub micro_core_points: Vec<Vec<f64>>,
}

/// Agreement of the model's rule with the stored clustering on the model's own customers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Agreement {
    pub customers: usize,
    /// Same segment, outlier flag and micro-segment as stored.
    pub agreeing: usize,
}

impl Agreement {
    pub fn share(&self) -> f64 {
        if self.customers == 0 { 1.0 } else { self.agreeing as f64 / self.customers as f64 }
    }
}

impl SegmentationModel {
    /// The configuration that builds a new extract's features as the model's were built: the
    /// model's own, with the extract's own as_of and this machine's memory and temp folder.
    pub fn config_for_new_extract(&self) -> Config {
        let mut config = self.config.clone();
        config.data.as_of = None;
        config.store = Config::default().store;
        config
    }

    /// Names of the model's coordinates, in order.
    pub fn used_features(&self) -> Vec<&str> {
        self.features.iter().filter(|f| f.used).map(|f| f.name.as_str()).collect()
    }

    /// The texts of segment `s` (1..=K).
    pub fn segment_texts(&self, s: usize) -> Option<&SegmentTexts> {
        self.segments.get(s.wrapping_sub(1)).map(|seg| &seg.texts)
    }

    /// The archetype a customer of segment `s` carries (outliers: "Outliers").
    pub fn archetype_of(&self, s: usize, is_outlier: bool) -> String {
        if is_outlier {
            return OUTLIERS.to_string();
        }
        self.segment_texts(s).map(|t| t.archetype.clone()).unwrap_or_default()
    }

    /// The model as compact JSON (the exported and the stored form).
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string(self).map_err(|e| PipelineError::Data(e.to_string()))
    }

    /// Parse a model document, checking its format and version first.
    pub fn from_json(text: &str, origin: &str) -> Result<Self> {
        #[derive(Deserialize)]
        struct Header {
            format: Option<String>,
            format_version: Option<u32>,
        }
        let not_a_model =
            |why: String| PipelineError::ModelUnreadable { path: origin.to_string(), reason: why };
        let header: Header =
            serde_json::from_str(text).map_err(|e| not_a_model(format!("not JSON ({e})")))?;
        if header.format.as_deref() != Some(MODEL_FORMAT) {
            return Err(not_a_model(format!("its \"format\" is not \"{MODEL_FORMAT}\"")));
        }
        let found = header.format_version.unwrap_or(0);
        if found != MODEL_FORMAT_VERSION {
            return Err(PipelineError::ModelVersion {
                path: origin.to_string(),
                found,
                supported: MODEL_FORMAT_VERSION,
            });
        }
        serde_json::from_str(text).map_err(|e| not_a_model(e.to_string()))
    }

    /// The model with its measured self-agreement (the tests' short form of
    /// [`Self::with_agreement_document`]).
    #[cfg(test)]
    pub fn with_agreement(self, agreement: Agreement) -> Result<Self> {
        self.with_agreement_document(agreement).map(|(model, _)| model)
    }

    /// The model with its measured self-agreement and the id recomputed to include it, and the
    /// model's document ([`Self::to_json`]) made from the serialisation its id is hashed from: at
    /// a million customers each serialisation of the core points costs about a second.
    pub fn with_agreement_document(mut self, agreement: Agreement) -> Result<(Self, String)> {
        self.self_agreement = Some(agreement);
        let created_at = std::mem::take(&mut self.created_at);
        self.model_id.clear();
        let body = serde_json::to_string(&self).map_err(|e| PipelineError::Data(e.to_string()))?;
        let digest = Sha256::digest(body.as_bytes());
        self.model_id = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
        self.created_at = created_at;
        let document = match fill_header(&body, &self.model_id, &self.created_at) {
            Some(document) => document,
            None => self.to_json()?,
        };
        Ok((self, document))
    }
}

/// How serde writes the id and creation time while the id is hashed: both empty, right after
/// `format` and `format_version` (the struct's field order).
const EMPTY_HEADER: &str = r#","model_id":"","created_at":"","#;

/// `body` (a model serialised with an empty id and creation time) with both filled in: the
/// document serde writes for the filled model, without serialising it again. `None` when the
/// empty header is not where it belongs (then serialise).
fn fill_header(body: &str, model_id: &str, created_at: &str) -> Option<String> {
    let at = body.find(EMPTY_HEADER)?;
    let prefix = &body[..at];
    if prefix.contains("\"model_id\"") {
        return None;
    }
    let quoted = |v: &str| serde_json::to_string(v).ok();
    let header =
        format!(r#","model_id":{},"created_at":{},"#, quoted(model_id)?, quoted(created_at)?);
    Some([prefix, &header, &body[at + EMPTY_HEADER.len()..]].concat())
}

/// Build the model of a finished clustering run (the gold transforms are read from `store`),
/// without its id: `self_agreement` is measured by the caller, and
/// [`SegmentationModel::with_agreement_document`] then computes the id of the whole document (hashing
/// it here too cost one more serialization of every core point: seconds at a million).
pub fn build_model(store: &Store, config: &Config, run: &ClusterRun) -> Result<SegmentationModel> {
    let features = read_transforms(store)?;
    let used: Vec<&str> = features.iter().filter(|f| f.used).map(|f| f.name.as_str()).collect();
    if used != run.feature_names.iter().map(String::as_str).collect::<Vec<_>>() {
        return Err(PipelineError::Data(
            "the clustering matrix changed since the segments were computed: run the \
             clustering again"
                .into(),
        ));
    }
    let h = &run.hybrid;
    let row = |i: usize| run.matrix.row(i).to_vec();
    let core_points = (0..h.dbscan_core.len()).filter(|&i| h.dbscan_core[i]).map(row).collect();
    let segments = (1..=h.chosen_k)
        .map(|s| {
            let cores: Vec<usize> = (0..h.segment.len())
                .filter(|&i| h.micro_core[i] && h.segment[i] == s && !h.is_outlier[i])
                .collect();
            ModelSegment {
                segment: s,
                texts: texts_of(run, Some(s)),
                centre: h.centroids.row(s - 1).to_vec(),
                micro_eps: h.micro_eps.get(s - 1).copied().flatten(),
                micro_core_labels: cores
                    .iter()
                    .map(|&i| micro_number(&h.micro_segment[i]))
                    .collect(),
                micro_core_points: cores.into_iter().map(row).collect(),
            }
        })
        .collect();
    let ingest = crate::pipeline::ingest::stored_ingest(store)?.map(|(s, _)| s);
    let as_of = crate::pipeline::validate::stored_report(store)?.and_then(|q| q.as_of);
    let model = SegmentationModel {
        format: MODEL_FORMAT.to_string(),
        format_version: MODEL_FORMAT_VERSION,
        model_id: String::new(),
        created_at: String::new(),
        source: ModelSource {
            input_name: ingest.as_ref().map(|s| s.input_name.clone()).unwrap_or_default(),
            input_sha256: ingest.as_ref().map(|s| s.input_sha256.clone()).unwrap_or_default(),
            rows_loaded: ingest.as_ref().map_or(0, |s| s.rows_loaded),
            customers: run.customer_ids.len(),
            as_of,
        },
        config: config.clone(),
        features,
        outliers: OutlierRule { eps: h.eps, min_samples: h.min_samples, core_points },
        segments,
        outlier_texts: texts_of(run, None),
        self_agreement: None,
    };
    Ok(SegmentationModel { created_at: now_rfc3339(), ..model })
}

fn texts_of(run: &ClusterRun, segment: Option<usize>) -> SegmentTexts {
    run.profiles
        .iter()
        .find(|p| p.segment == segment)
        .map(|p| SegmentTexts {
            archetype: p.archetype.clone(),
            description: p.description.clone(),
            action: p.action.clone(),
        })
        .unwrap_or_else(|| SegmentTexts {
            archetype: if segment.is_none() { OUTLIERS.to_string() } else { String::new() },
            ..SegmentTexts::default()
        })
}

/// j of a micro-segment id `"<segment>.<j>"` (0 when it cannot be read).
fn micro_number(id: &str) -> u32 {
    id.rsplit('.').next().and_then(|j| j.parse().ok()).unwrap_or(0)
}

fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let (y, m, d) = crate::pipeline::sample::calendar::civil_from_days(secs.div_euclid(86_400));
    let t = secs.rem_euclid(86_400);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", t / 3600, t / 60 % 60, t % 60)
}

fn read_transforms(store: &Store) -> Result<Vec<ModelFeature>> {
    let sql = format!(
        "SELECT feature, kept, drop_reason, fill_value, log1p, clip_low, clip_high, center, scale
         FROM {TRANSFORMS} ORDER BY rowid"
    );
    let mut stmt = store.conn().prepare(&sql).db("reading the gold transforms")?;
    let rows = stmt
        .query_map([], |r| {
            Ok(ModelFeature {
                name: r.get(0)?,
                used: r.get(1)?,
                drop_reason: r.get(2)?,
                fill_value: r.get(3)?,
                log1p: r.get(4)?,
                clip_low: r.get(5)?,
                clip_high: r.get(6)?,
                center: r.get(7)?,
                scale: r.get(8)?,
            })
        })
        .db("reading the gold transforms")?;
    rows.collect::<std::result::Result<Vec<_>, _>>().db("reading the gold transforms")
}

/// Replace the model stored in the analysis file (inside the cluster stage's transaction) with
/// `model` and its document ([`SegmentationModel::to_json`], made with its id).
pub fn write_model(store: &Store, model: &SegmentationModel, document: &str) -> Result<()> {
    store
        .conn()
        .execute_batch(&format!(
            "CREATE OR REPLACE TABLE {MODEL_TABLE} (format_version INTEGER, model_id VARCHAR,
               created_at VARCHAR, customers BIGINT, agreeing BIGINT, document VARCHAR)"
        ))
        .db("creating the model table")?;
    let agreement = model.self_agreement.unwrap_or(Agreement { customers: 0, agreeing: 0 });
    store
        .conn()
        .execute(
            &format!("INSERT INTO {MODEL_TABLE} VALUES (?, ?, ?, ?, ?, ?)"),
            duckdb::params![
                model.format_version,
                model.model_id,
                model.created_at,
                agreement.customers as i64,
                agreement.agreeing as i64,
                document
            ],
        )
        .db("storing the model")?;
    Ok(())
}

/// The stored model's id and self-agreement, without reading its points.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelInfo {
    pub model_id: String,
    pub customers: usize,
    pub agreeing: usize,
    /// agreeing / customers.
    pub agreement: f64,
}

/// The id and self-agreement of the model stored in an analysis file, if any.
pub fn stored_model_info(store: &Store) -> Result<Option<ModelInfo>> {
    if !store.table_exists(MODEL_TABLE)? {
        return Ok(None);
    }
    let sql = format!("SELECT model_id, customers, agreeing FROM {MODEL_TABLE} LIMIT 1");
    let info = store.conn().query_row(&sql, [], |r| {
        let customers = r.get::<_, Option<i64>>(1)?.unwrap_or(0) as usize;
        let agreeing = r.get::<_, Option<i64>>(2)?.unwrap_or(0) as usize;
        Ok(ModelInfo {
            model_id: r.get(0)?,
            customers,
            agreeing,
            agreement: Agreement { customers, agreeing }.share(),
        })
    });
    match info {
        Ok(info) => Ok(Some(info)),
        Err(duckdb::Error::QueryReturnedNoRows) => Ok(None),
        Err(e) => Err(e).db("reading the model"),
    }
}

/// The model stored in an analysis file; `None` when it has none (not clustered, or clustered
/// by a version without models).
pub fn stored_model(store: &Store) -> Result<Option<SegmentationModel>> {
    if !store.table_exists(MODEL_TABLE)? {
        return Ok(None);
    }
    let origin = store.path().display().to_string();
    let row: Option<(Option<u32>, String)> = store
        .conn()
        .query_row(
            &format!("SELECT format_version, document FROM {MODEL_TABLE} LIMIT 1"),
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map(Some)
        .or_else(|e| match e {
            duckdb::Error::QueryReturnedNoRows => Ok(None),
            other => Err(other),
        })
        .db("reading the model")?;
    let Some((version, document)) = row else { return Ok(None) };
    let found = version.unwrap_or(0);
    if found != MODEL_FORMAT_VERSION {
        return Err(PipelineError::ModelVersion {
            path: origin,
            found,
            supported: MODEL_FORMAT_VERSION,
        });
    }
    SegmentationModel::from_json(&document, &origin).map(Some)
}

/// The model of a clustered analysis, or a message saying why there is none.
pub fn require_model(store: &Store) -> Result<SegmentationModel> {
    stored_model(store)?
        .ok_or_else(|| PipelineError::NotSegmented { path: store.path().display().to_string() })
}

/// Whether a file is a model document (JSON) rather than an analysis file (DuckDB).
pub fn is_json_file(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 64];
    let Ok(mut file) = std::fs::File::open(path) else { return false };
    let n = file.read(&mut head).unwrap_or(0);
    head[..n].iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

/// Read a model from a `.json` document or from an analysis file.
pub fn load_model(path: &Path, config: &Config) -> Result<SegmentationModel> {
    if !path.exists() {
        return Err(PipelineError::InputUnreadable {
            path: path.display().to_string(),
            reason: "no such file".into(),
        });
    }
    if is_json_file(path) {
        let text = std::fs::read_to_string(path).map_err(|e| PipelineError::InputUnreadable {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        return SegmentationModel::from_json(&text, &path.display().to_string());
    }
    let store = Store::open(path, &config.store)?;
    require_model(&store)
}

/// Write the model document to `out` (`returnscope export model`).
pub fn export_model(model: &SegmentationModel, out: &Path) -> Result<()> {
    let write_error = |e: std::io::Error| PipelineError::Write {
        path: out.display().to_string(),
        reason: e.to_string(),
    };
    let tmp = out.with_extension("json.partial");
    std::fs::write(&tmp, model.to_json()?).map_err(write_error)?;
    std::fs::rename(&tmp, out).map_err(write_error)
}

#[cfg(test)]
mod tests {
    use super::fill_header;

    #[test]
    fn the_empty_header_is_filled_where_serde_writes_it() {
        let body = r#"{"format":"f","format_version":1,"model_id":"","created_at":"","x":1}"#;
        let filled = r#"{"format":"f","format_version":1,"model_id":"ab","created_at":"t","x":1}"#;
        assert_eq!(fill_header(body, "ab", "t").as_deref(), Some(filled));
        // An id already there: not the body of a model being hashed.
        let with_id =
            r#"{"model_id":"ab","created_at":"t","y":{"a":1,"model_id":"","created_at":"","b":2}}"#;
        assert_eq!(fill_header(with_id, "cd", "u"), None);
    }
}
