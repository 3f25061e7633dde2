//! Day 3 (memtables): the in-memory sorted map every write goes to first.
//!
//! A memtable is a lock-free skip list (`crossbeam_skiplist::SkipMap`), so writers and readers
//! never block each other. Each entry maps a key to `Some(value)` or to `None`, a tombstone that
//! records a delete until compaction can drop it. When the memtable reaches its size target the
//! engine freezes it (no more writes) and later flushes it into an L0 SST.
//!
//! An overwrite changes the value *inside* the key's entry instead of inserting a new entry.
//! `SkipMap::insert` replaces an existing key in two steps, unlinking the old entry and then
//! linking the new one; a `get` that runs between the two finds no entry at all, goes on to the
//! older memtables and SSTs, and returns a value that was overwritten before it started: a stale
//! read. So each entry holds its value in a [`Slot`], a tiny lock around `Option<Bytes>`, and
//! the key is inserted only once.

// TODO(you): remove these allows once you have finished day 6 in this file.
#![allow(
    unused_variables,
    unused_imports,
    unused_mut,
    dead_code,
    unreachable_code,
    clippy::ptr_arg
)]

use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};

use bytes::{Bytes, BytesMut};
use crossbeam_skiplist::SkipMap;
use parking_lot::Mutex;

use crate::error::Result;
use crate::iterators::StorageIterator;
use crate::lsm_storage::{check_key, check_value};
use crate::record_file::TornTail;
use crate::table::SsTableBuilder;
use crate::table::bloom::key_hash;
use crate::wal::Wal;

/// Bytes an entry costs in [`MemTable::approximate_size`] besides its key and value: a rough
/// figure for the skip-list node, so that many tiny entries still add up.
const ENTRY_OVERHEAD: usize = 16;

// ANCHOR: mem_table-struct
/// The value of one memtable entry: `Some(value)`, or `None` for a tombstone. Writes replace it
/// in place (see the module documentation); the lock is held only to swap or clone a `Bytes`.
pub type Slot = Mutex<Option<Bytes>>;

/// A mutable (until frozen) sorted map from keys to values or tombstones.
#[derive(Debug)]
pub struct MemTable {
    map: Arc<SkipMap<Bytes, Slot>>,
    /// The write-ahead log every batch goes to first (day 6); `None` when the WAL is off.
    wal: Option<Wal>,
    id: usize,
    approximate_size: AtomicUsize,
    /// Held from logging a batch to the WAL until it is in the map (given; see `put_batch`).
    log_order: Mutex<()>,
    /// Where the memtable's keys and values are copied to (given; see [`Arena`]).
    arena: Arena,
    /// Rules out most keys the memtable does not hold before `get` searches the map (given; see
    /// [`KeyFilter`]).
    filter: KeyFilter,
}
// ANCHOR_END: mem_table-struct

impl MemTable {
    /// An empty memtable with id `id`.
    pub fn create(id: usize) -> Self {
        MemTable {
            map: Arc::new(SkipMap::new()),
            wal: None,
            id,
            approximate_size: AtomicUsize::new(0),
            log_order: Mutex::new(()),
            arena: Arena::default(),
            filter: KeyFilter::new(),
        }
    }

    // ANCHOR: d6-mem_table-create_with_wal
    /// An empty memtable with id `id` that logs every batch to a new WAL at `wal_path` (day 6).
    pub fn create_with_wal(id: usize, wal_path: &Path) -> Result<Self> {
        todo!("day 6: MemTable::create_with_wal — an empty memtable holding a new Wal")
    }
    // ANCHOR_END: d6-mem_table-create_with_wal

    // ANCHOR: d6-mem_table-recover_from_wal
    /// Rebuilds memtable `id` by replaying the WAL at `wal_path` (day 6). The WAL is only read:
    /// a recovered memtable is frozen, to be flushed, and never logs again. Returns the torn
    /// tail the WAL recovery ignored, if any.
    pub fn recover_from_wal(id: usize, wal_path: &Path) -> Result<(Self, Option<TornTail>)> {
        todo!("day 6: MemTable::recover_from_wal — Wal::recover, then insert every batch in order")
    }
    // ANCHOR_END: d6-mem_table-recover_from_wal

    /// Makes every batch written so far durable; nothing to do without a WAL.
    pub fn sync_wal(&self) -> Result<()> {
        match &self.wal {
            Some(wal) => wal.sync(),
            None => Ok(()),
        }
    }

    /// Makes every batch written so far durable and seals the WAL ([`Wal::seal`]): for a
    /// memtable that takes no more writes (frozen, or the engine is closing).
    pub fn seal_wal(&self) -> Result<()> {
        match &self.wal {
            Some(wal) => wal.seal(),
            None => Ok(()),
        }
    }

    // ANCHOR: mem_table-get
    /// The newest entry for `key`: `None` when this memtable has no entry for it, `Some(None)`
    /// when the key was deleted here (a tombstone), `Some(Some(value))` otherwise.
    pub fn get(&self, key: &[u8]) -> Option<Option<Bytes>> {
        // Given: most keys a `get` asks for are not here, and the filter knows it without a
        // search (see `KeyFilter`).
        if self.filter.rules_out(key) {
            return None;
        }
        todo!(
            "day 3: MemTable::get — look the key up in the skip map and clone the Bytes (cheap: a reference count)"
        )
    }
    // ANCHOR_END: mem_table-get

    /// Inserts or overwrites `key`; `value` is `None` to record a delete (a tombstone).
    pub fn put(&self, key: &[u8], value: Option<&[u8]>) -> Result<()> {
        self.put_batch(&[(key, value)])
    }

    // ANCHOR: d6-mem_table-put_batch
    // ANCHOR: mem_table-put_batch
    /// Inserts a batch of entries (`None` values are tombstones). From day 6 the batch is first
    /// logged to the WAL as one record, so a crash recovers all of it or none.
    ///
    /// Keys and values have the engine's limits (non-empty keys of at most
    /// [`crate::block::MAX_KEY_LEN`] bytes, values of at most [`crate::block::MAX_VALUE_LEN`]):
    /// a batch with an entry outside them is [`crate::Error::InvalidArgument`], and nothing of it
    /// is logged or inserted (given code: an SST could not hold such a key, and its flush would
    /// fail much later). An empty batch changes nothing and logs nothing.
    pub fn put_batch(&self, entries: &[(&[u8], Option<&[u8]>)]) -> Result<()> {
        for (key, value) in entries {
            check_key(key)?;
            check_value(value.unwrap_or_default())?;
        }
        if entries.is_empty() {
            return Ok(());
        }
        // Given: every key goes into the filter before it can be in the map (see `KeyFilter`).
        let keys = entries.iter().map(|(key, _)| *key);
        self.filter.add(keys, || self.map.is_empty());
        // With a WAL, batches must reach the map in the order they reach the log: if two writers
        // of one key could log A then B but insert B then A, readers would see A now and the
        // WAL would bring back B after a crash. So logging and inserting happen under one lock
        // (given code). Without a WAL there is no log to agree with, and writers insert freely.
        let _in_log_order = self.wal.as_ref().map(|_| self.log_order.lock());
        if let Some(wal) = &self.wal {
            todo!("day 6: MemTable::put_batch — log the whole batch to the WAL before inserting it")
        }
        todo!(
            "day 3: MemTable::put_batch — insert each entry into the skip map and add its size to approximate_size"
        )
    }
    // ANCHOR_END: mem_table-put_batch
    // ANCHOR_END: d6-mem_table-put_batch

    // ANCHOR: mem_table-scan
    /// A cursor over the entries with keys inside `(lower, upper)`, tombstones included. An empty
    /// or inverted range gives a cursor that is invalid from the start.
    pub fn scan(&self, lower: Bound<&[u8]>, upper: Bound<&[u8]>) -> MemTableIterator {
        todo!(
            "day 3: MemTable::scan — remember the upper bound and position on the first entry at or after lower"
        )
    }
    // ANCHOR_END: mem_table-scan

    // ANCHOR: mem_table-flush
    /// Writes every entry, in key order, into `builder` (the first step of a flush).
    pub fn flush(&self, builder: &mut SsTableBuilder) -> Result<()> {
        todo!(
            "day 3: MemTable::flush — walk the skip map in order and add each entry to the builder"
        )
    }
    // ANCHOR_END: mem_table-flush

    /// The memtable's id: memtables and SSTs draw ids from one counter, so a larger id is newer.
    pub fn id(&self) -> usize {
        self.id
    }

    /// About how many bytes the entries take: the sum of key and value lengths plus a small
    /// per-entry overhead. It only grows.
    pub fn approximate_size(&self) -> usize {
        self.approximate_size.load(Ordering::Relaxed)
    }

    /// Whether the memtable has no entries.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Number of distinct keys (tombstones included).
    pub fn len(&self) -> usize {
        self.map.len()
    }
}

/// Turns a borrowed bound into an owned one.
pub(crate) fn own_bound(bound: Bound<&[u8]>) -> Bound<Bytes> {
    bound.map(Bytes::copy_from_slice)
}

// ANCHOR: mem_table-iterator_struct
/// A cursor over a range of a [`MemTable`], following the [`StorageIterator`] contract.
///
/// Why it re-seeks instead of holding a skip-list iterator: a `SkipMap` range iterator borrows the
/// map, and a struct cannot hold both an `Arc` of the map and a borrow of it without unsafe
/// self-referential tricks. Instead the cursor keeps the current entry's key and value (cheap
/// `Bytes` clones) and each `next` asks the map for the first key after it: an O(log n) lookup
/// in place of an O(1) step, with no unsafe code and no extra crate.
#[derive(Debug)]
pub struct MemTableIterator {
    map: Arc<SkipMap<Bytes, Slot>>,
    upper: Bound<Bytes>,
    /// The current entry; `None` once the cursor is past the end of its range.
    current: Option<(Bytes, Option<Bytes>)>,
}
// ANCHOR_END: mem_table-iterator_struct

// ANCHOR: mem_table-iterator_storage_iterator
impl StorageIterator for MemTableIterator {
    fn key(&self) -> &[u8] {
        todo!("day 3: MemTableIterator::key — the current entry's key")
    }

    fn value(&self) -> Option<&[u8]> {
        todo!("day 3: MemTableIterator::value — the current entry's value, None for a tombstone")
    }

    fn is_valid(&self) -> bool {
        todo!("day 3: MemTableIterator::is_valid — true while there is a current entry")
    }

    fn next(&mut self) -> Result<()> {
        todo!(
            "day 3: MemTableIterator::next — find the first entry strictly after the current key, within the upper bound"
        )
    }
}
// ANCHOR_END: mem_table-iterator_storage_iterator

/// Copies keys and values into shared chunks of memory, so that a memtable's entries cost a few
/// large allocations instead of two small ones each (given code).
///
/// `Bytes::copy_from_slice` allocates once per call, and the allocator's work is paid twice:
/// by the writer that inserts, and by the flush thread that drops the memtable, which frees
/// every allocation another thread made. Slices of one chunk share its reference count: a
/// chunk is freed when the last entry (or the last value a `get` returned) pointing into it is
/// dropped. Large items get their own allocation, so that a chunk is never mostly one value.
#[derive(Debug, Default)]
pub(crate) struct Arena {
    chunk: Mutex<BytesMut>,
}

/// The size of one arena chunk.
const ARENA_CHUNK_BYTES: usize = 64 * 1024;

impl Arena {
    /// A copy of `data` as `Bytes`.
    pub(crate) fn copy(&self, data: &[u8]) -> Bytes {
        if data.len() > ARENA_CHUNK_BYTES / 8 {
            return Bytes::copy_from_slice(data);
        }
        let mut chunk = self.chunk.lock();
        if chunk.capacity() - chunk.len() < data.len() {
            *chunk = BytesMut::with_capacity(ARENA_CHUNK_BYTES);
        }
        chunk.extend_from_slice(data);
        chunk.split().freeze()
    }
}

/// A filter over the keys of one memtable (given code), so that a `get` for a key the memtable
/// does not hold (most of them: a memtable holds the last few megabytes of writes) usually skips
/// the search of the skip list, a dozen or more node hops, many of them CPU cache misses.
///
/// It is a bloom filter whose probes for one key all fall in one 64-bit word: a key sets
/// [`FILTER_PROBES`] bits of the word its hash picks, with one `fetch_or`, and a lookup loads
/// that one word. The filter has a fixed size: at the default 2 MiB memtable (about 17 000
/// entries of the benchmark's size) it says "maybe" for about 0.5 % of absent keys. In a
/// memtable many times larger it says "maybe" more often, which costs a search, never a wrong
/// answer.
///
/// The filter only works if every key went through it before reaching the map. `put_batch`
/// adds its keys first (given code, before your insertion), but a memtable can also be filled
/// another way, as recovery does (day 6). So the filter turns itself on at a memtable's first
/// `put_batch` only if the map is empty at that moment, and stays off for good otherwise.
#[derive(Debug)]
pub(crate) struct KeyFilter {
    /// [`FILTER_UNDECIDED`], then [`FILTER_ON`] or [`FILTER_OFF`] for good.
    state: AtomicU8,
    words: Box<[AtomicU64]>,
}

/// The filter's size in 64-bit words (32 KiB).
const FILTER_WORDS: usize = 4096;
/// Bits a key sets in its word.
const FILTER_PROBES: u32 = 4;
const FILTER_UNDECIDED: u8 = 0;
const FILTER_ON: u8 = 1;
const FILTER_OFF: u8 = 2;

impl KeyFilter {
    fn new() -> Self {
        KeyFilter {
            state: AtomicU8::new(FILTER_UNDECIDED),
            words: (0..FILTER_WORDS).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// Records `keys`, which the caller is about to insert; `map_is_empty` tells whether the map
    /// has no entry yet (asked only once, at the first batch).
    fn add<'a>(&self, keys: impl Iterator<Item = &'a [u8]>, map_is_empty: impl FnOnce() -> bool) {
        if self.state.load(Ordering::Acquire) == FILTER_UNDECIDED {
            let decided = if map_is_empty() {
                FILTER_ON
            } else {
                FILTER_OFF
            };
            // Concurrent first batches race here; whichever decides first wins. A batch that
            // saw the map empty and lost to FILTER_OFF only costs speed.
            let _ = self.state.compare_exchange(
                FILTER_UNDECIDED,
                decided,
                Ordering::AcqRel,
                Ordering::Acquire,
            );
        }
        if self.state.load(Ordering::Acquire) != FILTER_ON {
            return;
        }
        for key in keys {
            let (word, mask) = self.word_and_mask(key);
            // Overwrites find their bits already set: skip the atomic read-modify-write.
            if word.load(Ordering::Relaxed) & mask != mask {
                // Release: a reader that finds the key in the map also finds its bits here.
                word.fetch_or(mask, Ordering::Release);
            }
        }
    }

    /// Whether `key` is certainly not in the memtable.
    fn rules_out(&self, key: &[u8]) -> bool {
        if self.state.load(Ordering::Acquire) != FILTER_ON {
            return false;
        }
        let (word, mask) = self.word_and_mask(key);
        word.load(Ordering::Acquire) & mask != mask
    }

    /// The word `key` maps to and the bits it sets there: the hash's top bits pick the word,
    /// and each of its lowest 6-bit groups one bit.
    fn word_and_mask(&self, key: &[u8]) -> (&AtomicU64, u64) {
        let hash = key_hash(key);
        let word = &self.words[(hash >> 32) as usize % FILTER_WORDS];
        let mask =
            (0..FILTER_PROBES).fold(0u64, |mask, probe| mask | 1 << ((hash >> (6 * probe)) & 63));
        (word, mask)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_filter_never_rules_out_a_key_it_was_given_and_rules_out_most_others() {
        let filter = KeyFilter::new();
        // About as many entries as the default 2 MiB memtable holds at the benchmark's sizes.
        let keys: Vec<Vec<u8>> = (0..17_000)
            .map(|i| format!("{i:016}").into_bytes())
            .collect();
        filter.add(keys.iter().map(Vec::as_slice), || true);
        assert!(keys.iter().all(|key| !filter.rules_out(key)));
        let maybes = (0..100_000)
            .filter(|i| !filter.rules_out(format!("absent-{i:09}").as_bytes()))
            .count();
        assert!(
            maybes < 1000,
            "{maybes} of 100 000 absent keys not ruled out"
        );
    }

    #[test]
    fn key_filter_stays_off_for_good_when_the_map_had_entries_before_the_first_batch() {
        let filter = KeyFilter::new();
        filter.add([&b"a"[..]].into_iter(), || false);
        // An empty map later does not turn it on: entries may have arrived some other way.
        filter.add([&b"b"[..]].into_iter(), || true);
        assert!(!filter.rules_out(b"never-added"));
    }

    #[test]
    fn arena_copies_are_equal_to_their_input_and_small_ones_share_a_chunk() {
        let arena = Arena::default();
        let first = arena.copy(b"key-1");
        let second = arena.copy(b"value-1");
        assert_eq!((&first[..], &second[..]), (&b"key-1"[..], &b"value-1"[..]));
        // Back to back in one chunk: the second copy starts where the first ends.
        assert_eq!(second.as_ptr(), first.as_ptr().wrapping_add(first.len()));
        assert!(arena.copy(b"").is_empty());
    }

    #[test]
    fn arena_starts_a_new_chunk_when_one_is_full_and_gives_large_items_their_own() {
        let arena = Arena::default();
        let item = vec![7u8; ARENA_CHUNK_BYTES / 8];
        let copies: Vec<Bytes> = (0..9).map(|_| arena.copy(&item)).collect();
        assert!(copies.iter().all(|copy| copy[..] == item[..]));
        // Eight items fill a chunk exactly; the ninth starts a new one.
        assert_eq!(
            copies[7].as_ptr(),
            copies[0].as_ptr().wrapping_add(7 * item.len())
        );
        assert_ne!(
            copies[8].as_ptr(),
            copies[7].as_ptr().wrapping_add(item.len())
        );
        let large = vec![9u8; ARENA_CHUNK_BYTES / 8 + 1];
        let small = arena.copy(b"x");
        assert_eq!(arena.copy(&large)[..], large[..]);
        // The large item went elsewhere: the next small copy follows the previous one.
        assert_eq!(arena.copy(b"y").as_ptr(), small.as_ptr().wrapping_add(1));
    }
}
