//! Stress checks that need days 1-4 only (no compaction, no WAL): the engine against a
//! `BTreeMap` model with flushes (see `tests_day1_to_day7::stress::model`), and concurrent
//! writers and readers during freezes and flushes (see `…::stress::concurrency`). Graded by
//! `cargo x grade --stress`; they carry no points, but a failure caps day 4 at 75% there.

use tests_day1_to_day7::stress::concurrency::{self, Workload};
use tests_day1_to_day7::stress::{Check, model};

const TARGET: &str = "stress_day4";
const BOOK_MODEL: &str = "day4-engine.md#read-path";
const BOOK_CONCURRENCY: &str = "day4-engine.md#concurrency";
const BOOK_FLUSH: &str = "day4-engine.md#freeze-and-flush";

fn check(test: &'static str, book: &'static str) -> Check {
    Check {
        target: TARGET,
        test,
        book,
    }
}

/// Random puts, deletes, batches, gets, scans, flushes and syncs; only the explicit hooks
/// flush.
#[test]
fn engine_matches_a_model_background_off() {
    let check = check("engine_matches_a_model_background_off", BOOK_MODEL);
    model::check_seeds(check, 0..6, 800, false, 4);
}

/// The same with the flush thread racing the operations.
#[test]
fn engine_matches_a_model_background_on() {
    let check = check("engine_matches_a_model_background_on", BOOK_MODEL);
    model::check_seeds(check, 100..106, 800, true, 4);
}

/// Three writers, two readers and the flush hooks at once: every read linearizable.
#[test]
fn reads_are_linearizable_while_memtables_freeze_and_flush() {
    let check = check(
        "reads_are_linearizable_while_memtables_freeze_and_flush",
        BOOK_CONCURRENCY,
    );
    let workload = Workload {
        writers: 3,
        keys_per_writer: 40,
        writes_per_writer: 600,
        readers: 2,
        day: 4,
    };
    concurrency::check_seeds(check, 1..2, workload);
}

/// `force_flush` and `sync` (with the WAL off, a flush) flush what was written before the call:
/// writers that keep freezing new memtables meanwhile must not keep them running forever.
#[test]
fn force_flush_and_sync_return_while_writers_keep_freezing_memtables() {
    let check = check(
        "force_flush_and_sync_return_while_writers_keep_freezing_memtables",
        BOOK_FLUSH,
    );
    concurrency::force_flush_and_sync_return_while_writers_keep_freezing_memtables(check);
}

#[test]
#[ignore = "long: cargo test -p tests-day1-to-day7 --release -- --ignored (cargo x check --long)"]
fn engine_matches_a_model_long() {
    let check = check("engine_matches_a_model_long", BOOK_MODEL);
    model::check_seeds(check, 4_000..4_025, 20_000, false, 4);
    model::check_seeds(check, 4_100..4_125, 20_000, true, 4);
}

#[test]
#[ignore = "long: cargo test -p tests-day1-to-day7 --release -- --ignored (cargo x check --long)"]
fn reads_are_linearizable_long() {
    let check = check("reads_are_linearizable_long", BOOK_CONCURRENCY);
    let workload = Workload {
        writers: 4,
        keys_per_writer: 200,
        writes_per_writer: 20_000,
        readers: 3,
        day: 4,
    };
    concurrency::check_seeds(check, 400..402, workload);
}
