//! Misuse of the tokio adapter that must not compile: spawning the cleanup of a
//! `!Send` (`LocalAsyncDrop`) resource. Each case's expected error is in
//! `tests/ui-tokio/*.stderr`.
#![cfg(feature = "tokio")]

// Runs rustc; nothing for miri to check. The expected message lists the impls the
// compiler suggests, which depend on the features: it is kept for `--features tokio`
// alone (`ci/test.sh` runs each adapter's tests with its feature alone).
#[cfg(all(not(miri), not(feature = "smol"), not(feature = "async-std")))]
#[test]
fn ui_tokio() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui-tokio/*.rs");
}
