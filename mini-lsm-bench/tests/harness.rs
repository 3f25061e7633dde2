//! Every workload on every default engine with a small key count, in-process: the harness runs
//! end to end and every engine returns what was written (the workloads check their reads).

use clap::Parser;
use mini_lsm_bench::{Args, output, run};

#[test]
fn every_workload_runs_on_every_default_engine() {
    let dir = tempfile::tempdir().unwrap();
    let plots = dir.path().join("plots");
    let args = Args::parse_from([
        "mini-lsm-bench",
        "--num",
        "2000",
        "--sync-every",
        "500",
        "--memtable-size",
        "65536",
        "--threads",
        "1,2",
        "--dir",
        dir.path().join("db").to_str().unwrap(),
    ]);
    let report = run(&args).unwrap();
    let records = report.records;
    // Every workload but readseq runs once per thread count.
    assert_eq!(records.len(), 3 * (8 * 2 + 1));
    let threads: Vec<(&str, usize)> = records
        .iter()
        .filter(|r| r.engine == "fjall")
        .map(|r| (r.workload.as_str(), r.threads))
        .collect();
    assert_eq!(
        threads[..3],
        [("fillseq", 1), ("fillseq", 2), ("fillrandom", 1)]
    );
    assert!(threads.contains(&("readseq", 1)) && !threads.contains(&("readseq", 2)));
    // Only the reference can settle: flush and compact until idle, then report the tree.
    let settled: Vec<&str> = report.settled.iter().map(|(e, _)| e.as_str()).collect();
    assert_eq!(settled, ["mini-lsm"]);
    let summary = &report.settled[0].1;
    assert!(
        summary.contains("compact_until_idle") && summary.contains("SST bytes / flushed bytes"),
        "{summary}"
    );
    for record in &records {
        assert!(record.ops > 0 && record.ops_per_sec > 0.0, "{record:?}");
        assert!(record.p50_us <= record.p99_us && record.p99_us <= record.p999_us);
        let writes = matches!(
            record.workload.as_str(),
            "fillseq" | "fillrandom" | "overwrite" | "mixed" | "deleterandom"
        );
        assert_eq!(record.write_amp.is_some(), writes, "{record:?}");
    }
    let table = output::table(&records);
    assert!(table.contains("readseq") && table.contains("redb"));
    let json: serde_json::Value = serde_json::from_str(&output::json(&records).unwrap()).unwrap();
    assert_eq!(json.as_array().unwrap().len(), records.len());
    assert!(json[0].get("p999_us").is_some() && json[0].get("space_bytes").is_some());
    let charts = output::plot(&records, &plots).unwrap();
    assert_eq!(charts.len(), 6);
    let svg = std::fs::read_to_string(&charts[0]).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("mini-lsm"));
}

/// With a zipfian key choice the random reads still find exactly the live keys, on several
/// threads at once (the workloads check every read).
#[test]
fn zipfian_reads_on_several_threads_find_every_live_key() {
    let dir = tempfile::tempdir().unwrap();
    let args = Args::parse_from([
        "mini-lsm-bench",
        "--num",
        "3000",
        "--engines",
        "mini-lsm,fjall",
        "--workloads",
        "fillrandom,readrandom,deleterandom,readrandom,mixed",
        "--threads",
        "3",
        "--dist",
        "zipfian",
        "--dir",
        dir.path().to_str().unwrap(),
    ]);
    let records = run(&args).unwrap().records;
    assert_eq!(records.len(), 2 * 5);
    for record in &records {
        assert_eq!(record.threads, 3);
        assert_eq!(record.ops, 3000, "{record:?}");
    }
    // Before the deletes every read finds its key; after them, the reads of the (hot, deleted)
    // keys miss.
    assert_eq!(records[1].note, "3000 of 3000 found");
    let after_deletes = &records[3].note;
    let found: usize = after_deletes.split(' ').next().unwrap().parse().unwrap();
    assert!(found < 3000, "{after_deletes}");
}

/// `--ops` sets how many operations the workloads after the fill run, and the fill still writes
/// every key: the reads then find each key they pick.
#[test]
fn ops_limits_the_workloads_after_the_fill_but_not_the_fill() {
    let dir = tempfile::tempdir().unwrap();
    let args = Args::parse_from([
        "mini-lsm-bench",
        "--num",
        "3000",
        "--ops",
        "500",
        "--engines",
        "mini-lsm",
        "--workloads",
        "fillrandom,readrandom,overwrite,readseq",
        "--dir",
        dir.path().to_str().unwrap(),
    ]);
    let records = run(&args).unwrap().records;
    let ops: Vec<usize> = records.iter().map(|record| record.ops).collect();
    assert_eq!(ops, [3000, 500, 500, 3000], "{records:?}");
    assert_eq!(records[1].note, "500 of 500 found");
}
