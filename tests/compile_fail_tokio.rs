//! Misuse of the tokio adapter that must not compile (`tests/ui-tokio/*.rs`).
#![cfg(feature = "tokio")]

// Not under miri (it runs rustc); the expected messages list the impls the compiler
// suggests with `--features tokio` alone, as `ci/test.sh` runs it.
#[cfg(all(not(miri), not(feature = "smol"), not(feature = "async-std")))]
#[test]
fn ui_tokio() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui-tokio/*.rs");
}
