//! Misuse that must not compile: each case under `tests/ui*/` has its expected error
//! in the `.stderr` file beside it (`ui-tokio`, `ui-smol`, `ui-async-std` and
//! `ui-derive` hold the adapters' and the derives' cases).
//!
//! The expected messages list the impls the compiler suggests, which depend on the
//! features, and are worded by stable rustc (compilers before 1.85, such as the MSRV,
//! ignore `#[diagnostic::do_not_recommend]`): they are kept for `--all-features` on
//! stable, as `ci/test.sh` runs them. Bless with
//! `TRYBUILD=overwrite cargo test --all-features --test compile_fail`.

// Runs rustc: nothing for miri to check.
#![cfg(all(
    not(miri),
    feature = "tokio-net",
    feature = "tokio-fs",
    feature = "tokio-io-util",
    feature = "tokio-process",
    feature = "smol",
    feature = "async-std",
    feature = "log",
    feature = "tracing",
    feature = "defmt",
    feature = "derive"
))]

/// The flags trybuild gives rustc when it checks the cases (`--cfg trybuild`, dead code
/// allowed, messages 140 columns wide).
const CASE_FLAGS: [&str; 6] = [
    "--cfg",
    "trybuild",
    "--verbose",
    "-A",
    "dead_code",
    "--diagnostic-width=140",
];

/// One set of cases: their crate is checked once.
#[test]
fn ui() {
    // trybuild checks the dependencies first with its flags less the message width,
    // then the cases with it; the flags are part of each artifact's hash, so every
    // dependency was checked twice. Cargo prefers `CARGO_ENCODED_RUSTFLAGS` to the
    // flags trybuild configures: the same flags for both passes check them once.
    std::env::set_var("CARGO_ENCODED_RUSTFLAGS", CASE_FLAGS.join("\x1f"));
    let cases = trybuild::TestCases::new();
    for dir in ["ui", "ui-tokio", "ui-smol", "ui-async-std", "ui-derive"] {
        cases.compile_fail(format!("tests/{dir}/*.rs"));
    }
}
