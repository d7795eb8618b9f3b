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

/// One generated order line: (order, order time in hours from 2024-01-01, class, SKU, days to
/// return if returned with a known date / returned without one).
struct GenLine {
    order: String,
    hours: i64,
    class: Option<&'static str>,
    sku: Option<&'static str>,
    returned: bool,
    return_days: Option<i64>,
}

/// `2024-01-01 00:00:00` plus `hours`, as an ORDER_DATE / RETURN_DATE value (days 0..90).
fn timestamp(hours: i64) -> String {
    let (day, hour) = (hours / 24, hours % 24);
    let (month, day_of_month) = match day {
        0..=30 => (1, day + 1),
        31..=59 => (2, day - 30),
        _ => (3, day - 59),
    };
    format!("2024-{month:02}-{day_of_month:02} {hour:02}:00:00")
}

/// Lines of a few customers with many orders close together, few SKUs (so runs of orders that
/// hold only one SKU are common), ties in order time, empty classes and SKUs.
fn generated_lines(seed: u64) -> Vec<(String, Vec<GenLine>)> {
    let mut state = seed;
    let mut next = move |n: u64| {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 33) % n
    };
    let classes = [Some("K"), Some("K"), Some("L"), None];
    let skus = [Some("X"), Some("X"), Some("X"), Some("Y"), Some("Z"), None];
    (0..6)
        .map(|c| {
            let mut lines = Vec::new();
            for o in 0..14 {
                let hours = next(45) as i64 * 24 + next(3) as i64 * 12;
                for _ in 0..1 + next(3) {
                    let returned = next(10) < 3;
                    lines.push(GenLine {
                        order: format!("C{c}O{o}"),
                        hours,
                        class: classes[next(4) as usize],
                        sku: skus[next(6) as usize],
                        returned,
                        return_days: (returned && next(4) > 0).then(|| next(10) as i64),
                    });
                }
            }
            (format!("c{c}@x.com"), lines)
        })
        .collect()
}

/// FEATURES.md's definition enumerated over every pair of lines: (adjacent orders, returned
/// adjacent lines, mean smallest gap in days, mean days to return of returned adjacent lines).
fn brute_force_adjacency(
    lines: &[GenLine],
    window_hours: i64,
) -> (f64, f64, Option<f64>, Option<f64>) {
    let mut orders = std::collections::BTreeSet::new();
    let (mut returns, mut gaps, mut return_days) = (0.0, Vec::new(), Vec::new());
    for l in lines {
        let (Some(class), Some(sku)) = (l.class, l.sku) else { continue };
        let gap = lines
            .iter()
            .filter(|m| m.order != l.order && m.class == Some(class))
            .filter(|m| m.sku.is_some_and(|s| s != sku))
            .map(|m| (m.hours - l.hours).abs())
            .filter(|&g| g <= window_hours)
            .min();
        if let Some(gap) = gap {
            orders.insert(l.order.clone());
            gaps.push(gap as f64 / 24.0);
            if l.returned {
                returns += 1.0;
                return_days.extend(l.return_days.map(|d| d as f64));
            }
        }
    }
    let mean = |v: &[f64]| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
    (orders.len() as f64, returns, mean(&gaps), mean(&return_days))
}

#[test]
fn adjacency_equals_the_pairwise_definition_on_generated_orders() {
    for seed in [1, 2, 3] {
        let customers = generated_lines(seed);
        let mut rows = Vec::new();
        for (customer, lines) in &customers {
            for (i, l) in lines.iter().enumerate() {
                let (qty, flag) = if l.returned { (1, "Yes") } else { (0, "No") };
                let return_date =
                    l.return_days.map(|d| timestamp(l.hours + d * 24)).unwrap_or_default();
                rows.push(format!(
                    // Q_SKU_ID = i keeps equal lines from being dropped as duplicate rows.
                    "{},{customer},{},{},1,{qty},{flag},{return_date},,,1,{i},{},BR",
                    l.order,
                    timestamp(l.hours),
                    l.sku.unwrap_or(""),
                    l.class.unwrap_or("")
                ));
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let csv = format!("{HEADER}\n{}\n", rows.join("\n"));
        let a = run_to_features(dir.path(), &csv, &small_config(Some("2024-04-30")));
        for (customer, lines) in &customers {
            let (orders, returns, timing, return_timing) = brute_force_adjacency(lines, 14 * 24);
            let (row, _) = silver_row(&a, customer);
            assert_features(
                &row,
                &[
                    ("sku_adjacency_orders", Some(orders)),
                    ("sku_adjacency_returns", Some(returns)),
                    ("sku_adjacency_timing", timing),
                    ("sku_adjacency_return_timing", return_timing),
                ],
                &format!("seed {seed}, {customer}"),
            );
        }
    }
}
