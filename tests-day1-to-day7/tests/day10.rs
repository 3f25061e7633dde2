//! Day 10 (Part 2): tiered compaction. Book chapter `day10-tiered-compaction.md`.
//!
//! Covers:
//! - the tiered controller on hand-made shapes: each trigger (space amplification, size ratio,
//!   run count) and their order, the merge taking the newest runs (and every L0 SST), the output
//!   slot (the oldest merged level, the lowest empty level above the next run, L1 joining the
//!   merge, the bottom slot), `output_is_bottom_level` only when every run is merged;
//! - the engine under tiered compaction: values correct after every compaction of a seeded
//!   workload, a scan opened before a compaction, tombstones kept until a merge takes every run,
//!   reopening, read amplification at most `max_runs` and space amplification within its bound
//!   once the tree is idle, the options' ranges at their edges, switching between the leveled
//!   and the tiered controller across reopens, and the background compaction thread.

use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use rstest::rstest;
use tests_day1_to_day7::lsm::compact::CompactionTask;
use tests_day1_to_day7::lsm::compact::tiered::TieredCompactionController;
use tests_day1_to_day7::lsm::inspect::{LevelInfo, MemTableInfo, SstInfo};
use tests_day1_to_day7::lsm::{
    CompactionOptions, Error, LeveledCompactionOptions, LsmOptions, MiniLsm,
    TieredCompactionOptions, TreeShape,
};
use tests_day1_to_day7::*;

const BOOK_RUNS: &str = "day10-tiered-compaction.md#sorted-runs";
const BOOK_TRIGGERS: &str = "day10-tiered-compaction.md#the-triggers";
const BOOK_SLOT: &str = "day10-tiered-compaction.md#where-the-output-goes";
const BOOK_TOMBSTONES: &str = "day10-tiered-compaction.md#tombstones";
const BOOK_ENGINE: &str = "day10-tiered-compaction.md#in-the-engine";
const BOOK_AMPLIFICATION: &str = "day10-tiered-compaction.md#amplification";
const BOOK_OPTIONS: &str = "day10-tiered-compaction.md#options";
const BOOK_SWITCH: &str = "day10-tiered-compaction.md#switching-controllers";

/// Small blocks and SSTs, so that a few hundred entries make multi-SST runs.
const SMALL_BLOCK: usize = 256;
const SMALL_SST: usize = 2048;

// ---------------------------------------------------------------------------------------------
// Helpers: hand-made shapes
// ---------------------------------------------------------------------------------------------

fn tiered(
    max_runs: usize,
    max_size_amplification_percent: u64,
    size_ratio_percent: u64,
    max_levels: usize,
) -> TieredCompactionOptions {
    TieredCompactionOptions {
        max_runs,
        max_size_amplification_percent,
        size_ratio_percent,
        min_merge_width: 2,
        max_levels,
    }
}

/// An SST of a hand-made shape covering `a..=z`, with its id and size.
fn sst(id: usize, size_bytes: u64) -> SstInfo {
    SstInfo {
        id,
        first_key: Bytes::from_static(b"a"),
        last_key: Bytes::from_static(b"z"),
        size_bytes,
    }
}

/// A level of a hand-made shape: one SST (id `100 + level`) of `size` bytes, or empty for 0.
fn level(size: u64, level: usize) -> Vec<SstInfo> {
    if size == 0 {
        Vec::new()
    } else {
        vec![sst(100 + level, size)]
    }
}

/// A tree shape made by hand: L0 SSTs `(id, size)` newest first, then levels 1..=4 of the given
/// sizes (0 for an empty level; each non-empty level is one SST with id `100 + level`).
fn shape_of(l0: &[(usize, u64)], levels: [u64; 4]) -> TreeShape {
    let memtable = MemTableInfo {
        id: 1000,
        approximate_size: 0,
        num_entries: 0,
    };
    TreeShape {
        memtable,
        immutable_memtables: Vec::new(),
        l0: l0.iter().map(|&(id, size)| sst(id, size)).collect(),
        levels: (1..=4)
            .zip(levels)
            .map(|(number, size)| LevelInfo {
                level: number,
                ssts: level(size, number),
            })
            .collect(),
    }
}

/// A task merging the L0 SSTs `l0` and the levels `levels` (each one SST, id `100 + level`).
fn task(l0: &[usize], levels: &[usize], output_level: usize, bottom: bool) -> CompactionTask {
    CompactionTask {
        l0_sst_ids: l0.to_vec(),
        level_sst_ids: levels.iter().map(|&l| (l, vec![100 + l])).collect(),
        output_level,
        output_is_bottom_level: bottom,
    }
}

#[track_caller]
fn check_task(
    options: TieredCompactionOptions,
    shape: &TreeShape,
    expected: Option<CompactionTask>,
    why: &str,
    book: &str,
) {
    let controller = TieredCompactionController::new(options.clone());
    check_eq(
        controller.generate_task(shape),
        expected,
        &format!("{why}; options {options:?}; generate_task of\n{shape}"),
        book,
    );
}

// ---------------------------------------------------------------------------------------------
// The controller
// ---------------------------------------------------------------------------------------------

/// Space amplification: the runs newer than the oldest hold more than the allowed percent of the
/// oldest's bytes, so every run is merged into the oldest's slot, and tombstones may go.
#[rstest]
#[case::over_the_limit_merges_every_run(100, [0, 30, 60, 100],
    Some(task(&[9], &[2, 3, 4], 4, true)))]
#[case::at_the_limit_is_left_alone(190, [0, 30, 60, 100], None)]
#[case::oldest_run_in_l3_keeps_its_slot(100, [0, 30, 40, 0],
    Some(task(&[9], &[2, 3], 3, true)))]
fn space_amplification_merges_every_run_into_the_oldest_slot(
    #[case] percent: u64,
    #[case] levels: [u64; 4],
    #[case] expected: Option<CompactionTask>,
) {
    // Size ratio 0 % and 10 runs allowed: neither other trigger picks anything here (L2 is
    // larger than the L0 SST above it).
    let shape = shape_of(&[(9, 20)], levels);
    let newer: u64 = 20
        + levels
            .iter()
            .rev()
            .skip_while(|&&s| s == 0)
            .skip(1)
            .sum::<u64>();
    check_task(
        tiered(10, percent, 0, 4),
        &shape,
        expected,
        &format!("newer runs hold {newer} bytes, allowed: {percent}% of the oldest run"),
        BOOK_TRIGGERS,
    );
}

/// Size ratio: from the newest run, the next older run joins while it holds at most
/// `(100 + size_ratio_percent)%` of the bytes picked so far; a larger run stops the pick.
#[rstest]
#[case::three_similar_runs_then_a_larger_one(1, Some(task(&[9, 8], &[2], 2, false)))]
#[case::a_wider_ratio_takes_the_larger_run_too(20, Some(task(&[9, 8], &[2, 3], 3, false)))]
fn size_ratio_merges_the_newest_runs_of_similar_size(
    #[case] ratio: u64,
    #[case] expected: Option<CompactionTask>,
) {
    // Runs: 10, 10, 20 (L2), 45 (L3), 1000 (L4). 10 + 10 = 20 >= 20 (L2 joins: 40); 45 > 40.4
    // stops at 1 %, but 45 <= 48 joins at 20 %.
    let shape = shape_of(&[(9, 10), (8, 10)], [0, 20, 45, 1000]);
    check_task(
        tiered(10, 1000, ratio, 4),
        &shape,
        expected,
        &format!("runs 10, 10, 20, 45, 1000 bytes, size ratio {ratio}%"),
        BOOK_TRIGGERS,
    );
}

/// Run count: with more runs than `max_runs` and no other trigger, the newest runs are merged,
/// just enough to leave `max_runs`; at `max_runs` or fewer nothing happens.
#[rstest]
#[case::one_run_too_many_merges_the_newest_two(3, Some(task(&[9], &[2], 2, false)))]
#[case::two_runs_too_many_merges_the_newest_three(2, Some(task(&[9], &[2, 3], 3, false)))]
#[case::at_the_limit_nothing_happens(4, None)]
fn run_count_merges_just_enough_of_the_newest_runs(
    #[case] max_runs: usize,
    #[case] expected: Option<CompactionTask>,
) {
    // Runs 10, 100, 1000, 10000 bytes: no two are of similar size, and the newer ones are far
    // below the oldest.
    let shape = shape_of(&[(9, 10)], [0, 100, 1000, 10_000]);
    check_task(
        tiered(max_runs, 200, 1, 4),
        &shape,
        expected,
        &format!("4 runs (10, 100, 1000, 10000 bytes), max_runs {max_runs}"),
        BOOK_TRIGGERS,
    );
}

/// When two triggers fire, the earlier one in the order space amplification, size ratio, run
/// count decides the task.
#[rstest]
#[case::space_amplification_before_size_ratio(
    // Newer runs 1020 bytes > 100% of 500; size ratio alone would merge the two L0 SSTs.
    &[(9, 10), (8, 10)], [0, 0, 1000, 500], 100, 10,
    Some(task(&[9, 8], &[3, 4], 4, true)),
)]
#[case::size_ratio_before_run_count(
    // 5 runs, max 2: run count alone would merge four (into L3); size ratio picks three.
    &[(9, 10), (8, 10)], [0, 20, 45, 1000], 1000, 2,
    Some(task(&[9, 8], &[2], 2, false)),
)]
fn triggers_are_checked_in_order_space_amplification_size_ratio_run_count(
    #[case] l0: &[(usize, u64)],
    #[case] levels: [u64; 4],
    #[case] percent: u64,
    #[case] max_runs: usize,
    #[case] expected: Option<CompactionTask>,
) {
    let shape = shape_of(l0, levels);
    check_task(
        tiered(max_runs, percent, 1, 4),
        &shape,
        expected,
        "two triggers fire",
        BOOK_TRIGGERS,
    );
}

/// Where a merge of L0 SSTs only goes: the lowest empty level above the next older run; L1 joins
/// the merge when it holds that run; the bottom level when nothing is older. And a merge that
/// picks some L0 SSTs takes them all: its output lands below every L0 SST.
#[rstest]
#[case::lowest_empty_level_above_the_next_run(
    &[(9, 10), (8, 10)], [0, 0, 1000, 5000], Some(task(&[9, 8], &[], 2, false)))]
#[case::l1_holds_the_next_run_so_it_joins(
    &[(9, 10), (8, 10)], [1000, 0, 0, 5000], Some(task(&[9, 8], &[1], 1, false)))]
#[case::nothing_older_goes_to_the_bottom_level(
    &[(9, 10), (8, 10)], [0, 0, 0, 0], Some(task(&[9, 8], &[], 4, true)))]
#[case::every_l0_sst_even_a_large_one(
    &[(9, 10), (8, 10), (7, 1000)], [0, 0, 0, 5000], Some(task(&[9, 8, 7], &[], 3, false)))]
fn an_l0_merge_takes_every_l0_sst_into_the_level_slot_above_the_next_run(
    #[case] l0: &[(usize, u64)],
    #[case] levels: [u64; 4],
    #[case] expected: Option<CompactionTask>,
) {
    // Size ratio 1 % picks the two 10-byte L0 SSTs; nothing else fires.
    let shape = shape_of(l0, levels);
    check_task(
        tiered(10, 1000, 1, 4),
        &shape,
        expected,
        "size ratio picks the two newest L0 SSTs",
        BOOK_SLOT,
    );
}

// ---------------------------------------------------------------------------------------------
// Helpers: the engine
// ---------------------------------------------------------------------------------------------

/// Day-10 options with small blocks and SSTs and the given tiered parameters.
fn small_options(controller: TieredCompactionOptions) -> LsmOptions {
    LsmOptions {
        block_size: SMALL_BLOCK,
        target_sst_size: SMALL_SST,
        compaction: CompactionOptions::Tiered(controller),
        ..options_for_day(7)
    }
}

fn open(dir: &Path, options: LsmOptions) -> Arc<MiniLsm> {
    ok(
        MiniLsm::open(dir, options),
        &format!("open {}", dir.display()),
        BOOK_ENGINE,
    )
}

fn put(db: &MiniLsm, model: &mut Model, key: Vec<u8>, value: Vec<u8>) {
    model_put(db, model, key, value, BOOK_ENGINE);
}

fn delete(db: &MiniLsm, model: &mut Model, key: Vec<u8>) {
    model_delete(db, model, key, BOOK_TOMBSTONES);
}

fn flush(db: &MiniLsm) {
    ok(db.force_flush(), "force_flush", BOOK_ENGINE);
}

fn compact_until_idle(db: &MiniLsm, scenario: &str) -> usize {
    ok(
        db.compact_until_idle(),
        &format!("{scenario}: compact_until_idle"),
        BOOK_TRIGGERS,
    )
}

/// The total file size of every SST in the tree.
fn stored_bytes(shape: &TreeShape) -> u64 {
    let levels = shape.levels.iter().flat_map(|level| &level.ssts);
    shape
        .l0
        .iter()
        .chain(levels)
        .map(|sst| sst.size_bytes)
        .sum()
}

/// The sizes of the sorted runs, newest first: each L0 SST, then each non-empty level.
fn run_sizes(shape: &TreeShape) -> Vec<u64> {
    let l0 = shape.l0.iter().map(|sst| sst.size_bytes);
    let levels = shape
        .levels
        .iter()
        .filter(|level| !level.ssts.is_empty())
        .map(|level| level.ssts.iter().map(|sst| sst.size_bytes).sum());
    l0.chain(levels).collect()
}

/// Every tombstone in the tree's SST files, read from disk.
fn tombstones_on_disk(dir: &Path, shape: &TreeShape, scenario: &str) -> usize {
    sst_entries_on_disk(dir, shape, scenario, BOOK_TOMBSTONES)
        .iter()
        .filter(|(_, value, _)| value.is_none())
        .count()
}

/// Puts `key(i)` for `i` in `keys` at `generation`, 40-byte values, then flushes: one L0 SST.
fn put_and_flush(
    db: &MiniLsm,
    model: &mut Model,
    keys: impl IntoIterator<Item = usize>,
    generation: usize,
) {
    for i in keys {
        put(db, model, key(i), long_value(i, generation, 40));
    }
    flush(db);
}

/// A seeded workload step: `writes` random puts (and a delete in every `delete_every`) over
/// `keyspace` keys, then a flush.
fn random_flush(
    db: &MiniLsm,
    model: &mut Model,
    rng: &mut Rng,
    keyspace: usize,
    writes: usize,
    generation: usize,
) {
    for _ in 0..writes {
        let i = rng.below(keyspace);
        if rng.below(5) == 0 {
            delete(db, model, key(i));
        } else {
            put(db, model, key(i), long_value(i, generation, 24));
        }
    }
    flush(db);
}

// ---------------------------------------------------------------------------------------------
// The engine
// ---------------------------------------------------------------------------------------------

/// A seeded workload of puts, overwrites and deletes, flushed step by step and compacted until
/// idle after each flush: every `get` and scan matches a model, and every level stays one sorted
/// run of disjoint SSTs.
#[rstest]
#[case(1)]
#[case(7)]
fn values_are_correct_after_every_tiered_compaction(#[case] seed: u64) {
    let dir = temp_dir();
    let db = open(dir.path(), small_options(tiered(3, 200, 1, 4)));
    let mut model = Model::new();
    let mut rng = Rng::new(seed);
    let mut compactions = 0;
    for step in 0..12 {
        random_flush(&db, &mut model, &mut rng, 150, 60, step);
        let s = format!("seed {seed}, step {step}");
        compactions += compact_until_idle(&db, &s);
        check_levels_do_not_overlap(&db.shape(), &s, BOOK_RUNS);
        check_gets_and_full_scan(&db, &model, 150, &s, BOOK_ENGINE);
    }
    if compactions == 0 {
        fail(
            &format!("seed {seed}: 12 flushes with max_runs 3"),
            "at least one compaction",
            compactions,
            BOOK_TRIGGERS,
        );
    }
}

/// A scan opened before a tiered compaction returns the entries it saw when it was opened, even
/// after the compaction replaced (and deleted) the SSTs it reads.
#[test]
fn scan_opened_before_a_tiered_compaction_returns_its_full_result() {
    let dir = temp_dir();
    let db = open(dir.path(), small_options(tiered(1, 200, 1, 4)));
    let mut model = Model::new();
    for generation in 0..3 {
        put_and_flush(
            &db,
            &mut model,
            (generation * 20)..(generation * 20 + 60),
            generation,
        );
    }
    let before = model_range(&model, Bound::Unbounded, Bound::Unbounded);
    let s = "scan opened over three L0 runs, then compact_until_idle (max_runs 1)";
    let mut scan = ok(db.scan(Bound::Unbounded, Bound::Unbounded), s, BOOK_ENGINE);
    // Overwrites after the scan opened must not show in it.
    put_and_flush(&db, &mut model, 0..10, 9);
    compact_until_idle(&db, s);
    check_eq(db.shape().sorted_run_count(), 1, s, BOOK_TRIGGERS);
    check_iter(&mut scan, &before, s, BOOK_ENGINE);
    check_gets_and_full_scan(&db, &model, 100, s, BOOK_ENGINE);
}

/// Tombstones stay in the output while older runs remain below it (they still hide older
/// values there), and go only in a merge of every run. Reopening between the two keeps every
/// key, and the second open's options make the full merge happen.
#[test]
fn tombstones_are_kept_until_a_merge_takes_every_run() {
    let dir = temp_dir();
    // Run count only: size ratio 0 %, space amplification far off.
    let keep = small_options(tiered(2, 100_000, 0, 4));
    let mut model = Model::new();
    {
        let db = open(dir.path(), keep.clone());
        put_and_flush(&db, &mut model, 0..100, 0);
        ok(
            db.force_full_compaction(),
            "force_full_compaction",
            BOOK_ENGINE,
        );
        for i in 0..40 {
            delete(&db, &mut model, key(i));
        }
        flush(&db);
        put_and_flush(&db, &mut model, 90..95, 1);
        let s = "100 keys in L4, then an L0 SST deleting keys 0..40 and one overwriting 90..95 \
                 (max_runs 2)";
        compact_until_idle(&db, s);
        let shape = db.shape();
        check_eq(
            run_sizes(&shape).len(),
            2,
            &format!("{s}: runs\n{shape}"),
            BOOK_TRIGGERS,
        );
        check_eq(
            tombstones_on_disk(dir.path(), &shape, s),
            40,
            &format!("{s}: tombstones in the SSTs (L4 still holds the deleted keys)\n{shape}"),
            BOOK_TOMBSTONES,
        );
        check_gets_and_full_scan(&db, &model, 100, s, BOOK_TOMBSTONES);
        ok(db.close(), "close", BOOK_ENGINE);
    }
    // Reopened with a space-amplification limit of 1 %: the next idle merges everything.
    let db = open(dir.path(), small_options(tiered(2, 1, 0, 4)));
    let s = "reopened with max_size_amplification_percent 1";
    check_gets_and_full_scan(
        &db,
        &model,
        100,
        &format!("{s}, before compacting"),
        BOOK_ENGINE,
    );
    compact_until_idle(&db, s);
    let shape = db.shape();
    check_eq(
        run_sizes(&shape).len(),
        1,
        &format!("{s}: runs\n{shape}"),
        BOOK_TRIGGERS,
    );
    check_eq(
        tombstones_on_disk(dir.path(), &shape, s),
        0,
        &format!("{s}: tombstones after a merge of every run\n{shape}"),
        BOOK_TOMBSTONES,
    );
    check_gets_and_full_scan(&db, &model, 100, s, BOOK_TOMBSTONES);
}

/// Close and reopen after tiered compactions: the same shape, every key.
#[test]
fn reopen_after_tiered_compaction_keeps_the_shape_and_every_key() {
    let dir = temp_dir();
    let options = small_options(tiered(3, 200, 1, 4));
    let mut model = Model::new();
    let mut rng = Rng::new(3);
    let shape = {
        let db = open(dir.path(), options.clone());
        for step in 0..8 {
            random_flush(&db, &mut model, &mut rng, 120, 50, step);
            compact_until_idle(&db, &format!("step {step}"));
        }
        let shape = db.shape();
        ok(db.close(), "close", BOOK_ENGINE);
        shape
    };
    let db = open(dir.path(), options);
    let reopened = db.shape();
    check_eq(
        (reopened.l0_ids(), reopened.levels.clone()),
        (shape.l0_ids(), shape.levels.clone()),
        "the tree's L0 and levels after close and reopen",
        BOOK_ENGINE,
    );
    check_gets_and_full_scan(&db, &model, 120, "after reopen", BOOK_ENGINE);
}

/// Read amplification: once `compact_until_idle` returns, a point read probes at most `max_runs`
/// sorted runs (each L0 SST and each non-empty level) — and runs do pile up to that bound.
#[rstest]
#[case(1)]
#[case(3)]
#[case(5)]
fn read_amplification_is_at_most_max_runs_after_compact_until_idle(#[case] max_runs: usize) {
    let dir = temp_dir();
    // Size ratio 0 % and space amplification far off: the run count decides.
    let db = open(dir.path(), small_options(tiered(max_runs, 100_000, 0, 6)));
    let mut model = Model::new();
    let mut most = 0;
    for step in 0..10 {
        // Each flush half the size of the one before: every older run is larger than the
        // newer ones together, so the size ratio never fires.
        put_and_flush(&db, &mut model, 0..(1 << (10 - step)), step);
        let s = format!("max_runs {max_runs}, after flush {step} and compact_until_idle");
        compact_until_idle(&db, &s);
        let shape = db.shape();
        let runs = shape.sorted_run_count();
        if runs > max_runs {
            fail(
                &s,
                format!("at most {max_runs} sorted runs"),
                format!("{runs}\n{shape}"),
                BOOK_AMPLIFICATION,
            );
        }
        most = most.max(runs);
    }
    check_eq(
        most,
        max_runs,
        &format!("the most runs seen with max_runs {max_runs}"),
        BOOK_AMPLIFICATION,
    );
    check_gets_and_full_scan(&db, &model, 1024, "after the workload", BOOK_ENGINE);
}

/// Space amplification: the same keys overwritten flush after flush. Once idle, the runs newer
/// than the oldest never hold more than `max_size_amplification_percent` of its bytes, and the
/// full merges that keep it so bring the tree back to one run.
#[rstest]
#[case(50)]
#[case(150)]
fn space_amplification_stays_within_its_bound_after_compact_until_idle(#[case] percent: u64) {
    let dir = temp_dir();
    // Many runs allowed and size ratio 0 %: only space amplification merges.
    let db = open(dir.path(), small_options(tiered(100, percent, 0, 8)));
    let mut model = Model::new();
    let mut full_merges = 0;
    for step in 0..10 {
        put_and_flush(&db, &mut model, 0..60, step);
        let s = format!("max_size_amplification_percent {percent}, overwrite flush {step}");
        compact_until_idle(&db, &s);
        let shape = db.shape();
        let runs = run_sizes(&shape);
        let (oldest, newer) = runs
            .split_last()
            .map_or((0, 0), |(o, n)| (*o, n.iter().sum()));
        if newer * 100 > percent * oldest {
            fail(
                &s,
                format!("newer runs at most {percent}% of the oldest ({oldest} B)"),
                format!("{newer} B\n{shape}"),
                BOOK_AMPLIFICATION,
            );
        }
        if runs.len() == 1 && step > 0 {
            full_merges += 1;
            // One run holds each key once: stored bytes are live bytes.
            check_eq(stored_bytes(&shape), oldest, &s, BOOK_AMPLIFICATION);
        }
    }
    if full_merges == 0 {
        fail(
            &format!("10 overwrites of the same keys, max_size_amplification_percent {percent}"),
            "at least one merge of every run",
            "none",
            BOOK_AMPLIFICATION,
        );
    }
    check_gets_and_full_scan(&db, &model, 60, "after the overwrites", BOOK_ENGINE);
}

/// The options' ranges at their edges: one past is refused with `InvalidArgument` naming the
/// option; the edge itself opens and works (`max_runs` 1 keeps a single run, the widest
/// `min_merge_width` and the largest percents leave the run count in charge).
#[test]
fn tiered_options_are_checked_at_the_edges_of_their_ranges() {
    let base = tiered(4, 200, 1, 4);
    let bad: [(&str, TieredCompactionOptions); 8] = [
        (
            "max_runs",
            TieredCompactionOptions {
                max_runs: 0,
                ..base.clone()
            },
        ),
        (
            "max_runs",
            TieredCompactionOptions {
                max_runs: 1001,
                ..base.clone()
            },
        ),
        (
            "max_size_amplification_percent",
            TieredCompactionOptions {
                max_size_amplification_percent: 0,
                ..base.clone()
            },
        ),
        (
            "max_size_amplification_percent",
            TieredCompactionOptions {
                max_size_amplification_percent: 100_001,
                ..base.clone()
            },
        ),
        (
            "size_ratio_percent",
            TieredCompactionOptions {
                size_ratio_percent: 100_001,
                ..base.clone()
            },
        ),
        (
            "min_merge_width",
            TieredCompactionOptions {
                min_merge_width: 1,
                ..base.clone()
            },
        ),
        (
            "max_levels",
            TieredCompactionOptions {
                max_levels: 0,
                ..base.clone()
            },
        ),
        (
            "max_levels",
            TieredCompactionOptions {
                max_levels: 17,
                ..base.clone()
            },
        ),
    ];
    for (name, options) in bad {
        let dir = temp_dir();
        let s = format!("open with {options:?}");
        match MiniLsm::open(dir.path(), small_options(options)) {
            Err(Error::InvalidArgument(message)) if message.contains(name) => {}
            other => fail(
                &s,
                format!("Err(InvalidArgument(..naming {name}..))"),
                other.map(|_| "an open engine"),
                BOOK_OPTIONS,
            ),
        }
    }
    let edges = TieredCompactionOptions {
        max_runs: 1,
        max_size_amplification_percent: 100_000,
        size_ratio_percent: 100_000,
        min_merge_width: 1000,
        max_levels: 1,
    };
    let dir = temp_dir();
    let db = open(dir.path(), small_options(edges.clone()));
    let mut model = Model::new();
    for step in 0..4 {
        put_and_flush(&db, &mut model, (step * 10)..(step * 10 + 30), step);
        let s = format!("options at their edges {edges:?}, flush {step}");
        compact_until_idle(&db, &s);
        let shape = db.shape();
        check_eq(
            shape.sorted_run_count(),
            1,
            &format!("{s}: runs\n{shape}"),
            BOOK_OPTIONS,
        );
        check_gets_and_full_scan(&db, &model, 60, &s, BOOK_OPTIONS);
    }
}

/// Switching controllers across reopens (same `max_levels`): leveled, then tiered, then leveled
/// again; every key survives each switch and each controller's compactions of the other's tree.
/// A different `max_levels` on a tree whose levels hold data is refused.
#[test]
fn switching_between_leveled_and_tiered_across_reopen_keeps_every_key() {
    let dir = temp_dir();
    let leveled = LsmOptions {
        block_size: SMALL_BLOCK,
        target_sst_size: SMALL_SST,
        compaction: CompactionOptions::Leveled(LeveledCompactionOptions {
            level0_file_num_compaction_trigger: 2,
            level_size_multiplier: 2,
            base_level_size_bytes: 4096,
            max_levels: 4,
        }),
        ..options_for_day(7)
    };
    let tiered_options = small_options(tiered(2, 200, 1, 4));
    let mut model = Model::new();
    let mut rng = Rng::new(11);
    let phases = [
        ("leveled", leveled.clone()),
        ("tiered", tiered_options.clone()),
        ("leveled again", leveled),
        ("tiered again", tiered_options),
    ];
    let mut step = 0;
    for (name, options) in phases {
        let db = open(dir.path(), options);
        check_gets_and_full_scan(
            &db,
            &model,
            200,
            &format!("reopened as {name}"),
            BOOK_SWITCH,
        );
        for _ in 0..5 {
            random_flush(&db, &mut model, &mut rng, 200, 80, step);
            step += 1;
            let s = format!("{name}, flush {step}");
            compact_until_idle(&db, &s);
            check_levels_do_not_overlap(&db.shape(), &s, BOOK_SWITCH);
        }
        if name.starts_with("tiered") {
            let shape = db.shape();
            check_eq(
                shape.sorted_run_count() <= 2,
                true,
                &format!("{name}: at most max_runs 2 sorted runs once idle\n{shape}"),
                BOOK_SWITCH,
            );
        }
        check_gets_and_full_scan(
            &db,
            &model,
            200,
            &format!("{name}, before close"),
            BOOK_SWITCH,
        );
        ok(db.close(), "close", BOOK_SWITCH);
    }
    let s = "reopen the tree (4 levels, holding data) as tiered with max_levels 5";
    match MiniLsm::open(dir.path(), small_options(tiered(2, 200, 1, 5))) {
        Err(Error::InvalidArgument(message)) if message.contains("max_levels") => {}
        other => fail(
            s,
            "Err(InvalidArgument(..max_levels..))",
            other.map(|_| "an open engine"),
            BOOK_SWITCH,
        ),
    }
}

/// The background compaction thread asks the tiered controller too: writes that freeze and flush
/// memtables on their own, then `close` (which lets the thread finish its work); the reopened
/// tree holds at most `max_runs` runs and every key.
#[test]
fn the_background_thread_compacts_a_tiered_tree_until_idle_by_close() {
    let dir = temp_dir();
    let options = LsmOptions {
        memtable_size: 1024,
        max_immutable_memtables: 0,
        background_compaction: true,
        ..small_options(tiered(2, 200, 1, 4))
    };
    let mut model = Model::new();
    {
        let db = open(dir.path(), options.clone());
        for generation in 0..3 {
            for i in 0..300 {
                put(&db, &mut model, key(i), long_value(i, generation, 24));
            }
        }
        ok(
            db.close(),
            "close with the background threads on",
            BOOK_ENGINE,
        );
    }
    let db = open(
        dir.path(),
        LsmOptions {
            background_compaction: false,
            ..options
        },
    );
    let shape = db.shape();
    let s = "900 writes with memtable_size 1024 and background compaction (max_runs 2), closed and \
             reopened";
    if shape.l0.is_empty() && shape.levels.iter().all(|l| l.ssts.is_empty()) {
        fail(
            s,
            "SSTs written by the background threads",
            format!("{shape}"),
            BOOK_ENGINE,
        );
    }
    // The memtable replayed from the WAL is not a run; the SSTs are.
    let runs = shape.sorted_run_count();
    if runs > 2 {
        fail(
            s,
            "at most 2 sorted runs",
            format!("{runs}\n{shape}"),
            BOOK_TRIGGERS,
        );
    }
    check_levels_do_not_overlap(&shape, s, BOOK_RUNS);
    check_gets_and_full_scan(&db, &model, 300, s, BOOK_ENGINE);
}
