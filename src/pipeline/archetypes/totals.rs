//! Per-customer totals behind the segment shares: orders and returned units, and a group's
//! shares of the customers, orders and returned units.

use crate::pipeline::model::RawFeatures;

/// Each customer's orders and returned units: `items_returned_count`, or where it is absent the
/// share of units returned x units per order x orders (the same number by FEATURES.md).
pub(super) struct CustomerTotals {
    pub orders: Vec<f64>,
    pub returned_units: Vec<f64>,
}

impl CustomerTotals {
    pub fn of(raw: &RawFeatures) -> Self {
        let column = |name: &str| raw.names.iter().position(|n| n == name);
        let value = |i: usize, j: Option<usize>| {
            j.map(|j| raw.values[[i, j]]).filter(|v| v.is_finite()).unwrap_or(0.0)
        };
        let (orders, returned) = (column("sales_order_no_nunique"), column("items_returned_count"));
        let (ratio, size) = (column("return_ratio"), column("avg_order_size"));
        let n = raw.values.nrows();
        CustomerTotals {
            orders: (0..n).map(|i| value(i, orders)).collect(),
            returned_units: (0..n)
                .map(|i| match returned {
                    Some(_) => value(i, returned),
                    None => value(i, ratio) * value(i, size) * value(i, orders),
                })
                .collect(),
        }
    }

    pub fn sum(values: &[f64], rows: &[usize]) -> f64 {
        rows.iter().map(|&i| values[i]).sum()
    }
}

/// Shares of a group of rows among all rows.
pub(super) struct Shares {
    pub customers: f64,
    pub orders: f64,
    pub returned_units: f64,
}

pub(super) fn shares_of(
    totals: &CustomerTotals,
    rows: &[usize],
    all_orders: f64,
    all_units: f64,
) -> Shares {
    let share = |part: f64, total: f64| if total > 0.0 { part / total } else { 0.0 };
    Shares {
        customers: share(rows.len() as f64, totals.orders.len() as f64),
        orders: share(CustomerTotals::sum(&totals.orders, rows), all_orders),
        returned_units: share(CustomerTotals::sum(&totals.returned_units, rows), all_units),
    }
}
