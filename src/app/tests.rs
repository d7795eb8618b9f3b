//! UI tests that drive the real app through egui_kittest (AccessKit queries, no GPU): jobs run on
//! their threads, and the harness is stepped until their results arrive.
//!
//! They cover the whole wizard: load -> validate -> features -> cluster (another K, the eps
//! preview) -> a saved report that is opened again.

use crate::app::ReturnScopeApp;
use crate::app::cluster_view::MapKind;
use crate::app::pages::cluster::{self, EPS_SLIDER, RUN_BUTTON, UMAP_CHOICE, k_button};
use crate::app::pages::features::NEXT_BUTTON;
use crate::app::pages::load::{LOAD_BUTTON, SAMPLE_BUTTON};
use crate::app::pages::report::{EXPORT_BUTTON, SAVE_BUTTON};
use crate::app::pages::validate::{BUILD_FEATURES_BUTTON, CONTINUE_ANYWAY};
use crate::app::shell::{CANCEL_BUTTON, DELETE_CONFIRM_BUTTON, DELETE_MENU, NoticeKind};
use crate::app::wizard::{Step, StepState};
use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use std::path::Path;
use std::time::{Duration, Instant};

/// Longest wait for one job in a test (the dev profile is slower than release).
const JOB_TIMEOUT: Duration = Duration::from_secs(120);

pub(super) fn harness(data_dir: &Path) -> Harness<'static, ReturnScopeApp> {
    Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        // Plot and table internals carry unnamed nodes; names of our own widgets are asserted below.
        .with_accessibility_check(false)
        .build_ui_state(
            |ui, app: &mut ReturnScopeApp| app.show(ui),
            ReturnScopeApp::new_for_test(data_dir),
        )
}

/// Step the harness until `done` holds, failing after [`JOB_TIMEOUT`].
pub(super) fn step_until(
    h: &mut Harness<'_, ReturnScopeApp>,
    what: &str,
    done: impl Fn(&Harness<'_, ReturnScopeApp>) -> bool,
) {
    let deadline = Instant::now() + JOB_TIMEOUT;
    loop {
        h.step();
        if done(h) {
            h.run_steps(2); // let the page lay itself out (tables size columns on their first frame)
            return;
        }
        let notices: Vec<String> = h.state().notices().iter().map(|n| n.text.clone()).collect();
        let failed = h.state().notices().iter().any(|n| n.kind == NoticeKind::Error);
        assert!(!failed, "an error was shown while waiting for {what}: {notices:?}");
        let (step, busy) = (h.state().current_step(), h.state().has_jobs());
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what} (on {step:?}, jobs running: {busy}); notices: {notices:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Step until no job runs, then check that no error was reported.
fn step_until_idle(h: &mut Harness<'_, ReturnScopeApp>, what: &str) {
    step_until(h, what, |h| !h.state().has_jobs());
}

pub(super) fn assert_no_errors(h: &Harness<'_, ReturnScopeApp>) {
    let errors: Vec<_> = h
        .state()
        .notices()
        .iter()
        .filter(|n| n.kind == NoticeKind::Error)
        .map(|n| n.text.clone())
        .collect();
    assert!(errors.is_empty(), "errors shown: {errors:?}");
}

fn is_enabled(h: &Harness<'_, ReturnScopeApp>, label: &str) -> bool {
    !h.get_by_label(label).accesskit_node().is_disabled()
}

/// Preview `csv` (as a drop would) and wait for the preview.
fn preview(h: &mut Harness<'_, ReturnScopeApp>, csv: &Path) {
    h.state_mut().open_csv(csv.to_path_buf());
    step_until(h, "the preview", |h| !h.state().is_busy());
    step_until_idle(h, "the preview");
}

/// Write `customers` customers x 3 orders x 2 lines of well-formed order lines (every 5th line
/// returned) to `csv`; independent of the sample generator.
fn write_orders_csv(csv: &Path, customers: usize) {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::fs::File::create(csv).unwrap());
    writeln!(out, "{}", crate::pipeline::model::REQUIRED_COLUMNS.join(",")).unwrap();
    let mut line = 0_usize;
    for c in 0..customers {
        for o in 0..3 {
            let (month, day) = (1 + (c + 4 * o) % 12, 1 + (c * 7 + o) % 28);
            for l in 0..2 {
                line += 1;
                let returned = line.is_multiple_of(5);
                let (qty, flag, date, no) = if returned {
                    ("1", "Yes", format!("2023-{month:02}-{day:02} 18:00:00"), format!("R{line}"))
                } else {
                    ("0", "No", String::new(), String::new())
                };
                writeln!(
                    out,
                    "SO{c}-{o},customer{c}@example.com,2023-{month:02}-{day:02} 10:00:00,{sku},1,{qty},{flag},{date},{no},,{cls},{sku},CLASS {cls},BRAND {b}",
                    sku = 1000 + (c * 3 + l) % 97,
                    cls = 10 + (c + l) % 7,
                    b = c % 5,
                )
                .unwrap();
            }
        }
    }
}

#[test]
fn a_click_lands_when_a_notice_appears_above_the_page_in_the_same_frame() {
    // A notice posted (or faded) between the frame a click aims at and the frame that handles
    // it must not move the page's widgets to other ids: CI once lost the Load click this way,
    // when the sample data's notice faded while the machine was slow.
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("orders.csv");
    write_orders_csv(&csv, 20);
    let mut h = harness(dir.path());
    preview(&mut h, &csv);
    assert!(h.state().notices().is_empty());
    h.get_by_label(LOAD_BUTTON).click_accesskit();
    h.state_mut().notify(NoticeKind::Info, "A notice that arrives with the click");
    h.run_steps(2); // the click's frame, then the frame that starts its action
    assert!(
        h.state().is_busy() || h.state().current_step() == Step::Validate,
        "the Load click was lost when a notice appeared above the page"
    );
}

#[test]
fn a_csv_goes_from_load_to_features_by_clicking() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("orders.csv");
    write_orders_csv(&csv, 1_500); // above the default minimum of 1,000 segmentable customers
    let mut h = harness(dir.path());
    preview(&mut h, &csv);
    walk_from_preview_to_features(&mut h);
}

#[test]
fn sample_data_goes_through_the_whole_wizard_to_a_saved_report() {
    // As `run_app` does at start-up: DuckDB's own files are created owner-only too.
    crate::pipeline::private_files::restrict_process_umask();
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path());
    h.get_by_label(SAMPLE_BUTTON).click_accesskit();
    // Sample data -> preview (two jobs in a row).
    step_until(&mut h, "the sample preview", |h| {
        h.query_by_label(LOAD_BUTTON).is_some() && !h.state().has_jobs()
    });
    walk_from_preview_to_features(&mut h);

    // Features -> Cluster -> segment with the defaults.
    h.get_by_label(NEXT_BUTTON).click_accesskit();
    h.run_steps(2);
    assert_eq!(h.state().current_step(), Step::Cluster);
    run_clustering(&mut h);
    let view = h.state().cluster_view().unwrap();
    let k = view.data.chosen_k;
    assert!((3..=14).contains(&k), "K in the default range: {k}");
    // Every segment's archetype is on the page (legend, bars, heatmap, card).
    for (label, archetype) in view.archetypes() {
        let name = if label == archetype { label } else { format!("{label} · {archetype}") };
        assert!(h.query_all_by_label(&name).next().is_some(), "{name} shown");
    }
    // The UMAP-style map was computed in the background and can be shown.
    assert!(view.scatter.has_umap(), "the UMAP-style map is ready after its job");
    h.get_by_label(UMAP_CHOICE).click_accesskit();
    h.run_steps(2);
    assert_eq!(h.state().cluster_page().map, MapKind::Umap);

    // Cluster -> Report: save (the path a save dialog would return) and export.
    // The button is below the fold: AccessKit's click needs no scrolling.
    h.get_by_label(cluster::NEXT_BUTTON).click_accesskit();
    h.run_steps(2);
    assert_eq!(h.state().current_step(), Step::Report);
    assert!(is_enabled(&h, SAVE_BUTTON) && is_enabled(&h, EXPORT_BUTTON));
    let report = dir.path().join("out").join("segments.xlsx");
    std::fs::create_dir_all(report.parent().unwrap()).unwrap();
    h.state_mut().save_report_to(report.clone());
    step_until(&mut h, "the saved report", |h| h.state().saved_report().is_some());
    assert_no_errors(&h);
    assert_eq!(h.state().step_state(Step::Report), StepState::Done);
    assert!(h.query_all_by_label_contains("Report saved to").next().is_some());

    // The workbook opens, has every sheet, and one row per customer in the assignments.
    use calamine::{Reader, open_workbook_auto};
    let mut book = open_workbook_auto(&report).expect("the saved report opens");
    let names = book.sheet_names();
    for sheet in crate::pipeline::report::SHEET_NAMES {
        assert!(names.iter().any(|n| n == sheet), "sheet {sheet} in {names:?}");
    }
    let view = h.state().cluster_view().unwrap();
    let (customers, clustered) = (view.data.customers.len(), view.clustered_customers());
    let assignments = book.worksheet_range("Customer Assignments").unwrap();
    assert!(assignments.height() > customers, "a row per customer below the header");

    let csv = dir.path().join("out").join("segments.csv");
    h.state_mut().export_results_to(csv.clone());
    step_until_idle(&mut h, "the export");
    assert_no_errors(&h);
    let lines = std::fs::read_to_string(&csv).unwrap().lines().count();
    assert_eq!(lines, clustered + 1, "header + one line per clustered customer");

    // Customers are pseudonyms (the page's default) and nothing the app made is open to others.
    assert_no_email_in(&report, &csv);
    assert_nothing_shared(dir.path());
    delete_the_analysis_from_the_file_menu(&mut h, dir.path(), &[report, csv]);
}

/// No cell of the workbook and no line of the export holds an e-mail address; customers are
/// named `C-` and 16 hex digits.
fn assert_no_email_in(report: &Path, csv: &Path) {
    use calamine::{Reader, open_workbook_auto};
    let mut book = open_workbook_auto(report).unwrap();
    for sheet in book.sheet_names() {
        let range = book.worksheet_range(&sheet).unwrap();
        assert!(range.cells().all(|(_, _, c)| !c.to_string().contains('@')), "{sheet}");
    }
    let text = std::fs::read_to_string(csv).unwrap();
    assert!(!text.contains('@'), "the export holds an e-mail");
    let first = text.lines().nth(1).unwrap().split(',').next().unwrap();
    assert!(first.starts_with("C-") && first.len() == 18, "{first}");
}

/// Every file and folder under `dir` is readable by its owner only.
fn assert_nothing_shared(dir: &Path) {
    let mut stack = vec![dir.to_path_buf()];
    let mut seen = 0;
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            let shared = crate::pipeline::private_files::is_shared(&path).unwrap();
            assert!(!cfg!(unix) || !shared, "{} is readable by others", path.display());
            if path.is_dir() {
                stack.push(path);
            }
            seen += 1;
        }
    }
    assert!(seen > 5, "the wizard wrote its files under {}", dir.display());
}

/// File > Delete analysis…, confirmed: the analysis file is gone, the CSV and the saved outputs
/// stay, and the app is back on the Load page.
fn delete_the_analysis_from_the_file_menu(
    h: &mut Harness<'_, ReturnScopeApp>,
    dir: &Path,
    kept: &[std::path::PathBuf],
) {
    let db = h.state().analysis_path().unwrap().to_path_buf();
    assert!(db.starts_with(dir) && db.exists());
    h.get_by_label("File").click_accesskit();
    h.run_steps(2);
    h.get_by_label(DELETE_MENU).click_accesskit();
    step_until(h, "the confirmation", |h| h.query_by_label(DELETE_CONFIRM_BUTTON).is_some());
    assert!(db.exists(), "nothing is deleted before the confirmation");
    h.run_steps(2); // the modal settles in place
    h.get_by_label(DELETE_CONFIRM_BUTTON).click_accesskit();
    step_until(h, "the deletion", |h| h.state().analysis_path().is_none() && !h.state().has_jobs());
    assert_no_errors(h);
    assert!(!db.exists(), "{} deleted", db.display());
    assert!(h.query_all_by_label_contains("Deleted the analysis").next().is_some());
    assert!(h.state().analysis_path().is_none());
    assert_eq!(h.state().current_step(), Step::Load);
    for file in kept {
        assert!(file.exists(), "{} kept", file.display());
    }
    assert!(crate::app::backend::sample_csv_path(dir).exists(), "the CSV is not touched");
}

/// Press the Cluster page's run button and wait for the segments and the map.
fn run_clustering(h: &mut Harness<'_, ReturnScopeApp>) {
    h.get_by_label(RUN_BUTTON).click_accesskit();
    step_until(h, "the segmentation and its map", |h| {
        h.state().cluster_view().is_some() && !h.state().has_jobs()
    });
    assert_no_errors(h);
    assert_eq!(h.state().step_state(Step::Cluster), StepState::Done);
}

/// Build an analysis up to the features with the pipeline (as `returnscope run --until features`
/// would) and open it in the app, as File > Open analysis does.
fn open_analysis_with_features(h: &mut Harness<'_, ReturnScopeApp>, dir: &Path) {
    use crate::pipeline::progress::Progress;
    let csv = dir.join("orders.csv");
    let options = crate::pipeline::sample::SampleOptions { customers: 1_500, seed: 3, clean: true };
    crate::pipeline::sample::write_sample(&csv, &options).unwrap();
    let db = dir.join("orders.duckdb");
    let config = crate::pipeline::Config::default();
    {
        let analysis = crate::pipeline::Analysis::open(&db, &config).unwrap();
        analysis.ingest(&csv, &config, &Progress::none()).unwrap();
        analysis.validate(&config, &Progress::none()).unwrap();
        analysis.features(&config, &Progress::none()).unwrap();
    }
    h.state_mut().open_analysis(db);
    step_until(h, "the reopened analysis", |h| {
        h.state().step_state(Step::Features) == StepState::Done && !h.state().has_jobs()
    });
    h.get_by_label(&Step::Cluster.bar_label()).click_accesskit();
    h.run_steps(2);
}

#[test]
fn another_k_on_the_sweep_re_segments_and_moving_eps_updates_the_preview() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path());
    open_analysis_with_features(&mut h, dir.path());
    run_clustering(&mut h);
    let before = h.state().cluster_view().unwrap();
    let (k, sizes_before) = (before.data.chosen_k, segment_sizes(before));
    let mut ids_before = before.scatter.ids.clone();
    ids_before.sort();

    // Another K: the K-means segments change, the outliers do not.
    let other = if k == 3 { 4 } else { k - 1 };
    h.get_by_label(&k_button(other)).click_accesskit();
    step_until(&mut h, "the re-segmentation", |h| {
        h.state().cluster_view().is_some_and(|v| v.data.chosen_k == other) && !h.state().has_jobs()
    });
    assert_no_errors(&h);
    let after = h.state().cluster_view().unwrap();
    assert_eq!(after.groups(), other + 1, "{other} segments and the outliers");
    let sizes_after = segment_sizes(after);
    assert_ne!(sizes_after, sizes_before);
    assert_eq!(
        sizes_after.iter().sum::<u64>(),
        sizes_before.iter().sum::<u64>(),
        "the same customers are segmented"
    );
    let mut ids_after = after.scatter.ids.clone();
    ids_after.sort();
    assert!(ids_after == ids_before, "the same customers are on the map");
    assert!(after.scatter.has_umap(), "the map is kept across K");
    assert!(h.query_by_label_contains(&format!("K={other}: chosen by the user")).is_some());

    // The eps preview: at the run's eps the run's numbers; other eps values are previewed.
    assert!(h.query_by_label_contains("At the run's settings").is_some());
    assert!(h.state().cluster_page().preview.is_none(), "no preview needed at the run's eps");
    let run_eps = h.state().cluster_view().unwrap().data.eps;
    let shown = |p: &crate::app::tasks::DbscanPreview| {
        format!("Preview: {} set aside", crate::app::pages::percent(p.outliers.outlier_share))
    };
    h.get_by_role_and_label(egui::accesskit::Role::Slider, EPS_SLIDER)
        .set_value_accesskit(run_eps * 1.2);
    step_until(&mut h, "the preview at a larger eps", |h| {
        h.state().cluster_page().preview.is_some_and(|p| (p.eps - run_eps * 1.2).abs() < 0.001)
    });
    let first = h.state().cluster_page().preview.unwrap();
    assert!(h.query_by_label_contains(&shown(&first)).is_some(), "the preview is shown");
    h.get_by_role_and_label(egui::accesskit::Role::Slider, EPS_SLIDER)
        .set_value_accesskit(run_eps * 0.6);
    step_until(&mut h, "the preview at the new eps", |h| {
        h.state().cluster_page().preview.is_some_and(|p| (p.eps - run_eps * 0.6).abs() < 0.001)
    });
    let second = h.state().cluster_page().preview.unwrap();
    assert!(
        second.outliers.noise_share > first.outliers.noise_share,
        "a smaller eps leaves more noise: {first:?} -> {second:?}"
    );
    assert_ne!(shown(&first), shown(&second));
    assert!(h.query_by_label_contains(&shown(&second)).is_some(), "the new numbers are shown");
    assert!(h.query_by_label_contains(&shown(&first)).is_none(), "the old ones are gone");
    assert!(h.query_by_label_contains("to use these settings").is_some());
}

fn segment_sizes(view: &crate::app::cluster_view::ClusterView) -> Vec<u64> {
    (0..view.groups()).filter(|&g| !view.row(g).is_outliers()).map(|g| view.row(g).size).collect()
}

/// From a previewed, complete CSV: Load, check the quality table, build features, check a column.
fn walk_from_preview_to_features(h: &mut Harness<'_, ReturnScopeApp>) {
    assert_no_errors(h);
    assert!(is_enabled(h, LOAD_BUTTON), "the file has every required column");
    h.get_by_label(LOAD_BUTTON).click_accesskit();
    step_until(h, "load and validate", |h| {
        h.state().current_step() == Step::Validate && !h.state().has_jobs()
    });
    assert_no_errors(h);
    assert_eq!(h.state().step_state(Step::Load), StepState::Done);

    // The quality table: its header and a count of the cleaning table by name.
    for header in ["Case", "Count", "Share", "What it means", "What was done"] {
        assert!(h.query_by_label(header).is_some(), "quality table header {header} missing");
    }
    assert!(
        h.query_by_label("rejected_bad_order_date").is_some(),
        "quality counts are listed by name"
    );

    if h.query_by_label(CONTINUE_ANYWAY).is_some() {
        h.get_by_label(CONTINUE_ANYWAY).click_accesskit();
        h.run_steps(2);
    }
    assert!(h.query_by_label_contains("Blocking:").is_none(), "no blocking check for this data");
    assert!(is_enabled(h, BUILD_FEATURES_BUTTON), "features can be built (warnings accepted)");
    h.get_by_label(BUILD_FEATURES_BUTTON).click_accesskit();
    step_until(h, "the features", |h| {
        h.state().current_step() == Step::Features && !h.state().has_jobs()
    });
    assert_no_errors(h);
    assert_eq!(h.state().step_state(Step::Features), StepState::Done);
    // A feature column of FEATURES.md (header of the customers table, and the histogram's choice).
    assert!(
        !h.query_all_by_label("sales_order_no_nunique").collect::<Vec<_>>().is_empty(),
        "feature column shown"
    );
    assert!(h.query_by_label(NEXT_BUTTON).is_some());

    // Steps stay reachable: back to Validate and forward again through the step bar.
    h.get_by_label(&Step::Validate.bar_label()).click_accesskit();
    h.run_steps(3);
    assert_eq!(h.state().current_step(), Step::Validate);
    h.get_by_label(&Step::Features.bar_label()).click_accesskit();
    h.run_steps(3);
    assert_eq!(h.state().current_step(), Step::Features);
}

#[test]
fn a_cancelled_load_leaves_the_app_usable() {
    let dir = tempfile::tempdir().unwrap();
    // Big enough that loading takes well over the few frames between Load and Cancel.
    let csv = dir.path().join("big.csv");
    write_orders_csv(&csv, 50_000); // 300,000 lines
    let mut h = harness(dir.path());
    preview(&mut h, &csv);
    h.get_by_label(LOAD_BUTTON).click_accesskit();
    step_until(&mut h, "the load to start", |h| h.state().is_busy());
    // The progress bar says how much memory the load holds, against the analysis's budget.
    let budget = crate::pipeline::memory::MemoryBudget::for_limit("").unwrap();
    let memory_label = format!(" of {}", budget.describe());
    step_until(&mut h, "the load's memory to show", |h| {
        h.query_all_by_label_contains(&memory_label)
            .any(|n| n.accesskit_node().value().is_some_and(|text| text.starts_with("memory ")))
    });
    h.get_by_label(CANCEL_BUTTON).click_accesskit();
    step_until_idle(&mut h, "the cancelled load to stop");

    let notices = h.state().notices();
    assert!(
        notices.iter().any(|n| n.kind == NoticeKind::Info && n.text.contains("cancelled")),
        "the cancellation is reported: {:?}",
        notices.iter().map(|n| &n.text).collect::<Vec<_>>()
    );
    assert_no_errors(&h);
    assert_eq!(h.state().current_step(), Step::Load);
    assert_eq!(h.state().step_state(Step::Validate), StepState::NotDone);

    // Usable afterwards: the same file loads (so the analysis file was released) and validates.
    assert!(is_enabled(&h, LOAD_BUTTON));
    h.get_by_label(LOAD_BUTTON).click_accesskit();
    step_until(&mut h, "the second load", |h| {
        h.state().current_step() == Step::Validate && !h.state().has_jobs()
    });
    assert_no_errors(&h);
    assert!(h.query_by_label("Quality counts").is_some());
}

#[test]
fn escape_cancels_a_running_stage() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("big.csv");
    write_orders_csv(&csv, 50_000);
    let mut h = harness(dir.path());
    preview(&mut h, &csv);
    h.get_by_label(LOAD_BUTTON).click_accesskit();
    step_until(&mut h, "the load to start", |h| h.state().is_busy());
    h.key_press(egui::Key::Escape);
    step_until_idle(&mut h, "the cancelled load to stop");
    assert!(h.state().notices().iter().any(|n| n.text.contains("cancelled")));
    assert_eq!(h.state().current_step(), Step::Load);
}

#[test]
fn a_csv_without_a_required_column_names_it_and_cannot_be_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("no_return_qty.csv");
    // Every required column except RETURN_QTY.
    std::fs::write(
        &csv,
        "SALES_ORDER_NO,CUSTOMER_EMAILID,ORDER_DATE,SKU,SALES_QTY,UNITS_RETURNED_FLAG,RETURN_DATE,RETURN_NO,\
         RETURN_COMMENT,Q_CLS_ID,Q_SKU_ID,CLASS_,BRAND_\n\
         FP1,a@example.com,2022-06-18 10:52:39.000,65959058,1.0000,No,,,,2600005,-627055524,8125:FP SHORTS,FREE PEOPLE\n",
    )
    .unwrap();
    let mut h = harness(dir.path());
    preview(&mut h, &csv);
    assert!(
        h.query_by_label_contains("has no column RETURN_QTY").is_some(),
        "the message names the missing column; notices: {:?}",
        h.state().notices().iter().map(|n| &n.text).collect::<Vec<_>>()
    );
    assert!(h.query_by_label("RETURN_QTY (missing)").is_some());
    assert!(!is_enabled(&h, LOAD_BUTTON), "loading is disabled");
    assert_eq!(h.state().current_step(), Step::Load);
}

#[test]
fn the_step_bar_only_reaches_steps_with_results() {
    let dir = tempfile::tempdir().unwrap();
    let h = harness(dir.path());
    assert!(is_enabled(&h, &Step::Load.bar_label()));
    for step in [Step::Validate, Step::Features, Step::Cluster, Step::Report] {
        assert!(!is_enabled(&h, &step.bar_label()), "{step:?} is not reachable yet");
    }
    assert!(h.query_by_label("No file chosen yet.").is_some());
}

#[test]
fn a_features_table_opens_at_features_from_the_file_menu_and_segments() {
    use crate::app::shell::OPEN_FEATURES_TABLE;
    use crate::pipeline::progress::Progress;
    let dir = tempfile::tempdir().unwrap();
    // A silver table made elsewhere: our own features, exported to Parquet.
    let csv = dir.path().join("orders.csv");
    let options = crate::pipeline::sample::SampleOptions { customers: 1_500, seed: 3, clean: true };
    crate::pipeline::sample::write_sample(&csv, &options).unwrap();
    let table = dir.path().join("lake export.parquet");
    {
        let config = crate::pipeline::Config::default();
        let analysis =
            crate::pipeline::Analysis::open(&dir.path().join("made elsewhere.duckdb"), &config)
                .unwrap();
        analysis.ingest(&csv, &config, &Progress::none()).unwrap();
        analysis.validate(&config, &Progress::none()).unwrap();
        analysis.features(&config, &Progress::none()).unwrap();
        analysis.export_silver(&table, &crate::pipeline::share::Sharing::as_loaded()).unwrap();
    }
    let mut h = harness(dir.path());
    h.get_by_label("File").click_accesskit();
    h.run_steps(2);
    assert!(h.query_by_label(OPEN_FEATURES_TABLE).is_some(), "File menu offers the features table");
    h.state_mut().open_features_table(table.clone());
    step_until(&mut h, "the features table", |h| {
        h.state().step_state(Step::Features) == StepState::Done && !h.state().has_jobs()
    });
    assert_no_errors(&h);
    assert_eq!(h.state().current_step(), Step::Features, "the wizard starts at Features");
    assert_eq!(h.state().step_state(Step::Validate), StepState::Done);
    // Validate shows the job's counts and points on to Features: there is nothing to rebuild.
    h.get_by_label(&Step::Validate.bar_label()).click_accesskit();
    h.run_steps(2);
    assert!(h.query_by_label_contains("its features are already in this analysis").is_some());
    assert!(h.query_by_label(crate::app::pages::validate::BUILD_FEATURES_BUTTON).is_none());
    let db = crate::app::backend::features_analysis_path_for(dir.path(), &table, "lake export");
    assert!(db.is_file(), "{} made", db.display());
    let name = db.file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("lake export features-") && name.ends_with(".duckdb"), "{name}");
    h.get_by_label(&Step::Cluster.bar_label()).click_accesskit();
    h.run_steps(2);
    run_clustering(&mut h);
}

mod glance;
