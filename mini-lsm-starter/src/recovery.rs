//! Day 6 (recovery): rebuilding the tree when the engine opens, and the rule for deleting files.
//!
//! # The rule: delete only what the manifest proves is garbage
//!
//! A storage engine may refuse to open; it must never quietly throw away data. So recovery
//! deletes a file only when the manifest *proves* nothing needs it, and keeps (and reports)
//! anything it cannot explain:
//!
//! | file                                                        | verdict                          |
//! |-------------------------------------------------------------|----------------------------------|
//! | an SST of the tree                                          | live                             |
//! | a WAL with an id above every flushed memtable's             | replayed, whatever the manifest says of it (the record naming it may be the torn one) |
//! | a WAL with an id at or below a flushed memtable's           | garbage: flushes go oldest first, so that memtable was flushed |
//! | an SST not in the tree, whose WAL is replayed               | garbage: a flush that never committed; its WAL holds the data |
//! | an SST not in the tree, of a memtable the manifest lists as not flushed, with no WAL | **refused** (`Corruption`): the manifest lost the `Flush` record, and the SST may be the only copy |
//! | any other SST not in the tree, with a reserved id or one a record names | garbage: a compaction output that never committed, or an input a committed compaction removed (a power loss can bring back a deleted file) |
//! | an SST whose id is neither reserved nor named by a record   | kept and reported: not the engine's doing |
//! | a replayed WAL that holds no complete record                | garbage: there is nothing in it to keep |
//! | no WAL for a memtable the manifest lists                    | nothing to replay: the WAL's name is synced before its first write, so no durable write was in it |
//! | `MANIFEST.tmp`                                              | garbage: a manifest rewrite that never committed |
//!
//! A missing, empty or damaged MANIFEST next to SSTs or WALs is `Corruption`, never a new
//! database: only the manifest knows which files make up the tree. So is an intact record that
//! no engine writes, such as a compaction into level 0 or past the tree's recorded levels
//! (errors about the tree the records describe name the MANIFEST at offset 0). Only a directory with no
//! MANIFEST, no SST and no WAL is a new database.
//!
//! # Steps
//!
//! Reading, which changes no file (an error here leaves the directory byte for byte as it was):
//! 1. Read the manifest: its snapshot, then each change on top of it. A torn last record is
//!    ignored: the change it described never completed.
//! 2. Check the options against the number of levels the tree was created with.
//! 3. Open every SST of the tree.
//! 4. Sort out every other file by the rule above; replay the WALs into frozen memtables, oldest
//!    first.
//!
//! Writing, once everything above succeeded:
//! 5. Sync the replayed WALs (a process crash may have left records only in the page cache),
//!    then delete the garbage, and sync the directory. This comes before the new manifest, whose
//!    snapshot reserves only the ids handed out from then on: garbage left behind would look
//!    like a file the engine never made, and be kept for good.
//! 6. Write a new manifest holding a snapshot of the recovered tree and the new memtable: it
//!    replaces the old one atomically (and with it any torn tail). It comes before the new WAL:
//!    for a new database, a WAL without a manifest would make the directory unopenable.
//! 7. Create the new memtable's WAL, and sync the directory.

// TODO(you): remove these allows once you have finished day 6 in this file.
#![allow(
    unused_variables,
    unused_imports,
    unused_mut,
    dead_code,
    unreachable_code,
    clippy::ptr_arg
)]

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::block_cache::BlockCache;
use crate::compact::sort_level;
use crate::error::{Error, Result};
use crate::fs;
use crate::inspect::RecoveryReport;
use crate::lsm_storage::{LsmStorageState, num_levels, sst_path, wal_path};
use crate::manifest::{ID_RESERVATION, Manifest, ManifestRecord, TreeSnapshot};
use crate::mem_table::MemTable;
use crate::options::{CompactionOptions, LsmOptions};
use crate::record_file::TornTail;
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
        "day 6: recovery::recover — read the manifest and every file without changing any; then delete only proven garbage, write a new manifest, create the new memtable"
    )
}
// ANCHOR_END: d6-recovery-recover

/// The engine's files in a directory, by kind.
#[derive(Debug, Default)]
struct EngineFiles {
    has_manifest: bool,
    /// Whether `MANIFEST.tmp`, a rewrite that never committed, is there.
    leftover_manifest: bool,
    ssts: BTreeSet<usize>,
    wals: BTreeSet<usize>,
}

impl EngineFiles {
    /// Lists `dir`. Files of other names are not the engine's and are left alone.
    fn list(dir: &Path) -> Result<Self> {
        let mut files = EngineFiles::default();
        for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
            let name = entry.map_err(|e| Error::io(dir, e))?.file_name();
            let Some(name) = name.to_str() else { continue };
            match name {
                MANIFEST_FILE => files.has_manifest = true,
                "MANIFEST.tmp" => files.leftover_manifest = true,
                _ => match name.split_once('.') {
                    Some((id, "sst")) if let Ok(id) = id.parse() => {
                        files.ssts.insert(id);
                    }
                    Some((id, "wal")) if let Ok(id) = id.parse() => {
                        files.wals.insert(id);
                    }
                    _ => {}
                },
            }
        }
        Ok(files)
    }

    /// The largest id of any SST or WAL, 0 when there is none: no new file may reuse one.
    fn largest_id(&self) -> usize {
        let last = |ids: &BTreeSet<usize>| ids.last().copied().unwrap_or(0);
        last(&self.ssts).max(last(&self.wals))
    }
}

/// The error for SSTs or WALs without a MANIFEST.
fn missing_manifest(dir: &Path, files: &EngineFiles) -> Error {
    let names: Vec<String> = files
        .ssts
        .iter()
        .map(|&id| sst_path(dir, id))
        .chain(files.wals.iter().map(|&id| wal_path(dir, id)))
        .take(3)
        .filter_map(|path| Some(path.file_name()?.to_str()?.to_string()))
        .collect();
    Error::Corruption {
        file: Some(dir.join(MANIFEST_FILE)),
        offset: 0,
        what: format!(
            "the MANIFEST is missing, but the directory holds {} SSTs and {} WALs ({}…): only \
             the manifest knows which of them make up the tree, so the directory is not opened \
             as a new database; nothing was changed",
            files.ssts.len(),
            files.wals.len(),
            names.join(", ")
        ),
    }
}
