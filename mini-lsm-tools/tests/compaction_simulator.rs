//! Checks of `compaction-simulator` on the reference (the starter's controller is a `todo!()`):
//! the simulation through the library's `simulator` module, then the binary itself.
//!
//! The binary is the one Cargo built for this package (`CARGO_BIN_EXE_compaction-simulator`). A
//! starter build of this crate (`cargo x sim`) links a binary of the same name; `cargo test` does
//! not build it, but one run in between replaces the file until the next reference build of this
//! crate links its own again.

#![cfg(feature = "reference")]

use std::process::{Command, Output};

use clap::Parser;
use mini_lsm_tools::engine::TreeShape;
use mini_lsm_tools::engine::compact::tiered::sorted_runs;
use mini_lsm_tools::simulator::{self, Args, Simulation, StepReport};

/// The arguments of `compaction-simulator ARGS…`.
fn args(arguments: &[&str]) -> Args {
    Args::try_parse_from(std::iter::once("compaction-simulator").chain(arguments.iter().copied()))
        .expect("valid arguments")
}

/// Small trees that use every level within a few hundred steps, for each workload and overwrite
/// share.
const SETUPS: [&[&str]; 6] = [
    &["--base-level-size", "8M", "--multiplier", "4"],
    &[
        "--base-level-size",
        "8M",
        "--multiplier",
        "4",
        "--workload",
        "sequential",
    ],
    &[
        "--base-level-size",
        "4M",
        "--multiplier",
        "2",
        "--max-levels",
        "6",
        "--overwrite",
        "0.5",
    ],
    &[
        "--base-level-size",
        "8M",
        "--sst-size",
        "512K",
        "--level0-trigger",
        "2",
        "--overwrite",
        "1",
    ],
    &[
        "--base-level-size",
        "2M",
        "--multiplier",
        "3",
        "--max-levels",
        "1",
    ],
    &[
        "--base-level-size",
        "6M",
        "--flush-size",
        "3M",
        "--sst-size",
        "1M",
        "--overwrite",
        "0.2",
    ],
];

/// The targets the day-5 chapter gives each level `1..=max_levels`, computed here independently.
fn targets(args: &Args, shape: &TreeShape) -> Vec<u64> {
    let sizes = level_sizes(shape);
    let mut targets = vec![0; args.max_levels];
    targets[args.max_levels - 1] = sizes[args.max_levels - 1].max(args.base_level_size);
    for i in (0..args.max_levels - 1).rev() {
        if targets[i + 1] > args.base_level_size {
            targets[i] = targets[i + 1] / args.multiplier as u64;
        }
    }
    targets
}

/// The bytes of each level `1..=max_levels`.
fn level_sizes(shape: &TreeShape) -> Vec<u64> {
    let size = |ssts: &[mini_lsm_tools::engine::SstInfo]| ssts.iter().map(|s| s.size_bytes).sum();
    shape.levels.iter().map(|level| size(&level.ssts)).collect()
}

/// All bytes in the tree.
fn tree_bytes(shape: &TreeShape) -> u64 {
    let l0: u64 = shape.l0.iter().map(|sst| sst.size_bytes).sum();
    l0 + level_sizes(shape).iter().sum::<u64>()
}

#[test]
fn after_every_step_l0_is_below_the_trigger_and_each_level_within_its_target() {
    for setup in SETUPS {
        let args = args(setup);
        let mut simulation = Simulation::new(&args);
        for step in 1..=300 {
            simulation.step().expect("the step runs");
            let shape = simulation.shape();
            assert!(
                shape.l0.len() < args.level0_trigger,
                "{setup:?} step {step}: L0 holds {} SSTs, trigger {}:\n{shape}",
                shape.l0.len(),
                args.level0_trigger
            );
            let (sizes, targets) = (level_sizes(shape), targets(&args, shape));
            for level in 1..args.max_levels {
                assert!(
                    sizes[level - 1] <= targets[level - 1],
                    "{setup:?} step {step}: L{level} holds {} bytes, target {}:\n{shape}",
                    sizes[level - 1],
                    targets[level - 1]
                );
            }
            for level in &shape.levels {
                for pair in level.ssts.windows(2) {
                    assert!(
                        pair[0].last_key < pair[1].first_key,
                        "{setup:?} step {step}: L{} is not sorted and disjoint:\n{shape}",
                        level.level
                    );
                }
            }
        }
    }
}

#[test]
fn l0_is_never_compacted_under_a_non_empty_level_and_levels_move_one_down() {
    for setup in SETUPS {
        let args = args(setup);
        let mut simulation = Simulation::new(&args);
        let mut l0_compactions = 0;
        for _ in 0..300 {
            simulation.flush();
            loop {
                let before = simulation.shape().clone();
                let Some(task) = simulation.compact_once().expect("the task applies") else {
                    break;
                };
                if task.l0_sst_ids.is_empty() {
                    let upper = task.level_sst_ids[0].0;
                    assert_eq!(task.output_level, upper + 1, "{setup:?} {task:?}");
                    continue;
                }
                l0_compactions += 1;
                assert_eq!(task.l0_sst_ids, before.l0_ids(), "{setup:?}: all of L0");
                let above = &before.levels[..task.output_level - 1];
                assert!(
                    above.iter().all(|level| level.ssts.is_empty()),
                    "{setup:?}: L0 into L{} under a non-empty level:\n{before}",
                    task.output_level
                );
            }
        }
        assert!(l0_compactions > 10, "{setup:?}: {l0_compactions}");
    }
}

#[test]
fn bytes_are_conserved_and_write_amplification_starts_at_one_and_never_falls_below() {
    for setup in SETUPS {
        let args = args(setup);
        let mut simulation = Simulation::new(&args);
        let mut previous: Option<StepReport> = None;
        for _ in 0..300 {
            let report = simulation.step().expect("the step runs");
            let shape = simulation.shape();
            assert_eq!(
                tree_bytes(shape),
                report.flushed - simulation.dropped(),
                "{setup:?} step {}: the tree holds what was flushed, less what overwrites hid",
                report.step
            );
            assert_eq!(report.level_sizes.iter().sum::<u64>(), tree_bytes(shape));
            assert_eq!(report.flushed, report.step as u64 * args.flush_size);
            if report.compactions == 0 {
                assert_eq!(report.write_amplification(), 1.0, "{setup:?}");
            }
            assert!(report.write_amplification() >= 1.0, "{setup:?} {report:?}");
            if let Some(previous) = previous {
                let written = report.compacted - previous.compacted;
                assert_eq!(
                    written > 0,
                    report.compactions > previous.compactions,
                    "{setup:?}: bytes are compacted exactly in the steps that compact"
                );
            }
            previous = Some(report);
        }
        if args.overwrite == 0.0 {
            assert_eq!(simulation.dropped(), 0, "{setup:?}: nothing to drop");
        } else {
            assert!(simulation.dropped() > 0, "{setup:?}: overwrites drop bytes");
        }
    }
}

/// The last report of a run of `steps` steps with `setup`.
fn last_report(setup: &[&str], steps: usize) -> StepReport {
    let steps = steps.to_string();
    let arguments: Vec<&str> = setup.iter().copied().chain(["--steps", &steps]).collect();
    let reports = simulator::run(&args(&arguments), &mut Vec::new()).expect("the run succeeds");
    reports.last().cloned().expect("a report per step")
}

#[test]
fn with_sequential_keys_each_byte_is_written_once_per_level_it_passes() {
    // Nothing overlaps, so a byte is flushed once, then written once per level it goes through,
    // from the base level down: write amplification is at most 1 + the levels with a target, and
    // grows as a smaller multiplier brings more of them into use.
    let mut last_amp = 1.0;
    for multiplier in ["8", "4", "2"] {
        let setup = [
            "--workload",
            "sequential",
            "--base-level-size",
            "8M",
            "--max-levels",
            "6",
            "--multiplier",
            multiplier,
        ];
        let args = args(&setup);
        let mut simulation = Simulation::new(&args);
        let mut report = None;
        for _ in 0..400 {
            report = Some(simulation.step().expect("the step runs"));
        }
        let amp = report.expect("400 steps").write_amplification();
        let levels = targets(&args, simulation.shape());
        let with_target = levels.iter().filter(|&&t| t > 0).count();
        assert!(
            amp <= 1.0 + with_target as f64,
            "multiplier {multiplier}: {amp} with {with_target} levels with a target"
        );
        assert!(
            amp > last_amp,
            "multiplier {multiplier}: {amp} with {with_target} levels, after {last_amp}"
        );
        last_amp = amp;
    }
    assert!(last_amp > 4.0, "{last_amp}");
}

#[test]
fn uniform_keys_cost_more_writes_than_sequential_ones_and_overwrites_shrink_the_tree() {
    let base = ["--base-level-size", "8M", "--multiplier", "4"];
    let with = |extra: &[&'static str]| {
        let setup: Vec<&str> = base.iter().chain(extra).copied().collect();
        last_report(&setup, 300)
    };
    let uniform = with(&[]);
    let sequential = with(&["--workload", "sequential"]);
    let overwritten = with(&["--overwrite", "0.5"]);
    let bytes = |r: &StepReport| r.level_sizes.iter().sum::<u64>();
    assert!(
        uniform.write_amplification() > 2.0 * sequential.write_amplification(),
        "{uniform:?}\n{sequential:?}"
    );
    assert_eq!(bytes(&uniform), uniform.flushed);
    // Half of each flush overwrites: the tree ends near half of what was flushed.
    let held = bytes(&overwritten) as f64 / overwritten.flushed as f64;
    assert!((0.5..0.6).contains(&held), "{held}: {overwritten:?}");
}

/// Runs the built binary with `arguments`.
fn simulator_binary(arguments: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_compaction-simulator"))
        .args(arguments)
        .output()
        .expect("the binary runs")
}

/// Whether `svg` is one `<svg>` element whose tags all nest and close.
fn is_well_formed_svg(svg: &str) -> Result<(), String> {
    let mut open: Vec<&str> = Vec::new();
    let mut rest = svg.trim();
    if !rest.starts_with("<svg ") || !rest.ends_with("</svg>") {
        return Err("not one <svg> element".into());
    }
    while let Some(start) = rest.find('<') {
        if rest[..start].contains('>') {
            return Err(format!("a stray '>' before {:?}", &rest[start..]));
        }
        let end = rest[start..].find('>').ok_or("an unclosed tag")? + start;
        let tag = &rest[start + 1..end];
        if !tag.matches('"').count().is_multiple_of(2) {
            return Err(format!("unbalanced quotes in <{tag}>"));
        }
        if let Some(name) = tag.strip_prefix('/') {
            match open.pop() {
                Some(opened) if opened == name => {}
                other => return Err(format!("</{name}> closes {other:?}")),
            }
        } else if !tag.ends_with('/') {
            open.push(tag.split_whitespace().next().ok_or("an empty tag")?);
        }
        rest = &rest[end + 1..];
        if open.is_empty() && !rest.trim().is_empty() {
            return Err("text after </svg>".into());
        }
    }
    match open.is_empty() {
        true => Ok(()),
        false => Err(format!("unclosed {open:?}")),
    }
}

#[test]
fn the_binary_prints_a_line_per_step_and_writes_a_well_formed_svg() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let plot = dir.path().join("sim.svg");
    let plot_arg = plot.to_str().expect("a UTF-8 path");
    let run = [
        "--steps",
        "20",
        "--base-level-size",
        "8M",
        "--max-levels",
        "3",
    ];
    let output = simulator_binary(&[&run[..], &["--plot", plot_arg]].concat());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{output:?}\n(a `not implemented yet` here is the starter's binary: see this file's doc)"
    );
    let lines: Vec<&str> = stdout.lines().collect();
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        header,
        [
            "step",
            "L0",
            "L1",
            "L2",
            "L3",
            "flushed",
            "compacted",
            "write",
            "amp"
        ],
        "{stdout}"
    );
    assert_eq!(lines.len(), 1 + 20 + 1, "{stdout}");
    assert_eq!(lines[21], format!("plot written to {plot_arg}"));
    // The same run through the library: the binary prints its table.
    let reports = simulator::run(&args(&run), &mut Vec::new()).expect("the run succeeds");
    for (line, report) in lines[1..=20].iter().zip(&reports) {
        assert_eq!(*line, simulator::table_row(report));
    }
    assert_eq!(
        lines[4],
        "     4         0 B         0 B         0 B     8.0 MiB     8.0 MiB     8.0 MiB       2.00",
        "the fourth flush reaches the L0 trigger: L0 goes to the bottom level, written twice"
    );
    let svg = std::fs::read_to_string(&plot).expect("the plot was written");
    is_well_formed_svg(&svg).unwrap_or_else(|e| panic!("{e}:\n{svg}"));
    for label in ["flushes (steps)", "write amplification", "L3 (bottom)"] {
        assert!(svg.contains(label), "no {label:?} in\n{svg}");
    }
}

#[test]
fn the_svg_checker_rejects_broken_documents() {
    assert_eq!(
        is_well_formed_svg("<svg a=\"1\"><g><rect/></g></svg>\n"),
        Ok(())
    );
    for broken in [
        "<svg a=\"1\"><g></svg>",
        "<svg a=\"1\"><rect></svg>",
        "<svg a=\"1><rect/></svg>",
        "<svg a=\"1\"></svg><svg a=\"2\"></svg>",
        "<g></g>",
    ] {
        assert!(is_well_formed_svg(broken).is_err(), "{broken}");
    }
}

#[test]
fn bad_options_print_one_error_line_and_exit_non_zero() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let unwritable = dir.path().join("missing-dir").join("sim.svg");
    let cases: [(&[&str], i32); 7] = [
        (&["--multiplier", "1"], 2),
        (&["--steps", "many"], 2),
        (&["--overwrite", "-0.1"], 2),
        (&["--workload", "zipf"], 2),
        (&["--no-such-option"], 2),
        (&["--steps", "100000", "--sst-size", "4K"], 1),
        (
            &[
                "--steps",
                "3",
                "--plot",
                unwritable.to_str().expect("UTF-8"),
            ],
            1,
        ),
    ];
    for (arguments, code) in cases {
        let output = simulator_binary(arguments);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(code), "{arguments:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{arguments:?}: {stderr}");
        assert!(stderr.starts_with("error: "), "{arguments:?}: {stderr}");
        if code == 2 {
            assert!(output.stdout.is_empty(), "{arguments:?}");
        }
    }
}

#[test]
fn help_names_every_parameter_and_the_overwrite_model() {
    let output = simulator_binary(&["--help"]);
    assert!(output.status.success(), "{output:?}");
    let help = String::from_utf8_lossy(&output.stdout);
    for option in [
        "--level0-trigger",
        "--multiplier",
        "--base-level-size",
        "--max-levels",
        "--sst-size",
        "--flush-size",
        "--steps",
        "--workload",
        "--overwrite",
        "--plot",
        "--controller",
        "--max-runs",
        "--max-size-amp",
        "--size-ratio",
        "--min-merge-width",
        "--compare",
        "rough model",
    ] {
        assert!(help.contains(option), "no {option} in\n{help}");
    }
}

// ---------------------------------------------------------------------------------------------
// The tiered controller (day 10) and --compare
// ---------------------------------------------------------------------------------------------

/// The sizes of the sorted runs of `shape`, newest first (the engine's own definition of a run:
/// each L0 SST, then each non-empty level).
fn run_sizes(shape: &TreeShape) -> Vec<u64> {
    sorted_runs(shape)
        .into_iter()
        .map(|(_, size)| size)
        .collect()
}

/// After every step of a tiered run: at most `max_runs` sorted runs, the runs newer than the
/// oldest within `max_size_amp` percent of it, and no byte lost.
#[test]
fn tiered_runs_stay_within_max_runs_and_the_size_amplification_bound() {
    for setup in [
        &["--controller", "tiered"][..],
        &["--controller", "tiered", "--workload", "sequential"],
        &[
            "--controller",
            "tiered",
            "--overwrite",
            "0.5",
            "--max-runs",
            "3",
        ],
        &[
            "--controller",
            "tiered",
            "--max-size-amp",
            "50",
            "--max-levels",
            "6",
        ],
    ] {
        let args = args(setup);
        let mut simulation = Simulation::new(&args);
        for step in 1..=300 {
            let report = simulation
                .step()
                .expect("the tiered controller makes progress");
            let shape = simulation.shape();
            let runs = run_sizes(shape);
            assert!(
                runs.len() <= args.max_runs,
                "{setup:?}, step {step}: {} runs, max {}\n{shape}",
                runs.len(),
                args.max_runs
            );
            assert_eq!(report.sorted_runs, runs.len(), "{setup:?}, step {step}");
            let (oldest, newer) = runs.split_last().expect("a run");
            let newer: u64 = newer.iter().sum();
            assert!(
                newer * 100 <= args.max_size_amp * oldest,
                "{setup:?}, step {step}: newer runs {newer} B, oldest {oldest} B\n{shape}"
            );
            assert_eq!(
                tree_bytes(shape) + simulation.dropped(),
                report.flushed,
                "{setup:?}, step {step}: bytes in the tree and dropped"
            );
            assert!(
                report.space_amplification() >= 1.0,
                "{setup:?}, step {step}"
            );
        }
    }
}

/// The trade the two controllers make, on the same uniform workload with overwrites: tiered
/// writes less, and lets its runs pile up to `max_runs` (what a point read may probe).
#[test]
fn tiered_writes_less_than_leveled_on_uniform_keys() {
    let args = args(&[
        "--steps",
        "400",
        "--base-level-size",
        "8M",
        "--multiplier",
        "4",
        "--overwrite",
        "0.5",
        "--compare",
    ]);
    let mut out = Vec::new();
    let (leveled, tiered) = simulator::compare(&args, &mut out).expect("both controllers run");
    let (l, t) = (leveled.last().unwrap(), tiered.last().unwrap());
    assert!(
        t.write_amplification() < l.write_amplification(),
        "tiered {} vs leveled {}",
        t.write_amplification(),
        l.write_amplification()
    );
    let most_runs = |reports: &[StepReport]| reports.iter().map(|r| r.sorted_runs).max();
    assert_eq!(most_runs(&tiered), Some(args.max_runs));
    let text = String::from_utf8(out).expect("UTF-8");
    for expected in ["leveled:", "tiered:", "write amp", "space amp", "read amp"] {
        assert!(text.contains(expected), "no {expected:?} in\n{text}");
    }
}

#[test]
fn the_binary_compares_both_controllers_into_one_well_formed_svg() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let plot = dir.path().join("compare.svg");
    let plot_arg = plot.to_str().expect("a UTF-8 path");
    let output = simulator_binary(&["--steps", "50", "--compare", "--plot", plot_arg]);
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let rows: Vec<&str> = stdout
        .lines()
        .filter(|line| line.starts_with("leveled ") || line.starts_with("tiered "))
        .collect();
    assert_eq!(
        rows.len(),
        2,
        "one summary line per controller in\n{stdout}"
    );
    let svg = std::fs::read_to_string(&plot).expect("the plot was written");
    is_well_formed_svg(&svg).unwrap_or_else(|e| panic!("{e}:\n{svg}"));
    for label in [
        "write amplification",
        "space amplification",
        "read amplification",
        "leveled",
        "tiered",
    ] {
        assert!(svg.contains(label), "no {label:?} in the SVG");
    }
    let single = simulator_binary(&["--steps", "30", "--controller", "tiered"]);
    assert!(single.status.success(), "{single:?}");
    let lines = String::from_utf8_lossy(&single.stdout).lines().count();
    assert_eq!(lines, 31, "a heading and one line per step");
}
