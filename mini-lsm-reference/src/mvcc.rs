//! Day 8 (snapshots, Part 2): sequence numbers, versioned keys and snapshots.
//!
//! With [`crate::LsmOptions::mvcc`] on, every write gets a **sequence number** (its *seq*), and
//! the tree keeps each version of a key under its own **versioned key**: the user key and the
//! seq, encoded into one byte string. A read at seq `s` sees, for each key, its newest version
//! with a seq at or below `s`: exactly the writes that completed before the read began.
//!
//! # The encoding, and why the rest of the engine does not change
//!
//! Blocks, SSTs, memtables, merge iterators and compaction (days 1–5) only ever compare keys as
//! byte strings. So the versioned key is built so that **plain byte order is the order versions
//! must be read in**: user keys ascending, and for one user key, newest version first.
//!
//! ```text
//! versioned key = escape(user key) ++ 00 01 ++ (u64::MAX - seq) as 8 big-endian bytes
//! escape        = every 00 byte of the user key becomes 00 FF
//! ```
//!
//! * The escape and the `00 01` terminator make the user-key part *prefix-free*: no encoded
//!   user key is a prefix of another, and `a < b` as byte strings exactly when their encodings
//!   compare the same way (a `00` of the key reads `00 FF`, above the terminator's `00 01`; a key
//!   that ends reads `00 01`, below any continuation). Without it, `a` with a suffix would sort
//!   after `a\x00`'s versions, or after `ab`'s. TiKV and CockroachDB encode keys the same way,
//!   for the same reason.
//! * The seq is inverted and big-endian, so a larger seq gives smaller bytes: within one user
//!   key, the newest version comes first, as reads want it.
//!
//! The price is space: 10 bytes per key, more for keys full of zero bytes (the Benchmarks page
//! measures it).
//!
//! # Seqs and visibility
//!
//! Writers take the commit lock ([`Versions::commit`]), number their batch from the last
//! visible seq, insert it, and only then make it visible. So a reader that starts at seq `s`
//! finds every write numbered up to `s` already in the memtable, and never one numbered after.
//! Seq 0 is "before any write": the first write of a new database is seq 1.

pub mod iterator;
pub mod txn;

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::{Mutex, MutexGuard};

use crate::block::MAX_KEY_LEN;
use crate::error::{Error, Result};

/// A sequence number: the position of a write in the engine's history.
pub type Seq = u64;

/// Bytes a versioned key adds after the escaped user key: the seq.
pub const SEQ_LEN: usize = 8;

/// The terminator after the escaped user key.
pub const TERMINATOR: [u8; 2] = [0x00, 0x01];

/// The largest seq a write can get. `Seq::MAX` itself is kept for bounds: `versioned_key(k,
/// Seq::MAX)` sorts before every version of `k`.
pub const MAX_SEQ: Seq = Seq::MAX - 1;

/// The longest user key the engine accepts with versioned keys: its worst-case encoding (every
/// byte a zero, so escaped to two) plus the terminator and the seq must fit in
/// [`MAX_KEY_LEN`], the longest key a block stores.
pub const MAX_VERSIONED_USER_KEY_LEN: usize = (MAX_KEY_LEN - TERMINATOR.len() - SEQ_LEN) / 2;

// ANCHOR: mvcc-versioned_key
/// The versioned key of `user_key` at `seq` (see the module documentation for the layout).
pub fn versioned_key(user_key: &[u8], seq: Seq) -> Vec<u8> {
    // BEGIN SOLUTION day 8: mvcc::versioned_key — escape each 00 byte as 00 FF, append the terminator 00 01, then (u64::MAX - seq) big-endian
    let mut key = Vec::with_capacity(user_key.len() + TERMINATOR.len() + SEQ_LEN);
    for &byte in user_key {
        key.push(byte);
        if byte == 0x00 {
            key.push(0xFF);
        }
    }
    key.extend_from_slice(&TERMINATOR);
    key.extend_from_slice(&(Seq::MAX - seq).to_be_bytes());
    key
    // END SOLUTION
}
// ANCHOR_END: mvcc-versioned_key

// ANCHOR: mvcc-user_key_of
/// The user key a versioned key was made from. A key that no [`versioned_key`] could have
/// produced (a `00` followed by anything but `FF` or the terminator, no terminator before the
/// seq) is [`Error::Corruption`].
pub fn user_key_of(versioned: &[u8]) -> Result<Vec<u8>> {
    // BEGIN SOLUTION day 8: mvcc::user_key_of — undo the escaping up to the terminator; the terminator must be followed by exactly SEQ_LEN bytes
    let mut user_key = Vec::with_capacity(versioned.len());
    decode_user_key_into(versioned, &mut user_key)?;
    Ok(user_key)
    // END SOLUTION
}
// ANCHOR_END: mvcc-user_key_of

// BEGIN SOLUTION HELPERS
/// [`user_key_of`] into `out` (cleared first), so that a reader decoding key after key, as
/// [`iterator::MvccIterator`] does, reuses one buffer instead of allocating per key.
pub(crate) fn decode_user_key_into(versioned: &[u8], out: &mut Vec<u8>) -> Result<()> {
    let encoded = user_key_part(versioned)?;
    out.clear();
    let mut i = 0;
    while i < encoded.len() {
        let byte = encoded[i];
        if byte != 0x00 {
            out.push(byte);
            i += 1;
            continue;
        }
        match encoded.get(i + 1) {
            Some(0xFF) => {
                out.push(0x00);
                i += 2;
            }
            Some(0x01) if i + 2 == encoded.len() => return Ok(()),
            _ => break,
        }
    }
    Err(Error::corruption(
        i as u64,
        "versioned key: a 00 byte followed by neither FF nor the final terminator 00 01",
    ))
}
// END SOLUTION

/// The part of a versioned key that names the user key: everything but the seq (the escaped
/// user key and its terminator). Two versioned keys belong to the same user key exactly when
/// these parts are equal, so versions can be grouped without decoding them, and bloom filters
/// hash this part. A key too short to hold a seq and a terminator is [`Error::Corruption`].
pub fn user_key_part(versioned: &[u8]) -> Result<&[u8]> {
    if versioned.len() < TERMINATOR.len() + SEQ_LEN {
        return Err(Error::corruption(
            0,
            format!(
                "versioned key of {} bytes is shorter than a terminator and a seq",
                versioned.len()
            ),
        ));
    }
    Ok(&versioned[..versioned.len() - SEQ_LEN])
}

/// The seq of a versioned key (its last [`SEQ_LEN`] bytes, inverted). A key too short to hold
/// one is [`Error::Corruption`].
pub fn seq_of(versioned: &[u8]) -> Result<Seq> {
    let part = user_key_part(versioned)?;
    let suffix: [u8; SEQ_LEN] = versioned[part.len()..]
        .try_into()
        .expect("user_key_part leaves exactly SEQ_LEN bytes");
    Ok(Seq::MAX - Seq::from_be_bytes(suffix))
}

// ANCHOR: mvcc-versioned_bounds
/// The bounds over versioned keys that hold every version of the user keys inside `lower` and
/// `upper`, and no other: an included key reaches from its first possible version
/// (`Seq::MAX`) to its last (seq 0); an excluded one lies wholly outside.
pub fn versioned_bounds(
    lower: Bound<&[u8]>,
    upper: Bound<&[u8]>,
) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    // BEGIN SOLUTION day 8: mvcc::versioned_bounds — an included lower key starts at its Seq::MAX version, an excluded one after its seq-0 version; an included upper key ends at its seq-0 version, an excluded one before its Seq::MAX version
    let lower = match lower {
        Bound::Included(key) => Bound::Included(versioned_key(key, Seq::MAX)),
        Bound::Excluded(key) => Bound::Excluded(versioned_key(key, 0)),
        Bound::Unbounded => Bound::Unbounded,
    };
    let upper = match upper {
        Bound::Included(key) => Bound::Included(versioned_key(key, 0)),
        Bound::Excluded(key) => Bound::Excluded(versioned_key(key, Seq::MAX)),
        Bound::Unbounded => Bound::Unbounded,
    };
    (lower, upper)
    // END SOLUTION
}
// ANCHOR_END: mvcc-versioned_bounds

/// A [`Bound`] of owned keys as one of slices.
pub(crate) fn as_slice_bound(bound: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match bound {
        Bound::Included(key) => Bound::Included(key),
        Bound::Excluded(key) => Bound::Excluded(key),
        Bound::Unbounded => Bound::Unbounded,
    }
}

/// The engine's seq counter and its live snapshots (given code).
#[derive(Debug, Default)]
pub struct Versions {
    /// Held by a writer from numbering its batch until the batch is visible, so batches become
    /// visible in seq order.
    commit: Mutex<()>,
    /// The newest seq whose write is visible to new reads.
    visible: AtomicU64,
    /// Live snapshots: seq → how many snapshots read at it.
    snapshots: Mutex<BTreeMap<Seq, usize>>,
}

impl Versions {
    /// A counter whose writes up to `visible` are in the tree (0 for a new database).
    pub fn new(visible: Seq) -> Self {
        Versions {
            visible: AtomicU64::new(visible),
            ..Versions::default()
        }
    }

    /// The newest visible seq: a read that starts now reads at it.
    pub fn visible(&self) -> Seq {
        self.visible.load(Ordering::Acquire)
    }

    /// Takes the commit lock: the caller numbers its batch after [`Commit::last_visible`],
    /// inserts it, then calls [`Commit::publish`].
    pub fn commit(&self) -> Commit<'_> {
        let guard = self.commit.lock();
        Commit {
            versions: self,
            _guard: guard,
        }
    }

    // ANCHOR: mvcc-register
    /// Registers a snapshot at the newest visible seq and returns that seq. Until
    /// [`Versions::release`] of it, [`Versions::watermark`] stays at or below it, so compaction
    /// keeps every version the snapshot can read.
    pub fn register(&self) -> Seq {
        // BEGIN SOLUTION day 8: Versions::register — read the visible seq while holding the snapshot map's lock, then count the snapshot at it
        // The seq is read under the lock that `watermark` takes: otherwise a compaction could
        // compute its watermark between this read and the insert, above this snapshot, and drop
        // a version the snapshot is about to read.
        let mut snapshots = self.snapshots.lock();
        let seq = self.visible();
        *snapshots.entry(seq).or_default() += 1;
        seq
        // END SOLUTION
    }
    // ANCHOR_END: mvcc-register

    // ANCHOR: mvcc-release
    /// Releases one snapshot registered at `seq`.
    pub fn release(&self, seq: Seq) {
        // BEGIN SOLUTION day 8: Versions::release — count one snapshot fewer at seq, removing the entry at zero
        let mut snapshots = self.snapshots.lock();
        if let Some(count) = snapshots.get_mut(&seq) {
            *count -= 1;
            if *count == 0 {
                snapshots.remove(&seq);
            }
        }
        // END SOLUTION
    }
    // ANCHOR_END: mvcc-release

    // ANCHOR: mvcc-watermark
    /// The oldest seq any reader may still read at: the oldest live snapshot's, or the newest
    /// visible seq when there is none. Compaction keeps, for each key, every version above it
    /// and the newest at or below it.
    pub fn watermark(&self) -> Seq {
        // BEGIN SOLUTION day 8: Versions::watermark — the smallest registered seq, else the visible seq (both under the snapshot map's lock)
        let snapshots = self.snapshots.lock();
        snapshots
            .keys()
            .next()
            .copied()
            .unwrap_or_else(|| self.visible())
        // END SOLUTION
    }
    // ANCHOR_END: mvcc-watermark

    /// How many snapshots are live.
    pub fn live_snapshots(&self) -> usize {
        self.snapshots.lock().values().sum()
    }
}

/// The commit lock, held: see [`Versions::commit`].
pub struct Commit<'a> {
    versions: &'a Versions,
    _guard: MutexGuard<'a, ()>,
}

impl Commit<'_> {
    /// The newest visible seq; a batch of `n` records is numbered `last_visible() + 1 ..=
    /// last_visible() + n`.
    pub fn last_visible(&self) -> Seq {
        self.versions.visible()
    }

    /// Makes every write numbered up to `seq` visible to reads that start from now on.
    pub fn publish(self, seq: Seq) {
        self.versions.visible.store(seq, Ordering::Release);
    }
}
