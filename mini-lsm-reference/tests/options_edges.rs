//! Reference-only checks of the options' ranges (`src/options.rs`, given code): every option at
//! each end of its range opens an engine that writes, flushes, compacts, reads and reopens
//! without a panic or an abort, and every value just outside a range (and the values once
//! reported to panic or abort: `usize::MAX` L0 trigger, `usize::MAX` bloom bits, `1 << 40`
//! levels) is refused by `validate()` and by `open` with an `InvalidArgument` naming the option,
//! the value and the range, before anything is created.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::Path;

use mini_lsm_reference::options::{
    BASE_LEVEL_SIZE_RANGE, BLOCK_SIZE_RANGE, BLOOM_BITS_PER_KEY_RANGE, L0_TRIGGER_RANGE,
    LEVEL_SIZE_MULTIPLIER_RANGE, MAX_LEVELS_RANGE, MEMTABLE_SIZE_RANGE, TARGET_SST_SIZE_RANGE,
};
use mini_lsm_reference::{CompactionOptions, Error, LeveledCompactionOptions, LsmOptions, MiniLsm};

const BOOK_OPTIONS: &str = "appendix-options.md#validation";

/// Keys the workload writes: enough for several blocks and SSTs at the small sizes below.
const KEYS: usize = 40;

#[track_caller]
fn fail(scenario: &str, expected: impl std::fmt::Debug, actual: impl std::fmt::Debug) -> ! {
    panic!("[{scenario}] expected {expected:?}, got {actual:?} (book: {BOOK_OPTIONS})")
}

#[track_caller]
fn ok<T>(result: mini_lsm_reference::Result<T>, scenario: &str) -> T {
    result.unwrap_or_else(|e| fail(scenario, "Ok(..)", format!("Err({e})")))
}

/// The full engine, with sizes small enough that the workload fills several blocks, memtables
/// and SSTs, so that every option is exercised.
fn base_options() -> LsmOptions {
    LsmOptions {
        block_size: 256,
        memtable_size: 2048,
        target_sst_size: 2048,
        ..LsmOptions::default()
    }
}

/// The leveled options inside `options` (the base options are leveled).
fn leveled(options: &mut LsmOptions) -> &mut LeveledCompactionOptions {
    match &mut options.compaction {
        CompactionOptions::Leveled(leveled) => leveled,
        CompactionOptions::NoCompaction | CompactionOptions::Tiered(_) => {
            unreachable!("the base options are leveled")
        }
    }
}

/// Writes, overwrites and deletes, flushes, compacts fully, reads everything back, closes and
/// reopens (recovering from the WAL), and reads everything again.
fn works(scenario: &str, edit: impl Fn(&mut LsmOptions)) {
    let mut options = base_options();
    edit(&mut options);
    let dir = tempfile::tempdir().expect("temp dir");
    let step = |what: &str| format!("{scenario}: {what}");
    let db = ok(MiniLsm::open(dir.path(), options.clone()), &step("open"));
    let mut model = BTreeMap::new();
    for round in 0..2 {
        for i in 0..KEYS {
            let key = format!("key{i:04}").into_bytes();
            if round == 1 && i % 7 == 0 {
                ok(db.delete(&key), &step("delete"));
                model.remove(&key);
            } else if round == 0 || i % 2 == 0 {
                let value = format!("value{round}-{i}").repeat(3).into_bytes();
                ok(db.put(&key, &value), &step("put"));
                model.insert(key, value);
            }
        }
        ok(db.force_flush(), &step("force_flush"));
    }
    ok(db.force_full_compaction(), &step("force_full_compaction"));
    ok(db.compact_until_idle(), &step("compact_until_idle"));
    check(&db, &model, &step("read after compaction"));
    ok(db.close(), &step("close"));
    drop(db);
    let db = ok(MiniLsm::open(dir.path(), options), &step("reopen"));
    check(&db, &model, &step("read after reopen"));
    ok(db.close(), &step("close after reopen"));
}

/// Every key of the workload reads back as `model` says, by `get` and by a full scan.
fn check(db: &MiniLsm, model: &BTreeMap<Vec<u8>, Vec<u8>>, scenario: &str) {
    for i in 0..KEYS {
        let key = format!("key{i:04}").into_bytes();
        let got = ok(db.get(&key), scenario).map(|v| v.to_vec());
        if got.as_ref() != model.get(&key) {
            fail(&format!("{scenario}: get key{i:04}"), model.get(&key), got);
        }
    }
    let scanned: BTreeMap<Vec<u8>, Vec<u8>> =
        ok(db.scan(Bound::Unbounded, Bound::Unbounded), scenario)
            .into_iter()
            .map(|entry| {
                let (key, value) = ok(entry, scenario);
                (key.to_vec(), value.to_vec())
            })
            .collect();
    if &scanned != model {
        fail(
            &format!("{scenario}: full scan"),
            model.len(),
            scanned.len(),
        );
    }
}

/// `validate()` and `open` both refuse the options with an `InvalidArgument` that names
/// `option` and `value`, and `open` creates nothing.
fn refused(scenario: &str, option: &str, value: &str, edit: impl Fn(&mut LsmOptions)) {
    let mut options = base_options();
    edit(&mut options);
    let check_error = |result: mini_lsm_reference::Result<()>, what: &str| match result {
        Err(Error::InvalidArgument(message))
            if message.contains(option) && message.contains(value) && message.contains("..=") => {}
        other => fail(
            &format!("{scenario}: {what}"),
            format!("Err(InvalidArgument) naming {option}, {value} and the range"),
            other,
        ),
    };
    check_error(options.validate(), "validate()");
    let parent = tempfile::tempdir().expect("temp dir");
    let dir = parent.path().join("db");
    check_error(MiniLsm::open(&dir, options).map(|_| ()), "open");
    if Path::new(&dir).exists() {
        fail(
            &format!("{scenario}: after the refused open"),
            "no directory created",
            "the directory exists",
        );
    }
}

/// One `#[test]` per edge value inside a range: the engine works with it.
macro_rules! inside {
    ($($name:ident: $edit:expr;)*) => {
        $(
            #[test]
            fn $name() {
                works(stringify!($name), $edit);
            }
        )*
    };
}

/// One `#[test]` per value outside a range: refused, naming the option and the value.
macro_rules! outside {
    ($($name:ident: $option:literal = $value:expr, $edit:expr;)*) => {
        $(
            #[test]
            fn $name() {
                let value = $value;
                refused(stringify!($name), $option, &value.to_string(), |o: &mut LsmOptions| {
                    $edit(o, value)
                });
            }
        )*
    };
}

inside! {
    block_size_at_its_minimum: |o: &mut LsmOptions| o.block_size = *BLOCK_SIZE_RANGE.start();
    block_size_at_its_maximum: |o: &mut LsmOptions| o.block_size = *BLOCK_SIZE_RANGE.end();
    memtable_size_at_its_minimum: |o: &mut LsmOptions| o.memtable_size = *MEMTABLE_SIZE_RANGE.start();
    memtable_size_at_its_maximum: |o: &mut LsmOptions| o.memtable_size = *MEMTABLE_SIZE_RANGE.end();
    target_sst_size_at_its_minimum:
        |o: &mut LsmOptions| o.target_sst_size = *TARGET_SST_SIZE_RANGE.start();
    target_sst_size_at_its_maximum:
        |o: &mut LsmOptions| o.target_sst_size = *TARGET_SST_SIZE_RANGE.end();
    bloom_bits_per_key_at_its_minimum:
        |o: &mut LsmOptions| o.bloom_bits_per_key = *BLOOM_BITS_PER_KEY_RANGE.start();
    bloom_bits_per_key_at_its_maximum:
        |o: &mut LsmOptions| o.bloom_bits_per_key = *BLOOM_BITS_PER_KEY_RANGE.end();
    max_immutable_memtables_at_its_minimum: |o: &mut LsmOptions| o.max_immutable_memtables = 0;
    max_immutable_memtables_at_its_maximum:
        |o: &mut LsmOptions| o.max_immutable_memtables = usize::MAX;
    block_cache_bytes_at_its_minimum: |o: &mut LsmOptions| o.block_cache_bytes = 0;
    block_cache_bytes_at_its_maximum: |o: &mut LsmOptions| o.block_cache_bytes = u64::MAX;
    l0_trigger_at_its_minimum: |o: &mut LsmOptions| {
        leveled(o).level0_file_num_compaction_trigger = *L0_TRIGGER_RANGE.start()
    };
    l0_trigger_at_its_maximum: |o: &mut LsmOptions| {
        leveled(o).level0_file_num_compaction_trigger = *L0_TRIGGER_RANGE.end()
    };
    level_size_multiplier_at_its_minimum: |o: &mut LsmOptions| {
        leveled(o).level_size_multiplier = *LEVEL_SIZE_MULTIPLIER_RANGE.start()
    };
    level_size_multiplier_at_its_maximum: |o: &mut LsmOptions| {
        leveled(o).level_size_multiplier = *LEVEL_SIZE_MULTIPLIER_RANGE.end()
    };
    base_level_size_at_its_minimum: |o: &mut LsmOptions| {
        leveled(o).base_level_size_bytes = *BASE_LEVEL_SIZE_RANGE.start()
    };
    base_level_size_at_its_maximum: |o: &mut LsmOptions| {
        leveled(o).base_level_size_bytes = *BASE_LEVEL_SIZE_RANGE.end()
    };
    max_levels_at_its_minimum: |o: &mut LsmOptions| leveled(o).max_levels = *MAX_LEVELS_RANGE.start();
    max_levels_at_its_maximum: |o: &mut LsmOptions| leveled(o).max_levels = *MAX_LEVELS_RANGE.end();
    every_option_at_its_minimum: |o: &mut LsmOptions| {
        o.block_size = *BLOCK_SIZE_RANGE.start();
        o.memtable_size = *MEMTABLE_SIZE_RANGE.start();
        o.target_sst_size = *TARGET_SST_SIZE_RANGE.start();
        o.bloom_bits_per_key = *BLOOM_BITS_PER_KEY_RANGE.start();
        o.max_immutable_memtables = 0;
        o.block_cache_bytes = 0;
        *leveled(o) = LeveledCompactionOptions {
            level0_file_num_compaction_trigger: *L0_TRIGGER_RANGE.start(),
            level_size_multiplier: *LEVEL_SIZE_MULTIPLIER_RANGE.start(),
            base_level_size_bytes: *BASE_LEVEL_SIZE_RANGE.start(),
            max_levels: *MAX_LEVELS_RANGE.start(),
        };
    };
    every_option_at_its_maximum: |o: &mut LsmOptions| {
        o.block_size = *BLOCK_SIZE_RANGE.end();
        o.memtable_size = *MEMTABLE_SIZE_RANGE.end();
        o.target_sst_size = *TARGET_SST_SIZE_RANGE.end();
        o.bloom_bits_per_key = *BLOOM_BITS_PER_KEY_RANGE.end();
        o.max_immutable_memtables = usize::MAX;
        o.block_cache_bytes = u64::MAX;
        *leveled(o) = LeveledCompactionOptions {
            level0_file_num_compaction_trigger: *L0_TRIGGER_RANGE.end(),
            level_size_multiplier: *LEVEL_SIZE_MULTIPLIER_RANGE.end(),
            base_level_size_bytes: *BASE_LEVEL_SIZE_RANGE.end(),
            max_levels: *MAX_LEVELS_RANGE.end(),
        };
    };
    many_levels_with_the_smallest_targets: |o: &mut LsmOptions| {
        *leveled(o) = LeveledCompactionOptions {
            level0_file_num_compaction_trigger: 1,
            level_size_multiplier: 2,
            base_level_size_bytes: 1,
            max_levels: *MAX_LEVELS_RANGE.end(),
        };
    };
}

outside! {
    block_size_below_its_minimum:
        "block_size" = BLOCK_SIZE_RANGE.start() - 1, |o: &mut LsmOptions, v| o.block_size = v;
    block_size_above_its_maximum:
        "block_size" = BLOCK_SIZE_RANGE.end() + 1, |o: &mut LsmOptions, v| o.block_size = v;
    block_size_of_usize_max: "block_size" = usize::MAX, |o: &mut LsmOptions, v| o.block_size = v;
    memtable_size_below_its_minimum:
        "memtable_size" = MEMTABLE_SIZE_RANGE.start() - 1, |o: &mut LsmOptions, v| o.memtable_size = v;
    memtable_size_above_its_maximum:
        "memtable_size" = MEMTABLE_SIZE_RANGE.end() + 1, |o: &mut LsmOptions, v| o.memtable_size = v;
    target_sst_size_below_its_minimum: "target_sst_size" = TARGET_SST_SIZE_RANGE.start() - 1,
        |o: &mut LsmOptions, v| o.target_sst_size = v;
    target_sst_size_above_its_maximum: "target_sst_size" = TARGET_SST_SIZE_RANGE.end() + 1,
        |o: &mut LsmOptions, v| o.target_sst_size = v;
    bloom_bits_per_key_above_its_maximum: "bloom_bits_per_key" = BLOOM_BITS_PER_KEY_RANGE.end() + 1,
        |o: &mut LsmOptions, v| o.bloom_bits_per_key = v;
    bloom_bits_per_key_of_usize_max: "bloom_bits_per_key" = usize::MAX,
        |o: &mut LsmOptions, v| o.bloom_bits_per_key = v;
    l0_trigger_below_its_minimum:
        "level0_file_num_compaction_trigger" = L0_TRIGGER_RANGE.start() - 1,
        |o: &mut LsmOptions, v| leveled(o).level0_file_num_compaction_trigger = v;
    l0_trigger_above_its_maximum: "level0_file_num_compaction_trigger" = L0_TRIGGER_RANGE.end() + 1,
        |o: &mut LsmOptions, v| leveled(o).level0_file_num_compaction_trigger = v;
    l0_trigger_of_usize_max: "level0_file_num_compaction_trigger" = usize::MAX,
        |o: &mut LsmOptions, v| leveled(o).level0_file_num_compaction_trigger = v;
    level_size_multiplier_below_its_minimum:
        "level_size_multiplier" = LEVEL_SIZE_MULTIPLIER_RANGE.start() - 1,
        |o: &mut LsmOptions, v| leveled(o).level_size_multiplier = v;
    level_size_multiplier_above_its_maximum:
        "level_size_multiplier" = LEVEL_SIZE_MULTIPLIER_RANGE.end() + 1,
        |o: &mut LsmOptions, v| leveled(o).level_size_multiplier = v;
    base_level_size_below_its_minimum:
        "base_level_size_bytes" = BASE_LEVEL_SIZE_RANGE.start() - 1,
        |o: &mut LsmOptions, v| leveled(o).base_level_size_bytes = v;
    max_levels_below_its_minimum: "max_levels" = MAX_LEVELS_RANGE.start() - 1,
        |o: &mut LsmOptions, v| leveled(o).max_levels = v;
    max_levels_above_its_maximum: "max_levels" = MAX_LEVELS_RANGE.end() + 1,
        |o: &mut LsmOptions, v| leveled(o).max_levels = v;
    max_levels_of_2_to_the_40: "max_levels" = 1usize << 40,
        |o: &mut LsmOptions, v| leveled(o).max_levels = v;
}
