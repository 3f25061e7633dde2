//! Test-only failpoints: named places on the engine's write paths where a test can make the
//! operation fail with an I/O error, or crash the process, to check what a full disk or a crash
//! at exactly that moment leaves behind.
//!
//! Each point names a *crash window*: the state of the files if the process died right there.
//! Recovery must cope with every one of them without losing a write that `sync` acknowledged.
//!
//! | point                      | where                                   | a crash here leaves                         |
//! |----------------------------|-----------------------------------------|---------------------------------------------|
//! | `wal.append`               | before a batch is appended to the WAL   | nothing of the batch                        |
//! | `wal.before-sync`          | WAL written to the OS, before `fsync`   | the batch in the file, not yet durable      |
//! | `sst.write`                | new SST file created, nothing written   | an empty new SST file (an orphan)           |
//! | `sst.before-sync`          | SST written, before its `fsync`         | an SST file no manifest record mentions     |
//! | `memtable.before-manifest` | new WAL durable, before `NewMemtable`   | a WAL the manifest does not know (orphan)   |
//! | `manifest.append`          | before a manifest record is appended    | the old tree                                |
//! | `manifest.before-sync`     | record written to the OS, before `fsync`| a record a power cut could still tear       |
//! | `flush.before-manifest`    | SST durable, before its `Flush` record  | an orphan SST; the WAL still has the data   |
//! | `wal.before-delete`        | before a WAL file is deleted            | a flushed or orphan WAL, still on disk      |
//! | `compaction.before-manifest` | outputs durable, before the record    | orphan outputs; the inputs still live       |
//! | `compaction.before-delete` | record durable, inputs not yet deleted  | input SSTs the tree no longer uses (orphans) |
//!
//! **Every call site is in code the course gives**, never in a student's part, so the points
//! work on the starter as well as on the reference: the I/O layer ([`crate::fs`] for SST files
//! and WAL deletions, [`crate::record_file`] for WAL and manifest records) and thin given
//! wrappers ([`crate::manifest::Manifest::add_record`], which passes the window of the record's
//! kind before the student's append; the compaction's input deletion). Which point a file
//! operation passes follows from the file's extension (`record_points`, `file_points`), and
//! which point a manifest record passes from its kind (`manifest_record_point`). `cargo x
//! starter` refuses a solution region that calls into this module, so it stays that way.
//!
//! Failpoints exist only when the crate is built with the `failpoints` cargo feature. Without
//! it, [`hit`] is an empty inline function: the normal build pays nothing for them.
//!
//! With the feature, a test configures points through a [`Scenario`] (which also keeps two
//! tests of one process from configuring points at the same time), and a child process through
//! [`configure`], e.g. from an environment variable:
//! `wal.before-sync=abort@10; sst.write=fail*2` aborts at the 11th WAL sync and fails the next two
//! SST writes (see [`configure`] for the syntax).

use std::path::Path;

use crate::manifest::ManifestRecord;

/// Before a batch is appended to the WAL.
pub const WAL_APPEND: &str = "wal.append";
/// After a WAL's buffered records were written to the OS, before the `fsync`.
pub const WAL_BEFORE_SYNC: &str = "wal.before-sync";
/// Right after a new SST file was created, before anything is written to it.
pub const SST_WRITE: &str = "sst.write";
/// After an SST file was written, before its `fsync`.
pub const SST_BEFORE_SYNC: &str = "sst.before-sync";
/// After a new memtable's WAL was created (and its name made durable), before the manifest
/// records the memtable.
pub const MEMTABLE_BEFORE_MANIFEST: &str = "memtable.before-manifest";
/// Before a record is appended to the manifest.
pub const MANIFEST_APPEND: &str = "manifest.append";
/// After a manifest record was written to the OS, before the `fsync`.
pub const MANIFEST_BEFORE_SYNC: &str = "manifest.before-sync";
/// After a flushed SST is durable (its name too), before the manifest records the flush.
pub const FLUSH_BEFORE_MANIFEST: &str = "flush.before-manifest";
/// Before a WAL file is deleted: after the manifest recorded its memtable's flush, or when
/// recovery removes an orphan WAL.
pub const WAL_BEFORE_DELETE: &str = "wal.before-delete";
/// After a compaction's outputs are durable (their names too), before the manifest records the
/// compaction.
pub const COMPACTION_BEFORE_MANIFEST: &str = "compaction.before-manifest";
/// After the manifest recorded a compaction, before its input SSTs are deleted.
pub const COMPACTION_BEFORE_DELETE: &str = "compaction.before-delete";

/// Every failpoint, in the order of the table in the module documentation.
pub const ALL: [&str; 11] = [
    WAL_APPEND,
    WAL_BEFORE_SYNC,
    SST_WRITE,
    SST_BEFORE_SYNC,
    MEMTABLE_BEFORE_MANIFEST,
    MANIFEST_APPEND,
    MANIFEST_BEFORE_SYNC,
    FLUSH_BEFORE_MANIFEST,
    WAL_BEFORE_DELETE,
    COMPACTION_BEFORE_MANIFEST,
    COMPACTION_BEFORE_DELETE,
];

/// The failpoints of a record file (see [`crate::record_file::RecordWriter`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct RecordPoints {
    /// Before a record is appended.
    pub(crate) append: &'static str,
    /// After the records were written to the OS, before the `fsync`.
    pub(crate) before_sync: &'static str,
}

/// The failpoints of the record file at `path`: the WAL's for a `.wal` file, else the
/// manifest's (the only other record file).
pub(crate) fn record_points(path: &Path) -> RecordPoints {
    if path.extension().is_some_and(|extension| extension == "wal") {
        RecordPoints {
            append: WAL_APPEND,
            before_sync: WAL_BEFORE_SYNC,
        }
    } else {
        RecordPoints {
            append: MANIFEST_APPEND,
            before_sync: MANIFEST_BEFORE_SYNC,
        }
    }
}

/// The failpoints of a file operation of [`crate::fs`]; `None` where the file's kind has none.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct FilePoints {
    /// Right after the file was created ([`crate::fs::create_file`]).
    pub(crate) created: Option<&'static str>,
    /// Before the file's `fsync` ([`crate::fs::sync_file`]).
    pub(crate) before_sync: Option<&'static str>,
    /// Before the file is deleted ([`crate::fs::remove_file`]).
    pub(crate) before_delete: Option<&'static str>,
}

/// The failpoints of the file operations on `path`: an SST's creation and sync, a WAL's
/// deletion. A WAL's appends and syncs are [`record_points`], passed by the record writer.
pub(crate) fn file_points(path: &Path) -> FilePoints {
    match path.extension().and_then(|extension| extension.to_str()) {
        Some("sst") => FilePoints {
            created: Some(SST_WRITE),
            before_sync: Some(SST_BEFORE_SYNC),
            ..FilePoints::default()
        },
        Some("wal") => FilePoints {
            before_delete: Some(WAL_BEFORE_DELETE),
            ..FilePoints::default()
        },
        _ => FilePoints::default(),
    }
}

/// The failpoint passed before `record` is appended to the manifest: the crash window between
/// the change's files being durable and the record that makes the change part of the tree.
/// Records of other kinds have none of their own (`manifest.append` is passed by every one).
pub(crate) fn manifest_record_point(record: &ManifestRecord) -> Option<&'static str> {
    match record {
        ManifestRecord::NewMemtable(_) => Some(MEMTABLE_BEFORE_MANIFEST),
        ManifestRecord::Flush(_) => Some(FLUSH_BEFORE_MANIFEST),
        ManifestRecord::Compaction { .. } => Some(COMPACTION_BEFORE_MANIFEST),
        ManifestRecord::Snapshot(_) | ManifestRecord::NextId(_) => None,
    }
}

/// Passes `point` when there is one: [`hit`] for an optional point of [`FilePoints`] or
/// [`manifest_record_point`].
#[inline(always)]
pub(crate) fn hit_if(point: Option<&str>, path: &Path) -> crate::Result<()> {
    match point {
        Some(point) => hit(point, path),
        None => Ok(()),
    }
}

/// Passes `point` (see the module documentation); `path` names the file in an injected error.
/// Without the `failpoints` feature this does nothing.
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub fn hit(_point: &str, _path: &Path) -> crate::Result<()> {
    Ok(())
}

/// Without the `failpoints` feature there is nothing to configure: always an error.
#[cfg(not(feature = "failpoints"))]
pub fn configure(_spec: &str) -> std::result::Result<(), String> {
    Err("mini-lsm-reference was built without the `failpoints` feature".into())
}

/// What [`crate::fs::sync_dir`] hands from [`dir_listing`] to [`dir_synced`]: the names in the
/// directory just before its `fsync` (nothing without the feature).
#[cfg(not(feature = "failpoints"))]
pub(crate) struct Listing;

/// Called before every durable operation of [`crate::fs`] (a sync, a deletion, a rename): the
/// place where a simulated power loss strikes. Without the `failpoints` feature this does nothing.
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub(crate) fn before_durable_op(_what: &'static str, _path: &Path) -> crate::Result<()> {
    Ok(())
}

/// Records that `file` (at `path`) was synced up to its current length.
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub(crate) fn file_synced(_file: &std::fs::File, _path: &Path, _content_len: Option<u64>) {}

/// The names in `dir`, taken just before it is synced.
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub(crate) fn dir_listing(_dir: &Path) -> Listing {
    Listing
}

/// Records that the names of `listing` in `dir` are durable.
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub(crate) fn dir_synced(_dir: &Path, _listing: Listing) {}

/// Called before the name `path` stops referring to its file (a deletion, or a rename over it).
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub(crate) fn before_unlink(_path: &Path) {}

/// Held across a directory sync (nothing without the feature).
#[cfg(not(feature = "failpoints"))]
pub(crate) struct DirSyncGuard;

/// See [`DirSyncGuard`].
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub(crate) fn dir_sync_guard() -> DirSyncGuard {
    DirSyncGuard
}

#[cfg(feature = "failpoints")]
pub use enabled::{Action, Scenario, configure, hit};
#[cfg(feature = "failpoints")]
pub mod power_loss;
#[cfg(feature = "failpoints")]
pub(crate) use power_loss::{
    before_durable_op, before_unlink, dir_listing, dir_sync_guard, dir_synced, file_synced,
};

#[cfg(feature = "failpoints")]
mod enabled {
    use std::collections::HashMap;
    use std::path::Path;
    use std::sync::atomic::{AtomicBool, Ordering};

    use parking_lot::{Mutex, MutexGuard};

    use crate::error::{Error, Result};

    /// What a configured failpoint does once its first `skip` hits have passed.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Action {
        /// Let `skip` hits pass, then fail the next `times` hits with an injected I/O error
        /// ("storage full"); later hits pass again. `times: u64::MAX` fails for good.
        Fail {
            /// Hits that pass before the first failure.
            skip: u64,
            /// How many hits fail.
            times: u64,
        },
        /// Let `skip` hits pass, then abort the process at the next one: a crash at exactly
        /// this point, with nothing flushed or cleaned up.
        Abort {
            /// Hits that pass before the abort.
            skip: u64,
        },
    }

    /// One configured point: its action and how often it was hit.
    #[derive(Debug)]
    struct Point {
        action: Action,
        hits: u64,
    }

    /// The configured points, by name. Unconfigured points are not in it.
    static POINTS: Mutex<Option<HashMap<String, Point>>> = Mutex::new(None);

    /// Held by the [`Scenario`] in progress.
    static SCENARIO: Mutex<()> = Mutex::new(());

    /// Whether any point is configured: while none is, [`hit`] takes no lock (the graded tests
    /// build the engine with failpoints, and every write passes two).
    static ANY_CONFIGURED: AtomicBool = AtomicBool::new(false);

    /// Passes `point`: fails or aborts when it is configured to, otherwise does nothing.
    pub fn hit(point: &str, path: &Path) -> Result<()> {
        if !ANY_CONFIGURED.load(Ordering::Acquire) {
            return Ok(());
        }
        let mut points = POINTS.lock();
        let Some(configured) = points.as_mut().and_then(|points| points.get_mut(point)) else {
            return Ok(());
        };
        configured.hits += 1;
        let nth = configured.hits; // 1 for the first hit
        match configured.action {
            Action::Fail { skip, times } if nth > skip && nth - skip <= times => {
                Err(Error::io(path, injected(point)))
            }
            Action::Abort { skip } if nth > skip => std::process::abort(),
            _ => Ok(()),
        }
    }

    /// The error an injected failure returns.
    fn injected(point: &str) -> std::io::Error {
        std::io::Error::new(
            std::io::ErrorKind::StorageFull,
            format!("injected by failpoint {point}"),
        )
    }

    /// Sets `point` to `action`, counting its hits from zero.
    fn set(point: &str, action: Action) {
        POINTS
            .lock()
            .get_or_insert_with(HashMap::new)
            .insert(point.to_string(), Point { action, hits: 0 });
        ANY_CONFIGURED.store(true, Ordering::Release);
    }

    /// Configures points from `spec`: entries `POINT=ACTION[@SKIP]` separated by `;`, where
    /// ACTION is `abort`, `fail` (every hit) or `fail*N` (N hits), and SKIP is how many hits
    /// pass first (0 if absent). Example: `manifest.before-sync=abort@3; wal.append=fail*2`.
    /// For a child process; tests use a [`Scenario`].
    pub fn configure(spec: &str) -> std::result::Result<(), String> {
        for entry in spec.split(';').map(str::trim).filter(|e| !e.is_empty()) {
            let (point, action) = parse_entry(entry)?;
            set(point, action);
        }
        Ok(())
    }

    /// Parses one `POINT=ACTION[@SKIP]` entry of [`configure`].
    fn parse_entry(entry: &str) -> std::result::Result<(&str, Action), String> {
        let bad = |why: &str| format!("failpoint entry `{entry}`: {why}");
        let (point, rest) = entry.split_once('=').ok_or_else(|| bad("no `=`"))?;
        let point = point.trim();
        if !super::ALL.contains(&point) {
            return Err(bad("unknown failpoint"));
        }
        let (action, skip) = match rest.split_once('@') {
            Some((action, skip)) => (action, skip.trim().parse().map_err(|_| bad("bad SKIP"))?),
            None => (rest, 0),
        };
        let action = match action.trim() {
            "abort" => Action::Abort { skip },
            "fail" => Action::Fail {
                skip,
                times: u64::MAX,
            },
            other => match other.strip_prefix("fail*").map(str::parse) {
                Some(Ok(times)) => Action::Fail { skip, times },
                _ => return Err(bad("ACTION is not abort, fail or fail*N")),
            },
        };
        Ok((point, action))
    }

    /// A test's failpoints: configures points while it lives and clears every one when dropped.
    /// Only one scenario runs at a time in a process (others wait), since failpoints are global:
    /// keep every engine the test opens inside the scenario's lifetime.
    #[must_use = "the failpoints are cleared when the scenario is dropped"]
    pub struct Scenario {
        _one_at_a_time: MutexGuard<'static, ()>,
    }

    impl Scenario {
        /// Waits for any other scenario to end, then starts with no point configured.
        pub fn start() -> Self {
            let guard = SCENARIO.lock();
            *POINTS.lock() = None;
            super::power_loss::stop();
            Scenario {
                _one_at_a_time: guard,
            }
        }

        /// Sets `point` to `action` (replacing an earlier action), counting its hits from zero.
        ///
        /// # Panics
        /// If `point` is not one of [`super::ALL`]: a typo would make a test that injects nothing.
        pub fn set(&self, point: &str, action: Action) {
            assert!(super::ALL.contains(&point), "unknown failpoint {point}");
            set(point, action);
        }

        /// Unsets `point`: it passes from now on.
        pub fn clear(&self, point: &str) {
            if let Some(points) = POINTS.lock().as_mut() {
                points.remove(point);
            }
        }

        /// How many times `point` was hit since it was set (0 when it is not set).
        pub fn hits(&self, point: &str) -> u64 {
            POINTS
                .lock()
                .as_ref()
                .and_then(|points| points.get(point))
                .map_or(0, |p| p.hits)
        }
    }

    impl Drop for Scenario {
        fn drop(&mut self) {
            *POINTS.lock() = None;
            ANY_CONFIGURED.store(false, Ordering::Release);
            super::power_loss::stop();
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use crate::failpoint::SST_WRITE;

        #[test]
        fn entries_parse_with_and_without_skip() {
            assert_eq!(
                parse_entry("wal.append=fail*2@3"),
                Ok(("wal.append", Action::Fail { skip: 3, times: 2 }))
            );
            assert_eq!(
                parse_entry(" sst.write = abort "),
                Ok(("sst.write", Action::Abort { skip: 0 }))
            );
            assert_eq!(
                parse_entry("sst.write=fail"),
                Ok((
                    "sst.write",
                    Action::Fail {
                        skip: 0,
                        times: u64::MAX
                    }
                ))
            );
            for bad in [
                "sst.write",
                "nope=abort",
                "sst.write=explode",
                "sst.write=abort@x",
            ] {
                assert!(parse_entry(bad).is_err(), "{bad} must be rejected");
            }
        }

        #[test]
        fn fail_passes_skip_hits_then_fails_times_hits() {
            let scenario = Scenario::start();
            scenario.set(SST_WRITE, Action::Fail { skip: 1, times: 2 });
            let results: Vec<bool> = (0..5)
                .map(|_| hit(SST_WRITE, Path::new("x")).is_ok())
                .collect();
            assert_eq!(results, [true, false, false, true, true]);
            assert_eq!(scenario.hits(SST_WRITE), 5);
            drop(scenario);
            assert!(hit(SST_WRITE, Path::new("x")).is_ok());
        }
    }
}
