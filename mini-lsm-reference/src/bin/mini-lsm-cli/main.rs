//! `mini-lsm-cli`: a shell over the engine of this package (see the library's `cli` module, or
//! run it with `--help`).
//!
//! This file is copied unchanged into the generated starter, whose library has another name. So
//! it does not name its library: `lib/<package name>.rs` does, picked by the package Cargo
//! builds (`use mini_lsm_reference as engine;` here, `use mini_lsm_starter as engine;` there).

include!(concat!("lib/", env!("CARGO_PKG_NAME"), ".rs"));

fn main() -> std::process::ExitCode {
    engine::cli::main()
}
