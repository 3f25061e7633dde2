//! Day 1 (blocks): [`BlockBuilder`] collects sorted entries into one block.

// TODO(you): remove these allows once you have finished day 1 in this file.
#![allow(
    unused_variables,
    unused_imports,
    unused_mut,
    dead_code,
    unreachable_code,
    clippy::ptr_arg
)]

use bytes::BufMut;

use super::{Block, COUNT_SIZE, ENTRY_OVERHEAD, KIND_TOMBSTONE, KIND_VALUE, OFFSET_SIZE};

/// Builds a [`Block`] from entries added in strictly increasing key order.
#[derive(Debug)]
pub struct BlockBuilder {
    /// The encoded entries so far.
    data: Vec<u8>,
    /// Where each entry starts in `data`.
    offsets: Vec<u32>,
    /// The size the encoded block should not exceed (the first entry may exceed it alone).
    block_size: usize,
    /// The block's first key: every other key stores only what follows its shared prefix.
    first_key: Vec<u8>,
    /// The last key added, to check the order of the next one.
    last_key: Vec<u8>,
}

impl BlockBuilder {
    /// A builder for blocks of about `block_size` encoded bytes.
    pub fn new(block_size: usize) -> Self {
        BlockBuilder {
            data: Vec::new(),
            offsets: Vec::new(),
            block_size,
            first_key: Vec::new(),
            last_key: Vec::new(),
        }
    }

    // ANCHOR: block_builder-add
    // ANCHOR: d7-block_builder-add
    /// Adds an entry; `value` is `None` for a tombstone. Returns `false`, and adds nothing, when
    /// the entry would make the encoded block larger than `block_size`, except that the first
    /// entry of a block is always accepted, however large: otherwise an oversized entry could
    /// never be stored at all.
    ///
    /// # Panics
    /// When `key` is empty, longer than [`super::MAX_KEY_LEN`], or not greater than the previous
    /// key: the engine checks all three before it gets here, so they are bugs in the caller.
    pub fn add(&mut self, key: &[u8], value: Option<&[u8]>) -> bool {
        todo!(
            "day 1: BlockBuilder::add — refuse the entry if it would push the estimated size past block_size, unless the block is empty (until day 7, store overlap 0 and the whole key)"
        )
    }
    // ANCHOR_END: d7-block_builder-add
    // ANCHOR_END: block_builder-add

    /// Whether no entry has been added yet.
    pub fn is_empty(&self) -> bool {
        self.offsets.is_empty()
    }

    /// The size of the block if it were built now, in bytes.
    pub fn estimated_size(&self) -> usize {
        self.data.len() + self.offsets.len() * OFFSET_SIZE + COUNT_SIZE
    }

    // ANCHOR: block_builder-build
    /// Finishes the block.
    ///
    /// # Panics
    /// When no entry was added: an empty block is never written.
    pub fn build(self) -> Block {
        todo!("day 1: BlockBuilder::build — move the entry bytes and offsets into a Block")
    }
    // ANCHOR_END: block_builder-build
}
