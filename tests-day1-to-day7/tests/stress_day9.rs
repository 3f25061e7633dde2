//! Stress checks of day 9 (Part 2): concurrent transactions against a bank's invariant (see
//! `tests_day1_to_day7::stress::bank`). Workers move money between a few accounts in
//! transactions, retrying after conflicts; an auditor reads every account at points in time;
//! the total must never change, and at the end (and after a reopen) each account must hold
//! exactly what the committed transfers left in it. Graded by `cargo x grade --stress --day 9`;
//! they carry no points, but a failure caps day 9 at 75% there.

use tests_day1_to_day7::stress::Check;
use tests_day1_to_day7::stress::bank::{self, Bank};

const TARGET: &str = "stress_day9";
const BOOK: &str = "day9-transactions.md#validation";

fn check(test: &'static str) -> Check {
    Check {
        target: TARGET,
        test,
        book: BOOK,
    }
}

/// Three workers, an auditor, and the flush and compaction threads, for a few seeds.
#[test]
fn transfers_keep_the_total_and_every_commit() {
    bank::check_seeds(
        check("transfers_keep_the_total_and_every_commit"),
        0..3,
        Bank {
            workers: 3,
            transfers_per_worker: 100,
        },
    );
}

#[test]
#[ignore = "long: cargo test -p tests-day1-to-day7 --release -- --ignored (cargo x check --long)"]
fn transfers_keep_the_total_and_every_commit_long() {
    bank::check_seeds(
        check("transfers_keep_the_total_and_every_commit_long"),
        1_000..1_010,
        Bank {
            workers: 4,
            transfers_per_worker: 1_000,
        },
    );
}
