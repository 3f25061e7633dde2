//! Stress checks that need days 1-6 (recovery): the engine against a `BTreeMap` model with
//! close-and-reopen (see `tests_day1_to_day7::stress::model`), a writer process killed at
//! seeded moments and power lost in a random workload (`…::stress::crash`), and every byte of a
//! WAL, a manifest and an engine directory damaged in turn (`…::stress::sweep`). Graded by
//! `cargo x grade --stress`; they carry no points, but a failure caps day 6 at 75% there.

use tests_day1_to_day7::stress::sweep::{Plan, sweep_engine, sweep_manifest, sweep_wal};
use tests_day1_to_day7::stress::{Check, crash, model};

/// The crash writer built for the crate under test (see the `[[bin]]`s in Cargo.toml).
#[cfg(feature = "reference")]
const CRASH_WRITER: &str = env!("CARGO_BIN_EXE_crash-writer-reference");
#[cfg(not(feature = "reference"))]
const CRASH_WRITER: &str = env!("CARGO_BIN_EXE_crash-writer-starter");

const TARGET: &str = "stress_day6";
const BOOK_RECOVERY: &str = "day6-recovery.md#recovery-on-open";
const BOOK_KILL: &str = "day6-recovery.md#a-killed-process";
const BOOK_POWER_LOSS: &str = "day6-recovery.md#power-loss";
const BOOK_TORN: &str = "day6-recovery.md#torn-or-damaged";
const BOOK_TRUST: &str = "day6-recovery.md#what-recovery-may-delete";

fn check(test: &'static str, book: &'static str) -> Check {
    Check {
        target: TARGET,
        test,
        book,
    }
}

/// Random writes, reads, flushes, compactions, syncs and reopens: a reopen recovers exactly
/// what was written.
#[test]
fn engine_matches_a_model_across_reopens_background_off() {
    let check = check(
        "engine_matches_a_model_across_reopens_background_off",
        BOOK_RECOVERY,
    );
    model::check_seeds(check, 0..8, 1_000, false, 6);
}

/// The same with the flush and compaction threads racing the operations.
#[test]
fn engine_matches_a_model_across_reopens_background_on() {
    let check = check(
        "engine_matches_a_model_across_reopens_background_on",
        BOOK_RECOVERY,
    );
    model::check_seeds(check, 100..108, 1_000, true, 6);
}

/// A writer killed with SIGKILL at seeded moments loses nothing it reported synced.
#[test]
fn a_killed_writer_loses_no_synced_write() {
    let check = check("a_killed_writer_loses_no_synced_write", BOOK_KILL);
    crash::kill_trials(check, CRASH_WRITER, 6_000..6_006);
}

/// Power lost at seeded durable operations of random workloads loses no durable write.
#[test]
fn a_power_loss_in_a_random_workload_loses_no_durable_write() {
    let check = check(
        "a_power_loss_in_a_random_workload_loses_no_durable_write",
        BOOK_POWER_LOSS,
    );
    crash::power_loss_seeds(check, 6_100..6_106, 6);
}

/// Every damaged byte of a WAL: corruption before the last record is an error, a damaged last
/// record may be a torn tail, a cut recovers the records before it.
#[test]
fn damaged_wals_recover_a_prefix_or_fail() {
    let check = check("damaged_wals_recover_a_prefix_or_fail", BOOK_TORN);
    sweep_wal(check, Plan::fast());
}

/// The same for the manifest, whose first record (the snapshot) must be intact.
#[test]
fn damaged_manifests_recover_a_prefix_or_fail() {
    let check = check("damaged_manifests_recover_a_prefix_or_fail", BOOK_TORN);
    sweep_manifest(check, Plan::fast());
}

/// A directory with one damaged file (MANIFEST, WAL or SST): the engine opens and reads back the
/// right data, or fails; a failed open changes no file.
#[test]
fn an_engine_with_a_damaged_file_reads_right_or_fails_changing_nothing() {
    let check = check(
        "an_engine_with_a_damaged_file_reads_right_or_fails_changing_nothing",
        BOOK_TRUST,
    );
    sweep_engine(check, Plan::engine_fast(2), Plan::engine_fast(7));
}

#[test]
#[ignore = "long: cargo test -p tests-day1-to-day7 --release -- --ignored (cargo x check --long)"]
fn engine_matches_a_model_across_reopens_long() {
    let check = check("engine_matches_a_model_across_reopens_long", BOOK_RECOVERY);
    model::check_seeds(check, 1_000..1_050, 20_000, false, 6);
    model::check_seeds(check, 2_000..2_050, 20_000, true, 6);
}

#[test]
#[ignore = "long: cargo test -p tests-day1-to-day7 --release -- --ignored (cargo x check --long)"]
fn crashes_long() {
    let check = check("crashes_long", BOOK_KILL);
    crash::kill_trials(check, CRASH_WRITER, 60_000..60_100);
    crash::power_loss_seeds(check, 61_000..61_050, 20);
}

#[test]
#[ignore = "long: cargo test -p tests-day1-to-day7 --release -- --ignored (cargo x check --long)"]
fn full_sweep_logs_and_engine() {
    let check = check("full_sweep_logs_and_engine", BOOK_TRUST);
    sweep_wal(check, Plan::full());
    sweep_manifest(check, Plan::full());
    sweep_engine(check, Plan::engine_full(), Plan::engine_full());
}
