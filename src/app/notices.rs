//! Notices: the messages shown above the page (what finished, what failed, what to do).
//!
//! Each has a level ([`NoticeKind`]). Information and success notices fade after
//! [`FADING_SECONDS`]; warnings and errors stay until the user dismisses them, so a failure is
//! never missed. A notice already shown is not added twice: its clock starts again instead.
//! Time is egui's input clock (`InputState::time`), so the harness's simulated frames drive it in
//! tests as real frames do in the app.

use crate::app::theme;
use eframe::egui::{self, RichText};

/// How long an information or success notice stays (the last second fades it out).
pub const FADING_SECONDS: f64 = 6.0;
/// Label of the button that removes a notice.
pub const DISMISS_BUTTON: &str = "Dismiss";

/// How serious a notice is, which decides its colour and whether it fades.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeKind {
    /// Something happened that the user may want to know ("cancelled", "sample written").
    Info,
    /// What the user asked for is done ("Report saved to …").
    Success,
    /// Done, but not as asked ("no file dialog: the file goes to …"); stays until dismissed.
    Warning,
    /// Failed; stays until dismissed.
    Error,
}

impl NoticeKind {
    /// Whether notices of this level disappear on their own.
    pub fn fades(self) -> bool {
        matches!(self, NoticeKind::Info | NoticeKind::Success)
    }

    fn prefix(self) -> &'static str {
        match self {
            NoticeKind::Error => "Error: ",
            NoticeKind::Warning => "Warning: ",
            NoticeKind::Info | NoticeKind::Success => "",
        }
    }

    fn color(self, visuals: &egui::Visuals) -> egui::Color32 {
        match self {
            NoticeKind::Error => theme::error_color(visuals),
            NoticeKind::Warning => theme::warning_color(visuals),
            NoticeKind::Success => theme::ok_color(visuals),
            NoticeKind::Info => visuals.text_color(),
        }
    }
}

/// One message above the page.
#[derive(Debug, Clone)]
pub struct Notice {
    pub kind: NoticeKind,
    pub text: String,
    /// When it was (last) posted, on egui's clock; set on the first frame that draws it.
    posted_at: Option<f64>,
}

/// The notices shown, oldest first.
#[derive(Debug, Default)]
pub struct Notices {
    list: Vec<Notice>,
}

impl Notices {
    /// Post a notice; the same level and text already shown is not repeated, its clock restarts.
    pub fn post(&mut self, kind: NoticeKind, text: impl Into<String>) {
        let text = text.into();
        if let Some(same) = self.list.iter_mut().find(|n| n.kind == kind && n.text == text) {
            same.posted_at = None;
            return;
        }
        self.list.push(Notice { kind, text, posted_at: None });
    }

    /// The notices shown, oldest first.
    pub fn as_slice(&self) -> &[Notice] {
        &self.list
    }

    /// Remove notices whose time is up at `now` (egui's clock); returns the seconds until the
    /// next one fades, if one will.
    fn expire(&mut self, now: f64) -> Option<f64> {
        for notice in &mut self.list {
            notice.posted_at.get_or_insert(now);
        }
        self.list.retain(|n| !n.kind.fades() || now - n.posted_at.unwrap_or(now) < FADING_SECONDS);
        self.list
            .iter()
            .filter(|n| n.kind.fades())
            .map(|n| FADING_SECONDS - (now - n.posted_at.unwrap_or(now)))
            .reduce(f64::min)
    }

    /// Draw the notices as framed banners, each with a Dismiss button; fading ones fade out over
    /// their last second, and the UI wakes to remove them on time.
    pub fn ui(&mut self, ui: &mut egui::Ui) {
        let now = ui.input(|i| i.time);
        if let Some(left) = self.expire(now) {
            let wake = if left > 1.0 { left - 1.0 } else { 0.05 };
            ui.ctx().request_repaint_after(std::time::Duration::from_secs_f64(wake.max(0.0)));
        }
        let mut dismissed = None;
        for (i, notice) in self.list.iter().enumerate() {
            let left = FADING_SECONDS - (now - notice.posted_at.unwrap_or(now));
            let opacity = if notice.kind.fades() { left.clamp(0.0, 1.0) as f32 } else { 1.0 };
            let color = notice.kind.color(ui.visuals()).gamma_multiply(opacity.max(0.15));
            egui::Frame::group(ui.style()).stroke(egui::Stroke::new(1.0, color)).show(ui, |ui| {
                ui.set_width(ui.available_width());
                ui.horizontal(|ui| {
                    if ui.small_button(DISMISS_BUTTON).clicked() {
                        dismissed = Some(i);
                    }
                    let text = format!("{}{}", notice.kind.prefix(), notice.text);
                    ui.add(egui::Label::new(RichText::new(text).color(color)).wrap());
                });
            });
        }
        if let Some(i) = dismissed {
            self.list.remove(i);
        }
        if !self.list.is_empty() {
            ui.add_space(6.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn information_fades_errors_stay_and_nothing_is_shown_twice() {
        let mut notices = Notices::default();
        notices.post(NoticeKind::Success, "Report saved.");
        notices.post(NoticeKind::Error, "Loading failed.");
        notices.post(NoticeKind::Success, "Report saved.");
        assert_eq!(notices.as_slice().len(), 2, "the repeated notice is not added");
        // First drawn at t = 10: the success notice fades at 16, the error never.
        assert_eq!(notices.expire(10.0), Some(FADING_SECONDS));
        assert_eq!(notices.expire(15.5), Some(0.5));
        assert_eq!(notices.as_slice().len(), 2);
        assert_eq!(notices.expire(16.0), None);
        let left: Vec<_> = notices.as_slice().iter().map(|n| n.kind).collect();
        assert_eq!(left, vec![NoticeKind::Error]);
        assert_eq!(notices.expire(1_000.0), None, "an error stays until dismissed");
        assert_eq!(notices.as_slice().len(), 1);
    }

    #[test]
    fn posting_again_restarts_the_clock() {
        let mut notices = Notices::default();
        notices.post(NoticeKind::Info, "Please wait.");
        notices.expire(0.0);
        notices.expire(5.0);
        notices.post(NoticeKind::Info, "Please wait.");
        // Re-posted at 5 (drawn at 5.5): still there at 11, gone at 11.5.
        notices.expire(5.5);
        assert_eq!(notices.expire(11.0), Some(0.5));
        assert_eq!(notices.expire(11.5), None);
        assert!(notices.as_slice().is_empty());
    }
}
