//! The `--plot` figure, as hand-written SVG: the level sizes after each step as stacked areas
//! (the bottom level at the bottom, L0 on top) on the left axis, and the write amplification as
//! a line on the right axis. With `--compare`, [`compare_svg`] instead: three panels (write,
//! space and read amplification per step), a line for each controller.

use std::fmt::Write;

use super::{Args, ControllerKind, StepReport, Workload, format_size};

/// The figure's size.
const WIDTH: f64 = 800.0;
const HEIGHT: f64 = 450.0;

/// The plot area inside it.
const LEFT: f64 = 90.0;
const RIGHT: f64 = 710.0;
const TOP: f64 = 70.0;
const BOTTOM: f64 = 350.0;

/// The most steps drawn; longer runs are sampled evenly (the last step is always drawn).
const MAX_POINTS: usize = 500;

/// L0's colour; the levels get [`LEVEL_COLOURS`], lighter above, darker below.
const L0_COLOUR: &str = "#f59e0b";
const LEVEL_COLOURS: [&str; 9] = [
    "#dbeafe", "#bfdbfe", "#93c5fd", "#60a5fa", "#3b82f6", "#2563eb", "#1d4ed8", "#1e40af",
    "#1e3a8a",
];
const WRITE_AMP_COLOUR: &str = "#b91c1c";
const TEXT_COLOUR: &str = "#111827";
const GRID_COLOUR: &str = "#e5e7eb";

/// The whole SVG document for the run of `args` that produced `reports`.
pub(super) fn svg(args: &Args, reports: &[StepReport]) -> String {
    let points = sample(reports);
    let total = |r: &StepReport| r.level_sizes.iter().sum::<u64>();
    let (size_unit, size_ticks) = size_axis(points.iter().map(|r| total(r)).max().unwrap_or(0));
    let amp_ticks = ticks(
        points
            .iter()
            .map(|r| r.write_amplification())
            .fold(2.0, f64::max),
    );
    let steps = reports.last().map_or(1, |r| r.step).max(1);
    let x = |step: usize| LEFT + (RIGHT - LEFT) * step as f64 / steps as f64;
    let size_top = *size_ticks.last().unwrap_or(&1.0) * size_unit.1 as f64;
    let y_size = |bytes: f64| BOTTOM - (BOTTOM - TOP) * bytes / size_top;
    let amp_top = *amp_ticks.last().unwrap_or(&1.0);
    let y_amp = |amp: f64| BOTTOM - (BOTTOM - TOP) * amp / amp_top;

    let mut out = String::new();
    let w = &mut out;
    // Writing to a String cannot fail.
    let _ = writeln!(
        w,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" font-family="sans-serif" font-size="13">"#
    );
    let _ = writeln!(
        w,
        r##"  <rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>"##
    );
    title(w, args);

    // Grid and the left axis's ticks (level sizes).
    for &tick in &size_ticks {
        let y = y_size(tick * size_unit.1 as f64);
        let _ = writeln!(
            w,
            r#"  <line x1="{LEFT}" y1="{y:.1}" x2="{RIGHT}" y2="{y:.1}" stroke="{GRID_COLOUR}"/>"#
        );
        let _ = writeln!(
            w,
            r#"  <text x="{:.1}" y="{:.1}" text-anchor="end" fill="{TEXT_COLOUR}">{}</text>"#,
            LEFT - 6.0,
            y + 4.0,
            match tick {
                0.0 => "0".to_string(),
                tick => format!("{} {}", number(tick), size_unit.0),
            }
        );
    }
    // The right axis's ticks (write amplification).
    for &tick in &amp_ticks {
        let y = y_amp(tick);
        let _ = writeln!(
            w,
            r#"  <text x="{:.1}" y="{:.1}" fill="{WRITE_AMP_COLOUR}">{}</text>"#,
            RIGHT + 6.0,
            y + 4.0,
            number(tick)
        );
    }
    // The bottom axis's ticks (steps).
    for tick in ticks(steps as f64) {
        let xt = x(tick as usize);
        if xt > RIGHT + 0.5 {
            continue;
        }
        let _ = writeln!(
            w,
            r#"  <line x1="{xt:.1}" y1="{BOTTOM}" x2="{xt:.1}" y2="{:.1}" stroke="{TEXT_COLOUR}"/>"#,
            BOTTOM + 5.0
        );
        let _ = writeln!(
            w,
            r#"  <text x="{xt:.1}" y="{:.1}" text-anchor="middle" fill="{TEXT_COLOUR}">{}</text>"#,
            BOTTOM + 19.0,
            number(tick)
        );
    }

    // One stacked area per level, the bottom level first so that L0 ends on top.
    let levels = args.max_levels;
    let mut below = vec![0u64; points.len()];
    for level in (0..=levels).rev() {
        let above: Vec<u64> = below
            .iter()
            .zip(&points)
            .map(|(b, r)| b + r.level_sizes.get(level).copied().unwrap_or(0))
            .collect();
        let mut path = format!("M {:.1} {:.1}", x(0), y_size(0.0));
        for (r, &top) in points.iter().zip(&above) {
            let _ = write!(path, " L {:.1} {:.1}", x(r.step), y_size(top as f64));
        }
        for (r, &bottom) in points.iter().zip(&below).rev() {
            let _ = write!(path, " L {:.1} {:.1}", x(r.step), y_size(bottom as f64));
        }
        let _ = writeln!(
            w,
            r#"  <path d="{path} Z" fill="{}" stroke="none"/>"#,
            colour(level)
        );
        below = above;
    }

    // The write amplification line.
    let mut line = String::new();
    for r in &points {
        let command = if line.is_empty() { 'M' } else { 'L' };
        let _ = write!(
            line,
            "{command} {:.1} {:.1} ",
            x(r.step),
            y_amp(r.write_amplification())
        );
    }
    let _ = writeln!(
        w,
        r#"  <path d="{}" fill="none" stroke="{WRITE_AMP_COLOUR}" stroke-width="2"/>"#,
        line.trim_end()
    );

    axes(w);
    legend(w, levels);
    let _ = writeln!(w, "</svg>");
    out
}

/// The title and a line with the parameters.
fn title(w: &mut String, args: &Args) {
    let workload = match args.workload {
        Workload::Uniform => "uniform keys (every flush spans the key space)",
        Workload::Sequential => "sequential keys (every flush a new range)",
    };
    let name = match args.controller {
        ControllerKind::Leveled => "Leveled",
        ControllerKind::Tiered => "Tiered",
    };
    let _ = writeln!(
        w,
        r#"  <text x="{}" y="26" text-anchor="middle" font-size="16" font-weight="bold" fill="{TEXT_COLOUR}">{name} compaction: {}</text>"#,
        WIDTH / 2.0,
        escape(workload)
    );
    let mut parameters = match args.controller {
        ControllerKind::Leveled => leveled_parameters(args),
        ControllerKind::Tiered => tiered_parameters(args),
    };
    if args.overwrite > 0.0 {
        let _ = write!(parameters, ", overwrite {}", args.overwrite);
    }
    let _ = writeln!(
        w,
        r##"  <text x="{}" y="48" text-anchor="middle" fill="#374151">{}</text>"##,
        WIDTH / 2.0,
        escape(&parameters)
    );
}

/// The leveled run's parameters, for a title.
fn leveled_parameters(args: &Args) -> String {
    format!(
        "{} flushes of {}, SSTs of {}; L0 trigger {}, multiplier {}, base level {}, {} levels",
        args.steps,
        format_size(args.flush_size),
        format_size(args.sst_size),
        args.level0_trigger,
        args.multiplier,
        format_size(args.base_level_size),
        args.max_levels
    )
}

/// The tiered run's parameters, for a title.
fn tiered_parameters(args: &Args) -> String {
    format!(
        "{} flushes of {}, SSTs of {}; max runs {}, size amp {}%, size ratio {}%, \
         merge width {}, {} level slots",
        args.steps,
        format_size(args.flush_size),
        format_size(args.sst_size),
        args.max_runs,
        args.max_size_amp,
        args.size_ratio,
        args.min_merge_width,
        args.max_levels
    )
}

/// Colours of the two controllers' lines in [`compare_svg`].
const LEVELED_COLOUR: &str = "#2563eb";
const TIERED_COLOUR: &str = "#d97706";

/// Height of the comparison figure, and of each of its three panels.
const COMPARE_HEIGHT: f64 = 730.0;
const PANEL_HEIGHT: f64 = 150.0;
const PANEL_GAP: f64 = 55.0;
const FIRST_PANEL_TOP: f64 = 105.0;

/// The `--compare --plot` figure: write, space and read amplification per step, one panel each,
/// a line per controller.
pub(super) fn compare_svg(args: &Args, leveled: &[StepReport], tiered: &[StepReport]) -> String {
    let leveled = sample(leveled);
    let tiered = sample(tiered);
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(
        w,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {COMPARE_HEIGHT}" width="{WIDTH}" height="{COMPARE_HEIGHT}" font-family="sans-serif" font-size="13">"#
    );
    let _ = writeln!(
        w,
        r##"  <rect x="0" y="0" width="{WIDTH}" height="{COMPARE_HEIGHT}" fill="#ffffff"/>"##
    );
    let workload = match args.workload {
        Workload::Uniform => "uniform keys",
        Workload::Sequential => "sequential keys",
    };
    let _ = writeln!(
        w,
        r#"  <text x="{}" y="26" text-anchor="middle" font-size="16" font-weight="bold" fill="{TEXT_COLOUR}">Leveled vs tiered compaction: {workload}</text>"#,
        WIDTH / 2.0
    );
    let mut shared = format!(
        "{} flushes of {}, SSTs of {}, {} levels",
        args.steps,
        format_size(args.flush_size),
        format_size(args.sst_size),
        args.max_levels
    );
    if args.overwrite > 0.0 {
        let _ = write!(shared, ", overwrite {}", args.overwrite);
    }
    let lines = [
        shared,
        format!(
            "leveled: L0 trigger {}, multiplier {}, base level {}; tiered: max runs {}, size amp \
             {}%, size ratio {}%, merge width {}",
            args.level0_trigger,
            args.multiplier,
            format_size(args.base_level_size),
            args.max_runs,
            args.max_size_amp,
            args.size_ratio,
            args.min_merge_width
        ),
    ];
    for (i, line) in lines.iter().enumerate() {
        let _ = writeln!(
            w,
            r##"  <text x="{}" y="{}" text-anchor="middle" fill="#374151">{}</text>"##,
            WIDTH / 2.0,
            48 + 18 * i,
            escape(line)
        );
    }
    let steps = leveled
        .last()
        .into_iter()
        .chain(tiered.last())
        .map(|r| r.step)
        .max()
        .unwrap_or(1)
        .max(1);
    type Measure = fn(&StepReport) -> f64;
    let panels: [(&str, Measure); 3] = [
        ("write amplification", StepReport::write_amplification),
        ("space amplification", StepReport::space_amplification),
        ("read amplification (sorted runs)", |r| r.sorted_runs as f64),
    ];
    for (i, (name, measure)) in panels.into_iter().enumerate() {
        let top = FIRST_PANEL_TOP + i as f64 * (PANEL_HEIGHT + PANEL_GAP);
        let series = [
            (LEVELED_COLOUR, series(&leveled, measure)),
            (TIERED_COLOUR, series(&tiered, measure)),
        ];
        panel(w, top, name, steps, &series);
    }
    let y = COMPARE_HEIGHT - 12.0;
    let mut x = LEFT;
    for (name, colour) in [("leveled", LEVELED_COLOUR), ("tiered", TIERED_COLOUR)] {
        line_legend(w, x, y, colour, name);
        x += 120.0;
    }
    let _ = writeln!(w, "</svg>");
    out
}

/// `(step, value)` of each report.
fn series(reports: &[&StepReport], measure: fn(&StepReport) -> f64) -> Vec<(usize, f64)> {
    reports.iter().map(|r| (r.step, measure(r))).collect()
}

/// One panel of [`compare_svg`] from `top` down: its name, a frame, value ticks on the left,
/// step ticks below, and one line per `(colour, points)`.
fn panel(w: &mut String, top: f64, name: &str, steps: usize, lines: &[(&str, Vec<(usize, f64)>)]) {
    let bottom = top + PANEL_HEIGHT;
    let max = lines
        .iter()
        .flat_map(|(_, points)| points.iter().map(|&(_, v)| v))
        .fold(1.0, f64::max);
    let value_ticks = ticks(max);
    let value_top = *value_ticks.last().unwrap_or(&1.0);
    let x = |step: usize| LEFT + (RIGHT - LEFT) * step as f64 / steps as f64;
    let y = |value: f64| bottom - (bottom - top) * value / value_top;
    let _ = writeln!(
        w,
        r#"  <text x="{LEFT}" y="{:.1}" font-weight="bold" fill="{TEXT_COLOUR}">{}</text>"#,
        top - 8.0,
        escape(name)
    );
    for &tick in &value_ticks {
        let yt = y(tick);
        let _ = writeln!(
            w,
            r#"  <line x1="{LEFT}" y1="{yt:.1}" x2="{RIGHT}" y2="{yt:.1}" stroke="{GRID_COLOUR}"/>"#
        );
        let _ = writeln!(
            w,
            r#"  <text x="{:.1}" y="{:.1}" text-anchor="end" fill="{TEXT_COLOUR}">{}</text>"#,
            LEFT - 6.0,
            yt + 4.0,
            number(tick)
        );
    }
    for tick in ticks(steps as f64) {
        let xt = x(tick as usize);
        if xt > RIGHT + 0.5 {
            continue;
        }
        let _ = writeln!(
            w,
            r#"  <text x="{xt:.1}" y="{:.1}" text-anchor="middle" fill="{TEXT_COLOUR}">{}</text>"#,
            bottom + 16.0,
            number(tick)
        );
    }
    for (colour, points) in lines {
        let mut path = String::new();
        for &(step, value) in points {
            let command = if path.is_empty() { 'M' } else { 'L' };
            let _ = write!(path, "{command} {:.1} {:.1} ", x(step), y(value));
        }
        if !path.is_empty() {
            let _ = writeln!(
                w,
                r#"  <path d="{}" fill="none" stroke="{colour}" stroke-width="2"/>"#,
                path.trim_end()
            );
        }
    }
    let _ = writeln!(
        w,
        r#"  <path d="M {LEFT} {top:.1} L {LEFT} {bottom:.1} L {RIGHT} {bottom:.1}" fill="none" stroke="{TEXT_COLOUR}"/>"#
    );
}

/// The axis lines and their labels.
fn axes(w: &mut String) {
    let _ = writeln!(
        w,
        r#"  <path d="M {LEFT} {TOP} L {LEFT} {BOTTOM} L {RIGHT} {BOTTOM} L {RIGHT} {TOP}" fill="none" stroke="{TEXT_COLOUR}"/>"#
    );
    let middle = (TOP + BOTTOM) / 2.0;
    let _ = writeln!(
        w,
        r#"  <text x="{:.1}" y="{:.1}" text-anchor="middle" fill="{TEXT_COLOUR}">flushes (steps)</text>"#,
        (LEFT + RIGHT) / 2.0,
        BOTTOM + 40.0
    );
    let _ = writeln!(
        w,
        r#"  <text x="22" y="{middle:.1}" text-anchor="middle" transform="rotate(-90 22 {middle:.1})" fill="{TEXT_COLOUR}">bytes in each level (stacked)</text>"#
    );
    let right = WIDTH - 24.0;
    let _ = writeln!(
        w,
        r#"  <text x="{right:.1}" y="{middle:.1}" text-anchor="middle" transform="rotate(90 {right:.1} {middle:.1})" fill="{WRITE_AMP_COLOUR}">write amplification</text>"#
    );
}

/// A row of colour boxes naming the levels, and the write amplification line.
fn legend(w: &mut String, levels: usize) {
    let y = HEIGHT - 30.0;
    let mut x = LEFT;
    for level in 0..=levels {
        let _ = writeln!(
            w,
            r##"  <rect x="{x:.1}" y="{:.1}" width="14" height="14" fill="{}" stroke="#6b7280" stroke-width="0.5"/>"##,
            y - 11.0,
            colour(level)
        );
        let name = if level == levels {
            format!("L{level} (bottom)")
        } else {
            format!("L{level}")
        };
        let _ = writeln!(
            w,
            r#"  <text x="{:.1}" y="{y:.1}" fill="{TEXT_COLOUR}">{name}</text>"#,
            x + 19.0
        );
        x += if level == levels { 100.0 } else { 52.0 };
    }
    line_legend(w, x, y, WRITE_AMP_COLOUR, "write amplification");
}

/// A legend entry for a line: a short stroke of `colour` at `x` and `name` after it, on the
/// baseline `y`.
fn line_legend(w: &mut String, x: f64, y: f64, colour: &str, name: &str) {
    let _ = writeln!(
        w,
        r#"  <line x1="{x:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{colour}" stroke-width="2"/>"#,
        y - 4.0,
        x + 24.0,
        y - 4.0
    );
    let _ = writeln!(
        w,
        r#"  <text x="{:.1}" y="{y:.1}" fill="{TEXT_COLOUR}">{name}</text>"#,
        x + 30.0
    );
}

/// The fill of L`level`.
fn colour(level: usize) -> &'static str {
    match level {
        0 => L0_COLOUR,
        level => LEVEL_COLOURS[(level - 1).min(LEVEL_COLOURS.len() - 1)],
    }
}

/// At most [`MAX_POINTS`] reports, evenly spread, always with the last.
fn sample(reports: &[StepReport]) -> Vec<&StepReport> {
    let every = reports.len().div_ceil(MAX_POINTS).max(1);
    let mut points: Vec<&StepReport> = reports.iter().step_by(every).collect();
    if let Some(last) = reports.last()
        && points.last().is_none_or(|p| p.step != last.step)
    {
        points.push(last);
    }
    points
}

/// The unit (name, bytes) that the size axis counts in, and its ticks in that unit.
fn size_axis(max_bytes: u64) -> ((&'static str, u64), Vec<f64>) {
    let unit = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)]
        .into_iter()
        .find(|&(_, bytes)| max_bytes >= bytes)
        .unwrap_or(("B", 1));
    (unit, ticks(max_bytes as f64 / unit.1 as f64))
}

/// Round ticks from 0 up to at least `max`: about five, spaced 1, 2 or 5 times a power of ten.
fn ticks(max: f64) -> Vec<f64> {
    let max = if max > 0.0 { max } else { 1.0 };
    let rough = max / 5.0;
    let power = 10f64.powf(rough.log10().floor());
    let spacing = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|&s| s >= rough)
        .unwrap_or(10.0 * power);
    let count = (max / spacing).ceil() as usize;
    (0..=count).map(|i| i as f64 * spacing).collect()
}

/// A tick label: no decimals for whole numbers, otherwise as few as needed.
fn number(value: f64) -> String {
    let text = format!("{value:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// `text` with the characters XML reserves replaced.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn ticks_are_round_and_reach_the_maximum() {
        assert_eq!(ticks(9.0), [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        assert_eq!(ticks(1.0), [0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]);
        assert_eq!(ticks(0.0).last(), Some(&1.0));
        assert_eq!(number(0.6000000000000001), "0.6");
        assert_eq!(number(250.0), "250");
        let ((unit, _), sizes) = size_axis(300 << 20);
        assert_eq!((unit, sizes.last()), ("MiB", Some(&300.0)));
    }

    #[test]
    fn long_runs_are_sampled_with_the_last_step_kept() {
        let report = |step| StepReport {
            step,
            level_sizes: vec![0, 1],
            flushed: 1,
            compacted: 0,
            compactions: 0,
            sorted_runs: 0,
            live_bytes: 0,
        };
        let reports: Vec<StepReport> = (1..=1234).map(report).collect();
        let points = sample(&reports);
        assert!(points.len() <= MAX_POINTS + 1, "{}", points.len());
        assert_eq!(points.first().map(|p| p.step), Some(1));
        assert_eq!(points.last().map(|p| p.step), Some(1234));
    }

    #[test]
    fn the_svg_has_a_white_background_labelled_axes_and_an_area_per_level() {
        let args = Args::try_parse_from(["compaction-simulator", "--max-levels", "2"])
            .expect("valid arguments");
        let reports = [
            StepReport {
                step: 1,
                level_sizes: vec![2 << 20, 0, 0],
                flushed: 2 << 20,
                compacted: 0,
                compactions: 0,
                sorted_runs: 1,
                live_bytes: 2 << 20,
            },
            StepReport {
                step: 2,
                level_sizes: vec![0, 0, 4 << 20],
                flushed: 4 << 20,
                compacted: 4 << 20,
                compactions: 1,
                sorted_runs: 1,
                live_bytes: 4 << 20,
            },
        ];
        let svg = svg(&args, &reports);
        assert!(
            svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""),
            "{svg}"
        );
        assert!(svg.ends_with("</svg>\n"), "{svg}");
        assert!(svg.contains(r##"fill="#ffffff""##), "{svg}");
        for label in [
            "flushes (steps)",
            "write amplification",
            "L2 (bottom)",
            "4 MiB",
        ] {
            assert!(svg.contains(label), "no {label:?} in {svg}");
        }
        // The areas of L0, L1 and L2, the write amplification line and the axes.
        assert_eq!(svg.matches("<path d=\"M").count(), 3 + 1 + 1, "{svg}");
    }
}
