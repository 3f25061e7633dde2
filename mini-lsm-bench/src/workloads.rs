//! The db_bench-style workloads, run against one [`Engine`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, bail, ensure};

use crate::engines::Engine;
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
    pub key_size: usize,
    pub value_size: usize,
    pub seed: u64,
    pub sync_every: usize,
    pub threads: usize,
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
        threads: usize,
    ) -> Result<Self> {
        ensure!(num > 0, "--num must be positive");
        ensure!(threads > 0, "--threads must be positive");
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
            key_size,
            value_size,
            seed,
            sync_every,
            threads,
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

/// Runs `op(i)` for `i` in `0..ops`, timing each call.
fn timed(
    label: &str,
    ops: usize,
    mut op: impl FnMut(usize) -> Result<()>,
) -> Result<(Duration, Latencies)> {
    let mut latencies = Latencies::with_capacity(ops);
    let mut progress = Progress::new(label, ops);
    let start = Instant::now();
    for i in 0..ops {
        let before = Instant::now();
        op(i)?;
        latencies.record(before.elapsed());
        progress.tick(i + 1);
    }
    Ok((start.elapsed(), latencies))
}

/// Runs `workload` once on `engine`; `label` prefixes the progress lines.
pub fn run(workload: &str, engine: &dyn Engine, data: &Dataset, label: &str) -> Result<Outcome> {
    let num = data.num;
    let entry_bytes = (data.key_size + data.value_size) as u64;
    let mut rng = data.rng(workload, 0);
    let mut key = Vec::with_capacity(data.key_size);
    let mut writes = 0usize;
    // A put (or delete) of entry `i`, syncing every `sync_every` writes.
    let mut write = |i: usize, delete: bool| -> Result<()> {
        data.key(i, &mut key);
        if delete {
            engine.delete(&key)?;
        } else {
            engine.put(&key, data.value(writes))?;
        }
        data.live[i].store(!delete, Ordering::Relaxed);
        writes += 1;
        if data.sync_every > 0 && writes.is_multiple_of(data.sync_every) {
            engine.sync()?;
        }
        Ok(())
    };
    let mut note = String::new();
    let (ops, (elapsed, latencies), logical) = match workload {
        "fillseq" => (
            num,
            timed(label, num, |i| write(i, false))?,
            num as u64 * entry_bytes,
        ),
        "fillrandom" => {
            let mut order: Vec<usize> = (0..num).collect();
            rng.shuffle(&mut order);
            let timing = timed(label, num, |i| write(order[i], false))?;
            (num, timing, num as u64 * entry_bytes)
        }
        "overwrite" => {
            let timing = timed(label, num, |_| write(rng.usize(..num), false))?;
            (num, timing, num as u64 * entry_bytes)
        }
        "deleterandom" => {
            let timing = timed(label, num, |_| write(rng.usize(..num), true))?;
            (num, timing, num as u64 * data.key_size as u64)
        }
        "readrandom" | "readmissing" => {
            let missing = workload == "readmissing";
            let (mut found, mut expected) = (0usize, 0usize);
            let timing = timed(label, num, |_| {
                let i = rng.usize(..num);
                if missing {
                    data.missing_key(i, &mut key);
                } else {
                    data.key(i, &mut key);
                    expected += usize::from(data.live[i].load(Ordering::Relaxed));
                }
                if let Some(len) = engine.get(&key)? {
                    ensure!(len == data.value_size, "{key:?} has a value of {len} bytes");
                    found += 1;
                }
                Ok(())
            })?;
            ensure!(
                found == expected,
                "{workload}: found {found} keys, expected {expected}"
            );
            note = format!("{found} of {num} found");
            (num, timing, 0)
        }
        "seekrandom" => {
            let mut entries = 0usize;
            let timing = timed(label, num, |_| {
                data.key(rng.usize(..num), &mut key);
                entries += engine.scan_from(&key, SEEK_ENTRIES, &mut |_, _| {})?;
                Ok(())
            })?;
            note = format!("{entries} entries read");
            (num, timing, 0)
        }
        "readseq" => {
            let (entries, timing) = read_seq(engine, data, label)?;
            note = format!("{entries} entries scanned");
            (entries, timing, 0)
        }
        "mixed" => return mixed(engine, data, label),
        other => bail!("unknown workload {other:?}; known: {}", ALL.join(", ")),
    };
    Ok(Outcome {
        ops,
        elapsed,
        latencies,
        logical_bytes_written: logical,
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

/// `threads` threads, each running `num / threads` operations: 90 % gets and 10 % puts of
/// uniformly random keys.
fn mixed(engine: &dyn Engine, data: &Dataset, label: &str) -> Result<Outcome> {
    let per_thread = data.num / data.threads;
    let start = Instant::now();
    let results: Vec<Result<(Latencies, usize)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..data.threads)
            .map(|thread| {
                scope.spawn(move || -> Result<(Latencies, usize)> {
                    let mut rng = data.rng("mixed", thread);
                    let mut key = Vec::with_capacity(data.key_size);
                    let mut writes = 0usize;
                    let mut latencies = Latencies::with_capacity(per_thread);
                    // Only the first thread reports progress (they run at about the same pace).
                    let mut progress = (thread == 0).then(|| Progress::new(label, per_thread));
                    for op in 0..per_thread {
                        let i = rng.usize(..data.num);
                        data.key(i, &mut key);
                        let before = Instant::now();
                        if rng.u32(..100) < MIXED_READ_PERCENT {
                            engine.get(&key)?;
                        } else {
                            engine.put(&key, data.value(op))?;
                            data.live[i].store(true, Ordering::Relaxed);
                            writes += 1;
                            if data.sync_every > 0 && writes.is_multiple_of(data.sync_every) {
                                engine.sync()?;
                            }
                        }
                        latencies.record(before.elapsed());
                        if let Some(progress) = progress.as_mut() {
                            progress.tick(op + 1);
                        }
                    }
                    Ok((latencies, writes))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().expect("a mixed-workload thread panicked"))
            .collect()
    });
    let elapsed = start.elapsed();
    let mut latencies = Latencies::default();
    let mut writes = 0;
    for result in results {
        let (thread_latencies, thread_writes) = result?;
        latencies.merge(thread_latencies);
        writes += thread_writes;
    }
    Ok(Outcome {
        ops: latencies.len(),
        elapsed,
        latencies,
        logical_bytes_written: (writes * (data.key_size + data.value_size)) as u64,
        note: format!("{} threads, {writes} puts", data.threads),
    })
}
