//! Day 8 (snapshots): the two cursors over versioned keys. [`MvccIterator`] is what a read at a
//! seq sees; [`Retention`] is what compaction keeps.

// TODO(you): remove these allows once you have finished day 8 in this file.
#![allow(
    unused_variables,
    unused_imports,
    unused_mut,
    dead_code,
    unreachable_code,
    clippy::ptr_arg
)]

use std::ops::Bound;

use super::{Seq, seq_of, user_key_part};
use crate::error::Result;
use crate::iterators::StorageIterator;

// ANCHOR: mvcc_iterator-struct
/// A read at `read_seq` over a merged cursor of versioned keys: for each user key, its newest
/// version with a seq at or below `read_seq`, unless that version is a tombstone; nothing past
/// `upper` (a bound over versioned keys, see [`super::versioned_bounds`]). Its keys are the user
/// keys.
pub struct MvccIterator<I: StorageIterator> {
    inner: I,
    read_seq: Seq,
    upper: Bound<Vec<u8>>,
    /// The current entry's user key, decoded.
    user_key: Vec<u8>,
    /// The user-key part (escaped, with its terminator) of the version the read sees: how the
    /// older versions of its key are recognised and skipped. Like `user_key`, a buffer reused
    /// from entry to entry, so that a scan allocates nothing per entry.
    group: Vec<u8>,
    is_valid: bool,
}
// ANCHOR_END: mvcc_iterator-struct

impl<I: StorageIterator> MvccIterator<I> {
    // ANCHOR: mvcc_iterator-new
    /// Wraps `inner` and moves to the first user key visible at `read_seq`.
    pub fn new(inner: I, read_seq: Seq, upper: Bound<Vec<u8>>) -> Result<Self> {
        todo!(
            "day 8: MvccIterator::new — remember the read seq and bound, then settle on the first visible user key"
        )
    }
    // ANCHOR_END: mvcc_iterator-new
}

// ANCHOR: mvcc_iterator-storage_iterator
impl<I: StorageIterator> StorageIterator for MvccIterator<I> {
    fn key(&self) -> &[u8] {
        &self.user_key
    }

    fn value(&self) -> Option<&[u8]> {
        self.inner.value()
    }

    fn is_valid(&self) -> bool {
        self.is_valid
    }

    fn next(&mut self) -> Result<()> {
        todo!(
            "day 8: MvccIterator::next — skip the rest of this user key's versions, then settle on the next visible one"
        )
    }

    fn num_active_iterators(&self) -> usize {
        self.inner.num_active_iterators()
    }
}
// ANCHOR_END: mvcc_iterator-storage_iterator

// ANCHOR: retention-struct
/// What a compaction writes out of its merged inputs. Without versioned keys (`watermark` is
/// `None`): every entry, except tombstones when the output is the bottom level. With them: for
/// each user key, every version newer than the watermark, and the newest at or below it (which
/// hides the older ones from every reader), unless that one is a tombstone going to the bottom
/// level, where nothing older is left for it to hide.
pub struct Retention<I: StorageIterator> {
    inner: I,
    watermark: Option<Seq>,
    bottom: bool,
    /// The user-key part of the last entry the cursor stood on (versioned keys only).
    group: Vec<u8>,
    /// Whether the current user key's newest version at or below the watermark was reached.
    reached_watermark: bool,
    /// Whether the current entry's user key differs from the previous entry's.
    starts_new_key: bool,
}
// ANCHOR_END: retention-struct

impl<I: StorageIterator> Retention<I> {
    /// Wraps `inner` and moves to its first entry to keep.
    pub fn new(inner: I, watermark: Option<Seq>, bottom: bool) -> Result<Self> {
        let mut iter = Retention {
            inner,
            watermark,
            bottom,
            group: Vec::new(),
            reached_watermark: false,
            starts_new_key: true,
        };
        iter.settle()?;
        Ok(iter)
    }

    /// Whether the current entry is the first kept one of its user key: an output SST may be
    /// cut only before such an entry, so that all versions of a key stay in one SST of a level
    /// (compaction at the bottom relies on seeing all of them at once).
    pub fn starts_new_key(&self) -> bool {
        self.starts_new_key
    }

    /// Moves to the next entry to keep (the current one, if it is kept).
    fn settle(&mut self) -> Result<()> {
        while self.inner.is_valid() && !self.keep_current()? {
            self.inner.next()?;
        }
        Ok(())
    }

    /// Whether to keep the entry the inner cursor stands on; tracks its user key.
    fn keep_current(&mut self) -> Result<bool> {
        let is_tombstone = self.inner.value().is_none();
        let Some(watermark) = self.watermark else {
            return Ok(!(is_tombstone && self.bottom));
        };
        todo!(
            "day 8: Retention::keep_current — keep versions above the watermark, and the newest at or below it unless it is a tombstone going to the bottom level"
        )
    }
}

impl<I: StorageIterator> StorageIterator for Retention<I> {
    fn key(&self) -> &[u8] {
        self.inner.key()
    }

    fn value(&self) -> Option<&[u8]> {
        self.inner.value()
    }

    fn is_valid(&self) -> bool {
        self.inner.is_valid()
    }

    fn next(&mut self) -> Result<()> {
        // The entry after a kept one starts a new key unless `keep_current` finds it shares it.
        self.starts_new_key = self.watermark.is_none();
        self.inner.next()?;
        self.settle()
    }

    fn num_active_iterators(&self) -> usize {
        self.inner.num_active_iterators()
    }
}
