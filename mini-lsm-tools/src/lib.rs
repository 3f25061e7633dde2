//! The tools around the mini-lsm engine, kept out of the engine crates so that a student's crate
//! holds only the engine:
//!
//! - [`cli`]: `mini-lsm-cli`, a shell to play with the engine by hand or from a script;
//! - [`simulator`]: `compaction-simulator`, day 5's leveled controller driven over a tree that
//!   exists only as sizes, with an SVG plot.
//!
//! The engine they run is picked by a cargo feature, as for the graded tests, and re-exported as
//! [`engine`]: `reference` (the default) or `starter` (your crate). `cargo x cli` and `cargo x sim`
//! run them on the starter; add `--reference` for the complete engine.
//!
//! Both are built to run on an unfinished engine: a call that reaches a stub's `todo!()` is
//! reported as `not implemented yet: day N (Type::method)` instead of ending in a panic.

#![deny(missing_docs)]

#[cfg(all(feature = "reference", feature = "starter"))]
compile_error!(
    "features `reference` and `starter` are both on: pick one. To run the tools on the starter use \
     `cargo x cli` / `cargo x sim`, or `cargo run -p mini-lsm-tools --no-default-features \
     --features starter --bin mini-lsm-cli`."
);
#[cfg(not(any(feature = "reference", feature = "starter")))]
compile_error!(
    "no engine to run: enable feature `reference` (the default) or `starter`, e.g. \
     `cargo run -p mini-lsm-tools --no-default-features --features starter --bin mini-lsm-cli`."
);

/// The engine the tools run: the reference (feature `reference`) or the starter (`starter`).
#[cfg(feature = "reference")]
pub use mini_lsm_reference as engine;
/// The engine the tools run: the reference (feature `reference`) or the starter (`starter`).
#[cfg(all(feature = "starter", not(feature = "reference")))]
pub use mini_lsm_starter as engine;

pub mod cli;
pub mod simulator;
