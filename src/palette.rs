//! The one colour palette shared by the desktop app and the Excel report.
//!
//! Segment *n* has the same colour in every plot, table and chart, so a reader who learned
//! "Segment 3 is green" in the app finds it green in the workbook too.
//!
//! How the colours were chosen:
//! - **Told apart by everyone, the first ones best.** The hues come from palettes designed for
//!   categorical data (Tol's vibrant blue, ColorBrewer Dark2, Tableau 10, Okabe-Ito, Set1), and
//!   their order was picked greedily: each next colour is the candidate farthest (CIELAB
//!   distance) from those before it and from the two greys, judged in normal vision and in
//!   simulated deuteranopia and protanopia (Machado et al. 2009, full severity). Lightness
//!   alternates (dark green after a light ochre) because lightness is what survives a missing
//!   cone. Measured on this list (test `first_colours_stay_apart_with_colour_vision_deficiency`):
//!   segments 1-5 are at least 17 apart in every view (the old Okabe-Ito order had segments 1
//!   and 5 two blues 15 apart in *normal* vision), 1-8 at least 15, and 1-10 at least 18 in
//!   normal vision.
//! - **Beyond about 8 segments** no categorical palette stays apart for every reader, least of
//!   all at one lightness, so the app and the report always show the segment *label* next to the
//!   colour; beyond 14 the colours repeat.
//! - **Readable on light and dark backgrounds**: every colour, the greys included, lies between
//!   relative luminance (WCAG 2.1) 0.13 and 0.30, which gives a contrast of at least 3:1 (the
//!   WCAG minimum for graphical objects) both against white and against egui's dark panel
//!   (#1B1B1B). Candidates outside were darkened or lightened into that band first.
//! - **Outliers** are a neutral mid grey, **Not segmented** a cooler slate grey: both read as
//!   "not a segment" beside the coloured ones, yet differ from each other.

/// The segment colours, segment 1 first.
pub const SEGMENT_RGB: [[u8; 3]; 14] = [
    [0x00, 0x77, 0xBB], // 1 blue (Tol vibrant)
    [0xBB, 0x8B, 0x01], // 2 ochre (Dark2 mustard, darkened)
    [0x3F, 0x75, 0x37], // 3 green (Tableau green, darkened)
    [0xE1, 0x57, 0x59], // 4 coral red (Tableau red)
    [0x91, 0x8E, 0xBF], // 5 lavender (Dark2 purple, lightened)
    [0x8D, 0x60, 0x00], // 6 brown (Okabe-Ito orange, darkened)
    [0x93, 0x58, 0x5E], // 7 dusty rose (Tableau pink, darkened)
    [0x32, 0x6F, 0x91], // 8 steel blue (Okabe-Ito sky blue, darkened)
    [0x77, 0x9C, 0x7D], // 9 sage (Tol green, lightened)
    [0xB4, 0x84, 0xA7], // 10 mauve (Tableau purple, lightened)
    [0xDC, 0x77, 0x4F], // 11 terracotta (Dark2 orange, lightened)
    [0xE4, 0x1A, 0x1C], // 12 red (Set1 red)
    [0xC3, 0x21, 0x74], // 13 magenta (Dark2 pink, darkened)
    [0xAB, 0x91, 0x31], // 14 mustard (Tableau yellow, darkened)
];

/// Marks drawn over data, not a segment: the chosen eps, the knee, the chosen K, a median
/// (Okabe-Ito's vermillion, the app's highlight on light backgrounds).
pub const ACCENT_RGB: [u8; 3] = [0xD5, 0x5E, 0x00];

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
        assert!((relative_luminance([0x00, 0x72, 0xB2]) - 0.15249).abs() < 1e-5);
        assert!((contrast_ratio([0x00, 0x72, 0xB2], WHITE) - 5.1854).abs() < 1e-3);
    }

    /// sRGB channel to linear light.
    fn linear(c: u8) -> f64 {
        let c = f64::from(c) / 255.0;
        if c <= 0.04045 { c / 12.92 } else { ((c + 0.055) / 1.055).powf(2.4) }
    }

    /// Machado, Oliveira & Fernandes (2009) full-severity simulation matrices (linear RGB).
    const NORMAL: [[f64; 3]; 3] = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
    const DEUTAN: [[f64; 3]; 3] = [
        [0.367322, 0.860646, -0.227968],
        [0.280085, 0.672501, 0.047413],
        [-0.011820, 0.042940, 0.968881],
    ];
    const PROTAN: [[f64; 3]; 3] = [
        [0.152286, 1.052583, -0.204868],
        [0.114503, 0.786281, 0.099216],
        [-0.003882, -0.048116, 1.051998],
    ];

    /// CIELAB (D65) of `rgb` as seen through `vision`.
    fn lab(rgb: [u8; 3], vision: &[[f64; 3]; 3]) -> [f64; 3] {
        let l = rgb.map(linear);
        let [r, g, b] =
            vision.map(|row| (0..3).map(|j| row[j] * l[j]).sum::<f64>().clamp(0.0, 1.0));
        let x = (0.4124564 * r + 0.3575761 * g + 0.1804375 * b) / 0.95047;
        let y = 0.2126729 * r + 0.7151522 * g + 0.0721750 * b;
        let z = (0.0193339 * r + 0.1191920 * g + 0.9503041 * b) / 1.08883;
        let f = |t: f64| {
            if t > 216.0 / 24389.0 { t.cbrt() } else { (24389.0 / 27.0 * t + 16.0) / 116.0 }
        };
        [116.0 * f(y) - 16.0, 500.0 * (f(x) - f(y)), 200.0 * (f(y) - f(z))]
    }

    /// Smallest CIELAB distance (CIE76) between `a` and `b` over the given kinds of vision.
    fn distance(a: [u8; 3], b: [u8; 3], visions: &[&[[f64; 3]; 3]]) -> f64 {
        visions
            .iter()
            .map(|v| {
                let (p, q) = (lab(a, v), lab(b, v));
                (0..3).map(|c| (p[c] - q[c]).powi(2)).sum::<f64>().sqrt()
            })
            .fold(f64::INFINITY, f64::min)
    }

    fn closest_pair(colours: &[[u8; 3]], visions: &[&[[f64; 3]; 3]]) -> f64 {
        let mut closest = f64::INFINITY;
        for (i, a) in colours.iter().enumerate() {
            for b in &colours[i + 1..] {
                closest = closest.min(distance(*a, *b, visions));
            }
        }
        closest
    }

    #[test]
    fn lab_matches_reference_values() {
        // White is L* 100, a* = b* = 0; sRGB #FF0000 is (53.24, 80.09, 67.20) (Lindbloom).
        let white = lab([255, 255, 255], &NORMAL);
        assert!((white[0] - 100.0).abs() < 0.01 && white[1].abs() < 0.01 && white[2].abs() < 0.01);
        let red = lab([255, 0, 0], &NORMAL);
        assert!((red[0] - 53.24).abs() < 0.05, "{red:?}");
        assert!((red[1] - 80.09).abs() < 0.2 && (red[2] - 67.20).abs() < 0.2, "{red:?}");
    }

    #[test]
    fn first_colours_stay_apart_with_colour_vision_deficiency() {
        let every_vision = [&NORMAL, &DEUTAN, &PROTAN];
        assert!(closest_pair(&SEGMENT_RGB[..5], &every_vision) >= 17.0);
        assert!(closest_pair(&SEGMENT_RGB[..8], &every_vision) >= 15.0);
        assert!(closest_pair(&SEGMENT_RGB[..10], &[&NORMAL]) >= 18.0);
        // The issue this order fixes: segments 1 and 5 were two blues 14.8 apart.
        assert!(distance(segment_rgb(1), segment_rgb(5), &[&NORMAL]) > 25.0);
        // Every segment is told from both greys, and the greys from each other.
        for rgb in SEGMENT_RGB {
            for grey in [OUTLIER_RGB, NOT_SEGMENTED_RGB] {
                let d = distance(rgb, grey, &every_vision);
                assert!(d >= 9.0, "{} too close to grey {} ({d:.1})", hex(rgb), hex(grey));
            }
        }
        assert!(distance(OUTLIER_RGB, NOT_SEGMENTED_RGB, &[&NORMAL]) >= 8.0);
    }

    #[test]
    fn segments_start_at_one_and_wrap_after_fourteen() {
        assert_eq!(segment_rgb(1), [0x00, 0x77, 0xBB]);
        assert_eq!(segment_rgb(0), segment_rgb(1));
        assert_eq!(segment_rgb(14), [0xAB, 0x91, 0x31]);
        assert_eq!(segment_rgb(15), segment_rgb(1));
    }

    #[test]
    fn hex_and_u32_forms() {
        assert_eq!(hex([0x00, 0x72, 0xB2]), "#0072B2");
        assert_eq!(rgb_u32([0x00, 0x72, 0xB2]), 0x0072B2);
        assert_eq!(text_on(segment_rgb(2)), WHITE);
    }
}
