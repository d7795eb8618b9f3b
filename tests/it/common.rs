//! Shared test helpers: write fixtures, run stages, read silver values.

use returnscope::pipeline::progress::Progress;
use returnscope::pipeline::{Analysis, Config};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub const HEADER: &str = "SALES_ORDER_NO,CUSTOMER_EMAILID,ORDER_DATE,SKU,SALES_QTY,RETURN_QTY,UNITS_RETURNED_FLAG,RETURN_DATE,RETURN_NO,RETURN_COMMENT,Q_CLS_ID,Q_SKU_ID,CLASS_,BRAND_";

/// Write `text` to `dir/name` and return the path.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// A configuration for tiny fixtures: no minimum customer count, a fixed as_of if given.
pub fn small_config(as_of: Option<&str>) -> Config {
    let mut c = Config::default();
    c.quality.min_customers = 1;
    c.data.as_of = as_of.map(str::to_string);
    c
}

/// Load, validate and build features for a CSV text; returns the open analysis.
pub fn run_to_features(dir: &Path, csv_text: &str, config: &Config) -> Analysis {
    let csv = write(dir, "input.csv", csv_text);
    let analysis = Analysis::open(&dir.join("a.duckdb"), config).unwrap();
    let p = Progress::none();
    analysis.ingest(&csv, config, &p).unwrap();
    analysis.validate(config, &p).unwrap();
    analysis.features(config, &p).unwrap();
    analysis
}

/// One customer's silver row: numeric features as f64 (None = NULL), plus the tenure label.
pub fn silver_row(analysis: &Analysis, customer: &str) -> (HashMap<String, Option<f64>>, String) {
    let table = analysis.feature_table().unwrap();
    let i =
        table.customer_ids.iter().position(|c| c == customer).unwrap_or_else(|| {
            panic!("customer {customer} not in silver: {:?}", table.customer_ids)
        });
    let values = table
        .columns
        .iter()
        .enumerate()
        .map(|(c, name)| (name.clone(), table.values[c][i]))
        .collect();
    (values, table.tenure_stage[i].clone())
}

/// Assert every expected feature value (None = NULL) to 1e-6.
pub fn assert_features(
    row: &HashMap<String, Option<f64>>,
    expected: &[(&str, Option<f64>)],
    who: &str,
) {
    for (name, want) in expected {
        let got = row.get(*name).unwrap_or_else(|| panic!("no feature {name}"));
        match (got, want) {
            (None, None) => {}
            (Some(g), Some(w)) => assert!((g - w).abs() < 1e-6, "{who}.{name}: got {g}, want {w}"),
            _ => panic!("{who}.{name}: got {got:?}, want {want:?}"),
        }
    }
}

pub fn scalar(analysis: &Analysis, sql: &str) -> i64 {
    analysis.store().conn().query_row(sql, [], |r| r.get(0)).unwrap()
}
