//! Files of the data directory that must not be read by others or left half-written: owner-only modes,
//! enforced at every start, and atomic writes.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Owner-only: the store, keys, tokens and kubeconfigs.
pub const PRIVATE_FILE: u32 = 0o600;
/// Owner-only directory: the data directory.
pub const PRIVATE_DIR: u32 = 0o700;
/// Certificates, which are public.
pub const PUBLIC_FILE: u32 = 0o644;

/// A file operation that failed, naming the file.
#[derive(Debug, thiserror::Error)]
#[error("{}: {source}", path.display())]
pub struct FileError {
    /// The file.
    pub path: PathBuf,
    /// The error.
    pub source: std::io::Error,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> FileError + '_ {
    move |source| FileError { path: path.to_path_buf(), source }
}

/// Creates `dir` if absent and makes it owner-only, at every start: a directory loosened by hand is tightened.
pub fn prepare_private_dir(dir: &Path) -> Result<(), FileError> {
    fs::create_dir_all(dir).map_err(io(dir))?;
    set_mode(dir, PRIVATE_DIR)
}

/// Sets `path`'s permission bits.
pub fn set_mode(path: &Path, mode: u32) -> Result<(), FileError> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(io(path))
}

/// `path` with `.new` appended: where a file is prepared before it is renamed into place.
pub fn staging_path(path: &Path) -> PathBuf {
    let mut staging = path.as_os_str().to_owned();
    staging.push(".new");
    PathBuf::from(staging)
}

/// Writes `contents` to `path` with `mode`, atomically: a file beside it is written, synced and renamed
/// over `path`, so a crash leaves the old file or the new one, never a part of one.
pub fn write_atomically(path: &Path, contents: &[u8], mode: u32) -> Result<(), FileError> {
    let staging = staging_path(path);
    let _ = fs::remove_file(&staging);
    let mut file =
        fs::OpenOptions::new().write(true).create_new(true).mode(mode).open(&staging).map_err(io(&staging))?;
    file.write_all(contents).map_err(io(&staging))?;
    file.sync_all().map_err(io(&staging))?;
    // The mode given at creation is masked by the umask; set it exactly.
    set_mode(&staging, mode)?;
    rename_durably(&staging, path)
}

/// Renames `from` over `to` and makes the rename durable.
pub fn rename_durably(from: &Path, to: &Path) -> Result<(), FileError> {
    fs::rename(from, to).map_err(io(to))?;
    let parent = to.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    fs::File::open(parent).and_then(|d| d.sync_all()).map_err(io(parent))
}

/// The permission bits of `path`.
pub fn mode_of(path: &Path) -> Result<u32, FileError> {
    Ok(fs::metadata(path).map_err(io(path))?.permissions().mode() & 0o777)
}
