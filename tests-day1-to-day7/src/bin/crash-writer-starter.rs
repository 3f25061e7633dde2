//! The crash tests' writer, built against the starter (see `tests_day1_to_day7::crash_writer`).

fn main() {
    tests_day1_to_day7::crash_writer::main();
}
