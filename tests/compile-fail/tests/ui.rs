//! Misuse that must not compile; each case's expected error is next to it, in
//! `ui/<set>/*.stderr`. The messages list the impls the compiler suggests, which
//! depend on the features: each set is kept for its feature alone. They are pinned to
//! stable rustc (bless with `TRYBUILD=overwrite` on stable): compilers before 1.85
//! (MSRV 1.81) ignore `#[diagnostic::do_not_recommend]` and word the derive's errors
//! differently.

/// The core: guards, cleanup futures, `Send`.
#[cfg(not(any(
    feature = "derive",
    feature = "tokio",
    feature = "smol",
    feature = "async-std"
)))]
#[test]
fn core() {
    trybuild::TestCases::new().compile_fail("ui/core/*.rs");
}

/// The derives.
#[cfg(all(
    feature = "derive",
    not(any(feature = "tokio", feature = "smol", feature = "async-std"))
))]
#[test]
fn derive() {
    trybuild::TestCases::new().compile_fail("ui/derive/*.rs");
}

/// The tokio adapter.
#[cfg(all(feature = "tokio", not(any(feature = "smol", feature = "async-std"))))]
#[test]
fn tokio() {
    trybuild::TestCases::new().compile_fail("ui/tokio/*.rs");
}

/// The smol adapter.
#[cfg(all(feature = "smol", not(any(feature = "tokio", feature = "async-std"))))]
#[test]
fn smol() {
    trybuild::TestCases::new().compile_fail("ui/smol/*.rs");
}

/// The async-std adapter.
#[cfg(all(feature = "async-std", not(any(feature = "tokio", feature = "smol"))))]
#[test]
fn async_std() {
    trybuild::TestCases::new().compile_fail("ui/async-std/*.rs");
}
