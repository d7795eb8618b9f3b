//! Archetypes: business names, descriptions and actions for the segments.
//!
//! Pure: computed from the RAW silver values of the eligible customers (never the scaled gold
//! matrix), per CLUSTERING.md "Archetypes". For every segment and feature the segment's median is
//! compared with the population's: robust z = (median - population median) / (1.4826 x MAD of the
//! population), and the ratio of the segment mean to the population mean ("returns 2.8x the
//! average"). Each segment is scored against each archetype signature (a weighted mean of signed,
//! capped robust z's of a few features), and names are assigned so that no two segments carry the
//! same plain name: the assignment of plain names maximises the total score (every archetype to
//! at most one segment, only scores above [`MIN_SCORE`]); any other segment takes its best
//! archetype with a qualifier from its most distinctive feature ("Loyal Customers (large
//! baskets)"), or "Regular Customers" when nothing stands out.

use crate::pipeline::features::key_features;
use crate::pipeline::model::RawFeatures;
use rayon::prelude::*;
use serde::Serialize;

/// A segment must score at least this (robust z units) to carry an archetype; below it nothing
/// stands out and it is "Regular Customers".
pub const MIN_SCORE: f64 = 0.5;

/// A robust z beyond this counts as this much in scores (one extreme feature must not decide).
const Z_CAP: f64 = 5.0;

/// A contrast must reach this |robust z| to be written into a description or qualifier.
const NOTABLE_Z: f64 = 0.5;

/// The customer archetypes of CLUSTERING.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Archetype {
    HighReturners,
    LoyalCustomers,
    VeteranShoppers,
    NewCustomers,
    FrequentBuyers,
    Outliers,
    RegularCustomers,
}

/// One term of an archetype signature.
#[derive(Debug, Clone, Copy)]
struct Term {
    feature: &'static str,
    /// +1: the archetype is high on the feature; -1: low.
    direction: f64,
    weight: f64,
    /// A requirement only penalises a segment on the wrong side (Loyal customers must not have
    /// lapsed) and adds nothing otherwise; a standout term scores both ways.
    requirement: bool,
}

const fn standout(feature: &'static str, direction: f64, weight: f64) -> Term {
    Term { feature, direction, weight, requirement: false }
}

const fn requirement(feature: &'static str, direction: f64) -> Term {
    Term { feature, direction, weight: 1.0, requirement: true }
}

impl Archetype {
    /// The archetypes a segment can be scored against (Outliers is the DBSCAN noise row and
    /// Regular the fallback).
    pub const SCORED: [Archetype; 5] = [
        Archetype::HighReturners,
        Archetype::LoyalCustomers,
        Archetype::VeteranShoppers,
        Archetype::NewCustomers,
        Archetype::FrequentBuyers,
    ];

    /// The plain name shown to users.
    pub fn name(self) -> &'static str {
        match self {
            Archetype::HighReturners => "High Returners",
            Archetype::LoyalCustomers => "Loyal Customers",
            Archetype::VeteranShoppers => "Veteran Shoppers",
            Archetype::NewCustomers => "New Customers",
            Archetype::FrequentBuyers => "Frequent Buyers",
            Archetype::Outliers => "Outliers",
            Archetype::RegularCustomers => "Regular Customers",
        }
    }

    /// The recommended action for a segment of this archetype.
    pub fn action(self) -> &'static str {
        match self {
            Archetype::HighReturners => {
                "Quality review of their most-returned products, size and fit guidance; watch \
                 for return-policy abuse"
            }
            Archetype::LoyalCustomers => {
                "Retention: loyalty rewards and early access to keep the relationship"
            }
            Archetype::VeteranShoppers => "Win-back: a retention offer before they lapse",
            Archetype::NewCustomers => "Onboarding: welcome series and a second-order incentive",
            Archetype::FrequentBuyers => {
                "Personalisation and inventory: tailored recommendations and stock depth in \
                 their categories"
            }
            Archetype::Outliers => {
                "Fraud review: check for resellers, return-policy abuse or data errors"
            }
            Archetype::RegularCustomers => {
                "Personalisation: standard campaigns; monitor for changes"
            }
        }
    }

    /// The features the archetype stands out on (CLUSTERING.md signatures).
    fn signature(self) -> &'static [Term] {
        match self {
            Archetype::HighReturners => HIGH_RETURNERS,
            Archetype::LoyalCustomers => LOYAL_CUSTOMERS,
            Archetype::VeteranShoppers => VETERAN_SHOPPERS,
            Archetype::NewCustomers => NEW_CUSTOMERS,
            Archetype::FrequentBuyers => FREQUENT_BUYERS,
            Archetype::Outliers | Archetype::RegularCustomers => &[],
        }
    }
}

/// Return rate and ratio high.
const HIGH_RETURNERS: &[Term] =
    &[standout("return_rate", 1.0, 1.0), standout("return_ratio", 1.0, 1.0)];
/// Many orders, low returns, recent activity (must not have lapsed).
const LOYAL_CUSTOMERS: &[Term] = &[
    standout("sales_order_no_nunique", 1.0, 1.0),
    standout("return_rate", -1.0, 1.0),
    requirement("days_since_last_order", -1.0),
];
/// Long tenure (and, secondarily, not recent).
const VETERAN_SHOPPERS: &[Term] =
    &[standout("customer_lifetime_days", 1.0, 1.0), standout("days_since_last_order", 1.0, 0.5)];
/// Short tenure.
const NEW_CUSTOMERS: &[Term] = &[standout("customer_lifetime_days", -1.0, 1.0)];
/// Most orders, large baskets (of several units).
const FREQUENT_BUYERS: &[Term] = &[
    standout("sales_order_no_nunique", 1.0, 1.0),
    standout("avg_order_size", 1.0, 1.0),
    standout("sales_qty_mean", 1.0, 0.5),
];

/// How a segment's median of one feature compares with the population.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeatureContrast {
    pub feature: String,
    /// Median over the segment's members with a defined value.
    pub median: f64,
    /// Median over all eligible customers with a defined value.
    pub population_median: f64,
    /// (median - population median) / robust scale of the population ([`robust_scale`]).
    pub robust_z: f64,
    /// Segment mean / population mean; None when the population mean is 0.
    pub ratio: Option<f64>,
}

/// One row of the segment summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SegmentProfile {
    /// 1..=K, or None for the Outliers row (DBSCAN noise).
    pub segment: Option<usize>,
    /// Unique display name, e.g. "Loyal Customers" or "Loyal Customers (large baskets)".
    pub archetype: String,
    pub base_archetype: Archetype,
    /// Members profiled: the segment's non-outliers (all outliers for the Outliers row).
    pub size: usize,
    /// size / all eligible customers.
    pub share: f64,
    /// One line from the most distinctive features.
    pub description: String,
    pub action: String,
    /// Segment medians of the [`key_features`] present.
    pub medians: Vec<(String, f64)>,
    /// Every feature with a defined segment median, by |robust_z| descending.
    pub contrasts: Vec<FeatureContrast>,
    /// Signature score per scored archetype (empty for the Outliers row).
    pub scores: Vec<(Archetype, f64)>,
}

/// Population statistics of one feature.
struct PopulationStats {
    median: f64,
    mean: f64,
    /// None when the feature has no spread at all.
    scale: Option<f64>,
}

/// The population's robust scale of sorted values: 1.4826 x MAD; when the MAD is 0 (more than
/// half the values equal), 1.2533 x the mean absolute deviation from the median (both estimate
/// the std of a normal distribution); None when every value is the same.
pub fn robust_scale(sorted: &[f64], median: f64) -> Option<f64> {
    let mut deviations: Vec<f64> = sorted.iter().map(|x| (x - median).abs()).collect();
    deviations.sort_unstable_by(f64::total_cmp);
    let mad = median_of_sorted(&deviations);
    let tiny = 1e-12 * median.abs().max(1.0);
    if 1.4826 * mad > tiny {
        return Some(1.4826 * mad);
    }
    let mean_abs = deviations.iter().sum::<f64>() / deviations.len().max(1) as f64;
    (1.2533 * mean_abs > tiny).then_some(1.2533 * mean_abs)
}

fn median_of_sorted(sorted: &[f64]) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]),
    }
}

fn defined_sorted(values: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut v: Vec<f64> = values.filter(|x| x.is_finite()).collect();
    v.sort_unstable_by(f64::total_cmp);
    v
}

fn population_stats(raw: &RawFeatures) -> Vec<Option<PopulationStats>> {
    (0..raw.names.len())
        .into_par_iter()
        .map(|j| {
            let sorted = defined_sorted(raw.values.column(j).iter().copied());
            if sorted.is_empty() {
                return None;
            }
            let median = median_of_sorted(&sorted);
            let mean = sorted.iter().sum::<f64>() / sorted.len() as f64;
            Some(PopulationStats { median, mean, scale: robust_scale(&sorted, median) })
        })
        .collect()
}

/// The contrasts of the members `rows`, sorted by |robust_z| descending (ties: input order).
fn contrasts_of(
    raw: &RawFeatures,
    population: &[Option<PopulationStats>],
    rows: &[usize],
) -> Vec<FeatureContrast> {
    let mut contrasts: Vec<FeatureContrast> = population
        .iter()
        .enumerate()
        .filter_map(|(j, pop)| {
            let pop = pop.as_ref()?;
            let column = raw.values.column(j);
            let values = defined_sorted(rows.iter().map(|&i| column[i]));
            if values.is_empty() {
                return None;
            }
            let median = median_of_sorted(&values);
            let mean = values.iter().sum::<f64>() / values.len() as f64;
            let robust_z = pop.scale.map_or(0.0, |s| (median - pop.median) / s);
            let ratio = (pop.mean.abs() > 1e-12).then(|| mean / pop.mean);
            Some(FeatureContrast {
                feature: raw.names[j].clone(),
                median,
                population_median: pop.median,
                robust_z,
                ratio,
            })
        })
        .collect();
    contrasts.sort_by(|a, b| b.robust_z.abs().total_cmp(&a.robust_z.abs()));
    contrasts
}

/// Weighted mean of the signed, capped robust z's of the signature's standout features present,
/// plus the (non-positive) requirement terms; None when no standout feature is present.
fn signature_score(archetype: Archetype, contrasts: &[FeatureContrast]) -> Option<f64> {
    let mut sum = 0.0;
    let mut weight = 0.0;
    for term in archetype.signature() {
        let Some(c) = contrasts.iter().find(|c| c.feature == term.feature) else { continue };
        let z = (term.direction * c.robust_z).clamp(-Z_CAP, Z_CAP);
        if term.requirement {
            sum += term.weight * z.min(0.0);
        } else {
            sum += term.weight * z;
            weight += term.weight;
        }
    }
    (weight > 0.0).then(|| sum / weight)
}

/// Plain names: for each segment the index into [`Archetype::SCORED`] it carries plainly, chosen
/// to maximise the total score (each archetype at most once, scores >= [`MIN_SCORE`]).
/// Exact dynamic programme over (segment, set of archetypes used): K x 2^5 states.
fn assign_plain_names(scores: &[Vec<Option<f64>>]) -> Vec<Option<usize>> {
    let archetypes = Archetype::SCORED.len();
    let states = 1usize << archetypes;
    // best[s][mask]: best total over segments s.. given the archetypes in mask are used.
    let mut best = vec![vec![0.0f64; states]; scores.len() + 1];
    let mut choice = vec![vec![None; states]; scores.len()];
    for s in (0..scores.len()).rev() {
        for mask in 0..states {
            let mut top = best[s + 1][mask];
            let mut pick = None;
            for (a, score) in scores[s].iter().enumerate() {
                let Some(score) = *score else { continue };
                if mask & (1 << a) != 0 || score < MIN_SCORE {
                    continue;
                }
                let total = score + best[s + 1][mask | (1 << a)];
                if total > top + 1e-12 {
                    top = total;
                    pick = Some(a);
                }
            }
            best[s][mask] = top;
            choice[s][mask] = pick;
        }
    }
    let mut mask = 0;
    (0..scores.len())
        .map(|s| {
            let pick = choice[s][mask];
            if let Some(a) = pick {
                mask |= 1 << a;
            }
            pick
        })
        .collect()
}

/// A short qualifier for a feature that stands out in direction `sign(z)`.
fn qualifier(feature: &str, z: f64) -> String {
    let up = z > 0.0;
    let pair = match feature {
        "return_rate" | "return_ratio" | "avg_returns_per_order" | "items_returned_count" => {
            ("high returns", "low returns")
        }
        "sales_order_no_nunique" => ("many orders", "few orders"),
        "avg_order_size" => ("large baskets", "small baskets"),
        "sales_qty_mean" => ("multi-unit lines", "single units"),
        "customer_lifetime_days" => ("long tenure", "short tenure"),
        "days_since_last_order" => ("lapsed", "recently active"),
        "recent_orders" => ("recently active", "quiet lately"),
        "avg_days_to_return" => ("slow returns", "fast returns"),
        "return_intensity" => ("whole-line returns", "partial returns"),
        "sku_nunique" => ("wide range", "narrow range"),
        "category_diversity_score" => ("many categories", "few categories"),
        "category_loyalty_score" => ("category loyal", "category hoppers"),
        "high_return_category_affinity" => ("high-return categories", "low-return categories"),
        _ => return format!("{} {}", if up { "high" } else { "low" }, feature.replace('_', " ")),
    };
    (if up { pair.0 } else { pair.1 }).to_string()
}

/// One phrase of a description for a contrast.
fn phrase(c: &FeatureContrast) -> String {
    let m = c.median;
    let times = |r: f64| format!("{r:.1}x the average");
    match (c.feature.as_str(), c.ratio) {
        ("return_ratio", Some(r)) => format!("returns {} share of units", times(r)),
        ("return_rate", Some(r)) => format!("returns {} share of lines", times(r)),
        ("avg_days_to_return", _) => format!("returns within {m:.0} days"),
        ("sales_order_no_nunique", Some(r)) => format!("{m:.0} orders ({})", times(r)),
        ("avg_order_size", Some(r)) => format!("{m:.1} units per order ({})", times(r)),
        ("sales_qty_mean", _) => format!("{m:.1} units per line"),
        ("customer_lifetime_days", _) => format!("first order {m:.0} days ago"),
        ("days_since_last_order", _) => format!("last order {m:.0} days ago"),
        ("recent_orders", _) => format!("{m:.0} orders in the recency window"),
        ("return_intensity", _) => format!("returns {:.0}% of a returned line", 100.0 * m),
        (feature, Some(r)) => format!("{} {}", feature.replace('_', " "), times(r)),
        (feature, None) => {
            format!("{} {m:.2} (population {:.2})", feature.replace('_', " "), c.population_median)
        }
    }
}

/// One line from the (up to three) most distinctive features.
fn describe(contrasts: &[FeatureContrast]) -> String {
    let phrases: Vec<String> =
        contrasts.iter().filter(|c| c.robust_z.abs() >= NOTABLE_Z).take(3).map(phrase).collect();
    if phrases.is_empty() {
        return "Close to the typical customer on every feature".to_string();
    }
    let line = phrases.join("; ");
    let mut chars = line.chars();
    chars.next().map_or(String::new(), |first| first.to_uppercase().chain(chars).collect())
}

/// A name not yet taken: `base (qualifier)` from the most distinctive features that do not
/// restate the archetype's own signature, numbered if every qualifier is taken.
fn qualified_name(base: Archetype, contrasts: &[FeatureContrast], taken: &[String]) -> String {
    let own: Vec<&str> = base.signature().iter().map(|t| t.feature).collect();
    let candidates = contrasts
        .iter()
        .filter(|c| c.robust_z.abs() >= NOTABLE_Z && !own.contains(&c.feature.as_str()))
        .map(|c| format!("{} ({})", base.name(), qualifier(&c.feature, c.robust_z)));
    let fallback = (2..).map(|n| format!("{} {n}", base.name()));
    candidates
        .chain(fallback)
        .find(|name| !taken.contains(name))
        .unwrap_or_else(|| base.name().to_string())
}

fn key_medians(contrasts: &[FeatureContrast]) -> Vec<(String, f64)> {
    key_features()
        .iter()
        .filter_map(|k| {
            contrasts.iter().find(|c| c.feature == *k).map(|c| (c.feature.clone(), c.median))
        })
        .collect()
}

/// Profile and name the segments.
///
/// `segment[i]` is row i's K-means segment (1..=K; 0 is ignored) and `is_outlier[i]` its DBSCAN
/// noise flag (rows beyond either slice's length are ignored). Returns one profile per segment
/// 1..=K over its non-outlier members (K = the largest segment number), then one "Outliers"
/// profile (segment None) over all outliers when there are any.
pub fn profile_segments(
    raw: &RawFeatures,
    segment: &[usize],
    is_outlier: &[bool],
) -> Vec<SegmentProfile> {
    let rows = raw.values.nrows().min(segment.len()).min(is_outlier.len());
    let k = segment[..rows].iter().copied().max().unwrap_or(0);
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); k + 1];
    let mut outliers = Vec::new();
    for i in 0..rows {
        if is_outlier[i] {
            outliers.push(i);
        } else if segment[i] >= 1 {
            members[segment[i]].push(i);
        }
    }
    let population = population_stats(raw);
    let contrasts: Vec<Vec<FeatureContrast>> =
        members[1..].par_iter().map(|rows| contrasts_of(raw, &population, rows)).collect();
    let scores: Vec<Vec<Option<f64>>> = contrasts
        .iter()
        .zip(&members[1..])
        .map(|(c, m)| {
            Archetype::SCORED
                .iter()
                .map(|&a| if m.is_empty() { None } else { signature_score(a, c) })
                .collect()
        })
        .collect();
    let plain = assign_plain_names(&scores);
    let mut names: Vec<String> = plain
        .iter()
        .map(|p| p.map_or_else(String::new, |a| Archetype::SCORED[a].name().into()))
        .collect();
    let mut bases: Vec<Archetype> = vec![Archetype::RegularCustomers; k];
    for s in 0..k {
        if let Some(a) = plain[s] {
            bases[s] = Archetype::SCORED[a];
            continue;
        }
        let best = scores[s]
            .iter()
            .enumerate()
            .filter_map(|(a, score)| score.map(|x| (a, x)))
            .fold(None, |best: Option<(usize, f64)>, (a, x)| match best {
                Some((_, bx)) if bx >= x => best,
                _ => Some((a, x)),
            });
        let base = match best {
            Some((a, x)) if x >= MIN_SCORE => Archetype::SCORED[a],
            _ => Archetype::RegularCustomers,
        };
        bases[s] = base;
        let name = if names.iter().any(|n| n == base.name()) {
            qualified_name(base, &contrasts[s], &names)
        } else {
            base.name().to_string()
        };
        names[s] = name;
    }
    let total = raw.values.nrows().max(1) as f64;
    let mut profiles: Vec<SegmentProfile> = (0..k)
        .map(|s| SegmentProfile {
            segment: Some(s + 1),
            archetype: names[s].clone(),
            base_archetype: bases[s],
            size: members[s + 1].len(),
            share: members[s + 1].len() as f64 / total,
            description: describe(&contrasts[s]),
            action: bases[s].action().to_string(),
            medians: key_medians(&contrasts[s]),
            contrasts: contrasts[s].clone(),
            scores: Archetype::SCORED
                .iter()
                .zip(&scores[s])
                .filter_map(|(&a, x)| x.map(|x| (a, x)))
                .collect(),
        })
        .collect();
    if !outliers.is_empty() {
        let contrasts = contrasts_of(raw, &population, &outliers);
        profiles.push(SegmentProfile {
            segment: None,
            archetype: Archetype::Outliers.name().to_string(),
            base_archetype: Archetype::Outliers,
            size: outliers.len(),
            share: outliers.len() as f64 / total,
            description: describe(&contrasts),
            action: Archetype::Outliers.action().to_string(),
            medians: key_medians(&contrasts),
            contrasts,
            scores: Vec::new(),
        });
    }
    profiles
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    const NAMES: [&str; 9] = [
        "sales_order_no_nunique",
        "avg_order_size",
        "sales_qty_mean",
        "return_rate",
        "return_ratio",
        "avg_days_to_return",
        "customer_lifetime_days",
        "days_since_last_order",
        "recent_orders",
    ];

    /// Typical raw values per planted group, in NAMES order.
    const HIGH_RETURNERS: [f64; 9] = [9.0, 4.0, 1.4, 0.55, 0.50, 4.0, 400.0, 30.0, 2.0];
    const LOYAL: [f64; 9] = [16.0, 2.0, 1.0, 0.05, 0.05, 18.0, 550.0, 10.0, 3.0];
    const VETERAN: [f64; 9] = [4.0, 2.0, 1.05, 0.17, 0.17, 17.0, 640.0, 270.0, 0.0];
    const NEW: [f64; 9] = [3.0, 2.0, 1.05, 0.10, 0.10, 14.0, 50.0, 5.0, 3.0];
    const FREQUENT: [f64; 9] = [25.0, 15.0, 3.0, 0.15, 0.13, 13.0, 400.0, 10.0, 5.0];
    const OUTLIER: [f64; 9] = [60.0, 40.0, 20.0, 1.0, 1.0, 1.0, 100.0, 50.0, 20.0];

    /// `per_group` rows around each group's typical values (+-10% in a fixed pattern), with
    /// segment numbers 1.. in the order given; the last group is flagged as outliers.
    fn planted(
        groups: &[[f64; 9]],
        per_group: usize,
        outliers: usize,
    ) -> (RawFeatures, Vec<usize>, Vec<bool>) {
        let n = groups.len() * per_group + outliers;
        let mut values = Array2::zeros((n, NAMES.len()));
        let mut segment = Vec::with_capacity(n);
        let mut is_outlier = Vec::with_capacity(n);
        for i in 0..n {
            let (typical, seg, out) = if i < groups.len() * per_group {
                (&groups[i / per_group], i / per_group + 1, false)
            } else {
                (&OUTLIER, 1 + i % groups.len(), true)
            };
            for j in 0..NAMES.len() {
                let wiggle = 1.0 + 0.1 * (((i * 7 + j * 3) % 11) as f64 - 5.0) / 5.0;
                values[[i, j]] = typical[j] * wiggle;
            }
            segment.push(seg);
            is_outlier.push(out);
        }
        let raw = RawFeatures {
            customer_ids: (0..n).map(|i| format!("c{i}")).collect(),
            names: NAMES.iter().map(|s| s.to_string()).collect(),
            values,
        };
        (raw, segment, is_outlier)
    }

    fn names_of(profiles: &[SegmentProfile]) -> Vec<&str> {
        profiles.iter().map(|p| p.archetype.as_str()).collect()
    }

    #[test]
    fn each_planted_group_gets_its_name() {
        let (raw, segment, is_outlier) =
            planted(&[NEW, FREQUENT, HIGH_RETURNERS, VETERAN, LOYAL], 100, 10);
        let profiles = profile_segments(&raw, &segment, &is_outlier);
        assert_eq!(
            names_of(&profiles),
            [
                "New Customers",
                "Frequent Buyers",
                "High Returners",
                "Veteran Shoppers",
                "Loyal Customers",
                "Outliers"
            ]
        );
        assert_eq!(profiles[5].segment, None);
        assert_eq!(profiles[5].size, 10);
        assert_eq!(profiles.iter().map(|p| p.size).sum::<usize>(), 510);
        assert!((profiles.iter().map(|p| p.share).sum::<f64>() - 1.0).abs() < 1e-12);
        let high = &profiles[2];
        assert_eq!(high.base_archetype, Archetype::HighReturners);
        assert!(high.description.starts_with("Returns"), "{}", high.description);
        assert!(high.action.contains("Quality review"));
        assert_eq!(high.medians.len(), key_features().len());
        // Contrasts are sorted by |robust z|.
        let z: Vec<f64> = high.contrasts.iter().map(|c| c.robust_z.abs()).collect();
        assert!(z.windows(2).all(|w| w[0] >= w[1]), "{z:?}");
    }

    #[test]
    fn two_similar_segments_get_distinct_names() {
        // A second Loyal group: both are Loyal, only one plainly.
        // Fewer orders (so the first Loyal group is the better match) and slow returns.
        let mut slow_loyal = LOYAL;
        slow_loyal[0] = 14.0;
        slow_loyal[5] = 30.0;
        let (raw, segment, is_outlier) =
            planted(&[LOYAL, HIGH_RETURNERS, VETERAN, NEW, slow_loyal], 100, 0);
        let profiles = profile_segments(&raw, &segment, &is_outlier);
        let names = names_of(&profiles);
        assert_eq!(profiles.len(), 5, "no outliers, no Outliers row");
        let loyal: Vec<&&str> = names.iter().filter(|n| n.starts_with("Loyal Customers")).collect();
        assert_eq!(loyal.len(), 2, "{names:?}");
        assert_ne!(loyal[0], loyal[1]);
        assert_eq!(names[0], "Loyal Customers");
        assert_eq!(names[4], "Loyal Customers (slow returns)");
        assert_eq!(profiles[4].base_archetype, Archetype::LoyalCustomers);
    }

    #[test]
    fn names_stay_unique_when_qualifiers_collide() {
        // Three identical High Returner segments: plain, qualified, then numbered.
        let (raw, segment, is_outlier) = planted(
            &[HIGH_RETURNERS, HIGH_RETURNERS, HIGH_RETURNERS, LOYAL, NEW, VETERAN, FREQUENT],
            40,
            0,
        );
        let profiles = profile_segments(&raw, &segment, &is_outlier);
        let mut names: Vec<&str> = names_of(&profiles);
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 7, "{:?}", names_of(&profiles));
        assert_eq!(
            profiles.iter().filter(|p| p.base_archetype == Archetype::HighReturners).count(),
            3
        );
    }

    #[test]
    fn missing_features_do_not_score_and_flat_segments_are_regular() {
        let (mut raw, segment, is_outlier) = planted(&[HIGH_RETURNERS, NEW, VETERAN], 50, 0);
        // Without return_ratio and recent_orders, High Returners still stand out on return_rate.
        let keep: Vec<usize> = (0..NAMES.len()).filter(|&j| j != 4 && j != 8).collect();
        raw.values = raw.values.select(ndarray::Axis(1), &keep);
        raw.names = keep.iter().map(|&j| NAMES[j].to_string()).collect();
        let profiles = profile_segments(&raw, &segment, &is_outlier);
        assert_eq!(names_of(&profiles), ["High Returners", "New Customers", "Veteran Shoppers"]);
        // One segment holding everybody sits on the population median: nothing stands out.
        let everyone = vec![1; segment.len()];
        let profiles = profile_segments(&raw, &everyone, &is_outlier);
        assert_eq!(names_of(&profiles), ["Regular Customers"]);
        assert_eq!(profiles[0].description, "Close to the typical customer on every feature");
        // Degenerate input: nothing to profile.
        assert!(profile_segments(&raw, &[], &[]).is_empty());
    }

    #[test]
    fn robust_z_and_ratio_by_hand() {
        // f = [1,2,3,4,100]: median 3, |x - 3| = [2,1,0,1,97] -> MAD 1, scale 1.4826.
        // Segment 2 = {4, 100}: median 52, z = 49 / 1.4826 = 33.05; mean 52 / mean 22 = 2.3636.
        // g = [0,0,0,0,5]: MAD 0 -> 1.2533 x mean |x - 0| = 1.2533 x 1;
        // segment 2 = {0, 5}: median 2.5 -> z = 2.5 / 1.2533 = 1.9947; ratio 2.5 / 1 = 2.5.
        let values = ndarray::array![[1.0, 0.0], [2.0, 0.0], [3.0, 0.0], [4.0, 0.0], [100.0, 5.0]];
        let raw = RawFeatures {
            customer_ids: (0..5).map(|i| i.to_string()).collect(),
            names: vec!["f".into(), "g".into()],
            values,
        };
        let profiles = profile_segments(&raw, &[1, 1, 1, 2, 2], &[false; 5]);
        let contrast =
            |name: &str| profiles[1].contrasts.iter().find(|c| c.feature == name).unwrap().clone();
        let f = contrast("f");
        assert_eq!((f.median, f.population_median), (52.0, 3.0));
        assert!((f.robust_z - 49.0 / 1.4826).abs() < 1e-9);
        assert!((f.ratio.unwrap() - 52.0 / 22.0).abs() < 1e-12);
        let g = contrast("g");
        assert!((g.robust_z - 2.5 / 1.2533).abs() < 1e-9);
        assert!((g.ratio.unwrap() - 2.5).abs() < 1e-12);
    }
}
