//! `cargo x check`: everything CI runs, in order, stopping at the first failure.

use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::book;
use crate::book_gen;
use crate::crash;
use crate::grade::{Subject, todo_stub};
use crate::libtest::{self, Outcome, TestRun};
use crate::starter;
use crate::workspace::{self, TESTS_PACKAGE, TOOLS_DIR};

/// The `cargo` commands that come first, in order: formatting, clippy on the reference and on
/// the starter (through the tests package and the tools), then every test against the
/// reference, and the reference's I/O-fault tests, which need its test-only `failpoints` feature.
const CARGO_STEPS: [&[&str]; 7] = [
    &["fmt", "--all", "--check"],
    &[
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ],
    &[
        "clippy",
        "--package",
        TESTS_PACKAGE,
        "--all-targets",
        "--no-default-features",
        "--features",
        "starter",
        "--",
        "-D",
        "warnings",
    ],
    &[
        "clippy",
        "--package",
        TOOLS_DIR,
        "--all-targets",
        "--no-default-features",
        "--features",
        "starter",
        "--",
        "-D",
        "warnings",
    ],
    &["test", "--workspace"],
    &[
        "clippy",
        "--package",
        "mini-lsm-reference",
        "--all-targets",
        "--features",
        "failpoints",
        "--",
        "-D",
        "warnings",
    ],
    &[
        "test",
        "--package",
        "mini-lsm-reference",
        "--features",
        "failpoints",
        "--test",
        "io_faults",
        "--lib",
    ],
];

/// The long tests, `#[ignore]`d in `cargo test`: the `_long` variants of the stress checks on the
/// reference (the full corruption sweep, long model-based and concurrency runs, many crash
/// trials; see `tests-day1-to-day7/tests/stress_dayN.rs`).
const LONG_STEP: &[&str] = &[
    "test",
    "--package",
    TESTS_PACKAGE,
    "--release",
    "--test",
    "stress_day*",
    "--",
    "--ignored",
    "--nocapture",
];

/// A short crash loop for `--long` (`cargo x crash --trials 200` is the full one).
const CRASH_TRIALS: u32 = 5;
const CRASH_STEP: &str = "cargo x crash --trials 5 --seed 1";
const POWER_LOSS_STEP: &str = "cargo x crash --power-loss --trials 5 --seed 1";

/// Runs every check in the workspace at `root`; with `repeat`, also runs the graded suite on
/// the reference that many times and fails on any flaky test; with `long`, also the reference's
/// long tests.
pub fn check(root: &Path, repeat: Option<u32>, long: bool) -> Result<()> {
    for args in CARGO_STEPS {
        cargo_step(root, args)?;
    }
    if long {
        cargo_step(root, LONG_STEP)?;
        for (name, power_loss) in [(CRASH_STEP, false), (POWER_LOSS_STEP, true)] {
            step(name, || {
                let args = crash::CrashArgs {
                    trials: CRASH_TRIALS,
                    seed: Some(1),
                    dir: None,
                    keep_failures: None,
                    power_loss,
                    bug: None,
                };
                if crash::crash(root, &args)? {
                    Ok(())
                } else {
                    bail!("the crash loop lost or invented data, or could not reopen")
                }
            })?;
        }
    }
    if let Some(times) = repeat {
        step(
            &format!("graded suite on the reference, {times} times"),
            || crate::repeat::repeat_reference(root, times),
        )?;
    }
    step("cargo x starter --check", || starter::check(root).map(drop))?;
    step("pristine starter", || pristine_starter(root))?;
    step(
        "starters from each day (cargo x starter --from-day N fails every test of day N and later)",
        || from_day_starters(root),
    )?;
    step(
        "book's tool outputs (test counts, grader tables, simulator tables; `cargo x book \
         --update` rewrites them)",
        || book_gen::book(root, false),
    )?;
    step(
        "book (citations, links, includes, stubs; mdbook build)",
        || book::check_book(root),
    )?;
    println!("all checks passed");
    Ok(())
}

/// Prints `==> name`, runs `body`, and names the step if it fails.
fn step(name: &str, body: impl FnOnce() -> Result<()>) -> Result<()> {
    println!("==> {name}");
    body().with_context(|| format!("check failed at step `{name}`"))
}

/// A step that runs `cargo args…` with the terminal as its output.
fn cargo_step(root: &Path, args: &[&str]) -> Result<()> {
    step(&format!("cargo {}", args.join(" ")), || {
        workspace::run(workspace::cargo(root, args))
    })
}

/// Runs every graded test target against the pristine starter and requires that each test ran
/// and failed on a `todo!()`: a test the starter passes, or that fails some other way, grades
/// nothing.
fn pristine_starter(root: &Path) -> Result<()> {
    let days = workspace::graded_days(root);
    if days.is_empty() {
        bail!("no graded test targets: {TESTS_PACKAGE}/tests/dayN.rs do not exist");
    }
    let run = run_starter_tests(root, None, &days, "the starter")?;
    let problems = pristine_problems(&run);
    if !problems.is_empty() {
        bail!(
            "the pristine starter must fail every graded test on a todo!():\n{}",
            problems.join("\n")
        );
    }
    println!(
        "pristine starter: {} graded tests, all fail on todo!()",
        run.total()
    );
    Ok(())
}

/// Every day's points demand that day's work: for each day N from 2 to 7, the starter whose days
/// before N are solved (`cargo x starter --from-day N`) must fail every graded test of days N to
/// 7. A test that passes there gives points for earlier days' work. One
/// copy of the workspace and one target directory serve every day: between days only the
/// starter's changed files are rewritten, so only the starter and the tests rebuild. They are
/// `cargo x bugs`' copy and target directory (under its lock), which it re-copies fresh, so the
/// dependencies are built once for both.
fn from_day_starters(root: &Path) -> Result<()> {
    let days = workspace::graded_days(root);
    let (copy, target_dir) = crate::bugs::workspace_copy(root);
    let _lock = crate::bugs::lock(&target_dir)?;
    crate::bugs::copy_workspace(root, &copy)?;
    let mut problems = Vec::new();
    let last_day = days.last().copied().unwrap_or(1);
    for first_day in 2..=last_day {
        let started = std::time::Instant::now();
        let tree = starter::starter_tree(root, first_day)?;
        starter::write_tree_quietly(&tree, &copy.join(workspace::STARTER_DIR))?;
        let later: Vec<u8> = days
            .iter()
            .copied()
            .filter(|&day| day >= first_day)
            .collect();
        let what = format!("the starter --from-day {first_day}");
        let run = run_starter_tests(&copy, Some(&target_dir), &later, &what)?;
        // Failing is what counts here, not how: a day-7 test may fail on day 1's uncompressed
        // blocks rather than on a todo!().
        let mut found: Vec<String> = run
            .results
            .iter()
            .filter(|result| result.failure_message().is_none())
            .map(|result| format!(" {} does not fail ({:?})", result.name, result.outcome))
            .collect();
        if run.unreported() > 0 {
            found.push(format!(
                " {} tests never reported a result (a test binary crashed)",
                run.unreported()
            ));
        }
        println!(
            "  --from-day {first_day}: {} tests of day {first_day} and later, {} do not fail \
             ({:.0} s)",
            run.total(),
            found.len(),
            started.elapsed().as_secs_f64()
        );
        problems.extend(
            found
                .into_iter()
                .map(|problem| format!("  --from-day {first_day}:{problem}")),
        );
    }
    if !problems.is_empty() {
        bail!(
            "with the days before N solved, every test of day N and later must still fail (move \
             a test that passes to the earliest day whose work it needs, or make it need day \
             N's):\n{}",
            problems.join("\n")
        );
    }
    Ok(())
}

/// Runs the graded test targets of `days` against the starter of the workspace at `root` (built
/// in `target_dir` when given) and parses the results; fails, with the compiler's first error,
/// when no test ran. `what` names the starter in that error.
fn run_starter_tests(
    root: &Path,
    target_dir: Option<&Path>,
    days: &[u8],
    what: &str,
) -> Result<TestRun> {
    let mut targets: Vec<String> = days.iter().map(|day| format!("day{day}")).collect();
    // A stress target is named for its day like the day's tests, and must fail the same way.
    targets.extend(crate::stress::targets(root, days));
    let mut args = vec!["test", "--package", TESTS_PACKAGE, "--no-fail-fast"];
    args.extend(Subject::Starter.feature_args());
    for target in &targets {
        args.extend(["--test", target.as_str()]);
    }
    let mut command = workspace::cargo(root, &args);
    if let Some(target_dir) = target_dir {
        command.env("CARGO_TARGET_DIR", target_dir);
    }
    let output = workspace::capture(command)?;
    let mut run = libtest::parse(&String::from_utf8_lossy(&output.stdout));
    // The stress targets' `#[ignore]`d long variants are not graded (the grader skips them too).
    let ignored = run
        .results
        .iter()
        .filter(|result| result.outcome == Outcome::Ignored)
        .count();
    run.results
        .retain(|result| result.outcome != Outcome::Ignored);
    run.declared = run.declared.saturating_sub(ignored);
    if run.total() == 0 {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let error = workspace::first_compiler_error(&stderr).unwrap_or_else(|| stderr.to_string());
        bail!("no graded test ran against {what}:\n{error}");
    }
    Ok(run)
}

/// Every way `run` (the graded tests on the pristine starter) falls short of "every test failed
/// on a `todo!()`", one line each.
fn pristine_problems(run: &TestRun) -> Vec<String> {
    let mut problems = Vec::new();
    for result in &run.results {
        match result.failure_message() {
            Some(message)
                if todo_stub(message).is_some() || message.contains("not yet implemented: day") => {
            }
            Some(message) => problems.push(format!(
                "  {} fails, but not on a todo!(): {}",
                result.name,
                message.lines().next().unwrap_or("(no message)")
            )),
            None => problems.push(format!(
                "  {} does not fail ({:?})",
                result.name, result.outcome
            )),
        }
    }
    if run.unreported() > 0 {
        problems.push(format!(
            "  {} tests never reported a result (a test binary crashed)",
            run.unreported()
        ));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::libtest::TestResult;

    /// A test result named `name` with `outcome`.
    fn result(name: &str, outcome: Outcome) -> TestResult {
        TestResult {
            name: name.to_string(),
            outcome,
        }
    }

    #[test]
    fn only_todo_failures_are_pristine() {
        let todo = Outcome::Failed {
            message: "not yet implemented: day 1: Block::encode — x".to_string(),
            location: None,
        };
        let other = Outcome::Failed {
            message: "assertion failed".to_string(),
            location: None,
        };
        let run = TestRun {
            results: vec![
                result("a", todo),
                result("b", other),
                result("c", Outcome::Passed),
            ],
            declared: 3,
        };
        let problems = pristine_problems(&run);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("b fails, but not on a todo!()"));
        assert!(problems[1].contains("c does not fail"));
    }
}
