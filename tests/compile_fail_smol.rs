//! Misuse of the smol adapter that must not compile (`tests/ui-smol/*.rs`).
#![cfg(feature = "smol")]

// Not under miri (it runs rustc); the expected messages list the impls the compiler
// suggests with `--features smol` alone, as `ci/test.sh` runs it.
#[cfg(all(not(miri), not(feature = "tokio"), not(feature = "async-std")))]
#[test]
fn ui_smol() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui-smol/*.rs");
}
