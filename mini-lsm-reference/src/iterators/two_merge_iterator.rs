//! Day 3 (merging): [`TwoMergeIterator`] merges two cursors of different types.

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
        // BEGIN SOLUTION day 3: TwoMergeIterator::create — skip b's entry if a stands on the same key, then pick the smaller side
        let mut iter = TwoMergeIterator {
            a,
            b,
            use_a: false,
            failed: false,
        };
        iter.skip_shadowed_b()?;
        iter.use_a = iter.choose_a();
        Ok(iter)
        // END SOLUTION
    }
    // ANCHOR_END: two_merge_iterator-create

    // BEGIN SOLUTION HELPERS
    /// When both sources stand on the same key, `b`'s entry is an older version: step past it.
    fn skip_shadowed_b(&mut self) -> Result<()> {
        if self.a.is_valid() && self.b.is_valid() && self.a.key() == self.b.key() {
            self.b.next()?;
        }
        Ok(())
    }

    /// Whether the smaller key is `a`'s (after `skip_shadowed_b`, the keys are never equal).
    fn choose_a(&self) -> bool {
        match (self.a.is_valid(), self.b.is_valid()) {
            (true, true) => self.a.key() < self.b.key(),
            (a_valid, _) => a_valid,
        }
    }
    // END SOLUTION
}

// ANCHOR: two_merge_iterator-storage_iterator
impl<A: StorageIterator, B: StorageIterator> StorageIterator for TwoMergeIterator<A, B> {
    fn key(&self) -> &[u8] {
        // BEGIN SOLUTION day 3: TwoMergeIterator::key — the chosen side's key
        if self.use_a {
            self.a.key()
        } else {
            self.b.key()
        }
        // END SOLUTION
    }

    fn value(&self) -> Option<&[u8]> {
        // BEGIN SOLUTION day 3: TwoMergeIterator::value — the chosen side's value
        if self.use_a {
            self.a.value()
        } else {
            self.b.value()
        }
        // END SOLUTION
    }

    fn is_valid(&self) -> bool {
        // BEGIN SOLUTION day 3: TwoMergeIterator::is_valid — valid while the chosen side is
        !self.failed
            && if self.use_a {
                self.a.is_valid()
            } else {
                self.b.is_valid()
            }
        // END SOLUTION
    }

    fn next(&mut self) -> Result<()> {
        // BEGIN SOLUTION day 3: TwoMergeIterator::next — advance the chosen side, skip a shadowed b entry, choose again; after an error stay invalid
        let advanced = if self.use_a {
            self.a.next()
        } else {
            self.b.next()
        };
        let result = advanced.and_then(|()| self.skip_shadowed_b());
        if result.is_err() {
            self.failed = true;
            return result;
        }
        self.use_a = self.choose_a();
        Ok(())
        // END SOLUTION
    }

    fn num_active_iterators(&self) -> usize {
        self.a.num_active_iterators() + self.b.num_active_iterators()
    }
}
// ANCHOR_END: two_merge_iterator-storage_iterator
