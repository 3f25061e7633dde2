//! `cargo x …`: the project's maintenance tasks.
//!
//! - `cargo x starter [--check]`: generate `mini-lsm-starter/` from the reference, or verify it.
//! - `cargo x grade [--reference | --submission PATH | --roster DIR | --watch] [--day N | --days N-M]
//!   [--timeout SECS] [--format json] [--output PATH] [--stress]`: run each graded test in its own
//!   process and print passed/total and points per day (`--stress`: also the stress checks, which
//!   cap a day at 75% when they fail).
//! - `cargo x check [--repeat N] [--long]`: everything CI runs (`--repeat`: also N runs of the
//!   graded suite on the reference, failing on any flaky test; `--long`: also the long
//!   `#[ignore]`d variants of the stress checks on the reference, the full corruption sweep and
//!   the long model-based runs among them, and a 5-trial crash loop).
//! - `cargo x bugs [--bug NAME] [--list] [--scores] [--first-message]`: check that the graded
//!   tests kill every planted bug (`--scores`: and that each costs at least 1 point of `cargo x
//!   grade`'s 100; `--first-message`: print the first failure the report shows for each).
//! - `cargo x crash [--trials N] [--seed S]`: kill the reference at random moments and at named
//!   crash windows, reopen, and check that no acknowledged write was lost.
//! - `cargo x mutants [--module NAME] [--list]`: mutation testing of the reference with the graded
//!   tests (cargo-mutants); prints the score and the surviving mutants.
//! - `cargo x book [--update]`: check the book (the `cargo x check` steps for it), or rewrite its
//!   numbers and sample outputs that come from the tools: test counts, the grader's table, the
//!   compaction simulator's table.
//! - `cargo x cli [--reference] [-- ARGS]` and `cargo x sim [--reference] [-- ARGS]`: the shell
//!   and the compaction simulator of `mini-lsm-tools`, on the starter (or the reference).
//! - `cargo x bench [--rocksdb] [ARGS]`: `cargo run --release -p mini-lsm-bench -- ARGS`
//!   (`--rocksdb`: with the cargo feature `rocksdb`, and RocksDB among the engines).

mod book;
mod book_gen;
mod bugs;
mod check;
mod course;
mod crash;
mod diff;
mod grade;
mod gradescope;
mod libtest;
mod markers;
mod mutants;
mod points;
mod regions;
mod repeat;
mod report;
mod roster;
mod runner;
mod sandbox;
mod scenarios;
mod starter;
mod stress;
mod watch;
mod workspace;

use std::process::ExitCode;

use anyhow::{Context, Result};
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
        #[arg(long, conflicts_with_all = ["from_day", "out", "force"])]
        check: bool,
        /// Start at day N: days before N are solved (the reference's code), days N to 7 are
        /// todo!() (a class that starts at day N, or a student redoing it).
        #[arg(long, value_name = "N", value_parser = crate::course::parse_day)]
        from_day: Option<u8>,
        /// Write the starter crate into DIR instead of mini-lsm-starter/ (grade it with
        /// `cargo x grade --submission DIR`).
        #[arg(long, value_name = "DIR", requires = "from_day")]
        out: Option<std::path::PathBuf>,
        /// Overwrite uncommitted changes in mini-lsm-starter/.
        #[arg(long, requires = "from_day")]
        force: bool,
    },
    /// Run the graded tests against the starter (or the reference, a submission, a roster) and
    /// print passed/total and points per day.
    Grade(grade::GradeArgs),
    /// Run everything CI runs: fmt, clippy, tests, starter drift, pristine starter, book.
    Check {
        /// Also run the graded suite on the reference N times; fail on any flaky test.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
        repeat: Option<u32>,
        /// Also run the long variants of the stress checks on the reference (`cargo test -p
        /// tests-day1-to-day7 --release --test 'stress_day*' -- --ignored`): the full corruption
        /// sweep and the long model-based runs among them; and a 5-trial `cargo x crash`.
        #[arg(long)]
        long: bool,
    },
    /// Plant each bug of xtask/bugs.toml in a copy of the reference; its day's graded tests must fail.
    Bugs {
        /// Run only this bug (repeat for several).
        #[arg(long = "bug", value_name = "NAME")]
        only: Vec<String>,
        /// Print the list of bugs without running them.
        #[arg(long)]
        list: bool,
        /// Seconds one bug's test run may take; a run stopped by it counts as a kill (a hang).
        #[arg(long, value_name = "SECONDS", default_value_t = 120)]
        timeout: u64,
        /// Grade each bug as `cargo x grade` does and print the points it costs (of 100); fail
        /// when a bug costs less than 1 point.
        #[arg(long)]
        scores: bool,
        /// Grade each bug as `cargo x grade` does and print the first failure its day's report
        /// shows (saved to target/bugs/first-messages.md, as `--scores` also does).
        #[arg(long)]
        first_message: bool,
    },
    /// Crash the reference engine again and again (SIGKILL at random moments, aborts at named
    /// crash windows, torn writes), reopen, and check no acknowledged write was lost.
    Crash(crash::CrashArgs),
    /// Mutation testing: mutate the reference (cargo-mutants), run the graded tests on each
    /// mutant, print the score; fails below 90% (xtask/mutants-equivalent.txt lists exclusions).
    Mutants(mutants::MutantsArgs),
    /// Check the book: its test counts, grader tables and simulator tables must be what the tools
    /// give now (they sit between `<!-- x:generated … -->` and `<!-- x:end -->`), then the
    /// citations, links and includes, and `mdbook build`. `--update` rewrites the tool outputs.
    Book {
        /// Rewrite every stale region (and the simulator's plot) instead of failing.
        #[arg(long)]
        update: bool,
    },
    /// Run `mini-lsm-cli`, the shell, on your engine (the starter); `--reference` for the
    /// complete one. `cargo x cli -- --help` lists its ARGS.
    Cli {
        /// Run it on the complete reference engine instead of the starter.
        #[arg(long)]
        reference: bool,
        /// Arguments passed to mini-lsm-cli (e.g. `-- --day 4`).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Run `compaction-simulator` on your leveled controller (the starter); `--reference` for
    /// the complete one. `cargo x sim -- --help` lists its ARGS.
    Sim {
        /// Run it on the complete reference engine instead of the starter.
        #[arg(long)]
        reference: bool,
        /// Arguments passed to compaction-simulator (e.g. `-- --steps 200 --plot sim.svg`).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Run the benchmarks: `cargo run --release -p mini-lsm-bench -- ARGS`
    /// (see mini-lsm-bench/README.md; `cargo x bench -- --help` lists ARGS).
    Bench {
        /// Build with RocksDB too (cargo feature `rocksdb`: needs libclang, see
        /// mini-lsm-bench/README.md) and run it after the default engines unless ARGS name
        /// `--engines`.
        #[arg(long)]
        rocksdb: bool,
        /// Arguments passed to mini-lsm-bench.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
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

/// Runs binary `bin` of `mini-lsm-tools` on the starter (or the reference) with `args`, from the
/// caller's directory (so that a relative `--dir` or `--plot` is where they expect); `Ok(false)`
/// when it exits with a failure (the message is the tool's own).
fn run_tool(root: &std::path::Path, bin: &str, reference: bool, args: &[String]) -> Result<bool> {
    let manifest = root.join("Cargo.toml");
    let mut command =
        std::process::Command::new(std::env::var_os("CARGO").unwrap_or("cargo".into()));
    command
        .args(["run", "-q", "--manifest-path"])
        .arg(&manifest);
    command.args(["-p", workspace::TOOLS_DIR, "--bin", bin]);
    if !reference {
        command.args(["--no-default-features", "--features", "starter"]);
    }
    command.arg("--").args(args);
    let status = command
        .status()
        .with_context(|| format!("could not start cargo to run {bin}"))?;
    Ok(status.success())
}

/// Runs the task; `Ok(false)` when it ran but did not succeed (a day that does not pass).
fn run(cli: Cli) -> Result<bool> {
    let root = workspace::root();
    match cli.command {
        Task::Starter { check: true, .. } => {
            starter::check(&root)?;
        }
        Task::Starter {
            from_day: Some(day),
            out,
            force,
            ..
        } => starter::generate_from_day(&root, day, out.as_deref(), force)?,
        Task::Starter { .. } => starter::generate(&root)?,
        Task::Grade(args) => return grade::run(&root, args),
        Task::Check { repeat, long } => check::check(&root, repeat, long)?,
        Task::Bugs {
            only,
            list,
            timeout,
            scores,
            first_message,
        } => {
            let options = bugs::Options {
                only,
                list,
                timeout: std::time::Duration::from_secs(timeout),
                scores,
                first_message,
            };
            return bugs::bugs(&root, &options);
        }
        Task::Crash(args) => return crash::crash(&root, &args),
        Task::Mutants(args) => return mutants::run(&root, &args),
        Task::Book { update: true } => book_gen::book(&root, true)?,
        Task::Book { update: false } => {
            book_gen::book(&root, false)?;
            book::check_book(&root)?;
        }
        Task::Cli { reference, args } => return run_tool(&root, "mini-lsm-cli", reference, &args),
        Task::Sim { reference, args } => {
            return run_tool(&root, "compaction-simulator", reference, &args);
        }
        Task::Bench { rocksdb, args } => {
            let mut cargo_args = vec!["run", "--release", "-p", "mini-lsm-bench"];
            if rocksdb {
                cargo_args.extend(["--features", "rocksdb"]);
            }
            cargo_args.push("--");
            let mut command = workspace::cargo(&root, &cargo_args);
            command.args(&args);
            let names_engines = args.iter().any(|arg| arg.starts_with("--engines"));
            if rocksdb && !names_engines {
                command.args(["--engines", "mini-lsm,fjall,redb,rocksdb"]);
            }
            workspace::run(command)?;
        }
    }
    Ok(true)
}
