//! Day 5 (compaction): the leveled compaction controller, which decides *what* to compact.
//!
//! Each level below L0 is one sorted run of SSTs with disjoint key ranges. Level `i + 1` is
//! meant to be `level_size_multiplier` times larger than level `i`, so most data sits in the
//! bottom level and a key is rewritten about once per level on its way down.
//!
//! Target sizes are computed from the bottom up ("dynamic level bytes", as RocksDB calls it):
//! the bottom level's target is its real size (at least `base_level_size_bytes`), and each level
//! above gets the target below it divided by the multiplier, until a target would fall below
//! `base_level_size_bytes`; levels above that point get target 0 and stay empty. The highest level
//! with a non-zero target is the *base level*, where L0 is compacted into. A small tree thus
//! uses only its bottom level, and a key is not rewritten through empty levels.
//!
//! The controller reads only the tree's [`TreeShape`]: SST ids, key ranges and sizes, never an
//! SST's data. The engine hands it [`crate::lsm_storage::LsmStorageInner::shape`]; the
//! `compaction-simulator` (crate `mini-lsm-tools`) hands it a tree that exists only as sizes.

// TODO(you): remove these allows once you have finished day 5 in this file.
#![allow(
    unused_variables,
    unused_imports,
    unused_mut,
    dead_code,
    unreachable_code,
    clippy::ptr_arg
)]

use crate::compact::CompactionTask;
use crate::inspect::{SstInfo, TreeShape};
use crate::options::LeveledCompactionOptions;

/// Picks the next compaction for a leveled tree.
#[derive(Debug, Clone)]
pub struct LeveledCompactionController {
    options: LeveledCompactionOptions,
}

impl LeveledCompactionController {
    /// A controller with the given parameters.
    pub fn new(options: LeveledCompactionOptions) -> Self {
        LeveledCompactionController { options }
    }

    // ANCHOR: leveled-target_sizes
    /// The target size in bytes of each level `1..=max_levels` (index 0 is level 1); 0 for the
    /// levels above the base level, which stay empty.
    pub fn target_sizes(&self, shape: &TreeShape) -> Vec<u64> {
        todo!(
            "day 5: LeveledCompactionController::target_sizes — bottom level: max(real size, base size); each level above: the one below / multiplier, while the one below exceeds the base size"
        )
    }
    // ANCHOR_END: leveled-target_sizes

    // ANCHOR: leveled-generate_task
    /// The next compaction to run, or `None` when the tree is within its targets:
    /// 1. L0 into the base level once L0 holds `level0_file_num_compaction_trigger` SSTs: every
    ///    L0 SST and the target level's SSTs that overlap them. The target level is listed even
    ///    when none overlaps: `level_sst_ids` is then `[(level, [])]`;
    /// 2. otherwise, among levels over their target, the one with the highest ratio
    ///    `size / target`: its oldest SST (smallest id) into the level below. A level that holds
    ///    data but has target 0 (above the base level, after deletes shrank the bottom) is over
    ///    by any ratio. On equal ratios the deeper level goes first: it makes room before the
    ///    level above pushes more data into it.
    ///
    /// Invariant: a level never holds data older than a level below it, because reads stop at
    /// the first level with the key. So L0 goes to the base level or to the highest non-empty
    /// level, whichever is higher: never *under* a level that still holds data.
    pub fn generate_task(&self, shape: &TreeShape) -> Option<CompactionTask> {
        todo!(
            "day 5: LeveledCompactionController::generate_task — L0 trigger first, then the level with the highest size/target ratio above 1"
        )
    }
    // ANCHOR_END: leveled-generate_task
}

/// The SSTs of `level` (1-based), in key order; none for a level the shape does not have.
pub(crate) fn level_ssts(shape: &TreeShape, level: usize) -> &[SstInfo] {
    shape
        .levels
        .iter()
        .find(|l| l.level == level)
        .map_or(&[], |l| l.ssts.as_slice())
}

/// Total file size of the SSTs in `level`.
pub(crate) fn level_size(shape: &TreeShape, level: usize) -> u64 {
    level_ssts(shape, level)
        .iter()
        .map(|sst| sst.size_bytes)
        .sum()
}
