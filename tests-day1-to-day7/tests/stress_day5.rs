//! Stress checks that need days 1-5 (compaction, no WAL): the engine against a `BTreeMap` model
//! with flushes and compactions (see `tests_day1_to_day7::stress::model`), and concurrent
//! writers and readers while flushes and compactions run (see `…::stress::concurrency`). Graded
//! by `cargo x grade --stress`; they carry no points, but a failure caps day 5 at 75% there.

use tests_day1_to_day7::stress::concurrency::{self, Workload};
use tests_day1_to_day7::stress::{Check, model};

const TARGET: &str = "stress_day5";
const BOOK_MODEL: &str = "day5-leveled-compaction.md#checking-the-shape";
const BOOK_CONCURRENCY: &str = "day5-leveled-compaction.md#the-background-compaction-thread";

fn check(test: &'static str, book: &'static str) -> Check {
    Check {
        target: TARGET,
        test,
        book,
    }
}

/// Random writes, reads, flushes and compactions; only the explicit hooks change the shape.
#[test]
fn engine_matches_a_model_with_compactions_background_off() {
    let check = check(
        "engine_matches_a_model_with_compactions_background_off",
        BOOK_MODEL,
    );
    model::check_seeds(check, 0..8, 1_000, false, 5);
}

/// The same with the flush and compaction threads racing the operations.
#[test]
fn engine_matches_a_model_with_compactions_background_on() {
    let check = check(
        "engine_matches_a_model_with_compactions_background_on",
        BOOK_MODEL,
    );
    model::check_seeds(check, 100..108, 1_000, true, 5);
}

/// Three writers, two readers and every hook (compactions too) at once: every read
/// linearizable.
#[test]
fn reads_are_linearizable_while_flush_and_compaction_run() {
    let check = check(
        "reads_are_linearizable_while_flush_and_compaction_run",
        BOOK_CONCURRENCY,
    );
    let workload = Workload {
        writers: 3,
        keys_per_writer: 40,
        writes_per_writer: 600,
        readers: 2,
        day: 5,
    };
    concurrency::check_seeds(check, 1..2, workload);
}

/// `compact_until_idle` does the work the tree needed when it was called, and no more: writers
/// that keep flushing new SSTs meanwhile must not keep it running.
#[test]
fn compact_until_idle_returns_while_writers_keep_flushing() {
    let check = check(
        "compact_until_idle_returns_while_writers_keep_flushing",
        BOOK_CONCURRENCY,
    );
    concurrency::compact_until_idle_returns_while_writers_keep_flushing(check);
}

#[test]
#[ignore = "long: cargo test -p tests-day1-to-day7 --release -- --ignored (cargo x check --long)"]
fn engine_matches_a_model_with_compactions_long() {
    let check = check("engine_matches_a_model_with_compactions_long", BOOK_MODEL);
    model::check_seeds(check, 5_000..5_025, 20_000, false, 5);
    model::check_seeds(check, 5_100..5_125, 20_000, true, 5);
}

#[test]
#[ignore = "long: cargo test -p tests-day1-to-day7 --release -- --ignored (cargo x check --long)"]
fn reads_are_linearizable_while_flush_and_compaction_run_long() {
    // About 35 s per seed in a release build.
    let check = check(
        "reads_are_linearizable_while_flush_and_compaction_run_long",
        BOOK_CONCURRENCY,
    );
    let workload = Workload {
        writers: 4,
        keys_per_writer: 200,
        writes_per_writer: 20_000,
        readers: 3,
        day: 5,
    };
    concurrency::check_seeds(check, 100..103, workload);
}
