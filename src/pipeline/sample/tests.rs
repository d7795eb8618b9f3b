//! Tests of the generator: determinism, format, truth file, exact dirt counts (against an
//! independent re-implementation of the cleaning table) and separable archetypes.

use super::*;
use crate::pipeline::archetypes::{SegmentProfile, profile_segments};
use crate::pipeline::model::RawFeatures;
use ndarray::Array2;
use std::collections::{HashMap, HashSet};

fn generate(
    dir: &Path,
    name: &str,
    customers: usize,
    seed: u64,
    clean: bool,
) -> (SampleSummary, String) {
    let path = dir.join(name);
    let summary = write_sample(&path, &SampleOptions { customers, seed, clean }).unwrap();
    (summary, std::fs::read_to_string(&path).unwrap())
}

/// Split one CSV line (RFC 4180 quotes).
fn split_csv(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                fields.last_mut().unwrap().push('"');
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(String::new()),
            _ => fields.last_mut().unwrap().push(c),
        }
    }
    fields
}

/// Parse the timestamp forms of FEATURES.md (seconds since 1970); None when unparseable.
fn parse_ts(text: &str) -> Option<i64> {
    let valid = |y: i64, m: u32, d: u32| {
        (1..=12).contains(&m)
            && d >= 1
            && calendar::civil_from_days(calendar::days_from_civil(y, m, d)) == (y, m, d)
    };
    let num = |s: &str| -> Option<u32> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok()).flatten()
    };
    let time = |s: Option<&str>| -> Option<u32> {
        let Some(s) = s else { return Some(0) };
        let s = s.split('.').next()?;
        let parts: Vec<&str> = s.split(':').collect();
        let (h, m) = (num(parts.first()?)?, num(parts.get(1)?)?);
        let sec = parts.get(2).map_or(Some(0), |p| num(p))?;
        (h < 24 && m < 60 && sec < 60).then_some(h * 3600 + m * 60 + sec)
    };
    let (date, rest) = match text.find([' ', 'T']) {
        Some(i) => (&text[..i], Some(&text[i + 1..])),
        None => (text, None),
    };
    let (y, m, d) = if date.contains('/') {
        let p: Vec<&str> = date.split('/').collect();
        (i64::from(num(p.get(2)?)?), num(p.first()?)?, num(p.get(1)?)?)
    } else {
        let p: Vec<&str> = date.split('-').collect();
        (i64::from(num(p.first()?)?), num(p.get(1)?)?, num(p.get(2)?)?)
    };
    valid(y, m, d).then_some(())?;
    Some(calendar::days_from_civil(y, m, d) * DAY + i64::from(time(rest)?))
}

fn parse_number(text: &str) -> Option<f64> {
    let plain =
        !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b));
    if plain { text.parse().ok() } else { None }
}

/// FEATURES.md's cleaning table, applied independently of the generator: the counts it finds.
fn count_dirt(csv: &str) -> BTreeMap<String, u64> {
    let mut counts: BTreeMap<String, u64> =
        QUALITY_NAMES.iter().map(|n| (n.to_string(), 0)).collect();
    let mut bump = |name: &str| *counts.get_mut(name).unwrap() += 1;
    let mut seen = HashSet::new();
    for line in csv.lines().skip(1) {
        let f: Vec<String> = split_csv(line).into_iter().map(|s| s.trim().to_string()).collect();
        if f.len() != 22 {
            bump("malformed_rows");
            continue;
        }
        let Some(ordered) = parse_ts(&f[2]) else {
            bump("rejected_bad_order_date");
            continue;
        };
        let Some(sold) = parse_number(&f[4]).filter(|q| *q > 0.0) else {
            bump("rejected_bad_sales_qty");
            continue;
        };
        if f[0].is_empty() || f[1].is_empty() {
            bump("rejected_missing_key");
            continue;
        }
        if !seen.insert(line.to_string()) {
            bump("duplicate_rows");
            continue;
        }
        let mut returned = if f[5].is_empty() { 0.0 } else { parse_number(&f[5]).unwrap_or(-1.0) };
        if returned < 0.0 {
            bump("fixed_bad_return_qty");
            returned = 0.0;
        } else if returned > sold {
            bump("fixed_return_qty_over_sold");
            returned = sold;
        }
        let flag = match f[6].to_ascii_lowercase().as_str() {
            "yes" | "y" | "true" | "1" => Some(true),
            "no" | "n" | "false" | "0" => Some(false),
            _ => None,
        };
        if flag.is_some_and(|says| says != (returned > 0.0)) {
            bump("flag_mismatch");
        }
        if !f[7].is_empty() {
            if parse_ts(&f[7]).is_none_or(|r| r < ordered) {
                bump("fixed_invalid_return_date");
            }
        } else if returned > 0.0 {
            bump("missing_return_date");
        }
        if f[15].is_empty() {
            bump("missing_class");
        }
    }
    counts
}

#[test]
fn same_seed_same_bytes_and_exact_header() {
    let dir = tempfile::tempdir().unwrap();
    let (a, text_a) = generate(dir.path(), "a.csv", 200, 7, false);
    let (b, text_b) = generate(dir.path(), "b.csv", 200, 7, false);
    let (_, text_c) = generate(dir.path(), "c.csv", 200, 8, false);
    assert_eq!(text_a, text_b);
    assert_eq!(a.planted, b.planted);
    assert_ne!(text_a, text_c);
    let truth_a = std::fs::read_to_string(dir.path().join("a.truth.csv")).unwrap();
    assert_eq!(truth_a, std::fs::read_to_string(&b.truth_path).unwrap());
    assert_eq!(text_a.lines().next().unwrap(), HEADER);
    assert_eq!(split_csv(HEADER).len(), 22);
    assert_eq!(text_a.lines().count() as u64, a.rows_written + 1);
    // A real extract's line shape: quoted SKU and class, four-decimal quantities, Yes/No.
    let line = text_a.lines().nth(1).unwrap();
    let f = split_csv(line);
    assert!(line.contains(",\"6") && f[4].ends_with(".0000"), "{line}");
    assert!(f[6] == "Yes" || f[6] == "No", "{line}");
}

#[test]
fn truth_names_every_customer_once() {
    let dir = tempfile::tempdir().unwrap();
    let (summary, csv) = generate(dir.path(), "s.csv", 400, 3, false);
    let truth = std::fs::read_to_string(&summary.truth_path).unwrap();
    assert_eq!(summary.truth_path, dir.path().join("s.truth.csv"));
    let mut lines = truth.lines();
    assert_eq!(lines.next(), Some("customer_id,archetype"));
    let labels: HashMap<String, String> = lines
        .map(|l| {
            let (id, label) = l.split_once(',').unwrap();
            (id.to_string(), label.to_string())
        })
        .collect();
    assert_eq!(labels.len(), 400);
    assert_eq!(summary.customers, 400);
    assert_eq!(summary.archetypes.values().sum::<u64>(), 400);
    let allowed: Vec<&str> = PLANTED_ARCHETYPES.iter().copied().chain([NOT_SEGMENTED]).collect();
    assert!(labels.values().all(|l| allowed.contains(&l.as_str())));
    let in_csv: HashSet<String> = csv
        .lines()
        .skip(1)
        .map(|l| split_csv(l)[1].trim().to_lowercase())
        .filter(|id| !id.is_empty())
        .collect();
    assert_eq!(in_csv, labels.keys().cloned().collect::<HashSet<_>>());
}

#[test]
fn planted_dirt_is_counted_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let (summary, csv) = generate(dir.path(), "dirty.csv", 3000, 11, false);
    assert_eq!(count_dirt(&csv), summary.planted);
    assert_eq!(summary.planted.len(), QUALITY_NAMES.len());
    for (name, count) in &summary.planted {
        assert!(*count > 0, "{name} not planted in 3000 customers");
    }
    let dirty: u64 = summary.planted.values().sum();
    assert!(
        (dirty as f64) < 0.01 * summary.rows_written as f64,
        "{dirty} of {}",
        summary.rows_written
    );
    // ~40 lines per customer.
    let per_customer = summary.rows_written as f64 / 3000.0;
    assert!((30.0..50.0).contains(&per_customer), "{per_customer}");
    // Several timestamp forms and e-mail spellings appear.
    let order_dates: Vec<String> = csv.lines().skip(1).map(|l| split_csv(l)[2].clone()).collect();
    assert!(
        order_dates.iter().any(|d| d.contains('T')) && order_dates.iter().any(|d| d.contains('/'))
    );
    assert!(csv.lines().skip(1).any(|l| split_csv(l)[1].starts_with(' ')));
}

#[test]
fn clean_sample_plants_no_dirt() {
    let dir = tempfile::tempdir().unwrap();
    let (summary, csv) = generate(dir.path(), "clean.csv", 1000, 5, true);
    assert!(summary.planted.values().all(|&c| c == 0), "{:?}", summary.planted);
    assert_eq!(count_dirt(&csv), summary.planted);
    assert!(csv.lines().skip(1).all(|l| split_csv(l)[2].len() == "2022-06-18 10:52:39.000".len()));
}

#[test]
fn zero_customers_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let opts = SampleOptions { customers: 0, ..SampleOptions::default() };
    assert!(matches!(
        write_sample(&dir.path().join("x.csv"), &opts),
        Err(SampleError::NoCustomers)
    ));
}

/// Key features of FEATURES.md computed from a clean sample, with the truth label per customer.
fn key_features_by_customer(csv: &str, truth: &str) -> (RawFeatures, Vec<String>) {
    #[derive(Default)]
    struct Acc {
        orders: HashMap<String, i64>,
        lines: f64,
        returned_lines: f64,
        sold: f64,
        returned: f64,
        return_days: Vec<f64>,
    }
    let mut customers: BTreeMap<String, Acc> = BTreeMap::new();
    let mut as_of = i64::MIN;
    for line in csv.lines().skip(1) {
        let f = split_csv(line);
        let ordered = parse_ts(&f[2]).unwrap();
        as_of = as_of.max(ordered);
        let acc = customers.entry(f[1].trim().to_lowercase()).or_default();
        let order = acc.orders.entry(f[0].clone()).or_insert(ordered);
        *order = (*order).min(ordered);
        let sold: f64 = f[4].parse().unwrap();
        let returned: f64 = if f[5].is_empty() { 0.0 } else { f[5].parse().unwrap() };
        acc.lines += 1.0;
        acc.sold += sold;
        acc.returned += returned;
        if returned > 0.0 {
            acc.returned_lines += 1.0;
            acc.return_days.push((parse_ts(&f[7]).unwrap() - ordered) as f64 / DAY as f64);
        }
    }
    let labels: HashMap<&str, &str> =
        truth.lines().skip(1).filter_map(|l| l.split_once(',')).collect();
    let mut ids = Vec::new();
    let mut rows: Vec<[f64; 9]> = Vec::new();
    let mut truth_labels = Vec::new();
    for (id, acc) in &customers {
        let orders = acc.orders.len() as f64;
        if orders < 2.0 {
            continue;
        }
        let first = *acc.orders.values().min().unwrap();
        let last = *acc.orders.values().max().unwrap();
        let days = |t: i64| (as_of - t) as f64 / DAY as f64;
        let recent = acc.orders.values().filter(|&&t| days(t) < 90.0).count() as f64;
        let mean_return_days = if acc.return_days.is_empty() {
            f64::NAN
        } else {
            acc.return_days.iter().sum::<f64>() / acc.return_days.len() as f64
        };
        rows.push([
            orders,
            acc.sold / orders,
            acc.sold / acc.lines,
            acc.returned_lines / acc.lines,
            acc.returned / acc.sold,
            mean_return_days,
            days(first),
            days(last),
            recent,
        ]);
        ids.push(id.clone());
        truth_labels.push(labels[id.as_str()].to_string());
    }
    let names = [
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
    let values = Array2::from_shape_fn((rows.len(), 9), |(i, j)| rows[i][j]);
    let raw = RawFeatures {
        customer_ids: ids,
        names: names.iter().map(|s| s.to_string()).collect(),
        values,
    };
    (raw, truth_labels)
}

#[test]
fn planted_groups_carry_their_archetype_signatures() {
    let dir = tempfile::tempdir().unwrap();
    let (summary, csv) = generate(dir.path(), "arch.csv", 1500, 21, true);
    let truth = std::fs::read_to_string(&summary.truth_path).unwrap();
    let (raw, labels) = key_features_by_customer(&csv, &truth);
    // Segments = the planted groups (1..=5 in PLANTED_ARCHETYPES order), outliers flagged.
    let segment: Vec<usize> = labels
        .iter()
        .map(|l| PLANTED_ARCHETYPES.iter().position(|p| *p == l.as_str()).unwrap().min(4) + 1)
        .collect();
    let is_outlier: Vec<bool> = labels.iter().map(|l| l == "Outliers").collect();
    let profiles: Vec<SegmentProfile> = profile_segments(&raw, &segment, &is_outlier);
    let names: Vec<&str> = profiles.iter().map(|p| p.archetype.as_str()).collect();
    assert_eq!(
        names,
        PLANTED_ARCHETYPES,
        "{:#?}",
        profiles.iter().map(|p| (&p.archetype, &p.scores)).collect::<Vec<_>>()
    );
    // High Returners return 40-70% of their lines, and fast.
    let high = &profiles[0];
    let median =
        |p: &SegmentProfile, f: &str| p.contrasts.iter().find(|c| c.feature == f).unwrap().median;
    assert!((0.35..0.75).contains(&median(high, "return_rate")), "{}", median(high, "return_rate"));
    assert!(median(high, "avg_days_to_return") < 8.0);
    assert!(median(&profiles[3], "customer_lifetime_days") < 85.0);
    assert!(median(&profiles[2], "customer_lifetime_days") > 547.0);
}

/// Benchmark: `cargo test --lib pipeline::sample::tests::bench_100k -- --ignored --nocapture`.
#[test]
#[ignore = "benchmark: writes ~1 GB"]
fn bench_100k_customers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.csv");
    let start = std::time::Instant::now();
    let summary =
        write_sample(&path, &SampleOptions { customers: 100_000, seed: 1, clean: false }).unwrap();
    let elapsed = start.elapsed();
    let bytes = std::fs::metadata(&path).unwrap().len();
    println!(
        "100k customers: {} rows, {:.0} MB in {:.2} s; planted {:?}",
        summary.rows_written,
        bytes as f64 / 1e6,
        elapsed.as_secs_f64(),
        summary.planted
    );
    assert!((3_000_000..5_000_000).contains(&summary.rows_written));
}
