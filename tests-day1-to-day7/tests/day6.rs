//! Day 6: recovery. Book chapter `day6-recovery.md`.
//!
//! Covers:
//! - the record framing (`encode_record` / `decode_records`): a round trip, a torn tail at every
//!   cut of a file, a zero-filled tail, and which damage is a torn tail (never synced) and which
//!   is corruption (a later record proves it was synced);
//! - the WAL (`Wal::create`, `put_batch`, `sync`, `recover`): batches with tombstones and empty
//!   values come back in order, a torn last record is ignored and the file left as it was, and
//!   a batch the format cannot hold (a key over `u16::MAX` bytes, no entries) is refused with
//!   nothing written;
//! - the manifest (`Manifest::create`, `add_record`, `recover`): every record kind round-trips
//!   after the snapshot;
//! - recovery on open: after close with unflushed memtables (active and frozen), after flush,
//!   after compaction and over several open/close cycles, `get` and `scan` equal a `BTreeMap`
//!   model and the tree's shape is the one before close (memtables come back as immutable
//!   memtables, counted by `recovery_report().memtables_recovered`); recovered memtables flush
//!   like any other; a value deleted or overwritten after a flush never comes back;
//! - a write batch is recovered whole or not at all, for a cut at every byte of its record;
//! - torn last records of a WAL and of the manifest are ignored and reported (`torn_tails`),
//!   a damaged record before the last is `Error::Corruption` naming the file and offset;
//! - what recovery may delete: only files the manifest proves garbage; a file it cannot explain
//!   is kept and reported; a missing or damaged MANIFEST next to SSTs and WALs, and options with
//!   fewer levels than the tree has, are refused without changing a file; a torn record never
//!   costs the writes of the memtable it named;
//! - the directory lock (`Error::Locked`), `sync` without flushing, a crash test (a writer
//!   process killed with SIGKILL loses nothing it reported as synced) and a power-loss test (a
//!   simulated power cut at every durable operation loses no durable write).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::ops::{Bound, Range};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use bytes::Bytes;
use rstest::rstest;
use tests_day1_to_day7::lsm::block::MAX_KEY_LEN;
use tests_day1_to_day7::lsm::manifest::{MANIFEST_MAGIC, Manifest, ManifestRecord, TreeSnapshot};
use tests_day1_to_day7::lsm::mem_table::MemTable;
use tests_day1_to_day7::lsm::record_file::{
    RECORD_HEADER_SIZE, TornTail, decode_records, encode_record,
};
use tests_day1_to_day7::lsm::wal::{Wal, WalEntry};
use tests_day1_to_day7::lsm::{
    CompactionOptions, Error, LsmOptions, MiniLsm, TreeShape, WriteBatchRecord,
};
use tests_day1_to_day7::*;

/// The crash writer built for the crate under test (see the `[[bin]]`s in Cargo.toml).
#[cfg(feature = "reference")]
const CRASH_WRITER: &str = env!("CARGO_BIN_EXE_crash-writer-reference");
#[cfg(not(feature = "reference"))]
const CRASH_WRITER: &str = env!("CARGO_BIN_EXE_crash-writer-starter");

const BOOK_WAL: &str = "day6-recovery.md#the-wal";
const BOOK_FRAMING: &str = "day6-recovery.md#record-framing-and-torn-tails";
const BOOK_MANIFEST: &str = "day6-recovery.md#the-manifest";
const BOOK_DURABILITY: &str = "day6-recovery.md#durability-order";
const BOOK_RECOVERY: &str = "day6-recovery.md#recovery-on-open";
const BOOK_ORPHANS: &str = "day6-recovery.md#orphans";
const BOOK_TRUST: &str = "day6-recovery.md#what-recovery-may-delete";
const BOOK_LOCK: &str = "day6-recovery.md#the-directory-lock";
const BOOK_CRASH: &str = "day6-recovery.md#crash-testing";

/// Keys `key(0..KEYS)` make up the key space of the engine scenarios.
const KEYS: usize = 60;

// ---------------------------------------------------------------------------------------------
// Helpers: files
// ---------------------------------------------------------------------------------------------

/// Unwraps a file-system result of the test itself (not of the engine).
#[track_caller]
fn io<T>(result: std::io::Result<T>, what: &str) -> T {
    match result {
        Ok(value) => value,
        Err(e) => fail(what, "Ok(..)", e, BOOK_RECOVERY),
    }
}

fn read_bytes(path: &Path) -> Vec<u8> {
    io(std::fs::read(path), &format!("read {}", path.display()))
}

fn write_bytes(path: &Path, bytes: &[u8]) {
    io(
        std::fs::write(path, bytes),
        &format!("write {}", path.display()),
    );
}

/// Cuts the file at `path` to its first `len` bytes.
fn truncate(path: &Path, len: usize) {
    let mut bytes = read_bytes(path);
    bytes.truncate(len);
    write_bytes(path, &bytes);
}

/// Flips every bit of the byte at `pos` of the file at `path`.
fn flip_byte(path: &Path, pos: usize) {
    let mut bytes = read_bytes(path);
    bytes[pos] ^= 0xFF;
    write_bytes(path, &bytes);
}

/// The file name of `path`, as a string (empty when it has none).
fn name_of(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The `NNNNN.<ext>` files in `dir` as `(id, path)`, by id.
fn files_with_ext(dir: &Path, ext: &str) -> Vec<(usize, PathBuf)> {
    let listing = io(std::fs::read_dir(dir), "list the engine directory");
    let mut files: Vec<(usize, PathBuf)> = listing
        .map(|entry| io(entry, "list the engine directory").path())
        .filter(|path| path.extension().is_some_and(|e| e == ext))
        .filter_map(|path| {
            let id = path.file_stem()?.to_str()?.parse().ok()?;
            Some((id, path))
        })
        .collect();
    files.sort();
    files
}

/// The non-empty WAL with the largest id in `dir`: the newest memtable that holds writes.
/// `after` says what was done last (a `sync` or a `close`, which must write the WAL out).
fn newest_wal(dir: &Path, after: &str) -> PathBuf {
    let wals = files_with_ext(dir, "wal");
    match wals.iter().rev().find(|(_, p)| !read_bytes(p).is_empty()) {
        Some((_, path)) => path.clone(),
        None => fail(
            &format!("{after}: the WAL files of the memtables"),
            "a non-empty NNNNN.wal file: the active memtable's writes, which sync and close \
             write out to its WAL",
            format!("only empty WAL files: {wals:?}"),
            BOOK_WAL,
        ),
    }
}

/// A copy of every file of `dir` in a fresh temporary directory.
fn copy_dir(dir: &Path) -> tempfile::TempDir {
    let copy = temp_dir();
    for entry in io(std::fs::read_dir(dir), "list the directory to copy") {
        let entry = io(entry, "list the directory to copy");
        if entry.path().is_file() {
            io(
                std::fs::copy(entry.path(), copy.path().join(entry.file_name())),
                &format!("copy {}", entry.path().display()),
            );
        }
    }
    copy
}

/// The byte ranges of the records of a framed file from byte `start` on (see `record_file`): a
/// `u32` little-endian payload length, the synced length, two checksums, then the payload.
fn record_spans(bytes: &[u8], start: usize, what: &str) -> Vec<Range<usize>> {
    let mut spans = Vec::new();
    let mut pos = start;
    // Zeros to the end are space preallocated after the last record, not records.
    while bytes[pos..].iter().any(|&byte| byte != 0) {
        let header = bytes.get(pos..pos + RECORD_HEADER_SIZE);
        let Some(len) = header.map(|h| u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize)
        else {
            fail(
                &format!("{what}: parse the record framing"),
                "a whole record header",
                format!("{} bytes left at offset {pos}", bytes.len() - pos),
                BOOK_FRAMING,
            );
        };
        let end = pos + RECORD_HEADER_SIZE + len;
        if end > bytes.len() {
            fail(
                &format!("{what}: parse the record framing"),
                format!("a record ending by byte {}", bytes.len()),
                format!("a record at {pos} ending at {end}"),
                BOOK_FRAMING,
            );
        }
        spans.push(pos..end);
        pos = end;
    }
    spans
}

/// The records of the file at `path`, which must have at least `min` of them. A MANIFEST's
/// records start after its magic.
fn spans_of(path: &Path, min: usize) -> Vec<Range<usize>> {
    let what = format!("the records of {}", name_of(path));
    let start = if name_of(path) == "MANIFEST" {
        MANIFEST_MAGIC.len()
    } else {
        0
    };
    let spans = record_spans(&read_bytes(path), start, &what);
    if spans.len() < min {
        fail(
            &what,
            format!("at least {min} records"),
            spans.len(),
            BOOK_FRAMING,
        );
    }
    spans
}

// ---------------------------------------------------------------------------------------------
// Helpers: the engine and its model
// ---------------------------------------------------------------------------------------------

/// The bounds of one scan.
type ScanRange<'a> = (Bound<&'a [u8]>, Bound<&'a [u8]>);

/// Day-6 options (WAL on, no background work, no size-triggered freeze) with small blocks and
/// SSTs, so that flushes and compactions make multi-block, multi-SST trees.
fn options() -> LsmOptions {
    LsmOptions {
        block_size: 256,
        target_sst_size: 2048,
        ..options_for_day(6)
    }
}

fn open(dir: &Path, scenario: &str) -> Arc<MiniLsm> {
    ok(
        MiniLsm::open(dir, options()),
        &format!("{scenario}: open {}", dir.display()),
        BOOK_RECOVERY,
    )
}

/// Closes `db` and drops it, which releases the directory.
fn close(db: Arc<MiniLsm>, scenario: &str) {
    ok(db.close(), &format!("{scenario}: close"), BOOK_RECOVERY);
    drop(db);
}

fn reopen(db: Arc<MiniLsm>, dir: &Path, scenario: &str) -> Arc<MiniLsm> {
    close(db, scenario);
    open(dir, &format!("{scenario}: reopen"))
}

/// Opens `dir` expecting an error; returns it.
fn open_error(dir: &Path, scenario: &str, expected: &str, book: &str) -> Error {
    match MiniLsm::open(dir, options()) {
        Ok(_) => fail(scenario, expected, "Ok(an open engine)", book),
        Err(e) => e,
    }
}

/// Opens `dir` expecting `Error::Corruption` in the file named `file` at byte `offset`.
#[track_caller]
fn check_open_is_corruption(dir: &Path, file: &str, offset: usize, scenario: &str, book: &str) {
    let expected = format!("Err(Corruption {{ file: Some(.../{file}), offset: {offset}, .. }})");
    match open_error(dir, scenario, &expected, book) {
        Error::Corruption {
            file: Some(path),
            offset: actual,
            ..
        } if name_of(&path) == file && actual == offset as u64 => {}
        other => fail(scenario, expected, other, book),
    }
}

/// One step of a scenario that shapes the tree.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// `n` seeded writes in batches of 1 to 4: puts, empty values and deletes over `KEYS`.
    Write(usize),
    /// `put(key(i), value(i, generation))`.
    Put(usize, usize),
    /// `delete(key(i))`.
    Delete(usize),
    Freeze,
    Flush,
    FullCompaction,
    CompactUntilIdle,
}

/// Applies `batch` to the engine and the model.
fn write_batch(db: &MiniLsm, model: &mut Model, batch: &[WriteBatchRecord<Vec<u8>, Vec<u8>>]) {
    ok(
        db.write_batch(batch),
        &format!("write_batch({batch:?})"),
        BOOK_WAL,
    );
    for record in batch {
        match record {
            WriteBatchRecord::Put(k, v) => model.insert(k.clone(), v.clone()),
            WriteBatchRecord::Delete(k) => model.remove(k),
        };
    }
}

fn random_writes(db: &MiniLsm, model: &mut Model, rng: &mut Rng, n: usize) {
    let generation = rng.below(1_000_000);
    let mut written = 0;
    while written < n {
        let size = (1 + rng.below(4)).min(n - written);
        let batch: Vec<_> = (0..size)
            .map(|_| {
                let i = rng.below(KEYS);
                match rng.below(8) {
                    0 | 1 => WriteBatchRecord::Delete(key(i)),
                    2 => WriteBatchRecord::Put(key(i), Vec::new()),
                    _ => WriteBatchRecord::Put(key(i), value(i, generation)),
                }
            })
            .collect();
        write_batch(db, model, &batch);
        written += size;
    }
}

fn apply(db: &MiniLsm, model: &mut Model, rng: &mut Rng, step: Step) {
    let scenario = format!("step {step:?}");
    match step {
        Step::Write(n) => random_writes(db, model, rng, n),
        Step::Put(i, generation) => {
            write_batch(
                db,
                model,
                &[WriteBatchRecord::Put(key(i), value(i, generation))],
            );
        }
        Step::Delete(i) => write_batch(db, model, &[WriteBatchRecord::Delete(key(i))]),
        Step::Freeze => {
            ok(db.force_freeze_memtable(), &scenario, BOOK_RECOVERY);
        }
        Step::Flush => ok(db.force_flush(), &scenario, BOOK_RECOVERY),
        Step::FullCompaction => ok(db.force_full_compaction(), &scenario, BOOK_RECOVERY),
        Step::CompactUntilIdle => {
            ok(db.compact_until_idle(), &scenario, BOOK_RECOVERY);
        }
    }
}

/// Opens a fresh engine in `dir` and runs `steps` on it; returns it with its model.
fn build(dir: &Path, steps: &[Step], seed: u64) -> (Arc<MiniLsm>, Model) {
    let db = open(dir, &format!("build {steps:?}"));
    let mut model = Model::new();
    let mut rng = Rng::new(seed);
    for &step in steps {
        apply(&db, &mut model, &mut rng, step);
    }
    (db, model)
}

/// Checks `get` of every key of the key space, a full scan and a range scan against the model.
#[track_caller]
fn check_model(db: &MiniLsm, model: &Model, scenario: &str, book: &str) {
    for i in 0..KEYS {
        let k = key(i);
        let s = format!("{scenario}: get({})", show(&k));
        let expected = model.get(&k).map(Vec::as_slice);
        check_get(ok(db.get(&k), &s, book), expected, &s, book);
    }
    let (a, b) = (key(KEYS / 4), key(KEYS * 3 / 4));
    let ranges: [ScanRange; 2] = [
        (Bound::Unbounded, Bound::Unbounded),
        (Bound::Included(&a), Bound::Excluded(&b)),
    ];
    for (lower, upper) in ranges {
        let s = format!("{scenario}: scan({lower:?}, {upper:?})");
        let mut scan = ok(db.scan(lower, upper), &s, book);
        check_iter(&mut scan, &model_range(model, lower, upper), &s, book);
    }
}

/// Entry counts of the memtables holding writes, newest first: what recovery brings back.
fn unflushed_memtables(shape: &TreeShape) -> Vec<usize> {
    std::iter::once(&shape.memtable)
        .chain(&shape.immutable_memtables)
        .map(|m| m.num_entries)
        .filter(|&n| n > 0)
        .collect()
}

/// Checks that `db`, just reopened, has the tree `before` had at close: the same L0 SSTs and
/// levels, and each memtable holding writes back as an immutable memtable.
#[track_caller]
fn check_shape_restored(before: &TreeShape, db: &MiniLsm, scenario: &str) {
    let after = db.shape();
    let context = format!("{scenario}\n-- before close --\n{before}-- after reopen --\n{after}");
    check_eq(
        &after.l0,
        &before.l0,
        &format!("{context}L0 SSTs after reopen"),
        BOOK_RECOVERY,
    );
    check_eq(
        &after.levels,
        &before.levels,
        &format!("{context}levels after reopen"),
        BOOK_RECOVERY,
    );
    let expected = unflushed_memtables(before);
    let recovered: Vec<usize> = after
        .immutable_memtables
        .iter()
        .map(|m| m.num_entries)
        .collect();
    check_eq(
        recovered,
        expected.clone(),
        &format!("{context}entry counts of the immutable memtables (newest first) after reopen"),
        BOOK_RECOVERY,
    );
    check_eq(
        after.memtable.num_entries,
        0,
        &format!("{context}entries in the fresh mutable memtable"),
        BOOK_RECOVERY,
    );
    check_eq(
        db.recovery_report().memtables_recovered,
        expected.len(),
        &format!("{context}recovery_report().memtables_recovered"),
        BOOK_RECOVERY,
    );
}

/// Checks that the report names exactly one torn tail: in file `file`, at `offset`, dropping
/// `dropped` bytes.
#[track_caller]
fn check_torn_tail(tails: &[TornTail], file: &str, offset: usize, dropped: usize, scenario: &str) {
    let shown: Vec<(String, u64, u64)> = tails
        .iter()
        .map(|t| (name_of(&t.path), t.offset, t.dropped_bytes))
        .collect();
    check_eq(
        shown,
        vec![(file.to_string(), offset as u64, dropped as u64)],
        &format!("{scenario}: torn tails as (file, offset, dropped_bytes)"),
        BOOK_FRAMING,
    );
}

#[track_caller]
fn check_no_torn_tail(db: &MiniLsm, scenario: &str, book: &str) {
    let tails = &db.recovery_report().torn_tails;
    check_eq(
        tails.len(),
        0,
        &format!("{scenario}: number of torn tails reported ({tails:?})"),
        book,
    );
}

/// After a recovery that ignored a torn tail: runs `steps` on `db` (which flush the recovered
/// memtables, deleting the WAL that held the tail), closes and reopens it, and checks the data
/// and that no torn tail is left.
fn write_and_reopen_cleanly(
    db: Arc<MiniLsm>,
    dir: &Path,
    model: &Model,
    steps: &[Step],
    scenario: &str,
    book: &str,
) {
    let mut model = model.clone();
    for &step in steps {
        apply(&db, &mut model, &mut Rng::new(0), step);
    }
    let scenario = format!("{scenario}, then {steps:?}, close and reopen");
    let db = reopen(db, dir, &scenario);
    check_model(&db, &model, &scenario, book);
    check_no_torn_tail(&db, &scenario, book);
}

// ---------------------------------------------------------------------------------------------
// Record framing, the WAL and the manifest on their own
// ---------------------------------------------------------------------------------------------

/// Three framed records, the middle one with an empty payload. With `synced_each`, each was
/// written after a sync of everything before it (its `synced` is its own start); without, no
/// sync ever happened (every `synced` is 0).
fn framed_records(synced_each: bool) -> (Vec<Vec<u8>>, Vec<u8>) {
    let payloads = vec![b"first".to_vec(), Vec::new(), b"the third payload".to_vec()];
    let mut buf = Vec::new();
    for payload in &payloads {
        let synced = if synced_each { buf.len() as u64 } else { 0 };
        encode_record(payload, synced, &mut buf);
    }
    (payloads, buf)
}

/// Three framed records, then zeros as a WAL's writer preallocates them, damaged as a crash or a
/// bad disk might: `decode_records` must end the file cleanly where only zeros are left (no
/// torn tail: nothing was lost), and apply the torn-or-corrupt rule to anything else.
#[rstest]
#[case::fewer_zeros_than_a_header(Zeros::After(7), Ok((3, None)))]
#[case::a_zeroed_header(Zeros::After(RECORD_HEADER_SIZE), Ok((3, None)))]
#[case::a_megabyte_of_zeros(Zeros::After(1 << 20), Ok((3, None)))]
#[case::zeros_then_one_nonzero_byte(Zeros::ThenByte(4096), Ok((3, Some(Torn::AtEnd))))]
#[case::last_record_cut_short_then_zeros(Zeros::LastRecordCut(4096), Ok((2, Some(Torn::AtRecord(2)))))]
#[case::synced_middle_record_zeroed(Zeros::MiddleRecord { synced_each: true }, Err(1))]
#[case::unsynced_middle_record_zeroed(
    Zeros::MiddleRecord { synced_each: false },
    Ok((1, Some(Torn::AtRecord(1))))
)]
#[case::only_zeros(Zeros::Only(4096), Ok((0, None)))]
fn decode_records_ends_at_preallocated_zeros(
    #[case] zeros: Zeros,
    // Ok((n, torn)): the first n payloads, and a torn tail or none; Err(r): corruption at
    // record r.
    #[case] expected: Result<(usize, Option<Torn>), usize>,
) {
    let synced_each = !matches!(zeros, Zeros::MiddleRecord { synced_each: false });
    let (payloads, mut buf) = framed_records(synced_each);
    let spans = record_spans(&buf, 0, "encode_record output");
    let records_end = buf.len();
    let scenario = match zeros {
        Zeros::After(n) => format!("3 records, then {n} zero bytes"),
        Zeros::ThenByte(n) => format!("3 records, then {n} zero bytes and one byte 0x01"),
        Zeros::LastRecordCut(n) => {
            format!("3 records, the last cut short by 3 bytes, then {n} zeros")
        }
        Zeros::MiddleRecord { synced_each } => format!(
            "3 records{}, the middle one overwritten with zeros",
            if synced_each {
                " each written after a sync of all before it"
            } else {
                " never synced"
            }
        ),
        Zeros::Only(n) => format!("no record, {n} zero bytes"),
    };
    match zeros {
        Zeros::After(n) => buf.resize(records_end + n, 0),
        Zeros::ThenByte(n) => {
            buf.resize(records_end + n, 0);
            buf.push(1);
        }
        Zeros::LastRecordCut(n) => {
            buf.truncate(records_end - 3);
            buf.resize(records_end - 3 + n, 0);
        }
        Zeros::MiddleRecord { .. } => buf[spans[1].clone()].fill(0),
        Zeros::Only(n) => buf = vec![0; n],
    }
    let torn_at = |torn: Torn| match torn {
        Torn::AtEnd => records_end,
        Torn::AtRecord(r) => spans[r].start,
    };
    let expected = match expected {
        Ok((n, torn)) => Ok((
            payloads[..n].to_vec(),
            torn.map(|t| (torn_at(t) as u64, (buf.len() - torn_at(t)) as u64)),
        )),
        Err(r) => Err(spans[r].start as u64),
    };
    check_decoded(&scenario, decode(&buf, &scenario), expected);
}

/// How [`decode_records_ends_at_preallocated_zeros`] lays zeros into three records.
#[derive(Debug, Clone, Copy)]
enum Zeros {
    /// This many zeros after the last record.
    After(usize),
    /// This many zeros, then one nonzero byte: not preallocated space, something was written.
    ThenByte(usize),
    /// The last record cut 3 bytes short, then this many zeros.
    LastRecordCut(usize),
    /// The middle record's bytes all zero, the last record intact after them.
    MiddleRecord { synced_each: bool },
    /// A file of this many zeros and no record.
    Only(usize),
}

/// Where a torn tail starts.
#[derive(Debug, Clone, Copy)]
enum Torn {
    /// Where the three records end.
    AtEnd,
    /// At the start of this record.
    AtRecord(usize),
}

/// What `decode_records` read: the payloads, and a torn tail as `(offset, dropped_bytes)`.
type Decoded = (Vec<Vec<u8>>, Option<(u64, u64)>);

/// Checks what `decode_records` read against `expected`: the payloads and the torn tail, or
/// `Err(offset)` for `Corruption` at that offset.
#[track_caller]
fn check_decoded(scenario: &str, actual: lsm::Result<Decoded>, expected: Result<Decoded, u64>) {
    match (expected, actual) {
        (Ok(expected), Ok(actual)) => check_eq(
            actual,
            expected,
            &format!("{scenario}: (payloads, torn tail as (offset, dropped_bytes))"),
            BOOK_FRAMING,
        ),
        (Err(at), Err(Error::Corruption { offset, .. })) if offset == at => {}
        (expected, actual) => fail(
            scenario,
            match expected {
                Ok((payloads, None)) => format!("Ok({} payloads and no torn tail)", payloads.len()),
                Ok((payloads, Some((offset, dropped)))) => format!(
                    "Ok({} payloads and a torn tail at {offset} of {dropped} bytes)",
                    payloads.len()
                ),
                Err(at) => format!("Err(Corruption at offset {at})"),
            },
            actual,
            BOOK_FRAMING,
        ),
    }
}

fn decode(bytes: &[u8], scenario: &str) -> lsm::Result<Decoded> {
    let path = Path::new("framed.log");
    let recovered = decode_records(&Bytes::copy_from_slice(bytes), 0, path)?;
    let payloads: Vec<Vec<u8>> = recovered.payloads.iter().map(|p| p.to_vec()).collect();
    // Records follow each other from byte 0: each payload right after its record's header.
    let mut expected_offsets = Vec::new();
    let mut record_start = 0;
    for payload in &payloads {
        expected_offsets.push((record_start + RECORD_HEADER_SIZE) as u64);
        record_start += RECORD_HEADER_SIZE + payload.len();
    }
    check_eq(
        &recovered.payload_offsets,
        &expected_offsets,
        &format!("{scenario}: payload_offsets (where each payload starts in the file)"),
        BOOK_FRAMING,
    );
    let torn = recovered.torn_tail.map(|t| {
        check_eq(
            t.path.as_path(),
            path,
            &format!("{scenario}: TornTail::path"),
            BOOK_FRAMING,
        );
        (t.offset, t.dropped_bytes)
    });
    Ok((payloads, torn))
}

#[test]
fn decode_records_drops_a_torn_tail_at_every_cut() {
    let (payloads, buf) = framed_records(true);
    let spans = record_spans(&buf, 0, "encode_record output");
    check_eq(
        spans.iter().map(|s| s.len()).collect::<Vec<_>>(),
        payloads
            .iter()
            .map(|p| RECORD_HEADER_SIZE + p.len())
            .collect(),
        "encode_record: each record is a header then the payload",
        BOOK_FRAMING,
    );
    for cut in 0..=buf.len() {
        let scenario = format!("decode_records of the first {cut} of {} bytes", buf.len());
        let complete = spans.iter().filter(|s| s.end <= cut).count();
        // A cut record whose bytes left are all zeros (a cut inside the empty record's `len`)
        // looks exactly like preallocated space: the file ends cleanly, and nothing
        // acknowledged is lost either way.
        let torn = spans
            .iter()
            .find(|s| s.start < cut && cut < s.end && buf[s.start..cut].iter().any(|&b| b != 0))
            .map(|s| (s.start as u64, (cut - s.start) as u64));
        let expected = (payloads[..complete].to_vec(), torn);
        check_eq(
            ok(decode(&buf[..cut], &scenario), &scenario, BOOK_FRAMING),
            expected,
            &format!("{scenario}: (payloads, torn tail as (offset, dropped_bytes))"),
            BOOK_FRAMING,
        );
    }
}

/// Damages three framed records (flips one byte) and checks what `decode_records` makes of it:
/// corruption when a later intact record says the damaged one was synced, a torn tail otherwise
/// (at the end, or anywhere when nothing was ever synced).
#[rstest]
#[case::bad_payload_byte_of_the_last_record(true, 2, RECORD_HEADER_SIZE + 2, Ok(2))]
#[case::bad_length_of_the_last_record(true, 2, 0, Ok(2))]
#[case::bad_payload_byte_of_the_first_record(true, 0, RECORD_HEADER_SIZE, Err(0))]
#[case::bad_length_of_the_first_record(true, 0, 0, Err(0))]
#[case::bad_synced_field_of_the_first_record(true, 0, 5, Err(0))]
#[case::bad_header_checksum_of_the_first_record(true, 0, 13, Err(0))]
#[case::bad_payload_checksum_field_of_the_first_record(true, 0, 17, Err(0))]
#[case::bad_length_of_the_empty_middle_record(true, 1, 1, Err(1))]
#[case::never_synced_bad_first_record(false, 0, RECORD_HEADER_SIZE, Ok(0))]
#[case::never_synced_bad_middle_record(false, 1, 1, Ok(1))]
fn decode_records_tells_a_torn_tail_from_corruption(
    #[case] synced_each: bool,
    #[case] record: usize,
    #[case] byte: usize,
    // Ok(n): the first n payloads and a torn tail; Err(r): corruption at record r.
    #[case] expected: Result<usize, usize>,
) {
    let (payloads, mut buf) = framed_records(synced_each);
    let spans = record_spans(&buf, 0, "encode_record output");
    let synced = if synced_each {
        "each record written after a sync of all before it"
    } else {
        "no record ever synced"
    };
    let scenario = format!("{synced}, byte {byte} of record {record} (of 3) flipped");
    buf[spans[record].start + byte] ^= 0xFF;
    let torn_at = spans[record].start;
    let expected = match expected {
        Ok(n) => Ok((
            payloads[..n].to_vec(),
            Some((torn_at as u64, (buf.len() - torn_at) as u64)),
        )),
        Err(r) => Err(spans[r].start as u64),
    };
    check_decoded(&scenario, decode(&buf, &scenario), expected);
}

fn wal_entries(batch: &[(&str, Option<&str>)]) -> Vec<WalEntry> {
    batch
        .iter()
        .map(|(k, v)| {
            (
                Bytes::from(k.to_string()),
                v.map(|v| Bytes::from(v.to_string())),
            )
        })
        .collect()
}

fn wal_put_batch(wal: &Wal, batch: &[WalEntry]) {
    let entries: Vec<(&[u8], Option<&[u8]>)> = batch
        .iter()
        .map(|(k, v)| (k.as_ref(), v.as_deref()))
        .collect();
    ok(wal.put_batch(&entries), "Wal::put_batch", BOOK_WAL);
    ok(wal.sync(), "Wal::sync", BOOK_WAL);
}

#[test]
fn wal_recovers_every_batch_and_ignores_a_torn_last_record_without_changing_the_file() {
    let dir = temp_dir();
    let path = dir.path().join("00007.wal");
    let batches = vec![
        wal_entries(&[("a", Some("1")), ("b", None), ("c", Some(""))]),
        wal_entries(&[("b", Some("2"))]),
        wal_entries(&[("a", None), ("d", Some("4")), ("e", Some("5"))]),
    ];
    let wal = ok(Wal::create(&path), "Wal::create", BOOK_WAL);
    for batch in &batches {
        wal_put_batch(&wal, batch);
    }
    drop(wal);
    let recovery = ok(Wal::recover(&path), "Wal::recover of 3 batches", BOOK_WAL);
    check_eq(
        (&recovery.batches, &recovery.torn_tail),
        (&batches, &None),
        "Wal::recover of 3 synced batches: (batches, torn_tail)",
        BOOK_WAL,
    );
    drop(recovery);
    let last = spans_of(&path, 3)[2].clone();
    let cut = last.start + RECORD_HEADER_SIZE + 3;
    truncate(&path, cut);
    let torn = read_bytes(&path);
    let recovery = ok(Wal::recover(&path), "Wal::recover of a torn log", BOOK_WAL);
    check_eq(
        read_bytes(&path) == torn,
        true,
        "Wal::recover of a torn log left the file as it was (recovery only reads)",
        BOOK_FRAMING,
    );
    check_eq(
        &recovery.batches,
        &batches[..2].to_vec(),
        "Wal::recover with the last record cut short: batches",
        BOOK_FRAMING,
    );
    let tails: Vec<TornTail> = recovery.torn_tail.into_iter().collect();
    check_torn_tail(
        &tails,
        "00007.wal",
        last.start,
        cut - last.start,
        "Wal::recover with the last record cut short",
    );
}

/// A batch as `Wal::put_batch` and `MemTable::put_batch` take it.
type Batch<'a> = Vec<(&'a [u8], Option<&'a [u8]>)>;

/// The WAL's fields have fixed widths: a key length is a `u16`. A key of 65 536 bytes written with
/// `key.len() as u16` wraps to 0, and the record, checksummed and valid, recovers as a different
/// batch (or as corruption that makes the whole WAL unreadable). `put_batch` must refuse what its
/// format cannot hold, and an empty batch (a record holds at least one entry), before writing
/// anything: the log afterwards holds exactly the batches that were accepted.
#[test]
fn wal_put_batch_refuses_a_batch_its_format_cannot_hold_and_writes_nothing() {
    let dir = temp_dir();
    let path = dir.path().join("00009.wal");
    let wal = ok(Wal::create(&path), "Wal::create", BOOK_WAL);
    let longest = vec![b'k'; MAX_KEY_LEN];
    let accepted = vec![(Bytes::from(longest.clone()), Some(Bytes::from("v")))];
    wal_put_batch(&wal, &accepted);
    let len_after_accepted = read_bytes(&path).len();
    let too_long = vec![b'k'; MAX_KEY_LEN + 1];
    let refused: [(&str, Batch); 3] = [
        (
            "a key of MAX_KEY_LEN + 1 = 65 536 bytes (its u16 key_len would wrap to 0)",
            vec![(&too_long, Some(b"v"))],
        ),
        (
            "a valid entry, then a key of 65 536 bytes",
            vec![(b"a", Some(b"1")), (&too_long, None)],
        ),
        ("an empty batch (a record holds at least one entry)", vec![]),
    ];
    for (what, batch) in &refused {
        let scenario = format!("Wal::put_batch of {what}");
        match wal.put_batch(batch) {
            Err(Error::InvalidArgument(_)) => {}
            Ok(()) => fail(&scenario, "Err(InvalidArgument)", "Ok(())", BOOK_WAL),
            Err(other) => fail(&scenario, "Err(InvalidArgument)", other, BOOK_WAL),
        }
        ok(wal.sync(), &format!("Wal::sync after {scenario}"), BOOK_WAL);
        check_eq(
            read_bytes(&path).len(),
            len_after_accepted,
            &format!("{scenario}: WAL file length (nothing may be written)"),
            BOOK_WAL,
        );
    }
    drop(wal);
    let recovery = ok(Wal::recover(&path), "Wal::recover", BOOK_WAL);
    check_eq(
        (
            recovery
                .batches
                .iter()
                .map(|batch| batch.iter().map(|(k, v)| (k.len(), v.clone())).collect())
                .collect::<Vec<Vec<_>>>(),
            &recovery.torn_tail,
        ),
        (vec![vec![(MAX_KEY_LEN, Some(Bytes::from("v")))]], &None),
        "Wal::recover after one batch with a MAX_KEY_LEN key and three refused batches: \
         (batches as (key length, value), torn_tail)",
        BOOK_WAL,
    );
    check_eq(
        recovery.batches[0][0].0.as_ref() == longest.as_slice(),
        true,
        "the MAX_KEY_LEN key comes back byte for byte",
        BOOK_WAL,
    );
}

/// `MemTable::recover_from_wal` brings back every batch and only reads the WAL: the recovered
/// memtable is frozen (it takes no writes), and the file stays byte for byte as it was, so that
/// an open that fails later has changed nothing.
#[test]
fn a_memtable_recovered_from_its_wal_holds_every_batch_and_leaves_the_file_as_it_was() {
    let dir = temp_dir();
    let path = dir.path().join("00003.wal");
    let memtable = ok(
        MemTable::create_with_wal(3, &path),
        "MemTable::create_with_wal",
        BOOK_WAL,
    );
    ok(memtable.put(b"a", Some(b"1")), "put a = 1", BOOK_WAL);
    ok(memtable.put(b"b", None), "delete b", BOOK_WAL);
    ok(memtable.put(b"a", Some(b"2")), "put a = 2", BOOK_WAL);
    ok(memtable.sync_wal(), "sync_wal", BOOK_WAL);
    drop(memtable);
    let mut bytes = read_bytes(&path);
    bytes.extend_from_slice(&[7, 0, 0]); // the start of a torn record
    write_bytes(&path, &bytes);
    let get = |memtable: &MemTable, key: &[u8]| memtable.get(key).map(|v| v.map(|b| b.to_vec()));
    let (memtable, torn) = ok(
        MemTable::recover_from_wal(3, &path),
        "MemTable::recover_from_wal",
        BOOK_WAL,
    );
    check_eq(
        (memtable.id(), get(&memtable, b"a"), get(&memtable, b"b")),
        (3, Some(Some(b"2".to_vec())), Some(None)),
        "(id, get(a), get(b)) after recovery of put a=1, delete b, put a=2",
        BOOK_WAL,
    );
    check_eq(
        (torn.is_some(), read_bytes(&path) == bytes),
        (true, true),
        "(torn tail reported, WAL file unchanged) after recovery of a WAL with a torn tail",
        BOOK_FRAMING,
    );
}

/// Two writers put the same key at the same moment, round after round: whichever value the
/// memtable ends up with, the WAL must bring back the same one, or a crash would change a value
/// that readers already saw. Logging and inserting a batch must happen in one order for all
/// writers (the given `log_order` lock in `MemTable::put_batch`).
#[test]
fn concurrent_writers_of_one_key_leave_the_memtable_and_its_wal_agreeing() {
    const ROUNDS: usize = 20_000;
    let dir = temp_dir();
    let path = dir.path().join("00001.wal");
    let memtable = ok(
        MemTable::create_with_wal(1, &path),
        "MemTable::create_with_wal",
        BOOK_WAL,
    );
    let barrier = std::sync::Barrier::new(2);
    std::thread::scope(|s| {
        for value in [&b"first writer"[..], &b"second writer"[..]] {
            let (memtable, barrier) = (&memtable, &barrier);
            s.spawn(move || {
                for round in 0..ROUNDS {
                    barrier.wait();
                    let key = format!("key{round:05}");
                    ok(
                        memtable.put(key.as_bytes(), Some(value)),
                        "put from one of two concurrent writers",
                        BOOK_WAL,
                    );
                }
            });
        }
    });
    ok(memtable.sync_wal(), "sync_wal", BOOK_WAL);
    let (recovered, _) = ok(
        MemTable::recover_from_wal(2, &path),
        "MemTable::recover_from_wal",
        BOOK_WAL,
    );
    let differ: Vec<String> = (0..ROUNDS)
        .map(|round| format!("key{round:05}"))
        .filter(|key| memtable.get(key.as_bytes()) != recovered.get(key.as_bytes()))
        .collect();
    check_eq(
        differ.len(),
        0,
        &format!(
            "keys (of {ROUNDS}, each put by two writers at once) whose value after replaying the \
             WAL differs from the memtable's, e.g. {:?}",
            differ.first()
        ),
        BOOK_WAL,
    );
}

#[test]
fn manifest_records_round_trip_and_a_torn_last_record_is_dropped() {
    let dir = temp_dir();
    let path = dir.path().join("MANIFEST");
    let snapshot = TreeSnapshot {
        first_id: 7,
        next_id: 1001,
        memtables: vec![7, 9],
        l0: vec![6, 3],
        levels: vec![vec![], vec![2, 5], vec![]],
    };
    let records = vec![
        ManifestRecord::Snapshot(snapshot.clone()),
        ManifestRecord::NextId(2002),
        ManifestRecord::NewMemtable(1),
        ManifestRecord::NewMemtable(2),
        ManifestRecord::Flush(1),
        ManifestRecord::Compaction {
            level: 2,
            removed: vec![1, 3],
            added: vec![4, 5, 6],
        },
        // A compaction whose inputs were all tombstones adds nothing.
        ManifestRecord::Compaction {
            level: 4,
            removed: vec![4],
            added: Vec::new(),
        },
        ManifestRecord::NewMemtable(123_456_789),
    ];
    let manifest = ok(
        Manifest::create(&path, &snapshot),
        "Manifest::create",
        BOOK_MANIFEST,
    );
    for record in &records[1..] {
        ok(
            manifest.add_record(record),
            &format!("Manifest::add_record({record:?})"),
            BOOK_MANIFEST,
        );
    }
    drop(manifest);
    let recovery = ok(Manifest::recover(&path), "Manifest::recover", BOOK_MANIFEST);
    check_eq(
        (&recovery.records, &recovery.torn_tail),
        (&records, &None),
        "Manifest::recover of every record kind: (records, torn_tail)",
        BOOK_MANIFEST,
    );
    drop(recovery);
    let last = spans_of(&path, records.len())[records.len() - 1].clone();
    truncate(&path, last.end - 1);
    let recovery = ok(Manifest::recover(&path), "Manifest::recover", BOOK_MANIFEST);
    check_eq(
        &recovery.records,
        &records[..records.len() - 1].to_vec(),
        "Manifest::recover with the last record missing its last byte: records",
        BOOK_FRAMING,
    );
    let tails: Vec<TornTail> = recovery.torn_tail.into_iter().collect();
    check_torn_tail(
        &tails,
        "MANIFEST",
        last.start,
        last.len() - 1,
        "Manifest::recover with the last record missing its last byte",
    );
}

/// An intact record (both checksums right) whose payload breaks its format: a WAL batch too
/// short for its count, a manifest record with an unknown tag. Recovery reports
/// `Error::Corruption` at the bad byte's position in the *file* (the payload's offset from
/// `decode_records` plus the position within the payload), where a reader of the file finds it.
#[rstest]
#[case::wal_batch_too_short_for_its_count(true)]
#[case::manifest_record_with_an_unknown_tag(false)]
fn payload_that_does_not_decode_is_corruption_at_its_byte_in_the_file(#[case] wal: bool) {
    let dir = temp_dir();
    let (path, bad_payload, what) = if wal {
        let path = dir.path().join("00007.wal");
        let log = ok(Wal::create(&path), "Wal::create", BOOK_WAL);
        wal_put_batch(&log, &wal_entries(&[("a", Some("1"))]));
        ok(log.sync(), "Wal::sync", BOOK_WAL);
        drop(log);
        (path, vec![1u8, 0], "Wal::recover")
    } else {
        let path = dir.path().join("MANIFEST");
        let snapshot = TreeSnapshot {
            first_id: 1,
            next_id: 10,
            memtables: vec![1],
            l0: Vec::new(),
            levels: vec![Vec::new()],
        };
        let manifest = ok(
            Manifest::create(&path, &snapshot),
            "Manifest::create",
            BOOK_MANIFEST,
        );
        ok(
            manifest.add_record(&ManifestRecord::NewMemtable(2)),
            "Manifest::add_record(NewMemtable(2))",
            BOOK_MANIFEST,
        );
        drop(manifest);
        (path, vec![0xee], "Manifest::recover")
    };
    // The new record goes right after the last one, over any zeros preallocated after it.
    let record_start = spans_of(&path, 1).last().map_or(0, |span| span.end);
    let mut bytes = read_bytes(&path);
    bytes.truncate(record_start);
    encode_record(&bad_payload, record_start as u64, &mut bytes);
    write_bytes(&path, &bytes);
    let bad_byte = record_start + RECORD_HEADER_SIZE;
    let scenario = format!(
        "{what} of {} whose last record (at byte {record_start}) is intact but holds the payload \
         {}",
        name_of(&path),
        show(&bad_payload)
    );
    let result = if wal {
        Wal::recover(&path).map(|_| ())
    } else {
        Manifest::recover(&path).map(|_| ())
    };
    let book = if wal { BOOK_WAL } else { BOOK_MANIFEST };
    match result {
        Err(Error::Corruption {
            file: Some(file),
            offset,
            ..
        }) if file == path && offset == bad_byte as u64 => {}
        other => fail(
            &scenario,
            format!(
                "Err(Corruption {{ file: Some({}), offset: {bad_byte}, .. }}): the payload starts \
                 at byte {bad_byte} of the file",
                name_of(&path)
            ),
            other,
            book,
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// Recovery on open
// ---------------------------------------------------------------------------------------------

const W: Step = Step::Write(40);

#[rstest]
#[case::active_memtable_only(&[W])]
#[case::active_and_frozen_memtables(&[W, Step::Freeze, W, Step::Freeze, W])]
#[case::after_flush(&[W, Step::Flush, W, Step::Flush])]
#[case::flushed_frozen_and_active(&[W, Step::Flush, W, Step::Freeze, W])]
#[case::after_full_compaction(&[W, Step::Flush, W, Step::Flush, Step::FullCompaction])]
#[case::compaction_then_more_writes(
    &[W, Step::Flush, W, Step::Flush, W, Step::Flush, Step::FullCompaction, W, Step::Flush, W]
)]
#[case::after_compact_until_idle(&[
    W, Step::Flush, W, Step::Flush, W, Step::Flush, W, Step::Flush, W, Step::Flush,
    Step::CompactUntilIdle, W, Step::Flush, W, Step::Freeze, W,
])]
fn reopen_restores_data_and_tree_shape(#[case] steps: &[Step]) {
    let dir = temp_dir();
    let (db, model) = build(dir.path(), steps, 6);
    let scenario = format!("reopen after {steps:?}");
    check_model(
        &db,
        &model,
        &format!("{scenario}, before close"),
        BOOK_RECOVERY,
    );
    let before = db.shape();
    let compacted = steps
        .iter()
        .any(|s| matches!(s, Step::FullCompaction | Step::CompactUntilIdle));
    check_eq(
        before.levels.iter().any(|l| !l.ssts.is_empty()),
        compacted,
        &format!("{scenario}: the setup leaves SSTs below L0 exactly when it compacts\n{before}"),
        BOOK_RECOVERY,
    );
    let db = reopen(db, dir.path(), &scenario);
    check_model(&db, &model, &scenario, BOOK_RECOVERY);
    check_shape_restored(&before, &db, &scenario);
}

#[test]
fn several_open_close_cycles_keep_data_and_shape() {
    let dir = temp_dir();
    let (mut db, mut model) = build(dir.path(), &[], 0);
    let mut rng = Rng::new(66);
    let choices = [
        Step::Write(30),
        Step::Write(5),
        Step::Freeze,
        Step::Flush,
        Step::FullCompaction,
        Step::CompactUntilIdle,
    ];
    let mut history = Vec::new();
    for cycle in 0..8 {
        for _ in 0..4 {
            let step = choices[rng.below(choices.len())];
            history.push(step);
            apply(&db, &mut model, &mut rng, step);
        }
        let scenario = format!("open/close cycle {cycle} after {history:?}");
        let before = db.shape();
        db = reopen(db, dir.path(), &scenario);
        check_model(&db, &model, &scenario, BOOK_RECOVERY);
        check_shape_restored(&before, &db, &scenario);
    }
}

#[test]
fn recovered_memtables_flush_like_any_other_and_their_wals_are_deleted() {
    let dir = temp_dir();
    let (db, model) = build(dir.path(), &[W, Step::Freeze, W], 8);
    let scenario = "two memtables recovered, then force_flush";
    let db = reopen(db, dir.path(), scenario);
    ok(db.force_flush(), scenario, BOOK_DURABILITY);
    let shape = db.shape();
    check_eq(
        (shape.l0.len(), shape.immutable_memtables.len()),
        (2, 0),
        &format!("{scenario}: (L0 SSTs, immutable memtables)\n{shape}"),
        BOOK_DURABILITY,
    );
    check_model(&db, &model, scenario, BOOK_DURABILITY);
    let wals: Vec<String> = files_with_ext(dir.path(), "wal")
        .iter()
        .map(|(_, p)| name_of(p))
        .collect();
    check_eq(
        wals.len(),
        1,
        &format!("{scenario}: WAL files left ({wals:?}); only the new memtable's may remain"),
        BOOK_DURABILITY,
    );
    let before = db.shape();
    let db = reopen(db, dir.path(), scenario);
    check_model(&db, &model, &format!("{scenario}, reopened"), BOOK_RECOVERY);
    check_shape_restored(&before, &db, &format!("{scenario}, reopened"));
}

/// Every SST and memtable id in `shape`.
fn ids_in(shape: &TreeShape) -> Vec<usize> {
    let memtables = std::iter::once(&shape.memtable).chain(&shape.immutable_memtables);
    let levels = shape.levels.iter().flat_map(|level| &level.ssts);
    memtables
        .map(|m| m.id)
        .chain(shape.l0.iter().chain(levels).map(|sst| sst.id))
        .collect()
}

/// A compaction's outputs take ids above every memtable flushed so far, and the manifest names
/// them only in its compaction record. Recovery must restore the id counter above them too: a
/// reopened engine that hands out an id a compaction output already has would give a newer
/// memtable an older-looking id, and its flush would overwrite (or fail to create) a live SST.
#[test]
fn ids_handed_out_after_a_reopen_are_above_every_compaction_output() {
    let dir = temp_dir();
    let steps = [
        W,
        Step::Flush,
        W,
        Step::Flush,
        W,
        Step::Flush,
        Step::FullCompaction,
    ];
    let (db, mut model) = build(dir.path(), &steps, 21);
    let before = db.shape();
    let outputs: Vec<usize> = before
        .levels
        .iter()
        .flat_map(|level| level.ssts.iter().map(|sst| sst.id))
        .collect();
    let scenario = format!("{steps:?}, then close and reopen");
    check_eq(
        outputs.is_empty(),
        false,
        &format!("{scenario}: the full compaction left SSTs below L0 (the setup)\n{before}"),
        BOOK_RECOVERY,
    );
    let used_before = ids_in(&before).into_iter().max().unwrap_or(0);
    let mut db = reopen(db, dir.path(), &scenario);
    let after = db.shape();
    if after.memtable.id <= used_before {
        fail(
            &format!(
                "{scenario}: the new memtable's id (ids say how old things are, and no file \
                 reuses one)\n-- before close --\n{before}-- after reopen --\n{after}"
            ),
            Raw(format!(
                "an id above {used_before}, the largest before close (compaction outputs \
                 {outputs:?})"
            )),
            after.memtable.id,
            BOOK_RECOVERY,
        );
    }
    // More flushes on the reopened engine: each new memtable and SST gets an id above every id
    // used so far.
    let mut rng = Rng::new(22);
    let mut previous = ids_in(&after);
    let mut largest = previous.iter().copied().max().unwrap_or(0).max(used_before);
    for round in 0..3 {
        random_writes(&db, &mut model, &mut rng, 40);
        let step = format!("{scenario}, then writes and flush {round}");
        ok(db.force_flush(), &step, BOOK_RECOVERY);
        let shape = db.shape();
        let ids = ids_in(&shape);
        let not_above: Vec<usize> = ids
            .iter()
            .copied()
            .filter(|id| !previous.contains(id) && *id <= largest)
            .collect();
        check_eq(
            not_above,
            Vec::new(),
            &format!("{step}: new ids not above {largest}, the largest used before\n{shape}"),
            BOOK_RECOVERY,
        );
        largest = largest.max(ids.iter().copied().max().unwrap_or(0));
        previous = ids;
    }
    ok(db.force_full_compaction(), &scenario, BOOK_RECOVERY);
    check_model(
        &db,
        &model,
        &format!("{scenario}, three flushes and a compaction"),
        BOOK_RECOVERY,
    );
    db = reopen(db, dir.path(), &scenario);
    check_model(
        &db,
        &model,
        &format!("{scenario}, three flushes, a compaction and another reopen"),
        BOOK_RECOVERY,
    );
}

/// `delete_wal` finds the WAL of the memtable it just flushed already gone (removed by hand,
/// say). The manifest has recorded the flush, so the flush is complete: it succeeds, and the
/// data is served, also after a reopen.
#[test]
fn flush_succeeds_when_the_memtables_wal_is_already_gone() {
    let dir = temp_dir();
    let (db, model) = build(dir.path(), &[W, Step::Freeze], 31);
    let shape = db.shape();
    let frozen: Vec<usize> = shape.immutable_memtables.iter().map(|m| m.id).collect();
    let scenario =
        format!("frozen memtables {frozen:?}, their WAL removed by hand, then force_flush");
    check_eq(
        frozen.len(),
        1,
        &format!("{scenario}: frozen memtables after a write and a freeze\n{shape}"),
        BOOK_DURABILITY,
    );
    let wal = files_with_ext(dir.path(), "wal")
        .into_iter()
        .find(|(id, _)| *id == frozen[0])
        .map(|(_, path)| path)
        .unwrap_or_else(|| {
            fail(
                &scenario,
                format!("a WAL file of memtable {}", frozen[0]),
                "none in the directory",
                BOOK_WAL,
            )
        });
    io(
        std::fs::remove_file(&wal),
        "remove the frozen memtable's WAL",
    );
    ok(db.force_flush(), &scenario, BOOK_DURABILITY);
    check_model(&db, &model, &scenario, BOOK_DURABILITY);
    let db = reopen(db, dir.path(), &scenario);
    check_model(
        &db,
        &model,
        &format!("{scenario}, then close and reopen"),
        BOOK_RECOVERY,
    );
}

/// `write_batch(&[])` is a no-op: `Ok`, and with the WAL on it writes no record either (a record
/// holds at least one entry).
#[test]
fn empty_write_batch_writes_no_wal_record() {
    let dir = temp_dir();
    let (db, model) = build(dir.path(), &[W], 33);
    ok(db.sync(), "sync after 40 writes", BOOK_WAL);
    let wal = newest_wal(dir.path(), "40 writes, then sync");
    let before = read_bytes(&wal);
    let scenario = "write_batch(&[]) then sync";
    ok(db.write_batch::<&[u8], &[u8]>(&[]), scenario, BOOK_WAL);
    ok(db.sync(), scenario, BOOK_WAL);
    // The bytes, not the length: a record written over the zeros preallocated after the last
    // one would leave the length as it was.
    check_eq(
        read_bytes(&wal) == before,
        true,
        &format!(
            "{scenario}: {} unchanged (no record written)",
            name_of(&wal)
        ),
        BOOK_WAL,
    );
    let db = reopen(db, dir.path(), scenario);
    check_model(
        &db,
        &model,
        &format!("{scenario}, close and reopen"),
        BOOK_RECOVERY,
    );
}

#[rstest]
#[case::delete_after_flush(&[Step::Put(1, 1), Step::Flush, Step::Delete(1)], None)]
#[case::overwrite_after_flush(&[Step::Put(1, 1), Step::Flush, Step::Put(1, 2)], Some(2))]
#[case::delete_flushed_over_a_flushed_value(
    &[Step::Put(1, 1), Step::Flush, Step::Delete(1), Step::Flush],
    None
)]
#[case::delete_after_compaction(
    &[Step::Put(1, 1), Step::Flush, Step::FullCompaction, Step::Delete(1)],
    None
)]
#[case::delete_in_a_frozen_memtable_then_overwrite(
    &[Step::Put(1, 1), Step::Flush, Step::Delete(1), Step::Freeze, Step::Put(1, 3)],
    Some(3)
)]
fn recovery_never_brings_back_a_value_replaced_after_a_flush(
    #[case] steps: &[Step],
    #[case] generation: Option<usize>,
) {
    let dir = temp_dir();
    let (mut db, model) = build(dir.path(), steps, 0);
    let expected = generation.map(|g| value(1, g));
    for round in 1..=2 {
        let scenario = format!("{steps:?}, then close and reopen (round {round})");
        db = reopen(db, dir.path(), &scenario);
        let actual = ok(db.get(&key(1)), &scenario, BOOK_RECOVERY);
        check_get(actual, expected.as_deref(), &scenario, BOOK_RECOVERY);
        check_model(&db, &model, &scenario, BOOK_RECOVERY);
    }
}

#[test]
fn sync_with_the_wal_does_not_flush_and_a_copy_taken_after_it_recovers_everything() {
    let dir = temp_dir();
    let (db, model) = build(dir.path(), &[W, Step::Put(70, 1), Step::Delete(70)], 9);
    let before = db.shape();
    ok(db.sync(), "sync with the WAL on", BOOK_WAL);
    let scenario = "sync with the WAL on";
    check_eq(
        db.shape(),
        before,
        &format!("{scenario}: the tree's shape (no freeze, no flush)"),
        BOOK_WAL,
    );
    check_eq(
        (db.stats().flushes, files_with_ext(dir.path(), "sst").len()),
        (0, 0),
        &format!("{scenario}: (flushes, SST files)"),
        BOOK_WAL,
    );
    // A copy of the directory taken now is what a crash right after `sync` would leave.
    let image = copy_dir(dir.path());
    let recovered = open(image.path(), "a copy of the directory taken after sync");
    let scenario = "a copy of the directory taken after sync, reopened";
    check_model(&recovered, &model, scenario, BOOK_WAL);
    check_eq(
        recovered.recovery_report().memtables_recovered,
        1,
        &format!("{scenario}: recovery_report().memtables_recovered"),
        BOOK_WAL,
    );
    check_model(&db, &model, "the original engine after sync", BOOK_WAL);
}

// ---------------------------------------------------------------------------------------------
// One durable step at a time: a power loss during, or right after, one operation
// ---------------------------------------------------------------------------------------------

const BOOK_FLUSH_STEPS: &str = "day6-recovery.md#a-flush";
const BOOK_NEW_MEMTABLE_STEPS: &str = "day6-recovery.md#a-new-memtable";

/// The steps of a flush, in the order the book gives them: the hint of a failed flush test.
const FLUSH_ORDER: &str = "a flush is: fsync the SST, fsync the directory, append and fsync \
     Flush(id) (Manifest::add_record syncs), then delete the WAL, fsync the directory";

/// When the power goes off in [`lose_power_in_step`].
#[derive(Debug, Clone, Copy)]
enum PowerOff {
    /// At the n-th durable operation of the step (1 for its first).
    AtOperation(u64),
    /// Right after the step returned `Ok`.
    AfterIt,
    /// Never: the run only counts the step's durable operations.
    Never,
}

/// What a power loss during one step left.
struct StepRun {
    /// The data after every write, all of which `setup` made durable with `sync`.
    model: Model,
    /// The durable operations the step ran (before the power loss, if any).
    ops: u64,
    /// Where the power was lost, with the directory's path left out ("fsync of MANIFEST").
    lost_at: String,
    /// The directory as the power loss left it; `None` for [`PowerOff::Never`].
    image: Option<PathBuf>,
    _work: tempfile::TempDir,
}

/// Opens an engine (the power-loss options) in a tracked directory, runs `setup` (whose writes
/// end with a `sync`: all of them are durable), then `step`, and loses power as `off` says.
/// The engine is dropped before this returns.
fn lose_power_in_step(
    setup: impl Fn(&MiniLsm, &mut Model),
    step: impl Fn(&MiniLsm) -> lsm::Result<()>,
    step_name: &str,
    off: PowerOff,
) -> StepRun {
    let (work, dir, image) = power_loss_dir();
    let db = ok(
        MiniLsm::open(&dir, power_loss_options()),
        &format!("{step_name}: open"),
        BOOK_POWER_LOSS,
    );
    let mut model = Model::new();
    setup(&db, &mut model);
    ok(db.sync(), &format!("{step_name}: sync"), BOOK_POWER_LOSS);
    match off {
        PowerOff::AtOperation(at) => {
            power_loss::arm(at, &image, at, AfterPowerLoss::FailEverything);
            // The power goes off inside the step, which then fails: nothing to check there.
            let _ = step(&db);
        }
        PowerOff::AfterIt | PowerOff::Never => {
            power_loss::arm(u64::MAX, &image, 0, AfterPowerLoss::FailEverything);
            ok(step(&db), step_name, BOOK_POWER_LOSS);
        }
    }
    let ops = power_loss::ops();
    if let PowerOff::AfterIt = off {
        power_loss::arm(1, &image, 0, AfterPowerLoss::FailEverything);
        // The power goes off before this directory sync runs: it only marks the moment.
        let _ = tests_day1_to_day7::lsm::fs::sync_dir(&dir);
    }
    // "fsync of /tmp/…/db/MANIFEST" reads "fsync of MANIFEST", "fsync of directory /tmp/…/db"
    // reads "fsync of directory".
    let (in_dir, dir_itself) = (format!("{}/", dir.display()), format!(" {}", dir.display()));
    let lost_at = power_loss::lost_at().map_or_else(
        || "right after it".into(),
        |op| op.replace(&in_dir, "").replace(&dir_itself, ""),
    );
    power_loss::stop();
    drop(db);
    let image = match off {
        PowerOff::Never => None,
        _ if image.exists() => Some(image),
        _ => fail(
            &format!("{step_name}, power lost {lost_at}"),
            "an image of the directory at the power loss",
            format!("none: the step ran {ops} durable operations through crate::fs"),
            BOOK_POWER_LOSS,
        ),
    };
    StepRun {
        model,
        ops,
        lost_at,
        image,
        _work: work,
    }
}

/// Opens the image of `run` and checks it holds every write of the model (all were synced).
/// `hint` (the steps the operation must take, in order) goes on the message's second line.
#[track_caller]
fn check_power_loss_image(run: &StepRun, scenario: &str, hint: &str, book: &str) {
    let Some(image) = &run.image else {
        unreachable!("a run that lost power has an image");
    };
    let db = match MiniLsm::open(image, power_loss_options()) {
        Ok(db) => db,
        Err(e) => {
            let prefix = format!("{}/", image.display());
            fail(
                &format!("{scenario}: open the image\n{hint}"),
                "Ok(every synced write)",
                format!("Err({})", e.to_string().replace(&prefix, "")),
                book,
            )
        }
    };
    let read = scan_all(&db, scenario);
    if read != run.model {
        let lost: Vec<String> = run
            .model
            .iter()
            .filter(|(k, v)| read.get(*k) != Some(*v))
            .take(3)
            .map(|(k, _)| show(k))
            .collect();
        fail(
            &format!(
                "{scenario}: synced writes lost ({} ...)\n{hint}",
                lost.join(", ")
            ),
            format!("all {} keys written and synced", run.model.len()),
            format!("{} keys read back", read.len()),
            book,
        );
    }
    close(db, scenario);
}

/// Seeded writes of `n` keys, each a single put (so that any lost write shows as a key).
fn puts(db: &MiniLsm, model: &mut Model, first: usize, n: usize, generation: usize) {
    for i in first..first + n {
        write_batch(
            db,
            model,
            &[WriteBatchRecord::Put(key(i), value(i, generation))],
        );
    }
}

/// The durable step a power loss tests, in [`a_power_loss_at_one_durable_step_keeps_every_synced_write`].
#[derive(Debug, Clone, Copy)]
enum DurableStep {
    /// Power lost at each durable operation of a flush in turn.
    EachOperationOfAFlush,
    /// Power lost right after `force_flush` returned.
    RightAfterAFlush,
    /// Power lost right after a `sync` of writes into the memtable a freeze created.
    SyncIntoTheWalAFreezeCreated,
}

/// A power loss during one durable step, or right after it, loses no synced write, and the
/// directory opens. A flush: deleting the WAL before the `Flush` record is durable fails
/// `each_operation_of_a_flush` (the power goes off between the two, the manifest still calls the
/// memtable unflushed and its WAL is gone); a `Flush` record appended but not fsynced fails
/// `right_after_a_flush`. A new memtable: its WAL's *name* is durable only once the directory was
/// fsynced after the file was created (`new_memtable`), so without that sync
/// `sync_into_the_wal_a_freeze_created` loses every write `sync` acknowledged in it.
#[rstest]
#[case::each_operation_of_a_flush(DurableStep::EachOperationOfAFlush)]
#[case::right_after_a_flush(DurableStep::RightAfterAFlush)]
#[case::sync_into_the_wal_a_freeze_created(DurableStep::SyncIntoTheWalAFreezeCreated)]
fn a_power_loss_at_one_durable_step_keeps_every_synced_write(#[case] step: DurableStep) {
    let _scenario = Scenario::start();
    let twenty_puts = |db: &MiniLsm, model: &mut Model| puts(db, model, 0, 20, 1);
    let flush = |db: &MiniLsm| db.force_flush();
    match step {
        DurableStep::EachOperationOfAFlush => {
            let total = lose_power_in_step(twenty_puts, flush, "force_flush", PowerOff::Never).ops;
            for at in 1..=total {
                let off = PowerOff::AtOperation(at);
                let run = lose_power_in_step(twenty_puts, flush, "force_flush", off);
                let scenario = format!(
                    "20 synced puts, force_flush, power lost at its durable step {at} of {total} \
                     ({})",
                    run.lost_at
                );
                check_power_loss_image(&run, &scenario, FLUSH_ORDER, BOOK_FLUSH_STEPS);
            }
        }
        DurableStep::RightAfterAFlush => {
            let run = lose_power_in_step(twenty_puts, flush, "force_flush", PowerOff::AfterIt);
            check_power_loss_image(
                &run,
                "20 synced puts, force_flush, then power lost at once",
                "every manifest record must be durable when add_record returns: \
                 Manifest::append_and_sync appends it, then flushes and fsyncs the file \
                 (RecordWriter::sync)",
                BOOK_FLUSH_STEPS,
            );
        }
        DurableStep::SyncIntoTheWalAFreezeCreated => {
            let setup = |db: &MiniLsm, model: &mut Model| {
                puts(db, model, 0, 10, 1);
                ok(
                    db.force_freeze_memtable(),
                    "force_freeze_memtable",
                    BOOK_NEW_MEMTABLE_STEPS,
                );
                puts(db, model, 10, 10, 1);
            };
            // The step is the setup's final sync; the power goes off right after it.
            let run =
                lose_power_in_step(setup, |_| Ok(()), "freeze, puts, sync", PowerOff::AfterIt);
            check_power_loss_image(
                &run,
                "10 puts, force_freeze_memtable, 10 puts into the new memtable, sync, power lost",
                "a new memtable is: create its WAL, fsync the directory, then append \
                 NewMemtable(id)",
                BOOK_NEW_MEMTABLE_STEPS,
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Torn and corrupted WAL and manifest records
// ---------------------------------------------------------------------------------------------

/// For every cut of the file `file` of `dir` inside `span` (`span.start..=span.end` when
/// `include_ends`, else only strictly inside): truncates a fresh copy of `dir` there and calls
/// `check` with the copy and the cut.
fn for_each_cut(
    dir: &Path,
    file: &str,
    span: &Range<usize>,
    include_ends: bool,
    mut check: impl FnMut(&Path, usize),
) {
    let cuts = if include_ends {
        span.start..span.end + 1
    } else {
        span.start + 1..span.end
    };
    for cut in cuts {
        let copy = copy_dir(dir);
        truncate(&copy.path().join(file), cut);
        check(copy.path(), cut);
    }
}

#[test]
fn a_write_batch_is_recovered_whole_or_not_at_all_at_every_cut() {
    let dir = temp_dir();
    let (db, before_batch) = build(
        dir.path(),
        &[Step::Put(0, 1), Step::Put(1, 1), Step::Put(2, 1)],
        0,
    );
    let mut with_batch = before_batch.clone();
    let batch = [
        WriteBatchRecord::Put(key(10), value(10, 1)),
        WriteBatchRecord::Delete(key(1)),
        WriteBatchRecord::Put(key(11), Vec::new()),
        WriteBatchRecord::Put(key(0), value(0, 2)),
    ];
    write_batch(&db, &mut with_batch, &batch);
    close(db, "write a batch, then close");
    let wal = newest_wal(dir.path(), "write a batch, then close");
    let wal_name = name_of(&wal);
    let last = spans_of(&wal, 4)[3].clone();
    for_each_cut(dir.path(), &wal_name, &last, true, |copy, cut| {
        let scenario = format!(
            "{wal_name} cut at byte {cut}; the batch's record is bytes {}..{}",
            last.start, last.end
        );
        let db = open(copy, &scenario);
        let expected = if cut == last.end {
            &with_batch
        } else {
            &before_batch
        };
        check_model(&db, expected, &scenario, BOOK_WAL);
        let tails = &db.recovery_report().torn_tails;
        if cut == last.start || cut == last.end {
            check_no_torn_tail(&db, &scenario, BOOK_FRAMING);
        } else {
            check_torn_tail(tails, &wal_name, last.start, cut - last.start, &scenario);
        }
    });
}

#[test]
fn torn_last_wal_record_is_dropped_at_every_cut_and_later_writes_survive() {
    let dir = temp_dir();
    let steps = [
        Step::Put(0, 1),
        Step::Put(1, 1),
        Step::Put(2, 1),
        Step::Put(3, 1),
    ];
    let (db, mut model) = build(dir.path(), &steps, 0);
    close(db, "four single puts, then close");
    model.remove(&key(3));
    let wal = newest_wal(dir.path(), "four single puts, then close");
    let wal_name = name_of(&wal);
    let last = spans_of(&wal, 4)[3].clone();
    for_each_cut(dir.path(), &wal_name, &last, false, |copy, cut| {
        let scenario = format!(
            "{wal_name} cut at byte {cut}, inside its last record (bytes {}..{})",
            last.start, last.end
        );
        let db = open(copy, &scenario);
        check_model(&db, &model, &scenario, BOOK_FRAMING);
        let tails = &db.recovery_report().torn_tails;
        check_torn_tail(tails, &wal_name, last.start, cut - last.start, &scenario);
        let steps = [Step::Put(9, 2), Step::Flush];
        write_and_reopen_cleanly(db, copy, &model, &steps, &scenario, BOOK_FRAMING);
    });
}

/// Zeros after a WAL's last record are what its writer preallocates: an open reads every
/// record, reports no torn tail (nothing was lost), and leaves the file alone. One byte that is
/// not zero after them means something was written there: a torn tail.
#[rstest]
#[case::fewer_zeros_than_a_header(5, false)]
#[case::a_zeroed_header(12, false)]
#[case::a_zeroed_page(4096, false)]
#[case::a_zeroed_page_then_a_byte(4096, true)]
fn zeros_after_the_last_wal_record_end_it_without_a_torn_tail(
    #[case] zeros: usize,
    #[case] then_a_byte: bool,
) {
    let dir = temp_dir();
    let (db, model) = build(dir.path(), &[Step::Write(20)], 3);
    close(db, "writes, then close");
    let wal = newest_wal(dir.path(), "writes, then close");
    let records_end = spans_of(&wal, 1).last().map_or(0, |span| span.end);
    let mut bytes = read_bytes(&wal);
    bytes.truncate(records_end);
    bytes.resize(records_end + zeros, 0);
    if then_a_byte {
        bytes.push(1);
    }
    write_bytes(&wal, &bytes);
    let scenario = format!(
        "{} cut after its last record, then {zeros} zero bytes{}",
        name_of(&wal),
        if then_a_byte {
            " and one byte 0x01"
        } else {
            ""
        }
    );
    let db = open(dir.path(), &scenario);
    check_model(&db, &model, &scenario, BOOK_FRAMING);
    if then_a_byte {
        let tails = &db.recovery_report().torn_tails;
        check_torn_tail(tails, &name_of(&wal), records_end, zeros + 1, &scenario);
    } else {
        check_no_torn_tail(&db, &scenario, BOOK_FRAMING);
    }
}

/// The engine's own WAL after a sync: zeros follow its records (the given `RecordWriter`
/// preallocates them, so that the next syncs commit no new file size), and a reopen reads
/// every write back with no torn tail.
#[test]
fn a_synced_wal_ends_in_preallocated_zeros_and_reopens_without_a_torn_tail() {
    let dir = temp_dir();
    let (db, model) = build(dir.path(), &[W], 41);
    let scenario = "40 writes, then sync";
    ok(db.sync(), scenario, BOOK_WAL);
    let wal = newest_wal(dir.path(), scenario);
    let records_end = spans_of(&wal, 1).last().map_or(0, |span| span.end);
    let bytes = read_bytes(&wal);
    check_eq(
        bytes.len() > records_end && bytes[records_end..].iter().all(|&b| b == 0),
        true,
        &format!(
            "{scenario}: {} is {} bytes, its records end at {records_end}: zeros after them",
            name_of(&wal),
            bytes.len()
        ),
        BOOK_FRAMING,
    );
    let scenario = "40 writes, sync, then close and reopen";
    let db = reopen(db, dir.path(), scenario);
    check_model(&db, &model, scenario, BOOK_RECOVERY);
    check_no_torn_tail(&db, scenario, BOOK_FRAMING);
}

#[rstest]
#[case::payload_byte_of_the_first_record(0, RECORD_HEADER_SIZE)]
#[case::length_of_the_first_record(0, 0)]
#[case::synced_field_of_the_first_record(0, 8)]
#[case::payload_checksum_of_the_first_record(0, 16)]
#[case::payload_byte_of_a_middle_record(1, RECORD_HEADER_SIZE + 5)]
fn corrupted_wal_record_before_the_last_fails_open_with_corruption(
    #[case] record: usize,
    #[case] byte: usize,
) {
    let dir = temp_dir();
    let steps = [Step::Put(0, 1), Step::Put(1, 1), Step::Put(2, 1)];
    let (db, _) = build(dir.path(), &steps, 0);
    close(db, "three single puts, then close");
    let wal = newest_wal(dir.path(), "three single puts, then close");
    let span = spans_of(&wal, 3)[record].clone();
    flip_byte(&wal, span.start + byte);
    let scenario = format!(
        "byte {byte} of record {record} of 3 in {} flipped",
        name_of(&wal)
    );
    check_open_is_corruption(
        dir.path(),
        &name_of(&wal),
        span.start,
        &scenario,
        BOOK_FRAMING,
    );
}

/// A tree with SSTs, a frozen and an active memtable, closed, reopened (which writes a new
/// manifest: a snapshot), changed again and closed: the manifest's records after the snapshot
/// end with the `NewMemtable` of a memtable that then took writes.
fn tree_for_manifest_tests(dir: &Path) -> (Model, TreeShape) {
    let scenario = "build a tree for the manifest tests";
    let (db, mut model) = build(dir, &[W, Step::Flush, W, Step::Freeze, W], 10);
    let db = reopen(db, dir, scenario);
    let mut rng = Rng::new(11);
    for step in [W, Step::Flush, W, Step::Freeze, W] {
        apply(&db, &mut model, &mut rng, step);
    }
    let shape = db.shape();
    close(db, scenario);
    (model, shape)
}

/// The manifest's last record names the newest memtable, which then took writes that were
/// synced. A torn record is ignored, but its memtable's WAL must still be replayed: recovery
/// finds WALs by listing the directory, not by trusting the manifest to name them all.
#[test]
fn torn_last_manifest_record_loses_no_write_of_the_memtable_it_named() {
    let dir = temp_dir();
    let (model, before) = tree_for_manifest_tests(dir.path());
    let manifest = dir.path().join("MANIFEST");
    let records = ok(
        Manifest::recover(&manifest),
        "Manifest::recover of the manifest tests' tree",
        BOOK_MANIFEST,
    )
    .records;
    check_eq(
        records.last(),
        Some(&ManifestRecord::NewMemtable(before.memtable.id)),
        &format!(
            "the last MANIFEST record after a freeze made memtable {} (new_memtable records \
             every memtable it makes)",
            before.memtable.id
        ),
        BOOK_NEW_MEMTABLE_STEPS,
    );
    let spans = spans_of(&manifest, 3);
    let last = spans[spans.len() - 1].clone();
    for_each_cut(dir.path(), "MANIFEST", &last, false, |copy, cut| {
        let scenario = format!(
            "MANIFEST cut at byte {cut}, inside its last record (bytes {}..{}), which records \
             the memtable the last writes went to",
            last.start, last.end
        );
        let db = open(copy, &scenario);
        check_model(&db, &model, &scenario, BOOK_MANIFEST);
        let shape = db.shape();
        check_eq(
            (&shape.l0, &shape.levels),
            (&before.l0, &before.levels),
            &format!("{scenario}: (L0, levels)"),
            BOOK_MANIFEST,
        );
        let tails = &db.recovery_report().torn_tails;
        check_torn_tail(tails, "MANIFEST", last.start, cut - last.start, &scenario);
        let steps = [Step::Put(KEYS - 1, 7), Step::Flush];
        write_and_reopen_cleanly(db, copy, &model, &steps, &scenario, BOOK_MANIFEST);
    });
}

#[rstest]
#[case::payload_byte_of_the_first_record(0, RECORD_HEADER_SIZE)]
#[case::id_byte_of_the_second_record(1, RECORD_HEADER_SIZE + 1)]
#[case::header_checksum_of_the_first_record(0, 12)]
fn corrupted_manifest_record_before_the_last_fails_open_with_corruption(
    #[case] record: usize,
    #[case] byte: usize,
) {
    let dir = temp_dir();
    tree_for_manifest_tests(dir.path());
    let manifest = dir.path().join("MANIFEST");
    let span = spans_of(&manifest, 3)[record].clone();
    flip_byte(&manifest, span.start + byte);
    let scenario = format!("byte {byte} of MANIFEST record {record} flipped");
    check_open_is_corruption(dir.path(), "MANIFEST", span.start, &scenario, BOOK_MANIFEST);
}

// ---------------------------------------------------------------------------------------------
// Orphans, missing files, the lock
// ---------------------------------------------------------------------------------------------

/// A file left in the directory outside the tree, and what the deletion rule makes of it.
#[derive(Debug, Clone, Copy)]
enum Planted {
    /// A copy of the oldest SST (older values of its keys) under an id the manifest reserved
    /// but the tree does not use: a compaction output that never committed. Garbage.
    UncommittedSst,
    /// An empty WAL above every flushed memtable: it replays to nothing. Garbage.
    EmptyWal,
    /// `99999.sst`, not an SST at all, under an id the manifest never reserved: not the
    /// engine's doing, so kept and reported, and never read.
    UnreservedSst,
}

impl Planted {
    fn is_garbage(self) -> bool {
        !matches!(self, Planted::UnreservedSst)
    }
}

/// The largest id among the SSTs and WALs of `dir`.
fn largest_id(dir: &Path) -> usize {
    let ids = files_with_ext(dir, "sst")
        .into_iter()
        .chain(files_with_ext(dir, "wal"));
    ids.map(|(id, _)| id).max().unwrap_or(0)
}

/// Puts `planted` in `dir`; returns its file name.
fn plant(dir: &Path, planted: Planted) -> String {
    let name = match planted {
        Planted::UncommittedSst => format!("{:05}.sst", largest_id(dir) + 1),
        Planted::EmptyWal => format!("{:05}.wal", largest_id(dir) + 1),
        Planted::UnreservedSst => "99999.sst".to_string(),
    };
    let path = dir.join(&name);
    match planted {
        Planted::UncommittedSst => {
            let ssts = files_with_ext(dir, "sst");
            let Some((_, oldest)) = ssts.first() else {
                fail(
                    "find an SST to copy",
                    "at least one SST",
                    ssts,
                    BOOK_ORPHANS,
                );
            };
            io(std::fs::copy(oldest, &path), "copy an SST");
        }
        Planted::EmptyWal => write_bytes(&path, b""),
        Planted::UnreservedSst => write_bytes(&path, b"not an SST at all, just some bytes"),
    }
    name
}

#[rstest]
#[case::uncommitted_sst(&[Planted::UncommittedSst])]
#[case::empty_wal(&[Planted::EmptyWal])]
#[case::unreserved_sst(&[Planted::UnreservedSst])]
#[case::all_of_them(&[Planted::UncommittedSst, Planted::EmptyWal, Planted::UnreservedSst])]
fn only_files_the_manifest_proves_garbage_are_removed(#[case] planted: &[Planted]) {
    let dir = temp_dir();
    let steps = [
        Step::Put(0, 1),
        Step::Put(1, 1),
        Step::Write(30),
        Step::Flush,
        Step::Put(0, 2),
        Step::Put(1, 2),
        Step::Flush,
        Step::Write(10),
    ];
    let (db, model) = build(dir.path(), &steps, 12);
    let before = db.shape();
    close(db, "build a tree");
    let names: Vec<String> = planted.iter().map(|&p| plant(dir.path(), p)).collect();
    let scenario = format!("reopen with {planted:?} planted as {names:?}");
    let db = open(dir.path(), &scenario);
    let report = db.recovery_report();
    let removed: Vec<String> = report.orphans_removed.iter().map(|p| name_of(p)).collect();
    let kept: Vec<String> = report.unexplained_kept.iter().map(|p| name_of(p)).collect();
    for (name, &what) in names.iter().zip(planted) {
        let garbage = what.is_garbage();
        check_eq(
            (
                removed.contains(name),
                kept.contains(name),
                dir.path().join(name).exists(),
            ),
            (garbage, !garbage, !garbage),
            &format!(
                "{scenario}: {name} ({what:?}) as (in orphans_removed {removed:?}, in \
                 unexplained_kept {kept:?}, still on disk)"
            ),
            BOOK_ORPHANS,
        );
    }
    check_model(&db, &model, &scenario, BOOK_ORPHANS);
    check_shape_restored(&before, &db, &scenario);
    // A file kept once is kept at every later open: reopening must not start counting it as
    // the engine's.
    let scenario = format!("{scenario}, then close and reopen again");
    let db = reopen(db, dir.path(), &scenario);
    for (name, _) in names.iter().zip(planted).filter(|(_, p)| !p.is_garbage()) {
        let kept: Vec<String> = (db.recovery_report().unexplained_kept.iter())
            .map(|p| name_of(p))
            .collect();
        check_eq(
            (kept.contains(name), dir.path().join(name).exists()),
            (true, true),
            &format!("{scenario}: {name} as (in unexplained_kept {kept:?}, still on disk)"),
            BOOK_ORPHANS,
        );
    }
    check_model(&db, &model, &scenario, BOOK_ORPHANS);
}

/// A crash between the manifest's Flush record and the WAL's deletion leaves the WAL of an
/// already flushed memtable on disk. Recovery must treat it as an orphan: replaying it would put
/// the memtable's old entries back on top of everything written after the flush.
#[test]
fn wal_of_a_flushed_memtable_left_by_a_crash_is_an_orphan_not_replayed() {
    let dir = temp_dir();
    let scenario = "put k=old, freeze, keep a copy of the frozen WAL, flush, put k=new, flush, \
                    put the old WAL back (as a crash before its deletion would), reopen";
    let db = open(dir.path(), scenario);
    ok(db.put(b"k", b"old"), scenario, BOOK_DURABILITY);
    ok(db.put(b"gone", b"x"), scenario, BOOK_DURABILITY);
    ok(db.force_freeze_memtable(), scenario, BOOK_DURABILITY);
    let frozen_id = db.shape().immutable_memtables[0].id;
    let wal = dir.path().join(format!("{frozen_id:05}.wal"));
    let saved = read_bytes(&wal);
    ok(db.force_flush(), scenario, BOOK_DURABILITY);
    check_eq(
        wal.exists(),
        false,
        &format!(
            "{scenario}: {} still there after its memtable's flush (delete_wal removes it)",
            name_of(&wal)
        ),
        BOOK_FLUSH_STEPS,
    );
    ok(db.put(b"k", b"new"), scenario, BOOK_DURABILITY);
    ok(db.delete(b"gone"), scenario, BOOK_DURABILITY);
    ok(db.force_flush(), scenario, BOOK_DURABILITY);
    close(db, scenario);
    write_bytes(&wal, &saved);

    let db = open(dir.path(), scenario);
    check_get(
        ok(db.get(b"k"), scenario, BOOK_RECOVERY),
        Some(b"new"),
        scenario,
        BOOK_RECOVERY,
    );
    check_get(
        ok(db.get(b"gone"), scenario, BOOK_RECOVERY),
        None,
        scenario,
        BOOK_RECOVERY,
    );
    let removed: Vec<String> = db
        .recovery_report()
        .orphans_removed
        .iter()
        .map(|p| name_of(p))
        .collect();
    check_eq(
        removed.contains(&name_of(&wal)),
        true,
        &format!(
            "{scenario}: {} listed in orphans_removed {removed:?}",
            name_of(&wal)
        ),
        BOOK_ORPHANS,
    );
}

#[rstest]
#[case::newest_l0_sst(&[W, Step::Flush, W, Step::Flush], false)]
#[case::sst_of_a_level(&[W, Step::Flush, W, Step::Flush, Step::FullCompaction], true)]
fn missing_sst_named_by_the_manifest_fails_open_with_corruption(
    #[case] steps: &[Step],
    #[case] in_level: bool,
) {
    let dir = temp_dir();
    let (db, _) = build(dir.path(), steps, 13);
    let shape = db.shape();
    close(db, "build a tree");
    let level_ids = shape.levels.iter().flat_map(|l| &l.ssts).map(|s| s.id);
    let id = if in_level {
        level_ids.last()
    } else {
        shape.l0.first().map(|s| s.id)
    };
    let Some(id) = id else {
        fail(
            "pick an SST to delete",
            "an SST in the tree",
            shape,
            BOOK_RECOVERY,
        );
    };
    let name = format!("{id:05}.sst");
    io(
        std::fs::remove_file(dir.path().join(&name)),
        "delete an SST",
    );
    let scenario = format!("reopen after deleting {name}, which the manifest refers to\n{shape}");
    let expected = format!("Err(Corruption ..) mentioning {name}");
    match open_error(dir.path(), &scenario, &expected, BOOK_RECOVERY) {
        e @ Error::Corruption { .. } if e.to_string().contains(&name) => {}
        other => fail(&scenario, expected, other, BOOK_RECOVERY),
    }
}

// ---------------------------------------------------------------------------------------------
// Recovery never destroys what it cannot account for
// ---------------------------------------------------------------------------------------------

/// Every file of `dir` but `LOCK`, with its bytes.
fn dir_contents(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let listing = io(std::fs::read_dir(dir), "list the engine directory");
    listing
        .map(|entry| io(entry, "list the engine directory").path())
        .filter(|path| path.is_file() && name_of(path) != "LOCK")
        .map(|path| (name_of(&path), read_bytes(&path)))
        .collect()
}

/// Opens `dir` with `options` expecting an error for which `is_expected` holds, and checks
/// that the failed open left every file as it was. Returns the error.
#[track_caller]
fn check_open_refused(
    dir: &Path,
    options: LsmOptions,
    scenario: &str,
    expected: &str,
    is_expected: impl Fn(&Error) -> bool,
) -> Error {
    let before = dir_contents(dir);
    let error = match MiniLsm::open(dir, options) {
        Ok(_) => fail(scenario, expected, "Ok(an open engine)", BOOK_TRUST),
        Err(e) if is_expected(&e) => e,
        Err(other) => fail(scenario, expected, other, BOOK_TRUST),
    };
    let after = dir_contents(dir);
    let changed: Vec<&String> = before
        .keys()
        .chain(after.keys())
        .filter(|name| before.get(*name) != after.get(*name))
        .collect();
    check_eq(
        changed,
        Vec::new(),
        &format!("{scenario}: files created, changed or deleted by the failed open ({error})"),
        BOOK_TRUST,
    );
    error
}

/// Whether `error` is `Corruption` in the file named `file`.
fn is_corruption_in(error: &Error, file: &str) -> bool {
    matches!(error, Error::Corruption { file: Some(path), .. } if name_of(path) == file)
}

/// A refused open changes nothing, also what it would have done had it succeeded: here the
/// directory holds garbage (the WAL of a flushed memtable, as a crash before its deletion leaves
/// it, and a `MANIFEST.tmp`) and the newest WAL's first record is damaged while a later one
/// proves it was synced. Recovery must find the damage before it deletes any garbage, writes a
/// new manifest or creates a WAL: deleting the garbage as soon as the files are sorted out,
/// before the WALs are read, fails here.
#[test]
fn an_open_refused_for_a_damaged_wal_deletes_no_garbage_and_creates_no_file() {
    let dir = temp_dir();
    let scenario = "put, freeze, keep a copy of the frozen WAL, flush, three puts, close, put the \
                    old WAL back and a MANIFEST.tmp beside it";
    let db = open(dir.path(), scenario);
    ok(db.put(b"k", b"old"), scenario, BOOK_DURABILITY);
    ok(db.force_freeze_memtable(), scenario, BOOK_DURABILITY);
    let frozen_id = db.shape().immutable_memtables[0].id;
    let old_wal = dir.path().join(format!("{frozen_id:05}.wal"));
    let saved = read_bytes(&old_wal);
    ok(db.force_flush(), scenario, BOOK_DURABILITY);
    let mut model = Model::new();
    for i in 0..3 {
        write_batch(
            &db,
            &mut model,
            &[WriteBatchRecord::Put(key(i), value(i, 1))],
        );
    }
    close(db, scenario);
    write_bytes(&old_wal, &saved);
    write_bytes(
        &dir.path().join("MANIFEST.tmp"),
        b"a rewrite that never committed",
    );
    let wal = newest_wal(dir.path(), scenario);
    let first = spans_of(&wal, 3)[0].clone();
    flip_byte(&wal, first.start + RECORD_HEADER_SIZE);
    let scenario = format!(
        "open with garbage ({}, MANIFEST.tmp) and a damaged first record in {}",
        name_of(&old_wal),
        name_of(&wal)
    );
    check_open_refused(
        dir.path(),
        options(),
        &scenario,
        &format!("Err(Corruption in {}), and no file changed", name_of(&wal)),
        |e| is_corruption_in(e, &name_of(&wal)),
    );
}

/// What happens to the MANIFEST of a tree that has SSTs and WALs.
#[derive(Debug, Clone, Copy)]
enum ManifestDamage {
    Deleted,
    Empty,
    AllZeros,
    ShorterThanItsMagic,
    OnlyItsMagic,
    /// The manifest holds only its snapshot (just rewritten by an open), cut by one byte.
    SnapshotCutShort,
}

#[rstest]
#[case::deleted(ManifestDamage::Deleted)]
#[case::empty(ManifestDamage::Empty)]
#[case::all_zeros(ManifestDamage::AllZeros)]
#[case::shorter_than_its_magic(ManifestDamage::ShorterThanItsMagic)]
#[case::only_its_magic(ManifestDamage::OnlyItsMagic)]
#[case::snapshot_cut_short(ManifestDamage::SnapshotCutShort)]
fn a_missing_or_damaged_manifest_is_corruption_and_changes_no_file(#[case] damage: ManifestDamage) {
    let dir = temp_dir();
    let (db, _) = build(dir.path(), &[W, Step::Flush, W, Step::Freeze, W], 21);
    let db = reopen(db, dir.path(), "build a tree with SSTs and WALs");
    close(db, "build a tree with SSTs and WALs");
    let manifest = dir.path().join("MANIFEST");
    let len = read_bytes(&manifest).len();
    match damage {
        ManifestDamage::Deleted => io(std::fs::remove_file(&manifest), "delete the MANIFEST"),
        ManifestDamage::Empty => truncate(&manifest, 0),
        ManifestDamage::AllZeros => write_bytes(&manifest, &vec![0; len]),
        ManifestDamage::ShorterThanItsMagic => truncate(&manifest, MANIFEST_MAGIC.len() / 2),
        ManifestDamage::OnlyItsMagic => truncate(&manifest, MANIFEST_MAGIC.len()),
        ManifestDamage::SnapshotCutShort => truncate(&manifest, len - 1),
    }
    let scenario = format!(
        "open a directory holding SSTs and WALs whose MANIFEST is {damage:?} (a new database \
         would lose them all)"
    );
    check_open_refused(
        dir.path(),
        options(),
        &scenario,
        "Err(Corruption in MANIFEST), and no file changed",
        |e| is_corruption_in(e, "MANIFEST"),
    );
}

/// A `Compaction` record (intact, both checksums right) that puts SSTs into level 0 or into a
/// level past the ones the tree was created with: no engine writes that, so the manifest is
/// damaged. The open is refused with `Error::Corruption` naming the MANIFEST, changing nothing.
#[rstest]
#[case::level_0(0)]
#[case::one_past_the_last_level(1)]
fn compaction_record_naming_a_level_the_tree_does_not_have_is_corruption(#[case] past_last: usize) {
    let dir = temp_dir();
    let max_levels = match options().compaction {
        CompactionOptions::Leveled(leveled) => leveled.max_levels,
        other => fail(
            "the day-6 options",
            "leveled compaction",
            other,
            BOOK_MANIFEST,
        ),
    };
    let level = if past_last == 0 {
        0
    } else {
        max_levels + past_last
    };
    let (db, _) = build(dir.path(), &[W, Step::Flush, Step::FullCompaction], 34);
    let shape = db.shape();
    close(db, "a tree with one compaction");
    let live: Vec<usize> = shape
        .levels
        .iter()
        .flat_map(|l| l.ssts.iter().map(|sst| sst.id))
        .collect();
    let manifest = dir.path().join("MANIFEST");
    let mut bytes = read_bytes(&manifest);
    let record = ManifestRecord::Compaction {
        level,
        removed: Vec::new(),
        added: live.clone(),
    };
    let synced = bytes.len() as u64;
    encode_record(&record.encode(), synced, &mut bytes);
    write_bytes(&manifest, &bytes);
    let scenario = format!(
        "a tree of {max_levels} levels whose MANIFEST ends with {record:?} (intact)\n{shape}"
    );
    check_open_refused(
        dir.path(),
        options(),
        &scenario,
        "Err(Corruption { file: Some(.../MANIFEST), .. }), every file unchanged",
        |e| is_corruption_in(e, "MANIFEST"),
    );
}

#[test]
fn sst_and_wal_files_without_a_manifest_are_corruption_not_a_new_database() {
    let dir = temp_dir();
    let (db, _) = build(dir.path(), &[W, Step::Flush, W], 22);
    close(db, "build a tree");
    let source = copy_dir(dir.path());
    let bare = temp_dir();
    for (_, path) in files_with_ext(source.path(), "sst")
        .into_iter()
        .chain(files_with_ext(source.path(), "wal"))
    {
        io(
            std::fs::copy(&path, bare.path().join(name_of(&path))),
            "copy an SST or WAL",
        );
    }
    check_open_refused(
        bare.path(),
        options(),
        "open a directory holding only SSTs and WALs (no MANIFEST)",
        "Err(Corruption in MANIFEST), and no file changed",
        |e| is_corruption_in(e, "MANIFEST"),
    );
}

/// A database whose levels hold SSTs, reopened with options of another shape: without
/// compaction it still serves every key; with fewer levels it is refused, naming both numbers;
/// nothing is ever deleted because of an option.
#[test]
fn reopening_with_other_levels_serves_every_key_or_is_refused() {
    let dir = temp_dir();
    let steps = [W, Step::Flush, W, Step::Flush, Step::FullCompaction, W];
    let (db, model) = build(dir.path(), &steps, 23);
    let before = db.shape();
    close(db, "fill, flush, compact fully, write more");
    let levels = before.levels.len();

    let without_compaction = LsmOptions {
        compaction: lsm::CompactionOptions::NoCompaction,
        background_compaction: false,
        ..options()
    };
    let scenario = format!("reopen with compaction off a tree compacted into L{levels}");
    let db = ok(
        MiniLsm::open(dir.path(), without_compaction),
        &scenario,
        BOOK_TRUST,
    );
    check_model(&db, &model, &scenario, BOOK_TRUST);
    close(db, &scenario);

    let fewer = levels - 2;
    let mut fewer_levels = options();
    if let lsm::CompactionOptions::Leveled(leveled) = &mut fewer_levels.compaction {
        leveled.max_levels = fewer;
    }
    let scenario = format!("reopen with max_levels {fewer} a tree created with {levels} levels");
    let error = check_open_refused(
        dir.path(),
        fewer_levels,
        &scenario,
        format!("Err(InvalidArgument naming {levels} and {fewer}), and no file changed").as_str(),
        |e| matches!(e, Error::InvalidArgument(_)),
    );
    let message = error.to_string();
    check_eq(
        (
            message.contains(&levels.to_string()),
            message.contains(&fewer.to_string()),
        ),
        (true, true),
        &format!("{scenario}: the message {message:?} names (the recorded, the given) levels"),
        BOOK_TRUST,
    );

    let scenario = "reopen with the original options".to_string();
    let db = open(dir.path(), &scenario);
    check_model(&db, &model, &scenario, BOOK_TRUST);
    check_eq(
        &db.shape().levels,
        &before.levels,
        &format!("{scenario}: levels"),
        BOOK_TRUST,
    );
}

/// A tree whose manifest ends with the `Flush` record of a memtable created after the last
/// open (so only a `NewMemtable` record says it existed), its WAL already deleted.
fn tree_ending_with_a_flush(dir: &Path) -> Model {
    let scenario = "build a tree whose manifest ends with a flush";
    let (db, mut model) = build(dir, &[W, Step::Flush], 30);
    let db = reopen(db, dir, scenario);
    let mut rng = Rng::new(31);
    for step in [W, Step::Freeze, W, Step::Flush] {
        apply(&db, &mut model, &mut rng, step);
    }
    close(db, scenario);
    model
}

/// The manifest of `dir` (made by [`tree_ending_with_a_flush`]) loses its last record, the
/// `Flush` of a memtable whose WAL the flush then deleted: the manifest still lists the memtable
/// as unflushed, and its SST holds the only copy of its writes. Recovery must refuse to open
/// (`Corruption` in the MANIFEST) and delete nothing: deleting that SST as the output of an
/// unfinished flush loses the writes.
fn check_lost_flush_record_is_refused(dir: &Path) {
    let copy = copy_dir(dir);
    let manifest = copy.path().join("MANIFEST");
    let records = ok(
        Manifest::recover(&manifest),
        "Manifest::recover of a tree whose manifest ends with a flush",
        BOOK_MANIFEST,
    )
    .records;
    let id = match records.last() {
        Some(ManifestRecord::Flush(id)) => *id,
        other => fail(
            "the last record of a tree whose manifest ends with a flush",
            "Some(Flush(id))",
            other,
            BOOK_MANIFEST,
        ),
    };
    let wal = copy.path().join(format!("{id:05}.wal"));
    if wal.exists() {
        fail(
            &format!("after the flush of memtable {id}, recorded by Flush({id}), and a close"),
            format!("{} deleted (delete_wal)", name_of(&wal)),
            "still in the directory",
            BOOK_FLUSH_STEPS,
        );
    }
    let spans = spans_of(&manifest, records.len());
    truncate(&manifest, spans[spans.len() - 1].start);
    let scenario = format!(
        "the MANIFEST lost its last record, Flush({id}), and {id:05}.wal is gone: {id:05}.sst is \
         the only copy of memtable {id}, which the manifest lists as unflushed"
    );
    check_open_refused(
        copy.path(),
        options(),
        &scenario,
        "Err(Corruption in MANIFEST), and no file changed",
        |e| is_corruption_in(e, "MANIFEST"),
    );
}

/// The manifest loses 1 to 40 bytes at its end (its last records, whole or in part). Recovery
/// either opens with every write, or refuses with `Corruption` in the MANIFEST: a lost record
/// is the manifest's damage, whatever file it then seems to miss. A refused open changes no file.
/// When the lost record is a `Flush` whose WAL is gone, the SST is the only copy of its writes:
/// deleting it as garbage would lose them.
#[rstest]
#[case::ending_with_a_flush(true)]
#[case::ending_with_a_new_memtable(false)]
fn a_manifest_cut_short_opens_with_every_write_or_is_refused_changing_nothing(
    #[case] ending_with_a_flush: bool,
) {
    let dir = temp_dir();
    let model = if ending_with_a_flush {
        let model = tree_ending_with_a_flush(dir.path());
        check_lost_flush_record_is_refused(dir.path());
        model
    } else {
        tree_for_manifest_tests(dir.path()).0
    };
    let len = read_bytes(&dir.path().join("MANIFEST")).len();
    for cut in 1..=40.min(len - MANIFEST_MAGIC.len()) {
        let copy = copy_dir(dir.path());
        truncate(&copy.path().join("MANIFEST"), len - cut);
        let scenario = format!("the MANIFEST's last {cut} bytes (of {len}) cut off");
        match MiniLsm::open(copy.path(), options()) {
            Ok(db) => check_model(&db, &model, &scenario, BOOK_TRUST),
            Err(_) => {
                check_open_refused(
                    copy.path(),
                    options(),
                    &scenario,
                    "Ok with every write, or Err(Corruption in MANIFEST) changing no file",
                    |e| is_corruption_in(e, "MANIFEST"),
                );
            }
        }
    }
}

#[test]
fn second_open_of_a_locked_directory_fails_until_the_first_engine_is_dropped() {
    let dir = temp_dir();
    let (first, model) = build(dir.path(), &[Step::Write(10)], 14);
    let scenario = "a second open while the first engine is open";
    match MiniLsm::open(dir.path(), options()) {
        Err(Error::Locked(_)) => {}
        Ok(_) => fail(scenario, "Err(Locked)", "Ok(a second engine)", BOOK_LOCK),
        Err(other) => fail(scenario, "Err(Locked)", other, BOOK_LOCK),
    }
    check_model(
        &first,
        &model,
        "the first engine after a refused second open",
        BOOK_LOCK,
    );
    close(first, "close and drop the first engine");
    let second = open(
        dir.path(),
        "open after the first engine was closed and dropped",
    );
    check_model(
        &second,
        &model,
        "open after the first engine was closed and dropped",
        BOOK_LOCK,
    );
}

// ---------------------------------------------------------------------------------------------
// The crash test
// ---------------------------------------------------------------------------------------------

const CRASH_TRIALS: u64 = 20;
/// Trials run this many at a time: each mostly waits for its writer's `fsync`s.
const CRASH_WORKERS: u64 = 4;

/// Kills (SIGKILL) and reaps the writer process when dropped, also when a check fails.
struct Writer(Child);

impl Drop for Writer {
    fn drop(&mut self) {
        // It may have exited on its own already: then there is nothing to kill.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `crash-writer` on `dir`, reads `lines` of its output and kills it; returns the last
/// write it reported synced.
fn run_writer_until(dir: &Path, seed: u64, lines: usize, scenario: &str) -> usize {
    let child = Command::new(CRASH_WRITER)
        .arg(dir)
        .arg("6")
        .arg(seed.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut writer = Writer(io(child, &format!("{scenario}: start crash-writer")));
    let Some(stdout) = writer.0.stdout.take() else {
        fail(scenario, "the writer's stdout", "none", BOOK_CRASH);
    };
    let mut stdout = BufReader::new(stdout);
    let mut synced = None;
    for n in 0..lines {
        let mut line = String::new();
        if io(stdout.read_line(&mut line), "read the writer's output") == 0 {
            let _ = writer.0.wait();
            let mut stderr = String::new();
            if let Some(mut pipe) = writer.0.stderr.take() {
                let _ = pipe.read_to_string(&mut stderr);
            }
            fail(
                scenario,
                format!("{lines} lines of `synced N`"),
                format!("the writer exited after {n} lines; stderr: {stderr}"),
                BOOK_CRASH,
            );
        }
        match line.trim().strip_prefix("synced ").map(str::parse) {
            Some(Ok(i)) => synced = Some(i),
            _ => fail(scenario, "a line `synced N`", line, BOOK_CRASH),
        }
    }
    drop(writer);
    synced.unwrap_or_default()
}

/// The write of the crash writer that deletes `key(j)`, if any: write `i` deletes `key(i / 2)`
/// when `i % 7 == 6`, right after putting `key(i)`.
fn deleting_write(j: usize) -> Option<usize> {
    [2 * j, 2 * j + 1].into_iter().find(|i| i % 7 == 6)
}

/// The number `j` of a key `key(j)`, if `k` is one.
fn key_number(k: &[u8]) -> Option<usize> {
    let j = std::str::from_utf8(k)
        .ok()?
        .strip_prefix("key_")?
        .parse()
        .ok()?;
    (key(j) == k).then_some(j)
}

/// One trial: a writer killed after a seeded number of `synced` lines, then the directory
/// reopened and checked against what the writer reported.
fn crash_trial(trial: u64) {
    let dir = temp_dir();
    let seed = 600 + trial;
    // Mostly short runs; every fifth trial runs long enough for flushes and compactions.
    let mut rng = Rng::new(seed);
    let lines = if trial.is_multiple_of(5) {
        30 + rng.below(171)
    } else {
        1 + rng.below(40)
    };
    let scenario = format!("crash trial {trial} (seed {seed}): writer killed after {lines} lines");
    let synced = run_writer_until(dir.path(), seed, lines, &scenario);
    let scenario = format!("{scenario}, the last `synced {synced}`; reopened");
    let db = ok(
        MiniLsm::open(dir.path(), options_for_day(6)),
        &scenario,
        BOOK_CRASH,
    );
    let mut scan = ok(
        db.scan(Bound::Unbounded, Bound::Unbounded),
        &scenario,
        BOOK_CRASH,
    );
    let seen = ok(
        drain(&mut scan, &scenario, BOOK_CRASH),
        &scenario,
        BOOK_CRASH,
    );
    // Everything present was written by the writer, with the value it wrote.
    for (k, v) in &seen {
        let expected = key_number(k).map(|j| value(j, seed as usize));
        if expected.is_none() || v.as_ref() != expected.as_ref() {
            fail(
                &format!("{scenario}: an entry of the full scan"),
                format!("{}=value_<n>_{seed}", show(k)),
                format!("{}={}", show(k), show_value(v.as_deref())),
                BOOK_CRASH,
            );
        }
    }
    // Every synced write is there; a synced delete too; later ones may or may not be.
    for j in 0..=synced {
        let s = format!("{scenario}: get({})", show(&key(j)));
        let actual = ok(db.get(&key(j)), &s, BOOK_CRASH).map(|v| v.to_vec());
        let in_scan = seen.iter().any(|(k, _)| *k == key(j));
        let allowed = match deleting_write(j) {
            Some(d) if d <= synced => "absent (its delete was synced)",
            Some(_) => "present or absent (its delete was not synced)",
            None => "present (its put was synced)",
        };
        let fine = match deleting_write(j) {
            Some(d) if d <= synced => actual.is_none(),
            Some(_) => true,
            None => actual == Some(value(j, seed as usize)),
        };
        if !fine || actual.is_some() != in_scan {
            fail(
                &s,
                format!("{allowed}, and the same in the full scan"),
                format!(
                    "{}, in the scan: {in_scan}",
                    actual.as_deref().map_or_else(|| "absent".to_string(), show)
                ),
                BOOK_CRASH,
            );
        }
    }
}

#[test]
fn killed_writer_loses_no_synced_write() {
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..CRASH_WORKERS)
            .map(|worker| {
                scope.spawn(move || {
                    for trial in (worker..CRASH_TRIALS).step_by(CRASH_WORKERS as usize) {
                        crash_trial(trial);
                    }
                })
            })
            .collect();
        for worker in workers {
            if let Err(panic) = worker.join() {
                std::panic::resume_unwind(panic);
            }
        }
    });
}

// ---------------------------------------------------------------------------------------------
// Power loss
// ---------------------------------------------------------------------------------------------

use tests_day1_to_day7::lsm::failpoint::Scenario;
use tests_day1_to_day7::lsm::failpoint::power_loss::{self, AfterPowerLoss};

const BOOK_POWER_LOSS: &str = "day6-recovery.md#power-loss";

/// A power loss needs at least this many durable operations in the workload: fewer means the
/// engine does not sync, delete and rename through `crate::fs`, where the simulation sees them.
const MIN_DURABLE_OPS: u64 = 20;

/// A fresh database directory (`db`) watched by the power-loss simulation, the path its image
/// is written to when power is lost (`image`), and the temporary directory holding both (keep
/// it alive as long as they are used).
fn power_loss_dir() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let work = temp_dir();
    let (dir, image) = (work.path().join("db"), work.path().join("image"));
    io(std::fs::create_dir_all(&dir), "create the db dir");
    ok(power_loss::track(&dir), "track the db dir", BOOK_POWER_LOSS);
    (work, dir, image)
}

/// Options for the power-loss workload: no background thread and no size-triggered freeze, so
/// that the same workload runs the same durable operations in the same order every time.
/// A small manifest limit makes the engine rewrite its manifest during the workload too.
fn power_loss_options() -> LsmOptions {
    LsmOptions {
        max_immutable_memtables: usize::MAX,
        background_compaction: false,
        memtable_size: 1 << 20,
        max_manifest_bytes: 300,
        ..options()
    }
}

/// What the power-loss workload got done before power was lost.
struct PowerLossRun {
    /// `states[i]`: the data after the first `i` acknowledged writes.
    states: Vec<Model>,
    /// Writes made durable (by `sync`, a freeze, a flush or `close`) before power was lost:
    /// all of `states[durable]` must survive.
    durable: usize,
    /// The error that stopped the workload (the power loss, when one was armed).
    stopped_by: Option<lsm::Error>,
}

/// Puts, syncs, a freeze, flushes, a full compaction, a close and a reopen, until the first
/// error (the power loss, when one is armed). Every write is one put, so a recovered state is
/// exactly one of the `states`.
fn power_loss_workload(dir: &Path) -> PowerLossRun {
    let mut run = PowerLossRun {
        states: vec![Model::new()],
        durable: 0,
        stopped_by: None,
    };
    let db = match MiniLsm::open(dir, power_loss_options()) {
        Ok(db) => db,
        Err(e) => {
            run.stopped_by = Some(e);
            return run;
        }
    };
    let mut generation = 0;
    let mut put = |db: &MiniLsm, run: &mut PowerLossRun, n: usize| -> bool {
        for _ in 0..n {
            generation += 1;
            let i = generation * 7 % 23;
            let v = value(i, generation);
            if let Err(e) = db.put(&key(i), &v) {
                run.stopped_by = Some(e);
                return false;
            }
            let mut model = run.states.last().cloned().unwrap_or_default();
            model.insert(key(i), v);
            run.states.push(model);
        }
        true
    };
    let acked = |run: &PowerLossRun| run.states.len() - 1;
    // Each step: some puts, then an operation that makes them durable.
    type MakeDurable = fn(&MiniLsm) -> lsm::Result<()>;
    // A sync right after a freeze: the new memtable's WAL must be durable by name too.
    let steps: [(usize, MakeDurable); 7] = [
        (6, |db| db.sync()),
        (6, |db| db.force_freeze_memtable().map(|_| ())),
        (6, |db| db.sync()),
        (6, |db| db.force_flush()),
        (6, |db| db.sync()),
        (6, |db| db.force_flush()),
        (0, |db| db.force_full_compaction()),
    ];
    for (n, make_durable) in steps {
        if !put(&db, &mut run, n) {
            return run;
        }
        if let Err(e) = make_durable(&db) {
            run.stopped_by = Some(e);
            return run;
        }
        run.durable = acked(&run);
    }
    if !put(&db, &mut run, 4) {
        return run;
    }
    if let Err(e) = db.close() {
        run.stopped_by = Some(e);
        return run;
    }
    run.durable = acked(&run);
    drop(db);
    let db = match MiniLsm::open(dir, power_loss_options()) {
        Ok(db) => db,
        Err(e) => {
            run.stopped_by = Some(e);
            return run;
        }
    };
    if !put(&db, &mut run, 6) {
        return run;
    }
    if let Err(e) = db.force_flush() {
        run.stopped_by = Some(e);
        return run;
    }
    run.durable = acked(&run);
    let _ = put(&db, &mut run, 3);
    run
}

/// Reads every key of `db` with a full scan.
fn scan_all(db: &MiniLsm, scenario: &str) -> Model {
    let mut read = Model::new();
    let scan = ok(
        db.scan(Bound::Unbounded, Bound::Unbounded),
        scenario,
        BOOK_POWER_LOSS,
    );
    for entry in scan {
        let (k, v) = ok(entry, scenario, BOOK_POWER_LOSS);
        read.insert(k.to_vec(), v.to_vec());
    }
    read
}

/// Runs the workload with power lost at each of its durable operations in turn (with
/// `seeds` different choices of which unsynced bytes survive), and checks every image: it opens
/// (a power loss never makes a database unopenable), it holds every durable write, and it is the
/// state after some prefix of the writes (no write lost before a later one survived, no value
/// from nowhere).
fn check_every_power_loss(seeds: u64) {
    let _scenario = Scenario::start();
    let counting = temp_dir();
    io(
        std::fs::create_dir_all(counting.path().join("db")),
        "create the db dir",
    );
    ok(
        power_loss::track(&counting.path().join("db")),
        "track the db dir",
        BOOK_POWER_LOSS,
    );
    let full = power_loss_workload(&counting.path().join("db"));
    let total = power_loss::ops();
    power_loss::stop();
    if let Some(error) = &full.stopped_by {
        fail(
            "the power-loss workload without a power loss",
            "every operation Ok",
            error,
            BOOK_POWER_LOSS,
        );
    }
    if total < MIN_DURABLE_OPS {
        fail(
            "count the durable operations (fsync of a file or directory, deletion, rename) of \
             the power-loss workload",
            format!(
                ">= {MIN_DURABLE_OPS}, made through crate::fs (sync_file, sync_dir, remove_file, rename)"
            ),
            total,
            BOOK_POWER_LOSS,
        );
    }
    check_eq(
        (full.states.len() - 1, full.durable),
        (49, 46),
        "the power-loss workload without a power loss: (writes acknowledged, writes made durable; \
         all but the last 3)",
        BOOK_POWER_LOSS,
    );
    for at in 1..=total {
        for seed in 0..seeds {
            let (_work, dir, image) = power_loss_dir();
            power_loss::arm(at, &image, at * 1000 + seed, AfterPowerLoss::FailEverything);
            let run = power_loss_workload(&dir);
            let lost_at = power_loss::lost_at().unwrap_or_else(|| "nothing".into());
            power_loss::stop();
            let scenario = format!(
                "power lost at durable operation {at} of {total} ({lost_at}), seed {seed}, after \
                 {} acknowledged writes of which {} durable",
                run.states.len() - 1,
                run.durable
            );
            if !image.exists() {
                fail(
                    &scenario,
                    "a power loss, then an image of the directory",
                    format!("the workload stopped before it: {:?}", run.stopped_by),
                    BOOK_POWER_LOSS,
                );
            }
            let db = ok(
                MiniLsm::open(&image, power_loss_options()),
                &format!("{scenario}: open the directory as the power loss left it"),
                BOOK_POWER_LOSS,
            );
            let read = scan_all(&db, &scenario);
            let matches = run.states[run.durable..].contains(&read);
            if !matches {
                let durable = &run.states[run.durable];
                let lost: Vec<String> = durable
                    .iter()
                    .filter(|(k, v)| read.get(*k) != Some(*v))
                    .map(|(k, v)| format!("{}={}", show(k), show(v)))
                    .collect();
                fail(
                    &format!(
                        "{scenario}; durable writes missing or older: {}",
                        lost.join(", ")
                    ),
                    format!(
                        "the data after some prefix of the writes, at least the {} durable ones",
                        run.durable
                    ),
                    format!("{} keys read back", read.len()),
                    BOOK_POWER_LOSS,
                );
            }
            close(db, &scenario);
        }
    }
}

/// The workload survives a power loss at every durable operation. Fails when an SST is not
/// synced before the manifest names it, a WAL is deleted before the `Flush` record that
/// replaces it is durable, or the directory is not synced after a file is created.
#[test]
fn a_power_loss_at_any_durable_operation_loses_no_durable_write() {
    check_every_power_loss(1);
}

/// How many choices of what unsynced bytes survive `a_power_loss_right_after_sync_keeps_every_write_it_acknowledged`
/// tries: each file's unsynced tail is dropped, kept, cut or partly zeroed, so a few seeds are
/// sure to drop the tail of a WAL that was never fsynced.
const SYNC_POWER_LOSS_SEEDS: u64 = 8;

/// `sync` promises durability: a power loss right after it returns keeps every write it
/// acknowledged. A WAL (or a record writer under it) that hands its bytes to the operating system
/// but never fsyncs them passes every crash test (a killed process loses nothing the page cache
/// holds), and fails here: the power goes off at the first durable operation after `sync`, a
/// directory sync the test makes itself, and the image keeps only what was fsynced.
#[test]
fn a_power_loss_right_after_sync_keeps_every_write_it_acknowledged() {
    let _scenario = Scenario::start();
    for seed in 0..SYNC_POWER_LOSS_SEEDS {
        let (_work, dir, image) = power_loss_dir();
        let scenario = format!("writes, sync, then power lost at once (seed {seed})");
        let db = ok(
            MiniLsm::open(&dir, power_loss_options()),
            &format!("{scenario}: open"),
            BOOK_POWER_LOSS,
        );
        let mut model = Model::new();
        let mut rng = Rng::new(seed);
        random_writes(&db, &mut model, &mut rng, 30);
        ok(db.sync(), &format!("{scenario}: sync"), BOOK_POWER_LOSS);
        power_loss::arm(1, &image, seed, AfterPowerLoss::FailEverything);
        // The power goes off before this directory sync runs: it only marks the moment.
        let _ = tests_day1_to_day7::lsm::fs::sync_dir(&dir);
        power_loss::stop();
        if !image.exists() {
            fail(
                &scenario,
                "an image of the directory at the power loss",
                "none: the test's own directory sync did not reach the simulation",
                BOOK_POWER_LOSS,
            );
        }
        drop(db);
        let recovered = ok(
            MiniLsm::open(&image, power_loss_options()),
            &format!("{scenario}: open the directory as the power loss left it"),
            BOOK_POWER_LOSS,
        );
        let read = scan_all(&recovered, &scenario);
        if read != model {
            let lost: Vec<String> = model
                .iter()
                .filter(|(k, v)| read.get(*k) != Some(*v))
                .map(|(k, v)| format!("{}={}", show(k), show(v)))
                .collect();
            fail(
                &format!(
                    "{scenario}: writes acknowledged by sync missing or older: {} (does Wal::sync \
                     fsync the file, through crate::fs::sync_file?)",
                    lost.join(", ")
                ),
                format!("all {} keys of the writes before sync", model.len()),
                format!("{} keys read back", read.len()),
                BOOK_POWER_LOSS,
            );
        }
        close(recovered, &scenario);
    }
}
