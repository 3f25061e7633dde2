//! Stress checks that need day 1 only: every byte of a block damaged in turn (see
//! `tests_day1_to_day7::stress::sweep`). Graded by `cargo x grade --stress`; they carry no
//! points, but a failure caps day 1 at 75% there.

use tests_day1_to_day7::stress::Check;
use tests_day1_to_day7::stress::sweep::{Plan, sweep_block};

const TARGET: &str = "stress_day1";
const BOOK: &str = "day1-blocks.md#decoding-untrusted-bytes";

/// Three masks at every byte and a cut at every length: `Block::decode` gives a typed error, or
/// a block that iterates and seeks over exactly the entries it claims, never a panic.
#[test]
fn damaged_blocks_decode_to_an_error_or_well_formed_entries() {
    let check = Check {
        target: TARGET,
        test: "damaged_blocks_decode_to_an_error_or_well_formed_entries",
        book: BOOK,
    };
    sweep_block(check, Plan::fast());
}

/// Every mask at every byte (`cargo x check --long`).
#[test]
#[ignore = "long: cargo test -p tests-day1-to-day7 --release -- --ignored (cargo x check --long)"]
fn damaged_blocks_long() {
    let check = Check {
        target: TARGET,
        test: "damaged_blocks_long",
        book: BOOK,
    };
    sweep_block(check, Plan::full());
}
