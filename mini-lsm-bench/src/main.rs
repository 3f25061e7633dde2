//! `mini-lsm-bench [OPTIONS]`; see README.md, or `--help`.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    match mini_lsm_bench::main_with(&mini_lsm_bench::Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
