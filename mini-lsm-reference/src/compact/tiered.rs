//! Day 10 (Part 2): the tiered compaction controller, which decides *what* to compact.
//!
//! Leveled compaction (day 5) keeps a single sorted run per level and rewrites a key about once
//! per level on its way down. Tiered compaction lets sorted runs pile up instead and merges
//! several of them at once, only when they are of similar size: a key is rewritten less often
//! (lower write amplification), at the price of more runs for a read to probe (read
//! amplification) and of old versions that linger until a merge reaches them (space
//! amplification). RocksDB calls its version "universal compaction"; this controller follows
//! its three triggers and its way of storing runs, in a simplified form.
//!
//! # Sorted runs in the existing slots
//!
//! The tree keeps its day-5 layout. Every L0 SST is a run of its own (newest first), then every
//! non-empty level L1..Ln is one run, an upper level newer than a lower one. A task merges a
//! contiguous group of the newest runs, so [`CompactionTask`], the manifest's `Compaction`
//! record and recovery work unchanged. The output goes to the slot of the oldest run merged;
//! when only L0 SSTs are merged, it goes to the lowest empty level above the next older run (when
//! L1 itself holds that run, there is no such level, and L1 joins the merge). A merge of L0 SSTs
//! always takes every L0 SST the controller sees: its output lands in a level, below them all,
//! so an older L0 SST left out would end up *above* newer data.
//!
//! # The triggers, in order
//!
//! With `runs` the sorted runs, newest first:
//! 1. **space amplification**: when the runs newer than the oldest hold more than
//!    `max_size_amplification_percent` of the oldest's bytes, merge all of them. The newer runs
//!    are an estimate of the space taken by versions a full merge would drop;
//! 2. **size ratio**: starting from the newest run, keep adding the next older one while it holds
//!    at most `(100 + size_ratio_percent)%` of the bytes picked so far; merge the picked runs if
//!    there are at least `min_merge_width`. Runs of similar size merge, a much larger older run
//!    is left alone, so each byte is rewritten about once per doubling of the data;
//! 3. **run count**: when there are more than `max_runs` runs, merge the newest ones, just enough
//!    (and at least `min_merge_width`) to bring the count back to `max_runs`.
//!
//! Tombstones are dropped only by a merge of every run: nothing older is left for them to hide.

use crate::compact::CompactionTask;
use crate::inspect::TreeShape;
use crate::options::TieredCompactionOptions;

/// Picks the next compaction for a tiered tree.
#[derive(Debug, Clone)]
pub struct TieredCompactionController {
    options: TieredCompactionOptions,
}

/// One sorted run of a [`TreeShape`]: an L0 SST or a non-empty level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortedRun {
    /// The L0 SST with this id.
    L0(usize),
    /// The level with this number (1 for the level below L0).
    Level(usize),
}

// ANCHOR: tiered-sorted_runs
/// The sorted runs of `shape`, newest first, each with its size in bytes: every L0 SST, then
/// every non-empty level from L1 down. A point read probes them in this order.
pub fn sorted_runs(shape: &TreeShape) -> Vec<(SortedRun, u64)> {
    let l0 = shape
        .l0
        .iter()
        .map(|sst| (SortedRun::L0(sst.id), sst.size_bytes));
    let levels = shape
        .levels
        .iter()
        .filter(|level| !level.ssts.is_empty())
        .map(|level| {
            let size = level.ssts.iter().map(|sst| sst.size_bytes).sum();
            (SortedRun::Level(level.level), size)
        });
    l0.chain(levels).collect()
}
// ANCHOR_END: tiered-sorted_runs

impl TieredCompactionController {
    /// A controller with the given parameters.
    pub fn new(options: TieredCompactionOptions) -> Self {
        TieredCompactionController { options }
    }

    // ANCHOR: tiered-generate_task
    /// The next compaction to run, or `None` when no trigger fires. The triggers are checked in
    /// the order of the module documentation: space amplification, size ratio, run count. The
    /// task merges the newest `n` runs of [`sorted_runs`] (all of them for the first trigger),
    /// widened as the module documentation says so that its output has a slot; its
    /// `output_is_bottom_level` is true only when it merges every run.
    pub fn generate_task(&self, shape: &TreeShape) -> Option<CompactionTask> {
        // BEGIN SOLUTION day 10: TieredCompactionController::generate_task — space amplification (merge all), then size ratio from the newest run, then run count; widen to every L0 SST and place the output in a level slot
        let runs = sorted_runs(shape);
        let count = self.merge_count(&runs)?;
        Some(self.task_for(shape, &runs, count))
        // END SOLUTION
    }
    // ANCHOR_END: tiered-generate_task
}

// BEGIN SOLUTION HELPERS
impl TieredCompactionController {
    /// How many of the newest `runs` the first trigger that fires wants merged.
    fn merge_count(&self, runs: &[(SortedRun, u64)]) -> Option<usize> {
        let options = &self.options;
        let (&(_, oldest), newer) = runs.split_last()?;
        if newer.is_empty() {
            return None;
        }
        let newer_bytes: u64 = newer.iter().map(|(_, size)| size).sum();
        // u128: a percent times a size in bytes may not fit in u64.
        if u128::from(newer_bytes) * 100
            > u128::from(options.max_size_amplification_percent) * u128::from(oldest)
        {
            return Some(runs.len());
        }
        let similar = similar_sized_prefix(runs, options.size_ratio_percent);
        if similar >= options.min_merge_width {
            return Some(similar);
        }
        if runs.len() > options.max_runs {
            let excess = runs.len() - options.max_runs + 1;
            return Some(excess.max(options.min_merge_width).min(runs.len()));
        }
        None
    }

    /// The task that merges the newest `count` runs, widened so that its output has a slot.
    fn task_for(
        &self,
        shape: &TreeShape,
        runs: &[(SortedRun, u64)],
        count: usize,
    ) -> CompactionTask {
        // Every L0 SST, always (see the module documentation): they are the newest runs.
        let l0_count = runs
            .iter()
            .take_while(|(run, _)| matches!(run, SortedRun::L0(_)))
            .count();
        let mut count = count.max(l0_count);
        let oldest_merged = runs[..count].last().map(|(run, _)| *run);
        let next_older = runs.get(count).map(|(run, _)| *run);
        let output_level = match (oldest_merged, next_older) {
            (Some(SortedRun::Level(level)), _) => level,
            // Only L0 SSTs, and nothing older: the bottom slot.
            (_, None) => self.options.max_levels,
            (_, Some(SortedRun::Level(next))) if next > 1 => next - 1,
            // The next older run is L1: no slot above it, so it joins the merge.
            (_, Some(_)) => {
                count += 1;
                1
            }
        };
        let merged = &runs[..count];
        CompactionTask {
            l0_sst_ids: merged
                .iter()
                .filter_map(|(run, _)| match run {
                    SortedRun::L0(id) => Some(*id),
                    SortedRun::Level(_) => None,
                })
                .collect(),
            level_sst_ids: merged
                .iter()
                .filter_map(|(run, _)| match run {
                    SortedRun::Level(level) => Some((*level, level_ids(shape, *level))),
                    SortedRun::L0(_) => None,
                })
                .collect(),
            output_level,
            output_is_bottom_level: count == runs.len(),
        }
    }
}

/// How many of the newest `runs` the size-ratio rule picks: the newest, then each next older run
/// while it holds at most `(100 + size_ratio_percent)%` of the bytes picked so far.
fn similar_sized_prefix(runs: &[(SortedRun, u64)], size_ratio_percent: u64) -> usize {
    let Some((&(_, newest), older)) = runs.split_first() else {
        return 0;
    };
    let mut picked_bytes = u128::from(newest);
    let mut picked = 1;
    for &(_, size) in older {
        if u128::from(size) * 100 > picked_bytes * u128::from(100 + size_ratio_percent) {
            break;
        }
        picked_bytes += u128::from(size);
        picked += 1;
    }
    picked
}

/// The SST ids of `level`, in key order.
fn level_ids(shape: &TreeShape, level: usize) -> Vec<usize> {
    super::leveled::level_ssts(shape, level)
        .iter()
        .map(|sst| sst.id)
        .collect()
}
// END SOLUTION
