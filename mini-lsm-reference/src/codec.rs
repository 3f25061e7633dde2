//! Reading little-endian fields out of a byte buffer without ever panicking.
//!
//! Every on-disk format in this crate is little-endian. Decoders read through [`Reader`], which
//! takes the name of each field it reads, so that a short or damaged buffer becomes a
//! [`Error::Corruption`] such as "block entry 3 key: needs 12 bytes, 5 left at byte 96" instead of
//! an index-out-of-bounds panic.

// STARTER ALLOWS

use crate::error::{Error, Result};

// ANCHOR: codec-reader
/// A cursor over a byte buffer. Each read checks the length first and names the field on failure.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}
// ANCHOR_END: codec-reader

// ANCHOR: codec-reader_impl
impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// A reader positioned at `pos`; reading past the end of `buf` is an error as usual.
    pub(crate) fn at(buf: &'a [u8], pos: usize) -> Self {
        Reader { buf, pos }
    }

    /// Byte offset of the next read.
    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    /// How many bytes are left to read.
    #[inline]
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// The next `len` bytes, borrowed from the buffer.
    //
    // The readers are on the hot path of every block search, so they are inlined and keep
    // the error (which formats a message) out of line in `short_read`: a successful read then
    // costs one comparison.
    #[inline(always)]
    pub(crate) fn bytes(&mut self, len: usize, field: &str) -> Result<&'a [u8]> {
        if len > self.remaining() {
            return Err(self.short_read(len, field));
        }
        let start = self.pos;
        self.pos += len;
        Ok(&self.buf[start..self.pos])
    }

    #[cold]
    #[inline(never)]
    fn short_read(&self, len: usize, field: &str) -> Error {
        Error::corruption(
            self.pos as u64,
            format!("{field}: needs {len} bytes, {} left", self.remaining()),
        )
    }

    #[inline]
    pub(crate) fn u8(&mut self, field: &str) -> Result<u8> {
        Ok(self.bytes(1, field)?[0])
    }

    #[inline]
    pub(crate) fn u16(&mut self, field: &str) -> Result<u16> {
        let raw = self.bytes(2, field)?;
        Ok(u16::from_le_bytes([raw[0], raw[1]]))
    }

    #[inline(always)]
    pub(crate) fn u32(&mut self, field: &str) -> Result<u32> {
        let raw = self.bytes(4, field)?;
        Ok(u32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]))
    }

    #[inline]
    pub(crate) fn u64(&mut self, field: &str) -> Result<u64> {
        let raw = self.bytes(8, field)?;
        let mut le = [0u8; 8];
        le.copy_from_slice(raw);
        Ok(u64::from_le_bytes(le))
    }
}
// ANCHOR_END: codec-reader_impl

// ANCHOR: codec-verify_crc32
/// Checks that `data` hashes to `expected` under CRC32 (the IEEE polynomial, as `crc32fast`
/// computes it). `what` names the checksummed structure and `offset` is where it starts.
/// `what` is only formatted on a mismatch, so callers can pass `format_args!` for free.
pub(crate) fn verify_crc32(
    data: &[u8],
    expected: u32,
    offset: u64,
    what: impl std::fmt::Display,
) -> Result<()> {
    let actual = crc32fast::hash(data);
    if actual == expected {
        Ok(())
    } else {
        Err(Error::corruption(
            offset,
            format!("{what} checksum mismatch: stored {expected:#010x}, computed {actual:#010x}"),
        ))
    }
}
// ANCHOR_END: codec-verify_crc32
