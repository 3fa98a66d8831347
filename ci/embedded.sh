#!/usr/bin/env bash
# Builds the firmware in tests/embedded and runs it under QEMU with semihosting on a
# Cortex-M0 (microbit), M3 (lm3s6965evb) and M4F (mps2-an386): each run's output
# must equal its `expected/*.txt` file and its exit status the expected one.
# Installs what it needs. Usage: ci/embedded.sh
set -euo pipefail
cd "$(dirname "$0")/.."

export RUSTFLAGS="${RUSTFLAGS:--D warnings}"
export CARGO_TERM_COLOR=never
# One target directory for every firmware workspace: their common dependencies
# build once per target.
export CARGO_TARGET_DIR="$PWD/target/embedded"
embedded=tests/embedded

step() { printf '\n--- embedded: %s (%ss)\n' "$*" "$SECONDS"; }

step "install tools"
rustup target add thumbv6m-none-eabi thumbv7m-none-eabi thumbv7em-none-eabihf
if ! command -v qemu-system-arm >/dev/null; then
  apt-get update && apt-get install -y qemu-system-arm
fi

# The machine each target runs on.
declare -A machine=(
  [thumbv6m-none-eabi]=microbit
  [thumbv7m-none-eabi]=lm3s6965evb
  [thumbv7em-none-eabihf]=mps2-an386
)

failures=0
# run TARGET WORKSPACE BIN STATUS: runs the firmware BIN of tests/embedded/WORKSPACE,
# built for TARGET, and checks its output and exit status.
run() {
  local target=$1 workspace=$2 bin=$3 want=$4
  local elf="$CARGO_TARGET_DIR/$target/release/$bin" out status=0
  out=$(timeout 60 qemu-system-arm -machine "${machine[$target]}" -nographic \
    -semihosting-config enable=on,target=native -kernel "$elf" 2>/dev/null) || status=$?
  if ! diff -u "$embedded/$workspace/expected/$bin.txt" - <<<"$out"; then
    echo "FAIL: $workspace/$bin on ${machine[$target]}: output differs (above)"
    failures=$((failures + 1))
  elif [ "$status" != "$want" ]; then
    echo "FAIL: $workspace/$bin on ${machine[$target]}: exit status $status, want $want"
    failures=$((failures + 1))
  else
    echo "ok: $workspace/$bin on ${machine[$target]} ($target), exit status $status"
  fi
}

build() {
  local workspace=$1 target=$2
  cargo build --quiet --release --manifest-path "$embedded/$workspace/Cargo.toml" --target "$target"
}

step "core: guard, scope macro, !Send, tuple/array errors, policy hook, default panic"
for target in thumbv6m-none-eabi thumbv7m-none-eabi thumbv7em-none-eabihf; do
  build core "$target"
  run "$target" core core 0
  run "$target" core panic 1
done

step "done"
if [ "$failures" -gt 0 ]; then
  echo "error: $failures firmware run(s) failed" >&2
  exit 1
fi
