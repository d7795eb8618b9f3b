//! Segments over time, part 2: what changed between two periods (OLD and NEW analyses).
//!
//! NEW's customers are placed with OLD's model (scored now unless NEW already carries those
//! scores, or NEW *is* OLD's clustering), so both periods speak in OLD's segments. The result:
//! customers in both, only in OLD, only in NEW; the migration matrix (OLD segment x NEW segment,
//! "Outliers" and "Not segmented" as rows and columns of their own); every segment's size in
//! both periods; the drift of every feature ([`drift`]); and one row per customer in both
//! periods (the movers table). Plain data in and out; nothing here draws or writes files.

pub mod drift;
pub mod output;
pub mod workbook;

use crate::pipeline::error::{DbContext, PipelineError, Result};
use crate::pipeline::features::SILVER;
use crate::pipeline::gold::read_raw_features;
use crate::pipeline::model::{OUTLIERS, segment_label};
use crate::pipeline::progress::Progress;
use crate::pipeline::results::RESULTS;
use crate::pipeline::scoring::model::{SegmentationModel, require_model, stored_model_info};
use crate::pipeline::scoring::{SCORED, score_store, stored_score};
use crate::pipeline::store::Store;
pub use drift::FeatureDrift;
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// Label of customers with too few orders to be segmented (the one spelling).
pub use crate::pipeline::model::NOT_SEGMENTED;

/// One period's analysis.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Period {
    pub analysis: String,
    pub input_name: String,
    pub as_of: Option<String>,
    pub customers: usize,
}

/// A row and column of the migration matrix: a segment, the outliers, or the not segmented.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Category {
    /// "1".."K", "outliers", "not_segmented".
    pub key: String,
    /// "Segment 1", "Outliers", "Not segmented".
    pub label: String,
    /// The archetype of OLD's model ("" for Not segmented).
    pub archetype: String,
}

/// A category's size in both periods (all customers of each period).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SizeRow {
    pub key: String,
    pub label: String,
    pub archetype: String,
    pub old: usize,
    pub new: usize,
    pub old_share: f64,
    pub new_share: f64,
}

/// Where one customer is in each period.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Mover {
    pub customer_id: String,
    /// Segment id as in `clustering_results` (an outlier's nearest segment); None = not segmented.
    pub old_segment: Option<usize>,
    pub new_segment: Option<usize>,
    pub old_archetype: String,
    pub new_archetype: String,
    pub old_is_outlier: bool,
    pub new_is_outlier: bool,
    /// Index into [`Comparison::categories`] in each period.
    pub old_category: usize,
    pub new_category: usize,
}

impl Mover {
    /// Whether the customer changed category (segment, outliers, not segmented).
    pub fn moved(&self) -> bool {
        self.old_category != self.new_category
    }
}

/// How NEW's segments were obtained.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum NewSegments {
    /// NEW is the clustering OLD's model was learned from.
    OwnClustering,
    /// NEW was already scored with OLD's model.
    AlreadyScored,
    /// NEW was scored with OLD's model by this comparison.
    ScoredNow,
}

/// Everything the comparison found.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Comparison {
    pub old: Period,
    pub new: Period,
    pub model_id: String,
    pub new_segments: NewSegments,
    pub in_both: usize,
    pub only_old: usize,
    pub only_new: usize,
    /// Customers in both periods whose category changed.
    pub moved: usize,
    pub categories: Vec<Category>,
    /// `matrix[old][new]`: customers in both periods, by category.
    pub matrix: Vec<Vec<usize>>,
    /// `row_shares[old][new]` = matrix / row total (0 for an empty row).
    pub row_shares: Vec<Vec<f64>>,
    pub sizes: Vec<SizeRow>,
    /// Per feature, FEATURES.md order.
    pub drift: Vec<FeatureDrift>,
    /// One row per customer in both periods, by customer id.
    #[serde(skip)]
    pub movers: Vec<Mover>,
    pub seconds: f64,
}

/// A customer's place in one period.
#[derive(Debug, Clone, PartialEq)]
struct Place {
    segment: Option<usize>,
    is_outlier: bool,
    archetype: String,
}

/// Compare two analyses (they may be the same file: pass the same store twice).
pub fn compare(old: &Store, new: &Store, progress: &Progress) -> Result<Comparison> {
    let started = Instant::now();
    progress.update(0.0, "Reading OLD's model");
    let model = require_model(old)?;
    require_features(old)?;
    require_features(new)?;
    let (old_ids, new_ids) = (customer_ids(old)?, customer_ids(new)?);
    let in_both = count_common(&old_ids, &new_ids);
    if in_both == 0 {
        return Err(PipelineError::NoCommonCustomers {
            old_customers: old_ids.len(),
            new_customers: new_ids.len(),
        });
    }
    progress.check_cancel()?;
    let new_segments = segments_of_new(new, &model)?;
    if new_segments == NewSegments::ScoredNow {
        progress.update(0.05, "Scoring NEW with OLD's model");
        score_store(new, &model, &progress.sub(0.05, 0.6))?;
    }
    progress.update(0.6, "Migration matrix");
    let old_places = places(old, RESULTS)?;
    let new_table = if new_segments == NewSegments::OwnClustering { RESULTS } else { SCORED };
    let new_places = places(new, new_table)?;
    let categories = categories_of(&model);
    let movers = movers(&old_places, &new_places, model.segments.len());
    progress.check_cancel()?;
    progress.update(0.7, "Feature drift");
    let drift = feature_drift(old, new, &model)?;
    let (matrix, row_shares) = migration_matrix(&movers, categories.len());
    let sizes = sizes(&categories, &old_places, &new_places, model.segments.len());
    progress.update_items(1.0, "Comparison ready", in_both as u64);
    Ok(Comparison {
        old: period(old, old_ids.len())?,
        new: period(new, new_ids.len())?,
        model_id: model.model_id.clone(),
        new_segments,
        in_both,
        only_old: old_ids.len() - in_both,
        only_new: new_ids.len() - in_both,
        moved: movers.iter().filter(|m| m.moved()).count(),
        categories,
        matrix,
        row_shares,
        sizes,
        drift,
        movers,
        seconds: started.elapsed().as_secs_f64(),
    })
}

fn require_features(store: &Store) -> Result<()> {
    if store.table_exists(SILVER)? {
        return Ok(());
    }
    Err(PipelineError::NotSegmented { path: store.path().display().to_string() })
}

fn customer_ids(store: &Store) -> Result<Vec<String>> {
    let mut stmt = store
        .conn()
        .prepare(&format!("SELECT customer_id FROM {SILVER}"))
        .db("reading customers")?;
    let mut ids = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .db("reading customers")?
        .collect::<std::result::Result<Vec<_>, _>>()
        .db("reading customers")?;
    ids.sort_unstable();
    Ok(ids)
}

/// Customers in both sorted id lists.
fn count_common(a: &[String], b: &[String]) -> usize {
    let (mut i, mut j, mut n) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                n += 1;
                i += 1;
                j += 1;
            }
        }
    }
    n
}

fn segments_of_new(new: &Store, model: &SegmentationModel) -> Result<NewSegments> {
    let own = stored_model_info(new)?.is_some_and(|info| info.model_id == model.model_id);
    if own && new.table_exists(RESULTS)? {
        return Ok(NewSegments::OwnClustering);
    }
    if stored_score(new)?.is_some_and(|s| s.model_id == model.model_id) {
        return Ok(NewSegments::AlreadyScored);
    }
    Ok(NewSegments::ScoredNow)
}

/// Every silver customer of a period with its place in `table`, by customer id.
fn places(store: &Store, table: &str) -> Result<Vec<(String, Place)>> {
    let sql = format!(
        "SELECT s.customer_id, r.segment, coalesce(r.is_outlier, false), r.archetype
         FROM {SILVER} s LEFT JOIN {table} r USING (customer_id)"
    );
    let mut stmt = store.conn().prepare(&sql).db("reading the segments")?;
    let mut rows = stmt
        .query_map([], |r| {
            let segment: Option<i64> = r.get(1)?;
            Ok((
                r.get::<_, String>(0)?,
                Place {
                    segment: segment.filter(|s| *s >= 1).map(|s| s as usize),
                    is_outlier: r.get(2)?,
                    archetype: r.get::<_, Option<String>>(3)?.unwrap_or_default(),
                },
            ))
        })
        .db("reading the segments")?
        .collect::<std::result::Result<Vec<_>, _>>()
        .db("reading the segments")?;
    rows.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    Ok(rows)
}

/// Category index of a place: segments 0..K, then Outliers (K), then Not segmented (K + 1).
fn category_of(place: &Place, k: usize) -> usize {
    match place.segment {
        None => k + 1,
        Some(_) if place.is_outlier => k,
        Some(s) => (s - 1).min(k + 1),
    }
}

fn categories_of(model: &SegmentationModel) -> Vec<Category> {
    let mut out: Vec<Category> = model
        .segments
        .iter()
        .map(|s| Category {
            key: s.segment.to_string(),
            label: segment_label(s.segment),
            archetype: s.texts.archetype.clone(),
        })
        .collect();
    out.push(Category {
        key: "outliers".into(),
        label: OUTLIERS.into(),
        archetype: model.outlier_texts.archetype.clone(),
    });
    out.push(Category {
        key: "not_segmented".into(),
        label: NOT_SEGMENTED.into(),
        archetype: String::new(),
    });
    out
}

fn movers(old: &[(String, Place)], new: &[(String, Place)], k: usize) -> Vec<Mover> {
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    while i < old.len() && j < new.len() {
        match old[i].0.cmp(&new[j].0) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                let (o, n) = (&old[i].1, &new[j].1);
                out.push(Mover {
                    customer_id: old[i].0.clone(),
                    old_segment: o.segment,
                    new_segment: n.segment,
                    old_archetype: archetype_or_not_segmented(o),
                    new_archetype: archetype_or_not_segmented(n),
                    old_is_outlier: o.is_outlier,
                    new_is_outlier: n.is_outlier,
                    old_category: category_of(o, k),
                    new_category: category_of(n, k),
                });
                i += 1;
                j += 1;
            }
        }
    }
    out
}

fn archetype_or_not_segmented(p: &Place) -> String {
    if p.segment.is_none() { NOT_SEGMENTED.to_string() } else { p.archetype.clone() }
}

fn migration_matrix(movers: &[Mover], categories: usize) -> (Vec<Vec<usize>>, Vec<Vec<f64>>) {
    let mut matrix = vec![vec![0usize; categories]; categories];
    for m in movers {
        matrix[m.old_category][m.new_category] += 1;
    }
    let shares = matrix
        .iter()
        .map(|row| {
            let total = row.iter().sum::<usize>();
            row.iter().map(|&c| if total == 0 { 0.0 } else { c as f64 / total as f64 }).collect()
        })
        .collect();
    (matrix, shares)
}

fn sizes(
    categories: &[Category],
    old: &[(String, Place)],
    new: &[(String, Place)],
    k: usize,
) -> Vec<SizeRow> {
    let count = |places: &[(String, Place)]| {
        let mut c = vec![0usize; categories.len()];
        places.iter().for_each(|(_, p)| c[category_of(p, k)] += 1);
        c
    };
    let (o, n) = (count(old), count(new));
    let share = |c: usize, total: usize| if total == 0 { 0.0 } else { c as f64 / total as f64 };
    categories
        .iter()
        .enumerate()
        .map(|(i, c)| SizeRow {
            key: c.key.clone(),
            label: c.label.clone(),
            archetype: c.archetype.clone(),
            old: o[i],
            new: n[i],
            old_share: share(o[i], old.len()),
            new_share: share(n[i], new.len()),
        })
        .collect()
}

/// Drift of every feature the model's gold layer considered, over each period's eligible
/// customers (the population the model segments).
fn feature_drift(old: &Store, new: &Store, model: &SegmentationModel) -> Result<Vec<FeatureDrift>> {
    let (a, b) = (read_raw_features(old, true)?, read_raw_features(new, true)?);
    Ok(model
        .features
        .iter()
        .filter_map(|f| {
            let ca = a.names.iter().position(|n| *n == f.name)?;
            let cb = b.names.iter().position(|n| *n == f.name)?;
            let va: Vec<f64> = a.values.column(ca).to_vec();
            let vb: Vec<f64> = b.values.column(cb).to_vec();
            drift::feature_drift(&f.name, &va, &vb)
        })
        .collect())
}

fn period(store: &Store, customers: usize) -> Result<Period> {
    let ingest = crate::pipeline::ingest::stored_ingest(store)?.map(|(s, _)| s);
    let as_of = crate::pipeline::validate::stored_report(store)?.and_then(|q| q.as_of);
    Ok(Period {
        analysis: store.path().display().to_string(),
        input_name: ingest.map(|s| s.input_name).unwrap_or_default(),
        as_of,
        customers,
    })
}
