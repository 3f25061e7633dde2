//! A writer for the crash tests of days 6 and 7: opens the engine in a directory and writes
//! forever, reporting on stdout every write that `sync` made durable, until it is killed.
//!
//! Usage: `crash-writer-{reference,starter} DIR DAY SEED`. Each line it prints is `synced N`, meaning writes
//! `0..=N` were acknowledged and synced. Write `i` puts `key(i)` = `value(i, SEED)`; every
//! seventh write also deletes an earlier key (`key(i / 2)`), so that recovery must also keep
//! deletes. The test kills it with SIGKILL after a seeded number of lines, reopens the directory
//! and checks that everything reported is there.

use std::io::Write;

use crate::{Rng, key, lsm, value};

/// The writer's `main`; the two `crash-writer-*` binaries call it.
pub fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, dir, day, seed] = args.as_slice() else {
        eprintln!("usage: crash-writer DIR DAY SEED");
        std::process::exit(2);
    };
    let day: u8 = day.parse().expect("DAY is a number");
    let seed: u64 = seed.parse().expect("SEED is a number");
    let options = lsm::LsmOptions {
        // Small memtables so that freezes and flushes happen while the writer runs.
        memtable_size: 4096,
        block_size: 512,
        target_sst_size: 8192,
        ..lsm::LsmOptions::for_day(day)
    };
    let db = lsm::MiniLsm::open(dir, options).expect("open the engine");
    let mut rng = Rng::new(seed);
    let mut stdout = std::io::stdout().lock();
    for i in 0.. {
        db.put(&key(i), &value(i, seed as usize)).expect("put");
        if i % 7 == 6 {
            db.delete(&key(i / 2)).expect("delete");
        }
        if rng.below(4) == 0 {
            db.sync().expect("sync");
            writeln!(stdout, "synced {i}")
                .and_then(|()| stdout.flush())
                .expect("stdout");
        }
    }
}
