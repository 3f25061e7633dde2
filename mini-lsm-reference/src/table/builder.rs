//! Day 2 (SSTs): [`SsTableBuilder`] cuts sorted entries into blocks and writes the file.

use std::path::Path;
use std::sync::Arc;

use bytes::{BufMut, Bytes};

use super::bloom::{Bloom, key_hash};
use super::{BlockMeta, FileObject, Footer, SsTable};
use crate::block::BlockBuilder;
use crate::block_cache::BlockCache;
use crate::error::{Error, Result};

// ANCHOR: table_builder-struct
/// Builds an SST from entries added in strictly increasing key order.
#[derive(Debug)]
pub struct SsTableBuilder {
    /// The block being filled.
    builder: BlockBuilder,
    /// First and last key of the block being filled.
    first_key: Vec<u8>,
    last_key: Vec<u8>,
    /// Finished blocks, each followed by its checksum.
    data: Vec<u8>,
    /// One meta per finished block.
    meta: Vec<BlockMeta>,
    block_size: usize,
    /// Bits per key of the bloom filter to build (day 7); 0 for none.
    bloom_bits_per_key: usize,
    /// The [`key_hash`] of every key added, for the bloom filter.
    key_hashes: Vec<u64>,
    /// Whether keys are versioned (day 8): the filter then covers their user-key parts.
    versioned_keys: bool,
}
// ANCHOR_END: table_builder-struct

impl SsTableBuilder {
    /// A builder whose blocks hold about `block_size` bytes each.
    pub fn new(block_size: usize) -> Self {
        SsTableBuilder {
            builder: BlockBuilder::new(block_size),
            first_key: Vec::new(),
            last_key: Vec::new(),
            data: Vec::new(),
            meta: Vec::new(),
            block_size,
            bloom_bits_per_key: 0,
            key_hashes: Vec::new(),
            versioned_keys: false,
        }
    }

    /// Makes the bloom filter cover the user-key part of each key (see
    /// [`crate::mvcc::user_key_part`]) rather than the whole key: with versioned keys (day 8) a
    /// read probes for a user key, not for one of its versions.
    pub fn with_versioned_keys(mut self, versioned: bool) -> Self {
        self.versioned_keys = versioned;
        self
    }

    /// Makes the SST carry a bloom filter with `bits_per_key` bits per key (day 7); 0 means none.
    pub fn with_bloom_filter(mut self, bits_per_key: usize) -> Self {
        self.bloom_bits_per_key = bits_per_key;
        self
    }

    // ANCHOR: table_builder-add
    // ANCHOR: d7-table_builder-add
    /// Adds an entry (`None` for a tombstone). When the current block is full it is finished and a
    /// new block is started with this entry.
    pub fn add(&mut self, key: &[u8], value: Option<&[u8]>) {
        // BEGIN SOLUTION day 2: SsTableBuilder::add — when the block builder refuses the entry, finish that block and add the entry to a fresh one
        if !self.builder.add(key, value) {
            self.finish_block();
            let accepted = self.builder.add(key, value);
            debug_assert!(accepted, "an empty block accepts any entry");
        }
        if self.first_key.is_empty() {
            self.first_key.extend_from_slice(key);
        }
        self.last_key.clear();
        self.last_key.extend_from_slice(key);
        // END SOLUTION
        if self.bloom_bits_per_key > 0 {
            // The part of the key a read probes the filter with (given; all of it before day 8).
            let key = match self.versioned_keys {
                true => crate::mvcc::user_key_part(key).unwrap_or(key),
                false => key,
            };
            // BEGIN SOLUTION day 7: SsTableBuilder::add — remember the key's hash for the bloom filter
            self.key_hashes.push(key_hash(key));
            // END SOLUTION
        }
    }
    // ANCHOR_END: d7-table_builder-add
    // ANCHOR_END: table_builder-add

    // BEGIN SOLUTION HELPERS
    /// Encodes the current block with its checksum into `data` and records its meta.
    fn finish_block(&mut self) {
        let builder = std::mem::replace(&mut self.builder, BlockBuilder::new(self.block_size));
        if builder.is_empty() {
            return;
        }
        let encoded = builder.build().encode();
        self.meta.push(BlockMeta {
            offset: self.data.len() as u64,
            len: encoded.len() as u32,
            first_key: Bytes::copy_from_slice(&self.first_key),
            last_key: Bytes::copy_from_slice(&self.last_key),
        });
        self.data.put_slice(&encoded);
        self.data.put_u32_le(crc32fast::hash(&encoded));
        self.first_key.clear();
        self.last_key.clear();
    }
    // END SOLUTION

    // ANCHOR: d7-table_builder-append_bloom
    /// Appends the bloom section and its crc when the builder makes a filter (day 7); returns its
    /// offset and length (both 0 without a filter).
    fn append_bloom(&self, buf: &mut Vec<u8>) -> Result<(u64, u32)> {
        if self.bloom_bits_per_key == 0 {
            return Ok((0, 0));
        }
        // BEGIN SOLUTION day 7: SsTableBuilder::append_bloom — build the filter from the key hashes, append it and its crc
        let offset = buf.len();
        Bloom::build(&self.key_hashes, self.bloom_bits_per_key).encode(buf);
        let crc = crc32fast::hash(&buf[offset..]);
        let len = buf.len() - offset;
        buf.put_u32_le(crc);
        let len = u32::try_from(len)
            .map_err(|_| Error::InvalidArgument(format!("bloom filter of {len} bytes")))?;
        Ok((offset as u64, len))
        // END SOLUTION
    }
    // ANCHOR_END: d7-table_builder-append_bloom

    /// Whether no entry has been added.
    pub fn is_empty(&self) -> bool {
        self.meta.is_empty() && self.builder.is_empty()
    }

    /// About how large the file would be if built now; used to cut compaction output into SSTs
    /// of the target size.
    pub fn estimated_size(&self) -> usize {
        self.data.len() + self.builder.estimated_size()
    }

    // ANCHOR: table_builder-build
    /// Writes the SST to `path` (durably) and opens it with id `id`.
    ///
    /// An SST always has at least one entry: building an empty one is
    /// [`Error::InvalidArgument`].
    pub fn build(
        mut self,
        id: usize,
        block_cache: Option<Arc<BlockCache>>,
        path: &Path,
    ) -> Result<SsTable> {
        // BEGIN SOLUTION day 2: SsTableBuilder::build — finish the last block, append meta + crc and the footer, write the file, open it
        if self.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "SST {id} would have no entries"
            )));
        }
        self.finish_block();
        let mut buf = std::mem::take(&mut self.data);
        let meta_offset = buf.len() as u64;
        BlockMeta::encode_all(&self.meta, &mut buf);
        let meta_len = buf.len() as u64 - meta_offset;
        let meta_crc = crc32fast::hash(&buf[meta_offset as usize..]);
        buf.put_u32_le(meta_crc);
        let (bloom_offset, bloom_len) = self.append_bloom(&mut buf)?;
        let footer = Footer {
            meta_offset,
            meta_len: u32::try_from(meta_len).map_err(|_| {
                Error::InvalidArgument(format!("SST {id}: meta section of {meta_len} bytes"))
            })?,
            bloom_offset,
            bloom_len,
        };
        footer.encode(&mut buf);
        let file = FileObject::create(path, &buf)?;
        SsTable::open(id, block_cache, file)
        // END SOLUTION
    }
    // ANCHOR_END: table_builder-build
}
