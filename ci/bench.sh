#!/usr/bin/env bash
# Runs the full benchmark set and writes BENCHMARKS.md: per case the median time per
# operation, its baseline's (measured in the same run), their ratio, the target, and
# allocations per operation. Usage: ci/bench.sh   (takes a few minutes)
set -euo pipefail
cd "$(dirname "$0")/.."

target_dir=${CARGO_TARGET_DIR:-target}
rm -f "$target_dir/tmp/bench-facts.tsv"
rm -rf "$target_dir/criterion"
features=${BENCH_FEATURES:-}
cargo bench ${features:+--features "$features"} --bench cleanup -- --noplot "$@"
python3 ci/bench_report.py "$target_dir" > BENCHMARKS.md
cat BENCHMARKS.md
