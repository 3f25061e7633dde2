//! Day 1 graded tests: blocks (book chapter `day1-blocks.md`).
//!
//! Covers:
//! - `BlockBuilder`: entries in key order, the size limit (`add` returns `false` and adds nothing
//!   once the next entry would push the block past `block_size`, and accepts one that fits
//!   exactly; a block never exceeds `block_size` unless it holds a single entry), and an oversized
//!   first entry, which is always accepted.
//! - `Block::encode` / `Block::decode` round trips: plain entries, empty values (`Some(b"")`, not a
//!   delete) next to tombstones (`None`), keys of exactly `MAX_KEY_LEN` bytes, binary keys with
//!   `0x00` / `0xff` bytes, and 200 random entries.
//! - `BlockIterator`: iteration, `create_and_seek_to_key` / `seek_to_key` (first key `>=` the
//!   target) on exact keys, in gaps, before the first and past the last key, and re-seeking
//!   backwards after iterating.
//! - Untrusted bytes: empty input, every truncation, a bad entry count and an entry offset outside
//!   the block are `Error::Corruption`, and overwritten bytes never make decode or iteration panic.
//!   Hand-made blocks that break one rule of the entry format each (an empty key, a key over
//!   `MAX_KEY_LEN`, a bad overlap, an unknown kind, a tombstone with a value) are corruption too,
//!   and so are hand-made data areas whose entries do not tile them (a gap, junk after the last
//!   entry, one entry inside another, one entry listed twice).
//!
//! The tests are format-agnostic, because day 7 changes how entries are stored: they rely only on
//! `decode(encode(x)) == x`, on encoded lengths, on damaged bytes being rejected, and on the block
//! trailer, which stays the same on every day (the entries, then the entry offsets, then the entry
//! count, each a little-endian `u32`): only the count and the last offset are ever tampered with.
//! The hand-made blocks use the entry layout, which is the same on every day too, and store whole
//! keys (overlap 0), which every day's decoder accepts.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use bytes::Bytes;
use rstest::rstest;
use tests_day1_to_day7::lsm::Error;
use tests_day1_to_day7::lsm::block::{Block, BlockBuilder, BlockIterator, MAX_KEY_LEN};
use tests_day1_to_day7::lsm::iterators::StorageIterator;
use tests_day1_to_day7::*;

const BOOK_FORMAT: &str = "day1-blocks.md#block-format";
const BOOK_BUILD: &str = "day1-blocks.md#building-a-block";
const BOOK_SEEK: &str = "day1-blocks.md#iterating-and-seeking";
const BOOK_UNTRUSTED: &str = "day1-blocks.md#decoding-untrusted-bytes";

/// A block size no test's entries come close to, for tests that are not about the size limit.
const ROOMY: usize = 1 << 20;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Builds a block of `entries` (in key order), failing if the builder refuses any of them.
#[track_caller]
fn build(entries: &Entries, block_size: usize, scenario: &str) -> Block {
    let mut builder = BlockBuilder::new(block_size);
    for (i, (k, v)) in entries.iter().enumerate() {
        if !builder.add(k, v.as_deref()) {
            fail(
                &format!(
                    "{scenario}: add entry {i} (key {}) to a {block_size}-byte block",
                    show(k)
                ),
                "add returns true",
                "false",
                BOOK_BUILD,
            );
        }
    }
    builder.build()
}

/// A short description of a block for failure messages (its bytes may be large).
fn describe(block: &Block) -> String {
    format!(
        "a block of {} entries, {} bytes encoded",
        block.len(),
        block.encode().len()
    )
}

/// The text of a caught panic.
fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "<non-string panic payload>".to_string())
}

/// Escaped bytes, or just their length when they are too long to read in a message.
fn show_input(raw: &[u8]) -> String {
    if raw.len() <= 64 {
        show(raw)
    } else {
        format!("{} bytes", raw.len())
    }
}

/// Decodes `raw`, turning a panic into a clear test failure; `wanted` says what decode should
/// have returned instead.
#[track_caller]
fn decode_no_panic(raw: &[u8], wanted: &str, scenario: &str) -> lsm::Result<Block> {
    let input = Bytes::copy_from_slice(raw);
    match catch_unwind(AssertUnwindSafe(|| Block::decode(input))) {
        Ok(result) => result,
        Err(payload) => fail(
            &format!(
                "{scenario}: decode panicked on {} instead of returning {wanted}",
                show_input(raw)
            ),
            wanted,
            format!("panic: {}", panic_text(payload.as_ref())),
            BOOK_UNTRUSTED,
        ),
    }
}

/// Checks that decoding `raw` is an `Error::Corruption`, not a block, another error or a panic.
#[track_caller]
fn expect_corruption(raw: &[u8], scenario: &str) {
    match decode_no_panic(raw, "Corruption", scenario) {
        Err(Error::Corruption { .. }) => {}
        Err(other) => fail(
            &format!("{scenario}: decode {}", show_input(raw)),
            "Err(Corruption { .. })",
            format!("Err({other:?})"),
            BOOK_UNTRUSTED,
        ),
        Ok(block) => fail(
            &format!("{scenario}: decode {}", show_input(raw)),
            "Err(Corruption { .. })",
            format!("Ok({})", describe(&block)),
            BOOK_UNTRUSTED,
        ),
    }
}

/// Encodes `block`, decodes the bytes and checks the result equals `block`, and that encoding
/// it again gives the same bytes. Returns the decoded block.
#[track_caller]
fn round_trip(block: &Block, scenario: &str) -> Block {
    let encoded = block.encode();
    check_eq(
        block.encoded_len(),
        encoded.len(),
        &format!("{scenario}: encoded_len() vs encode().len()"),
        BOOK_FORMAT,
    );
    let decoded = ok(
        decode_no_panic(&encoded, "the block", scenario),
        &format!("{scenario}: decode(encode(block))"),
        BOOK_FORMAT,
    );
    if decoded != *block {
        fail(
            &format!("{scenario}: decode(encode(block)) == block"),
            describe(block),
            format!("a different block: {}", describe(&decoded)),
            BOOK_FORMAT,
        );
    }
    check_eq(
        decoded.encode(),
        encoded,
        &format!("{scenario}: encode(decode(bytes)) gives the same bytes"),
        BOOK_FORMAT,
    );
    decoded
}

/// A cursor on the first entry of `block`.
fn iter_first(block: &Block) -> BlockIterator {
    BlockIterator::create_and_seek_to_first(Arc::new(block.clone()))
}

/// The entries of `entries` whose key is `>= target`: what a seek to `target` must yield.
fn at_or_after(entries: &Entries, target: &[u8]) -> Entries {
    entries
        .iter()
        .filter(|(k, _)| k.as_slice() >= target)
        .cloned()
        .collect()
}

/// Like the harness's `check_iter`, but a mismatch in a long list is reported at its first
/// differing entry instead of printing both lists whole.
#[track_caller]
fn check_iter_compact<I: StorageIterator>(
    iter: &mut I,
    expected: &Entries,
    scenario: &str,
    book: &str,
) {
    if expected.len() <= 12 {
        return check_iter(iter, expected, scenario, book);
    }
    let seen = match drain(iter, scenario, book) {
        Ok(seen) => seen,
        Err(e) => fail(
            scenario,
            "no error",
            format!("Err({e}) while iterating"),
            book,
        ),
    };
    if let Some(i) = (0..seen.len().max(expected.len())).find(|&i| seen.get(i) != expected.get(i)) {
        let one = |entry: Option<&(Vec<u8>, Option<Vec<u8>>)>| {
            entry.map_or_else(
                || "<end>".to_string(),
                |(k, v)| format!("{}={}", show(k), show_value(v.as_deref())),
            )
        };
        fail(
            &format!(
                "{scenario}: entry {i} of {} expected ({} seen)",
                expected.len(),
                seen.len()
            ),
            Raw(one(expected.get(i))),
            Raw(one(seen.get(i))),
            book,
        );
    }
}

/// Checks that seeking to `target` yields exactly `at_or_after(entries, target)`, both through
/// `create_and_seek_to_key` and through `seek_to_key` on a cursor already moved past the start.
#[track_caller]
fn check_seek(block: &Block, entries: &Entries, target: &[u8], scenario: &str) {
    let expected = at_or_after(entries, target);
    let mut fresh = BlockIterator::create_and_seek_to_key(Arc::new(block.clone()), target);
    check_iter_compact(
        &mut fresh,
        &expected,
        &format!("{scenario}: create_and_seek_to_key({})", show(target)),
        BOOK_SEEK,
    );

    let mut moved = iter_first(block);
    if moved.is_valid() {
        ok(
            moved.next(),
            &format!("{scenario}: next() before re-seeking"),
            BOOK_SEEK,
        );
    }
    moved.seek_to_key(target);
    check_iter_compact(
        &mut moved,
        &expected,
        &format!(
            "{scenario}: next() once, then seek_to_key({})",
            show(target)
        ),
        BOOK_SEEK,
    );
}

/// Ten entries `key_00000`, `key_00010`, …, `key_00090`, leaving gaps between them to seek into.
fn spaced_entries() -> Entries {
    (0..10)
        .map(|i| (key(i * 10), Some(value(i * 10, 1))))
        .collect()
}

/// A small block with a value, an empty value and a tombstone (for the damaged-bytes tests).
fn mixed_entries() -> Entries {
    entries(&[("apple", Some("red")), ("kiwi", Some("")), ("pear", None)])
}

/// `raw` with the `index`-th little-endian `u32` from the end replaced by `value`: index 0 is the
/// entry count, index 1 the last entry offset (the trailer COURSE §5 fixes for every day).
fn with_trailer_u32(raw: &[u8], index: usize, value: u32) -> Vec<u8> {
    let mut bytes = raw.to_vec();
    let end = bytes.len() - 4 * index;
    bytes[end - 4..end].copy_from_slice(&value.to_le_bytes());
    bytes
}

/// Random bytes of a length in `min_len..=max_len`.
fn random_bytes(rng: &mut Rng, min_len: usize, max_len: usize) -> Vec<u8> {
    let len = min_len + rng.below(max_len - min_len + 1);
    (0..len).map(|_| rng.below(256) as u8).collect()
}

/// Walks a block that decoded from damaged bytes (its keys may be out of order), checking only
/// that nothing panics and that it ends. Returns the number of entries seen.
fn walk_without_contract(block: &Block) -> usize {
    let mut iter = iter_first(block);
    let mut seen = 0;
    while iter.is_valid() && seen <= block.len() {
        let _ = (iter.key().len(), iter.value().map(<[u8]>::len));
        seen += 1;
        if iter.next().is_err() {
            break;
        }
    }
    iter.seek_to_key(b"m");
    seen
}

// ---------------------------------------------------------------------------------------------
// Building and iterating
// ---------------------------------------------------------------------------------------------

#[test]
fn built_block_iterates_every_entry_in_order() {
    let expected = spaced_entries();
    let block = build(&expected, ROOMY, "ten spaced entries");
    check_eq(
        (block.len(), block.is_empty()),
        (expected.len(), false),
        "built block: (len(), is_empty())",
        BOOK_BUILD,
    );
    check_iter(
        &mut iter_first(&block),
        &expected,
        "iterate a built (never encoded) block from the first entry",
        BOOK_SEEK,
    );
}

#[test]
fn encode_then_decode_round_trips_and_iterates() {
    let expected = spaced_entries();
    let block = build(&expected, ROOMY, "ten spaced entries");
    let decoded = round_trip(&block, "ten spaced entries");
    check_iter(
        &mut iter_first(&decoded),
        &expected,
        "iterate a decoded block from the first entry",
        BOOK_FORMAT,
    );
}

#[test]
fn single_entry_block_round_trips_and_seeks() {
    let expected = entries(&[("only", Some("one"))]);
    let block = round_trip(&build(&expected, ROOMY, "one entry"), "one entry");
    check_iter(
        &mut iter_first(&block),
        &expected,
        "iterate a one-entry block",
        BOOK_SEEK,
    );
    for target in [&b"a"[..], b"only", b"onlz", b"z"] {
        check_seek(&block, &expected, target, "one-entry block");
    }
}

// ---------------------------------------------------------------------------------------------
// Seeking
// ---------------------------------------------------------------------------------------------

#[rstest]
#[case::exact_first_key(b"key_00000".as_slice())]
#[case::exact_middle_key(b"key_00050".as_slice())]
#[case::exact_last_key(b"key_00090".as_slice())]
#[case::gap_just_after_a_key(b"key_00011".as_slice())]
#[case::gap_just_before_a_key(b"key_00039".as_slice())]
#[case::gap_as_a_proper_prefix_of_a_key(b"key_0007".as_slice())]
#[case::gap_extending_a_key(b"key_00060\x00".as_slice())]
#[case::before_the_first_key(b"a".as_slice())]
#[case::prefix_of_every_key(b"key_".as_slice())]
#[case::empty_target(b"".as_slice())]
fn seek_to_key_lands_on_first_key_at_or_after_target(#[case] target: &[u8]) {
    let expected = spaced_entries();
    let block = round_trip(
        &build(&expected, ROOMY, "ten spaced entries"),
        "ten spaced entries",
    );
    check_seek(
        &block,
        &expected,
        target,
        "seek in key_00000..key_00090 step 10",
    );
}

#[rstest]
#[case::just_after_the_last_key(b"key_00090\x00".as_slice())]
#[case::next_number_after_the_last_key(b"key_00091".as_slice())]
#[case::far_after_the_last_key(b"zzz".as_slice())]
#[case::all_ff_bytes(b"\xff\xff\xff\xff".as_slice())]
fn seek_past_last_key_is_invalid(#[case] target: &[u8]) {
    let expected = spaced_entries();
    let block = round_trip(
        &build(&expected, ROOMY, "ten spaced entries"),
        "ten spaced entries",
    );
    let iter = BlockIterator::create_and_seek_to_key(Arc::new(block.clone()), target);
    check_eq(
        iter.is_valid(),
        false,
        &format!(
            "create_and_seek_to_key({}) past the last key key_00090: is_valid()",
            show(target)
        ),
        BOOK_SEEK,
    );
    check_seek(&block, &expected, target, "seek past the last key");
}

#[test]
fn reseek_backwards_after_iterating_to_the_end() {
    let expected = spaced_entries();
    let block = round_trip(
        &build(&expected, ROOMY, "ten spaced entries"),
        "ten spaced entries",
    );
    let mut iter = iter_first(&block);
    check_iter(&mut iter, &expected, "first pass over the block", BOOK_SEEK);

    // The cursor is exhausted; every seek must work from there, including backwards ones.
    let steps: [&[u8]; 6] = [
        b"key_00045",
        b"key_00000",
        b"key_00099",
        b"key_00030",
        b"",
        b"a",
    ];
    for target in steps {
        iter.seek_to_key(target);
        let after = at_or_after(&expected, target);
        let scenario = format!("exhausted cursor, then seek_to_key({})", show(target));
        match after.first() {
            Some((k, v)) => {
                check_eq(
                    iter.is_valid(),
                    true,
                    &format!("{scenario}: is_valid()"),
                    BOOK_SEEK,
                );
                check_eq(
                    show(iter.key()),
                    show(k),
                    &format!("{scenario}: key()"),
                    BOOK_SEEK,
                );
                check_eq(
                    show_value(iter.value()),
                    show_value(v.as_deref()),
                    &format!("{scenario}: value()"),
                    BOOK_SEEK,
                );
                // Leave the cursor mid-block for the next (possibly backwards) seek.
                ok(iter.next(), &format!("{scenario}: next()"), BOOK_SEEK);
            }
            None => check_eq(
                iter.is_valid(),
                false,
                &format!("{scenario}: is_valid()"),
                BOOK_SEEK,
            ),
        }
    }

    iter.seek_to_key(b"key_00070");
    check_iter(
        &mut iter,
        &at_or_after(&expected, b"key_00070"),
        "after several seeks, seek_to_key(key_00070) and drain",
        BOOK_SEEK,
    );
    iter.seek_to_first();
    check_iter(
        &mut iter,
        &expected,
        "exhausted cursor, then seek_to_first() and drain",
        BOOK_SEEK,
    );
}

// ---------------------------------------------------------------------------------------------
// The size limit
// ---------------------------------------------------------------------------------------------

/// Fills one block from `candidates` until `add` refuses one; checks the size limit and that the
/// block is reasonably full, and that the block holds exactly the accepted entries.
fn fill_and_check(candidates: &Entries, block_size: usize, scenario: &str) {
    let mut builder = BlockBuilder::new(block_size);
    let mut accepted: Entries = Vec::new();
    let mut refused = None;
    for (k, v) in candidates {
        if builder.add(k, v.as_deref()) {
            accepted.push((k.clone(), v.clone()));
        } else {
            refused = Some((k.clone(), v.clone()));
            break;
        }
    }
    let Some((refused_key, refused_value)) = refused else {
        fail(
            &format!(
                "{scenario}: add {} entries to a {block_size}-byte block",
                candidates.len()
            ),
            "add to return false once the block is full",
            "every add returned true",
            BOOK_BUILD,
        );
    };
    let block = builder.build();
    let encoded_len = block.encode().len();
    if accepted.len() > 1 && encoded_len > block_size {
        fail(
            &format!("{scenario}: a block of {} entries", accepted.len()),
            format!("encoded length <= block_size {block_size}"),
            encoded_len,
            BOOK_BUILD,
        );
    }
    // The refused entry did not fit: the block plus that entry (with generous room for its
    // lengths, kind byte and offset) must come near the limit, so `add` did not give up early.
    let refused_size = refused_key.len() + refused_value.as_ref().map_or(0, Vec::len);
    if encoded_len + refused_size + 32 <= block_size {
        fail(
            &format!(
                "{scenario}: add refused an entry of {refused_size} key+value bytes after {} entries",
                accepted.len()
            ),
            format!(
                "the block to be nearly full (over {} bytes)",
                block_size - refused_size - 32
            ),
            format!("{encoded_len} bytes"),
            BOOK_BUILD,
        );
    }
    // Counted before encoding, so that a refused add that left an offset behind is named as such
    // rather than as the decode error it causes.
    check_eq(
        block.len(),
        accepted.len(),
        &format!(
            "{scenario}: len() of the built block after {} accepted adds and a refused one (a \
             refused add writes nothing, not even its offset)",
            accepted.len()
        ),
        BOOK_BUILD,
    );
    let decoded = round_trip(&block, scenario);
    check_iter(
        &mut iter_first(&decoded),
        &accepted,
        &format!(
            "{scenario}: the block holds exactly the accepted entries (a refused add adds nothing)"
        ),
        BOOK_BUILD,
    );
}

#[rstest]
#[case::block_64(64)]
#[case::block_128(128)]
#[case::block_1000(1000)]
#[case::block_4096(4096)]
fn builder_refuses_entries_past_block_size(#[case] block_size: usize) {
    let candidates: Entries = (0..1000).map(|i| (key(i), Some(value(i, 0)))).collect();
    fill_and_check(
        &candidates,
        block_size,
        &format!("fill a {block_size}-byte block with key_NNNNN=value_NNNNN_0"),
    );
}

#[rstest]
#[case::seed_1_block_512(1, 512)]
#[case::seed_2_block_4096(2, 4096)]
#[case::seed_3_block_4096(3, 4096)]
fn builder_refuses_random_size_entries_past_block_size(
    #[case] seed: u64,
    #[case] block_size: usize,
) {
    let mut rng = Rng::new(seed);
    let candidates: Entries = (0..2000)
        .map(|i| {
            let v = (rng.below(5) != 0).then(|| random_bytes(&mut rng, 0, 300));
            (key(i), v)
        })
        .collect();
    fill_and_check(
        &candidates,
        block_size,
        &format!("fill a {block_size}-byte block with random-size values (seed {seed})"),
    );
}

#[test]
fn block_never_exceeds_block_size_at_any_limit() {
    // Every limit from 16 to 600 bytes, so that some limit falls inside every entry's size: a
    // builder that forgets part of an entry's cost (say its offset) overshoots at one of them.
    for block_size in 16..=600 {
        let mut rng = Rng::new(block_size as u64);
        let candidates: Entries = (0..200)
            .map(|i| (key(i), Some(random_bytes(&mut rng, 0, 24))))
            .collect();
        fill_and_check(
            &candidates,
            block_size,
            &format!("fill a {block_size}-byte block with random-size values (seed {block_size})"),
        );
    }
}

/// Adds `entries` to a builder of `block_size` bytes and returns what each `add` returned.
fn add_results(entries: &Entries, block_size: usize) -> Vec<bool> {
    let mut builder = BlockBuilder::new(block_size);
    entries
        .iter()
        .map(|(k, v)| builder.add(k, v.as_deref()))
        .collect()
}

#[rstest]
#[case::spaced_entries(spaced_entries())]
#[case::value_empty_value_tombstone(mixed_entries())]
#[case::binary_keys(entries(&[("\u{0}", Some("a")), ("\u{0}\u{0}", None), ("b", Some("")), ("bb", Some("long value"))]))]
fn add_accepts_an_entry_that_exactly_fits_and_refuses_it_one_byte_short(#[case] expected: Entries) {
    // The limits come from the encoded lengths themselves, so this holds for any block format.
    for n in 2..=expected.len() {
        let prefix: Entries = expected[..n].to_vec();
        let exact = build(&prefix, ROOMY, "measure a block").encode().len();
        let all_accepted = vec![true; n];
        check_eq(
            add_results(&prefix, exact),
            all_accepted.clone(),
            &format!("add {n} entries whose block encodes to exactly block_size = {exact} bytes"),
            BOOK_BUILD,
        );
        let mut last_refused = all_accepted;
        last_refused[n - 1] = false;
        check_eq(
            add_results(&prefix, exact - 1),
            last_refused,
            &format!(
                "add {n} entries whose block encodes to {exact} bytes into block_size = {}",
                exact - 1
            ),
            BOOK_BUILD,
        );
    }
}

#[test]
fn oversized_first_entry_is_accepted_alone() {
    let big_value = vec![b'v'; 1000];
    let mut builder = BlockBuilder::new(64);
    check_eq(
        builder.add(b"big", Some(&big_value)),
        true,
        "add a 1003-byte first entry to an empty 64-byte block",
        BOOK_BUILD,
    );
    check_eq(
        builder.add(b"small", Some(b"x")),
        false,
        "add a small second entry after an oversized first one",
        BOOK_BUILD,
    );
    let block = round_trip(&builder.build(), "oversized single entry");
    let expected: Entries = vec![(b"big".to_vec(), Some(big_value))];
    check_iter(
        &mut iter_first(&block),
        &expected,
        "a block with one oversized entry holds just that entry",
        BOOK_BUILD,
    );

    let mut tiny = BlockBuilder::new(0);
    check_eq(
        tiny.add(b"k", None),
        true,
        "add a tombstone as the first entry of a 0-byte block",
        BOOK_BUILD,
    );
    let tiny = round_trip(&tiny.build(), "one tombstone in a 0-byte block");
    check_iter(
        &mut iter_first(&tiny),
        &entries(&[("k", None)]),
        "a 0-byte block still holds its first entry",
        BOOK_BUILD,
    );
}

// ---------------------------------------------------------------------------------------------
// Values, tombstones and keys at the edges
// ---------------------------------------------------------------------------------------------

#[test]
fn empty_values_and_tombstones_survive_round_trip() {
    let expected = entries(&[
        ("a", Some("")),
        ("b", None),
        ("c", Some("x")),
        ("d", Some("")),
        ("e", None),
    ]);
    let block = round_trip(
        &build(&expected, ROOMY, "empty values and tombstones"),
        "empty values and tombstones",
    );
    check_iter(
        &mut iter_first(&block),
        &expected,
        "empty values stay Some(\"\") and tombstones stay None after decode",
        BOOK_FORMAT,
    );
    for (k, _) in &expected {
        check_seek(
            &block,
            &expected,
            k,
            "seek onto an empty value or a tombstone",
        );
    }
}

/// A cheap fingerprint of a key for messages about keys too long to print.
fn fingerprint(bytes: &[u8]) -> String {
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    format!("{} bytes, fnv {hash:016x}", bytes.len())
}

#[test]
fn keys_at_max_key_len_round_trip() {
    let mut last_differs = vec![b'k'; MAX_KEY_LEN];
    last_differs[MAX_KEY_LEN - 1] = b'l';
    let expected: Entries = vec![
        (b"a".to_vec(), Some(b"short key".to_vec())),
        (vec![b'k'; MAX_KEY_LEN], Some(b"v".to_vec())),
        (last_differs, None),
        (vec![0xff; MAX_KEY_LEN], Some(Vec::new())),
    ];
    let block = round_trip(
        &build(&expected, ROOMY, "MAX_KEY_LEN keys"),
        "MAX_KEY_LEN keys",
    );
    let seen = ok(
        drain(
            &mut iter_first(&block),
            "iterate MAX_KEY_LEN keys",
            BOOK_FORMAT,
        ),
        "iterate MAX_KEY_LEN keys",
        BOOK_FORMAT,
    );
    let summary = |list: &Entries| -> Vec<String> {
        list.iter()
            .map(|(k, v)| format!("{}={}", fingerprint(k), show_value(v.as_deref())))
            .collect()
    };
    check_eq(
        summary(&seen),
        summary(&expected),
        &format!("keys of MAX_KEY_LEN = {MAX_KEY_LEN} bytes come back whole"),
        BOOK_FORMAT,
    );
    for (i, (k, _)) in expected.iter().enumerate() {
        let iter = BlockIterator::create_and_seek_to_key(Arc::new(block.clone()), k);
        let landed = iter.is_valid().then(|| fingerprint(iter.key()));
        check_eq(
            landed,
            Some(fingerprint(k)),
            &format!("seek to the exact key of entry {i}"),
            BOOK_SEEK,
        );
    }
}

#[test]
fn binary_keys_with_zero_and_ff_bytes_round_trip_and_seek() {
    let keys: [&[u8]; 8] = [
        b"\x00",
        b"\x00\x00",
        b"\x00\xff",
        b"\x01",
        b"a\x00b",
        b"\xff",
        b"\xff\x00",
        b"\xff\xff\xff",
    ];
    let expected: Entries = keys
        .iter()
        .enumerate()
        .map(|(i, k)| (k.to_vec(), Some(vec![0xff - i as u8, 0x00])))
        .collect();
    let block = round_trip(&build(&expected, ROOMY, "binary keys"), "binary keys");
    check_iter(
        &mut iter_first(&block),
        &expected,
        "iterate binary keys",
        BOOK_FORMAT,
    );
    let targets: [&[u8]; 7] = [
        b"",
        b"\x00",
        b"\x00\x01",
        b"\x00\xff\x00",
        b"a",
        b"\xff\x00\x00",
        b"\xff\xff\xff\xff",
    ];
    for target in targets.iter().chain(keys.iter()) {
        check_seek(&block, &expected, target, "binary keys");
    }
}

#[test]
fn many_random_entries_round_trip_and_seek() {
    let mut rng = Rng::new(0x5eed_0001);
    let mut map: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
    while map.len() < 200 {
        let k = random_bytes(&mut rng, 1, 40);
        let v = (rng.below(6) != 0).then(|| random_bytes(&mut rng, 0, 120));
        map.insert(k, v);
    }
    let expected: Entries = map.into_iter().collect();
    let block = round_trip(
        &build(&expected, ROOMY, "200 random entries"),
        "200 random entries",
    );
    check_iter_compact(
        &mut iter_first(&block),
        &expected,
        "iterate 200 random entries (seed 0x5eed0001)",
        BOOK_SEEK,
    );
    for (i, (k, _)) in expected.iter().enumerate().step_by(17) {
        check_seek(
            &block,
            &expected,
            k,
            &format!("200 random entries: exact key of entry {i}"),
        );
    }
    for _ in 0..20 {
        let target = random_bytes(&mut rng, 0, 40);
        check_seek(
            &block,
            &expected,
            &target,
            "200 random entries: random target",
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Untrusted bytes
// ---------------------------------------------------------------------------------------------

#[test]
fn empty_input_is_corruption() {
    // Decode a good block first, so a decoder that rejects everything cannot pass.
    let block = build(&mixed_entries(), ROOMY, "mixed entries");
    round_trip(&block, "mixed entries");
    expect_corruption(&[], "empty input");
}

#[rstest]
#[case::one_entry(entries(&[("k", Some("v"))]))]
#[case::value_empty_value_tombstone(mixed_entries())]
#[case::ten_spaced_entries(spaced_entries())]
fn every_truncation_of_an_encoded_block_is_corruption(#[case] expected: Entries) {
    let block = build(&expected, ROOMY, "block to truncate");
    let encoded = round_trip(&block, "block to truncate").encode();
    for len in 0..encoded.len() {
        expect_corruption(
            &encoded[..len],
            &format!(
                "first {len} of {} bytes of {}",
                encoded.len(),
                show_entries(&expected)
            ),
        );
    }
}

/// For three small blocks, replaces the `index`-th trailer `u32` from the end (see
/// [`with_trailer_u32`]) by `bad(entry_count, encoded_len)` and checks decode reports corruption.
#[track_caller]
fn expect_trailer_tamper_rejected(index: usize, what: &str, bad: fn(u32, u32) -> u32) {
    for expected in [
        entries(&[("k", Some("v"))]),
        mixed_entries(),
        spaced_entries(),
    ] {
        let block = build(&expected, ROOMY, "block to tamper with");
        let encoded = round_trip(&block, "block to tamper with").encode();
        let value = bad(expected.len() as u32, encoded.len() as u32);
        expect_corruption(
            &with_trailer_u32(&encoded, index, value),
            &format!(
                "{what} replaced by {value} in a {}-byte block of {}",
                encoded.len(),
                show_entries(&expected)
            ),
        );
    }
}

#[rstest]
#[case::count_zero(|_n: u32, _len: u32| 0)]
#[case::count_one_too_many(|n: u32, _len: u32| n + 1)]
#[case::count_larger_than_the_block(|_n: u32, len: u32| len)]
#[case::count_u32_max(|_n: u32, _len: u32| u32::MAX)]
fn bad_entry_count_is_corruption(#[case] count: fn(u32, u32) -> u32) {
    expect_trailer_tamper_rejected(0, "the entry count", count);
}

#[rstest]
#[case::offset_u32_max(|_n: u32, _len: u32| u32::MAX)]
#[case::offset_at_the_block_end(|_n: u32, len: u32| len)]
#[case::offset_past_the_block_end(|_n: u32, len: u32| len + 1)]
#[case::offset_high_bit(|_n: u32, _len: u32| 0x8000_0000)]
fn entry_offset_outside_the_block_is_corruption(#[case] offset: fn(u32, u32) -> u32) {
    expect_trailer_tamper_rejected(1, "the last entry offset", offset);
}

#[rstest]
#[case::ff_bytes(0xff)]
#[case::zero_bytes(0x00)]
#[case::small_bytes(0x03)]
fn overwritten_bytes_never_make_decode_or_iteration_panic(#[case] fill: u8) {
    let expected = mixed_entries();
    let block = build(&expected, ROOMY, "block to overwrite");
    let encoded = round_trip(&block, "block to overwrite").encode();
    for start in 0..encoded.len() {
        for width in [1, 2, 4] {
            let end = (start + width).min(encoded.len());
            let mut damaged = encoded.to_vec();
            damaged[start..end].fill(fill);
            let scenario = format!(
                "bytes {start}..{end} of {} set to {fill:#04x}",
                encoded.len()
            );
            if let Ok(decoded) = decode_no_panic(&damaged, "Ok or Corruption", &scenario) {
                let walked = catch_unwind(AssertUnwindSafe(|| walk_without_contract(&decoded)));
                if let Err(payload) = walked {
                    fail(
                        &format!("{scenario}: iterate the block decode accepted"),
                        "no panic (decode must reject what iteration cannot read)",
                        format!("panic: {}", panic_text(payload.as_ref())),
                        BOOK_UNTRUSTED,
                    );
                }
            }
        }
    }
}

/// One hand-made entry, written field by field as the block format table says (the entry
/// layout is the same on every day; day 7 only starts using `overlap`). `value` is written with
/// its length whatever the kind, so that a tombstone can be given a value.
struct RawEntry {
    kind: u8,
    overlap: u16,
    rest: Vec<u8>,
    value: Vec<u8>,
}

fn raw_entry(kind: u8, overlap: u16, rest: &[u8], value: &[u8]) -> RawEntry {
    RawEntry {
        kind,
        overlap,
        rest: rest.to_vec(),
        value: value.to_vec(),
    }
}

impl RawEntry {
    /// The entry's bytes, field by field.
    fn encode(&self) -> Vec<u8> {
        let mut raw = vec![self.kind];
        raw.extend_from_slice(&self.overlap.to_le_bytes());
        raw.extend_from_slice(&(self.rest.len() as u16).to_le_bytes());
        raw.extend_from_slice(&self.rest);
        raw.extend_from_slice(&(self.value.len() as u32).to_le_bytes());
        raw.extend_from_slice(&self.value);
        raw
    }
}

/// A block of hand-made `entries`: the entries, their offsets, their count.
fn raw_block(entries: &[RawEntry]) -> Vec<u8> {
    let mut data = Vec::new();
    let mut offsets = Vec::new();
    for entry in entries {
        offsets.push(data.len() as u32);
        data.extend_from_slice(&entry.encode());
    }
    block_of_parts(data, &offsets)
}

/// A block of a hand-made data area and offset array (and their count).
fn block_of_parts(mut data: Vec<u8>, offsets: &[u32]) -> Vec<u8> {
    for offset in offsets {
        data.extend_from_slice(&offset.to_le_bytes());
    }
    data.extend_from_slice(&(offsets.len() as u32).to_le_bytes());
    data
}

#[test]
fn hand_made_block_in_the_documented_format_decodes() {
    // kind 0 = value, kind 1 = tombstone; overlap 0 and the whole key in `rest` is valid on
    // every day.
    let raw = raw_block(&[
        raw_entry(0, 0, b"a", b"x"),
        raw_entry(1, 0, b"b", b""),
        raw_entry(0, 0, b"c", b""),
    ]);
    let scenario = "decode a hand-made block a=x, b deleted, c=\"\"";
    let block = match decode_no_panic(&raw, "Ok(block)", scenario) {
        Ok(block) => block,
        Err(e) => fail(scenario, "Ok(block)", format!("Err({e:?})"), BOOK_FORMAT),
    };
    check_iter(
        &mut iter_first(&block),
        &entries(&[("a", Some("x")), ("b", None), ("c", Some(""))]),
        scenario,
        BOOK_FORMAT,
    );
}

#[rstest]
#[case::first_key_empty(vec![raw_entry(0, 0, b"", b"x")])]
#[case::later_key_empty(vec![raw_entry(0, 0, b"a", b"x"), raw_entry(0, 0, b"", b"y")])]
#[case::first_entry_overlap_not_0(vec![raw_entry(0, 1, b"a", b"x")])]
#[case::overlap_longer_than_the_first_key(vec![raw_entry(0, 0, b"a", b"x"), raw_entry(0, 2, b"b", b"y")])]
#[case::key_one_byte_over_max_key_len(vec![
    raw_entry(0, 0, &[b'k'; MAX_KEY_LEN], b"x"),
    raw_entry(0, MAX_KEY_LEN as u16, b"z", b"y"),
])]
#[case::unknown_kind(vec![raw_entry(7, 0, b"a", b"x")])]
#[case::tombstone_with_a_value(vec![raw_entry(1, 0, b"a", b"x")])]
fn entry_breaking_a_format_rule_is_corruption(#[case] entries: Vec<RawEntry>) {
    // Each block is well formed but for the one rule its case names (see "Decoding untrusted
    // bytes", step 4).
    let raw = raw_block(&entries);
    let keys: Vec<String> = entries
        .iter()
        .map(|e| {
            format!(
                "(kind {}, overlap {}, rest {})",
                e.kind,
                e.overlap,
                show_input(&e.rest)
            )
        })
        .collect();
    expect_corruption(&raw, &format!("entries {}", keys.join(", ")));
}

/// How a case lays out the data area: the bytes, and the offset of each entry.
type Layout = fn() -> (Vec<u8>, Vec<u32>);

/// Every entry of these blocks parses on its own and lies inside the data area, but the entries
/// do not tile it: bytes no entry owns, or bytes two entries share. Such a block was not written
/// by a builder, so decode must reject it (see "Decoding untrusted bytes", step 4: each entry
/// ends exactly where the next begins, the last where the offset array begins).
#[rstest]
#[case::two_junk_bytes_between_two_entries(|| {
    let (a, b) = (raw_entry(0, 0, b"a", b"x").encode(), raw_entry(0, 0, b"b", b"y").encode());
    let offsets = vec![0, a.len() as u32 + 2];
    ([a, vec![0xee; 2], b].concat(), offsets)
})]
#[case::junk_after_the_last_entry(|| {
    let (a, b) = (raw_entry(0, 0, b"a", b"x").encode(), raw_entry(0, 0, b"b", b"y").encode());
    let offsets = vec![0, a.len() as u32];
    ([a, b, vec![0xee; 3]].concat(), offsets)
})]
#[case::second_entry_inside_the_first_entrys_value(|| {
    // Entry 0's value is the bytes of a whole entry "b" = "y", and offset 1 points at them.
    let inner = raw_entry(0, 0, b"b", b"y").encode();
    let outer = raw_entry(0, 0, b"a", &inner).encode();
    let offsets = vec![0, (outer.len() - inner.len()) as u32];
    (outer, offsets)
})]
#[case::one_entry_listed_twice(|| {
    let (a, b) = (raw_entry(0, 0, b"a", b"x").encode(), raw_entry(0, 0, b"b", b"y").encode());
    let offsets = vec![0, a.len() as u32, a.len() as u32];
    ([a, b].concat(), offsets)
})]
fn entries_that_leave_a_gap_or_overlap_in_the_data_area_are_corruption(#[case] layout: Layout) {
    // A block whose entries do tile the data area first, so a decoder that rejects everything
    // cannot pass.
    let good = raw_block(&[raw_entry(0, 0, b"a", b"x"), raw_entry(0, 0, b"b", b"y")]);
    if let Err(e) = decode_no_panic(&good, "Ok(block)", "decode a hand-made block a=x, b=y") {
        fail(
            "decode a hand-made block a=x, b=y",
            "Ok(block)",
            format!("Err({e:?})"),
            BOOK_FORMAT,
        );
    }
    let (data, offsets) = layout();
    let scenario = format!(
        "a {}-byte data area with entry offsets {offsets:?}: the entries do not tile it",
        data.len()
    );
    expect_corruption(&block_of_parts(data, &offsets), &scenario);
}
