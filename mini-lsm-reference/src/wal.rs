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
        // BEGIN SOLUTION day 6: Wal::create — create the file for appending through a RecordWriter
        Ok(Wal {
            writer: RecordWriter::create_new(path)?,
        })
        // END SOLUTION
    }
    // ANCHOR_END: d6-wal-create

    // ANCHOR: d6-wal-recover
    /// Reads back every complete batch of the log at `path` (ignoring a torn tail), without
    /// changing the file. An intact record whose payload is not a batch is
    /// [`Error::Corruption`] at the bad byte's position in the file: the payload's offset
    /// (`RecoveredRecords::payload_offsets`) plus the position within the payload.
    pub fn recover(path: &Path) -> Result<WalRecovery> {
        // BEGIN SOLUTION day 6: Wal::recover — read the file, decode_records, then decode each payload as a batch (errors in_file at the payload's offset)
        let recovered = decode_records(&read_file(path)?, 0, path)?;
        let batches = recovered
            .payloads
            .iter()
            .zip(&recovered.payload_offsets)
            .filter(|(payload, _)| !payload.is_empty()) // seals (see `Wal::seal`) hold no batch
            .map(|(payload, &at)| decode_batch(payload).map_err(|e| e.in_file(path, at)))
            .collect::<Result<_>>()?;
        Ok(WalRecovery {
            batches,
            torn_tail: recovered.torn_tail,
        })
        // END SOLUTION
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
        // BEGIN SOLUTION day 6: Wal::put_batch — refuse (InvalidArgument) an empty batch and any count or length its field cannot hold, encode the batch (count, then kind/key/value per entry), append it as one record
        if entries.is_empty() {
            return Err(Error::InvalidArgument(
                "a WAL record holds at least one entry; the batch is empty".into(),
            ));
        }
        // Sized up front: growing a Vec entry by entry would reallocate it several times.
        let size: usize = entries
            .iter()
            .map(|(key, value)| 1 + 2 + key.len() + 4 + value.map_or(0, <[u8]>::len))
            .sum();
        let mut payload = Vec::with_capacity(4 + size);
        payload.put_u32_le(length_field(entries.len(), "batch count")?);
        for (key, value) in entries {
            payload.put_u8(if value.is_some() {
                KIND_VALUE
            } else {
                KIND_TOMBSTONE
            });
            payload.put_u16_le(length_field(key.len(), "entry key_len")?);
            payload.put_slice(key);
            let value = value.unwrap_or_default();
            payload.put_u32_le(length_field(value.len(), "entry value_len")?);
            payload.put_slice(value);
        }
        self.writer.append(&payload)
        // END SOLUTION
    }
    // ANCHOR_END: d6-wal-put_batch

    // ANCHOR: d6-wal-sync
    /// Makes every appended batch durable.
    pub fn sync(&self) -> Result<()> {
        // BEGIN SOLUTION day 6: Wal::sync — flush the writer's buffer and fsync the file
        self.writer.sync()
        // END SOLUTION
    }
    // ANCHOR_END: d6-wal-sync

    /// Syncs the log and then seals it (see [`RecordWriter::seal`]): called when no batch will
    /// be appended any more, so that damage to any batch in it is told from a torn write.
    pub fn seal(&self) -> Result<()> {
        self.writer.seal()
    }
}

// BEGIN SOLUTION HELPERS
/// `len` as the integer type of the WAL field `field`, or [`Error::InvalidArgument`] when it
/// does not fit (an `as` cast would wrap it silently).
fn length_field<T: TryFrom<usize>>(len: usize, field: &str) -> Result<T> {
    T::try_from(len).map_err(|_| {
        Error::InvalidArgument(format!(
            "WAL {field} of {len} does not fit its {} field",
            std::any::type_name::<T>()
        ))
    })
}

/// Decodes one batch payload; errors carry offsets within the payload.
fn decode_batch(payload: &Bytes) -> Result<Vec<WalEntry>> {
    let mut reader = Reader::new(payload);
    let count = reader.u32("wal batch count")? as usize;
    let mut entries = Vec::with_capacity(count.min(payload.len()));
    for _ in 0..count {
        let kind = reader.u8("wal entry kind")?;
        let key_len = reader.u16("wal entry key_len")? as usize;
        let key = Bytes::copy_from_slice(reader.bytes(key_len, "wal entry key")?);
        let value_len = reader.u32("wal entry value_len")? as usize;
        let value = Bytes::copy_from_slice(reader.bytes(value_len, "wal entry value")?);
        let value = match kind {
            KIND_VALUE => Some(value),
            KIND_TOMBSTONE => None,
            other => {
                return Err(Error::corruption(
                    reader.position() as u64,
                    format!("wal entry has unknown kind {other}"),
                ));
            }
        };
        entries.push((key, value));
    }
    Ok(entries)
}
// END SOLUTION
