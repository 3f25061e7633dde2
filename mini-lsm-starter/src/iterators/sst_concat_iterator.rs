//! Day 5 (compaction): [`SstConcatIterator`], one cursor over a whole sorted run of SSTs.

// TODO(you): remove these allows once you have finished day 5 in this file.
#![allow(
    unused_variables,
    unused_imports,
    unused_mut,
    dead_code,
    unreachable_code,
    clippy::ptr_arg
)]

use std::sync::Arc;

use super::StorageIterator;
use crate::error::Result;
use crate::table::{SsTable, SsTableIterator};

/// A cursor over SSTs whose key ranges do not overlap, given in key order (one level below L0).
///
/// Because the ranges are disjoint and ordered, no merging is needed: read the tables one after
/// another. The cursor opens a table only when it reaches it, so a scan over a level holds one
/// table iterator (one block) open, not one per table.
pub struct SstConcatIterator {
    /// The cursor in the current table; `None` once past the last table or after an error.
    current: Option<SsTableIterator>,
    /// Index in `tables` of the table after the current one.
    next_table_idx: usize,
    tables: Vec<Arc<SsTable>>,
}

impl SstConcatIterator {
    // ANCHOR: sst_concat_iterator-create_and_seek_to_first
    /// A cursor on the first entry of the first table. REQUIRES `tables` sorted by key with
    /// disjoint ranges.
    pub fn create_and_seek_to_first(tables: Vec<Arc<SsTable>>) -> Result<Self> {
        todo!(
            "day 5: SstConcatIterator::create_and_seek_to_first — open the first table and move on past any that end up invalid"
        )
    }
    // ANCHOR_END: sst_concat_iterator-create_and_seek_to_first

    // ANCHOR: sst_concat_iterator-create_and_seek_to_key
    /// A cursor on the first entry whose key is `>= key`. REQUIRES `tables` sorted by key with
    /// disjoint ranges.
    pub fn create_and_seek_to_key(tables: Vec<Arc<SsTable>>, key: &[u8]) -> Result<Self> {
        todo!(
            "day 5: SstConcatIterator::create_and_seek_to_key — binary search for the first table whose last key is >= key, seek inside it"
        )
    }
    // ANCHOR_END: sst_concat_iterator-create_and_seek_to_key
}

// ANCHOR: sst_concat_iterator-storage_iterator
impl StorageIterator for SstConcatIterator {
    fn key(&self) -> &[u8] {
        todo!("day 5: SstConcatIterator::key — the current table's key")
    }

    fn value(&self) -> Option<&[u8]> {
        todo!("day 5: SstConcatIterator::value — the current table's value")
    }

    fn is_valid(&self) -> bool {
        todo!("day 5: SstConcatIterator::is_valid — valid while the current table iterator is")
    }

    fn next(&mut self) -> Result<()> {
        todo!(
            "day 5: SstConcatIterator::next — advance in the current table; when it runs out, open the next one"
        )
    }

    fn num_active_iterators(&self) -> usize {
        usize::from(self.current.is_some())
    }
}
// ANCHOR_END: sst_concat_iterator-storage_iterator
