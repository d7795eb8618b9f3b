//! UI test of "segments over time": a segmented analysis scores a second period from the Load
//! page, the Changes page shows what changed (clicked through egui_kittest), the movers are
//! exported, and the analysis compared with itself shows no change.

use super::tests::{assert_no_errors, harness, step_until};
use crate::app::pages::changes::{
    CLOSE_BUTTON, COMPARE_BUTTON, EXPORT_MOVERS_BUTTON, ONLY_MOVED, SCORE_BUTTON,
};
use crate::app::wizard::Step;
use crate::pipeline::progress::Progress;
use crate::pipeline::sample::{SampleOptions, write_two_periods};
use crate::pipeline::{Analysis, Config};
use egui_kittest::kittest::Queryable;
use std::path::Path;

/// Two periods of 1,500 customers; the first segmented into `q1.duckdb`.
fn segmented_first_period(dir: &Path) {
    let opts = SampleOptions { customers: 1_500, seed: 9, clean: true };
    write_two_periods(&dir.join("q1.csv"), &dir.join("q2.csv"), &opts, 0.3).unwrap();
    let config = Config::default();
    let analysis = Analysis::open(&dir.join("q1.duckdb"), &config).unwrap();
    let p = Progress::none();
    analysis.ingest(&dir.join("q1.csv"), &config, &p).unwrap();
    analysis.validate(&config, &p).unwrap();
    analysis.features(&config, &p).unwrap();
    analysis.gold(&config, &p).unwrap();
    analysis.cluster(&config, &p, false).unwrap();
}

#[test]
fn a_second_period_scored_from_the_load_page_shows_what_changed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    segmented_first_period(d);
    let mut h = harness(d);
    h.state_mut().open_analysis(d.join("q1.duckdb"));
    step_until(&mut h, "the reopened analysis", |h| {
        h.state().cluster_view().is_some() && !h.state().has_jobs()
    });
    // The Load page offers scoring with the open model.
    h.get_by_label(&Step::Load.bar_label()).click_accesskit();
    h.run_steps(2);
    assert!(h.query_by_label(SCORE_BUTTON).is_some(), "the Load page offers scoring");
    h.state_mut().score_csv(d.join("q2.csv")); // what the button's file dialog returns
    step_until(&mut h, "the Changes page", |h| {
        h.state().showing_changes() && !h.state().has_jobs()
    });
    assert_no_errors(&h);
    let changes = h.state().changes_page().unwrap();
    let c = &changes.comparison;
    assert_eq!((c.only_old, c.only_new), (0, 0));
    assert!(c.moved > 0, "the planted movers changed group");
    let moved = c.moved;
    assert!(h.query_by_label("What changed since last time").is_some());
    // The drift table: the top feature is selected; clicking another selects it.
    let top = changes.selected_feature.clone().unwrap();
    let other = c.drift.iter().find(|d| d.feature != top).unwrap().feature.clone();
    h.get_by_label(&other).click_accesskit();
    h.run_steps(2);
    assert_eq!(h.state().changes_page().unwrap().selected_feature.as_deref(), Some(other.as_str()));
    // The movers table lists the movers; unticking the filter lists everyone in both periods.
    assert!(
        h.query_by_label(&format!("{} customers", crate::app::pages::thousands(moved as u64)))
            .is_some()
    );
    h.get_by_label(ONLY_MOVED).click_accesskit();
    h.run_steps(2);
    let in_both = h.state().changes_page().unwrap().comparison.in_both;
    assert!(
        h.query_by_label(&format!("{} customers", crate::app::pages::thousands(in_both as u64)))
            .is_some()
    );
    h.get_by_label(ONLY_MOVED).click_accesskit();
    h.run_steps(2);
    // Export what is listed (the path a save dialog would return).
    assert!(h.query_by_label(EXPORT_MOVERS_BUTTON).is_some());
    let csv = d.join("movers.csv");
    h.state_mut().export_movers_to(csv.clone());
    step_until(&mut h, "the movers export", |h| {
        h.state().changes_page().is_some_and(|c| c.exported.is_some()) && !h.state().has_jobs()
    });
    let text = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(text.lines().count(), moved + 1, "header + one line per mover");
    assert!(text.starts_with("customer_id,old_segment,new_segment,old_archetype,new_archetype"));
    // Back to the wizard; the Report page compares with an earlier analysis: with itself,
    // nobody moves.
    h.get_by_label(CLOSE_BUTTON).click_accesskit();
    h.run_steps(2);
    assert!(!h.state().showing_changes());
    h.get_by_label(&Step::Report.bar_label()).click_accesskit();
    h.run_steps(2);
    assert!(h.query_by_label(COMPARE_BUTTON).is_some(), "the Report page offers a comparison");
    h.state_mut().compare_with(d.join("q1.duckdb"));
    step_until(&mut h, "the comparison with itself", |h| {
        h.state().showing_changes() && !h.state().has_jobs()
    });
    assert_no_errors(&h);
    assert_eq!(h.state().changes_page().unwrap().comparison.moved, 0);
}
