//! Day 6 (recovery, given code): the lock that keeps a second engine out of a directory.
//!
//! Two engines on one directory would both append to `MANIFEST`, hand out the same ids and
//! delete each other's files. So [`DirLock::acquire`] takes an exclusive lock on the file
//! `LOCK` in the directory, held until the [`DirLock`] is dropped, with the engine.
//!
//! # Why `fcntl`, and not `File::try_lock`
//!
//! `File::try_lock` is `flock(2)` on Linux, and an `flock` lock belongs to the *open file
//! description*: every descriptor that shares it holds the lock. Spawning a process forks first,
//! and until the child calls `exec` it holds a copy of every descriptor of the parent (`O_CLOEXEC`
//! closes them only at `exec`). So an engine closed in that moment, by any thread, left its
//! directory locked by a child process that would never use it, and a reopen failed with
//! [`Error::Locked`]: the day-6 tests failed this way in about one run in five on a loaded
//! machine, because the crash test spawns processes while other tests reopen databases.
//!
//! A POSIX record lock, `fcntl(F_SETLK)`, belongs to the *process* instead: a forked child does
//! not inherit it, so closing the engine releases the directory whatever other threads do.
//! LevelDB and RocksDB lock this way. The standard library has no API for it, hence `libc`.
//!
//! # Why an in-process table as well
//!
//! Because the lock belongs to the process, `fcntl` never refuses a second lock from the same
//! process; worse, closing *any* descriptor of `LOCK` in the process releases the process's
//! lock on it. A second engine that opened `LOCK` to find out would unlock the first one. So
//! the directories locked by this process are kept in a table (by canonical path, so that
//! `db`, `./db` and a symlink to it are one directory), and a second open is refused from the
//! table before `LOCK` is opened a second time. (Anything else in the process that opens and
//! closes `LOCK` still drops the `fcntl` lock; the table keeps protecting this process's engines,
//! as LevelDB's does.)

#![expect(
    unsafe_code,
    reason = "fcntl(F_SETLK) has no std API; the two unsafe calls are explained where they are"
)]

use std::collections::BTreeSet;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use parking_lot::Mutex;

use crate::error::{Error, Result};

/// The directories (canonical paths) that an engine of this process has locked.
static LOCKED_DIRS: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());

/// An exclusive lock on an engine directory: held until dropped.
#[derive(Debug)]
pub(crate) struct DirLock {
    /// The canonical path of the directory: its entry in [`LOCKED_DIRS`].
    dir: PathBuf,
    /// The open `LOCK` file, which carries the `fcntl` lock; `None` only while acquiring.
    file: Option<File>,
}

impl DirLock {
    /// Locks the existing directory `dir` for one engine, or fails with [`Error::Locked`] when
    /// an engine in this process or another holds it.
    pub(crate) fn acquire(dir: &Path) -> Result<DirLock> {
        let canonical = dir.canonicalize().map_err(|e| Error::io(dir, e))?;
        if !LOCKED_DIRS.lock().insert(canonical.clone()) {
            return Err(Error::Locked(dir.to_path_buf()));
        }
        // The table entry is ours from here: dropping `lock` on any error below removes it.
        let mut lock = DirLock {
            dir: canonical,
            file: None,
        };
        let path = lock.dir.join("LOCK");
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        let locked = try_lock_whole_file(&file).map_err(|e| Error::io(&path, e))?;
        lock.file = Some(file);
        if !locked {
            return Err(Error::Locked(dir.to_path_buf()));
        }
        Ok(lock)
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        // Close the file (which releases the `fcntl` lock) *before* freeing the table entry:
        // the other way round, a new engine of this process could lock the directory in between
        // and then lose its lock when this descriptor closes.
        drop(self.file.take());
        LOCKED_DIRS.lock().remove(&self.dir);
    }
}

/// Takes an exclusive `fcntl` record lock on all of `file` without waiting. `Ok(false)` when
/// another process holds a conflicting lock.
fn try_lock_whole_file(file: &File) -> std::io::Result<bool> {
    // SAFETY: `libc::flock` is a plain C struct of integers, for which all zeros is a valid
    // value (and the platform's padding or extra fields stay zero, as `fcntl` expects).
    let mut request: libc::flock = unsafe { std::mem::zeroed() };
    request.l_type = libc::F_WRLCK as _;
    request.l_whence = libc::SEEK_SET as _;
    // `l_start = 0` and `l_len = 0`: from the start to the end of the file, however it grows.
    // SAFETY: the descriptor is open for the whole call (borrowed from `file`), and `F_SETLK`
    // only reads the `flock` that the pointer refers to, which outlives the call.
    let result = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLK, &raw const request) };
    if result == 0 {
        return Ok(true);
    }
    let error = std::io::Error::last_os_error();
    match error.raw_os_error() {
        // POSIX allows either for "held by another process".
        Some(libc::EACCES | libc::EAGAIN) => Ok(false),
        _ => Err(error),
    }
}
