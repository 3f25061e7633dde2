//! RocksDB through the `rocksdb` crate (feature `rocksdb`; needs clang/libclang, see README.md).

use std::path::Path;

use anyhow::Result;
use rocksdb::{BlockBasedOptions, Cache, DB, DBCompressionType, Options, WriteOptions};

use super::{Engine, EngineConfig};

/// RocksDB with compression off, the WAL on and flushed by the engine (`manual_wal_flush`, like
/// the reference's buffered WAL), fsynced only on [`Engine::sync`].
pub struct RocksDbEngine {
    db: DB,
    write_options: WriteOptions,
}

impl RocksDbEngine {
    pub fn open(dir: &Path, config: &EngineConfig) -> Result<Self> {
        let mut table = BlockBasedOptions::default();
        table.set_block_size(config.block_size);
        table.set_block_cache(&Cache::new_lru_cache(config.cache_size));
        if config.bloom_bits > 0 {
            table.set_bloom_filter(config.bloom_bits as f64, false);
        }
        let mut options = Options::default();
        options.create_if_missing(true);
        options.set_block_based_table_factory(&table);
        options.set_compression_type(DBCompressionType::None);
        options.set_write_buffer_size(config.memtable_size);
        options.set_target_file_size_base(config.sst_size as u64);
        options.set_disable_auto_compactions(!config.compaction);
        options.set_manual_wal_flush(true);
        let db = DB::open(&options, dir)?;
        let mut write_options = WriteOptions::default();
        write_options.set_sync(false);
        Ok(RocksDbEngine { db, write_options })
    }
}

impl Engine for RocksDbEngine {
    fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        Ok(self.db.put_opt(key, value, &self.write_options)?)
    }

    fn get(&self, key: &[u8]) -> Result<Option<usize>> {
        Ok(self.db.get_pinned(key)?.map(|value| value.len()))
    }

    fn delete(&self, key: &[u8]) -> Result<()> {
        Ok(self.db.delete_opt(key, &self.write_options)?)
    }

    fn scan_from(
        &self,
        start: &[u8],
        n: usize,
        visit: &mut dyn FnMut(&[u8], &[u8]),
    ) -> Result<usize> {
        // The raw iterator lends the key and value from the pinned block: no copy per entry.
        let mut iter = self.db.raw_iterator();
        iter.seek(start);
        let mut visited = 0;
        while visited < n {
            let (Some(key), Some(value)) = (iter.key(), iter.value()) else {
                break;
            };
            visit(key, value);
            visited += 1;
            iter.next();
        }
        iter.status()?;
        Ok(visited)
    }

    fn sync(&self) -> Result<()> {
        Ok(self.db.flush_wal(true)?)
    }

    fn close(self: Box<Self>) -> Result<()> {
        self.sync()
    }
}
