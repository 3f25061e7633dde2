//! Day 1 (blocks): [`BlockIterator`] walks and seeks the entries of one block.

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
        // BEGIN SOLUTION day 1: BlockIterator::seek_to_first — position on entry 0
        self.seek_to_index(0);
        // END SOLUTION
    }
    // ANCHOR_END: block_iterator-seek_to_first

    // ANCHOR: block_iterator-seek_to_key
    /// Moves to the first entry whose key is `>= key`; the cursor becomes invalid when every key
    /// in the block is smaller.
    pub fn seek_to_key(&mut self, key: &[u8]) {
        // BEGIN SOLUTION day 1: BlockIterator::seek_to_key — binary search over the entry offsets for the first key >= target
        // Binary search for the first entry whose key is >= `key`: entries in [0, low) are
        // smaller, entries in [high, len) are >= key.
        // The probes compare in place (`Block::compare_key`); only the entry found is decoded.
        let (mut low, mut high) = (0, self.block.len());
        while low < high {
            let mid = low + (high - low) / 2;
            if self.block.compare_key(mid, key).is_lt() {
                low = mid + 1;
            } else {
                high = mid;
            }
        }
        self.seek_to_index(low);
        // END SOLUTION
    }
    // ANCHOR_END: block_iterator-seek_to_key

    // BEGIN SOLUTION HELPERS
    /// Positions the cursor on entry `idx`, or makes it invalid when `idx` is past the end.
    fn seek_to_index(&mut self, idx: usize) {
        self.idx = idx;
        self.key.clear();
        if idx >= self.block.len() {
            return;
        }
        let entry = self.block.entry(idx);
        // Rebuild the key: the prefix it shares with the first key, then its own rest (room for
        // both first, so that the buffer grows at most once).
        self.key
            .reserve(entry.overlap + entry.rest_end - entry.rest_start);
        self.key
            .extend_from_slice(&self.block.first_key()[..entry.overlap]);
        self.key
            .extend_from_slice(&self.block.data[entry.rest_start..entry.rest_end]);
        self.value_range = (entry.value_start, entry.value_end);
        self.is_tombstone = entry.kind == KIND_TOMBSTONE;
    }

    /// The current value as a slice of the block's shared buffer: no copy, for `get`.
    /// REQUIRES `is_valid()`.
    pub(crate) fn value_bytes(&self) -> Option<Bytes> {
        (!self.is_tombstone).then(|| {
            self.block
                .data
                .slice(self.value_range.0..self.value_range.1)
        })
    }
    // END SOLUTION
}

// ANCHOR: block_iterator-storage_iterator
impl StorageIterator for BlockIterator {
    fn key(&self) -> &[u8] {
        // BEGIN SOLUTION day 1: BlockIterator::key — the current entry's key
        debug_assert!(self.is_valid(), "BlockIterator::key on an invalid iterator");
        &self.key
        // END SOLUTION
    }

    fn value(&self) -> Option<&[u8]> {
        // BEGIN SOLUTION day 1: BlockIterator::value — None for a tombstone, else a slice of the block data
        debug_assert!(
            self.is_valid(),
            "BlockIterator::value on an invalid iterator"
        );
        if self.is_tombstone {
            None
        } else {
            Some(&self.block.data[self.value_range.0..self.value_range.1])
        }
        // END SOLUTION
    }

    fn is_valid(&self) -> bool {
        // BEGIN SOLUTION day 1: BlockIterator::is_valid — true while the cursor stands on an entry
        self.idx < self.block.len()
        // END SOLUTION
    }

    fn next(&mut self) -> Result<()> {
        // BEGIN SOLUTION day 1: BlockIterator::next — move to the following entry (never fails: the block was validated when decoded)
        self.seek_to_index(self.idx + 1);
        Ok(())
        // END SOLUTION
    }
}
// ANCHOR_END: block_iterator-storage_iterator
