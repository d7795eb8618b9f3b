//! Numbers as the app writes them: counts with thousands separators and shares as percentages,
//! the same forms as the report (pages and plots both use these).

/// Thousands separators for counts ("1,234,567"), as the report writes them.
pub fn thousands(n: u64) -> String {
    usize::try_from(n).map_or_else(|_| n.to_string(), crate::pipeline::report::fmt_count)
}

/// A share as a percentage with one decimal ("12.5 %"), "<0.1 %" for tiny non-zero shares.
pub fn percent(share: f64) -> String {
    if share > 0.0 && share < 0.0005 { "<0.1 %".into() } else { format!("{:.1} %", share * 100.0) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_shares_read_well() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(percent(0.125), "12.5 %");
        assert_eq!(percent(0.0001), "<0.1 %");
        assert_eq!(percent(0.0), "0.0 %");
    }
}
