//! "Executive Summary": the dataset in numbers, the headline findings as sentences, one
//! recommended action per segment and a chart of segment sizes.

use rust_xlsxwriter::{Chart, ChartPoint, ChartType, Worksheet, XlsxError};

use super::customers::fmt_count;
use super::data::{ReportData, SegmentRow};
use super::style::{self, Styles};
use crate::pipeline::archetypes::phrases::capitalise;
use crate::pipeline::model::OutlierGroup;

const SHEET: &str = "Executive Summary";
/// The narrative spans columns A..F.
const LAST_COL: u16 = 5;

pub fn write(sheet: &mut Worksheet, data: &ReportData, styles: &Styles) -> Result<(), XlsxError> {
    sheet.set_screen_gridlines(false);
    style::set_widths(sheet, 0, &[31.0, 30.0, 13.0, 10.0, 13.0, 62.0])?;
    style::write_title(
        sheet,
        styles,
        "Customer return segments",
        &format!(
            "{} · as of {} · {} customers in {} segments",
            data.dataset.input_file,
            data.dataset.as_of,
            fmt_count(data.dataset.customers as usize),
            data.chosen_k
        ),
    )?;
    let facts_end = write_facts(sheet, data, styles, 3)?;
    // The size chart sits right of the facts; the findings start below both.
    let chart_height = 70 + 28 * data.segments.len() as u32;
    let chart_end = 3 + chart_height.div_ceil(20);
    let row = write_findings(sheet, data, styles, facts_end.max(chart_end) + 1)?;
    let row = write_outlier_groups(sheet, data, styles, row + 1)?;
    let table_row = row + 1;
    write_actions(sheet, data, styles, table_row)?;
    insert_size_chart(sheet, data, table_row, chart_height)?;
    Ok(())
}

/// One value of the dataset facts block.
enum Fact<'a> {
    Text(&'a str),
    Count(u64),
}

fn write_facts(
    sheet: &mut Worksheet,
    data: &ReportData,
    styles: &Styles,
    mut row: u32,
) -> Result<u32, XlsxError> {
    sheet.merge_range(row, 0, row, 1, "The data", &styles.section)?;
    row += 1;
    let d = &data.dataset;
    let facts = [
        ("Input file", Fact::Text(&d.input_file)),
        ("Rows loaded", Fact::Count(d.rows_loaded)),
        ("Clean order lines", Fact::Count(d.clean_lines)),
        ("Customers", Fact::Count(d.customers)),
        ("Customers segmented (2+ orders)", Fact::Count(d.eligible_customers)),
        ("First order", Fact::Text(&d.first_order_date)),
        ("Last order", Fact::Text(&d.last_order_date)),
        ("Features as of", Fact::Text(&d.as_of)),
    ];
    for (label, fact) in facts {
        sheet.write_string_with_format(row, 0, label, &styles.label)?;
        match fact {
            Fact::Text(text) => sheet.write_string_with_format(row, 1, text, &styles.text)?,
            Fact::Count(n) => sheet.write_number_with_format(row, 1, n as f64, &styles.count)?,
        };
        row += 1;
    }
    Ok(row)
}

fn write_findings(
    sheet: &mut Worksheet,
    data: &ReportData,
    styles: &Styles,
    mut row: u32,
) -> Result<u32, XlsxError> {
    sheet.merge_range(row, 0, row, LAST_COL, "Headline findings", &styles.section)?;
    row += 1;
    for sentence in headline_findings(data) {
        let format =
            if sentence.starts_with("Caution") { &styles.warning } else { &styles.sentence };
        sheet.merge_range(row, 0, row, LAST_COL, &format!("•  {sentence}"), format)?;
        // About 170 characters fit on one line across A..F.
        let lines = (sentence.len() / 170 + 1) as f64;
        sheet.set_row_height(row, 16.0 * lines + 4.0)?;
        row += 1;
    }
    Ok(row)
}

/// The headline findings, one sentence each.
pub fn headline_findings(data: &ReportData) -> Vec<String> {
    let segments: Vec<&SegmentRow> = data.segments.iter().filter(|s| s.segment.is_some()).collect();
    let mut out = Vec::new();
    if segments.is_empty() {
        out.push("No segments were found.".to_string());
    } else {
        out.push(format!(
            "Customers with 2 or more orders fall into {} segments; K = {} was chosen because its \
             segments stay the same when a fifth of the customers is left out.",
            segments.len(),
            data.chosen_k
        ));
    }
    if let Some(largest) = segments.iter().max_by_key(|s| s.size) {
        out.push(format!(
            "The largest segment is {} ({}): {} customers, {:.1}% of all customers.",
            largest.label,
            largest.archetype,
            fmt_count(largest.size as usize),
            100.0 * largest.share
        ));
    }
    // "Returns the most" only for a segment that does: named High Returners (its conditions
    // held) or holding clearly more of the returned units than of the customers.
    let returns_most = |s: &&SegmentRow| {
        s.archetype.starts_with("High Returners") || s.returned_units_share >= 1.25 * s.share
    };
    if let Some(high) = high_return_segment(&segments).filter(returns_most) {
        out.push(format!(
            "{} ({}) returns the most: {:.1}% of customers account for {:.1}% of all returned \
             units.",
            high.label,
            high.archetype,
            100.0 * high.share,
            100.0 * high.returned_units_share
        ));
    }
    if let Some(outliers) = data.segments.iter().find(|s| s.is_outliers()) {
        let sentence = outliers_finding(outliers, &data.outlier_groups);
        if outliers.returned_units_share > 0.5 {
            out.insert(0, sentence);
        } else {
            out.push(sentence);
        }
    }
    if let Some(rest) = data.segments.iter().find(|s| s.is_not_segmented()) {
        out.push(format!(
            "{} customers ({:.1}%) have too few orders to be segmented.",
            fmt_count(rest.size as usize),
            100.0 * rest.share
        ));
    }
    if data.weak_structure {
        let silhouette =
            data.k_sweep.iter().find(|r| r.k == data.chosen_k).and_then(|r| r.silhouette);
        out.push(format!(
            "Caution: the segments are weakly separated (silhouette {}); read them as tendencies \
             rather than distinct groups.",
            silhouette.map_or("unknown".to_string(), |s| format!("{s:.2}"))
        ));
    }
    out
}

/// The outliers in a sentence: how many, their share of returned units, their largest kinds. When
/// they hold most returned units the sentence says so first (and leads the findings).
pub fn outliers_finding(outliers: &SegmentRow, groups: &[OutlierGroup]) -> String {
    let kinds: Vec<String> = groups
        .iter()
        .take(3)
        .map(|g| format!("{} ({})", g.kind.to_lowercase(), fmt_count(g.customers)))
        .collect();
    let kinds = if kinds.is_empty() {
        String::new()
    } else {
        format!(" Mostly {}; each kind has its own action below.", kinds.join(", "))
    };
    let who = format!(
        "{} customers ({:.1}%) set aside as outliers",
        fmt_count(outliers.size as usize),
        100.0 * outliers.share
    );
    if outliers.returned_units_share > 0.5 {
        format!(
            "Most returned units come from outliers: {who} returned {:.1}% of all returned units, \
             more than all segments together.{kinds}",
            100.0 * outliers.returned_units_share
        )
    } else {
        format!(
            "{} hold {:.1}% of returned units.{kinds}",
            capitalise(&who),
            100.0 * outliers.returned_units_share
        )
    }
}

/// "Customers set aside as outliers": one row per kind with its count, share of returned units
/// and action. Returns the next free row.
fn write_outlier_groups(
    sheet: &mut Worksheet,
    data: &ReportData,
    styles: &Styles,
    mut row: u32,
) -> Result<u32, XlsxError> {
    if data.outlier_groups.is_empty() {
        return Ok(row);
    }
    sheet.merge_range(row, 0, row, LAST_COL, "Customers set aside as outliers", &styles.section)?;
    row += 1;
    style::write_header(
        sheet,
        styles,
        row,
        0,
        &[
            "Kind",
            "What makes them unusual",
            "Customers",
            "Of outliers",
            "Share of returned units",
            "Recommended action",
        ],
    )?;
    row += 1;
    for g in &data.outlier_groups {
        sheet.write_string_with_format(
            row,
            0,
            &g.kind,
            &styles.swatch(crate::palette::OUTLIER_RGB),
        )?;
        sheet.write_string_with_format(row, 1, &g.description, &styles.wrap)?;
        sheet.write_number_with_format(row, 2, g.customers as f64, &styles.count)?;
        sheet.write_number_with_format(row, 3, g.share_of_outliers, &styles.percent)?;
        sheet.write_number_with_format(row, 4, g.returned_units_share, &styles.percent)?;
        sheet.write_string_with_format(row, 5, &g.action, &styles.wrap)?;
        let lines = (g.action.len() / 60).max(g.description.len() / 28) + 1;
        sheet.set_row_height(row, 15.0 * lines as f64 + 4.0)?;
        row += 1;
    }
    Ok(row)
}

/// The segment whose archetype says "High Returners", else the one with the largest share of
/// returned units.
pub fn high_return_segment<'a>(segments: &[&'a SegmentRow]) -> Option<&'a SegmentRow> {
    segments.iter().find(|s| s.archetype.contains("High Returners")).copied().or_else(|| {
        segments
            .iter()
            .max_by(|a, b| a.returned_units_share.total_cmp(&b.returned_units_share))
            .copied()
    })
}

fn write_actions(
    sheet: &mut Worksheet,
    data: &ReportData,
    styles: &Styles,
    mut row: u32,
) -> Result<u32, XlsxError> {
    sheet.merge_range(
        row,
        0,
        row,
        LAST_COL,
        "Segments and recommended actions",
        &styles.section,
    )?;
    row += 1;
    style::write_header(
        sheet,
        styles,
        row,
        0,
        &[
            "Segment",
            "Archetype",
            "Customers",
            "Share",
            "Share of returned units",
            "Recommended action",
        ],
    )?;
    row += 1;
    for segment in &data.segments {
        sheet.write_string_with_format(row, 0, &segment.label, &styles.swatch(segment.rgb()))?;
        sheet.write_string_with_format(row, 1, &segment.archetype, &styles.wrap)?;
        sheet.write_number_with_format(row, 2, segment.size as f64, &styles.count)?;
        sheet.write_number_with_format(row, 3, segment.share, &styles.percent)?;
        sheet.write_number_with_format(row, 4, segment.returned_units_share, &styles.percent)?;
        sheet.write_string_with_format(row, 5, &segment.action, &styles.wrap)?;
        let lines = (segment.action.len() / 70 + 1).max(segment.archetype.len() / 30 + 1);
        sheet.set_row_height(row, 15.0 * lines as f64 + 4.0)?;
        row += 1;
    }
    Ok(row)
}

/// A bar chart of segment sizes (from the actions table), each bar in its segment's colour,
/// right of the dataset facts.
fn insert_size_chart(
    sheet: &mut Worksheet,
    data: &ReportData,
    table_row: u32,
    height: u32,
) -> Result<(), XlsxError> {
    if data.segments.is_empty() {
        return Ok(());
    }
    let (first, last) = (table_row + 2, table_row + 1 + data.segments.len() as u32);
    let mut chart = Chart::new(ChartType::Bar);
    style::style_chart(&mut chart, "Customers per segment");
    let points: Vec<ChartPoint> = data
        .segments
        .iter()
        .map(|s| ChartPoint::new().set_format(&mut style::fill(s.rgb())))
        .collect();
    chart
        .add_series()
        .set_name("Customers")
        .set_categories((SHEET, first, 0, last, 0))
        .set_values((SHEET, first, 2, last, 2))
        .set_points(&points)
        .set_gap(60);
    // In a bar chart the y axis holds the categories: reversed, segment 1 is on top.
    chart.y_axis().set_reverse().set_label_interval(1);
    chart.x_axis().set_num_format("#,##0");
    chart.legend().set_hidden();
    chart.set_width(700).set_height(height);
    sheet.insert_chart_with_offset(3, 2, &chart, 30, 0)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn findings_name_the_high_returners_and_the_largest_segment() {
        let data = ReportData::example(3_000, 4);
        let findings = headline_findings(&data);
        let largest = data.segments.iter().filter(|s| s.segment.is_some()).max_by_key(|s| s.size);
        let largest = largest.map(|s| s.label.clone()).unwrap_or_default();
        assert!(
            findings.iter().any(|f| f.starts_with(&format!("The largest segment is {largest} ")))
        );
        assert!(
            findings.iter().any(|f| f.starts_with("Segment 1 (High Returners) returns the most"))
        );
        assert!(findings.iter().any(|f| f.contains("set aside as outliers")));
    }

    fn group(kind: &str, customers: usize, returned_units_share: f64) -> OutlierGroup {
        OutlierGroup {
            kind: kind.into(),
            customers,
            returned_units_share,
            action: "act".into(),
            ..Default::default()
        }
    }

    #[test]
    fn when_outliers_hold_most_returned_units_the_summary_says_so_first() {
        let mut data = ReportData::example(3_000, 4);
        data.outlier_groups = vec![
            group("Extreme returners", 80, 0.6),
            group("Bulk buyers", 40, 0.2),
            group("Unusual mix", 3, 0.01),
        ];
        let outliers = data.segments.iter_mut().find(|s| s.is_outliers()).unwrap();
        outliers.size = 123;
        outliers.share = 0.041;
        outliers.returned_units_share = 0.862;
        let findings = headline_findings(&data);
        assert_eq!(
            findings[0],
            "Most returned units come from outliers: 123 customers (4.1%) set aside as outliers \
             returned 86.2% of all returned units, more than all segments together. Mostly extreme \
             returners (80), bulk buyers (40), unusual mix (3); each kind has its own action below."
        );
        // Holding a minority of returned units, they come after the segments.
        let outliers = data.segments.iter_mut().find(|s| s.is_outliers()).unwrap();
        outliers.returned_units_share = 0.3;
        let findings = headline_findings(&data);
        let at = findings.iter().position(|f| f.contains("set aside as outliers")).unwrap();
        assert!(at > 0);
        assert!(findings[at].starts_with("123 customers (4.1%) set aside as outliers hold 30.0%"));
    }

    #[test]
    fn a_segment_returning_no_more_than_its_share_is_not_said_to_return_the_most() {
        // The real file: the top segment holds 9.8% of returned units with 8.9% of customers.
        let mut data = ReportData::example(500, 3);
        for s in data.segments.iter_mut().filter(|s| s.segment.is_some()) {
            s.archetype = "Frequent Buyers".to_string();
            s.returned_units_share = 1.1 * s.share;
        }
        assert!(!headline_findings(&data).iter().any(|f| f.contains("returns the most")));
    }

    #[test]
    fn without_a_high_returners_archetype_the_largest_return_share_wins() {
        let mut data = ReportData::example(500, 3);
        for s in &mut data.segments {
            s.archetype = "Regular Customers".to_string();
        }
        data.segments[2].returned_units_share = 0.9;
        let segments: Vec<&SegmentRow> =
            data.segments.iter().filter(|s| s.segment.is_some()).collect();
        assert_eq!(high_return_segment(&segments).map(|s| s.label.as_str()), Some("Segment 3"));
    }
}
