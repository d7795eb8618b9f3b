//! Fault injection for the interruption tests, at the last write of a stage (before it commits).
//!
//! `RETURNSCOPE_FAULT=fail:<stage>` makes that stage fail there, as a failing write would;
//! `RETURNSCOPE_FAULT=hold:<stage>` makes it write `<analysis file>.fault-hold` and wait there
//! until the process is killed (the tests kill it with SIGKILL mid-stage). Unset in normal use,
//! where it costs one environment lookup per stage.

use crate::pipeline::error::{PipelineError, Result};
use crate::pipeline::progress::Stage;
use std::path::Path;

/// The environment variable read by [`before_commit`].
pub const FAULT_VAR: &str = "RETURNSCOPE_FAULT";

/// Apply the configured fault, if any, to `stage` of the analysis at `db`.
pub fn before_commit(db: &Path, stage: Stage) -> Result<()> {
    let Ok(fault) = std::env::var(FAULT_VAR) else { return Ok(()) };
    match fault.split_once(':') {
        Some(("fail", s)) if s == stage.key() => Err(PipelineError::Write {
            path: db.display().to_string(),
            reason: format!("injected failure in the {} stage ({FAULT_VAR})", stage.key()),
        }),
        Some(("hold", s)) if s == stage.key() => {
            let mut marker = db.as_os_str().to_owned();
            marker.push(".fault-hold");
            let _ = std::fs::write(marker, stage.key());
            loop {
                std::thread::sleep(std::time::Duration::from_secs(1));
            }
        }
        _ => Ok(()),
    }
}
