//! The bronze layer's schema, shared by the load (`ingest`) and validation (`validate`).
//!
//! Bronze is two tables and a view:
//! - `bronze_rows`: the rows as loaded (raw text columns only), written once by the load, in file
//!   order, and never modified, so `rowid + 1` is a row's `row_id`;
//! - `bronze_quality`: validation's narrow table, `row_id` and the derived columns (parsed
//!   values, reject reason, duplicate and fix flags);
//! - `bronze_return_order_data`: the view users and tests read, the raw columns with `row_id`
//!   and, once validated, the derived columns.
//!
//! Rows with the wrong number of fields are kept in `bronze_rejects_malformed` with their line
//! numbers. A file written by an older version kept bronze as one table; [`upgrade_old_bronze`]
//! converts it.

use crate::pipeline::error::{DbContext, Result};
use crate::pipeline::store::{Store, ident};

/// Bronze as users and tests read it: a view of the rows as loaded (with `row_id`), and after
/// validation their parsed values, quality flags and reject reasons.
pub const BRONZE: &str = "bronze_return_order_data";
/// The stored rows as loaded (raw text columns only). Written once by a single `CREATE TABLE AS`
/// in file order and never modified, so `rowid + 1` is the row's `row_id`. Read rowid only after
/// the transaction that wrote the table has committed: inside it DuckDB numbers the new rows
/// from 2^55.
pub const BRONZE_ROWS: &str = "bronze_rows";
/// Validation's narrow table: `row_id` and the derived columns (parsed values, flags).
pub const BRONZE_QUALITY: &str = "bronze_quality";
/// Rows with the wrong number of fields, with their line numbers.
pub const MALFORMED: &str = "bronze_rejects_malformed";

/// Columns that validation adds to bronze (an extra input column may not take these names).
/// They never equal a raw column name case-insensitively (SQL identifiers are case-insensitive):
/// the cleaned SKU and quantities are `sku_code`, `qty_sold`, `qty_returned`.
pub const DERIVED_COLUMNS: [&str; 22] = [
    "row_id",
    "customer_id",
    "order_no",
    "sku_code",
    "class",
    "order_ts",
    "qty_sold",
    "qty_returned",
    "returned",
    "return_ts",
    "flag_value",
    "gross",
    "reject_reason",
    "is_duplicate",
    "clean",
    "in_scope",
    "fixed_bad_return_qty",
    "fixed_return_qty_over_sold",
    "flag_mismatch",
    "fixed_invalid_return_date",
    "missing_return_date",
    "missing_class",
];

/// Whether an input column would collide with a column validation derives.
pub fn is_derived_column(name: &str) -> bool {
    DERIVED_COLUMNS.iter().any(|d| d.eq_ignore_ascii_case(name))
        || name.eq_ignore_ascii_case("after_as_of")
}

/// How a header maps onto the canonical columns.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ColumnMapping {
    /// (canonical required name, header as found).
    pub required: Vec<(String, String)>,
    /// (stored name, header as found) for the extra columns.
    pub extra: Vec<(String, String)>,
}

impl ColumnMapping {
    /// The stored names of the raw columns, required first, in `bronze_rows` order.
    pub fn raw_columns(&self) -> impl Iterator<Item = &str> {
        let required = self.required.iter().map(|(c, _)| c.as_str());
        required.chain(self.extra.iter().map(|(s, _)| s.as_str()))
    }

    /// The raw columns, quoted, each prefixed with `prefix` ("b." or ""), comma-separated.
    pub fn raw_column_list(&self, prefix: &str) -> String {
        self.raw_columns().map(|c| format!("{prefix}{}", ident(c))).collect::<Vec<_>>().join(", ")
    }
}

/// The view over the rows as loaded, before validation: `row_id` and the raw columns.
pub fn loaded_rows_view_sql() -> String {
    format!("CREATE VIEW {BRONZE} AS SELECT rowid + 1 AS row_id, * FROM {BRONZE_ROWS};")
}

/// What `bronze_return_order_data` is in this file: `VIEW`, `BASE TABLE` (a file written by an
/// older version) or absent.
fn bronze_kind(store: &Store) -> Result<Option<String>> {
    store
        .conn()
        .query_row(
            "SELECT max(table_type) FROM information_schema.tables WHERE table_schema = 'main' AND table_name = ?",
            [BRONZE],
            |r| r.get(0),
        )
        .db("looking up bronze")
}

/// Drop `bronze_return_order_data`, a view (or, in a file written by an older version, a table).
pub fn drop_bronze_view(store: &Store) -> Result<()> {
    let kind = bronze_kind(store)?;
    let sql = match kind.as_deref() {
        Some("VIEW") => format!("DROP VIEW {BRONZE}"),
        Some(_) => format!("DROP TABLE {BRONZE}"),
        None => return Ok(()),
    };
    store.conn().execute_batch(&sql).db("replacing bronze")
}

/// A file written before bronze was split keeps its rows in the table `bronze_return_order_data`
/// (with `row_id` and, once validated, the derived columns): move its raw columns, in row id
/// order, into `bronze_rows` so it can be validated again without reloading the CSV. Returns
/// whether the file had the old layout.
pub fn upgrade_old_bronze(store: &Store, mapping: &ColumnMapping) -> Result<bool> {
    let kind = bronze_kind(store)?;
    if kind.as_deref() != Some("BASE TABLE") || store.table_exists(BRONZE_ROWS)? {
        return Ok(false);
    }
    store
        .conn()
        .execute_batch(&format!(
            "CREATE TABLE {BRONZE_ROWS} AS SELECT {} FROM {BRONZE} ORDER BY row_id;
             DROP TABLE {BRONZE};
             {}",
            mapping.raw_column_list(""),
            loaded_rows_view_sql()
        ))
        .db("upgrading bronze to the current layout")?;
    Ok(true)
}
