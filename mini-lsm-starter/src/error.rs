//! The one error type of the engine.
//!
//! Every fallible function returns [`Result<T>`]. The variants are the cases a caller can act on:
//! fix the arguments ([`Error::InvalidArgument`]), restore the data ([`Error::Corruption`]), or look
//! at the machine ([`Error::Io`]). Nothing on a data path panics on bad bytes: decoders return
//! `Corruption` with the file and the byte offset of what they could not read.

use std::path::PathBuf;

/// `std::result::Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// What went wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The caller passed something the engine does not accept (an empty key, a key or value over
    /// its length limit, an option out of range). Nothing was changed.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),

    /// Bytes read back do not form a valid structure: a checksum mismatch, a length that points
    /// outside its buffer, a bad magic number. `file` is `None` for bytes decoded from memory.
    #[error("corruption in {} at byte {offset}: {what}", file_name(.file))]
    Corruption {
        /// The file the bytes came from, when they came from a file.
        file: Option<PathBuf>,
        /// Byte offset of the structure that failed to decode (within `file`, or within the
        /// buffer being decoded when `file` is `None`).
        offset: u64,
        /// Which structure and field, and what was wrong with it.
        what: String,
    },

    /// An operating-system I/O error, with the path it happened on.
    #[error("I/O error on {}: {source}", .path.display())]
    Io {
        /// The file or directory being accessed.
        path: PathBuf,
        /// The error the operating system returned.
        #[source]
        source: std::io::Error,
    },

    /// Another engine (in this process or another) has the directory open.
    #[error("{} is already open in another engine (its LOCK file is held)", .0.display())]
    Locked(PathBuf),

    /// The engine was closed; no further reads or writes are accepted.
    #[error("the engine is closed")]
    Closed,

    /// A transaction could not commit (day 9): a write committed after it began changed
    /// something it read (a key it got, or a range it scanned). Nothing of the transaction was
    /// written: begin a new one and retry its reads and writes.
    #[error("transaction conflict: {0}; nothing was written, retry the transaction")]
    TransactionConflict(String),
}

fn file_name(file: &Option<PathBuf>) -> String {
    match file {
        Some(path) => path.display().to_string(),
        None => "<memory>".to_string(),
    }
}

impl Error {
    /// A [`Error::Corruption`] in bytes decoded from memory, at `offset` within them.
    pub fn corruption(offset: u64, what: impl Into<String>) -> Self {
        Error::Corruption {
            file: None,
            offset,
            what: what.into(),
        }
    }

    /// Attaches a file to a corruption error, shifting its offset by `base` (the position in the
    /// file of the buffer that was decoded). Other errors pass through unchanged.
    pub fn in_file(self, path: &std::path::Path, base: u64) -> Self {
        match self {
            Error::Corruption {
                file: None,
                offset,
                what,
            } => Error::Corruption {
                file: Some(path.to_path_buf()),
                offset: base + offset,
                what,
            },
            other => other,
        }
    }

    /// An [`Error::Io`] on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
