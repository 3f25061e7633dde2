//! `cargo x grade --stress`: the stress checks of `tests-day1-to-day7/tests/stress_dayN.rs`
//! (model-based, concurrency, corruption sweep and crash checks; see the tests crate's `stress`
//! module), run on the crate under test next to the graded days.
//!
//! A stress target is named for the last day whose work it needs: `stress_day5` calls only what
//! days 1 to 5 built. Its checks carry no points of their own; they *gate* their day: with
//! `--stress`, a day whose stress checks do not all pass is capped at [`CAP`] of its points, and
//! is not fully passed. Without `--stress` nothing changes.
//!
//! Each check runs in its own process like a graded test, with a timeout of at least
//! [`TIMEOUT`] (a stress check runs longer than a unit test, and a busy machine slows it more).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Result, bail};
use serde_json::{Value, json};

use crate::grade::{DayGrade, Grade, Subject};
use crate::report;
use crate::runner::{self, Built, Place, RunSettings, TestCase, TestOutcome};
use crate::workspace::TESTS_PACKAGE;

/// The share of a day's points a day keeps at most when one of its stress checks fails.
pub const CAP: f64 = 0.75;

/// The shortest timeout a stress check gets (`--timeout` when longer).
pub const TIMEOUT: Duration = Duration::from_secs(120);

/// What a stress target's name is before its day: `stress_day5`.
const TARGET_PREFIX: &str = "stress_day";

/// The name of the stress target of `day`.
pub fn target(day: u8) -> String {
    format!("{TARGET_PREFIX}{day}")
}

/// The stress test file of `day`.
pub fn test_file(root: &Path, day: u8) -> PathBuf {
    root.join(TESTS_PACKAGE)
        .join("tests")
        .join(format!("{}.rs", target(day)))
}

/// The stress targets of `days` that exist (a day may have none).
pub fn targets(root: &Path, days: &[u8]) -> Vec<String> {
    days.iter()
        .filter(|&&day| test_file(root, day).is_file())
        .map(|&day| target(day))
        .collect()
}

/// Builds the stress targets of `days` at `place` (after the graded days were built: only the
/// targets themselves compile) and returns each day's executable.
fn build(place: &Place, subject: Subject, days: &[u8]) -> Result<BTreeMap<u8, PathBuf>> {
    let days: Vec<u8> = days
        .iter()
        .copied()
        .filter(|&day| test_file(&place.root, day).is_file())
        .collect();
    if days.is_empty() {
        return Ok(BTreeMap::new());
    }
    match runner::build_targets(place, subject.feature_args(), TARGET_PREFIX, &days)? {
        Built::Executables(executables) => Ok(executables),
        Built::DoesNotCompile { error } => {
            bail!("the stress targets do not compile (the graded days did):\n{error}")
        }
    }
}

/// The stress checks of `exe`: every test but the `#[ignore]`d long variants.
fn list_checks(day: u8, exe: &Path, dir: &Path) -> Result<Vec<TestCase>> {
    let all = runner::list_tests(exe, dir)?;
    let ignored: BTreeSet<String> = runner::list_ignored_tests(exe, dir)?.into_iter().collect();
    Ok(all
        .into_iter()
        .filter(|name| !ignored.contains(name))
        .map(|name| TestCase {
            day,
            name,
            exe: exe.to_path_buf(),
        })
        .collect())
}

/// Runs the stress checks of the days of `grade` (which must have compiled) and records them in
/// each day; a day without a stress target gets an empty list.
pub fn run(
    place: &Place,
    subject: Subject,
    grade: &mut Grade,
    settings: RunSettings,
) -> Result<()> {
    if grade.compile_error.is_some() {
        return Ok(());
    }
    let days: Vec<u8> = grade.days.iter().map(|day| day.day).collect();
    let executables = build(place, subject, &days)?;
    let dir = place.tests_dir();
    let mut cases = Vec::new();
    for (&day, exe) in &executables {
        cases.extend(list_checks(day, exe, &dir)?);
    }
    let settings = RunSettings {
        timeout: settings.timeout.max(TIMEOUT),
        ..settings
    };
    let outcomes = runner::run_all(&cases, &dir, settings);
    for day in &mut grade.days {
        day.stress = Some(
            outcomes
                .iter()
                .filter(|outcome| outcome.case.day == day.day)
                .cloned()
                .collect(),
        );
    }
    Ok(())
}

/// What the report's first line adds with `--stress`: how many stress checks ran, and their
/// timeout. Empty without `--stress`.
pub fn header_note(grade: &Grade) -> String {
    let checks: Option<usize> = grade
        .days
        .iter()
        .map(|day| day.stress.as_ref().map(Vec::len))
        .sum();
    match checks {
        Some(checks) => format!(
            "; {checks} stress checks, timeout {} s",
            grade.timeout.max(TIMEOUT).as_secs()
        ),
        None => String::new(),
    }
}

/// The stress checks of `day` that did not pass (none when they were not run).
pub fn failed(day: &DayGrade) -> Vec<&TestOutcome> {
    day.stress
        .iter()
        .flatten()
        .filter(|check| !check.status.passed())
        .collect()
}

/// Whether the day's points are capped: a stress check of it failed.
pub fn capped(day: &DayGrade) -> bool {
    !failed(day).is_empty()
}

/// `earned`, capped at [`CAP`] of the day's points when one of its stress checks failed.
pub fn cap(day: &DayGrade, earned: f64) -> f64 {
    if capped(day) {
        earned.min(day.max_points * CAP)
    } else {
        earned
    }
}

/// What the day line adds with `--stress`: how many stress checks passed, or which one failed
/// (and, when that lowered the day's points, that the day is capped). Empty without `--stress`
/// or for a day without stress checks.
pub fn day_note(day: &DayGrade) -> String {
    let Some(checks) = &day.stress else {
        return String::new();
    };
    if checks.is_empty() {
        return String::new();
    }
    match failed(day).as_slice() {
        [] => format!("  stress {}/{} ✓", checks.len(), checks.len()),
        [first, rest @ ..] => {
            let more = if rest.is_empty() {
                String::new()
            } else {
                format!(" (+{} more)", rest.len())
            };
            let capped = if uncapped_points(day) > day.max_points * CAP {
                format!("  capped at {:.0}%:", CAP * 100.0)
            } else {
                String::from(" ")
            };
            format!("{capped} stress check {} failed{more}", first.case.name)
        }
    }
}

/// The day's points before the cap.
fn uncapped_points(day: &DayGrade) -> f64 {
    day.tests
        .iter()
        .flatten()
        .filter(|test| test.status.passed())
        .map(|test| day.points_of(&test.case.name))
        .sum()
}

/// The lines under a day for its failed stress checks: "blocked by day K: …" when they all
/// stopped at an earlier day's `todo!()` (as for the day's tests), else each failed check with
/// the first lines of its message (which say what was violated, the seed, the replay command
/// and the book section), up to `listed` checks.
pub fn failure_lines(day: &DayGrade, listed: usize) -> Vec<String> {
    let failures = failed(day);
    if failures.is_empty() {
        return Vec::new();
    }
    if let Some((earlier, stubs)) = report::blocked_by(day.day, &failures) {
        return vec![format!(
            "     stress: blocked by day {earlier}: {}",
            stubs.join(", ")
        )];
    }
    let mut lines = Vec::new();
    for check in failures.iter().take(listed) {
        let reason = report::short_reason(day.day, &check.status);
        let mut reason = reason.iter();
        let first = reason.next().map_or("", String::as_str);
        lines.push(format!("     ✗ stress {}: {first}", check.case.name));
        // The message's next lines: the replay command and the book section.
        for line in check.status.reason().lines().skip(1).take(2) {
            lines.push(format!("         {line}"));
        }
    }
    if failures.len() > listed {
        lines.push(format!(
            "     … and {} more failed stress checks (--verbose lists them all)",
            failures.len() - listed
        ));
    }
    lines
}

/// The Gradescope entries of the day's stress checks: worth 0 points each, failed with their
/// message.
pub fn json_entries(day: &DayGrade) -> Vec<Value> {
    day.stress
        .iter()
        .flatten()
        .map(|check| {
            let passed = check.status.passed();
            let mut output = check.status.reason();
            if !passed {
                output = format!(
                    "day {} is capped at {:.0}% of its points while this stress check fails.\n{output}",
                    day.day,
                    CAP * 100.0
                );
            }
            json!({
                "name": format!("day {} stress: {}", day.day, check.case.name),
                "score": 0.0,
                "max_score": 0.0,
                "status": if passed { "passed" } else { "failed" },
                "output": output,
                "output_format": "text",
                "visibility": "visible",
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::Status;

    /// A day worth 20 points whose 4 tests all passed, with stress checks of `statuses`.
    fn day(statuses: Vec<Status>) -> DayGrade {
        let outcome = |name: String, status: Status| TestOutcome {
            case: TestCase {
                day: 5,
                name,
                exe: PathBuf::new(),
            },
            status,
        };
        DayGrade {
            day: 5,
            tests: Some(
                (0..4)
                    .map(|i| outcome(format!("t{i}"), Status::Passed))
                    .collect(),
            ),
            max_points: 20.0,
            weights: Default::default(),
            stress: Some(
                statuses
                    .into_iter()
                    .enumerate()
                    .map(|(i, status)| outcome(format!("s{i}"), status))
                    .collect(),
            ),
        }
    }

    #[test]
    fn a_failed_stress_check_caps_its_day_at_three_quarters() {
        let passing = day(vec![Status::Passed, Status::Passed]);
        assert_eq!(passing.points(), 20.0);
        assert!(passing.fully_passed());
        assert_eq!(day_note(&passing), "  stress 2/2 ✓");
        let failing = day(vec![
            Status::Passed,
            Status::Failed("[stress: s1, seed 3] lost a write\nreplay: x\n(book: y)".into()),
        ]);
        assert_eq!(failing.points(), 15.0);
        assert!(!failing.fully_passed());
        assert_eq!(
            day_note(&failing),
            "  capped at 75%: stress check s1 failed"
        );
        assert_eq!(
            failure_lines(&failing, 8),
            [
                "     ✗ stress s1: [stress: s1, seed 3] lost a write",
                "         replay: x",
                "         (book: y)",
            ]
        );
        let entries = json_entries(&failing);
        assert_eq!(entries[1]["name"], "day 5 stress: s1");
        assert_eq!(entries[1]["max_score"], 0.0);
        assert_eq!(entries[1]["status"], "failed");
    }

    #[test]
    fn a_capped_day_keeps_less_than_the_cap_when_it_earned_less() {
        let mut failing = day(vec![Status::TimedOut(Duration::from_secs(120))]);
        if let Some(tests) = &mut failing.tests {
            tests[0].status = Status::Failed("x".into());
            tests[1].status = Status::Failed("x".into());
        }
        assert_eq!(failing.points(), 10.0);
        assert_eq!(day_note(&failing), "  stress check s0 failed");
    }

    #[test]
    fn stress_checks_stopped_by_an_earlier_todo_are_blocked_by_that_day() {
        let blocked = day(vec![Status::Failed(
            "not yet implemented: day 4: MiniLsm::open — x".into(),
        )]);
        assert_eq!(
            failure_lines(&blocked, 8),
            ["     stress: blocked by day 4: MiniLsm::open"]
        );
    }

    #[test]
    fn without_stress_nothing_changes() {
        let mut plain = day(vec![]);
        plain.stress = None;
        assert_eq!(day_note(&plain), "");
        assert!(failure_lines(&plain, 8).is_empty());
        assert!(json_entries(&plain).is_empty());
        assert_eq!(plain.points(), 20.0);
    }

    #[test]
    fn the_header_counts_the_stress_checks_and_their_timeout() {
        let mut grade = Grade {
            label: "x".into(),
            days: vec![day(vec![Status::Passed, Status::Passed]), day(vec![])],
            compile_error: None,
            timeout: Duration::from_secs(10),
        };
        assert_eq!(header_note(&grade), "; 2 stress checks, timeout 120 s");
        for day in &mut grade.days {
            day.stress = None;
        }
        assert_eq!(header_note(&grade), "");
    }

    #[test]
    fn stress_targets_are_found_by_name() {
        let stdout = r#"{"reason":"compiler-artifact","target":{"name":"stress_day4"},"profile":{"test":true},"executable":"/t/stress_day4-x"}
{"reason":"compiler-artifact","target":{"name":"day4"},"profile":{"test":true},"executable":"/t/day4-x"}"#;
        assert_eq!(
            runner::parse_build_messages(stdout, TARGET_PREFIX).executables,
            BTreeMap::from([(4, PathBuf::from("/t/stress_day4-x"))])
        );
    }
}
