//! Reference-only checks of the directory an engine opens (given code, not graded): the path is
//! checked before anything is created.
//!
//! Some checks must run in a process of their own (another working directory): they run this
//! test binary again, filtered to the test itself, with [`CHILD_ROLE`] set to what the child
//! should do (see [`child`]).

use std::path::Path;
use std::process::{Command, Output};

use mini_lsm_reference::{Error, LsmOptions, MiniLsm};

const BOOK_OPEN: &str = "day4-engine.md#limits-and-invalid-arguments";

/// Set in a child process to what it should do instead of the test (see [`child`]).
const CHILD_ROLE: &str = "MINI_LSM_OPEN_DIRECTORY_CHILD";

#[track_caller]
fn fail_in(
    book: &str,
    scenario: &str,
    expected: impl std::fmt::Debug,
    actual: impl std::fmt::Debug,
) -> ! {
    panic!("[{scenario}] expected {expected:?}, got {actual:?} (book: {book})")
}

/// Which role this process plays: `None` in the test run itself.
fn child_role() -> Option<String> {
    std::env::var(CHILD_ROLE).ok()
}

/// What a child process does, by role: `open-empty-path`. A failed expectation panics, so the
/// child's test fails and the parent sees a failed exit status with the message on stderr.
fn child(role: &str) {
    if role == "open-empty-path" {
        // The full engine (WAL on): the reported run created both LOCK and MANIFEST.
        match MiniLsm::open("", LsmOptions::default()) {
            Err(Error::InvalidArgument(_)) => {}
            Ok(_) => fail_in(
                BOOK_OPEN,
                "open(\"\")",
                "Err(InvalidArgument)",
                "Ok(engine)",
            ),
            Err(e) => fail_in(BOOK_OPEN, "open(\"\")", "Err(InvalidArgument)", e),
        }
    } else {
        panic!("unknown {CHILD_ROLE} role {role:?}");
    }
}

/// Runs `test` (this file's test of that name) in a new process of this test binary, in
/// directory `cwd`, as `role`.
fn run_child(test: &str, cwd: &Path, role: &str) -> Output {
    let exe = std::env::current_exe().expect("the path of this test binary");
    Command::new(exe)
        .args([test, "--exact", "--test-threads=1", "--nocapture"])
        .env(CHILD_ROLE, role)
        .current_dir(cwd)
        .output()
        .expect("run this test binary as a child process")
}

fn check_child(output: &Output, scenario: &str, book: &str) {
    if !output.status.success() {
        fail_in(
            book,
            scenario,
            "the child process passes",
            format!(
                "{}: {}",
                output.status,
                String::from_utf8_lossy(&output.stdout) + String::from_utf8_lossy(&output.stderr)
            ),
        );
    }
}

/// The names in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("list a directory")
        .map(|e| {
            e.expect("list a directory")
                .file_name()
                .to_string_lossy()
                .into()
        })
        .collect();
    names.sort();
    names
}

/// `MiniLsm::open("")` used to create `LOCK` and `MANIFEST` in the working directory, then fail.
/// The check runs in a child process whose working directory is a fresh temporary one, so that
/// nothing this test does (or a regression creates) lands in the working directory of the tests
/// running in parallel.
#[test]
fn open_of_an_empty_path_is_invalid_argument_and_creates_nothing() {
    if let Some(role) = child_role() {
        return child(&role);
    }
    let cwd = tempfile::tempdir().expect("temp dir");
    let output = run_child(
        "open_of_an_empty_path_is_invalid_argument_and_creates_nothing",
        cwd.path(),
        "open-empty-path",
    );
    check_child(&output, "MiniLsm::open(\"\") in a child process", BOOK_OPEN);
    let created = listing(cwd.path());
    if !created.is_empty() {
        fail_in(
            BOOK_OPEN,
            "files in the working directory after MiniLsm::open(\"\")",
            Vec::<String>::new(),
            created,
        );
    }
}
