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

/// One set of cases: their crate is checked once.
#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    for dir in ["ui", "ui-tokio", "ui-smol", "ui-async-std", "ui-derive"] {
        cases.compile_fail(format!("tests/{dir}/*.rs"));
    }
}
