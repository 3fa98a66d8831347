use core::fmt;
use core::hash::{Hash, Hasher};
use core::mem::ManuallyDrop;
use core::ops::{Deref, DerefMut};
use core::panic::Location;

use crate::future::{AsyncDropFuture, AsyncDropOnErr};
use crate::policy::{self, ReportKind, Site};
use crate::LocalAsyncDrop;

/// Owns a value that must be cleaned up asynchronously.
///
/// Constructors of resources with async teardown return `AsyncDropGuard<Self>`
/// instead of `Self`. The guard dereferences to the value; when the owner is done it
/// calls [`async_drop`](Self::async_drop), which consumes the guard and runs the
/// value's [`LocalAsyncDrop::local_async_drop_impl`].
///
/// Operations other than `async_drop` are associated functions
/// (`AsyncDropGuard::map(guard, f)`) so they never shadow methods of `T`.
///
/// # Drop behaviour
///
/// Dropping a guard without calling `async_drop` is a bug in the caller. The value
/// is dropped synchronously (exactly once) and the skipped cleanup is reported with
/// [`ReportKind::Forgotten`] through the [`Policy`](crate::Policy) — by default a
/// panic naming the type and, in debug builds, where the guard was created.
///
/// # Cost
///
/// In release builds `size_of::<AsyncDropGuard<T>>() == size_of::<T>()`; builds with
/// debug assertions add one pointer for the creation site. Neither creating nor
/// cleaning up allocates. A resource built out of other resources is cheapest with
/// the parts as plain fields under the parent's one guard
/// ([`combine`](Self::combine)); every `AsyncDropGuard` field adds its own
/// forgotten-cleanup check to the parent's drop code, unless the parent derives its
/// cleanup (feature `derive`), which takes the guard fields out of their guards.
///
/// # Examples
///
/// ```
/// use asyncdrop::{AsyncDrop, AsyncDropGuard};
///
/// struct File {
///     buffered: Vec<u8>,
/// }
///
/// impl File {
///     fn open() -> AsyncDropGuard<File> {
///         AsyncDropGuard::new(File { buffered: Vec::new() })
///     }
/// }
///
/// impl AsyncDrop for File {
///     type Error = std::io::Error;
///     async fn async_drop_impl(self) -> Result<(), std::io::Error> {
///         // flush `self.buffered`, then sync ...
///         Ok(())
///     }
/// }
///
/// # futures_executor::block_on(async {
/// let mut file = File::open();
/// file.buffered.extend_from_slice(b"hello");
/// file.async_drop().await?;
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
#[must_use = "a guarded value must be cleaned up with `.async_drop().await`; dropping the guard reports it as forgotten"]
pub struct AsyncDropGuard<T> {
    value: ManuallyDrop<T>,
    site: Site,
}

impl<T> AsyncDropGuard<T> {
    /// Guards `value`.
    ///
    /// In builds with debug assertions the caller's location is recorded, so a
    /// report of forgotten or cancelled cleanup can point at it.
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncdrop::{AsyncDrop, AsyncDropGuard};
    /// # struct Conn;
    /// # impl AsyncDrop for Conn {
    /// #     type Error = core::convert::Infallible;
    /// #     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
    /// # }
    /// let conn = AsyncDropGuard::new(Conn);
    /// # futures_executor::block_on(async {
    /// conn.async_drop().await.unwrap();
    /// # });
    /// ```
    #[inline]
    #[track_caller]
    pub fn new(value: T) -> Self
    where
        T: LocalAsyncDrop,
    {
        AsyncDropGuard {
            value: ManuallyDrop::new(value),
            site: Site::caller(),
        }
    }

    /// Runs the value's cleanup, consuming the guard.
    ///
    /// # Errors
    ///
    /// Returns the error of [`LocalAsyncDrop::local_async_drop_impl`]. The value is gone
    /// either way.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe, by nature: if the returned future is dropped before it
    /// completes, the cleanup did not finish. The value (or whatever part of it the
    /// cleanup still held) is dropped synchronously, exactly once, and the
    /// cancellation is reported with [`ReportKind::Cancelled`] through the
    /// [`Policy`](crate::Policy). It is never reported as success, and never run
    /// again.
    ///
    /// # Panics
    ///
    /// Panics inside the cleanup propagate to the caller; the value is then dropped
    /// during unwinding and nothing else is reported (no second panic).
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncdrop::{AsyncDrop, AsyncDropGuard};
    /// struct Session;
    /// impl AsyncDrop for Session {
    ///     type Error = &'static str;
    ///     async fn async_drop_impl(self) -> Result<(), &'static str> {
    ///         Err("server went away")
    ///     }
    /// }
    /// # futures_executor::block_on(async {
    /// let session = AsyncDropGuard::new(Session);
    /// assert_eq!(session.async_drop().await, Err("server went away"));
    /// # });
    /// ```
    #[inline]
    pub fn async_drop(
        self,
    ) -> AsyncDropFuture<T, impl core::future::Future<Output = Result<(), T::Error>>>
    where
        T: LocalAsyncDrop,
    {
        let site = self.site;
        let value = Self::into_inner_without_cleanup(self);
        AsyncDropFuture::new(value.local_async_drop_impl(), site)
    }

    /// Takes the value out **without running its cleanup** and without any report.
    ///
    /// The caller becomes responsible for cleaning the value up. Use it to hand the
    /// value to code that cleans it up by other means, or to re-guard it.
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncdrop::{AsyncDrop, AsyncDropGuard};
    /// # struct Conn(u8);
    /// # impl AsyncDrop for Conn {
    /// #     type Error = core::convert::Infallible;
    /// #     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
    /// # }
    /// let guard = AsyncDropGuard::new(Conn(3));
    /// let conn: Conn = AsyncDropGuard::into_inner_without_cleanup(guard);
    /// assert_eq!(conn.0, 3);
    /// # futures_executor::block_on(async {
    /// AsyncDropGuard::new(conn).async_drop().await.unwrap();
    /// # });
    /// ```
    #[inline]
    pub fn into_inner_without_cleanup(this: Self) -> T {
        let mut this = ManuallyDrop::new(this);
        // SAFETY: `this` is wrapped in `ManuallyDrop` and never used again, so the
        // guard's `Drop` does not run and the value is moved out exactly once.
        // (`ManuallyDrop` rather than an `Option`: no flag to check on any path, so a
        // guard costs what a direct close does, bench case a.)
        unsafe { ManuallyDrop::take(&mut this.value) }
    }

    /// Turns the guarded value into another guarded value, without cleanup in
    /// between. The new guard records the location of this call.
    ///
    /// Useful to wrap a guarded resource into a bigger one whose cleanup cleans up
    /// the inner one.
    ///
    /// # Panics
    ///
    /// If `f` panics the value it was given is dropped during unwinding, without a
    /// report (the panic is the report).
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncdrop::{AsyncDrop, AsyncDropGuard};
    /// struct Socket;
    /// impl AsyncDrop for Socket {
    ///     type Error = core::convert::Infallible;
    ///     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
    /// }
    /// struct Client { socket: Socket, name: String }
    /// impl AsyncDrop for Client {
    ///     type Error = core::convert::Infallible;
    ///     async fn async_drop_impl(self) -> Result<(), Self::Error> {
    ///         self.socket.async_drop_impl().await
    ///     }
    /// }
    ///
    /// let socket = AsyncDropGuard::new(Socket);
    /// let client = AsyncDropGuard::map(socket, |socket| Client { socket, name: "a".into() });
    /// assert_eq!(client.name, "a");
    /// # futures_executor::block_on(async { client.async_drop().await.unwrap() });
    /// ```
    #[inline]
    #[track_caller]
    pub fn map<U, F>(this: Self, f: F) -> AsyncDropGuard<U>
    where
        U: LocalAsyncDrop,
        F: FnOnce(T) -> U,
    {
        AsyncDropGuard::new(f(Self::into_inner_without_cleanup(this)))
    }

    /// As [`map`](Self::map), but the new guard keeps this guard's creation site: for
    /// conversions that change the type of the same resource.
    #[cfg(feature = "alloc")]
    #[inline]
    pub(crate) fn convert<U, F>(this: Self, f: F) -> AsyncDropGuard<U>
    where
        F: FnOnce(T) -> U,
    {
        let site = this.site;
        AsyncDropGuard {
            value: ManuallyDrop::new(f(Self::into_inner_without_cleanup(this))),
            site,
        }
    }

    /// Takes the guard apart without cleanup or report, for code that may guard the
    /// value again with [`from_parts`](Self::from_parts) at the same site.
    #[cfg(feature = "alloc")]
    #[inline]
    pub(crate) fn into_parts(this: Self) -> (T, Site) {
        let site = this.site;
        (Self::into_inner_without_cleanup(this), site)
    }

    /// Guards `value` again with the site [`into_parts`](Self::into_parts) gave.
    #[cfg(feature = "alloc")]
    #[inline]
    pub(crate) fn from_parts(value: T, site: Site) -> Self {
        AsyncDropGuard {
            value: ManuallyDrop::new(value),
            site,
        }
    }

    /// Cleans the value up if `result` is an error; otherwise hands the guard back
    /// together with the `Ok` value.
    ///
    /// Meant for constructors that fail half way: an already acquired resource must
    /// be cleaned up before the error is returned.
    ///
    /// # Errors
    ///
    /// If `result` is `Err(error)`, the guard is cleaned up and the future resolves
    /// to an [`ErrorAndCleanup`](crate::ErrorAndCleanup) holding `error` and the
    /// cleanup's own result, so neither error is lost.
    ///
    /// # Cancel safety
    ///
    /// As [`async_drop`](Self::async_drop) once cleanup has begun, which for an `Err`
    /// is at once: dropped unpolled, it reports [`ReportKind::Cancelled`]. With `Ok`,
    /// dropping it unpolled drops the guard, reported [`ReportKind::Forgotten`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncdrop::{AsyncDrop, AsyncDropGuard};
    /// struct Conn;
    /// impl AsyncDrop for Conn {
    ///     type Error = core::convert::Infallible;
    ///     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
    /// }
    /// async fn handshake(_: &mut Conn) -> Result<u32, &'static str> {
    ///     Err("bad greeting")
    /// }
    ///
    /// # futures_executor::block_on(async {
    /// let mut conn = AsyncDropGuard::new(Conn);
    /// let hello = handshake(&mut conn).await;
    /// match AsyncDropGuard::async_drop_on_err(conn, hello).await {
    ///     Ok((conn, version)) => {
    ///         // go on using `conn`
    /// #       let _ = (conn, version);
    /// #       unreachable!()
    ///     }
    ///     Err(e) => {
    ///         assert_eq!(e.error, "bad greeting");
    ///         assert!(e.cleanup.is_ok()); // the connection was cleaned up
    ///     }
    /// }
    /// # });
    /// ```
    #[inline]
    pub fn async_drop_on_err<R, E>(
        this: Self,
        result: Result<R, E>,
    ) -> AsyncDropOnErr<T, impl core::future::Future<Output = Result<(), T::Error>>, R, E>
    where
        T: LocalAsyncDrop,
    {
        match result {
            Ok(ok) => AsyncDropOnErr::ok(this, ok),
            Err(error) => AsyncDropOnErr::err(this.async_drop(), error),
        }
    }

    /// Where the guard was created, in builds with debug assertions; `None` otherwise.
    #[inline]
    pub fn site(this: &Self) -> Option<&'static Location<'static>> {
        this.site.get()
    }

    /// Where the guard was created, for reports.
    #[cfg(feature = "rt")]
    pub(crate) fn raw_site(this: &Self) -> Site {
        this.site
    }
}

impl<T> Drop for AsyncDropGuard<T> {
    fn drop(&mut self) {
        // SAFETY: `drop` runs at most once and `self.value` is not used afterwards
        // (see `into_inner_without_cleanup` for why `ManuallyDrop`).
        let value = unsafe { ManuallyDrop::take(&mut self.value) };
        // Report first; if the policy panics, `value` is still dropped (once) while
        // unwinding.
        policy::report_skipped::<T>(ReportKind::Forgotten, self.site);
        drop(value);
    }
}

impl<T> Deref for AsyncDropGuard<T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T> DerefMut for AsyncDropGuard<T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        &mut self.value
    }
}

impl<T: fmt::Debug> fmt::Debug for AsyncDropGuard<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("AsyncDropGuard").field(&*self.value).finish()
    }
}

/// Compares the guarded values, so guards can key a map (as `Box` does).
impl<T: PartialEq> PartialEq for AsyncDropGuard<T> {
    fn eq(&self, other: &Self) -> bool {
        *self.value == *other.value
    }
}

impl<T: Eq> Eq for AsyncDropGuard<T> {}

/// Hashes the guarded value, consistent with `PartialEq`.
impl<T: Hash> Hash for AsyncDropGuard<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (*self.value).hash(state);
    }
}

/// A guard is itself a resource: cleaning it up runs
/// [`AsyncDropGuard::async_drop`]. This is what lets tuples and arrays of guards be
/// cleaned up together, and guards nest.
impl<T: LocalAsyncDrop> LocalAsyncDrop for AsyncDropGuard<T> {
    type Error = T::Error;

    #[inline]
    fn local_async_drop_impl(self) -> impl core::future::Future<Output = Result<(), Self::Error>> {
        self.async_drop()
    }
}

/// A guard that a synchronous-drop wrapper (`BlockingDrop`, the adapters'
/// `SpawnOnDrop` and `ReaperDrop`) holds until its `Drop` or its `into_guard` takes
/// it out.
#[cfg(feature = "std")]
pub(crate) struct Held<T>(Option<AsyncDropGuard<T>>);

#[cfg(feature = "std")]
impl<T> Held<T> {
    pub(crate) fn new(guard: AsyncDropGuard<T>) -> Self {
        Held(Some(guard))
    }

    /// For `into_guard`, which consumes the wrapper: its `Drop` then finds nothing.
    pub(crate) fn take(&mut self) -> AsyncDropGuard<T> {
        self.0.take().expect(HELD_UNTIL_DROPPED)
    }

    /// For the wrapper's `Drop`: the guard, unless `into_guard` took it.
    pub(crate) fn take_for_drop(&mut self) -> Option<AsyncDropGuard<T>> {
        self.0.take()
    }
}

#[cfg(feature = "std")]
const HELD_UNTIL_DROPPED: &str = "a wrapper holds its guard until it is dropped";

#[cfg(feature = "std")]
impl<T> Deref for Held<T> {
    type Target = AsyncDropGuard<T>;

    fn deref(&self) -> &AsyncDropGuard<T> {
        self.0.as_ref().expect(HELD_UNTIL_DROPPED)
    }
}

#[cfg(feature = "std")]
impl<T> DerefMut for Held<T> {
    fn deref_mut(&mut self) -> &mut AsyncDropGuard<T> {
        self.0.as_mut().expect(HELD_UNTIL_DROPPED)
    }
}
