//! UI tests of "the app reads well at a glance" and of the app's trust items: the k-distance curve
//! before the first run, notices that fade, histograms of long-tailed features, reopening a
//! clustered analysis, one analysis per input, settings kept, the map job beside the page and
//! actions chosen during a stage.

use super::*;
use crate::app::notices::FADING_SECONDS;
use crate::app::pages::load::{ANALYSES_HEADING, INTRODUCTION};
use crate::app::pages::report::RETURNED_UNITS_HEADER;
use crate::pipeline::config::EpsSetting;
use crate::pipeline::progress::Progress;

/// Write `customers` customers to `csv`: customer c has `orders(c)` orders of one line each
/// (every 4th line returned).
fn write_orders_csv_with(csv: &Path, customers: usize, orders: impl Fn(usize) -> usize) {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::fs::File::create(csv).unwrap());
    writeln!(out, "{}", crate::pipeline::model::REQUIRED_COLUMNS.join(",")).unwrap();
    let mut line = 0_usize;
    for c in 0..customers {
        for o in 0..orders(c) {
            line += 1;
            let (year, month, day) = (2022 + o % 2, 1 + (c + o) % 12, 1 + (c * 7 + o) % 28);
            let date = format!("{year}-{month:02}-{day:02} 10:00:00");
            let (qty, flag, rdate, no) = if line.is_multiple_of(4) {
                ("1", "Yes", format!("{year}-{month:02}-{day:02} 18:00:00"), format!("R{line}"))
            } else {
                ("0", "No", String::new(), String::new())
            };
            writeln!(
                out,
                "SO{c}-{o},customer{c}@example.com,{date},{sku},1,{qty},{flag},{rdate},{no},,{cls},{sku},CLASS {cls},BRAND {b}",
                sku = 1000 + (c * 3 + o) % 97,
                cls = 10 + (c + o) % 7,
                b = c % 5,
            )
            .unwrap();
        }
    }
}

/// Build an analysis through the clustering with the pipeline (as `returnscope run` would).
fn clustered_analysis(dir: &Path) -> std::path::PathBuf {
    let csv = dir.join("orders.csv");
    let options = crate::pipeline::sample::SampleOptions { customers: 1_500, seed: 5, clean: true };
    crate::pipeline::sample::write_sample(&csv, &options).unwrap();
    let db = dir.join("clustered.duckdb");
    let config = crate::pipeline::Config::default();
    let analysis = crate::pipeline::Analysis::open(&db, &config).unwrap();
    analysis.ingest(&csv, &config, &Progress::none()).unwrap();
    analysis.validate(&config, &Progress::none()).unwrap();
    analysis.features(&config, &Progress::none()).unwrap();
    analysis.gold(&config, &Progress::none()).unwrap();
    analysis.cluster(&config, &Progress::none(), false).unwrap();
    db
}

#[test]
fn the_k_distance_curve_and_the_eps_preview_are_on_the_cluster_page_before_the_first_run() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path());
    open_analysis_with_features(&mut h, dir.path());
    assert_eq!(h.state().current_step(), Step::Cluster);
    step_until(&mut h, "the k-distance curve", |h| h.state().cluster_page().curve.is_some());
    assert!(h.state().cluster_view().is_none(), "no segmentation yet");
    assert!(h.query_by_label("Outliers: k-distance curve").is_some(), "the curve's title");
    assert!(h.query_by_role_and_label(egui::accesskit::Role::Slider, EPS_SLIDER).is_some());
    let curve = h.state().cluster_page().curve.clone().unwrap();
    assert!(curve.k_distance.len() > 100 && curve.k_distance.is_sorted());
    assert!(curve.auto_eps > 0.0);
    // The preview of phase 1 at the automatic eps, on every customer, before any run.
    step_until(&mut h, "the eps preview", |h| h.state().cluster_page().preview.is_some());
    let preview = h.state().cluster_page().preview.unwrap();
    assert_eq!(preview.eps, curve.auto_eps);
    assert_eq!(preview.points, curve.customers);
    assert!(h.query_by_label_contains("Preview: ").is_some(), "the preview is shown");
    // Moving eps previews the new value, still before the first run.
    h.get_by_role_and_label(egui::accesskit::Role::Slider, EPS_SLIDER)
        .set_value_accesskit(curve.auto_eps * 1.5);
    step_until(&mut h, "the preview at the new eps", |h| {
        h.state().cluster_page().preview.is_some_and(|p| p.eps != curve.auto_eps)
    });
    assert!(h.state().config().dbscan.eps != EpsSetting::Auto, "eps set by hand");
    step_until_idle(&mut h, "the previews");
    run_clustering(&mut h);
    let eps = h.state().cluster_view().unwrap().data.eps;
    assert!((eps - curve.auto_eps * 1.5).abs() < 0.001, "the run used the eps chosen first");
}

#[test]
fn an_information_notice_fades_after_its_time() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path());
    for line in INTRODUCTION {
        assert!(h.query_by_label(line).is_some(), "the first look says what the app does");
    }
    h.get_by_label(SAMPLE_BUTTON).click_accesskit();
    step_until(&mut h, "the sample's notice", |h| {
        h.state().notices().iter().any(|n| n.text.starts_with("Sample data"))
    });
    assert!(h.query_by_label_contains("Sample data:").is_some(), "the notice is shown");
    // Each harness step is 1/4 s: after the notice's time it is gone without a click.
    h.run_steps((FADING_SECONDS * 4.0) as usize + 2);
    assert!(h.state().notices().iter().all(|n| !n.text.starts_with("Sample data")));
    assert!(h.query_by_label_contains("Sample data:").is_none(), "the notice faded");
}

#[test]
fn sample_data_shows_the_cleaning_at_work() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path());
    h.get_by_label(SAMPLE_BUTTON).click_accesskit();
    step_until(&mut h, "the sample preview", |h| {
        h.query_by_label(LOAD_BUTTON).is_some() && !h.state().has_jobs()
    });
    h.get_by_label(LOAD_BUTTON).click_accesskit();
    step_until(&mut h, "load and validate", |h| {
        h.state().current_step() == Step::Validate && !h.state().has_jobs()
    });
    let quality = h.state().quality_report().unwrap();
    let cleaned: Vec<_> = quality.counts.iter().filter(|c| c.count > 0).collect();
    assert!(cleaned.len() >= 5, "several cleaning rules fire: {cleaned:?}");
    assert!(quality.count("rejected_bad_order_date") > 0);
}

#[test]
fn a_long_tailed_feature_s_histogram_has_more_than_3_bins_holding_customers() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("long_tail.csv");
    // 1,500 customers with 1 to 10 orders, and every 100th with 300: orders per customer run
    // from 1 to 300 with 99 % at 10 or fewer, as in real extracts.
    write_orders_csv_with(&csv, 1_500, |c| if c % 100 == 99 { 300 } else { 1 + c % 10 });
    let mut h = harness(dir.path());
    preview(&mut h, &csv);
    walk_from_preview_to_features(&mut h);
    // The histogram shows the first feature, orders per customer, when the page opens.
    let view = h.state().features_view().unwrap();
    let selected = &view.table.columns[view.selected];
    assert_eq!(selected, "sales_order_no_nunique");
    let hist = view.histogram_shown().expect("the histogram is drawn");
    let holding = hist.bins.iter().filter(|b| b.2 > 0).count();
    assert!(holding > 3, "{holding} bins hold customers: {:?}", hist.bins);
    let overflow = hist.overflow.expect("the long tail has its own bar");
    assert_eq!(overflow.max, 300.0);
    assert!(hist.median.is_some_and(|m| (1.0..=10.0).contains(&m)));
    assert!(h.query_by_label_contains("The last bar gathers the").is_some());
}

#[test]
fn reopening_a_clustered_analysis_restores_the_cluster_and_report_pages_step_by_step() {
    let dir = tempfile::tempdir().unwrap();
    let db = clustered_analysis(dir.path());

    // The reopen reports its steps, in order.
    let messages = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = messages.clone();
    let progress = Progress::new(
        move |u| sink.lock().unwrap().push(u.message),
        crate::pipeline::progress::CancelToken::new(),
    );
    let config = crate::pipeline::Config::default();
    drop(crate::app::tasks::restore(db.clone(), &config, &progress));
    let messages = messages.lock().unwrap().clone();
    let steps: Vec<_> = crate::app::tasks::REOPEN_STEPS.iter().map(|(_, what)| *what).collect();
    assert_eq!(messages.len(), steps.len() + 1, "{messages:?}");
    for (message, step) in messages.iter().zip(&steps) {
        assert!(message.ends_with(step), "{message} is step {step}");
    }

    let mut h = harness(dir.path());
    h.state_mut().open_analysis(db);
    step_until_idle(&mut h, "the reopened analysis");
    assert_eq!(h.state().step_state(Step::Cluster), StepState::Done);
    h.get_by_label(&Step::Cluster.bar_label()).click_accesskit();
    h.run_steps(2);
    assert_eq!(h.state().current_step(), Step::Cluster);
    let view = h.state().cluster_view().expect("the segments are back");
    let k = view.data.chosen_k;
    assert!(h.query_by_label(&k_button(k)).is_some(), "the K sweep is back");
    for (label, archetype) in view.archetypes() {
        let name = if label == archetype { label } else { format!("{label} · {archetype}") };
        assert!(h.query_all_by_label(&name).next().is_some(), "{name} shown");
    }
    h.get_by_label(cluster::NEXT_BUTTON).click_accesskit();
    h.run_steps(2);
    assert_eq!(h.state().current_step(), Step::Report);
    assert!(is_enabled(&h, SAVE_BUTTON) && is_enabled(&h, EXPORT_BUTTON));
    assert!(h.query_by_label(RETURNED_UNITS_HEADER).is_some(), "the header says what it shares");
}

#[test]
fn two_csvs_with_the_same_name_get_their_own_analyses_listed_with_their_folders() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut h = harness(&data);
    for month in ["jan", "feb"] {
        let csv = dir.path().join(month).join("orders.csv");
        std::fs::create_dir_all(csv.parent().unwrap()).unwrap();
        write_orders_csv(&csv, 40);
        preview(&mut h, &csv);
        h.get_by_label(LOAD_BUTTON).click_accesskit();
        step_until(&mut h, "load and validate", |h| {
            h.state().current_step() == Step::Validate && !h.state().has_jobs()
        });
    }
    let analyses: Vec<_> = std::fs::read_dir(data.join("analyses"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".duckdb"))
        .collect();
    assert_eq!(analyses.len(), 2, "one analysis per input: {analyses:?}");
    assert_eq!(h.state().analyses().len(), 2);
    h.get_by_label(&Step::Load.bar_label()).click_accesskit();
    h.run_steps(2);
    assert!(h.query_by_label(ANALYSES_HEADING).is_some());
    for month in ["feb", "jan"] {
        let folder = dir.path().join(month).display().to_string();
        assert!(h.query_by_label(&folder).is_some(), "{folder} listed");
    }
    // The first listed is the latest, February; a click reopens it.
    h.query_all_by_label("orders.csv").next().unwrap().click_accesskit();
    step_until_idle(&mut h, "the reopened analysis");
    assert_eq!(h.state().analyses()[0].source, dir.path().join("feb").join("orders.csv"));
    assert_eq!(h.state().step_state(Step::Validate), StepState::Done);
}

#[test]
fn cluster_page_settings_are_kept_for_the_next_session() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path());
    open_analysis_with_features(&mut h, dir.path());
    // The first "automatic eps" box is phase 1's (the second is the micro-segments').
    h.query_all_by_label(cluster::EPS_AUTO).next().unwrap().click_accesskit();
    h.run_steps(2);
    assert_eq!(h.state().config().dbscan.eps, EpsSetting::Value(1.0));
    step_until_idle(&mut h, "the previews");
    h.state_mut().save_settings();
    drop(h);

    let h = harness(dir.path());
    assert_eq!(h.state().config().dbscan.eps, EpsSetting::Value(1.0), "kept");
    let saved = crate::app::settings::Settings::load(&dir.path().join("settings.json"));
    assert_eq!(saved.cluster.unwrap().eps, EpsSetting::Value(1.0));
}

#[test]
fn the_map_job_leaves_the_page_usable_and_another_k_waits_for_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path());
    open_analysis_with_features(&mut h, dir.path());
    step_until_idle(&mut h, "the curve and previews");
    h.get_by_label(RUN_BUTTON).click_accesskit();
    step_until(&mut h, "the segments", |h| h.state().cluster_view().is_some());
    assert!(h.state().cluster_page().map_running, "the map is being computed");
    let k = h.state().cluster_view().unwrap().data.chosen_k;
    let other = if k == 3 { 4 } else { k - 1 };
    assert!(is_enabled(&h, &k_button(other)), "another K can be chosen while the map runs");
    assert!(is_enabled(&h, cluster::NEXT_BUTTON), "Continue is not locked by the map");
    h.get_by_label(&k_button(other)).click_accesskit();
    step_until(&mut h, "the re-segmentation", |h| {
        h.state().cluster_view().is_some_and(|v| v.data.chosen_k == other) && !h.state().has_jobs()
    });
    assert_no_errors(&h);
    assert!(h.state().cluster_view().unwrap().scatter.has_umap(), "the map was made again");
}

#[test]
fn a_file_chosen_while_a_stage_runs_opens_when_it_ends() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.csv");
    write_orders_csv(&big, 20_000);
    let next = dir.path().join("next.csv");
    write_orders_csv(&next, 40);
    let mut h = harness(dir.path());
    preview(&mut h, &big);
    h.get_by_label(LOAD_BUTTON).click_accesskit();
    step_until(&mut h, "the load to start", |h| h.state().is_busy());
    // What a file dialog returns while the load runs.
    h.state_mut().open_csv(next.clone());
    h.run_steps(2);
    assert!(h.query_by_label_contains("will start when the running step finishes").is_some());
    step_until(&mut h, "the load, then the queued preview", |h| {
        h.state().previewed_csv() == Some(next.as_path()) && !h.state().has_jobs()
    });
    assert_no_errors(&h);
    assert_eq!(h.state().step_state(Step::Validate), StepState::Done, "the load finished");
    assert!(h.query_by_label(LOAD_BUTTON).is_some(), "the chosen file is previewed");
}
