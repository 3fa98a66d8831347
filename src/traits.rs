use core::future::Future;

/// A type with asynchronous cleanup whose cleanup future is [`Send`].
///
/// This is the trait to implement for ordinary resources: connections, files,
/// sessions, task handles. Write the cleanup as a plain `async fn`; it consumes the
/// value, so cleaning up twice or using the value afterwards does not compile.
///
/// Every `AsyncDrop` type is also a [`LocalAsyncDrop`] through a blanket impl, so it
/// works everywhere the crate's generic code (which binds `LocalAsyncDrop`) expects
/// one, and its cleanup stays `Send` there: the `Send` bound of the future flows
/// through [`AsyncDropGuard::async_drop`](crate::AsyncDropGuard::async_drop), the
/// scope macro and the join helpers.
///
/// Implement [`LocalAsyncDrop`] instead when the resource or its cleanup future is
/// not `Send` (an `Rc`, a `RefCell` borrowed across an `.await`, an embedded
/// peripheral tied to one executor).
///
/// # Errors
///
/// The cleanup reports failure through [`Self::Error`]. An `Err` still counts as
/// dropped: the value is gone either way.
///
/// # Examples
///
/// ```
/// use asyncdrop::{AsyncDrop, AsyncDropGuard};
///
/// struct Connection {
///     id: u32,
/// }
///
/// impl AsyncDrop for Connection {
///     type Error = core::fmt::Error;
///
///     async fn async_drop_impl(self) -> Result<(), Self::Error> {
///         // send a goodbye frame, shut the socket down, ...
///         Ok(())
///     }
/// }
///
/// # futures_executor::block_on(async {
/// let conn = AsyncDropGuard::new(Connection { id: 7 });
/// assert_eq!(conn.id, 7);
/// conn.async_drop().await.unwrap();
/// # });
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not implement `AsyncDrop` (or is not `Send`)",
    label = "`{Self}` has no `Send` async cleanup",
    note = "implement `AsyncDrop` for `Send` resources, or `LocalAsyncDrop` for resources whose cleanup is not `Send`"
)]
pub trait AsyncDrop: Send {
    /// The error the cleanup can fail with. Use [`core::convert::Infallible`] for
    /// cleanup that cannot fail.
    ///
    /// It is `Send` so that cleanups of several values stay `Send` in generic code:
    /// a finished cleanup's result is kept while the others are awaited.
    type Error: Send;

    /// Tears the value down. Called by
    /// [`AsyncDropGuard::async_drop`](crate::AsyncDropGuard::async_drop); call it
    /// directly only when implementing cleanup of a type that contains this one.
    ///
    /// # Errors
    ///
    /// Whatever the teardown fails with; the value is gone either way.
    ///
    /// # Examples
    ///
    /// A parent cleans up its members by calling their `async_drop_impl`:
    ///
    /// ```
    /// use asyncdrop::{AsyncDrop, AsyncDropGuard};
    ///
    /// struct Socket;
    /// impl AsyncDrop for Socket {
    ///     type Error = std::io::Error;
    ///     async fn async_drop_impl(self) -> std::io::Result<()> { Ok(()) }
    /// }
    ///
    /// struct Session { socket: Socket }
    /// impl AsyncDrop for Session {
    ///     type Error = std::io::Error;
    ///     async fn async_drop_impl(self) -> std::io::Result<()> {
    ///         // say goodbye on the socket first, then close it
    ///         self.socket.async_drop_impl().await
    ///     }
    /// }
    /// # futures_executor::block_on(AsyncDropGuard::new(Session { socket: Socket }).async_drop()).unwrap();
    /// ```
    fn async_drop_impl(self) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

/// A type with asynchronous cleanup whose cleanup future need not be [`Send`].
///
/// The weaker of the two cleanup traits. Implement it for `!Send` resources or
/// resources whose cleanup holds `!Send` state across an `.await`; they can then
/// only be cleaned up on the task that owns them (a local or single-threaded
/// executor). Everything generic in this crate binds `LocalAsyncDrop`, and every
/// [`AsyncDrop`] type implements it, so each helper serves both.
///
/// # Why two traits
///
/// A trait method written as `async fn` returns a future whose `Send`-ness callers of
/// generic code cannot name (that needs return-type notation, not yet stable). So the
/// crate offers one trait that promises a `Send` future ([`AsyncDrop`], what
/// multi-threaded runtimes need) and one that promises nothing (this one, what a
/// `!Send` resource can honour). A blanket impl makes every `AsyncDrop` type a
/// `LocalAsyncDrop` without losing the `Send` bound.
///
/// The two methods have different names, so a call is never ambiguous with both
/// traits imported: `member.async_drop_impl()` on an `AsyncDrop` member, and
/// `member.local_async_drop_impl()` on any member, `AsyncDrop` or not.
///
/// # Examples
///
/// ```
/// use std::rc::Rc;
/// use std::cell::Cell;
/// use asyncdrop::{AsyncDropGuard, LocalAsyncDrop};
///
/// struct Peripheral {
///     closed: Rc<Cell<bool>>,
/// }
///
/// impl LocalAsyncDrop for Peripheral {
///     type Error = core::convert::Infallible;
///
///     async fn local_async_drop_impl(self) -> Result<(), Self::Error> {
///         self.closed.set(true);
///         Ok(())
///     }
/// }
///
/// # futures_executor::block_on(async {
/// let closed = Rc::new(Cell::new(false));
/// let p = AsyncDropGuard::new(Peripheral { closed: closed.clone() });
/// p.async_drop().await.unwrap();
/// assert!(closed.get());
/// # });
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no async cleanup",
    label = "`{Self}` implements neither `AsyncDrop` nor `LocalAsyncDrop`",
    note = "implement `AsyncDrop` (or `LocalAsyncDrop` for `!Send` resources) for `{Self}`"
)]
pub trait LocalAsyncDrop {
    /// The error the cleanup can fail with.
    type Error;

    /// Tears the value down. Called by
    /// [`AsyncDropGuard::async_drop`](crate::AsyncDropGuard::async_drop).
    ///
    /// # Errors
    ///
    /// Whatever the teardown fails with; the value is gone either way.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::cell::RefCell;
    /// use std::rc::Rc;
    /// use asyncdrop::{AsyncDropGuard, LocalAsyncDrop};
    ///
    /// struct Journal {
    ///     log: Rc<RefCell<Vec<&'static str>>>,
    /// }
    /// impl LocalAsyncDrop for Journal {
    ///     type Error = core::convert::Infallible;
    ///     async fn local_async_drop_impl(self) -> Result<(), Self::Error> {
    ///         self.log.borrow_mut().push("flushed");
    ///         Ok(())
    ///     }
    /// }
    /// let log = Rc::new(RefCell::new(Vec::new()));
    /// let journal = AsyncDropGuard::new(Journal { log: log.clone() });
    /// futures_executor::block_on(journal.async_drop()).unwrap();
    /// assert_eq!(*log.borrow(), ["flushed"]);
    /// ```
    fn local_async_drop_impl(self) -> impl Future<Output = Result<(), Self::Error>>;
}

impl<T: AsyncDrop> LocalAsyncDrop for T {
    type Error = <T as AsyncDrop>::Error;

    #[inline]
    fn local_async_drop_impl(self) -> impl Future<Output = Result<(), Self::Error>> {
        <T as AsyncDrop>::async_drop_impl(self)
    }
}
