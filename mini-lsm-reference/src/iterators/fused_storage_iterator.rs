//! Day 4 (engine): [`FusedStorageIterator`], the guard between the engine's cursors and the
//! user.

use super::StorageIterator;
use crate::error::{Error, Result};

/// Wraps a cursor so that misuse is harmless: once the inner cursor is exhausted, `next` is a
/// no-op; once it has failed, every later `next` returns an error again instead of touching a
/// broken cursor; `key` and `value` on an invalid cursor panic with a clear message instead of
/// whatever the inner cursor would do. The engine's scans are wrapped in it.
pub struct FusedStorageIterator<I: StorageIterator> {
    iter: I,
    /// The message of the error `next` returned, if it ever did.
    failed: Option<String>,
}

impl<I: StorageIterator> FusedStorageIterator<I> {
    /// Guards `iter`.
    pub fn new(iter: I) -> Self {
        FusedStorageIterator { iter, failed: None }
    }
}

// ANCHOR: fused_storage_iterator-storage_iterator
impl<I: StorageIterator> StorageIterator for FusedStorageIterator<I> {
    fn key(&self) -> &[u8] {
        // BEGIN SOLUTION day 4: FusedStorageIterator::key — panic with a clear message when invalid, else the inner key
        assert!(self.is_valid(), "key() called on an invalid iterator");
        self.iter.key()
        // END SOLUTION
    }

    fn value(&self) -> Option<&[u8]> {
        // BEGIN SOLUTION day 4: FusedStorageIterator::value — panic with a clear message when invalid, else the inner value
        assert!(self.is_valid(), "value() called on an invalid iterator");
        self.iter.value()
        // END SOLUTION
    }

    fn is_valid(&self) -> bool {
        // BEGIN SOLUTION day 4: FusedStorageIterator::is_valid — false after a failure, else the inner cursor's answer
        self.failed.is_none() && self.iter.is_valid()
        // END SOLUTION
    }

    fn next(&mut self) -> Result<()> {
        // BEGIN SOLUTION day 4: FusedStorageIterator::next — repeat an earlier failure, do nothing when exhausted, remember a new failure
        if let Some(message) = &self.failed {
            return Err(Error::InvalidArgument(format!(
                "next() called on an iterator that already failed: {message}"
            )));
        }
        if !self.iter.is_valid() {
            return Ok(());
        }
        if let Err(e) = self.iter.next() {
            self.failed = Some(e.to_string());
            return Err(e);
        }
        Ok(())
        // END SOLUTION
    }

    fn num_active_iterators(&self) -> usize {
        self.iter.num_active_iterators()
    }
}
// ANCHOR_END: fused_storage_iterator-storage_iterator
