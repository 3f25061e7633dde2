//! Day 5 (compaction): [`SstConcatIterator`], one cursor over a whole sorted run of SSTs.

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
        // BEGIN SOLUTION day 5: SstConcatIterator::create_and_seek_to_first — open the first table and move on past any that end up invalid
        let mut iter = SstConcatIterator {
            current: None,
            next_table_idx: 0,
            tables,
        };
        iter.open_table(0, None)?;
        Ok(iter)
        // END SOLUTION
    }
    // ANCHOR_END: sst_concat_iterator-create_and_seek_to_first

    // ANCHOR: sst_concat_iterator-create_and_seek_to_key
    /// A cursor on the first entry whose key is `>= key`. REQUIRES `tables` sorted by key with
    /// disjoint ranges.
    pub fn create_and_seek_to_key(tables: Vec<Arc<SsTable>>, key: &[u8]) -> Result<Self> {
        // BEGIN SOLUTION day 5: SstConcatIterator::create_and_seek_to_key — binary search for the first table whose last key is >= key, seek inside it
        let first = tables.partition_point(|table| table.last_key().as_ref() < key);
        let mut iter = SstConcatIterator {
            current: None,
            next_table_idx: 0,
            tables,
        };
        iter.open_table(first, Some(key))?;
        Ok(iter)
        // END SOLUTION
    }
    // ANCHOR_END: sst_concat_iterator-create_and_seek_to_key

    // BEGIN SOLUTION HELPERS
    /// Opens table `idx`, seeking to `seek_key` if given (only the first table opened needs a
    /// seek), and moves on past tables that yield nothing, so that the cursor is valid whenever
    /// an entry remains.
    fn open_table(&mut self, mut idx: usize, mut seek_key: Option<&[u8]>) -> Result<()> {
        self.current = None;
        while let Some(table) = self.tables.get(idx) {
            let table = Arc::clone(table);
            let iter = match seek_key.take() {
                Some(key) => SsTableIterator::create_and_seek_to_key(table, key)?,
                None => SsTableIterator::create_and_seek_to_first(table)?,
            };
            idx += 1;
            if iter.is_valid() {
                self.current = Some(iter);
                break;
            }
        }
        self.next_table_idx = idx;
        Ok(())
    }
    // END SOLUTION
}

// ANCHOR: sst_concat_iterator-storage_iterator
impl StorageIterator for SstConcatIterator {
    fn key(&self) -> &[u8] {
        // BEGIN SOLUTION day 5: SstConcatIterator::key — the current table's key
        self.current
            .as_ref()
            .expect("SstConcatIterator::key on an invalid iterator")
            .key()
        // END SOLUTION
    }

    fn value(&self) -> Option<&[u8]> {
        // BEGIN SOLUTION day 5: SstConcatIterator::value — the current table's value
        self.current
            .as_ref()
            .expect("SstConcatIterator::value on an invalid iterator")
            .value()
        // END SOLUTION
    }

    fn is_valid(&self) -> bool {
        // BEGIN SOLUTION day 5: SstConcatIterator::is_valid — valid while the current table iterator is
        self.current.as_ref().is_some_and(SsTableIterator::is_valid)
        // END SOLUTION
    }

    fn next(&mut self) -> Result<()> {
        // BEGIN SOLUTION day 5: SstConcatIterator::next — advance in the current table; when it runs out, open the next one
        let Some(current) = &mut self.current else {
            return Ok(());
        };
        if let Err(e) = current.next() {
            self.current = None;
            return Err(e);
        }
        if !current.is_valid() {
            self.open_table(self.next_table_idx, None)?;
        }
        Ok(())
        // END SOLUTION
    }

    fn num_active_iterators(&self) -> usize {
        usize::from(self.current.is_some())
    }
}
// ANCHOR_END: sst_concat_iterator-storage_iterator
