//! Naming on planted segment statistics: each planted group gets its name, names stay unique,
//! conditions veto names the medians alone would give, robust z and ratios by hand.

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
    assert!(high.description.starts_with("Return "), "{}", high.description);
    assert_eq!(high.reasons.len(), 2, "units per customer and share of units returned");
    for p in &profiles {
        assert!(!p.description.contains('_'), "a column name in {:?}", p.description);
    }
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
    let (raw, segment, is_outlier) =
        planted(&[HIGH_RETURNERS, HIGH_RETURNERS, HIGH_RETURNERS, LOYAL, NEW, VETERAN], 40, 0);
    let profiles = profile_segments(&raw, &segment, &is_outlier);
    let mut names: Vec<&str> = names_of(&profiles);
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), 6, "{:?}", names_of(&profiles));
    assert_eq!(profiles.iter().filter(|p| p.base_archetype == Archetype::HighReturners).count(), 3);
}

#[test]
fn missing_features_do_not_score_and_flat_segments_are_regular() {
    let (mut raw, segment, is_outlier) = planted(&[HIGH_RETURNERS, NEW, VETERAN], 50, 0);
    // Without the share of units returned and recent orders, New Customers and Veteran Shoppers
    // are named from what is present; the claim "High Returners" cannot be checked (no share of
    // units returned, no returned units), so that segment does not carry it.
    let keep: Vec<usize> = (0..NAMES.len()).filter(|&j| j != 4 && j != 8).collect();
    raw.values = raw.values.select(ndarray::Axis(1), &keep);
    raw.names = keep.iter().map(|&j| NAMES[j].to_string()).collect();
    let profiles = profile_segments(&raw, &segment, &is_outlier);
    assert_eq!(names_of(&profiles)[1..], ["New Customers", "Veteran Shoppers"]);
    assert!(!profiles[0].archetype.starts_with("High Returners"), "{}", profiles[0].archetype);
    assert_ne!(profiles[0].base_archetype, Archetype::HighReturners);
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

#[test]
fn a_segment_that_returns_a_large_share_of_few_units_is_not_high_returners() {
    // Returns half of what it buys, but buys 2 orders of 1 unit: 1 returned unit per customer,
    // against 32 x 0.05 = 1.6 (loyal), 8 x 0.17 = 1.36 (veteran), 6 x 0.1 = 0.6 (new): 0.88x the
    // segmented customers' returned units per customer, below 1.25x.
    let mut small = HIGH_RETURNERS;
    small[0] = 2.0;
    small[1] = 1.0;
    let (raw, segment, is_outlier) = planted(&[small, LOYAL, VETERAN, NEW], 100, 0);
    let profiles = profile_segments(&raw, &segment, &is_outlier);
    assert!(!profiles[0].archetype.starts_with("High Returners"), "{:?}", names_of(&profiles));
    assert!(profiles[0].archetype.contains("high returns"), "{}", profiles[0].archetype);
    assert!(profiles[0].reasons.is_empty());
    // Its shares: 100 of 400 customers; returned units 100 x 1 of 100 x (1 + 1.6 + 1.36 + 0.6),
    // up to the fixture's +-10% wiggle.
    assert!((profiles[0].share - 0.25).abs() < 1e-12);
    assert!((profiles[0].returned_units_share - 1.0 / 4.56).abs() < 0.02);
    // Every name passes its own conditions.
    for p in &profiles[1..] {
        assert!(!p.reasons.is_empty(), "{} has no reasons", p.archetype);
    }
}

#[test]
fn the_outliers_are_described_by_kind_with_an_action_per_kind() {
    let (raw, segment, is_outlier) =
        planted(&[NEW, FREQUENT, HIGH_RETURNERS, VETERAN, LOYAL], 100, 10);
    let profiles = profile_segments(&raw, &segment, &is_outlier);
    let outliers = profiles.last().unwrap();
    assert_eq!(outliers.segment, None);
    // The planted outliers return every unit they buy (return ratio 1.0 with the +-10% wiggle:
    // those above 1 are impossible values).
    let total: usize = outliers.outlier_groups.iter().map(|g| g.customers).sum();
    assert_eq!(total, 10);
    assert!(outliers.outlier_groups.iter().all(|g| !g.action.is_empty()));
    assert!(outliers.description.starts_with("Set aside as unusual: "), "{}", outliers.description);
    // 10 outliers of 2,400 units bought each return most of all returned units.
    assert!(outliers.returned_units_share > 0.5, "{}", outliers.returned_units_share);
    let shares: f64 = profiles.iter().map(|p| p.returned_units_share).sum();
    assert!((shares - 1.0).abs() < 1e-9);
    let orders: f64 = profiles.iter().map(|p| p.order_share).sum();
    assert!((orders - 1.0).abs() < 1e-9);
}
