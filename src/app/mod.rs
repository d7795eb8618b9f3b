//! Desktop app placeholder.
pub fn run_app(_initial: Option<std::path::PathBuf>) -> anyhow::Result<()> { Ok(()) }
