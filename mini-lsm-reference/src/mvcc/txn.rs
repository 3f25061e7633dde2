//! Day 9 (transactions, Part 2): optimistic serializable transactions.
//!
//! A [`Transaction`] reads the database at the seq it began at (a snapshot, day 8) and keeps its
//! writes to itself until [`Transaction::commit`]. Reads see the transaction's own writes first.
//! Commit then checks, under the commit lock, that nothing the transaction read has changed
//! since it began; if so, all its writes go in as one batch, else none do and the caller gets
//! [`Error::TransactionConflict`] and retries.
//!
//! # The rule
//!
//! A transaction that began at seq `s` and wrote something may commit only if **no write
//! committed after `s`** (by another transaction, or by a plain `put`, `delete` or
//! `write_batch`) touched a key it read with `get`, or a key inside a range it scanned. Then
//! every value it read is still the newest one, so the transaction could as well have run
//! entirely at the moment it commits: one transaction at a time, in commit order. That makes
//! the history serializable. Writes alone never conflict: two transactions that only overwrite
//! the same key blindly commit one after the other, the later one wins.
//!
//! A transaction that wrote nothing commits without any check: it read one consistent snapshot
//! and changes nothing, so it fits in the serial order at its start seq.
//!
//! # The commit log
//!
//! To check the rule, the engine remembers which user keys each write after `s` touched: the
//! [`CommitLog`], one [`CommittedWrite`] per committed batch. Nobody needs an entry at or below
//! the oldest live transaction's start seq, so [`CommitLog::trim`] drops those, and while no
//! transaction is live nothing is logged at all: plain writes pay one uncontended lock.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::ops::Bound;
use std::sync::Arc;

use bytes::Bytes;

use super::Seq;
use crate::error::{Error, Result};
use crate::iterators::StorageIterator;
use crate::iterators::fused_storage_iterator::FusedStorageIterator;
use crate::iterators::two_merge_iterator::TwoMergeIterator;
use crate::lsm_iterator::{Scan, ScanCursor};
use crate::lsm_storage::{LsmStorageInner, check_value};

/// The writes a transaction keeps until it commits: user key → new value, `None` for a delete.
/// A `BTreeMap`, so that a scan can read the transaction's writes in key order.
pub type LocalWrites = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// An optimistic serializable transaction (see the module documentation), from
/// [`crate::MiniLsm::begin`]. `Send`: it may move to another thread. Dropping it without
/// [`Transaction::commit`] aborts it: nothing is written. Either way its snapshot is released.
pub struct Transaction {
    inner: Arc<LsmStorageInner>,
    /// The seq it reads at: every write numbered up to it, and none after.
    start_seq: Seq,
    /// Its own writes, invisible to everyone else until it commits.
    writes: LocalWrites,
    /// What it read, for the check at commit.
    reads: ReadSet,
}

impl Transaction {
    /// Begins a transaction on `inner` at the newest visible seq.
    pub(crate) fn begin(inner: Arc<LsmStorageInner>) -> Result<Self> {
        let start_seq = inner.begin_transaction()?;
        Ok(Transaction {
            inner,
            start_seq,
            writes: LocalWrites::new(),
            reads: ReadSet::default(),
        })
    }

    /// The seq the transaction reads at.
    pub fn start_seq(&self) -> Seq {
        self.start_seq
    }

    // ANCHOR: txn-get
    /// The value of `key` as this transaction sees it: its own latest write of `key` if it
    /// made one (`None` for its own delete), else the database at its start seq. The key joins
    /// the read set.
    pub fn get(&mut self, key: &[u8]) -> Result<Option<Bytes>> {
        self.inner.check_user_key(key)?;
        // BEGIN SOLUTION day 9: Transaction::get — record the key in the read set, then answer from the own writes if they have the key, else get_at the start seq
        // Recorded even when the answer comes from the own writes: that costs at most a
        // conflict a finer rule would spare, and keeps the rule simple to state.
        self.reads.add_key(key);
        if let Some(own) = self.writes.get(key) {
            return Ok(own.as_deref().map(Bytes::copy_from_slice));
        }
        self.inner.get_at(key, self.start_seq)
        // END SOLUTION
    }
    // ANCHOR_END: txn-get

    /// Sets `key` to `value` in this transaction (nobody else sees it before the commit).
    /// Checked like [`crate::MiniLsm::put`]: a bad key or value is [`Error::InvalidArgument`]
    /// now, not at commit.
    pub fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.inner.check_user_key(key)?;
        check_value(value)?;
        self.writes.insert(key.to_vec(), Some(value.to_vec()));
        Ok(())
    }

    /// Deletes `key` in this transaction.
    pub fn delete(&mut self, key: &[u8]) -> Result<()> {
        self.inner.check_user_key(key)?;
        self.writes.insert(key.to_vec(), None);
        Ok(())
    }

    // ANCHOR: txn-scan
    /// The live entries in `(lower, upper)` as this transaction sees them: its own writes
    /// merged over the database at its start seq (its writes win, its deletes hide the key).
    /// The range joins the read set, so that a key another writer adds inside it (a phantom)
    /// is a conflict too.
    pub fn scan(&mut self, lower: Bound<&[u8]>, upper: Bound<&[u8]>) -> Result<Scan> {
        // BEGIN SOLUTION day 9: Transaction::scan — record the range, then merge the own writes inside it (the newer side) over scan_at the start seq, in a TxnIterator
        self.reads.add_range(lower, upper);
        let own: Vec<_> = self
            .writes
            .iter()
            .filter(|(key, _)| in_bounds(key, lower, upper))
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        let database = self.inner.scan_at(lower, upper, self.start_seq)?;
        let merged = TwoMergeIterator::create(LocalWritesIterator::new(own), database)?;
        let cursor = TxnIterator::new(merged)?;
        Ok(FusedStorageIterator::new(ScanCursor::Transaction(
            Box::new(cursor),
        )))
        // END SOLUTION
    }
    // ANCHOR_END: txn-scan

    /// Commits: checks the rule of the module documentation under the commit lock, then writes
    /// every write of the transaction as one batch (one WAL record, consecutive seqs, visible
    /// at once). On [`Error::TransactionConflict`] nothing is written: begin a new transaction
    /// and do the work again. A transaction without writes always commits.
    pub fn commit(self) -> Result<()> {
        self.inner
            .commit_transaction(self.start_seq, &self.reads, &self.writes)
        // `self` is dropped here: its snapshot is released after the write is visible.
    }
}

impl Drop for Transaction {
    fn drop(&mut self) {
        self.inner.end_transaction(self.start_seq);
    }
}

/// What a transaction read: single keys (from `get`) and ranges (from `scan`).
#[derive(Debug, Default)]
pub struct ReadSet {
    keys: BTreeSet<Vec<u8>>,
    ranges: Vec<KeyRange>,
}

/// A scanned range: its lower and upper bound over user keys.
type KeyRange = (Bound<Vec<u8>>, Bound<Vec<u8>>);

impl ReadSet {
    /// Records a key read with `get`.
    pub fn add_key(&mut self, key: &[u8]) {
        self.keys.insert(key.to_vec());
    }

    /// Records a scanned range.
    pub fn add_range(&mut self, lower: Bound<&[u8]>, upper: Bound<&[u8]>) {
        self.ranges
            .push((lower.map(<[u8]>::to_vec), upper.map(<[u8]>::to_vec)));
    }

    // ANCHOR: txn-covers
    /// Whether a write of `key` would change what the transaction read: `key` was read, or lies
    /// inside a scanned range (whether or not the scan saw it: a key added there is a phantom).
    pub fn covers(&self, key: &[u8]) -> bool {
        // BEGIN SOLUTION day 9: ReadSet::covers — the key is in the read keys, or inside one of the scanned ranges
        self.keys.contains(key)
            || self.ranges.iter().any(|(lower, upper)| {
                in_bounds(
                    key,
                    lower.as_ref().map(Vec::as_slice),
                    upper.as_ref().map(Vec::as_slice),
                )
            })
        // END SOLUTION
    }
    // ANCHOR_END: txn-covers
}

/// The user keys of one committed batch, and the seq of its last record.
#[derive(Debug)]
pub struct CommittedWrite {
    /// The batch's last seq. Its records are numbered consecutively up to it, and a
    /// transaction's start seq is never inside a batch (batches become visible whole), so the
    /// batch came after a start seq `s` exactly when `last_seq > s`.
    pub last_seq: Seq,
    /// The user keys it wrote.
    pub keys: Vec<Vec<u8>>,
}

/// The committed writes that a live transaction may still conflict with, and the start seqs of
/// the live transactions (see the module documentation). The engine keeps it behind a mutex,
/// and changes it only under the commit lock, except to let a transaction go
/// ([`CommitLog::finish`]).
#[derive(Debug, Default)]
pub struct CommitLog {
    /// Start seqs of the live transactions → how many began at each.
    active: BTreeMap<Seq, usize>,
    /// Committed batches, in seq order (they are appended under the commit lock).
    entries: VecDeque<CommittedWrite>,
}

impl CommitLog {
    /// Counts a transaction that began at `start_seq` as live.
    pub fn begin(&mut self, start_seq: Seq) {
        *self.active.entry(start_seq).or_default() += 1;
    }

    /// Lets go of a transaction that began at `start_seq` (committed or aborted). The caller
    /// then calls [`CommitLog::trim`].
    pub fn finish(&mut self, start_seq: Seq) {
        if let Some(count) = self.active.get_mut(&start_seq) {
            *count -= 1;
            if *count == 0 {
                self.active.remove(&start_seq);
            }
        }
    }

    /// Logs a committed batch, whose last seq is `last_seq`, that wrote `keys`. Nothing is
    /// logged while no transaction is live: no one could conflict with it. REQUIRES the commit
    /// lock held, so entries arrive in seq order.
    pub fn record<'a>(&mut self, last_seq: Seq, keys: impl IntoIterator<Item = &'a [u8]>) {
        if self.active.is_empty() {
            return;
        }
        let keys = keys.into_iter().map(<[u8]>::to_vec).collect();
        self.entries.push_back(CommittedWrite { last_seq, keys });
    }

    // ANCHOR: txn-trim
    /// Drops the entries no live transaction can conflict with: those at or below the oldest
    /// live start seq, and all of them when no transaction is live.
    pub fn trim(&mut self) {
        // BEGIN SOLUTION day 9: CommitLog::trim — pop entries from the front while their last_seq is at or below the oldest live start seq; clear everything when none is live
        let Some(&oldest) = self.active.keys().next() else {
            self.entries.clear();
            return;
        };
        while self
            .entries
            .front()
            .is_some_and(|entry| entry.last_seq <= oldest)
        {
            self.entries.pop_front();
        }
        // END SOLUTION
    }
    // ANCHOR_END: txn-trim

    // ANCHOR: txn-find_conflict
    /// The first key, with the seq of its batch, that a batch committed after `start_seq` wrote
    /// and `reads` covers: the reason a transaction that began at `start_seq` and read `reads`
    /// must not commit. `None` when it may. REQUIRES the commit lock held, so that no batch can
    /// commit between this check and the transaction's own write.
    pub fn find_conflict(&self, start_seq: Seq, reads: &ReadSet) -> Option<(&[u8], Seq)> {
        // BEGIN SOLUTION day 9: CommitLog::find_conflict — among the entries whose last_seq is after start_seq, the first key the read set covers
        self.entries
            .iter()
            .filter(|entry| entry.last_seq > start_seq)
            .find_map(|entry| {
                entry
                    .keys
                    .iter()
                    .find(|key| reads.covers(key))
                    .map(|key| (key.as_slice(), entry.last_seq))
            })
        // END SOLUTION
    }
    // ANCHOR_END: txn-find_conflict

    /// How many committed batches the log holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the log holds no committed batch.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// A conflict found at commit, as the error the caller gets.
pub(crate) fn conflict_error(key: &[u8], seq: Seq, start_seq: Seq) -> Error {
    Error::TransactionConflict(format!(
        "key \"{}\" was written at seq {seq}, after the transaction began at seq {start_seq}",
        key.escape_ascii()
    ))
}

// ANCHOR: txn_iterator-struct
/// A transaction's scan: its own writes (the newer side of the merge) over the database at its
/// start seq. Its own deletes are tombstones in the merge; this cursor hides them.
pub struct TxnIterator {
    inner: TwoMergeIterator<LocalWritesIterator, Scan>,
}
// ANCHOR_END: txn_iterator-struct

impl TxnIterator {
    /// Wraps `inner` and moves to its first live entry.
    pub fn new(inner: TwoMergeIterator<LocalWritesIterator, Scan>) -> Result<Self> {
        let mut iter = TxnIterator { inner };
        iter.skip_deletes()?;
        Ok(iter)
    }

    // ANCHOR: txn_iterator-skip_deletes
    /// Steps past the entries that are the transaction's own deletes.
    fn skip_deletes(&mut self) -> Result<()> {
        // BEGIN SOLUTION day 9: TxnIterator::skip_deletes — advance while the current entry is a tombstone (the database side never yields one)
        while self.inner.is_valid() && self.inner.value().is_none() {
            self.inner.next()?;
        }
        Ok(())
        // END SOLUTION
    }
    // ANCHOR_END: txn_iterator-skip_deletes
}

impl StorageIterator for TxnIterator {
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
        self.inner.next()?;
        self.skip_deletes()
    }

    fn num_active_iterators(&self) -> usize {
        self.inner.num_active_iterators()
    }
}

/// A cursor over a transaction's own writes inside a scan's range, in key order (given code).
pub struct LocalWritesIterator {
    entries: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    index: usize,
}

impl LocalWritesIterator {
    /// A cursor over `entries`, which are sorted by key, at the first one.
    pub fn new(entries: Vec<(Vec<u8>, Option<Vec<u8>>)>) -> Self {
        LocalWritesIterator { entries, index: 0 }
    }
}

impl StorageIterator for LocalWritesIterator {
    fn key(&self) -> &[u8] {
        &self.entries[self.index].0
    }

    fn value(&self) -> Option<&[u8]> {
        self.entries[self.index].1.as_deref()
    }

    fn is_valid(&self) -> bool {
        self.index < self.entries.len()
    }

    fn next(&mut self) -> Result<()> {
        self.index += 1;
        Ok(())
    }
}

/// Whether `key` lies inside `(lower, upper)`. Written out rather than `BTreeMap::range`,
/// which panics on the inverted ranges a caller may pass (they are simply empty here).
fn in_bounds(key: &[u8], lower: Bound<&[u8]>, upper: Bound<&[u8]>) -> bool {
    let above = match lower {
        Bound::Included(lower) => key >= lower,
        Bound::Excluded(lower) => key > lower,
        Bound::Unbounded => true,
    };
    let below = match upper {
        Bound::Included(upper) => key <= upper,
        Bound::Excluded(upper) => key < upper,
        Bound::Unbounded => true,
    };
    above && below
}
