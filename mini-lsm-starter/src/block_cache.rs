//! Day 4 (engine): the block cache, shared by every SST of an engine.
//!
//! A `get` reads one block from one SST; hot blocks are read again and again, so the engine keeps
//! recently used decoded blocks in memory. The cache is [quick_cache](https://docs.rs/quick_cache)'s
//! concurrent cache, bounded by the blocks' encoded size in bytes (not by their count, since
//! blocks differ in size), and keyed by `(SST id, block index)`: SST ids are never reused, so a
//! key never names two different blocks.
//!
//! Why quick_cache: every `get` of the engine looks a block up here, from many threads at once,
//! so a lookup must cost little and never wait. quick_cache splits its entries over independent
//! shards (each behind its own lock, held for a hash lookup) and evicts with a CLOCK-like policy
//! whose bookkeeping on a hit is one counter in the entry: a hit does no other work. The course
//! first used moka, whose lookups also record each hit in a shared log that some later call
//! replays in a batch (its LRU and frequency bookkeeping): in a profile of random reads moka took
//! about a fifth of each `get`, and the batches landed in the read tail (see the Benchmarks page
//! of the book for the measurements).

// TODO(you): remove these allows once you have finished day 4 in this file.
#![allow(
    unused_variables,
    unused_imports,
    unused_mut,
    dead_code,
    unreachable_code,
    clippy::ptr_arg
)]

use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::block::Block;
use crate::error::Result;

/// The cache's type: blocks by `(SST id, block index)`, weighed by [`BlockWeighter`], hashed by
/// [`BlockKeyHasher`].
type Blocks = quick_cache::sync::Cache<
    (usize, usize),
    Arc<Block>,
    BlockWeighter,
    BuildHasherDefault<BlockKeyHasher>,
>;

/// Decoded blocks by `(SST id, block index)`, with hit and miss counters.
pub struct BlockCache {
    cache: Blocks,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl std::fmt::Debug for BlockCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockCache")
            .field("weighted_bytes", &self.cache.weight())
            .field("hits", &self.hits())
            .field("misses", &self.misses())
            .finish()
    }
}

/// Weighs each block by its encoded size, so that the capacity is in bytes.
#[derive(Debug, Clone, Copy)]
struct BlockWeighter;

impl quick_cache::Weighter<(usize, usize), Arc<Block>> for BlockWeighter {
    fn weight(&self, _key: &(usize, usize), block: &Arc<Block>) -> u64 {
        block.encoded_len() as u64
    }
}

/// The block size the cache expects on average, to size its tables (a guess is fine: they grow).
const TYPICAL_BLOCK_BYTES: u64 = 4096;

impl BlockCache {
    /// A cache holding at most about `capacity_bytes` of encoded blocks.
    pub fn new(capacity_bytes: u64) -> Self {
        let expected_blocks = (capacity_bytes / TYPICAL_BLOCK_BYTES).max(1) as usize;
        let cache = Blocks::with(
            expected_blocks,
            capacity_bytes,
            BlockWeighter,
            BuildHasherDefault::default(),
            Default::default(),
        );
        BlockCache {
            cache,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    // ANCHOR: block_cache-get_or_load
    /// The block `block_idx` of SST `sst_id`: from the cache when it is there (a hit), otherwise
    /// from `load`, whose result is then cached (a miss). A failed load caches nothing.
    pub fn get_or_load(
        &self,
        sst_id: usize,
        block_idx: usize,
        load: impl FnOnce() -> Result<Arc<Block>>,
    ) -> Result<Arc<Block>> {
        todo!(
            "day 4: BlockCache::get_or_load — look the key up; on a miss call load, insert its block, and count hits and misses"
        )
    }
    // ANCHOR_END: block_cache-get_or_load

    /// How many lookups found their block in the cache.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// How many lookups had to read their block from disk.
    pub fn misses(&self) -> u64 {
        self.misses.load(Ordering::Relaxed)
    }
}

/// Hashes a cache key, two small integers, for the cache's hash table.
///
/// The standard hasher (SipHash) is built to resist keys chosen by an attacker, and costs more
/// than the rest of a cache hit. Only the engine chooses SST ids and block indexes, so a cheap
/// hash is safe: the two integers are packed into one word (both are far below 2^32 in practice,
/// and a collision would only cost speed, never correctness) and scrambled by SplitMix64's
/// finaliser, as the bloom filter's `key_hash` does, so every bit of the result depends on
/// every bit of the key.
#[derive(Default)]
struct BlockKeyHasher {
    state: u64,
}

impl Hasher for BlockKeyHasher {
    fn write_usize(&mut self, n: usize) {
        self.state = self.state.rotate_left(32) ^ n as u64;
    }

    fn write(&mut self, bytes: &[u8]) {
        // Not used by `(usize, usize)` keys; correct for any other key all the same.
        for &byte in bytes {
            self.state = self.state.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn finish(&self) -> u64 {
        let mut hash = self.state;
        hash = (hash ^ (hash >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        hash = (hash ^ (hash >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        hash ^ (hash >> 31)
    }
}
