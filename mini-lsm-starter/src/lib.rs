//! mini-lsm: an LSM-tree key-value storage engine, built in seven days.
//!
//! | day | concept                        | modules                                                     |
//! |-----|--------------------------------|-------------------------------------------------------------|
//! | 1   | blocks                         | [`block`]                                                   |
//! | 2   | SSTs                           | [`table`]                                                   |
//! | 3   | memtables and merging          | [`mem_table`], [`iterators`]                                |
//! | 4   | the engine and the block cache | [`lsm_storage`], [`lsm_iterator`], [`block_cache`], [`MiniLsm`] |
//! | 5   | leveled compaction             | [`compact`], [`iterators::sst_concat_iterator`]              |
//! | 6   | recovery                       | [`wal`], [`manifest`], [`record_file`]                       |
//! | 7   | bloom filters, key compression | [`table::bloom`], [`block`] (prefix-compressed keys)         |
//! Shared by all days: [`error`] (the one error type), [`options`], [`inspect`] (the tree's
//! shape and counters, for tests and tools), [`cli`] (`mini-lsm-cli`, a shell to play with the
//! engine), [`simulator`] (`compaction-simulator`, day 5's controller over a tree of sizes) and
//! [`failpoint`] (test-only crash and I/O-error injection).

#![deny(missing_docs)]
// No unsafe code, except where the standard library has no safe API: `dir_lock` (`fcntl`) says
// why, with an `expect` and a `SAFETY` comment at each use.
#![deny(unsafe_code)]

pub mod block;
pub mod block_cache;
pub mod cli;
mod codec;
pub mod compact;
mod dir_lock;
pub mod error;
pub mod failpoint;
pub mod fs;
pub mod inspect;
pub mod iterators;
pub mod lsm_iterator;
pub mod lsm_storage;
pub mod manifest;
pub mod mem_table;
mod mini_lsm;
pub mod options;
pub mod record_file;
pub mod recovery;
pub mod simulator;
pub mod table;
pub mod wal;

pub use error::{Error, Result};
pub use inspect::{EngineStats, LevelInfo, MemTableInfo, RecoveryReport, SstInfo, TreeShape};
pub use lsm_storage::WriteBatchRecord;
pub use mini_lsm::MiniLsm;
pub use options::{CompactionOptions, LeveledCompactionOptions, LsmOptions};
