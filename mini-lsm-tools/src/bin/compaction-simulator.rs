//! `compaction-simulator`: day 5's leveled compaction controller over a tree of sizes (see the
//! library's `simulator` module, or run it with `--help`).

fn main() -> std::process::ExitCode {
    mini_lsm_tools::simulator::main()
}
