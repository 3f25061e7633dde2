//! The shared harness of the graded tests.
//!
//! The crate under test is picked by a cargo feature and re-exported as [`lsm`], so the same test
//! files grade the reference (`--features reference`, the default) or the student's starter
//! (`--no-default-features --features starter`).
//!
//! The [`stress`] module holds the stress checks of the `stress_dayN` targets (run by
//! `cargo x grade --stress`).
//!
//! Every check here fails with a message in one shape:
//! `[scenario] expected …, got … (book: chapter.md#section)`, with keys shown as escaped bytes.

#[cfg(all(feature = "reference", feature = "starter"))]
compile_error!(
    "features `reference` and `starter` are both on: pick one. To grade the starter run \
     `cargo test -p tests-day1-to-day7 --no-default-features --features starter` (or `cargo x grade`)."
);
#[cfg(not(any(feature = "reference", feature = "starter")))]
compile_error!(
    "no crate under test: enable feature `reference` (the default) or `starter`, e.g. \
     `cargo test -p tests-day1-to-day7 --no-default-features --features starter`."
);

#[cfg(feature = "reference")]
pub use mini_lsm_reference as lsm;
#[cfg(all(feature = "starter", not(feature = "reference")))]
pub use mini_lsm_starter as lsm;

pub mod crash_writer;
pub mod stress;

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::ops::Bound;

use bytes::Bytes;
use lsm::error::{Error, Result};
use lsm::iterators::StorageIterator;

/// Bytes longer than this are shown cut (see [`show`]), so that a failure message stays short.
pub const SHOWN_BYTES: usize = 64;

/// Shows bytes as an escaped ASCII string in quotes: `"key\x00\xff"`. Past [`SHOWN_BYTES`]
/// bytes, the middle is cut: `"first 40 bytes…last 8" (300 bytes, #fingerprint)`. The
/// fingerprint (a hash of every byte) keeps two different long keys from looking equal, so tests
/// may compare what `show` returns.
pub fn show(bytes: &[u8]) -> String {
    if bytes.len() <= SHOWN_BYTES {
        return format!("\"{}\"", bytes.escape_ascii());
    }
    let (head, tail) = (&bytes[..40], &bytes[bytes.len() - 8..]);
    format!(
        "\"{}…{}\" ({} bytes, #{:016x})",
        head.escape_ascii(),
        tail.escape_ascii(),
        bytes.len(),
        fingerprint(bytes)
    )
}

/// A 64-bit FNV-1a hash of `bytes`.
fn fingerprint(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Shows an optional value: a quoted string, or `<tombstone>` for `None`.
pub fn show_value(value: Option<&[u8]>) -> String {
    value.map_or_else(|| "<tombstone>".to_string(), show)
}

/// Shows a list of entries compactly, for failure messages.
pub fn show_entries(entries: &[(Vec<u8>, Option<Vec<u8>>)]) -> String {
    let shown: Vec<String> = entries
        .iter()
        .map(|(k, v)| format!("{}={}", show(k), show_value(v.as_deref())))
        .collect();
    format!("[{}]", shown.join(", "))
}

/// Fails the test with the harness's message shape.
#[track_caller]
pub fn fail(scenario: &str, expected: impl Debug, actual: impl Debug, book: &str) -> ! {
    panic!(
        "{}",
        failure_message(
            scenario,
            &format!("{expected:?}"),
            &format!("{actual:?}"),
            book
        )
    )
}

/// `[scenario] expected …, got … (book: …)` on the first line, the verdict a reader needs
/// first; what any of the three holds after its first line (a tree-shape dump, say) follows.
pub fn failure_message(scenario: &str, expected: &str, actual: &str, book: &str) -> String {
    let (scenario, scenario_rest) = scenario.split_once('\n').unwrap_or((scenario, ""));
    let (expected, expected_rest) = expected.split_once('\n').unwrap_or((expected, ""));
    let (actual, actual_rest) = actual.split_once('\n').unwrap_or((actual, ""));
    let mut message = format!("[{scenario}] expected {expected}, got {actual} (book: {book})");
    for (label, rest) in [
        ("", scenario_rest),
        ("expected, continued:\n", expected_rest),
        ("got, continued:\n", actual_rest),
    ] {
        if !rest.trim().is_empty() {
            message.push('\n');
            message.push_str(label);
            message.push_str(rest.trim_end());
        }
    }
    message
}

/// Fails with what differs between two entry lists: both in full when they are short, else
/// their lengths, the first difference, and the keys missing, extra, or with another value.
#[track_caller]
pub fn fail_entries(scenario: &str, expected: &Entries, actual: &Entries, book: &str) -> ! {
    let (expected, actual) = entries_mismatch(expected, actual);
    fail(scenario, Raw(expected), Raw(actual), book)
}

/// Lists of at most this many entries are shown whole in a failure message.
const SHOWN_ENTRIES: usize = 6;

/// At most this many keys are named per kind of difference.
const NAMED_KEYS: usize = 3;

/// What [`fail_entries`] says was expected and what it got.
pub fn entries_mismatch(expected: &Entries, actual: &Entries) -> (String, String) {
    if expected.len() <= SHOWN_ENTRIES && actual.len() <= SHOWN_ENTRIES {
        return (show_entries(expected), show_entries(actual));
    }
    let show_entry = |entry: Option<&(Vec<u8>, Option<Vec<u8>>)>| {
        entry.map_or("the end".to_string(), |(k, v)| {
            format!("{}={}", show(k), show_value(v.as_deref()))
        })
    };
    let first = expected
        .iter()
        .zip(actual)
        .position(|(e, a)| e != a)
        .unwrap_or(expected.len().min(actual.len()));
    let expected_map: BTreeMap<&[u8], Option<&[u8]>> = expected
        .iter()
        .map(|(k, v)| (k.as_slice(), v.as_deref()))
        .collect();
    let actual_map: BTreeMap<&[u8], Option<&[u8]>> = actual
        .iter()
        .map(|(k, v)| (k.as_slice(), v.as_deref()))
        .collect();
    let missing: Vec<&[u8]> = expected_map
        .keys()
        .filter(|k| !actual_map.contains_key(*k))
        .copied()
        .collect();
    let extra: Vec<&[u8]> = actual_map
        .keys()
        .filter(|k| !expected_map.contains_key(*k))
        .copied()
        .collect();
    let changed: Vec<&[u8]> = expected_map
        .iter()
        .filter(|(k, v)| actual_map.get(*k).is_some_and(|a| a != *v))
        .map(|(k, _)| *k)
        .collect();
    let mut summary = format!(
        "{} entries; first difference at entry #{first}: expected {}, got {}",
        actual.len(),
        show_entry(expected.get(first)),
        show_entry(actual.get(first)),
    );
    for (what, keys) in [
        ("missing", missing),
        ("extra", extra),
        ("other value", changed),
    ] {
        if keys.is_empty() {
            continue;
        }
        let mut shown: Vec<String> = keys.iter().take(NAMED_KEYS).map(|k| show(k)).collect();
        if keys.len() > NAMED_KEYS {
            shown.push(format!("+{} more", keys.len() - NAMED_KEYS));
        }
        summary.push_str(&format!("; {what} {}", shown.join(", ")));
    }
    (format!("{} entries", expected.len()), summary)
}

/// Asserts `actual == expected` with the harness's message shape.
#[track_caller]
pub fn check_eq<T: PartialEq + Debug>(actual: T, expected: T, scenario: &str, book: &str) {
    if actual != expected {
        fail(scenario, expected, actual, book);
    }
}

/// Wraps a `Bytes`/byte-slice result so that `Debug` prints escaped text.
#[derive(PartialEq, Eq, Clone)]
pub struct Shown(pub Option<Vec<u8>>);

impl Debug for Shown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Some(bytes) => write!(f, "Some({})", show(bytes)),
            None => write!(f, "None"),
        }
    }
}

/// Asserts an engine `get` result with escaped bytes in the message.
#[track_caller]
pub fn check_get(actual: Option<Bytes>, expected: Option<&[u8]>, scenario: &str, book: &str) {
    let actual = Shown(actual.map(|b| b.to_vec()));
    let expected = Shown(expected.map(<[u8]>::to_vec));
    check_eq(actual, expected, scenario, book);
}

/// Unwraps a `Result`, failing with the scenario and the error when it is an `Err`.
#[track_caller]
pub fn ok<T>(result: Result<T>, scenario: &str, book: &str) -> T {
    match result {
        Ok(value) => value,
        Err(e) => fail(scenario, "Ok(..)", format!("Err({e})"), book),
    }
}

/// An owned entry list for expectations: `(key, Some(value))` or `(key, None)` for a tombstone.
pub type Entries = Vec<(Vec<u8>, Option<Vec<u8>>)>;

/// Builds an expectation from string pairs; a value of `None` is a tombstone.
pub fn entries(pairs: &[(&str, Option<&str>)]) -> Entries {
    pairs
        .iter()
        .map(|(k, v)| (k.as_bytes().to_vec(), v.map(|v| v.as_bytes().to_vec())))
        .collect()
}

/// Walks `iter` to its end while checking the cursor contract (see `StorageIterator`'s doc):
/// keys strictly increase, `next` only on a valid cursor, and the cursor stays invalid at the
/// end. Returns what it saw; an error from `next` is returned with the entries seen before it.
pub fn drain<I: StorageIterator>(iter: &mut I, scenario: &str, book: &str) -> Result<Entries> {
    let mut seen: Entries = Vec::new();
    while iter.is_valid() {
        let key = iter.key().to_vec();
        if let Some((last, _)) = seen.last()
            && key <= *last
        {
            // No engine key is empty: an empty one is a cursor read past its last entry.
            let got = if key.is_empty() {
                "\"\" (an empty key: is_valid() was still true past the last entry)".to_string()
            } else {
                show(&key)
            };
            fail(
                &format!("{scenario}: keys must strictly increase"),
                format!("a key after {}", show(last)),
                got,
                book,
            );
        }
        seen.push((key, iter.value().map(<[u8]>::to_vec)));
        if seen.len() > 10_000_000 {
            fail(
                scenario,
                "the iterator to end",
                "more than 10 million entries",
                book,
            );
        }
        iter.next()?;
    }
    Ok(seen)
}

/// Checks that `iter` yields exactly `expected` (keys and values, tombstones as `None`),
/// following the cursor contract, and is invalid afterwards.
#[track_caller]
pub fn check_iter<I: StorageIterator>(
    iter: &mut I,
    expected: &Entries,
    scenario: &str,
    book: &str,
) {
    let seen = match drain(iter, scenario, book) {
        Ok(seen) => seen,
        Err(e) => fail(
            scenario,
            show_entries(expected),
            format!("Err({e}) while iterating"),
            book,
        ),
    };
    if &seen != expected {
        fail_entries(scenario, expected, &seen, book);
    }
    if iter.is_valid() {
        fail(
            &format!("{scenario}: after the last entry"),
            "is_valid() == false",
            "true",
            book,
        );
    }
}

/// A string printed without quotes by `Debug`.
pub struct Raw(pub String);

impl Debug for Raw {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a combinator calls a mock child that is no longer valid, and where the contract is.
const MOCK_MISUSE: &str = "usually a combinator reads or advances a child without checking \
     its is_valid() first, e.g. once that child reached its end or returned an error \
     (book: day3-memtable-and-merging.md#the-cursor-contract)";

/// A scripted iterator for testing combinators: yields given entries in order and can fail at a
/// chosen step.
pub struct MockIterator {
    entries: Vec<(Bytes, Option<Bytes>)>,
    index: usize,
    /// `next()` from entry `fail_at` returns an error.
    fail_at: Option<usize>,
    failed: bool,
}

impl MockIterator {
    /// A mock yielding `entries` (which must be in strictly increasing key order).
    pub fn new(entries: &Entries) -> Self {
        let entries = entries
            .iter()
            .map(|(k, v)| {
                (
                    Bytes::copy_from_slice(k),
                    v.as_deref().map(Bytes::copy_from_slice),
                )
            })
            .collect();
        MockIterator {
            entries,
            index: 0,
            fail_at: None,
            failed: false,
        }
    }

    /// A mock whose `next()` fails when called on entry `index` (0-based).
    pub fn failing_at(entries: &Entries, index: usize) -> Self {
        MockIterator {
            fail_at: Some(index),
            ..Self::new(entries)
        }
    }
}

impl StorageIterator for MockIterator {
    fn key(&self) -> &[u8] {
        assert!(
            self.is_valid(),
            "MockIterator::key called on an invalid iterator (contract: REQUIRES is_valid()): \
             {MOCK_MISUSE}"
        );
        &self.entries[self.index].0
    }

    fn value(&self) -> Option<&[u8]> {
        assert!(
            self.is_valid(),
            "MockIterator::value called on an invalid iterator (contract: REQUIRES is_valid()): \
             {MOCK_MISUSE}"
        );
        self.entries[self.index].1.as_deref()
    }

    fn is_valid(&self) -> bool {
        !self.failed && self.index < self.entries.len()
    }

    fn next(&mut self) -> Result<()> {
        assert!(
            self.is_valid(),
            "MockIterator::next called on an invalid iterator (contract: REQUIRES is_valid()): \
             {MOCK_MISUSE}"
        );
        if self.fail_at == Some(self.index) {
            self.failed = true;
            return Err(Error::Io {
                path: "mock".into(),
                source: std::io::Error::other("injected failure"),
            });
        }
        self.index += 1;
        Ok(())
    }
}

/// `key_00042`: fixed-width keys that sort like their numbers.
pub fn key(i: usize) -> Vec<u8> {
    format!("key_{i:05}").into_bytes()
}

/// `value_00042_<gen>`: a value that also says which write produced it.
pub fn value(i: usize, generation: usize) -> Vec<u8> {
    format!("value_{i:05}_{generation}").into_bytes()
}

/// A small deterministic random number generator (SplitMix64), so tests need no `rand` crate
/// and every run sees the same numbers.
pub struct Rng(u64);

impl Rng {
    /// A generator from a fixed seed.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// The environment variable in which `cargo x grade` passes its per-test timeout, in seconds.
pub const GRADE_TIMEOUT_VAR: &str = "MINI_LSM_GRADE_TIMEOUT_SECS";

/// How long a watchdog lets a workload run before failing it as a deadlock: 20 s, and under
/// `cargo x grade` 2 s less than its per-test timeout (at least 1 s), so that the student reads
/// the watchdog's message rather than a bare timeout.
pub fn watchdog_limit() -> std::time::Duration {
    let grader = std::env::var(GRADE_TIMEOUT_VAR)
        .ok()
        .and_then(|secs| secs.parse::<u64>().ok());
    let secs = grader.map_or(20, |secs| secs.saturating_sub(2).max(1));
    std::time::Duration::from_secs(secs)
}

/// Runs `work` on its own thread and fails if it has not finished within [`watchdog_limit`]
/// (a timeout, not a sleep: a healthy run returns as soon as the work is done; under
/// `cargo x grade` it fires before the grader's own timeout), citing `book`. A panic in `work`
/// is re-raised.
pub fn with_watchdog(book: &str, work: impl FnOnce() + Send + 'static) {
    use std::sync::mpsc::{RecvTimeoutError, channel};
    let (done, finished) = channel();
    let worker = std::thread::spawn(move || {
        work();
        let _ = done.send(());
    });
    let limit = watchdog_limit();
    if let Err(RecvTimeoutError::Timeout) = finished.recv_timeout(limit) {
        fail(
            "deadlock: the concurrent workload did not finish",
            format!("the workload to finish within {} s", limit.as_secs()),
            format!(
                "still running after {} s: look for a lock held while taking another one in \
                 another order, or a thread waiting for work no thread will do",
                limit.as_secs()
            ),
            book,
        );
    }
    if let Err(panic) = worker.join() {
        std::panic::resume_unwind(panic);
    }
}

/// An entry read from an SST file: its key, its value (`None` for a tombstone) and the SST's id.
pub type SstEntry = (Vec<u8>, Option<Vec<u8>>, usize);

/// Every entry of every SST in `shape`, read from its file in `dir` (`{id:05}.sst`), in tree
/// order: L0 newest first, then each level in key order. A file that cannot be read fails
/// `scenario`.
pub fn sst_entries_on_disk(
    dir: &std::path::Path,
    shape: &lsm::TreeShape,
    scenario: &str,
    book: &str,
) -> Vec<SstEntry> {
    use lsm::table::{FileObject, SsTable, SsTableIterator};
    let levels = shape.levels.iter().flat_map(|level| &level.ssts);
    let mut entries = Vec::new();
    for sst in shape.l0.iter().chain(levels) {
        let path = dir.join(format!("{:05}.sst", sst.id));
        let s = format!("{scenario}: read SST {}", sst.id);
        let file = ok(FileObject::open(&path), &s, book);
        let table = std::sync::Arc::new(ok(SsTable::open(sst.id, None, file), &s, book));
        let mut iter = ok(SsTableIterator::create_and_seek_to_first(table), &s, book);
        while iter.is_valid() {
            entries.push((
                iter.key().to_vec(),
                iter.value().map(<[u8]>::to_vec),
                sst.id,
            ));
            ok(iter.next(), &s, book);
        }
    }
    entries
}

/// How many versions of `user_key` the SST files of `db`'s tree hold (Part 2, day 8: every key
/// stored there is a versioned key).
pub fn versions_on_disk(db: &lsm::MiniLsm, user_key: &[u8], scenario: &str, book: &str) -> usize {
    sst_entries_on_disk(db.path(), &db.shape(), scenario, book)
        .iter()
        .filter(|(key, _, _)| {
            ok(lsm::mvcc::user_key_of(key), scenario, book).as_slice() == user_key
        })
        .count()
}

/// A temporary directory, removed when dropped.
pub fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("create a temporary directory")
}

/// Engine options for a day-`day` test whose tree shape is controlled by the test alone: only
/// the days `..=day` are switched on, memtables never freeze by size, and no background thread
/// flushes or compacts on its own. Tests change fields from here.
pub fn options_for_day(day: u8) -> lsm::LsmOptions {
    lsm::LsmOptions {
        memtable_size: 1 << 30,
        max_immutable_memtables: usize::MAX,
        background_compaction: false,
        ..lsm::LsmOptions::for_day(day)
    }
}

/// Checks the leveled-tree invariant on a shape snapshot: within every level below L0, SSTs are
/// in key order and their key ranges do not overlap (each SST's first key is at most its last).
#[track_caller]
pub fn check_levels_do_not_overlap(shape: &lsm::TreeShape, scenario: &str, book: &str) {
    for level in &shape.levels {
        for sst in &level.ssts {
            if sst.first_key > sst.last_key {
                fail(
                    &format!("{scenario}: L{} SST {} key range", level.level, sst.id),
                    "first_key <= last_key",
                    format!("{} > {}", show(&sst.first_key), show(&sst.last_key)),
                    book,
                );
            }
        }
        for pair in level.ssts.windows(2) {
            if pair[0].last_key >= pair[1].first_key {
                fail(
                    &format!(
                        "{scenario}: L{} must hold disjoint SSTs in key order",
                        level.level
                    ),
                    format!("SST {} to end before SST {} starts", pair[0].id, pair[1].id),
                    format!(
                        "SST {} ends at {}, SST {} starts at {}\n{shape}",
                        pair[0].id,
                        show(&pair[0].last_key),
                        pair[1].id,
                        show(&pair[1].first_key)
                    ),
                    book,
                );
            }
        }
    }
}

/// Whether `key` lies inside `(lower, upper)`, for models of scans. Written out by hand because
/// `BTreeMap::range` panics on the inverted and empty ranges the tests deliberately use.
pub fn in_range(key: &[u8], lower: Bound<&[u8]>, upper: Bound<&[u8]>) -> bool {
    let above_lower = match lower {
        Bound::Included(l) => key >= l,
        Bound::Excluded(l) => key > l,
        Bound::Unbounded => true,
    };
    let below_upper = match upper {
        Bound::Included(u) => key <= u,
        Bound::Excluded(u) => key < u,
        Bound::Unbounded => true,
    };
    above_lower && below_upper
}

/// A model of the engine's contents for the engine-level tests: every live key and its value.
pub type Model = BTreeMap<Vec<u8>, Vec<u8>>;

/// The model's entries inside `(lower, upper)`, as a scan should return them (an inverted range
/// gives none, and no panic).
pub fn model_range(model: &Model, lower: Bound<&[u8]>, upper: Bound<&[u8]>) -> Entries {
    model
        .iter()
        .filter(|(k, _)| in_range(k, lower, upper))
        .map(|(k, v)| (k.clone(), Some(v.clone())))
        .collect()
}

/// `db.put(key, value)`, and the same write in `model` (`book`: where a failure points to).
pub fn model_put(db: &lsm::MiniLsm, model: &mut Model, key: Vec<u8>, value: Vec<u8>, book: &str) {
    ok(
        db.put(&key, &value),
        &format!("put({}, {})", show(&key), show(&value)),
        book,
    );
    model.insert(key, value);
}

/// `db.delete(key)`, and the same in `model`.
pub fn model_delete(db: &lsm::MiniLsm, model: &mut Model, key: Vec<u8>, book: &str) {
    ok(db.delete(&key), &format!("delete({})", show(&key)), book);
    model.remove(&key);
}

/// `value(i, generation)` padded with dots to `len` bytes (or longer if it already is).
pub fn long_value(i: usize, generation: usize, len: usize) -> Vec<u8> {
    let mut v = value(i, generation);
    if v.len() < len {
        v.resize(len, b'.');
    }
    v
}

/// Checks `get` of every key `0..keyspace`, then a full scan, against the model.
#[track_caller]
pub fn check_gets_and_full_scan(
    db: &lsm::MiniLsm,
    model: &Model,
    keyspace: usize,
    scenario: &str,
    book: &str,
) {
    for i in 0..keyspace {
        let k = key(i);
        let s = format!("{scenario}: get({})", show(&k));
        check_get(
            ok(db.get(&k), &s, book),
            model.get(&k).map(Vec::as_slice),
            &s,
            book,
        );
    }
    let s = format!("{scenario}: scan(Unbounded, Unbounded)");
    let mut scan = ok(db.scan(Bound::Unbounded, Bound::Unbounded), &s, book);
    let all = model_range(model, Bound::Unbounded, Bound::Unbounded);
    check_iter(&mut scan, &all, &s, book);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_bytes_are_cut_but_stay_distinct() {
        assert_eq!(show(b"k\x00"), "\"k\\x00\"");
        let long = vec![b'a'; 300];
        let mut other = long.clone();
        other[150] = b'b';
        let shown = show(&long);
        assert!(shown.starts_with(&format!("\"{}…aaaaaaaa\" (300 bytes, #", "a".repeat(40))));
        assert!(shown.len() < 100, "{shown}");
        assert_ne!(shown, show(&other), "a difference in the cut middle");
    }

    #[test]
    fn the_verdict_comes_first_and_the_dumps_after() {
        let message = failure_message(
            "after flush\nL0: 1 2",
            "3",
            "\"x\"",
            "day4-engine.md#the-design",
        );
        assert_eq!(
            message,
            "[after flush] expected 3, got \"x\" (book: day4-engine.md#the-design)\nL0: 1 2"
        );
        let message = failure_message("s", "a", "b\ntree", "b.md");
        assert_eq!(
            message,
            "[s] expected a, got b (book: b.md)\ngot, continued:\ntree"
        );
    }

    #[test]
    fn long_entry_lists_are_compared_not_dumped() {
        let expected: Entries = (0..300).map(|i| (key(i), Some(value(i, 0)))).collect();
        let mut actual = expected.clone();
        actual.remove(17);
        actual[40].1 = None;
        actual.push((b"zz".to_vec(), Some(b"v".to_vec())));
        let (e, a) = entries_mismatch(&expected, &actual);
        assert_eq!(e, "300 entries");
        assert_eq!(
            a,
            "300 entries; first difference at entry #17: expected \"key_00017\"=\"value_00017_0\", \
             got \"key_00018\"=\"value_00018_0\"; missing \"key_00017\"; extra \"zz\"; \
             other value \"key_00041\""
        );
        let mut longer = expected.clone();
        longer.push((b"zz".to_vec(), None));
        assert_eq!(
            entries_mismatch(&expected, &longer).1,
            "301 entries; first difference at entry #300: expected the end, got \"zz\"=<tombstone>; \
             extra \"zz\"",
            "no word on kinds of difference there are none of"
        );
        let short = entries(&[("a", Some("1"))]);
        assert_eq!(
            entries_mismatch(&short, &Vec::new()),
            ("[\"a\"=\"1\"]".to_string(), "[]".to_string())
        );
    }
}
