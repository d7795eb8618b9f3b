//! Progress reporting and cancellation, passed into every pipeline stage.
//!
//! A stage never knows who is listening: the CLI draws indicatif bars, the desktop app forwards
//! updates through a channel and wakes the UI. Long loops call [`Progress::check_cancel`] between
//! units of work so Cancel (button, Esc, Ctrl-C) takes effect promptly.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The wizard / pipeline stages, in order.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Ingest,
    Validate,
    Features,
    Gold,
    Cluster,
    Embed,
    Report,
    /// Placing a new extract's customers with a saved model.
    Score,
    /// Comparing two periods.
    Compare,
}

impl Stage {
    /// The stages whose layer is recorded as complete in the analysis file, in pipeline order.
    pub const RECORDED: [Stage; 5] =
        [Stage::Ingest, Stage::Validate, Stage::Features, Stage::Gold, Stage::Cluster];

    /// Machine name, as stored in `pipeline_state` and accepted by `--until`.
    pub fn key(self) -> &'static str {
        match self {
            Stage::Ingest => "ingest",
            Stage::Validate => "validate",
            Stage::Features => "features",
            Stage::Gold => "gold",
            Stage::Cluster => "cluster",
            Stage::Embed => "embed",
            Stage::Report => "report",
            Stage::Score => "score",
            Stage::Compare => "compare",
        }
    }

    /// The step's name in messages ("run it again from Features").
    pub fn title(self) -> &'static str {
        match self {
            Stage::Ingest => "Load",
            Stage::Validate => "Validate",
            Stage::Features => "Features",
            Stage::Gold => "the clustering matrix",
            Stage::Cluster => "Cluster",
            Stage::Embed => "the 2-D map",
            Stage::Report => "Report",
            Stage::Score => "Score",
            Stage::Compare => "Compare",
        }
    }

    /// Human label for progress bars and logs.
    pub fn label(self) -> &'static str {
        match self {
            Stage::Ingest => "Loading CSV",
            Stage::Validate => "Validating",
            Stage::Features => "Engineering features",
            Stage::Gold => "Preparing clustering matrix",
            Stage::Cluster => "Clustering",
            Stage::Embed => "Computing 2-D views",
            Stage::Report => "Writing report",
            Stage::Score => "Scoring with the model",
            Stage::Compare => "Comparing periods",
        }
    }
}

/// One progress update from a running stage.
#[derive(Debug, Clone, PartialEq)]
pub struct ProgressUpdate {
    pub stage: Stage,
    /// 0.0 ..= 1.0 within the stage.
    pub fraction: f64,
    /// What the stage is doing right now ("K = 7 of 14", "epoch 120/200").
    pub message: String,
    /// Rows or points processed so far, when the stage counts them (for rows/s).
    pub items_done: Option<u64>,
}

/// Raised by [`Progress::check_cancel`] once the user asked to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cancelled;

impl fmt::Display for Cancelled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("cancelled by the user")
    }
}

impl std::error::Error for Cancelled {}

/// A shared flag that a UI or signal handler sets to stop running work.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

type Sink = Arc<dyn Fn(ProgressUpdate) + Send + Sync>;

/// Handle given to a stage: report progress, and check for cancellation.
#[derive(Clone)]
pub struct Progress {
    sink: Option<Sink>,
    cancel: CancelToken,
    stage: Stage,
}

impl fmt::Debug for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Progress").field("stage", &self.stage).finish_non_exhaustive()
    }
}

impl Progress {
    /// A progress handle that reports nowhere and is never cancelled (tests, benchmarks).
    pub fn none() -> Self {
        Self { sink: None, cancel: CancelToken::new(), stage: Stage::Ingest }
    }

    pub fn new(sink: impl Fn(ProgressUpdate) + Send + Sync + 'static, cancel: CancelToken) -> Self {
        Self { sink: Some(Arc::new(sink)), cancel, stage: Stage::Ingest }
    }

    /// The same sink and cancel flag, reporting as `stage`.
    pub fn for_stage(&self, stage: Stage) -> Self {
        Self { sink: self.sink.clone(), cancel: self.cancel.clone(), stage }
    }

    /// A handle that reports nothing but stops on this one's cancel (work running beside the
    /// reported step, or a step whose own messages are not for users).
    pub fn quiet(&self) -> Self {
        Self { sink: None, cancel: self.cancel.clone(), stage: self.stage }
    }

    /// A handle whose fractions 0..=1 map onto `lo..=hi` of this one (a step within a stage).
    pub fn sub(&self, lo: f64, hi: f64) -> Self {
        let sink = self.sink.clone().map(|parent| {
            Arc::new(move |mut u: ProgressUpdate| {
                u.fraction = lo + (hi - lo) * u.fraction.clamp(0.0, 1.0);
                parent(u)
            }) as Sink
        });
        Self { sink, cancel: self.cancel.clone(), stage: self.stage }
    }

    pub fn stage(&self) -> Stage {
        self.stage
    }

    pub fn cancel_token(&self) -> &CancelToken {
        &self.cancel
    }

    pub fn update(&self, fraction: f64, message: impl Into<String>) {
        self.emit(fraction, message.into(), None);
    }

    pub fn update_items(&self, fraction: f64, message: impl Into<String>, items_done: u64) {
        self.emit(fraction, message.into(), Some(items_done));
    }

    fn emit(&self, fraction: f64, message: String, items_done: Option<u64>) {
        if let Some(sink) = &self.sink {
            sink(ProgressUpdate {
                stage: self.stage,
                fraction: fraction.clamp(0.0, 1.0),
                message,
                items_done,
            });
        }
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// `Err(Cancelled)` once the user asked to stop; call between units of work.
    pub fn check_cancel(&self) -> Result<(), Cancelled> {
        if self.is_cancelled() { Err(Cancelled) } else { Ok(()) }
    }
}
