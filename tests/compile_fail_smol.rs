//! Misuse of the smol adapter that must not compile: spawning the cleanup of a
//! `!Send` (`LocalAsyncDrop`) resource. Each case's expected error is in
//! `tests/ui-smol/*.stderr`.
#![cfg(feature = "smol")]

// Runs rustc; nothing for miri to check. The expected message lists the impls the
// compiler suggests, which depend on the features: it is kept for `--features smol`
// alone (`ci/test.sh` runs each adapter's tests with its feature alone).
#[cfg(all(not(miri), not(feature = "tokio"), not(feature = "async-std")))]
#[test]
fn ui_smol() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui-smol/*.rs");
}
