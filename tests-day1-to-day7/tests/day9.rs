//! Day 9 graded tests: optimistic serializable transactions (book chapter
//! `day9-transactions.md`; Part 2 of the course, graded with `cargo x grade --day 9`).
//!
//! Covers:
//! - Reading your own writes: `get` and `scan` see the transaction's puts, overwrites and
//!   deletes first, over the database at its start seq, for every bound kind; nobody else sees
//!   them before the commit.
//! - Isolation: writes committed after `begin` (by transactions or plain writes, flushed and
//!   compacted or not) are invisible to the transaction.
//! - Validation: a lost update, write skew and a phantom are each refused with
//!   `Error::TransactionConflict`; plain `put`/`delete`/`write_batch` conflict like
//!   transactions; read-only transactions, disjoint writers, blind writers and writes before
//!   the start never conflict; concurrent increments with retries add up exactly.
//! - A failed commit writes nothing; dropping a transaction aborts it; both release its
//!   snapshot (compaction may then drop what it held).
//! - A commit is one batch: one WAL record, recovered whole after a reopen; a WAL cut anywhere
//!   inside that record (a crash mid-write) recovers all of the commit or none of it.
//! - The commit log is empty while no transaction is live, and keeps what a live one needs.

use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

use rstest::rstest;
use tests_day1_to_day7::lsm::mvcc::user_key_of;
use tests_day1_to_day7::lsm::record_file::{RECORD_HEADER_SIZE, decode_records, read_file};
use tests_day1_to_day7::lsm::wal::Wal;
use tests_day1_to_day7::lsm::{Error, LsmOptions, MiniLsm, Transaction, WriteBatchRecord};
use tests_day1_to_day7::*;

const BOOK_TXN: &str = "day9-transactions.md#transactions";
const BOOK_OWN: &str = "day9-transactions.md#reading-your-own-writes";
const BOOK_COMMIT: &str = "day9-transactions.md#committing";
const BOOK_VALIDATION: &str = "day9-transactions.md#validation";
const BOOK_PHANTOMS: &str = "day9-transactions.md#phantoms";
const BOOK_LOG: &str = "day9-transactions.md#the-commit-log";
const BOOK_ABORT: &str = "day9-transactions.md#aborting";
const BOOK_ATOMIC: &str = "day9-transactions.md#atomicity-and-recovery";

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Day-9 options: versioned keys and the WAL on, the tree's shape under the test's control.
fn options() -> LsmOptions {
    options_for_day(9)
}

/// Opens a day-9 engine in `dir`.
fn open(dir: &Path, scenario: &str, book: &str) -> Arc<MiniLsm> {
    ok(MiniLsm::open(dir, options()), scenario, book)
}

/// Begins a transaction.
fn begin(db: &MiniLsm, scenario: &str, book: &str) -> Transaction {
    ok(db.begin(), &format!("{scenario}: begin"), book)
}

/// A transaction's `get`, as an owned value.
fn txn_get(txn: &mut Transaction, key: &[u8], scenario: &str, book: &str) -> Option<Vec<u8>> {
    let scenario = format!("{scenario}: txn.get({})", show(key));
    ok(txn.get(key), &scenario, book).map(|value| value.to_vec())
}

/// Every entry of a transaction's scan.
fn txn_scan(
    txn: &mut Transaction,
    lower: Bound<&[u8]>,
    upper: Bound<&[u8]>,
    scenario: &str,
    book: &str,
) -> Entries {
    let scenario = format!("{scenario}: txn.scan({lower:?}, {upper:?})");
    let mut scan = ok(txn.scan(lower, upper), &scenario, book);
    ok(drain(&mut scan, &scenario, book), &scenario, book)
}

/// Every entry of a plain scan over the whole database.
fn db_scan(db: &MiniLsm, scenario: &str, book: &str) -> Entries {
    let mut scan = ok(db.scan(Bound::Unbounded, Bound::Unbounded), scenario, book);
    ok(drain(&mut scan, scenario, book), scenario, book)
}

/// Fails unless `result` is `Err(TransactionConflict)`.
#[track_caller]
fn expect_conflict(result: tests_day1_to_day7::lsm::Result<()>, scenario: &str, book: &str) {
    match result {
        Err(Error::TransactionConflict(_)) => {}
        other => fail(
            scenario,
            "Err(TransactionConflict(..))",
            format!("{other:?}"),
            book,
        ),
    }
}

/// Checks a database `get` against `expected`.
#[track_caller]
fn check_db_get(db: &MiniLsm, key: &[u8], expected: Option<&[u8]>, scenario: &str, book: &str) {
    let scenario = format!("{scenario}: db.get({})", show(key));
    check_get(ok(db.get(key), &scenario, book), expected, &scenario, book);
}

// ---------------------------------------------------------------------------------------------
// Transactions and their reads
// ---------------------------------------------------------------------------------------------

#[test]
fn a_transaction_reads_its_own_writes_first() {
    let dir = temp_dir();
    let scenario = "db has a=1, b=2, c=3; txn puts a=A, deletes b, puts d=D";
    let db = open(dir.path(), scenario, BOOK_OWN);
    for (k, v) in [("a", "1"), ("b", "2"), ("c", "3")] {
        ok(db.put(k.as_bytes(), v.as_bytes()), scenario, BOOK_OWN);
    }
    let mut txn = begin(&db, scenario, BOOK_OWN);
    ok(txn.put(b"a", b"A"), scenario, BOOK_OWN);
    ok(txn.delete(b"b"), scenario, BOOK_OWN);
    ok(txn.put(b"d", b"D"), scenario, BOOK_OWN);
    ok(txn.put(b"e", b""), scenario, BOOK_OWN);
    for (key, expected) in [
        (&b"a"[..], Some(&b"A"[..])),
        (b"b", None),
        (b"c", Some(b"3")),
        (b"d", Some(b"D")),
        (b"e", Some(b"")),
    ] {
        check_eq(
            Shown(txn_get(&mut txn, key, scenario, BOOK_OWN)),
            Shown(expected.map(<[u8]>::to_vec)),
            &format!("{scenario}: txn.get({})", show(key)),
            BOOK_OWN,
        );
    }
    ok(txn.put(b"b", b"B again"), scenario, BOOK_OWN);
    ok(txn.delete(b"d"), scenario, BOOK_OWN);
    let scenario = format!("{scenario}, then puts b=\"B again\" and deletes d");
    check_eq(
        Shown(txn_get(&mut txn, b"b", &scenario, BOOK_OWN)),
        Shown(Some(b"B again".to_vec())),
        &format!("{scenario}: txn.get(\"b\") (its latest write wins)"),
        BOOK_OWN,
    );
    check_eq(
        Shown(txn_get(&mut txn, b"d", &scenario, BOOK_OWN)),
        Shown(None),
        &format!("{scenario}: txn.get(\"d\") (its own delete hides its own put)"),
        BOOK_OWN,
    );
    let seen = txn_scan(
        &mut txn,
        Bound::Unbounded,
        Bound::Unbounded,
        &scenario,
        BOOK_OWN,
    );
    let expected = entries(&[
        ("a", Some("A")),
        ("b", Some("B again")),
        ("c", Some("3")),
        ("e", Some("")),
    ]);
    if seen != expected {
        fail_entries(
            &format!("{scenario}: txn.scan(..)"),
            &expected,
            &seen,
            BOOK_OWN,
        );
    }
    // Nobody else sees the writes before the commit.
    check_db_get(&db, b"a", Some(b"1"), &scenario, BOOK_OWN);
    check_db_get(&db, b"b", Some(b"2"), &scenario, BOOK_OWN);
    check_db_get(&db, b"e", None, &scenario, BOOK_OWN);
    ok(txn.commit(), &scenario, BOOK_COMMIT);
    let scenario = format!("{scenario}, then committed");
    let now = db_scan(&db, &scenario, BOOK_COMMIT);
    if now != expected {
        fail_entries(
            &format!("{scenario}: db.scan(..)"),
            &expected,
            &now,
            BOOK_COMMIT,
        );
    }
}

#[rstest]
#[case::unbounded(Bound::Unbounded, Bound::Unbounded)]
#[case::included_excluded(Bound::Included(3), Bound::Excluded(7))]
#[case::excluded_included(Bound::Excluded(4), Bound::Included(41))]
#[case::excluded_around_own_delete(Bound::Excluded(5), Bound::Excluded(7))]
#[case::from_an_own_write(Bound::Included(41), Bound::Unbounded)]
#[case::up_to_an_own_delete(Bound::Unbounded, Bound::Included(6))]
#[case::inverted(Bound::Included(20), Bound::Included(10))]
fn a_transaction_scan_merges_its_writes_over_the_database(
    #[case] lower: Bound<usize>,
    #[case] upper: Bound<usize>,
) {
    let dir = temp_dir();
    let scenario = format!(
        "even keys 0..40 in the db (half flushed); txn puts 3 and 41, overwrites 4, deletes 6, \
         7 and 40; txn.scan({lower:?}, {upper:?})"
    );
    let db = open(dir.path(), &scenario, BOOK_OWN);
    let mut model = Model::new();
    for i in (0..=40).step_by(2) {
        ok(db.put(&key(i), &value(i, 0)), &scenario, BOOK_OWN);
        model.insert(key(i), value(i, 0));
        if i == 20 {
            ok(db.force_flush(), &scenario, BOOK_OWN);
        }
    }
    let mut txn = begin(&db, &scenario, BOOK_OWN);
    for i in [3, 41, 4] {
        ok(txn.put(&key(i), &value(i, 1)), &scenario, BOOK_OWN);
        model.insert(key(i), value(i, 1));
    }
    for i in [6, 7, 40] {
        ok(txn.delete(&key(i)), &scenario, BOOK_OWN);
        model.remove(&key(i));
    }
    let (lower, upper) = (lower.map(key), upper.map(key));
    let (lower, upper) = (
        lower.as_ref().map(Vec::as_slice),
        upper.as_ref().map(Vec::as_slice),
    );
    let seen = txn_scan(&mut txn, lower, upper, &scenario, BOOK_OWN);
    let expected = model_range(&model, lower, upper);
    if seen != expected {
        fail_entries(&scenario, &expected, &seen, BOOK_OWN);
    }
}

#[rstest]
fn a_transaction_does_not_see_writes_committed_after_it_began(
    #[values(false, true)] flush_and_compact: bool,
) {
    let dir = temp_dir();
    let scenario = format!(
        "txn begins; a plain put, a plain delete and another transaction commit{}",
        if flush_and_compact {
            ", then a flush and a full compaction"
        } else {
            ""
        }
    );
    let db = open(dir.path(), &scenario, BOOK_TXN);
    for i in 0..10 {
        ok(db.put(&key(i), &value(i, 0)), &scenario, BOOK_TXN);
    }
    let mut txn = begin(&db, &scenario, BOOK_TXN);
    let before: Entries = (0..10).map(|i| (key(i), Some(value(i, 0)))).collect();
    ok(db.put(&key(1), &value(1, 1)), &scenario, BOOK_TXN);
    ok(db.delete(&key(2)), &scenario, BOOK_TXN);
    ok(db.put(&key(20), &value(20, 1)), &scenario, BOOK_TXN);
    let mut other = begin(&db, &scenario, BOOK_TXN);
    ok(other.put(&key(3), &value(3, 1)), &scenario, BOOK_TXN);
    ok(other.put(&key(15), &value(15, 1)), &scenario, BOOK_TXN);
    ok(
        other.commit(),
        &format!("{scenario}: the other commit"),
        BOOK_TXN,
    );
    if flush_and_compact {
        ok(db.force_flush(), &scenario, BOOK_TXN);
        ok(db.force_full_compaction(), &scenario, BOOK_TXN);
    }
    for i in [1, 2, 3] {
        check_eq(
            Shown(txn_get(&mut txn, &key(i), &scenario, BOOK_TXN)),
            Shown(Some(value(i, 0))),
            &format!(
                "{scenario}: txn.get({}) (changed after begin)",
                show(&key(i))
            ),
            BOOK_TXN,
        );
    }
    for i in [15, 20] {
        check_eq(
            Shown(txn_get(&mut txn, &key(i), &scenario, BOOK_TXN)),
            Shown(None),
            &format!(
                "{scenario}: txn.get({}) (first written after begin)",
                show(&key(i))
            ),
            BOOK_TXN,
        );
    }
    let seen = txn_scan(
        &mut txn,
        Bound::Unbounded,
        Bound::Unbounded,
        &scenario,
        BOOK_TXN,
    );
    if seen != before {
        fail_entries(
            &format!("{scenario}: txn.scan(..)"),
            &before,
            &seen,
            BOOK_TXN,
        );
    }
    drop(txn);
    // Without versioned keys there is no snapshot to read.
    let plain = temp_dir();
    let options = LsmOptions {
        mvcc: false,
        ..options()
    };
    let db = ok(MiniLsm::open(plain.path(), options), "mvcc off", BOOK_TXN);
    match db.begin() {
        Err(Error::InvalidArgument(_)) => {}
        other => fail(
            "begin on an engine without mvcc",
            "Err(InvalidArgument)",
            format!("{:?}", other.map(|_| "a transaction")),
            BOOK_TXN,
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------

#[test]
fn a_lost_update_is_refused() {
    let dir = temp_dir();
    let scenario = "counter = 10; T1 and T2 both read it and write it + 1; T1 commits first";
    let db = open(dir.path(), scenario, BOOK_VALIDATION);
    ok(db.put(b"counter", b"10"), scenario, BOOK_VALIDATION);
    let mut t1 = begin(&db, scenario, BOOK_VALIDATION);
    let mut t2 = begin(&db, scenario, BOOK_VALIDATION);
    for txn in [&mut t1, &mut t2] {
        let seen = txn_get(txn, b"counter", scenario, BOOK_VALIDATION);
        check_eq(
            Shown(seen),
            Shown(Some(b"10".to_vec())),
            scenario,
            BOOK_VALIDATION,
        );
        ok(txn.put(b"counter", b"11"), scenario, BOOK_VALIDATION);
    }
    ok(
        t1.commit(),
        &format!("{scenario}: T1 commits"),
        BOOK_VALIDATION,
    );
    expect_conflict(
        t2.commit(),
        &format!("{scenario}: T2 commits (it read 10, which T1 changed)"),
        BOOK_VALIDATION,
    );
    check_db_get(&db, b"counter", Some(b"11"), scenario, BOOK_VALIDATION);
    let mut t3 = begin(&db, scenario, BOOK_VALIDATION);
    let seen = txn_get(&mut t3, b"counter", scenario, BOOK_VALIDATION);
    check_eq(
        Shown(seen),
        Shown(Some(b"11".to_vec())),
        &format!("{scenario}: T2 retried as T3 reads"),
        BOOK_VALIDATION,
    );
    ok(t3.put(b"counter", b"12"), scenario, BOOK_VALIDATION);
    ok(
        t3.commit(),
        &format!("{scenario}: the retry commits"),
        BOOK_VALIDATION,
    );
    check_db_get(&db, b"counter", Some(b"12"), scenario, BOOK_VALIDATION);
}

#[test]
fn concurrent_increments_with_retries_add_up() {
    const THREADS: usize = 4;
    const INCREMENTS: usize = 25;
    let dir = temp_dir();
    let scenario = format!(
        "{THREADS} threads each add 1 to one counter {INCREMENTS} times in transactions, \
         retrying on conflict"
    );
    let db = open(dir.path(), &scenario, BOOK_VALIDATION);
    ok(db.put(b"counter", b"0"), &scenario, BOOK_VALIDATION);
    let db_for_work = Arc::clone(&db);
    let scenario_for_work = scenario.clone();
    with_watchdog(BOOK_VALIDATION, move || {
        let (db, scenario) = (db_for_work, scenario_for_work);
        std::thread::scope(|scope| {
            for _ in 0..THREADS {
                let (db, scenario) = (&db, &scenario);
                scope.spawn(move || {
                    for _ in 0..INCREMENTS {
                        increment_with_retries(db, scenario);
                    }
                });
            }
        });
    });
    check_db_get(
        &db,
        b"counter",
        Some((THREADS * INCREMENTS).to_string().as_bytes()),
        &scenario,
        BOOK_VALIDATION,
    );
    check_eq(
        db.commit_log_len(),
        0,
        &format!("{scenario}: commit log entries once every transaction ended"),
        BOOK_LOG,
    );
}

/// Adds 1 to `counter` in a transaction, retrying until a commit succeeds.
fn increment_with_retries(db: &MiniLsm, scenario: &str) {
    for _attempt in 0..10_000 {
        let mut txn = begin(db, scenario, BOOK_VALIDATION);
        let current = txn_get(&mut txn, b"counter", scenario, BOOK_VALIDATION)
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .and_then(|text| text.parse::<usize>().ok())
            .unwrap_or_else(|| fail(scenario, "a number in counter", "none", BOOK_VALIDATION));
        // Lets another thread run between the read and the commit, so conflicts happen.
        std::thread::yield_now();
        ok(
            txn.put(b"counter", (current + 1).to_string().as_bytes()),
            scenario,
            BOOK_VALIDATION,
        );
        match txn.commit() {
            Ok(()) => return,
            Err(Error::TransactionConflict(_)) => continue,
            Err(other) => fail(
                scenario,
                "Ok or Err(TransactionConflict)",
                format!("Err({other:?})"),
                BOOK_VALIDATION,
            ),
        }
    }
    fail(
        scenario,
        "an increment to commit within 10000 attempts",
        "a conflict every time",
        BOOK_VALIDATION,
    );
}

#[test]
fn write_skew_is_refused() {
    let dir = temp_dir();
    let scenario = "alice and bob on call; T1 and T2 each read both, see 2 on call, and take \
                    one (T1 alice, T2 bob) off";
    let db = open(dir.path(), scenario, BOOK_VALIDATION);
    ok(db.put(b"alice", b"on"), scenario, BOOK_VALIDATION);
    ok(db.put(b"bob", b"on"), scenario, BOOK_VALIDATION);
    let mut t1 = begin(&db, scenario, BOOK_VALIDATION);
    let mut t2 = begin(&db, scenario, BOOK_VALIDATION);
    for (txn, me) in [(&mut t1, &b"alice"[..]), (&mut t2, b"bob")] {
        let on_call = [&b"alice"[..], b"bob"]
            .into_iter()
            .filter(|doctor| {
                txn_get(txn, doctor, scenario, BOOK_VALIDATION).as_deref() == Some(b"on")
            })
            .count();
        check_eq(on_call, 2, scenario, BOOK_VALIDATION);
        ok(txn.put(me, b"off"), scenario, BOOK_VALIDATION);
    }
    ok(
        t1.commit(),
        &format!("{scenario}: T1 commits"),
        BOOK_VALIDATION,
    );
    expect_conflict(
        t2.commit(),
        &format!(
            "{scenario}: T2 commits (it read alice, whom T1 took off: under snapshot isolation \
             alone both would commit, leaving nobody on call)"
        ),
        BOOK_VALIDATION,
    );
    check_db_get(&db, b"bob", Some(b"on"), scenario, BOOK_VALIDATION);
}

#[rstest]
#[case::inside(15, true)]
#[case::at_the_included_lower_bound(10, true)]
#[case::at_the_excluded_upper_bound(20, false)]
#[case::above_the_range(25, false)]
fn an_insert_into_a_scanned_range_is_a_conflict(#[case] inserted: usize, #[case] conflicts: bool) {
    let dir = temp_dir();
    let scenario = format!(
        "T1 scans [{}, {}) and writes a summary; T2 inserts {} and commits first",
        show(&key(10)),
        show(&key(20)),
        show(&key(inserted))
    );
    let db = open(dir.path(), &scenario, BOOK_PHANTOMS);
    for i in [11, 13, 17] {
        ok(db.put(&key(i), &value(i, 0)), &scenario, BOOK_PHANTOMS);
    }
    let mut t1 = begin(&db, &scenario, BOOK_PHANTOMS);
    let seen = txn_scan(
        &mut t1,
        Bound::Included(&key(10)),
        Bound::Excluded(&key(20)),
        &scenario,
        BOOK_PHANTOMS,
    );
    check_eq(seen.len(), 3, &scenario, BOOK_PHANTOMS);
    ok(t1.put(b"summary", b"3 rooms"), &scenario, BOOK_PHANTOMS);
    let mut t2 = begin(&db, &scenario, BOOK_PHANTOMS);
    ok(
        t2.put(&key(inserted), &value(inserted, 1)),
        &scenario,
        BOOK_PHANTOMS,
    );
    ok(
        t2.commit(),
        &format!("{scenario}: T2 commits"),
        BOOK_PHANTOMS,
    );
    let result = t1.commit();
    if conflicts {
        expect_conflict(
            result,
            &format!("{scenario}: T1 commits (the key is inside the range it scanned)"),
            BOOK_PHANTOMS,
        );
        check_db_get(&db, b"summary", None, &scenario, BOOK_PHANTOMS);
    } else {
        ok(
            result,
            &format!("{scenario}: T1 commits (the key is outside the range it scanned)"),
            BOOK_PHANTOMS,
        );
        check_db_get(&db, b"summary", Some(b"3 rooms"), &scenario, BOOK_PHANTOMS);
    }
}

/// A plain write (no transaction) to a key a transaction read.
#[derive(Debug, Clone, Copy)]
enum PlainWrite {
    Put,
    Delete,
    WriteBatch,
    PutIntoScannedRange,
}

#[rstest]
fn plain_writes_conflict_like_transactions(
    #[values(
        PlainWrite::Put,
        PlainWrite::Delete,
        PlainWrite::WriteBatch,
        PlainWrite::PutIntoScannedRange
    )]
    write: PlainWrite,
) {
    let dir = temp_dir();
    let scenario = format!(
        "txn reads k (or scans [j, l]) and writes x; then a plain {write:?} changes what it read"
    );
    let db = open(dir.path(), &scenario, BOOK_VALIDATION);
    ok(db.put(b"k", b"old"), &scenario, BOOK_VALIDATION);
    let mut txn = begin(&db, &scenario, BOOK_VALIDATION);
    if let PlainWrite::PutIntoScannedRange = write {
        txn_scan(
            &mut txn,
            Bound::Included(b"j"),
            Bound::Included(b"l"),
            &scenario,
            BOOK_VALIDATION,
        );
    } else {
        txn_get(&mut txn, b"k", &scenario, BOOK_VALIDATION);
    }
    ok(txn.put(b"x", b"from the txn"), &scenario, BOOK_VALIDATION);
    let written = match write {
        PlainWrite::Put => db.put(b"k", b"new"),
        PlainWrite::Delete => db.delete(b"k"),
        PlainWrite::WriteBatch => db.write_batch(&[
            WriteBatchRecord::Put(&b"a"[..], &b"1"[..]),
            WriteBatchRecord::Put(b"k", b"new"),
            WriteBatchRecord::Delete(b"z"),
        ]),
        PlainWrite::PutIntoScannedRange => db.put(b"kk", b"new"),
    };
    ok(written, &scenario, BOOK_VALIDATION);
    expect_conflict(
        txn.commit(),
        &format!("{scenario}: txn commits"),
        BOOK_VALIDATION,
    );
    check_db_get(&db, b"x", None, &scenario, BOOK_VALIDATION);
}

#[test]
fn read_only_transactions_never_conflict() {
    let dir = temp_dir();
    let scenario = "txn reads k and scans everything; then k is overwritten and keys are added";
    let db = open(dir.path(), scenario, BOOK_COMMIT);
    ok(db.put(b"k", b"old"), scenario, BOOK_COMMIT);
    let mut reader = begin(&db, scenario, BOOK_COMMIT);
    txn_get(&mut reader, b"k", scenario, BOOK_COMMIT);
    txn_scan(
        &mut reader,
        Bound::Unbounded,
        Bound::Unbounded,
        scenario,
        BOOK_COMMIT,
    );
    ok(db.put(b"k", b"new"), scenario, BOOK_COMMIT);
    let mut writer = begin(&db, scenario, BOOK_COMMIT);
    ok(writer.put(b"added", b"x"), scenario, BOOK_COMMIT);
    ok(writer.commit(), scenario, BOOK_COMMIT);
    check_eq(
        Shown(txn_get(&mut reader, b"k", scenario, BOOK_COMMIT)),
        Shown(Some(b"old".to_vec())),
        &format!("{scenario}: the reader's get(k) after the writes"),
        BOOK_COMMIT,
    );
    ok(
        reader.commit(),
        &format!("{scenario}: the read-only txn commits"),
        BOOK_COMMIT,
    );
    check_db_get(&db, b"k", Some(b"new"), scenario, BOOK_COMMIT);
}

#[test]
fn transactions_that_touch_nothing_the_other_read_both_commit() {
    let dir = temp_dir();
    let scenario = "while a reader T0 stays live: T1 reads and writes a, T2 reads and writes b, \
                    T3 and T4 write c blindly, T5 reads and writes e written just before it began";
    let db = open(dir.path(), scenario, BOOK_VALIDATION);
    ok(db.put(b"a", b"0"), scenario, BOOK_VALIDATION);
    ok(db.put(b"b", b"0"), scenario, BOOK_VALIDATION);
    // T0 keeps every later write in the commit log, so T5's check has the write of e to see.
    let t0 = begin(&db, scenario, BOOK_VALIDATION);
    let mut t1 = begin(&db, scenario, BOOK_VALIDATION);
    let mut t2 = begin(&db, scenario, BOOK_VALIDATION);
    let mut t3 = begin(&db, scenario, BOOK_VALIDATION);
    let mut t4 = begin(&db, scenario, BOOK_VALIDATION);
    txn_get(&mut t1, b"a", scenario, BOOK_VALIDATION);
    ok(t1.put(b"a", b"1"), scenario, BOOK_VALIDATION);
    txn_get(&mut t2, b"b", scenario, BOOK_VALIDATION);
    ok(t2.put(b"b", b"2"), scenario, BOOK_VALIDATION);
    ok(t3.put(b"c", b"3"), scenario, BOOK_VALIDATION);
    ok(t4.put(b"c", b"4"), scenario, BOOK_VALIDATION);
    for (name, txn) in [("T1", t1), ("T2", t2), ("T3", t3), ("T4", t4)] {
        ok(
            txn.commit(),
            &format!("{scenario}: {name} commits"),
            BOOK_VALIDATION,
        );
    }
    ok(db.put(b"e", b"before"), scenario, BOOK_VALIDATION);
    let mut t5 = begin(&db, scenario, BOOK_VALIDATION);
    txn_get(&mut t5, b"e", scenario, BOOK_VALIDATION);
    ok(t5.put(b"e", b"after"), scenario, BOOK_VALIDATION);
    ok(
        t5.commit(),
        &format!("{scenario}: T5 commits (e was written before it began)"),
        BOOK_VALIDATION,
    );
    for (key, expected) in [
        (&b"a"[..], &b"1"[..]),
        (b"b", b"2"),
        (b"c", b"4"),
        (b"e", b"after"),
    ] {
        check_db_get(&db, key, Some(expected), scenario, BOOK_VALIDATION);
    }
    drop(t0);
}

// ---------------------------------------------------------------------------------------------
// Commit, abort and the commit log
// ---------------------------------------------------------------------------------------------

#[test]
fn a_failed_commit_writes_nothing() {
    let dir = temp_dir();
    let scenario = "txn reads x, puts x and y, deletes z; x is overwritten; txn commits";
    let db = open(dir.path(), scenario, BOOK_COMMIT);
    ok(db.put(b"x", b"old"), scenario, BOOK_COMMIT);
    ok(db.put(b"z", b"keep"), scenario, BOOK_COMMIT);
    let mut txn = begin(&db, scenario, BOOK_COMMIT);
    txn_get(&mut txn, b"x", scenario, BOOK_COMMIT);
    ok(txn.put(b"x", b"from the txn"), scenario, BOOK_COMMIT);
    ok(txn.put(b"y", b"from the txn"), scenario, BOOK_COMMIT);
    ok(txn.delete(b"z"), scenario, BOOK_COMMIT);
    ok(db.put(b"x", b"other"), scenario, BOOK_COMMIT);
    expect_conflict(
        txn.commit(),
        &format!("{scenario}: the commit"),
        BOOK_COMMIT,
    );
    let expected = entries(&[("x", Some("other")), ("z", Some("keep"))]);
    let now = db_scan(&db, scenario, BOOK_COMMIT);
    if now != expected {
        fail_entries(
            &format!("{scenario}: db.scan(..) after the failed commit"),
            &expected,
            &now,
            BOOK_COMMIT,
        );
    }
    ok(db.close(), scenario, BOOK_COMMIT);
    drop(db);
    let db = open(dir.path(), scenario, BOOK_ATOMIC);
    let now = db_scan(&db, scenario, BOOK_ATOMIC);
    if now != expected {
        fail_entries(
            &format!("{scenario}: db.scan(..) after a reopen"),
            &expected,
            &now,
            BOOK_ATOMIC,
        );
    }
}

#[test]
fn dropping_a_transaction_aborts_it_and_releases_its_snapshot() {
    let dir = temp_dir();
    let scenario = "txn reads k and puts x; k is overwritten 3 times, flushed and compacted";
    let db = open(dir.path(), scenario, BOOK_ABORT);
    ok(db.put(b"k", b"v0"), scenario, BOOK_ABORT);
    ok(db.force_flush(), scenario, BOOK_ABORT);
    let mut txn = begin(&db, scenario, BOOK_ABORT);
    txn_get(&mut txn, b"k", scenario, BOOK_ABORT);
    ok(txn.put(b"x", b"never"), scenario, BOOK_ABORT);
    for v in [&b"v1"[..], b"v2", b"v3"] {
        ok(db.put(b"k", v), scenario, BOOK_ABORT);
        ok(db.force_flush(), scenario, BOOK_ABORT);
    }
    ok(db.force_full_compaction(), scenario, BOOK_ABORT);
    check_eq(
        Shown(txn_get(&mut txn, b"k", scenario, BOOK_ABORT)),
        Shown(Some(b"v0".to_vec())),
        &format!("{scenario}: the live txn's get(k) after the compaction"),
        BOOK_ABORT,
    );
    drop(txn);
    let scenario = format!("{scenario}; the txn dropped");
    check_db_get(&db, b"x", None, &scenario, BOOK_ABORT);
    ok(db.force_full_compaction(), &scenario, BOOK_ABORT);
    check_eq(
        versions_on_disk(&db, b"k", &scenario, BOOK_ABORT),
        1,
        &format!("{scenario}, another full compaction: versions of k kept (no reader left)"),
        BOOK_ABORT,
    );
    // A committed transaction lets its snapshot go too.
    let mut txn = begin(&db, &scenario, BOOK_ABORT);
    txn_get(&mut txn, b"k", &scenario, BOOK_ABORT);
    ok(txn.put(b"y", b"committed"), &scenario, BOOK_ABORT);
    ok(txn.commit(), &scenario, BOOK_ABORT);
    ok(db.put(b"k", b"v4"), &scenario, BOOK_ABORT);
    ok(db.force_flush(), &scenario, BOOK_ABORT);
    ok(db.force_full_compaction(), &scenario, BOOK_ABORT);
    check_eq(
        versions_on_disk(&db, b"k", &scenario, BOOK_ABORT),
        1,
        &format!(
            "{scenario}; a second txn read k and committed, k overwritten, full compaction: \
             versions of k kept"
        ),
        BOOK_ABORT,
    );
    check_db_get(&db, b"y", Some(b"committed"), &scenario, BOOK_ABORT);
}

#[test]
fn a_committed_transaction_is_one_wal_record() {
    let dir = temp_dir();
    let scenario = "txn puts 30 keys and deletes 10 (written before it), commits; close without \
                    a flush";
    let mut model = Model::new();
    {
        let db = open(dir.path(), scenario, BOOK_ATOMIC);
        for i in 100..110 {
            ok(db.put(&key(i), &value(i, 0)), scenario, BOOK_ATOMIC);
        }
        for i in 100..110 {
            model.insert(key(i), value(i, 0));
        }
        let mut txn = begin(&db, scenario, BOOK_ATOMIC);
        for i in 0..30 {
            ok(txn.put(&key(i), &value(i, 1)), scenario, BOOK_ATOMIC);
            model.insert(key(i), value(i, 1));
        }
        for i in 100..110 {
            ok(txn.delete(&key(i)), scenario, BOOK_ATOMIC);
            model.remove(&key(i));
        }
        ok(txn.commit(), scenario, BOOK_ATOMIC);
        ok(db.close(), scenario, BOOK_ATOMIC);
    }
    let mut batches = Vec::new();
    for entry in std::fs::read_dir(dir.path()).expect("list the db directory") {
        let path = entry.expect("a directory entry").path();
        if path.extension().is_some_and(|ext| ext == "wal") {
            let recovered = ok(Wal::recover(&path), scenario, BOOK_ATOMIC);
            batches.extend(recovered.batches);
        }
    }
    let sizes: Vec<usize> = batches.iter().map(Vec::len).collect();
    let with_txn_keys: Vec<usize> = batches
        .iter()
        .filter(|batch| {
            batch.iter().any(|(versioned, _)| {
                user_key_of(versioned).is_ok_and(|user_key| user_key == key(0))
            })
        })
        .map(Vec::len)
        .collect();
    check_eq(
        with_txn_keys,
        vec![40],
        &format!("{scenario}: sizes of the WAL records holding the txn's keys (all: {sizes:?})"),
        BOOK_ATOMIC,
    );
    let db = open(dir.path(), scenario, BOOK_ATOMIC);
    let now = db_scan(&db, &format!("{scenario}, reopened"), BOOK_ATOMIC);
    let expected = model_range(&model, Bound::Unbounded, Bound::Unbounded);
    if now != expected {
        fail_entries(
            &format!("{scenario}, reopened: db.scan(..)"),
            &expected,
            &now,
            BOOK_ATOMIC,
        );
    }
}

#[test]
fn the_commit_log_is_empty_when_no_transaction_is_live() {
    let dir = temp_dir();
    let scenario = "100 plain puts with no transaction";
    let db = open(dir.path(), scenario, BOOK_LOG);
    for i in 0..100 {
        ok(db.put(&key(i), &value(i, 0)), scenario, BOOK_LOG);
    }
    check_eq(db.commit_log_len(), 0, scenario, BOOK_LOG);
    let t1 = begin(&db, scenario, BOOK_LOG);
    for i in 0..10 {
        ok(db.put(&key(i), &value(i, 1)), scenario, BOOK_LOG);
    }
    let scenario = "T1 live, 10 plain puts";
    check_eq(db.commit_log_len(), 10, scenario, BOOK_LOG);
    let t2 = begin(&db, scenario, BOOK_LOG);
    for i in 0..5 {
        ok(db.put(&key(i), &value(i, 2)), scenario, BOOK_LOG);
    }
    check_eq(
        db.commit_log_len(),
        15,
        "T1 live, 10 plain puts, T2 begins, 5 plain puts",
        BOOK_LOG,
    );
    drop(t1);
    check_eq(
        db.commit_log_len(),
        5,
        "T1 live, 10 plain puts, T2 begins, 5 plain puts, T1 dropped (only T2's 5 still needed)",
        BOOK_LOG,
    );
    drop(t2);
    check_eq(db.commit_log_len(), 0, "... then T2 dropped too", BOOK_LOG);
    for i in 0..50 {
        let mut txn = begin(&db, scenario, BOOK_LOG);
        txn_get(&mut txn, &key(i), scenario, BOOK_LOG);
        ok(txn.put(&key(i), &value(i, 3)), scenario, BOOK_LOG);
        ok(txn.commit(), scenario, BOOK_LOG);
    }
    check_eq(
        db.commit_log_len(),
        0,
        "50 transactions committed one after the other",
        BOOK_LOG,
    );
}

#[test]
fn the_commit_log_keeps_what_the_oldest_live_transaction_needs() {
    let dir = temp_dir();
    let scenario = "T1 reads k; k is overwritten; T2 begins; T3 begins and is dropped; T1 writes \
                    and commits";
    let db = open(dir.path(), scenario, BOOK_LOG);
    ok(db.put(b"k", b"old"), scenario, BOOK_LOG);
    let mut t1 = begin(&db, scenario, BOOK_LOG);
    txn_get(&mut t1, b"k", scenario, BOOK_LOG);
    ok(db.put(b"k", b"new"), scenario, BOOK_LOG);
    let t2 = begin(&db, scenario, BOOK_LOG);
    let t3 = begin(&db, scenario, BOOK_LOG);
    drop(t3);
    ok(t1.put(b"x", b"from T1"), scenario, BOOK_LOG);
    expect_conflict(
        t1.commit(),
        &format!("{scenario}: T1's commit (the overwrite of k must still be in the log)"),
        BOOK_LOG,
    );
    drop(t2);
    check_eq(db.commit_log_len(), 0, "every transaction ended", BOOK_LOG);
}

#[test]
fn a_transaction_can_move_to_another_thread() {
    let dir = temp_dir();
    let scenario = "txn begun on one thread, read, written and committed on another";
    let db = open(dir.path(), scenario, BOOK_TXN);
    ok(db.put(b"k", b"1"), scenario, BOOK_TXN);
    let mut txn = begin(&db, scenario, BOOK_TXN);
    txn_get(&mut txn, b"k", scenario, BOOK_TXN);
    let handle = std::thread::spawn(move || {
        let mut txn = txn;
        let seen = txn.get(b"k").map(|v| v.map(|v| v.to_vec()));
        let put = txn.put(b"k", b"2");
        (seen, put.and_then(|()| txn.commit()))
    });
    let (seen, committed) = handle.join().expect("the other thread");
    check_eq(
        Shown(ok(seen, scenario, BOOK_TXN)),
        Shown(Some(b"1".to_vec())),
        &format!("{scenario}: get(k) on the other thread"),
        BOOK_TXN,
    );
    ok(committed, scenario, BOOK_TXN);
    check_db_get(&db, b"k", Some(b"2"), scenario, BOOK_TXN);
}

#[test]
fn a_commit_cut_anywhere_in_its_wal_record_recovers_whole_or_not_at_all() {
    let dir = temp_dir();
    let scenario = "10 plain puts, a txn of 10 puts and 3 deletes commits, close; the WAL is then \
                    cut inside the commit's record, as a crash would";
    let (before, after) = {
        let db = open(dir.path(), scenario, BOOK_ATOMIC);
        for i in 0..10 {
            ok(db.put(&key(i), &value(i, 0)), scenario, BOOK_ATOMIC);
        }
        let before = db_scan(&db, scenario, BOOK_ATOMIC);
        let mut txn = begin(&db, scenario, BOOK_ATOMIC);
        for i in 5..15 {
            ok(txn.put(&key(i), &value(i, 1)), scenario, BOOK_ATOMIC);
        }
        for i in [0, 2, 4] {
            ok(txn.delete(&key(i)), scenario, BOOK_ATOMIC);
        }
        ok(txn.commit(), scenario, BOOK_ATOMIC);
        let after = db_scan(&db, scenario, BOOK_ATOMIC);
        ok(db.close(), scenario, BOOK_ATOMIC);
        (before, after)
    };
    let wal = only_wal(dir.path(), scenario);
    let raw = ok(read_file(&wal), scenario, BOOK_ATOMIC);
    let records = ok(decode_records(&raw, 0, &wal), scenario, BOOK_ATOMIC);
    // The commit's record is the last one with a payload (what `close` appends has none).
    let Some(last) = records
        .payloads
        .iter()
        .rposition(|payload| !payload.is_empty())
    else {
        fail(scenario, "records in the WAL", "none", BOOK_ATOMIC)
    };
    let start = records.payload_offsets[last] - RECORD_HEADER_SIZE as u64;
    let end = records.payload_offsets[last] + records.payloads[last].len() as u64;
    // Every byte of the header and near the ends, every 5th in the middle (to stay fast).
    let cuts = (start..=end).filter(|&cut| cut < start + 40 || cut + 40 > end || cut % 5 == 0);
    for cut in cuts {
        let copy = temp_dir();
        for entry in std::fs::read_dir(dir.path()).expect("list the db directory") {
            let path = entry.expect("a directory entry").path();
            let target = copy.path().join(path.file_name().expect("a file name"));
            std::fs::copy(&path, &target).expect("copy a db file");
            if path == wal {
                let file = std::fs::OpenOptions::new()
                    .write(true)
                    .open(&target)
                    .expect("open the WAL copy");
                file.set_len(cut).expect("cut the WAL copy");
            }
        }
        let scenario = format!(
            "{scenario}: WAL cut {} bytes into the commit's record of {} (reopened)",
            cut - start,
            end - start
        );
        let db = open(copy.path(), &scenario, BOOK_ATOMIC);
        let now = db_scan(&db, &scenario, BOOK_ATOMIC);
        let expected = if cut == end { &after } else { &before };
        if now != *expected {
            fail_entries(&scenario, expected, &now, BOOK_ATOMIC);
        }
    }
}

/// The one WAL file in `dir`.
fn only_wal(dir: &Path, scenario: &str) -> std::path::PathBuf {
    let wals: Vec<_> = std::fs::read_dir(dir)
        .expect("list the db directory")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "wal"))
        .collect();
    match <[_; 1]>::try_from(wals) {
        Ok([wal]) => wal,
        Err(wals) => fail(
            &format!("{scenario}: WAL files in the directory"),
            "exactly one (nothing was frozen)",
            wals.len(),
            BOOK_ATOMIC,
        ),
    }
}
