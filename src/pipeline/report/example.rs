//! A synthetic, fully filled [`ReportData`] for tests and the app's frame benchmark (test builds
//! only: it is not part of the product).

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use super::data::*;
use crate::pipeline::config::Config;
use crate::pipeline::model::{
    DatasetCheck, FeatureStat, KSweepRow, NOT_SEGMENTED, OUTLIERS, QualityCount, Severity,
    segment_label,
};

/// The key features of the example, with each archetype's typical value (same order).
const EXAMPLE_FEATURES: [&str; 8] = [
    "return_rate",
    "return_ratio",
    "sales_order_no_nunique",
    "avg_order_size",
    "customer_lifetime_days",
    "days_since_last_order",
    "avg_days_to_return",
    "items_returned_count",
];

/// (archetype, typical key-feature values, description, action)
const EXAMPLE_ARCHETYPES: [(&str, [f64; 8], &str, &str); 6] = [
    (
        "High Returners",
        [0.62, 0.58, 6.0, 2.6, 520.0, 45.0, 17.0, 9.0],
        "Return 3.1x the average share of units, across many products.",
        "Quality review of the most returned products; tighten the return policy for serial returners.",
    ),
    (
        "Loyal Customers",
        [0.07, 0.05, 14.0, 2.0, 720.0, 18.0, 12.0, 2.0],
        "Order often and recently, and keep almost everything they buy.",
        "Retention offer: loyalty rewards and early access.",
    ),
    (
        "Veteran Shoppers",
        [0.18, 0.16, 8.0, 1.8, 1350.0, 95.0, 15.0, 3.0],
        "Customers for more than three years who still order steadily.",
        "Personalisation: recommendations from their long purchase history.",
    ),
    (
        "New Customers",
        [0.14, 0.12, 2.0, 1.6, 65.0, 28.0, 10.0, 0.0],
        "First orders in the last three months.",
        "Onboarding journey and a second-order incentive.",
    ),
    (
        "Frequent Buyers",
        [0.24, 0.19, 26.0, 4.1, 910.0, 9.0, 14.0, 12.0],
        "The most orders and the largest baskets.",
        "Inventory: keep their favourite categories in stock; VIP service.",
    ),
    (
        "Regular Customers",
        [0.20, 0.17, 5.0, 1.8, 410.0, 120.0, 16.0, 1.0],
        "Nothing stands out: average ordering and returning.",
        "Personalisation: seasonal campaigns.",
    ),
];

const EXAMPLE_QUALIFIERS: [&str; 8] = [
    "recent",
    "large baskets",
    "slow returners",
    "seasonal",
    "broad assortment",
    "low activity",
    "fast returners",
    "single category",
];

impl ReportData {
    /// A plausible, fully filled report with `n_customers` customers and `k` segments
    /// (deterministic: the same arguments give the same data).
    ///
    /// About 5% of the customers are not segmented and about 4% of the eligible ones are
    /// outliers; segment medians, shares and returned-unit shares are computed from the
    /// synthesised customers, so the sheets agree with each other.
    pub fn example(n_customers: usize, k: usize) -> ReportData {
        let k = k.max(1);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(20_240_601);
        let customers = example_customers(n_customers, k, &mut rng);
        let key_feature_names: Vec<String> =
            EXAMPLE_FEATURES.iter().map(|s| s.to_string()).collect();
        let segments = example_segments(&customers, k);
        let eligible = customers.iter().filter(|c| c.segment.is_some()).count() as u64;
        let outliers = customers.iter().filter(|c| c.is_outlier).count();
        let rows_loaded = (n_customers as u64) * 37 + 400;
        let rejected = [41u64, 17, 5, 230, 3];
        let clean_lines = rows_loaded.saturating_sub(rejected.iter().sum::<u64>());
        let (k_sweep, chosen_k) = example_k_sweep(k, &mut rng);
        let k_distance = example_k_distance(eligible as usize, &mut rng);
        let eps_index = ((k_distance.len() as f64) * 0.85) as usize;
        let eps = k_distance.get(eps_index.min(k_distance.len().saturating_sub(1))).copied();
        let silhouette =
            k_sweep.iter().find(|r| r.k == chosen_k).and_then(|r| r.silhouette).unwrap_or(0.0);
        ReportData {
            dataset: DatasetFacts {
                input_file: "orders_2022_2024.csv".to_string(),
                input_sha256: "9f2c4e7a1b3d5f6081a2c3e4f5061728394a5b6c7d8e9f00112233445566778"
                    .to_string(),
                rows_loaded,
                clean_lines,
                customers: n_customers as u64,
                eligible_customers: eligible,
                first_order_date: "2022-01-03".to_string(),
                last_order_date: "2024-06-30".to_string(),
                as_of: "2024-06-30 23:41:07".to_string(),
            },
            quality_counts: example_quality_counts(rows_loaded, &rejected),
            dataset_checks: example_checks(n_customers as u64, eligible),
            segments,
            key_feature_names,
            feature_stats: example_feature_stats(&customers, &mut rng),
            feature_importance: example_importance(),
            customers,
            k_sweep,
            chosen_k,
            choice_reason: format!(
                "K = {chosen_k} has the highest stability (mean adjusted Rand index over 3 pairs of \
                 80% subsamples); no other K within 0.02 of it has a better silhouette."
            ),
            weak_structure: silhouette < 0.3,
            eps: eps.unwrap_or(1.0),
            eps_source: "auto: 0.85 quantile of each customer's distance to its 5th nearest \
                         neighbour (sample of 20,000)"
                .to_string(),
            min_samples: 5,
            noise_ratio: if eligible == 0 { 0.0 } else { outliers as f64 / eligible as f64 },
            k_distance_knee: (!k_distance.is_empty())
                .then_some(((k_distance.len() as f64) * 0.93) as usize),
            k_distance,
            trustworthiness: Trustworthiness { pca: Some(0.81), umap: Some(0.93) },
            parameters: parameters_from_config(&Config::default()),
            versions: vec![
                ("returnscope".to_string(), env!("CARGO_PKG_VERSION").to_string()),
                ("duckdb".to_string(), "1.2.0".to_string()),
                ("linfa".to_string(), "0.8.1".to_string()),
                ("rust_xlsxwriter".to_string(), "0.102".to_string()),
            ],
            timings: vec![
                ("Loading CSV".to_string(), 4.21),
                ("Validating".to_string(), 0.38),
                ("Engineering features".to_string(), 6.95),
                ("Preparing clustering matrix".to_string(), 0.44),
                ("Clustering".to_string(), 21.7),
                ("Computing 2-D views".to_string(), 38.2),
                ("Writing report".to_string(), 1.9),
            ],
        }
    }
}

/// A standard normal draw (Box-Muller).
fn normal(rng: &mut Xoshiro256PlusPlus) -> f64 {
    let u1: f64 = rng.r#gen::<f64>().max(1e-12);
    let u2: f64 = rng.r#gen();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// The archetype and its qualifier of example segment `s` (from 1).
fn example_archetype(s: usize) -> (usize, String) {
    let base = (s - 1) % EXAMPLE_ARCHETYPES.len();
    let round = (s - 1) / EXAMPLE_ARCHETYPES.len();
    let name = EXAMPLE_ARCHETYPES[base].0;
    if round == 0 {
        (base, name.to_string())
    } else {
        let qualifier = EXAMPLE_QUALIFIERS[(s - 1) % EXAMPLE_QUALIFIERS.len()];
        (base, format!("{name} ({qualifier})"))
    }
}

fn example_customers(n: usize, k: usize, rng: &mut Xoshiro256PlusPlus) -> Vec<CustomerRow> {
    // Uneven segment sizes: weight of segment s is 1 / (1 + 0.35 (s - 1)).
    let weights: Vec<f64> = (1..=k).map(|s| 1.0 / (1.0 + 0.35 * (s as f64 - 1.0))).collect();
    let total_weight: f64 = weights.iter().sum();
    let umap_every = n.div_ceil(20_000).max(1);
    (0..n)
        .map(|i| {
            let customer_id = format!("customer{i:06}@example.com");
            if rng.r#gen::<f64>() < 0.05 {
                return example_unsegmented(customer_id, rng);
            }
            let mut pick = rng.r#gen::<f64>() * total_weight;
            let mut segment = k;
            for (s, w) in weights.iter().enumerate() {
                if pick < *w {
                    segment = s + 1;
                    break;
                }
                pick -= w;
            }
            let is_outlier = rng.r#gen::<f64>() < 0.04;
            let spread = if is_outlier { 0.9 } else { 0.25 };
            let (base, name) = example_archetype(segment);
            let key_features = example_features(base, spread, rng);
            let angle = segment as f64 / k as f64 * std::f64::consts::TAU;
            let scatter = if is_outlier { 2.2 } else { 0.6 };
            let pca_x = 3.0 * angle.cos() + scatter * normal(rng);
            let pca_y = 3.0 * angle.sin() + scatter * normal(rng);
            let in_umap = i % umap_every == 0;
            CustomerRow {
                customer_id,
                segment: Some(segment),
                archetype: if is_outlier { OUTLIERS.to_string() } else { name },
                micro_segment: format!("{segment}.{}", rng.gen_range(0..3)),
                is_outlier,
                distance_to_centroid: Some(
                    (normal(rng).abs() + 0.3) * if is_outlier { 3.0 } else { 1.0 },
                ),
                key_features,
                pca_x: Some(pca_x),
                pca_y: Some(pca_y),
                umap_x: in_umap.then(|| 8.0 * angle.cos() + 0.8 * scatter * normal(rng)),
                umap_y: in_umap.then(|| 8.0 * angle.sin() + 0.8 * scatter * normal(rng)),
            }
        })
        .collect()
}

fn example_unsegmented(customer_id: String, rng: &mut Xoshiro256PlusPlus) -> CustomerRow {
    let mut key_features = example_features(3, 0.3, rng);
    key_features[2] = Some(1.0); // one order: not eligible
    CustomerRow {
        customer_id,
        segment: None,
        archetype: NOT_SEGMENTED.to_string(),
        micro_segment: String::new(),
        is_outlier: false,
        distance_to_centroid: None,
        key_features,
        pca_x: None,
        pca_y: None,
        umap_x: None,
        umap_y: None,
    }
}

/// Key-feature values around an archetype's typical ones (log-normal spread).
fn example_features(base: usize, spread: f64, rng: &mut Xoshiro256PlusPlus) -> Vec<Option<f64>> {
    let typical = EXAMPLE_ARCHETYPES[base].1;
    let mut values: Vec<Option<f64>> = typical
        .iter()
        .enumerate()
        .map(|(j, t)| {
            let v = t * (spread * normal(rng)).exp();
            Some(match j {
                0 | 1 => v.clamp(0.0, 1.0),
                2 | 7 => v.round().max(if j == 2 { 2.0 } else { 0.0 }),
                _ => (v * 10.0).round() / 10.0,
            })
        })
        .collect();
    if values[7] == Some(0.0) {
        values[6] = None; // no returns: no days to return
    }
    values
}

fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 { values[mid] } else { 0.5 * (values[mid - 1] + values[mid]) }
}

fn example_segments(customers: &[CustomerRow], k: usize) -> Vec<SegmentRow> {
    let n = customers.len().max(1) as f64;
    let returned = |c: &CustomerRow| c.key_features.get(7).copied().flatten().unwrap_or(0.0);
    let total_returned: f64 = customers.iter().map(returned).sum::<f64>().max(1.0);
    let summarise = |members: Vec<&CustomerRow>| {
        let medians = (0..EXAMPLE_FEATURES.len())
            .map(|j| {
                let mut v: Vec<f64> = members
                    .iter()
                    .filter_map(|c| c.key_features.get(j).copied().flatten())
                    .collect();
                median(&mut v)
            })
            .collect::<Vec<_>>();
        let units: f64 = members.iter().map(|c| returned(c)).sum();
        (members.len() as u64, medians, units / total_returned)
    };
    let mut rows = Vec::with_capacity(k + 2);
    for s in 1..=k {
        let members = customers.iter().filter(|c| c.segment == Some(s) && !c.is_outlier).collect();
        let (size, medians, units) = summarise(members);
        let (base, name) = example_archetype(s);
        let (_, _, description, action) = EXAMPLE_ARCHETYPES[base];
        rows.push(SegmentRow {
            segment: Some(s),
            label: segment_label(s),
            size,
            share: size as f64 / n,
            archetype: name,
            description: description.to_string(),
            action: action.to_string(),
            key_feature_medians: medians,
            silhouette: Some(0.52 - 0.025 * s as f64),
            micro_segments: 1 + s % 3,
            returned_units_share: units,
        });
    }
    let (size, medians, units) = summarise(customers.iter().filter(|c| c.is_outlier).collect());
    rows.push(SegmentRow {
        segment: None,
        label: OUTLIERS.to_string(),
        size,
        share: size as f64 / n,
        archetype: OUTLIERS.to_string(),
        description: "Unusual combinations of behaviour far from every segment.".to_string(),
        action: "Fraud review: check for return abuse and data errors.".to_string(),
        key_feature_medians: medians,
        silhouette: None,
        micro_segments: 0,
        returned_units_share: units,
    });
    let (size, medians, units) =
        summarise(customers.iter().filter(|c| c.segment.is_none()).collect());
    rows.push(SegmentRow {
        segment: None,
        label: NOT_SEGMENTED.to_string(),
        size,
        share: size as f64 / n,
        archetype: NOT_SEGMENTED.to_string(),
        description: "Fewer than 2 orders: too little history to segment.".to_string(),
        action: "Second-order incentive; segment them once they order again.".to_string(),
        key_feature_medians: medians,
        silhouette: None,
        micro_segments: 0,
        returned_units_share: units,
    });
    rows
}

fn example_quality_counts(rows_loaded: u64, rejected: &[u64; 5]) -> Vec<QualityCount> {
    let entries: [(&str, u64, &str, &str); 12] = [
        (
            "rejected_bad_order_date",
            rejected[0],
            "ORDER_DATE missing or unparseable",
            "Row rejected (kept in bronze)",
        ),
        (
            "rejected_bad_sales_qty",
            rejected[1],
            "SALES_QTY missing, not a number, or <= 0",
            "Row rejected (kept in bronze)",
        ),
        (
            "rejected_missing_key",
            rejected[2],
            "CUSTOMER_EMAILID or SALES_ORDER_NO empty",
            "Row rejected (kept in bronze)",
        ),
        (
            "duplicate_rows",
            rejected[3],
            "Row identical to an earlier row in every column",
            "Dropped",
        ),
        (
            "malformed_rows",
            rejected[4],
            "Wrong number of fields on the line",
            "Skipped; kept with its line number",
        ),
        ("fixed_bad_return_qty", 12, "RETURN_QTY not a number or negative", "Set to 0"),
        ("fixed_return_qty_over_sold", 8, "RETURN_QTY above SALES_QTY", "Set to SALES_QTY"),
        ("flag_mismatch", 164, "UNITS_RETURNED_FLAG disagrees with RETURN_QTY", "RETURN_QTY wins"),
        (
            "fixed_invalid_return_date",
            27,
            "RETURN_DATE unparseable or before ORDER_DATE",
            "Set to NULL (unknown)",
        ),
        ("missing_return_date", 311, "Returned line without RETURN_DATE", "Stays NULL"),
        ("missing_class", 95, "CLASS_ empty", "Class NULL"),
        ("after_as_of", 0, "Ordered after as_of", "Left out of the features"),
    ];
    entries
        .iter()
        .map(|(name, count, meaning, action)| QualityCount {
            name: name.to_string(),
            count: *count,
            share: *count as f64 / rows_loaded.max(1) as f64,
            meaning: meaning.to_string(),
            action: action.to_string(),
        })
        .collect()
}

fn example_checks(customers: u64, eligible: u64) -> Vec<DatasetCheck> {
    let enough = customers >= 100;
    vec![
        DatasetCheck {
            name: "min_customers".to_string(),
            severity: if enough { Severity::Ok } else { Severity::Blocking },
            message: format!("{customers} customers (at least 100 needed)"),
        },
        DatasetCheck {
            name: "eligible_share".to_string(),
            severity: Severity::Ok,
            message: format!("{eligible} customers have 2 or more orders"),
        },
        DatasetCheck {
            name: "missing_return_date".to_string(),
            severity: Severity::Warning,
            message: "311 returned lines have no return date; timing features use the rest"
                .to_string(),
        },
    ]
}

fn example_feature_stats(
    customers: &[CustomerRow],
    rng: &mut Xoshiro256PlusPlus,
) -> Vec<FeatureStat> {
    let eligible: Vec<&CustomerRow> = customers.iter().filter(|c| c.segment.is_some()).collect();
    let mut stats: Vec<FeatureStat> = EXAMPLE_FEATURES
        .iter()
        .enumerate()
        .map(|(j, name)| {
            let values: Vec<f64> =
                eligible.iter().filter_map(|c| c.key_features.get(j).copied().flatten()).collect();
            describe(name, &values, eligible.len())
        })
        .collect();
    for name in ["return_frequency_ratio", "category_diversity_score", "recent_vs_avg_ratio"] {
        let values: Vec<f64> =
            (0..eligible.len().min(2000)).map(|_| (0.3 * normal(rng)).exp()).collect();
        stats.push(describe(name, &values, values.len()));
    }
    stats
}

/// Statistics of `values` out of `total` customers (the rest are NULL).
fn describe(feature: &str, values: &[f64], total: usize) -> FeatureStat {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let quantile = |q: f64| {
        if n == 0 {
            return f64::NAN;
        }
        let pos = q * (n - 1) as f64;
        let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
        sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
    };
    let mean = if n == 0 { f64::NAN } else { sorted.iter().sum::<f64>() / n as f64 };
    let std = if n < 2 {
        f64::NAN
    } else {
        (sorted.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
    };
    let (p1, p99) = (quantile(0.01), quantile(0.99));
    let outside = sorted.iter().filter(|v| **v < p1 || **v > p99).count();
    let defined = |v: f64| v.is_finite().then_some(v);
    FeatureStat {
        feature: feature.to_string(),
        count: n as u64,
        null_share: if total == 0 { 0.0 } else { 1.0 - n as f64 / total as f64 },
        mean: defined(mean),
        std: defined(std),
        min: sorted.first().copied(),
        p25: defined(quantile(0.25)),
        median: defined(quantile(0.5)),
        p75: defined(quantile(0.75)),
        max: sorted.last().copied(),
        outside_p1_p99_share: Some(if n == 0 { 0.0 } else { outside as f64 / n as f64 }),
    }
}

fn example_importance() -> Vec<(String, f64)> {
    let shares = [0.71, 0.68, 0.55, 0.31, 0.62, 0.44, 0.12, 0.58, 0.27, 0.09, 0.05];
    EXAMPLE_FEATURES
        .iter()
        .chain(["return_frequency_ratio", "category_diversity_score", "recent_vs_avg_ratio"].iter())
        .zip(shares)
        .map(|(name, share)| (name.to_string(), share))
        .collect()
}

/// A K sweep whose stability peaks at `k`.
fn example_k_sweep(k: usize, rng: &mut Xoshiro256PlusPlus) -> (Vec<KSweepRow>, usize) {
    let (k_min, k_max) = (k.clamp(2, 3), k.max(14));
    let rows = (k_min..=k_max)
        .map(|kk| {
            let d = (kk as f64 - k as f64).abs();
            KSweepRow {
                k: kk,
                inertia: 250_000.0 / (kk as f64).powf(0.8) + 2_000.0 * rng.r#gen::<f64>(),
                silhouette: Some(0.41 - 0.018 * d + 0.01 * (kk == k_min) as u8 as f64),
                calinski_harabasz: Some(5_200.0 - 180.0 * kk as f64 - 90.0 * d),
                davies_bouldin: Some(1.05 + 0.06 * d),
                stability: Some(0.93 - 0.07 * d.min(4.0) - 0.01 * d),
            }
        })
        .collect();
    (rows, k)
}

/// A sorted k-distance curve: flat, then rising steeply in the last tenth.
fn example_k_distance(n: usize, rng: &mut Xoshiro256PlusPlus) -> Vec<f64> {
    let m = n.min(20_000);
    let mut curve: Vec<f64> = (0..m)
        .map(|i| {
            let q = i as f64 / m.max(1) as f64;
            0.8 + 1.2 * q + 6.0 * q.powi(12) + 0.05 * rng.r#gen::<f64>()
        })
        .collect();
    curve.sort_by(f64::total_cmp);
    curve
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_is_consistent() {
        let data = ReportData::example(2_000, 5);
        assert_eq!(data.customers.len(), 2_000);
        // 5 segments + Outliers + Not segmented, sizes adding up to every customer.
        assert_eq!(data.segments.len(), 7);
        assert_eq!(data.segments.iter().map(|s| s.size).sum::<u64>(), 2_000);
        let share_sum: f64 = data.segments.iter().map(|s| s.share).sum();
        assert!((share_sum - 1.0).abs() < 1e-9);
        let units: f64 = data.segments.iter().map(|s| s.returned_units_share).sum();
        assert!((units - 1.0).abs() < 1e-9);
        assert!(data.segments[5].is_outliers() && data.segments[6].is_not_segmented());
        assert_eq!(data.segments[0].archetype, "High Returners");
        assert_eq!(data.chosen_k, 5);
        assert!(data.k_sweep.iter().any(|r| r.k == 5));
        for c in &data.customers {
            assert_eq!(c.key_features.len(), data.key_feature_names.len());
        }
        // NaN medians never compare equal, so compare the printed form.
        let again = ReportData::example(2_000, 5);
        assert_eq!(format!("{data:?}"), format!("{again:?}"), "deterministic");
    }

    #[test]
    fn example_handles_tiny_inputs() {
        let data = ReportData::example(0, 0);
        assert!(data.customers.is_empty());
        assert!(data.segments.iter().all(|s| s.size == 0));
        let one = ReportData::example(1, 1);
        assert_eq!(one.customers.len(), 1);
    }

    #[test]
    fn median_of_even_and_odd_counts() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&mut []).is_nan());
    }
}
