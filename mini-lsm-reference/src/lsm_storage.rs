//! Day 4 (engine): the tree's state and the read and write paths over it.
//!
//! # Concurrency design
//!
//! The tree's structure (which memtables and SSTs exist) lives in an immutable
//! [`LsmStorageState`] behind `RwLock<Arc<…>>`. A reader takes the read lock only long enough to
//! clone the `Arc`, then works on that snapshot without any lock, so readers never wait for a
//! flush. A structural change (freeze, flush) copies the state, edits the copy and swaps it in
//! under the write lock. `state_lock` serialises those changes so that two of them never edit
//! copies of the same old state and lose one another's edit.
//!
//! Writers hold the *read* lock while inserting into the memtable. Freezing takes the *write*
//! lock to swap in a new memtable, so it waits for in-flight inserts: once a memtable is frozen,
//! no insert into it can still be running, and the flush sees every entry.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::Sender;

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};

use crate::block::{BlockIterator, MAX_KEY_LEN, MAX_VALUE_LEN};
use crate::block_cache::BlockCache;
use crate::dir_lock::DirLock;
use crate::error::{Error, Result};
use crate::fs;
use crate::inspect::{EngineStats, MemTableInfo, RecoveryReport, SstInfo, TreeShape};
use crate::iterators::StorageIterator;
use crate::iterators::fused_storage_iterator::FusedStorageIterator;
use crate::iterators::merge_iterator::MergeIterator;
use crate::iterators::sst_concat_iterator::SstConcatIterator;
use crate::iterators::two_merge_iterator::TwoMergeIterator;
use crate::lsm_iterator::{LsmIterator, LsmIteratorInner, Scan, ScanCursor};
use crate::manifest::{Manifest, ManifestRecord, TreeSnapshot};
use crate::mem_table::{MemTable, own_bound};
use crate::mvcc::iterator::MvccIterator;
use crate::mvcc::txn::{CommitLog, LocalWrites, ReadSet, conflict_error};
use crate::mvcc::{
    Commit, MAX_SEQ, MAX_VERSIONED_USER_KEY_LEN, Seq, Versions, as_slice_bound, user_key_part,
    versioned_bounds, versioned_key,
};
use crate::options::{CompactionOptions, LsmOptions};
use crate::recovery::{Recovered, recover};
use crate::table::{SsTable, SsTableBuilder, SsTableIterator};

/// One operation of a write batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteBatchRecord<K: AsRef<[u8]>, V: AsRef<[u8]>> {
    /// Set `key` to `value`.
    Put(K, V),
    /// Delete `key`.
    Delete(K),
}

// ANCHOR: lsm_storage-state
/// Which memtables and SSTs make up the tree at one moment. Never changed in place: a change
/// builds a new state (see the module documentation).
#[derive(Debug, Clone)]
pub struct LsmStorageState {
    /// The memtable that takes writes.
    pub memtable: Arc<MemTable>,
    /// Frozen memtables, newest first.
    pub imm_memtables: Vec<Arc<MemTable>>,
    /// L0 SST ids, newest first.
    pub l0_sstables: Vec<usize>,
    /// Levels below L0 as `(level, SST ids in key order)` (day 5).
    pub levels: Vec<(usize, Vec<usize>)>,
    /// Every live SST by id. A `BTreeMap` rather than a `HashMap`: a lookup by a small integer
    /// costs a few comparisons instead of a SipHash, reads do several per `get` and one per
    /// table per `scan`, and iteration runs in id order (oldest first), which keeps dumps stable.
    pub sstables: BTreeMap<usize, Arc<SsTable>>,
}
// ANCHOR_END: lsm_storage-state

/// The number of levels below L0 that `options` call for: none without compaction.
pub(crate) fn num_levels(options: &LsmOptions) -> usize {
    match &options.compaction {
        CompactionOptions::Leveled(leveled) => leveled.max_levels,
        CompactionOptions::Tiered(tiered) => tiered.max_levels,
        CompactionOptions::NoCompaction => 0,
    }
}

impl LsmStorageState {
    /// An empty tree: one empty memtable, and `num_levels` empty levels below L0.
    pub(crate) fn empty(memtable_id: usize, num_levels: usize) -> Self {
        LsmStorageState {
            memtable: Arc::new(MemTable::create(memtable_id)),
            imm_memtables: Vec::new(),
            l0_sstables: Vec::new(),
            levels: (1..=num_levels).map(|level| (level, Vec::new())).collect(),
            sstables: BTreeMap::new(),
        }
    }

    /// The tree's structure as a manifest snapshot holds it (its `first_id` and `next_id` are
    /// left to the manifest, which knows the reservation).
    pub(crate) fn manifest_snapshot(&self) -> TreeSnapshot {
        let frozen = self.imm_memtables.iter().rev();
        TreeSnapshot {
            first_id: 0,
            next_id: 0,
            memtables: frozen.chain([&self.memtable]).map(|m| m.id()).collect(),
            l0: self.l0_sstables.clone(),
            levels: self.levels.iter().map(|(_, ids)| ids.clone()).collect(),
        }
    }
}

/// Counters kept by the engine itself (the block cache keeps its own).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) flushes: AtomicU64,
    pub(crate) bytes_flushed: AtomicU64,
    pub(crate) compactions: AtomicU64,
    pub(crate) bytes_compacted: AtomicU64,
    pub(crate) bloom_skips: AtomicU64,
}

// ANCHOR: lsm_storage-inner
/// The engine's storage: state, options, caches and counters. [`crate::MiniLsm`] wraps it with
/// the background thread.
pub struct LsmStorageInner {
    pub(crate) state: RwLock<Arc<LsmStorageState>>,
    /// Held while a structural change builds and swaps in a new state.
    pub(crate) state_lock: Mutex<()>,
    /// Held for the whole of a flush so that two flushes never write the same memtable.
    flush_lock: Mutex<()>,
    /// Held for the whole of a compaction: one runs at a time (day 5).
    pub(crate) compaction_lock: Mutex<()>,
    path: PathBuf,
    pub(crate) block_cache: Arc<BlockCache>,
    next_id: AtomicUsize,
    pub(crate) options: LsmOptions,
    pub(crate) counters: Counters,
    closed: AtomicBool,
    /// The log of structural changes; `None` when the WAL (day 6) is off.
    pub(crate) manifest: Option<Manifest>,
    /// What recovery found when the engine was opened.
    recovery_report: RecoveryReport,
    /// The seq counter and the live snapshots (day 8; unused unless `options.mvcc`).
    pub(crate) versions: Versions,
    /// The live transactions and the writes committed since the oldest of them began (day 9;
    /// empty unless a transaction is live). Changed under the commit lock, except when a
    /// transaction ends.
    pub(crate) commit_log: Mutex<CommitLog>,
    /// The directory lock ([`crate::dir_lock`]): held as long as the engine exists.
    _lock: DirLock,
    /// Wakes the background flush thread after a freeze; `None` until the thread is started.
    pub(crate) flush_signal: Mutex<Option<Sender<WorkerSignal>>>,
    /// Wakes the background compaction thread after a flush; `None` when it is not running.
    pub(crate) compaction_signal: Mutex<Option<Sender<WorkerSignal>>>,
}
// ANCHOR_END: lsm_storage-inner

/// What a background thread is told.
pub(crate) enum WorkerSignal {
    /// There may be work: a memtable was frozen (for the flush thread), or an SST was flushed
    /// (for the compaction thread).
    Work,
    /// The engine is closing: do the pending work, then exit.
    Stop,
}

impl LsmStorageInner {
    /// Opens (creating if needed) the engine directory `path`.
    pub(crate) fn open(path: &Path, options: LsmOptions) -> Result<Self> {
        options.validate()?;
        if path.as_os_str().is_empty() {
            // Not "the current directory": `create_dir_all("")` succeeds and `"".join("LOCK")`
            // is `LOCK` in whatever the working directory happens to be.
            return Err(Error::InvalidArgument(
                "the engine directory path is empty".into(),
            ));
        }
        if path.exists() && !path.is_dir() {
            return Err(Error::InvalidArgument(format!(
                "{} is not a directory",
                path.display()
            )));
        }
        create_dir_durably(path)?;
        let lock = DirLock::acquire(path)?;
        let block_cache = Arc::new(BlockCache::new(options.block_cache_bytes));
        let recovered = if options.enable_wal {
            recover(path, &options, &block_cache)?
        } else {
            // Without a manifest (before day 6) files of an earlier run are not read back, but
            // their ids must not be reused: start above the largest id in the directory.
            let first_id = largest_file_id(path)? + 1;
            Recovered {
                state: LsmStorageState::empty(first_id, num_levels(&options)),
                manifest: None,
                next_id: first_id + 1,
                report: RecoveryReport::default(),
            }
        };
        let versions = if options.mvcc {
            Versions::new(first_seq_of_session(recovered.state.memtable.id())?)
        } else {
            Versions::default()
        };
        Ok(LsmStorageInner {
            state: RwLock::new(Arc::new(recovered.state)),
            state_lock: Mutex::new(()),
            flush_lock: Mutex::new(()),
            compaction_lock: Mutex::new(()),
            path: path.to_path_buf(),
            block_cache,
            next_id: AtomicUsize::new(recovered.next_id),
            manifest: recovered.manifest,
            recovery_report: recovered.report,
            versions,
            commit_log: Mutex::new(CommitLog::default()),
            _lock: lock,
            options,
            counters: Counters::default(),
            closed: AtomicBool::new(false),
            flush_signal: Mutex::new(None),
            compaction_signal: Mutex::new(None),
        })
    }

    /// The engine's directory.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// A builder for a new SST with the engine's block size and bloom filter setting.
    pub(crate) fn sst_builder(&self) -> SsTableBuilder {
        SsTableBuilder::new(self.options.block_size)
            .with_bloom_filter(self.options.bloom_bits_per_key)
            .with_versioned_keys(self.options.mvcc)
    }

    /// The path of SST `id`.
    pub fn sst_path(&self, id: usize) -> PathBuf {
        sst_path(&self.path, id)
    }

    /// The path of the WAL of memtable `id`.
    pub fn wal_path(&self, id: usize) -> PathBuf {
        wal_path(&self.path, id)
    }

    /// What recovery found when the engine was opened.
    pub fn recovery_report(&self) -> &RecoveryReport {
        &self.recovery_report
    }

    /// A fresh id for a memtable or SST. With a manifest (day 6), the id is reserved in it
    /// before it is returned: recovery treats a file whose id was never reserved as not the
    /// engine's, and keeps it.
    pub(crate) fn next_id(&self) -> Result<usize> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        if let Some(manifest) = &self.manifest {
            manifest.reserve_id(id)?;
        }
        Ok(id)
    }

    /// Replaces the manifest by a snapshot of the current tree once it has grown past
    /// `max_manifest_bytes`, so that it never grows without bound. REQUIRES `state_lock` held:
    /// every structural change records itself and swaps the state under it, so the state seen
    /// here is exactly what the manifest's records describe.
    pub(crate) fn rewrite_manifest_if_large(&self) -> Result<()> {
        match &self.manifest {
            Some(manifest) if self.manifest_is_large() => {
                manifest.rewrite(&self.snapshot().manifest_snapshot())
            }
            _ => Ok(()),
        }
    }

    /// Whether the manifest has grown past `max_manifest_bytes`.
    fn manifest_is_large(&self) -> bool {
        self.manifest
            .as_ref()
            .is_some_and(|manifest| manifest.size() > self.options.max_manifest_bytes)
    }

    pub(crate) fn mark_closed(&self) {
        self.closed.store(true, Ordering::Release);
    }

    pub(crate) fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            Err(Error::Closed)
        } else {
            Ok(())
        }
    }

    /// A snapshot of the current state: a cheap `Arc` clone under a brief read lock.
    pub(crate) fn snapshot(&self) -> Arc<LsmStorageState> {
        Arc::clone(&self.state.read())
    }

    // ANCHOR: lsm_storage-get
    /// The newest value of `key`, or `None` when it was never written or was deleted.
    pub fn get(&self, key: &[u8]) -> Result<Option<Bytes>> {
        self.check_open()?;
        check_key(key)?;
        if self.options.mvcc {
            // Part 2 (day 8): the newest version at the newest visible seq.
            return self.get_at(key, self.versions.visible());
        }
        // BEGIN SOLUTION day 4: LsmStorageInner::get — look in the memtable, then the frozen memtables and L0 SSTs newest first; a tombstone ends the search
        let snapshot = self.snapshot();
        let memtables = std::iter::once(&snapshot.memtable).chain(&snapshot.imm_memtables);
        for memtable in memtables {
            if let Some(entry) = memtable.get(key) {
                return Ok(entry);
            }
        }
        for id in &snapshot.l0_sstables {
            let table = &snapshot.sstables[id];
            if let Some(entry) = get_from_sst(table, key, &self.counters)? {
                return Ok(entry);
            }
        }
        // Below L0 each level's SSTs are disjoint and sorted: only one can hold the key.
        for (_, ids) in &snapshot.levels {
            let idx = ids.partition_point(|id| snapshot.sstables[id].last_key().as_ref() < key);
            if let Some(id) = ids.get(idx)
                && let Some(entry) = get_from_sst(&snapshot.sstables[id], key, &self.counters)?
            {
                return Ok(entry);
            }
        }
        Ok(None)
        // END SOLUTION
    }
    // ANCHOR_END: lsm_storage-get

    // ANCHOR: lsm_storage-get_at
    /// The value of `key` as a read at seq `seq` sees it (day 8): its newest version with a seq
    /// at or below `seq`, `None` when that is a tombstone or there is none.
    pub fn get_at(&self, key: &[u8], seq: Seq) -> Result<Option<Bytes>> {
        self.check_open()?;
        self.check_user_key(key)?;
        // BEGIN SOLUTION day 8: LsmStorageInner::get_at — the versions of key at or below seq lie between versioned_key(key, seq) and versioned_key(key, 0): in each source, newest first, take the first entry in that range
        let (from, to) = (versioned_key(key, seq), versioned_key(key, 0));
        let snapshot = self.snapshot();
        let memtables = std::iter::once(&snapshot.memtable).chain(&snapshot.imm_memtables);
        for memtable in memtables {
            let iter = memtable.scan(Bound::Included(&from), Bound::Included(&to));
            if iter.is_valid() {
                return Ok(iter.value().map(Bytes::copy_from_slice));
            }
        }
        // Sources are newer than the ones after them, so the first version found is the newest.
        for id in &snapshot.l0_sstables {
            if let Some(entry) =
                get_version_from_sst(&snapshot.sstables[id], &from, &to, &self.counters)?
            {
                return Ok(entry);
            }
        }
        for (_, ids) in &snapshot.levels {
            let idx = ids
                .partition_point(|id| snapshot.sstables[id].last_key().as_ref() < from.as_slice());
            if let Some(id) = ids.get(idx)
                && let Some(entry) =
                    get_version_from_sst(&snapshot.sstables[id], &from, &to, &self.counters)?
            {
                return Ok(entry);
            }
        }
        Ok(None)
        // END SOLUTION
    }
    // ANCHOR_END: lsm_storage-get_at

    /// Checks a user key: [`check_key`], and with versioned keys (day 8) the shorter limit
    /// [`MAX_VERSIONED_USER_KEY_LEN`].
    pub(crate) fn check_user_key(&self, key: &[u8]) -> Result<()> {
        check_key(key)?;
        if self.options.mvcc && key.len() > MAX_VERSIONED_USER_KEY_LEN {
            return Err(Error::InvalidArgument(format!(
                "key of {} bytes is over the limit of {MAX_VERSIONED_USER_KEY_LEN} bytes that \
                 versioned keys leave",
                key.len()
            )));
        }
        Ok(())
    }

    // ANCHOR: lsm_storage-write_batch
    /// Applies `batch` in order. Every key and value is checked first, so an invalid record
    /// rejects the whole batch before anything is written. An empty batch is a no-op that
    /// returns `Ok` (given code): it writes nothing, not even a WAL record, which always holds
    /// at least one entry.
    pub fn write_batch<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        &self,
        batch: &[WriteBatchRecord<K, V>],
    ) -> Result<()> {
        self.check_open()?;
        if batch.is_empty() {
            return Ok(());
        }
        for record in batch {
            match record {
                WriteBatchRecord::Put(key, value) => {
                    check_key(key.as_ref())?;
                    check_value(value.as_ref())?;
                }
                WriteBatchRecord::Delete(key) => check_key(key.as_ref())?,
            }
        }
        self.retry_failed_freeze()?;
        if self.options.mvcc {
            // Part 2 (day 8): number the batch and store it under versioned keys.
            return self.write_versioned(self.versions.commit(), batch);
        }
        self.write_records(batch)
    }
    // ANCHOR_END: lsm_storage-write_batch

    // ANCHOR: lsm_storage-write_records
    /// Inserts the checked records of a batch into the memtable, then freezes it if it reached
    /// `memtable_size`.
    fn write_records<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        &self,
        batch: &[WriteBatchRecord<K, V>],
    ) -> Result<()> {
        // BEGIN SOLUTION day 4: LsmStorageInner::write_records — insert every record into the memtable under the state read lock, then freeze if it reached memtable_size
        let entries: Vec<(&[u8], Option<&[u8]>)> = batch
            .iter()
            .map(|record| match record {
                WriteBatchRecord::Put(key, value) => (key.as_ref(), Some(value.as_ref())),
                WriteBatchRecord::Delete(key) => (key.as_ref(), None),
            })
            .collect();
        let size_after = {
            // The read lock keeps a freeze from swapping the memtable out mid-batch.
            let state = self.state.read();
            state.memtable.put_batch(&entries)?;
            state.memtable.approximate_size()
        };
        if size_after >= self.options.memtable_size {
            self.freeze_if_full()?;
        }
        Ok(())
        // END SOLUTION
    }
    // ANCHOR_END: lsm_storage-write_records

    // ANCHOR: lsm_storage-write_versioned
    /// Writes a checked batch under versioned keys (day 8): numbered after the last visible seq
    /// under the commit lock `commit` (the caller took it: a plain write just before, a
    /// transaction's commit before validating, day 9), inserted with [`Self::write_records`],
    /// then made visible at once.
    fn write_versioned<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        &self,
        commit: Commit<'_>,
        batch: &[WriteBatchRecord<K, V>],
    ) -> Result<()> {
        let first = commit.last_visible() + 1;
        let last = first + batch.len() as Seq - 1;
        if last > MAX_SEQ {
            return Err(Error::InvalidArgument(format!(
                "the engine has used up its sequence numbers (the last is {MAX_SEQ})"
            )));
        }
        // Day 9: the batch's keys go into the commit log (only while a transaction is live)
        // before the write, while the commit lock is held, so a transaction validating after
        // this batch is visible finds it. A write that then fails leaves its entry behind: that
        // can only make a transaction fail a check it would have passed (it retries), never
        // pass one it should fail.
        self.commit_log
            .lock()
            .record(last, batch.iter().map(record_key));
        // BEGIN SOLUTION day 8: LsmStorageInner::write_versioned — give the i-th record the seq first + i and its versioned key, write the records, then publish last
        let versioned: Vec<WriteBatchRecord<Vec<u8>, &[u8]>> = batch
            .iter()
            .zip(first..)
            .map(|(record, seq)| match record {
                WriteBatchRecord::Put(key, value) => {
                    WriteBatchRecord::Put(versioned_key(key.as_ref(), seq), value.as_ref())
                }
                WriteBatchRecord::Delete(key) => {
                    WriteBatchRecord::Delete(versioned_key(key.as_ref(), seq))
                }
            })
            .collect();
        self.write_records(&versioned)?;
        commit.publish(last);
        Ok(())
        // END SOLUTION
    }
    // ANCHOR_END: lsm_storage-write_versioned

    /// Begins a transaction (day 9): registers a snapshot at the newest visible seq, counts the
    /// transaction as live in the commit log, and returns the seq.
    pub(crate) fn begin_transaction(&self) -> Result<Seq> {
        self.check_open()?;
        // Under the commit lock, no batch is between its numbering and its publication: each
        // one is either visible at the start seq, or comes after it and, finding this
        // transaction live, is logged. Without the lock, a batch could check for live
        // transactions, find none, and publish after this transaction read the visible seq:
        // a write after the start seq that validation would never see.
        let _commit = self.versions.commit();
        let start_seq = self.versions.register();
        self.commit_log.lock().begin(start_seq);
        Ok(start_seq)
    }

    /// Commits a transaction that began at `start_seq`, read `reads` and wrote `writes`
    /// (day 9): see [`crate::mvcc::txn`].
    pub(crate) fn commit_transaction(
        &self,
        start_seq: Seq,
        reads: &ReadSet,
        writes: &LocalWrites,
    ) -> Result<()> {
        self.check_open()?;
        if writes.is_empty() {
            // Read-only: it read one snapshot and changes nothing, so it is serializable at its
            // start seq whatever committed since. Nothing to check, nothing to write.
            return Ok(());
        }
        let batch: Vec<WriteBatchRecord<&[u8], &[u8]>> = writes
            .iter()
            .map(|(key, value)| match value {
                Some(value) => WriteBatchRecord::Put(key.as_slice(), value.as_slice()),
                None => WriteBatchRecord::Delete(key.as_slice()),
            })
            .collect();
        self.retry_failed_freeze()?;
        // Validation and the write under one hold of the commit lock: no batch can commit in
        // between and change what was just checked. That is what makes the check this simple.
        let commit = self.versions.commit();
        if let Some((key, seq)) = self.commit_log.lock().find_conflict(start_seq, reads) {
            return Err(conflict_error(key, seq, start_seq));
        }
        self.write_versioned(commit, &batch)
    }

    /// Ends a transaction that began at `start_seq`, committed or not (day 9): releases its
    /// snapshot and lets the commit log drop what only it needed.
    pub(crate) fn end_transaction(&self, start_seq: Seq) {
        self.versions.release(start_seq);
        let mut log = self.commit_log.lock();
        log.finish(start_seq);
        // This runs from `Transaction`'s `drop`, also while a panic unwinds (a failed
        // assertion, an unfinished stub): a second panic there would abort the process. Only
        // the bookkeeping above runs then; the next transaction to end trims the log.
        if !std::thread::panicking() {
            log.trim();
        }
    }

    /// How many committed batches the commit log holds (day 9): 0 whenever no transaction is
    /// live. For tests and inspection.
    pub fn commit_log_len(&self) -> usize {
        self.commit_log.lock().len()
    }

    /// Freezes the memtable if it has reached `memtable_size` and no other writer froze it since
    /// this one looked. Returns whether it froze.
    ///
    /// It runs after a write was applied, so a failed freeze (an I/O error creating the next
    /// memtable) must not look like that write's failure: it returns `Ok(false)` and leaves the
    /// memtable full, and the next write meets the error in [`Self::retry_failed_freeze`] before
    /// applying anything. A write that returns an error is never applied.
    fn freeze_if_full(&self) -> Result<bool> {
        let _change = self.state_lock.lock();
        Ok(self.memtable_is_full() && self.freeze_and_notify().unwrap_or(false))
    }

    /// Before a write: a memtable still full means the freeze after an earlier write failed.
    /// Retry it; if it fails again, so does this write, with nothing applied.
    fn retry_failed_freeze(&self) -> Result<()> {
        if self.memtable_is_full() {
            let _change = self.state_lock.lock();
            if self.memtable_is_full() {
                self.freeze_and_notify()?;
            }
        }
        Ok(())
    }

    /// Whether the memtable has reached `memtable_size`.
    fn memtable_is_full(&self) -> bool {
        self.state.read().memtable.approximate_size() >= self.options.memtable_size
    }

    /// Freezes the current memtable (unless it is empty) and starts a new one.
    /// Returns whether a memtable was frozen.
    pub fn force_freeze_memtable(&self) -> Result<bool> {
        self.check_open()?;
        let _change = self.state_lock.lock();
        self.freeze_and_notify()
    }

    /// Freezes, then tells the background flush thread. REQUIRES `state_lock` held.
    fn freeze_and_notify(&self) -> Result<bool> {
        let frozen = self.freeze_locked()?;
        if frozen {
            // The frozen memtable takes no more writes: seal its WAL (see `RecordWriter::seal`).
            if let Some(memtable) = self.snapshot().imm_memtables.first() {
                memtable.seal_wal()?;
            }
            self.rewrite_manifest_if_large()?;
        }
        if frozen && let Some(signal) = self.flush_signal.lock().as_ref() {
            // A send fails only when the flush thread has exited: the engine is closing.
            let _ = signal.send(WorkerSignal::Work);
        }
        Ok(frozen)
    }

    // ANCHOR: lsm_storage-freeze_locked
    /// The freeze itself. REQUIRES `state_lock` held.
    fn freeze_locked(&self) -> Result<bool> {
        // BEGIN SOLUTION day 4: LsmStorageInner::freeze_locked — make the new memtable first (new_memtable), then swap it in and put the old one first among the immutable ones
        if self.state.read().memtable.is_empty() {
            return Ok(false);
        }
        // Creating the memtable may do I/O (its WAL, a manifest record from day 6): do it before
        // taking the write lock, which would block every reader and writer meanwhile.
        let fresh = self.new_memtable(self.next_id()?)?;
        let frozen = {
            let mut state = self.state.write();
            let mut next = state.as_ref().clone();
            let frozen = std::mem::replace(&mut next.memtable, fresh);
            next.imm_memtables.insert(0, Arc::clone(&frozen));
            *state = Arc::new(next);
            frozen
        };
        // No writer can reach the frozen memtable any more: make its WAL durable once, now.
        frozen.sync_wal()?;
        Ok(true)
        // END SOLUTION
    }
    // ANCHOR_END: lsm_storage-freeze_locked

    // ANCHOR: d6-lsm_storage-new_memtable
    /// A new, empty memtable with id `id`. From day 6 (WAL on) it gets its WAL file, and the
    /// manifest records it, WAL first: a crash in between leaves an orphan WAL, removed at open.
    fn new_memtable(&self, id: usize) -> Result<Arc<MemTable>> {
        let Some(manifest) = &self.manifest else {
            return Ok(Arc::new(MemTable::create(id)));
        };
        // BEGIN SOLUTION day 6: LsmStorageInner::new_memtable — create the memtable with its WAL, fsync the directory, then record NewMemtable in the manifest
        let memtable = MemTable::create_with_wal(id, &self.wal_path(id))?;
        fs::sync_dir(&self.path)?;
        manifest.add_record(&ManifestRecord::NewMemtable(id))?;
        Ok(Arc::new(memtable))
        // END SOLUTION
    }
    // ANCHOR_END: d6-lsm_storage-new_memtable

    /// Flushes the oldest immutable memtable into a new L0 SST, then wakes the compaction thread.
    /// Returns whether there was a memtable to flush.
    pub fn force_flush_next_imm_memtable(&self) -> Result<bool> {
        let flushed = self.flush_next_imm_memtable()?;
        if flushed && self.manifest_is_large() {
            let _change = self.state_lock.lock();
            self.rewrite_manifest_if_large()?;
        }
        if flushed && let Some(signal) = self.compaction_signal.lock().as_ref() {
            // A send fails only when the compaction thread has exited: the engine is closing.
            let _ = signal.send(WorkerSignal::Work);
        }
        Ok(flushed)
    }

    // ANCHOR: lsm_storage-flush_next_imm_memtable
    /// The flush itself: the oldest immutable memtable into a new L0 SST.
    fn flush_next_imm_memtable(&self) -> Result<bool> {
        // BEGIN SOLUTION day 4: LsmStorageInner::flush_next_imm_memtable — build an SST from the oldest frozen memtable without holding the state lock, then swap it in
        let _flush = self.flush_lock.lock();
        let Some(memtable) = self.snapshot().imm_memtables.last().cloned() else {
            return Ok(false);
        };
        // The SST is written with no state lock held: readers and writers go on meanwhile, and
        // still find the memtable's entries in the memtable until the swap below.
        let mut builder = self.sst_builder();
        memtable.flush(&mut builder)?;
        let id = memtable.id();
        let table = builder.build(id, Some(Arc::clone(&self.block_cache)), &self.sst_path(id))?;
        let size = table.table_size();
        {
            let _change = self.state_lock.lock();
            // Recorded under `state_lock`, so manifest records come in the order of the changes.
            self.log_flush(id)?;
            let mut next = self.snapshot().as_ref().clone();
            let flushed = next.imm_memtables.pop();
            debug_assert_eq!(
                flushed.map(|m| m.id()),
                Some(id),
                "only flushes remove memtables"
            );
            next.l0_sstables.insert(0, id);
            next.sstables.insert(id, Arc::new(table));
            *self.state.write() = Arc::new(next);
        }
        self.delete_wal(id)?;
        self.counters.flushes.fetch_add(1, Ordering::Relaxed);
        self.counters
            .bytes_flushed
            .fetch_add(size, Ordering::Relaxed);
        Ok(true)
        // END SOLUTION
    }
    // ANCHOR_END: lsm_storage-flush_next_imm_memtable

    // ANCHOR: d6-lsm_storage-log_flush
    /// Makes a flush of memtable `id` durable (day 6): the SST file is already synced; sync the
    /// directory so its name survives a crash, then record the flush in the manifest.
    fn log_flush(&self, id: usize) -> Result<()> {
        let Some(manifest) = &self.manifest else {
            return Ok(());
        };
        // BEGIN SOLUTION day 6: LsmStorageInner::log_flush — fsync the directory, then add a Flush record
        fs::sync_dir(&self.path)?;
        manifest.add_record(&ManifestRecord::Flush(id))
        // END SOLUTION
    }
    // ANCHOR_END: d6-lsm_storage-log_flush

    // ANCHOR: d6-lsm_storage-delete_wal
    /// Deletes the WAL of flushed memtable `id` (day 6). Only after the manifest recorded the
    /// flush: before that, the WAL is the only durable copy of the memtable. A WAL that is
    /// already gone is not an error: the flush is recorded, so all that is left to do is make
    /// the directory durable; failing here would report a completed flush as failed.
    fn delete_wal(&self, id: usize) -> Result<()> {
        if self.manifest.is_none() {
            return Ok(());
        }
        // BEGIN SOLUTION day 6: LsmStorageInner::delete_wal — remove the WAL file (one already gone is fine), then fsync the directory
        match fs::remove_file(&self.wal_path(id)) {
            Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {}
            removed => removed?,
        }
        fs::sync_dir(&self.path)
        // END SOLUTION
    }
    // ANCHOR_END: d6-lsm_storage-delete_wal

    /// Number of immutable memtables right now.
    pub(crate) fn num_imm_memtables(&self) -> usize {
        self.state.read().imm_memtables.len()
    }

    // ANCHOR: lsm_storage-scan
    /// A cursor over the live keys in `(lower, upper)`, in key order. An empty or inverted range
    /// gives an empty scan.
    pub fn scan(&self, lower: Bound<&[u8]>, upper: Bound<&[u8]>) -> Result<Scan> {
        self.check_open()?;
        if self.options.mvcc {
            // Part 2 (day 8): a point-in-time view, at the newest visible seq.
            return self.scan_at(lower, upper, self.versions.visible());
        }
        let sources = self.scan_sources(lower, upper)?;
        let cursor = LsmIterator::new(sources, own_bound(upper))?;
        Ok(FusedStorageIterator::new(ScanCursor::Latest(cursor)))
    }
    // ANCHOR_END: lsm_storage-scan

    // ANCHOR: lsm_storage-scan_sources
    /// Every part of the tree that may hold keys inside `(lower, upper)`, each positioned at its
    /// first key inside `lower`, merged so that newer parts win: the memtables, the L0 SSTs
    /// whose key range overlaps the bounds, and one lazy cursor per level.
    fn scan_sources(&self, lower: Bound<&[u8]>, upper: Bound<&[u8]>) -> Result<LsmIteratorInner> {
        // BEGIN SOLUTION day 4: LsmStorageInner::scan_sources — merge memtable scans with iterators over the L0 SSTs whose key range overlaps the bounds
        let snapshot = self.snapshot();
        let memtables = std::iter::once(&snapshot.memtable).chain(&snapshot.imm_memtables);
        let memtable_iters = memtables
            .map(|memtable| Box::new(memtable.scan(lower, upper)))
            .collect();
        let mut sst_iters = Vec::new();
        for id in &snapshot.l0_sstables {
            let table = &snapshot.sstables[id];
            if range_overlaps(lower, upper, table.first_key(), table.last_key()) {
                let seek =
                    |key: &[u8]| SsTableIterator::create_and_seek_to_key(Arc::clone(table), key);
                sst_iters.push(Box::new(seek_to_lower(lower, seek)?));
            }
        }
        // One lazy concat iterator per level, over the level's SSTs that overlap the range. They
        // are sorted and disjoint, so those are one run of them: a binary search skips the ones
        // that end before `lower` (a seek would otherwise look at every SST of the level).
        let mut level_iters = Vec::new();
        for (_, ids) in &snapshot.levels {
            let table = |id: &usize| &snapshot.sstables[id];
            let first = ids.partition_point(|id| ends_before(lower, table(id).last_key()));
            let tables: Vec<_> = ids[first..]
                .iter()
                .map(table)
                .take_while(|table| !starts_after(upper, table.first_key()))
                .cloned()
                .collect();
            if !tables.is_empty() {
                let seek = |key: &[u8]| SstConcatIterator::create_and_seek_to_key(tables, key);
                level_iters.push(Box::new(seek_to_lower(lower, seek)?));
            }
        }
        let memtables_and_l0 = TwoMergeIterator::create(
            MergeIterator::create(memtable_iters),
            MergeIterator::create(sst_iters),
        )?;
        TwoMergeIterator::create(memtables_and_l0, MergeIterator::create(level_iters))
        // END SOLUTION
    }
    // ANCHOR_END: lsm_storage-scan_sources

    // ANCHOR: lsm_storage-scan_at
    /// A cursor over the keys in `(lower, upper)` as a read at seq `seq` sees them (day 8).
    pub fn scan_at(&self, lower: Bound<&[u8]>, upper: Bound<&[u8]>, seq: Seq) -> Result<Scan> {
        self.check_open()?;
        // BEGIN SOLUTION day 8: LsmStorageInner::scan_at — translate the bounds with versioned_bounds, merge the sources inside them, and read them through an MvccIterator at seq
        let (from, to) = versioned_bounds(lower, upper);
        let sources = self.scan_sources(as_slice_bound(&from), as_slice_bound(&to))?;
        let cursor = MvccIterator::new(sources, seq, to)?;
        Ok(FusedStorageIterator::new(ScanCursor::Versioned(cursor)))
        // END SOLUTION
    }
    // ANCHOR_END: lsm_storage-scan_at

    // ANCHOR: lsm_storage-sync
    // ANCHOR: d6-lsm_storage-sync
    /// Makes every earlier write durable: with the WAL (day 6) by syncing it; before, by flushing
    /// every memtable into an SST.
    pub fn sync(&self) -> Result<()> {
        self.check_open()?;
        if self.options.enable_wal {
            // BEGIN SOLUTION day 6: LsmStorageInner::sync — sync the WAL of every memtable, the frozen ones included
            // Frozen memtables are synced when frozen, but a freeze racing with this call may not
            // have got there yet: sync them all (a sync with nothing buffered is cheap).
            let snapshot = self.snapshot();
            snapshot.memtable.sync_wal()?;
            for memtable in &snapshot.imm_memtables {
                memtable.sync_wal()?;
            }
            return Ok(());
            // END SOLUTION
        }
        // BEGIN SOLUTION day 4: LsmStorageInner::sync — freeze the memtable, then flush as many memtables as are frozen now
        self.force_freeze_memtable()?;
        // Each flush takes the oldest frozen memtable, so this many reach the one frozen above.
        // Not "until none is left": while other threads write, that moment may never come.
        for _ in 0..self.num_imm_memtables() {
            self.force_flush_next_imm_memtable()?;
        }
        Ok(())
        // END SOLUTION
    }
    // ANCHOR_END: d6-lsm_storage-sync
    // ANCHOR_END: lsm_storage-sync

    /// At close: syncs and seals the WAL of every memtable (see `RecordWriter::seal`).
    pub(crate) fn seal_wals(&self) -> Result<()> {
        let snapshot = self.snapshot();
        for memtable in std::iter::once(&snapshot.memtable).chain(&snapshot.imm_memtables) {
            memtable.seal_wal()?;
        }
        Ok(())
    }

    /// A snapshot of the tree's shape.
    pub fn shape(&self) -> TreeShape {
        let snapshot = self.snapshot();
        let memtable_info = |m: &Arc<MemTable>| MemTableInfo {
            id: m.id(),
            approximate_size: m.approximate_size(),
            num_entries: m.len(),
        };
        let sst_info = |id: &usize| {
            let table = &snapshot.sstables[id];
            let (first_key, last_key) = match self.options.mvcc {
                true => whole_user_keys(table.first_key(), table.last_key()),
                false => (table.first_key().clone(), table.last_key().clone()),
            };
            SstInfo {
                id: *id,
                first_key,
                last_key,
                size_bytes: table.table_size(),
            }
        };
        TreeShape {
            memtable: memtable_info(&snapshot.memtable),
            immutable_memtables: snapshot.imm_memtables.iter().map(memtable_info).collect(),
            l0: snapshot.l0_sstables.iter().map(sst_info).collect(),
            levels: snapshot
                .levels
                .iter()
                .map(|(level, ids)| crate::inspect::LevelInfo {
                    level: *level,
                    ssts: ids.iter().map(sst_info).collect(),
                })
                .collect(),
        }
    }

    /// The engine's counters.
    pub fn stats(&self) -> EngineStats {
        EngineStats {
            block_cache_hits: self.block_cache.hits(),
            block_cache_misses: self.block_cache.misses(),
            flushes: self.counters.flushes.load(Ordering::Relaxed),
            bytes_flushed: self.counters.bytes_flushed.load(Ordering::Relaxed),
            compactions: self.counters.compactions.load(Ordering::Relaxed),
            bytes_compacted: self.counters.bytes_compacted.load(Ordering::Relaxed),
            ssts_skipped_by_bloom: self.counters.bloom_skips.load(Ordering::Relaxed),
        }
    }
}

/// With versioned keys (day 8), the key range of an SST holding `first..=last` as the shape
/// reports it, and so as the compaction controllers see it: widened to every version of its
/// first and last user keys (from the `Seq::MAX` version of the first to the seq-0 version of
/// the last).
///
/// Compaction must treat a user key as a unit. An SST ending at `k@90` and one of the level below
/// starting at `k@40` do not overlap as byte ranges, yet both hold `k`: a compaction into the
/// bottom level that took the first without the second would drop `k`'s tombstone at 90 and
/// bring back its value at 40. Widened, the two ranges overlap, and the controller takes both.
fn whole_user_keys(first: &Bytes, last: &Bytes) -> (Bytes, Bytes) {
    let widen = |key: &Bytes, seq_bytes: u8| match user_key_part(key) {
        Ok(part) => {
            let mut widened = part.to_vec();
            widened.extend_from_slice(&[seq_bytes; crate::mvcc::SEQ_LEN]);
            Bytes::from(widened)
        }
        // Not a versioned key (a damaged file is caught when it is read): leave it as it is.
        Err(_) => key.clone(),
    };
    // The inverted seq of `Seq::MAX` is all zero bytes, that of seq 0 all 0xFF.
    (widen(first, 0x00), widen(last, 0xFF))
}

/// The last seq before the first write of a session whose first memtable has id `memtable_id`
/// (day 8): the id in the upper 32 bits, 0 below.
///
/// Seqs must keep growing across restarts, or a write after recovery could sort behind an old
/// version of its key. Rather than logging the counter in the manifest (as LevelDB does), the
/// engine borrows a counter that is already durable and growing: memtable ids, which recovery
/// never hands out twice. A session numbers its writes upward from its first memtable's id
/// times 2^32; it cannot reach the next session's start, because every memtable it fills takes
/// an id of its own and holds far fewer than 2^32 versions (it is frozen at 1 GiB at most).
fn first_seq_of_session(memtable_id: usize) -> Result<Seq> {
    let id = u32::try_from(memtable_id).map_err(|_| {
        Error::InvalidArgument(format!(
            "memtable id {memtable_id} leaves no room for sequence numbers (ids must stay below \
             2^32 with versioned keys)"
        ))
    })?;
    Ok(Seq::from(id) << 32)
}

/// The path of SST `id` in `dir`.
pub(crate) fn sst_path(dir: &Path, id: usize) -> PathBuf {
    dir.join(format!("{id:05}.sst"))
}

/// The path of the WAL of memtable `id` in `dir`.
pub(crate) fn wal_path(dir: &Path, id: usize) -> PathBuf {
    dir.join(format!("{id:05}.wal"))
}

/// Creates directory `path` if needed, and then syncs its parent: a power cut could otherwise
/// lose the new directory, and every file in it, however well they were synced.
fn create_dir_durably(path: &Path) -> Result<()> {
    if path.is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(path).map_err(|e| Error::io(path, e))?;
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => fs::sync_dir(parent),
        _ => Ok(()),
    }
}

/// Rejects an empty key or one over [`MAX_KEY_LEN`].
pub(crate) fn check_key(key: &[u8]) -> Result<()> {
    if key.is_empty() {
        return Err(Error::InvalidArgument("keys must not be empty".into()));
    }
    if key.len() > MAX_KEY_LEN {
        return Err(Error::InvalidArgument(format!(
            "key of {} bytes is over the limit of {MAX_KEY_LEN} bytes",
            key.len()
        )));
    }
    Ok(())
}

/// The user key a batch record writes.
fn record_key<K: AsRef<[u8]>, V: AsRef<[u8]>>(record: &WriteBatchRecord<K, V>) -> &[u8] {
    match record {
        WriteBatchRecord::Put(key, _) | WriteBatchRecord::Delete(key) => key.as_ref(),
    }
}

/// Rejects a value over [`MAX_VALUE_LEN`] (an empty value is fine: it is not a delete).
pub(crate) fn check_value(value: &[u8]) -> Result<()> {
    if value.len() > MAX_VALUE_LEN {
        return Err(Error::InvalidArgument(format!(
            "value of {} bytes is over the limit of {MAX_VALUE_LEN} bytes",
            value.len()
        )));
    }
    Ok(())
}

/// The largest id among the `NNNNN.sst` (and later `.wal`) files in `dir`, or 0.
fn largest_file_id(dir: &Path) -> Result<usize> {
    let mut largest = 0;
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let name = entry.file_name();
        let id = name
            .to_str()
            .and_then(|n| n.split_once('.'))
            .and_then(|(stem, _)| stem.parse().ok());
        largest = largest.max(id.unwrap_or(0));
    }
    Ok(largest)
}

// BEGIN SOLUTION HELPERS
/// Looks `key` up in one SST: `None` when the table has no entry for it, `Some(None)` for a
/// tombstone. Tables whose key range excludes `key` are skipped without reading a block.
/// From day 7, tables whose bloom filter rules the key out are skipped too (and counted).
///
/// It reads the one block that can hold `key` directly rather than through an
/// `SsTableIterator`: a lookup needs no cursor that could move on to the next block, and no
/// `Arc` of the table (whose reference count every reading thread would otherwise update).
fn get_from_sst(table: &SsTable, key: &[u8], counters: &Counters) -> Result<Option<Option<Bytes>>> {
    if key < table.first_key().as_ref() || key > table.last_key().as_ref() {
        return Ok(None);
    }
    if !table.may_contain(key) {
        counters.bloom_skips.fetch_add(1, Ordering::Relaxed);
        return Ok(None);
    }
    // `key <= last_key`, so this block exists, and it is the only one that can hold `key`.
    let block = table.read_block_cached(table.find_block_idx(key))?;
    let iter = BlockIterator::create_and_seek_to_key(block, key);
    if iter.is_valid() && iter.key() == key {
        // A slice of the cached block: no copy of the value.
        Ok(Some(iter.value_bytes()))
    } else {
        Ok(None)
    }
}

/// The newest entry of one SST with a versioned key in `from..=to` (the versions of one user
/// key, newest first, day 8): `None` when the table has none. Its bloom filter covers user-key
/// parts, so it can rule the whole range out.
fn get_version_from_sst(
    table: &Arc<SsTable>,
    from: &[u8],
    to: &[u8],
    counters: &Counters,
) -> Result<Option<Option<Bytes>>> {
    if to < table.first_key().as_ref() || from > table.last_key().as_ref() {
        return Ok(None);
    }
    if !table.may_contain(user_key_part(from)?) {
        counters.bloom_skips.fetch_add(1, Ordering::Relaxed);
        return Ok(None);
    }
    let iter = SsTableIterator::create_and_seek_to_key(Arc::clone(table), from)?;
    if iter.is_valid() && iter.key() <= to {
        Ok(Some(iter.value().map(Bytes::copy_from_slice)))
    } else {
        Ok(None)
    }
}

/// Whether a table holding keys `first..=last` can have keys inside `(lower, upper)`.
fn range_overlaps(lower: Bound<&[u8]>, upper: Bound<&[u8]>, first: &[u8], last: &[u8]) -> bool {
    !starts_after(upper, first) && !ends_before(lower, last)
}

/// Whether a table whose smallest key is `first` lies entirely above `upper`.
fn starts_after(upper: Bound<&[u8]>, first: &[u8]) -> bool {
    match upper {
        Bound::Included(upper) => first > upper,
        Bound::Excluded(upper) => first >= upper,
        Bound::Unbounded => false,
    }
}

/// Whether a table whose largest key is `last` lies entirely below `lower`.
fn ends_before(lower: Bound<&[u8]>, last: &[u8]) -> bool {
    match lower {
        Bound::Included(lower) => last < lower,
        Bound::Excluded(lower) => last <= lower,
        Bound::Unbounded => false,
    }
}

/// A cursor made by `seek` (which positions at the first key `>=` its argument), moved to the
/// first key inside `lower`. `Unbounded` seeks to the empty key, which every key is `>=`.
fn seek_to_lower<I: StorageIterator>(
    lower: Bound<&[u8]>,
    seek: impl FnOnce(&[u8]) -> Result<I>,
) -> Result<I> {
    let (key, exclusive) = match lower {
        Bound::Included(key) => (key, false),
        Bound::Excluded(key) => (key, true),
        Bound::Unbounded => (&[][..], false),
    };
    let mut iter = seek(key)?;
    if exclusive && iter.is_valid() && iter.key() == key {
        iter.next()?;
    }
    Ok(iter)
}
// END SOLUTION
