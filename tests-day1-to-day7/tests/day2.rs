//! Day 2 graded tests: sorted string tables (book: `day2-sst.md`).
//!
//! Covers `SsTableBuilder` (cutting blocks by size, odd block boundaries from entries of varying
//! sizes, an entry larger than a block, the empty table being an invalid argument), the block index
//! (every block's first and last key against the block's real contents, the table's first and last
//! key, block offsets, reopening from the file), `SsTable::find_block_idx` (exact keys, gaps inside
//! and between blocks, before the first and after the last key), `SsTableIterator` (full
//! iteration with tombstones and empty values, seeks everywhere, `seek_to_first` after iterating,
//! a single-entry table), and corruption: every flipped bit of a small SST, every truncation, and
//! files that are not SSTs are `Error::Corruption` naming the file, never a panic and never wrong
//! data.
//!
//! Every table is opened without a block cache (`None`): the cache is day 4.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rstest::rstest;
use tests_day1_to_day7::lsm::block::BlockIterator;
use tests_day1_to_day7::lsm::error::{Error, Result};
use tests_day1_to_day7::lsm::iterators::StorageIterator;
use tests_day1_to_day7::lsm::table::{
    BlockMeta, FOOTER_SIZE, FileObject, SsTable, SsTableBuilder, SsTableIterator,
};
use tests_day1_to_day7::*;

const BOOK_FORMAT: &str = "day2-sst.md#sst-format";
const BOOK_BUILD: &str = "day2-sst.md#building-an-sst";
const BOOK_INDEX: &str = "day2-sst.md#the-block-index";
const BOOK_ITER: &str = "day2-sst.md#iterating-an-sst";
const BOOK_CORRUPTION: &str = "day2-sst.md#checksums-and-corruption";

/// Number of entries in the varied tables.
const VARIED_ENTRIES: usize = 120;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Entries of irregular sizes, so block boundaries fall at irregular places: keys `key_{2i}`
/// followed by 0..12 letters, values of 0..60 arbitrary bytes, with tombstones and empty values
/// mixed in. The odd keys `key_{2i+1}` fall in the gap after entry `i`.
fn varied_entries(seed: u64, n: usize) -> Entries {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|i| {
            let mut k = key(2 * i);
            let suffix_len = rng.below(12);
            k.extend((0..suffix_len).map(|_| b'a' + rng.below(26) as u8));
            let v = match rng.below(8) {
                0 => None,
                1 => Some(Vec::new()),
                _ => {
                    let len = 1 + rng.below(60);
                    Some((0..len).map(|_| rng.below(256) as u8).collect())
                }
            };
            (k, v)
        })
        .collect()
}

/// `n` entries of the same shape: `key(i)` -> `value(i, 0)`.
fn uniform_entries(n: usize) -> Entries {
    (0..n).map(|i| (key(i), Some(value(i, 0)))).collect()
}

/// The key that falls in the gap right after entry `i` of [`varied_entries`].
fn gap_after(i: usize) -> Vec<u8> {
    key(2 * i + 1)
}

/// `k` followed by a zero byte: the smallest key greater than `k`.
fn just_after(k: &[u8]) -> Vec<u8> {
    let mut next = k.to_vec();
    next.push(0);
    next
}

/// Builds an SST of `entries` at `dir/name` and returns it opened, with its path.
fn build_sst(
    dir: &Path,
    name: &str,
    block_size: usize,
    entries: &Entries,
) -> (Arc<SsTable>, PathBuf) {
    let mut builder = SsTableBuilder::new(block_size);
    for (k, v) in entries {
        builder.add(k, v.as_deref());
    }
    let path = dir.join(name);
    let scenario = format!(
        "build an SST of {} entries with block_size {block_size}",
        entries.len()
    );
    let table = ok(builder.build(1, None, &path), &scenario, BOOK_BUILD);
    (Arc::new(table), path)
}

/// Each block's entries, read back with `read_block` and a `BlockIterator`.
fn blocks_of(table: &SsTable, scenario: &str) -> Vec<Entries> {
    (0..table.num_blocks())
        .map(|i| {
            let scenario = format!("{scenario}: read block {i}");
            let block = ok(table.read_block(i), &scenario, BOOK_FORMAT);
            let mut iter = BlockIterator::create_and_seek_to_first(block);
            let entries = ok(
                drain(&mut iter, &scenario, BOOK_FORMAT),
                &scenario,
                BOOK_FORMAT,
            );
            if entries.is_empty() {
                fail(
                    &scenario,
                    "at least one entry",
                    "an empty block",
                    BOOK_FORMAT,
                );
            }
            entries
        })
        .collect()
}

/// Checks two entry lists are equal, showing both as escaped bytes on failure.
#[track_caller]
fn check_entries(actual: &Entries, expected: &Entries, scenario: &str, book: &str) {
    if actual != expected {
        fail_entries(scenario, expected, actual, book);
    }
}

/// The entries of `entries` whose key is `>= probe`: what a seek to `probe` must yield.
fn suffix_from(entries: &Entries, probe: &[u8]) -> Entries {
    entries
        .iter()
        .filter(|(k, _)| k.as_slice() >= probe)
        .cloned()
        .collect()
}

/// The index of the first block whose last key is `>= probe` (the documented contract of
/// `find_block_idx`), computed from the blocks' real contents.
fn expected_block_idx(blocks: &[Entries], probe: &[u8]) -> usize {
    blocks
        .iter()
        .position(|b| b.last().is_some_and(|(k, _)| k.as_slice() >= probe))
        .unwrap_or(blocks.len())
}

/// A built table with its input and its blocks read back.
struct Fixture {
    _dir: tempfile::TempDir,
    table: Arc<SsTable>,
    path: PathBuf,
    entries: Entries,
    blocks: Vec<Entries>,
}

/// A table of `n` [`varied_entries`] from `seed`, cut into blocks of `block_size`.
fn varied_table(seed: u64, n: usize, block_size: usize) -> Fixture {
    table_of(varied_entries(seed, n), block_size)
}

/// A table of `entries` cut into blocks of `block_size`.
fn table_of(entries: Entries, block_size: usize) -> Fixture {
    let dir = temp_dir();
    let (table, path) = build_sst(dir.path(), "table.sst", block_size, &entries);
    let blocks = blocks_of(&table, &format!("table with block_size {block_size}"));
    Fixture {
        _dir: dir,
        table,
        path,
        entries,
        blocks,
    }
}

/// Checks that a seek to `probe` yields exactly the entries `>= probe`, then ends.
#[track_caller]
fn check_seek(table: &Arc<SsTable>, entries: &Entries, probe: &[u8], scenario: &str) {
    let scenario = format!("{scenario}: create_and_seek_to_key({})", show(probe));
    let mut iter = ok(
        SsTableIterator::create_and_seek_to_key(table.clone(), probe),
        &scenario,
        BOOK_ITER,
    );
    check_iter(
        &mut iter,
        &suffix_from(entries, probe),
        &scenario,
        BOOK_ITER,
    );
}

/// Checks `find_block_idx(probe)` against the blocks' real contents.
#[track_caller]
fn check_find_block(table: &SsTable, blocks: &[Entries], probe: &[u8], scenario: &str) {
    check_eq(
        table.find_block_idx(probe),
        expected_block_idx(blocks, probe),
        &format!(
            "{scenario}: find_block_idx({}) in a table of {} blocks",
            show(probe),
            blocks.len()
        ),
        BOOK_INDEX,
    );
}

/// The boundaries between blocks: `(last key of block b, first key of block b + 1)`.
fn boundaries(blocks: &[Entries]) -> Vec<(Vec<u8>, Vec<u8>)> {
    blocks
        .windows(2)
        .map(|pair| (pair[0][pair[0].len() - 1].0.clone(), pair[1][0].0.clone()))
        .collect()
}

/// Fails unless the table has at least `min` blocks (so that the test exercises boundaries).
#[track_caller]
fn require_blocks(table: &SsTable, min: usize, scenario: &str) {
    if table.num_blocks() < min {
        fail(
            &format!("{scenario}: small block_size must cut many blocks"),
            format!("at least {min} blocks"),
            table.num_blocks(),
            BOOK_BUILD,
        );
    }
}

/// What loading a possibly damaged file gave: its entries, an error, or a panic message.
type Loaded = std::result::Result<Result<Entries>, String>;

/// Opens the file at `path` as an SST, reads every block and iterates it to the end, catching
/// panics. No contract checks run inside, so damaged data shows up as a wrong result.
fn load_everything(path: &Path) -> Loaded {
    catch_unwind(AssertUnwindSafe(|| -> Result<Entries> {
        let table = Arc::new(SsTable::open(7, None, FileObject::open(path)?)?);
        for i in 0..table.num_blocks() {
            table.read_block(i)?;
        }
        let mut iter = SsTableIterator::create_and_seek_to_first(table)?;
        let mut seen = Entries::new();
        while iter.is_valid() && seen.len() <= 100_000 {
            seen.push((iter.key().to_vec(), iter.value().map(<[u8]>::to_vec)));
            iter.next()?;
        }
        Ok(seen)
    }))
    .map_err(|payload| {
        payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "a panic".to_string())
    })
}

/// Checks that loading `path` failed with `Error::Corruption` naming `path`: not a panic, not
/// another error, and not a success (`original` is what the undamaged table holds).
#[track_caller]
fn check_corruption(loaded: Loaded, path: &Path, original: &Entries, scenario: &str) {
    let expected = Raw(format!("Err(Corruption {{ file: Some({path:?}), .. }})"));
    match loaded {
        Err(panic) => fail(
            scenario,
            expected,
            Raw(format!("a panic: {panic}")),
            BOOK_CORRUPTION,
        ),
        Ok(Ok(seen)) if &seen == original => fail(
            scenario,
            expected,
            Raw(
                "Ok: open, read_block and a full iteration all succeeded (the damage was not \
                 caught by a checksum)"
                    .to_string(),
            ),
            BOOK_CORRUPTION,
        ),
        Ok(Ok(seen)) => fail(
            scenario,
            expected,
            Raw(format!(
                "Ok with silently wrong data: {}",
                show_entries(&seen)
            )),
            BOOK_CORRUPTION,
        ),
        Ok(Err(Error::Corruption {
            file: Some(file), ..
        })) if file == path => {}
        Ok(Err(other)) => fail(
            scenario,
            expected,
            Raw(format!("Err({other:?})")),
            BOOK_CORRUPTION,
        ),
    }
}

/// A small SST (3 blocks, a few hundred bytes, with a tombstone and an empty value) for the
/// corruption sweeps: its bytes and its entries.
fn small_sst_bytes(dir: &Path) -> (Vec<u8>, Entries) {
    let mut entries = uniform_entries(8);
    entries[3].1 = None;
    entries[5].1 = Some(Vec::new());
    let (table, path) = build_sst(dir, "original.sst", 128, &entries);
    require_blocks(&table, 2, "the small SST for the corruption sweep");
    let bytes = std::fs::read(&path).expect("read the SST file back");
    // Sanity check of the undamaged file, so the sweep compares against a known-good load.
    let loaded = load_everything(&path);
    if !matches!(&loaded, Ok(Ok(seen)) if *seen == entries) {
        fail(
            "load the undamaged small SST",
            show_entries(&entries),
            format!("{:?}", loaded.map(|r| r.map(|e| show_entries(&e)))),
            BOOK_CORRUPTION,
        );
    }
    (bytes, entries)
}

// ---------------------------------------------------------------------------------------------
// Building: block cutting, block metas, table keys, reopening
// ---------------------------------------------------------------------------------------------

/// Uniform ~33-byte entries with a small block size: every block fits the size (unless it holds
/// a single entry), every block but the last is more than half full (the builder fills a block
/// before cutting), and the blocks hold the input in order.
#[rstest]
#[case(64)]
#[case(128)]
#[case(200)]
#[case(256)]
fn blocks_are_cut_by_size(#[case] block_size: usize) {
    let fx = table_of(uniform_entries(60), block_size);
    let scenario = format!("60 entries of ~33 bytes, block_size {block_size}");
    require_blocks(&fx.table, 6, &scenario);
    let last = fx.blocks.len() - 1;
    for (i, (meta, block)) in fx.table.block_meta().iter().zip(&fx.blocks).enumerate() {
        let len = meta.len as usize;
        let encoded = ok(fx.table.read_block(i), &scenario, BOOK_FORMAT)
            .encode()
            .len();
        check_eq(
            len,
            encoded,
            &format!("{scenario}: block_meta()[{i}].len is the encoded block's length"),
            BOOK_FORMAT,
        );
        if block.len() > 1 && len > block_size {
            fail(
                &format!("{scenario}: block {i} of {} entries", block.len()),
                format!("an encoded length <= {block_size}"),
                len,
                BOOK_BUILD,
            );
        }
        if i < last && len * 2 <= block_size {
            fail(
                &format!("{scenario}: block {i} (not the last) must be filled before cutting"),
                format!("an encoded length > {}", block_size / 2),
                len,
                BOOK_BUILD,
            );
        }
    }
    check_entries(
        &fx.blocks.concat(),
        &fx.entries,
        &format!("{scenario}: the blocks in order hold the input"),
        BOOK_BUILD,
    );
}

/// Blocks lie in the file in order, without overlapping, all before the meta section.
#[rstest]
#[case(11, 64)]
#[case(12, 150)]
fn block_offsets_increase_and_lie_before_the_meta_section(
    #[case] seed: u64,
    #[case] block_size: usize,
) {
    let fx = varied_table(seed, VARIED_ENTRIES, block_size);
    let scenario = format!("varied entries (seed {seed}), block_size {block_size}");
    require_blocks(&fx.table, 4, &scenario);
    let mut end = 0;
    for (i, meta) in fx.table.block_meta().iter().enumerate() {
        if meta.offset < end || meta.len == 0 {
            fail(
                &format!("{scenario}: block_meta()[{i}]"),
                format!("a non-empty block at offset >= {end}, after the previous block"),
                meta,
                BOOK_FORMAT,
            );
        }
        end = meta.offset + u64::from(meta.len);
    }
    if end > fx.table.block_meta_offset() {
        fail(
            &format!("{scenario}: end of the last block"),
            format!("<= block_meta_offset() = {}", fx.table.block_meta_offset()),
            end,
            BOOK_FORMAT,
        );
    }
}

/// Each block's recorded first and last key equal the first and last key actually stored in it
/// (a builder recording the next block's first key, or the previous block's last key, fails).
#[rstest]
#[case(1, 64)]
#[case(2, 100)]
#[case(3, 128)]
#[case(4, 256)]
fn block_meta_keys_are_each_blocks_real_first_and_last_key(
    #[case] seed: u64,
    #[case] block_size: usize,
) {
    let fx = varied_table(seed, VARIED_ENTRIES, block_size);
    let scenario = format!("varied entries (seed {seed}), block_size {block_size}");
    require_blocks(&fx.table, 4, &scenario);
    check_eq(
        fx.table.block_meta().len(),
        fx.blocks.len(),
        &format!("{scenario}: block_meta().len() == num_blocks()"),
        BOOK_INDEX,
    );
    for (i, (meta, block)) in fx.table.block_meta().iter().zip(&fx.blocks).enumerate() {
        let (first, last) = (&block[0].0, &block[block.len() - 1].0);
        check_eq(
            Shown(Some(meta.first_key.to_vec())),
            Shown(Some(first.clone())),
            &format!("{scenario}: block_meta()[{i}].first_key vs block {i}'s first entry"),
            BOOK_INDEX,
        );
        check_eq(
            Shown(Some(meta.last_key.to_vec())),
            Shown(Some(last.clone())),
            &format!("{scenario}: block_meta()[{i}].last_key vs block {i}'s last entry"),
            BOOK_INDEX,
        );
    }
}

/// The table's first and last key are the smallest and largest key of the input.
#[rstest]
#[case(5, 64)]
#[case(6, 200)]
fn table_first_and_last_key_are_the_smallest_and_largest_keys(
    #[case] seed: u64,
    #[case] block_size: usize,
) {
    let fx = varied_table(seed, VARIED_ENTRIES, block_size);
    let scenario = format!("varied entries (seed {seed}), block_size {block_size}");
    check_eq(
        Shown(Some(fx.table.first_key().to_vec())),
        Shown(Some(fx.entries[0].0.clone())),
        &format!("{scenario}: first_key()"),
        BOOK_INDEX,
    );
    check_eq(
        Shown(Some(fx.table.last_key().to_vec())),
        Shown(Some(fx.entries[fx.entries.len() - 1].0.clone())),
        &format!("{scenario}: last_key()"),
        BOOK_INDEX,
    );
}

/// `next` on the last entry of a block moves on to the first entry of the next block, at every
/// block boundary: when the current block's iterator runs out, `SsTableIterator::next` loads the
/// next block, and the iterator is invalid only after the last entry of the last block.
#[test]
fn next_on_the_last_entry_of_a_block_moves_to_the_next_blocks_first_entry() {
    let fx = table_of(uniform_entries(40), 128);
    let scenario = "40 entries key(i) -> value(i, 0), block_size 128";
    require_blocks(&fx.table, 3, scenario);
    let mut iter = ok(
        SsTableIterator::create_and_seek_to_first(fx.table.clone()),
        scenario,
        BOOK_ITER,
    );
    let mut previous: Option<Vec<u8>> = None;
    for (b, block) in fx.blocks.iter().enumerate() {
        for (i, (k, _)) in block.iter().enumerate() {
            if !iter.is_valid() || iter.key() != k.as_slice() {
                let got = if iter.is_valid() {
                    format!("key {}", show(iter.key()))
                } else {
                    "an invalid iterator".to_string()
                };
                let at = match &previous {
                    None => "create_and_seek_to_first".to_string(),
                    Some(p) if i == 0 => format!(
                        "next() on {}, the last entry of block {} of {}\nwhen the current block \
                         runs out, next must load the next block",
                        show(p),
                        b - 1,
                        fx.blocks.len()
                    ),
                    Some(p) => format!("next() on {} in block {b}", show(p)),
                };
                fail(
                    &format!("{scenario}: {at}"),
                    format!("key {} (entry {i} of block {b})", show(k)),
                    got,
                    BOOK_ITER,
                );
            }
            previous = Some(k.clone());
            ok(iter.next(), &format!("{scenario}: next()"), BOOK_ITER);
        }
    }
    check_eq(
        iter.is_valid(),
        false,
        &format!("{scenario}: is_valid() after next() on the last entry of the last block"),
        BOOK_ITER,
    );
}

/// `SsTable::open` of the file `build` wrote gives the same metas, keys and data.
#[rstest]
#[case(7, 64)]
#[case(8, 180)]
fn reopened_table_has_identical_metas_and_data(#[case] seed: u64, #[case] block_size: usize) {
    let fx = varied_table(seed, VARIED_ENTRIES, block_size);
    let scenario = format!("reopen varied entries (seed {seed}), block_size {block_size}");
    let file = ok(FileObject::open(&fx.path), &scenario, BOOK_FORMAT);
    let reopened = Arc::new(ok(SsTable::open(2, None, file), &scenario, BOOK_FORMAT));
    check_eq(
        reopened.block_meta(),
        fx.table.block_meta(),
        &format!("{scenario}: block_meta()"),
        BOOK_FORMAT,
    );
    check_eq(
        (reopened.first_key(), reopened.last_key()),
        (fx.table.first_key(), fx.table.last_key()),
        &format!("{scenario}: (first_key(), last_key())"),
        BOOK_FORMAT,
    );
    let reopened_blocks = blocks_of(&reopened, &scenario);
    check_eq(
        reopened_blocks.len(),
        fx.blocks.len(),
        &format!("{scenario}: number of blocks"),
        BOOK_FORMAT,
    );
    for (i, (got, want)) in reopened_blocks.iter().zip(&fx.blocks).enumerate() {
        check_entries(got, want, &format!("{scenario}: block {i}"), BOOK_FORMAT);
    }
    let mut iter = ok(
        SsTableIterator::create_and_seek_to_first(reopened),
        &scenario,
        BOOK_ITER,
    );
    check_iter(
        &mut iter,
        &fx.entries,
        &format!("{scenario}: full iteration"),
        BOOK_ITER,
    );
}

/// Building a table with no entries is `Error::InvalidArgument` (checked after a successful
/// build, so a builder that never works cannot pass).
#[test]
fn building_an_empty_table_is_invalid_argument() {
    let dir = temp_dir();
    let entries = uniform_entries(3);
    let (table, _) = build_sst(dir.path(), "nonempty.sst", 64, &entries);
    let mut iter = ok(
        SsTableIterator::create_and_seek_to_first(table),
        "a 3-entry table built first",
        BOOK_ITER,
    );
    check_iter(
        &mut iter,
        &entries,
        "a 3-entry table built first",
        BOOK_ITER,
    );
    let path = dir.path().join("empty.sst");
    match SsTableBuilder::new(64).build(2, None, &path) {
        Err(Error::InvalidArgument(_)) => {}
        Err(other) => fail(
            "build() of a builder with no entries",
            "Err(InvalidArgument(..))",
            format!("Err({other:?})"),
            BOOK_BUILD,
        ),
        Ok(table) => fail(
            "build() of a builder with no entries",
            "Err(InvalidArgument(..))",
            format!("Ok(a table of {} blocks)", table.num_blocks()),
            BOOK_BUILD,
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// The block index: find_block_idx
// ---------------------------------------------------------------------------------------------

/// `find_block_idx` of every key in the table is the block holding that key.
#[rstest]
#[case(21, 64)]
#[case(22, 128)]
fn find_block_idx_of_each_exact_key_is_its_block(#[case] seed: u64, #[case] block_size: usize) {
    let fx = varied_table(seed, VARIED_ENTRIES, block_size);
    let scenario = format!("exact keys, seed {seed}, block_size {block_size}");
    require_blocks(&fx.table, 4, &scenario);
    for (b, block) in fx.blocks.iter().enumerate() {
        for (k, _) in block {
            check_eq(
                fx.table.find_block_idx(k),
                b,
                &format!(
                    "{scenario}: find_block_idx({}) of a key stored in block {b}",
                    show(k)
                ),
                BOOK_INDEX,
            );
        }
    }
}

/// A key in a gap (inside a block, or between two blocks) maps to the first block whose last key
/// is `>=` it: for a gap between blocks, the next block.
#[rstest]
#[case(23, 64)]
#[case(24, 150)]
fn find_block_idx_in_gaps_is_the_first_block_ending_at_or_after_the_key(
    #[case] seed: u64,
    #[case] block_size: usize,
) {
    let fx = varied_table(seed, VARIED_ENTRIES, block_size);
    let scenario = format!("gap keys, seed {seed}, block_size {block_size}");
    require_blocks(&fx.table, 4, &scenario);
    for i in 0..fx.entries.len() - 1 {
        check_find_block(&fx.table, &fx.blocks, &gap_after(i), &scenario);
    }
    for (b, (last, _)) in boundaries(&fx.blocks).iter().enumerate() {
        check_eq(
            fx.table.find_block_idx(&just_after(last)),
            b + 1,
            &format!(
                "{scenario}: find_block_idx({}) just after block {b}'s last key",
                show(&just_after(last))
            ),
            BOOK_INDEX,
        );
    }
}

/// A key before the first key maps to block 0; a key after the last key maps to `num_blocks()`.
#[rstest]
#[case::below_all(&b"\x00"[..])]
#[case::letter_before(&b"a"[..])]
#[case::prefix_of_first(&b"key_"[..])]
#[case::above_all(&b"z"[..])]
#[case::all_ff(&b"\xff\xff\xff"[..])]
#[case::next_even_key(&b"key_00240"[..])]
fn find_block_idx_before_first_is_zero_and_after_last_is_num_blocks(#[case] probe: &[u8]) {
    let fx = varied_table(25, VARIED_ENTRIES, 100);
    let scenario = "keys outside the table's range";
    require_blocks(&fx.table, 4, scenario);
    let expected = if probe < fx.table.first_key().as_ref() {
        0
    } else {
        fx.table.num_blocks()
    };
    check_eq(
        fx.table.find_block_idx(probe),
        expected,
        &format!(
            "{scenario}: find_block_idx({}) with first_key {} and last_key {}",
            show(probe),
            show(fx.table.first_key()),
            show(fx.table.last_key())
        ),
        BOOK_INDEX,
    );
    check_find_block(&fx.table, &fx.blocks, probe, scenario);
}

// ---------------------------------------------------------------------------------------------
// SsTableIterator
// ---------------------------------------------------------------------------------------------

/// An entry larger than `block_size` is accepted and sits alone in one oversized block; the
/// entries around it stay in their own blocks and everything reads back.
#[rstest]
#[case::first(0)]
#[case::middle(3)]
#[case::last(6)]
fn entry_larger_than_block_size_gets_a_block_of_its_own(#[case] big_at: usize) {
    let mut entries = uniform_entries(7);
    entries[big_at].1 = Some(vec![b'B'; 500]);
    let fx = table_of(entries, 64);
    let scenario = format!("block_size 64, a 500-byte value at entry {big_at}");
    let big_key = &fx.entries[big_at].0;
    let b = fx.table.find_block_idx(big_key);
    let block = fx.blocks.get(b).cloned().unwrap_or_default();
    check_entries(
        &block,
        &fx.entries[big_at..=big_at].to_vec(),
        &format!(
            "{scenario}: the block find_block_idx({}) = {b} names",
            show(big_key)
        ),
        BOOK_BUILD,
    );
    let len = fx.table.block_meta()[b].len;
    if len <= 500 {
        fail(
            &scenario,
            "an oversized block longer than 500 bytes",
            len,
            BOOK_BUILD,
        );
    }
    let mut iter = ok(
        SsTableIterator::create_and_seek_to_first(fx.table.clone()),
        &scenario,
        BOOK_ITER,
    );
    check_iter(&mut iter, &fx.entries, &scenario, BOOK_ITER);
    for probe in [big_key.clone(), just_after(big_key)] {
        check_seek(&fx.table, &fx.entries, &probe, &scenario);
    }
}

/// A table of one entry (a value, a tombstone, or an empty value): one block, first == last key,
/// and iteration, seeks and `find_block_idx` around it.
#[rstest]
#[case::value(Some(&b"v"[..]))]
#[case::tombstone(None)]
#[case::empty_value(Some(&b""[..]))]
fn single_entry_table_round_trips(#[case] v: Option<&[u8]>) {
    let entries: Entries = vec![(b"m".to_vec(), v.map(<[u8]>::to_vec))];
    let fx = table_of(entries, 64);
    let scenario = format!("a table holding only \"m\" = {}", show_value(v));
    check_eq(
        fx.table.num_blocks(),
        1,
        &format!("{scenario}: num_blocks()"),
        BOOK_BUILD,
    );
    check_eq(
        (fx.table.first_key().to_vec(), fx.table.last_key().to_vec()),
        (b"m".to_vec(), b"m".to_vec()),
        &format!("{scenario}: (first_key(), last_key())"),
        BOOK_INDEX,
    );
    let meta = &fx.table.block_meta()[0];
    check_eq(
        (meta.first_key.to_vec(), meta.last_key.to_vec()),
        (b"m".to_vec(), b"m".to_vec()),
        &format!("{scenario}: block_meta()[0] keys"),
        BOOK_INDEX,
    );
    let mut iter = ok(
        SsTableIterator::create_and_seek_to_first(fx.table.clone()),
        &scenario,
        BOOK_ITER,
    );
    check_iter(&mut iter, &fx.entries, &scenario, BOOK_ITER);
    for probe in [&b"a"[..], b"m", b"m\x00", b"z"] {
        check_seek(&fx.table, &fx.entries, probe, &scenario);
        check_find_block(&fx.table, &fx.blocks, probe, &scenario);
    }
}

/// A full iteration yields every entry in order, tombstones as `None` and empty values as
/// `Some(b"")`, across every block boundary.
#[rstest]
#[case(31, 64)]
#[case(32, 100)]
#[case(33, 256)]
#[case(34, 4096)]
fn full_iteration_returns_every_entry_including_tombstones_and_empty_values(
    #[case] seed: u64,
    #[case] block_size: usize,
) {
    let fx = varied_table(seed, VARIED_ENTRIES, block_size);
    let scenario = format!("full iteration, seed {seed}, block_size {block_size}");
    let tombstones = fx.entries.iter().filter(|(_, v)| v.is_none()).count();
    let empties = fx
        .entries
        .iter()
        .filter(|(_, v)| v.as_deref() == Some(b""))
        .count();
    if tombstones == 0 || empties == 0 {
        fail(
            &scenario,
            "test data with tombstones and empty values",
            (tombstones, empties),
            BOOK_ITER,
        );
    }
    let mut iter = ok(
        SsTableIterator::create_and_seek_to_first(fx.table.clone()),
        &scenario,
        BOOK_ITER,
    );
    check_iter(&mut iter, &fx.entries, &scenario, BOOK_ITER);
}

/// A seek to each key lands on it and continues to the end of the table.
#[rstest]
#[case(41, 64)]
#[case(42, 128)]
fn seek_to_each_exact_key_lands_on_it(#[case] seed: u64, #[case] block_size: usize) {
    let fx = varied_table(seed, VARIED_ENTRIES, block_size);
    let scenario = format!("exact seeks, seed {seed}, block_size {block_size}");
    for (k, _) in &fx.entries {
        check_seek(&fx.table, &fx.entries, k, &scenario);
    }
}

/// A seek to a key in a gap lands on the next larger key, in the same block or the next one.
#[rstest]
#[case(43, 64)]
#[case(44, 150)]
fn seek_into_a_gap_lands_on_the_next_key(#[case] seed: u64, #[case] block_size: usize) {
    let fx = varied_table(seed, VARIED_ENTRIES, block_size);
    let scenario = format!("gap seeks, seed {seed}, block_size {block_size}");
    for i in 0..fx.entries.len() - 1 {
        check_seek(&fx.table, &fx.entries, &gap_after(i), &scenario);
    }
}

/// A seek to a key that falls exactly between two blocks (after one block's last key, before the
/// next block's first key) lands on the next block's first key, not on an invalid cursor.
#[rstest]
#[case(45, 64)]
#[case(46, 100)]
#[case(47, 256)]
fn seek_between_two_blocks_lands_on_the_next_blocks_first_key(
    #[case] seed: u64,
    #[case] block_size: usize,
) {
    let fx = varied_table(seed, VARIED_ENTRIES, block_size);
    let scenario = format!("seeks between blocks, seed {seed}, block_size {block_size}");
    require_blocks(&fx.table, 4, &scenario);
    for (b, (last, next_first)) in boundaries(&fx.blocks).iter().enumerate() {
        let scenario = format!("{scenario}: between block {b} and block {}", b + 1);
        let probe = just_after(last);
        let iter = ok(
            SsTableIterator::create_and_seek_to_key(fx.table.clone(), &probe),
            &scenario,
            BOOK_ITER,
        );
        let landed = iter.is_valid().then(|| iter.key().to_vec());
        check_eq(
            Shown(landed),
            Shown(Some(next_first.clone())),
            &format!(
                "{scenario}: key after create_and_seek_to_key({})",
                show(&probe)
            ),
            BOOK_ITER,
        );
        check_seek(&fx.table, &fx.entries, &probe, &scenario);
    }
}

/// A seek to a key before the first key lands on the first entry.
#[rstest]
#[case::below_all(&b"\x00"[..])]
#[case::letter_before(&b"a"[..])]
#[case::prefix_of_first(&b"key_"[..])]
#[case::first_key_without_suffix(&b"key_00000"[..])]
fn seek_before_the_first_key_lands_on_the_first_entry(#[case] probe: &[u8]) {
    let fx = varied_table(48, VARIED_ENTRIES, 100);
    check_seek(&fx.table, &fx.entries, probe, "seek before the first key");
}

/// A seek to a key after the last key gives an invalid cursor.
#[rstest]
#[case::above_all(&b"z"[..])]
#[case::all_ff(&b"\xff\xff\xff"[..])]
#[case::next_even_key(&b"key_00240"[..])]
fn seek_past_the_last_key_is_invalid(#[case] probe: &[u8]) {
    let fx = varied_table(49, VARIED_ENTRIES, 100);
    let scenario = format!("seek past the last key {}", show(fx.table.last_key()));
    check_seek(&fx.table, &fx.entries, probe, &scenario);
    check_seek(
        &fx.table,
        &fx.entries,
        &just_after(fx.table.last_key()),
        &scenario,
    );
}

/// `seek_to_first` after a full iteration, and after a seek into the middle, starts again from
/// the first entry.
#[test]
fn seek_to_first_after_iterating_restarts_at_the_first_entry() {
    let fx = varied_table(50, VARIED_ENTRIES, 100);
    let scenario = "seek_to_first after a full iteration";
    let mut iter = ok(
        SsTableIterator::create_and_seek_to_first(fx.table.clone()),
        scenario,
        BOOK_ITER,
    );
    check_iter(&mut iter, &fx.entries, scenario, BOOK_ITER);
    ok(iter.seek_to_first(), scenario, BOOK_ITER);
    check_iter(&mut iter, &fx.entries, scenario, BOOK_ITER);

    let scenario = "seek_to_first after seek_to_key into the last block";
    let probe = fx.blocks[fx.blocks.len() - 1][0].0.clone();
    ok(iter.seek_to_key(&probe), scenario, BOOK_ITER);
    ok(iter.seek_to_first(), scenario, BOOK_ITER);
    check_iter(&mut iter, &fx.entries, scenario, BOOK_ITER);
}

// ---------------------------------------------------------------------------------------------
// Checksums and corruption
// ---------------------------------------------------------------------------------------------

/// Flipping bit `bit` of any single byte of a small 3-block SST is caught: `Corruption` naming
/// the file, at open or when reading a block or iterating; never a panic, never wrong data.
#[rstest]
#[case(0)]
#[case(1)]
#[case(2)]
#[case(3)]
#[case(4)]
#[case(5)]
#[case(6)]
#[case(7)]
fn every_flipped_bit_is_caught_by_a_checksum(#[case] bit: u8) {
    let dir = temp_dir();
    let (original, entries) = small_sst_bytes(dir.path());
    for offset in 0..original.len() {
        // A new file each time: rewriting one file in place is slow on some file systems.
        let path = dir.path().join(format!("flipped_{offset}.sst"));
        let mut damaged = original.clone();
        damaged[offset] ^= 1 << bit;
        std::fs::write(&path, &damaged).expect("write the damaged SST");
        let scenario = format!(
            "bit {bit} of byte {offset} flipped in a {}-byte SST",
            original.len()
        );
        check_corruption(load_everything(&path), &path, &entries, &scenario);
    }
}

/// An SST cut short at any length is `Corruption` naming the file, at open or when reading;
/// never a panic.
#[test]
fn truncated_file_is_corruption_at_every_length() {
    let dir = temp_dir();
    let (original, entries) = small_sst_bytes(dir.path());
    for len in 0..original.len() {
        let path = dir.path().join(format!("truncated_{len}.sst"));
        std::fs::write(&path, &original[..len]).expect("write the truncated SST");
        let scenario = format!("the first {len} of {} bytes of an SST", original.len());
        check_corruption(load_everything(&path), &path, &entries, &scenario);
    }
}

/// Files that are not SSTs (empty, random bytes of several lengths, zeros, a valid SST with a
/// byte appended) are `Corruption` naming the file.
#[rstest]
#[case::empty(0, 0)]
#[case::random_7(7, 1)]
#[case::random_31(31, 2)]
#[case::random_32(32, 3)]
#[case::random_33(33, 4)]
#[case::random_200(200, 5)]
#[case::random_4096(4096, 6)]
#[case::zeros_64(64, 0)]
#[case::sst_with_a_byte_appended(usize::MAX, 0)]
fn file_that_is_not_an_sst_is_corruption(#[case] len: usize, #[case] seed: u64) {
    let dir = temp_dir();
    let (sst, entries) = small_sst_bytes(dir.path());
    let bytes: Vec<u8> = match (len, seed) {
        (usize::MAX, _) => [sst.as_slice(), &[0x5a]].concat(),
        (_, 0) => vec![0; len],
        _ => {
            let mut rng = Rng::new(seed);
            (0..len).map(|_| rng.below(256) as u8).collect()
        }
    };
    let path = dir.path().join("not_an.sst");
    std::fs::write(&path, &bytes).expect("write the file");
    let scenario = format!("open a {}-byte file that is not an SST", bytes.len());
    check_corruption(load_everything(&path), &path, &entries, &scenario);
}

/// A meta section whose checksum is right but whose block count cannot be: zero blocks (an SST
/// has at least one), or more blocks than the section has bytes for. `decode_all` must call
/// both corruption, and must not first reserve memory for the count it read (4 billion metas
/// would abort the process).
#[rstest]
#[case::zero_blocks(&[0, 0, 0, 0])]
#[case::zero_blocks_then_bytes(&[0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16])]
#[case::four_billion_blocks_in_20_bytes(&[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])]
#[case::two_blocks_in_20_bytes(&[2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])]
fn block_meta_count_that_cannot_be_right_is_corruption(#[case] raw: &[u8]) {
    let scenario = format!(
        "BlockMeta::decode_all of a {}-byte section that claims {} blocks",
        raw.len(),
        u32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]])
    );
    match BlockMeta::decode_all(raw) {
        Err(Error::Corruption { .. }) => {}
        other => fail(
            &scenario,
            "Err(Corruption { .. })",
            other.map(|metas| metas.len()),
            BOOK_CORRUPTION,
        ),
    }
}

/// Where the footer of the SST bytes `sst` starts, and the `(meta_offset, meta_len)` it holds.
fn footer_meta(sst: &[u8]) -> (usize, u64, u32) {
    let footer_at = sst.len() - FOOTER_SIZE;
    let at = |start: usize, len: usize| &sst[footer_at + start..footer_at + start + len];
    let meta_offset = u64::from_le_bytes(at(0, 8).try_into().expect("8 bytes"));
    let meta_len = u32::from_le_bytes(at(8, 4).try_into().expect("4 bytes"));
    (footer_at, meta_offset, meta_len)
}

/// Writes the edited SST bytes `sst` to `dir/edited.sst` and checks that loading it is
/// `Corruption` (`entries` is what the unedited table holds).
#[track_caller]
fn check_edited_sst_is_corruption(dir: &Path, sst: &[u8], entries: &Entries, scenario: &str) {
    let path = dir.join("edited.sst");
    std::fs::write(&path, sst).expect("write the edited SST");
    check_corruption(load_everything(&path), &path, entries, scenario);
}

/// What a footer case changes: `(meta_offset, meta_len)` of the real footer to new values.
type FooterEdit = fn(u64, u32) -> (u64, u32);

/// A footer whose own checksum is right but whose fields cannot be: the meta section too short
/// to hold its checksum, running into the footer, or starting past the end of the file. The
/// footer checksum cannot catch these (a writer bug or a crafted file), so `SsTable::open` must
/// check the fields themselves, without overflowing on huge values.
#[rstest]
#[case::meta_len_0(|offset, _| (offset, 0))]
#[case::meta_len_1(|offset, _| (offset, 1))]
#[case::meta_len_3(|offset, _| (offset, 3))]
#[case::meta_runs_into_the_footer(|offset, len| (offset, len + 1))]
#[case::meta_starts_inside_the_footer(|offset, len| (offset + u64::from(len) + 8, len))]
#[case::meta_offset_near_u64_max(|_, len| (u64::MAX - 2, len))]
#[case::meta_len_u32_max(|offset, _| (offset, u32::MAX))]
fn footer_with_a_right_checksum_but_impossible_fields_is_corruption(#[case] edit: FooterEdit) {
    let dir = temp_dir();
    let (mut sst, entries) = small_sst_bytes(dir.path());
    let (footer_at, offset, len) = footer_meta(&sst);
    let (new_offset, new_len) = edit(offset, len);
    sst[footer_at..footer_at + 8].copy_from_slice(&new_offset.to_le_bytes());
    sst[footer_at + 8..footer_at + 12].copy_from_slice(&new_len.to_le_bytes());
    let crc = crc32fast::hash(&sst[footer_at..footer_at + 28]);
    sst[footer_at + 28..].copy_from_slice(&crc.to_le_bytes());
    let scenario = format!(
        "open an SST whose footer (checksum recomputed) says meta_offset {new_offset}, meta_len \
         {new_len} (really {offset} and {len}, file of {} bytes)",
        sst.len()
    );
    check_edited_sst_is_corruption(dir.path(), &sst, &entries, &scenario);
}

/// What a meta case changes in the decoded metas of the small SST.
type MetaEdit = fn(&mut Vec<BlockMeta>);

/// A meta section whose checksum is right but whose metas do not describe the blocks: a block's
/// first key above its last key, or blocks that do not lie back to back from offset 0. Only a
/// writer bug (or a crafted file) makes these, but `SsTable::open` must still refuse them: with
/// swapped keys the table's key range is wrong and `get` would skip keys it holds.
#[rstest]
#[case::first_key_above_last_key(|metas: &mut Vec<BlockMeta>| {
    let meta = &mut metas[0];
    std::mem::swap(&mut meta.first_key, &mut meta.last_key);
})]
#[case::first_block_not_at_offset_0(|metas: &mut Vec<BlockMeta>| metas[0].offset = 4)]
#[case::gap_between_blocks(|metas: &mut Vec<BlockMeta>| metas[1].offset += 1)]
fn meta_section_with_a_right_checksum_but_wrong_metas_is_corruption(#[case] edit: MetaEdit) {
    let dir = temp_dir();
    let (mut sst, entries) = small_sst_bytes(dir.path());
    let (_, meta_offset, meta_len) = footer_meta(&sst);
    let (start, end) = (
        meta_offset as usize,
        meta_offset as usize + meta_len as usize,
    );
    let mut metas = ok(
        BlockMeta::decode_all(&sst[start..end]),
        "decode the small SST's meta section",
        BOOK_FORMAT,
    );
    edit(&mut metas);
    let mut encoded = Vec::new();
    BlockMeta::encode_all(&metas, &mut encoded);
    assert_eq!(
        encoded.len(),
        end - start,
        "the edit keeps the section's length"
    );
    sst[start..end].copy_from_slice(&encoded);
    let crc = crc32fast::hash(&sst[start..end]);
    sst[end..end + 4].copy_from_slice(&crc.to_le_bytes());
    let scenario = "open an SST whose metas (checksum recomputed) are edited: see the case name";
    check_edited_sst_is_corruption(dir.path(), &sst, &entries, scenario);
}
