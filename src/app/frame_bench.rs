//! Frame-cost benchmark of the Cluster page with 100,000 customers (ignored by default):
//! `cargo test --lib app::frame_bench -- --ignored --nocapture`.
//!
//! Draws the real page (plots, 20,000 drawn points of 100,000, legend, overview) in an
//! egui_kittest harness, with the pointer moving over the map (so the hover search runs), and
//! times each frame's UI pass plus tessellation: the CPU part of a frame that eframe reports as
//! `cpu_usage`. GPU painting is not included. It prints numbers rather than asserting them.

use crate::app::cluster_view::{ClusterView, MapKind};
use crate::app::pages::cluster::{ClusterPage, PageFlags, show};
use crate::pipeline::cluster::{hybrid_cluster, synthetic_blobs};
use crate::pipeline::config::Config;
use crate::pipeline::progress::{CancelToken, Progress};
use crate::pipeline::report::ReportData;
use eframe::egui;
use egui_kittest::Harness;
use std::time::Instant;

struct State {
    page: ClusterPage,
    config: Config,
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

#[test]
#[ignore]
fn cluster_page_frame_time_with_100k_customers() {
    crate::app::jobs::lower_background_priority(); // as run_app does
    let started = Instant::now();
    let mut data = ReportData::example(100_000, 8);
    // The example has no UMAP-style layout: reuse PCA so both maps have points.
    for c in &mut data.customers {
        (c.umap_x, c.umap_y) = (c.pca_x, c.pca_y);
    }
    let view = ClusterView::new(data, [0.3, 0.2], 8);
    println!(
        "view of {} customers built in {:.2} s ({} drawn)",
        view.clustered_customers(),
        started.elapsed().as_secs_f64(),
        view.scatter.drawn.iter().map(Vec::len).sum::<usize>()
    );
    let mut page = ClusterPage::default();
    page.set_view(Box::new(view));
    let mut h = Harness::builder().with_size(egui::vec2(1400.0, 900.0)).build_ui_state(
        |ui, s: &mut State| {
            let flags = PageFlags { stale: false, busy: false };
            show(ui, &mut s.page, &mut s.config, &flags);
        },
        State { page, config: Config::default() },
    );
    h.run_steps(3);
    for map in [MapKind::Pca, MapKind::Umap] {
        measure(&mut h, map, "");
    }
    // The same while a 100,000-customer clustering runs on a worker thread (as in the app).
    let cancel = CancelToken::new();
    let worker = {
        let cancel = cancel.clone();
        std::thread::spawn(move || {
            crate::app::jobs::lower_this_thread_priority(); // as the job runner does
            let (x, _) = synthetic_blobs(100_000, 25, 6, 4.0, 5);
            let progress = Progress::new(|_| {}, cancel);
            let _ = hybrid_cluster(x.view(), &Config::default(), &progress);
        })
    };
    std::thread::sleep(std::time::Duration::from_secs(2)); // into DBSCAN and the sweep
    measure(&mut h, MapKind::Pca, ", clustering 100,000 customers in the background");
    cancel.cancel();
    let _ = worker.join();
}

/// Frame cost of the page on `map` over 120 frames with the pointer sweeping the map.
fn measure(h: &mut Harness<'_, State>, map: MapKind, while_: &str) {
    h.state_mut().page.map = map;
    h.run_steps(2);
    let mut ms = Vec::new();
    for i in 0..120 {
        // Sweep the pointer across the map (the hover search runs on every frame).
        let pos = egui::pos2(200.0 + (i * 7 % 700) as f32, 650.0 + (i * 3 % 200) as f32);
        h.hover_at(pos);
        let t = Instant::now();
        h.step();
        let output = h.output();
        let shapes = output.shapes.clone();
        let _meshes = h.ctx.tessellate(shapes, output.pixels_per_point);
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    ms.sort_by(f64::total_cmp);
    println!(
        "{map:?} map, 100,000 customers{while_}: frame p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms",
        percentile(&ms, 0.5),
        percentile(&ms, 0.95),
        percentile(&ms, 1.0)
    );
}
