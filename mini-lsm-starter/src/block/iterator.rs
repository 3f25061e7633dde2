//! Day 1 (blocks): [`BlockIterator`] walks and seeks the entries of one block.

// TODO(you): remove these allows once you have finished day 1 in this file.
#![allow(
    unused_variables,
    unused_imports,
    unused_mut,
    dead_code,
    unreachable_code,
    clippy::ptr_arg
)]

use std::sync::Arc;

use bytes::Bytes;

use super::{Block, KIND_TOMBSTONE};
use crate::error::Result;
use crate::iterators::StorageIterator;

// ANCHOR: block_iterator-struct
/// A cursor over one [`Block`], following the [`StorageIterator`] contract.
#[derive(Debug)]
pub struct BlockIterator {
    /// The block being read; shared with the block cache, never copied.
    block: Arc<Block>,
    /// Index of the current entry; `block.len()` once past the end.
    idx: usize,
    /// Key of the current entry. Kept in a buffer the iterator owns (reused from entry to entry)
    /// because from day 7 keys are stored prefix-compressed and must be rebuilt.
    key: Vec<u8>,
    /// Where the current value lies in `block.data`.
    value_range: (usize, usize),
    /// Whether the current entry is a tombstone.
    is_tombstone: bool,
}
// ANCHOR_END: block_iterator-struct

impl BlockIterator {
    fn new(block: Arc<Block>) -> Self {
        BlockIterator {
            block,
            idx: 0,
            key: Vec::new(),
            value_range: (0, 0),
            is_tombstone: false,
        }
    }

    /// A cursor on the first entry of `block`.
    pub fn create_and_seek_to_first(block: Arc<Block>) -> Self {
        let mut iter = Self::new(block);
        iter.seek_to_first();
        iter
    }

    /// A cursor on the first entry of `block` whose key is `>= key` (invalid if there is none).
    pub fn create_and_seek_to_key(block: Arc<Block>, key: &[u8]) -> Self {
        let mut iter = Self::new(block);
        iter.seek_to_key(key);
        iter
    }

    // ANCHOR: block_iterator-seek_to_first
    /// Moves to the first entry.
    pub fn seek_to_first(&mut self) {
        todo!("day 1: BlockIterator::seek_to_first — position on entry 0")
    }
    // ANCHOR_END: block_iterator-seek_to_first

    // ANCHOR: block_iterator-seek_to_key
    /// Moves to the first entry whose key is `>= key`; the cursor becomes invalid when every key
    /// in the block is smaller.
    pub fn seek_to_key(&mut self, key: &[u8]) {
        todo!(
            "day 1: BlockIterator::seek_to_key — binary search over the entry offsets for the first key >= target"
        )
    }
    // ANCHOR_END: block_iterator-seek_to_key
}

// ANCHOR: block_iterator-storage_iterator
impl StorageIterator for BlockIterator {
    fn key(&self) -> &[u8] {
        todo!("day 1: BlockIterator::key — the current entry's key")
    }

    fn value(&self) -> Option<&[u8]> {
        todo!("day 1: BlockIterator::value — None for a tombstone, else a slice of the block data")
    }

    fn is_valid(&self) -> bool {
        todo!("day 1: BlockIterator::is_valid — true while the cursor stands on an entry")
    }

    fn next(&mut self) -> Result<()> {
        todo!(
            "day 1: BlockIterator::next — move to the following entry (never fails: the block was validated when decoded)"
        )
    }
}
// ANCHOR_END: block_iterator-storage_iterator
