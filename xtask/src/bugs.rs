//! `cargo x bugs`: planted bugs, the proof that the graded tests catch wrong code.
//!
//! [`LIST`] names wrong variants of the reference, each a typical student mistake: one exact
//! piece of text in one file of `mini-lsm-reference/src` and what to replace it with. For each
//! bug, `cargo x bugs` puts the wrong variant into a copy of the workspace, runs the graded tests
//! of the bug's day, and reports the test that killed it. A bug that no test kills, or an entry
//! that no longer applies or no longer compiles, fails the command.
//!
//! The workspace is copied once, to `target/bugs-workspace`, and every bug builds in the one
//! target directory `target/bugs`: dependencies are built once, and each bug recompiles only the
//! reference crate and one test target. The copy is at a fixed place so that a second run reuses
//! the first one's build as well.

use std::collections::{BTreeMap, HashSet};
use std::fs::{self, File, TryLockError};
use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use serde::Deserialize;

use crate::grade::{self, DayGrade, Subject};
use crate::libtest::{self, TestRun};
use crate::report;
use crate::runner::{Place, RunSettings};
use crate::workspace::{
    self, REFERENCE_DIR, STARTER_DIR, TESTS_PACKAGE, WORKSPACE_FILES_BUT_STARTER,
};

/// The list of planted bugs, relative to the workspace root.
pub const LIST: &str = "xtask/bugs.toml";

/// How long waiting for a test run sleeps between two looks at it.
const POLL: Duration = Duration::from_millis(50);

/// One planted bug: a wrong variant of one file of the reference.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bug {
    /// A kebab-case name, e.g. `merge-older-value-wins`.
    pub name: String,
    /// The graded day whose tests must kill it.
    pub day: u8,
    /// The student mistake, in one line.
    pub description: String,
    /// The file it changes, relative to `mini-lsm-reference/src`.
    pub file: String,
    /// Text that occurs exactly once in the file.
    pub find: String,
    /// What the text becomes.
    pub replace: String,
}

/// The file format: an array of tables, `[[bug]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct List {
    bug: Vec<Bug>,
}

/// What `cargo x bugs` was asked to do.
#[derive(Debug, Clone)]
pub struct Options {
    /// Run only these bugs (every bug when empty).
    pub only: Vec<String>,
    /// Print the list instead of running it.
    pub list: bool,
    /// How long one bug's test run may take; a run stopped by it counts as a kill.
    pub timeout: Duration,
    /// Grade each bug as `cargo x grade` does (each test in its own process, the grader's
    /// timeout per test) and report the points it costs; fail when one costs less than
    /// [`MIN_COST`].
    pub scores: bool,
    /// Grade each bug as `cargo x grade` does, print the first failure the report shows under
    /// its day (what a student who made the mistake reads first), and save them all to
    /// [`FIRST_MESSAGES`].
    pub first_message: bool,
}

/// Where a graded run saves each bug's first message, relative to the bugs' target directory.
pub const FIRST_MESSAGES: &str = "first-messages.md";

/// With `--scores`, the fewest points of 100 a planted bug must cost.
pub const MIN_COST: f64 = 1.0;

/// What one bug's run gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// At least one test failed: these, sorted by name.
    Killed { failed: Vec<String> },
    /// The test binary died before reporting every test (an abort, a stack overflow).
    Crashed { status: String },
    /// The tests did not finish within the timeout (the bug made something hang).
    TimedOut,
    /// Every test passed: the graded tests do not catch this mistake.
    Survived,
    /// The entry is wrong: it does not apply, does not compile, or the run failed otherwise.
    Broken { error: String },
}

impl Verdict {
    /// Whether the tests caught the bug.
    pub fn is_killed(&self) -> bool {
        matches!(
            self,
            Verdict::Killed { .. } | Verdict::Crashed { .. } | Verdict::TimedOut
        )
    }

    /// The "killed by" column of the report.
    fn describe(&self, timeout: Duration) -> String {
        match self {
            Verdict::Killed { failed } => match failed.len() {
                1 => failed[0].clone(),
                n => format!("{} (+{} more)", failed[0], n - 1),
            },
            Verdict::Crashed { status } => format!("crash of the test binary ({status})"),
            Verdict::TimedOut => format!("timeout ({} s)", timeout.as_secs()),
            Verdict::Survived => "SURVIVED: no graded test failed".into(),
            Verdict::Broken { error } => {
                format!("BROKEN: {}", error.lines().next().unwrap_or_default())
            }
        }
    }
}

/// Reads and checks the list at `root/LIST`.
pub fn load(root: &Path) -> Result<Vec<Bug>> {
    let path = root.join(LIST);
    let text =
        fs::read_to_string(&path).with_context(|| format!("could not read {}", path.display()))?;
    parse_list(&text).with_context(|| format!("{} is not a valid bug list", path.display()))
}

/// Parses a bug list and checks every entry: a kebab-case name used once, a day in 1 ..= 7, a
/// one-line description, a relative `.rs` path inside the crate, a non-empty `find` and a
/// `replace` that differs from it.
pub fn parse_list(text: &str) -> Result<Vec<Bug>> {
    let list: List = toml::from_str(text)?;
    let mut names = HashSet::new();
    for bug in &list.bug {
        let name = &bug.name;
        ensure!(
            is_kebab_case(name),
            "bug name `{name}` is not kebab-case (lower-case words joined by `-`)"
        );
        ensure!(names.insert(name.as_str()), "bug `{name}` is listed twice");
        ensure!(
            crate::course::DAYS.contains(&bug.day),
            "bug `{name}`: day {} is not a day of the course (1 to {})",
            bug.day,
            crate::course::LAST_DAY
        );
        ensure!(
            !bug.description.trim().is_empty() && !bug.description.contains('\n'),
            "bug `{name}`: the description must be one non-empty line"
        );
        let file = Path::new(&bug.file);
        ensure!(
            bug.file.ends_with(".rs")
                && file
                    .components()
                    .all(|part| matches!(part, Component::Normal(_))),
            "bug `{name}`: file `{}` is not a .rs path relative to {REFERENCE_DIR}/src",
            bug.file
        );
        ensure!(
            !bug.find.is_empty(),
            "bug `{name}`: `find` must not be empty"
        );
        ensure!(
            bug.find != bug.replace,
            "bug `{name}`: `replace` is the same as `find`"
        );
    }
    Ok(list.bug)
}

/// Whether `name` is lower-case ASCII words (letters and digits) joined by single `-`.
fn is_kebab_case(name: &str) -> bool {
    !name.is_empty()
        && name.split('-').all(|word| {
            !word.is_empty()
                && word
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

/// `source` with the bug planted: its `find` text, which must occur exactly once, replaced.
pub fn apply(bug: &Bug, source: &str) -> Result<String> {
    let count = source.matches(&bug.find).count();
    if count != 1 {
        bail!(
            "bug `{}` no longer applies to {}: its `find` text occurs {count} times, not once",
            bug.name,
            bug.file
        );
    }
    Ok(source.replacen(&bug.find, &bug.replace, 1))
}

/// The bugs selected by `only` (all when it is empty), in list order; an unknown name is an error.
fn select(bugs: Vec<Bug>, only: &[String]) -> Result<Vec<Bug>> {
    if only.is_empty() {
        return Ok(bugs);
    }
    let known: HashSet<&str> = bugs.iter().map(|bug| bug.name.as_str()).collect();
    if let Some(unknown) = only.iter().find(|name| !known.contains(name.as_str())) {
        bail!("no bug named `{unknown}` in {LIST} (`cargo x bugs --list` lists them)");
    }
    Ok(bugs
        .into_iter()
        .filter(|bug| only.contains(&bug.name))
        .collect())
}

/// `cargo x bugs`: `Ok(true)` when every selected bug was killed.
pub fn bugs(root: &Path, options: &Options) -> Result<bool> {
    let bugs = select(load(root)?, &options.only)?;
    if options.list {
        print_list(&bugs);
        return Ok(true);
    }
    // Check every entry applies before spending minutes on the first ones.
    let mut pristine = BTreeMap::new();
    for bug in &bugs {
        let path = source_path(root, bug);
        if !pristine.contains_key(&bug.file) {
            let text = fs::read_to_string(&path)
                .with_context(|| format!("bug `{}`: cannot read {}", bug.name, path.display()))?;
            pristine.insert(bug.file.clone(), text);
        }
        apply(bug, &pristine[&bug.file])?;
    }

    let (copy, target_dir) = workspace_copy(root);
    let _lock = lock(&target_dir)?;
    copy_workspace(root, &copy)?;

    println!(
        "planting {} bugs in a copy of {REFERENCE_DIR} ({}); each must fail its day's graded tests",
        bugs.len(),
        copy.display()
    );
    let name_width = bugs.iter().map(|bug| bug.name.len()).max().unwrap_or(0);
    let graded = options.scores || options.first_message;
    let cost_column = if graded { "   cost" } else { "" };
    println!(
        "{:<name_width$}  day  {:>6}{cost_column}  killed by",
        "bug", "time"
    );
    let started = Instant::now();
    let mut failures = Vec::new();
    let mut costs = Vec::new();
    let mut first_messages = Vec::new();
    for bug in &bugs {
        let bug_started = Instant::now();
        let file = source_path(&copy, bug);
        let original = &pristine[&bug.file];
        let verdict = match apply(bug, original) {
            Ok(planted) => {
                write(&file, &planted)?;
                let verdict = if graded {
                    run_bug_graded(&copy, &target_dir, bug.day)
                } else {
                    run_bug(&copy, &target_dir, bug.day, options.timeout).map(|v| (v, None))
                };
                write(&file, original)?;
                verdict?
            }
            Err(error) => (
                Verdict::Broken {
                    error: format!("{error:#}"),
                },
                None,
            ),
        };
        let (verdict, day_grade) = verdict;
        let cost = day_grade.as_ref().map(|day| day.max_points - day.points());
        println!(
            "{:<name_width$}  {:>3}  {:>5.0}s{}  {}",
            bug.name,
            bug.day,
            bug_started.elapsed().as_secs_f64(),
            cost.map_or(String::new(), |cost| format!(" {cost:>6.2}")),
            verdict.describe(options.timeout)
        );
        if let Some(day) = day_grade {
            let first = report::first_failure_lines(&day);
            if options.first_message {
                first.iter().for_each(|line| println!("{line}"));
            }
            first_messages.push((bug, first));
            costs.push((bug, day));
        }
        // A bug picked by name gets every test that killed it, not only the first.
        if let (Verdict::Killed { failed }, false) = (&verdict, options.only.is_empty()) {
            for test in failed {
                println!("    {test}");
            }
        }
        if !verdict.is_killed() {
            failures.push((bug, verdict));
        }
    }
    let elapsed = started.elapsed().as_secs();
    println!(
        "{} of {} bugs killed in {}m{:02}s",
        bugs.len() - failures.len(),
        bugs.len(),
        elapsed / 60,
        elapsed % 60
    );
    if graded {
        save_scores(&target_dir, &costs)?;
        let path = target_dir.join(FIRST_MESSAGES);
        write(&path, &first_messages_markdown(&first_messages))?;
        println!("each bug's first message: {}", path.display());
    }
    let cheap = if options.scores {
        print_costs(&costs)
    } else {
        0
    };
    for (bug, verdict) in &failures {
        println!("\n{} (day {}): {}", bug.name, bug.day, bug.description);
        match verdict {
            Verdict::Survived => println!(
                "  survived: every test of day {} passes with this bug; a graded test should \
                 catch it (COURSE §7), or the entry is not a bug",
                bug.day
            ),
            Verdict::Broken { error } => {
                for line in error.lines() {
                    println!("  {line}");
                }
            }
            _ => {}
        }
    }
    Ok(failures.is_empty() && cheap == 0)
}

/// Writes each graded bug's test outcomes to `target_dir/scores.json` (`{"bug": {"day": N,
/// "passed": [...], "failed": [...]}}`), to weigh tests anew without running the bugs again.
fn save_scores(target_dir: &Path, costs: &[(&Bug, DayGrade)]) -> Result<()> {
    let mut saved = serde_json::Map::new();
    for (bug, day) in costs {
        let names = |passed: bool| -> Vec<&str> {
            day.tests
                .iter()
                .flatten()
                .filter(|test| test.status.passed() == passed)
                .map(|test| test.case.name.as_str())
                .collect()
        };
        saved.insert(
            bug.name.clone(),
            serde_json::json!({"day": bug.day, "passed": names(true), "failed": names(false)}),
        );
    }
    let path = target_dir.join("scores.json");
    let text = serde_json::to_string_pretty(&saved)?;
    fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    println!("\neach bug's passed and failed tests: {}", path.display());
    Ok(())
}

/// The first message of each graded bug as Markdown: a section per bug with its day, its
/// description, and the report's lines in a code block.
fn first_messages_markdown(rows: &[(&Bug, Vec<String>)]) -> String {
    let mut text = String::from(
        "# What a student reads first for each planted bug\n\n\
         The first failure `cargo x grade` shows under the bug's day \
         (`cargo x bugs --first-message`).\n",
    );
    for (bug, lines) in rows {
        text.push_str(&format!(
            "\n## {} (day {})\n\n{}\n\n",
            bug.name, bug.day, bug.description
        ));
        if lines.is_empty() {
            text.push_str("No failure: every test of the day passes with this bug.\n");
        } else {
            text.push_str(&format!("```text\n{}\n```\n", lines.join("\n")));
        }
    }
    text
}

/// Prints the points each graded bug costs, cheapest first, and returns how many cost less than
/// [`MIN_COST`].
fn print_costs(costs: &[(&Bug, DayGrade)]) -> usize {
    let mut rows: Vec<(&Bug, f64, &DayGrade)> = costs
        .iter()
        .map(|(bug, day)| (*bug, day.max_points - day.points(), day))
        .collect();
    rows.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.name.cmp(&b.0.name)));
    let name_width = rows.iter().map(|row| row.0.name.len()).max().unwrap_or(0);
    println!("\npoints each bug costs of 100 (`cargo x grade` scoring), cheapest first:");
    println!(
        "{:<name_width$}  day  {:>11}  {:>6}  failed",
        "bug", "day's score", "cost"
    );
    for (bug, cost, day) in &rows {
        println!(
            "{:<name_width$}  {:>3}  {:>11}  {:>6.2}  {}/{}{}",
            bug.name,
            bug.day,
            format!(
                "{}/{}",
                report::number(day.points()),
                report::number(day.max_points)
            ),
            cost,
            day.total() - day.passed(),
            day.total(),
            if *cost < MIN_COST { "  < MIN_COST" } else { "" }
        );
    }
    let cheap = rows.iter().filter(|row| row.1 < MIN_COST).count();
    if cheap > 0 {
        println!(
            "{cheap} bugs cost less than {MIN_COST} point: a test that catches such a mistake \
             should weigh more ([weights.dayN] in xtask/points.toml), or catch it in more cases"
        );
    }
    cheap
}

/// Grades the workspace copy at `copy` on `day` as `cargo x grade --reference` does: the verdict,
/// and the day's grade when the tests compiled.
fn run_bug_graded(copy: &Path, target_dir: &Path, day: u8) -> Result<(Verdict, Option<DayGrade>)> {
    let place = Place {
        root: copy.to_path_buf(),
        target_dir: Some(target_dir.to_path_buf()),
    };
    let settings = RunSettings::new(Duration::from_secs(grade::DEFAULT_TIMEOUT_SECS));
    let grade = grade::evaluate(&place, Subject::Reference, REFERENCE_DIR, &[day], settings)?;
    if let Some(error) = grade.compile_error {
        let error = format!("does not compile: {error}");
        return Ok((Verdict::Broken { error }, None));
    }
    let day = grade
        .days
        .into_iter()
        .next()
        .context("the grade has no day")?;
    let mut failed: Vec<String> = day
        .tests
        .iter()
        .flatten()
        .filter(|test| !test.status.passed())
        .map(|test| test.case.name.clone())
        .collect();
    failed.sort();
    let verdict = if failed.is_empty() {
        Verdict::Survived
    } else {
        Verdict::Killed { failed }
    };
    Ok((verdict, Some(day)))
}

/// Prints the list: name, day, file and description of each bug.
fn print_list(bugs: &[Bug]) {
    let name_width = bugs.iter().map(|bug| bug.name.len()).max().unwrap_or(0);
    let file_width = bugs.iter().map(|bug| bug.file.len()).max().unwrap_or(0);
    for bug in bugs {
        println!(
            "{:<name_width$}  day {}  {:<file_width$}  {}",
            bug.name, bug.day, bug.file, bug.description
        );
    }
    let days: std::collections::BTreeSet<u8> = bugs.iter().map(|bug| bug.day).collect();
    println!("{} bugs over days {days:?}", bugs.len());
}

/// Where the copy of the workspace goes and its target directory. The copy is not inside that
/// target directory: cargo records the sources of a crate inside it relative to it, and the
/// crate's fingerprint would then not see a planted change.
pub(crate) fn workspace_copy(root: &Path) -> (PathBuf, PathBuf) {
    let target = root.join("target");
    (target.join("bugs-workspace"), target.join("bugs"))
}

/// Takes the lock on `target_dir` (created if needed), so that two runs never share the copy.
pub(crate) fn lock(target_dir: &Path) -> Result<File> {
    fs::create_dir_all(target_dir)
        .with_context(|| format!("cannot create {}", target_dir.display()))?;
    let path = target_dir.join("bugs.lock");
    let file = File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => {
            bail!(
                "another `cargo x bugs` is running ({} is locked)",
                path.display()
            )
        }
        Err(TryLockError::Error(error)) => {
            Err(error).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
}

/// Replaces `copy` with a fresh copy of the workspace: the starter and
/// [`WORKSPACE_FILES_BUT_STARTER`] (no `target/`, no `book/`).
pub(crate) fn copy_workspace(root: &Path, copy: &Path) -> Result<()> {
    if copy.exists() {
        fs::remove_dir_all(copy).with_context(|| format!("cannot remove {}", copy.display()))?;
    }
    fs::create_dir_all(copy).with_context(|| format!("cannot create {}", copy.display()))?;
    for name in WORKSPACE_FILES_BUT_STARTER.iter().chain([&STARTER_DIR]) {
        copy_tree(&root.join(name), &copy.join(name))?;
    }
    Ok(())
}

/// Copies a file, or a directory without its `target/` subdirectories.
fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    if from.is_dir() {
        fs::create_dir_all(to).with_context(|| format!("cannot create {}", to.display()))?;
        let entries =
            fs::read_dir(from).with_context(|| format!("cannot read {}", from.display()))?;
        for entry in entries {
            let entry = entry.with_context(|| format!("cannot read {}", from.display()))?;
            if entry.file_name() != "target" {
                copy_tree(&entry.path(), &to.join(entry.file_name()))?;
            }
        }
        Ok(())
    } else {
        fs::copy(from, to)
            .map(drop)
            .with_context(|| format!("cannot copy {} to {}", from.display(), to.display()))
    }
}

/// Writes `text` to `path`.
fn write(path: &Path, text: &str) -> Result<()> {
    fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// Builds, then runs, the graded tests of `day` in the workspace copy at `copy`.
fn run_bug(copy: &Path, target_dir: &Path, day: u8, timeout: Duration) -> Result<Verdict> {
    let test_target = format!("day{day}");
    let cargo_test = |extra: &[&str]| {
        let mut args = vec![
            "test",
            "--package",
            TESTS_PACKAGE,
            "--features",
            "reference",
        ];
        args.extend(["--test", &test_target]);
        args.extend(extra);
        let mut command = workspace::cargo(copy, &args);
        command.env("CARGO_TARGET_DIR", target_dir);
        command
    };
    // Build first, without a time limit: only the tests can hang.
    let build = workspace::capture(cargo_test(&["--no-run"]))?;
    if !build.status.success() {
        let stderr = String::from_utf8_lossy(&build.stderr);
        let error = workspace::first_compiler_error(&stderr)
            .unwrap_or_else(|| format!("the build failed ({}):\n{stderr}", build.status));
        return Ok(Verdict::Broken {
            error: format!("does not compile: {error}"),
        });
    }
    let Some(run) = run_with_timeout(cargo_test(&["--", "--test-threads=2"]), timeout)? else {
        return Ok(Verdict::TimedOut);
    };
    Ok(judge(&libtest::parse(&run.stdout), run.status, &run.stderr))
}

/// The verdict on a finished test run.
fn judge(tests: &TestRun, status: ExitStatus, stderr: &str) -> Verdict {
    let mut failed: Vec<String> = tests
        .results
        .iter()
        .filter(|result| result.failure_message().is_some())
        .map(|result| result.name.clone())
        .collect();
    failed.sort();
    if !failed.is_empty() {
        Verdict::Killed { failed }
    } else if tests.unreported() > 0 {
        Verdict::Crashed {
            status: status.to_string(),
        }
    } else if status.success() && tests.total() > 0 {
        Verdict::Survived
    } else {
        let tail: Vec<&str> = stderr.lines().rev().take(20).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        Verdict::Broken {
            error: format!(
                "cargo test failed ({status}) but no test failed:\n{}",
                tail.join("\n")
            ),
        }
    }
}

/// The output of a finished command.
struct Finished {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

/// Runs `command`, capturing its output; `None` if it was still running after `timeout`, in
/// which case it is killed with every process it started (its process group).
fn run_with_timeout(mut command: Command, timeout: Duration) -> Result<Option<Finished>> {
    use std::os::unix::process::CommandExt;

    let shown = workspace::display(&command);
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = command
        .spawn()
        .with_context(|| format!("could not start `{shown}`"))?;
    let stdout = read_all(child.stdout.take());
    let stderr = read_all(child.stderr.take());
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child
            .try_wait()
            .with_context(|| format!("waiting for `{shown}`"))?
        {
            break Some(status);
        }
        if Instant::now() >= deadline {
            break None;
        }
        std::thread::sleep(POLL);
    };
    let Some(status) = status else {
        // The test binary is a child of cargo: stop the whole group, not only cargo.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", child.id())])
            .status();
        let _ = child.kill();
        let _ = child.wait();
        return Ok(None);
    };
    Ok(Some(Finished {
        status,
        stdout: joined(stdout),
        stderr: joined(stderr),
    }))
}

/// A thread reading `pipe` to its end.
fn read_all(pipe: Option<impl Read + Send + 'static>) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// What a [`read_all`] thread read.
fn joined(reader: JoinHandle<String>) -> String {
    reader.join().unwrap_or_default()
}

/// Where a bug's file lies in the workspace at `root`.
pub(crate) fn source_path(root: &Path, bug: &Bug) -> PathBuf {
    root.join(REFERENCE_DIR).join("src").join(&bug.file)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIST_TEXT: &str = r#"
# A comment.
[[bug]]
name = "merge-older-value-wins"
day = 3
description = "the merge returns the older value of a key"
file = "iterators/merge_iterator.rs"
find = '''
            .then(self.0.cmp(&other.0))
'''
replace = '''
            .then(other.0.cmp(&self.0))
'''

[[bug]]
name = "two"
day = 1
description = "second"
file = "block.rs"
find = "a"
replace = "b"
"#;

    fn bug(find: &str, replace: &str) -> Bug {
        Bug {
            name: "a-bug".into(),
            day: 1,
            description: "a mistake".into(),
            file: "block.rs".into(),
            find: find.into(),
            replace: replace.into(),
        }
    }

    #[test]
    fn a_list_is_parsed_in_order_with_multi_line_literal_strings() {
        let bugs = parse_list(LIST_TEXT).unwrap();
        assert_eq!(bugs.len(), 2);
        assert_eq!(bugs[0].name, "merge-older-value-wins");
        assert_eq!(bugs[0].day, 3);
        // A newline right after ''' is not part of the string; the one before ''' is.
        assert_eq!(bugs[0].find, "            .then(self.0.cmp(&other.0))\n");
        assert_eq!(bugs[1].replace, "b");
    }

    #[test]
    fn bad_entries_are_rejected_with_the_bug_name() {
        let with = |from: &str, to: &str| {
            let text = LIST_TEXT.replacen(from, to, 1);
            format!("{:#}", parse_list(&text).unwrap_err())
        };
        assert!(with("day = 3", "day = 11").contains("day 11"));
        assert!(with("name = \"two\"", "name = \"Two\"").contains("kebab-case"));
        assert!(with("name = \"two\"", "name = \"merge-older-value-wins\"").contains("twice"));
        assert!(with("file = \"block.rs\"", "file = \"../block.rs\"").contains("relative"));
        assert!(with("replace = \"b\"", "replace = \"a\"").contains("same"));
        assert!(with("find = \"a\"", "find = \"\"").contains("empty"));
        assert!(with("day = 1", "day = 1\nfixed = true").contains("fixed"));
        assert!(with("day = 1\n", "").contains("day"));
    }

    #[test]
    fn kebab_case_names() {
        assert!(is_kebab_case("merge-older-value-wins"));
        assert!(is_kebab_case("l0-trigger-off-by-1"));
        for bad in ["", "-a", "a-", "a--b", "a_b", "A", "a b"] {
            assert!(!is_kebab_case(bad), "{bad:?}");
        }
    }

    #[test]
    fn apply_replaces_the_one_occurrence() {
        assert_eq!(
            apply(&bug("b < c", "b <= c"), "a; b < c; d").unwrap(),
            "a; b <= c; d"
        );
    }

    #[test]
    fn apply_refuses_text_that_is_missing_or_ambiguous() {
        let missing = apply(&bug("x", "y"), "abc").unwrap_err().to_string();
        assert!(
            missing.contains("bug `a-bug` no longer applies to block.rs")
                && missing.contains("0 times"),
            "{missing}"
        );
        let twice = apply(&bug("a", "b"), "a a").unwrap_err().to_string();
        assert!(twice.contains("2 times"), "{twice}");
    }

    #[test]
    fn select_keeps_list_order_and_rejects_unknown_names() {
        let bugs = parse_list(LIST_TEXT).unwrap();
        let only = |names: &[&str]| {
            let names: Vec<String> = names.iter().map(|name| name.to_string()).collect();
            select(bugs.clone(), &names)
        };
        assert_eq!(only(&[]).unwrap().len(), 2);
        let picked = only(&["two", "merge-older-value-wins"]).unwrap();
        assert_eq!(picked[0].name, "merge-older-value-wins");
        assert!(only(&["nope"]).unwrap_err().to_string().contains("`nope`"));
    }

    fn exit(code: i32) -> ExitStatus {
        use std::os::unix::process::ExitStatusExt;
        ExitStatus::from_raw(code << 8)
    }

    #[test]
    fn judging_a_run() {
        let failed = libtest::parse(
            "running 3 tests\ntest b ... FAILED\ntest a ... FAILED\ntest c ... ok\n",
        );
        assert_eq!(
            judge(&failed, exit(101), ""),
            Verdict::Killed {
                failed: vec!["a".into(), "b".into()]
            }
        );
        assert_eq!(
            Verdict::Killed {
                failed: vec!["a".into(), "b".into()]
            }
            .describe(Duration::from_secs(1)),
            "a (+1 more)"
        );
        let passed = libtest::parse("running 1 test\ntest a ... ok\n");
        assert_eq!(judge(&passed, exit(0), ""), Verdict::Survived);
        let crashed = libtest::parse("running 2 tests\ntest a ... ok\n");
        assert!(matches!(
            judge(&crashed, exit(101), ""),
            Verdict::Crashed { .. }
        ));
        let nothing = libtest::parse("");
        assert!(matches!(
            judge(&nothing, exit(101), "error: no such target"),
            Verdict::Broken { error } if error.contains("no such target")
        ));
        assert!(!Verdict::Survived.is_killed());
        assert!(Verdict::TimedOut.is_killed());
    }

    #[test]
    fn first_messages_are_a_section_per_bug() {
        let caught = bug("a", "b");
        let survived = Bug {
            name: "other".into(),
            ..bug("a", "b")
        };
        let text = first_messages_markdown(&[
            (&caught, vec!["     ✗ t: [s] expected 1, got 2".into()]),
            (&survived, Vec::new()),
        ]);
        assert!(
            text.contains(
                "\n## a-bug (day 1)\n\na mistake\n\n```text\n     ✗ t: [s] expected 1, got 2\n```\n"
            ),
            "{text}"
        );
        assert!(
            text.ends_with("## other (day 1)\n\na mistake\n\nNo failure: every test of the day passes with this bug.\n"),
            "{text}"
        );
    }

    #[test]
    fn a_run_past_its_timeout_is_stopped() {
        let mut command = Command::new("sh");
        command.args(["-c", "sleep 30"]);
        let started = Instant::now();
        assert!(
            run_with_timeout(command, Duration::from_millis(200))
                .unwrap()
                .is_none()
        );
        assert!(started.elapsed() < Duration::from_secs(10));
        let mut command = Command::new("sh");
        command.args(["-c", "echo out; echo err >&2"]);
        let finished = run_with_timeout(command, Duration::from_secs(30))
            .unwrap()
            .unwrap();
        assert!(finished.status.success());
        assert_eq!(
            (finished.stdout.as_str(), finished.stderr.as_str()),
            ("out\n", "err\n")
        );
    }

    /// The checked-in list is valid, covers every day, and every entry still applies to the
    /// reference: a change to the reference that moves a bug's text fails here, in seconds,
    /// rather than in the minutes `cargo x bugs` takes.
    #[test]
    fn every_listed_bug_applies_to_the_reference() {
        let root = workspace::root();
        let bugs = load(&root).unwrap();
        assert!(bugs.len() >= 30, "only {} bugs", bugs.len());
        for day in workspace::graded_days(&root) {
            assert!(
                bugs.iter().any(|bug| bug.day == day),
                "no bug for day {day}"
            );
        }
        for bug in &bugs {
            let path = source_path(&root, bug);
            let source = fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("bug `{}`: {}: {e}", bug.name, path.display()));
            apply(bug, &source).unwrap();
        }
    }
}
