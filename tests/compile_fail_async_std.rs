//! Misuse of the async-std adapter (legacy) that must not compile: spawning the
//! cleanup of a `!Send` (`LocalAsyncDrop`) resource. Each case's expected error is in
//! `tests/ui-async-std/*.stderr`.
#![cfg(feature = "async-std")]

// Runs rustc; nothing for miri to check. The expected message lists the impls the
// compiler suggests, which depend on the features: it is kept for `--features
// async-std` alone (`ci/test.sh` runs each adapter's tests with its feature alone).
#[cfg(all(not(miri), not(feature = "tokio"), not(feature = "smol")))]
#[test]
fn ui_async_std() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui-async-std/*.rs");
}
