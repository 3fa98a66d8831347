//! Background cleanup: hand a guard's cleanup to a runtime.

use core::fmt;

use super::handle::detached;
use super::{CleanupHandle, LocalRuntime, Runtime};
use crate::guard::Held;
use crate::outcome::clean_up_reporting;
use crate::policy::{self, Report, ReportKind};
use crate::{AsyncDrop, AsyncDropGuard, LocalAsyncDrop};

/// Runs the cleanup of `guard` as a detached task on `runtime`, from any thread.
///
/// Returns at once with a [`CleanupHandle`]: await it to learn how the cleanup
/// ended, or drop it to let the cleanup go on alone; a failure goes to whoever
/// awaits the handle, or else to the [`Policy`](crate::Policy). The runtime's
/// [`CleanupTracker`](super::CleanupTracker) counts the cleanup until it ends.
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "tokio")] {
/// use asyncdrop::rt::spawn_async_drop_on;
/// use asyncdrop::AsyncDropGuard;
///
/// # use asyncdrop::doc_fixture::Conn;
/// let rt = tokio::runtime::Runtime::new()?;
/// let handle = rt.handle().clone();
/// // From a plain thread, not a runtime thread:
/// let cleanup = std::thread::spawn(move || spawn_async_drop_on(&handle, AsyncDropGuard::new(Conn)));
/// rt.block_on(cleanup.join().unwrap())?;
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn spawn_async_drop_on<R: Runtime, T: AsyncDrop<Error: fmt::Debug> + 'static>(
    runtime: &R,
    guard: AsyncDropGuard<T>,
) -> CleanupHandle<T> {
    let (task, handle) = detached(guard);
    super::runtime::detach(runtime, task);
    handle
}

/// Runs the cleanup of a `!Send` value as a detached task on a local executor.
///
/// As [`spawn_async_drop_on`], for [`LocalAsyncDrop`] values on a [`LocalRuntime`]
/// (see there for an example); the returned handle is awaited on the same thread.
pub fn spawn_local_async_drop_on<R, T>(runtime: &R, guard: AsyncDropGuard<T>) -> CleanupHandle<T>
where
    R: LocalRuntime,
    T: LocalAsyncDrop<Error: fmt::Debug> + 'static,
{
    let (task, handle) = detached(guard);
    runtime.spawn_local(super::runtime::Quiet::new(task));
    handle
}

/// Runs the cleanup of `guard` as a detached task on the current runtime of kind
/// `R` ([`Runtime::current`]).
///
/// # Errors
///
/// With no current runtime the guard is handed back in a [`NoRuntime`].
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "tokio")] {
/// use asyncdrop::rt::tokio::spawn_async_drop;
/// use asyncdrop::AsyncDropGuard;
///
/// # use asyncdrop::doc_fixture::Conn;
/// let rt = tokio::runtime::Runtime::new()?;
/// rt.block_on(async {
///     spawn_async_drop(AsyncDropGuard::new(Conn))?.await?;
///     Ok::<(), Box<dyn std::error::Error>>(())
/// })?;
/// // Outside a runtime the guard comes back:
/// let err = spawn_async_drop(AsyncDropGuard::new(Conn)).unwrap_err();
/// rt.block_on(err.into_guard().async_drop())?;
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn spawn_async_drop_current<R: Runtime, T: AsyncDrop<Error: fmt::Debug> + 'static>(
    guard: AsyncDropGuard<T>,
) -> Result<CleanupHandle<T>, NoRuntime<T>> {
    match R::current() {
        Some(runtime) => Ok(spawn_async_drop_on(&runtime, guard)),
        None => Err(NoRuntime::new::<R>(guard)),
    }
}

/// There was no runtime to run a cleanup on; the guard is handed back. Dropping the
/// error reports the value as [forgotten](crate::ReportKind::Forgotten).
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "tokio")] {
/// use asyncdrop::rt::tokio::spawn_async_drop;
/// use asyncdrop::AsyncDropGuard;
///
/// # use asyncdrop::doc_fixture::Conn;
/// let err = spawn_async_drop(AsyncDropGuard::new(Conn)).unwrap_err();
/// println!("{err}"); // no tokio runtime on this thread to run the cleanup of `…::Conn` on …
/// tokio::runtime::Runtime::new()?.block_on(err.into_guard().async_drop())?;
/// # }
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct NoRuntime<T> {
    guard: AsyncDropGuard<T>,
    runtime: &'static str,
}

impl<T> NoRuntime<T> {
    fn new<R: Runtime>(guard: AsyncDropGuard<T>) -> Self {
        NoRuntime {
            guard,
            runtime: R::NAME,
        }
    }

    /// The guard that could not be handed to a runtime.
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
            "no {} runtime on this thread to run the cleanup of `{}` on \
             (call this from a runtime thread, or pass a runtime)",
            self.runtime,
            core::any::type_name::<T>()
        )
    }
}

impl<T> core::error::Error for NoRuntime<T> {}

/// A guarded value whose `Drop` spawns its cleanup on a runtime, instead of
/// reporting it as forgotten; it dereferences to the value.
///
/// # Drop behaviour
///
/// Spawns the cleanup, detached, on the runtime given or current when it was made,
/// else the one current where it is dropped; never blocks. Failures go to the
/// [`Policy`](crate::Policy). With no runtime at all, the value is dropped without
/// cleanup, reported as [`ReportKind::Failed`] (the detail says why).
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "tokio")] {
/// use asyncdrop::rt::tokio::SpawnOnDrop;
/// use asyncdrop::AsyncDropGuard;
///
/// # use asyncdrop::doc_fixture::Conn;
/// let rt = tokio::runtime::Runtime::new()?;
/// let conn = rt.block_on(async { SpawnOnDrop::new(AsyncDropGuard::new(Conn)) });
/// assert!(SpawnOnDrop::runtime(&conn).is_some());
/// drop(conn); // on a plain thread: spawned on the captured runtime
/// # }
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct SpawnOnDrop<T: AsyncDrop<Error: fmt::Debug> + 'static, R: Runtime> {
    guard: Held<T>,
    runtime: Option<R>,
}

impl<T: AsyncDrop<Error: fmt::Debug> + 'static, R: Runtime> SpawnOnDrop<T, R> {
    /// Wraps `guard`, capturing the current runtime if there is one.
    pub fn new(guard: AsyncDropGuard<T>) -> Self {
        SpawnOnDrop {
            guard: Held::new(guard),
            runtime: R::current(),
        }
    }

    /// Wraps `guard`; dropping the wrapper spawns the cleanup on `runtime`.
    pub fn with_runtime(guard: AsyncDropGuard<T>, runtime: R) -> Self {
        SpawnOnDrop {
            guard: Held::new(guard),
            runtime: Some(runtime),
        }
    }

    /// The runtime the cleanup will be spawned on, if one was captured.
    pub fn runtime(this: &Self) -> Option<&R> {
        this.runtime.as_ref()
    }

    /// Takes the guard back out, **without** any cleanup.
    pub fn into_guard(mut this: Self) -> AsyncDropGuard<T> {
        this.guard.take()
    }

    /// Spawns the cleanup now, on the captured runtime or else the current one.
    ///
    /// # Errors
    ///
    /// With no runtime captured and none current, [`NoRuntime`] with the guard.
    pub fn spawn(mut this: Self) -> Result<CleanupHandle<T>, NoRuntime<T>> {
        match this.runtime.take() {
            Some(runtime) => Ok(spawn_async_drop_on(&runtime, Self::into_guard(this))),
            None => spawn_async_drop_current::<R, T>(Self::into_guard(this)),
        }
    }
}

deref_to_guarded!(SpawnOnDrop, R: Runtime);

impl<T: AsyncDrop<Error: fmt::Debug> + fmt::Debug + 'static, R: Runtime> fmt::Debug
    for SpawnOnDrop<T, R>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpawnOnDrop")
            .field("value", &**self.guard)
            .field("runtime", &self.runtime)
            .finish()
    }
}

impl<T: AsyncDrop<Error: fmt::Debug> + 'static, R: Runtime> Drop for SpawnOnDrop<T, R> {
    fn drop(&mut self) {
        let Some(guard) = self.guard.take_for_drop() else {
            return;
        };
        match self.runtime.take().or_else(R::current) {
            Some(runtime) => clean_up_detached(&runtime, guard),
            None => drop_without_runtime::<R, T>(guard),
        }
    }
}

/// Cleans `guard` up in a detached, counted task on `runtime` that reports its own
/// failure.
pub(crate) fn clean_up_detached<R: Runtime, T: AsyncDrop<Error: fmt::Debug> + 'static>(
    runtime: &R,
    guard: AsyncDropGuard<T>,
) {
    super::runtime::detach(runtime, clean_up_reporting(guard));
}

/// The last resort with no runtime anywhere: report, then drop synchronously.
pub(crate) fn drop_without_runtime<R: Runtime, T: AsyncDrop>(guard: AsyncDropGuard<T>) {
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
        .with_detail(&format_args!(
            "no {} runtime to run the cleanup on; the value was dropped without cleanup",
            R::NAME
        )),
    );
}
