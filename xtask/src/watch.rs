//! `cargo x grade --watch`: polls the starter's sources every 500 ms and, on each change,
//! re-grades the first day that does not pass yet, printing only that day's line and its next
//! failing test. Days already seen passing are not re-graded (`cargo x grade` grades them all).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, SystemTime};

use anyhow::Result;

use crate::grade::{self, Subject};
use crate::report;
use crate::runner::{Place, RunSettings};
use crate::workspace::STARTER_DIR;

/// How often the sources are polled.
const POLL: Duration = Duration::from_millis(500);

/// The modification time of every file under the watched paths.
type Snapshot = BTreeMap<PathBuf, SystemTime>;

/// Watches the starter in the workspace at `root`, grading `days` in order; runs until killed.
pub fn watch(root: &Path, days: &[u8], settings: RunSettings) -> Result<()> {
    let crate_dir = root.join(STARTER_DIR);
    let watched = [crate_dir.join("src"), crate_dir.join("Cargo.toml")];
    let place = Place {
        root: root.to_path_buf(),
        target_dir: None,
    };
    let mut passing = BTreeSet::new();
    let mut seen = snapshot(&watched);
    loop {
        grade_next(&place, days, settings, &mut passing)?;
        println!("watching {}/src for changes (Ctrl-C stops) …", STARTER_DIR);
        loop {
            thread::sleep(POLL);
            let now = snapshot(&watched);
            if now != seen {
                seen = now;
                break;
            }
        }
        println!("\n── change detected");
    }
}

/// Grades the days of `days` not in `passing`, in order, until one does not pass; prints each
/// graded day's line and, for the one that does not pass, its next failing test.
fn grade_next(
    place: &Place,
    days: &[u8],
    settings: RunSettings,
    passing: &mut BTreeSet<u8>,
) -> Result<()> {
    for &day in days {
        if passing.contains(&day) {
            continue;
        }
        let grade = grade::evaluate(place, Subject::Starter, STARTER_DIR, &[day], settings)?;
        let day_grade = &grade.days[0];
        println!("{}", report::day_line(day_grade));
        if let Some(error) = &grade.compile_error {
            println!("does not compile; the compiler's first error:");
            for line in error.lines() {
                println!("    {line}");
            }
            return Ok(());
        }
        if day_grade.fully_passed() {
            passing.insert(day);
            continue;
        }
        let failures: Vec<_> = day_grade
            .tests
            .iter()
            .flatten()
            .filter(|test| !test.status.passed())
            .collect();
        if let Some((earlier, stubs)) = report::blocked_by(day, &failures) {
            passing.retain(|passed| *passed < earlier);
            println!("     blocked by day {earlier}: {}", stubs.join(", "));
        } else if let Some(next) = failures.first() {
            println!("     next: {}", next.case.name);
            for line in next.status.reason().lines() {
                println!("         {line}");
            }
        }
        return Ok(());
    }
    println!("every graded day passes");
    Ok(())
}

/// The modification time of every file under `paths` (files, or directories walked).
fn snapshot(paths: &[PathBuf]) -> Snapshot {
    let mut files = Snapshot::new();
    let mut pending: Vec<PathBuf> = paths.to_vec();
    while let Some(path) = pending.pop() {
        let Ok(metadata) = fs::metadata(&path) else {
            continue;
        };
        if metadata.is_dir() {
            if let Ok(entries) = fs::read_dir(&path) {
                pending.extend(entries.filter_map(|entry| entry.ok().map(|entry| entry.path())));
            }
        } else if let Ok(modified) = metadata.modified() {
            files.insert(path, modified);
        }
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_sees_new_and_changed_files() {
        let dir = tempfile::tempdir().unwrap();
        let paths = [dir.path().to_path_buf()];
        fs::write(dir.path().join("a.rs"), "a").unwrap();
        let before = snapshot(&paths);
        assert_eq!(before.len(), 1);
        fs::create_dir(dir.path().join("sub")).unwrap();
        fs::write(dir.path().join("sub/b.rs"), "b").unwrap();
        assert_ne!(snapshot(&paths), before);
    }
}
