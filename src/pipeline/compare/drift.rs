//! Drift of one feature between two periods (pure code), as docs/decisions.md defines it:
//!
//! - **PSI**, population stability index: bins are the deciles of OLD's non-NULL values (equal
//!   edges merged), `(-inf, q10], (q10, q20], ..., (q90, +inf)`, plus one bin for NULL; each
//!   period's share of its customers per bin (an empty bin's share set to 1e-4);
//!   `PSI = sum (p_new - p_old) * ln(p_new / p_old)`.
//! - **KS**: the two-sample Kolmogorov-Smirnov statistic, the largest gap between the two
//!   empirical distribution functions of the non-NULL values.
//!
//! The same values on both sides give PSI 0 and KS 0 exactly.

use crate::pipeline::gold::transform::percentile_sorted;
use serde::{Deserialize, Serialize};

/// Share given to an empty bin so the logarithm stays finite.
pub const EMPTY_BIN_SHARE: f64 = 1e-4;
/// Above this PSI a feature has moved moderately.
pub const PSI_MODERATE: f64 = 0.1;
/// Above this PSI a feature has moved a lot (flagged).
pub const PSI_MAJOR: f64 = 0.2;
/// Bars of the display histograms.
pub const HISTOGRAM_BARS: usize = 20;

/// One PSI bin: values up to `upper` (None: no upper bound; `null`: the NULL bin).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PsiBin {
    pub upper: Option<f64>,
    pub null: bool,
    pub old_share: f64,
    pub new_share: f64,
}

/// Equal-width histograms of both periods over a shared range (non-NULL values, shares).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Histograms {
    /// HISTOGRAM_BARS + 1 edges; values outside fall into the end bars.
    pub edges: Vec<f64>,
    pub old: Vec<f64>,
    pub new: Vec<f64>,
}

/// How far a feature moved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureDrift {
    pub feature: String,
    pub psi: f64,
    pub ks: f64,
    /// "stable", "moderate shift" (PSI > 0.1) or "major shift" (PSI > 0.2).
    pub shift: String,
    pub bins: Vec<PsiBin>,
    #[serde(skip_serializing_if = "Histograms::is_empty", default)]
    pub histograms: Histograms,
}

impl Histograms {
    pub fn is_empty(&self) -> bool {
        self.edges.is_empty()
    }
}

/// The words for a PSI value.
pub fn shift_label(psi: f64) -> &'static str {
    if psi > PSI_MAJOR {
        "major shift"
    } else if psi > PSI_MODERATE {
        "moderate shift"
    } else {
        "stable"
    }
}

/// Decile edges of ascending values, equal edges merged.
pub fn decile_edges(sorted: &[f64]) -> Vec<f64> {
    if sorted.is_empty() {
        return Vec::new();
    }
    let mut edges: Vec<f64> = (1..10).map(|d| percentile_sorted(sorted, d as f64 * 10.0)).collect();
    edges.dedup();
    edges
}

/// Bin of a value for `edges`: values <= edges[0] in bin 0, above the last edge in the last.
fn bin_of(edges: &[f64], v: f64) -> usize {
    edges.partition_point(|e| *e < v)
}

fn sorted_defined(values: &[f64]) -> Vec<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_unstable_by(f64::total_cmp);
    v
}

/// Shares per bin (the last one NULL) of a period's values (NaN = NULL).
fn shares(values: &[f64], edges: &[f64]) -> Vec<f64> {
    let mut counts = vec![0usize; edges.len() + 2];
    let null_bin = edges.len() + 1;
    for &v in values {
        counts[if v.is_finite() { bin_of(edges, v) } else { null_bin }] += 1;
    }
    let total = values.len().max(1) as f64;
    counts.into_iter().map(|c| c as f64 / total).collect()
}

/// PSI and its bins; `None` when a period has no customers.
pub fn psi(old: &[f64], new: &[f64]) -> Option<(f64, Vec<PsiBin>)> {
    if old.is_empty() || new.is_empty() {
        return None;
    }
    let edges = decile_edges(&sorted_defined(old));
    let (p_old, p_new) = (shares(old, &edges), shares(new, &edges));
    let mut total = 0.0;
    let mut bins = Vec::with_capacity(p_old.len());
    for (b, (&o, &n)) in p_old.iter().zip(&p_new).enumerate() {
        let (o_adj, n_adj) = (o.max(EMPTY_BIN_SHARE), n.max(EMPTY_BIN_SHARE));
        if o_adj != n_adj {
            total += (n_adj - o_adj) * (n_adj / o_adj).ln();
        }
        let null = b == edges.len() + 1;
        bins.push(PsiBin { upper: edges.get(b).copied(), null, old_share: o, new_share: n });
    }
    Some((total, bins))
}

/// The two-sample KS statistic of the non-NULL values; `None` when a side has none.
pub fn ks(old: &[f64], new: &[f64]) -> Option<f64> {
    let (a, b) = (sorted_defined(old), sorted_defined(new));
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j, mut max_gap) = (0usize, 0usize, 0.0f64);
    while i < a.len() && j < b.len() {
        let x = a[i].min(b[j]);
        while i < a.len() && a[i] <= x {
            i += 1;
        }
        while j < b.len() && b[j] <= x {
            j += 1;
        }
        max_gap = max_gap.max((i as f64 / na - j as f64 / nb).abs());
    }
    Some(max_gap)
}

/// Equal-width histograms of both periods between the 1st and 99th percentiles of all values.
pub fn histograms(old: &[f64], new: &[f64]) -> Histograms {
    let (a, b) = (sorted_defined(old), sorted_defined(new));
    if a.is_empty() && b.is_empty() {
        return Histograms::default();
    }
    let sides = [&a, &b];
    let present = || sides.iter().filter(|v| !v.is_empty());
    let lo = present().map(|v| percentile_sorted(v, 1.0)).fold(f64::INFINITY, f64::min);
    let mut hi = present().map(|v| percentile_sorted(v, 99.0)).fold(f64::NEG_INFINITY, f64::max);
    if hi <= lo {
        hi = lo + 1.0;
    }
    let width = (hi - lo) / HISTOGRAM_BARS as f64;
    let edges = (0..=HISTOGRAM_BARS).map(|i| lo + width * i as f64).collect();
    let bars = |values: &[f64]| {
        let mut counts = vec![0.0; HISTOGRAM_BARS];
        for &v in values {
            let bar = (((v - lo) / width).floor().max(0.0) as usize).min(HISTOGRAM_BARS - 1);
            counts[bar] += 1.0;
        }
        let n = values.len().max(1) as f64;
        counts.into_iter().map(|c| c / n).collect()
    };
    Histograms { edges, old: bars(&a), new: bars(&b) }
}

/// PSI, KS, their words and the histograms of one feature (NaN = NULL).
pub fn feature_drift(feature: &str, old: &[f64], new: &[f64]) -> Option<FeatureDrift> {
    let (psi, bins) = psi(old, new)?;
    let ks = ks(old, new).unwrap_or(0.0);
    Some(FeatureDrift {
        feature: feature.to_string(),
        psi,
        ks,
        shift: shift_label(psi).to_string(),
        bins,
        histograms: histograms(old, new),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NULL: f64 = f64::NAN;

    #[test]
    fn identical_periods_have_zero_psi_and_ks() {
        let v: Vec<f64> = (0..57).map(|i| ((i * 7) % 13) as f64).chain([NULL, NULL]).collect();
        let d = feature_drift("x", &v, &v).unwrap();
        assert_eq!((d.psi, d.ks), (0.0, 0.0));
        assert_eq!(d.shift, "stable");
        assert!((d.bins.iter().map(|b| b.old_share).sum::<f64>() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn psi_by_hand() {
        // OLD 1..=10: deciles at 1.9, 2.8, ..., 9.1 -> ten bins of one value each (share 0.1),
        // NULL bin empty. NEW: five 1s and five 10s -> bin 0 share 0.5, bin 9 share 0.5, the
        // other eight bins empty (1e-4), NULL empty in both (no term).
        let old: Vec<f64> = (1..=10).map(f64::from).collect();
        let new = [1.0, 1.0, 1.0, 1.0, 1.0, 10.0, 10.0, 10.0, 10.0, 10.0];
        let (value, bins) = psi(&old, &new).unwrap();
        let big = (0.5 - 0.1) * (0.5f64 / 0.1).ln();
        let empty = (1e-4 - 0.1) * (1e-4f64 / 0.1).ln();
        assert!((value - (2.0 * big + 8.0 * empty)).abs() < 1e-12, "{value}");
        assert_eq!(bins.len(), 11);
        assert!(bins[10].null && bins[10].old_share == 0.0);
        assert_eq!(shift_label(value), "major shift");
    }

    #[test]
    fn tied_deciles_merge_and_nulls_count() {
        // OLD: eight 0s and two 5s -> deciles 10..70 are 0 (merged into one edge), the 80th at
        // rank 7.2 is 0 + 0.2 * 5 = 1, the 90th at rank 8.1 is 5 -> edges [0, 1, 5]: bins
        // (-inf,0], (0,1], (1,5], (5,inf), NULL; the empty bins are empty on both sides.
        let old = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 5.0, 5.0];
        let edges = decile_edges(&old);
        assert_eq!(edges.len(), 3, "{edges:?}");
        assert!(edges.iter().zip([0.0, 1.0, 5.0]).all(|(a, b)| (a - b).abs() < 1e-12));
        // NEW: the same values, but two of the 0s NULL.
        let new = [NULL, NULL, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 5.0, 5.0];
        let (value, bins) = psi(&old, &new).unwrap();
        let expected = (0.6 - 0.8) * (0.6f64 / 0.8).ln() + (0.2 - 1e-4) * (0.2f64 / 1e-4).ln();
        assert!((value - expected).abs() < 1e-12, "{value} vs {expected}");
        assert_eq!(bins.len(), 5);
    }

    #[test]
    fn ks_by_hand() {
        // F_old and F_new of {1,2,3,4} and {3,4,5,6}: the largest gap is at 2 (0.5 - 0).
        assert_eq!(ks(&[1.0, 2.0, 3.0, 4.0], &[3.0, 4.0, 5.0, 6.0]), Some(0.5));
        assert_eq!(ks(&[1.0, 2.0], &[5.0, 6.0]), Some(1.0));
        assert_eq!(ks(&[NULL], &[1.0]), None);
    }
}
