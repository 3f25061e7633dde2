//! Day 3 (merging): [`MergeIterator`] merges any number of sorted cursors into one.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::collections::binary_heap::PeekMut;

use super::StorageIterator;
use crate::error::Result;

/// One source inside the heap, with its position in the input list (0 = newest).
struct HeapWrapper<I: StorageIterator>(usize, Box<I>);

impl<I: StorageIterator> PartialEq for HeapWrapper<I> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl<I: StorageIterator> Eq for HeapWrapper<I> {}

impl<I: StorageIterator> PartialOrd for HeapWrapper<I> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

// ANCHOR: merge_iterator-heap_wrapper_ord
impl<I: StorageIterator> Ord for HeapWrapper<I> {
    /// `BinaryHeap` is a max-heap, so the order is reversed: the *smallest* key is the greatest
    /// element, and among equal keys the *newest* source (smallest index) is.
    fn cmp(&self, other: &Self) -> Ordering {
        self.1
            .key()
            .cmp(other.1.key())
            .then(self.0.cmp(&other.0))
            .reverse()
    }
}
// ANCHOR_END: merge_iterator-heap_wrapper_ord

// ANCHOR: merge_iterator-struct
/// Merges cursors into one cursor in key order. Sources earlier in the input are newer: when
/// several hold the same key, only the newest source's entry is returned (tombstones included, so
/// a delete still hides older values) and the others are skipped.
pub struct MergeIterator<I: StorageIterator> {
    /// The valid sources other than `current`, smallest key on top.
    iters: BinaryHeap<HeapWrapper<I>>,
    /// The source the cursor's entry comes from; `None` when the merge is exhausted or broken.
    current: Option<HeapWrapper<I>>,
}
// ANCHOR_END: merge_iterator-struct

impl<I: StorageIterator> MergeIterator<I> {
    // ANCHOR: merge_iterator-create
    /// Merges `iters`, newest first. Invalid sources are dropped at once.
    pub fn create(iters: Vec<Box<I>>) -> Self {
        // BEGIN SOLUTION day 3: MergeIterator::create — push every valid source into the heap with its index, then pop the smallest as current
        let mut heap: BinaryHeap<_> = iters
            .into_iter()
            .enumerate()
            .filter(|(_, iter)| iter.is_valid())
            .map(|(idx, iter)| HeapWrapper(idx, iter))
            .collect();
        let current = heap.pop();
        MergeIterator {
            iters: heap,
            current,
        }
        // END SOLUTION
    }
    // ANCHOR_END: merge_iterator-create
}

// ANCHOR: merge_iterator-storage_iterator
impl<I: StorageIterator> StorageIterator for MergeIterator<I> {
    fn key(&self) -> &[u8] {
        // BEGIN SOLUTION day 3: MergeIterator::key — the current source's key
        self.current
            .as_ref()
            .expect("MergeIterator::key on an invalid iterator")
            .1
            .key()
        // END SOLUTION
    }

    fn value(&self) -> Option<&[u8]> {
        // BEGIN SOLUTION day 3: MergeIterator::value — the current source's value
        self.current
            .as_ref()
            .expect("MergeIterator::value on an invalid iterator")
            .1
            .value()
        // END SOLUTION
    }

    fn is_valid(&self) -> bool {
        // BEGIN SOLUTION day 3: MergeIterator::is_valid — valid while there is a current source
        self.current
            .as_ref()
            .is_some_and(|current| current.1.is_valid())
        // END SOLUTION
    }

    fn next(&mut self) -> Result<()> {
        // BEGIN SOLUTION day 3: MergeIterator::next — skip the current key in every other source, advance the current one, then swap with the heap top if it is smaller
        let Some(mut current) = self.current.take() else {
            return Ok(());
        };
        // From here on `self.current` is None, so if any step fails the merge stays invalid.

        // 1. Every other source standing on the same key holds an older version: skip it.
        while let Some(mut top) = self.iters.peek_mut() {
            if top.1.key() != current.1.key() {
                break;
            }
            if let Err(e) = top.1.next() {
                // Remove the failed source before returning. Returning with `?` while `top`
                // (a `PeekMut`) is alive would re-sort the heap by the key of a broken cursor.
                PeekMut::pop(top);
                return Err(e);
            }
            if !top.1.is_valid() {
                PeekMut::pop(top);
            }
            // Dropping a `PeekMut` whose key changed moves it down to its new place in the heap.
        }

        // 2. Advance the current source past the key just returned.
        current.1.next()?;

        // 3. The smallest key now is either the current source's or the heap top's.
        if !current.1.is_valid() {
            self.current = self.iters.pop();
            return Ok(());
        }
        if let Some(mut top) = self.iters.peek_mut() {
            // `>` in heap order means "smaller key, or same key from a newer source".
            if *top > current {
                std::mem::swap(&mut *top, &mut current);
            }
        }
        self.current = Some(current);
        Ok(())
        // END SOLUTION
    }

    fn num_active_iterators(&self) -> usize {
        self.iters
            .iter()
            .map(|wrapper| wrapper.1.num_active_iterators())
            .sum::<usize>()
            + self
                .current
                .as_ref()
                .map_or(0, |current| current.1.num_active_iterators())
    }
}
// ANCHOR_END: merge_iterator-storage_iterator
