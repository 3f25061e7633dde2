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
        "--dir",
        dir.path().join("db").to_str().unwrap(),
    ]);
    let report = run(&args).unwrap();
    let records = report.records;
    assert_eq!(records.len(), 3 * 9);
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
