#!/usr/bin/env bash
# Builds the firmware in tests/embedded and runs it under QEMU with semihosting on a
# Cortex-M0 (microbit), M3 (lm3s6965evb) and M4F (mps2-an386): each run's output
# (the defmt firmware's: decoded) must equal its `expected/*.txt` file and its exit
# status the expected one; then checks the guard's code-size budget. Installs what
# it needs. Usage: ci/embedded.sh
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
rustup component add llvm-tools rustfmt
llvm_bin="$(rustc --print sysroot)/lib/rustlib/$(rustc -vV | sed -n 's/^host: //p')/bin"
if ! command -v qemu-system-arm >/dev/null; then
  apt-get update && apt-get install -y qemu-system-arm
fi

step "fmt"
# The firmware crates are no members of the root workspace: `cargo fmt --all` misses them.
find "$embedded" -name '*.rs' -not -path '*/target/*' -print0 | xargs -0 rustfmt --edition 2021 --check

# The machine each target runs on.
declare -A machine=(
  [thumbv6m-none-eabi]=microbit
  [thumbv7m-none-eabi]=lm3s6965evb
  [thumbv7em-none-eabihf]=mps2-an386
)

failures=0
# run TARGET WORKSPACE BIN STATUS [PROFILE]: runs the firmware BIN of
# tests/embedded/WORKSPACE, built for TARGET, and checks its output and exit status.
run() {
  local target=$1 workspace=$2 bin=$3 want=$4 profile=${5:-release}
  local elf="$CARGO_TARGET_DIR/$target/$profile/$bin" out status=0
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

# run_defmt TARGET: runs the defmt firmware and checks its decoded log and status.
run_defmt() {
  local target=$1 elf="$CARGO_TARGET_DIR/$1/release/defmt" status=0 log
  timeout 60 qemu-system-arm -machine "${machine[$target]}" -nographic \
    -semihosting-config enable=on,target=native -kernel "$elf" \
    >"$CARGO_TARGET_DIR/defmt.bin" 2>/dev/null || status=$?
  if ! log=$(python3 ci/defmt_decode.py "$llvm_bin/llvm-nm" "$elf" <"$CARGO_TARGET_DIR/defmt.bin"); then
    echo "FAIL: defmt/defmt on ${machine[$target]}: the log does not decode"
    failures=$((failures + 1))
  elif ! diff -u "$embedded/defmt/expected/defmt.txt" - <<<"$log"; then
    echo "FAIL: defmt/defmt on ${machine[$target]}: decoded log differs (above)"
    failures=$((failures + 1))
  elif [ "$status" != 0 ]; then
    echo "FAIL: defmt/defmt on ${machine[$target]}: exit status $status, want 0"
    failures=$((failures + 1))
  else
    echo "ok: defmt/defmt on ${machine[$target]} ($target), exit status 0"
  fi
}

# build WORKSPACE TARGET [PROFILE]
build() {
  local workspace=$1 target=$2 profile=${3:-release}
  cargo build --quiet --profile "$profile" --manifest-path "$embedded/$workspace/Cargo.toml" \
    --target "$target"
}

# text_size ELF: the size of its code and read-only data, as `llvm-size` counts it.
text_size() {
  "$llvm_bin/llvm-size" "$1" | awk 'NR == 2 { print $1 }'
}

step "core: guard, scope macro, !Send, tuple/array errors, policy hook, default panic"
for target in thumbv6m-none-eabi thumbv7m-none-eabi thumbv7em-none-eabihf; do
  build core "$target"
  run "$target" core core 0
  run "$target" core panic 1
done

step "alloc: a collection, AsyncDropArc, the mutex, type-erased cleanup (embedded-alloc heap)"
# On the Cortex-M0, which has no compare-and-swap, `alloc` runs on portable-atomic.
for target in thumbv6m-none-eabi thumbv7m-none-eabi thumbv7em-none-eabihf; do
  build alloc "$target"
  run "$target" alloc alloc 0
done
# The library's own lints there (the lock of `alloc`'s mutex is built only there).
RUSTFLAGS="$RUSTFLAGS --cfg portable_atomic_unsafe_assume_single_core" \
  CARGO_TARGET_DIR="$CARGO_TARGET_DIR/lib" \
  cargo clippy --quiet --target thumbv6m-none-eabi --no-default-features --features alloc,derive \
  -- -D warnings
# ... and only there: where the target has the atomics, none of it is built.
tree=$(cargo tree -e normal --prefix none --target thumbv7em-none-eabihf \
  --no-default-features --features alloc)
if grep -Eq '^(portable-atomic|spin|atomic-waker) ' <<<"$tree"; then
  echo "FAIL: alloc pulls portable-atomic, spin or atomic-waker on a target with atomics"
  failures=$((failures + 1))
fi

step "embassy: executor, SysTick time driver, cleanup deadlines (embassy-time)"
for target in thumbv7m-none-eabi thumbv7em-none-eabihf; do
  build embassy "$target"
  run "$target" embassy embassy 0
done

step "defmt: defmt_hook and the Format impls, logged over semihosting and decoded"
for target in thumbv6m-none-eabi thumbv7m-none-eabi thumbv7em-none-eabihf; do
  DEFMT_LOG=info build defmt "$target"
  run_defmt "$target"
done

step "code size: the guard against direct close() calls (thumbv7m-none-eabi)"
# `size/src/bin/{guard,direct}.rs`: the same program; budgets in bytes of text.
target=thumbv7m-none-eabi
for profile_budget in release:512 no-lto:1024; do
  profile=${profile_budget%:*} budget=${profile_budget#*:}
  build size "$target" "$profile"
  run "$target" size direct 0 "$profile"
  run "$target" size guard 0 "$profile"
  direct=$(text_size "$CARGO_TARGET_DIR/$target/$profile/direct")
  guard=$(text_size "$CARGO_TARGET_DIR/$target/$profile/guard")
  cost=$((guard - direct))
  echo "size ($profile): direct $direct B, guard $guard B: the guard costs $cost B (budget $budget B)"
  if [ "$cost" -gt "$budget" ]; then
    echo "FAIL: the guard costs $cost B of text in profile $profile, over its budget of $budget B"
    failures=$((failures + 1))
  fi
done

step "done"
if [ "$failures" -gt 0 ]; then
  echo "error: $failures firmware run(s) failed" >&2
  exit 1
fi
