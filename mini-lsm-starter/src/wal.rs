//! Day 6 (recovery): the write-ahead log, one per memtable.
//!
//! Every write batch is appended to the current memtable's WAL as **one** record (see
//! [`crate::record_file`] for the framing and the torn-tail policy) before it is inserted into
//! the memtable, so after a crash the memtable can be rebuilt by replaying its WAL, and a batch
//! is recovered whole or not at all. Recovery only reads a WAL: the memtable it rebuilds is
//! frozen and never logs to it again. A WAL is deleted once its memtable has been flushed to an
//! SST and the manifest has recorded that flush.
//!
//! # Format
//!
//! Each record's payload (little-endian):
//!
//! | field     | width     | meaning                                   |
//! |-----------|-----------|-------------------------------------------|
//! | count     | `u32`     | number of entries in the batch, >= 1      |
//! | entries   |           | `count` times:                            |
//! | kind      | `u8`      | 0 = value, 1 = tombstone                  |
//! | key_len   | `u16`     | length of the key, >= 1                   |
//! | key       | key_len   |                                           |
//! | value_len | `u32`     | length of the value, 0 for a tombstone    |
//! | value     | value_len |                                           |
//!
//! [`Wal::put_batch`] refuses a batch these fields cannot hold (an empty one, or a count or
//! length too large for its field) with [`Error::InvalidArgument`] before writing anything.
//!
//! Book: `appendix-formats.md#wal`.

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

use crate::block::{KIND_TOMBSTONE, KIND_VALUE};
use crate::codec::Reader;
use crate::error::{Error, Result};
use crate::record_file::{RecordWriter, TornTail, decode_records, read_file};

/// One entry of a batch: a key and its value, `None` for a delete.
pub type WalEntry = (Bytes, Option<Bytes>);

/// A write-ahead log file open for appending.
#[derive(Debug)]
pub struct Wal {
    /// Appends and syncs from several threads at once: see [`RecordWriter`] on group commit.
    writer: RecordWriter,
}

/// What [`Wal::recover`] read back.
#[derive(Debug)]
pub struct WalRecovery {
    /// Every complete batch, in the order it was written.
    pub batches: Vec<Vec<WalEntry>>,
    /// The torn last record that was ignored, if any.
    pub torn_tail: Option<TornTail>,
}

impl Wal {
    // ANCHOR: d6-wal-create
    /// Creates an empty log at `path`; an existing file there is an error (ids are never
    /// reused, so it would be another memtable's log).
    pub fn create(path: &Path) -> Result<Self> {
        todo!("day 6: Wal::create — create the file for appending through a RecordWriter")
    }
    // ANCHOR_END: d6-wal-create

    // ANCHOR: d6-wal-recover
    /// Reads back every complete batch of the log at `path` (ignoring a torn tail), without
    /// changing the file. An intact record whose payload is not a batch is
    /// [`Error::Corruption`] at the bad byte's position in the file: the payload's offset
    /// (`RecoveredRecords::payload_offsets`) plus the position within the payload.
    pub fn recover(path: &Path) -> Result<WalRecovery> {
        todo!(
            "day 6: Wal::recover — read the file, decode_records, then decode each payload as a batch (errors in_file at the payload's offset)"
        )
    }
    // ANCHOR_END: d6-wal-recover

    // ANCHOR: d6-wal-put_batch
    /// Appends `entries` as one record. Not durable until [`Wal::sync`].
    ///
    /// A batch the format cannot hold is [`Error::InvalidArgument`], and nothing is written: an
    /// empty batch (a record holds at least one entry), more than `u32::MAX` entries, a key over
    /// `u16::MAX` bytes or a value over `u32::MAX` bytes. Written with a wrapped length instead,
    /// the record would carry a valid checksum and recover as a different key, or as corruption
    /// that makes the whole WAL unreadable.
    pub fn put_batch(&self, entries: &[(&[u8], Option<&[u8]>)]) -> Result<()> {
        todo!(
            "day 6: Wal::put_batch — refuse (InvalidArgument) an empty batch and any count or length its field cannot hold, encode the batch (count, then kind/key/value per entry), append it as one record"
        )
    }
    // ANCHOR_END: d6-wal-put_batch

    // ANCHOR: d6-wal-sync
    /// Makes every appended batch durable.
    pub fn sync(&self) -> Result<()> {
        todo!("day 6: Wal::sync — flush the writer's buffer and fsync the file")
    }
    // ANCHOR_END: d6-wal-sync

    /// Syncs the log and then seals it (see [`RecordWriter::seal`]): called when no batch will
    /// be appended any more, so that damage to any batch in it is told from a torn write.
    pub fn seal(&self) -> Result<()> {
        self.writer.seal()
    }
}
