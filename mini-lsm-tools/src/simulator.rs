//! `compaction-simulator`: the leveled controller of day 5 (or, with `--controller tiered`, the
//! tiered one of day 10) driven over a tree that exists only as sizes, to watch level sizes and
//! write amplification grow without writing a byte of data.
//!
//! ```text
//! cargo run -p mini-lsm-tools --bin compaction-simulator -- --steps 200
//! cargo run -p mini-lsm-tools --bin compaction-simulator -- --plot sim.svg
//! cargo run -p mini-lsm-tools --bin compaction-simulator -- --compare --plot compare.svg
//! cargo x sim -- --steps 200          # your controller (the starter)
//! ```
//!
//! Each step flushes one memtable: a new L0 SST of `--flush-size` bytes whose key range depends on
//! the workload. Then it asks [`LeveledCompactionController::generate_task`] for a task, applies
//! it, and asks again until the controller answers `None`, as
//! [`crate::engine::lsm_storage::LsmStorageInner::compact_until_idle`] does. Applying a task is a merge
//! of sizes: the outputs hold the inputs' bytes (less what overwrites hide, see [`merge`]), cut
//! into SSTs of `--sst-size` with key ranges spread evenly over the inputs' range. After each step it prints a line: the size of every level, the bytes flushed and
//! compacted so far, and the write amplification `(flushed + compacted) / flushed`.
//!
//! The controller reads only a [`TreeShape`], so the simulation is the shape itself: SST ids, key
//! ranges (8-byte big-endian numbers) and sizes. With the starter, the first call reaches a
//! `todo!()`; the binary prints `not implemented yet: day 5 (LeveledCompactionController::…)`
//! and exits with status 1.
//!
//! `--compare` runs the same workload under both controllers and prints, for each, the last row
//! and three amplifications: write (bytes written per byte flushed), space (bytes stored per
//! live byte: what a merge of every run would keep, under the overwrite model) and read (the
//! sorted runs a point read may probe: each L0 SST and each non-empty level); with `--plot`, it
//! draws the three per step for both.

mod plot;

use std::collections::{HashMap, HashSet};
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use bytes::Bytes;
use clap::builder::RangedU64ValueParser;
use clap::{Parser, ValueEnum};

use crate::cli::{parse_size, stub};
use crate::engine::compact::CompactionTask;
use crate::engine::compact::leveled::LeveledCompactionController;
use crate::engine::compact::tiered::TieredCompactionController;
use crate::engine::inspect::{LevelInfo, MemTableInfo, SstInfo, TreeShape};
use crate::engine::options::{LeveledCompactionOptions, TieredCompactionOptions};

/// The command line of `compaction-simulator`.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "compaction-simulator",
    about = "Drives the leveled (or tiered) compaction controller over simulated flushes (sizes \
             only, no data) and prints the level sizes and the write amplification after each \
             one.",
    after_help = "Sizes take a suffix K, M or G (x1024, x1024², x1024³). Example:\n  \
                  compaction-simulator --steps 400 --base-level-size 8M --plot sim.svg"
)]
pub struct Args {
    /// Compact L0 once it holds this many SSTs (level0_file_num_compaction_trigger)
    #[arg(long, value_name = "N", default_value_t = 4,
          value_parser = RangedU64ValueParser::<usize>::new().range(1..=1000))]
    pub level0_trigger: usize,

    /// Each level's target is this many times the one above it (level_size_multiplier)
    #[arg(long, value_name = "N", default_value_t = 10,
          value_parser = RangedU64ValueParser::<usize>::new().range(2..=1000))]
    pub multiplier: usize,

    /// Target size of the base level (base_level_size_bytes)
    #[arg(long, value_name = "SIZE", default_value = "64M", value_parser = parse_positive_size)]
    pub base_level_size: u64,

    /// Number of levels below L0 (max_levels; tiered: the level slots, one sorted run each)
    #[arg(long, value_name = "N", default_value_t = 4,
          value_parser = RangedU64ValueParser::<usize>::new().range(1..=MAX_LEVELS as u64))]
    pub max_levels: usize,

    /// Size of the SSTs a compaction writes (target_sst_size)
    #[arg(long, value_name = "SIZE", default_value = "2M", value_parser = parse_positive_size)]
    pub sst_size: u64,

    /// Size of a flushed memtable, that is of each new L0 SST (memtable_size)
    #[arg(long, value_name = "SIZE", default_value = "2M", value_parser = parse_positive_size)]
    pub flush_size: u64,

    /// Number of flushes to simulate; one line is printed after each
    #[arg(long, value_name = "N", default_value_t = 500,
          value_parser = RangedU64ValueParser::<usize>::new().range(1..=MAX_STEPS as u64))]
    pub steps: usize,

    /// The keys each flush holds: `uniform` (random keys, so every flush spans the whole key
    /// space) or `sequential` (increasing keys, so every flush is a new narrow range after the
    /// last)
    #[arg(long, value_enum, default_value_t = Workload::Uniform)]
    pub workload: Workload,

    /// Share of each flush, 0 to 1, that overwrites keys written earlier. A rough model: the
    /// older versions are dropped, up to that many bytes, by the compactions that merge the flushed
    /// data with older data whose key range it overlaps. Sequential flushes overlap nothing
    /// older, so it changes nothing there
    #[arg(long, value_name = "FRACTION", default_value_t = 0.0, value_parser = parse_fraction)]
    pub overwrite: f64,

    /// Also draw the level sizes and the write amplification over the steps into this SVG file
    /// (with --compare: the write, space and read amplification of both controllers)
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,

    /// The controller: `leveled` (day 5) or `tiered` (day 10, universal compaction)
    #[arg(long, value_enum, default_value_t = ControllerKind::Leveled)]
    pub controller: ControllerKind,

    /// Tiered: merge runs when there are more sorted runs than this (max_runs)
    #[arg(long, value_name = "N", default_value_t = 4,
          value_parser = RangedU64ValueParser::<usize>::new().range(1..=1000))]
    pub max_runs: usize,

    /// Tiered: merge every run when the runs newer than the oldest hold more than this percent
    /// of its bytes (max_size_amplification_percent)
    #[arg(long, value_name = "PERCENT", default_value_t = 200,
          value_parser = RangedU64ValueParser::<u64>::new().range(1..=100_000))]
    pub max_size_amp: u64,

    /// Tiered: the next older run joins a merge while it holds at most (100 + this)% of the
    /// bytes picked so far (size_ratio_percent)
    #[arg(long, value_name = "PERCENT", default_value_t = 1,
          value_parser = RangedU64ValueParser::<u64>::new().range(0..=100_000))]
    pub size_ratio: u64,

    /// Tiered: the size-ratio rule merges at least this many runs (min_merge_width)
    #[arg(long, value_name = "N", default_value_t = 2,
          value_parser = RangedU64ValueParser::<usize>::new().range(2..=1000))]
    pub min_merge_width: usize,

    /// Run the workload under both controllers; print each one's last row and its write, space
    /// and read amplification
    #[arg(long)]
    pub compare: bool,
}

/// Which controller decides the compactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ControllerKind {
    /// Leveled compaction (day 5).
    Leveled,
    /// Tiered (universal) compaction (day 10).
    Tiered,
}

/// How the keys of successive flushes relate, which decides how much compactions overlap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Workload {
    /// Random keys: every flush spans the whole key space and overlaps everything.
    Uniform,
    /// Increasing keys: every flush covers a new range, after all earlier ones.
    Sequential,
}

/// The most levels the table has room for.
pub const MAX_LEVELS: usize = 9;

/// The most steps one run may take (a line each).
pub const MAX_STEPS: usize = 100_000;

/// The most SSTs the flushed bytes may fill: more would take minutes.
const MAX_SSTS: u64 = 200_000;

/// The most compactions one step may run before the simulation gives up on the controller.
const MAX_COMPACTIONS_PER_STEP: usize = 100_000;

/// Keys are numbers below this, stored as 8-byte big-endian keys.
const KEY_SPACE: u64 = 1 << 48;

/// How many keys a sequential flush covers.
const SEQUENTIAL_KEYS_PER_FLUSH: u64 = 1 << 20;

/// [`crate::cli`]'s size parser, refusing 0.
fn parse_positive_size(text: &str) -> Result<u64, String> {
    match parse_size(text)? {
        0 => Err(format!("`{text}` is not a positive size")),
        size => Ok(size as u64),
    }
}

/// A share between 0 and 1.
fn parse_fraction(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(share) if (0.0..=1.0).contains(&share) => Ok(share),
        _ => Err(format!("`{text}` is not a number from 0 to 1")),
    }
}

impl Args {
    /// The tiered controller's parameters.
    pub fn tiered_options(&self) -> TieredCompactionOptions {
        TieredCompactionOptions {
            max_runs: self.max_runs,
            max_size_amplification_percent: self.max_size_amp,
            size_ratio_percent: self.size_ratio,
            min_merge_width: self.min_merge_width,
            max_levels: self.max_levels,
        }
    }

    /// The leveled controller's parameters.
    pub fn controller_options(&self) -> LeveledCompactionOptions {
        LeveledCompactionOptions {
            level0_file_num_compaction_trigger: self.level0_trigger,
            level_size_multiplier: self.multiplier,
            base_level_size_bytes: self.base_level_size,
            max_levels: self.max_levels,
        }
    }

    /// Checks what clap cannot check option by option: that the run stays small enough.
    pub fn validate(&self) -> Result<(), String> {
        let bytes = self.steps as u128 * self.flush_size as u128;
        let ssts = bytes.div_ceil(self.sst_size as u128);
        if ssts > MAX_SSTS as u128 {
            return Err(format!(
                "error: {} flushes of {} in SSTs of {} make about {ssts} SSTs, more than the \
                 {MAX_SSTS} this simulator handles; raise --sst-size or lower --steps",
                self.steps,
                format_size(self.flush_size),
                format_size(self.sst_size)
            ));
        }
        Ok(())
    }
}

/// What the table and the plot show after one step.
#[derive(Debug, Clone, PartialEq)]
pub struct StepReport {
    /// The step, 1 for the first flush.
    pub step: usize,
    /// Bytes in L0 (index 0) and in each level `1..=max_levels`.
    pub level_sizes: Vec<u64>,
    /// Bytes flushed so far.
    pub flushed: u64,
    /// Bytes written by compactions so far.
    pub compacted: u64,
    /// Compactions run so far.
    pub compactions: u64,
    /// Sorted runs a point read may probe: each L0 SST and each non-empty level.
    pub sorted_runs: usize,
    /// Bytes a merge of every run would keep: the live data, under the overwrite model.
    pub live_bytes: u64,
}

impl StepReport {
    /// `(flushed + compacted) / flushed`, as [`crate::engine::EngineStats::write_amplification`].
    pub fn write_amplification(&self) -> f64 {
        (self.flushed + self.compacted) as f64 / self.flushed as f64
    }

    /// Bytes stored per live byte: 1.0 when nothing overwritten is kept.
    pub fn space_amplification(&self) -> f64 {
        let stored: u64 = self.level_sizes.iter().sum();
        if self.live_bytes == 0 {
            1.0
        } else {
            stored as f64 / self.live_bytes as f64
        }
    }

    /// The sorted runs a point read may probe.
    pub fn read_amplification(&self) -> usize {
        self.sorted_runs
    }
}

/// A controller of either kind, asked for tasks the same way.
#[derive(Debug, Clone)]
enum Controller {
    Leveled(LeveledCompactionController),
    Tiered(TieredCompactionController),
}

impl Controller {
    fn generate_task(&self, shape: &TreeShape) -> Option<CompactionTask> {
        match self {
            Controller::Leveled(controller) => controller.generate_task(shape),
            Controller::Tiered(controller) => controller.generate_task(shape),
        }
    }
}

/// A tree of sizes and the controller that compacts it.
#[derive(Debug, Clone)]
pub struct Simulation {
    controller: Controller,
    max_levels: usize,
    flush_size: u64,
    sst_size: u64,
    workload: Workload,
    overwrite: f64,
    shape: TreeShape,
    next_id: usize,
    steps: usize,
    flushed: u64,
    compacted: u64,
    /// Bytes that overwrites hid and compactions dropped: the tree holds `flushed - dropped`.
    dropped: u64,
    /// Per SST id, the bytes of older versions it overwrites that no compaction has dropped yet
    /// (see [`Run::hides`]); only SSTs that hide something are listed.
    hides: HashMap<usize, u64>,
    compactions: u64,
}

impl Simulation {
    /// An empty tree with the parameters of `args`.
    pub fn new(args: &Args) -> Simulation {
        Simulation::with_controller(args, args.controller)
    }

    /// An empty tree with the parameters of `args`, compacted by the controller `kind`.
    pub fn with_controller(args: &Args, kind: ControllerKind) -> Simulation {
        let max_levels = args.max_levels;
        let controller = match kind {
            ControllerKind::Leveled => {
                Controller::Leveled(LeveledCompactionController::new(args.controller_options()))
            }
            ControllerKind::Tiered => {
                Controller::Tiered(TieredCompactionController::new(args.tiered_options()))
            }
        };
        let empty_memtable = MemTableInfo {
            id: 0,
            approximate_size: 0,
            num_entries: 0,
        };
        let levels = (1..=max_levels)
            .map(|level| LevelInfo {
                level,
                ssts: Vec::new(),
            })
            .collect();
        Simulation {
            controller,
            max_levels,
            flush_size: args.flush_size,
            sst_size: args.sst_size,
            workload: args.workload,
            overwrite: args.overwrite,
            shape: TreeShape {
                memtable: empty_memtable,
                immutable_memtables: Vec::new(),
                l0: Vec::new(),
                levels,
            },
            next_id: 1,
            steps: 0,
            flushed: 0,
            compacted: 0,
            dropped: 0,
            hides: HashMap::new(),
            compactions: 0,
        }
    }

    /// The tree as the controller sees it.
    pub fn shape(&self) -> &TreeShape {
        &self.shape
    }

    /// Bytes that compactions dropped as hidden by overwrites, so far.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// One step: a flush, then compactions until the controller has nothing to do.
    pub fn step(&mut self) -> Result<StepReport, String> {
        self.flush();
        let mut runs = 0;
        while self.compact_once()?.is_some() {
            runs += 1;
            if runs == MAX_COMPACTIONS_PER_STEP {
                return Err(format!(
                    "error: the controller still had work after {runs} compactions in step {}; \
                     does each task make progress?",
                    self.steps
                ));
            }
        }
        Ok(self.report())
    }

    /// Adds the next flushed memtable to L0 as a new SST, newest first.
    pub fn flush(&mut self) {
        let (first, last) = match self.workload {
            Workload::Uniform => (0, KEY_SPACE - 1),
            Workload::Sequential => {
                let first = self.steps as u64 * SEQUENTIAL_KEYS_PER_FLUSH;
                (first, first + SEQUENTIAL_KEYS_PER_FLUSH - 1)
            }
        };
        let hides = (self.flush_size as f64 * self.overwrite) as u64;
        let sst = self.new_sst(Run {
            first,
            last,
            size: self.flush_size,
            hides,
        });
        self.shape.l0.insert(0, sst);
        self.steps += 1;
        self.flushed += self.flush_size;
    }

    /// Asks the controller for a task and applies it; returns it, or `None` when there was none.
    pub fn compact_once(&mut self) -> Result<Option<CompactionTask>, String> {
        let Some(task) = self.controller.generate_task(&self.shape) else {
            return Ok(None);
        };
        self.apply(&task)?;
        Ok(Some(task))
    }

    /// The numbers of the table's line for the current tree.
    pub fn report(&self) -> StepReport {
        let l0 = self.shape.l0.iter().map(|sst| sst.size_bytes).sum();
        let levels = self
            .shape
            .levels
            .iter()
            .map(|level| total_size(&level.ssts));
        StepReport {
            step: self.steps,
            level_sizes: std::iter::once(l0).chain(levels).collect(),
            flushed: self.flushed,
            compacted: self.compacted,
            compactions: self.compactions,
            sorted_runs: self.shape.sorted_run_count(),
            live_bytes: self.live_bytes(),
        }
    }

    /// What a merge of every run would keep: the runs, oldest first (the bottom level up, then
    /// L0 from its oldest SST), through [`merge`], without changing the tree.
    fn live_bytes(&self) -> u64 {
        let as_run = |ssts: &[SstInfo]| {
            ssts.iter()
                .map(|sst| Run {
                    first: key_number(&sst.first_key),
                    last: key_number(&sst.last_key),
                    size: sst.size_bytes,
                    hides: self.hides.get(&sst.id).copied().unwrap_or(0),
                })
                .reduce(|a, b| Run {
                    first: a.first.min(b.first),
                    last: a.last.max(b.last),
                    size: a.size + b.size,
                    hides: a.hides + b.hides,
                })
        };
        let levels = self
            .shape
            .levels
            .iter()
            .rev()
            .filter_map(|l| as_run(&l.ssts));
        let l0 = self
            .shape
            .l0
            .iter()
            .rev()
            .filter_map(|sst| as_run(std::slice::from_ref(sst)));
        let runs: Vec<Run> = levels.chain(l0).collect();
        merge(&runs).size
    }

    /// Runs `task` on sizes: removes its inputs, merges them into new SSTs in the output level
    /// (kept in key order), and counts the bytes written.
    fn apply(&mut self, task: &CompactionTask) -> Result<(), String> {
        if !(1..=self.max_levels).contains(&task.output_level) {
            return Err(format!(
                "error: the controller chose output level {}, but the levels are 1 to {}",
                task.output_level, self.max_levels
            ));
        }
        // Inputs from the oldest run to the newest: the lower level, the upper one, then L0 from
        // its oldest SST. Each run is one input of the merge model.
        let mut runs = Vec::new();
        for (level, ids) in task.level_sst_ids.iter().rev() {
            runs.extend(self.take(Some(*level), ids)?);
        }
        for id in task.l0_sst_ids.iter().rev() {
            runs.extend(self.take(None, std::slice::from_ref(id))?);
        }
        if runs.is_empty() {
            return Err("error: the controller returned a task without input SSTs".into());
        }
        let input: u64 = runs.iter().map(|run| run.size).sum();
        let merged = merge(&runs);
        let outputs: Vec<SstInfo> = cut(merged, self.sst_size)
            .into_iter()
            .map(|run| self.new_sst(run))
            .collect();
        let level = &mut self.shape.levels[task.output_level - 1].ssts;
        level.extend(outputs);
        level.sort_by(|a, b| a.first_key.cmp(&b.first_key));
        self.dropped += input - merged.size;
        self.compacted += merged.size;
        self.compactions += 1;
        Ok(())
    }

    /// Removes the SSTs `ids` from L0 (`level` `None`) or from a level, and returns them as one
    /// run (`None` for no SSTs). An id that is not there is the controller's mistake.
    fn take(&mut self, level: Option<usize>, ids: &[usize]) -> Result<Option<Run>, String> {
        let place = level.map_or("L0".to_string(), |level| format!("L{level}"));
        let ssts = match level {
            None => &mut self.shape.l0,
            Some(level) => match self.shape.levels.get_mut(level.wrapping_sub(1)) {
                Some(found) => &mut found.ssts,
                None => return Err(format!("error: the controller named level {level}")),
            },
        };
        let wanted: HashSet<usize> = ids.iter().copied().collect();
        let (taken, kept): (Vec<SstInfo>, Vec<SstInfo>) = std::mem::take(ssts)
            .into_iter()
            .partition(|sst| wanted.contains(&sst.id));
        *ssts = kept;
        if let Some(missing) = ids
            .iter()
            .find(|id| !taken.iter().any(|sst| sst.id == **id))
        {
            return Err(format!(
                "error: the controller named SST {missing} in {place}, which is not there"
            ));
        }
        let runs: Vec<Run> = taken
            .iter()
            .map(|sst| Run {
                first: key_number(&sst.first_key),
                last: key_number(&sst.last_key),
                size: sst.size_bytes,
                hides: self.hides.remove(&sst.id).unwrap_or(0),
            })
            .collect();
        Ok(runs.into_iter().reduce(|a, b| Run {
            first: a.first.min(b.first),
            last: a.last.max(b.last),
            size: a.size + b.size,
            hides: a.hides + b.hides,
        }))
    }

    /// A new SST with the next id, holding `run`.
    fn new_sst(&mut self, run: Run) -> SstInfo {
        let id = self.next_id;
        self.next_id += 1;
        if run.hides > 0 {
            self.hides.insert(id, run.hides);
        }
        SstInfo {
            id,
            first_key: key(run.first),
            last_key: key(run.last),
            size_bytes: run.size,
        }
    }
}

/// Key numbers and bytes: an input of a simulated merge, or an output SST before it has an id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    /// The smallest key number.
    pub first: u64,
    /// The largest key number.
    pub last: u64,
    /// Bytes.
    pub size: u64,
    /// Bytes of older versions, somewhere below, that these bytes overwrite: a merge with them
    /// drops them (the overwrite model of `--overwrite`).
    pub hides: u64,
}

/// The output of a merge of `runs` (oldest first): each run drops, from the older runs whose key
/// range it overlaps, as many bytes as it still hides (at most what they hold), and hides that
/// much less. Never less than the newest run: what it holds is the newest version.
pub fn merge(runs: &[Run]) -> Run {
    let mut older: Vec<Run> = Vec::new();
    for run in runs {
        let mut hides = run.hides;
        for old in older.iter_mut().filter(|old| overlaps(old, run)) {
            let hidden = hides.min(old.size);
            old.size -= hidden;
            hides -= hidden;
        }
        older.push(Run { hides, ..*run });
    }
    Run {
        first: older.iter().map(|run| run.first).min().unwrap_or(0),
        last: older.iter().map(|run| run.last).max().unwrap_or(0),
        size: older.iter().map(|run| run.size).sum(),
        hides: older.iter().map(|run| run.hides).sum(),
    }
}

/// Whether two key ranges share a key.
fn overlaps(a: &Run, b: &Run) -> bool {
    a.first <= b.last && b.first <= a.last
}

/// `run` cut into SSTs of `sst_size` bytes (the last one smaller) with its key range spread
/// evenly, in key order, and what it hides shared by size. Never more SSTs than keys: then the
/// bytes are spread evenly too.
pub fn cut(run: Run, sst_size: u64) -> Vec<Run> {
    let keys = u128::from(run.last - run.first) + 1;
    let by_size = run.size.div_ceil(sst_size).max(1);
    let count = u128::from(by_size).min(keys);
    // The `j`-th of `count` even shares of `total`, as a boundary: share j is at(j)..at(j + 1).
    let at = |total: u128, j: u128| (total * j / count) as u64;
    let mut outputs: Vec<Run> = (0..count)
        .map(|j| Run {
            first: run.first + at(keys, j),
            last: run.first + at(keys, j + 1) - 1,
            size: if count == u128::from(by_size) {
                sst_size.min(run.size - sst_size * j as u64)
            } else {
                at(u128::from(run.size), j + 1) - at(u128::from(run.size), j)
            },
            hides: 0,
        })
        .collect();
    let mut hides_left = run.hides;
    for output in &mut outputs {
        let share = (u128::from(run.hides) * u128::from(output.size))
            .checked_div(u128::from(run.size))
            .unwrap_or(0) as u64;
        output.hides = share.min(hides_left);
        hides_left -= output.hides;
    }
    if let Some(last) = outputs.last_mut() {
        last.hides += hides_left;
    }
    outputs
}

/// The total size of `ssts`.
fn total_size(ssts: &[SstInfo]) -> u64 {
    ssts.iter().map(|sst| sst.size_bytes).sum()
}

/// The key of number `n`: 8 bytes, big-endian, so that byte order is number order.
fn key(n: u64) -> Bytes {
    Bytes::copy_from_slice(&n.to_be_bytes())
}

/// The number of a key made by [`key`].
fn key_number(key: &[u8]) -> u64 {
    key.iter().fold(0, |n, &byte| (n << 8) | u64::from(byte))
}

/// `12.5 MiB`: bytes in the largest binary unit that keeps the number at least 1, with one
/// decimal below 100 of the unit.
pub fn format_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if value < 100.0 {
        format!("{value:.1} {}", UNITS[unit])
    } else {
        format!("{value:.0} {}", UNITS[unit])
    }
}

/// Width of a size column of the table.
const COLUMN: usize = 10;

/// The table's heading line for `max_levels` levels.
pub fn table_header(max_levels: usize) -> String {
    let mut line = format!("{:>6}", "step");
    for level in 0..=max_levels {
        line += &format!("  {:>COLUMN$}", format!("L{level}"));
    }
    line + &format!(
        "  {:>COLUMN$}  {:>COLUMN$}  {:>9}",
        "flushed", "compacted", "write amp"
    )
}

/// The table's line for one step.
pub fn table_row(report: &StepReport) -> String {
    let mut line = format!("{:>6}", report.step);
    for &size in &report.level_sizes {
        line += &format!("  {:>COLUMN$}", format_size(size));
    }
    line + &format!(
        "  {:>COLUMN$}  {:>COLUMN$}  {:>9.2}",
        format_size(report.flushed),
        format_size(report.compacted),
        report.write_amplification()
    )
}

/// Runs every step of `args` under the controller `kind`, printing only the table's heading and
/// its last row to `out`, and returns the reports.
fn run_quietly(
    args: &Args,
    kind: ControllerKind,
    out: &mut impl Write,
) -> Result<Vec<StepReport>, String> {
    let write_error = |e: io::Error| format!("error: writing the table: {e}");
    let mut simulation = Simulation::with_controller(args, kind);
    let mut reports = Vec::with_capacity(args.steps);
    for _ in 0..args.steps {
        reports.push(simulation.step()?);
    }
    let name = match kind {
        ControllerKind::Leveled => "leveled",
        ControllerKind::Tiered => "tiered",
    };
    writeln!(out, "{name}:").map_err(write_error)?;
    writeln!(out, "{}", table_header(args.max_levels)).map_err(write_error)?;
    if let Some(last) = reports.last() {
        writeln!(out, "{}", table_row(last)).map_err(write_error)?;
    }
    Ok(reports)
}

/// The comparison of both controllers on the workload of `args`: both last rows, then one line
/// per controller with its write, space and read amplification (last step, and the most over
/// the steps). Returns the leveled and the tiered reports.
pub fn compare(
    args: &Args,
    out: &mut impl Write,
) -> Result<(Vec<StepReport>, Vec<StepReport>), String> {
    args.validate()?;
    let write_error = |e: io::Error| format!("error: writing the table: {e}");
    let leveled = run_quietly(args, ControllerKind::Leveled, out)?;
    let tiered = run_quietly(args, ControllerKind::Tiered, out)?;
    writeln!(
        out,
        "\n{:<10}  {:>9}  {:>9}  {:>9}  {:>9}  {:>9}",
        "controller", "write amp", "space amp", "max space", "read amp", "max read"
    )
    .map_err(write_error)?;
    for (name, reports) in [("leveled", &leveled), ("tiered", &tiered)] {
        let Some(last) = reports.last() else {
            continue;
        };
        let most_space = reports
            .iter()
            .map(StepReport::space_amplification)
            .fold(1.0, f64::max);
        let most_read = reports.iter().map(|r| r.sorted_runs).max().unwrap_or(0);
        writeln!(
            out,
            "{name:<10}  {:>9.2}  {:>9.2}  {:>9.2}  {:>9}  {:>9}",
            last.write_amplification(),
            last.space_amplification(),
            most_space,
            last.sorted_runs,
            most_read
        )
        .map_err(write_error)?;
    }
    if let Some(path) = &args.plot {
        let svg = plot::compare_svg(args, &leveled, &tiered);
        std::fs::write(path, svg)
            .map_err(|e| format!("error: cannot write the plot {}: {e}", path.display()))?;
        writeln!(out, "plot written to {}", path.display()).map_err(write_error)?;
    }
    Ok((leveled, tiered))
}

/// Runs every step of `args`, printing the table to `out`, and returns the reports (with
/// `--compare`, the tiered ones, after [`compare`]'s output).
pub fn run(args: &Args, out: &mut impl Write) -> Result<Vec<StepReport>, String> {
    if args.compare {
        return compare(args, out).map(|(_, tiered)| tiered);
    }
    args.validate()?;
    let write_error = |e: io::Error| format!("error: writing the table: {e}");
    writeln!(out, "{}", table_header(args.max_levels)).map_err(write_error)?;
    let mut simulation = Simulation::new(args);
    let mut reports = Vec::with_capacity(args.steps);
    for _ in 0..args.steps {
        let report = simulation.step()?;
        writeln!(out, "{}", table_row(&report)).map_err(write_error)?;
        reports.push(report);
    }
    if let Some(path) = &args.plot {
        let svg = plot::svg(args, &reports);
        std::fs::write(path, svg)
            .map_err(|e| format!("error: cannot write the plot {}: {e}", path.display()))?;
        writeln!(out, "plot written to {}", path.display()).map_err(write_error)?;
    }
    Ok(reports)
}

/// What the binary does: parses the arguments, runs, and turns every failure into one line on
/// standard error (status 2 for bad arguments, 1 for a failed run or a stub).
pub fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(e) if !e.use_stderr() => {
            // --help and --version: clap prints them as they are.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let rendered = e.render().to_string();
            eprintln!(
                "{}",
                rendered.lines().next().unwrap_or("error: bad arguments")
            );
            return ExitCode::from(2);
        }
    };
    let stdout = io::stdout();
    match stub::catch(|| run(&args, &mut stdout.lock())) {
        Ok(Ok(_)) => ExitCode::SUCCESS,
        Ok(Err(message)) | Err(message) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    // These tests use no code of the controller, so they pass in the starter too; the tests that
    // drive the controller are in tests/compaction_simulator.rs (reference only).
    use super::*;

    /// A run that hides nothing.
    fn run(first: u64, last: u64, size: u64) -> Run {
        Run {
            first,
            last,
            size,
            hides: 0,
        }
    }

    #[test]
    fn cut_makes_full_ssts_then_a_smaller_last_one_over_disjoint_ranges() {
        let ssts = cut(run(100, 1099, 2500), 1000);
        assert_eq!(
            ssts,
            [
                run(100, 432, 1000),
                run(433, 765, 1000),
                run(766, 1099, 500)
            ]
        );
        let hiding = cut(
            Run {
                hides: 100,
                ..run(0, 99, 250)
            },
            100,
        );
        assert_eq!(
            hiding.iter().map(|r| r.hides).collect::<Vec<_>>(),
            [40, 40, 20]
        );
    }

    #[test]
    fn cut_never_makes_more_ssts_than_keys_and_keeps_every_byte() {
        let ssts = cut(run(7, 9, 10_000), 100);
        assert_eq!(ssts.len(), 3, "{ssts:?}");
        assert_eq!(ssts.iter().map(|r| r.size).sum::<u64>(), 10_000);
        assert_eq!((ssts[0].first, ssts[2].last), (7, 9));
        assert!(ssts.iter().all(|r| r.first == r.last), "{ssts:?}");
        assert_eq!(cut(run(5, 5, 1), 100), [run(5, 5, 1)]);
    }

    #[test]
    fn merge_drops_only_what_newer_overlapping_runs_hide_and_only_once() {
        let old = run(0, 99, 1000);
        let new = run(50, 60, 100);
        assert_eq!(merge(&[old, new]), run(0, 99, 1100));
        let hiding = Run { hides: 50, ..new };
        assert_eq!(merge(&[old, hiding]), run(0, 99, 1050));
        // A newer run never hides more than the older runs hold; the rest stays to hide.
        let greedy = Run {
            hides: 100,
            ..run(0, 9, 100)
        };
        assert_eq!(
            merge(&[run(0, 9, 10), greedy]),
            Run {
                hides: 90,
                ..run(0, 9, 100)
            }
        );
        // Disjoint key ranges hide nothing.
        let beside = Run {
            hides: 100,
            ..run(10, 19, 100)
        };
        assert_eq!(merge(&[run(0, 9, 10), beside]).size, 110);
    }

    #[test]
    fn keys_order_as_their_numbers() {
        assert!(key(255) < key(256));
        assert_eq!(key_number(&key(KEY_SPACE - 1)), KEY_SPACE - 1);
    }

    #[test]
    fn sizes_print_in_binary_units() {
        assert_eq!(format_size(0), "0 B");
        assert_eq!(format_size(1023), "1023 B");
        assert_eq!(format_size(1536), "1.5 KiB");
        assert_eq!(format_size(300 << 20), "300 MiB");
        assert_eq!(format_size(5 << 30), "5.0 GiB");
    }

    #[test]
    fn options_out_of_range_are_one_line_errors() {
        let parse = |args: &[&str]| {
            Args::try_parse_from(std::iter::once("compaction-simulator").chain(args.to_vec()))
        };
        let defaults = parse(&[]).expect("the defaults parse");
        assert_eq!(
            defaults.controller_options(),
            LeveledCompactionOptions::default()
        );
        for bad in [
            &["--multiplier", "1"][..],
            &["--level0-trigger", "0"],
            &["--max-levels", "10"],
            &["--sst-size", "0"],
            &["--flush-size", "2X"],
            &["--overwrite", "1.5"],
            &["--workload", "zipf"],
            &["--steps", "0"],
            &["--controller", "spiral"],
            &["--max-runs", "0"],
            &["--max-size-amp", "0"],
            &["--size-ratio", "100001"],
            &["--min-merge-width", "1"],
        ] {
            let error = parse(bad).expect_err("out of range");
            let first = error.render().to_string();
            assert!(first.starts_with("error: "), "{bad:?}: {first}");
        }
        let too_big = parse(&["--steps", "100000", "--sst-size", "1K"]).expect("in range");
        let message = too_big.validate().expect_err("too many SSTs");
        assert!(
            message.starts_with("error: ") && !message.contains('\n'),
            "{message}"
        );
    }
}
