//! redb: a copy-on-write B-tree in Rust (one table).

use std::path::Path;

use anyhow::Result;
use redb::{Database, Durability, ReadableDatabase, TableDefinition};

use super::{Engine, EngineConfig};

const TABLE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("bench");

/// redb with one `Durability::None` write transaction per put or delete (no fsync), and an
/// `Immediate` (fsynced) commit on [`Engine::sync`].
pub struct RedbEngine {
    db: Database,
}

impl RedbEngine {
    pub fn open(dir: &Path, config: &EngineConfig) -> Result<Self> {
        let db = Database::builder()
            .set_cache_size(config.cache_size)
            .create(dir.join("bench.redb"))?;
        let txn = db.begin_write()?;
        txn.open_table(TABLE)?;
        txn.commit()?;
        Ok(RedbEngine { db })
    }

    fn write(
        &self,
        durability: Durability,
        op: impl FnOnce(&mut redb::Table<&[u8], &[u8]>) -> Result<()>,
    ) -> Result<()> {
        let mut txn = self.db.begin_write()?;
        txn.set_durability(durability)?;
        {
            let mut table = txn.open_table(TABLE)?;
            op(&mut table)?;
        }
        txn.commit()?;
        Ok(())
    }
}

impl Engine for RedbEngine {
    fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        self.write(Durability::None, |table| {
            table.insert(key, value)?;
            Ok(())
        })
    }

    fn get(&self, key: &[u8]) -> Result<Option<usize>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(TABLE)?;
        Ok(table.get(key)?.map(|value| value.value().len()))
    }

    fn delete(&self, key: &[u8]) -> Result<()> {
        self.write(Durability::None, |table| {
            table.remove(key)?;
            Ok(())
        })
    }

    fn scan_from(
        &self,
        start: &[u8],
        n: usize,
        visit: &mut dyn FnMut(&[u8], &[u8]),
    ) -> Result<usize> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(TABLE)?;
        let mut visited = 0;
        for entry in table.range(start..)?.take(n) {
            let (key, value) = entry?;
            visit(key.value(), value.value());
            visited += 1;
        }
        Ok(visited)
    }

    fn sync(&self) -> Result<()> {
        self.write(Durability::Immediate, |_| Ok(()))
    }

    fn close(self: Box<Self>) -> Result<()> {
        self.sync()
    }
}
