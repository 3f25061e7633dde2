//! Day 5: leveled compaction. Book chapter `day5-leveled-compaction.md`.
//!
//! Covers:
//! - `SstConcatIterator` over several SSTs built with `SsTableBuilder`: every entry (tombstones
//!   and empty values included) in order; seeks to exact keys, into gaps inside a table and
//!   between tables, before the first and past the last key; an empty list of tables; laziness
//!   (at most one table iterator open, and no block of a later table read early, counted by the
//!   block cache);
//! - the compaction job: values correct after compaction (`get` and `scan` against a `BTreeMap`
//!   model), the newest version winning across L0 files and levels, output cut by
//!   `target_sst_size`, a full compaction writing exactly the live entries and no tombstone, an
//!   all-tombstone input leaving no SST at all, and tombstones kept when the output level is not
//!   the bottom one (so that they still hide older values below);
//! - the leveled controller on hand-made shapes (L0 never under a level that holds data, the
//!   oldest SST of the level most over its target, ties to the deeper level, an L0 task with no
//!   overlapping SST below); the L0 file trigger, level sizes within their (dynamic) targets,
//!   levels below L0 never overlapping after every step of a seeded random workload, the newest
//!   version still winning when deletes shrink the bottom level and the base level moves down;
//! - installing a result: a scan opened before a compaction still returns its full result;
//!   a scan over a compacted level holds one iterator, not one per SST; obsolete SST files are
//!   removed from the directory;
//! - counters (`compactions`, `bytes_compacted`, write amplification) and the background
//!   compaction thread finishing its work on `close`.

use std::collections::BTreeSet;
use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use rstest::rstest;
use tests_day1_to_day7::lsm::block_cache::BlockCache;
use tests_day1_to_day7::lsm::compact::CompactionTask;
use tests_day1_to_day7::lsm::compact::leveled::LeveledCompactionController;
use tests_day1_to_day7::lsm::inspect::{LevelInfo, MemTableInfo, SstInfo};
use tests_day1_to_day7::lsm::iterators::StorageIterator;
use tests_day1_to_day7::lsm::iterators::sst_concat_iterator::SstConcatIterator;
use tests_day1_to_day7::lsm::table::{FileObject, SsTable, SsTableBuilder, SsTableIterator};
use tests_day1_to_day7::lsm::{
    CompactionOptions, LeveledCompactionOptions, LsmOptions, MiniLsm, TreeShape,
};
use tests_day1_to_day7::*;

const BOOK_CONCAT: &str = "day5-leveled-compaction.md#concat-iterator";
const BOOK_JOB: &str = "day5-leveled-compaction.md#the-compaction-job";
const BOOK_TOMBSTONES: &str = "day5-leveled-compaction.md#tombstones-and-the-bottom-level";
const BOOK_CONTROLLER: &str = "day5-leveled-compaction.md#the-leveled-controller";
const BOOK_INSTALL: &str = "day5-leveled-compaction.md#installing-a-result";
const BOOK_OBSOLETE: &str = "day5-leveled-compaction.md#obsolete-files";
const BOOK_WA: &str = "day5-leveled-compaction.md#write-amplification";

/// Small blocks and SSTs, so that a few hundred entries make multi-block, multi-SST levels.
const SMALL_BLOCK: usize = 256;
const SMALL_SST: usize = 2048;

// ---------------------------------------------------------------------------------------------
// Helpers: SSTs and the concat iterator
// ---------------------------------------------------------------------------------------------

/// Builds one SST per chunk of `entries` (chunk sizes `splits`), ids from 1, in `dir`.
fn build_run(
    dir: &Path,
    entries: &Entries,
    splits: &[usize],
    block_size: usize,
    cache: Option<&Arc<BlockCache>>,
) -> Vec<Arc<SsTable>> {
    let mut tables = Vec::new();
    let mut rest = entries.as_slice();
    for (i, &n) in splits.iter().enumerate() {
        let (chunk, tail) = rest.split_at(n);
        rest = tail;
        let mut builder = SsTableBuilder::new(block_size);
        for (k, v) in chunk {
            builder.add(k, v.as_deref());
        }
        let id = i + 1;
        let path = dir.join(format!("{id:05}.sst"));
        let scenario = format!("build SST {id} of a run split {splits:?}");
        let table = ok(
            builder.build(id, cache.cloned(), &path),
            &scenario,
            BOOK_CONCAT,
        );
        tables.push(Arc::new(table));
    }
    tables
}

/// `n` entries with keys `key(0), key(10), key(20), …` (gaps between them), a mix of values,
/// empty values and tombstones.
fn run_entries(n: usize) -> Entries {
    (0..n)
        .map(|i| {
            let v = match i % 5 {
                3 => None,
                4 => Some(Vec::new()),
                _ => Some(value(i * 10, 1)),
            };
            (key(i * 10), v)
        })
        .collect()
}

/// The split used by the seek and laziness tests: tables of 4, 1, 6 and 3 entries, i.e. keys
/// 0..=30, 40, 50..=100, 110..=130 (in units of `key`).
const SPLITS: [usize; 4] = [4, 1, 6, 3];

/// For each entry, the index of the table holding it.
fn table_of_entry(splits: &[usize]) -> Vec<usize> {
    splits
        .iter()
        .enumerate()
        .flat_map(|(t, &n)| std::iter::repeat_n(t, n))
        .collect()
}

/// Walks a concat iterator to its end checking laziness at every step: at most one table
/// iterator open, and no block read from a table after the one holding the current entry.
/// Returns the entries seen.
fn walk_lazily(
    iter: &mut SstConcatIterator,
    splits: &[usize],
    tables: &[Arc<SsTable>],
    entries: &Entries,
    cache: &BlockCache,
    scenario: &str,
) -> Entries {
    let owner = table_of_entry(splits);
    let mut seen = Entries::new();
    while iter.is_valid() {
        check_eq(
            iter.num_active_iterators() <= 1,
            true,
            &format!(
                "{scenario}: num_active_iterators() <= 1 on {} (got {})",
                show(iter.key()),
                iter.num_active_iterators()
            ),
            BOOK_CONCAT,
        );
        let Some(idx) = entries.iter().position(|(k, _)| k == iter.key()) else {
            fail(
                scenario,
                "a key that is in one of the tables",
                show(iter.key()),
                BOOK_CONCAT,
            );
        };
        let blocks_so_far: usize = tables[..=owner[idx]].iter().map(|t| t.num_blocks()).sum();
        if cache.misses() > blocks_so_far as u64 {
            fail(
                &format!(
                    "{scenario}: blocks read while on {} (table {} of {})",
                    show(iter.key()),
                    owner[idx],
                    tables.len()
                ),
                format!("at most {blocks_so_far} (the blocks of the tables up to this one)"),
                cache.misses(),
                BOOK_CONCAT,
            );
        }
        seen.push((iter.key().to_vec(), iter.value().map(<[u8]>::to_vec)));
        ok(
            iter.next(),
            &format!("{scenario}: next() after {}", show(&seen[seen.len() - 1].0)),
            BOOK_CONCAT,
        );
    }
    seen
}

/// The entries of `entries` with key `>= probe`.
fn suffix_from(entries: &Entries, probe: &[u8]) -> Entries {
    entries
        .iter()
        .filter(|(k, _)| k.as_slice() >= probe)
        .cloned()
        .collect()
}

/// Fails unless `actual == expected`, printing both as entry lists.
#[track_caller]
fn check_entries(actual: &Entries, expected: &Entries, scenario: &str, book: &str) {
    if actual != expected {
        fail_entries(scenario, expected, actual, book);
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers: the engine
// ---------------------------------------------------------------------------------------------

fn leveled(
    trigger: usize,
    multiplier: usize,
    base: u64,
    max_levels: usize,
) -> LeveledCompactionOptions {
    LeveledCompactionOptions {
        level0_file_num_compaction_trigger: trigger,
        level_size_multiplier: multiplier,
        base_level_size_bytes: base,
        max_levels,
    }
}

/// Day-5 options with small blocks and SSTs and the given controller parameters.
fn small_options(controller: LeveledCompactionOptions) -> LsmOptions {
    LsmOptions {
        block_size: SMALL_BLOCK,
        target_sst_size: SMALL_SST,
        compaction: CompactionOptions::Leveled(controller),
        ..options_for_day(5)
    }
}

fn open(dir: &Path, options: LsmOptions) -> Arc<MiniLsm> {
    ok(
        MiniLsm::open(dir, options),
        &format!("open {}", dir.display()),
        BOOK_JOB,
    )
}

/// The bounds of one scan.
type ScanRange<'a> = (Bound<&'a [u8]>, Bound<&'a [u8]>);

fn put(db: &MiniLsm, model: &mut Model, key: Vec<u8>, value: Vec<u8>) {
    model_put(db, model, key, value, BOOK_JOB);
}

fn delete(db: &MiniLsm, model: &mut Model, key: Vec<u8>) {
    model_delete(db, model, key, BOOK_TOMBSTONES);
}

fn flush(db: &MiniLsm) {
    ok(db.force_flush(), "force_flush", BOOK_JOB);
}

fn full_compaction(db: &MiniLsm, scenario: &str) {
    ok(
        db.force_full_compaction(),
        &format!("{scenario}: force_full_compaction"),
        BOOK_JOB,
    );
}

fn compact_until_idle(db: &MiniLsm, scenario: &str) -> usize {
    ok(
        db.compact_until_idle(),
        &format!("{scenario}: compact_until_idle"),
        BOOK_CONTROLLER,
    )
}

/// Puts `key(i)` for every `i` in `keys`, generation `generation`, `len`-byte values.
fn put_all(
    db: &MiniLsm,
    model: &mut Model,
    keys: impl IntoIterator<Item = usize>,
    generation: usize,
    len: usize,
) {
    for i in keys {
        put(db, model, key(i), long_value(i, generation, len));
    }
}

/// Checks `get` of every key `0..keyspace`, a full scan and two range scans against the model.
#[track_caller]
fn check_model(db: &MiniLsm, model: &Model, keyspace: usize, scenario: &str, book: &str) {
    check_gets_and_full_scan(db, model, keyspace, scenario, book);
    let (a, b) = (key(keyspace / 4), key(keyspace / 2 + 1));
    let ranges: [ScanRange; 2] = [
        (Bound::Included(&a), Bound::Excluded(&b)),
        (Bound::Excluded(&a), Bound::Unbounded),
    ];
    for (lower, upper) in ranges {
        let s = format!("{scenario}: scan({lower:?}, {upper:?})");
        let mut scan = ok(db.scan(lower, upper), &s, book);
        check_iter(&mut scan, &model_range(model, lower, upper), &s, book);
    }
}

/// The ids of the `NNNNN.sst` files in `dir`.
fn sst_files(dir: &Path) -> BTreeSet<usize> {
    let listing = match std::fs::read_dir(dir) {
        Ok(listing) => listing,
        Err(e) => fail("list the engine directory", "Ok(..)", e, BOOK_OBSOLETE),
    };
    let mut ids = BTreeSet::new();
    for entry in listing {
        let name = match entry {
            Ok(entry) => entry.file_name().to_string_lossy().into_owned(),
            Err(e) => fail("list the engine directory", "Ok(..)", e, BOOK_OBSOLETE),
        };
        if let Some(stem) = name.strip_suffix(".sst") {
            match stem.parse() {
                Ok(id) => ids.insert(id),
                Err(_) => fail(
                    "SST file names",
                    "NNNNN.sst with a numeric id",
                    name,
                    BOOK_OBSOLETE,
                ),
            };
        }
    }
    ids
}

/// The ids of every SST in the tree (L0 and all levels).
fn live_ids(shape: &TreeShape) -> BTreeSet<usize> {
    let levels = shape.levels.iter().flat_map(|l| &l.ssts);
    shape.l0.iter().chain(levels).map(|sst| sst.id).collect()
}

/// Checks that the SST files in `dir` are exactly the SSTs of the tree.
#[track_caller]
fn check_files_match_tree(db: &MiniLsm, dir: &Path, scenario: &str) {
    let shape = db.shape();
    check_eq(
        sst_files(dir),
        live_ids(&shape),
        &format!("{scenario}: *.sst files in the directory == SST ids in shape()\n{shape}"),
        BOOK_OBSOLETE,
    );
}

fn level_bytes(shape: &TreeShape, level: usize) -> u64 {
    shape
        .levels
        .iter()
        .filter(|l| l.level == level)
        .flat_map(|l| &l.ssts)
        .map(|sst| sst.size_bytes)
        .sum()
}

fn level_ssts(shape: &TreeShape, level: usize) -> usize {
    shape
        .levels
        .iter()
        .filter(|l| l.level == level)
        .map(|l| l.ssts.len())
        .sum()
}

/// Checks that the shape lists exactly the levels `1..=max_levels`, in order.
#[track_caller]
fn check_levels_listed(shape: &TreeShape, max_levels: usize, scenario: &str) {
    let listed: Vec<usize> = shape.levels.iter().map(|l| l.level).collect();
    check_eq(
        listed,
        (1..=max_levels).collect(),
        &format!("{scenario}: levels listed by shape()"),
        BOOK_CONTROLLER,
    );
}

/// Reads every entry of the SST file `id` in `dir` through the day-2 API, tombstones included.
fn sst_file_entries(dir: &Path, id: usize, scenario: &str) -> Entries {
    let path = dir.join(format!("{id:05}.sst"));
    let scenario = format!("{scenario}: read {}", path.display());
    let file = ok(FileObject::open(&path), &scenario, BOOK_JOB);
    let table = Arc::new(ok(SsTable::open(id, None, file), &scenario, BOOK_JOB));
    let mut iter = ok(
        SsTableIterator::create_and_seek_to_first(table),
        &scenario,
        BOOK_JOB,
    );
    ok(drain(&mut iter, &scenario, BOOK_JOB), &scenario, BOOK_JOB)
}

/// The targets the documented rule gives each level `1..=max_levels` (index 0 is L1): the
/// bottom's is `max(its size, base)`, each level above gets the one below divided by the
/// multiplier while that one exceeds `base`, and 0 from there up.
fn expected_targets(shape: &TreeShape, controller: &LeveledCompactionOptions) -> Vec<u64> {
    let n = controller.max_levels;
    let base = controller.base_level_size_bytes;
    let mut targets = vec![0; n];
    targets[n - 1] = level_bytes(shape, n).max(base);
    for i in (0..n - 1).rev() {
        if targets[i + 1] > base {
            targets[i] = targets[i + 1] / controller.level_size_multiplier as u64;
        }
    }
    targets
}

/// Random puts (values of 20..80 bytes) and deletes over `keyspace` keys.
fn random_writes(
    db: &MiniLsm,
    model: &mut Model,
    rng: &mut Rng,
    n: usize,
    keyspace: usize,
    generation: usize,
) {
    for _ in 0..n {
        let i = rng.below(keyspace);
        if rng.below(5) == 0 {
            delete(db, model, key(i));
        } else {
            let len = 20 + rng.below(60);
            put(db, model, key(i), long_value(i, generation, len));
        }
    }
}

/// Checks that L0 holds fewer SSTs than the compaction trigger (the controller is idle).
#[track_caller]
fn check_l0_below_trigger(shape: &TreeShape, trigger: usize, scenario: &str) {
    if shape.l0.len() >= trigger {
        fail(
            &format!("{scenario}: L0 files once compaction is idle\n{shape}"),
            format!("fewer than the trigger {trigger}"),
            shape.l0.len(),
            BOOK_CONTROLLER,
        );
    }
}

/// Checks each level above the bottom against the documented target rule.
#[track_caller]
fn check_level_targets(shape: &TreeShape, controller: &LeveledCompactionOptions, scenario: &str) {
    let targets = expected_targets(shape, controller);
    for level in 1..controller.max_levels {
        let size = level_bytes(shape, level);
        if size > targets[level - 1] {
            fail(
                &format!("{scenario}: size of L{level} (targets L1.. = {targets:?})\n{shape}"),
                format!("at most {}", targets[level - 1]),
                size,
                BOOK_CONTROLLER,
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// SstConcatIterator
// ---------------------------------------------------------------------------------------------

#[rstest]
#[case::one_table(&[7])]
#[case::single_entry_tables(&[1, 1, 1, 1])]
#[case::uneven_tables(&[4, 1, 6, 3])]
#[case::many_multi_block_tables(&[20, 3, 17, 1, 9])]
fn concat_iterator_yields_every_entry_of_every_table_in_order(#[case] splits: &[usize]) {
    let dir = temp_dir();
    let entries = run_entries(splits.iter().sum());
    let tables = build_run(dir.path(), &entries, splits, 64, None);
    let scenario = format!("SstConcatIterator::create_and_seek_to_first over tables {splits:?}");
    let mut iter = ok(
        SstConcatIterator::create_and_seek_to_first(tables),
        &scenario,
        BOOK_CONCAT,
    );
    check_iter(&mut iter, &entries, &scenario, BOOK_CONCAT);
}

#[rstest]
#[case::first_key(key(0))]
#[case::before_the_first_key(b"a".to_vec())]
#[case::just_before_the_first_key(b"key_".to_vec())]
#[case::gap_inside_the_first_table(key(15))]
#[case::last_key_of_the_first_table(key(30))]
#[case::gap_between_the_first_two_tables(key(35))]
#[case::single_entry_table(key(40))]
#[case::gap_between_tables_two_and_three(key(45))]
#[case::first_key_of_a_middle_table(key(50))]
#[case::gap_inside_a_middle_table(key(75))]
#[case::last_key_of_a_middle_table(key(100))]
#[case::last_key(key(130))]
#[case::past_the_last_key(key(131))]
#[case::far_past_the_last_key(b"zzz".to_vec())]
fn concat_seek_to_key_lands_on_the_first_entry_at_or_after_it(#[case] probe: Vec<u8>) {
    let dir = temp_dir();
    let entries = run_entries(SPLITS.iter().sum());
    let cache = Arc::new(BlockCache::new(1 << 20));
    let tables = build_run(dir.path(), &entries, &SPLITS, 64, Some(&cache));
    let scenario = format!(
        "SstConcatIterator::create_and_seek_to_key({}) over tables of keys 0..=30, 40, 50..=100, \
         110..=130",
        show(&probe)
    );
    let mut iter = ok(
        SstConcatIterator::create_and_seek_to_key(tables.clone(), &probe),
        &scenario,
        BOOK_CONCAT,
    );
    // Seeking reads the one block that holds the answer, not a block of every table before it.
    if cache.misses() > 1 {
        fail(
            &format!("{scenario}: blocks read by the seek"),
            "at most 1",
            cache.misses(),
            BOOK_CONCAT,
        );
    }
    check_iter(
        &mut iter,
        &suffix_from(&entries, &probe),
        &scenario,
        BOOK_CONCAT,
    );
}

#[test]
fn concat_iterator_opens_one_table_at_a_time() {
    let dir = temp_dir();
    let entries = run_entries(SPLITS.iter().sum());
    let cache = Arc::new(BlockCache::new(1 << 20));
    let tables = build_run(dir.path(), &entries, &SPLITS, 64, Some(&cache));
    let scenario = "SstConcatIterator over 4 tables, walked from the first entry";
    let mut iter = ok(
        SstConcatIterator::create_and_seek_to_first(tables.clone()),
        scenario,
        BOOK_CONCAT,
    );
    check_eq(
        cache.misses(),
        1,
        &format!("{scenario}: blocks read by create_and_seek_to_first (only the first one)"),
        BOOK_CONCAT,
    );
    let seen = walk_lazily(&mut iter, &SPLITS, &tables, &entries, &cache, scenario);
    check_entries(&seen, &entries, scenario, BOOK_CONCAT);
    check_eq(
        iter.num_active_iterators(),
        0,
        &format!("{scenario}: num_active_iterators() past the end"),
        BOOK_CONCAT,
    );
}

#[rstest]
#[case::seek_to_first(None)]
#[case::seek_to_key(Some(b"key_00050".as_slice()))]
fn concat_iterator_over_no_tables_is_invalid(#[case] probe: Option<&[u8]>) {
    let scenario = format!("SstConcatIterator over no tables, seek {probe:?}");
    let created = match probe {
        None => SstConcatIterator::create_and_seek_to_first(Vec::new()),
        Some(k) => SstConcatIterator::create_and_seek_to_key(Vec::new(), k),
    };
    let mut iter = ok(created, &scenario, BOOK_CONCAT);
    check_iter(&mut iter, &Entries::new(), &scenario, BOOK_CONCAT);
    check_eq(
        iter.num_active_iterators(),
        0,
        &format!("{scenario}: num_active_iterators()"),
        BOOK_CONCAT,
    );
}

// ---------------------------------------------------------------------------------------------
// The compaction job
// ---------------------------------------------------------------------------------------------

#[rstest]
#[case::full_compaction(1, true)]
#[case::until_idle(2, false)]
#[case::until_idle_other_seed(3, false)]
fn gets_and_scans_match_a_model_after_compaction(#[case] seed: u64, #[case] full: bool) {
    let dir = temp_dir();
    let db = open(dir.path(), small_options(leveled(2, 2, 4096, 3)));
    let mut model = Model::new();
    let mut rng = Rng::new(seed);
    let keyspace = 300;
    let scenario = format!("seed {seed}, 8 rounds of 120 random writes + flush, full={full}");
    for round in 0..8 {
        random_writes(&db, &mut model, &mut rng, 120, keyspace, round);
        flush(&db);
        if !full {
            compact_until_idle(&db, &scenario);
        }
    }
    if full {
        full_compaction(&db, &scenario);
    }
    check_eq(
        db.stats().compactions > 0,
        true,
        &format!("{scenario}: some compaction ran (stats().compactions > 0)"),
        BOOK_JOB,
    );
    check_model(&db, &model, keyspace, &scenario, BOOK_JOB);
}

#[rstest]
#[case::full_compaction(true)]
#[case::l0_trigger(false)]
fn newest_version_wins_across_l0_files_and_levels(#[case] full: bool) {
    let dir = temp_dir();
    let db = open(dir.path(), small_options(leveled(3, 2, 4096, 3)));
    let mut model = Model::new();
    let n = 200;
    let scenario = format!("generations 0..=4 over {n} keys, full={full}");
    // Generation 0 of every key goes to the bottom level first.
    put_all(&db, &mut model, 0..n, 0, 40);
    flush(&db);
    full_compaction(&db, &scenario);
    // Then three L0 files of overwrites (the L0 trigger is 3), newest last.
    put_all(&db, &mut model, (0..n).step_by(2), 1, 40);
    flush(&db);
    put_all(&db, &mut model, (0..n).step_by(3), 2, 40);
    flush(&db);
    put_all(&db, &mut model, (0..n).step_by(5), 3, 40);
    flush(&db);
    if full {
        full_compaction(&db, &scenario);
    } else {
        compact_until_idle(&db, &scenario);
    }
    let why = if full {
        "a full compaction takes every L0 file"
    } else {
        "3 L0 files reached level0_file_num_compaction_trigger = 3"
    };
    check_eq(
        db.shape().l0.len(),
        0,
        &format!("{scenario}: L0 files after compaction ({why})"),
        BOOK_CONTROLLER,
    );
    // Each level's SSTs sorted by key before any read: a read through a level out of order
    // misses keys, and the message would not say why.
    check_levels_do_not_overlap(
        &db.shape(),
        &format!("{scenario}: after compaction"),
        BOOK_INSTALL,
    );
    check_model(&db, &model, n, &scenario, BOOK_JOB);
    // One more generation, read from the memtable over the levels, then a second full compaction.
    put_all(&db, &mut model, (0..n).step_by(7), 4, 40);
    check_model(
        &db,
        &model,
        n,
        &format!("{scenario}, generation 4 unflushed"),
        BOOK_JOB,
    );
    flush(&db);
    full_compaction(&db, &scenario);
    check_model(
        &db,
        &model,
        n,
        &format!("{scenario}, all compacted"),
        BOOK_JOB,
    );
}

#[test]
fn full_compaction_writes_exactly_the_live_entries_and_no_tombstone() {
    let dir = temp_dir();
    let db = open(dir.path(), small_options(leveled(4, 2, 4096, 3)));
    let mut model = Model::new();
    let scenario = "300 keys over 3 L0 files, every third deleted, then force_full_compaction";
    put_all(&db, &mut model, 0..300, 0, 30);
    flush(&db);
    put_all(&db, &mut model, (0..300).step_by(2), 1, 30);
    flush(&db);
    for i in (0..300).step_by(3) {
        delete(&db, &mut model, key(i));
    }
    flush(&db);
    full_compaction(&db, scenario);
    let shape = db.shape();
    let mut written = Entries::new();
    for sst in shape.levels.iter().flat_map(|l| &l.ssts) {
        written.extend(sst_file_entries(dir.path(), sst.id, scenario));
    }
    // The bottom level is one sorted run, so reading its SSTs in order gives the model exactly.
    check_entries(
        &written,
        &model_range(&model, Bound::Unbounded, Bound::Unbounded),
        &format!("{scenario}: entries stored in the bottom level's SST files\n{shape}"),
        BOOK_TOMBSTONES,
    );
    check_eq(
        level_ssts(&shape, 3),
        shape.levels.iter().map(|l| l.ssts.len()).sum(),
        &format!("{scenario}: every SST is in the bottom level L3\n{shape}"),
        BOOK_JOB,
    );
}

#[rstest]
#[case::target_2k(2048)]
#[case::target_4k(4096)]
fn compaction_output_is_cut_into_ssts_of_about_target_sst_size(#[case] target: usize) {
    let dir = temp_dir();
    let db = open(
        dir.path(),
        LsmOptions {
            target_sst_size: target,
            ..small_options(leveled(4, 2, 4096, 2))
        },
    );
    let mut model = Model::new();
    let n = 800;
    let scenario = format!("{n} keys with 40-byte values, target_sst_size {target}");
    put_all(&db, &mut model, 0..n, 0, 40);
    flush(&db);
    full_compaction(&db, &scenario);
    let shape = db.shape();
    let ssts = &shape.levels[1].ssts;
    let total: u64 = ssts.iter().map(|s| s.size_bytes).sum();
    // About total / target SSTs: each is cut once it reaches the target, so none is tiny
    // (except perhaps the last) and none is much larger (one block plus its meta at most).
    let min_count = (total / (2 * target as u64)).max(2) as usize;
    if ssts.len() < min_count {
        fail(
            &format!("{scenario}: number of bottom-level SSTs for {total} bytes\n{shape}"),
            format!("at least {min_count}"),
            ssts.len(),
            BOOK_JOB,
        );
    }
    for (i, sst) in ssts.iter().enumerate() {
        let last = i + 1 == ssts.len();
        let too_small = !last && sst.size_bytes < target as u64 / 2;
        if too_small || sst.size_bytes > 2 * target as u64 {
            fail(
                &format!(
                    "{scenario}: size of bottom-level SST {} ({i} of {})\n{shape}",
                    sst.id,
                    ssts.len()
                ),
                format!("between {} and {} bytes", target / 2, 2 * target),
                sst.size_bytes,
                BOOK_JOB,
            );
        }
    }
    check_levels_do_not_overlap(&shape, &scenario, BOOK_JOB);
    check_model(&db, &model, n, &scenario, BOOK_JOB);
}

#[test]
fn all_tombstone_input_compacts_to_no_sst_at_all() {
    let dir = temp_dir();
    let db = open(dir.path(), small_options(leveled(4, 2, 4096, 3)));
    let mut model = Model::new();
    let scenario = "100 keys put and flushed, all deleted and flushed, force_full_compaction";
    put_all(&db, &mut model, 0..100, 0, 20);
    flush(&db);
    for i in 0..100 {
        delete(&db, &mut model, key(i));
    }
    flush(&db);
    full_compaction(&db, scenario);
    let shape = db.shape();
    check_eq(
        live_ids(&shape),
        BTreeSet::new(),
        &format!("{scenario}: SSTs left in L0 and the levels\n{shape}"),
        BOOK_TOMBSTONES,
    );
    check_eq(
        sst_files(dir.path()),
        BTreeSet::new(),
        &format!("{scenario}: *.sst files left in the directory"),
        BOOK_OBSOLETE,
    );
    check_model(&db, &model, 100, scenario, BOOK_TOMBSTONES);
    // The empty tree still works.
    put_all(&db, &mut model, 40..45, 1, 20);
    flush(&db);
    full_compaction(&db, scenario);
    check_model(
        &db,
        &model,
        100,
        &format!("{scenario}, then 5 keys put again"),
        BOOK_JOB,
    );
}

#[rstest]
#[case::two_levels(2)]
#[case::three_levels(3)]
fn tombstones_compacted_above_the_bottom_level_still_hide_older_values(#[case] max_levels: usize) {
    let dir = temp_dir();
    // Base 1 KiB and multiplier 2: once the bottom level holds ~15 KiB, the levels above it get
    // non-zero targets and L0 is compacted into L1, above the bottom.
    let controller = leveled(2, 2, 1024, max_levels);
    let db = open(dir.path(), small_options(controller.clone()));
    let mut model = Model::new();
    let n = 400;
    let scenario = format!(
        "{n} keys in the bottom level L{max_levels}, every 8th deleted through 2 L0 files, \
         compact_until_idle"
    );
    put_all(&db, &mut model, 0..n, 0, 24);
    flush(&db);
    full_compaction(&db, &scenario);
    for start in [0, 4] {
        for i in (start..n).step_by(8) {
            delete(&db, &mut model, key(i));
        }
        flush(&db);
    }
    compact_until_idle(&db, &scenario);
    // A compaction into a level above the bottom that drops tombstones brings v0 back.
    check_model(&db, &model, n, &scenario, BOOK_TOMBSTONES);

    let shape = db.shape();
    check_levels_do_not_overlap(&shape, &scenario, BOOK_CONTROLLER);
    let upper: Vec<usize> = (1..max_levels)
        .filter(|&l| level_ssts(&shape, l) > 0)
        .collect();
    if upper.is_empty() {
        fail(
            &format!(
                "{scenario}: the base level is above the bottom (targets {:?})\n{shape}",
                expected_targets(&shape, &controller)
            ),
            "the deletes in a level above the bottom level",
            "every level above the bottom empty",
            BOOK_CONTROLLER,
        );
    }
    // Above the bottom, the tombstones are stored, not dropped.
    let mut stored_tombstones = 0;
    for level in upper {
        for sst in shape.levels[level - 1].ssts.iter() {
            let entries = sst_file_entries(dir.path(), sst.id, &scenario);
            stored_tombstones += entries.iter().filter(|(_, v)| v.is_none()).count();
        }
    }
    check_eq(
        stored_tombstones,
        n / 4,
        &format!("{scenario}: tombstones stored in the levels above the bottom\n{shape}"),
        BOOK_TOMBSTONES,
    );
    // A full compaction reaches the bottom: now the tombstones and the values they hide go.
    full_compaction(&db, &scenario);
    check_model(
        &db,
        &model,
        n,
        &format!("{scenario}, then force_full_compaction"),
        BOOK_TOMBSTONES,
    );
}

// ---------------------------------------------------------------------------------------------
// The leveled controller
// ---------------------------------------------------------------------------------------------

/// An SST of a hand-made shape: id, key range and size.
fn sst_info(id: usize, first: &str, last: &str, size_bytes: u64) -> SstInfo {
    SstInfo {
        id,
        first_key: Bytes::copy_from_slice(first.as_bytes()),
        last_key: Bytes::copy_from_slice(last.as_bytes()),
        size_bytes,
    }
}

/// A tree shape made by hand for the controller: L0 (newest first) and levels 1..=3.
fn shape_of(l0: Vec<SstInfo>, levels: [Vec<SstInfo>; 3]) -> TreeShape {
    let memtable = MemTableInfo {
        id: 100,
        approximate_size: 0,
        num_entries: 0,
    };
    TreeShape {
        memtable,
        immutable_memtables: Vec::new(),
        l0,
        levels: (1..=3)
            .zip(levels)
            .map(|(level, ssts)| LevelInfo { level, ssts })
            .collect(),
    }
}

/// The controller on hand-made shapes (trigger 2, multiplier 10, base size 1000, 3 levels). The
/// bottom level, L3, holds 5000 bytes, so the targets are L1 0, L2 500, L3 5000: L2 is the base
/// level, and here it holds exactly its target, 500 bytes in four SSTs. An L0 spanning d..h
/// overlaps c..d and h..z, which it touches only at their last and first key: leaving them out
/// would put a second d and a second h into the level.
#[rstest]
#[case::l0_goes_to_the_base_level_with_only_the_overlapping_ssts(
    vec![sst_info(9, "d", "f", 50), sst_info(8, "c", "e", 50)],
    Some(CompactionTask {
        l0_sst_ids: vec![9, 8],
        level_sst_ids: vec![(2, vec![2, 3])],
        output_level: 2,
        output_is_bottom_level: false,
    }),
)]
#[case::a_level_exactly_at_its_target_is_left_alone(vec![sst_info(9, "d", "f", 50)], None)]
#[case::l0_takes_the_ssts_that_share_only_an_end_key_with_it(
    vec![sst_info(9, "d", "f", 50), sst_info(8, "e", "h", 50)],
    Some(CompactionTask {
        l0_sst_ids: vec![9, 8],
        level_sst_ids: vec![(2, vec![2, 3, 4])],
        output_level: 2,
        output_is_bottom_level: false,
    }),
)]
fn controller_picks_the_documented_task_on_a_hand_made_shape(
    #[case] l0: Vec<SstInfo>,
    #[case] expected: Option<CompactionTask>,
) {
    let base_level = vec![
        sst_info(1, "a", "b", 100),
        sst_info(2, "c", "d", 100),
        sst_info(3, "e", "g", 100),
        sst_info(4, "h", "z", 200),
    ];
    let shape = shape_of(
        l0,
        [Vec::new(), base_level, vec![sst_info(5, "a", "z", 5000)]],
    );
    let controller = LeveledCompactionController::new(leveled(2, 10, 1000, 3));
    check_eq(
        controller.target_sizes(&shape),
        vec![0, 500, 5000],
        &format!("target_sizes of\n{shape}"),
        BOOK_CONTROLLER,
    );
    check_eq(
        controller.generate_task(&shape),
        expected,
        &format!("generate_task of\n{shape}"),
        BOOK_CONTROLLER,
    );
}

/// Runs the controller (trigger 2, multiplier 10, base size 1000, 3 levels) on a hand-made
/// `shape` and checks the task it picks.
#[track_caller]
fn check_task(shape: &TreeShape, expected: Option<CompactionTask>, why: &str) {
    let controller = LeveledCompactionController::new(leveled(2, 10, 1000, 3));
    check_eq(
        controller.generate_task(shape),
        expected,
        &format!("{why}: generate_task of\n{shape}"),
        BOOK_CONTROLLER,
    );
}

/// After deletes shrank the bottom level, L3 (800 bytes) makes every target above it 0, so L3 is
/// the base level; but L2 still holds older data. L0 must go into L2, not under it: a newer
/// version compacted into L3 would be shadowed by the older one in L2.
#[test]
fn l0_is_never_compacted_under_a_level_that_still_holds_data() {
    let l0 = vec![sst_info(9, "d", "f", 50), sst_info(8, "c", "e", 50)];
    let shape = shape_of(
        l0,
        [
            Vec::new(),
            vec![sst_info(3, "a", "m", 300)],
            vec![sst_info(5, "a", "z", 800)],
        ],
    );
    check_task(
        &shape,
        Some(CompactionTask {
            l0_sst_ids: vec![9, 8],
            level_sst_ids: vec![(2, vec![3])],
            output_level: 2,
            output_is_bottom_level: false,
        }),
        "targets L1 0, L2 0, L3 1000 (L3 is the base level), L2 still holds data: L0 goes to L2, \
         the highest non-empty level",
    );
}

/// Below the trigger, the level most over its target gives its *oldest* SST (smallest id) to the
/// level below. Here L2 (target 500) holds 900 bytes in three SSTs whose ids are not in key
/// order: the oldest, id 4, is the middle one, so neither "the first SST" nor "the newest SST"
/// picks it.
#[test]
fn level_compaction_takes_the_oldest_sst_of_the_level_most_over_its_target() {
    let shape = shape_of(
        vec![sst_info(20, "a", "z", 50)],
        [
            Vec::new(),
            vec![
                sst_info(7, "a", "c", 300),
                sst_info(4, "d", "f", 300),
                sst_info(6, "g", "k", 300),
            ],
            vec![
                sst_info(1, "a", "e", 2000),
                sst_info(2, "f", "m", 2000),
                sst_info(3, "n", "z", 1000),
            ],
        ],
    );
    check_task(
        &shape,
        Some(CompactionTask {
            l0_sst_ids: Vec::new(),
            level_sst_ids: vec![(2, vec![4]), (3, vec![1, 2])],
            output_level: 3,
            output_is_bottom_level: true,
        }),
        "L2 holds 900 bytes over its 500-byte target: its oldest SST (id 4, d..f) and the L3 \
         SSTs overlapping it",
    );
}

/// Two levels with the same score: the deeper one goes first (it makes room before the level
/// above pushes more data into it). Targets L1 1000, L2 10000, L3 100000; L1 holds 2000 bytes and
/// L2 20000: both score exactly 2.
#[test]
fn equal_scores_compact_the_deeper_level_first() {
    let shape = shape_of(
        Vec::new(),
        [
            vec![sst_info(11, "a", "m", 1000), sst_info(10, "n", "z", 1000)],
            vec![sst_info(6, "a", "k", 10000), sst_info(7, "l", "z", 10000)],
            vec![sst_info(1, "a", "z", 100_000)],
        ],
    );
    check_task(
        &shape,
        Some(CompactionTask {
            l0_sst_ids: Vec::new(),
            level_sst_ids: vec![(2, vec![6]), (3, vec![1])],
            output_level: 3,
            output_is_bottom_level: true,
        }),
        "L1 (2000 / 1000) and L2 (20000 / 10000) both score 2: the tie goes to L2",
    );
}

/// An L0 compaction whose key range overlaps nothing in the target level still lists that
/// level, with no SSTs: `level_sst_ids` is `[(target, [])]`, never `[]`.
#[test]
fn l0_task_with_nothing_overlapping_below_lists_the_target_level_empty() {
    let l0 = vec![sst_info(9, "n", "p", 50), sst_info(8, "m", "o", 50)];
    let shape = shape_of(
        l0,
        [
            Vec::new(),
            vec![sst_info(2, "a", "c", 250), sst_info(3, "x", "z", 250)],
            vec![sst_info(5, "a", "z", 5000)],
        ],
    );
    check_task(
        &shape,
        Some(CompactionTask {
            l0_sst_ids: vec![9, 8],
            level_sst_ids: vec![(2, Vec::new())],
            output_level: 2,
            output_is_bottom_level: false,
        }),
        "L0 spans m..p, the base level L2 holds a..c and x..z: nothing of L2 is an input",
    );
}

#[rstest]
#[case::three_levels(leveled(1, 3, 2048, 3))]
#[case::four_levels(leveled(1, 3, 4096, 4))]
#[case::trigger_2(leveled(2, 2, 1024, 3))]
fn newest_version_wins_after_deletes_shrink_the_bottom_level(
    #[case] controller: LeveledCompactionOptions,
) {
    let dir = temp_dir();
    let db = open(dir.path(), small_options(controller.clone()));
    let mut model = Model::new();
    // A bulk of old keys in the bottom level, deleted 40 at a time while 50 hot keys (200..250)
    // are overwritten in each round: the bottom level shrinks, and the base level moves down.
    put_all(&db, &mut model, 0..200, 0, 40);
    flush(&db);
    full_compaction(&db, "200 keys");
    for round in 0..6 {
        for i in (round * 40)..(round * 40 + 40).min(200) {
            delete(&db, &mut model, key(i));
        }
        put_all(&db, &mut model, 200..250, round + 1, 20);
        flush(&db);
        let scenario = format!("{controller:?}, round {round} of deletes and overwrites");
        compact_until_idle(&db, &scenario);
        // An L0 compacted into a base level below a level that still holds older versions lets
        // those older versions shadow the newest one.
        check_model(&db, &model, 250, &scenario, BOOK_CONTROLLER);
        let shape = db.shape();
        check_levels_do_not_overlap(&shape, &scenario, BOOK_CONTROLLER);
        check_level_targets(&shape, &controller, &scenario);
    }
}

#[rstest]
#[case::trigger_2(2)]
#[case::trigger_4(4)]
fn l0_is_compacted_exactly_when_it_reaches_the_trigger(#[case] trigger: usize) {
    let dir = temp_dir();
    let db = open(dir.path(), small_options(leveled(trigger, 10, 1 << 20, 3)));
    let mut model = Model::new();
    for file in 1..trigger {
        put_all(&db, &mut model, (file..100).step_by(trigger), file, 20);
        flush(&db);
        let scenario = format!("trigger {trigger}, {file} L0 files");
        check_eq(
            compact_until_idle(&db, &scenario),
            0,
            &format!("{scenario}: compactions run by compact_until_idle"),
            BOOK_CONTROLLER,
        );
        check_eq(
            db.shape().l0.len(),
            file,
            &format!("{scenario}: L0 files"),
            BOOK_CONTROLLER,
        );
    }
    put_all(&db, &mut model, 0..100, trigger, 20);
    flush(&db);
    let scenario = format!("trigger {trigger}, {trigger} L0 files");
    // A tree this small has only its bottom level (base 1 MiB): one compaction takes L0 straight
    // there, not through the empty levels above it.
    check_eq(
        compact_until_idle(&db, &scenario),
        1,
        &format!("{scenario}: compactions run by compact_until_idle"),
        BOOK_CONTROLLER,
    );
    let shape = db.shape();
    check_levels_listed(&shape, 3, &scenario);
    check_eq(
        shape.l0.len(),
        0,
        &format!("{scenario}: L0 files after compact_until_idle\n{shape}"),
        BOOK_CONTROLLER,
    );
    check_eq(
        (
            level_ssts(&shape, 1),
            level_ssts(&shape, 2),
            level_ssts(&shape, 3) > 0,
        ),
        (0, 0, true),
        &format!("{scenario}: (L1 SSTs, L2 SSTs, L3 non-empty)\n{shape}"),
        BOOK_CONTROLLER,
    );
    check_model(&db, &model, 100, &scenario, BOOK_JOB);
}

#[rstest]
#[case::seed_1(1)]
#[case::seed_2(2)]
#[case::seed_3(3)]
fn levels_below_l0_never_overlap_during_a_random_workload(#[case] seed: u64) {
    let dir = temp_dir();
    let controller = leveled(2, 2, 2048, 4);
    let db = open(dir.path(), small_options(controller.clone()));
    let mut model = Model::new();
    let mut rng = Rng::new(seed);
    let keyspace = 400;
    for step in 0..700 {
        let roll = rng.below(100);
        let what = match roll {
            0..75 => {
                random_writes(&db, &mut model, &mut rng, 1, keyspace, step);
                "a random write"
            }
            75..90 => {
                flush(&db);
                "force_flush"
            }
            90..99 => {
                compact_until_idle(&db, "random workload");
                "compact_until_idle"
            }
            _ => {
                full_compaction(&db, "random workload");
                "force_full_compaction"
            }
        };
        let scenario = format!("seed {seed}, step {step}: after {what}");
        let shape = db.shape();
        check_levels_do_not_overlap(&shape, &scenario, BOOK_CONTROLLER);
        if what == "compact_until_idle" {
            check_l0_below_trigger(
                &shape,
                controller.level0_file_num_compaction_trigger,
                &scenario,
            );
        }
        if step % 100 == 99 {
            check_model(&db, &model, keyspace, &scenario, BOOK_JOB);
        }
    }
    check_eq(
        db.stats().compactions > 0,
        true,
        &format!("seed {seed}: some compaction ran"),
        BOOK_CONTROLLER,
    );
}

#[rstest]
#[case::multiplier_2_four_levels(leveled(2, 2, 2048, 4))]
#[case::multiplier_3_three_levels(leveled(3, 3, 2048, 3))]
#[case::multiplier_4_two_levels(leveled(2, 4, 4096, 2))]
#[case::multiplier_2_big_base(leveled(4, 2, 16384, 4))]
fn level_sizes_stay_within_their_targets_after_compact_until_idle(
    #[case] controller: LeveledCompactionOptions,
) {
    let dir = temp_dir();
    let db = open(dir.path(), small_options(controller.clone()));
    let mut model = Model::new();
    let mut rng = Rng::new(7);
    let keyspace = 1500;
    let trigger = controller.level0_file_num_compaction_trigger;
    for round in 0..24 {
        random_writes(&db, &mut model, &mut rng, 80, keyspace, round);
        flush(&db);
        let scenario = format!("{controller:?}, round {round}");
        compact_until_idle(&db, &scenario);
        let shape = db.shape();
        check_levels_listed(&shape, controller.max_levels, &scenario);
        check_levels_do_not_overlap(&shape, &scenario, BOOK_CONTROLLER);
        check_l0_below_trigger(&shape, trigger, &scenario);
        check_level_targets(&shape, &controller, &scenario);
    }
    check_model(&db, &model, keyspace, "after 24 rounds", BOOK_JOB);
}

// ---------------------------------------------------------------------------------------------
// Installing a result, obsolete files, counters
// ---------------------------------------------------------------------------------------------

#[rstest]
#[case::force_full_compaction(true)]
#[case::compact_until_idle(false)]
fn scan_opened_before_compaction_returns_its_full_result_after_the_inputs_are_gone(
    #[case] full: bool,
) {
    let dir = temp_dir();
    // A tiny block cache: after the compaction the scan must read the old files themselves.
    let options = LsmOptions {
        block_cache_bytes: 512,
        ..small_options(leveled(3, 2, 4096, 3))
    };
    let db = open(dir.path(), options);
    let mut model = Model::new();
    let mut rng = Rng::new(11);
    for round in 0..3 {
        random_writes(&db, &mut model, &mut rng, 150, 250, round);
        flush(&db);
    }
    let scenario = format!("3 L0 files, scans opened, then compaction (full={full})");
    let inputs = live_ids(&db.shape());
    let (a, b) = (key(50), key(180));
    let expected_full = model_range(&model, Bound::Unbounded, Bound::Unbounded);
    let expected_range = model_range(&model, Bound::Included(&a), Bound::Excluded(&b));
    let mut full_scan = ok(
        db.scan(Bound::Unbounded, Bound::Unbounded),
        &scenario,
        BOOK_INSTALL,
    );
    let mut range_scan = ok(
        db.scan(Bound::Included(&a), Bound::Excluded(&b)),
        &scenario,
        BOOK_INSTALL,
    );
    // Read a few entries first, so the scan stands in the middle of its input files.
    let mut seen = Entries::new();
    for _ in 0..10 {
        if !full_scan.is_valid() {
            break;
        }
        seen.push((
            full_scan.key().to_vec(),
            full_scan.value().map(<[u8]>::to_vec),
        ));
        ok(full_scan.next(), &scenario, BOOK_INSTALL);
    }
    if full {
        full_compaction(&db, &scenario);
    } else {
        check_eq(
            compact_until_idle(&db, &scenario) >= 1,
            true,
            &format!("{scenario}: compact_until_idle ran a compaction"),
            BOOK_CONTROLLER,
        );
    }
    check_eq(
        live_ids(&db.shape()).intersection(&inputs).count(),
        0,
        &format!("{scenario}: input SSTs {inputs:?} still in the tree"),
        BOOK_INSTALL,
    );
    seen.extend(ok(
        drain(&mut full_scan, &scenario, BOOK_INSTALL),
        &format!("{scenario}: rest of the full scan"),
        BOOK_INSTALL,
    ));
    check_entries(
        &seen,
        &expected_full,
        &format!("{scenario}: full scan opened before the compaction"),
        BOOK_INSTALL,
    );
    check_iter(
        &mut range_scan,
        &expected_range,
        &format!("{scenario}: range scan opened before the compaction"),
        BOOK_INSTALL,
    );
    drop(full_scan);
    drop(range_scan);
    let left = sst_files(dir.path());
    check_eq(
        left.intersection(&inputs).copied().collect::<Vec<_>>(),
        Vec::new(),
        &format!("{scenario}: input SST files still in the directory once the scans are done"),
        BOOK_OBSOLETE,
    );
    check_files_match_tree(&db, dir.path(), &scenario);
    check_model(&db, &model, 250, &scenario, BOOK_INSTALL);
}

#[test]
fn scan_over_a_compacted_level_holds_one_iterator_not_one_per_sst() {
    let dir = temp_dir();
    let db = open(dir.path(), small_options(leveled(4, 2, 4096, 3)));
    let mut model = Model::new();
    put_all(&db, &mut model, 0..600, 0, 40);
    flush(&db);
    full_compaction(&db, "600 keys");
    let shape = db.shape();
    let ssts = level_ssts(&shape, 3);
    if ssts < 4 {
        fail(
            &format!(
                "600 keys of 40 bytes, target_sst_size {SMALL_SST}: bottom-level SSTs\n{shape}"
            ),
            "at least 4",
            ssts,
            BOOK_JOB,
        );
    }
    let (a, b) = (key(100), key(500));
    let ranges: [ScanRange; 2] = [
        (Bound::Unbounded, Bound::Unbounded),
        (Bound::Excluded(&a), Bound::Included(&b)),
    ];
    for (lower, upper) in ranges {
        let scenario = format!("scan({lower:?}, {upper:?}) over a bottom level of {ssts} SSTs");
        let mut scan = ok(db.scan(lower, upper), &scenario, BOOK_INSTALL);
        let mut seen = Entries::new();
        while scan.is_valid() {
            check_eq(
                scan.num_active_iterators(),
                1,
                &format!("{scenario}: num_active_iterators() on {}", show(scan.key())),
                BOOK_CONCAT,
            );
            seen.push((scan.key().to_vec(), scan.value().map(<[u8]>::to_vec)));
            ok(scan.next(), &scenario, BOOK_INSTALL);
        }
        check_entries(
            &seen,
            &model_range(&model, lower, upper),
            &scenario,
            BOOK_INSTALL,
        );
    }
    // One key in the memtable, after every key of the level, adds the memtable's cursor.
    put(&db, &mut model, key(700), b"in the memtable".to_vec());
    let scenario = "scan(Unbounded, Unbounded) over the bottom level and one key in the memtable";
    let scan = ok(
        db.scan(Bound::Unbounded, Bound::Unbounded),
        scenario,
        BOOK_INSTALL,
    );
    check_eq(
        scan.num_active_iterators(),
        2,
        &format!("{scenario}: num_active_iterators() on the first key (memtable + level)"),
        BOOK_CONCAT,
    );
}

#[test]
fn sst_files_in_the_directory_are_exactly_the_live_ssts_after_each_compaction() {
    let dir = temp_dir();
    let db = open(dir.path(), small_options(leveled(2, 2, 2048, 3)));
    let mut model = Model::new();
    let mut rng = Rng::new(5);
    for round in 0..12 {
        random_writes(&db, &mut model, &mut rng, 100, 300, round);
        flush(&db);
        let scenario = format!("round {round}: after flush");
        check_files_match_tree(&db, dir.path(), &scenario);
        compact_until_idle(&db, &scenario);
        check_files_match_tree(
            &db,
            dir.path(),
            &format!("round {round}: after compact_until_idle"),
        );
    }
    full_compaction(&db, "after 12 rounds");
    check_files_match_tree(&db, dir.path(), "after force_full_compaction");
    check_model(&db, &model, 300, "after force_full_compaction", BOOK_JOB);
}

#[test]
fn compaction_counters_count_each_compaction_and_its_written_bytes() {
    let dir = temp_dir();
    let db = open(dir.path(), small_options(leveled(4, 2, 4096, 3)));
    let mut model = Model::new();
    for generation in 0..3 {
        put_all(
            &db,
            &mut model,
            (generation..300).step_by(2),
            generation,
            30,
        );
        flush(&db);
    }
    let before = db.stats();
    check_eq(
        (
            before.compactions,
            before.bytes_compacted,
            before.write_amplification(),
        ),
        (0, 0, Some(1.0)),
        "3 flushes, no compaction yet: (compactions, bytes_compacted, write_amplification())",
        BOOK_WA,
    );
    full_compaction(&db, "3 L0 files");
    let after = db.stats();
    let shape = db.shape();
    let bottom = level_bytes(&shape, 3);
    check_eq(
        (after.compactions, after.bytes_compacted),
        (1, bottom),
        &format!(
            "one force_full_compaction: (compactions, bytes_compacted == size of its output)\n{shape}"
        ),
        BOOK_WA,
    );
    let expected_wa = (after.bytes_flushed + bottom) as f64 / after.bytes_flushed as f64;
    let wa = after.write_amplification();
    if !wa.is_some_and(|wa| wa > 1.0 && (wa - expected_wa).abs() < 1e-9) {
        fail(
            "write_amplification() after one compaction",
            format!("Some({expected_wa}) (> 1.0)"),
            wa,
            BOOK_WA,
        );
    }
    check_eq(
        compact_until_idle(&db, "nothing left to compact"),
        0,
        "compact_until_idle with an empty L0 and one level",
        BOOK_CONTROLLER,
    );
    check_eq(
        db.stats().compactions,
        1,
        "stats().compactions after an idle compact_until_idle",
        BOOK_WA,
    );
    check_model(&db, &model, 300, "after one compaction", BOOK_JOB);
}

/// Backpressure (given code in `MiniLsm::write_batch`, see the day-4 chapter): before each
/// write, a writer that finds more than `max_immutable_memtables + 4` frozen memtables flushes
/// one itself, and one that finds L0 at 5 x its trigger runs a compaction itself through
/// `trigger_compaction`. So a fast writer cannot pile up memtables or L0 SSTs faster than the
/// background threads remove them. After a put, one more memtable may be frozen (the put's own),
/// and L0 may hold what the flush thread added since the check (at most those 4 + 1).
/// Without backpressure this run sees dozens of each.
#[test]
fn a_fast_writer_does_the_flush_and_compaction_backlog_itself() {
    let dir = temp_dir();
    let trigger = 2;
    let options = LsmOptions {
        memtable_size: 1024,
        max_immutable_memtables: 0,
        background_compaction: true,
        ..small_options(leveled(trigger, 10, 64 << 20, 3))
    };
    let db = open(dir.path(), options);
    const PUTS: u32 = 1000;
    let (frozen_limit, l0_limit) = (4 + 1, trigger * 5 + 4);
    let (mut most_frozen, mut most_l0) = (0, 0);
    for i in 0..PUTS {
        let key = format!("key{:05}", i * 7919 % PUTS);
        ok(
            db.put(key.as_bytes(), &[b'v'; 64]),
            &format!("put {key}"),
            BOOK_CONTROLLER,
        );
        let shape = db.shape();
        most_frozen = most_frozen.max(shape.immutable_memtables.len());
        most_l0 = most_l0.max(shape.l0.len());
    }
    if most_frozen > frozen_limit || most_l0 > l0_limit {
        fail(
            &format!(
                "(most frozen memtables, most L0 SSTs) seen after each of {PUTS} puts of 64-byte \
                 values with 1 KiB memtables, max_immutable_memtables 0, trigger {trigger}, \
                 background compaction on"
            ),
            format!("at most ({frozen_limit}, {l0_limit})"),
            (most_frozen, most_l0),
            BOOK_CONTROLLER,
        );
    }
    ok(db.close(), "close()", BOOK_CONTROLLER);
}

#[test]
fn background_compaction_finishes_its_work_on_close() {
    let dir = temp_dir();
    let trigger = 2;
    let options = LsmOptions {
        background_compaction: true,
        ..small_options(leveled(trigger, 2, 2048, 3))
    };
    let db = open(dir.path(), options);
    let mut model = Model::new();
    let mut rng = Rng::new(9);
    for round in 0..16 {
        random_writes(&db, &mut model, &mut rng, 60, 300, round);
        flush(&db);
    }
    // Whatever the background thread is doing right now, reads see the newest values.
    check_model(
        &db,
        &model,
        300,
        "16 flushes with background compaction on",
        BOOK_JOB,
    );
    ok(
        db.close(),
        "close() with background compaction",
        BOOK_CONTROLLER,
    );
    let shape = db.shape();
    let scenario = "after close(), which waits for the compaction thread";
    check_l0_below_trigger(&shape, trigger, scenario);
    check_levels_do_not_overlap(&shape, scenario, BOOK_CONTROLLER);
    check_eq(
        db.stats().compactions > 0,
        true,
        &format!("{scenario}: stats().compactions > 0"),
        BOOK_CONTROLLER,
    );
    check_files_match_tree(&db, dir.path(), scenario);
}
