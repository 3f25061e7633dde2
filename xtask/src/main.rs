//! `cargo x …`: the project's maintenance tasks.
//!
//! - `cargo x starter [--check]`: generate `mini-lsm-starter/` from the reference, or verify it.
//! - `cargo x grade [--reference] [--day N]`: run the graded tests and print a score per day.
//! - `cargo x check`: everything CI runs.

mod check;
mod diff;
mod grade;
mod libtest;
mod markers;
mod starter;
mod workspace;

use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "cargo x",
    about = "mini-lsm maintenance tasks: grade, starter, check"
)]
struct Cli {
    /// The task to run.
    #[command(subcommand)]
    command: Task,
}

/// The tasks.
#[derive(Debug, Subcommand)]
enum Task {
    /// Generate mini-lsm-starter/ from mini-lsm-reference/ (every solution region becomes a todo!()).
    Starter {
        /// Write nothing; fail with a diff if mini-lsm-starter/ is not what the generator writes.
        #[arg(long)]
        check: bool,
    },
    /// Run the graded tests against the starter and print passed/total per day.
    Grade {
        /// Grade mini-lsm-reference instead of mini-lsm-starter.
        #[arg(long)]
        reference: bool,
        /// Grade only this day (default: every day that has a test file).
        #[arg(long, value_parser = clap::value_parser!(u8).range(1..=7))]
        day: Option<u8>,
    },
    /// Run everything CI runs: fmt, clippy, tests, starter drift, pristine starter, book.
    Check,
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the task; `Ok(false)` when it ran but did not succeed (a day that does not pass).
fn run(cli: Cli) -> Result<bool> {
    let root = workspace::root();
    match cli.command {
        Task::Starter { check: false } => starter::generate(&root)?,
        Task::Starter { check: true } => {
            starter::check(&root)?;
        }
        Task::Grade { reference, day } => {
            let subject = if reference {
                grade::Subject::Reference
            } else {
                grade::Subject::Starter
            };
            return grade::grade(&root, subject, day);
        }
        Task::Check => check::check(&root)?,
    }
    Ok(true)
}
