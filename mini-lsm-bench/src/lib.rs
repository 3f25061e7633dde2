//! mini-lsm-bench: LevelDB `db_bench`-style workloads run against the reference engine and
//! against fjall, redb and (with the `rocksdb` feature) RocksDB, configured for comparable work.
//! See README.md for the method and the measured results.

pub mod curve;
pub mod engines;
pub mod keys;
pub mod output;
pub mod stats;
pub mod workloads;

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, ensure};
use clap::{Parser, ValueEnum};

use engines::EngineConfig;
use keys::Dist;
use output::Record;
use workloads::Dataset;

/// On or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Switch {
    On,
    Off,
}

/// The report's format on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

/// The command line.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "mini-lsm-bench",
    about = "db_bench-style benchmarks of mini-lsm against fjall, redb (and RocksDB)"
)]
pub struct Args {
    /// Number of keys (`--keys` works too).
    #[arg(long, visible_alias = "keys", default_value_t = 1_000_000)]
    pub num: usize,
    /// Key size in bytes (zero-padded decimal numbers).
    #[arg(long, default_value_t = 16)]
    pub key_size: usize,
    /// Value size in bytes (random, incompressible).
    #[arg(long, default_value_t = 100)]
    pub value_size: usize,
    /// Seed of every random choice.
    #[arg(long, default_value_t = 301)]
    pub seed: u64,
    /// Operations of each workload that is not a fill or `readseq` (default: `--num`): at 10 M
    /// keys, `--ops 1000000` measures reads and overwrites without spending an hour on each.
    #[arg(long)]
    pub ops: Option<usize>,
    /// Engines to run, comma-separated: mini-lsm, fjall, redb, rocksdb (feature `rocksdb`).
    #[arg(long, value_delimiter = ',', default_value = "mini-lsm,fjall,redb")]
    pub engines: Vec<String>,
    /// Workloads to run in this order, comma-separated (default: all).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "fillseq,fillrandom,overwrite,readrandom,readmissing,seekrandom,readseq,mixed,deleterandom"
    )]
    pub workloads: Vec<String>,
    /// Fsync after every N writes (0: never; writes are buffered, not fsynced).
    #[arg(long, default_value_t = 0)]
    pub sync_every: usize,
    /// Thread counts, comma-separated: every workload but `readseq` runs once per count, its
    /// operations split over that many threads (e.g. `--threads 1,2,4`).
    #[arg(long, value_delimiter = ',', default_value = "1")]
    pub threads: Vec<usize>,
    /// Which keys the random workloads touch: every key equally often, or YCSB's scrambled
    /// zipfian (theta 0.99: a few hot keys get most operations).
    #[arg(long, value_enum, default_value_t = Dist::Uniform)]
    pub dist: Dist,
    /// Data block size in bytes.
    #[arg(long, default_value_t = 4096)]
    pub block_size: usize,
    /// Target SST size in bytes.
    #[arg(long, default_value_t = 2 << 20)]
    pub sst_size: usize,
    /// Memtable size in bytes.
    #[arg(long, default_value_t = 2 << 20)]
    pub memtable_size: usize,
    /// Block cache size in bytes.
    #[arg(long, default_value_t = 64 << 20)]
    pub cache_size: usize,
    /// Bloom filter bits per key (0: no filter).
    #[arg(long, default_value_t = 10)]
    pub bloom_bits: usize,
    /// Background (leveled) compaction.
    #[arg(long, value_enum, default_value_t = Switch::On)]
    pub compaction: Switch,
    /// mini-lsm's versioned keys and snapshots (Part 2, day 8): `on` measures what sequence
    /// numbers cost.
    #[arg(long, value_enum, default_value_t = Switch::Off)]
    pub mvcc: Switch,
    /// Directory for the databases (default: a temporary directory, deleted at the end).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Report format on stdout.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write one SVG bar chart per metric into this directory.
    #[arg(long, value_name = "DIR")]
    pub plot: Option<PathBuf>,
    /// Run nothing: read earlier `--format json` reports, one per key count, and write into
    /// `--plot DIR` one SVG per metric with a line per engine against the key count. KEYS=FILE
    /// pairs, comma-separated: `--curve 100000=a.json,1000000=b.json,10000000=c.json`.
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "KEYS=FILE",
        requires = "plot"
    )]
    pub curve: Vec<String>,
    /// Run nothing: read an earlier `--format json` report and write its bar charts (as a run
    /// with `--plot` does) into `--plot DIR`.
    #[arg(long, value_name = "FILE", requires = "plot", conflicts_with = "curve")]
    pub bars: Option<PathBuf>,
}

impl Args {
    fn engine_config(&self) -> EngineConfig {
        EngineConfig {
            block_size: self.block_size,
            sst_size: self.sst_size,
            memtable_size: self.memtable_size,
            cache_size: self.cache_size,
            bloom_bits: self.bloom_bits,
            compaction: self.compaction == Switch::On,
            mvcc: self.mvcc == Switch::On,
        }
    }

    /// The configuration block printed before the results.
    pub fn describe(&self) -> String {
        let config = self.engine_config();
        let mut text = format!(
            "keys {} x ({} B key + {} B value), seed {}, fsync {}, threads {}, keys chosen {}\n",
            self.num,
            self.key_size,
            self.value_size,
            self.seed,
            if self.sync_every == 0 {
                "never per write (once at the end of each write workload)".to_string()
            } else {
                format!("every {} writes", self.sync_every)
            },
            self.threads
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(","),
            match self.dist {
                Dist::Uniform => "uniformly",
                Dist::Zipfian => "zipfian (theta 0.99, scrambled)",
            }
        );
        if let Some(ops) = self.ops {
            text.push_str(&format!(
                "{ops} operations per workload but the fills and readseq\n"
            ));
        }
        for engine in &self.engines {
            text.push_str(&format!(
                "{engine}: {}\n",
                engines::describe(engine, &config)
            ));
        }
        text
    }
}

/// What a run produced: one record per engine and workload, and what each engine that can
/// settle (see [`engines::Engine::settle`]) reported after its last workload.
pub struct Report {
    pub records: Vec<Record>,
    pub settled: Vec<(String, String)>,
}

/// Runs every workload of `args` on every engine of `args`, in order; one record each.
pub fn run(args: &Args) -> Result<Report> {
    for workload in &args.workloads {
        ensure!(
            workloads::ALL.contains(&workload.as_str()),
            "unknown workload {workload:?}; known: {}",
            workloads::ALL.join(", ")
        );
    }
    ensure!(
        !args.threads.is_empty() && !args.threads.contains(&0),
        "--threads needs positive thread counts"
    );
    let known = engines::available();
    for engine in &args.engines {
        ensure!(
            known.contains(&engine.as_str()) || engine == "rocksdb",
            "unknown engine {engine:?}; known: {}",
            known.join(", ")
        );
    }
    let temp;
    let root = match &args.dir {
        Some(dir) => dir.clone(),
        None => {
            temp = tempfile::Builder::new()
                .prefix("mini-lsm-bench")
                .tempdir()?;
            temp.path().to_path_buf()
        }
    };
    let config = args.engine_config();
    let mut records = Vec::new();
    let mut settled = Vec::new();
    for name in &args.engines {
        let dir = root.join(name);
        let mut data = Dataset::new(
            args.num,
            args.key_size,
            args.value_size,
            args.seed,
            args.sync_every,
            args.dist,
        )?;
        data.ops = args.ops.unwrap_or(args.num);
        // Start every engine from an empty directory.
        remove_dir(&dir)?;
        let mut engine = engines::open(name, &dir, &config)?;
        let mut filled = false;
        // Logical bytes written since the database was last created, for `settle`.
        let mut logical_bytes = 0;
        for workload in &args.workloads {
            // `readseq` is one scan: it runs once, on one thread.
            let thread_counts = if workloads::is_threaded(workload) {
                args.threads.as_slice()
            } else {
                &[1]
            };
            for &threads in thread_counts {
                if workloads::is_fill(workload) && filled {
                    engine.close()?;
                    remove_dir(&dir)?;
                    data.clear();
                    engine = engines::open(name, &dir, &config)?;
                    logical_bytes = 0;
                }
                if !workloads::is_fill(workload) && !filled {
                    eprintln!(
                        "{name}: {workload} needs data: running fillrandom first (not reported)"
                    );
                    let label = format!("{name} preload");
                    workloads::run("fillrandom", engine.as_ref(), &data, 1, &label)?;
                    engine.sync()?;
                }
                filled = true;
                let label = format!("{name} {workload} x{threads}");
                eprintln!("{label} ...");
                let run = Run {
                    workload,
                    threads,
                    name,
                    label: &label,
                };
                let (record, logical) = measure(&run, engine.as_ref(), &data, &dir)?;
                records.push(record);
                logical_bytes += logical;
            }
        }
        if let Some(summary) = engine.settle(logical_bytes)? {
            eprintln!("{name}: {summary}");
            settled.push((name.clone(), summary));
        }
        engine.close()?;
        if args.dir.is_none() {
            remove_dir(&dir)?;
        }
    }
    Ok(Report { records, settled })
}

/// One workload run: which, on how many threads, on which engine.
struct Run<'a> {
    workload: &'a str,
    threads: usize,
    name: &'a str,
    /// Prefixes the progress lines.
    label: &'a str,
}

/// Runs one workload and turns its outcome into a record; also returns the logical bytes the
/// workload wrote.
fn measure(
    run: &Run,
    engine: &dyn engines::Engine,
    data: &Dataset,
    dir: &std::path::Path,
) -> Result<(Record, u64)> {
    let Run {
        workload,
        threads,
        name,
        label,
    } = *run;
    let dir_before = stats::dir_size(dir);
    let wchar_before = stats::process_bytes_written();
    let engine_before = engine.engine_bytes_written();
    let lookups_before = engine.block_cache_lookups();
    let outcome = workloads::run(workload, engine, data, threads, label)
        .with_context(|| format!("{name}: {workload}"))?;
    // Write workloads end with an fsync, outside the timed operations, so that the bytes they
    // wrote are on disk before the directory is measured.
    let write_amp = if outcome.logical_bytes_written > 0 {
        let synced = Instant::now();
        engine.sync()?;
        let sync_time = synced.elapsed();
        let written = match (wchar_before, stats::process_bytes_written()) {
            (Some(before), Some(after)) => after.saturating_sub(before),
            _ => stats::dir_size(dir).saturating_sub(dir_before),
        };
        if sync_time.as_secs() >= 1 {
            eprintln!(
                "  {label}: final sync took {:.1} s",
                sync_time.as_secs_f64()
            );
        }
        Some(written as f64 / outcome.logical_bytes_written as f64)
    } else {
        None
    };
    let sst_write_amp = match (engine_before, engine.engine_bytes_written()) {
        (Some(before), Some(after)) if outcome.logical_bytes_written > 0 => {
            Some(after.saturating_sub(before) as f64 / outcome.logical_bytes_written as f64)
        }
        _ => None,
    };
    let mut note = outcome.note;
    if let (Some(before), Some(after)) = (lookups_before, engine.block_cache_lookups())
        && let Some(rate) = hit_rate(before, after)
        && outcome.logical_bytes_written == 0
    {
        let sep = if note.is_empty() { "" } else { "; " };
        note = format!("{note}{sep}block cache hits {:.0} %", rate * 100.0);
    }
    let space_bytes = stats::dir_size(dir);
    let live = data.live_bytes();
    let [p50_us, p99_us, p999_us] = outcome.latencies.percentiles_us();
    let record = Record {
        engine: name.to_string(),
        workload: workload.to_string(),
        threads,
        ops_per_sec: outcome.ops as f64 / outcome.elapsed.as_secs_f64().max(1e-9),
        p50_us,
        p99_us,
        p999_us,
        write_amp,
        space_bytes,
        ops: outcome.ops,
        space_amp: (live > 0).then(|| space_bytes as f64 / live as f64),
        sst_write_amp,
        note,
    };
    eprintln!(
        "  {label}: {:.0} ops/s in {:.2} s",
        record.ops_per_sec,
        outcome.elapsed.as_secs_f64()
    );
    Ok((record, outcome.logical_bytes_written))
}

/// The share of block cache lookups between two `(hits, misses)` counts that hit; `None` when
/// there were none.
fn hit_rate(before: (u64, u64), after: (u64, u64)) -> Option<f64> {
    let hits = after.0.saturating_sub(before.0);
    let misses = after.1.saturating_sub(before.1);
    let lookups = hits + misses;
    (lookups > 0).then(|| hits as f64 / lookups as f64)
}

fn remove_dir(dir: &std::path::Path) -> Result<()> {
    match std::fs::remove_dir_all(dir) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
            Err(error).with_context(|| format!("removing {}", dir.display()))
        }
        _ => Ok(()),
    }
}

/// The whole program: run, then print the report (and write the charts).
pub fn main_with(args: &Args) -> Result<()> {
    if let (false, Some(dir)) = (args.curve.is_empty(), &args.plot) {
        for path in curve::plot(&curve::load(&args.curve)?, dir)? {
            eprintln!("wrote {}", path.display());
        }
        return Ok(());
    }
    if let (Some(file), Some(dir)) = (&args.bars, &args.plot) {
        for path in output::plot(&curve::load_report(file)?, dir)? {
            eprintln!("wrote {}", path.display());
        }
        return Ok(());
    }
    let description = args.describe();
    eprint!("{description}");
    let Report { records, settled } = run(args)?;
    match args.format {
        Format::Table => {
            print!("{description}\n{}", output::table(&records));
            for (engine, summary) in &settled {
                println!("{engine}: {summary}");
            }
            println!(
                "write amp: bytes this process passed to write(2) during the workload (and its final \
                 fsync) / logical bytes written; in parentheses for mini-lsm: SST bytes from stats() \
                 (flushed + compacted, no WAL).\ns-amp: disk blocks of the files in the directory / live keys x \
                 (key + value)."
            );
        }
        Format::Json => println!("{}", output::json(&records)?),
    }
    if let Some(dir) = &args.plot {
        for path in output::plot(&records, dir)? {
            eprintln!("wrote {}", path.display());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::hit_rate;

    #[test]
    fn hit_rate_counts_only_the_lookups_between_the_two_counts() {
        assert_eq!(hit_rate((10, 90), (13, 91)), Some(0.75));
        assert_eq!(hit_rate((5, 5), (5, 5)), None);
    }
}
