//! ReturnScope entry point: no arguments opens the desktop app, otherwise the command line.

// Release builds on Windows open no console window behind the app.
#![cfg_attr(all(windows, not(debug_assertions)), windows_subsystem = "windows")]

fn main() -> std::process::ExitCode {
    returnscope::cli::main()
}
