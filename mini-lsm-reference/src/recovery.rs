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
    // BEGIN SOLUTION day 6: recovery::recover — read the manifest and every file without changing any; then delete only proven garbage, write a new manifest, create the new memtable
    let mut report = RecoveryReport::default();
    let files = EngineFiles::list(dir)?;
    let manifest_path = dir.join(MANIFEST_FILE);

    // 1. The manifest, or a new database.
    let mut tree = if files.has_manifest {
        let recovery = Manifest::recover(&manifest_path)?;
        report.torn_tails.extend(recovery.torn_tail);
        replay(&recovery.records, &manifest_path)?
    } else if files.ssts.is_empty() && files.wals.is_empty() {
        ReplayedTree::new_database(num_levels(options))
    } else {
        return Err(missing_manifest(dir, &files));
    };

    // 2. The options must fit the tree's levels.
    fit_levels(&mut tree, options, dir)?;

    // 3. The SSTs of the tree.
    let mut state = LsmStorageState::empty(0, tree.levels.len());
    state.l0_sstables = tree.l0.clone();
    for (level, ids) in state.levels.iter_mut() {
        ids.clone_from(&tree.levels[*level - 1]);
    }
    let torn_manifest = report.torn_tails.first().cloned();
    for id in tree.live_ssts() {
        let table = open_sst(dir, id, block_cache, torn_manifest.as_ref())?;
        state.sstables.insert(id, Arc::new(table));
    }
    for level in 1..=tree.levels.len() {
        sort_level(&mut state, level);
    }

    // 4. Every other file, by the rule; WALs replayed oldest first, so the newest ends up first.
    let verdicts = judge_files(&files, &tree, dir)?;
    let mut garbage = verdicts.garbage;
    let mut memtables = Vec::new();
    let mut replayed = Vec::new();
    for id in verdicts.replay {
        let path = wal_path(dir, id);
        let (memtable, torn_tail) = MemTable::recover_from_wal(id, &path)?;
        report.torn_tails.extend(torn_tail);
        if memtable.is_empty() {
            garbage.push(path);
        } else {
            memtables.push(id);
            state.imm_memtables.insert(0, Arc::new(memtable));
            report.memtables_recovered += 1;
            replayed.push(path);
        }
    }
    report.unexplained_kept = verdicts.unexplained;

    // 5. The replayed WALs made durable: after a process crash they may hold records the OS
    // had not written to disk yet, which this session now serves; a later power loss must not
    // take them back while keeping newer, synced writes.
    for path in &replayed {
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        fs::sync_file(&file, path)?;
    }

    // The garbage, proven so by the manifest read above.
    if files.leftover_manifest {
        garbage.push(manifest_path.with_extension("tmp"));
    }
    for path in &garbage {
        fs::remove_file(path)?;
    }
    if !garbage.is_empty() {
        fs::sync_dir(dir)?;
    }
    report.orphans_removed = garbage;

    // 6. A new manifest: a snapshot of the recovered tree and the new memtable. The ids it
    // reserves start above every file in the directory.
    let new_id = tree.next_id.max(files.largest_id() + 1);
    memtables.push(new_id);
    let snapshot = TreeSnapshot {
        first_id: new_id,
        next_id: new_id + 1 + ID_RESERVATION,
        memtables,
        l0: tree.l0,
        levels: state.levels.iter().map(|(_, ids)| ids.clone()).collect(),
    };
    let manifest = Manifest::create(&manifest_path, &snapshot)?;

    // 7. The new memtable's WAL, its name durable before the first write is acknowledged.
    state.memtable = Arc::new(MemTable::create_with_wal(new_id, &wal_path(dir, new_id))?);
    fs::sync_dir(dir)?;
    Ok(Recovered {
        state,
        manifest: Some(manifest),
        next_id: new_id + 1,
        report,
    })
    // END SOLUTION
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

// BEGIN SOLUTION HELPERS
/// The tree as the manifest describes it.
#[derive(Debug)]
struct ReplayedTree {
    /// The reserved ids are `first_id..next_id`.
    first_id: usize,
    next_id: usize,
    /// Memtables created and not flushed, oldest first.
    memtables: Vec<usize>,
    /// Every memtable with an id up to this one was flushed (flushes go oldest first).
    flushed_up_to: usize,
    /// L0 SSTs, newest first.
    l0: Vec<usize>,
    /// `levels[0]` is L1.
    levels: Vec<Vec<usize>>,
    /// Every id the snapshot or a record names: files the engine made, whatever their id.
    named: HashSet<usize>,
}

impl ReplayedTree {
    /// An empty tree with `num_levels` levels: nothing is reserved, nothing flushed.
    fn new_database(num_levels: usize) -> Self {
        ReplayedTree {
            first_id: 1,
            next_id: 1,
            memtables: Vec::new(),
            flushed_up_to: 0,
            l0: Vec::new(),
            levels: vec![Vec::new(); num_levels],
            named: HashSet::new(),
        }
    }

    /// Whether the manifest accounts for id `id`: reserved, or named by a record.
    fn knows(&self, id: usize) -> bool {
        (self.first_id..self.next_id).contains(&id) || self.named.contains(&id)
    }

    /// Every SST of the tree.
    fn live_ssts(&self) -> Vec<usize> {
        let levels = self.levels.iter().flatten();
        self.l0.iter().chain(levels).copied().collect()
    }
}

/// Replays `records` (a snapshot first, as [`Manifest::recover`] checked) into a tree.
fn replay(records: &[ManifestRecord], manifest_path: &Path) -> Result<ReplayedTree> {
    let Some(ManifestRecord::Snapshot(snapshot)) = records.first() else {
        unreachable!("Manifest::recover checks that the first record is a snapshot");
    };
    let mut tree = ReplayedTree {
        first_id: snapshot.first_id,
        next_id: snapshot.next_id,
        memtables: snapshot.memtables.clone(),
        // Every memtable older than the oldest live one was flushed.
        flushed_up_to: snapshot
            .memtables
            .iter()
            .min()
            .map_or(snapshot.next_id, |&oldest| oldest)
            .saturating_sub(1),
        l0: snapshot.l0.clone(),
        levels: snapshot.levels.clone(),
        named: HashSet::new(),
    };
    let in_snapshot = snapshot.memtables.iter().chain(&snapshot.l0);
    tree.named
        .extend(in_snapshot.chain(snapshot.levels.iter().flatten()));
    for record in &records[1..] {
        tree.named.extend(record_ids(record));
        match record {
            ManifestRecord::Snapshot(_) => unreachable!("checked by Manifest::recover"),
            ManifestRecord::NewMemtable(id) => tree.memtables.push(*id),
            ManifestRecord::Flush(id) => {
                tree.memtables.retain(|live| live != id);
                tree.l0.insert(0, *id);
                tree.flushed_up_to = tree.flushed_up_to.max(*id);
            }
            ManifestRecord::Compaction {
                level,
                removed,
                added,
            } => {
                if *level == 0 || *level > tree.levels.len() {
                    return Err(Error::Corruption {
                        file: Some(manifest_path.to_path_buf()),
                        offset: 0,
                        what: format!(
                            "a compaction record puts SSTs {added:?} into level {level}, but the \
                             tree has levels 1 to {}",
                            tree.levels.len()
                        ),
                    });
                }
                tree.l0.retain(|id| !removed.contains(id));
                for ids in &mut tree.levels {
                    ids.retain(|id| !removed.contains(id));
                }
                tree.levels[level - 1].extend_from_slice(added);
            }
            ManifestRecord::NextId(next_id) => tree.next_id = tree.next_id.max(*next_id),
        }
    }
    Ok(tree)
}

/// The memtable and SST ids a change record names.
fn record_ids(record: &ManifestRecord) -> Vec<usize> {
    match record {
        ManifestRecord::NewMemtable(id) | ManifestRecord::Flush(id) => vec![*id],
        ManifestRecord::Compaction { removed, added, .. } => {
            removed.iter().chain(added).copied().collect()
        }
        ManifestRecord::Snapshot(_) | ManifestRecord::NextId(_) => Vec::new(),
    }
}

/// Checks the options' number of levels against the tree's. Compaction (leveled or tiered) with
/// a different number is refused once any level holds an SST (the levels' data would not be
/// where the controller looks); with every level empty the tree takes the new number. Without
/// compaction the tree keeps its levels: they are read, never compacted. The controller may
/// change across a reopen: both keep every level one sorted run, newer above older, so either
/// can take over the other's tree.
fn fit_levels(tree: &mut ReplayedTree, options: &LsmOptions, dir: &Path) -> Result<()> {
    let max_levels = match &options.compaction {
        CompactionOptions::Leveled(leveled) => leveled.max_levels,
        CompactionOptions::Tiered(tiered) => tiered.max_levels,
        CompactionOptions::NoCompaction => return Ok(()),
    };
    let recorded = tree.levels.len();
    if max_levels == recorded {
        return Ok(());
    }
    if tree.levels.iter().all(Vec::is_empty) {
        tree.levels = vec![Vec::new(); max_levels];
        return Ok(());
    }
    Err(Error::InvalidArgument(format!(
        "{} was created with {recorded} levels below L0 (recorded in its MANIFEST) and its \
         levels hold SSTs, but the options ask for max_levels {}: open it with max_levels \
         {recorded}",
        dir.display(),
        max_levels
    )))
}

/// What to do with the files outside the tree.
#[derive(Debug, Default)]
struct Verdicts {
    /// WALs to replay, oldest first.
    replay: Vec<usize>,
    garbage: Vec<PathBuf>,
    unexplained: Vec<PathBuf>,
}

/// Applies the rule of the module documentation to every SST and WAL outside the tree.
fn judge_files(files: &EngineFiles, tree: &ReplayedTree, dir: &Path) -> Result<Verdicts> {
    let mut verdicts = Verdicts::default();
    for &id in &files.wals {
        if id <= tree.flushed_up_to {
            verdicts.garbage.push(wal_path(dir, id));
        } else {
            verdicts.replay.push(id);
        }
    }
    let live: HashSet<usize> = tree.live_ssts().into_iter().collect();
    for &id in files.ssts.iter().filter(|id| !live.contains(id)) {
        let path = sst_path(dir, id);
        if !tree.knows(id) {
            verdicts.unexplained.push(path);
        } else if verdicts.replay.contains(&id) {
            verdicts.garbage.push(path);
        } else if tree.memtables.contains(&id) {
            return Err(Error::Corruption {
                file: Some(dir.join(MANIFEST_FILE)),
                offset: 0,
                what: format!(
                    "{} holds memtable {id}, which the manifest says is not flushed yet, but \
                     its WAL is already deleted: the manifest lost a synced record; nothing was \
                     changed",
                    path.display()
                ),
            });
        } else {
            verdicts.garbage.push(path);
        }
    }
    Ok(verdicts)
}

/// Opens SST `id`, turning a missing file into a clear error that blames the manifest when
/// its tail was torn (a lost record is then the likelier cause).
fn open_sst(
    dir: &Path,
    id: usize,
    block_cache: &Arc<BlockCache>,
    torn_manifest: Option<&TornTail>,
) -> Result<SsTable> {
    let path = sst_path(dir, id);
    if !path.exists() {
        let why = match torn_manifest.filter(|tail| tail.path.ends_with(MANIFEST_FILE)) {
            Some(tail) => format!(
                "; the manifest ends in an incomplete record at byte {}, so it is damaged and \
                 has likely lost the records that removed it",
                tail.offset
            ),
            None => String::new(),
        };
        return Err(Error::Corruption {
            file: Some(dir.join(MANIFEST_FILE)),
            offset: 0,
            what: format!(
                "the manifest refers to SST {id}, but {} is missing{why}; nothing was changed",
                path.display()
            ),
        });
    }
    SsTable::open(id, Some(Arc::clone(block_cache)), FileObject::open(&path)?)
}
// END SOLUTION

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
