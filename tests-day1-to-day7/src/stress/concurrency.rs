//! Many threads read and write while the engine flushes (and, from day 5, compacts), and every
//! read must be linearizable for its key.
//!
//! Writer `w` owns a disjoint set of keys and writes each with increasing versions: a put stores
//! a value that spells out its key and version, a delete is a tombstone version (which versions
//! are deletes is a function of the seed, so readers know it too), and some writes go through
//! `write_batch`, sometimes twice to the same key. Each key has two shared counters: `started`,
//! the newest version a writer has begun to write, and `acked`, the newest version whose write
//! returned. For a read of a key, with `acked` loaded before it starts and `started` loaded after
//! it returns, the version it sees must
//! - have been written: the value is exactly the one written for that key and version, and no
//!   newer than `started` (no phantoms);
//! - be at least `acked` (no stale reads), and at least what the same reader saw for the key
//!   before (monotonic reads). A missing key is a read of a tombstone version, or of version 0
//!   (never written), in that window.
//!
//! Scans (with random bounds) are read the same way for every key inside their bounds, and
//! must return keys in strictly increasing order, inside the bounds. Meanwhile the engine's
//! background threads run constantly (tiny memtables and SSTs), and a "chaos" thread calls the
//! synchronous hooks of the check's day (flush, freeze and sync; from day 5 also full compaction
//! and compaction until idle). At the end every key must hold its last acknowledged version
//! (before and after a close and reopen, from day 6).
//!
//! A watchdog turns a deadlock into a failure: every operation bumps its thread's progress
//! counter, and if one thread's counter stops moving for `STALL` (readers going on while the
//! writers are stuck is still a deadlock) the test fails with a dump of every thread's stack
//! (through `gdb` when it is installed) and of each worker's current operation.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::ops::Bound;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{Check, rethrow_todo, seeds};
use crate::lsm::{
    CompactionOptions, LeveledCompactionOptions, LsmOptions, MiniLsm, WriteBatchRecord,
};
use bytes::Bytes;

// ---------------------------------------------------------------------------------------------
// The workload's size
// ---------------------------------------------------------------------------------------------

/// How big one run is.
#[derive(Debug, Clone, Copy)]
pub struct Workload {
    /// Writer threads.
    pub writers: usize,
    /// Keys each writer owns.
    pub keys_per_writer: usize,
    /// Writes (single puts and deletes, or batches) per writer.
    pub writes_per_writer: usize,
    /// Reader threads.
    pub readers: usize,
    /// The last day whose work the run needs: its options are `LsmOptions::for_day(day)`'s, and
    /// the chaos thread calls only that day's hooks.
    pub day: u8,
}

/// Seconds without any operation finishing, in any thread, before the watchdog calls it a
/// deadlock. Generous: the machine may be busy, and a debug-build full compaction is slow.
const STALL: Duration = Duration::from_secs(30);

/// Tiny sizes: memtables freeze every few dozen writes, and from day 5 L0 compacts every two
/// flushes.
fn options(day: u8) -> LsmOptions {
    LsmOptions {
        block_size: 128,
        memtable_size: 1024,
        target_sst_size: 1024,
        max_immutable_memtables: 1,
        compaction: if day >= 5 {
            CompactionOptions::Leveled(LeveledCompactionOptions {
                level0_file_num_compaction_trigger: 2,
                level_size_multiplier: 2,
                base_level_size_bytes: 2048,
                max_levels: 3,
            })
        } else {
            CompactionOptions::NoCompaction
        },
        background_compaction: day >= 5,
        ..LsmOptions::for_day(day)
    }
}

// ---------------------------------------------------------------------------------------------
// Keys, values, versions
// ---------------------------------------------------------------------------------------------

/// SplitMix64: a tiny deterministic RNG, seeded per thread.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.0)
    }

    /// A number in `0..n`.
    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// SplitMix64's output function: a good hash of one `u64`.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// What every thread knows about the run: the seed and the key space.
#[derive(Debug, Clone, Copy)]
struct Plan {
    seed: u64,
    workload: Workload,
}

impl Plan {
    fn num_keys(&self) -> usize {
        self.workload.writers * self.workload.keys_per_writer
    }

    /// Key number `id`: `w<writer>k<index>`, so that key order is id order and each writer's
    /// keys form one range.
    fn key(&self, id: usize) -> Vec<u8> {
        let per_writer = self.workload.keys_per_writer;
        format!("w{:02}k{:04}", id / per_writer, id % per_writer).into_bytes()
    }

    /// The id of `key`, if it is one of the run's keys.
    fn key_id(&self, key: &[u8]) -> Option<usize> {
        (0..self.num_keys()).find(|&id| self.key(id) == key)
    }

    /// Whether version `version` of key `id` is a delete; version 0 is "never written", which
    /// reads the same as a delete. One in five writes is a delete.
    fn is_delete(&self, id: usize, version: u64) -> bool {
        version == 0 || mix(self.seed ^ ((id as u64) << 40) ^ version).is_multiple_of(5)
    }
}

/// The value of version `version` of `key`: the key, the version, and padding of a varying
/// length, so that a value read back names exactly which write it came from.
fn value(key: &[u8], version: u64) -> Vec<u8> {
    let mut value = key.to_vec();
    value.extend_from_slice(format!("@{version}#").as_bytes());
    value.resize(
        value.len() + (version % 40) as usize,
        b'a' + (version % 26) as u8,
    );
    value
}

/// The version a value claims to be, if it is well formed.
fn claimed_version(value: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(value).ok()?;
    let (_, rest) = text.split_once('@')?;
    let (version, _) = rest.split_once('#')?;
    version.parse().ok()
}

/// Per key, the newest version a writer has begun to write and the newest acknowledged one.
struct Versions {
    started: Vec<AtomicU64>,
    acked: Vec<AtomicU64>,
}

impl Versions {
    fn new(num_keys: usize) -> Self {
        let zeros = || (0..num_keys).map(|_| AtomicU64::new(0)).collect();
        Versions {
            started: zeros(),
            acked: zeros(),
        }
    }

    fn acked(&self, id: usize) -> u64 {
        self.acked[id].load(Ordering::SeqCst)
    }

    fn started(&self, id: usize) -> u64 {
        self.started[id].load(Ordering::SeqCst)
    }
}

/// Checks one read of key `id` that returned `got`, with `acked` loaded before the read began,
/// `started` loaded after it returned, and `seen` the newest version this reader saw before.
/// Returns the oldest version the read can have seen, the reader's new `seen`.
fn check_read(
    plan: &Plan,
    id: usize,
    got: Option<&[u8]>,
    (acked, seen, started): (u64, u64, u64),
) -> Result<u64, String> {
    let key = plan.key(id);
    let key_text = key.escape_ascii();
    let window = format!(
        "acked before the read {acked}, seen by this reader {seen}, started after it {started}"
    );
    let oldest_allowed = acked.max(seen);
    let Some(got) = got else {
        // Absent: the read saw a tombstone version (or none at all) within the window.
        return (oldest_allowed..=started)
            .find(|&version| plan.is_delete(id, version))
            .ok_or_else(|| {
                format!(
                    "{key_text} read as absent, but every version in the window is a put ({window})"
                )
            });
    };
    let Some(version) = claimed_version(got).filter(|&v| got == value(&key, v)) else {
        return Err(format!(
            "phantom: {key_text} read as {:?}, which no writer wrote ({window})",
            got.escape_ascii().to_string()
        ));
    };
    if version > started || plan.is_delete(id, version) {
        Err(format!(
            "phantom: {key_text} read at version {version}, which was never written as a put ({window})"
        ))
    } else if version < acked {
        Err(format!(
            "stale read: {key_text} read at version {version} ({window})"
        ))
    } else if version < seen {
        Err(format!(
            "non-monotonic read: {key_text} read at version {version} ({window})"
        ))
    } else {
        Ok(version)
    }
}

// ---------------------------------------------------------------------------------------------
// Workers, their progress and their current operation
// ---------------------------------------------------------------------------------------------

/// What every worker thread shares.
struct Shared {
    check: Check,
    plan: Plan,
    db: Arc<MiniLsm>,
    versions: Versions,
    /// Operations finished, per worker; the watchdog wants each to keep moving.
    progress: Vec<AtomicU64>,
    /// Writers still running; readers and the chaos thread stop when it reaches 0.
    writers_running: AtomicUsize,
    /// Set when a worker fails, so that the others stop early.
    failed: AtomicBool,
    /// Each worker's current operation, printed when the watchdog fires.
    slots: Vec<Mutex<String>>,
}

impl Shared {
    /// Records that worker `slot` is starting `op`.
    fn begin(&self, slot: usize, op: impl FnOnce() -> String) {
        *self.slots[slot].lock().unwrap_or_else(|e| e.into_inner()) = op();
    }

    /// Records that worker `slot` finished an operation.
    fn tick(&self, slot: usize) {
        self.progress[slot].fetch_add(1, Ordering::SeqCst);
    }

    /// Whether readers and the chaos thread should stop.
    fn should_stop(&self) -> bool {
        self.writers_running.load(Ordering::SeqCst) == 0 || self.failed.load(Ordering::SeqCst)
    }

    fn op_slots(&self) -> String {
        let lines: Vec<String> = self
            .slots
            .iter()
            .enumerate()
            .map(|(i, slot)| {
                format!(
                    "  worker {i}: {}",
                    slot.lock().unwrap_or_else(|e| e.into_inner())
                )
            })
            .collect();
        lines.join("\n")
    }
}

/// Fails the run (and stops the other workers) with the seed in the message.
fn fail(shared: &Shared, who: &str, message: &str) -> ! {
    shared.failed.store(true, Ordering::SeqCst);
    shared
        .check
        .fail(shared.plan.seed, &format!("{who}: {message}"), "");
}

fn expect_ok<T>(shared: &Shared, who: &str, what: &str, result: crate::lsm::Result<T>) -> T {
    result.unwrap_or_else(|e| fail(shared, who, &format!("{what} failed: {e}")))
}

/// Counts a writer as finished when dropped, even when it panics, so that the readers stop.
struct WriterDone<'a>(&'a Shared);

impl Drop for WriterDone<'_> {
    fn drop(&mut self) {
        self.0.writers_running.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Writer `w`: `writes_per_writer` writes to its own keys, a single put or delete or a batch of
/// up to four (sometimes repeating a key), each key's versions increasing by one per write.
fn writer(shared: &Shared, slot: usize, w: usize) {
    let _done = WriterDone(shared);
    let plan = shared.plan;
    let who = format!("writer {w}");
    let mut rng = Rng(plan.seed ^ mix(0x5717_e000 + w as u64));
    let per_writer = plan.workload.keys_per_writer;
    let mut next_version = vec![1u64; per_writer];
    for write in 0..plan.workload.writes_per_writer {
        if shared.failed.load(Ordering::SeqCst) {
            return;
        }
        if write % 8 == 0 {
            help_flush(shared, slot, &who);
        }
        let len = if rng.below(4) == 0 {
            1 + rng.below(4)
        } else {
            1
        };
        let mut writes: Vec<(usize, u64)> = Vec::with_capacity(len);
        for _ in 0..len {
            let index = match writes.last() {
                Some(&(id, _)) if rng.below(5) == 0 => id - w * per_writer,
                _ => rng.below(per_writer),
            };
            writes.push((w * per_writer + index, next_version[index]));
            next_version[index] += 1;
        }
        let keys: Vec<Vec<u8>> = writes.iter().map(|&(id, _)| plan.key(id)).collect();
        let records: Vec<WriteBatchRecord<&[u8], Vec<u8>>> = writes
            .iter()
            .zip(&keys)
            .map(|(&(id, version), key)| {
                if plan.is_delete(id, version) {
                    WriteBatchRecord::Delete(key.as_slice())
                } else {
                    WriteBatchRecord::Put(key.as_slice(), value(key, version))
                }
            })
            .collect();
        let description = describe(&records);
        shared.begin(slot, || format!("{who}: {description}"));
        for &(id, version) in &writes {
            shared.versions.started[id].store(version, Ordering::SeqCst);
        }
        let result = match records.as_slice() {
            [WriteBatchRecord::Put(key, value)] => shared.db.put(key, value),
            [WriteBatchRecord::Delete(key)] => shared.db.delete(key),
            _ => shared.db.write_batch(&records),
        };
        expect_ok(shared, &who, &description, result);
        for &(id, version) in &writes {
            shared.versions.acked[id].store(version, Ordering::SeqCst);
        }
        shared.tick(slot);
    }
    shared.begin(slot, || format!("{who}: finished"));
}

/// `records` for a failure message: `put k=v`, `delete k`, or `batch [...]` of them.
fn describe(records: &[WriteBatchRecord<&[u8], Vec<u8>>]) -> String {
    let one = |record: &WriteBatchRecord<&[u8], Vec<u8>>| match record {
        WriteBatchRecord::Put(key, value) => {
            format!("put {}={}", key.escape_ascii(), value.escape_ascii())
        }
        WriteBatchRecord::Delete(key) => format!("delete {}", key.escape_ascii()),
    };
    match records {
        [record] => one(record),
        _ => format!(
            "batch [{}]",
            records.iter().map(one).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// A scan bound for a failure message, its key escaped.
fn show_bound(bound: &Bound<Vec<u8>>) -> String {
    match bound {
        Bound::Included(key) => format!("Included({})", key.escape_ascii()),
        Bound::Excluded(key) => format!("Excluded({})", key.escape_ascii()),
        Bound::Unbounded => "Unbounded".to_string(),
    }
}

/// Frozen memtables a writer tolerates before it flushes one itself.
const MAX_BACKLOG: usize = 4;

/// The engine has no write stall: writers can freeze memtables faster than the flush thread
/// writes them out, and the backlog (which `force_flush` must clear) grows without bound. So a
/// writer that finds too many frozen memtables flushes the oldest itself, as RocksDB's writers
/// stall; this also runs flushes from several threads at once.
fn help_flush(shared: &Shared, slot: usize, who: &str) {
    if shared.db.shape().immutable_memtables.len() > MAX_BACKLOG {
        shared.begin(slot, || {
            format!("{who}: force_flush_next_imm_memtable (backlog)")
        });
        let flushed = shared.db.force_flush_next_imm_memtable();
        expect_ok(shared, who, "force_flush_next_imm_memtable", flushed);
    }
}

/// A scan bound on the key space: unbounded, or around a key, a gap after it, or a writer's
/// prefix.
fn random_bound(rng: &mut Rng, plan: &Plan) -> Bound<Vec<u8>> {
    let mut key = plan.key(rng.below(plan.num_keys()));
    match rng.below(8) {
        0 => return Bound::Unbounded,
        1 => key.push(b'!'),
        2 => key.truncate(3),
        _ => {}
    }
    if rng.below(2) == 0 {
        Bound::Included(key)
    } else {
        Bound::Excluded(key)
    }
}

fn in_bounds(key: &[u8], lower: &Bound<Vec<u8>>, upper: &Bound<Vec<u8>>) -> bool {
    let above_lower = match lower {
        Bound::Included(lower) => key >= lower.as_slice(),
        Bound::Excluded(lower) => key > lower.as_slice(),
        Bound::Unbounded => true,
    };
    let below_upper = match upper {
        Bound::Included(upper) => key <= upper.as_slice(),
        Bound::Excluded(upper) => key < upper.as_slice(),
        Bound::Unbounded => true,
    };
    above_lower && below_upper
}

/// Reader `r`: gets and scans until the writers finish, checking each read (see the module
/// documentation) and keeping the newest version it saw of each key.
fn reader(shared: &Shared, slot: usize, r: usize) {
    let plan = shared.plan;
    let who = format!("reader {r}");
    let mut rng = Rng(plan.seed ^ mix(0x4ead_e000 + r as u64));
    let mut seen = vec![0u64; plan.num_keys()];
    while !shared.should_stop() {
        if rng.below(4) == 0 {
            let (lower, upper) = (random_bound(&mut rng, &plan), random_bound(&mut rng, &plan));
            scan_and_check(shared, slot, &who, &mut seen, (lower, upper));
        } else {
            let id = rng.below(plan.num_keys());
            let key = plan.key(id);
            shared.begin(slot, || format!("{who}: get {}", key.escape_ascii()));
            let acked = shared.versions.acked(id);
            let got = expect_ok(shared, &who, "get", shared.db.get(&key));
            let started = shared.versions.started(id);
            let window = (acked, seen[id], started);
            seen[id] = check_read(&plan, id, got.as_deref(), window)
                .unwrap_or_else(|e| fail(shared, &who, &format!("get: {e}")));
        }
        shared.tick(slot);
    }
    shared.begin(slot, || format!("{who}: finished"));
}

/// One scan, checked key by key over the run's whole key space.
fn scan_and_check(
    shared: &Shared,
    slot: usize,
    who: &str,
    seen: &mut [u64],
    (lower, upper): (Bound<Vec<u8>>, Bound<Vec<u8>>),
) {
    let plan = shared.plan;
    let bounds = format!("{}..{}", show_bound(&lower), show_bound(&upper));
    shared.begin(slot, || format!("{who}: scan {bounds}"));
    let acked: Vec<u64> = (0..plan.num_keys())
        .map(|id| shared.versions.acked(id))
        .collect();
    let scan = shared.db.scan(
        lower.as_ref().map(Vec::as_slice),
        upper.as_ref().map(Vec::as_slice),
    );
    let entries: Vec<(Bytes, Bytes)> = expect_ok(shared, who, "scan", scan)
        .into_iter()
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| fail(shared, who, &format!("scan {bounds} failed midway: {e}")));
    let started: Vec<u64> = (0..plan.num_keys())
        .map(|id| shared.versions.started(id))
        .collect();
    let fail_scan =
        |message: String| -> ! { fail(shared, who, &format!("scan {bounds}: {message}")) };
    for pair in entries.windows(2) {
        if pair[0].0 >= pair[1].0 {
            fail_scan(format!(
                "keys out of order or repeated: {} then {}",
                pair[0].0.escape_ascii(),
                pair[1].0.escape_ascii()
            ));
        }
    }
    let mut found = BTreeMap::new();
    for (key, value) in &entries {
        let Some(id) = plan.key_id(key).filter(|_| in_bounds(key, &lower, &upper)) else {
            fail_scan(format!(
                "returned {}, outside the bounds or never written",
                key.escape_ascii()
            ));
        };
        found.insert(id, value);
    }
    for id in (0..plan.num_keys()).filter(|&id| in_bounds(&plan.key(id), &lower, &upper)) {
        let got = found.get(&id).map(|value| value.as_ref());
        seen[id] = check_read(&plan, id, got, (acked[id], seen[id], started[id]))
            .unwrap_or_else(|e| fail_scan(e));
    }
}

/// Calls the synchronous hooks in a random order until the writers finish.
fn chaos(shared: &Shared, slot: usize) {
    let who = "chaos";
    let mut rng = Rng(shared.plan.seed ^ mix(0xc4a0_5000));
    let db = &shared.db;
    // The compaction hooks (2 and 3) are day 5's.
    let hooks = if shared.plan.workload.day >= 5 { 5 } else { 3 };
    while !shared.should_stop() {
        let hook = match rng.below(hooks) {
            2 if hooks == 3 => 4,
            hook => hook,
        };
        let names = [
            "force_flush",
            "force_freeze_memtable",
            "force_full_compaction",
            "compact_until_idle",
            "sync",
        ];
        shared.begin(slot, || format!("{who}: {}", names[hook]));
        let result = match hook {
            0 => db.force_flush(),
            1 => db.force_freeze_memtable().map(drop),
            2 => db.force_full_compaction(),
            3 => db.compact_until_idle().map(drop),
            _ => db.sync(),
        };
        expect_ok(shared, who, names[hook], result);
        shared.tick(slot);
    }
    shared.begin(slot, || format!("{who}: finished"));
}

// ---------------------------------------------------------------------------------------------
// The watchdog
// ---------------------------------------------------------------------------------------------

/// Why [`watch`] stopped early.
enum Stopped {
    /// A thread made no progress for the stall limit: the report.
    Stalled(String),
    /// A thread panicked: the first panic.
    Panicked(Box<dyn std::any::Any + Send>),
}

/// Waits for `threads` to finish while each one's counter in `progress` keeps moving. If an
/// unfinished thread's counter stands still for `stall`, returns an error with every thread's
/// stack and `op_slots()`; otherwise joins the threads and returns the first panic. The
/// periodic wake-up is a `recv_timeout` on the threads' "done" channel, so a healthy run returns
/// as soon as the last thread ends.
fn watch(
    threads: Vec<JoinHandle<()>>,
    progress: &[AtomicU64],
    stall: Duration,
    op_slots: impl Fn() -> String,
) -> Result<(), Stopped> {
    let (done_tx, done_rx) = channel();
    let count = threads.len();
    // One joiner per worker reports its end (and its panic, if any) on the channel.
    for (i, thread) in threads.into_iter().enumerate() {
        let done_tx = done_tx.clone();
        std::thread::spawn(move || {
            let _ = done_tx.send((i, thread.join()));
        });
    }
    let mut finished = vec![false; count];
    let mut first_panic = None;
    // Per worker: its counter when last seen to move, and when that was.
    let mut last_seen: Vec<(u64, Instant)> = progress
        .iter()
        .map(|ops| (ops.load(Ordering::SeqCst), Instant::now()))
        .collect();
    while finished.contains(&false) {
        match done_rx.recv_timeout(Duration::from_secs(1)) {
            Ok((i, joined)) => {
                finished[i] = true;
                if let Err(panic) = joined {
                    first_panic.get_or_insert(panic);
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => unreachable!("the joiners hold senders"),
        }
        let mut stalled = Vec::new();
        for (i, (ops, since)) in last_seen.iter_mut().enumerate() {
            let now = progress[i].load(Ordering::SeqCst);
            if now != *ops {
                (*ops, *since) = (now, Instant::now());
            } else if !finished[i] && since.elapsed() >= stall {
                stalled.push(i);
            }
        }
        if !stalled.is_empty() {
            return Err(Stopped::Stalled(format!(
                "no progress (a deadlock, or starvation): workers {stalled:?} finished no \
                 operation for {stall:?}\n\
                 current operations:\n{}\nthreads:\n{}",
                op_slots(),
                thread_dump()
            )));
        }
    }
    match first_panic {
        Some(panic) => Err(Stopped::Panicked(panic)),
        None => Ok(()),
    }
}

/// Every thread's stack from `gdb`, or why there is none.
///
/// gdb writes to a file, not a pipe: while it prints, every thread of this process is stopped,
/// the one that would drain a pipe included, so a full pipe would hang gdb and the test.
fn thread_dump() -> String {
    let dump = || -> std::io::Result<String> {
        let mut file = tempfile::tempfile()?;
        Command::new("gdb")
            .args(["-p", &std::process::id().to_string(), "-batch"])
            .args(["-ex", "thread apply all bt"])
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file.try_clone()?)
            .status()?;
        let mut text = String::new();
        file.seek(SeekFrom::Start(0))?;
        file.read_to_string(&mut text)?;
        Ok(text)
    };
    dump().unwrap_or_else(|e| {
        format!("(no thread dump: cannot run gdb: {e}; see the current operations)")
    })
}

// ---------------------------------------------------------------------------------------------
// A run
// ---------------------------------------------------------------------------------------------

/// Every key holds its last acknowledged version, in `get` and in a full scan.
fn check_final_state(check: Check, db: &MiniLsm, plan: &Plan, versions: &Versions, when: &str) {
    let seed = plan.seed;
    let mut expected = Vec::new();
    for id in 0..plan.num_keys() {
        let (key, version) = (plan.key(id), versions.acked(id));
        let want = (!plan.is_delete(id, version)).then(|| value(&key, version));
        let got = db.get(&key).unwrap_or_else(|e| {
            check.fail(
                seed,
                &format!("{when}: get({}) failed: {e}", key.escape_ascii()),
                "",
            )
        });
        if got.as_deref() != want.as_deref() {
            let show =
                |v: Option<&[u8]>| v.map_or("None".to_string(), |v| v.escape_ascii().to_string());
            check.fail(
                seed,
                &format!(
                    "{when}: key {} should hold its last acknowledged version {version}: \
                     expected {}, got {}",
                    key.escape_ascii(),
                    show(want.as_deref()),
                    show(got.as_deref())
                ),
                "",
            );
        }
        if let Some(want) = want {
            expected.push((Bytes::from(key), Bytes::from(want)));
        }
    }
    let scanned: Vec<(Bytes, Bytes)> = db
        .scan(Bound::Unbounded, Bound::Unbounded)
        .and_then(|scan| scan.into_iter().collect())
        .unwrap_or_else(|e| check.fail(seed, &format!("{when}: full scan failed: {e}"), ""));
    if scanned != expected {
        check.fail(
            seed,
            &format!(
                "{when}: the full scan ({} entries) differs from the last acknowledged versions \
                 ({} live keys)",
                scanned.len(),
                expected.len()
            ),
            "",
        );
    }
}

/// What a worker thread runs, given the shared state and its slot number.
type Work = dyn FnOnce(&Shared, usize) + Send;

/// Runs `workload` with `seed` in a fresh directory; fails `check` with the seed on any failure.
pub fn run(check: Check, seed: u64, workload: Workload) {
    // The system's temporary directory, on purpose not tmpfs (which the model checks prefer): on
    // a disk every fsync of these tiny SSTs takes milliseconds, and the locks must hold up at
    // that pace.
    let dir = tempfile::tempdir().expect("temp dir");
    let plan = Plan { seed, workload };
    let options = options(workload.day);
    let db = MiniLsm::open(dir.path(), options.clone())
        .unwrap_or_else(|e| check.fail(seed, &format!("open failed: {e}"), ""));
    let slot_count = workload.writers + workload.readers + 1;
    let shared = Arc::new(Shared {
        check,
        plan,
        db,
        versions: Versions::new(plan.num_keys()),
        progress: (0..slot_count).map(|_| AtomicU64::new(0)).collect(),
        writers_running: AtomicUsize::new(workload.writers),
        failed: AtomicBool::new(false),
        slots: (0..slot_count)
            .map(|_| Mutex::new(String::from("not started")))
            .collect(),
    });
    let mut threads = Vec::new();
    let mut spawn = |work: Box<Work>| {
        let (shared, slot) = (Arc::clone(&shared), threads.len());
        threads.push(std::thread::spawn(move || work(&shared, slot)));
    };
    for w in 0..workload.writers {
        spawn(Box::new(move |shared, slot| writer(shared, slot, w)));
    }
    for r in 0..workload.readers {
        spawn(Box::new(move |shared, slot| reader(shared, slot, r)));
    }
    spawn(Box::new(chaos));
    let started = Instant::now();
    match watch(threads, &shared.progress, STALL, || shared.op_slots()) {
        Ok(()) => {}
        Err(Stopped::Stalled(report)) => {
            // The stuck threads still use the directory: keep it, for them and a post-mortem.
            let dir = dir.keep();
            check.fail(
                seed,
                &format!("no progress for {STALL:?} (a deadlock, or starvation)"),
                &format!(
                    "workload {workload:?}, directory {}: {report}",
                    dir.display()
                ),
            );
        }
        // A worker's own failure already names the seed and the replay command.
        Err(Stopped::Panicked(panic))
            if super::panic_message(panic.as_ref()).starts_with("[stress") =>
        {
            std::panic::resume_unwind(panic)
        }
        Err(Stopped::Panicked(panic)) => {
            let message = rethrow_todo(panic);
            check.fail(seed, &format!("a thread panicked: {message}"), "")
        }
    }
    let elapsed = started.elapsed();
    let Ok(Shared {
        db,
        versions,
        progress,
        ..
    }) = Arc::try_unwrap(shared)
    else {
        unreachable!("every worker has been joined")
    };
    check_final_state(check, &db, &plan, &versions, "after the workload");
    db.close()
        .unwrap_or_else(|e| check.fail(seed, &format!("close failed: {e}"), ""));
    let stats = db.stats();
    if workload.day >= 6 {
        // The directory stays locked until the last handle is dropped, not just closed.
        drop(db);
        let reopened = MiniLsm::open(dir.path(), options)
            .unwrap_or_else(|e| check.fail(seed, &format!("reopen failed: {e}"), ""));
        check_final_state(check, &reopened, &plan, &versions, "after close and reopen");
    }
    println!(
        "seed {seed}: {} operations in {elapsed:?}; {stats:?}",
        progress
            .iter()
            .map(|ops| ops.load(Ordering::SeqCst))
            .sum::<u64>()
    );
}

/// Runs `workload` for each seed of `default_seeds` (or `STRESS_SEED`).
pub fn check_seeds(check: Check, default_seeds: std::ops::Range<u64>, workload: Workload) {
    for seed in seeds(default_seeds) {
        run(check, seed, workload);
    }
}

/// Re-raises the first panic of the threads a liveness check joined: a `todo!()` unchanged, any
/// other one as a failure of `check`.
fn rethrow(check: Check, what: &str, panic: Box<dyn std::any::Any + Send>) -> ! {
    if super::panic_message(panic.as_ref()).starts_with("[stress") {
        std::panic::resume_unwind(panic);
    }
    let message = rethrow_todo(panic);
    check.fail_unseeded(&format!("{what}: a thread panicked: {message}"), "")
}

/// Sets its flag when dropped: a thread that must stop others when it ends, also by a panic,
/// holds one.
struct SetOnDrop(Arc<AtomicBool>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// `force_flush` and `sync` (with the WAL off, a flush) flush what was written before the call:
/// writers that keep freezing new memtables meanwhile must not keep them running forever.
pub fn force_flush_and_sync_return_while_writers_keep_freezing_memtables(check: Check) {
    for hook in ["force_flush", "sync"] {
        let dir = super::scratch_dir("mini-lsm-liveness");
        let options = LsmOptions {
            // Every put freezes its memtable, and only the hook flushes.
            memtable_size: 1,
            max_immutable_memtables: usize::MAX,
            ..LsmOptions::for_day(4)
        };
        let db = MiniLsm::open(dir.path(), options)
            .unwrap_or_else(|e| check.fail_unseeded(&format!("open failed: {e}"), ""));
        let hook_returned = Arc::new(AtomicBool::new(false));
        let progress = Arc::new([AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)]);
        let writers = (0..2).map(|w| {
            let (db, hook_returned, progress) = (
                Arc::clone(&db),
                Arc::clone(&hook_returned),
                Arc::clone(&progress),
            );
            std::thread::spawn(move || {
                for i in 0u64.. {
                    if hook_returned.load(Ordering::SeqCst) {
                        return;
                    }
                    db.put(format!("w{w}k{}", i % 100).as_bytes(), b"v")
                        .expect("put");
                    progress[w].fetch_add(1, Ordering::SeqCst);
                }
            })
        });
        let mut threads: Vec<JoinHandle<()>> = writers.collect();
        let (flusher_db, flusher_done) = (Arc::clone(&db), Arc::clone(&hook_returned));
        let flusher_progress = Arc::clone(&progress);
        threads.push(std::thread::spawn(move || {
            // Stops the writers however the hook ends, a panic included.
            let _done = SetOnDrop(flusher_done);
            let result = match hook {
                "force_flush" => flusher_db.force_flush(),
                _ => flusher_db.sync(),
            };
            result.expect(hook);
            flusher_progress[2].fetch_add(1, Ordering::SeqCst);
        }));
        let report = watch(threads, progress.as_ref(), Duration::from_secs(20), || {
            format!("  worker 2: {hook}, with two writers freezing a memtable per put")
        });
        match report {
            Ok(()) => {}
            Err(Stopped::Stalled(report)) => {
                // The writers stop once the hook returns; end them so that the directory can go.
                hook_returned.store(true, Ordering::SeqCst);
                check.fail_unseeded(
                    &format!("{hook} never returned while two writers kept freezing memtables"),
                    &report,
                );
            }
            Err(Stopped::Panicked(panic)) => rethrow(check, hook, panic),
        }
    }
}

/// `compact_until_idle` does the work the tree needed when it was called, and no more: writers
/// that keep flushing new SSTs, which the background thread and the writers' backpressure
/// compact into the levels meanwhile, must not keep it running. (The long run above, seed 100,
/// stalled 30 s in it: each time it let go of the compaction lock, the others compacted new L0
/// SSTs into L1, which left L1 over its target, which was its next task.)
pub fn compact_until_idle_returns_while_writers_keep_flushing(check: Check) {
    /// Rounds of the caller: some writes of its own, so that the call finds work, then the call.
    const CALLS: u64 = 5;
    const WRITES_PER_CALL: usize = 100;
    /// Keys all over the key space, so that every L0 SST overlaps most of L1.
    fn put_random(db: &MiniLsm, rng: &mut Rng) {
        let key = format!("k{:04}", rng.below(400));
        let value = value(key.as_bytes(), rng.next_u64() % 1000);
        db.put(key.as_bytes(), &value).expect("put");
    }
    let dir = super::scratch_dir("mini-lsm-liveness");
    let db = MiniLsm::open(dir.path(), options(5))
        .unwrap_or_else(|e| check.fail_unseeded(&format!("open failed: {e}"), ""));
    let calls_returned = Arc::new(AtomicBool::new(false));
    // Writes and calls finished by the two writers and the caller; then the caller's calls.
    let progress = Arc::new([AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)]);
    let calls = Arc::new(AtomicU64::new(0));
    let writers = (0..2).map(|w| {
        let (db, calls_returned, progress) = (
            Arc::clone(&db),
            Arc::clone(&calls_returned),
            Arc::clone(&progress),
        );
        std::thread::spawn(move || {
            let mut rng = Rng(mix(101 + w as u64));
            while !calls_returned.load(Ordering::SeqCst) {
                put_random(&db, &mut rng);
                progress[w].fetch_add(1, Ordering::SeqCst);
            }
        })
    });
    let mut threads: Vec<JoinHandle<()>> = writers.collect();
    let (caller_db, caller_done) = (Arc::clone(&db), Arc::clone(&calls_returned));
    let (caller_progress, caller_calls) = (Arc::clone(&progress), Arc::clone(&calls));
    threads.push(std::thread::spawn(move || {
        // Stops the writers however this thread ends.
        let _done = SetOnDrop(caller_done);
        let mut rng = Rng(mix(100));
        for _ in 0..CALLS {
            for _ in 0..WRITES_PER_CALL {
                put_random(&caller_db, &mut rng);
                caller_progress[2].fetch_add(1, Ordering::SeqCst);
            }
            caller_db.compact_until_idle().expect("compact_until_idle");
            caller_progress[2].fetch_add(1, Ordering::SeqCst);
            caller_calls.fetch_add(1, Ordering::SeqCst);
        }
    }));
    let report = watch(threads, progress.as_ref(), Duration::from_secs(20), || {
        format!(
            "  worker 2: {} of {CALLS} calls of compact_until_idle returned, with two writers \
             flushing",
            calls.load(Ordering::SeqCst)
        )
    });
    match report {
        Ok(()) => {}
        Err(Stopped::Stalled(report)) => {
            // The writers stop once the calls return; end them so that the directory can go.
            calls_returned.store(true, Ordering::SeqCst);
            check.fail_unseeded(
                "compact_until_idle never returned while two writers kept flushing",
                &report,
            );
        }
        Err(Stopped::Panicked(panic)) => rethrow(check, "compact_until_idle", panic),
    }
}

#[cfg(all(test, feature = "reference"))]
mod tests {
    use super::*;

    /// Whether `gdb` can be run.
    fn gdb_available() -> bool {
        Command::new("gdb")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    }

    /// The watchdog itself: a worker that never finishes its operation is reported as a deadlock,
    /// with its current operation and (where gdb runs) the threads' stacks.
    #[test]
    fn the_watchdog_reports_a_stuck_worker_with_its_operation() {
        let (release, stuck) = channel::<()>();
        let slot = Arc::new(Mutex::new(String::from(
            "waiting for a lock that never comes",
        )));
        let worker = std::thread::spawn(move || {
            let _ = stuck.recv();
        });
        let progress = [AtomicU64::new(0)];
        let stopped = watch(vec![worker], &progress, Duration::from_secs(2), || {
            format!("  worker 0: {}", slot.lock().unwrap())
        });
        let Err(Stopped::Stalled(report)) = stopped else {
            panic!("a worker stuck for longer than the stall limit is a deadlock");
        };
        drop(release);
        assert!(
            report.contains("no progress")
                && report.contains("worker 0: waiting for a lock that never comes"),
            "the report names the stuck worker's operation:\n{report}"
        );
        if gdb_available() {
            assert!(
                report.contains("Thread"),
                "gdb printed the threads' stacks:\n{report}"
            );
        }
    }
}
