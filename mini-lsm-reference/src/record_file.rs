//! Day 6 (recovery): the checksummed record framing shared by the WAL and the manifest.
//!
//! # Format
//!
//! A file is a sequence of records, each (little-endian):
//!
//! | field        | width    | meaning                                         |
//! |--------------|----------|-------------------------------------------------|
//! | len          | `u32`    | length of the payload                           |
//! | len_crc      | `u32`    | CRC32 of the 4 `len` bytes                      |
//! | payload_crc  | `u32`    | CRC32 of the payload                            |
//! | payload      | len      | the record (a WAL batch, a manifest edit)       |
//!
//! The length has its own checksum so that a damaged length is caught *before* it is used to
//! find the next record: otherwise a flipped bit in a length could make every later record look
//! like part of a torn write and be dropped silently.
//!
//! # What a crash leaves, and what recovery does with it
//!
//! Appending a record is one `write`; a crash can cut it short, so the **last** record may be
//! incomplete (a *torn tail*), and some file systems leave zeros where data was not yet written.
//! Recovery reads records from the start and:
//!
//! * drops the tail and reports it ([`TornTail`]) when the remaining bytes are too few for a
//!   header, when a record's payload runs past the end of the file, when the last record's
//!   payload checksum fails, or when everything left is zeros: none of these can hold an
//!   acknowledged write, because a write is acknowledged only after its whole record was written;
//! * fails with [`Error::Corruption`] (file and offset) for anything else, such as a bad checksum
//!   in a record that has more records after it: that data was complete once, and dropping it
//!   would silently lose acknowledged writes.
//!
//! Book: `appendix-formats.md#record-framing`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use bytes::{BufMut, Bytes};

use crate::error::{Error, Result};
use crate::failpoint;

/// Bytes before each payload.
pub const RECORD_HEADER_SIZE: usize = 4 // len
    + 4 // len_crc
    + 4; // payload_crc

/// An incomplete record at the end of a file, dropped by recovery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    /// The file.
    pub path: PathBuf,
    /// Where the dropped bytes started: the file was truncated to this length.
    pub offset: u64,
    /// How many bytes were dropped.
    pub dropped_bytes: u64,
}

/// The records read back from a file.
#[derive(Debug)]
pub struct RecoveredRecords {
    /// Every complete record's payload, in order.
    pub payloads: Vec<Bytes>,
    /// The torn tail that was dropped, if any.
    pub torn_tail: Option<TornTail>,
}

// ANCHOR: d6-record_file-encode_record
/// Appends `payload` to `buf` as one framed record.
pub fn encode_record(payload: &[u8], buf: &mut Vec<u8>) {
    // BEGIN SOLUTION day 6: record_file::encode_record — len, crc of the len bytes, crc of the payload, then the payload
    let len = (payload.len() as u32).to_le_bytes();
    buf.put_slice(&len);
    buf.put_u32_le(crc32fast::hash(&len));
    buf.put_u32_le(crc32fast::hash(payload));
    buf.put_slice(payload);
    // END SOLUTION
}
// ANCHOR_END: d6-record_file-encode_record

// ANCHOR: d6-record_file-decode_records
/// Reads every record of `raw` (the whole content of the file at `path`, used in errors),
/// following the torn-tail policy in the module documentation.
pub fn decode_records(raw: &Bytes, path: &Path) -> Result<RecoveredRecords> {
    // BEGIN SOLUTION day 6: record_file::decode_records — read records until the end; an incomplete or bad last record is a torn tail, a bad record before others is Corruption
    let mut payloads = Vec::new();
    let mut pos = 0;
    while pos < raw.len() {
        match decode_one(raw, pos) {
            Decoded::Record { payload, next } => {
                payloads.push(payload);
                pos = next;
            }
            Decoded::TornTail => {
                let torn_tail = TornTail {
                    path: path.to_path_buf(),
                    offset: pos as u64,
                    dropped_bytes: (raw.len() - pos) as u64,
                };
                return Ok(RecoveredRecords {
                    payloads,
                    torn_tail: Some(torn_tail),
                });
            }
            Decoded::Corrupt(what) => {
                return Err(Error::Corruption {
                    file: Some(path.to_path_buf()),
                    offset: pos as u64,
                    what,
                });
            }
        }
    }
    Ok(RecoveredRecords {
        payloads,
        torn_tail: None,
    })
    // END SOLUTION
}
// ANCHOR_END: d6-record_file-decode_records

// BEGIN SOLUTION HELPERS
/// What [`decode_one`] found at a position.
enum Decoded {
    Record { payload: Bytes, next: usize },
    TornTail,
    Corrupt(String),
}

/// Decodes the record starting at `pos`.
fn decode_one(raw: &Bytes, pos: usize) -> Decoded {
    let rest = &raw[pos..];
    if rest.len() < RECORD_HEADER_SIZE {
        return Decoded::TornTail;
    }
    let field =
        |at: usize| u32::from_le_bytes([rest[at], rest[at + 1], rest[at + 2], rest[at + 3]]);
    let (len, len_crc, payload_crc) = (field(0), field(4), field(8));
    if crc32fast::hash(&rest[..4]) != len_crc {
        // A zero-filled tail is what a crash leaves when the file grew before its data landed.
        return if rest.iter().all(|&b| b == 0) {
            Decoded::TornTail
        } else {
            Decoded::Corrupt("record length checksum mismatch".into())
        };
    }
    let start = pos + RECORD_HEADER_SIZE;
    let end = start + len as usize;
    if end > raw.len() {
        return Decoded::TornTail;
    }
    let payload = raw.slice(start..end);
    if crc32fast::hash(&payload) != payload_crc {
        return if end == raw.len() {
            Decoded::TornTail
        } else {
            Decoded::Corrupt("record payload checksum mismatch".into())
        };
    }
    Decoded::Record { payload, next: end }
}
// END SOLUTION

/// Reads the records of the file at `path` and truncates a torn tail away, so that new records
/// are appended after the last complete one.
pub fn recover_file(path: &Path) -> Result<RecoveredRecords> {
    let raw = Bytes::from(std::fs::read(path).map_err(|e| Error::io(path, e))?);
    let recovered = decode_records(&raw, path)?;
    if let Some(torn) = &recovered.torn_tail {
        let file = File::options()
            .write(true)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        file.set_len(torn.offset).map_err(|e| Error::io(path, e))?;
        file.sync_all().map_err(|e| Error::io(path, e))?;
    }
    Ok(recovered)
}

/// Appends framed records to a file.
#[derive(Debug)]
pub struct RecordWriter {
    file: BufWriter<File>,
    path: PathBuf,
    /// Set by the first failed write or sync. From then on the file's tail is unknown (part of a
    /// record may have reached it; a failed `fsync` may have dropped written pages and a second
    /// one would wrongly succeed), so the writer refuses everything: recovery on the next open
    /// reads back what is really there.
    failed: bool,
    /// Where a test may inject a failure or a crash (see [`failpoint`]).
    failpoints: failpoint::RecordPoints,
}

impl RecordWriter {
    /// Opens `path` for appending, creating it if needed.
    pub fn open_append(path: &Path) -> Result<Self> {
        let file = File::options()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        Ok(RecordWriter {
            file: BufWriter::new(file),
            path: path.to_path_buf(),
            failed: false,
            failpoints: failpoint::record_points(path),
        })
    }

    /// Appends one record. It reaches the operating system only on [`RecordWriter::sync`] or
    /// when the buffer fills: a process crash may lose it until then.
    ///
    /// A payload longer than the `u32` length field can say is [`Error::InvalidArgument`], and
    /// nothing is written: a wrapped length would frame a record that recovery cuts wrongly.
    pub fn append(&mut self, payload: &[u8]) -> Result<()> {
        self.refuse_if_failed()?;
        if u32::try_from(payload.len()).is_err() {
            return Err(Error::InvalidArgument(format!(
                "a record payload of {} bytes does not fit the u32 len field of {}",
                payload.len(),
                self.path.display()
            )));
        }
        let mut buf = Vec::with_capacity(RECORD_HEADER_SIZE + payload.len());
        encode_record(payload, &mut buf);
        let written = failpoint::hit(self.failpoints.append, &self.path).and_then(|()| {
            self.file
                .write_all(&buf)
                .map_err(|e| Error::io(&self.path, e))
        });
        self.failed = written.is_err();
        written
    }

    /// Makes every appended record durable: writes the buffer out and `fsync`s the file.
    pub fn sync(&mut self) -> Result<()> {
        self.refuse_if_failed()?;
        let synced = self
            .file
            .flush()
            .map_err(|e| Error::io(&self.path, e))
            .and_then(|()| failpoint::hit(self.failpoints.before_sync, &self.path))
            .and_then(|()| {
                let file = self.file.get_ref();
                file.sync_all().map_err(|e| Error::io(&self.path, e))
            });
        self.failed = synced.is_err();
        synced
    }

    /// Fails once a write or sync of this file has failed (see `failed`).
    fn refuse_if_failed(&self) -> Result<()> {
        if self.failed {
            let why = "an earlier write or sync of this file failed; reopen the engine";
            return Err(Error::io(&self.path, std::io::Error::other(why)));
        }
        Ok(())
    }
}

/// `fsync`s a directory, making the creation and deletion of files in it durable.
pub fn sync_dir(path: &Path) -> Result<()> {
    File::open(path)
        .and_then(|dir| dir.sync_all())
        .map_err(|e| Error::io(path, e))
}
