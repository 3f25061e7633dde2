//! Day 3 (merging): [`MergeIterator`] merges any number of sorted cursors into one.

// TODO(you): remove these allows once you have finished day 3 in this file.
#![allow(
    unused_variables,
    unused_imports,
    unused_mut,
    dead_code,
    unreachable_code,
    clippy::ptr_arg
)]

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
        todo!(
            "day 3: MergeIterator::create — push every valid source into the heap with its index, then pop the smallest as current"
        )
    }
    // ANCHOR_END: merge_iterator-create
}

// ANCHOR: merge_iterator-storage_iterator
impl<I: StorageIterator> StorageIterator for MergeIterator<I> {
    fn key(&self) -> &[u8] {
        todo!("day 3: MergeIterator::key — the current source's key")
    }

    fn value(&self) -> Option<&[u8]> {
        todo!("day 3: MergeIterator::value — the current source's value")
    }

    fn is_valid(&self) -> bool {
        todo!("day 3: MergeIterator::is_valid — valid while there is a current source")
    }

    fn next(&mut self) -> Result<()> {
        todo!(
            "day 3: MergeIterator::next — skip the current key in every other source, advance the current one, then swap with the heap top if it is smaller"
        )
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
