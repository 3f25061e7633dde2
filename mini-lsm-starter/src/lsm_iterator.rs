//! Day 4 (engine): [`LsmIterator`], the engine's scan over every layer of the tree.

// TODO(you): remove these allows once you have finished day 4 in this file.
#![allow(
    unused_variables,
    unused_imports,
    unused_mut,
    dead_code,
    unreachable_code,
    clippy::ptr_arg
)]

use std::ops::Bound;

use bytes::Bytes;

use crate::error::Result;
use crate::iterators::StorageIterator;
use crate::iterators::fused_storage_iterator::FusedStorageIterator;
use crate::iterators::merge_iterator::MergeIterator;
use crate::iterators::sst_concat_iterator::SstConcatIterator;
use crate::iterators::two_merge_iterator::TwoMergeIterator;
use crate::mem_table::MemTableIterator;
use crate::mvcc::iterator::MvccIterator;
use crate::mvcc::txn::TxnIterator;
use crate::table::SsTableIterator;

/// Memtables (newest first) merged with the L0 SSTs (newest first), merged with one concat
/// iterator per level (upper level first). Each side of a merge is newer than the next.
pub(crate) type LsmIteratorInner = TwoMergeIterator<
    TwoMergeIterator<MergeIterator<MemTableIterator>, MergeIterator<SsTableIterator>>,
    MergeIterator<SstConcatIterator>,
>;

// ANCHOR: lsm_iterator-lsm_iterator
/// The user's view of the tree: newest version of each key, tombstones hidden, nothing past the
/// scan's upper bound. The lower bound is applied when the sources are created.
pub struct LsmIterator {
    inner: LsmIteratorInner,
    /// The scan's upper bound; SST iterators do not know it, so it is checked here.
    upper: Bound<Bytes>,
    /// Whether the cursor stands on an entry the user may see.
    is_valid: bool,
}
// ANCHOR_END: lsm_iterator-lsm_iterator

impl LsmIterator {
    // ANCHOR: lsm_iterator-new
    /// Wraps `inner` and moves to its first visible entry at or before `upper`.
    pub(crate) fn new(inner: LsmIteratorInner, upper: Bound<Bytes>) -> Result<Self> {
        todo!(
            "day 4: LsmIterator::new — remember the upper bound, then skip to the first live entry inside it"
        )
    }
    // ANCHOR_END: lsm_iterator-new
}

// ANCHOR: lsm_iterator-storage_iterator
impl StorageIterator for LsmIterator {
    fn key(&self) -> &[u8] {
        todo!("day 4: LsmIterator::key — the inner merge's key")
    }

    fn value(&self) -> Option<&[u8]> {
        todo!("day 4: LsmIterator::value — the inner merge's value (never a tombstone here)")
    }

    fn is_valid(&self) -> bool {
        todo!("day 4: LsmIterator::is_valid — false past the upper bound")
    }

    fn next(&mut self) -> Result<()> {
        todo!(
            "day 4: LsmIterator::next — advance the inner merge, then skip tombstones and check the upper bound"
        )
    }

    fn num_active_iterators(&self) -> usize {
        self.inner.num_active_iterators()
    }
}
// ANCHOR_END: lsm_iterator-storage_iterator

/// The result of [`crate::MiniLsm::scan`]: a [`StorageIterator`] cursor, and also, through
/// `IntoIterator`, a plain Rust iterator of `Result<(key, value)>` for `for` loops.
pub type Scan = FusedStorageIterator<ScanCursor>;

/// The cursor under a [`Scan`]: over the newest version of each key (days 1–7), or over the
/// versions a read at one seq sees (day 8, with [`crate::LsmOptions::mvcc`]).
pub enum ScanCursor {
    /// Keys without versions: [`LsmIterator`].
    Latest(LsmIterator),
    /// Versioned keys read at one seq: [`MvccIterator`].
    Versioned(MvccIterator<LsmIteratorInner>),
    /// A transaction's own writes over versioned keys read at its start seq (day 9). Boxed:
    /// it holds a [`Scan`] of its own.
    Transaction(Box<TxnIterator>),
}

impl StorageIterator for ScanCursor {
    fn key(&self) -> &[u8] {
        match self {
            ScanCursor::Latest(iter) => iter.key(),
            ScanCursor::Versioned(iter) => iter.key(),
            ScanCursor::Transaction(iter) => iter.key(),
        }
    }

    fn value(&self) -> Option<&[u8]> {
        match self {
            ScanCursor::Latest(iter) => iter.value(),
            ScanCursor::Versioned(iter) => iter.value(),
            ScanCursor::Transaction(iter) => iter.value(),
        }
    }

    fn is_valid(&self) -> bool {
        match self {
            ScanCursor::Latest(iter) => iter.is_valid(),
            ScanCursor::Versioned(iter) => iter.is_valid(),
            ScanCursor::Transaction(iter) => iter.is_valid(),
        }
    }

    fn next(&mut self) -> Result<()> {
        match self {
            ScanCursor::Latest(iter) => iter.next(),
            ScanCursor::Versioned(iter) => iter.next(),
            ScanCursor::Transaction(iter) => iter.next(),
        }
    }

    fn num_active_iterators(&self) -> usize {
        match self {
            ScanCursor::Latest(iter) => iter.num_active_iterators(),
            ScanCursor::Versioned(iter) => iter.num_active_iterators(),
            ScanCursor::Transaction(iter) => iter.num_active_iterators(),
        }
    }
}

/// A std [`Iterator`] over a scan, made by `for entry in db.scan(..)?`.
pub struct ScanEntries {
    scan: Scan,
    /// Set once an error was returned, so the iterator ends after reporting it.
    done: bool,
}

impl IntoIterator for Scan {
    type Item = Result<(Bytes, Bytes)>;
    type IntoIter = ScanEntries;

    fn into_iter(self) -> ScanEntries {
        ScanEntries {
            scan: self,
            done: false,
        }
    }
}

impl Iterator for ScanEntries {
    type Item = Result<(Bytes, Bytes)>;

    /// Copies the current entry out (the cursor's slices borrow its blocks), then advances.
    fn next(&mut self) -> Option<Self::Item> {
        if self.done || !self.scan.is_valid() {
            return None;
        }
        let key = Bytes::copy_from_slice(self.scan.key());
        let value = Bytes::copy_from_slice(self.scan.value().unwrap_or_default());
        match self.scan.next() {
            Ok(()) => Some(Ok((key, value))),
            Err(e) => {
                // The current entry was read fine, but the caller must learn that the scan broke
                // before its end: report the error instead, and stop.
                self.done = true;
                Some(Err(e))
            }
        }
    }
}
