//! `cargo x check --repeat N`: runs the graded suite on the reference N times through the
//! grader's runner (each test in its own process, with the timeout) and fails on any test that
//! does not pass every time: on the reference, a test that fails once is a flaky test.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use crate::grade::Subject;
use crate::runner::{self, Built, Place, RunSettings};
use crate::workspace;

/// The timeout of each test in a repeated run.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Runs every graded test of the reference in the workspace at `root` `times` times.
pub fn repeat_reference(root: &Path, times: u32) -> Result<()> {
    let days = workspace::graded_days(root);
    let place = Place {
        root: root.to_path_buf(),
        target_dir: None,
    };
    let executables = match runner::build(&place, Subject::Reference.feature_args(), &days)? {
        Built::Executables(executables) => executables,
        Built::DoesNotCompile { error } => bail!("the graded tests do not compile:\n{error}"),
    };
    let dir = place.tests_dir();
    let cases = runner::list_cases(&executables, &dir)?;
    let settings = RunSettings::new(TIMEOUT);
    // For each test that did not pass: how many runs it failed, and its first reason.
    let mut flaky: BTreeMap<(u8, String), (u32, String)> = BTreeMap::new();
    for run in 1..=times {
        let started = Instant::now();
        let outcomes = runner::run_all(&cases, &dir, settings);
        let mut failed = 0;
        for outcome in outcomes
            .into_iter()
            .filter(|outcome| !outcome.status.passed())
        {
            failed += 1;
            let entry = flaky
                .entry((outcome.case.day, outcome.case.name))
                .or_insert_with(|| (0, outcome.status.reason()));
            entry.0 += 1;
        }
        println!(
            "run {run}/{times}: {}/{} passed in {:.1} s",
            cases.len() - failed,
            cases.len(),
            started.elapsed().as_secs_f64()
        );
    }
    if !flaky.is_empty() {
        let lines: Vec<String> = flaky
            .iter()
            .map(|((day, name), (count, reason))| {
                format!(
                    "  day {day}: {name} failed {count} of {times} runs: {}",
                    reason.lines().next().unwrap_or("")
                )
            })
            .collect();
        bail!("flaky graded tests on the reference:\n{}", lines.join("\n"));
    }
    println!(
        "{} graded tests passed on the reference in each of {times} runs",
        cases.len()
    );
    Ok(())
}
