//! The report: a table on stdout, a JSON array, SVG bar charts.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;
use serde::{Deserialize, Serialize};

/// One workload's result on one engine. A `--format json` report is an array of these (without
/// the skipped fields), which `--curve` reads back.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub engine: String,
    pub workload: String,
    /// Threads the workload's operations were split over.
    pub threads: usize,
    pub ops_per_sec: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub p999_us: f64,
    /// Bytes written to disk / logical bytes written (write workloads only).
    pub write_amp: Option<f64>,
    /// Sum of the file sizes in the engine's directory after the workload.
    pub space_bytes: u64,
    /// Operations run.
    #[serde(skip)]
    pub ops: usize,
    /// `space_bytes` / logical size of the live data, when there is live data.
    #[serde(skip)]
    pub space_amp: Option<f64>,
    /// The reference only: SST bytes flushed + compacted (its `stats()`) / logical bytes.
    #[serde(skip)]
    pub sst_write_amp: Option<f64>,
    /// Workload-specific remark (hits found, entries scanned).
    #[serde(skip)]
    pub note: String,
}

impl Record {
    /// The workload and, when it ran on several threads, their count: `readrandom x4`.
    pub fn label(&self) -> String {
        if self.threads == 1 {
            self.workload.clone()
        } else {
            format!("{} x{}", self.workload, self.threads)
        }
    }
}

/// The human-readable table.
pub fn table(records: &[Record]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<9} {:<12} {:>3} {:>10} {:>12} {:>9} {:>9} {:>9} {:>10} {:>10} {:>6}  note",
        "engine",
        "workload",
        "thr",
        "ops",
        "ops/s",
        "p50 us",
        "p99 us",
        "p99.9 us",
        "write amp",
        "space MB",
        "s-amp"
    );
    for r in records {
        let amp = |value: Option<f64>| value.map_or("-".to_string(), |v| format!("{v:.2}"));
        let write_amp = match (r.write_amp, r.sst_write_amp) {
            (Some(w), Some(s)) => format!("{w:.2} ({s:.2})"),
            (w, _) => amp(w),
        };
        let _ = writeln!(
            out,
            "{:<9} {:<12} {:>3} {:>10} {:>12.0} {:>9.2} {:>9.2} {:>9.2} {:>10} {:>10.1} {:>6}  {}",
            r.engine,
            r.workload,
            r.threads,
            r.ops,
            r.ops_per_sec,
            r.p50_us,
            r.p99_us,
            r.p999_us,
            write_amp,
            r.space_bytes as f64 / 1e6,
            amp(r.space_amp),
            r.note
        );
    }
    out
}

pub fn json(records: &[Record]) -> Result<String> {
    Ok(serde_json::to_string_pretty(records)?)
}

/// The metrics that get a chart, with their titles.
const METRICS: [(&str, &str); 6] = [
    ("ops_per_sec", "throughput (ops/s, higher is better)"),
    ("p50_us", "p50 latency (us, lower is better)"),
    ("p99_us", "p99 latency (us, lower is better)"),
    ("p999_us", "p99.9 latency (us, lower is better)"),
    ("write_amp", "write amplification (lower is better)"),
    ("space_bytes", "disk space after the workload (bytes)"),
];

pub(crate) const COLORS: [&str; 6] = [
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#b07aa1",
];

pub(crate) fn metric(record: &Record, name: &str) -> Option<f64> {
    match name {
        "ops_per_sec" => Some(record.ops_per_sec),
        "p50_us" => Some(record.p50_us),
        "p99_us" => Some(record.p99_us),
        "p999_us" => Some(record.p999_us),
        "write_amp" => record.write_amp,
        "space_bytes" => Some(record.space_bytes as f64),
        _ => None,
    }
}

/// Writes `DIR/<metric>.svg` for each metric: grouped bars, one group per workload (and thread
/// count), one bar per engine. Returns the files written.
pub fn plot(records: &[Record], dir: &Path) -> Result<Vec<std::path::PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let engines = distinct(records.iter().map(|r| r.engine.as_str()));
    let labels: Vec<String> = records.iter().map(Record::label).collect();
    let workloads: Vec<String> = distinct(labels.iter().map(String::as_str))
        .into_iter()
        .map(str::to_string)
        .collect();
    let mut written = Vec::new();
    for (name, title) in METRICS {
        let path = dir.join(format!("{name}.svg"));
        std::fs::write(&path, bar_chart(records, name, title, &engines, &workloads))?;
        written.push(path);
    }
    Ok(written)
}

fn bar_chart(
    records: &[Record],
    name: &str,
    title: &str,
    engines: &[&str],
    workloads: &[String],
) -> String {
    let (left, top, plot_h, bar_w, gap) = (80.0, 50.0, 300.0, 14.0, 18.0);
    let group_w = bar_w * engines.len().max(1) as f64 + gap;
    let width = left + group_w * workloads.len() as f64 + 20.0;
    let height = top + plot_h + 90.0;
    let max = records
        .iter()
        .filter_map(|r| metric(r, name))
        .fold(0.0_f64, f64::max);
    let max = if max > 0.0 { max } else { 1.0 };
    let mut svg = svg_start(width, height, left, title);
    // Axis with 5 gridlines.
    for i in 0..=4 {
        let value = max * f64::from(i) / 4.0;
        let y = top + plot_h - plot_h * f64::from(i) / 4.0;
        let _ = writeln!(
            svg,
            r##"<line x1="{left}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            width - 20.0,
            left - 4.0,
            y + 4.0,
            short(value)
        );
    }
    for (g, workload) in workloads.iter().enumerate() {
        let x0 = left + gap / 2.0 + group_w * g as f64;
        for (e, engine) in engines.iter().enumerate() {
            let value = records
                .iter()
                .find(|r| r.engine == *engine && r.label() == *workload)
                .and_then(|r| metric(r, name));
            let Some(value) = value else { continue };
            let h = plot_h * value / max;
            let x = x0 + bar_w * e as f64;
            let _ = writeln!(
                svg,
                r#"<rect x="{x:.1}" y="{:.1}" width="{:.1}" height="{h:.1}" fill="{}"><title>{} {}: {}</title></rect>"#,
                top + plot_h - h,
                bar_w - 1.0,
                COLORS[e % COLORS.len()],
                escape(engine),
                escape(workload),
                short(value)
            );
        }
        let cx = x0 + bar_w * engines.len() as f64 / 2.0;
        let cy = top + plot_h + 12.0;
        let _ = writeln!(
            svg,
            r#"<text x="{cx:.1}" y="{cy:.1}" text-anchor="end" transform="rotate(-35 {cx:.1} {cy:.1})">{}</text>"#,
            escape(workload)
        );
    }
    legend(&mut svg, engines, left, height - 18.0);
    svg.push_str("</svg>\n");
    svg
}

/// An SVG document of `width` × `height` on white, with `title` at the top left (from `left`).
pub(crate) fn svg_start(width: f64, height: f64, left: f64, title: &str) -> String {
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="{left}" y="20" font-size="14">{}</text>"#,
        escape(title)
    );
    svg
}

/// One colour swatch and name per engine, in a row from `x` along the baseline `y`.
pub(crate) fn legend(svg: &mut String, engines: &[&str], x: f64, y: f64) {
    for (e, engine) in engines.iter().enumerate() {
        let x = x + 110.0 * e as f64;
        let _ = writeln!(
            svg,
            r#"<rect x="{x:.1}" y="{:.1}" width="10" height="10" fill="{}"/><text x="{:.1}" y="{y:.1}">{}</text>"#,
            y - 9.0,
            COLORS[e % COLORS.len()],
            x + 14.0,
            escape(engine)
        );
    }
}

/// First-seen order of `items`, without repeats.
pub(crate) fn distinct<'a>(items: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut seen: Vec<&str> = Vec::new();
    for item in items {
        if !seen.contains(&item) {
            seen.push(item);
        }
    }
    seen
}

/// A compact number: 1.2M, 35k, 4.5.
pub(crate) fn short(value: f64) -> String {
    if value >= 1e9 {
        format!("{:.1}G", value / 1e9)
    } else if value >= 1e6 {
        format!("{:.1}M", value / 1e6)
    } else if value >= 1e4 {
        format!("{:.0}k", value / 1e3)
    } else if value >= 100.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.2}")
    }
}

pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
