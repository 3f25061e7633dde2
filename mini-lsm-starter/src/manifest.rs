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

// TODO(you): remove these allows once you have finished day 6 in this file.
#![allow(
    unused_variables,
    unused_imports,
    unused_mut,
    dead_code,
    unreachable_code,
    clippy::ptr_arg
)]

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
        todo!(
            "day 6: Manifest::recover — recover_file, then decode every payload into a ManifestRecord"
        )
    }
    // ANCHOR_END: d6-manifest-recover

    // ANCHOR: d6-manifest-add_record
    /// Appends `record` and makes it durable before returning: the change it describes is part
    /// of the tree from then on.
    pub fn add_record(&self, record: &ManifestRecord) -> Result<()> {
        todo!("day 6: Manifest::add_record — encode, append and sync before returning")
    }
    // ANCHOR_END: d6-manifest-add_record
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
