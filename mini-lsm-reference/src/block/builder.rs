//! Day 1 (blocks): [`BlockBuilder`] collects sorted entries into one block.

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
        // BEGIN SOLUTION day 1: BlockBuilder::add — refuse the entry if it would push the estimated size past block_size, unless the block is empty (until day 7, store overlap 0 and the whole key)
        assert!(!key.is_empty(), "BlockBuilder::add: keys must be non-empty");
        assert!(
            key.len() <= super::MAX_KEY_LEN,
            "BlockBuilder::add: key longer than MAX_KEY_LEN"
        );
        assert!(
            self.is_empty() || key > &self.last_key[..],
            "BlockBuilder::add: keys must be added in strictly increasing order"
        );
        // LATER DAY 7: store only what follows the prefix shared with the first key
        // (The first entry shares nothing with itself: `first_key` is still empty then.)
        let overlap = shared_prefix_len(&self.first_key, key);
        // BEFORE DAY 7: every key is stored whole
        // let overlap = 0;
        // END DAY 7
        let rest = &key[overlap..];
        let value_bytes = value.unwrap_or_default();
        let entry_size = ENTRY_OVERHEAD + rest.len() + value_bytes.len();
        if !self.is_empty() && self.estimated_size() + entry_size + OFFSET_SIZE > self.block_size {
            return false;
        }
        self.offsets.push(self.data.len() as u32);
        self.data.put_u8(if value.is_some() {
            KIND_VALUE
        } else {
            KIND_TOMBSTONE
        });
        self.data.put_u16_le(overlap as u16);
        self.data.put_u16_le(rest.len() as u16);
        self.data.put_slice(rest);
        self.data.put_u32_le(value_bytes.len() as u32);
        self.data.put_slice(value_bytes);
        if self.first_key.is_empty() {
            self.first_key.extend_from_slice(key);
        }
        self.last_key.clear();
        self.last_key.extend_from_slice(key);
        true
        // END SOLUTION
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
        // BEGIN SOLUTION day 1: BlockBuilder::build — move the entry bytes and offsets into a Block
        assert!(
            !self.is_empty(),
            "BlockBuilder::build: a block needs at least one entry"
        );
        Block {
            data: self.data.into(),
            offsets: self.offsets,
        }
        // END SOLUTION
    }
    // ANCHOR_END: block_builder-build
}

// BEGIN SOLUTION HELPERS
/// How many leading bytes `a` and `b` have in common (at most `u16::MAX`, the widest overlap the
/// format can store; keys are never longer anyway).
fn shared_prefix_len(a: &[u8], b: &[u8]) -> usize {
    a.iter()
        .zip(b)
        .take_while(|(x, y)| x == y)
        .count()
        .min(u16::MAX as usize)
}
// END SOLUTION
