//! Type-erased (boxed) cleanup for heterogeneous collections.
//!
//! [`AsyncDrop`] and [`LocalAsyncDrop`] are not object safe (their cleanup returns
//! `impl Future`), so `dyn AsyncDrop` does not exist. [`DynAsyncDrop<E>`] and
//! [`LocalDynAsyncDrop<E>`] are their object-safe companions: the cleanup consumes a
//! `Box<Self>` and returns a boxed future whose error is converted into one common
//! `E`. Both are implemented for every resource; a boxed trait object is itself a
//! resource, so `AsyncDropGuard<Box<dyn DynAsyncDrop<E>>>` goes everywhere a guard
//! goes (arrays, tuples, `Vec`, the crate's collections, [`async_drop_all`]).
//!
//! [`async_drop_all`]: crate::async_drop_all

use alloc::boxed::Box;
use core::fmt;
use core::future::Future;
use core::pin::Pin;

use crate::{AsyncDrop, AsyncDropGuard, LocalAsyncDrop};

/// The boxed cleanup future of a [`DynAsyncDrop`] trait object.
pub type BoxCleanup<'a, E> = Pin<Box<dyn Future<Output = Result<(), E>> + Send + 'a>>;

/// The boxed cleanup future of a [`LocalDynAsyncDrop`] trait object.
pub type LocalBoxCleanup<'a, E> = Pin<Box<dyn Future<Output = Result<(), E>> + 'a>>;

/// Object-safe companion of [`AsyncDrop`]: a resource whose `Send` cleanup can be run
/// through a `Box<dyn DynAsyncDrop<E>>`, its error converted into `E`.
///
/// Implemented for every [`AsyncDrop`] type whose error converts [`Into`] `E`; there
/// is no need to implement it by hand. The point is to keep
/// resources of different types in one collection and clean them up together: turn
/// each `AsyncDropGuard<T>` into an `AsyncDropGuard<Box<dyn DynAsyncDrop<E>>>` with
/// [`AsyncDropGuard::into_dyn`], then use the guards as any others.
/// `Box<dyn DynAsyncDrop<E> + 'a>` implements [`AsyncDrop`] (for `E: Send + 'a`), so
/// its cleanup future is `Send` and code bound by `AsyncDrop` (spawning adapters,
/// `BlockingDrop` under `std`) takes it.
///
/// Resources that borrow need not be `'static`: `Box<dyn DynAsyncDrop<E> + 'a>`
/// holds any `T: 'a` (a plain `Box<dyn DynAsyncDrop<E>>` means `+ 'static`).
///
/// The box is `Send` (the trait has `Send` as a supertrait) but not `Sync`: code that
/// shares a `&` reference to an erased guard across threads needs a concrete type.
///
/// # Cost
///
/// Two heap allocations per resource, both measured by a test: one `Box` for the
/// value when it is converted ([`AsyncDropGuard::into_dyn`]; none if `T` is
/// zero-sized) and one for the cleanup future when the cleanup starts. The value's
/// box is freed before the future's box is allocated. Each poll of the cleanup is
/// one virtual call.
///
/// # Examples
///
/// ```
/// use asyncdrop::{async_drop_all, AsyncDrop, AsyncDropGuard, DynAsyncDrop};
///
/// #[derive(Debug)]
/// enum CloseError {
///     Io(std::io::ErrorKind),
///     Protocol(u16),
/// }
/// impl From<std::io::ErrorKind> for CloseError {
///     fn from(e: std::io::ErrorKind) -> Self { CloseError::Io(e) }
/// }
/// impl From<u16> for CloseError {
///     fn from(code: u16) -> Self { CloseError::Protocol(code) }
/// }
///
/// struct File;
/// impl AsyncDrop for File {
///     type Error = std::io::ErrorKind;
///     async fn async_drop_impl(self) -> Result<(), Self::Error> {
///         Err(std::io::ErrorKind::WriteZero)
///     }
/// }
/// struct Session;
/// impl AsyncDrop for Session {
///     type Error = u16;
///     async fn async_drop_impl(self) -> Result<(), u16> { Err(503) }
/// }
///
/// # futures_executor::block_on(async {
/// let resources: [AsyncDropGuard<Box<dyn DynAsyncDrop<CloseError>>>; 2] = [
///     AsyncDropGuard::into_dyn(AsyncDropGuard::new(File)),
///     AsyncDropGuard::into_dyn(AsyncDropGuard::new(Session)),
/// ];
/// let err = async_drop_all(resources).await.unwrap_err();
/// assert!(matches!(
///     err.into_array(),
///     [Some(CloseError::Io(std::io::ErrorKind::WriteZero)), Some(CloseError::Protocol(503))]
/// ));
/// # });
/// ```
pub trait DynAsyncDrop<E>: Send {
    /// Runs the cleanup of the boxed value; the box itself is freed before the
    /// returned future is allocated.
    ///
    /// Called by the [`AsyncDrop`] impl of `Box<dyn DynAsyncDrop<E>>` (that is, by
    /// [`AsyncDropGuard::async_drop`]); there is rarely a reason to call it
    /// directly.
    ///
    /// # Errors
    ///
    /// The cleanup's error, converted into `E`.
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncdrop::{AsyncDrop, DynAsyncDrop};
    ///
    /// struct Conn;
    /// impl AsyncDrop for Conn {
    ///     type Error = &'static str;
    ///     async fn async_drop_impl(self) -> Result<(), &'static str> { Err("reset") }
    /// }
    ///
    /// let conn: Box<dyn DynAsyncDrop<String>> = Box::new(Conn);
    /// let result = futures_executor::block_on(conn.async_drop_boxed());
    /// assert_eq!(result, Err(String::from("reset")));
    /// ```
    fn async_drop_boxed<'a>(self: Box<Self>) -> BoxCleanup<'a, E>
    where
        Self: 'a;

    /// The name of the concrete type behind the trait object, for the `Debug` form
    /// of the trait object. Not public API: on a `Box<dyn ..>` (which implements
    /// the trait itself) method-call syntax would name the box's type; format the
    /// trait object with `{:?}` instead.
    #[doc(hidden)]
    fn erased_type_name(&self) -> &'static str {
        core::any::type_name::<Self>()
    }
}

impl<T, E> DynAsyncDrop<E> for T
where
    T: AsyncDrop,
    T::Error: Into<E>,
{
    fn async_drop_boxed<'a>(self: Box<Self>) -> BoxCleanup<'a, E>
    where
        Self: 'a,
    {
        // Move the value out and free its box (at the end of the block) before the
        // future's box is allocated.
        let value = {
            let boxed = self;
            *boxed
        };
        let cleanup = <T as AsyncDrop>::async_drop_impl(value);
        Box::pin(async move { cleanup.await.map_err(Into::into) })
    }
}

/// Object-safe companion of [`LocalAsyncDrop`]: a resource whose cleanup (not
/// necessarily `Send`) can be run through a `Box<dyn LocalDynAsyncDrop<E>>`, its
/// error converted into `E`.
///
/// The local flavour of [`DynAsyncDrop`], for `!Send` resources on local or
/// single-threaded executors. Implemented for every [`LocalAsyncDrop`] type (so for
/// every [`AsyncDrop`] type too) whose error converts [`Into`] `E`.
/// `Box<dyn LocalDynAsyncDrop<E> + 'a>` implements [`LocalAsyncDrop`]; convert a
/// guard with [`AsyncDropGuard::into_local_dyn`].
///
/// # Cost
///
/// As [`DynAsyncDrop`]: one allocation for the value at conversion (none if it is
/// zero-sized), one for the cleanup future when the cleanup starts.
///
/// # Examples
///
/// ```
/// use std::rc::Rc;
/// use asyncdrop::{async_drop_all, AsyncDropGuard, LocalAsyncDrop, LocalDynAsyncDrop};
///
/// struct Journal(Rc<str>);
/// impl LocalAsyncDrop for Journal {
///     type Error = String;
///     async fn local_async_drop_impl(self) -> Result<(), String> { Err(format!("{} is full", self.0)) }
/// }
/// struct Counter;
/// impl LocalAsyncDrop for Counter {
///     type Error = core::convert::Infallible;
///     async fn local_async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
/// }
///
/// # futures_executor::block_on(async {
/// let both: [AsyncDropGuard<Box<dyn LocalDynAsyncDrop<Box<dyn std::error::Error>>>>; 2] = [
///     AsyncDropGuard::into_local_dyn(AsyncDropGuard::new(Journal("log".into()))),
///     AsyncDropGuard::into_local_dyn(AsyncDropGuard::new(Counter)),
/// ];
/// let err = async_drop_all(both).await.unwrap_err();
/// assert_eq!(err.first().to_string(), "log is full");
/// # });
/// ```
pub trait LocalDynAsyncDrop<E> {
    /// Runs the cleanup of the boxed value; the box itself is freed before the
    /// returned future is allocated.
    ///
    /// # Errors
    ///
    /// The cleanup's error, converted into `E`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::rc::Rc;
    /// use asyncdrop::{LocalAsyncDrop, LocalDynAsyncDrop};
    ///
    /// struct Handle(Rc<u8>);
    /// impl LocalAsyncDrop for Handle {
    ///     type Error = u8;
    ///     async fn local_async_drop_impl(self) -> Result<(), u8> { Err(*self.0) }
    /// }
    ///
    /// let handle: Box<dyn LocalDynAsyncDrop<u32>> = Box::new(Handle(Rc::new(3)));
    /// assert_eq!(futures_executor::block_on(handle.async_drop_boxed()), Err(3u32));
    /// ```
    fn async_drop_boxed<'a>(self: Box<Self>) -> LocalBoxCleanup<'a, E>
    where
        Self: 'a;

    /// The name of the concrete type behind the trait object, for the `Debug` form
    /// of the trait object. Not public API: on a `Box<dyn ..>` (which implements
    /// the trait itself) method-call syntax would name the box's type; format the
    /// trait object with `{:?}` instead.
    #[doc(hidden)]
    fn erased_type_name(&self) -> &'static str {
        core::any::type_name::<Self>()
    }
}

impl<T, E> LocalDynAsyncDrop<E> for T
where
    T: LocalAsyncDrop,
    T::Error: Into<E>,
{
    fn async_drop_boxed<'a>(self: Box<Self>) -> LocalBoxCleanup<'a, E>
    where
        Self: 'a,
    {
        let value = {
            let boxed = self;
            *boxed
        };
        let cleanup = <T as LocalAsyncDrop>::local_async_drop_impl(value);
        Box::pin(async move { cleanup.await.map_err(Into::into) })
    }
}

/// A boxed [`DynAsyncDrop`] is a resource whose cleanup is `Send`: it runs the boxed
/// value's cleanup. This is what makes `AsyncDropGuard<Box<dyn DynAsyncDrop<E>>>`
/// work in arrays, tuples, collections and spawning adapters.
impl<'a, E: Send + 'a> AsyncDrop for Box<dyn DynAsyncDrop<E> + 'a> {
    type Error = E;

    #[inline]
    fn async_drop_impl(self) -> impl Future<Output = Result<(), E>> + Send {
        self.async_drop_boxed()
    }
}

/// A boxed [`LocalDynAsyncDrop`] is a resource: it runs the boxed value's cleanup.
impl<'a, E: 'a> LocalAsyncDrop for Box<dyn LocalDynAsyncDrop<E> + 'a> {
    type Error = E;

    #[inline]
    fn local_async_drop_impl(self) -> impl Future<Output = Result<(), E>> {
        self.async_drop_boxed()
    }
}

/// Names the concrete type behind the trait object: `DynAsyncDrop("my_app::Conn")`.
impl<E> fmt::Debug for dyn DynAsyncDrop<E> + '_ {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DynAsyncDrop")
            .field(&self.erased_type_name())
            .finish()
    }
}

/// Names the concrete type behind the trait object:
/// `LocalDynAsyncDrop("my_app::Conn")`.
impl<E> fmt::Debug for dyn LocalDynAsyncDrop<E> + '_ {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("LocalDynAsyncDrop")
            .field(&self.erased_type_name())
            .finish()
    }
}

impl<T> AsyncDropGuard<T> {
    /// Erases the guarded value's type: boxes it as a [`DynAsyncDrop<E>`], so guards
    /// of different resource types fit in one array or collection and are cleaned up
    /// together. The value's cleanup error is converted into `E` when it happens.
    ///
    /// No cleanup runs now. `T` need not be `'static`: the result holds any
    /// `T: 'a`.
    ///
    /// The new guard keeps the creation site of the one it replaces, so a report of
    /// forgotten or cancelled cleanup still points at where the resource was
    /// acquired; a report names the type `Box<dyn DynAsyncDrop<E>>`, while `Debug` of
    /// the box names `T`.
    ///
    /// # Cost
    ///
    /// One allocation for the box (none if `T` is zero-sized); the cleanup then
    /// allocates once more, for its future.
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncdrop::{AsyncDrop, AsyncDropGuard, DynAsyncDrop};
    ///
    /// # use asyncdrop::doc_fixture::Conn;
    /// struct Tx(String);
    /// impl AsyncDrop for Tx {
    ///     type Error = String;
    ///     async fn async_drop_impl(self) -> Result<(), String> { Err(format!("{}: rolled back", self.0)) }
    /// }
    ///
    /// type AnyError = Box<dyn std::error::Error + Send + Sync>;
    /// let resources: Vec<AsyncDropGuard<Box<dyn DynAsyncDrop<AnyError>>>> = vec![
    ///     AsyncDropGuard::into_dyn(AsyncDropGuard::new(Conn)),
    ///     AsyncDropGuard::into_dyn(AsyncDropGuard::new(Tx("t1".into()))),
    /// ];
    /// # futures_executor::block_on(async {
    /// let mut errors = Vec::new();
    /// for r in resources {
    ///     if let Err(e) = r.async_drop().await {
    ///         errors.push(e.to_string());
    ///     }
    /// }
    /// assert_eq!(errors, ["t1: rolled back"]);
    /// # });
    /// ```
    #[inline]
    pub fn into_dyn<'a, E>(this: Self) -> AsyncDropGuard<Box<dyn DynAsyncDrop<E> + 'a>>
    where
        T: AsyncDrop + 'a,
        T::Error: Into<E>,
        E: Send + 'a,
    {
        AsyncDropGuard::convert(this, |value| {
            Box::new(value) as Box<dyn DynAsyncDrop<E> + 'a>
        })
    }

    /// Erases the guarded value's type: boxes it as a [`LocalDynAsyncDrop<E>`] (the
    /// flavour for resources whose cleanup is not `Send`), so guards of different
    /// resource types fit in one array or collection. The value's cleanup error is
    /// converted into `E` when it happens.
    ///
    /// As [`into_dyn`](Self::into_dyn) otherwise (creation site, cost).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::rc::Rc;
    /// use asyncdrop::{AsyncDropGuard, LocalAsyncDrop, LocalDynAsyncDrop};
    ///
    /// struct Local(Rc<u8>);
    /// impl LocalAsyncDrop for Local {
    ///     type Error = u8;
    ///     async fn local_async_drop_impl(self) -> Result<(), u8> { Err(*self.0) }
    /// }
    ///
    /// let guard: AsyncDropGuard<Box<dyn LocalDynAsyncDrop<u64>>> =
    ///     AsyncDropGuard::into_local_dyn(AsyncDropGuard::new(Local(Rc::new(4))));
    /// assert_eq!(futures_executor::block_on(guard.async_drop()), Err(4u64));
    /// ```
    #[inline]
    pub fn into_local_dyn<'a, E>(this: Self) -> AsyncDropGuard<Box<dyn LocalDynAsyncDrop<E> + 'a>>
    where
        T: LocalAsyncDrop + 'a,
        T::Error: Into<E>,
        E: 'a,
    {
        AsyncDropGuard::convert(this, |value| {
            Box::new(value) as Box<dyn LocalDynAsyncDrop<E> + 'a>
        })
    }
}
