//! The report's look: cell formats, title and header rows, segment-coloured cells.
//!
//! One [`Styles`] is built per workbook so every sheet uses the same fonts, number formats and
//! colours; segment colours come from [`crate::palette`] so they match the desktop app.

use rust_xlsxwriter::{
    Chart, ChartFont, ChartFormat, ChartLine, ChartSolidFill, Color, Format, FormatAlign,
    FormatBorder, Worksheet, XlsxError,
};

use crate::palette;

/// Dark blue-grey of titles and header fills.
pub const INK: u32 = 0x1F3A4D;
/// Light fill behind key/value labels and highlighted rows.
pub const PALE: u32 = 0xEEF2F5;
/// Hairline borders of tables.
pub const RULE: u32 = 0xC9D1D8;
/// Fill of the chosen row (K sweep).
pub const HIGHLIGHT: u32 = 0xFFF2CC;
/// Muted text of notes.
pub const MUTED: u32 = 0x5B6770;

/// Data-bar fills: light enough that the number on top stays readable.
pub const BAR_COOL: u32 = 0x9DC3E6;
pub const BAR_WARM: u32 = 0xF4C77D;

/// Number format: counts.
pub const COUNT: &str = "#,##0";
/// Number format: shares.
pub const PERCENT: &str = "0.0%";
/// Number format: days.
pub const DAYS: &str = "0.0";
/// Number format: general decimals (silhouette, ratios, medians).
pub const DECIMAL: &str = "0.00";
/// Number format: three decimals (metrics).
pub const METRIC: &str = "0.000";

/// The formats every sheet uses.
pub struct Styles {
    pub title: Format,
    pub subtitle: Format,
    pub section: Format,
    pub header: Format,
    pub header_wrap: Format,
    pub text: Format,
    pub wrap: Format,
    pub note: Format,
    pub warning: Format,
    pub label: Format,
    pub count: Format,
    pub percent: Format,
    pub days: Format,
    pub decimal: Format,
    pub metric: Format,
    pub highlight_metric: Format,
    pub highlight_count: Format,
    pub sentence: Format,
    pub mono: Format,
}

impl Styles {
    pub fn new() -> Self {
        let cell = || {
            Format::new()
                .set_border_bottom(FormatBorder::Hair)
                .set_border_bottom_color(Color::RGB(RULE))
                .set_align(FormatAlign::VerticalCenter)
        };
        let number = |fmt: &str| cell().set_num_format(fmt);
        Styles {
            title: Format::new().set_bold().set_font_size(18).set_font_color(Color::RGB(INK)),
            subtitle: Format::new().set_italic().set_font_color(Color::RGB(MUTED)),
            section: Format::new()
                .set_bold()
                .set_font_size(13)
                .set_font_color(Color::RGB(INK))
                .set_border_bottom(FormatBorder::Medium)
                .set_border_bottom_color(Color::RGB(INK)),
            header: header_format(),
            header_wrap: header_format().set_text_wrap(),
            text: cell(),
            wrap: cell().set_text_wrap().set_align(FormatAlign::Top),
            note: Format::new().set_italic().set_font_color(Color::RGB(MUTED)),
            warning: Format::new()
                .set_bold()
                .set_font_color(Color::RGB(0x9C2A00))
                .set_background_color(Color::RGB(0xFDECE3))
                .set_text_wrap()
                .set_align(FormatAlign::VerticalCenter),
            label: cell().set_bold().set_background_color(Color::RGB(PALE)),
            count: number(COUNT),
            percent: number(PERCENT),
            days: number(DAYS),
            decimal: number(DECIMAL),
            metric: number(METRIC),
            highlight_metric: number(METRIC).set_bold().set_background_color(Color::RGB(HIGHLIGHT)),
            highlight_count: number(COUNT).set_bold().set_background_color(Color::RGB(HIGHLIGHT)),
            sentence: Format::new().set_text_wrap().set_align(FormatAlign::Top),
            mono: cell().set_font_name("Consolas"),
        }
    }

    /// A bold cell filled with a palette colour, white text: segment labels.
    pub fn swatch(&self, rgb: [u8; 3]) -> Format {
        let text = palette::text_on(rgb);
        self.text
            .clone()
            .set_bold()
            .set_background_color(Color::RGB(palette::rgb_u32(rgb)))
            .set_font_color(Color::RGB(palette::rgb_u32(text)))
    }

    /// The number format for a feature, chosen from its name (days, shares, counts).
    pub fn for_feature(&self, feature: &str) -> &Format {
        if feature.contains("days") || feature.contains("timing") {
            &self.days
        } else {
            &self.decimal
        }
    }
}

fn header_format() -> Format {
    Format::new()
        .set_bold()
        .set_font_color(Color::White)
        .set_background_color(Color::RGB(INK))
        .set_align(FormatAlign::VerticalCenter)
        .set_border(FormatBorder::Thin)
        .set_border_color(Color::RGB(INK))
}

/// Title in A1 and a subtitle in A2.
pub fn write_title(
    sheet: &mut Worksheet,
    styles: &Styles,
    title: &str,
    subtitle: &str,
) -> Result<(), XlsxError> {
    page_setup(sheet);
    sheet.set_row_height(0, 30)?;
    sheet.write_string_with_format(0, 0, title, &styles.title)?;
    sheet.write_string_with_format(1, 0, subtitle, &styles.subtitle)?;
    Ok(())
}

/// Print setup shared by every sheet: landscape A4, one page wide, a footer with the sheet
/// name and page number.
pub fn page_setup(sheet: &mut Worksheet) {
    sheet
        .set_landscape()
        .set_paper_size(9)
        .set_print_fit_to_pages(1, 0)
        .set_margins(0.4, 0.4, 0.5, 0.5, 0.3, 0.3)
        .set_footer("&L&8ReturnScope&C&8&A&R&8Page &P of &N");
}

/// A row of header cells starting at `(row, first_col)`.
pub fn write_header(
    sheet: &mut Worksheet,
    styles: &Styles,
    row: u32,
    first_col: u16,
    headers: &[&str],
) -> Result<(), XlsxError> {
    for (i, h) in headers.iter().enumerate() {
        sheet.write_string_with_format(row, first_col + i as u16, *h, &styles.header_wrap)?;
    }
    Ok(())
}

/// Writes a number, or leaves the cell blank (with its format) for NaN / infinite / missing.
pub fn write_opt_number(
    sheet: &mut Worksheet,
    row: u32,
    col: u16,
    value: Option<f64>,
    format: &Format,
) -> Result<(), XlsxError> {
    match value {
        Some(v) if v.is_finite() => sheet.write_number_with_format(row, col, v, format)?,
        _ => sheet.write_blank(row, col, format)?,
    };
    Ok(())
}

/// Column widths, in characters, from `first_col` on.
pub fn set_widths(sheet: &mut Worksheet, first_col: u16, widths: &[f64]) -> Result<(), XlsxError> {
    for (i, w) in widths.iter().enumerate() {
        sheet.set_column_width(first_col + i as u16, *w)?;
    }
    Ok(())
}

/// Common chart styling: font, title, no border clutter.
pub fn style_chart(chart: &mut Chart, title: &str) {
    chart
        .title()
        .set_name(title)
        .set_font(ChartFont::new().set_size(12).set_bold().set_color(Color::RGB(INK)));
    chart
        .chart_area()
        .set_format(ChartFormat::new().set_border(ChartLine::new().set_color(Color::RGB(RULE))));
    chart.legend().set_font(ChartFont::new().set_size(9));
}

/// A solid fill in a palette colour, for series and points.
pub fn fill(rgb: [u8; 3]) -> ChartFormat {
    let colour = Color::RGB(palette::rgb_u32(rgb));
    ChartFormat::new()
        .set_solid_fill(ChartSolidFill::new().set_color(colour))
        .set_border(ChartLine::new().set_color(colour))
        .clone()
}

/// A line in a palette colour.
pub fn line(rgb: u32, width: f64) -> ChartFormat {
    ChartFormat::new()
        .set_line(ChartLine::new().set_color(Color::RGB(rgb)).set_width(width))
        .clone()
}
