//! Parsing libtest's plain (human) output: which tests ran, which passed, and why each failed.

use std::collections::{HashMap, VecDeque};

/// The tests of one `cargo test` run, over every test binary it ran.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TestRun {
    /// Every `test NAME ... STATUS` line, in output order.
    pub results: Vec<TestResult>,
    /// The sum of the binaries' `running N tests` lines. More than `results.len()` when a test
    /// binary crashed before reporting all its tests.
    pub declared: usize,
}

/// The result of one test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestResult {
    /// The test's path inside its binary, e.g. `seek::past_last_key_is_invalid`.
    pub name: String,
    /// Whether it passed.
    pub outcome: Outcome,
}

/// How a test ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// `ok`.
    Passed,
    /// `FAILED`, with the message of its first panic (or its captured output when it did not
    /// panic, e.g. a test returning `Err`).
    Failed {
        /// The panic message; several lines for `assert_eq!` failures.
        message: String,
        /// Where it panicked (`path:line:column`), when it panicked.
        location: Option<String>,
    },
    /// `ignored`.
    Ignored,
}

impl TestRun {
    /// The number of tests the binaries announced, reported or not.
    pub fn total(&self) -> usize {
        self.declared.max(self.results.len())
    }

    /// The number of announced tests that never reported a result (a crashed test binary).
    pub fn unreported(&self) -> usize {
        self.total() - self.results.len()
    }
}

impl TestResult {
    /// The failure message, for a failed test.
    pub fn failure_message(&self) -> Option<&str> {
        match &self.outcome {
            Outcome::Failed { message, .. } => Some(message),
            _ => None,
        }
    }
}

/// Parses the stdout of `cargo test` (one or more test binaries, any `--test-threads`).
pub fn parse(stdout: &str) -> TestRun {
    let mut messages = failure_messages(stdout);
    let mut run = TestRun::default();
    for line in stdout.lines() {
        if let Some(count) = running_count(line) {
            run.declared += count;
        } else if let Some((name, status)) = result_line(line) {
            let outcome = match status {
                "ok" => Outcome::Passed,
                "FAILED" => {
                    let (message, location) = messages
                        .get_mut(name)
                        .and_then(VecDeque::pop_front)
                        .unwrap_or_default();
                    Outcome::Failed { message, location }
                }
                _ => Outcome::Ignored,
            };
            run.results.push(TestResult {
                name: name.to_string(),
                outcome,
            });
        }
    }
    run
}

/// `N` of a `running N tests` line.
fn running_count(line: &str) -> Option<usize> {
    let rest = line.strip_prefix("running ")?;
    let (count, word) = rest.split_once(' ')?;
    matches!(word, "test" | "tests").then(|| count.parse().ok())?
}

/// The name and status of a `test NAME ... ok|FAILED|ignored[, reason]` line.
fn result_line(line: &str) -> Option<(&str, &str)> {
    let (name, status) = line.strip_prefix("test ")?.rsplit_once(" ... ")?;
    let status = status.trim();
    if status == "ok" || status == "FAILED" || status.starts_with("ignored") {
        Some((name, status))
    } else {
        None
    }
}

/// The failure message of every `---- NAME stdout ----` section, by test name (a queue, since
/// two test binaries may have tests of the same name).
fn failure_messages(stdout: &str) -> HashMap<&str, VecDeque<(String, Option<String>)>> {
    let mut messages: HashMap<&str, VecDeque<(String, Option<String>)>> = HashMap::new();
    let mut section: Option<(&str, Vec<&str>)> = None;
    for line in stdout.lines() {
        let header = section_header(line);
        let ends_section = header.is_some() || line.starts_with("---- ") || line == "failures:";
        if ends_section && let Some((name, lines)) = section.take() {
            messages
                .entry(name)
                .or_default()
                .push_back((section_message(&lines), panic_location(&lines)));
        }
        if let Some(name) = header {
            section = Some((name, Vec::new()));
        } else if let Some((_, lines)) = &mut section {
            lines.push(line);
        }
    }
    if let Some((name, lines)) = section {
        messages
            .entry(name)
            .or_default()
            .push_back((section_message(&lines), panic_location(&lines)));
    }
    messages
}

/// The test name of a `---- NAME stdout ----` (or `stderr`) section header.
fn section_header(line: &str) -> Option<&str> {
    let rest = line.strip_prefix("---- ")?;
    rest.strip_suffix(" stdout ----")
        .or_else(|| rest.strip_suffix(" stderr ----"))
}

/// Whether `line` starts a panic: `thread '…' panicked at …`.
fn is_panic_line(line: &str) -> bool {
    line.starts_with("thread '") && line.contains(" panicked at ")
}

/// The index in `lines` of the panic that failed the test: the last one that is the harness's
/// own failure (its message cites the book, `(book: …)`), else the first one. A test that
/// catches a panic of the code under test (to say "decode panicked on …") prints that panic
/// first, then fails with its own message, which says more.
fn failing_panic(lines: &[&str]) -> Option<usize> {
    let panics: Vec<usize> = (0..lines.len())
        .filter(|&i| is_panic_line(lines[i]))
        .collect();
    let cites_book = |&at: &usize| {
        lines[at + 1..]
            .iter()
            .take_while(|line| !is_panic_line(line) && !line.starts_with("note: "))
            .any(|line| line.contains("(book: "))
    };
    panics
        .iter()
        .rev()
        .find(|at| cites_book(at))
        .or(panics.first())
        .copied()
}

/// Where the panic that failed the test happened (see [`failing_panic`]): `path:line:column` of
/// its `thread '…' panicked at path:line:column:` line.
pub fn panic_location(lines: &[&str]) -> Option<String> {
    let line = lines[failing_panic(lines)?];
    let (_, location) = line.split_once(" panicked at ")?;
    let location = location.trim_end().strip_suffix(':').unwrap_or(location);
    (!location.is_empty()).then(|| location.to_string())
}

/// The message of a failure section: the lines after the `thread '…' panicked at …:` line of the
/// panic that failed the test (see [`failing_panic`]) up to the backtrace note, or, without a
/// panic, every non-empty line.
fn section_message(lines: &[&str]) -> String {
    let is_end = |line: &&str| {
        line.starts_with("note: ")
            || line.starts_with("stack backtrace:")
            || line.starts_with("thread '")
    };
    let Some(panic_at) = failing_panic(lines) else {
        let output: Vec<&str> = lines
            .iter()
            .copied()
            .filter(|line| !line.trim().is_empty())
            .collect();
        return output.join("\n");
    };
    let message: Vec<&str> = lines[panic_at + 1..]
        .iter()
        .copied()
        .take_while(|line| !is_end(line))
        .collect();
    let message = message.join("\n").trim_end().to_string();
    if message.is_empty() {
        lines[panic_at].to_string()
    } else {
        message
    }
}

/// The test names of `<test binary> --list --format terse`: every `NAME: test` line
/// (benchmarks and other lines are skipped).
pub fn parse_terse_list(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|line| line.strip_suffix(": test"))
        .map(str::to_string)
        .collect()
}

/// The message of the panic that failed the test (see [`failing_panic`]) in `text`, the output of one test (`---- NAME stdout ----`
/// sections or a bare panic on stderr): the lines after `thread '…' panicked at …:` up to the
/// backtrace note. `None` when nothing in `text` panicked.
pub fn panic_message(text: &str) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    lines
        .iter()
        .any(|line| line.starts_with("thread '") && line.contains(" panicked at "))
        .then(|| section_message(&lines))
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUTPUT: &str = "
running 4 tests
test block::round_trip ... ok
test block::seek_past_last_key_is_invalid ... FAILED
test block::compare ... FAILED
test block::slow ... ignored, too slow

failures:

---- block::seek_past_last_key_is_invalid stdout ----

thread 'block::seek_past_last_key_is_invalid' panicked at mini-lsm-starter/src/block/iterator.rs:50:9:
not yet implemented: day 1: BlockIterator::seek_to_key — binary search
note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace

---- block::compare stdout ----
some captured output

thread 'block::compare' (4242) panicked at tests/day1.rs:10:5:
assertion `left == right` failed: the scenario
  left: 1
 right: 2

failures:
    block::compare
    block::seek_past_last_key_is_invalid

test result: FAILED. 1 passed; 2 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s
";

    #[test]
    fn results_and_messages_are_parsed() {
        let run = parse(OUTPUT);
        assert_eq!(run.declared, 4);
        let passed = run.results.iter().filter(|r| r.outcome == Outcome::Passed);
        assert_eq!(passed.count(), 1);
        assert_eq!(run.unreported(), 0);
        let names: Vec<&str> = run
            .results
            .iter()
            .map(|result| result.name.as_str())
            .collect();
        assert_eq!(
            names,
            [
                "block::round_trip",
                "block::seek_past_last_key_is_invalid",
                "block::compare",
                "block::slow"
            ]
        );
        assert_eq!(
            run.results[1].failure_message(),
            Some("not yet implemented: day 1: BlockIterator::seek_to_key — binary search")
        );
        assert_eq!(
            run.results[2].failure_message(),
            Some("assertion `left == right` failed: the scenario\n  left: 1\n right: 2")
        );
        assert!(matches!(
            &run.results[2].outcome,
            Outcome::Failed { location: Some(at), .. } if at == "tests/day1.rs:10:5"
        ));
        assert!(matches!(
            &run.results[1].outcome,
            Outcome::Failed { location: Some(at), .. }
                if at == "mini-lsm-starter/src/block/iterator.rs:50:9"
        ));
        assert_eq!(run.results[3].outcome, Outcome::Ignored);
    }

    #[test]
    fn a_terse_list_names_every_test() {
        let list = "a::case_1_x: test\nb: test\nslow: bench\n\n";
        assert_eq!(parse_terse_list(list), ["a::case_1_x", "b"]);
        assert!(parse_terse_list("").is_empty());
    }

    #[test]
    fn the_first_panic_message_is_extracted() {
        let stderr = "thread 'main' panicked at src/lib.rs:1:1:\nboom\nsecond line\nnote: run with `RUST_BACKTRACE=1`\nthread 'x' panicked at y:\nlater";
        assert_eq!(panic_message(stderr).unwrap(), "boom\nsecond line");
        assert_eq!(panic_message("fatal runtime error: stack overflow"), None);
    }

    #[test]
    fn a_caught_panic_gives_way_to_the_harness_failure_after_it() {
        let lines = [
            "thread 'a' panicked at src/block.rs:9:9:",
            "attempt to subtract with overflow",
            "note: run with `RUST_BACKTRACE=1`",
            "thread 'a' panicked at tests/day1.rs:5:5:",
            "[decode] expected Corruption, got panic (book: day1-blocks.md#x)",
        ];
        assert_eq!(
            section_message(&lines),
            "[decode] expected Corruption, got panic (book: day1-blocks.md#x)"
        );
        assert_eq!(panic_location(&lines).unwrap(), "tests/day1.rs:5:5");
        // Without a harness failure, the first panic (a thread's, before a join's unwrap) stays.
        let plain = [
            "thread 'w' panicked at src/a.rs:1:1:",
            "root cause",
            "thread 'main' panicked at t.rs:2:2:",
            "unwrap on Err",
        ];
        assert_eq!(section_message(&plain), "root cause");
        assert_eq!(panic_location(&plain).unwrap(), "src/a.rs:1:1");
    }

    #[test]
    fn a_crashed_binary_leaves_tests_unreported() {
        let run = parse("running 1 test\n\nrunning 3 tests\ntest a ... ok\n");
        assert_eq!(run.total(), 4);
        assert_eq!(run.unreported(), 3);
    }

    #[test]
    fn a_failure_without_a_panic_keeps_its_output() {
        let output = "running 1 test\ntest a ... FAILED\n\nfailures:\n\n---- a stdout ----\nError: Corruption\n\nfailures:\n    a\n";
        assert_eq!(
            parse(output).results[0].failure_message(),
            Some("Error: Corruption")
        );
    }
}
