//! Changes page: what changed between an earlier analysis (OLD) and the open one (NEW), in OLD's
//! segments. The migration matrix as a heatmap and as a flow chart (old groups on the left, new
//! on the right, band width = customers, drawn with the painter), group sizes then and now as
//! paired bars, the drift table sorted by PSI with both periods' histograms of the selected
//! feature, and the movers table (filter by from / to group, export CSV).
//!
//! Draws from a [`Comparison`] only; Export and Close are returned as actions.

use super::{Action, heading, percent, thousands};
use crate::app::theme;
use crate::pipeline::compare::drift::PSI_MAJOR;
use crate::pipeline::compare::{Comparison, Mover};
use eframe::egui::{self, Color32, RichText, Sense, Stroke, StrokeKind, pos2, vec2};
use egui_extras::{Column, TableBuilder};
use egui_plot::{Bar, BarChart, Legend, Plot};
use std::path::PathBuf;

/// Label of the File menu entry and the Report page button.
pub const COMPARE_BUTTON: &str = "Compare with an earlier analysis…";
/// Label of the Load page button.
pub const SCORE_BUTTON: &str = "Score with this model…";
/// Label of the movers export button.
pub const EXPORT_MOVERS_BUTTON: &str = "Export movers CSV…";
/// Label of the button back to the wizard.
pub const CLOSE_BUTTON: &str = "Close comparison";
/// Label of the "only customers who changed group" filter.
pub const ONLY_MOVED: &str = "Only customers who changed group";
/// Filter value meaning "any group".
pub const ANY_GROUP: &str = "Any group";

const CELL: f32 = 64.0;
const FLOW_HEIGHT: f32 = 320.0;
const FLOW_WIDTH: f32 = 420.0;

/// What the page remembers besides the comparison.
#[derive(Debug)]
pub struct ChangesPage {
    pub comparison: Box<Comparison>,
    /// Feature whose histograms are shown.
    pub selected_feature: Option<String>,
    /// Movers filter: OLD and NEW category (None = any), and whether only movers are listed.
    pub from: Option<usize>,
    pub to: Option<usize>,
    pub only_moved: bool,
    /// The last movers CSV written.
    pub exported: Option<PathBuf>,
    /// Indices of the movers the filter keeps (recomputed when the filter changes).
    filtered: Vec<usize>,
    filter_key: Option<(Option<usize>, Option<usize>, bool)>,
}

impl ChangesPage {
    pub fn new(comparison: Box<Comparison>) -> Self {
        let selected_feature = comparison
            .drift
            .iter()
            .max_by(|a, b| a.psi.total_cmp(&b.psi))
            .map(|d| d.feature.clone());
        Self {
            comparison,
            selected_feature,
            from: None,
            to: None,
            only_moved: true,
            exported: None,
            filtered: Vec::new(),
            filter_key: None,
        }
    }

    /// The movers the filter keeps.
    pub fn filtered_movers(&mut self) -> Vec<&Mover> {
        self.refresh_filter();
        self.filtered.iter().map(|&i| &self.comparison.movers[i]).collect()
    }

    fn refresh_filter(&mut self) {
        let key = (self.from, self.to, self.only_moved);
        if self.filter_key == Some(key) {
            return;
        }
        self.filtered = self
            .comparison
            .movers
            .iter()
            .enumerate()
            .filter(|(_, m)| {
                self.from.is_none_or(|f| m.old_category == f)
                    && self.to.is_none_or(|t| m.new_category == t)
                    && (!self.only_moved || m.moved())
            })
            .map(|(i, _)| i)
            .collect();
        self.filter_key = Some(key);
    }
}

/// Colour of a matrix category (segments, then Outliers, then Not segmented).
fn category_color(c: &Comparison, index: usize) -> Color32 {
    let k = c.categories.len().saturating_sub(2);
    if index < k {
        theme::segment_color(index + 1)
    } else if index == k {
        theme::outlier_color()
    } else {
        theme::not_segmented_color()
    }
}

fn category_name(c: &Comparison, index: usize) -> String {
    let cat = &c.categories[index];
    if cat.archetype.is_empty() || cat.archetype == cat.label {
        cat.label.clone()
    } else {
        format!("{}: {}", cat.label, cat.archetype)
    }
}

/// Draw the page.
pub fn show(ui: &mut egui::Ui, page: &mut ChangesPage, busy: bool) -> Option<Action> {
    let mut action = None;
    egui::ScrollArea::vertical().id_salt("changes_page").show(ui, |ui| {
        let c = &page.comparison;
        ui.horizontal(|ui| {
            if ui.button(CLOSE_BUTTON).clicked() {
                action = Some(Action::CloseChanges);
            }
        });
        heading(
            ui,
            "What changed since last time",
            &format!(
                "{} (as of {}) against {} (as of {}), in the earlier analysis's segments.",
                c.new.input_name,
                c.new.as_of.as_deref().unwrap_or("?"),
                c.old.input_name,
                c.old.as_of.as_deref().unwrap_or("?"),
            ),
        );
        ui.label(
            RichText::new(format!(
                "{} customers in both periods ({} changed group), {} only in the earlier one, \
                 {} only in this one.",
                thousands(c.in_both as u64),
                thousands(c.moved as u64),
                thousands(c.only_old as u64),
                thousands(c.only_new as u64)
            ))
            .strong(),
        );
        ui.add_space(8.0);
        ui.label(RichText::new("Where each earlier group went").strong());
        ui.horizontal_top(|ui| {
            ui.vertical(|ui| heatmap_ui(ui, c));
            ui.add_space(24.0);
            ui.vertical(|ui| flow_ui(ui, c));
        });
        ui.add_space(10.0);
        ui.label(RichText::new("Group sizes, earlier and now").strong());
        sizes_ui(ui, c);
        ui.add_space(10.0);
        ui.label(RichText::new("Feature drift (PSI over the earlier period's deciles)").strong());
        ui.horizontal_top(|ui| {
            ui.vertical(|ui| {
                if let Some(f) = drift_table_ui(ui, c, page.selected_feature.as_deref()) {
                    page.selected_feature = Some(f);
                }
            });
            ui.add_space(16.0);
            ui.vertical(|ui| histograms_ui(ui, c, page.selected_feature.as_deref()));
        });
        ui.add_space(10.0);
        if let Some(a) = movers_ui(ui, page, busy) {
            action = Some(a);
        }
    });
    action
}

/// The migration matrix: row shares as coloured cells, counts on hover.
fn heatmap_ui(ui: &mut egui::Ui, c: &Comparison) {
    let n = c.categories.len();
    let dark = ui.visuals().dark_mode;
    egui::Grid::new("migration_heatmap").spacing([2.0, 2.0]).show(ui, |ui| {
        ui.label(RichText::new("earlier \\ now").small().weak());
        for j in 0..n {
            ui.add_sized(
                vec2(CELL, 28.0),
                egui::Label::new(
                    RichText::new(&c.categories[j].label).small().color(category_color(c, j)),
                )
                .wrap(),
            )
            .on_hover_text(category_name(c, j));
        }
        ui.end_row();
        for i in 0..n {
            ui.colored_label(category_color(c, i), &c.categories[i].label)
                .on_hover_text(category_name(c, i));
            for j in 0..n {
                let share = c.row_shares[i][j];
                let (rect, response) = ui.allocate_exact_size(vec2(CELL, 22.0), Sense::hover());
                let neutral = if dark { Color32::from_gray(50) } else { Color32::from_gray(240) };
                let fill = neutral.lerp_to_gamma(category_color(c, j), share.sqrt() as f32);
                ui.painter().rect_filled(rect, 2.0, fill);
                if i == j {
                    ui.painter().rect_stroke(
                        rect,
                        2.0,
                        Stroke::new(1.0, ui.visuals().text_color()),
                        StrokeKind::Inside,
                    );
                }
                let text = if c.matrix[i][j] == 0 { String::new() } else { percent(share) };
                let ink = if share > 0.45 { Color32::WHITE } else { ui.visuals().text_color() };
                ui.painter().text(
                    rect.center(),
                    egui::Align2::CENTER_CENTER,
                    text,
                    egui::FontId::proportional(11.0),
                    ink,
                );
                response.on_hover_text(format!(
                    "{} → {}: {} customers ({} of the row)",
                    category_name(c, i),
                    category_name(c, j),
                    thousands(c.matrix[i][j] as u64),
                    percent(share)
                ));
            }
            ui.end_row();
        }
    });
}

/// Old groups on the left, new on the right; a band per non-empty cell, as wide as its customers.
fn flow_ui(ui: &mut egui::Ui, c: &Comparison) {
    let n = c.categories.len();
    let total: usize = c.matrix.iter().flatten().sum();
    // Room below the last bar for its label.
    let (rect, response) =
        ui.allocate_exact_size(vec2(FLOW_WIDTH, FLOW_HEIGHT + 14.0), Sense::hover());
    if total == 0 {
        return;
    }
    let painter = ui.painter_at(rect);
    let gap = 6.0;
    let usable = FLOW_HEIGHT - gap * (n as f32 - 1.0);
    let scale = usable / total as f32;
    let bar_w = 14.0;
    let (left_x, right_x) = (rect.left() + 90.0, rect.right() - 90.0);
    let row_totals: Vec<usize> = c.matrix.iter().map(|r| r.iter().sum()).collect();
    let col_totals: Vec<usize> = (0..n).map(|j| c.matrix.iter().map(|r| r[j]).sum()).collect();
    let tops = |totals: &[usize]| {
        let mut y = rect.top();
        totals
            .iter()
            .map(|&t| {
                let top = y;
                y += t as f32 * scale + gap;
                top
            })
            .collect::<Vec<f32>>()
    };
    let (left_tops, right_tops) = (tops(&row_totals), tops(&col_totals));
    let mut right_used = vec![0.0f32; n];
    let hover = response.hover_pos();
    let mut tip = None;
    for (i, (row, &left_top)) in c.matrix.iter().zip(&left_tops).enumerate() {
        let mut left_used = 0.0;
        for (j, &count) in row.iter().enumerate() {
            if count == 0 {
                continue;
            }
            let h = count as f32 * scale;
            let (y0, y1) = (left_top + left_used, right_tops[j] + right_used[j]);
            left_used += h;
            right_used[j] += h;
            let color = category_color(c, i).gamma_multiply(if i == j { 0.35 } else { 0.6 });
            let band = band_mesh(left_x + bar_w, right_x, y0, y1, h, color);
            if let Some(p) = hover
                && p.x > left_x + bar_w
                && p.x < right_x
                && point_in_band(p, left_x + bar_w, right_x, y0, y1, h)
            {
                tip = Some(format!(
                    "{} → {}: {} customers",
                    category_name(c, i),
                    category_name(c, j),
                    thousands(count as u64)
                ));
            }
            painter.add(egui::Shape::mesh(band));
        }
    }
    let label =
        |painter: &egui::Painter, x: f32, top: f32, h: f32, i: usize, align: egui::Align2| {
            painter.rect_filled(
                egui::Rect::from_min_size(pos2(x, top), vec2(bar_w, h.max(1.0))),
                1.0,
                category_color(c, i),
            );
            let text_x =
                if align == egui::Align2::RIGHT_CENTER { x - 4.0 } else { x + bar_w + 4.0 };
            painter.text(
                pos2(text_x, top + h / 2.0),
                align,
                &c.categories[i].label,
                egui::FontId::proportional(11.0),
                ui.visuals().text_color(),
            );
        };
    for i in 0..n {
        label(
            &painter,
            left_x,
            left_tops[i],
            row_totals[i] as f32 * scale,
            i,
            egui::Align2::RIGHT_CENTER,
        );
        label(
            &painter,
            right_x,
            right_tops[i],
            col_totals[i] as f32 * scale,
            i,
            egui::Align2::LEFT_CENTER,
        );
    }
    if let Some(tip) = tip {
        response.on_hover_text(tip);
    }
}

/// A band from (x0, y0..y0+h) to (x1, y1..y1+h) whose edges are smooth S-curves, as a
/// triangle strip (the band is not convex, so it cannot be one filled polygon).
fn band_mesh(x0: f32, x1: f32, y0: f32, y1: f32, h: f32, color: Color32) -> egui::Mesh {
    const STEPS: u32 = 24;
    let mut mesh = egui::Mesh::default();
    for s in 0..=STEPS {
        let t = s as f32 / STEPS as f32;
        let (x, y) = (x0 + (x1 - x0) * t, y0 + (y1 - y0) * t * t * (3.0 - 2.0 * t));
        mesh.colored_vertex(pos2(x, y), color);
        mesh.colored_vertex(pos2(x, y + h), color);
        if s > 0 {
            let (a, b, c, d) = (2 * s - 2, 2 * s - 1, 2 * s, 2 * s + 1);
            mesh.add_triangle(a, b, c);
            mesh.add_triangle(b, d, c);
        }
    }
    mesh
}

fn point_in_band(p: egui::Pos2, x0: f32, x1: f32, y0: f32, y1: f32, h: f32) -> bool {
    let t = ((p.x - x0) / (x1 - x0)).clamp(0.0, 1.0);
    let y = y0 + (y1 - y0) * t * t * (3.0 - 2.0 * t);
    p.y >= y && p.y <= y + h
}

/// Paired bars: every group's customers earlier and now.
fn sizes_ui(ui: &mut egui::Ui, c: &Comparison) {
    let earlier: Vec<Bar> = c
        .sizes
        .iter()
        .enumerate()
        .map(|(i, s)| Bar::new(i as f64 - 0.2, s.old as f64).width(0.38).name(category_name(c, i)))
        .collect();
    let now: Vec<Bar> = c
        .sizes
        .iter()
        .enumerate()
        .map(|(i, s)| {
            Bar::new(i as f64 + 0.2, s.new as f64)
                .width(0.38)
                .name(category_name(c, i))
                .fill(category_color(c, i))
        })
        .collect();
    let labels: Vec<String> = c.categories.iter().map(|k| k.label.clone()).collect();
    Plot::new("sizes_then_now")
        .height(200.0)
        .legend(Legend::default())
        .allow_zoom(false)
        .allow_drag(false)
        .allow_scroll(false)
        .x_axis_formatter(move |mark, _| {
            let i = mark.value.round();
            if (mark.value - i).abs() < 1e-6 && i >= 0.0 {
                labels.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .show(ui, |plot| {
            plot.bar_chart(BarChart::new("Earlier", earlier).color(Color32::GRAY));
            plot.bar_chart(BarChart::new("Now", now));
        });
}

/// Features by PSI, highest first; returns the feature clicked.
fn drift_table_ui(ui: &mut egui::Ui, c: &Comparison, selected: Option<&str>) -> Option<String> {
    let mut order: Vec<usize> = (0..c.drift.len()).collect();
    order.sort_by(|&a, &b| c.drift[b].psi.total_cmp(&c.drift[a].psi));
    let mut clicked = None;
    let warn = theme::warning_color(ui.visuals());
    egui::ScrollArea::vertical().id_salt("drift_table").max_height(260.0).show(ui, |ui| {
        egui::Grid::new("drift_grid").num_columns(4).spacing([12.0, 2.0]).striped(true).show(
            ui,
            |ui| {
                for h in ["Feature", "PSI", "KS", "Shift"] {
                    ui.strong(h);
                }
                ui.end_row();
                for i in order {
                    let d = &c.drift[i];
                    let is_selected = selected == Some(d.feature.as_str());
                    if ui
                        .add(egui::Button::selectable(
                            is_selected,
                            RichText::new(&d.feature).monospace(),
                        ))
                        .on_hover_text("Show both periods' histograms")
                        .clicked()
                    {
                        clicked = Some(d.feature.clone());
                    }
                    ui.label(format!("{:.3}", d.psi));
                    ui.label(format!("{:.3}", d.ks));
                    if d.psi > PSI_MAJOR {
                        ui.colored_label(warn, &d.shift);
                    } else {
                        ui.label(&d.shift);
                    }
                    ui.end_row();
                }
            },
        );
    });
    clicked
}

/// The selected feature's distribution in both periods.
fn histograms_ui(ui: &mut egui::Ui, c: &Comparison, selected: Option<&str>) {
    let Some(d) = selected.and_then(|f| c.drift.iter().find(|d| d.feature == f)) else {
        ui.label("Select a feature.");
        return;
    };
    ui.label(RichText::new(&d.feature).monospace());
    let h = &d.histograms;
    if h.edges.len() < 2 {
        ui.label("No values in either period.");
        return;
    }
    let width = h.edges[1] - h.edges[0];
    let bars = |shares: &[f64], offset: f64| -> Vec<Bar> {
        shares
            .iter()
            .enumerate()
            .map(|(i, s)| Bar::new(h.edges[i] + width * (0.5 + offset), *s).width(width * 0.45))
            .collect()
    };
    Plot::new(("drift_histograms", d.feature.as_str()))
        .height(220.0)
        .width(420.0)
        .legend(Legend::default())
        .allow_zoom(false)
        .allow_drag(false)
        .allow_scroll(false)
        .show(ui, |plot| {
            plot.bar_chart(BarChart::new("Earlier", bars(&h.old, -0.23)).color(Color32::GRAY));
            plot.bar_chart(BarChart::new("Now", bars(&h.new, 0.23)).color(theme::segment_color(2)));
        });
}

fn group_filter_ui(ui: &mut egui::Ui, id: &str, names: &[String], value: &mut Option<usize>) {
    let shown = value.and_then(|i| names.get(i).cloned()).unwrap_or_else(|| ANY_GROUP.into());
    egui::ComboBox::from_id_salt(id).selected_text(shown).width(220.0).show_ui(ui, |ui| {
        ui.selectable_value(value, None, ANY_GROUP);
        for (i, name) in names.iter().enumerate() {
            ui.selectable_value(value, Some(i), name);
        }
    });
}

/// The movers table with its filter and export.
fn movers_ui(ui: &mut egui::Ui, page: &mut ChangesPage, busy: bool) -> Option<Action> {
    let mut action = None;
    ui.label(RichText::new("Customers in both periods").strong());
    let names: Vec<String> =
        (0..page.comparison.categories.len()).map(|i| category_name(&page.comparison, i)).collect();
    ui.horizontal(|ui| {
        ui.label("From");
        group_filter_ui(ui, "movers_from", &names, &mut page.from);
        ui.label("to");
        group_filter_ui(ui, "movers_to", &names, &mut page.to);
        ui.checkbox(&mut page.only_moved, ONLY_MOVED);
    });
    page.refresh_filter();
    let (c, rows) = (&page.comparison, &page.filtered);
    ui.horizontal(|ui| {
        ui.label(format!("{} customers", thousands(rows.len() as u64)));
        if ui
            .add_enabled(!busy && !rows.is_empty(), egui::Button::new(EXPORT_MOVERS_BUTTON))
            .on_hover_text("These customers, with their group in each period, as CSV")
            .clicked()
        {
            action = Some(Action::ExportMoversDialog);
        }
    });
    if let Some(path) = &page.exported {
        ui.label(format!("Movers exported to {}", path.display()));
    }
    TableBuilder::new(ui)
        .id_salt("movers_table")
        .striped(true)
        .max_scroll_height(300.0)
        .column(Column::initial(260.0).clip(true).resizable(true))
        .columns(Column::initial(220.0).clip(true).resizable(true), 2)
        .header(20.0, |mut header| {
            for h in ["Customer", "Earlier", "Now"] {
                header.col(|ui| {
                    ui.strong(h);
                });
            }
        })
        .body(|body| {
            body.rows(18.0, rows.len(), |mut row| {
                let m = &c.movers[rows[row.index()]];
                row.col(|ui| {
                    ui.label(&m.customer_id);
                });
                for category in [m.old_category, m.new_category] {
                    row.col(|ui| {
                        ui.colored_label(category_color(c, category), category_name(c, category));
                    });
                }
            });
        });
    action
}
