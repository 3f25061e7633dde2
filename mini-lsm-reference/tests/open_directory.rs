//! Reference-only checks of the directory an engine opens (given code, not graded): the path is
//! checked before anything is created, and the directory lock (`src/dir_lock.rs`) keeps a second
//! engine out, in this process or another, but never outlives the engine that took it, even
//! while other threads of the process spawn child processes.
//!
//! Some checks must run in a process of their own (another working directory, another lock
//! owner): they run this test binary again, filtered to the test itself, with
//! [`CHILD_ROLE`] set to what the child should do (see [`child`]).

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use mini_lsm_reference::{Error, LsmOptions, MiniLsm};

const BOOK_LOCK: &str = "day6-recovery.md#the-directory-lock";
const BOOK_OPEN: &str = "day4-engine.md#limits-and-invalid-arguments";

/// Set in a child process to what it should do instead of the test (see [`child`]).
const CHILD_ROLE: &str = "MINI_LSM_OPEN_DIRECTORY_CHILD";

/// The lock does not depend on the day's features: the cheapest engine to open will do.
fn options() -> LsmOptions {
    LsmOptions::for_day(4)
}

#[track_caller]
fn fail_in(
    book: &str,
    scenario: &str,
    expected: impl std::fmt::Debug,
    actual: impl std::fmt::Debug,
) -> ! {
    panic!("[{scenario}] expected {expected:?}, got {actual:?} (book: {book})")
}

#[track_caller]
fn fail(scenario: &str, expected: impl std::fmt::Debug, actual: impl std::fmt::Debug) -> ! {
    fail_in(BOOK_LOCK, scenario, expected, actual)
}

fn open(dir: &Path, scenario: &str) -> Arc<MiniLsm> {
    MiniLsm::open(dir, options()).unwrap_or_else(|e| fail(scenario, "Ok(engine)", e))
}

fn close(db: Arc<MiniLsm>, scenario: &str) {
    if let Err(e) = db.close() {
        fail(scenario, "Ok(()) from close", e);
    }
}

/// Which role this process plays: `None` in the test run itself.
fn child_role() -> Option<String> {
    std::env::var(CHILD_ROLE).ok()
}

/// What a child process does, by role: `open-empty-path`, `expect-locked:DIR` or
/// `expect-open:DIR`. A failed expectation panics, so the child's test fails and the parent
/// sees a failed exit status with the message on stderr.
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
    } else if let Some(dir) = role.strip_prefix("expect-locked:") {
        match MiniLsm::open(dir, options()) {
            Err(Error::Locked(_)) => {}
            Ok(_) => fail("open from another process", "Err(Locked)", "Ok(engine)"),
            Err(e) => fail("open from another process", "Err(Locked)", e),
        }
    } else if let Some(dir) = role.strip_prefix("expect-open:") {
        let db = open(Path::new(dir), "open from another process");
        close(db, "close in another process");
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

/// A second open from the same process is refused before it touches `LOCK` (closing any
/// descriptor of the file would drop the process's `fcntl` lock), whatever the spelling of the
/// path; the first engine keeps the lock against other processes until it is dropped.
#[test]
fn a_second_open_in_the_same_process_is_refused_and_the_lock_still_holds() {
    if let Some(role) = child_role() {
        return child(&role);
    }
    const TEST: &str = "a_second_open_in_the_same_process_is_refused_and_the_lock_still_holds";
    let dir = tempfile::tempdir().expect("temp dir");
    let link_parent = tempfile::tempdir().expect("temp dir");
    let link = link_parent.path().join("link");
    std::os::unix::fs::symlink(dir.path(), &link).expect("symlink to the engine directory");
    let first = open(dir.path(), "first open");
    for (spelling, path) in [
        ("the same path", dir.path().to_path_buf()),
        ("DIR/.", dir.path().join(".")),
        ("a symlink to DIR", link.clone()),
    ] {
        match MiniLsm::open(&path, options()) {
            Err(Error::Locked(_)) => {}
            Ok(_) => fail(spelling, "Err(Locked)", "Ok(a second engine)"),
            Err(e) => fail(spelling, "Err(Locked)", e),
        }
    }
    let dir_text = dir.path().to_str().expect("a UTF-8 temp path");
    let output = run_child(TEST, dir.path(), &format!("expect-locked:{dir_text}"));
    check_child(
        &output,
        "open from another process after refused second opens in this one",
        BOOK_LOCK,
    );
    first.put(b"k", b"v").expect("put into the first engine");
    close(first, "close the first engine");
    let output = run_child(TEST, dir.path(), &format!("expect-open:{dir_text}"));
    check_child(
        &output,
        "open from another process after the first engine was dropped",
        BOOK_LOCK,
    );
    close(open(&link, "reopen through the symlink"), "close again");
}

/// Makes a forked child release the parent again (see [`a_closed_database_reopens_while_a_forked_child_has_not_exec_yet`]),
/// also when the test fails before it says so: dropping the write end is EOF for the child.
struct Release(Option<std::io::PipeWriter>);

impl Drop for Release {
    fn drop(&mut self) {
        if let Some(mut go) = self.0.take() {
            let _ = go.write_all(b"g");
        }
    }
}

/// The reported bug, made deterministic. `Command::spawn` forks: until the child calls `exec`,
/// it holds a copy of every descriptor of the parent, the engine's `LOCK` included. A lock tied
/// to the open file (`flock`, `File::try_lock`) stays held by that copy after the engine closes
/// it, and a reopen in that window failed with `Locked`. Here the child is held in that window
/// (it waits on a pipe before `exec`) while the engine is closed and reopened.
#[test]
fn a_closed_database_reopens_while_a_forked_child_has_not_exec_yet() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = open(dir.path(), "first open");
    let (mut ready_read, ready_write) = std::io::pipe().expect("pipe");
    let (go_read, go_write) = std::io::pipe().expect("pipe");
    let (ready_fd, go_fd, go_write_fd) = (
        ready_write.as_raw_fd(),
        go_read.as_raw_fd(),
        go_write.as_raw_fd(),
    );
    let release = Release(Some(go_write));
    let mut command = Command::new("true");
    // SAFETY: the closure runs in the forked child before `exec`, where only async-signal-safe
    // functions may be called: it calls only `close`, `write` and `read` on descriptors that
    // are open in the parent when it forks (the pipe ends are moved into the spawning thread,
    // which holds them until `spawn` returns), and allocates nothing.
    unsafe {
        command.pre_exec(move || {
            // The child's copy of the write end would keep its own read from ever seeing EOF.
            libc::close(go_write_fd);
            libc::write(ready_fd, b"r".as_ptr().cast(), 1);
            let mut byte = 0u8;
            libc::read(go_fd, (&raw mut byte).cast(), 1);
            Ok(())
        });
    }
    let spawner = std::thread::spawn(move || {
        let child = command.spawn();
        // Only now: if the fork failed, dropping the write end ends the wait below with EOF.
        drop((ready_write, go_read));
        child.and_then(|mut child| child.wait())
    });
    let mut byte = [0u8];
    if let Err(e) = ready_read.read_exact(&mut byte) {
        fail("the child signals it was forked", "a byte", e);
    }
    // The child now holds a copy of the engine's LOCK descriptor, and will until it execs.
    close(db, "close while a forked child has not exec'd yet");
    let reopened = MiniLsm::open(dir.path(), options());
    drop(release);
    let status = spawner.join().expect("the spawning thread");
    match reopened {
        Ok(db) => close(db, "close the reopened engine"),
        Err(e) => fail(
            "reopen after close while a forked child has not exec'd yet",
            "Ok(engine)",
            e,
        ),
    }
    match status {
        Ok(status) if status.success() => {}
        other => fail("the child `true`", "exit status 0", other),
    }
}

/// The symptom as it was reported: one thread opens and closes an engine over and over while
/// another spawns processes. Every reopen must succeed. (Timing decides how often the old lock
/// failed here; the test above hits its window every time.)
#[test]
fn reopens_succeed_while_another_thread_spawns_processes() {
    /// At least this many cycles, and as many more as it takes for the other thread to spawn
    /// [`SPAWNS`] processes meanwhile.
    const CYCLES: usize = 300;
    const SPAWNS: usize = 50;
    let dir = tempfile::tempdir().expect("temp dir");
    let stop = AtomicBool::new(false);
    let spawned = AtomicUsize::new(0);
    let (cycles, failures): (usize, Vec<(usize, Error)>) = std::thread::scope(|s| {
        s.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                let status = Command::new("true").status().expect("spawn `true`");
                assert!(status.success(), "`true` exited with {status}");
                spawned.fetch_add(1, Ordering::Relaxed);
            }
        });
        let mut failures = Vec::new();
        let mut cycle = 0;
        while cycle < CYCLES || spawned.load(Ordering::Relaxed) < SPAWNS {
            match MiniLsm::open(dir.path(), options()) {
                Ok(db) => close(db, "close in the open/close loop"),
                Err(e) => failures.push((cycle, e)),
            }
            cycle += 1;
        }
        stop.store(true, Ordering::Relaxed);
        (cycle, failures)
    });
    if !failures.is_empty() {
        fail(
            &format!(
                "{cycles} open/close cycles while another thread spawned {} processes",
                spawned.load(Ordering::Relaxed)
            ),
            "every open succeeds",
            format!("{} failed, first: {:?}", failures.len(), failures[0]),
        );
    }
}
