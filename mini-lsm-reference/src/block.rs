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
        // BEGIN SOLUTION day 1: Block::encode — the entry bytes, then every offset as a u32, then the count as a u32 (all little-endian)
        let mut buf = Vec::with_capacity(self.encoded_len());
        buf.extend_from_slice(&self.data);
        for &offset in &self.offsets {
            buf.put_u32_le(offset);
        }
        buf.put_u32_le(self.offsets.len() as u32);
        buf.into()
        // END SOLUTION
    }
    // ANCHOR_END: block-encode

    // ANCHOR: block-decode
    /// Parses bytes produced by [`Block::encode`], checking every length and offset so that a
    /// truncated or damaged block is an [`Error::Corruption`] (with the byte offset inside the
    /// block), never a panic.
    pub fn decode(raw: Bytes) -> Result<Block> {
        // BEGIN SOLUTION day 1: Block::decode — read the count from the end, then the offsets, then check that every entry lies inside the data
        let count = Self::read_count(&raw)?;
        let count_at = raw.len() - COUNT_SIZE;
        let offsets_len = count
            .checked_mul(OFFSET_SIZE)
            .filter(|&len| len <= count_at)
            .ok_or_else(|| {
                Error::corruption(
                    count_at as u64,
                    format!("block entry count {count} needs more bytes than the block has"),
                )
            })?;
        let data_len = count_at - offsets_len;
        // The length check above covers the whole offset array, so it is read without further
        // checks, four bytes at a time.
        let offsets = raw[data_len..count_at]
            .chunks_exact(OFFSET_SIZE)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let block = Block {
            data: raw.slice(..data_len),
            offsets,
        };
        block.validate_entries()?;
        Ok(block)
        // END SOLUTION
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

    // BEGIN SOLUTION HELPERS
    /// The layout of entry `index`. REQUIRES `index < self.len()`.
    ///
    /// Both ways of making a block ([`BlockBuilder::build`] and [`Block::decode`]) guarantee
    /// well-formed entries, so parsing one again cannot fail.
    #[inline]
    pub(crate) fn entry(&self, index: usize) -> EntryLayout {
        Self::parse_entry(&self.data, self.offsets[index] as usize)
            .expect("block entries are validated when the block is built or decoded")
    }

    /// The block's first key (stored whole: its overlap is 0).
    ///
    /// Every step of a block iterator needs it to rebuild a key, so it reads the first entry's
    /// `rest_len` straight from its header instead of parsing the whole entry. (Both ways of
    /// making a block check that entry 0 exists and starts at byte 0.)
    #[inline]
    pub(crate) fn first_key(&self) -> &[u8] {
        const REST_LEN_AT: usize = 3; // after kind (u8) and overlap (u16)
        let rest_len =
            u16::from_le_bytes([self.data[REST_LEN_AT], self.data[REST_LEN_AT + 1]]) as usize;
        let rest_start = REST_LEN_AT + 2;
        &self.data[rest_start..rest_start + rest_len]
    }

    /// How the key of entry `index` compares with `key`, without rebuilding the entry's key.
    ///
    /// The entry's key is `first_key()[..overlap]` followed by its own rest, so comparing the
    /// two pieces in turn gives the same answer as comparing the whole key. A seek compares
    /// about log2(len) keys and keeps only the last; building each one in a buffer first would
    /// copy bytes for nothing.
    ///
    /// It reads only the entry's key fields, not the whole entry (a seek's hottest loop): the
    /// entry was validated when the block was built or decoded.
    #[inline]
    pub(crate) fn compare_key(&self, index: usize, key: &[u8]) -> std::cmp::Ordering {
        // After kind (u8): overlap (u16), rest_len (u16), then the rest of the key.
        let at = self.offsets[index] as usize;
        let header = &self.data[at..at + 5];
        let overlap = u16::from_le_bytes([header[1], header[2]]) as usize;
        let rest_len = u16::from_le_bytes([header[3], header[4]]) as usize;
        let prefix = &self.first_key()[..overlap];
        let rest = &self.data[at + 5..at + 5 + rest_len];
        // `Equal` here means `key` starts with the whole prefix (a prefix longer than `key`
        // compares `Greater`), so the rest decides.
        prefix
            .cmp(&key[..prefix.len().min(key.len())])
            .then_with(|| rest.cmp(&key[prefix.len()..]))
    }

    /// Reads the entry count from the last four bytes and checks that it is at least 1.
    fn read_count(raw: &[u8]) -> Result<usize> {
        if raw.len() < COUNT_SIZE {
            return Err(Error::corruption(
                0,
                format!(
                    "block is {} bytes, too short for its entry count",
                    raw.len()
                ),
            ));
        }
        let count_at = raw.len() - COUNT_SIZE;
        let count = Reader::at(raw, count_at).u32("block entry count")? as usize;
        if count == 0 {
            return Err(Error::corruption(count_at as u64, "block has no entries"));
        }
        Ok(count)
    }

    /// Checks that the entries tile `data` exactly (the first starts at 0 and each one ends where
    /// the next begins) and that every key can be rebuilt from the first key.
    fn validate_entries(&self) -> Result<()> {
        if self.offsets.first() != Some(&0) {
            return Err(Error::corruption(0, "block offset 0 is not 0"));
        }
        let first = Self::parse_entry(&self.data, 0)?;
        if first.overlap != 0 {
            return Err(Error::corruption(
                0,
                "the first entry of a block must have overlap 0",
            ));
        }
        let first_key_len = first.rest_end - first.rest_start;
        for (i, &offset) in self.offsets.iter().enumerate() {
            let (expected_end, what_is_there) = match self.offsets.get(i + 1) {
                Some(&next) => (next as usize, "the next entry starts"),
                None => (self.data.len(), "the data area (before the offsets) ends"),
            };
            let layout = Self::parse_entry(&self.data, offset as usize)?;
            let key_len = layout.overlap + layout.rest_end - layout.rest_start;
            if layout.overlap > first_key_len || key_len == 0 || key_len > MAX_KEY_LEN {
                return Err(Error::corruption(
                    offset as u64,
                    format!(
                        "block entry {i}: overlap {} with a {first_key_len}-byte first key gives a {key_len}-byte key",
                        layout.overlap
                    ),
                ));
            }
            if layout.value_end != expected_end {
                return Err(Error::corruption(
                    offset as u64,
                    format!(
                        "block entry {i} ends at byte {}, but {what_is_there} at {expected_end}",
                        layout.value_end
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Parses the entry starting at `offset`, checking every field against the data length.
    /// Every search step runs this, so it is `#[inline]` and checks the fixed-size header
    /// (kind, overlap, rest_len: 5 bytes) with one length check rather than three.
    #[inline(always)]
    fn parse_entry(data: &[u8], offset: usize) -> Result<EntryLayout> {
        let mut reader = Reader::at(data, offset);
        let header = reader.bytes(5, "block entry header (kind, overlap, rest_len)")?;
        let kind = header[0];
        if kind != KIND_VALUE && kind != KIND_TOMBSTONE {
            return Err(Error::corruption(
                offset as u64,
                format!("block entry has unknown kind {kind}"),
            ));
        }
        let overlap = u16::from_le_bytes([header[1], header[2]]) as usize;
        let rest_len = u16::from_le_bytes([header[3], header[4]]) as usize;
        let rest_start = reader.position();
        reader.bytes(rest_len, "block entry key rest")?;
        let value_len = reader.u32("block entry value_len")? as usize;
        if kind == KIND_TOMBSTONE && value_len != 0 {
            return Err(Error::corruption(
                offset as u64,
                format!("block entry is a tombstone with a {value_len}-byte value"),
            ));
        }
        let value_start = reader.position();
        reader.bytes(value_len, "block entry value")?;
        Ok(EntryLayout {
            kind,
            overlap,
            rest_start,
            rest_end: rest_start + rest_len,
            value_start,
            value_end: reader.position(),
        })
    }
    // END SOLUTION
}
