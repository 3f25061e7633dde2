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

// TODO(you): remove these allows once you have finished day 10 in this file.
#![allow(
    unused_variables,
    unused_imports,
    unused_mut,
    dead_code,
    unreachable_code,
    clippy::ptr_arg
)]

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
        todo!(
            "day 10: TieredCompactionController::generate_task — space amplification (merge all), then size ratio from the newest run, then run count; widen to every L0 SST and place the output in a level slot"
        )
    }
    // ANCHOR_END: tiered-generate_task
}
