//! Reading a table of (customer id, numbers...) out of DuckDB in columns: the matrices the
//! clustering, the model and the comparison of periods work on.
//!
//! DuckDB hands query results over as Arrow record batches, a column of a few thousand values at
//! a time; copying those columns is much cheaper than asking for every value of every row one by
//! one (which cost about 0.1 s per matrix at 20,000 customers and seconds at a million).

use crate::pipeline::error::{DbContext, PipelineError, Result};
use crate::pipeline::store::Store;
use duckdb::arrow::array::{Array, AsArray};
use duckdb::arrow::datatypes::{DataType, Float64Type};

/// The rows of a query whose first column is text (the customer id) and whose other `width`
/// columns are DOUBLE: the ids, and the numbers row-major (NULL as NaN). `context` names the
/// read in errors.
pub(crate) fn read_id_and_numbers(
    store: &Store,
    sql: &str,
    width: usize,
    context: &str,
) -> Result<(Vec<String>, Vec<f64>)> {
    let mut stmt = store.conn().prepare(sql).db(context)?;
    let batches = stmt.query_arrow([]).db(context)?;
    let unexpected = |what: &str| PipelineError::Data(format!("{context}: {what}"));
    let (mut ids, mut flat) = (Vec::new(), Vec::new());
    for batch in batches {
        if batch.num_columns() != width + 1 {
            return Err(unexpected("the query returned another number of columns"));
        }
        let start = ids.len();
        let id_column = batch.column(0);
        match id_column.data_type() {
            DataType::Utf8 => ids.extend(id_column.as_string::<i32>().iter().map(text)),
            DataType::LargeUtf8 => ids.extend(id_column.as_string::<i64>().iter().map(text)),
            DataType::Utf8View => ids.extend(id_column.as_string_view().iter().map(text)),
            _ => return Err(unexpected("the customer id is not text")),
        }
        flat.resize(ids.len() * width, f64::NAN);
        for c in 0..width {
            let column = batch.column(c + 1);
            let values = column
                .as_primitive_opt::<Float64Type>()
                .ok_or_else(|| unexpected("a feature column is not DOUBLE"))?;
            for (r, value) in values.iter().enumerate() {
                flat[(start + r) * width + c] = value.unwrap_or(f64::NAN);
            }
        }
    }
    Ok((ids, flat))
}

/// An Arrow text value as a `String` (NULL as empty: ids are never NULL in these tables).
fn text(value: Option<&str>) -> String {
    value.unwrap_or_default().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_numbers_come_back_row_major_in_query_order_with_null_as_nan() {
        let dir = tempfile::tempdir().unwrap();
        let config = crate::pipeline::config::StoreConfig::default();
        let store = Store::open(&dir.path().join("a.duckdb"), &config).unwrap();
        // 5,000 rows: more than one Arrow batch (2,048 rows each).
        store
            .conn()
            .execute_batch(
                "CREATE TABLE t AS SELECT i, 'c' || i AS customer_id, i * 0.5 AS a,
                   CASE WHEN i % 3 = 0 THEN NULL ELSE -i END AS b FROM range(5000) r(i)",
            )
            .unwrap();
        let sql = "SELECT customer_id, CAST(a AS DOUBLE), CAST(b AS DOUBLE) FROM t ORDER BY i DESC";
        let (ids, flat) = read_id_and_numbers(&store, sql, 2, "reading t").unwrap();
        assert_eq!(ids.len(), 5000);
        assert_eq!(flat.len(), 10_000);
        for (r, id) in ids.iter().enumerate() {
            let i = 4999 - r;
            assert_eq!(id, &format!("c{i}"), "row {r}");
            assert_eq!(flat[2 * r], i as f64 * 0.5);
            if i % 3 == 0 {
                assert!(flat[2 * r + 1].is_nan(), "row {r}");
            } else {
                assert_eq!(flat[2 * r + 1], -(i as f64));
            }
        }
        let wrong = read_id_and_numbers(&store, "SELECT customer_id, a FROM t", 1, "reading t");
        assert!(matches!(wrong, Err(PipelineError::Data(m)) if m.contains("not DOUBLE")));
    }

    /// `GOLD_DB=<analysis> cargo test --lib pipeline::gold::columns -- --ignored --nocapture`:
    /// seconds to read an analysis's gold matrix and raw features.
    #[test]
    #[ignore = "benchmark"]
    fn bench_read_inputs() {
        let Some(store) = crate::pipeline::store::bench_analysis() else { return };
        for _ in 0..2 {
            let t = std::time::Instant::now();
            let gold = super::super::read_gold(&store).unwrap();
            let gold_s = t.elapsed().as_secs_f64();
            let t = std::time::Instant::now();
            let raw = super::super::read_raw_features(&store, true).unwrap();
            println!(
                "gold {} x {}: {gold_s:.3} s; raw {} x {}: {:.3} s",
                gold.2.nrows(),
                gold.2.ncols(),
                raw.values.nrows(),
                raw.values.ncols(),
                t.elapsed().as_secs_f64()
            );
        }
    }
}
