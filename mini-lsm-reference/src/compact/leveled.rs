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
        // BEGIN SOLUTION day 5: LeveledCompactionController::target_sizes — bottom level: max(real size, base size); each level above: the one below / multiplier, while the one below exceeds the base size
        let max_levels = self.options.max_levels;
        let base = self.options.base_level_size_bytes;
        let multiplier = self.options.level_size_multiplier as u64;
        let mut targets = vec![0; max_levels];
        targets[max_levels - 1] = level_size(shape, max_levels).max(base);
        for i in (0..max_levels - 1).rev() {
            if targets[i + 1] > base {
                targets[i] = targets[i + 1] / multiplier;
            }
        }
        targets
        // END SOLUTION
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
        // BEGIN SOLUTION day 5: LeveledCompactionController::generate_task — L0 trigger first, then the level with the highest size/target ratio above 1
        let targets = self.target_sizes(shape);
        let max_levels = self.options.max_levels;
        if shape.l0.len() >= self.options.level0_file_num_compaction_trigger {
            let base_level = targets
                .iter()
                .position(|&t| t > 0)
                .map_or(max_levels, |i| i + 1);
            let highest_non_empty =
                (1..=max_levels).find(|&level| !level_ssts(shape, level).is_empty());
            let base_level = highest_non_empty.map_or(base_level, |level| level.min(base_level));
            let (first, last) = key_range(&shape.l0)?;
            return Some(CompactionTask {
                l0_sst_ids: shape.l0_ids(),
                level_sst_ids: vec![(base_level, overlapping(shape, base_level, first, last))],
                output_level: base_level,
                output_is_bottom_level: base_level == max_levels,
            });
        }
        // The bottom level's target is at least its size, so it is never picked (ratio <= 1).
        let (level, _) = (1..max_levels)
            .map(|level| {
                let (size, target) = (level_size(shape, level), targets[level - 1]);
                let ratio = match target {
                    0 if size > 0 => f64::INFINITY,
                    0 => 0.0,
                    _ => size as f64 / target as f64,
                };
                (level, ratio)
            })
            .filter(|&(_, ratio)| ratio > 1.0)
            // `max_by` returns the last of equal maxima: on a tie, the deeper level.
            .max_by(|a, b| a.1.total_cmp(&b.1))?;
        // The oldest SST (smallest id) has waited longest: compacting SSTs in id order walks the
        // whole key range over time.
        let oldest = level_ssts(shape, level).iter().min_by_key(|sst| sst.id)?;
        let lower = level + 1;
        Some(CompactionTask {
            l0_sst_ids: Vec::new(),
            level_sst_ids: vec![
                (level, vec![oldest.id]),
                (
                    lower,
                    overlapping(shape, lower, &oldest.first_key, &oldest.last_key),
                ),
            ],
            output_level: lower,
            output_is_bottom_level: lower == max_levels,
        })
        // END SOLUTION
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

// BEGIN SOLUTION HELPERS
/// The smallest first key and largest last key over `ssts`; `None` when `ssts` is empty.
fn key_range(ssts: &[SstInfo]) -> Option<(&[u8], &[u8])> {
    let first = ssts.iter().map(|sst| sst.first_key.as_ref()).min()?;
    let last = ssts.iter().map(|sst| sst.last_key.as_ref()).max()?;
    Some((first, last))
}

/// The ids of the SSTs of `level` whose key range intersects `first..=last`, in key order.
fn overlapping(shape: &TreeShape, level: usize, first: &[u8], last: &[u8]) -> Vec<usize> {
    level_ssts(shape, level)
        .iter()
        .filter(|sst| sst.first_key.as_ref() <= last && sst.last_key.as_ref() >= first)
        .map(|sst| sst.id)
        .collect()
}
// END SOLUTION
