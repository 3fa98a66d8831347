#!/usr/bin/env bash
# Runs the full benchmark set and writes BENCHMARKS.md: per case the median time per
# operation, its baseline's (measured in the same run), their ratio, the target, and
# allocations per operation, then the TCP workload of benches/tcp.rs.
# Usage: ci/bench.sh [criterion args]   (about 15 minutes)
#
# The benches are built with every function and every loop start aligned to 64
# bytes. The nanosecond cases time functions of a handful of instructions, whose
# speed otherwise depends on where the linker happens to place them relative to
# the fetch blocks: the same machine code measured from 1.40 to 1.77 ns per call
# between builds. Aligning everything gives both sides of a case the same footing.
# The aligned build has its own target directory, so it does not invalidate the
# normal one.
set -euo pipefail
cd "$(dirname "$0")/.."

target_dir=${CARGO_TARGET_DIR:-target}/bench-aligned
export CARGO_TARGET_DIR=$target_dir
export RUSTFLAGS="${RUSTFLAGS:-} -C llvm-args=-align-all-functions=6 -C llvm-args=-align-all-nofallthru-blocks=6"
rm -f "$target_dir/tmp/bench-facts.tsv"
rm -rf "$target_dir/criterion"
features=${BENCH_FEATURES:-tokio,derive}
cargo bench -p asyncdrop-benches ${features:+--features "$features"} --bench cleanup -- --noplot "$@"
python3 ci/bench_report.py "$target_dir" > BENCHMARKS.md
# The realistic side-by-side workload: its own binary, its own section.
{ echo; cargo bench -p asyncdrop-benches --features tokio-net --bench tcp 2>/dev/null; } >> BENCHMARKS.md
if command -v valgrind > /dev/null; then
    binary=$(cargo bench -p asyncdrop-benches ${features:+--features "$features"} --bench cleanup --no-run 2>&1 |
        sed -n 's/.*Executable .*(\(.*\))$/\1/p')
    { echo; python3 ci/instructions.py "$binary"; } >> BENCHMARKS.md
else
    echo "valgrind not found: BENCHMARKS.md has no instruction counts" >&2
fi
cat BENCHMARKS.md
