//! The report for sharing: Customer Assignments (and its overflow CSV) name customers by
//! pseudonym instead of e-mail when [`Sharing`] asks for it.

use super::ReportData;
use crate::pipeline::error::Result;
use crate::pipeline::share::Sharing;
use std::path::PathBuf;

/// Replace every customer id of the report with its pseudonym (customers stay grouped by
/// segment, ordered by pseudonym within it, so the order does not reveal the e-mails' order);
/// writes the lookup if asked. Returns the lookup's path.
pub fn pseudonymize(data: &mut ReportData, sharing: &Sharing) -> Result<Option<PathBuf>> {
    let Some(key) = &sharing.pseudonyms else { return Ok(None) };
    let by_customer = key.pseudonyms(data.customers.iter().map(|c| c.customer_id.as_str()))?;
    for customer in &mut data.customers {
        if let Some(p) = by_customer.get(&customer.customer_id) {
            customer.customer_id = p.clone();
        }
    }
    // Segments first (outliers and the not segmented after them, as stored), then pseudonym.
    data.customers.sort_by(|a, b| {
        (a.segment.is_none(), a.segment, &a.customer_id).cmp(&(
            b.segment.is_none(),
            b.segment,
            &b.customer_id,
        ))
    });
    sharing.write_lookup(&by_customer)
}
