//! Business words for the features: a short phrase per feature ("share of units returned",
//! "days since the first order"), values written in their unit (a share as a percentage, days as
//! whole days), and the phrases and qualifiers segment descriptions are built from. No text made
//! here carries an internal column name: an unknown feature is spelled out in words.

use super::FeatureContrast;

/// How a feature's values read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// 0..=1, written as a percentage.
    Share,
    Days,
    /// Whole things (orders, units, products): no decimals above 10.
    Count,
    /// A plain number (ratios, scores, means of counts).
    Number,
    /// Money, in the input's currency.
    Value,
}

/// (feature, business phrase, unit) for every FEATURES.md feature and the order-value ones.
const PHRASES: &[(&str, &str, Unit)] = &[
    ("sales_order_no_nunique", "orders", Unit::Count),
    ("sku_nunique", "different products bought", Unit::Count),
    ("items_returned_count", "units returned", Unit::Count),
    ("sales_qty_mean", "units per order line", Unit::Number),
    ("avg_order_size", "units per order", Unit::Number),
    ("return_rate", "share of order lines returned", Unit::Share),
    ("return_ratio", "share of purchased units returned", Unit::Share),
    ("return_product_variety", "different products returned", Unit::Count),
    ("avg_returns_per_order", "returned lines per order", Unit::Number),
    ("return_frequency_ratio", "return trips per order", Unit::Number),
    ("return_intensity", "share of a returned line sent back", Unit::Share),
    ("consecutive_returns", "longest run of orders with a return", Unit::Count),
    ("avg_consecutive_returns", "typical run of orders with a return", Unit::Number),
    ("customer_lifetime_days", "days since the first order", Unit::Days),
    ("avg_days_to_return", "days to return an item", Unit::Days),
    ("return_timing_spread", "spread of the days to return", Unit::Days),
    ("days_since_last_order", "days since the last order", Unit::Days),
    ("recent_orders", "orders in the recency window", Unit::Count),
    ("recent_returns", "returned lines in the recency window", Unit::Count),
    ("recent_vs_avg_ratio", "recent return pace against their usual pace", Unit::Number),
    ("behavior_stability_score", "steadiness of the return habit (1 = steady)", Unit::Number),
    ("category_diversity_score", "share of all product categories bought", Unit::Share),
    ("category_loyalty_score", "concentration on one category (1 = one only)", Unit::Number),
    ("high_return_category_affinity", "share of lines in high-return categories", Unit::Share),
    ("sku_adjacency_orders", "orders with related items bought close together", Unit::Count),
    ("sku_adjacency_returns", "related items bought close together and returned", Unit::Count),
    ("sku_adjacency_timing", "days between related purchases", Unit::Days),
    ("sku_adjacency_return_timing", "days to return a related item", Unit::Days),
    ("seasonal_susceptibility_orders", "how seasonal the orders are", Unit::Number),
    ("seasonal_susceptibility_returns", "how seasonal the returns are", Unit::Number),
    ("trend_product_category_order_rate", "buying in a category's busy months", Unit::Number),
    (
        "trend_product_category_return_rate",
        "buying in a category's high-return months",
        Unit::Number,
    ),
    ("avg_order_value", "order value", Unit::Value),
    ("avg_return_value", "value of a returned unit", Unit::Value),
];

fn entry(feature: &str) -> Option<&'static (&'static str, &'static str, Unit)> {
    PHRASES.iter().find(|(f, _, _)| *f == feature)
}

/// The business phrase of a feature, lower case ("share of purchased units returned"); an unknown
/// feature spelled out in words.
pub fn feature_phrase(feature: &str) -> String {
    entry(feature).map_or_else(|| feature.replace('_', " "), |(_, phrase, _)| phrase.to_string())
}

/// The business phrase with a capital, for headers and labels ("Share of purchased units
/// returned").
pub fn feature_label(feature: &str) -> String {
    capitalise(&feature_phrase(feature))
}

/// How the feature's values read.
pub fn feature_unit(feature: &str) -> Unit {
    entry(feature).map_or(Unit::Number, |(_, _, unit)| *unit)
}

/// A value of `feature` in its unit: "24%", "31 days", "12", "2.4".
pub fn format_feature_value(feature: &str, value: f64) -> String {
    if !value.is_finite() {
        return "—".to_string();
    }
    match feature_unit(feature) {
        Unit::Share => percent(value),
        Unit::Days => format!("{value:.0} days"),
        Unit::Count if value.abs() >= 10.0 || value.fract() == 0.0 => format!("{value:.0}"),
        Unit::Count => format!("{value:.1}"),
        Unit::Number | Unit::Value => number(value),
    }
}

/// A share (0..=1) as a percentage with one decimal below 10%: "4.2%", "38%".
pub fn percent(share: f64) -> String {
    let p = 100.0 * share;
    if p.abs() < 10.0 && p != 0.0 { format!("{p:.1}%") } else { format!("{p:.0}%") }
}

/// A number with sensible precision: 2 decimals below 10, 1 below 100, none above.
pub fn number(value: f64) -> String {
    match value.abs() {
        v if v >= 100.0 => format!("{value:.0}"),
        v if v >= 10.0 => format!("{value:.1}"),
        _ => format!("{value:.2}"),
    }
}

/// "Share of purchased units returned: 24% (all customers 6%)".
pub fn contrast_phrase(c: &FeatureContrast) -> String {
    format!(
        "{}: {} (all customers {})",
        feature_label(&c.feature),
        format_feature_value(&c.feature, c.median),
        format_feature_value(&c.feature, c.population_median)
    )
}

/// A short qualifier for a feature that stands out in direction `sign(z)` ("many orders",
/// "lapsed"); an unknown feature as "high ..." / "low ..." in words.
pub fn qualifier(feature: &str, z: f64) -> String {
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
        "return_frequency_ratio" => ("frequent return trips", "rare return trips"),
        "return_product_variety" => ("return many products", "return few products"),
        "consecutive_returns" | "avg_consecutive_returns" => {
            ("return in streaks", "no return streaks")
        }
        "return_timing_spread" => ("irregular return timing", "regular return timing"),
        "recent_returns" => ("returning lately", "no recent returns"),
        "recent_vs_avg_ratio" => ("returning more lately", "returning less lately"),
        "behavior_stability_score" => ("steady habits", "changing habits"),
        "seasonal_susceptibility_orders" => ("seasonal buyers", "year-round buyers"),
        "seasonal_susceptibility_returns" => ("seasonal returns", "year-round returns"),
        "trend_product_category_order_rate" => ("buy in peak months", "buy off-peak"),
        "trend_product_category_return_rate" => {
            ("buy in high-return months", "buy in low-return months")
        }
        "sku_adjacency_orders" | "sku_adjacency_returns" => {
            ("buy related items together", "single items")
        }
        "sku_adjacency_timing" | "sku_adjacency_return_timing" => {
            ("spread-out related buys", "related buys close together")
        }
        "avg_order_value" => ("high order value", "low order value"),
        "avg_return_value" => ("return costly items", "return cheap items"),
        _ => return format!("{} {}", if up { "high" } else { "low" }, feature_phrase(feature)),
    };
    (if up { pair.0 } else { pair.1 }).to_string()
}

/// The first letter in upper case.
pub fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or(String::new(), |first| first.to_uppercase().chain(chars).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_feature_reads_in_business_words() {
        for feature in crate::pipeline::features::key_features() {
            let phrase = feature_phrase(feature);
            assert!(!phrase.contains('_'), "{feature}: {phrase}");
            assert_ne!(phrase, feature.replace('_', " "), "{feature} has no phrase of its own");
        }
        assert_eq!(feature_label("return_ratio"), "Share of purchased units returned");
        assert_eq!(feature_phrase("some_new_column"), "some new column");
    }

    #[test]
    fn values_read_in_their_unit() {
        assert_eq!(format_feature_value("return_ratio", 0.243), "24%");
        assert_eq!(format_feature_value("return_ratio", 0.042), "4.2%");
        assert_eq!(format_feature_value("return_ratio", 0.0), "0%");
        assert_eq!(format_feature_value("days_since_last_order", 97.6), "98 days");
        assert_eq!(format_feature_value("sales_order_no_nunique", 12.0), "12");
        assert_eq!(format_feature_value("sales_order_no_nunique", 3.5), "3.5");
        assert_eq!(format_feature_value("avg_order_size", 152.4), "152");
        assert_eq!(format_feature_value("avg_order_size", f64::NAN), "—");
    }

    #[test]
    fn a_contrast_reads_as_a_sentence_without_column_names() {
        let c = FeatureContrast {
            feature: "avg_days_to_return".into(),
            median: 4.2,
            population_median: 17.0,
            mean: 5.0,
            population_mean: 18.0,
            defined_share: 1.0,
            robust_z: -2.0,
            ratio: Some(5.0 / 18.0),
        };
        assert_eq!(contrast_phrase(&c), "Days to return an item: 4 days (all customers 17 days)");
        assert_eq!(qualifier("avg_days_to_return", -2.0), "fast returns");
        assert_eq!(qualifier("recent_returns", 1.0), "returning lately");
        assert_eq!(qualifier("new_column", -1.0), "low new column");
    }
}
