//! The file-system operations that make data durable, in one place.
//!
//! Writing to a file only hands the bytes to the operating system's page cache; a power cut can
//! still lose them. Three more things are needed, and every one of them goes through this module:
//!
//! * [`sync_file`]: `fsync` a file, so its *contents* (up to its current length) survive
//!   ([`sync_log`] for a log with zeros preallocated after its records);
//! * [`sync_dir`]: `fsync` a directory, so the *names* in it survive: a new file can vanish, a
//!   deleted or renamed one can come back, until its directory is synced;
//! * [`remove_file`] and [`rename`]: change names (made durable by the next [`sync_dir`]).
//!
//! SST files are also created here ([`create_file`]).
//!
//! Going through these functions rather than `std::fs` directly is what lets the test-only
//! power-loss simulation ([`crate::failpoint`], feature `failpoints`) know exactly what a real
//! power cut would keep: it watches every sync, deletion and rename, and can then build the
//! directory a machine would find after losing power at that moment. They are also where the
//! failpoints of SST files and WAL deletions are (see [`crate::failpoint`]), so a test can crash
//! the engine, or fail the operation, right there. Without the feature these functions are the
//! plain `std` calls.

use std::fs::File;
use std::path::Path;

use crate::error::{Error, Result};
use crate::failpoint;

/// Creates a new, empty file at `path`, open for reading and writing. A file already at `path`
/// is an error (`create_new`): the engine never reuses a file name, so one that exists means a
/// bug, not something to overwrite. On an error no new file is left behind. The new name is
/// durable only after the next [`sync_dir`].
pub fn create_file(path: &Path) -> Result<File> {
    let file = File::options()
        .read(true)
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    if let Err(injected) = failpoint::hit_if(failpoint::file_points(path).created, path) {
        // An injected failure stands for a creation that failed: leave nothing, as promised.
        drop(file);
        let _ = std::fs::remove_file(path);
        return Err(injected);
    }
    Ok(file)
}

/// Makes the contents of `file` (at `path`) durable: `fsync`.
pub fn sync_file(file: &File, path: &Path) -> Result<()> {
    failpoint::hit_if(failpoint::file_points(path).before_sync, path)?;
    failpoint::before_durable_op("fsync of", path)?;
    file.sync_all().map_err(|e| Error::io(path, e))?;
    failpoint::file_synced(file, path, None);
    Ok(())
}

/// Makes a log file durable: its first `content_len` bytes are records, and the rest, up to its
/// size, zeros preallocated after them (see [`crate::record_file::RecordWriter`]).
/// `fdatasync`: it writes the data and the metadata needed to read it back (a new size, newly
/// allocated blocks), but not the rest (the modification time), so a sync that changed no size
/// commits nothing to the file system's journal.
pub fn sync_log(file: &File, path: &Path, content_len: u64) -> Result<()> {
    failpoint::hit_if(failpoint::file_points(path).before_sync, path)?;
    failpoint::before_durable_op("fsync of", path)?;
    file.sync_data().map_err(|e| Error::io(path, e))?;
    failpoint::file_synced(file, path, Some(content_len));
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
    failpoint::hit_if(failpoint::file_points(path).before_delete, path)?;
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
