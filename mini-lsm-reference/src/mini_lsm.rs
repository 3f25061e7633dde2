//! Day 4 (engine): [`MiniLsm`], the handle users open, and its background flush thread.

use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, channel};
use std::thread::JoinHandle;

use bytes::Bytes;
use parking_lot::Mutex;

use crate::error::{Error, Result};
use crate::inspect::{EngineStats, TreeShape};
use crate::lsm_iterator::Scan;
use crate::lsm_storage::{FlushSignal, LsmStorageInner, WriteBatchRecord};
use crate::options::LsmOptions;

/// An LSM-tree key-value store. `Send + Sync`: share it through the `Arc` that [`MiniLsm::open`]
/// returns. Closing stops the background thread; dropping the handle closes it too.
pub struct MiniLsm {
    inner: Arc<LsmStorageInner>,
    flush_thread: Mutex<Option<JoinHandle<Result<()>>>>,
}

impl MiniLsm {
    /// Opens the engine in directory `path`, creating it if it does not exist.
    ///
    /// Fails with [`Error::InvalidArgument`] when an option is out of range or `path` is not a
    /// directory, and with [`Error::Io`] when the directory cannot be created or read.
    pub fn open(path: impl AsRef<Path>, options: LsmOptions) -> Result<Arc<Self>> {
        let inner = Arc::new(LsmStorageInner::open(path.as_ref(), options)?);
        let (sender, receiver) = channel();
        *inner.flush_signal.lock() = Some(sender);
        let thread_inner = Arc::clone(&inner);
        let flush_thread = std::thread::Builder::new()
            .name("mini-lsm-flush".into())
            .spawn(move || flush_loop(&thread_inner, &receiver))
            .map_err(|e| Error::io(path.as_ref(), e))?;
        Ok(Arc::new(MiniLsm {
            inner,
            flush_thread: Mutex::new(Some(flush_thread)),
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
    pub fn write_batch<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        &self,
        batch: &[WriteBatchRecord<K, V>],
    ) -> Result<()> {
        self.inner.write_batch(batch)
    }

    /// The live entries with keys in `(lower, upper)`, in key order: a cursor, or with `for`, an
    /// iterator of `Result<(key, value)>`.
    pub fn scan(&self, lower: Bound<&[u8]>, upper: Bound<&[u8]>) -> Result<Scan> {
        self.inner.scan(lower, upper)
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

    /// Freezes the memtable and flushes every immutable memtable into L0, synchronously.
    pub fn force_flush(&self) -> Result<()> {
        self.inner.force_freeze_memtable()?;
        while self.inner.force_flush_next_imm_memtable()? {}
        Ok(())
    }

    /// A snapshot of the tree's shape: memtables, L0 and levels.
    pub fn shape(&self) -> TreeShape {
        self.inner.shape()
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

    /// Stops the background thread and refuses further reads and writes. Returns the first error
    /// the background thread met, if any. Closing twice is harmless.
    pub fn close(&self) -> Result<()> {
        self.inner.mark_closed();
        // Dropping the sender after the stop signal also ends the thread if the send raced with
        // its exit; a send error means it is already gone.
        if let Some(signal) = self.inner.flush_signal.lock().take() {
            let _ = signal.send(FlushSignal::Stop);
        }
        let Some(thread) = self.flush_thread.lock().take() else {
            return Ok(());
        };
        thread.join().map_err(|_| Error::Io {
            path: self.inner.path().to_path_buf(),
            source: std::io::Error::other("the flush thread panicked"),
        })?
    }
}

impl Drop for MiniLsm {
    fn drop(&mut self) {
        // Errors cannot be returned from drop; call `close` to see them.
        let _ = self.close();
    }
}

/// The background flush thread: after every freeze, flush the oldest immutable memtables until
/// at most `max_immutable_memtables` remain. Stops at the first error and returns it.
fn flush_loop(inner: &LsmStorageInner, signals: &Receiver<FlushSignal>) -> Result<()> {
    loop {
        let signal = signals.recv();
        while inner.num_imm_memtables() > inner.options.max_immutable_memtables {
            inner.force_flush_next_imm_memtable()?;
        }
        if !matches!(signal, Ok(FlushSignal::Frozen)) {
            return Ok(());
        }
    }
}
