//! `cargo x grade`: runs the graded tests of each day against the starter (or the reference) and
//! prints one line per day, with why the day's failed tests failed.
//!
//! Running tests is behind the [`Runner`] trait; [`CargoTestRunner`] runs one `cargo test` per
//! day. A runner with a per-test timeout can replace it without touching the report.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use crate::libtest::{self, Outcome, TestResult, TestRun};
use crate::workspace::{self, TESTS_PACKAGE};

/// The title of each day, index 0 for day 1.
const DAY_TITLES: [&str; 7] = [
    "Blocks",
    "SSTs",
    "MemTable + merging",
    "Engine + block cache",
    "Leveled compaction",
    "Recovery",
    "Bloom filters + key compression",
];

/// At most this many failed tests are listed per day.
const MAX_LISTED_FAILURES: usize = 5;

/// What `todo!("…")` panics with, before its message.
const TODO_PREFIX: &str = "not yet implemented: ";

/// The crate under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    /// `mini-lsm-starter` (feature `starter` of the tests package).
    Starter,
    /// `mini-lsm-reference` (feature `reference`, the default).
    Reference,
}

impl Subject {
    /// The `cargo` arguments selecting this crate in the tests package.
    pub fn feature_args(self) -> &'static [&'static str] {
        match self {
            Subject::Starter => &["--no-default-features", "--features", "starter"],
            Subject::Reference => &["--features", "reference"],
        }
    }

    /// The crate's directory name.
    fn crate_name(self) -> &'static str {
        match self {
            Subject::Starter => workspace::STARTER_DIR,
            Subject::Reference => workspace::REFERENCE_DIR,
        }
    }
}

/// What running one day's graded tests gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DayRun {
    /// The tests did not compile; the first compiler error.
    DoesNotCompile {
        /// The compiler's message, from `error…` to the next blank line.
        error: String,
    },
    /// The tests ran.
    Ran(TestRun),
}

/// Runs one day's graded tests.
pub trait Runner {
    /// Runs the test target `dayN` and reports every test's result.
    fn run_day(&self, day: u8) -> Result<DayRun>;
}

/// Runs a day's tests with one `cargo test … --test dayN -- --test-threads=2`.
pub struct CargoTestRunner {
    /// The workspace root.
    root: PathBuf,
    /// The crate under test.
    subject: Subject,
}

impl CargoTestRunner {
    /// A runner for `subject` in the workspace at `root`.
    pub fn new(root: &Path, subject: Subject) -> Self {
        CargoTestRunner {
            root: root.to_path_buf(),
            subject,
        }
    }
}

impl Runner for CargoTestRunner {
    fn run_day(&self, day: u8) -> Result<DayRun> {
        let target = format!("day{day}");
        let mut args = vec!["test", "--package", TESTS_PACKAGE];
        args.extend(self.subject.feature_args());
        args.extend(["--test", &target, "--", "--test-threads=2"]);
        let output = workspace::capture(workspace::cargo(&self.root, &args))?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let run = libtest::parse(&stdout);
        if !output.status.success() && run.total() == 0 {
            let error = workspace::first_compiler_error(&stderr)
                .unwrap_or_else(|| format!("cargo test failed ({}):\n{stderr}", output.status));
            return Ok(DayRun::DoesNotCompile { error });
        }
        Ok(DayRun::Ran(run))
    }
}

/// Grades `days` (every day with a test file when `None`) of `subject` in the workspace at
/// `root`; `Ok(true)` when every graded day passed all its tests.
pub fn grade(root: &Path, subject: Subject, day: Option<u8>) -> Result<bool> {
    let days = match day {
        Some(day) if workspace::day_test_file(root, day).is_file() => vec![day],
        Some(day) => bail!(
            "day {day} has no graded tests: {} does not exist",
            workspace::day_test_file(root, day).display()
        ),
        None => workspace::graded_days(root),
    };
    if days.is_empty() {
        bail!("no graded tests: {TESTS_PACKAGE}/tests/day1.rs … day7.rs do not exist");
    }
    println!(
        "grading {} (cargo test -p {TESTS_PACKAGE} {})",
        subject.crate_name(),
        subject.feature_args().join(" ")
    );
    let runner = CargoTestRunner::new(root, subject);
    let mut all_passed = true;
    for day in days {
        let run = runner.run_day(day)?;
        for line in report_day(day, &run) {
            println!("{line}");
        }
        all_passed &= day_passed(&run);
    }
    println!(
        "{}",
        if all_passed {
            "every graded day passes"
        } else {
            "some days do not pass yet"
        }
    );
    Ok(all_passed)
}

/// Whether a day passed: it compiled, at least one test ran, and every test passed.
fn day_passed(run: &DayRun) -> bool {
    match run {
        DayRun::DoesNotCompile { .. } => false,
        DayRun::Ran(tests) => tests.total() > 0 && tests.passed() == tests.total(),
    }
}

/// The report of one day: its score line, then why its tests failed.
fn report_day(day: u8, run: &DayRun) -> Vec<String> {
    let title = DAY_TITLES[usize::from(day - 1)];
    let width = DAY_TITLES
        .iter()
        .map(|title| title.len())
        .max()
        .unwrap_or(0)
        + 2;
    let tests = match run {
        DayRun::DoesNotCompile { error } => {
            let mut lines = vec![format!(
                "day {day}  {title:<width$}0/0 passed — does not compile"
            )];
            lines.extend(error.lines().map(|line| format!("    {line}")));
            return lines;
        }
        DayRun::Ran(tests) => tests,
    };
    let mut lines = vec![format!(
        "day {day}  {title:<width$}{}/{} passed",
        tests.passed(),
        tests.total()
    )];
    // Sorted by name: tests run in parallel and report in no fixed order.
    let mut failures: Vec<&TestResult> = tests
        .results
        .iter()
        .filter(|result| result.outcome != Outcome::Passed)
        .collect();
    failures.sort_by(|a, b| a.name.cmp(&b.name));
    if let Some((earlier, stubs)) = blocked_by(day, &failures) {
        lines.push(format!("  blocked by day {earlier}: {}", stubs.join(", ")));
    } else {
        lines.extend(
            failures
                .iter()
                .take(MAX_LISTED_FAILURES)
                .map(|result| format!("  ✗ {}: {}", result.name, first_line(result))),
        );
        if failures.len() > MAX_LISTED_FAILURES {
            lines.push(format!(
                "  … and {} more failed tests",
                failures.len() - MAX_LISTED_FAILURES
            ));
        }
    }
    if tests.unreported() > 0 {
        lines.push(format!(
            "  ✗ {} tests never reported a result: the test binary crashed (run `cargo test -p {TESTS_PACKAGE} --test day{day}` to see why)",
            tests.unreported()
        ));
    }
    lines
}

/// The first line of a failed test's message (or why a test that did not fail is listed).
fn first_line(result: &TestResult) -> &str {
    match &result.outcome {
        Outcome::Failed { message } => message.lines().next().unwrap_or("(no message)"),
        Outcome::Ignored => "ignored (a graded test must not be)",
        Outcome::Passed => "passed",
    }
}

/// When every failure of `day` is a `todo!()` of an earlier day: the earliest such day and its
/// stubs (`Type::method`) that the tests hit.
fn blocked_by(day: u8, failures: &[&TestResult]) -> Option<(u8, Vec<String>)> {
    let todos: Vec<(u8, String)> = failures
        .iter()
        .map(|result| result.failure_message().and_then(todo_stub))
        .collect::<Option<_>>()?;
    let earliest = todos.iter().map(|(todo_day, _)| *todo_day).min()?;
    if todos.iter().any(|(todo_day, _)| *todo_day >= day) {
        return None;
    }
    let mut stubs: Vec<String> = todos
        .into_iter()
        .filter(|(todo_day, _)| *todo_day == earliest)
        .map(|(_, stub)| stub)
        .collect();
    stubs.sort();
    stubs.dedup();
    Some((earliest, stubs))
}

/// The day and `Type::method` of a `todo!("day K: Type::method — hint")` panic message.
pub fn todo_stub(message: &str) -> Option<(u8, String)> {
    let rest = message
        .lines()
        .next()?
        .strip_prefix(TODO_PREFIX)?
        .strip_prefix("day ")?;
    let (day, rest) = rest.split_once(": ")?;
    let stub = rest.split_once(" — ").map_or(rest, |(stub, _)| stub);
    Some((day.parse().ok()?, stub.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A failed test with `message`.
    fn failed(name: &str, message: &str) -> TestResult {
        TestResult {
            name: name.to_string(),
            outcome: Outcome::Failed {
                message: message.to_string(),
            },
        }
    }

    /// A passed test.
    fn passed(name: &str) -> TestResult {
        TestResult {
            name: name.to_string(),
            outcome: Outcome::Passed,
        }
    }

    #[test]
    fn a_todo_message_names_its_day_and_stub() {
        let message = "not yet implemented: day 1: BlockIterator::seek_to_key — binary search";
        assert_eq!(
            todo_stub(message),
            Some((1, "BlockIterator::seek_to_key".to_string()))
        );
        assert_eq!(todo_stub("assertion failed"), None);
    }

    #[test]
    fn a_day_failing_only_on_earlier_todos_is_blocked_by_the_earliest() {
        let run = DayRun::Ran(TestRun {
            results: vec![
                failed("a", "not yet implemented: day 2: SsTable::open — x"),
                failed("b", "not yet implemented: day 1: Block::decode — y"),
                failed("c", "not yet implemented: day 1: Block::decode — y"),
            ],
            declared: 3,
        });
        let report = report_day(3, &run);
        assert!(report[0].ends_with("0/3 passed"), "{report:?}");
        assert_eq!(report[1], "  blocked by day 1: Block::decode");
        assert_eq!(report.len(), 2);
    }

    #[test]
    fn a_day_failing_on_its_own_todo_lists_the_failures() {
        let run = DayRun::Ran(TestRun {
            results: vec![
                passed("ok"),
                failed("a", "not yet implemented: day 3: MemTable::get — x"),
                failed("b", "not yet implemented: day 1: Block::decode — y"),
            ],
            declared: 3,
        });
        let report = report_day(3, &run);
        assert!(
            report[0].starts_with("day 3  MemTable + merging "),
            "{report:?}"
        );
        assert!(report[0].ends_with("1/3 passed"), "{report:?}");
        assert_eq!(
            report[1],
            "  ✗ a: not yet implemented: day 3: MemTable::get — x"
        );
        assert!(!day_passed(&run));
    }

    #[test]
    fn only_a_day_whose_tests_all_pass_passes() {
        let all = DayRun::Ran(TestRun {
            results: vec![passed("a")],
            declared: 1,
        });
        assert!(day_passed(&all));
        assert!(!day_passed(&DayRun::Ran(TestRun::default())));
        let crashed = DayRun::Ran(TestRun {
            results: vec![passed("a")],
            declared: 2,
        });
        assert!(!day_passed(&crashed));
        assert!(!day_passed(&DayRun::DoesNotCompile {
            error: "error".to_string()
        }));
    }

    #[test]
    fn a_compile_error_is_shown() {
        let report = report_day(
            1,
            &DayRun::DoesNotCompile {
                error: "error[E1]: bad\n --> x.rs".to_string(),
            },
        );
        assert!(
            report[0].ends_with("0/0 passed — does not compile"),
            "{report:?}"
        );
        assert_eq!(report[1..], ["    error[E1]: bad", "     --> x.rs"]);
    }
}
