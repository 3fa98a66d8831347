//! Misuse that must not compile: double cleanup, use after cleanup, sending a
//! `!Send` cleanup to another thread, `AsyncDrop` on a `!Send` type, and guarding a
//! type without async cleanup. Each case's expected error is in `tests/ui/*.stderr`.

#[cfg(not(miri))] // runs rustc; nothing for miri to check
#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
