//! Day 3 (merging): [`TwoMergeIterator`] merges two cursors of different types.

// TODO(you): remove these allows once you have finished day 3 in this file.
#![allow(
    unused_variables,
    unused_imports,
    unused_mut,
    dead_code,
    unreachable_code,
    clippy::ptr_arg
)]

use super::StorageIterator;
use crate::error::Result;

// ANCHOR: two_merge_iterator-struct
/// Merges two cursors in key order; `a` is newer than `b`, so on equal keys `a`'s entry is
/// returned and `b`'s skipped. Unlike [`super::merge_iterator::MergeIterator`], the two sources
/// may have different types (memtables and SSTs, say), and no heap is needed for two.
pub struct TwoMergeIterator<A: StorageIterator, B: StorageIterator> {
    a: A,
    b: B,
    /// Whether the current entry comes from `a`.
    use_a: bool,
    /// Set when `next` failed: a failure in `b` leaves `a` valid, yet the merge is broken.
    failed: bool,
}
// ANCHOR_END: two_merge_iterator-struct

impl<A: StorageIterator, B: StorageIterator> TwoMergeIterator<A, B> {
    // ANCHOR: two_merge_iterator-create
    /// Merges `a` (newer) with `b` (older).
    pub fn create(a: A, b: B) -> Result<Self> {
        todo!(
            "day 3: TwoMergeIterator::create — skip b's entry if a stands on the same key, then pick the smaller side"
        )
    }
    // ANCHOR_END: two_merge_iterator-create
}

// ANCHOR: two_merge_iterator-storage_iterator
impl<A: StorageIterator, B: StorageIterator> StorageIterator for TwoMergeIterator<A, B> {
    fn key(&self) -> &[u8] {
        todo!("day 3: TwoMergeIterator::key — the chosen side's key")
    }

    fn value(&self) -> Option<&[u8]> {
        todo!("day 3: TwoMergeIterator::value — the chosen side's value")
    }

    fn is_valid(&self) -> bool {
        todo!("day 3: TwoMergeIterator::is_valid — valid while the chosen side is")
    }

    fn next(&mut self) -> Result<()> {
        todo!(
            "day 3: TwoMergeIterator::next — advance the chosen side, skip a shadowed b entry, choose again; after an error stay invalid"
        )
    }

    fn num_active_iterators(&self) -> usize {
        self.a.num_active_iterators() + self.b.num_active_iterators()
    }
}
// ANCHOR_END: two_merge_iterator-storage_iterator
