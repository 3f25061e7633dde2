//! The course's reference engine.

use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

use anyhow::Result;
use mini_lsm_reference::iterators::StorageIterator;
use mini_lsm_reference::{CompactionOptions, LeveledCompactionOptions, LsmOptions, MiniLsm};

use super::{Engine, EngineConfig};

/// `mini-lsm-reference` with the WAL on and fsync only on [`Engine::sync`].
pub struct MiniLsmEngine {
    db: Arc<MiniLsm>,
}

impl MiniLsmEngine {
    pub fn open(dir: &Path, config: &EngineConfig) -> Result<Self> {
        let options = LsmOptions {
            block_size: config.block_size,
            target_sst_size: config.sst_size,
            memtable_size: config.memtable_size,
            block_cache_bytes: config.cache_size as u64,
            bloom_bits_per_key: config.bloom_bits,
            compaction: if config.compaction {
                CompactionOptions::Leveled(LeveledCompactionOptions::default())
            } else {
                CompactionOptions::NoCompaction
            },
            background_compaction: config.compaction,
            enable_wal: true,
            mvcc: config.mvcc,
            ..LsmOptions::default()
        };
        Ok(MiniLsmEngine {
            db: MiniLsm::open(dir, options)?,
        })
    }
}

impl Engine for MiniLsmEngine {
    fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        Ok(self.db.put(key, value)?)
    }

    fn get(&self, key: &[u8]) -> Result<Option<usize>> {
        Ok(self.db.get(key)?.map(|value| value.len()))
    }

    fn delete(&self, key: &[u8]) -> Result<()> {
        Ok(self.db.delete(key)?)
    }

    fn scan_from(
        &self,
        start: &[u8],
        n: usize,
        visit: &mut dyn FnMut(&[u8], &[u8]),
    ) -> Result<usize> {
        let mut scan = self.db.scan(Bound::Included(start), Bound::Unbounded)?;
        let mut visited = 0;
        // Seek, then one `next` per further entry (none after the n-th).
        while visited < n && scan.is_valid() {
            visit(scan.key(), scan.value().unwrap_or_default());
            visited += 1;
            if visited < n {
                scan.next()?;
            }
        }
        Ok(visited)
    }

    fn sync(&self) -> Result<()> {
        Ok(self.db.sync()?)
    }

    fn block_cache_lookups(&self) -> Option<(u64, u64)> {
        let stats = self.db.stats();
        Some((stats.block_cache_hits, stats.block_cache_misses))
    }

    fn engine_bytes_written(&self) -> Option<u64> {
        let stats = self.db.stats();
        Some(stats.bytes_flushed + stats.bytes_compacted)
    }

    fn settle(&self, logical_bytes_written: u64) -> Result<Option<String>> {
        self.db.force_flush()?;
        let compactions = self.db.compact_until_idle()?;
        let stats = self.db.stats();
        let shape = self.db.shape();
        let mib = |bytes: u64| bytes as f64 / f64::from(1 << 20);
        let levels: Vec<String> = std::iter::once(("L0".to_string(), &shape.l0))
            .chain((shape.levels.iter()).map(|level| (format!("L{}", level.level), &level.ssts)))
            .filter(|(_, ssts)| !ssts.is_empty())
            .map(|(name, ssts)| {
                let bytes = ssts.iter().map(|sst| sst.size_bytes).sum();
                format!("{name} {:.1} MiB", mib(bytes))
            })
            .collect();
        let sst_bytes = stats.bytes_flushed + stats.bytes_compacted;
        Ok(Some(format!(
            "after force_flush + compact_until_idle ({compactions} more compactions): {}; \
             flushed {:.1} MiB, compacted {:.1} MiB in {} compactions; \
             SST bytes / flushed bytes = {:.2}; SST bytes / logical bytes written = {:.2}",
            levels.join(", "),
            mib(stats.bytes_flushed),
            mib(stats.bytes_compacted),
            stats.compactions,
            stats.write_amplification().unwrap_or(0.0),
            sst_bytes as f64 / logical_bytes_written.max(1) as f64,
        )))
    }

    fn close(self: Box<Self>) -> Result<()> {
        Ok(self.db.close()?)
    }
}
