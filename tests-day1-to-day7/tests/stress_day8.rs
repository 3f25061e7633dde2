//! Stress checks of day 8 (Part 2): the engine with versioned keys against a `BTreeMap` model
//! that also takes, reads and releases snapshots (see `tests_day1_to_day7::stress::model`):
//! every read at a snapshot must agree with the model as it was when the snapshot was taken,
//! through flushes, compactions and overwrites. Graded by `cargo x grade --stress --day 8`; they
//! carry no points, but a failure caps day 8 at 75% there.

use tests_day1_to_day7::stress::{Check, model};

const TARGET: &str = "stress_day8";
const BOOK_MODEL: &str = "day8-snapshots.md#snapshots";

fn check(test: &'static str) -> Check {
    Check {
        target: TARGET,
        test,
        book: BOOK_MODEL,
    }
}

/// Random operations with snapshots, background threads off.
#[test]
fn snapshots_match_a_model_background_off() {
    model::check_seeds(
        check("snapshots_match_a_model_background_off"),
        0..8,
        1_000,
        false,
        8,
    );
}

/// The same with the flush and compaction threads racing the operations.
#[test]
fn snapshots_match_a_model_background_on() {
    model::check_seeds(
        check("snapshots_match_a_model_background_on"),
        100..108,
        1_000,
        true,
        8,
    );
}

#[test]
#[ignore = "long: cargo test -p tests-day1-to-day7 --release -- --ignored (cargo x check --long)"]
fn snapshots_match_a_model_long() {
    let check = check("snapshots_match_a_model_long");
    model::check_seeds(check, 8_000..8_050, 20_000, false, 8);
    model::check_seeds(check, 8_100..8_150, 20_000, true, 8);
}
