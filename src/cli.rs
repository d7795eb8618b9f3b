//! Command line: placeholder while the foundation lands.
pub fn main() -> std::process::ExitCode {
    std::process::ExitCode::SUCCESS
}
