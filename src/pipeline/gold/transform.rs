//! Gold layer: from the raw silver features of eligible customers to the clustering matrix.
//!
//! Pure (no DuckDB): the caller reads `silver_customer_features` into [`RawFeatures`] and stores
//! the returned [`GoldMatrix`] and its transform table. [`build_gold`] follows CLUSTERING.md
//! "Gold" steps 2-7 in order, per feature:
//!
//! 2. drop a feature whose completeness (share of defined values) is below the minimum;
//! 3. fill NULLs ([`fill_rule`]): timing, category, seasonal and every other feature take the
//!    median of the defined values; the ratios centred on 1 take 1.0; `return_intensity` takes 0;
//! 4. `log1p` a non-negative feature whose sample skewness (adjusted Fisher-Pearson, as pandas'
//!    `skew()`) is above `skew_threshold`;
//! 5. clip to the `clip_lower_percentile`..`clip_upper_percentile` percentiles (linear
//!    interpolation, numpy's default);
//! 6. drop a near-constant feature (std < 1e-9); then, walking the features in input order
//!    (FEATURES.md order), drop a feature whose |Pearson r| with an already kept feature is above
//!    `max_abs_correlation` (so of each such pair the one listed first stays);
//! 7. standardize: z-score with the population std (as scikit-learn's `StandardScaler`), or
//!    robust `(x - median) / IQR` (falling back to the std when the IQR is 0).
//!
//! Every input feature gets a [`FeatureTransform`] row recording what was done and with which
//! numbers, so a run can be explained and repeated on new data.

use crate::pipeline::config::{GoldConfig, Scaling};
use crate::pipeline::model::RawFeatures;
use ndarray::{Array2, ArrayView1};
use rayon::prelude::*;
use serde::Serialize;

/// Below this standard deviation a feature is treated as constant.
const NEAR_CONSTANT_STD: f64 = 1e-9;

/// What the gold layer did to one input feature.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeatureTransform {
    pub feature: String,
    /// Whether the feature is a column of the gold matrix.
    pub kept: bool,
    /// Why it was dropped (completeness, near-constant, correlation), when it was.
    pub drop_reason: Option<String>,
    /// Share of rows with a defined (non-NULL) value.
    pub completeness: f64,
    /// NULLs replaced by `fill_value`.
    pub nulls_filled: usize,
    /// The value NULLs take (recorded even when none was NULL, for reuse on new data).
    pub fill_value: Option<f64>,
    /// Whether `log1p` was applied (after filling).
    pub log1p: bool,
    /// Sample skewness after filling, before `log1p`.
    pub skewness: Option<f64>,
    /// Clip bounds (after `log1p`).
    pub clip_low: Option<f64>,
    pub clip_high: Option<f64>,
    /// Standardization: `(x - center) / scale`.
    pub center: Option<f64>,
    pub scale: Option<f64>,
}

/// The clustering matrix and how it was made.
#[derive(Debug, Clone, PartialEq)]
pub struct GoldMatrix {
    pub customer_ids: Vec<String>,
    /// The kept features, in input order (the columns of `matrix`).
    pub names: Vec<String>,
    /// Rows x kept features; never NaN.
    pub matrix: Array2<f64>,
    /// One per input feature, in input order.
    pub transforms: Vec<FeatureTransform>,
}

/// Everything that can go wrong building the gold matrix.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum GoldError {
    #[error("no eligible customers to cluster: the gold matrix would have no rows")]
    NoRows,
    #[error(
        "the feature table is inconsistent: {rows} customer ids and {names} names for a \
         {value_rows} x {value_cols} matrix"
    )]
    ShapeMismatch { rows: usize, names: usize, value_rows: usize, value_cols: usize },
    #[error("no feature is usable for clustering: {reasons}")]
    NoFeatureSurvives { reasons: String },
}

/// How NULLs of a feature are filled (CLUSTERING.md Gold step 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FillRule {
    /// Median of the defined values: timing, category and seasonal features, and any other
    /// feature not named below.
    Median,
    /// 1.0: ratios centred on 1 (`recent_vs_avg_ratio`, both trend features,
    /// `behavior_stability_score`).
    One,
    /// 0: `return_intensity` (no returned line, no intensity).
    Zero,
}

/// The fill rule of a feature, by its FEATURES.md name.
pub fn fill_rule(feature: &str) -> FillRule {
    match feature {
        "recent_vs_avg_ratio"
        | "trend_product_category_order_rate"
        | "trend_product_category_return_rate"
        | "behavior_stability_score" => FillRule::One,
        "return_intensity" => FillRule::Zero,
        _ => FillRule::Median,
    }
}

/// Build the gold matrix (CLUSTERING.md Gold steps 2-7). `min_feature_completeness` is the
/// minimum share of defined values a feature needs to be kept.
pub fn build_gold(
    raw: &RawFeatures,
    cfg: &GoldConfig,
    min_feature_completeness: f64,
) -> Result<GoldMatrix, GoldError> {
    let (rows, cols) = raw.values.dim();
    if raw.customer_ids.len() != rows || raw.names.len() != cols {
        return Err(GoldError::ShapeMismatch {
            rows: raw.customer_ids.len(),
            names: raw.names.len(),
            value_rows: rows,
            value_cols: cols,
        });
    }
    if rows == 0 {
        return Err(GoldError::NoRows);
    }
    let prepared: Vec<(FeatureTransform, Option<Vec<f64>>)> = (0..cols)
        .into_par_iter()
        .map(|j| {
            prepare_feature(&raw.names[j], raw.values.column(j), cfg, min_feature_completeness)
        })
        .collect();
    let (mut transforms, columns): (Vec<_>, Vec<_>) = prepared.into_iter().unzip();
    let kept = drop_correlated(&mut transforms, &columns, cfg.max_abs_correlation);
    if kept.is_empty() {
        let reasons = transforms
            .iter()
            .map(|t| format!("{} ({})", t.feature, t.drop_reason.as_deref().unwrap_or("kept")))
            .collect::<Vec<_>>()
            .join("; ");
        return Err(GoldError::NoFeatureSurvives { reasons });
    }
    let mut columns = columns;
    let kept_columns: Vec<Vec<f64>> =
        kept.iter().map(|&j| columns[j].take().unwrap_or_default()).collect();
    let scaled: Vec<(Vec<f64>, f64, f64)> = kept_columns
        .into_par_iter()
        .map(|mut column| {
            let (center, scale) = scaling_of(&column, cfg.scaling);
            column.iter_mut().for_each(|x| *x = (*x - center) / scale);
            (column, center, scale)
        })
        .collect();
    for (&j, (_, center, scale)) in kept.iter().zip(&scaled) {
        transforms[j].center = Some(*center);
        transforms[j].scale = Some(*scale);
    }
    let matrix = Array2::from_shape_fn((rows, kept.len()), |(i, k)| scaled[k].0[i]);
    Ok(GoldMatrix {
        customer_ids: raw.customer_ids.clone(),
        names: kept.iter().map(|&j| raw.names[j].clone()).collect(),
        matrix,
        transforms,
    })
}

/// Steps 2-5 and the near-constant check of step 6 for one feature: its transform row and, when
/// it survives, its filled, log-transformed and clipped values.
fn prepare_feature(
    name: &str,
    values: ArrayView1<f64>,
    cfg: &GoldConfig,
    min_completeness: f64,
) -> (FeatureTransform, Option<Vec<f64>>) {
    let rows = values.len();
    let mut defined: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    let completeness = defined.len() as f64 / rows as f64;
    let mut transform = FeatureTransform {
        feature: name.to_string(),
        kept: false,
        drop_reason: None,
        completeness,
        nulls_filled: rows - defined.len(),
        fill_value: None,
        log1p: false,
        skewness: None,
        clip_low: None,
        clip_high: None,
        center: None,
        scale: None,
    };
    if defined.is_empty() || completeness < min_completeness {
        transform.nulls_filled = 0;
        transform.drop_reason =
            Some(format!("completeness {completeness:.3} below the minimum {min_completeness:.3}"));
        return (transform, None);
    }
    let fill = match fill_rule(name) {
        FillRule::One => 1.0,
        FillRule::Zero => 0.0,
        FillRule::Median => {
            defined.sort_unstable_by(f64::total_cmp);
            percentile_sorted(&defined, 50.0)
        }
    };
    transform.fill_value = Some(fill);
    let mut column: Vec<f64> =
        values.iter().map(|&x| if x.is_finite() { x } else { fill }).collect();

    let skewness = sample_skewness(&column);
    transform.skewness = Some(skewness);
    let non_negative = column.iter().all(|&x| x >= 0.0);
    if non_negative && skewness > cfg.skew_threshold {
        column.iter_mut().for_each(|x| *x = x.ln_1p());
        transform.log1p = true;
    }

    let mut sorted = column.clone();
    sorted.sort_unstable_by(f64::total_cmp);
    let low = percentile_sorted(&sorted, cfg.clip_lower_percentile);
    let high = percentile_sorted(&sorted, cfg.clip_upper_percentile);
    column.iter_mut().for_each(|x| *x = x.clamp(low, high));
    transform.clip_low = Some(low);
    transform.clip_high = Some(high);

    let std = population_std(&column);
    if std < NEAR_CONSTANT_STD {
        transform.drop_reason = Some(format!("near-constant (std {std:.2e} after clipping)"));
        return (transform, None);
    }
    transform.kept = true;
    (transform, Some(column))
}

/// Step 6 (correlation): walk the surviving features in input order; drop one whose |r| with an
/// already kept feature exceeds `max_abs_r`. Returns the indices kept.
fn drop_correlated(
    transforms: &mut [FeatureTransform],
    columns: &[Option<Vec<f64>>],
    max_abs_r: f64,
) -> Vec<usize> {
    let centred: Vec<Option<(Vec<f64>, f64)>> = columns
        .par_iter()
        .map(|c| {
            c.as_ref().map(|c| {
                let mean = c.iter().sum::<f64>() / c.len() as f64;
                let d: Vec<f64> = c.iter().map(|x| x - mean).collect();
                let norm = d.iter().map(|x| x * x).sum::<f64>().sqrt();
                (d, norm)
            })
        })
        .collect();
    let mut kept: Vec<usize> = Vec::new();
    for (j, candidate) in centred.iter().enumerate() {
        let Some((dj, nj)) = candidate else { continue };
        let partner = kept.iter().find_map(|&k| {
            let (dk, nk) = centred[k].as_ref()?;
            let r = dj.iter().zip(dk).map(|(a, b)| a * b).sum::<f64>() / (nj * nk);
            (r.abs() > max_abs_r).then_some((k, r))
        });
        match partner {
            Some((k, r)) => {
                transforms[j].kept = false;
                transforms[j].drop_reason = Some(format!(
                    "|r| = {:.3} with {} (kept, listed first) exceeds {max_abs_r}",
                    r.abs(),
                    transforms[k].feature
                ));
            }
            None => kept.push(j),
        }
    }
    kept
}

/// (center, scale) of a column for the chosen scaling; the scale is never 0 (near-constant
/// columns were dropped before).
fn scaling_of(column: &[f64], scaling: Scaling) -> (f64, f64) {
    let mean = column.iter().sum::<f64>() / column.len() as f64;
    let std = population_std(column);
    match scaling {
        Scaling::Standard => (mean, std),
        Scaling::Robust => {
            let mut sorted = column.to_vec();
            sorted.sort_unstable_by(f64::total_cmp);
            let iqr = percentile_sorted(&sorted, 75.0) - percentile_sorted(&sorted, 25.0);
            let scale = if iqr > NEAR_CONSTANT_STD { iqr } else { std };
            (percentile_sorted(&sorted, 50.0), scale)
        }
    }
}

/// The `p`-th percentile (0..=100) of ascending `sorted` values, interpolating linearly between
/// the two nearest ranks (numpy's default). `sorted` must not be empty.
pub fn percentile_sorted(sorted: &[f64], p: f64) -> f64 {
    let last = sorted.len().saturating_sub(1);
    let position = (p / 100.0).clamp(0.0, 1.0) * last as f64;
    let below = position.floor() as usize;
    let above = (below + 1).min(last);
    let fraction = position - below as f64;
    sorted[below] + (sorted[above] - sorted[below]) * fraction
}

/// Population standard deviation (divides by n).
fn population_std(values: &[f64]) -> f64 {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    (values.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt()
}

/// Sample skewness, adjusted Fisher-Pearson (pandas' `skew()`):
/// `G1 = sqrt(n (n - 1)) / (n - 2) * m3 / m2^1.5`, with m2, m3 the central moments.
/// 0 for fewer than 3 values or no spread.
pub fn sample_skewness(values: &[f64]) -> f64 {
    let n = values.len() as f64;
    if values.len() < 3 {
        return 0.0;
    }
    let mean = values.iter().sum::<f64>() / n;
    let (m2, m3) = values.iter().fold((0.0, 0.0), |(m2, m3), x| {
        let d = x - mean;
        (m2 + d * d, m3 + d * d * d)
    });
    let (m2, m3) = (m2 / n, m3 / n);
    // Rounding noise of a constant column is no skew.
    if m2 <= (1e-12 * mean.abs().max(1.0)).powi(2) {
        return 0.0;
    }
    (n * (n - 1.0)).sqrt() / (n - 2.0) * m3 / m2.powf(1.5)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    const NULL: f64 = f64::NAN;

    fn raw(names: &[&str], values: Array2<f64>) -> RawFeatures {
        RawFeatures {
            customer_ids: (0..values.nrows()).map(|i| format!("c{i}")).collect(),
            names: names.iter().map(|s| s.to_string()).collect(),
            values,
        }
    }

    /// No log, no clipping, no correlation drop: only the step under test acts.
    fn plain() -> GoldConfig {
        GoldConfig {
            skew_threshold: 1e9,
            clip_lower_percentile: 0.0,
            clip_upper_percentile: 100.0,
            max_abs_correlation: 1.5, // |r| never exceeds it
            scaling: Scaling::Standard,
        }
    }

    fn transform<'a>(gold: &'a GoldMatrix, name: &str) -> &'a FeatureTransform {
        gold.transforms.iter().find(|t| t.feature == name).unwrap()
    }

    /// Undo the standardization of column `name` of row `i`.
    fn unscaled(gold: &GoldMatrix, name: &str, i: usize) -> f64 {
        let j = gold.names.iter().position(|n| n == name).unwrap();
        let t = transform(gold, name);
        gold.matrix[[i, j]] * t.scale.unwrap() + t.center.unwrap()
    }

    #[test]
    fn nulls_are_filled_by_rule_and_counted() {
        let values = array![
            [1.0, NULL, NULL, 4.0],
            [NULL, 2.0, 0.5, 1.0],
            [3.0, 0.5, 1.0, 2.0],
            [5.0, NULL, 1.0, 3.0],
        ];
        let names = ["avg_days_to_return", "recent_vs_avg_ratio", "return_intensity", "x"];
        let gold = build_gold(&raw(&names, values), &plain(), 0.5).unwrap();
        // Median of {1, 3, 5} = 3; ratio centred on 1 takes 1; return_intensity takes 0.
        let expected = [(3.0, 1), (1.0, 2), (0.0, 1), (2.5, 0)];
        for (name, (fill, filled)) in names.iter().zip(expected) {
            let t = transform(&gold, name);
            assert_eq!(t.fill_value, Some(fill), "{name}");
            assert_eq!(t.nulls_filled, filled, "{name}");
        }
        assert!((unscaled(&gold, "avg_days_to_return", 1) - 3.0).abs() < 1e-12);
        assert!((unscaled(&gold, "recent_vs_avg_ratio", 0) - 1.0).abs() < 1e-12);
        assert!((unscaled(&gold, "return_intensity", 0) - 0.0).abs() < 1e-12);
        assert!(gold.matrix.iter().all(|x| x.is_finite()));
    }

    #[test]
    fn low_completeness_drops_the_feature() {
        // 1 of 4 defined = 0.25 < 0.5.
        let values = array![[1.0, 1.0], [NULL, 2.0], [NULL, 3.0], [NULL, 5.0]];
        let gold = build_gold(&raw(&["sparse", "dense"], values), &plain(), 0.5).unwrap();
        assert_eq!(gold.names, vec!["dense"]);
        let t = transform(&gold, "sparse");
        assert!(!t.kept);
        assert_eq!(t.completeness, 0.25);
        assert!(t.drop_reason.as_deref().unwrap().contains("completeness"));
    }

    #[test]
    fn log1p_only_for_skewed_non_negative_features() {
        // [0,0,0,0,10]: mean 2, m2 = (4*4 + 64)/5 = 16, m3 = (4*(-8) + 512)/5 = 96,
        // g1 = 96 / 64 = 1.5, G1 = sqrt(5*4)/3 * 1.5 = 2.2361 > 1 -> log1p.
        // [-1,-1,-1,-1,9] has the same skewness but a negative value -> untouched.
        // [1,2,3,4,5] has skewness 0 -> untouched.
        let values = array![
            [0.0, -1.0, 1.0],
            [0.0, -1.0, 2.0],
            [0.0, -1.0, 3.0],
            [0.0, -1.0, 4.0],
            [10.0, 9.0, 5.0]
        ];
        let cfg = GoldConfig { skew_threshold: 1.0, ..plain() };
        let gold = build_gold(&raw(&["skewed", "negative", "flat"], values), &cfg, 0.5).unwrap();
        let skewed = transform(&gold, "skewed");
        assert!((skewed.skewness.unwrap() - 20f64.sqrt() / 3.0 * 1.5).abs() < 1e-12);
        assert!(skewed.log1p);
        assert!((unscaled(&gold, "skewed", 4) - 11f64.ln()).abs() < 1e-12);
        assert!(!transform(&gold, "negative").log1p);
        assert!(!transform(&gold, "flat").log1p);
        assert_eq!(transform(&gold, "flat").skewness, Some(0.0));
    }

    #[test]
    fn clipping_uses_linear_percentiles() {
        // 0..=100: the 1st percentile sits at rank 1.0 -> 1, the 99th at rank 99.0 -> 99.
        // 0..=100 plus 1000 (102 values): the 99th percentile is at rank 0.99*101 = 99.99,
        // between 99 and 100 -> 99.99; 1000 is clipped to it.
        let mut values = Array2::zeros((102, 1));
        for i in 0..=100 {
            values[[i, 0]] = i as f64;
        }
        values[[101, 0]] = 1000.0;
        let cfg = GoldConfig { clip_lower_percentile: 1.0, clip_upper_percentile: 99.0, ..plain() };
        let gold = build_gold(&raw(&["units"], values), &cfg, 0.5).unwrap();
        let t = transform(&gold, "units");
        assert!((t.clip_low.unwrap() - 1.01).abs() < 1e-9, "{:?}", t.clip_low);
        assert!((t.clip_high.unwrap() - 99.99).abs() < 1e-9, "{:?}", t.clip_high);
        assert!((unscaled(&gold, "units", 101) - 99.99).abs() < 1e-9);
        assert!((unscaled(&gold, "units", 0) - 1.01).abs() < 1e-9);
    }

    #[test]
    fn correlated_pair_keeps_the_feature_listed_first() {
        // y = 2x + 1 (r = 1); z against x: centred x = [-2,-1,0,1,2], z = [2,-2,1,-1,0],
        // sum of products -3, norms sqrt(10) each -> r = -0.3: kept.
        let x = [1.0, 2.0, 3.0, 4.0, 5.0];
        let z = [5.0, 1.0, 4.0, 2.0, 3.0];
        let values = Array2::from_shape_fn((5, 3), |(i, j)| [x[i], 2.0 * x[i] + 1.0, z[i]][j]);
        let cfg = GoldConfig { max_abs_correlation: 0.95, ..plain() };
        let gold = build_gold(&raw(&["x", "y", "z"], values.clone()), &cfg, 0.5).unwrap();
        assert_eq!(gold.names, vec!["x", "z"]);
        let reason = transform(&gold, "y").drop_reason.clone().unwrap();
        assert!(reason.contains("with x"), "{reason}");
        // Listed the other way round, y stays and x goes.
        let swapped = values.select(ndarray::Axis(1), &[1, 0, 2]);
        let gold = build_gold(&raw(&["y", "x", "z"], swapped), &cfg, 0.5).unwrap();
        assert_eq!(gold.names, vec!["y", "z"]);
    }

    #[test]
    fn z_scores_and_robust_scaling_by_hand() {
        // [2,4,4,4,5,5,7,9]: mean 5, population std 2 -> z = [-1.5,-0.5,-0.5,-0.5,0,0,1,2].
        let v = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0];
        let values = Array2::from_shape_fn((8, 1), |(i, _)| v[i]);
        let gold = build_gold(&raw(&["f"], values.clone()), &plain(), 0.5).unwrap();
        let z: Vec<f64> = gold.matrix.column(0).to_vec();
        let expected = [-1.5, -0.5, -0.5, -0.5, 0.0, 0.0, 1.0, 2.0];
        assert!(z.iter().zip(expected).all(|(a, b)| (a - b).abs() < 1e-12), "{z:?}");
        // Robust: median 4.5; q25 at rank 1.75 -> 4, q75 at rank 5.25 -> 5 + 0.25*2 = 5.5;
        // IQR 1.5 -> (2 - 4.5) / 1.5 = -1.6667.
        let cfg = GoldConfig { scaling: Scaling::Robust, ..plain() };
        let gold = build_gold(&raw(&["f"], values), &cfg, 0.5).unwrap();
        assert_eq!(transform(&gold, "f").center, Some(4.5));
        assert_eq!(transform(&gold, "f").scale, Some(1.5));
        assert!((gold.matrix[[0, 0]] + 2.5 / 1.5).abs() < 1e-12);
    }

    #[test]
    fn constant_features_drop_and_degenerate_inputs_error() {
        let values = array![[1.0, 3.0], [1.0, 4.0], [1.0, 8.0]];
        let gold = build_gold(&raw(&["same", "varied"], values), &plain(), 0.5).unwrap();
        assert_eq!(gold.names, vec!["varied"]);
        assert!(transform(&gold, "same").drop_reason.as_deref().unwrap().contains("constant"));

        let only_constant = array![[2.0], [2.0]];
        let err = build_gold(&raw(&["same"], only_constant), &plain(), 0.5).unwrap_err();
        assert!(matches!(err, GoldError::NoFeatureSurvives { .. }), "{err}");
        let empty = Array2::<f64>::zeros((0, 2));
        assert_eq!(build_gold(&raw(&["a", "b"], empty), &plain(), 0.5), Err(GoldError::NoRows));
        let all_null = array![[NULL], [NULL]];
        assert!(build_gold(&raw(&["a"], all_null), &plain(), 0.0).is_err());
        // One row: every feature is constant.
        let one = array![[1.0, 2.0]];
        assert!(build_gold(&raw(&["a", "b"], one), &plain(), 0.5).is_err());
    }

    #[test]
    fn shape_mismatch_is_an_error() {
        let mut r = raw(&["a"], array![[1.0], [2.0]]);
        r.names.push("b".into());
        assert!(matches!(build_gold(&r, &plain(), 0.5), Err(GoldError::ShapeMismatch { .. })));
    }
}
