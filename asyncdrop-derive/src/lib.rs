//! `#[derive(AsyncDrop)]` and `#[derive(LocalAsyncDrop)]` for
//! [asyncdrop](https://docs.rs/asyncdrop). Use them through asyncdrop's `derive`
//! feature, as `asyncdrop::AsyncDrop` and `asyncdrop::LocalAsyncDrop`: the generated
//! code names `::asyncdrop` paths only.

use proc_macro::TokenStream;

mod attr;
mod bounds;
mod expand;

/// Which trait is derived.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// `AsyncDrop`: the cleanup future is `Send`.
    Send,
    /// `LocalAsyncDrop`.
    Local,
}

impl Mode {
    fn trait_name(self) -> &'static str {
        match self {
            Mode::Send => "AsyncDrop",
            Mode::Local => "LocalAsyncDrop",
        }
    }

    fn trait_path(self) -> proc_macro2::TokenStream {
        match self {
            Mode::Send => quote::quote!(::asyncdrop::AsyncDrop),
            Mode::Local => quote::quote!(::asyncdrop::LocalAsyncDrop),
        }
    }
}

/// Implements `AsyncDrop` for a struct or enum by cleaning up each of its fields.
///
/// Every field is a resource (any `LocalAsyncDrop` type: a guard, an `Option` of
/// one, a collection, a plain resource) unless marked `#[async_drop(skip)]`; skipped
/// fields are dropped normally after the cleanup. Options on the type:
///
/// - *(default)*: the fields are cleaned up concurrently, in the current task,
///   without allocating; `#[async_drop(sequential)]`: one after another, in
///   declaration order.
/// - `#[async_drop(error = E)]`: each field's error is converted into `E` with
///   `From` (an infallible field's needs no `From`). The first in declaration order
///   is returned; the others are reported through the policy as
///   `ReportKind::Failed` under the type's name, with their `Debug` form where they
///   have one (under the default policy such a report panics, once every field was
///   cleaned up: set a policy that logs in production). Without it, the error is the generated `{Type}AsyncDropError<E0, ..>`:
///   the type's shape (struct, tuple struct, or an enum with a variant per variant
///   that has resource fields) with one `Option<Ei>` per resource field, in order;
///   `Debug`, `Display` and `core::error::Error` when the fields' errors are (and
///   `defmt::Format`, with asyncdrop's `defmt` feature).
/// - `#[async_drop(before = Self::method)]`: an `async fn(&mut self) -> Result<(),
///   X>` run first (`E: From<X>`); needs `error = E`.
///
/// Every field is cleaned up even when others or `before` fail, or one panics (the
/// rest are then dropped, once). A field that is an `AsyncDropGuard` (or an `Option`
/// of one) is cleaned up through the value it guards: the parent's own guard is the
/// one that reports a forgotten or cancelled cleanup. All cleanups start on the
/// first poll. For a generic type the impl is bounded on the field types
/// (`T: AsyncDrop` for `AsyncDropGuard<T>`, `Option<T>`, `Vec<T>`, arrays and
/// tuples of them, ...), so it is `AsyncDrop` exactly when its fields are, with a
/// `Send` cleanup; with `error = E`, also `E: From` each generic field's error
/// (even one that turns out to be `Infallible`).
///
/// # Examples
///
/// ```
/// use asyncdrop::{AsyncDrop, AsyncDropGuard};
/// # use asyncdrop::doc_fixture::Conn;
///
/// #[derive(AsyncDrop)]
/// struct Session {
///     primary: AsyncDropGuard<Conn>,
///     replica: Option<AsyncDropGuard<Conn>>,
///     #[async_drop(skip)]
///     name: String,
/// }
///
/// # futures_executor::block_on(async {
/// let session = AsyncDropGuard::new(Session {
///     primary: AsyncDropGuard::new(Conn),
///     replica: None,
///     name: "db".into(),
/// });
/// session.async_drop().await?; // `SessionAsyncDropError` on failure
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[proc_macro_derive(AsyncDrop, attributes(async_drop))]
pub fn derive_async_drop(input: TokenStream) -> TokenStream {
    expand::derive(input.into(), Mode::Send).into()
}

/// Implements `LocalAsyncDrop` by cleaning up each field: as
/// [`derive(AsyncDrop)`](macro@AsyncDrop), for types whose cleanup need not be
/// `Send`.
///
/// # Examples
///
/// ```
/// use std::rc::Rc;
/// use asyncdrop::{AsyncDropGuard, LocalAsyncDrop};
/// # use asyncdrop::doc_fixture::Conn;
///
/// #[derive(LocalAsyncDrop)]
/// #[async_drop(error = std::io::Error, sequential)]
/// struct Worker {
///     conn: AsyncDropGuard<Conn>,
///     #[async_drop(skip)]
///     shared: Rc<str>,
/// }
///
/// let worker = AsyncDropGuard::new(Worker { conn: AsyncDropGuard::new(Conn), shared: "w".into() });
/// futures_executor::block_on(worker.async_drop()).unwrap();
/// ```
#[proc_macro_derive(LocalAsyncDrop, attributes(async_drop))]
pub fn derive_local_async_drop(input: TokenStream) -> TokenStream {
    expand::derive(input.into(), Mode::Local).into()
}
