//! Archetypes: business names, descriptions and actions for the segments.
//!
//! Pure: computed from the RAW silver values of the eligible customers (never the scaled gold
//! matrix), per CLUSTERING.md "Archetypes". For every segment and feature the segment's median is
//! compared with the population's: robust z = (median - population median) / (1.4826 x MAD of the
//! population), and the segment's mean with the population's. Each segment is scored against each
//! archetype signature (a weighted mean of signed, capped robust z's of a few features); a score
//! only counts when the archetype's conditions ([`conditions`]: on means and shares as well as
//! medians) hold for the segment, so a name is a claim that was checked. Plain names go to the
//! segments that maximise the total score (every archetype to at most one segment, only scores
//! above [`MIN_SCORE`]); any other segment that meets an archetype's conditions takes it with a
//! qualifier from its most distinctive feature ("Loyal Customers (large baskets)"); the rest are
//! named after their traits ("Customers: few orders, lapsed"), or "Regular Customers" when nothing
//! stands out. Descriptions are in business words ([`phrases`]): the numbers that decided the name.
//! The outliers are described by kind ([`outliers`]).

pub mod conditions;
pub mod outliers;
pub mod phrases;
mod totals;

use crate::pipeline::features::key_features;
use crate::pipeline::model::OutlierGroup;
use crate::pipeline::model::RawFeatures;
use conditions::{SegmentStats, Verdict};
use phrases::{capitalise, contrast_phrase, qualifier};
use rayon::prelude::*;
use serde::Serialize;
use totals::{CustomerTotals, Shares, shares_of};

/// A segment must score at least this (robust z units) to carry an archetype; below it nothing
/// stands out and it is "Regular Customers".
pub const MIN_SCORE: f64 = 0.5;

/// A robust z beyond this counts as this much in scores (one extreme feature must not decide).
const Z_CAP: f64 = 5.0;

/// A contrast must reach this |robust z| to be written into a description or qualifier.
const NOTABLE_Z: f64 = 0.5;

/// A feature describes a segment only when it is defined for at least this share of its members
/// (a segment where 5% ever returned is not described by how seasonal its returns are).
const NOTABLE_DEFINED_SHARE: f64 = 0.5;

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
    /// Mean over the segment's members with a defined value.
    pub mean: f64,
    /// Mean over all eligible customers with a defined value.
    pub population_mean: f64,
    /// Share of the segment's members with a defined value (a return-timing feature is undefined
    /// for customers who never returned).
    pub defined_share: f64,
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
    /// The members' orders / all eligible customers' orders.
    pub order_share: f64,
    /// The members' returned units / all eligible customers' returned units.
    pub returned_units_share: f64,
    /// Why the segment carries its name: the numbers that decided it, as short sentences.
    pub reasons: Vec<String>,
    /// One line in business words: the reasons, or the most distinctive traits.
    pub description: String,
    pub action: String,
    /// The Outliers row's customers by kind (empty for segments).
    pub outlier_groups: Vec<OutlierGroup>,
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
            let defined_share = values.len() as f64 / rows.len() as f64;
            let robust_z = pop.scale.map_or(0.0, |s| (median - pop.median) / s);
            let ratio = (pop.mean.abs() > 1e-12).then(|| mean / pop.mean);
            Some(FeatureContrast {
                feature: raw.names[j].clone(),
                median,
                population_median: pop.median,
                mean,
                population_mean: pop.mean,
                defined_share,
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

/// The notable contrasts (|robust z| >= [`NOTABLE_Z`], defined for at least
/// [`NOTABLE_DEFINED_SHARE`] of the members) not in `except`, most distinctive first.
fn notable<'a>(
    contrasts: &'a [FeatureContrast],
    except: &'a [&str],
) -> impl Iterator<Item = &'a FeatureContrast> {
    contrasts.iter().filter(move |c| {
        c.robust_z.abs() >= NOTABLE_Z
            && c.defined_share >= NOTABLE_DEFINED_SHARE
            && !except.contains(&c.feature.as_str())
    })
}

/// A description from the (up to `n`) most distinctive features, in business words.
fn describe_traits(contrasts: &[FeatureContrast], n: usize) -> String {
    let phrases: Vec<String> = notable(contrasts, &[]).take(n).map(contrast_phrase).collect();
    if phrases.is_empty() {
        return "Close to the typical customer on every feature".to_string();
    }
    phrases.join("; ")
}

/// The description of a named segment: why it carries the name.
fn describe_reasons(reasons: &[String]) -> String {
    capitalise(&reasons.join("; "))
}

/// A name not yet taken: `base (qualifier)` from the most distinctive features that do not
/// restate the archetype's own signature, numbered if every qualifier is taken.
fn qualified_name(base: Archetype, contrasts: &[FeatureContrast], taken: &[String]) -> String {
    let own: Vec<&str> = base.signature().iter().map(|t| t.feature).collect();
    let candidates = notable(contrasts, &own)
        .map(|c| format!("{} ({})", base.name(), qualifier(&c.feature, c.robust_z)));
    let fallback = (2..).map(|n| format!("{} {n}", base.name()));
    candidates
        .chain(fallback)
        .find(|name| !taken.contains(name))
        .unwrap_or_else(|| base.name().to_string())
}

/// The name of a segment no archetype fits: "Regular Customers" when nothing stands out, else
/// its two most distinctive traits ("Customers: few orders, lapsed"); unique among `taken`.
fn descriptive_name(contrasts: &[FeatureContrast], taken: &[String]) -> String {
    let mut traits: Vec<String> = Vec::new();
    for c in notable(contrasts, &[]) {
        let q = qualifier(&c.feature, c.robust_z);
        if !traits.contains(&q) {
            traits.push(q);
        }
    }
    let base = if traits.is_empty() {
        Archetype::RegularCustomers.name().to_string()
    } else {
        format!("Customers: {}", traits.iter().take(2).cloned().collect::<Vec<_>>().join(", "))
    };
    std::iter::once(base.clone())
        .chain((2..).map(|n| format!("{base} {n}")))
        .find(|name| !taken.contains(name))
        .unwrap_or(base)
}

fn key_medians(contrasts: &[FeatureContrast]) -> Vec<(String, f64)> {
    key_features()
        .iter()
        .filter_map(|k| {
            contrasts.iter().find(|c| c.feature == *k).map(|c| (c.feature.clone(), c.median))
        })
        .collect()
}

/// How one segment is named: its base archetype, the name, and the reasons.
struct Naming {
    base: Archetype,
    name: String,
    reasons: Vec<String>,
}

/// Name every segment: plain archetype names to the best-scoring segments whose conditions hold
/// (each name once), qualified names to other segments that meet an archetype's conditions, and
/// descriptive names to the rest.
fn name_segments(contrasts: &[Vec<FeatureContrast>], stats: &[SegmentStats]) -> Vec<Naming> {
    let verdicts: Vec<Vec<Verdict>> = stats
        .iter()
        .map(|s| Archetype::SCORED.iter().map(|&a| conditions::check(a, s)).collect())
        .collect();
    let scores: Vec<Vec<Option<f64>>> = contrasts
        .iter()
        .zip(&verdicts)
        .map(|(c, v)| {
            Archetype::SCORED
                .iter()
                .zip(v)
                .map(|(&a, verdict)| signature_score(a, c).filter(|_| verdict.holds))
                .collect()
        })
        .collect();
    let plain = assign_plain_names(&scores);
    let mut names: Vec<String> = plain
        .iter()
        .map(|p| p.map_or_else(String::new, |a| Archetype::SCORED[a].name().into()))
        .collect();
    let mut namings = Vec::with_capacity(stats.len());
    for s in 0..stats.len() {
        let best = plain[s].or_else(|| {
            scores[s]
                .iter()
                .enumerate()
                .filter_map(|(a, x)| x.filter(|x| *x >= MIN_SCORE).map(|x| (a, x)))
                .max_by(|x, y| x.1.total_cmp(&y.1).then(y.0.cmp(&x.0)))
                .map(|(a, _)| a)
        });
        let naming = match best {
            Some(a) => {
                let base = Archetype::SCORED[a];
                let name = if plain[s].is_some() {
                    names[s].clone()
                } else {
                    qualified_name(base, &contrasts[s], &names)
                };
                Naming { base, name, reasons: verdicts[s][a].reasons.clone() }
            }
            None => Naming {
                base: Archetype::RegularCustomers,
                name: descriptive_name(&contrasts[s], &names),
                reasons: Vec::new(),
            },
        };
        names[s] = naming.name.clone();
        namings.push(naming);
    }
    namings
}

/// The Outliers row's description and action from its kinds (the two largest).
fn outliers_text(groups: &[OutlierGroup]) -> (String, String) {
    let counts: Vec<String> =
        groups.iter().map(|g| format!("{} {}", g.customers, g.kind.to_lowercase())).collect();
    let description = if counts.is_empty() {
        "Far from every segment".to_string()
    } else {
        format!("Set aside as unusual: {}", counts.join(", "))
    };
    let actions: Vec<String> =
        groups.iter().take(2).map(|g| format!("{}: {}", g.kind, g.action.to_lowercase())).collect();
    let action = if actions.is_empty() {
        Archetype::Outliers.action().to_string()
    } else {
        actions.join("; ")
    };
    (description, action)
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
    let totals = CustomerTotals::of(raw);
    let all_orders: f64 = totals.orders.iter().sum();
    let all_units: f64 = totals.returned_units.iter().sum();
    let segmented: Vec<usize> = members[1..].iter().flatten().copied().collect();
    let units_per_segmented =
        CustomerTotals::sum(&totals.returned_units, &segmented) / segmented.len().max(1) as f64;
    let contrasts: Vec<Vec<FeatureContrast>> =
        members[1..].par_iter().map(|rows| contrasts_of(raw, &population, rows)).collect();
    let shares: Vec<Shares> =
        members[1..].iter().map(|m| shares_of(&totals, m, all_orders, all_units)).collect();
    let stats: Vec<SegmentStats> = (0..k)
        .map(|s| {
            let m = &members[s + 1];
            let per_member = CustomerTotals::sum(&totals.returned_units, m) / m.len().max(1) as f64;
            SegmentStats {
                customer_share: shares[s].customers,
                order_share: shares[s].orders,
                returned_units_share: shares[s].returned_units,
                returned_units_index: (units_per_segmented > 0.0 && !m.is_empty())
                    .then(|| per_member / units_per_segmented),
                contrasts: &contrasts[s],
            }
        })
        .collect();
    let namings = name_segments(&contrasts, &stats);
    let mut profiles: Vec<SegmentProfile> = namings
        .into_iter()
        .enumerate()
        .map(|(s, naming)| SegmentProfile {
            segment: Some(s + 1),
            archetype: naming.name,
            base_archetype: naming.base,
            size: members[s + 1].len(),
            share: shares[s].customers,
            order_share: shares[s].orders,
            returned_units_share: shares[s].returned_units,
            description: if naming.reasons.is_empty() {
                describe_traits(&contrasts[s], 3)
            } else {
                describe_reasons(&naming.reasons)
            },
            reasons: naming.reasons,
            action: naming.base.action().to_string(),
            outlier_groups: Vec::new(),
            medians: key_medians(&contrasts[s]),
            scores: Archetype::SCORED
                .iter()
                .filter_map(|&a| signature_score(a, &contrasts[s]).map(|x| (a, x)))
                .collect(),
            contrasts: contrasts[s].clone(),
        })
        .collect();
    if !outliers.is_empty() {
        let contrasts = contrasts_of(raw, &population, &outliers);
        let shares = shares_of(&totals, &outliers, all_orders, all_units);
        let groups = outliers::outlier_groups(raw, &outliers, &totals.returned_units, all_units);
        let (description, action) = outliers_text(&groups);
        profiles.push(SegmentProfile {
            segment: None,
            archetype: Archetype::Outliers.name().to_string(),
            base_archetype: Archetype::Outliers,
            size: outliers.len(),
            share: shares.customers,
            order_share: shares.orders,
            returned_units_share: shares.returned_units,
            reasons: Vec::new(),
            description,
            action,
            outlier_groups: groups,
            medians: key_medians(&contrasts),
            contrasts,
            scores: Vec::new(),
        });
    }
    profiles
}

#[cfg(test)]
mod tests;
