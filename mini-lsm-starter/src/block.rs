//! Day 1 (blocks): the unit of reading and caching. An SST is a sequence of blocks; a `get`
//! reads one block, never the whole file.
//!
//! # Format
//!
//! All integers are little-endian. A block is its entries, then one offset per entry, then the
//! number of entries:
//!
//! | field               | width          | meaning                                          |
//! |---------------------|----------------|--------------------------------------------------|
//! | entry 0 … entry n-1 | variable       | the entries, in strictly increasing key order    |
//! | offset 0 … n-1      | `u32` each     | byte position of each entry from the block start |
//! | n                   | `u32`          | number of entries, at least 1                    |
//!
//! Each entry:
//!
//! | field       | width       | meaning                                                    |
//! |-------------|-------------|------------------------------------------------------------|
//! | kind        | `u8`        | [`KIND_VALUE`] or [`KIND_TOMBSTONE`]                       |
//! | overlap     | `u16`       | how many leading bytes the key shares with the block's first key |
//! | rest_len    | `u16`       | length of the rest of the key                              |
//! | rest        | rest_len    | the key bytes after the shared prefix                      |
//! | value_len   | `u32`       | length of the value, 0 for a tombstone                     |
//! | value       | value_len   | the value bytes                                            |
//!
//! The key is `first_key[..overlap]` followed by `rest` (key prefix compression, day 7). Keys
//! in a block are sorted, so neighbours often share long prefixes (`user:00017:name`,
//! `user:00017:email`, …) and storing the shared part once shrinks blocks a lot. Sharing with the
//! *first* key (rather than the previous one) keeps every key rebuildable on its own, so seeks
//! can still binary-search the entries. Until day 7, write `overlap = 0` and the whole key as
//! `rest`: that is a valid block too, just a larger one.
//!
//! Invariants: offset 0 is 0; every entry ends exactly where the next one starts, and the last
//! one where the offset array starts; the first entry has `overlap == 0` (it *is* the first
//! key), and no entry's overlap exceeds the first key's length; every key has 1 ..=
//! [`MAX_KEY_LEN`] bytes. [`Block::decode`] checks all of them, so an iterator over a decoded
//! block can never read outside it. Book: `appendix-formats.md#block`.

// TODO(you): remove these allows once you have finished day 1 in this file.
#![allow(
    unused_variables,
    unused_imports,
    unused_mut,
    dead_code,
    unreachable_code,
    clippy::ptr_arg
)]

mod builder;
mod iterator;

pub use builder::BlockBuilder;
pub use iterator::BlockIterator;

use bytes::{BufMut, Bytes};

use crate::codec::Reader;
use crate::error::{Error, Result};

/// The longest key the engine accepts: key lengths are stored as `u16`.
pub const MAX_KEY_LEN: usize = u16::MAX as usize;
/// The longest value the engine accepts (16 MiB). Lengths are stored as `u32`; the lower limit
/// keeps one entry well inside what a block, a WAL record and the block cache handle comfortably.
pub const MAX_VALUE_LEN: usize = 16 << 20;

/// Entry kind byte of a key with a value.
pub const KIND_VALUE: u8 = 0;
/// Entry kind byte of a deleted key (a tombstone, which has no value bytes).
pub const KIND_TOMBSTONE: u8 = 1;

/// Size of one entry offset in the offset array.
pub(crate) const OFFSET_SIZE: usize = 4;
/// Size of the entry count at the end of the block.
pub(crate) const COUNT_SIZE: usize = 4;
/// Bytes an entry needs besides its key and value.
pub(crate) const ENTRY_OVERHEAD: usize = 1 // kind
    + 2 // overlap
    + 2 // rest_len
    + 4; // value_len

// ANCHOR: block-struct
/// A decoded block: the entry bytes and where each entry starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// The entries, back to back (the offset array and count are not included).
    pub(crate) data: Bytes,
    /// The byte position of each entry within `data`.
    pub(crate) offsets: Vec<u32>,
}
// ANCHOR_END: block-struct

// ANCHOR: block-entry_layout
/// Where the parts of one entry lie inside [`Block::data`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct EntryLayout {
    pub(crate) kind: u8,
    /// Bytes of the key shared with the block's first key.
    pub(crate) overlap: usize,
    /// Where the rest of the key lies.
    pub(crate) rest_start: usize,
    pub(crate) rest_end: usize,
    pub(crate) value_start: usize,
    pub(crate) value_end: usize,
}
// ANCHOR_END: block-entry_layout

impl Block {
    // ANCHOR: block-encode
    /// Serialises the block into the format in the module documentation.
    pub fn encode(&self) -> Bytes {
        todo!(
            "day 1: Block::encode — the entry bytes, then every offset as a u32, then the count as a u32 (all little-endian)"
        )
    }
    // ANCHOR_END: block-encode

    // ANCHOR: block-decode
    /// Parses bytes produced by [`Block::encode`], checking every length and offset so that a
    /// truncated or damaged block is an [`Error::Corruption`] (with the byte offset inside the
    /// block), never a panic.
    pub fn decode(raw: Bytes) -> Result<Block> {
        todo!(
            "day 1: Block::decode — read the count from the end, then the offsets, then check that every entry lies inside the data"
        )
    }
    // ANCHOR_END: block-decode

    /// Number of entries in the block.
    pub fn len(&self) -> usize {
        self.offsets.len()
    }

    /// Whether the block has no entries (a decoded block never is).
    pub fn is_empty(&self) -> bool {
        self.offsets.is_empty()
    }

    /// Size of the encoded block in bytes; the block cache weighs blocks by it.
    pub fn encoded_len(&self) -> usize {
        self.data.len() + self.offsets.len() * OFFSET_SIZE + COUNT_SIZE
    }
}
