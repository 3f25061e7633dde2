//! Day 3 graded tests: the memtable and the merging iterators.
//!
//! Covers, through the public API only:
//! * `MemTable`: put / get / overwrite / delete (a tombstone is `Some(None)`, an empty value is
//!   `Some(Some(b""))`), `approximate_size` growing with every write, `scan` with every bound
//!   combination (on stored keys, in gaps, before the first and past the last key, empty and
//!   inverted ranges) checked against a `BTreeMap` model, and `flush` into an `SsTableBuilder`
//!   read back with an `SsTableIterator` (tombstones kept).
//! * `MergeIterator`: each key once with the newest source's entry (index 0 wins), tombstones
//!   returned as entries, empty sources, no sources, many random sources against a model.
//! * `TwoMergeIterator`: the same semantics for two sources of different types, `a` winning on
//!   equal keys, either side empty, nested inside a merge of merges.
//! * Errors: a failing source makes the merged `next()` return `Err` at the right step, the error
//!   is never turned into an end of data, and the merged cursor stays invalid afterwards.
//!
//! Every walk goes through the harness's `check_iter`, which also checks the cursor contract.
//! Book chapter: `day3-memtable-and-merging.md`.

use std::collections::BTreeMap;
use std::ops::{Bound, RangeInclusive};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use rstest::rstest;
use tests_day1_to_day7::lsm::iterators::StorageIterator;
use tests_day1_to_day7::lsm::iterators::merge_iterator::MergeIterator;
use tests_day1_to_day7::lsm::iterators::two_merge_iterator::TwoMergeIterator;
use tests_day1_to_day7::lsm::mem_table::{MemTable, MemTableIterator};
use tests_day1_to_day7::lsm::table::{SsTableBuilder, SsTableIterator};
use tests_day1_to_day7::lsm::{Error, Result as LsmResult};
use tests_day1_to_day7::*;

const BOOK_MEMTABLE: &str = "day3-memtable-and-merging.md#the-memtable";
const BOOK_OVERWRITES: &str = "day3-memtable-and-merging.md#overwrites";
const BOOK_BOUNDS: &str = "day3-memtable-and-merging.md#scan-bounds";
const BOOK_CURSOR: &str = "day3-memtable-and-merging.md#the-cursor-contract";
const BOOK_MERGE: &str = "day3-memtable-and-merging.md#merge-iterator";
const BOOK_TWO_MERGE: &str = "day3-memtable-and-merging.md#two-merge-iterator";
const BOOK_ERRORS: &str = "day3-memtable-and-merging.md#errors-in-iterators";

/// Entries written as space-separated `key=value` words: `key=~` is a tombstone, `key=` an empty
/// value. Keys and values contain neither spaces nor `=`.
type Spec = &'static str;

/// A scan bound over string keys, as written in the test cases.
type StrBound = Bound<&'static str>;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// The entries of `spec`, in the order written.
fn parse(spec: &str) -> Entries {
    spec.split_whitespace()
        .map(|word| {
            let (k, v) = word
                .split_once('=')
                .unwrap_or_else(|| panic!("test bug: {word:?} is not key=value"));
            (
                k.as_bytes().to_vec(),
                (v != "~").then(|| v.as_bytes().to_vec()),
            )
        })
        .collect()
}

/// The newest entry per key of `writes` (later writes win), in key order.
fn newest_per_key(writes: &Entries) -> Entries {
    let model: BTreeMap<Vec<u8>, Option<Vec<u8>>> = writes.iter().cloned().collect();
    model.into_iter().collect()
}

/// A memtable holding `spec`, written in order with `put` (later writes overwrite earlier ones).
fn memtable_with(spec: Spec) -> MemTable {
    memtable_of(&parse(spec))
}

/// A memtable holding `entries`, written in order.
fn memtable_of(entries: &Entries) -> MemTable {
    let memtable = MemTable::create(0);
    for (k, v) in entries {
        ok(
            memtable.put(k, v.as_deref()),
            &format!("MemTable::put({}, {})", show(k), show_value(v.as_deref())),
            BOOK_MEMTABLE,
        );
    }
    memtable
}

/// A cursor over the whole memtable.
fn full_scan(memtable: &MemTable) -> MemTableIterator {
    memtable.scan(Bound::Unbounded, Bound::Unbounded)
}

/// A mock source yielding `spec`.
fn mock(spec: Spec) -> MockIterator {
    MockIterator::new(&parse(spec))
}

/// A `MergeIterator` over mock sources, newest (index 0) first.
fn merge_of_mocks(sources: &[Entries]) -> MergeIterator<MockIterator> {
    MergeIterator::create(
        sources
            .iter()
            .map(|source| Box::new(MockIterator::new(source)))
            .collect(),
    )
}

/// Checks that a `MergeIterator` over mocks of `sources` (newest first) yields `expected`.
fn check_merge_of_specs(sources: &[Spec], expected: Spec) {
    let sources: Vec<Entries> = sources.iter().map(|s| parse(s)).collect();
    let shown: Vec<String> = sources.iter().map(|s| show_entries(s)).collect();
    check_iter(
        &mut merge_of_mocks(&sources),
        &parse(expected),
        &format!(
            "MergeIterator over {} sources (newest first) {}",
            sources.len(),
            shown.join(" ")
        ),
        BOOK_MERGE,
    );
}

/// What a correct merge of `sources` (newest first) returns: every key once, with the entry of the
/// newest source that holds it, tombstones included.
fn model_merge(sources: &[Entries]) -> Entries {
    let mut model: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
    for source in sources {
        for (k, v) in source {
            model.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    model.into_iter().collect()
}

/// The entries of `model` inside `(lower, upper)`.
fn model_range(model: &Entries, lower: Bound<&[u8]>, upper: Bound<&[u8]>) -> Entries {
    model
        .iter()
        .filter(|(k, _)| in_range(k, lower, upper))
        .cloned()
        .collect()
}

/// `Bound<&str>` as the `Bound<&[u8]>` the engine takes.
fn as_bytes(bound: StrBound) -> Bound<&'static [u8]> {
    bound.map(str::as_bytes)
}

/// Random sources for the merge tests: `count` sources of up to 40 keys out of 300, about one
/// entry in five a tombstone; each value names its key and its source. Some sources may be empty.
fn random_sources(seed: u64, count: usize) -> Vec<Entries> {
    let mut rng = Rng::new(seed);
    (0..count)
        .map(|source| {
            let mut map = BTreeMap::new();
            for _ in 0..rng.below(41) {
                let i = rng.below(300);
                let v = (rng.below(5) != 0).then(|| value(i, source));
                map.insert(key(i), v);
            }
            map.into_iter().collect()
        })
        .collect()
}

/// The result of a `MemTable::get`, printed as `absent`, `<tombstone>` or a quoted value.
#[derive(PartialEq, Eq)]
struct Lookup(Option<Option<Vec<u8>>>);

impl std::fmt::Debug for Lookup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            None => f.write_str("absent (None)"),
            Some(v) => write!(f, "Some({})", show_value(v.as_deref())),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// MemTable: put / get
// ---------------------------------------------------------------------------------------------

#[rstest]
#[case::empty_memtable("", "k", None)]
#[case::key_never_written("a=1 c=3", "b", None)]
#[case::shorter_prefix_of_a_stored_key("kk=v", "k", None)]
#[case::longer_than_a_stored_key("k=v", "kk", None)]
#[case::put_then_get("k=v", "k", Some(Some("v")))]
#[case::overwrite_returns_newest("k=v1 k=v2", "k", Some(Some("v2")))]
#[case::delete_is_a_tombstone("k=v1 k=~", "k", Some(None))]
#[case::delete_of_unknown_key_is_a_tombstone("k=~", "k", Some(None))]
#[case::put_after_delete("k=v1 k=~ k=v3", "k", Some(Some("v3")))]
#[case::empty_value_is_not_a_delete("k=", "k", Some(Some("")))]
#[case::neighbours_do_not_interfere("k=v k\x00=w j\u{7f}=x", "k", Some(Some("v")))]
fn memtable_get_returns_newest_state_of_key(
    #[case] writes: Spec,
    #[case] lookup: &str,
    #[case] expected: Option<Option<&str>>,
) {
    let memtable = memtable_with(writes);
    let actual = Lookup(
        memtable
            .get(lookup.as_bytes())
            .map(|v| v.map(|b| b.to_vec())),
    );
    let expected = Lookup(expected.map(|v| v.map(|s| s.as_bytes().to_vec())));
    check_eq(
        actual,
        expected,
        &format!(
            "MemTable::get({}) after writes {}",
            show(lookup.as_bytes()),
            show_entries(&parse(writes))
        ),
        BOOK_MEMTABLE,
    );
}

/// One write of the size test: key, value, what it is.
type SizedWrite<'a> = (&'a [u8], Option<&'a [u8]>, &'a str);

/// The most an entry may add to `approximate_size` beyond its key and value bytes.
const MAX_ENTRY_OVERHEAD: usize = 64;

/// Every write grows `approximate_size` by at least its key and value lengths, an overwrite
/// too, and by at most 64 bytes more.
#[test]
fn memtable_approximate_size_grows_with_every_write() {
    let memtable = MemTable::create(7);
    let big = vec![b'x'; 1000];
    // (key, value, what the write is). Every write, an overwrite too, grows the size by at least
    // its key and value lengths: a memtable whose keys are overwritten again and again must still
    // fill up and be frozen. No write adds more than its key and value lengths plus
    // `MAX_ENTRY_OVERHEAD`.
    let writes: [SizedWrite; 6] = [
        (b"alpha", Some(&big), "a 1000-byte value"),
        (
            b"alpha",
            Some(b"short"),
            "an overwrite with a shorter value",
        ),
        (b"beta", None, "a tombstone"),
        (b"gamma", Some(b""), "an empty value"),
        (b"gamma", None, "a delete of a stored key"),
        (b"delta", Some(&big), "a second 1000-byte value"),
    ];
    let mut previous = memtable.approximate_size();
    for (k, v, what) in writes {
        ok(memtable.put(k, v), &format!("put {what}"), BOOK_MEMTABLE);
        let now = memtable.approximate_size();
        let entry_bytes = k.len() + v.map_or(0, <[u8]>::len);
        let at_least = previous + entry_bytes;
        // An estimate far above the real size would freeze memtables long before they are full.
        let at_most = previous + entry_bytes + MAX_ENTRY_OVERHEAD;
        if now < at_least || now > at_most {
            fail(
                &format!(
                    "approximate_size after putting {what} (key {}), up from {previous}",
                    show(k)
                ),
                format!("between {at_least} and {at_most}"),
                now,
                BOOK_MEMTABLE,
            );
        }
        previous = now;
    }
}

/// A `get` racing with overwrites of its key must always find the key, with a value at least as
/// new as the one it found before. Why it can go wrong: `SkipMap::insert` over an existing key
/// unlinks the old entry before it links the new one, and a `get` in between finds no entry; the
/// engine would then go on to older memtables and SSTs and return an overwritten value.
#[test]
fn memtable_get_never_misses_a_key_while_it_is_overwritten() {
    const OVERWRITES: u64 = 100_000;
    let memtable = MemTable::create(1);
    let version = |v: u64| v.to_be_bytes();
    ok(
        memtable.put(b"k", Some(&version(0))),
        "put k = version 0",
        BOOK_OVERWRITES,
    );
    let writer_done = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            // Set the flag even if `put` panics (a `todo!()`), so the reader below stops.
            let _done = SetOnDrop(&writer_done);
            for v in 1..=OVERWRITES {
                ok(
                    memtable.put(b"k", Some(&version(v))),
                    &format!("overwrite k with version {v}"),
                    BOOK_OVERWRITES,
                );
            }
        });
        let mut newest_seen = 0;
        while !writer_done.load(Ordering::Acquire) {
            let got = memtable.get(b"k");
            let as_version = |value: &Bytes| <[u8; 8]>::try_from(value.as_ref()).ok();
            let Some(seen) = got
                .as_ref()
                .and_then(|value| value.as_ref().and_then(as_version))
            else {
                fail(
                    "MemTable::get(k) while another thread overwrites k (always present)",
                    "Some(Some(<an 8-byte version>))",
                    Lookup(got.map(|v| v.map(|b| b.to_vec()))),
                    BOOK_OVERWRITES,
                );
            };
            let seen = u64::from_be_bytes(seen);
            if seen < newest_seen {
                fail(
                    &format!(
                        "MemTable::get(k) while another thread overwrites k, after it returned \
                         version {newest_seen}"
                    ),
                    format!("a version >= {newest_seen}"),
                    seen,
                    BOOK_OVERWRITES,
                );
            }
            newest_seen = seen;
        }
    });
}

/// Sets its flag when dropped, also while unwinding from a panic.
struct SetOnDrop<'a>(&'a AtomicBool);

impl Drop for SetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

// ---------------------------------------------------------------------------------------------
// MemTable: scan
// ---------------------------------------------------------------------------------------------

/// The memtable of the scan tests: a key and its one-byte extension, a tombstone, an empty value,
/// and an overwritten key. Gaps: before "b", between "b" and "ba", "c", "e", after "f".
const SCAN_WRITES: Spec = "f=old-f b=vb ba= d=vd d=~ f=vf";

/// Where the scan bounds go: before the first key, on each kind of stored key, in each gap and
/// past the last key.
const SCAN_POINTS: [&str; 9] = ["a", "b", "b\x00", "ba", "c", "d", "e", "f", "g"];

/// The model of `SCAN_WRITES`: the newest entry per key.
fn scan_model() -> Entries {
    newest_per_key(&parse(SCAN_WRITES))
}

/// `memtable.scan(lower, upper)`; a panic (say, from handing an inverted range to
/// `SkipMap::range`) fails the test with the bounds that caused it.
fn scan_without_panic(memtable: &MemTable, lower: StrBound, upper: StrBound) -> MemTableIterator {
    let scan = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        memtable.scan(as_bytes(lower), as_bytes(upper))
    }));
    scan.unwrap_or_else(|payload| {
        let message = payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|m| m.to_string()))
            .unwrap_or_default();
        fail(
            &format!("MemTable::scan({lower:?}, {upper:?})"),
            "a cursor (empty when the range is empty or inverted)",
            format!("a panic: {message}"),
            BOOK_BOUNDS,
        )
    })
}

/// Scans the memtable of `SCAN_WRITES` over `(lower, upper)` and checks the result against the
/// model, through the cursor contract.
fn check_scan(memtable: &MemTable, lower: StrBound, upper: StrBound) {
    let (lower_b, upper_b) = (as_bytes(lower), as_bytes(upper));
    let expected = model_range(&scan_model(), lower_b, upper_b);
    let mut iter = scan_without_panic(memtable, lower, upper);
    check_iter(
        &mut iter,
        &expected,
        &format!(
            "MemTable::scan({lower:?}, {upper:?}) over {}",
            show_entries(&scan_model())
        ),
        BOOK_BOUNDS,
    );
}

/// The kind of one end of a scan range.
#[derive(Clone, Copy, Debug)]
enum BoundKind {
    Unbounded,
    Included,
    Excluded,
}

impl BoundKind {
    /// Every bound of this kind the grid tries.
    fn bounds(self) -> Vec<StrBound> {
        match self {
            BoundKind::Unbounded => vec![Bound::Unbounded],
            BoundKind::Included => SCAN_POINTS.iter().map(|p| Bound::Included(*p)).collect(),
            BoundKind::Excluded => SCAN_POINTS.iter().map(|p| Bound::Excluded(*p)).collect(),
        }
    }
}

/// Every lower kind × every upper kind; inside, every pair of points, so each case also covers
/// empty and inverted ranges (lower above upper must give an empty scan, not a panic).
#[rstest]
fn memtable_scan_every_bound_combination_matches_model(
    #[values(BoundKind::Unbounded, BoundKind::Included, BoundKind::Excluded)] lower_kind: BoundKind,
    #[values(BoundKind::Unbounded, BoundKind::Included, BoundKind::Excluded)] upper_kind: BoundKind,
) {
    let memtable = memtable_with(SCAN_WRITES);
    for lower in lower_kind.bounds() {
        for upper in upper_kind.bounds() {
            check_scan(&memtable, lower, upper);
        }
    }
}

#[rstest]
#[case::excluded_on_same_key(Bound::Excluded("d"), Bound::Excluded("d"))]
#[case::included_excluded_on_same_key(Bound::Included("b"), Bound::Excluded("b"))]
#[case::excluded_included_on_same_key(Bound::Excluded("f"), Bound::Included("f"))]
#[case::inverted_included_on_keys(Bound::Included("f"), Bound::Included("b"))]
#[case::inverted_in_gaps(Bound::Included("e"), Bound::Excluded("c"))]
#[case::inverted_excluded(Bound::Excluded("g"), Bound::Excluded("a"))]
#[case::gap_between_key_and_its_extension(Bound::Excluded("b"), Bound::Excluded("ba"))]
#[case::inside_one_gap(Bound::Included("c"), Bound::Included("c\x00"))]
#[case::before_first_key(Bound::Unbounded, Bound::Excluded("b"))]
#[case::past_last_key(Bound::Excluded("f"), Bound::Unbounded)]
#[case::starting_past_last_key(Bound::Included("g"), Bound::Unbounded)]
fn memtable_scan_empty_and_inverted_ranges_are_empty(
    #[case] lower: StrBound,
    #[case] upper: StrBound,
) {
    let memtable = memtable_with(SCAN_WRITES);
    let mut iter = scan_without_panic(&memtable, lower, upper);
    check_iter(
        &mut iter,
        &Vec::new(),
        &format!("MemTable::scan({lower:?}, {upper:?}) of an empty or inverted range"),
        BOOK_BOUNDS,
    );
}

#[rstest]
#[case::value(Bound::Included("b"), Bound::Included("b"), "b=vb")]
#[case::empty_value(Bound::Included("ba"), Bound::Included("ba"), "ba=")]
#[case::tombstone(Bound::Included("d"), Bound::Included("d"), "d=~")]
#[case::overwritten_last_key(Bound::Included("f"), Bound::Included("f"), "f=vf")]
#[case::whole_table(Bound::Unbounded, Bound::Unbounded, "b=vb ba= d=~ f=vf")]
fn memtable_scan_returns_newest_values_tombstones_and_empty_values(
    #[case] lower: StrBound,
    #[case] upper: StrBound,
    #[case] expected: Spec,
) {
    let memtable = memtable_with(SCAN_WRITES);
    let mut iter = scan_without_panic(&memtable, lower, upper);
    check_iter(
        &mut iter,
        &parse(expected),
        &format!(
            "MemTable::scan({lower:?}, {upper:?}): newest value per key, tombstones as entries"
        ),
        BOOK_MEMTABLE,
    );
}

// ---------------------------------------------------------------------------------------------
// MemTable: flush
// ---------------------------------------------------------------------------------------------

#[test]
fn memtable_flush_into_sst_keeps_every_entry_and_tombstone() {
    let mut writes: Entries = Vec::new();
    for i in 0..200 {
        writes.push((key(i), Some(value(i, 0))));
    }
    for i in (0..200).step_by(3) {
        writes.push((key(i), Some(value(i, 1))));
    }
    for i in (0..200).step_by(5) {
        writes.push((key(i), None));
    }
    for i in (0..200).step_by(7) {
        writes.push((key(i), Some(Vec::new())));
    }
    let memtable = memtable_of(&writes);
    let expected = newest_per_key(&writes);

    let mut builder = SsTableBuilder::new(256);
    ok(
        memtable.flush(&mut builder),
        "MemTable::flush into an SsTableBuilder",
        BOOK_MEMTABLE,
    );
    let dir = temp_dir();
    let table = ok(
        builder.build(1, None, &dir.path().join("1.sst")),
        "build the SST a memtable was flushed into",
        BOOK_MEMTABLE,
    );
    assert!(
        table.num_blocks() > 1,
        "[flush setup: 200 entries with 256-byte blocks] expected several blocks, got {} \
         (book: {BOOK_MEMTABLE})",
        table.num_blocks()
    );
    let mut iter = ok(
        SsTableIterator::create_and_seek_to_first(Arc::new(table)),
        "open an SsTableIterator on the flushed SST",
        BOOK_MEMTABLE,
    );
    check_iter(
        &mut iter,
        &expected,
        "the SST a memtable was flushed into holds its newest entries, tombstones included",
        BOOK_MEMTABLE,
    );
    check_iter(
        &mut full_scan(&memtable),
        &expected,
        "the memtable still holds its entries after a flush",
        BOOK_MEMTABLE,
    );
}

// ---------------------------------------------------------------------------------------------
// MergeIterator
// ---------------------------------------------------------------------------------------------

#[rstest]
#[case::newer_source_wins(
    &["b=new", "a=1 b=old c=3"],
    "a=1 b=new c=3"
)]
#[case::index_zero_wins_even_when_older_sources_come_first_in_key_order(
    &["m=v0", "a=a1 m=v1", "m=v2"],
    "a=a1 m=v0"
)]
#[case::middle_source_beats_older(
    &["x=x0", "k=v1", "k=v2"],
    "k=v1 x=x0"
)]
#[case::every_key_in_every_source(
    &[
        "a=a0 b=b0 c=c0",
        "a=a1 b=b1 c=c1",
        "a=a2 b=b2 c=c2",
    ],
    "a=a0 b=b0 c=c0"
)]
#[case::duplicate_last_key(
    &["a=a0 z=new", "z=old"],
    "a=a0 z=new"
)]
#[case::newer_tombstone_is_returned_not_the_older_value(
    &["k=~", "j=j1 k=old l=l1"],
    "j=j1 k=~ l=l1"
)]
#[case::older_tombstone_does_not_hide_newer_value(
    &["k=new", "k=~"],
    "k=new"
)]
#[case::newer_empty_value_wins(
    &["k=", "k=old"],
    "k="
)]
#[case::interleaved_disjoint_sources(
    &["b=b0 e=e0", "a=a1 d=d1", "c=c2"],
    "a=a1 b=b0 c=c2 d=d1 e=e0"
)]
#[case::prefix_keys_are_distinct(
    &["k=k0", "k\x00=k1 kk=kk1"],
    "k=k0 k\x00=k1 kk=kk1"
)]
fn merge_returns_each_key_once_with_newest_value(#[case] sources: &[Spec], #[case] expected: Spec) {
    check_merge_of_specs(sources, expected);
}

#[rstest]
#[case::no_sources_at_all(&[], "")]
#[case::one_empty_source(&[""], "")]
#[case::all_sources_empty(&["", "", ""], "")]
#[case::newest_source_empty(&["", "a=a1", "a=a2 b=b2"], "a=a1 b=b2")]
#[case::middle_source_empty(&["b=b0", "", "a=a2 b=b2"], "a=a2 b=b0")]
#[case::oldest_source_empty(&["a=a0", "a=a1 c=c1", ""], "a=a0 c=c1")]
#[case::single_source(&["a=a0 b=~"], "a=a0 b=~")]
fn merge_handles_empty_and_missing_sources(#[case] sources: &[Spec], #[case] expected: Spec) {
    check_merge_of_specs(sources, expected);
}

/// The kind of sources a random merge test feeds the `MergeIterator`.
#[derive(Clone, Copy, Debug)]
enum SourceKind {
    /// Scripted mocks holding the in-range entries.
    Mock,
    /// Memtables scanned with the test's bounds.
    MemTableScan,
}

#[rstest]
#[case::ten_sources(1, 10)]
#[case::three_sources(2, 3)]
#[case::twenty_sources(3, 20)]
fn merge_of_many_random_sources_matches_model(
    #[case] seed: u64,
    #[case] count: usize,
    #[values(SourceKind::Mock, SourceKind::MemTableScan)] kind: SourceKind,
) {
    let sources = random_sources(seed, count);
    let (lower_key, upper_key) = (key(40), key(250));
    let (lower, upper) = (
        Bound::Included(lower_key.as_slice()),
        Bound::Excluded(upper_key.as_slice()),
    );
    let expected = model_range(&model_merge(&sources), lower, upper);
    let scenario = format!(
        "MergeIterator over {count} random {kind:?} sources (seed {seed}), range {}..{}",
        show(&lower_key),
        show(&upper_key)
    );
    match kind {
        SourceKind::Mock => {
            let in_range: Vec<Entries> = sources
                .iter()
                .map(|s| model_range(s, lower, upper))
                .collect();
            check_iter(
                &mut merge_of_mocks(&in_range),
                &expected,
                &scenario,
                BOOK_MERGE,
            );
        }
        SourceKind::MemTableScan => {
            let scans = sources
                .iter()
                .map(|s| Box::new(memtable_of(s).scan(lower, upper)))
                .collect();
            check_iter(
                &mut MergeIterator::create(scans),
                &expected,
                &scenario,
                BOOK_MERGE,
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// TwoMergeIterator
// ---------------------------------------------------------------------------------------------

/// Creates `TwoMergeIterator(a, b)` and checks it yields `expected`.
fn check_two_merge<A: StorageIterator, B: StorageIterator>(
    a: A,
    b: B,
    expected: &Entries,
    scenario: &str,
) {
    let mut iter = ok(
        TwoMergeIterator::create(a, b),
        &format!("{scenario}: TwoMergeIterator::create"),
        BOOK_TWO_MERGE,
    );
    check_iter(&mut iter, expected, scenario, BOOK_TWO_MERGE);
}

#[rstest]
#[case::a_wins_on_equal_keys("b=a-b", "a=b-a b=b-b c=b-c", "a=b-a b=a-b c=b-c")]
#[case::all_keys_shared("a=a-a b=a-b", "a=b-a b=b-b", "a=a-a b=a-b")]
#[case::tombstone_in_a_is_returned("k=~", "k=old l=b-l", "k=~ l=b-l")]
#[case::tombstone_in_b_does_not_hide_a("k=new", "k=~", "k=new")]
#[case::empty_value_in_a_wins("k=", "k=old", "k=")]
#[case::interleaved("b=a-b d=a-d", "a=b-a c=b-c e=b-e", "a=b-a b=a-b c=b-c d=a-d e=b-e")]
#[case::shared_last_key("a=a-a z=a-z", "z=b-z", "a=a-a z=a-z")]
#[case::a_empty("", "a=b-a b=~", "a=b-a b=~")]
#[case::b_empty("a=a-a b=~", "", "a=a-a b=~")]
#[case::both_empty("", "", "")]
fn two_merge_prefers_a_and_handles_empty_sides(
    #[case] a: Spec,
    #[case] b: Spec,
    #[case] expected: Spec,
) {
    let expected = parse(expected);
    let sides = format!(
        "a (newer) = {}, b (older) = {}",
        show_entries(&parse(a)),
        show_entries(&parse(b))
    );
    check_two_merge(
        full_scan(&memtable_with(a)),
        mock(b),
        &expected,
        &format!("TwoMergeIterator<MemTableIterator, MockIterator>: {sides}"),
    );
    check_two_merge(
        mock(a),
        full_scan(&memtable_with(b)),
        &expected,
        &format!("TwoMergeIterator<MockIterator, MemTableIterator>: {sides}"),
    );
}

/// The engine's shape: a memtable (newer) over a merge of older sources.
#[rstest]
#[case::seed_4(4, 6)]
#[case::seed_5(5, 2)]
#[case::seed_6(6, 12)]
fn two_merge_of_memtable_over_merged_sources_matches_model(
    #[case] seed: u64,
    #[case] count: usize,
) {
    let sources = random_sources(seed, count);
    let expected = model_merge(&sources);
    check_two_merge(
        full_scan(&memtable_of(&sources[0])),
        merge_of_mocks(&sources[1..]),
        &expected,
        &format!(
            "TwoMergeIterator(memtable, MergeIterator of {} mocks), random sources seed {seed}",
            count - 1
        ),
    );
}

// ---------------------------------------------------------------------------------------------
// Errors from sources
// ---------------------------------------------------------------------------------------------

/// The newer source of the error scenarios.
const ERR_NEWER: Spec = "b=b0 d=d0 f=f0";
/// The older source: merged with `ERR_NEWER` it gives a1 b0 c1 d0 e1 f0 g1.
const ERR_OLDER: Spec = "a=a1 b=b1 c=c1 e=e1 f=f1 g=g1";
/// An older source whose "d" the newer source steps onto: merged it gives a1 b0 d0 f0 g1.
const ERR_OLDER_UNDER_NEWER_STEP: Spec = "a=a1 d=d1 g=g1";
/// An older source sharing the newer source's first key: merged it gives b0 c1 d0 f0.
const ERR_OLDER_SAME_FIRST: Spec = "b=b1 c=c1";

/// Walks `iter` to its end or to the first `Err` from `next()`, returning the entries seen and
/// the error. (The harness's `drain` drops the entries when an error comes.) Like `drain`, it
/// fails as soon as a key does not come after the previous one, so a cursor stuck on one key
/// fails at once instead of looping forever.
#[track_caller]
fn walk_until_error<I: StorageIterator>(
    iter: &mut I,
    scenario: &str,
    book: &str,
) -> (Entries, Option<Error>) {
    let mut seen: Entries = Vec::new();
    while iter.is_valid() {
        let key = iter.key().to_vec();
        if let Some((last, _)) = seen.last()
            && key <= *last
        {
            fail(
                &format!("{scenario}: keys must strictly increase"),
                format!("a key after {}", show(last)),
                show(&key),
                book,
            );
        }
        seen.push((key, iter.value().map(<[u8]>::to_vec)));
        if let Err(e) = iter.next() {
            return (seen, Some(e));
        }
    }
    (seen, None)
}

/// Checks that a walk ended with the mock's injected error, passed on unchanged, rather than
/// with a normal end (an error must never look like the end of the data).
fn check_injected_error(error: Option<Error>, seen: &Entries, scenario: &str, book: &str) {
    match error {
        Some(Error::Io { .. }) => {}
        Some(other) => fail(
            &format!("{scenario}: the source's error is passed on unchanged"),
            "Err(Error::Io { path: \"mock\", .. })",
            format!("Err({other})"),
            book,
        ),
        None => fail(
            &format!("{scenario}: the error must not be turned into an end of data"),
            "next() to return Err(injected failure)",
            Raw(format!(
                "the iterator ended normally after {}",
                show_entries(seen)
            )),
            book,
        ),
    }
}

/// Which source of an error scenario fails.
#[derive(Clone, Copy, Debug)]
enum Failing {
    Newer,
    Older,
}

/// One error scenario: the two sources (one failing when `next()` is called on its entry number
/// `at`), and how many merged entries may come out before the error. A merge advances a source
/// only to move past that source's current entry; when the failing entry is an older duplicate,
/// skipping it right away or when leaving the key are both allowed, hence a range.
struct ErrorCase {
    older: Spec,
    failing: Failing,
    at: usize,
    seen: RangeInclusive<usize>,
}

impl ErrorCase {
    /// The two mock sources, newer first.
    fn sources(&self) -> (MockIterator, MockIterator) {
        let build = |spec: Spec, fails: bool| {
            if fails {
                MockIterator::failing_at(&parse(spec), self.at)
            } else {
                mock(spec)
            }
        };
        (
            build(ERR_NEWER, matches!(self.failing, Failing::Newer)),
            build(self.older, matches!(self.failing, Failing::Older)),
        )
    }

    /// What the merge would give without the failure.
    fn full_merge(&self) -> Entries {
        model_merge(&[parse(ERR_NEWER), parse(self.older)])
    }

    fn describe(&self) -> String {
        format!(
            "newer = {}, older = {}, the {:?} source's next() fails on its entry #{}",
            show_entries(&parse(ERR_NEWER)),
            show_entries(&parse(self.older)),
            self.failing,
            self.at
        )
    }

    /// Walks `iter` (or takes `created`'s error) and checks that the merge returned the right
    /// prefix, then reported the injected error, and is invalid afterwards.
    fn check<I: StorageIterator>(&self, created: LsmResult<I>, merger: &str, book: &str) {
        let scenario = format!("{merger}: {}", self.describe());
        let (seen, error, iter) = match created {
            Err(e) => (Vec::new(), Some(e), None),
            Ok(mut iter) => {
                let (seen, error) = walk_until_error(&mut iter, &scenario, book);
                (seen, error, Some(iter))
            }
        };
        check_injected_error(error, &seen, &scenario, book);
        let full = self.full_merge();
        let allowed: Vec<Entries> = self.seen.clone().map(|n| full[..n].to_vec()).collect();
        if !allowed.contains(&seen) {
            fail(
                &format!("{scenario}: entries returned before the error"),
                Raw(allowed
                    .iter()
                    .map(|e| show_entries(e))
                    .collect::<Vec<_>>()
                    .join(" or ")),
                Raw(show_entries(&seen)),
                book,
            );
        }
        if let Some(iter) = iter
            && iter.is_valid()
        {
            fail(
                &format!("{scenario}: after next() returned Err, the iterator stays failed"),
                "is_valid() == false",
                "true",
                book,
            );
        }
    }
}

/// The error scenarios, shared by both mergers.
fn error_case(name: &str) -> ErrorCase {
    let case = |older, failing, at, seen| ErrorCase {
        older,
        failing,
        at,
        seen,
    };
    match name {
        "newer_fails_on_first_entry" => case(ERR_OLDER, Failing::Newer, 0, 2..=2),
        "newer_fails_on_entry_shared_with_older" => case(ERR_OLDER, Failing::Newer, 2, 6..=6),
        "newer_fails_on_later_entry" => case(ERR_OLDER, Failing::Newer, 1, 4..=4),
        "older_fails_on_first_entry" => case(ERR_OLDER, Failing::Older, 0, 1..=1),
        "older_fails_on_shadowed_duplicate" => case(ERR_OLDER, Failing::Older, 1, 1..=2),
        "older_fails_on_later_entry" => case(ERR_OLDER, Failing::Older, 2, 3..=3),
        "older_fails_on_its_last_entry" => case(ERR_OLDER, Failing::Older, 5, 7..=7),
        // The newer source moves from "b" onto "d", where the older one stands: skipping the
        // older "d" fails while the newer source is valid, yet the merge must be invalid.
        "older_fails_on_duplicate_newer_steps_onto" => {
            case(ERR_OLDER_UNDER_NEWER_STEP, Failing::Older, 1, 2..=3)
        }
        // Skipping the shadowed first entry may happen in `create` (an `Err` from
        // `TwoMergeIterator::create`, 0 entries) or on the first `next()`.
        "older_fails_on_shadowed_first_entry" => {
            case(ERR_OLDER_SAME_FIRST, Failing::Older, 0, 0..=1)
        }
        other => panic!("unknown error case {other}"),
    }
}

#[rstest]
fn merge_iterator_error_propagates_and_stays_failed(
    #[values(
        "newer_fails_on_first_entry",
        "newer_fails_on_later_entry",
        "newer_fails_on_entry_shared_with_older",
        "older_fails_on_first_entry",
        "older_fails_on_shadowed_duplicate",
        "older_fails_on_later_entry",
        "older_fails_on_its_last_entry",
        "older_fails_on_duplicate_newer_steps_onto",
        "older_fails_on_shadowed_first_entry"
    )]
    name: &str,
    #[values(false, true)] with_filler_sources: bool,
) {
    let case = error_case(name);
    let (newer, older) = case.sources();
    // Optionally surround the pair with empty sources and a source of keys past all others, so
    // the failure happens inside a bigger heap.
    let mut sources = vec![Box::new(newer), Box::new(older)];
    if with_filler_sources {
        sources.insert(0, Box::new(mock("")));
        sources.insert(2, Box::new(mock("zz=filler")));
        sources.push(Box::new(mock("")));
    }
    let merger = format!(
        "MergeIterator ({} sources)",
        if with_filler_sources { 5 } else { 2 }
    );
    // The filler's "zz" sorts after every key of the pair, so the expected prefixes do not change.
    case.check(Ok(MergeIterator::create(sources)), &merger, BOOK_ERRORS);
}

#[rstest]
fn two_merge_iterator_error_propagates_and_stays_failed(
    #[values(
        "newer_fails_on_first_entry",
        "newer_fails_on_later_entry",
        "newer_fails_on_entry_shared_with_older",
        "older_fails_on_first_entry",
        "older_fails_on_shadowed_duplicate",
        "older_fails_on_later_entry",
        "older_fails_on_its_last_entry",
        "older_fails_on_duplicate_newer_steps_onto",
        "older_fails_on_shadowed_first_entry"
    )]
    name: &str,
) {
    let case = error_case(name);
    let (newer, older) = case.sources();
    case.check(
        TwoMergeIterator::create(newer, older),
        "TwoMergeIterator(a = newer, b = older)",
        BOOK_ERRORS,
    );
}

/// A failure deep inside a nested merge reaches the outer cursor, which then stays invalid.
#[test]
fn error_from_nested_merge_reaches_the_outer_iterator() {
    let failing_source = MockIterator::failing_at(&parse("b=b2 d=d2 f=f2"), 1);
    let inner = MergeIterator::create(vec![Box::new(mock("a=a1 e=e1")), Box::new(failing_source)]);
    let outer = TwoMergeIterator::create(full_scan(&memtable_with("c=c0")), inner);
    let scenario = "TwoMergeIterator(memtable [c], MergeIterator([a, e], [b, d (fails), f]))";
    let mut iter = ok(outer, scenario, BOOK_ERRORS);
    let (seen, error) = walk_until_error(&mut iter, scenario, BOOK_ERRORS);
    let expected = parse("a=a1 b=b2 c=c0 d=d2");
    if seen != expected {
        fail_entries(
            &format!("{scenario}: entries returned before the error"),
            &expected,
            &seen,
            BOOK_ERRORS,
        );
    }
    check_injected_error(error, &seen, scenario, BOOK_ERRORS);
    check_eq(
        iter.is_valid(),
        false,
        &format!("{scenario}: is_valid() after the error"),
        BOOK_ERRORS,
    );
}

/// The cursor contract on a fresh merge: positioned on the first entry at once, no start call.
#[test]
fn merged_cursors_are_positioned_on_creation() {
    let memtable = memtable_with("m=m0 q=~");
    let merge = MergeIterator::create(vec![
        Box::new(memtable.scan(Bound::Excluded(b"m"), Bound::Unbounded)),
        Box::new(full_scan(&memtable_with("k=k1 q=q1"))),
    ]);
    let scenario =
        "MergeIterator(scan(Excluded(m).., [m, q=<tombstone>]), [k, q]) right after create";
    check_eq(
        merge.is_valid(),
        true,
        &format!("{scenario}: is_valid()"),
        BOOK_CURSOR,
    );
    check_eq(
        show(merge.key()),
        show(b"k"),
        &format!("{scenario}: key()"),
        BOOK_CURSOR,
    );
    check_eq(
        show_value(merge.value()),
        show(b"k1"),
        &format!("{scenario}: value()"),
        BOOK_CURSOR,
    );
    let mut two = ok(
        TwoMergeIterator::create(merge, mock("a=a2 q=q2")),
        scenario,
        BOOK_CURSOR,
    );
    check_eq(
        show(two.key()),
        show(b"a"),
        "TwoMergeIterator(that merge, [a, q]) right after create: key()",
        BOOK_CURSOR,
    );
    check_iter(
        &mut two,
        &parse("a=a2 k=k1 q=~"),
        "TwoMergeIterator over a MergeIterator of memtable scans: the newest q is a tombstone",
        BOOK_CURSOR,
    );
}
