//! Day 4 (engine): [`MiniLsm`], the handle users open, and its background flush thread.

use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::{Sender, channel};
use std::thread::JoinHandle;

use bytes::Bytes;
use parking_lot::Mutex;

use crate::error::{Error, Result};
use crate::inspect::{EngineStats, RecoveryReport, TreeShape};
use crate::lsm_iterator::Scan;
use crate::lsm_storage::{LsmStorageInner, WorkerSignal, WriteBatchRecord};
use crate::mvcc::Seq;
use crate::mvcc::txn::Transaction;
use crate::options::{CompactionOptions, LsmOptions};

/// Frozen memtables allowed beyond `max_immutable_memtables` before a writer flushes one itself.
const FLUSH_BACKLOG: usize = 4;
/// L0 may grow to this many times its compaction trigger before a writer compacts it itself:
/// 5 x 4 = 20 SSTs by default, the L0 size at which RocksDB starts slowing writes down.
const L0_BACKLOG_FACTOR: usize = 5;

/// An LSM-tree key-value store. `Send + Sync`: share it through the `Arc` that [`MiniLsm::open`]
/// returns. Closing stops the background thread; dropping the handle closes it too.
pub struct MiniLsm {
    inner: Arc<LsmStorageInner>,
    flush_thread: Mutex<Option<JoinHandle<Result<()>>>>,
    /// Present when `background_compaction` is on (day 5).
    compaction_thread: Mutex<Option<JoinHandle<Result<()>>>>,
}

impl MiniLsm {
    /// Opens the engine in directory `path`, creating it if it does not exist.
    ///
    /// Fails with [`Error::InvalidArgument`] when an option is out of range or `path` is empty
    /// or not a directory (creating nothing), with [`Error::Locked`] when another engine has the
    /// directory open, and with [`Error::Io`] when the directory cannot be created or read.
    pub fn open(path: impl AsRef<Path>, options: LsmOptions) -> Result<Arc<Self>> {
        let inner = Arc::new(LsmStorageInner::open(path.as_ref(), options)?);
        let flush_thread = spawn_worker(&inner, "mini-lsm-flush", &inner.flush_signal, flush_work)?;
        let compaction_thread = if inner.options.background_compaction {
            let thread = spawn_worker(
                &inner,
                "mini-lsm-compact",
                &inner.compaction_signal,
                compact_work,
            )?;
            Some(thread)
        } else {
            None
        };
        Ok(Arc::new(MiniLsm {
            inner,
            flush_thread: Mutex::new(Some(flush_thread)),
            compaction_thread: Mutex::new(compaction_thread),
        }))
    }

    /// The newest value of `key`, or `None` if it does not exist.
    pub fn get(&self, key: &[u8]) -> Result<Option<Bytes>> {
        self.inner.get(key)
    }

    /// Sets `key` to `value`. An empty value is a value, not a delete.
    pub fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        self.write_batch(&[WriteBatchRecord::Put(key, value)])
    }

    /// Deletes `key` (writes a tombstone).
    pub fn delete(&self, key: &[u8]) -> Result<()> {
        self.write_batch::<&[u8], &[u8]>(&[WriteBatchRecord::Delete(key)])
    }

    /// Applies a batch of puts and deletes in order; an invalid record rejects the whole batch.
    /// An empty batch is a no-op: `Ok` (or [`Error::Closed`] once closed), and nothing is
    /// written, not even a WAL record.
    pub fn write_batch<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        &self,
        batch: &[WriteBatchRecord<K, V>],
    ) -> Result<()> {
        if batch.is_empty() {
            return self.inner.check_open();
        }
        // Before the write, not after: if this work fails, the write must not have happened
        // (a write that returns an error is never applied).
        self.keep_up_with_background_work()?;
        self.inner.write_batch(batch)
    }

    /// Write backpressure. Writers can freeze memtables faster than the flush thread writes them
    /// out, and flush SSTs into L0 faster than the compaction thread moves them down. Left
    /// alone, frozen memtables would fill memory and every read would check a growing pile of
    /// L0 SSTs. So a writer that finds a backlog past a limit does one step of that work itself
    /// before it writes: that slows writers down to the speed of the background threads.
    /// (RocksDB instead delays and then stops writes at similar limits.)
    fn keep_up_with_background_work(&self) -> Result<()> {
        let inner = &self.inner;
        let memtable_limit = inner
            .options
            .max_immutable_memtables
            .saturating_add(FLUSH_BACKLOG);
        if inner.num_imm_memtables() > memtable_limit {
            inner.force_flush_next_imm_memtable()?;
        }
        // The number of L0 SSTs at which the compaction thread is deemed behind: the leveled L0
        // trigger, or tiered's most runs (day 10: every L0 SST is a run).
        let l0_trigger = match &inner.options.compaction {
            CompactionOptions::Leveled(leveled) => Some(leveled.level0_file_num_compaction_trigger),
            CompactionOptions::Tiered(tiered) => Some(tiered.max_runs),
            CompactionOptions::NoCompaction => None,
        };
        if let Some(l0_trigger) = l0_trigger
            && inner.options.background_compaction
        {
            // `validate` bounds the trigger; saturating all the same, since a limit past
            // `usize::MAX` means "no limit", never a wrap to a small one.
            let l0_limit = l0_trigger.saturating_mul(L0_BACKLOG_FACTOR);
            if inner.snapshot().l0_sstables.len() >= l0_limit {
                inner.trigger_compaction()?;
            }
        }
        Ok(())
    }

    /// The live entries with keys in `(lower, upper)`, in key order: a cursor, or with `for`, an
    /// iterator of `Result<(key, value)>`.
    pub fn scan(&self, lower: Bound<&[u8]>, upper: Bound<&[u8]>) -> Result<Scan> {
        self.inner.scan(lower, upper)
    }

    /// A point-in-time view of the database (day 8, with [`LsmOptions::mvcc`]): its reads see
    /// exactly the writes that completed before this call, however many writes, flushes and
    /// compactions follow. Compaction keeps the versions it reads until it is dropped.
    ///
    /// Without `mvcc` there are no versions to read: [`Error::InvalidArgument`].
    pub fn snapshot(&self) -> Result<Snapshot> {
        self.inner.check_open()?;
        if !self.inner.options.mvcc {
            return Err(Error::InvalidArgument(
                "snapshots need versioned keys: open the engine with LsmOptions::mvcc".into(),
            ));
        }
        Ok(Snapshot {
            seq: self.inner.versions.register(),
            inner: Arc::clone(&self.inner),
        })
    }

    /// Begins an optimistic serializable transaction (day 9, with [`LsmOptions::mvcc`]): it
    /// reads a snapshot taken now, plus its own writes, and writes nothing until
    /// [`Transaction::commit`], which fails with [`Error::TransactionConflict`] (writing
    /// nothing) when a write committed meanwhile changed something it read. Drop it to abort.
    ///
    /// Without `mvcc` there are no snapshots to read: [`Error::InvalidArgument`].
    pub fn begin(&self) -> Result<Transaction> {
        self.inner.check_open()?;
        if !self.inner.options.mvcc {
            return Err(Error::InvalidArgument(
                "transactions need versioned keys: open the engine with LsmOptions::mvcc".into(),
            ));
        }
        // No write backpressure here or at commit: a transaction's commit is one batch, like
        // `write_batch`, but backpressure lives in this handle and the transaction holds the
        // storage only. A workload of transactions leaves flushing to the background thread.
        Transaction::begin(Arc::clone(&self.inner))
    }

    /// How many committed batches the transactions' commit log holds (day 9): 0 whenever no
    /// transaction is live. For tests and inspection.
    pub fn commit_log_len(&self) -> usize {
        self.inner.commit_log_len()
    }

    /// Makes every earlier write durable.
    pub fn sync(&self) -> Result<()> {
        self.inner.sync()
    }

    /// Freezes the memtable now (a synchronous hook for tests and tools). Returns whether there
    /// was anything to freeze.
    pub fn force_freeze_memtable(&self) -> Result<bool> {
        self.inner.force_freeze_memtable()
    }

    /// Flushes the oldest immutable memtable now. Returns whether there was one.
    pub fn force_flush_next_imm_memtable(&self) -> Result<bool> {
        self.inner.force_flush_next_imm_memtable()
    }

    /// Freezes the memtable and flushes it into L0 with every memtable frozen before it,
    /// synchronously. Memtables that other threads freeze meanwhile may stay frozen.
    pub fn force_flush(&self) -> Result<()> {
        self.inner.force_freeze_memtable()?;
        // Flushes go oldest first: this many reach the memtable frozen above. Flushing until
        // none is left might never end while other threads keep writing.
        for _ in 0..self.inner.num_imm_memtables() {
            self.inner.force_flush_next_imm_memtable()?;
        }
        Ok(())
    }

    /// Compacts everything into the bottom level now, dropping every tombstone (day 5; a
    /// synchronous hook for tests and tools).
    pub fn force_full_compaction(&self) -> Result<()> {
        self.inner.force_full_compaction()
    }

    /// Runs compactions until the controller finds nothing to do; returns how many ran
    /// (day 5; a synchronous hook for tests and tools).
    pub fn compact_until_idle(&self) -> Result<usize> {
        self.inner.check_open()?;
        self.inner.compact_until_idle()
    }

    /// A snapshot of the tree's shape: memtables, L0 and levels.
    pub fn shape(&self) -> TreeShape {
        self.inner.shape()
    }

    /// What recovery found when the engine was opened (day 6).
    pub fn recovery_report(&self) -> &RecoveryReport {
        self.inner.recovery_report()
    }

    /// The engine's counters.
    pub fn stats(&self) -> EngineStats {
        self.inner.stats()
    }

    /// The engine's directory.
    pub fn path(&self) -> &Path {
        self.inner.path()
    }

    /// The options the engine was opened with.
    pub fn options(&self) -> &LsmOptions {
        &self.inner.options
    }

    /// Stops the background threads and refuses further reads and writes. Returns the first error
    /// a background thread met, if any. Closing twice is harmless.
    pub fn close(&self) -> Result<()> {
        // With the WAL on, writes acknowledged before `close` must survive it, even unsynced.
        // A second close finds the engine closed already: nothing left to sync.
        let synced = if self.inner.options.enable_wal && self.inner.check_open().is_ok() {
            self.inner.sync().and_then(|()| self.inner.seal_wals())
        } else {
            Ok(())
        };
        self.inner.mark_closed();
        // The flush thread stops first: its last flushes may still wake the compaction thread.
        let flushed = stop_worker(&self.inner, &self.inner.flush_signal, &self.flush_thread);
        let compacted = stop_worker(
            &self.inner,
            &self.inner.compaction_signal,
            &self.compaction_thread,
        );
        synced.and(flushed).and(compacted)
    }
}

/// A point-in-time view of a [`MiniLsm`] (see [`MiniLsm::snapshot`]). `Send + Sync`; it keeps
/// the versions it can read from compaction until it is dropped, so drop it when done.
pub struct Snapshot {
    inner: Arc<LsmStorageInner>,
    seq: Seq,
}

impl Snapshot {
    /// The seq the snapshot reads at: every write numbered up to it, and none after.
    pub fn seq(&self) -> Seq {
        self.seq
    }

    /// The value `key` had when the snapshot was taken.
    pub fn get(&self, key: &[u8]) -> Result<Option<Bytes>> {
        self.inner.get_at(key, self.seq)
    }

    /// The entries in `(lower, upper)` as they were when the snapshot was taken.
    pub fn scan(&self, lower: Bound<&[u8]>, upper: Bound<&[u8]>) -> Result<Scan> {
        self.inner.scan_at(lower, upper, self.seq)
    }
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        self.inner.versions.release(self.seq);
    }
}

impl Drop for MiniLsm {
    fn drop(&mut self) {
        // Errors cannot be returned from drop; call `close` to see them.
        let _ = self.close();
    }
}

type Worker = Mutex<Option<JoinHandle<Result<()>>>>;

/// Starts a background thread that runs `work` each time `signal` is sent [`WorkerSignal::Work`],
/// and once more on [`WorkerSignal::Stop`] before exiting. It stops at the first error and
/// returns it (from `close`).
fn spawn_worker(
    inner: &Arc<LsmStorageInner>,
    name: &str,
    signal: &Mutex<Option<Sender<WorkerSignal>>>,
    work: fn(&LsmStorageInner) -> Result<()>,
) -> Result<JoinHandle<Result<()>>> {
    let (sender, receiver) = channel();
    *signal.lock() = Some(sender);
    let inner_for_thread = Arc::clone(inner);
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            loop {
                let signal = receiver.recv();
                work(&inner_for_thread)?;
                if !matches!(signal, Ok(WorkerSignal::Work)) {
                    return Ok(());
                }
            }
        })
        .map_err(|e| Error::io(inner.path(), e))
}

/// Sends [`WorkerSignal::Stop`] and waits for the thread; harmless when it is already stopped.
fn stop_worker(
    inner: &LsmStorageInner,
    signal: &Mutex<Option<Sender<WorkerSignal>>>,
    thread: &Worker,
) -> Result<()> {
    // Taking the sender also drops it, which ends the thread's `recv` if the send raced with
    // its exit; a send error means it is already gone.
    if let Some(sender) = signal.lock().take() {
        let _ = sender.send(WorkerSignal::Stop);
    }
    let Some(thread) = thread.lock().take() else {
        return Ok(());
    };
    thread.join().map_err(|_| Error::Io {
        path: inner.path().to_path_buf(),
        source: std::io::Error::other("a background thread panicked"),
    })?
}

// ANCHOR: mini_lsm-flush_work
/// The flush thread's work: flush the oldest immutable memtables until at most
/// `max_immutable_memtables` remain.
fn flush_work(inner: &LsmStorageInner) -> Result<()> {
    while inner.num_imm_memtables() > inner.options.max_immutable_memtables {
        inner.force_flush_next_imm_memtable()?;
    }
    Ok(())
}
// ANCHOR_END: mini_lsm-flush_work

/// The compaction thread's work: compact until the controller is satisfied.
fn compact_work(inner: &LsmStorageInner) -> Result<()> {
    inner.compact_until_idle().map(|_| ())
}
