//! ReturnScope entry point: no arguments opens the desktop app, otherwise the command line.

fn main() -> std::process::ExitCode {
    returnscope::cli::main()
}
