//! `cargo x crash [--trials N] [--seed S] [--dir DIR] [--keep-failures DIR]`: the reference's
//! crash loop.
//!
//! Each trial asks `crash_child plan SEED` (mini-lsm-reference/examples/crash_child.rs, built
//! with the `failpoints` feature; it owns every random choice, so that xtask needs neither a
//! generator nor the list of failpoints) how to crash, then starts `crash_child run` on a fresh
//! directory: a seeded workload of puts, deletes and
//! batches with tiny memtables, so that background flushes and compactions never stop, and a
//! `sync` now and then, after which the child prints `ACK <ops> <wal> <len>`. The trial then
//! crashes it in one of two ways:
//!
//! - **timing**: SIGKILL at a random moment (a random number of ACKs, plus up to 3 ms);
//! - **failpoint**: `std::process::abort` at the K-th hit of one named crash window
//!   (`MINI_LSM_FAILPOINTS=POINT=abort@K`: mid-flush, mid-compaction, between a manifest
//!   record's write and its fsync, …).
//!
//! With `--power-loss` every trial instead loses power at a random durable operation (an
//! `fsync` of a file or directory, a deletion, a rename): the child, which tracks its directory
//! with the engine's `failpoint::power_loss`, writes what the disk would hold after the power
//! cut (only synced bytes and synced directory entries are sure to be there; see that module)
//! into an image directory and aborts, and the trial checks the image. A process kill keeps
//! every byte handed to the OS, so it cannot see a missing `fsync`; a power loss can.
//! `--bug NAME` runs the loop on a copy of the reference with that planted bug of
//! `xtask/bugs.toml` in it: `--bug sst-not-synced` passes the kill run and fails the power-loss
//! run.
//!
//! Sometimes it then simulates a torn write, cutting only bytes that were never durable: the
//! last manifest record when the child died before that record's fsync, or the newest WAL past
//! the length the last ACK had synced. It never takes away fsynced data: a disk that loses
//! acknowledged syncs is not something an engine can survive.
//!
//! Finally `crash_child check` reopens the directory (twice) and compares it with the workload:
//! every acknowledged write must be there with its value or a later one (else a **loss**), no
//! value may appear that the workload never wrote to that key (a **phantom**), the state must be
//! that of some prefix of the workload (else **inconsistent**), and `get`, `scan` and a second
//! reopen must agree (else **unstable**). A trial fails on any of these or on an open error;
//! the command exits non-zero and prints each failing trial's seed, which `--seed S --trials 1`
//! replays (a failpoint trial exactly, a timing trial up to the kill's moment).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::workspace;

/// The failpoint after which the last manifest record may legitimately be torn.
const MANIFEST_BEFORE_SYNC: &str = "manifest.before-sync";

/// How long the checker may take before it counts as hung.
const CHECK_TIMEOUT: Duration = Duration::from_secs(120);

/// `cargo x crash`'s arguments.
#[derive(Debug, clap::Args)]
pub struct CrashArgs {
    /// Number of trials.
    #[arg(long, default_value_t = 200)]
    pub trials: u32,
    /// Seed of the first trial (trial i uses a seed derived from it); random by default.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Where the trials' engine directories go (default: the system's temporary directory;
    /// /dev/shm makes a run several times faster and crashes the same way).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Copy the directory a failing trial's crash left (before recovery touched it) here.
    #[arg(long, value_name = "DIR")]
    pub keep_failures: Option<PathBuf>,
    /// Lose power at a random durable operation instead of killing the process.
    #[arg(long)]
    pub power_loss: bool,
    /// Run on a copy of the reference with this planted bug (a name from xtask/bugs.toml).
    #[arg(long, value_name = "NAME")]
    pub bug: Option<String>,
}

/// How a trial crashes the child.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kill {
    /// SIGKILL after `acks` ACK lines and `delay`.
    Timing { acks: u64, delay: Duration },
    /// Abort at hit `skip + 1` of `point`.
    Failpoint { point: String, skip: u64 },
    /// Lose power just before the `at`-th durable operation, then abort.
    PowerLoss { at: u64 },
}

/// A trial's plan, as `crash_child plan` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Plan {
    kill: Kill,
    /// Whether to tear the last manifest record, if the child died before its fsync.
    tear_manifest: bool,
    /// Whether to tear the newest WAL past what the last ACK synced.
    tear_wal: bool,
}

impl Plan {
    /// Parses `PLAN timing ACKS DELAY_US M W` or `PLAN failpoint POINT SKIP M W`.
    fn parse(line: &str) -> Option<Plan> {
        let fields: Vec<&str> = line.strip_prefix("PLAN ")?.split_whitespace().collect();
        let [kind, a, b, manifest, wal] = fields.as_slice() else {
            return None;
        };
        let kill = match *kind {
            "timing" => Kill::Timing {
                acks: a.parse().ok()?,
                delay: Duration::from_micros(b.parse().ok()?),
            },
            "failpoint" => Kill::Failpoint {
                point: a.to_string(),
                skip: b.parse().ok()?,
            },
            "powerloss" => Kill::PowerLoss {
                at: a.parse().ok()?,
            },
            _ => return None,
        };
        Some(Plan {
            kill,
            tear_manifest: *manifest == "1",
            tear_wal: *wal == "1",
        })
    }
}

/// How the child's run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// Killed by the trial's SIGKILL.
    Killed,
    /// Aborted at its failpoint.
    Aborted,
    /// Ran to the end: the kill came too late, or the failpoint was hit fewer times.
    Completed,
}

/// The last ACK the child printed.
#[derive(Debug, Clone, Default)]
struct Ack {
    ops: u64,
    /// The active WAL's file name and synced length (`None` after the final close).
    wal: Option<(String, u64)>,
}

/// The checker's verdict line: `RESULT keys=… acked=… losses=… …`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Verdict {
    keys: u64,
    losses: u64,
    phantoms: u64,
    inconsistent: u64,
    unstable: u64,
}

impl Verdict {
    /// Parses the `RESULT` line of the checker's stdout.
    fn parse(stdout: &str) -> Option<Verdict> {
        let line = stdout.lines().find(|line| line.starts_with("RESULT "))?;
        let field = |name: &str| -> Option<u64> {
            line.split_whitespace()
                .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))?
                .parse()
                .ok()
        };
        Some(Verdict {
            keys: field("keys")?,
            losses: field("losses")?,
            phantoms: field("phantoms")?,
            inconsistent: field("inconsistent")?,
            unstable: field("unstable")?,
        })
    }

    fn is_clean(&self) -> bool {
        self.losses + self.phantoms + self.inconsistent + self.unstable == 0
    }
}

/// Counts over all trials.
#[derive(Debug, Default)]
struct Tally {
    trials: u64,
    killed_by_timing: u64,
    power_losses: u64,
    /// Per failpoint: (aborts, trials where the run ended before reaching it).
    failpoints: BTreeMap<String, (u64, u64)>,
    completed: u64,
    torn_manifests: u64,
    torn_wals: u64,
    acked_ops: u64,
    keys_checked: u64,
    losses: u64,
    phantoms: u64,
    inconsistent: u64,
    unstable: u64,
    /// Trials where the child failed on its own, or the checker could not open or read.
    errors: u64,
    failed_seeds: Vec<u64>,
}

/// Runs the crash loop in the workspace at `root`; `Ok(false)` when a trial failed.
pub fn crash(root: &Path, args: &CrashArgs) -> Result<bool> {
    let child = match &args.bug {
        Some(name) => build_child_with_bug(root, name)?,
        None => build_child(root, None)?,
    };
    let base_seed = args.seed.unwrap_or_else(seed_from_clock);
    let scratch = match &args.dir {
        Some(dir) => tempfile::tempdir_in(dir),
        None => tempfile::tempdir(),
    }
    .context("creating the trials' scratch directory")?;
    println!(
        "crash: {} trials, seed {base_seed}, in {}",
        args.trials,
        scratch.path().display()
    );
    let started = Instant::now();
    let mut tally = Tally::default();
    for trial in 0..u64::from(args.trials) {
        // Trial 0 uses the seed itself, so `--seed S --trials 1` replays a reported trial.
        let seed = base_seed.wrapping_add(trial.wrapping_mul(0x2545_F491_4F6C_DD1D));
        let dir = scratch.path().join(format!("trial-{trial}"));
        let line = run_trial(&child, &dir, seed, args, &mut tally)
            .with_context(|| format!("trial {trial} (seed {seed})"))?;
        println!("trial {trial:>4} seed {seed:>20}: {line}");
        std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
        let image = image_dir(&dir);
        if image.exists() {
            std::fs::remove_dir_all(&image)
                .with_context(|| format!("removing {}", image.display()))?;
        }
    }
    print_report(&tally, started.elapsed());
    Ok(tally.failed_seeds.is_empty())
}

/// Plants bug `name` of xtask/bugs.toml in a copy of the workspace and builds `crash_child`
/// there (in a target directory of its own); returns its path.
fn build_child_with_bug(root: &Path, name: &str) -> Result<PathBuf> {
    let bugs = crate::bugs::load(root)?;
    let bug = bugs
        .iter()
        .find(|bug| bug.name == name)
        .with_context(|| format!("no bug named `{name}` in xtask/bugs.toml"))?;
    let copy = root.join("target").join("crash-bug-workspace");
    crate::bugs::copy_workspace(root, &copy)?;
    let file = crate::bugs::source_path(&copy, bug);
    let source =
        std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
    std::fs::write(&file, crate::bugs::apply(bug, &source)?)
        .with_context(|| format!("writing {}", file.display()))?;
    println!(
        "crash: planted bug `{name}` ({}) in {}",
        bug.description,
        copy.display()
    );
    build_child(&copy, Some(&root.join("target").join("crash-bug")))
}

/// Builds `crash_child` with failpoints (in `target_dir` when given) and returns its path.
fn build_child(root: &Path, target_dir: Option<&Path>) -> Result<PathBuf> {
    let args = [
        "build",
        "--package",
        "mini-lsm-reference",
        "--features",
        "failpoints",
        "--example",
        "crash_child",
        "--message-format=json-render-diagnostics",
    ];
    let mut command = workspace::cargo(root, &args);
    if let Some(target_dir) = target_dir {
        command.env("CARGO_TARGET_DIR", target_dir);
    }
    command.stderr(Stdio::inherit());
    let output = workspace::capture(command)?;
    if !output.status.success() {
        bail!("building crash_child failed");
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| message["target"]["name"] == "crash_child")
        .find_map(|message| message["executable"].as_str().map(PathBuf::from))
        .context("cargo built no crash_child executable")
}

/// A seed from the clock, for runs without `--seed`.
fn seed_from_clock() -> u64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    now.map_or(0, |d| d.as_nanos() as u64)
}

/// Where a power-loss trial in `dir` writes its image.
fn image_dir(dir: &Path) -> PathBuf {
    dir.with_extension("image")
}

/// Runs one trial in `dir`, adds it to `tally`, and returns its one-line summary.
fn run_trial(
    child: &Path,
    dir: &Path,
    seed: u64,
    args: &CrashArgs,
    tally: &mut Tally,
) -> Result<String> {
    let keep_failures = args.keep_failures.as_deref();
    let plan = ask_plan(child, seed, args.power_loss)?;
    let kill = &plan.kill;
    tally.trials += 1;
    let (ending, ack) = run_child(child, dir, seed, kill)?;
    // After a power loss the trial checks the image, what the disk held when power went.
    let checked = match (kill, ending) {
        (Kill::PowerLoss { .. }, Ending::Aborted) => image_dir(dir),
        _ => dir.to_path_buf(),
    };
    let mut summary = match (kill, ending) {
        (Kill::Timing { .. }, Ending::Killed) => {
            tally.killed_by_timing += 1;
            "killed".to_string()
        }
        (Kill::PowerLoss { at }, Ending::Aborted) => {
            tally.power_losses += 1;
            format!("power lost at durable operation {at}")
        }
        (Kill::Failpoint { point, skip }, Ending::Aborted) => {
            tally.failpoints.entry(point.clone()).or_default().0 += 1;
            format!("aborted at {point}@{skip}")
        }
        (kill, _) => {
            if let Kill::Failpoint { point, .. } = kill {
                tally.failpoints.entry(point.clone()).or_default().1 += 1;
            }
            tally.completed += 1;
            format!("completed ({kill:?} not reached)")
        }
    };
    if let Some(keep) = keep_failures {
        copy_dir(&checked, &keep.join(format!("seed-{seed}")))?;
    }

    let mut check_args = vec![
        "check".to_string(),
        checked.display().to_string(),
        seed.to_string(),
        ack.ops.to_string(),
    ];
    if matches!(kill, Kill::Failpoint { point, .. } if point == MANIFEST_BEFORE_SYNC)
        && ending == Ending::Aborted
        && plan.tear_manifest
    {
        check_args.push("--tear-manifest".to_string());
        tally.torn_manifests += 1;
        summary.push_str(", torn manifest");
    }
    // Unsynced WAL bytes reach the file only when a sync or a freeze writes the buffer out, so
    // most tears follow an abort at wal.before-sync or a kill inside a sync.
    let tear_wal =
        ending != Ending::Completed && !matches!(kill, Kill::PowerLoss { .. }) && plan.tear_wal;
    if tear_wal && let Some((name, synced)) = newest_wal_unsynced_tail(dir, &ack)? {
        check_args.extend(["--tear-wal".into(), name, synced.to_string()]);
    }

    let (verdict, output) = run_checker(child, &check_args)?;
    // The checker tears only records written after the last ACK, and says so: a file longer
    // than what was synced may hold nothing more than preallocated zeros.
    if output
        .lines()
        .any(|line| line.starts_with("TORN ") && line.contains(".wal "))
    {
        tally.torn_wals += 1;
        summary.push_str(", torn WAL");
    }
    tally.acked_ops += ack.ops;
    summary.push_str(&format!(", {} ops acknowledged", ack.ops));
    let passed = match &verdict {
        Some(verdict) => {
            tally.keys_checked += verdict.keys;
            tally.losses += verdict.losses;
            tally.phantoms += verdict.phantoms;
            tally.inconsistent += verdict.inconsistent;
            tally.unstable += verdict.unstable;
            verdict.is_clean()
        }
        None => {
            tally.errors += 1;
            false
        }
    };
    if passed {
        if let Some(keep) = keep_failures {
            std::fs::remove_dir_all(keep.join(format!("seed-{seed}")))?;
        }
        summary.push_str(": ok");
    } else {
        tally.failed_seeds.push(seed);
        summary.push_str(&format!(": FAILED\n{}", indent(&output)));
    }
    Ok(summary)
}

/// Runs `crash_child plan SEED [--power-loss]`.
fn ask_plan(child: &Path, seed: u64, power_loss: bool) -> Result<Plan> {
    let mut command = Command::new(child);
    command.arg("plan").arg(seed.to_string());
    if power_loss {
        command.arg("--power-loss");
    }
    let output = workspace::capture(command)?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    Plan::parse(stdout.trim()).with_context(|| format!("crash_child plan printed {stdout:?}"))
}

/// Starts `crash_child run`, crashes it as `kill` says, and returns how it ended and its last ACK.
fn run_child(child: &Path, dir: &Path, seed: u64, kill: &Kill) -> Result<(Ending, Ack)> {
    let mut command = Command::new(child);
    command
        .arg("run")
        .arg(dir)
        .arg(seed.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Kill::Failpoint { point, skip } = kill {
        command.env("MINI_LSM_FAILPOINTS", format!("{point}=abort@{skip}"));
    }
    if let Kill::PowerLoss { at } = kill {
        let image = image_dir(dir);
        command.env(
            "MINI_LSM_POWER_LOSS",
            format!("{at}:{seed}:{}", image.display()),
        );
    }
    let mut process = command.spawn().context("starting crash_child run")?;
    let stderr = read_in_background(process.stderr.take());
    let stdout = BufReader::new(process.stdout.take().context("child stdout")?);
    let mut ack = Ack::default();
    let mut acks = 0;
    let mut sent_kill = false;
    for line in stdout.lines() {
        let line = line.context("reading the child's stdout")?;
        if let Some(parsed) = parse_ack(&line) {
            ack = parsed;
            acks += 1;
        }
        if let Kill::Timing { acks: after, delay } = kill
            && acks == *after
            && !sent_kill
        {
            // Not a synchronisation: the pause only spreads kills between two ACKs.
            std::thread::sleep(*delay);
            sent_kill = kill_child(&mut process)?;
        }
    }
    let status = process.wait().context("waiting for crash_child run")?;
    let stderr = stderr.join().unwrap_or_default();
    let ending = match status.signal() {
        Some(9) if sent_kill => Ending::Killed,
        Some(6) if matches!(kill, Kill::Failpoint { .. } | Kill::PowerLoss { .. }) => {
            Ending::Aborted
        }
        None if status.success() => Ending::Completed,
        _ => bail!("crash_child run failed on its own ({status}):\n{stderr}"),
    };
    Ok((ending, ack))
}

/// Sends SIGKILL; `false` when the child had already exited.
fn kill_child(process: &mut Child) -> Result<bool> {
    if process.try_wait()?.is_some() {
        return Ok(false);
    }
    process.kill().context("killing crash_child")?;
    Ok(true)
}

/// `ACK <ops> <wal> <len>` → the ACK (`<wal>` is `-` after the final close).
fn parse_ack(line: &str) -> Option<Ack> {
    let mut fields = line.strip_prefix("ACK ")?.split_whitespace();
    let ops = fields.next()?.parse().ok()?;
    let wal = fields.next()?;
    let len = fields.next()?.parse().ok()?;
    Some(Ack {
        ops,
        wal: (wal != "-").then(|| (wal.to_string(), len)),
    })
}

/// The newest WAL in `dir` and how much of it the last ACK synced, or `None` when the file is no
/// longer than that. A WAL newer than the last ACK's was never synced by an ACK at all. A longer
/// file may still hold nothing but preallocated zeros past the synced records: the checker looks
/// for records there, and tears only those.
fn newest_wal_unsynced_tail(dir: &Path, ack: &Ack) -> Result<Option<(String, u64)>> {
    let mut newest: Option<(u64, String)> = None;
    for entry in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if let Some(id) = name.strip_suffix(".wal").and_then(|id| id.parse().ok())
            && newest.as_ref().is_none_or(|(newest, _)| id > *newest)
        {
            newest = Some((id, name));
        }
    }
    let Some((_, name)) = newest else {
        return Ok(None);
    };
    let len = std::fs::metadata(dir.join(&name))?.len();
    let synced = match &ack.wal {
        Some((acked, synced)) if *acked == name => *synced,
        _ => 0,
    };
    Ok((len > synced).then_some((name, synced)))
}

/// Runs `crash_child check ARGS` with a timeout; returns its verdict (`None` when it could not
/// open or read the directory) and its output.
fn run_checker(child: &Path, args: &[String]) -> Result<(Option<Verdict>, String)> {
    let mut process = Command::new(child)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting crash_child check")?;
    let stdout = read_in_background(process.stdout.take());
    let stderr = read_in_background(process.stderr.take());
    let deadline = Instant::now() + CHECK_TIMEOUT;
    // A failure detector, not a synchronisation: a checker still running at the deadline hangs.
    while process.try_wait()?.is_none() {
        if Instant::now() > deadline {
            process.kill()?;
            process.wait()?;
            bail!("crash_child check hung for {CHECK_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    let output = format!("{stdout}{stderr}");
    Ok((Verdict::parse(&stdout), output))
}

/// Reads all of `pipe` on a thread, so that a full pipe never blocks the child.
fn read_in_background(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_string(&mut text);
        }
        text
    })
}

/// Copies the files of `from` (no subdirectories: an engine directory has none) into `to`.
fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        std::fs::copy(entry.path(), to.join(entry.file_name()))
            .with_context(|| format!("copying {}", entry.path().display()))?;
    }
    Ok(())
}

/// Lines of a failing checker's output shown in the report.
const SHOWN_LINES: usize = 12;

/// The first [`SHOWN_LINES`] lines of `text`, indented, for the report.
fn indent(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut shown: String = lines
        .iter()
        .take(SHOWN_LINES)
        .map(|line| format!("      {line}\n"))
        .collect();
    if lines.len() > SHOWN_LINES {
        shown.push_str(&format!(
            "      … {} more lines\n",
            lines.len() - SHOWN_LINES
        ));
    }
    shown
}

/// Prints the counts of a run.
fn print_report(tally: &Tally, elapsed: Duration) {
    let aborts: u64 = tally.failpoints.values().map(|(aborts, _)| aborts).sum();
    println!(
        "\ncrash: {} trials in {:.1} s: {} killed by timing, {aborts} aborted at a failpoint, \
         {} lost power, {} ran to completion",
        tally.trials,
        elapsed.as_secs_f64(),
        tally.killed_by_timing,
        tally.power_losses,
        tally.completed,
    );
    for (point, (aborted, missed)) in &tally.failpoints {
        println!("  {point:<28} {aborted:>4} aborted, {missed:>3} not reached");
    }
    println!(
        "  torn writes: {} manifests, {} WALs",
        tally.torn_manifests, tally.torn_wals
    );
    println!(
        "  checked: {} acknowledged operations, {} key reads (each twice)",
        tally.acked_ops, tally.keys_checked
    );
    println!(
        "  losses {}, phantoms {}, inconsistent {}, unstable {}, refused opens or errors {}",
        tally.losses, tally.phantoms, tally.inconsistent, tally.unstable, tally.errors
    );
    if tally.failed_seeds.is_empty() {
        println!("all trials passed");
    } else {
        println!(
            "FAILED trials (replay one with `cargo x crash --trials 1 --seed S`): {:?}",
            tally.failed_seeds
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_parse() {
        let timing = Plan::parse("PLAN timing 12 345 0 1").unwrap();
        assert_eq!(
            timing.kill,
            Kill::Timing {
                acks: 12,
                delay: Duration::from_micros(345)
            }
        );
        assert!(!timing.tear_manifest && timing.tear_wal);
        let failpoint = Plan::parse("PLAN failpoint sst.write 7 1 0").unwrap();
        assert_eq!(
            failpoint.kill,
            Kill::Failpoint {
                point: "sst.write".into(),
                skip: 7
            }
        );
        let power_loss = Plan::parse("PLAN powerloss 812 0 0 0").unwrap();
        assert_eq!(power_loss.kill, Kill::PowerLoss { at: 812 });
        assert!(Plan::parse("PLAN explode 1 2 0 0").is_none());
        assert!(Plan::parse("PLAN timing 1 2").is_none());
    }

    #[test]
    fn acks_parse_with_and_without_a_wal() {
        let ack = parse_ack("ACK 12 00007.wal 345").unwrap();
        assert_eq!((ack.ops, ack.wal), (12, Some(("00007.wal".into(), 345))));
        let last = parse_ack("ACK 3000 - 0").unwrap();
        assert_eq!((last.ops, last.wal), (3000, None));
        assert!(parse_ack("TORN x").is_none());
    }

    #[test]
    fn the_verdict_line_parses_and_any_problem_is_unclean() {
        let stdout = "TORN a 1 of 2\nRESULT keys=300 acked=9 losses=0 phantoms=1 inconsistent=0 unstable=0\n";
        let verdict = Verdict::parse(stdout).unwrap();
        assert_eq!(verdict.keys, 300);
        assert_eq!(verdict.phantoms, 1);
        assert!(!verdict.is_clean());
        assert!(Verdict::parse("ERROR cannot open").is_none());
    }

    #[test]
    fn only_the_unsynced_tail_of_the_newest_wal_may_be_torn() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("00003.wal"), [0; 50]).unwrap();
        std::fs::write(dir.path().join("00009.wal"), [0; 70]).unwrap();
        let acked_here = Ack {
            ops: 5,
            wal: Some(("00009.wal".into(), 60)),
        };
        let tail = newest_wal_unsynced_tail(dir.path(), &acked_here).unwrap();
        assert_eq!(tail, Some(("00009.wal".into(), 60)));
        let acked_older = Ack {
            ops: 5,
            wal: Some(("00003.wal".into(), 50)),
        };
        let tail = newest_wal_unsynced_tail(dir.path(), &acked_older).unwrap();
        assert_eq!(tail, Some(("00009.wal".into(), 0)));
        let fully_synced = Ack {
            ops: 5,
            wal: Some(("00009.wal".into(), 70)),
        };
        assert_eq!(
            newest_wal_unsynced_tail(dir.path(), &fully_synced).unwrap(),
            None
        );
    }
}
