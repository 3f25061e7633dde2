//! `cargo x book [--update]`: the numbers and sample outputs the book shows from the project's
//! tools come from those tools, so that the book cannot drift from the code.
//!
//! Each such number or output sits in a marked region of a chapter (see [`crate::regions`]):
//! `<!-- x:generated WHAT -->` … `<!-- x:end -->`. `cargo x book --update` rewrites every
//! region from its source; `cargo x book` (and `cargo x check`) fails with a diff when a region
//! is not what its source gives now. The sources (WHAT):
//!
//! - `tests N`: the number of graded tests of day N, listed from the `dayN` test target built
//!   for the starter, as `cargo x grade` builds and lists it ([`runner::list_cases`]);
//! - `passed N [K]`: `` `K/T` `` in a code span, T the number of tests of day N (K = T when
//!   omitted): how the grader's table shows K passed tests of T;
//! - `cases FUNCTION`: the number of rstest cases of the graded test function FUNCTION (the
//!   tests listed as `FUNCTION::case_…`, or 1 for a plain test);
//! - `grade N`: the table `cargo x grade --day N` prints when every test of day N passes,
//!   rendered by the grader's report code ([`report::table`]) from day N's real test names and
//!   points, so a change of the grader's format reaches the book;
//! - `grade-line N`: that table's line of day N alone ([`report::day_line`]);
//! - `simulator KEY=VALUE…`: the command `compaction-simulator --KEY VALUE…` in a shell block,
//!   then the first [`SIMULATOR_HEAD_ROWS`] rows and the last row of the table it prints. The
//!   simulator is run (it is deterministic); with `plot=PATH`, the SVG it draws must be the
//!   committed file PATH (`--update` rewrites that file too);
//! - `simulator-write-amp KEY=VALUE…`: the write amplification of that run's last row;
//! - `simulator compare KEY=VALUE…`: with the bare word `compare` (the simulator's `--compare`
//!   flag), the command and the simulator's whole output (both controllers' last rows and their
//!   amplification table); `plot=PATH` is checked as above;
//! - `simulator-amp CONTROLLER COLUMN KEY=VALUE…`: one cell of the amplification table that
//!   `--compare` prints for that run: CONTROLLER `leveled` or `tiered`, COLUMN one of
//!   [`COMPARE_COLUMNS`];
//! - `starter-simulator KEY=VALUE…`: in a code span, the line the *starter's* simulator ends
//!   with, which on the pristine starter is the stub it reached (`not implemented yet: …`).
//!
//! (Arguments are written `key=value` because an HTML comment may not contain `--`.)
//!
//! Measurements cannot be regenerated: the benchmark's numbers vary from run to run and machine
//! to machine. They sit in `<!-- x:measured DATE `COMMAND`… -->` regions instead, and the check
//! makes sure that every table of a page in [`MEASURED_PAGES`] is in one, that the region's first
//! line is a caption naming its date and commands (`--update` writes it), and that each command
//! is a `cargo x bench` command shown in a code block of the same page, so a reader can repeat it.
//! The repository keeps no results file, so the numbers themselves are not compared with one.
//!
//! Finally, a line that looks like a line of the grader's table (a day's title followed by
//! `passed/total`) outside a generated region is reported: it would be a hand-written copy.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::grade::{self, DAY_TITLES, DayGrade, Grade, Subject};
use crate::points::Points;
use crate::regions::{self, Region};
use crate::runner::{self, Built, Place, Status, TestCase, TestOutcome};
use crate::workspace::{self, STARTER_DIR, TOOLS_DIR};
use crate::{book, diff, report};

/// Pages whose tables are measurements; each table must be inside a `measured` region.
pub const MEASURED_PAGES: [&str; 1] = ["benchmarks.md"];

/// How many rows of a simulator table the book shows before `...` and the last row.
pub const SIMULATOR_HEAD_ROWS: usize = 5;

/// The binary behind `simulator` regions.
const SIMULATOR_BIN: &str = "compaction-simulator";

/// The simulator's flags that take no value, written as bare words in a region (`compare`).
const SIMULATOR_FLAGS: [&str; 1] = ["compare"];

/// The columns of the amplification table `--compare` prints, after the controller's name, as
/// `simulator-amp` names them.
pub const COMPARE_COLUMNS: [&str; 5] = [
    "write-amp",
    "space-amp",
    "max-space",
    "read-amp",
    "max-read",
];

/// What fixes a stale region.
const UPDATE_COMMAND: &str = "cargo x book --update";

/// Checks every region of the book (`update` false) or rewrites the stale ones (`update` true).
pub fn book(root: &Path, update: bool) -> Result<()> {
    let src = root.join("book").join("src");
    let mut sources = Sources::new(root);
    let mut stale = Vec::new();
    let mut problems = Vec::new();
    let mut regions_seen = 0;
    for path in book::files_with_extension(&src, "md")? {
        let name = book::relative_name(&src, &path);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("could not read {}", path.display()))?;
        let regions = match regions::parse(&text) {
            Ok(regions) => regions,
            Err(error) => {
                problems.push(format!("  book/src/{name}: {error}"));
                continue;
            }
        };
        regions_seen += regions.len();
        problems.extend(
            hand_written_grader_lines(&text, &regions)
                .into_iter()
                .map(|line| {
                    format!(
                        "  book/src/{name}:{line}: a line of the grader's table outside a \
                         generated region: use `<!-- x:generated grade N -->` (or `grade-line N`)"
                    )
                }),
        );
        if MEASURED_PAGES.contains(&name.as_str()) {
            problems.extend(unmeasured_tables(&text, &regions).into_iter().map(|line| {
                format!(
                    "  book/src/{name}:{line}: a table of measurements outside an \
                             `<!-- x:measured DATE `COMMAND` -->` region"
                )
            }));
        }
        let new = regions::rewrite(&text, &regions, |region| {
            let body = match region.kind.as_str() {
                "generated" => sources.generated(region, update),
                "measured" => measured_body(&text, region),
                other => Err(anyhow::anyhow!("unknown region kind `x:{other}`")),
            };
            match body {
                Ok(body) => Ok::<_, anyhow::Error>(body),
                Err(error) => {
                    problems.push(format!("  book/src/{name}:{}: {error:#}", region.line));
                    Ok(None)
                }
            }
        })?;
        if new != text {
            if update {
                std::fs::write(&path, &new)
                    .with_context(|| format!("could not write {}", path.display()))?;
                println!("rewrote book/src/{name}");
            } else {
                stale.push(diff::unified(
                    &text,
                    &new,
                    &format!("book/src/{name} (committed)"),
                    &format!("book/src/{name} (from the tools)"),
                    60,
                ));
            }
        }
    }
    problems.extend(sources.plot_problems);
    let mut report = Vec::new();
    if !stale.is_empty() {
        report.push(format!(
            "the book shows tool outputs that the tools no longer give; `{UPDATE_COMMAND}` \
             rewrites them:\n{}",
            stale.join("\n")
        ));
    }
    if !problems.is_empty() {
        report.push(format!(
            "the book's tool outputs have problems:\n{}",
            problems.join("\n")
        ));
    }
    if !report.is_empty() {
        bail!("{}", report.join("\n"));
    }
    if !update {
        println!("book: {regions_seen} generated and measured regions are up to date");
    }
    Ok(())
}

/// Where generated regions get their text, each source computed once.
struct Sources<'a> {
    root: &'a Path,
    /// Each day's graded test names, once listed.
    tests: Option<BTreeMap<u8, Vec<String>>>,
    /// The simulator's stdout by arguments.
    simulator: HashMap<Vec<String>, String>,
    /// Plots that differ from their committed file.
    plot_problems: Vec<String>,
}

impl<'a> Sources<'a> {
    fn new(root: &'a Path) -> Self {
        Sources {
            root,
            tests: None,
            simulator: HashMap::new(),
            plot_problems: Vec::new(),
        }
    }

    /// The body of a `generated` region.
    fn generated(&mut self, region: &Region, update: bool) -> Result<Option<String>> {
        let words: Vec<&str> = region.args.split_whitespace().collect();
        let (what, args) = words
            .split_first()
            .context("a generated region names no source")?;
        let body = match *what {
            "tests" => self.day_tests(day_arg(args)?)?.len().to_string(),
            "passed" => {
                let total = self.day_tests(day_arg(args)?)?.len();
                let passed = match args.get(1) {
                    Some(count) => count
                        .parse()
                        .with_context(|| format!("`{count}` is not a number of tests"))?,
                    None => total,
                };
                format!("`{passed}/{total}`")
            }
            "cases" => {
                let function = args.first().context("no test function given")?;
                let count = self.case_count(function)?;
                if count == 0 {
                    bail!("no graded test function is named `{function}`");
                }
                count.to_string()
            }
            "grade" => {
                let day = day_arg(args)?;
                let grade = passing_grade(day, self.day_tests(day)?)?;
                text_block(&report::table(&grade, false))
            }
            "grade-line" => {
                let day = day_arg(args)?;
                let grade = passing_grade(day, self.day_tests(day)?)?;
                text_block(&[report::day_line(&grade.days[0])])
            }
            "simulator" => self.simulator_excerpt(args, update)?,
            "simulator-write-amp" => {
                let output = self.simulator_output(&simulator_args(args)?)?;
                let rows = table_rows(&output);
                let last = rows.last().context("the simulator printed no row")?;
                last.split_whitespace()
                    .last()
                    .context("the simulator's last row is empty")?
                    .to_string()
            }
            "simulator-amp" => {
                let [controller, column, rest @ ..] = args else {
                    bail!("`simulator-amp` needs a controller, a column and the run's arguments");
                };
                let mut cli = vec!["--compare".to_string()];
                cli.extend(simulator_args(rest)?);
                compare_cell(&self.simulator_output(&cli)?, controller, column)?
            }
            "starter-simulator" => {
                format!("`{}`", self.starter_simulator_line(&simulator_args(args)?)?)
            }
            other => bail!(
                "unknown source `{other}` (tests, passed, cases, grade, grade-line, simulator, \
                 simulator-write-amp, simulator-amp, starter-simulator)"
            ),
        };
        Ok(Some(body))
    }

    /// The names of day `day`'s graded tests (listed once for every day from the test targets
    /// built for the starter, what students grade: `cargo x check` has just built them for its
    /// pristine-starter step, so listing them costs no build).
    fn day_tests(&mut self, day: u8) -> Result<&[String]> {
        if self.tests.is_none() {
            self.tests = Some(list_graded_tests(self.root)?);
        }
        let tests = self.tests.as_ref().expect("listed above");
        tests
            .get(&day)
            .map(Vec::as_slice)
            .with_context(|| format!("day {day} has no graded test target"))
    }

    /// How many graded tests, over every day, belong to the test function `function`.
    fn case_count(&mut self, function: &str) -> Result<usize> {
        let mut count = 0;
        for day in workspace::graded_days(self.root) {
            count += self
                .day_tests(day)?
                .iter()
                .filter(|name| crate::points::function_of(name) == function)
                .count();
        }
        Ok(count)
    }

    /// A `simulator` region: the command, and the head and last row of its table. With
    /// `plot=PATH`, the plot is compared with the committed file (rewritten when `update`).
    fn simulator_excerpt(&mut self, args: &[&str], update: bool) -> Result<String> {
        let cli = simulator_args(args)?;
        let plot_at = cli
            .iter()
            .position(|arg| arg == "--plot")
            .map(|index| cli[index + 1].clone());
        let mut run = cli.clone();
        let scratch = tempfile::tempdir().context("could not make a temporary directory")?;
        if let Some(committed) = &plot_at {
            let index = run.iter().position(|arg| arg == "--plot").expect("found");
            run[index + 1] = scratch.path().join("plot.svg").display().to_string();
            self.simulator_output(&run)?;
            let drawn = std::fs::read(scratch.path().join("plot.svg"))
                .context("the simulator drew no plot")?;
            let committed_path = self.root.join(committed);
            if update {
                if std::fs::read(&committed_path).ok().as_deref() != Some(drawn.as_slice()) {
                    std::fs::write(&committed_path, &drawn)
                        .with_context(|| format!("could not write {}", committed_path.display()))?;
                    println!("rewrote {committed}");
                }
            } else if std::fs::read(&committed_path).ok().as_deref() != Some(drawn.as_slice()) {
                self.plot_problems.push(format!(
                    "  {committed} is not the plot `{SIMULATOR_BIN} {}` draws now; \
                     `{UPDATE_COMMAND}` redraws it",
                    cli.join(" ")
                ));
            }
        }
        let output = self.simulator_output(&run)?;
        if cli.iter().any(|arg| arg == "--compare") {
            let shown: Vec<String> = output
                .trim_end()
                .lines()
                .filter(|line| !line.starts_with("plot written to"))
                .map(str::to_string)
                .collect();
            return Ok(format!(
                "```sh\n{}\n```\n\n{}",
                simulator_command(&cli),
                text_block(&shown)
            ));
        }
        let rows = table_rows(&output);
        let header = output
            .lines()
            .next()
            .context("the simulator printed nothing")?;
        let mut shown = vec![header.to_string()];
        shown.extend(
            rows.iter()
                .take(SIMULATOR_HEAD_ROWS)
                .map(|row| row.to_string()),
        );
        if rows.len() > SIMULATOR_HEAD_ROWS + 1 {
            shown.push("...".to_string());
        }
        if rows.len() > SIMULATOR_HEAD_ROWS {
            shown.push(rows[rows.len() - 1].to_string());
        }
        Ok(format!(
            "```sh\n{}\n```\n\n{}",
            simulator_command(&cli),
            text_block(&shown)
        ))
    }

    /// The last line the starter's simulator prints on stderr when run with `args`; it must fail
    /// (on the pristine starter, at a stub).
    fn starter_simulator_line(&self, args: &[String]) -> Result<String> {
        let mut cargo_args = vec![
            "run",
            "-q",
            "-p",
            TOOLS_DIR,
            "--no-default-features",
            "--features",
            "starter",
            "--bin",
            SIMULATOR_BIN,
            "--",
        ];
        cargo_args.extend(args.iter().map(String::as_str));
        let output = workspace::capture(workspace::cargo(self.root, &cargo_args))?;
        if output.status.success() {
            bail!(
                "the starter's `{SIMULATOR_BIN}` ran to the end, so the book cannot show where it \
                 stops: is {STARTER_DIR} pristine (`cargo x starter --check`)?"
            );
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr.lines().rev().find(|line| !line.trim().is_empty());
        Ok(last
            .context("the starter's simulator failed without a message")?
            .trim()
            .to_string())
    }

    /// What the simulator prints with `args`, run once per distinct `args`.
    fn simulator_output(&mut self, args: &[String]) -> Result<String> {
        if let Some(output) = self.simulator.get(args) {
            return Ok(output.clone());
        }
        let mut cargo_args = vec!["run", "-q", "-p", TOOLS_DIR, "--bin", SIMULATOR_BIN, "--"];
        cargo_args.extend(args.iter().map(String::as_str));
        let output = workspace::capture(workspace::cargo(self.root, &cargo_args))?;
        if !output.status.success() {
            bail!(
                "`{SIMULATOR_BIN} {}` failed ({}): {}",
                args.join(" "),
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        let stdout = String::from_utf8_lossy(&output.stdout).to_string();
        self.simulator.insert(args.to_vec(), stdout.clone());
        Ok(stdout)
    }
}

/// The day named by the first of `args`.
fn day_arg(args: &[&str]) -> Result<u8> {
    let day = args.first().context("no day given")?;
    crate::course::parse_day(day).map_err(anyhow::Error::msg)
}

/// Lists every graded test target's tests, built for the starter. (Listing runs no test, so the
/// starter's `todo!()`s do not matter.)
fn list_graded_tests(root: &Path) -> Result<BTreeMap<u8, Vec<String>>> {
    let days = workspace::graded_days(root);
    let place = Place {
        root: root.to_path_buf(),
        target_dir: None,
    };
    let executables = match runner::build(&place, Subject::Starter.feature_args(), &days)? {
        Built::Executables(executables) => executables,
        Built::DoesNotCompile { error } => bail!("the graded tests do not compile:\n{error}"),
    };
    let mut tests: BTreeMap<u8, Vec<String>> = days.iter().map(|&day| (day, Vec::new())).collect();
    for case in runner::list_cases(&executables, &place.tests_dir())? {
        tests.entry(case.day).or_default().push(case.name);
    }
    Ok(tests)
}

/// The grade of day `day` when every test in `names` passed, with the grader's defaults.
fn passing_grade(day: u8, names: &[String]) -> Result<Grade> {
    let points = Points::table()?;
    let tests = names
        .iter()
        .map(|name| TestOutcome {
            case: TestCase {
                day,
                name: name.clone(),
                exe: PathBuf::new(),
            },
            status: Status::Passed,
        })
        .collect();
    Ok(Grade {
        label: Subject::Starter.crate_name().to_string(),
        days: vec![DayGrade {
            day,
            tests: Some(tests),
            max_points: points.day(day),
            weights: points.weights(day),
            stress: None,
        }],
        compile_error: None,
        timeout: Duration::from_secs(grade::DEFAULT_TIMEOUT_SECS),
    })
}

/// `lines` in a fenced `text` block.
fn text_block(lines: &[String]) -> String {
    format!("```text\n{}\n```\n", lines.join("\n"))
}

/// `key=value` words as the simulator's `--key value` arguments, and the bare words of
/// [`SIMULATOR_FLAGS`] as `--word`.
fn simulator_args(words: &[&str]) -> Result<Vec<String>> {
    let mut args = Vec::new();
    for word in words {
        if SIMULATOR_FLAGS.contains(word) {
            args.push(format!("--{word}"));
            continue;
        }
        let (key, value) = word.split_once('=').with_context(|| {
            format!("`{word}` is neither `key=value` nor a flag ({SIMULATOR_FLAGS:?})")
        })?;
        args.push(format!("--{key}"));
        args.push(value.to_string());
    }
    Ok(args)
}

/// The shell command that runs the simulator with `args`, its plot (if any) on a line of its
/// own.
fn simulator_command(args: &[String]) -> String {
    let mut lines = vec!["cargo x sim --reference --".to_string()];
    // `--key value` pairs and lone flags, in the order given.
    let mut pairs: Vec<String> = Vec::new();
    for arg in args {
        match pairs.last_mut() {
            Some(last) if !arg.starts_with("--") => {
                last.push(' ');
                last.push_str(arg);
            }
            _ => pairs.push(arg.clone()),
        }
    }
    let (plot, options): (Vec<String>, Vec<String>) = pairs
        .into_iter()
        .partition(|pair| pair.starts_with("--plot "));
    if !options.is_empty() {
        lines.push(format!("    {}", options.join(" ")));
    }
    lines.extend(plot.into_iter().map(|pair| format!("    {pair}")));
    lines.join(" \\\n")
}

/// The rows of the simulator's table (its lines after the header, without the note on the
/// plot).
fn table_rows(output: &str) -> Vec<&str> {
    output
        .lines()
        .skip(1)
        .filter(|line| !line.starts_with("plot written to"))
        .collect()
}

/// The cell of `column` (one of [`COMPARE_COLUMNS`]) in `controller`'s line of the amplification
/// table that the simulator prints with `--compare`.
fn compare_cell(output: &str, controller: &str, column: &str) -> Result<String> {
    let index = COMPARE_COLUMNS
        .iter()
        .position(|name| *name == column)
        .with_context(|| format!("unknown column `{column}` (one of {COMPARE_COLUMNS:?})"))?;
    let line = output
        .lines()
        .find(|line| line.split_whitespace().next() == Some(controller))
        .with_context(|| {
            format!("the simulator's comparison has no line for the controller `{controller}`")
        })?;
    let cells: Vec<&str> = line.split_whitespace().skip(1).collect();
    if cells.len() != COMPARE_COLUMNS.len() {
        bail!("the comparison line `{line}` does not have the columns {COMPARE_COLUMNS:?}");
    }
    Ok(cells[index].to_string())
}

/// The body of a `measured` region: its first line is a caption naming the date and the
/// commands of the marker, which must be `cargo x bench` commands shown on the page.
fn measured_body(page: &str, region: &Region) -> Result<Option<String>> {
    let (date, commands) = measured_label(&region.args)?;
    for command in &commands {
        if !command.starts_with("cargo x bench") {
            bail!("`{command}` is not a `cargo x bench` command");
        }
        if !shown_in_code_block(page, command) {
            bail!("`{command}` is not shown in a code block of the page (how to repeat it)");
        }
    }
    let quoted: Vec<String> = commands
        .iter()
        .map(|command| format!("`{command}`"))
        .collect();
    let caption = format!("*Measured on {date} with {}.*", quoted.join(" and "));
    if region.inline {
        bail!("a measured region must be a block");
    }
    let body = &page[region.body.clone()];
    let rest = body.split_once('\n').map_or("", |(_, rest)| rest);
    let rest = if body.starts_with("*Measured on ") {
        rest
    } else {
        body
    };
    Ok(Some(format!("{caption}\n{rest}")))
}

/// The date and the backquoted commands of a `measured` marker: `2026-12-04 `a` `b``.
fn measured_label(args: &str) -> Result<(String, Vec<String>)> {
    let (date, rest) = args.split_once(' ').unwrap_or((args, ""));
    let parts: Vec<&str> = date.split('-').collect();
    let is_date = parts.len() == 3
        && [4, 2, 2]
            .iter()
            .zip(&parts)
            .all(|(&len, part)| part.len() == len && part.chars().all(|c| c.is_ascii_digit()));
    if !is_date {
        bail!("a measured region starts with its date, YYYY-MM-DD, not `{date}`");
    }
    let pieces: Vec<&str> = rest.split('`').collect();
    let commands: Vec<String> = pieces
        .iter()
        .skip(1)
        .step_by(2)
        .map(|command| command.trim().to_string())
        .collect();
    let between_ok = pieces.iter().step_by(2).all(|text| text.trim().is_empty());
    if commands.is_empty() || !between_ok || pieces.len().is_multiple_of(2) {
        bail!("a measured region names the commands that measured it, each in backquotes");
    }
    Ok((date.to_string(), commands))
}

/// Whether a line of a fenced code block of `page` runs `command` (before any `#` comment).
fn shown_in_code_block(page: &str, command: &str) -> bool {
    let mut in_fence = false;
    for line in page.lines() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
        } else if in_fence {
            let code = line.split_once('#').map_or(line, |(code, _)| code);
            if code.trim() == command {
                return true;
            }
        }
    }
    false
}

/// The first line (1-based) of each Markdown table of `text` outside every region.
fn unmeasured_tables(text: &str, regions: &[Region]) -> Vec<usize> {
    let rows = lines_outside(text, regions, |line| line.trim_start().starts_with('|'));
    rows.iter()
        .enumerate()
        .filter(|&(index, &line)| index == 0 || rows[index - 1] + 1 != line)
        .map(|(_, &line)| line)
        .collect()
}

/// The lines (1-based) of `text` outside every generated region that look like a day's line of
/// the grader's table: a day's title, then `passed/total` further on.
fn hand_written_grader_lines(text: &str, regions: &[Region]) -> Vec<usize> {
    lines_outside(text, regions, |line| {
        DAY_TITLES.iter().any(|title| {
            line.find(&format!(" {title} ")).is_some_and(|at| {
                line[at + title.len()..]
                    .split_whitespace()
                    .any(is_passed_over_total)
            })
        })
    })
}

/// `12/57`: two numbers around a slash.
fn is_passed_over_total(word: &str) -> bool {
    word.split_once('/').is_some_and(|(a, b)| {
        !a.is_empty()
            && !b.is_empty()
            && a.chars().all(|c| c.is_ascii_digit())
            && b.chars().all(|c| c.is_ascii_digit())
    })
}

/// The lines (1-based) of `text` that `matches` and lie outside every block region's body.
fn lines_outside(text: &str, regions: &[Region], matches: impl Fn(&str) -> bool) -> Vec<usize> {
    let mut found = Vec::new();
    let mut offset = 0;
    for (index, line) in text.split_inclusive('\n').enumerate() {
        let start = offset;
        offset += line.len();
        let inside = regions
            .iter()
            .any(|region| !region.inline && region.body.contains(&start));
        if !inside && matches(line.trim_end()) {
            found.push(index + 1);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simulator_words_become_its_arguments_and_command() {
        let args = simulator_args(&["steps=600", "multiplier=4", "plot=a/b.svg"]).unwrap();
        assert_eq!(
            args,
            ["--steps", "600", "--multiplier", "4", "--plot", "a/b.svg"]
        );
        assert_eq!(
            simulator_command(&args),
            "cargo x sim --reference -- \\\n    \
             --steps 600 --multiplier 4 \\\n    --plot a/b.svg"
        );
        assert!(simulator_args(&["--steps"]).is_err());
    }

    #[test]
    fn compare_is_a_flag_and_its_table_cells_are_found_by_name() {
        let args = simulator_args(&["compare", "steps=600", "plot=c.svg"]).unwrap();
        assert_eq!(args, ["--compare", "--steps", "600", "--plot", "c.svg"]);
        assert_eq!(
            simulator_command(&args),
            "cargo x sim --reference -- \\\n    --compare --steps 600 \\\n    --plot c.svg"
        );
        assert!(simulator_args(&["verbose"]).is_err());
        let output = "leveled:\n  step  L0\n   600  0 B\n\n\
                      controller  write amp  space amp  max space   read amp   max read\n\
                      leveled         23.43       1.00       1.50          4          7\n\
                      tiered          13.38       1.04       1.25          4          4\n";
        assert_eq!(
            compare_cell(output, "tiered", "write-amp").unwrap(),
            "13.38"
        );
        assert_eq!(compare_cell(output, "leveled", "max-read").unwrap(), "7");
        assert_eq!(compare_cell(output, "tiered", "space-amp").unwrap(), "1.04");
        assert!(compare_cell(output, "tiered", "speed").is_err());
        assert!(compare_cell(output, "universal", "write-amp").is_err());
    }

    #[test]
    fn a_passing_day_renders_through_the_grader_report() {
        let names: Vec<String> = ["a::case_1", "a::case_2", "b"].map(String::from).to_vec();
        let grade = passing_grade(1, &names).unwrap();
        let table = report::table(&grade, false);
        let line = report::day_line(&grade.days[0]);
        assert!(table.contains(&line), "{table:?}");
        assert!(line.contains("3/3"), "{line}");
        assert!(line.contains("Blocks"), "{line}");
    }

    #[test]
    fn measured_labels_need_a_date_and_quoted_commands() {
        let (date, commands) =
            measured_label("2026-12-04 `cargo x bench -- --num 1` `cargo x bench`").unwrap();
        assert_eq!(date, "2026-12-04");
        assert_eq!(commands, ["cargo x bench -- --num 1", "cargo x bench"]);
        assert!(measured_label("yesterday `cargo x bench`").is_err());
        assert!(measured_label("2026-12-04").is_err());
        assert!(measured_label("2026-12-04 cargo x bench").is_err());
    }

    #[test]
    fn measured_regions_get_a_caption_and_must_show_their_command() {
        let page = "```sh\ncargo x bench -- --num 5   # run 1\n```\n\
                    <!-- x:measured 2026-12-04 `cargo x bench -- --num 5` -->\n| a |\n<!-- x:end -->\n\
                    | loose |\n";
        let regions = regions::parse(page).unwrap();
        let body = measured_body(page, &regions[0]).unwrap().unwrap();
        assert_eq!(
            body,
            "*Measured on 2026-12-04 with `cargo x bench -- --num 5`.*\n| a |\n"
        );
        assert_eq!(unmeasured_tables(page, &regions), [7]);
        assert_eq!(unmeasured_tables("| a |\n| b |\n\n| c |\n", &[]), [1, 4]);
        let unknown =
            "<!-- x:measured 2026-12-04 `cargo x bench -- --num 6` -->\nx\n<!-- x:end -->\n";
        let regions = regions::parse(unknown).unwrap();
        assert!(measured_body(unknown, &regions[0]).is_err());
    }

    #[test]
    fn hand_written_grader_lines_are_found_outside_regions() {
        let page = "```text\nday 6  Recovery   66/66 passed\n```\n\
                    <!-- x:generated grade-line 1 -->\n  1  Blocks   57/57   10/10\n<!-- x:end -->\n\
                    Recovery is 1/2 of it.\n";
        let regions = regions::parse(page).unwrap();
        assert_eq!(hand_written_grader_lines(page, &regions), [2]);
    }
}
