//! The file-system operations that make data durable, in one place.
//!
//! Writing to a file only hands the bytes to the operating system's page cache; a power cut can
//! still lose them. Three more things are needed, and every one of them goes through this module:
//!
//! * [`sync_file`]: `fsync` a file, so its *contents* (up to its current length) survive;
//! * [`sync_dir`]: `fsync` a directory, so the *names* in it survive: a new file can vanish, a
//!   deleted or renamed one can come back, until its directory is synced;
//! * [`remove_file`] and [`rename`]: change names (made durable by the next [`sync_dir`]).
//!
//! Going through these functions rather than `std::fs` directly is what lets the test-only
//! power-loss simulation ([`crate::failpoint`], feature `failpoints`) know exactly what a real
//! power cut would keep: it watches every sync, deletion and rename, and can then build the
//! directory a machine would find after losing power at that moment. Without the feature these
//! functions are the plain `std` calls.

use std::fs::File;
use std::path::Path;

use crate::error::{Error, Result};
use crate::failpoint;

/// Makes the contents of `file` (at `path`) durable: `fsync`.
pub fn sync_file(file: &File, path: &Path) -> Result<()> {
    failpoint::before_durable_op("fsync of", path)?;
    file.sync_all().map_err(|e| Error::io(path, e))?;
    failpoint::file_synced(file, path);
    Ok(())
}

/// Makes the creation, deletion and renaming of files in directory `dir` durable: `fsync`
/// of the directory itself.
pub fn sync_dir(dir: &Path) -> Result<()> {
    failpoint::before_durable_op("fsync of directory", dir)?;
    // With the power-loss simulation on, directory syncs run one at a time, so that what each
    // makes durable (the names listed just before it) is recorded in the order they ran.
    let _one_at_a_time = failpoint::dir_sync_guard();
    let names = failpoint::dir_listing(dir);
    File::open(dir)
        .and_then(|dir| dir.sync_all())
        .map_err(|e| Error::io(dir, e))?;
    failpoint::dir_synced(dir, names);
    Ok(())
}

/// Deletes the file at `path`. Durable only after the next [`sync_dir`] of its directory.
pub fn remove_file(path: &Path) -> Result<()> {
    failpoint::before_durable_op("deletion of", path)?;
    failpoint::before_unlink(path);
    std::fs::remove_file(path).map_err(|e| Error::io(path, e))
}

/// Renames `from` to `to`, replacing `to` atomically if it exists: after a crash the name `to`
/// refers to the old file or the new one, never to a mix. Durable only after the next
/// [`sync_dir`].
pub fn rename(from: &Path, to: &Path) -> Result<()> {
    failpoint::before_durable_op("rename onto", to)?;
    failpoint::before_unlink(to);
    std::fs::rename(from, to).map_err(|e| Error::io(to, e))
}
