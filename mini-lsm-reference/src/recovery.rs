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
    // BEGIN SOLUTION day 6: recovery::recover — replay the manifest, open the SSTs, replay live WALs into memtables, start a new memtable, remove orphans
    let mut report = RecoveryReport::default();
    let manifest_path = dir.join(MANIFEST_FILE);
    let (manifest, records) = if manifest_path.exists() {
        let recovery = Manifest::recover(&manifest_path)?;
        report.torn_tails.extend(recovery.torn_tail);
        (recovery.manifest, recovery.records)
    } else {
        (Manifest::create(&manifest_path)?, Vec::new())
    };

    // 1. Replay. Ids are placeholders here; the memtable in `state` is replaced below.
    let mut state = LsmStorageState::empty(0, options);
    let mut live_memtables = Vec::new();
    let mut max_id = 0;
    for record in records {
        match record {
            ManifestRecord::NewMemtable(id) => {
                live_memtables.push(id);
                max_id = max_id.max(id);
            }
            ManifestRecord::Flush(id) => {
                live_memtables.retain(|&live| live != id);
                state.l0_sstables.insert(0, id);
            }
            ManifestRecord::Compaction {
                level,
                removed,
                added,
            } => {
                max_id = max_id.max(added.iter().copied().max().unwrap_or(0));
                apply_compaction(&mut state, &removed, level, &added);
            }
        }
    }

    // 2. Open the SSTs, then put each level back in key order.
    let live_ssts: Vec<usize> = state
        .l0_sstables
        .iter()
        .chain(state.levels.iter().flat_map(|(_, ids)| ids))
        .copied()
        .collect();
    for id in live_ssts {
        let table = open_sst(dir, id, block_cache)?;
        state.sstables.insert(id, Arc::new(table));
    }
    let levels: Vec<usize> = state.levels.iter().map(|(level, _)| *level).collect();
    for level in levels {
        sort_level(&mut state, level);
    }

    // 3. Memtables from their WALs, oldest first, so the newest ends up first.
    let mut live_wals = HashSet::new();
    for &id in &live_memtables {
        let path = wal_path(dir, id);
        if !path.exists() {
            continue;
        }
        let (memtable, torn_tail) = MemTable::recover_from_wal(id, &path)?;
        report.torn_tails.extend(torn_tail);
        if !memtable.is_empty() {
            live_wals.insert(id);
            state.imm_memtables.insert(0, Arc::new(memtable));
            report.memtables_recovered += 1;
        }
    }

    // 4. Orphans, before any new file is created: an orphan may carry the next free id.
    let orphans = find_orphans(dir, &state, &live_wals)?;
    if options.enable_wal {
        check_no_flush_record_was_lost(dir, &orphans, &live_memtables)?;
    }
    report.orphans_removed = remove_orphans(dir, orphans)?;

    // 5. A fresh memtable, recorded like any other.
    let new_id = max_id + 1;
    state.memtable = Arc::new(MemTable::create_with_wal(new_id, &wal_path(dir, new_id))?);
    sync_dir(dir)?;
    manifest.add_record(&ManifestRecord::NewMemtable(new_id))?;
    Ok(Recovered {
        state,
        manifest: Some(manifest),
        next_id: new_id + 1,
        report,
    })
    // END SOLUTION
}
// ANCHOR_END: d6-recovery-recover

// BEGIN SOLUTION HELPERS
/// Opens SST `id`, turning a missing file into a clear error.
fn open_sst(dir: &Path, id: usize, block_cache: &Arc<BlockCache>) -> Result<SsTable> {
    let path = sst_path(dir, id);
    if !path.exists() {
        return Err(Error::Corruption {
            file: Some(dir.join(MANIFEST_FILE)),
            offset: 0,
            what: format!(
                "the manifest refers to SST {id}, but {} is missing",
                path.display()
            ),
        });
    }
    SsTable::open(id, Some(Arc::clone(block_cache)), FileObject::open(&path)?)
}

/// A file in the directory that the recovered tree does not use.
struct Orphan {
    path: PathBuf,
    id: usize,
    is_sst: bool,
}

/// The `*.sst` files not in the tree and the `*.wal` files not in `live_wals`, by name.
fn find_orphans(
    dir: &Path,
    state: &LsmStorageState,
    live_wals: &HashSet<usize>,
) -> Result<Vec<Orphan>> {
    let mut orphans = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let path = entry.map_err(|e| Error::io(dir, e))?.path();
        let Some((id, extension)) = parse_file_name(&path) else {
            continue;
        };
        let (live, is_sst) = match extension {
            "sst" => (state.sstables.contains_key(&id), true),
            "wal" => (live_wals.contains(&id), false),
            _ => continue,
        };
        if !live {
            orphans.push(Orphan { path, id, is_sst });
        }
    }
    orphans.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(orphans)
}

/// Refuses an orphan SST of a live memtable whose WAL is gone (see step 4 of the module
/// documentation): the manifest lost a `Flush` record it had synced, and deleting the SST would
/// lose the memtable's writes for good.
fn check_no_flush_record_was_lost(
    dir: &Path,
    orphans: &[Orphan],
    live_memtables: &[usize],
) -> Result<()> {
    let lost = orphans.iter().find(|orphan| {
        orphan.is_sst && live_memtables.contains(&orphan.id) && !wal_path(dir, orphan.id).exists()
    });
    match lost {
        Some(orphan) => Err(Error::Corruption {
            file: Some(dir.join(MANIFEST_FILE)),
            offset: 0,
            what: format!(
                "{} holds memtable {}, which the manifest says is not flushed yet, but its WAL is \
                 already deleted: the manifest lost a synced record; nothing was deleted",
                orphan.path.display(),
                orphan.id
            ),
        }),
        None => Ok(()),
    }
}

/// Deletes `orphans`; returns their paths.
fn remove_orphans(dir: &Path, orphans: Vec<Orphan>) -> Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    for Orphan { path, .. } in orphans {
        std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
        removed.push(path);
    }
    if !removed.is_empty() {
        sync_dir(dir)?;
    }
    Ok(removed)
}

/// `00042.sst` → `(42, "sst")`.
fn parse_file_name(path: &Path) -> Option<(usize, &str)> {
    let id = path.file_stem()?.to_str()?.parse().ok()?;
    Some((id, path.extension()?.to_str()?))
}
// END SOLUTION
