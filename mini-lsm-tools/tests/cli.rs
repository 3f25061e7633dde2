//! Checks of `mini-lsm-cli` on the reference (with the starter the engine stops at its first
//! `todo!()`), in script mode, the mode of `printf '…' | mini-lsm-cli`, through
//! [`cli::run_script`], which the binary runs when its standard input is not a terminal. (Not by
//! spawning the binary: a starter build of this crate links a `target/debug/mini-lsm-cli` of the
//! same name, so the path could be the starter's.)

#![cfg(feature = "reference")]

use std::path::Path;

use clap::Parser;
use mini_lsm_tools::cli::{self, Args};
use mini_lsm_tools::engine::{CompactionOptions, LsmOptions, MiniLsm};

/// The arguments of `mini-lsm-cli ARGS…`.
fn args(args: &[&str]) -> Args {
    Args::try_parse_from(std::iter::once("mini-lsm-cli").chain(args.iter().copied()))
        .expect("valid arguments")
}

/// What `printf SCRIPT | mini-lsm-cli ARGS…` prints; `Err` when the engine cannot be opened
/// (the binary then exits with status 1).
fn run(arguments: &[&str], script: &str) -> Result<String, String> {
    cli::run_script(&args(arguments), script.as_bytes())
}

/// What the script prints, when the engine opens.
fn stdout_of(arguments: &[&str], script: &str) -> String {
    run(arguments, script).expect("the engine opens")
}

/// The lines of `text`.
fn lines(text: &str) -> Vec<&str> {
    text.lines().collect()
}

#[test]
fn the_issue_example_prints_values_a_shape_with_one_l0_sst_and_stats() {
    let out = stdout_of(&[], "put a 1\nput b 2\nflush\nget a\nscan\nshape\nstats\n");
    let lines = lines(&out);
    assert_eq!(
        lines[..7],
        ["ok", "ok", "ok", "1", "a = 1", "b = 2", "(2 entries)"],
        "{out}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("L0        1 SST,")),
        "{out}"
    );
    assert!(lines.iter().any(|l| l.contains("[a ..= b]")), "{out}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("flushes              1,")),
        "{out}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("write amplification  1.00")),
        "{out}"
    );
    assert!(
        !out.contains("mini-lsm>"),
        "script mode prints no prompt:\n{out}"
    );
}

#[test]
fn quoted_words_and_escaped_bytes_are_keys_and_values() {
    let script = "put \"a b\" \"c d\"\nget \"a b\"\nput \\xff\\x00 \"\"\nget \\xff\\x00\nscan\n";
    let out = stdout_of(&["--day", "4"], script);
    assert_eq!(
        lines(&out),
        [
            "ok",
            "\"c d\"",
            "ok",
            "\"\"",
            "\"a b\" = \"c d\"",
            "\\xff\\x00 = \"\"",
            "(2 entries)"
        ],
        "{out}"
    );
}

#[test]
fn bad_input_prints_one_line_and_the_shell_goes_on() {
    let script =
        "frobnicate\nput a\nget\nflush now\nget \"open\nfill 9 3\nput \"\" v\nput a 1\nget a\n";
    let out = stdout_of(&["--day", "4"], script);
    let lines = lines(&out);
    assert_eq!(lines.len(), 9, "{out}");
    assert!(
        lines[0].starts_with("error: unknown command `frobnicate`"),
        "{out}"
    );
    assert_eq!(
        lines[1],
        "error: put: missing argument (usage: put KEY VALUE)"
    );
    assert_eq!(lines[2], "error: get: missing argument (usage: get KEY)");
    assert_eq!(lines[3], "error: flush: too many arguments (usage: flush)");
    assert!(
        lines[4].starts_with("error: a quote is not closed"),
        "{out}"
    );
    assert_eq!(lines[5], "error: fill 9 3: FROM must be below TO");
    assert_eq!(lines[6], "error: invalid argument: keys must not be empty");
    assert_eq!(lines[7..], ["ok", "1"]);
}

#[test]
fn scan_bounds_are_half_open_by_default_and_bracketed_otherwise() {
    let mut script = String::from("put a 1\nput b 2\nput c 3\nput d 4\n");
    for scan in [
        "scan b d",
        "scan [b d]",
        "scan (b d)",
        "scan (b *]",
        "scan * b",
    ] {
        script.push_str(scan);
        script.push('\n');
    }
    let out = stdout_of(&["--day", "4"], &script);
    // Each scan prints `key = value` lines, then `(N entries)`.
    let mut keys = vec![String::new()];
    for line in out.lines().skip(4) {
        match line.split_once(" = ") {
            Some((key, _)) => keys.last_mut().unwrap().push_str(key),
            None => keys.push(String::new()),
        }
    }
    assert_eq!(keys[..5], ["bc", "bcd", "c", "cd", "a"], "{out}");
}

#[test]
fn fill_puts_numbered_keys_and_reports_progress_by_tenths() {
    let out = stdout_of(
        &["--day", "4"],
        "fill 0 10000\nget key_000042\nget key_010000\n",
    );
    let lines = lines(&out);
    assert_eq!(lines.len(), 12, "{out}");
    assert_eq!(lines[0], "  10% (1000/10000 keys)");
    assert_eq!(lines[8], "  90% (9000/10000 keys)");
    assert_eq!(
        lines[9..],
        [
            "ok: 10000 keys, key_000000 .. key_009999",
            "value_42",
            "(not found)"
        ]
    );
}

#[test]
fn dump_names_the_layers_a_get_searches() {
    let script = "put a 1\nput c 3\nflush\nput x 9\nflush\ndump b\n";
    let out = stdout_of(&["--day", "4"], script);
    assert!(out.contains("memtable #"), "{out}");
    assert!(
        out.contains("[a ..= c] searched: its key range covers the key"),
        "{out}"
    );
    assert!(
        out.contains("[x ..= x] skipped: the key is outside its key range"),
        "{out}"
    );
    assert!(out.ends_with("get b = (not found)\n"), "{out}");
}

#[test]
fn day_4_options_have_no_later_feature_and_flags_change_them() {
    let parse = |arguments: &[&str]| args(arguments).options();
    assert_eq!(parse(&["--day", "4"]), LsmOptions::for_day(4));
    assert_eq!(parse(&[]), LsmOptions::default());
    let changed = parse(&[
        "--day",
        "4",
        "--wal",
        "on",
        "--compaction",
        "on",
        "--bloom",
        "on",
        "--block-size",
        "1K",
        "--memtable-size",
        "64KiB",
        "--target-sst-size",
        "2M",
    ]);
    assert!(changed.enable_wal && changed.background_compaction);
    assert!(matches!(changed.compaction, CompactionOptions::Leveled(_)));
    assert_eq!(changed.bloom_bits_per_key, 10);
    assert_eq!(
        (
            changed.block_size,
            changed.memtable_size,
            changed.target_sst_size
        ),
        (1024, 64 << 10, 2 << 20)
    );
    let off = parse(&["--wal", "off", "--compaction", "off", "--bloom-bits", "0"]);
    assert_eq!(off.required_day(), 4);
    assert!(!off.background_compaction);
    for bad in [
        &["--day", "11"][..],
        &["--wal", "maybe"],
        &["--block-size", "big"],
    ] {
        assert!(
            Args::try_parse_from(std::iter::once("mini-lsm-cli").chain(bad.iter().copied()))
                .is_err(),
            "{bad:?}"
        );
    }
}

#[test]
fn a_day_4_engine_refuses_compaction_with_an_error_line() {
    let out = stdout_of(&["--day", "4"], "compact\nput a 1\nget a\n");
    assert_eq!(
        lines(&out),
        [
            "error: invalid argument: force_full_compaction needs compaction in the options: \
             leveled (day 5) or tiered (day 10)",
            "ok",
            "1"
        ]
    );
}

#[test]
fn with_the_wal_a_reopened_directory_keeps_unflushed_writes() {
    let dir = tempfile::tempdir().unwrap();
    let dir_arg = dir.path().to_str().unwrap();
    assert_eq!(stdout_of(&["--dir", dir_arg], "put a 1\n"), "ok\n");
    assert_eq!(stdout_of(&["--dir", dir_arg], "get a\n"), "1\n");
}

#[test]
fn a_locked_directory_fails_to_open_and_open_keeps_the_current_engine() {
    let locked = tempfile::tempdir().unwrap();
    let _holder = MiniLsm::open(locked.path(), LsmOptions::for_day(4)).unwrap();
    let locked_arg = locked.path().to_str().unwrap();

    let refused = run(&["--day", "4", "--dir", locked_arg], "get a\n").unwrap_err();
    assert!(refused.starts_with("error: "), "{refused}");
    assert!(
        refused.contains("is already open in another engine"),
        "{refused}"
    );

    let script = format!("put a 1\nopen {}\nget a\n", cli_word(locked.path()));
    let out = stdout_of(&["--day", "4"], &script);
    let lines = lines(&out);
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines[1].starts_with("error: ") && lines[1].contains("is already open"),
        "{out}"
    );
    assert_eq!(lines[2], "1", "the current engine stays open:\n{out}");
}

/// A path as one word of the shell.
fn cli_word(path: &Path) -> String {
    format!("\"{}\"", path.to_str().unwrap().escape_default())
}

#[test]
fn quit_ends_the_script() {
    assert_eq!(
        stdout_of(&["--day", "4"], "put k v\nget k\nquit\nget k\n"),
        "ok\nv\n"
    );
}

#[test]
fn help_lists_every_command() {
    let out = stdout_of(&["--day", "4"], "help\n");
    for command in [
        "put KEY VALUE",
        "get KEY",
        "del KEY",
        "scan [FROM [TO]]",
        "fill FROM TO",
        "flush",
        "compact",
        "sync",
        "shape",
        "stats",
        "dump KEY",
        "open DIR",
        "quit",
    ] {
        assert!(out.contains(command), "{command} missing from:\n{out}");
    }
}

#[test]
fn snapshots_read_the_database_as_it_was_until_released() {
    let script = "put a 1\nsnapshot\nput a 2\ndel b\nput b 3\nflush\ncompact\n\
                  get a\nsget 1 a\nsscan 1\nscan\nrelease 1\nsget 1 a\nsnapshot\n";
    let out = stdout_of(&["--day", "8"], script);
    let lines = lines(&out);
    assert_eq!(lines[0], "ok", "{out}");
    assert!(lines[1].starts_with("snapshot 1 at seq "), "{out}");
    assert_eq!(
        lines[2..15],
        [
            "ok",
            "ok",
            "ok",
            "ok",
            "ok",
            "2",
            "1",
            "a = 1",
            "(1 entry)",
            "a = 2",
            "b = 3",
            "(2 entries)",
            "ok",
        ],
        "{out}"
    );
    assert!(lines[15].starts_with("error: no snapshot 1"), "{out}");
    assert!(lines[16].starts_with("snapshot 2 at seq "), "{out}");
}

#[test]
fn a_snapshot_without_versioned_keys_is_an_error_line() {
    let out = stdout_of(&["--day", "7"], "snapshot\nput a 1\nget a\n");
    let lines = lines(&out);
    assert!(
        lines[0].starts_with("error: invalid argument: snapshots need versioned keys"),
        "{out}"
    );
    assert_eq!(lines[1..], ["ok", "1"], "{out}");
}

#[test]
fn a_transaction_in_the_shell_commits_all_or_aborts_everything() {
    let script = "put a 10\nbegin\nget a\nput a 5\ndel c\nscan\ncommit\nget a\n\
                  begin\nput b 1\nbegin\nabort\nget b\ncommit\n";
    let out = stdout_of(&["--day", "9"], script);
    let lines = lines(&out);
    assert!(lines[1].starts_with("transaction at seq "), "{out}");
    assert_eq!(
        lines[2..9],
        ["10", "ok", "ok", "a = 5", "(1 entry)", "ok: committed", "5"],
        "{out}"
    );
    assert!(lines[9].starts_with("transaction at seq "), "{out}");
    assert_eq!(lines[10], "ok", "{out}");
    assert!(
        lines[11].starts_with("error: a transaction is open already"),
        "{out}"
    );
    assert_eq!(
        lines[12..14],
        ["ok: aborted, nothing written", "(not found)"],
        "{out}"
    );
    assert!(
        lines[14].starts_with("error: no transaction is open"),
        "{out}"
    );
}

#[test]
fn compaction_tiered_picks_the_tiered_controller() {
    let options = args(&["--compaction", "tiered"]).options();
    assert!(
        matches!(options.compaction, CompactionOptions::Tiered(_)),
        "{options:?}"
    );
    assert!(options.background_compaction);
    assert_eq!(options.required_day(), 10);
    let off = args(&["--compaction", "off"]).options();
    assert_eq!(off.compaction, CompactionOptions::NoCompaction);
}
