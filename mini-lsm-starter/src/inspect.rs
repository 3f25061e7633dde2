//! Public inspection API for tests and tools: a snapshot of the tree's shape and the engine's
//! counters. Reading them never blocks writers.

use std::fmt;

use bytes::Bytes;

/// One memtable in a [`TreeShape`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemTableInfo {
    /// The memtable's id (a larger id is newer).
    pub id: usize,
    /// Its approximate size in bytes.
    pub approximate_size: usize,
    /// Number of distinct keys, tombstones included.
    pub num_entries: usize,
}

/// One SST in a [`TreeShape`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SstInfo {
    /// The SST's id.
    pub id: usize,
    /// Its smallest key.
    pub first_key: Bytes,
    /// Its largest key.
    pub last_key: Bytes,
    /// Its file size in bytes.
    pub size_bytes: u64,
}

/// One level below L0 in a [`TreeShape`] (day 5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LevelInfo {
    /// The level number, 1 for the level just below L0.
    pub level: usize,
    /// Its SSTs in key order.
    pub ssts: Vec<SstInfo>,
}

/// A consistent snapshot of what the tree holds, from newest to oldest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeShape {
    /// The mutable memtable.
    pub memtable: MemTableInfo,
    /// Frozen memtables waiting to be flushed, newest first.
    pub immutable_memtables: Vec<MemTableInfo>,
    /// L0 SSTs, newest first; their key ranges may overlap.
    pub l0: Vec<SstInfo>,
    /// Levels below L0 (empty until day 5).
    pub levels: Vec<LevelInfo>,
}

impl TreeShape {
    /// Ids of the L0 SSTs, newest first.
    pub fn l0_ids(&self) -> Vec<usize> {
        self.l0.iter().map(|sst| sst.id).collect()
    }

    /// The number of sorted runs a point read may probe: one per L0 SST (their key ranges may
    /// overlap) and one per non-empty level (day 10's read amplification).
    pub fn sorted_run_count(&self) -> usize {
        let levels = self.levels.iter().filter(|level| !level.ssts.is_empty());
        self.l0.len() + levels.count()
    }
}

fn escaped(bytes: &[u8]) -> String {
    bytes.escape_ascii().to_string()
}

impl fmt::Display for TreeShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let memtable = |m: &MemTableInfo| {
            format!(
                "#{} ({} keys, ~{} B)",
                m.id, m.num_entries, m.approximate_size
            )
        };
        let sst = |s: &SstInfo| {
            format!(
                "#{} [{}..={}] {} B",
                s.id,
                escaped(&s.first_key),
                escaped(&s.last_key),
                s.size_bytes
            )
        };
        writeln!(f, "memtable   {}", memtable(&self.memtable))?;
        for imm in &self.immutable_memtables {
            writeln!(f, "immutable  {}", memtable(imm))?;
        }
        for table in &self.l0 {
            writeln!(f, "L0         {}", sst(table))?;
        }
        for level in &self.levels {
            for table in &level.ssts {
                writeln!(f, "L{:<9} {}", level.level, sst(table))?;
            }
        }
        Ok(())
    }
}

/// What recovery found when the engine was opened (day 6).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Memtables rebuilt from their WALs (those with at least one entry).
    pub memtables_recovered: usize,
    /// Incomplete records ignored at the end of a WAL or of the manifest.
    pub torn_tails: Vec<crate::record_file::TornTail>,
    /// Files the manifest proves are garbage (left by a flush, compaction or manifest rewrite
    /// that never committed, or by a compaction's removed inputs), deleted.
    pub orphans_removed: Vec<std::path::PathBuf>,
    /// SSTs whose ids the manifest neither reserved nor named: not the engine's doing, so kept,
    /// never deleted, and never part of the tree.
    pub unexplained_kept: Vec<std::path::PathBuf>,
}

impl RecoveryReport {
    /// Whether recovery found nothing worth telling: no memtable replayed, nothing ignored,
    /// removed or kept.
    pub fn is_empty(&self) -> bool {
        *self == RecoveryReport::default()
    }
}

impl fmt::Display for RecoveryReport {
    /// One line per finding, e.g. `recovery: kept 99999.sst (its id was never handed out)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = |path: &std::path::Path| {
            path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().into(),
            )
        };
        if self.memtables_recovered > 0 {
            writeln!(
                f,
                "recovery: replayed {} memtable(s) from their WALs",
                self.memtables_recovered
            )?;
        }
        for tail in &self.torn_tails {
            writeln!(
                f,
                "recovery: ignored a torn tail of {} at byte {} ({} bytes never synced)",
                name(&tail.path),
                tail.offset,
                tail.dropped_bytes
            )?;
        }
        for path in &self.orphans_removed {
            writeln!(
                f,
                "recovery: removed {} (garbage, by the manifest)",
                name(path)
            )?;
        }
        for path in &self.unexplained_kept {
            writeln!(
                f,
                "recovery: kept {} (the manifest knows no file by its id: not the engine's)",
                name(path)
            )?;
        }
        Ok(())
    }
}

/// The engine's counters since it was opened.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EngineStats {
    /// Block reads answered by the block cache.
    pub block_cache_hits: u64,
    /// Block reads that went to disk.
    pub block_cache_misses: u64,
    /// Memtables flushed into L0 SSTs.
    pub flushes: u64,
    /// Bytes of SST written by flushes.
    pub bytes_flushed: u64,
    /// Compactions run (day 5).
    pub compactions: u64,
    /// Bytes of SST written by compactions (day 5).
    pub bytes_compacted: u64,
    /// SSTs that `get` did not read because their bloom filter ruled the key out (day 7).
    pub ssts_skipped_by_bloom: u64,
}

impl EngineStats {
    /// Bytes written to SSTs per byte flushed, `(flushed + compacted) / flushed`: 1.0 without
    /// compaction, more with it. `None` before the first flush.
    pub fn write_amplification(&self) -> Option<f64> {
        (self.bytes_flushed > 0)
            .then(|| (self.bytes_flushed + self.bytes_compacted) as f64 / self.bytes_flushed as f64)
    }
}
