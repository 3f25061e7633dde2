//! Day 7 graded tests: bloom filters and key prefix compression (book chapter
//! `day7-bloom-filters-and-compression.md`).
//!
//! Covers:
//! - `Bloom::build` / `Bloom::may_contain`: no false negatives over 10 000 seeded keys and over
//!   keys that share long prefixes, differ only in their last byte or only in their length (which
//!   catches a filter built from one byte range of the key and probed with another); a measured
//!   false-positive rate within 1.5× of `0.6185^bits` for 5, 8, 10 and 14 bits per key; the
//!   filter's size (`num_bits ≈ keys × bits`, `num_probes = round(bits × ln 2)` clamped to
//!   1 ..= 30); no false negatives when `keys × bits` is not a multiple of 8 (the array rounded up
//!   to whole bytes); `encode` / `decode`.
//! - Bloom filters in SSTs: `SsTableBuilder::with_bloom_filter` writes a filter that
//!   `SsTable::may_contain` consults, with no false negatives before and after reopening the file,
//!   and few false positives; a table built without a filter has none and may contain anything;
//!   a flipped byte in the bloom section (found through the footer) is `Error::Corruption` naming
//!   the file, never a panic.
//! - The engine: `get` of absent keys inside the key ranges of several overlapping L0 SSTs skips
//!   them (`stats().ssts_skipped_by_bloom`) and reads far fewer blocks than the same engine without
//!   filters; every present key is still found, also after reopening.
//! - Key prefix compression: a block and an SST of keys sharing a long prefix are at least 2×
//!   smaller than the same entries stored with the whole key (the day-1 layout with `overlap = 0`);
//!   compressed blocks round-trip, iterate and seek exactly (a first key that is a prefix of later
//!   keys, keys shorter than the first key, binary keys, partly shared prefixes, keys of
//!   `MAX_KEY_LEN`); a block whose first entry claims an overlap, or whose entry claims more
//!   overlap than the first key has bytes, is `Error::Corruption`.
//! - Everything still works: a seeded random workload of put / delete / get / scan with flushes,
//!   compactions and reopens, bloom filters and compression on, against a `BTreeMap` model.
//!
//! The corruption tests rely on the day-7 block layout (entry 0 starts at byte 0 with `kind: u8`
//! then `overlap: u16` little-endian) and on the SST footer (the last 32 bytes: `meta_offset: u64`,
//! `meta_len: u32`, `bloom_offset: u64`, `bloom_len: u32`, `magic: u32`, `crc: u32`).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use rstest::rstest;
use tests_day1_to_day7::lsm::block::{Block, BlockBuilder, BlockIterator, MAX_KEY_LEN};
use tests_day1_to_day7::lsm::table::bloom::{Bloom, key_hash};
use tests_day1_to_day7::lsm::table::{FileObject, SsTable, SsTableBuilder};
use tests_day1_to_day7::lsm::{
    CompactionOptions, Error, LeveledCompactionOptions, LsmOptions, MiniLsm,
};
use tests_day1_to_day7::*;

const BOOK_BLOOM: &str = "day7-bloom-filters-and-compression.md#bloom-filters";
const BOOK_BITS: &str = "day7-bloom-filters-and-compression.md#choosing-bits-and-probes";
const BOOK_HASH: &str = "day7-bloom-filters-and-compression.md#the-hash-on-disk";
const BOOK_SST_BLOOM: &str = "day7-bloom-filters-and-compression.md#bloom-filters-in-the-sst";
const BOOK_SKIP: &str = "day7-bloom-filters-and-compression.md#skipping-ssts-on-get";
const BOOK_PREFIX: &str = "day7-bloom-filters-and-compression.md#key-prefix-compression";
const BOOK_STILL: &str = "day7-bloom-filters-and-compression.md#everything-still-works";

/// Keys a filter is built over in the false-positive and size tests.
const FILTER_KEYS: usize = 10_000;
/// Absent keys probed to measure a false-positive rate.
const ABSENT_PROBES: usize = 20_000;
/// How far above the theoretical false-positive rate a measured one may be.
const FP_SLACK: f64 = 1.5;
/// The shared prefix of the compression tests' keys (41 bytes).
const LONG_PREFIX: &str = "user/profile/settings/notifications/item-";
/// A block size no test's block comes close to.
const ROOMY: usize = 1 << 20;
/// The footer at the end of every SST (see the module docs).
const FOOTER_LEN: usize = 32;

// ---------------------------------------------------------------------------------------------
// Helpers: keys and filters
// ---------------------------------------------------------------------------------------------

/// `n` distinct random keys from `seed`, all starting with `tag` (so two sets with different
/// tags never share a key).
fn random_keys(tag: &str, seed: u64, n: usize) -> Vec<Vec<u8>> {
    let mut rng = Rng::new(seed);
    let keys: BTreeSet<Vec<u8>> = std::iter::repeat_with(|| {
        let len = 4 + rng.below(28);
        let mut k = tag.as_bytes().to_vec();
        k.extend((0..len).map(|_| rng.below(256) as u8));
        k
    })
    .take(n)
    .collect();
    keys.into_iter().collect()
}

/// `LONG_PREFIX` followed by `i` as four digits: keys that share 41 leading bytes.
fn prefixed_key(i: usize) -> Vec<u8> {
    format!("{LONG_PREFIX}{i:04}").into_bytes()
}

/// Keys that catch a filter hashing a different byte range at build and at probe time (say the
/// prefix-compressed rest of the key, or all but the last byte): 300 keys sharing a 41-byte
/// prefix, 256 keys differing only in their last byte (every byte value), and keys that differ
/// only in their length (`a`, `aa`, …). Sorted and distinct.
fn tricky_keys() -> Vec<Vec<u8>> {
    let mut keys = BTreeSet::new();
    keys.extend((0..300).map(prefixed_key));
    keys.extend((0..=255u8).map(|b| {
        let mut k = b"shared-until-the-last-byte:".to_vec();
        k.push(b);
        k
    }));
    keys.extend((1..=40).map(|n| vec![b'a'; n]));
    keys.extend((1..=40).map(|n| vec![0xff; n]));
    keys.into_iter().collect()
}

/// The false-positive rate of `0.6185^bits` that `bits` bits per key should give.
fn target_fp_rate(bits: usize) -> f64 {
    0.6185f64.powi(bits as i32)
}

/// A filter over `keys` with `bits` bits per key.
fn bloom_over(keys: &[Vec<u8>], bits: usize) -> Bloom {
    let hashes: Vec<u64> = keys.iter().map(|k| key_hash(k)).collect();
    Bloom::build(&hashes, bits)
}

/// Fails unless `may_contain` says yes for every key in `keys`.
#[track_caller]
fn check_no_false_negatives(
    may_contain: impl Fn(&[u8]) -> bool,
    keys: &[Vec<u8>],
    scenario: &str,
    book: &str,
) {
    let missed: Vec<String> = keys
        .iter()
        .filter(|k| !may_contain(k))
        .map(|k| show(k))
        .collect();
    if !missed.is_empty() {
        fail(
            &format!(
                "{scenario}: may_contain of every key the filter was built over ({} of {} \
                 missed; first ones shown)",
                missed.len(),
                keys.len()
            ),
            "true for every key (a bloom filter has no false negatives)",
            Raw(missed[..missed.len().min(5)].join(", ")),
            book,
        );
    }
}

/// The share of `absent` for which `may_contain` says yes.
fn false_positive_rate(may_contain: impl Fn(&[u8]) -> bool, absent: &[Vec<u8>]) -> f64 {
    let positives = absent.iter().filter(|k| may_contain(k)).count();
    positives as f64 / absent.len() as f64
}

/// Fails unless a measured false-positive rate is within `FP_SLACK` of `bits`'s target.
#[track_caller]
fn check_fp_rate(measured: f64, bits: usize, scenario: &str, book: &str) {
    let bound = FP_SLACK * target_fp_rate(bits);
    if measured > bound {
        fail(
            &format!(
                "{scenario}: false-positive rate over {ABSENT_PROBES} absent keys with {bits} \
                 bits per key (target 0.6185^{bits} = {:.5})",
                target_fp_rate(bits)
            ),
            format!("at most {bound:.5}"),
            format!("{measured:.5}"),
            book,
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers: SSTs and files
// ---------------------------------------------------------------------------------------------

/// Builds an SST of `keys` (each key's value is its index) at `dir/name` with a filter of `bits`
/// bits per key (0 for none).
fn build_sst(dir: &Path, name: &str, keys: &[Vec<u8>], block_size: usize, bits: usize) -> SsTable {
    let mut builder = SsTableBuilder::new(block_size).with_bloom_filter(bits);
    for (i, k) in keys.iter().enumerate() {
        builder.add(k, Some(format!("v{i}").as_bytes()));
    }
    let scenario = format!(
        "build an SST of {} keys, {bits} bits per key, at {name}",
        keys.len()
    );
    ok(
        builder.build(1, None, &dir.join(name)),
        &scenario,
        BOOK_SST_BLOOM,
    )
}

/// Opens the SST file at `path`, turning a panic into a test failure.
fn open_sst(path: &Path, scenario: &str) -> lsm::Result<SsTable> {
    let opened = catch_unwind(AssertUnwindSafe(|| {
        FileObject::open(path).and_then(|file| SsTable::open(1, None, file))
    }));
    opened.unwrap_or_else(|_| {
        fail(
            &format!("{scenario}: SsTable::open of {}", path.display()),
            "a Result, never a panic",
            "a panic",
            BOOK_SST_BLOOM,
        )
    })
}

/// Reads a little-endian integer of `N` bytes at `at`.
fn read_le<const N: usize>(raw: &[u8], at: usize) -> u64 {
    let mut bytes = [0u8; 8];
    bytes[..N].copy_from_slice(&raw[at..at + N]);
    u64::from_le_bytes(bytes)
}

/// The bloom section's `(offset, len)` from the footer of an SST file's bytes.
fn bloom_section(raw: &[u8]) -> (usize, usize) {
    let footer = raw.len() - FOOTER_LEN;
    // The footer: meta_offset u64, meta_len u32, then bloom_offset u64 and bloom_len u32.
    (
        read_le::<8>(raw, footer + 12) as usize,
        read_le::<4>(raw, footer + 20) as usize,
    )
}

/// Reads a whole file.
fn read_file(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| fail("read an SST file", "its bytes", e, BOOK_SST_BLOOM))
}

// ---------------------------------------------------------------------------------------------
// Helpers: blocks
// ---------------------------------------------------------------------------------------------

/// Builds a block of `entries` (in key order) with block size `ROOMY`, failing if any is refused.
#[track_caller]
fn build_block(entries: &Entries, scenario: &str) -> Block {
    let mut builder = BlockBuilder::new(ROOMY);
    for (k, v) in entries {
        if !builder.add(k, v.as_deref()) {
            fail(
                &format!("{scenario}: add {} to a {ROOMY}-byte block", show(k)),
                "true",
                "false",
                BOOK_PREFIX,
            );
        }
    }
    builder.build()
}

/// The size of `entries` encoded without prefix compression: every entry is `kind` (1) +
/// `overlap` (2, always 0) + `rest_len` (2) + the whole key + `value_len` (4) + the value, i.e.
/// `9 + key.len() + value.len()`, plus a 4-byte offset per entry and the 4-byte entry count. This
/// is the day-1 layout with `overlap = 0`, the baseline prefix compression is measured against.
fn uncompressed_size(entries: &Entries) -> usize {
    let entry_bytes: usize = entries
        .iter()
        .map(|(k, v)| 9 + k.len() + v.as_ref().map_or(0, Vec::len))
        .sum();
    entry_bytes + 4 * entries.len() + 4
}

/// `keys` with short values (`v0`, `v1`, …), every fourth a tombstone and every seventh empty.
fn entries_of(keys: &[Vec<u8>]) -> Entries {
    keys.iter()
        .enumerate()
        .map(|(i, k)| {
            let v = match (i % 4, i % 7) {
                (3, _) => None,
                (_, 6) => Some(Vec::new()),
                _ => Some(format!("v{i}").into_bytes()),
            };
            (k.clone(), v)
        })
        .collect()
}

/// `n` entries with keys sharing `LONG_PREFIX` and small values.
fn prefixed_entries(n: usize) -> Entries {
    (0..n)
        .map(|i| (prefixed_key(i), Some(format!("v{i:04}").into_bytes())))
        .collect()
}

/// Fails unless `compressed` bytes are at most half of `baseline` bytes.
#[track_caller]
fn check_at_least_halved(compressed: usize, baseline: usize, scenario: &str) {
    if compressed * 2 > baseline {
        fail(
            &format!(
                "{scenario}: size with prefix compression vs {baseline} bytes with whole keys \
                 (ratio {:.2})",
                baseline as f64 / compressed as f64
            ),
            format!("at most {} bytes (2× smaller)", baseline / 2),
            format!("{compressed} bytes"),
            BOOK_PREFIX,
        );
    }
}

/// Decodes `raw`, turning a panic into a test failure.
fn decode_block(raw: &[u8], scenario: &str) -> lsm::Result<Block> {
    let input = Bytes::copy_from_slice(raw);
    catch_unwind(AssertUnwindSafe(|| Block::decode(input))).unwrap_or_else(|_| {
        fail(
            &format!("{scenario}: Block::decode of {} bytes", raw.len()),
            "a Result, never a panic",
            "a panic",
            BOOK_PREFIX,
        )
    })
}

// ---------------------------------------------------------------------------------------------
// Helpers: the engine
// ---------------------------------------------------------------------------------------------

/// Opens an engine, failing the test on an error.
fn open_engine(dir: &Path, options: LsmOptions, scenario: &str, book: &str) -> Arc<MiniLsm> {
    ok(
        MiniLsm::open(dir, options),
        &format!("{scenario}: open"),
        book,
    )
}

/// Closes `engine` and opens the directory again.
fn reopen(engine: Arc<MiniLsm>, options: LsmOptions, scenario: &str, book: &str) -> Arc<MiniLsm> {
    ok(engine.close(), &format!("{scenario}: close"), book);
    let dir: PathBuf = engine.path().to_path_buf();
    drop(engine);
    open_engine(&dir, options, &format!("{scenario}: reopen"), book)
}

/// Puts `keys` split round-robin into `ssts` L0 SSTs (key `i` goes to SST `i % ssts`), so all
/// SSTs cover about the same key range and pruning by range cannot tell them apart. The value of
/// key `i` is `value(i, 0)`.
fn fill_overlapping_ssts(engine: &MiniLsm, keys: &[Vec<u8>], ssts: usize, book: &str) {
    for part in 0..ssts {
        for (i, k) in keys.iter().enumerate().skip(part).step_by(ssts) {
            ok(engine.put(k, &value(i, 0)), "put a key", book);
        }
        ok(engine.force_flush(), "force_flush into an L0 SST", book);
    }
    check_eq(
        engine.shape().l0_ids().len(),
        ssts,
        "number of L0 SSTs after the flushes",
        book,
    );
}

/// Checks `get` returns `value(i, 0)` for every key `i` of `keys`.
fn check_all_present(engine: &MiniLsm, keys: &[Vec<u8>], scenario: &str, book: &str) {
    for (i, k) in keys.iter().enumerate() {
        let scenario = format!("{scenario}: get({})", show(k));
        let got = ok(engine.get(k), &scenario, book);
        check_get(got, Some(&value(i, 0)), &scenario, book);
    }
}

/// Keys absent from [`key`]`(0..n)` but inside its range: `key_00010/absent` sorts between
/// `key(10)` and `key(11)`.
fn absent_between(range: std::ops::Range<usize>) -> Vec<Vec<u8>> {
    range
        .map(|i| {
            let mut k = key(i);
            k.extend_from_slice(b"/absent");
            k
        })
        .collect()
}

/// Gets every key of `absent` (expecting `None`) and returns how much the bloom skip counter
/// and the block reads (cache hits + misses) grew.
fn get_absent(engine: &MiniLsm, absent: &[Vec<u8>], scenario: &str) -> (u64, u64) {
    let before = engine.stats();
    for k in absent {
        let scenario = format!("{scenario}: get({}) of an absent key", show(k));
        let got = ok(engine.get(k), &scenario, BOOK_SKIP);
        check_get(got, None, &scenario, BOOK_SKIP);
    }
    let after = engine.stats();
    let reads = |s: &lsm::EngineStats| s.block_cache_hits + s.block_cache_misses;
    (
        after.ssts_skipped_by_bloom - before.ssts_skipped_by_bloom,
        reads(&after) - reads(&before),
    )
}

// ---------------------------------------------------------------------------------------------
// Bloom filters on their own
// ---------------------------------------------------------------------------------------------

#[rstest]
#[case::bits_1(1)]
#[case::bits_5(5)]
#[case::bits_10(10)]
#[case::bits_14(14)]
fn bloom_has_no_false_negatives_over_many_keys(#[case] bits: usize) {
    let keys = random_keys("present/", 7, FILTER_KEYS);
    let bloom = bloom_over(&keys, bits);
    check_no_false_negatives(
        |k| bloom.may_contain(key_hash(k)),
        &keys,
        &format!("Bloom::build over {FILTER_KEYS} random keys, {bits} bits per key"),
        BOOK_BLOOM,
    );
}

#[test]
fn bloom_has_no_false_negatives_for_shared_prefixes_last_byte_and_length_variants() {
    let keys = tricky_keys();
    let bloom = bloom_over(&keys, 10);
    check_no_false_negatives(
        |k| bloom.may_contain(key_hash(k)),
        &keys,
        "Bloom::build over keys sharing long prefixes, differing in the last byte or the length",
        BOOK_HASH,
    );
    // A few keys from `tricky_keys`, one at a time: a filter over a single key must hold it.
    for k in [&keys[0], &keys[keys.len() / 2], &keys[keys.len() - 1]] {
        let single = bloom_over(std::slice::from_ref(k), 10);
        check_eq(
            single.may_contain(key_hash(k)),
            true,
            &format!(
                "a filter over the single key {}: may_contain of it",
                show(k)
            ),
            BOOK_BLOOM,
        );
    }
}

#[rstest]
#[case::keys_10000_bits_10(10_000, 10)]
#[case::keys_1000_bits_5(1_000, 5)]
#[case::keys_1000_bits_14(1_000, 14)]
#[case::keys_3333_bits_7(3_333, 7)]
#[case::keys_500_bits_20(500, 20)]
#[case::keys_10000_bits_1(10_000, 1)]
#[case::keys_3_bits_10(3, 10)]
fn bloom_size_and_probes_follow_bits_per_key(#[case] n: usize, #[case] bits: usize) {
    let keys = random_keys("present/", 13, n);
    let bloom = bloom_over(&keys, bits);
    let scenario = format!("Bloom::build over {n} keys with {bits} bits per key");
    // An SST of a few keys still gets a usable filter.
    if bloom.num_bits() < 64 {
        fail(
            &format!("{scenario}: num_bits() is keys × bits per key, but at least 64"),
            "at least 64",
            bloom.num_bits(),
            BOOK_BITS,
        );
    }
    let wanted_bits = n * bits;
    // Rounding up to whole bytes or words is fine; a filter of another size is not.
    let slack = (wanted_bits / 100).max(64);
    if bloom.num_bits().abs_diff(wanted_bits) > slack {
        fail(
            &format!("{scenario}: num_bits() ≈ keys × bits per key"),
            format!("{wanted_bits} ± {slack}"),
            bloom.num_bits(),
            BOOK_BITS,
        );
    }
    // The chapter's formula, exactly: round(b · ln 2), at least 1 and at most MAX_PROBES.
    let ideal_probes = bits as f64 * std::f64::consts::LN_2;
    let wanted_probes = (ideal_probes.round() as u8).clamp(1, 30);
    if bloom.num_probes() != wanted_probes {
        fail(
            &format!(
                "{scenario}: num_probes() = round(bits per key × ln 2) = round({ideal_probes:.2}), \
                 clamped to 1 ..= 30"
            ),
            wanted_probes,
            bloom.num_probes(),
            BOOK_BITS,
        );
    }
}

#[rstest]
#[case::bits_5(5)]
#[case::bits_8(8)]
#[case::bits_10(10)]
#[case::bits_14(14)]
fn bloom_false_positive_rate_is_near_the_configured_target(#[case] bits: usize) {
    let keys = random_keys("present/", 11, FILTER_KEYS);
    let absent = random_keys("absent/", 12, ABSENT_PROBES);
    let bloom = bloom_over(&keys, bits);
    let measured = false_positive_rate(|k| bloom.may_contain(key_hash(k)), &absent);
    check_fp_rate(
        measured,
        bits,
        &format!("Bloom::build over {FILTER_KEYS} keys"),
        BOOK_BITS,
    );
}

/// The array is rounded up to whole bytes, so when `keys × bits per key` is not a multiple of 8
/// it has a few more bits than that product. `build` and `may_contain` must reduce probe
/// positions modulo the *same* bit count (the array's): a builder that wraps at the unrounded
/// count sets other bits than the query tests.
#[rstest]
#[case::keys_1001_bits_7(1_001, 7)]
#[case::keys_333_bits_5(333, 5)]
#[case::keys_13_bits_7(13, 7)]
#[case::keys_2999_bits_10(2_999, 10)]
fn bloom_has_no_false_negatives_when_keys_times_bits_is_not_a_multiple_of_8(
    #[case] n: usize,
    #[case] bits: usize,
) {
    let keys = random_keys("present/", 17, n);
    assert!(
        !(keys.len() * bits).is_multiple_of(8) && keys.len() * bits > 64,
        "test setup: {} keys × {bits} bits must not be a multiple of 8",
        keys.len()
    );
    let bloom = bloom_over(&keys, bits);
    check_no_false_negatives(
        |k| bloom.may_contain(key_hash(k)),
        &keys,
        &format!(
            "Bloom::build over {} keys, {bits} bits per key ({} bits, rounded up to a {}-bit \
             array: build and may_contain must reduce probe positions modulo the same count)",
            keys.len(),
            keys.len() * bits,
            bloom.num_bits()
        ),
        BOOK_BITS,
    );
}

/// The worked example of the format appendix: the hash and the probe scheme are part of the
/// on-disk format (an SST's filter is probed by whichever build opens it), so the filter over
/// `apple` and `apricot` at 10 bits per key has exactly these bytes.
#[test]
fn bloom_of_the_appendix_example_has_exactly_the_documented_bytes() {
    check_eq(
        (key_hash(b"apple"), key_hash(b"apricot")),
        (0xba8e_799d_ceb3_bcb1, 0xe45a_0bf4_ea10_41a5),
        "key_hash(apple), key_hash(apricot): the test vectors of the format appendix",
        BOOK_HASH,
    );
    let bloom = Bloom::build(&[key_hash(b"apple"), key_hash(b"apricot")], 10);
    let mut encoded = Vec::new();
    bloom.encode(&mut encoded);
    check_eq(
        encoded,
        vec![0x06, 0x61, 0x00, 0xa2, 0x20, 0x0a, 0x22, 0x00, 0x07],
        "Bloom::build over apple and apricot at 10 bits per key, encoded (appendix, worked example)",
        BOOK_HASH,
    );
}

/// How a case rewrites an SST's bloom section (the bit array, then the probe count byte).
type BloomEdit = fn(&[u8]) -> Vec<u8>;

/// An SST whose bloom section has a right checksum but holds what no filter has: no bit array
/// (probing it would divide by zero), or a probe count outside 1 ..= 30 (0 probes would answer
/// "may contain" for every key). `SsTable::open` must call it `Corruption`, at an offset inside
/// the section.
#[rstest]
#[case::no_bits(|section: &[u8]| vec![section[section.len() - 1]])]
#[case::zero_probes(|section: &[u8]| [&section[..section.len() - 1], &[0]].concat())]
#[case::thirty_one_probes(|section: &[u8]| [&section[..section.len() - 1], &[31]].concat())]
fn bloom_section_that_no_filter_has_is_corruption(#[case] edit: BloomEdit) {
    let dir = temp_dir();
    let keys = random_keys("k/", 41, 50);
    let table = build_sst(dir.path(), "original.sst", &keys, ROOMY, 10);
    let raw = read_file(table.path());
    let (offset, len) = bloom_section(&raw);
    let section = edit(&raw[offset..offset + len]);
    // Rebuild the file: everything before the section, the new section and its checksum, and
    // the footer with the new length and a recomputed checksum.
    let mut footer = raw[raw.len() - FOOTER_LEN..].to_vec();
    footer[20..24].copy_from_slice(&(section.len() as u32).to_le_bytes());
    let footer_crc = crc32fast::hash(&footer[..28]);
    footer[28..32].copy_from_slice(&footer_crc.to_le_bytes());
    let mut edited = raw[..offset].to_vec();
    edited.extend_from_slice(&section);
    edited.extend_from_slice(&crc32fast::hash(&section).to_le_bytes());
    edited.extend_from_slice(&footer);
    let path = dir.path().join("edited.sst");
    std::fs::write(&path, &edited).expect("write the edited SST");
    let scenario = format!(
        "SsTable::open of an SST whose bloom section (checksum recomputed) is {:02x?}",
        &section[section.len().saturating_sub(3)..]
    );
    let inside = offset as u64..(offset + section.len()) as u64;
    match open_sst(&path, &scenario) {
        Err(Error::Corruption { offset, .. }) if inside.contains(&offset) => {}
        other => fail(
            &scenario,
            format!("Err(Corruption {{ offset in {inside:?}, .. }})"),
            other.map(|_| "an open table"),
            BOOK_SST_BLOOM,
        ),
    }
}

#[test]
fn bloom_encode_decode_round_trips_and_answers_the_same() {
    let keys = random_keys("present/", 17, 2_000);
    let absent = random_keys("absent/", 18, 2_000);
    let bloom = bloom_over(&keys, 10);
    let mut buf = Vec::new();
    bloom.encode(&mut buf);
    let decoded = ok(
        Bloom::decode(&buf),
        "Bloom::decode of an encoded filter",
        BOOK_SST_BLOOM,
    );
    check_eq(
        decoded == bloom,
        true,
        "Bloom::decode(encode(filter)) == filter",
        BOOK_SST_BLOOM,
    );
    for k in keys.iter().chain(&absent) {
        check_eq(
            decoded.may_contain(key_hash(k)),
            bloom.may_contain(key_hash(k)),
            &format!("decoded vs original filter: may_contain({})", show(k)),
            BOOK_SST_BLOOM,
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Bloom filters in SSTs
// ---------------------------------------------------------------------------------------------

#[rstest]
#[case::small_blocks(128)]
#[case::large_blocks(4096)]
fn sst_bloom_has_no_false_negatives_before_and_after_reopen(#[case] block_size: usize) {
    let dir = temp_dir();
    // Small blocks mean many block starts, so most keys are stored prefix-compressed: a filter
    // built from the stored bytes instead of the whole key misses them.
    let keys = tricky_keys();
    let table = build_sst(dir.path(), "tricky.sst", &keys, block_size, 10);
    let scenario = format!("an SST of tricky keys, {block_size}-byte blocks, 10 bits per key");
    check_eq(
        table.bloom().is_some(),
        true,
        &format!("{scenario}: bloom() after building with_bloom_filter(10)"),
        BOOK_SST_BLOOM,
    );
    check_no_false_negatives(
        |k| table.may_contain(k),
        &keys,
        &format!("{scenario}: as built"),
        BOOK_HASH,
    );
    let reopened = ok(
        open_sst(table.path(), &scenario),
        &format!("{scenario}: reopen"),
        BOOK_SST_BLOOM,
    );
    check_eq(
        reopened.bloom() == table.bloom(),
        true,
        &format!("{scenario}: the reopened table's filter equals the built one"),
        BOOK_SST_BLOOM,
    );
    check_no_false_negatives(
        |k| reopened.may_contain(k),
        &keys,
        &format!("{scenario}: reopened from the file"),
        BOOK_HASH,
    );
}

#[test]
fn sst_may_contain_rules_out_most_absent_keys() {
    let dir = temp_dir();
    let keys = random_keys("present/", 21, 5_000);
    let absent = random_keys("absent/", 22, ABSENT_PROBES);
    let table = build_sst(dir.path(), "random.sst", &keys, 4096, 10);
    let reopened = ok(
        open_sst(table.path(), "reopen an SST with a filter"),
        "reopen an SST with a filter",
        BOOK_SST_BLOOM,
    );
    for (name, t) in [("as built", &table), ("reopened", &reopened)] {
        let measured = false_positive_rate(|k| t.may_contain(k), &absent);
        check_fp_rate(
            measured,
            10,
            &format!("SsTable::may_contain on an SST of 5000 keys, {name}"),
            BOOK_SST_BLOOM,
        );
    }
}

/// With 0 bits per key an SST has no filter section and rules nothing out; with 10 the same keys
/// get a filter, which rules out most absent keys.
#[test]
fn sst_without_bloom_filter_has_none_and_may_contain_anything() {
    let dir = temp_dir();
    let keys = random_keys("present/", 23, 200);
    let absent = random_keys("absent/", 24, 200);
    let filtered = build_sst(dir.path(), "filtered.sst", &keys, 4096, 10);
    let ruled_out = absent.iter().filter(|k| !filtered.may_contain(k)).count();
    check_eq(
        (filtered.bloom().is_some(), ruled_out > absent.len() / 2),
        (true, true),
        &format!(
            "the same 200 keys built with_bloom_filter(10): (bloom() is Some, more than half of \
             200 absent keys ruled out; {ruled_out} were)"
        ),
        BOOK_SST_BLOOM,
    );
    let table = build_sst(dir.path(), "plain.sst", &keys, 4096, 0);
    let scenario = "an SST built with_bloom_filter(0)";
    check_eq(
        table.bloom().is_none(),
        true,
        &format!("{scenario}: bloom() is None"),
        BOOK_SST_BLOOM,
    );
    check_eq(
        bloom_section(&read_file(table.path())),
        (0, 0),
        &format!("{scenario}: footer (bloom_offset, bloom_len)"),
        BOOK_SST_BLOOM,
    );
    for k in absent.iter().take(50) {
        check_eq(
            table.may_contain(k),
            true,
            &format!("{scenario}: may_contain({}) without a filter", show(k)),
            BOOK_SST_BLOOM,
        );
    }
}

/// Where in the bloom section (of `len` bytes, followed by its 4-byte crc) a byte is flipped.
#[derive(Debug, Clone, Copy)]
enum BloomByte {
    First,
    Middle,
    /// The `num_probes` byte at the end of the section.
    Last,
    /// The first byte of the section's crc.
    Crc,
}

#[rstest]
#[case::first_bit_byte(BloomByte::First)]
#[case::middle_bit_byte(BloomByte::Middle)]
#[case::num_probes(BloomByte::Last)]
#[case::bloom_crc(BloomByte::Crc)]
fn flipped_byte_in_bloom_section_is_corruption_naming_the_file(#[case] which: BloomByte) {
    let dir = temp_dir();
    let keys = random_keys("present/", 25, 500);
    let table = build_sst(dir.path(), "good.sst", &keys, 1024, 10);
    let mut raw = read_file(table.path());
    let (offset, len) = bloom_section(&raw);
    let scenario = format!("flip {which:?} byte of the bloom section");
    if len == 0 || offset + len + 4 + FOOTER_LEN != raw.len() {
        fail(
            &format!("{scenario}: the footer of an SST built with_bloom_filter(10)"),
            "a non-empty bloom section (and its crc) right before the footer",
            format!(
                "bloom_offset {offset}, bloom_len {len} in a {}-byte file",
                raw.len()
            ),
            BOOK_SST_BLOOM,
        );
    }
    let at = match which {
        BloomByte::First => offset,
        BloomByte::Middle => offset + len / 2,
        BloomByte::Last => offset + len - 1,
        BloomByte::Crc => offset + len,
    };
    raw[at] ^= 0x5a;
    let bad_path = dir.path().join("bad.sst");
    if let Err(e) = std::fs::write(&bad_path, &raw) {
        fail(&scenario, "write the damaged copy", e, BOOK_SST_BLOOM);
    }
    // A crc mismatch is reported at the section's start, whichever byte was flipped.
    match open_sst(&bad_path, &scenario) {
        Err(Error::Corruption {
            file: Some(file),
            offset: actual,
            ..
        }) if file == bad_path && actual == offset as u64 => {}
        other => fail(
            &format!("{scenario} (byte {at}): SsTable::open"),
            format!(
                "Err(Corruption {{ file: Some({}), offset: {offset} (bloom_offset), .. }})",
                bad_path.display()
            ),
            other.map(|t| format!("Ok(SST with {} blocks)", t.num_blocks())),
            BOOK_SST_BLOOM,
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// Key prefix compression
// ---------------------------------------------------------------------------------------------

#[rstest]
#[case::first_key_is_a_prefix("first_key_is_a_prefix")]
#[case::keys_shorter_than_the_first("keys_shorter_than_the_first")]
#[case::some_keys_share_a_prefix("some_keys_share_a_prefix")]
#[case::binary("binary")]
#[case::max_key_len("max_key_len")]
#[case::long_shared_prefix("long_shared_prefix")]
fn compressed_block_round_trips_iterates_and_seeks_exactly(#[case] name: &str) {
    let keys = compression_case(name);
    let entries = entries_of(&keys);
    let block = build_block(&entries, name);
    let encoded = block.encode();
    let baseline = uncompressed_size(&entries);
    if encoded.len() >= baseline {
        fail(
            &format!("{name}: encoded size of a block whose keys share prefixes with the first"),
            format!("less than {baseline} (the size with whole keys)"),
            encoded.len(),
            BOOK_PREFIX,
        );
    }
    let decoded = ok(
        decode_block(&encoded, name),
        &format!("{name}: decode"),
        BOOK_PREFIX,
    );
    check_eq(
        decoded.encode(),
        encoded,
        &format!("{name}: encode(decode(bytes)) == bytes"),
        BOOK_PREFIX,
    );
    let decoded = Arc::new(decoded);
    check_iter(
        &mut BlockIterator::create_and_seek_to_first(Arc::clone(&decoded)),
        &entries,
        &format!("{name}: iterate from the first entry"),
        BOOK_PREFIX,
    );
    // Seek targets: every key, just after it, its prefix without the last byte, before
    // everything and after the last key.
    let mut targets = vec![Vec::new()];
    for k in &keys {
        targets.push(k.clone());
        targets.push([k.as_slice(), &[0x00]].concat());
        targets.push(k[..k.len() - 1].to_vec());
    }
    targets.push([keys[keys.len() - 1].as_slice(), &[0xff]].concat());
    for target in &targets {
        let expected: Entries = entries
            .iter()
            .filter(|(k, _)| k >= target)
            .cloned()
            .collect();
        check_iter(
            &mut BlockIterator::create_and_seek_to_key(Arc::clone(&decoded), target),
            &expected,
            &format!("{name}: seek to {}", show(target)),
            BOOK_PREFIX,
        );
    }
}

#[test]
fn block_of_keys_sharing_a_long_prefix_is_at_least_twice_smaller() {
    let entries = prefixed_entries(60);
    let block = build_block(&entries, "60 keys sharing a 41-byte prefix");
    check_at_least_halved(
        block.encode().len(),
        uncompressed_size(&entries),
        "a block of 60 keys sharing a 41-byte prefix",
    );
    let decoded = ok(
        decode_block(&block.encode(), "decode the compressed block"),
        "decode the compressed block",
        BOOK_PREFIX,
    );
    check_iter(
        &mut BlockIterator::create_and_seek_to_first(Arc::new(decoded)),
        &entries,
        "iterate the decoded compressed block",
        BOOK_PREFIX,
    );
}

#[test]
fn sst_of_keys_sharing_a_long_prefix_is_at_least_twice_smaller() {
    let dir = temp_dir();
    let entries = prefixed_entries(1000);
    let mut builder = SsTableBuilder::new(4096);
    for (k, v) in &entries {
        builder.add(k, v.as_deref());
    }
    let scenario = "an SST of 1000 keys sharing a 41-byte prefix";
    let table = ok(
        builder.build(1, None, &dir.path().join("prefixed.sst")),
        scenario,
        BOOK_PREFIX,
    );
    // The baseline counts only the entries and offsets stored with whole keys: an uncompressed
    // SST would be larger still (block counts, checksums, meta section, footer).
    check_at_least_halved(
        table.table_size() as usize,
        uncompressed_size(&entries),
        scenario,
    );
    let mut iter = ok(
        lsm::table::SsTableIterator::create_and_seek_to_first(Arc::new(table)),
        scenario,
        BOOK_PREFIX,
    );
    check_iter(
        &mut iter,
        &entries,
        &format!("{scenario}: iterate"),
        BOOK_PREFIX,
    );
}

/// Key sets for the compressed block round-trip test.
fn compression_case(name: &str) -> Vec<Vec<u8>> {
    let strs = |keys: &[&str]| keys.iter().map(|k| k.as_bytes().to_vec()).collect();
    match name {
        "first_key_is_a_prefix" => strs(&["ab", "abc", "abcd", "abd", "ac"]),
        "keys_shorter_than_the_first" => strs(&["abcdef", "abcdeg", "abd", "ac", "b", "ba"]),
        "some_keys_share_a_prefix" => strs(&[
            "apple/1", "apple/2", "apricot", "banana", "cherry/1", "cherry/2",
        ]),
        "binary" => vec![
            vec![0x00, 0x00, 0x01],
            vec![0x00, 0x00, 0xff],
            vec![0x00, 0x00, 0xff, 0x00],
            vec![0x00, 0xff],
            vec![0xff],
            vec![0xff, 0x00],
            vec![0xff, 0xff, 0xff],
        ],
        "max_key_len" => (0..4u8)
            .map(|b| {
                let mut k = vec![b'k'; MAX_KEY_LEN - 1];
                k.push(b'a' + b);
                k
            })
            .collect(),
        "long_shared_prefix" => (0..40).map(prefixed_key).collect(),
        other => fail(
            "pick a compression case",
            "a known case name",
            other,
            BOOK_PREFIX,
        ),
    }
}

/// Overwrites the `overlap` field of entry `entry` with `overlap` in a valid compressed block.
#[rstest]
#[case::first_entry_overlap_1(0, 1)]
#[case::first_entry_overlap_of_its_own_length(0, 3)]
#[case::first_entry_overlap_max(0, u16::MAX)]
#[case::second_entry_overlap_past_first_key(1, 4)]
#[case::second_entry_overlap_max(1, u16::MAX)]
fn overlap_at_first_entry_or_past_first_key_is_corruption(
    #[case] entry: usize,
    #[case] overlap: u16,
) {
    // First key "abc" (3 bytes); "abd" shares 2 bytes with it.
    let entries = entries_of(&[b"abc".to_vec(), b"abd".to_vec(), b"b".to_vec()]);
    let block = build_block(&entries, "a block of abc, abd, b");
    let mut raw = block.encode().to_vec();
    ok(
        decode_block(&raw, "the unpatched block").map(drop),
        "decode the unpatched block",
        BOOK_PREFIX,
    );
    // The trailer: one u32 offset per entry, then the u32 entry count.
    let count = read_le::<4>(&raw, raw.len() - 4) as usize;
    let offsets_at = raw.len() - 4 - 4 * count;
    let overlap_of = |raw: &[u8], entry: usize| {
        let entry_at = read_le::<4>(raw, offsets_at + 4 * entry) as usize;
        // An entry is `kind: u8`, then `overlap: u16` little-endian.
        entry_at + 1..entry_at + 3
    };
    // The builder compresses: "abd" is stored as 2 bytes shared with "abc", then "d".
    check_eq(
        read_le::<2>(&raw, overlap_of(&raw, 1).start),
        2,
        "the overlap BlockBuilder stores for \"abd\" after first key \"abc\"",
        BOOK_PREFIX,
    );
    let field = overlap_of(&raw, entry);
    raw[field].copy_from_slice(&overlap.to_le_bytes());
    let scenario =
        format!("entry {entry} of a block with first key \"abc\" claims overlap {overlap}");
    match decode_block(&raw, &scenario) {
        Err(Error::Corruption { .. }) => {}
        other => fail(
            &format!("{scenario}: Block::decode"),
            "Err(Corruption { .. })",
            other.map(|b| format!("Ok(a block of {} entries)", b.len())),
            BOOK_PREFIX,
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// The engine skips SSTs
// ---------------------------------------------------------------------------------------------

#[test]
fn get_of_absent_keys_skips_overlapping_ssts_by_bloom() {
    const SSTS: usize = 3;
    let keys: Vec<Vec<u8>> = (0..3000).map(key).collect();
    // Inside the key range of every SST: key(10)..key(2990) lies in all three.
    let absent = absent_between(10..1010);
    let mut measured = Vec::new();
    for bits in [10, 0] {
        let dir = temp_dir();
        let options = LsmOptions {
            bloom_bits_per_key: bits,
            ..options_for_day(7)
        };
        let scenario = format!("{SSTS} overlapping L0 SSTs, {bits} bits per key");
        let engine = open_engine(dir.path(), options, &scenario, BOOK_SKIP);
        fill_overlapping_ssts(&engine, &keys, SSTS, BOOK_SKIP);
        measured.push(get_absent(&engine, &absent, &scenario));
    }
    let (skipped, reads) = measured[0];
    let (skipped_without, reads_without) = measured[1];
    let lookups = (absent.len() * SSTS) as u64;
    if skipped * 10 < lookups * 9 {
        fail(
            &format!(
                "get of {} absent keys inside the ranges of {SSTS} SSTs with filters: growth of \
                 stats().ssts_skipped_by_bloom",
                absent.len()
            ),
            format!("at least 90% of {lookups}"),
            skipped,
            BOOK_SKIP,
        );
    }
    check_eq(
        skipped_without,
        0,
        "the same gets with bloom_bits_per_key 0: ssts_skipped_by_bloom",
        BOOK_SKIP,
    );
    if reads * 10 > reads_without {
        fail(
            "block reads (cache hits + misses) of the absent gets, with filters vs without",
            format!("at most a tenth of {reads_without}"),
            reads,
            BOOK_SKIP,
        );
    }
}

#[test]
fn get_finds_every_present_key_through_bloom_filters_also_after_reopen() {
    let dir = temp_dir();
    let options = LsmOptions {
        block_size: 256,
        ..options_for_day(7)
    };
    let scenario = "tricky keys in 3 overlapping L0 SSTs with filters";
    let engine = open_engine(dir.path(), options.clone(), scenario, BOOK_SKIP);
    let keys = tricky_keys();
    fill_overlapping_ssts(&engine, &keys, 3, BOOK_SKIP);
    check_all_present(&engine, &keys, scenario, BOOK_HASH);
    let engine = reopen(engine, options, scenario, BOOK_SKIP);
    check_all_present(&engine, &keys, &format!("{scenario}, reopened"), BOOK_HASH);
    let scenario = format!("{scenario}, reopened: get of absent keys");
    // Absent keys right next to present ones: one zero byte longer.
    let near: Vec<Vec<u8>> = keys
        .iter()
        .map(|k| {
            let mut k = k.clone();
            k.push(0x00);
            k
        })
        .filter(|k| !keys.contains(k))
        .collect();
    let (skipped, _) = get_absent(&engine, &near, &scenario);
    if skipped == 0 {
        fail(
            &format!(
                "{scenario}: {} absent keys next to present ones",
                near.len()
            ),
            "some SSTs skipped by their bloom filters",
            "stats().ssts_skipped_by_bloom did not grow",
            BOOK_SKIP,
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Everything still works
// ---------------------------------------------------------------------------------------------

/// Options for the random workload: day 7 (bloom filters on), small blocks and SSTs and a
/// low L0 trigger, so a few thousand operations make a multi-level tree of multi-block SSTs.
fn workload_options() -> LsmOptions {
    LsmOptions {
        block_size: 256,
        target_sst_size: 4096,
        compaction: CompactionOptions::Leveled(LeveledCompactionOptions {
            level0_file_num_compaction_trigger: 2,
            level_size_multiplier: 2,
            base_level_size_bytes: 8192,
            max_levels: 3,
        }),
        ..options_for_day(7)
    }
}

/// A key of the workload's domain: `user/0042/field-3`, so neighbours share long prefixes.
fn workload_key(rng: &mut Rng) -> Vec<u8> {
    format!("user/{:04}/field-{}", rng.below(60), rng.below(5)).into_bytes()
}

/// Checks `engine.scan(lower, upper)` against the model.
fn check_scan_against_model(
    engine: &MiniLsm,
    model: &BTreeMap<Vec<u8>, Vec<u8>>,
    lower: Bound<&[u8]>,
    upper: Bound<&[u8]>,
    scenario: &str,
) {
    let expected: Entries = model
        .iter()
        .filter(|(k, _)| in_range(k, lower, upper))
        .map(|(k, v)| (k.clone(), Some(v.clone())))
        .collect();
    let scenario = format!("{scenario}: scan({lower:?}, {upper:?})");
    let mut cursor = ok(engine.scan(lower, upper), &scenario, BOOK_STILL);
    check_iter(&mut cursor, &expected, &scenario, BOOK_STILL);
}

#[test]
fn random_workload_with_bloom_and_compression_matches_a_model() {
    let dir = temp_dir();
    let options = workload_options();
    let mut engine = open_engine(dir.path(), options.clone(), "workload", BOOK_STILL);
    let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    let mut rng = Rng::new(77);
    for step in 0..3000 {
        let scenario = format!("workload step {step}");
        let k = workload_key(&mut rng);
        match rng.below(20) {
            0..=7 => {
                let v: Vec<u8> = (0..rng.below(40)).map(|_| rng.below(256) as u8).collect();
                ok(engine.put(&k, &v), &scenario, BOOK_STILL);
                model.insert(k, v);
            }
            8..=10 => {
                ok(engine.delete(&k), &scenario, BOOK_STILL);
                model.remove(&k);
            }
            11..=18 => {
                let scenario = format!("{scenario}: get({})", show(&k));
                let got = ok(engine.get(&k), &scenario, BOOK_STILL);
                check_get(got, model.get(&k).map(Vec::as_slice), &scenario, BOOK_STILL);
            }
            _ => {
                let other = workload_key(&mut rng);
                let (lo, hi) = if k <= other { (k, other) } else { (other, k) };
                let lower = Bound::Included(lo.as_slice());
                let upper = Bound::Excluded(hi.as_slice());
                check_scan_against_model(&engine, &model, lower, upper, &scenario);
            }
        }
        if step % 150 == 149 {
            ok(
                engine.force_flush(),
                &format!("{scenario}: force_flush"),
                BOOK_STILL,
            );
        }
        if step % 450 == 449 {
            ok(
                engine.compact_until_idle(),
                &format!("{scenario}: compact_until_idle"),
                BOOK_STILL,
            );
            check_levels_do_not_overlap(&engine.shape(), &scenario, BOOK_STILL);
        }
        if step % 1000 == 999 {
            engine = reopen(engine, options.clone(), &scenario, BOOK_STILL);
            check_scan_against_model(
                &engine,
                &model,
                Bound::Unbounded,
                Bound::Unbounded,
                &format!("{scenario}, reopened"),
            );
        }
    }
    let levels_used = engine
        .shape()
        .levels
        .iter()
        .filter(|l| !l.ssts.is_empty())
        .count();
    check_eq(
        levels_used > 0,
        true,
        "the workload compacted SSTs into a level below L0",
        BOOK_STILL,
    );
    check_scan_against_model(
        &engine,
        &model,
        Bound::Unbounded,
        Bound::Unbounded,
        "after the workload",
    );
}
