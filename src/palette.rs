//! The one colour palette shared by the desktop app and the Excel report.
//!
//! Segment *n* has the same colour in every plot, table and chart, so a reader who learned
//! "Segment 3 is green" in the app finds it green in the workbook too.
//!
//! How the colours were chosen:
//! - **Segments 1-8** are the Okabe-Ito hues (blue, orange, bluish green, reddish purple, sky
//!   blue, vermillion) plus a magenta and an indigo, in that order. Okabe-Ito was designed to stay
//!   distinguishable under the common colour-vision deficiencies; the first eight stay apart under
//!   simulated deuteranopia and protanopia (Machado et al. 2009), with lightness doing part of the
//!   work (the orange is light, the vermillion dark).
//! - **Segments 9-14** (olive, brown, teal, coral, moss, violet) extend the set for K up to 14,
//!   the default maximum. No categorical palette of 14 hues is safe for every reader, so the app
//!   and the report always show the segment *label* next to the colour; beyond 14 the colours
//!   repeat.
//! - **Readable on light and dark backgrounds**: every colour, the greys included, was moved in
//!   lightness until its relative luminance (WCAG 2.1) lies between 0.13 and 0.30, which gives a
//!   contrast of at least 3:1 (the WCAG minimum for graphical objects) both against white and
//!   against egui's dark panel (#1B1B1B). Saturated yellows and pale pastels cannot meet both, so
//!   Okabe-Ito's yellow and sky blue are darkened.
//! - **Outliers** are a neutral mid grey, **Not segmented** a cooler slate grey: both read as
//!   "not a segment" beside the coloured ones, yet differ from each other.

/// The segment colours, segment 1 first.
pub const SEGMENT_RGB: [[u8; 3]; 14] = [
    [0x00, 0x72, 0xB2], // 1 blue (Okabe-Ito)
    [0xC0, 0x85, 0x00], // 2 orange (Okabe-Ito, darkened)
    [0x00, 0x9E, 0x73], // 3 bluish green (Okabe-Ito)
    [0xCA, 0x73, 0xA3], // 4 reddish purple (Okabe-Ito)
    [0x1D, 0x98, 0xDD], // 5 sky blue (Okabe-Ito, darkened)
    [0xB0, 0x46, 0x00], // 6 vermillion (Okabe-Ito, darkened)
    [0xC3, 0x31, 0x7A], // 7 magenta (Tol's wine, lightened)
    [0x6E, 0x59, 0xD6], // 8 indigo (Tol's indigo, lightened)
    [0x93, 0x93, 0x31], // 9 olive
    [0x9C, 0x75, 0x5F], // 10 brown
    [0x1F, 0x8F, 0x8F], // 11 teal
    [0xE1, 0x57, 0x59], // 12 coral
    [0x5E, 0x8C, 0x31], // 13 moss
    [0xA3, 0x5D, 0xC9], // 14 violet
];

/// Customers DBSCAN marked as noise.
pub const OUTLIER_RGB: [u8; 3] = [0x8A, 0x8A, 0x8A];

/// Customers with too few orders to be clustered.
pub const NOT_SEGMENTED_RGB: [u8; 3] = [0x6B, 0x77, 0x85];

/// The colour of segment `segment` (numbered from 1). Segment 0 is treated as 1; numbers above
/// the palette's size repeat its colours.
pub fn segment_rgb(segment: usize) -> [u8; 3] {
    SEGMENT_RGB[segment.saturating_sub(1) % SEGMENT_RGB.len()]
}

/// `"#RRGGBB"` for a colour.
pub fn hex(rgb: [u8; 3]) -> String {
    format!("#{:02X}{:02X}{:02X}", rgb[0], rgb[1], rgb[2])
}

/// The colour as one `0xRRGGBB` number (what spreadsheet writers take).
pub fn rgb_u32(rgb: [u8; 3]) -> u32 {
    (u32::from(rgb[0]) << 16) | (u32::from(rgb[1]) << 8) | u32::from(rgb[2])
}

/// A readable text colour on top of `rgb`: white on every palette colour (all are mid-dark).
pub fn text_on(rgb: [u8; 3]) -> [u8; 3] {
    if relative_luminance(rgb) > 0.4 { [0, 0, 0] } else { [0xFF, 0xFF, 0xFF] }
}

/// WCAG 2.1 relative luminance of an sRGB colour, 0 (black) ..= 1 (white).
pub fn relative_luminance(rgb: [u8; 3]) -> f64 {
    let linear = |c: u8| {
        let c = f64::from(c) / 255.0;
        if c <= 0.04045 { c / 12.92 } else { ((c + 0.055) / 1.055).powf(2.4) }
    };
    0.2126 * linear(rgb[0]) + 0.7152 * linear(rgb[1]) + 0.0722 * linear(rgb[2])
}

/// WCAG contrast ratio between two colours (1 ..= 21).
pub fn contrast_ratio(a: [u8; 3], b: [u8; 3]) -> f64 {
    let (la, lb) = (relative_luminance(a), relative_luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

#[cfg(test)]
mod tests {
    use super::*;

    const WHITE: [u8; 3] = [0xFF, 0xFF, 0xFF];
    const EGUI_DARK_PANEL: [u8; 3] = [0x1B, 0x1B, 0x1B];

    fn all_colours() -> Vec<[u8; 3]> {
        let mut all = SEGMENT_RGB.to_vec();
        all.extend([OUTLIER_RGB, NOT_SEGMENTED_RGB]);
        all
    }

    #[test]
    fn every_colour_has_3_to_1_contrast_on_white_and_on_dark() {
        for rgb in all_colours() {
            assert!(contrast_ratio(rgb, WHITE) >= 3.0, "{} on white", hex(rgb));
            assert!(contrast_ratio(rgb, EGUI_DARK_PANEL) >= 3.0, "{} on dark", hex(rgb));
        }
    }

    #[test]
    fn contrast_matches_the_wcag_reference_values() {
        // Black on white is the maximum, 21:1. #0072B2: linear G = ((0x72/255 + 0.055) /
        // 1.055)^2.4 = 0.16827, linear B = 0.44520, luminance 0.7152 * 0.16827 + 0.0722 *
        // 0.44520 = 0.15249, so on white (1.05) / (0.20249) = 5.1854.
        assert!((contrast_ratio([0, 0, 0], WHITE) - 21.0).abs() < 1e-9);
        assert!((relative_luminance(segment_rgb(1)) - 0.15249).abs() < 1e-5);
        assert!((contrast_ratio(segment_rgb(1), WHITE) - 5.1854).abs() < 1e-3);
    }

    #[test]
    fn all_sixteen_colours_are_distinct_enough() {
        // Squared RGB distance. The closest pair is the two greys: 31^2 + 19^2 + 5^2 = 1347;
        // the closest segment pair is bluish green #009E73 vs teal #1F8F8F:
        // 31^2 + 15^2 + 28^2 = 1970.
        let all = all_colours();
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                let d: i32 = (0..3).map(|c| (i32::from(a[c]) - i32::from(b[c])).pow(2)).sum();
                assert!(d >= 1300, "{} and {} too close ({d})", hex(*a), hex(*b));
            }
        }
    }

    #[test]
    fn segments_start_at_one_and_wrap_after_fourteen() {
        assert_eq!(segment_rgb(1), [0x00, 0x72, 0xB2]);
        assert_eq!(segment_rgb(0), segment_rgb(1));
        assert_eq!(segment_rgb(14), [0xA3, 0x5D, 0xC9]);
        assert_eq!(segment_rgb(15), segment_rgb(1));
    }

    #[test]
    fn hex_and_u32_forms() {
        assert_eq!(hex([0x00, 0x72, 0xB2]), "#0072B2");
        assert_eq!(rgb_u32([0x00, 0x72, 0xB2]), 0x0072B2);
        assert_eq!(text_on(segment_rgb(2)), WHITE);
    }
}
