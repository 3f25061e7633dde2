//! Building the graded test binaries once, then running every graded test in its own process,
//! several at a time, each with a timeout: a test that hangs or crashes fails alone.
//!
//! Only `cargo` and the test binaries are used: `cargo test --no-run --message-format=json`
//! names each `dayN` executable, `<exe> --list --format terse` names its tests, and
//! `<exe> --exact NAME --test-threads 1` runs one.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, IsTerminal, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::libtest::{self, Outcome};
use crate::workspace::{self, TESTS_PACKAGE};

/// Where the tests are built: a workspace and, optionally, a target directory of its own.
#[derive(Debug, Clone)]
pub struct Place {
    /// The workspace root (this repository, or a temporary copy holding a submission).
    pub root: PathBuf,
    /// `CARGO_TARGET_DIR` for the build; `None` for the workspace's own `target/`.
    pub target_dir: Option<PathBuf>,
}

impl Place {
    /// The directory the tests run in, like `cargo test` does: the tests package.
    pub fn tests_dir(&self) -> PathBuf {
        self.root.join(TESTS_PACKAGE)
    }
}

/// The environment variable that tells a graded test the grader's timeout, in seconds (read
/// by `watchdog_limit` in tests-day1-to-day7/src/lib.rs).
pub const GRADE_TIMEOUT_VAR: &str = "MINI_LSM_GRADE_TIMEOUT_SECS";

/// What building the test binaries gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Built {
    /// The executable of each requested day.
    Executables(BTreeMap<u8, PathBuf>),
    /// The build failed: the compiler's first error in full (or cargo's own error).
    DoesNotCompile {
        /// The rendered message.
        error: String,
    },
}

/// Builds the test targets `dayN` of `days` at `place` with the cargo feature arguments
/// `features`, without running them.
pub fn build(place: &Place, features: &[&str], days: &[u8]) -> Result<Built> {
    build_targets(place, features, "day", days)
}

/// Builds the test targets named `prefix` + day (`day5`, `stress_day5`) of `days` at `place`
/// with the cargo feature arguments `features`, without running them.
pub fn build_targets(place: &Place, features: &[&str], prefix: &str, days: &[u8]) -> Result<Built> {
    let targets: Vec<String> = days.iter().map(|day| format!("{prefix}{day}")).collect();
    let mut args = vec!["test", "--package", TESTS_PACKAGE];
    args.extend(features);
    args.extend(["--no-run", "--message-format=json"]);
    for target in &targets {
        args.extend(["--test", target.as_str()]);
    }
    let mut command = workspace::cargo(&place.root, &args);
    if let Some(target_dir) = &place.target_dir {
        command.env("CARGO_TARGET_DIR", target_dir);
    }
    let output = capture_showing_progress(command)?;
    let messages = parse_build_messages(&String::from_utf8_lossy(&output.stdout), prefix);
    if !output.status.success() {
        let error = messages.first_error.unwrap_or_else(|| {
            let stderr = String::from_utf8_lossy(&output.stderr);
            workspace::first_compiler_error(&stderr).unwrap_or_else(|| stderr.trim().to_string())
        });
        return Ok(Built::DoesNotCompile { error });
    }
    if let Some(missing) = days
        .iter()
        .find(|day| !messages.executables.contains_key(day))
    {
        bail!("cargo built no executable for the test target {prefix}{missing}");
    }
    Ok(Built::Executables(messages.executables))
}

/// Runs the cargo `command` to completion, capturing its output. When stderr is a terminal, shows
/// cargo's status lines as they come, on one line rewritten in place (`[12 built] Compiling
/// rstest v0.26.1`), so that a first build, which takes minutes, is seen to progress.
fn capture_showing_progress(mut command: Command) -> Result<Output> {
    if !std::io::stderr().is_terminal() {
        return workspace::capture(command);
    }
    let shown = workspace::display(&command);
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("could not start `{shown}`"))?;
    let stdout = read_in_background(child.stdout.take());
    let stderr = child.stderr.take().map(|pipe| {
        thread::spawn(move || {
            let mut all = Vec::new();
            let mut built = 0;
            for line in BufReader::new(pipe).split(b'\n').map_while(Result::ok) {
                let text = String::from_utf8_lossy(&line);
                let status = text.trim();
                if status.starts_with("Compiling ") {
                    built += 1;
                }
                if status.starts_with("Compiling ") || status.starts_with("Blocking ") {
                    // `Compiling name v1.0 (/a/long/path)`: the path says nothing new.
                    let status = status.split(" (").next().unwrap_or(status);
                    let status: String = status.chars().take(70).collect();
                    eprint!("\r\x1b[2K  [{built} built] {status}");
                    let _ = std::io::stderr().flush();
                }
                all.extend_from_slice(&line);
                all.push(b'\n');
            }
            eprint!("\r\x1b[2K");
            all
        })
    });
    let status = child
        .wait()
        .with_context(|| format!("waiting for `{shown}`"))?;
    let join = |reader: Option<JoinHandle<Vec<u8>>>| {
        reader.map_or_else(Vec::new, |reader| reader.join().unwrap_or_default())
    };
    Ok(Output {
        status,
        stdout: join(stdout),
        stderr: join(stderr),
    })
}

/// What the JSON messages of `cargo test --no-run --message-format=json` say.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct BuildMessages {
    /// The executable of each test target that was built, by day.
    pub executables: BTreeMap<u8, PathBuf>,
    /// The `rendered` text of the first diagnostic at level `error`.
    pub first_error: Option<String>,
}

/// Parses cargo's JSON lines (other lines are skipped); test targets are named `prefix` + day.
pub fn parse_build_messages(stdout: &str, prefix: &str) -> BuildMessages {
    let mut messages = BuildMessages::default();
    for line in stdout.lines() {
        let Ok(message) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        match message["reason"].as_str() {
            Some("compiler-artifact") if message["profile"]["test"] == Value::Bool(true) => {
                let day = message["target"]["name"]
                    .as_str()
                    .and_then(|name| name.strip_prefix(prefix))
                    .and_then(|day| day.parse().ok());
                if let (Some(day), Some(executable)) = (day, message["executable"].as_str()) {
                    messages.executables.insert(day, PathBuf::from(executable));
                }
            }
            Some("compiler-message")
                if messages.first_error.is_none()
                    && message["message"]["level"].as_str() == Some("error") =>
            {
                messages.first_error = message["message"]["rendered"]
                    .as_str()
                    .map(|rendered| rendered.trim_end().to_string());
            }
            _ => {}
        }
    }
    messages
}

/// The names of the tests in the test binary `exe`, run in `dir`.
pub fn list_tests(exe: &Path, dir: &Path) -> Result<Vec<String>> {
    list(exe, dir, &[])
}

/// The names of the `#[ignore]`d tests in the test binary `exe`, run in `dir`.
pub fn list_ignored_tests(exe: &Path, dir: &Path) -> Result<Vec<String>> {
    list(exe, dir, &["--ignored"])
}

/// The names `exe --list --format terse` prints with the libtest arguments `filters`.
fn list(exe: &Path, dir: &Path, filters: &[&str]) -> Result<Vec<String>> {
    let output = Command::new(exe)
        .args(["--list", "--format", "terse"])
        .args(filters)
        .current_dir(dir)
        .output()
        .with_context(|| format!("could not list the tests of {}", exe.display()))?;
    if !output.status.success() {
        bail!(
            "`{} --list` failed ({}): {}",
            exe.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(libtest::parse_terse_list(&String::from_utf8_lossy(
        &output.stdout,
    )))
}

/// Every test of every executable in `executables`, listed in `dir`, day by day.
pub fn list_cases(executables: &BTreeMap<u8, PathBuf>, dir: &Path) -> Result<Vec<TestCase>> {
    let mut cases = Vec::new();
    for (&day, exe) in executables {
        for name in list_tests(exe, dir)? {
            cases.push(TestCase {
                day,
                name,
                exe: exe.clone(),
            });
        }
    }
    Ok(cases)
}

/// One test to run: the test binary and the test's exact name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestCase {
    /// The day whose target holds the test.
    pub day: u8,
    /// The test's name inside its binary.
    pub name: String,
    /// The test binary.
    pub exe: PathBuf,
}

/// How one test ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// It passed.
    Passed,
    /// It failed; the panic message (or what the process printed).
    Failed(String),
    /// It ran longer than the timeout and was killed.
    TimedOut(Duration),
    /// The process was killed by a signal (an abort, a stack overflow, …); what it printed.
    Crashed {
        /// The signal number.
        signal: i32,
        /// The first lines the process printed on stderr, if any.
        detail: String,
    },
}

impl Status {
    /// Whether the test passed.
    pub fn passed(&self) -> bool {
        *self == Status::Passed
    }

    /// Why the test did not pass, in full; empty for a passed test.
    pub fn reason(&self) -> String {
        match self {
            Status::Passed => String::new(),
            Status::Failed(message) => message.clone(),
            Status::TimedOut(after) => format!("timed out after {} s", after.as_secs()),
            Status::Crashed { signal, detail } if detail.is_empty() => {
                format!("crashed (signal {signal})")
            }
            Status::Crashed { signal, detail } => format!("crashed (signal {signal})\n{detail}"),
        }
    }
}

/// A test and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestOutcome {
    /// The test.
    pub case: TestCase,
    /// How it ended.
    pub status: Status,
}

/// How to run tests.
#[derive(Debug, Clone, Copy)]
pub struct RunSettings {
    /// The longest a test may run before it is killed.
    pub timeout: Duration,
    /// How many tests run at once.
    pub jobs: usize,
    /// Also run the stress checks (`cargo x grade --stress`, see [`crate::stress`]).
    pub stress: bool,
}

impl RunSettings {
    /// `timeout`, and as many tests at once as there are cores; no stress checks.
    pub fn new(timeout: Duration) -> Self {
        let jobs = thread::available_parallelism().map_or(1, |cores| cores.get());
        RunSettings {
            timeout,
            jobs,
            stress: false,
        }
    }
}

/// Runs every test of `cases` in its own process in `dir`, `settings.jobs` at a time; the
/// outcomes are in the order of `cases`. Shows a counter on stderr when it is a terminal.
pub fn run_all(cases: &[TestCase], dir: &Path, settings: RunSettings) -> Vec<TestOutcome> {
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let outcomes: Mutex<Vec<Option<Status>>> = Mutex::new(vec![None; cases.len()]);
    let progress = std::io::stderr().is_terminal() && cases.len() > 1;
    thread::scope(|scope| {
        for _ in 0..settings.jobs.max(1) {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(case) = cases.get(index) else { break };
                    let status = run_one(case, dir, settings.timeout);
                    outcomes.lock().expect("no worker panics")[index] = Some(status);
                    let finished = done.fetch_add(1, Ordering::Relaxed) + 1;
                    if progress {
                        eprint!("\r  ran {finished}/{} tests", cases.len());
                    }
                }
            });
        }
    });
    if progress {
        eprint!("\r\x1b[2K");
        let _ = std::io::stderr().flush();
    }
    let statuses = outcomes.into_inner().expect("no worker panics");
    cases
        .iter()
        .zip(statuses)
        .map(|(case, status)| TestOutcome {
            case: case.clone(),
            status: status.expect("every case ran"),
        })
        .collect()
}

/// Runs one test in its own process, killing it after `timeout`.
pub fn run_one(case: &TestCase, dir: &Path, timeout: Duration) -> Status {
    let spawned = Command::new(&case.exe)
        .args(["--exact", &case.name, "--test-threads", "1"])
        .current_dir(dir)
        .env("RUST_BACKTRACE", "0")
        // The tests' watchdogs fire before this timeout, with a message of their own.
        .env(GRADE_TIMEOUT_VAR, timeout.as_secs().to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(error) => return Status::Failed(format!("could not start the test binary: {error}")),
    };
    let stdout = read_in_background(child.stdout.take());
    let stderr = read_in_background(child.stderr.take());
    let exit = wait_with_timeout(&mut child, timeout);
    let stdout = finish_reading(stdout);
    let stderr = finish_reading(stderr);
    match exit {
        Ok(Some(status)) => classify(&case.name, status, &stdout, &stderr),
        Ok(None) => Status::TimedOut(timeout),
        Err(error) => Status::Failed(format!("could not wait for the test: {error}")),
    }
}

/// Waits for `child` to exit, for at most `timeout`; kills it then and returns `None`.
fn wait_with_timeout(child: &mut Child, timeout: Duration) -> std::io::Result<Option<ExitStatus>> {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(1);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        let now = Instant::now();
        if now >= deadline {
            // It may have exited in between: then `kill` fails and `wait` reaps it anyway.
            let _ = child.kill();
            child.wait()?;
            return Ok(None);
        }
        thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

/// Reads `pipe` to its end on a thread of its own, so that a chatty test never blocks on a full
/// pipe.
fn read_in_background(pipe: Option<impl Read + Send + 'static>) -> Option<JoinHandle<Vec<u8>>> {
    let mut pipe = pipe?;
    Some(thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        bytes
    }))
}

/// What a background reader read. A killed test may have left a child process (the crash
/// writer) holding the pipe open: after a second the reader is abandoned.
fn finish_reading(reader: Option<JoinHandle<Vec<u8>>>) -> String {
    let Some(reader) = reader else {
        return String::new();
    };
    let give_up = Instant::now() + Duration::from_secs(1);
    while !reader.is_finished() && Instant::now() < give_up {
        thread::sleep(Duration::from_millis(5));
    }
    if !reader.is_finished() {
        return String::new();
    }
    String::from_utf8_lossy(&reader.join().unwrap_or_default()).into_owned()
}

/// The status of test `name` whose process exited with `status` after printing `stdout` and
/// `stderr`.
fn classify(name: &str, status: ExitStatus, stdout: &str, stderr: &str) -> Status {
    if let Some(signal) = status.signal() {
        return Status::Crashed {
            signal,
            detail: first_lines(stderr, 3),
        };
    }
    let run = libtest::parse(stdout);
    let result = run.results.iter().find(|result| result.name == name);
    match result.map(|result| &result.outcome) {
        Some(Outcome::Passed) if status.success() => Status::Passed,
        Some(Outcome::Failed { message, location }) if !message.is_empty() => {
            Status::Failed(located(message, location.as_deref()))
        }
        Some(Outcome::Ignored) => Status::Failed("ignored (a graded test must not be)".into()),
        None if status.success() => Status::Failed(format!("no test named `{name}` ran")),
        _ => {
            let lines: Vec<&str> = stderr.lines().collect();
            let message = libtest::panic_message(stderr)
                .unwrap_or_else(|| format!("the test process exited with {status}"));
            Status::Failed(located(
                &message,
                libtest::panic_location(&lines).as_deref(),
            ))
        }
    }
}

/// Ends a failure message whose panic `location` is known with a [`PANICKED_AT`] line (see
/// [`split_location`]).
fn located(message: &str, location: Option<&str>) -> String {
    match location {
        Some(location) => format!("{message}\n{PANICKED_AT}{location}"),
        None => message.to_string(),
    }
}

/// What starts the last line of a [`Status::Failed`] message that says where the test panicked.
pub const PANICKED_AT: &str = "panicked at ";

/// A failure message without its [`PANICKED_AT`] line, and the location that line gives.
pub fn split_location(message: &str) -> (&str, Option<&str>) {
    match message.rsplit_once(&format!("\n{PANICKED_AT}")) {
        Some((message, location)) if !location.contains('\n') => (message, Some(location)),
        _ => (message, None),
    }
}

/// The first `count` non-empty lines of `text`.
pub fn first_lines(text: &str, count: usize) -> String {
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .take(count)
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_messages_name_the_day_executables_and_the_first_error() {
        let stdout = r#"{"reason":"compiler-artifact","target":{"name":"tests_day1_to_day7","kind":["lib"],"test":true},"profile":{"test":false},"executable":null}
{"reason":"compiler-message","message":{"level":"warning","rendered":"warning: unused\n"}}
{"reason":"compiler-message","message":{"level":"error","rendered":"error[E0308]: mismatched types\n --> src/lib.rs:1:1\n\n"}}
{"reason":"compiler-message","message":{"level":"error","rendered":"error: aborting\n"}}
{"reason":"compiler-artifact","target":{"name":"day3","kind":["test"],"test":true},"profile":{"test":true},"executable":"/t/day3-abc"}
{"reason":"compiler-artifact","target":{"name":"crash-writer","kind":["bin"],"test":false},"profile":{"test":false},"executable":"/t/crash-writer"}
not json
{"reason":"build-finished","success":false}"#;
        let messages = parse_build_messages(stdout, "day");
        assert_eq!(
            messages.executables,
            BTreeMap::from([(3, PathBuf::from("/t/day3-abc"))])
        );
        assert_eq!(
            messages.first_error.as_deref(),
            Some("error[E0308]: mismatched types\n --> src/lib.rs:1:1")
        );
    }

    /// An exit status with `code` (`wait(2)` encoding).
    fn exited(code: i32) -> ExitStatus {
        ExitStatus::from_raw(code << 8)
    }

    #[test]
    fn a_test_process_is_classified_by_its_output_and_exit() {
        let passed = "running 1 test\ntest a ... ok\n";
        assert_eq!(classify("a", exited(0), passed, ""), Status::Passed);
        let failed = "running 1 test\ntest a ... FAILED\n\nfailures:\n\n---- a stdout ----\n\nthread 'a' panicked at x.rs:1:1:\nboom\nnote: run with `RUST_BACKTRACE=1`\n";
        assert_eq!(
            classify("a", exited(101), failed, ""),
            Status::Failed("boom\npanicked at x.rs:1:1".into())
        );
        assert_eq!(
            split_location("boom\npanicked at x.rs:1:1"),
            ("boom", Some("x.rs:1:1"))
        );
        assert_eq!(split_location("boom"), ("boom", None));
        assert_eq!(
            classify(
                "a",
                ExitStatus::from_raw(6),
                "running 1 test\n",
                "fatal runtime error: stack overflow\n"
            ),
            Status::Crashed {
                signal: 6,
                detail: "fatal runtime error: stack overflow".into()
            }
        );
        assert_eq!(
            classify("b", exited(0), "running 0 tests\n", ""),
            Status::Failed("no test named `b` ran".into())
        );
        assert_eq!(
            Status::TimedOut(Duration::from_secs(10)).reason(),
            "timed out after 10 s"
        );
    }
}
