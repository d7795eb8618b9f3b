//! Cluster page: the clustering settings (with their defaults and a tooltip each), the k-distance
//! curve with a draggable eps and its instant preview, the K sweep (click a K to re-segment), the
//! segment map (PCA at once, the UMAP-style view when its job finishes, live while it runs) and the
//! segment overview (sizes, profile heatmap, one card per segment).

use super::{Action, heading, percent, stale_banner, thousands};
use crate::app::cluster_view::{ClusterView, MapKind};
use crate::app::plots::{self, row_color, row_name};
use crate::app::tasks::{DbscanPreview, EpsCurve, NoiseEstimate};
use crate::app::wizard::Step;
use crate::pipeline::cluster::core_share_at;
use crate::pipeline::config::{Config, EpsSetting};
use eframe::egui::{self, RichText};

/// Label of the button that runs the clustering the first time.
pub const RUN_BUTTON: &str = "Segment customers";
/// Label of the same button once results exist.
pub const RERUN_BUTTON: &str = "Run again with these settings";
/// Label of the eps slider.
pub const EPS_SLIDER: &str = "DBSCAN eps";
/// Label of the automatic-eps checkbox.
pub const EPS_AUTO: &str = "automatic eps";
/// Label of the button that moves on to the report.
pub const NEXT_BUTTON: &str = "Continue to the report";
/// Label of the map choice for the UMAP-style view.
pub const UMAP_CHOICE: &str = "UMAP-style map";
/// Label of the map choice for PCA.
pub const PCA_CHOICE: &str = "PCA map";

/// Label of the button that re-segments with `k` segments.
pub fn k_button(k: usize) -> String {
    format!("K = {k}")
}

/// The page's own state (the results come from the last clustering job).
#[derive(Default)]
pub struct ClusterPage {
    pub view: Option<Box<ClusterView>>,
    pub map: MapKind,
    /// Groups (segment rows) hidden on the map, by group index.
    pub hidden: Vec<bool>,
    /// The latest exact preview of phase 1 (every customer).
    pub preview: Option<DbscanPreview>,
    /// The latest instant noise estimate (large data only).
    pub estimate: Option<NoiseEstimate>,
    /// The UMAP-style map is being computed.
    pub map_running: bool,
    /// The version of each map's positions whose starting view the plot has taken.
    pub map_bounds_applied: [u64; 2],
    /// Before the first run: phase 1's k-distance curve on the matrix the settings give.
    pub curve: Option<EpsCurve>,
    /// The min_samples the curve was last asked for (so a failure is not retried every frame).
    pub curve_requested: Option<usize>,
    /// Why the curve could not be prepared, if it could not.
    pub curve_error: Option<String>,
}

impl ClusterPage {
    /// Show new results (keeping the user's map choice).
    pub fn set_view(&mut self, view: Box<ClusterView>) {
        self.hidden = vec![false; view.groups()];
        self.map_bounds_applied = [0; 2];
        self.preview = None;
        self.estimate = None;
        if !view.scatter.has_umap() && !self.map_running {
            self.map = MapKind::Pca;
        }
        self.view = Some(view);
    }

    /// Whether (eps, min_samples) are the last run's: its own numbers are exact, no preview.
    pub fn at_run_settings(&self, (eps, min_samples): (f64, usize)) -> bool {
        self.view.as_ref().is_some_and(|v| v.data.eps == eps && v.data.min_samples == min_samples)
    }

    /// The eps the k-distance line shows: the configured one, else the last run's automatic eps
    /// (before the first run, the one the automatic setting would choose).
    pub fn eps_shown(&self, config: &Config) -> Option<f64> {
        match config.dbscan.eps {
            EpsSetting::Value(v) => Some(v),
            EpsSetting::Auto => match &self.view {
                Some(view) => Some(view.data.eps),
                None => self.curve.as_ref().map(|c| c.auto_eps),
            },
        }
    }

    /// Whether the k-distance curve before the first run should be (re)computed for
    /// `min_samples`.
    pub fn wants_curve(&self, min_samples: usize) -> bool {
        self.view.is_none() && self.curve_requested != Some(min_samples)
    }

    /// Forget the curve and the previews (the features changed).
    pub fn forget_curve(&mut self) {
        self.curve = None;
        self.curve_requested = None;
        self.curve_error = None;
        self.preview = None;
        self.estimate = None;
    }

    /// The k-distance curve shown: the last run's, else the one prepared before the first run.
    fn curve_shown(&self) -> Option<CurveShown<'_>> {
        match (&self.view, &self.curve) {
            (Some(view), _) => Some(CurveShown {
                k_distance: &view.data.k_distance,
                knee: view.data.k_distance_knee,
                min_samples: view.data.min_samples,
                eps: view.data.eps,
            }),
            (None, Some(curve)) => Some(CurveShown {
                k_distance: &curve.k_distance,
                knee: curve.knee,
                min_samples: curve.min_samples,
                eps: curve.auto_eps,
            }),
            (None, None) => None,
        }
    }
}

/// The k-distance curve the eps section draws, from a run or from before the first run.
struct CurveShown<'a> {
    k_distance: &'a [f64],
    knee: Option<usize>,
    min_samples: usize,
    /// The run's eps, or the automatic eps before the first run.
    eps: f64,
}

/// Flags the shell passes in.
pub struct PageFlags {
    pub stale: bool,
    pub busy: bool,
}

/// Draw the page.
pub fn show(
    ui: &mut egui::Ui,
    page: &mut ClusterPage,
    config: &mut Config,
    flags: &PageFlags,
) -> Option<Action> {
    egui::ScrollArea::vertical().id_salt("cluster_page").show(ui, |ui| {
        let mut action = None;
        heading(
            ui,
            "Cluster",
            "DBSCAN sets unusual customers aside, K-means finds the segments, DBSCAN inside each \
             segment finds micro-segments. Every customer stays in the results.",
        );
        if flags.stale && page.view.is_some() {
            stale_banner(ui, "Run the clustering again.");
        }
        egui::CollapsingHeader::new(RichText::new("Settings").strong())
            .default_open(page.view.is_none())
            .show(ui, |ui| settings(ui, config));
        let label = if page.view.is_some() { RERUN_BUTTON } else { RUN_BUTTON };
        if ui
            .add_enabled(!flags.busy, egui::Button::new(RichText::new(label).strong()))
            .on_hover_text("Build the clustering matrix and segment the customers with these settings")
            .clicked()
        {
            action = Some(Action::RunClustering);
        }
        ui.add_space(8.0);
        if page.view.is_none() {
            ui.label(
                RichText::new(
                    "No segmentation yet: the defaults suit most data; choose eps on the curve \
                     below if you like, then press the button.",
                )
                .weak(),
            );
            ui.add_space(6.0);
            before_first_run(ui, page, config);
            return action;
        }
        results(ui, page, config, flags).or(action)
    })
    .inner
}

fn settings(ui: &mut egui::Ui, config: &mut Config) {
    egui::Grid::new("cluster_settings").num_columns(3).spacing([12.0, 6.0]).show(ui, |ui| {
        let mut auto = config.dbscan.eps == EpsSetting::Auto;
        ui.label("Outliers (DBSCAN)");
        if ui
            .checkbox(&mut auto, EPS_AUTO)
            .on_hover_text(
                "eps is the neighbourhood radius. Automatic: the 85th percentile of each \
                 customer's distance to its min_samples-th neighbour, so about 15 % at most are \
                 set aside. Untick to set it by hand, or drag the line on the k-distance plot.",
            )
            .changed()
        {
            config.dbscan.eps = if auto { EpsSetting::Auto } else { EpsSetting::Value(1.0) };
        }
        ui.horizontal(|ui| {
            ui.label("min_samples");
            ui.add(egui::DragValue::new(&mut config.dbscan.min_samples).range(2..=200))
                .on_hover_text(
                    "Neighbours (the customer included) a customer needs within eps to be dense. \
                     Default 5. Higher sets more customers aside.",
                );
        });
        ui.end_row();

        ui.label("Segments (K-means)");
        ui.horizontal(|ui| {
            ui.label("K from");
            ui.add(egui::DragValue::new(&mut config.kmeans.k_min).range(2..=30))
                .on_hover_text("Smallest number of segments tried. Default 3.");
            ui.label("to");
            ui.add(egui::DragValue::new(&mut config.kmeans.k_max).range(2..=30))
                .on_hover_text("Largest number of segments tried. Default 14.");
        });
        ui.horizontal(|ui| {
            ui.label("runs per K (n_init)");
            ui.add(egui::DragValue::new(&mut config.kmeans.n_init).range(1..=50)).on_hover_text(
                "K-means starts this many times from different seeds and keeps the best fit. \
                 Default 10.",
            );
        });
        ui.end_row();
        config.kmeans.k_max = config.kmeans.k_max.max(config.kmeans.k_min);

        ui.label("Micro-segments");
        ui.checkbox(&mut config.subcluster.enabled, "find micro-segments").on_hover_text(
            "DBSCAN inside each segment finds tight groups of near-identical customers.",
        );
        ui.horizontal(|ui| {
            let mut auto = config.subcluster.eps == EpsSetting::Auto;
            if ui
                .checkbox(&mut auto, "automatic eps")
                .on_hover_text("Automatic: the same percentile rule inside each segment.")
                .changed()
            {
                config.subcluster.eps =
                    if auto { EpsSetting::Auto } else { EpsSetting::Value(0.3) };
            }
            if let EpsSetting::Value(v) = &mut config.subcluster.eps {
                ui.add(egui::DragValue::new(v).range(0.01..=20.0).speed(0.01))
                    .on_hover_text("Radius inside a segment (standardized units). Seed: 0.3.");
            }
            ui.label("min_samples");
            ui.add(egui::DragValue::new(&mut config.subcluster.min_samples).range(2..=100))
                .on_hover_text("Neighbours a customer needs inside its segment. Default 3.");
        });
        ui.end_row();
    });
}

fn results(
    ui: &mut egui::Ui,
    page: &mut ClusterPage,
    config: &mut Config,
    flags: &PageFlags,
) -> Option<Action> {
    let view = page.view.as_deref()?;
    summary_line(ui, view);
    ui.add_space(6.0);
    let mut action = ui.columns(2, |cols| {
        eps_section(&mut cols[0], page, config);
        sweep_section(&mut cols[1], page, flags.busy || flags.stale)
    });
    ui.add_space(10.0);
    map_section(ui, page);
    ui.add_space(10.0);
    if let Some(view) = page.view.as_deref() {
        overview_section(ui, view);
    }
    ui.add_space(8.0);
    if ui.add_enabled(!flags.busy, egui::Button::new(RichText::new(NEXT_BUTTON).strong())).clicked()
    {
        action = Some(Action::GoTo(Step::Report));
    }
    action
}

fn summary_line(ui: &mut egui::Ui, view: &ClusterView) {
    let d = &view.data;
    let outliers = (0..view.groups()).find(|&g| view.row(g).is_outliers()).map(|g| view.row(g));
    ui.label(
        RichText::new(format!(
            "{} segments of {} customers; {} set aside as outliers ({}).",
            d.chosen_k,
            thousands(view.clustered_customers() as u64),
            thousands(outliers.map_or(0, |o| o.size)),
            percent(d.noise_ratio),
        ))
        .strong(),
    );
    ui.label(format!("Why K = {}: {}", d.chosen_k, d.choice_reason));
    if d.weak_structure {
        ui.colored_label(
            crate::app::theme::warning_color(ui.visuals()),
            "The structure is weak: the segments overlap (low silhouette). Treat them as broad \
             tendencies, not sharp groups.",
        );
    }
}

/// Before the first run: the k-distance curve and the eps preview, or why they are missing.
fn before_first_run(ui: &mut egui::Ui, page: &mut ClusterPage, config: &mut Config) {
    if let Some(err) = &page.curve_error {
        ui.colored_label(crate::app::theme::warning_color(ui.visuals()), err);
        return;
    }
    if page.curve.is_none() {
        ui.label(RichText::new("Preparing the k-distance curve…").italics().weak());
        return;
    }
    ui.columns(2, |cols| eps_section(&mut cols[0], page, config));
}

fn eps_section(ui: &mut egui::Ui, page: &mut ClusterPage, config: &mut Config) {
    let Some(shown) = page.curve_shown() else { return };
    ui.label(RichText::new("Outliers: k-distance curve").strong()).on_hover_text(
        "Each customer's distance to its min_samples-th nearest neighbour, sorted. Customers above \
         the eps line have a sparse neighbourhood; the bend (knee, dot) is a natural eps.",
    );
    let eps = page.eps_shown(config).unwrap_or(shown.eps);
    let max_eps = shown.k_distance.last().copied().unwrap_or(1.0).max(eps) * 1.2;
    if let Some(new_eps) =
        plots::kdistance::show(ui, shown.k_distance, shown.knee, eps, shown.min_samples, 190.0)
    {
        config.dbscan.eps = EpsSetting::Value(round_eps(new_eps));
    }
    let mut value = eps;
    ui.horizontal(|ui| {
        let slider = egui::Slider::new(&mut value, 0.0..=max_eps).text(EPS_SLIDER).max_decimals(3);
        let moved = ui.add(slider).on_hover_text("The neighbourhood radius of phase 1").changed();
        // The slider rounds what it shows: only a real move sets eps by hand.
        if moved && (value - eps).abs() >= 0.0005 {
            config.dbscan.eps = EpsSetting::Value(round_eps(value));
        }
    });
    preview_text(ui, page, config);
}

fn round_eps(eps: f64) -> f64 {
    (eps * 1000.0).round() / 1000.0
}

fn preview_text(ui: &mut egui::Ui, page: &ClusterPage, config: &Config) {
    let Some(shown) = page.curve_shown() else { return };
    let Some(eps) = page.eps_shown(config) else { return };
    let min_samples = config.dbscan.min_samples;
    if min_samples == shown.min_samples {
        let dense = core_share_at(shown.k_distance, eps);
        ui.label(format!(
            "At eps {eps:.3}: {} of customers have a dense neighbourhood.",
            percent(dense)
        ))
        .on_hover_text("Exact, from the k-distance curve");
    }
    let wanted = (eps, min_samples);
    if let Some(view) = page.view.as_deref().filter(|_| page.at_run_settings(wanted)) {
        ui.label(format!(
            "At the run's settings: {} set aside as outliers. Move eps to preview another.",
            percent(view.data.noise_ratio)
        ));
        return;
    }
    let estimate = page.estimate.filter(|e| (e.eps, e.min_samples) == wanted);
    match page.preview {
        Some(p) if (p.eps, p.min_samples) == wanted => {
            let basis = format!("all {} customers", thousands(p.points as u64));
            let o = p.outliers;
            ui.label(
                RichText::new(format!(
                    "Preview: {} set aside as outliers, {} dense groups",
                    percent(o.outlier_share),
                    o.clusters
                ))
                .strong(),
            )
            .on_hover_text(format!(
                "{} are DBSCAN noise; the rest are dense groups smaller than 2 % of the customers,                  set aside as the clustering does (within the {} outlier budget).",
                percent(o.noise_share),
                percent(config.dbscan.max_noise_ratio)
            ));
            ui.label(RichText::new(format!("DBSCAN on {basis}.")).weak());
        }
        _ => {
            if let Some(e) = estimate {
                ui.label(
                    RichText::new(format!(
                        "Estimate: about {} DBSCAN noise",
                        percent(e.noise_share)
                    ))
                    .strong(),
                )
                .on_hover_text(format!(
                    "{} customers, drawn at random, each judged against all {}: exact DBSCAN \
                     rules, so the estimate is unbiased (within about a point).",
                    thousands(e.sampled as u64),
                    thousands(e.population as u64)
                ));
            }
            let working = if estimate.is_some() {
                "Running DBSCAN on every customer for the exact numbers…"
            } else {
                "Previewing…"
            };
            ui.label(RichText::new(working).italics().weak());
        }
    }
    let changed = page
        .view
        .as_deref()
        .is_some_and(|v| eps != v.data.eps || min_samples != v.data.min_samples);
    if changed {
        ui.label(RichText::new(format!("Press “{RERUN_BUTTON}” to use these settings.")).italics());
    }
}

/// `locked`: a job runs, or the results are out of date (another K needs a fresh run first).
fn sweep_section(ui: &mut egui::Ui, page: &ClusterPage, locked: bool) -> Option<Action> {
    let view = page.view.as_deref()?;
    let d = &view.data;
    let mut action = None;
    ui.label(RichText::new("Segments: choosing K").strong()).on_hover_text(
        "K-means was fitted for every K. The chosen K (orange) has the most stable segments, and \
         among near-ties the best silhouette. Click a plot or a button to see another K.",
    );
    let chosen = view.recommended_k;
    if let Some(k) = plots::sweep::show(ui, &d.k_sweep, chosen, d.chosen_k, 105.0)
        && k != d.chosen_k
        && !locked
    {
        action = Some(Action::UseK(k));
    }
    ui.horizontal_wrapped(|ui| {
        ui.label("Show K:");
        for row in &d.k_sweep {
            let selected = row.k == d.chosen_k;
            let button = egui::Button::selectable(selected, k_button(row.k));
            let hint = format!(
                "stability {}, silhouette {}{}",
                fmt_metric(row.stability),
                fmt_metric(row.silhouette),
                if row.k == chosen { " (recommended)" } else { "" }
            );
            let response = ui
                .add_enabled(!locked, button)
                .on_hover_text(hint)
                .on_disabled_hover_text("Run the clustering again first");
            if response.clicked() && !selected {
                action = Some(Action::UseK(row.k));
            }
        }
    });
    action
}

fn map_section(ui: &mut egui::Ui, page: &mut ClusterPage) {
    let Some(view) = page.view.as_deref() else { return };
    ui.label(RichText::new("Segment map").strong());
    let has_umap = view.scatter.has_umap();
    ui.horizontal(|ui| {
        ui.selectable_value(&mut page.map, MapKind::Pca, PCA_CHOICE)
            .on_hover_text("Principal components of the clustering matrix (exact, every customer)");
        let umap = ui
            .add_enabled(has_umap, egui::Button::selectable(page.map == MapKind::Umap, UMAP_CHOICE))
            .on_hover_text("Neighbourhood-preserving layout of a sample; groups separate better")
            .on_disabled_hover_text("Being computed…");
        if umap.clicked() {
            page.map = MapKind::Umap;
        }
        if page.map_running {
            ui.label(RichText::new("computing the UMAP-style map…").italics().weak());
        }
        let drawn: usize = view.scatter.drawn.iter().map(Vec::len).sum();
        if drawn < view.clustered_customers() {
            ui.label(
                RichText::new(format!(
                    "drawing {} of {} customers (every segment keeps its share)",
                    thousands(drawn as u64),
                    thousands(view.clustered_customers() as u64)
                ))
                .weak(),
            );
        }
    });
    if page.map == MapKind::Umap && !has_umap {
        page.map = MapKind::Pca;
    }
    let height = ui.available_height().clamp(420.0, 560.0);
    ui.horizontal_top(|ui| {
        let legend_width = 260.0;
        ui.vertical(|ui| {
            ui.set_width((ui.available_width() - legend_width).max(300.0));
            plots::scatter::show(
                ui,
                view,
                page.map,
                &page.hidden,
                height,
                &mut page.map_bounds_applied,
            );
        });
        ui.vertical(|ui| {
            ui.set_width(legend_width);
            ui.label(RichText::new("Show").weak());
            for g in 0..view.groups() {
                let row = view.row(g);
                let mut shown = !page.hidden.get(g).copied().unwrap_or(false);
                let text = RichText::new(row_name(row)).color(row_color(row));
                if ui.checkbox(&mut shown, text).changed()
                    && let Some(h) = page.hidden.get_mut(g)
                {
                    *h = !shown;
                }
            }
        });
    });
}

fn overview_section(ui: &mut egui::Ui, view: &ClusterView) {
    ui.label(RichText::new("Segment overview").strong());
    ui.horizontal_top(|ui| {
        ui.vertical(|ui| {
            ui.label(RichText::new("Sizes").weak());
            plots::profile::size_bars(ui, view);
        });
        ui.add_space(16.0);
        ui.vertical(|ui| {
            ui.label(RichText::new("Profiles relative to all customers").weak());
            egui::ScrollArea::horizontal().id_salt("heatmap_scroll").show(ui, |ui| {
                plots::profile::heatmap(ui, view);
            });
        });
    });
    ui.add_space(8.0);
    let columns = ((ui.available_width() / (CARD_WIDTH + 24.0)).floor() as usize).clamp(1, 4);
    let groups: Vec<usize> = (0..view.groups()).collect();
    for row in groups.chunks(columns) {
        ui.horizontal_top(|ui| {
            for &g in row {
                ui.vertical(|ui| segment_card(ui, view, g));
            }
        });
        ui.add_space(8.0);
    }
}

/// Width of a segment card.
const CARD_WIDTH: f32 = 330.0;

fn segment_card(ui: &mut egui::Ui, view: &ClusterView, g: usize) {
    let row = view.row(g);
    let color = row_color(row);
    egui::Frame::group(ui.style()).stroke(egui::Stroke::new(2.0, color)).show(ui, |ui| {
        ui.set_width(CARD_WIDTH);
        ui.label(RichText::new(&row.archetype).heading().color(color));
        ui.label(format!(
            "{} · {} customers ({})",
            row.label,
            thousands(row.size),
            percent(row.share)
        ));
        ui.add(egui::Label::new(&row.description).wrap());
        ui.add(egui::Label::new(RichText::new(format!("Action: {}", row.action)).italics()).wrap());
        let mut facts = vec![format!("{} of returned units", percent(row.returned_units_share))];
        if row.segment.is_some() {
            let plural = if row.micro_segments == 1 { "" } else { "s" };
            facts.push(format!("{} micro-segment{plural}", row.micro_segments));
            if let Some(s) = row.silhouette {
                facts.push(format!("silhouette {s:.2}"));
            }
        }
        ui.label(RichText::new(facts.join(" · ")).weak());
    });
}

/// A sweep criterion with two decimals, or "—" where it was not computed.
fn fmt_metric(value: Option<f64>) -> String {
    value.map_or_else(|| "—".to_string(), |v| format!("{v:.2}"))
}
