//! How each engine's numbers change with the key count: `--curve 100000=a.json,1000000=b.json
//! --plot DIR` reads earlier `--format json` reports, one per key count, and draws one SVG per
//! metric, a panel per workload, a line per engine.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail, ensure};

use crate::output::{self, COLORS, Record, distinct, escape, short};

/// The metrics drawn against the key count (a subset of the bar charts': the ones whose change
/// with the tree's depth the Benchmarks page explains).
const CURVE_METRICS: [(&str, &str); 3] = [
    ("ops_per_sec", "throughput (ops/s, higher is better)"),
    ("p99_us", "p99 latency (us, lower is better)"),
    ("write_amp", "write amplification (lower is better)"),
];

/// One report: the key count it ran with and its records.
#[derive(Debug, Clone)]
pub struct Run {
    pub keys: u64,
    pub records: Vec<Record>,
}

/// Parses `KEYS=FILE` (`100000=target/run-100k.json`).
pub fn parse_spec(spec: &str) -> Result<(u64, PathBuf)> {
    let Some((keys, file)) = spec.split_once('=') else {
        bail!("--curve takes KEYS=FILE pairs (e.g. 100000=run-100k.json), got {spec:?}");
    };
    let keys = keys
        .trim()
        .replace('_', "")
        .parse()
        .with_context(|| format!("--curve {spec:?}: {keys:?} is not a key count"))?;
    ensure!(keys > 0, "--curve {spec:?}: the key count must be positive");
    Ok((keys, PathBuf::from(file)))
}

/// The records of one saved `--format json` report.
pub fn load_report(file: &Path) -> Result<Vec<Record>> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let records: Vec<Record> = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not a `--format json` report of mini-lsm-bench",
            file.display()
        )
    })?;
    ensure!(!records.is_empty(), "{} holds no results", file.display());
    Ok(records)
}

/// Reads the report of each `KEYS=FILE`, sorted by key count; two reports of one key count are
/// an error (which one would the curve show?).
pub fn load(specs: &[String]) -> Result<Vec<Run>> {
    let mut runs = Vec::new();
    for spec in specs {
        let (keys, file) = parse_spec(spec)?;
        let records = load_report(&file)?;
        runs.push(Run { keys, records });
    }
    runs.sort_by_key(|run| run.keys);
    if let Some(pair) = runs.windows(2).find(|pair| pair[0].keys == pair[1].keys) {
        bail!("--curve has two reports for {} keys", pair[0].keys);
    }
    ensure!(
        runs.len() >= 2,
        "--curve needs reports at two key counts at least"
    );
    Ok(runs)
}

/// Writes `DIR/curve-<metric>.svg` for each metric of [`CURVE_METRICS`]; returns the files.
pub fn plot(runs: &[Run], dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    for (name, title) in CURVE_METRICS {
        let path = dir.join(format!("curve-{name}.svg"));
        std::fs::write(&path, chart(runs, name, title))?;
        written.push(path);
    }
    Ok(written)
}

/// The value of `metric` for `engine` on `workload` in `run`, when it ran and is positive (a log
/// scale has no place for 0).
fn value(run: &Run, engine: &str, workload: &str, metric: &str) -> Option<f64> {
    run.records
        .iter()
        .find(|r| r.engine == engine && r.label() == workload)
        .and_then(|r| output::metric(r, metric))
        .filter(|v| *v > 0.0)
}

const PANEL_W: f64 = 230.0;
const PANEL_H: f64 = 150.0;
const COLUMNS: usize = 3;

/// Small multiples: one panel per workload that has `metric`, x the key count and y the metric,
/// both on log scales (each panel scaled to its own values: workloads differ by orders of
/// magnitude).
fn chart(runs: &[Run], metric: &str, title: &str) -> String {
    let all = || runs.iter().flat_map(|run| run.records.iter());
    let labels: Vec<String> = all().map(Record::label).collect();
    let workloads: Vec<&str> = distinct(labels.iter().map(String::as_str))
        .into_iter()
        .filter(|w| {
            runs.iter().any(|run| {
                run.records
                    .iter()
                    .any(|r| r.label() == *w && output::metric(r, metric).is_some())
            })
        })
        .collect();
    let engines = distinct(all().map(|r| r.engine.as_str()));
    let (left, top, gap) = (20.0, 40.0, 70.0);
    let rows = workloads.len().div_ceil(COLUMNS).max(1);
    let width = left + COLUMNS as f64 * (PANEL_W + gap);
    let height = top + rows as f64 * (PANEL_H + gap) + 30.0;
    let title = format!("{title} against the key count (log scales, each panel its own)");
    let mut svg = output::svg_start(width, height, left, &title);
    for (i, workload) in workloads.iter().enumerate() {
        let x0 = left + 50.0 + (i % COLUMNS) as f64 * (PANEL_W + gap);
        let y0 = top + 20.0 + (i / COLUMNS) as f64 * (PANEL_H + gap);
        panel(&mut svg, runs, &engines, workload, metric, (x0, y0));
    }
    output::legend(&mut svg, &engines, left + 50.0, height - 14.0);
    svg.push_str("</svg>\n");
    svg
}

/// One workload's panel with its top-left corner at `origin`.
fn panel(
    svg: &mut String,
    runs: &[Run],
    engines: &[&str],
    workload: &str,
    metric: &str,
    (x0, y0): (f64, f64),
) {
    let values: Vec<f64> = runs
        .iter()
        .flat_map(|run| {
            engines
                .iter()
                .filter_map(|e| value(run, e, workload, metric))
        })
        .collect();
    let (Some(min), Some(max)) = (
        values.iter().copied().reduce(f64::min),
        values.iter().copied().reduce(f64::max),
    ) else {
        return;
    };
    // A little room above and below, and a span even when every value is equal.
    let (lo, hi) = ((min / 1.3).log10(), (max * 1.3).log10());
    let y_of = |v: f64| y0 + PANEL_H - PANEL_H * (v.log10() - lo) / (hi - lo);
    let (k_lo, k_hi) = (
        (runs[0].keys as f64).log10(),
        (runs[runs.len() - 1].keys as f64).log10(),
    );
    let x_of =
        |keys: u64| x0 + 10.0 + (PANEL_W - 20.0) * ((keys as f64).log10() - k_lo) / (k_hi - k_lo);
    let _ = writeln!(
        svg,
        r##"<rect x="{x0:.1}" y="{y0:.1}" width="{PANEL_W}" height="{PANEL_H}" fill="none" stroke="#ccc"/><text x="{x0:.1}" y="{:.1}" font-size="12">{}</text>"##,
        y0 - 6.0,
        escape(workload)
    );
    for v in [min, max] {
        let y = y_of(v);
        let _ = writeln!(
            svg,
            r##"<line x1="{x0:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#eee"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            x0 + PANEL_W,
            x0 - 4.0,
            y + 4.0,
            short(v)
        );
    }
    for run in runs {
        let x = x_of(run.keys);
        let _ = writeln!(
            svg,
            r#"<text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            y0 + PANEL_H + 14.0,
            short(run.keys as f64)
        );
    }
    for (e, engine) in engines.iter().enumerate() {
        let points: Vec<(f64, f64, f64)> = runs
            .iter()
            .filter_map(|run| {
                value(run, engine, workload, metric).map(|v| (x_of(run.keys), y_of(v), v))
            })
            .collect();
        let color = COLORS[e % COLORS.len()];
        let path: Vec<String> = points
            .iter()
            .map(|(x, y, _)| format!("{x:.1},{y:.1}"))
            .collect();
        let _ = writeln!(
            svg,
            r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="2"/>"#,
            path.join(" ")
        );
        for (x, y, v) in points {
            let _ = writeln!(
                svg,
                r#"<circle cx="{x:.1}" cy="{y:.1}" r="3" fill="{color}"><title>{} {}: {}</title></circle>"#,
                escape(engine),
                escape(workload),
                short(v)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(engine: &str, workload: &str, ops_per_sec: f64, write_amp: Option<f64>) -> Record {
        Record {
            engine: engine.into(),
            workload: workload.into(),
            threads: 1,
            ops_per_sec,
            p50_us: 1.0,
            p99_us: 2.0,
            p999_us: 3.0,
            write_amp,
            space_bytes: 1,
            ops: 0,
            space_amp: None,
            sst_write_amp: None,
            note: String::new(),
        }
    }

    #[test]
    fn specs_parse_and_bad_ones_say_what_is_expected() {
        assert_eq!(
            parse_spec("1_000_000=a.json").unwrap(),
            (1_000_000, PathBuf::from("a.json"))
        );
        for bad in ["a.json", "x=a.json", "0=a.json"] {
            let error = parse_spec(bad).unwrap_err().to_string();
            assert!(error.contains("--curve"), "{bad}: {error}");
        }
    }

    #[test]
    fn reports_load_sorted_by_key_count_and_a_key_count_twice_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, ops: f64| {
            let path = dir.path().join(name);
            let records = [record("mini-lsm", "readrandom", ops, None)];
            std::fs::write(&path, output::json(&records).unwrap()).unwrap();
            path.display().to_string()
        };
        let (big, small) = (write("big.json", 10.0), write("small.json", 100.0));
        let runs = load(&[format!("10000000={big}"), format!("100000={small}")]).unwrap();
        assert_eq!(
            runs.iter().map(|r| r.keys).collect::<Vec<_>>(),
            [100_000, 10_000_000]
        );
        assert_eq!(runs[0].records[0].ops_per_sec, 100.0);
        let twice = load(&[format!("100000={big}"), format!("100000={small}")]);
        assert!(twice.unwrap_err().to_string().contains("two reports"));
        assert!(
            load(&[format!("100000={small}")]).is_err(),
            "one report is no curve"
        );
    }

    #[test]
    fn a_chart_has_a_panel_per_workload_with_the_metric_and_a_point_per_run() {
        let runs: Vec<Run> = [(100_000, 400.0), (1_000_000, 200.0), (10_000_000, 100.0)]
            .into_iter()
            .map(|(keys, ops)| Run {
                keys,
                records: vec![
                    record("mini-lsm", "fillrandom", ops, Some(3.0)),
                    record("fjall", "fillrandom", ops * 2.0, Some(2.0)),
                    record("mini-lsm", "readrandom", ops, None),
                ],
            })
            .collect();
        let throughput = chart(&runs, "ops_per_sec", "throughput");
        assert_eq!(throughput.matches("<polyline").count(), 2 + 2);
        assert_eq!(throughput.matches("<circle").count(), 3 * 3);
        assert!(throughput.contains(">readrandom<") && throughput.contains(">10.0M<"));
        // readrandom has no write amplification: no panel, and fjall has no line there.
        let write_amp = chart(&runs, "write_amp", "write amplification");
        assert!(!write_amp.contains(">readrandom<"));
        assert_eq!(write_amp.matches("<circle").count(), 2 * 3);
        // Higher throughput is drawn higher (a smaller y).
        let y_of = |svg: &str, needle: &str| -> f64 {
            let at = svg.find(needle).unwrap();
            let cy = &svg[..at].rsplit("cy=\"").next().unwrap();
            cy.split('"').next().unwrap().parse().unwrap()
        };
        assert!(
            y_of(&throughput, "fjall fillrandom: 800")
                < y_of(&throughput, "mini-lsm fillrandom: 400")
        );
    }
}
