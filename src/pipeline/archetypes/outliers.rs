//! The customers DBSCAN set aside, described by what makes each of them unusual.
//!
//! Each outlier gets the first kind whose rule it meets, in this order: probable data errors
//! (values that cannot happen), extreme returners, bulk buyers, odd timing, and otherwise an
//! unusual mix of features. "Extreme" means at or above the 95th percentile of all clustered
//! customers (and above their median, so a feature that is 0 for most customers does not make
//! everybody extreme). Every kind carries its count, its share of all returned units and an
//! action of its own: a fraud review fits an extreme returner, not a wholesaler.

use crate::pipeline::model::{OutlierGroup, RawFeatures};

/// Percentile of the clustered customers at or above which a value is extreme.
pub const EXTREME_PERCENTILE: f64 = 0.95;
/// A share of purchased units returned at or above this is extreme whatever the percentile.
pub const EXTREME_RETURN_RATIO: f64 = 0.5;

/// The kinds of outliers, in the order their rules are tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OutlierKind {
    DataErrors,
    ExtremeReturners,
    BulkBuyers,
    OddTiming,
    UnusualMix,
}

impl OutlierKind {
    pub const ALL: [OutlierKind; 5] = [
        OutlierKind::DataErrors,
        OutlierKind::ExtremeReturners,
        OutlierKind::BulkBuyers,
        OutlierKind::OddTiming,
        OutlierKind::UnusualMix,
    ];

    pub fn name(self) -> &'static str {
        match self {
            OutlierKind::DataErrors => "Probable data errors",
            OutlierKind::ExtremeReturners => "Extreme returners",
            OutlierKind::BulkBuyers => "Bulk buyers",
            OutlierKind::OddTiming => "Odd timing",
            OutlierKind::UnusualMix => "Unusual mix",
        }
    }

    /// What the customers of this kind have in common.
    pub fn description(self) -> &'static str {
        match self {
            OutlierKind::DataErrors => {
                "Values that cannot happen: more units returned than bought, or returns dated \
                 before the order"
            }
            OutlierKind::ExtremeReturners => {
                "Return more units than 95% of customers, or half or more of what they buy"
            }
            OutlierKind::BulkBuyers => {
                "Order more units per order or per line, or more orders, than 95% of customers"
            }
            OutlierKind::OddTiming => {
                "Return much later or more irregularly than 95% of customers, or in unusual bursts"
            }
            OutlierKind::UnusualMix => {
                "No single extreme value: an unusual combination of ordinary ones"
            }
        }
    }

    /// The recommended action for this kind.
    pub fn action(self) -> &'static str {
        match self {
            OutlierKind::DataErrors => {
                "Check these orders in the source system and correct the extract before acting"
            }
            OutlierKind::ExtremeReturners => {
                "Review one by one: return-policy abuse and fraud checks, and the products they \
                 return"
            }
            OutlierKind::BulkBuyers => {
                "Treat as trade accounts: an account manager and return terms of their own"
            }
            OutlierKind::OddTiming => {
                "Check late and irregular returns against the return window and policy"
            }
            OutlierKind::UnusualMix => "No common cause: spot-check a few before any action",
        }
    }
}

/// Features whose values at or above the extreme percentile make a bulk buyer.
const BULK: [&str; 3] = ["avg_order_size", "sales_qty_mean", "sales_order_no_nunique"];
/// ... an odd timing.
const TIMING: [&str; 5] = [
    "avg_days_to_return",
    "return_timing_spread",
    "recent_vs_avg_ratio",
    "sku_adjacency_return_timing",
    "seasonal_susceptibility_returns",
];

/// The extreme threshold of each feature: its 95th percentile over all rows, raised to just above
/// the median when the two coincide; None without values.
fn extreme_thresholds(raw: &RawFeatures) -> Vec<Option<f64>> {
    (0..raw.names.len()).map(|j| extreme_threshold(raw.values.column(j).iter().copied())).collect()
}

/// The extreme threshold of one feature's values (see [`extreme_thresholds`]).
fn extreme_threshold(values: impl Iterator<Item = f64>) -> Option<f64> {
    let mut v: Vec<f64> = values.filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_unstable_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    let (median, high) = (at(0.5), at(EXTREME_PERCENTILE));
    Some(if high > median { high } else { median + 1e-9 * median.abs().max(1.0) })
}

/// Reads one customer's features by name.
struct Customer<'a> {
    raw: &'a RawFeatures,
    row: usize,
    thresholds: &'a [Option<f64>],
}

impl Customer<'_> {
    fn value(&self, feature: &str) -> Option<f64> {
        let j = self.raw.names.iter().position(|n| n == feature)?;
        Some(self.raw.values[[self.row, j]]).filter(|v| v.is_finite())
    }

    fn extreme(&self, feature: &str) -> bool {
        let Some(j) = self.raw.names.iter().position(|n| n == feature) else { return false };
        let v = self.raw.values[[self.row, j]];
        self.thresholds[j].is_some_and(|t| v.is_finite() && v >= t)
    }

    fn kind(&self, returned_units: f64, units_threshold: f64) -> OutlierKind {
        let above = |f: &str, limit: f64| self.value(f).is_some_and(|v| v > limit + 1e-9);
        let below = |f: &str, limit: f64| self.value(f).is_some_and(|v| v < limit);
        if above("return_ratio", 1.0)
            || above("return_intensity", 1.0)
            || below("avg_days_to_return", 0.0)
        {
            OutlierKind::DataErrors
        } else if (returned_units > 0.0 && returned_units >= units_threshold)
            || self.value("return_ratio").is_some_and(|r| r >= EXTREME_RETURN_RATIO)
            || self.extreme("items_returned_count")
        {
            OutlierKind::ExtremeReturners
        } else if BULK.iter().any(|f| self.extreme(f)) {
            OutlierKind::BulkBuyers
        } else if TIMING.iter().any(|f| self.extreme(f)) {
            OutlierKind::OddTiming
        } else {
            OutlierKind::UnusualMix
        }
    }
}

/// The kind of each outlier row. `returned_units[i]` are row i's returned units (all rows).
pub fn classify(raw: &RawFeatures, outliers: &[usize], returned_units: &[f64]) -> Vec<OutlierKind> {
    let thresholds = extreme_thresholds(raw);
    let units_threshold =
        extreme_threshold(returned_units.iter().copied()).unwrap_or(f64::INFINITY);
    outliers
        .iter()
        .map(|&row| {
            let customer = Customer { raw, row, thresholds: &thresholds };
            customer.kind(returned_units.get(row).copied().unwrap_or(0.0), units_threshold)
        })
        .collect()
}

/// The outliers grouped by kind, largest group first (empty kinds left out).
pub fn outlier_groups(
    raw: &RawFeatures,
    outliers: &[usize],
    returned_units: &[f64],
    total_returned: f64,
) -> Vec<OutlierGroup> {
    let kinds = classify(raw, outliers, returned_units);
    let mut groups: Vec<OutlierGroup> = OutlierKind::ALL
        .iter()
        .filter_map(|&kind| {
            let members: Vec<usize> =
                outliers.iter().zip(&kinds).filter(|(_, k)| **k == kind).map(|(r, _)| *r).collect();
            if members.is_empty() {
                return None;
            }
            let returned: f64 = members.iter().map(|&r| returned_units[r]).sum();
            Some(OutlierGroup {
                kind: kind.name().to_string(),
                customers: members.len(),
                share_of_outliers: members.len() as f64 / outliers.len() as f64,
                returned_units_share: if total_returned > 0.0 {
                    returned / total_returned
                } else {
                    0.0
                },
                description: kind.description().to_string(),
                action: kind.action().to_string(),
            })
        })
        .collect();
    // Largest first; the unusual mix (what no rule explains) last whatever its size.
    let mix = OutlierKind::UnusualMix.name();
    groups.sort_by_key(|g| (g.kind == mix, std::cmp::Reverse(g.customers)));
    groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    const NAMES: [&str; 5] = [
        "return_ratio",
        "avg_days_to_return",
        "avg_order_size",
        "sales_order_no_nunique",
        "return_timing_spread",
    ];

    /// 200 ordinary customers (return ratio 0.05, 10 days to return, 3 units per order, 4 orders,
    /// spread 2 days, 1 returned unit) then the given rows.
    fn population(extra: &[[f64; 5]], extra_units: &[f64]) -> (RawFeatures, Vec<f64>) {
        let n = 200 + extra.len();
        let values = Array2::from_shape_fn((n, 5), |(i, j)| {
            if i < 200 {
                [0.05, 10.0, 3.0, 4.0, 2.0][j] + (i % 7) as f64 * 0.01
            } else {
                extra[i - 200][j]
            }
        });
        let raw = RawFeatures {
            customer_ids: (0..n).map(|i| i.to_string()).collect(),
            names: NAMES.iter().map(|s| s.to_string()).collect(),
            values,
        };
        let mut units = vec![1.0; 200];
        units.extend_from_slice(extra_units);
        (raw, units)
    }

    #[test]
    fn each_outlier_gets_the_first_kind_whose_rule_it_meets() {
        let (raw, units) = population(
            &[
                [1.4, 10.0, 3.0, 4.0, 2.0],    // returned more than bought: data error
                [0.05, -3.0, 3.0, 4.0, 2.0],   // returned before the order: data error
                [0.05, 10.0, 3.0, 4.0, 2.0],   // 500 returned units: extreme returner
                [0.6, 10.0, 3.0, 4.0, 2.0],    // returns 60% of what they buy: extreme returner
                [0.05, 10.0, 400.0, 4.0, 2.0], // 400 units per order: bulk buyer
                [0.05, 10.0, 3.0, 90.0, 2.0],  // 90 orders: bulk buyer
                [0.05, 120.0, 3.0, 4.0, 2.0],  // 120 days to return: odd timing
                [0.07, 10.0, 3.0, 4.0, 2.0],   // nothing extreme: unusual mix
            ],
            &[5.0, 1.0, 500.0, 3.0, 1.0, 1.0, 1.0, 1.0],
        );
        let outliers: Vec<usize> = (200..208).collect();
        use OutlierKind::*;
        assert_eq!(
            classify(&raw, &outliers, &units),
            [
                DataErrors,
                DataErrors,
                ExtremeReturners,
                ExtremeReturners,
                BulkBuyers,
                BulkBuyers,
                OddTiming,
                UnusualMix
            ]
        );
        // Total returned units: 200 + 513 = 713; extreme returners hold 503 of them.
        let groups = outlier_groups(&raw, &outliers, &units, 713.0);
        let names: Vec<&str> = groups.iter().map(|g| g.kind.as_str()).collect();
        assert_eq!(
            names,
            [
                "Probable data errors",
                "Extreme returners",
                "Bulk buyers",
                "Odd timing",
                "Unusual mix"
            ]
        );
        let extreme = &groups[1];
        assert_eq!(extreme.customers, 2);
        assert!((extreme.share_of_outliers - 0.25).abs() < 1e-12);
        assert!((extreme.returned_units_share - 503.0 / 713.0).abs() < 1e-12);
        assert!(extreme.action.contains("fraud"));
        assert!(groups[2].action.contains("trade accounts"));
    }

    #[test]
    fn a_feature_that_is_zero_for_most_customers_does_not_make_everybody_extreme() {
        // 99% of the population has 0 on return_timing_spread: its threshold sits above 0.
        let (mut raw, units) = population(&[[0.05, 10.0, 3.0, 4.0, 0.0]], &[1.0]);
        raw.values.column_mut(4).fill(0.0);
        assert_eq!(classify(&raw, &[200], &units), [OutlierKind::UnusualMix]);
        assert!(outlier_groups(&raw, &[], &units, 201.0).is_empty());
    }
}
