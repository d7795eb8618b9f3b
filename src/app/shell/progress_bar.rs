//! The progress bar of the running stage: what it is doing, how far it is, its rows/s, its
//! elapsed time, the memory it holds against the analysis's budget, and Cancel.

use super::*;
use crate::pipeline::memory::{self, MemoryBudget};

impl ReturnScopeApp {
    pub(super) fn progress_bar(&mut self, ui: &mut egui::Ui) {
        let Some(job) = self.jobs.stage_job() else { return };
        let stage = match &job.last_update {
            // A reopen reads layers, it runs no stage: its message names the step.
            Some(_) if self.reopen_job == Some(job.id) => "Reading",
            Some(update) => update.stage.label(),
            None => "Starting",
        };
        let message = job.last_update.as_ref().map(|u| u.message.clone()).unwrap_or_default();
        let rate = job
            .items_per_second()
            .map(|r| format!("{} rows/s", pages::thousands(r.round() as u64)));
        let (fraction, stopping, elapsed) =
            (job.fraction(), job.cancel_requested(), job.started.elapsed().as_secs());
        let title = job.title.clone();
        let memory = job.resident_bytes.map(|bytes| self.memory_use(bytes, stage));
        ui.add_space(4.0);
        // No spinner: it repaints every frame for the whole job, which costs a core under a
        // software renderer. Progress updates wake the UI; the seconds counter needs 1 Hz.
        ui.ctx().request_repaint_after(std::time::Duration::from_secs(1));
        ui.horizontal(|ui| {
            ui.label(RichText::new(&title).strong());
            ui.label(format!("— {stage}"));
            if !message.is_empty() {
                ui.label(RichText::new(message).weak());
            }
        });
        ui.horizontal(|ui| {
            let bar = egui::ProgressBar::new(fraction)
                .desired_width((ui.available_width() - 260.0).max(120.0))
                .show_percentage();
            ui.add(bar);
            ui.label(rate.unwrap_or_default());
            ui.label(format!("{elapsed} s"));
            if let Some(memory) = memory {
                memory.show(ui);
            }
            if stopping {
                ui.label(RichText::new("Stopping…").italics());
            } else if ui.button(CANCEL_BUTTON).on_hover_text("Stop this step (Esc)").clicked() {
                self.jobs.cancel_stage();
            }
        });
        ui.add_space(4.0);
    }

    /// How much memory the running stage holds, against the analysis's budget.
    fn memory_use(&self, resident: u64, stage: &str) -> MemoryUse {
        let budget = MemoryBudget::for_limit(&self.config.store.memory_limit)
            .unwrap_or_else(|_| MemoryBudget::automatic(memory::total_ram_bytes()));
        MemoryUse { resident, budget, stage: stage.to_string() }
    }
}

/// The progress bar's memory label: what the running stage holds, and a warning colour and
/// advice when it comes close to the budget.
struct MemoryUse {
    resident: u64,
    budget: MemoryBudget,
    stage: String,
}

impl MemoryUse {
    fn near_limit(&self) -> bool {
        self.budget.is_near(self.resident)
    }

    fn show(&self, ui: &mut egui::Ui) {
        let text = format!(
            "{} of {}",
            memory::format_bytes(self.resident),
            memory::format_bytes(self.budget.bytes)
        );
        let hover = format!(
            "{} is using {} of this analysis's {} memory budget ({}). Beyond the budget the \
             database spills to disk, which is slower but safe.",
            self.stage,
            memory::format_bytes(self.resident),
            memory::format_bytes(self.budget.bytes),
            if self.budget.configured {
                "store.memory_limit in the settings"
            } else {
                "half of this computer's memory, at most 8 GB; store.memory_limit changes it"
            }
        );
        let label = if self.near_limit() {
            RichText::new(format!("⚠ memory {text}")).color(ui.visuals().warn_fg_color)
        } else {
            RichText::new(format!("memory {text}")).weak()
        };
        ui.label(label).on_hover_text(hover);
    }
}
