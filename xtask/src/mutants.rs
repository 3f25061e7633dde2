//! `cargo x mutants`: mutation testing of the reference with the graded tests as the test suite.
//!
//! cargo-mutants makes small changes ("mutants") to the reference's code, one at a time, and runs
//! the graded tests on each: a mutant the tests do not notice (missed) is behaviour no graded
//! test pins down. Some mutants cannot be noticed because they do not change behaviour (an
//! equivalent mutant); `xtask/mutants-equivalent.txt` lists them, one per line as cargo-mutants
//! names them, then ` # ` and why. The score is the share of the other mutants the tests detect:
//! caught, or timed out (a hang, which the grader's per-test timeout fails). Mutants that do not
//! compile (unviable) are left out. Too slow for CI: run it by hand (see the README).

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::workspace::{self, REFERENCE_DIR, TESTS_PACKAGE};

/// The reference's package name, the one mutated.
const REFERENCE_PACKAGE: &str = "mini-lsm-reference";

/// The modules mutated when none is named: days 1–3 and 5 (the bloom filter of day 7 is under
/// `table/`) and the WAL, manifest and record framing of day 6.
pub const DEFAULT_MODULES: [&str; 8] = [
    "block",
    "table",
    "iterators",
    "mem_table",
    "compact",
    "wal",
    "manifest",
    "record_file",
];

/// The share of non-equivalent mutants the graded tests must detect.
const REQUIRED_SCORE: f64 = 0.9;

/// The file of equivalent mutants, relative to the workspace root.
const EQUIVALENT_FILE: &str = "xtask/mutants-equivalent.txt";

/// Where cargo-mutants writes `mutants.out/`, relative to the workspace root.
const OUTPUT_DIR: &str = "target";

/// What `cargo x mutants` was asked to do.
#[derive(Debug, clap::Args)]
pub struct MutantsArgs {
    /// Mutate only this module of the reference (`src/NAME.rs` and `src/NAME/`); repeat for
    /// several. Default: block, table, iterators, mem_table, compact, wal, manifest, record_file.
    #[arg(long = "module", value_name = "NAME")]
    modules: Vec<String>,
    /// Mutants built and tested at once. Each job builds and runs the whole graded suite, which
    /// uses both cores of a small machine on its own, so 2 (one building while one tests) is
    /// enough there.
    #[arg(long, default_value_t = 2)]
    jobs: u32,
    /// Seconds one mutant's test run may take before it counts as a timeout (a hang). The
    /// graded suite takes about 6 s on the reference in this profile; a hung mutant
    /// costs this much.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    timeout: u64,
    /// List the mutants and their number without building or testing anything.
    #[arg(long)]
    list: bool,
    /// More arguments for cargo mutants, after `--`: say `-- --re seek_to_key` for the mutants
    /// whose name matches, `-- --iterate` to skip those caught last time, or `-- --shard 1/4`.
    #[arg(last = true)]
    extra: Vec<String>,
}

/// Runs cargo-mutants (installing it if needed) and prints the score. `Ok(false)` when the
/// score is below [`REQUIRED_SCORE`].
pub fn run(root: &Path, args: &MutantsArgs) -> Result<bool> {
    install_if_missing(root)?;
    let modules: Vec<&str> = if args.modules.is_empty() {
        DEFAULT_MODULES.to_vec()
    } else {
        args.modules.iter().map(String::as_str).collect()
    };
    let mut command = workspace::cargo(root, &["mutants", "--package", REFERENCE_PACKAGE]);
    for module in &modules {
        if !root
            .join(REFERENCE_DIR)
            .join("src")
            .join(format!("{module}.rs"))
            .exists()
        {
            bail!("no module `{module}` in {REFERENCE_DIR}/src/");
        }
        command.args(["--file", &format!("{REFERENCE_DIR}/src/{module}.rs")]);
        command.args(["--file", &format!("{REFERENCE_DIR}/src/{module}/**")]);
    }
    command.args(&args.extra);
    if args.list {
        command.arg("--list");
        let output = workspace::capture(command)?;
        let list = String::from_utf8_lossy(&output.stdout);
        print!("{list}");
        println!("{} mutants in {}", list.lines().count(), modules.join(", "));
        return Ok(output.status.success());
    }
    command
        .args(["--test-package", TESTS_PACKAGE])
        // debug = 0: no debug info to write and link, for each of hundreds of builds.
        .args(["--profile", "mutants"])
        .args(["--jobs", &args.jobs.to_string()])
        .args(["--timeout", &args.timeout.to_string()])
        .args(["--output", OUTPUT_DIR]);
    println!("==> {}", workspace::display(&command));
    // cargo-mutants exits non-zero when any mutant survives: the outcome files say how it went.
    let status = command.status().context("could not start cargo mutants")?;
    let outcomes = root.join(OUTPUT_DIR).join("mutants.out");
    if !outcomes.join("caught.txt").exists() {
        bail!("cargo mutants wrote no outcomes ({status}); see its output above");
    }
    let equivalent = read_equivalent(&root.join(EQUIVALENT_FILE))?;
    let report = Report::read(&outcomes, &equivalent)?;
    if report.tested() == 0 {
        bail!("cargo mutants tested no mutant ({status}); see its output above");
    }
    report.print(&equivalent);
    Ok(report.score() >= REQUIRED_SCORE)
}

/// Installs cargo-mutants with `cargo install --locked` unless `cargo mutants` already runs.
fn install_if_missing(root: &Path) -> Result<()> {
    let installed = workspace::capture(workspace::cargo(root, &["mutants", "--version"]))
        .is_ok_and(|output| output.status.success());
    if !installed {
        println!("==> cargo-mutants is missing: cargo install --locked cargo-mutants");
        workspace::run(workspace::cargo(
            root,
            &["install", "--locked", "cargo-mutants"],
        ))?;
    }
    Ok(())
}

/// The mutants named in the equivalent list: each line is a mutant's name, ` # `, and why it is
/// equivalent. Blank lines and lines starting with `#` are comments.
fn read_equivalent(path: &Path) -> Result<BTreeSet<String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("could not read {}", path.display()))?;
    parse_equivalent(&text).with_context(|| format!("in {}", path.display()))
}

fn parse_equivalent(text: &str) -> Result<BTreeSet<String>> {
    let mut names = BTreeSet::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((name, why)) = line.split_once(" # ") else {
            bail!(
                "line {}: expected `<mutant> # <why it is equivalent>`, got `{line}`",
                number + 1
            );
        };
        if why.trim().is_empty() {
            bail!("line {}: say why `{name}` is equivalent", number + 1);
        }
        names.insert(name.trim().to_string());
    }
    Ok(names)
}

/// The outcome of a run: the mutants in each of cargo-mutants' outcome files.
#[derive(Debug, Default)]
struct Report {
    caught: Vec<String>,
    missed: Vec<String>,
    timeout: Vec<String>,
    unviable: Vec<String>,
    /// The missed mutants that are in the equivalent list.
    equivalent: Vec<String>,
    /// The missed mutants that are not: the tests' gaps.
    surviving: Vec<String>,
}

impl Report {
    fn read(outcomes: &Path, equivalent: &BTreeSet<String>) -> Result<Report> {
        let read = |name: &str| -> Result<Vec<String>> {
            let path = outcomes.join(name);
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("could not read {}", path.display()))?;
            Ok(text.lines().map(str::to_string).collect())
        };
        Ok(Report::classify(
            read("caught.txt")?,
            read("missed.txt")?,
            read("timeout.txt")?,
            read("unviable.txt")?,
            equivalent,
        ))
    }

    fn classify(
        caught: Vec<String>,
        missed: Vec<String>,
        timeout: Vec<String>,
        unviable: Vec<String>,
        equivalent: &BTreeSet<String>,
    ) -> Report {
        let (equivalent, surviving) = missed
            .iter()
            .cloned()
            .partition(|name| equivalent.contains(name));
        Report {
            caught,
            missed,
            timeout,
            unviable,
            equivalent,
            surviving,
        }
    }

    /// How many mutants were built (or tried to be).
    fn tested(&self) -> usize {
        self.caught.len() + self.missed.len() + self.timeout.len() + self.unviable.len()
    }

    /// Detected (caught or timed out) over detected plus surviving; 1 when there is nothing to
    /// detect.
    fn score(&self) -> f64 {
        let detected = (self.caught.len() + self.timeout.len()) as f64;
        let total = detected + self.surviving.len() as f64;
        if total == 0.0 { 1.0 } else { detected / total }
    }

    fn print(&self, equivalent: &BTreeSet<String>) {
        println!(
            "caught {}, missed {} ({} equivalent), timeout {}, unviable {}",
            self.caught.len(),
            self.missed.len(),
            self.equivalent.len(),
            self.timeout.len(),
            self.unviable.len()
        );
        println!(
            "score {:.1}% (caught + timeout over all but equivalent and unviable; goal {:.0}%)",
            self.score() * 100.0,
            REQUIRED_SCORE * 100.0
        );
        if !self.surviving.is_empty() {
            println!(
                "surviving mutants (add a graded test that kills each, or list it in \
                 {EQUIVALENT_FILE} with the reason):"
            );
            for name in &self.surviving {
                println!("  {name}");
            }
        }
        // An entry that no longer survives was killed by a new test, or its line moved.
        let caught: BTreeSet<&String> = self.caught.iter().chain(&self.timeout).collect();
        for name in equivalent.iter().filter(|name| caught.contains(name)) {
            println!("note: {name} is listed as equivalent but was caught: remove it");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|name| name.to_string()).collect()
    }

    #[test]
    fn equivalent_lines_need_a_reason() {
        let text = "# comment\n\nsrc/a.rs:1:2: replace + with - # both give 0 here\n";
        let parsed = parse_equivalent(text).expect("valid");
        assert_eq!(
            parsed.into_iter().collect::<Vec<_>>(),
            ["src/a.rs:1:2: replace + with -"]
        );
        assert!(parse_equivalent("src/a.rs:1:2: replace + with -\n").is_err());
        assert!(parse_equivalent("src/a.rs:1:2: replace + with - # \n").is_err());
    }

    #[test]
    fn the_score_leaves_out_equivalent_and_unviable_mutants() {
        let equivalent = BTreeSet::from(["m3".to_string()]);
        let report = Report::classify(
            names(&["c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8"]),
            names(&["m1", "m2", "m3"]),
            names(&["t1"]),
            names(&["u1", "u2"]),
            &equivalent,
        );
        assert_eq!(report.surviving, names(&["m1", "m2"]));
        assert_eq!(report.equivalent, names(&["m3"]));
        // 9 detected (8 caught, 1 timeout) of 11 (m3 and the unviable left out).
        assert!((report.score() - 9.0 / 11.0).abs() < 1e-9);
        assert_eq!(Report::default().score(), 1.0);
    }
}
