//! Misuse of the derives that must not compile; each case's expected error is in
//! `tests/ui-derive/*.stderr`, pinned to stable rustc (bless with `TRYBUILD=overwrite`
//! on stable; `ci/test.sh` runs them on stable only): compilers before 1.85 (MSRV 1.81)
//! ignore `#[diagnostic::do_not_recommend]` and word the same errors differently.
#![cfg(feature = "derive")]

// Runs rustc: nothing for miri to check. The expected messages list the impls the
// compiler suggests, which depend on the features: kept for the default features.
#[cfg(all(
    not(miri),
    feature = "std",
    not(any(feature = "tokio", feature = "smol", feature = "async-std"))
))]
#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui-derive/*.rs");
}
