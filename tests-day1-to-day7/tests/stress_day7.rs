//! Stress checks that need every day: the full engine (bloom filters, prefix-compressed keys)
//! against a `BTreeMap` model (see `tests_day1_to_day7::stress::model`), and every byte of an
//! SST with a bloom filter damaged in turn (`…::stress::sweep`). Graded by
//! `cargo x grade --stress`; they carry no points, but a failure caps day 7 at 75% there.

use tests_day1_to_day7::stress::sweep::{Plan, sweep_sst};
use tests_day1_to_day7::stress::{Check, model};

const TARGET: &str = "stress_day7";
const BOOK_MODEL: &str = "day7-bloom-filters-and-compression.md#everything-still-works";
const BOOK_BLOOM: &str = "day7-bloom-filters-and-compression.md#bloom-filters-in-the-sst";

fn check(test: &'static str, book: &'static str) -> Check {
    Check {
        target: TARGET,
        test,
        book,
    }
}

/// Random operations of every day on the full engine.
#[test]
fn full_engine_matches_a_model_background_off() {
    let check = check("full_engine_matches_a_model_background_off", BOOK_MODEL);
    model::check_seeds(check, 0..8, 1_000, false, 7);
}

/// The same with the background threads racing the operations.
#[test]
fn full_engine_matches_a_model_background_on() {
    let check = check("full_engine_matches_a_model_background_on", BOOK_MODEL);
    model::check_seeds(check, 100..108, 1_000, true, 7);
}

/// Every damaged byte of an SST with a bloom filter (the filter is checksummed too) is an error
/// at open or read, never a panic, a wrong answer, or a missed key.
#[test]
fn every_damaged_byte_of_an_sst_with_a_bloom_filter_is_an_error() {
    let check = check(
        "every_damaged_byte_of_an_sst_with_a_bloom_filter_is_an_error",
        BOOK_BLOOM,
    );
    sweep_sst(check, Plan::fast(), true);
}

#[test]
#[ignore = "long: cargo test -p tests-day1-to-day7 --release -- --ignored (cargo x check --long)"]
fn full_engine_matches_a_model_long() {
    let check = check("full_engine_matches_a_model_long", BOOK_MODEL);
    model::check_seeds(check, 7_000..7_050, 20_000, false, 7);
    model::check_seeds(check, 7_100..7_150, 20_000, true, 7);
}

#[test]
#[ignore = "long: cargo test -p tests-day1-to-day7 --release -- --ignored (cargo x check --long)"]
fn every_damaged_byte_of_an_sst_with_a_bloom_filter_long() {
    let check = check(
        "every_damaged_byte_of_an_sst_with_a_bloom_filter_long",
        BOOK_BLOOM,
    );
    sweep_sst(check, Plan::full(), true);
}
