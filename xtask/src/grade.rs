//! `cargo x grade`: builds the graded tests once, runs every test in its own process with a
//! timeout (see [`crate::runner`]), and prints a table of days with passed/total and points (see
//! [`crate::report`]).
//!
//! What is graded: the starter (default), the reference (`--reference`), a student's copy of
//! `mini-lsm-starter` (`--submission PATH`, in a temporary workspace, see [`crate::sandbox`]), or
//! every sub-folder of a directory (`--roster DIR`, see [`crate::roster`]). `--watch` re-grades
//! the starter on every save (see [`crate::watch`]); `--format json` also writes a
//! Gradescope `results.json` (see [`crate::gradescope`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::points::{self, Points, Weights};
use crate::runner::{self, Built, Place, RunSettings, Status, TestOutcome};
use crate::scenarios::{self, TestInfo};
use crate::workspace::{self, REFERENCE_DIR, STARTER_DIR, TESTS_PACKAGE};
use crate::{gradescope, report, roster, sandbox, stress, watch};

/// The title of each day, index 0 for day 1.
pub const DAY_TITLES: [&str; crate::course::DAY_COUNT] = [
    "Blocks",
    "SSTs",
    "MemTable + merging",
    "Engine + block cache",
    "Leveled compaction",
    "Recovery",
    "Bloom filters + key compression",
    "Snapshots",
    "Transactions",
    "Tiered compaction",
];

/// The seconds a test may run before the grader kills it, unless `--timeout` says otherwise.
pub const DEFAULT_TIMEOUT_SECS: u64 = 10;

/// What `todo!("…")` panics with, before its message.
const TODO_PREFIX: &str = "not yet implemented: ";

/// The arguments of `cargo x grade`.
#[derive(Debug, clap::Args)]
pub struct GradeArgs {
    /// Grade mini-lsm-reference instead of mini-lsm-starter.
    #[arg(long, conflicts_with_all = ["submission", "roster", "watch"])]
    reference: bool,
    /// Grade a student's copy of mini-lsm-starter (the crate directory, or a directory holding
    /// mini-lsm-starter/) with this repository's tests.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["roster", "watch"])]
    submission: Option<PathBuf>,
    /// Grade every sub-folder of DIR as a submission and write roster.csv (or --output).
    #[arg(long, value_name = "DIR", conflicts_with = "watch")]
    roster: Option<PathBuf>,
    /// Grade only this day.
    #[arg(long, value_parser = crate::course::parse_day, conflicts_with = "days")]
    day: Option<u8>,
    /// Grade a range of days, e.g. `1-4` (or one day, `3`). Without `--day` or `--days`, Part 1
    /// (days 1-7) is graded; Part 2 (optional) with `--days 8-10`.
    #[arg(long, value_name = "N-M", value_parser = parse_days)]
    days: Option<(u8, u8)>,
    /// Kill a test that runs longer than this, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = DEFAULT_TIMEOUT_SECS, value_parser = clap::value_parser!(u64).range(1..))]
    timeout: u64,
    /// `json` also writes a Gradescope results.json (to --output).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Where --format json writes (default results.json) or --roster writes (default roster.csv).
    #[arg(long, value_name = "PATH")]
    output: Option<PathBuf>,
    /// Re-grade the starter whenever its sources change: the first day that does not pass yet,
    /// and its next failing test. Ctrl-C stops.
    #[arg(long)]
    watch: bool,
    /// List every failed test (default: the first few of each day).
    #[arg(long)]
    verbose: bool,
    /// Also run the stress checks (model-based, concurrency, corruption and crash checks) of the
    /// graded days on the crate under test. They carry no points: a day whose stress checks fail
    /// is capped at 75% of its points.
    #[arg(long, conflicts_with = "watch")]
    stress: bool,
}

/// The output format of `cargo x grade`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// The table on stdout.
    Text,
    /// The table on stdout and a Gradescope results.json.
    Json,
}

/// A `--days` value: `N` or `N-M` with 1 <= N <= M <= [`crate::course::LAST_DAY`].
fn parse_days(text: &str) -> Result<(u8, u8), String> {
    let (first, last) = text.split_once('-').unwrap_or((text, text));
    let day = crate::course::parse_day;
    let (first, last) = (day(first)?, day(last)?);
    if first > last {
        return Err(format!("{first}-{last} is an empty range"));
    }
    Ok((first, last))
}

/// The crate under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    /// `mini-lsm-starter` (feature `starter` of the tests package), or a submission in its place.
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
    pub fn crate_name(self) -> &'static str {
        match self {
            Subject::Starter => STARTER_DIR,
            Subject::Reference => REFERENCE_DIR,
        }
    }
}

/// The grade of one day.
#[derive(Debug, Clone, PartialEq)]
pub struct DayGrade {
    /// The day, 1 ..= 7.
    pub day: u8,
    /// Every test of the day and how it ended; `None` when the tests did not compile.
    pub tests: Option<Vec<TestOutcome>>,
    /// The day's points (from `xtask/points.toml`).
    pub max_points: f64,
    /// The weights of the day's test functions that are not 1 (from `xtask/points.toml`).
    pub weights: Weights,
    /// With `--stress`: the day's stress checks and how they ended (empty for a day without
    /// any); `None` without `--stress` (see [`crate::stress`]).
    pub stress: Option<Vec<TestOutcome>>,
}

impl DayGrade {
    /// The number of passed tests.
    pub fn passed(&self) -> usize {
        self.tests
            .iter()
            .flatten()
            .filter(|test| test.status.passed())
            .count()
    }

    /// The number of tests (0 when they did not compile).
    pub fn total(&self) -> usize {
        self.tests.as_ref().map_or(0, Vec::len)
    }

    /// Whether the day passed: it compiled, it has tests, and every test passed (and, with
    /// `--stress`, every stress check).
    pub fn fully_passed(&self) -> bool {
        self.total() > 0 && self.passed() == self.total() && !stress::capped(self)
    }

    /// The points earned: the day's points are split among its test *functions* (the concepts
    /// it grades) by their weights, and a function's share equally among its rstest cases; the
    /// all-cases share of a function's points is earned only when all its cases pass. So a
    /// grid of 242 cases weighs as much as a single concurrency test, not 121 times as much. With
    /// `--stress`, a failed stress check caps the day at 75% (see [`stress::cap`]).
    pub fn points(&self) -> f64 {
        let earned = self
            .tests
            .iter()
            .flatten()
            .map(|test| self.earned(&test.case.name))
            // A fold from +0.0: `sum` of no floats is -0.0, shown as "-0".
            .fold(0.0, |total, points| total + points);
        stress::cap(self, earned)
    }

    /// What the test named `name` earned: 0 when it failed, else its [`Self::points_of`] less
    /// its part of the all-cases share (`xtask/points.toml`) when a case of its function
    /// failed (see [`points::earned`]).
    pub fn earned(&self, name: &str) -> f64 {
        let tests = self
            .tests
            .iter()
            .flatten()
            .map(|t| (t.case.name.as_str(), t.status.passed()));
        points::earned(self.max_points, &self.weights, tests, name)
    }

    /// What the test (or rstest case) named `name` is worth: the day's points over its test
    /// functions in proportion to their weights, over the function's cases (see
    /// [`points::points_of`]).
    pub fn points_of(&self, name: &str) -> f64 {
        let names = self.tests.iter().flatten().map(|t| t.case.name.as_str());
        points::points_of(self.max_points, &self.weights, names, name)
    }

    /// The day's title.
    pub fn title(&self) -> &'static str {
        DAY_TITLES[usize::from(self.day - 1)]
    }
}

/// The grade of a crate over the selected days.
#[derive(Debug, Clone, PartialEq)]
pub struct Grade {
    /// What was graded, e.g. `mini-lsm-starter` or a submission's path.
    pub label: String,
    /// The selected days, in order.
    pub days: Vec<DayGrade>,
    /// The compiler's first error, when the tests did not compile.
    pub compile_error: Option<String>,
    /// The timeout each test had.
    pub timeout: Duration,
}

impl Grade {
    /// Whether every selected day passed fully.
    pub fn all_passed(&self) -> bool {
        !self.days.is_empty() && self.days.iter().all(DayGrade::fully_passed)
    }

    /// The points earned over the selected days.
    pub fn points(&self) -> f64 {
        self.days.iter().map(DayGrade::points).sum()
    }

    /// The points of the selected days.
    pub fn max_points(&self) -> f64 {
        self.days.iter().map(|day| day.max_points).sum()
    }
}

/// Builds the tests of `days` for `subject` at `place` once, then runs each test in its own
/// process.
pub fn evaluate(
    place: &Place,
    subject: Subject,
    label: &str,
    days: &[u8],
    settings: RunSettings,
) -> Result<Grade> {
    let points = Points::table()?;
    let mut grade = Grade {
        label: label.to_string(),
        days: Vec::new(),
        compile_error: None,
        timeout: settings.timeout,
    };
    let executables = match runner::build(place, subject.feature_args(), days)? {
        Built::Executables(executables) => executables,
        Built::DoesNotCompile { error } => {
            grade.compile_error = Some(error);
            grade.days = days
                .iter()
                .map(|&day| DayGrade {
                    day,
                    tests: None,
                    max_points: points.day(day),
                    weights: points.weights(day),
                    stress: None,
                })
                .collect();
            return Ok(grade);
        }
    };
    let dir = place.tests_dir();
    let cases = runner::list_cases(&executables, &dir)?;
    let outcomes = runner::run_all(&cases, &dir, settings);
    grade.days = days
        .iter()
        .map(|&day| DayGrade {
            day,
            tests: Some(day_outcomes(&place.root, day, &points, &outcomes)),
            max_points: points.day(day),
            weights: points.weights(day),
            stress: None,
        })
        .collect();
    if settings.stress {
        stress::run(place, subject, &mut grade, settings)?;
    }
    Ok(grade)
}

/// The outcomes of `day`'s tests in the order the report lists them (see [`scenarios`]): test
/// functions in the order of their file with the `[broad]` ones of `xtask/points.toml` last, an
/// rstest function's cases in declaration order; each failure message [`explain`]ed.
fn day_outcomes(
    root: &Path,
    day: u8,
    points: &Points,
    outcomes: &[TestOutcome],
) -> Vec<TestOutcome> {
    let source = std::fs::read_to_string(workspace::day_test_file(root, day)).unwrap_or_default();
    let infos = scenarios::parse(&source);
    let mut tests: Vec<TestOutcome> = outcomes
        .iter()
        .filter(|outcome| outcome.case.day == day)
        .cloned()
        .collect();
    sort_most_specific_first(&mut tests, &infos, points.broad(day));
    for test in &mut tests {
        if let Status::Failed(message) = &test.status {
            let info = infos.get(points::function_of(&test.case.name));
            test.status = Status::Failed(explain(message, info));
        }
    }
    tests
}

/// Sorts a day's tests: test functions in the order of their file (`infos`), the `broad` ones
/// last, the cases of a function in declaration order (`case_10` after `case_9`).
fn sort_most_specific_first(
    tests: &mut [TestOutcome],
    infos: &BTreeMap<String, TestInfo>,
    broad: &[String],
) {
    tests.sort_by_cached_key(|test| {
        let name = test.case.name.clone();
        let function = points::function_of(&name);
        let is_broad = broad.iter().any(|f| f == function);
        let position = infos.get(function).map_or(usize::MAX, |info| info.position);
        (is_broad, position, scenarios::case_number(&name), name)
    });
}

/// A failure message as students read it. The harness's own messages (`[scenario] expected …,
/// got … (book: …)`) and `todo!()`s are kept; any other panic (an overflow or an assertion in
/// the student's code, a bare `assert!` of a test) gets where it panicked, the test's scenario,
/// and its book section. The [`runner::PANICKED_AT`] line is taken off.
pub fn explain(message: &str, info: Option<&TestInfo>) -> String {
    let (message, location) = runner::split_location(message);
    if message.contains("(book: ") || todo_stub(message).is_some() {
        return message.to_string();
    }
    let mut lines = message.lines();
    let mut verdict = lines.next().unwrap_or_default().trim_end().to_string();
    let mut rest: Vec<&str> = lines.collect();
    // `assert_eq!`'s `  left: …` and ` right: …` lines join the verdict.
    while let Some(side) = rest.first().map(|line| line.trim_start()) {
        if !(side.starts_with("left: ") || side.starts_with("right: ")) {
            break;
        }
        verdict.push_str(if verdict.ends_with("failed") {
            ": "
        } else {
            ", "
        });
        verdict.push_str(side);
        rest.remove(0);
    }
    let mut explained = vec![match location {
        Some(at) if at.starts_with(TESTS_PACKAGE) => format!("{verdict} (at {at})"),
        Some(at) => format!("panic in {at}: {verdict}"),
        None => verdict,
    }];
    if let Some(scenario) = info.and_then(|info| info.scenario.as_deref()) {
        explained.push(format!("scenario: {scenario}"));
    }
    if let Some(book) = info.and_then(|info| info.book.as_deref()) {
        explained.push(format!("book: {book}"));
    }
    explained.extend(rest.iter().map(|line| line.to_string()));
    explained.join("\n")
}

/// The days selected by `--day`/`--days`; when neither is given, every day of Part 1 with a
/// test file (Part 2 is optional: a student who stops at day 7 is graded as before it existed).
fn selected_days(root: &Path, args: &GradeArgs) -> Result<Vec<u8>> {
    let days: Vec<u8> = match (args.day, args.days) {
        (Some(day), _) => vec![day],
        (None, Some((first, last))) => (first..=last).collect(),
        (None, None) => workspace::graded_days(root)
            .into_iter()
            .filter(|day| crate::course::PART_1.contains(day))
            .collect(),
    };
    if let Some(missing) = days
        .iter()
        .find(|day| !workspace::day_test_file(root, **day).is_file())
    {
        bail!(
            "day {missing} has no graded tests: {} does not exist",
            workspace::day_test_file(root, *missing).display()
        );
    }
    if days.is_empty() {
        bail!("no graded tests: {TESTS_PACKAGE}/tests/day1.rs … day7.rs do not exist");
    }
    Ok(days)
}

/// The shared target directory of every submission graded from this repository: the
/// dependencies are built once for all of them.
pub fn submissions_target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| root.join("target"), PathBuf::from)
        .join("grade-submissions")
}

/// Grades the submission at `path` (see [`sandbox::find_crate`]) on `days` in a temporary
/// workspace, built in the shared [`submissions_target_dir`]. Two gradings of submissions never
/// run at once (they would overwrite each other's test binaries): the second waits.
pub fn grade_submission(
    root: &Path,
    path: &Path,
    label: &str,
    days: &[u8],
    settings: RunSettings,
) -> Result<Grade> {
    let submission = sandbox::find_crate(path)?;
    let sandbox = sandbox::Sandbox::new(root, &submission)?;
    let target_dir = submissions_target_dir(root);
    let _lock = sandbox::lock_dir(&target_dir)?;
    let place = Place {
        root: sandbox.root().to_path_buf(),
        target_dir: Some(target_dir),
    };
    evaluate(&place, Subject::Starter, label, days, settings)
}

/// Runs `cargo x grade` in the workspace at `root`; `Ok(true)` when every graded day passed.
pub fn run(root: &Path, args: GradeArgs) -> Result<bool> {
    let days = selected_days(root, &args)?;
    let settings = RunSettings {
        stress: args.stress,
        ..RunSettings::new(Duration::from_secs(args.timeout))
    };
    if args.watch {
        watch::watch(root, &days, settings)?;
        return Ok(true);
    }
    if let Some(dir) = &args.roster {
        let output = args.output.clone().unwrap_or_else(|| "roster.csv".into());
        return roster::grade_roster(root, dir, &days, settings, &output);
    }
    let grade = match &args.submission {
        Some(path) => {
            println!("building {} with this repository's tests …", path.display());
            grade_submission(root, path, &path.display().to_string(), &days, settings)?
        }
        None => {
            let subject = if args.reference {
                Subject::Reference
            } else {
                Subject::Starter
            };
            let place = Place {
                root: root.to_path_buf(),
                target_dir: None,
            };
            println!(
                "building the tests of {} (the first build compiles every dependency: a few \
                 minutes) …",
                subject.crate_name()
            );
            evaluate(&place, subject, subject.crate_name(), &days, settings)?
        }
    };
    let table = report::table(&grade, args.verbose);
    for line in &table {
        println!("{line}");
    }
    if args.format == Format::Json {
        let output = args.output.unwrap_or_else(|| "results.json".into());
        let json = gradescope::results(&grade, &table.join("\n"));
        let text = serde_json::to_string_pretty(&json)? + "\n";
        std::fs::write(&output, text)
            .with_context(|| format!("could not write {}", output.display()))?;
        println!("wrote {}", output.display());
    }
    Ok(grade.all_passed())
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
    Some((day.parse().ok()?, stub.trim().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::TestCase;

    #[test]
    fn tests_are_sorted_by_file_position_with_broad_ones_last() {
        let info = |position| TestInfo {
            position,
            scenario: None,
            book: None,
        };
        let infos = BTreeMap::from([
            ("concurrent".to_string(), info(0)),
            ("seek".to_string(), info(1)),
            ("grid".to_string(), info(2)),
        ]);
        let names = [
            "grid::case_10_b",
            "concurrent",
            "unknown",
            "grid::case_9_a",
            "seek",
        ];
        let mut tests: Vec<TestOutcome> = names
            .iter()
            .map(|name| TestOutcome {
                case: TestCase {
                    day: 1,
                    name: name.to_string(),
                    exe: PathBuf::new(),
                },
                status: Status::Passed,
            })
            .collect();
        sort_most_specific_first(&mut tests, &infos, &["concurrent".to_string()]);
        let sorted: Vec<&str> = tests.iter().map(|t| t.case.name.as_str()).collect();
        assert_eq!(
            sorted,
            [
                "seek",
                "grid::case_9_a",
                "grid::case_10_b",
                "unknown",
                "concurrent"
            ]
        );
    }

    #[test]
    fn a_panic_outside_the_harness_gets_its_place_scenario_and_book() {
        let info = TestInfo {
            position: 0,
            scenario: Some("Blocks never exceed block_size.".into()),
            book: Some("day1-blocks.md#block-size".into()),
        };
        assert_eq!(
            explain(
                "attempt to add with overflow\npanicked at mini-lsm-starter/src/block/builder.rs:40:9",
                Some(&info)
            ),
            "panic in mini-lsm-starter/src/block/builder.rs:40:9: attempt to add with overflow\n\
             scenario: Blocks never exceed block_size.\n\
             book: day1-blocks.md#block-size"
        );
        assert_eq!(
            explain(
                "assertion `left == right` failed\n  left: Some(5)\n right: Some(3)\npanicked at \
                 tests-day1-to-day7/tests/day5.rs:9:5",
                None
            ),
            "assertion `left == right` failed: left: Some(5), right: Some(3) (at \
             tests-day1-to-day7/tests/day5.rs:9:5)"
        );
        let harness = "[s] expected 1, got 2 (book: x.md#y)\ntree";
        assert_eq!(
            explain(&format!("{harness}\npanicked at t.rs:1:1"), Some(&info)),
            harness
        );
        let todo = "not yet implemented: day 1: Block::encode — x";
        assert_eq!(explain(todo, Some(&info)), todo);
    }

    #[test]
    fn a_todo_message_names_its_day_and_stub() {
        let message = "not yet implemented: day 1: BlockIterator::seek_to_key — binary search";
        assert_eq!(
            todo_stub(message),
            Some((1, "BlockIterator::seek_to_key".to_string()))
        );
        assert_eq!(
            todo_stub("not yet implemented: day 3: MemTable::get"),
            Some((3, "MemTable::get".to_string()))
        );
        assert_eq!(todo_stub("assertion failed"), None);
        assert_eq!(todo_stub("not yet implemented"), None);
    }

    /// A day with `passed` passed and `failed` failed tests, worth `max_points`.
    fn day(passed: usize, failed: usize, max_points: f64) -> DayGrade {
        let test = |index: usize, status: Status| TestOutcome {
            case: TestCase {
                day: 1,
                name: format!("t{index}"),
                exe: PathBuf::new(),
            },
            status,
        };
        let tests = (0..passed)
            .map(|index| test(index, Status::Passed))
            .chain((passed..passed + failed).map(|index| test(index, Status::Failed("x".into()))))
            .collect();
        DayGrade {
            day: 1,
            tests: Some(tests),
            max_points,
            weights: Weights::default(),
            stress: None,
        }
    }

    #[test]
    fn a_day_s_points_are_split_among_its_functions_then_their_cases() {
        let grade = day(10, 30, 10.0);
        assert_eq!(grade.points_of("t0"), 0.25);
        assert_eq!(grade.points(), 2.5);
        // Two functions: a grid of 4 cases and a single test, worth 5 points each.
        let outcome = |name: &str, passed: bool| TestOutcome {
            case: TestCase {
                day: 1,
                name: name.into(),
                exe: PathBuf::new(),
            },
            status: if passed {
                Status::Passed
            } else {
                Status::Failed("x".into())
            },
        };
        let grid = DayGrade {
            day: 1,
            tests: Some(vec![
                outcome("grid::case_1_a", true),
                outcome("grid::case_2_b", true),
                outcome("grid::case_3_c", true),
                outcome("grid::case_4_d", true),
                outcome("concurrent", false),
            ]),
            max_points: 10.0,
            weights: Weights::default(),
            stress: None,
        };
        assert_eq!(grid.points_of("grid::case_1_a"), 1.25);
        assert_eq!(grid.points_of("concurrent"), 5.0);
        assert_eq!(
            grid.points(),
            5.0,
            "the failed single test costs half the day"
        );
        assert!(!grade.fully_passed());
        let full = day(3, 0, 15.0);
        assert_eq!(full.points(), 15.0);
        assert!(full.fully_passed());
        let none = DayGrade {
            day: 2,
            tests: None,
            max_points: 10.0,
            weights: Weights::default(),
            stress: None,
        };
        assert_eq!((none.points(), none.total()), (0.0, 0));
        assert!(!none.fully_passed());
        assert!(
            !day(0, 0, 10.0).fully_passed(),
            "a day without tests does not pass"
        );
    }

    #[test]
    fn days_are_one_day_or_a_range() {
        assert_eq!(parse_days("3"), Ok((3, 3)));
        assert_eq!(parse_days("1-4"), Ok((1, 4)));
        assert!(parse_days("4-1").is_err());
        assert!(parse_days("0-2").is_err());
        assert_eq!(parse_days("8-10"), Ok((8, 10)));
        assert!(parse_days("11").is_err());
    }
}
