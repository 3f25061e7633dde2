//! fjall: an LSM-tree in Rust (one keyspace).

use std::path::Path;
use std::sync::Arc;

use anyhow::Result;
use fjall::compaction::Leveled;
use fjall::config::{
    BlockSizePolicy, BloomConstructionPolicy, CompressionPolicy, FilterPolicy, FilterPolicyEntry,
};
use fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode};

use super::{Engine, EngineConfig};

/// fjall with compression off and its journal buffered in the process (like the reference's
/// WAL), fsynced only on [`Engine::sync`].
pub struct FjallEngine {
    db: Database,
    keyspace: Keyspace,
}

impl FjallEngine {
    pub fn open(dir: &Path, config: &EngineConfig) -> Result<Self> {
        let db = Database::builder(dir)
            .cache_size(config.cache_size as u64)
            .manual_journal_persist(true)
            .open()?;
        let filter = if config.bloom_bits == 0 {
            FilterPolicyEntry::None
        } else {
            FilterPolicyEntry::Bloom(BloomConstructionPolicy::BitsPerKey(
                config.bloom_bits as f32,
            ))
        };
        // Compaction "off": L0 is allowed to grow to the largest threshold fjall accepts.
        let l0_threshold = if config.compaction { 4 } else { u8::MAX };
        let strategy = Leveled::default()
            .with_table_target_size(config.sst_size as u64)
            .with_l0_threshold(l0_threshold);
        let keyspace = db.keyspace("bench", || {
            KeyspaceCreateOptions::default()
                .max_memtable_size(config.memtable_size as u64)
                .data_block_size_policy(BlockSizePolicy::all(config.block_size as u32))
                .data_block_compression_policy(CompressionPolicy::disabled())
                .index_block_compression_policy(CompressionPolicy::disabled())
                .filter_policy(FilterPolicy::all(filter))
                .manual_journal_persist(true)
                .compaction_strategy(Arc::new(strategy))
        })?;
        Ok(FjallEngine { db, keyspace })
    }
}

impl Engine for FjallEngine {
    fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        Ok(self.keyspace.insert(key, value)?)
    }

    fn get(&self, key: &[u8]) -> Result<Option<usize>> {
        Ok(self.keyspace.get(key)?.map(|value| value.len()))
    }

    fn delete(&self, key: &[u8]) -> Result<()> {
        Ok(self.keyspace.remove(key)?)
    }

    fn scan_from(
        &self,
        start: &[u8],
        n: usize,
        visit: &mut dyn FnMut(&[u8], &[u8]),
    ) -> Result<usize> {
        let mut visited = 0;
        for guard in self.keyspace.range(start..).take(n) {
            let (key, value) = guard.into_inner()?;
            visit(&key, &value);
            visited += 1;
        }
        Ok(visited)
    }

    fn sync(&self) -> Result<()> {
        Ok(self.db.persist(PersistMode::SyncAll)?)
    }

    fn close(self: Box<Self>) -> Result<()> {
        self.db.persist(PersistMode::SyncAll)?;
        Ok(())
    }
}
