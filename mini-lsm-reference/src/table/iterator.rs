//! Day 2 (SSTs): [`SsTableIterator`] walks and seeks one SST, a block at a time.

use std::sync::Arc;

use super::SsTable;
use crate::block::BlockIterator;
use crate::error::Result;
use crate::iterators::StorageIterator;

// ANCHOR: table_iterator-struct
/// A cursor over one [`SsTable`], following the [`StorageIterator`] contract. It holds one block
/// at a time and reads the next only when the current one is exhausted.
#[derive(Debug)]
pub struct SsTableIterator {
    table: Arc<SsTable>,
    /// The cursor in the current block; `None` once past the last block or after an error.
    block_iter: Option<BlockIterator>,
    /// Index of the current block.
    block_idx: usize,
}
// ANCHOR_END: table_iterator-struct

impl SsTableIterator {
    /// A cursor on the first entry of `table`.
    pub fn create_and_seek_to_first(table: Arc<SsTable>) -> Result<Self> {
        let mut iter = SsTableIterator {
            table,
            block_iter: None,
            block_idx: 0,
        };
        iter.seek_to_first()?;
        Ok(iter)
    }

    /// A cursor on the first entry of `table` whose key is `>= key` (invalid if there is none).
    pub fn create_and_seek_to_key(table: Arc<SsTable>, key: &[u8]) -> Result<Self> {
        let mut iter = SsTableIterator {
            table,
            block_iter: None,
            block_idx: 0,
        };
        iter.seek_to_key(key)?;
        Ok(iter)
    }

    // ANCHOR: table_iterator-seek_to_first
    /// Moves to the first entry of the table.
    pub fn seek_to_first(&mut self) -> Result<()> {
        // BEGIN SOLUTION day 2: SsTableIterator::seek_to_first — load block 0 and seek to its first entry
        self.load_block(0, None)
        // END SOLUTION
    }
    // ANCHOR_END: table_iterator-seek_to_first

    // ANCHOR: table_iterator-seek_to_key
    /// Moves to the first entry whose key is `>= key`.
    pub fn seek_to_key(&mut self, key: &[u8]) -> Result<()> {
        // BEGIN SOLUTION day 2: SsTableIterator::seek_to_key — find_block_idx picks the block; seek inside it
        // The chosen block's last key is >= `key`, so the seek inside it always finds an entry.
        self.load_block(self.table.find_block_idx(key), Some(key))
        // END SOLUTION
    }
    // ANCHOR_END: table_iterator-seek_to_key

    /// The table this cursor reads.
    pub fn table(&self) -> &Arc<SsTable> {
        &self.table
    }

    // BEGIN SOLUTION HELPERS
    /// Positions the cursor in block `block_idx`: on its first key `>= seek_key` when given,
    /// otherwise on its first entry; past the end when there is no such block. On a read error
    /// the cursor is left invalid.
    fn load_block(&mut self, block_idx: usize, seek_key: Option<&[u8]>) -> Result<()> {
        self.block_idx = block_idx;
        self.block_iter = None;
        if block_idx < self.table.num_blocks() {
            let block = self.table.read_block_cached(block_idx)?;
            self.block_iter = Some(match seek_key {
                Some(key) => BlockIterator::create_and_seek_to_key(block, key),
                None => BlockIterator::create_and_seek_to_first(block),
            });
        }
        Ok(())
    }
    // END SOLUTION
}

// ANCHOR: table_iterator-storage_iterator
impl StorageIterator for SsTableIterator {
    fn key(&self) -> &[u8] {
        // BEGIN SOLUTION day 2: SsTableIterator::key — the current block iterator's key
        self.block_iter
            .as_ref()
            .expect("SsTableIterator::key on an invalid iterator")
            .key()
        // END SOLUTION
    }

    fn value(&self) -> Option<&[u8]> {
        // BEGIN SOLUTION day 2: SsTableIterator::value — the current block iterator's value
        self.block_iter
            .as_ref()
            .expect("SsTableIterator::value on an invalid iterator")
            .value()
        // END SOLUTION
    }

    fn is_valid(&self) -> bool {
        // BEGIN SOLUTION day 2: SsTableIterator::is_valid — valid while the current block iterator is
        self.block_iter
            .as_ref()
            .is_some_and(BlockIterator::is_valid)
        // END SOLUTION
    }

    fn next(&mut self) -> Result<()> {
        // BEGIN SOLUTION day 2: SsTableIterator::next — advance in the block; when it runs out, load the next block
        if let Some(block_iter) = &mut self.block_iter {
            block_iter.next()?;
            if !block_iter.is_valid() {
                self.load_block(self.block_idx + 1, None)?;
            }
        }
        Ok(())
        // END SOLUTION
    }
}
// ANCHOR_END: table_iterator-storage_iterator
