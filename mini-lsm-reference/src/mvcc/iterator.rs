//! Day 8 (snapshots): the two cursors over versioned keys. [`MvccIterator`] is what a read at a
//! seq sees; [`Retention`] is what compaction keeps.

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
        // BEGIN SOLUTION day 8: MvccIterator::new — remember the read seq and bound, then settle on the first visible user key
        let mut iter = MvccIterator {
            inner,
            read_seq,
            upper,
            user_key: Vec::new(),
            group: Vec::new(),
            is_valid: false,
        };
        iter.settle()?;
        Ok(iter)
        // END SOLUTION
    }
    // ANCHOR_END: mvcc_iterator-new

    // BEGIN SOLUTION HELPERS
    /// Moves to the newest version at or below `read_seq` of the next user key that has one and
    /// is not deleted at that seq, or ends.
    fn settle(&mut self) -> Result<()> {
        self.is_valid = false;
        while self.inner.is_valid() && self.within_upper(self.inner.key()) {
            if seq_of(self.inner.key())? > self.read_seq {
                // Written after the read began: invisible, however new.
                self.inner.next()?;
                continue;
            }
            // The first version at or below the read seq is the one the read sees.
            let part = user_key_part(self.inner.key())?;
            self.group.clear();
            self.group.extend_from_slice(part);
            if self.inner.value().is_none() {
                self.skip_user_key()?;
                continue;
            }
            super::decode_user_key_into(self.inner.key(), &mut self.user_key)?;
            self.is_valid = true;
            return Ok(());
        }
        Ok(())
    }

    /// Steps past the entry the read sees and the older versions of its user key (`group`).
    fn skip_user_key(&mut self) -> Result<()> {
        self.inner.next()?;
        while self.inner.is_valid() && user_key_part(self.inner.key())? == self.group.as_slice() {
            self.inner.next()?;
        }
        Ok(())
    }

    fn within_upper(&self, key: &[u8]) -> bool {
        match &self.upper {
            Bound::Included(upper) => key <= upper.as_slice(),
            Bound::Excluded(upper) => key < upper.as_slice(),
            Bound::Unbounded => true,
        }
    }
    // END SOLUTION
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
        // BEGIN SOLUTION day 8: MvccIterator::next — skip the rest of this user key's versions, then settle on the next visible one
        self.is_valid = false;
        self.skip_user_key()?;
        self.settle()
        // END SOLUTION
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
        // BEGIN SOLUTION day 8: Retention::keep_current — keep versions above the watermark, and the newest at or below it unless it is a tombstone going to the bottom level
        let key = self.inner.key();
        let group = user_key_part(key)?;
        let new_key = group != self.group.as_slice();
        if new_key {
            self.group.clear();
            self.group.extend_from_slice(group);
            self.reached_watermark = false;
            self.starts_new_key = true;
        }
        let keep = if seq_of(key)? > watermark {
            true
        } else if !self.reached_watermark {
            self.reached_watermark = true;
            !(is_tombstone && self.bottom)
        } else {
            false
        };
        Ok(keep)
        // END SOLUTION
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
