//! Misuse that must not compile: double cleanup, use after cleanup, sending a
//! `!Send` cleanup to another thread, `AsyncDrop` on a `!Send` type, and guarding a
//! type without async cleanup. Each case's expected error is in `tests/ui/*.stderr`.

// Runs rustc; nothing for miri to check. The expected messages list the impls the
// compiler suggests, which depend on the features: they are kept for the default
// features only.
#[cfg(all(
    not(miri),
    feature = "std",
    not(any(feature = "tokio", feature = "smol", feature = "async-std"))
))]
#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
