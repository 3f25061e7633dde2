//! Day 2 (SSTs): [`SsTableIterator`] walks and seeks one SST, a block at a time.

// TODO(you): remove these allows once you have finished day 2 in this file.
#![allow(
    unused_variables,
    unused_imports,
    unused_mut,
    dead_code,
    unreachable_code,
    clippy::ptr_arg
)]

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
        todo!("day 2: SsTableIterator::seek_to_first — load block 0 and seek to its first entry")
    }
    // ANCHOR_END: table_iterator-seek_to_first

    // ANCHOR: table_iterator-seek_to_key
    /// Moves to the first entry whose key is `>= key`.
    pub fn seek_to_key(&mut self, key: &[u8]) -> Result<()> {
        todo!(
            "day 2: SsTableIterator::seek_to_key — find_block_idx picks the block; seek inside it"
        )
    }
    // ANCHOR_END: table_iterator-seek_to_key

    /// The table this cursor reads.
    pub fn table(&self) -> &Arc<SsTable> {
        &self.table
    }
}

// ANCHOR: table_iterator-storage_iterator
impl StorageIterator for SsTableIterator {
    fn key(&self) -> &[u8] {
        todo!("day 2: SsTableIterator::key — the current block iterator's key")
    }

    fn value(&self) -> Option<&[u8]> {
        todo!("day 2: SsTableIterator::value — the current block iterator's value")
    }

    fn is_valid(&self) -> bool {
        todo!("day 2: SsTableIterator::is_valid — valid while the current block iterator is")
    }

    fn next(&mut self) -> Result<()> {
        todo!(
            "day 2: SsTableIterator::next — advance in the block; when it runs out, load the next block"
        )
    }
}
// ANCHOR_END: table_iterator-storage_iterator
