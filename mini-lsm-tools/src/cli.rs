//! `mini-lsm-cli`: a shell over the engine, to play with it by hand or from a script.
//!
//! ```text
//! cargo x cli -- --day 4                                  # your engine, day 4 options
//! cargo x cli --reference                                 # the complete engine
//! cargo run -p mini-lsm-tools --bin mini-lsm-cli          # the same, without the alias
//! printf 'put a 1\nget a\n' | cargo run -q -p mini-lsm-tools --bin mini-lsm-cli
//! ```
//!
//! It opens the engine in `--dir PATH` (default: a fresh temporary directory, removed on exit)
//! with [`LsmOptions::for_day`] of `--day N` and the flags' changes, then runs commands: `put`,
//! `get`, `del`, `scan`, `fill`, `flush`, `compact`, `sync`, `shape`, `stats`, `dump`, `open`,
//! `help` and `quit` (`help` explains each). On a terminal it is a line editor with history; with
//! standard input from a pipe or a file it reads one command a line and prints only the results.
//!
//! The shell runs on the reference or on the starter ([`crate::engine`]). A command that
//! reaches an unwritten stub prints `not implemented yet: day N (Type::method)` and the shell
//! goes on; any other panic prints `panic: <message>`. When opening the engine hits a stub, there
//! is nothing to run: the shell prints the message, suggests `--day N`, and exits with status 1.

mod command;
mod draw;
pub(crate) mod stub;

use std::collections::BTreeMap;
use std::io::{self, BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, ValueEnum};
use tempfile::TempDir;

use crate::engine::lsm_iterator::Scan;
use crate::engine::options::{
    CompactionOptions, LAST_COURSE_DAY, LAST_DAY, LeveledCompactionOptions, LsmOptions,
    TieredCompactionOptions,
};
use crate::engine::{Error, MiniLsm, Snapshot, Transaction};
use command::Command;

/// The command line of `mini-lsm-cli`.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "mini-lsm-cli",
    about = "A shell over the mini-lsm engine: put, get, scan, flush, compact, and look at the tree.",
    after_help = "Type `help` in the shell for its commands. With standard input from a pipe or a \
                  file, it runs one command a line and prints only the results:\n  \
                  printf 'put a 1\\nget a\\n' | mini-lsm-cli --day 4"
)]
pub struct Args {
    /// The engine's directory, created if missing [default: a fresh temporary directory, removed
    /// on exit]
    #[arg(long, value_name = "PATH")]
    pub dir: Option<PathBuf>,

    /// Start from the options of this day of the course, so that the engine never reaches a
    /// later day's stub (days 1-4 all get the day-4 engine: no compaction, WAL or bloom filter;
    /// day 8 and later, Part 2, add versioned keys and snapshots)
    #[arg(long, value_name = "N", default_value_t = LAST_DAY,
          value_parser = clap::value_parser!(u8).range(1..=LAST_COURSE_DAY as i64))]
    pub day: u8,

    /// Compaction with its background thread: leveled (`on`, day 5), tiered (day 10), or off
    #[arg(long, value_name = "on|off|tiered", hide_possible_values = true)]
    pub compaction: Option<Compaction>,

    /// The write-ahead log and recovery on open (day 6)
    #[arg(long, value_name = "on|off", hide_possible_values = true)]
    pub wal: Option<Switch>,

    /// Versioned keys and snapshots (day 8, Part 2)
    #[arg(long, value_name = "on|off", hide_possible_values = true)]
    pub mvcc: Option<Switch>,

    /// Bloom filters in new SSTs, 10 bits per key when on (day 7)
    #[arg(long, value_name = "on|off", hide_possible_values = true)]
    pub bloom: Option<Switch>,

    /// Bits of bloom filter per key, 0 for none (overrides --bloom)
    #[arg(long, value_name = "BITS")]
    pub bloom_bits: Option<usize>,

    /// Target size of a data block, in bytes (a suffix K or M multiplies by 1024 or 1024²)
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub block_size: Option<usize>,

    /// Size at which the memtable is frozen, in bytes (K and M allowed)
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub memtable_size: Option<usize>,

    /// Target size of an SST written by compaction, in bytes (K and M allowed)
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub target_sst_size: Option<usize>,
}

/// A feature switch on the command line: `on` or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Switch {
    /// Switched on.
    On,
    /// Switched off.
    Off,
}

/// The `--compaction` choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Compaction {
    /// Leveled compaction (day 5).
    On,
    /// No compaction.
    Off,
    /// Tiered compaction (day 10, Part 2).
    Tiered,
}

/// Bloom bits per key that `--bloom on` sets, as [`LsmOptions::for_day`] does on day 7.
const BLOOM_BITS_WHEN_ON: usize = 10;

impl Args {
    /// The engine options: [`LsmOptions::for_day`] of `--day`, changed by the other flags.
    pub fn options(&self) -> LsmOptions {
        let mut options = LsmOptions::for_day(self.day);
        if let Some(choice) = self.compaction {
            options.compaction = match choice {
                Compaction::On => CompactionOptions::Leveled(LeveledCompactionOptions::default()),
                Compaction::Tiered => CompactionOptions::Tiered(TieredCompactionOptions::default()),
                Compaction::Off => CompactionOptions::NoCompaction,
            };
            options.background_compaction = choice != Compaction::Off;
        }
        if let Some(switch) = self.wal {
            options.enable_wal = switch == Switch::On;
        }
        if let Some(switch) = self.mvcc {
            options.mvcc = switch == Switch::On;
        }
        if let Some(switch) = self.bloom {
            options.bloom_bits_per_key = match switch {
                Switch::On => BLOOM_BITS_WHEN_ON,
                Switch::Off => 0,
            };
        }
        let overrides = [
            (self.bloom_bits, &mut options.bloom_bits_per_key),
            (self.block_size, &mut options.block_size),
            (self.memtable_size, &mut options.memtable_size),
            (self.target_sst_size, &mut options.target_sst_size),
        ];
        for (value, field) in overrides {
            if let Some(value) = value {
                *field = value;
            }
        }
        options
    }
}

/// Parses a size in bytes: `4096`, `4K` / `4KiB` (×1024) or `2M` / `2MiB` (×1024²).
pub(crate) fn parse_size(text: &str) -> Result<usize, String> {
    let upper = text.trim().to_ascii_uppercase();
    let (digits, unit) = match upper.trim_end_matches("IB").trim_end_matches('B') {
        number if number.ends_with('K') => (&number[..number.len() - 1], 1 << 10),
        number if number.ends_with('M') => (&number[..number.len() - 1], 1 << 20),
        number => (number, 1),
    };
    let number: usize = digits
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a size: write bytes, or a number with K or M"))?;
    number
        .checked_mul(unit)
        .ok_or_else(|| format!("`{text}` is too large"))
}

/// Runs the shell with the process's arguments and standard input: what the binary does.
pub fn main() -> ExitCode {
    let args = Args::parse();
    let interactive = io::stdin().is_terminal();
    let mut session = match Session::open(&args, interactive) {
        Ok(session) => session,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::FAILURE;
        }
    };
    let mut out = Printer::new(io::stdout());
    if interactive {
        session.banner(&mut out);
        session.run_editor(&mut out);
    } else {
        session.run_script(io::stdin().lock(), &mut out);
    }
    session.close(&mut out);
    ExitCode::SUCCESS
}

/// Runs `input` as a script (one command a line) with the engine `args` ask for, and returns
/// what the shell printed. `Err` holds the message when the engine could not be opened, the case
/// in which the binary exits with status 1.
pub fn run_script(args: &Args, input: &[u8]) -> Result<String, String> {
    let mut session = Session::open(args, false)?;
    let mut out = Printer::new(Vec::new());
    session.run_script(input, &mut out);
    session.close(&mut out);
    Ok(String::from_utf8_lossy(&out.into_inner()).into_owned())
}

/// Where output goes: keeps the first write error, after which the shell stops (a closed pipe).
struct Printer<W: Write> {
    writer: W,
    error: Option<io::Error>,
}

impl<W: Write> Printer<W> {
    /// Output to `writer`.
    fn new(writer: W) -> Self {
        Printer {
            writer,
            error: None,
        }
    }

    /// Writes `text` and a newline, flushed so that it shows before a long command finishes.
    fn line(&mut self, text: impl std::fmt::Display) {
        if self.error.is_none() {
            let written = writeln!(self.writer, "{text}").and_then(|()| self.writer.flush());
            self.error = written.err();
        }
    }

    /// Whether a write failed: nobody reads the output any more.
    fn is_broken(&self) -> bool {
        self.error.is_some()
    }

    /// The writer, with everything printed.
    fn into_inner(self) -> W {
        self.writer
    }
}

/// Whether the shell goes on after a command.
#[derive(Debug, PartialEq, Eq)]
enum Flow {
    Continue,
    Quit,
}

/// How a command failed: the engine's error, or a line saying what else went wrong (a stub or a
/// bug that panicked, a directory that could not be opened).
enum Failure {
    Engine(Error),
    Message(String),
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Failure::Engine(error)
    }
}

/// An open engine and what the shell knows about it.
struct Session {
    engine: Arc<MiniLsm>,
    /// The snapshots taken with `snapshot` (day 8), by number; dropped with the engine.
    snapshots: BTreeMap<u64, Snapshot>,
    /// The number the next snapshot gets.
    next_snapshot: u64,
    /// The transaction `begin` opened (day 9), until `commit` or `abort`.
    transaction: Option<Transaction>,
    options: LsmOptions,
    /// The fresh directory made when `--dir` was not given; removed when the session ends.
    temp_dir: Option<TempDir>,
    interactive: bool,
}

impl Session {
    /// Opens the engine of `args`; the error is the one line to print before exiting.
    fn open(args: &Args, interactive: bool) -> Result<Session, String> {
        let options = args.options();
        let (dir, temp_dir) = match &args.dir {
            Some(dir) => (dir.clone(), None),
            None => {
                let temp = tempfile::Builder::new()
                    .prefix("mini-lsm-cli-")
                    .tempdir()
                    .map_err(|e| format!("error: cannot make a temporary directory: {e}"))?;
                (temp.path().to_path_buf(), Some(temp))
            }
        };
        let engine = open_engine(&dir, &options)?;
        // What recovery found (day 6) is worth knowing before anything else.
        eprint!("{}", engine.recovery_report());
        if !interactive && temp_dir.is_some() {
            eprintln!(
                "using a fresh directory {} (removed on exit)",
                dir.display()
            );
        }
        Ok(Session {
            engine,
            snapshots: BTreeMap::new(),
            next_snapshot: 1,
            transaction: None,
            options,
            temp_dir,
            interactive,
        })
    }

    /// What an interactive session prints first.
    fn banner(&self, out: &mut Printer<impl Write>) {
        let dir = self.engine.path().display();
        match self.temp_dir {
            Some(_) => out.line(format_args!(
                "mini-lsm-cli: a fresh directory {dir} (removed on exit; --dir keeps data)"
            )),
            None => out.line(format_args!("mini-lsm-cli: {dir}")),
        }
        out.line(describe_options(&self.options));
        out.line("type `help` for the commands, `quit` or Ctrl-D to leave");
    }

    /// Reads commands with the line editor until `quit`, end of input or a broken terminal.
    fn run_editor(&mut self, out: &mut Printer<impl Write>) {
        let mut editor = match rustyline::DefaultEditor::new() {
            Ok(editor) => editor,
            Err(e) => {
                out.line(format_args!(
                    "error: no line editor ({e}); reading plain lines"
                ));
                return self.run_script(io::stdin().lock(), out);
            }
        };
        loop {
            match editor.readline("mini-lsm> ") {
                Ok(line) => {
                    if !line.trim().is_empty() {
                        // History is a convenience: a failure to record a line changes nothing.
                        let _ = editor.add_history_entry(line.as_str());
                    }
                    if self.execute_line(line.as_bytes(), out) == Flow::Quit || out.is_broken() {
                        return;
                    }
                }
                Err(rustyline::error::ReadlineError::Interrupted) => {
                    out.line("(Ctrl-C: type `quit` or Ctrl-D to leave)")
                }
                Err(rustyline::error::ReadlineError::Eof) => return,
                Err(e) => {
                    out.line(format_args!("error: reading a line: {e}"));
                    return;
                }
            }
        }
    }

    /// Runs one command per line of `input`, without prompts, until `quit` or the end.
    fn run_script(&mut self, mut input: impl BufRead, out: &mut Printer<impl Write>) {
        let mut line = Vec::new();
        loop {
            line.clear();
            match input.read_until(b'\n', &mut line) {
                Ok(0) => return,
                Ok(_) => {}
                Err(e) => {
                    out.line(format_args!("error: reading standard input: {e}"));
                    return;
                }
            }
            if self.execute_line(&line, out) == Flow::Quit || out.is_broken() {
                return;
            }
        }
    }

    /// Parses and runs one line, printing its result or its error.
    fn execute_line(&mut self, line: &[u8], out: &mut Printer<impl Write>) -> Flow {
        let command = match command::parse(line) {
            Ok(Some(command)) => command,
            Ok(None) => return Flow::Continue,
            Err(message) => {
                out.line(format_args!("error: {message}"));
                return Flow::Continue;
            }
        };
        let result = stub::catch(|| self.execute(command, out))
            .unwrap_or_else(|message| Err(Failure::Message(message)));
        match result {
            Ok(flow) => flow,
            Err(Failure::Engine(error)) => {
                out.line(format_args!("error: {error}"));
                Flow::Continue
            }
            Err(Failure::Message(message)) => {
                out.line(message);
                Flow::Continue
            }
        }
    }

    /// Runs one command against the engine.
    fn execute(
        &mut self,
        command: Command,
        out: &mut Printer<impl Write>,
    ) -> Result<Flow, Failure> {
        let engine = Arc::clone(&self.engine);
        match command {
            Command::Put(key, value) => {
                match &mut self.transaction {
                    Some(txn) => txn.put(&key, &value)?,
                    None => engine.put(&key, &value)?,
                }
                out.line("ok");
            }
            Command::Get(key) => {
                let value = match &mut self.transaction {
                    Some(txn) => txn.get(&key)?,
                    None => engine.get(&key)?,
                };
                match value {
                    Some(value) => out.line(command::show(&value)),
                    None => out.line("(not found)"),
                }
            }
            Command::Delete(key) => {
                match &mut self.transaction {
                    Some(txn) => txn.delete(&key)?,
                    None => engine.delete(&key)?,
                }
                out.line("ok");
            }
            Command::Scan(range) => {
                let lower = range.lower.as_ref().map(Vec::as_slice);
                let upper = range.upper.as_ref().map(Vec::as_slice);
                let scan = match &mut self.transaction {
                    Some(txn) => txn.scan(lower, upper)?,
                    None => engine.scan(lower, upper)?,
                };
                print_scan(scan, out)?;
            }
            Command::Begin => {
                if self.transaction.is_some() {
                    return Err(Failure::Message(
                        "error: a transaction is open already (`commit` or `abort` it)".into(),
                    ));
                }
                let txn = engine.begin()?;
                out.line(format_args!("transaction at seq {}", txn.start_seq()));
                self.transaction = Some(txn);
            }
            Command::Commit => {
                self.no_transaction_open()?.commit()?;
                out.line("ok: committed");
            }
            Command::Abort => {
                drop(self.no_transaction_open()?);
                out.line("ok: aborted, nothing written");
            }
            Command::Fill { from, to } => fill(&engine, from, to, out)?,
            Command::Flush => engine.force_flush().map(|()| out.line("ok"))?,
            Command::Compact => engine.force_full_compaction().map(|()| out.line("ok"))?,
            Command::Sync => engine.sync().map(|()| out.line("ok"))?,
            Command::Shape => out.line(draw::shape(&engine.shape()).trim_end()),
            Command::Stats => out.line(draw::stats(&engine.stats()).trim_end()),
            Command::Dump(key) => dump(&engine, &key, out)?,
            Command::Open(dir) => self.reopen(&dir, out)?,
            Command::Snapshot => {
                let snapshot = engine.snapshot()?;
                let number = self.next_snapshot;
                self.next_snapshot += 1;
                out.line(format_args!("snapshot {number} at seq {}", snapshot.seq()));
                self.snapshots.insert(number, snapshot);
            }
            Command::SnapshotGet(number, key) => match self.snapshot(number)?.get(&key)? {
                Some(value) => out.line(command::show(&value)),
                None => out.line("(not found)"),
            },
            Command::SnapshotScan(number, range) => {
                let lower = range.lower.as_ref().map(Vec::as_slice);
                let upper = range.upper.as_ref().map(Vec::as_slice);
                print_scan(self.snapshot(number)?.scan(lower, upper)?, out)?;
            }
            Command::Release(number) => match self.snapshots.remove(&number) {
                Some(_) => out.line("ok"),
                None => return Err(no_snapshot(number)),
            },
            Command::Help => out.line(command::help().trim_end()),
            Command::Quit => return Ok(Flow::Quit),
        }
        Ok(Flow::Continue)
    }

    /// Takes the open transaction out of the session, or says there is none.
    fn no_transaction_open(&mut self) -> Result<Transaction, Failure> {
        self.transaction.take().ok_or_else(|| {
            Failure::Message("error: no transaction is open (`begin` starts one)".into())
        })
    }

    /// Snapshot `number`, or the line saying there is none.
    fn snapshot(&self, number: u64) -> Result<&Snapshot, Failure> {
        self.snapshots
            .get(&number)
            .ok_or_else(|| no_snapshot(number))
    }

    /// `open DIR`: opens DIR and switches to it; on any failure the current engine stays.
    fn reopen(&mut self, dir: &Path, out: &mut Printer<impl Write>) -> Result<(), Failure> {
        if same_dir(dir, self.engine.path()) {
            out.line(format_args!("{} is open already", dir.display()));
            return Ok(());
        }
        let engine = open_engine(dir, &self.options).map_err(Failure::Message)?;
        for line in engine.recovery_report().to_string().lines() {
            out.line(line);
        }
        // Snapshots and transactions belong to the engine they were taken of.
        self.snapshots.clear();
        self.transaction = None;
        let previous = std::mem::replace(&mut self.engine, engine);
        if let Err(error) = previous.close() {
            out.line(format_args!("error: closing the previous engine: {error}"));
        }
        out.line(format_args!("ok: {} is open", dir.display()));
        Ok(())
    }

    /// Closes the engine at the end of the session, saying what is lost without a WAL.
    fn close(self, out: &mut Printer<impl Write>) {
        let unflushed = stub::catch(|| {
            let shape = self.engine.shape();
            shape.memtable.num_entries
                + shape
                    .immutable_memtables
                    .iter()
                    .map(|m| m.num_entries)
                    .sum::<usize>()
        });
        let keeps_data = self.temp_dir.is_none();
        if keeps_data
            && !self.options.enable_wal
            && matches!(unflushed, Ok(n) if n > 0)
            && self.interactive
        {
            out.line(
                "note: the WAL is off, so what was not flushed is lost (`flush` or `sync` first)",
            );
        }
        match stub::catch(|| self.engine.close()) {
            Ok(Ok(())) => {}
            Ok(Err(error)) => out.line(format_args!("error: closing the engine: {error}")),
            Err(message) => out.line(message),
        }
    }
}

/// The line for a snapshot number the shell does not hold.
fn no_snapshot(number: u64) -> Failure {
    Failure::Message(format!(
        "error: no snapshot {number} (take one with `snapshot`; `release` drops it)"
    ))
}

/// Opens the engine, turning an error or a stub it reaches into the line that explains it.
fn open_engine(dir: &Path, options: &LsmOptions) -> Result<Arc<MiniLsm>, String> {
    match stub::catch(|| MiniLsm::open(dir, options.clone())) {
        Ok(Ok(engine)) => Ok(engine),
        Ok(Err(error)) => Err(format!("error: {error}")),
        // Opening runs that day's code with the options of `--day` (7 by default): point a
        // student who has not got there yet at the flag.
        Err(message) if message.starts_with("not implemented yet") => Err(format!(
            "{message}\nthe engine cannot open before that day's code is written: start the \
             shell with --day N for the day you are on (the default is 7)"
        )),
        Err(message) => Err(message),
    }
}

/// Whether two paths name the same directory (`false` when either cannot be resolved).
fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// One line naming the features and sizes of `options`.
fn describe_options(options: &LsmOptions) -> String {
    let switch = |on: bool| if on { "on" } else { "off" };
    let compaction = options.compaction != CompactionOptions::NoCompaction;
    format!(
        "options for day {}: compaction {}, WAL {}, bloom {} bits/key; block {}, memtable {}, \
         target SST {}",
        options.required_day(),
        switch(compaction),
        switch(options.enable_wal),
        options.bloom_bits_per_key,
        draw::bytes(options.block_size as u64),
        draw::bytes(options.memtable_size as u64),
        draw::bytes(options.target_sst_size as u64),
    )
}

/// Prints every entry of `scan`, then how many there were.
fn print_scan(scan: Scan, out: &mut Printer<impl Write>) -> Result<(), Failure> {
    let mut count = 0usize;
    for entry in scan {
        let (key, value) = entry?;
        out.line(format_args!(
            "{} = {}",
            command::show(&key),
            command::show(&value)
        ));
        count += 1;
        if out.is_broken() {
            break;
        }
    }
    out.line(format_args!(
        "({count} {})",
        if count == 1 { "entry" } else { "entries" }
    ));
    Ok(())
}

/// Ranges at least this long print their progress every tenth.
const FILL_PROGRESS_FROM: u64 = 10_000;

/// `fill FROM TO`: puts `key_{i:06}` = `value_{i}` for every `i` in `FROM..TO`.
fn fill(
    engine: &MiniLsm,
    from: u64,
    to: u64,
    out: &mut Printer<impl Write>,
) -> Result<(), Failure> {
    let total = to - from;
    let mut next_tenth = 1;
    for i in from..to {
        engine.put(
            format!("key_{i:06}").as_bytes(),
            format!("value_{i}").as_bytes(),
        )?;
        let done = i - from + 1;
        if total >= FILL_PROGRESS_FROM && next_tenth < 10 && reached_tenth(done, total, next_tenth)
        {
            out.line(format_args!("  {}% ({done}/{total} keys)", next_tenth * 10));
            next_tenth += 1;
        }
    }
    out.line(format_args!(
        "ok: {total} keys, key_{from:06} .. key_{:06}",
        to - 1
    ));
    Ok(())
}

/// Whether `done` of `total` is at least `tenth` tenths of it.
fn reached_tenth(done: u64, total: u64, tenth: u64) -> bool {
    u128::from(done) * 10 >= u128::from(total) * u128::from(tenth)
}

/// `dump K`: which layers a `get` of `K` searches, newest first, and what it returns.
fn dump(engine: &MiniLsm, key: &[u8], out: &mut Printer<impl Write>) -> Result<(), Failure> {
    out.line(draw::dump(&engine.shape(), key).trim_end());
    let answer = match engine.get(key)? {
        Some(value) => command::show(&value),
        None => "(not found)".to_string(),
    };
    out.line(format_args!("get {} = {answer}", command::show(key)));
    Ok(())
}
