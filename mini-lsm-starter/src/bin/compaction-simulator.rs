//! `compaction-simulator`: day 5's leveled compaction controller over a tree of sizes (see the
//! library's `simulator` module, or run it with `--help`).
//!
//! Copied unchanged into the generated starter, like `mini-lsm-cli`, and it names its library
//! the same way: through `mini-lsm-cli/lib/<package name>.rs`.

include!(concat!("mini-lsm-cli/lib/", env!("CARGO_PKG_NAME"), ".rs"));

fn main() -> std::process::ExitCode {
    engine::simulator::main()
}
