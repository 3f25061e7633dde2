//! Text drawings of what the engine's inspection API reports: the tree's shape, its counters,
//! and which layers a `get` searches.

use std::fmt::Write;

use crate::engine::inspect::{EngineStats, MemTableInfo, SstInfo, TreeShape};

use super::command::show;

/// Width of the key-range bar drawn next to each SST.
const BAR_WIDTH: usize = 24;

/// A size in bytes for people: `812 B`, `4.0 KiB`, `2.0 MiB`.
pub(crate) fn bytes(size: u64) -> String {
    const KIB: f64 = 1024.0;
    match size {
        0..1024 => format!("{size} B"),
        1024..1_048_576 => format!("{:.1} KiB", size as f64 / KIB),
        _ => format!("{:.1} MiB", size as f64 / (KIB * KIB)),
    }
}

/// `1 SST` or `N SSTs`.
fn count(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// The tree, newest layer first. Each SST shows its id, key range, size, and a bar placing its
/// key range within the range of every SST's keys:
///
/// ```text
/// memtable  #4   2 keys, ~58 B (mutable)
/// L0        2 SSTs, 1.1 KiB (newest first; key ranges may overlap)
///           #3  [a ..= c]  560 B  |############------------|
///           #2  [b ..= z]  560 B  |------##################|
/// L1-L4     (empty)
/// ```
pub(crate) fn shape(shape: &TreeShape) -> String {
    let mut text = String::new();
    let memtable = |m: &MemTableInfo| {
        format!(
            "#{:<3} {}, ~{}",
            m.id,
            count(m.num_entries, "key"),
            bytes(m.approximate_size as u64)
        )
    };
    let _ = writeln!(text, "memtable  {} (mutable)", memtable(&shape.memtable));
    for imm in &shape.immutable_memtables {
        let _ = writeln!(text, "          {} (frozen)", memtable(imm));
    }
    let span = key_span(shape);
    draw_ssts(
        &mut text,
        "L0",
        &shape.l0,
        "newest first; key ranges may overlap",
        span,
    );
    let mut levels = shape.levels.iter().peekable();
    while let Some(level) = levels.next() {
        if !level.ssts.is_empty() {
            let name = format!("L{}", level.level);
            draw_ssts(&mut text, &name, &level.ssts, "in key order", span);
            continue;
        }
        // A run of empty levels takes one line.
        let mut last = level.level;
        while let Some(next) = levels.next_if(|next| next.ssts.is_empty()) {
            last = next.level;
        }
        let name = if last == level.level {
            format!("L{last}")
        } else {
            format!("L{}-L{last}", level.level)
        };
        let _ = writeln!(text, "{name:<9} (empty)");
    }
    text
}

/// One layer of SSTs: a header line and a line per SST.
fn draw_ssts(
    text: &mut String,
    name: &str,
    ssts: &[SstInfo],
    order: &str,
    span: Option<(&[u8], &[u8])>,
) {
    if ssts.is_empty() {
        let _ = writeln!(text, "{name:<9} (empty)");
        return;
    }
    let total: u64 = ssts.iter().map(|sst| sst.size_bytes).sum();
    let _ = writeln!(
        text,
        "{name:<9} {}, {} ({order})",
        count(ssts.len(), "SST"),
        bytes(total)
    );
    for sst in ssts {
        let range = format!("[{} ..= {}]", show(&sst.first_key), show(&sst.last_key));
        let bar = span.map_or_else(String::new, |(lo, hi)| bar(sst, lo, hi));
        let _ = writeln!(
            text,
            "          #{:<3} {range}  {}  {bar}",
            sst.id,
            bytes(sst.size_bytes)
        );
    }
}

/// The smallest and largest key of every SST, if there is any SST.
fn key_span(shape: &TreeShape) -> Option<(&[u8], &[u8])> {
    let ssts = shape
        .l0
        .iter()
        .chain(shape.levels.iter().flat_map(|level| &level.ssts));
    ssts.fold(None, |span, sst| {
        let (first, last) = (sst.first_key.as_ref(), sst.last_key.as_ref());
        Some(match span {
            None => (first, last),
            Some((lo, hi)) => (lo.min(first), hi.max(last)),
        })
    })
}

/// `|---####---|`: where `sst`'s keys lie between `lo` and `hi`.
fn bar(sst: &SstInfo, lo: &[u8], hi: &[u8]) -> String {
    let cell = |key: &[u8]| (position(key, lo, hi) * (BAR_WIDTH - 1) as f64).round() as usize;
    let (start, end) = (cell(&sst.first_key), cell(&sst.last_key));
    let cells: String = (0..BAR_WIDTH)
        .map(|i| if (start..=end).contains(&i) { '#' } else { '-' })
        .collect();
    format!("|{cells}|")
}

/// Where `key` lies between `lo` and `hi`, from 0.0 to 1.0, reading the eight bytes after their
/// common prefix as a number: approximate, and enough for a drawing.
fn position(key: &[u8], lo: &[u8], hi: &[u8]) -> f64 {
    let common = lo.iter().zip(hi).take_while(|(a, b)| a == b).count();
    let number = |bytes: &[u8]| {
        let mut word = [0u8; 8];
        let tail = bytes.get(common..).unwrap_or_default();
        let n = tail.len().min(8);
        word[..n].copy_from_slice(&tail[..n]);
        u64::from_be_bytes(word) as f64
    };
    let (lo, hi, key) = (number(lo), number(hi), number(key));
    if hi <= lo {
        return 0.0;
    }
    ((key - lo) / (hi - lo)).clamp(0.0, 1.0)
}

/// The engine's counters, one per line.
pub(crate) fn stats(stats: &EngineStats) -> String {
    let reads = stats.block_cache_hits + stats.block_cache_misses;
    let hit_rate = if reads == 0 {
        "no block read yet".to_string()
    } else {
        format!(
            "{:.0}% hits",
            100.0 * stats.block_cache_hits as f64 / reads as f64
        )
    };
    let amplification = stats.write_amplification().map_or_else(
        || "n/a (nothing flushed yet)".to_string(),
        |wa| format!("{wa:.2} (bytes written to SSTs / bytes flushed)"),
    );
    let lines = [
        format!(
            "block cache          {} hits, {} misses ({hit_rate})",
            stats.block_cache_hits, stats.block_cache_misses
        ),
        format!(
            "bloom filters        {} SST reads skipped",
            stats.ssts_skipped_by_bloom
        ),
        format!(
            "flushes              {}, {} written",
            stats.flushes,
            bytes(stats.bytes_flushed)
        ),
        format!(
            "compactions          {}, {} written",
            stats.compactions,
            bytes(stats.bytes_compacted)
        ),
        format!("write amplification  {amplification}"),
    ];
    lines.join("\n") + "\n"
}

/// Which layers a `get` of `key` reads, newest first, judged from the shape alone. The public
/// API cannot ask one layer for a key, so this says which layers *may* hold it: every memtable
/// (the shape gives no key range for them), every L0 SST whose key range covers it, and in each
/// level the one SST whose range covers it. A `get` stops at the first of them that holds the
/// key, and a bloom filter (day 7) may rule an SST out without reading it.
pub(crate) fn dump(shape: &TreeShape, key: &[u8]) -> String {
    let mut text = format!(
        "a get of {} searches, newest first, until a layer holds the key (a value or a tombstone):\n",
        show(key)
    );
    let memtables = std::iter::once((&shape.memtable, "mutable"))
        .chain(shape.immutable_memtables.iter().map(|m| (m, "frozen")));
    for (memtable, kind) in memtables {
        let _ = writeln!(
            text,
            "  memtable #{:<3} ({kind}) searched: its key range is not in the shape",
            memtable.id
        );
    }
    for sst in &shape.l0 {
        let _ = writeln!(text, "  L0 {}", sst_verdict(sst, key));
    }
    for level in &shape.levels {
        let covering = level.ssts.iter().find(|sst| covers(sst, key));
        let _ = match covering {
            Some(sst) => writeln!(text, "  L{} {}", level.level, sst_verdict(sst, key)),
            None => writeln!(
                text,
                "  L{}: skipped, no SST of its {} covers the key",
                level.level,
                count(level.ssts.len(), "SST")
            ),
        };
    }
    text.push_str(
        "(from key ranges only: the public API cannot ask one layer for a key, and a bloom filter \
         may still skip a covering SST)\n",
    );
    text
}

/// Whether `sst`'s key range holds `key`.
fn covers(sst: &SstInfo, key: &[u8]) -> bool {
    sst.first_key.as_ref() <= key && key <= sst.last_key.as_ref()
}

/// `#3 [a ..= c]: searched, its key range covers the key`, or why it is skipped.
fn sst_verdict(sst: &SstInfo, key: &[u8]) -> String {
    let range = format!("[{} ..= {}]", show(&sst.first_key), show(&sst.last_key));
    let verdict = if covers(sst, key) {
        "searched: its key range covers the key"
    } else {
        "skipped: the key is outside its key range"
    };
    format!("#{:<3} {range} {verdict}", sst.id)
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::engine::inspect::LevelInfo;

    fn sst(id: usize, first: &'static str, last: &'static str) -> SstInfo {
        SstInfo {
            id,
            first_key: Bytes::from_static(first.as_bytes()),
            last_key: Bytes::from_static(last.as_bytes()),
            size_bytes: 2048,
        }
    }

    fn tree() -> TreeShape {
        let memtable = MemTableInfo {
            id: 9,
            approximate_size: 10,
            num_entries: 1,
        };
        TreeShape {
            memtable,
            immutable_memtables: vec![],
            l0: vec![sst(3, "a", "c")],
            levels: vec![LevelInfo {
                level: 1,
                ssts: vec![sst(1, "a", "m"), sst(2, "n", "z")],
            }],
        }
    }

    #[test]
    fn the_shape_names_layers_ids_ranges_and_sizes() {
        let text = shape(&tree());
        assert!(
            text.contains("memtable  #9   1 key, ~10 B (mutable)"),
            "{text}"
        );
        assert!(text.contains("L0        1 SST, 2.0 KiB"), "{text}");
        assert!(text.contains("#3   [a ..= c]  2.0 KiB  |###"), "{text}");
        assert!(text.contains("L1        2 SSTs, 4.0 KiB"), "{text}");
        assert!(text.contains("#2   [n ..= z]  2.0 KiB  |-"), "{text}");
    }

    #[test]
    fn dump_follows_key_ranges() {
        let text = dump(&tree(), b"p");
        assert!(text.contains("L0 #3   [a ..= c] skipped"), "{text}");
        assert!(text.contains("L1 #2   [n ..= z] searched"), "{text}");
        assert!(!text.contains("#1 "), "{text}");
    }

    #[test]
    fn sizes_for_people() {
        assert_eq!(bytes(812), "812 B");
        assert_eq!(bytes(4096), "4.0 KiB");
        assert_eq!(bytes(2 << 20), "2.0 MiB");
    }
}
