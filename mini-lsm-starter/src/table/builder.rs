//! Day 2 (SSTs): [`SsTableBuilder`] cuts sorted entries into blocks and writes the file.

// TODO(you): remove these allows once you have finished day 7 in this file.
#![allow(
    unused_variables,
    unused_imports,
    unused_mut,
    dead_code,
    unreachable_code,
    clippy::ptr_arg
)]

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
        todo!(
            "day 2: SsTableBuilder::add — when the block builder refuses the entry, finish that block and add the entry to a fresh one"
        );
        if self.bloom_bits_per_key > 0 {
            // The part of the key a read probes the filter with (given; all of it before day 8).
            let key = match self.versioned_keys {
                true => crate::mvcc::user_key_part(key).unwrap_or(key),
                false => key,
            };
            todo!("day 7: SsTableBuilder::add — remember the key's hash for the bloom filter")
        }
    }
    // ANCHOR_END: d7-table_builder-add
    // ANCHOR_END: table_builder-add

    // ANCHOR: d7-table_builder-append_bloom
    /// Appends the bloom section and its crc when the builder makes a filter (day 7); returns its
    /// offset and length (both 0 without a filter).
    fn append_bloom(&self, buf: &mut Vec<u8>) -> Result<(u64, u32)> {
        if self.bloom_bits_per_key == 0 {
            return Ok((0, 0));
        }
        todo!(
            "day 7: SsTableBuilder::append_bloom — build the filter from the key hashes, append it and its crc"
        )
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
        todo!(
            "day 2: SsTableBuilder::build — finish the last block, append meta + crc and the footer, write the file, open it"
        )
    }
    // ANCHOR_END: table_builder-build
}
