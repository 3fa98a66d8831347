#!/usr/bin/env bash
# Runs every check of the project. Installs what it needs, so a fresh machine passes
# with no hand set-up. Usage: ci/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

# Keep in sync with `rust-version` in Cargo.toml.
MSRV=1.81
NIGHTLY=nightly
BARE_METAL=thumbv7em-none-eabihf

export RUSTFLAGS="-D warnings"
export RUSTDOCFLAGS="-D warnings"
export CARGO_TERM_COLOR=never
export CARGO_INCREMENTAL=0
# No debug info in test builds: they compile and link about twice as fast. Panics
# still say where (`Location`), backtraces name the functions.
export CARGO_PROFILE_DEV_DEBUG=0

# Busy time of every core (user, nice, system; in clock ticks), to compare runs on
# machines of different speeds or load.
busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 }' /proc/stat; }
busy_at_start=$(busy_ticks)
busy_seconds() { echo $(( ($(busy_ticks) - busy_at_start) / $(getconf CLK_TCK) )); }
# Each step's heading gives the time so far and the core-seconds the machine has been
# busy so far (the background miri run included).
step() { printf '\n=== %s (%ss, %s core-s)\n' "$*" "$SECONDS" "$(busy_seconds)"; }
# A copy of the tree without its build outputs, in a new temporary directory.
copy_of_tree() {
  local dir
  dir=$(mktemp -d)
  tar --exclude=./target --exclude=./.git -cf - . | tar -xf - -C "$dir"
  echo "$dir"
}

# unoptimised CRATE...: cargo's arguments (one a line) to build each CRATE of the
# release profile without optimisation.
unoptimised() {
  local crate
  for crate in "$@"; do
    printf '%s\n' --config "profile.release.package.$crate.opt-level=0"
  done
}

step "install tools"
rustup component add rustfmt clippy
rustup target add "$BARE_METAL"
# Use the machine's nightly when it has one (installing would update it).
rustup toolchain list | grep -q "^$NIGHTLY" || rustup toolchain install "$NIGHTLY" --profile minimal
rustup component add --toolchain "$NIGHTLY" miri rust-src
rustup toolchain install "$MSRV" --profile minimal
rustup target add --toolchain "$MSRV" "$BARE_METAL"
# Unoptimised: it only runs cargo, and builds in a third of the time (13 s, not 40).
command -v cargo-hack >/dev/null || cargo install --locked --debug cargo-hack

step "fmt"
cargo fmt --all -- --check

step "dependency tree: no runtime, no proc-macro in the default build"
tree=$(cargo tree -e normal --prefix none)
echo "$tree"
if grep -Eiq 'tokio|async-std|smol|async-trait|proc-macro' <<<"$tree"; then
  echo "error: the default build pulls in a runtime or a proc-macro" >&2
  exit 1
fi

step "clippy"
cargo clippy --workspace --all-targets --all-features -- -D warnings
cargo clippy --no-default-features --lib -- -D warnings

# Miri interprets on one core: it runs in the background, at a lower priority, on
# what the other steps leave of the machine, and its log is printed (and its result
# checked) at the end. It works on a copy of the tree, which the feature powerset's
# edits of Cargo.toml do not reach.
step "miri (strict provenance) over every runtime-free test: started in the background"
miri_log=$(mktemp)
miri_dir=$(copy_of_tree)
(
  cd "$miri_dir"
  export MIRIFLAGS="-Zmiri-strict-provenance"
  nice cargo +"$NIGHTLY" miri test --features derive --lib --tests
  nice cargo +"$NIGHTLY" miri test --no-default-features --lib --tests
  echo "miri finished at ${SECONDS}s"
) >"$miri_log" 2>&1 &
miri_pid=$!
trap 'pkill -P "$miri_pid" 2>/dev/null || true; kill "$miri_pid" 2>/dev/null || true
  rm -rf "$miri_log" "$miri_dir"' EXIT

# Doctests run once, with every feature (each one compiles to a binary of its own),
# and so do the compile-fail cases (their messages depend on the features).
step "tests: default features"
cargo test --lib --tests --examples
step "tests: no default features"
cargo test --no-default-features --lib --tests --examples
step "tests: all features, and every doctest"
cargo test --all-features
step "derive: tests without std, the macro crate's doctests, example"
# `--all-features` ran tests/derive.rs and the derives' compile-fail cases.
cargo test --no-default-features --features derive --test derive
cargo test -p asyncdrop-derive
cargo run --features derive --example derive >/dev/null
step "runtime adapters, each with its feature alone"
# tokio's resources come with features of their own; `rt` is the core alone, for a
# runtime the tests implement themselves (`tests/rt_custom.rs`).
for rt in tokio smol async-std; do
  name=${rt//-/_}
  features=$rt
  [ "$rt" = tokio ] && features="tokio,tokio-net,tokio-fs,tokio-io-util,tokio-process"
  cargo test --features "$features" --test "rt_$name"
  cargo run --features "$features" --example "$name" >/dev/null
done
cargo test --features rt --test rt_custom

step "tests: release (size guarantees, scale tests)"
# The test tools (compile-fail and property tests) need no optimisation: unoptimised,
# this build takes about a quarter less time.
mapfile -t tools < <(unoptimised trybuild proptest regex-syntax toml serde_json serde_core)
cargo test --release --tests "${tools[@]}"

step "loom models of the shared-ownership code and the collections' wake-ups"
# loom's log subscriber and filter (with their regex engine) decide once per call
# site that nothing is logged unless LOOM_LOG asks: unoptimised, they build in a
# fraction of the time and the models run as fast.
mapfile -t loom_logging < <(unoptimised tracing-subscriber tracing-log matchers \
  regex-automata regex-syntax sharded-slab nu-ansi-term)
loom_out=$(RUSTFLAGS="--cfg asyncdrop_loom -D warnings" CARGO_TARGET_DIR=target/loom \
  cargo test --release -p asyncdrop-loom "${loom_logging[@]}" 2>&1) || { echo "$loom_out"; exit 1; }
echo "$loom_out"
# Without the cfg the models compile to nothing: each must have run.
if grep -q 'test result: ok. 0 passed' <<<"$loom_out"; then
  echo "error: a loom model ran no test" >&2
  exit 1
fi

step "docs (docsrs)"
RUSTDOCFLAGS="-D warnings --cfg docsrs" cargo +"$NIGHTLY" doc --all-features --no-deps
# Links to items of features that are off must not break either.
for features in "--no-default-features" "--no-default-features --features alloc" "" "--features rt"; do
  # shellcheck disable=SC2086
  cargo doc --no-deps $features
done

step "feature powerset"
# `default` is `std` (the powerset has `std`). tokio's resource features and the
# reporting integrations each build as a group (and each alone), and `derive` (the
# macros and their hidden helpers, `core` alone) with each other feature: the
# powerset of everything else stays complete.
cargo hack build --feature-powerset --no-dev-deps --exclude-features derive,default \
  --group-features tokio-net,tokio-fs,tokio-io-util,tokio-process \
  --group-features log,tracing,defmt
cargo hack build --each-feature --no-dev-deps --features derive
for feature in tokio-net tokio-fs tokio-io-util tokio-process log tracing defmt; do
  cargo build --no-default-features --features "$feature"
done

step "bare metal ($BARE_METAL)"
cargo build --target "$BARE_METAL" --no-default-features
cargo build --target "$BARE_METAL" --no-default-features --features alloc
cargo build --target "$BARE_METAL" --no-default-features --features log,tracing,defmt
cargo build --target "$BARE_METAL" --no-default-features --features derive
# Uses the derive too: the generated code needs neither `alloc` nor `std`.
cargo build --target "$BARE_METAL" -p asyncdrop-no-std-check

step "embedded: firmware under QEMU (Cortex-M0, M3, M4F)"
ci/embedded.sh

step "MSRV $MSRV"
# Resolve dependencies as a user on the MSRV would get them (the newest versions
# that support it), in a copy, so the committed lockfile stays current.
msrv_dir=$(copy_of_tree)
(
  cd "$msrv_dir"
  export CARGO_TARGET_DIR="$PWD/target"
  CARGO_RESOLVER_INCOMPATIBLE_RUST_VERSIONS=fallback cargo update --quiet
  cargo +"$MSRV" build --no-default-features
  cargo +"$MSRV" build --all-features
  cargo +"$MSRV" build --target "$BARE_METAL" --no-default-features
  cargo +"$MSRV" build --target "$BARE_METAL" --no-default-features --features alloc
  # The derive's generated code, on the MSRV.
  cargo +"$MSRV" build --target "$BARE_METAL" -p asyncdrop-no-std-check
)
rm -rf "$msrv_dir"


step "smoke: benchmarks compile and run once (no timing)"
# In test mode, with the test profile: each case runs once.
cargo test -p asyncdrop-benches --all-features --benches

step "package: what would be published"
cargo publish --dry-run --allow-dirty --workspace --quiet
# the dry run leaves the packed crates somewhere under target/package
crates=$(find target/package -name '*.crate')
test -n "$crates" || { echo "no .crate file was packed"; exit 1; }
ls -l $crates

step "smoke: the quickstart example"
cargo run --example quickstart >/dev/null

step "miri: the background run"
miri_ok=0
wait "$miri_pid" || miri_ok=$?
cat "$miri_log"
if [ "$miri_ok" -ne 0 ]; then
  echo "error: miri failed (exit status $miri_ok)" >&2
  exit 1
fi

step "done"
echo "CPU: $(busy_seconds) core-seconds busy in ${SECONDS}s"
