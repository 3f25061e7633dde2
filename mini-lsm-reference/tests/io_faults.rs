//! Reference-only: what the engine does when a write or an `fsync` fails (a full disk, a failing
//! device), injected through the failpoints of `src/failpoint.rs`.
//!
//! The contract checked here:
//! - the failing operation returns the I/O error (never a panic, never `Ok`);
//! - a write that returned an error is not applied: it is never read back, now or after reopen;
//! - every write acknowledged by a `sync` before the fault survives a reopen;
//! - after an error writing or syncing a WAL or the manifest, that file's tail is unknown, so the
//!   engine refuses what needs it (writes into that memtable, `sync`, structural changes) until
//!   it is reopened; reads keep working. A failed SST write leaves no file behind and may simply
//!   be retried.
//!
//! Built only with the `failpoints` feature: `cargo x check` runs
//! `cargo test -p mini-lsm-reference --features failpoints --test io_faults`.

#![cfg(feature = "failpoints")]

use std::sync::Arc;

use mini_lsm_reference::failpoint::{self, Action, Scenario};
use mini_lsm_reference::{
    CompactionOptions, Error, LeveledCompactionOptions, LsmOptions, MiniLsm, Result,
};

/// Small everything, and no background threads: each test drives flushes and compactions.
fn options() -> LsmOptions {
    LsmOptions {
        block_size: 256,
        memtable_size: 4096,
        target_sst_size: 4096,
        max_immutable_memtables: usize::MAX,
        compaction: CompactionOptions::Leveled(LeveledCompactionOptions {
            level0_file_num_compaction_trigger: 2,
            level_size_multiplier: 2,
            base_level_size_bytes: 8192,
            max_levels: 3,
        }),
        background_compaction: false,
        ..LsmOptions::default()
    }
}

fn open(dir: &tempfile::TempDir) -> Arc<MiniLsm> {
    MiniLsm::open(dir.path(), options()).expect("open the engine")
}

/// Fails the next hit of `point` once.
const ONCE: Action = Action::Fail { skip: 0, times: 1 };
/// Fails every hit of `point`.
const ALWAYS: Action = Action::Fail {
    skip: 0,
    times: u64::MAX,
};

/// Asserts that `result` is the error a failpoint injected (an I/O error, "storage full").
#[track_caller]
fn assert_injected<T: std::fmt::Debug>(result: Result<T>, what: &str) {
    match result {
        Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::StorageFull => {}
        other => panic!("{what}: expected the injected I/O error, got {other:?}"),
    }
}

/// Asserts that `result` is an error (the injected one, or one refusing a poisoned file).
#[track_caller]
fn assert_io_error<T: std::fmt::Debug>(result: Result<T>, what: &str) {
    assert!(
        matches!(result, Err(Error::Io { .. })),
        "{what}: expected an I/O error, got {result:?}"
    );
}

fn key(i: usize) -> Vec<u8> {
    format!("key{i:04}").into_bytes()
}

fn value(i: usize, round: usize) -> Vec<u8> {
    format!("value-{i}-{round}-{}", "x".repeat(40)).into_bytes()
}

/// Writes keys `range` with `round`'s values.
fn put_all(db: &MiniLsm, range: std::ops::Range<usize>, round: usize) {
    for i in range {
        db.put(&key(i), &value(i, round)).expect("put");
    }
}

/// Asserts that keys `range` read `round`'s values.
#[track_caller]
fn assert_all(db: &MiniLsm, range: std::ops::Range<usize>, round: usize, when: &str) {
    for i in range {
        let got = db.get(&key(i)).expect("get");
        assert_eq!(
            got.as_deref(),
            Some(value(i, round).as_slice()),
            "{when}: key {i}"
        );
    }
}

#[test]
fn a_failed_wal_append_is_not_applied_and_the_wal_refuses_writes_until_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = Scenario::start();
    let db = open(&dir);
    put_all(&db, 0..10, 0);
    db.sync().unwrap();

    scenario.set(failpoint::WAL_APPEND, ONCE);
    assert_injected(db.put(b"failed", b"x"), "put while the WAL append fails");
    assert_eq!(scenario.hits(failpoint::WAL_APPEND), 1);
    assert_eq!(db.get(b"failed").unwrap(), None, "a failed put was applied");
    // The append failed partway for all the engine knows: appending after it could leave a torn
    // record in the middle of the log, which recovery rejects. So the log takes nothing more.
    assert_io_error(db.put(b"after", b"y"), "put after a failed WAL append");
    assert_io_error(db.sync(), "sync after a failed WAL append");
    assert_eq!(db.get(b"after").unwrap(), None, "a refused put was applied");
    assert_all(&db, 0..10, 0, "reads after the failure");
    drop(db);

    let db = open(&dir);
    assert_all(&db, 0..10, 0, "after reopen");
    assert_eq!(db.get(b"failed").unwrap(), None, "failed put after reopen");
    assert_eq!(db.get(b"after").unwrap(), None, "refused put after reopen");
    db.put(b"after", b"y")
        .expect("the reopened engine takes writes");
}

#[test]
fn a_failed_wal_sync_is_never_acknowledged_by_a_later_sync() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = Scenario::start();
    let db = open(&dir);
    put_all(&db, 0..10, 0);
    db.sync().unwrap();
    put_all(&db, 10..20, 0);

    scenario.set(failpoint::WAL_BEFORE_SYNC, ONCE);
    assert_injected(db.sync(), "sync while the WAL fsync fails");
    // After a failed fsync the OS may have dropped the dirty pages and cleared the error: a
    // second fsync can succeed with the data gone. Acknowledging keys 10..20 now would be a lie.
    assert_io_error(db.sync(), "a second sync after a failed one");
    drop(db);

    let db = open(&dir);
    assert_all(&db, 0..10, 0, "acknowledged writes after reopen");
    for i in 10..20 {
        let got = db.get(&key(i)).unwrap();
        assert!(
            got.is_none() || got.as_deref() == Some(value(i, 0).as_slice()),
            "key {i}: an unacknowledged write may be lost, never changed: {got:?}"
        );
    }
}

#[test]
fn a_failed_sst_write_fails_the_flush_leaves_no_file_and_can_be_retried() {
    for point in [failpoint::SST_WRITE, failpoint::SST_BEFORE_SYNC] {
        let dir = tempfile::tempdir().unwrap();
        let scenario = Scenario::start();
        let db = open(&dir);
        put_all(&db, 0..40, 0);
        db.sync().unwrap();
        db.force_freeze_memtable().unwrap();
        let frozen = db.shape().immutable_memtables[0].id;

        scenario.set(point, ONCE);
        assert_injected(db.force_flush_next_imm_memtable(), point);
        assert_eq!(scenario.hits(point), 1, "{point} was not reached");
        let shape = db.shape();
        assert_eq!(shape.immutable_memtables.len(), 1, "{point}: memtable lost");
        assert!(shape.l0.is_empty(), "{point}: a failed flush reached L0");
        let sst = dir.path().join(format!("{frozen:05}.sst"));
        assert!(!sst.exists(), "{point}: half-written {sst:?} left behind");
        assert_all(&db, 0..40, 0, point);

        assert!(
            db.force_flush_next_imm_memtable().unwrap(),
            "{point}: retry"
        );
        assert_eq!(db.shape().l0.len(), 1, "{point}: retried flush");
        drop(db);
        let db = open(&dir);
        assert_all(&db, 0..40, 0, &format!("{point}: after reopen"));
    }
}

#[test]
fn a_failed_manifest_record_fails_the_flush_and_recovery_keeps_every_write() {
    for point in [
        failpoint::FLUSH_BEFORE_MANIFEST,
        failpoint::MANIFEST_APPEND,
        failpoint::MANIFEST_BEFORE_SYNC,
    ] {
        let dir = tempfile::tempdir().unwrap();
        let scenario = Scenario::start();
        let db = open(&dir);
        put_all(&db, 0..40, 0);
        db.force_freeze_memtable().unwrap();
        put_all(&db, 40..50, 0);
        db.sync().unwrap();

        scenario.set(point, ONCE);
        assert_injected(db.force_flush_next_imm_memtable(), point);
        assert_eq!(scenario.hits(point), 1, "{point} was not reached");
        assert_all(&db, 0..50, 0, point);
        // The flushed SST file stays (the manifest may list it), so the flush cannot be retried
        // until a reopen settles whether it is part of the tree or an orphan.
        assert_io_error(
            db.force_flush_next_imm_memtable(),
            &format!("retried flush after {point} failed"),
        );
        if point != failpoint::FLUSH_BEFORE_MANIFEST {
            // The manifest may hold a whole record, part of one, or none: only a reopen, which
            // reads it back, knows. Until then no change may be recorded after it.
            assert_io_error(
                db.force_freeze_memtable(),
                &format!("freeze after {point} failed"),
            );
        }
        drop(db);

        let db = open(&dir);
        assert_all(&db, 0..50, 0, &format!("{point}: after reopen"));
        db.force_flush().expect("the reopened engine flushes");
        drop(db);
        let db = open(&dir);
        assert_all(&db, 0..50, 0, &format!("{point}: after a second reopen"));
    }
}

#[test]
fn a_write_whose_freeze_fails_is_not_applied() {
    for point in [
        failpoint::MEMTABLE_BEFORE_MANIFEST,
        failpoint::MANIFEST_APPEND,
    ] {
        let dir = tempfile::tempdir().unwrap();
        let scenario = Scenario::start();
        let db = open(&dir);
        scenario.set(point, ALWAYS);
        // Writes go on until the memtable is full and a freeze is needed: that freeze fails.
        let mut written = 0;
        let failed = loop {
            assert!(written < 1000, "{point}: no write needed a freeze");
            match db.put(&key(written), &value(written, 0)) {
                Ok(()) => written += 1,
                Err(error) => break error,
            }
        };
        assert!(scenario.hits(point) >= 1, "{point} was not reached");
        assert!(matches!(failed, Error::Io { .. }), "{point}: {failed:?}");
        assert_eq!(
            db.get(&key(written)).unwrap(),
            None,
            "{point}: the put that returned an error was applied"
        );
        assert_all(&db, 0..written, 0, point);
        let synced = db.sync();
        drop(db);
        scenario.clear(point);

        let db = open(&dir);
        if synced.is_ok() {
            assert_all(&db, 0..written, 0, &format!("{point}: after reopen"));
        }
        assert_eq!(
            db.get(&key(written)).unwrap(),
            None,
            "{point}: the put that returned an error appeared after reopen"
        );
    }
}

/// Two L0 SSTs over the same keys, ready to be compacted; returns the engine.
fn two_l0_ssts(dir: &tempfile::TempDir) -> Arc<MiniLsm> {
    let db = open(dir);
    put_all(&db, 0..40, 0);
    db.force_flush().unwrap();
    put_all(&db, 20..60, 1);
    db.force_flush().unwrap();
    assert_eq!(db.shape().l0.len(), 2);
    db
}

/// Asserts the contents `two_l0_ssts` wrote.
#[track_caller]
fn assert_two_l0_contents(db: &MiniLsm, when: &str) {
    assert_all(db, 0..20, 0, when);
    assert_all(db, 20..60, 1, when);
}

#[test]
fn a_failed_compaction_changes_nothing_and_recovery_keeps_every_write() {
    for point in [
        failpoint::SST_WRITE,
        failpoint::COMPACTION_BEFORE_MANIFEST,
        failpoint::MANIFEST_APPEND,
    ] {
        let dir = tempfile::tempdir().unwrap();
        let scenario = Scenario::start();
        let db = two_l0_ssts(&dir);
        let before = db.shape();
        scenario.set(point, ONCE);
        assert_injected(db.force_full_compaction(), point);
        assert_eq!(scenario.hits(point), 1, "{point} was not reached");
        assert_eq!(
            db.shape(),
            before,
            "{point}: a failed compaction changed the tree"
        );
        assert_two_l0_contents(&db, point);
        drop(db);

        let db = open(&dir);
        assert_two_l0_contents(&db, &format!("{point}: after reopen"));
        db.force_full_compaction()
            .expect("the reopened engine compacts");
        assert_two_l0_contents(&db, &format!("{point}: after compacting"));
    }
}

#[test]
fn a_compaction_that_fails_to_delete_its_inputs_is_done_and_the_inputs_go_at_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = Scenario::start();
    let db = two_l0_ssts(&dir);
    let inputs: Vec<usize> = db.shape().l0.iter().map(|sst| sst.id).collect();
    scenario.set(failpoint::COMPACTION_BEFORE_DELETE, ONCE);
    assert_injected(db.force_full_compaction(), "deleting compaction inputs");
    assert!(
        db.shape().l0.is_empty(),
        "the recorded compaction was undone"
    );
    assert_two_l0_contents(&db, "after the failed deletion");
    drop(db);

    let db = open(&dir);
    assert_two_l0_contents(&db, "after reopen");
    for id in inputs {
        let path = dir.path().join(format!("{id:05}.sst"));
        assert!(
            db.recovery_report().orphans_removed.contains(&path),
            "input {path:?} not removed at reopen: {:?}",
            db.recovery_report()
        );
    }
}

#[test]
fn a_flush_that_fails_to_delete_its_wal_is_done_and_the_wal_goes_at_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = Scenario::start();
    let db = open(&dir);
    put_all(&db, 0..40, 0);
    db.force_freeze_memtable().unwrap();
    let frozen = db.shape().immutable_memtables[0].id;
    let wal = dir.path().join(format!("{frozen:05}.wal"));

    scenario.set(failpoint::WAL_BEFORE_DELETE, ONCE);
    assert_injected(
        db.force_flush_next_imm_memtable(),
        "deleting the flushed memtable's WAL",
    );
    assert_eq!(scenario.hits(failpoint::WAL_BEFORE_DELETE), 1);
    let shape = db.shape();
    assert!(
        shape.immutable_memtables.is_empty() && shape.l0.len() == 1,
        "the recorded flush was undone: {shape:?}"
    );
    assert!(wal.exists(), "{wal:?} was deleted despite the failure");
    assert_all(&db, 0..40, 0, "after the failed deletion");
    drop(db);

    let db = open(&dir);
    assert_all(&db, 0..40, 0, "after reopen");
    assert!(
        db.recovery_report().orphans_removed.contains(&wal),
        "the flushed memtable's WAL {wal:?} not removed at reopen: {:?}",
        db.recovery_report()
    );
    assert!(
        scenario.hits(failpoint::WAL_BEFORE_DELETE) > 1,
        "recovery deletes the leftover WAL through the same point"
    );
}

#[test]
fn a_failing_background_flush_is_reported_by_close_and_loses_nothing_synced() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = Scenario::start();
    let background = LsmOptions {
        max_immutable_memtables: 0,
        ..options()
    };
    let db = MiniLsm::open(dir.path(), background.clone()).unwrap();
    scenario.set(failpoint::SST_WRITE, ALWAYS);
    put_all(&db, 0..200, 0);
    db.sync().unwrap();
    // The flush thread fails on the frozen memtables; close reports that error, not a panic.
    assert_injected(db.close(), "close after background flushes failed");
    drop(db);
    scenario.clear(failpoint::SST_WRITE);

    let db = MiniLsm::open(dir.path(), background).unwrap();
    assert_all(&db, 0..200, 0, "after reopen");
    db.close()
        .expect("the reopened engine flushes in the background");
}

// ---------------------------------------------------------------------------------------------
// Group commit (`RecordWriter`): syncs share fsyncs, and sharing never skips one that is needed
// ---------------------------------------------------------------------------------------------

/// Counts the fsyncs of WAL files: `wal.before-sync` is hit once per fsync, just before it. An
/// action that never fails only counts.
fn count_wal_fsyncs(scenario: &Scenario) {
    scenario.set(
        failpoint::WAL_BEFORE_SYNC,
        Action::Fail {
            skip: u64::MAX,
            times: 0,
        },
    );
}

#[test]
fn a_sync_with_nothing_new_to_make_durable_does_not_fsync() {
    let scenario = Scenario::start();
    let dir = tempfile::tempdir().unwrap();
    let db = open(&dir);
    count_wal_fsyncs(&scenario);
    db.put(b"a", b"1").unwrap();
    db.sync().unwrap();
    assert_eq!(scenario.hits(failpoint::WAL_BEFORE_SYNC), 1, "first sync");
    db.sync().unwrap();
    db.sync().unwrap();
    assert_eq!(
        scenario.hits(failpoint::WAL_BEFORE_SYNC),
        1,
        "syncs with nothing appended since the last one must not fsync again"
    );
    db.put(b"b", b"2").unwrap();
    db.sync().unwrap();
    assert_eq!(
        scenario.hits(failpoint::WAL_BEFORE_SYNC),
        2,
        "a sync after a new write"
    );
}

/// Many threads each write and sync every write (so syncs overlap, and some return on another
/// thread's fsync): every acknowledged write survives a reopen. How many fsyncs grouping saves
/// is measured by the benchmark (`--sync-every 1 --threads 1,2,4,8`), not asserted here: it
/// depends on timing.
#[test]
fn concurrent_writers_that_sync_every_write_keep_every_acknowledged_write() {
    const THREADS: usize = 4;
    const WRITES: usize = 150;
    let _scenario = Scenario::start();
    let dir = tempfile::tempdir().unwrap();
    let db = open(&dir);
    std::thread::scope(|scope| {
        for thread in 0..THREADS {
            let db = &db;
            scope.spawn(move || {
                for i in 0..WRITES {
                    let key = format!("t{thread}-{i:04}");
                    db.put(key.as_bytes(), &value(i, thread)).unwrap();
                    db.sync().unwrap();
                }
            });
        }
    });
    drop(db);
    let db = open(&dir);
    for thread in 0..THREADS {
        for i in 0..WRITES {
            let key = format!("t{thread}-{i:04}");
            assert_eq!(
                db.get(key.as_bytes()).unwrap().as_deref(),
                Some(&value(i, thread)[..]),
                "{key} was acknowledged by sync before the crash"
            );
        }
    }
}
