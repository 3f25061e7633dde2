#!/usr/bin/env bash
# Gradescope setup: runs once when the autograder image is built, in /autograder/source (this
# repository, unzipped). Installs a Rust toolchain if the image has none, builds xtask, and grades
# the pristine starter once so that every dependency is already built when a submission comes.
set -euo pipefail
cd /autograder/source

if ! command -v cargo >/dev/null 2>&1 && [ ! -x "$HOME/.cargo/bin/cargo" ]; then
    apt-get update
    apt-get install -y --no-install-recommends curl ca-certificates build-essential
    # rustup's official installer: downloads the prebuilt rustup binary, then the stable toolchain.
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
fi
export PATH="$HOME/.cargo/bin:$PATH"

cargo build --package xtask
# Warm the shared target directory of submissions (target/grade-submissions): dependencies,
# the tests package and the crash writer. The pristine starter fails every test; that is expected.
cargo x grade --submission mini-lsm-starter --format json --output /tmp/warmup.json >/dev/null || true
