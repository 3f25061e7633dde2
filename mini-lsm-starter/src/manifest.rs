//! Day 6 (recovery): the manifest, the log of every change to the tree's structure.
//!
//! The manifest starts with a **snapshot** of the whole tree (which memtables exist, which SSTs
//! are in L0 and in each level, how many levels there are, which file ids are handed out), and
//! then lists each change as a record: recovery replays them on top of the snapshot. A change is
//! part of the tree once its record is durable.
//!
//! The manifest is never edited in place. Each time the engine opens, and whenever the file
//! grows past [`crate::LsmOptions::max_manifest_bytes`], the engine writes a new one that starts
//! with a snapshot of the current tree ([`Manifest::create`], [`Manifest::rewrite`]): the new
//! file is written under a temporary name and synced, then renamed over `MANIFEST` (a rename
//! replaces a name atomically), then the directory is synced. A crash at any moment leaves either
//! the old manifest or the new one.
//!
//! **Ids.** Memtables and SSTs share one sequence of ids, and the manifest hands them out: a
//! [`ManifestRecord::NextId`] record reserves a block of ids before any file with one of them is
//! created. The snapshot says which ids are reserved: `first_id..next_id`, the ids handed out
//! since the engine last opened (recovery deleted the garbage of earlier ones before writing the
//! snapshot). That is how recovery can *prove* a file is garbage: a file whose id is reserved but
//! that the tree does not use is the leftover of a change that never committed (or of an input a
//! committed compaction removed). A file whose id is not reserved is not the engine's doing, and
//! is kept. See [`crate::recovery`] for the whole rule.
//!
//! The framing and torn-tail policy are those of [`crate::record_file`].
//!
//! # Format
//!
//! | field   | width   | meaning                                                       |
//! |---------|---------|---------------------------------------------------------------|
//! | magic   | 8 bytes | [`MANIFEST_MAGIC`], `MLSM-MF1`                                |
//! | records |         | framed records; the first is a `Snapshot`, never one after it |
//!
//! Each record's payload (little-endian) starts with a tag; `ids` is a `u32` count followed by
//! that many `u64` ids:
//!
//! | tag | record         | fields after the tag                                                   |
//! |-----|----------------|------------------------------------------------------------------------|
//! | 0   | `NewMemtable`  | `id: u64`: a memtable (and its WAL `id.wal`) was created               |
//! | 1   | `Flush`        | `id: u64`: memtable `id` became L0 SST `id` (`id.sst`)                 |
//! | 2   | `Compaction`   | `level: u32`, `removed: ids`, `added: ids`: SSTs `removed` (from L0 or any level) were replaced by `added` in `level` |
//! | 3   | `NextId`       | `next_id: u64`: ids below it may be in use                             |
//! | 4   | `Snapshot`     | `first_id: u64`, `next_id: u64`, `memtables: ids` (oldest first), `l0: ids` (newest first), `levels: u32` count, then `ids` per level (key order) |
//!
//! Book: `appendix-formats.md#manifest`.

// TODO(you): remove these allows once you have finished day 6 in this file.
#![allow(
    unused_variables,
    unused_imports,
    unused_mut,
    dead_code,
    unreachable_code,
    clippy::ptr_arg
)]

use std::path::{Path, PathBuf};

use bytes::{BufMut, Bytes};
use parking_lot::Mutex;

use crate::codec::Reader;
use crate::error::{Error, Result};
use crate::failpoint;
use crate::fs;
use crate::record_file::{RecordWriter, TornTail, decode_records, read_file};

/// The first 8 bytes of every manifest.
pub const MANIFEST_MAGIC: [u8; 8] = *b"MLSM-MF1";

/// Ids reserved at a time by a [`ManifestRecord::NextId`] record: one manifest sync per this many
/// new files.
pub const ID_RESERVATION: usize = 1000;

const TAG_NEW_MEMTABLE: u8 = 0;
const TAG_FLUSH: u8 = 1;
const TAG_COMPACTION: u8 = 2;
const TAG_NEXT_ID: u8 = 3;
const TAG_SNAPSHOT: u8 = 4;

/// The whole tree's structure, as the first record of a manifest holds it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TreeSnapshot {
    /// The first id handed out since the engine last opened: together with `next_id`, the
    /// reserved ids are `first_id..next_id`.
    pub first_id: usize,
    /// Ids below this may be in use; ids from it on have never been handed out.
    pub next_id: usize,
    /// Memtables not flushed yet, oldest first (each with its WAL `id.wal`).
    pub memtables: Vec<usize>,
    /// L0 SSTs, newest first.
    pub l0: Vec<usize>,
    /// The levels below L0, `levels[0]` being L1, each in key order. Its length is the number
    /// of levels the tree was created with.
    pub levels: Vec<Vec<usize>>,
}

/// One change to the tree's structure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManifestRecord {
    /// The whole tree: the first record of every manifest, and only the first.
    Snapshot(TreeSnapshot),
    /// A memtable (with its WAL) was created.
    NewMemtable(usize),
    /// A memtable was flushed into the L0 SST with the same id.
    Flush(usize),
    /// SSTs `removed` were replaced by SSTs `added` in `level`.
    Compaction {
        /// The level the new SSTs went to.
        level: usize,
        /// The compaction's inputs, wherever they were.
        removed: Vec<usize>,
        /// The compaction's outputs.
        added: Vec<usize>,
    },
    /// Ids below this may be in use from now on.
    NextId(usize),
}

/// The manifest file, open for appending.
#[derive(Debug)]
pub struct Manifest {
    inner: Mutex<ManifestFile>,
}

/// The open file and the id reservation it records.
#[derive(Debug)]
struct ManifestFile {
    writer: RecordWriter,
    path: PathBuf,
    /// The reserved ids are `first_id..next_id` (see the module documentation).
    first_id: usize,
    next_id: usize,
}

/// What [`Manifest::recover`] read back.
#[derive(Debug)]
pub struct ManifestRecovery {
    /// Every complete record, in order; the first is a [`ManifestRecord::Snapshot`].
    pub records: Vec<ManifestRecord>,
    /// The torn last record that was ignored, if any.
    pub torn_tail: Option<TornTail>,
}

impl Manifest {
    // ANCHOR: d6-manifest-create
    /// Writes a new manifest holding `snapshot` at `path`, atomically replacing any manifest
    /// there, and opens it for appending (see the module documentation).
    pub fn create(path: &Path, snapshot: &TreeSnapshot) -> Result<Self> {
        let writer = write_new_manifest(path, snapshot)?;
        Ok(Manifest {
            inner: Mutex::new(ManifestFile {
                writer,
                path: path.to_path_buf(),
                first_id: snapshot.first_id,
                next_id: snapshot.next_id,
            }),
        })
    }
    // ANCHOR_END: d6-manifest-create

    // ANCHOR: d6-manifest-recover
    /// Reads back every complete record of the manifest at `path`, without changing the file.
    /// A file that does not start with [`MANIFEST_MAGIC`] and a complete `Snapshot` record is
    /// [`Error::Corruption`]: a manifest is only ever put in place whole, so a crash cannot
    /// leave one like that. An intact record whose payload does not decode is
    /// [`Error::Corruption`] at the bad byte's position in the file: the payload's offset
    /// (`RecoveredRecords::payload_offsets`) plus the position within the payload.
    pub fn recover(path: &Path) -> Result<ManifestRecovery> {
        todo!(
            "day 6: Manifest::recover — check the magic, decode_records after it, decode every payload (errors in_file at the payload's offset); the first must be the only Snapshot"
        )
    }
    // ANCHOR_END: d6-manifest-recover

    /// Appends `record` and makes it durable before returning: the change it describes is part
    /// of the tree from then on. Given: it first passes the crash window of the record's kind
    /// (the change's files are durable, its record is not; see [`crate::failpoint`]), then
    /// calls [`Manifest::append_and_sync`].
    pub fn add_record(&self, record: &ManifestRecord) -> Result<()> {
        let point = failpoint::manifest_record_point(record);
        failpoint::hit_if(point, &self.inner.lock().path)?;
        self.append_and_sync(record)
    }

    // ANCHOR: d6-manifest-append_and_sync
    /// The work of [`Manifest::add_record`]: appends `record` and makes it durable before
    /// returning.
    fn append_and_sync(&self, record: &ManifestRecord) -> Result<()> {
        todo!("day 6: Manifest::append_and_sync — encode, append and sync before returning")
    }
    // ANCHOR_END: d6-manifest-append_and_sync

    /// Makes sure id `id` is reserved before a file with it is created: when it is not, records
    /// a [`ManifestRecord::NextId`] reserving the next [`ID_RESERVATION`] ids.
    pub fn reserve_id(&self, id: usize) -> Result<()> {
        let mut file = self.inner.lock();
        if id < file.next_id {
            return Ok(());
        }
        let next_id = id + 1 + ID_RESERVATION;
        file.writer
            .append(&ManifestRecord::NextId(next_id).encode())?;
        file.writer.sync()?;
        file.next_id = next_id;
        Ok(())
    }

    /// The manifest's size in bytes.
    pub fn size(&self) -> u64 {
        self.inner.lock().writer.len()
    }

    /// Replaces the manifest by a new one holding only `snapshot` (whose `first_id` and
    /// `next_id` are replaced by the current reservation), the way [`Manifest::create`] does.
    /// The caller makes sure no other change to the tree is recorded meanwhile.
    pub fn rewrite(&self, snapshot: &TreeSnapshot) -> Result<()> {
        let mut file = self.inner.lock();
        let snapshot = TreeSnapshot {
            first_id: file.first_id,
            next_id: file.next_id,
            ..snapshot.clone()
        };
        file.writer = write_new_manifest(&file.path, &snapshot)?;
        Ok(())
    }
}

/// Writes `MANIFEST.tmp` with the magic and `snapshot`, syncs it, renames it to `path` and syncs
/// the directory; returns the writer, now appending to `path`.
fn write_new_manifest(path: &Path, snapshot: &TreeSnapshot) -> Result<RecordWriter> {
    let temporary = path.with_extension("tmp");
    let mut writer = RecordWriter::create_with_header(&temporary, &MANIFEST_MAGIC)?;
    writer.append(&ManifestRecord::Snapshot(snapshot.clone()).encode())?;
    writer.sync()?;
    fs::rename(&temporary, path)?;
    writer.renamed_to(path);
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    fs::sync_dir(dir)?;
    Ok(writer)
}

/// Fails unless `raw` starts with [`MANIFEST_MAGIC`].
fn check_magic(raw: &[u8], path: &Path) -> Result<()> {
    let what = if raw.is_empty() {
        "the file is empty".to_string()
    } else if raw.len() < MANIFEST_MAGIC.len() {
        format!("the file is {} bytes, shorter than its magic", raw.len())
    } else if raw[..MANIFEST_MAGIC.len()] != MANIFEST_MAGIC {
        format!(
            "the file starts with {:?}, not the manifest magic {:?}",
            raw[..MANIFEST_MAGIC.len()].escape_ascii().to_string(),
            MANIFEST_MAGIC.escape_ascii().to_string()
        )
    } else {
        return Ok(());
    };
    Err(Error::Corruption {
        file: Some(path.to_path_buf()),
        offset: 0,
        what: format!("not a valid manifest: {what}"),
    })
}

impl ManifestRecord {
    // ANCHOR: d6-manifest-record_encode
    /// The record's payload.
    pub fn encode(&self) -> Vec<u8> {
        todo!(
            "day 6: ManifestRecord::encode — a tag byte, then the ids as u64 (and the level and counts as u32)"
        )
    }
    // ANCHOR_END: d6-manifest-record_encode

    // ANCHOR: d6-manifest-record_decode
    /// Parses a payload written by [`ManifestRecord::encode`]; errors carry offsets within it.
    pub fn decode(payload: &Bytes) -> Result<Self> {
        todo!(
            "day 6: ManifestRecord::decode — read the tag, then the fields it calls for; trailing bytes are corruption"
        )
    }
    // ANCHOR_END: d6-manifest-record_decode
}
