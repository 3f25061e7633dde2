//! A temporary workspace for grading a submission: this repository's workspace files (manifest,
//! lock file, `.cargo/`, every member but the starter) with the submission in place of
//! `mini-lsm-starter/`. The tests always come from this repository, never from the submission.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use tempfile::TempDir;

use crate::workspace::{STARTER_DIR, WORKSPACE_FILES_BUT_STARTER};

/// Directories never copied: build output and version control.
const SKIPPED_DIRS: [&str; 2] = ["target", ".git"];

/// A temporary workspace, removed when dropped.
#[derive(Debug)]
pub struct Sandbox {
    /// The workspace root.
    dir: TempDir,
}

impl Sandbox {
    /// A workspace made of the repository at `repo` and the submission crate at `submission`.
    pub fn new(repo: &Path, submission: &Path) -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("mini-lsm-grade-")
            .tempdir()
            .context("could not create a temporary workspace")?;
        for entry in WORKSPACE_FILES_BUT_STARTER {
            let from = repo.join(entry);
            if from.exists() {
                copy_tree(&from, &dir.path().join(entry))?;
            }
        }
        copy_tree(submission, &dir.path().join(STARTER_DIR))?;
        Ok(Sandbox { dir })
    }

    /// The workspace root.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }
}

/// The submitted crate in `path`: `path` itself when it holds `Cargo.toml` and `src/lib.rs`,
/// else its `mini-lsm-starter/` sub-directory when that does.
pub fn find_crate(path: &Path) -> Result<PathBuf> {
    let is_crate =
        |dir: &Path| dir.join("Cargo.toml").is_file() && dir.join("src/lib.rs").is_file();
    if is_crate(path) {
        return Ok(path.to_path_buf());
    }
    let nested = path.join(STARTER_DIR);
    if is_crate(&nested) {
        return Ok(nested);
    }
    bail!(
        "{} is not a copy of {STARTER_DIR}: neither it nor its {STARTER_DIR}/ holds Cargo.toml and src/lib.rs",
        path.display()
    )
}

/// Locks `dir` (created if needed) for this process until the returned file is dropped; waits,
/// saying so, while another process holds it.
pub fn lock_dir(dir: &Path) -> Result<fs::File> {
    fs::create_dir_all(dir).with_context(|| format!("could not create {}", dir.display()))?;
    let path = dir.join(".grade-lock");
    let file =
        fs::File::create(&path).with_context(|| format!("could not create {}", path.display()))?;
    if file.try_lock().is_err() {
        println!(
            "waiting for another grading to finish ({} is locked) …",
            path.display()
        );
        file.lock()
            .with_context(|| format!("could not lock {}", path.display()))?;
    }
    Ok(file)
}

/// Copies the file or directory `from` to `to`, skipping [`SKIPPED_DIRS`] and symbolic links.
fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    let kind = fs::symlink_metadata(from)
        .with_context(|| format!("could not read {}", from.display()))?
        .file_type();
    if kind.is_file() {
        fs::copy(from, to)
            .with_context(|| format!("could not copy {} to {}", from.display(), to.display()))?;
    } else if kind.is_dir() {
        fs::create_dir_all(to).with_context(|| format!("could not create {}", to.display()))?;
        for entry in
            fs::read_dir(from).with_context(|| format!("could not list {}", from.display()))?
        {
            let entry = entry?;
            if SKIPPED_DIRS
                .iter()
                .any(|skipped| entry.file_name() == *skipped)
            {
                continue;
            }
            copy_tree(&entry.path(), &to.join(entry.file_name()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workspace::TESTS_PACKAGE;

    #[test]
    fn a_sandbox_holds_the_repository_and_the_submission() {
        let repo = tempfile::tempdir().unwrap();
        fs::write(repo.path().join("Cargo.toml"), "[workspace]").unwrap();
        fs::create_dir_all(repo.path().join(TESTS_PACKAGE).join("tests")).unwrap();
        fs::write(
            repo.path().join(TESTS_PACKAGE).join("tests/day1.rs"),
            "ours",
        )
        .unwrap();
        let submission = tempfile::tempdir().unwrap();
        fs::create_dir_all(submission.path().join("src")).unwrap();
        fs::create_dir_all(submission.path().join("target/debug")).unwrap();
        fs::write(submission.path().join("Cargo.toml"), "[package]").unwrap();
        fs::write(submission.path().join("src/lib.rs"), "theirs").unwrap();

        assert_eq!(find_crate(submission.path()).unwrap(), submission.path());
        let sandbox = Sandbox::new(repo.path(), submission.path()).unwrap();
        let root = sandbox.root().to_path_buf();
        let read = |path: &str| fs::read_to_string(root.join(path)).unwrap();
        assert_eq!(read("tests-day1-to-day7/tests/day1.rs"), "ours");
        assert_eq!(read("mini-lsm-starter/src/lib.rs"), "theirs");
        assert!(!root.join("mini-lsm-starter/target").exists());
        drop(sandbox);
        assert!(!root.exists(), "the sandbox is removed when dropped");
        assert!(find_crate(repo.path()).is_err());
    }
}
