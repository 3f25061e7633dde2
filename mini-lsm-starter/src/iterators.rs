//! Day 3 (merging): the cursor trait every iterator in the engine implements, and the
//! combinators that merge several of them.
//!
//! The concrete iterators live next to their data: [`crate::block::BlockIterator`],
//! [`crate::table::SsTableIterator`], [`crate::mem_table::MemTableIterator`] and
//! [`crate::lsm_iterator::LsmIterator`]. This module holds only what combines them.
//! Book: `day3-memtable-and-merging.md#the-cursor-contract`.

pub mod fused_storage_iterator;
pub mod merge_iterator;
pub mod sst_concat_iterator;
pub mod two_merge_iterator;

use crate::error::Result;

// ANCHOR: iterators-storage_iterator
/// A cursor over entries in strictly increasing key order.
///
/// # The contract
///
/// Every implementation, and every caller, follows these rules. The graded tests check them with
/// one shared helper, so an iterator that breaks them fails whatever it returns.
///
/// * `is_valid()` is true **iff** the cursor stands on an entry. It is cheap and never fails.
/// * `key()` and `value()` REQUIRE `is_valid()`; calling them on an invalid cursor may panic.
///   The slices they return stay valid until the next call that takes `&mut self`.
/// * `value()` is `None` for a tombstone (a delete marker) and `Some(bytes)` for a value;
///   `Some(b"")` is an empty value, which is *not* a delete.
/// * `next()` REQUIRES `is_valid()`. On `Ok(())` the cursor stands on the next entry, whose key is
///   strictly greater than the previous one, or is no longer valid when there is none.
/// * When `next()` returns `Err`, the cursor is broken: `is_valid()` returns false from then on.
///   The error is the caller's to report; the cursor never pretends the remaining entries are
///   absent by turning an error into an early end.
/// * A freshly created cursor is already positioned (on its first entry, or on the first entry at
///   or after the key it was created for); there is no separate "start" call.
pub trait StorageIterator {
    /// The key of the current entry. REQUIRES `is_valid()`.
    fn key(&self) -> &[u8];

    /// The value of the current entry, `None` for a tombstone. REQUIRES `is_valid()`.
    fn value(&self) -> Option<&[u8]>;

    /// Whether the cursor stands on an entry.
    fn is_valid(&self) -> bool;

    /// Moves to the next entry. REQUIRES `is_valid()`.
    fn next(&mut self) -> Result<()>;

    /// How many leaf iterators (over one memtable, one SST or one sorted run) this cursor holds
    /// open right now. Tools and tests use it to check that a scan opens one iterator per level
    /// rather than one per SST.
    fn num_active_iterators(&self) -> usize {
        1
    }
}
// ANCHOR_END: iterators-storage_iterator
