//! One adapter per engine behind the small [`Engine`] trait the workloads drive.

use std::path::Path;

use anyhow::{Result, bail};

mod fjall;
mod mini_lsm;
mod redb;
#[cfg(feature = "rocksdb")]
mod rocksdb;

/// The engine options of the command line, applied to every engine that has a matching knob.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Target size of a data block in bytes.
    pub block_size: usize,
    /// Target size of an SST in bytes (LSM engines).
    pub sst_size: usize,
    /// Memtable (write buffer) size in bytes (LSM engines).
    pub memtable_size: usize,
    /// Block / page cache capacity in bytes.
    pub cache_size: usize,
    /// Bloom filter bits per key, 0 for none (LSM engines).
    pub bloom_bits: usize,
    /// Whether background compaction runs (LSM engines).
    pub compaction: bool,
    /// Whether mini-lsm keeps versioned keys (Part 2, day 8: `LsmOptions::mvcc`); the other
    /// engines always keep their own sequence numbers.
    pub mvcc: bool,
}

/// What a workload needs from an engine. Every method may be called from several threads.
pub trait Engine: Send + Sync {
    /// Sets `key` to `value`, without an fsync.
    fn put(&self, key: &[u8], value: &[u8]) -> Result<()>;
    /// The length of `key`'s value, `None` if it does not exist (the value is read, not copied
    /// more than the engine's API requires).
    fn get(&self, key: &[u8]) -> Result<Option<usize>>;
    /// Deletes `key`, without an fsync.
    fn delete(&self, key: &[u8]) -> Result<()>;
    /// Visits up to `n` entries with keys `>= start` in key order; returns how many it visited.
    fn scan_from(
        &self,
        start: &[u8],
        n: usize,
        visit: &mut dyn FnMut(&[u8], &[u8]),
    ) -> Result<usize>;
    /// Makes every earlier write durable (an fsync): `--sync-every` and the end of a write
    /// workload.
    fn sync(&self) -> Result<()>;
    /// Bytes the engine itself reports having written to its data files since it was opened, if
    /// it keeps such a counter (the reference's `stats()`: SSTs flushed + compacted, no WAL).
    fn engine_bytes_written(&self) -> Option<u64> {
        None
    }
    /// Block cache lookups so far as `(hits, misses)`, if the engine counts them (the
    /// reference does): a read workload's note shows its hit rate.
    fn block_cache_lookups(&self) -> Option<(u64, u64)> {
        None
    }
    /// Flushes everything and runs compaction until the engine has nothing left to do, then
    /// describes the tree and what flushes and compactions wrote; `None` for an engine without
    /// such hooks. Called once, after the last workload.
    fn settle(&self, _logical_bytes_written: u64) -> Result<Option<String>> {
        Ok(None)
    }
    /// Stops background work and releases the directory.
    fn close(self: Box<Self>) -> Result<()>;
}

/// The engines this build knows, in the order of `--engines`' default.
pub fn available() -> Vec<&'static str> {
    let mut names = vec!["mini-lsm", "fjall", "redb"];
    if cfg!(feature = "rocksdb") {
        names.push("rocksdb");
    }
    names
}

/// Opens engine `name` in the (empty or existing) directory `dir`.
pub fn open(name: &str, dir: &Path, config: &EngineConfig) -> Result<Box<dyn Engine>> {
    std::fs::create_dir_all(dir)?;
    Ok(match name {
        "mini-lsm" => Box::new(mini_lsm::MiniLsmEngine::open(dir, config)?),
        "fjall" => Box::new(fjall::FjallEngine::open(dir, config)?),
        "redb" => Box::new(redb::RedbEngine::open(dir, config)?),
        #[cfg(feature = "rocksdb")]
        "rocksdb" => Box::new(rocksdb::RocksDbEngine::open(dir, config)?),
        #[cfg(not(feature = "rocksdb"))]
        "rocksdb" => bail!("rocksdb: rebuild with `--features rocksdb` (see README.md)"),
        other => bail!(
            "unknown engine {other:?}; known: {}",
            available().join(", ")
        ),
    })
}

/// How engine `name` is configured from `config`, for the report.
pub fn describe(name: &str, config: &EngineConfig) -> String {
    let kib = |bytes: usize| format!("{} KiB", bytes >> 10);
    let mib = |bytes: usize| format!("{} MiB", bytes >> 20);
    let lsm = format!(
        "block {}, SST {}, memtable {}, cache {}, bloom {} bits/key, compaction {}",
        kib(config.block_size),
        mib(config.sst_size),
        mib(config.memtable_size),
        mib(config.cache_size),
        config.bloom_bits,
        if config.compaction { "leveled" } else { "off" },
    );
    match name {
        "mini-lsm" => format!(
            "{lsm}; WAL on (buffered, fsync only on sync){}",
            if config.mvcc {
                "; versioned keys (mvcc)"
            } else {
                ""
            }
        ),
        "fjall" => format!(
            "{lsm}; no compression; journal buffered in-process (manual_journal_persist), \
             fsync only on sync"
        ),
        "redb" => format!(
            "B-tree, cache {}; one write transaction per put/delete with Durability::None, \
             an Immediate commit on sync; one read transaction per get/scan",
            mib(config.cache_size)
        ),
        "rocksdb" => format!("{lsm}; no compression; WAL on, manual_wal_flush, fsync only on sync"),
        _ => String::new(),
    }
}
