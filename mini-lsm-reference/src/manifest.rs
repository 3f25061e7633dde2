//! Day 6 (recovery): the manifest, the log of every change to the tree's structure.
//!
//! The tree's shape (which memtables exist, which SSTs are in L0 and in each level) is never
//! written as a whole; instead each change is appended as a record, and recovery replays them
//! from an empty tree. A change is part of the tree once its record is durable; files that no
//! record mentions are leftovers of an interrupted change and are deleted at open.
//! The framing and torn-tail policy are those of [`crate::record_file`].
//!
//! # Format
//!
//! Each record's payload (little-endian) starts with a tag:
//!
//! | tag | record         | fields after the tag                                                   |
//! |-----|----------------|------------------------------------------------------------------------|
//! | 0   | `NewMemtable`  | `id: u64`: a memtable (and its WAL `id.wal`) was created               |
//! | 1   | `Flush`        | `id: u64`: memtable `id` became L0 SST `id` (`id.sst`)                 |
//! | 2   | `Compaction`   | `level: u32`, `removed: u32 count + u64 ids`, `added: u32 count + u64 ids`: SSTs `removed` (from L0 or any level) were replaced by `added` in `level` |
//!
//! Book: `appendix-formats.md#manifest`.

use std::path::Path;

use bytes::{BufMut, Bytes};
use parking_lot::Mutex;

use crate::codec::Reader;
use crate::error::{Error, Result};
use crate::record_file::{RecordWriter, TornTail, recover_file};

const TAG_NEW_MEMTABLE: u8 = 0;
const TAG_FLUSH: u8 = 1;
const TAG_COMPACTION: u8 = 2;

/// One change to the tree's structure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManifestRecord {
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
}

/// The manifest file, open for appending.
#[derive(Debug)]
pub struct Manifest {
    writer: Mutex<RecordWriter>,
}

/// What [`Manifest::recover`] read back.
#[derive(Debug)]
pub struct ManifestRecovery {
    /// The manifest, open for appending after its last complete record.
    pub manifest: Manifest,
    /// Every complete record, in order.
    pub records: Vec<ManifestRecord>,
    /// The torn last record that was dropped, if any.
    pub torn_tail: Option<TornTail>,
}

impl Manifest {
    /// Creates an empty manifest at `path`.
    pub fn create(path: &Path) -> Result<Self> {
        Ok(Manifest {
            writer: Mutex::new(RecordWriter::open_append(path)?),
        })
    }

    // ANCHOR: d6-manifest-recover
    /// Reads back every complete record of the manifest at `path` and opens it for appending.
    pub fn recover(path: &Path) -> Result<ManifestRecovery> {
        // BEGIN SOLUTION day 6: Manifest::recover — recover_file, then decode every payload into a ManifestRecord
        let recovered = recover_file(path)?;
        let records = recovered
            .payloads
            .iter()
            .map(|payload| ManifestRecord::decode(payload).map_err(|e| e.in_file(path, 0)))
            .collect::<Result<_>>()?;
        Ok(ManifestRecovery {
            manifest: Self::create(path)?,
            records,
            torn_tail: recovered.torn_tail,
        })
        // END SOLUTION
    }
    // ANCHOR_END: d6-manifest-recover

    // ANCHOR: d6-manifest-add_record
    /// Appends `record` and makes it durable before returning: the change it describes is part
    /// of the tree from then on.
    pub fn add_record(&self, record: &ManifestRecord) -> Result<()> {
        // BEGIN SOLUTION day 6: Manifest::add_record — encode, append and sync before returning
        let mut writer = self.writer.lock();
        writer.append(&record.encode())?;
        writer.sync()
        // END SOLUTION
    }
    // ANCHOR_END: d6-manifest-add_record
}

impl ManifestRecord {
    // ANCHOR: d6-manifest-record_encode
    /// The record's payload.
    pub fn encode(&self) -> Vec<u8> {
        // BEGIN SOLUTION day 6: ManifestRecord::encode — a tag byte, then the ids as u64 (and the level and counts as u32)
        let mut buf = Vec::new();
        match self {
            ManifestRecord::NewMemtable(id) => {
                buf.put_u8(TAG_NEW_MEMTABLE);
                buf.put_u64_le(*id as u64);
            }
            ManifestRecord::Flush(id) => {
                buf.put_u8(TAG_FLUSH);
                buf.put_u64_le(*id as u64);
            }
            ManifestRecord::Compaction {
                level,
                removed,
                added,
            } => {
                buf.put_u8(TAG_COMPACTION);
                buf.put_u32_le(*level as u32);
                for ids in [removed, added] {
                    buf.put_u32_le(ids.len() as u32);
                    for id in ids {
                        buf.put_u64_le(*id as u64);
                    }
                }
            }
        }
        buf
        // END SOLUTION
    }
    // ANCHOR_END: d6-manifest-record_encode

    // ANCHOR: d6-manifest-record_decode
    /// Parses a payload written by [`ManifestRecord::encode`]; errors carry offsets within it.
    pub fn decode(payload: &Bytes) -> Result<Self> {
        // BEGIN SOLUTION day 6: ManifestRecord::decode — read the tag, then the fields it calls for; trailing bytes are corruption
        let mut reader = Reader::new(payload);
        let record = match reader.u8("manifest tag")? {
            TAG_NEW_MEMTABLE => ManifestRecord::NewMemtable(reader.u64("manifest id")? as usize),
            TAG_FLUSH => ManifestRecord::Flush(reader.u64("manifest id")? as usize),
            TAG_COMPACTION => {
                let level = reader.u32("manifest compaction level")? as usize;
                let removed = read_ids(&mut reader)?;
                let added = read_ids(&mut reader)?;
                ManifestRecord::Compaction {
                    level,
                    removed,
                    added,
                }
            }
            tag => {
                return Err(Error::corruption(
                    0,
                    format!("unknown manifest record tag {tag}"),
                ));
            }
        };
        if reader.remaining() != 0 {
            return Err(Error::corruption(
                reader.position() as u64,
                "unexpected bytes after a manifest record",
            ));
        }
        Ok(record)
        // END SOLUTION
    }
    // ANCHOR_END: d6-manifest-record_decode
}

// BEGIN SOLUTION HELPERS
/// Reads a `u32` count and that many `u64` ids.
fn read_ids(reader: &mut Reader<'_>) -> Result<Vec<usize>> {
    let count = reader.u32("manifest id count")? as usize;
    // Bounded by the bytes left, so a damaged count cannot cause a huge allocation.
    let mut ids = Vec::with_capacity(count.min(reader.remaining() / 8));
    for _ in 0..count {
        ids.push(reader.u64("manifest id")? as usize);
    }
    Ok(ids)
}
// END SOLUTION
