//! The db_bench-style workloads, run against one [`Engine`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, bail, ensure};

use crate::engines::Engine;
use crate::keys::{Dist, KeyChooser};
use crate::stats::Latencies;

/// Every workload, in the default order (the fills first, the deletes last).
pub const ALL: [&str; 9] = [
    "fillseq",
    "fillrandom",
    "overwrite",
    "readrandom",
    "readmissing",
    "seekrandom",
    "readseq",
    "mixed",
    "deleterandom",
];

/// Whether `workload` starts from an empty database.
pub fn is_fill(workload: &str) -> bool {
    matches!(workload, "fillseq" | "fillrandom")
}

/// Entries a `seekrandom` operation reads: the one it seeks to and 10 more.
const SEEK_ENTRIES: usize = 11;
/// `readseq` times the scan in chunks of this many entries.
const READSEQ_CHUNK: usize = 1000;
/// The share of reads in `mixed`, in percent.
const MIXED_READ_PERCENT: u32 = 90;

/// What the workloads share: the key space, the values, and which keys are live.
pub struct Dataset {
    pub num: usize,
    /// Operations of each workload that is not a fill or `readseq` (`--ops`; `num` by default).
    pub ops: usize,
    pub key_size: usize,
    pub value_size: usize,
    pub seed: u64,
    pub sync_every: usize,
    /// Which key each random operation touches (`--dist`).
    keys: KeyChooser,
    /// Random bytes; values are windows of it.
    value_source: Vec<u8>,
    /// Which of the `num` keys currently have a value.
    live: Vec<AtomicBool>,
}

impl Dataset {
    pub fn new(
        num: usize,
        key_size: usize,
        value_size: usize,
        seed: u64,
        sync_every: usize,
        dist: Dist,
    ) -> Result<Self> {
        ensure!(num > 0, "--num must be positive");
        // Keys are the decimal numbers 0, 2, 4, … (missing keys are the odd numbers between
        // them), zero-padded to key_size.
        let digits = (2 * num as u64 + 1).to_string().len();
        ensure!(
            key_size >= digits,
            "--key-size {key_size} is too small for {num} keys (needs {digits} digits)"
        );
        let mut rng = fastrand::Rng::with_seed(seed);
        let value_source = (0..(1 << 20) + value_size).map(|_| rng.u8(..)).collect();
        Ok(Dataset {
            num,
            ops: num,
            key_size,
            value_size,
            seed,
            sync_every,
            keys: KeyChooser::new(dist, num),
            value_source,
            live: (0..num).map(|_| AtomicBool::new(false)).collect(),
        })
    }

    /// The key of entry `i` (present after a fill).
    pub fn key(&self, i: usize, buf: &mut Vec<u8>) {
        self.number_key(2 * i as u64, buf);
    }

    /// A key between entry `i` and `i + 1`, never written.
    fn missing_key(&self, i: usize, buf: &mut Vec<u8>) {
        self.number_key(2 * i as u64 + 1, buf);
    }

    fn number_key(&self, n: u64, buf: &mut Vec<u8>) {
        use std::io::Write;
        buf.clear();
        let _ = write!(buf, "{n:0width$}", width = self.key_size);
    }

    /// The value written by the `op`-th write.
    fn value(&self, op: usize) -> &[u8] {
        let start = op.wrapping_mul(7919) % (1 << 20);
        &self.value_source[start..start + self.value_size]
    }

    /// How many keys are live now.
    pub fn live_keys(&self) -> usize {
        self.live
            .iter()
            .filter(|live| live.load(Ordering::Relaxed))
            .count()
    }

    /// Bytes of live data (keys + values), the denominator of space amplification.
    pub fn live_bytes(&self) -> u64 {
        (self.live_keys() * (self.key_size + self.value_size)) as u64
    }

    /// Forgets every key (the engine's directory was wiped).
    pub fn clear(&self) {
        for live in &self.live {
            live.store(false, Ordering::Relaxed);
        }
    }

    fn rng(&self, workload: &str, thread: usize) -> fastrand::Rng {
        let salt = workload
            .bytes()
            .fold(0u64, |h, b| h.wrapping_mul(31) ^ u64::from(b));
        fastrand::Rng::with_seed(self.seed ^ salt ^ ((thread as u64) << 48))
    }
}

/// What one run of a workload measured.
pub struct Outcome {
    pub ops: usize,
    pub elapsed: Duration,
    pub latencies: Latencies,
    /// Logical bytes the workload wrote (key + value per put, key per delete).
    pub logical_bytes_written: u64,
    pub note: String,
}

/// Prints a line to stderr each time another 10 % of the operations is done.
struct Progress<'a> {
    label: &'a str,
    total: usize,
    next_tenth: usize,
    start: Instant,
}

impl<'a> Progress<'a> {
    fn new(label: &'a str, total: usize) -> Self {
        Progress {
            label,
            total,
            next_tenth: 1,
            start: Instant::now(),
        }
    }

    fn tick(&mut self, done: usize) {
        if self.next_tenth <= 10 && done * 10 >= self.total * self.next_tenth {
            let secs = self.start.elapsed().as_secs_f64();
            eprintln!(
                "  {} {:>3}%  {done} ops  {:.1} s  {:.0} ops/s",
                self.label,
                self.next_tenth * 10,
                secs,
                done as f64 / secs.max(1e-9)
            );
            self.next_tenth = done * 10 / self.total.max(1) + 1;
        }
    }
}

/// What one thread of a workload counted besides its latencies.
#[derive(Debug, Default)]
struct Tally {
    /// Writes (puts and deletes).
    writes: usize,
    /// Gets that found their key.
    found: usize,
    /// Gets of keys that were live when read.
    expected: usize,
    /// Entries visited by seeks.
    entries: usize,
}

/// One thread's share of a workload: its operations, its random numbers, and a key buffer.
struct Worker<'a> {
    engine: &'a dyn Engine,
    data: &'a Dataset,
    rng: fastrand::Rng,
    key: Vec<u8>,
    tally: Tally,
}

impl Worker<'_> {
    /// A put (or a delete) of entry `i`, then an fsync when this thread has written another
    /// `sync_every` times: with several threads each syncs its own writes, so the engine can
    /// serve syncs that arrive together with one fsync (group commit).
    fn write(&mut self, i: usize, delete: bool) -> Result<()> {
        self.data.key(i, &mut self.key);
        if delete {
            self.engine.delete(&self.key)?;
        } else {
            let value = self.data.value(self.tally.writes.wrapping_add(i));
            self.engine.put(&self.key, value)?;
        }
        self.data.live[i].store(!delete, Ordering::Relaxed);
        self.tally.writes += 1;
        let sync_every = self.data.sync_every;
        if sync_every > 0 && self.tally.writes.is_multiple_of(sync_every) {
            self.engine.sync()?;
        }
        Ok(())
    }

    /// A get of entry `i` (or of the missing key after it), checking the value's size.
    fn read(&mut self, i: usize, missing: bool) -> Result<()> {
        if missing {
            self.data.missing_key(i, &mut self.key);
        } else {
            self.data.key(i, &mut self.key);
            self.tally.expected += usize::from(self.data.live[i].load(Ordering::Relaxed));
        }
        if let Some(len) = self.engine.get(&self.key)? {
            let size = self.data.value_size;
            ensure!(len == size, "{:?} has a value of {len} bytes", self.key);
            self.tally.found += 1;
        }
        Ok(())
    }

    /// The index of a random key, drawn from `--dist`.
    fn pick(&mut self) -> usize {
        self.data.keys.pick(&mut self.rng)
    }
}

/// Runs `threads` threads, thread `t` calling `op(worker, i)` for each `i` of its share of
/// `0..ops` (contiguous ranges, the first threads one longer when `ops` does not divide), timing
/// each call. Thread 0 reports progress.
fn run_threads(
    workload: &str,
    engine: &dyn Engine,
    data: &Dataset,
    label: &str,
    (ops, threads): (usize, usize),
    op: impl Fn(&mut Worker, usize) -> Result<()> + Sync,
) -> Result<(Duration, Latencies, Tally)> {
    let start = Instant::now();
    let results: Vec<Result<(Latencies, Tally)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|thread| {
                let op = &op;
                let range = ops * thread / threads..ops * (thread + 1) / threads;
                scope.spawn(move || -> Result<(Latencies, Tally)> {
                    let mut worker = Worker {
                        engine,
                        data,
                        rng: data.rng(workload, thread),
                        key: Vec::with_capacity(data.key_size),
                        tally: Tally::default(),
                    };
                    let mut latencies = Latencies::with_capacity(range.len());
                    let mut progress = (thread == 0).then(|| Progress::new(label, range.len()));
                    for (done, i) in range.enumerate() {
                        let before = Instant::now();
                        op(&mut worker, i)?;
                        latencies.record(before.elapsed());
                        if let Some(progress) = progress.as_mut() {
                            progress.tick(done + 1);
                        }
                    }
                    Ok((latencies, worker.tally))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().expect("a workload thread panicked"))
            .collect()
    });
    let elapsed = start.elapsed();
    let mut latencies = Latencies::with_capacity(ops);
    let mut total = Tally::default();
    for result in results {
        let (thread_latencies, tally) = result?;
        latencies.merge(thread_latencies);
        total.writes += tally.writes;
        total.found += tally.found;
        total.expected += tally.expected;
        total.entries += tally.entries;
    }
    Ok((elapsed, latencies, total))
}

/// Whether `workload` can be split over several threads (`readseq` is one scan).
pub fn is_threaded(workload: &str) -> bool {
    workload != "readseq"
}

/// Runs `workload` once on `engine` with `threads` threads; `label` prefixes the progress lines.
pub fn run(
    workload: &str,
    engine: &dyn Engine,
    data: &Dataset,
    threads: usize,
    label: &str,
) -> Result<Outcome> {
    ensure!(threads > 0, "--threads must be positive");
    let num = data.num;
    let ops = if is_fill(workload) { num } else { data.ops };
    ensure!(ops > 0, "--ops must be positive");
    let shape = (ops, threads);
    let run = |op: &(dyn Fn(&mut Worker, usize) -> Result<()> + Sync)| {
        run_threads(workload, engine, data, label, shape, op)
    };
    let (elapsed, latencies, tally) = match workload {
        "fillseq" => run(&|w, i| w.write(i, false))?,
        "fillrandom" => {
            let mut order: Vec<usize> = (0..num).collect();
            data.rng(workload, usize::MAX).shuffle(&mut order);
            run(&|w, i| w.write(order[i], false))?
        }
        "overwrite" => run(&|w, _| {
            let i = w.pick();
            w.write(i, false)
        })?,
        "deleterandom" => run(&|w, _| {
            let i = w.pick();
            w.write(i, true)
        })?,
        "readrandom" | "readmissing" => {
            let missing = workload == "readmissing";
            run(&|w, _| {
                let i = w.pick();
                w.read(i, missing)
            })?
        }
        "seekrandom" => run(&|w, _| {
            let i = w.pick();
            w.data.key(i, &mut w.key);
            w.tally.entries += w.engine.scan_from(&w.key, SEEK_ENTRIES, &mut |_, _| {})?;
            Ok(())
        })?,
        "readseq" => {
            let (entries, (elapsed, latencies)) = read_seq(engine, data, label)?;
            return Ok(Outcome {
                ops: entries,
                elapsed,
                latencies,
                logical_bytes_written: 0,
                note: format!("{entries} entries scanned"),
            });
        }
        "mixed" => run(&|w, _| {
            let i = w.pick();
            if w.rng.u32(..100) < MIXED_READ_PERCENT {
                w.read(i, false)
            } else {
                w.write(i, false)
            }
        })?,
        other => bail!("unknown workload {other:?}; known: {}", ALL.join(", ")),
    };
    let entry_bytes = (data.key_size + data.value_size) as u64;
    let (logical_bytes_written, note) = match workload {
        "deleterandom" => (tally.writes as u64 * data.key_size as u64, String::new()),
        "readrandom" | "readmissing" => {
            // A concurrent reader sees exactly the keys live before it started: nothing writes.
            ensure!(
                tally.found == tally.expected,
                "{workload}: found {} keys, expected {}",
                tally.found,
                tally.expected
            );
            (0, format!("{} of {ops} found", tally.found))
        }
        "seekrandom" => (0, format!("{} entries read", tally.entries)),
        "mixed" => (
            tally.writes as u64 * entry_bytes,
            format!("{} puts", tally.writes),
        ),
        _ => (tally.writes as u64 * entry_bytes, String::new()),
    };
    Ok(Outcome {
        ops: latencies.len(),
        elapsed,
        latencies,
        logical_bytes_written,
        note,
    })
}

/// A full scan in key order, timed in chunks of [`READSEQ_CHUNK`] entries (each entry of a chunk
/// is recorded at the chunk's average). Returns the entries read.
fn read_seq(
    engine: &dyn Engine,
    data: &Dataset,
    label: &str,
) -> Result<(usize, (Duration, Latencies))> {
    let expected = data.live_keys();
    let mut latencies = Latencies::with_capacity(expected);
    let mut progress = Progress::new(label, expected.max(1));
    let mut start_key: Vec<u8> = Vec::new();
    let mut last_key: Vec<u8> = Vec::new();
    let mut bytes = 0usize;
    let start = Instant::now();
    loop {
        let before = Instant::now();
        let visited = engine.scan_from(&start_key, READSEQ_CHUNK, &mut |key, value| {
            bytes += value.len();
            last_key.clear();
            last_key.extend_from_slice(key);
        })?;
        latencies.record_many(before.elapsed(), visited);
        progress.tick(latencies.len().min(expected));
        if visited < READSEQ_CHUNK {
            break;
        }
        // The next chunk starts right after the last key read.
        start_key.clear();
        start_key.extend_from_slice(&last_key);
        start_key.push(0);
    }
    let elapsed = start.elapsed();
    let entries = latencies.len();
    ensure!(
        entries == expected && bytes == entries * data.value_size,
        "readseq read {entries} entries ({bytes} value bytes), expected {expected}"
    );
    Ok((entries, (elapsed, latencies)))
}
