//! The engine's options, and which of them each day of the course switches on.
//!
//! Every option has a range, stated on its field and in the book's options appendix
//! (`appendix-options.md`), and [`LsmOptions::validate`] refuses a value outside it before the
//! engine touches anything. The bounds are not taste: each keeps a count or a size that the
//! engine computes or stores from the option within what its type or format can hold, so that no
//! accepted option can overflow, panic or abort later (a `usize::MAX` L0 trigger overflowed
//! the backpressure check, `usize::MAX` bloom bits overflowed the filter size, and `1 << 40`
//! levels aborted allocating them).

use std::fmt::Display;
use std::ops::RangeInclusive;

use crate::error::{Error, Result};

/// The last day of the seven-day course (Part 1): [`LsmOptions::default`] is
/// [`LsmOptions::for_day`] of it.
pub const LAST_DAY: u8 = 7;

/// The last day of Part 2 (optional): [`LsmOptions::for_day`] takes any day up to it.
pub const LAST_COURSE_DAY: u8 = 10;

/// How the engine compacts SSTs (day 5; tiered: day 10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompactionOptions {
    /// No compaction: flushed SSTs stay in L0 forever. Days 1–4.
    NoCompaction,
    /// Leveled compaction (day 5).
    Leveled(LeveledCompactionOptions),
    /// Tiered ("universal") compaction (day 10, Part 2). Never a default: chosen explicitly.
    Tiered(TieredCompactionOptions),
}

/// The range of [`LsmOptions::block_size`]: 64 B to 256 MiB. A block's entry offsets are `u32`
/// and a block holds at most `block_size` bytes or a single larger entry, so this keeps every
/// block far below 4 GiB.
pub const BLOCK_SIZE_RANGE: RangeInclusive<usize> = 64..=(256 << 20);
/// The range of [`LsmOptions::memtable_size`]: 1 B to 1 GiB. A flushed SST is about as large as
/// its memtable; the bound keeps its block count and meta section inside their `u32` fields.
pub const MEMTABLE_SIZE_RANGE: RangeInclusive<usize> = 1..=(1 << 30);
/// The range of [`LsmOptions::target_sst_size`]: 1 B to 1 GiB, for the same reason as
/// [`MEMTABLE_SIZE_RANGE`].
pub const TARGET_SST_SIZE_RANGE: RangeInclusive<usize> = 1..=(1 << 30);
/// The range of [`LsmOptions::bloom_bits_per_key`]: 0 (no filter) to 64. More bits buy nothing:
/// a filter uses at most [`crate::table::bloom::MAX_PROBES`] probes, the best count for about
/// 43 bits per key, where the false-positive rate is already about 1e-9. The bound keeps
/// `keys × bits` and the filter's `u32` length from overflowing.
pub const BLOOM_BITS_PER_KEY_RANGE: RangeInclusive<usize> = 0..=64;
/// The range of [`LeveledCompactionOptions::level0_file_num_compaction_trigger`]: 1 to 1000
/// (every `get` may search each L0 SST, so even 1000 is far past useful).
pub const L0_TRIGGER_RANGE: RangeInclusive<usize> = 1..=1000;
/// The range of [`LeveledCompactionOptions::level_size_multiplier`]: 2 to 1000.
pub const LEVEL_SIZE_MULTIPLIER_RANGE: RangeInclusive<usize> = 2..=1000;
/// The range of [`LeveledCompactionOptions::base_level_size_bytes`]: any positive size (it is
/// only compared and divided, never multiplied).
pub const BASE_LEVEL_SIZE_RANGE: RangeInclusive<u64> = 1..=u64::MAX;
/// The range of [`LeveledCompactionOptions::max_levels`]: 1 to 16. With a multiplier of at least
/// 2 each level is at least twice the one above it, so 16 levels already span a factor of 32 768
/// from the base level to the bottom (RocksDB's default is 7 levels below L0).
pub const MAX_LEVELS_RANGE: RangeInclusive<usize> = 1..=16;

/// The range of [`TieredCompactionOptions::max_runs`]: 1 to 1000 (every `get` may probe each
/// sorted run, so even 1000 is far past useful).
pub const MAX_RUNS_RANGE: RangeInclusive<usize> = 1..=1000;
/// The range of [`TieredCompactionOptions::max_size_amplification_percent`]: 1 % to 100 000 %
/// (a thousand times the live data). 0 would merge everything after every flush.
pub const MAX_SIZE_AMPLIFICATION_PERCENT_RANGE: RangeInclusive<u64> = 1..=100_000;
/// The range of [`TieredCompactionOptions::size_ratio_percent`]: 0 % (the next run may be at
/// most as large as the runs picked so far) to 100 000 %.
pub const SIZE_RATIO_PERCENT_RANGE: RangeInclusive<u64> = 0..=100_000;
/// The range of [`TieredCompactionOptions::min_merge_width`]: 2 (merging one run with nothing
/// rewrites it for no gain) to 1000.
pub const MIN_MERGE_WIDTH_RANGE: RangeInclusive<usize> = 2..=1000;

/// [`LsmOptions::max_manifest_bytes`]: at least one byte (a rewrite after every change), at
/// most 1 GiB.
pub const MAX_MANIFEST_BYTES_RANGE: RangeInclusive<u64> = 1..=(1 << 30);

/// The leveled compaction controller's parameters (day 5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeveledCompactionOptions {
    /// Compact L0 into the levels when it holds this many SSTs. Range: [`L0_TRIGGER_RANGE`],
    /// 1 to 1000.
    pub level0_file_num_compaction_trigger: usize,
    /// Each level's target size is this many times the one above it. Range:
    /// [`LEVEL_SIZE_MULTIPLIER_RANGE`], 2 to 1000.
    pub level_size_multiplier: usize,
    /// Target size of the first non-empty level below L0, in bytes. Range:
    /// [`BASE_LEVEL_SIZE_RANGE`], any positive size.
    pub base_level_size_bytes: u64,
    /// Number of levels below L0. Range: [`MAX_LEVELS_RANGE`], 1 to 16.
    pub max_levels: usize,
}

impl Default for LeveledCompactionOptions {
    fn default() -> Self {
        LeveledCompactionOptions {
            level0_file_num_compaction_trigger: 4,
            level_size_multiplier: 10,
            base_level_size_bytes: 64 << 20,
            max_levels: 4,
        }
    }
}

/// The tiered compaction controller's parameters (day 10). A *sorted run* is one L0 SST or one
/// non-empty level; see [`crate::compact::tiered`]. The defaults follow RocksDB's universal
/// compaction (size ratio 1 %, merge width at least 2, size amplification 200 %, compaction
/// once 4 runs pile up, 7 level slots).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TieredCompactionOptions {
    /// Merge runs when the tree holds more sorted runs than this: a point read probes at most
    /// this many runs once compaction has caught up. Range: [`MAX_RUNS_RANGE`], 1 to 1000.
    pub max_runs: usize,
    /// Merge every run when the runs newer than the oldest hold more than this percent of the
    /// oldest run's bytes (an estimate of the space taken by versions not yet merged away).
    /// Range: [`MAX_SIZE_AMPLIFICATION_PERCENT_RANGE`], 1 to 100 000.
    pub max_size_amplification_percent: u64,
    /// Starting from the newest run, keep adding the next older run while it holds at most
    /// `(100 + size_ratio_percent)%` of the bytes picked so far. Range:
    /// [`SIZE_RATIO_PERCENT_RANGE`], 0 to 100 000.
    pub size_ratio_percent: u64,
    /// The size-ratio rule merges only when it picked at least this many runs. Range:
    /// [`MIN_MERGE_WIDTH_RANGE`], 2 to 1000.
    pub min_merge_width: usize,
    /// Number of level slots below L0, each holding at most one sorted run. Range:
    /// [`MAX_LEVELS_RANGE`], 1 to 16.
    pub max_levels: usize,
}

impl Default for TieredCompactionOptions {
    fn default() -> Self {
        TieredCompactionOptions {
            max_runs: 4,
            max_size_amplification_percent: 200,
            size_ratio_percent: 1,
            min_merge_width: 2,
            max_levels: 7,
        }
    }
}

/// Everything that can be tuned when opening a [`crate::MiniLsm`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LsmOptions {
    /// Target size of a data block in bytes (day 1). A block holding a single larger entry may
    /// exceed it. Range: [`BLOCK_SIZE_RANGE`], 64 B to 256 MiB.
    pub block_size: usize,
    /// Target size of an SST written by compaction, in bytes (day 5). Range:
    /// [`TARGET_SST_SIZE_RANGE`], 1 B to 1 GiB.
    pub target_sst_size: usize,
    /// A memtable is frozen once its approximate size reaches this many bytes (day 4). Range:
    /// [`MEMTABLE_SIZE_RANGE`], 1 B to 1 GiB.
    pub memtable_size: usize,
    /// The background flush thread flushes the oldest immutable memtable whenever there are more
    /// than this many (day 4). The default, 0, flushes every frozen memtable as soon as the
    /// thread gets to it: every `get` searches each memtable in memory before any SST, so
    /// keeping frozen ones around makes reads slower, not faster. `usize::MAX` leaves flushing
    /// to [`crate::MiniLsm::force_flush`] and `sync`, which tests use to control the tree's
    /// shape exactly. Range: any `usize`.
    pub max_immutable_memtables: usize,
    /// Capacity of the block cache in bytes (day 4). Range: any `u64`; 0 caches nothing.
    pub block_cache_bytes: u64,
    /// Compaction strategy (day 5).
    pub compaction: CompactionOptions,
    /// Whether a background thread compacts after flushes (day 5). Off, compaction runs only
    /// through [`crate::MiniLsm::compact_until_idle`] and
    /// [`crate::MiniLsm::force_full_compaction`], which tests use to control the tree's shape.
    pub background_compaction: bool,
    /// Whether writes go to a write-ahead log first and the tree is recovered on open (day 6).
    pub enable_wal: bool,
    /// Bits of bloom filter per key in each SST, 0 for no filter (day 7). Range:
    /// [`BLOOM_BITS_PER_KEY_RANGE`], 0 to 64.
    pub bloom_bits_per_key: usize,
    /// Whether every write gets a sequence number and the tree keeps versions of keys, so that
    /// snapshots and scans read the tree as of one moment (day 8, Part 2). Off, the tree keeps
    /// only the newest version of each key, as days 1–7 build it.
    pub mvcc: bool,
    /// The manifest is replaced by a snapshot of the tree once it grows past this many bytes
    /// (day 6), so it never grows without bound. Range: [`MAX_MANIFEST_BYTES_RANGE`], 1 B to
    /// 1 GiB.
    pub max_manifest_bytes: u64,
}

impl LsmOptions {
    /// The options with exactly the features built by days `1..=day` switched on, so that an
    /// engine opened with them never reaches a later day's code.
    pub fn for_day(day: u8) -> Self {
        LsmOptions {
            block_size: 4096,
            target_sst_size: 2 << 20,
            memtable_size: 2 << 20,
            max_immutable_memtables: 0,
            block_cache_bytes: 64 << 20,
            compaction: if day >= 5 {
                CompactionOptions::Leveled(LeveledCompactionOptions::default())
            } else {
                CompactionOptions::NoCompaction
            },
            background_compaction: day >= 5,
            enable_wal: day >= 6,
            bloom_bits_per_key: if day >= 7 { 10 } else { 0 },
            mvcc: day >= 8,
            max_manifest_bytes: 1 << 20,
        }
    }

    /// The days whose features these options need.
    pub fn required_day(&self) -> u8 {
        if matches!(self.compaction, CompactionOptions::Tiered(_)) {
            10
        } else if self.mvcc {
            8
        } else if self.bloom_bits_per_key > 0 {
            7
        } else if self.enable_wal {
            6
        } else if self.compaction != CompactionOptions::NoCompaction {
            5
        } else {
            4
        }
    }

    /// Checks that every option is in its range (see each field). [`crate::MiniLsm::open`] calls
    /// it first. The error is [`Error::InvalidArgument`] naming the first option out of range,
    /// its value and the range.
    pub fn validate(&self) -> Result<()> {
        check_range("block_size", self.block_size, BLOCK_SIZE_RANGE)?;
        check_range("memtable_size", self.memtable_size, MEMTABLE_SIZE_RANGE)?;
        check_range(
            "max_manifest_bytes",
            self.max_manifest_bytes,
            MAX_MANIFEST_BYTES_RANGE,
        )?;
        check_range(
            "target_sst_size",
            self.target_sst_size,
            TARGET_SST_SIZE_RANGE,
        )?;
        check_range(
            "bloom_bits_per_key",
            self.bloom_bits_per_key,
            BLOOM_BITS_PER_KEY_RANGE,
        )?;
        if let CompactionOptions::Leveled(leveled) = &self.compaction {
            check_range(
                "level0_file_num_compaction_trigger",
                leveled.level0_file_num_compaction_trigger,
                L0_TRIGGER_RANGE,
            )?;
            check_range(
                "level_size_multiplier",
                leveled.level_size_multiplier,
                LEVEL_SIZE_MULTIPLIER_RANGE,
            )?;
            check_range(
                "base_level_size_bytes",
                leveled.base_level_size_bytes,
                BASE_LEVEL_SIZE_RANGE,
            )?;
            check_range("max_levels", leveled.max_levels, MAX_LEVELS_RANGE)?;
        }
        if let CompactionOptions::Tiered(tiered) = &self.compaction {
            check_range("max_runs", tiered.max_runs, MAX_RUNS_RANGE)?;
            check_range(
                "max_size_amplification_percent",
                tiered.max_size_amplification_percent,
                MAX_SIZE_AMPLIFICATION_PERCENT_RANGE,
            )?;
            check_range(
                "size_ratio_percent",
                tiered.size_ratio_percent,
                SIZE_RATIO_PERCENT_RANGE,
            )?;
            check_range(
                "min_merge_width",
                tiered.min_merge_width,
                MIN_MERGE_WIDTH_RANGE,
            )?;
            check_range("max_levels", tiered.max_levels, MAX_LEVELS_RANGE)?;
        }
        Ok(())
    }
}

/// `Ok` when `value` is in `range`, else [`Error::InvalidArgument`] naming the option, the value
/// and the range.
fn check_range<T: PartialOrd + Display>(
    name: &str,
    value: T,
    range: RangeInclusive<T>,
) -> Result<()> {
    if range.contains(&value) {
        return Ok(());
    }
    Err(Error::InvalidArgument(format!(
        "option {name} = {value} is out of its range {}..={}",
        range.start(),
        range.end()
    )))
}

impl Default for LsmOptions {
    /// The full engine: everything the seven days build.
    fn default() -> Self {
        Self::for_day(LAST_DAY)
    }
}
