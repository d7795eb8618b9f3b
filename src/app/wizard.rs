//! The wizard's steps (Load -> Validate -> Features -> Cluster -> Report), which of them are done
//! or out of date, and the step bar that moves between them.
//!
//! Any step that has been reached can be revisited. Completing a step again (a new load, a new
//! validation) marks every later completed step stale: its results are still shown, flagged, until
//! the step is run again.

use crate::pipeline::progress::Stage;
use eframe::egui::{self, RichText};

/// One page of the wizard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    Load,
    Validate,
    Features,
    Cluster,
    Report,
}

impl Step {
    pub const ALL: [Step; 5] =
        [Step::Load, Step::Validate, Step::Features, Step::Cluster, Step::Report];

    fn index(self) -> usize {
        self as usize
    }

    /// Label of the step in the step bar ("3. Features").
    pub fn bar_label(self) -> String {
        format!("{}. {}", self.index() + 1, self.title())
    }

    pub fn title(self) -> &'static str {
        match self {
            Step::Load => "Load",
            Step::Validate => "Validate",
            Step::Features => "Features",
            Step::Cluster => "Cluster",
            Step::Report => "Report",
        }
    }

    /// The step whose work a completed pipeline stage represents.
    pub fn for_stage(stage: Stage) -> Step {
        match stage {
            Stage::Ingest => Step::Load,
            Stage::Validate => Step::Validate,
            Stage::Features => Step::Features,
            Stage::Gold | Stage::Cluster | Stage::Embed => Step::Cluster,
            Stage::Report | Stage::Score | Stage::Compare => Step::Report,
        }
    }
}

/// Where a step stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StepState {
    #[default]
    NotDone,
    Done,
    /// Done, but an earlier step changed since.
    Stale,
}

/// The wizard's position and the state of every step.
#[derive(Debug, Clone, Default)]
pub struct Wizard {
    current: Option<Step>,
    states: [StepState; 5],
}

impl Wizard {
    pub fn current(&self) -> Step {
        self.current.unwrap_or(Step::Load)
    }

    pub fn state(&self, step: Step) -> StepState {
        self.states[step.index()]
    }

    /// A step can be shown once it is done (or stale) or the step before it has results.
    pub fn can_visit(&self, step: Step) -> bool {
        step == Step::Load
            || self.state(step) != StepState::NotDone
            || self.state(Step::ALL[step.index() - 1]) == StepState::Done
    }

    /// Show `step` if it can be visited; returns whether the wizard moved.
    pub fn go_to(&mut self, step: Step) -> bool {
        let allowed = self.can_visit(step);
        if allowed {
            self.current = Some(step);
        }
        allowed
    }

    /// `step` has fresh results: it is done and every later completed step is stale.
    pub fn complete(&mut self, step: Step) {
        self.states[step.index()] = StepState::Done;
        for later in &mut self.states[step.index() + 1..] {
            if *later == StepState::Done {
                *later = StepState::Stale;
            }
        }
    }

    /// `step` and every later completed step are out of date (their inputs changed, e.g. a
    /// clustering rebuilt the matrix and then failed).
    pub fn mark_stale_from(&mut self, step: Step) {
        for s in &mut self.states[step.index()..] {
            if *s == StepState::Done {
                *s = StepState::Stale;
            }
        }
    }

    /// Forget `step` and everything after it (a different input was chosen).
    pub fn reset_from(&mut self, step: Step) {
        for s in &mut self.states[step.index()..] {
            *s = StepState::NotDone;
        }
        if self.current() > step {
            self.current = Some(step);
        }
    }

    /// State of an analysis file whose last complete stage is `last`: every step up to it is done;
    /// the wizard shows that step.
    pub fn restored(last: Option<Stage>) -> Self {
        let mut wizard = Self::default();
        if let Some(stage) = last {
            let last_step = Step::for_stage(stage);
            // The clustering matrix alone (a clustering that was interrupted) does not make the
            // Cluster step done: it is shown, ready to run.
            let last_done = stage != Stage::Gold;
            for step in
                Step::ALL.iter().filter(|s| **s < last_step || (**s == last_step && last_done))
            {
                wizard.states[step.index()] = StepState::Done;
            }
            wizard.current = Some(last_step);
        }
        wizard
    }

    /// The step bar; `enabled` is false while a stage runs (navigation waits).
    pub fn step_bar(&mut self, ui: &mut egui::Ui, enabled: bool) {
        ui.horizontal(|ui| {
            for (i, step) in Step::ALL.into_iter().enumerate() {
                if i > 0 {
                    ui.label(RichText::new("›").weak());
                }
                let state = self.state(step);
                let selected = self.current() == step;
                let clickable = enabled && self.can_visit(step);
                let response = ui
                    .add_enabled(clickable, egui::Button::selectable(selected, step.bar_label()))
                    .on_hover_text(step_hint(step, state));
                if response.clicked() {
                    self.go_to(step);
                }
                match state {
                    StepState::Done => ui.label(
                        RichText::new("done")
                            .small()
                            .color(crate::app::theme::ok_color(ui.visuals())),
                    ),
                    StepState::Stale => {
                        ui.label(
                            RichText::new("out of date")
                                .small()
                                .color(crate::app::theme::warning_color(ui.visuals())),
                        )
                        .on_hover_text("Out of date: an earlier step changed. Run this step again.")
                    }
                    StepState::NotDone => ui.label(" "),
                };
            }
        });
    }
}

fn step_hint(step: Step, state: StepState) -> String {
    let what = match state {
        StepState::Done => "done",
        StepState::Stale => "out of date: an earlier step changed",
        StepState::NotDone => "not done yet",
    };
    format!("{}: {what}", step.title())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completing_an_earlier_step_marks_later_done_steps_stale() {
        let mut w = Wizard::default();
        w.complete(Step::Load);
        w.complete(Step::Validate);
        w.complete(Step::Features);
        w.complete(Step::Validate);
        assert_eq!(w.state(Step::Validate), StepState::Done);
        assert_eq!(w.state(Step::Features), StepState::Stale);
        assert_eq!(w.state(Step::Cluster), StepState::NotDone, "never done, so not stale");
    }

    #[test]
    fn only_reached_steps_can_be_visited() {
        let mut w = Wizard::default();
        assert!(w.can_visit(Step::Load));
        assert!(!w.go_to(Step::Validate));
        w.complete(Step::Load);
        assert!(w.go_to(Step::Validate));
        assert!(!w.can_visit(Step::Features));
        w.complete(Step::Validate);
        assert!(w.can_visit(Step::Features));
        assert!(!w.can_visit(Step::Cluster));
    }

    #[test]
    fn restoring_marks_every_step_up_to_the_last_stage_done() {
        let w = Wizard::restored(Some(Stage::Features));
        assert_eq!(w.current(), Step::Features);
        assert_eq!(w.state(Step::Load), StepState::Done);
        assert_eq!(w.state(Step::Features), StepState::Done);
        assert_eq!(w.state(Step::Cluster), StepState::NotDone);
        assert!(w.can_visit(Step::Cluster));
        assert_eq!(Wizard::restored(None).current(), Step::Load);
    }

    #[test]
    fn a_clustering_matrix_without_segments_leaves_the_cluster_step_to_do() {
        let w = Wizard::restored(Some(Stage::Gold));
        assert_eq!(w.current(), Step::Cluster);
        assert_eq!(w.state(Step::Features), StepState::Done);
        assert_eq!(w.state(Step::Cluster), StepState::NotDone);
        assert!(!w.can_visit(Step::Report));
        let w = Wizard::restored(Some(Stage::Cluster));
        assert_eq!(w.state(Step::Cluster), StepState::Done);
    }

    #[test]
    fn reset_forgets_later_steps_and_moves_back() {
        let mut w = Wizard::restored(Some(Stage::Features));
        w.reset_from(Step::Validate);
        assert_eq!(w.current(), Step::Validate);
        assert_eq!(w.state(Step::Load), StepState::Done);
        assert_eq!(w.state(Step::Features), StepState::NotDone);
    }
}
