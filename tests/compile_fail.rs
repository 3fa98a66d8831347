//! Misuse that must not compile; each case's expected error is in `tests/ui/*.stderr`.

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
    cases.compile_fail("tests/ui/*.rs");
}
