//! Placing customers with a saved model (the assignment rule of docs/decisions.md):
//!
//! 1. a raw silver row becomes a point of the model's space by the gold transforms the model
//!    recorded (fill NULL, log1p, clip, scale), [`to_model_space`];
//! 2. outlier when no DBSCAN core point lies within eps (DBSCAN's own rule for noise);
//! 3. the nearest K-means centre is the segment (outliers too, flagged), with its distance;
//! 4. the micro-segment of the nearest micro-segment core point within that segment's micro eps,
//!    else `"<segment>.0"` (always `.0` for an outlier).
//!
//! Pure code: no DuckDB, no clustering. Core points are indexed for batch radius queries
//! ([`RadiusIndex`]: DBSCAN's blocks and distance kernel) and searched exactly (squared
//! distances compared with eps², as the clustering's DBSCAN does).

use super::model::{Agreement, ModelFeature, SegmentationModel};
use crate::pipeline::cluster::assign_nearest;
use crate::pipeline::cluster::near::RadiusIndex;
use crate::pipeline::cluster::stage::ClusterRun;
use crate::pipeline::error::{PipelineError, Result};
use crate::pipeline::model::RawFeatures;
use crate::pipeline::progress::{Cancelled, Progress};
use ndarray::{Array2, ArrayView2, Axis};
use rayon::prelude::*;

/// Where the model places one customer.
#[derive(Debug, Clone, PartialEq)]
pub struct Assignment {
    /// 1..=K: the nearest centre (an outlier's too).
    pub segment: usize,
    pub micro_segment: String,
    pub is_outlier: bool,
    pub distance_to_centroid: f64,
}

/// Customers as points of the model's space.
#[derive(Debug, Clone)]
pub struct ModelSpace {
    pub customer_ids: Vec<String>,
    /// Rows x the model's coordinates.
    pub matrix: Array2<f64>,
    /// (feature, customers whose NULL took the model's fill value), for every coordinate.
    pub nulls_filled: Vec<(String, usize)>,
}

/// One raw value through a feature's recorded transforms; `None` for a NULL.
pub fn transform_value(f: &ModelFeature, raw: Option<f64>) -> f64 {
    let (Some(fill), Some(low), Some(high), Some(center), Some(scale)) =
        (f.fill_value, f.clip_low, f.clip_high, f.center, f.scale)
    else {
        return f64::NAN;
    };
    let x = raw.filter(|v| v.is_finite()).unwrap_or(fill);
    // ln(1 + x) is increasing: a negative value lies below every value the model saw (all were
    // >= 0 when log1p was chosen), so it clips to the lower bound.
    let x = if !f.log1p {
        x
    } else if x < 0.0 {
        low
    } else {
        x.ln_1p()
    };
    (x.clamp(low, high) - center) / scale
}

/// The customers of `raw` in the model's space. A coordinate `raw` lacks is an error naming it.
pub fn to_model_space(model: &SegmentationModel, raw: &RawFeatures) -> Result<ModelSpace> {
    let used: Vec<&ModelFeature> = model.features.iter().filter(|f| f.used).collect();
    let columns: Vec<Option<usize>> =
        used.iter().map(|f| raw.names.iter().position(|n| *n == f.name)).collect();
    let missing: Vec<&str> = used
        .iter()
        .zip(&columns)
        .filter(|(_, c)| c.is_none())
        .map(|(f, _)| f.name.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(PipelineError::ModelFeaturesUnavailable {
            features: missing.join(", "),
            hint: hint_for(&missing),
        });
    }
    let incomplete: Vec<&str> = used
        .iter()
        .filter(|f| f.fill_value.is_none() || f.scale.is_none_or(|s| s == 0.0))
        .map(|f| f.name.as_str())
        .collect();
    if !incomplete.is_empty() {
        return Err(PipelineError::Data(format!(
            "the model has no transform for {}: it is damaged; export it again from its analysis",
            incomplete.join(", ")
        )));
    }
    let n = raw.customer_ids.len();
    let columns: Vec<usize> = columns.into_iter().flatten().collect();
    let matrix = Array2::from_shape_fn((n, used.len()), |(i, k)| {
        let v = raw.values[[i, columns[k]]];
        transform_value(used[k], v.is_finite().then_some(v))
    });
    let nulls_filled = used
        .iter()
        .zip(&columns)
        .map(|(f, &c)| {
            (f.name.clone(), raw.values.column(c).iter().filter(|v| !v.is_finite()).count())
        })
        .collect();
    Ok(ModelSpace { customer_ids: raw.customer_ids.clone(), matrix, nulls_filled })
}

fn hint_for(missing: &[&str]) -> String {
    let order_value = crate::pipeline::features::ORDER_VALUE_FEATURES;
    if missing.iter().any(|m| order_value.contains(m)) {
        "The model was learned with order values (data.include_order_value): the new extract \
         needs the GROSS column."
            .to_string()
    } else {
        "Build the new extract's features with this version of ReturnScope.".to_string()
    }
}

/// A model ready to place customers: its core points indexed.
pub struct Assigner<'m> {
    model: &'m SegmentationModel,
    centres: Array2<f64>,
    cores: RadiusIndex,
    micro: Vec<Option<RadiusIndex>>,
}

impl<'m> Assigner<'m> {
    pub fn new(model: &'m SegmentationModel) -> Result<Self> {
        let d = model.used_features().len();
        let k = model.segments.len();
        let bad_shape = model.outliers.core_points.iter().any(|p| p.len() != d)
            || model.segments.iter().any(|s| {
                s.centre.len() != d
                    || s.micro_core_points.iter().any(|p| p.len() != d)
                    || s.micro_core_points.len() != s.micro_core_labels.len()
            });
        if k == 0 || bad_shape {
            return Err(PipelineError::Data(
                "the model's points do not match its features: it is damaged; export it again \
                 from its analysis"
                    .into(),
            ));
        }
        let centres = Array2::from_shape_fn((k, d), |(s, j)| model.segments[s].centre[j]);
        let micro = model
            .segments
            .iter()
            .map(|s| {
                (s.micro_eps.is_some() && !s.micro_core_points.is_empty())
                    .then(|| index_of(&s.micro_core_points, d))
            })
            .collect();
        Ok(Self { model, centres, cores: index_of(&model.outliers.core_points, d), micro })
    }

    /// Place every row of `points` (the model's space).
    pub fn assign(
        &self,
        points: ArrayView2<'_, f64>,
        progress: &Progress,
    ) -> std::result::Result<Vec<Assignment>, Cancelled> {
        let (nearest, distance) = assign_nearest(points, self.centres.view());
        progress.check_cancel()?;
        let rule = &self.model.outliers;
        // DBSCAN's rule and the micro-segments are independent: found side by side, the
        // micro-segment of a row that turns out an outlier is then dropped.
        let (near_core, micro) = rayon::join(
            || self.cores.any_within(points, rule.eps, &progress.sub(0.0, 0.5)),
            || self.micro_labels(points, &nearest, &progress.sub(0.5, 1.0)),
        );
        let (near_core, micro) = (near_core?, micro?);
        Ok((0..points.nrows())
            .map(|i| {
                let segment = nearest[i] + 1;
                Assignment {
                    segment,
                    micro_segment: format!("{segment}.{}", if near_core[i] { micro[i] } else { 0 }),
                    is_outlier: !near_core[i],
                    distance_to_centroid: distance[i],
                }
            })
            .collect())
    }

    /// Each row's micro-segment number within its segment (`nearest`: each row's segment index):
    /// the label of the nearest micro-segment core point within the segment's micro eps, else 0.
    /// The segments are searched in parallel.
    fn micro_labels(
        &self,
        points: ArrayView2<'_, f64>,
        nearest: &[usize],
        progress: &Progress,
    ) -> std::result::Result<Vec<u32>, Cancelled> {
        let k = self.micro.len();
        let per_segment: Vec<(Vec<usize>, Vec<u32>)> = self
            .micro
            .par_iter()
            .enumerate()
            .map(|(s, index)| {
                let seg = &self.model.segments[s];
                let (Some(index), Some(eps)) = (index, seg.micro_eps) else {
                    return Ok((Vec::new(), Vec::new()));
                };
                let rows: Vec<usize> = (0..points.nrows()).filter(|&i| nearest[i] == s).collect();
                let part = progress.sub(s as f64 / k as f64, (s + 1) as f64 / k as f64);
                let found =
                    index.nearest_within(points.select(Axis(0), &rows).view(), eps, &part)?;
                let labels = found.into_iter().map(|c| c.map_or(0, |c| seg.micro_core_labels[c]));
                Ok((rows, labels.collect()))
            })
            .collect::<std::result::Result<_, Cancelled>>()?;
        let mut micro = vec![0; points.nrows()];
        for (rows, labels) in per_segment {
            for (i, label) in rows.into_iter().zip(labels) {
                micro[i] = label;
            }
        }
        Ok(micro)
    }
}

/// Points (rows of equal length `d`) indexed for the placement rules.
fn index_of(points: &[Vec<f64>], d: usize) -> RadiusIndex {
    let flat: Vec<f64> = points.iter().flat_map(|p| p.iter().copied()).collect();
    RadiusIndex::new(&flat, d)
}

/// Customers the self-check places at most: placing every customer of a million-customer run
/// against its hundreds of thousands of core points would cost far more than the clustering.
pub const AGREEMENT_SAMPLE: usize = 20_000;

/// How often the model reproduces a run's own segments (segment, outlier flag, micro-segment):
/// every customer up to [`AGREEMENT_SAMPLE`], else that many evenly spaced ones (a share within
/// about 0.7 percentage points of everyone's at 95% confidence).
pub fn agreement_with_run(model: &SegmentationModel, run: &ClusterRun) -> Result<Agreement> {
    let rows = evenly_spaced(run.matrix.nrows(), AGREEMENT_SAMPLE);
    let checked = run.matrix.select(ndarray::Axis(0), &rows);
    let placed = Assigner::new(model)?.assign(checked.view(), &Progress::none())?;
    let h = &run.hybrid;
    let agreeing = placed
        .iter()
        .zip(&rows)
        .filter(|&(a, &i)| {
            a.segment == h.segment[i]
                && a.is_outlier == h.is_outlier[i]
                && a.micro_segment == h.micro_segment[i]
        })
        .count();
    Ok(Agreement { customers: placed.len(), agreeing })
}

/// Every index below `n` when there are at most `max`, else `max` evenly spaced ones.
fn evenly_spaced(n: usize, max: usize) -> Vec<usize> {
    if n <= max { (0..n).collect() } else { (0..max).map(|j| j * n / max).collect() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::config::Config;
    use crate::pipeline::scoring::model::{
        MODEL_FORMAT, MODEL_FORMAT_VERSION, ModelSegment, ModelSource, OutlierRule, SegmentTexts,
    };
    use ndarray::array;

    fn feature(name: &str, log1p: bool) -> ModelFeature {
        ModelFeature {
            name: name.into(),
            used: true,
            drop_reason: None,
            fill_value: Some(2.0),
            log1p,
            clip_low: Some(0.0),
            clip_high: Some(10.0),
            center: Some(1.0),
            scale: Some(2.0),
        }
    }

    fn segment(s: usize, centre: [f64; 2], cores: Vec<(u32, [f64; 2])>) -> ModelSegment {
        ModelSegment {
            segment: s,
            texts: SegmentTexts { archetype: format!("A{s}"), ..SegmentTexts::default() },
            centre: centre.to_vec(),
            micro_eps: Some(0.5),
            micro_core_labels: cores.iter().map(|(j, _)| *j).collect(),
            micro_core_points: cores.iter().map(|(_, p)| p.to_vec()).collect(),
        }
    }

    /// Two segments in 2-D: centres (0,0) and (10,0); DBSCAN cores at (0,0), (1,0), (10,0),
    /// eps 1.5; segment 1 has micro-segments 1 (core (0,0)) and 2 (core (1,0)).
    fn model() -> SegmentationModel {
        SegmentationModel {
            format: MODEL_FORMAT.into(),
            format_version: MODEL_FORMAT_VERSION,
            model_id: "test".into(),
            created_at: String::new(),
            source: ModelSource::default(),
            config: Config::default(),
            features: vec![feature("a", false), feature("b", false)],
            outliers: OutlierRule {
                eps: 1.5,
                min_samples: 2,
                core_points: vec![vec![0.0, 0.0], vec![1.0, 0.0], vec![10.0, 0.0]],
            },
            segments: vec![
                segment(1, [0.0, 0.0], vec![(1, [0.0, 0.0]), (2, [1.0, 0.0])]),
                // A micro-segment core point that is no outlier-rule core point.
                segment(2, [10.0, 0.0], vec![(1, [10.0, 3.0])]),
            ],
            outlier_texts: SegmentTexts::default(),
            self_agreement: None,
        }
    }

    #[test]
    fn the_self_check_takes_everyone_or_an_even_spread() {
        assert_eq!(evenly_spaced(4, 10), vec![0, 1, 2, 3]);
        assert_eq!(evenly_spaced(10, 4), vec![0, 2, 5, 7]);
        let spread = evenly_spaced(1_000_000, AGREEMENT_SAMPLE);
        assert_eq!((spread.len(), spread[1], spread[AGREEMENT_SAMPLE - 1]), (20_000, 50, 999_950));
    }

    #[test]
    fn the_rule_by_hand() {
        let m = model();
        let points = array![
            [0.2, 0.0],  // core (0,0) at 0.2: segment 1, micro 1
            [0.8, 0.0],  // nearest micro core (1,0) at 0.2: micro 2
            [2.4, 0.0],  // core (1,0) at 1.4 <= 1.5: not an outlier; micro cores > 0.5: .0
            [2.6, 0.0],  // nearest core at 1.6 > 1.5: outlier, nearest centre 1 at 2.6
            [6.0, 0.0],  // outlier; centre 2 at 4 is nearer than centre 1 at 6
            [10.0, 1.5], // core (10,0) at exactly eps: segment 2; micro core at 1.5 > 0.5: .0
            [10.0, 3.2], // outlier (core at 3.2) though micro core (10,3) is at 0.2: .0
        ];
        let placed = Assigner::new(&m).unwrap().assign(points.view(), &Progress::none()).unwrap();
        let got: Vec<(usize, &str, bool)> =
            placed.iter().map(|a| (a.segment, a.micro_segment.as_str(), a.is_outlier)).collect();
        assert_eq!(
            got,
            vec![
                (1, "1.1", false),
                (1, "1.2", false),
                (1, "1.0", false),
                (1, "1.0", true),
                (2, "2.0", true),
                (2, "2.0", false),
                (2, "2.0", true)
            ]
        );
        assert!((placed[4].distance_to_centroid - 4.0).abs() < 1e-12);
        assert!((placed[3].distance_to_centroid - 2.6).abs() < 1e-12);
        assert_eq!(m.archetype_of(2, false), "A2");
        assert_eq!(m.archetype_of(2, true), "Outliers");
    }

    #[test]
    fn raw_values_take_the_recorded_transforms() {
        let plain = feature("a", false);
        // (x clipped to 0..10 - 1) / 2; NULL takes the fill value 2.
        assert_eq!(transform_value(&plain, Some(5.0)), 2.0);
        assert_eq!(transform_value(&plain, Some(50.0)), 4.5);
        assert_eq!(transform_value(&plain, None), 0.5);
        assert_eq!(transform_value(&plain, Some(f64::NAN)), 0.5);
        let logged = feature("b", true);
        assert_eq!(transform_value(&logged, Some(std::f64::consts::E - 1.0)), 0.0);
        // A negative value is below every value the model saw: the lower clip bound.
        assert_eq!(transform_value(&logged, Some(-3.0)), -0.5);
    }

    #[test]
    fn a_missing_coordinate_is_named() {
        let m = model();
        let raw = RawFeatures {
            customer_ids: vec!["c1".into()],
            names: vec!["a".into()],
            values: array![[1.0]],
        };
        let err = to_model_space(&m, &raw).unwrap_err().to_string();
        assert!(err.contains("cannot provide: b"), "{err}");
        let raw = RawFeatures {
            customer_ids: vec!["c1".into(), "c2".into()],
            names: vec!["b".into(), "x".into(), "a".into()],
            values: array![[1.0, 9.0, f64::NAN], [3.0, 9.0, 5.0]],
        };
        let space = to_model_space(&m, &raw).unwrap();
        assert_eq!(space.matrix, array![[0.5, 0.0], [2.0, 1.0]]);
        assert_eq!(space.nulls_filled, vec![("a".to_string(), 1), ("b".to_string(), 0)]);
    }

    #[test]
    fn json_round_trip_and_version_check() {
        let m = model();
        let text = m.to_json().unwrap();
        assert_eq!(SegmentationModel::from_json(&text, "m.json").unwrap(), m);
        let newer = text.replace("\"format_version\":1", "\"format_version\":2");
        let err = SegmentationModel::from_json(&newer, "m.json").unwrap_err().to_string();
        assert!(err.contains("format version 2") && err.contains("reads version 1"), "{err}");
        let other = SegmentationModel::from_json("{\"a\": 1}", "x.json").unwrap_err();
        assert!(other.to_string().contains("not a ReturnScope segmentation model"), "{other}");
    }

    /// The document made with the id is the model's own serialisation, and it reads back as
    /// the model; the id is the one `with_agreement` gives and changes with the agreement.
    #[test]
    fn the_document_made_with_the_id_is_the_models_json() {
        let mut m = model();
        m.created_at = "2026-11-27T11:00:00Z".into();
        let agreement = Agreement { customers: 10, agreeing: 9 };
        let (with_id, document) = m.clone().with_agreement_document(agreement).unwrap();
        assert_eq!(with_id.model_id.len(), 16);
        assert_eq!(with_id.created_at, "2026-11-27T11:00:00Z");
        assert_eq!(document, with_id.to_json().unwrap());
        assert_eq!(SegmentationModel::from_json(&document, "m.json").unwrap(), with_id);
        assert_eq!(m.clone().with_agreement(agreement).unwrap(), with_id);
        let other = m.with_agreement(Agreement { customers: 10, agreeing: 8 }).unwrap();
        assert_ne!(other.model_id, with_id.model_id);
    }

    /// `GOLD_DB=analysis.duckdb cargo test --lib pipeline::scoring::assign::tests::
    /// bench_self_check -- --ignored --nocapture`: the self-check's cost on a segmented analysis
    /// (index build, then the outlier rule and the micro-segment rule on the sample).
    #[test]
    #[ignore]
    fn bench_self_check() {
        use crate::pipeline::memory::process_cpu_seconds;
        let Some(store) = crate::pipeline::store::bench_analysis() else { return };
        let (_, _, x) = crate::pipeline::gold::read_gold(&store).unwrap();
        let m = crate::pipeline::scoring::model::stored_model(&store).unwrap().unwrap();
        let rows = evenly_spaced(x.nrows(), AGREEMENT_SAMPLE);
        let checked = x.select(ndarray::Axis(0), &rows);
        let (t, cpu) = (std::time::Instant::now(), process_cpu_seconds());
        let assigner = Assigner::new(&m).unwrap();
        let (build_s, build_cpu) = (t.elapsed().as_secs_f64(), process_cpu_seconds() - cpu);
        let (t, cpu) = (std::time::Instant::now(), process_cpu_seconds());
        let placed = assigner.assign(checked.view(), &Progress::none()).unwrap();
        let (place_s, place_cpu) = (t.elapsed().as_secs_f64(), process_cpu_seconds() - cpu);
        let (t, cpu) = (std::time::Instant::now(), process_cpu_seconds());
        let near = assigner.cores.any_within(checked.view(), m.outliers.eps, &Progress::none());
        let outliers = near.unwrap().iter().filter(|&&n| !n).count();
        println!(
            "outlier rule alone: {:.2} s ({:.2} CPU), {outliers} outliers",
            t.elapsed().as_secs_f64(),
            process_cpu_seconds() - cpu
        );
        println!(
            "{} core points, {} checked: index {build_s:.2} s ({build_cpu:.2} CPU), placing \
             {place_s:.2} s ({place_cpu:.2} CPU), {} outliers",
            m.outliers.core_points.len(),
            placed.len(),
            placed.iter().filter(|a| a.is_outlier).count()
        );
    }
}
