//! The process `cargo x crash` kills, and the checker it runs afterwards (see xtask/src/crash.rs).
//!
//! `crash_child run DIR SEED` opens the engine in DIR with tiny memtables and SSTs (so that
//! flushes and compactions run all the time, in the background; odd seeds with versioned keys,
//! Part 2's day 8) and applies the workload of
//! SEED: puts, deletes and write batches over a small key space, with a `sync` now and then.
//! After each `sync` returns it prints `ACK <ops> <wal> <len>`: the first `<ops>` operations are
//! acknowledged as durable, and the records of the active memtable's WAL file `<wal>` ended at
//! byte `<len>` (zeros preallocated after them do not count).
//! Failpoints come from the environment variable `MINI_LSM_FAILPOINTS` (`POINT=ACTION[@SKIP]`,
//! see `mini_lsm_reference::failpoint::configure`); `abort` crashes at exactly that point.
//!
//! `crash_child plan SEED` prints how the trial of SEED crashes the run, for `cargo x crash` to
//! carry out: `PLAN timing ACKS DELAY_US TEAR_MANIFEST TEAR_WAL` (SIGKILL DELAY_US after the
//! ACKS-th ACK) or `PLAN failpoint POINT SKIP TEAR_MANIFEST TEAR_WAL` (abort at hit SKIP + 1 of
//! POINT); the last two are 0 or 1: whether to simulate each torn write when it is legitimate.
//! `crash_child plan SEED --power-loss` prints `PLAN powerloss AT 0 0`: the run loses power at
//! its AT-th durable operation. The run then gets `MINI_LSM_POWER_LOSS=AT:SEED:IMAGE`: it tracks
//! its directory with `failpoint::power_loss`, writes what a power loss at that moment would
//! leave into IMAGE, and aborts; the trial checks IMAGE.
//!
//! `crash_child check DIR SEED ACKED [--tear-manifest] [--tear-wal NAME LEN]` first simulates a
//! torn write if asked, cutting only bytes that were never made durable (the last manifest
//! record, when the run crashed before its `fsync`; WAL file NAME past its first LEN bytes, which
//! the last `ACK` synced) at a point drawn from SEED, then reopens DIR and checks it against the
//! workload regenerated from SEED:
//!
//! - **loss**: a key acknowledged with a value reads back missing or with an older value;
//! - **phantom**: a key reads back with a value no operation ever wrote to it;
//! - **inconsistent**: no prefix of the workload (of at least ACKED operations) gives the state
//!   read back, e.g. half a batch, or a later write without an earlier one;
//! - **unstable**: `get` and `scan` disagree, or a second reopen reads something else.
//!
//! It prints `RESULT keys=… acked=… losses=… phantoms=… inconsistent=… unstable=…` and exits 0
//! only when all four are zero; 2 when the engine fails to open or read.
//!
//! Every value is `<key>@<op>.<entry>:` plus filler, so a value names the write that made it.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use bytes::Bytes;
use clap::{Parser, Subcommand};
use mini_lsm_reference::failpoint::power_loss;
use mini_lsm_reference::manifest::MANIFEST_MAGIC;
use mini_lsm_reference::record_file::{RECORD_HEADER_SIZE, decode_records};
use mini_lsm_reference::{
    CompactionOptions, LeveledCompactionOptions, LsmOptions, MiniLsm, WriteBatchRecord, failpoint,
};

/// Operations per run.
const OPS: usize = 3000;
/// Distinct keys: few, so that keys are overwritten and deleted across memtables and levels.
const KEYS: u64 = 300;
/// One `sync` per this many operations, on average.
const SYNC_EVERY: u64 = 8;

#[derive(Debug, Parser)]
struct Cli {
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Debug, Subcommand)]
enum Mode {
    /// Print how the trial of SEED crashes the run.
    Plan {
        seed: u64,
        /// Plan a simulated power loss instead of a kill or an abort.
        #[arg(long)]
        power_loss: bool,
    },
    /// Apply the workload of SEED in DIR, printing an ACK after each sync.
    Run { dir: PathBuf, seed: u64 },
    /// Tear what was not durable (if asked), reopen DIR and check it.
    Check {
        dir: PathBuf,
        seed: u64,
        /// How many operations the last ACK acknowledged.
        acked: usize,
        /// Cut the last manifest record short (it was written, not synced).
        #[arg(long)]
        tear_manifest: bool,
        /// Cut WAL file NAME somewhere past its first LEN bytes (the synced ones).
        #[arg(long, num_args = 2, value_names = ["NAME", "LEN"])]
        tear_wal: Option<Vec<String>>,
    },
}

fn main() -> ExitCode {
    let result = match Cli::parse().mode {
        Mode::Plan { seed, power_loss } => {
            println!("{}", plan(seed, power_loss));
            Ok(ExitCode::SUCCESS)
        }
        Mode::Run { dir, seed } => run(&dir, seed),
        Mode::Check {
            dir,
            seed,
            acked,
            tear_manifest,
            tear_wal,
        } => check(&dir, seed, acked, tear_manifest, tear_wal.as_deref()),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            println!("ERROR {error}");
            ExitCode::from(2)
        }
    }
}

/// The options of every run: everything on, everything tiny.
/// The engine's options for the trial of `seed`: tiny sizes, and versioned keys (Part 2, day 8)
/// for every odd seed, so the crash and power-loss trials cover both key formats.
fn options(seed: u64) -> LsmOptions {
    LsmOptions {
        mvcc: seed % 2 == 1,
        block_size: 256,
        target_sst_size: 4096,
        memtable_size: 4096,
        max_immutable_memtables: 1,
        compaction: CompactionOptions::Leveled(LeveledCompactionOptions {
            level0_file_num_compaction_trigger: 2,
            level_size_multiplier: 2,
            base_level_size_bytes: 8192,
            max_levels: 3,
        }),
        background_compaction: true,
        // Small, so that crashes also hit manifest rewrites.
        max_manifest_bytes: 4096,
        ..LsmOptions::default()
    }
}

type AnyResult<T> = Result<T, Box<dyn std::error::Error>>;

/// One operation of the workload.
enum Op {
    Put(Bytes, Bytes),
    Delete(Bytes),
    Batch(Vec<(Bytes, Option<Bytes>)>),
}

impl Op {
    /// The entries it writes: a value, or `None` for a delete.
    fn entries(&self) -> Vec<(Bytes, Option<Bytes>)> {
        match self {
            Op::Put(key, value) => vec![(key.clone(), Some(value.clone()))],
            Op::Delete(key) => vec![(key.clone(), None)],
            Op::Batch(entries) => entries.clone(),
        }
    }
}

/// SplitMix64: a tiny seeded generator, the same on every platform.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The workload of `seed`: each operation, and whether a `sync` follows it.
fn workload(seed: u64) -> Vec<(Op, bool)> {
    let mut rng = Rng(seed);
    (0..OPS)
        .map(|op| {
            let entry = |entry: usize, rng: &mut Rng| {
                let key = Bytes::from(format!("key{:03}", rng.below(KEYS)));
                let value = (rng.below(6) != 0).then(|| value(&key, op, entry, rng.below(200)));
                (key, value)
            };
            let kind = rng.below(10);
            let op_kind = if kind < 2 {
                let count = 2 + rng.below(7) as usize;
                Op::Batch((0..count).map(|e| entry(e, &mut rng)).collect())
            } else {
                match entry(0, &mut rng) {
                    (key, Some(value)) => Op::Put(key, value),
                    (key, None) => Op::Delete(key),
                }
            };
            (op_kind, rng.below(SYNC_EVERY) == 0)
        })
        .collect()
}

/// The value entry `entry` of operation `op` writes to `key`: it names its writer, then
/// `filler` bytes.
fn value(key: &[u8], op: usize, entry: usize, filler: u64) -> Bytes {
    let mut value = key.to_vec();
    value.extend_from_slice(format!("@{op}.{entry}:").as_bytes());
    value.extend((0..filler).map(|i| b'a' + ((op as u64 + i) % 26) as u8));
    Bytes::from(value)
}

/// Each crash window, with roughly how many times a run passes it: the abort comes at a hit
/// drawn below that, so that most failpoint trials reach their point.
const FAILPOINT_HITS: [(&str, u64); 11] = [
    (failpoint::WAL_APPEND, 3000),
    (failpoint::WAL_BEFORE_SYNC, 450),
    (failpoint::SST_WRITE, 200),
    (failpoint::SST_BEFORE_SYNC, 200),
    (failpoint::MEMTABLE_BEFORE_MANIFEST, 90),
    (failpoint::MANIFEST_APPEND, 220),
    (failpoint::MANIFEST_BEFORE_SYNC, 220),
    (failpoint::FLUSH_BEFORE_MANIFEST, 90),
    (failpoint::WAL_BEFORE_DELETE, 90),
    (failpoint::COMPACTION_BEFORE_MANIFEST, 30),
    (failpoint::COMPACTION_BEFORE_DELETE, 30),
];

/// About how many ACKs a whole run prints: a timing kill comes after fewer.
const ACKS_PER_RUN: u64 = 350;

/// About how many durable operations (syncs, deletions, renames) a whole run makes: a power
/// loss comes at one drawn below it (`OPS n` at the end of a run with power-loss tracking on).
const DURABLE_OPS_PER_RUN: u64 = 4000;

/// `crash_child plan`: half the trials are killed at a random moment, half abort at a failpoint;
/// each torn write is simulated in half the trials where it is legitimate. With `power_loss`,
/// every trial loses power at a random durable operation.
fn plan(seed: u64, power_loss: bool) -> String {
    // A stream of its own, apart from the workload's.
    let mut rng = Rng(seed ^ 0x5EED_C8A5_0000_0000);
    if power_loss {
        return format!(
            "PLAN powerloss {} 0 0 0",
            1 + rng.below(DURABLE_OPS_PER_RUN)
        );
    }
    let kill = if rng.below(2) == 0 {
        format!("timing {} {}", 1 + rng.below(ACKS_PER_RUN), rng.below(3000))
    } else {
        let (point, hits) = FAILPOINT_HITS[rng.below(FAILPOINT_HITS.len() as u64) as usize];
        format!("failpoint {point} {}", rng.below(hits))
    };
    format!("PLAN {kill} {} {}", rng.below(2), rng.below(2))
}

/// `crash_child run`: applies the workload until done (or killed).
fn run(dir: &Path, seed: u64) -> AnyResult<ExitCode> {
    if let Ok(spec) = std::env::var("MINI_LSM_FAILPOINTS") {
        failpoint::configure(&spec)?;
    }
    let tracking = std::env::var("MINI_LSM_POWER_LOSS").ok();
    if let Some(spec) = &tracking {
        let mut fields = spec.splitn(3, ':');
        let (Some(at), Some(seed), Some(image)) = (fields.next(), fields.next(), fields.next())
        else {
            return Err(format!("MINI_LSM_POWER_LOSS={spec}: expected AT:SEED:IMAGE").into());
        };
        std::fs::create_dir_all(dir)?;
        power_loss::track(dir)?;
        let then = power_loss::AfterPowerLoss::Abort;
        power_loss::arm(at.parse()?, Path::new(image), seed.parse()?, then);
    }
    let db = MiniLsm::open(dir, options(seed))?;
    for (done, (op, sync)) in workload(seed).iter().enumerate() {
        match op {
            Op::Put(key, value) => db.put(key, value)?,
            Op::Delete(key) => db.delete(key)?,
            Op::Batch(entries) => {
                let batch: Vec<WriteBatchRecord<&Bytes, &Bytes>> = entries
                    .iter()
                    .map(|(key, value)| match value {
                        Some(value) => WriteBatchRecord::Put(key, value),
                        None => WriteBatchRecord::Delete(key),
                    })
                    .collect();
                db.write_batch(&batch)?;
            }
        }
        if *sync {
            db.sync()?;
            // Only this thread writes, so the active memtable cannot change until the next op.
            let wal = format!("{:05}.wal", db.shape().memtable.id);
            let len = records_end(&dir.join(&wal))?;
            println!("ACK {} {wal} {len}", done + 1);
        }
    }
    db.close()?;
    println!("ACK {OPS} - 0");
    if tracking.is_some() {
        println!("OPS {}", power_loss::ops());
    }
    Ok(ExitCode::SUCCESS)
}

/// Every key's value after the first `prefix` operations (deleted keys absent).
type State = BTreeMap<Bytes, Bytes>;

/// `crash_child check`.
fn check(
    dir: &Path,
    seed: u64,
    acked: usize,
    tear_manifest: bool,
    tear_wal: Option<&[String]>,
) -> AnyResult<ExitCode> {
    // Where torn writes are cut: a stream of its own, apart from the workload's and the plan's.
    let mut rng = Rng(seed ^ 0x7EA2_0000_0000_0000);
    if tear_manifest {
        tear_last_manifest_record(dir, rng.next())?;
    }
    if let Some([name, synced]) = tear_wal {
        let path = dir.join(name);
        let synced: u64 = synced.parse()?;
        let unsynced = records_end(&path)?.saturating_sub(synced);
        if unsynced > 0 {
            tear_file(&path, synced + rng.below(unsynced))?;
        }
    }
    let ops = workload(seed);
    let first = read_back(dir, seed)?;
    let second = read_back(dir, seed)?;
    let unstable = usize::from(first.unstable || second.unstable || first.state != second.state);
    let found = first.state;

    let mut losses = 0;
    let mut phantoms = 0;
    for key in (0..KEYS).map(|k| Bytes::from(format!("key{k:03}"))) {
        match judge(&ops, acked, &key, found.get(&key)) {
            Verdict::Ok => {}
            Verdict::Loss(why) => {
                losses += 1;
                eprintln!("LOSS {}: {why}", String::from_utf8_lossy(&key));
            }
            Verdict::Phantom(why) => {
                phantoms += 1;
                eprintln!("PHANTOM {}: {why}", String::from_utf8_lossy(&key));
            }
        }
    }
    // Keys outside the key space were never written at all.
    for key in found.keys().filter(|key| !is_workload_key(key)) {
        phantoms += 1;
        eprintln!("PHANTOM {}: never written", String::from_utf8_lossy(key));
    }
    let inconsistent = usize::from(!is_some_prefix(&ops, acked, &found));
    if inconsistent > 0 {
        eprintln!("INCONSISTENT: no prefix of at least {acked} operations gives the state read");
    }
    println!(
        "RESULT keys={KEYS} acked={acked} losses={losses} phantoms={phantoms} \
         inconsistent={inconsistent} unstable={unstable}"
    );
    let clean = losses + phantoms + inconsistent + unstable == 0;
    Ok(if clean {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Where the complete records of the log at `path` end. Not its length: a WAL's writer
/// preallocates zeros after its records.
fn records_end(path: &Path) -> AnyResult<u64> {
    let raw = Bytes::from(std::fs::read(path)?);
    let records = decode_records(&raw, 0, path)?;
    let last = records.payload_offsets.last().zip(records.payloads.last());
    Ok(last.map_or(0, |(&at, payload)| at + payload.len() as u64))
}

/// Truncates `path` to `len` bytes if it is longer.
fn tear_file(path: &Path, len: u64) -> AnyResult<()> {
    let file = std::fs::OpenOptions::new().write(true).open(path)?;
    let old = file.metadata()?.len();
    if len < old {
        file.set_len(len)?;
        println!("TORN {} {len} of {old}", path.display());
    }
    Ok(())
}

/// Cuts the manifest's last record `cut` bytes after its start (`cut` clamped to leave at least
/// one byte of it out): what a power cut could leave of a record written but not yet synced.
///
/// Nothing is torn when the crash came while a new manifest was being written (`MANIFEST.tmp`
/// exists: the sync that was cut short was that file's), or when the manifest holds only its
/// snapshot, which was synced before the file got its name.
fn tear_last_manifest_record(dir: &Path, cut: u64) -> AnyResult<()> {
    let path = dir.join("MANIFEST");
    if dir.join("MANIFEST.tmp").exists() {
        return Ok(());
    }
    let raw = Bytes::from(std::fs::read(&path)?);
    let records = decode_records(&raw, MANIFEST_MAGIC.len(), &path)?;
    let complete = raw.len() as u64 - records.torn_tail.map_or(0, |torn| torn.dropped_bytes);
    let Some(last) = records
        .payloads
        .last()
        .filter(|_| records.payloads.len() > 1)
    else {
        return Ok(());
    };
    let record_len = (RECORD_HEADER_SIZE + last.len()) as u64;
    tear_file(&path, complete - record_len + cut % record_len)
}

/// What one open of the directory read.
struct ReadBack {
    state: State,
    /// Whether `get` and a full `scan` disagreed.
    unstable: bool,
}

/// Opens `dir`, reads every key with `get` and with a full `scan`, and closes it.
fn read_back(dir: &Path, seed: u64) -> AnyResult<ReadBack> {
    let db = MiniLsm::open(dir, options(seed))?;
    let mut by_get = State::new();
    for key in (0..KEYS).map(|k| Bytes::from(format!("key{k:03}"))) {
        if let Some(value) = db.get(&key)? {
            by_get.insert(key, value);
        }
    }
    let mut by_scan = State::new();
    for entry in db.scan(Bound::Unbounded, Bound::Unbounded)? {
        let (key, value) = entry?;
        by_scan.insert(key, value);
    }
    db.close()?;
    // Keys outside the key space show up only in the scan; keep them for the phantom check.
    let unstable = by_scan
        .iter()
        .filter(|(key, _)| is_workload_key(key))
        .ne(by_get.iter());
    if unstable {
        eprintln!("UNSTABLE: get and scan disagree");
    }
    Ok(ReadBack {
        state: by_scan,
        unstable,
    })
}

/// Whether `key` is one of the workload's keys.
fn is_workload_key(key: &[u8]) -> bool {
    key.strip_prefix(b"key")
        .and_then(|digits| std::str::from_utf8(digits).ok())
        .and_then(|digits| digits.parse::<u64>().ok())
        .is_some_and(|k| k < KEYS && key.len() == 6)
}

/// What reading back one key means.
enum Verdict {
    Ok,
    Loss(String),
    Phantom(String),
}

/// Judges the value `found` for `key` after the first `acked` operations were acknowledged:
/// legal are the value of the last acknowledged write to `key` and of any later write.
fn judge(ops: &[(Op, bool)], acked: usize, key: &[u8], found: Option<&Bytes>) -> Verdict {
    // Every write to `key`: (operation index, value or None).
    let writes: Vec<(usize, Option<Bytes>)> = ops
        .iter()
        .enumerate()
        .flat_map(|(i, (op, _))| {
            op.entries()
                .into_iter()
                .filter(|(k, _)| k == key)
                .map(move |(_, v)| (i, v))
        })
        .collect();
    let last_acked = writes.iter().rposition(|(i, _)| *i < acked);
    let acked_value = last_acked.and_then(|w| writes[w].1.clone());
    let later = &writes[last_acked.map_or(0, |w| w + 1)..];
    if found == acked_value.as_ref() || later.iter().any(|(_, v)| v.as_ref() == found) {
        return Verdict::Ok;
    }
    let shown = |v: Option<&Bytes>| v.map_or("absent".into(), |v| describe(v));
    let expected = shown(acked_value.as_ref());
    match found {
        None => Verdict::Loss(format!("absent, acknowledged {expected}")),
        Some(v) if writes.iter().any(|(_, w)| w.as_ref() == Some(v)) => Verdict::Loss(format!(
            "older value {}, acknowledged {expected}",
            describe(v)
        )),
        Some(v) => Verdict::Phantom(format!("{} was never written to it", describe(v))),
    }
}

/// A value's writer (`key@op.entry`), for messages.
fn describe(value: &[u8]) -> String {
    let name = value.split(|&b| b == b':').next().unwrap_or_default();
    String::from_utf8_lossy(name).into_owned()
}

/// Whether `found` is the state after some prefix of `ops` of at least `acked` operations:
/// recovery must give a prefix of what was written, never half a batch or a write without the
/// ones before it.
fn is_some_prefix(ops: &[(Op, bool)], acked: usize, found: &State) -> bool {
    let mut state = State::new();
    let apply = |state: &mut State, op: &Op| {
        for (key, value) in op.entries() {
            match value {
                Some(value) => state.insert(key, value),
                None => state.remove(&key),
            };
        }
    };
    for (op, _) in &ops[..acked] {
        apply(&mut state, op);
    }
    // Compared as a whole at every step: small enough here (300 keys, 3000 operations).
    if &state == found {
        return true;
    }
    for (op, _) in &ops[acked..] {
        apply(&mut state, op);
        if &state == found {
            return true;
        }
    }
    false
}
