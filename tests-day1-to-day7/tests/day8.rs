//! Day 8 graded tests: sequence numbers, versioned keys and snapshots (book chapter
//! `day8-snapshots.md`; Part 2 of the course, graded with `cargo x grade --day 8`).
//!
//! Covers:
//! - The versioned key encoding: byte order of versioned keys is (user key ascending, seq
//!   descending) for keys with zero bytes, 0xFF bytes and shared prefixes; a versioned key
//!   decodes to its user key and seq; bytes no encoding produces are `Error::Corruption`.
//! - `versioned_bounds`: the translated bounds hold every version of exactly the user keys inside
//!   the original bounds, for every bound kind.
//! - Snapshots: a snapshot's `get` and `scan` see exactly the writes that completed before it,
//!   whatever happens after (overwrites, deletes, flushes, compactions); a plain scan is a
//!   point-in-time view too; the watermark is the oldest live snapshot.
//! - Compaction with versions: versions no reader can see are dropped, versions a live snapshot
//!   reads are kept, a bottom-level tombstone is dropped only when nothing older needs hiding, a
//!   deleted key never comes back, and a key's versions never span two SSTs of a level.
//! - Bloom filters over user keys: a `get` skips SSTs by filter and finds every present key.
//! - Recovery: writes after a reopen are numbered after every version already stored.
//! - Concurrency: a batch becomes visible at once; snapshots taken while writers run are
//!   repeatable.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rstest::rstest;
use tests_day1_to_day7::lsm::mvcc::{
    MAX_VERSIONED_USER_KEY_LEN, Versions, seq_of, user_key_of, user_key_part, versioned_bounds,
    versioned_key,
};
use tests_day1_to_day7::lsm::{Error, LsmOptions, MiniLsm, WriteBatchRecord};
use tests_day1_to_day7::*;

const BOOK_ENCODING: &str = "day8-snapshots.md#versioned-keys";
const BOOK_BOUNDS: &str = "day8-snapshots.md#reading-at-a-seq";
const BOOK_SNAPSHOT: &str = "day8-snapshots.md#snapshots";
const BOOK_WATERMARK: &str = "day8-snapshots.md#the-watermark";
const BOOK_RETENTION: &str = "day8-snapshots.md#what-compaction-keeps";
const BOOK_BLOOM: &str = "day8-snapshots.md#bloom-filters-and-versions";
const BOOK_RECOVERY: &str = "day8-snapshots.md#seqs-after-a-restart";
const BOOK_CONCURRENT: &str = "day8-snapshots.md#numbering-writes";

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Day-8 options: versioned keys on, the tree's shape under the test's control.
fn options() -> LsmOptions {
    options_for_day(8)
}

/// Opens a day-8 engine in `dir`.
fn open(dir: &Path, scenario: &str, book: &str) -> Arc<MiniLsm> {
    ok(MiniLsm::open(dir, options()), scenario, book)
}

/// Every entry a scan returns, as owned pairs.
fn scan_all(
    scan: tests_day1_to_day7::lsm::Result<tests_day1_to_day7::lsm::lsm_iterator::Scan>,
    scenario: &str,
    book: &str,
) -> Entries {
    let mut scan = ok(scan, scenario, book);
    ok(drain(&mut scan, scenario, book), scenario, book)
}

/// The model as a scan over everything returns it.
fn model_entries(model: &Model) -> Entries {
    model_range(model, Bound::Unbounded, Bound::Unbounded)
}

// ---------------------------------------------------------------------------------------------
// The encoding
// ---------------------------------------------------------------------------------------------

/// User keys that catch an encoding whose byte order differs from the keys' order: zero bytes
/// (which must not end a key early), 0xFF bytes, and keys that are prefixes of others.
fn tricky_user_keys() -> Vec<Vec<u8>> {
    let mut keys: Vec<Vec<u8>> = vec![
        b"a".to_vec(),
        b"a\x00".to_vec(),
        b"a\x00\x00".to_vec(),
        b"a\x00\x01".to_vec(),
        b"a\x00\xff".to_vec(),
        b"a\x01".to_vec(),
        b"a\xff".to_vec(),
        b"ab".to_vec(),
        b"\x00".to_vec(),
        b"\x00\x00".to_vec(),
        b"\xff".to_vec(),
        b"\xff\x00".to_vec(),
        b"b".to_vec(),
    ];
    let mut rng = Rng::new(8);
    for _ in 0..200 {
        let len = 1 + rng.below(6);
        keys.push(
            (0..len)
                .map(|_| [0x00, 0x01, 0xfe, 0xff, b'a'][rng.below(5)])
                .collect(),
        );
    }
    keys.sort();
    keys.dedup();
    keys
}

#[test]
fn versioned_keys_sort_by_user_key_then_newest_version_first() {
    let seqs = [u64::MAX - 1, 1 << 40, 300, 256, 255, 2, 1, 0];
    let mut expected = Vec::new();
    for key in tricky_user_keys() {
        for &seq in &seqs {
            expected.push((key.clone(), seq));
        }
    }
    let mut by_bytes = expected.clone();
    by_bytes.sort_by_key(|(key, seq)| versioned_key(key, *seq));
    if by_bytes != expected {
        let at = by_bytes
            .iter()
            .zip(&expected)
            .position(|(a, b)| a != b)
            .unwrap_or(0);
        fail(
            "versioned keys sorted as bytes must come in (user key ascending, seq descending) order",
            format!(
                "({}, seq {}) at position {at}",
                show(&expected[at].0),
                expected[at].1
            ),
            format!("({}, seq {})", show(&by_bytes[at].0), by_bytes[at].1),
            BOOK_ENCODING,
        );
    }
}

#[test]
fn a_versioned_key_decodes_to_its_user_key_and_seq() {
    for key in tricky_user_keys() {
        for seq in [0, 1, 255, 1 << 33, u64::MAX - 1] {
            let versioned = versioned_key(&key, seq);
            let scenario = format!("versioned_key({}, {seq})", show(&key));
            check_eq(
                Shown(Some(ok(user_key_of(&versioned), &scenario, BOOK_ENCODING))),
                Shown(Some(key.clone())),
                &format!("{scenario}: user_key_of"),
                BOOK_ENCODING,
            );
            check_eq(
                ok(seq_of(&versioned), &scenario, BOOK_ENCODING),
                seq,
                &format!("{scenario}: seq_of"),
                BOOK_ENCODING,
            );
            let same_key = versioned_key(&key, seq / 2);
            check_eq(
                user_key_part(&versioned).ok(),
                user_key_part(&same_key).ok(),
                &format!("{scenario}: two versions of one key share their user-key part"),
                BOOK_ENCODING,
            );
        }
    }
}

#[rstest]
#[case::zero_followed_by_two(b"a\x00\x02\x00\x01\xff\xff\xff\xff\xff\xff\xff\xfe".as_slice())]
#[case::no_terminator(b"abcdefghij".as_slice())]
#[case::too_short_for_a_seq(b"a\x00\x01\xff".as_slice())]
#[case::bytes_after_the_terminator(b"a\x00\x01b\x00\x01\xff\xff\xff\xff\xff\xff\xff\xfe".as_slice())]
#[case::lone_zero_at_the_end(b"a\x00\xff\xff\xff\xff\xff\xff\xff\xfe".as_slice())]
fn bytes_no_encoding_produces_are_corruption(#[case] bytes: &[u8]) {
    let scenario = format!("user_key_of({})", show(bytes));
    match user_key_of(bytes) {
        Err(Error::Corruption { .. }) => {}
        other => fail(
            &scenario,
            "Err(Corruption)",
            format!("{other:?}"),
            BOOK_ENCODING,
        ),
    }
}

#[test]
fn versioned_bounds_hold_exactly_the_versions_of_the_keys_in_range() {
    let keys = tricky_user_keys();
    let bound_keys = [&b"a\x00"[..], b"a", b"ab", b"\xff"];
    let kinds = |key: &'static [u8]| [Bound::Included(key), Bound::Excluded(key)];
    let mut bounds: Vec<KeyRange> = Vec::new();
    for &low in &bound_keys {
        for &high in &bound_keys {
            for lower in kinds(low) {
                for upper in kinds(high) {
                    bounds.push((lower, upper));
                }
            }
        }
        bounds.push((Bound::Unbounded, Bound::Included(low)));
        bounds.push((Bound::Excluded(low), Bound::Unbounded));
    }
    for (lower, upper) in bounds {
        let (from, to) = versioned_bounds(lower, upper);
        for key in &keys {
            for seq in [0, 7, u64::MAX - 1] {
                let versioned = versioned_key(key, seq);
                let inside = versioned_in(&versioned, &from, &to);
                let expected = in_range(key, lower, upper);
                if inside != expected {
                    fail(
                        &format!(
                            "versioned_bounds({lower:?}, {upper:?}) and the version of {} at \
                             seq {seq}",
                            show(key)
                        ),
                        if expected { "inside" } else { "outside" },
                        if inside { "inside" } else { "outside" },
                        BOOK_BOUNDS,
                    );
                }
            }
        }
    }
}

/// A lower and an upper bound over user keys.
type KeyRange<'a> = (Bound<&'a [u8]>, Bound<&'a [u8]>);

/// Whether `key` lies inside the owned bounds `from` and `to`.
fn versioned_in(key: &[u8], from: &Bound<Vec<u8>>, to: &Bound<Vec<u8>>) -> bool {
    let above = match from {
        Bound::Included(from) => key >= from.as_slice(),
        Bound::Excluded(from) => key > from.as_slice(),
        Bound::Unbounded => true,
    };
    let below = match to {
        Bound::Included(to) => key <= to.as_slice(),
        Bound::Excluded(to) => key < to.as_slice(),
        Bound::Unbounded => true,
    };
    above && below
}

#[test]
fn the_watermark_is_the_oldest_live_snapshot_or_the_visible_seq() {
    let versions = Versions::new(100);
    check_eq(versions.watermark(), 100, "no snapshot", BOOK_WATERMARK);
    let old = versions.register();
    versions.commit().publish(110);
    let newer = versions.register();
    let also_newer = versions.register();
    check_eq(
        (old, newer, also_newer),
        (100, 110, 110),
        "snapshots register at the visible seq",
        BOOK_WATERMARK,
    );
    check_eq(
        versions.watermark(),
        100,
        "oldest snapshot at 100",
        BOOK_WATERMARK,
    );
    versions.release(old);
    check_eq(
        versions.watermark(),
        110,
        "the snapshot at 100 released, two at 110 live",
        BOOK_WATERMARK,
    );
    versions.release(newer);
    versions.commit().publish(120);
    check_eq(
        versions.watermark(),
        110,
        "one of the two snapshots at 110 still live",
        BOOK_WATERMARK,
    );
    versions.release(also_newer);
    check_eq(
        versions.watermark(),
        120,
        "every snapshot released",
        BOOK_WATERMARK,
    );
}

// ---------------------------------------------------------------------------------------------
// Snapshots
// ---------------------------------------------------------------------------------------------

/// What happens to the tree between taking a snapshot and reading it.
#[derive(Debug, Clone, Copy)]
enum Between {
    Nothing,
    Flush,
    FlushAndCompact,
}

fn apply(db: &MiniLsm, between: Between, scenario: &str) {
    match between {
        Between::Nothing => {}
        Between::Flush => ok(db.force_flush(), scenario, BOOK_SNAPSHOT),
        Between::FlushAndCompact => {
            ok(db.force_flush(), scenario, BOOK_SNAPSHOT);
            ok(db.force_full_compaction(), scenario, BOOK_SNAPSHOT);
        }
    }
}

#[rstest]
fn a_snapshot_reads_the_database_as_it_was(
    #[values(Between::Nothing, Between::Flush, Between::FlushAndCompact)] between: Between,
) {
    let dir = temp_dir();
    let scenario = format!("snapshot, then overwrites and deletes, then {between:?}");
    let db = open(dir.path(), &scenario, BOOK_SNAPSHOT);
    let mut model = Model::new();
    for i in 0..200 {
        ok(db.put(&key(i), &value(i, 1)), &scenario, BOOK_SNAPSHOT);
        model.insert(key(i), value(i, 1));
    }
    ok(db.force_flush(), &scenario, BOOK_SNAPSHOT);
    for i in (0..200).step_by(3) {
        ok(db.put(&key(i), &value(i, 2)), &scenario, BOOK_SNAPSHOT);
        model.insert(key(i), value(i, 2));
    }
    let snapshot = ok(db.snapshot(), &scenario, BOOK_SNAPSHOT);
    let then = model.clone();
    for i in 0..200 {
        if i % 2 == 0 {
            ok(db.delete(&key(i)), &scenario, BOOK_SNAPSHOT);
            model.remove(&key(i));
        } else {
            ok(db.put(&key(i), &value(i, 3)), &scenario, BOOK_SNAPSHOT);
            model.insert(key(i), value(i, 3));
        }
    }
    ok(
        db.put(b"new", b"after the snapshot"),
        &scenario,
        BOOK_SNAPSHOT,
    );
    model.insert(b"new".to_vec(), b"after the snapshot".to_vec());
    apply(&db, between, &scenario);
    for i in [0, 1, 2, 3, 99, 198, 199] {
        check_get(
            ok(snapshot.get(&key(i)), &scenario, BOOK_SNAPSHOT),
            then.get(&key(i)).map(Vec::as_slice),
            &format!("{scenario}: snapshot.get({})", show(&key(i))),
            BOOK_SNAPSHOT,
        );
        check_get(
            ok(db.get(&key(i)), &scenario, BOOK_SNAPSHOT),
            model.get(&key(i)).map(Vec::as_slice),
            &format!("{scenario}: db.get({}) after the snapshot", show(&key(i))),
            BOOK_SNAPSHOT,
        );
    }
    check_get(
        ok(snapshot.get(b"new"), &scenario, BOOK_SNAPSHOT),
        None,
        &format!("{scenario}: snapshot.get of a key first written after it"),
        BOOK_SNAPSHOT,
    );
    let seen = scan_all(
        snapshot.scan(Bound::Unbounded, Bound::Unbounded),
        &scenario,
        BOOK_SNAPSHOT,
    );
    if seen != model_entries(&then) {
        fail_entries(
            &format!("{scenario}: snapshot.scan(..)"),
            &model_entries(&then),
            &seen,
            BOOK_SNAPSHOT,
        );
    }
    let now = scan_all(
        db.scan(Bound::Unbounded, Bound::Unbounded),
        &scenario,
        BOOK_SNAPSHOT,
    );
    if now != model_entries(&model) {
        fail_entries(
            &format!("{scenario}: db.scan(..)"),
            &model_entries(&model),
            &now,
            BOOK_SNAPSHOT,
        );
    }
}

#[test]
fn a_scan_is_a_point_in_time_view() {
    let dir = temp_dir();
    let scenario = "a scan opened, then 300 more writes and a flush, then the scan read";
    let db = open(dir.path(), scenario, BOOK_SNAPSHOT);
    let mut model = Model::new();
    for i in (0..300).step_by(2) {
        ok(db.put(&key(i), &value(i, 1)), scenario, BOOK_SNAPSHOT);
        model.insert(key(i), value(i, 1));
    }
    let mut scan = ok(
        db.scan(Bound::Unbounded, Bound::Unbounded),
        scenario,
        BOOK_SNAPSHOT,
    );
    for i in 0..300 {
        ok(db.put(&key(i), &value(i, 2)), scenario, BOOK_SNAPSHOT);
    }
    ok(db.delete(&key(298)), scenario, BOOK_SNAPSHOT);
    ok(db.force_flush(), scenario, BOOK_SNAPSHOT);
    check_iter(&mut scan, &model_entries(&model), scenario, BOOK_SNAPSHOT);
}

#[rstest]
#[case::included_included(Bound::Included(5), Bound::Included(20))]
#[case::excluded_excluded(Bound::Excluded(5), Bound::Excluded(20))]
#[case::unbounded_excluded(Bound::Unbounded, Bound::Excluded(9))]
#[case::included_unbounded(Bound::Included(40), Bound::Unbounded)]
fn snapshot_scans_honour_their_bounds_over_every_version(
    #[case] lower: Bound<usize>,
    #[case] upper: Bound<usize>,
) {
    let dir = temp_dir();
    let scenario = format!("snapshot.scan({lower:?}, {upper:?}) over keys with 5 versions each");
    let db = open(dir.path(), &scenario, BOOK_BOUNDS);
    let mut snapshots = Vec::new();
    let mut models = Vec::new();
    let mut model = Model::new();
    for generation in 0..5 {
        for i in 0..50 {
            if (i + generation) % 4 == 0 {
                ok(db.delete(&key(i)), &scenario, BOOK_BOUNDS);
                model.remove(&key(i));
            } else {
                ok(
                    db.put(&key(i), &value(i, generation)),
                    &scenario,
                    BOOK_BOUNDS,
                );
                model.insert(key(i), value(i, generation));
            }
        }
        if generation % 2 == 1 {
            ok(db.force_flush(), &scenario, BOOK_BOUNDS);
        }
        snapshots.push(ok(db.snapshot(), &scenario, BOOK_BOUNDS));
        models.push(model.clone());
    }
    let to_key = |bound: Bound<usize>| bound.map(key);
    let (lower, upper) = (to_key(lower), to_key(upper));
    fn as_ref(bound: &Bound<Vec<u8>>) -> Bound<&[u8]> {
        bound.as_ref().map(Vec::as_slice)
    }
    for (generation, (snapshot, model)) in snapshots.iter().zip(&models).enumerate() {
        let scenario = format!("{scenario}, the snapshot after generation {generation}");
        let seen = scan_all(
            snapshot.scan(as_ref(&lower), as_ref(&upper)),
            &scenario,
            BOOK_BOUNDS,
        );
        let expected = model_range(model, as_ref(&lower), as_ref(&upper));
        if seen != expected {
            fail_entries(&scenario, &expected, &seen, BOOK_BOUNDS);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Compaction
// ---------------------------------------------------------------------------------------------

#[test]
fn compaction_drops_the_versions_no_reader_can_see() {
    let dir = temp_dir();
    let scenario = "100 keys overwritten 10 times, no snapshot, full compaction";
    let db = open(dir.path(), scenario, BOOK_RETENTION);
    for generation in 0..10 {
        for i in 0..100 {
            ok(
                db.put(&key(i), &value(i, generation)),
                scenario,
                BOOK_RETENTION,
            );
        }
        ok(db.force_flush(), scenario, BOOK_RETENTION);
    }
    ok(db.force_full_compaction(), scenario, BOOK_RETENTION);
    check_eq(
        sst_entries_on_disk(db.path(), &db.shape(), scenario, BOOK_RETENTION).len(),
        100,
        &format!("{scenario}: versions stored (one per key)"),
        BOOK_RETENTION,
    );
    for i in [0, 50, 99] {
        check_get(
            ok(db.get(&key(i)), scenario, BOOK_RETENTION),
            Some(value(i, 9).as_slice()),
            &format!("{scenario}: get({})", show(&key(i))),
            BOOK_RETENTION,
        );
    }
}

#[test]
fn compaction_keeps_the_versions_a_live_snapshot_reads() {
    let dir = temp_dir();
    let scenario = "2 versions of every key, a snapshot, 5 overwrites, full compaction";
    let db = open(dir.path(), scenario, BOOK_RETENTION);
    for generation in [100, 0] {
        for i in 0..50 {
            ok(
                db.put(&key(i), &value(i, generation)),
                scenario,
                BOOK_RETENTION,
            );
        }
        ok(db.force_flush(), scenario, BOOK_RETENTION);
    }
    let snapshot = ok(db.snapshot(), scenario, BOOK_RETENTION);
    for generation in 1..=5 {
        for i in 0..50 {
            ok(
                db.put(&key(i), &value(i, generation)),
                scenario,
                BOOK_RETENTION,
            );
        }
        ok(db.force_flush(), scenario, BOOK_RETENTION);
    }
    ok(db.force_full_compaction(), scenario, BOOK_RETENTION);
    for i in [0, 25, 49] {
        check_get(
            ok(snapshot.get(&key(i)), scenario, BOOK_RETENTION),
            Some(value(i, 0).as_slice()),
            &format!("{scenario}: snapshot.get({})", show(&key(i))),
            BOOK_RETENTION,
        );
        check_get(
            ok(db.get(&key(i)), scenario, BOOK_RETENTION),
            Some(value(i, 5).as_slice()),
            &format!("{scenario}: db.get({})", show(&key(i))),
            BOOK_RETENTION,
        );
    }
    let hidden_from_everyone =
        sst_entries_on_disk(db.path(), &db.shape(), scenario, BOOK_RETENTION)
            .into_iter()
            .filter(|(_, value, _)| value.as_deref() == Some(value_of(7, 100).as_slice()))
            .count();
    check_eq(
        hidden_from_everyone,
        0,
        &format!(
            "{scenario}: stored copies of the version older than the snapshot's (no reader can \
             see it)"
        ),
        BOOK_RETENTION,
    );
    drop(snapshot);
    ok(db.force_full_compaction(), scenario, BOOK_RETENTION);
    check_eq(
        versions_on_disk(&db, &key(7), scenario, BOOK_RETENTION),
        1,
        &format!("{scenario}, then the snapshot dropped and another compaction: versions kept"),
        BOOK_RETENTION,
    );
}

/// [`value`] under another name, for use where a local is called `value`.
fn value_of(i: usize, generation: usize) -> Vec<u8> {
    value(i, generation)
}

#[test]
fn a_deleted_key_stays_deleted_when_a_snapshot_holds_its_old_value() {
    let dir = temp_dir();
    let scenario = "put k, snapshot, delete k, full compaction into the bottom level";
    let db = open(dir.path(), scenario, BOOK_RETENTION);
    ok(db.put(b"k", b"old"), scenario, BOOK_RETENTION);
    ok(db.put(b"other", b"x"), scenario, BOOK_RETENTION);
    ok(db.force_flush(), scenario, BOOK_RETENTION);
    let snapshot = ok(db.snapshot(), scenario, BOOK_RETENTION);
    ok(db.delete(b"k"), scenario, BOOK_RETENTION);
    ok(db.force_flush(), scenario, BOOK_RETENTION);
    ok(db.force_full_compaction(), scenario, BOOK_RETENTION);
    check_get(
        ok(db.get(b"k"), scenario, BOOK_RETENTION),
        None,
        &format!("{scenario}: db.get(k) (the tombstone is newer than the snapshot: it must stay)"),
        BOOK_RETENTION,
    );
    check_get(
        ok(snapshot.get(b"k"), scenario, BOOK_RETENTION),
        Some(b"old"),
        &format!("{scenario}: snapshot.get(k)"),
        BOOK_RETENTION,
    );
    drop(snapshot);
    ok(db.force_full_compaction(), scenario, BOOK_RETENTION);
    check_eq(
        versions_on_disk(&db, b"k", scenario, BOOK_RETENTION),
        0,
        &format!(
            "{scenario}, then the snapshot dropped and another full compaction: versions of k \
             left (the tombstone at the bottom hides nothing any more)"
        ),
        BOOK_RETENTION,
    );
    check_get(
        ok(db.get(b"k"), scenario, BOOK_RETENTION),
        None,
        &format!("{scenario}, after the second compaction: db.get(k)"),
        BOOK_RETENTION,
    );
}

#[test]
fn a_keys_versions_never_span_two_ssts_of_a_level() {
    let dir = temp_dir();
    let scenario = "20 keys with 40 versions each under a snapshot, SSTs of 1 KiB, full compaction";
    let options = LsmOptions {
        target_sst_size: 1024,
        ..options()
    };
    let db = ok(MiniLsm::open(dir.path(), options), scenario, BOOK_RETENTION);
    let _snapshots: Vec<_> = (0..40)
        .map(|generation| {
            for i in 0..20 {
                ok(
                    db.put(&key(i), &value(i, generation)),
                    scenario,
                    BOOK_RETENTION,
                );
            }
            ok(db.snapshot(), scenario, BOOK_RETENTION)
        })
        .collect();
    ok(db.force_flush(), scenario, BOOK_RETENTION);
    ok(db.force_full_compaction(), scenario, BOOK_RETENTION);
    let shape = db.shape();
    let bottom = shape.levels.last().expect("the tree has levels");
    if bottom.ssts.len() < 3 {
        fail(
            &format!("{scenario}: SSTs in the bottom level"),
            "at least 3 (the data is about 30 KiB)",
            bottom.ssts.len(),
            BOOK_RETENTION,
        );
    }
    for pair in bottom.ssts.windows(2) {
        let last = user_key_of(&pair[0].last_key).expect("a versioned key");
        let first = user_key_of(&pair[1].first_key).expect("a versioned key");
        if last == first {
            fail(
                &format!(
                    "{scenario}: SSTs {} and {} of the bottom level",
                    pair[0].id, pair[1].id
                ),
                "each key's versions in one SST",
                format!("both hold versions of {}", show(&last)),
                BOOK_RETENTION,
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Bloom filters, key limits, recovery
// ---------------------------------------------------------------------------------------------

#[test]
fn get_uses_bloom_filters_over_user_keys() {
    let dir = temp_dir();
    let scenario = "4 L0 SSTs of versioned keys (even keys), get of every key";
    let db = open(dir.path(), scenario, BOOK_BLOOM);
    for generation in 0..4 {
        for i in (0..400).step_by(2) {
            if i % 8 == generation * 2 {
                ok(db.put(&key(i), &value(i, generation)), scenario, BOOK_BLOOM);
            }
        }
        ok(db.force_flush(), scenario, BOOK_BLOOM);
    }
    for i in (0..400).step_by(2) {
        check_get(
            ok(db.get(&key(i)), scenario, BOOK_BLOOM),
            Some(value(i, (i % 8) / 2).as_slice()),
            &format!("{scenario}: get({}) (present)", show(&key(i))),
            BOOK_BLOOM,
        );
    }
    let before = db.stats().ssts_skipped_by_bloom;
    for i in (1..400).step_by(2) {
        check_get(
            ok(db.get(&key(i)), scenario, BOOK_BLOOM),
            None,
            &format!("{scenario}: get({}) (absent)", show(&key(i))),
            BOOK_BLOOM,
        );
    }
    let skipped = db.stats().ssts_skipped_by_bloom - before;
    if skipped < 600 {
        fail(
            &format!("{scenario}: SSTs skipped by bloom filters over 200 absent keys"),
            "at least 600 of 800",
            skipped,
            BOOK_BLOOM,
        );
    }
}

#[test]
fn keys_up_to_the_versioned_limit_are_accepted_and_longer_ones_refused() {
    let dir = temp_dir();
    let scenario = "keys of zero bytes at the versioned key limit";
    let db = open(dir.path(), scenario, BOOK_ENCODING);
    let longest = vec![0u8; MAX_VERSIONED_USER_KEY_LEN];
    ok(db.put(&longest, b"v"), scenario, BOOK_ENCODING);
    ok(db.force_flush(), scenario, BOOK_ENCODING);
    check_get(
        ok(db.get(&longest), scenario, BOOK_ENCODING),
        Some(b"v"),
        &format!("{scenario}: get of the longest key after a flush"),
        BOOK_ENCODING,
    );
    let too_long = vec![0u8; MAX_VERSIONED_USER_KEY_LEN + 1];
    match db.put(&too_long, b"v") {
        Err(Error::InvalidArgument(_)) => {}
        other => fail(
            &format!("{scenario}: put of a key one byte longer"),
            "Err(InvalidArgument)",
            format!("{other:?}"),
            BOOK_ENCODING,
        ),
    }
}

#[test]
fn writes_after_a_reopen_are_newer_than_every_stored_version() {
    let dir = temp_dir();
    let scenario = "1000 writes, flushed and compacted, reopen, overwrite";
    {
        let db = open(dir.path(), scenario, BOOK_RECOVERY);
        for generation in 0..5 {
            for i in 0..200 {
                ok(
                    db.put(&key(i), &value(i, generation)),
                    scenario,
                    BOOK_RECOVERY,
                );
            }
            ok(db.force_flush(), scenario, BOOK_RECOVERY);
        }
        ok(db.force_full_compaction(), scenario, BOOK_RECOVERY);
        ok(
            db.put(&key(7), b"unflushed, in the WAL"),
            scenario,
            BOOK_RECOVERY,
        );
        ok(db.close(), scenario, BOOK_RECOVERY);
    }
    let db = open(dir.path(), scenario, BOOK_RECOVERY);
    check_get(
        ok(db.get(&key(7)), scenario, BOOK_RECOVERY),
        Some(b"unflushed, in the WAL"),
        &format!("{scenario}: get of a key recovered from the WAL"),
        BOOK_RECOVERY,
    );
    for i in [3, 7, 150] {
        ok(
            db.put(&key(i), b"after the reopen"),
            scenario,
            BOOK_RECOVERY,
        );
    }
    ok(db.delete(&key(4)), scenario, BOOK_RECOVERY);
    for (i, expected) in [
        (3, Some(&b"after the reopen"[..])),
        (7, Some(b"after the reopen")),
        (150, Some(b"after the reopen")),
        (4, None),
        (5, Some(&value(5, 4)[..])),
    ] {
        check_get(
            ok(db.get(&key(i)), scenario, BOOK_RECOVERY),
            expected,
            &format!("{scenario}: get({})", show(&key(i))),
            BOOK_RECOVERY,
        );
    }
    ok(db.force_flush(), scenario, BOOK_RECOVERY);
    ok(db.force_full_compaction(), scenario, BOOK_RECOVERY);
    check_get(
        ok(db.get(&key(3)), scenario, BOOK_RECOVERY),
        Some(b"after the reopen"),
        &format!("{scenario}, then a full compaction: get({})", show(&key(3))),
        BOOK_RECOVERY,
    );
    check_get(
        ok(db.get(&key(4)), scenario, BOOK_RECOVERY),
        None,
        &format!("{scenario}, then a full compaction: get of the key deleted after the reopen"),
        BOOK_RECOVERY,
    );
}

// ---------------------------------------------------------------------------------------------
// Concurrency
// ---------------------------------------------------------------------------------------------

#[test]
fn a_batch_becomes_visible_all_at_once() {
    let dir = temp_dir();
    let scenario = "a writer puts a and b to the same number in one batch; readers check a == b";
    let options = LsmOptions {
        memtable_size: 16 << 10,
        max_immutable_memtables: 0,
        ..options()
    };
    let db = ok(
        MiniLsm::open(dir.path(), options),
        scenario,
        BOOK_CONCURRENT,
    );
    let done = Arc::new(AtomicBool::new(false));
    with_watchdog(BOOK_CONCURRENT, move || {
        std::thread::scope(|scope| {
            let writer = {
                let db = Arc::clone(&db);
                let done = Arc::clone(&done);
                scope.spawn(move || {
                    for n in 0..3000u32 {
                        let bytes = n.to_be_bytes();
                        let batch = [
                            WriteBatchRecord::Put(&b"a"[..], &bytes[..]),
                            WriteBatchRecord::Put(&b"b"[..], &bytes[..]),
                        ];
                        db.write_batch(&batch).expect("write a batch");
                    }
                    done.store(true, Ordering::Release);
                })
            };
            for _ in 0..2 {
                let db = Arc::clone(&db);
                let done = Arc::clone(&done);
                scope.spawn(move || {
                    while !done.load(Ordering::Acquire) {
                        let snapshot = db.snapshot().expect("take a snapshot");
                        let a = snapshot.get(b"a").expect("get a");
                        let b = snapshot.get(b"b").expect("get b");
                        if a != b {
                            fail(
                                &format!("{scenario}: one snapshot's a and b"),
                                "equal (both from the same batch)",
                                format!(
                                    "a = {:?}, b = {:?}",
                                    a.map(|v| v.to_vec()),
                                    b.map(|v| v.to_vec())
                                ),
                                BOOK_CONCURRENT,
                            );
                        }
                        let pairs = scan_all(
                            db.scan(Bound::Unbounded, Bound::Unbounded),
                            scenario,
                            BOOK_CONCURRENT,
                        );
                        let values: Vec<_> = pairs.iter().map(|(_, v)| v.clone()).collect();
                        if values.len() == 2 && values[0] != values[1] {
                            fail(
                                &format!("{scenario}: one scan's a and b"),
                                "equal",
                                show_entries(&pairs),
                                BOOK_CONCURRENT,
                            );
                        }
                    }
                });
            }
            writer.join().expect("the writer");
        })
    });
}

#[test]
fn snapshots_taken_while_writers_run_read_the_same_twice() {
    let dir = temp_dir();
    let scenario = "two writers overwrite 100 keys; each snapshot is read twice around a flush";
    let options = LsmOptions {
        memtable_size: 8 << 10,
        max_immutable_memtables: 1,
        ..options()
    };
    let db = ok(MiniLsm::open(dir.path(), options), scenario, BOOK_SNAPSHOT);
    let done = Arc::new(AtomicBool::new(false));
    with_watchdog(BOOK_SNAPSHOT, move || {
        std::thread::scope(|scope| {
            let writers: Vec<_> = (0..2)
                .map(|writer| {
                    let db = Arc::clone(&db);
                    scope.spawn(move || {
                        for generation in 0..20 {
                            for i in 0..100 {
                                db.put(&key(i), &value(i, generation * 2 + writer))
                                    .expect("put");
                            }
                        }
                    })
                })
                .collect();
            let reader = {
                let db = Arc::clone(&db);
                let done = Arc::clone(&done);
                scope.spawn(move || {
                    let mut reads = 0;
                    while !done.load(Ordering::Acquire) || reads < 3 {
                        let snapshot = db.snapshot().expect("snapshot");
                        let first: BTreeMap<_, _> = scan_all(
                            snapshot.scan(Bound::Unbounded, Bound::Unbounded),
                            scenario,
                            BOOK_SNAPSHOT,
                        )
                        .into_iter()
                        .collect();
                        db.force_flush().expect("flush");
                        let second: BTreeMap<_, _> = scan_all(
                            snapshot.scan(Bound::Unbounded, Bound::Unbounded),
                            scenario,
                            BOOK_SNAPSHOT,
                        )
                        .into_iter()
                        .collect();
                        if first != second {
                            let differs = first
                                .iter()
                                .find(|(k, v)| second.get(*k) != Some(*v))
                                .map(|(k, _)| k.clone())
                                .unwrap_or_default();
                            fail(
                                &format!("{scenario}: one snapshot scanned twice"),
                                "the same entries",
                                format!("a different value for {}", show(&differs)),
                                BOOK_SNAPSHOT,
                            );
                        }
                        for (k, v) in first.iter().take(5) {
                            let got = snapshot.get(k).expect("get").map(|b| b.to_vec());
                            check_eq(
                                Shown(got),
                                Shown(v.clone()),
                                &format!("{scenario}: snapshot.get({}) against its scan", show(k)),
                                BOOK_SNAPSHOT,
                            );
                        }
                        reads += 1;
                    }
                })
            };
            for writer in writers {
                writer.join().expect("a writer");
            }
            done.store(true, Ordering::Release);
            reader.join().expect("the reader");
        })
    });
}

#[test]
fn a_snapshot_needs_nothing_after_the_engine_is_reopened() {
    // Snapshots do not survive a restart; the engine reopens with none, and compaction may then
    // drop every old version.
    let dir = temp_dir();
    let scenario = "a snapshot open when the engine closes, reopen, full compaction";
    {
        let db = open(dir.path(), scenario, BOOK_WATERMARK);
        ok(db.put(b"k", b"1"), scenario, BOOK_WATERMARK);
        let _snapshot = ok(db.snapshot(), scenario, BOOK_WATERMARK);
        ok(db.put(b"k", b"2"), scenario, BOOK_WATERMARK);
        ok(db.close(), scenario, BOOK_WATERMARK);
    }
    let db = open(dir.path(), scenario, BOOK_WATERMARK);
    ok(db.force_flush(), scenario, BOOK_WATERMARK);
    ok(db.force_full_compaction(), scenario, BOOK_WATERMARK);
    check_eq(
        versions_on_disk(&db, b"k", scenario, BOOK_WATERMARK),
        1,
        &format!("{scenario}: versions of k kept"),
        BOOK_WATERMARK,
    );
    check_get(
        ok(db.get(b"k"), scenario, BOOK_WATERMARK),
        Some(b"2"),
        &format!("{scenario}: get(k)"),
        BOOK_WATERMARK,
    );
}

#[test]
fn a_compaction_takes_every_sst_holding_a_version_of_its_keys() {
    // L1 (the only level, so the bottom one) holds one SST per key. Deleting `k` puts a single
    // L0 SST holding `k@new` (a tombstone) above the L1 SST holding `k@old`. As byte ranges the two
    // do not overlap (`k@new` sorts before `k@old`), but they hold the same user key: the
    // controller's L0 compaction must take both, or it drops the tombstone at the bottom and the
    // old value comes back.
    let dir = temp_dir();
    let scenario = "L1 holds one SST per key; delete k, flush, compact_until_idle";
    let options = LsmOptions {
        target_sst_size: 1024,
        compaction: tests_day1_to_day7::lsm::CompactionOptions::Leveled(
            tests_day1_to_day7::lsm::LeveledCompactionOptions {
                level0_file_num_compaction_trigger: 1,
                max_levels: 1,
                ..Default::default()
            },
        ),
        ..options()
    };
    let db = ok(MiniLsm::open(dir.path(), options), scenario, BOOK_RETENTION);
    let big = vec![b'v'; 1100];
    for key in ["a", "c", "e", "k", "m", "p"] {
        ok(db.put(key.as_bytes(), &big), scenario, BOOK_RETENTION);
    }
    ok(db.force_flush(), scenario, BOOK_RETENTION);
    ok(db.compact_until_idle(), scenario, BOOK_RETENTION);
    check_eq(
        db.shape().levels[0].ssts.len(),
        6,
        &format!("{scenario}: L1 SSTs after the first compaction (one per 1.1 KiB key)"),
        BOOK_RETENTION,
    );
    ok(db.delete(b"k"), scenario, BOOK_RETENTION);
    ok(db.force_flush(), scenario, BOOK_RETENTION);
    ok(db.compact_until_idle(), scenario, BOOK_RETENTION);
    check_get(
        ok(db.get(b"k"), scenario, BOOK_RETENTION),
        None,
        &format!("{scenario}: get(k) after the tombstone was compacted into the bottom level"),
        BOOK_RETENTION,
    );
    check_eq(
        versions_on_disk(&db, b"k", scenario, BOOK_RETENTION),
        0,
        &format!("{scenario}: versions of k left"),
        BOOK_RETENTION,
    );
}
