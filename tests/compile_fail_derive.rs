//! Misuse of the derives that must not compile: a field that is not a resource, a
//! union, `before` with a wrong signature or without `error = E`, and
//! `derive(AsyncDrop)` on a type whose cleanup is not `Send`. Each case's expected
//! error is in `tests/ui-derive/*.stderr`.
//!
//! The expected messages are pinned to stable rustc's format (blessed with
//! `TRYBUILD=overwrite` on stable; `ci/test.sh` runs them on stable only): they use
//! `#[diagnostic::do_not_recommend]`, which compilers before 1.85 (the MSRV is 1.81)
//! ignore, so older compilers word the same errors differently.
#![cfg(feature = "derive")]

// Runs rustc; nothing for miri to check. The messages list the impls the compiler
// suggests, which depend on the features: kept for the default features only.
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
