//! `mini-lsm-cli`: a shell over the engine (see the library's `cli` module, or run it with
//! `--help`).

fn main() -> std::process::ExitCode {
    mini_lsm_tools::cli::main()
}
