//! Day 2 (SSTs): sorted string tables, the immutable files the tree is made of.
//!
//! # Format
//!
//! All integers are little-endian. An SST is its data blocks, each followed by its checksum, then
//! a meta section describing the blocks, then a fixed-size footer that locates the meta section:
//!
//! | field        | width           | meaning                                              |
//! |--------------|-----------------|------------------------------------------------------|
//! | block i      | `BlockMeta.len` | a block in the [`crate::block`] format               |
//! | block i crc  | `u32`           | CRC32 of block i                                     |
//! | …            |                 | one (block, crc) pair per block, at least one block  |
//! | meta         | `meta_len`      | the meta section, below                              |
//! | meta crc     | `u32`           | CRC32 of the meta section                            |
//! | bloom        | `bloom_len`     | day 7: the bloom filter ([`bloom`] format), if any   |
//! | bloom crc    | `u32`           | day 7: CRC32 of the bloom section, if any            |
//! | footer       | 32 bytes        | [`FOOTER_SIZE`]: the footer, below                   |
//!
//! Meta section: `num_blocks: u32`, then for each block `offset: u64`, `len: u32` (without its
//! crc), `first_key_len: u16`, `first_key`, `last_key_len: u16`, `last_key`.
//!
//! Footer: `meta_offset: u64`, `meta_len: u32`, `bloom_offset: u64` and `bloom_len: u32` (both 0
//! until day 7 adds bloom filters), `magic: u32` ([`SST_MAGIC`]), `footer_crc: u32` (CRC32 of the
//! 28 footer bytes before it).
//!
//! Every byte of the file is covered by a checksum, so a flipped bit is reported as
//! [`Error::Corruption`] with the file and offset, never read as data. Book:
//! `appendix-formats.md#sst`.

// TODO(you): remove these allows once you have finished day 7 in this file.
#![allow(
    unused_variables,
    unused_imports,
    unused_mut,
    dead_code,
    unreachable_code,
    clippy::ptr_arg
)]

pub mod bloom;
mod builder;
mod iterator;

pub use builder::SsTableBuilder;
pub use iterator::SsTableIterator;

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::{BufMut, Bytes};

use self::bloom::{Bloom, key_hash};
use crate::block::Block;
use crate::block_cache::BlockCache;
use crate::codec::{Reader, verify_crc32};
use crate::error::{Error, Result};

/// Size of the checksum after each block and after the meta section.
pub(crate) const CRC_SIZE: usize = 4;
/// Size of the fixed footer at the end of every SST.
pub const FOOTER_SIZE: usize = 8 // meta_offset
    + 4 // meta_len
    + 8 // bloom_offset
    + 4 // bloom_len
    + 4 // magic
    + 4; // footer_crc
/// The footer's magic number, "mLSM" read as a little-endian `u32`: tells an SST from a random
/// file before anything else is trusted.
pub const SST_MAGIC: u32 = u32::from_le_bytes(*b"mLSM");

// ANCHOR: table-block_meta
/// Where one block lies in the file and which keys it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockMeta {
    /// Byte offset of the block in the file.
    pub offset: u64,
    /// Length of the encoded block, not counting the checksum after it.
    pub len: u32,
    /// The smallest key in the block.
    pub first_key: Bytes,
    /// The largest key in the block.
    pub last_key: Bytes,
}
// ANCHOR_END: table-block_meta

impl BlockMeta {
    // ANCHOR: table-block_meta_encode_all
    /// Appends the meta section (the count, then every block's meta) to `buf`.
    pub fn encode_all(metas: &[BlockMeta], buf: &mut Vec<u8>) {
        todo!(
            "day 2: BlockMeta::encode_all — num_blocks as u32, then offset u64, len u32, and both keys with a u16 length prefix"
        )
    }
    // ANCHOR_END: table-block_meta_encode_all

    // ANCHOR: table-block_meta_decode_all
    /// Parses a meta section written by [`BlockMeta::encode_all`]; errors carry the offset within
    /// `raw`.
    pub fn decode_all(raw: &[u8]) -> Result<Vec<BlockMeta>> {
        todo!(
            "day 2: BlockMeta::decode_all — read fields back with codec::Reader, which turns a short buffer into Corruption"
        )
    }
    // ANCHOR_END: table-block_meta_decode_all
}

/// The footer's fields (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Footer {
    pub(crate) meta_offset: u64,
    pub(crate) meta_len: u32,
    pub(crate) bloom_offset: u64,
    pub(crate) bloom_len: u32,
}

impl Footer {
    pub(crate) fn encode(&self, buf: &mut Vec<u8>) {
        let start = buf.len();
        buf.put_u64_le(self.meta_offset);
        buf.put_u32_le(self.meta_len);
        buf.put_u64_le(self.bloom_offset);
        buf.put_u32_le(self.bloom_len);
        buf.put_u32_le(SST_MAGIC);
        let crc = crc32fast::hash(&buf[start..]);
        buf.put_u32_le(crc);
    }

    // ANCHOR: table-footer_decode
    /// Parses the last [`FOOTER_SIZE`] bytes of an SST; offsets in errors are within `raw`.
    pub(crate) fn decode(raw: &[u8]) -> Result<Footer> {
        let mut reader = Reader::new(raw);
        let footer = Footer {
            meta_offset: reader.u64("footer meta_offset")?,
            meta_len: reader.u32("footer meta_len")?,
            bloom_offset: reader.u64("footer bloom_offset")?,
            bloom_len: reader.u32("footer bloom_len")?,
        };
        let magic_at = reader.position();
        let magic = reader.u32("footer magic")?;
        let crc = reader.u32("footer crc")?;
        verify_crc32(&raw[..magic_at + 4], crc, 0, "footer")?;
        if magic != SST_MAGIC {
            return Err(Error::corruption(
                magic_at as u64,
                "not an SST (bad magic number)",
            ));
        }
        Ok(footer)
    }
    // ANCHOR_END: table-footer_decode
}

/// A file opened for positional reads. Reads take `&self` (`pread`), so many readers share one
/// file without a lock.
#[derive(Debug)]
pub struct FileObject {
    file: File,
    path: PathBuf,
    size: u64,
}

impl FileObject {
    // ANCHOR: table-file_object_create
    /// Writes `data` to a new file at `path` and makes it durable (`fsync`) before returning.
    /// Create the file with [`crate::fs::create_file`] and sync it with [`crate::fs::sync_file`]
    /// rather than `File::options` and `File::sync_all`: the course's power-loss tests watch
    /// every sync through `fs`, and its failpoints crash the engine there (right after an SST
    /// is created, or just before its `fsync`).
    pub fn create(path: &Path, data: &[u8]) -> Result<Self> {
        todo!(
            "day 2: FileObject::create — write all of data to a new file, sync it, and keep it open for reads"
        )
    }
    // ANCHOR_END: table-file_object_create

    // ANCHOR: table-file_object_open
    /// Opens an existing file for reading.
    pub fn open(path: &Path) -> Result<Self> {
        todo!("day 2: FileObject::open — open read-only and remember the file's size")
    }
    // ANCHOR_END: table-file_object_open

    // ANCHOR: table-file_object_read
    /// Reads `len` bytes at `offset`. A range past the end of the file is [`Error::Corruption`]:
    /// the caller got it from the file's own metadata, which must have been damaged.
    pub fn read(&self, offset: u64, len: u64) -> Result<Vec<u8>> {
        todo!("day 2: FileObject::read — check the range against the size, then read_exact_at")
    }
    // ANCHOR_END: table-file_object_read

    /// The file's size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

// ANCHOR: table-sst_struct
/// An open SST: its block index in memory, its blocks on disk (and in the block cache).
#[derive(Debug)]
pub struct SsTable {
    file: FileObject,
    id: usize,
    block_meta: Vec<BlockMeta>,
    /// Where the meta section starts: also the end of the data blocks.
    block_meta_offset: u64,
    first_key: Bytes,
    last_key: Bytes,
    block_cache: Option<Arc<BlockCache>>,
    /// The SST's bloom filter (day 7), `None` if it was built without one.
    bloom: Option<Bloom>,
}
// ANCHOR_END: table-sst_struct

impl SsTable {
    // ANCHOR: table-sst_open
    /// Opens the SST in `file`: reads and checks the footer and the meta section. Data blocks are
    /// read later, on demand.
    pub fn open(id: usize, block_cache: Option<Arc<BlockCache>>, file: FileObject) -> Result<Self> {
        todo!(
            "day 2: SsTable::open — read the footer from the end, verify it, then read, verify and decode the meta section"
        )
    }
    // ANCHOR_END: table-sst_open

    // ANCHOR: d7-table-read_bloom
    /// Reads the bloom section the footer points to, if there is one (day 7). A section whose
    /// checksum fails is [`Error::Corruption`] at the section's start (`bloom_offset`); one with
    /// a right checksum that [`Bloom::decode`] rejects, at the bad byte's position in the file
    /// (`bloom_offset` plus the position within the section).
    fn read_bloom(file: &FileObject, footer: &Footer) -> Result<Option<Bloom>> {
        if footer.bloom_len == 0 {
            return Ok(None);
        }
        todo!(
            "day 7: SsTable::read_bloom — check the section lies between the meta section and the footer, read it with its crc, verify, decode"
        )
    }
    // ANCHOR_END: d7-table-read_bloom

    // ANCHOR: table-read_block
    /// Reads block `block_idx` from disk, checking its checksum. Does not use the block cache.
    pub fn read_block(&self, block_idx: usize) -> Result<Arc<Block>> {
        todo!(
            "day 2: SsTable::read_block — read len + 4 bytes at the block's offset, verify the crc, decode the rest"
        )
    }
    // ANCHOR_END: table-read_block

    /// Reads block `block_idx` through the block cache when the table has one, otherwise from
    /// disk. Every read of a data block on the engine's read path goes through here.
    pub fn read_block_cached(&self, block_idx: usize) -> Result<Arc<Block>> {
        match &self.block_cache {
            Some(cache) => cache.get_or_load(self.id, block_idx, || self.read_block(block_idx)),
            None => self.read_block(block_idx),
        }
    }

    // ANCHOR: d7-table-may_contain
    /// Whether `key` may be in the table: `false` only when the bloom filter (day 7) rules it
    /// out. Always `true` for a table without a filter.
    pub fn may_contain(&self, key: &[u8]) -> bool {
        self.bloom
            .as_ref()
            .is_none_or(|bloom| bloom.may_contain(key_hash(key)))
    }
    // ANCHOR_END: d7-table-may_contain

    /// The table's bloom filter, if it has one.
    pub fn bloom(&self) -> Option<&Bloom> {
        self.bloom.as_ref()
    }

    // ANCHOR: table-find_block_idx
    /// The index of the first block whose last key is `>= key`: the only block that can hold
    /// the first entry at or after `key`. Returns [`SsTable::num_blocks`] when every key in the
    /// table is smaller than `key`.
    pub fn find_block_idx(&self, key: &[u8]) -> usize {
        todo!(
            "day 2: SsTable::find_block_idx — binary search on the blocks' last keys (partition_point)"
        )
    }
    // ANCHOR_END: table-find_block_idx

    /// Number of data blocks.
    pub fn num_blocks(&self) -> usize {
        self.block_meta.len()
    }

    /// The meta of every block, in order.
    pub fn block_meta(&self) -> &[BlockMeta] {
        &self.block_meta
    }

    /// The smallest key in the table.
    pub fn first_key(&self) -> &Bytes {
        &self.first_key
    }

    /// The largest key in the table.
    pub fn last_key(&self) -> &Bytes {
        &self.last_key
    }

    /// The table's id, unique within an engine and never reused.
    pub fn id(&self) -> usize {
        self.id
    }

    /// Size of the file in bytes.
    pub fn table_size(&self) -> u64 {
        self.file.size()
    }

    /// Where the data blocks end and the meta section begins.
    pub fn block_meta_offset(&self) -> u64 {
        self.block_meta_offset
    }

    /// The path of the file.
    pub fn path(&self) -> &Path {
        self.file.path()
    }
}
