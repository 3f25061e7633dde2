//! Day 6 (recovery): the checksummed record framing shared by the WAL and the manifest.
//!
//! # Format
//!
//! A file is a sequence of records, each (little-endian):
//!
//! | field        | width    | meaning                                                       |
//! |--------------|----------|---------------------------------------------------------------|
//! | len          | `u32`    | length of the payload                                         |
//! | synced       | `u64`    | how many bytes of the file were durable (synced) when this record was written |
//! | header_crc   | `u32`    | CRC32 of the 12 bytes of `len` and `synced`                   |
//! | payload_crc  | `u32`    | CRC32 of the payload                                          |
//! | payload      | len      | the record (a WAL batch, a manifest edit)                     |
//!
//! The header has its own checksum so that a damaged length is caught *before* it is used to
//! find the next record.
//!
//! # What a crash leaves, and what recovery does with it
//!
//! Only what was synced is sure to survive a power loss. Of the bytes written after the last
//! `fsync`, the disk may keep all, none, a prefix, or some pages and not others (reading zeros
//! where a page was lost, and a later page may survive an earlier one). So after a crash the
//! records past the last sync may be cut short, zeroed, or damaged with intact records after
//! them; none of them was acknowledged as durable.
//!
//! # Preallocated space
//!
//! A WAL's writer keeps zeros ahead of its records (see [`RecordWriter`] on preallocation): a
//! sync that commits no new file size is much cheaper. So a file may end in zeros after its
//! last record, with nothing lost. No record is all zeros (the CRC32 of twelve zero bytes is not
//! zero, so a zeroed header never matches its `header_crc`): **a file whose bytes are all zero
//! from some record boundary to the end ends there**, cleanly, with no torn tail.
//!
//! Recovery reads records from the start (never writing to the file: a damaged tail is reported
//! and left in place, since a recovered file is never appended to again). At the first record
//! that does not decode (too short, a bad checksum, a payload running past the end) and is not
//! the start of preallocated zeros, it asks whether that record was ever synced. The `synced`
//! field answers: every record written after a sync carries the file's synced length. If an
//! intact record anywhere after the bad one says the file was synced past the bad record's
//! start, the bad bytes were durable once and are damaged now: [`Error::Corruption`] (file and
//! offset), because dropping them would lose acknowledged writes. Otherwise the bad record and
//! everything after it lie in the unsynced tail: it is a [`TornTail`], ignored and reported;
//! the later intact records are ignored too, since applying them without the lost ones before
//! them would not be a state the writer was ever in.
//!
//! Book: `appendix-formats.md#record-framing`.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use bytes::{BufMut, Bytes};
use parking_lot::Mutex;

use crate::error::{Error, Result};
use crate::failpoint;
use crate::fs;

/// Bytes before each payload.
pub const RECORD_HEADER_SIZE: usize = 4 // len
    + 8 // synced
    + 4 // header_crc
    + 4; // payload_crc

/// An incomplete record at the end of a file, ignored by recovery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    /// The file.
    pub path: PathBuf,
    /// Where the ignored bytes start: the end of the last complete record.
    pub offset: u64,
    /// How many bytes were dropped.
    pub dropped_bytes: u64,
}

/// The records read back from a file.
#[derive(Debug)]
pub struct RecoveredRecords {
    /// Every complete record's payload, in order.
    pub payloads: Vec<Bytes>,
    /// Where each payload starts in the file (its record's start plus [`RECORD_HEADER_SIZE`]):
    /// the base a caller passes to [`crate::error::Error::in_file`] when a payload does not
    /// decode, so that the error names the bad byte's position in the file.
    pub payload_offsets: Vec<u64>,
    /// The torn tail that was dropped, if any.
    pub torn_tail: Option<TornTail>,
}

// ANCHOR: d6-record_file-encode_record
/// Appends `payload` to `buf` as one framed record, written when the first `synced` bytes of
/// its file were durable.
pub fn encode_record(payload: &[u8], synced: u64, buf: &mut Vec<u8>) {
    // BEGIN SOLUTION day 6: record_file::encode_record — len and synced, the crc of those 12 bytes, the crc of the payload, then the payload
    let header_start = buf.len();
    buf.put_u32_le(payload.len() as u32);
    buf.put_u64_le(synced);
    let header_crc = crc32fast::hash(&buf[header_start..]);
    buf.put_u32_le(header_crc);
    buf.put_u32_le(crc32fast::hash(payload));
    buf.put_slice(payload);
    // END SOLUTION
}
// ANCHOR_END: d6-record_file-encode_record

// ANCHOR: d6-record_file-decode_records
/// Reads every record of `raw` (the whole content of the file at `path`, used in errors) from
/// byte `start` on (a file may begin with a header of its own), following the policy in the
/// module documentation: zeros from a record boundary to the end are preallocated space, where
/// the file ends; a bad record that a later record proves was synced is [`Error::Corruption`];
/// otherwise it starts a torn tail.
pub fn decode_records(raw: &Bytes, start: usize, path: &Path) -> Result<RecoveredRecords> {
    // BEGIN SOLUTION day 6: record_file::decode_records — read records until the end or until only zeros are left (preallocated space); at a bad record, Corruption if a later intact record says the file was synced past it, else a torn tail
    let mut payloads = Vec::new();
    let mut payload_offsets = Vec::new();
    let mut pos = start;
    while pos < raw.len() {
        if let Some(record) = decode_at(raw, pos) {
            payload_offsets.push((record.at + RECORD_HEADER_SIZE) as u64);
            payloads.push(record.payload);
            pos = record.next;
            continue;
        }
        // Checked only here, at a record that does not decode, so a clean file costs nothing.
        if raw[pos..].iter().all(|&byte| byte == 0) {
            break;
        }
        if let Some(witness) = records_after(raw, pos + 1).find(|r| r.synced > pos as u64) {
            return Err(Error::Corruption {
                file: Some(path.to_path_buf()),
                offset: pos as u64,
                what: format!(
                    "damaged record (bad checksum or length), but the intact record at byte {} \
                     was written when the file was synced up to byte {}: this record was \
                     durable, so it is damage, not a torn write",
                    witness.at, witness.synced
                ),
            });
        }
        let torn_tail = TornTail {
            path: path.to_path_buf(),
            offset: pos as u64,
            dropped_bytes: (raw.len() - pos) as u64,
        };
        return Ok(RecoveredRecords {
            payloads,
            payload_offsets,
            torn_tail: Some(torn_tail),
        });
    }
    Ok(RecoveredRecords {
        payloads,
        payload_offsets,
        torn_tail: None,
    })
    // END SOLUTION
}
// ANCHOR_END: d6-record_file-decode_records

// BEGIN SOLUTION HELPERS
/// An intact record found in a file.
struct Framed {
    /// Where it starts.
    at: usize,
    /// Its `synced` field.
    synced: u64,
    payload: Bytes,
    /// Where the next record starts.
    next: usize,
}

/// The record starting at `pos`, if it is whole and both its checksums match.
fn decode_at(raw: &Bytes, pos: usize) -> Option<Framed> {
    let header = raw.get(pos..pos.checked_add(RECORD_HEADER_SIZE)?)?;
    let u32_at = |at: usize| u32::from_le_bytes(header[at..at + 4].try_into().unwrap_or_default());
    let (len, header_crc, payload_crc) = (u32_at(0), u32_at(12), u32_at(16));
    if crc32fast::hash(&header[..12]) != header_crc {
        return None;
    }
    let start = pos + RECORD_HEADER_SIZE;
    let end = start.checked_add(len as usize)?;
    let payload = raw.get(start..end).map(|_| raw.slice(start..end))?;
    if crc32fast::hash(&payload) != payload_crc {
        return None;
    }
    let synced = u64::from_le_bytes(header[4..12].try_into().unwrap_or_default());
    Some(Framed {
        at: pos,
        synced,
        payload,
        next: end,
    })
}

/// The intact records at or after byte `from`, found by trying every position until one
/// decodes, then following lengths (and searching again after the next bad spot). Only used
/// after a bad record, to look for a witness that it was synced.
fn records_after(raw: &Bytes, from: usize) -> impl Iterator<Item = Framed> + '_ {
    let mut pos = from;
    std::iter::from_fn(move || {
        while pos < raw.len() {
            match decode_at(raw, pos) {
                Some(record) => {
                    pos = record.next;
                    return Some(record);
                }
                None => pos += 1,
            }
        }
        None
    })
}
// END SOLUTION

/// Reads the whole file at `path`.
pub fn read_file(path: &Path) -> Result<Bytes> {
    Ok(Bytes::from(
        std::fs::read(path).map_err(|e| Error::io(path, e))?,
    ))
}

/// Appends framed records to a file; several threads may append and sync at once.
///
/// # Group commit
///
/// An `fsync` takes milliseconds on a real disk, and it makes durable everything written to the
/// file before it, not only the caller's records. So the writer never holds a lock that
/// appends need while it syncs:
///
/// * an append copies its record into `pending` (a short lock, a memory copy);
/// * a sync takes `file` (one sync at a time), writes out *everything* pending, `fsync`s, and
///   records how far the file is now durable.
///
/// A thread that asks for a sync while another one is `fsync`ing waits for `file`; when it gets
/// it, the sync it waited for has often already covered its records (it checks `synced` first),
/// and otherwise its own `fsync` covers every record appended meanwhile, by any thread. Under
/// load one `fsync` serves many writers: LevelDB's writer queue and RocksDB's write groups get
/// the same effect by electing a leader who writes for a group.
///
/// Bytes reach the file only while `file` is held (an append writes out a full buffer itself
/// when no sync is running), so the file never changes during an `fsync`, and the length an
/// `fsync` made durable is exactly the length written before it.
///
/// # Preallocation
///
/// A WAL is synced after every write when the user asks for it, so the cost of one sync matters.
/// A sync of a file that grew must also commit its new size, a metadata change that goes through
/// the file system's journal. So a writer made by [`RecordWriter::create_new`] keeps zeros
/// *ahead* of its records: when a sync finds fewer than [`PREALLOCATE_MIN_AHEAD`] bytes after
/// the records, it first extends the file by [`PREALLOCATE_BYTES`] (`set_len`: the new bytes
/// read as zeros), and that sync commits the new size. The syncs after it write records over
/// those zeros and leave the size unchanged, so they have data to write and no metadata to
/// commit (see [`fs::sync_log`]): one size change per megabyte of records instead of one per
/// sync (on the Benchmarks page's disk, a write and its sync take 42 µs at the median instead of
/// 54 to 61: see its *Group commit*). Recovery reads zeros after the last record as the end of
/// the file (see the module documentation). A [seal](RecordWriter::seal) does not preallocate:
/// nothing is appended after it. LevelDB's log format reserves record type 0 for the same
/// purpose.
#[derive(Debug)]
pub struct RecordWriter {
    path: PathBuf,
    /// Whether a sync keeps zeros ahead of the records (see *Preallocation*).
    preallocates: bool,
    /// Where a test may inject a failure or a crash (see [`failpoint`]).
    failpoints: failpoint::RecordPoints,
    /// Records appended but not yet written to the file, and the counters.
    pending: Mutex<Pending>,
    /// The file, held by whoever writes to it or syncs it.
    file: Mutex<Output>,
}

/// The file and an empty buffer to swap with [`Pending::buf`] when writing it out, so that
/// appends go on into one buffer while the other is written: no allocation per write-out.
#[derive(Debug)]
struct Output {
    file: File,
    spare: Vec<u8>,
    /// Bytes written to the file: where the next write-out goes.
    written: u64,
    /// The file's size: `written`, plus any zeros preallocated after it.
    size: u64,
}

/// The part of a [`RecordWriter`] that appends change.
#[derive(Debug)]
struct Pending {
    /// Encoded records not yet written to the file.
    buf: Vec<u8>,
    /// Bytes in the file, counting those still in `buf`.
    len: u64,
    /// Bytes of the file made durable by the last successful sync: written into each record
    /// (see the module documentation).
    synced: u64,
    /// Set by the first failed write or sync. From then on the file's tail is unknown (part of a
    /// record may have reached it; a failed `fsync` may have dropped written pages and a second
    /// one would wrongly succeed), so the writer refuses everything: recovery on the next open
    /// reads back what is really there.
    failed: bool,
}

/// An append writes the pending records out itself once they reach this size (when no sync is
/// running), so that unsynced records reach the operating system, as a buffered writer's would,
/// instead of piling up in memory until the next sync.
const WRITE_OUT_BYTES: usize = 64 << 10;

/// How many bytes of zeros a preallocating sync leaves after the records: one sync that changes
/// the file's size per this many bytes of records.
pub const PREALLOCATE_BYTES: u64 = 1 << 20;

/// A preallocating sync that finds fewer zeros than this after the records extends the file:
/// enough that the records of the next syncs (or one full write-out) fit in them.
pub const PREALLOCATE_MIN_AHEAD: u64 = WRITE_OUT_BYTES as u64;

impl RecordWriter {
    /// Creates a new, empty file at `path` for appending, whose syncs preallocate zeros (see
    /// *Preallocation*): the writer of a log synced often, a WAL. An existing file is an error.
    pub fn create_new(path: &Path) -> Result<Self> {
        // Not `append`: records are written at their offset, over the preallocated zeros.
        let file = File::options()
            .create_new(true)
            .write(true)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        Ok(Self::new(file, path, Vec::new(), true))
    }

    /// Creates the file at `path` (emptying it if it exists) and writes `header` at its start;
    /// like a record, the header reaches the disk with the next [`RecordWriter::sync`].
    pub fn create_with_header(path: &Path, header: &[u8]) -> Result<Self> {
        let file = File::options()
            .create(true)
            .write(true)
            .truncate(true)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        Ok(Self::new(file, path, header.to_vec(), false))
    }

    /// A writer of the empty `file` whose first bytes will be `start`.
    fn new(file: File, path: &Path, start: Vec<u8>, preallocates: bool) -> Self {
        RecordWriter {
            path: path.to_path_buf(),
            preallocates,
            failpoints: failpoint::record_points(path),
            pending: Mutex::new(Pending {
                len: start.len() as u64,
                buf: start,
                synced: 0,
                failed: false,
            }),
            file: Mutex::new(Output {
                file,
                spare: Vec::new(),
                written: 0,
                size: 0,
            }),
        }
    }

    /// Tells the writer that its file was renamed to `path` (used in errors from now on).
    pub fn renamed_to(&mut self, path: &Path) {
        self.path = path.to_path_buf();
    }

    /// Bytes in the file, counting those not yet written out.
    pub fn len(&self) -> u64 {
        self.pending.lock().len
    }

    /// Whether nothing was written to the file yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends one record. It reaches the operating system on the next [`RecordWriter::sync`]
    /// or once [`WRITE_OUT_BYTES`] are pending: a process crash may lose it until then.
    ///
    /// A payload longer than the `u32` length field can say is [`Error::InvalidArgument`], and
    /// nothing is written: a wrapped length would frame a record that recovery cuts wrongly.
    pub fn append(&self, payload: &[u8]) -> Result<()> {
        if u32::try_from(payload.len()).is_err() {
            self.refuse_if_failed(&self.pending.lock())?;
            return Err(Error::InvalidArgument(format!(
                "a record payload of {} bytes does not fit the u32 len field of {}",
                payload.len(),
                self.path.display()
            )));
        }
        let full = {
            let mut pending = self.pending.lock();
            self.refuse_if_failed(&pending)?;
            failpoint::hit(self.failpoints.append, &self.path)
                .inspect_err(|_| pending.failed = true)?;
            let before = pending.buf.len();
            let synced = pending.synced;
            encode_record(payload, synced, &mut pending.buf);
            pending.len += (pending.buf.len() - before) as u64;
            pending.buf.len() >= WRITE_OUT_BYTES
        };
        // A sync in progress will write the buffer out anyway: do not wait for it.
        if full && let Some(mut out) = self.file.try_lock() {
            self.write_out(&mut out)?;
        }
        Ok(())
    }

    /// Writes every pending byte to the file (whose lock the caller holds); returns the file's
    /// length after it. A failure poisons the writer (see `Pending::failed`).
    fn write_out(&self, out: &mut Output) -> Result<u64> {
        let len = {
            let mut pending = self.pending.lock();
            self.refuse_if_failed(&pending)?;
            std::mem::swap(&mut pending.buf, &mut out.spare);
            pending.len
        };
        let written = out.file.write_all_at(&out.spare, out.written);
        out.written += out.spare.len() as u64;
        out.size = out.size.max(out.written);
        out.spare.clear();
        written
            .map_err(|e| Error::io(&self.path, e))
            .inspect_err(|_| self.pending.lock().failed = true)?;
        Ok(len)
    }

    /// Extends the file (whose lock the caller holds) by [`PREALLOCATE_BYTES`] of zeros if
    /// fewer than [`PREALLOCATE_MIN_AHEAD`] follow the records. A failure poisons the writer,
    /// as a failed write-out does.
    fn preallocate(&self, out: &mut Output) -> Result<()> {
        if out.size - out.written >= PREALLOCATE_MIN_AHEAD {
            return Ok(());
        }
        let size = out.written + PREALLOCATE_BYTES;
        out.file
            .set_len(size)
            .map_err(|e| Error::io(&self.path, e))
            .inspect_err(|_| self.pending.lock().failed = true)?;
        out.size = size;
        Ok(())
    }

    /// Makes every record appended before this call durable: writes the pending records out and
    /// `fsync`s the file, unless a sync that ran meanwhile already covered them (see the type's
    /// documentation on group commit).
    pub fn sync(&self) -> Result<()> {
        self.sync_and_preallocate(self.preallocates)
    }

    /// [`RecordWriter::sync`], preallocating zeros first if `preallocate` (see
    /// *Preallocation*).
    fn sync_and_preallocate(&self, preallocate: bool) -> Result<()> {
        let target = self.pending.lock().len;
        let mut out = self.file.lock();
        {
            let pending = self.pending.lock();
            self.refuse_if_failed(&pending)?;
            if pending.synced >= target {
                return Ok(());
            }
        }
        let len = self.write_out(&mut out)?;
        if preallocate {
            self.preallocate(&mut out)?;
        }
        let synced = failpoint::hit(self.failpoints.before_sync, &self.path)
            .and_then(|()| fs::sync_log(&out.file, &self.path, len));
        let mut pending = self.pending.lock();
        match synced {
            Ok(()) => pending.synced = len,
            Err(_) => pending.failed = true,
        }
        synced
    }

    /// Makes everything appended durable, then appends an empty record and syncs it: a *seal*.
    /// Its `synced` field says the whole file before it was durable, so after a crash damage
    /// anywhere before it is [`Error::Corruption`], never mistaken for a torn tail (see the
    /// module documentation). A file with nothing appended after its last record's sync has no
    /// other witness. Called when nothing else appends to the file any more.
    pub fn seal(&self) -> Result<()> {
        self.sync_and_preallocate(false)?;
        self.append(&[])?;
        self.sync_and_preallocate(false)
    }

    /// Fails once a write or sync of this file has failed (see `Pending::failed`).
    fn refuse_if_failed(&self, pending: &Pending) -> Result<()> {
        if pending.failed {
            let why = "an earlier write or sync of this file failed; reopen the engine";
            return Err(Error::io(&self.path, std::io::Error::other(why)));
        }
        Ok(())
    }
}
