//! One runner for every piece of background work: pipeline stages, file dialogs, sample data.
//!
//! A job is a closure run on its own `std::thread`. It receives a [`Progress`] whose sink sends
//! each [`ProgressUpdate`] through a channel and wakes the UI (`ctx.request_repaint_after`, so a
//! burst of updates costs one frame per 100 ms); the job's result comes back through the same
//! channel and wakes the UI at once. Nothing polls: the UI drains the channel once
//! per frame ([`JobRunner::drain`]). Stage jobs are exclusive and cancellable (button or Esc via the
//! [`CancelToken`]); dialog jobs (file pickers) and preview jobs run beside them and show no
//! progress.
//!
//! The pattern follows rerun's `background_tasks.rs` and `egui_inbox`: the sender side lives on
//! the worker, the receiver on the UI, and a repaint request is the only cross-thread wake-up.

use crate::pipeline::memory::ResidentSampler;
use crate::pipeline::progress::{CancelToken, Progress, ProgressUpdate};
use crossbeam_channel::{Receiver, Sender};
use eframe::egui;
use std::panic::AssertUnwindSafe;
use std::time::Instant;

/// Run the calling thread at a lower priority than the UI thread: a clustering keeps every core
/// busy, and on a 2-core machine the UI would otherwise wait for a time slice. Linux only (there
/// `nice` is per thread, and threads started later, DuckDB's included, inherit it); elsewhere
/// the operating system's scheduler favours the focused window's thread on its own.
pub fn lower_this_thread_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority only reads its integer arguments; `who = 0` is the calling thread.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, 10);
    }
}

/// Make rayon's worker threads (the clustering's parallel loops) low priority too. Call once,
/// before any parallel work; later calls do nothing.
pub fn lower_background_priority() {
    let pool = rayon::ThreadPoolBuilder::new().start_handler(|_| lower_this_thread_priority());
    if let Err(err) = pool.build_global() {
        tracing::debug!("rayon's pool was already set up: {err}");
    }
}

/// Identifies one spawned job.
pub type JobId = u64;

/// What kind of work a job is, which decides how the UI treats it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    /// A pipeline stage (or a chain of them): one at a time, with a progress bar and Cancel.
    Stage,
    /// Waiting on the user (a file dialog): runs beside a stage, shows no progress.
    Dialog,
    /// A quick computation for a page (the eps preview): runs beside a stage, reads no files,
    /// shows no progress.
    Preview,
    /// The UMAP-style map of a finished run: runs beside the page without locking it (other K,
    /// Continue, Save and Export stay usable) and shows its progress on the map; a stage that
    /// needs the run or writes the analysis cancels it first.
    Map,
}

/// A job's closure panicked; the runner turns the panic into this value for the UI.
#[derive(Debug, Clone)]
pub struct JobPanicked(pub String);

/// Messages from workers to the UI thread.
enum Message<T> {
    /// An update, with the process's resident memory when it was sent.
    Progress(JobId, ProgressUpdate, Option<u64>),
    Finished(JobId, T),
}

/// A job that has not reported its result yet.
#[derive(Debug)]
pub struct RunningJob {
    pub id: JobId,
    pub kind: JobKind,
    /// What the user started ("Loading orders.csv").
    pub title: String,
    pub cancel: CancelToken,
    pub started: Instant,
    /// The latest progress update, if any arrived.
    pub last_update: Option<ProgressUpdate>,
    /// The app's resident memory at the latest update (the job's stage is using most of it).
    pub resident_bytes: Option<u64>,
    /// When the stage of `last_update` began (for the rows/s rate).
    stage_started: Instant,
}

impl RunningJob {
    /// Fraction done in the current stage, 0 before the first update.
    pub fn fraction(&self) -> f32 {
        self.last_update.as_ref().map_or(0.0, |u| u.fraction as f32)
    }

    /// Items (rows, points) per second in the current stage, when the stage counts them.
    pub fn items_per_second(&self) -> Option<f64> {
        let items = self.last_update.as_ref()?.items_done?;
        let seconds = self.stage_started.elapsed().as_secs_f64();
        (seconds > 0.05).then(|| items as f64 / seconds)
    }

    /// Whether the user asked this job to stop.
    pub fn cancel_requested(&self) -> bool {
        self.cancel.is_cancelled()
    }

    fn record(&mut self, update: ProgressUpdate) {
        if self.last_update.as_ref().is_none_or(|u| u.stage != update.stage) {
            self.stage_started = Instant::now();
        }
        self.last_update = Some(update);
    }
}

/// Runs jobs on threads and hands their results back to the UI thread.
pub struct JobRunner<T> {
    tx: Sender<Message<T>>,
    rx: Receiver<Message<T>>,
    next_id: JobId,
    running: Vec<RunningJob>,
}

impl<T: Send + From<JobPanicked> + 'static> Default for JobRunner<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Send + From<JobPanicked> + 'static> JobRunner<T> {
    pub fn new() -> Self {
        let (tx, rx) = crossbeam_channel::unbounded();
        Self { tx, rx, next_id: 1, running: Vec::new() }
    }

    /// Run `job` on a new thread. `ctx` is woken on every progress update and on completion.
    pub fn spawn(
        &mut self,
        ctx: &egui::Context,
        kind: JobKind,
        title: impl Into<String>,
        job: impl FnOnce(&Progress) -> T + Send + 'static,
    ) -> JobId {
        let id = self.next_id;
        self.next_id += 1;
        let title = title.into();
        let cancel = CancelToken::new();
        let progress = progress_sink(id, self.tx.clone(), ctx.clone(), cancel.clone());
        let tx = self.tx.clone();
        let wake = ctx.clone();
        tracing::info!(job = id, "{title}: started");
        let spawned =
            std::thread::Builder::new().name(format!("returnscope-job-{id}")).spawn(move || {
                lower_this_thread_priority();
                let output = std::panic::catch_unwind(AssertUnwindSafe(|| job(&progress)))
                    .unwrap_or_else(|panic| T::from(JobPanicked(panic_message(panic.as_ref()))));
                // The UI may be gone (window closed mid-job): nothing left to tell.
                let _ = tx.send(Message::Finished(id, output));
                wake.request_repaint();
            });
        if let Err(err) = spawned {
            tracing::error!(job = id, "cannot start a thread: {err}");
            let _ = self.tx.send(Message::Finished(
                id,
                T::from(JobPanicked(format!("cannot start a thread: {err}"))),
            ));
        }
        let now = Instant::now();
        self.running.push(RunningJob {
            id,
            kind,
            title,
            cancel,
            started: now,
            last_update: None,
            resident_bytes: None,
            stage_started: now,
        });
        id
    }

    /// Take every message that arrived since the last frame; returns the finished jobs' results.
    pub fn drain(&mut self) -> Vec<(JobId, T)> {
        let mut finished = Vec::new();
        while let Ok(message) = self.rx.try_recv() {
            match message {
                Message::Progress(id, update, resident) => {
                    if let Some(job) = self.running.iter_mut().find(|j| j.id == id) {
                        job.record(update);
                        job.resident_bytes = resident.or(job.resident_bytes);
                    }
                }
                Message::Finished(id, output) => {
                    if let Some(pos) = self.running.iter().position(|j| j.id == id) {
                        let job = self.running.remove(pos);
                        tracing::info!(
                            job = id,
                            "{}: finished after {:.2} s",
                            job.title,
                            job.started.elapsed().as_secs_f64()
                        );
                    }
                    finished.push((id, output));
                }
            }
        }
        finished
    }

    /// The running stage job, if any (there is at most one).
    pub fn stage_job(&self) -> Option<&RunningJob> {
        self.running.iter().find(|j| j.kind == JobKind::Stage)
    }

    /// Whether a stage job runs (new stages must wait).
    pub fn is_busy(&self) -> bool {
        self.stage_job().is_some()
    }

    /// Whether any job runs.
    pub fn has_any(&self) -> bool {
        !self.running.is_empty()
    }

    /// Whether a job of `kind` runs.
    pub fn has_running(&self, kind: JobKind) -> bool {
        self.running.iter().any(|j| j.kind == kind)
    }

    /// Ask job `id` to stop, if it still runs.
    pub fn cancel(&self, id: JobId) {
        self.running.iter().filter(|j| j.id == id).for_each(|j| j.cancel.cancel());
    }

    /// Ask every running job of `kind` to stop.
    pub fn cancel_kind(&self, kind: JobKind) {
        self.running.iter().filter(|j| j.kind == kind).for_each(|j| j.cancel.cancel());
    }

    /// Ask the running stage job to stop; it ends at its next cancel check.
    pub fn cancel_stage(&self) {
        if let Some(job) = self.stage_job() {
            tracing::info!(job = job.id, "{}: cancel requested", job.title);
            job.cancel.cancel();
        }
    }
}

/// How soon the UI redraws after a progress update (a job's end wakes it at once).
const PROGRESS_REPAINT: std::time::Duration = std::time::Duration::from_millis(100);

/// A [`Progress`] that forwards updates of job `id` to the UI and wakes it.
fn progress_sink<T: Send + 'static>(
    id: JobId,
    tx: Sender<Message<T>>,
    ctx: egui::Context,
    cancel: CancelToken,
) -> Progress {
    let memory = ResidentSampler::default();
    Progress::new(
        move |update| {
            let _ = tx.send(Message::Progress(id, update, memory.sample()));
            // Coalesced: a stage may report hundreds of times a second, the bar needs ten.
            ctx.request_repaint_after(PROGRESS_REPAINT);
        },
        cancel,
    )
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::progress::Stage;
    use std::time::Duration;

    #[derive(Debug, PartialEq)]
    enum Out {
        Value(u32),
        Stopped,
        Panicked(String),
    }

    impl From<JobPanicked> for Out {
        fn from(p: JobPanicked) -> Self {
            Out::Panicked(p.0)
        }
    }

    fn drain_until_done(runner: &mut JobRunner<Out>) -> Vec<(JobId, Out)> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let done = runner.drain();
            if !done.is_empty() || Instant::now() > deadline {
                return done;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn result_and_progress_come_back_through_the_channel() {
        let ctx = egui::Context::default();
        let mut runner = JobRunner::<Out>::new();
        let (go_tx, go_rx) = crossbeam_channel::bounded::<()>(0);
        let id = runner.spawn(&ctx, JobKind::Stage, "test", move |p| {
            p.for_stage(Stage::Validate).update_items(0.5, "half", 10);
            go_rx.recv().unwrap();
            Out::Value(7)
        });
        assert!(runner.is_busy());
        // The worker blocks on `go` after its update, so the update is drained before the result.
        std::thread::sleep(Duration::from_millis(50));
        assert!(runner.drain().is_empty());
        let job = runner.stage_job().unwrap();
        assert_eq!(job.fraction(), 0.5);
        assert_eq!(job.last_update.as_ref().unwrap().stage, Stage::Validate);
        go_tx.send(()).unwrap();
        let done = drain_until_done(&mut runner);
        assert_eq!(done, vec![(id, Out::Value(7))]);
        assert!(!runner.is_busy());
    }

    #[test]
    fn cancel_reaches_the_job() {
        let ctx = egui::Context::default();
        let mut runner = JobRunner::<Out>::new();
        runner.spawn(&ctx, JobKind::Stage, "loop", |p| {
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if p.check_cancel().is_err() {
                    return Out::Stopped;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            Out::Value(0)
        });
        runner.cancel_stage();
        assert_eq!(drain_until_done(&mut runner)[0].1, Out::Stopped);
    }

    #[test]
    fn a_panicking_job_reports_instead_of_hanging() {
        let ctx = egui::Context::default();
        let mut runner = JobRunner::<Out>::new();
        runner.spawn(&ctx, JobKind::Dialog, "boom", |_| panic!("boom"));
        assert!(runner.has_running(JobKind::Dialog));
        assert!(!runner.is_busy(), "a dialog job is not a stage");
        assert_eq!(drain_until_done(&mut runner)[0].1, Out::Panicked("boom".into()));
    }
}
