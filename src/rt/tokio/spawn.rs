//! Background cleanup: hand a guard's cleanup to the runtime.

use core::fmt;
use core::ops::{Deref, DerefMut};

use ::tokio::runtime::Handle;

use crate::guard::Held;
use crate::policy::{self, Report, ReportKind};
use crate::rt::handle::detached;
use crate::rt::reaper::Background;
use crate::rt::CleanupHandle;
use crate::{AsyncDrop, AsyncDropGuard};

/// Runs the cleanup of `guard` as a task on the current tokio runtime.
///
/// Returns at once with a [`CleanupHandle`]: await it to learn when the cleanup
/// finished and how; drop it to let the cleanup go on alone. Either way a failure is
/// never lost: it goes to whoever awaits the handle, or else to the
/// [`Policy`](crate::Policy) (see [`CleanupHandle`]).
///
/// `T` must be [`AsyncDrop`] (its cleanup future is `Send`) and `'static`; a
/// `!Send` ([`LocalAsyncDrop`](crate::LocalAsyncDrop)-only) resource is rejected at
/// compile time — clean it up in place, on its own task.
///
/// Requires the `tokio` feature (`asyncdrop = { version = "0.1", features =
/// ["tokio"] }`) and a tokio runtime.
///
/// # Errors
///
/// Outside a tokio runtime there is nowhere to spawn: the guard is handed back in a
/// [`NoRuntime`] error, whose message names the type. (Tokio's own `spawn` would
/// panic.) Use [`spawn_async_drop_on`] with a [`Handle`] to spawn from a thread
/// that is not a runtime thread.
///
/// # Runtime shutdown
///
/// A runtime that shuts down drops its unfinished tasks. The cleanup then did not
/// finish: the value is dropped synchronously and the cleanup future reports
/// [`ReportKind::Cancelled`]; an awaiting handle returns
/// [`BackgroundError::Cancelled`](crate::rt::BackgroundError::Cancelled).
///
/// # Examples
///
/// ```
/// use asyncdrop::rt::tokio::spawn_async_drop;
/// use asyncdrop::{AsyncDrop, AsyncDropGuard};
///
/// struct Session {
///     id: u32,
/// }
/// impl AsyncDrop for Session {
///     type Error = std::io::Error;
///     async fn async_drop_impl(self) -> std::io::Result<()> {
///         tokio::task::yield_now().await; // log session `self.id` out, close the socket, ...
///         assert!(self.id > 0);
///         Ok(())
///     }
/// }
///
/// let rt = tokio::runtime::Runtime::new()?;
/// rt.block_on(async {
///     let session = AsyncDropGuard::new(Session { id: 1 });
///     let cleanup = spawn_async_drop(session).expect("inside a runtime");
///     // ... carry on; later, if it matters, wait for the cleanup:
///     cleanup.await.expect("logged out");
/// });
///
/// // Outside a runtime the guard comes back:
/// let err = spawn_async_drop(AsyncDropGuard::new(Session { id: 2 })).unwrap_err();
/// assert!(err.to_string().contains("Session"));
/// rt.block_on(err.into_guard().async_drop())?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn spawn_async_drop<T>(guard: AsyncDropGuard<T>) -> Result<CleanupHandle<T>, NoRuntime<T>>
where
    T: AsyncDrop + 'static,
    T::Error: fmt::Debug,
{
    match Handle::try_current() {
        Ok(runtime) => Ok(spawn_async_drop_on(&runtime, guard)),
        Err(_) => Err(NoRuntime { guard }),
    }
}

/// Runs the cleanup of `guard` as a task on the runtime of `runtime`, from any
/// thread.
///
/// As [`spawn_async_drop`], for code that holds a runtime [`Handle`] (captured with
/// [`Handle::current`] while on the runtime) but may run elsewhere.
///
/// Requires the `tokio` feature and a tokio runtime.
///
/// # Examples
///
/// ```
/// use asyncdrop::rt::tokio::spawn_async_drop_on;
/// use asyncdrop::{AsyncDrop, AsyncDropGuard};
///
/// struct Session;
/// impl AsyncDrop for Session {
///     type Error = std::io::Error;
///     async fn async_drop_impl(self) -> std::io::Result<()> { Ok(()) }
/// }
///
/// let rt = tokio::runtime::Runtime::new()?;
/// let handle = rt.handle().clone();
/// // A plain thread, not a runtime thread:
/// let cleanup = std::thread::spawn(move || {
///     spawn_async_drop_on(&handle, AsyncDropGuard::new(Session))
/// })
/// .join()
/// .unwrap();
/// rt.block_on(cleanup).expect("cleaned up");
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn spawn_async_drop_on<T>(runtime: &Handle, guard: AsyncDropGuard<T>) -> CleanupHandle<T>
where
    T: AsyncDrop + 'static,
    T::Error: fmt::Debug,
{
    let (task, handle) = detached(guard);
    // The task reports for itself; its `JoinHandle` has nothing to add.
    drop(runtime.spawn(task));
    handle
}

/// There was no tokio runtime to run a cleanup on; the guard is handed back.
///
/// Returned by [`spawn_async_drop`] (and [`SpawnOnDrop::spawn`]) called outside a
/// runtime. Take the guard back with [`into_guard`](Self::into_guard).
///
/// # Drop behaviour
///
/// Dropping the error drops the guard inside, which reports the value as
/// [forgotten](crate::ReportKind::Forgotten).
///
/// # Examples
///
/// ```
/// use asyncdrop::rt::tokio::spawn_async_drop;
/// use asyncdrop::{AsyncDrop, AsyncDropGuard};
///
/// struct Session;
/// impl AsyncDrop for Session {
///     type Error = std::io::Error;
///     async fn async_drop_impl(self) -> std::io::Result<()> { Ok(()) }
/// }
///
/// let err = spawn_async_drop(AsyncDropGuard::new(Session)).unwrap_err();
/// println!("{err}"); // no tokio runtime on this thread to run the cleanup of `…::Session` on …
/// let guard = err.into_guard();
/// tokio::runtime::Runtime::new()?.block_on(guard.async_drop())?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct NoRuntime<T> {
    guard: AsyncDropGuard<T>,
}

impl<T> NoRuntime<T> {
    /// The guard that could not be handed to a runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncdrop::rt::tokio::spawn_async_drop;
    /// use asyncdrop::AsyncDropGuard;
    /// # use asyncdrop::AsyncDrop;
    /// # struct Session(u32);
    /// # impl AsyncDrop for Session {
    /// #     type Error = std::io::Error;
    /// #     async fn async_drop_impl(self) -> std::io::Result<()> { Ok(()) }
    /// # }
    ///
    /// // No runtime on this thread: the guard comes back, value and all.
    /// let err = spawn_async_drop(AsyncDropGuard::new(Session(3))).unwrap_err();
    /// let guard = err.into_guard();
    /// assert_eq!(guard.0, 3);
    /// tokio::runtime::Runtime::new()?.block_on(guard.async_drop())?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn into_guard(self) -> AsyncDropGuard<T> {
        self.guard
    }
}

impl<T> fmt::Debug for NoRuntime<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NoRuntime")
            .field("type", &core::any::type_name::<T>())
            .finish_non_exhaustive()
    }
}

impl<T> fmt::Display for NoRuntime<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "no tokio runtime on this thread to run the cleanup of `{}` on \
             (call this from a runtime thread, or pass a runtime `Handle`)",
            core::any::type_name::<T>()
        )
    }
}

impl<T> core::error::Error for NoRuntime<T> {}

/// A guarded value whose `Drop` spawns its cleanup on a tokio runtime, instead of
/// reporting it as forgotten.
///
/// For values whose cleanup may run after their owner is gone: connections in a
/// cache, sessions of a request handler that may be cancelled. It dereferences to
/// the value. To clean up in place after all, take the guard back with
/// [`into_guard`](Self::into_guard) and `.async_drop().await` it; to get a handle on
/// the background cleanup, use [`spawn`](Self::spawn).
///
/// Requires the `tokio` feature (`asyncdrop = { version = "0.1", features =
/// ["tokio"] }`) and a tokio runtime.
///
/// # Drop behaviour
///
/// Dropping it spawns the cleanup (detached, as [`spawn_async_drop_on`]) on:
///
/// 1. the runtime that was current when the wrapper was created, if there was one
///    (so a drop on a plain thread still works), else
/// 2. the runtime current where it is dropped, if any.
///
/// The drop itself never blocks. The cleanup's error or panic is reported through
/// the [`Policy`](crate::Policy) as [`ReportKind::Failed`] /
/// [`ReportKind::Panicked`]; a runtime that shuts down before the cleanup finished
/// makes it report [`ReportKind::Cancelled`].
///
/// With no runtime at all, the value is dropped synchronously without cleanup and
/// that is reported as [`ReportKind::Failed`], the detail saying there was no
/// runtime.
///
/// # Examples
///
/// ```
/// use asyncdrop::rt::tokio::SpawnOnDrop;
/// use asyncdrop::{AsyncDrop, AsyncDropGuard};
///
/// struct Conn {
///     peer: &'static str,
/// }
/// impl AsyncDrop for Conn {
///     type Error = std::io::Error;
///     async fn async_drop_impl(self) -> std::io::Result<()> {
///         tokio::task::yield_now().await; // say goodbye, shut down
///         Ok(())
///     }
/// }
///
/// let rt = tokio::runtime::Runtime::new()?;
/// rt.block_on(async {
///     let conn = SpawnOnDrop::new(AsyncDropGuard::new(Conn { peer: "db" }));
///     assert_eq!(conn.peer, "db");
///     drop(conn); // the cleanup runs as a task
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct SpawnOnDrop<T>
where
    T: AsyncDrop + 'static,
    T::Error: fmt::Debug,
{
    /// `None` only after `into_guard`/`spawn` or inside `drop`.
    guard: Held<T>,
    runtime: Option<Handle>,
}

impl<T> SpawnOnDrop<T>
where
    T: AsyncDrop + 'static,
    T::Error: fmt::Debug,
{
    /// Wraps `guard`, capturing the current runtime's [`Handle`] if there is one.
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncdrop::rt::tokio::SpawnOnDrop;
    /// use asyncdrop::{AsyncDrop, AsyncDropGuard};
    ///
    /// struct Conn;
    /// impl AsyncDrop for Conn {
    ///     type Error = std::io::Error;
    ///     async fn async_drop_impl(self) -> std::io::Result<()> { Ok(()) }
    /// }
    ///
    /// let rt = tokio::runtime::Runtime::new()?;
    /// let conn = rt.block_on(async { SpawnOnDrop::new(AsyncDropGuard::new(Conn)) });
    /// assert!(SpawnOnDrop::runtime(&conn).is_some());
    /// drop(conn); // on a plain thread: spawned on the captured runtime
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new(guard: AsyncDropGuard<T>) -> Self {
        SpawnOnDrop {
            guard: Held::new(guard),
            runtime: Handle::try_current().ok(),
        }
    }

    /// Wraps `guard`; dropping the wrapper spawns the cleanup on `runtime`.
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncdrop::rt::tokio::SpawnOnDrop;
    /// use asyncdrop::{AsyncDrop, AsyncDropGuard};
    ///
    /// struct Conn;
    /// impl AsyncDrop for Conn {
    ///     type Error = std::io::Error;
    ///     async fn async_drop_impl(self) -> std::io::Result<()> { Ok(()) }
    /// }
    ///
    /// let rt = tokio::runtime::Runtime::new()?;
    /// let conn = SpawnOnDrop::with_runtime(AsyncDropGuard::new(Conn), rt.handle().clone());
    /// drop(conn);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn with_runtime(guard: AsyncDropGuard<T>, runtime: Handle) -> Self {
        SpawnOnDrop {
            guard: Held::new(guard),
            runtime: Some(runtime),
        }
    }

    /// The runtime the cleanup will be spawned on, if one was captured.
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncdrop::rt::tokio::SpawnOnDrop;
    /// use asyncdrop::AsyncDropGuard;
    /// # use asyncdrop::AsyncDrop;
    /// # struct Conn;
    /// # impl AsyncDrop for Conn {
    /// #     type Error = std::io::Error;
    /// #     async fn async_drop_impl(self) -> std::io::Result<()> { Ok(()) }
    /// # }
    ///
    /// let rt = tokio::runtime::Runtime::new()?;
    /// // Made on a plain thread: no runtime to capture.
    /// let loose = SpawnOnDrop::new(AsyncDropGuard::new(Conn));
    /// assert!(SpawnOnDrop::runtime(&loose).is_none());
    /// let bound = SpawnOnDrop::with_runtime(AsyncDropGuard::new(Conn), rt.handle().clone());
    /// assert!(SpawnOnDrop::runtime(&bound).is_some());
    ///
    /// rt.block_on(SpawnOnDrop::into_guard(loose).async_drop())?;
    /// rt.block_on(SpawnOnDrop::spawn(bound)?)?; // spawned on `rt`
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn runtime(this: &Self) -> Option<&Handle> {
        this.runtime.as_ref()
    }

    /// Takes the guard back out, **without** any cleanup: back to the explicit path,
    /// where the owner calls [`AsyncDropGuard::async_drop`].
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncdrop::rt::tokio::SpawnOnDrop;
    /// use asyncdrop::{AsyncDrop, AsyncDropGuard};
    ///
    /// struct Conn;
    /// impl AsyncDrop for Conn {
    ///     type Error = std::io::Error;
    ///     async fn async_drop_impl(self) -> std::io::Result<()> { Ok(()) }
    /// }
    ///
    /// tokio::runtime::Runtime::new()?.block_on(async {
    ///     let conn = SpawnOnDrop::new(AsyncDropGuard::new(Conn));
    ///     SpawnOnDrop::into_guard(conn).async_drop().await // cleaned up right here
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn into_guard(mut this: Self) -> AsyncDropGuard<T> {
        this.guard.take()
    }

    /// Spawns the cleanup now, on the captured runtime or else the current one, and
    /// returns a handle to wait for it.
    ///
    /// # Errors
    ///
    /// With no runtime captured and none current, hands the guard back in a
    /// [`NoRuntime`].
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncdrop::rt::tokio::SpawnOnDrop;
    /// use asyncdrop::{AsyncDrop, AsyncDropGuard};
    ///
    /// struct Conn;
    /// impl AsyncDrop for Conn {
    ///     type Error = std::io::Error;
    ///     async fn async_drop_impl(self) -> std::io::Result<()> { Ok(()) }
    /// }
    ///
    /// tokio::runtime::Runtime::new()?.block_on(async {
    ///     let conn = SpawnOnDrop::new(AsyncDropGuard::new(Conn));
    ///     let cleanup = SpawnOnDrop::spawn(conn).expect("a runtime was captured");
    ///     cleanup.await.expect("cleaned up");
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn spawn(mut this: Self) -> Result<CleanupHandle<T>, NoRuntime<T>> {
        let runtime = this.runtime.take();
        let guard = Self::into_guard(this);
        match runtime.or_else(|| Handle::try_current().ok()) {
            Some(runtime) => Ok(spawn_async_drop_on(&runtime, guard)),
            None => Err(NoRuntime { guard }),
        }
    }
}

impl<T> Deref for SpawnOnDrop<T>
where
    T: AsyncDrop + 'static,
    T::Error: fmt::Debug,
{
    type Target = T;

    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T> DerefMut for SpawnOnDrop<T>
where
    T: AsyncDrop + 'static,
    T::Error: fmt::Debug,
{
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard
    }
}

impl<T> fmt::Debug for SpawnOnDrop<T>
where
    T: AsyncDrop + fmt::Debug + 'static,
    T::Error: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpawnOnDrop")
            .field("value", &**self.guard)
            .field("runtime", &self.runtime.is_some())
            .finish()
    }
}

impl<T> Drop for SpawnOnDrop<T>
where
    T: AsyncDrop + 'static,
    T::Error: fmt::Debug,
{
    fn drop(&mut self) {
        let Some(guard) = self.guard.take_for_drop() else {
            return;
        };
        match self.runtime.take().or_else(|| Handle::try_current().ok()) {
            Some(runtime) => runtime.clean_up_detached(guard),
            None => drop_without_runtime(guard),
        }
    }
}

/// The last resort with no runtime anywhere: report, then drop synchronously.
pub(super) fn drop_without_runtime<T>(guard: AsyncDropGuard<T>)
where
    T: AsyncDrop,
{
    struct NoRuntimeDetail;
    impl fmt::Debug for NoRuntimeDetail {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(
                "no tokio runtime to spawn the cleanup on; \
                 the value was dropped without cleanup",
            )
        }
    }
    // An abandoned cleanup future reports nothing when dropped; it holds the value
    // until the end of this function, after the report: if the policy panics, the
    // value is still dropped (once) while unwinding.
    let mut cleanup = core::pin::pin!(guard.async_drop());
    cleanup.as_mut().abandon();
    policy::report(
        &Report::new(
            ReportKind::Failed,
            core::any::type_name::<T>(),
            cleanup.site(),
        )
        .with_detail(&NoRuntimeDetail),
    );
}
