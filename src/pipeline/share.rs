//! Outputs meant to leave the analysis (the Excel report, the results and silver exports), with
//! customers named by e-mail or, when asked, by pseudonym (see [`crate::pipeline::pseudonym`]):
//! [`Sharing`] says which, [`copy_to`] writes an export (the report's customers are replaced in
//! `report::pseudonyms`).
//!
//! Every output is created owner-only when new, like the analysis itself; sharing it is the
//! user's decision. With pseudonyms, the optional lookup CSV is written beside (or where asked)
//! for the customers of that output only.

use crate::pipeline::error::{DbContext, Result};
use crate::pipeline::private_files;
use crate::pipeline::pseudonym::{self, PseudonymKey};
use crate::pipeline::store::{Store, literal};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// How an output names customers.
#[derive(Debug, Clone, Default)]
pub struct Sharing {
    /// Replace customer e-mails with pseudonyms made with this key.
    pub pseudonyms: Option<PseudonymKey>,
    /// Also write the lookup CSV (pseudonym -> customer id) here (only with pseudonyms).
    pub lookup_csv: Option<PathBuf>,
}

impl Sharing {
    /// E-mails as loaded (the analysis's own view).
    pub fn as_loaded() -> Self {
        Self::default()
    }

    /// Pseudonyms made with `key`, and the lookup CSV at `lookup_csv` if given.
    pub fn pseudonymized(key: PseudonymKey, lookup_csv: Option<PathBuf>) -> Self {
        Self { pseudonyms: Some(key), lookup_csv }
    }

    /// Write the lookup of `by_customer` when one was asked for.
    pub fn write_lookup(&self, by_customer: &HashMap<String, String>) -> Result<Option<PathBuf>> {
        match &self.lookup_csv {
            Some(path) => {
                pseudonym::write_lookup_csv(path, by_customer)?;
                Ok(Some(path.clone()))
            }
            None => Ok(None),
        }
    }
}

/// The temporary table of (customer_id, pseudonym) an export joins.
const PSEUDONYMS: &str = "rs_pseudonyms";

/// `COPY (select) TO out (options)`, with `customer_id` replaced by pseudonyms when asked and the
/// rows then ordered by `order_by` with the pseudonym in place of the id; a new `out` is
/// owner-only, an existing one keeps its permissions (DuckDB replaces the file, so they are put
/// back). Returns the lookup's path if one was written.
pub(crate) fn copy_to(
    store: &Store,
    select: &str,
    order_by: &str,
    out: &Path,
    options: &str,
    sharing: &Sharing,
) -> Result<Option<PathBuf>> {
    let before = private_files::permissions_before(out);
    let write_err = |e: duckdb::Error| crate::pipeline::error::export_error(out, e);
    let target = literal(&out.to_string_lossy());
    let lookup = match &sharing.pseudonyms {
        None => {
            let sql = format!("COPY ({select} ORDER BY {order_by}) TO {target} ({options})");
            store.conn().execute_batch(&sql).map_err(write_err)?;
            None
        }
        Some(key) => {
            let by_customer = pseudonyms_table(store, select, key)?;
            let sql = format!(
                "COPY (SELECT p.pseudonym AS customer_id, q.* EXCLUDE (customer_id)
                       FROM ({select}) q JOIN temp.{PSEUDONYMS} p ON p.customer_id = q.customer_id
                       ORDER BY {}) TO {target} ({options});
                 DROP TABLE temp.{PSEUDONYMS};",
                order_by.replace("customer_id", "p.pseudonym")
            );
            store.conn().execute_batch(&sql).map_err(write_err)?;
            sharing.write_lookup(&by_customer)?
        }
    };
    if let Err(err) = private_files::restore_or_restrict(out, before) {
        tracing::warn!("cannot set the permissions of {}: {err}", out.display());
    }
    Ok(lookup)
}

/// Fill the temporary pseudonym table with every customer of `select`.
fn pseudonyms_table(
    store: &Store,
    select: &str,
    key: &PseudonymKey,
) -> Result<HashMap<String, String>> {
    let ids: Vec<String> = {
        let mut stmt = store
            .conn()
            .prepare(&format!("SELECT DISTINCT customer_id FROM ({select}) q"))
            .db("reading the customers to pseudonymize")?;
        stmt.query_map([], |r| r.get::<_, String>(0))
            .db("reading the customers to pseudonymize")?
            .collect::<std::result::Result<_, _>>()
            .db("reading the customers to pseudonymize")?
    };
    let by_customer = key.pseudonyms(ids.iter().map(String::as_str))?;
    store
        .conn()
        .execute_batch(&format!(
            "CREATE OR REPLACE TEMP TABLE {PSEUDONYMS} (customer_id VARCHAR, pseudonym VARCHAR)"
        ))
        .db("preparing the pseudonyms")?;
    let mut appender = store.conn().appender(PSEUDONYMS).db("preparing the pseudonyms")?;
    for (customer, pseudonym) in &by_customer {
        appender.append_row([customer, pseudonym]).db("preparing the pseudonyms")?;
    }
    appender.flush().db("preparing the pseudonyms")?;
    Ok(by_customer)
}
