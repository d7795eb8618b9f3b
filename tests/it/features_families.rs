//! Silver features on a hand-made extract, every value computed by hand from FEATURES.md.
//!
//! as_of = 2024-06-30 00:00:00, W = 90 days, A = 14 days. Recent window: (2024-04-01, 2024-06-30].
//! Customers (after cleaning):
//!   A (a@x.com)  O1 2024-01-01 [S1 q2 r1 ret 01-11, C1] [S2 q1 r"abc"->0, C1]
//!                O2 3/1/2024   [S1 q1 r1 ret 03-04 12:00, C2]
//!                O3 2024-06-01T00:00 [S3 q3 r0, C2]
//!                O4 2024-06-20 [S3 q1 r1 no return date, C1]
//!   B (" B@X.com ", b@x.com, B@x.com: one customer)
//!                P1 2023-05-15 10:00 [S9 q1 r0, C3]   P2 same time [S9 q1 r3->1 ret 05-20 10:00, C3]
//!                P3 2024-06-30 00:00 (= as_of, in scope) [S8 q2, C1]   P4 2024-07-01 (after as_of)
//!   C (c@x.com)  Q1 2024-02-10 [S5 q1, C4, return date before order -> NULL] [S6 q1, no class]
//!                Q2 2024-02-12 [S7 q1, C4] (+ an exact duplicate row)
//! plus three rejected rows and one malformed row.

use crate::common::*;

pub fn scenario_csv() -> String {
    let rows = [
        "O1,a@x.com,2024-01-01 00:00:00.000,S1,2.0000,1.0000,Yes,2024-01-11 00:00:00.000,R1,,1,11,C1,BR",
        "O1,a@x.com,2024-01-01 00:00:00.000,S2,1.0000,abc,No,,,,1,12,C1,BR",
        "O2,a@x.com,3/1/2024 0:00,S1,1,1,Yes,2024-03-04 12:00:00,R2,too small,2,11,C2,BR",
        "O3,a@x.com,2024-06-01T00:00:00.000,S3,3,0,No,,,,2,13,C2,BR",
        "O4,a@x.com,2024-06-20,S3,1,1,Yes,,R3,,1,13,C1,BR",
        "P1,\" B@X.com \",2023-05-15 10:00:00,S9,1,0,No,,,,3,19,C3,BR",
        "P2,b@x.com,2023-05-15 10:00:00,S9,1,3,No,2023-05-20 10:00:00,R4,,3,19,C3,BR",
        "P3,B@x.com,2024-06-30 00:00:00,S8,2,0,maybe,,,,1,18,C1,BR",
        "P4,b@x.com,2024-07-01 00:00:00,S8,1,0,No,,,,1,18,C1,BR",
        "Q1,c@x.com,2024-02-10 00:00:00,S5,1,0,No,2024-01-01,,,4,15,C4,BR",
        "Q1,c@x.com,2024-02-10 00:00:00,S6,1,0,No,,,,4,16,,BR",
        "Q2,c@x.com,2024-02-12 00:00:00,S7,1,,No,,,,4,17,C4,BR",
        "Q2,c@x.com,2024-02-12 00:00:00,S7,1,,No,,,,4,17,C4,BR",
        "Q3,c@x.com,2024-02-30 00:00:00,S7,1,0,No,,,,4,17,C4,BR",
        "Q4,c@x.com,2024-02-13 00:00:00,S7,\"1,000\",0,No,,,,4,17,C4,BR",
        "Q5,,2024-02-13 00:00:00,S7,1,0,No,,,,4,17,C4,BR",
        "Q6,c@x.com,2024-02-13 00:00:00,S7",
    ];
    format!("{HEADER}\n{}\n", rows.join("\n"))
}

const AS_OF: &str = "2024-06-30 00:00:00";

#[test]
fn quality_counts_match_the_planted_cases() {
    let dir = tempfile::tempdir().unwrap();
    let a = run_to_features(dir.path(), &scenario_csv(), &small_config(Some(AS_OF)));
    let q = a.quality_report().unwrap().unwrap();
    // 16 well-formed rows; 3 rejected, 1 duplicate -> 12 clean lines; P4 after as_of.
    assert_eq!(q.rows_loaded, 16);
    assert_eq!(q.clean_lines, 12);
    for (name, want) in [
        ("rejected_bad_order_date", 1),    // Q3: 2024-02-30 is impossible
        ("rejected_bad_sales_qty", 1),     // Q4: "1,000" is not a number
        ("rejected_missing_key", 1),       // Q5: empty email
        ("duplicate_rows", 1),             // second Q2 row
        ("fixed_bad_return_qty", 1),       // A O1 S2: "abc"
        ("fixed_return_qty_over_sold", 1), // B P2: 3 returned of 1 sold
        ("flag_mismatch", 1),              // B P2: flag No, returned 1 ("maybe" never mismatches)
        ("fixed_invalid_return_date", 1),  // C Q1 S5: returned before ordered
        ("missing_return_date", 1),        // A O4
        ("missing_class", 1),              // C Q1 S6
        ("malformed_rows", 1),             // Q6: 4 fields
        ("after_as_of", 1),                // B P4
    ] {
        assert_eq!(q.count(name), want, "{name}");
    }
    assert_eq!(q.customers, 3);
    assert_eq!(q.eligible_customers, 3);
    assert_eq!(q.as_of.as_deref(), Some(AS_OF));
    // Rejected rows stay in bronze with their reason.
    assert_eq!(
        scalar(&a, "SELECT count(*) FROM bronze_return_order_data WHERE reject_reason IS NOT NULL"),
        3
    );
    assert_eq!(scalar(&a, "SELECT count(*) FROM bronze_rejects_malformed"), 1);
}

#[test]
fn volume_and_return_behaviour() {
    let dir = tempfile::tempdir().unwrap();
    let a = run_to_features(dir.path(), &scenario_csv(), &small_config(Some(AS_OF)));
    let (row, _) = silver_row(&a, "a@x.com");
    // A: 4 orders, 5 lines, units 2+1+1+3+1 = 8, returned lines L1, L3, L5 (1 unit each).
    assert_features(
        &row,
        &[
            ("sales_order_no_nunique", Some(4.0)),
            ("sku_nunique", Some(3.0)),            // S1, S2, S3
            ("items_returned_count", Some(3.0)),   // 1 + 1 + 1
            ("sales_qty_mean", Some(1.6)),         // 8 / 5
            ("avg_order_size", Some(2.0)),         // 8 / 4
            ("return_rate", Some(0.6)),            // 3 / 5
            ("return_ratio", Some(0.375)),         // 3 / 8
            ("return_product_variety", Some(2.0)), // S1, S3
            ("avg_returns_per_order", Some(0.75)), // 3 / 4
            ("return_frequency_ratio", Some(0.5)), // dates 01-11, 03-04 -> 2 / 4
            ("return_intensity", Some(0.75)),      // (1+1+1) / (2+1+1)
            ("consecutive_returns", Some(2.0)),    // O1 O2 returning, O3 not, O4 -> runs [2, 1]
            ("avg_consecutive_returns", Some(1.5)),
        ],
        "A",
    );
    let (row, _) = silver_row(&a, "b@x.com");
    // B: P1, P2 (same time: ranked by order number), P3; P4 is after as_of.
    assert_features(
        &row,
        &[
            ("sales_order_no_nunique", Some(3.0)),
            ("sku_nunique", Some(2.0)),
            ("items_returned_count", Some(1.0)), // 3 clipped to the 1 sold
            ("sales_qty_mean", Some(4.0 / 3.0)),
            ("avg_order_size", Some(4.0 / 3.0)),
            ("return_rate", Some(1.0 / 3.0)),
            ("return_ratio", Some(0.25)),
            ("return_intensity", Some(1.0)),
            ("consecutive_returns", Some(1.0)), // P1 no, P2 yes, P3 no
            ("avg_consecutive_returns", Some(1.0)),
        ],
        "B",
    );
    let (row, _) = silver_row(&a, "c@x.com");
    // C: no returns: 0 where FEATURES.md says 0, NULL where it says NULL.
    assert_features(
        &row,
        &[
            ("sales_order_no_nunique", Some(2.0)),
            ("sku_nunique", Some(3.0)),
            ("items_returned_count", Some(0.0)),
            ("return_rate", Some(0.0)),
            ("return_product_variety", Some(0.0)),
            ("return_frequency_ratio", Some(0.0)),
            ("return_intensity", None),
            ("consecutive_returns", Some(0.0)),
            ("avg_consecutive_returns", Some(0.0)),
        ],
        "C",
    );
}

#[test]
fn temporal_and_recency() {
    let dir = tempfile::tempdir().unwrap();
    let a = run_to_features(dir.path(), &scenario_csv(), &small_config(Some(AS_OF)));
    let (row, stage) = silver_row(&a, "a@x.com");
    // A: first order 2024-01-01 -> as_of: 31+29+31+30+31+29 = 181 days (Mature).
    // Returns: L1 10 days, L3 3.5 days -> mean 6.75, sample std |10-3.5|/sqrt(2) = 4.5961941.
    // Recent orders: O3 (06-01), O4 (06-20); recent returns: none (O4's return has no date).
    // recent_vs_avg_ratio: (0 / 90) / (2 / max(181, 90)) = 0.
    // Stability: m = 2024-03-26 12:00; first half O1, O2: 2 of 3 lines returned; second O3, O4:
    // 1 of 2 -> 1 - |2/3 - 1/2| = 5/6.
    assert_features(
        &row,
        &[
            ("customer_lifetime_days", Some(181.0)),
            ("avg_days_to_return", Some(6.75)),
            ("return_timing_spread", Some(6.5 / 2f64.sqrt())),
            ("days_since_last_order", Some(10.0)),
            ("recent_orders", Some(2.0)),
            ("recent_returns", Some(0.0)),
            ("recent_vs_avg_ratio", Some(0.0)),
            ("behavior_stability_score", Some(5.0 / 6.0)),
        ],
        "A",
    );
    assert_eq!(stage, "Mature");
    let (row, stage) = silver_row(&a, "b@x.com");
    // B: 2023-05-15 10:00 -> 2024-05-15 10:00 is 366 days, then 45 days 14 h -> 411.583333.
    // P3 at exactly as_of is recent (window is (as_of - W, as_of]). One return, 5 days after.
    // Stability: P1, P2 in the first half (1 of 2 returned), P3 in the second (0 of 1) -> 0.5.
    assert_features(
        &row,
        &[
            ("customer_lifetime_days", Some(366.0 + 45.0 + 14.0 / 24.0)),
            ("avg_days_to_return", Some(5.0)),
            ("return_timing_spread", None), // one value
            ("days_since_last_order", Some(0.0)),
            ("recent_orders", Some(1.0)),
            ("recent_returns", Some(0.0)),
            ("recent_vs_avg_ratio", Some(0.0)),
            ("behavior_stability_score", Some(0.5)),
        ],
        "B",
    );
    assert_eq!(stage, "Veteran");
    let (row, stage) = silver_row(&a, "c@x.com");
    // C: 2024-02-10 -> 06-30 = 19+31+30+31+30 = 141 days; last order 02-12 -> 139 days.
    // No returns: timing NULL, recent_vs_avg_ratio NULL (R = 0). Stability: m = 02-11; both
    // halves return nothing -> 1.
    assert_features(
        &row,
        &[
            ("customer_lifetime_days", Some(141.0)),
            ("days_since_last_order", Some(139.0)),
            ("avg_days_to_return", None),
            ("return_timing_spread", None),
            ("recent_orders", Some(0.0)),
            ("recent_vs_avg_ratio", None),
            ("behavior_stability_score", Some(1.0)),
        ],
        "C",
    );
    assert_eq!(stage, "Growing");
}

#[test]
fn category_seasonal_and_trend() {
    let dir = tempfile::tempdir().unwrap();
    let a = run_to_features(dir.path(), &scenario_csv(), &small_config(Some(AS_OF)));
    // Classes over clean in-scope lines: C1 {A L1 r, A L2, A L5 r, B P3} rate 2/4; C2 {A L3 r, A L4}
    // 1/2; C3 {B P1, B P2 r} 1/2; C4 {C Q1 S5, C Q2} 0. Rates sorted [0, .5, .5, .5]: p75 at
    // position 2.25 -> 0.5; classes with rate >= 0.5 (ties included) are high-return: C1, C2, C3.
    // M_total: 2023-05 .. 2024-06 = 14 months.
    let (row, _) = silver_row(&a, "a@x.com");
    // A: classes C1 (3 lines), C2 (2) of 4 -> diversity 0.5; loyalty (3/5)^2 + (2/5)^2 = 0.52;
    // affinity 5/5. Lifetime 181 < 365 -> seasonal NULL.
    // Trend: (C1, 2024-01) others 0 lines, others in C1 = 1 -> index 0 (2 lines);
    // (C1, 2024-06) others 1 (B P3) -> 1 / (1/14) = 14 (1 line); C2 cells: no other customer
    // in C2 -> undefined. Mean (0*2 + 14) / 3 = 14/3. Return trend: (C1, 2024-06) others'
    // class rate 0/1 = 0 -> excluded; nothing else defined -> NULL.
    assert_features(
        &row,
        &[
            ("category_diversity_score", Some(0.5)),
            ("category_loyalty_score", Some(0.52)),
            ("high_return_category_affinity", Some(1.0)),
            ("seasonal_susceptibility_orders", None),
            ("seasonal_susceptibility_returns", None),
            ("trend_product_category_order_rate", Some(14.0 / 3.0)),
            ("trend_product_category_return_rate", None),
        ],
        "A",
    );
    let (row, _) = silver_row(&a, "b@x.com");
    // B: classes C3 (2), C1 (1) -> diversity 2/4, loyalty (2/3)^2 + (1/3)^2 = 5/9, affinity 1.
    // Seasonal (lifetime >= 365): lines by order month May, May, June -> [0, 2, 1, 0], mean 0.75,
    // population std sqrt(2.75/4) = 0.8291562 -> 1.1055416. Returns with a date: 1 (< 2) -> NULL.
    // Trend: (C1, 2024-06) others 1 line (A L5), others in C1 = 3 -> 1 / (3/14) = 14/3;
    // return: others' cell rate 1/1, others' class rate 2/3 -> 1.5. (C3 cells: no others.)
    assert_features(
        &row,
        &[
            ("category_diversity_score", Some(0.5)),
            ("category_loyalty_score", Some(5.0 / 9.0)),
            ("high_return_category_affinity", Some(1.0)),
            ("seasonal_susceptibility_orders", Some((2.75f64 / 4.0).sqrt() / 0.75)),
            ("seasonal_susceptibility_returns", None),
            ("trend_product_category_order_rate", Some(14.0 / 3.0)),
            ("trend_product_category_return_rate", Some(1.5)),
        ],
        "B",
    );
    // C: C4 only (the S6 line has no class) -> diversity 1/4, loyalty 1, affinity 0/2 = 0.
    // Adjacency: Q1 S5 and Q2 S7 share C4, differ in SKU and order, 2 days apart.
    let (row, _) = silver_row(&a, "c@x.com");
    assert_features(
        &row,
        &[
            ("category_diversity_score", Some(0.25)),
            ("category_loyalty_score", Some(1.0)),
            ("high_return_category_affinity", Some(0.0)),
            ("trend_product_category_order_rate", None),
            ("trend_product_category_return_rate", None),
            ("sku_adjacency_orders", Some(2.0)),
            ("sku_adjacency_returns", Some(0.0)),
            ("sku_adjacency_timing", Some(2.0)),
            ("sku_adjacency_return_timing", None),
        ],
        "C",
    );
}

#[test]
fn as_of_defaults_to_the_latest_clean_order() {
    let dir = tempfile::tempdir().unwrap();
    let a = run_to_features(dir.path(), &scenario_csv(), &small_config(None));
    let q = a.quality_report().unwrap().unwrap();
    assert_eq!(q.as_of.as_deref(), Some("2024-07-01 00:00:00"));
    assert_eq!(q.count("after_as_of"), 0);
    let (row, _) = silver_row(&a, "b@x.com");
    assert_features(&row, &[("sales_order_no_nunique", Some(4.0))], "B");
}

#[test]
fn a_customer_with_no_class_and_one_order() {
    let dir = tempfile::tempdir().unwrap();
    let csv = format!(
        "{HEADER}\nX1,solo@x.com,2024-01-01 00:00:00,S1,1,0,No,,,,1,1,,BR\nX2,two@x.com,2024-01-01,S1,1,0,No,,,,1,1,K,BR\nX3,two@x.com,2024-01-05,S2,1,0,No,,,,1,1,K,BR\n"
    );
    let a = run_to_features(dir.path(), &csv, &small_config(Some("2024-02-01")));
    let (row, _) = silver_row(&a, "solo@x.com");
    // One order: the second half is empty -> stability NULL; no class -> diversity 0, loyalty and
    // affinity NULL; no returns -> recent_vs_avg_ratio NULL.
    assert_features(
        &row,
        &[
            ("sales_order_no_nunique", Some(1.0)),
            ("behavior_stability_score", None),
            ("category_diversity_score", Some(0.0)),
            ("category_loyalty_score", None),
            ("high_return_category_affinity", None),
            ("recent_vs_avg_ratio", None),
            ("customer_lifetime_days", Some(31.0)),
        ],
        "solo",
    );
    let eligible = scalar(&a, "SELECT count(*) FROM silver_customer_features WHERE eligible");
    assert_eq!(eligible, 1, "only two@x.com has 2 orders");
}
