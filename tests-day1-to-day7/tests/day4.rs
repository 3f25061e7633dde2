//! Day 4: the engine (`MiniLsm`) and the block cache. Book chapter `day4-engine.md`.
//!
//! Covers:
//! - `get` and `scan` across the memtable, a frozen memtable and L0 SSTs, with overwrites and
//!   tombstones in different layers; two frozen memtables holding the same keys (the newer wins);
//!   a key living only in an SST; a deleted key never coming back
//!   after a flush; an empty value being a value, also after a flush;
//! - every bound combination (an rstest grid compared with a `BTreeMap` model) before and after a
//!   flush, the upper bound and an excluded lower bound on flushed multi-block SSTs, inverted
//!   ranges, and the `for`-loop (`IntoIterator`) path of a scan next to the cursor path;
//! - freezing at the memtable size target, one L0 SST per frozen memtable (newest first, with the
//!   right key ranges), `sync` flushing everything before day 6;
//! - SST pruning by key range and block cache misses then hits (engine counters), a failed block
//!   read that leaves nothing in the cache;
//! - invalid keys, values and batches rejected before any state changes, keys at the length limit;
//! - concurrent writers and readers during freezes and flushes (under a watchdog), the active
//!   memtable never also listed as frozen while freezes and flushes run, the background
//!   flush thread finishing its work on `close`, `Closed` after close, opening a regular file.

use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use rstest::rstest;
use tests_day1_to_day7::lsm::block::{MAX_KEY_LEN, MAX_VALUE_LEN};
use tests_day1_to_day7::lsm::iterators::StorageIterator;
use tests_day1_to_day7::lsm::{Error, LsmOptions, MiniLsm, Result, TreeShape, WriteBatchRecord};
use tests_day1_to_day7::*;

const BOOK_WRITE: &str = "day4-engine.md#write-path";
const BOOK_READ: &str = "day4-engine.md#read-path";
const BOOK_FLUSH: &str = "day4-engine.md#freeze-and-flush";
const BOOK_SCANS: &str = "day4-engine.md#scans-across-layers";
const BOOK_TOMBSTONES: &str = "day4-engine.md#tombstones";
const BOOK_CACHE: &str = "day4-engine.md#block-cache";
const BOOK_LIMITS: &str = "day4-engine.md#limits-and-invalid-arguments";
const BOOK_CONCURRENCY: &str = "day4-engine.md#concurrency";

/// A small memtable target, so that a few dozen writes freeze it.
const SMALL_MEMTABLE: usize = 1024;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Opens an engine in `dir` with the day-4 options changed by `tweak`.
fn open_with(dir: &Path, tweak: impl FnOnce(&mut LsmOptions)) -> Arc<MiniLsm> {
    let mut options = options_for_day(4);
    tweak(&mut options);
    ok(
        MiniLsm::open(dir, options),
        &format!("open {}", dir.display()),
        BOOK_WRITE,
    )
}

/// Opens an engine in `dir` with the plain day-4 options (no size-triggered freezes).
fn open_db(dir: &Path) -> Arc<MiniLsm> {
    open_with(dir, |_| {})
}

/// One step that shapes the tree.
#[derive(Debug, Clone, Copy)]
enum Op {
    Put(&'static str, &'static str),
    Del(&'static str),
    /// `force_freeze_memtable`: the memtable becomes immutable.
    Freeze,
    /// `force_flush`: every memtable goes into L0.
    Flush,
}

fn put(db: &MiniLsm, key: &[u8], value: &[u8]) {
    ok(
        db.put(key, value),
        &format!("put({}, {})", show(key), show(value)),
        BOOK_WRITE,
    );
}

fn delete(db: &MiniLsm, key: &[u8]) {
    ok(
        db.delete(key),
        &format!("delete({})", show(key)),
        BOOK_TOMBSTONES,
    );
}

fn freeze(db: &MiniLsm) -> bool {
    ok(
        db.force_freeze_memtable(),
        "force_freeze_memtable",
        BOOK_FLUSH,
    )
}

fn flush(db: &MiniLsm) {
    ok(db.force_flush(), "force_flush", BOOK_FLUSH);
}

/// Applies `ops` to the engine.
fn apply(db: &MiniLsm, ops: &[Op]) {
    for op in ops {
        match *op {
            Op::Put(k, v) => put(db, k.as_bytes(), v.as_bytes()),
            Op::Del(k) => delete(db, k.as_bytes()),
            Op::Freeze => {
                freeze(db);
            }
            Op::Flush => flush(db),
        }
    }
}

/// What the live keys are after `ops`.
fn model_of(ops: &[Op]) -> Model {
    let mut model = Model::new();
    for op in ops {
        match *op {
            Op::Put(k, v) => {
                model.insert(k.as_bytes().to_vec(), v.as_bytes().to_vec());
            }
            Op::Del(k) => {
                model.remove(k.as_bytes());
            }
            Op::Freeze | Op::Flush => {}
        }
    }
    model
}

/// Checks `get(key)` against `expected`.
#[track_caller]
fn expect_get(db: &MiniLsm, key: &[u8], expected: Option<&[u8]>, scenario: &str, book: &str) {
    let scenario = format!("{scenario}: get({})", show(key));
    check_get(ok(db.get(key), &scenario, book), expected, &scenario, book);
}

/// Checks every key the model knows, plus `absent` keys, through `get`.
#[track_caller]
fn expect_model_gets(db: &MiniLsm, model: &Model, absent: &[&[u8]], scenario: &str, book: &str) {
    for (key, value) in model {
        expect_get(db, key, Some(value), scenario, book);
    }
    for key in absent {
        expect_get(db, key, None, scenario, book);
    }
}

/// Checks `scan(lower, upper)` twice: as a cursor (with the harness's contract checks, live
/// entries having `Some` values) and through the `for`-loop (`IntoIterator`) path.
#[track_caller]
fn check_scan(
    db: &MiniLsm,
    lower: Bound<&[u8]>,
    upper: Bound<&[u8]>,
    expected: &Entries,
    scenario: &str,
    book: &str,
) {
    let scenario = format!(
        "{scenario}: scan({}, {})",
        show_bound(lower),
        show_bound(upper)
    );
    let mut cursor = ok(db.scan(lower, upper), &scenario, book);
    check_iter(
        &mut cursor,
        expected,
        &format!("{scenario} as a cursor"),
        book,
    );
    // The cursor is fused: `next` past the end is harmless and it stays invalid.
    ok(
        cursor.next(),
        &format!("{scenario}: next() past the end"),
        book,
    );
    check_eq(
        cursor.is_valid(),
        false,
        &format!("{scenario}: is_valid() after next() past the end"),
        book,
    );

    let for_scenario = format!("{scenario} in a for loop");
    let mut seen: Entries = Vec::new();
    for item in ok(db.scan(lower, upper), &for_scenario, book) {
        let (key, value) = ok(item, &for_scenario, book);
        seen.push((key.to_vec(), Some(value.to_vec())));
    }
    if &seen != expected {
        fail_entries(&for_scenario, expected, &seen, book);
    }
}

fn show_bound(bound: Bound<&[u8]>) -> String {
    match bound {
        Bound::Included(k) => format!("Included({})", show(k)),
        Bound::Excluded(k) => format!("Excluded({})", show(k)),
        Bound::Unbounded => "Unbounded".to_string(),
    }
}

/// Checks a full scan against the model.
#[track_caller]
fn check_full_scan(db: &MiniLsm, model: &Model, scenario: &str, book: &str) {
    let expected = model_range(model, Bound::Unbounded, Bound::Unbounded);
    check_scan(
        db,
        Bound::Unbounded,
        Bound::Unbounded,
        &expected,
        scenario,
        book,
    );
}

/// Checks that `result` is an error accepted by `is_expected` (described as `expected`).
#[track_caller]
fn expect_err<T>(
    result: Result<T>,
    is_expected: impl Fn(&Error) -> bool,
    expected: &str,
    scenario: &str,
    book: &str,
) {
    match result {
        Err(e) if is_expected(&e) => {}
        Err(e) => fail(
            scenario,
            Raw(expected.into()),
            Raw(format!("Err({e:?})")),
            book,
        ),
        Ok(_) => fail(scenario, Raw(expected.into()), Raw("Ok(..)".into()), book),
    }
}

#[track_caller]
fn expect_invalid<T>(result: Result<T>, scenario: &str) {
    expect_err(
        result,
        |e| matches!(e, Error::InvalidArgument(_)),
        "Err(InvalidArgument(..))",
        scenario,
        BOOK_LIMITS,
    );
}

#[track_caller]
fn expect_closed<T>(result: Result<T>, scenario: &str) {
    expect_err(
        result,
        |e| matches!(e, Error::Closed),
        "Err(Closed)",
        scenario,
        BOOK_WRITE,
    );
}

/// The shape's key ranges of L0, newest first, as escaped strings.
fn l0_ranges(shape: &TreeShape) -> Vec<(String, String)> {
    shape
        .l0
        .iter()
        .map(|sst| (show(&sst.first_key), show(&sst.last_key)))
        .collect()
}

/// Block reads so far (hits + misses).
fn block_reads(db: &MiniLsm) -> (u64, u64) {
    let stats = db.stats();
    (stats.block_cache_hits, stats.block_cache_misses)
}

// ---------------------------------------------------------------------------------------------
// Freeze, flush, sync
// ---------------------------------------------------------------------------------------------

#[test]
fn memtable_freezes_when_it_reaches_the_size_target() {
    // A freeze that waits for a lock its own write still holds hangs: the watchdog turns that
    // into a failure that says so.
    with_watchdog(|| {
        let dir = temp_dir();
        let db = open_with(dir.path(), |o| o.memtable_size = SMALL_MEMTABLE);
        let mut model = Model::new();
        let mut frozen = 0;
        for i in 0..200 {
            put(&db, &key(i), &value(i, 0));
            model.insert(key(i), value(i, 0));
            let shape = db.shape();
            let scenario = format!("after put #{i} with memtable_size {SMALL_MEMTABLE}");
            check_eq(
                shape.memtable.approximate_size < SMALL_MEMTABLE,
                true,
                &format!(
                    "{scenario}: the active memtable is below the target (frozen once it reaches it)\n{shape}"
                ),
                BOOK_FLUSH,
            );
            let now = shape.immutable_memtables.len();
            check_eq(
                now == frozen || now == frozen + 1,
                true,
                &format!(
                    "{scenario}: the number of frozen memtables ({frozen} before) grows by at most one per small put\n{shape}"
                ),
                BOOK_FLUSH,
            );
            frozen = now;
            for imm in &shape.immutable_memtables {
                check_eq(
                    imm.approximate_size >= SMALL_MEMTABLE,
                    true,
                    &format!(
                        "{scenario}: frozen memtable #{} reached the target before freezing\n{shape}",
                        imm.id
                    ),
                    BOOK_FLUSH,
                );
            }
            let ids: Vec<usize> = shape.immutable_memtables.iter().map(|m| m.id).collect();
            check_eq(
                ids.windows(2).all(|w| w[0] > w[1]),
                true,
                &format!(
                    "{scenario}: frozen memtables newest (largest id) first: {ids:?}\n{shape}"
                ),
                BOOK_FLUSH,
            );
        }
        check_eq(
            frozen >= 4,
            true,
            &format!(
                "200 puts of ~30 bytes with memtable_size {SMALL_MEMTABLE}: at least 4 frozen memtables, got {frozen}"
            ),
            BOOK_FLUSH,
        );
        // A write that brings the memtable exactly to the target freezes it ("reached", not
        // "passed"): from an empty memtable, one small put measures what an entry costs besides its
        // key and value, and a second put fills the memtable to exactly `memtable_size`.
        freeze(&db);
        let (probe, exact) = (b"zz_probe".to_vec(), b"zz_exact".to_vec());
        put(&db, &probe, b"");
        model.insert(probe.clone(), Vec::new());
        let probe_size = db.shape().memtable.approximate_size;
        let overhead = probe_size.saturating_sub(probe.len());
        let value = vec![b'v'; SMALL_MEMTABLE.saturating_sub(probe_size + exact.len() + overhead)];
        let frozen_before = db.shape().immutable_memtables.len();
        put(&db, &exact, &value);
        model.insert(exact, value);
        let shape = db.shape();
        check_eq(
            (
                shape.immutable_memtables.len(),
                shape.memtable.approximate_size,
            ),
            (frozen_before + 1, 0),
            &format!(
                "a put that brings the memtable to exactly memtable_size {SMALL_MEMTABLE} \
             (frozen memtables, active memtable's size)\n{shape}"
            ),
            BOOK_FLUSH,
        );
        check_eq(
            db.shape().l0.len(),
            0,
            "nothing flushed without a flush (max_immutable_memtables = usize::MAX)",
            BOOK_FLUSH,
        );
        expect_model_gets(
            &db,
            &model,
            &[b"key_99999"],
            "data in frozen memtables",
            BOOK_READ,
        );
        check_full_scan(&db, &model, "data in frozen memtables", BOOK_SCANS);
    });
}

#[test]
fn flush_writes_one_l0_sst_per_frozen_memtable_newest_first() {
    let dir = temp_dir();
    let db = open_db(dir.path());
    check_eq(
        freeze(&db),
        false,
        "force_freeze_memtable on an empty memtable freezes nothing",
        BOOK_FLUSH,
    );
    let mut model = Model::new();
    // Batch b holds keys b*100 ..= b*100+19: ranges that identify the batch.
    for batch in 0..3 {
        for i in batch * 100..batch * 100 + 20 {
            put(&db, &key(i), &value(i, batch));
            model.insert(key(i), value(i, batch));
        }
        check_eq(
            freeze(&db),
            true,
            &format!("force_freeze_memtable after batch {batch}"),
            BOOK_FLUSH,
        );
    }
    let range = |batch: usize| (show(&key(batch * 100)), show(&key(batch * 100 + 19)));
    check_eq(
        db.shape().immutable_memtables.len(),
        3,
        "three frozen memtables",
        BOOK_FLUSH,
    );
    for flushed in 1..=3 {
        check_eq(
            ok(
                db.force_flush_next_imm_memtable(),
                "force_flush_next_imm_memtable",
                BOOK_FLUSH,
            ),
            true,
            &format!("force_flush_next_imm_memtable #{flushed} had a memtable to flush"),
            BOOK_FLUSH,
        );
        let shape = db.shape();
        // The oldest memtables are flushed first; L0 lists the newest SST first.
        let expected: Vec<(String, String)> = (0..flushed).rev().map(range).collect();
        check_eq(
            l0_ranges(&shape),
            expected,
            &format!("L0 key ranges (newest first) after {flushed} flushes\n{shape}"),
            BOOK_FLUSH,
        );
        check_eq(
            shape.immutable_memtables.len(),
            3 - flushed,
            &format!("frozen memtables left after {flushed} flushes"),
            BOOK_FLUSH,
        );
        expect_model_gets(
            &db,
            &model,
            &[],
            &format!("after {flushed} flushes"),
            BOOK_READ,
        );
    }
    check_eq(
        ok(
            db.force_flush_next_imm_memtable(),
            "force_flush_next_imm_memtable",
            BOOK_FLUSH,
        ),
        false,
        "force_flush_next_imm_memtable with no frozen memtable",
        BOOK_FLUSH,
    );
    let shape = db.shape();
    let stats = db.stats();
    let total: u64 = shape.l0.iter().map(|sst| sst.size_bytes).sum();
    check_eq(
        (stats.flushes, stats.bytes_flushed),
        (3, total),
        &format!(
            "stats (flushes, bytes_flushed) after 3 flushes, bytes = sum of L0 sizes\n{shape}"
        ),
        BOOK_FLUSH,
    );
    check_eq(
        shape.l0.iter().all(|sst| sst.size_bytes > 0),
        true,
        &format!("every L0 SST has a non-zero size\n{shape}"),
        BOOK_FLUSH,
    );
    check_full_scan(&db, &model, "three L0 SSTs", BOOK_SCANS);
}

#[test]
fn sync_before_day_6_flushes_every_memtable_into_l0() {
    let dir = temp_dir();
    let db = open_db(dir.path());
    let ops = [
        Op::Put("a", "1"),
        Op::Put("c", "3"),
        Op::Freeze,
        Op::Put("b", "2"),
        Op::Del("c"),
        Op::Put("d", ""),
    ];
    apply(&db, &ops);
    ok(db.sync(), "sync", BOOK_FLUSH);
    let shape = db.shape();
    check_eq(
        (
            shape.memtable.num_entries,
            shape.immutable_memtables.len(),
            l0_ranges(&shape),
        ),
        (
            0,
            0,
            vec![(show(b"b"), show(b"d")), (show(b"a"), show(b"c"))],
        ),
        &format!(
            "after sync (memtable entries, frozen memtables, L0 ranges newest first)\n{shape}"
        ),
        BOOK_FLUSH,
    );
    let model = model_of(&ops);
    expect_model_gets(&db, &model, &[b"c"], "after sync", BOOK_READ);
    check_full_scan(&db, &model, "after sync", BOOK_SCANS);
}

// ---------------------------------------------------------------------------------------------
// The layered tree used by several tests
// ---------------------------------------------------------------------------------------------

/// Four layers, oldest first: SST A, SST B, a frozen memtable C, the active memtable D.
/// Final state: k10 deleted (value in A, overwritten in C, deleted in D), k20 deleted in B over
/// A's value, k30 from B (overwrites A), k40 deleted in C over A, k50 the empty value in D over
/// A, k60 put again in C after B deleted it, k70 overwritten in every layer but B, k80 only in
/// B, k90 only in D. Gaps: k00, k45, k55, k99.
const LAYERS: &[Op] = &[
    Op::Put("k10", "k10@A"),
    Op::Put("k20", "k20@A"),
    Op::Put("k30", "k30@A"),
    Op::Put("k40", "k40@A"),
    Op::Put("k50", "k50@A"),
    Op::Put("k60", "k60@A"),
    Op::Put("k70", "k70@A"),
    Op::Flush,
    Op::Del("k20"),
    Op::Put("k30", "k30@B"),
    Op::Del("k60"),
    Op::Put("k80", "k80@B"),
    Op::Flush,
    Op::Put("k10", "k10@C"),
    Op::Del("k40"),
    Op::Put("k60", "k60@C"),
    Op::Put("k70", "k70@C"),
    Op::Freeze,
    Op::Del("k10"),
    Op::Put("k50", ""),
    Op::Put("k70", "k70@D"),
    Op::Put("k90", "k90@D"),
];

/// Opens an engine in `dir` (small blocks, so SSTs have several) and builds [`LAYERS`],
/// checking that the tree has the intended shape.
fn layered_db(dir: &Path) -> Arc<MiniLsm> {
    let db = open_with(dir, |o| o.block_size = 64);
    apply(&db, LAYERS);
    let shape = db.shape();
    let scenario = format!("the layered tree's shape\n{shape}");
    check_eq(
        (
            shape.memtable.num_entries,
            shape.immutable_memtables.len(),
            shape.l0.len(),
        ),
        (4, 1, 2),
        &format!("{scenario}(memtable entries, frozen memtables, L0 SSTs)"),
        BOOK_FLUSH,
    );
    db
}

// ---------------------------------------------------------------------------------------------
// Reads across layers
// ---------------------------------------------------------------------------------------------

/// Two frozen memtables hold the same keys: the newer one (frozen second) must win in `get` and
/// in `scan`, also when its version is a tombstone. Nothing is flushed, and the active memtable
/// holds none of these keys, so only the order of the frozen memtables decides.
#[test]
fn newer_frozen_memtable_wins_over_an_older_one_in_get_and_scan() {
    let dir = temp_dir();
    let db = open_db(dir.path());
    apply(
        &db,
        &[
            Op::Put("a", "a@old"),
            Op::Put("b", "b@old"),
            Op::Put("c", "c@old"),
            Op::Freeze,
            Op::Put("a", "a@new"),
            Op::Del("b"),
            Op::Freeze,
            Op::Put("z", "z@active"),
        ],
    );
    let shape = db.shape();
    check_eq(
        (shape.immutable_memtables.len(), shape.l0.len()),
        (2, 0),
        &format!("after two freezes (frozen memtables, L0 SSTs)\n{shape}"),
        BOOK_FLUSH,
    );
    let scenario =
        format!("two frozen memtables, the newer one overwrote a and deleted b\n{shape}");
    expect_get(&db, b"a", Some(b"a@new"), &scenario, BOOK_READ);
    expect_get(&db, b"b", None, &scenario, BOOK_READ);
    expect_get(&db, b"c", Some(b"c@old"), &scenario, BOOK_READ);
    let expected = entries(&[
        ("a", Some("a@new")),
        ("c", Some("c@old")),
        ("z", Some("z@active")),
    ]);
    check_scan(
        &db,
        Bound::Unbounded,
        Bound::Unbounded,
        &expected,
        &scenario,
        BOOK_SCANS,
    );
}

#[rstest]
#[case::in_the_layers(false)]
#[case::after_flushing_everything(true)]
fn get_returns_the_newest_version_across_memtable_frozen_memtable_and_l0(#[case] flushed: bool) {
    let dir = temp_dir();
    let db = layered_db(dir.path());
    if flushed {
        flush(&db);
    }
    let scenario = format!("layered tree, flushed={flushed}");
    let expected: &[(&str, Option<&str>)] = &[
        ("k10", None),
        ("k20", None),
        ("k30", Some("k30@B")),
        ("k40", None),
        ("k50", Some("")),
        ("k60", Some("k60@C")),
        ("k70", Some("k70@D")),
        ("k80", Some("k80@B")),
        ("k90", Some("k90@D")),
        ("k00", None),
        ("k45", None),
        ("k99", None),
    ];
    for (k, v) in expected {
        expect_get(
            &db,
            k.as_bytes(),
            v.map(str::as_bytes),
            &scenario,
            BOOK_READ,
        );
    }
}

#[rstest]
#[case::in_the_layers(false)]
#[case::after_flushing_everything(true)]
fn scan_merges_layers_newest_wins_and_hides_tombstones(#[case] flushed: bool) {
    let dir = temp_dir();
    let db = layered_db(dir.path());
    if flushed {
        flush(&db);
    }
    let expected = entries(&[
        ("k30", Some("k30@B")),
        ("k50", Some("")),
        ("k60", Some("k60@C")),
        ("k70", Some("k70@D")),
        ("k80", Some("k80@B")),
        ("k90", Some("k90@D")),
    ]);
    check_scan(
        &db,
        Bound::Unbounded,
        Bound::Unbounded,
        &expected,
        &format!("layered tree, flushed={flushed}"),
        BOOK_SCANS,
    );
}

#[test]
fn get_finds_a_key_that_lives_only_in_an_sst() {
    let dir = temp_dir();
    let db = open_db(dir.path());
    let model: Model = (0..50).map(|i| (key(i * 2), value(i * 2, 0))).collect();
    for (k, v) in &model {
        put(&db, k, v);
    }
    flush(&db);
    let shape = db.shape();
    check_eq(
        (
            shape.memtable.num_entries,
            shape.immutable_memtables.len(),
            shape.l0.len(),
        ),
        (0, 0, 1),
        &format!("after force_flush (memtable entries, frozen memtables, L0 SSTs)\n{shape}"),
        BOOK_FLUSH,
    );
    let absent = [key(1), key(51), key(1000), b"a".to_vec()];
    let absent: Vec<&[u8]> = absent.iter().map(Vec::as_slice).collect();
    expect_model_gets(&db, &model, &absent, "keys only in one L0 SST", BOOK_READ);
}

/// Keys `key_00000, key_00002, …, key_00098` flushed into one multi-block SST: SST iterators
/// must stop at the scan's upper bound and skip an excluded lower bound that is a key.
#[rstest]
#[case::upper_included_on_a_key(B::Unb, B::Inc("key_00040"))]
#[case::upper_excluded_on_a_key(B::Unb, B::Exc("key_00040"))]
#[case::upper_in_a_gap(B::Unb, B::Exc("key_00041"))]
#[case::upper_before_the_first_key(B::Unb, B::Exc("key_00000"))]
#[case::excluded_lower_on_a_key(B::Exc("key_00020"), B::Unb)]
#[case::excluded_lower_on_a_key_with_upper(B::Exc("key_00020"), B::Inc("key_00030"))]
#[case::excluded_lower_on_the_last_key(B::Exc("key_00098"), B::Unb)]
#[case::excluded_lower_on_the_first_key(B::Exc("key_00000"), B::Exc("key_00006"))]
#[case::both_in_gaps(B::Inc("key_00021"), B::Exc("key_00035"))]
#[case::single_key(B::Inc("key_00050"), B::Inc("key_00050"))]
#[case::excluded_both_on_adjacent_keys(B::Exc("key_00050"), B::Exc("key_00052"))]
fn scan_of_flushed_ssts_honours_both_bounds(#[case] lower: B, #[case] upper: B) {
    let dir = temp_dir();
    let db = open_with(dir.path(), |o| o.block_size = 64);
    let model: Model = (0..50).map(|i| (key(i * 2), value(i * 2, 0))).collect();
    for (k, v) in &model {
        put(&db, k, v);
    }
    flush(&db);
    let expected = model_range(&model, lower.bound(), upper.bound());
    check_scan(
        &db,
        lower.bound(),
        upper.bound(),
        &expected,
        "even keys 0..98 flushed into one SST with 64-byte blocks",
        BOOK_SCANS,
    );
}

#[rstest]
#[case::delete_in_memtable_over_flushed_value(&[Op::Put("k", "old"), Op::Flush, Op::Del("k")])]
#[case::delete_in_frozen_memtable_over_flushed_value(&[Op::Put("k", "old"), Op::Flush, Op::Del("k"), Op::Freeze])]
#[case::delete_flushed_over_older_sst(&[Op::Put("k", "old"), Op::Flush, Op::Del("k"), Op::Flush])]
#[case::put_and_delete_flushed_together(&[Op::Put("k", "old"), Op::Del("k"), Op::Flush])]
#[case::delete_flushed_then_new_memtable_data(&[Op::Put("k", "old"), Op::Flush, Op::Del("k"), Op::Flush, Op::Put("j", "j"), Op::Put("l", "l")])]
#[case::overwrite_then_delete_in_three_ssts(&[Op::Put("k", "v1"), Op::Flush, Op::Put("k", "v2"), Op::Flush, Op::Del("k"), Op::Flush])]
fn deleted_key_never_reappears_after_flush(#[case] ops: &[Op]) {
    let dir = temp_dir();
    let db = open_db(dir.path());
    // Neighbours on both sides, in the oldest SST, so the scans have something to return.
    let mut all = vec![Op::Put("a", "a"), Op::Put("z", "z")];
    all.extend_from_slice(ops);
    apply(&db, &all);
    let model = model_of(&all);
    let scenario = format!("after {ops:?}");
    expect_get(&db, b"k", None, &scenario, BOOK_TOMBSTONES);
    check_full_scan(&db, &model, &scenario, BOOK_TOMBSTONES);
    flush(&db);
    let scenario = format!("after {ops:?} and a final force_flush");
    expect_get(&db, b"k", None, &scenario, BOOK_TOMBSTONES);
    check_full_scan(&db, &model, &scenario, BOOK_TOMBSTONES);
    // Bounds that start or end on the deleted key.
    let expected = model_range(&model, Bound::Included(b"k"), Bound::Included(b"k"));
    check_scan(
        &db,
        Bound::Included(b"k"),
        Bound::Included(b"k"),
        &expected,
        &scenario,
        BOOK_TOMBSTONES,
    );
}

#[rstest]
#[case::in_memtable(&[Op::Put("k", "")])]
#[case::in_frozen_memtable(&[Op::Put("k", ""), Op::Freeze])]
#[case::in_sst(&[Op::Put("k", ""), Op::Flush])]
#[case::over_a_value_in_an_sst(&[Op::Put("k", "old"), Op::Flush, Op::Put("k", "")])]
#[case::flushed_over_a_value_in_an_sst(&[Op::Put("k", "old"), Op::Flush, Op::Put("k", ""), Op::Flush])]
fn empty_value_is_a_value_not_a_delete(#[case] ops: &[Op]) {
    let dir = temp_dir();
    let db = open_db(dir.path());
    let mut all = vec![Op::Put("a", "a")];
    all.extend_from_slice(ops);
    apply(&db, &all);
    let scenario = format!("after {ops:?}");
    expect_get(&db, b"k", Some(b""), &scenario, BOOK_TOMBSTONES);
    let expected = entries(&[("a", Some("a")), ("k", Some(""))]);
    check_scan(
        &db,
        Bound::Unbounded,
        Bound::Unbounded,
        &expected,
        &scenario,
        BOOK_TOMBSTONES,
    );
}

// ---------------------------------------------------------------------------------------------
// Scan bounds
// ---------------------------------------------------------------------------------------------

/// A scan bound in an rstest case.
#[derive(Debug, Clone, Copy)]
enum B {
    Unb,
    Inc(&'static str),
    Exc(&'static str),
}

impl B {
    fn bound(self) -> Bound<&'static [u8]> {
        match self {
            B::Unb => Bound::Unbounded,
            B::Inc(k) => Bound::Included(k.as_bytes()),
            B::Exc(k) => Bound::Excluded(k.as_bytes()),
        }
    }
}

/// Every lower × upper bound over [`LAYERS`] (bounds on live keys, on deleted keys, on the
/// empty-valued key, in gaps, past both ends; inverted pairs must give an empty scan), with the
/// data spread over the memtable, a frozen memtable and two L0 SSTs, then all flushed.
#[rstest]
fn scan_with_any_bounds_matches_the_model(
    #[values(
        B::Unb,
        B::Inc("k00"),
        B::Inc("k10"),
        B::Exc("k30"),
        B::Inc("k30"),
        B::Exc("k45"),
        B::Exc("k50"),
        B::Inc("k60"),
        B::Exc("k80"),
        B::Inc("k90"),
        B::Exc("k99")
    )]
    lower: B,
    #[values(
        B::Unb,
        B::Exc("k00"),
        B::Inc("k10"),
        B::Exc("k30"),
        B::Inc("k30"),
        B::Inc("k45"),
        B::Exc("k50"),
        B::Inc("k60"),
        B::Exc("k80"),
        B::Inc("k90"),
        B::Inc("k99")
    )]
    upper: B,
    #[values(false, true)] flushed: bool,
) {
    let dir = temp_dir();
    let db = layered_db(dir.path());
    if flushed {
        flush(&db);
    }
    let model = model_of(LAYERS);
    let expected = model_range(&model, lower.bound(), upper.bound());
    check_scan(
        &db,
        lower.bound(),
        upper.bound(),
        &expected,
        &format!("layered tree, flushed={flushed}"),
        BOOK_SCANS,
    );
}

#[rstest]
#[case::lower_after_upper(B::Inc("k80"), B::Inc("k30"))]
#[case::excluded_equal_bounds(B::Exc("k30"), B::Exc("k30"))]
#[case::included_lower_excluded_upper_equal(B::Inc("k30"), B::Exc("k30"))]
#[case::excluded_lower_included_upper_equal(B::Exc("k30"), B::Inc("k30"))]
#[case::both_past_the_end(B::Inc("k99"), B::Unb)]
fn inverted_or_empty_scan_range_is_empty_not_a_panic(
    #[case] lower: B,
    #[case] upper: B,
    #[values(false, true)] flushed: bool,
) {
    let dir = temp_dir();
    let db = layered_db(dir.path());
    if flushed {
        flush(&db);
    }
    check_scan(
        &db,
        lower.bound(),
        upper.bound(),
        &Vec::new(),
        &format!("layered tree, flushed={flushed}"),
        BOOK_SCANS,
    );
}

// ---------------------------------------------------------------------------------------------
// Pruning and the block cache
// ---------------------------------------------------------------------------------------------

#[test]
fn get_outside_every_sst_key_range_reads_no_block() {
    let dir = temp_dir();
    let db = open_db(dir.path());
    apply(
        &db,
        &[
            Op::Put("k10", "1"),
            Op::Put("k20", "2"),
            Op::Put("k30", "3"),
            Op::Flush,
            Op::Put("k50", "5"),
            Op::Put("k60", "6"),
            Op::Put("k70", "7"),
            Op::Flush,
        ],
    );
    for missing in ["k00", "k40", "k45", "k99", "k300"] {
        let before = block_reads(&db);
        expect_get(
            &db,
            missing.as_bytes(),
            None,
            "two SSTs [k10..=k30] and [k50..=k70]",
            BOOK_READ,
        );
        check_eq(
            block_reads(&db),
            before,
            &format!(
                "(block cache hits, misses) around get({missing}), outside every SST's key range"
            ),
            BOOK_READ,
        );
    }
    // Inside a table's range the block must be read: the counters do count.
    let before = block_reads(&db);
    expect_get(
        &db,
        b"k25",
        None,
        "two SSTs [k10..=k30] and [k50..=k70]",
        BOOK_READ,
    );
    let after = block_reads(&db);
    check_eq(
        after.0 + after.1 > before.0 + before.1,
        true,
        &format!(
            "get(k25) inside [k10..=k30] reads a block: (hits, misses) {before:?} -> {after:?}"
        ),
        BOOK_CACHE,
    );
}

/// Puts keys 0..20 (value round 0) and flushes them: one SST of a single block.
fn flush_twenty_keys_into_one_block(db: &MiniLsm) {
    for i in 0..20 {
        put(db, &key(i), &value(i, 0));
    }
    flush(db);
}

#[test]
fn second_read_of_a_flushed_key_is_a_block_cache_hit() {
    let dir = temp_dir();
    let db = open_db(dir.path());
    flush_twenty_keys_into_one_block(&db);
    let target = key(7);
    let expected = value(7, 0);
    // The SST has a single block, so each get reads exactly one block.
    let scenario = "20 keys flushed into a one-block SST";
    for (read, delta) in [("first", (0, 1)), ("second", (1, 0))] {
        let (hits, misses) = block_reads(&db);
        expect_get(&db, &target, Some(&expected), scenario, BOOK_CACHE);
        let (hits_after, misses_after) = block_reads(&db);
        check_eq(
            (
                i128::from(hits_after) - i128::from(hits),
                i128::from(misses_after) - i128::from(misses),
            ),
            delta,
            &format!(
                "{scenario}: {read} get({}), (block cache hits, misses) delta",
                show(&target)
            ),
            BOOK_CACHE,
        );
    }
}

/// The one SST file in `dir` (after a single flush).
fn only_sst_file(dir: &Path) -> std::path::PathBuf {
    let ssts: Vec<_> = std::fs::read_dir(dir)
        .expect("list the engine's directory")
        .map(|entry| entry.expect("read a directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "sst"))
        .collect();
    match &ssts[..] {
        [one] => one.clone(),
        _ => fail(
            "one flush of one memtable",
            "exactly one .sst file in the engine's directory",
            format!("{ssts:?}"),
            BOOK_FLUSH,
        ),
    }
}

/// Writes `byte` at `offset` of the file at `path`, in place: the engine's open SST sees it on
/// its next read.
fn overwrite_byte(path: &Path, offset: u64, byte: u8) {
    use std::os::unix::fs::FileExt;
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .expect("open the SST file for writing");
    file.write_all_at(&[byte], offset)
        .expect("overwrite one byte of the SST file");
}

/// A read whose block fails its checksum returns the error and caches nothing: once the bytes on
/// disk are good again, the next `get` reads the block again (a second miss) and finds the value.
/// A cache that remembered the failed load in any form would answer from that entry instead.
#[test]
fn failed_block_read_is_not_cached() {
    let dir = temp_dir();
    let db = open_db(dir.path());
    flush_twenty_keys_into_one_block(&db);
    let sst = only_sst_file(dir.path());
    let target = key(7);
    let expected = value(7, 0);
    let scenario = "20 keys flushed into a one-block SST whose block is damaged on disk";
    // The block starts at byte 0 of the file: damaging its first byte breaks its checksum.
    let original = std::fs::read(&sst).expect("read the SST file")[0];
    overwrite_byte(&sst, 0, !original);
    let before = block_reads(&db);
    match db.get(&target) {
        Err(Error::Corruption { .. }) => {}
        other => fail(
            &format!("{scenario}: get({})", show(&target)),
            "Err(Corruption { .. }) (the block fails its checksum)",
            format!("{other:?}"),
            BOOK_CACHE,
        ),
    }
    overwrite_byte(&sst, 0, original);
    let scenario = format!("{scenario}, then repaired after one failed get");
    expect_get(&db, &target, Some(&expected), &scenario, BOOK_CACHE);
    let after = block_reads(&db);
    check_eq(
        (
            i128::from(after.0) - i128::from(before.0),
            i128::from(after.1) - i128::from(before.1),
        ),
        (0, 2),
        &format!(
            "{scenario}: (block cache hits, misses) delta over the failed get and the one after"
        ),
        BOOK_CACHE,
    );
}

// ---------------------------------------------------------------------------------------------
// Limits and invalid arguments
// ---------------------------------------------------------------------------------------------

/// A record the engine must reject.
#[derive(Debug, Clone, Copy)]
enum Bad {
    EmptyKeyPut,
    EmptyKeyDelete,
    LongKeyPut,
    LongKeyDelete,
    LongValue,
}

impl Bad {
    fn record(self) -> WriteBatchRecord<Vec<u8>, Vec<u8>> {
        // One past the limit; a key of 65 536 bytes truncated to a u16 length would be empty.
        let long_key = || vec![b'k'; MAX_KEY_LEN + 1];
        match self {
            Bad::EmptyKeyPut => WriteBatchRecord::Put(Vec::new(), b"v".to_vec()),
            Bad::EmptyKeyDelete => WriteBatchRecord::Delete(Vec::new()),
            Bad::LongKeyPut => WriteBatchRecord::Put(long_key(), b"v".to_vec()),
            Bad::LongKeyDelete => WriteBatchRecord::Delete(long_key()),
            Bad::LongValue => WriteBatchRecord::Put(b"k".to_vec(), vec![b'v'; MAX_VALUE_LEN + 1]),
        }
    }
}

/// The memtable size and entry count plus the L0 ranges: what a rejected write must not change.
fn state_of(db: &MiniLsm) -> (usize, usize, usize, Vec<(String, String)>) {
    let shape = db.shape();
    (
        shape.memtable.approximate_size,
        shape.memtable.num_entries,
        shape.immutable_memtables.len(),
        l0_ranges(&shape),
    )
}

#[rstest]
#[case::empty_key_put(Bad::EmptyKeyPut)]
#[case::empty_key_delete(Bad::EmptyKeyDelete)]
#[case::key_one_past_max_len_put(Bad::LongKeyPut)]
#[case::key_one_past_max_len_delete(Bad::LongKeyDelete)]
#[case::value_one_past_max_len(Bad::LongValue)]
fn invalid_write_is_rejected_before_any_state_change(#[case] bad: Bad) {
    let dir = temp_dir();
    let db = open_db(dir.path());
    apply(&db, &[Op::Put("k", "old"), Op::Flush, Op::Put("m", "mem")]);
    let before = state_of(&db);
    let scenario = format!("{bad:?} as a single write");
    match bad.record() {
        WriteBatchRecord::Put(k, v) => expect_invalid(db.put(&k, &v), &scenario),
        WriteBatchRecord::Delete(k) => expect_invalid(db.delete(&k), &scenario),
    }
    check_eq(
        state_of(&db),
        before,
        &format!("{scenario}: (memtable size, entries, frozen, L0) unchanged"),
        BOOK_LIMITS,
    );
    expect_get(&db, b"k", Some(b"old"), &scenario, BOOK_LIMITS);
    expect_get(&db, b"m", Some(b"mem"), &scenario, BOOK_LIMITS);
    let expected = entries(&[("k", Some("old")), ("m", Some("mem"))]);
    check_scan(
        &db,
        Bound::Unbounded,
        Bound::Unbounded,
        &expected,
        &scenario,
        BOOK_LIMITS,
    );
}

#[rstest]
#[case::empty_key_put(Bad::EmptyKeyPut)]
#[case::empty_key_delete(Bad::EmptyKeyDelete)]
#[case::key_one_past_max_len_delete(Bad::LongKeyDelete)]
#[case::value_one_past_max_len(Bad::LongValue)]
fn write_batch_with_one_bad_record_writes_none_of_its_records(#[case] bad: Bad) {
    let dir = temp_dir();
    let db = open_db(dir.path());
    put(&db, b"pre", b"before");
    let before = state_of(&db);
    let batch = vec![
        WriteBatchRecord::Put(b"a".to_vec(), b"1".to_vec()),
        WriteBatchRecord::Delete(b"pre".to_vec()),
        WriteBatchRecord::Put(b"b".to_vec(), b"2".to_vec()),
        bad.record(),
        WriteBatchRecord::Put(b"c".to_vec(), b"3".to_vec()),
    ];
    let scenario = format!("write_batch [put a, delete pre, put b, {bad:?}, put c]");
    expect_invalid(db.write_batch(&batch), &scenario);
    check_eq(
        state_of(&db),
        before.clone(),
        &format!("{scenario}: (memtable size, entries, frozen, L0) unchanged"),
        BOOK_LIMITS,
    );
    // An empty batch is a no-op: `Ok`, and nothing changes.
    ok(
        db.write_batch::<&[u8], &[u8]>(&[]),
        "write_batch(&[])",
        BOOK_LIMITS,
    );
    check_eq(
        state_of(&db),
        before,
        "write_batch(&[]): (memtable size, entries, frozen, L0) unchanged",
        BOOK_LIMITS,
    );
    for (k, v) in [
        ("a", None),
        ("b", None),
        ("c", None),
        ("pre", Some("before")),
    ] {
        expect_get(
            &db,
            k.as_bytes(),
            v.map(str::as_bytes),
            &scenario,
            BOOK_LIMITS,
        );
    }
    // A valid batch applies every record, in order.
    let good: Vec<WriteBatchRecord<&[u8], &[u8]>> = vec![
        WriteBatchRecord::Put(b"x", b"1"),
        WriteBatchRecord::Put(b"x", b"2"),
        WriteBatchRecord::Delete(b"pre"),
        WriteBatchRecord::Put(b"y", b""),
    ];
    ok(db.write_batch(&good), "a valid write_batch", BOOK_WRITE);
    let expected = entries(&[("x", Some("2")), ("y", Some(""))]);
    check_scan(
        &db,
        Bound::Unbounded,
        Bound::Unbounded,
        &expected,
        "after [put x 1, put x 2, delete pre, put y \"\"]",
        BOOK_WRITE,
    );
}

#[test]
fn get_with_an_invalid_key_is_rejected() {
    let dir = temp_dir();
    let db = open_db(dir.path());
    put(&db, b"k", b"v");
    expect_invalid(db.get(b""), "get of the empty key");
    expect_invalid(
        db.get(&vec![b'k'; MAX_KEY_LEN + 1]),
        "get of a key one byte past MAX_KEY_LEN",
    );
    expect_get(
        &db,
        b"k",
        Some(b"v"),
        "a valid get after rejected ones",
        BOOK_READ,
    );
}

#[test]
fn keys_of_max_len_round_trip_through_memtable_and_sst() {
    let dir = temp_dir();
    let db = open_db(dir.path());
    let mut low = vec![b'm'; MAX_KEY_LEN];
    low[MAX_KEY_LEN - 1] = b'a';
    let high = vec![b'm'; MAX_KEY_LEN];
    let model: Model = [
        (b"a".to_vec(), b"short".to_vec()),
        (low.clone(), b"low".to_vec()),
        (high.clone(), b"high".to_vec()),
        (b"z".to_vec(), b"last".to_vec()),
    ]
    .into_iter()
    .collect();
    for (k, v) in &model {
        put(&db, k, v);
    }
    let shorter = vec![b'm'; MAX_KEY_LEN - 1];
    expect_model_gets(
        &db,
        &model,
        &[&shorter],
        "keys of MAX_KEY_LEN bytes in the memtable",
        BOOK_LIMITS,
    );
    check_full_scan(
        &db,
        &model,
        "keys of MAX_KEY_LEN bytes in the memtable",
        BOOK_LIMITS,
    );
    flush(&db);
    expect_model_gets(
        &db,
        &model,
        &[&shorter],
        "keys of MAX_KEY_LEN bytes in an SST",
        BOOK_LIMITS,
    );
    check_full_scan(
        &db,
        &model,
        "keys of MAX_KEY_LEN bytes in an SST",
        BOOK_LIMITS,
    );
    let expected = model_range(&model, Bound::Excluded(&low), Bound::Included(&high));
    check_scan(
        &db,
        Bound::Excluded(&low),
        Bound::Included(&high),
        &expected,
        "bounds of MAX_KEY_LEN bytes on an SST",
        BOOK_LIMITS,
    );
}

// ---------------------------------------------------------------------------------------------
// Concurrency, background flush, close, open
// ---------------------------------------------------------------------------------------------

/// [`tests_day1_to_day7::with_watchdog`], citing this day's concurrency section.
fn with_watchdog(work: impl FnOnce() + Send + 'static) {
    tests_day1_to_day7::with_watchdog(BOOK_CONCURRENCY, work);
}

/// Counts a writer as finished when dropped, even when it panics, so the freezer stops.
struct Finished<'a>(&'a AtomicUsize);

impl Drop for Finished<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

const WRITERS: usize = 4;
const KEYS_PER_WRITER: usize = 150;

/// Writer `t` owns keys `t*KEYS_PER_WRITER ..`: puts each (generation 0), then overwrites two in
/// three and deletes the third (generation 1), reading every write back at once.
fn writer(db: &MiniLsm, t: usize) {
    let keys = t * KEYS_PER_WRITER..(t + 1) * KEYS_PER_WRITER;
    for i in keys.clone() {
        put(db, &key(i), &value(i, 0));
        expect_get(
            db,
            &key(i),
            Some(&value(i, 0)),
            &format!("writer {t} reads its put back"),
            BOOK_CONCURRENCY,
        );
    }
    for i in keys {
        if i % 3 == 0 {
            delete(db, &key(i));
            expect_get(
                db,
                &key(i),
                None,
                &format!("writer {t} reads its delete back"),
                BOOK_CONCURRENCY,
            );
        } else {
            put(db, &key(i), &value(i, 1));
            expect_get(
                db,
                &key(i),
                Some(&value(i, 1)),
                &format!("writer {t} reads its overwrite back"),
                BOOK_CONCURRENCY,
            );
        }
    }
}

#[rstest]
#[case::synchronous_hooks_only(usize::MAX, usize::MAX)]
#[case::small_memtables_and_background_flush(2048, 1)]
fn concurrent_writers_keep_their_last_values_during_freeze_and_flush(
    #[case] memtable_size: usize,
    #[case] max_immutable_memtables: usize,
) {
    with_watchdog(move || {
        let dir = temp_dir();
        let db = open_with(dir.path(), |o| {
            o.memtable_size = memtable_size.min(1 << 30);
            o.max_immutable_memtables = max_immutable_memtables;
        });
        let running = AtomicUsize::new(WRITERS);
        std::thread::scope(|s| {
            s.spawn(|| {
                // Bounded, so that the number of SSTs (and the cost of each get) stays small.
                let mut rounds = 0;
                while running.load(Ordering::SeqCst) > 0 && rounds < 100 {
                    freeze(&db);
                    ok(
                        db.force_flush_next_imm_memtable(),
                        "concurrent force_flush_next_imm_memtable",
                        BOOK_CONCURRENCY,
                    );
                    rounds += 1;
                }
            });
            for t in 0..WRITERS {
                let (db, running) = (&db, &running);
                s.spawn(move || {
                    let _finished = Finished(running);
                    writer(db, t);
                });
            }
        });
        let model: Model = (0..WRITERS * KEYS_PER_WRITER)
            .filter(|i| i % 3 != 0)
            .map(|i| (key(i), value(i, 1)))
            .collect();
        let deleted: Vec<Vec<u8>> = (0..WRITERS * KEYS_PER_WRITER).step_by(3).map(key).collect();
        let deleted: Vec<&[u8]> = deleted.iter().map(Vec::as_slice).collect();
        let scenario = "after concurrent writers, freezes and flushes";
        expect_model_gets(&db, &model, &deleted, scenario, BOOK_CONCURRENCY);
        check_full_scan(&db, &model, scenario, BOOK_CONCURRENCY);
        flush(&db);
        expect_model_gets(
            &db,
            &model,
            &deleted,
            &format!("{scenario}, then force_flush"),
            BOOK_CONCURRENCY,
        );
    });
}

/// Clears the flag when dropped, even by a panic.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

/// Engines [`active_memtable_is_never_also_frozen_while_freezes_and_flushes_run`] runs, each for
/// [`FREEZES_PER_ENGINE`] freezes. Measured on one core (`taskset -c 0`), where the watcher sees
/// a two-step freeze only when the scheduler switches threads inside it: the planted bug
/// `freeze-lists-the-active-memtable-as-frozen-first` is caught within the first engine or two.
const FREEZE_ENGINES: usize = 20;
const FREEZES_PER_ENGINE: usize = 1000;

/// A freeze must move the memtable from active to frozen in one step. One that first lists the
/// memtable among the immutable ones and installs the new memtable in a second step leaves a
/// moment when writers still write into a memtable that a flush may already be turning into an
/// SST: those writes are lost when the flush installs the SST. A watcher thread takes `shape()`
/// over and over while the test thread writes and freezes and a third thread flushes: the active
/// memtable's id must never also be a frozen memtable's. Every acknowledged write is read back at
/// the end. Thousands of freezes make a watcher miss such a moment practically impossible.
#[test]
fn active_memtable_is_never_also_frozen_while_freezes_and_flushes_run() {
    with_watchdog(|| {
        for engine in 0..FREEZE_ENGINES {
            let dir = temp_dir();
            let db = open_db(dir.path());
            let freezing = AtomicBool::new(true);
            let mut model = Model::new();
            let broken = std::thread::scope(|s| {
                let watcher = s.spawn(|| {
                    while freezing.load(Ordering::SeqCst) {
                        let shape = db.shape();
                        let active = shape.memtable.id;
                        if shape.immutable_memtables.iter().any(|m| m.id == active) {
                            return Some(shape);
                        }
                    }
                    None
                });
                s.spawn(|| {
                    while freezing.load(Ordering::SeqCst) {
                        ok(
                            db.force_flush_next_imm_memtable(),
                            "force_flush_next_imm_memtable while another thread freezes",
                            BOOK_CONCURRENCY,
                        );
                    }
                });
                // Stops the other two threads also when a put or freeze panics (a `todo!()`),
                // so the test fails with that panic instead of hanging.
                let stop = StopOnDrop(&freezing);
                for i in 0..FREEZES_PER_ENGINE {
                    let (k, v) = (key(i % 64), value(i, engine));
                    put(&db, &k, &v);
                    model.insert(k, v);
                    freeze(&db);
                }
                drop(stop);
                watcher
                    .join()
                    .unwrap_or_else(|p| std::panic::resume_unwind(p))
            });
            if let Some(shape) = broken {
                fail(
                    &format!(
                        "engine {engine}: shape() taken while another thread froze memtables \
                         ({} was active)\n{shape}",
                        shape.memtable.id
                    ),
                    "the active memtable's id among no frozen memtable's (a freeze swaps the \
                     memtable and lists it as frozen in one state change)",
                    Raw(format!(
                        "memtable {} both active and frozen",
                        shape.memtable.id
                    )),
                    BOOK_FLUSH,
                );
            }
            let scenario = format!(
                "engine {engine}: {FREEZES_PER_ENGINE} puts and freezes while another thread \
                 flushes"
            );
            expect_model_gets(&db, &model, &[], &scenario, BOOK_CONCURRENCY);
            check_full_scan(&db, &model, &scenario, BOOK_CONCURRENCY);
        }
    });
}

#[test]
fn close_lets_the_background_flush_thread_finish_its_pending_work() {
    let dir = temp_dir();
    let db = open_with(dir.path(), |o| {
        o.memtable_size = SMALL_MEMTABLE;
        o.max_immutable_memtables = 1;
    });
    let model: Model = (0..300).map(|i| (key(i), value(i, 0))).collect();
    for (k, v) in &model {
        put(&db, k, v);
    }
    check_full_scan(
        &db,
        &model,
        "300 puts with memtable_size 1024, max_immutable_memtables 1\nthe writer froze memtables \
         while the flush thread flushed: a flush must swap its SST into the state as it is at the \
         swap (taken under state_lock), or memtables frozen meanwhile are dropped",
        BOOK_FLUSH,
    );
    ok(db.close(), "close", BOOK_FLUSH);
    let shape = db.shape();
    let stats = db.stats();
    let scenario = format!("after close\n{shape}");
    check_eq(
        shape.immutable_memtables.len() <= 1,
        true,
        &format!(
            "{scenario}at most max_immutable_memtables = 1 frozen memtable left, got {}",
            shape.immutable_memtables.len()
        ),
        BOOK_FLUSH,
    );
    check_eq(
        (shape.l0.is_empty(), stats.flushes as usize),
        (false, shape.l0.len()),
        &format!("{scenario}(L0 empty, flushes counted = L0 SSTs)"),
        BOOK_FLUSH,
    );
    ok(db.close(), "closing twice is harmless", BOOK_FLUSH);
}

#[test]
fn operations_after_close_fail_with_closed() {
    let dir = temp_dir();
    let db = open_db(dir.path());
    put(&db, b"k", b"v");
    expect_get(&db, b"k", Some(b"v"), "before close", BOOK_READ);
    ok(db.close(), "close", BOOK_WRITE);
    expect_closed(db.get(b"k"), "get after close");
    expect_closed(db.put(b"k", b"w"), "put after close");
    expect_closed(db.delete(b"k"), "delete after close");
    expect_closed(
        db.write_batch(&[WriteBatchRecord::Put(b"a", b"1")]),
        "write_batch after close",
    );
    expect_closed(
        db.scan(Bound::Unbounded, Bound::Unbounded),
        "scan after close",
    );
    expect_closed(db.sync(), "sync after close");
    expect_closed(
        db.force_freeze_memtable(),
        "force_freeze_memtable after close",
    );
    expect_closed(db.force_flush(), "force_flush after close");
}

#[test]
fn open_on_a_regular_file_is_an_invalid_argument() {
    let dir = temp_dir();
    let file = dir.path().join("not-a-directory");
    if let Err(e) = std::fs::write(&file, b"user data") {
        fail("create a regular file", "Ok", e, BOOK_LIMITS);
    }
    expect_invalid(
        MiniLsm::open(&file, options_for_day(4)),
        "open on a regular file",
    );
    check_eq(
        std::fs::read(&file).ok(),
        Some(b"user data".to_vec()),
        "the regular file is left untouched",
        BOOK_LIMITS,
    );
    // A directory next to it works.
    let db = open_db(&dir.path().join("db"));
    put(&db, b"k", b"v");
    flush(&db);
    expect_get(
        &db,
        b"k",
        Some(b"v"),
        "an engine in a real directory",
        BOOK_READ,
    );
}
