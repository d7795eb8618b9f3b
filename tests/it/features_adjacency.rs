//! Adjacency features: the run-skipping window formulation against hand-worked cases.

use crate::common::*;

/// Customer d@x.com, class K, order times in days from 2024-03-01:
///   D1 d0 {X}, D2 d1 {X}, D3 d2 {X}, D4 d20 {Y}, D5 d21 {X returned 3 days later, Z}
/// An order qualifies for line (o, s) when it is another order holding a SKU other than s.
///   D1 X: nearest qualifying D4 at 20 days  -> not adjacent (> 14)
///   D2 X: D4 at 19 days -> no;  D3 X: D4 at 18 days -> no (D1, D2 hold only X)
///   D4 Y: D5 at 1 day (D3 at 18) -> adjacent, gap 1
///   D5 X: D4 at 1 day -> adjacent, gap 1;  D5 Z: D4 at 1 day -> adjacent, gap 1
/// -> adjacent orders {D4, D5} = 2, adjacent returned lines 1 (D5 X), mean gap 1 day,
///    mean days to return over returned adjacent lines 3.
/// Customer e@x.com: E1 d0 {X, class K}, E2 d14 exactly {Y, class K} -> both adjacent (<= 14),
/// gap 14. A third line E3 d14 with an empty SKU is never adjacent.
/// Customer f@x.com: F1 {X, K}, F2 {X, K} one day apart: same SKU -> nothing adjacent; F3 {Y, L}
/// (other class) -> nothing adjacent.
fn csv() -> String {
    let rows = [
        "D1,d@x.com,2024-03-01 00:00:00,X,1,0,No,,,,1,1,K,BR",
        "D2,d@x.com,2024-03-02 00:00:00,X,1,0,No,,,,1,1,K,BR",
        "D3,d@x.com,2024-03-03 00:00:00,X,1,0,No,,,,1,1,K,BR",
        "D4,d@x.com,2024-03-21 00:00:00,Y,1,0,No,,,,1,1,K,BR",
        "D5,d@x.com,2024-03-22 00:00:00,X,1,1,Yes,2024-03-25 00:00:00,R,,1,1,K,BR",
        "D5,d@x.com,2024-03-22 00:00:00,Z,1,0,No,,,,1,1,K,BR",
        "E1,e@x.com,2024-03-01 00:00:00,X,1,0,No,,,,1,1,K,BR",
        "E2,e@x.com,2024-03-15 00:00:00,Y,1,0,No,,,,1,1,K,BR",
        "E3,e@x.com,2024-03-15 00:00:00,,1,0,No,,,,1,1,K,BR",
        "F1,f@x.com,2024-03-01 00:00:00,X,1,0,No,,,,1,1,K,BR",
        "F2,f@x.com,2024-03-02 00:00:00,X,1,0,No,,,,1,1,K,BR",
        "F3,f@x.com,2024-03-02 00:00:00,Y,1,0,No,,,,1,1,L,BR",
    ];
    format!("{HEADER}\n{}\n", rows.join("\n"))
}

#[test]
fn adjacency_skips_runs_of_same_sku_orders() {
    let dir = tempfile::tempdir().unwrap();
    let a = run_to_features(dir.path(), &csv(), &small_config(Some("2024-04-01")));
    let (d, _) = silver_row(&a, "d@x.com");
    assert_features(
        &d,
        &[
            ("sku_adjacency_orders", Some(2.0)),
            ("sku_adjacency_returns", Some(1.0)),
            ("sku_adjacency_timing", Some(1.0)),
            ("sku_adjacency_return_timing", Some(3.0)),
        ],
        "D",
    );
    let (e, _) = silver_row(&a, "e@x.com");
    assert_features(
        &e,
        &[
            ("sku_adjacency_orders", Some(2.0)),
            ("sku_adjacency_returns", Some(0.0)),
            ("sku_adjacency_timing", Some(14.0)),
            ("sku_adjacency_return_timing", None),
        ],
        "E",
    );
    let (f, _) = silver_row(&a, "f@x.com");
    assert_features(
        &f,
        &[
            ("sku_adjacency_orders", Some(0.0)),
            ("sku_adjacency_returns", Some(0.0)),
            ("sku_adjacency_timing", None),
            ("sku_adjacency_return_timing", None),
        ],
        "F",
    );
}

#[test]
fn adjacency_window_is_configurable() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = small_config(Some("2024-04-01"));
    config.data.adjacency_window_days = 13.5;
    let a = run_to_features(dir.path(), &csv(), &config);
    let (e, _) = silver_row(&a, "e@x.com");
    // 14 days apart > 13.5 -> no adjacency for E.
    assert_features(
        &e,
        &[("sku_adjacency_orders", Some(0.0)), ("sku_adjacency_timing", None)],
        "E",
    );
}
