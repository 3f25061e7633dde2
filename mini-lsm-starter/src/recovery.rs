//! Day 6 (recovery): rebuilding the tree when the engine opens.
//!
//! 1. Replay the manifest from an empty tree: `NewMemtable` makes a memtable live, `Flush` turns
//!    it into an L0 SST, `Compaction` swaps SSTs. A torn last record is dropped: the change it
//!    described never completed.
//! 2. Open every SST the tree refers to; a missing one is an error (the manifest says it was
//!    durable, so something else deleted it).
//! 3. Rebuild every live memtable from its WAL, as an immutable memtable (it is flushed like any
//!    other); a memtable whose WAL is missing or empty had no acknowledged write and is skipped.
//! 4. Delete orphans: SSTs and WALs no record refers to, left by a flush, compaction or
//!    freeze that crashed before its manifest record was durable. One leftover no crash can
//!    produce is refused with [`Error::Corruption`] instead, because deleting it would lose
//!    acknowledged writes: an SST made by flushing a memtable that is still live but whose WAL
//!    is gone. The WAL is deleted only after the `Flush` record is durable, so a torn last
//!    record cannot cause this; a `Flush` record that was synced and then lost can.
//! 5. Start a fresh memtable for new writes.

// TODO(you): remove these allows once you have finished day 6 in this file.
#![allow(
    unused_variables,
    unused_imports,
    unused_mut,
    dead_code,
    unreachable_code,
    clippy::ptr_arg
)]

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::block_cache::BlockCache;
use crate::compact::{apply_compaction, sort_level};
use crate::error::{Error, Result};
use crate::inspect::RecoveryReport;
use crate::lsm_storage::{LsmStorageState, sst_path, wal_path};
use crate::manifest::{Manifest, ManifestRecord};
use crate::mem_table::MemTable;
use crate::options::LsmOptions;
use crate::record_file::sync_dir;
use crate::table::{FileObject, SsTable};

/// The name of the manifest file in the engine's directory.
pub const MANIFEST_FILE: &str = "MANIFEST";

/// What [`recover`] rebuilt.
pub(crate) struct Recovered {
    pub(crate) state: LsmStorageState,
    pub(crate) manifest: Option<Manifest>,
    /// The next unused id for memtables and SSTs.
    pub(crate) next_id: usize,
    pub(crate) report: RecoveryReport,
}

// ANCHOR: d6-recovery-recover
/// Rebuilds the tree in `dir` from its manifest and WALs (see the module documentation).
pub(crate) fn recover(
    dir: &Path,
    options: &LsmOptions,
    block_cache: &Arc<BlockCache>,
) -> Result<Recovered> {
    todo!(
        "day 6: recovery::recover — replay the manifest, open the SSTs, replay live WALs into memtables, start a new memtable, remove orphans"
    )
}
// ANCHOR_END: d6-recovery-recover
