//! Files and folders readable by their owner only: every analysis holds customers' e-mail
//! addresses, so everything ReturnScope creates (the data folder, analysis files, their spill
//! folders, metadata, logs, exports, reports, the pseudonym key) is created with mode 0700
//! (folders) or 0600 (files) on Unix. A file that already exists keeps its mode: the user chose
//! it. On Windows the per-user locations (`%APPDATA%`, the documents folder) already belong to one
//! account and nothing is changed.
//!
//! Files that other code creates itself (DuckDB's `.duckdb`, `.wal` and spill folder, its COPY
//! outputs) are covered twice: [`restrict_process_umask`] at start-up makes the operating system
//! create them owner-only, and [`restrict`] tightens the ones we know about right after they
//! appear (for callers that did not set the umask, such as tests).
//!
//! Atomic writers create their temporary file with [`create_new_file`] and call
//! [`keep_mode_of_target`] before renaming it over the target.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

/// Mode of the folders ReturnScope creates (Unix).
pub const DIR_MODE: u32 = 0o700;
/// Mode of the files ReturnScope creates (Unix).
pub const FILE_MODE: u32 = 0o600;

/// From now on, files and folders this process creates (DuckDB's included) are not readable by
/// group or others. Call once at start-up, before any thread starts; no-op off Unix.
pub fn restrict_process_umask() {
    #[cfg(unix)]
    // SAFETY: umask only swaps the process's file-creation mask; it cannot fail.
    unsafe {
        libc::umask(0o077);
    }
}

/// Create `dir` and any missing parents, each new one owner-only. Existing folders are kept as
/// they are.
pub fn create_dir_all(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, DIR_MODE);
    builder.create(dir)
}

fn private_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.write(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, FILE_MODE);
    options
}

/// Open `path` for writing, emptied; created owner-only when new (an existing file keeps its
/// mode).
pub fn create_file(path: &Path) -> io::Result<File> {
    private_options().create(true).truncate(true).open(path)
}

/// Create `path`, owner-only; fails if it exists (temporary files of atomic writers).
pub fn create_new_file(path: &Path) -> io::Result<File> {
    private_options().create_new(true).open(path)
}

/// Write `bytes` to `path` (created owner-only when new).
pub fn write(path: &Path, bytes: impl AsRef<[u8]>) -> io::Result<()> {
    let mut file = create_file(path)?;
    file.write_all(bytes.as_ref())?;
    file.flush()
}

/// Make an existing file (0600) or folder (0700) owner-only; a missing path is not an error.
/// For files that another library created.
pub fn restrict(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = match std::fs::symlink_metadata(path) {
            Ok(meta) => meta,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(err) => return Err(err),
        };
        if meta.file_type().is_symlink() {
            return Ok(()); // never change what a link points at
        }
        let mode = if meta.is_dir() { DIR_MODE } else { FILE_MODE };
        if meta.permissions().mode() & 0o777 != mode {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Before renaming `temp` over `target`: an existing target's mode is given to `temp` (the user
/// chose it); a new target stays owner-only.
pub fn keep_mode_of_target(temp: &Path, target: &Path) -> io::Result<()> {
    match std::fs::metadata(target) {
        Ok(meta) => std::fs::set_permissions(temp, meta.permissions()),
        Err(err) if err.kind() == io::ErrorKind::NotFound => restrict(temp),
        Err(err) => Err(err),
    }
}

/// The permissions of `path` if it exists: [`restore_or_restrict`] puts them back after a
/// library replaced the file (DuckDB's `COPY` writes a new file and renames it).
pub fn permissions_before(path: &Path) -> Option<std::fs::Permissions> {
    std::fs::metadata(path).ok().map(|m| m.permissions())
}

/// After another library wrote `path`: the permissions it had before (the user chose them), or
/// owner-only for a new file.
pub fn restore_or_restrict(path: &Path, before: Option<std::fs::Permissions>) -> io::Result<()> {
    match before {
        Some(permissions) => std::fs::set_permissions(path, permissions),
        None => restrict(path),
    }
}

/// Whether group or others may read, write or enter `path` (always false off Unix).
pub fn is_shared(path: &Path) -> io::Result<bool> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        Ok(std::fs::symlink_metadata(path)?.permissions().mode() & 0o077 != 0)
    }
    #[cfg(not(unix))]
    {
        std::fs::symlink_metadata(path).map(|_| false)
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn new_folders_and_files_are_owner_only_existing_files_keep_their_mode() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a").join("b");
        create_dir_all(&nested).unwrap();
        assert_eq!(mode(&dir.path().join("a")), 0o700);
        assert_eq!(mode(&nested), 0o700);

        let new = nested.join("new.csv");
        write(&new, "x").unwrap();
        assert_eq!(mode(&new), 0o600);

        let existing = nested.join("shared.csv");
        std::fs::write(&existing, "old").unwrap();
        std::fs::set_permissions(&existing, std::fs::Permissions::from_mode(0o644)).unwrap();
        write(&existing, "new").unwrap();
        assert_eq!(mode(&existing), 0o644, "a file the user pointed us at keeps its mode");
        assert_eq!(std::fs::read_to_string(&existing).unwrap(), "new");
        assert!(is_shared(&existing).unwrap() && !is_shared(&new).unwrap());
    }

    #[test]
    fn restrict_tightens_files_and_folders_and_ignores_missing_ones() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f.duckdb");
        let sub = dir.path().join("f.duckdb.tmp");
        std::fs::write(&file, "x").unwrap();
        std::fs::create_dir(&sub).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o664)).unwrap();
        std::fs::set_permissions(&sub, std::fs::Permissions::from_mode(0o755)).unwrap();
        restrict(&file).unwrap();
        restrict(&sub).unwrap();
        restrict(&dir.path().join("missing.wal")).unwrap();
        assert_eq!((mode(&file), mode(&sub)), (0o600, 0o700));
    }

    #[test]
    fn an_atomic_writer_keeps_an_existing_targets_mode_and_a_new_one_private() {
        let dir = tempfile::tempdir().unwrap();
        let (temp, target) = (dir.path().join(".r.partial"), dir.path().join("r.xlsx"));
        create_new_file(&temp).unwrap();
        assert_eq!(mode(&temp), 0o600);
        assert!(create_new_file(&temp).is_err(), "a temporary file is never reused");
        keep_mode_of_target(&temp, &target).unwrap();
        assert_eq!(mode(&temp), 0o600);
        std::fs::write(&target, "old").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o640)).unwrap();
        keep_mode_of_target(&temp, &target).unwrap();
        assert_eq!(mode(&temp), 0o640);
    }
}
