//! Placeholder: being written.
use std::path::{Path, PathBuf};
pub struct SampleOptions { pub customers: usize, pub seed: u64, pub clean: bool }
pub struct SampleSummary { pub rows_written: u64, pub customers: usize, pub truth_path: PathBuf }
pub fn write_sample(_out: &Path, _o: &SampleOptions) -> std::io::Result<SampleSummary> { todo!() }
