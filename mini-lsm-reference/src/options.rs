//! The engine's options, and which of them each day of the course switches on.

use crate::error::{Error, Result};

/// The last day of the course: [`LsmOptions::default`] is [`LsmOptions::for_day`] of it.
pub const LAST_DAY: u8 = 7;

/// How the engine compacts SSTs (day 5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompactionOptions {
    /// No compaction: flushed SSTs stay in L0 forever. Days 1–4.
    NoCompaction,
    /// Leveled compaction (day 5).
    Leveled(LeveledCompactionOptions),
}

/// The leveled compaction controller's parameters (day 5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeveledCompactionOptions {
    /// Compact L0 into the levels when it holds this many SSTs.
    pub level0_file_num_compaction_trigger: usize,
    /// Each level's target size is this many times the one above it.
    pub level_size_multiplier: usize,
    /// Target size of the first non-empty level below L0, in bytes.
    pub base_level_size_bytes: u64,
    /// Number of levels below L0.
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

/// Everything that can be tuned when opening a [`crate::MiniLsm`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LsmOptions {
    /// Target size of a data block in bytes (day 1). A block holding a single larger entry may
    /// exceed it.
    pub block_size: usize,
    /// Target size of an SST written by compaction, in bytes (day 5).
    pub target_sst_size: usize,
    /// A memtable is frozen once its approximate size reaches this many bytes (day 4).
    pub memtable_size: usize,
    /// The background flush thread flushes the oldest immutable memtable whenever there are more
    /// than this many (day 4). The default, 0, flushes every frozen memtable as soon as the
    /// thread gets to it: every `get` searches each memtable in memory before any SST, so
    /// keeping frozen ones around makes reads slower, not faster. `usize::MAX` leaves flushing
    /// to [`crate::MiniLsm::force_flush`] and `sync`, which tests use to control the tree's
    /// shape exactly.
    pub max_immutable_memtables: usize,
    /// Capacity of the block cache in bytes (day 4).
    pub block_cache_bytes: u64,
    /// Compaction strategy (day 5).
    pub compaction: CompactionOptions,
    /// Whether a background thread compacts after flushes (day 5). Off, compaction runs only
    /// through [`crate::MiniLsm::compact_until_idle`] and
    /// [`crate::MiniLsm::force_full_compaction`], which tests use to control the tree's shape.
    pub background_compaction: bool,
    /// Whether writes go to a write-ahead log first and the tree is recovered on open (day 6).
    pub enable_wal: bool,
    /// Bits of bloom filter per key in each SST, 0 for no filter (day 7).
    pub bloom_bits_per_key: usize,
    /// The manifest is replaced by a snapshot of the tree once it grows past this many bytes
    /// (day 6), so it never grows without bound. At least 1.
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
            max_manifest_bytes: 1 << 20,
        }
    }

    /// The days whose features these options need.
    pub fn required_day(&self) -> u8 {
        if self.bloom_bits_per_key > 0 {
            7
        } else if self.enable_wal {
            6
        } else if self.compaction != CompactionOptions::NoCompaction {
            5
        } else {
            4
        }
    }

    /// Checks that every option is in range. [`crate::MiniLsm::open`] calls it first.
    pub fn validate(&self) -> Result<()> {
        let invalid = |what: String| Err(Error::InvalidArgument(what));
        if self.block_size < 64 {
            return invalid(format!(
                "block_size {} is below the minimum of 64 bytes",
                self.block_size
            ));
        }
        if self.max_manifest_bytes == 0 {
            return invalid("max_manifest_bytes must be positive".into());
        }
        if self.memtable_size == 0 || self.target_sst_size == 0 {
            return invalid("memtable_size and target_sst_size must be positive".into());
        }
        if let CompactionOptions::Leveled(leveled) = &self.compaction
            && (leveled.level0_file_num_compaction_trigger == 0
                || leveled.level_size_multiplier < 2
                || leveled.max_levels == 0
                || leveled.base_level_size_bytes == 0)
        {
            return invalid(format!(
                "leveled compaction needs a trigger >= 1, a multiplier >= 2, at least one level \
                 and a positive base level size, got {leveled:?}"
            ));
        }
        Ok(())
    }
}

impl Default for LsmOptions {
    /// The full engine: everything the seven days build.
    fn default() -> Self {
        Self::for_day(LAST_DAY)
    }
}
