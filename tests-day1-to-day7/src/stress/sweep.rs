//! A corruption sweep over every on-disk format.
//!
//! For a small block, SST (three blocks, with a bloom filter from day 7), WAL and manifest, every
//! byte is flipped with several XOR masks and the file is cut at every length; then the damaged
//! bytes are decoded and everything in them is read back. Each input must give a typed error or
//! the correct data, never a panic, a hang, or data that differs from what was written:
//!
//! * a block has no checksum of its own (the SST's covers it), so a damaged block may decode; it
//!   must then iterate and seek without panicking, over exactly the entries it claims;
//! * every byte of an SST is under a checksum: any flip or cut must be an error at open or read;
//! * in a WAL or manifest, damage to a record followed by others must be [`Error::Corruption`];
//!   damage to the last record may be dropped as a torn tail (recovery then returns exactly the
//!   earlier records); a cut must recover exactly the records before it;
//! * the whole engine, opened on a directory whose MANIFEST, WAL or one SST was damaged, must fail
//!   to open or to read, or read back exactly what was written (for a dropped torn tail: the state
//!   before the dropped record); an open that fails changes no file.
//!
//! The graded checks run a fast subset (masks 0x01, 0x80, 0xff; a sample at the engine level);
//! the full sweep (all 255 masks at every byte for the decoders; the eight single bits and 0xff
//! at every byte for the engine) is the `#[ignore]`d `_long` variant (`cargo x check --long`).

use std::cell::Cell;
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::ops::Bound;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Once, mpsc};
use std::time::{Duration, Instant};

use super::{Check, rethrow_todo, scratch_dir};
use crate::lsm::block::{Block, BlockBuilder, BlockIterator};
use crate::lsm::iterators::StorageIterator;
use crate::lsm::manifest::{MANIFEST_MAGIC, Manifest, ManifestRecord, TreeSnapshot};
use crate::lsm::record_file::{TornTail, decode_records};
use crate::lsm::table::{FileObject, SsTable, SsTableBuilder, SsTableIterator};
use crate::lsm::wal::{Wal, WalEntry};
use crate::lsm::{
    CompactionOptions, Error, LeveledCompactionOptions, LsmOptions, MiniLsm, WriteBatchRecord,
};
use bytes::Bytes;

// ---------------------------------------------------------------------------------------------
// Damage, plans and the harness
// ---------------------------------------------------------------------------------------------

/// One way of damaging a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Damage {
    /// XOR the byte at `at` with `mask` (never 0).
    Flip { at: usize, mask: u8 },
    /// Keep only the first `len` bytes.
    Truncate { len: usize },
}

impl Damage {
    fn apply(self, data: &[u8]) -> Vec<u8> {
        match self {
            Damage::Flip { at, mask } => {
                let mut damaged = data.to_vec();
                damaged[at] ^= mask;
                damaged
            }
            Damage::Truncate { len } => data[..len].to_vec(),
        }
    }
}

/// Which damages a sweep applies: every `stride`-th byte with each mask, and a cut at every
/// `stride`-th length (cuts may start past a given length, see `Plan::damages_from`).
#[derive(Debug, Clone)]
pub struct Plan {
    masks: Vec<u8>,
    stride: usize,
}

/// Masks of the fast subset: the lowest bit, the highest bit, and the whole byte.
const FAST_MASKS: [u8; 3] = [0x01, 0x80, 0xff];

impl Plan {
    /// The decoders' fast subset: three masks at every byte, a cut at every length.
    pub fn fast() -> Plan {
        Plan {
            masks: FAST_MASKS.to_vec(),
            stride: 1,
        }
    }

    /// The decoders' full sweep: every non-zero mask at every byte, a cut at every length.
    pub fn full() -> Plan {
        Plan {
            masks: (1..=255).collect(),
            stride: 1,
        }
    }

    /// The engine-level fast subset: one byte in `stride`, whole-byte flips.
    pub fn engine_fast(stride: usize) -> Plan {
        Plan {
            masks: vec![0xff],
            stride,
        }
    }

    /// The engine-level full sweep: each single bit and the whole byte at every byte, a cut at
    /// every length.
    pub fn engine_full() -> Plan {
        Plan {
            masks: vec![0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xff],
            stride: 1,
        }
    }

    /// Every damage of a `len`-byte file, cuts only at lengths `>= cuts_from`.
    fn damages_from(&self, len: usize, cuts_from: usize) -> Vec<Damage> {
        let mut damages = Vec::new();
        for at in (0..len).step_by(self.stride) {
            for &mask in &self.masks {
                damages.push(Damage::Flip { at, mask });
            }
        }
        for cut in (cuts_from..len).step_by(self.stride) {
            damages.push(Damage::Truncate { len: cut });
        }
        damages
    }

    pub fn damages(&self, len: usize) -> Vec<Damage> {
        self.damages_from(len, 0)
    }
}

/// How a damaged input came out, when it came out right.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// A typed error reported the damage.
    Rejected,
    /// The correct data came back (a torn tail dropped, or a cut at a record boundary).
    Correct,
    /// A block (which has no checksum) decoded into well-formed entries.
    Unchecked,
}

/// A violation of the contract, described for the failure message.
type Verdict = Result<Outcome, String>;

thread_local! {
    /// Set while a sweep runs an input: panics are then recorded, not printed.
    static QUIET: Cell<bool> = const { Cell::new(false) };
}

/// Installs (once) a panic hook that stays silent for panics inside a sweep's `catch_unwind`:
/// the sweep reports them itself, and thousands of backtraces would bury the report.
fn quiet_panics_in_sweeps() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET.with(Cell::get) {
                default(info);
            }
        }));
    });
}

/// The tally of one sweep.
struct Sweep {
    check: Check,
    name: String,
    inputs: u64,
    rejected: u64,
    correct: u64,
    unchecked: u64,
    violations: Vec<String>,
    started: Instant,
    /// What the sweep is doing right now, for the watchdog's message.
    current: Arc<Mutex<String>>,
}

impl Sweep {
    fn new(check: Check, name: &str, current: Arc<Mutex<String>>) -> Sweep {
        quiet_panics_in_sweeps();
        Sweep {
            check,
            name: name.to_string(),
            inputs: 0,
            rejected: 0,
            correct: 0,
            unchecked: 0,
            violations: Vec::new(),
            started: Instant::now(),
            current,
        }
    }

    /// Runs `check` on one damaged input, turning a panic into a violation.
    fn input(&mut self, what: impl Fn() -> String, check: impl FnOnce() -> Verdict) {
        *self.current.lock().unwrap() = what();
        self.inputs += 1;
        QUIET.with(|quiet| quiet.set(true));
        let result = catch_unwind(AssertUnwindSafe(check));
        QUIET.with(|quiet| quiet.set(false));
        match result {
            Ok(Ok(Outcome::Rejected)) => self.rejected += 1,
            Ok(Ok(Outcome::Correct)) => self.correct += 1,
            Ok(Ok(Outcome::Unchecked)) => self.unchecked += 1,
            Ok(Err(violation)) => self.violations.push(format!("{}: {violation}", what())),
            Err(panic) => {
                let message = rethrow_todo(panic);
                self.violations
                    .push(format!("{}: PANIC: {message}", what()));
            }
        }
    }

    /// Prints the tally and fails on any violation; returns the number of inputs.
    fn finish(self) -> u64 {
        println!(
            "{}: {} damaged inputs in {:.2?}: {} rejected with a typed error, {} read back \
             correctly, {} blocks decoded without a checksum, {} violations",
            self.name,
            self.inputs,
            self.started.elapsed(),
            self.rejected,
            self.correct,
            self.unchecked,
            self.violations.len()
        );
        if let Some(first) = self.violations.first() {
            self.check.fail_unseeded(
                &format!(
                    "{}: {} of {} damaged inputs violate the contract (a typed error or the \
                     right data, never a panic or wrong data); the first: {first}",
                    self.name,
                    self.violations.len(),
                    self.inputs
                ),
                &self.violations[1..]
                    .iter()
                    .take(19)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("\n"),
            );
        }
        self.inputs
    }
}

/// Runs `body` on its own thread and fails if it has not finished after `limit`: a hang in a
/// decoder is a failure, reported with the input it hung on.
fn with_watchdog(
    check: Check,
    name: &str,
    limit: Duration,
    body: impl FnOnce(Sweep) + Send + 'static,
) {
    let current = Arc::new(Mutex::new(String::from("(setting up)")));
    let sweep = Sweep::new(check, name, Arc::clone(&current));
    let (done, finished) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        let result = catch_unwind(AssertUnwindSafe(|| body(sweep)));
        let _ = done.send(());
        result
    });
    match finished.recv_timeout(limit) {
        Ok(()) => {
            if let Err(panic) = worker.join().expect("the sweep thread reports its panics") {
                std::panic::resume_unwind(panic);
            }
        }
        Err(_) => check.fail_unseeded(
            &format!(
                "{name}: HANG: no result after {limit:?}; stuck on {}",
                current.lock().unwrap()
            ),
            "",
        ),
    }
}

/// A fresh file name in `dir` (a new name per input is much faster than rewriting one file).
fn fresh_path(dir: &Path, extension: &str) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    dir.join(format!(
        "{}.{extension}",
        NEXT.fetch_add(1, Ordering::Relaxed)
    ))
}

/// Whether `error` is one of the typed errors a damaged file may cause.
fn is_typed_damage_error(error: &Error) -> bool {
    matches!(error, Error::Corruption { .. } | Error::Io { .. })
}

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

type Entry = (Vec<u8>, Option<Vec<u8>>);

/// Sorted entries with shared prefixes (so keys are prefix-compressed), tombstones and an empty
/// value.
fn entries(count: usize) -> Vec<Entry> {
    (0..count)
        .map(|i| {
            let key = format!("user:{:05}:{}", i * 7, ["name", "mail"][i % 2]).into_bytes();
            let value = match i % 5 {
                3 => None,
                4 => Some(Vec::new()),
                _ => Some(format!("value-{i}-{}", "x".repeat(i % 4)).into_bytes()),
            };
            (key, value)
        })
        .collect()
}

/// A block of 10 entries.
fn block_fixture() -> (Vec<u8>, Vec<Entry>) {
    let entries = entries(10);
    let mut builder = BlockBuilder::new(4096);
    for (key, value) in &entries {
        assert!(builder.add(key, value.as_deref()));
    }
    (builder.build().encode().to_vec(), entries)
}

/// An SST of several blocks, with a bloom filter when `bloom` (day 7).
fn sst_fixture(dir: &Path, bloom: bool) -> (Vec<u8>, Vec<Entry>) {
    let entries = entries(12);
    let mut builder = SsTableBuilder::new(128);
    if bloom {
        builder = builder.with_bloom_filter(10);
    }
    for (key, value) in &entries {
        builder.add(key, value.as_deref());
    }
    let path = dir.join("fixture.sst");
    let table = builder
        .build(0, None, &path)
        .expect("build the fixture SST");
    // Three blocks with day 7's prefix compression, four without: several either way.
    assert!(
        table.num_blocks() >= 3,
        "the fixture SST has several blocks, got {}",
        table.num_blocks()
    );
    assert_eq!(
        table.bloom().is_some(),
        bloom,
        "the fixture SST has a bloom filter exactly when asked"
    );
    (std::fs::read(&path).expect("read the fixture SST"), entries)
}

/// A framed log (WAL or manifest) and where each of its records ends.
struct RecordLog {
    bytes: Vec<u8>,
    /// Bytes before the first record (the manifest's magic).
    header: usize,
    /// Whether the first record must be intact (the manifest's snapshot): damage to it or to
    /// the header is always `Corruption`, never a torn tail.
    first_is_required: bool,
    ends: Vec<usize>,
    /// Each record's `synced` field: how much of the file was durable when it was written.
    synced: Vec<u64>,
}

impl RecordLog {
    fn read(path: &Path, header: usize, first_is_required: bool) -> RecordLog {
        let mut bytes = std::fs::read(path).expect("read the fixture log");
        let decoded =
            decode_records(&Bytes::from(bytes.clone()), header, path).expect("pristine log");
        assert!(decoded.torn_tail.is_none());
        let mut ends = Vec::new();
        let mut synced = Vec::new();
        let mut end = header;
        for payload in &decoded.payloads {
            let field = bytes[end + 4..end + 12].try_into().expect("a synced field");
            synced.push(u64::from_le_bytes(field));
            end += crate::lsm::record_file::RECORD_HEADER_SIZE + payload.len();
            ends.push(end);
        }
        // A WAL's writer preallocates zeros after its records. They are not swept: day 6's
        // `decode_records_ends_at_preallocated_zeros` covers damage among them.
        assert!(
            bytes[end..].iter().all(|&byte| byte == 0),
            "only preallocated zeros after the last record"
        );
        bytes.truncate(end);
        RecordLog {
            bytes,
            header,
            first_is_required,
            ends,
            synced,
        }
    }

    /// Where the record ending at `ends[k]` starts.
    fn start_of(&self, k: usize) -> usize {
        if k == 0 {
            self.header
        } else {
            self.ends[k - 1]
        }
    }

    /// What recovery must do with `damage`.
    fn expect(&self, damage: Damage) -> Expect {
        let n = self.ends.len();
        let required_end = if self.first_is_required {
            self.ends[0]
        } else {
            self.header
        };
        match damage {
            Damage::Flip { at, .. } if at < required_end => Expect::Reject { record: 0 },
            Damage::Truncate { len } if len < required_end => Expect::Reject { record: 0 },
            Damage::Flip { at, .. } => {
                let record = self.ends.partition_point(|&end| end <= at);
                let start = self.start_of(record) as u64;
                // A later intact record written after a sync covering this one proves it was
                // durable: damage. Without such a witness it lies in the unsynced tail.
                let witnessed = self.synced[record + 1..].iter().any(|&s| s > start);
                if witnessed {
                    Expect::Reject { record }
                } else if record + 1 < n {
                    Expect::Prefix {
                        keep: record,
                        torn: true,
                    }
                } else {
                    Expect::RejectOrTorn { keep: n - 1 }
                }
            }
            Damage::Truncate { len } => {
                let keep = self.ends.partition_point(|&end| end <= len);
                Expect::Prefix {
                    keep,
                    torn: len != self.start_of(keep),
                }
            }
        }
    }
}

/// What recovering a damaged log must give.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// A damaged record with more after it: [`Error::Corruption`].
    Reject { record: usize },
    /// A damaged last record: `Corruption`, or the first `keep` records with a torn tail.
    RejectOrTorn { keep: usize },
    /// A cut: exactly the first `keep` records, with a torn tail iff the cut is mid-record.
    Prefix { keep: usize, torn: bool },
}

/// Write batches for the WAL fixture: several entries, tombstones, an empty value.
fn wal_batches() -> Vec<Vec<WalEntry>> {
    let entry = |key: &str, value: Option<&str>| {
        (
            Bytes::copy_from_slice(key.as_bytes()),
            value.map(|v| Bytes::copy_from_slice(v.as_bytes())),
        )
    };
    vec![
        vec![entry("apple", Some("red"))],
        vec![entry("banana", Some("yellow")), entry("cherry", None)],
        vec![entry("apple", None)],
        vec![
            entry("date", Some("")),
            entry("elder", Some("berry")),
            entry("fig", Some("purple")),
        ],
        vec![entry("grape", Some("green"))],
        vec![entry("banana", None), entry("kiwi", Some("brown"))],
    ]
}

fn wal_fixture(dir: &Path) -> (RecordLog, Vec<Vec<WalEntry>>) {
    let batches = wal_batches();
    let path = dir.join("fixture.wal");
    let wal = Wal::create(&path).expect("create the fixture WAL");
    for batch in &batches {
        let entries: Vec<(&[u8], Option<&[u8]>)> = batch
            .iter()
            .map(|(key, value)| (key.as_ref(), value.as_deref()))
            .collect();
        wal.put_batch(&entries).expect("append to the fixture WAL");
    }
    wal.sync().expect("sync the fixture WAL");
    drop(wal);
    (RecordLog::read(&path, 0, false), batches)
}

fn manifest_records() -> Vec<ManifestRecord> {
    vec![
        ManifestRecord::Snapshot(TreeSnapshot {
            first_id: 1,
            next_id: 7,
            memtables: vec![1],
            l0: Vec::new(),
            levels: vec![Vec::new(), Vec::new()],
        }),
        ManifestRecord::NewMemtable(1),
        ManifestRecord::NewMemtable(2),
        ManifestRecord::Flush(1),
        ManifestRecord::Compaction {
            level: 1,
            removed: vec![1],
            added: vec![3, 4],
        },
        ManifestRecord::NewMemtable(5),
        ManifestRecord::Flush(2),
        ManifestRecord::Compaction {
            level: 2,
            removed: vec![3, 4, 2],
            added: vec![6],
        },
        ManifestRecord::Flush(5),
    ]
}

fn manifest_fixture(dir: &Path) -> (RecordLog, Vec<ManifestRecord>) {
    let records = manifest_records();
    let path = dir.join("FIXTURE-MANIFEST");
    let ManifestRecord::Snapshot(snapshot) = &records[0] else {
        unreachable!("the fixture starts with a snapshot");
    };
    let manifest = Manifest::create(&path, snapshot).expect("create the fixture manifest");
    for record in &records[1..] {
        manifest.add_record(record).expect("append to the manifest");
    }
    drop(manifest);
    (RecordLog::read(&path, MANIFEST_MAGIC.len(), true), records)
}

// ---------------------------------------------------------------------------------------------
// Decoder checks
// ---------------------------------------------------------------------------------------------

fn check_block(raw: &[u8], written: &[Entry]) -> Verdict {
    let block = match Block::decode(Bytes::copy_from_slice(raw)) {
        Err(Error::Corruption {
            file: None, offset, ..
        }) if offset <= raw.len() as u64 => return Ok(Outcome::Rejected),
        Err(other) => return Err(format!("not a Corruption inside the block: {other:?}")),
        Ok(block) => Arc::new(block),
    };
    // No checksum: the bytes may decode into other entries, but they must be well-formed.
    let mut iter = BlockIterator::create_and_seek_to_first(Arc::clone(&block));
    let mut decoded = Vec::new();
    while iter.is_valid() {
        if decoded.len() == block.len() {
            return Err(format!("iterates past its {} entries", block.len()));
        }
        let key = iter.key().to_vec();
        if key.is_empty() {
            return Err("decoded an empty key".into());
        }
        decoded.push(key);
        let _ = iter.value();
        iter.next().map_err(|e| format!("next failed: {e}"))?;
    }
    if decoded.len() != block.len() {
        return Err(format!(
            "iterates {} of {} entries",
            decoded.len(),
            block.len()
        ));
    }
    for key in written.iter().map(|(key, _)| key).chain(&decoded) {
        let iter = BlockIterator::create_and_seek_to_key(Arc::clone(&block), key);
        if iter.is_valid() {
            let _ = (iter.key(), iter.value());
        }
    }
    Ok(Outcome::Unchecked)
}

/// Everything an SST gives back: every block read directly, a full iteration, and a point
/// lookup (bloom filter, then seek) of every written key.
type SstRead = (Vec<Entry>, Vec<Option<Option<Vec<u8>>>>);

fn read_sst(path: &Path, written: &[Entry]) -> crate::lsm::Result<SstRead> {
    let table = Arc::new(SsTable::open(0, None, FileObject::open(path)?)?);
    for block in 0..table.num_blocks() {
        table.read_block(block)?;
    }
    let mut all = Vec::new();
    let mut iter = SsTableIterator::create_and_seek_to_first(Arc::clone(&table))?;
    while iter.is_valid() {
        all.push((iter.key().to_vec(), iter.value().map(<[u8]>::to_vec)));
        iter.next()?;
    }
    let mut lookups = Vec::new();
    for (key, _) in written {
        let found = if table.may_contain(key) {
            let iter = SsTableIterator::create_and_seek_to_key(Arc::clone(&table), key)?;
            (iter.is_valid() && iter.key() == key.as_slice())
                .then(|| iter.value().map(<[u8]>::to_vec))
        } else {
            None
        };
        lookups.push(found);
    }
    Ok((all, lookups))
}

fn check_sst(path: &Path, written: &[Entry]) -> Verdict {
    match read_sst(path, written) {
        Err(error) if is_typed_damage_error(&error) => Ok(Outcome::Rejected),
        Err(other) => Err(format!("not a typed damage error: {other:?}")),
        Ok((all, lookups)) => {
            let expected: Vec<_> = written.iter().map(|(_, v)| Some(v.clone())).collect();
            if all == written && lookups == expected {
                Err("damage went undetected, although every byte of an SST is checksummed".into())
            } else {
                Err(format!(
                    "WRONG DATA: iterated {all:?}, looked up {lookups:?}"
                ))
            }
        }
    }
}

/// Checks a recovered log against what was written and what `expect` allows. `file_len` is the
/// length of the log file after recovery (a torn tail must have been cut off).
fn check_log<T: PartialEq + Debug>(
    expect: Expect,
    written: &[T],
    recovered: crate::lsm::Result<(Vec<T>, Option<TornTail>)>,
    (header, ends): (usize, &[usize]),
    (damaged_len, file_len): (u64, impl FnOnce() -> u64),
) -> Verdict {
    let (records, torn) = match (expect, recovered) {
        (Expect::Reject { .. } | Expect::RejectOrTorn { .. }, Err(Error::Corruption { .. })) => {
            return Ok(Outcome::Rejected);
        }
        (_, Err(other)) => return Err(format!("{expect:?}, but recovery failed: {other:?}")),
        (Expect::Reject { record }, Ok((records, _))) => {
            return Err(format!(
                "damage in record {record} (not the last) went unreported; recovered {records:?}"
            ));
        }
        (_, Ok(recovered)) => recovered,
    };
    let (keep, want_torn) = match expect {
        Expect::RejectOrTorn { keep } => (keep, true),
        Expect::Prefix { keep, torn } => (keep, torn),
        Expect::Reject { .. } => unreachable!(),
    };
    if records.len() > written.len() || records[..] != written[..records.len()] {
        return Err(format!(
            "WRONG DATA: recovered {records:?}, not a prefix of {written:?}"
        ));
    }
    if records.len() != keep {
        return Err(format!(
            "{expect:?}: recovered {} records, expected {keep}",
            records.len()
        ));
    }
    if torn.is_some() != want_torn {
        return Err(format!("{expect:?}: torn tail {torn:?}"));
    }
    let keep_bytes = if keep == 0 { header } else { ends[keep - 1] } as u64;
    if let Some(torn) = &torn
        && torn.offset != keep_bytes
    {
        return Err(format!(
            "torn tail at {}, expected {keep_bytes}",
            torn.offset
        ));
    }
    // Recovery only reads: the damaged file is left as it was.
    let len = file_len();
    if len != damaged_len {
        return Err(format!(
            "after recovery the file is {len} bytes, expected it unchanged at {damaged_len}"
        ));
    }
    Ok(Outcome::Correct)
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(u64::MAX)
}

// ---------------------------------------------------------------------------------------------
// Decoder sweeps
// ---------------------------------------------------------------------------------------------

const WATCHDOG: Duration = Duration::from_secs(900);

pub fn sweep_block(check: Check, plan: Plan) -> u64 {
    let (raw, written) = block_fixture();
    let inputs = Arc::new(AtomicU64::new(0));
    let counted = Arc::clone(&inputs);
    with_watchdog(check, "block", WATCHDOG, move |mut sweep| {
        for damage in plan.damages(raw.len()) {
            let damaged = damage.apply(&raw);
            sweep.input(
                || format!("block {damage:?}"),
                || check_block(&damaged, &written),
            );
        }
        counted.store(sweep.finish(), Ordering::Relaxed);
    });
    inputs.load(Ordering::Relaxed)
}

/// The SST sweep; with `bloom` (day 7) the SST has a bloom filter.
pub fn sweep_sst(check: Check, plan: Plan, bloom: bool) -> u64 {
    let dir = scratch_dir("mini-lsm-sweep");
    let (raw, written) = sst_fixture(dir.path(), bloom);
    let inputs = Arc::new(AtomicU64::new(0));
    let counted = Arc::clone(&inputs);
    with_watchdog(check, "sst", WATCHDOG, move |mut sweep| {
        for damage in plan.damages(raw.len()) {
            let path = fresh_path(dir.path(), "sst");
            std::fs::write(&path, damage.apply(&raw)).expect("write a damaged SST");
            sweep.input(
                || format!("SST of {} bytes, {damage:?}", raw.len()),
                || check_sst(&path, &written),
            );
            std::fs::remove_file(&path).expect("remove a damaged SST");
        }
        counted.store(sweep.finish(), Ordering::Relaxed);
    });
    inputs.load(Ordering::Relaxed)
}

pub fn sweep_wal(check: Check, plan: Plan) -> u64 {
    let dir = scratch_dir("mini-lsm-sweep");
    let (log, batches) = wal_fixture(dir.path());
    let inputs = Arc::new(AtomicU64::new(0));
    let counted = Arc::clone(&inputs);
    with_watchdog(check, "wal", WATCHDOG, move |mut sweep| {
        for damage in plan.damages(log.bytes.len()) {
            let path = fresh_path(dir.path(), "wal");
            let damaged = damage.apply(&log.bytes);
            std::fs::write(&path, &damaged).expect("write a damaged WAL");
            sweep.input(
                || format!("WAL of {} bytes, {damage:?}", log.bytes.len()),
                || {
                    let recovered = Wal::recover(&path).map(|r| (r.batches, r.torn_tail));
                    let len = damaged.len() as u64;
                    check_log(
                        log.expect(damage),
                        &batches,
                        recovered,
                        (log.header, &log.ends),
                        (len, || file_len(&path)),
                    )
                },
            );
            std::fs::remove_file(&path).expect("remove a damaged WAL");
        }
        counted.store(sweep.finish(), Ordering::Relaxed);
    });
    inputs.load(Ordering::Relaxed)
}

pub fn sweep_manifest(check: Check, plan: Plan) -> u64 {
    let dir = scratch_dir("mini-lsm-sweep");
    let (log, records) = manifest_fixture(dir.path());
    let inputs = Arc::new(AtomicU64::new(0));
    let counted = Arc::clone(&inputs);
    with_watchdog(check, "manifest", WATCHDOG, move |mut sweep| {
        for damage in plan.damages(log.bytes.len()) {
            let path = fresh_path(dir.path(), "manifest");
            let damaged = damage.apply(&log.bytes);
            std::fs::write(&path, &damaged).expect("write a damaged manifest");
            sweep.input(
                || format!("manifest of {} bytes, {damage:?}", log.bytes.len()),
                || {
                    let recovered = Manifest::recover(&path).map(|r| (r.records, r.torn_tail));
                    let len = damaged.len() as u64;
                    check_log(
                        log.expect(damage),
                        &records,
                        recovered,
                        (log.header, &log.ends),
                        (len, || file_len(&path)),
                    )
                },
            );
            std::fs::remove_file(&path).expect("remove a damaged manifest");
        }
        counted.store(sweep.finish(), Ordering::Relaxed);
    });
    inputs.load(Ordering::Relaxed)
}

// ---------------------------------------------------------------------------------------------
// Whole-engine sweeps
// ---------------------------------------------------------------------------------------------

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

/// Options that keep the tree's shape under the test's control.
fn engine_options() -> LsmOptions {
    LsmOptions {
        block_size: 128,
        memtable_size: 1 << 20,
        target_sst_size: 1024,
        max_immutable_memtables: usize::MAX,
        background_compaction: false,
        compaction: CompactionOptions::Leveled(LeveledCompactionOptions {
            level0_file_num_compaction_trigger: 2,
            level_size_multiplier: 2,
            base_level_size_bytes: 4096,
            max_levels: 3,
        }),
        ..LsmOptions::for_day(6)
    }
}

/// Every key the engine fixtures write, plus a few never written.
fn universe() -> Vec<Vec<u8>> {
    let mut keys: Vec<Vec<u8>> = (0..40).map(|i| format!("key{i:03}").into_bytes()).collect();
    keys.push(b"a".to_vec());
    keys.push(b"key".to_vec());
    keys.push(b"zzz".to_vec());
    keys
}

fn put(db: &MiniLsm, model: &mut Model, key: &str, value: &str) {
    db.put(key.as_bytes(), value.as_bytes()).expect("put");
    model.insert(key.as_bytes().to_vec(), value.as_bytes().to_vec());
}

fn delete(db: &MiniLsm, model: &mut Model, key: &str) {
    db.delete(key.as_bytes()).expect("delete");
    model.remove(key.as_bytes());
}

/// A directory with SSTs in L0 and in a level and a manifest holding every record type, the
/// last one a flush; its memtable is empty. Returns the final state.
fn tree_fixture(dir: &Path) -> Model {
    let db = MiniLsm::open(dir, engine_options()).expect("open the fixture engine");
    let mut model = Model::new();
    for i in 0..30 {
        put(
            &db,
            &mut model,
            &format!("key{i:03}"),
            &format!("first-{i}"),
        );
    }
    db.force_flush().expect("flush");
    for i in (0..30).step_by(3) {
        put(
            &db,
            &mut model,
            &format!("key{i:03}"),
            &format!("second-{i}"),
        );
    }
    delete(&db, &mut model, "key004");
    db.force_flush().expect("flush");
    db.force_full_compaction().expect("full compaction");
    for i in (20..40).step_by(2) {
        put(
            &db,
            &mut model,
            &format!("key{i:03}"),
            &format!("third-{i}"),
        );
    }
    delete(&db, &mut model, "key001");
    db.force_flush().expect("flush");
    let shape = db.shape();
    assert_eq!(shape.l0.len(), 1, "{shape}");
    assert!(!shape.levels.iter().all(|l| l.ssts.is_empty()), "{shape}");
    db.close().expect("close");
    model
}

/// A directory whose only data is in the WAL of its memtable, one record per write. Returns the
/// state after each number of records (`states[k]`: after the first `k`).
fn wal_dir_fixture(dir: &Path) -> Vec<Model> {
    let db = MiniLsm::open(dir, engine_options()).expect("open the fixture engine");
    let mut model = Model::new();
    let mut states = vec![model.clone()];
    for i in 0..6 {
        put(&db, &mut model, &format!("key{i:03}"), &format!("v{i}"));
        states.push(model.clone());
    }
    delete(&db, &mut model, "key002");
    states.push(model.clone());
    db.write_batch(&[
        WriteBatchRecord::Put(&b"key010"[..], &b"batched"[..]),
        WriteBatchRecord::Delete(&b"key003"[..]),
        WriteBatchRecord::Put(&b"key011"[..], &b""[..]),
    ])
    .expect("write a batch");
    model.insert(b"key010".to_vec(), b"batched".to_vec());
    model.remove(&b"key003"[..]);
    model.insert(b"key011".to_vec(), Vec::new());
    states.push(model.clone());
    put(&db, &mut model, "key000", "last");
    states.push(model.clone());
    db.close().expect("close");
    states
}

/// What an engine gives back: a full scan and a `get` of every key of the universe.
type EngineRead = (Vec<(Vec<u8>, Vec<u8>)>, Vec<Option<Vec<u8>>>);

fn expected_read(model: &Model) -> EngineRead {
    let scan = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let gets = universe().iter().map(|k| model.get(k).cloned()).collect();
    (scan, gets)
}

fn open_and_read(dir: &Path) -> crate::lsm::Result<EngineRead> {
    let db = MiniLsm::open(dir, engine_options())?;
    let read = (|| {
        let mut scan = Vec::new();
        for entry in db.scan(Bound::Unbounded, Bound::Unbounded)? {
            let (key, value) = entry?;
            scan.push((key.to_vec(), value.to_vec()));
        }
        let mut gets = Vec::new();
        for key in universe() {
            gets.push(db.get(&key)?.map(|v| v.to_vec()));
        }
        Ok((scan, gets))
    })();
    let closed = db.close();
    let read = read?;
    closed?;
    Ok(read)
}

/// Copies the engine directory `from` to a fresh directory in `scratch`, with `file` damaged.
fn damaged_copy(scratch: &Path, from: &Path, file: &str, damage: Damage) -> PathBuf {
    let to = fresh_path(scratch, "db");
    std::fs::create_dir(&to).expect("create a damaged copy");
    for entry in std::fs::read_dir(from).expect("read the fixture dir") {
        let entry = entry.expect("read the fixture dir");
        let name = entry.file_name();
        let mut data = std::fs::read(entry.path()).expect("read a fixture file");
        if name == file {
            data = damage.apply(&data);
        }
        std::fs::write(to.join(&name), data).expect("write a damaged copy");
    }
    to
}

/// Opens a damaged engine directory and reads everything: a typed error, or one of `allowed`
/// (with `must_reject`, only a typed error).
/// Every file of `dir` (but the lock file) with its bytes.
fn dir_contents(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .expect("read a damaged copy")
        .map(|entry| entry.expect("read a damaged copy").path())
        .filter(|path| !path.ends_with("LOCK"))
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (
                name,
                std::fs::read(&path).expect("read a file of a damaged copy"),
            )
        })
        .collect()
}

/// A full scan's entries as `key=value`, escaped, for a failure message.
fn show_scan(entries: &[(Vec<u8>, Vec<u8>)]) -> String {
    let shown: Vec<String> = entries
        .iter()
        .map(|(k, v)| format!("{}={}", crate::show(k), crate::show(v)))
        .collect();
    format!("[{}]", shown.join(", "))
}

fn check_engine(dir: &Path, allowed: &[&Model], must_reject: bool) -> Verdict {
    // An open that fails must leave every file as it was.
    let before = dir_contents(dir);
    if let Err(error) = MiniLsm::open(dir, engine_options())
        && dir_contents(dir) != before
    {
        return Err(format!("the failed open ({error}) changed files"));
    }
    match open_and_read(dir) {
        Err(error) if is_typed_damage_error(&error) => Ok(Outcome::Rejected),
        Err(other) => Err(format!("not a typed damage error: {other:?}")),
        Ok(read) => {
            let matches = allowed.iter().any(|model| expected_read(model) == read);
            match (matches, must_reject) {
                (true, false) => Ok(Outcome::Correct),
                (true, true) => Err("the damage went unreported".into()),
                (false, _) => Err(format!(
                    "WRONG DATA: a full scan read {}",
                    show_scan(&read.0)
                )),
            }
        }
    }
}

pub fn sweep_engine(check: Check, plan: Plan, sst_plan: Plan) -> u64 {
    let scratch = scratch_dir("mini-lsm-sweep");
    let tree_dir = scratch.path().join("tree");
    let final_state = tree_fixture(&tree_dir);
    let wal_dir = scratch.path().join("wal");
    let states = wal_dir_fixture(&wal_dir);
    let inputs = Arc::new(AtomicU64::new(0));
    let counted = Arc::clone(&inputs);
    with_watchdog(check, "engine", WATCHDOG, move |mut sweep| {
        let scratch = scratch.path();
        // The MANIFEST: its last record is the last flush, and that flush has completed: its
        // WAL is deleted. Losing the record (torn, damaged or cut off) leaves the flushed SST
        // looking like an orphan with no WAL behind it, which no crash can produce (the WAL
        // goes only after the record is durable): the engine must refuse to open rather than
        // delete the SST and, with it, the flushed writes. Damage is only in that record: a
        // crash can tear only the record being written.
        let manifest = RecordLog::read(&tree_dir.join("MANIFEST"), MANIFEST_MAGIC.len(), true);
        let last = manifest.start_of(manifest.ends.len() - 1);
        for damage in plan.damages_from(manifest.bytes.len(), last) {
            let dir = damaged_copy(scratch, &tree_dir, "MANIFEST", damage);
            sweep.input(
                || format!("engine, MANIFEST {damage:?}"),
                || check_engine(&dir, &[], true),
            );
            std::fs::remove_dir_all(&dir).expect("remove a damaged copy");
        }
        // Every SST: checksummed, so any damage must be reported at open or while reading.
        let mut ssts: Vec<_> = std::fs::read_dir(&tree_dir)
            .expect("read the fixture dir")
            .map(|entry| entry.expect("read the fixture dir").file_name())
            .filter(|name| name.to_string_lossy().ends_with(".sst"))
            .collect();
        ssts.sort();
        assert!(ssts.len() >= 2, "the fixture has SSTs in L0 and in a level");
        for sst in &ssts {
            let name = sst.to_string_lossy().into_owned();
            let len = std::fs::read(tree_dir.join(sst))
                .expect("read an SST")
                .len();
            for damage in sst_plan.damages(len) {
                let dir = damaged_copy(scratch, &tree_dir, &name, damage);
                sweep.input(
                    || format!("engine, {name} of {len} bytes, {damage:?}"),
                    || check_engine(&dir, &[&final_state], true),
                );
                std::fs::remove_dir_all(&dir).expect("remove a damaged copy");
            }
        }
        // The WAL: one record per write.
        let wal_name = std::fs::read_dir(&wal_dir)
            .expect("read the fixture dir")
            .map(|entry| entry.expect("read the fixture dir").file_name())
            .find(|name| name.to_string_lossy().ends_with(".wal"))
            .expect("the fixture has a WAL")
            .to_string_lossy()
            .into_owned();
        let wal = RecordLog::read(&wal_dir.join(&wal_name), 0, false);
        let writes = states.len() - 1;
        assert_eq!(
            wal.ends.len(),
            writes + 1,
            "one WAL record per write, then the seal written by close"
        );
        for damage in plan.damages(wal.bytes.len()) {
            let dir = damaged_copy(scratch, &wal_dir, &wal_name, damage);
            let (allowed, must_reject) = match wal.expect(damage) {
                Expect::Reject { .. } => (vec![], true),
                Expect::RejectOrTorn { keep } => (vec![&states[keep.min(writes)]], false),
                Expect::Prefix { keep, .. } => (vec![&states[keep.min(writes)]], false),
            };
            sweep.input(
                || format!("engine, {wal_name} {damage:?}"),
                || {
                    let outcome = check_engine(&dir, &allowed, must_reject)?;
                    if matches!(damage, Damage::Truncate { .. }) && outcome != Outcome::Correct {
                        return Err("a cut WAL must recover the records before the cut".into());
                    }
                    Ok(outcome)
                },
            );
            std::fs::remove_dir_all(&dir).expect("remove a damaged copy");
        }
        counted.store(sweep.finish(), Ordering::Relaxed);
    });
    inputs.load(Ordering::Relaxed)
}

#[cfg(all(test, feature = "reference"))]
mod tests {
    use super::*;

    /// The full sweep covers at least 100 000 damaged inputs across the decoders (counted from
    /// the fixtures, without running it).
    #[test]
    fn full_sweep_has_at_least_100k_decoder_inputs() {
        let dir = scratch_dir("mini-lsm-sweep");
        let plan = Plan::full();
        let sizes = [
            block_fixture().0.len(),
            sst_fixture(dir.path(), true).0.len(),
            wal_fixture(dir.path()).0.bytes.len(),
            manifest_fixture(dir.path()).0.bytes.len(),
        ];
        let total: usize = sizes.iter().map(|&len| plan.damages(len).len()).sum();
        assert!(
            total >= 100_000,
            "{total} inputs for fixtures of {sizes:?} bytes"
        );
    }
}
