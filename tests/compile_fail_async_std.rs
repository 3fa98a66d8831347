//! Misuse of the async-std adapter that must not compile (`tests/ui-async-std/*.rs`).
#![cfg(feature = "async-std")]

// Not under miri (it runs rustc); the expected messages list the impls the compiler
// suggests with `--features async-std` alone, as `ci/test.sh` runs it.
#[cfg(all(not(miri), not(feature = "tokio"), not(feature = "smol")))]
#[test]
fn ui_async_std() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui-async-std/*.rs");
}
