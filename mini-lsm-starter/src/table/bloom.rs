//! Day 7 (bloom filters): a compact set that answers "is this key possibly in the SST?".
//!
//! A `get` for a key that an SST does not hold would otherwise read (and maybe cache) one of its
//! blocks just to find nothing. A bloom filter answers "definitely not here" for most such keys
//! with a few bit tests in memory, and never says "not here" for a key that is there.
//!
//! Building: for each key, set `num_probes` bits of an `m`-bit array, chosen by hashing the key.
//! Probing: the key may be present only if all its bits are set. With `b` bits per key and
//! `k = b · ln 2` probes, the false-positive rate is about `0.6185^b` (1 % at 10 bits per key).
//!
//! The probes use *double hashing*: from one 64-bit hash, `h1` (low half) and `h2` (high half),
//! probe `i` tests bit `(h1 + i · h2) mod m`. Two halves of one good hash behave like `k`
//! independent hashes for this purpose (Kirsch and Mitzenmacher, 2006).
//!
//! The hash is stored on disk implicitly (the bits depend on it), so it must never change: it is
//! [`key_hash`], FNV-1a (64-bit) followed by the SplitMix64 finaliser, both fixed by their
//! published definitions — unlike `std`'s `DefaultHasher`, which may change between releases.
//!
//! # Format
//!
//! | field       | width    | meaning                                  |
//! |-------------|----------|------------------------------------------|
//! | bits        | m / 8    | the bit array; bit `i` is `bits[i / 8] >> (i % 8) & 1` |
//! | num_probes  | `u8`     | bits tested per key, 1 ..= 30            |
//!
//! In an SST the section is followed by its CRC32 and located by the footer. Book:
//! `appendix-formats.md#bloom-filter`.

// TODO(you): remove these allows once you have finished day 7 in this file.
#![allow(
    unused_variables,
    unused_imports,
    unused_mut,
    dead_code,
    unreachable_code,
    clippy::ptr_arg
)]

use bytes::{BufMut, Bytes};

use crate::error::{Error, Result};

/// The most probes a filter may use; more only costs time (the best count is `0.69 · b`).
pub const MAX_PROBES: u8 = 30;

/// A bloom filter over the keys of one SST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bloom {
    bits: Bytes,
    num_probes: u8,
}

// ANCHOR: d7-bloom-key_hash
/// The 64-bit hash of a key that filters are built and probed with (see the module docs).
pub fn key_hash(key: &[u8]) -> u64 {
    // FNV-1a, 64-bit: offset basis and prime from the FNV specification.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in key {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    // SplitMix64's finaliser spreads FNV's weak low bits over the whole word.
    hash = (hash ^ (hash >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    hash = (hash ^ (hash >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    hash ^ (hash >> 31)
}
// ANCHOR_END: d7-bloom-key_hash

impl Bloom {
    // ANCHOR: d7-bloom-build
    /// A filter over the keys whose [`key_hash`]es are given, with about `bits_per_key` bits per
    /// key (at least 64 bits in all, rounded up to whole bytes).
    pub fn build(key_hashes: &[u64], bits_per_key: usize) -> Bloom {
        todo!(
            "day 7: Bloom::build — size the bit array, pick num_probes = bits_per_key * ln 2, set each key's probe bits"
        )
    }
    // ANCHOR_END: d7-bloom-build

    // ANCHOR: d7-bloom-may_contain
    /// Whether a key with this hash may be in the set: `false` means certainly not.
    pub fn may_contain(&self, key_hash: u64) -> bool {
        todo!("day 7: Bloom::may_contain — true only if every probe bit is set")
    }
    // ANCHOR_END: d7-bloom-may_contain

    /// Appends the filter in the format of the module documentation.
    pub fn encode(&self, buf: &mut Vec<u8>) {
        buf.put_slice(&self.bits);
        buf.put_u8(self.num_probes);
    }

    /// Parses a filter written by [`Bloom::encode`]; offsets in errors are within `raw`.
    pub fn decode(raw: &[u8]) -> Result<Bloom> {
        let Some((&num_probes, bits)) = raw.split_last() else {
            return Err(Error::corruption(0, "bloom filter section is empty"));
        };
        if bits.is_empty() || !(1..=MAX_PROBES).contains(&num_probes) {
            return Err(Error::corruption(
                (raw.len() - 1) as u64,
                format!(
                    "bloom filter with {} bytes and {num_probes} probes",
                    bits.len()
                ),
            ));
        }
        Ok(Bloom {
            bits: Bytes::copy_from_slice(bits),
            num_probes,
        })
    }

    /// Size of the bit array in bits.
    pub fn num_bits(&self) -> usize {
        self.bits.len() * 8
    }

    /// Bits tested per key.
    pub fn num_probes(&self) -> u8 {
        self.num_probes
    }
}
