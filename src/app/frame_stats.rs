//! Frame-time measurement: eframe's CPU time per frame (update + tessellation), kept for the last
//! few seconds, shown as an overlay (View > Show frame time) and, with `RETURNSCOPE_FRAME_LOG=1`,
//! written to the log every 5 seconds while the app repaints continuously (for benchmarks: see the
//! README's "Frame time").

use eframe::egui::{self, RichText};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Frames kept for the statistics.
const WINDOW: usize = 300;
/// How often the log line is written.
const LOG_EVERY: Duration = Duration::from_secs(5);

/// Recent frame times.
#[derive(Debug)]
pub struct FrameStats {
    cpu_ms: VecDeque<f32>,
    /// Log every few seconds and keep repainting (set from the environment).
    pub log: bool,
    /// Draw the overlay.
    pub show: bool,
    last_log: Instant,
}

impl Default for FrameStats {
    fn default() -> Self {
        Self {
            cpu_ms: VecDeque::with_capacity(WINDOW),
            log: std::env::var_os("RETURNSCOPE_FRAME_LOG").is_some_and(|v| v == "1"),
            show: false,
            last_log: Instant::now(),
        }
    }
}

/// Median, 95th percentile and maximum of a window, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub frames: usize,
    pub p50: f32,
    pub p95: f32,
    pub max: f32,
}

impl FrameStats {
    /// Record the previous frame's CPU time (seconds, as eframe reports it).
    pub fn record(&mut self, cpu_seconds: Option<f32>) {
        let Some(s) = cpu_seconds else { return };
        if self.cpu_ms.len() == WINDOW {
            self.cpu_ms.pop_front();
        }
        self.cpu_ms.push_back(s * 1000.0);
    }

    /// Statistics of the recorded frames, if any.
    pub fn summary(&self) -> Option<Summary> {
        let mut v: Vec<f32> = self.cpu_ms.iter().copied().collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f32::total_cmp);
        let at = |q: f32| v[((v.len() - 1) as f32 * q).round() as usize];
        Some(Summary { frames: v.len(), p50: at(0.5), p95: at(0.95), max: at(1.0) })
    }

    /// Draw the overlay and write the log line when they are on; `what` says what is on screen.
    pub fn ui(&mut self, ctx: &egui::Context, what: &str) {
        if self.log {
            ctx.request_repaint();
            if self.last_log.elapsed() >= LOG_EVERY {
                self.last_log = Instant::now();
                if let Some(s) = self.summary() {
                    tracing::info!(
                        "frame time over {} frames ({what}): p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms",
                        s.frames,
                        s.p50,
                        s.p95,
                        s.max
                    );
                }
            }
        }
        if !self.show {
            return;
        }
        let text = self.summary().map_or_else(
            || "frame time: no frames yet".to_string(),
            |s| format!("frame {:.1} ms (p95 {:.1}, max {:.1})", s.p50, s.p95, s.max),
        );
        egui::Area::new(egui::Id::unique("frame_stats"))
            .anchor(egui::Align2::RIGHT_BOTTOM, egui::vec2(-8.0, -8.0))
            .order(egui::Order::Foreground)
            .interactable(false)
            .show(ctx, |ui| {
                egui::Frame::popup(ui.style()).show(ui, |ui| {
                    ui.label(RichText::new(text).monospace().small());
                });
            });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_reads_percentiles_of_the_window() {
        let mut stats = FrameStats::default();
        assert_eq!(stats.summary(), None);
        for ms in 1..=100 {
            stats.record(Some(ms as f32 / 1000.0));
        }
        stats.record(None);
        let s = stats.summary().unwrap();
        assert_eq!(s.frames, 100);
        assert!((s.p50 - 51.0).abs() < 0.01 && (s.p95 - 95.0).abs() < 0.01, "{s:?}");
        assert!((s.max - 100.0).abs() < 0.01);
    }
}
