//! Model-based testing of the whole engine.
//!
//! Seeded random sequences of puts, deletes, write batches, gets, scans (with every kind of bound,
//! inverted ranges included), and the operations of the check's day (flushes and syncs from day
//! 4, compactions from day 5, close-and-reopen from day 6) run against the engine and against a
//! `BTreeMap`; every read must agree with the map, and after every step the levels below L0
//! must hold disjoint, sorted key ranges. The sizes are tiny, so that freezes, flushes and
//! compactions happen every few dozen operations.
//!
//! From day 8 the sequences also take, read and release snapshots: the model keeps a copy of
//! itself for each, and every read at a snapshot must agree with that copy, through flushes,
//! compactions (which must keep what live snapshots read) and overwrites. A reopen drops them.
//!
//! Two variants: background threads off (the shape changes only through the explicit hooks) and
//! on (a flush thread, and from day 5 a compaction thread, race with the operations; `shape()`
//! is a snapshot, so the invariant is checked on consistent states).
//!
//! A failure prints the seed, the options and a shrunk sequence of operations, and the command
//! that replays the seed (`STRESS_SEED=S`, or `MODEL_SEED=S`).

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Bound;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::Instant;

use super::{Check, RngExt, rethrow_todo, scratch_dir, seeds};
use crate::Rng;
use crate::lsm::{
    CompactionOptions, LeveledCompactionOptions, LsmOptions, MiniLsm, TreeShape, WriteBatchRecord,
};

// ---------------------------------------------------------------------------------------------
// Operations
// ---------------------------------------------------------------------------------------------

/// A key or value, printed as an escaped string.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct B(pub Vec<u8>);

impl fmt::Debug for B {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.len() > 24 {
            write!(
                f,
                "\"{}…\"({} B)",
                self.0[..16].escape_ascii(),
                self.0.len()
            )
        } else {
            write!(f, "\"{}\"", self.0.escape_ascii())
        }
    }
}

#[derive(Clone, Debug)]
pub enum Bnd {
    Inc(B),
    Exc(B),
    Unb,
}

impl Bnd {
    fn as_bound(&self) -> Bound<&[u8]> {
        match self {
            Bnd::Inc(key) => Bound::Included(&key.0),
            Bnd::Exc(key) => Bound::Excluded(&key.0),
            Bnd::Unb => Bound::Unbounded,
        }
    }
}

/// One step of a test sequence. Every operation carries its own data, so that removing steps
/// while shrinking leaves the others unchanged.
#[derive(Clone, Debug)]
pub enum Op {
    Put(B, B),
    Delete(B),
    Batch(Vec<(B, Option<B>)>),
    Get(B),
    Scan(Bnd, Bnd),
    ForceFlush,
    CompactUntilIdle,
    FullCompaction,
    Reopen,
    Sync,
    /// Day 8: take a snapshot (the model keeps a copy of itself).
    TakeSnapshot,
    /// Day 8: `get` at the live snapshot `n % live` (none live: nothing happens).
    SnapshotGet(usize, B),
    /// Day 8: `scan` at the live snapshot `n % live`.
    SnapshotScan(usize, Bnd, Bnd),
    /// Day 8: drop the live snapshot `n % live`.
    Release(usize),
}

/// Number of distinct key stems.
const KEY_SPACE: usize = 400;

fn gen_key(rng: &mut Rng) -> B {
    let stem = rng.below(KEY_SPACE);
    // Four shapes per stem (one a prefix of the others), so that blocks share prefixes.
    let key = match rng.below(200) {
        // Rarely, a key longer than a block.
        0 => format!("k{stem:04}.{}", "L".repeat(300 + stem)),
        1..=20 => format!("k{stem:04}.{}", "s".repeat(stem % 17)),
        21..=40 => format!("k{stem:04}.a"),
        _ => format!("k{stem:04}"),
    };
    B(key.into_bytes())
}

fn gen_value(rng: &mut Rng, step: usize) -> B {
    let len = match rng.below(20) {
        0 => 0,
        1 => rng.between(200, 400), // larger than a block
        _ => rng.between(1, 40),
    };
    let mut value = format!("v{step}:").into_bytes();
    value.resize(len.max(value.len()), b'a' + (step % 26) as u8);
    value.truncate(len);
    B(value)
}

/// A key for reads and bounds: usually one that may exist, sometimes one outside the key space.
fn gen_read_key(rng: &mut Rng) -> B {
    match rng.below(12) {
        0 => B(b"k".to_vec()),
        1 => B(b"a".to_vec()),
        2 => B(b"l".to_vec()),
        3 => B(format!("k{:04}!", rng.below(KEY_SPACE)).into_bytes()),
        _ => gen_key(rng),
    }
}

fn gen_bound(rng: &mut Rng) -> Bnd {
    match rng.below(7) {
        0 => Bnd::Unb,
        1 => Bnd::Inc(B(Vec::new())),
        2 | 3 => Bnd::Exc(gen_read_key(rng)),
        _ => Bnd::Inc(gen_read_key(rng)),
    }
}

/// `count` operations for a check of day `day`: an operation of a later day (a compaction
/// before day 5, a reopen before day 6) is replaced by a `Get`.
pub fn gen_ops(seed: u64, count: usize, day: u8) -> Vec<Op> {
    let mut rng = Rng::new(seed);
    (0..count)
        .map(|step| match rng.below(100) {
            0..=34 => Op::Put(gen_key(&mut rng), gen_value(&mut rng, step)),
            35..=44 => Op::Delete(gen_key(&mut rng)),
            45..=52 => {
                let len = rng.between(1, 6);
                let mut records: Vec<(B, Option<B>)> = Vec::with_capacity(len);
                for _ in 0..len {
                    let value = (!rng.percent(30)).then(|| gen_value(&mut rng, step));
                    // Sometimes the same key again: the later record wins.
                    let key = match records.last() {
                        Some((key, _)) if rng.percent(20) => key.clone(),
                        _ => gen_key(&mut rng),
                    };
                    records.push((key, value));
                }
                Op::Batch(records)
            }
            53..=54 if day >= 8 => Op::TakeSnapshot,
            55..=59 if day >= 8 => Op::SnapshotGet(rng.below(1000), gen_read_key(&mut rng)),
            60..=61 if day >= 8 => {
                let (lower, upper) = (gen_bound(&mut rng), gen_bound(&mut rng));
                Op::SnapshotScan(rng.below(1000), lower, upper)
            }
            62 if day >= 8 => Op::Release(rng.below(1000)),
            53..=72 => Op::Get(gen_read_key(&mut rng)),
            73..=84 => {
                let (lower, upper) = (gen_bound(&mut rng), gen_bound(&mut rng));
                Op::Scan(lower, upper)
            }
            85..=89 => Op::ForceFlush,
            90..=93 if day >= 5 => Op::CompactUntilIdle,
            94 if day >= 5 => Op::FullCompaction,
            95 if day >= 6 => Op::Reopen,
            90..=95 => Op::Get(gen_read_key(&mut rng)),
            _ => Op::Sync,
        })
        .collect()
}

/// Small sizes, drawn from the seed: flushes and compactions happen every few dozen steps. Only
/// the days `..=day` are switched on (`LsmOptions::for_day`).
pub fn gen_options(seed: u64, background: bool, day: u8) -> LsmOptions {
    let mut rng = Rng::new(seed ^ 0x0005_eed0_f097_10a5);
    let leveled = LeveledCompactionOptions {
        level0_file_num_compaction_trigger: 2,
        level_size_multiplier: 2,
        base_level_size_bytes: 8 << 10,
        max_levels: 3,
    };
    LsmOptions {
        block_size: rng.between(128, 256),
        memtable_size: rng.between(1 << 10, 4 << 10),
        target_sst_size: rng.between(2 << 10, 4 << 10),
        max_immutable_memtables: if background { 1 } else { usize::MAX },
        background_compaction: background && day >= 5,
        compaction: if day >= 5 {
            CompactionOptions::Leveled(leveled)
        } else {
            CompactionOptions::NoCompaction
        },
        ..LsmOptions::for_day(day)
    }
}

// ---------------------------------------------------------------------------------------------
// Running a sequence against the model
// ---------------------------------------------------------------------------------------------

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

/// What a sequence made the engine do, to show that the sizes exercise the tree.
#[derive(Debug, Clone, Copy, Default)]
pub struct Activity {
    /// Operations run.
    pub ops: u64,
    /// Flushes the engine counted.
    pub flushes: u64,
    /// Compactions the engine counted.
    pub compactions: u64,
    /// Closes and reopens.
    pub reopens: u64,
    /// The deepest level that ever held an SST.
    pub deepest_level: usize,
}

impl Activity {
    fn add(&mut self, other: Activity) {
        self.ops += other.ops;
        self.flushes += other.flushes;
        self.compactions += other.compactions;
        self.reopens += other.reopens;
        self.deepest_level = self.deepest_level.max(other.deepest_level);
    }

    /// Counts the engine's flushes and compactions (its counters restart at each open).
    fn count_engine(&mut self, db: &MiniLsm) {
        let stats = db.stats();
        self.flushes += stats.flushes;
        self.compactions += stats.compactions;
    }
}

/// Why a sequence failed: the step and what went wrong there.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The step that failed (`ops.len()` for the final checks).
    pub step: usize,
    /// What went wrong there.
    pub message: String,
}

fn in_range(key: &[u8], lower: &Bnd, upper: &Bnd) -> bool {
    let above_lower = match lower {
        Bnd::Inc(bound) => key >= bound.0.as_slice(),
        Bnd::Exc(bound) => key > bound.0.as_slice(),
        Bnd::Unb => true,
    };
    let below_upper = match upper {
        Bnd::Inc(bound) => key <= bound.0.as_slice(),
        Bnd::Exc(bound) => key < bound.0.as_slice(),
        Bnd::Unb => true,
    };
    above_lower && below_upper
}

fn scan(db: &MiniLsm, lower: &Bnd, upper: &Bnd) -> crate::lsm::Result<Vec<(Vec<u8>, Vec<u8>)>> {
    collect(db.scan(lower.as_bound(), upper.as_bound())?)
}

/// Every entry of a scan, owned.
fn collect(scan: crate::lsm::lsm_iterator::Scan) -> crate::lsm::Result<Vec<(Vec<u8>, Vec<u8>)>> {
    scan.into_iter()
        .map(|entry| entry.map(|(k, v)| (k.to_vec(), v.to_vec())))
        .collect()
}

/// Compares two sorted key-value lists; describes the first difference.
fn diff_entries(got: &[(Vec<u8>, Vec<u8>)], want: &[(Vec<u8>, Vec<u8>)]) -> Option<String> {
    let first = got
        .iter()
        .zip(want)
        .position(|(g, w)| g != w)
        .unwrap_or(got.len().min(want.len()));
    if got.len() == want.len() && first == got.len() {
        return None;
    }
    let show = |entries: &[(Vec<u8>, Vec<u8>)]| {
        entries
            .get(first)
            .map(|(k, v)| format!("{:?} => {:?}", B(k.clone()), B(v.clone())))
            .unwrap_or_else(|| "(end)".into())
    };
    Some(format!(
        "{} entries, expected {}; first difference at #{first}: got {}, expected {}",
        got.len(),
        want.len(),
        show(got),
        show(want)
    ))
}

/// The tree's invariant: every SST's keys are ordered, and each level below L0 holds disjoint,
/// sorted key ranges.
fn check_shape(shape: &TreeShape, max_levels: usize) -> Result<(), String> {
    for sst in shape
        .l0
        .iter()
        .chain(shape.levels.iter().flat_map(|l| &l.ssts))
    {
        if sst.first_key > sst.last_key {
            return Err(format!("SST {} has first key > last key:\n{shape}", sst.id));
        }
    }
    for level in &shape.levels {
        if level.level == 0 || level.level > max_levels {
            return Err(format!("level {} out of range:\n{shape}", level.level));
        }
        for pair in level.ssts.windows(2) {
            if pair[0].last_key >= pair[1].first_key {
                return Err(format!(
                    "level {} overlaps or is unsorted at SSTs {} and {}:\n{shape}",
                    level.level, pair[0].id, pair[1].id
                ));
            }
        }
    }
    Ok(())
}

/// The live snapshot `n` names (`n % live`), if any is live.
fn pick<T>(snapshots: &[T], n: usize) -> Option<&T> {
    (!snapshots.is_empty()).then(|| &snapshots[n % snapshots.len()])
}

/// Runs `ops` on a fresh engine and the model; the first disagreement, error or panic fails.
pub fn run(ops: &[Op], options: &LsmOptions) -> Result<Activity, Failure> {
    run_with(ops, options, false)
}

/// [`run`]; with `planted_bug`, the model ignores deletes inside write batches (to test the
/// harness).
pub fn run_with(ops: &[Op], options: &LsmOptions, planted_bug: bool) -> Result<Activity, Failure> {
    let step = std::cell::Cell::new(0);
    let result = catch_unwind(AssertUnwindSafe(|| {
        run_steps(ops, options, planted_bug, &step)
    }));
    let failure = |message: String| Failure {
        step: step.get(),
        message,
    };
    match result {
        Ok(Ok(activity)) => Ok(activity),
        Ok(Err(message)) => Err(failure(message)),
        Err(panic) => {
            let message = rethrow_todo(panic);
            Err(failure(format!("PANIC: {message}")))
        }
    }
}

fn run_steps(
    ops: &[Op],
    options: &LsmOptions,
    planted_bug: bool,
    step: &std::cell::Cell<usize>,
) -> Result<Activity, String> {
    let max_levels = match &options.compaction {
        CompactionOptions::Leveled(leveled) => leveled.max_levels,
        CompactionOptions::Tiered(tiered) => tiered.max_levels,
        CompactionOptions::NoCompaction => 0,
    };
    let dir = scratch_dir("mini-lsm-model");
    let open = || MiniLsm::open(dir.path(), options.clone()).map_err(|e| format!("open: {e}"));
    let mut db: Arc<MiniLsm> = open()?;
    let mut model = Model::new();
    // Live snapshots (day 8), oldest first, each with the model as it was when it was taken.
    let mut snapshots: Vec<(crate::lsm::Snapshot, Model)> = Vec::new();
    let mut activity = Activity {
        ops: ops.len() as u64,
        ..Activity::default()
    };
    let full = (Bnd::Unb, Bnd::Unb);
    for (i, op) in ops.iter().enumerate() {
        step.set(i);
        let engine_error = |e: crate::lsm::Error| format!("{op:?}: engine error: {e}");
        match op {
            Op::Put(key, value) => {
                db.put(&key.0, &value.0).map_err(engine_error)?;
                model.insert(key.0.clone(), value.0.clone());
            }
            Op::Delete(key) => {
                db.delete(&key.0).map_err(engine_error)?;
                model.remove(&key.0);
            }
            Op::Batch(records) => {
                let batch: Vec<WriteBatchRecord<&[u8], &[u8]>> = records
                    .iter()
                    .map(|(key, value)| match value {
                        Some(value) => WriteBatchRecord::Put(&key.0[..], &value.0[..]),
                        None => WriteBatchRecord::Delete(&key.0[..]),
                    })
                    .collect();
                db.write_batch(&batch).map_err(engine_error)?;
                for (key, value) in records {
                    match value {
                        Some(value) => model.insert(key.0.clone(), value.0.clone()),
                        None if planted_bug => None,
                        None => model.remove(&key.0),
                    };
                }
            }
            Op::Get(key) => {
                let got = db.get(&key.0).map_err(engine_error)?;
                let want = model.get(&key.0);
                if got.as_deref() != want.map(Vec::as_slice) {
                    return Err(format!(
                        "{op:?}: got {:?}, expected {:?}",
                        got.map(|v| B(v.to_vec())),
                        want.map(|v| B(v.clone()))
                    ));
                }
            }
            Op::Scan(lower, upper) => {
                let got = scan(&db, lower, upper).map_err(engine_error)?;
                let want: Vec<_> = model
                    .iter()
                    .filter(|(key, _)| in_range(key, lower, upper))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                if let Some(diff) = diff_entries(&got, &want) {
                    return Err(format!("{op:?}: {diff}"));
                }
            }
            Op::ForceFlush => db.force_flush().map_err(engine_error)?,
            Op::CompactUntilIdle => {
                db.compact_until_idle().map_err(engine_error)?;
            }
            Op::FullCompaction => db.force_full_compaction().map_err(engine_error)?,
            Op::Sync => db.sync().map_err(engine_error)?,
            Op::TakeSnapshot => {
                let snapshot = db.snapshot().map_err(engine_error)?;
                snapshots.push((snapshot, model.clone()));
            }
            Op::SnapshotGet(n, key) => {
                if let Some((snapshot, then)) = pick(&snapshots, *n) {
                    let got = snapshot.get(&key.0).map_err(engine_error)?;
                    let want = then.get(&key.0);
                    if got.as_deref() != want.map(Vec::as_slice) {
                        return Err(format!(
                            "{op:?} (the snapshot at seq {}): got {:?}, expected {:?}",
                            snapshot.seq(),
                            got.map(|v| B(v.to_vec())),
                            want.map(|v| B(v.clone()))
                        ));
                    }
                }
            }
            Op::SnapshotScan(n, lower, upper) => {
                if let Some((snapshot, then)) = pick(&snapshots, *n) {
                    let got = snapshot
                        .scan(lower.as_bound(), upper.as_bound())
                        .and_then(collect)
                        .map_err(engine_error)?;
                    let want: Vec<_> = then
                        .iter()
                        .filter(|(key, _)| in_range(key, lower, upper))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    if let Some(diff) = diff_entries(&got, &want) {
                        return Err(format!(
                            "{op:?} (the snapshot at seq {}): {diff}",
                            snapshot.seq()
                        ));
                    }
                }
            }
            Op::Release(n) => {
                if !snapshots.is_empty() {
                    snapshots.remove(n % snapshots.len());
                }
            }
            Op::Reopen => {
                // Snapshots belong to the engine that is closing.
                snapshots.clear();
                db.close().map_err(engine_error)?;
                activity.count_engine(&db);
                activity.reopens += 1;
                drop(db);
                db = open()?;
                let got = scan(&db, &full.0, &full.1).map_err(engine_error)?;
                let want: Vec<_> = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                if let Some(diff) = diff_entries(&got, &want) {
                    return Err(format!("{op:?}: after reopening, a full scan: {diff}"));
                }
            }
        }
        let shape = db.shape();
        check_shape(&shape, max_levels).map_err(|e| format!("after {op:?}: {e}"))?;
        if let Some(level) = shape.levels.iter().rev().find(|l| !l.ssts.is_empty()) {
            activity.deepest_level = activity.deepest_level.max(level.level);
        }
    }
    step.set(ops.len());
    snapshots.clear();
    let got = scan(&db, &full.0, &full.1).map_err(|e| format!("final scan: {e}"))?;
    let want: Vec<_> = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    if let Some(diff) = diff_entries(&got, &want) {
        return Err(format!("final full scan: {diff}"));
    }
    db.close().map_err(|e| format!("close: {e}"))?;
    activity.count_engine(&db);
    Ok(activity)
}

// ---------------------------------------------------------------------------------------------
// Shrinking and the test drivers
// ---------------------------------------------------------------------------------------------

/// Most runs spent shrinking one failure.
const SHRINK_BUDGET: usize = 300;

/// A smaller sequence that still fails: cut everything after the failing step, then remove
/// chunks of halving size, down to single operations, while the failure reproduces.
pub fn shrink(
    ops: &[Op],
    run: impl Fn(&[Op]) -> Result<Activity, Failure>,
    failure: Failure,
) -> (Vec<Op>, Failure) {
    let mut best: Vec<Op> = ops[..(failure.step + 1).min(ops.len())].to_vec();
    let mut best_failure = match run(&best) {
        Err(failure) => failure,
        // Did not reproduce (a race in the background variant): keep the full sequence.
        Ok(_) => return (ops.to_vec(), failure),
    };
    let mut attempts = 1;
    let mut chunk = best.len().div_ceil(2);
    while chunk >= 1 && attempts < SHRINK_BUDGET {
        let mut removed_any = false;
        let mut start = 0;
        while start < best.len() && attempts < SHRINK_BUDGET {
            let end = (start + chunk).min(best.len());
            let candidate: Vec<Op> = best[..start].iter().chain(&best[end..]).cloned().collect();
            attempts += 1;
            match run(&candidate) {
                Err(failure) => {
                    best = candidate[..(failure.step + 1).min(candidate.len())].to_vec();
                    best_failure = failure;
                    removed_any = true;
                }
                Ok(_) => start += chunk,
            }
        }
        if !removed_any {
            if chunk == 1 {
                break;
            }
            chunk = chunk.div_ceil(2);
        }
    }
    (best, best_failure)
}

/// Runs `ops_per_seed` operations of day `day` for each seed (or `STRESS_SEED`); on a failure,
/// shrinks it and fails `check` with the seed, the options and the shrunk sequence. Prints and
/// returns what the engine did.
pub fn check_seeds(
    check: Check,
    default_seeds: impl IntoIterator<Item = u64>,
    ops_per_seed: usize,
    background: bool,
    day: u8,
) -> Activity {
    let started = Instant::now();
    let mut total = Activity::default();
    let threads = if background { "on" } else { "off" };
    for seed in seeds(default_seeds) {
        let ops = gen_ops(seed, ops_per_seed, day);
        let options = gen_options(seed, background, day);
        let failure = match run(&ops, &options) {
            Ok(activity) => {
                total.add(activity);
                continue;
            }
            Err(failure) => failure,
        };
        let run_seed = |ops: &[Op]| run(ops, &options);
        let (shrunk, shrunk_failure) = shrink(&ops, run_seed, failure.clone());
        let listing: Vec<String> = shrunk
            .iter()
            .enumerate()
            .map(|(i, op)| format!("  {i:4}: {op:?}"))
            .collect();
        check.fail(
            seed,
            &format!(
                "the engine disagrees with a BTreeMap model: {} (step {} of {}, background \
                 threads {threads})",
                failure.message,
                failure.step,
                ops.len()
            ),
            &format!(
                "shrunk to {} operations, failing at step {}: {}\n{}\noptions: {options:?}",
                shrunk.len(),
                shrunk_failure.step,
                shrunk_failure.message,
                listing.join("\n")
            ),
        );
    }
    println!(
        "model, day {day}, background threads {threads}: {} operations in {:.2?}: {} flushes, \
         {} compactions, {} reopens, SSTs down to level {}",
        total.ops,
        started.elapsed(),
        total.flushes,
        total.compactions,
        total.reopens,
        total.deepest_level
    );
    total
}

#[cfg(all(test, feature = "reference"))]
mod tests {
    use super::*;

    /// The harness itself: with a bug planted in the model (it ignores deletes inside write
    /// batches), a random sequence fails, and shrinking cuts it down to the few operations that
    /// show the bug: a put, a batch deleting that key, a read of it.
    #[test]
    fn a_planted_model_bug_is_found_and_shrunk() {
        let seed = 7;
        let options = gen_options(seed, false, 7);
        let ops = gen_ops(seed, 700, 7);
        let run_buggy = |ops: &[Op]| run_with(ops, &options, true);
        let failure = run_buggy(&ops).expect_err("the planted bug must be found");
        let (shrunk, shrunk_failure) = shrink(&ops, run_buggy, failure);
        assert!(
            shrunk.len() <= 4,
            "shrunk to {} operations: {shrunk:?} ({shrunk_failure:?})",
            shrunk.len()
        );
        assert!(
            shrunk.iter().any(|op| matches!(op, Op::Batch(_))),
            "{shrunk:?}"
        );
    }

    /// A day's sequences hold no operation of a later day.
    #[test]
    fn a_day_s_operations_need_no_later_day() {
        let ops = gen_ops(1, 2_000, 4);
        assert!(
            ops.iter()
                .all(|op| !matches!(op, Op::CompactUntilIdle | Op::FullCompaction | Op::Reopen))
        );
        let ops = gen_ops(1, 2_000, 5);
        assert!(ops.iter().any(|op| matches!(op, Op::CompactUntilIdle)));
        assert!(!ops.iter().any(|op| matches!(op, Op::Reopen)));
        assert!(
            gen_ops(1, 2_000, 6)
                .iter()
                .any(|op| matches!(op, Op::Reopen))
        );
        assert_eq!(gen_options(1, true, 4).required_day(), 4);
        assert_eq!(gen_options(1, true, 6).required_day(), 6);
    }
}
