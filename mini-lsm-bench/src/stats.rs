//! Measurements: per-operation latencies and their percentiles, bytes written, disk space.

use std::path::Path;
use std::time::Duration;

/// Per-operation latencies in nanoseconds (saturating at ~4.3 s), one `u32` each.
#[derive(Debug, Default)]
pub struct Latencies {
    nanos: Vec<u32>,
}

impl Latencies {
    pub fn with_capacity(ops: usize) -> Self {
        Latencies {
            nanos: Vec::with_capacity(ops),
        }
    }

    pub fn record(&mut self, elapsed: Duration) {
        self.nanos
            .push(u32::try_from(elapsed.as_nanos()).unwrap_or(u32::MAX));
    }

    /// Records `ops` operations that together took `elapsed`, each at the average.
    pub fn record_many(&mut self, elapsed: Duration, ops: usize) {
        if ops > 0 {
            let each = elapsed / ops as u32;
            self.nanos.extend(std::iter::repeat_n(
                u32::try_from(each.as_nanos()).unwrap_or(u32::MAX),
                ops,
            ));
        }
    }

    pub fn merge(&mut self, other: Latencies) {
        self.nanos.extend(other.nanos);
    }

    pub fn len(&self) -> usize {
        self.nanos.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nanos.is_empty()
    }

    /// The p50, p99 and p99.9 latencies in microseconds (nearest rank); zeros when empty.
    pub fn percentiles_us(mut self) -> [f64; 3] {
        if self.nanos.is_empty() {
            return [0.0; 3];
        }
        self.nanos.sort_unstable();
        let n = self.nanos.len();
        [0.50, 0.99, 0.999].map(|q| {
            let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
            f64::from(self.nanos[rank - 1]) / 1000.0
        })
    }
}

/// Bytes this process has passed to `write`-family system calls so far (`wchar` of
/// `/proc/self/io`, every thread included), or `None` where that file does not exist.
pub fn process_bytes_written() -> Option<u64> {
    let io = std::fs::read_to_string("/proc/self/io").ok()?;
    io.lines()
        .find_map(|line| line.strip_prefix("wchar:"))
        .and_then(|value| value.trim().parse().ok())
}

/// The disk space of the files under `dir`, recursively: the blocks allocated to them on Unix
/// (a preallocated or sparse file counts what it occupies), their lengths elsewhere.
pub fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.metadata() {
            Ok(meta) if meta.is_dir() => dir_size(&entry.path()),
            Ok(meta) => file_space(&meta),
            Err(_) => 0,
        })
        .sum()
}

#[cfg(unix)]
fn file_space(meta: &std::fs::Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt;
    meta.blocks() * 512
}

#[cfg(not(unix))]
fn file_space(meta: &std::fs::Metadata) -> u64 {
    meta.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let mut latencies = Latencies::default();
        for micros in 1..=1000 {
            latencies.record(Duration::from_micros(micros));
        }
        assert_eq!(latencies.percentiles_us(), [500.0, 990.0, 999.0]);
    }
}
