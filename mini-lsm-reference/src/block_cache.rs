//! Day 4 (engine): the block cache, shared by every SST of an engine.
//!
//! A `get` reads one block from one SST; hot blocks are read again and again, so the engine keeps
//! recently used decoded blocks in memory. The cache is [moka](https://docs.rs/moka)'s concurrent
//! cache, bounded by the blocks' encoded size in bytes (not by their count, since blocks differ
//! in size), and keyed by `(SST id, block index)`: SST ids are never reused, so a key never names
//! two different blocks.

use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::block::Block;
use crate::error::Result;

/// Decoded blocks by `(SST id, block index)`, with hit and miss counters.
pub struct BlockCache {
    cache: moka::sync::Cache<(usize, usize), Arc<Block>, BuildHasherDefault<BlockKeyHasher>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl std::fmt::Debug for BlockCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockCache")
            .field("weighted_bytes", &self.cache.weighted_size())
            .field("hits", &self.hits())
            .field("misses", &self.misses())
            .finish()
    }
}

impl BlockCache {
    /// A cache holding at most about `capacity_bytes` of encoded blocks.
    pub fn new(capacity_bytes: u64) -> Self {
        let cache = moka::sync::Cache::builder()
            .max_capacity(capacity_bytes)
            // Weigh each block by its size so the capacity is in bytes; a block larger than
            // u32::MAX bytes cannot exist (entries are limited far below that).
            .weigher(|_key: &(usize, usize), block: &Arc<Block>| {
                u32::try_from(block.encoded_len()).unwrap_or(u32::MAX)
            })
            .build_with_hasher(BuildHasherDefault::default());
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
        // BEGIN SOLUTION day 4: BlockCache::get_or_load — look the key up; on a miss call load, insert its block, and count hits and misses
        let key = (sst_id, block_idx);
        if let Some(block) = self.cache.get(&key) {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(block);
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        // Two readers missing the same block at once may both load it; that costs one extra
        // read and is simpler than making one wait for the other.
        let block = load()?;
        self.cache.insert(key, Arc::clone(&block));
        Ok(block)
        // END SOLUTION
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

/// Hashes a cache key, two small integers, for moka's hash table.
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
