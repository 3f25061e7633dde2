//! The stress checks: long random workloads run against the engine under test (the reference or
//! the starter alike), each in a test target named for the last day whose work it needs
//! (`tests/stress_dayN.rs`), so that a starter with days `1..N` solved passes the checks of the
//! days before N and fails those from N on.
//!
//! - [`model`]: seeded random operations against a `BTreeMap`, shrunk to a minimal failing
//!   sequence;
//! - [`concurrency`]: writers, readers and the synchronous hooks at once, every read checked for
//!   linearizability, a watchdog turning a deadlock into a failure;
//! - [`bank`]: concurrent transactions (Part 2) moving money between accounts, audited at points
//!   in time: the total never changes, and every committed transfer, and nothing else, is applied;
//! - [`sweep`]: every byte of every on-disk format damaged in turn; decoding and opening must
//!   give a typed error or the right data, and a failed open changes no file;
//! - [`crash`]: a writer process killed at seeded moments, and power lost at a seeded durable
//!   operation of a random workload.
//!
//! Inputs are fixed: every check runs fixed seeds, and `STRESS_SEED=S` (`MODEL_SEED` for the model
//! checks too) replays one. A failure message says what was violated, the seed, the command that
//! replays it on the engine under test, and the book section; `cargo x grade --stress` reports
//! them day by day.
//!
//! Each `#[ignore]`d `_long` variant runs far more (`cargo x check --long`).

pub mod bank;
pub mod concurrency;
pub mod crash;
pub mod model;
pub mod sweep;

use std::any::Any;
use std::path::Path;

/// The name of a stress check, to build its failure message and replay command.
#[derive(Debug, Clone, Copy)]
pub struct Check {
    /// The test target, e.g. `stress_day5`.
    pub target: &'static str,
    /// The test function.
    pub test: &'static str,
    /// The book section that explains what the check checks.
    pub book: &'static str,
}

impl Check {
    /// The command that replays this check on the engine under test, with `seed` when it has
    /// one.
    pub fn replay(&self, seed: Option<u64>) -> String {
        let engine = if cfg!(feature = "reference") {
            ""
        } else {
            " --no-default-features --features starter"
        };
        let seed = seed.map_or_else(String::new, |seed| format!("STRESS_SEED={seed} "));
        format!(
            "{seed}cargo test -p tests-day1-to-day7{engine} --test {} -- --exact {}",
            self.target, self.test
        )
    }

    /// Fails the check: `[stress: test, seed S] violation`, the replay command and the book
    /// section on the next lines, then `details` (a shrunk sequence, a thread dump…).
    #[track_caller]
    pub fn fail(&self, seed: u64, violation: &str, details: &str) -> ! {
        self.fail_with(Some(seed), violation, details)
    }

    /// [`Check::fail`] for a check without a seed (its inputs are all fixed).
    #[track_caller]
    pub fn fail_unseeded(&self, violation: &str, details: &str) -> ! {
        self.fail_with(None, violation, details)
    }

    #[track_caller]
    fn fail_with(&self, seed: Option<u64>, violation: &str, details: &str) -> ! {
        let run = seed.map_or_else(String::new, |seed| format!(", seed {seed}"));
        let mut message = format!(
            "[stress: {}{run}] {violation}\nreplay: {}\n(book: {})",
            self.test,
            self.replay(seed),
            self.book
        );
        if !details.is_empty() {
            message.push('\n');
            message.push_str(details);
        }
        panic!("{message}")
    }
}

/// The seeds to run: `STRESS_SEED` (or `MODEL_SEED`) when set, else `default`.
pub fn seeds(default: impl IntoIterator<Item = u64>) -> Vec<u64> {
    for var in ["STRESS_SEED", "MODEL_SEED"] {
        if let Ok(seed) = std::env::var(var) {
            match seed.trim().parse() {
                Ok(seed) => return vec![seed],
                Err(_) => panic!("{var}={seed:?} is not a number (a seed from a failure message)"),
            }
        }
    }
    default.into_iter().collect()
}

/// A directory for an engine: on tmpfs when there is one (the checks sync often, and a
/// `fsync` there is free), else the system's temporary directory.
pub fn scratch_dir(prefix: &str) -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir()
        && let Ok(dir) = tempfile::Builder::new().prefix(prefix).tempdir_in(shm)
    {
        return dir;
    }
    tempfile::tempdir().expect("create a temporary directory")
}

/// The message of a panic payload (empty when it is not a string).
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

/// Whether a panic message is a `todo!()` of the starter: such a panic is passed on unchanged
/// (not shrunk, not wrapped), so that the grader can say which stub blocked the check.
pub fn is_todo(message: &str) -> bool {
    message.starts_with("not yet implemented")
}

/// Raises a caught panic again, with the same message, when it is a `todo!()`; returns its
/// message otherwise. (Raised anew rather than resumed: a resumed panic prints nothing, and the
/// grader reads the message from what the test printed.)
pub fn rethrow_todo(payload: Box<dyn Any + Send>) -> String {
    let message = panic_message(payload.as_ref());
    if is_todo(&message) {
        panic!("{message}");
    }
    message
}

/// SplitMix64 helpers the checks share, on top of [`crate::Rng`].
pub trait RngExt {
    /// A number in `low..=high`.
    fn between(&mut self, low: usize, high: usize) -> usize;
    /// True with probability `percent` / 100.
    fn percent(&mut self, percent: usize) -> bool;
}

impl RngExt for crate::Rng {
    fn between(&mut self, low: usize, high: usize) -> usize {
        low + self.below(high - low + 1)
    }

    fn percent(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}
