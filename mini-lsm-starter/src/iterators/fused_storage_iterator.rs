//! Day 4 (engine): [`FusedStorageIterator`], the guard between the engine's cursors and the
//! user.

// TODO(you): remove these allows once you have finished day 4 in this file.
#![allow(
    unused_variables,
    unused_imports,
    unused_mut,
    dead_code,
    unreachable_code,
    clippy::ptr_arg
)]

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
        todo!(
            "day 4: FusedStorageIterator::key — panic with a clear message when invalid, else the inner key"
        )
    }

    fn value(&self) -> Option<&[u8]> {
        todo!(
            "day 4: FusedStorageIterator::value — panic with a clear message when invalid, else the inner value"
        )
    }

    fn is_valid(&self) -> bool {
        todo!(
            "day 4: FusedStorageIterator::is_valid — false after a failure, else the inner cursor's answer"
        )
    }

    fn next(&mut self) -> Result<()> {
        todo!(
            "day 4: FusedStorageIterator::next — repeat an earlier failure, do nothing when exhausted, remember a new failure"
        )
    }

    fn num_active_iterators(&self) -> usize {
        self.iter.num_active_iterators()
    }
}
// ANCHOR_END: fused_storage_iterator-storage_iterator
