//! Stress checks that need days 1-2 only: every byte of an SST (without a bloom filter, which is
//! day 7's) damaged in turn (see `tests_day1_to_day7::stress::sweep`). Graded by
//! `cargo x grade --stress`; they carry no points, but a failure caps day 2 at 75% there.

use tests_day1_to_day7::stress::Check;
use tests_day1_to_day7::stress::sweep::{Plan, sweep_sst};

const TARGET: &str = "stress_day2";
const BOOK: &str = "day2-sst.md#checksums-and-corruption";

/// Three masks at every byte and a cut at every length: every byte of an SST is under a
/// checksum, so each damaged file must give a typed error at open or read, never a panic or
/// wrong data.
#[test]
fn every_damaged_byte_of_an_sst_is_an_error() {
    let check = Check {
        target: TARGET,
        test: "every_damaged_byte_of_an_sst_is_an_error",
        book: BOOK,
    };
    sweep_sst(check, Plan::fast(), false);
}

/// Every mask at every byte (`cargo x check --long`).
#[test]
#[ignore = "long: cargo test -p tests-day1-to-day7 --release -- --ignored (cargo x check --long)"]
fn every_damaged_byte_of_an_sst_long() {
    let check = Check {
        target: TARGET,
        test: "every_damaged_byte_of_an_sst_long",
        book: BOOK,
    };
    sweep_sst(check, Plan::full(), false);
}
