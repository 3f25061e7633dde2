//! The text report of `cargo x grade`: one line per day (passed/total and points), then why the
//! day's tests failed. A day whose failures are all `todo!()`s of earlier days says
//! "blocked by day K: Type::method" instead of listing its tests.

use crate::grade::{DAY_TITLES, DayGrade, Grade, todo_stub};
use crate::runner::{Status, TestOutcome};

/// At most this many failed tests are listed per day (all of them with `--verbose`).
const MAX_LISTED_FAILURES: usize = 8;

/// At most this many stubs are named in a "blocked by" line.
const MAX_BLOCKING_STUBS: usize = 3;

/// At most this many lines of a failure message are shown.
const MAX_MESSAGE_LINES: usize = 3;

/// A line of a failure message longer than this many characters is cut.
const MAX_LINE_CHARS: usize = 300;

/// The width of the title column.
fn title_width() -> usize {
    DAY_TITLES
        .iter()
        .map(|title| title.len())
        .max()
        .unwrap_or(0)
}

/// The whole report: a header, one line per day with its failures, the total, and the
/// compiler's error when the tests did not compile.
pub fn table(grade: &Grade, verbose: bool) -> Vec<String> {
    let tests: usize = grade.days.iter().map(DayGrade::total).sum();
    let mut lines = vec![
        format!(
            "{}: {tests} tests, each in its own process, timeout {} s{}",
            grade.label,
            grade.timeout.as_secs(),
            crate::stress::header_note(grade)
        ),
        format!(
            "day  {:<width$}  {:>7}  {:>9}",
            "title",
            "passed",
            "points",
            width = title_width()
        ),
    ];
    let listed = if verbose {
        usize::MAX
    } else {
        MAX_LISTED_FAILURES
    };
    for day in &grade.days {
        lines.push(day_line(day));
        if day.tests.is_some() {
            lines.extend(failure_lines(day, listed));
        }
        lines.extend(crate::stress::failure_lines(day, listed));
    }
    let passed: usize = grade.days.iter().map(DayGrade::passed).sum();
    lines.push(format!(
        "{:<width$}  {:>7}  {:>9}",
        "total",
        format!("{passed}/{tests}"),
        format!("{}/{}", number(grade.points()), number(grade.max_points())),
        width = title_width() + 5
    ));
    if let Some(error) = &grade.compile_error {
        lines.push(String::new());
        lines.push("does not compile; the compiler's first error:".to_string());
        lines.extend(error.lines().map(|line| format!("    {line}")));
    } else if grade.all_passed() {
        lines.push("every graded day passes".to_string());
    }
    lines
}

/// The line of one day: number, title, passed/total, points, and a mark.
pub fn day_line(day: &DayGrade) -> String {
    let passed = match day.tests {
        Some(_) => format!("{}/{}", day.passed(), day.total()),
        None => "-".to_string(),
    };
    let points = format!("{}/{}", number(day.points()), number(day.max_points));
    let mark = match &day.tests {
        None => "  does not compile",
        Some(_) if day.fully_passed() => "  ✓",
        Some(_) => "",
    };
    format!(
        "{:>3}  {:<width$}  {passed:>7}  {points:>9}{mark}{}",
        day.day,
        day.title(),
        crate::stress::day_note(day),
        width = title_width()
    )
}

/// Why `day`'s tests failed: a "blocked by" line, or up to `listed` failed tests with the first
/// lines of their messages.
pub fn failure_lines(day: &DayGrade, listed: usize) -> Vec<String> {
    listed_failures(day, listed, true)
}

/// The first thing the report says under `day`: its "blocked by" line, or its first failed test
/// with the first lines of its message; nothing when the day passes.
pub fn first_failure_lines(day: &DayGrade) -> Vec<String> {
    listed_failures(day, 1, false)
}

/// [`failure_lines`], saying how many failures are not listed when `count_the_rest`.
fn listed_failures(day: &DayGrade, listed: usize, count_the_rest: bool) -> Vec<String> {
    let mut failures: Vec<&TestOutcome> = day
        .tests
        .iter()
        .flatten()
        .filter(|test| !test.status.passed())
        .collect();
    // The tests come most specific first (see `grade::day_outcomes`); a failed assertion says
    // more than a crash, and a crash more than a timeout.
    failures.sort_by_key(|test| match test.status {
        Status::TimedOut(_) => 2,
        Status::Crashed { .. } => 1,
        _ => 0,
    });
    if failures.is_empty() {
        return Vec::new();
    }
    if let Some((earlier, stubs)) = blocked_by(day.day, &failures) {
        return vec![format!("     {}", blocked_line(earlier, &stubs))];
    }
    let mut lines: Vec<String> = failures
        .iter()
        .take(listed)
        .flat_map(|test| test_lines(day.day, test))
        .collect();
    if count_the_rest && failures.len() > listed {
        lines.push(format!(
            "     … and {} more failed tests (--verbose lists them all)",
            failures.len() - listed
        ));
    }
    lines
}

/// A failed test: `✗ name: first line`, then the next lines of its message, indented.
pub fn test_lines(day: u8, test: &TestOutcome) -> Vec<String> {
    let reason = short_reason(day, &test.status);
    let mut reason = reason.iter();
    let first = reason.next().map_or("", String::as_str);
    let mut lines = vec![format!("     ✗ {}: {first}", test.case.name)];
    lines.extend(reason.map(|line| format!("         {line}")));
    lines
}

/// `blocked by day K: A, B, C` (and how many more stubs).
fn blocked_line(day: u8, stubs: &[String]) -> String {
    let mut named = stubs
        .iter()
        .take(MAX_BLOCKING_STUBS)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if stubs.len() > MAX_BLOCKING_STUBS {
        named.push_str(&format!(" (+{} more)", stubs.len() - MAX_BLOCKING_STUBS));
    }
    format!("blocked by day {day}: {named}")
}

/// The first lines of why a test of `day` did not pass; a `todo!()` is shortened to its stub.
pub fn short_reason(day: u8, status: &Status) -> Vec<String> {
    let reason = status.reason();
    if let Some((todo_day, stub)) = todo_stub(&reason) {
        let line = if todo_day == day {
            format!("not implemented yet: {stub}")
        } else if todo_day < day {
            blocked_line(todo_day, &[stub])
        } else {
            format!("not implemented yet: day {todo_day}: {stub}")
        };
        return vec![line];
    }
    if let Status::TimedOut(after) = status {
        return timeout_hint(day, *after);
    }
    let lines: Vec<String> = reason
        .lines()
        .take(MAX_MESSAGE_LINES)
        .map(|line| cut(line, MAX_LINE_CHARS))
        .collect();
    if lines.is_empty() {
        vec!["failed (no message)".to_string()]
    } else {
        lines
    }
}

/// A timed-out test of `day`: what usually causes it, and where the book explains it.
fn timeout_hint(day: u8, after: std::time::Duration) -> Vec<String> {
    let secs = after.as_secs();
    let mut lines = vec![format!(
        "timed out after {secs} s: usually an infinite loop (a loop whose exit is never reached, \
         an iterator whose next() does not advance)"
    )];
    if day >= 4 {
        lines[0] = format!(
            "timed out after {secs} s: usually a deadlock (a lock held while taking another one, \
             a thread waiting for work no thread does) or an infinite loop"
        );
        lines.push("book: day4-engine.md#concurrency".to_string());
    } else {
        lines.push("book: day3-memtable-and-merging.md#the-cursor-contract".to_string());
    }
    lines
}

/// `line` cut to `max` characters, saying how many more it had. In a harness message
/// (`[scenario] expected …, got … (book: …)`) the scenario is cut first, to keep the verdict.
pub fn cut(line: &str, max: usize) -> String {
    let length = line.chars().count();
    if length <= max {
        return line.to_string();
    }
    if let Some(at) = line.find("] expected ") {
        let (scenario, verdict) = line.split_at(at);
        let room = max.saturating_sub(verdict.chars().count() + 1);
        if room >= 40 {
            let kept: String = scenario.chars().take(room).collect();
            return format!("{kept}…{verdict}");
        }
    }
    // The book section at the end is worth more than the middle of a long value.
    let book = line
        .rfind(" (book: ")
        .map(|at| &line[at..])
        .filter(|book| book.ends_with(')') && book.chars().count() < max / 2)
        .unwrap_or("");
    let keep = max - book.chars().count();
    let kept: String = line.chars().take(keep).collect();
    format!(
        "{kept}… ({} more characters){book}",
        length - keep - book.chars().count()
    )
}

/// When every failure of `day` is a `todo!()` of an earlier day: the earliest such day and its
/// distinct stubs (`Type::method`), sorted.
pub fn blocked_by(day: u8, failures: &[&TestOutcome]) -> Option<(u8, Vec<String>)> {
    let todos: Vec<(u8, String)> = failures
        .iter()
        .map(|test| match &test.status {
            Status::Failed(message) => todo_stub(message),
            _ => None,
        })
        .collect::<Option<_>>()?;
    if todos.iter().any(|(todo_day, _)| *todo_day >= day) {
        return None;
    }
    let earliest = todos.iter().map(|(todo_day, _)| *todo_day).min()?;
    let mut stubs: Vec<String> = todos
        .into_iter()
        .filter(|(todo_day, _)| *todo_day == earliest)
        .map(|(_, stub)| stub)
        .collect();
    stubs.sort();
    stubs.dedup();
    Some((earliest, stubs))
}

/// A number of points: at most two decimals, without trailing zeros (`10`, `2.5`, `1.47`).
pub fn number(points: f64) -> String {
    let text = format!("{points:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use super::*;
    use crate::runner::TestCase;

    /// A test of `day` named `name` that ended with `status`.
    fn test(day: u8, name: &str, status: Status) -> TestOutcome {
        TestOutcome {
            case: TestCase {
                day,
                name: name.to_string(),
                exe: PathBuf::new(),
            },
            status,
        }
    }

    /// A test that failed with `message`.
    fn failed(day: u8, name: &str, message: &str) -> TestOutcome {
        test(day, name, Status::Failed(message.to_string()))
    }

    /// A day of `tests` worth 10 points.
    fn day(day: u8, tests: Vec<TestOutcome>) -> DayGrade {
        DayGrade {
            day,
            tests: Some(tests),
            max_points: 10.0,
            weights: Default::default(),
            stress: None,
        }
    }

    #[test]
    fn a_day_failing_only_on_earlier_todos_is_blocked_by_the_earliest() {
        let grade = day(
            3,
            vec![
                failed(3, "a", "not yet implemented: day 2: SsTable::open — x"),
                failed(3, "b", "not yet implemented: day 1: Block::decode — y"),
                failed(3, "c", "not yet implemented: day 1: Block::decode — y"),
                failed(3, "d", "not yet implemented: day 1: Block::encode — y"),
                test(3, "e", Status::Passed),
            ],
        );
        assert!(
            day_line(&grade).ends_with("1/5       2/10"),
            "{}",
            day_line(&grade)
        );
        assert_eq!(
            failure_lines(&grade, 10),
            ["     blocked by day 1: Block::decode, Block::encode"]
        );
    }

    #[test]
    fn at_most_three_blocking_stubs_are_named() {
        let stubs: Vec<String> = ["A::a", "B::b", "C::c", "D::d", "E::e"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            blocked_line(1, &stubs),
            "blocked by day 1: A::a, B::b, C::c (+2 more)"
        );
    }

    #[test]
    fn a_day_failing_on_its_own_todo_lists_the_failures_shortened() {
        let grade = day(
            3,
            vec![
                failed(3, "a", "not yet implemented: day 3: MemTable::get — x"),
                failed(3, "b", "not yet implemented: day 1: Block::decode — y"),
                test(3, "c", Status::TimedOut(Duration::from_secs(10))),
                test(
                    3,
                    "d",
                    Status::Crashed {
                        signal: 6,
                        detail: String::new(),
                    },
                ),
                failed(
                    3,
                    "e",
                    "assertion failed: one\n  left: 1\n right: 2\nfourth",
                ),
            ],
        );
        assert_eq!(
            failure_lines(&grade, 10),
            [
                "     ✗ a: not implemented yet: MemTable::get",
                "     ✗ b: blocked by day 1: Block::decode",
                "     ✗ e: assertion failed: one",
                "           left: 1",
                "          right: 2",
                "     ✗ d: crashed (signal 6)",
                "     ✗ c: timed out after 10 s: usually an infinite loop (a loop whose exit is \
                 never reached, an iterator whose next() does not advance)",
                "         book: day3-memtable-and-merging.md#the-cursor-contract",
            ]
        );
        let listed = failure_lines(&grade, 2);
        assert_eq!(
            listed.last().unwrap(),
            "     … and 3 more failed tests (--verbose lists them all)"
        );
        assert_eq!(
            first_failure_lines(&grade),
            ["     ✗ a: not implemented yet: MemTable::get"]
        );
        assert!(first_failure_lines(&day(3, vec![test(3, "a", Status::Passed)])).is_empty());
    }

    #[test]
    fn a_compile_error_grades_every_day_zero_and_is_shown() {
        let grade = Grade {
            label: "x".to_string(),
            days: vec![
                DayGrade {
                    day: 1,
                    tests: None,
                    max_points: 10.0,
                    weights: Default::default(),
                    stress: None,
                },
                DayGrade {
                    day: 2,
                    tests: None,
                    max_points: 15.0,
                    weights: Default::default(),
                    stress: None,
                },
            ],
            compile_error: Some("error[E1]: bad\n --> x.rs".to_string()),
            timeout: Duration::from_secs(10),
        };
        let lines = table(&grade, false);
        assert!(
            lines[2].ends_with("-       0/10  does not compile"),
            "{lines:?}"
        );
        assert!(lines[4].ends_with("0/0       0/25"), "{lines:?}");
        assert_eq!(
            lines[lines.len() - 2..],
            ["    error[E1]: bad", "     --> x.rs"]
        );
        assert!(!grade.all_passed());
    }

    #[test]
    fn an_overlong_line_is_cut() {
        let long = "x".repeat(15_281);
        let reason = short_reason(1, &Status::Failed(format!("[s] {long}\nsecond")));
        assert_eq!(reason.len(), 2);
        assert!(
            reason[0].ends_with("… (14985 more characters)"),
            "{}",
            reason[0]
        );
        assert_eq!(cut("short", 10), "short");
        let long_verdict = format!("[s] expected {} (book: b.md#c)", "x".repeat(100));
        assert_eq!(
            cut(&long_verdict, 50),
            format!(
                "[s] expected {}… (78 more characters) (book: b.md#c)",
                "x".repeat(22)
            )
        );
        let scenario = format!("[{}] expected 1, got 2 (book: b.md)", "s".repeat(100));
        assert_eq!(
            cut(&scenario, 80),
            format!(
                "{}…] expected 1, got 2 (book: b.md)",
                "[".to_string() + &"s".repeat(46)
            )
        );
    }

    #[test]
    fn points_are_shown_with_at_most_two_decimals() {
        assert_eq!(number(10.0), "10");
        assert_eq!(number(2.5), "2.5");
        assert_eq!(number(20.0 / 3.0), "6.67");
        assert_eq!(number(0.0), "0");
    }
}
